/* Every handler of the Engine API and the one table that routes to them. */
#ifndef SW_API_ROUTES_H
#define SW_API_ROUTES_H

#include "engine-api/router.h"

extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* h_system.c */
void h_ping(struct api_req *req);
void h_version(struct api_req *req);
void h_info(struct api_req *req);

/* h_local.c: this node's containers and images (empty until the executor
 * lists them). */
void h_containers_list(struct api_req *req);
void h_images_list(struct api_req *req);

#endif

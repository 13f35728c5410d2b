/* Every handler of the Engine API and the one table that routes to them. */
#ifndef SW_API_ROUTES_H
#define SW_API_ROUTES_H

#include "engine-api/router.h"

extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Routes whose request body is streamed to the handler instead of being
 * buffered (see api_req_stream_body); their handlers run as soon as the
 * headers arrive. */
extern const struct api_route api_body_routes[];
extern const size_t api_body_nroutes;

struct swarm;

/* h_swarm.c: also the helpers other swarm handlers share. */
struct swarm *api_swarm(struct api_req *req);
/* Answers 503 (Docker's text) and returns false unless this node manages
 * an active swarm. */
bool api_require_manager(struct api_req *req);
/* dockerd's text for a node that is not a manager (worker or not in a
 * swarm), for endpoints that answer it with another status. */
const char *api_not_manager_text(struct api_req *req);
void h_swarm_init(struct api_req *req);
void h_swarm_inspect(struct api_req *req);
void h_swarm_update(struct api_req *req);
void h_swarm_leave(struct api_req *req);
void h_swarm_join(struct api_req *req);
void h_swarm_unlockkey(struct api_req *req);
void h_swarm_unlock(struct api_req *req);

/* h_nodes.c */
void h_nodes_list(struct api_req *req);
void h_nodes_inspect(struct api_req *req);
void h_nodes_update(struct api_req *req);
void h_nodes_remove(struct api_req *req);

/* h_services.c */
void h_services_create(struct api_req *req);
void h_services_list(struct api_req *req);
void h_services_inspect(struct api_req *req);
void h_services_update(struct api_req *req);
void h_services_remove(struct api_req *req);
void h_distribution(struct api_req *req);

/* h_logs.c */
void h_services_logs(struct api_req *req);
void h_tasks_logs(struct api_req *req);

/* h_tasks.c */
void h_tasks_list(struct api_req *req);
void h_tasks_inspect(struct api_req *req);

/* h_networks.c */
void h_networks_list(struct api_req *req);
void h_networks_inspect(struct api_req *req);
void h_networks_create(struct api_req *req);
void h_networks_remove(struct api_req *req);
void h_networks_prune(struct api_req *req);

/* h_system.c */
void h_ping(struct api_req *req);
void h_version(struct api_req *req);
void h_info(struct api_req *req);

/* h_local.c: the node runtime (orchestrator/runtime.h) behind this node's
 * images, containers and exec; NULL after answering 503 when there is
 * none. */
struct node_runtime;
struct node_runtime *api_runtime(struct api_req *req);

/* h_images.c */
void h_images_list(struct api_req *req);
void h_images_inspect(struct api_req *req);
void h_images_tag(struct api_req *req);
void h_images_remove(struct api_req *req);
void h_images_create(struct api_req *req);
void h_images_load(struct api_req *req); /* a body route */

/* h_containers.c */
void h_containers_list(struct api_req *req);
void h_containers_inspect(struct api_req *req);
void h_containers_logs(struct api_req *req);

/* h_exec.c */
void h_exec_create(struct api_req *req);
void h_exec_inspect(struct api_req *req);
void h_exec_start(struct api_req *req);
void h_exec_resize(struct api_req *req);

#endif

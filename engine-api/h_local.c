/* This node's containers and images. They stay empty lists until the CRI
 * executor can enumerate them, so `docker ps` and `docker images` work. */
#include "engine-api/routes.h"

void h_containers_list(struct api_req *req)
{
	api_reply_json(req, 200, json_object_new_array());
}

void h_images_list(struct api_req *req)
{
	api_reply_json(req, 200, json_object_new_array());
}

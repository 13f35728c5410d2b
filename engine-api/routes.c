#include "engine-api/routes.h"

const struct api_route api_routes[] = {
	{API_GET, "/_ping", h_ping},
	{API_GET, "/version", h_version},
	{API_GET, "/info", h_info},
	{API_GET, "/containers/json", h_containers_list},
	{API_GET, "/containers/{id}/json", h_containers_inspect},
	{API_GET, "/containers/{id}/logs", h_containers_logs},
	{API_POST, "/containers/{id}/exec", h_exec_create},
	{API_GET, "/exec/{id}/json", h_exec_inspect},
	{API_POST, "/exec/{id}/start", h_exec_start},
	{API_POST, "/exec/{id}/resize", h_exec_resize},
	{API_GET, "/images/json", h_images_list},
	{API_POST, "/images/create", h_images_create},
	{API_GET, "/images/{name*}/json", h_images_inspect},
	{API_POST, "/images/{name*}/tag", h_images_tag},
	{API_DELETE, "/images/{name*}", h_images_remove},
	{API_POST, "/swarm/init", h_swarm_init},
	{API_POST, "/swarm/join", h_swarm_join},
	{API_POST, "/swarm/leave", h_swarm_leave},
	{API_POST, "/swarm/update", h_swarm_update},
	{API_POST, "/swarm/unlock", h_swarm_unlock},
	{API_GET, "/swarm/unlockkey", h_swarm_unlockkey},
	{API_GET, "/swarm", h_swarm_inspect},
	{API_GET, "/nodes", h_nodes_list},
	{API_GET, "/nodes/{id}", h_nodes_inspect},
	{API_POST, "/nodes/{id}/update", h_nodes_update},
	{API_DELETE, "/nodes/{id}", h_nodes_remove},
	{API_POST, "/services/create", h_services_create},
	{API_GET, "/services", h_services_list},
	{API_GET, "/services/{id}", h_services_inspect},
	{API_POST, "/services/{id}/update", h_services_update},
	{API_DELETE, "/services/{id}", h_services_remove},
	{API_GET, "/tasks", h_tasks_list},
	{API_GET, "/tasks/{id}", h_tasks_inspect},
	{API_GET, "/services/{id}/logs", h_services_logs},
	{API_GET, "/tasks/{id}/logs", h_tasks_logs},
	{API_GET, "/networks", h_networks_list},
	{API_POST, "/networks/create", h_networks_create},
	{API_POST, "/networks/prune", h_networks_prune},
	{API_GET, "/networks/{id}", h_networks_inspect},
	{API_DELETE, "/networks/{id}", h_networks_remove},
	{API_GET, "/distribution/{name*}/json", h_distribution},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

const struct api_route api_body_routes[] = {
	{API_POST, "/images/load", h_images_load},
};

const size_t api_body_nroutes =
	sizeof(api_body_routes) / sizeof(api_body_routes[0]);

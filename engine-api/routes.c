#include "engine-api/routes.h"

const struct api_route api_routes[] = {
	{API_GET, "/_ping", h_ping, false},
	{API_GET, "/version", h_version, false},
	{API_GET, "/info", h_info, false},
	{API_GET, "/containers/json", h_containers_list, false},
	{API_GET, "/containers/{id}/json", h_containers_inspect, false},
	{API_GET, "/containers/{id}/logs", h_containers_logs, false},
	{API_POST, "/containers/{id}/exec", h_exec_create, false},
	{API_GET, "/exec/{id}/json", h_exec_inspect, false},
	{API_POST, "/exec/{id}/start", h_exec_start, false},
	{API_POST, "/exec/{id}/resize", h_exec_resize, false},
	{API_GET, "/images/json", h_images_list, false},
	{API_POST, "/images/create", h_images_create, false},
	{API_GET, "/images/{name*}/json", h_images_inspect, false},
	{API_POST, "/images/{name*}/tag", h_images_tag, false},
	{API_DELETE, "/images/{name*}", h_images_remove, false},
	{API_POST, "/swarm/init", h_swarm_init, false},
	{API_POST, "/swarm/join", h_swarm_join, false},
	{API_POST, "/swarm/leave", h_swarm_leave, false},
	{API_POST, "/swarm/update", h_swarm_update, false},
	{API_POST, "/swarm/unlock", h_swarm_unlock, false},
	{API_GET, "/swarm/unlockkey", h_swarm_unlockkey, false},
	{API_GET, "/swarm", h_swarm_inspect, true},
	{API_GET, "/nodes", h_nodes_list, true},
	{API_GET, "/nodes/{id}", h_nodes_inspect, true},
	{API_POST, "/nodes/{id}/update", h_nodes_update, false},
	{API_DELETE, "/nodes/{id}", h_nodes_remove, false},
	{API_POST, "/services/create", h_services_create, false},
	{API_GET, "/services", h_services_list, true},
	{API_GET, "/services/{id}", h_services_inspect, true},
	{API_POST, "/services/{id}/update", h_services_update, false},
	{API_DELETE, "/services/{id}", h_services_remove, false},
	{API_GET, "/tasks", h_tasks_list, true},
	{API_GET, "/tasks/{id}", h_tasks_inspect, true},
	{API_GET, "/services/{id}/logs", h_services_logs, false},
	{API_GET, "/tasks/{id}/logs", h_tasks_logs, false},
	{API_GET, "/networks", h_networks_list, true},
	{API_POST, "/networks/create", h_networks_create, false},
	{API_POST, "/networks/prune", h_networks_prune, false},
	{API_GET, "/networks/{id}", h_networks_inspect, true},
	{API_DELETE, "/networks/{id}", h_networks_remove, false},
	{API_GET, "/distribution/{name*}/json", h_distribution, false},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

const struct api_route api_body_routes[] = {
	{API_POST, "/images/load", h_images_load, false},
};

const size_t api_body_nroutes =
	sizeof(api_body_routes) / sizeof(api_body_routes[0]);

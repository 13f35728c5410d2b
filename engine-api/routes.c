#include "engine-api/routes.h"

const struct api_route api_routes[] = {
	{API_GET, "/_ping", h_ping},
	{API_GET, "/version", h_version},
	{API_GET, "/info", h_info},
	{API_GET, "/containers/json", h_containers_list},
	{API_GET, "/images/json", h_images_list},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

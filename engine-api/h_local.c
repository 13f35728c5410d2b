/* What the handlers of this node's images, containers and exec share: the
 * node runtime the daemon handed over (orchestrator/runtime.h). */
#include "engine-api/api.h"
#include "engine-api/routes.h"

struct node_runtime *api_runtime(struct api_req *req)
{
	struct node_runtime *rt = api_server_env(req->srv)->runtime;

	if (rt == NULL)
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 "no container runtime on this node");
	return rt;
}

/* /swarm: init, inspect, update, leave, join, unlock key. */
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_swarm.h"
#include "engine-api/routes.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "lib/netaddr.h"

#define NOT_MANAGER_INACTIVE                                                  \
	"This node is not a swarm manager. Use \"docker swarm init\" or "     \
	"\"docker swarm join\" to connect this node to swarm and try again."
#define ALREADY_IN_SWARM                                                      \
	"This node is already part of a swarm. Use \"docker swarm leave\" to " \
	"leave this swarm and join another one."
#define NOT_MANAGER_WORKER                                                    \
	"This node is not a swarm manager. Worker nodes can't be used to "    \
	"view or modify cluster state. Please run this command on a manager " \
	"node or promote the current node to a manager."
#define LEAVE_MANAGER                                                         \
	"You are attempting to leave the swarm on a node that is "            \
	"participating as a manager. "
#define LEAVE_NO_CONSENSUS                                                    \
	"The only way to restore a swarm that has lost consensus is to "      \
	"reinitialize it with `--force-new-cluster`. Use `--force` to "       \
	"suppress this message."
#define LEAVE_LAST_MANAGER                                                    \
	"You are attempting to leave the swarm on a node that is "            \
	"participating as a manager. Removing the last manager erases all "   \
	"current state of the swarm. Use `--force` to ignore this message. "

enum { DEFAULT_SWARM_PORT = 2377, DEFAULT_DATA_PATH_PORT = 4789 };

struct swarm *api_swarm(struct api_req *req)
{
	return api_server_env(req->srv)->swarm;
}

const char *api_not_manager_text(struct api_req *req)
{
	struct swarm *s = api_swarm(req);

	return s != NULL && swarm_is_worker(s) ? NOT_MANAGER_WORKER
					       : NOT_MANAGER_INACTIVE;
}

bool api_require_manager(struct api_req *req)
{
	struct swarm *s = api_swarm(req);

	if (s != NULL && swarm_is_manager(s))
		return true;
	api_reply_errorf(req, SW_EUNAVAILABLE, "%s", api_not_manager_text(req));
	return false;
}


/* ---- init ------------------------------------------------------------- */

static int resolve_addrs(struct json_object *body,
			 struct swarm_init_params *p, struct sw_err *err)
{
	const char *listen = "0.0.0.0:2377", *adv = "", *dpa = "";
	size_t n;
	struct netaddr_iface *ifs = netaddr_ifaces(&n);
	struct netaddr l, a;
	int rc = -1;

	if (jsonx_get_string(body, "ListenAddr", &listen, err) < 0 ||
	    jsonx_get_string(body, "AdvertiseAddr", &adv, err) < 0 ||
	    jsonx_get_string(body, "DataPathAddr", &dpa, err) < 0)
		goto out;
	if (netaddr_resolve(listen[0] ? listen : "0.0.0.0:2377",
			    DEFAULT_SWARM_PORT, ifs, n, &l, err) != 0)
		goto out;
	if (adv[0] != '\0' ? netaddr_resolve(adv, l.port, ifs, n, &a, err)
			   : netaddr_auto_advertise(&l, ifs, n, &a, err))
		goto out;
	snprintf(p->listen_addr, sizeof(p->listen_addr), "%s:%d", l.host,
		 l.port);
	snprintf(p->advertise_addr, sizeof(p->advertise_addr), "%s:%d",
		 a.host, a.port);
	snprintf(p->data_path_addr, sizeof(p->data_path_addr), "%s", dpa);
	rc = 0;
out:
	free(ifs);
	return rc;
}

static int read_pool(struct json_object *body, struct swarm_init_params *p,
		     struct sw_err *err)
{
	struct json_object *pool = NULL;
	int64_t subnet = 0;

	if (jsonx_get_array(body, "DefaultAddrPool", &pool, err) < 0 ||
	    jsonx_get_int64(body, "SubnetSize", &subnet, err) < 0)
		return -1;
	p->subnet_size = subnet > 0 ? (uint32_t)subnet : 24;
	p->default_addr_pool_set = pool != NULL;
	p->n_default_addr_pool = pool ? json_object_array_length(pool) : 0;
	p->default_addr_pool =
		xcalloc(p->n_default_addr_pool + 1, sizeof(char *));
	for (size_t i = 0; i < p->n_default_addr_pool; i++) {
		struct json_object *e = json_object_array_get_idx(pool, i);

		if (!json_object_is_type(e, json_type_string))
			return sw_err_set(err, SW_EINVALID,
					  "invalid default address pool");
		p->default_addr_pool[i] = (char *)json_object_get_string(e);
	}
	return 0;
}

static int read_availability(struct json_object *body,
			     struct swarm_init_params *p, struct sw_err *err)
{
	const char *av = "";

	if (jsonx_get_string(body, "Availability", &av, err) < 0)
		return -1;
	if (av[0] == '\0')
		av = "active";
	if (strcmp(av, "active") != 0 && strcmp(av, "pause") != 0 &&
	    strcmp(av, "drain") != 0)
		return sw_err_set(err, SW_EINVALID,
				  "invalid Availability: \"%s\"", av);
	p->availability = av;
	return 0;
}

/* The cluster spec of a new swarm: the client's merged onto SwarmKit's
 * defaults; the top-level AutoLockManagers also turns autolock on. */
static char *init_spec(struct json_object *body, struct swarm_init_params *p,
		       struct sw_err *err)
{
	struct json_object *req_spec = NULL, *def, *spec;
	bool autolock = false;
	int64_t port = 0;
	char *text;

	if (jsonx_get_object(body, "Spec", &req_spec, err) < 0 ||
	    jsonx_get_bool(body, "AutoLockManagers", &autolock, err) < 0 ||
	    jsonx_get_int64(body, "DataPathPort", &port, err) < 0)
		return NULL;
	p->data_path_port = port > 0 ? (uint32_t)port : DEFAULT_DATA_PATH_PORT;
	def = codec_swarm_default_spec();
	spec = codec_swarm_merge(def, req_spec, err);
	json_object_put(def);
	if (spec == NULL)
		return NULL;
	codec_swarm_values(spec, &p->values);
	if (autolock && !p->values.autolock) {
		codec_swarm_set_autolock(spec, true);
		p->values.autolock = true;
	}
	text = jsonx_to_body(spec, NULL);
	text[strlen(text) - 1] = '\0';
	json_object_put(spec);
	return text;
}

static void on_init_done(void *data, int status, const struct sw_err *err)
{
	struct api_req *req = data;

	if (status == 0)
		api_reply_json(req, 200,
			       json_object_new_string(
				       swarm_node_id(api_swarm(req))));
	else
		api_reply_error(req, err);
	api_req_unref(req);
}

/* A manager already in a swarm restarts as the only voter of its raft,
 * keeping the cluster's state (dockerd stops its node and starts it again
 * with ForceNewCluster); other fields of the request are not applied. */
static void force_new_cluster(struct api_req *req)
{
	struct sw_err err;

	if (!api_require_manager(req))
		return;
	api_req_ref(req);
	if (swarm_force_new_cluster(api_swarm(req), on_init_done, req,
				    &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
}

void h_swarm_init(struct api_req *req)
{
	struct swarm *s = api_swarm(req);
	struct swarm_init_params p;
	struct json_object *body;
	struct sw_err err;
	char *spec = NULL;

	body = api_req_body_object(req, "swarm.InitRequest");
	if (body == NULL)
		return;
	if (swarm_get_state(s) != SWARM_INACTIVE) {
		bool force = false;

		if (jsonx_get_bool(body, "ForceNewCluster", &force, &err) > 0 &&
		    force)
			force_new_cluster(req);
		else
			api_reply_errorf(req, SW_EUNAVAILABLE,
					 ALREADY_IN_SWARM);
		json_object_put(body);
		return;
	}
	memset(&p, 0, sizeof(p));
	sw_err_clear(&err);
	if (resolve_addrs(body, &p, &err) == 0 &&
	    read_pool(body, &p, &err) == 0 &&
	    read_availability(body, &p, &err) == 0 &&
	    (spec = init_spec(body, &p, &err)) != NULL) {
		p.spec_json = spec;
		api_req_ref(req);
		if (swarm_init(s, &p, on_init_done, req, &err) != 0) {
			api_req_unref(req);
			api_reply_error(req, &err);
		}
	} else {
		api_reply_error(req, &err);
	}
	free(spec);
	free(p.default_addr_pool);
	json_object_put(body);
}

/* ---- inspect, update --------------------------------------------------- */

void h_swarm_inspect(struct api_req *req)
{
	const struct store_record *rec;
	Swarmd__Cluster *cl;

	if (!api_require_manager(req))
		return;
	cl = swarm_cluster(api_swarm(req), &rec);
	if (cl == NULL) {
		api_reply_errorf(req, SW_EUNAVAILABLE, NOT_MANAGER_INACTIVE);
		return;
	}
	api_reply_json(req, 200, codec_swarm_to_json(rec, cl, true));
	swarmd__cluster__free_unpacked(cl, NULL);
}

/* Merges the body onto the stored spec (see codec_swarm_merge). */
static char *update_spec(struct api_req *req, struct json_object *body,
			 struct swarm_update *u, struct sw_err *err)
{
	Swarmd__Cluster *cl = swarm_cluster(api_swarm(req), NULL);
	struct json_object *cur, *spec;
	const char *name = NULL;
	char *text = NULL;

	if (cl == NULL) {
		sw_err_set(err, SW_EUNAVAILABLE, NOT_MANAGER_INACTIVE);
		return NULL;
	}
	cur = jsonx_parse((const char *)cl->spec_json.data, cl->spec_json.len,
			  err);
	swarmd__cluster__free_unpacked(cl, NULL);
	if (cur == NULL)
		return NULL;
	if (jsonx_get_string(body, "Name", &name, err) >= 0 && name != NULL &&
	    name[0] != '\0' && strcmp(name, "default") != 0)
		sw_err_set(err, SW_EINVALID,
			   "swarm spec must be named \"default\"");
	else if ((spec = codec_swarm_merge(cur, body, err)) != NULL) {
		codec_swarm_values(spec, &u->values);
		text = jsonx_to_body(spec, NULL);
		text[strlen(text) - 1] = '\0';
		json_object_put(spec);
	}
	json_object_put(cur);
	return text;
}

void h_swarm_update(struct api_req *req)
{
	struct swarm_update u;
	struct json_object *body;
	struct sw_err err;
	uint64_t version;
	char *spec;

	/* dockerd decodes the body, then the version, then asks SwarmKit. */
	body = api_req_body_object(req, "swarm.Spec");
	if (body == NULL)
		return;
	sw_err_clear(&err);
	if (api_query_version(req, "swarm", &version, &err) != 0) {
		api_reply_error(req, &err);
		json_object_put(body);
		return;
	}
	if (!api_require_manager(req)) {
		json_object_put(body);
		return;
	}
	memset(&u, 0, sizeof(u));
	spec = update_spec(req, body, &u, &err);
	json_object_put(body);
	if (spec == NULL) {
		api_reply_error(req, &err);
		return;
	}
	u.spec_json = spec;
	u.rotate_worker_token = api_query_bool(req, "rotateWorkerToken");
	u.rotate_manager_token = api_query_bool(req, "rotateManagerToken");
	u.rotate_unlock_key = api_query_bool(req, "rotateManagerUnlockKey");
	api_req_ref(req);
	if (swarm_update_cluster(api_swarm(req), version, &u, api_reply_done,
				 req, &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
	free(spec);
}

/* ---- leave, join, unlock ------------------------------------------------ */

/* dockerd's refusal to let a manager leave without --force: 503 with its
 * quorum arithmetic (moby daemon/cluster/swarm.go Leave). */
static bool leave_refused(struct api_req *req, struct swarm *s)
{
	size_t reachable, unreachable;

	if (!swarm_is_manager(s) || api_query_bool(req, "force"))
		return false;
	swarm_manager_counts(s, &reachable, &unreachable);
	if (reachable == 1 && unreachable == 0) {
		api_reply_errorf(req, SW_EUNAVAILABLE, LEAVE_LAST_MANAGER);
	} else if ((long)reachable - 2 <= (long)unreachable) {
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 LEAVE_MANAGER "Removing this node leaves %zu "
					       "managers out of %zu. Without a "
					       "Raft quorum your swarm will be "
					       "inaccessible. " LEAVE_NO_CONSENSUS,
				 reachable - 1, reachable + unreachable);
	} else {
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 LEAVE_MANAGER LEAVE_NO_CONSENSUS);
	}
	return true;
}

void h_swarm_leave(struct api_req *req)
{
	struct swarm *s = api_swarm(req);
	struct sw_err err;

	if (swarm_get_state(s) == SWARM_INACTIVE) {
		api_reply_errorf(req, SW_EUNAVAILABLE,
				 "This node is not part of a swarm");
		return;
	}
	if (leave_refused(req, s))
		return;
	api_req_ref(req);
	if (swarm_leave(s, api_reply_done, req, &err) != 0) {
		api_req_unref(req);
		api_reply_error(req, &err);
	}
}

/* RemoteAddrs: "host[:port]" each, the port defaulting to 2377. */
static int read_remotes(struct json_object *body, struct swarm_join_params *p,
			struct sw_err *err)
{
	struct json_object *list = NULL;
	size_t n;

	if (jsonx_get_array(body, "RemoteAddrs", &list, err) < 0)
		return -1;
	n = list ? json_object_array_length(list) : 0;
	p->remote_addrs = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *v;

		if (!json_object_is_type(e, json_type_string))
			return sw_err_set(err, SW_EINVALID,
					  "invalid RemoteAddrs");
		v = json_object_get_string(e);
		p->remote_addrs[p->n_remote_addrs++] =
			strchr(v, ':') ? xstrdup(v)
				       : xasprintf("%s:%d", v, DEFAULT_SWARM_PORT);
	}
	if (p->n_remote_addrs == 0)
		return sw_err_set(err, SW_EINVALID,
				  "at least 1 RemoteAddr is required to join");
	return 0;
}

static void free_remotes(struct swarm_join_params *p)
{
	for (size_t i = 0; i < p->n_remote_addrs; i++)
		free(p->remote_addrs[i]);
	free(p->remote_addrs);
}

static int read_join(struct json_object *body, struct swarm_join_params *p,
		     struct sw_err *err)
{
	struct swarm_init_params addrs;
	const char *av = "";

	memset(&addrs, 0, sizeof(addrs));
	if (resolve_addrs(body, &addrs, err) != 0 ||
	    read_remotes(body, p, err) != 0 ||
	    jsonx_get_string(body, "JoinToken", &p->token, err) < 0 ||
	    jsonx_get_string(body, "Availability", &av, err) < 0)
		return -1;
	if (av[0] != '\0' && strcmp(av, "active") != 0 &&
	    strcmp(av, "pause") != 0 && strcmp(av, "drain") != 0)
		return sw_err_set(err, SW_EINVALID,
				  "invalid Availability: \"%s\"", av);
	p->availability = av;
	if (p->token == NULL)
		p->token = "";
	memcpy(p->listen_addr, addrs.listen_addr, sizeof(p->listen_addr));
	memcpy(p->advertise_addr, addrs.advertise_addr,
	       sizeof(p->advertise_addr));
	memcpy(p->data_path_addr, addrs.data_path_addr,
	       sizeof(p->data_path_addr));
	return 0;
}

void h_swarm_join(struct api_req *req)
{
	struct json_object *body = api_req_body_object(req, "swarm.JoinRequest");
	struct swarm *s = api_swarm(req);
	struct swarm_join_params p;
	struct sw_err err;

	if (body == NULL)
		return;
	if (swarm_get_state(s) != SWARM_INACTIVE) {
		json_object_put(body);
		api_reply_errorf(req, SW_EUNAVAILABLE, ALREADY_IN_SWARM);
		return;
	}
	memset(&p, 0, sizeof(p));
	sw_err_clear(&err);
	if (read_join(body, &p, &err) == 0) {
		api_req_ref(req);
		if (swarm_join(s, &p, api_reply_done, req, &err) != 0) {
			api_req_unref(req);
			api_reply_error(req, &err);
		}
	} else {
		api_reply_error(req, &err);
	}
	free_remotes(&p);
	json_object_put(body);
}

void h_swarm_unlockkey(struct api_req *req)
{
	Swarmd__Cluster *cl;
	struct json_object *o;

	if (!api_require_manager(req))
		return;
	cl = swarm_cluster(api_swarm(req), NULL);
	o = json_object_new_object();
	jsonx_add_string(o, "UnlockKey", cl ? cl->unlock_key : "");
	swarmd__cluster__free_unpacked(cl, NULL);
	api_reply_json(req, 200, o);
}

/* Nothing is ever locked yet: a manager answers "not locked"; anything
 * else gets dockerd's errNoManager (the inactive text, as it answers). */
void h_swarm_unlock(struct api_req *req)
{
	struct json_object *body = api_req_body_object(req, "swarm.UnlockRequest");

	if (body == NULL)
		return;
	json_object_put(body);
	if (!api_require_manager(req))
		return;
	api_reply_errorf(req, SW_ECONFLICT, "swarm is not locked");
}

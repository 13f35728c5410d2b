/* /networks: the swarm's networks (orchestrator/networks.h) next to this
 * node's local ones (localnets.h), listed, looked up, created and removed
 * as dockerd 20.10 does for a swarm manager. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-api/api.h"
#include "engine-api/codec_network.h"
#include "engine-api/filters.h"
#include "engine-api/localnets.h"
#include "engine-api/netfilter.h"
#include "engine-api/routes.h"
#include "engine-api/server_priv.h"
#include "lib/alloc.h"
#include "lib/jsonx.h"
#include "orchestrator/networks.h"

static struct localnets *local(struct api_req *req)
{
	return api_server_localnets(req->srv);
}

static bool is_manager(struct api_req *req)
{
	struct swarm *s = api_swarm(req);

	return s != NULL && swarm_is_manager(s);
}

/* A swarm network's JSON; NULL when it does not decode. */
static struct json_object *swarm_json(const struct store_record *r,
				      bool *predefined)
{
	Swarmd__Network *n = networks_unpack(r);
	struct json_object *o = n ? codec_network_to_json(r, n) : NULL;

	if (predefined != NULL)
		*predefined = n != NULL && networks_is_predefined(n);
	swarmd__network__free_unpacked(n, NULL);
	return o;
}

/* Every network Docker would list: the swarm's (on a manager, without the
 * predefined ones SwarmKit keeps for itself), then the local ones. Returns
 * a new array. */
static struct json_object *all_networks(struct api_req *req)
{
	struct json_object *all = json_object_new_array();
	struct json_object *loc = localnets_all(local(req));
	const struct store_record *r = NULL;

	if (is_manager(req))
		r = store_first(swarm_store(api_swarm(req)), OBJ_NETWORK);
	for (; r != NULL; r = store_next(r)) {
		bool predefined;
		struct json_object *o = swarm_json(r, &predefined);

		if (o != NULL && !predefined)
			json_object_array_add(all, o);
		else
			json_object_put(o);
	}
	for (size_t i = 0; i < json_object_array_length(loc); i++)
		json_object_array_add(
		    all, json_object_get(json_object_array_get_idx(loc, i)));
	return all;
}

void h_networks_list(struct api_req *req)
{
	struct json_object *all, *out;
	struct filters f;
	struct sw_err err;

	if (filters_parse(api_query(req, "filters"), &f, &err) != 0 ||
	    netfilter_check(&f, &err) != 0) {
		filters_free(&f);
		api_reply_error(req, &err);
		return;
	}
	all = all_networks(req);
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *net = json_object_array_get_idx(all, i);

		if (netfilter_match(&f, net))
			json_object_array_add(out, json_object_get(net));
	}
	json_object_put(all);
	filters_free(&f);
	api_reply_json(req, 200, out);
}

/* ---- lookup ------------------------------------------------------------- */

/* dockerd's resolution of {id}: an exact ID wins at once; otherwise a
 * unique exact name, then a unique ID prefix. scope ("" for any) must
 * match. The two callers word ambiguity differently. */
struct lookup {
	const char *term;
	const char *scope;
	struct json_object *by_id;
	struct json_object *by_name;
	struct json_object *by_prefix;
	size_t n_name;
	size_t n_prefix;
};

static void lookup_add(struct lookup *l, struct json_object *net)
{
	const char *id = codec_network_str(net, "Id");

	if (l->scope[0] != '\0' &&
	    strcmp(codec_network_str(net, "Scope"), l->scope) != 0)
		return;
	if (strcmp(id, l->term) == 0 && l->by_id == NULL)
		l->by_id = net;
	if (strcmp(codec_network_str(net, "Name"), l->term) == 0) {
		l->by_name = net;
		l->n_name++;
	}
	if (strncmp(id, l->term, strlen(l->term)) == 0) {
		l->by_prefix = net;
		l->n_prefix++;
	}
}

static void lookup_run(struct lookup *l, struct json_object *all)
{
	for (size_t i = 0; i < json_object_array_length(all); i++)
		lookup_add(l, json_object_array_get_idx(all, i));
}

/* GET's extra rule: a swarm network the store resolves (predefined ones
 * too) is the answer when the term is a prefix of its ID or the client
 * asked for scope=swarm. Returns a new reference or NULL. */
static struct json_object *swarm_direct(struct api_req *req,
					const struct lookup *l)
{
	const struct store_record *r;

	if (!is_manager(req) ||
	    (r = networks_resolve(api_swarm(req), l->term)) == NULL)
		return NULL;
	if (strncmp(r->id, l->term, strlen(l->term)) != 0 &&
	    strcmp(l->scope, "swarm") != 0)
		return NULL;
	return swarm_json(r, NULL);
}

void h_networks_inspect(struct api_req *req)
{
	const char *scope = api_query(req, "scope");
	struct lookup l = {.term = req->params[0], .scope = scope ? scope : ""};
	struct json_object *all = all_networks(req);
	struct json_object *hit;

	lookup_run(&l, all);
	hit = l.by_id ? json_object_get(l.by_id) : swarm_direct(req, &l);
	if (hit == NULL && l.n_name == 1)
		hit = json_object_get(l.by_name);
	if (hit == NULL && l.n_name == 0 && l.n_prefix == 1)
		hit = json_object_get(l.by_prefix);
	if (hit != NULL)
		api_reply_json(req, 200, hit);
	else if (l.n_name > 1 || l.n_prefix > 1)
		api_reply_errorf(req, SW_EINVALID,
				 "%zu matches found based on %s: network %s "
				 "is ambiguous",
				 l.n_name > 1 ? l.n_name : l.n_prefix,
				 l.n_name > 1 ? "name" : "ID prefix", l.term);
	else
		api_reply_errorf(req, SW_ENOTFOUND, "network %s not found",
				 l.term);
	json_object_put(all);
}

/* ---- create ------------------------------------------------------------- */

/* Tries a create makes before it gives up losing allocation races: each
 * round of creates racing from the same state lets one of them through,
 * so this bounds how many may be in flight at once. */
enum { CREATE_ATTEMPTS = 64 };

/* A swarm create in flight. The body is kept to decode and allocate again
 * when another create committed first (NETWORKS_ERR_RACED). */
struct create_ctx {
	struct api_req *req;
	struct json_object *body;
	int attempts;
	char id[27];
};

static void reply_created(struct api_req *req, const char *id,
			  const char *warning)
{
	struct json_object *o = json_object_new_object();

	jsonx_add_string(o, "Id", id);
	jsonx_add_string(o, "Warning", warning);
	api_reply_json(req, 201, o);
}

/* The body's network, as the swarm is asked for it: a swarm-scoped
 * network without a driver is a bridge, as dockerd takes it. */
static int decode_create(struct json_object *body,
			 struct codec_network_create *c, struct sw_err *err)
{
	if (codec_network_decode(body, c, err) != 0)
		return -1;
	if (c->net.driver[0] == '\0' && strcmp(c->scope, "swarm") == 0)
		c->net.driver = "bridge";
	return 0;
}

static void on_created(void *data, int status, const struct sw_err *err);

static int start_create(struct create_ctx *ctx, struct sw_err *err)
{
	struct codec_network_create c;
	int rc = decode_create(ctx->body, &c, err);

	if (rc == 0)
		rc = networks_create(api_swarm(ctx->req), &c.net, ctx->id,
				     on_created, ctx, err);
	codec_network_free(&c);
	return rc;
}

static void on_created(void *data, int status, const struct sw_err *err)
{
	struct create_ctx *ctx = data;
	struct sw_err again;

	if (status == -SW_ECONFLICT &&
	    strcmp(err->msg, NETWORKS_ERR_RACED) == 0 &&
	    ++ctx->attempts < CREATE_ATTEMPTS) {
		if (start_create(ctx, &again) == 0)
			return;
		err = &again;
	}
	if (status == 0)
		reply_created(ctx->req, ctx->id, "");
	else
		api_reply_error(ctx->req, err);
	api_req_unref(ctx->req);
	json_object_put(ctx->body);
	free(ctx);
}

static void create_swarm(struct api_req *req, struct json_object *body)
{
	struct create_ctx *ctx;
	struct sw_err err;

	/* dockerd refuses an overlay network off a manager with a 500, not
	 * the 503 of the swarm endpoints. */
	if (!is_manager(req)) {
		api_reply_errorf(req, SW_ESYSTEM, "%s",
				 api_not_manager_text(req));
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->req = req;
	ctx->body = json_object_get(body);
	api_req_ref(req);
	if (start_create(ctx, &err) != 0) {
		api_req_unref(req);
		json_object_put(ctx->body);
		free(ctx);
		api_reply_error(req, &err);
	}
}

/* A local bridge. A local network of the same name is refused only with
 * CheckDuplicate; otherwise dockerd creates it and warns. */
static void create_local(struct api_req *req, struct json_object *body,
			 const char *name)
{
	struct json_object *loc = localnets_all(local(req));
	struct json_object *same = NULL, *check = NULL;
	char id[65], warning[256] = "";
	struct sw_err err;

	for (size_t i = 0; i < json_object_array_length(loc) && !same; i++)
		if (strcmp(codec_network_str(json_object_array_get_idx(loc, i),
					     "Name"),
			   name) == 0)
			same = json_object_array_get_idx(loc, i);
	json_object_object_get_ex(body, "CheckDuplicate", &check);
	if (same != NULL && json_object_get_boolean(check)) {
		api_reply_errorf(req, SW_ECONFLICT,
				 "network with name %s already exists", name);
		return;
	}
	if (same != NULL)
		snprintf(warning, sizeof(warning),
			 "Network with name %s (id : %s) already exists", name,
			 codec_network_str(same, "Id"));
	if (localnets_create_bridge(local(req), body, id, &err) != 0)
		api_reply_error(req, &err);
	else
		reply_created(req, id, warning);
}

/* The checks dockerd makes before it picks a scope: reserved names, a
 * swarm network of that name, and what swarmd cannot create. */
static int check_create(struct api_req *req,
			const struct codec_network_create *c,
			struct sw_err *err)
{
	const char *name = c->net.name, *driver = c->net.driver;

	if (strcmp(name, "none") == 0 || strcmp(name, "default") == 0)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "operation is not permitted on predefined "
				  "%s network ",
				  name);
	if (strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 ||
	    (is_manager(req) && store_get_by_name(swarm_store(api_swarm(req)),
						  OBJ_NETWORK, name) != NULL))
		return sw_err_set(err, SW_ECONFLICT,
				  "network with name %s already exists", name);
	if (c->config_only || c->has_config_from)
		return sw_err_set(err, SW_ENOTIMPL,
				  "swarmd does not support config-only "
				  "networks");
	if (c->ipam_driver[0] != '\0' && strcmp(c->ipam_driver, "default"))
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = InvalidArgument desc = "
				  "error during lookup of plugin %s",
				  c->ipam_driver);
	if (strcmp(driver, "overlay") == 0 && strcmp(c->scope, "local") == 0)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "cannot downgrade network scope for overlay "
				  "networks");
	if (driver[0] != '\0' && strcmp(driver, "overlay") != 0 &&
	    strcmp(driver, "bridge") != 0)
		return sw_err_set(err, SW_ENOTFOUND, "plugin \"%s\" not found",
				  driver);
	return 0;
}

void h_networks_create(struct api_req *req)
{
	struct codec_network_create c;
	struct json_object *body;
	struct sw_err err;

	memset(&c, 0, sizeof(c));
	sw_err_clear(&err);
	body = api_req_body_object(req, "types.NetworkCreateRequest");
	if (body == NULL)
		return;
	if (decode_create(body, &c, &err) != 0 ||
	    check_create(req, &c, &err) != 0) {
		api_reply_error(req, &err);
	} else if (strcmp(c.net.driver, "overlay") == 0 ||
		   strcmp(c.scope, "swarm") == 0) {
		create_swarm(req, body);
	} else {
		create_local(req, body, c.net.name);
	}
	codec_network_free(&c);
	json_object_put(body);
}

/* ---- remove ------------------------------------------------------------- */

static void on_removed(void *data, int status, const struct sw_err *err)
{
	struct api_req *req = data;

	if (status == 0)
		api_reply_empty(req, 204);
	else
		api_reply_error(req, err);
	api_req_unref(req);
}

/* Removes the network hit names: through raft for a swarm one (answered
 * from the callback), at once for a local one. */
static int remove_one(struct api_req *req, struct json_object *hit,
		      struct sw_err *err)
{
	const char *id = codec_network_str(hit, "Id");

	if (strcmp(codec_network_str(hit, "Scope"), "swarm") != 0) {
		if (localnets_remove(local(req), id, err) != 0)
			return -1;
		api_reply_empty(req, 204);
		return 0;
	}
	api_req_ref(req);
	if (networks_remove(api_swarm(req), id, on_removed, req, err) != 0) {
		api_req_unref(req);
		return -1;
	}
	return 0;
}

void h_networks_remove(struct api_req *req)
{
	struct lookup l = {.term = req->params[0], .scope = ""};
	struct json_object *all = all_networks(req);
	struct json_object *hit = NULL;
	struct sw_err err;
	int rc;

	lookup_run(&l, all);
	if (l.by_id != NULL)
		hit = l.by_id;
	else if (l.n_name == 1)
		hit = l.by_name;
	else if (l.n_name == 0 && l.n_prefix == 1)
		hit = l.by_prefix;
	if (hit != NULL)
		rc = remove_one(req, hit, &err);
	else if (l.n_name > 1 || l.n_prefix > 1)
		rc = sw_err_set(&err, SW_EINVALID,
				"network %s is ambiguous (%zu matches found "
				"based on %s)",
				l.term, l.n_name > 1 ? l.n_name : l.n_prefix,
				l.n_name > 1 ? "name" : "ID prefix");
	else
		rc = sw_err_set(&err, SW_ENOTFOUND, "network %s not found",
				l.term);
	json_object_put(all);
	if (rc != 0)
		api_reply_error(req, &err);
}

/* ---- prune -------------------------------------------------------------- */

/* label=k / label=k=v must all match, label!=... must all miss: prune
 * filters combine their values with AND, unlike list filters. */
static bool prune_labels_match(const struct filters *f, struct json_object *net)
{
	const struct filter_entry *with = filters_get(f, "label");
	const struct filter_entry *without = filters_get(f, "label!");

	for (size_t i = 0; with && i < with->nvalues; i++)
		if (!netfilter_label_match(with->values[i], net))
			return false;
	for (size_t i = 0; without && i < without->nvalues; i++)
		if (netfilter_label_match(without->values[i], net))
			return false;
	return true;
}

/* Swarm networks are removed one proposal after the other; the answer
 * lists what went, swarm networks first, as dockerd's does. */
struct prune_ctx {
	struct api_req *req;
	struct json_object *candidates; /* swarm networks to try */
	size_t next;
	struct json_object *deleted; /* names */
	struct json_object *local_deleted;
};

static void prune_next(struct prune_ctx *ctx);

static void on_pruned(void *data, int status, const struct sw_err *err)
{
	struct prune_ctx *ctx = data;
	struct json_object *net =
	    json_object_array_get_idx(ctx->candidates, ctx->next - 1);

	if (status == 0)
		json_object_array_add(
		    ctx->deleted,
		    json_object_new_string(codec_network_str(net, "Name")));
	prune_next(ctx);
}

static void prune_finish(struct prune_ctx *ctx)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < json_object_array_length(ctx->local_deleted);
	     i++)
		json_object_array_add(ctx->deleted,
				      json_object_get(json_object_array_get_idx(
					  ctx->local_deleted, i)));
	if (json_object_array_length(ctx->deleted) > 0) {
		jsonx_add(o, "NetworksDeleted", ctx->deleted);
	} else {
		json_object_put(ctx->deleted);
		jsonx_add(o, "NetworksDeleted", NULL);
	}
	api_reply_json(ctx->req, 200, o);
	api_req_unref(ctx->req);
	json_object_put(ctx->candidates);
	json_object_put(ctx->local_deleted);
	free(ctx);
}

/* A network still in use is skipped, as dockerd skips it with a
 * warning. */
static void prune_next(struct prune_ctx *ctx)
{
	struct sw_err err;

	while (ctx->next < json_object_array_length(ctx->candidates)) {
		struct json_object *net =
		    json_object_array_get_idx(ctx->candidates, ctx->next++);

		if (networks_remove(api_swarm(ctx->req),
				    codec_network_str(net, "Id"), on_pruned,
				    ctx, &err) == 0)
			return;
	}
	prune_finish(ctx);
}

/* Splits the networks a prune may take into ctx: local ones go at once,
 * swarm ones (never ingress) become candidates. */
static void prune_collect(struct prune_ctx *ctx, const struct filters *f)
{
	struct json_object *all = all_networks(ctx->req);
	struct sw_err err;

	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *net = json_object_array_get_idx(all, i);
		const char *name = codec_network_str(net, "Name");
		bool swarm =
		    strcmp(codec_network_str(net, "Scope"), "swarm") == 0;
		struct json_object *ing = NULL;

		json_object_object_get_ex(net, "Ingress", &ing);
		if (!prune_labels_match(f, net) ||
		    json_object_get_boolean(ing) ||
		    (!swarm && localnets_is_builtin_name(name)))
			continue;
		if (swarm)
			json_object_array_add(ctx->candidates,
					      json_object_get(net));
		else if (localnets_remove(local(ctx->req),
					  codec_network_str(net, "Id"),
					  &err) == 0)
			json_object_array_add(ctx->local_deleted,
					      json_object_new_string(name));
	}
	json_object_put(all);
}

/* Keys dockerd accepts; `until` (a time or a Go duration) is refused
 * for now rather than ignored, so nothing newer than meant goes. */
static int prune_filters(struct api_req *req, struct filters *f,
			 struct sw_err *err)
{
	static const char *const keys[] = {"until", "label", "label!", NULL};

	if (filters_parse(api_query(req, "filters"), f, err) != 0 ||
	    filters_validate(f, keys, err) != 0)
		return -1;
	if (filters_get(f, "until") != NULL)
		return sw_err_set(err, SW_ENOTIMPL,
				  "swarmd does not support the until filter of "
				  "a network prune");
	return 0;
}

void h_networks_prune(struct api_req *req)
{
	struct prune_ctx *ctx;
	struct filters f;
	struct sw_err err;

	if (prune_filters(req, &f, &err) != 0) {
		filters_free(&f);
		api_reply_error(req, &err);
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->req = req;
	ctx->candidates = json_object_new_array();
	ctx->deleted = json_object_new_array();
	ctx->local_deleted = json_object_new_array();
	api_req_ref(req);
	prune_collect(ctx, &f);
	filters_free(&f);
	prune_next(ctx);
}

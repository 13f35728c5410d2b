#include "orchestrator/swarm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/rand.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "orchestrator/ca.h"
#include "orchestrator/consensus.h"
#include "orchestrator/fsm.h"
#include "orchestrator/networks.h"
#include "orchestrator/reconcile.h"
#include "orchestrator/agent.h"
#include "orchestrator/tokens.h"

struct swarm {
	uv_loop_t *loop;
	char *data_root;
	char *dir; /* data-root/swarm */
	struct swarm_host host;
	enum swarm_state state;
	char node_id[ID_SWARM_LEN + 1];
	char cluster_id[ID_SWARM_LEN + 1];
	uint64_t raft_id;
	char advertise_addr[80];
	char listen_addr[80];
	char data_path_addr[80];
	char node_addr[80];
	struct store *store;
	struct fsm fsm;
	struct consensus *cons;
	struct raft_uv_transport transport;
	bool transport_open;
	struct reconciler *reconciler;
	struct agent *agent;
	uv_timer_t quiesce;     /* delays closing a just-started raft */
	struct consensus *closing; /* raft waiting in quiesce */
	bool quiesce_open;
	uint64_t raft_started;  /* uv_now() when raft started */
	swarm_executor_factory factory;
	void (*cleanup)(void *ctx, const char *node_id);
	void *factory_ctx;
	/* An init waiting for raft to be ready, then for its first change. */
	struct init_op *init;
	/* Teardown in progress (leave or stop). */
	bool wipe;
	swarm_cb done_cb;
	void (*stop_cb)(void *data);
	void *done_data;
};

enum { RAFT_MIN_LIFE_MS = 1000 };

struct init_op {
	struct change change;
	swarm_cb cb;
	void *data;
};

/* One proposal on behalf of an API write. */
struct write_op {
	struct consensus_propose_req req;
	struct swarm *s;
	swarm_cb cb;
	void *data;
};

struct swarm *swarm_new(uv_loop_t *loop, const char *data_root,
			const struct swarm_host *host)
{
	struct swarm *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->data_root = xstrdup(data_root);
	s->dir = xasprintf("%s/swarm", data_root);
	s->host = *host;
	s->state = SWARM_INACTIVE;
	return s;
}

void swarm_free(struct swarm *s)
{
	if (s == NULL)
		return;
	free(s->data_root);
	free(s->dir);
	free(s);
}

void swarm_set_executor_factory(struct swarm *s, swarm_executor_factory f,
				void (*cleanup)(void *ctx, const char *node_id),
				void *ctx)
{
	s->factory = f;
	s->cleanup = cleanup;
	s->factory_ctx = ctx;
}

struct executor *swarm_executor(const struct swarm *s)
{
	return agent_executor(s->agent);
}

/* ---- the local state file: who this node is in which swarm ---------- */

static char *path_in(const struct swarm *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

static int write_state(struct swarm *s, struct sw_err *err)
{
	char *path = path_in(s, "state");
	char *text = xasprintf("node_id=%s\ncluster_id=%s\nraft_id=%llu\n"
			       "advertise_addr=%s\nlisten_addr=%s\n"
			       "data_path_addr=%s\n",
			       s->node_id, s->cluster_id,
			       (unsigned long long)s->raft_id,
			       s->advertise_addr, s->listen_addr,
			       s->data_path_addr);
	int rc = fsutil_write_file(path, text, err);

	free(text);
	free(path);
	return rc;
}

static void state_value(const char *text, const char *key, char *out,
			size_t n)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = len - klen - 1;

			if (vlen >= n)
				vlen = n - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

static int read_state(struct swarm *s, bool *found, struct sw_err *err)
{
	char *path = path_in(s, "state");
	char raft[32];
	struct buf b;
	struct stat st;
	int rc = 0;

	*found = stat(path, &st) == 0;
	buf_init(&b);
	if (*found && fsutil_read_file(path, 4096, &b, err) == 0) {
		state_value(b.data, "node_id", s->node_id, sizeof(s->node_id));
		state_value(b.data, "cluster_id", s->cluster_id,
			    sizeof(s->cluster_id));
		state_value(b.data, "raft_id", raft, sizeof(raft));
		s->raft_id = strtoull(raft, NULL, 10);
		state_value(b.data, "advertise_addr", s->advertise_addr,
			    sizeof(s->advertise_addr));
		state_value(b.data, "listen_addr", s->listen_addr,
			    sizeof(s->listen_addr));
		state_value(b.data, "data_path_addr", s->data_path_addr,
			    sizeof(s->data_path_addr));
		if (s->node_id[0] == '\0' || s->raft_id == 0)
			rc = sw_err_set(err, SW_ESYSTEM,
					"%s is damaged; leave the swarm with "
					"--force to start over",
					path);
	} else if (*found) {
		rc = -1;
	}
	buf_free(&b);
	free(path);
	return rc;
}

static void set_node_addr(struct swarm *s)
{
	char *colon;

	snprintf(s->node_addr, sizeof(s->node_addr), "%s", s->advertise_addr);
	colon = strrchr(s->node_addr, ':');
	if (colon != NULL)
		*colon = '\0';
}

/* ---- raft and the store --------------------------------------------- */

static void on_ready(struct consensus *c, void *data, bool ready);

/* The raft settings of the stored spec, after a restart. */
static bool stored_values(struct swarm *s, struct swarm_spec_values *v)
{
	Swarmd__Cluster *cl = swarm_cluster(s, NULL);

	if (cl == NULL)
		return false;
	memset(v, 0, sizeof(*v));
	v->election_tick = cl->election_tick;
	v->heartbeat_tick = cl->heartbeat_tick;
	v->snapshot_interval = cl->snapshot_interval;
	swarmd__cluster__free_unpacked(cl, NULL);
	return true;
}

/* Opens the store and starts raft in data-root/swarm. bootstrap makes this
 * node the single voter of a new cluster. */
static int start_raft(struct swarm *s, bool bootstrap,
		      const struct swarm_spec_values *v, struct sw_err *err)
{
	char *store_dir = path_in(s, "store");
	char *raft_dir = path_in(s, "raft");
	struct swarm_spec_values stored;
	unsigned election, heartbeat;

	s->store = store_open(store_dir, err);
	free(store_dir);
	if (s->store == NULL) {
		free(raft_dir);
		return -1;
	}
	if (v == NULL && stored_values(s, &stored))
		v = &stored;
	election = v && v->election_tick ? v->election_tick : 10;
	heartbeat = v && v->heartbeat_tick ? v->heartbeat_tick : 1;
	fsm_init(&s->fsm, s->store);
	s->reconciler = reconciler_start(s->loop, s);
	if (s->factory != NULL)
		s->agent = agent_start(s->loop, s, s->factory, s->factory_ctx,
				       s->node_id);
	consensus_transport_local_init(&s->transport, s->loop);
	s->transport_open = true;
	s->cons = consensus_init(s->loop, raft_dir, s->raft_id,
				 s->advertise_addr, &s->transport, &s->fsm,
				 err);
	free(raft_dir);
	if (s->cons == NULL)
		return -1;
	if (consensus_set_timeouts(s->cons, election * SWARM_TICK_MS,
				   heartbeat * SWARM_TICK_MS, err) != 0)
		return -1;
	if (v != NULL && v->snapshot_interval > 0)
		consensus_set_snapshot(s->cons, (unsigned)v->snapshot_interval,
				       CONSENSUS_SNAPSHOT_TRAILING);
	consensus_on_ready(s->cons, on_ready, s);
	s->raft_started = uv_now(s->loop);
	return consensus_start(s->cons, bootstrap, err);
}

static void release_after_close(struct swarm *s)
{
	if (s->transport_open) {
		consensus_transport_local_close(&s->transport);
		s->transport_open = false;
	}
	fsm_close(&s->fsm);
	if (s->store != NULL) {
		store_close(s->store);
		s->store = NULL;
	}
}

static void finish_teardown(struct swarm *s)
{
	struct sw_err err;
	swarm_cb done = s->done_cb;
	void (*stop)(void *) = s->stop_cb;
	void *data = s->done_data;

	release_after_close(s);
	if (s->wipe && fsutil_remove_all(s->dir, &err) != 0)
		log_error("leaving the swarm: %s", err.msg);
	if (s->wipe) {
		s->state = SWARM_INACTIVE;
		memset(s->node_id, 0, sizeof(s->node_id));
		memset(s->cluster_id, 0, sizeof(s->cluster_id));
	}
	s->done_cb = NULL;
	s->stop_cb = NULL;
	if (done != NULL)
		done(data, 0, NULL);
	if (stop != NULL)
		stop(data);
}

static void on_consensus_closed(void *data)
{
	finish_teardown(data);
}

static void on_quiesce_closed(uv_handle_t *h)
{
	struct swarm *s = h->data;

	s->quiesce_open = false;
}

static void close_consensus(uv_timer_t *t)
{
	struct swarm *s = t->data;
	struct consensus *c = s->closing;

	uv_close((uv_handle_t *)&s->quiesce, on_quiesce_closed);
	s->closing = NULL;
	consensus_close(c, on_consensus_closed, s);
}

/* Closes raft (if started) and the store; finish_teardown follows.
 * c-raft 0.15 crashes when its uv I/O is closed while the open segments it
 * prepares on the thread pool right after start are still in flight (its
 * close callback fires from a freed instance), so a raft younger than
 * RAFT_MIN_LIFE_MS is closed only once it reaches that age. */
static void teardown(struct swarm *s)
{
	struct consensus *c = s->cons;
	uint64_t age = uv_now(s->loop) - s->raft_started;

	if (s->reconciler != NULL) {
		reconciler_stop(s->reconciler);
		s->reconciler = NULL;
	}
	if (s->agent != NULL) {
		if (s->wipe)
			agent_stop_and_remove(s->agent, s->cleanup,
					      s->factory_ctx);
		else
			agent_stop(s->agent);
		s->agent = NULL;
	}
	s->cons = NULL;
	if (c == NULL) {
		finish_teardown(s);
		return;
	}
	s->closing = c;
	uv_timer_init(s->loop, &s->quiesce);
	s->quiesce.data = s;
	s->quiesce_open = true;
	uv_timer_start(&s->quiesce, close_consensus,
		       age >= RAFT_MIN_LIFE_MS ? 0 : RAFT_MIN_LIFE_MS - age, 0);
}

/* ---- init ------------------------------------------------------------ */

static uint64_t random_raft_id(void)
{
	uint64_t id = 0;

	while (id == 0) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			abort();
		id &= 0x7fffffffffffffffULL;
	}
	return id;
}

static void init_failed(struct swarm *s, const struct sw_err *err)
{
	struct init_op *op = s->init;
	struct sw_err copy = *err;

	s->init = NULL;
	change_free(&op->change);
	log_error("swarm init failed: %s", copy.msg);
	s->wipe = true;
	s->state = SWARM_PENDING;
	s->done_cb = NULL;
	s->stop_cb = NULL;
	teardown(s);
	op->cb(op->data, -(int)copy.kind, &copy);
	free(op);
}

static void on_init_committed(struct consensus_propose_req *req, int status,
			      uint64_t index, const struct sw_err *err)
{
	struct swarm *s = req->data;
	struct init_op *op = s->init;
	struct sw_err werr;

	free(req);
	if (op == NULL)
		return;
	if (status != 0) {
		init_failed(s, err);
		return;
	}
	if (write_state(s, &werr) != 0) {
		init_failed(s, &werr);
		return;
	}
	s->init = NULL;
	change_free(&op->change);
	s->state = SWARM_ACTIVE;
	log_info("swarm initialized: node %s, cluster %s", s->node_id,
		 s->cluster_id);
	op->cb(op->data, 0, NULL);
	free(op);
}

static void on_ready(struct consensus *c, void *data, bool ready)
{
	struct swarm *s = data;
	struct consensus_propose_req *req;
	struct sw_err err;

	log_info("raft: this manager %s", ready ? "leads and accepts writes"
						 : "no longer leads");
	if (ready && s->reconciler != NULL)
		reconciler_poke(s->reconciler);
	if (!ready || s->init == NULL)
		return;
	req = xcalloc(1, sizeof(*req));
	req->data = s;
	if (consensus_propose(c, req, &s->init->change, on_init_committed,
			      &err) != 0) {
		free(req);
		init_failed(s, &err);
	}
}

static int write_secret_file(struct swarm *s, const char *name,
			     const char *text, struct sw_err *err)
{
	char *path = path_in(s, name);
	int rc = fsutil_write_file(path, text, err);

	if (rc == 0 && chmod(path, 0600) == -1)
		rc = sw_err_sys(err, errno, "chmod %s", path);
	free(path);
	return rc;
}

void swarm_put(struct change *c, enum change_mode mode, enum obj_kind kind,
	       const char *id, const char *name, const ProtobufCMessage *msg,
	       uint64_t expected)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);

	protobuf_c_message_pack(msg, buf);
	change_put(c, mode, kind, id, name, buf, len, expected);
	free(buf);
}

static void pack_into(struct change *c, enum change_mode mode,
		      enum obj_kind kind, const char *id,
		      const ProtobufCMessage *msg, uint64_t expected)
{
	swarm_put(c, mode, kind, id, NULL, msg, expected);
}

/* Puts a spec and its typed values into a cluster object (borrowed). */
static void set_cluster_spec(Swarmd__Cluster *cl, const char *spec_json,
			     const struct swarm_spec_values *v)
{
	cl->spec_json.data = (uint8_t *)spec_json;
	cl->spec_json.len = strlen(spec_json);
	cl->heartbeat_period_ns = v->heartbeat_period_ns;
	cl->election_tick = v->election_tick;
	cl->heartbeat_tick = v->heartbeat_tick;
	cl->snapshot_interval = v->snapshot_interval;
	cl->node_cert_expiry_ns = v->node_cert_expiry_ns;
	cl->task_history_limit = v->task_history_limit;
}

/* The cluster object of a new swarm: spec, root CA, tokens. */
static int build_cluster(struct swarm *s, const struct swarm_init_params *p,
			 struct ca_root *root, Swarmd__Cluster *cl,
			 char *worker, char *manager, char *unlock,
			 struct sw_err *err)
{
	set_cluster_spec(cl, p->spec_json, &p->values);
	cl->autolock = p->values.autolock;
	cl->root_ca_cert_pem = (char *)ca_root_cert_pem(root);
	cl->root_ca_key_pem = ca_root_key_pem(root, err);
	if (cl->root_ca_key_pem == NULL)
		return -1;
	tokens_join_new(ca_root_digest(root), worker);
	tokens_join_new(ca_root_digest(root), manager);
	cl->worker_token = worker;
	cl->manager_token = manager;
	unlock[0] = '\0';
	if (p->values.autolock) {
		struct tokens_unlock_key key;

		tokens_unlock_key_new(&key);
		tokens_unlock_key_format(&key, unlock);
	}
	cl->unlock_key = unlock;
	cl->default_addr_pool = p->default_addr_pool;
	cl->n_default_addr_pool = p->n_default_addr_pool;
	cl->default_addr_pool_set = p->default_addr_pool_set;
	cl->subnet_size = p->subnet_size;
	cl->data_path_port = p->data_path_port;
	return 0;
}

static void build_self_node(struct swarm *s, const struct swarm_init_params *p,
			    Swarmd__Node *n, char *spec)
{
	snprintf(spec, 256,
		 "{\"Labels\":{},\"Role\":\"manager\",\"Availability\":\"%s\"}",
		 p->availability);
	n->spec_json.data = (uint8_t *)spec;
	n->spec_json.len = strlen(spec);
	n->role = "manager";
	n->availability = (char *)p->availability;
	n->hostname = s->host.hostname;
	n->os = s->host.os;
	n->architecture = s->host.arch;
	n->nano_cpus = s->host.nano_cpus;
	n->memory_bytes = s->host.memory_bytes;
	n->engine_version = s->host.engine_version;
	n->state = "ready";
	n->addr = s->node_addr;
	n->manager = true;
	n->manager_addr = s->advertise_addr;
	n->raft_id = s->raft_id;
	n->cert_role = "manager";
}

/* Issues this node's certificate from the new root and keeps it (and its
 * key, 0600) under data-root/swarm/certificates. */
static int issue_own_cert(struct swarm *s, struct ca_root *root,
			  int64_t expiry, struct sw_err *err)
{
	struct ca_keypair *kp = ca_keypair_new(err);
	struct ca_sign_req sr = {.node_id = s->node_id,
				 .cluster_id = s->cluster_id,
				 .role = CA_ROLE_MANAGER,
				 .expiry_ns = expiry,
				 .now = time(NULL)};
	char *cert = NULL, *key = NULL;
	int rc = -1;

	if (kp == NULL)
		return -1;
	sr.csr_pem = ca_keypair_csr_pem(kp);
	cert = ca_root_sign_csr(root, &sr, err);
	if (cert != NULL)
		key = ca_keypair_key_pem(kp, err);
	if (key != NULL &&
	    fsutil_mkdir_p(s->dir, 0700, err) == 0 &&
	    write_secret_file(s, "swarm-node.crt", cert, err) == 0 &&
	    write_secret_file(s, "swarm-node.key", key, err) == 0 &&
	    write_secret_file(s, "swarm-root-ca.crt", ca_root_cert_pem(root),
			      err) == 0)
		rc = 0;
	free(cert);
	free(key);
	ca_keypair_free(kp);
	return rc;
}

/* Builds the first change of a new swarm into op->change. */
static int build_init_change(struct swarm *s, const struct swarm_init_params *p,
			     struct init_op *op, struct sw_err *err)
{
	Swarmd__Cluster cl = SWARMD__CLUSTER__INIT;
	Swarmd__Node node = SWARMD__NODE__INIT;
	char worker[TOKENS_JOIN_LEN + 1], manager[TOKENS_JOIN_LEN + 1];
	char unlock[TOKENS_UNLOCK_KEY_TEXT_MAX + 1];
	char spec[256];
	struct ca_root *root = ca_root_new(time(NULL), err);
	int rc = -1;

	if (root == NULL)
		return -1;
	if (issue_own_cert(s, root, p->values.node_cert_expiry_ns, err) == 0 &&
	    build_cluster(s, p, root, &cl, worker, manager, unlock, err) == 0) {
		build_self_node(s, p, &node, spec);
		change_init(&op->change, timefmt_now_ns());
		pack_into(&op->change, CHANGE_CREATE, OBJ_CLUSTER,
			  s->cluster_id, &cl.base, 0);
		pack_into(&op->change, CHANGE_CREATE, OBJ_NODE, s->node_id,
			  &node.base, 0);
		networks_add_predefined(&op->change);
		rc = 0;
	}
	if (cl.root_ca_key_pem != NULL) {
		OPENSSL_cleanse(cl.root_ca_key_pem,
				strlen(cl.root_ca_key_pem));
		free(cl.root_ca_key_pem);
	}
	ca_root_free(root);
	return rc;
}

int swarm_init(struct swarm *s, const struct swarm_init_params *p,
	       swarm_cb cb, void *data, struct sw_err *err)
{
	struct init_op *op;

	if (s->state != SWARM_INACTIVE)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "This node is already part of a swarm. Use "
				  "\"docker swarm leave\" to leave this swarm "
				  "and join another one.");
	if (fsutil_remove_all(s->dir, err) != 0)
		return -1;
	id_new_swarm(s->node_id);
	id_new_swarm(s->cluster_id);
	s->raft_id = random_raft_id();
	snprintf(s->advertise_addr, sizeof(s->advertise_addr), "%s",
		 p->advertise_addr);
	snprintf(s->listen_addr, sizeof(s->listen_addr), "%s",
		 p->listen_addr);
	snprintf(s->data_path_addr, sizeof(s->data_path_addr), "%s",
		 p->data_path_addr);
	set_node_addr(s);
	op = xcalloc(1, sizeof(*op));
	op->cb = cb;
	op->data = data;
	if (build_init_change(s, p, op, err) != 0) {
		free(op);
		fsutil_remove_all(s->dir, err);
		return -1;
	}
	s->init = op;
	s->state = SWARM_PENDING;
	s->wipe = false;
	if (start_raft(s, true, &p->values, err) != 0) {
		s->init = NULL;
		change_free(&op->change);
		free(op);
		s->wipe = true;
		teardown(s);
		return -1;
	}
	return 0;
}

/* ---- restart, leave, stop -------------------------------------------- */

int swarm_load(struct swarm *s, struct sw_err *err)
{
	bool found;

	if (read_state(s, &found, err) != 0)
		return -1;
	if (!found)
		return 0;
	set_node_addr(s);
	s->state = SWARM_ACTIVE;
	if (start_raft(s, false, NULL, err) != 0) {
		s->state = SWARM_ERROR;
		return -1;
	}
	log_info("rejoined swarm %s as node %s", s->cluster_id, s->node_id);
	return 0;
}

int swarm_leave(struct swarm *s, swarm_cb cb, void *data,
		struct sw_err *err)
{
	if (s->state == SWARM_INACTIVE)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "This node is not part of a swarm");
	if (s->done_cb != NULL || s->stop_cb != NULL || s->init != NULL)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "swarm is busy; try again");
	s->wipe = true;
	s->done_cb = cb;
	s->done_data = data;
	log_info("leaving swarm %s", s->cluster_id);
	teardown(s);
	return 0;
}

void swarm_stop(struct swarm *s, void (*cb)(void *data), void *data)
{
	if (s->state == SWARM_INACTIVE && s->cons == NULL &&
	    s->store == NULL) {
		cb(data);
		return;
	}
	s->wipe = false;
	s->stop_cb = cb;
	s->done_data = data;
	teardown(s);
}

/* ---- writes ----------------------------------------------------------- */

/* SwarmKit's errors reach Docker clients with their gRPC code in front. */
static void rpc_wrap(struct sw_err *e)
{
	const char *code = "Unknown";
	char msg[sizeof(e->msg)];

	switch (e->kind) {
	case SW_EINVALID:
		code = "InvalidArgument";
		break;
	case SW_ENOTFOUND:
		code = "NotFound";
		break;
	case SW_ECONFLICT:
		code = "AlreadyExists";
		break;
	case SW_EUNAVAILABLE:
		return;
	default:
		break;
	}
	snprintf(msg, sizeof(msg), "%s", e->msg);
	snprintf(e->msg, sizeof(e->msg), "rpc error: code = %s desc = %.400s",
		 code, msg);
}

static void on_write_committed(struct consensus_propose_req *req, int status,
			       uint64_t index, const struct sw_err *err)
{
	struct write_op *op = req->data;
	struct sw_err copy;

	if (status == 0) {
		op->cb(op->data, 0, NULL);
	} else {
		copy = *err;
		rpc_wrap(&copy);
		op->cb(op->data, -(int)copy.kind, &copy);
	}
	free(op);
}

int swarm_propose(struct swarm *s, struct change *c, swarm_cb cb,
		  void *data, struct sw_err *err)
{
	struct write_op *op;

	if (s->cons == NULL || !consensus_is_ready(s->cons))
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "rpc error: code = Unavailable desc = the "
				  "swarm does not have a leader");
	op = xcalloc(1, sizeof(*op));
	op->s = s;
	op->cb = cb;
	op->data = data;
	op->req.data = op;
	if (consensus_propose(s->cons, &op->req, c, on_write_committed, err) !=
	    0) {
		free(op);
		return -1;
	}
	return 0;
}

static void rotate_token(char **slot, const char *root_pem, char *buf)
{
	struct sw_err err;
	struct ca_root *root = ca_root_load(root_pem, NULL, &err);

	if (root == NULL)
		return;
	tokens_join_new(ca_root_digest(root), buf);
	*slot = buf;
	ca_root_free(root);
}

int swarm_update_cluster(struct swarm *s, uint64_t version,
			 const struct swarm_update *u, swarm_cb cb, void *data,
			 struct sw_err *err)
{
	const struct store_record *rec;
	Swarmd__Cluster *cl = swarm_cluster(s, &rec);
	char worker[TOKENS_JOIN_LEN + 1], manager[TOKENS_JOIN_LEN + 1];
	char unlock[TOKENS_UNLOCK_KEY_TEXT_MAX + 1];
	char *old_w, *old_m, *old_u;
	ProtobufCBinaryData old_spec;
	struct change c;
	int rc;

	if (cl == NULL)
		return sw_err_set(err, SW_ESYSTEM, "the cluster object is "
				  "missing");
	old_w = cl->worker_token;
	old_m = cl->manager_token;
	old_u = cl->unlock_key;
	old_spec = cl->spec_json;
	set_cluster_spec(cl, u->spec_json, &u->values);
	if (u->rotate_worker_token)
		rotate_token(&cl->worker_token, cl->root_ca_cert_pem, worker);
	if (u->rotate_manager_token)
		rotate_token(&cl->manager_token, cl->root_ca_cert_pem, manager);
	/* The unlock key exists while autolock is on; turning autolock on or
	 * asking for a rotation makes a new one. */
	if (u->values.autolock &&
	    (!cl->autolock || u->rotate_unlock_key || cl->unlock_key[0] == 0)) {
		struct tokens_unlock_key key;

		tokens_unlock_key_new(&key);
		tokens_unlock_key_format(&key, unlock);
		cl->unlock_key = unlock;
	} else if (!u->values.autolock) {
		cl->unlock_key = "";
	}
	cl->autolock = u->values.autolock;
	change_init(&c, timefmt_now_ns());
	pack_into(&c, CHANGE_UPDATE, OBJ_CLUSTER, rec->id, &cl->base, version);
	/* Give back the unpacked strings before freeing the message. */
	cl->spec_json = old_spec;
	cl->worker_token = old_w;
	cl->manager_token = old_m;
	cl->unlock_key = old_u;
	swarmd__cluster__free_unpacked(cl, NULL);
	rc = swarm_propose(s, &c, cb, data, err);
	if (rc == 0 && s->cons != NULL && u->values.snapshot_interval > 0)
		consensus_set_snapshot(s->cons,
				       (unsigned)u->values.snapshot_interval,
				       CONSENSUS_SNAPSHOT_TRAILING);
	change_free(&c);
	return rc;
}

static size_t count_managers(const struct swarm *s)
{
	size_t n = 0;

	for (const struct store_record *r = store_first(s->store, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *node = swarm_node_unpack(r);

		if (node != NULL && strcmp(node->role, "manager") == 0)
			n++;
		swarmd__node__free_unpacked(node, NULL);
	}
	return n;
}

static const struct store_record *get_node(const struct swarm *s,
					   const char *id, Swarmd__Node **out,
					   struct sw_err *err)
{
	const struct store_record *rec = store_get(s->store, OBJ_NODE, id);

	*out = rec != NULL ? swarm_node_unpack(rec) : NULL;
	if (*out == NULL) {
		sw_err_set(err, SW_ENOTFOUND, "node %s not found", id);
		return NULL;
	}
	return rec;
}

int swarm_update_node(struct swarm *s, const char *id, uint64_t version,
		      const struct swarm_node_spec *spec, swarm_cb cb,
		      void *data, struct sw_err *err)
{
	Swarmd__Node *n;
	const struct store_record *rec = get_node(s, id, &n, err);
	Swarmd__Node copy;
	struct change c;
	int rc;

	if (rec == NULL)
		return -1;
	if (strcmp(n->role, "manager") == 0 &&
	    strcmp(spec->role, "worker") == 0 && count_managers(s) <= 1) {
		swarmd__node__free_unpacked(n, NULL);
		return sw_err_set(err, SW_EINVALID,
				  "rpc error: code = FailedPrecondition desc = "
				  "attempting to demote the last manager of "
				  "the swarm");
	}
	copy = *n;
	copy.spec_json.data = (uint8_t *)spec->spec_json;
	copy.spec_json.len = strlen(spec->spec_json);
	copy.role = (char *)spec->role;
	copy.availability = (char *)spec->availability;
	copy.spec_name = (char *)(spec->name ? spec->name : "");
	copy.labels = spec->labels;
	copy.n_labels = spec->n_labels;
	change_init(&c, timefmt_now_ns());
	pack_into(&c, CHANGE_UPDATE, OBJ_NODE, rec->id, &copy.base, version);
	swarmd__node__free_unpacked(n, NULL);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
}

int swarm_remove_node(struct swarm *s, const char *id, bool force,
		      swarm_cb cb, void *data, struct sw_err *err)
{
	Swarmd__Node *n;
	const struct store_record *rec = get_node(s, id, &n, err);
	struct change c;
	int rc = 0;

	if (rec == NULL)
		return -1;
	if (n->manager)
		rc = sw_err_set(err, SW_EINVALID,
				"rpc error: code = FailedPrecondition desc = "
				"node %s is a cluster manager and is a member "
				"of the raft cluster. It must be demoted to "
				"worker before removal",
				rec->id);
	else if (!force && strcmp(n->state, "down") != 0)
		rc = sw_err_set(err, SW_EINVALID,
				"rpc error: code = FailedPrecondition desc = "
				"node %s is not down and can't be removed",
				rec->id);
	swarmd__node__free_unpacked(n, NULL);
	if (rc != 0)
		return -1;
	change_init(&c, timefmt_now_ns());
	change_delete(&c, CHANGE_UPDATE, OBJ_NODE, rec->id, 0);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
}

/* ---- reads ------------------------------------------------------------ */

enum swarm_state swarm_get_state(const struct swarm *s)
{
	return s->state;
}

const char *swarm_node_id(const struct swarm *s)
{
	return s->node_id;
}

const char *swarm_cluster_id(const struct swarm *s)
{
	return s->cluster_id;
}

const char *swarm_advertise_addr(const struct swarm *s)
{
	return s->advertise_addr;
}

const char *swarm_node_addr(const struct swarm *s)
{
	return s->node_addr;
}

bool swarm_is_manager(const struct swarm *s)
{
	/* Workers arrive with the multi-node issue; every member now manages. */
	return s->state == SWARM_ACTIVE && s->store != NULL;
}

bool swarm_is_leader(const struct swarm *s)
{
	return s->cons != NULL && consensus_is_ready(s->cons);
}

uint64_t swarm_leader_raft_id(const struct swarm *s)
{
	uint64_t id = 0;
	const char *addr = NULL;

	if (s->cons != NULL)
		consensus_leader(s->cons, &id, &addr);
	return id;
}

const struct store *swarm_store(const struct swarm *s)
{
	return s->store;
}

const struct store_record *swarm_resolve(const struct swarm *s,
					 enum obj_kind kind, const char *ref,
					 bool by_name)
{
	const struct store_record *rec;

	if (s->store == NULL || ref[0] == '\0')
		return NULL;
	rec = store_get(s->store, kind, ref);
	if (rec == NULL && by_name)
		rec = store_get_by_name(s->store, kind, ref);
	if (rec == NULL && store_find_prefix(s->store, kind, ref, &rec) != 1)
		rec = NULL;
	return rec;
}

Swarmd__Cluster *swarm_cluster(const struct swarm *s,
			       const struct store_record **rec)
{
	const struct store_record *r =
		s->store ? store_first(s->store, OBJ_CLUSTER) : NULL;

	if (rec != NULL)
		*rec = r;
	if (r == NULL)
		return NULL;
	return swarmd__cluster__unpack(NULL, r->payload_len, r->payload);
}

Swarmd__Node *swarm_node_unpack(const struct store_record *rec)
{
	return swarmd__node__unpack(NULL, rec->payload_len, rec->payload);
}

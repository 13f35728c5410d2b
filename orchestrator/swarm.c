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
#include "orchestrator/certrenew.h"
#include "orchestrator/consensus.h"
#include "orchestrator/fsm.h"
#include "orchestrator/networks.h"
#include "orchestrator/reconcile.h"
#include "orchestrator/agent.h"
#include "orchestrator/bridge.h"
#include "orchestrator/dispatcher.h"
#include "orchestrator/forward.h"
#include "orchestrator/join.h"
#include "orchestrator/session.h"
#include "orchestrator/tls.h"
#include "orchestrator/tokens.h"
#include "orchestrator/transport.h"

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
	bool worker; /* a worker node: no raft, a local task store */
	struct store *store;
	struct fsm fsm;
	struct consensus *cons;
	struct raft_uv_transport transport; /* the raft bridge */
	bool transport_open;
	/* The node transport (:2377) and what runs on it. */
	struct tls_ctx *tls;
	struct transport *net;
	struct forwarder *fwd;
	struct dispatcher *disp;
	struct session *sess;
	struct store_watcher watcher;
	bool watching;
	/* Managers as the join answer or the leader named them: raft ids for
	 * the bridge before the store knows them, addresses for workers. */
	struct peer *peers;
	size_t n_peers;
	/* Raft membership changes, on the leader, one at a time. */
	struct consensus_change_req *member_req;
	uv_timer_t member_timer;
	uv_timer_t cert_timer; /* renews this node's certificate */
	bool cert_renew_overridden; /* SWARMD_CERT_RENEW_AFTER_S was used */
	/* A join in progress. */
	struct join_op *join;
	/* A role change: a new certificate is on its way, then everything
	 * restarts in the new role (reload). */
	struct ca_keypair *renew_kp;
	uint64_t renew_raft_id;
	bool reload;
	/* --force-new-cluster: restart raft with this manager as the only
	 * voter (recover), then drop the other managers from raft in the
	 * store (recovering) before membership changes run again. */
	bool recover;
	bool recovering;
	bool recover_writing;
	bool tearing_down;
	bool defer_agent; /* start the agent once the store knows our tasks */
	/* Worker status reports waiting for the leader's ack. */
	struct pending_report *reports;
	uint64_t report_seq;
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
	void *done_data;
	void (*stop_cb)(void *data);
	void *stop_data; /* a stop's, kept apart: it may come during a leave */
	/* A leave's agent still removing the node's task containers: the
	 * answers above wait for it (as Docker's leave). */
	bool wiping;
};

enum { RAFT_MIN_LIFE_MS = 1000, MEMBER_RETRY_MS = 1000,
       JOIN_CATCHUP_MS = 60000 };

struct peer {
	char node_id[ID_SWARM_LEN + 1];
	uint64_t raft_id;
	char addr[80];
};

struct pending_report {
	uint64_t seq;
	swarm_cb cb;
	void *data;
	struct pending_report *next;
};

/* A join: first the answer from a manager, then (managers) the catch-up
 * of the local store. */
struct join_op {
	struct swarm *s;
	swarm_cb cb;
	void *data;
	struct ca_keypair *kp;
	uv_timer_t timer;
	bool timer_open;
	bool answered; /* the manager admitted us */
};

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
	uv_timer_init(loop, &s->member_timer);
	s->member_timer.data = s;
	uv_unref((uv_handle_t *)&s->member_timer);
	uv_timer_init(loop, &s->cert_timer);
	s->cert_timer.data = s;
	uv_unref((uv_handle_t *)&s->cert_timer);
	return s;
}

void swarm_free(struct swarm *s)
{
	if (s == NULL)
		return;
	free(s->data_root);
	free(s->dir);
	free(s->peers);
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

const struct health_state *swarm_health(const struct swarm *s,
					const char *container_id)
{
	return agent_health(s->agent, container_id);
}

/* ---- the local state file: who this node is in which swarm ---------- */

static char *path_in(const struct swarm *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

/* "id@raftid@addr,..." */
static char *peers_text(const struct swarm *s)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	for (size_t i = 0; i < s->n_peers; i++)
		buf_printf(&b, "%s%s@%llu@%s", i ? "," : "",
			   s->peers[i].node_id,
			   (unsigned long long)s->peers[i].raft_id,
			   s->peers[i].addr);
	return buf_steal(&b);
}

static void peers_parse(struct swarm *s, const char *text)
{
	const char *p = text;

	free(s->peers);
	s->peers = NULL;
	s->n_peers = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char one[160];
		char *a, *b;

		if (len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = '\0';
			a = strchr(one, '@');
			b = a ? strchr(a + 1, '@') : NULL;
			if (b != NULL) {
				struct peer *pe;

				*a = '\0';
				*b = '\0';
				s->peers = xrealloc(s->peers, (s->n_peers + 1) *
								      sizeof(*s->peers));
				pe = &s->peers[s->n_peers++];
				snprintf(pe->node_id, sizeof(pe->node_id),
					 "%.25s", one);
				pe->raft_id = strtoull(a + 1, NULL, 10);
				snprintf(pe->addr, sizeof(pe->addr), "%.79s",
					 b + 1);
			}
		}
		p = end ? end + 1 : NULL;
	}
}

static int write_state(struct swarm *s, struct sw_err *err)
{
	char *path = path_in(s, "state");
	char *peers = peers_text(s);
	char *text = xasprintf("node_id=%s\ncluster_id=%s\nraft_id=%llu\n"
			       "advertise_addr=%s\nlisten_addr=%s\n"
			       "data_path_addr=%s\nrole=%s\nmanagers=%s\n",
			       s->node_id, s->cluster_id,
			       (unsigned long long)s->raft_id,
			       s->advertise_addr, s->listen_addr,
			       s->data_path_addr,
			       s->worker ? "worker" : "manager", peers);
	int rc = fsutil_write_file(path, text, err);

	free(peers);
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
	char raft[32], role[16], peers[4096];
	struct buf b;
	struct stat st;
	int rc = 0;

	*found = stat(path, &st) == 0;
	buf_init(&b);
	if (*found && fsutil_read_file(path, 16384, &b, err) == 0) {
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
		state_value(b.data, "role", role, sizeof(role));
		s->worker = strcmp(role, "worker") == 0;
		state_value(b.data, "managers", peers, sizeof(peers));
		peers_parse(s, peers);
		if (s->node_id[0] == '\0' || (s->raft_id == 0 && !s->worker))
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

/* ---- the node transport ------------------------------------------------ */

static void on_join_conn(struct transport *t, struct transport_conn *c,
			 void *data)
{
	join_serve(data, c);
}

static int propose_for_follower(void *data, const struct change *c,
				forward_done_cb done, void *arg,
				struct sw_err *err);

static void on_forward_conn(struct transport *t, struct transport_conn *c,
			    void *data)
{
	forward_serve(c, propose_for_follower, data);
}

static void on_dispatch_conn(struct transport *t, struct transport_conn *c,
			     void *data)
{
	struct swarm *s = data;

	if (s->disp == NULL) {
		transport_conn_close(c);
		return;
	}
	dispatcher_serve(s->disp, c);
}

static char *read_text(struct swarm *s, const char *name, struct sw_err *err)
{
	char *path = path_in(s, name);
	struct buf b;
	char *text = NULL;

	buf_init(&b);
	if (fsutil_read_file(path, 64 * 1024, &b, err) == 0)
		text = buf_steal(&b);
	buf_free(&b);
	free(path);
	return text;
}

/* This node's TLS credentials from data-root/swarm. */
static struct tls_ctx *load_tls(struct swarm *s, struct sw_err *err)
{
	char *cert = read_text(s, "swarm-node.crt", err);
	char *key = cert ? read_text(s, "swarm-node.key", err) : NULL;
	char *root_pem = key ? read_text(s, "swarm-root-ca.crt", err) : NULL;
	struct ca_keypair *kp = NULL;
	struct ca_root *root = NULL;
	struct tls_ctx *ctx = NULL;

	if (root_pem != NULL && (kp = ca_keypair_load(cert, key, err)) != NULL &&
	    (root = ca_root_load(root_pem, NULL, err)) != NULL)
		ctx = tls_ctx_new(root, kp, err);
	if (key != NULL)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	free(root_pem);
	ca_keypair_free(kp);
	ca_root_free(root);
	return ctx;
}

/* Removed nodes are refused at the handshake: a certificate is only good
 * while the swarm still has the node's record. Until this manager's store
 * holds the cluster (a manager still catching up) it trusts the root. */
static int authorize(void *data, const struct ca_identity *peer,
		     enum transport_channel ch, struct sw_err *err)
{
	struct swarm *s = data;

	if (peer == NULL || s->store == NULL ||
	    store_first(s->store, OBJ_CLUSTER) == NULL ||
	    store_get(s->store, OBJ_NODE, peer->node_id) != NULL)
		return 0;
	for (size_t i = 0; i < s->n_peers; i++)
		if (strcmp(s->peers[i].node_id, peer->node_id) == 0)
			return 0;
	return sw_err_set(err, SW_EFORBIDDEN,
			  "node %s is not a member of this swarm",
			  peer->node_id);
}

static void serve_channels(struct swarm *s)
{
	transport_set_authorize(s->net, authorize, s);
	transport_handle(s->net, TRANSPORT_JOIN, on_join_conn, s);
	transport_handle(s->net, TRANSPORT_FORWARD, on_forward_conn, s);
	transport_handle(s->net, TRANSPORT_DISPATCH, on_dispatch_conn, s);
}

/* Listens on the listen address (managers). */
static int listen_net(struct swarm *s, struct sw_err *err)
{
	char host[80];
	char *colon;
	int port;

	snprintf(host, sizeof(host), "%s", s->listen_addr);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return sw_err_set(err, SW_EINVALID, "invalid listen address %s",
				  s->listen_addr);
	*colon = '\0';
	port = atoi(colon + 1);
	if (transport_listen(s->net, host, port, err) != 0)
		return -1;
	serve_channels(s);
	return 0;
}

/* Creates the node transport with this node's credentials. */
static int open_net(struct swarm *s, bool listen, struct sw_err *err)
{
	s->tls = load_tls(s, err);
	if (s->tls == NULL)
		return -1;
	s->net = transport_init(s->loop, s->tls, err);
	if (s->net == NULL)
		return -1;
	return listen ? listen_net(s, err) : 0;
}

/* ---- raft and the store --------------------------------------------- */

static void on_ready(struct consensus *c, void *data, bool ready);
static int worker_report(void *data, const struct agent_report *r, size_t n,
			 swarm_cb cb, void *cb_data, struct sw_err *err);
static void members_poke(struct swarm *s);
static void join_catchup_check(struct swarm *s);
static void maybe_start_agent(struct swarm *s);

/* Which manager raft id is: from the store, else from what the join
 * answer said. */
static const char *peer_addr(const struct swarm *s, uint64_t raft_id,
			     const char *node_id, bool *match, char *buf,
			     size_t cap)
{
	*match = false;
	for (const struct store_record *r =
		     s->store ? store_first(s->store, OBJ_NODE) : NULL;
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);
		bool same = n != NULL && n->raft_id == raft_id;

		if (same) {
			*match = strcmp(r->id, node_id) == 0;
			snprintf(buf, cap, "%s", n->manager_addr);
		}
		swarmd__node__free_unpacked(n, NULL);
		if (same)
			return buf;
	}
	for (size_t i = 0; i < s->n_peers; i++)
		if (s->peers[i].raft_id == raft_id) {
			*match = strcmp(s->peers[i].node_id, node_id) == 0;
			snprintf(buf, cap, "%s", s->peers[i].addr);
			return buf;
		}
	return NULL;
}

static int bridge_check(void *data, uint64_t raft_id,
			const struct ca_identity *peer, char *address,
			size_t cap, struct sw_err *err)
{
	struct swarm *s = data;
	bool match;

	if (peer == NULL || peer->role != CA_ROLE_MANAGER)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "raft peers must be managers");
	if (peer_addr(s, raft_id, peer->node_id, &match, address, cap) ==
		    NULL ||
	    !match)
		return sw_err_set(err, SW_EFORBIDDEN,
				  "raft id %llu is not node %s",
				  (unsigned long long)raft_id, peer->node_id);
	return 0;
}

/* A manager's session falls back to the other managers when raft names no
 * leader (e.g. after this manager left raft on its demotion). */
static void session_managers_from_store(struct swarm *s)
{
	size_t cap = store_count(s->store, OBJ_NODE), n = 0;
	char **addrs;
	Swarmd__Node **keep;

	if (s->sess == NULL || s->worker)
		return;
	addrs = xcalloc(cap + 1, sizeof(char *));
	keep = xcalloc(cap + 1, sizeof(*keep));
	for (const struct store_record *r = store_first(s->store, OBJ_NODE);
	     r != NULL && n < cap; r = store_next(r)) {
		Swarmd__Node *node = swarm_node_unpack(r);

		if (node != NULL && node->manager &&
		    strcmp(r->id, s->node_id) != 0 &&
		    node->manager_addr[0] != '\0') {
			keep[n] = node;
			addrs[n++] = node->manager_addr;
		} else {
			swarmd__node__free_unpacked(node, NULL);
		}
	}
	session_set_managers(s->sess, addrs, n);
	for (size_t i = 0; i < n; i++)
		swarmd__node__free_unpacked(keep[i], NULL);
	free(keep);
	free(addrs);
}

static void on_store_applied(struct store_watcher *w, uint64_t index,
			     bool reset, const struct store_event *evs,
			     size_t n)
{
	struct swarm *s = w->data;
	bool nodes = reset;

	for (size_t i = 0; i < n; i++)
		if (evs[i].kind == OBJ_NODE)
			nodes = true;
	if (s->fwd != NULL)
		forwarder_applied(s->fwd, index);
	if (nodes) {
		members_poke(s);
		session_managers_from_store(s);
	}
	if (s->join != NULL)
		join_catchup_check(s);
	maybe_start_agent(s);
}

static const char *manager_leader_hint(void *data);
static void manager_session_info(void *data, const Swarmd__SessionInfo *i);
static void session_nop_assign(void *data, const Swarmd__Assignments *a);
static void session_ack(void *data, uint64_t seq, int status,
			const struct sw_err *err);
static void session_down(void *data);
static void session_renewed(void *data, const char *cert, const char *error);

static const struct session_ops manager_session_ops = {
	.leader_hint = manager_leader_hint,
	.info = manager_session_info,
	.assignments = session_nop_assign,
	.ack = session_ack,
	.down = session_down,
	.renewed = session_renewed,
};

static void start_agent(struct swarm *s)
{
	if (s->factory == NULL || s->agent != NULL)
		return;
	s->agent = agent_start(s->loop, s, s->factory, s->factory_ctx,
			       s->node_id);
	if (s->agent != NULL && s->worker)
		agent_set_report_sink(s->agent, worker_report, s);
}

/* After a role change the agent waits for the store to hold this node's
 * tasks, so it adopts their containers instead of removing them. */
static void maybe_start_agent(struct swarm *s)
{
	if (!s->defer_agent)
		return;
	if (!s->worker && (s->store == NULL ||
			   store_get(s->store, OBJ_NODE, s->node_id) == NULL))
		return;
	s->defer_agent = false;
	start_agent(s);
}
/* The store with the patchers its entries need (task status reports). */
static struct store *open_store(const char *dir, struct sw_err *err)
{
	struct store *st = store_open(dir, err);

	if (st != NULL)
		store_set_patcher(st, OBJ_TASK, taskstatus_merge);
	return st;
}


/* Opens the store and starts raft in data-root/swarm, over the raft
 * bridge on the node transport. bootstrap makes this node the single voter
 * of a new cluster. */
static void arm_cert_renewal(struct swarm *s);
static void on_cert_timer(uv_timer_t *t);

static int start_raft(struct swarm *s, bool bootstrap,
		      const struct swarm_spec_values *v, struct sw_err *err)
{
	char *store_dir = path_in(s, "store");
	char *raft_dir = path_in(s, "raft");
	struct swarm_spec_values stored;
	struct bridge_config bc = {.transport = s->net,
				   .check = bridge_check,
				   .data = s};
	unsigned election, heartbeat;

	s->store = open_store(store_dir, err);
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
	s->watcher.data = s;
	store_watch(s->store, &s->watcher, on_store_applied);
	s->watching = true;
	s->reconciler = reconciler_start(s->loop, s);
	s->disp = dispatcher_new(s->loop, s);
	s->fwd = forwarder_new(s->net, s->store);
	if (!s->defer_agent)
		start_agent(s);
	if (bridge_init(&s->transport, s->loop, &bc, err) != 0) {
		free(raft_dir);
		return -1;
	}
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
	if (s->recover) {
		s->recover = false;
		if (consensus_recover(s->cons, err) != 0)
			return -1;
		s->recovering = true;
	}
	if (consensus_start(s->cons, bootstrap, err) != 0)
		return -1;
	s->sess = session_new(s->loop, s->net, false, &manager_session_ops, s);
	session_managers_from_store(s);
	arm_cert_renewal(s);
	return 0;
}

/* ---- workers ------------------------------------------------------------ */

static const char *worker_leader_hint(void *data)
{
	return NULL;
}

static void worker_session_info(void *data, const Swarmd__SessionInfo *info);
static void worker_assignments(void *data, const Swarmd__Assignments *a);

static const struct session_ops worker_session_ops = {
	.leader_hint = worker_leader_hint,
	.info = worker_session_info,
	.assignments = worker_assignments,
	.ack = session_ack,
	.down = session_down,
	.renewed = session_renewed,
};

static int worker_report(void *data, const struct agent_report *r, size_t n,
			 swarm_cb cb, void *cb_data, struct sw_err *err)
{
	struct swarm *s = data;
	struct pending_report *p;
	uint64_t seq = ++s->report_seq;

	if (s->sess == NULL || session_report(s->sess, seq, r, n, err) != 0)
		return s->sess == NULL ? sw_err_set(err, SW_EUNAVAILABLE,
						    "no session")
				       : -1;
	p = xcalloc(1, sizeof(*p));
	p->seq = seq;
	p->cb = cb;
	p->data = cb_data;
	p->next = s->reports;
	s->reports = p;
	return 0;
}

static void session_ack(void *data, uint64_t seq, int status,
			const struct sw_err *err)
{
	struct swarm *s = data;

	for (struct pending_report **pp = &s->reports; *pp != NULL;
	     pp = &(*pp)->next) {
		struct pending_report *p = *pp;

		if (p->seq != seq)
			continue;
		*pp = p->next;
		p->cb(p->data, status, err);
		free(p);
		return;
	}
}

static void fail_reports(struct swarm *s, const char *why)
{
	struct sw_err err;

	sw_err_set(&err, SW_EUNAVAILABLE, "%s", why);
	while (s->reports != NULL) {
		struct pending_report *p = s->reports;

		s->reports = p->next;
		p->cb(p->data, -SW_EUNAVAILABLE, &err);
		free(p);
	}
}

static void session_down(void *data)
{
	fail_reports(data, "the session with the leader ended");
}

static void session_nop_assign(void *data, const Swarmd__Assignments *a)
{
}

/* Remembers the managers the leader listed (RemoteManagers, and where to
 * go after a restart). */
static void remember_managers(struct swarm *s, Swarmd__ManagerPeer **m,
			      size_t n)
{
	char **addrs = xcalloc(n + 1, sizeof(char *));
	struct sw_err err;
	bool same = n == s->n_peers;

	for (size_t i = 0; same && i < n; i++)
		same = strcmp(s->peers[i].node_id, m[i]->node_id) == 0 &&
		       strcmp(s->peers[i].addr, m[i]->addr) == 0;
	if (!same) {
		free(s->peers);
		s->peers = xcalloc(n + 1, sizeof(*s->peers));
		for (size_t i = 0; i < n; i++) {
			snprintf(s->peers[i].node_id,
				 sizeof(s->peers[i].node_id), "%s",
				 m[i]->node_id);
			s->peers[i].raft_id = m[i]->raft_id;
			snprintf(s->peers[i].addr, sizeof(s->peers[i].addr),
				 "%s", m[i]->addr);
		}
		s->n_peers = n;
		if (s->state == SWARM_ACTIVE && write_state(s, &err) != 0)
			log_warn("swarm: %s", err.msg);
	}
	n = 0;
	for (size_t i = 0; i < s->n_peers; i++)
		if (strcmp(s->peers[i].node_id, s->node_id) != 0)
			addrs[n++] = s->peers[i].addr;
	if (s->sess != NULL)
		session_set_managers(s->sess, addrs, n);
	free(addrs);
}

static void start_renew(struct swarm *s, uint64_t raft_id);

static void worker_session_info(void *data, const Swarmd__SessionInfo *info)
{
	struct swarm *s = data;

	if (info->n_managers > 0)
		remember_managers(s, info->managers, info->n_managers);
	if (strcmp(info->role, "manager") == 0 && info->raft_id != 0)
		start_renew(s, info->raft_id);
}

/* Applies the leader's task assignments to the local task store. */
static void worker_assignments(void *data, const Swarmd__Assignments *a)
{
	struct swarm *s = data;
	struct change c;
	struct sw_err outcome, err;

	change_init(&c, timefmt_now_ns());
	for (size_t i = 0; i < a->n_upsert; i++)
		change_put(&c, CHANGE_UPSERT, OBJ_TASK, a->upsert[i]->id, NULL,
			   a->upsert[i]->payload.data,
			   a->upsert[i]->payload.len, 0);
	for (size_t i = 0; i < a->n_remove; i++)
		change_delete(&c, CHANGE_UPSERT, OBJ_TASK, a->remove[i], 0);
	for (const struct store_record *r =
		     a->full ? store_first(s->store, OBJ_TASK) : NULL;
	     r != NULL; r = store_next(r)) {
		bool keep = false;

		for (size_t i = 0; !keep && i < a->n_upsert; i++)
			keep = strcmp(a->upsert[i]->id, r->id) == 0;
		if (!keep)
			change_delete(&c, CHANGE_UPSERT, OBJ_TASK, r->id, 0);
	}
	if (c.n_ops > 0 &&
	    store_apply(s->store, &c, store_applied_index(s->store) + 1,
			&outcome, &err) != 0)
		log_error("worker: storing assignments: %s", err.msg);
	change_free(&c);
	maybe_start_agent(s);
}

/* A worker: its tasks in a local store, fed by its session. */
static int start_worker(struct swarm *s, struct sw_err *err)
{
	char *store_dir = path_in(s, "store");
	char **addrs;

	s->store = open_store(store_dir, err);
	free(store_dir);
	if (s->store == NULL)
		return -1;
	s->sess = session_new(s->loop, s->net, true, &worker_session_ops, s);
	addrs = xcalloc(s->n_peers + 1, sizeof(char *));
	for (size_t i = 0; i < s->n_peers; i++)
		addrs[i] = s->peers[i].addr;
	session_set_managers(s->sess, addrs, s->n_peers);
	free(addrs);
	if (!s->defer_agent)
		start_agent(s);
	arm_cert_renewal(s);
	return 0;
}

/* At daemon stop: the swarm's own timers go with it. */
static void close_timers(struct swarm *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->member_timer))
		uv_close((uv_handle_t *)&s->member_timer, NULL);
	if (!uv_is_closing((uv_handle_t *)&s->cert_timer))
		uv_close((uv_handle_t *)&s->cert_timer, NULL);
}

static void release_after_close(struct swarm *s)
{
	fsm_close(&s->fsm);
	if (s->store != NULL) {
		store_close(s->store);
		s->store = NULL;
	}
	tls_ctx_unref(s->tls);
	s->tls = NULL;
	fail_reports(s, "leaving");
}

/* Starts again in the role the state file now names, on fresh stores. */
static void reload(struct swarm *s)
{
	char *store_dir = path_in(s, "store");
	char *raft_dir = path_in(s, "raft");
	struct sw_err err;

	s->reload = false;
	if (fsutil_remove_all(store_dir, &err) != 0 ||
	    fsutil_remove_all(raft_dir, &err) != 0 ||
	    open_net(s, !s->worker, &err) != 0 ||
	    (s->worker ? start_worker(s, &err)
		       : start_raft(s, false, NULL, &err)) != 0) {
		log_error("role change: %s", err.msg);
		s->state = SWARM_ERROR;
	}
	free(store_dir);
	free(raft_dir);
}

/* The second half of swarm_force_new_cluster: raft again on the kept
 * stores, recovered to this manager alone. */
static void restart_recovered(struct swarm *s)
{
	swarm_cb done = s->done_cb;
	void *data = s->done_data;
	struct sw_err err;
	int rc;

	s->done_cb = NULL;
	rc = open_net(s, true, &err) == 0 &&
			     start_raft(s, false, NULL, &err) == 0
		     ? 0
		     : -1;
	if (rc != 0) {
		log_error("force-new-cluster: %s", err.msg);
		s->recover = false;
		s->state = SWARM_ERROR;
	}
	done(data, rc == 0 ? 0 : -(int)err.kind, rc == 0 ? NULL : &err);
}

/* The answers of a finished teardown: a leave's, then a stop's. */
static void teardown_answer(struct swarm *s)
{
	swarm_cb done = s->done_cb;
	void (*stop)(void *) = s->stop_cb;

	s->done_cb = NULL;
	s->stop_cb = NULL;
	if (stop != NULL)
		close_timers(s);
	if (done != NULL)
		done(s->done_data, 0, NULL);
	if (stop != NULL)
		stop(s->stop_data);
}

/* The agent a leave stopped removed the node's task containers: the
 * daemon's clean-up of the node, then the answers, once the rest of the
 * teardown is done too. */
static void on_agent_wiped(void *data, const char *node_id)
{
	struct swarm *s = data;

	if (s->cleanup != NULL)
		s->cleanup(s->factory_ctx, node_id);
	s->wiping = false;
	if (!s->tearing_down)
		teardown_answer(s);
}

static void finish_teardown(struct swarm *s)
{
	struct sw_err err;
	swarm_cb done = s->done_cb;
	void (*stop)(void *) = s->stop_cb;

	release_after_close(s);
	s->tearing_down = false;
	if (s->recover && stop == NULL) {
		restart_recovered(s);
		return;
	}
	if (s->reload && done == NULL && stop == NULL) {
		reload(s);
		return;
	}
	s->reload = false;
	if (s->wipe && fsutil_remove_all(s->dir, &err) != 0)
		log_error("leaving the swarm: %s", err.msg);
	if (s->wipe) {
		s->state = SWARM_INACTIVE;
		s->worker = false;
		memset(s->node_id, 0, sizeof(s->node_id));
		memset(s->cluster_id, 0, sizeof(s->cluster_id));
		free(s->peers);
		s->peers = NULL;
		s->n_peers = 0;
	}
	if (!s->wiping)
		teardown_answer(s);
}

static void on_net_closed(void *data)
{
	finish_teardown(data);
}

/* After raft: the bridge, then the node transport. */
static void close_net(struct swarm *s)
{
	struct transport *net = s->net;

	if (s->transport_open) {
		bridge_close(&s->transport);
		s->transport_open = false;
	}
	s->net = NULL;
	if (net != NULL)
		transport_close(net, on_net_closed, s);
	else
		finish_teardown(s);
}

static void on_consensus_closed(void *data)
{
	close_net(data);
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
static void join_abort(struct swarm *s);

static void teardown(struct swarm *s)
{
	struct consensus *c = s->cons;
	uint64_t age = uv_now(s->loop) - s->raft_started;

	if (s->join != NULL)
		join_abort(s);
	s->tearing_down = true;
	if (s->reconciler != NULL) {
		reconciler_stop(s->reconciler);
		s->reconciler = NULL;
	}
	uv_timer_stop(&s->member_timer);
	uv_timer_stop(&s->cert_timer);
	if (s->watching) {
		store_unwatch(s->store, &s->watcher);
		s->watching = false;
	}
	if (s->disp != NULL) {
		dispatcher_free(s->disp);
		s->disp = NULL;
	}
	if (s->sess != NULL) {
		session_free(s->sess);
		s->sess = NULL;
	}
	if (s->fwd != NULL) {
		struct forwarder *f = s->fwd;

		s->fwd = NULL;
		forwarder_free(f);
	}
	fail_reports(s, "leaving");
	if (s->agent != NULL) {
		struct agent *a = s->agent;

		s->agent = NULL;
		if (s->wipe) {
			s->wiping = true;
			agent_stop_and_remove(a, on_agent_wiped, s);
		} else {
			agent_stop(a);
		}
	}
	s->cons = NULL;
	if (c == NULL) {
		close_net(s);
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
	if (s->disp != NULL && consensus_is_ready(s->cons))
		dispatcher_set_leader(s->disp, true);
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
	if (s->disp != NULL && s->init == NULL)
		dispatcher_set_leader(s->disp, ready);
	if (s->sess != NULL)
		session_poke(s->sess);
	if (ready)
		members_poke(s);
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
	if (s->wiping)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "swarm is busy; try again");
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
	if (open_net(s, true, err) != 0 ||
	    start_raft(s, true, &p->values, err) != 0) {
		s->init = NULL;
		change_free(&op->change);
		free(op);
		s->wipe = true;
		teardown(s);
		return -1;
	}
	return 0;
}

/* ---- join ---------------------------------------------------------------- */

static void on_join_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void join_op_free(struct join_op *op)
{
	ca_keypair_free(op->kp);
	op->kp = NULL;
	if (op->timer_open) {
		uv_timer_stop(&op->timer);
		uv_close((uv_handle_t *)&op->timer, on_join_timer_closed);
	} else {
		free(op);
	}
}

static void noop_closed(void *data)
{
}

/* Ends the join with status; on failure everything it stored goes. */
static void join_finish(struct swarm *s, int status, const struct sw_err *err)
{
	struct join_op *op = s->join;
	swarm_cb cb = op->cb;
	void *data = op->data;
	struct sw_err copy;

	s->join = NULL;
	if (err != NULL)
		copy = *err;
	if (status == 0) {
		s->state = SWARM_ACTIVE;
		log_info("joined swarm %s as %s node %s", s->cluster_id,
			 s->worker ? "worker" : "manager", s->node_id);
	} else if (op->answered) {
		s->wipe = true;
		s->done_cb = NULL;
		teardown(s);
	} else {
		struct transport *net = s->net;

		s->net = NULL;
		if (net != NULL)
			transport_close(net, noop_closed, NULL);
		tls_ctx_unref(s->tls);
		s->tls = NULL;
		s->state = SWARM_INACTIVE;
	}
	join_op_free(op);
	cb(data, status, status == 0 ? NULL : &copy);
}

static void join_abort(struct swarm *s)
{
	struct join_op *op = s->join;
	struct sw_err err;

	s->join = NULL;
	sw_err_set(&err, SW_EUNAVAILABLE, "swarmd is shutting down");
	op->cb(op->data, -SW_EUNAVAILABLE, &err);
	join_op_free(op);
}

static void join_catchup_check(struct swarm *s)
{
	if (s->join == NULL || !s->join->answered || s->worker ||
	    s->store == NULL ||
	    store_get(s->store, OBJ_NODE, s->node_id) == NULL ||
	    store_first(s->store, OBJ_CLUSTER) == NULL)
		return;
	join_finish(s, 0, NULL);
}

static void on_join_timeout(uv_timer_t *t)
{
	struct join_op *op = t->data;
	struct swarm *s = op->s;

	if (s->join != op)
		return;
	/* Raft will catch up in time; the node has joined already. */
	log_warn("join: the local store has not caught up yet");
	join_finish(s, 0, NULL);
}

/* Keeps what the manager sent: certificate, key, root, state. */
static int adopt_answer(struct swarm *s, const Swarmd__JoinResponse *resp,
			const struct ca_root *root, struct sw_err *err)
{
	struct join_op *op = s->join;
	char *key;
	int rc = -1;

	snprintf(s->node_id, sizeof(s->node_id), "%s", resp->node_id);
	snprintf(s->cluster_id, sizeof(s->cluster_id), "%s", resp->cluster_id);
	s->raft_id = resp->raft_id;
	s->worker = strcmp(resp->role, "worker") == 0;
	free(s->peers);
	s->peers = xcalloc(resp->n_managers + 1, sizeof(*s->peers));
	for (size_t i = 0; i < resp->n_managers; i++) {
		struct peer *pe = &s->peers[i];

		snprintf(pe->node_id, sizeof(pe->node_id), "%s",
			 resp->managers[i]->node_id);
		pe->raft_id = resp->managers[i]->raft_id;
		snprintf(pe->addr, sizeof(pe->addr), "%s",
			 resp->managers[i]->addr);
	}
	s->n_peers = resp->n_managers;
	if (ca_keypair_set_cert(op->kp, resp->cert_pem, err) != 0 ||
	    ca_root_verify(root, ca_keypair_cert(op->kp), time(NULL), err) != 0)
		return -1;
	key = ca_keypair_key_pem(op->kp, err);
	if (key == NULL)
		return -1;
	if (fsutil_mkdir_p(s->dir, 0700, err) == 0 &&
	    write_secret_file(s, "swarm-node.crt", resp->cert_pem, err) == 0 &&
	    write_secret_file(s, "swarm-node.key", key, err) == 0 &&
	    write_secret_file(s, "swarm-root-ca.crt", ca_root_cert_pem(root),
			      err) == 0 &&
	    write_state(s, err) == 0)
		rc = 0;
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	if (rc == 0) {
		s->tls = tls_ctx_new(root, op->kp, err);
		if (s->tls == NULL)
			return -1;
		transport_set_tls(s->net, s->tls);
	}
	return rc;
}

static void on_join_answer(void *data, int status,
			   const Swarmd__JoinResponse *resp,
			   const struct ca_root *root, const struct sw_err *err)
{
	struct swarm *s = data;
	struct join_op *op = s->join;
	struct sw_err e;

	if (op == NULL)
		return;
	if (status != 0) {
		join_finish(s, status, err);
		return;
	}
	op->answered = true;
	if (adopt_answer(s, resp, root, &e) != 0 ||
	    (s->worker ? start_worker(s, &e)
		       : (listen_net(s, &e) != 0 ||
			  start_raft(s, false, NULL, &e) != 0)
				 ? -1
				 : 0) != 0) {
		join_finish(s, -(int)e.kind, &e);
		return;
	}
	if (s->worker) {
		join_finish(s, 0, NULL);
		return;
	}
	uv_timer_init(s->loop, &op->timer);
	op->timer.data = op;
	op->timer_open = true;
	uv_timer_start(&op->timer, on_join_timeout, JOIN_CATCHUP_MS, 0);
	join_catchup_check(s);
}

int swarm_join(struct swarm *s, const struct swarm_join_params *p,
	       swarm_cb cb, void *data, struct sw_err *err)
{
	Swarmd__JoinRequest rq = SWARMD__JOIN_REQUEST__INIT;
	struct tokens_join tok;
	struct tls_ctx *ctx;
	struct join_op *op;

	if (s->state != SWARM_INACTIVE)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "This node is already part of a swarm. Use "
				  "\"docker swarm leave\" to leave this swarm "
				  "and join another one.");
	if (s->join != NULL || s->net != NULL || s->done_cb != NULL ||
	    s->stop_cb != NULL || s->wiping)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "swarm is busy; try again");
	if (tokens_join_parse(p->token, &tok, err) != 0 ||
	    fsutil_remove_all(s->dir, err) != 0)
		return -1;
	ctx = tls_ctx_new_pinned(tok.root_digest, err);
	if (ctx == NULL)
		return -1;
	s->net = transport_init(s->loop, ctx, err);
	tls_ctx_unref(ctx);
	if (s->net == NULL)
		return -1;
	op = xcalloc(1, sizeof(*op));
	op->s = s;
	op->cb = cb;
	op->data = data;
	op->kp = ca_keypair_new(err);
	if (op->kp == NULL)
		goto err_close;
	snprintf(s->advertise_addr, sizeof(s->advertise_addr), "%s",
		 p->advertise_addr);
	snprintf(s->listen_addr, sizeof(s->listen_addr), "%s", p->listen_addr);
	snprintf(s->data_path_addr, sizeof(s->data_path_addr), "%s",
		 p->data_path_addr);
	set_node_addr(s);
	rq.token = (char *)p->token;
	rq.csr_pem = (char *)ca_keypair_csr_pem(op->kp);
	rq.advertise_addr = s->advertise_addr;
	rq.availability = (char *)(p->availability ? p->availability : "");
	rq.hostname = s->host.hostname;
	rq.os = s->host.os;
	rq.architecture = s->host.arch;
	rq.nano_cpus = s->host.nano_cpus;
	rq.memory_bytes = s->host.memory_bytes;
	rq.engine_version = s->host.engine_version;
	s->join = op;
	if (join_start(s->net, p->remote_addrs, p->n_remote_addrs, &rq,
		       on_join_answer, s, err) != 0) {
		s->join = NULL;
		goto err_close;
	}
	s->state = SWARM_PENDING;
	s->wipe = false;
	return 0;

err_close:
	ca_keypair_free(op->kp);
	free(op);
	transport_close(s->net, noop_closed, NULL);
	s->net = NULL;
	return -1;
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
	if (open_net(s, !s->worker, err) != 0 ||
	    (s->worker ? start_worker(s, err) : start_raft(s, false, NULL, err)) !=
		    0) {
		s->state = SWARM_ERROR;
		return -1;
	}
	log_info("rejoined swarm %s as %s node %s", s->cluster_id,
		 s->worker ? "worker" : "manager", s->node_id);
	return 0;
}

int swarm_leave(struct swarm *s, swarm_cb cb, void *data,
		struct sw_err *err)
{
	if (s->state == SWARM_INACTIVE)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "This node is not part of a swarm");
	if (s->done_cb != NULL || s->stop_cb != NULL || s->init != NULL ||
	    s->tearing_down)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "swarm is busy; try again");
	s->wipe = true;
	s->done_cb = cb;
	s->done_data = data;
	log_info("leaving swarm %s", s->cluster_id);
	teardown(s);
	return 0;
}

int swarm_force_new_cluster(struct swarm *s, swarm_cb cb, void *data,
			    struct sw_err *err)
{
	if (s->done_cb != NULL || s->stop_cb != NULL || s->init != NULL ||
	    s->tearing_down || s->cons == NULL)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "swarm is busy; try again");
	s->recover = true;
	s->wipe = false;
	s->done_cb = cb;
	s->done_data = data;
	log_info("force-new-cluster: restarting raft with this manager alone");
	teardown(s);
	return 0;
}

void swarm_stop(struct swarm *s, void (*cb)(void *data), void *data)
{
	if (s->tearing_down || s->wiping) {
		/* A role change is restarting everything: stop instead. A
		 * leave in progress still ends (its wipe, the agent's removals
		 * holding s) and is answered first. */
		s->reload = false;
		s->stop_cb = cb;
		s->stop_data = data;
		return;
	}
	if (s->state == SWARM_INACTIVE && s->cons == NULL &&
	    s->store == NULL && s->net == NULL) {
		close_timers(s);
		cb(data);
		return;
	}
	s->wipe = false;
	s->stop_cb = cb;
	s->stop_data = data;
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

struct fwd_write {
	swarm_cb cb;
	void *data;
};

static void on_forwarded(void *data, int status, const struct sw_err *err)
{
	struct fwd_write *w = data;
	struct sw_err copy;

	if (status == 0) {
		w->cb(w->data, 0, NULL);
	} else {
		copy = *err;
		rpc_wrap(&copy);
		w->cb(w->data, -(int)copy.kind, &copy);
	}
	free(w);
}

const char *swarm_leader_addr(const struct swarm *s)
{
	uint64_t id = 0;
	const char *addr = NULL;

	if (s->cons == NULL)
		return NULL;
	consensus_leader(s->cons, &id, &addr);
	if (id == 0)
		return NULL;
	if (id == s->raft_id)
		return s->advertise_addr;
	return addr;
}

/* The leader's address when this manager follows one it can send to
 * (writes and read barriers go there), else NULL. */
static const char *leader_to_forward_to(struct swarm *s)
{
	const char *leader = swarm_leader_addr(s);

	if (s->cons == NULL || s->fwd == NULL || leader == NULL ||
	    consensus_is_ready(s->cons) ||
	    swarm_leader_raft_id(s) == s->raft_id)
		return NULL;
	return leader;
}

int swarm_propose(struct swarm *s, struct change *c, swarm_cb cb,
		  void *data, struct sw_err *err)
{
	struct write_op *op;
	const char *leader = leader_to_forward_to(s);

	if (leader != NULL) {
		struct fwd_write *w = xcalloc(1, sizeof(*w));

		w->cb = cb;
		w->data = data;
		if (forwarder_propose(s->fwd, leader, c, on_forwarded, w,
				      err) != 0) {
			free(w);
			return -1;
		}
		return 0;
	}
	if (s->cons == NULL || !consensus_is_ready(s->cons))
		return sw_err_set(err, SW_ESYSTEM, "%s", SWARM_NO_LEADER);
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

bool swarm_read_barrier(struct swarm *s, swarm_cb cb, void *data)
{
	const char *leader = leader_to_forward_to(s);
	struct sw_err err;

	if (leader == NULL)
		return false;
	if (forwarder_barrier(s->fwd, leader, cb, data, &err) != 0) {
		log_debug("read barrier: %s", err.msg);
		return false;
	}
	return true;
}

/* A follower's write, proposed here (the leader), answered unwrapped. */
struct raw_write {
	struct consensus_propose_req req;
	forward_done_cb done;
	void *arg;
};

static void on_raw_committed(struct consensus_propose_req *req, int status,
			     uint64_t index, const struct sw_err *err)
{
	struct raw_write *w = req->data;

	w->done(w->arg, status, index, err);
	free(w);
}

static int propose_for_follower(void *data, const struct change *c,
				forward_done_cb done, void *arg,
				struct sw_err *err)
{
	struct swarm *s = data;
	struct raw_write *w;

	if (s->cons == NULL || !consensus_is_ready(s->cons))
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "rpc error: code = Unavailable desc = this "
				  "manager is not the leader");
	if (c == NULL) {
		done(arg, 0, store_applied_index(s->store), NULL);
		return 0;
	}
	w = xcalloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	w->req.data = w;
	if (consensus_propose(s->cons, &w->req, c, on_raw_committed, err) !=
	    0) {
		free(w);
		return -1;
	}
	return 0;
}

/* ---- raft membership (leader) ------------------------------------------- */

static void on_member_timer(uv_timer_t *t)
{
	members_poke(t->data);
}

/* The manager node records decide who votes: a manager missing from the
 * configuration is added, a spare or standby one becomes a voter, and a
 * server no manager record names is removed. One change at a time. */
static void on_member_changed(struct consensus_change_req *req, int status,
			      const struct sw_err *err)
{
	struct swarm *s = req->data;

	free(req);
	s->member_req = NULL;
	if (status != 0) {
		log_warn("raft membership change failed: %s", err->msg);
		if (s->cons != NULL)
			uv_timer_start(&s->member_timer,
				       on_member_timer,
				       MEMBER_RETRY_MS, 0);
		return;
	}
	members_poke(s);
}

static const struct raft_server *config_find(const struct raft_configuration *cf,
					     uint64_t id)
{
	for (unsigned i = 0; i < cf->n; i++)
		if (cf->servers[i].id == id)
			return &cf->servers[i];
	return NULL;
}

static bool manager_record(const struct swarm *s, uint64_t raft_id)
{
	bool found = false;

	for (const struct store_record *r = store_first(s->store, OBJ_NODE);
	     r != NULL && !found; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		found = n != NULL && n->manager && n->raft_id == raft_id;
		swarmd__node__free_unpacked(n, NULL);
	}
	return found;
}

/* Starts the next membership change, if any is needed. */
static int member_step(struct swarm *s, struct consensus_change_req *req,
		       struct sw_err *err)
{
	const struct raft_configuration *cf = consensus_configuration(s->cons);

	for (const struct store_record *r = store_first(s->store, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);
		const struct raft_server *sv;
		int rc = 1;

		if (n != NULL && n->manager && n->raft_id != 0) {
			sv = config_find(cf, n->raft_id);
			if (sv == NULL) {
				log_info("raft: adding manager %s", r->id);
				rc = consensus_add(s->cons, req, n->raft_id,
						   n->manager_addr,
						   on_member_changed, err);
			} else if (sv->role != RAFT_VOTER) {
				log_info("raft: manager %s becomes a voter",
					 r->id);
				rc = consensus_assign(s->cons, req, n->raft_id,
						      RAFT_VOTER,
						      on_member_changed, err);
			}
		}
		swarmd__node__free_unpacked(n, NULL);
		if (rc <= 0)
			return rc;
	}
	for (unsigned i = 0; i < cf->n; i++) {
		uint64_t id = cf->servers[i].id;

		if (id == s->raft_id || manager_record(s, id))
			continue;
		log_info("raft: removing server %llu", (unsigned long long)id);
		return consensus_remove(s->cons, req, id, on_member_changed,
					err);
	}
	/* A demoted leader leaves last; it steps down once that commits. */
	if (config_find(cf, s->raft_id) != NULL && cf->n > 1 &&
	    !manager_record(s, s->raft_id)) {
		log_info("raft: this manager was demoted; leaving raft");
		return consensus_remove(s->cons, req, s->raft_id,
					on_member_changed, err);
	}
	return 1;
}

static void on_old_managers_dropped(void *data, int status,
				    const struct sw_err *err)
{
	struct swarm *s = data;

	s->recover_writing = false;
	if (status != 0) {
		log_warn("force-new-cluster: %s", err->msg);
		if (s->cons != NULL)
			uv_timer_start(&s->member_timer, on_member_timer,
				       MEMBER_RETRY_MS, 0);
		return;
	}
	s->recovering = false;
	log_info("force-new-cluster: the other managers left raft");
	members_poke(s);
}

/* After a recovery, the other managers keep their role in the store (as
 * SwarmKit lists them) but lose their raft id, so membership changes do
 * not add them back; they are demoted and removed by hand. */
static void drop_old_managers(struct swarm *s)
{
	struct change c;
	struct sw_err err;

	change_init(&c, timefmt_now_ns());
	for (const struct store_record *r = store_first(s->store, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		if (n != NULL && n->raft_id != 0 && n->raft_id != s->raft_id) {
			n->raft_id = 0;
			pack_into(&c, CHANGE_UPDATE, OBJ_NODE, r->id, &n->base,
				  r->version);
		}
		swarmd__node__free_unpacked(n, NULL);
	}
	s->recover_writing = true;
	if (swarm_propose(s, &c, on_old_managers_dropped, s, &err) != 0)
		on_old_managers_dropped(s, -1, &err);
	change_free(&c);
}

static void members_poke(struct swarm *s)
{
	struct consensus_change_req *req;
	struct sw_err err;
	int rc;

	if (s->cons == NULL || s->store == NULL || s->member_req != NULL ||
	    s->init != NULL || !consensus_is_ready(s->cons))
		return;
	if (s->recovering) {
		if (!s->recover_writing)
			drop_old_managers(s);
		return;
	}
	req = xcalloc(1, sizeof(*req));
	req->data = s;
	rc = member_step(s, req, &err);
	if (rc == 0) {
		s->member_req = req;
		return;
	}
	free(req);
	if (rc < 0) {
		log_debug("raft membership: %s", err.msg);
		uv_timer_start(&s->member_timer, on_member_timer,
			       MEMBER_RETRY_MS, 0);
	}
}

/* ---- a manager's own session (heartbeats to the leader) ------------------ */

static const char *manager_leader_hint(void *data)
{
	struct swarm *s = data;
	const char *addr = swarm_leader_addr(s);

	if (addr != NULL && swarm_leader_raft_id(s) == s->raft_id)
		return "";
	return addr;
}

static void manager_session_info(void *data, const Swarmd__SessionInfo *i)
{
	struct swarm *s = data;

	if (i->n_managers > 0)
		remember_managers(s, i->managers, i->n_managers);
	if (strcmp(i->role, "worker") == 0)
		start_renew(s, 0);
}

/* ---- role changes (promote, demote) ----------------------------------- */

/* Asks the leader for a certificate of the role our record now holds. */
static void start_renew(struct swarm *s, uint64_t raft_id)
{
	struct sw_err err;

	if (s->renew_kp != NULL || s->reload || s->sess == NULL ||
	    s->state != SWARM_ACTIVE)
		return;
	s->renew_kp = ca_keypair_new(&err);
	if (s->renew_kp == NULL) {
		log_error("role change: %s", err.msg);
		return;
	}
	s->renew_raft_id = raft_id;
	log_info("certificate: asking the leader for a %s certificate",
		 raft_id ? "manager" : "worker");
	if (session_renew(s->sess, ca_keypair_csr_pem(s->renew_kp), &err) !=
	    0) {
		ca_keypair_free(s->renew_kp);
		s->renew_kp = NULL;
	}
}

/* Keeps the new certificate and restarts in the role it names. */
static int adopt_role(struct swarm *s, const char *cert, bool manager,
		      struct sw_err *err)
{
	char *key = ca_keypair_key_pem(s->renew_kp, err);
	int rc = -1;

	if (key == NULL)
		return -1;
	s->worker = !manager;
	s->raft_id = manager ? s->renew_raft_id : 0;
	if (write_secret_file(s, "swarm-node.crt", cert, err) == 0 &&
	    write_secret_file(s, "swarm-node.key", key, err) == 0 &&
	    write_state(s, err) == 0)
		rc = 0;
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	return rc;
}

/* ---- certificate renewal ------------------------------------------------ */

enum { CERT_RETRY_MS = 30000 };

static double random_fraction(void)
{
	uint32_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		abort();
	return r / 4294967296.0;
}

/* SWARMD_CERT_RENEW_AFTER_S moves the first renewal point after start to
 * that many seconds, so tests can watch a renewal without waiting hours. */
static void arm_cert_renewal(struct swarm *s)
{
	const char *after = s->cert_renew_overridden
				    ? NULL
				    : getenv("SWARMD_CERT_RENEW_AFTER_S");
	struct sw_err err;
	char *pem = read_text(s, "swarm-node.crt", &err);
	uint64_t ms;

	if (pem == NULL || certrenew_delay_for_pem(pem, time(NULL),
						   random_fraction(), &ms,
						   &err) != 0) {
		log_warn("certificate: no renewal planned: %s", err.msg);
		free(pem);
		return;
	}
	free(pem);
	if (after != NULL && after[0] != '\0') {
		ms = strtoull(after, NULL, 10) * 1000;
		s->cert_renew_overridden = true;
	}
	log_info("certificate: renewal in %llu s", (unsigned long long)(ms / 1000));
	uv_timer_start(&s->cert_timer, on_cert_timer, ms, 0);
}

/* A manager signs its own renewal with the root key in its store, for the
 * role its node record holds. */
static void renew_locally(struct swarm *s)
{
	const struct store_record *rec = store_get(s->store, OBJ_NODE,
						   s->node_id);
	Swarmd__Node *n = rec ? swarm_node_unpack(rec) : NULL;
	struct sw_err err;
	char *cert;

	if (n == NULL || s->renew_kp != NULL) {
		swarmd__node__free_unpacked(n, NULL);
		return;
	}
	s->renew_kp = ca_keypair_new(&err);
	if (s->renew_kp != NULL) {
		s->renew_raft_id = s->raft_id;
		cert = join_issue_cert(s, s->node_id,
				       n->manager ? CA_ROLE_MANAGER
						  : CA_ROLE_WORKER,
				       ca_keypair_csr_pem(s->renew_kp), &err);
		session_renewed(s, cert, err.msg);
		free(cert);
	} else {
		log_error("certificate: %s", err.msg);
	}
	swarmd__node__free_unpacked(n, NULL);
}

/* Retried every CERT_RETRY_MS until a renewal lands (which re-arms the
 * timer for the next one). */
static void on_cert_timer(uv_timer_t *t)
{
	struct swarm *s = t->data;

	uv_timer_start(&s->cert_timer, on_cert_timer, CERT_RETRY_MS, 0);
	if (s->state != SWARM_ACTIVE || s->tearing_down || s->store == NULL)
		return;
	if (s->worker)
		start_renew(s, 0);
	else
		renew_locally(s);
}

/* A renewed certificate of the same role: stored, and presented from the
 * next handshake on. */
static void keep_renewed_cert(struct swarm *s, const char *cert, bool manager)
{
	struct tls_ctx *ctx;
	struct sw_err err;

	if (adopt_role(s, cert, manager, &err) != 0 ||
	    (ctx = load_tls(s, &err)) == NULL) {
		log_error("certificate: keeping the renewed one: %s", err.msg);
		return;
	}
	if (s->net != NULL)
		transport_set_tls(s->net, ctx);
	tls_ctx_unref(s->tls);
	s->tls = ctx;
	log_info("certificate: renewed");
	arm_cert_renewal(s);
}

static void session_renewed(void *data, const char *cert, const char *error)
{
	struct swarm *s = data;
	struct ca_identity id;
	struct sw_err err;
	bool manager;

	if (s->renew_kp == NULL)
		return;
	if (cert == NULL ||
	    ca_keypair_set_cert(s->renew_kp, cert, &err) != 0 ||
	    ca_cert_identity(ca_keypair_cert(s->renew_kp), &id, &err) != 0 ||
	    strcmp(id.node_id, s->node_id) != 0) {
		log_warn("role change: no new certificate: %s",
			 cert == NULL ? error : err.msg);
		goto out;
	}
	manager = id.role == CA_ROLE_MANAGER;
	if (manager == !s->worker) {
		keep_renewed_cert(s, cert, manager);
		goto out;
	}
	if (adopt_role(s, cert, manager, &err) != 0) {
		log_error("role change: %s", err.msg);
		goto out;
	}
	log_info("role change: this node is now a %s; restarting its swarm "
		 "components", manager ? "manager" : "worker");
	s->reload = true;
	s->defer_agent = true;
	teardown(s);
out:
	ca_keypair_free(s->renew_kp);
	s->renew_kp = NULL;
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
	char maddr[96];
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
	if (strcmp(spec->role, "manager") == 0 && !n->manager) {
		/* Promotion: the membership loop adds it to raft and the node
		 * fetches a manager certificate. */
		copy.manager = true;
		if (copy.raft_id == 0)
			copy.raft_id = random_raft_id();
		if (copy.manager_addr[0] == '\0') {
			snprintf(maddr, sizeof(maddr), "%s:2377", n->addr);
			copy.manager_addr = maddr;
		}
	} else if (strcmp(spec->role, "worker") == 0 && n->manager) {
		copy.manager = false;
		copy.raft_id = 0;
	}
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
	/* A manager serves the API once its store knows it (a promoted node
	 * catches up first). */
	return s->state == SWARM_ACTIVE && s->store != NULL && !s->worker &&
	       store_get(s->store, OBJ_NODE, s->node_id) != NULL;
}

bool swarm_is_worker(const struct swarm *s)
{
	return s->state == SWARM_ACTIVE && s->worker;
}

size_t swarm_remote_managers(const struct swarm *s)
{
	return s->n_peers;
}

void swarm_remote_manager(const struct swarm *s, size_t i,
			  const char **node_id, const char **addr)
{
	*node_id = s->peers[i].node_id;
	*addr = s->peers[i].addr;
}

uint64_t swarm_new_raft_id(void)
{
	return random_raft_id();
}

void swarm_manager_counts(const struct swarm *s, size_t *reachable,
			  size_t *unreachable)
{
	uint64_t leader = swarm_leader_raft_id(s);

	*reachable = 0;
	*unreachable = 0;
	for (const struct store_record *r =
		     s->store ? store_first(s->store, OBJ_NODE) : NULL;
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		if (n != NULL && n->manager) {
			if ((n->raft_id != 0 && n->raft_id == leader) ||
			    strcmp(n->state, "ready") == 0)
				(*reachable)++;
			else
				(*unreachable)++;
		}
		swarmd__node__free_unpacked(n, NULL);
	}
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

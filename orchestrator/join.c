#include "orchestrator/join.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "orchestrator/change.h"
#include "orchestrator/store.h"
#include "orchestrator/swarm.h"
#include "orchestrator/tokens.h"

/* ---- pure parts ---------------------------------------------------------- */

int join_token_role(const char *presented, const Swarmd__Cluster *cl,
		    enum ca_role *role, struct sw_err *err)
{
	struct tokens_join tok;

	if (tokens_join_parse(presented, &tok, err) != 0)
		return -SW_EINVALID;
	return tokens_join_role(presented, cl->worker_token, cl->manager_token,
				role, err);
}

void *join_pack(const ProtobufCMessage *m, size_t *len)
{
	void *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = xmalloc(*len ? *len : 1);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static bool bounded(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= max;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CA_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* "host:port" with a port in 1..65535 and a non-empty host. */
static bool hostport_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!bounded(s, JOIN_ADDR_MAX) || colon == NULL || colon == s)
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] != '\0' && port > 0 && port < 65536;
}

Swarmd__JoinRequest *join_request_decode(const void *buf, size_t len,
					 struct sw_err *err)
{
	Swarmd__JoinRequest *r = swarmd__join_request__unpack(NULL, len, buf);

	if (r == NULL) {
		sw_err_set(err, SW_EINVALID, "malformed join request");
		return NULL;
	}
	if (r->token[0] == '\0' || r->csr_pem[0] == '\0' ||
	    !bounded(r->token, JOIN_TEXT_MAX) ||
	    !bounded(r->csr_pem, JOIN_PEM_MAX) ||
	    !hostport_ok(r->advertise_addr) ||
	    !bounded(r->availability, JOIN_TEXT_MAX) ||
	    !bounded(r->hostname, JOIN_TEXT_MAX) ||
	    !bounded(r->os, JOIN_TEXT_MAX) ||
	    !bounded(r->architecture, JOIN_TEXT_MAX) ||
	    !bounded(r->engine_version, JOIN_TEXT_MAX)) {
		swarmd__join_request__free_unpacked(r, NULL);
		sw_err_set(err, SW_EINVALID, "invalid join request");
		return NULL;
	}
	if (r->availability[0] != '\0' &&
	    strcmp(r->availability, "active") != 0 &&
	    strcmp(r->availability, "pause") != 0 &&
	    strcmp(r->availability, "drain") != 0) {
		sw_err_set(err, SW_EINVALID, "invalid Availability: \"%s\"",
			   r->availability);
		swarmd__join_request__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

static bool response_ok(const Swarmd__JoinResponse *r)
{
	if (r->error_kind != 0)
		return bounded(r->error, 511);
	if (!id_ok(r->cluster_id) || !id_ok(r->node_id) ||
	    r->cert_pem[0] == '\0' || !bounded(r->cert_pem, JOIN_PEM_MAX) ||
	    r->root_ca_pem[0] == '\0' ||
	    !bounded(r->root_ca_pem, JOIN_PEM_MAX) ||
	    r->n_managers > JOIN_MANAGERS_MAX)
		return false;
	if (strcmp(r->role, "manager") == 0) {
		if (r->raft_id == 0)
			return false;
	} else if (strcmp(r->role, "worker") != 0) {
		return false;
	}
	for (size_t i = 0; i < r->n_managers; i++)
		if (!id_ok(r->managers[i]->node_id) ||
		    r->managers[i]->raft_id == 0 ||
		    !hostport_ok(r->managers[i]->addr))
			return false;
	return true;
}

Swarmd__JoinResponse *join_response_decode(const void *buf, size_t len,
					   struct sw_err *err)
{
	Swarmd__JoinResponse *r = swarmd__join_response__unpack(NULL, len, buf);

	if (r == NULL || !response_ok(r)) {
		if (r != NULL)
			swarmd__join_response__free_unpacked(r, NULL);
		sw_err_set(err, SW_ESYSTEM,
			   "the manager sent an invalid join "
			   "response");
		return NULL;
	}
	return r;
}

/* ---- manager side -------------------------------------------------------- */

struct join_srv {
	struct swarm *s;
	struct transport_conn *c;
	bool gone;    /* the connection closed */
	bool pending; /* the node record is being written */
	bool answered;
	char node_id[ID_SWARM_LEN + 1];
	uint64_t raft_id;
	enum ca_role role;
	char *cert;
	char *root_pem;
};

static void srv_free(struct join_srv *j)
{
	free(j->cert);
	free(j->root_pem);
	free(j);
}

static void srv_send(struct join_srv *j, Swarmd__JoinResponse *resp)
{
	struct sw_err err;
	size_t len;
	void *buf;

	j->answered = true;
	if (j->gone)
		return;
	buf = join_pack(&resp->base, &len);
	if (transport_conn_send(j->c, buf, len, &err) != 0)
		log_warn("join: answering %s: %s", transport_conn_remote(j->c),
			 err.msg);
	free(buf);
	transport_conn_shutdown(j->c);
}

static void srv_fail(struct join_srv *j, const struct sw_err *err)
{
	Swarmd__JoinResponse resp = SWARMD__JOIN_RESPONSE__INIT;

	if (!j->gone)
		log_info("join from %s refused: %s",
			 transport_conn_remote(j->c), err->msg);
	resp.error_kind = err->kind ? (int32_t)err->kind : SW_ESYSTEM;
	resp.error_status = err->status;
	resp.error = (char *)err->msg;
	srv_send(j, &resp);
}

static void srv_answer(struct join_srv *j)
{
	Swarmd__JoinResponse resp = SWARMD__JOIN_RESPONSE__INIT;
	const struct store *st = swarm_store(j->s);
	Swarmd__ManagerPeer *peers, **ptrs;
	Swarmd__Node **nodes;
	size_t n = 0, cap = store_count(st, OBJ_NODE);

	peers = xcalloc(cap + 1, sizeof(*peers));
	ptrs = xcalloc(cap + 1, sizeof(*ptrs));
	nodes = xcalloc(cap + 1, sizeof(*nodes));
	for (const struct store_record *r = store_first(st, OBJ_NODE);
	     r != NULL && n < cap && n < JOIN_MANAGERS_MAX; r = store_next(r)) {
		Swarmd__Node *node = swarm_node_unpack(r);

		if (node == NULL || !node->manager || node->raft_id == 0) {
			swarmd__node__free_unpacked(node, NULL);
			continue;
		}
		swarmd__manager_peer__init(&peers[n]);
		peers[n].node_id = (char *)r->id;
		peers[n].raft_id = node->raft_id;
		peers[n].addr = node->manager_addr;
		ptrs[n] = &peers[n];
		nodes[n++] = node;
	}
	resp.cert_pem = j->cert;
	resp.root_ca_pem = j->root_pem;
	resp.cluster_id = (char *)swarm_cluster_id(j->s);
	resp.node_id = j->node_id;
	resp.role = j->role == CA_ROLE_MANAGER ? "manager" : "worker";
	resp.raft_id = j->raft_id;
	resp.managers = ptrs;
	resp.n_managers = n;
	log_info("node %s joined as a %s from %s", j->node_id, resp.role,
		 j->gone ? "?" : transport_conn_remote(j->c));
	srv_send(j, &resp);
	for (size_t i = 0; i < n; i++)
		swarmd__node__free_unpacked(nodes[i], NULL);
	free(nodes);
	free(ptrs);
	free(peers);
}

static void on_node_written(void *data, int status, const struct sw_err *err)
{
	struct join_srv *j = data;

	j->pending = false;
	if (status != 0)
		srv_fail(j, err);
	else
		srv_answer(j);
	if (j->gone)
		srv_free(j);
}

static char *host_of(const char *hostport)
{
	char *h = xstrdup(hostport);
	char *colon = strrchr(h, ':');

	if (colon != NULL)
		*colon = '\0';
	return h;
}

/* Proposes the new node's record. */
static int write_node(struct join_srv *j, const Swarmd__JoinRequest *rq,
		      struct sw_err *err)
{
	Swarmd__Node n = SWARMD__NODE__INIT;
	const char *role = j->role == CA_ROLE_MANAGER ? "manager" : "worker";
	const char *avail = rq->availability[0] ? rq->availability : "active";
	char *addr = host_of(rq->advertise_addr);
	char *spec = xasprintf("{\"Labels\":{},\"Role\":\"%s\","
			       "\"Availability\":\"%s\"}",
			       role, avail);
	struct change c;
	int rc;

	n.spec_json.data = (uint8_t *)spec;
	n.spec_json.len = strlen(spec);
	n.role = (char *)role;
	n.availability = (char *)avail;
	n.hostname = rq->hostname;
	n.os = rq->os;
	n.architecture = rq->architecture;
	n.nano_cpus = rq->nano_cpus;
	n.memory_bytes = rq->memory_bytes;
	n.engine_version = rq->engine_version;
	n.state = "ready";
	n.addr = addr;
	n.manager = j->role == CA_ROLE_MANAGER;
	/* A worker's address too: where it listens once promoted. */
	n.manager_addr = rq->advertise_addr;
	n.raft_id = j->raft_id;
	n.cert_role = (char *)role;
	change_init(&c, timefmt_now_ns());
	swarm_put(&c, CHANGE_CREATE, OBJ_NODE, j->node_id, NULL, &n.base, 0);
	j->pending = true;
	rc = swarm_propose(j->s, &c, on_node_written, j, err);
	if (rc != 0)
		j->pending = false;
	change_free(&c);
	free(spec);
	free(addr);
	return rc;
}

char *join_issue_cert(struct swarm *s, const char *node_id, enum ca_role role,
		      const char *csr, struct sw_err *err)
{
	Swarmd__Cluster *cl = swarm_cluster(s, NULL);
	struct ca_root *root;
	struct ca_sign_req sr = {.csr_pem = csr,
				 .node_id = node_id,
				 .cluster_id = swarm_cluster_id(s),
				 .role = role,
				 .now = time(NULL)};
	char *cert;

	if (cl == NULL) {
		sw_err_set(err, SW_EUNAVAILABLE, "the cluster is not ready");
		return NULL;
	}
	sr.expiry_ns = cl->node_cert_expiry_ns;
	root = ca_root_load(cl->root_ca_cert_pem, cl->root_ca_key_pem, err);
	swarmd__cluster__free_unpacked(cl, NULL);
	if (root == NULL)
		return NULL;
	cert = ca_root_sign_csr(root, &sr, err);
	ca_root_free(root);
	return cert;
}

static int sign(struct join_srv *j, const Swarmd__Cluster *cl, const char *csr,
		struct sw_err *err)
{
	j->cert = join_issue_cert(j->s, j->node_id, j->role, csr, err);
	if (j->cert == NULL)
		return -1;
	j->root_pem = xstrdup(cl->root_ca_cert_pem);
	return 0;
}

static void handle_request(struct join_srv *j, const void *buf, size_t len)
{
	Swarmd__JoinRequest *rq;
	Swarmd__Cluster *cl = NULL;
	struct sw_err err;

	sw_err_clear(&err);
	rq = join_request_decode(buf, len, &err);
	if (rq == NULL)
		goto fail;
	cl = swarm_cluster(j->s, NULL);
	if (cl == NULL || !swarm_is_manager(j->s)) {
		sw_err_set(&err, SW_EUNAVAILABLE,
			   "this manager is not ready to admit nodes");
		goto fail;
	}
	if (join_token_role(rq->token, cl, &j->role, &err) != 0)
		goto fail;
	id_new_swarm(j->node_id);
	j->raft_id = j->role == CA_ROLE_MANAGER ? swarm_new_raft_id() : 0;
	if (sign(j, cl, rq->csr_pem, &err) != 0 || write_node(j, rq, &err) != 0)
		goto fail;
	swarmd__cluster__free_unpacked(cl, NULL);
	swarmd__join_request__free_unpacked(rq, NULL);
	return;
fail:
	if (cl != NULL)
		swarmd__cluster__free_unpacked(cl, NULL);
	if (rq != NULL)
		swarmd__join_request__free_unpacked(rq, NULL);
	srv_fail(j, &err);
}

static void srv_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct join_srv *j = transport_conn_data(c);

	if (j->answered || j->pending)
		return; /* one request per connection */
	handle_request(j, p, len);
}

static void srv_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct join_srv *j = transport_conn_data(c);

	j->gone = true;
	if (!j->pending)
		srv_free(j);
}

static const struct transport_conn_ops srv_ops = {
    .frame = srv_frame,
    .closed = srv_closed,
};

void join_serve(struct swarm *s, struct transport_conn *c)
{
	struct join_srv *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->c = c;
	transport_conn_set_ops(c, &srv_ops, j);
}

/* ---- joiner side ----------------------------------------------------------
 */

struct join_client {
	struct transport *t;
	char **remotes;
	size_t n_remotes, next;
	void *req;
	size_t req_len;
	struct transport_dial_req dial;
	struct transport_conn *c;
	join_cb cb;
	void *data;
	bool done;
	struct sw_err last;
};

static void client_free(struct join_client *j)
{
	for (size_t i = 0; i < j->n_remotes; i++)
		free(j->remotes[i]);
	free(j->remotes);
	free(j->req);
	free(j);
}

static void try_next(struct join_client *j);

static void client_finish(struct join_client *j, int status,
			  const Swarmd__JoinResponse *resp,
			  const struct ca_root *root, const struct sw_err *err)
{
	j->done = true;
	j->cb(j->data, status, resp, root, err);
}

static void client_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct join_client *j = transport_conn_data(c);
	Swarmd__JoinResponse *resp;
	struct sw_err err;

	if (j->done)
		return;
	resp = join_response_decode(p, len, &err);
	if (resp == NULL) {
		j->last = err;
	} else if (resp->error_kind != 0) {
		sw_err_set(&err, (enum sw_errkind)resp->error_kind, "%s",
			   resp->error);
		err.status = resp->error_status;
		client_finish(j, -(int)err.kind, NULL, NULL, &err);
	} else {
		const struct ca_root *root = transport_conn_pinned_root(c);

		if (root == NULL ||
		    strcmp(ca_root_cert_pem(root), resp->root_ca_pem) != 0) {
			sw_err_set(&err, SW_ESYSTEM,
				   "the manager answered with another root CA");
			client_finish(j, -SW_ESYSTEM, NULL, NULL, &err);
		} else {
			client_finish(j, 0, resp, root, NULL);
		}
	}
	if (resp != NULL)
		swarmd__join_response__free_unpacked(resp, NULL);
	transport_conn_close(c);
}

static void client_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct join_client *j = transport_conn_data(c);

	j->c = NULL;
	if (!j->done) {
		if (err != NULL)
			j->last = *err;
		else if (j->last.kind == SW_EOK)
			sw_err_set(&j->last, SW_EUNAVAILABLE,
				   "the manager closed the join connection");
		try_next(j);
		return;
	}
	client_free(j);
}

static const struct transport_conn_ops client_ops = {
    .frame = client_frame,
    .closed = client_closed,
};

/* A root that does not match the token will not match elsewhere either. */
static bool fatal_dial_error(const struct sw_err *err)
{
	return strstr(err->msg, "does not match fingerprint") != NULL;
}

static void on_dialed(struct transport_dial_req *req, struct transport_conn *c,
		      int status, const struct sw_err *err)
{
	struct join_client *j = req->data;
	struct sw_err e;

	if (status != 0) {
		j->last = *err;
		if (fatal_dial_error(err))
			j->next = j->n_remotes;
		try_next(j);
		return;
	}
	j->c = c;
	transport_conn_set_ops(c, &client_ops, j);
	if (transport_conn_send(c, j->req, j->req_len, &e) != 0) {
		j->last = e;
		transport_conn_close(c);
	}
}

static void try_next(struct join_client *j)
{
	struct sw_err err;

	while (j->next < j->n_remotes) {
		const char *addr = j->remotes[j->next++];

		j->dial.data = j;
		if (transport_dial(j->t, &j->dial, addr, TRANSPORT_JOIN,
				   on_dialed, &err) == 0)
			return;
		j->last = err;
	}
	if (j->last.kind == SW_EOK)
		sw_err_set(&j->last, SW_EUNAVAILABLE, "no manager to join");
	client_finish(j, -(int)j->last.kind, NULL, NULL, &j->last);
	client_free(j);
}

int join_start(struct transport *t, char **remotes, size_t n_remotes,
	       const Swarmd__JoinRequest *req, join_cb cb, void *data,
	       struct sw_err *err)
{
	struct join_client *j;

	if (n_remotes == 0)
		return sw_err_set(err, SW_EINVALID,
				  "at least 1 RemoteAddr is required to join");
	j = xcalloc(1, sizeof(*j));
	j->t = t;
	j->remotes = xcalloc(n_remotes, sizeof(char *));
	for (size_t i = 0; i < n_remotes; i++)
		j->remotes[i] = xstrdup(remotes[i]);
	j->n_remotes = n_remotes;
	j->req = join_pack(&req->base, &j->req_len);
	j->cb = cb;
	j->data = data;
	sw_err_clear(&j->last);
	j->dial.data = j;
	if (transport_dial(t, &j->dial, remotes[0], TRANSPORT_JOIN, on_dialed,
			   err) != 0) {
		client_free(j);
		return -1;
	}
	j->next = 1;
	return 0;
}

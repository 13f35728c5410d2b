#include "orchestrator/dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"
#include "orchestrator/agent.h"
#include "orchestrator/channels.pb-c.h"
#include "orchestrator/join.h"
#include "orchestrator/services.h"
#include "orchestrator/store.h"
#include "orchestrator/taskstatus.h"

struct dsession {
	struct dispatcher *d;
	struct transport_conn *c;
	char node_id[CA_ID_MAX + 1];
	bool registered;
	bool wants_tasks;
	bool gone;
	int pending; /* report writes in flight */
	struct dsession *next;
	struct dsession *node_next; /* the node's other registered sessions */
};

/* What the leader knows of a node's liveness. */
struct dnode {
	char id[CA_ID_MAX + 1];
	uint64_t deadline; /* uv_now() after which it is down */
	bool writing;      /* a state change is in flight */
	struct dsession *sessions; /* registered, through node_next */
};

struct dispatcher {
	uv_loop_t *loop;
	struct swarm *s;
	struct store_watcher watcher;
	bool watching;
	uv_timer_t timer;
	bool timer_closed;
	bool leader;
	bool stopping;
	int writes; /* node state writes in flight */
	struct report_batch *gathering; /* reports for the next proposal */
	bool committing;                /* a report proposal is in flight */
	struct dsession *sessions;
	struct dnode *nodes;
	size_t n_nodes;
	struct strmap *node_index; /* node ID -> index in nodes */
};

static uint64_t period_ms(struct dispatcher *d)
{
	Swarmd__Cluster *cl = swarm_cluster(d->s, NULL);
	int64_t ns = cl ? cl->heartbeat_period_ns : 0;

	swarmd__cluster__free_unpacked(cl, NULL);
	return ns > 0 ? (uint64_t)(ns / 1000000) : DISPATCHER_PERIOD_DEFAULT_MS;
}

static uint64_t grace_ms(struct dispatcher *d)
{
	return period_ms(d) * DISPATCHER_GRACE_MULTIPLIER;
}

static void maybe_free(struct dispatcher *d)
{
	if (!d->stopping || !d->timer_closed || d->writes > 0 ||
	    d->committing)
		return;
	if (d->sessions != NULL)
		return;
	free(d->nodes);
	strmap_free(d->node_index);
	free(d);
}

/* ---- node liveness ----------------------------------------------------------
 */

/* Found by hash: every heartbeat of every node looks its node up. */
static struct dnode *dnode_get(struct dispatcher *d, const char *id)
{
	const int64_t *i = strmap_find(d->node_index, id);

	if (i != NULL)
		return &d->nodes[*i];
	*strmap_slot(d->node_index, id) = (int64_t)d->n_nodes;
	d->nodes = xrealloc(d->nodes, (d->n_nodes + 1) * sizeof(*d->nodes));
	memset(&d->nodes[d->n_nodes], 0, sizeof(*d->nodes));
	snprintf(d->nodes[d->n_nodes].id, sizeof(d->nodes->id), "%s", id);
	return &d->nodes[d->n_nodes++];
}

struct state_write {
	struct dispatcher *d;
	char id[CA_ID_MAX + 1];
};

static void on_state_written(void *data, int status, const struct sw_err *err)
{
	struct state_write *w = data;
	struct dispatcher *d = w->d;

	d->writes--;
	if (!d->stopping)
		dnode_get(d, w->id)->writing = false;
	if (status != 0 && !d->stopping)
		log_debug("dispatcher: node %s status not written: %s", w->id,
			  err->msg);
	free(w);
	maybe_free(d);
}

static bool node_state_is(struct dispatcher *d, const char *id,
			  const char *state)
{
	const struct store_record *rec =
	    store_get(swarm_store(d->s), OBJ_NODE, id);
	Swarmd__Node *n = rec ? swarm_node_unpack(rec) : NULL;
	bool is = n != NULL && strcmp(n->state, state) == 0;

	swarmd__node__free_unpacked(n, NULL);
	return is;
}

/* Writes the node's Status.State (and Message) unless it already says so. */
static void set_node_state(struct dispatcher *d, const char *id,
			   const char *state, const char *message)
{
	const struct store_record *rec =
	    store_get(swarm_store(d->s), OBJ_NODE, id);
	Swarmd__Node *n = rec ? swarm_node_unpack(rec) : NULL;
	struct dnode *dn = dnode_get(d, id);
	struct state_write *w;
	char *old_state, *old_msg;
	struct change c;
	struct sw_err err;

	if (n == NULL || dn->writing ||
	    (strcmp(n->state, state) == 0 &&
	     strcmp(n->message, message) == 0)) {
		swarmd__node__free_unpacked(n, NULL);
		return;
	}
	log_info("dispatcher: node %s is %s%s%s", id, state,
		 message[0] ? ": " : "", message);
	old_state = n->state;
	old_msg = n->message;
	n->state = (char *)state;
	n->message = (char *)message;
	change_init(&c, timefmt_now_ns());
	swarm_put(&c, CHANGE_UPDATE, OBJ_NODE, rec->id, NULL, &n->base,
		  rec->version);
	n->state = old_state;
	n->message = old_msg;
	swarmd__node__free_unpacked(n, NULL);
	w = xcalloc(1, sizeof(*w));
	w->d = d;
	snprintf(w->id, sizeof(w->id), "%s", id);
	dn->writing = true;
	d->writes++;
	if (swarm_propose(d->s, &c, on_state_written, w, &err) != 0) {
		dn->writing = false;
		d->writes--;
		free(w);
	}
	change_free(&c);
}

static void check_deadlines(uv_timer_t *t)
{
	struct dispatcher *d = t->data;
	uint64_t now = uv_now(d->loop);

	if (!d->leader || d->stopping)
		return;
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct dnode *dn = &d->nodes[i];

		if (strcmp(dn->id, swarm_node_id(d->s)) != 0 &&
		    dn->deadline != 0 && now > dn->deadline)
			set_node_state(d, dn->id, "down",
				       node_state_is(d, dn->id, "unknown")
					   ? "heartbeat failure for node in "
					     "\"unknown\" state"
					   : "heartbeat failure");
	}
}

/* A new leader does not know who is alive: as SwarmKit, every other node
 * not already down turns "unknown" and gets twice the grace to register
 * again, so a failover reschedules nothing (unknown nodes take no new
 * tasks and keep theirs). */
static void arm_all(struct dispatcher *d)
{
	uint64_t deadline = uv_now(d->loop) + 2 * grace_ms(d);
	const char *self = swarm_node_id(d->s);

	for (const struct store_record *r =
		 store_first(swarm_store(d->s), OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		struct dnode *dn = dnode_get(d, r->id);

		dn->deadline = deadline;
		dn->writing = false;
		if (strcmp(r->id, self) != 0 &&
		    !node_state_is(d, r->id, "down"))
			set_node_state(d, r->id, "unknown",
				       "Node moved to \"unknown\" state due "
				       "to leadership change in cluster");
	}
	set_node_state(d, self, "ready", "");
}

/* ---- sending
 * ----------------------------------------------------------------- */

static void send_frame(struct dsession *ss, const Swarmd__DispatchFrame *f)
{
	size_t len = protobuf_c_message_get_packed_size(&f->base);
	void *buf = xmalloc(len ? len : 1);
	struct sw_err err;

	protobuf_c_message_pack(&f->base, buf);
	if (!ss->gone && !ss->d->stopping &&
	    transport_conn_send(ss->c, buf, len, &err) != 0) {
		log_warn("dispatcher: session of %s: %s", ss->node_id, err.msg);
		transport_conn_close(ss->c);
	}
	free(buf);
}

/* The managers, for a node's list of where to go. */
static void send_info(struct dsession *ss, const char *redirect,
		      const char *error)
{
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	Swarmd__SessionInfo info = SWARMD__SESSION_INFO__INIT;
	const struct store *st = swarm_store(ss->d->s);
	size_t cap = st ? store_count(st, OBJ_NODE) : 0, n = 0;
	Swarmd__ManagerPeer *peers = xcalloc(cap + 1, sizeof(*peers));
	Swarmd__ManagerPeer **ptrs = xcalloc(cap + 1, sizeof(*ptrs));
	Swarmd__Node **keep = xcalloc(cap + 1, sizeof(*keep));
	const struct store_record *self = NULL;

	for (const struct store_record *r = st ? store_first(st, OBJ_NODE)
					       : NULL;
	     r != NULL && n < cap; r = store_next(r)) {
		Swarmd__Node *node = swarm_node_unpack(r);

		if (strcmp(r->id, ss->node_id) == 0)
			self = r;
		if (node == NULL || !node->manager ||
		    node->manager_addr[0] == '\0') {
			swarmd__node__free_unpacked(node, NULL);
			continue;
		}
		swarmd__manager_peer__init(&peers[n]);
		peers[n].node_id = (char *)r->id;
		peers[n].raft_id = node->raft_id;
		peers[n].addr = node->manager_addr;
		ptrs[n] = &peers[n];
		keep[n++] = node;
	}
	info.redirect = (char *)(redirect ? redirect : "");
	info.error = (char *)(error ? error : "");
	info.heartbeat_period_ms = (int64_t)period_ms(ss->d);
	info.managers = ptrs;
	info.n_managers = n;
	if (self != NULL) {
		Swarmd__Node *me = swarm_node_unpack(self);

		info.role = me ? xstrdup(me->role) : xstrdup("");
		info.raft_id = me ? me->raft_id : 0;
		swarmd__node__free_unpacked(me, NULL);
	} else {
		info.role = xstrdup("");
	}
	f.info = &info;
	send_frame(ss, &f);
	free(info.role);
	for (size_t i = 0; i < n; i++)
		swarmd__node__free_unpacked(keep[i], NULL);
	free(keep);
	free(ptrs);
	free(peers);
}

struct batch {
	Swarmd__Assignments a;
	Swarmd__TaskRecord *recs;
	Swarmd__TaskRecord **ptrs;
	char **removed;
	size_t cap;
};

static void batch_init(struct batch *b, size_t cap, bool full)
{
	swarmd__assignments__init(&b->a);
	b->a.full = full;
	b->cap = cap;
	b->recs = xcalloc(cap + 1, sizeof(*b->recs));
	b->ptrs = xcalloc(cap + 1, sizeof(*b->ptrs));
	b->removed = xcalloc(cap + 1, sizeof(*b->removed));
	b->a.upsert = b->ptrs;
	b->a.remove = b->removed;
}

static void batch_put(struct batch *b, const struct store_record *r)
{
	Swarmd__TaskRecord *tr = &b->recs[b->a.n_upsert];

	swarmd__task_record__init(tr);
	tr->id = (char *)r->id;
	tr->payload.data = (uint8_t *)r->payload;
	tr->payload.len = r->payload_len;
	b->ptrs[b->a.n_upsert++] = tr;
}

static void batch_send(struct dsession *ss, struct batch *b)
{
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;

	if (b->a.full || b->a.n_upsert > 0 || b->a.n_remove > 0) {
		f.assignments = &b->a;
		send_frame(ss, &f);
	}
	free(b->recs);
	free(b->ptrs);
	free(b->removed);
}

/* The task events of a batch grouped by node, decoded once for all
 * sessions: refs[first[k] .. first[k + 1]) are the events of the k-th
 * touched node nodes[k] (k found by touched): an upsert when the task is
 * on that node now, a removal when it left it. A commit then costs each
 * touched node its own events only; merged status reports (PATCH ops)
 * touch no node. */
struct ev_ref {
	size_t ev;
	bool put;
};

struct event_nodes {
	char **cur; /* node IDs after / before event i, NULL when none */
	char **old;
	size_t n;
	struct strmap *touched; /* node ID -> k */
	const char **nodes;
	size_t n_nodes;
	size_t *first;
	struct ev_ref *refs;
};

static char *node_of_record(const struct store_record *r)
{
	struct task_peek pk;

	return r != NULL && tasks_peek(r, &pk) ? xstrndup(pk.node, pk.node_len)
					       : NULL;
}

static size_t touch(struct event_nodes *en, const char *id)
{
	int64_t *k = strmap_slot(en->touched, id);

	if (*k == 0) {
		en->nodes[en->n_nodes++] = id;
		*k = (int64_t)en->n_nodes;
	}
	return (size_t)*k - 1;
}

/* The node each ref goes to, in event order; then a counting sort. */
static void group_refs(struct event_nodes *en, const size_t *node_of_ref,
		       const struct ev_ref *refs, size_t n_refs)
{
	size_t *fill = xcalloc(en->n_nodes + 1, sizeof(*fill));

	en->first = xcalloc(en->n_nodes + 1, sizeof(*en->first));
	en->refs = xcalloc(n_refs + 1, sizeof(*en->refs));
	for (size_t r = 0; r < n_refs; r++)
		en->first[node_of_ref[r] + 1]++;
	for (size_t k = 0; k < en->n_nodes; k++)
		en->first[k + 1] += en->first[k];
	for (size_t r = 0; r < n_refs; r++) {
		size_t k = node_of_ref[r];

		en->refs[en->first[k] + fill[k]++] = refs[r];
	}
	free(fill);
}

static void event_nodes_init(struct event_nodes *en,
			     const struct store_event *evs, size_t n)
{
	size_t *node_of_ref = xcalloc(2 * n + 1, sizeof(*node_of_ref));
	struct ev_ref *refs = xcalloc(2 * n + 1, sizeof(*refs));
	size_t n_refs = 0;

	memset(en, 0, sizeof(*en));
	en->n = n;
	en->cur = xcalloc(n + 1, sizeof(*en->cur));
	en->old = xcalloc(n + 1, sizeof(*en->old));
	en->nodes = xcalloc(2 * n + 1, sizeof(*en->nodes));
	en->touched = strmap_new();
	for (size_t i = 0; i < n; i++) {
		/* A merged status report changed nothing its node does not
		 * know already (it sent it): as SwarmKit's dispatcher, which
		 * skips updates equal but for the status, it is not echoed. */
		if (evs[i].kind != OBJ_TASK || evs[i].patched)
			continue;
		en->cur[i] = node_of_record(evs[i].cur);
		en->old[i] = node_of_record(evs[i].old);
		if (en->cur[i] != NULL) {
			node_of_ref[n_refs] = touch(en, en->cur[i]);
			refs[n_refs++] = (struct ev_ref){i, true};
		}
		if (en->old[i] != NULL &&
		    (en->cur[i] == NULL || strcmp(en->cur[i], en->old[i]) != 0)) {
			node_of_ref[n_refs] = touch(en, en->old[i]);
			refs[n_refs++] = (struct ev_ref){i, false};
		}
	}
	group_refs(en, node_of_ref, refs, n_refs);
	free(node_of_ref);
	free(refs);
}

static void event_nodes_free(struct event_nodes *en)
{
	for (size_t i = 0; i < en->n; i++) {
		free(en->cur[i]);
		free(en->old[i]);
	}
	free(en->cur);
	free(en->old);
	free(en->nodes);
	free(en->first);
	free(en->refs);
	strmap_free(en->touched);
}

static void send_all_tasks(struct dsession *ss)
{
	const struct store *st = swarm_store(ss->d->s);
	struct batch b;

	batch_init(&b, store_count(st, OBJ_TASK), true);
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r))
		if (tasks_on_node(r, ss->node_id))
			batch_put(&b, r);
	batch_send(ss, &b);
}

static void send_task_events(struct dsession *ss, const struct store_event *evs,
			     const struct event_nodes *en)
{
	const int64_t *k = strmap_find(en->touched, ss->node_id);
	size_t b0, b1;
	struct batch b;

	if (k == NULL)
		return;
	b0 = en->first[*k - 1];
	b1 = en->first[*k];
	batch_init(&b, b1 - b0, false);
	for (size_t r = b0; r < b1; r++) {
		const struct store_event *e = &evs[en->refs[r].ev];

		if (en->refs[r].put)
			batch_put(&b, e->cur);
		else
			b.removed[b.a.n_remove++] = (char *)e->id;
	}
	batch_send(ss, &b);
}

/* ---- sessions
 * ------------------------------------------------------------------ */

static void unlink_node_session(struct dispatcher *d, struct dsession *ss)
{
	struct dsession **p = &dnode_get(d, ss->node_id)->sessions;

	for (; *p != NULL; p = &(*p)->node_next)
		if (*p == ss) {
			*p = ss->node_next;
			break;
		}
}

/* Forgets a closed session once no write of its is in flight. */
static void session_release(struct dsession *ss)
{
	struct dispatcher *d = ss->d;

	if (!ss->gone || ss->pending > 0)
		return;
	if (ss->registered)
		unlink_node_session(d, ss);
	for (struct dsession **p = &d->sessions; *p != NULL; p = &(*p)->next)
		if (*p == ss) {
			*p = ss->next;
			break;
		}
	free(ss);
}

static void close_session(struct dsession *ss)
{
	if (!ss->gone)
		transport_conn_close(ss->c);
}

/* Status reports of every session are gathered into one proposal while
 * the previous one commits (group commit): a burst of reports from many
 * nodes costs a few raft entries, not one per node. Each report is acked
 * once the entry holding it is applied. */
struct report_waiter {
	struct dsession *ss;
	uint64_t seq;
};

struct report_batch {
	struct dispatcher *d;
	struct change c;
	struct report_waiter *w;
	size_t n_w;
	size_t cap_w;
};

static void send_ack(struct dsession *ss, uint64_t seq,
		     const struct sw_err *err)
{
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	Swarmd__StatusAck ack = SWARMD__STATUS_ACK__INIT;

	ack.seq = seq;
	if (err != NULL) {
		ack.error_kind = (int32_t)err->kind;
		ack.error = (char *)err->msg;
	}
	f.ack = &ack;
	if (!ss->gone)
		send_frame(ss, &f);
}

/* Acks every report of b (err NULL: written) and frees b. */
static void batch_done(struct report_batch *b, const struct sw_err *err)
{
	for (size_t i = 0; i < b->n_w; i++) {
		struct dsession *ss = b->w[i].ss;

		ss->pending--;
		send_ack(ss, b->w[i].seq, err);
		session_release(ss);
	}
	change_free(&b->c);
	free(b->w);
	free(b);
}

static void propose_gathered(struct dispatcher *d);

static void on_batch_written(void *data, int status, const struct sw_err *err)
{
	struct report_batch *b = data;
	struct dispatcher *d = b->d;

	d->committing = false;
	batch_done(b, status != 0 ? err : NULL);
	if (d->stopping && d->gathering != NULL) {
		struct sw_err why;

		sw_err_set(&why, SW_EUNAVAILABLE, "the dispatcher is stopping");
		batch_done(d->gathering, &why);
		d->gathering = NULL;
	}
	propose_gathered(d);
	maybe_free(d);
}

static void propose_gathered(struct dispatcher *d)
{
	struct report_batch *b = d->gathering;
	struct sw_err err;

	if (b == NULL || d->committing)
		return;
	d->gathering = NULL;
	d->committing = true;
	if (swarm_propose(d->s, &b->c, on_batch_written, b, &err) != 0) {
		d->committing = false;
		batch_done(b, &err);
	}
}

static void gather(struct dsession *ss, uint64_t seq,
		   const struct agent_report *r, size_t n)
{
	struct dispatcher *d = ss->d;
	struct report_batch *b = d->gathering;

	if (b == NULL) {
		b = d->gathering = xcalloc(1, sizeof(*b));
		b->d = d;
		change_init(&b->c, timefmt_now_ns());
	}
	taskstatus_patch(&b->c, ss->node_id, r, n);
	if (b->n_w == b->cap_w) {
		b->cap_w = b->cap_w ? 2 * b->cap_w : 16;
		b->w = xrealloc(b->w, b->cap_w * sizeof(*b->w));
	}
	b->w[b->n_w++] = (struct report_waiter){ss, seq};
	ss->pending++;
}

static void handle_report(struct dsession *ss, const Swarmd__StatusReport *m)
{
	struct agent_report *r = xcalloc(m->n_statuses + 1, sizeof(*r));

	for (size_t i = 0; i < m->n_statuses; i++) {
		const Swarmd__TaskStatus *ts = m->statuses[i];

		snprintf(r[i].id, sizeof(r[i].id), "%s", ts->id);
		r[i].state = ts->state;
		snprintf(r[i].message, sizeof(r[i].message), "%s", ts->message);
		snprintf(r[i].err, sizeof(r[i].err), "%s", ts->err);
		r[i].has_container = ts->has_container;
		snprintf(r[i].container_id, sizeof(r[i].container_id), "%s",
			 ts->container_id);
		r[i].pid = ts->pid;
		r[i].exit_code = ts->exit_code;
	}
	if (m->n_statuses == 0) {
		send_ack(ss, m->seq, NULL);
	} else {
		gather(ss, m->seq, r, m->n_statuses);
		propose_gathered(ss->d);
	}
	free(r);
}

/* A certificate for the role the node's record now holds. */
static void handle_renew(struct dsession *ss, const char *csr)
{
	const struct store_record *rec =
	    store_get(swarm_store(ss->d->s), OBJ_NODE, ss->node_id);
	Swarmd__Node *n = rec ? swarm_node_unpack(rec) : NULL;
	Swarmd__DispatchFrame f = SWARMD__DISPATCH_FRAME__INIT;
	struct sw_err err;
	char *cert = NULL;

	sw_err_clear(&err);
	if (n == NULL)
		sw_err_set(&err, SW_ENOTFOUND, "node %s not found",
			   ss->node_id);
	else
		cert = join_issue_cert(ss->d->s, ss->node_id,
				       strcmp(n->role, "manager") == 0
					   ? CA_ROLE_MANAGER
					   : CA_ROLE_WORKER,
				       csr, &err);
	swarmd__node__free_unpacked(n, NULL);
	if (cert != NULL) {
		log_info("dispatcher: issued a new certificate to node %s",
			 ss->node_id);
		f.renewed_cert = cert;
	} else {
		f.renew_error = err.msg;
	}
	send_frame(ss, &f);
	free(cert);
}

static void handle_open(struct dsession *ss, const Swarmd__SessionOpen *m)
{
	struct dispatcher *d = ss->d;
	struct dnode *dn;
	const char *leader;

	if (!d->leader) {
		leader = swarm_leader_addr(d->s);
		if (leader != NULL && leader[0] != '\0')
			send_info(ss, leader, NULL);
		else
			send_info(ss, NULL, "the swarm has no leader yet");
		transport_conn_shutdown(ss->c);
		return;
	}
	if (store_get(swarm_store(d->s), OBJ_NODE, ss->node_id) == NULL) {
		send_info(ss, NULL, "node not found in the swarm");
		transport_conn_shutdown(ss->c);
		return;
	}
	ss->registered = true;
	ss->wants_tasks = m->wants_tasks;
	dn = dnode_get(d, ss->node_id);
	dn->deadline = uv_now(d->loop) + grace_ms(d);
	ss->node_next = dn->sessions;
	dn->sessions = ss;
	log_debug("dispatcher: session of node %s from %s", ss->node_id,
		  transport_conn_remote(ss->c));
	send_info(ss, NULL, NULL);
	if (ss->wants_tasks)
		send_all_tasks(ss);
	set_node_state(d, ss->node_id, "ready", "");
}

static void sess_frame(struct transport_conn *c, const void *p, size_t len)
{
	struct dsession *ss = transport_conn_data(c);
	struct dispatcher *d = ss->d;
	Swarmd__DispatchFrame *f;

	if (ss->gone || d->stopping)
		return;
	f = swarmd__dispatch_frame__unpack(NULL, len, p);
	if (f == NULL) {
		transport_conn_close(c);
		return;
	}
	if (f->open != NULL && !ss->registered) {
		handle_open(ss, f->open);
	} else if (ss->registered && d->leader) {
		dnode_get(d, ss->node_id)->deadline =
		    uv_now(d->loop) + grace_ms(d);
		if (f->heartbeat)
			set_node_state(d, ss->node_id, "ready", "");
		if (f->report != NULL)
			handle_report(ss, f->report);
		if (f->renew_csr[0] != '\0')
			handle_renew(ss, f->renew_csr);
	}
	swarmd__dispatch_frame__free_unpacked(f, NULL);
}

static void sess_closed(struct transport_conn *c, const struct sw_err *err)
{
	struct dsession *ss = transport_conn_data(c);
	struct dispatcher *d = ss->d;

	ss->gone = true;
	if (ss->registered && !d->stopping)
		log_debug("dispatcher: session of node %s ended%s%s",
			  ss->node_id, err ? ": " : "", err ? err->msg : "");
	session_release(ss);
	maybe_free(d);
}

static const struct transport_conn_ops sess_ops = {
    .frame = sess_frame,
    .closed = sess_closed,
};

void dispatcher_serve(struct dispatcher *d, struct transport_conn *c)
{
	struct dsession *ss = xcalloc(1, sizeof(*ss));
	const struct ca_identity *peer = transport_conn_peer(c);

	ss->d = d;
	ss->c = c;
	snprintf(ss->node_id, sizeof(ss->node_id), "%s",
		 peer ? peer->node_id : "");
	ss->next = d->sessions;
	d->sessions = ss;
	transport_conn_set_ops(c, &sess_ops, ss);
	if (d->stopping || peer == NULL)
		transport_conn_close(c);
}

/* ---- store events
 * ---------------------------------------------------------------- */

static bool manager_event(const struct store_event *e)
{
	Swarmd__Node *o = e->old ? swarm_node_unpack(e->old) : NULL;
	Swarmd__Node *n = e->cur ? swarm_node_unpack(e->cur) : NULL;
	bool changed = (o && o->manager) != (n && n->manager) ||
		       (o && n &&
			(strcmp(o->manager_addr, n->manager_addr) != 0 ||
			 strcmp(o->role, n->role) != 0));

	swarmd__node__free_unpacked(o, NULL);
	swarmd__node__free_unpacked(n, NULL);
	return changed;
}

/* Session info (and tasks) to every session: the managers or the cluster
 * changed, or the store was replaced. */
static void send_to_all(struct dispatcher *d, bool reset,
			const struct store_event *evs,
			const struct event_nodes *en)
{
	for (struct dsession *ss = d->sessions; ss != NULL; ss = ss->next) {
		if (ss->gone || !ss->registered)
			continue;
		send_info(ss, NULL, NULL);
		if (!ss->wants_tasks)
			continue;
		if (reset)
			send_all_tasks(ss);
		else
			send_task_events(ss, evs, en);
	}
}

/* Task events to the sessions of the nodes they touch only: a commit
 * costs its own nodes, not every connected one. */
static void send_to_touched(struct dispatcher *d, const struct store_event *evs,
			    const struct event_nodes *en)
{
	for (size_t i = 0; i < en->n_nodes; i++) {
		const int64_t *k = strmap_find(d->node_index, en->nodes[i]);

		for (struct dsession *ss = k ? d->nodes[*k].sessions : NULL;
		     ss != NULL; ss = ss->node_next)
			if (!ss->gone && ss->wants_tasks)
				send_task_events(ss, evs, en);
	}
}

static void on_store_event(struct store_watcher *w, uint64_t index, bool reset,
			   const struct store_event *evs, size_t n)
{
	struct dispatcher *d = w->data;
	struct event_nodes en;
	bool infos = reset;

	if (!d->leader || d->stopping)
		return;
	for (size_t i = 0; i < n; i++) {
		if (evs[i].kind == OBJ_CLUSTER) {
			infos = true;
		} else if (evs[i].kind == OBJ_NODE) {
			if (evs[i].type == STORE_EVENT_CREATE)
				dnode_get(d, evs[i].id)->deadline =
				    uv_now(d->loop) + 2 * grace_ms(d);
			if (manager_event(&evs[i]))
				infos = true;
			if (evs[i].type == STORE_EVENT_DELETE)
				for (struct dsession *ss = d->sessions;
				     ss != NULL; ss = ss->next)
					if (strcmp(ss->node_id, evs[i].id) == 0)
						close_session(ss);
		}
	}
	event_nodes_init(&en, evs, reset ? 0 : n);
	if (infos)
		send_to_all(d, reset, evs, &en);
	else
		send_to_touched(d, evs, &en);
	event_nodes_free(&en);
}

/* ---- lifecycle
 * --------------------------------------------------------------------- */

struct dispatcher *dispatcher_new(uv_loop_t *loop, struct swarm *s)
{
	struct dispatcher *d = xcalloc(1, sizeof(*d));

	d->loop = loop;
	d->s = s;
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	d->node_index = strmap_new();
	d->watcher.data = d;
	store_watch((struct store *)swarm_store(s), &d->watcher,
		    on_store_event);
	d->watching = true;
	return d;
}

void dispatcher_set_leader(struct dispatcher *d, bool leader)
{
	uint64_t tick;

	if (d->stopping || d->leader == leader)
		return;
	d->leader = leader;
	if (!leader) {
		uv_timer_stop(&d->timer);
		for (struct dsession *ss = d->sessions; ss != NULL;
		     ss = ss->next)
			close_session(ss);
		return;
	}
	arm_all(d);
	tick = period_ms(d) / 2;
	if (tick > 1000)
		tick = 1000;
	if (tick < 100)
		tick = 100;
	uv_timer_start(&d->timer, check_deadlines, tick, tick);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct dispatcher *d = h->data;

	d->timer_closed = true;
	maybe_free(d);
}

void dispatcher_free(struct dispatcher *d)
{
	d->stopping = true;
	d->leader = false;
	if (d->watching)
		store_unwatch((struct store *)swarm_store(d->s), &d->watcher);
	d->watching = false;
	for (struct dsession *ss = d->sessions; ss != NULL; ss = ss->next)
		close_session(ss);
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

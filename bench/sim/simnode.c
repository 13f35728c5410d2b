#include "bench/sim/simnode.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "orchestrator/ca.h"
#include "orchestrator/executor_sim.h"
#include "orchestrator/join.h"
#include "orchestrator/objects.pb-c.h"
#include "orchestrator/session.h"
#include "orchestrator/task.h"
#include "orchestrator/tokens.h"

/* The agent's flush interval and retry delay (orchestrator/agent.c). */
enum { FLUSH_MS = 10, RETRY_MS = 200 };

/* One task this node runs. While a call is in flight the executor holds
 * req, so a task the manager removed stays until its callback (gone). */
struct simtask {
	struct simtask *next;
	struct simnode *n;
	char id[32];
	struct exec_req req;
	bool busy;
	bool want_stop; /* desired state is past RUNNING */
	bool stopped;
	bool gone; /* no longer assigned: free after the call */
	bool seen; /* in the current full assignment set */
};

/* One pending status report, coalesced per task. */
struct simreport {
	struct simreport *next;
	struct agent_report r;
};

struct simnode {
	uv_loop_t *loop;
	char *token, *manager, *hostname, *advertise;
	unsigned start_delay_ms;
	struct sim_stats *stats;
	simnode_joined_cb cb;
	void *cb_data;

	struct transport *t;
	struct ca_keypair *kp;
	struct session *sess;
	struct executor *ex;
	struct simtask *tasks;
	struct simreport *pending, *in_flight;
	uint64_t seq;
	uv_timer_t flush;
	bool joining, stopping;
	int closing; /* handles and objects still closing */
};

/* ---- reports ----------------------------------------------------------- */

static void on_flush(uv_timer_t *h);

static void kick(struct simnode *n, uint64_t ms)
{
	if (!n->stopping && !uv_is_active((uv_handle_t *)&n->flush))
		uv_timer_start(&n->flush, on_flush, ms, 0);
}

/* Queues a report, replacing an older one for the same task: only the
 * newest state of a task travels, as in the agent. */
static void report(struct simnode *n, const char *id,
		   const struct exec_status *st, int state)
{
	struct simreport *p = n->pending;

	while (p != NULL && strcmp(p->r.id, id) != 0)
		p = p->next;
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->next = n->pending;
		n->pending = p;
	} else if (p->r.state > state) {
		return;
	}
	snprintf(p->r.id, sizeof(p->r.id), "%s", id);
	p->r.state = state;
	snprintf(p->r.message, sizeof(p->r.message), "%s", st->message);
	snprintf(p->r.err, sizeof(p->r.err), "%s", st->err);
	if (st->container_id[0] != '\0') {
		p->r.has_container = true;
		snprintf(p->r.container_id, sizeof(p->r.container_id), "%s",
			 st->container_id);
	}
	p->r.pid = st->pid;
	p->r.exit_code = st->exit_code;
	kick(n, FLUSH_MS);
}

static void free_reports(struct simreport *r)
{
	while (r != NULL) {
		struct simreport *next = r->next;

		free(r);
		r = next;
	}
}

/* Puts the unacknowledged batch back under newer pending reports. */
static void requeue(struct simnode *n)
{
	struct simreport *r = n->in_flight, *next;

	n->in_flight = NULL;
	for (; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		struct simreport *p = n->pending;

		while (p != NULL && strcmp(p->r.id, r->r.id) != 0)
			p = p->next;
		if (p != NULL) {
			free(r);
			continue;
		}
		r->next = n->pending;
		n->pending = r;
	}
}

static void on_flush(uv_timer_t *h)
{
	struct simnode *n = h->data;
	struct agent_report *batch;
	struct sw_err err;
	size_t count = 0, i = 0;

	if (n->in_flight != NULL || n->pending == NULL || n->sess == NULL ||
	    !session_is_up(n->sess))
		return; /* the ack, or the session coming up, kicks again */
	for (struct simreport *r = n->pending; r != NULL; r = r->next)
		count++;
	batch = xcalloc(count, sizeof(*batch));
	for (struct simreport *r = n->pending; r != NULL; r = r->next)
		batch[i++] = r->r;
	n->in_flight = n->pending;
	n->pending = NULL;
	if (session_report(n->sess, ++n->seq, batch, count, &err) != 0) {
		requeue(n);
		kick(n, RETRY_MS);
	} else {
		n->stats->reports_sent++;
	}
	free(batch);
}

static void count_acked(struct simnode *n)
{
	int64_t now = timefmt_now_ns();

	for (struct simreport *r = n->in_flight; r != NULL; r = r->next) {
		if (r->r.state != TASK_RUNNING)
			continue;
		n->stats->running++;
		n->stats->last_running_ns = now;
	}
}

static void sess_ack(void *data, uint64_t seq, int status,
		     const struct sw_err *err)
{
	struct simnode *n = data;

	if (seq != n->seq || n->in_flight == NULL)
		return;
	if (status == 0) {
		count_acked(n);
		free_reports(n->in_flight);
		n->in_flight = NULL;
		kick(n, FLUSH_MS);
		return;
	}
	/* Lost a race with the manager: the agent sends again from the
	 * newer state; here the newest state is still ours to send. */
	n->stats->reports_failed++;
	requeue(n);
	kick(n, RETRY_MS);
}

/* ---- tasks ------------------------------------------------------------- */

static struct simtask *task_find(struct simnode *n, const char *id)
{
	struct simtask *t = n->tasks;

	while (t != NULL && strcmp(t->id, id) != 0)
		t = t->next;
	return t;
}

static void task_free(struct simtask *t)
{
	struct simnode *n = t->n;

	for (struct simtask **p = &n->tasks; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	free(t);
}

static void task_call_done(struct simtask *t);

static int task_state_of(enum exec_state st)
{
	static const int map[] = {
	    [EXEC_PREPARING] = TASK_PREPARING, [EXEC_READY] = TASK_READY,
	    [EXEC_STARTING] = TASK_STARTING,   [EXEC_RUNNING] = TASK_RUNNING,
	    [EXEC_COMPLETE] = TASK_COMPLETE,   [EXEC_SHUTDOWN] = TASK_SHUTDOWN,
	    [EXEC_FAILED] = TASK_FAILED,       [EXEC_REJECTED] = TASK_REJECTED,
	};

	return st >= EXEC_PREPARING && st <= EXEC_REJECTED ? map[st]
							    : TASK_FAILED;
}

static void on_removed(struct exec_req *req, int status)
{
	struct simtask *t = req->data;

	t->busy = false;
	t->gone = true;
	task_call_done(t);
}

static void on_stopped(struct exec_req *req, int status)
{
	struct simtask *t = req->data;
	struct simnode *n = t->n;
	struct sw_err err;

	t->busy = false;
	if (status == 0) {
		report(n, t->id, &req->status, task_state_of(req->status.state));
		n->stats->stopped++;
	}
	t->stopped = true;
	if (!n->stopping &&
	    executor_remove(n->ex, &t->req, t->id, on_removed, &err) == 0) {
		t->busy = true;
		return;
	}
	task_call_done(t);
}

static void on_started(struct exec_req *req, int status)
{
	struct simtask *t = req->data;

	t->busy = false;
	if (status == 0)
		report(t->n, t->id, &req->status,
		       task_state_of(req->status.state));
	task_call_done(t);
}

static void on_prepared(struct exec_req *req, int status)
{
	struct simtask *t = req->data;
	struct simnode *n = t->n;
	struct sw_err err;

	t->busy = false;
	if (status == 0 && req->status.state == EXEC_READY && !t->want_stop &&
	    !n->stopping &&
	    executor_start(n->ex, &t->req, t->id, on_started, &err) == 0) {
		t->busy = true;
		return;
	}
	if (status == 0 && req->status.state != EXEC_READY)
		report(n, t->id, &req->status,
		       task_state_of(req->status.state));
	task_call_done(t);
}

/* After each call: act on what changed while it was in flight. */
static void task_call_done(struct simtask *t)
{
	struct simnode *n = t->n;
	struct sw_err err;

	if (t->busy)
		return;
	if (t->want_stop && !t->stopped && !n->stopping &&
	    executor_stop(n->ex, &t->req, t->id, 0, false, on_stopped, &err) == 0) {
		t->busy = true;
		return;
	}
	if (t->gone || n->stopping)
		task_free(t);
}

static void task_run(struct simnode *n, const char *id,
		     const Swarmd__Task *spec)
{
	struct simtask *t = xcalloc(1, sizeof(*t));
	struct exec_task et = {
	    .task_id = id,
	    .service_id = spec->service_id,
	    .service_name = spec->service_name[0] ? spec->service_name : "sim",
	    .node_id = spec->node_id,
	    .slot = spec->slot,
	    .image = spec->spec && spec->spec->image[0] ? spec->spec->image
							: "sim",
	};
	struct exec_status accepted = {.message = "accepted"};
	struct sw_err err;
	int64_t now = timefmt_now_ns();

	t->n = n;
	t->req.data = t;
	t->seen = true;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->next = n->tasks;
	n->tasks = t;
	n->stats->assigned++;
	if (n->stats->first_assign_ns == 0)
		n->stats->first_assign_ns = now;
	n->stats->last_assign_ns = now;
	report(n, id, &accepted, TASK_ACCEPTED);
	if (executor_prepare(n->ex, &t->req, &et, on_prepared, &err) == 0)
		t->busy = true;
	else
		log_warn("sim: %s: %s", id, err.msg);
}

static void task_update(struct simnode *n, const Swarmd__TaskRecord *rec)
{
	Swarmd__Task *spec = swarmd__task__unpack(NULL, rec->payload.len,
						  rec->payload.data);
	struct simtask *t;

	if (spec == NULL)
		return;
	t = task_find(n, rec->id);
	if (t == NULL && spec->desired_state <= TASK_RUNNING &&
	    spec->state < TASK_RUNNING)
		task_run(n, rec->id, spec);
	if (t != NULL) {
		t->seen = true;
		if (spec->desired_state > TASK_RUNNING && !t->want_stop) {
			t->want_stop = true;
			task_call_done(t);
		}
	}
	swarmd__task__free_unpacked(spec, NULL);
}

/* A task the manager no longer sends: stop it, then forget it. */
static void task_drop(struct simtask *t)
{
	t->gone = true;
	t->want_stop = true;
	task_call_done(t);
}

static void sess_assignments(void *data, const Swarmd__Assignments *a)
{
	struct simnode *n = data;

	if (a->full)
		for (struct simtask *t = n->tasks; t != NULL; t = t->next)
			t->seen = false;
	for (size_t i = 0; i < a->n_upsert; i++)
		task_update(n, a->upsert[i]);
	for (size_t i = 0; i < a->n_remove; i++) {
		struct simtask *t = task_find(n, a->remove[i]);

		if (t != NULL)
			task_drop(t);
	}
	for (struct simtask *t = n->tasks, *next; a->full && t; t = next) {
		next = t->next;
		if (!t->seen)
			task_drop(t);
	}
}

/* ---- the session ------------------------------------------------------- */

static const char *sess_leader_hint(void *data)
{
	return NULL; /* a worker: the managers it was given, in turn */
}

static void sess_info(void *data, const Swarmd__SessionInfo *info)
{
	struct simnode *n = data;

	kick(n, FLUSH_MS);
}

static void sess_down(void *data)
{
	struct simnode *n = data;

	requeue(n);
}

static void sess_renewed(void *data, const char *cert, const char *error)
{
	/* Never asked: a benchmark run is shorter than a certificate. */
}

static const struct session_ops sess_ops = {
    .leader_hint = sess_leader_hint,
    .info = sess_info,
    .assignments = sess_assignments,
    .ack = sess_ack,
    .down = sess_down,
    .renewed = sess_renewed,
};

/* ---- joining ----------------------------------------------------------- */

/* Presents the issued certificate from now on and opens the session. */
static int adopt(struct simnode *n, const Swarmd__JoinResponse *resp,
		 const struct ca_root *root, struct sw_err *err)
{
	struct exec_sim_config ecfg = {.start_ms = n->start_delay_ms};
	struct tls_ctx *tls;
	char **addrs;

	if (ca_keypair_set_cert(n->kp, resp->cert_pem, err) != 0 ||
	    ca_root_verify(root, ca_keypair_cert(n->kp), time(NULL), err) != 0)
		return -1;
	tls = tls_ctx_new(root, n->kp, err);
	if (tls == NULL)
		return -1;
	transport_set_tls(n->t, tls);
	tls_ctx_unref(tls);
	n->ex = executor_sim_new(n->loop, &ecfg, err);
	if (n->ex == NULL)
		return -1;
	n->sess = session_new(n->loop, n->t, true, &sess_ops, n);
	addrs = xcalloc(resp->n_managers + 1, sizeof(*addrs));
	for (size_t i = 0; i < resp->n_managers; i++)
		addrs[i] = resp->managers[i]->addr;
	session_set_managers(n->sess, addrs, resp->n_managers);
	free(addrs);
	return 0;
}

static void on_join_answer(void *data, int status,
			   const Swarmd__JoinResponse *resp,
			   const struct ca_root *root, const struct sw_err *err)
{
	struct simnode *n = data;
	struct sw_err e;

	n->joining = false;
	if (n->stopping)
		return;
	if (status == 0 && adopt(n, resp, root, &e) != 0) {
		status = -(int)e.kind;
		err = &e;
	}
	if (status == 0)
		n->stats->joined++;
	else
		n->stats->join_failed++;
	n->cb(n, status, err, n->cb_data);
}

static int join(struct simnode *n, struct sw_err *err)
{
	Swarmd__JoinRequest rq = SWARMD__JOIN_REQUEST__INIT;
	struct tokens_join tok;
	struct tls_ctx *ctx;

	if (tokens_join_parse(n->token, &tok, err) != 0)
		return -1;
	ctx = tls_ctx_new_pinned(tok.root_digest, err);
	OPENSSL_cleanse(&tok, sizeof(tok));
	if (ctx == NULL)
		return -1;
	n->t = transport_init(n->loop, ctx, err);
	tls_ctx_unref(ctx);
	if (n->t == NULL)
		return -1;
	n->kp = ca_keypair_new(err);
	if (n->kp == NULL)
		return -1;
	rq.token = n->token;
	rq.csr_pem = (char *)ca_keypair_csr_pem(n->kp);
	rq.advertise_addr = n->advertise;
	rq.availability = "active";
	rq.hostname = n->hostname;
	rq.os = "linux";
	rq.architecture = "x86_64";
	rq.nano_cpus = 2000000000;
	rq.memory_bytes = (int64_t)4 << 30;
	rq.engine_version = "swarmd-sim";
	if (join_start(n->t, &n->manager, 1, &rq, on_join_answer, n, err) != 0)
		return -1;
	n->joining = true;
	return 0;
}

/* ---- life -------------------------------------------------------------- */

static void node_free(struct simnode *n)
{
	/* The executor is closed: no call is in flight any more. */
	while (n->tasks != NULL)
		task_free(n->tasks);
	free_reports(n->pending);
	free_reports(n->in_flight);
	ca_keypair_free(n->kp);
	free(n->token);
	free(n->manager);
	free(n->hostname);
	free(n->advertise);
	free(n);
}

static void closed_one(struct simnode *n)
{
	if (--n->closing == 0)
		node_free(n);
}

static void on_flush_closed(uv_handle_t *h)
{
	closed_one(h->data);
}

static void on_ex_closed(void *data)
{
	closed_one(data);
}

static void on_t_closed(void *data)
{
	closed_one(data);
}

struct simnode *simnode_start(uv_loop_t *loop, const struct simnode_config *cfg,
			      simnode_joined_cb cb, void *data,
			      struct sw_err *err)
{
	struct simnode *n = xcalloc(1, sizeof(*n));

	n->loop = loop;
	n->token = xstrdup(cfg->token);
	n->manager = xstrdup(cfg->manager);
	n->hostname = xstrdup(cfg->hostname);
	n->advertise = xstrdup(cfg->advertise_addr);
	n->start_delay_ms = cfg->start_delay_ms;
	n->stats = cfg->stats;
	n->cb = cb;
	n->cb_data = data;
	uv_timer_init(loop, &n->flush);
	n->flush.data = n;
	if (join(n, err) != 0) {
		n->stopping = true;
		simnode_stop(n);
		return NULL;
	}
	return n;
}

void simnode_stop(struct simnode *n)
{
	n->stopping = true;
	n->closing = 1; /* the flush timer */
	uv_close((uv_handle_t *)&n->flush, on_flush_closed);
	if (n->sess != NULL) {
		session_free(n->sess);
		n->sess = NULL;
	}
	if (n->ex != NULL) {
		n->closing++;
		executor_close(n->ex, on_ex_closed, n);
		n->ex = NULL;
	}
	if (n->t != NULL) {
		n->closing++;
		transport_close(n->t, on_t_closed, n);
		n->t = NULL;
	}
}

bool simnode_is_up(const struct simnode *n)
{
	return n->sess != NULL && session_is_up(n->sess);
}

#include "orchestrator/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"
#include "orchestrator/health.h"
#include "orchestrator/services.h"

enum { FLUSH_MS = 10, RETRY_MS = 200 };

/* What the agent knows locally about one task. */
struct atask {
	char id[32];
	struct agent *a;
	struct exec_req req;
	bool busy;      /* an executor call is in flight */
	bool prepared;  /* the container exists */
	bool remove_pending; /* deleted from the store while busy */
	/* A task with a healthcheck stays STARTING until its first healthy
	 * probe, as SwarmKit's container controller waits for it. */
	struct health_monitor *health;
	struct exec_status started; /* reported as RUNNING once healthy */
	bool ran;       /* reported RUNNING */
	bool unhealthy; /* being stopped because it turned unhealthy */
	/* An end was reported (stopped, exited, failed): nothing left to
	 * stop, even while the store still says RUNNING because the report
	 * is on its way. */
	bool ended;
	struct atask *next;
};

/* A status to write for a task; newer reports replace older ones. */
struct report {
	struct agent_report s;
	struct report *next;
};

struct agent {
	uv_loop_t *loop;
	struct swarm *s;
	struct executor *ex;
	char node_id[32];
	struct store_watcher watcher;
	uv_timer_t timer;
	struct atask *tasks;
	struct report *reports;
	struct exec_req list_req;
	bool listed;
	bool listing;
	bool in_flight;
	bool stopping;
	bool timer_closed;
	bool ex_closed;
	int removals; /* removals in flight while wiping */
	struct exec_req wipe_req;
	void (*removed)(void *data, const char *node_id);
	void *removed_data;
	agent_report_fn sink;
	void *sink_data;
	struct strmap *mine; /* IDs of the store's tasks on this node */
};

static void kick(struct agent *a, uint64_t ms);
static void remove_task(struct agent *a, struct atask *t);

/* Ends an executor call. A task deleted from the store while the call was
 * in flight is removed now; returns true when that removal took over. */
static bool call_done(struct atask *t)
{
	t->busy = false;
	if (!t->remove_pending || t->a->stopping)
		return false;
	remove_task(t->a, t);
	return true;
}

/* ---- local task table ------------------------------------------------- */

static struct atask *find(struct agent *a, const char *id)
{
	for (struct atask *t = a->tasks; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

static struct atask *get(struct agent *a, const char *id)
{
	struct atask *t = find(a, id);

	if (t != NULL)
		return t;
	t = xcalloc(1, sizeof(*t));
	/* Task IDs are 25 characters; the precision tells GCC so. */
	snprintf(t->id, sizeof(t->id), "%.*s", (int)sizeof(t->id) - 1, id);
	t->a = a;
	t->req.data = t;
	t->next = a->tasks;
	a->tasks = t;
	return t;
}

static void forget(struct agent *a, struct atask *dead)
{
	for (struct atask **p = &a->tasks; *p != NULL; p = &(*p)->next)
		if (*p == dead) {
			*p = dead->next;
			health_monitor_free(dead->health);
			free(dead);
			return;
		}
}

/* ---- reports ---------------------------------------------------------- */

static struct report *find_report(struct agent *a, const char *id)
{
	for (struct report *r = a->reports; r != NULL; r = r->next)
		if (strcmp(r->s.id, id) == 0)
			return r;
	return NULL;
}

static struct report *report_for(struct agent *a, const char *id)
{
	struct report *r = find_report(a, id);

	if (r != NULL)
		return r;
	r = xcalloc(1, sizeof(*r));
	snprintf(r->s.id, sizeof(r->s.id), "%s", id);
	r->next = a->reports;
	a->reports = r;
	return r;
}

static void report(struct agent *a, const char *id, int state,
		   const char *message, const char *err)
{
	struct report *r = report_for(a, id);
	struct atask *t = find(a, id);

	if (state < r->s.state)
		return;
	if (task_state_terminal(state) && t != NULL) {
		t->ended = true;
		if (t->health != NULL)
			health_monitor_stop(t->health);
	}
	r->s.state = state;
	snprintf(r->s.message, sizeof(r->s.message), "%s", message);
	snprintf(r->s.err, sizeof(r->s.err), "%s", err ? err : "");
	kick(a, FLUSH_MS);
}

static void report_status(struct agent *a, const char *id, int state,
			  const struct exec_status *st)
{
	struct report *r;

	report(a, id, state, st->message[0] ? st->message : "", st->err);
	r = report_for(a, id);
	if (st->container_id[0] != '\0') {
		r->s.has_container = true;
		snprintf(r->s.container_id, sizeof(r->s.container_id), "%s",
			 st->container_id);
	}
	r->s.pid = st->pid;
	r->s.exit_code = st->exit_code;
}

static int task_state_of(enum exec_state st)
{
	switch (st) {
	case EXEC_PREPARING:
		return TASK_PREPARING;
	case EXEC_READY:
		return TASK_READY;
	case EXEC_STARTING:
		return TASK_STARTING;
	case EXEC_RUNNING:
		return TASK_RUNNING;
	case EXEC_COMPLETE:
		return TASK_COMPLETE;
	case EXEC_SHUTDOWN:
		return TASK_SHUTDOWN;
	case EXEC_FAILED:
		return TASK_FAILED;
	case EXEC_REJECTED:
		return TASK_REJECTED;
	}
	return TASK_FAILED;
}

/* Docker's wording for an exit seen by the agent. */
static void report_exit(struct agent *a, const char *id,
			const struct exec_status *st)
{
	struct exec_status copy = *st;

	if (copy.state == EXEC_COMPLETE) {
		snprintf(copy.message, sizeof(copy.message), "finished");
	} else if (copy.state == EXEC_FAILED && copy.err[0] == '\0') {
		snprintf(copy.message, sizeof(copy.message), "started");
		snprintf(copy.err, sizeof(copy.err),
			 "task: non-zero exit (%d)", copy.exit_code);
	}
	report_status(a, id, task_state_of(copy.state), &copy);
}

/* ---- writing reports -------------------------------------------------- */

int agent_apply_reports(struct swarm *s, const char *node_id,
			const struct agent_report *r, size_t n, swarm_cb cb,
			void *data, struct sw_err *err)
{
	struct change c;
	int rc;

	if (n == 0)
		return 1;
	change_init(&c, timefmt_now_ns());
	taskstatus_patch(&c, node_id, r, n);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
}

static void free_reports(struct report *r)
{
	while (r != NULL) {
		struct report *next = r->next;

		free(r);
		r = next;
	}
}

static void maybe_free(struct agent *a)
{
	if (!a->stopping || !a->timer_closed || !a->ex_closed ||
	    a->in_flight || a->listing)
		return;
	while (a->tasks != NULL)
		forget(a, a->tasks);
	free_reports(a->reports);
	strmap_free(a->mine);
	free(a);
}

struct flush {
	struct agent *a;
	struct report *sent;
};

/* Puts back a report whose write failed, unless a newer one is pending. */
static void requeue(struct agent *a, struct report *r)
{
	struct report *cur = find_report(a, r->s.id);

	if (cur == NULL) {
		r->next = a->reports;
		a->reports = r;
		return;
	}
	if (cur->s.state < r->s.state) {
		struct report *keep = cur->next;

		*cur = *r;
		cur->next = keep;
	}
	free(r);
}

static void on_flushed(void *data, int status, const struct sw_err *err)
{
	struct flush *f = data;
	struct agent *a = f->a;

	a->in_flight = false;
	if (status != 0 && !a->stopping) {
		/* Lost a race with the manager: send again from the new
		 * state. */
		log_debug("agent: status not written: %s", err->msg);
		for (struct report *r = f->sent, *next; r != NULL; r = next) {
			next = r->next;
			requeue(a, r);
		}
		kick(a, RETRY_MS);
	} else {
		free_reports(f->sent);
	}
	free(f);
	maybe_free(a);
}

/* Writes every pending report in one change (or hands them to the sink). */
static void flush(struct agent *a)
{
	struct agent_report *pub;
	struct flush *f;
	struct sw_err err;
	size_t n = 0;
	int rc;

	if (a->in_flight || a->reports == NULL)
		return;
	f = xcalloc(1, sizeof(*f));
	f->a = a;
	f->sent = a->reports;
	a->reports = NULL;
	for (struct report *r = f->sent; r != NULL; r = r->next)
		n++;
	pub = xcalloc(n, sizeof(*pub));
	n = 0;
	for (struct report *r = f->sent; r != NULL; r = r->next)
		pub[n++] = r->s;
	a->in_flight = true;
	if (a->sink != NULL)
		rc = a->sink(a->sink_data, pub, n, on_flushed, f, &err);
	else
		rc = agent_apply_reports(a->s, a->node_id, pub, n, on_flushed,
					 f, &err);
	free(pub);
	if (rc == 1) {
		a->in_flight = false;
		free_reports(f->sent);
		free(f);
	} else if (rc != 0) {
		a->in_flight = false;
		for (struct report *r = f->sent, *next; r != NULL; r = next) {
			next = r->next;
			requeue(a, r);
		}
		free(f);
		kick(a, RETRY_MS);
	}
}

/* ---- driving the executor --------------------------------------------- */

/* The exec_task view of a stored task; arrays point into t or into the
 * two scratch arrays the caller frees. */
/* Bind and tmpfs mounts go to the runtime; volumes are stored only (see
 * docs/status.md). */
static struct exec_mount *binds_of(const Swarmd__TaskSpec *s, size_t *n)
{
	struct exec_mount *m = xcalloc(s->n_mounts + 1, sizeof(*m));

	*n = 0;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const Swarmd__Mount *sm = s->mounts[i];
		bool tmpfs = strcmp(sm->type, "tmpfs") == 0;

		if (!tmpfs && strcmp(sm->type, "bind") != 0)
			continue;
		m[(*n)++] = (struct exec_mount){tmpfs ? NULL : sm->source,
						sm->target, sm->read_only,
						tmpfs, sm->size_bytes};
	}
	return m;
}

/* Docker refuses a bind mount whose source is missing on the node (the
 * runtime would create it). */
static bool binds_exist(const struct exec_task *x, char *err, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < x->n_mounts; i++)
		if (!x->mounts[i].tmpfs && stat(x->mounts[i].source, &st) != 0) {
			snprintf(err, n,
				 "invalid mount config for type \"bind\": bind "
				 "source path does not exist: %s",
				 x->mounts[i].source);
			return false;
		}
	return true;
}

static void exec_task_of(const char *id, const Swarmd__Task *t,
			 struct exec_task *x, struct exec_kv **kv,
			 struct exec_port **ports, struct exec_mount **mounts)
{
	const Swarmd__TaskSpec *s = t->spec;

	memset(x, 0, sizeof(*x));
	x->task_id = id;
	x->service_id = t->service_id;
	x->service_name = t->service_name;
	x->node_id = t->node_id;
	x->slot = t->slot;
	x->stop_grace_ns = -1;
	*kv = xcalloc(s->n_labels + s->n_sysctls + 1, sizeof(**kv));
	*ports = xcalloc(s->n_ports + 1, sizeof(**ports));
	x->image = s->image;
	x->command = (const char *const *)s->command;
	x->n_command = s->n_command;
	x->args = (const char *const *)s->args;
	x->n_args = s->n_args;
	x->env = (const char *const *)s->env;
	x->n_env = s->n_env;
	x->workdir = s->dir;
	x->user = s->user;
	x->hostname = s->hostname;
	x->tty = s->tty;
	x->open_stdin = s->open_stdin;
	x->read_only = s->read_only;
	for (size_t i = 0; i < s->n_labels; i++)
		(*kv)[i] = (struct exec_kv){s->labels[i]->key,
					    s->labels[i]->value};
	x->labels = *kv;
	x->n_labels = s->n_labels;
	x->stop_grace_ns = s->stop_grace_ns;
	x->stop_signal = s->stop_signal;
	x->nano_cpus = s->nano_cpus;
	x->memory_bytes = s->memory_bytes;
	x->pids_limit = s->pids_limit;
	x->cap_add = (const char *const *)s->cap_add;
	x->n_cap_add = s->n_cap_add;
	x->cap_drop = (const char *const *)s->cap_drop;
	x->n_cap_drop = s->n_cap_drop;
	x->privileged = s->privileged;
	for (size_t i = 0; i < s->n_sysctls; i++)
		(*kv)[s->n_labels + i] = (struct exec_kv){
			s->sysctls[i]->key, s->sysctls[i]->value};
	x->sysctls = *kv + s->n_labels;
	x->n_sysctls = s->n_sysctls;
	x->extra_hosts = (const char *const *)s->hosts;
	x->n_extra_hosts = s->n_hosts;
	x->dns_servers = (const char *const *)s->dns_servers;
	x->n_dns_servers = s->n_dns_servers;
	x->dns_search = (const char *const *)s->dns_search;
	x->n_dns_search = s->n_dns_search;
	x->dns_options = (const char *const *)s->dns_options;
	x->n_dns_options = s->n_dns_options;
	x->host_network = s->host_network;
	/* Without the ingress data plane, every published port is bound on
	 * the node running the task (docs/status.md). */
	for (size_t i = 0; i < s->n_ports; i++)
		(*ports)[i] = (struct exec_port){
			strcmp(s->ports[i]->protocol, "udp") == 0
				? EXEC_PROTO_UDP
				: strcmp(s->ports[i]->protocol, "sctp") == 0
					  ? EXEC_PROTO_SCTP
					  : EXEC_PROTO_TCP,
			(uint16_t)s->ports[i]->target,
			(uint16_t)s->ports[i]->published};
	x->ports = *ports;
	x->n_ports = s->n_ports;
	*mounts = binds_of(s, &x->n_mounts);
	x->mounts = *mounts;
}

/* ---- healthchecks ------------------------------------------------------ */

/* SwarmKit's controller error for a container stopped as unhealthy, after
 * the exit code: "task: non-zero exit (137): dockerexec: unhealthy
 * container". An unhealthy container that still exits 0 completes. */
static void report_unhealthy(struct agent *a, struct atask *t,
			     const struct exec_status *st)
{
	struct exec_status copy = *st;

	if (copy.exit_code == 0) {
		copy.state = EXEC_COMPLETE;
		report_exit(a, t->id, &copy);
		return;
	}
	snprintf(copy.message, sizeof(copy.message), "%s",
		 t->ran ? "started" : "starting");
	snprintf(copy.err, sizeof(copy.err),
		 "task: non-zero exit (%d): dockerexec: unhealthy container",
		 copy.exit_code);
	report_status(a, t->id, TASK_FAILED, &copy);
}

static void stop_task(struct agent *a, struct atask *t, bool removing);

static void on_health(void *data, const char *task_id,
		      enum health_status status)
{
	struct agent *a = data;
	struct atask *t = find(a, task_id);

	if (a->stopping || t == NULL)
		return;
	if (status == HEALTH_HEALTHY && !t->ran) {
		t->ran = true;
		report_status(a, t->id, TASK_RUNNING, &t->started);
	} else if (status == HEALTH_UNHEALTHY && !t->unhealthy) {
		/* A stop already in flight ends the task anyway. */
		health_monitor_stop(t->health);
		if (t->busy)
			return;
		t->unhealthy = true;
		stop_task(a, t, false);
	}
}

/* Starts probing a task that runs, when its spec has a healthcheck.
 * False when it has none. */
static bool watch_health(struct agent *a, struct atask *t,
			 const struct exec_status *st)
{
	const struct store_record *rec =
		store_get(swarm_store(a->s), OBJ_TASK, t->id);
	Swarmd__Task *task = rec ? tasks_unpack(rec) : NULL;
	int64_t since = st->started_at > 0 ? st->started_at : timefmt_now_ns();

	if (task != NULL && task->spec != NULL && t->health == NULL)
		t->health = health_monitor_start(a->loop, a->ex, t->id,
						 task->spec, since, on_health,
						 a);
	swarmd__task__free_unpacked(task, NULL);
	if (t->health == NULL)
		return false;
	t->started = *st;
	snprintf(t->started.message, sizeof(t->started.message), "started");
	return true;
}

const struct health_state *agent_health(struct agent *a,
					const char *container_id)
{
	for (struct atask *t = a != NULL ? a->tasks : NULL; t != NULL;
	     t = t->next)
		if (t->health != NULL &&
		    strcmp(t->started.container_id, container_id) == 0)
			return health_monitor_state(t->health);
	return NULL;
}

static void stop_health(struct agent *a)
{
	for (struct atask *t = a->tasks; t != NULL; t = t->next)
		if (t->health != NULL)
			health_monitor_stop(t->health);
}

/* ---- running tasks ------------------------------------------------------- */

static void on_started(struct exec_req *req, int status)
{
	struct atask *t = req->data;
	struct agent *a = t->a;

	if (call_done(t)) {
		kick(a, FLUSH_MS);
		return;
	}
	if (status == 0 && req->status.state == EXEC_RUNNING &&
	    watch_health(a, t, &req->status)) {
		/* Still "starting", now with its container. */
		snprintf(req->status.message, sizeof(req->status.message),
			 "starting");
		report_status(a, t->id, TASK_STARTING, &req->status);
	} else if (status == 0) {
		t->ran = req->status.state == EXEC_RUNNING;
		report_status(a, t->id, task_state_of(req->status.state),
			      &req->status);
	} else if (!a->stopping)
		log_warn("agent: starting task %s: %s", t->id, req->err.msg);
	kick(a, FLUSH_MS);
}

static void start_task(struct agent *a, struct atask *t)
{
	struct sw_err err;

	t->busy = true;
	report(a, t->id, TASK_STARTING, "starting", NULL);
	if (executor_start(a->ex, &t->req, t->id, on_started, &err) != 0) {
		t->busy = false;
		log_warn("agent: starting task %s: %s", t->id, err.msg);
	}
}

static void on_prepared(struct exec_req *req, int status)
{
	struct atask *t = req->data;
	struct agent *a = t->a;

	if (call_done(t)) {
		kick(a, FLUSH_MS);
		return;
	}
	if (status != 0) {
		if (!a->stopping)
			log_warn("agent: preparing task %s: %s", t->id,
				 req->err.msg);
		kick(a, RETRY_MS);
		return;
	}
	t->prepared = true;
	if (req->status.state == EXEC_REJECTED) {
		snprintf(req->status.message, sizeof(req->status.message),
			 "preparing");
		report_status(a, t->id, TASK_REJECTED, &req->status);
	} else if (req->status.state == EXEC_READY) {
		report(a, t->id, TASK_READY, "prepared", NULL);
	} else {
		report_exit(a, t->id, &req->status);
	}
	kick(a, 0);
}

static void prepare_task(struct agent *a, struct atask *t,
			 const Swarmd__Task *task)
{
	struct exec_task x;
	struct exec_kv *kv;
	struct exec_port *ports;
	struct exec_mount *mounts;
	struct sw_err err;
	char why[512];

	exec_task_of(t->id, task, &x, &kv, &ports, &mounts);
	if (!binds_exist(&x, why, sizeof(why))) {
		report(a, t->id, TASK_REJECTED, "preparing", why);
	} else {
		t->busy = true;
		report(a, t->id, TASK_PREPARING, "preparing", NULL);
		if (executor_prepare(a->ex, &t->req, &x, on_prepared, &err) !=
		    0) {
			t->busy = false;
			log_warn("agent: preparing task %s: %s", t->id,
				 err.msg);
		}
	}
	free(kv);
	free(ports);
	free(mounts);
}

static void on_stopped(struct exec_req *req, int status)
{
	struct atask *t = req->data;
	struct agent *a = t->a;

	if (call_done(t)) {
		kick(a, FLUSH_MS);
		return;
	}
	if (status == 0 && t->unhealthy) {
		report_unhealthy(a, t, &req->status);
	} else if (status == 0) {
		req->status.state = EXEC_SHUTDOWN;
		snprintf(req->status.message, sizeof(req->status.message),
			 "shutdown");
		req->status.err[0] = '\0';
		report_status(a, t->id, TASK_SHUTDOWN, &req->status);
	}
	kick(a, FLUSH_MS);
}

/* removing: the task's record goes once it is stopped (its service is
 * gone), so the removal that follows releases what it ran in. */
static void stop_task(struct agent *a, struct atask *t, bool removing)
{
	struct sw_err err;

	t->busy = true;
	if (executor_stop(a->ex, &t->req, t->id, -1, removing, on_stopped,
			  &err) != 0) {
		t->busy = false;
		log_warn("agent: stopping task %s: %s", t->id, err.msg);
	}
}

static void on_removed(struct exec_req *req, int status)
{
	struct atask *t = req->data;
	struct agent *a = t->a;

	t->busy = false;
	if (a->stopping)
		return;
	if (status != 0) {
		/* Left for the next pass to retry: a container must not leak. */
		log_warn("agent: removing task %s: %s", t->id, req->err.msg);
		t->remove_pending = true;
		kick(a, RETRY_MS);
		return;
	}
	forget(a, t);
}

static void remove_task(struct agent *a, struct atask *t)
{
	struct sw_err err;

	if (t->busy) {
		/* Stop or prepare in flight: its callback removes. */
		t->remove_pending = true;
		return;
	}
	t->remove_pending = false;
	t->busy = true;
	if (executor_remove(a->ex, &t->req, t->id, on_removed, &err) != 0) {
		t->busy = false;
		t->remove_pending = true;
		log_warn("agent: removing task %s: %s", t->id, err.msg);
		kick(a, RETRY_MS);
	}
}

/* ---- the pass over this node's tasks ----------------------------------- */

static int effective_state(struct agent *a, const char *id,
			   const Swarmd__Task *t)
{
	const struct report *r = find_report(a, id);

	return r != NULL && r->s.state > t->state ? r->s.state : t->state;
}

static void drive_unwanted(struct agent *a, const char *id, int state,
			   int desired)
{
	struct atask *at = find(a, id);

	if (task_state_terminal(state) ||
	    (at != NULL && (at->busy || at->ended)))
		return;
	if (state < TASK_ACCEPTED || (at == NULL && state < TASK_PREPARING)) {
		report(a, id, TASK_SHUTDOWN, "shutdown", NULL);
		return;
	}
	stop_task(a, at != NULL ? at : get(a, id), desired == TASK_REMOVE);
}

static void drive(struct agent *a, const struct store_record *rec,
		  const Swarmd__Task *t)
{
	int state = effective_state(a, rec->id, t);
	struct atask *at;

	if (t->desired_state > TASK_RUNNING &&
	    t->desired_state != TASK_COMPLETE) {
		drive_unwanted(a, rec->id, state, t->desired_state);
		return;
	}
	if (task_state_terminal(state) || state < TASK_ASSIGNED)
		return;
	at = get(a, rec->id);
	if (at->busy)
		return;
	if (state == TASK_ASSIGNED) {
		report(a, rec->id, TASK_ACCEPTED, "accepted", NULL);
		prepare_task(a, at, t);
	} else if (!at->prepared && state < TASK_RUNNING) {
		prepare_task(a, at, t);
	} else if (at->prepared && state == TASK_READY &&
		   t->desired_state >= TASK_RUNNING) {
		/* Wanted only "ready": a delayed restart waits prepared. */
		start_task(a, at);
	}
}

static bool mine(const struct agent *a, const Swarmd__Task *t)
{
	return strcmp(t->node_id, a->node_id) == 0;
}

/* Removals that waited for a call in flight or failed before. */
static void retry_removals(struct agent *a)
{
	struct atask *t = a->tasks;

	while (t != NULL) {
		struct atask *next = t->next;

		if (t->remove_pending && !t->busy)
			remove_task(a, t);
		t = next;
	}
}

static void run_pass(struct agent *a)
{
	size_t n = strmap_count(a->mine), pos = 0, k = 0;
	char **ids = xcalloc(n + 1, sizeof(*ids));
	const char *id;

	retry_removals(a);
	/* Copied first: driving a task may change the set. */
	while ((id = strmap_next(a->mine, &pos, NULL)) != NULL && k < n)
		ids[k++] = xstrdup(id);
	for (size_t i = 0; i < k; i++) {
		const struct store_record *r =
		    store_get(swarm_store(a->s), OBJ_TASK, ids[i]);
		Swarmd__Task *t = r ? tasks_unpack(r) : NULL;

		if (t != NULL)
			drive(a, r, t);
		swarmd__task__free_unpacked(t, NULL);
		free(ids[i]);
	}
	free(ids);
	flush(a);
}

/* ---- restart: adopt what the runtime still holds ------------------------ */

static void adopt(struct agent *a, const struct exec_found *f)
{
	const struct store_record *rec =
		store_get(swarm_store(a->s), OBJ_TASK, f->task_id);
	Swarmd__Task *t = rec ? tasks_unpack(rec) : NULL;
	struct atask *at = get(a, f->task_id);

	at->prepared = true;
	if (t == NULL || !mine(a, t)) {
		remove_task(a, at);
	} else if (!task_state_terminal(t->state) &&
		   f->status.state >= EXEC_COMPLETE) {
		report_exit(a, f->task_id, &f->status);
	} else if (f->status.state == EXEC_RUNNING &&
		   watch_health(a, at, &f->status)) {
		/* Probing again; a task not yet healthy stays starting. */
		at->ran = t->state >= TASK_RUNNING;
	} else if (f->status.state == EXEC_RUNNING && t->state < TASK_RUNNING) {
		report_status(a, f->task_id, TASK_RUNNING, &f->status);
	}
	swarmd__task__free_unpacked(t, NULL);
}

/* Running tasks whose container is gone are failed, so they get
 * replaced. */
static void fail_vanished(struct agent *a)
{
	size_t pos = 0;
	const char *id;
	struct task_peek pk;

	while ((id = strmap_next(a->mine, &pos, NULL)) != NULL) {
		const struct store_record *r =
		    store_get(swarm_store(a->s), OBJ_TASK, id);

		if (r != NULL && tasks_peek(r, &pk) && find(a, id) == NULL &&
		    pk.state >= TASK_STARTING && !task_state_terminal(pk.state))
			report(a, id, TASK_FAILED, "started",
			       "task container vanished while swarmd was "
			       "down");
	}
}

static void on_listed(struct exec_req *req, int status)
{
	struct agent *a = req->data;

	a->listing = false;
	if (a->stopping) {
		maybe_free(a);
		return;
	}
	if (status != 0) {
		log_warn("agent: listing the runtime's tasks: %s",
			 req->err.msg);
		kick(a, 1000);
		return;
	}
	for (size_t i = 0; i < req->n_found; i++)
		adopt(a, &req->found[i]);
	fail_vanished(a);
	a->listed = true;
	log_info("agent: %zu task container(s) adopted", req->n_found);
	kick(a, 0);
}

static void list_runtime(struct agent *a)
{
	struct sw_err err;

	memset(&a->list_req, 0, sizeof(a->list_req));
	a->list_req.data = a;
	a->listing = true;
	if (executor_list(a->ex, &a->list_req, on_listed, &err) != 0) {
		a->listing = false;
		kick(a, 1000);
	}
}

/* ---- events, timer, lifecycle ------------------------------------------- */

static void on_timer(uv_timer_t *h)
{
	struct agent *a = h->data;

	if (a->stopping || a->listing)
		return;
	if (!a->listed)
		list_runtime(a);
	else
		run_pass(a);
}

static void kick(struct agent *a, uint64_t ms)
{
	if (a->stopping)
		return;
	if (ms == 0 || !uv_is_active((uv_handle_t *)&a->timer))
		uv_timer_start(&a->timer, on_timer, ms, 0);
}

/* The set of this node's tasks, so a pass visits them alone. */
static void find_mine(struct agent *a)
{
	strmap_free(a->mine);
	a->mine = strmap_new();
	for (const struct store_record *r =
		 store_first(swarm_store(a->s), OBJ_TASK);
	     r != NULL; r = store_next(r))
		if (tasks_on_node(r, a->node_id))
			*strmap_slot(a->mine, r->id) = 1;
}

static void track(struct agent *a, const struct store_event *e)
{
	if (e->cur != NULL && tasks_on_node(e->cur, a->node_id))
		*strmap_slot(a->mine, e->id) = 1;
	else
		strmap_remove(a->mine, e->id);
}

static void on_store_event(struct store_watcher *w, uint64_t index, bool reset,
			   const struct store_event *evs, size_t n)
{
	struct agent *a = w->data;

	if (reset)
		find_mine(a);
	for (size_t i = 0; i < n; i++) {
		if (evs[i].kind != OBJ_TASK)
			continue;
		if (evs[i].type == STORE_EVENT_DELETE &&
		    strmap_find(a->mine, evs[i].id) != NULL)
			remove_task(a, get(a, evs[i].id));
		track(a, &evs[i]);
	}
	kick(a, 0);
}

static void on_exec_event(void *data, const char *task_id,
			  const struct exec_status *st)
{
	report_exit(data, task_id, st);
}

struct agent *agent_start(uv_loop_t *loop, struct swarm *s,
			  agent_executor_factory factory, void *ctx,
			  const char *node_id)
{
	struct agent *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->s = s;
	snprintf(a->node_id, sizeof(a->node_id), "%s", node_id);
	a->ex = factory(ctx, node_id, on_exec_event, a);
	if (a->ex == NULL) {
		free(a);
		return NULL;
	}
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	find_mine(a);
	a->watcher.data = a;
	store_watch((struct store *)swarm_store(s), &a->watcher,
		    on_store_event);
	kick(a, 0);
	return a;
}

void agent_set_report_sink(struct agent *a, agent_report_fn fn, void *data)
{
	a->sink = fn;
	a->sink_data = data;
}

struct executor *agent_executor(struct agent *a)
{
	return a != NULL ? a->ex : NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct agent *a = h->data;

	a->timer_closed = true;
	maybe_free(a);
}

static void on_executor_closed(void *data)
{
	struct agent *a = data;

	a->ex_closed = true;
	maybe_free(a);
}

static void close_now(struct agent *a);

struct wipe_op {
	struct exec_req req;
	struct agent *a;
	uv_timer_t retry;
	char task_id[EXEC_ID_MAX];
	int tries;
};

enum { WIPE_RETRY_MS = 500, WIPE_TRIES = 60 };

static void wipe_one(struct wipe_op *w);

static void on_wipe_timer_closed(uv_handle_t *h)
{
	struct wipe_op *w = h->data;
	struct agent *a = w->a;

	free(w);
	if (--a->removals == 0)
		close_now(a);
}

static void wipe_done(struct wipe_op *w)
{
	uv_close((uv_handle_t *)&w->retry, on_wipe_timer_closed);
}

static void on_wiped_one(struct exec_req *req, int status)
{
	wipe_done(req->data);
}

static void on_wipe_retry(uv_timer_t *t)
{
	wipe_one(t->data);
}

/* Removes one task; a task whose stop is still running is retried (its
 * stop grace period may be long). */
static void wipe_one(struct wipe_op *w)
{
	struct sw_err err;
	int rc = executor_remove(w->a->ex, &w->req, w->task_id, on_wiped_one,
				 &err);

	if (rc == 0)
		return;
	if (rc == -SW_ECONFLICT && ++w->tries < WIPE_TRIES) {
		uv_timer_start(&w->retry, on_wipe_retry, WIPE_RETRY_MS, 0);
		return;
	}
	log_warn("agent: leaving task %s behind: %s", w->task_id, err.msg);
	wipe_done(w);
}

/* Removes every task container the runtime holds for this node. */
static void on_wipe_listed(struct exec_req *req, int status)
{
	struct agent *a = req->data;

	a->removals = 1;
	for (size_t i = 0; status == 0 && i < req->n_found; i++) {
		struct wipe_op *w = xcalloc(1, sizeof(*w));

		w->a = a;
		w->req.data = w;
		snprintf(w->task_id, sizeof(w->task_id), "%s",
			 req->found[i].task_id);
		uv_timer_init(a->loop, &w->retry);
		w->retry.data = w;
		a->removals++;
		wipe_one(w);
	}
	if (--a->removals == 0)
		close_now(a);
}

void agent_stop_and_remove(struct agent *a, void (*removed)(void *data,
							   const char *node_id),
			   void *data)
{
	struct sw_err err;

	a->removed = removed;
	a->removed_data = data;
	a->stopping = true;
	stop_health(a);
	store_unwatch((struct store *)swarm_store(a->s), &a->watcher);
	uv_timer_stop(&a->timer);
	memset(&a->wipe_req, 0, sizeof(a->wipe_req));
	a->wipe_req.data = a;
	if (executor_list(a->ex, &a->wipe_req, on_wipe_listed, &err) != 0)
		close_now(a);
}

void agent_stop(struct agent *a)
{
	a->stopping = true;
	stop_health(a);
	store_unwatch((struct store *)swarm_store(a->s), &a->watcher);
	close_now(a);
}

static void close_now(struct agent *a)
{
	if (a->removed != NULL)
		a->removed(a->removed_data, a->node_id);
	a->removed = NULL;
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, on_timer_closed);
	executor_close(a->ex, on_executor_closed, a);
}

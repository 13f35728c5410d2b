/* The update supervisor: rolls a service's tasks to a new spec batch by
 * batch as UpdateConfig (or RollbackConfig) says, and keeps UpdateStatus as
 * SwarmKit's updater does. Stateless: everything is read back from the
 * tasks (their spec version, state and timestamps) and the service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "orchestrator/reconcile_priv.h"


/* True when every rc_runnable task of the service runs its current spec, and
 * enough of them run (one per slot, or per eligible node). */
static bool converged(struct pass *p, const struct store_record *rec,
		      const Swarmd__Service *svc)
{
	uint64_t running = 0;
	int64_t last = 0, stable_at;

	if (p->n_created > 0)
		for (size_t i = 0; i < p->n_created; i++)
			if (strcmp(p->created[i].t->service_id, rec->id) == 0)
				return false;
	const struct span sp = rc_tasks_of(&p->v, rec->id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (!rc_runnable(t))
			continue;
		if (t->spec_version != svc->spec_version ||
		    t->state != TASK_RUNNING)
			return false;
		running++;
		if (t->timestamp_ns > last)
			last = t->timestamp_ns;
	}
	if (strcmp(svc->mode, "global") != 0 && running != svc->replicas)
		return false;
	/* Like SwarmKit's updater, an update completes only once the new
	 * tasks have run for UpdateConfig.Monitor. */
	stable_at = last + (svc->update_monitor_ns > 0 ? svc->update_monitor_ns
						       : 5000000000LL);
	if (p->v.now < stable_at) {
		rc_wake_at(&p->v, stable_at, rec->id);
		return false;
	}
	return true;
}

/* The StartedAt of a status swarmd wrote, as nanoseconds (0 if absent). */
static int64_t started_at(const ProtobufCBinaryData *b)
{
	char text[512], *at;
	struct tm tm;
	long frac = 0;

	if (b->len == 0 || b->len >= sizeof(text))
		return 0;
	memcpy(text, b->data, b->len);
	text[b->len] = '\0';
	at = strstr(text, "\"StartedAt\":\"");
	memset(&tm, 0, sizeof(tm));
	if (at == NULL ||
	    sscanf(at + 13, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	if (tm.tm_year < 1970)
		return 0; /* Go's zero time, or nothing we wrote */
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	at = strchr(at + 13, '.');
	if (at != NULL) {
		char digits[10] = "000000000";
		size_t n = strspn(at + 1, "0123456789");

		memcpy(digits, at + 1, n < 9 ? n : 9);
		frac = strtol(digits, NULL, 10);
	}
	return (int64_t)timegm(&tm) * 1000000000 + frac;
}

/* Marks an update (or rollback) completed once the service converged. */
void updater_finish(struct pass *p, const struct store_record *rec,
		    Swarmd__Service *svc)
{
	const ProtobufCBinaryData orig = svc->update_status_json;
	const ProtobufCBinaryData *us = &orig;
	bool rollback;
	char *status;

	if (us->len == 0 || !converged(p, rec, svc))
		return;
	if (memmem(us->data, us->len, "\"updating\"", 10) != NULL)
		rollback = false;
	else if (memmem(us->data, us->len, "\"rollback_started\"", 18) != NULL)
		rollback = true;
	else
		return;
	status = services_update_status(
		rollback ? "rollback_completed" : "completed",
		rollback ? "rollback completed" : "update completed",
		started_at(us), p->v.now);
	svc->update_status_json.data = (uint8_t *)status;
	svc->update_status_json.len = strlen(status);
	swarm_put(&p->c, CHANGE_UPDATE, OBJ_SERVICE, rec->id, rec->name,
		  &svc->base, rec->version);
	/* Give the unpacked message its own bytes back before it is freed. */
	svc->update_status_json = orig;
	free(status);
}


/* ---- rolling updates ------------------------------------------------------- */

/* SwarmKit's words; the task is the one whose failure decided. */
#define FAILURE_WHY "due to failure or early termination of task"

/* The config driving the current roll (NULL: Docker's defaults). */
static const Swarmd__UpdateParams *params_of(const Swarmd__Service *svc)
{
	return svc->rolling_back ? svc->rollback : svc->update;
}

static bool start_first(const Swarmd__Service *svc)
{
	const Swarmd__UpdateParams *u = params_of(svc);

	return u != NULL && strcmp(u->order, "start-first") == 0;
}

static const char *failure_action(const Swarmd__Service *svc)
{
	const Swarmd__UpdateParams *u = params_of(svc);

	return u != NULL && u->failure_action[0] ? u->failure_action : "pause";
}

/* Versions name templates (a rollback brings an older one back), so a
 * task is outdated when it runs any other version than the service's. */
static bool outdated(const Swarmd__Service *svc, const Swarmd__Task *t)
{
	return t->spec_version != svc->spec_version;
}

bool updater_occupies(const Swarmd__Service *svc, const Swarmd__Task *t)
{
	return rc_runnable(t) ||
	       (t->desired_state == TASK_SHUTDOWN && outdated(svc, t) &&
		!start_first(svc) && t->state >= TASK_ASSIGNED &&
		!task_state_terminal(t->state));
}

static bool status_is(const Swarmd__Service *svc, const char *state)
{
	char quoted[40];

	snprintf(quoted, sizeof(quoted), "\"State\":\"%s\"", state);
	return svc->update_status_json.len > 0 &&
	       memmem(svc->update_status_json.data, svc->update_status_json.len,
		      quoted, strlen(quoted)) != NULL;
}

/* Tasks of svc, for one pass. */
struct roll {
	struct task_rec **old;    /* runnable tasks of an older spec */
	size_t n_old;
	size_t in_flight;         /* groups whose new task is not running */
	int64_t last_running;     /* latest new-spec task start */
	const Swarmd__Task *failed; /* a new-spec task that failed, if any */
	size_t n_failed;
	size_t groups;
};

/* What group_has looks for in a task's group (slot). */
enum group_want {
	WANT_ANY,         /* a task wanted running, of any spec */
	WANT_NEW,         /* one of the current spec */
	WANT_NEW_RUNNING, /* one of the current spec, running */
};

static bool group_has(const struct pass *p, const Swarmd__Service *svc,
		      const Swarmd__Task *old, enum group_want want)
{
	const struct span sp = rc_tasks_of(&p->v, old->service_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (rc_same_group(t, old) && rc_runnable(t) &&
		    (want == WANT_ANY || !outdated(svc, t)) &&
		    (want != WANT_NEW_RUNNING || t->state == TASK_RUNNING))
			return true;
	}
	return false;
}

static void look(struct pass *p, const struct store_record *rec,
		 const Swarmd__Service *svc, struct roll *r)
{
	int64_t started = started_at(&svc->update_status_json);

	const struct span sp = rc_tasks_of(&p->v, rec->id);

	memset(r, 0, sizeof(*r));
	r->old = xcalloc(sp.e - sp.b + 1, sizeof(*r->old));
	for (size_t i = sp.b; i < sp.e; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		const Swarmd__Task *t = tr->t;

		if (rc_runnable(t) && outdated(svc, t) && !tr->dirty) {
			r->old[r->n_old++] = tr;
			continue;
		}
		if (outdated(svc, t))
			continue;
		if (rc_runnable(t) && t->state < TASK_RUNNING)
			r->in_flight++;
		if (rc_runnable(t) && t->state == TASK_RUNNING &&
		    t->timestamp_ns > r->last_running)
			r->last_running = t->timestamp_ns;
		if (t->state >= TASK_FAILED && t->state <= TASK_REJECTED &&
		    t->timestamp_ns >= started) {
			r->failed = t;
			r->n_failed++;
		}
		if (rc_runnable(t))
			r->groups++;
	}
	r->groups += r->n_old;
}

/* Outdated tasks still stopping for a stop-first roll. */
static size_t stopping_old(const struct pass *p, const struct store_record *rec,
			   const Swarmd__Service *svc)
{
	size_t n = 0;

	const struct span sp = rc_tasks_of(&p->v, rec->id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (!rc_runnable(t) && updater_occupies(svc, t))
			n++;
	}
	return n;
}

/* Groups whose old task this update stopped and whose new task the slot
 * reconciler has yet to create (it runs after the updater in a pass): the
 * batch is not over until those new tasks run, so the delay counts from
 * them. */
static size_t awaiting_new(const struct pass *p, const struct store_record *rec,
			   const Swarmd__Service *svc)
{
	const struct span sp = rc_tasks_of(&p->v, rec->id);
	int64_t started = started_at(&svc->update_status_json);
	size_t n = 0;

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (outdated(svc, t) && t->desired_state == TASK_SHUTDOWN &&
		    task_state_terminal(t->state) &&
		    t->timestamp_ns >= started && !group_has(p, svc, t, WANT_ANY))
			n++;
	}
	return n;
}

/* An old task goes once its group's new task runs (start-first rolls,
 * and old tasks left next to current ones by a rollback). */
static void retire_replaced(struct pass *p, const Swarmd__Service *svc,
			    struct roll *r)
{
	for (size_t i = 0; i < r->n_old; i++) {
		struct task_rec *tr = r->old[i];

		if (tr != NULL && group_has(p, svc, tr->t, WANT_NEW_RUNNING)) {
			rc_set_desired(tr, TASK_SHUTDOWN);
			r->old[i] = NULL;
		}
	}
}

static void write_status(struct pass *p, const struct store_record *rec,
			 Swarmd__Service *svc, const char *state,
			 const char *what, const char *task_id, int64_t started)
{
	ProtobufCBinaryData orig = svc->update_status_json;
	char msg[160];
	char *status;

	snprintf(msg, sizeof(msg), "%s " FAILURE_WHY " %s", what, task_id);
	status = services_update_status(state, msg, started, 0);
	svc->update_status_json.data = (uint8_t *)status;
	svc->update_status_json.len = strlen(status);
	swarm_put(&p->c, CHANGE_UPDATE, OBJ_SERVICE, rec->id, rec->name,
		  &svc->base, rec->version);
	svc->update_status_json = orig;
	free(status);
}

#define SWAP(a, b)                                                            \
	do {                                                                  \
		__typeof__(a) tmp_ = (a);                                     \
		(a) = (b);                                                    \
		(b) = tmp_;                                                   \
	} while (0)

/* Automatic rollback: PreviousSpec becomes the spec (and the current one
 * the previous), rolled out with RollbackConfig. */
static void roll_back(struct pass *p, const struct store_record *rec,
		      Swarmd__Service *svc, const char *task_id)
{
	SWAP(svc->spec_json, svc->previous_spec_json);
	SWAP(svc->task, svc->previous_task);
	SWAP(svc->task_template_json, svc->previous_task_template_json);
	SWAP(svc->endpoint_json, svc->previous_endpoint_json);
	SWAP(svc->mode, svc->previous_mode);
	SWAP(svc->replicas, svc->previous_replicas);
	SWAP(svc->spec_version, svc->previous_spec_version);
	svc->rolling_back = true;
	write_status(p, rec, svc, "rollback_started", "update rolled back",
		     task_id, p->v.now);
}

/* Too many new tasks failed: the failure action decides. Returns true
 * when the service was written. */
static bool on_failure(struct pass *p, const struct store_record *rec,
		       Swarmd__Service *svc, const struct roll *r)
{
	const char *action = failure_action(svc);
	const char *task_id = "";

	for (size_t i = 0; i < p->v.n_tasks; i++)
		if (p->v.tasks[i].t == r->failed)
			task_id = p->v.tasks[i].rec->id;
	if (strcmp(action, "continue") == 0)
		return false;
	if (strcmp(action, "rollback") == 0 && !svc->rolling_back &&
	    svc->previous_spec_json.len > 0) {
		roll_back(p, rec, svc, task_id);
		return true;
	}
	write_status(p, rec, svc,
		     svc->rolling_back ? "rollback_paused" : "paused",
		     svc->rolling_back ? "rollback paused" : "update paused",
		     task_id, started_at(&svc->update_status_json));
	return true;
}

static bool too_many_failures(const Swarmd__Service *svc,
			      const struct roll *r)
{
	const Swarmd__UpdateParams *u = params_of(svc);
	double ratio = u != NULL ? u->max_failure_ratio : 0;

	return r->n_failed > 0 &&
	       (double)r->n_failed > ratio * (double)r->groups;
}

/* Starts the next batch: Parallelism groups (0: all). */
static void next_batch(struct pass *p, const struct store_record *rec,
		       const Swarmd__Service *svc, struct roll *r)
{
	const Swarmd__UpdateParams *u = params_of(svc);
	uint64_t batch = u != NULL ? u->parallelism : 1;
	uint64_t done = 0;

	for (size_t i = 0; i < r->n_old && (batch == 0 || done < batch); i++) {
		struct task_rec *tr = r->old[i];

		if (tr == NULL || group_has(p, svc, tr->t, WANT_NEW))
			continue;
		if (start_first(svc))
			rc_new_task(p, rec, svc, tr->t->slot,
				    tr->t->slot == 0 ? tr->t->node_id : NULL, 0);
		else
			rc_set_desired(tr, TASK_SHUTDOWN);
		done++;
	}
}

bool updater_in_progress(const Swarmd__Service *svc)
{
	return status_is(svc, "updating") || status_is(svc, "rollback_started");
}

static bool paused(const Swarmd__Service *svc)
{
	return status_is(svc, "paused") || status_is(svc, "rollback_paused");
}

static int cmp_slot(const void *a, const void *b)
{
	const struct task_rec *x = *(struct task_rec *const *)a;
	const struct task_rec *y = *(struct task_rec *const *)b;

	return x->t->slot < y->t->slot ? -1 : x->t->slot > y->t->slot;
}

bool updater_step(struct pass *p, const struct store_record *rec,
		  Swarmd__Service *svc)
{
	const Swarmd__UpdateParams *u = params_of(svc);
	bool wrote = false;
	struct roll r;
	int64_t ready_at;

	look(p, rec, svc, &r);
	qsort(r.old, r.n_old, sizeof(*r.old), cmp_slot);
	retire_replaced(p, svc, &r);
	/* Failures count only while an update or rollback is under way. */
	if (updater_in_progress(svc) && too_many_failures(svc, &r))
		wrote = on_failure(p, rec, svc, &r);
	if (wrote || paused(svc) || r.n_old == 0 || r.in_flight > 0 ||
	    stopping_old(p, rec, svc) > 0 || awaiting_new(p, rec, svc) > 0)
		goto out;
	ready_at = r.last_running + (u != NULL ? u->delay_ns : 0);
	if (r.last_running > 0 && p->v.now < ready_at) {
		rc_wake_at(&p->v, ready_at, rec->id);
		goto out;
	}
	next_batch(p, rec, svc, &r);
out:
	free(r.old);
	return wrote;
}

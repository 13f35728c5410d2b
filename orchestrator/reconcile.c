#include "orchestrator/reconcile.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "orchestrator/services.h"

#define NS_PER_MS 1000000LL

struct reconciler {
	uv_loop_t *loop;
	struct swarm *s;
	uv_timer_t timer;
	struct store_watcher watcher;
	bool watching;
	bool in_flight;
	bool dirty;
	bool stopping;
	bool timer_closed;
};

static void maybe_free(struct reconciler *r)
{
	if (r->stopping && r->timer_closed && !r->in_flight)
		free(r);
}

/* One pass's view of the world, decoded once. */
struct view {
	struct task_rec {
		const struct store_record *rec;
		Swarmd__Task *t;
		bool dirty;   /* write it back at the end of the pass */
		bool deleted; /* delete it at the end of the pass */
	} *tasks;
	size_t n_tasks;
	struct node_rec {
		const char *id;
		bool eligible; /* ready and active: takes new tasks */
	} *nodes;
	size_t n_nodes;
	int64_t history_limit;
	int64_t now;
	int64_t wake_at; /* earliest pending restart, 0 if none */
};

/* A task this pass creates (not in the view until it commits). */
struct created {
	const char *service_id;
	uint64_t slot;
	const char *node_id;
};

struct pass {
	struct reconciler *r;
	struct view v;
	struct change c;
	struct created *created;
	size_t n_created;
};

static void schedule(struct reconciler *r, uint64_t ms);

/* ---- the view -------------------------------------------------------------- */

static void load_nodes(struct view *v, const struct store *st)
{
	v->nodes = xcalloc(store_count(st, OBJ_NODE) + 1, sizeof(*v->nodes));
	for (const struct store_record *r = store_first(st, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		if (n == NULL)
			continue;
		v->nodes[v->n_nodes].id = r->id;
		v->nodes[v->n_nodes].eligible =
			strcmp(n->state, "ready") == 0 &&
			strcmp(n->availability, "active") == 0;
		v->n_nodes++;
		swarmd__node__free_unpacked(n, NULL);
	}
}

static void load_view(struct view *v, struct swarm *s)
{
	const struct store *st = swarm_store(s);
	Swarmd__Cluster *cl = swarm_cluster(s, NULL);

	memset(v, 0, sizeof(*v));
	v->now = timefmt_now_ns();
	v->history_limit = cl ? cl->task_history_limit : 5;
	swarmd__cluster__free_unpacked(cl, NULL);
	v->tasks = xcalloc(store_count(st, OBJ_TASK) + 1, sizeof(*v->tasks));
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r)) {
		Swarmd__Task *t = tasks_unpack(r);

		if (t == NULL)
			continue;
		v->tasks[v->n_tasks].rec = r;
		v->tasks[v->n_tasks].t = t;
		v->n_tasks++;
	}
	load_nodes(v, st);
}

static void free_view(struct view *v)
{
	for (size_t i = 0; i < v->n_tasks; i++)
		swarmd__task__free_unpacked(v->tasks[i].t, NULL);
	free(v->tasks);
	free(v->nodes);
}

static bool node_eligible(const struct view *v, const char *id)
{
	for (size_t i = 0; i < v->n_nodes; i++)
		if (strcmp(v->nodes[i].id, id) == 0)
			return v->nodes[i].eligible;
	return false;
}

/* ---- writing tasks ------------------------------------------------------ */

/* Every task is written at most once per change (a second op on it would
 * fail the version check), so changes are collected first. */
static void flush_tasks(struct pass *p)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (tr->deleted)
			change_delete(&p->c, CHANGE_UPDATE, OBJ_TASK,
				      tr->rec->id, tr->rec->version);
		else if (tr->dirty)
			swarm_put(&p->c, CHANGE_UPDATE, OBJ_TASK, tr->rec->id,
				  NULL, &tr->t->base, tr->rec->version);
	}
}

/* Replaces a string of an unpacked message; protobuf-c frees it later. */
static void set_str(char **slot, const char *value)
{
	if (*slot != NULL && *slot != protobuf_c_empty_string)
		free(*slot);
	*slot = xstrdup(value);
}

static void set_desired(struct task_rec *tr, int desired)
{
	tr->t->desired_state = desired;
	tr->dirty = true;
}

static void set_state(struct view *v, struct task_rec *tr, int state,
		      const char *message)
{
	tr->t->state = state;
	set_str(&tr->t->message, message);
	tr->t->timestamp_ns = v->now;
	tr->dirty = true;
}

static void new_task(struct pass *p, const struct store_record *svc_rec,
		     const Swarmd__Service *svc, uint64_t slot,
		     const char *node_id, int64_t delay_ns)
{
	Swarmd__Task t = SWARMD__TASK__INIT;
	char id[ID_SWARM_LEN + 1];

	id_new_swarm(id);
	t.service_id = (char *)svc_rec->id;
	t.service_name = (char *)svc_rec->name;
	t.slot = slot;
	t.node_id = (char *)(node_id ? node_id : "");
	t.spec_version = svc->spec_version;
	t.spec = svc->task;
	t.spec_json = svc->task_template_json;
	t.desired_state = TASK_RUNNING;
	t.state = TASK_NEW;
	t.message = "created";
	t.timestamp_ns = p->v.now;
	t.restart_at_ns = delay_ns > 0 ? p->v.now + delay_ns : 0;
	swarm_put(&p->c, CHANGE_CREATE, OBJ_TASK, id, NULL, &t.base, 0);
	p->created = xrealloc(p->created,
			      (p->n_created + 1) * sizeof(*p->created));
	p->created[p->n_created].service_id = svc_rec->id;
	p->created[p->n_created].slot = slot;
	p->created[p->n_created].node_id = node_id ? node_id : "";
	p->n_created++;
}

/* ---- restart policy --------------------------------------------------------- */

static bool same_group(const Swarmd__Task *a, const Swarmd__Task *b)
{
	return strcmp(a->service_id, b->service_id) == 0 &&
	       a->slot == b->slot &&
	       (a->slot != 0 || strcmp(a->node_id, b->node_id) == 0);
}

/* Whether a task that ended while wanted gets a replacement: Condition,
 * then MaxAttempts counted over the slot's ended tasks within Window. */
static bool should_restart(const struct view *v, const Swarmd__Task *t)
{
	const Swarmd__TaskSpec *spec = t->spec;
	const char *cond = spec && spec->restart_condition[0]
				   ? spec->restart_condition
				   : "any";
	uint64_t ended = 0;

	if (strcmp(cond, "none") == 0)
		return false;
	if (strcmp(cond, "on-failure") == 0 && t->state == TASK_COMPLETE)
		return false;
	if (spec == NULL || spec->restart_max_attempts == 0)
		return true;
	for (size_t i = 0; i < v->n_tasks; i++) {
		const Swarmd__Task *o = v->tasks[i].t;

		if (same_group(o, t) && task_state_terminal(o->state) &&
		    (spec->restart_window_ns == 0 ||
		     o->timestamp_ns >= v->now - spec->restart_window_ns))
			ended++;
	}
	return ended <= spec->restart_max_attempts;
}

/* ---- one service ----------------------------------------------------------- */

static bool runnable(const Swarmd__Task *t)
{
	return t->desired_state <= TASK_RUNNING;
}

/* Restarts ended tasks and replaces those of an older spec. */
static void restart_and_replace(struct pass *p,
				const struct store_record *svc_rec,
				const Swarmd__Service *svc)
{
	size_t n = p->v.n_tasks;

	for (size_t i = 0; i < n; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;
		int64_t delay;

		if (strcmp(t->service_id, svc_rec->id) != 0 || !runnable(t))
			continue;
		if (task_state_terminal(t->state)) {
			if (!should_restart(&p->v, t))
				continue;
			delay = t->spec ? t->spec->restart_delay_ns : 0;
		} else if (t->spec_version < svc->spec_version) {
			delay = 0;
		} else {
			continue;
		}
		set_desired(tr, TASK_SHUTDOWN);
		new_task(p, svc_rec, svc, t->slot,
			 t->slot == 0 ? t->node_id : NULL, delay);
	}
}

struct slot_set {
	uint64_t *slots;
	size_t n;
};

static bool slot_has(const struct slot_set *s, uint64_t slot)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->slots[i] == slot)
			return true;
	return false;
}

static void slot_add(struct slot_set *s, uint64_t slot)
{
	if (slot_has(s, slot))
		return;
	s->slots = xrealloc(s->slots, (s->n + 1) * sizeof(*s->slots));
	s->slots[s->n++] = slot;
}

/* Slots holding a runnable task, including tasks this pass creates. */
static void active_slots(struct pass *p, const char *svc_id,
			 struct slot_set *set)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (strcmp(t->service_id, svc_id) == 0 && runnable(t))
			slot_add(set, t->slot);
	}
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].service_id, svc_id) == 0)
			slot_add(set, p->created[i].slot);
}

/* Scale down: the slot to drop is one whose task is not running, else the
 * highest. */
static uint64_t pick_victim(struct pass *p, const char *svc_id,
			    const struct slot_set *set)
{
	uint64_t best = 0;
	bool best_running = true;

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;
		bool running = t->state == TASK_RUNNING;

		if (strcmp(t->service_id, svc_id) != 0 || !runnable(t) ||
		    !slot_has(set, t->slot))
			continue;
		if ((best_running && !running) ||
		    (running == best_running && t->slot > best)) {
			best = t->slot;
			best_running = running;
		}
	}
	return best;
}

static void drop_slot(struct pass *p, const char *svc_id, uint64_t slot)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (strcmp(tr->t->service_id, svc_id) == 0 &&
		    tr->t->slot == slot && runnable(tr->t))
			set_desired(tr, TASK_SHUTDOWN);
	}
}

static void scale_replicated(struct pass *p, const struct store_record *rec,
			     const Swarmd__Service *svc)
{
	struct slot_set set = {0};

	active_slots(p, rec->id, &set);
	while (set.n > svc->replicas) {
		uint64_t victim = pick_victim(p, rec->id, &set);

		if (victim == 0)
			break;
		drop_slot(p, rec->id, victim);
		for (size_t i = 0; i < set.n; i++)
			if (set.slots[i] == victim)
				set.slots[i] = set.slots[--set.n];
	}
	for (uint64_t slot = 1; set.n < svc->replicas; slot++) {
		if (slot_has(&set, slot))
			continue;
		new_task(p, rec, svc, slot, NULL, 0);
		slot_add(&set, slot);
	}
	free(set.slots);
}

static bool node_has_task(struct pass *p, const char *svc_id,
			  const char *node)
{
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].service_id, svc_id) == 0 &&
		    strcmp(p->created[i].node_id, node) == 0)
			return true;
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (strcmp(t->service_id, svc_id) == 0 && runnable(t) &&
		    strcmp(t->node_id, node) == 0)
			return true;
	}
	return false;
}

/* One task per eligible node; tasks on other nodes shut down. */
static void scale_global(struct pass *p, const struct store_record *rec,
			 const Swarmd__Service *svc)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (strcmp(tr->t->service_id, rec->id) == 0 &&
		    runnable(tr->t) && !tr->dirty &&
		    !node_eligible(&p->v, tr->t->node_id))
			set_desired(tr, TASK_SHUTDOWN);
	}
	for (size_t i = 0; i < p->v.n_nodes; i++)
		if (p->v.nodes[i].eligible &&
		    !node_has_task(p, rec->id, p->v.nodes[i].id))
			new_task(p, rec, svc, 0, p->v.nodes[i].id, 0);
}

/* ---- history, removal -------------------------------------------------------- */

static bool group_has_runnable(const struct pass *p, const Swarmd__Task *t)
{
	for (size_t i = 0; i < p->v.n_tasks; i++)
		if (same_group(p->v.tasks[i].t, t) && runnable(p->v.tasks[i].t))
			return true;
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].service_id, t->service_id) == 0 &&
		    p->created[i].slot == t->slot &&
		    (t->slot != 0 ||
		     strcmp(p->created[i].node_id, t->node_id) == 0))
			return true;
	return false;
}

/* Newer dead tasks of the same group than t. */
static int64_t newer_dead(const struct pass *p, const struct task_rec *tr)
{
	int64_t n = 0;

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const struct task_rec *o = &p->v.tasks[i];

		if (o != tr && same_group(o->t, tr->t) && !runnable(o->t) &&
		    o->rec->created_ns > tr->rec->created_ns)
			n++;
	}
	return n;
}

/* Deletes stopped tasks: of removed services, of dropped slots, and beyond
 * the history limit (the limit counts the slot's current task). */
static void prune(struct pass *p)
{
	const struct store *st = swarm_store(p->r->s);

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;
		bool service_gone =
			store_get(st, OBJ_SERVICE, t->service_id) == NULL;

		if (service_gone && runnable(t)) {
			set_desired(tr, TASK_REMOVE);
			continue;
		}
		if (runnable(t) || tr->dirty ||
		    (!task_state_terminal(t->state) && t->state >= TASK_ASSIGNED))
			continue;
		if (service_gone || !group_has_runnable(p, t) ||
		    newer_dead(p, tr) + 1 >= p->v.history_limit)
			tr->deleted = true;
	}
}

/* ---- allocation and scheduling ------------------------------------------------- */

static size_t tasks_on(const struct pass *p, const char *node,
		       const char *svc_id)
{
	size_t n = 0;

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (strcmp(t->node_id, node) == 0 && runnable(t) &&
		    !task_state_terminal(t->state) &&
		    (svc_id == NULL || strcmp(t->service_id, svc_id) == 0))
			n++;
	}
	return n;
}

/* Spread: the eligible node with the fewest tasks of the service, then the
 * fewest tasks overall. */
static const char *pick_node(const struct pass *p, const char *svc_id)
{
	const char *best = NULL;
	size_t best_svc = 0, best_all = 0;

	for (size_t i = 0; i < p->v.n_nodes; i++) {
		const char *id = p->v.nodes[i].id;
		size_t svc, all;

		if (!p->v.nodes[i].eligible)
			continue;
		svc = tasks_on(p, id, svc_id);
		all = tasks_on(p, id, NULL);
		if (best == NULL || svc < best_svc ||
		    (svc == best_svc && all < best_all)) {
			best = id;
			best_svc = svc;
			best_all = all;
		}
	}
	return best;
}

static void schedule_task(struct pass *p, struct task_rec *tr)
{
	Swarmd__Task *t = tr->t;
	const char *node = t->node_id[0] ? t->node_id
					  : pick_node(p, t->service_id);
	char reason[128];

	if (node == NULL || !node_eligible(&p->v, node)) {
		snprintf(reason, sizeof(reason),
			 "no suitable node (%zu node%s not available for new "
			 "tasks)",
			 p->v.n_nodes, p->v.n_nodes == 1 ? "" : "s");
		if (strcmp(t->err, reason) != 0) {
			set_str(&t->err, reason);
			tr->dirty = true;
		}
		return;
	}
	if (node != t->node_id)
		set_str(&t->node_id, node);
	set_str(&t->err, "");
	set_state(&p->v, tr, TASK_ASSIGNED, "scheduler assigned task to node");
}

static void allocate_and_schedule(struct pass *p)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;

		if (t->desired_state != TASK_RUNNING || tr->deleted)
			continue;
		if (t->state == TASK_NEW) {
			if (t->restart_at_ns > p->v.now) {
				if (p->v.wake_at == 0 ||
				    t->restart_at_ns < p->v.wake_at)
					p->v.wake_at = t->restart_at_ns;
				continue;
			}
			set_state(&p->v, tr, TASK_PENDING,
				  "pending task scheduling");
		} else if (t->state == TASK_PENDING) {
			schedule_task(p, tr);
		}
	}
}

/* ---- update status -------------------------------------------------------- */

/* True when every runnable task of the service runs its current spec, and
 * enough of them run (one per slot, or per eligible node). */
static bool converged(struct pass *p, const struct store_record *rec,
		      const Swarmd__Service *svc)
{
	uint64_t running = 0;
	int64_t last = 0, stable_at;

	if (p->n_created > 0)
		for (size_t i = 0; i < p->n_created; i++)
			if (strcmp(p->created[i].service_id, rec->id) == 0)
				return false;
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (strcmp(t->service_id, rec->id) != 0 || !runnable(t))
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
		if (p->v.wake_at == 0 || stable_at < p->v.wake_at)
			p->v.wake_at = stable_at;
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
static void finish_update(struct pass *p, const struct store_record *rec,
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

/* ---- the pass --------------------------------------------------------------- */

static void reconcile_services(struct pass *p)
{
	const struct store *st = swarm_store(p->r->s);

	for (const struct store_record *r = store_first(st, OBJ_SERVICE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Service *svc = services_unpack(r);

		if (svc == NULL)
			continue;
		if (strcmp(svc->mode, "replicated") == 0) {
			restart_and_replace(p, r, svc);
			scale_replicated(p, r, svc);
		} else if (strcmp(svc->mode, "global") == 0) {
			restart_and_replace(p, r, svc);
			scale_global(p, r, svc);
		}
		finish_update(p, r, svc);
		swarmd__service__free_unpacked(svc, NULL);
	}
}

static void on_committed(void *data, int status, const struct sw_err *err)
{
	struct reconciler *r = data;

	r->in_flight = false;
	if (r->stopping) {
		maybe_free(r);
		return;
	}
	if (status != 0) {
		/* Usually a task changed under us (version check): the next
		 * pass sees the new state. */
		log_debug("reconcile: change not applied: %s", err->msg);
		r->dirty = true;
	}
	if (r->dirty && !r->stopping)
		schedule(r, status != 0 ? 20 : 0);
}

static void run_pass(struct reconciler *r)
{
	struct pass p = {.r = r};
	struct sw_err err;

	r->dirty = false;
	load_view(&p.v, r->s);
	change_init(&p.c, p.v.now);
	reconcile_services(&p);
	prune(&p);
	allocate_and_schedule(&p);
	flush_tasks(&p);
	if (p.c.n_ops > 0) {
		r->in_flight = true;
		if (swarm_propose(r->s, &p.c, on_committed, r, &err) != 0) {
			r->in_flight = false;
			r->dirty = true;
			schedule(r, 100);
		}
	}
	if (p.v.wake_at != 0) {
		int64_t ms = (p.v.wake_at - p.v.now) / NS_PER_MS + 1;

		if (!r->in_flight && !r->dirty)
			schedule(r, (uint64_t)(ms > 0 ? ms : 1));
	}
	change_free(&p.c);
	free(p.created);
	free_view(&p.v);
}

static void on_timer(uv_timer_t *t)
{
	struct reconciler *r = t->data;

	if (r->stopping || r->in_flight)
		return;
	if (!swarm_is_leader(r->s)) {
		r->dirty = true;
		schedule(r, 200);
		return;
	}
	run_pass(r);
}

static void schedule(struct reconciler *r, uint64_t ms)
{
	if (!r->stopping)
		uv_timer_start(&r->timer, on_timer, ms, 0);
}

void reconciler_poke(struct reconciler *r)
{
	r->dirty = true;
	if (!r->in_flight)
		schedule(r, 0);
}

static void on_store_event(struct store_watcher *w, uint64_t index, bool reset,
			   const struct store_event *evs, size_t n)
{
	reconciler_poke(w->data);
}

struct reconciler *reconciler_start(uv_loop_t *loop, struct swarm *s)
{
	struct reconciler *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->s = s;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	r->watcher.data = r;
	store_watch((struct store *)swarm_store(s), &r->watcher,
		    on_store_event);
	r->watching = true;
	reconciler_poke(r);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct reconciler *r = h->data;

	r->timer_closed = true;
	maybe_free(r);
}

void reconciler_stop(struct reconciler *r)
{
	r->stopping = true;
	if (r->watching)
		store_unwatch((struct store *)swarm_store(r->s), &r->watcher);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

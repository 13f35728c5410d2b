#include "orchestrator/reconcile.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/timefmt.h"
#include "lib/verscache.h"
#include "orchestrator/services.h"
#include "orchestrator/taskindex.h"

#define NS_PER_MS 1000000LL

/* The nodes as the passes see them, kept between passes and changed by
 * the store's node events (read whole at the start and after a reset). */
struct node_table {
	struct node_rec *nodes; /* ids and unpacked nodes owned */
	size_t n_nodes, cap;
	struct strmap *index; /* node ID -> index in nodes */
};

struct reconciler {
	uv_loop_t *loop;
	struct swarm *s;
	uv_timer_t timer;
	struct store_watcher watcher;
	bool watching;
	bool in_flight;
	bool dirty; /* a pass is wanted now */
	bool stopping;
	bool timer_closed;
	struct verscache *cache; /* tasks unpacked by passes, by version */
	struct taskindex *ix;    /* every task, kept current from events */
	struct node_table nodes;
	bool nodes_stale;
	/* What the next pass looks at: every service, or those changed since
	 * the last pass (dirty_svcs) and those still waiting for a node
	 * (unplaced). */
	bool full;
	struct strmap *dirty_svcs;
	struct strmap *unplaced;
	/* The services whose update or rollback runs: their batches wait for
	 * tasks to reach RUNNING, so their status reports start a pass. */
	struct strmap *updating;
	/* The global services (and jobs): a node's change concerns them. */
	struct strmap *global;
	bool stale;         /* only such status reports since the pass */
	uint64_t settle_ms; /* how long they wait for a pass */
	/* The objects the change in flight writes, in op order (owned), and
	 * whether it only creates tasks: see own_write. */
	char **own_ids;
	size_t n_own;
	bool own_creates_only;
	/* The services of the pass that proposed it (owned; NULL when that
	 * pass was over every service): if it fails, they are done again. */
	struct strmap *own_scope;
	/* When (timefmt ns) the passes want the next one: for some services
	 * (service ID -> ns) and over every service (0: none); see
	 * view.wakes. */
	struct strmap *wakes;
	int64_t wake_all;
};

static void forget_own(struct reconciler *r)
{
	for (size_t i = 0; i < r->n_own; i++)
		free(r->own_ids[i]);
	free(r->own_ids);
	r->own_ids = NULL;
	r->n_own = 0;
	strmap_free(r->own_scope);
	r->own_scope = NULL;
}

static void remember_own(struct reconciler *r, const struct change *c,
			 struct strmap *scope)
{
	forget_own(r);
	r->own_scope = scope;
	r->own_ids = xcalloc(c->n_ops + 1, sizeof(*r->own_ids));
	r->own_creates_only = true;
	for (size_t i = 0; i < c->n_ops; i++) {
		const struct change_op *op = &c->ops[i];

		r->own_ids[i] = xstrdup(op->id);
		r->own_creates_only &= op->kind == OBJ_TASK &&
				       op->type == CHANGE_PUT &&
				       op->mode == CHANGE_CREATE;
	}
	r->n_own = c->n_ops;
}

/* The events of the reconciler's own change in flight: one per op, in op
 * order (a change that fails applies nothing). */
static bool own_write(const struct reconciler *r,
		      const struct store_event *evs, size_t n)
{
	if (!r->in_flight || n != r->n_own)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(evs[i].id, r->own_ids[i]) != 0)
			return false;
	return true;
}

static void free_nodes(struct node_table *nt);

static void maybe_free(struct reconciler *r)
{
	if (r->stopping && r->timer_closed && !r->in_flight) {
		forget_own(r);
		verscache_free(r->cache);
		taskindex_free(r->ix);
		free_nodes(&r->nodes);
		strmap_free(r->dirty_svcs);
		strmap_free(r->unplaced);
		strmap_free(r->updating);
		strmap_free(r->global);
		strmap_free(r->wakes);
		free(r);
	}
}

#include "orchestrator/nodeusage.h"
#include "orchestrator/reconcile_priv.h"
#include "orchestrator/scheduler.h"

static void schedule(struct reconciler *r, uint64_t ms);
static void schedule_within(struct reconciler *r, uint64_t ms);
static uint64_t settle_after(uint64_t pass_ns);

/* ---- the view -------------------------------------------------------------- */

static void free_node_rec(struct node_rec *nr)
{
	free((char *)nr->id);
	swarmd__node__free_unpacked(nr->n, NULL);
}

static void free_nodes(struct node_table *nt)
{
	for (size_t i = 0; i < nt->n_nodes; i++)
		free_node_rec(&nt->nodes[i]);
	free(nt->nodes);
	strmap_free(nt->index);
	memset(nt, 0, sizeof(*nt));
}

/* Fills nr from the node's record and its unpacked n (owned from now). */
static void fill_node_rec(struct node_rec *nr, const struct store_record *r,
			  Swarmd__Node *n, struct taskindex *ix)
{
	nr->id = xstrdup(r->id);
	nr->eligible = strcmp(n->state, "ready") == 0 &&
		       strcmp(n->availability, "active") == 0;
	nr->invalid = strcmp(n->state, "down") == 0 ||
		      strcmp(n->availability, "drain") == 0;
	nr->n = n;
	nr->load = taskindex_load_slot(ix, nr->id);
	nr->down_since = strcmp(n->state, "down") == 0 ? r->updated_ns : 0;
}

static void append_node(struct node_table *nt, const struct store_record *r,
			Swarmd__Node *n, struct taskindex *ix)
{
	if (nt->n_nodes == nt->cap) {
		nt->cap = nt->cap ? 2 * nt->cap : 16;
		nt->nodes = xrealloc(nt->nodes, nt->cap * sizeof(*nt->nodes));
	}
	fill_node_rec(&nt->nodes[nt->n_nodes], r, n, ix);
	*strmap_slot(nt->index, r->id) = (int64_t)nt->n_nodes;
	nt->n_nodes++;
}

static void load_nodes(struct node_table *nt, const struct store *st,
		       struct taskindex *ix)
{
	free_nodes(nt);
	nt->index = strmap_new();
	for (const struct store_record *r = store_first(st, OBJ_NODE);
	     r != NULL; r = store_next(r)) {
		Swarmd__Node *n = swarm_node_unpack(r);

		if (n != NULL)
			append_node(nt, r, n, ix);
	}
}

/* Follows one node event: the node is added, replaced or dropped (the
 * last one then takes its place). */
static void apply_node_event(struct node_table *nt,
			     const struct store_event *e, struct taskindex *ix)
{
	const int64_t *k = strmap_find(nt->index, e->id);
	Swarmd__Node *n = e->cur != NULL ? swarm_node_unpack(e->cur) : NULL;
	size_t i;

	if (k == NULL) {
		if (n != NULL)
			append_node(nt, e->cur, n, ix);
		return;
	}
	i = (size_t)*k;
	free_node_rec(&nt->nodes[i]);
	if (n != NULL) {
		fill_node_rec(&nt->nodes[i], e->cur, n, ix);
		return;
	}
	strmap_remove(nt->index, e->id);
	if (i != --nt->n_nodes) {
		nt->nodes[i] = nt->nodes[nt->n_nodes];
		*strmap_slot(nt->index, nt->nodes[i].id) = (int64_t)i;
	}
}

/* By service (numbered in order of appearance), then by a hash of the
 * ID (then the ID): any fixed order serves, as long as every pass sees the
 * same one, and integers compare faster than IDs. */
static int cmp_service(const void *a, const void *b)
{
	const struct task_rec *x = a, *y = b;

	if (x->svc != y->svc)
		return x->svc < y->svc ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->rec->id, y->rec->id);
}

/* Sorts the tasks by service and records where each service's run
 * starts and how long it is (start << 32 | length). */
static void index_by_service(struct view *v)
{
	const char *prev = NULL;
	int64_t *k = NULL;

	/* First svc_index numbers the services; neighbours mostly share one
	 * (the store keeps creation order): look the name up only when it
	 * changes. */
	v->svc_index = strmap_new();
	for (size_t i = 0; i < v->n_tasks; i++) {
		const char *svc = v->tasks[i].t->service_id;

		if (prev == NULL || strcmp(prev, svc) != 0) {
			k = strmap_slot(v->svc_index, svc);
			if (*k == 0)
				*k = (int64_t)strmap_count(v->svc_index);
			prev = svc;
		}
		v->tasks[i].svc = (uint32_t)*k;
		v->tasks[i].order = strmap_hash(v->tasks[i].rec->id);
	}
	qsort(v->tasks, v->n_tasks, sizeof(*v->tasks), cmp_service);
	/* Then it holds each service's run. */
	for (size_t i = 0; i < v->n_tasks; i++) {
		if (i == 0 || v->tasks[i].svc != v->tasks[i - 1].svc) {
			k = strmap_slot(v->svc_index,
					v->tasks[i].t->service_id);
			*k = (int64_t)i << 32;
		}
		(*k)++;
	}
}

struct span rc_tasks_of(const struct view *v, const char *svc_id)
{
	const int64_t *e = strmap_find(v->svc_index, svc_id);
	struct span sp = {0, 0};

	if (e != NULL) {
		sp.b = (size_t)(*e >> 32);
		sp.e = sp.b + (size_t)(*e & 0xffffffff);
	}
	return sp;
}

static void free_task(void *t)
{
	swarmd__task__free_unpacked(t, NULL);
}

/* r's task, unpacked once per version: a pass unpacks only the tasks that
 * changed since the one before. A pass may edit the tasks it borrows; it
 * drops those it changed from the cache (free_view). */
static Swarmd__Task *cached_task(struct verscache *c,
				 const struct store_record *r)
{
	Swarmd__Task *t = verscache_get(c, r->id, r->version);

	if (t == NULL && (t = tasks_unpack(r)) != NULL)
		verscache_put(c, r->id, r->version, t);
	return t;
}

static void add_to_view(struct view *v, struct verscache *cache,
			const struct store_record *r)
{
	Swarmd__Task *t = r != NULL ? cached_task(cache, r) : NULL;

	if (t == NULL)
		return;
	v->tasks[v->n_tasks].rec = r;
	v->tasks[v->n_tasks].t = t;
	v->n_tasks++;
}

/* The tasks of the services in scope (every task when scope is NULL). */
static void load_tasks(struct view *v, struct reconciler *r,
		       const struct strmap *scope)
{
	const struct store *st = swarm_store(r->s);
	size_t pos = 0, n = 0;
	const char *svc;
	const struct strmap *ids;

	if (scope == NULL) {
		v->tasks = xcalloc(store_count(st, OBJ_TASK) + 1,
				   sizeof(*v->tasks));
		for (const struct store_record *t = store_first(st, OBJ_TASK);
		     t != NULL; t = store_next(t))
			add_to_view(v, r->cache, t);
		return;
	}
	while ((svc = strmap_next(scope, &pos, NULL)) != NULL)
		if ((ids = taskindex_tasks_of(r->ix, svc)) != NULL)
			n += strmap_count(ids);
	v->tasks = xcalloc(n + 1, sizeof(*v->tasks));
	pos = 0;
	while ((svc = strmap_next(scope, &pos, NULL)) != NULL) {
		size_t tpos = 0;
		const char *id;

		ids = taskindex_tasks_of(r->ix, svc);
		while (ids != NULL && (id = strmap_next(ids, &tpos, NULL)))
			add_to_view(v, r->cache, store_get(st, OBJ_TASK, id));
	}
}

static void load_view(struct view *v, struct reconciler *r,
		      const struct strmap *scope)
{
	const struct store *st = swarm_store(r->s);
	Swarmd__Cluster *cl = swarm_cluster(r->s, NULL);

	memset(v, 0, sizeof(*v));
	v->now = timefmt_now_ns();
	v->wakes = strmap_new();
	v->history_limit = cl ? cl->task_history_limit : 5;
	swarmd__cluster__free_unpacked(cl, NULL);
	if (r->nodes_stale) {
		load_nodes(&r->nodes, st, r->ix);
		r->nodes_stale = false;
	}
	v->nodes = r->nodes.nodes;
	v->n_nodes = r->nodes.n_nodes;
	v->node_index = r->nodes.index;
	load_tasks(v, r, scope);
	index_by_service(v);
	v->n_loaded = v->n_tasks;
	for (size_t i = 0; i < v->n_tasks; i++)
		v->tasks[i].node = rc_node_index(v, v->tasks[i].t->node_id);
}

/* The tasks the pass edited go back to the cache to be unpacked afresh. A
 * pass over some services keeps the other services' tasks cached. */
static void free_view(struct view *v, struct verscache *cache, bool full,
		      size_t live)
{
	for (size_t i = 0; i < v->n_tasks; i++) {
		struct task_rec *tr = &v->tasks[i];

		if (tr->rec == NULL) {
			swarmd__task__free_unpacked(tr->t, NULL);
			free(tr->new_id);
		} else if (tr->dirty || tr->deleted) {
			verscache_drop(cache, tr->rec->id);
		}
	}
	if (full)
		verscache_sweep(cache);
	else
		verscache_trim(cache, live);
	free(v->tasks);
	strmap_free(v->svc_index);
	strmap_free(v->wakes);
}

int64_t rc_node_index(const struct view *v, const char *id)
{
	const int64_t *i = id[0] != '\0' ? strmap_find(v->node_index, id)
					  : NULL;

	return i != NULL ? *i : -1;
}

static bool node_eligible(const struct view *v, int64_t i)
{
	return i >= 0 && v->nodes[i].eligible;
}

/* A node that stopped heartbeating (dispatcher.h), was drained or was
 * removed: its tasks are replaced elsewhere, as SwarmKit's orchestrator
 * restarts them (its InvalidNode rule). */
static bool node_invalid(const struct view *v, int64_t i)
{
	return i < 0 || v->nodes[i].invalid;
}

/* ---- orphans --------------------------------------------------------------- */

static void set_state(struct view *v, struct task_rec *tr, int state,
		      const char *message);

#define ORPHAN_AFTER_NS (24LL * 3600 * 1000000000LL)

/* The earlier of two wake-up times, 0 standing for none. */
static int64_t earlier(int64_t a, int64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

void rc_wake_at(struct view *v, int64_t at, const char *svc_id)
{
	int64_t *w;

	if (svc_id == NULL) {
		v->wake_all = earlier(v->wake_all, at);
		return;
	}
	w = strmap_slot(v->wakes, svc_id);
	*w = earlier(*w, at);
}

/* The tasks of a node that stayed down for 24 h (no change to its record
 * since) turn ORPHANED, as SwarmKit's dispatcher does: they were replaced
 * long ago and their node is not expected back. */
static void orphan_tasks(struct view *v)
{
	bool due = false;

	for (size_t i = 0; i < v->n_nodes; i++) {
		int64_t at = v->nodes[i].down_since + ORPHAN_AFTER_NS;

		if (v->nodes[i].down_since == 0)
			continue;
		if (at > v->now)
			rc_wake_at(v, at, NULL);
		else
			due = true;
	}
	for (size_t j = 0; due && j < v->n_tasks; j++) {
		struct task_rec *tr = &v->tasks[j];
		const struct node_rec *n = tr->node >= 0 ? &v->nodes[tr->node]
							 : NULL;

		if (n != NULL && n->down_since != 0 &&
		    n->down_since + ORPHAN_AFTER_NS <= v->now &&
		    tr->t->state >= TASK_ASSIGNED &&
		    tr->t->state <= TASK_RUNNING)
			set_state(v, tr, TASK_ORPHANED, NULL);
	}
}

/* ---- writing tasks ------------------------------------------------------ */

/* Every task is written at most once per change (a second op on it would
 * fail the version check), so changes are collected first. */
static void flush_tasks(struct pass *p)
{
	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (tr->rec == NULL)
			swarm_put(&p->c, CHANGE_CREATE, OBJ_TASK, tr->new_id,
				  NULL, &tr->t->base, 0);
		else if (tr->deleted)
			change_delete(&p->c, CHANGE_UPDATE, OBJ_TASK,
				      tr->rec->id, tr->rec->version);
		else if (tr->dirty)
			swarm_put(&p->c, CHANGE_UPDATE, OBJ_TASK, tr->rec->id,
				  NULL, &tr->t->base, tr->rec->version);
	}
}

/* Replaces a string of an unpacked message; protobuf-c frees it later. */
void rc_set_str(char **slot, const char *value)
{
	if (*slot != NULL && *slot != protobuf_c_empty_string)
		free(*slot);
	*slot = xstrdup(value);
}

void rc_set_desired(struct task_rec *tr, int desired)
{
	tr->t->desired_state = desired;
	tr->dirty = true;
}

/* message NULL keeps the task's message. */
static void set_state(struct view *v, struct task_rec *tr, int state,
		      const char *message)
{
	tr->t->state = state;
	if (message != NULL)
		rc_set_str(&tr->t->message, message);
	tr->t->timestamp_ns = v->now;
	tr->dirty = true;
}

bool is_job(const Swarmd__Service *svc)
{
	return strcmp(svc->mode, "replicated-job") == 0 ||
	       strcmp(svc->mode, "global-job") == 0;
}

/* Wanted to run now: a service task up to RUNNING, or a job task not yet
 * complete. */
static bool wanted(const Swarmd__Task *t)
{
	return t->desired_state <= TASK_RUNNING ||
	       t->desired_state == TASK_COMPLETE;
}

/* A task that owns all it points to (t borrows from the service). */
static Swarmd__Task *own_copy(const Swarmd__Task *t)
{
	size_t len = protobuf_c_message_get_packed_size(&t->base);
	uint8_t *buf = xmalloc(len ? len : 1);
	Swarmd__Task *copy;

	protobuf_c_message_pack(&t->base, buf);
	copy = swarmd__task__unpack(NULL, len, buf);
	free(buf);
	if (copy == NULL) { /* only out of memory */
		log_error("reconcile: a new task does not unpack");
		abort();
	}
	return copy;
}

void rc_new_task(struct pass *p, const struct store_record *svc_rec,
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
	/* Job tasks run to completion: Docker wants them "complete". A
	 * delayed restart is placed and prepared at once but wanted only
	 * "ready" until its delay is over, as SwarmKit does. */
	t.desired_state = delay_ns > 0      ? TASK_READY
			  : is_job(svc) ? TASK_COMPLETE
					: TASK_RUNNING;
	t.job_iteration = svc->job_iteration;
	t.state = TASK_NEW;
	t.message = "created";
	t.timestamp_ns = p->v.now;
	t.restart_at_ns = delay_ns > 0 ? p->v.now + delay_ns : 0;
	p->created = xrealloc(p->created,
			      (p->n_created + 1) * sizeof(*p->created));
	p->created[p->n_created++] = (struct task_rec){
	    .new_id = xstrdup(id), .t = own_copy(&t), .dirty = true};
}

/* The pass's new tasks join the view, to be placed with the others. */
static void adopt_created(struct pass *p)
{
	struct view *v = &p->v;

	if (p->n_created == 0)
		return;
	v->tasks = xrealloc(v->tasks, (v->n_tasks + p->n_created + 1) *
					  sizeof(*v->tasks));
	memcpy(v->tasks + v->n_tasks, p->created,
	       p->n_created * sizeof(*p->created));
	for (size_t i = v->n_tasks; i < v->n_tasks + p->n_created; i++)
		v->tasks[i].node = rc_node_index(v, v->tasks[i].t->node_id);
	v->n_tasks += p->n_created;
	free(p->created);
	p->created = NULL;
	p->n_created = 0;
}

/* ---- restart policy --------------------------------------------------------- */

bool rc_same_group(const Swarmd__Task *a, const Swarmd__Task *b)
{
	return strcmp(a->service_id, b->service_id) == 0 &&
	       a->slot == b->slot &&
	       (a->slot != 0 || strcmp(a->node_id, b->node_id) == 0);
}

/* Whether a task that ended while wanted gets a replacement: Condition,
 * then MaxAttempts counted over the slot's ended tasks within Window. */
static bool should_restart(struct view *v, const Swarmd__Task *t)
{
	const Swarmd__TaskSpec *spec = t->spec;
	const char *cond = spec && spec->restart_condition[0]
				   ? spec->restart_condition
				   : "any";
	uint64_t ended = 0;
	int64_t oldest = 0;

	if (strcmp(cond, "none") == 0)
		return false;
	if (strcmp(cond, "on-failure") == 0 && t->state == TASK_COMPLETE)
		return false;
	if (spec == NULL || spec->restart_max_attempts == 0)
		return true;
	const struct span sp = rc_tasks_of(v, t->service_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *o = v->tasks[i].t;

		if (rc_same_group(o, t) && task_state_terminal(o->state) &&
		    (spec->restart_window_ns == 0 ||
		     o->timestamp_ns >= v->now - spec->restart_window_ns)) {
			ended++;
			if (oldest == 0 || o->timestamp_ns < oldest)
				oldest = o->timestamp_ns;
		}
	}
	if (ended <= spec->restart_max_attempts)
		return true;
	/* Held back by the window: the service is looked at again when its
	 * oldest counted end leaves it (no event would bring it back). */
	if (spec->restart_window_ns != 0)
		rc_wake_at(v, oldest + spec->restart_window_ns + 1,
			   t->service_id);
	return false;
}

/* A delayed restart that ended before its delay was over (a missing image
 * is rejected while the task waits prepared) is replaced only when the
 * delay ends, as SwarmKit does, so a failing task cannot spin; the pass
 * wakes up then. */
static bool still_delayed(struct view *v, const Swarmd__Task *t)
{
	if (t->desired_state != TASK_READY || t->restart_at_ns <= v->now)
		return false;
	rc_wake_at(v, t->restart_at_ns, t->service_id);
	return true;
}

/* ---- one service ----------------------------------------------------------- */

bool rc_runnable(const Swarmd__Task *t)
{
	return t->desired_state <= TASK_RUNNING;
}

/* Restarts ended tasks and replaces those of an older spec. */
/* Another live task holds t's slot (a start-first roll keeps two), so an
 * ended one needs no replacement. */
static bool group_has_other(const struct pass *p, const struct task_rec *tr)
{
	const struct span sp = rc_tasks_of(&p->v, tr->t->service_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const struct task_rec *o = &p->v.tasks[i];

		if (o != tr && rc_same_group(o->t, tr->t) &&
		    rc_runnable(o->t) && !task_state_terminal(o->t->state))
			return true;
	}
	return false;
}

static void restart_and_replace(struct pass *p,
				const struct store_record *svc_rec,
				const Swarmd__Service *svc)
{
	const struct span sp = rc_tasks_of(&p->v, svc_rec->id);

	for (size_t i = sp.b; i < sp.e; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;
		int64_t delay;

		if (!rc_runnable(t))
			continue;
		if (!task_state_terminal(t->state) && t->slot != 0 &&
		    t->node_id[0] != '\0' && node_invalid(&p->v, tr->node)) {
			rc_set_desired(tr, TASK_SHUTDOWN);
			rc_new_task(p, svc_rec, svc, t->slot, NULL, 0);
			continue;
		}
		if (!task_state_terminal(t->state))
			continue;
		if (group_has_other(p, tr)) {
			/* Superseded (start-first roll): nothing to restart. */
			rc_set_desired(tr, TASK_SHUTDOWN);
			continue;
		}
		if (still_delayed(&p->v, t) || !should_restart(&p->v, t))
			continue;
		delay = t->spec ? t->spec->restart_delay_ns : 0;
		rc_set_desired(tr, TASK_SHUTDOWN);
		rc_new_task(p, svc_rec, svc, t->slot,
			 t->slot == 0 ? t->node_id : NULL, delay);
	}
}

/* The slots a service uses, by number: they run from 1 to the replica
 * count (plus higher ones a scale-down leaves for a while), so a flag per
 * slot keeps lookups O(1). */
struct slot_set {
	bool *has;
	uint64_t cap;
	size_t n;
};

static bool slot_has(const struct slot_set *s, uint64_t slot)
{
	return slot < s->cap && s->has[slot];
}

static void slot_add(struct slot_set *s, uint64_t slot)
{
	if (slot_has(s, slot))
		return;
	if (slot >= s->cap) {
		uint64_t cap = s->cap ? 2 * s->cap : 64;

		while (cap <= slot)
			cap *= 2;
		s->has = xrealloc(s->has, cap * sizeof(*s->has));
		memset(s->has + s->cap, 0, (cap - s->cap) * sizeof(*s->has));
		s->cap = cap;
	}
	s->has[slot] = true;
	s->n++;
}

static void slot_del(struct slot_set *s, uint64_t slot)
{
	if (slot_has(s, slot)) {
		s->has[slot] = false;
		s->n--;
	}
}

/* Slots holding a rc_runnable task, including tasks this pass creates. */
static void active_slots(struct pass *p, const char *svc_id,
			 const Swarmd__Service *svc, struct slot_set *set)
{
	const struct span sp = rc_tasks_of(&p->v, svc_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (updater_occupies(svc, t))
			slot_add(set, t->slot);
	}
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].t->service_id, svc_id) == 0)
			slot_add(set, p->created[i].t->slot);
}

/* Scale down: the slot to drop is one whose task is not running, else the
 * highest. */
static uint64_t pick_victim(struct pass *p, const char *svc_id,
			    const struct slot_set *set)
{
	uint64_t best = 0;
	bool best_running = true;

	const struct span sp = rc_tasks_of(&p->v, svc_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;
		bool running = t->state == TASK_RUNNING;

		if (!rc_runnable(t) || !slot_has(set, t->slot))
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
	const struct span sp = rc_tasks_of(&p->v, svc_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (tr->t->slot == slot && rc_runnable(tr->t))
			rc_set_desired(tr, TASK_SHUTDOWN);
	}
}

static void scale_replicated(struct pass *p, const struct store_record *rec,
			     const Swarmd__Service *svc)
{
	struct slot_set set = {0};

	active_slots(p, rec->id, svc, &set);
	while (set.n > svc->replicas) {
		uint64_t victim = pick_victim(p, rec->id, &set);

		if (victim == 0)
			break;
		drop_slot(p, rec->id, victim);
		slot_del(&set, victim);
	}
	for (uint64_t slot = 1; set.n < svc->replicas; slot++) {
		if (slot_has(&set, slot))
			continue;
		rc_new_task(p, rec, svc, slot, NULL, 0);
		slot_add(&set, slot);
	}
	free(set.has);
}

static bool node_has_task(struct pass *p, const char *svc_id,
			  const Swarmd__Service *svc, const char *node)
{
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].t->service_id, svc_id) == 0 &&
		    strcmp(p->created[i].t->node_id, node) == 0)
			return true;
	const struct span sp = rc_tasks_of(&p->v, svc_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *t = p->v.tasks[i].t;

		if (updater_occupies(svc, t) && strcmp(t->node_id, node) == 0)
			return true;
	}
	return false;
}

/* A global service runs only on the nodes its constraints allow. */
static bool constraints_allow(const Swarmd__TaskSpec *spec,
			      const struct node_rec *n)
{
	for (size_t i = 0; spec != NULL && i < spec->n_constraints; i++)
		if (!sched_constraint_match(spec->constraints[i], n->id, n->n))
			return false;
	return true;
}

/* One task per eligible node; tasks on other nodes shut down. */
static void scale_global(struct pass *p, const struct store_record *rec,
			 const Swarmd__Service *svc)
{
	const struct span sp = rc_tasks_of(&p->v, rec->id);

	for (size_t i = sp.b; i < sp.e; i++) {
		struct task_rec *tr = &p->v.tasks[i];

		if (rc_runnable(tr->t) && !tr->dirty &&
		    !node_eligible(&p->v, tr->node))
			rc_set_desired(tr, TASK_SHUTDOWN);
	}
	for (size_t i = 0; i < p->v.n_nodes; i++)
		if (p->v.nodes[i].eligible &&
		    constraints_allow(svc->task, &p->v.nodes[i]) &&
		    !node_has_task(p, rec->id, svc, p->v.nodes[i].id))
			rc_new_task(p, rec, svc, 0, p->v.nodes[i].id, 0);
}

/* ---- jobs -------------------------------------------------------------------- */

struct job_count {
	uint64_t completed;
	uint64_t active;
	uint64_t next_slot;
};

/* Counts this iteration's tasks, retires older iterations' live tasks and
 * restarts failed ones (a job's restart condition is on-failure). */
static void job_tasks(struct pass *p, const struct store_record *rec,
		      const Swarmd__Service *svc, struct job_count *jc)
{
	/* Job slots count from 0, as the CLI's job progress expects. */
	memset(jc, 0, sizeof(*jc));
	const struct span sp = rc_tasks_of(&p->v, rec->id);

	for (size_t i = sp.b; i < sp.e; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;

		if (!wanted(t))
			continue;
		if (t->job_iteration != svc->job_iteration) {
			if (!task_state_terminal(t->state))
				rc_set_desired(tr, TASK_SHUTDOWN);
			continue;
		}
		if (t->slot >= jc->next_slot)
			jc->next_slot = t->slot + 1;
		if (t->state == TASK_COMPLETE) {
			jc->completed++;
		} else if (!task_state_terminal(t->state) ||
			   still_delayed(&p->v, t)) {
			jc->active++;
		} else if (should_restart(&p->v, t)) {
			rc_set_desired(tr, TASK_SHUTDOWN);
			rc_new_task(p, rec, svc, t->slot,
				    t->slot == 0 ? t->node_id : NULL,
				    t->spec ? t->spec->restart_delay_ns : 0);
			jc->active++;
		}
	}
}

/* ReplicatedJob: TotalCompletions tasks, MaxConcurrent at a time. */
static void reconcile_replicated_job(struct pass *p,
				     const struct store_record *rec,
				     const Swarmd__Service *svc)
{
	struct job_count jc;
	uint64_t max = svc->max_concurrent ? svc->max_concurrent : 1;

	job_tasks(p, rec, svc, &jc);
	while (jc.active < max &&
	       jc.completed + jc.active < svc->total_completions) {
		rc_new_task(p, rec, svc, jc.next_slot++, NULL, 0);
		jc.active++;
	}
}

/* GlobalJob: one run per eligible node. */
static void reconcile_global_job(struct pass *p, const struct store_record *rec,
				 const Swarmd__Service *svc)
{
	const struct span sp = rc_tasks_of(&p->v, rec->id);
	struct job_count jc;

	job_tasks(p, rec, svc, &jc);
	for (size_t i = 0; i < p->v.n_nodes; i++) {
		bool has = false;

		for (size_t j = sp.b; j < sp.e && !has; j++) {
			const Swarmd__Task *t = p->v.tasks[j].t;

			has = wanted(t) &&
			      t->job_iteration == svc->job_iteration &&
			      strcmp(t->node_id, p->v.nodes[i].id) == 0;
		}
		if (!has && p->v.nodes[i].eligible &&
		    constraints_allow(svc->task, &p->v.nodes[i]) &&
		    !node_has_task(p, rec->id, svc, p->v.nodes[i].id))
			rc_new_task(p, rec, svc, 0, p->v.nodes[i].id, 0);
	}
}

/* ---- history, removal -------------------------------------------------------- */

/* The slot still holds a task: one wanted running, or one still stopping
 * (a stop-first roll or a rollback replaces it once it stopped, and the
 * slot's history must survive that). */
static bool group_has_runnable(const struct pass *p, const Swarmd__Task *t)
{
	const struct span sp = rc_tasks_of(&p->v, t->service_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const Swarmd__Task *o = p->v.tasks[i].t;

		if (rc_same_group(o, t) &&
		    (rc_runnable(o) || (o->state >= TASK_ASSIGNED &&
					!task_state_terminal(o->state))))
			return true;
	}
	for (size_t i = 0; i < p->n_created; i++)
		if (strcmp(p->created[i].t->service_id, t->service_id) == 0 &&
		    p->created[i].t->slot == t->slot &&
		    (t->slot != 0 ||
		     strcmp(p->created[i].t->node_id, t->node_id) == 0))
			return true;
	return false;
}

/* Newer dead tasks of the same group than t. */
static int64_t newer_dead(const struct pass *p, const struct task_rec *tr)
{
	int64_t n = 0;

	const struct span sp = rc_tasks_of(&p->v, tr->t->service_id);

	for (size_t i = sp.b; i < sp.e; i++) {
		const struct task_rec *o = &p->v.tasks[i];

		if (o != tr && rc_same_group(o->t, tr->t) && !rc_runnable(o->t) &&
		    o->rec->created_ns > tr->rec->created_ns)
			n++;
	}
	return n;
}

/* A job's tasks of its current iteration are its result: kept. */
static bool job_kept(const struct pass *p, const Swarmd__Task *t)
{
	const struct store_record *r = store_get(swarm_store(p->r->s),
						 OBJ_SERVICE, t->service_id);
	Swarmd__Service *svc = r ? services_unpack(r) : NULL;
	bool keep = svc != NULL && is_job(svc) &&
		    t->job_iteration == svc->job_iteration &&
		    t->desired_state == TASK_COMPLETE;

	swarmd__service__free_unpacked(svc, NULL);
	return keep;
}

/* Deletes stopped tasks: of removed services, of dropped slots, and beyond
 * the history limit (the limit counts the slot's current task). */
static void prune(struct pass *p)
{
	const struct store *st = swarm_store(p->r->s);
	bool service_gone = false;

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;

		/* The tasks are sorted by service: one lookup per service. */
		if (i == 0 || tr->svc != p->v.tasks[i - 1].svc)
			service_gone =
			    store_get(st, OBJ_SERVICE, t->service_id) == NULL;

		if (service_gone && wanted(t)) {
			rc_set_desired(tr, TASK_REMOVE);
			continue;
		}
		if (rc_runnable(t) || tr->dirty || job_kept(p, t) ||
		    (!task_state_terminal(t->state) && t->state >= TASK_ASSIGNED))
			continue;
		if (service_gone || !group_has_runnable(p, t) ||
		    newer_dead(p, tr) + 1 >= p->v.history_limit)
			tr->deleted = true;
	}
}

/* ---- allocation and scheduling ------------------------------------------------- */

/* What the view's tasks take on each node, counted once per pass. */
static struct nodeusage *usage_of_pass(struct pass *p)
{
	if (p->usage != NULL)
		return p->usage;
	p->usage = nodeusage_new(&p->v, p->r->ix);
	for (size_t i = 0; i < p->v.n_tasks; i++)
		nodeusage_add(p->usage, &p->v.tasks[i]);
	return p->usage;
}

/* Runs the filters on node k for t: -1 when it fits (and *c describes
 * it), else the filter that turned it away. */
static int check_node(struct pass *p, size_t k, const Swarmd__Task *t,
		      struct sched_candidate *c)
{
	struct sched_usage u;
	uint64_t all, failures;
	int f;

	nodeusage_get(usage_of_pass(p), k, t, &u, &all, &failures);
	f = sched_check(p->v.nodes[k].id, p->v.nodes[k].n, t->spec, &u);
	*c = (struct sched_candidate){p->v.nodes[k].id, p->v.nodes[k].n,
				      u.service_tasks, all, failures, k};
	return f;
}

/* Runs the filters on every node (or only on the task's own node for a
 * global task) and lets the scheduler choose among those that fit
 * (sched_pick: spread preferences, recent failures, load). NULL when none
 * fits; counts then say why. */
static const char *pick_node(struct pass *p, const Swarmd__Task *t,
			     size_t counts[SCHED_FILTERS])
{
	struct sched_candidate *c = xcalloc(p->v.n_nodes + 1, sizeof(*c));
	int64_t own = rc_node_index(&p->v, t->node_id);
	/* A global task's own node only; none when that node is gone. */
	size_t k0 = own >= 0 ? (size_t)own : 0;
	size_t k1 = own >= 0 ? k0 + 1 : t->node_id[0] != '\0' ? 0 : p->v.n_nodes;
	const char *best = NULL;
	size_t n = 0;
	int i;

	for (size_t k = k0; k < k1; k++) {
		int f = check_node(p, k, t, &c[n]);

		if (f >= 0)
			counts[f]++;
		else
			n++;
	}
	i = sched_pick(c, n, t->spec ? t->spec->spread : NULL,
		       t->spec ? t->spec->n_spread : 0);
	if (i >= 0)
		best = c[i].node_id;
	free(c);
	return best;
}

/* Puts t on node; the next placement of this pass sees it. A global task
 * named its node already, so the pass's usage counts it. */
static void assign(struct pass *p, struct task_rec *tr, const char *node)
{
	Swarmd__Task *t = tr->t;
	bool counted = t->node_id[0] != '\0';

	if (node != t->node_id) {
		rc_set_str(&t->node_id, node);
		tr->node = rc_node_index(&p->v, node);
	}
	rc_set_str(&t->err, "");
	set_state(&p->v, tr, TASK_ASSIGNED, "scheduler assigned task to node");
	if (!counted)
		nodeusage_add(p->usage, tr);
}

/* Says in the task's error why no node fits it. */
static void unplaced(struct pass *p, struct task_rec *tr,
		     const size_t counts[SCHED_FILTERS])
{
	char reason[256];

	/* Its service is looked at again in every pass until a node takes
	 * it (a node or a task freeing room may change nothing of it). */
	strmap_slot(p->r->unplaced, tr->t->service_id);

	sched_explain(counts, reason, sizeof(reason));
	if (strcmp(tr->t->err, reason) != 0) {
		rc_set_str(&tr->t->err, reason);
		tr->dirty = true;
	}
}

static void schedule_task(struct pass *p, struct task_rec *tr)
{
	size_t counts[SCHED_FILTERS] = {0};
	const char *node = pick_node(p, tr->t, counts);

	if (node == NULL)
		unplaced(p, tr, counts);
	else
		assign(p, tr, node);
}

/* Tasks of one spec placed together (SwarmKit's task groups): the nodes
 * are filtered once into a heap in sched_pick's order; each task takes
 * the top node, checked again against what the group placed there. */
static void schedule_group(struct pass *p, const size_t *idx, size_t n)
{
	size_t counts[SCHED_FILTERS] = {0};
	struct sched_heap h;
	struct sched_candidate c;
	size_t j = 0;

	sched_heap_init(&h, p->v.n_nodes);
	for (size_t k = 0; k < p->v.n_nodes; k++) {
		int f = check_node(p, k, p->v.tasks[idx[0]].t, &c);

		if (f >= 0)
			counts[f]++;
		else
			sched_heap_push(&h, &c);
	}
	/* Every node in the heap fits: placing a task changes its own node
	 * only, which is checked again before it goes back. */
	while (j < n && sched_heap_pop(&h, &c)) {
		struct task_rec *tr = &p->v.tasks[idx[j++]];
		int f;

		assign(p, tr, c.node_id);
		f = check_node(p, c.index, tr->t, &c);
		if (f >= 0)
			counts[f]++; /* full now: out of the group's play */
		else
			sched_heap_push(&h, &c);
	}
	for (; j < n; j++)
		unplaced(p, &p->v.tasks[idx[j]], counts);
	sched_heap_free(&h);
}

/* Whether b can be placed in a's group: same service and spec, no node of
 * its own, no spread preference (those choose per task). */
static bool same_group(const Swarmd__Task *a, const Swarmd__Task *b)
{
	return b->node_id[0] == '\0' && a->spec_version == b->spec_version &&
	       strcmp(a->service_id, b->service_id) == 0;
}

static bool groupable(const Swarmd__Task *t)
{
	return t->node_id[0] == '\0' && (t->spec == NULL || t->spec->n_spread == 0);
}

/* Places the pending tasks idx[0..n), in view order. */
static void schedule_pending(struct pass *p, const size_t *idx, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const Swarmd__Task *t = p->v.tasks[idx[i]].t;
		size_t e = i + 1;

		while (groupable(t) && e < n &&
		       same_group(t, p->v.tasks[idx[e]].t))
			e++;
		if (e - i > 1)
			schedule_group(p, idx + i, e - i);
		else
			schedule_task(p, &p->v.tasks[idx[i]]);
		i = e;
	}
}

/* A delayed restart becomes wanted running (complete for a job) once its
 * delay is over; until then the pass wakes up for it. */
static void release_delayed(struct pass *p, struct task_rec *tr)
{
	const struct store_record *r;
	Swarmd__Service *svc;

	if (still_delayed(&p->v, tr->t) || task_state_terminal(tr->t->state))
		return;
	r = store_get(swarm_store(p->r->s), OBJ_SERVICE, tr->t->service_id);
	svc = r ? services_unpack(r) : NULL;
	rc_set_desired(tr, svc != NULL && is_job(svc) ? TASK_COMPLETE
						      : TASK_RUNNING);
	swarmd__service__free_unpacked(svc, NULL);
}

static void allocate_and_schedule(struct pass *p)
{
	size_t *pending = xcalloc(p->v.n_tasks + 1, sizeof(*pending));
	size_t n = 0;

	for (size_t i = 0; i < p->v.n_tasks; i++) {
		struct task_rec *tr = &p->v.tasks[i];
		Swarmd__Task *t = tr->t;

		if (!wanted(t) || tr->deleted)
			continue;
		if (t->desired_state == TASK_READY)
			release_delayed(p, tr);
		/* A new task is allocated (pending) and placed in one pass,
		 * not one commit each. */
		if (t->state == TASK_NEW)
			set_state(&p->v, tr, TASK_PENDING,
				  "pending task scheduling");
		if (t->state == TASK_PENDING)
			pending[n++] = i;
	}
	schedule_pending(p, pending, n);
	free(pending);
}

/* ---- the pass --------------------------------------------------------------- */

static void set_member(struct strmap *set, const char *id, bool member)
{
	if (member)
		strmap_slot(set, id);
	else
		strmap_remove(set, id);
}

static void reconcile_service(struct pass *p, const struct store_record *r)
{
	Swarmd__Service *svc = services_unpack(r);
	bool wrote = false;

	if (svc == NULL)
		return;
	set_member(p->r->updating, r->id, updater_in_progress(svc));
	set_member(p->r->global, r->id,
		   strcmp(svc->mode, "global") == 0 ||
		       strcmp(svc->mode, "global-job") == 0);
	if (strcmp(svc->mode, "replicated") == 0) {
		restart_and_replace(p, r, svc);
		wrote = updater_step(p, r, svc);
		scale_replicated(p, r, svc);
	} else if (strcmp(svc->mode, "global") == 0) {
		restart_and_replace(p, r, svc);
		wrote = updater_step(p, r, svc);
		scale_global(p, r, svc);
	}
	if (strcmp(svc->mode, "replicated-job") == 0)
		reconcile_replicated_job(p, r, svc);
	else if (strcmp(svc->mode, "global-job") == 0)
		reconcile_global_job(p, r, svc);
	else if (!wrote)
		updater_finish(p, r, svc);
	swarmd__service__free_unpacked(svc, NULL);
}

static void reconcile_services(struct pass *p)
{
	const struct store *st = swarm_store(p->r->s);
	const struct store_record *r;
	const char *id;
	size_t pos = 0;

	if (p->scope == NULL) {
		for (r = store_first(st, OBJ_SERVICE); r != NULL;
		     r = store_next(r))
			reconcile_service(p, r);
		return;
	}
	while ((id = strmap_next(p->scope, &pos, NULL)) != NULL)
		if ((r = store_get(st, OBJ_SERVICE, id)) != NULL)
			reconcile_service(p, r);
}

static void add_keys(struct strmap *to, const struct strmap *from);

/* A change that did not apply is done again: the services of its pass
 * (every service after a pass over all) join the next one. */
static void redo(struct reconciler *r, const struct strmap *scope)
{
	if (scope == NULL)
		r->full = true;
	else
		add_keys(r->dirty_svcs, scope);
	r->dirty = true;
}

/* A pass over every service, at once unless one is in flight. */
static void want_full_pass(struct reconciler *r)
{
	r->full = true;
	r->dirty = true;
	if (!r->in_flight)
		schedule(r, 0);
}

/* The earliest wake-up the passes asked for (0: none). */
static int64_t next_wake(const struct reconciler *r)
{
	int64_t next = r->wake_all, at;
	size_t pos = 0;

	while (strmap_next(r->wakes, &pos, &at) != NULL)
		next = earlier(next, at);
	return next;
}

/* That wake-up, unless a pass comes sooner. */
static void arm_wake(struct reconciler *r)
{
	int64_t next = next_wake(r);
	int64_t ms;

	if (next == 0 || r->in_flight || r->stopping)
		return;
	ms = (next - timefmt_now_ns()) / NS_PER_MS + 1;
	schedule_within(r, (uint64_t)(ms > 0 ? ms : 1));
}

/* The wake-ups that are due join the next pass: the services that asked,
 * or every service. */
static void take_due_wakes(struct reconciler *r)
{
	int64_t now = timefmt_now_ns(), at;
	struct strmap *kept = strmap_new();
	const char *id;
	size_t pos = 0;

	if (r->wake_all != 0 && r->wake_all <= now) {
		r->full = true;
		r->wake_all = 0;
	}
	while ((id = strmap_next(r->wakes, &pos, &at)) != NULL)
		if (at <= now)
			strmap_slot(r->dirty_svcs, id);
		else
			*strmap_slot(kept, id) = at;
	strmap_free(r->wakes);
	r->wakes = kept;
}

static void on_committed(void *data, int status, const struct sw_err *err)
{
	struct reconciler *r = data;

	r->in_flight = false;
	if (status != 0 && !r->stopping) {
		/* Usually a task changed under us (version check): the next
		 * pass sees the new state. */
		log_debug("reconcile: change not applied: %s", err->msg);
		redo(r, r->own_scope);
	}
	forget_own(r);
	if (r->stopping) {
		maybe_free(r);
		return;
	}
	if (r->dirty) {
		schedule(r, status != 0 ? 20 : 0);
		return;
	}
	if (r->stale)
		schedule_within(r, r->settle_ms);
	arm_wake(r);
}

static void renew(struct strmap **set)
{
	strmap_free(*set);
	*set = strmap_new();
}

static void add_keys(struct strmap *to, const struct strmap *from)
{
	const char *id;
	size_t pos = 0;

	while ((id = strmap_next(from, &pos, NULL)) != NULL)
		strmap_slot(to, id);
}

/* What the next pass looks at: NULL for every service, else the services
 * changed since the last pass and those waiting for a node. Either way
 * their update and placement state is worked out afresh. */
static struct strmap *take_scope(struct reconciler *r)
{
	struct strmap *scope;
	const char *id;
	size_t pos = 0;

	if (r->full) {
		r->full = false;
		renew(&r->dirty_svcs);
		renew(&r->unplaced);
		renew(&r->updating);
		renew(&r->global);
		return NULL;
	}
	scope = r->dirty_svcs;
	r->dirty_svcs = strmap_new();
	add_keys(scope, r->unplaced);
	renew(&r->unplaced);
	/* What the pass finds of these services replaces what was known. */
	while ((id = strmap_next(scope, &pos, NULL)) != NULL) {
		strmap_remove(r->updating, id);
		strmap_remove(r->global, id);
	}
	return scope;
}

/* The wake-ups a pass wants replace those of the services it worked on
 * (of every service, for a pass over all). */
static void merge_wakes(struct reconciler *r, struct pass *p)
{
	const char *id;
	size_t pos = 0;
	int64_t at;

	if (p->scope == NULL) {
		strmap_free(r->wakes);
		r->wakes = p->v.wakes;
		p->v.wakes = NULL;
		r->wake_all = p->v.wake_all;
		return;
	}
	while ((id = strmap_next(p->scope, &pos, NULL)) != NULL)
		strmap_remove(r->wakes, id);
	pos = 0;
	while ((id = strmap_next(p->v.wakes, &pos, &at)) != NULL)
		*strmap_slot(r->wakes, id) = at;
	r->wake_all = earlier(r->wake_all, p->v.wake_all);
}

static void run_pass(struct reconciler *r)
{
	struct pass p = {.r = r};
	struct strmap *scope = take_scope(r);
	const struct store *st = swarm_store(r->s);
	bool full = scope == NULL;
	struct sw_err err;
	uint64_t t0 = uv_hrtime();

	r->dirty = false;
	r->stale = false;
	p.scope = scope;
	load_view(&p.v, r, scope);
	change_init(&p.c, p.v.now);
	orphan_tasks(&p.v);
	reconcile_services(&p);
	prune(&p);
	adopt_created(&p);
	allocate_and_schedule(&p);
	flush_tasks(&p);
	merge_wakes(r, &p);
	if (p.c.n_ops > 0) {
		/* The change in flight keeps the pass's services. */
		remember_own(r, &p.c, scope);
		scope = NULL;
		r->in_flight = true;
		if (swarm_propose(r->s, &p.c, on_committed, r, &err) != 0) {
			r->in_flight = false;
			redo(r, r->own_scope);
			forget_own(r);
			schedule(r, 100);
		}
	}
	if (!r->dirty)
		arm_wake(r);
	change_free(&p.c);
	nodeusage_free(p.usage);
	free_view(&p.v, r->cache, full, store_count(st, OBJ_TASK));
	strmap_free(scope);
	r->settle_ms = settle_after(uv_hrtime() - t0);
}

static void on_timer(uv_timer_t *t)
{
	struct reconciler *r = t->data;

	if (r->stopping || r->in_flight)
		return;
	if (!swarm_is_leader(r->s)) {
		/* The first pass as leader looks at everything. */
		r->full = true;
		renew(&r->dirty_svcs);
		r->dirty = true;
		schedule(r, 200);
		return;
	}
	take_due_wakes(r);
	run_pass(r);
}

static void schedule(struct reconciler *r, uint64_t ms)
{
	if (!r->stopping)
		uv_timer_start(&r->timer, on_timer, ms, 0);
}

/* Runs a pass within ms: an earlier one already due stays. */
static void schedule_within(struct reconciler *r, uint64_t ms)
{
	if (uv_is_active((uv_handle_t *)&r->timer) &&
	    uv_timer_get_due_in(&r->timer) <= ms)
		return;
	schedule(r, ms);
}

enum { SETTLE_MAX_MS = 500 };

static uint64_t settle_after(uint64_t pass_ns)
{
	uint64_t ms = 2 * pass_ns / 1000000;

	return ms < SETTLE_MAX_MS ? ms : SETTLE_MAX_MS;
}

void reconciler_poke(struct reconciler *r)
{
	want_full_pass(r);
}

/* A task's status moved on (a node's report) and nothing the reconciler
 * decides on changed: not its placement, not what is wanted of it, and it
 * has not ended. c is the peek of e->cur. */
static bool status_only(const struct store_event *e, const struct task_peek *c)
{
	struct task_peek o;

	return e->type == STORE_EVENT_UPDATE && tasks_peek(e->old, &o) &&
	       o.desired_state == c->desired_state &&
	       !task_state_terminal(c->state) && o.node_len == c->node_len &&
	       memcmp(o.node, c->node, c->node_len) == 0;
}

/* Marks the services of the tasks node_id was given. */
static void add_services_on(struct reconciler *r, const char *node_id)
{
	const struct strmap *ids = taskindex_tasks_on(r->ix, node_id);
	const char *id, *svc;
	size_t pos = 0;

	while (ids != NULL && (id = strmap_next(ids, &pos, NULL)) != NULL)
		if ((svc = taskindex_service_of(r->ix, id)) != NULL)
			strmap_slot(r->dirty_svcs, svc);
}

/* Notes what one event asks of the next pass; true when that pass is
 * wanted at once, false for a status report that can wait (*report) or
 * changes nothing the passes decide. */
static bool note_event(struct reconciler *r, const struct store_event *e,
		       bool own, bool *report)
{
	struct task_peek pk;
	char *svc;
	bool now = true;

	switch (e->kind) {
	case OBJ_SERVICE:
		strmap_slot(r->dirty_svcs, e->id);
		return true;
	case OBJ_TASK:
		if (!tasks_peek(e->cur != NULL ? e->cur : e->old, &pk)) {
			r->full = true;
			return true;
		}
		svc = xstrndup(pk.service, pk.service_len);
		if (!own && status_only(e, &pk)) {
			/* Only an update's batches wait for RUNNING. */
			now = false;
			if (strmap_find(r->updating, svc) != NULL) {
				*report = true;
				strmap_slot(r->dirty_svcs, svc);
			}
		} else {
			strmap_slot(r->dirty_svcs, svc);
		}
		free(svc);
		return now;
	case OBJ_NODE:
		/* It concerns the services of the tasks it was given (moved
		 * off a node down or drained) and the global ones; those
		 * waiting for a node are in every pass. */
		if (!r->nodes_stale)
			apply_node_event(&r->nodes, e, r->ix);
		add_services_on(r, e->id);
		add_keys(r->dirty_svcs, r->global);
		return true;
	default:
		/* The cluster (history limit), networks, secrets...: rare. */
		r->full = true;
		return true;
	}
}

/* Status reports of a running update wait twice the duration of the last
 * pass for the next one: under a stream of reports the loop keeps most of
 * its time for the reports and the API. Anything else (but reports while
 * no update runs: they change nothing a pass decides) starts a pass at
 * once, over the services it concerns. */
static void on_store_event(struct store_watcher *w, uint64_t index, bool reset,
			   const struct store_event *evs, size_t n)
{
	struct reconciler *r = w->data;
	bool own, now = false, report = false;

	if (reset) {
		taskindex_rebuild(r->ix, swarm_store(r->s));
		r->nodes_stale = true;
		want_full_pass(r);
		return;
	}
	for (size_t i = 0; i < n; i++)
		taskindex_apply(r->ix, &evs[i]);
	/* New tasks are placed in the pass that creates them: a pass that
	 * only created tasks leaves nothing for the next one. Anything else
	 * it wrote may (a task wanted shut down is pruned a pass later, a
	 * rollback's spec is reconciled in the next). */
	own = own_write(r, evs, n);
	if (own && r->own_creates_only)
		return;
	for (size_t i = 0; i < n; i++)
		now |= note_event(r, &evs[i], own, &report);
	if (now) {
		r->dirty = true;
		if (!r->in_flight)
			schedule(r, 0);
		return;
	}
	if (!report)
		return;
	r->stale = true;
	if (!r->in_flight)
		schedule_within(r, r->settle_ms);
}

struct reconciler *reconciler_start(uv_loop_t *loop, struct swarm *s)
{
	struct reconciler *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->s = s;
	r->cache = verscache_new(free_task);
	r->ix = taskindex_new();
	taskindex_rebuild(r->ix, swarm_store(s));
	r->nodes_stale = true;
	r->dirty_svcs = strmap_new();
	r->unplaced = strmap_new();
	r->updating = strmap_new();
	r->global = strmap_new();
	r->wakes = strmap_new();
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	r->watcher.data = r;
	store_watch((struct store *)swarm_store(s), &r->watcher,
		    on_store_event);
	r->watching = true;
	want_full_pass(r);
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

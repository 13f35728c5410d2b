#include "orchestrator/taskindex.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/strmap.h"
#include "orchestrator/services.h"
#include "orchestrator/task.h"

/* The maps' values are pointers to these, owned by the index. */

/* The tasks of one service or of one node: made with its first task,
 * dropped with its last. */
struct ix_group {
	char *id;             /* the service's or node's */
	struct strmap *tasks; /* task IDs, values unused */
};

struct ix_task {
	struct ix_group *svc;
	bool broken;            /* does not unpack: a pass skips it too */
	struct node_load share; /* what it takes while live (tasks = 1) */
	struct ix_group *node;  /* the node it was given, NULL: none yet */
	bool counted;           /* its share is in that node's load */
};

struct taskindex {
	struct strmap *tasks;    /* task ID -> struct ix_task * */
	struct strmap *services; /* service ID -> struct ix_group * */
	struct strmap *placed;   /* node ID -> struct ix_group * */
	struct strmap *loads;    /* node ID -> struct node_load * */
};

static void *ptr_of(const int64_t *v)
{
	return v != NULL ? (void *)(intptr_t)*v : NULL;
}

static void put_ptr(struct strmap *m, const char *key, void *p)
{
	*strmap_slot(m, key) = (int64_t)(intptr_t)p;
}

static void new_maps(struct taskindex *ix)
{
	ix->tasks = strmap_new();
	ix->services = strmap_new();
	ix->loads = strmap_new();
	ix->placed = strmap_new();
}

struct taskindex *taskindex_new(void)
{
	struct taskindex *ix = xcalloc(1, sizeof(*ix));

	new_maps(ix);
	return ix;
}

/* ---- groups ------------------------------------------------------------------ */

static void free_group(struct ix_group *g)
{
	strmap_free(g->tasks);
	free(g->id);
	free(g);
}

/* Adds task_id to the group of key in groups; returns that group. */
static struct ix_group *group_join(struct strmap *groups, const char *key,
				   const char *task_id)
{
	struct ix_group *g = ptr_of(strmap_find(groups, key));

	if (g == NULL) {
		g = xcalloc(1, sizeof(*g));
		g->id = xstrdup(key);
		g->tasks = strmap_new();
		put_ptr(groups, key, g);
	}
	strmap_slot(g->tasks, task_id);
	return g;
}

static void group_leave(struct strmap *groups, struct ix_group *g,
			const char *task_id)
{
	strmap_remove(g->tasks, task_id);
	if (strmap_count(g->tasks) > 0)
		return;
	strmap_remove(groups, g->id);
	free_group(g);
}

static const struct strmap *group_tasks(const struct strmap *groups,
					const char *key)
{
	const struct ix_group *g = ptr_of(strmap_find(groups, key));

	return g != NULL ? g->tasks : NULL;
}

static void free_groups(struct strmap *groups)
{
	size_t pos = 0;
	int64_t v;

	while (strmap_next(groups, &pos, &v) != NULL)
		free_group(ptr_of(&v));
	strmap_free(groups);
}

static void clear(struct taskindex *ix)
{
	size_t pos = 0;
	int64_t v;

	while (strmap_next(ix->tasks, &pos, &v) != NULL) {
		struct ix_task *t = ptr_of(&v);

		free(t->share.ports);
		free(t);
	}
	pos = 0;
	while (strmap_next(ix->loads, &pos, &v) != NULL) {
		struct node_load *l = ptr_of(&v);

		free(l->ports);
		free(l);
	}
	free_groups(ix->services);
	free_groups(ix->placed);
	strmap_free(ix->tasks);
	strmap_free(ix->loads);
}

void taskindex_free(struct taskindex *ix)
{
	if (ix == NULL)
		return;
	clear(ix);
	free(ix);
}

/* ---- node loads ---------------------------------------------------------- */

static void add_ports(struct node_load *to, const uint32_t *ports, size_t n)
{
	if (n == 0)
		return;
	to->ports = xrealloc(to->ports, (to->n_ports + n) * sizeof(*to->ports));
	memcpy(to->ports + to->n_ports, ports, n * sizeof(*ports));
	to->n_ports += n;
}

/* Takes one occurrence of each port off (order is not kept). */
static void remove_ports(struct node_load *from, const uint32_t *ports,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < from->n_ports; j++)
			if (from->ports[j] == ports[i]) {
				from->ports[j] = from->ports[--from->n_ports];
				break;
			}
}

void node_load_add(struct node_load *to, const struct node_load *share)
{
	to->tasks += share->tasks;
	to->nano_cpus += share->nano_cpus;
	to->memory_bytes += share->memory_bytes;
	add_ports(to, share->ports, share->n_ports);
}

void node_load_sub(struct node_load *from, const struct node_load *share)
{
	from->tasks -= share->tasks;
	from->nano_cpus -= share->nano_cpus;
	from->memory_bytes -= share->memory_bytes;
	remove_ports(from, share->ports, share->n_ports);
}

/* Loads are kept once made, empty or not, so their addresses stay put
 * until the next rebuild (taskindex_load_slot). */
static struct node_load *load_slot(struct taskindex *ix, const char *node)
{
	struct node_load *l = ptr_of(strmap_find(ix->loads, node));

	if (l == NULL) {
		l = xcalloc(1, sizeof(*l));
		put_ptr(ix->loads, node, l);
	}
	return l;
}

static bool is_live(const struct task_peek *pk)
{
	return pk->desired_state <= TASK_RUNNING &&
	       !task_state_terminal(pk->state) && pk->node_len > 0;
}

/* Once placed (t->node as pk says). */
static void count(struct taskindex *ix, struct ix_task *t,
		  const struct task_peek *pk)
{
	if (t->broken || !is_live(pk))
		return;
	node_load_add(load_slot(ix, t->node->id), &t->share);
	t->counted = true;
}

static void uncount(struct taskindex *ix, struct ix_task *t)
{
	if (!t->counted)
		return;
	node_load_sub(load_slot(ix, t->node->id), &t->share);
	t->counted = false;
}

/* ---- the tasks given to each node ----------------------------------------- */

static void unplace(struct taskindex *ix, struct ix_task *t, const char *id)
{
	if (t->node == NULL)
		return;
	group_leave(ix->placed, t->node, id);
	t->node = NULL;
}

static void place(struct taskindex *ix, struct ix_task *t, const char *id,
		  const struct task_peek *pk)
{
	char *node;

	if (t->node != NULL && strlen(t->node->id) == pk->node_len &&
	    memcmp(t->node->id, pk->node, pk->node_len) == 0)
		return;
	unplace(ix, t, id);
	if (pk->node_len == 0)
		return;
	node = xstrndup(pk->node, pk->node_len);
	t->node = group_join(ix->placed, node, id);
	free(node);
}

/* Where the task's share counts and which node holds it, as rec says. */
static void follow(struct taskindex *ix, struct ix_task *t, const char *id,
		   const struct store_record *rec)
{
	struct task_peek pk;

	uncount(ix, t);
	if (t->broken || !tasks_peek(rec, &pk)) {
		unplace(ix, t, id);
		return;
	}
	place(ix, t, id, &pk);
	count(ix, t, &pk);
}

/* ---- tasks ------------------------------------------------------------------ */

void node_load_of_task(const Swarmd__Task *t, struct node_load *share)
{
	const Swarmd__TaskSpec *s = t->spec;

	share->tasks = 1;
	if (s == NULL)
		return;
	share->nano_cpus = s->reserve_nano_cpus;
	share->memory_bytes = s->reserve_memory_bytes;
	for (size_t i = 0; i < s->n_ports; i++)
		if (strcmp(s->ports[i]->mode, "host") == 0)
			add_ports(share, &s->ports[i]->published, 1);
}

static void add_task(struct taskindex *ix, const struct store_record *rec)
{
	Swarmd__Task *u = tasks_unpack(rec);
	struct ix_task *t = xcalloc(1, sizeof(*t));

	t->broken = u == NULL;
	if (u != NULL)
		node_load_of_task(u, &t->share);
	t->svc = group_join(ix->services, u != NULL ? u->service_id : "",
			    rec->id);
	put_ptr(ix->tasks, rec->id, t);
	follow(ix, t, rec->id, rec);
	swarmd__task__free_unpacked(u, NULL);
}

static void remove_task(struct taskindex *ix, const char *id)
{
	struct ix_task *t = ptr_of(strmap_find(ix->tasks, id));

	if (t == NULL)
		return;
	uncount(ix, t);
	unplace(ix, t, id);
	group_leave(ix->services, t->svc, id);
	strmap_remove(ix->tasks, id);
	free(t->share.ports);
	free(t);
}

void taskindex_rebuild(struct taskindex *ix, const struct store *st)
{
	clear(ix);
	new_maps(ix);
	for (const struct store_record *r = store_first(st, OBJ_TASK);
	     r != NULL; r = store_next(r))
		add_task(ix, r);
}

void taskindex_apply(struct taskindex *ix, const struct store_event *e)
{
	struct ix_task *t;

	if (e->kind != OBJ_TASK)
		return;
	t = ptr_of(strmap_find(ix->tasks, e->id));
	if (e->type == STORE_EVENT_DELETE) {
		remove_task(ix, e->id);
	} else if (t == NULL || t->broken) {
		/* A version that unpacks tells the service and spec. */
		remove_task(ix, e->id);
		add_task(ix, e->cur);
	} else {
		/* A task's service and spec never change: only where and
		 * whether it counts. */
		follow(ix, t, e->id, e->cur);
	}
}

/* ---- queries ---------------------------------------------------------------- */

const struct strmap *taskindex_tasks_of(const struct taskindex *ix,
					const char *svc_id)
{
	return group_tasks(ix->services, svc_id);
}

const struct node_load *taskindex_load(const struct taskindex *ix,
				       const char *node_id)
{
	const struct node_load *l = ptr_of(strmap_find(ix->loads, node_id));

	return l != NULL && l->tasks > 0 ? l : NULL;
}

const struct node_load *taskindex_load_slot(struct taskindex *ix,
					    const char *node_id)
{
	return load_slot(ix, node_id);
}

bool taskindex_share(const struct taskindex *ix, const char *task_id,
		     const char **node, const struct node_load **share)
{
	const struct ix_task *t = ptr_of(strmap_find(ix->tasks, task_id));

	if (t == NULL || !t->counted)
		return false;
	*node = t->node->id;
	*share = &t->share;
	return true;
}

const struct strmap *taskindex_tasks_on(const struct taskindex *ix,
					const char *node_id)
{
	return group_tasks(ix->placed, node_id);
}

const char *taskindex_service_of(const struct taskindex *ix,
				 const char *task_id)
{
	const struct ix_task *t = ptr_of(strmap_find(ix->tasks, task_id));

	return t != NULL ? t->svc->id : NULL;
}

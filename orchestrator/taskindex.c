#include "orchestrator/taskindex.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/strmap.h"
#include "orchestrator/services.h"
#include "orchestrator/task.h"

/* The maps' values are pointers to these, owned by the index. */
struct ix_service {
	char *id;
	struct strmap *tasks; /* task IDs, values unused */
};

struct ix_task {
	struct ix_service *svc;
	bool broken;            /* does not unpack: a pass skips it too */
	struct node_load share; /* what it takes while live (tasks = 1) */
	char *placed;           /* the node it was given, NULL: none yet */
	bool counted;           /* its share is in that node's load */
};

struct taskindex {
	struct strmap *tasks;    /* task ID -> struct ix_task * */
	struct strmap *services; /* service ID -> struct ix_service * */
	struct strmap *loads;    /* node ID -> struct node_load * */
	struct strmap *placed;   /* node ID -> struct strmap * of task IDs */
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

static void clear(struct taskindex *ix)
{
	size_t pos = 0;
	int64_t v;

	while (strmap_next(ix->tasks, &pos, &v) != NULL) {
		struct ix_task *t = ptr_of(&v);

		free(t->share.ports);
		free(t->placed);
		free(t);
	}
	pos = 0;
	while (strmap_next(ix->services, &pos, &v) != NULL) {
		struct ix_service *s = ptr_of(&v);

		strmap_free(s->tasks);
		free(s->id);
		free(s);
	}
	pos = 0;
	while (strmap_next(ix->loads, &pos, &v) != NULL) {
		struct node_load *l = ptr_of(&v);

		free(l->ports);
		free(l);
	}
	pos = 0;
	while (strmap_next(ix->placed, &pos, &v) != NULL)
		strmap_free(ptr_of(&v));
	strmap_free(ix->placed);
	strmap_free(ix->tasks);
	strmap_free(ix->services);
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

/* Once placed (t->placed as pk says). */
static void count(struct taskindex *ix, struct ix_task *t,
		  const struct task_peek *pk)
{
	if (t->broken || !is_live(pk))
		return;
	node_load_add(load_slot(ix, t->placed), &t->share);
	t->counted = true;
}

static void uncount(struct taskindex *ix, struct ix_task *t)
{
	if (!t->counted)
		return;
	node_load_sub(load_slot(ix, t->placed), &t->share);
	t->counted = false;
}

/* ---- the tasks given to each node ----------------------------------------- */

static void unplace(struct taskindex *ix, struct ix_task *t, const char *id)
{
	struct strmap *set;

	if (t->placed == NULL)
		return;
	set = ptr_of(strmap_find(ix->placed, t->placed));
	if (set != NULL) {
		strmap_remove(set, id);
		if (strmap_count(set) == 0) {
			strmap_free(set);
			strmap_remove(ix->placed, t->placed);
		}
	}
	free(t->placed);
	t->placed = NULL;
}

static void place(struct taskindex *ix, struct ix_task *t, const char *id,
		  const struct task_peek *pk)
{
	struct strmap *set;

	if (t->placed != NULL && strlen(t->placed) == pk->node_len &&
	    memcmp(t->placed, pk->node, pk->node_len) == 0)
		return;
	unplace(ix, t, id);
	if (pk->node_len == 0)
		return;
	t->placed = xstrndup(pk->node, pk->node_len);
	set = ptr_of(strmap_find(ix->placed, t->placed));
	if (set == NULL) {
		set = strmap_new();
		put_ptr(ix->placed, t->placed, set);
	}
	strmap_slot(set, id);
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

static struct ix_service *service(struct taskindex *ix, const char *id)
{
	struct ix_service *s = ptr_of(strmap_find(ix->services, id));

	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->id = xstrdup(id);
		s->tasks = strmap_new();
		put_ptr(ix->services, id, s);
	}
	return s;
}

static void add_task(struct taskindex *ix, const struct store_record *rec)
{
	Swarmd__Task *u = tasks_unpack(rec);
	struct ix_task *t = xcalloc(1, sizeof(*t));

	t->broken = u == NULL;
	if (u != NULL)
		node_load_of_task(u, &t->share);
	t->svc = service(ix, u != NULL ? u->service_id : "");
	*strmap_slot(t->svc->tasks, rec->id) = 1;
	put_ptr(ix->tasks, rec->id, t);
	follow(ix, t, rec->id, rec);
	swarmd__task__free_unpacked(u, NULL);
}

static void remove_task(struct taskindex *ix, const char *id)
{
	struct ix_task *t = ptr_of(strmap_find(ix->tasks, id));
	struct ix_service *s;

	if (t == NULL)
		return;
	uncount(ix, t);
	unplace(ix, t, id);
	s = t->svc;
	strmap_remove(s->tasks, id);
	if (strmap_count(s->tasks) == 0) {
		strmap_remove(ix->services, s->id);
		strmap_free(s->tasks);
		free(s->id);
		free(s);
	}
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
	const struct ix_service *s = ptr_of(strmap_find(ix->services, svc_id));

	return s != NULL ? s->tasks : NULL;
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
	*node = t->placed;
	*share = &t->share;
	return true;
}

const struct strmap *taskindex_tasks_on(const struct taskindex *ix,
					const char *node_id)
{
	return ptr_of(strmap_find(ix->placed, node_id));
}

const char *taskindex_service_of(const struct taskindex *ix,
				 const char *task_id)
{
	const struct ix_task *t = ptr_of(strmap_find(ix->tasks, task_id));

	return t != NULL ? t->svc->id : NULL;
}

#include "orchestrator/nodeusage.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/strmap.h"
#include "orchestrator/reconcile_priv.h"
#include "orchestrator/taskindex.h"
#include "orchestrator/task.h"

struct nodeusage {
	const struct view *v; /* borrowed */
	struct node_load *nodes;
	/* The counts of the service (and spec version) being placed, by
	 * node index. */
	char *cur_svc;
	uint64_t cur_version;
	uint64_t *cur_live;
	uint64_t *cur_failed;
};

/* The index's loads stand for the store's tasks; the view's own tasks are
 * taken off them, to be counted as the pass leaves them. */
struct nodeusage *nodeusage_new(const struct view *v,
				const struct taskindex *ix)
{
	struct nodeusage *u = xcalloc(1, sizeof(*u));

	u->v = v;
	u->nodes = xcalloc(v->n_nodes + 1, sizeof(*u->nodes));
	u->cur_live = xcalloc(v->n_nodes + 1, sizeof(*u->cur_live));
	u->cur_failed = xcalloc(v->n_nodes + 1, sizeof(*u->cur_failed));
	for (size_t i = 0; i < v->n_nodes; i++)
		node_load_add(&u->nodes[i], v->nodes[i].load);
	for (size_t i = 0; i < v->n_loaded; i++) {
		const struct node_load *share;
		const char *node;
		int64_t k;

		if (taskindex_share(ix, v->tasks[i].rec->id, &node, &share) &&
		    (k = rc_node_index(v, node)) >= 0)
			node_load_sub(&u->nodes[k], share);
	}
	return u;
}

void nodeusage_free(struct nodeusage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->v->n_nodes; i++)
		free(u->nodes[i].ports);
	free(u->nodes);
	free(u->cur_live);
	free(u->cur_failed);
	free(u->cur_svc);
	free(u);
}

static bool is_live(const Swarmd__Task *t)
{
	return rc_runnable(t) && !task_state_terminal(t->state);
}

static bool failed_lately(const struct nodeusage *u, const Swarmd__Task *t)
{
	return (t->state == TASK_FAILED || t->state == TASK_REJECTED) &&
	       t->timestamp_ns >= u->v->now - SCHED_FAILURE_WINDOW_NS;
}

static bool is_current(const struct nodeusage *u, const Swarmd__Task *t)
{
	return u->cur_svc != NULL && strcmp(u->cur_svc, t->service_id) == 0;
}

/* What t adds to the counts of the service being placed. */
static void add_current(struct nodeusage *u, int64_t i, const Swarmd__Task *t)
{
	if (is_live(t))
		u->cur_live[i]++;
	else if (failed_lately(u, t) && t->spec_version == u->cur_version)
		u->cur_failed[i]++;
}

void nodeusage_add(struct nodeusage *u, const struct task_rec *tr)
{
	const Swarmd__Task *t = tr->t;
	int64_t i = tr->node;
	struct node_load share = {0};

	if (i < 0)
		return;
	if (is_current(u, t))
		add_current(u, i, t);
	if (!is_live(t))
		return;
	node_load_of_task(t, &share);
	node_load_add(&u->nodes[i], &share);
	free(share.ports);
}

static void count_current(struct nodeusage *u, const struct task_rec *o)
{
	if (o->node >= 0)
		add_current(u, o->node, o->t);
}

/* Counts t's service and spec version by node, from its tasks alone. */
static void select_service(struct nodeusage *u, const Swarmd__Task *t)
{
	struct span sp;

	if (is_current(u, t) && u->cur_version == t->spec_version)
		return;
	free(u->cur_svc);
	u->cur_svc = xstrdup(t->service_id);
	u->cur_version = t->spec_version;
	memset(u->cur_live, 0, u->v->n_nodes * sizeof(*u->cur_live));
	memset(u->cur_failed, 0, u->v->n_nodes * sizeof(*u->cur_failed));
	sp = rc_tasks_of(u->v, t->service_id);
	for (size_t k = sp.b; k < sp.e; k++)
		count_current(u, &u->v->tasks[k]);
	/* The pass's new tasks follow the spans. */
	for (size_t k = u->v->n_loaded; k < u->v->n_tasks; k++)
		if (is_current(u, u->v->tasks[k].t))
			count_current(u, &u->v->tasks[k]);
}

void nodeusage_get(struct nodeusage *u, size_t i, const Swarmd__Task *t,
		   struct sched_usage *out, uint64_t *tasks,
		   uint64_t *failures)
{
	const struct node_load *n = &u->nodes[i];

	select_service(u, t);
	memset(out, 0, sizeof(*out));
	out->nano_cpus = n->nano_cpus;
	out->memory_bytes = n->memory_bytes;
	out->ports = n->ports;
	out->n_ports = n->n_ports;
	out->service_tasks = u->cur_live[i];
	*tasks = n->tasks;
	*failures = u->cur_failed[i];
}

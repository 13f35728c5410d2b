/* What the reconciler's parts share: the view of one pass and the change
 * it builds. Private to reconcile.c and updater.c. */
#ifndef SW_ORCH_RECONCILE_PRIV_H
#define SW_ORCH_RECONCILE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "orchestrator/services.h"

struct reconciler;
struct strmap;
struct nodeusage;
struct node_load;

/* One pass's view of the world, decoded once. */
struct view {
	struct task_rec {
		const struct store_record *rec; /* NULL for a new task */
		char *new_id; /* a new task's ID (owned) */
		Swarmd__Task *t;
		int64_t node; /* t's node in nodes, -1 for none (or unknown) */
		bool dirty;   /* write it back at the end of the pass */
		bool deleted; /* delete it at the end of the pass */
		uint32_t svc;   /* sort keys: service number, */
		uint64_t order; /* then ID hash */
	} *tasks;
	size_t n_tasks;
	/* tasks[0, n_loaded) are the store's; the pass appends the tasks it
	 * creates after them (outside the service spans) to place them. */
	size_t n_loaded;
	struct node_rec {
		const char *id;
		bool eligible; /* ready and active: takes new tasks */
		bool invalid;  /* down or drained: its tasks are replaced */
		int64_t down_since; /* last change of a down node, else 0 */
		Swarmd__Node *n;
		/* What the store's live tasks take on it (the reconciler's
		 * taskindex, kept current). */
		const struct node_load *load;
	} *nodes;
	size_t n_nodes;
	struct strmap *node_index; /* node ID -> index in nodes */
	struct strmap *svc_index;  /* see rc_tasks_of */
	int64_t history_limit;
	int64_t now;
	/* When the passes are wanted again: each service's earliest (a
	 * restart delay, an update's monitor period; service ID -> ns), and
	 * one over every service (an orphan deadline; 0 for none). */
	struct strmap *wakes;
	int64_t wake_all;
};

struct pass {
	struct reconciler *r;
	struct view v;
	struct nodeusage *usage; /* built at the first placement */
	struct change c;
	/* Tasks this pass creates, owned here until the view takes them (after
	 * the services were reconciled and pruned): they are placed in the
	 * same pass and written once, already assigned. */
	struct task_rec *created;
	size_t n_created;
	/* The services this pass works on (task IDs in the view are theirs),
	 * NULL for all. */
	const struct strmap *scope;
};


/* The view's tasks of one service are tasks[b, e): the view keeps them
 * sorted by service, so a service's work does not scan every task. */
struct span {
	size_t b, e;
};
struct span rc_tasks_of(const struct view *v, const char *svc_id);
/* The index of node id in v->nodes, -1 for "" or a node not in the view. */
int64_t rc_node_index(const struct view *v, const char *id);

/* Wants a pass over service svc_id (over every service for NULL) at `at`
 * (ns), unless one is wanted earlier. */
void rc_wake_at(struct view *v, int64_t at, const char *svc_id);

/* Replaces a string of an unpacked message; protobuf-c frees it later. */
void rc_set_str(char **slot, const char *value);
void rc_set_desired(struct task_rec *tr, int desired);
/* Creates a task of svc in slot (or on node_id for global services),
 * startable after delay_ns (see pass.created). */
void rc_new_task(struct pass *p, const struct store_record *svc_rec,
		 const Swarmd__Service *svc, uint64_t slot, const char *node_id,
		 int64_t delay_ns);
bool rc_runnable(const Swarmd__Task *t);
/* Replicated or global job. */
bool is_job(const Swarmd__Service *svc);
bool rc_same_group(const Swarmd__Task *a, const Swarmd__Task *b);

/* updater.c: rolling updates and the UpdateStatus lifecycle. */
/* Starts the next batch of a rolling update, finishes start-first slots,
 * and applies the failure action. Returns true when it wrote the service
 * into the pass's change (nothing else may write it in that pass). */
bool updater_step(struct pass *p, const struct store_record *rec,
		  Swarmd__Service *svc);
/* True when t keeps its slot (or node) from getting a new task: it is
 * runnable, or it is an outdated task still stopping for a stop-first
 * update. */
bool updater_occupies(const Swarmd__Service *svc, const Swarmd__Task *t);
/* True while the service's update or rollback runs: its batches wait for
 * tasks to reach RUNNING. */
bool updater_in_progress(const Swarmd__Service *svc);
/* Marks an update completed once the service converged and stayed so for
 * the monitor period. */
void updater_finish(struct pass *p, const struct store_record *rec,
		    Swarmd__Service *svc);

#endif

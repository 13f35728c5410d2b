/* What the reconciler knows of every stored task between its passes, kept
 * current from the store's events: the tasks of each service, so a pass
 * reads only the services it works on; the tasks given to each node, so a
 * node's change concerns only their services; and what the live tasks take
 * on each node, so placing a task does not walk every task.
 *
 * A live task is wanted running (desired state up to RUNNING), has not
 * ended and has a node. Each task's share is remembered as it was added,
 * and exactly that is taken off again when the task changes or goes: the
 * totals cannot drift from the tasks. */
#ifndef SW_ORCH_TASKINDEX_H
#define SW_ORCH_TASKINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/services.h"
#include "orchestrator/store.h"

struct taskindex;
struct strmap;

/* What live tasks take on one node, or one task's share of it. */
struct node_load {
	uint64_t tasks;
	int64_t nano_cpus;    /* reserved */
	int64_t memory_bytes; /* reserved */
	uint32_t *ports;      /* host-mode published ports, one per task */
	size_t n_ports;
};

/* Adds share to (or takes it off) a load: counts, reservations, ports. */
void node_load_add(struct node_load *to, const struct node_load *share);
void node_load_sub(struct node_load *from, const struct node_load *share);

/* What t takes while live, into a zeroed share (its ports allocated): one
 * task, its reservations and host ports. */
void node_load_of_task(const Swarmd__Task *t, struct node_load *share);

struct taskindex *taskindex_new(void);
void taskindex_free(struct taskindex *ix);

/* Forgets everything and reads every task of st. */
void taskindex_rebuild(struct taskindex *ix, const struct store *st);
/* Follows one applied store event; events of other kinds are ignored. */
void taskindex_apply(struct taskindex *ix, const struct store_event *e);

/* The IDs of the tasks of service svc_id (values unused), or NULL when it
 * has none. Borrowed until the next rebuild or apply. */
const struct strmap *taskindex_tasks_of(const struct taskindex *ix,
					const char *svc_id);
/* The IDs of the tasks given to node node_id, whatever their state, or
 * NULL when it has none. Borrowed until the next rebuild or apply. */
const struct strmap *taskindex_tasks_on(const struct taskindex *ix,
					const char *node_id);
/* The service of task task_id, NULL for a task not known. */
const char *taskindex_service_of(const struct taskindex *ix,
				 const char *task_id);
/* What the live tasks take on node_id, or NULL when none runs there. */
const struct node_load *taskindex_load(const struct taskindex *ix,
				       const char *node_id);
/* The same, kept current, at an address that stays valid until the next
 * rebuild or free (empty while no live task runs there): a pass holds one
 * per node rather than looking each up. */
const struct node_load *taskindex_load_slot(struct taskindex *ix,
					    const char *node_id);
/* The share task_id has in its node's load (*node names that node); false
 * when the task counts nowhere. Borrowed until the next rebuild or apply. */
bool taskindex_share(const struct taskindex *ix, const char *task_id,
		     const char **node, const struct node_load **share);

#endif

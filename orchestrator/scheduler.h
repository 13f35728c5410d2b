/* Where a task may run: SwarmKit's node filters, in its order (ready and
 * active, resources, constraints, platform, host-mode ports, max replicas
 * per node), Docker's "no suitable node (...)" explanation, and the choice
 * among the nodes that fit (spread preferences, recent failures, load).
 * Pure: no store, no loop. */
#ifndef SW_ORCH_SCHEDULER_H
#define SW_ORCH_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/objects.pb-c.h"

enum sched_filter {
	SCHED_READY = 0,
	SCHED_RESOURCES,
	SCHED_CONSTRAINTS,
	SCHED_PLATFORM,
	SCHED_PORTS,
	SCHED_MAX_REPLICAS,
	SCHED_FILTERS,
};

/* What already runs on a node (tasks that are not over). */
struct sched_usage {
	int64_t nano_cpus;     /* reserved */
	int64_t memory_bytes;  /* reserved */
	uint64_t service_tasks; /* of the service being placed */
	const uint32_t *ports;  /* host ports published on the node */
	size_t n_ports;
};

/* The first filter node fails for a task of spec, or -1 when it fits. */
int sched_check(const char *node_id, const Swarmd__Node *node,
		const Swarmd__TaskSpec *spec, const struct sched_usage *used);

/* One constraint ("node.labels.zone==a", "node.role!=manager", ...)
 * against a node; values compare case-insensitively, as SwarmKit's do. An
 * unparsable expression matches nothing. */
bool sched_constraint_match(const char *expr, const char *node_id,
			    const Swarmd__Node *node);

/* SwarmKit's rule for nodes where the service keeps failing: a node with
 * at least this many failures of the service's current spec within the
 * window is tried after the others. */
enum { SCHED_MAX_FAILURES = 5 };
#define SCHED_FAILURE_WINDOW_NS (5LL * 60 * 1000000000)

/* A node that passed the filters, with what already runs there. */
struct sched_candidate {
	const char *node_id;
	const Swarmd__Node *node;
	uint64_t service_tasks;   /* live tasks of the service */
	uint64_t all_tasks;       /* live tasks of any service */
	uint64_t recent_failures; /* of this spec, within the window */
	size_t index;             /* the node's place: ties go to the lowest */
};

/* Which candidate the next task goes to, as SwarmKit's scheduler decides:
 * level by level over the spread labels (e.g. "node.labels.zone"), the
 * label value whose nodes run the fewest tasks of the service (nodes
 * without the label share one group); then nodes with repeated recent
 * failures last; then the fewest tasks of the service; then the fewest
 * tasks overall. The index, or -1 when n is 0. */
int sched_pick(const struct sched_candidate *c, size_t n,
	       char *const *spread, size_t n_spread);

/* Candidates in sched_pick's order without spread preferences, for
 * placing many tasks of one spec: the top is what sched_pick would choose
 * (ties to the lowest index); placing a task changes only its node's
 * counts, so the node is popped, updated and pushed back: O(log n) per
 * task instead of O(n). */
struct sched_heap {
	struct sched_candidate *c;
	size_t n;
	size_t cap;
};

void sched_heap_init(struct sched_heap *h, size_t cap);
void sched_heap_free(struct sched_heap *h);
void sched_heap_push(struct sched_heap *h, const struct sched_candidate *c);
/* Removes the top into *out; false when empty. */
bool sched_heap_pop(struct sched_heap *h, struct sched_candidate *out);

/* Docker's text for tasks that fit nowhere, from how many nodes each filter
 * turned away: "no suitable node (insufficient resources on 1 node)". */
void sched_explain(const size_t counts[SCHED_FILTERS], char *out, size_t n);

#endif

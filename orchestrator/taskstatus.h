/* Task status reports as store patches. A node's report of one task's
 * state travels in a PATCH op (change.h) and is merged into the task's
 * record when the entry is applied, on every replica alike: reports from
 * many nodes then share one raft entry, and a report never conflicts with
 * another write to the task (the merge reads the task as it is then). */
#ifndef SW_ORCH_TASKSTATUS_H
#define SW_ORCH_TASKSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/change.h"

/* One task's status, as an agent reports it. */
struct agent_report {
	char id[32];
	int state;
	char message[64];
	char err[512];
	char container_id[72];
	int pid;
	int exit_code;
	bool has_container;
};

/* Appends to c the patches of the n reports r[] of node node_id. */
void taskstatus_patch(struct change *c, const char *node_id,
		      const struct agent_report *r, size_t n);

/* The store's patcher for tasks (store_patch_fn): applies the report when
 * the task is on the reporting node and the report is not older than the
 * task's state (an end state always wins over a live one). The new state's
 * timestamp is now_ns when the state changes. */
bool taskstatus_merge(const void *payload, size_t len, const void *patch,
		      size_t patch_len, int64_t now_ns, void **out,
		      size_t *out_len);

#endif

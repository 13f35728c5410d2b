/* Task states as SwarmKit numbers them (the order matters: later states
 * are further along, and everything from COMPLETE on is over). */
#ifndef SW_ORCH_TASK_H
#define SW_ORCH_TASK_H

#include <stdbool.h>

enum task_state {
	TASK_NEW = 0,
	TASK_PENDING = 64,
	TASK_ASSIGNED = 192,
	TASK_ACCEPTED = 256,
	TASK_PREPARING = 320,
	TASK_READY = 384,
	TASK_STARTING = 448,
	TASK_RUNNING = 512,
	TASK_COMPLETE = 576,
	TASK_SHUTDOWN = 640,
	TASK_FAILED = 704,
	TASK_REJECTED = 768,
	TASK_REMOVE = 800,
	TASK_ORPHANED = 832,
};

/* Docker's lowercase name ("running"); "unknown" for other values. */
const char *task_state_name(int state);
/* Parses a name; -1 when unknown. */
int task_state_parse(const char *name);
/* COMPLETE and later: the task will not run again. */
bool task_state_terminal(int state);

#endif

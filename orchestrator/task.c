#include "orchestrator/task.h"

#include <string.h>

static const struct {
	int state;
	const char *name;
} names[] = {
	{TASK_NEW, "new"},	       {TASK_PENDING, "pending"},
	{TASK_ASSIGNED, "assigned"},   {TASK_ACCEPTED, "accepted"},
	{TASK_PREPARING, "preparing"}, {TASK_READY, "ready"},
	{TASK_STARTING, "starting"},   {TASK_RUNNING, "running"},
	{TASK_COMPLETE, "complete"},   {TASK_SHUTDOWN, "shutdown"},
	{TASK_FAILED, "failed"},       {TASK_REJECTED, "rejected"},
	{TASK_REMOVE, "remove"},       {TASK_ORPHANED, "orphaned"},
	{128, "allocated"},
};

const char *task_state_name(int state)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].state == state)
			return names[i].name;
	return "unknown";
}

int task_state_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].state;
	return -1;
}

bool task_state_terminal(int state)
{
	return state >= TASK_COMPLETE;
}

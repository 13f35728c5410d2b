#include "orchestrator/taskstatus.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "orchestrator/channels.pb-c.h"
#include "orchestrator/objects.pb-c.h"
#include "orchestrator/task.h"

static void patch_one(struct change *c, const char *node_id,
		      const struct agent_report *r)
{
	Swarmd__TaskStatus ts = SWARMD__TASK_STATUS__INIT;
	size_t len;
	uint8_t *buf;

	ts.id = (char *)r->id;
	ts.state = r->state;
	ts.message = (char *)r->message;
	ts.err = (char *)r->err;
	ts.has_container = r->has_container;
	ts.container_id = (char *)r->container_id;
	ts.pid = r->pid;
	ts.exit_code = r->exit_code;
	ts.node_id = (char *)node_id;
	len = swarmd__task_status__get_packed_size(&ts);
	buf = xmalloc(len ? len : 1);
	swarmd__task_status__pack(&ts, buf);
	change_patch(c, OBJ_TASK, r->id, buf, len);
	free(buf);
}

void taskstatus_patch(struct change *c, const char *node_id,
		      const struct agent_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		patch_one(c, node_id, &r[i]);
}

static void set_str(char **slot, const char *value)
{
	if (*slot != NULL && *slot != protobuf_c_empty_string)
		free(*slot);
	*slot = xstrdup(value);
}

/* Applies r to t. False when the report is stale. */
static bool apply(const Swarmd__TaskStatus *r, Swarmd__Task *t, int64_t now)
{
	if (strcmp(t->node_id, r->node_id) != 0)
		return false;
	if (r->state < t->state && !(task_state_terminal(r->state) &&
				     !task_state_terminal(t->state)))
		return false;
	/* Status.Timestamp is when the state last changed: a report resent
	 * with the same state (new details, or a retry) keeps it. */
	if (r->state != t->state)
		t->timestamp_ns = now;
	t->state = r->state;
	set_str(&t->message, r->message);
	set_str(&t->err, r->err);
	if (r->has_container)
		set_str(&t->container_id, r->container_id);
	t->pid = r->pid;
	t->exit_code = r->exit_code;
	return true;
}

bool taskstatus_merge(const void *payload, size_t len, const void *patch,
		      size_t patch_len, int64_t now_ns, void **out,
		      size_t *out_len)
{
	Swarmd__TaskStatus *r =
	    swarmd__task_status__unpack(NULL, patch_len, patch);
	Swarmd__Task *t = r ? swarmd__task__unpack(NULL, len, payload) : NULL;
	bool ok = t != NULL && apply(r, t, now_ns);

	if (ok) {
		*out_len = swarmd__task__get_packed_size(t);
		*out = xmalloc(*out_len ? *out_len : 1);
		swarmd__task__pack(t, *out);
	}
	swarmd__task__free_unpacked(t, NULL);
	swarmd__task_status__free_unpacked(r, NULL);
	return ok;
}

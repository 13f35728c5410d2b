#include "orchestrator/proposal.h"

#include "lib/timefmt.h"
#include "orchestrator/change.h"

static int put(struct swarm *s, int64_t now_ns, enum change_mode mode,
	       enum obj_kind kind, const char *id, const char *name,
	       const ProtobufCMessage *msg, uint64_t expected,
	       const struct store_record *guard, swarm_cb cb, void *data,
	       struct sw_err *err)
{
	struct change c;
	int rc;

	change_init(&c, now_ns);
	swarm_put(&c, mode, kind, id, name, msg, expected);
	if (guard != NULL)
		change_put(&c, CHANGE_UPDATE, guard->kind, guard->id,
			   guard->name, guard->payload, guard->payload_len,
			   guard->version);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
}

int proposal_put(struct swarm *s, int64_t now_ns, enum change_mode mode,
		 enum obj_kind kind, const char *id, const char *name,
		 const ProtobufCMessage *msg, uint64_t expected, swarm_cb cb,
		 void *data, struct sw_err *err)
{
	return put(s, now_ns, mode, kind, id, name, msg, expected, NULL, cb,
		   data, err);
}

int proposal_put_guarded(struct swarm *s, int64_t now_ns, enum change_mode mode,
			 enum obj_kind kind, const char *id, const char *name,
			 const ProtobufCMessage *msg,
			 const struct store_record *guard, swarm_cb cb,
			 void *data, struct sw_err *err)
{
	return put(s, now_ns, mode, kind, id, name, msg, 0, guard, cb, data,
		   err);
}

int proposal_delete(struct swarm *s, enum obj_kind kind, const char *id,
		    swarm_cb cb, void *data, struct sw_err *err)
{
	struct change c;
	int rc;

	change_init(&c, timefmt_now_ns());
	change_delete(&c, CHANGE_UPDATE, kind, id, 0);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
}

#include "orchestrator/proposal.h"

#include "lib/timefmt.h"
#include "orchestrator/change.h"

int proposal_put(struct swarm *s, int64_t now_ns, enum change_mode mode,
		 enum obj_kind kind, const char *id, const char *name,
		 const ProtobufCMessage *msg, uint64_t expected, swarm_cb cb,
		 void *data, struct sw_err *err)
{
	struct change c;
	int rc;

	change_init(&c, now_ns);
	swarm_put(&c, mode, kind, id, name, msg, expected);
	rc = swarm_propose(s, &c, cb, data, err);
	change_free(&c);
	return rc;
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

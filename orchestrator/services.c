#include "orchestrator/services.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/id.h"
#include "lib/timefmt.h"
#include "orchestrator/proposal.h"

Swarmd__Service *services_unpack(const struct store_record *rec)
{
	return swarmd__service__unpack(NULL, rec->payload_len, rec->payload);
}

Swarmd__Task *tasks_unpack(const struct store_record *rec)
{
	return swarmd__task__unpack(NULL, rec->payload_len, rec->payload);
}

/* Protobuf wire format: keys and lengths are base-128 varints. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return true;
	}
	return false;
}

/* Skips one field's value of wire type wt; false when it does not fit. */
static bool skip_value(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case 0:
		return get_varint(p, end, &v);
	case 1:
		v = 8;
		break;
	case 2:
		if (!get_varint(p, end, &v))
			return false;
		break;
	case 5:
		v = 4;
		break;
	default:
		return false;
	}
	if (v > (uint64_t)(end - *p))
		return false;
	*p += v;
	return true;
}

/* Fields of message Task (objects.proto) read by tasks_peek. */
enum {
	TASK_FIELD_SERVICE_ID = 1,
	TASK_FIELD_NODE_ID = 3,
	TASK_FIELD_DESIRED_STATE = 7,
	TASK_FIELD_STATE = 8,
};

bool tasks_peek(const struct store_record *rec, struct task_peek *out)
{
	const uint8_t *p = rec->payload, *end = p + rec->payload_len;
	uint64_t key, v;

	*out = (struct task_peek){.node = "", .service = ""};
	/* Every field is read to the end: the last occurrence wins, as in a
	 * full parse. */
	while (p < end) {
		if (!get_varint(&p, end, &key))
			return false;
		if (key == ((TASK_FIELD_NODE_ID << 3) | 2) ||
		    key == ((TASK_FIELD_SERVICE_ID << 3) | 2)) {
			bool node = key == ((TASK_FIELD_NODE_ID << 3) | 2);

			if (!get_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			*(node ? &out->node : &out->service) = (const char *)p;
			*(node ? &out->node_len : &out->service_len) = (size_t)v;
			p += v;
		} else if (key == (TASK_FIELD_STATE << 3) ||
			   key == (TASK_FIELD_DESIRED_STATE << 3)) {
			if (!get_varint(&p, end, &v))
				return false;
			*(key == (TASK_FIELD_STATE << 3) ? &out->state
							  : &out->desired_state) =
			    (int)(int32_t)v;
		} else if (!skip_value(&p, end, (unsigned)(key & 7))) {
			return false;
		}
	}
	return true;
}

bool tasks_on_node(const struct store_record *rec, const char *node_id)
{
	struct task_peek pk;

	return tasks_peek(rec, &pk) && strlen(node_id) == pk.node_len &&
	       memcmp(pk.node, node_id, pk.node_len) == 0;
}

const struct store_record *services_resolve(const struct swarm *s,
					    const char *ref)
{
	return swarm_resolve(s, OBJ_SERVICE, ref, true);
}

bool services_port_taken(const struct swarm *s, uint32_t port,
			 const char *except_id)
{
	bool taken = false;

	for (const struct store_record *r =
		     store_first(swarm_store(s), OBJ_SERVICE);
	     r != NULL && !taken; r = store_next(r)) {
		Swarmd__Service *svc;

		if (except_id != NULL && strcmp(r->id, except_id) == 0)
			continue;
		svc = services_unpack(r);
		for (size_t i = 0; svc && svc->task && i < svc->task->n_ports;
		     i++)
			taken = taken || svc->task->ports[i]->published == port;
		swarmd__service__free_unpacked(svc, NULL);
	}
	return taken;
}

static void fill(Swarmd__Service *m, const struct swarm_service *svc)
{
	m->spec_json.data = (uint8_t *)svc->spec_json;
	m->spec_json.len = strlen(svc->spec_json);
	m->mode = svc->mode;
	m->replicas = svc->replicas;
	m->task = svc->task;
	m->task_template_json.data = (uint8_t *)svc->task_template_json;
	m->task_template_json.len = strlen(svc->task_template_json);
	m->endpoint_json.data = (uint8_t *)svc->endpoint_json;
	m->endpoint_json.len = strlen(svc->endpoint_json);
	m->update_monitor_ns = svc->update_monitor_ns;
	m->update = svc->update;
	m->rollback = svc->rollback;
	m->max_concurrent = svc->max_concurrent;
	m->total_completions = svc->total_completions;
	m->network_ids = svc->network_ids;
	m->n_network_ids = svc->n_network_ids;
}

/* The running spec's typed parts become the previous ones. */
static void keep_previous(Swarmd__Service *m, const Swarmd__Service *old)
{
	m->previous_spec_json = old->spec_json;
	m->previous_task = old->task;
	m->previous_task_template_json = old->task_template_json;
	m->previous_endpoint_json = old->endpoint_json;
	m->previous_mode = old->mode;
	m->previous_replicas = old->replicas;
}

int services_create(struct swarm *s, const struct swarm_service *svc,
		    char id[27], swarm_cb cb, void *data, struct sw_err *err)
{
	Swarmd__Service m = SWARMD__SERVICE__INIT;

	if (store_get_by_name(swarm_store(s), OBJ_SERVICE, svc->name) != NULL)
		return sw_err_set(err, SW_ECONFLICT,
				  "rpc error: code = AlreadyExists desc = name "
				  "conflicts with an existing object: service "
				  "%s already exists",
				  svc->name);
	id_new_swarm(id);
	fill(&m, svc);
	m.spec_version = 1;
	m.max_spec_version = 1;
	return proposal_put(s, timefmt_now_ns(), CHANGE_CREATE, OBJ_SERVICE, id,
			    svc->name, &m.base, 0, cb, data, err);
}

static bool same_bytes(const ProtobufCBinaryData *a,
		       const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 ||
				    memcmp(a->data, b->data, a->len) == 0);
}

char *services_update_status(const char *state, const char *message,
			     int64_t started_ns, int64_t completed_ns)
{
	char started[64], completed[64];

	timefmt_utc(started_ns, started, sizeof(started));
	if (completed_ns == 0)
		return xasprintf("{\"State\":\"%s\",\"StartedAt\":\"%s\","
				 "\"Message\":\"%s\"}",
				 state, started, message);
	timefmt_utc(completed_ns, completed, sizeof(completed));
	return xasprintf("{\"State\":\"%s\",\"StartedAt\":\"%s\","
			 "\"CompletedAt\":\"%s\",\"Message\":\"%s\"}",
			 state, started, completed, message);
}

int services_update(struct swarm *s, const char *id, uint64_t version,
		    const struct swarm_service *svc, bool rollback,
		    swarm_cb cb, void *data, struct sw_err *err)
{
	char *status = NULL;
	const struct store_record *rec = store_get(swarm_store(s), OBJ_SERVICE,
						   id);
	const struct store_record *other =
		store_get_by_name(swarm_store(s), OBJ_SERVICE, svc->name);
	Swarmd__Service *old = rec ? services_unpack(rec) : NULL;
	Swarmd__Service m = SWARMD__SERVICE__INIT;
	int64_t now = timefmt_now_ns();
	int rc;

	if (old == NULL)
		return sw_err_set(err, SW_ENOTFOUND, "service %s not found",
				  id);
	if (other != NULL && other != rec) {
		swarmd__service__free_unpacked(old, NULL);
		return sw_err_set(err, SW_ECONFLICT,
				  "rpc error: code = AlreadyExists desc = name "
				  "conflicts with an existing object: service "
				  "%s already exists",
				  svc->name);
	}
	fill(&m, svc);
	keep_previous(&m, old);
	m.rolling_back = rollback;
	m.job_iteration = old->job_iteration + 1;
	/* Tasks are replaced only when what they run changes: a scale keeps
	 * them up to date, as in Docker. Going back to the previous template
	 * gets its version back, so tasks still running it stay. */
	m.spec_version = old->spec_version;
	m.previous_spec_version = old->spec_version;
	m.max_spec_version = old->max_spec_version > old->spec_version
				     ? old->max_spec_version
				     : old->spec_version;
	if (!same_bytes(&old->task_template_json, &m.task_template_json)) {
		m.spec_version =
			same_bytes(&old->previous_task_template_json,
				   &m.task_template_json) &&
					old->previous_spec_version != 0
				? old->previous_spec_version
				: ++m.max_spec_version;
		status = rollback ? services_update_status(
					    "rollback_started",
					    "manually requested rollback",
					    now, 0)
				  : services_update_status("updating",
							   "update in progress",
							   now, 0);
		m.update_status_json.data = (uint8_t *)status;
		m.update_status_json.len = strlen(status);
	} else if (rollback) {
		/* A rollback that changes no task completes at once. */
		status = services_update_status("rollback_completed",
						"rollback completed", now, now);
		m.update_status_json.data = (uint8_t *)status;
		m.update_status_json.len = strlen(status);
	}
	rc = proposal_put(s, now, CHANGE_UPDATE, OBJ_SERVICE, rec->id,
			  svc->name, &m.base, version, cb, data, err);
	swarmd__service__free_unpacked(old, NULL);
	free(status);
	return rc;
}

int services_remove(struct swarm *s, const char *id, swarm_cb cb, void *data,
		    struct sw_err *err)
{
	return proposal_delete(s, OBJ_SERVICE, id, cb, data, err);
}

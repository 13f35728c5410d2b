/* Services as the orchestrator stores them: create, update and remove
 * proposals, and lookups the API layer shares. */
#ifndef SW_ORCH_SERVICES_H
#define SW_ORCH_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "orchestrator/swarm.h"
#include "orchestrator/task.h"

/* A service as engine-api decoded it. Strings and task are borrowed. */
struct swarm_service {
	char *name;
	char *spec_json;          /* normalized Spec */
	char *mode;               /* "replicated" | "global" */
	uint64_t replicas;
	Swarmd__TaskSpec *task;
	char *task_template_json; /* Spec.TaskTemplate */
	char *endpoint_json;      /* Endpoint */
	int64_t update_monitor_ns; /* UpdateConfig.Monitor */
	Swarmd__UpdateParams *update;   /* UpdateConfig, defaults filled */
	Swarmd__UpdateParams *rollback; /* RollbackConfig, defaults filled */
	uint64_t max_concurrent;        /* jobs */
	uint64_t total_completions;
	char **network_ids; /* swarm networks attached (resolved IDs) */
	size_t n_network_ids;
};

/* Proposes a new service; id receives its ID (26 bytes). A taken name is
 * Docker's 409. */
int services_create(struct swarm *s, const struct swarm_service *svc,
		    char id[27], swarm_cb cb, void *data, struct sw_err *err);

/* Replaces the spec; the old one becomes PreviousSpec. When what tasks run
 * changes, the spec version bumps and UpdateStatus starts as `updating`
 * (`rollback_started` for a rollback); otherwise (a scale) UpdateStatus is
 * cleared, as dockerd does, so the CLI waits for the new state. */
int services_update(struct swarm *s, const char *id, uint64_t version,
		    const struct swarm_service *svc, bool rollback,
		    swarm_cb cb, void *data, struct sw_err *err);

/* Docker's UpdateStatus JSON: state, message, start and (when not 0)
 * completion times. Returns a malloc'd string. */
char *services_update_status(const char *state, const char *message,
			     int64_t started_ns, int64_t completed_ns);

int services_remove(struct swarm *s, const char *id, swarm_cb cb, void *data,
		    struct sw_err *err);

/* Finds a service by full ID, exact name, or unique ID prefix. */
const struct store_record *services_resolve(const struct swarm *s,
					    const char *ref);

/* True when another service (not except_id) publishes port. */
bool services_port_taken(const struct swarm *s, uint32_t port,
			 const char *except_id);

Swarmd__Service *services_unpack(const struct store_record *rec);
Swarmd__Task *tasks_unpack(const struct store_record *rec);

/* A stored task's service, placement and states, read straight from its
 * protobuf bytes without unpacking the whole task (spec included), for the
 * loops that look at many tasks: service and node (their _len bytes, not
 * NUL-terminated, "" when unset). False when the bytes do not parse. */
struct task_peek {
	const char *service;
	size_t service_len;
	const char *node;
	size_t node_len;
	int state;
	int desired_state;
};
bool tasks_peek(const struct store_record *rec, struct task_peek *out);
/* Whether the stored task is on node_id (false when it does not parse). */
bool tasks_on_node(const struct store_record *rec, const char *node_id);

#endif

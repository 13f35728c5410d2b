/* Docker's service spec: validation, the normalization dockerd applies
 * before storing (Isolation, Runtime, Replicas, EndpointSpec), the typed
 * TaskSpec the orchestrator runs, and the Service/Task JSON rendered back. */
#ifndef SW_API_CODEC_SERVICE_H
#define SW_API_CODEC_SERVICE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "lib/err.h"
#include "orchestrator/services.h"

struct localnets;

/* Decodes a create/update body into out (all strings and the TaskSpec are
 * allocated; free with codec_service_free). Network names in
 * TaskTemplate.Networks are resolved to IDs through s; one of the node's
 * local networks (local, may be NULL) is refused with dockerd's 403.
 * service_id is the service being updated (its ports do not conflict with
 * themselves), NULL on create. -1 with err set (400/409, Docker's
 * texts). */
int codec_service_decode(struct swarm *s, const struct localnets *local,
			 struct json_object *body, const char *service_id,
			 struct swarm_service *out, struct sw_err *err);
void codec_service_free(struct swarm_service *svc);

/* Task counts behind a service's ServiceStatus. */
struct svc_counts {
	int64_t running;
	int64_t desired_global; /* global services: tasks wanted running */
	int64_t completed;
};

/* Adds t (a task of svc) to c. */
void codec_service_count_task(const Swarmd__Service *svc,
			      const Swarmd__Task *t, struct svc_counts *c);
/* ServiceStatus from the counts. */
struct json_object *codec_service_status(const Swarmd__Service *svc,
					 const struct svc_counts *c);
/* JobStatus of a job service. */
struct json_object *codec_service_job_status(const struct store_record *rec,
					     const Swarmd__Service *svc);
/* A service's members up to UpdateStatus: everything that depends only
 * on its record (engine-api/svclist.c keeps it per record version). */
struct json_object *codec_service_base(const struct store_record *rec,
				       const Swarmd__Service *svc,
				       bool defaults);

/* Renders a stored service. status adds ServiceStatus; defaults applies
 * insertDefaults. */
struct json_object *codec_service_to_json(struct swarm *s,
					  const struct store_record *rec,
					  const Swarmd__Service *svc,
					  bool status, bool defaults);

/* Renders a stored task. */
struct json_object *codec_task_to_json(const struct store_record *rec,
				       const Swarmd__Task *t);

#endif

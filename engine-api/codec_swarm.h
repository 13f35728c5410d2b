/* Docker's Swarm spec: defaults, the merge rule of init and update, and the
 * typed values the orchestrator acts on. */
#ifndef SW_API_CODEC_SWARM_H
#define SW_API_CODEC_SWARM_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/err.h"
#include "orchestrator/swarm.h"

/* The spec SwarmKit starts a cluster with (new reference). */
struct json_object *codec_swarm_default_spec(void);

/* Merges a client's spec into base (borrowed), as dockerd does for both
 * init (onto the defaults) and update (onto the current spec): a member
 * that is absent, null or zero keeps base's value; Labels replace only when
 * non-empty; EncryptionConfig.AutoLockManagers and CAConfig.ForceRotate
 * always come from the body. Returns a new normalized spec, or NULL with
 * err set (400) when a member has the wrong type. */
struct json_object *codec_swarm_merge(struct json_object *base,
				      struct json_object *req,
				      struct sw_err *err);

/* The typed values of a normalized spec (struct from orchestrator/swarm.h). */
void codec_swarm_values(struct json_object *spec,
			struct swarm_spec_values *out);

/* Sets EncryptionConfig.AutoLockManagers in a normalized spec. */
void codec_swarm_set_autolock(struct json_object *spec, bool on);

/* Docker's Swarm object (GET /swarm; without JoinTokens for /info's
 * Cluster). New reference. */
struct json_object *codec_swarm_to_json(const struct store_record *rec,
					const Swarmd__Cluster *cl,
					bool with_tokens);

#endif

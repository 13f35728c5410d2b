/* Docker's Node JSON from stored node records, and NodeSpec bodies into the
 * typed spec the orchestrator stores. */
#ifndef SW_API_CODEC_NODE_H
#define SW_API_CODEC_NODE_H

#include <json-c/json.h>

#include "lib/err.h"
#include "orchestrator/swarm.h"

/* Renders one node (new reference). */
struct json_object *codec_node_to_json(struct swarm *s,
				       const struct store_record *rec,
				       const Swarmd__Node *n,
				       struct json_object *tls_info);

/* Decodes a NodeSpec body into spec (strings borrowed from body, labels
 * and spec_json allocated: release with codec_node_spec_free). -1 with
 * err (400, Docker's wording) on a bad body. */
int codec_node_spec(struct json_object *body, struct swarm_node_spec *spec,
		    struct sw_err *err);
void codec_node_spec_free(struct swarm_node_spec *spec);

/* TLSInfo of the cluster's root (TrustRoot, CertIssuerSubject,
 * CertIssuerPublicKey), new reference; NULL if the PEM is unusable. */
struct json_object *codec_tls_info(const char *root_pem);

/* Version{Index}, CreatedAt, UpdatedAt of a record, added to obj. */
void codec_add_meta(struct json_object *obj, const struct store_record *rec);

#endif

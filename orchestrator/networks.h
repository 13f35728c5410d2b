/* Swarm-scoped networks as objects. swarm init creates the predefined
 * `host` and `ingress` networks; user networks arrive with a later issue. */
#ifndef SW_ORCH_NETWORKS_H
#define SW_ORCH_NETWORKS_H

#include "orchestrator/swarm.h"

/* Adds the predefined networks to the first change of a new swarm. */
void networks_add_predefined(struct change *c);

/* By full ID, exact name, or unique ID prefix; NULL when none. */
const struct store_record *networks_resolve(const struct swarm *s,
					    const char *ref);

Swarmd__Network *networks_unpack(const struct store_record *rec);

#endif

/* Swarm-scoped networks as objects, ahead of any data plane: the
 * predefined `host` and `ingress` from swarm init, user networks created
 * through the API, their subnets cut from the cluster's DefaultAddrPool
 * (ipam.h) and their VXLAN IDs, and the rules that refuse removing one a
 * service still uses.
 *
 * Invariants: subnets of allocated networks never overlap; every allocated
 * network has one VXLAN ID per subnet, unique in the swarm; at most one
 * network is the ingress network. */
#ifndef SW_ORCH_NETWORKS_H
#define SW_ORCH_NETWORKS_H

#include <stdbool.h>
#include <stddef.h>

#include "orchestrator/swarm.h"

/* The VXLAN ID SwarmKit gives the first network (ingress); later ones
 * count up from it. */
#define NETWORKS_FIRST_VXLAN 4096

/* A network create request as engine-api decoded it. Everything is
 * borrowed. ipam entries with an empty subnet are not allowed (engine-api
 * rejects them); none at all means "allocate one from the pool". */
struct swarm_network {
	const char *name;
	const char *driver; /* "overlay", or another for a bare swarm object */
	bool attachable;
	bool internal;
	bool ingress;
	bool enable_ipv6;
	Swarmd__KeyValue **labels;
	size_t n_labels;
	Swarmd__KeyValue **options;
	size_t n_options;
	Swarmd__KeyValue **ipam_options;
	size_t n_ipam_options;
	Swarmd__IpamConfig **ipam;
	size_t n_ipam;
	const char *spec_json;
};

/* Adds the predefined networks to the first change of a new swarm, which
 * already holds the cluster object: ingress takes the first block of its
 * DefaultAddrPool. */
void networks_add_predefined(struct change *c);

/* What cb of networks_create gets (with -SW_ECONFLICT) when another
 * create committed between this one's allocation and its commit: nothing
 * was written; decode and create again. */
#define NETWORKS_ERR_RACED "network allocation raced another create"

/* Proposes a new swarm network; id receives its ID. Errors, in Docker's
 * words: a taken name (409), a second ingress network (409), an attachable
 * ingress, a gateway outside its subnet (400), a full pool (500). A user
 * subnet that overlaps another network is accepted and the network stays
 * unallocated (failed), as SwarmKit leaves it. The allocation is guarded:
 * if another network was created meanwhile (on any manager), the change
 * fails and cb gets NETWORKS_ERR_RACED. cb as swarm_propose's otherwise. */
int networks_create(struct swarm *s, const struct swarm_network *n, char id[27],
		    swarm_cb cb, void *data, struct sw_err *err);

/* Proposes removing network id. Refused (400, SwarmKit's FailedPrecondition
 * text) while a service is attached to it or, for ingress, while a service
 * publishes a port in ingress mode. */
int networks_remove(struct swarm *s, const char *id, swarm_cb cb, void *data,
		    struct sw_err *err);

/* By full ID, exact name, or unique ID prefix; NULL when none. */
const struct store_record *networks_resolve(const struct swarm *s,
					    const char *ref);

/* The ingress network's record, NULL when there is none. */
const struct store_record *networks_ingress(const struct swarm *s);

/* True for the networks swarm init creates for SwarmKit's own use (the
 * swarm-scoped `host`), which Docker hides from lists. */
bool networks_is_predefined(const Swarmd__Network *n);

Swarmd__Network *networks_unpack(const struct store_record *rec);

#endif

/* IPv4 address management for swarm networks, as SwarmKit's allocator does
 * it: network subnets cut from the cluster's DefaultAddrPool in SubnetSize
 * blocks, never overlapping a subnet already in use, and service virtual
 * IPs handed out inside a subnet.
 *
 * Pure: no store, no I/O. Callers collect what is in use and ask. */
#ifndef SW_ORCH_IPAM_H
#define SW_ORCH_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* "a.b.c.d/nn" with room for the NUL. */
enum { IPAM_CIDR_MAX = 19, IPAM_ADDR_MAX = 16 };

/* SwarmKit's pool when the swarm was initialised without one (or with the
 * CLI's empty list), and its default block size. */
#define IPAM_DEFAULT_POOL "10.0.0.0/8"
#define IPAM_DEFAULT_SUBNET_SIZE 24

/* A subnet in host byte order; base has no host bits set. */
struct ipam_subnet {
	uint32_t base;
	unsigned prefix; /* 0..32 */
};

/* Parses "a.b.c.d/nn". Host bits are cleared, as Go's ParseCIDR does for
 * the network it returns. -1 when text is not an IPv4 CIDR. */
int ipam_parse(const char *text, struct ipam_subnet *out);

/* Parses a dotted IPv4 address. -1 when it is not one. */
int ipam_parse_addr(const char *text, uint32_t *out);

void ipam_format(const struct ipam_subnet *n, char out[IPAM_CIDR_MAX]);
void ipam_format_addr(uint32_t addr, char out[IPAM_ADDR_MAX]);

/* Number of addresses in n (2^(32-prefix)). */
uint64_t ipam_size(const struct ipam_subnet *n);
bool ipam_contains(const struct ipam_subnet *n, uint32_t addr);
bool ipam_overlap(const struct ipam_subnet *a, const struct ipam_subnet *b);

/* The first block of /size inside pools (in order) that overlaps nothing in
 * used. -1 with err (SYSTEM, SwarmKit's words) when the pools are full or
 * size is smaller than a pool's own prefix allows. */
int ipam_alloc_subnet(const struct ipam_subnet *pools, size_t n_pools,
		      unsigned size, const struct ipam_subnet *used,
		      size_t n_used, struct ipam_subnet *out,
		      struct sw_err *err);

/* The lowest host number from first up (first >= 1) that is not marked in
 * used (size bytes, one per host number) and is not the broadcast address;
 * 0 when the subnet is full. */
uint32_t ipam_alloc_host(const uint8_t *used, uint64_t size, uint32_t first);

#endif

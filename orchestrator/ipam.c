#include "orchestrator/ipam.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static uint32_t mask_of(unsigned prefix)
{
	return prefix == 0 ? 0 : ~0u << (32 - prefix);
}

int ipam_parse_addr(const char *text, uint32_t *out)
{
	struct in_addr a;

	if (text == NULL || inet_pton(AF_INET, text, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

int ipam_parse(const char *text, struct ipam_subnet *out)
{
	char ip[IPAM_ADDR_MAX];
	const char *slash = text ? strchr(text, '/') : NULL;
	unsigned prefix = 0;
	size_t digits;
	uint32_t addr;

	if (slash == NULL || (size_t)(slash - text) >= sizeof(ip))
		return -1;
	digits = strspn(slash + 1, "0123456789");
	if (digits == 0 || digits > 2 || slash[1 + digits] != '\0')
		return -1;
	memcpy(ip, text, (size_t)(slash - text));
	ip[slash - text] = '\0';
	if (sscanf(slash + 1, "%u", &prefix) != 1 || prefix > 32 ||
	    ipam_parse_addr(ip, &addr) != 0)
		return -1;
	out->prefix = prefix;
	out->base = addr & mask_of(prefix);
	return 0;
}

void ipam_format_addr(uint32_t addr, char out[IPAM_ADDR_MAX])
{
	struct in_addr a = {.s_addr = htonl(addr)};

	inet_ntop(AF_INET, &a, out, IPAM_ADDR_MAX);
}

void ipam_format(const struct ipam_subnet *n, char out[IPAM_CIDR_MAX])
{
	char ip[IPAM_ADDR_MAX];

	ipam_format_addr(n->base, ip);
	snprintf(out, IPAM_CIDR_MAX, "%s/%u", ip, n->prefix);
}

uint64_t ipam_size(const struct ipam_subnet *n)
{
	return (uint64_t)1 << (32 - n->prefix);
}

bool ipam_contains(const struct ipam_subnet *n, uint32_t addr)
{
	return (addr & mask_of(n->prefix)) == n->base;
}

bool ipam_overlap(const struct ipam_subnet *a, const struct ipam_subnet *b)
{
	/* Two aligned blocks overlap exactly when the larger holds the
	 * smaller's base. */
	return a->prefix <= b->prefix ? ipam_contains(a, b->base)
				      : ipam_contains(b, a->base);
}

static const struct ipam_subnet *first_overlap(const struct ipam_subnet *c,
					       const struct ipam_subnet *used,
					       size_t n_used)
{
	for (size_t i = 0; i < n_used; i++)
		if (ipam_overlap(c, &used[i]))
			return &used[i];
	return NULL;
}

/* Walks the blocks of pool in order; a candidate that overlaps a used
 * subnet jumps past it, so a /8 pool full of /24s costs one step per used
 * subnet rather than one per block. */
static bool alloc_in_pool(const struct ipam_subnet *pool, unsigned size,
			  const struct ipam_subnet *used, size_t n_used,
			  struct ipam_subnet *out)
{
	uint64_t end = (uint64_t)pool->base + ipam_size(pool);
	uint64_t step = (uint64_t)1 << (32 - size);
	uint64_t cand = pool->base;

	while (cand + step <= end) {
		struct ipam_subnet c = {.base = (uint32_t)cand, .prefix = size};
		const struct ipam_subnet *u = first_overlap(&c, used, n_used);
		uint64_t past;

		if (u == NULL) {
			*out = c;
			return true;
		}
		past = (uint64_t)u->base + ipam_size(u);
		cand = past > cand + step ? (past + step - 1) / step * step
					  : cand + step;
	}
	return false;
}

int ipam_alloc_subnet(const struct ipam_subnet *pools, size_t n_pools,
		      unsigned size, const struct ipam_subnet *used,
		      size_t n_used, struct ipam_subnet *out,
		      struct sw_err *err)
{
	for (size_t i = 0; i < n_pools; i++) {
		if (size > 32 || size < pools[i].prefix)
			continue;
		if (alloc_in_pool(&pools[i], size, used, n_used, out))
			return 0;
	}
	return sw_err_set(err, SW_ESYSTEM,
			  "could not find an available, non-overlapping IPv4 "
			  "address pool among the defaults to assign to the "
			  "network");
}

uint32_t ipam_alloc_host(const uint8_t *used, uint64_t size, uint32_t first)
{
	for (uint64_t h = first ? first : 1; h + 1 < size; h++)
		if (!used[h])
			return (uint32_t)h;
	return 0;
}

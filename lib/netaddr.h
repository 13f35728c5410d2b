/* Listen and advertise addresses as Docker resolves them for swarm init and
 * join: "host:port" where host is an IP or an interface name, and an empty
 * advertise address auto-detected from the system's interfaces. */
#ifndef SW_NETADDR_H
#define SW_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

enum { NETADDR_HOST_MAX = 64 };

struct netaddr {
	char host[NETADDR_HOST_MAX]; /* an IPv4 literal once resolved */
	int port;
};

/* One IPv4 address on an up interface, as seen by the resolver. */
struct netaddr_iface {
	char name[32];
	char ip[NETADDR_HOST_MAX];
	bool loopback;
};

/* Splits "host[:port]" (port defaults to default_port) and turns an
 * interface name into its single IPv4 address. 0 or -1 with err set (400,
 * Docker's wording). ifaces/n describe the system (see netaddr_ifaces). */
int netaddr_resolve(const char *spec, int default_port,
		    const struct netaddr_iface *ifaces, size_t n,
		    struct netaddr *out, struct sw_err *err);

/* Picks the address to advertise when none was given: the listen host if it
 * is a specific IP, else the only non-loopback IPv4 address of the system.
 * Errors are Docker's: "could not find the system's IP address" and "could
 * not choose an IP address to advertise since this system has multiple
 * addresses on different interfaces (...)". */
int netaddr_auto_advertise(const struct netaddr *listen,
			   const struct netaddr_iface *ifaces, size_t n,
			   struct netaddr *out, struct sw_err *err);

/* Lists the IPv4 addresses of up interfaces into a malloc'd array. */
struct netaddr_iface *netaddr_ifaces(size_t *n);

#endif

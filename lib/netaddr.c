#include "lib/netaddr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

struct netaddr_iface *netaddr_ifaces(size_t *n)
{
	struct ifaddrs *all, *a;
	struct netaddr_iface *out = NULL;

	*n = 0;
	if (getifaddrs(&all) == -1)
		return NULL;
	for (a = all; a != NULL; a = a->ifa_next) {
		struct netaddr_iface *f;

		if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET ||
		    !(a->ifa_flags & IFF_UP))
			continue;
		out = xrealloc(out, (*n + 1) * sizeof(*out));
		f = &out[(*n)++];
		snprintf(f->name, sizeof(f->name), "%s", a->ifa_name);
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)(void *)a->ifa_addr)->sin_addr,
			  f->ip, sizeof(f->ip));
		f->loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
	}
	freeifaddrs(all);
	return out;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static int parse_port(const char *s, int *port, struct sw_err *err)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return sw_err_set(err, SW_EINVALID, "invalid port: %s", s);
	*port = (int)v;
	return 0;
}

/* Finds the single IPv4 address of interface name. */
static int iface_ip(const char *name, const struct netaddr_iface *ifaces,
		    size_t n, char *ip, struct sw_err *err)
{
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(ifaces[i].name, name) != 0)
			continue;
		if (found != NULL)
			return sw_err_set(err, SW_EINVALID,
					  "interface %s has more than one "
					  "IPv4 address (%s and %s)",
					  name, found, ifaces[i].ip);
		found = ifaces[i].ip;
	}
	if (found == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "could not find an IPv4 address for "
				  "interface %s",
				  name);
	snprintf(ip, NETADDR_HOST_MAX, "%s", found);
	return 0;
}

static bool is_iface(const char *name, const struct netaddr_iface *ifaces,
		     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ifaces[i].name, name) == 0)
			return true;
	return false;
}

int netaddr_resolve(const char *spec, int default_port,
		    const struct netaddr_iface *ifaces, size_t n,
		    struct netaddr *out, struct sw_err *err)
{
	char host[NETADDR_HOST_MAX];
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);

	if (hlen >= sizeof(host))
		return sw_err_set(err, SW_EINVALID, "invalid address %s",
				  spec);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	out->port = default_port;
	if (colon != NULL && parse_port(colon + 1, &out->port, err) != 0)
		return -1;
	if (host[0] == '\0' || is_ipv4(host)) {
		snprintf(out->host, sizeof(out->host), "%s",
			 host[0] ? host : "0.0.0.0");
		return 0;
	}
	if (is_iface(host, ifaces, n))
		return iface_ip(host, ifaces, n, out->host, err);
	return sw_err_set(err, SW_EINVALID,
			  "advertise address must be a non-zero IP address "
			  "or network interface (with optional port number)");
}

int netaddr_auto_advertise(const struct netaddr *listen,
			   const struct netaddr_iface *ifaces, size_t n,
			   struct netaddr *out, struct sw_err *err)
{
	const struct netaddr_iface *pick = NULL;

	out->port = listen->port;
	if (strcmp(listen->host, "0.0.0.0") != 0) {
		snprintf(out->host, sizeof(out->host), "%s", listen->host);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (ifaces[i].loopback || strncmp(ifaces[i].ip, "169.254.", 8) == 0)
			continue;
		if (pick != NULL && strcmp(pick->name, ifaces[i].name) != 0)
			return sw_err_set(
				err, SW_EINVALID,
				"could not choose an IP address to advertise "
				"since this system has multiple addresses on "
				"different interfaces (%s on %s and %s on %s)",
				pick->ip, pick->name, ifaces[i].ip,
				ifaces[i].name);
		if (pick == NULL)
			pick = &ifaces[i];
	}
	if (pick == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "could not find the system's IP address");
	snprintf(out->host, sizeof(out->host), "%s", pick->ip);
	return 0;
}

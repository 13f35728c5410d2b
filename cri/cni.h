/* The node-local bridge network that non-host-network tasks join. The
 * executor writes one CNI conflist (bridge + host-local IPAM + portmap) into
 * the CNI conf dir of its containerd, which hot-loads it; containerd then
 * runs the plugins for each pod. Per node: a unique bridge name, a /24 in
 * 100.64.0.0/10 chosen from the node ID, and a private host-local dataDir,
 * so several nodes can share one host.
 *
 * The bridge and portmap's shared nat chains outlive the pods; cni_teardown
 * removes what belongs to one node (the bridge, the conflist, the IPAM
 * state) when the node leaves. */
#ifndef CRI_CNI_H
#define CRI_CNI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

enum {
	CNI_IFNAME_MAX = 16, /* IFNAMSIZ */
	CNI_SUBNET_MAX = 32,
};

#define CNI_CONFLIST_NAME "10-swarmd.conflist"

struct cni_net {
	const char *name;     /* CNI network name */
	const char *bridge;   /* bridge interface, < 16 characters */
	const char *subnet;   /* "100.64.N.0/24" */
	const char *ipam_dir; /* host-local dataDir */
};

/* The default bridge name for a node: "swd" + the first 8 characters of
 * its ID, into out[CNI_IFNAME_MAX]. */
void cni_default_bridge(const char *node_id, char *out);

/* The default subnet for a node: one of the 16384 /24s of 100.64.0.0/10,
 * picked by a hash of the node ID, into out[CNI_SUBNET_MAX]. */
void cni_default_subnet(const char *node_id, char *out);

/* The conflist text for n (malloc'd; the caller frees it). */
char *cni_conflist_text(const struct cni_net *n);

/* Writes n's conflist as conf_dir/CNI_CONFLIST_NAME (creating conf_dir),
 * replacing it atomically so containerd never loads half a file. Writes
 * only when the content changed. Blocking; for start-up. */
int cni_write_conflist(const char *conf_dir, const struct cni_net *n,
		       struct sw_err *err);

/* Deletes the network interface `name` (RTM_DELLINK over netlink). A
 * missing interface is not an error. */
int cni_link_delete(const char *name, struct sw_err *err);

/* Adds (on) or removes the one nat rule that masquerades what leaves the
 * node's subnet by another interface, as Docker has one per bridge (the
 * bridge plugin's ipMasq would add a chain and rules per pod, with several
 * iptables runs at each pod's set-up and tear-down). Idempotent; runs
 * iptables, blocking up to its 5 s lock wait. */
int cni_masquerade(const struct cni_net *n, bool on, struct sw_err *err);

/* Removes one node's network: the conflist, the bridge, the host-local
 * state of the network and its masquerade rule (a failure there is only
 * logged). Pods must be gone first. Blocking. */
int cni_teardown(const char *conf_dir, const struct cni_net *n,
		 struct sw_err *err);

#endif

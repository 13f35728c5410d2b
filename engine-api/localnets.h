/* This node's local-scope networks, as dockerd keeps them beside the
 * swarm's: the predefined `none` and `host`, and bridges made by
 * `docker network create` without a driver. swarmd runs no standalone
 * containers and services cannot use local networks, so these are objects
 * only: nothing is plumbed for them.
 *
 * Each network is kept as the JSON Docker shows for it (64-hex ID, Scope
 * "local") in data-root/local-networks.json, rewritten on every change:
 * a few hundred bytes on a rare administrative write, cheap enough for
 * the loop. */
#ifndef SW_API_LOCALNETS_H
#define SW_API_LOCALNETS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "lib/err.h"

struct localnets;

/* Loads the networks under data_root, creating the predefined ones on
 * first use. Never fails: an unreadable file starts over (logged). */
struct localnets *localnets_open(const char *data_root);
void localnets_free(struct localnets *l);

/* The networks, as an array of Docker's Network JSON (borrowed). */
struct json_object *localnets_all(const struct localnets *l);

/* The name of the network ref names (exact ID, exact name, or unique ID
 * prefix, as dockerd's FindNetwork), NULL when none; borrowed. */
const char *localnets_name_of(const struct localnets *l, const char *ref);

/* A bridge from a create body (Name, IPAM, Internal, Attachable, Options,
 * Labels, EnableIPv6). Its subnet is the user's or the first free one of
 * Docker's local pools (172.17-31.0.0/16, then 192.168.x.0/20). id gets the
 * new 64-hex ID. -1 with err (Docker's words) on a bad subnet or a full
 * pool. Name checks are the caller's. */
int localnets_create_bridge(struct localnets *l, struct json_object *body,
			    char id[65], struct sw_err *err);

/* Removes the network with this exact ID; the predefined ones are refused
 * with dockerd's 403. */
int localnets_remove(struct localnets *l, const char *id, struct sw_err *err);

/* True for the names dockerd reserves for its own networks (type=builtin). */
bool localnets_is_builtin_name(const char *name);

#endif

#include "orchestrator/nodeusage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/strmap.h"

struct node_total {
	int64_t nano_cpus;
	int64_t memory_bytes;
	uint64_t tasks;
	uint32_t *ports;
	size_t n_ports;
};

struct nodeusage {
	const struct strmap *node_index; /* borrowed: node ID -> index */
	const char *const *ids;          /* borrowed, by index */
	struct node_total *nodes;
	size_t n_nodes;
	/* Live tasks per "node/service", failures per "node/service/version". */
	struct strmap *counts;
	/* The counts of the service (and spec version) being placed, by
	 * node index. */
	char *cur_svc;
	uint64_t cur_version;
	uint64_t *cur_live;
	uint64_t *cur_failed;
};

struct nodeusage *nodeusage_new(const struct strmap *node_index,
				const char *const *node_ids, size_t n)
{
	struct nodeusage *u = xcalloc(1, sizeof(*u));

	u->node_index = node_index;
	u->counts = strmap_new();
	u->nodes = xcalloc(n + 1, sizeof(*u->nodes));
	u->n_nodes = n;
	u->ids = node_ids;
	u->cur_live = xcalloc(n + 1, sizeof(*u->cur_live));
	u->cur_failed = xcalloc(n + 1, sizeof(*u->cur_failed));
	return u;
}

void nodeusage_free(struct nodeusage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n_nodes; i++)
		free(u->nodes[i].ports);
	free(u->nodes);
	free(u->cur_live);
	free(u->cur_failed);
	free(u->cur_svc);
	strmap_free(u->counts);
	free(u);
}

/* Keys never collide: IDs hold no '/'. */
static void count_key(char *key, size_t n, const char *node,
		      const char *svc_id, const uint64_t *version)
{
	if (version != NULL)
		snprintf(key, n, "%s/%s/%llu", node, svc_id,
			 (unsigned long long)*version);
	else
		snprintf(key, n, "%s/%s", node, svc_id);
}

/* Index of the task's node, or -1 for a node outside the set. */
static int64_t index_of(const struct nodeusage *u, const Swarmd__Task *t)
{
	const int64_t *i = strmap_find(u->node_index, t->node_id);

	return i != NULL ? *i : -1;
}

static bool is_current(const struct nodeusage *u, const Swarmd__Task *t)
{
	return u->cur_svc != NULL && strcmp(u->cur_svc, t->service_id) == 0;
}

void nodeusage_add_live(struct nodeusage *u, const Swarmd__Task *t)
{
	int64_t i = index_of(u, t);
	const Swarmd__TaskSpec *s = t->spec;
	struct node_total *n;
	char key[256];

	if (i < 0)
		return;
	n = &u->nodes[i];
	n->tasks++;
	if (s == NULL)
		return;
	n->nano_cpus += s->reserve_nano_cpus;
	n->memory_bytes += s->reserve_memory_bytes;
	count_key(key, sizeof(key), t->node_id, t->service_id, NULL);
	(*strmap_slot(u->counts, key))++;
	if (is_current(u, t))
		u->cur_live[i]++;
	for (size_t j = 0; j < s->n_ports; j++) {
		if (strcmp(s->ports[j]->mode, "host") != 0)
			continue;
		n->ports = xrealloc(n->ports,
				    (n->n_ports + 1) * sizeof(*n->ports));
		n->ports[n->n_ports++] = s->ports[j]->published;
	}
}

void nodeusage_add_failure(struct nodeusage *u, const Swarmd__Task *t)
{
	int64_t i = index_of(u, t);
	char key[256];

	if (i < 0)
		return;
	count_key(key, sizeof(key), t->node_id, t->service_id,
		  &t->spec_version);
	(*strmap_slot(u->counts, key))++;
	if (is_current(u, t) && t->spec_version == u->cur_version)
		u->cur_failed[i]++;
}

static uint64_t count_of(const struct nodeusage *u, const char *key)
{
	const int64_t *v = strmap_find(u->counts, key);

	return v != NULL ? (uint64_t)*v : 0;
}

/* Loads the by-node counts of t's service and spec version. */
static void select_service(struct nodeusage *u, const Swarmd__Task *t)
{
	char key[256];

	if (is_current(u, t) && u->cur_version == t->spec_version)
		return;
	free(u->cur_svc);
	u->cur_svc = xstrdup(t->service_id);
	u->cur_version = t->spec_version;
	for (size_t i = 0; i < u->n_nodes; i++) {
		count_key(key, sizeof(key), u->ids[i], t->service_id, NULL);
		u->cur_live[i] = count_of(u, key);
		count_key(key, sizeof(key), u->ids[i], t->service_id,
			  &t->spec_version);
		u->cur_failed[i] = count_of(u, key);
	}
}

void nodeusage_get(struct nodeusage *u, size_t i, const Swarmd__Task *t,
		   struct sched_usage *out, uint64_t *tasks,
		   uint64_t *failures)
{
	const struct node_total *n = &u->nodes[i];

	select_service(u, t);
	memset(out, 0, sizeof(*out));
	out->nano_cpus = n->nano_cpus;
	out->memory_bytes = n->memory_bytes;
	out->ports = n->ports;
	out->n_ports = n->n_ports;
	out->service_tasks = u->cur_live[i];
	*tasks = n->tasks;
	*failures = u->cur_failed[i];
}

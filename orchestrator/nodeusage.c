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
	struct strmap *node_index; /* node ID -> index in nodes */
	struct node_total *nodes;
	size_t n_nodes;
	struct strmap *counts; /* "node/service[/version]" -> tasks */
};

struct nodeusage *nodeusage_new(void)
{
	struct nodeusage *u = xcalloc(1, sizeof(*u));

	u->node_index = strmap_new();
	u->counts = strmap_new();
	return u;
}

void nodeusage_free(struct nodeusage *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n_nodes; i++)
		free(u->nodes[i].ports);
	free(u->nodes);
	strmap_free(u->node_index);
	strmap_free(u->counts);
	free(u);
}

static struct node_total *node_of(struct nodeusage *u, const char *id)
{
	int64_t *slot;

	if (strmap_find(u->node_index, id) == NULL) {
		u->nodes = xrealloc(u->nodes,
				    (u->n_nodes + 1) * sizeof(*u->nodes));
		memset(&u->nodes[u->n_nodes], 0, sizeof(*u->nodes));
		*strmap_slot(u->node_index, id) = (int64_t)u->n_nodes++;
	}
	slot = strmap_slot(u->node_index, id);
	return &u->nodes[*slot];
}

static const struct node_total *find_node(const struct nodeusage *u,
					  const char *id)
{
	const int64_t *i = strmap_find(u->node_index, id);

	return i != NULL ? &u->nodes[*i] : NULL;
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

void nodeusage_add_live(struct nodeusage *u, const Swarmd__Task *t)
{
	struct node_total *n = node_of(u, t->node_id);
	const Swarmd__TaskSpec *s = t->spec;
	char key[256];

	n->tasks++;
	if (s == NULL)
		return;
	n->nano_cpus += s->reserve_nano_cpus;
	n->memory_bytes += s->reserve_memory_bytes;
	count_key(key, sizeof(key), t->node_id, t->service_id, NULL);
	(*strmap_slot(u->counts, key))++;
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
	char key[256];

	count_key(key, sizeof(key), t->node_id, t->service_id,
		  &t->spec_version);
	(*strmap_slot(u->counts, key))++;
}

static uint64_t count_of(const struct nodeusage *u, const char *key)
{
	const int64_t *v = strmap_find(u->counts, key);

	return v != NULL ? (uint64_t)*v : 0;
}

void nodeusage_get(const struct nodeusage *u, const char *node,
		   const char *svc_id, struct sched_usage *out)
{
	const struct node_total *n = find_node(u, node);
	char key[256];

	memset(out, 0, sizeof(*out));
	if (n == NULL)
		return;
	out->nano_cpus = n->nano_cpus;
	out->memory_bytes = n->memory_bytes;
	out->ports = n->ports;
	out->n_ports = n->n_ports;
	count_key(key, sizeof(key), node, svc_id, NULL);
	out->service_tasks = count_of(u, key);
}

uint64_t nodeusage_tasks(const struct nodeusage *u, const char *node)
{
	const struct node_total *n = find_node(u, node);

	return n != NULL ? n->tasks : 0;
}

uint64_t nodeusage_failures(const struct nodeusage *u, const char *node,
			    const char *svc_id, uint64_t spec_version)
{
	char key[256];

	count_key(key, sizeof(key), node, svc_id, &spec_version);
	return count_of(u, key);
}

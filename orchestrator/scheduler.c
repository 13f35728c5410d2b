#include "orchestrator/scheduler.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

enum { EXPR_MAX = 256 };

static void trim(char *s)
{
	size_t n = strlen(s);
	size_t lead = strspn(s, " \t");

	while (n > lead && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	memmove(s, s + lead, n - lead + 1);
}

static const char *label(Swarmd__KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0)
			return kv[i]->value;
	return NULL;
}

/* The node's value for a constraint key; NULL when it has none. */
static const char *node_value(const char *key, const char *node_id,
			      const Swarmd__Node *n)
{
	if (strcasecmp(key, "node.id") == 0)
		return node_id;
	if (strcasecmp(key, "node.hostname") == 0)
		return n->hostname;
	if (strcasecmp(key, "node.ip") == 0)
		return n->addr;
	if (strcasecmp(key, "node.role") == 0)
		return n->role;
	if (strcasecmp(key, "node.platform.os") == 0)
		return n->os;
	if (strcasecmp(key, "node.platform.arch") == 0)
		return n->architecture;
	if (strncasecmp(key, "node.labels.", 12) == 0)
		return label(n->labels, n->n_labels, key + 12);
	if (strncasecmp(key, "engine.labels.", 14) == 0)
		return label(n->engine_labels, n->n_engine_labels, key + 14);
	return NULL;
}

/* Docker reports x86_64 nodes as amd64 in constraints too. */
static bool arch_equal(const char *a, const char *b)
{
	bool a64 = strcasecmp(a, "x86_64") == 0 || strcasecmp(a, "amd64") == 0;
	bool b64 = strcasecmp(b, "x86_64") == 0 || strcasecmp(b, "amd64") == 0;

	return (a64 && b64) || strcasecmp(a, b) == 0;
}

bool sched_constraint_match(const char *expr, const char *node_id,
			    const Swarmd__Node *node)
{
	char key[EXPR_MAX], value[EXPR_MAX];
	const char *op = strstr(expr, "==");
	bool equal = op != NULL;
	const char *have;
	bool same;

	if (op == NULL)
		op = strstr(expr, "!=");
	if (op == NULL || (size_t)(op - expr) >= sizeof(key) ||
	    strlen(op + 2) >= sizeof(value))
		return false;
	memcpy(key, expr, (size_t)(op - expr));
	key[op - expr] = '\0';
	snprintf(value, sizeof(value), "%s", op + 2);
	trim(key);
	trim(value);
	have = node_value(key, node_id, node);
	if (have == NULL)
		return !equal;
	same = strcasecmp(key, "node.platform.arch") == 0
		       ? arch_equal(have, value)
		       : strcasecmp(have, value) == 0;
	return equal ? same : !same;
}

static bool ready(const Swarmd__Node *n)
{
	return strcmp(n->state, "ready") == 0 &&
	       strcmp(n->availability, "active") == 0;
}

static bool fits(const Swarmd__Node *n, const Swarmd__TaskSpec *s,
		 const struct sched_usage *u)
{
	return (s->reserve_nano_cpus == 0 ||
		u->nano_cpus + s->reserve_nano_cpus <= n->nano_cpus) &&
	       (s->reserve_memory_bytes == 0 ||
		u->memory_bytes + s->reserve_memory_bytes <= n->memory_bytes);
}

/* SwarmKit compares platforms after normalizing x86_64 to amd64 and
 * aarch64 to arm64; an empty field matches any node. */
static const char *norm_arch(const char *a)
{
	if (strcasecmp(a, "x86_64") == 0)
		return "amd64";
	if (strcasecmp(a, "aarch64") == 0)
		return "arm64";
	return a;
}

static bool platform_ok(const Swarmd__Node *n, const Swarmd__TaskSpec *s)
{
	for (size_t i = 0; i < s->n_platforms; i++) {
		const Swarmd__Platform *p = s->platforms[i];

		if ((p->architecture[0] == '\0' ||
		     strcasecmp(norm_arch(p->architecture),
				norm_arch(n->architecture)) == 0) &&
		    (p->os[0] == '\0' || strcasecmp(p->os, n->os) == 0))
			return true;
	}
	return s->n_platforms == 0;
}

static bool ports_free(const Swarmd__TaskSpec *s, const struct sched_usage *u)
{
	for (size_t i = 0; i < s->n_ports; i++) {
		if (strcmp(s->ports[i]->mode, "host") != 0)
			continue;
		for (size_t j = 0; j < u->n_ports; j++)
			if (u->ports[j] == s->ports[i]->published)
				return false;
	}
	return true;
}

int sched_check(const char *node_id, const Swarmd__Node *node,
		const Swarmd__TaskSpec *spec, const struct sched_usage *used)
{
	if (!ready(node))
		return SCHED_READY;
	if (spec == NULL)
		return -1;
	if (!fits(node, spec, used))
		return SCHED_RESOURCES;
	for (size_t i = 0; i < spec->n_constraints; i++)
		if (!sched_constraint_match(spec->constraints[i], node_id, node))
			return SCHED_CONSTRAINTS;
	if (!platform_ok(node, spec))
		return SCHED_PLATFORM;
	if (!ports_free(spec, used))
		return SCHED_PORTS;
	if (spec->max_replicas > 0 && used->service_tasks >= spec->max_replicas)
		return SCHED_MAX_REPLICAS;
	return -1;
}

/* ---- choosing among the nodes that fit ---------------------------------- */

/* The value of a spread label on a node; "" groups the nodes without it. */
static const char *spread_value(const struct sched_candidate *c,
				const char *label)
{
	const char *v = node_value(label, c->node_id, c->node);

	return v != NULL ? v : "";
}

/* Tasks of the service on the nodes still in play whose label has value. */
static uint64_t group_tasks(const struct sched_candidate *c, size_t n,
			    const bool *in, const char *label,
			    const char *value)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (in[i] && strcmp(spread_value(&c[i], label), value) == 0)
			sum += c[i].service_tasks;
	return sum;
}

/* Keeps in play only the nodes of the label value with the fewest tasks. */
static void narrow(const struct sched_candidate *c, size_t n, bool *in,
		   const char *label)
{
	const char *best = NULL;
	uint64_t best_n = 0;

	for (size_t i = 0; i < n; i++) {
		const char *v;
		uint64_t t;

		if (!in[i])
			continue;
		v = spread_value(&c[i], label);
		t = group_tasks(c, n, in, label, v);
		if (best == NULL || t < best_n) {
			best = v;
			best_n = t;
		}
	}
	for (size_t i = 0; best != NULL && i < n; i++)
		if (in[i] && strcmp(spread_value(&c[i], label), best) != 0)
			in[i] = false;
}

/* SwarmKit's nodeLess: true when a should get the task before b. */
static bool better(const struct sched_candidate *a,
		   const struct sched_candidate *b)
{
	if ((a->recent_failures >= SCHED_MAX_FAILURES ||
	     b->recent_failures >= SCHED_MAX_FAILURES) &&
	    a->recent_failures != b->recent_failures)
		return a->recent_failures < b->recent_failures;
	if (a->service_tasks != b->service_tasks)
		return a->service_tasks < b->service_tasks;
	return a->all_tasks < b->all_tasks;
}

/* better(), with the lower index first among equals. */
static bool before(const struct sched_candidate *a,
		   const struct sched_candidate *b)
{
	if (better(a, b))
		return true;
	return !better(b, a) && a->index < b->index;
}

void sched_heap_init(struct sched_heap *h, size_t cap)
{
	h->c = xcalloc(cap + 1, sizeof(*h->c));
	h->n = 0;
	h->cap = cap + 1;
}

void sched_heap_free(struct sched_heap *h)
{
	free(h->c);
	h->c = NULL;
	h->n = h->cap = 0;
}

static void heap_swap(struct sched_heap *h, size_t i, size_t j)
{
	struct sched_candidate t = h->c[i];

	h->c[i] = h->c[j];
	h->c[j] = t;
}

void sched_heap_push(struct sched_heap *h, const struct sched_candidate *c)
{
	size_t i = h->n++;

	if (h->n > h->cap) {
		h->cap *= 2;
		h->c = xrealloc(h->c, h->cap * sizeof(*h->c));
	}
	h->c[i] = *c;
	while (i > 0 && before(&h->c[i], &h->c[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

bool sched_heap_pop(struct sched_heap *h, struct sched_candidate *out)
{
	size_t i = 0;

	if (h->n == 0)
		return false;
	*out = h->c[0];
	h->c[0] = h->c[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && before(&h->c[l], &h->c[m]))
			m = l;
		if (r < h->n && before(&h->c[r], &h->c[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
	return true;
}

int sched_pick(const struct sched_candidate *c, size_t n,
	       char *const *spread, size_t n_spread)
{
	bool *in;
	int best = -1;

	if (n == 0)
		return -1;
	in = xcalloc(n, sizeof(*in));
	for (size_t i = 0; i < n; i++)
		in[i] = true;
	for (size_t l = 0; l < n_spread; l++)
		narrow(c, n, in, spread[l]);
	for (size_t i = 0; i < n; i++)
		if (in[i] && (best < 0 || better(&c[i], &c[best])))
			best = (int)i;
	free(in);
	return best;
}

void sched_explain(const size_t counts[SCHED_FILTERS], char *out, size_t n)
{
	static const char *const what[SCHED_FILTERS] = {
		"not available for new tasks", "insufficient resources on",
		"scheduling constraints not satisfied on",
		"unsupported platform on",
		"host-mode port already in use on",
		"max replicas per node limit exceed"};
	size_t len = (size_t)snprintf(out, n, "no suitable node (");

	for (int f = 0; f < SCHED_FILTERS && len < n; f++) {
		const char *sep = len > strlen("no suitable node (") ? "; " : "";
		size_t c = counts[f];

		if (c == 0)
			continue;
		if (f == SCHED_READY)
			len += (size_t)snprintf(out + len, n - len, "%s%zu node%s %s",
						sep, c, c == 1 ? "" : "s",
						what[f]);
		else if (f == SCHED_MAX_REPLICAS)
			len += (size_t)snprintf(out + len, n - len, "%s%s", sep,
						what[f]);
		else
			len += (size_t)snprintf(out + len, n - len, "%s%s %zu node%s",
						sep, what[f], c, c == 1 ? "" : "s");
	}
	if (len == strlen("no suitable node ("))
		snprintf(out, n, "no suitable node");
	else if (len < n)
		snprintf(out + len, n - len, ")");
}

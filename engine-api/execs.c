#include "engine-api/execs.h"

#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "lib/id.h"

struct api_execs {
	struct api_exec *v[EXECS_MAX];
	size_t n;
	uint64_t seq;
};

struct api_execs *execs_new(void)
{
	return xcalloc(1, sizeof(struct api_execs));
}

static void exec_free(struct api_exec *e)
{
	for (size_t i = 0; i < e->argc; i++)
		free(e->argv[i]);
	free(e->argv);
	free(e->user);
	free(e);
}

void execs_free(struct api_execs *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->n; i++)
		exec_free(x->v[i]);
	free(x);
}

/* Drops the oldest instance that is not running; false when all run. */
static bool evict(struct api_execs *x)
{
	size_t oldest = x->n;

	for (size_t i = 0; i < x->n; i++)
		if (!x->v[i]->running &&
		    (oldest == x->n || x->v[i]->seq < x->v[oldest]->seq))
			oldest = i;
	if (oldest == x->n)
		return false;
	exec_free(x->v[oldest]);
	x->v[oldest] = x->v[--x->n];
	return true;
}

struct api_exec *execs_add(struct api_execs *x, const struct api_exec *e,
			   struct sw_err *err)
{
	struct api_exec *n;

	if (x->n == EXECS_MAX && !evict(x)) {
		sw_err_set(err, SW_EUNAVAILABLE,
			   "too many exec instances are running");
		return NULL;
	}
	n = xmalloc(sizeof(*n));
	*n = *e;
	id_new_hex(n->id);
	n->seq = ++x->seq;
	x->v[x->n++] = n;
	return n;
}

struct api_exec *execs_get(struct api_execs *x, const char *id)
{
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i]->id, id) == 0)
			return x->v[i];
	return NULL;
}

static int by_seq(const void *a, const void *b)
{
	const struct api_exec *const *x = a, *const *y = b;

	return (*x)->seq < (*y)->seq ? -1 : (*x)->seq > (*y)->seq;
}

size_t execs_of(struct api_execs *x, const char *container_id, char ***ids)
{
	struct api_exec *mine[EXECS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i]->container_id, container_id) == 0)
			mine[n++] = x->v[i];
	if (n > 1)
		qsort(mine, n, sizeof(struct api_exec *), by_seq);
	*ids = xcalloc(n + 1, sizeof(**ids));
	for (size_t i = 0; i < n; i++)
		(*ids)[i] = mine[i]->id;
	return n;
}

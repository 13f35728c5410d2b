#include "orchestrator/commitstats.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/log.h"

/* 8 buckets per power of two: percentiles within 12.5 %, up to ~17 min. */
enum { SUB = 8, BUCKETS = SUB * 31, WRITE_MS = 1000 };

struct commitstats {
	uv_timer_t timer;
	char *path;
	uint64_t n, written_n, sum_us, max_us;
	uint64_t counts[BUCKETS];
};

static unsigned bucket_of(uint64_t us)
{
	unsigned e = 0;

	if (us < SUB)
		return (unsigned)us;
	while ((us >> e) >= 2 * SUB)
		e++;
	/* us is in [SUB << e, 2 SUB << e): the top bits pick the bucket. */
	unsigned b = (e + 1) * SUB + (unsigned)((us >> e) - SUB);

	return b < BUCKETS ? b : BUCKETS - 1;
}

static uint64_t bucket_lo(unsigned b)
{
	if (b < SUB)
		return b;
	return (uint64_t)(SUB + b % SUB) << (b / SUB - 1);
}

static void write_file(struct commitstats *s)
{
	char *tmp = xasprintf("%s.tmp", s->path);
	FILE *f = fopen(tmp, "w");

	if (f == NULL) {
		log_warn("commit stats: cannot write %s", tmp);
		free(tmp);
		return;
	}
	fprintf(f, "{\"n\":%llu,\"sum_us\":%llu,\"max_us\":%llu,\"lo_us\":[",
		(unsigned long long)s->n, (unsigned long long)s->sum_us,
		(unsigned long long)s->max_us);
	for (unsigned b = 0; b < BUCKETS; b++)
		fprintf(f, "%s%llu", b ? "," : "",
			(unsigned long long)bucket_lo(b));
	fputs("],\"counts\":[", f);
	for (unsigned b = 0; b < BUCKETS; b++)
		fprintf(f, "%s%llu", b ? "," : "",
			(unsigned long long)s->counts[b]);
	fputs("]}\n", f);
	if (fclose(f) == 0 && rename(tmp, s->path) == 0)
		s->written_n = s->n;
	free(tmp);
}

static void on_timer(uv_timer_t *t)
{
	struct commitstats *s = t->data;

	if (s->n != s->written_n)
		write_file(s);
}

struct commitstats *commitstats_from_env(uv_loop_t *loop)
{
	const char *path = getenv("SWARMD_COMMIT_STATS");
	struct commitstats *s;

	if (path == NULL || path[0] == '\0')
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, on_timer, WRITE_MS, WRITE_MS);
	/* The timer must not keep a stopping daemon's loop alive. */
	uv_unref((uv_handle_t *)&s->timer);
	write_file(s);
	return s;
}

void commitstats_record(struct commitstats *s, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;

	if (s == NULL)
		return;
	s->n++;
	s->sum_us += us;
	if (us > s->max_us)
		s->max_us = us;
	s->counts[bucket_of(us)]++;
}

static void on_closed(uv_handle_t *h)
{
	struct commitstats *s = h->data;

	free(s->path);
	free(s);
}

void commitstats_free(struct commitstats *s)
{
	if (s == NULL)
		return;
	write_file(s);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}

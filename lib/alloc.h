/* Allocation that aborts on out-of-memory, as redis, crun and h2o do: a
 * daemon gains nothing from hand-written OOM paths. Sizes taken from input
 * must be bounded by the caller before they reach these. */
#ifndef SW_ALLOC_H
#define SW_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

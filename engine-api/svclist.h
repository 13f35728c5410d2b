/* The body of GET /services. The part of a service's JSON that depends only
 * on its record (ID through UpdateStatus) is kept rendered per record
 * version, so a list joins text instead of parsing, building, serializing
 * and freeing every spec again; ServiceStatus comes from one pass over the
 * tasks for the whole list. */
#ifndef SW_API_SVCLIST_H
#define SW_API_SVCLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "orchestrator/services.h"
#include "orchestrator/store.h"

struct svclist;

struct svclist *svclist_new(void);
void svclist_free(struct svclist *c);

/* Whether a service goes into the list. */
typedef bool (*svclist_keep_fn)(void *ctx, const struct store_record *rec,
				const Swarmd__Service *svc);

/* Renders the JSON array (with Docker's trailing newline) of the services
 * keep() accepts, with ServiceStatus when status is set. Returns a malloc'd
 * body and its length in *len. */
char *svclist_render(struct svclist *c, const struct store *st, bool status,
		     svclist_keep_fn keep, void *ctx, size_t *len);

#endif

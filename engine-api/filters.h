/* The `filters` query parameter, in both forms Docker accepts: the CLI's
 * {"key":{"value":true}} and the SDK's legacy {"key":["value"]}. */
#ifndef SW_API_FILTERS_H
#define SW_API_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct filter_entry {
	char *key;
	char **values;
	size_t nvalues;
};

struct filters {
	struct filter_entry *entries;
	size_t n;
};

/* Parses text (NULL or empty means no filters) into f, which the caller
 * releases with filters_free. -1 with err set (400) on bad JSON. */
int filters_parse(const char *text, struct filters *f, struct sw_err *err);
void filters_free(struct filters *f);

/* Checks every key is in the NULL-terminated allowed list; otherwise -1 with
 * Docker's 400 "Invalid filter 'key'". */
int filters_validate(const struct filters *f, const char *const *allowed,
		     struct sw_err *err);

/* The entry for key, or NULL when the filter does not mention it. */
const struct filter_entry *filters_get(const struct filters *f,
				       const char *key);

/* True when the filter has no key, or any of its values satisfies pred. */
bool filters_match_any(const struct filters *f, const char *key,
		       bool (*pred)(const char *value, const void *arg),
		       const void *arg);

#endif

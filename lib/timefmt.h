/* Times as Go prints them (RFC 3339 with nanoseconds, trailing zeros of the
 * fraction trimmed), which is what Docker clients read and tests compare. */
#ifndef SW_TIMEFMT_H
#define SW_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Formats ns nanoseconds since the epoch in UTC with a Z suffix, e.g.
 * 2026-11-25T16:51:42.94578245Z. 0 formats as Go's zero time
 * 0001-01-01T00:00:00Z. Returns out. */
char *timefmt_utc(int64_t ns, char *out, size_t n);

/* The current time in the local zone with its offset (what /info's
 * SystemTime shows), e.g. 2026-11-25T16:51:04.380881603Z or +01:00. */
char *timefmt_now_local(char *out, size_t n);

/* Nanoseconds since the epoch, from the real-time clock. */
int64_t timefmt_now_ns(void);

#endif

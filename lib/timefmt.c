#include "lib/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t timefmt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends ".fraction" without trailing zeros, or nothing for 0. */
static void put_fraction(char *out, size_t n, long nsec)
{
	char frac[24];
	size_t len;

	if (nsec == 0) {
		out[0] = '\0';
		return;
	}
	snprintf(frac, sizeof(frac), "%09ld", nsec);
	len = strlen(frac);
	while (len > 0 && frac[len - 1] == '0')
		frac[--len] = '\0';
	snprintf(out, n, ".%s", frac);
}

char *timefmt_utc(int64_t ns, char *out, size_t n)
{
	struct tm tm;
	time_t secs;
	char date[40];
	char frac[24];

	if (ns == 0) {
		snprintf(out, n, "0001-01-01T00:00:00Z");
		return out;
	}
	secs = (time_t)(ns / 1000000000);
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	put_fraction(frac, sizeof(frac), (long)(ns % 1000000000));
	snprintf(out, n, "%s%sZ", date, frac);
	return out;
}

char *timefmt_now_local(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char date[40];
	char frac[24];
	char zone[40];
	long off;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	put_fraction(frac, sizeof(frac), ts.tv_nsec);
	off = tm.tm_gmtoff;
	if (off == 0) {
		snprintf(zone, sizeof(zone), "Z");
	} else {
		char sign = off < 0 ? '-' : '+';

		off = off < 0 ? -off : off;
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", sign, off / 3600,
			 (off / 60) % 60);
	}
	snprintf(out, n, "%s%s%s", date, frac, zone);
	return out;
}

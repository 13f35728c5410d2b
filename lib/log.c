#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/timefmt.h"

static enum sw_loglevel current_level = SW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warning", "error",
					  "fatal"};

int log_parse_level(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return SW_LOG_DEBUG;
	if (strcmp(s, "info") == 0)
		return SW_LOG_INFO;
	if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
		return SW_LOG_WARN;
	if (strcmp(s, "error") == 0)
		return SW_LOG_ERROR;
	if (strcmp(s, "fatal") == 0)
		return SW_LOG_FATAL;
	return -1;
}

void log_set_level(enum sw_loglevel level)
{
	current_level = level;
}

enum sw_loglevel log_get_level(void)
{
	return current_level;
}

void log_msg(enum sw_loglevel level, const char *fmt, ...)
{
	char when[64];
	char text[2048];
	va_list ap;

	if (level < current_level)
		return;
	timefmt_now_local(when, sizeof(when));
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, "time=\"%s\" level=%s msg=\"%s\"\n", when,
		level_names[level], text);
}

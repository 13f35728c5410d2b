#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sw_err_set(struct sw_err *err, enum sw_errkind kind, const char *fmt, ...)
{
	va_list ap;

	err->kind = kind;
	err->sys = 0;
	err->status = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -(int)kind;
}

int sw_err_sys(struct sw_err *err, int sys, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	err->kind = SW_ESYSTEM;
	err->sys = sys;
	err->status = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(sys));
	return -(int)SW_ESYSTEM;
}

int sw_err_wrap(struct sw_err *err, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	err->msg[0] = '\0';
	/* Concatenate by hand: the result is cut at the buffer's end. */
	strncat(err->msg, prefix, sizeof(err->msg) - 1);
	strncat(err->msg, ": ", sizeof(err->msg) - 1 - strlen(err->msg));
	strncat(err->msg, old, sizeof(err->msg) - 1 - strlen(err->msg));
	return -(int)err->kind;
}

void sw_err_clear(struct sw_err *err)
{
	memset(err, 0, sizeof(*err));
}

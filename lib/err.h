/* Error values carried from the layer that knows a fact to the edge that
 * reports it. A struct sw_err lives in the caller's object or on its stack,
 * so reporting an error never allocates and cannot fail. Kinds mirror moby's
 * errdefs; engine-api/errors.c alone maps them to HTTP statuses. */
#ifndef SW_ERR_H
#define SW_ERR_H

enum sw_errkind {
	SW_EOK = 0,
	SW_EINVALID = 1,      /* 400 */
	SW_ENOTFOUND = 2,     /* 404 */
	SW_ECONFLICT = 3,     /* 409 */
	SW_EUNAUTHORIZED = 4, /* 401 */
	SW_EFORBIDDEN = 5,    /* 403 */
	SW_ENOTMODIFIED = 6,  /* 304 */
	SW_EUNAVAILABLE = 7,  /* 503 */
	SW_ENOTIMPL = 8,      /* 501 */
	SW_ETOOLARGE = 9,     /* 413 */
	SW_ESYSTEM = 10,      /* 500 */
};

struct sw_err {
	enum sw_errkind kind;
	int sys;       /* errno or library code when one applies, else 0 */
	int status;    /* HTTP status overriding the kind's default, or 0 */
	char msg[512];
};

/* Fills err and returns -kind, so callers can write
 * `return sw_err_set(err, SW_EINVALID, "bad %s", x);`. */
int sw_err_set(struct sw_err *err, enum sw_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As sw_err_set, with errno kept in err->sys and ": strerror" appended. */
int sw_err_sys(struct sw_err *err, int sys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends context: "ctx: previous message". Returns -err->kind. */
int sw_err_wrap(struct sw_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Resets err to "no error". */
void sw_err_clear(struct sw_err *err);

#endif

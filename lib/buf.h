/* A growable byte buffer, always NUL-terminated so text can be read in
 * place. Owned by whoever embeds it; buf_free releases the bytes. */
#ifndef SW_BUF_H
#define SW_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them) and resets b. */
char *buf_steal(struct buf *b);

#endif

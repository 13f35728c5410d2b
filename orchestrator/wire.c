#include "orchestrator/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void wire_reserve(struct wire_writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 64;
	void *p;

	if (w->len + n <= w->cap)
		return;
	while (cap < w->len + n)
		cap *= 2;
	p = w->grow(w->data, cap);
	if (p == NULL) {
		/* Same policy as lib/alloc.h: OOM is not recoverable here. */
		(void)fprintf(stderr, "out of memory (%zu bytes)\n", cap);
		abort();
	}
	w->data = p;
	w->cap = cap;
}

void wire_writer_init(struct wire_writer *w, wire_realloc_fn grow, size_t hint)
{
	w->data = NULL;
	w->len = 0;
	w->cap = 0;
	w->grow = grow;
	if (hint > 0)
		wire_reserve(w, hint);
}

void wire_put_bytes(struct wire_writer *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	wire_reserve(w, n);
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

void wire_put_zeros(struct wire_writer *w, size_t n)
{
	if (n == 0)
		return;
	wire_reserve(w, n);
	memset(w->data + w->len, 0, n);
	w->len += n;
}

void wire_put_u8(struct wire_writer *w, uint8_t v)
{
	wire_put_bytes(w, &v, 1);
}

void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	unsigned char b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	wire_put_bytes(w, b, sizeof(b));
}

void wire_put_u64(struct wire_writer *w, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	wire_put_bytes(w, b, sizeof(b));
}

void wire_put_str(struct wire_writer *w, const char *s, size_t n)
{
	wire_put_bytes(w, s, n);
	wire_put_u8(w, 0);
}

void wire_reader_init(struct wire_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = false;
}

const void *wire_get_bytes(struct wire_reader *r, size_t n)
{
	const void *p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t wire_get_u8(struct wire_reader *r)
{
	const unsigned char *b = wire_get_bytes(r, 1);

	return b ? b[0] : 0;
}

uint32_t wire_get_u32(struct wire_reader *r)
{
	const unsigned char *b = wire_get_bytes(r, 4);
	uint32_t v = 0;
	int i;

	if (b == NULL)
		return 0;
	for (i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

uint64_t wire_get_u64(struct wire_reader *r)
{
	const unsigned char *b = wire_get_bytes(r, 8);
	uint64_t v = 0;
	int i;

	if (b == NULL)
		return 0;
	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

const char *wire_get_str(struct wire_reader *r, size_t n)
{
	const char *s;

	if (n == SIZE_MAX) {
		r->bad = true;
		return NULL;
	}
	s = wire_get_bytes(r, n + 1);
	if (s == NULL)
		return NULL;
	if (s[n] != '\0' || memchr(s, '\0', n) != NULL) {
		r->bad = true;
		return NULL;
	}
	return s;
}

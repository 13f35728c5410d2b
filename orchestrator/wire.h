/* Little-endian binary encoding helpers for the store's own formats: raft
 * change entries, RocksDB record values and FSM snapshots. The writer grows
 * through a caller-chosen realloc (raft_realloc for buffers handed to raft,
 * xrealloc otherwise) and aborts on out-of-memory like lib/alloc.h. The reader
 * never reads past its end: any overrun or malformed string sets `bad`, after
 * which every getter returns zero/NULL, so a decoder checks once at the end. */
#ifndef SW_ORCH_WIRE_H
#define SW_ORCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *(*wire_realloc_fn)(void *p, size_t n);

struct wire_writer {
	unsigned char *data;
	size_t len;
	size_t cap;
	wire_realloc_fn grow;
};

struct wire_reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

/* Starts an empty writer; `hint` bytes are reserved up front. */
void wire_writer_init(struct wire_writer *w, wire_realloc_fn grow, size_t hint);
void wire_put_u8(struct wire_writer *w, uint8_t v);
void wire_put_u32(struct wire_writer *w, uint32_t v);
void wire_put_u64(struct wire_writer *w, uint64_t v);
void wire_put_bytes(struct wire_writer *w, const void *p, size_t n);
void wire_put_zeros(struct wire_writer *w, size_t n);
/* Writes the n bytes of s followed by a NUL, so decoders can borrow it in
 * place as a C string. The length itself is written by the caller. */
void wire_put_str(struct wire_writer *w, const char *s, size_t n);

void wire_reader_init(struct wire_reader *r, const void *p, size_t n);
uint8_t wire_get_u8(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
uint64_t wire_get_u64(struct wire_reader *r);
/* Borrows n bytes from the input; NULL (and bad) past the end. */
const void *wire_get_bytes(struct wire_reader *r, size_t n);
/* Borrows a string of n bytes written by wire_put_str: it must be followed
 * by a NUL and contain none itself. */
const char *wire_get_str(struct wire_reader *r, size_t n);

#endif

#include "orchestrator/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "lib/id.h"

#define JOIN_PREFIX "SWMTKN"
#define KEY_PREFIX "SWMKEY-1-"
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)
/* The most dash-separated parts a token has (version 2). */
#define JOIN_PARTS_MAX 5

static const char base36_digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char base64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base36_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	return -1;
}

/* Writes the big-endian number bytes[0..n) (n <= CA_DIGEST_LEN) as `width`
 * base36 digits, zero-padded, by repeated long division by 36. */
static void base36_encode(const unsigned char *bytes, size_t n, char *out,
			  size_t width)
{
	unsigned char num[CA_DIGEST_LEN];

	memcpy(num, bytes, n);
	for (size_t pos = width; pos-- > 0;) {
		unsigned rem = 0;

		for (size_t i = 0; i < n; i++) {
			unsigned cur = rem * 256 + num[i];

			num[i] = (unsigned char)(cur / 36);
			rem = cur % 36;
		}
		out[pos] = base36_digits[rem];
	}
	out[width] = '\0';
}

/* Parses len base36 digits into an n-byte big-endian number. Fails on any
 * other character, and when the value does not fit: 50 digits can exceed
 * 2^256, which SwarmKit then rejects as a digest of the wrong length. */
static int base36_decode(const char *s, size_t len, unsigned char *out,
			 size_t n)
{
	memset(out, 0, n);
	for (size_t i = 0; i < len; i++) {
		int digit = base36_value(s[i]);
		unsigned carry;

		if (digit < 0)
			return -1;
		carry = (unsigned)digit;
		for (size_t j = n; j-- > 0;) {
			unsigned cur = out[j] * 36u + carry;

			out[j] = (unsigned char)cur;
			carry = cur >> 8;
		}
		if (carry != 0)
			return -1;
	}
	return 0;
}

static bool base36_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (base36_value(s[i]) < 0)
			return false;
	}
	return true;
}

void tokens_join_new(const unsigned char root_digest[CA_DIGEST_LEN],
		     char out[TOKENS_JOIN_LEN + 1])
{
	char digest[TOKENS_DIGEST_TEXT_LEN + 1];
	char secret[ID_SWARM_LEN + 1];

	base36_encode(root_digest, CA_DIGEST_LEN, digest, sizeof(digest) - 1);
	/* A swarm ID is exactly the secret's shape: 128 random bits in 25
	 * base36 digits. */
	id_new_swarm(secret);
	(void)snprintf(out, TOKENS_JOIN_LEN + 1, JOIN_PREFIX "-1-%s-%s", digest,
		       secret);
}

/* Splits s at every '-' into at most max parts. Returns the part count, or
 * max + 1 when there are more. */
static size_t split_dashes(const char *s, const char **parts, size_t *lens,
			   size_t max)
{
	size_t n = 0;

	for (;;) {
		const char *dash = strchr(s, '-');

		if (n == max)
			return max + 1;
		parts[n] = s;
		lens[n] = dash != NULL ? (size_t)(dash - s) : strlen(s);
		n++;
		if (dash == NULL)
			return n;
		s = dash + 1;
	}
}

static bool part_is(const char *part, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(part, want, len) == 0;
}

/* Reads the version (and the FIPS flag of version 2) from the parts. */
static int join_version(const char **parts, const size_t *lens, size_t n,
			struct tokens_join *tok)
{
	if (n == 4 && part_is(parts[1], lens[1], "1")) {
		tok->version = 1;
		tok->fips = false;
		return 0;
	}
	if (n == 5 && part_is(parts[1], lens[1], "2") &&
	    (part_is(parts[2], lens[2], "0") ||
	     part_is(parts[2], lens[2], "1"))) {
		tok->version = 2;
		tok->fips = parts[2][0] == '1';
		return 0;
	}
	return -1;
}

static int join_invalid(struct sw_err *err)
{
	int rc = sw_err_set(err, SW_EINVALID, "invalid join token");

	/* dockerd passes SwarmKit's untyped error through as a 500. */
	err->status = 500;
	return rc;
}

int tokens_join_parse(const char *s, struct tokens_join *tok,
		      struct sw_err *err)
{
	const char *parts[JOIN_PARTS_MAX];
	size_t lens[JOIN_PARTS_MAX];
	struct tokens_join parsed;
	const char *digest;
	const char *secret;
	size_t n;

	n = split_dashes(s, parts, lens, JOIN_PARTS_MAX);
	if (n < 4 || n > JOIN_PARTS_MAX ||
	    !part_is(parts[0], lens[0], JOIN_PREFIX) ||
	    join_version(parts, lens, n, &parsed) != 0)
		return join_invalid(err);
	digest = parts[n - 2];
	secret = parts[n - 1];
	if (lens[n - 2] != TOKENS_DIGEST_TEXT_LEN ||
	    lens[n - 1] != TOKENS_SECRET_LEN ||
	    base36_decode(digest, TOKENS_DIGEST_TEXT_LEN, parsed.root_digest,
			  CA_DIGEST_LEN) != 0 ||
	    !base36_valid(secret, TOKENS_SECRET_LEN))
		return join_invalid(err);
	memcpy(parsed.secret, secret, TOKENS_SECRET_LEN);
	parsed.secret[TOKENS_SECRET_LEN] = '\0';
	*tok = parsed;
	return 0;
}

int tokens_join_check_root(const struct tokens_join *tok,
			   const unsigned char root_digest[CA_DIGEST_LEN],
			   struct sw_err *err)
{
	char hex[2 * CA_DIGEST_LEN + 1];

	if (CRYPTO_memcmp(tok->root_digest, root_digest, CA_DIGEST_LEN) == 0)
		return 0;
	for (size_t i = 0; i < CA_DIGEST_LEN; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", tok->root_digest[i]);
	return sw_err_set(err, SW_ESYSTEM,
			  "remote CA does not match fingerprint. Expected: %s",
			  hex);
}

/* Go's subtle.ConstantTimeCompare: lengths are public (tokens have a fixed
 * shape), contents are compared without an early exit. */
static bool tokens_equal(const char *a, const char *b)
{
	size_t len = strlen(a);

	return len == strlen(b) && CRYPTO_memcmp(a, b, len) == 0;
}

int tokens_join_role(const char *presented, const char *worker_token,
		     const char *manager_token, enum ca_role *role,
		     struct sw_err *err)
{
	/* Both comparisons always run, so timing does not tell which token
	 * a guess came close to. */
	bool manager = manager_token != NULL && manager_token[0] != '\0' &&
		       tokens_equal(presented, manager_token);
	bool worker = worker_token != NULL && worker_token[0] != '\0' &&
		      tokens_equal(presented, worker_token);

	if (manager) {
		*role = CA_ROLE_MANAGER;
		return 0;
	}
	if (worker) {
		*role = CA_ROLE_WORKER;
		return 0;
	}
	return sw_err_set(err, SW_EINVALID,
			  "rpc error: code = InvalidArgument desc = A valid "
			  "join token is necessary to join this cluster");
}

void tokens_unlock_key_new(struct tokens_unlock_key *key)
{
	memset(key, 0, sizeof(*key));
	if (RAND_bytes(key->bytes, TOKENS_UNLOCK_KEY_LEN) != 1) {
		(void)fprintf(stderr, "swarmd: no randomness available\n");
		abort();
	}
	key->len = TOKENS_UNLOCK_KEY_LEN;
}

/* Go's base64.RawStdEncoding: the standard alphabet without '=' padding. */
static size_t base64_raw_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = base64_digits[(v >> 18) & 63];
		out[o++] = base64_digits[(v >> 12) & 63];
		if (left > 1)
			out[o++] = base64_digits[(v >> 6) & 63];
		if (left > 2)
			out[o++] = base64_digits[v & 63];
	}
	out[o] = '\0';
	return o;
}

void tokens_unlock_key_format(const struct tokens_unlock_key *key,
			      char out[TOKENS_UNLOCK_KEY_TEXT_MAX + 1])
{
	memcpy(out, KEY_PREFIX, KEY_PREFIX_LEN);
	base64_raw_encode(key->bytes, key->len, out + KEY_PREFIX_LEN);
}

static int base64_value(char c)
{
	const char *p = c != '\0' ? strchr(base64_digits, c) : NULL;

	return p != NULL ? (int)(p - base64_digits) : -1;
}

/* Decodes unpadded base64 as Go's non-strict RawStdEncoding does: any
 * character outside the alphabet (padding included) fails, a length of
 * 4k+1 fails, and the unused low bits of the last digit are ignored. */
static int base64_raw_decode(const char *s, size_t len, unsigned char *out,
			     size_t cap, size_t *out_len)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (len % 4 == 1 || len * 3 / 4 > cap)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = base64_value(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*out_len = o;
	return 0;
}

int tokens_unlock_key_parse(const char *s, struct tokens_unlock_key *key,
			    struct sw_err *err)
{
	struct tokens_unlock_key parsed;

	memset(&parsed, 0, sizeof(parsed));
	if (strncmp(s, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    base64_raw_decode(s + KEY_PREFIX_LEN, strlen(s + KEY_PREFIX_LEN),
			      parsed.bytes, sizeof(parsed.bytes),
			      &parsed.len) != 0) {
		OPENSSL_cleanse(&parsed, sizeof(parsed));
		return sw_err_set(err, SW_EINVALID, "invalid key string");
	}
	*key = parsed;
	OPENSSL_cleanse(&parsed, sizeof(parsed));
	return 0;
}

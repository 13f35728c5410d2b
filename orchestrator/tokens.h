/* Join tokens and the autolock unlock key, in SwarmKit's text formats
 * (moby/swarmkit ca/config.go GenerateJoinToken/ParseJoinToken,
 * manager/encryption/encryption.go HumanReadableKey):
 *
 *   SWMTKN-1-<digest>-<secret>
 *       digest: SHA-256 of the root CA certificate PEM (the TrustRoot text)
 *               as a big-endian number, lowercase base36, zero-padded to 50;
 *       secret: 128 random bits, lowercase base36, zero-padded to 25.
 *   SWMTKN-2-<0|1>-<digest>-<secret>
 *       the same, with a FIPS flag; SwarmKit writes it only when the cluster
 *       mandates FIPS. We parse it and never write it.
 *   SWMKEY-1-<key>
 *       key: unpadded standard base64 of the key bytes (32 random bytes).
 *
 * Pure: no I/O. Randomness comes from OpenSSL's CSPRNG; if it fails the
 * process aborts, as lib/id does, because nothing sensible can follow. */
#ifndef SW_TOKENS_H
#define SW_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "orchestrator/ca.h"

enum {
	TOKENS_DIGEST_TEXT_LEN = 50,
	TOKENS_SECRET_LEN = 25,
	TOKENS_JOIN_LEN = 85, /* "SWMTKN-1-" + 50 + "-" + 25 */
	TOKENS_UNLOCK_KEY_LEN = 32,
	TOKENS_UNLOCK_KEY_MAX = 64,      /* longest key we parse, in bytes */
	TOKENS_UNLOCK_KEY_TEXT_MAX = 95, /* "SWMKEY-1-" + base64 of 64 bytes */
};

/* A parsed join token. */
struct tokens_join {
	int version; /* 1, or 2 for the FIPS-flagged format */
	bool fips;
	unsigned char root_digest[CA_DIGEST_LEN];
	char secret[TOKENS_SECRET_LEN + 1];
};

/* Raw unlock key bytes. Secret: callers wipe it (OPENSSL_cleanse) when
 * done. */
struct tokens_unlock_key {
	unsigned char bytes[TOKENS_UNLOCK_KEY_MAX];
	size_t len;
};

/* Writes a new version-1 join token for the root with this digest (see
 * ca_root_digest) into out, NUL-terminated. Worker and manager tokens are
 * two calls; rotation is another call with the same digest. */
void tokens_join_new(const unsigned char root_digest[CA_DIGEST_LEN],
		     char out[TOKENS_JOIN_LEN + 1]);

/* Parses and validates a join token: prefix, version, part count, part
 * lengths, base36 alphabet (lowercase), and a digest that fits 256 bits.
 * Returns 0 and fills tok, or fails with kind INVALID, message
 * "invalid join token" and err->status 500, which is what dockerd answers
 * for a malformed token. tok is untouched on failure. */
int tokens_join_parse(const char *s, struct tokens_join *tok,
		      struct sw_err *err);

/* Checks that the root a manager served is the one the token pins. Returns
 * 0, or SYSTEM with SwarmKit's text "remote CA does not match fingerprint.
 * Expected: <hex>" (dockerd gives untyped errors 500). */
int tokens_join_check_root(const struct tokens_join *tok,
			   const unsigned char root_digest[CA_DIGEST_LEN],
			   struct sw_err *err);

/* Decides which role a presented token grants by comparing it, whole and in
 * constant time, with the cluster's current tokens, as SwarmKit's CA server
 * does. Returns 0 and sets *role, or INVALID with dockerd's text "rpc error:
 * code = InvalidArgument desc = A valid join token is necessary to join this
 * cluster". */
int tokens_join_role(const char *presented, const char *worker_token,
		     const char *manager_token, enum ca_role *role,
		     struct sw_err *err);

/* Fills key with TOKENS_UNLOCK_KEY_LEN fresh random bytes. */
void tokens_unlock_key_new(struct tokens_unlock_key *key);

/* Writes "SWMKEY-1-" and the unpadded base64 of key into out,
 * NUL-terminated. key->len must be at most TOKENS_UNLOCK_KEY_MAX. */
void tokens_unlock_key_format(const struct tokens_unlock_key *key,
			      char out[TOKENS_UNLOCK_KEY_TEXT_MAX + 1]);

/* Parses "SWMKEY-1-<unpadded base64>". Like SwarmKit, it accepts any
 * decodable length (up to TOKENS_UNLOCK_KEY_MAX bytes here): a key of the
 * wrong length is a wrong key, which the caller reports when unwrapping
 * fails. Returns 0 and fills key, or INVALID with dockerd's text "invalid
 * key string". */
int tokens_unlock_key_parse(const char *s, struct tokens_unlock_key *key,
			    struct sw_err *err);

#endif

/* Tests for orchestrator/tokens.c: join tokens and unlock keys, including
 * the tokens and key recorded from dockerd 20.10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/tokens.h"

/* From samples/swarm-inspect.json and swarm-unlockkey.json. */
#define SAMPLE_DIGEST "4nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i3"
static const char sample_worker[] =
    "SWMTKN-1-" SAMPLE_DIGEST "-ecmvz8dw299tjjchsjzdc09n2";
static const char sample_manager[] =
    "SWMTKN-1-" SAMPLE_DIGEST "-1t53oj04tofz03sxgfco9h9y2";
static const char sample_unlock_key[] =
    "SWMKEY-1-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36LA";
/* sha256 of the sample TrustRoot PEM (Python hashlib). */
static const unsigned char sample_digest[CA_DIGEST_LEN] = {
    0xbb, 0x11, 0x71, 0xe0, 0x9b, 0xf9, 0x4c, 0x47, 0x77, 0xbf, 0x4e,
    0x1d, 0xa2, 0x54, 0x89, 0xdf, 0x48, 0xe6, 0xe4, 0x7d, 0xf7, 0x6d,
    0x2d, 0x71, 0x71, 0x6d, 0x01, 0x39, 0xae, 0x09, 0x24, 0x4b,
};
#define SECRET "ecmvz8dw299tjjchsjzdc09n2"

static void test_join_new_format(void **state)
{
	char tok[TOKENS_JOIN_LEN + 1];
	char again[TOKENS_JOIN_LEN + 1];

	tokens_join_new(sample_digest, tok);
	assert_int_equal(strlen(tok), TOKENS_JOIN_LEN);
	/* The digest encodes exactly as dockerd's did. */
	assert_memory_equal(tok, "SWMTKN-1-" SAMPLE_DIGEST "-", 60);
	tokens_join_new(sample_digest, again);
	assert_memory_equal(tok, again, 60);
	assert_string_not_equal(tok + 60, again + 60);
}

static void test_join_round_trip(void **state)
{
	unsigned char digest[CA_DIGEST_LEN];
	char tok[TOKENS_JOIN_LEN + 1];
	struct tokens_join parsed;
	struct sw_err err = {0};

	/* Edge values: zero pads to all '0', all-ones uses every digit. */
	for (int fill = 0; fill < 3; fill++) {
		memset(digest,
		       fill == 0   ? 0x00
		       : fill == 1 ? 0xff
				   : 0x5a,
		       sizeof(digest));
		tokens_join_new(digest, tok);
		assert_int_equal(tokens_join_parse(tok, &parsed, &err), 0);
		assert_int_equal(parsed.version, 1);
		assert_false(parsed.fips);
		assert_memory_equal(parsed.root_digest, digest, sizeof(digest));
		assert_string_equal(parsed.secret, tok + 60);
		assert_int_equal(tokens_join_check_root(&parsed, digest, &err),
				 0);
	}
}

static void test_join_parse_sample(void **state)
{
	struct tokens_join parsed;
	struct sw_err err = {0};

	assert_int_equal(tokens_join_parse(sample_worker, &parsed, &err), 0);
	assert_memory_equal(parsed.root_digest, sample_digest, CA_DIGEST_LEN);
	assert_string_equal(parsed.secret, SECRET);
	assert_int_equal(tokens_join_check_root(&parsed, sample_digest, &err),
			 0);
}

static void test_join_parse_v2(void **state)
{
	struct tokens_join parsed;
	struct sw_err err = {0};

	assert_int_equal(tokens_join_parse("SWMTKN-2-1-" SAMPLE_DIGEST
					   "-" SECRET,
					   &parsed, &err),
			 0);
	assert_int_equal(parsed.version, 2);
	assert_true(parsed.fips);
	assert_memory_equal(parsed.root_digest, sample_digest, CA_DIGEST_LEN);
	assert_int_equal(tokens_join_parse("SWMTKN-2-0-" SAMPLE_DIGEST
					   "-" SECRET,
					   &parsed, &err),
			 0);
	assert_false(parsed.fips);
}

static void test_join_malformed(void **state)
{
	static const char *bad[] = {
	    "",
	    "SWMTKN-1-bogus", /* the recorded malformed token */
	    "SWMTKN",
	    "SWMTKN-1-" SAMPLE_DIGEST,
	    "SWMTKX-1-" SAMPLE_DIGEST "-" SECRET,
	    "swmtkn-1-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-3-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-01-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-1-0-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-2-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-2-2-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-1-" SAMPLE_DIGEST "-" SECRET "-",
	    "SWMTKN-1-" SAMPLE_DIGEST "-" SECRET "\n",
	    " SWMTKN-1-" SAMPLE_DIGEST "-" SECRET,
	    "SWMTKN-1--" SAMPLE_DIGEST "-" SECRET,
	    /* digest of 49 and 51 characters */
	    "SWMTKN-1-"
	    "nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i3-" SECRET,
	    "SWMTKN-1-"
	    "04nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i3-" SECRET,
	    /* secret of 24 and 26 characters */
	    "SWMTKN-1-" SAMPLE_DIGEST "-cmvz8dw299tjjchsjzdc09n2",
	    "SWMTKN-1-" SAMPLE_DIGEST "-0ecmvz8dw299tjjchsjzdc09n2",
	    /* characters outside lowercase base36 */
	    "SWMTKN-1-"
	    "4NUKACF7VB1HS9NJ42EXHSQI239KP7F7M3JTCDTNCAT9NXB0I3-" SECRET,
	    "SWMTKN-1-" SAMPLE_DIGEST "-ecmvz8dw299tjjchsjzdc09n!",
	    "SWMTKN-1-4nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i_"
	    "-" SECRET,
	    "SWMTKN-1-" SAMPLE_DIGEST "-ecmvz8dw299tjjchsjzdc 9n2",
	    /* 50 base36 digits whose value exceeds 2^256 */
	    "SWMTKN-1-"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-" SECRET,
	    "SWMTKN-1-4nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i3-"
	    "ecmvz8dw299tjjchsjzdc09n2-",
	};
	struct tokens_join parsed;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sw_err err = {0};

		memset(&parsed, 0xab, sizeof(parsed));
		if (tokens_join_parse(bad[i], &parsed, &err) != -SW_EINVALID)
			fail_msg("accepted malformed token #%zu: %s", i,
				 bad[i]);
		assert_string_equal(err.msg, "invalid join token");
		assert_int_equal(err.status, 500);
		assert_int_equal(parsed.version, (int)0xabababab);
	}
}

/* The largest digest 50 base36 digits hold within 256 bits parses. */
static void test_join_digest_max(void **state)
{
	unsigned char ones[CA_DIGEST_LEN];
	char tok[TOKENS_JOIN_LEN + 1];
	struct tokens_join parsed;
	struct sw_err err = {0};

	memset(ones, 0xff, sizeof(ones));
	tokens_join_new(ones, tok);
	/* 2^256-1 in base36 starts with "6d": anything above must fail. */
	assert_memory_equal(tok + 9, "6d", 2);
	assert_int_equal(tokens_join_parse(tok, &parsed, &err), 0);
	tok[9] = '7';
	assert_int_equal(tokens_join_parse(tok, &parsed, &err), -SW_EINVALID);
}

static void test_join_digest_mismatch(void **state)
{
	unsigned char other[CA_DIGEST_LEN];
	struct tokens_join parsed;
	struct sw_err err = {0};

	memcpy(other, sample_digest, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(tokens_join_parse(sample_manager, &parsed, &err), 0);
	assert_int_equal(tokens_join_check_root(&parsed, other, &err),
			 -SW_ESYSTEM);
	assert_string_equal(
	    err.msg, "remote CA does not match fingerprint. Expected: "
		     "bb1171e09bf94c4777bf4e1da25489df48e6e47df76d2d71716d"
		     "0139ae09244b");
}

static void test_join_role(void **state)
{
	struct sw_err err = {0};
	enum ca_role role = 0;

	assert_int_equal(tokens_join_role(sample_worker, sample_worker,
					  sample_manager, &role, &err),
			 0);
	assert_int_equal(role, CA_ROLE_WORKER);
	assert_int_equal(tokens_join_role(sample_manager, sample_worker,
					  sample_manager, &role, &err),
			 0);
	assert_int_equal(role, CA_ROLE_MANAGER);
	/* The recorded well-formed token with a wrong secret. */
	assert_int_equal(tokens_join_role("SWMTKN-1-" SAMPLE_DIGEST
					  "-aaaaaaaaaaaaaaaaaaaaaaaaa",
					  sample_worker, sample_manager, &role,
					  &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg,
			    "rpc error: code = InvalidArgument desc = A valid "
			    "join token is necessary to join this cluster");
	assert_int_equal(tokens_join_role("", "", "", &role, &err),
			 -SW_EINVALID);
	assert_int_equal(
	    tokens_join_role(sample_worker, NULL, NULL, &role, &err),
	    -SW_EINVALID);
}

static void test_unlock_key_round_trip(void **state)
{
	char text[TOKENS_UNLOCK_KEY_TEXT_MAX + 1];
	struct tokens_unlock_key key, parsed, other;
	struct sw_err err = {0};

	tokens_unlock_key_new(&key);
	assert_int_equal(key.len, 32);
	tokens_unlock_key_format(&key, text);
	assert_int_equal(strlen(text), 9 + 43);
	assert_memory_equal(text, "SWMKEY-1-", 9);
	assert_null(strchr(text, '='));
	assert_int_equal(tokens_unlock_key_parse(text, &parsed, &err), 0);
	assert_int_equal(parsed.len, 32);
	assert_memory_equal(parsed.bytes, key.bytes, 32);
	tokens_unlock_key_new(&other);
	assert_memory_not_equal(other.bytes, key.bytes, 32);
}

static void test_unlock_key_sample(void **state)
{
	char text[TOKENS_UNLOCK_KEY_TEXT_MAX + 1];
	struct tokens_unlock_key key;
	struct sw_err err = {0};

	assert_int_equal(tokens_unlock_key_parse(sample_unlock_key, &key, &err),
			 0);
	assert_int_equal(key.len, 32);
	assert_int_equal(key.bytes[0], 0xd8); /* "2Pd" */
	tokens_unlock_key_format(&key, text);
	assert_string_equal(text, sample_unlock_key);
}

/* Go's RawStdEncoding handles every remainder; so must we. */
static void test_unlock_key_lengths(void **state)
{
	char text[TOKENS_UNLOCK_KEY_TEXT_MAX + 1];
	struct tokens_unlock_key key, parsed;
	struct sw_err err = {0};

	for (size_t len = 0; len <= TOKENS_UNLOCK_KEY_MAX; len++) {
		memset(&key, 0, sizeof(key));
		for (size_t i = 0; i < len; i++)
			key.bytes[i] = (unsigned char)(i * 37 + len);
		key.len = len;
		tokens_unlock_key_format(&key, text);
		assert_int_equal(strlen(text), 9 + (len * 4 + 2) / 3);
		assert_int_equal(tokens_unlock_key_parse(text, &parsed, &err),
				 0);
		assert_int_equal(parsed.len, len);
		assert_memory_equal(parsed.bytes, key.bytes, len);
	}
}

static void test_unlock_key_malformed(void **state)
{
	static const char *bad[] = {
	    "garbage", /* the recorded malformed key */
	    "",
	    "SWMKEY-1",
	    "SWMKEY-2-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36LA",
	    "swmkey-1-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36LA",
	    "SWMKEY-1-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36LA=",
	    "SWMKEY-1-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36L!",
	    "SWMKEY-1-2PdVBrk4KOMa23_3vMSrnUHCnCbWemNOJK66s8U36LA",
	    "SWMKEY-1-2PdVBrk4KOMa23/3vMSrnUHCnCbWemNOJK66s8U36LA ",
	    "SWMKEY-1-2PdVB", /* 4k+1 characters */
	};
	struct tokens_unlock_key key;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sw_err err = {0};

		if (tokens_unlock_key_parse(bad[i], &key, &err) != -SW_EINVALID)
			fail_msg("accepted malformed key #%zu: %s", i, bad[i]);
		assert_string_equal(err.msg, "invalid key string");
	}
}

/* 88 base64 characters decode to 66 bytes, over our bound. */
static void test_unlock_key_too_long(void **state)
{
	char text[9 + 88 + 1] = "SWMKEY-1-";
	struct tokens_unlock_key key;
	struct sw_err err = {0};

	memset(text + 9, 'A', 88);
	text[9 + 88] = '\0';
	assert_int_equal(tokens_unlock_key_parse(text, &key, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg, "invalid key string");
	text[9 + 86] = '\0'; /* 64 bytes: the longest we take */
	assert_int_equal(tokens_unlock_key_parse(text, &key, &err), 0);
	assert_int_equal(key.len, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_join_new_format),
	    cmocka_unit_test(test_join_round_trip),
	    cmocka_unit_test(test_join_parse_sample),
	    cmocka_unit_test(test_join_parse_v2),
	    cmocka_unit_test(test_join_malformed),
	    cmocka_unit_test(test_join_digest_max),
	    cmocka_unit_test(test_join_digest_mismatch),
	    cmocka_unit_test(test_join_role),
	    cmocka_unit_test(test_unlock_key_round_trip),
	    cmocka_unit_test(test_unlock_key_sample),
	    cmocka_unit_test(test_unlock_key_lengths),
	    cmocka_unit_test(test_unlock_key_malformed),
	    cmocka_unit_test(test_unlock_key_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for orchestrator/ca.c: the root CA, node certificates, and the
 * TLSInfo and digest checked against the recorded dockerd sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "orchestrator/ca.h"

/* 2026-11-25T16:51:21Z, when the sample swarm was created. */
#define SAMPLE_NOW ((time_t)1795625481)
#define DAY ((time_t)86400)

/* TLSInfo from samples/swarm-inspect.json (dockerd 20.10, SwarmKit). */
static const char sample_trust_root[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBajCCARCgAwIBAgIUODKThdzP7knUaorxS3PKEK9FuXgwCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI1MTY0NjAwWhcNNDYxMTIwMTY0\n"
    "NjAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABJYRUcSRmdGsVm2c2OF/onu3dd1js94C8y+riZgqiatxX26h0arRrQnbidtJ\n"
    "9dVGyMJ/tGRtMqu48SlufqShjDKjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\n"
    "Af8EBTADAQH/MB0GA1UdDgQWBBQB5MudvqY16ww95AwKsLdPrvcTkDAKBggqhkjO\n"
    "PQQDAgNIADBFAiBf1Ha+QGPdYAWu8i4l/JCmnH4btNL2pGFQUVuoRzXVXAIhAOJ1\n"
    "S3wW8vIFinNZcBxQ3xLsTTgEpgUwdOu8PTJlcebF\n"
    "-----END CERTIFICATE-----\n";
static const char sample_issuer_subject[] = "MBMxETAPBgNVBAMTCHN3YXJtLWNh";
static const char sample_issuer_public_key[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElhFRxJGZ0axWbZzY4X+ie7d13WOz3gLz"
    "L6uJmCqJq3FfbqHRqtGtCduJ20n11UbIwn+0ZG0yq7jxKW5+pKGMMg==";
/* sha256 of sample_trust_root, computed independently (Python hashlib). */
static const char sample_digest_hex[] =
    "bb1171e09bf94c4777bf4e1da25489df48e6e47df76d2d71716d0139ae09244b";

static const char node_id[] = "3k8w2x4l1t0f9m7q5r6s8u0v2";
static const char cluster_id[] = "9e2ozpdcpbhb0o1jqx2i2opq6";

static struct ca_root *root_new_ok(void)
{
	struct sw_err err = {0};
	struct ca_root *root = ca_root_new(SAMPLE_NOW, &err);

	assert_non_null(root);
	return root;
}

/* Issues a certificate for a fresh keypair; the caller frees both. */
static char *issue(const struct ca_root *root, struct ca_keypair **kp_out,
		   enum ca_role role, int64_t expiry_ns)
{
	struct sw_err err = {0};
	struct ca_keypair *kp = ca_keypair_new(&err);
	struct ca_sign_req req = {
	    .node_id = node_id,
	    .cluster_id = cluster_id,
	    .role = role,
	    .expiry_ns = expiry_ns,
	    .now = SAMPLE_NOW,
	};
	char *pem;

	assert_non_null(kp);
	req.csr_pem = ca_keypair_csr_pem(kp);
	pem = ca_root_sign_csr(root, &req, &err);
	assert_non_null(pem);
	*kp_out = kp;
	return pem;
}

static void digest_hex(const unsigned char *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		(void)snprintf(out + (ptrdiff_t)2 * i, 3, "%02x", d[i]);
}

/* The DNS SANs joined with ',' into out. */
static void dns_sans(X509 *cert, char *out, size_t cap)
{
	GENERAL_NAMES *names =
	    X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

	out[0] = '\0';
	assert_non_null(names);
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		assert_int_equal(gn->type, GEN_DNS);
		if (out[0] != '\0')
			strncat(out, ",", cap - strlen(out) - 1);
		strncat(out, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
			cap - strlen(out) - 1);
	}
	GENERAL_NAMES_free(names);
}

static void test_root_new_shape(void **state)
{
	struct ca_root *root = root_new_ok();
	X509 *cert = ca_root_cert(root);
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const char *pem = ca_root_cert_pem(root);
	struct sw_err err = {0};
	time_t nb, na;
	char cn[64], group[64];
	BIGNUM *serial;

	assert_true(ca_root_can_sign(root));
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
						   NID_commonName, cn,
						   sizeof(cn)),
			 8);
	assert_string_equal(cn, "swarm-ca");
	assert_int_equal(X509_check_ca(cert), 1);
	assert_int_equal(X509_self_signed(cert, 1), 1);
	assert_int_equal(X509_get_key_usage(cert),
			 KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC"));
	assert_int_equal(EVP_PKEY_get_group_name(X509_get0_pubkey(cert), group,
						 sizeof(group), NULL),
			 1);
	assert_string_equal(group, "prime256v1");
	/* Same window as the recorded root created at the same time. */
	assert_int_equal(ca_cert_validity(cert, &nb, &na, &err), 0);
	assert_int_equal(nb, (time_t)1795625160);
	assert_int_equal(na, (time_t)2426345160);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	assert_true(BN_num_bytes(serial) > 8 && BN_num_bytes(serial) <= 20);
	BN_free(serial);
	/* The digest covers the PEM text. */
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----\n"));
	assert_int_equal(pem[strlen(pem) - 1], '\n');
	SHA256((const unsigned char *)pem, strlen(pem), digest);
	assert_memory_equal(ca_root_digest(root), digest, sizeof(digest));
	ca_root_free(root);
}

static void test_root_pem_round_trip(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	char *key_pem = ca_root_key_pem(root, &err);
	struct ca_root *loaded;
	struct ca_keypair *kp;
	char *cert_pem;
	X509 *cert;

	assert_non_null(key_pem);
	assert_non_null(strstr(key_pem, "-----BEGIN EC PRIVATE KEY-----"));
	loaded = ca_root_load(ca_root_cert_pem(root), key_pem, &err);
	assert_non_null(loaded);
	assert_true(ca_root_can_sign(loaded));
	assert_string_equal(ca_root_cert_pem(loaded), ca_root_cert_pem(root));
	assert_memory_equal(ca_root_digest(loaded), ca_root_digest(root),
			    CA_DIGEST_LEN);
	/* The reloaded key signs certificates the original root trusts. */
	cert_pem = issue(loaded, &kp, CA_ROLE_WORKER, 0);
	cert = ca_cert_parse(cert_pem, &err);
	assert_non_null(cert);
	assert_int_equal(ca_root_verify(root, cert, SAMPLE_NOW, &err), 0);
	X509_free(cert);
	free(cert_pem);
	ca_keypair_free(kp);
	free(key_pem);
	ca_root_free(loaded);
	ca_root_free(root);
}

static void test_root_load_cert_only(void **state)
{
	struct ca_root *signer = root_new_ok();
	struct sw_err err = {0};
	struct ca_root *root =
	    ca_root_load(ca_root_cert_pem(signer), NULL, &err);
	struct ca_keypair *kp = ca_keypair_new(&err);
	struct ca_sign_req req = {
	    .node_id = node_id,
	    .cluster_id = cluster_id,
	    .role = CA_ROLE_WORKER,
	    .now = SAMPLE_NOW,
	};

	assert_non_null(root);
	assert_non_null(kp);
	assert_false(ca_root_can_sign(root));
	assert_null(ca_root_key_pem(root, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	req.csr_pem = ca_keypair_csr_pem(kp);
	assert_null(ca_root_sign_csr(root, &req, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	ca_keypair_free(kp);
	ca_root_free(root);
	ca_root_free(signer);
}

static void test_root_load_rejects(void **state)
{
	struct ca_root *a = root_new_ok();
	struct ca_root *b = root_new_ok();
	struct sw_err err = {0};
	char *b_key = ca_root_key_pem(b, &err);
	struct ca_keypair *kp;
	char *node_pem;

	assert_non_null(b_key);
	assert_null(ca_root_load("not a certificate", NULL, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	assert_non_null(strstr(err.msg, "invalid certificate"));
	/* A key that belongs to another root. */
	assert_null(ca_root_load(ca_root_cert_pem(a), b_key, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_null(ca_root_load(ca_root_cert_pem(a), "garbage", &err));
	assert_int_equal(err.kind, SW_EINVALID);
	/* A node certificate is not a root. */
	node_pem = issue(a, &kp, CA_ROLE_MANAGER, 0);
	assert_null(ca_root_load(node_pem, NULL, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	free(node_pem);
	ca_keypair_free(kp);
	free(b_key);
	ca_root_free(b);
	ca_root_free(a);
}

static void check_node_cert(enum ca_role role, const char *want_sans)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_identity id;
	struct ca_keypair *kp;
	char *pem = issue(root, &kp, role, 0);
	char sans[256];
	time_t nb, na;
	X509 *cert;

	assert_int_equal(ca_keypair_set_cert(kp, pem, &err), 0);
	cert = ca_keypair_cert(kp);
	assert_string_equal(ca_keypair_cert_pem(kp), pem);
	assert_int_equal(ca_cert_identity(cert, &id, &err), 0);
	assert_string_equal(id.node_id, node_id);
	assert_string_equal(id.cluster_id, cluster_id);
	assert_int_equal(id.role, role);
	dns_sans(cert, sans, sizeof(sans));
	assert_string_equal(sans, want_sans);
	assert_int_equal(X509_get_key_usage(cert),
			 KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_extended_key_usage(cert),
			 XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(cert), 0);
	/* Backdated an hour from the rounded minute; 90 days after it. */
	assert_int_equal(ca_cert_validity(cert, &nb, &na, &err), 0);
	assert_int_equal(nb, (time_t)1795625460 - 3600);
	assert_int_equal(na, (time_t)1795625460 + 90 * DAY);
	assert_int_equal(ca_root_verify(root, cert, SAMPLE_NOW, &err), 0);
	free(pem);
	ca_keypair_free(kp);
	ca_root_free(root);
}

static void test_node_cert_manager(void **state)
{
	char want[128];

	(void)snprintf(want, sizeof(want), "swarm-manager,%s,swarm-ca",
		       node_id);
	check_node_cert(CA_ROLE_MANAGER, want);
}

static void test_node_cert_worker(void **state)
{
	char want[128];

	(void)snprintf(want, sizeof(want), "swarm-worker,%s", node_id);
	check_node_cert(CA_ROLE_WORKER, want);
}

static void check_expiry(int64_t expiry_ns, time_t want_len)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_keypair *kp;
	char *pem = issue(root, &kp, CA_ROLE_WORKER, expiry_ns);
	X509 *cert = ca_cert_parse(pem, &err);
	time_t nb, na;

	assert_non_null(cert);
	assert_int_equal(ca_cert_validity(cert, &nb, &na, &err), 0);
	assert_int_equal(na - nb, want_len + 3600);
	X509_free(cert);
	free(pem);
	ca_keypair_free(kp);
	ca_root_free(root);
}

static void test_node_cert_expiry(void **state)
{
	/* Spec.CAConfig.NodeCertExpiry is honoured... */
	check_expiry(INT64_C(2) * 3600 * 1000000000, (time_t)2 * 3600);
	check_expiry(CA_NODE_CERT_EXPIRY_MIN_NS, 3600);
	/* ...but below SwarmKit's 1 h floor the 90-day default applies. */
	check_expiry(INT64_C(30) * 60 * 1000000000, 90 * DAY);
	check_expiry(0, 90 * DAY);
}

static void test_verify_other_root_fails(void **state)
{
	struct ca_root *root = root_new_ok();
	struct ca_root *other = root_new_ok();
	struct sw_err err = {0};
	struct ca_keypair *kp;
	char *pem = issue(root, &kp, CA_ROLE_MANAGER, 0);
	X509 *cert = ca_cert_parse(pem, &err);

	assert_non_null(cert);
	assert_int_equal(ca_root_verify(root, cert, SAMPLE_NOW, &err), 0);
	assert_int_equal(ca_root_verify(other, cert, SAMPLE_NOW, &err),
			 -SW_EUNAUTHORIZED);
	assert_non_null(strstr(err.msg, "certificate not trusted"));
	/* Outside the validity window the right root refuses it too. */
	assert_int_equal(
	    ca_root_verify(root, cert, SAMPLE_NOW + 91 * DAY, &err),
	    -SW_EUNAUTHORIZED);
	assert_int_equal(
	    ca_root_verify(root, cert, SAMPLE_NOW - (time_t)2 * 3600, &err),
	    -SW_EUNAUTHORIZED);
	X509_free(cert);
	free(pem);
	ca_keypair_free(kp);
	ca_root_free(other);
	ca_root_free(root);
}

static void test_tls_info_sample(void **state)
{
	struct sw_err err = {0};
	struct ca_root *root = ca_root_load(sample_trust_root, NULL, &err);
	struct ca_tls_info info;
	char hex[65];

	assert_non_null(root);
	assert_int_equal(ca_root_tls_info(root, &info, &err), 0);
	assert_string_equal(info.trust_root, sample_trust_root);
	assert_string_equal(info.cert_issuer_subject, sample_issuer_subject);
	assert_string_equal(info.cert_issuer_public_key,
			    sample_issuer_public_key);
	digest_hex(ca_root_digest(root), hex);
	assert_string_equal(hex, sample_digest_hex);
	ca_tls_info_free(&info);
	assert_null(info.trust_root);
	ca_root_free(root);
}

static void test_tls_info_new_root(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_tls_info info;

	assert_int_equal(ca_root_tls_info(root, &info, &err), 0);
	/* The subject DER is byte-identical to SwarmKit's CN=swarm-ca. */
	assert_string_equal(info.cert_issuer_subject,
			    "MBMxETAPBgNVBAMTCHN3YXJtLWNh");
	/* A P-256 SPKI is 91 bytes: 124 base64 characters. */
	assert_int_equal(strlen(info.cert_issuer_public_key), 124);
	assert_string_equal(info.trust_root, ca_root_cert_pem(root));
	ca_tls_info_free(&info);
	ca_root_free(root);
}

static char *weak_rsa_csr(void)
{
	EVP_PKEY *key = EVP_RSA_gen(1024);
	X509_REQ *csr = X509_REQ_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;

	assert_non_null(key);
	assert_int_equal(X509_REQ_set_pubkey(csr, key), 1);
	assert_true(X509_REQ_sign(csr, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, csr), 1);
	n = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)n);
	BIO_free(bio);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return pem;
}

static void expect_sign_invalid(const struct ca_root *root,
				const struct ca_sign_req *req)
{
	struct sw_err err = {0};

	assert_null(ca_root_sign_csr(root, req, &err));
	assert_int_equal(err.kind, SW_EINVALID);
}

static void test_sign_rejects_bad_input(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_keypair *kp = ca_keypair_new(&err);
	char *weak = weak_rsa_csr();
	struct ca_sign_req good = {
	    .csr_pem = ca_keypair_csr_pem(kp),
	    .node_id = node_id,
	    .cluster_id = cluster_id,
	    .role = CA_ROLE_WORKER,
	    .now = SAMPLE_NOW,
	};
	struct ca_sign_req req;

	req = good;
	req.csr_pem = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
		      "-----END CERTIFICATE REQUEST-----\n";
	expect_sign_invalid(root, &req);
	req = good;
	req.csr_pem = weak;
	expect_sign_invalid(root, &req);
	req = good;
	req.node_id = "Node,DNS:evil";
	expect_sign_invalid(root, &req);
	req = good;
	req.node_id = "";
	expect_sign_invalid(root, &req);
	req = good;
	req.cluster_id = "0123456789012345678901234567890123456789"
			 "012345678901234567890123456789";
	expect_sign_invalid(root, &req);
	req = good;
	req.role = (enum ca_role)7;
	expect_sign_invalid(root, &req);
	free(weak);
	ca_keypair_free(kp);
	ca_root_free(root);
}

static void test_keypair_cert_mismatch(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_keypair *other;
	struct ca_keypair *kp = ca_keypair_new(&err);
	char *pem = issue(root, &other, CA_ROLE_WORKER, 0);

	assert_non_null(kp);
	assert_int_equal(ca_keypair_set_cert(kp, pem, &err), -SW_EINVALID);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_null(ca_keypair_cert(kp));
	assert_null(ca_keypair_cert_pem(kp));
	assert_int_equal(ca_keypair_set_cert(kp, "junk", &err), -SW_EINVALID);
	free(pem);
	ca_keypair_free(other);
	ca_keypair_free(kp);
	ca_root_free(root);
}

static void test_keypair_load_round_trip(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_keypair *kp;
	char *pem = issue(root, &kp, CA_ROLE_MANAGER, 0);
	char *key_pem = ca_keypair_key_pem(kp, &err);
	struct ca_keypair *loaded;
	struct ca_identity id;

	assert_non_null(key_pem);
	assert_non_null(strstr(key_pem, "-----BEGIN EC PRIVATE KEY-----"));
	loaded = ca_keypair_load(pem, key_pem, &err);
	assert_non_null(loaded);
	assert_null(ca_keypair_csr_pem(loaded));
	assert_non_null(ca_keypair_pkey(loaded));
	assert_int_equal(ca_cert_identity(ca_keypair_cert(loaded), &id, &err),
			 0);
	assert_int_equal(id.role, CA_ROLE_MANAGER);
	/* A cert and key that do not belong together. */
	ca_keypair_free(kp);
	kp = ca_keypair_new(&err);
	free(key_pem);
	key_pem = ca_keypair_key_pem(kp, &err);
	assert_null(ca_keypair_load(pem, key_pem, &err));
	assert_int_equal(err.kind, SW_EINVALID);
	free(key_pem);
	free(pem);
	ca_keypair_free(loaded);
	ca_keypair_free(kp);
	ca_root_free(root);
}

static void test_identity_rejects_non_node_cert(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	struct ca_identity id;

	/* The root has CN=swarm-ca and neither O nor OU. */
	assert_int_equal(ca_cert_identity(ca_root_cert(root), &id, &err),
			 -SW_EINVALID);
	ca_root_free(root);
}

/* Every path, success or failure, leaves this thread's OpenSSL error queue
 * empty, so a later caller never reads a stale error. */
static void test_error_queue_drained(void **state)
{
	struct ca_root *root = root_new_ok();
	struct sw_err err = {0};
	char *key_pem = ca_root_key_pem(root, &err);
	struct ca_root *loaded;
	struct ca_keypair *kp;
	char *pem;
	X509 *cert;

	assert_int_equal(ERR_peek_error(), 0);
	loaded = ca_root_load(ca_root_cert_pem(root), key_pem, &err);
	assert_non_null(loaded);
	assert_int_equal(ERR_peek_error(), 0);
	assert_null(ca_root_load("junk", NULL, &err));
	assert_int_equal(ERR_peek_error(), 0);
	assert_null(ca_root_load(ca_root_cert_pem(root), "junk", &err));
	assert_int_equal(ERR_peek_error(), 0);
	pem = issue(loaded, &kp, CA_ROLE_WORKER, 0);
	assert_int_equal(ERR_peek_error(), 0);
	cert = ca_cert_parse(pem, &err);
	assert_int_equal(
	    ca_root_verify(root, cert, SAMPLE_NOW + 365 * DAY, &err),
	    -SW_EUNAUTHORIZED);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(ca_keypair_set_cert(kp, "junk", &err), -SW_EINVALID);
	assert_int_equal(ERR_peek_error(), 0);
	X509_free(cert);
	free(pem);
	ca_keypair_free(kp);
	free(key_pem);
	ca_root_free(loaded);
	ca_root_free(root);
}

static void test_role_names(void **state)
{
	assert_string_equal(ca_role_name(CA_ROLE_MANAGER), "swarm-manager");
	assert_string_equal(ca_role_name(CA_ROLE_WORKER), "swarm-worker");
	assert_null(ca_role_name((enum ca_role)0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_new_shape),
	    cmocka_unit_test(test_root_pem_round_trip),
	    cmocka_unit_test(test_root_load_cert_only),
	    cmocka_unit_test(test_root_load_rejects),
	    cmocka_unit_test(test_node_cert_manager),
	    cmocka_unit_test(test_node_cert_worker),
	    cmocka_unit_test(test_node_cert_expiry),
	    cmocka_unit_test(test_verify_other_root_fails),
	    cmocka_unit_test(test_tls_info_sample),
	    cmocka_unit_test(test_tls_info_new_root),
	    cmocka_unit_test(test_sign_rejects_bad_input),
	    cmocka_unit_test(test_keypair_cert_mismatch),
	    cmocka_unit_test(test_keypair_load_round_trip),
	    cmocka_unit_test(test_identity_rejects_non_node_cert),
	    cmocka_unit_test(test_error_queue_drained),
	    cmocka_unit_test(test_role_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

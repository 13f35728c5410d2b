#include "orchestrator/ca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/alloc.h"
#include "lib/sslerr.h"

#define ROOT_CN "swarm-ca"
/* SwarmKit's RootCAExpiration, "630720000s": 20 years of 365 days. */
#define ROOT_EXPIRY_S 630720000L
/* cfssl backdates by 5 minutes unless the profile sets a backdate, and the
 * root's profile does not: the recorded root was created at 16:51:21 with
 * notBefore 16:46:00. */
#define ROOT_BACKDATE_S 300L
/* SwarmKit's CertBackdate, which its node signing profile sets. */
#define NODE_BACKDATE_S 3600L
/* cfssl's serials: 20 random bytes, top bit clear so the INTEGER stays
 * positive in 20 bytes. */
#define SERIAL_LEN 20

struct ca_root {
	X509 *cert;
	EVP_PKEY *key; /* NULL when this node cannot sign */
	char *cert_pem;
	unsigned char digest[CA_DIGEST_LEN];
};

struct ca_keypair {
	EVP_PKEY *key;
	char *csr_pem;  /* NULL for a loaded keypair */
	X509 *cert;     /* NULL until issued */
	char *cert_pem; /* NULL until issued */
};


/* Refuses encrypted PEM: with no callback, OpenSSL would prompt for a
 * passphrase on the daemon's terminal. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static char *bio_strdup(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	return xstrndup(data, n > 0 ? (size_t)n : 0);
}

static char *cert_to_pem(X509 *cert, struct sw_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1)
		pem = bio_strdup(bio);
	else
		sslerr_set(err, SW_ESYSTEM, "encoding certificate");
	BIO_free(bio);
	return pem;
}

static char *csr_to_pem(X509_REQ *csr, struct sw_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_X509_REQ(bio, csr) == 1)
		pem = bio_strdup(bio);
	else
		sslerr_set(err, SW_ESYSTEM, "encoding CSR");
	BIO_free(bio);
	return pem;
}

/* "Traditional" gives SEC1 "EC PRIVATE KEY", the form SwarmKit stores. The
 * secure-memory BIO clears the intermediate copy when freed. */
static char *key_to_pem(EVP_PKEY *key, struct sw_err *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *pem = NULL;

	if (bio != NULL && PEM_write_bio_PrivateKey_traditional(
			       bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		pem = bio_strdup(bio);
	else
		sslerr_set(err, SW_ESYSTEM, "encoding private key");
	BIO_free(bio);
	return pem;
}

static X509 *pem_to_cert(const char *pem, struct sw_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = NULL;

	if (bio != NULL)
		cert = PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL);
	if (cert == NULL)
		sslerr_set(err, SW_EINVALID, "invalid certificate");
	BIO_free(bio);
	return cert;
}

static EVP_PKEY *pem_to_key(const char *pem, struct sw_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;

	if (bio != NULL)
		key =
		    PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL);
	if (key == NULL)
		sslerr_set(err, SW_EINVALID, "invalid private key");
	BIO_free(bio);
	return key;
}

static X509_REQ *pem_to_csr(const char *pem, struct sw_err *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *csr = NULL;

	if (bio != NULL)
		csr = PEM_read_bio_X509_REQ(bio, NULL, no_passphrase_cb, NULL);
	if (csr == NULL)
		sslerr_set(err, SW_EINVALID, "invalid CSR");
	BIO_free(bio);
	return csr;
}

/* IDs end up in subjects and, through openssl.cnf syntax, in the SAN
 * extension string, so only SwarmKit's ID alphabet (base36) is allowed. */
static bool id_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > CA_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return true;
}

const char *ca_role_name(enum ca_role role)
{
	switch (role) {
	case CA_ROLE_WORKER:
		return "swarm-worker";
	case CA_ROLE_MANAGER:
		return "swarm-manager";
	}
	return NULL;
}

static int role_parse(const char *s, enum ca_role *role)
{
	if (strcmp(s, "swarm-worker") == 0)
		*role = CA_ROLE_WORKER;
	else if (strcmp(s, "swarm-manager") == 0)
		*role = CA_ROLE_MANAGER;
	else
		return -1;
	return 0;
}

/* Go's crypto/x509 encodes names as PrintableString when the value allows
 * (IDs and role names always do). Matching it keeps the subject DER, and so
 * TLSInfo.CertIssuerSubject, byte-identical to SwarmKit's. */
static bool name_add(X509_NAME *name, int nid, const char *value)
{
	return X509_NAME_add_entry_by_NID(name, nid, V_ASN1_PRINTABLESTRING,
					  (const unsigned char *)value, -1, -1,
					  0) == 1;
}

static bool serial_set_random(X509 *cert)
{
	unsigned char raw[SERIAL_LEN];
	BIGNUM *bn;
	bool ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return false;
	raw[0] &= 0x7f;
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ok = bn != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

/* cfssl rounds "now" to the minute (Go's Round: halves go up) before it
 * backdates, so equal inputs give equal certificates' validity. */
static time_t round_minute(time_t t)
{
	return (t + 30) / 60 * 60;
}

static bool validity_set(X509 *cert, time_t not_before, time_t not_after)
{
	return ASN1_TIME_set(X509_getm_notBefore(cert), not_before) != NULL &&
	       ASN1_TIME_set(X509_getm_notAfter(cert), not_after) != NULL;
}

/* Adds one extension written in openssl.cnf syntax; ctx names the issuer
 * and subject, which the key identifier extensions read. */
static bool ext_add(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok;
}

/* The self-signed root, with the extensions of the recorded one: critical
 * keyCertSign+cRLSign, critical CA:TRUE, a subject key identifier. */
static X509 *root_cert_build(EVP_PKEY *key, time_t now)
{
	X509 *cert = X509_new();
	time_t nb = round_minute(now) - ROOT_BACKDATE_S;
	X509_NAME *name;
	X509V3_CTX ctx;

	if (cert == NULL)
		return NULL;
	name = X509_get_subject_name(cert);
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    !serial_set_random(cert) ||
	    !name_add(name, NID_commonName, ROOT_CN) ||
	    X509_set_issuer_name(cert, name) != 1 ||
	    !validity_set(cert, nb, nb + ROOT_EXPIRY_S) ||
	    X509_set_pubkey(cert, key) != 1)
		goto err_free_cert;
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if (!ext_add(cert, &ctx, NID_key_usage,
		     "critical,keyCertSign,cRLSign") ||
	    !ext_add(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
	    !ext_add(cert, &ctx, NID_subject_key_identifier, "hash") ||
	    X509_sign(cert, key, EVP_sha256()) <= 0)
		goto err_free_cert;
	return cert;

err_free_cert:
	X509_free(cert);
	return NULL;
}

/* Wraps cert and key (NULL for a verify-only root) into a root, taking both
 * on success. cert_pem is the text to keep and hash, or NULL to encode. */
static struct ca_root *root_wrap(X509 *cert, EVP_PKEY *key,
				 const char *cert_pem, struct sw_err *err)
{
	char *pem =
	    cert_pem != NULL ? xstrdup(cert_pem) : cert_to_pem(cert, err);
	struct ca_root *root;

	if (pem == NULL)
		return NULL;
	root = xcalloc(1, sizeof(*root));
	root->cert = cert;
	root->key = key;
	root->cert_pem = pem;
	SHA256((const unsigned char *)pem, strlen(pem), root->digest);
	return root;
}

struct ca_root *ca_root_new(time_t now, struct sw_err *err)
{
	struct ca_root *root;
	EVP_PKEY *key;
	X509 *cert;

	ERR_clear_error();
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		sslerr_set(err, SW_ESYSTEM, "generating root CA key");
		return NULL;
	}
	cert = root_cert_build(key, now);
	if (cert == NULL) {
		sslerr_set(err, SW_ESYSTEM, "creating root CA certificate");
		goto err_free_key;
	}
	root = root_wrap(cert, key, NULL, err);
	if (root != NULL)
		return root;
	X509_free(cert);
err_free_key:
	EVP_PKEY_free(key);
	return NULL;
}

/* A root must be a CA certificate that signed itself. */
static int root_cert_check(X509 *cert, struct sw_err *err)
{
	if (X509_check_ca(cert) < 1)
		return sw_err_set(err, SW_EINVALID,
				  "root CA certificate is not a CA");
	if (X509_self_signed(cert, 1) != 1)
		return sslerr_set(err, SW_EINVALID,
				"root CA certificate is not self-signed");
	return 0;
}

struct ca_root *ca_root_load(const char *cert_pem, const char *key_pem,
			     struct sw_err *err)
{
	struct ca_root *root;
	EVP_PKEY *key = NULL;
	X509 *cert;

	ERR_clear_error();
	cert = pem_to_cert(cert_pem, err);
	if (cert == NULL) {
		sw_err_wrap(err, "root CA");
		return NULL;
	}
	if (root_cert_check(cert, err) != 0)
		goto err_free_cert;
	if (key_pem != NULL) {
		key = pem_to_key(key_pem, err);
		if (key == NULL) {
			sw_err_wrap(err, "root CA");
			goto err_free_cert;
		}
		if (X509_check_private_key(cert, key) != 1) {
			sslerr_set(err, SW_EINVALID,
				 "root CA key does not match its certificate");
			goto err_free_key;
		}
	}
	root = root_wrap(cert, key, cert_pem, err);
	if (root != NULL)
		return root;
err_free_key:
	EVP_PKEY_free(key);
err_free_cert:
	X509_free(cert);
	return NULL;
}

void ca_root_free(struct ca_root *root)
{
	if (root == NULL)
		return;
	X509_free(root->cert);
	root->cert = NULL;
	EVP_PKEY_free(root->key);
	root->key = NULL;
	free(root->cert_pem);
	root->cert_pem = NULL;
	free(root);
}

bool ca_root_can_sign(const struct ca_root *root)
{
	return root->key != NULL;
}

const char *ca_root_cert_pem(const struct ca_root *root)
{
	return root->cert_pem;
}

const unsigned char *ca_root_digest(const struct ca_root *root)
{
	return root->digest;
}

X509 *ca_root_cert(const struct ca_root *root)
{
	return root->cert;
}

char *ca_root_key_pem(const struct ca_root *root, struct sw_err *err)
{
	if (root->key == NULL) {
		sw_err_set(err, SW_EINVALID, "root CA has no private key");
		return NULL;
	}
	ERR_clear_error();
	return key_to_pem(root->key, err);
}

/* Standard padded base64, as Go's encoding/json renders a []byte. */
static char *der_base64(const unsigned char *der, int len)
{
	char *out = xmalloc(4 * (((size_t)len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, der, len);
	return out;
}

int ca_root_tls_info(const struct ca_root *root, struct ca_tls_info *info,
		     struct sw_err *err)
{
	unsigned char *subject = NULL;
	unsigned char *spki = NULL;
	int subject_len;
	int spki_len;

	memset(info, 0, sizeof(*info));
	ERR_clear_error();
	/* The name keeps its original encoding, so this is Go's RawSubject. */
	subject_len =
	    i2d_X509_NAME(X509_get_subject_name(root->cert), &subject);
	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(root->cert), &spki);
	if (subject_len <= 0 || spki_len <= 0) {
		OPENSSL_free(subject);
		OPENSSL_free(spki);
		return sslerr_set(err, SW_ESYSTEM, "encoding TLS info");
	}
	info->trust_root = xstrdup(root->cert_pem);
	info->cert_issuer_subject = der_base64(subject, subject_len);
	info->cert_issuer_public_key = der_base64(spki, spki_len);
	OPENSSL_free(subject);
	OPENSSL_free(spki);
	return 0;
}

void ca_tls_info_free(struct ca_tls_info *info)
{
	free(info->trust_root);
	info->trust_root = NULL;
	free(info->cert_issuer_subject);
	info->cert_issuer_subject = NULL;
	free(info->cert_issuer_public_key);
	info->cert_issuer_public_key = NULL;
}

static int sign_req_check(const struct ca_root *root,
			  const struct ca_sign_req *req, struct sw_err *err)
{
	if (root->key == NULL)
		return sw_err_set(err, SW_EINVALID,
				  "root CA has no private key to sign with");
	if (ca_role_name(req->role) == NULL)
		return sw_err_set(err, SW_EINVALID, "invalid node role %d",
				  (int)req->role);
	if (req->node_id == NULL || !id_valid(req->node_id))
		return sw_err_set(err, SW_EINVALID, "invalid node ID");
	if (req->cluster_id == NULL || !id_valid(req->cluster_id))
		return sw_err_set(err, SW_EINVALID, "invalid cluster ID");
	if (req->csr_pem == NULL)
		return sw_err_set(err, SW_EINVALID, "invalid CSR: missing");
	return 0;
}

/* The key types SwarmKit's signer accepts (ensureCertKeyMatch). */
static bool key_acceptable(EVP_PKEY *pub)
{
	char group[64];
	size_t len;

	if (EVP_PKEY_is_a(pub, "RSA"))
		return EVP_PKEY_get_bits(pub) >= 2048;
	if (!EVP_PKEY_is_a(pub, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME,
					   group, sizeof(group), &len) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 ||
	       strcmp(group, "secp384r1") == 0 ||
	       strcmp(group, "secp521r1") == 0;
}

/* The CSR's self-signature proves the node holds the key it asks us to
 * certify. */
static int csr_check(X509_REQ *csr, EVP_PKEY *pub, struct sw_err *err)
{
	if (pub == NULL || X509_REQ_verify(csr, pub) != 1)
		return sslerr_set(err, SW_EINVALID, "invalid CSR signature");
	if (!key_acceptable(pub))
		return sw_err_set(err, SW_EINVALID, "unsupported CSR key type");
	return 0;
}

/* Subject in Go's pkix.Name order: O, OU, CN. */
static bool node_subject_set(X509 *cert, const struct ca_sign_req *req)
{
	X509_NAME *name = X509_get_subject_name(cert);

	return name_add(name, NID_organizationName, req->cluster_id) &&
	       name_add(name, NID_organizationalUnitName,
			ca_role_name(req->role)) &&
	       name_add(name, NID_commonName, req->node_id);
}

/* SwarmKit's SigningPolicy replaces anything under its floor with the
 * default, then adds the backdate to the expiry, so notAfter ends up at
 * (rounded) now + expiry. */
static bool node_validity_set(X509 *cert, const struct ca_sign_req *req)
{
	int64_t expiry_ns = req->expiry_ns;
	time_t nb = round_minute(req->now) - NODE_BACKDATE_S;

	if (expiry_ns < CA_NODE_CERT_EXPIRY_MIN_NS)
		expiry_ns = CA_NODE_CERT_EXPIRY_DEFAULT_NS;
	return validity_set(cert, nb,
			    nb + NODE_BACKDATE_S +
				(time_t)(expiry_ns / INT64_C(1000000000)));
}

/* SwarmKit's PrepareCSR: the role and node ID as DNS names, so peers can
 * dial "swarm-manager"; managers also get "swarm-ca" to serve the CA. */
static bool node_sans(const struct ca_sign_req *req, char *out, size_t cap)
{
	int n = snprintf(out, cap, "DNS:%s,DNS:%s%s", ca_role_name(req->role),
			 req->node_id,
			 req->role == CA_ROLE_MANAGER ? ",DNS:swarm-ca" : "");

	return n > 0 && (size_t)n < cap;
}

static bool node_exts_add(X509 *cert, X509 *issuer,
			  const struct ca_sign_req *req)
{
	char sans[3 * 16 + CA_ID_MAX + 32];
	X509V3_CTX ctx;

	if (!node_sans(req, sans, sizeof(sans)))
		return false;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	return ext_add(cert, &ctx, NID_key_usage,
		       "critical,digitalSignature,keyEncipherment") &&
	       ext_add(cert, &ctx, NID_ext_key_usage,
		       "serverAuth,clientAuth") &&
	       ext_add(cert, &ctx, NID_basic_constraints,
		       "critical,CA:FALSE") &&
	       ext_add(cert, &ctx, NID_subject_key_identifier, "hash") &&
	       ext_add(cert, &ctx, NID_authority_key_identifier,
		       "keyid:always") &&
	       ext_add(cert, &ctx, NID_subject_alt_name, sans);
}

static X509 *node_cert_build(const struct ca_root *root,
			     const struct ca_sign_req *req, EVP_PKEY *pub)
{
	X509 *cert = X509_new();

	if (cert == NULL)
		return NULL;
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    !serial_set_random(cert) || !node_subject_set(cert, req) ||
	    X509_set_issuer_name(cert, X509_get_subject_name(root->cert)) !=
		1 ||
	    !node_validity_set(cert, req) || X509_set_pubkey(cert, pub) != 1 ||
	    !node_exts_add(cert, root->cert, req) ||
	    X509_sign(cert, root->key, EVP_sha256()) <= 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

char *ca_root_sign_csr(const struct ca_root *root,
		       const struct ca_sign_req *req, struct sw_err *err)
{
	char *pem = NULL;
	X509_REQ *csr;
	X509 *cert;

	if (sign_req_check(root, req, err) != 0)
		return NULL;
	ERR_clear_error();
	csr = pem_to_csr(req->csr_pem, err);
	if (csr == NULL)
		return NULL;
	if (csr_check(csr, X509_REQ_get0_pubkey(csr), err) != 0)
		goto out_free_csr;
	cert = node_cert_build(root, req, X509_REQ_get0_pubkey(csr));
	if (cert == NULL) {
		sslerr_set(err, SW_ESYSTEM, "signing node certificate");
		goto out_free_csr;
	}
	pem = cert_to_pem(cert, err);
	X509_free(cert);
out_free_csr:
	X509_REQ_free(csr);
	return pem;
}

int ca_root_verify(const struct ca_root *root, X509 *cert, time_t now,
		   struct sw_err *err)
{
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	int rc = 0;

	ERR_clear_error();
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL ||
	    X509_STORE_add_cert(store, root->cert) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		rc = sslerr_set(err, SW_ESYSTEM, "preparing certificate check");
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		rc = sw_err_set(err, SW_EUNAUTHORIZED,
				"certificate not trusted: %s",
				X509_verify_cert_error_string(
				    X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

/* Copies the only entry of type nid into out. Missing, repeated, too long
 * or NUL-carrying entries fail. */
static int name_get_one(const X509_NAME *name, int nid, char *out, size_t cap)
{
	int pos = X509_NAME_get_index_by_NID(name, nid, -1);
	const ASN1_STRING *value;
	int len;

	if (pos < 0 || X509_NAME_get_index_by_NID(name, nid, pos) >= 0)
		return -1;
	value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
	len = ASN1_STRING_length(value);
	if (len <= 0 || (size_t)len >= cap)
		return -1;
	memcpy(out, ASN1_STRING_get0_data(value), (size_t)len);
	out[len] = '\0';
	return strlen(out) == (size_t)len ? 0 : -1;
}

int ca_cert_identity(X509 *cert, struct ca_identity *id, struct sw_err *err)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	struct ca_identity found;
	char ou[32];

	memset(&found, 0, sizeof(found));
	if (name_get_one(name, NID_commonName, found.node_id,
			 sizeof(found.node_id)) != 0 ||
	    !id_valid(found.node_id))
		return sw_err_set(err, SW_EINVALID,
				  "certificate has no valid node ID (CN)");
	if (name_get_one(name, NID_organizationName, found.cluster_id,
			 sizeof(found.cluster_id)) != 0 ||
	    !id_valid(found.cluster_id))
		return sw_err_set(err, SW_EINVALID,
				  "certificate has no valid cluster ID (O)");
	if (name_get_one(name, NID_organizationalUnitName, ou, sizeof(ou)) !=
		0 ||
	    role_parse(ou, &found.role) != 0)
		return sw_err_set(err, SW_EINVALID,
				  "certificate has no valid role (OU)");
	*id = found;
	return 0;
}

X509 *ca_cert_parse(const char *pem, struct sw_err *err)
{
	ERR_clear_error();
	return pem_to_cert(pem, err);
}

static int asn1_time_unix(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int ca_cert_validity(X509 *cert, time_t *not_before, time_t *not_after,
		     struct sw_err *err)
{
	ERR_clear_error();
	if (asn1_time_unix(X509_get0_notBefore(cert), not_before) != 0 ||
	    asn1_time_unix(X509_get0_notAfter(cert), not_after) != 0)
		return sslerr_set(err, SW_EINVALID,
				"invalid certificate validity");
	return 0;
}

/* An empty subject, as SwarmKit's GenerateNewCSR makes: the manager, not
 * the node, decides every name in the certificate. */
static X509_REQ *csr_build(EVP_PKEY *key)
{
	X509_REQ *csr = X509_REQ_new();

	if (csr == NULL)
		return NULL;
	if (X509_REQ_set_version(csr, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(csr, key) != 1 ||
	    X509_REQ_sign(csr, key, EVP_sha256()) <= 0) {
		X509_REQ_free(csr);
		return NULL;
	}
	return csr;
}

struct ca_keypair *ca_keypair_new(struct sw_err *err)
{
	struct ca_keypair *kp;
	X509_REQ *csr;
	EVP_PKEY *key;
	char *csr_pem;

	ERR_clear_error();
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		sslerr_set(err, SW_ESYSTEM, "generating node key");
		return NULL;
	}
	csr = csr_build(key);
	if (csr == NULL) {
		sslerr_set(err, SW_ESYSTEM, "creating CSR");
		goto err_free_key;
	}
	csr_pem = csr_to_pem(csr, err);
	X509_REQ_free(csr);
	if (csr_pem == NULL)
		goto err_free_key;
	kp = xcalloc(1, sizeof(*kp));
	kp->key = key;
	kp->csr_pem = csr_pem;
	return kp;

err_free_key:
	EVP_PKEY_free(key);
	return NULL;
}

struct ca_keypair *ca_keypair_load(const char *cert_pem, const char *key_pem,
				   struct sw_err *err)
{
	struct ca_keypair *kp;
	EVP_PKEY *key;

	ERR_clear_error();
	key = pem_to_key(key_pem, err);
	if (key == NULL)
		return NULL;
	kp = xcalloc(1, sizeof(*kp));
	kp->key = key;
	if (ca_keypair_set_cert(kp, cert_pem, err) != 0) {
		ca_keypair_free(kp);
		return NULL;
	}
	return kp;
}

void ca_keypair_free(struct ca_keypair *kp)
{
	if (kp == NULL)
		return;
	EVP_PKEY_free(kp->key);
	kp->key = NULL;
	free(kp->csr_pem);
	kp->csr_pem = NULL;
	X509_free(kp->cert);
	kp->cert = NULL;
	free(kp->cert_pem);
	kp->cert_pem = NULL;
	free(kp);
}

int ca_keypair_set_cert(struct ca_keypair *kp, const char *cert_pem,
			struct sw_err *err)
{
	X509 *cert;

	ERR_clear_error();
	cert = pem_to_cert(cert_pem, err);
	if (cert == NULL)
		return -(int)err->kind;
	if (X509_check_private_key(cert, kp->key) != 1) {
		X509_free(cert);
		return sslerr_set(err, SW_EINVALID,
				"certificate does not match the node key");
	}
	X509_free(kp->cert);
	kp->cert = cert;
	free(kp->cert_pem);
	kp->cert_pem = xstrdup(cert_pem);
	return 0;
}

const char *ca_keypair_csr_pem(const struct ca_keypair *kp)
{
	return kp->csr_pem;
}

const char *ca_keypair_cert_pem(const struct ca_keypair *kp)
{
	return kp->cert_pem;
}

X509 *ca_keypair_cert(const struct ca_keypair *kp)
{
	return kp->cert;
}

EVP_PKEY *ca_keypair_pkey(const struct ca_keypair *kp)
{
	return kp->key;
}

char *ca_keypair_key_pem(const struct ca_keypair *kp, struct sw_err *err)
{
	ERR_clear_error();
	return key_to_pem(kp->key, err);
}

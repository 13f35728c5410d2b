/* The cluster's root CA and node certificates, shaped as SwarmKit shapes
 * them (moby/swarmkit ca/certificates.go, ca/config.go, cfssl's signer):
 *
 * - the root is an ECDSA P-256 key with a self-signed certificate,
 *   CN=swarm-ca, valid 20 years from a notBefore rounded to the minute and
 *   backdated 5 minutes (cfssl's default backdate);
 * - a node certificate has subject O=<cluster ID>, OU=<role>, CN=<node ID>,
 *   DNS SANs <role>, <node ID> (and swarm-ca for managers), key usage
 *   digitalSignature+keyEncipherment, extended key usage serverAuth+
 *   clientAuth, notBefore rounded to the minute and backdated 1 hour,
 *   notAfter = rounded now + expiry;
 * - a join token pins the root by the SHA-256 of its PEM text, exactly the
 *   bytes served as TLSInfo.TrustRoot.
 *
 * Everything here is pure: no I/O, no loop, no clock. Callers pass the
 * current time, so tests are deterministic. Functions are safe to call from
 * any thread on distinct objects; a struct ca_root may be read concurrently.
 * OpenSSL errors are drained into struct sw_err, never left on the queue. */
#ifndef SW_CA_H
#define SW_CA_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "lib/err.h"

enum {
	CA_DIGEST_LEN = 32, /* SHA-256 */
	CA_ID_MAX = 64,     /* longest node or cluster ID we accept */
};

/* SwarmKit's node certificate default and floor (DefaultNodeCertExpiration,
 * MinNodeCertExpiration), in nanoseconds like Spec.CAConfig.NodeCertExpiry. */
#define CA_NODE_CERT_EXPIRY_DEFAULT_NS INT64_C(7776000000000000) /* 90 d */
#define CA_NODE_CERT_EXPIRY_MIN_NS INT64_C(3600000000000)        /* 1 h */

enum ca_role {
	CA_ROLE_WORKER = 1,
	CA_ROLE_MANAGER = 2,
};

/* The root CA: its certificate, and its private key when this node can sign
 * (managers); workers hold only the certificate. Opaque. */
struct ca_root;

/* A node's own credentials: a private key, the CSR made from it and, once
 * issued, the certificate. Opaque. */
struct ca_keypair;

/* What a peer's certificate says about it. */
struct ca_identity {
	char node_id[CA_ID_MAX + 1];
	char cluster_id[CA_ID_MAX + 1];
	enum ca_role role;
};

/* TLSInfo as the API shows it (CONTRACT §6.2). Every field is malloc'd and
 * owned by the struct; release with ca_tls_info_free. */
struct ca_tls_info {
	char *trust_root;             /* root certificate PEM */
	char *cert_issuer_subject;    /* base64 of the issuer Name's DER */
	char *cert_issuer_public_key; /* base64 of the issuer SPKI's DER */
};

/* A manager's request to sign a node's CSR. Caller-allocated; every pointer
 * is borrowed for the duration of the call. */
struct ca_sign_req {
	const char *csr_pem;    /* PEM "CERTIFICATE REQUEST" from the node */
	const char *node_id;    /* becomes CN and a SAN; [a-z0-9], 1..64 */
	const char *cluster_id; /* becomes O; [a-z0-9], 1..64 */
	enum ca_role role;      /* becomes OU and a SAN */
	int64_t expiry_ns;      /* Spec.CAConfig.NodeCertExpiry; < 1 h: 90 d */
	time_t now;
};

/* "swarm-manager" or "swarm-worker"; NULL for any other value. */
const char *ca_role_name(enum ca_role role);

/* Creates a new root CA (key and self-signed certificate) valid from `now`.
 * Returns a root the caller frees with ca_root_free, or NULL with err set
 * (SYSTEM) if OpenSSL fails. */
struct ca_root *ca_root_new(time_t now, struct sw_err *err);

/* Loads a root from PEM text, as kept in the raft store or received from a
 * manager. key_pem may be NULL, giving a root that verifies but cannot sign.
 * The certificate must be a self-signed CA certificate and the key, if
 * given, must match it. The PEM text is kept verbatim, because the join
 * token digest covers these exact bytes. Returns a new root (caller frees)
 * or NULL with err set (INVALID for unusable input). */
struct ca_root *ca_root_load(const char *cert_pem, const char *key_pem,
			     struct sw_err *err);

/* Frees the root and its key material. NULL is a no-op. */
void ca_root_free(struct ca_root *root);

/* Whether the root holds a private key and can sign node certificates. */
bool ca_root_can_sign(const struct ca_root *root);

/* The root certificate PEM; borrowed, valid while the root lives. */
const char *ca_root_cert_pem(const struct ca_root *root);

/* The SHA-256 of ca_root_cert_pem(), as join tokens carry it; borrowed,
 * CA_DIGEST_LEN bytes. */
const unsigned char *ca_root_digest(const struct ca_root *root);

/* The root certificate, borrowed, for building TLS trust stores. The caller
 * must not free or modify it (X509_up_ref it to keep it longer). */
X509 *ca_root_cert(const struct ca_root *root);

/* Exports the private key as PEM ("EC PRIVATE KEY"). Returns a malloc'd
 * string the caller frees, or NULL with err set: INVALID when the root has
 * no key, SYSTEM when OpenSSL fails. */
char *ca_root_key_pem(const struct ca_root *root, struct sw_err *err);

/* Fills the API's TLSInfo for certificates issued by this root. On success
 * the caller owns info's strings (ca_tls_info_free); on failure info is
 * left empty and err is set (SYSTEM). */
int ca_root_tls_info(const struct ca_root *root, struct ca_tls_info *info,
		     struct sw_err *err);

/* Frees the strings in info and clears it. */
void ca_tls_info_free(struct ca_tls_info *info);

/* Signs a node's CSR after checking its self-signature and key type (EC
 * P-256/384/521 or RSA >= 2048 bits). Only the CSR's public key is used:
 * subject, SANs and validity come from req, as SwarmKit's signing policy
 * does. Returns the certificate PEM (malloc'd, caller frees) or NULL with
 * err set: INVALID for a bad CSR, IDs or role, or a root without a key;
 * SYSTEM when OpenSSL fails. */
char *ca_root_sign_csr(const struct ca_root *root,
		       const struct ca_sign_req *req, struct sw_err *err);

/* Checks that cert chains to this root and is valid at `now`. cert is
 * borrowed. Returns 0, or UNAUTHORIZED with OpenSSL's reason in err. */
int ca_root_verify(const struct ca_root *root, X509 *cert, time_t now,
		   struct sw_err *err);

/* Reads role, node ID and cluster ID from a (verified) peer certificate:
 * exactly one CN, OU and O each, IDs in [a-z0-9], OU a known role. cert is
 * borrowed. Returns 0 and fills id, or INVALID with err set. This does not
 * verify the chain: call ca_root_verify (or let the TLS handshake do it)
 * first. */
int ca_cert_identity(X509 *cert, struct ca_identity *id, struct sw_err *err);

/* Parses the first certificate in PEM text. Returns a new X509 the caller
 * frees with X509_free, or NULL with err set (INVALID). */
X509 *ca_cert_parse(const char *pem, struct sw_err *err);

/* Reads a certificate's validity window as Unix times. Returns 0, or
 * INVALID with err set if the times cannot be read. */
int ca_cert_validity(X509 *cert, time_t *not_before, time_t *not_after,
		     struct sw_err *err);

/* Generates a node key (ECDSA P-256) and a CSR with an empty subject, as
 * SwarmKit's GenerateNewCSR does: the manager decides the subject. Returns a
 * keypair (caller frees with ca_keypair_free) or NULL with err set
 * (SYSTEM). */
struct ca_keypair *ca_keypair_new(struct sw_err *err);

/* Loads a node's saved certificate and key from PEM and checks that they
 * match. Returns a new keypair (caller frees) or NULL with err set
 * (INVALID). The loaded keypair has no CSR. */
struct ca_keypair *ca_keypair_load(const char *cert_pem, const char *key_pem,
				   struct sw_err *err);

/* Frees the keypair. NULL is a no-op. */
void ca_keypair_free(struct ca_keypair *kp);

/* Installs the certificate a manager issued for this keypair, replacing any
 * previous one, after checking that it matches the private key. Chain
 * trust is a separate check (ca_root_verify). Returns 0, or INVALID with err
 * set and the keypair unchanged. */
int ca_keypair_set_cert(struct ca_keypair *kp, const char *cert_pem,
			struct sw_err *err);

/* The CSR PEM (NULL for a loaded keypair); borrowed. */
const char *ca_keypair_csr_pem(const struct ca_keypair *kp);

/* The certificate PEM (NULL until set); borrowed. */
const char *ca_keypair_cert_pem(const struct ca_keypair *kp);

/* The certificate (NULL until set) and the private key, borrowed, for
 * SSL_CTX_use_certificate / SSL_CTX_use_PrivateKey (which take their own
 * references). */
X509 *ca_keypair_cert(const struct ca_keypair *kp);
EVP_PKEY *ca_keypair_pkey(const struct ca_keypair *kp);

/* Exports the private key as PEM ("EC PRIVATE KEY"). Returns a malloc'd
 * string the caller frees, or NULL with err set (SYSTEM). */
char *ca_keypair_key_pem(const struct ca_keypair *kp, struct sw_err *err);

#endif

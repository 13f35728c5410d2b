#include "orchestrator/tls.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/alloc.h"
#include "lib/sslerr.h"
#include "orchestrator/tokens.h"

enum {
	READ_BUF = 64 * 1024,
	PLAIN_CHUNK = 16 * 1024, /* one TLS record of plaintext */
	WRITE_SLICE = 64 * 1024, /* bounds the outgoing memory BIO */
};

/* TLS 1.2 suites: forward secret AEADs only. TLS 1.3 suites are all AEAD
 * and, with the groups below, always ECDHE. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
static const char tls_groups[] = "X25519:P-256:P-384";

struct tls_ctx {
	SSL_CTX *ssl;
	int refs;
	bool pinned;
	unsigned char pin[CA_DIGEST_LEN];
};

/* One uv_write of ciphertext; the bytes follow the header. */
struct tls_write {
	uv_write_t req;
	struct tls_conn *c;
	size_t len;
	char data[];
};

/* ---- errors ---- */


static void kick_cb(uv_idle_t *h);

/* Ciphertext not yet written: handed to uv_write, or still to flush. */
static size_t backlog(const struct tls_conn *c)
{
	return c->queued + BIO_ctrl_pending(c->net_out);
}

/* Marks the session failed, keeping the first error only, and reports it
 * from the loop (kick_cb), so no caller is ever re-entered. */
__attribute__((format(printf, 3, 4))) static void
fail(struct tls_conn *c, enum sw_errkind kind, const char *fmt, ...)
{
	va_list ap;

	if (c->failed || c->closing)
		return;
	c->err.kind = kind;
	c->err.sys = 0;
	c->err.status = 0;
	va_start(ap, fmt);
	(void)vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	va_end(ap);
	c->failed = true;
	if (c->started && !c->tcp_eof)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->kicked = true;
	uv_idle_start(&c->kick, kick_cb);
}

static void fail_ossl(struct tls_conn *c, enum sw_errkind kind,
		      const char *what)
{
	struct sw_err e;

	sslerr_set(&e, kind, what);
	fail(c, kind, "%s", e.msg);
}

/* ---- contexts ---- */

static SSL_CTX *ctx_base(struct sw_err *err)
{
	SSL_CTX *ssl;

	ERR_clear_error();
	ssl = SSL_CTX_new(TLS_method());
	if (ssl == NULL) {
		sslerr_set(err, SW_ESYSTEM, "creating a TLS context");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ssl, tls12_ciphers) != 1 ||
	    SSL_CTX_set1_groups_list(ssl, tls_groups) != 1 ||
	    SSL_CTX_set_num_tickets(ssl, 0) != 1) {
		sslerr_set(err, SW_ESYSTEM, "configuring a TLS context");
		SSL_CTX_free(ssl);
		return NULL;
	}
	SSL_CTX_set_options(
	    ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
		     SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
	/* We send an explicit chain (leaf + root), never one built from the
	 * trust store. An idle session gives its record buffers back: a
	 * manager holds one session per node. */
	SSL_CTX_set_mode(ssl, SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
	return ssl;
}

static struct tls_ctx *ctx_wrap(SSL_CTX *ssl)
{
	struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->ssl = ssl;
	ctx->refs = 1;
	return ctx;
}

/* Presents kp's certificate with the root after it: joiners find the root
 * in the chain and pin it. */
static int ctx_use_keypair(SSL_CTX *ssl, const struct ca_root *root,
			   const struct ca_keypair *kp, struct sw_err *err)
{
	if (SSL_CTX_use_certificate(ssl, ca_keypair_cert(kp)) != 1 ||
	    SSL_CTX_use_PrivateKey(ssl, ca_keypair_pkey(kp)) != 1 ||
	    SSL_CTX_check_private_key(ssl) != 1 ||
	    SSL_CTX_add1_chain_cert(ssl, ca_root_cert(root)) != 1)
		return sslerr_set(err, SW_EINVALID,
				"loading the node certificate");
	return 0;
}

struct tls_ctx *tls_ctx_new(const struct ca_root *root,
			    const struct ca_keypair *kp, struct sw_err *err)
{
	SSL_CTX *ssl;

	if (root == NULL) {
		sw_err_set(err, SW_EINVALID, "TLS needs a root CA");
		return NULL;
	}
	if (kp != NULL && ca_keypair_cert(kp) == NULL) {
		sw_err_set(err, SW_EINVALID,
			   "the node key pair has no certificate yet");
		return NULL;
	}
	ssl = ctx_base(err);
	if (ssl == NULL)
		return NULL;
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ssl),
				ca_root_cert(root)) != 1) {
		sslerr_set(err, SW_ESYSTEM, "loading the root CA");
		goto err_free;
	}
	if (kp != NULL && ctx_use_keypair(ssl, root, kp, err) != 0)
		goto err_free;
	SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return ctx_wrap(ssl);

err_free:
	SSL_CTX_free(ssl);
	return NULL;
}

struct tls_ctx *tls_ctx_new_pinned(const unsigned char *digest,
				   struct sw_err *err)
{
	SSL_CTX *ssl = ctx_base(err);
	struct tls_ctx *ctx;

	if (ssl == NULL)
		return NULL;
	/* Nothing to verify against during the handshake: pin_check does it
	 * once the chain is known, before any application data. */
	SSL_CTX_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	ctx = ctx_wrap(ssl);
	ctx->pinned = true;
	memcpy(ctx->pin, digest, CA_DIGEST_LEN);
	return ctx;
}

bool tls_ctx_is_pinned(const struct tls_ctx *ctx)
{
	return ctx->pinned;
}

void tls_ctx_ref(struct tls_ctx *ctx)
{
	ctx->refs++;
}

void tls_ctx_unref(struct tls_ctx *ctx)
{
	if (ctx == NULL || --ctx->refs > 0)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

/* ---- peer checks ---- */

static X509 *chain_root(STACK_OF(X509) * chain)
{
	int i;

	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_check_issued(x, x) == X509_V_OK)
			return x;
	}
	return NULL;
}

static char *cert_pem(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	char *data;
	long len;

	if (b != NULL && PEM_write_bio_X509(b, cert) == 1) {
		len = BIO_get_mem_data(b, &data);
		if (len > 0)
			out = xstrndup(data, (size_t)len);
	}
	BIO_free(b);
	return out;
}

/* Checks the chain a pinned handshake accepted blindly: its self-signed
 * root must hash to the pin (the join token's digest covers the root's PEM
 * text) and the leaf must chain to that root. */
static int pin_root(struct tls_conn *c, X509 *leaf, struct sw_err *err)
{
	X509 *root_cert = chain_root(SSL_get_peer_cert_chain(c->ssl));
	unsigned char digest[EVP_MAX_MD_SIZE];
	struct tokens_join tok;
	struct ca_root *root;
	unsigned int dlen = 0;
	char *pem;

	if (leaf == NULL || root_cert == NULL)
		return sw_err_set(err, SW_EUNAUTHORIZED,
				  "the manager did not present its root CA");
	pem = cert_pem(root_cert);
	if (pem == NULL || EVP_Digest(pem, strlen(pem), digest, &dlen,
				      EVP_sha256(), NULL) != 1) {
		free(pem);
		return sslerr_set(err, SW_ESYSTEM, "hashing the root CA");
	}
	memset(&tok, 0, sizeof(tok));
	memcpy(tok.root_digest, c->ctx->pin, CA_DIGEST_LEN);
	if (tokens_join_check_root(&tok, digest, err) != 0) {
		free(pem);
		return -(int)err->kind;
	}
	root = ca_root_load(pem, NULL, err);
	free(pem);
	if (root == NULL)
		return -(int)err->kind;
	if (ca_root_verify(root, leaf, time(NULL), err) != 0) {
		ca_root_free(root);
		return -(int)err->kind;
	}
	c->pinned = root;
	return 0;
}

/* Reads the peer's identity once its chain is trusted. A server may face a
 * client without a certificate (joining); a client never accepts that. */
static int peer_check(struct tls_conn *c, struct sw_err *err)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	long vr;

	if (c->ctx->pinned) {
		if (pin_root(c, cert, err) != 0)
			return -(int)err->kind;
	} else if (cert == NULL) {
		if (c->role == TLS_CLIENT)
			return sw_err_set(err, SW_EUNAUTHORIZED,
					  "the peer presented no certificate");
		return 0;
	} else if ((vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		return sw_err_set(err, SW_EUNAUTHORIZED,
				  "certificate not trusted: %s",
				  X509_verify_cert_error_string(vr));
	}
	if (ca_cert_identity(cert, &c->peer, err) != 0) {
		err->kind = SW_EUNAUTHORIZED;
		return sw_err_wrap(err, "peer certificate");
	}
	c->has_peer = true;
	return 0;
}

/* ---- the pump between OpenSSL and libuv ---- */

static void write_cb(uv_write_t *req, int status)
{
	struct tls_write *w = req->data;
	struct tls_conn *c = w->c;

	c->queued -= w->len;
	free(w);
	if (c->closing)
		return;
	if (status != 0) {
		fail(c, SW_EUNAVAILABLE, "writing to the peer: %s",
		     uv_strerror(status));
		return;
	}
	if (c->above_high && backlog(c) <= TLS_LOW_WATER) {
		c->above_high = false;
		if (c->drain_cb != NULL)
			c->drain_cb(c);
	}
}

/* Moves whatever OpenSSL wrote into the outgoing BIO onto the socket. */
static void flush(struct tls_conn *c)
{
	size_t n;

	while (!c->closing && (n = BIO_ctrl_pending(c->net_out)) > 0) {
		struct tls_write *w = xmalloc(sizeof(*w) + n);
		uv_buf_t b;
		int rc;

		if (BIO_read(c->net_out, w->data, (int)n) != (int)n ||
		    c->tcp_shut) {
			/* Nothing may follow the TCP half-close. */
			free(w);
			(void)BIO_reset(c->net_out);
			return;
		}
		w->c = c;
		w->len = n;
		w->req.data = w;
		b = uv_buf_init(w->data, (unsigned int)n);
		rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
		if (rc != 0) {
			free(w);
			fail(c, SW_EUNAVAILABLE, "writing to the peer: %s",
			     uv_strerror(rc));
			return;
		}
		c->queued += n;
	}
}

static void handshake_fail(struct tls_conn *c)
{
	long vr = SSL_get_verify_result(c->ssl);

	/* Send our alert first, so the peer learns why. */
	flush(c);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		fail(c, SW_EUNAUTHORIZED, "certificate not trusted: %s",
		     X509_verify_cert_error_string(vr));
		return;
	}
	fail_ossl(c, SW_EUNAVAILABLE, "TLS handshake failed");
}

/* Advances the handshake; returns true once it is complete and the peer
 * checked out. */
static bool handshake_step(struct tls_conn *c)
{
	struct sw_err e;
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(c->ssl);
	if (rc != 1) {
		if (SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_READ)
			flush(c);
		else
			handshake_fail(c);
		return false;
	}
	flush(c);
	if (peer_check(c, &e) != 0) {
		fail(c, e.kind, "%s", e.msg);
		return false;
	}
	c->established = true;
	c->handshake_cb(c, 0);
	return !c->closing;
}

/* Hands decrypted records to the owner while it wants them. */
static void deliver(struct tls_conn *c)
{
	char buf[PLAIN_CHUNK];
	size_t n;
	int rc;

	while (c->reading && !c->eof && !c->failed && !c->closing) {
		ERR_clear_error();
		rc = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
		if (rc == 1) {
			c->read_cb(c, (ssize_t)n, buf);
			continue;
		}
		switch (SSL_get_error(c->ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_ZERO_RETURN:
			c->eof = true;
			c->read_cb(c, TLS_EOF, NULL);
			return;
		default:
			if (c->tcp_eof && BIO_ctrl_pending(c->net_in) == 0) {
				ERR_clear_error();
				fail(c, SW_EUNAVAILABLE,
				     "connection closed by the peer");
			} else {
				fail_ossl(c, SW_EUNAVAILABLE,
					  "TLS read failed");
			}
			return;
		}
	}
}

static void drive(struct tls_conn *c)
{
	if (c->closing || c->failed)
		return;
	if (!c->established && !handshake_step(c))
		return;
	deliver(c);
	if (!c->closing && !c->failed)
		flush(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tls_conn *c = h->data;

	*buf = uv_buf_init(c->rbuf, READ_BUF);
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tls_conn *c = s->data;

	if (c->closing || c->failed || nread == 0)
		return;
	if (nread == UV_EOF) {
		/* OpenSSL sees the end once it consumed what is buffered. */
		c->tcp_eof = true;
		uv_read_stop(s);
		BIO_set_mem_eof_return(c->net_in, 0);
	} else if (nread < 0) {
		fail(c, SW_EUNAVAILABLE, "reading from the peer: %s",
		     uv_strerror((int)nread));
		return;
	} else if (BIO_write(c->net_in, buf->base, (int)nread) != nread) {
		fail_ossl(c, SW_ESYSTEM, "buffering TLS input");
		return;
	}
	drive(c);
}

/* Reports the failure once: through the handshake callback while the
 * handshake runs, through the read callback afterwards. */
static void report(struct tls_conn *c)
{
	if (c->reported || !c->started)
		return;
	c->reported = true;
	if (!c->established)
		c->handshake_cb(c, -(int)c->err.kind);
	else
		c->read_cb(c, -(int)c->err.kind, NULL);
}

static void kick_cb(uv_idle_t *h)
{
	struct tls_conn *c = h->data;

	uv_idle_stop(h);
	if (c->closing)
		return;
	if (c->unflushed && !c->failed)
		flush(c);
	c->unflushed = false;
	if (!c->kicked)
		return;
	c->kicked = false;
	if (c->failed) {
		report(c);
		return;
	}
	if (!c->reading || !c->started)
		return;
	if (c->established)
		c->read_cb(c, 0, NULL);
	if (c->reading)
		drive(c);
}

/* ---- sessions ---- */

int tls_conn_init(struct tls_conn *c, uv_loop_t *loop, struct tls_ctx *ctx,
		  enum tls_role role, struct sw_err *err)
{
	void *data = c->data;
	BIO *in, *out;

	if (ctx->pinned && role != TLS_CLIENT)
		return sw_err_set(err, SW_EINVALID,
				  "a pinned TLS context is for clients only");
	memset(c, 0, sizeof(*c));
	c->data = data;
	ERR_clear_error();
	c->ssl = SSL_new(ctx->ssl);
	in = BIO_new(BIO_s_mem());
	out = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || in == NULL || out == NULL) {
		sslerr_set(err, SW_ESYSTEM, "creating a TLS session");
		BIO_free(in);
		BIO_free(out);
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -(int)err->kind;
	}
	/* An empty input BIO means "wait for more", not end of stream. */
	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(c->ssl, in, out);
	c->net_in = in;
	c->net_out = out;
	if (role == TLS_SERVER)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	uv_tcp_init(loop, &c->tcp);
	uv_idle_init(loop, &c->kick);
	c->tcp.data = c;
	c->kick.data = c;
	c->open_handles = 2;
	tls_ctx_ref(ctx);
	c->ctx = ctx;
	c->role = role;
	c->rbuf = xmalloc(READ_BUF);
	return 0;
}

uv_tcp_t *tls_conn_tcp(struct tls_conn *c)
{
	return &c->tcp;
}

int tls_conn_start(struct tls_conn *c, tls_handshake_cb handshake_cb,
		   tls_read_cb read_cb, struct sw_err *err)
{
	int rc;

	c->handshake_cb = handshake_cb;
	c->read_cb = read_cb;
	rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, tcp_read_cb);
	if (rc != 0)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "reading from the peer: %s", uv_strerror(rc));
	c->started = true;
	c->reading = true;
	/* A client speaks first; a failure is reported from the loop. */
	if (c->role == TLS_CLIENT)
		drive(c);
	return 0;
}

void tls_conn_set_drain_cb(struct tls_conn *c, tls_drain_cb cb)
{
	c->drain_cb = cb;
}

static int ssl_write(struct tls_conn *c, const char *p, size_t n)
{
	size_t done = 0;

	ERR_clear_error();
	if (SSL_write_ex(c->ssl, p, n, &done) != 1 || done != n) {
		fail_ossl(c, SW_EUNAVAILABLE, "TLS write failed");
		return -1;
	}
	/* Sent once the loop comes round: the frames written to this peer
	 * by one round of callbacks leave in one write. */
	if (!c->unflushed) {
		c->unflushed = true;
		uv_idle_start(&c->kick, kick_cb);
	}
	return 0;
}

static int write_check(struct tls_conn *c, struct sw_err *err)
{
	if (c->failed)
		return sw_err_set(err, SW_EUNAVAILABLE, "%s", c->err.msg);
	if (c->closing || c->sent_shutdown)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "the connection is closed");
	if (!c->established)
		return sw_err_set(err, SW_EINVALID,
				  "the TLS handshake is not complete");
	if (backlog(c) > TLS_MAX_QUEUE)
		return sw_err_set(err, SW_EUNAVAILABLE,
				  "write queue full (%zu bytes pending)",
				  backlog(c));
	return 0;
}

/* Small buffers are gathered into one record; large ones go out in slices
 * so the outgoing memory BIO stays small. */
int tls_conn_writev(struct tls_conn *c, const uv_buf_t *bufs, size_t n,
		    struct sw_err *err)
{
	char stage[PLAIN_CHUNK];
	size_t used = 0, i;
	int rc = write_check(c, err);

	if (rc != 0)
		return rc;
	for (i = 0; rc == 0 && i < n; i++) {
		const char *p = bufs[i].base;
		size_t left = bufs[i].len;

		while (rc == 0 && left > 0) {
			size_t k;

			if (used == 0 && left >= PLAIN_CHUNK) {
				k = left < WRITE_SLICE ? left : WRITE_SLICE;
				rc = ssl_write(c, p, k);
			} else {
				k = sizeof(stage) - used;
				k = left < k ? left : k;
				memcpy(stage + used, p, k);
				used += k;
				if (used == sizeof(stage)) {
					rc = ssl_write(c, stage, used);
					used = 0;
				}
			}
			p += k;
			left -= k;
		}
	}
	if (rc == 0 && used > 0)
		rc = ssl_write(c, stage, used);
	if (rc == 0 && backlog(c) > TLS_HIGH_WATER)
		c->above_high = true;
	/* The data was accepted; a failure while sending it is reported
	 * through read_cb, like any later one. */
	return 0;
}

int tls_conn_write(struct tls_conn *c, const void *p, size_t len,
		   struct sw_err *err)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned int)len);

	if (len > UINT32_MAX)
		return sw_err_set(err, SW_ETOOLARGE, "write of %zu bytes", len);
	return tls_conn_writev(c, &b, 1, err);
}

bool tls_conn_writable(const struct tls_conn *c)
{
	return backlog(c) <= TLS_HIGH_WATER;
}

size_t tls_conn_queued(const struct tls_conn *c)
{
	return backlog(c);
}

void tls_conn_read_stop(struct tls_conn *c)
{
	if (!c->reading)
		return;
	c->reading = false;
	if (c->started && !c->tcp_eof && !c->failed && !c->closing)
		uv_read_stop((uv_stream_t *)&c->tcp);
}

void tls_conn_read_start(struct tls_conn *c)
{
	if (c->reading || c->closing)
		return;
	c->reading = true;
	if (!c->started)
		return;
	if (!c->tcp_eof && !c->failed)
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, tcp_read_cb);
	c->kicked = true;
	uv_idle_start(&c->kick, kick_cb);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct tls_conn *c = req->data;

	if (c->closing || c->shutdown_cb == NULL)
		return;
	c->shutdown_cb(c, status == 0 ? 0 : -(int)SW_EUNAVAILABLE);
}

int tls_conn_shutdown(struct tls_conn *c, tls_shutdown_cb cb)
{
	int rc;

	if (!c->established || c->sent_shutdown || c->closing || c->failed)
		return -1;
	c->sent_shutdown = true;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	flush(c);
	if (c->failed)
		return -1;
	c->shutdown.data = c;
	rc = uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb);
	if (rc != 0) {
		fail(c, SW_EUNAVAILABLE, "shutting down: %s", uv_strerror(rc));
		return -1;
	}
	c->tcp_shut = true;
	c->shutdown_cb = cb;
	return 0;
}

static void handle_closed_cb(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	SSL_free(c->ssl);
	c->ssl = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	ca_root_free(c->pinned);
	c->pinned = NULL;
	tls_ctx_unref(c->ctx);
	c->ctx = NULL;
	if (c->close_cb != NULL)
		c->close_cb(c);
}

void tls_conn_close(struct tls_conn *c, tls_close_cb cb)
{
	if (c->closing)
		return;
	/* What was written goes out first, as it would have unbatched. */
	if (c->unflushed && !c->failed)
		flush(c);
	c->closing = true;
	c->close_cb = cb;
	uv_close((uv_handle_t *)&c->tcp, handle_closed_cb);
	uv_close((uv_handle_t *)&c->kick, handle_closed_cb);
}

const char *tls_conn_protocol(const struct tls_conn *c)
{
	return c->ssl != NULL ? SSL_get_version(c->ssl) : "none";
}

const struct sw_err *tls_conn_err(const struct tls_conn *c)
{
	return &c->err;
}

const struct ca_identity *tls_conn_peer(const struct tls_conn *c)
{
	return c->established && c->has_peer ? &c->peer : NULL;
}

const struct ca_root *tls_conn_pinned_root(const struct tls_conn *c)
{
	return c->established ? c->pinned : NULL;
}

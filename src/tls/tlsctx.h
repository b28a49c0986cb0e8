/* tlsctx - OpenSSL server contexts for STARTTLS (RFC 3207) and implicit
 * TLS (RFC 8314), and a self-signed certificate for development set-ups.
 * Knows nothing about SMTP.
 *
 * A context: TLS 1.2 or later, the server's cipher preference, session
 * tickets on (a random ticket key per context), compression and
 * renegotiation off, a certificate chain file (leaf first, intermediates
 * after) and a private key that must match it.
 */
#ifndef MAILPORT_TLS_TLSCTX_H
#define MAILPORT_TLS_TLSCTX_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "util/buf.h"

/* tls_server_ctx - build a context from PEM files; NULL with a one-line
 * reason ("cert /path: ...") appended to errors */
SSL_CTX *tls_server_ctx(const char *cert_chain, const char *key, buf_t *errors);

/* tls_server_ctx_from - the same, the files read through src (conf/cfiles.h:
 * the parent records them, the worker replays them) */
struct cfiles;
SSL_CTX *tls_server_ctx_from(struct cfiles *src, const char *cert_chain, const char *key,
			     buf_t *errors);

/* tls_selfsigned - write a new EC P-256 key (mode 0600) and a self-signed
 * certificate for common name cn (subjectAltName DNS:cn, 10 years) unless
 * both files exist already; 0 or -1 with a reason in errors */
int tls_selfsigned(const char *cert_path, const char *key_path, const char *cn,
		   buf_t *errors);

/* tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and the
 * Received: header (RFC 8314 7.4 style), into out */
void tls_describe(SSL *ssl, char *out, size_t outsz);

/* tls_peer_name - the SNI name the client sent, escaped-safe to log is
 * NOT guaranteed: the caller escapes; NULL when none */
const char *tls_sni(SSL *ssl);

#endif

/* tlsctx - OpenSSL 3 server contexts for STARTTLS (RFC 3207) and implicit
 * TLS (RFC 8314), and a self-signed certificate for development set-ups.
 *
 * Public: tls_server_ctx, tls_selfsigned, tls_describe, tls_sni.
 * Invariants: a context accepts TLS 1.2 and later only (TLS 1.2 with
 * ECDHE/DHE and AEAD suites only), prefers the
 * server's cipher order, has compression and renegotiation off, session
 * tickets on (OpenSSL's per-context random ticket keys), a session id
 * context, and a private key checked against its certificate.  Encrypted
 * keys are refused rather than prompted for.  Every failure appends one
 * line "cert|key <path>: <reason>\n" to errors (which may be NULL) and
 * leaves the OpenSSL error queue empty.  tls_selfsigned writes each file
 * to a fresh temporary name (O_CREAT|O_EXCL, the key 0600) and renames it
 * into place after fsync, so a crash never leaves half a file behind.
 */
#include "tls/tlsctx.h"
#include "conf/cfiles.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_SESSION_ID_CTX "mailport"
#define SELFSIGNED_DAYS 3650
#define SELFSIGNED_SERIAL_BITS 159
#define CN_MAX 64			/* RFC 5280 ub-common-name */

/* add_error - append "what path: reason\n" where reason is the oldest
 * OpenSSL error (or fallback), and clear the OpenSSL error queue */
static void add_error(buf_t *errors, const char *what, const char *path,
		      const char *fallback)
{
	char reason[256];
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s", fallback);
	ERR_clear_error();
	if (errors)
		buf_printf(errors, "%s %s: %s\n", what, path ? path : "-", reason);
}

/* no_passphrase - password callback: never prompt, refuse encrypted keys */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* TLS 1.2 suites: forward secrecy and AEAD only (Mozilla's "intermediate"
 * profile): no static-RSA key exchange, no CBC, no SHA-1 MACs (LUCKY13).
 * TLS 1.3 suites stay OpenSSL's defaults (all of them AEAD). */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

/* ctx_policy - protocol floor, suites, options and modes common to every
 * context */
static int ctx_policy(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_set_session_id_context(ctx,
			(const unsigned char *)TLS_SESSION_ID_CTX,
			sizeof(TLS_SESSION_ID_CTX) - 1) != 1)
		return -1;
	return 0;
}

/* use_chain - the leaf and its intermediates from PEM text */
static int use_chain(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = NULL;
	int ok = 0;

	if (!bio || len > INT_MAX)
		goto out;
	x = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
	if (!x || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			goto out;
	}
	/* the end of the text, or a broken certificate after the leaf */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		goto out;
	ERR_clear_error();
	ok = 1;
out:
	if (!ok)
		X509_free(x);
	BIO_free(bio);
	return ok ? 0 : -1;
}

/* use_key - the private key from PEM text (never an encrypted one) */
static int use_key(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;
	int ok = 0;

	if (bio && len <= INT_MAX)
		k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (k && SSL_CTX_use_PrivateKey(ctx, k) == 1)
		ok = 1;
	EVP_PKEY_free(k);
	BIO_free(bio);
	return ok ? 0 : -1;
}

/* read_error - "what path: cannot read: reason" */
static void read_error(buf_t *errors, const char *what, const char *path)
{
	char reason[160];

	snprintf(reason, sizeof(reason), "cannot read: %s", strerror(errno));
	ERR_clear_error();
	add_error(errors, what, path, reason);
}

/* tls_server_ctx_from - a server context from a PEM chain and a PEM key
 * read through src (see conf/cfiles.h) */
SSL_CTX *tls_server_ctx_from(struct cfiles *src, const char *cert_chain, const char *key,
			     buf_t *errors)
{
	SSL_CTX *ctx = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cert_len = 0, key_len = 0;

	ERR_clear_error();
	if (!cert_chain || !key) {
		add_error(errors, "cert", cert_chain, "no certificate or key file");
		return NULL;
	}
	if (cfiles_get(src, cert_chain, &cert_pem, &cert_len) < 0) {
		read_error(errors, "cert", cert_chain);
		goto fail;
	}
	if (cfiles_get(src, key, &key_pem, &key_len) < 0) {
		read_error(errors, "key", key);
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		add_error(errors, "cert", cert_chain, "cannot create a TLS context");
		goto fail;
	}
	if (ctx_policy(ctx) < 0) {
		add_error(errors, "cert", cert_chain, "cannot set the TLS policy");
		goto fail;
	}
	if (use_chain(ctx, cert_pem, cert_len) < 0) {
		add_error(errors, "cert", cert_chain, "cannot load the chain");
		goto fail;
	}
	if (use_key(ctx, key_pem, key_len) < 0) {
		add_error(errors, "key", key, "cannot load the private key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		add_error(errors, "key", key, "does not match the certificate");
		goto fail;
	}
	goto out;
fail:
	SSL_CTX_free(ctx);
	ctx = NULL;
out:
	if (key_pem) {
		explicit_bzero(key_pem, key_len);
		free(key_pem);
	}
	free(cert_pem);
	return ctx;
}

/* tls_server_ctx - a server context from PEM files on disk */
SSL_CTX *tls_server_ctx(const char *cert_chain, const char *key, buf_t *errors)
{
	return tls_server_ctx_from(NULL, cert_chain, key, errors);
}

/* cn_ok - a host name fit for CN and SAN: 1..64 of [A-Za-z0-9.-] */
static int cn_ok(const char *cn)
{
	size_t n = cn ? strlen(cn) : 0;
	size_t i;

	if (n == 0 || n > CN_MAX || cn[0] == '.' || cn[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cn[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* set_serial - a random positive serial number (RFC 5280 4.1.2.2) */
static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int r = -1;

	if (bn && BN_rand(bn, SELFSIGNED_SERIAL_BITS, BN_RAND_TOP_ONE,
			  BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		r = 0;
	BN_free(bn);
	return r;
}

/* add_conf_ext - add one extension given in OpenSSL's config syntax */
static int add_conf_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int r;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	r = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

/* add_san - subjectAltName DNS:cn, built without config parsing so that
 * cn can never inject other names */
static int add_san(X509 *x, const char *cn)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
	int r = -1;

	if (!names || !gn || !dns || ASN1_STRING_set(dns, cn, -1) != 1)
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
	dns = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
			      X509V3_ADD_DEFAULT) == 1)
		r = 0;
out:
	ASN1_IA5STRING_free(dns);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return r;
}

/* set_names - subject and issuer CN=cn (self-signed) */
static int set_names(X509 *x, const char *cn)
{
	X509_NAME *name = X509_get_subject_name(x);

	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)cn, -1, -1, 0) != 1)
		return -1;
	return X509_set_issuer_name(x, name) == 1 ? 0 : -1;
}

/* make_cert - a v3 self-signed certificate for cn with key pkey */
static X509 *make_cert(EVP_PKEY *pkey, const char *cn)
{
	X509 *x = X509_new();

	if (!x || X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0)
		goto fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), SELFSIGNED_DAYS, 0, NULL))
		goto fail;
	if (set_names(x, cn) < 0 || X509_set_pubkey(x, pkey) != 1)
		goto fail;
	if (add_conf_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_conf_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_conf_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_conf_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_san(x, cn) < 0)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* open_temp - create path.tmp.XXXXXXXX exclusively with mode; the fd or -1 */
static int open_temp(const char *path, mode_t mode, char *tmp, size_t tmpsz)
{
	unsigned char rnd[4];
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	n = snprintf(tmp, tmpsz, "%s.tmp.%02x%02x%02x%02x", path,
		     rnd[0], rnd[1], rnd[2], rnd[3]);
	if (n < 0 || (size_t)n >= tmpsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    mode);
}

/* write_temp - write a key (pkey) or a certificate (x) to a new
 * temporary file beside path, fsync'ed; its name goes into tmp */
static int write_temp(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x,
		      char *tmp, size_t tmpsz, buf_t *errors)
{
	const char *what = pkey ? "key" : "cert";
	BIO *bio;
	int fd, ok;

	fd = open_temp(path, mode, tmp, tmpsz);
	if (fd < 0) {
		add_error(errors, what, path, strerror(errno));
		return -1;
	}
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	ok = bio != NULL;
	if (ok && pkey)
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
					      NULL) == 1;
	if (ok && x)
		ok = PEM_write_bio_X509(bio, x) == 1;
	ok = ok && BIO_flush(bio) == 1;
	BIO_free(bio);
	if (!ok)
		add_error(errors, what, path, "cannot write the PEM data");
	else if (fsync(fd) < 0) {
		add_error(errors, what, path, strerror(errno));
		ok = 0;
	}
	close(fd);
	if (!ok)
		unlink(tmp);
	return ok ? 0 : -1;
}

/* sync_dir - fsync the directory holding path, so a rename is durable */
static void sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

/* install - rename tmp to path, removing tmp if that fails */
static int install(const char *tmp, const char *path, const char *what,
		   buf_t *errors)
{
	if (rename(tmp, path) < 0) {
		add_error(errors, what, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	sync_dir(path);
	return 0;
}

/* write_pair - write key and certificate; the file that is missing now
 * is renamed into place last, so a crash at any point leaves one of the
 * two missing (and the next run starts over), never a mismatched pair */
static int write_pair(const char *cert_path, const char *key_path,
		      EVP_PKEY *pkey, X509 *x, buf_t *errors)
{
	char ktmp[4096], ctmp[4096];
	struct stat st;

	if (write_temp(key_path, 0600, pkey, NULL, ktmp, sizeof(ktmp),
		       errors) < 0)
		return -1;
	if (write_temp(cert_path, 0644, NULL, x, ctmp, sizeof(ctmp),
		       errors) < 0) {
		unlink(ktmp);
		return -1;
	}
	if (stat(key_path, &st) < 0) {
		if (install(ctmp, cert_path, "cert", errors) < 0) {
			unlink(ktmp);
			return -1;
		}
		return install(ktmp, key_path, "key", errors);
	}
	if (install(ktmp, key_path, "key", errors) < 0) {
		unlink(ctmp);
		return -1;
	}
	return install(ctmp, cert_path, "cert", errors);
}

/* tls_selfsigned - make an EC P-256 key and a self-signed certificate for
 * cn unless both files exist already */
int tls_selfsigned(const char *cert_path, const char *key_path, const char *cn,
		   buf_t *errors)
{
	struct stat st;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int r = -1;

	ERR_clear_error();
	if (!cert_path || !key_path) {
		add_error(errors, "cert", cert_path, "no certificate or key path");
		return -1;
	}
	if (stat(cert_path, &st) == 0 && stat(key_path, &st) == 0)
		return 0;
	if (!cn_ok(cn)) {
		add_error(errors, "cert", cert_path,
			  "common name must be 1-64 of A-Z a-z 0-9 . -");
		return -1;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!pkey) {
		add_error(errors, "key", key_path, "cannot generate a key");
		goto out;
	}
	x = make_cert(pkey, cn);
	if (!x) {
		add_error(errors, "cert", cert_path, "cannot build the certificate");
		goto out;
	}
	r = write_pair(cert_path, key_path, pkey, x, errors);
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

/* tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" into out */
void tls_describe(SSL *ssl, char *out, size_t outsz)
{
	const char *cipher;

	if (!out || outsz == 0)
		return;
	if (!ssl) {
		snprintf(out, outsz, "none");
		return;
	}
	cipher = SSL_get_cipher_name(ssl);
	snprintf(out, outsz, "%s %s", SSL_get_version(ssl),
		 cipher ? cipher : "(none)");
}

/* tls_sni - the server name the client sent (raw bytes), NULL if none */
const char *tls_sni(SSL *ssl)
{
	if (!ssl)
		return NULL;
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

/* test_tls - unit tests for tls/tlsctx: self-signed pairs (file modes,
 * certificate fields, no rewrite, regeneration, bad names and paths),
 * contexts (policy flags, missing, mismatched, garbage and encrypted
 * files), and in-memory handshakes over a BIO pair: a verifying client
 * with a host name check, TLS 1.2 and 1.3, a TLS 1.1 client refused by
 * the server, SNI (absent, ordinary, hostile), tls_describe. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls/tlsctx.h"
#include "testutil.h"

#define HOST "mail.example.test"

/* One directory per test run, with one self-signed pair made in setup. */
struct fixture {
	char dir[64];
	char cert[128];
	char key[128];
	SSL_CTX *sctx;
};

/* count_temps - files whose name holds ".tmp." (left-over temp files) */
static int count_temps(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

/* setup - a temporary directory, a self-signed pair and a context */
static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	buf_t err;

	if (!fx)
		return -1;
	tu_tmpdir(fx->dir, sizeof(fx->dir));
	tu_path(fx->cert, sizeof(fx->cert), fx->dir, "cert.pem");
	tu_path(fx->key, sizeof(fx->key), fx->dir, "key.pem");
	buf_init(&err);
	if (tls_selfsigned(fx->cert, fx->key, HOST, &err) < 0) {
		fprintf(stderr, "%s", err.data ? err.data : "?");
		buf_free(&err);
		return -1;
	}
	fx->sctx = tls_server_ctx(fx->cert, fx->key, &err);
	if (!fx->sctx)
		fprintf(stderr, "%s", err.data ? err.data : "?");
	buf_free(&err);
	*state = fx;
	return fx->sctx ? 0 : -1;
}

/* teardown - free the context, remove the directory */
static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	SSL_CTX_free(fx->sctx);
	tu_rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* ---- handshakes over a BIO pair ---- */

/* The outcome of one in-memory handshake. */
struct hs {
	SSL *c, *s;
	int ok;			/* both sides finished */
	unsigned long s_err;	/* the server's first OpenSSL error, if any */
	long verify;		/* the client's verification result */
};

/* step - one handshake step; 1 done, 0 wants more, -1 failed */
static int step(SSL *ssl, unsigned long *err)
{
	int rc = SSL_do_handshake(ssl);
	int e;

	if (rc == 1)
		return 1;
	e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (err && !*err)
		*err = ERR_peek_error();
	ERR_clear_error();
	return -1;
}

/* handshake - run client and server until both finish or one fails */
static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *sni,
		      const char *verify_host, struct hs *h)
{
	BIO *cb, *sb;
	int i, rc = 0, rs = 0;

	memset(h, 0, sizeof(*h));
	h->c = SSL_new(cctx);
	h->s = SSL_new(sctx);
	assert_non_null(h->c);
	assert_non_null(h->s);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(h->c, cb, cb);
	SSL_set_bio(h->s, sb, sb);
	SSL_set_connect_state(h->c);
	SSL_set_accept_state(h->s);
	if (sni)
		assert_int_equal(SSL_set_tlsext_host_name(h->c, sni), 1);
	if (verify_host)
		assert_int_equal(SSL_set1_host(h->c, verify_host), 1);
	for (i = 0; i < 100 && (rc != 1 || rs != 1); i++) {
		if (rc != 1 && (rc = step(h->c, NULL)) < 0)
			break;
		if (rs != 1 && (rs = step(h->s, &h->s_err)) < 0)
			break;
	}
	h->ok = rc == 1 && rs == 1;
	h->verify = SSL_get_verify_result(h->c);
	ERR_clear_error();
}

/* hs_free - free both ends of a handshake */
static void hs_free(struct hs *h)
{
	SSL_free(h->c);
	SSL_free(h->s);
}

/* client_ctx - a client that trusts cert (when given) and verifies */
static SSL_CTX *client_ctx(const char *cert, int minv, int maxv)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_non_null(c);
	if (cert) {
		assert_int_equal(SSL_CTX_load_verify_locations(c, cert, NULL), 1);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	}
	assert_int_equal(SSL_CTX_set_min_proto_version(c, minv), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(c, maxv), 1);
	return c;
}

static void test_handshake_verified(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(fx->cert, TLS1_2_VERSION, 0);
	const unsigned char *sid;
	unsigned int sidlen;
	struct hs h;
	char desc[128];

	handshake(fx->sctx, c, HOST, HOST, &h);
	assert_true(h.ok);
	assert_int_equal(h.verify, X509_V_OK);
	assert_true(SSL_version(h.s) >= TLS1_2_VERSION);
	assert_int_equal(SSL_version(h.s), TLS1_3_VERSION);
	tls_describe(h.s, desc, sizeof(desc));
	assert_memory_equal(desc, "TLSv1.3 TLS_", 12);
	assert_string_equal(desc + 8, SSL_get_cipher_name(h.c));
	assert_string_equal(tls_sni(h.s), HOST);
	sid = SSL_SESSION_get0_id_context(SSL_get0_session(h.s), &sidlen);
	assert_int_equal(sidlen, 8);
	assert_memory_equal(sid, "mailport", 8);
	hs_free(&h);
	SSL_CTX_free(c);
}

static void test_handshake_tls12(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(fx->cert, TLS1_2_VERSION, TLS1_2_VERSION);
	struct hs h;
	char desc[128];

	handshake(fx->sctx, c, HOST, HOST, &h);
	assert_true(h.ok);
	assert_int_equal(h.verify, X509_V_OK);
	tls_describe(h.s, desc, sizeof(desc));
	/* forward secrecy with the EC key: ECDHE-ECDSA-... */
	assert_memory_equal(desc, "TLSv1.2 ECDHE-ECDSA-", 20);
	hs_free(&h);
	SSL_CTX_free(c);
}

static void test_handshake_wrong_host(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(fx->cert, TLS1_2_VERSION, 0);
	struct hs h;

	handshake(fx->sctx, c, "other.example.test", "other.example.test", &h);
	assert_false(h.ok);
	assert_int_equal(h.verify, X509_V_ERR_HOSTNAME_MISMATCH);
	hs_free(&h);
	SSL_CTX_free(c);
}

static void test_tls11_refused(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(NULL, TLS1_1_VERSION, TLS1_1_VERSION);
	struct hs h;

	/* let the client offer TLS 1.1 at all, so the refusal is the server's */
	SSL_CTX_set_security_level(c, 0);
	assert_int_equal(SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0"), 1);
	handshake(fx->sctx, c, HOST, NULL, &h);
	assert_false(h.ok);
	assert_int_equal(ERR_GET_REASON(h.s_err), SSL_R_UNSUPPORTED_PROTOCOL);
	hs_free(&h);
	/* the same client allowed up to TLS 1.2 gets TLS 1.2 */
	assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
	handshake(fx->sctx, c, HOST, NULL, &h);
	assert_true(h.ok);
	assert_int_equal(SSL_version(h.s), TLS1_2_VERSION);
	hs_free(&h);
	SSL_CTX_free(c);
}

static void test_sni(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(NULL, TLS1_2_VERSION, 0);
	char longname[256];
	static const char *const odd[] = {
		"ends-in-backslash\\", "\xc3\xbc.example", "a b\"c%s",
		"\x1b[31mred",
	};
	struct hs h;
	size_t i;

	handshake(fx->sctx, c, NULL, NULL, &h);
	assert_true(h.ok);
	assert_null(tls_sni(h.s));
	hs_free(&h);
	/* hostile names arrive byte for byte; escaping is the caller's job */
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		handshake(fx->sctx, c, odd[i], NULL, &h);
		assert_true(h.ok);
		assert_string_equal(tls_sni(h.s), odd[i]);
		hs_free(&h);
	}
	memset(longname, 'a', 255);
	longname[255] = '\0';
	handshake(fx->sctx, c, longname, NULL, &h);
	assert_true(h.ok);
	assert_string_equal(tls_sni(h.s), longname);
	hs_free(&h);
	SSL_CTX_free(c);
}

static void test_describe_edges(void **state)
{
	struct fixture *fx = *state;
	SSL_CTX *c = client_ctx(NULL, TLS1_2_VERSION, 0);
	char small[8], none[16];
	struct hs h;

	(void)fx;
	tls_describe(NULL, none, sizeof(none));
	assert_string_equal(none, "none");
	assert_null(tls_sni(NULL));
	handshake(fx->sctx, c, NULL, NULL, &h);
	assert_true(h.ok);
	tls_describe(h.s, small, sizeof(small));
	assert_string_equal(small, "TLSv1.3");	/* cut, still terminated */
	tls_describe(h.s, small, 0);
	hs_free(&h);
	SSL_CTX_free(c);
}

/* ---- the context's policy ---- */

static void test_ctx_policy(void **state)
{
	struct fixture *fx = *state;
	uint64_t o = SSL_CTX_get_options(fx->sctx);

	assert_int_equal(SSL_CTX_get_min_proto_version(fx->sctx), TLS1_2_VERSION);
	assert_true(o & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_true(o & SSL_OP_NO_COMPRESSION);
	assert_true(o & SSL_OP_NO_RENEGOTIATION);
	assert_false(o & SSL_OP_NO_TICKET);
	assert_true(SSL_CTX_get_mode(fx->sctx) & SSL_MODE_RELEASE_BUFFERS);
	/* a callback that refuses passphrases, never OpenSSL's tty prompt */
	assert_non_null(SSL_CTX_get_default_passwd_cb(fx->sctx));
	assert_non_null(SSL_CTX_get0_certificate(fx->sctx));
}

/* ---- tls_selfsigned ---- */

static void test_selfsigned_files(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	assert_int_equal(stat(fx->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(stat(fx->cert, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(count_temps(fx->dir), 0);
}

/* load_cert - read a PEM certificate */
static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static void test_selfsigned_fields(void **state)
{
	struct fixture *fx = *state;
	X509 *x = load_cert(fx->cert);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char cn[128], group[64];
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	int days, secs;
	size_t glen;

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
			 NID_commonName, cn, sizeof(cn)), (int)strlen(HOST));
	assert_string_equal(cn, HOST);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
				       X509_get_issuer_name(x)), 0);
	/* subjectAltName DNS:HOST, and nothing matches another name */
	assert_int_equal(X509_check_host(x, HOST, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL), 1);
	assert_int_equal(X509_check_host(x, "example.test", 0, 0, NULL), 0);
	/* CA:FALSE, digitalSignature, serverAuth */
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_extension_flags(x) & EXFLAG_KUSAGE);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	/* EC P-256 */
	assert_true(EVP_PKEY_is_a(pk, "EC"));
	assert_int_equal(EVP_PKEY_get_utf8_string_param(pk, "group", group,
				sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	/* a positive random serial of more than 64 bits */
	assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
	assert_true(ASN1_STRING_length(serial) > 8);
	/* valid now, for about 10 years */
	assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) <= 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
					X509_get0_notAfter(x)), 1);
	assert_true(days >= 3649 && days <= 3651);
	X509_free(x);
}

static void test_selfsigned_no_rewrite(void **state)
{
	struct fixture *fx = *state;
	char *cert0 = tu_slurp(fx->cert, NULL), *key0 = tu_slurp(fx->key, NULL);
	char *cert1, *key1;
	struct stat a, b;
	buf_t err;

	buf_init(&err);
	assert_int_equal(stat(fx->key, &a), 0);
	/* present: nothing is written, even with a different (or bad) name */
	assert_int_equal(tls_selfsigned(fx->cert, fx->key, "other.example", &err), 0);
	assert_int_equal(tls_selfsigned(fx->cert, fx->key, "", &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(stat(fx->key, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	cert1 = tu_slurp(fx->cert, NULL);
	key1 = tu_slurp(fx->key, NULL);
	assert_string_equal(cert0, cert1);
	assert_string_equal(key0, key1);
	free(cert0);
	free(key0);
	free(cert1);
	free(key1);
	buf_free(&err);
}

/* pair_in - a fresh directory with a self-signed pair for cn */
static void pair_in(char *dir, size_t dirsz, char *cert, char *key,
		    size_t psz, const char *cn)
{
	buf_t err;

	tu_tmpdir(dir, dirsz);
	tu_path(cert, psz, dir, "c.pem");
	tu_path(key, psz, dir, "k.pem");
	buf_init(&err);
	assert_int_equal(tls_selfsigned(cert, key, cn, &err), 0);
	assert_int_equal(err.len, 0);
	buf_free(&err);
}

static void test_selfsigned_regenerate(void **state)
{
	char dir[64], cert[128], key[128];
	char *key0, *key1;
	SSL_CTX *ctx;
	struct stat st;
	buf_t err;

	(void)state;
	pair_in(dir, sizeof(dir), cert, key, sizeof(cert), "mx.example");
	key0 = tu_slurp(key, NULL);
	/* the certificate lost: both files are made again, and match */
	assert_int_equal(unlink(cert), 0);
	buf_init(&err);
	assert_int_equal(tls_selfsigned(cert, key, "mx.example", &err), 0);
	key1 = tu_slurp(key, NULL);
	assert_string_not_equal(key0, key1);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ctx = tls_server_ctx(cert, key, &err);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	free(key1);
	/* the key lost: the same */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(tls_selfsigned(cert, key, "mx.example", &err), 0);
	ctx = tls_server_ctx(cert, key, &err);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	assert_int_equal(err.len, 0);
	assert_int_equal(count_temps(dir), 0);
	free(key0);
	buf_free(&err);
	tu_rm_rf(dir);
}

static void test_selfsigned_bad_input(void **state)
{
	static const char *const bad_cn[] = {
		"", "a,b", "bad name", "x\ny", ".lead", "-lead", "DNS:a,IP:1.2.3.4",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char dir[64], cert[128], key[128];
	buf_t err;
	size_t i;

	(void)state;
	tu_tmpdir(dir, sizeof(dir));
	tu_path(cert, sizeof(cert), dir, "c.pem");
	tu_path(key, sizeof(key), dir, "k.pem");
	buf_init(&err);
	for (i = 0; i < sizeof(bad_cn) / sizeof(bad_cn[0]); i++) {
		buf_reset(&err);
		if (tls_selfsigned(cert, key, bad_cn[i], &err) != -1)
			fail_msg("accepted common name \"%s\"", bad_cn[i]);
		assert_non_null(strstr(err.data, cert));
	}
	assert_int_equal(tls_selfsigned(cert, key, NULL, &err), -1);
	assert_int_equal(access(cert, F_OK), -1);
	assert_int_equal(access(key, F_OK), -1);
	/* a directory that does not exist */
	buf_reset(&err);
	assert_int_equal(tls_selfsigned("/nonexistent-dir/c.pem",
					"/nonexistent-dir/k.pem", HOST, &err), -1);
	assert_non_null(strstr(err.data, "key /nonexistent-dir/k.pem: "));
	assert_non_null(strstr(err.data, "No such file or directory"));
	/* errors may be NULL */
	assert_int_equal(tls_selfsigned(cert, key, "", NULL), -1);
	assert_int_equal(ERR_peek_error(), 0);
	buf_free(&err);
	tu_rm_rf(dir);
}

/* ---- tls_server_ctx failures ---- */

static void test_ctx_missing_files(void **state)
{
	struct fixture *fx = *state;
	char missing[192];
	buf_t err;

	tu_path(missing, sizeof(missing), fx->dir, "missing.pem");
	buf_init(&err);
	assert_null(tls_server_ctx(missing, fx->key, &err));
	assert_non_null(strstr(err.data, "cert "));
	assert_non_null(strstr(err.data, missing));
	assert_non_null(strstr(err.data, "No such file"));
	assert_int_equal(strchr(err.data, '\n') - err.data, (long)err.len - 1);
	assert_int_equal(ERR_peek_error(), 0);
	buf_reset(&err);
	assert_null(tls_server_ctx(fx->cert, missing, &err));
	assert_memory_equal(err.data, "key ", 4);
	assert_non_null(strstr(err.data, missing));
	assert_int_equal(ERR_peek_error(), 0);
	buf_reset(&err);
	assert_null(tls_server_ctx(NULL, fx->key, &err));
	assert_true(err.len > 0);
	assert_null(tls_server_ctx(missing, missing, NULL));
	buf_free(&err);
}

static void test_ctx_mismatch(void **state)
{
	struct fixture *fx = *state;
	char dir[64], cert[128], key[128];
	buf_t err;

	pair_in(dir, sizeof(dir), cert, key, sizeof(cert), "other.example");
	buf_init(&err);
	assert_null(tls_server_ctx(fx->cert, key, &err));
	assert_memory_equal(err.data, "key ", 4);
	assert_non_null(strstr(err.data, key));
	assert_non_null(strstr(err.data, "mismatch"));
	assert_int_equal(ERR_peek_error(), 0);
	buf_reset(&err);
	assert_null(tls_server_ctx(cert, fx->key, &err));
	assert_non_null(strstr(err.data, "mismatch"));
	buf_free(&err);
	tu_rm_rf(dir);
}

static void test_ctx_garbage(void **state)
{
	struct fixture *fx = *state;
	char junk[192], empty[192];
	buf_t err;

	tu_path(junk, sizeof(junk), fx->dir, "junk.pem");
	tu_path(empty, sizeof(empty), fx->dir, "empty.pem");
	tu_write_file(junk, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
		   "-----END CERTIFICATE-----\n");
	tu_write_file(empty, "");
	buf_init(&err);
	assert_null(tls_server_ctx(junk, fx->key, &err));
	assert_memory_equal(err.data, "cert ", 5);
	assert_null(tls_server_ctx(empty, fx->key, &err));
	assert_null(tls_server_ctx(fx->cert, junk, &err));
	assert_null(tls_server_ctx(fx->cert, empty, &err));
	/* the key given as the certificate and the other way round */
	assert_null(tls_server_ctx(fx->key, fx->cert, &err));
	assert_int_equal(ERR_peek_error(), 0);
	buf_free(&err);
	unlink(junk);
	unlink(empty);
}

static void test_ctx_encrypted_key(void **state)
{
	struct fixture *fx = *state;
	char enc[192];
	EVP_PKEY *pk;
	FILE *f;
	buf_t err;

	/* an encrypted copy of the key: refused, never prompted for */
	f = fopen(fx->key, "r");
	assert_non_null(f);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pk);
	tu_path(enc, sizeof(enc), fx->dir, "enc.pem");
	f = fopen(enc, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pk, EVP_aes_128_cbc(),
			 (unsigned char *)"pw", 2, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pk);
	buf_init(&err);
	assert_null(tls_server_ctx(fx->cert, enc, &err));
	assert_memory_equal(err.data, "key ", 4);
	assert_int_equal(ERR_peek_error(), 0);
	buf_free(&err);
	unlink(enc);
}

static void test_ctx_chain_file(void **state)
{
	struct fixture *fx = *state;
	char chain[192];
	char *c = tu_slurp(fx->cert, NULL), *c2;
	SSL_CTX *ctx;
	buf_t err;

	/* a chain file of two certificates (leaf first) loads */
	tu_path(chain, sizeof(chain), fx->dir, "chain.pem");
	c2 = malloc(2 * strlen(c) + 1);
	assert_non_null(c2);
	strcpy(c2, c);
	strcat(c2, c);
	tu_write_file(chain, c2);
	free(c2);
	buf_init(&err);
	ctx = tls_server_ctx(chain, fx->key, &err);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	buf_free(&err);
	free(c);
	unlink(chain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selfsigned_files),
		cmocka_unit_test(test_selfsigned_fields),
		cmocka_unit_test(test_selfsigned_no_rewrite),
		cmocka_unit_test(test_selfsigned_regenerate),
		cmocka_unit_test(test_selfsigned_bad_input),
		cmocka_unit_test(test_ctx_policy),
		cmocka_unit_test(test_ctx_missing_files),
		cmocka_unit_test(test_ctx_mismatch),
		cmocka_unit_test(test_ctx_garbage),
		cmocka_unit_test(test_ctx_encrypted_key),
		cmocka_unit_test(test_ctx_chain_file),
		cmocka_unit_test(test_handshake_verified),
		cmocka_unit_test(test_handshake_tls12),
		cmocka_unit_test(test_handshake_wrong_host),
		cmocka_unit_test(test_tls11_refused),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_describe_edges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

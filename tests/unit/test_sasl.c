/* test_sasl - unit tests for auth/sasl: strict base64 both ways, PLAIN
 * (RFC 4616) and LOGIN parsing, and the hostile inputs of CHECKLIST E
 * (bad base64, "*", a 100 KB response, missing or extra NULs,
 * "AUTH PLAIN =", over-long fields). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

/* b64 - base64 of n bytes into a static buffer (test helper) */
static const char *b64(const void *p, size_t n)
{
	static char out[4 * SASL_LINE_MAX];

	assert_true(sasl_b64_encode(p, n, out, sizeof(out)) >= 0);
	return out;
}

/* dec - decode a C string; the result length or -1, text into out */
static long dec(const char *s, char *out, size_t outsz)
{
	return sasl_b64_decode(s, strlen(s), out, outsz);
}

/* plain - sasl_plain on the base64 of n raw bytes */
static enum sasl_err plain(const void *msg, size_t n, struct sasl_creds *c)
{
	const char *line = b64(msg, n);

	return sasl_plain(line, strlen(line), c);
}

static void test_decode_good(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(dec("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(dec("=", out, sizeof(out)), 0);	/* RFC 4954 4 */
	assert_string_equal(out, "");
	assert_int_equal(dec("QQ==", out, sizeof(out)), 1);
	assert_string_equal(out, "A");
	assert_int_equal(dec("QUI=", out, sizeof(out)), 2);
	assert_string_equal(out, "AB");
	assert_int_equal(dec("QUJD", out, sizeof(out)), 3);
	assert_string_equal(out, "ABC");
	assert_int_equal(dec("QUJDRA==", out, sizeof(out)), 4);
	assert_string_equal(out, "ABCD");
	assert_int_equal(dec("+/+/", out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	/* embedded NUL: the length tells */
	assert_int_equal(dec("AEEA", out, sizeof(out)), 3);
	assert_memory_equal(out, "\0A\0", 3);
}

static void test_decode_bad(void **state)
{
	static const char *const bad[] = {
		"Q", "QQ", "QQ=", "QUJDR", "==", "===", "====", "Q===",
		"QQ=A", "=QQQ", "QQ==QQ==", "QQ==\r\n", " QUJD", "QUJD ",
		"QU JD", "QUJ\n", "QU\tD", "QUJD\r", "QU-D", "QU_D", "QU.D",
		"QUJD=", "QUJD====", "QR==", "QUJ=", "Q\xc3\xa4=",
		"*", "**", "AHVzZXIAcGFzcw==\n",
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out[0] = 'x';
		if (dec(bad[i], out, sizeof(out)) != -1)
			fail_msg("accepted bad base64 \"%s\"", bad[i]);
	}
	/* a NUL inside the encoded text */
	assert_int_equal(sasl_b64_decode("QU\0D", 4, out, sizeof(out)), -1);
}

static void test_decode_bounds(void **state)
{
	char *exact;

	(void)state;
	/* heap buffers of exact size, so ASan sees a one-byte overrun */
	exact = malloc(5);
	assert_non_null(exact);
	assert_int_equal(dec("QUJDRA==", exact, 5), 4);
	assert_string_equal(exact, "ABCD");
	assert_int_equal(dec("QUJDRA==", exact, 4), -1);
	assert_int_equal(dec("QUJDREU=", exact, 5), -1);
	assert_int_equal(dec("QUJDREVG", exact, 5), -1);
	free(exact);
	exact = malloc(1);
	assert_non_null(exact);
	assert_int_equal(dec("=", exact, 1), 0);
	assert_int_equal(exact[0], '\0');
	assert_int_equal(dec("QQ==", exact, 1), -1);
	assert_int_equal(dec("QQ==", exact, 0), -1);
	free(exact);
}

static void test_encode(void **state)
{
	char out[32];
	char *exact;

	(void)state;
	assert_int_equal(sasl_b64_encode("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(sasl_b64_encode("A", 1, out, sizeof(out)), 4);
	assert_string_equal(out, "QQ==");
	assert_int_equal(sasl_b64_encode("ABCD", 4, out, sizeof(out)), 8);
	assert_string_equal(out, "QUJDRA==");
	assert_int_equal(sasl_b64_encode("\0user\0pass", 10, out, sizeof(out)), 16);
	assert_string_equal(out, "AHVzZXIAcGFzcw==");
	assert_int_equal(sasl_b64_encode("\0user\0pass", 10, out, 17), 16);
	/* 16 characters do not fit in 16 bytes with the NUL */
	assert_int_equal(sasl_b64_encode("\0user\0pass", 10, out, 16), -1);
	assert_int_equal(sasl_b64_encode("A", 1, out, 0), -1);
	exact = malloc(9);
	assert_non_null(exact);
	assert_int_equal(sasl_b64_encode("ABCDE", 5, exact, 9), 8);
	assert_string_equal(exact, "QUJDREU=");
	free(exact);
}

static void test_roundtrip(void **state)
{
	unsigned char in[300];
	char enc[512], back[301];
	size_t n, i;
	long e;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (n = 0; n <= sizeof(in); n++) {
		e = sasl_b64_encode(in, n, enc, sizeof(enc));
		assert_int_equal(e, (long)((n + 2) / 3 * 4));
		assert_int_equal(sasl_b64_decode(enc, (size_t)e, back,
						 sizeof(back)), (long)n);
		assert_memory_equal(back, in, n);
		assert_int_equal(back[n], '\0');
	}
}

static void test_plain_ok(void **state)
{
	struct sasl_creds c;

	(void)state;
	/* the RFC 4616 4 / RFC 4954 example: "\0tim\0tanstaaftanstaaf" */
	assert_int_equal(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28, &c),
			 SASL_OK);
	assert_string_equal(c.authzid, "");
	assert_string_equal(c.authcid, "tim");
	assert_string_equal(c.password, "tanstaaftanstaaf");
	assert_int_equal(sasl_plain("AHVzZXIAcGFzcw==", 16, &c), SASL_OK);
	assert_string_equal(c.authcid, "user");
	assert_string_equal(c.password, "pass");
	/* authzid given: parsed, the caller decides whether it is allowed */
	assert_int_equal(plain("admin\0user\0p w\xc3\xa4", 16, &c), SASL_OK);
	assert_string_equal(c.authzid, "admin");
	assert_string_equal(c.authcid, "user");
	assert_string_equal(c.password, "p w\xc3\xa4");
}

static void test_plain_cancel(void **state)
{
	struct sasl_creds c;

	(void)state;
	assert_int_equal(sasl_plain("*", 1, &c), SASL_CANCEL);
	/* "*" followed by anything is not a cancel but bad base64 */
	assert_int_equal(sasl_plain("**", 2, &c), SASL_BAD_BASE64);
	assert_int_equal(sasl_plain("*\r", 2, &c), SASL_BAD_BASE64);
}

static void test_plain_bad_messages(void **state)
{
	static const struct {
		const char *msg;
		size_t n;
	} bad[] = {
		{ "userpass", 8 },		/* no NUL */
		{ "user\0pass", 9 },		/* one NUL */
		{ "\0user\0pa\0ss", 11 },	/* three NULs */
		{ "\0user\0pass\0", 11 },	/* trailing NUL */
		{ "\0\0user\0pass", 11 },	/* leading extra NUL */
		{ "\0\0pass", 6 },		/* empty authcid */
		{ "\0user\0", 6 },		/* empty password */
		{ "\0\0", 2 },
		{ "\0", 1 },
		{ "a\0\0", 3 },
	};
	struct sasl_creds c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 'X', sizeof(c));
		if (plain(bad[i].msg, bad[i].n, &c) != SASL_BAD_MESSAGE)
			fail_msg("accepted bad PLAIN message %zu", i);
		assert_int_equal(c.authcid[0], '\0');
		assert_int_equal(c.password[0], '\0');
	}
	/* AUTH PLAIN = is an empty initial response: no NULs at all */
	assert_int_equal(sasl_plain("=", 1, &c), SASL_BAD_MESSAGE);
	assert_int_equal(sasl_plain("", 0, &c), SASL_BAD_MESSAGE);
}

static void test_plain_bad_base64(void **state)
{
	struct sasl_creds c;

	(void)state;
	memset(&c, 'X', sizeof(c));
	assert_int_equal(sasl_plain("AHVzZXIAcGFzcw", 14, &c), SASL_BAD_BASE64);
	assert_int_equal(c.password[0], '\0');
	assert_int_equal(sasl_plain("AHVzZXIAcGFzcw==\r\n", 18, &c),
			 SASL_BAD_BASE64);
	assert_int_equal(sasl_plain("AHVzZXIA cGFzcw==", 17, &c),
			 SASL_BAD_BASE64);
	assert_int_equal(sasl_plain("AHVzZXIAcGFzcx==", 16, &c),
			 SASL_BAD_BASE64);	/* non-canonical bits */
	assert_int_equal(sasl_plain("!!!!", 4, &c), SASL_BAD_BASE64);
}

static void test_plain_field_limits(void **state)
{
	char msg[3 * SASL_FIELD_MAX + 8];
	struct sasl_creds c;
	size_t n;

	(void)state;
	/* authzid, authcid and password of exactly SASL_FIELD_MAX each */
	memset(msg, 'z', SASL_FIELD_MAX);
	msg[SASL_FIELD_MAX] = '\0';
	memset(msg + SASL_FIELD_MAX + 1, 'u', SASL_FIELD_MAX);
	msg[2 * SASL_FIELD_MAX + 1] = '\0';
	memset(msg + 2 * SASL_FIELD_MAX + 2, 'p', SASL_FIELD_MAX);
	n = 3 * SASL_FIELD_MAX + 2;
	assert_int_equal(plain(msg, n, &c), SASL_OK);
	assert_int_equal(strlen(c.authzid), SASL_FIELD_MAX);
	assert_int_equal(strlen(c.authcid), SASL_FIELD_MAX);
	assert_int_equal(strlen(c.password), SASL_FIELD_MAX);
	/* one more password byte */
	msg[n] = 'p';
	assert_int_equal(plain(msg, n + 1, &c), SASL_BAD_MESSAGE);
	/* an authcid of SASL_FIELD_MAX + 1 */
	memcpy(msg, "\0", 1);
	memset(msg + 1, 'u', SASL_FIELD_MAX + 1);
	memcpy(msg + SASL_FIELD_MAX + 2, "\0pw", 3);
	assert_int_equal(plain(msg, SASL_FIELD_MAX + 5, &c), SASL_BAD_MESSAGE);
}

static void test_plain_huge(void **state)
{
	size_t big = 100 * 1024;
	char *line = malloc(big);
	struct sasl_creds c;

	(void)state;
	assert_non_null(line);
	/* 100 KB of valid base64 (Exim CVE-2018-6789, Dovecot long_auth_line) */
	memset(line, 'A', big);
	assert_int_equal(sasl_plain(line, big, &c), SASL_BAD_MESSAGE);
	/* just over the line limit, and exactly at it (valid, too long to
	 * be a PLAIN message) */
	assert_int_equal(sasl_plain(line, SASL_LINE_MAX + 4, &c),
			 SASL_BAD_MESSAGE);
	assert_int_equal(sasl_plain(line, SASL_LINE_MAX, &c), SASL_BAD_MESSAGE);
	/* 100 KB of junk */
	memset(line, '%', big);
	assert_int_equal(sasl_plain(line, big, &c), SASL_BAD_MESSAGE);
	free(line);
}

static void test_login_field(void **state)
{
	char f[SASL_FIELD_MAX + 1];
	char raw[SASL_FIELD_MAX + 2];
	const char *line;

	(void)state;
	assert_int_equal(sasl_login_field("dXNlcg==", 8, f), SASL_OK);
	assert_string_equal(f, "user");
	assert_int_equal(sasl_login_field("*", 1, f), SASL_CANCEL);
	assert_int_equal(sasl_login_field("=", 1, f), SASL_BAD_MESSAGE);
	assert_int_equal(sasl_login_field("", 0, f), SASL_BAD_MESSAGE);
	assert_int_equal(sasl_login_field("dXNlcg", 6, f), SASL_BAD_BASE64);
	assert_int_equal(sasl_login_field("dXNlcg==\r\n", 10, f),
			 SASL_BAD_BASE64);
	/* a NUL in a LOGIN field ("u\0r") */
	assert_int_equal(sasl_login_field("dQBy", 4, f), SASL_BAD_MESSAGE);
	assert_int_equal(f[0], '\0');
	/* exactly SASL_FIELD_MAX, then one more */
	memset(raw, 'p', sizeof(raw));
	line = b64(raw, SASL_FIELD_MAX);
	assert_int_equal(sasl_login_field(line, strlen(line), f), SASL_OK);
	assert_int_equal(strlen(f), SASL_FIELD_MAX);
	line = b64(raw, SASL_FIELD_MAX + 1);
	assert_int_equal(sasl_login_field(line, strlen(line), f),
			 SASL_BAD_MESSAGE);
}

static void test_login_huge(void **state)
{
	size_t big = 100 * 1024;
	char *line = malloc(big);
	char f[SASL_FIELD_MAX + 1];

	(void)state;
	assert_non_null(line);
	memset(line, 'A', big);
	assert_int_equal(sasl_login_field(line, big, f), SASL_BAD_MESSAGE);
	assert_int_equal(sasl_login_field(line, SASL_LINE_MAX + 4, f),
			 SASL_BAD_MESSAGE);
	free(line);
}

static void test_wipe(void **state)
{
	char secret[32];
	static const char zero[32];

	(void)state;
	memset(secret, 's', sizeof(secret));
	sasl_wipe(secret, sizeof(secret));
	assert_memory_equal(secret, zero, sizeof(secret));
	sasl_wipe(NULL, 10);
	sasl_wipe(secret, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_good),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_bounds),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_cancel),
		cmocka_unit_test(test_plain_bad_messages),
		cmocka_unit_test(test_plain_bad_base64),
		cmocka_unit_test(test_plain_field_limits),
		cmocka_unit_test(test_plain_huge),
		cmocka_unit_test(test_login_field),
		cmocka_unit_test(test_login_huge),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

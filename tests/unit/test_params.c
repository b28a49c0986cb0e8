/* test_params - unit tests of ESMTP parameters (src/smtp/params.c) and
 * xtext (src/smtp/xtext.c).
 *
 * Covers CHECKLIST.md A "ESMTP parameters": unknown keyword, duplicates,
 * SIZE overflow, xtext with +0A/+0D/+00 in AUTH/ENVID/ORCPT, unbalanced
 * quotes; plus every keyword's value grammar.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/params.h"
#include "smtp/xtext.h"

/* mail - parse MAIL parameters from a C string */
static enum param_err mail(const char *s, struct mail_params *m,
			   const char **bad)
{
	return params_parse_mail(s, strlen(s), m, bad);
}

/* rcpt - parse RCPT parameters from a C string */
static enum param_err rcpt(const char *s, struct rcpt_params *r,
			   const char **bad)
{
	return params_parse_rcpt(s, strlen(s), r, bad);
}

/* mail_err - expected MAIL error, with *bad pointing at want_bad in s */
static void mail_err(const char *s, enum param_err want, const char *want_bad)
{
	struct mail_params m;
	const char *bad = NULL;

	assert_int_equal(mail(s, &m, &bad), want);
	if (want_bad) {
		assert_non_null(bad);
		assert_true(bad >= s && bad < s + strlen(s));
		assert_memory_equal(bad, want_bad, strlen(want_bad));
	}
}

/* rcpt_err - expected RCPT error */
static void rcpt_err(const char *s, enum param_err want)
{
	struct rcpt_params r;
	const char *bad = NULL;

	assert_int_equal(rcpt(s, &r, &bad), want);
	assert_non_null(bad);
}

static void test_xtext_decode(void **state)
{
	char d[16];

	(void)state;
	assert_int_equal(xtext_decode("abc", 3, d, sizeof(d)), 3);
	assert_string_equal(d, "abc");
	assert_int_equal(xtext_decode("", 0, d, sizeof(d)), 0);
	assert_string_equal(d, "");
	assert_int_equal(xtext_decode("bob+40x", 7, d, sizeof(d)), 5);
	assert_string_equal(d, "bob@x");
	assert_int_equal(xtext_decode("+2B+3D", 6, d, sizeof(d)), 2);
	assert_string_equal(d, "+=");
	assert_int_equal(xtext_decode("a+00b", 5, d, sizeof(d)), 3);
	assert_memory_equal(d, "a\0b", 4);
	assert_int_equal(xtext_decode("+FF", 3, d, sizeof(d)), 1);
	assert_int_equal((unsigned char)d[0], 0xff);
	/* malformed */
	assert_int_equal(xtext_decode("+4", 2, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("+", 1, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("+4g", 3, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("+4a", 3, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("a=b", 3, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("a b", 3, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("a\x7f", 2, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("a\0", 2, d, sizeof(d)), -1);
	assert_int_equal(xtext_decode("\xc3\xbc", 2, d, sizeof(d)), -1);
	/* room: dstsz - 1 bytes of result */
	assert_int_equal(xtext_decode("abcd", 4, d, 5), 4);
	assert_int_equal(xtext_decode("abcde", 5, d, 5), -1);
	assert_int_equal(xtext_decode("abc+41", 6, d, 5), 4);
	assert_int_equal(xtext_decode("abcd+41", 7, d, 5), -1);
	assert_int_equal(xtext_decode("a", 1, d, 0), -1);
	assert_int_equal(xtext_decode("", 0, d, 1), 0);
}

static void test_xtext_encode(void **state)
{
	char e[64];
	unsigned char all[256];
	char big[3 * 256 + 1], back[257];
	int k;

	(void)state;
	assert_int_equal(xtext_encode("abc", 3, e, sizeof(e)), 3);
	assert_string_equal(e, "abc");
	assert_int_equal(xtext_encode("a+b=c d", 7, e, sizeof(e)), 13);
	assert_string_equal(e, "a+2Bb+3Dc+20d");
	assert_int_equal(xtext_encode("\0\r\n", 3, e, sizeof(e)), 9);
	assert_string_equal(e, "+00+0D+0A");
	assert_int_equal(xtext_encode("", 0, e, sizeof(e)), 0);
	assert_int_equal(xtext_encode("abc", 3, e, 3), -1);
	assert_int_equal(xtext_encode("abc", 3, e, 4), 3);
	assert_int_equal(xtext_encode(" ", 1, e, 3), -1);
	assert_int_equal(xtext_encode(" ", 1, e, 4), 3);
	assert_int_equal(xtext_encode("a", 1, e, 0), -1);
	/* round trip of every byte value */
	for (k = 0; k < 256; k++)
		all[k] = (unsigned char)k;
	assert_true(xtext_encode(all, 256, big, sizeof(big)) > 0);
	assert_int_equal(xtext_decode(big, strlen(big), back, sizeof(back)),
			 256);
	assert_memory_equal(back, all, 256);
}

static void test_mail_defaults(void **state)
{
	struct mail_params m;
	const char *bad = "x";

	(void)state;
	assert_int_equal(mail("", &m, &bad), PARAM_OK);
	assert_null(bad);
	assert_int_equal(m.size, -1);
	assert_int_equal(m.body, BODY_NONE);
	assert_int_equal(m.smtputf8, 0);
	assert_int_equal(m.ret, RET_NONE);
	assert_int_equal(m.has_envid, 0);
	assert_int_equal(m.has_auth, 0);
	assert_int_equal(mail("    ", &m, &bad), PARAM_OK);
	assert_int_equal(m.size, -1);
	assert_int_equal(mail(" \t ", &m, NULL), PARAM_OK);
}

static void test_mail_size(void **state)
{
	struct mail_params m;

	(void)state;
	assert_int_equal(mail(" SIZE=1000", &m, NULL), PARAM_OK);
	assert_int_equal(m.size, 1000);
	assert_int_equal(mail(" size=0", &m, NULL), PARAM_OK);
	assert_int_equal(m.size, 0);
	assert_int_equal(mail(" SIZE=9223372036854775807", &m, NULL), PARAM_OK);
	assert_int_equal(m.size, 9223372036854775807LL);
	assert_int_equal(mail(" SIZE=00000000000000000000000042", &m, NULL),
			 PARAM_OK);
	assert_int_equal(m.size, 42);
	mail_err(" SIZE=9223372036854775808", PARAM_TOO_BIG, "SIZE");
	mail_err(" SIZE=999999999999999999999", PARAM_TOO_BIG, "SIZE");
	mail_err(" SIZE=99999999999999999999999999999999999999999999999999",
		 PARAM_TOO_BIG, "SIZE");
	mail_err(" SIZE=", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE= 5", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=12a", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=-1", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=+1", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=0x10", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=1 SIZE=2", PARAM_SYNTAX, "SIZE=2");
	mail_err(" SIZE=1 size=1", PARAM_SYNTAX, "size");
}

static void test_mail_body_utf8_ret(void **state)
{
	struct mail_params m;

	(void)state;
	assert_int_equal(mail(" BODY=8BITMIME", &m, NULL), PARAM_OK);
	assert_int_equal(m.body, BODY_8BITMIME);
	assert_int_equal(mail(" body=7bit", &m, NULL), PARAM_OK);
	assert_int_equal(m.body, BODY_7BIT);
	assert_int_equal(mail(" Body=8BitMime", &m, NULL), PARAM_OK);
	assert_int_equal(m.body, BODY_8BITMIME);
	mail_err(" BODY=BINARYMIME", PARAM_SYNTAX, "BODY");
	mail_err(" BODY=8BIT", PARAM_SYNTAX, "BODY");
	mail_err(" BODY", PARAM_SYNTAX, "BODY");
	mail_err(" BODY=7BIT BODY=7BIT", PARAM_SYNTAX, "BODY=7BIT");

	assert_int_equal(mail(" SMTPUTF8", &m, NULL), PARAM_OK);
	assert_int_equal(m.smtputf8, 1);
	assert_int_equal(mail(" smtputf8", &m, NULL), PARAM_OK);
	mail_err(" SMTPUTF8=yes", PARAM_SYNTAX, "SMTPUTF8");
	mail_err(" SMTPUTF8 SMTPUTF8", PARAM_SYNTAX, "SMTPUTF8");

	assert_int_equal(mail(" RET=FULL", &m, NULL), PARAM_OK);
	assert_int_equal(m.ret, RET_FULL);
	assert_int_equal(mail(" ret=hdrs", &m, NULL), PARAM_OK);
	assert_int_equal(m.ret, RET_HDRS);
	mail_err(" RET=ALL", PARAM_SYNTAX, "RET");
	mail_err(" RET", PARAM_SYNTAX, "RET");
	mail_err(" RET=FULL RET=HDRS", PARAM_SYNTAX, "RET=HDRS");
}

static void test_mail_envid_auth(void **state)
{
	struct mail_params m;
	char s[700];
	int k;

	(void)state;
	assert_int_equal(mail(" ENVID=QQ314159+2Bx", &m, NULL), PARAM_OK);
	assert_int_equal(m.has_envid, 1);
	assert_string_equal(m.envid, "QQ314159+x");
	assert_int_equal(m.envid_len, 10);
	mail_err(" ENVID=a+0Ab", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=a+0Db", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=a+00b", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=a+7Fb", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=a+4", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=a+4z", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID", PARAM_SYNTAX, "ENVID");
	mail_err(" ENVID=", PARAM_SYNTAX, "ENVID");
	/* ENVID limit: 100 decoded octets */
	k = snprintf(s, sizeof(s), " ENVID=");
	memset(s + k, 'e', 100);
	s[k + 100] = '\0';
	assert_int_equal(mail(s, &m, NULL), PARAM_OK);
	assert_int_equal(m.envid_len, 100);
	s[k + 100] = 'e';
	s[k + 101] = '\0';
	mail_err(s, PARAM_SYNTAX, "ENVID");
	/* 100 octets written as 300 xtext characters is fine */
	k = snprintf(s, sizeof(s), " ENVID=");
	for (int j = 0; j < 100; j++)
		memcpy(s + k + 3 * j, "+41", 3);
	s[k + 300] = '\0';
	assert_int_equal(mail(s, &m, NULL), PARAM_OK);
	assert_int_equal(m.envid_len, 100);

	assert_int_equal(mail(" AUTH=<>", &m, NULL), PARAM_OK);
	assert_int_equal(m.has_auth, 1);
	assert_string_equal(m.auth, "<>");
	assert_int_equal(m.auth_len, 2);
	assert_int_equal(mail(" AUTH=joe+40example.com", &m, NULL), PARAM_OK);
	assert_string_equal(m.auth, "joe@example.com");
	assert_int_equal(m.auth_len, 15);
	mail_err(" AUTH=a+0D+0AMAIL", PARAM_SYNTAX, "AUTH");
	mail_err(" AUTH=a+00", PARAM_SYNTAX, "AUTH");
	mail_err(" AUTH=", PARAM_SYNTAX, "AUTH");
	mail_err(" AUTH", PARAM_SYNTAX, "AUTH");
	mail_err(" AUTH=<> AUTH=<>", PARAM_SYNTAX, "AUTH=<>");
	k = snprintf(s, sizeof(s), " AUTH=");
	memset(s + k, 'a', AUTHPARAM_MAX + 1);
	s[k + AUTHPARAM_MAX + 1] = '\0';
	mail_err(s, PARAM_SYNTAX, "AUTH");
	s[k + AUTHPARAM_MAX] = '\0';
	assert_int_equal(mail(s, &m, NULL), PARAM_OK);
	assert_int_equal(m.auth_len, AUTHPARAM_MAX);
}

static void test_mail_combined(void **state)
{
	struct mail_params m;
	const char *bad = "x";

	(void)state;
	assert_int_equal(mail("  SIZE=5000\tBODY=8BITMIME  SMTPUTF8 RET=HDRS "
			      "ENVID=id1 AUTH=<>  ", &m, &bad), PARAM_OK);
	assert_null(bad);
	assert_int_equal(m.size, 5000);
	assert_int_equal(m.body, BODY_8BITMIME);
	assert_int_equal(m.smtputf8, 1);
	assert_int_equal(m.ret, RET_HDRS);
	assert_string_equal(m.envid, "id1");
	assert_string_equal(m.auth, "<>");
	/* no space needed before the first parameter (caller may strip it) */
	assert_int_equal(mail("SIZE=1", &m, NULL), PARAM_OK);
	assert_int_equal(m.size, 1);
}

static void test_mail_errors(void **state)
{
	struct mail_params m;

	(void)state;
	mail_err(" FOO=1", PARAM_UNKNOWN, "FOO");
	mail_err(" SIZE=1 FOO", PARAM_UNKNOWN, "FOO");
	mail_err(" NOTIFY=NEVER", PARAM_UNKNOWN, "NOTIFY");	/* RCPT only */
	mail_err(" X-FOO-BAR=1", PARAM_UNKNOWN, "X-FOO-BAR");
	mail_err(" SIZES=1", PARAM_UNKNOWN, "SIZES");
	mail_err(" SIZ=1", PARAM_UNKNOWN, "SIZ");
	mail_err(" =x", PARAM_SYNTAX, "=x");
	mail_err(" -FOO=1", PARAM_SYNTAX, "-FOO");
	mail_err(" \"a", PARAM_SYNTAX, "\"a");
	mail_err(" SIZE=1 \"a b\"", PARAM_SYNTAX, "\"a");
	mail_err(" FO\"O=1", PARAM_SYNTAX, "FO");
	mail_err(" SIZE==1", PARAM_SYNTAX, "SIZE");
	mail_err(" SIZE=1=2", PARAM_SYNTAX, "SIZE");
	mail_err(" FOO=a\x01", PARAM_SYNTAX, "FOO");
	mail_err(" FOO=a\x7f", PARAM_SYNTAX, "FOO");
	mail_err(" FOO=\xc3\xbc", PARAM_SYNTAX, "FOO");
	mail_err(" F\xc3\xbc=1", PARAM_SYNTAX, "F");
	mail_err(" SIZE=1\r\n", PARAM_SYNTAX, "SIZE");
	/* unknown keywords with a well-formed value are PARAM_UNKNOWN even
	 * with quotes in the value (any %d33-126 but "=") */
	mail_err(" FOO=\"a", PARAM_UNKNOWN, "FOO");
	/* NUL is never accepted */
	assert_int_equal(params_parse_mail(" SIZE=1\0", 8, &m, NULL),
			 PARAM_SYNTAX);
	assert_int_equal(params_parse_mail(" \0", 2, &m, NULL), PARAM_SYNTAX);
	/* the length is what counts */
	assert_int_equal(params_parse_mail(" SIZE=12a", 8, &m, NULL), PARAM_OK);
	assert_int_equal(m.size, 12);
}

static void test_rcpt_notify(void **state)
{
	struct rcpt_params r;
	const char *bad = "x";

	(void)state;
	assert_int_equal(rcpt("", &r, &bad), PARAM_OK);
	assert_null(bad);
	assert_int_equal(r.notify, NOTIFY_NONE);
	assert_int_equal(r.has_orcpt, 0);
	assert_int_equal(rcpt("   ", &r, NULL), PARAM_OK);
	assert_int_equal(rcpt(" NOTIFY=NEVER", &r, NULL), PARAM_OK);
	assert_int_equal(r.notify, NOTIFY_NEVER);
	assert_int_equal(rcpt(" notify=success,failure,DELAY", &r, NULL),
			 PARAM_OK);
	assert_int_equal(r.notify, NOTIFY_SUCCESS | NOTIFY_FAILURE |
			 NOTIFY_DELAY);
	assert_int_equal(rcpt(" NOTIFY=Delay", &r, NULL), PARAM_OK);
	assert_int_equal(r.notify, NOTIFY_DELAY);
	rcpt_err(" NOTIFY=NEVER,SUCCESS", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=SUCCESS,NEVER", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=SUCCESS,SUCCESS", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=SUCCESS,", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=,SUCCESS", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=SUCCESS,,DELAY", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=ALWAYS", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=", PARAM_SYNTAX);
	rcpt_err(" NOTIFY", PARAM_SYNTAX);
	rcpt_err(" NOTIFY=NEVER NOTIFY=NEVER", PARAM_SYNTAX);
	rcpt_err(" SIZE=1", PARAM_UNKNOWN);		/* MAIL only */
	rcpt_err(" FOO=1", PARAM_UNKNOWN);
	rcpt_err(" =x", PARAM_SYNTAX);
}

static void test_rcpt_orcpt(void **state)
{
	struct rcpt_params r;
	char s[700];
	int k;

	(void)state;
	assert_int_equal(rcpt(" ORCPT=rfc822;bob+40example.com", &r, NULL),
			 PARAM_OK);
	assert_int_equal(r.has_orcpt, 1);
	assert_string_equal(r.orcpt_type, "rfc822");
	assert_string_equal(r.orcpt, "bob@example.com");
	assert_int_equal(r.orcpt_len, 15);
	assert_int_equal(rcpt(" ORCPT=utf-8;b\xc3\xbc", &r, NULL),
			 PARAM_SYNTAX);	/* esmtp-value is ASCII */
	assert_int_equal(rcpt(" ORCPT=utf-8;bob@x NOTIFY=FAILURE", &r, NULL),
			 PARAM_OK);
	assert_string_equal(r.orcpt_type, "utf-8");
	assert_int_equal(r.notify, NOTIFY_FAILURE);
	rcpt_err(" ORCPT=rfc822", PARAM_SYNTAX);
	rcpt_err(" ORCPT=;bob", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rf(c;bob", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a+0Db", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a+0Ab", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a+00b", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a+0", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a+2b", PARAM_SYNTAX);
	rcpt_err(" ORCPT", PARAM_SYNTAX);
	rcpt_err(" ORCPT=rfc822;a ORCPT=rfc822;b", PARAM_SYNTAX);
	/* addr-type must fit orcpt_type */
	k = snprintf(s, sizeof(s), " ORCPT=%.31s;x",
		     "abcdefghijklmnopqrstuvwxyz01234567");
	assert_int_equal(rcpt(s, &r, NULL), PARAM_OK);
	assert_int_equal(strlen(r.orcpt_type), 31);
	snprintf(s, sizeof(s), " ORCPT=%.32s;x",
		 "abcdefghijklmnopqrstuvwxyz01234567");
	rcpt_err(s, PARAM_SYNTAX);
	/* ORCPT limit: 500 octets as written */
	k = snprintf(s, sizeof(s), " ORCPT=rfc822;");
	memset(s + k, 'a', 500 - 7);
	s[k + 500 - 7] = '\0';
	assert_int_equal(rcpt(s, &r, NULL), PARAM_OK);
	assert_int_equal(r.orcpt_len, 493);
	s[k + 500 - 7] = 'a';
	s[k + 500 - 6] = '\0';
	rcpt_err(s, PARAM_SYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xtext_decode),
		cmocka_unit_test(test_xtext_encode),
		cmocka_unit_test(test_mail_defaults),
		cmocka_unit_test(test_mail_size),
		cmocka_unit_test(test_mail_body_utf8_ret),
		cmocka_unit_test(test_mail_envid_auth),
		cmocka_unit_test(test_mail_combined),
		cmocka_unit_test(test_mail_errors),
		cmocka_unit_test(test_rcpt_notify),
		cmocka_unit_test(test_rcpt_orcpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

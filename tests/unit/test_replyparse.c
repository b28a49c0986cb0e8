/* test_replyparse - unit tests of the client side's reply parser
 * (src/smtp/replyparse.c).
 *
 * Covers single and multi-line replies (RFC 5321 4.2.1), enhanced status
 * codes (RFC 2034/3463), every malformed case of replyparse.h's header
 * comment and CHECKLIST.md H "Malformed replies": a 3-character "250"
 * (valid per RFC 5321 4.2's grammar: accepted as a reply without text),
 * "2", mixed codes in one reply (250-/451), code 600, a 10 KB line, NUL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/replyparse.h"

/* feed - give the parser the NULL-terminated lines; the last result */
static enum rp_result feed(struct smtp_reply *r, const char *const *lines)
{
	enum rp_result res = RP_ERROR;

	rp_init(r);
	for (; *lines; lines++) {
		res = rp_line(r, *lines, strlen(*lines));
		if (res != RP_MORE)
			return res;
	}
	return res;
}

/* one - result of a one-line reply */
static enum rp_result one(struct smtp_reply *r, const char *line)
{
	const char *lines[] = { line, NULL };

	return feed(r, lines);
}

static void test_single_line(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, "220 mx.example.test ESMTP ready"), RP_DONE);
	assert_int_equal(r.code, 220);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "mx.example.test ESMTP ready");
	assert_int_equal(r.text_len, strlen(r.text));
	assert_int_equal(r.lines, 1);

	assert_int_equal(one(&r, "354 Start mail input; end with <CRLF>.<CRLF>"),
			 RP_DONE);
	assert_int_equal(r.code, 354);
	assert_int_equal(one(&r, "554 "), RP_DONE);
	assert_int_equal(r.code, 554);
	assert_int_equal(r.text_len, 0);
}

static void test_bare_code(void **state)
{
	struct smtp_reply r;
	const char *lines[] = { "250-first", "250", NULL };

	(void)state;
	/* RFC 5321 4.2: Reply-code [ SP textstring ] CRLF */
	assert_int_equal(one(&r, "250"), RP_DONE);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.text_len, 0);
	assert_string_equal(r.text, "");
	assert_int_equal(feed(&r, lines), RP_DONE);
	assert_string_equal(r.text, "first\n");
	assert_int_equal(r.lines, 2);
}

static void test_multi_line(void **state)
{
	struct smtp_reply r;
	const char *ehlo[] = { "250-mx.example.test Hello [127.0.0.1]",
			       "250-PIPELINING", "250-SIZE 36700160",
			       "250-8BITMIME", "250 SMTPUTF8", NULL };

	(void)state;
	assert_int_equal(feed(&r, ehlo), RP_DONE);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.lines, 5);
	assert_string_equal(r.text, "mx.example.test Hello [127.0.0.1]\n"
			    "PIPELINING\nSIZE 36700160\n8BITMIME\nSMTPUTF8");
	assert_string_equal(r.enh, "");
}

static void test_more_then_done(void **state)
{
	struct smtp_reply r;

	(void)state;
	rp_init(&r);
	assert_int_equal(rp_line(&r, "451-4.3.0 first", 15), RP_MORE);
	assert_int_equal(rp_line(&r, "451-4.3.0 second", 16), RP_MORE);
	assert_int_equal(rp_line(&r, "451 4.3.0 third", 15), RP_DONE);
	assert_int_equal(r.code, 451);
	assert_string_equal(r.enh, "4.3.0");
	assert_string_equal(r.text, "first\nsecond\nthird");
	assert_int_equal(r.lines, 3);
}

static void test_enhanced(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, "250 2.1.0 Sender OK"), RP_DONE);
	assert_string_equal(r.enh, "2.1.0");
	assert_string_equal(r.text, "Sender OK");

	assert_int_equal(one(&r, "550 5.123.456 long parts"), RP_DONE);
	assert_string_equal(r.enh, "5.123.456");
	assert_string_equal(r.text, "long parts");

	assert_int_equal(one(&r, "250 2.0.0"), RP_DONE);
	assert_string_equal(r.enh, "2.0.0");
	assert_string_equal(r.text, "");
}

static void test_not_enhanced(void **state)
{
	struct smtp_reply r;

	(void)state;
	/* class differs from the reply code: plain text */
	assert_int_equal(one(&r, "250 5.1.1 odd"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "5.1.1 odd");
	/* four digits in a part, missing part, no space after */
	assert_int_equal(one(&r, "550 5.1234.1 x"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_int_equal(one(&r, "550 5.1 x"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_int_equal(one(&r, "550 5.1.1x"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "5.1.1x");
	assert_int_equal(one(&r, "550 5..1 x"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_int_equal(one(&r, "550 5.1. x"), RP_DONE);
	assert_string_equal(r.enh, "");
	/* an EHLO keyword is no code */
	assert_int_equal(one(&r, "250 8BITMIME"), RP_DONE);
	assert_string_equal(r.enh, "");
}

static void test_enhanced_continuation(void **state)
{
	struct smtp_reply r;
	const char *same[] = { "550-5.7.1 Message rejected", "550-5.7.1 see",
			       "550 5.7.1 https://example.test/why", NULL };
	const char *other[] = { "550-5.7.1 first", "550 5.7.2 second", NULL };
	const char *late[] = { "250-hello", "250 2.0.0 second", NULL };

	(void)state;
	assert_int_equal(feed(&r, same), RP_DONE);
	assert_string_equal(r.enh, "5.7.1");
	assert_string_equal(r.text,
			    "Message rejected\nsee\nhttps://example.test/why");
	/* only the first line's code is removed */
	assert_int_equal(feed(&r, other), RP_DONE);
	assert_string_equal(r.enh, "5.7.1");
	assert_string_equal(r.text, "first\n5.7.2 second");
	assert_int_equal(feed(&r, late), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "hello\n2.0.0 second");
}

static void test_too_short(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, ""), RP_ERROR);
	assert_int_equal(one(&r, "2"), RP_ERROR);
	assert_int_equal(one(&r, "25"), RP_ERROR);
}

static void test_bad_code(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, "600 too big"), RP_ERROR);
	assert_int_equal(one(&r, "199 too small"), RP_ERROR);
	assert_int_equal(one(&r, "099 zero"), RP_ERROR);
	assert_int_equal(one(&r, "1xx x"), RP_ERROR);
	assert_int_equal(one(&r, "2a0 letters"), RP_ERROR);
	assert_int_equal(one(&r, "25a letters"), RP_ERROR);
	assert_int_equal(one(&r, " 250 leading space"), RP_ERROR);
	assert_int_equal(one(&r, "ESMTP ready"), RP_ERROR);
}

static void test_bad_separator(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, "2500 four digits"), RP_ERROR);
	assert_int_equal(one(&r, "250\tTab"), RP_ERROR);
	assert_int_equal(one(&r, "250_x"), RP_ERROR);
	assert_int_equal(one(&r, "250x"), RP_ERROR);
	assert_int_equal(one(&r, "250\r"), RP_ERROR);
}

static void test_mixed_codes(void **state)
{
	struct smtp_reply r;
	const char *mixed[] = { "250-first", "451 second", NULL };
	const char *same_class[] = { "250-first", "251 second", NULL };

	(void)state;
	assert_int_equal(feed(&r, mixed), RP_ERROR);
	assert_int_equal(feed(&r, same_class), RP_ERROR);
	/* a malformed continuation line */
	rp_init(&r);
	assert_int_equal(rp_line(&r, "250-ok", 6), RP_MORE);
	assert_int_equal(rp_line(&r, "25", 2), RP_ERROR);
}

static void test_nul(void **state)
{
	struct smtp_reply r;
	const char line[] = "250 ok\0hidden";
	const char code[] = "2\0" "0 ok";

	(void)state;
	rp_init(&r);
	assert_int_equal(rp_line(&r, line, sizeof(line) - 1), RP_ERROR);
	rp_init(&r);
	assert_int_equal(rp_line(&r, code, sizeof(code) - 1), RP_ERROR);
	rp_init(&r);
	assert_int_equal(rp_line(&r, "250-ok", 6), RP_MORE);
	assert_int_equal(rp_line(&r, line, sizeof(line) - 1), RP_ERROR);
}

static void test_ten_kb_line(void **state)
{
	struct smtp_reply r;
	size_t len = 10 * 1024;
	char *line = malloc(len);

	(void)state;
	assert_non_null(line);
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', len - 4);
	rp_init(&r);
	assert_int_equal(rp_line(&r, line, len), RP_ERROR);
	assert_true(r.text_len <= REPLY_TEXT_MAX);
	line[3] = '-';
	rp_init(&r);
	assert_int_equal(rp_line(&r, line, len), RP_ERROR);
	free(line);
}

static void test_text_limit(void **state)
{
	struct smtp_reply r;
	char *line = malloc(REPLY_TEXT_MAX + 8);
	char small[256];
	int n;

	(void)state;
	assert_non_null(line);
	/* exactly REPLY_TEXT_MAX bytes of text fit */
	memcpy(line, "250 ", 4);
	memset(line + 4, 'y', REPLY_TEXT_MAX);
	rp_init(&r);
	assert_int_equal(rp_line(&r, line, 4 + REPLY_TEXT_MAX), RP_DONE);
	assert_int_equal(r.text_len, REPLY_TEXT_MAX);
	assert_int_equal(r.text[REPLY_TEXT_MAX], '\0');
	/* one more byte does not */
	memset(line + 4, 'y', REPLY_TEXT_MAX + 1);
	rp_init(&r);
	assert_int_equal(rp_line(&r, line, 5 + REPLY_TEXT_MAX), RP_ERROR);
	/* the '\n' joining lines counts: many lines that add up */
	rp_init(&r);
	n = snprintf(small, sizeof(small), "250-%0200d", 7);
	assert_true(n > 0);
	for (;;) {
		enum rp_result res = rp_line(&r, small, (size_t)n);

		if (res == RP_ERROR)
			break;
		assert_int_equal(res, RP_MORE);
		assert_true(r.text_len <= REPLY_TEXT_MAX);
	}
	assert_true(r.lines < REPLY_LINES_MAX);
	assert_true(r.text_len + 201 > REPLY_TEXT_MAX);
	free(line);
}

static void test_line_limit(void **state)
{
	struct smtp_reply r;
	unsigned i;

	(void)state;
	rp_init(&r);
	for (i = 0; i < REPLY_LINES_MAX - 1; i++)
		assert_int_equal(rp_line(&r, "250-x", 5), RP_MORE);
	assert_int_equal(rp_line(&r, "250 last", 8), RP_DONE);
	assert_int_equal(r.lines, REPLY_LINES_MAX);

	rp_init(&r);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		assert_int_equal(rp_line(&r, "250-x", 5), RP_MORE);
	assert_int_equal(rp_line(&r, "250 one too many", 16), RP_ERROR);
}

static void test_reinit(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(one(&r, "250 2.1.0 first"), RP_DONE);
	rp_init(&r);
	assert_int_equal(rp_line(&r, "354 go ahead", 12), RP_DONE);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "go ahead");
	assert_int_equal(r.lines, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line),
		cmocka_unit_test(test_bare_code),
		cmocka_unit_test(test_multi_line),
		cmocka_unit_test(test_more_then_done),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_not_enhanced),
		cmocka_unit_test(test_enhanced_continuation),
		cmocka_unit_test(test_too_short),
		cmocka_unit_test(test_bad_code),
		cmocka_unit_test(test_bad_separator),
		cmocka_unit_test(test_mixed_codes),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_ten_kb_line),
		cmocka_unit_test(test_text_limit),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_reinit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_proto - unit tests of the line reader, the command tokenizer and
 * the reply table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "smtp/cmd.h"
#include "smtp/linereader.h"
#include "smtp/reply.h"

static void lr_crlf_and_bare_lf(void **state)
{
	struct lr_line l;

	(void)state;
	assert_int_equal(lr_scan("EHLO x\r\nQUIT", 12, 512, &l), LR_LINE);
	assert_int_equal(l.len, 6);
	assert_int_equal(l.consumed, 8);
	assert_false(l.bare_lf);
	assert_int_equal(lr_scan("EHLO x\n", 7, 512, &l), LR_LINE);
	assert_int_equal(l.len, 6);
	assert_true(l.bare_lf);
	assert_int_equal(lr_scan("EHLO", 4, 512, &l), LR_NEED_MORE);
	assert_int_equal(lr_scan("\n", 1, 512, &l), LR_LINE);
	assert_int_equal(l.len, 0);
}

static void lr_limits_and_nul(void **state)
{
	char big[600];
	struct lr_line l;
	int found;

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_int_equal(lr_scan(big, sizeof(big), 512, &l), LR_TOO_LONG);
	assert_int_equal(lr_scan(big, 511, 512, &l), LR_NEED_MORE);
	big[510] = '\r';
	big[511] = '\n';
	assert_int_equal(lr_scan(big, sizeof(big), 512, &l), LR_LINE);
	assert_int_equal(l.len, 510);
	assert_int_equal(lr_scan("MAIL\0x\r\n", 8, 512, &l), LR_LINE);
	assert_true(l.has_nul);
	assert_int_equal(lr_skip_to_lf("abc\ndef", 7, &found), 4);
	assert_true(found);
	assert_int_equal(lr_skip_to_lf("abcdef", 6, &found), 6);
	assert_false(found);
}

static void cmd_verbs(void **state)
{
	struct smtp_cmd c;

	(void)state;
	cmd_parse("helo example.com", 16, &c);
	assert_int_equal(c.verb, VERB_HELO);
	assert_int_equal(c.arglen, 11);
	assert_memory_equal(c.arg, "example.com", 11);
	cmd_parse("mail from:elvis@graceland.com", 29, &c);
	assert_int_equal(c.verb, VERB_MAIL);
	assert_false(c.bad_syntax);
	assert_memory_equal(c.arg, "elvis@graceland.com", c.arglen);
	cmd_parse("MAIL FROM: <a@b> SIZE=10  ", 26, &c);
	assert_memory_equal(c.arg, "<a@b> SIZE=10", c.arglen);
	cmd_parse("MAIL\tFROM:<a@b>", 15, &c);
	assert_int_equal(c.verb, VERB_MAIL);
	assert_false(c.bad_syntax);
	cmd_parse("RCPT <a@b>", 10, &c);
	assert_int_equal(c.verb, VERB_RCPT);
	assert_true(c.bad_syntax);
	cmd_parse("FOO", 3, &c);
	assert_int_equal(c.verb, VERB_UNKNOWN);
	cmd_parse("GET / HTTP/1.1", 14, &c);
	assert_int_equal(c.verb, VERB_FORBIDDEN);
	cmd_parse("\x16\x03\x01", 3, &c);
	assert_int_equal(c.verb, VERB_FORBIDDEN);
	cmd_parse("", 0, &c);
	assert_int_equal(c.verb, VERB_UNKNOWN);
	cmd_parse("DATAX", 5, &c);
	assert_int_equal(c.verb, VERB_UNKNOWN);
}

static void replies(void **state)
{
	buf_t b;

	(void)state;
	buf_init(&b);
	reply_format(&b, R_QUEUED, "ABC", "mx.example.test");
	assert_string_equal(b.data, "250 2.6.0 <ABC@mx.example.test> Queued mail for delivery\r\n");
	buf_reset(&b);
	reply_format(&b, R_BANNER, "mx.example.test", "ESMTP ready");
	assert_string_equal(b.data, "220 mx.example.test ESMTP ready\r\n");
	buf_reset(&b);
	reply_format(&b, R_EHLO, "h Hello [1.2.3.4]", "PIPELINING\nSIZE 100\nSMTPUTF8");
	assert_string_equal(b.data, "250-h Hello [1.2.3.4]\r\n250-PIPELINING\r\n250-SIZE 100\r\n"
			    "250 SMTPUTF8\r\n");
	buf_reset(&b);
	reply_format(&b, R_AUTH_CHALLENGE, "", NULL);
	assert_string_equal(b.data, "334 \r\n");
	buf_reset(&b);
	reply_format(&b, R_NEED_RCPT, NULL, NULL);
	assert_string_equal(b.data, "503 5.5.2 Need rcpt command\r\n");
	buf_free(&b);
	for (int i = 1; i < R__COUNT; i++)
		assert_true(reply_code((enum reply_id)i) >= 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lr_crlf_and_bare_lf),
		cmocka_unit_test(lr_limits_and_nul),
		cmocka_unit_test(cmd_verbs),
		cmocka_unit_test(replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

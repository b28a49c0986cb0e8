/* test_msg_rfc5322 - unit tests of src/msg/rfc5322.c (moved here with the
 * code from test_sendmail_parse.c): the RFC 5322 address list parser
 * (display names, comments, quoted strings, groups, several addresses per
 * field, folded lines, routes, malformed lists, control characters), the
 * header line classifier, the folded-field iterator and msg_field_is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "msg/rfc5322.h"
#include "util/buf.h"

/* ---- address lists ---- */

/* addrs - parse field; the addresses joined with '|' (or "ERROR") in a
 * static buffer */
static const char *addrs(const char *field)
{
	static char joined[4096];
	buf_t out;
	size_t n = 0, i, pos = 0;
	const char *p;

	buf_init(&out);
	if (msg_parse_addresses(field, strlen(field), &out, &n) < 0) {
		assert_int_equal(n, 0);
		assert_int_equal(out.len, 0);
		buf_free(&out);
		return "ERROR";
	}
	joined[0] = '\0';
	for (i = 0, p = out.data; i < n; i++, p += strlen(p) + 1) {
		size_t len = strlen(p);

		assert_true(pos + len + 2 < sizeof(joined));
		if (i > 0)
			joined[pos++] = '|';
		memcpy(joined + pos, p, len + 1);
		pos += len;
	}
	assert_int_equal((size_t)(p - out.data), out.len);
	buf_free(&out);
	return joined;
}

static void test_addr_plain(void **state)
{
	(void)state;
	assert_string_equal(addrs("alice@example.test"), "alice@example.test");
	assert_string_equal(addrs("  alice@example.test  "),
			    "alice@example.test");
	assert_string_equal(addrs("root"), "root");
	assert_string_equal(addrs("a@b, c@d,e@f"), "a@b|c@d|e@f");
	assert_string_equal(addrs(""), "");
	assert_string_equal(addrs("   "), "");
	/* empty list elements (RFC 5322 4.4 obs-addr-list) */
	assert_string_equal(addrs(", a@b,,c@d ,"), "a@b|c@d");
	assert_string_equal(addrs("first.last@sub.example.test"),
			    "first.last@sub.example.test");
	assert_string_equal(addrs("a@[192.0.2.1]"), "a@[192.0.2.1]");
}

static void test_addr_display_names(void **state)
{
	(void)state;
	assert_string_equal(addrs("John Doe <john@example.test>"),
			    "john@example.test");
	assert_string_equal(addrs("\"Doe, John\" <john@x.test>, Jane <jane@x.test>"),
			    "john@x.test|jane@x.test");
	assert_string_equal(addrs("John Q. Public <jqp@x.test>"), "jqp@x.test");
	assert_string_equal(addrs("<only@x.test>"), "only@x.test");
	assert_string_equal(addrs("\"quoted \\\"name\\\"\" <q@x.test>"),
			    "q@x.test");
	assert_string_equal(addrs("J\xc3\xbcrgen <j@x.test>"), "j@x.test");
	/* "<>" names nobody */
	assert_string_equal(addrs("<>, a@b"), "a@b");
}

static void test_addr_comments(void **state)
{
	(void)state;
	assert_string_equal(addrs("bob@x.test (Bob B)"), "bob@x.test");
	assert_string_equal(addrs("(lead) bob (middle) @ (nested (deep)) x.test"),
			    "bob@x.test");
	assert_string_equal(addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
			    "pete@silly.test");
	assert_string_equal(addrs("a@b (c, d), e@f"), "a@b|e@f");
}

static void test_addr_quoted_local(void **state)
{
	(void)state;
	assert_string_equal(addrs("\"john doe\"@x.test"), "\"john doe\"@x.test");
	assert_string_equal(addrs("<\"a,b\"@x.test>, c@d"), "\"a,b\"@x.test|c@d");
	assert_string_equal(addrs("\"a\\\"b\"@x.test"), "\"a\\\"b\"@x.test");
}

static void test_addr_groups(void **state)
{
	(void)state;
	assert_string_equal(addrs("undisclosed-recipients:;"), "");
	assert_string_equal(addrs("undisclosed:;"), "");
	assert_string_equal(addrs("friends: a@x.test, B <b@x.test>;, c@x.test"),
			    "a@x.test|b@x.test|c@x.test");
	assert_string_equal(addrs("\"My group\": a@x.test; "), "a@x.test");
	assert_string_equal(addrs("g1: a@b; g2: c@d;"), "a@b|c@d");
	/* a group never closed is taken as written */
	assert_string_equal(addrs("open: a@b, c@d"), "a@b|c@d");
	/* a stray ';' separates */
	assert_string_equal(addrs("a@b; c@d"), "a@b|c@d");
}

static void test_addr_folded(void **state)
{
	(void)state;
	assert_string_equal(addrs(" a@x.test,\r\n\tb@x.test,\n c@x.test\r\n"),
			    "a@x.test|b@x.test|c@x.test");
	assert_string_equal(addrs("\"Doe,\r\n John\" <j@x.test>"), "j@x.test");
	/* unfolding inside a quoted local part drops the CRLF */
	assert_string_equal(addrs("\"a\r\n b\"@x.test"), "\"a b\"@x.test");
	assert_string_equal(addrs("Name\r\n <n@x.test>"), "n@x.test");
}

static void test_addr_route(void **state)
{
	(void)state;
	assert_string_equal(addrs("<@relay.test:u@d.test>"), "u@d.test");
	assert_string_equal(addrs("X <@a.test,@b.test:u@d.test>, v@d.test"),
			    "u@d.test|v@d.test");
}

static void test_addr_utf8(void **state)
{
	(void)state;
	assert_string_equal(addrs("\xc3\xbc\x73\x65r@b\xc3\xbc\x63her.test"),
			    "\xc3\xbc\x73\x65r@b\xc3\xbc\x63her.test");
}

static void test_addr_errors(void **state)
{
	(void)state;
	assert_string_equal(addrs("John Smith"), "ERROR");
	assert_string_equal(addrs("a@b, John Smith, c@d"), "ERROR");
	assert_string_equal(addrs("\"unterminated@x.test"), "ERROR");
	assert_string_equal(addrs("a@x.test (unterminated"), "ERROR");
	assert_string_equal(addrs("<a@x.test"), "ERROR");
	assert_string_equal(addrs("a@x.test>"), "ERROR");
	assert_string_equal(addrs("<<a@x.test>>"), "ERROR");
	assert_string_equal(addrs("<a@x.test> trailing"), "ERROR");
	assert_string_equal(addrs("<a@x.test> <b@x.test>"), "ERROR");
	assert_string_equal(addrs("a@[192.0.2.1"), "ERROR");
	assert_string_equal(addrs("a@@x.test"), "ERROR");
	assert_string_equal(addrs("a@b@c"), "ERROR");
	assert_string_equal(addrs("a@"), "ERROR");
	assert_string_equal(addrs("@x.test"), "ERROR");
	assert_string_equal(addrs("g: h: a@b;;"), "ERROR");
	assert_string_equal(addrs("a)b@c"), "ERROR");
	assert_string_equal(addrs("a\\b@c"), "ERROR");
	assert_string_equal(addrs("<a,b@c>"), "ERROR");
	assert_string_equal(addrs("<a@c;>"), "ERROR");
}

static void test_addr_control_chars(void **state)
{
	const char nul[] = "a\0b@c";
	buf_t out;
	size_t n = 0;

	(void)state;
	/* no control character may reach an SMTP command */
	assert_string_equal(addrs("a\x01@x.test"), "ERROR");
	assert_string_equal(addrs("a@x\x7f.test"), "ERROR");
	assert_string_equal(addrs("\"a\x01\"@x.test"), "ERROR");
	assert_string_equal(addrs("\"a\\\x01\"@x.test"), "ERROR");
	assert_string_equal(addrs("<a@x.test\x1b>"), "ERROR");
	buf_init(&out);
	assert_int_equal(msg_parse_addresses(nul, sizeof(nul) - 1, &out, &n),
			 -1);
	assert_int_equal(n, 0);
	buf_free(&out);
	/* CR/LF are folding white space, never part of an address */
	assert_string_equal(addrs("a@x.test\r\nRCPT TO:<evil@x.test>"), "ERROR");
	assert_string_equal(addrs("a\r\n@x.test"), "a@x.test");
}

static void test_addr_appends(void **state)
{
	buf_t out;
	size_t n = 0;

	(void)state;
	buf_init(&out);
	assert_int_equal(msg_parse_addresses("a@b", 3, &out, &n), 0);
	assert_int_equal(msg_parse_addresses("c@d, e@f", 8, &out, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out.len, 12);
	assert_memory_equal(out.data, "a@b\0c@d\0e@f\0", 12);
	/* a failure leaves what was there */
	assert_int_equal(msg_parse_addresses("g@h, <bad", 9, &out, &n), -1);
	assert_int_equal(n, 3);
	assert_int_equal(out.len, 12);
	/* only len bytes are looked at */
	assert_int_equal(msg_parse_addresses("x@y, <bad", 3, &out, &n), 0);
	assert_int_equal(n, 4);
	buf_free(&out);
}

/* ---- header lines and fields ---- */

static void test_line_kind(void **state)
{
	size_t nl = 0;

	(void)state;
	assert_int_equal(msg_line_kind("Subject: hi", 11, &nl), MSG_LINE_FIELD);
	assert_int_equal(nl, 7);
	assert_int_equal(msg_line_kind("To:", 3, &nl), MSG_LINE_FIELD);
	assert_int_equal(nl, 2);
	/* RFC 5322 4.5: obsolete white space before the colon */
	assert_int_equal(msg_line_kind("Cc \t: x", 7, &nl), MSG_LINE_FIELD);
	assert_int_equal(nl, 2);
	assert_int_equal(msg_line_kind("X-Weird.Name_1!: y", 18, &nl),
			 MSG_LINE_FIELD);
	assert_int_equal(nl, 15);
	assert_int_equal(msg_line_kind(" folded", 7, &nl), MSG_LINE_CONT);
	assert_int_equal(msg_line_kind("\tfolded", 7, &nl), MSG_LINE_CONT);
	assert_int_equal(msg_line_kind("", 0, &nl), MSG_LINE_BLANK);
	assert_int_equal(msg_line_kind("hello world", 11, &nl), MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind("From me@x Mon", 13, &nl),
			 MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind(":no name", 8, &nl), MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind(".", 1, &nl), MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind("\r", 1, &nl), MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind("Na\xc3\xa9me: x", 10, &nl),
			 MSG_LINE_OTHER);
	assert_int_equal(msg_line_kind("NoColon", 7, &nl), MSG_LINE_OTHER);
	/* only len bytes count */
	assert_int_equal(msg_line_kind("To: x", 2, &nl), MSG_LINE_OTHER);
}

static void test_fields(void **state)
{
	const char hdr[] = "To: a@x.test,\r\n b@x.test\r\n"
			   "Subject: one\n"
			   "Cc:\n\tc@x.test\n \n"
			   "Bcc : d@x.test";
	struct msg_field f;
	size_t pos = 0, len = sizeof(hdr) - 1;

	(void)state;
	assert_int_equal(msg_next_field(hdr, len, &pos, &f), 1);
	assert_int_equal(f.name_len, 2);
	assert_memory_equal(f.name, "To", 2);
	assert_int_equal(f.value_len, strlen(" a@x.test,\r\n b@x.test\r\n"));
	assert_memory_equal(f.value, " a@x.test,\r\n b@x.test\r\n", f.value_len);
	assert_int_equal(f.raw_len, strlen("To: a@x.test,\r\n b@x.test\r\n"));
	assert_ptr_equal(f.raw, hdr);

	assert_int_equal(msg_next_field(hdr, len, &pos, &f), 1);
	assert_memory_equal(f.name, "Subject", 7);
	assert_int_equal(f.value_len, 5);
	assert_memory_equal(f.value, " one\n", 5);

	assert_int_equal(msg_next_field(hdr, len, &pos, &f), 1);
	assert_memory_equal(f.name, "Cc", 2);
	assert_int_equal(f.raw_len, strlen("Cc:\n\tc@x.test\n \n"));
	assert_memory_equal(f.value, "\n\tc@x.test\n \n", f.value_len);

	/* the last line without a line end */
	assert_int_equal(msg_next_field(hdr, len, &pos, &f), 1);
	assert_int_equal(f.name_len, 3);
	assert_memory_equal(f.name, "Bcc", 3);
	assert_int_equal(f.value_len, strlen(" d@x.test"));
	assert_int_equal(pos, len);
	assert_int_equal(msg_next_field(hdr, len, &pos, &f), 0);
}

static void test_fields_stop(void **state)
{
	const char hdr[] = "A: 1\nnot a field\nB: 2\n";
	struct msg_field f;
	size_t pos = 0;

	(void)state;
	assert_int_equal(msg_next_field(hdr, sizeof(hdr) - 1, &pos, &f), 1);
	assert_int_equal(pos, 5);
	assert_int_equal(msg_next_field(hdr, sizeof(hdr) - 1, &pos, &f), 0);
	pos = 0;
	assert_int_equal(msg_next_field("", 0, &pos, &f), 0);
	assert_int_equal(msg_next_field(" cont\n", 6, &pos, &f), 0);
}

static void test_fields_with_parser(void **state)
{
	const char hdr[] = "To: \"Doe, John\" <john@x.test>,\r\n"
			   "\tbob@x.test (Bob),\r\n"
			   "  undisclosed:;\r\n";
	struct msg_field f;
	buf_t out;
	size_t pos = 0, n = 0;

	(void)state;
	buf_init(&out);
	assert_int_equal(msg_next_field(hdr, sizeof(hdr) - 1, &pos, &f), 1);
	assert_int_equal(msg_parse_addresses(f.value, f.value_len, &out, &n),
			 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out.data, "john@x.test\0bob@x.test\0", out.len);
	buf_free(&out);
}

static void test_field_is(void **state)
{
	const char hdr[] = "content-TYPE: text/plain\r\nTo: a@b\r\n";
	struct msg_field f;
	size_t pos = 0;

	(void)state;
	assert_int_equal(msg_next_field(hdr, sizeof(hdr) - 1, &pos, &f), 1);
	assert_true(msg_field_is(&f, "Content-Type"));
	assert_true(msg_field_is(&f, "content-type"));
	assert_false(msg_field_is(&f, "Content-Typ"));
	assert_false(msg_field_is(&f, "Content-Types"));
	assert_int_equal(msg_next_field(hdr, sizeof(hdr) - 1, &pos, &f), 1);
	assert_true(msg_field_is(&f, "TO"));
	assert_false(msg_field_is(&f, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_plain),
		cmocka_unit_test(test_addr_display_names),
		cmocka_unit_test(test_addr_comments),
		cmocka_unit_test(test_addr_quoted_local),
		cmocka_unit_test(test_addr_groups),
		cmocka_unit_test(test_addr_folded),
		cmocka_unit_test(test_addr_route),
		cmocka_unit_test(test_addr_utf8),
		cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_addr_control_chars),
		cmocka_unit_test(test_addr_appends),
		cmocka_unit_test(test_line_kind),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_stop),
		cmocka_unit_test(test_fields_with_parser),
		cmocka_unit_test(test_field_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

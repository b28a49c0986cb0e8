/* test_ctl_request - unit tests of the control socket's request line
 * parser and formatter (src/ctl/request.c).
 *
 * Covers every verb with its good forms, the strictness rules of
 * request.h (exact words, single spaces, lowercase verbs, no control or
 * non-ASCII bytes, queue id and domain syntax, missing and extra words,
 * the length limit), a trailing CR, and that formatting a parsed request
 * gives back the canonical line (and refuses invalid structures).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ctl/request.h"

/* parse - parse a C string; the result */
static int parse(const char *line, struct ctl_req *r, const char **why)
{
	*why = NULL;
	return ctl_req_parse(line, strlen(line), r, why);
}

/* bad - line must be refused with the reason why */
static void bad(const char *line, const char *want)
{
	struct ctl_req r;
	const char *why;

	if (parse(line, &r, &why) != -1)
		fail_msg("accepted: \"%s\"", line);
	assert_non_null(why);
	if (strcmp(why, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", line, why, want);
}

/* roundtrip - line parses, and formats back to line + "\n" */
static void roundtrip(const char *line, struct ctl_req *r)
{
	char out[CTL_REQ_MAX], want[CTL_REQ_MAX];
	const char *why;

	if (parse(line, r, &why) != 0)
		fail_msg("refused \"%s\": %s", line, why);
	assert_int_equal(ctl_req_format(r, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s\n", line);
	assert_string_equal(out, want);
}

static void test_good_requests(void **state)
{
	struct ctl_req r;

	(void)state;
	roundtrip("list", &r);
	assert_int_equal(r.verb, CTL_LIST);
	assert_string_equal(r.qid, "");
	roundtrip("show 0kYv7Q2c8M1000", &r);
	assert_int_equal(r.verb, CTL_SHOW);
	assert_string_equal(r.qid, "0kYv7Q2c8M1000");
	roundtrip("flush", &r);
	assert_int_equal(r.verb, CTL_FLUSH);
	assert_string_equal(r.qid, "");
	assert_string_equal(r.domain, "");
	roundtrip("flush abc", &r);
	assert_string_equal(r.qid, "abc");
	roundtrip("flush --domain example.net", &r);
	assert_string_equal(r.domain, "example.net");
	roundtrip("flush --domain [192.0.2.1]", &r);
	roundtrip("flush --domain [IPv6:2001:db8::1]", &r);
	roundtrip("flush --domain under_score-host.example", &r);
	roundtrip("remove Z9", &r);
	assert_int_equal(r.verb, CTL_REMOVE);
	assert_int_equal(r.all, 0);
	roundtrip("remove --all", &r);
	assert_int_equal(r.all, 1);
	assert_string_equal(r.qid, "");
	roundtrip("hold q1", &r);
	assert_int_equal(r.verb, CTL_HOLD);
	roundtrip("release q1", &r);
	assert_int_equal(r.verb, CTL_RELEASE);
	/* the longest id */
	roundtrip("show 123456789012345678901234", &r);
}

static void test_crlf(void **state)
{
	struct ctl_req r;
	const char *why;

	(void)state;
	assert_int_equal(parse("list\r", &r, &why), 0);
	assert_int_equal(r.verb, CTL_LIST);
	assert_int_equal(parse("show abc\r", &r, &why), 0);
	assert_string_equal(r.qid, "abc");
	bad("list\r\r", "control or non-ASCII character in request");
	bad("\r", "empty request");
}

static void test_bad_words(void **state)
{
	(void)state;
	bad("", "empty request");
	bad("bogus", "unknown request");
	bad("LIST", "unknown request");
	bad("List", "unknown request");
	bad("lis", "unknown request");
	bad("listx", "unknown request");
	bad("--all", "unknown request");
	bad("list ", "malformed request (empty word)");
	bad(" list", "malformed request (empty word)");
	bad("show  abc", "malformed request (empty word)");
	bad("list x", "usage: list");
	bad("show", "usage: show|hold|release QID");
	bad("hold", "usage: show|hold|release QID");
	bad("release a b", "usage: show|hold|release QID");
	bad("show a b c", "too many words in request");
	bad("remove", "usage: remove QID | remove --all");
	bad("remove --all x", "usage: remove QID | remove --all");
	bad("remove a b", "usage: remove QID | remove --all");
	bad("flush a b", "usage: flush [QID | --domain DOMAIN]");
	bad("flush --domain", "usage: flush --domain DOMAIN");
	bad("flush --domain a b", "too many words in request");
	bad("hold --all", "malformed queue id");
	bad("remove --ALL", "malformed queue id");
}

static void test_bad_ids_and_domains(void **state)
{
	(void)state;
	bad("show ../x", "malformed queue id");
	bad("show a.done", "malformed queue id");
	bad("show a/b", "malformed queue id");
	bad("show a-b", "malformed queue id");
	bad("show 1234567890123456789012345", "malformed queue id");
	bad("flush --domain a/b", "malformed domain");
	bad("flush --domain a@b", "malformed domain");
	bad("flush --domain []", "malformed domain");
	bad("flush --domain [1.2.3.4", "malformed domain");
	bad("flush --domain [1.2/3]", "malformed domain");
	bad("flush --domain \"x\"", "malformed domain");
	assert_true(ctl_domain_ok("example.test"));
	assert_false(ctl_domain_ok(""));
	assert_true(ctl_qid_ok("0kYv7Q2c8M1000"));
	assert_false(ctl_qid_ok(""));
	assert_false(ctl_qid_ok("a b"));
}

static void test_bytes(void **state)
{
	struct ctl_req r;
	const char *why;
	char big[CTL_REQ_MAX + 8];
	char dom[300];

	(void)state;
	assert_int_equal(ctl_req_parse("list\0x", 6, &r, &why), -1);
	assert_string_equal(why, "control or non-ASCII character in request");
	bad("list\tx", "control or non-ASCII character in request");
	bad("show \xc3\xa9", "control or non-ASCII character in request");
	bad("show a\x7f", "control or non-ASCII character in request");
	bad("show a\x1b[0m", "control or non-ASCII character in request");
	memset(big, 'x', sizeof(big));
	assert_int_equal(ctl_req_parse(big, CTL_REQ_MAX, &r, &why), -1);
	assert_string_equal(why, "request too long");
	/* a domain over 255 bytes */
	memcpy(dom, "flush --domain ", 15);
	memset(dom + 15, 'a', 256);
	dom[15 + 256] = '\0';
	bad(dom, "malformed domain");
	dom[15 + 255] = '\0';
	assert_int_equal(parse(dom, &r, &why), 0);
	assert_int_equal(strlen(r.domain), 255);
}

static void test_format_refuses_invalid(void **state)
{
	struct ctl_req r;
	char out[CTL_REQ_MAX];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.verb = CTL_SHOW;
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);	/* no id */
	strcpy(r.qid, "a b");
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);
	strcpy(r.qid, "ab");
	assert_int_equal(ctl_req_format(&r, out, 4), -1);		/* too small */
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "show ab\n");
	r.verb = CTL_FLUSH;
	strcpy(r.domain, "x.test");
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);	/* id and domain */
	r.verb = CTL_REMOVE;
	r.qid[0] = '\0';
	r.domain[0] = '\0';
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);	/* neither id nor --all */
	r.all = 1;
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "remove --all\n");
	r.verb = CTL_LIST;
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);
	r.verb = (enum ctl_verb)42;
	r.all = 0;
	assert_int_equal(ctl_req_format(&r, out, sizeof(out)), -1);
	assert_string_equal(ctl_verb_name(CTL_RELEASE), "release");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_bad_words),
		cmocka_unit_test(test_bad_ids_and_domains),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_format_refuses_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

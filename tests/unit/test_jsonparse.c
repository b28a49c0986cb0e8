/* test_jsonparse - unit tests of the strict, bounded JSON reader
 * (src/util/jsonparse.c) that `mailport queue` reads the daemon's replies
 * with.
 *
 * Covers: every value type; the shape of a real control socket reply;
 * string escapes (\uXXXX, surrogate pairs, \u0000 inside a string); what
 * util/json.c writes reads back byte for byte; RFC 8259 syntax errors
 * (trailing commas, leading zeros, single quotes, bare control bytes,
 * invalid UTF-8, lone surrogates, duplicate keys, data after the value,
 * truncated input at every length); the depth limit; the accessors on
 * wrong types.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/jsonparse.h"

/* ok - parse s (must work) */
static struct jv *ok(const char *s)
{
	struct jv *v = NULL;
	char err[128];

	if (jv_parse(s, strlen(s), &v, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", s, err);
	assert_non_null(v);
	return v;
}

/* bad - s must be refused */
static void bad(const char *s, size_t n)
{
	struct jv *v = (struct jv *)1;
	char err[128];

	if (jv_parse(s, n, &v, err, sizeof(err)) != -1)
		fail_msg("accepted %.*s", (int)n, s);
	assert_null(v);
	assert_true(strncmp(err, "offset ", 7) == 0);
}

#define BAD(s) bad(s, sizeof(s) - 1)

static void test_values(void **state)
{
	struct jv *v;

	(void)state;
	v = ok(" null ");
	assert_int_equal(v->type, JV_NULL);
	jv_free(v);
	v = ok("true");
	assert_int_equal(v->type, JV_TRUE);
	jv_free(v);
	v = ok("false\n");
	assert_int_equal(v->type, JV_FALSE);
	jv_free(v);
	v = ok("-1234567890123");
	assert_int_equal(v->type, JV_NUMBER);
	assert_true(v->is_int);
	assert_true(v->inum == -1234567890123LL);
	jv_free(v);
	v = ok("0");
	assert_true(v->is_int && v->inum == 0);
	jv_free(v);
	v = ok("1.5e2");
	assert_false(v->is_int);
	assert_true(v->num == 150.0);
	jv_free(v);
	v = ok("99999999999999999999");	/* beyond long long: a number, not an int */
	assert_false(v->is_int);
	jv_free(v);
	v = ok("\"\"");
	assert_int_equal(v->type, JV_STRING);
	assert_int_equal(v->len, 0);
	assert_string_equal(v->str, "");
	jv_free(v);
	v = ok("[]");
	assert_int_equal(v->type, JV_ARRAY);
	assert_int_equal(v->nkids, 0);
	jv_free(v);
	v = ok("{ }");
	assert_int_equal(v->type, JV_OBJECT);
	jv_free(v);
}

static void test_reply_shape(void **state)
{
	const char *s = "{\"ok\":true,\"now\":1762164000,\"messages\":[{\"id\":\"0kYv7Q2c8M1000\","
			"\"arrival\":1762163700,\"size\":312,\"sender\":\"a@b.test\",\"held\":false,"
			"\"client\":null,\"recipients\":[{\"address\":\"bob@foreign.test\","
			"\"transport\":\"smtp\",\"state\":\"deferred\",\"attempts\":2,"
			"\"next_attempt\":1762164300,\"code\":451,\"status\":\"4.4.3\","
			"\"remote\":\"\",\"reason\":\"MX lookup failed\"}]}]}\n";
	struct jv *v = ok(s);
	const struct jv *m, *r;
	long long n;

	(void)state;
	assert_int_equal(jv_bool(v, "ok"), 1);
	assert_int_equal(jv_int(v, "now", &n), 0);
	assert_true(n == 1762164000LL);
	m = jv_get(v, "messages");
	assert_non_null(m);
	assert_int_equal(m->type, JV_ARRAY);
	assert_int_equal(m->nkids, 1);
	m = &m->kids[0];
	assert_string_equal(jv_str(m, "id"), "0kYv7Q2c8M1000");
	assert_int_equal(jv_bool(m, "held"), 0);
	assert_null(jv_str(m, "client"));	/* null */
	assert_int_equal(jv_get(m, "client")->type, JV_NULL);
	r = &jv_get(m, "recipients")->kids[0];
	assert_string_equal(jv_str(r, "state"), "deferred");
	assert_int_equal(jv_int(r, "attempts", &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(jv_str(r, "reason"), "MX lookup failed");
	/* accessors on the wrong type or a missing key */
	assert_null(jv_get(r, "nope"));
	assert_null(jv_str(r, "attempts"));
	assert_int_equal(jv_int(r, "state", &n), -1);
	assert_int_equal(jv_bool(r, "state"), -1);
	assert_null(jv_get(jv_get(m, "recipients"), "x"));	/* an array */
	assert_null(jv_get(NULL, "x"));
	jv_free(v);
}

static void test_escapes(void **state)
{
	struct jv *v;

	(void)state;
	v = ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	assert_string_equal(v->str, "a\"b\\c/d\b\f\n\r\t");
	jv_free(v);
	v = ok("\"\\u00e9\\u20AC\\ud83d\\ude00\"");
	assert_string_equal(v->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	jv_free(v);
	v = ok("\"a\\u0000b\"");
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->str, "a\0b", 3);
	jv_free(v);
	v = ok("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");	/* raw UTF-8 */
	assert_string_equal(v->str, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	jv_free(v);
}

static void test_roundtrip_json_c(void **state)
{
	/* every byte value, and invalid UTF-8, through util/json.c's writer */
	char in[300];
	buf_t b;
	struct jv *v;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (char)i;
	memcpy(in + 256, "\xc3\xa9\xe2\x82\xac", 5);
	buf_init(&b);
	assert_int_equal(json_str(&b, in, 261), 0);
	assert_int_equal(jv_parse(b.data, b.len, &v, err, sizeof(err)), 0);
	assert_int_equal(v->type, JV_STRING);
	/* ASCII comes back as is; a byte >= 0x80 alone comes back as U+00XX */
	assert_memory_equal(v->str, in, 128);
	assert_memory_equal(v->str + v->len - 5, "\xc3\xa9\xe2\x82\xac", 5);
	jv_free(v);
	buf_free(&b);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	BAD("");
	BAD("   ");
	BAD("[1,]");
	BAD("{\"a\":1,}");
	BAD("[1 2]");
	BAD("{\"a\" 1}");
	BAD("{a:1}");
	BAD("{'a':1}");
	BAD("01");
	BAD("-");
	BAD("1.");
	BAD(".5");
	BAD("1e");
	BAD("+1");
	BAD("tru");
	BAD("nul");
	BAD("True");
	BAD("\"abc");
	BAD("\"a\nb\"");
	BAD("\"a\tb\"");
	BAD("\"\\x41\"");
	BAD("\"\\u12\"");
	BAD("\"\\u12G4\"");
	BAD("\"\\ud83d\"");
	BAD("\"\\ud83dx\"");
	BAD("\"\\ud83d\\u0041\"");
	BAD("\"\\ude00\"");
	BAD("\"\xff\"");
	BAD("\"\xc3\"");
	BAD("\"\xc0\xaf\"");		/* overlong */
	BAD("\"\xed\xa0\x80\"");	/* a surrogate in UTF-8 */
	BAD("\"\xf4\x90\x80\x80\"");	/* beyond U+10FFFF */
	BAD("{\"a\":1,\"a\":2}");
	BAD("{} {}");
	BAD("[] x");
	BAD("1 2");
	bad("[1]\0", 4);
	BAD("[1]]");
	BAD("123456789012345678901234567890123456789012345678901234567890123456789");
}

static void test_truncation(void **state)
{
	const char *s = "{\"ok\":true,\"a\":[1,-2.5e3,\"x\\u00e9\\ud83d\\ude00\",null,false,{}]}";
	size_t i, n = strlen(s);
	struct jv *v;

	(void)state;
	for (i = 0; i < n; i++)
		bad(s, i);
	v = ok(s);
	jv_free(v);
}

static void test_depth(void **state)
{
	char deep[2 * JSONP_DEPTH_MAX + 8];
	struct jv *v;
	size_t i;

	(void)state;
	for (i = 0; i < JSONP_DEPTH_MAX; i++) {
		deep[i] = '[';
		deep[2 * JSONP_DEPTH_MAX - 1 - i] = ']';
	}
	deep[2 * JSONP_DEPTH_MAX] = '\0';
	v = ok(deep);
	jv_free(v);
	memmove(deep + 1, deep, 2 * JSONP_DEPTH_MAX + 1);
	deep[0] = '[';
	deep[2 * JSONP_DEPTH_MAX + 1] = ']';
	deep[2 * JSONP_DEPTH_MAX + 2] = '\0';
	bad(deep, strlen(deep));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_reply_shape),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_roundtrip_json_c),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_depth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

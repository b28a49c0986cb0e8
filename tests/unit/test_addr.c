/* test_addr - unit tests of the RFC 5321 path parser (src/smtp/addr.c).
 *
 * Covers CHECKLIST.md A (MAIL/RCPT syntax variants, address limits, quoted
 * and odd local parts, shell metacharacters, non-ASCII without SMTPUTF8,
 * NUL) and F (%, !, quoted @ as local-part data, double @, source routes,
 * address literals, postmaster).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp/addr.h"

#define ALL (ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER)

/* parse_n - parse s[0..n) with flags, return the error code */
static enum addr_err parse_n(const char *s, size_t n, unsigned flags,
			     struct smtp_path *p, size_t *consumed)
{
	*consumed = (size_t)-1;
	return addr_parse_path(s, n, flags, p, consumed);
}

/* ok - s parses with flags into local / domain and consumes all of it */
static void ok(const char *s, unsigned flags, const char *local,
	       const char *domain)
{
	struct smtp_path p;
	size_t used;

	assert_int_equal(parse_n(s, strlen(s), flags, &p, &used), ADDR_OK);
	assert_int_equal(used, strlen(s));
	assert_string_equal(p.local, local);
	assert_int_equal(p.local_len, strlen(local));
	assert_string_equal(p.domain, domain);
}

/* bad - s fails with the given error */
static void bad(const char *s, unsigned flags, enum addr_err want)
{
	struct smtp_path p;
	size_t used;

	assert_int_equal(parse_n(s, strlen(s), flags, &p, &used), want);
}

/* fmt - canonical form of s (which must parse) */
static void fmt(const char *s, unsigned flags, const char *want)
{
	struct smtp_path p;
	char txt[ADDR_TEXT_MAX + 1];
	size_t used, n;

	assert_int_equal(parse_n(s, strlen(s), flags, &p, &used), ADDR_OK);
	n = addr_format(&p, txt, sizeof(txt));
	assert_string_equal(txt, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(addr_format(&p, NULL, 0), strlen(want));
}

/* rep - a string of n copies of c (static storage, n < 1024) */
static const char *rep(char c, size_t n)
{
	static char b[4][1024];
	static int k;

	k = (k + 1) % 4;
	memset(b[k], c, n);
	b[k][n] = '\0';
	return b[k];
}

/* domain_of_len - a valid domain of exactly n octets (labels of 63) */
static void domain_of_len(char *dst, size_t n)
{
	size_t o = 0, lab = 0;

	while (o < n) {
		if (lab == 63 && o + 1 < n) {
			dst[o++] = '.';
			lab = 0;
		} else if (o + 2 == n && lab == 62) {
			dst[o++] = 'b';
			lab++;
		} else {
			dst[o++] = 'a';
			lab++;
		}
	}
	/* never end on a '.' or leave an empty last label */
	if (dst[n - 1] == '.')
		dst[n - 1] = 'c';
	dst[n] = '\0';
}

static void test_basic_forms(void **state)
{
	struct smtp_path p;
	size_t used;
	const char *s;

	(void)state;
	ok("<a@b.com>", 0, "a", "b.com");
	ok(" \t<a@b.com>", 0, "a", "b.com");
	ok("elvis@graceland.com", 0, "elvis", "graceland.com");
	ok("<A.B@MAIL.Example.COM>", 0, "A.B", "mail.example.com");
	ok("<a@localhost>", 0, "a", "localhost");
	ok("<a@x-y.example>", 0, "a", "x-y.example");
	ok("<a@123.com>", 0, "a", "123.com");
	ok("<a@1x.2y.com>", 0, "a", "1x.2y.com");

	s = "<a@b> SIZE=100";
	assert_int_equal(parse_n(s, strlen(s), 0, &p, &used), ADDR_OK);
	assert_int_equal(used, 5);
	assert_string_equal(s + used, " SIZE=100");

	s = "elvis@graceland.com\tBODY=8BITMIME";
	assert_int_equal(parse_n(s, strlen(s), 0, &p, &used), ADDR_OK);
	assert_int_equal(used, 19);

	s = "  <a@b>";
	assert_int_equal(parse_n(s, strlen(s), 0, &p, &used), ADDR_OK);
	assert_int_equal(used, 7);
	assert_int_equal(p.is_null, 0);
	assert_int_equal(p.is_postmaster, 0);
	assert_int_equal(p.domain_literal, 0);
	assert_int_equal(p.utf8, 0);
}

static void test_empty_and_null(void **state)
{
	struct smtp_path p;
	size_t used;

	(void)state;
	bad("", ALL, ADDR_ERR_EMPTY);
	bad("   ", ALL, ADDR_ERR_EMPTY);
	bad(" \t ", ALL, ADDR_ERR_EMPTY);

	assert_int_equal(parse_n("<>", 2, ADDR_ALLOW_NULL, &p, &used), ADDR_OK);
	assert_int_equal(p.is_null, 1);
	assert_int_equal(used, 2);
	assert_int_equal(parse_n("<> SIZE=5", 9, ADDR_ALLOW_NULL, &p, &used),
			 ADDR_OK);
	assert_int_equal(used, 2);
	fmt("<>", ADDR_ALLOW_NULL, "");
	bad("<>", 0, ADDR_ERR_SYNTAX);
	bad("<>x", ADDR_ALLOW_NULL, ADDR_ERR_SYNTAX);
	bad("<", ALL, ADDR_ERR_SYNTAX);
	bad(">", ALL, ADDR_ERR_SYNTAX);
}

static void test_postmaster(void **state)
{
	struct smtp_path p;
	size_t used;

	(void)state;
	assert_int_equal(parse_n("<postmaster>", 12, ADDR_ALLOW_POSTMASTER, &p,
				 &used), ADDR_OK);
	assert_int_equal(p.is_postmaster, 1);
	assert_string_equal(p.domain, "");
	assert_int_equal(used, 12);
	fmt("<PostMaster>", ADDR_ALLOW_POSTMASTER, "postmaster");
	fmt("postmaster", ADDR_ALLOW_POSTMASTER, "postmaster");
	fmt("POSTMASTER NOTIFY=NEVER", ADDR_ALLOW_POSTMASTER, "postmaster");
	bad("<postmaster>", 0, ADDR_ERR_SYNTAX);
	bad("postmaster", ADDR_ALLOW_NULL, ADDR_ERR_SYNTAX);
	bad("<postmasters>", ADDR_ALLOW_POSTMASTER, ADDR_ERR_SYNTAX);
	/* postmaster@domain is an ordinary mailbox */
	assert_int_equal(parse_n("<postmaster@x.org>", 18, ALL, &p, &used),
			 ADDR_OK);
	assert_int_equal(p.is_postmaster, 0);
	assert_string_equal(p.domain, "x.org");
}

static void test_quoted_local(void **state)
{
	(void)state;
	ok("<\"a b\"@x>", 0, "a b", "x");
	ok("<\"a\\\"b\"@x>", 0, "a\"b", "x");
	ok("<\"a@b\"@x>", 0, "a@b", "x");
	ok("<\"a\\\\b\"@x>", 0, "a\\b", "x");
	ok("<\"\\ \"@x>", 0, " ", "x");
	ok("\"a b\"@x", 0, "a b", "x");
	ok("<\"abc\"@x>", 0, "abc", "x");
	fmt("<\"a b\"@x>", 0, "\"a b\"@x");
	fmt("<\"a\\\"b\"@x>", 0, "\"a\\\"b\"@x");
	fmt("<\"a@b\"@x>", 0, "\"a@b\"@x");
	fmt("<\"a\\\\b\"@x>", 0, "\"a\\\\b\"@x");
	fmt("<\"abc\"@X.org>", 0, "abc@x.org");
	fmt("<\"a.b\"@x>", 0, "a.b@x");
	fmt("<\".a\"@x>", 0, "\".a\"@x");
	fmt("<\"a..b\"@x>", 0, "\"a..b\"@x");
	fmt("<\"a.\"@x>", 0, "\"a.\"@x");
	bad("<\"\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"abc@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"abc\\\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\tb\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\x01z\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\x7f\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\\\x01\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\r\n\"@x>", 0, ADDR_ERR_SYNTAX);
	bad("<\"a\"b@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a\"b\"@x>", 0, ADDR_ERR_SYNTAX);
}

static void test_dot_string(void **state)
{
	(void)state;
	ok("<a.b.c@x>", 0, "a.b.c", "x");
	ok("<!#$%&'*+-/=?^_`{|}~@x>", 0, "!#$%&'*+-/=?^_`{|}~", "x");
	bad("<.a@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a.@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a..b@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@x>", 0, ADDR_ERR_SYNTAX);
	bad("@x", 0, ADDR_ERR_SYNTAX);
	bad("<a b@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a(b)@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a,b@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a\x01@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a\x7f@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a\r@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a\tb@x>", 0, ADDR_ERR_SYNTAX);
	bad("<a@b", 0, ADDR_ERR_SYNTAX);
	bad("a@b>", 0, ADDR_ERR_SYNTAX);
	bad("<<a@b>>", 0, ADDR_ERR_SYNTAX);
	bad("<a@b>>", 0, ADDR_ERR_SYNTAX);
	bad("<a@b>x", 0, ADDR_ERR_SYNTAX);
	bad("<a@b>,", 0, ADDR_ERR_SYNTAX);
	bad("<a>", 0, ADDR_ERR_SYNTAX);
	bad("a", 0, ADDR_ERR_SYNTAX);
	bad("<a@>", 0, ADDR_ERR_SYNTAX);
	bad("a@", 0, ADDR_ERR_SYNTAX);
}

static void test_domains(void **state)
{
	struct smtp_path p;
	size_t used;
	char lab[80];

	(void)state;
	ok("<a@x.>", 0, "a", "x");
	ok("a@x.", 0, "a", "x");
	ok("<a@Ex.COM.>", 0, "a", "ex.com");
	bad("<a@x..>", 0, ADDR_ERR_SYNTAX);
	bad("<a@x..y>", 0, ADDR_ERR_SYNTAX);
	bad("a@x..y", 0, ADDR_ERR_SYNTAX);
	bad("<a@.x>", 0, ADDR_ERR_SYNTAX);
	bad("<a@.>", 0, ADDR_ERR_SYNTAX);
	bad("<a@->", 0, ADDR_ERR_SYNTAX);
	bad("<a@-x.com>", 0, ADDR_ERR_SYNTAX);
	bad("<a@x-.com>", 0, ADDR_ERR_SYNTAX);
	bad("<a@x.-com>", 0, ADDR_ERR_SYNTAX);
	bad("<a@x_y.com>", 0, ADDR_ERR_SYNTAX);
	bad("<a@x y.com>", 0, ADDR_ERR_SYNTAX);
	/* a bare dotted quad needs brackets; an all-digit last label too */
	bad("<a@1.2.3.4>", 0, ADDR_ERR_SYNTAX);
	bad("a@1.2.3.4", 0, ADDR_ERR_SYNTAX);
	bad("<a@x.123>", 0, ADDR_ERR_SYNTAX);
	/* label length 63 ok, 64 refused */
	snprintf(lab, sizeof(lab), "<a@%s.com>", rep('q', 63));
	assert_int_equal(parse_n(lab, strlen(lab), 0, &p, &used), ADDR_OK);
	assert_int_equal(strlen(p.domain), 67);
	snprintf(lab, sizeof(lab), "<a@%s.com>", rep('q', 64));
	bad(lab, 0, ADDR_ERR_SYNTAX);
}

static void test_literals(void **state)
{
	struct smtp_path p;
	size_t used;

	(void)state;
	assert_int_equal(parse_n("<a@[1.2.3.4]>", 13, 0, &p, &used), ADDR_OK);
	assert_int_equal(p.domain_literal, 1);
	assert_string_equal(p.domain, "[1.2.3.4]");
	ok("<a@[255.255.255.255]>", 0, "a", "[255.255.255.255]");
	ok("<a@[0.0.0.0]>", 0, "a", "[0.0.0.0]");
	ok("<a@[IPv6:::1]>", 0, "a", "[ipv6:::1]");
	ok("a@[IPv6:::1]", 0, "a", "[ipv6:::1]");
	ok("<a@[IPv6:2001:DB8::1]>", 0, "a", "[ipv6:2001:db8::1]");
	ok("<a@[ipv6:::ffff:1.2.3.4]>", 0, "a", "[ipv6:::ffff:1.2.3.4]");
	fmt("<u@[127.0.0.1]>", 0, "u@[127.0.0.1]");
	bad("<a@[300.1.1.1]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[256.1.1.1]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.4.5]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1..2.3]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1111.2.3.4]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[-1.2.3.4]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.4>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[ 1.2.3.4]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[IPv6:zz::1]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[IPv6:1.2.3.4]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[IPv6:]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[IPv6:::1%eth0]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[x-tag:foo]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.4].com>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[[1.2.3.4]>", 0, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.4\\]>", 0, ADDR_ERR_SYNTAX);
}

static void test_limits(void **state)
{
	char s[1200], dom[300];

	(void)state;
	/* local part: 64 octets as written */
	snprintf(s, sizeof(s), "<%s@x>", rep('a', 64));
	ok(s, 0, rep('a', 64), "x");
	snprintf(s, sizeof(s), "<%s@x>", rep('a', 65));
	bad(s, 0, ADDR_ERR_LOCAL_TOO_LONG);
	snprintf(s, sizeof(s), "%s@x", rep('a', 65));
	bad(s, 0, ADDR_ERR_LOCAL_TOO_LONG);
	snprintf(s, sizeof(s), "<%s@x>", rep('a', 1000));
	bad(s, 0, ADDR_ERR_LOCAL_TOO_LONG);
	snprintf(s, sizeof(s), "<\"%s\"@x>", rep('a', 62));	/* 64 */
	ok(s, 0, rep('a', 62), "x");
	snprintf(s, sizeof(s), "<\"%s\"@x>", rep('a', 63));	/* 65 */
	bad(s, 0, ADDR_ERR_LOCAL_TOO_LONG);
	snprintf(s, sizeof(s), "<\"%s\"@x>", rep('\\', 64));	/* 66 */
	bad(s, 0, ADDR_ERR_LOCAL_TOO_LONG);

	/* domain: 255 octets */
	domain_of_len(dom, 255);
	assert_int_equal(strlen(dom), 255);
	assert_true(addr_domain_valid(dom, 255, 0));
	domain_of_len(dom, 256);
	assert_false(addr_domain_valid(dom, 256, 0));
	snprintf(s, sizeof(s), "<a@%s>", dom);
	bad(s, 0, ADDR_ERR_DOMAIN_TOO_LONG);
	snprintf(s, sizeof(s), "a@%s", dom);
	bad(s, 0, ADDR_ERR_DOMAIN_TOO_LONG);
	snprintf(s, sizeof(s), "<a@[%s]>", rep('1', 260));
	bad(s, 0, ADDR_ERR_DOMAIN_TOO_LONG);

	/* path: 256 octets including "<" and ">" */
	domain_of_len(dom, 252);
	snprintf(s, sizeof(s), "<a@%s>", dom);			/* 256 */
	ok(s, 0, "a", dom);
	domain_of_len(dom, 253);
	snprintf(s, sizeof(s), "<a@%s>", dom);			/* 257 */
	bad(s, 0, ADDR_ERR_PATH_TOO_LONG);
	snprintf(s, sizeof(s), "a@%s", dom);			/* 255 + <> */
	bad(s, 0, ADDR_ERR_PATH_TOO_LONG);
	domain_of_len(dom, 255);
	snprintf(s, sizeof(s), "<%s@%s>", rep('a', 64), dom);	/* 322 */
	bad(s, 0, ADDR_ERR_PATH_TOO_LONG);
	domain_of_len(dom, 189);
	snprintf(s, sizeof(s), "<%s@%s>", rep('a', 64), dom);	/* 256 */
	ok(s, 0, rep('a', 64), dom);
	/* a source route counts towards the path */
	domain_of_len(dom, 200);
	snprintf(s, sizeof(s), "<@%s:a@%s>", dom, "x.org");
	assert_true(strlen(s) > 200 && strlen(s) <= 256);
	ok(s, 0, "a", "x.org");
	snprintf(s, sizeof(s), "<@%s,@%s:a@x.org>", dom, "y.org");
	assert_true(strlen(s) <= 256);
	ok(s, 0, "a", "x.org");
	domain_of_len(dom, 250);
	snprintf(s, sizeof(s), "<@%s:a@x.org>", dom);
	bad(s, 0, ADDR_ERR_PATH_TOO_LONG);
}

/* inert - s is either a syntax error or parses into exactly want */
static void inert(const char *s, const char *want)
{
	struct smtp_path p;
	size_t used;
	enum addr_err e = parse_n(s, strlen(s), ALL, &p, &used);

	if (!want) {
		assert_int_equal(e, ADDR_ERR_SYNTAX);
		return;
	}
	assert_int_equal(e, ADDR_OK);
	assert_string_equal(p.local, want);
	assert_string_equal(p.domain, "x");
}

static void test_shell_metachars(void **state)
{
	(void)state;
	/* Checklist A: rejected or stored as inert data, never interpreted */
	inert("<;sleep 5;>", NULL);
	inert("<;sleep 5;@x>", NULL);
	inert("<`id`@x>", "`id`");
	inert("<$(id)@x>", NULL);
	inert("<|cmd@x>", "|cmd");
	inert("<${run{/bin/id}}@x>", "${run{/bin/id}}");
	inert("<a;b@x>", NULL);
	inert("<a&b@x>", "a&b");
	inert("<\"$(id)\"@x>", "$(id)");
	inert("<\";sleep 5;\"@x>", ";sleep 5;");
	inert("<a\\b@x>", NULL);
	inert("<a<b@x>", NULL);
}

static void test_non_ascii(void **state)
{
	struct smtp_path p;
	size_t used;

	(void)state;
	/* Checklist A: non-ASCII without SMTPUTF8 */
	bad("<\xc3\xbc@x>", 0, ADDR_ERR_UTF8);
	bad("\xc3\xbc@x", ALL, ADDR_ERR_UTF8);
	bad("<a@\xc3\xbc.de>", 0, ADDR_ERR_UTF8);
	bad("<\"\xc3\xbc\"@x>", 0, ADDR_ERR_UTF8);
	bad("<a@[1.2.3.\xc3\xbc]>", 0, ADDR_ERR_UTF8);
	bad("<\xff@x>", 0, ADDR_ERR_UTF8);

	/* with SMTPUTF8 (RFC 6531) */
	assert_int_equal(parse_n("<\xc3\xbc@x>", 6, ADDR_ALLOW_UTF8, &p, &used),
			 ADDR_OK);
	assert_int_equal(p.utf8, 1);
	assert_string_equal(p.local, "\xc3\xbc");
	ok("<\xe2\x82\xac.a@x>", ADDR_ALLOW_UTF8, "\xe2\x82\xac.a", "x");
	ok("<\xf0\x9f\x98\x80@x>", ADDR_ALLOW_UTF8, "\xf0\x9f\x98\x80", "x");
	ok("<\xf4\x8f\xbf\xbf@x>", ADDR_ALLOW_UTF8, "\xf4\x8f\xbf\xbf", "x");
	ok("<\"\xc3\xbc b\"@x>", ADDR_ALLOW_UTF8, "\xc3\xbc b", "x");
	ok("<a@M\xc3\xbcNCHEN.de>", ADDR_ALLOW_UTF8, "a", "m\xc3\xbcnchen.de");
	ok("<a@\xc3\xbc.>", ADDR_ALLOW_UTF8, "a", "\xc3\xbc");
	fmt("<\xc3\xbc@x>", ADDR_ALLOW_UTF8, "\xc3\xbc@x");
	assert_int_equal(parse_n("<a@\xc3\xbc.de>", 9, ADDR_ALLOW_UTF8, &p,
				 &used), ADDR_OK);
	assert_int_equal(p.utf8, 1);

	/* invalid UTF-8 is a syntax error even with SMTPUTF8 */
	bad("<\xc0\x80@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);	/* overlong */
	bad("<\xc1\xbf@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xe0\x80\xaf@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xf0\x80\x80\xaf@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xed\xa0\x80@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX); /* D800 */
	bad("<\xed\xbf\xbf@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xf4\x90\x80\x80@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xf5\x80\x80\x80@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xff@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\x80@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xc3@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);	/* truncated */
	bad("<\xe2\x82@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<\xf0\x9f\x98@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("a@b\xc3", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);	/* at the end */
	bad("<\"\xc3\"@x>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
	bad("<a@[1.2.3.\xc3\xbc]>", ADDR_ALLOW_UTF8, ADDR_ERR_SYNTAX);
}

static void test_nul(void **state)
{
	struct smtp_path p;
	size_t used;

	(void)state;
	assert_int_equal(parse_n("<a\0@b>", 6, ALL, &p, &used), ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("<a@b\0>", 6, ALL, &p, &used), ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("<\"a\0\"@b>", 8, ALL, &p, &used),
			 ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("a@b\0", 4, ALL, &p, &used), ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("\0", 1, ALL, &p, &used), ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("<>\0", 3, ALL, &p, &used), ADDR_ERR_SYNTAX);
	assert_int_equal(parse_n("<a@b> X=\0", 9, ALL, &p, &used),
			 ADDR_ERR_SYNTAX);
	/* the length is what counts, not a terminating NUL */
	assert_int_equal(parse_n("<a@b>zzz", 5, ALL, &p, &used), ADDR_OK);
	assert_int_equal(used, 5);
	assert_int_equal(parse_n("a@bc", 3, ALL, &p, &used), ADDR_OK);
	assert_string_equal(p.domain, "b");
}

static void test_routing_tricks(void **state)
{
	(void)state;
	/* Checklist F: %, ! and quoted @ are local-part data */
	ok("<u%foreign.example@ourdomain>", 0, "u%foreign.example", "ourdomain");
	ok("<foreign.example!u@ourdomain>", 0, "foreign.example!u", "ourdomain");
	ok("<\"u@foreign.example\"@ourdomain>", 0, "u@foreign.example",
	   "ourdomain");
	fmt("<u%foreign.example@ourdomain>", 0, "u%foreign.example@ourdomain");
	fmt("<\"u@foreign.example\"@ourdomain>", 0,
	    "\"u@foreign.example\"@ourdomain");
	/* double at-sign */
	bad("<u@foreign.example@ourdomain>", 0, ADDR_ERR_SYNTAX);
	bad("u@foreign.example@ourdomain", 0, ADDR_ERR_SYNTAX);
	bad("<a@b@c>", 0, ADDR_ERR_SYNTAX);
	bad("<a@@b>", 0, ADDR_ERR_SYNTAX);
	/* source routes are parsed and stripped (RFC 5321 4.1.1.3) */
	ok("<@ourdomain:u@foreign.example>", 0, "u", "foreign.example");
	ok("<@a,@b:u@ourdomain>", 0, "u", "ourdomain");
	ok("<@a.example,@[1.2.3.4]:u@ourdomain>", 0, "u", "ourdomain");
	bad("<@a:>", 0, ADDR_ERR_SYNTAX);
	bad("<@a>", 0, ADDR_ERR_SYNTAX);
	bad("<@:u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@a,b:u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@a;u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@a,:u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@-a:u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@a:@b:u@x>", 0, ADDR_ERR_SYNTAX);
	bad("<@a:postmaster>", ALL, ADDR_ERR_SYNTAX);
	bad("@a:u@x", 0, ADDR_ERR_SYNTAX);	/* routes only in brackets */
	/* name variants canonicalise to one form */
	fmt("<u@OurDomain.>", 0, "u@ourdomain");
	fmt("u@ourdomain", 0, "u@ourdomain");
}

static void test_format(void **state)
{
	struct smtp_path p;
	char small[6];
	size_t used;

	(void)state;
	assert_int_equal(parse_n("<abc@example.org>", 17, 0, &p, &used),
			 ADDR_OK);
	assert_int_equal(addr_format(&p, NULL, 0), 15);
	assert_int_equal(addr_format(&p, small, sizeof(small)), 5);
	assert_string_equal(small, "abc@e");
	assert_int_equal(addr_format(&p, small, 1), 0);
	assert_string_equal(small, "");
	small[0] = 'z';
	assert_int_equal(addr_format(&p, small, 0), 0);
	assert_int_equal(small[0], 'z');

	/* worst case fits ADDR_TEXT_MAX */
	{
		char s[400], dom[300], txt[ADDR_TEXT_MAX + 1];

		domain_of_len(dom, 189);
		snprintf(s, sizeof(s), "<\"%s\"@%s>", rep('\\', 62), dom);
		assert_int_equal(parse_n(s, strlen(s), 0, &p, &used), ADDR_OK);
		assert_int_equal(p.local_len, 31);
		assert_true(addr_format(&p, NULL, 0) <= ADDR_TEXT_MAX);
		addr_format(&p, txt, sizeof(txt));
		/* the canonical form parses back to the same path */
		{
			struct smtp_path q;

			snprintf(s, sizeof(s), "<%s>", txt);
			assert_int_equal(parse_n(s, strlen(s), 0, &q, &used),
					 ADDR_OK);
			assert_string_equal(q.local, p.local);
			assert_string_equal(q.domain, p.domain);
		}
	}
}

static void test_domain_valid(void **state)
{
	(void)state;
	assert_true(addr_domain_valid("mail.example.com", 16, 0));
	assert_true(addr_domain_valid("localhost", 9, 0));
	assert_true(addr_domain_valid("x.", 2, 0));
	assert_true(addr_domain_valid("123.com", 7, 0));
	assert_true(addr_domain_valid("[1.2.3.4]", 9, 0));
	assert_true(addr_domain_valid("[IPv6:::1]", 10, 0));
	assert_true(addr_domain_valid("m\xc3\xbc.de", 6, 1));
	assert_false(addr_domain_valid("m\xc3\xbc.de", 6, 0));
	assert_false(addr_domain_valid("m\xc3.de", 5, 1));
	assert_false(addr_domain_valid("", 0, 0));
	assert_false(addr_domain_valid(".", 1, 0));
	assert_false(addr_domain_valid("x..", 3, 0));
	assert_false(addr_domain_valid("x..y", 4, 0));
	assert_false(addr_domain_valid("1.2.3.4", 7, 0));
	assert_false(addr_domain_valid("[300.1.1.1]", 11, 0));
	assert_false(addr_domain_valid("-x.com", 6, 0));
	assert_false(addr_domain_valid("a b", 3, 0));
	assert_false(addr_domain_valid("a\0b", 3, 0));
	assert_false(addr_domain_valid("a\r\n", 3, 0));
	assert_false(addr_domain_valid("a@b", 3, 0));
	assert_false(addr_domain_valid("[1.2.3.4]x", 10, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_forms),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_quoted_local),
		cmocka_unit_test(test_dot_string),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_shell_metachars),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_routing_tricks),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_domain_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

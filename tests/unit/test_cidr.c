/* test_cidr - unit tests for conf/cidr: parsing single networks and lists,
 * host-bit zeroing, matching IPv4, IPv6 and IPv4-mapped IPv6 clients. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "conf/cidr.h"

/* addr_of - a socket address for a numeric IPv4 or IPv6 address */
static struct sockaddr_storage addr_of(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

/* matches - does the list text contain the address ip? */
static int matches(const char *list, const char *ip)
{
	struct cidr_list l;
	struct sockaddr_storage ss = addr_of(ip);
	const char *bad = NULL;
	int r;

	assert_int_equal(cidr_list_parse(list, &l, &bad), 0);
	r = cidr_list_match(&l, (struct sockaddr *)&ss);
	cidr_list_free(&l);
	return r;
}

static void test_parse_v4(void **state)
{
	struct cidr c;
	const unsigned char net[4] = { 10, 0, 0, 0 };
	const unsigned char host[4] = { 192, 168, 1, 7 };
	const unsigned char odd[4] = { 172, 16, 0, 0 };

	(void)state;
	assert_int_equal(cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 8);
	assert_memory_equal(c.addr, net, 4);
	assert_int_equal(cidr_parse("192.168.1.7", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_memory_equal(c.addr, host, 4);
	assert_int_equal(cidr_parse("172.31.255.255/12", &c), 0);
	assert_memory_equal(c.addr, odd, 4);
	assert_int_equal(cidr_parse("1.2.3.4/0", &c), 0);
	assert_int_equal(c.bits, 0);
	assert_int_equal(c.addr[0], 0);
	assert_int_equal(cidr_parse("1.2.3.4/32", &c), 0);
}

static void test_parse_v6(void **state)
{
	struct cidr c;
	unsigned char want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12 };

	(void)state;
	assert_int_equal(cidr_parse("2001:db8:1234::1/36", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.bits, 36);
	want[4] = 0x10;		/* 0x12 with the low nibble cut off */
	assert_memory_equal(c.addr, want, 16);
	assert_int_equal(cidr_parse("::1", &c), 0);
	assert_int_equal(c.bits, 128);
	assert_int_equal(c.addr[15], 1);
	assert_int_equal(cidr_parse("::/0", &c), 0);
	assert_int_equal(cidr_parse("::ffff:10.0.0.1/128", &c), 0);
	assert_int_equal(c.family, AF_INET6);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
		"10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8", " 10.0.0.1",
		"10.0.0.1 ", "10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4.5",
		"::1/129", "::1/", "1::2::3", "fe80::1%eth0", "localhost",
		"10.0.0.0/999999999999999999999", "0x0a.0.0.1",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc",
	};
	struct cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], &c) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_list_parse(void **state)
{
	struct cidr_list l;
	const char *bad = NULL;

	(void)state;
	assert_int_equal(cidr_list_parse("127.0.0.1/32, ::1/128 10.0.0.0/8,,",
					 &l, &bad), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[1].family, AF_INET6);
	cidr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);

	assert_int_equal(cidr_list_parse("", &l, &bad), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(cidr_list_parse(" , \t", &l, &bad), 0);
	assert_int_equal(l.n, 0);
	cidr_list_free(&l);

	assert_int_equal(cidr_list_parse("10.0.0.0/8, 300.1.1.1, ::1", &l,
					 &bad), -1);
	assert_string_equal(bad, "300.1.1.1");
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_int_equal(cidr_list_parse("10.0.0.0/8 x", &l, NULL), -1);
}

static void test_list_bad_truncated(void **state)
{
	char long_item[300];
	struct cidr_list l;
	const char *bad = NULL;

	(void)state;
	memset(long_item, 'a', sizeof(long_item) - 1);
	long_item[sizeof(long_item) - 1] = '\0';
	assert_int_equal(cidr_list_parse(long_item, &l, &bad), -1);
	assert_non_null(bad);
	assert_true(strlen(bad) < 100);
	assert_int_equal(strncmp(bad, "aaaa", 4), 0);
}

static void test_match_v4(void **state)
{
	(void)state;
	assert_true(matches("10.0.0.0/8", "10.255.1.2"));
	assert_false(matches("10.0.0.0/8", "11.0.0.1"));
	assert_true(matches("192.168.1.0/25", "192.168.1.127"));
	assert_false(matches("192.168.1.0/25", "192.168.1.128"));
	assert_true(matches("127.0.0.1", "127.0.0.1"));
	assert_false(matches("127.0.0.1", "127.0.0.2"));
	assert_false(matches("", "127.0.0.1"));
	assert_false(matches("::/0", "127.0.0.1"));	/* no v6 for v4 */
}

static void test_match_v6(void **state)
{
	(void)state;
	assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(matches("2001:db8::/32", "2001:db9::1"));
	assert_true(matches("::1/128", "::1"));
	assert_false(matches("::1/128", "::2"));
	assert_true(matches("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(matches("2001:db8::/33", "2001:db8:8000::1"));
	assert_false(matches("0.0.0.0/0", "2001:db8::1"));
}

static void test_match_mapped(void **state)
{
	(void)state;
	assert_true(matches("127.0.0.0/8", "::ffff:127.0.0.1"));
	assert_true(matches("10.1.0.0/16", "::ffff:10.1.200.3"));
	assert_false(matches("10.1.0.0/16", "::ffff:10.2.0.3"));
	assert_true(matches("::ffff:0:0/96", "::ffff:1.2.3.4"));
	/* only ::ffff:0:0/96 is mapped; IPv4-compatible ::a.b.c.d is not */
	assert_false(matches("1.2.3.4", "::1.2.3.4"));
}

static void test_match_zero(void **state)
{
	(void)state;
	assert_true(matches("0.0.0.0/0", "203.0.113.9"));
	assert_true(matches("0.0.0.0/0", "::ffff:203.0.113.9"));
	assert_true(matches("::/0", "2001:db8::1"));
	assert_true(matches("::/0", "::ffff:203.0.113.9"));
}

static void test_match_other_family(void **state)
{
	struct cidr_list l;
	struct sockaddr sa;

	(void)state;
	assert_int_equal(cidr_list_parse("0.0.0.0/0 ::/0", &l, NULL), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_false(cidr_list_match(&l, &sa));
	assert_false(cidr_list_match(&l, NULL));
	cidr_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_bad_truncated),
		cmocka_unit_test(test_match_v4),
		cmocka_unit_test(test_match_v6),
		cmocka_unit_test(test_match_mapped),
		cmocka_unit_test(test_match_zero),
		cmocka_unit_test(test_match_other_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

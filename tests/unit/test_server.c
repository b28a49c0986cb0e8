/* test_server - unit tests for the per-address accounting of
 * server/server.c: which client addresses count as one client for the
 * connection and AUTH limits (IPv4 exact, v4-mapped IPv6 as IPv4, IPv6 per
 * /64). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "server/server.h"

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

/* same - server_same_client on two numeric addresses */
static int same(const char *a, const char *b)
{
	struct sockaddr_storage x = addr_of(a), y = addr_of(b);

	return server_same_client((struct sockaddr *)&x, (struct sockaddr *)&y);
}

/* test_same_client - the table of pairs */
static void test_same_client(void **state)
{
	static const struct {
		const char *a, *b;
		int same;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1", 1 },
		{ "192.0.2.1", "192.0.2.2", 0 },		/* IPv4: exact */
		{ "192.0.2.1", "::ffff:192.0.2.1", 1 },	/* v4-mapped is IPv4 */
		{ "192.0.2.1", "::ffff:192.0.2.2", 0 },
		{ "2001:db8:1:2::1", "2001:db8:1:2::1", 1 },
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1 },	/* one /64 */
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },	/* the next /64 */
		{ "2001:db8:1:2::1", "2001:db9:1:2::1", 0 },
		{ "::1", "::2", 1 },				/* loopback /64 */
		{ "c000:201::", "192.0.2.1", 0 },		/* same leading bytes */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (same(cases[i].a, cases[i].b) != cases[i].same)
			fail_msg("%s vs %s: expected %d", cases[i].a, cases[i].b, cases[i].same);
		assert_int_equal(same(cases[i].b, cases[i].a), cases[i].same);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

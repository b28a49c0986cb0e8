/* test_config - unit tests for conf/config: the embedded default, a full
 * file, continuation lines, every kind of error with its line number,
 * several errors collected from one file, errors from the tables, the
 * reference count, local domains and trace clients. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/tables.h"
#include "testutil.h"


/* put - write text to dir/name; path gets the file name (PATH_MAX bytes) */
static void put(const char *name, const char *text, char *path)
{
	tu_write_file(tu_path(path, PATH_MAX, tu_dir, name), text);
}

/* load_text - config_load of text written to dir/mailport.conf */
static struct config *load_text(const char *text, buf_t *err)
{
	char path[PATH_MAX];

	put("mailport.conf", text, path);
	return config_load(path, err);
}

/* strip_paths - the error text with the "<path>:" of every line removed */
static char *strip_paths(const buf_t *err)
{
	char *out = calloc(1, err->len + 1), *o = out;
	const char *s = err->data ? err->data : "";

	assert_non_null(out);
	while (*s) {
		const char *colon = strchr(s, ':'), *nl = strchr(s, '\n');

		assert_non_null(colon);
		assert_non_null(nl);
		memcpy(o, colon + 1, (size_t)(nl - colon));
		o += nl - colon;
		s = nl + 1;
	}
	return out;
}

/* expect_errors - loading text fails with exactly want ("line: msg\n"...) */
static void expect_errors(const char *text, const char *want)
{
	struct config *c;
	buf_t err;
	char *got;

	buf_init(&err);
	c = load_text(text, &err);
	got = strip_paths(&err);
	if (c || strcmp(got, want) != 0)
		fail_msg("for:\n%s\ngot %s:\n%s\nwanted:\n%s", text,
			 c ? "a config" : "NULL", got, want);
	free(got);
	buf_free(&err);
}

/* expect_ok - loading text succeeds without errors */
static struct config *expect_ok(const char *text)
{
	struct config *c;
	buf_t err;

	buf_init(&err);
	c = load_text(text, &err);
	if (!c || err.len)
		fail_msg("for:\n%s\nerrors:\n%s", text, err.data ? err.data : "");
	buf_free(&err);
	return c;
}

/* sa_of - socket address of a numeric IP */
static struct sockaddr_storage sa_of(const char *ip)
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

/* relays - is ip in the relay networks? */
static int relays(const struct config *c, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);

	return cidr_list_match(&c->relay_networks, (struct sockaddr *)&ss);
}

/* traces - is a client at ip traced? */
static int traces(const struct config *c, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);

	return config_trace_client(c, (struct sockaddr *)&ss);
}

/* test_tls_rules - [tls] cert and key together; TLS listeners need them;
 * roles of listen / submission / submissions */
static void test_tls_rules(void **state)
{
	struct config *c;

	(void)state;
	expect_errors("[tls]\ncert = /x/cert.pem\n",
		      "2: [tls] cert and key must be given together\n");
	expect_errors("[server]\nsubmissions = 127.0.0.1:465\n",
		      "2: [server] submissions needs [tls] cert and key\n");
	expect_errors("[server]\nsubmission = 127.0.0.1:587\n",
		      "2: [server] submission needs [tls] cert and key "
		      "(or [tls] allow_plaintext_auth = yes)\n");
	expect_errors("[tls]\nallow_plaintext_auth = maybe\n",
		      "2: [tls] allow_plaintext_auth: 'maybe' is not yes or no\n");
	c = expect_ok("[server]\nlisten = 127.0.0.1:25\nsubmission = 127.0.0.1:587, [::1]:587\n"
		      "max_auth_failures = 5\n[tls]\nallow_plaintext_auth = yes\n"
		      "[submission]\nsender_must_match_login = yes\n");
	assert_int_equal(c->nlisten, 3);
	assert_int_equal(c->listen[0].role, ROLE_MX);
	assert_int_equal(c->listen[1].role, ROLE_SUBMISSION);
	assert_int_equal(c->listen[2].role, ROLE_SUBMISSION);
	assert_int_equal(c->max_auth_failures, 5);
	assert_true(c->allow_plaintext_auth);
	assert_true(c->sender_must_match_login);
	assert_null(c->tls_cert);	/* a file config has no TLS unless it says so */
	config_unref(c);
	c = expect_ok("[server]\nhostname = mx.example.test\n[local]\ndomains = example.test\n");
	assert_true(config_is_local_domain(c, "example.test"));
	assert_true(config_is_local_domain(c, "mx.example.test"));	/* the host itself */
	assert_false(config_is_local_domain(c, "other.test"));
	config_unref(c);
}

/* test_listen_count - at most CONFIG_MAX_LISTEN addresses in all (they go
 * to the worker in one message); the lenient load (mailport reload) keeps
 * what parsed around a broken line */
static void test_listen_count(void **state)
{
	char text[8192], path[PATH_MAX];
	struct config *c;
	buf_t err;
	int i, n;

	(void)state;
	for (n = CONFIG_MAX_LISTEN; n <= CONFIG_MAX_LISTEN + 1; n++) {
		int k = snprintf(text, sizeof(text), "[server]\nlisten = ");

		for (i = 0; i < n; i++)
			k += snprintf(text + k, sizeof(text) - (size_t)k, "%s127.0.0.1:%d",
				      i ? ",\n  " : "", 20000 + i);
		snprintf(text + k, sizeof(text) - (size_t)k, "\n");
		if (n == CONFIG_MAX_LISTEN) {
			c = expect_ok(text);
			assert_int_equal(c->nlisten, CONFIG_MAX_LISTEN);
			config_unref(c);
		} else {
			expect_errors(text, "2: [server] listen, submission and submissions: "
					    "at most 62 addresses in all\n");
		}
	}
	tu_write_file(tu_path(path, sizeof(path), tu_dir, "broken.conf"),
		      "[server]\nspool = /srv/spool\nbogus line\n");
	buf_init(&err);
	assert_null(config_load(path, &err));
	buf_reset(&err);
	c = config_load_lenient(path, &err);
	assert_non_null(c);
	assert_string_equal(c->spool, "/srv/spool");
	assert_non_null(strstr(err.data, "broken.conf:3:"));
	config_unref(c);
	buf_free(&err);
}

/* test_limits_independent - a per-address limit above the total one is
 * accepted (the total limit simply answers first) */
static void test_limits_independent(void **state)
{
	struct config *c;

	(void)state;
	c = expect_ok("[server]\nmax_connections = 10\n");
	assert_int_equal(c->max_connections, 10);
	assert_int_equal(c->max_connections_per_ip, 50);
	config_unref(c);
}

static void test_defaults(void **state)
{
	struct config *c;
	buf_t err;
	char host[HOST_NAME_MAX + 1] = "";
	const struct sockaddr_in *sin;

	(void)state;
	buf_init(&err);
	c = config_load(NULL, &err);
	assert_non_null(c);
	assert_int_equal(err.len, 0);
	assert_int_equal(c->refs, 1);
	assert_null(c->path);
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		assert_string_equal(c->hostname, host);
	else
		assert_string_equal(c->hostname, "localhost");
	/* the embedded default: MX on 2525, submission on 5587, submissions
	 * on 5465, with a self-signed pair under ./var/tls */
	assert_int_equal(c->nlisten, 3);
	assert_string_equal(c->listen[0].text, "127.0.0.1:2525");
	assert_int_equal(c->listen[0].role, ROLE_MX);
	assert_string_equal(c->listen[1].text, "127.0.0.1:5587");
	assert_int_equal(c->listen[1].role, ROLE_SUBMISSION);
	assert_string_equal(c->listen[2].text, "127.0.0.1:5465");
	assert_int_equal(c->listen[2].role, ROLE_SUBMISSIONS);
	assert_string_equal(c->tls_cert, "./var/tls/cert.pem");
	assert_true(c->tls_selfsigned);
	assert_null(c->tls_ctx);		/* built by config_load_tls, not here */
	sin = (const struct sockaddr_in *)&c->listen[0].ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 2525);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in));
	assert_string_equal(c->spool, "./var/spool");
	assert_string_equal(c->user, "mailport");
	assert_string_equal(c->banner, "ESMTP ready");
	assert_int_equal(c->max_message_size, 36700160);
	assert_int_equal(c->max_recipients, 1000);
	assert_int_equal(c->max_errors, 10);
	assert_int_equal(c->timeout, 300);
	assert_int_equal(c->max_connections_per_ip, 50);
	assert_int_equal(c->max_connections, 1000);
	assert_int_equal(c->greet_pause_ms, 0);
	assert_int_equal(c->trace_all, 0);
	assert_int_equal(c->trace_networks.n, 0);
	assert_int_equal(c->log_debug, 0);
	assert_int_equal(c->ndomains, 1);
	assert_string_equal(c->domains[0], "localhost");
	assert_true(config_is_local_domain(c, "localhost"));
	assert_false(config_is_local_domain(c, "example.test"));
	assert_string_equal(c->mailboxes, "./var/mail");
	assert_null(c->users_path);
	assert_null(c->aliases_path);
	assert_null(c->users);
	assert_null(c->aliases);
	assert_int_equal(c->relay_networks.n, 2);
	assert_true(relays(c, "127.0.0.1"));
	assert_true(relays(c, "::1"));
	assert_true(relays(c, "::ffff:127.0.0.1"));
	assert_false(relays(c, "127.0.0.2"));
	assert_false(traces(c, "127.0.0.1"));
	config_unref(c);
	c = config_load(NULL, NULL);	/* no error buffer needed */
	assert_non_null(c);
	config_unref(c);
	buf_free(&err);
}

static void test_refcount(void **state)
{
	struct config *c = config_load(NULL, NULL);

	(void)state;
	assert_non_null(c);
	config_ref(c);
	config_ref(c);
	assert_int_equal(c->refs, 3);
	config_unref(c);
	config_unref(c);
	assert_int_equal(c->refs, 1);
	config_unref(c);	/* frees: ASan would report a leak otherwise */
	config_unref(NULL);
}

static void test_full_file(void **state)
{
	char users[PATH_MAX], aliases[PATH_MAX], text[4 * PATH_MAX];
	const struct sockaddr_in6 *sin6;
	const char *const *t;
	struct config *c;
	size_t n;

	(void)state;
	put("users", "alice@example.test:$6$s$h\nbob@example.net\n", users);
	put("aliases", "postmaster: alice@example.test\n", aliases);
	snprintf(text, sizeof(text),
		"; mailport test configuration\n"
		"# both comment styles\n"
		"[server]\n"
		"hostname = MX.Example.Test.   ; inline comment\n"
		"listen = 127.0.0.1:2525, [::1]:2525 0.0.0.0:25\n"
		"spool = /var/spool/mailport\n"
		"user = mail-port_1\n"
		"banner = ESMTP ready;no comment without a blank\n"
		"max_message_size = 1099511627776\n"
		"max_recipients = 1000000\n"
		"max_errors = 1\n"
		"timeout = 86400\n"
		"max_connections_per_ip = 7\n"
		"max_connections = 100000\n"
		"greet_pause = 60000\n"
		"trace = 10.0.0.0/8, 2001:db8::/32\n"
		"log_level = DEBUG\n"
		"\n"
		"[Local]\n"
		"  domains = Example.TEST, example.net. example.test\n"
		"mailboxes = /var/mail/mailport\n"
		"users = %s\n"
		"aliases = %s\n"
		"[relay]\n"
		"networks = 192.168.0.0/16\n",
		users, aliases);
	c = expect_ok(text);
	assert_non_null(c->path);
	assert_string_equal(c->hostname, "MX.Example.Test");
	assert_int_equal(c->nlisten, 3);
	assert_string_equal(c->listen[0].text, "127.0.0.1:2525");
	assert_string_equal(c->listen[1].text, "[::1]:2525");
	assert_string_equal(c->listen[2].text, "0.0.0.0:25");
	sin6 = (const struct sockaddr_in6 *)&c->listen[1].ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 2525);
	assert_int_equal(c->listen[1].len, sizeof(struct sockaddr_in6));
	assert_string_equal(c->spool, "/var/spool/mailport");
	assert_string_equal(c->user, "mail-port_1");
	assert_string_equal(c->banner, "ESMTP ready;no comment without a blank");
	assert_int_equal(c->max_message_size, 1LL << 40);
	assert_int_equal(c->max_recipients, 1000000);
	assert_int_equal(c->max_errors, 1);
	assert_int_equal(c->timeout, 86400);
	assert_int_equal(c->max_connections_per_ip, 7);
	assert_int_equal(c->max_connections, 100000);
	assert_int_equal(c->greet_pause_ms, 60000);
	assert_int_equal(c->trace_all, 0);
	assert_true(traces(c, "10.9.8.7"));
	assert_true(traces(c, "::ffff:10.9.8.7"));
	assert_true(traces(c, "2001:db8::25"));
	assert_false(traces(c, "127.0.0.1"));
	assert_int_equal(c->log_debug, 1);
	assert_int_equal(c->ndomains, 2);
	assert_string_equal(c->domains[0], "example.test");
	assert_string_equal(c->domains[1], "example.net");
	assert_true(config_is_local_domain(c, "example.net"));
	assert_false(config_is_local_domain(c, "localhost"));
	assert_string_equal(c->mailboxes, "/var/mail/mailport");
	assert_string_equal(c->users_path, users);
	assert_string_equal(c->aliases_path, aliases);
	assert_non_null(c->users);
	assert_int_equal(users_count(c->users), 2);
	assert_string_equal(users_hash(c->users, "Alice@example.test"), "$6$s$h");
	t = aliases_lookup(c->aliases, "postmaster", "example.net", &n);
	assert_non_null(t);
	assert_int_equal(n, 1);
	assert_string_equal(t[0], "alice@example.test");
	assert_int_equal(c->relay_networks.n, 1);
	assert_true(relays(c, "192.168.44.1"));
	assert_false(relays(c, "127.0.0.1"));
	config_unref(c);
}

static void test_continuation_lines(void **state)
{
	struct config *c;

	(void)state;
	c = expect_ok("[server]\n"
		      "listen = 127.0.0.1:25,\n"
		      "\t[::1]:25\n"
		      "; a comment does not end the list\n"
		      "    127.0.0.1:587\n"
		      "trace =\n"
		      "  192.0.2.0/24\n"
		      "  198.51.100.0/24\n"
		      "\n"
		      "    spool = /indented/after/a/blank/line\n"
		      "[local]\n"
		      "domains = a.test\n"
		      "  b.test, c.test\n"
		      "[relay]\n"
		      "networks =\n");
	assert_int_equal(c->nlisten, 3);
	assert_string_equal(c->listen[1].text, "[::1]:25");
	assert_string_equal(c->listen[2].text, "127.0.0.1:587");
	assert_true(traces(c, "198.51.100.9"));
	assert_true(traces(c, "192.0.2.1"));
	assert_string_equal(c->spool, "/indented/after/a/blank/line");
	assert_int_equal(c->ndomains, 3);
	assert_string_equal(c->domains[2], "c.test");
	assert_int_equal(c->relay_networks.n, 0);	/* empty: nobody */
	assert_false(relays(c, "127.0.0.1"));
	config_unref(c);
}

static void test_long_list(void **state)
{
	buf_t text;
	struct config *c;
	size_t i;

	(void)state;
	buf_init(&text);
	buf_puts(&text, "[local]\ndomains =\n");
	for (i = 0; i < 500; i++)
		buf_printf(&text, "  d%zu.example.test, e%zu.example.test\n", i, i);
	c = expect_ok(text.data);
	assert_int_equal(c->ndomains, 1000);
	assert_true(config_is_local_domain(c, "e499.example.test"));
	config_unref(c);
	buf_free(&text);
}

static void test_trace_values(void **state)
{
	static const char *const yes[] = { "yes", "True", "ON", "1" };
	static const char *const no[] = { "no", "false", "Off", "0", "" };
	char text[64];
	struct config *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "[server]\ntrace = %s\n", yes[i]);
		c = expect_ok(text);
		assert_int_equal(c->trace_all, 1);
		assert_true(traces(c, "203.0.113.1"));
		assert_true(traces(c, "2001:db8::1"));
		config_unref(c);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "[server]\ntrace = %s\n", no[i]);
		c = expect_ok(text);
		assert_int_equal(c->trace_all, 0);
		assert_false(traces(c, "127.0.0.1"));
		config_unref(c);
	}
	c = expect_ok("[server]\ntrace = 127.0.0.1\n");
	assert_true(traces(c, "127.0.0.1"));
	assert_false(traces(c, "127.0.0.2"));
	config_unref(c);
}

static void test_bom_crlf_colon(void **state)
{
	struct config *c;

	(void)state;
	c = expect_ok("\xef\xbb\xbf[server]\r\nmax_errors: 3\r\nbanner =\r\n");
	assert_int_equal(c->max_errors, 3);
	assert_string_equal(c->banner, "");
	config_unref(c);
}

/* One line of a section and the error it gives (on line 2). */
struct bad_line {
	const char *line;
	const char *msg;
};

/* expect_line_errors - "[section]\n<line>\n" gives "2: <msg>" for each case */
static void expect_line_errors(const char *section, const struct bad_line *b,
			       size_t n)
{
	char text[512], want[512];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "[%s]\n%s\n", section, b[i].line);
		snprintf(want, sizeof(want), "2: %s\n", b[i].msg);
		expect_errors(text, want);
	}
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void test_server_errors(void **state)
{
	static const struct bad_line bad[] = {
		{ "hostname = bad_host", "[server] hostname: 'bad_host' is not a valid host name" },
		{ "hostname = -x.test", "[server] hostname: '-x.test' is not a valid host name" },
		{ "hostname = x-.test", "[server] hostname: 'x-.test' is not a valid host name" },
		{ "hostname = a..b", "[server] hostname: 'a..b' is not a valid host name" },
		{ "hostname =", "[server] hostname: '' is not a valid host name" },
		{ "hostname = a b", "[server] hostname: 'a b' is not a valid host name" },
		{ "listen = localhost:25", "[server] listen: 'localhost:25': not a numeric IPv4 address" },
		{ "listen = 127.0.0.1", "[server] listen: '127.0.0.1': expected host:port or [IPv6]:port" },
		{ "listen = 127.0.0.1:0", "[server] listen: '127.0.0.1:0': port must be 1..65535" },
		{ "listen = 127.0.0.1:65536", "[server] listen: '127.0.0.1:65536': port must be 1..65535" },
		{ "listen = 127.0.0.1:smtp", "[server] listen: '127.0.0.1:smtp': port must be 1..65535" },
		{ "listen = 127.0.0.1:", "[server] listen: '127.0.0.1:': port must be 1..65535" },
		{ "listen = ::1:25", "[server] listen: '::1:25': an IPv6 address needs brackets: [addr]:port" },
		{ "listen = [::1]25", "[server] listen: '[::1]25': expected host:port or [IPv6]:port" },
		{ "listen = [::g]:25", "[server] listen: '[::g]:25': not a numeric IPv6 address" },
		{ "listen = [1.2.3.4]:25", "[server] listen: '[1.2.3.4]:25': not a numeric IPv6 address" },
		{ "listen = 1.2.3.4:25 1.2.3.4:25", "[server] listen: '1.2.3.4:25' is listed twice" },
		{ "listen = [::1]:25 [0::1]:25", "[server] listen: '[0::1]:25' is listed twice" },
		{ "listen =", "[server] listen: at least one address is required" },
		{ "spool =", "[server] spool: a path is required" },
		{ "user = -root", "[server] user: '-root' is not a valid user name" },
		{ "user = a b", "[server] user: 'a b' is not a valid user name" },
		{ "user =", "[server] user: '' is not a valid user name" },
		{ "user = abcdefghijabcdefghijabcdefghijabc", "[server] user: 'abcdefghijabcdefghijabcdefghijabc' is not a valid user name" },
		{ "banner = caf\xc3\xa9", "[server] banner: only printable ASCII characters allowed" },
		{ "max_message_size = 0", "[server] max_message_size: '0' is not a number of bytes in 1..1099511627776" },
		{ "max_message_size = 1099511627777", "[server] max_message_size: '1099511627777' is not a number of bytes in 1..1099511627776" },
		{ "max_message_size = 99999999999999999999999", "[server] max_message_size: '99999999999999999999999' is not a number of bytes in 1..1099511627776" },
		{ "max_message_size = -5", "[server] max_message_size: '-5' is not a number of bytes in 1..1099511627776" },
		{ "max_message_size = 35M", "[server] max_message_size: '35M' is not a number of bytes in 1..1099511627776" },
		{ "max_recipients = 0", "[server] max_recipients: '0' is not a number in 1..1000000" },
		{ "max_recipients = 1000001", "[server] max_recipients: '1000001' is not a number in 1..1000000" },
		{ "max_errors = 0", "[server] max_errors: '0' is not a number in 1..1000" },
		{ "max_errors = 1001", "[server] max_errors: '1001' is not a number in 1..1000" },
		{ "max_errors = 10 # ten", "[server] max_errors: '10 # ten' is not a number in 1..1000" },
		{ "max_errors = 0x10", "[server] max_errors: '0x10' is not a number in 1..1000" },
		{ "max_errors = +5", "[server] max_errors: '+5' is not a number in 1..1000" },
		{ "max_errors =", "[server] max_errors: '' is not a number in 1..1000" },
		{ "timeout = 0", "[server] timeout: '0' is not a number in 1..86400" },
		{ "timeout = 86401", "[server] timeout: '86401' is not a number in 1..86400" },
		{ "max_connections_per_ip = 0", "[server] max_connections_per_ip: '0' is not a number in 1..100000" },
		{ "max_connections_per_ip = 100001", "[server] max_connections_per_ip: '100001' is not a number in 1..100000" },
		{ "max_connections = 0", "[server] max_connections: '0' is not a number in 1..100000" },
		{ "max_connections = 100001", "[server] max_connections: '100001' is not a number in 1..100000" },
		{ "greet_pause = 60001", "[server] greet_pause: '60001' is not a number in 0..60000" },
		{ "greet_pause = -1", "[server] greet_pause: '-1' is not a number in 0..60000" },
		{ "trace = maybe", "[server] trace: 'maybe' is not an IP address or network" },
		{ "trace = 10.0.0.0/40", "[server] trace: '10.0.0.0/40' is not an IP address or network" },
		{ "log_level = verbose", "[server] log_level: 'verbose' is not info or debug" },
		{ "unknown_key = 1", "[server] unknown key 'unknown_key'" },
		{ "= 5", "[server] unknown key ''" },
		{ "no equals sign", "expected 'key = value', got 'no equals sign'" },
		{ "key ; = 1", "expected 'key = value', got 'key ; = 1'" },
		{ "ctl = a\001b", "control character in line" },
		{ "del = a\177b", "control character in line" },
		{ "[server", "malformed section header '[server'" },
		{ "[ser ver]", "malformed section header '[ser ver]'" },
		{ "[]", "malformed section header '[]'" },
		{ "[server] junk", "malformed section header '[server] junk'" },
		{ "[nosuch]", "unknown section [nosuch]" },
		{ "[sumbission] ; misspelt", "unknown section [sumbission]" },
	};

	(void)state;
	expect_line_errors("server", bad, N_OF(bad));
}

static void test_local_relay_errors(void **state)
{
	static const struct bad_line local[] = {
		{ "domains = bad_domain", "[local] domains: 'bad_domain' is not a valid domain name" },
		{ "domains = a.test, -b.test", "[local] domains: '-b.test' is not a valid domain name" },
		{ "domains = a.test..", "[local] domains: 'a.test..' is not a valid domain name" },
		{ "domains = .", "[local] domains: '.' is not a valid domain name" },
		{ "domains = [127.0.0.1]", "[local] domains: '[127.0.0.1]' is not a valid domain name" },
		{ "domains =", "[local] domains: at least one domain is required" },
		{ "mailboxes =", "[local] mailboxes: a path is required" },
		{ "hostname = x.test", "[local] unknown key 'hostname'" },
		{ "networks = 10.0.0.0/8", "[local] unknown key 'networks'" },
	};
	static const struct bad_line relay[] = {
		{ "networks = 10.0.0.0/33", "[relay] networks: '10.0.0.0/33' is not an IP address or network" },
		{ "networks = 10.0.0.0/8 bogus", "[relay] networks: 'bogus' is not an IP address or network" },
		{ "networks = 10.0.0.0/8 1.2.3.4/ ::1/200",
		  "[relay] networks: '1.2.3.4/' is not an IP address or network\n"
		  "2: [relay] networks: '::1/200' is not an IP address or network" },
	};

	(void)state;
	expect_line_errors("local", local, N_OF(local));
	expect_line_errors("relay", relay, N_OF(relay));
}

static void test_structure_errors(void **state)
{
	(void)state;
	expect_errors("hostname = x.test\n[server]\n",
		      "1: key 'hostname' outside of any section\n");
	expect_errors("[server]\ntimeout = 5\n[local]\n[server]\nTIMEOUT = 6\n",
		      "5: [server] duplicate key 'timeout' (first set at line 2)\n");
	expect_errors("[server]\nbanner = a\n  b\n",
		      "3: [server] banner: only lists may go on over several lines\n");
	expect_errors("[server]\ntrace = yes\n 10.0.0.0/8\n",
		      "3: [server] trace: yes/no cannot be continued with a list\n");
	/* keys of an unknown section are skipped after one error */
	expect_errors("[nosuch]\ncert = x\n  more\nkey = y\n[server]\nbogus = 1\n"
		      "  continued\n",
		      "1: unknown section [nosuch]\n"
		      "6: [server] unknown key 'bogus'\n");
	/* a continuation of a broken line is not reported again */
	expect_errors("[server]\nbroken line\n  10.0.0.1\n",
		      "2: expected 'key = value', got 'broken line'\n");
	expect_errors("[server]\n= 5\n  10.0.0.1\n",
		      "2: [server] unknown key ''\n");
	expect_errors("[relay]\nnetworks = 10.0.0.0/8\n  10.0.0.300\n",
		      "3: [relay] networks: '10.0.0.300' is not an IP address or network\n");
}

static void test_long_line(void **state)
{
	buf_t text, err;
	struct config *c;
	char *got;

	(void)state;
	buf_init(&text);
	buf_init(&err);
	buf_puts(&text, "[server]\nbanner = ");
	while (text.len < 5000)
		buf_puts(&text, "x");
	buf_puts(&text, "\n  and its continuation\nmax_errors = 0\n");
	c = load_text(text.data, &err);
	assert_null(c);
	got = strip_paths(&err);
	assert_non_null(strstr(got, "2: line too long (at most "));
	assert_non_null(strstr(got, "\n4: [server] max_errors: '0' is not"));
	free(got);
	buf_free(&text);
	buf_free(&err);
}

static void test_many_errors(void **state)
{
	(void)state;
	expect_errors("; everything wrong at once\n"
		      "[server]\n"
		      "listen = 1.2.3.4, 5.6.7.8:99999\n"
		      "max_errors = none\n"
		      "bogus = 1\n"
		      "[nosuch]\n"
		      "cert = /etc/cert.pem\n"
		      "[local]\n"
		      "domains = ok.test bad!domain\n"
		      "domains = again.test\n"
		      "[relay]\n"
		      "networks = 300.0.0.0/8\n"
		      "[server]\n"
		      "timeout = -1\n",
		      "3: [server] listen: '1.2.3.4': expected host:port or [IPv6]:port\n"
		      "3: [server] listen: '5.6.7.8:99999': port must be 1..65535\n"
		      "4: [server] max_errors: 'none' is not a number in 1..1000\n"
		      "5: [server] unknown key 'bogus'\n"
		      "6: unknown section [nosuch]\n"
		      "9: [local] domains: 'bad!domain' is not a valid domain name\n"
		      "10: [local] duplicate key 'domains' (first set at line 9)\n"
		      "12: [relay] networks: '300.0.0.0/8' is not an IP address or network\n"
		      "14: [server] timeout: '-1' is not a number in 1..86400\n");
}

static void test_too_many_errors(void **state)
{
	buf_t text, err;
	size_t i, lines = 0;

	(void)state;
	buf_init(&text);
	buf_init(&err);
	buf_puts(&text, "[server]\n");
	for (i = 0; i < 500; i++)
		buf_puts(&text, "junk\n");
	assert_null(load_text(text.data, &err));
	for (i = 0; i < err.len; i++)
		lines += err.data[i] == '\n';
	assert_int_equal(lines, 100);
	assert_non_null(strstr(err.data, ":101: too many errors, giving up\n"));
	buf_free(&text);
	buf_free(&err);
}

static void test_table_errors(void **state)
{
	char users[PATH_MAX], aliases[PATH_MAX], text[4 * PATH_MAX];
	char want[8 * PATH_MAX];
	buf_t err;

	(void)state;
	put("users", "good@example.test\nbad\n", users);
	put("aliases", "ok: a\nx: |/bin/sh\n", aliases);
	snprintf(text, sizeof(text),
		 "[local]\nusers = %s\naliases = %s\n[server]\ntimeout = 0\n",
		 users, aliases);
	buf_init(&err);
	assert_null(load_text(text, &err));
	snprintf(want, sizeof(want),
		 "%s/mailport.conf:5: [server] timeout: '0' is not a number in 1..86400\n"
		 "%s:2: address 'bad': not an address (local@domain)\n"
		 "%s:2: alias target '|/bin/sh': delivery to a command is not supported\n",
		 tu_dir, users, aliases);
	assert_string_equal(err.data, want);
	buf_free(&err);

	expect_errors("[local]\nusers = /nonexistent/mailport/users\n",
		      " cannot open: No such file or directory\n");
}

static void test_optional_tables_empty(void **state)
{
	struct config *c;

	(void)state;
	c = expect_ok("[local]\nusers =\naliases =\n");
	assert_null(c->users_path);
	assert_null(c->users);
	assert_null(c->aliases);
	config_unref(c);
}

static void test_missing_file(void **state)
{
	buf_t err;

	(void)state;
	buf_init(&err);
	assert_null(config_load("/nonexistent/mailport.conf", &err));
	assert_string_equal(err.data, "/nonexistent/mailport.conf: cannot open: "
			    "No such file or directory\n");
	assert_null(config_load("/nonexistent/mailport.conf", NULL));
	buf_free(&err);
}

static void test_errors_null(void **state)
{
	char path[PATH_MAX];

	(void)state;
	put("mailport.conf", "[server]\ntimeout = 0\n[bad]\n", path);
	assert_null(config_load(path, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limits_independent),
		cmocka_unit_test(test_tls_rules),
		cmocka_unit_test(test_listen_count),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_continuation_lines),
		cmocka_unit_test(test_long_list),
		cmocka_unit_test(test_trace_values),
		cmocka_unit_test(test_bom_crlf_colon),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_local_relay_errors),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_optional_tables_empty),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_errors_null),
	};

	return cmocka_run_group_tests(tests, tu_dir_setup, tu_dir_teardown);
}

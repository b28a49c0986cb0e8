/* test_dns - unit tests of src/dns: the DNS message parser (dnsmsg.c) on
 * crafted packets, smarthost and server-list parsing, and the resolver
 * (dns.c) and MX routing (route.c) against a real dnsmasq.
 *
 * The dnsmasq runs on 127.0.0.153 at a free high port, loopback only,
 * with no upstream and no resolv.conf: `--local=/test/` makes every
 * unknown name under test. NXDOMAIN, the only --server points at a closed
 * port on 127.0.0.1 (fail.test: dnsmasq never answers, so c-ares times
 * out).  SERVFAIL and silence are played by a tiny responder inside this
 * process on 127.0.0.1.  No query can leave the machine: every resolver
 * here is given its servers explicitly, never resolv.conf.  If dnsmasq
 * cannot be started the live group fails loudly (never skips to the
 * system resolver).
 *
 * Live tests cover: MX preference order and the shuffling of equal
 * preferences (seeded), the implicit MX, the null MX, NXDOMAIN, timeout
 * and SERVFAIL -> tempfail without an A fallback, unresolvable MX hosts
 * skipped (all skipped -> tempfail), the MX host bound, address
 * literals and smarthosts, the TTL cache with a fake clock (hit within the
 * TTL, miss after it, negative caching by the SOA or a fixed time, the
 * size bound, tempfail never cached), a truncated answer retried over
 * TCP, A, AAAA,
 * PTR and TXT lookups, shared queries, cancelling, and dns_free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "dns/dnsmsg.h"
#include "dns/route.h"
#include "testutil.h"

#ifndef DNSMASQ_BIN
#define DNSMASQ_BIN "/usr/sbin/dnsmasq"
#endif
#define DNSMASQ_ADDR "127.0.0.153"
#define LOCAL_TTL 300
#define RUN_LIMIT_SEC 5

/* ------------------------------------------------------------------ */
/* packet building */

struct pkt {
	unsigned char b[2048];
	size_t n;
};

/* p_u8 - append a byte */
static void p_u8(struct pkt *p, unsigned v)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = (unsigned char)v;
}

/* p_u16 - append a big-endian 16-bit value */
static void p_u16(struct pkt *p, unsigned v)
{
	p_u8(p, (v >> 8) & 0xff);
	p_u8(p, v & 0xff);
}

/* p_u32 - append a big-endian 32-bit value */
static void p_u32(struct pkt *p, uint32_t v)
{
	p_u16(p, v >> 16);
	p_u16(p, v & 0xffff);
}

/* p_labels - append the labels of a dotted name, without the root */
static void p_labels(struct pkt *p, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");

		p_u8(p, (unsigned)l);
		assert_true(p->n + l <= sizeof(p->b));
		memcpy(p->b + p->n, name, l);
		p->n += l;
		name += l;
		if (*name == '.')
			name++;
	}
}

/* p_name - append a whole uncompressed name */
static void p_name(struct pkt *p, const char *name)
{
	p_labels(p, name);
	p_u8(p, 0);
}

/* p_ptr - append a compression pointer to off */
static void p_ptr(struct pkt *p, size_t off)
{
	p_u16(p, 0xc000 | (unsigned)off);
}

/* p_hdr - start a message: id 0x1234, flags, counts */
static void p_hdr(struct pkt *p, unsigned flags, unsigned qd, unsigned an,
		  unsigned ns)
{
	p->n = 0;
	p_u16(p, 0x1234);
	p_u16(p, flags);
	p_u16(p, qd);
	p_u16(p, an);
	p_u16(p, ns);
	p_u16(p, 0);
}

/* p_rr - append type, class IN, ttl and a 0 RDLENGTH to patch; returns
 * where RDLENGTH is */
static size_t p_rr(struct pkt *p, unsigned type, uint32_t ttl)
{
	size_t at;

	p_u16(p, type);
	p_u16(p, 1);
	p_u32(p, ttl);
	at = p->n;
	p_u16(p, 0);
	return at;
}

/* p_end - patch the RDLENGTH at `at` to what follows it */
static void p_end(struct pkt *p, size_t at)
{
	size_t len = p->n - at - 2;

	p->b[at] = (unsigned char)(len >> 8);
	p->b[at + 1] = (unsigned char)len;
}

/* p_question - header (response, NOERROR unless rcode) and one question */
static void p_question(struct pkt *p, unsigned rcode, unsigned an,
		       unsigned ns, const char *name, unsigned type)
{
	p_hdr(p, 0x8180 | rcode, 1, an, ns);
	p_name(p, name);
	p_u16(p, type);
	p_u16(p, 1);
}

/* ------------------------------------------------------------------ */
/* dnsmsg: pure tests */

static void test_name_ok(void **state)
{
	char out[DNS_NAME_SIZE];
	char big[300];

	(void)state;
	assert_true(dns_name_ok("example.com"));
	assert_true(dns_name_ok("example.com."));
	assert_true(dns_name_ok("_dmarc.x-y.example"));
	assert_true(dns_name_ok("localhost"));
	assert_false(dns_name_ok(""));
	assert_false(dns_name_ok("."));
	assert_false(dns_name_ok("a..b"));
	assert_false(dns_name_ok(".a"));
	assert_false(dns_name_ok("a b.example"));
	assert_false(dns_name_ok("a\\.b"));
	assert_false(dns_name_ok("exa\xc3\xa9mple.com"));
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(dns_name_ok(big));		/* label of 64 */
	big[63] = '\0';
	assert_true(dns_name_ok(big));
	memset(big, 'a', sizeof(big));
	for (size_t i = 1; i < 254; i += 2)
		big[i] = '.';
	big[253] = '\0';			/* 253 bytes: a.a.a... */
	assert_true(dns_name_ok(big));
	big[253] = 'a';
	big[254] = 'a';
	big[255] = '\0';
	assert_false(dns_name_ok(big));
	assert_int_equal(dns_name_norm(out, "MX1.Example.COM."), 0);
	assert_string_equal(out, "mx1.example.com");
	assert_int_equal(dns_name_norm(out, "bad name"), -1);
}

static void test_parse_mx_compressed(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	p_question(&p, 0, 3, 0, "Example.COM", DNS_T_MX);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_MX, 300);
	p_u16(&p, 10);
	p_labels(&p, "MX1");
	p_ptr(&p, 12);
	p_end(&p, at);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_MX, 100);
	p_u16(&p, 20);
	p_labels(&p, "mx2");
	p_ptr(&p, 12);
	p_end(&p, at);
	/* a record of another owner: ignored, counted */
	p_name(&p, "other.example");
	at = p_rr(&p, DNS_T_MX, 5);
	p_u16(&p, 1);
	p_name(&p, "evil.example");
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 64,
				      &m), 0);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.dropped, 1);
	assert_int_equal(m.rr[0].pref, 10);
	assert_string_equal(m.rr[0].name, "mx1.example.com");
	assert_int_equal(m.rr[1].pref, 20);
	assert_string_equal(m.rr[1].name, "mx2.example.com");
	assert_int_equal(m.ttl, 100);
	dnsmsg_free(&m);

	/* max_rr bounds what is kept */
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 1,
				      &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.dropped, 2);
	dnsmsg_free(&m);
}

static void test_parse_cname_chain(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	p_question(&p, 0, 4, 0, "alias.example", DNS_T_A);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_CNAME, 50);
	p_name(&p, "real.example");
	p_end(&p, at);
	p_name(&p, "real.example");
	at = p_rr(&p, DNS_T_A, 600);
	p_u32(&p, 0xc0000201);		/* 192.0.2.1 */
	p_end(&p, at);
	p_name(&p, "unrelated.example");	/* not on the chain */
	at = p_rr(&p, DNS_T_A, 600);
	p_u32(&p, 0x0a000001);
	p_end(&p, at);
	p_name(&p, "real.example");	/* bad RDATA length: dropped */
	at = p_rr(&p, DNS_T_A, 600);
	p_u16(&p, 1);
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "ALIAS.example.", DNS_T_A, 64,
				      &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.dropped, 2);
	assert_int_equal(ntohl(m.rr[0].addr.a.s_addr), 0xc0000201);
	assert_int_equal(m.ttl, 50);	/* the CNAME's TTL bounds it */
	dnsmsg_free(&m);
}

static void test_parse_malformed(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	/* a pointer to itself */
	p_question(&p, 0, 1, 0, "example.com", DNS_T_MX);
	at = p.n;
	p_ptr(&p, at);
	p_rr(&p, DNS_T_MX, 1);
	errno = 0;
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 64,
				      &m), -1);
	assert_int_equal(errno, EBADMSG);

	/* two pointers to each other, inside an MX RDATA */
	p_question(&p, 0, 1, 0, "example.com", DNS_T_MX);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_MX, 1);
	p_u16(&p, 0);
	p_labels(&p, "a");
	p_ptr(&p, p.n + 2 + 1);	/* forward: to the next pointer */
	p_labels(&p, "b");
	p_ptr(&p, p.n - 4);
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 64,
				      &m), -1);

	/* RDATA running past the end */
	p_question(&p, 0, 1, 0, "example.com", DNS_T_A);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_A, 1);
	p_u16(&p, 0x7f00);
	p.b[at] = 0;
	p.b[at + 1] = 4;
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_A, 64,
				      &m), -1);

	/* a query, not a response */
	p_hdr(&p, 0x0100, 1, 0, 0);
	p_name(&p, "example.com");
	p_u16(&p, 1);
	p_u16(&p, 1);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_A, 64,
				      &m), -1);

	/* extended label type 0x40 */
	p_question(&p, 0, 0, 0, "example.com", DNS_T_A);
	p.b[12] = 0x41;
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_A, 64,
				      &m), -1);

	/* short header, truncated question */
	assert_int_equal(dnsmsg_parse(p.b, 11, "example.com", DNS_T_A, 64,
				      &m), -1);
	p_question(&p, 0, 0, 0, "example.com", DNS_T_A);
	assert_int_equal(dnsmsg_parse(p.b, p.n - 3, "example.com", DNS_T_A,
				      64, &m), -1);
}

static void test_parse_bad_names_dropped(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	p_question(&p, 0, 3, 0, "example.com", DNS_T_MX);
	p_ptr(&p, 12);			/* "mx one" with a space */
	at = p_rr(&p, DNS_T_MX, 60);
	p_u16(&p, 10);
	p_name(&p, "mx one.example");
	p_end(&p, at);
	p_ptr(&p, 12);			/* a NUL byte in a label */
	at = p_rr(&p, DNS_T_MX, 60);
	p_u16(&p, 20);
	p_u8(&p, 3);
	p_u8(&p, 'm');
	p_u8(&p, 0);
	p_u8(&p, 'x');
	p_u8(&p, 0);
	p_end(&p, at);
	p_ptr(&p, 12);			/* fine */
	at = p_rr(&p, DNS_T_MX, 60);
	p_u16(&p, 30);
	p_name(&p, "mx3.example");
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 64,
				      &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.dropped, 2);
	assert_string_equal(m.rr[0].name, "mx3.example");
	dnsmsg_free(&m);

	/* null MX: the root is "" */
	p_question(&p, 0, 1, 0, "example.com", DNS_T_MX);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_MX, 60);
	p_u16(&p, 0);
	p_u8(&p, 0);
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_MX, 64,
				      &m), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.rr[0].name, "");
	dnsmsg_free(&m);

	/* PTR to the root: dropped */
	p_question(&p, 0, 1, 0, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_PTR, 60);
	p_u8(&p, 0);
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "1.2.0.192.in-addr.arpa",
				      DNS_T_PTR, 64, &m), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(m.dropped, 1);
	dnsmsg_free(&m);
}

static void test_parse_negative_soa(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	p_question(&p, 3, 0, 1, "nosuch.example", DNS_T_MX);
	p_name(&p, "example");
	at = p_rr(&p, DNS_T_SOA, 900);
	p_name(&p, "ns.example");
	p_name(&p, "hostmaster.example");
	p_u32(&p, 1);
	p_u32(&p, 2);
	p_u32(&p, 3);
	p_u32(&p, 4);
	p_u32(&p, 120);			/* MINIMUM */
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "nosuch.example", DNS_T_MX,
				      64, &m), 0);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(m.n, 0);
	assert_true(m.has_soa);
	assert_int_equal(m.neg_ttl, 120);
	dnsmsg_free(&m);

	/* the SOA's own TTL is smaller; and a TTL with the top bit is 0 */
	p.b[at - 4] = 0;
	p.b[at - 3] = 0;
	p.b[at - 2] = 0;
	p.b[at - 1] = 30;
	assert_int_equal(dnsmsg_parse(p.b, p.n, "nosuch.example", DNS_T_MX,
				      64, &m), 0);
	assert_int_equal(m.neg_ttl, 30);
	dnsmsg_free(&m);
	p.b[at - 4] = 0x80;
	assert_int_equal(dnsmsg_parse(p.b, p.n, "nosuch.example", DNS_T_MX,
				      64, &m), 0);
	assert_int_equal(m.neg_ttl, 0);
	dnsmsg_free(&m);
}

static void test_parse_txt(void **state)
{
	struct pkt p;
	struct dnsmsg m;
	size_t at;

	(void)state;
	p_question(&p, 0, 2, 0, "example.com", DNS_T_TXT);
	p_ptr(&p, 12);
	at = p_rr(&p, DNS_T_TXT, 60);
	p_u8(&p, 6);
	memcpy(p.b + p.n, "v=spf1", 6);
	p.n += 6;
	p_u8(&p, 5);
	memcpy(p.b + p.n, " -all", 5);
	p.n += 5;
	p_end(&p, at);
	p_ptr(&p, 12);			/* a string longer than the RDATA */
	at = p_rr(&p, DNS_T_TXT, 60);
	p_u8(&p, 9);
	p_u8(&p, 'x');
	p_end(&p, at);
	assert_int_equal(dnsmsg_parse(p.b, p.n, "example.com", DNS_T_TXT, 64,
				      &m), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.dropped, 1);
	assert_int_equal(m.rr[0].txt_len, 11);
	assert_string_equal((const char *)m.rr[0].txt, "v=spf1 -all");
	dnsmsg_free(&m);
}

static void test_ptr_name(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char out[DNS_NAME_SIZE];

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.10", &sin.sin_addr);
	assert_int_equal(dns_ptr_name(out, (struct sockaddr *)&sin), 0);
	assert_string_equal(out, "10.2.0.192.in-addr.arpa");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::567:89ab", &sin6.sin6_addr);
	assert_int_equal(dns_ptr_name(out, (struct sockaddr *)&sin6), 0);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			    "0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_true(dns_name_ok(out));
}

/* ------------------------------------------------------------------ */
/* smarthost and server parsing */

/* addr_text - "ip:port" / "[ip]:port" of a */
static const char *addr_text(const struct route_addr *a, char *out,
			     size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&a->ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)&a->ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s->sin6_port));
	}
	return out;
}

static void test_parse_target(void **state)
{
	static const char *const bad[] = {
		"", ":25", "[127.0.0.1", "[127.0.0.1]x", "host:", "host:0",
		"host:65536", "host:25x", "::1", "2001:db8::1:25",
		"[IPv6:127.0.0.1]", "bad host", "a..b", "[]:25", "host:-1",
		NULL,
	};
	struct route_target t;
	char s[80];
	buf_t err;
	size_t i;

	(void)state;
	buf_init(&err);
	assert_int_equal(route_parse_target("Relay.Example.NET:587", &t, &err),
			 0);
	assert_string_equal(t.host, "relay.example.net");
	assert_int_equal(t.port, 587);
	assert_false(t.literal);
	assert_int_equal(route_parse_target("relay.example.net", &t, &err), 0);
	assert_int_equal(t.port, 0);
	assert_int_equal(route_parse_target("[relay.example.net]:25", &t,
					    &err), 0);
	assert_string_equal(t.host, "relay.example.net");
	assert_false(t.literal);
	assert_int_equal(route_parse_target("[192.0.2.1]:2525", &t, &err), 0);
	assert_true(t.literal);
	assert_string_equal(addr_text(&t.addr, s, sizeof(s)),
			    "192.0.2.1:2525");
	assert_int_equal(route_parse_target("192.0.2.1:26", &t, &err), 0);
	assert_true(t.literal);
	assert_string_equal(addr_text(&t.addr, s, sizeof(s)), "192.0.2.1:26");
	assert_int_equal(route_parse_target("[2001:db8::1]:25", &t, &err), 0);
	assert_true(t.literal);
	assert_string_equal(addr_text(&t.addr, s, sizeof(s)),
			    "[2001:db8::1]:25");
	assert_int_equal(route_parse_target("[IPv6:2001:db8::2]", &t, &err),
			 0);
	assert_true(t.literal);
	assert_string_equal(t.host, "2001:db8::2");
	assert_int_equal(t.port, 0);
	for (i = 0; bad[i]; i++) {
		buf_reset(&err);
		if (route_parse_target(bad[i], &t, &err) != -1)
			fail_msg("accepted smarthost \"%s\"", bad[i]);
		assert_non_null(strstr(err.data, "smarthost"));
	}
	buf_free(&err);
}

static void test_servers_setting(void **state)
{
	static const char *const bad[] = {
		"", " , ", "localhost", "127.0.0.1:0", "127.0.0.1:65536",
		"[::1]:", "::1:53x", "[127.0.0.1:53", "1.2.3.4:5:6",
		NULL,
	};
	struct event_base *base = event_base_new();
	struct dns_conf c;
	struct dns *d;
	buf_t err;
	size_t i;

	(void)state;
	assert_non_null(base);
	buf_init(&err);
	dns_conf_init(&c);
	for (i = 0; bad[i]; i++) {
		c.servers = bad[i];
		buf_reset(&err);
		d = dns_new(base, &c, &err);
		if (d) {
			dns_free(d);
			fail_msg("accepted servers \"%s\"", bad[i]);
		}
		assert_non_null(strstr(err.data, "dns servers"));
	}
	c.servers = "127.0.0.153:5353, [::1]:53 127.0.0.2 ::1 [::1]";
	buf_reset(&err);
	d = dns_new(base, &c, &err);
	if (!d)
		fail_msg("%s", err.data);
	dns_free(d);
	buf_free(&err);
	event_base_free(base);
}

/* ------------------------------------------------------------------ */
/* dnsmasq */

static pid_t dnsmasq_pid;
static int dnsmasq_port;
static int closed_port;
static char dnsmasq_log[256];

/* free_port - a port free for both UDP and TCP on addr just now */
static int free_port(const char *addr)
{
	for (int tries = 0; tries < 20; tries++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0);
		int port = 0;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin.sin_addr);
		if (u >= 0 && t >= 0 &&
		    bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
		    bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			port = ntohs(sin.sin_port);
		if (u >= 0)
			close(u);
		if (t >= 0)
			close(t);
		if (port > 1024)
			return port;
	}
	fail_msg("no free port on %s", addr);
	return -1;
}

/* probe - one A query for ready.test to addr:port; 1 if answered */
static int probe(const char *addr, int port)
{
	struct pkt p;
	struct sockaddr_in sin;
	struct timeval tv = { 0, 100000 };
	unsigned char reply[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	p_hdr(&p, 0x0100, 1, 0, 0);
	p_name(&p, "ready.test");
	p_u16(&p, DNS_T_A);
	p_u16(&p, 1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	sendto(fd, p.b, p.n, 0, (struct sockaddr *)&sin, sizeof(sin));
	n = recv(fd, reply, sizeof(reply), 0);
	close(fd);
	return n >= 12 && reply[0] == 0x12 && reply[1] == 0x34;
}

/* dnsmasq_exec - the child: exec dnsmasq with the test zone */
static void dnsmasq_exec(int port, int logfd)
{
	static char big[4][256];
	char a_port[32], a_fail[64];
	const char *argv[] = {
		DNSMASQ_BIN,
		"--no-resolv",
		"--no-hosts",
		"--conf-file=/dev/null",
		"--keep-in-foreground",
		a_port,
		"--listen-address=" DNSMASQ_ADDR,
		"--bind-interfaces",
		"--pid-file=",
		"--log-facility=-",
		"--user=root",
		"--group=root",	/* no setuid/setgid: PDEATHSIG survives */
		"--local=/test/",
		"--local=/in-addr.arpa/",
		"--local=/ip6.arpa/",
		"--local-ttl=300",
		a_fail,
		"--mx-host=multi.test,mx1.test,10",
		"--mx-host=multi.test,mx2a.test,20",
		"--mx-host=multi.test,mx2b.test,20",
		"--mx-host=multi.test,mx3.test,30",
		"--host-record=mx1.test,127.0.0.2,::2",
		"--host-record=mx2a.test,127.0.0.3",
		"--host-record=mx2b.test,127.0.0.4",
		"--host-record=mx3.test,127.0.0.5",
		"--host-record=implicit.test,127.0.0.6,::6",
		"--host-record=ready.test,127.0.0.1",
		"--dns-rr=nullmx.test,15,000000",
		"--mx-host=skip.test,nohost.test,10",
		"--mx-host=skip.test,mx3.test,20",
		"--mx-host=allskip.test,nohost.test,10",
		"--mx-host=allskip.test,nohost2.test,20",
		"--mx-host=many.test,m01.test,1",
		"--mx-host=many.test,m02.test,2",
		"--mx-host=many.test,m03.test,3",
		"--mx-host=many.test,m04.test,4",
		"--mx-host=many.test,m05.test,5",
		"--mx-host=many.test,m06.test,6",
		"--mx-host=many.test,m07.test,7",
		"--mx-host=many.test,m08.test,8",
		"--mx-host=many.test,m09.test,9",
		"--mx-host=many.test,m10.test,10",
		"--mx-host=many.test,m11.test,11",
		"--mx-host=many.test,m12.test,12",
		"--host-record=m01.test,127.0.1.1",
		"--host-record=m02.test,127.0.1.2",
		"--host-record=m03.test,127.0.1.3",
		"--host-record=m04.test,127.0.1.4",
		"--host-record=m05.test,127.0.1.5",
		"--host-record=m06.test,127.0.1.6",
		"--host-record=m07.test,127.0.1.7",
		"--host-record=m08.test,127.0.1.8",
		"--host-record=m09.test,127.0.1.9",
		"--host-record=m10.test,127.0.1.10",
		"--host-record=m11.test,127.0.1.11",
		"--host-record=m12.test,127.0.1.12",
		"--txt-record=txt.test,v=spf1 -all",
		big[0], big[1], big[2], big[3],
		NULL,
	};

	/* four 200-byte TXT records: over 512 bytes, so dnsmasq truncates
	 * the UDP answer and c-ares asks again over TCP */
	for (int i = 0; i < 4; i++) {
		int n = snprintf(big[i], sizeof(big[i]),
				 "--txt-record=big.test,");

		memset(big[i] + n, 'a' + i, 200);
		big[i][n + 200] = '\0';
	}

	snprintf(a_port, sizeof(a_port), "--port=%d", port);
	snprintf(a_fail, sizeof(a_fail), "--server=/fail.test/127.0.0.1#%d",
		 closed_port);
	dup2(logfd, 1);
	dup2(logfd, 2);
	/* if this test dies (a crash, a sanitizer abort) dnsmasq goes too */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	execv(DNSMASQ_BIN, (char *const *)(void *)argv);
	dprintf(2, "exec %s: %s\n", DNSMASQ_BIN, strerror(errno));
	_exit(127);
}

/* dnsmasq_log_dump - print dnsmasq's output (on failure) */
static void dnsmasq_log_dump(void)
{
	char *s = tu_slurp(dnsmasq_log, NULL);

	print_error("---- dnsmasq output (%s):\n%s----\n", dnsmasq_log, s);
	free(s);
}

/* dnsmasq_try - start dnsmasq on a fresh port; 0 when it answers */
static int dnsmasq_try(void)
{
	int logfd, status;

	dnsmasq_port = free_port(DNSMASQ_ADDR);
	logfd = open(dnsmasq_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0600);
	assert_true(logfd >= 0);
	dnsmasq_pid = fork();
	assert_true(dnsmasq_pid >= 0);
	if (dnsmasq_pid == 0)
		dnsmasq_exec(dnsmasq_port, logfd);
	close(logfd);
	for (int i = 0; i < 50; i++) {
		if (probe(DNSMASQ_ADDR, dnsmasq_port))
			return 0;
		if (waitpid(dnsmasq_pid, &status, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = 0;
			return -1;
		}
	}
	kill(dnsmasq_pid, SIGKILL);
	waitpid(dnsmasq_pid, &status, 0);
	dnsmasq_pid = 0;
	return -1;
}

/* dnsmasq_start - group setup: a dnsmasq serving the test zone, or fail */
static int dnsmasq_start(void **state)
{
	char dir[200];

	(void)state;
	if (access(DNSMASQ_BIN, X_OK) != 0) {
		print_error("test_dns: %s is missing: install dnsmasq-base "
			    "(scripts/deps.sh test); live DNS tests FAIL\n",
			    DNSMASQ_BIN);
		return -1;
	}
	tu_tmpdir(dir, sizeof(dir));
	tu_path(dnsmasq_log, sizeof(dnsmasq_log), dir, "dnsmasq.log");
	closed_port = free_port("127.0.0.1");
	for (int attempt = 0; attempt < 3; attempt++)
		if (dnsmasq_try() == 0)
			return 0;
	dnsmasq_log_dump();
	print_error("test_dns: dnsmasq did not start on %s; live DNS tests "
		    "FAIL\n", DNSMASQ_ADDR);
	return -1;
}

/* dnsmasq_stop - group teardown */
static int dnsmasq_stop(void **state)
{
	int status;

	(void)state;
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(dnsmasq_pid, &status, WNOHANG) ==
			    dnsmasq_pid) {
				dnsmasq_pid = 0;
				break;
			}
			usleep(20000);
		}
		if (dnsmasq_pid > 0) {
			kill(dnsmasq_pid, SIGKILL);
			waitpid(dnsmasq_pid, &status, 0);
		}
	}
	if (dnsmasq_log[0]) {
		char *slash = strrchr(dnsmasq_log, '/');

		*slash = '\0';
		tu_rm_rf(dnsmasq_log);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* live fixture */

/* A tiny in-process DNS server on 127.0.0.1 for what dnsmasq won't do. */
enum resp_mode { RESP_SERVFAIL_MX, RESP_SILENT, RESP_GARBAGE, RESP_NX_SOA };

struct responder {
	int fd;
	int port;
	enum resp_mode mode;
	struct event *ev;
	int queries;
};

struct fx {
	struct event_base *base;
	struct dns *d;
	time_t clock;
	struct responder resp;
	int timed_out;
};

/* fake_clock - the fixture's clock */
static time_t fake_clock(void *arg)
{
	return ((struct fx *)arg)->clock;
}

/* new_dns - a resolver on f's base for servers, with a short timeout */
static struct dns *new_dns(struct fx *f, const char *servers)
{
	struct dns_conf c;
	struct dns *d;
	buf_t err;

	dns_conf_init(&c);
	c.servers = servers;
	c.timeout_ms = 300;
	c.tries = 1;
	buf_init(&err);
	d = dns_new(f->base, &c, &err);
	if (!d)
		fail_msg("dns_new(%s): %s", servers, err.data);
	buf_free(&err);
	dns_set_clock(d, fake_clock, f);
	dns_seed(d, 42);
	return d;
}

/* setup - a base and a resolver that only knows the dnsmasq */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char servers[64];

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->clock = 1000;
	f->resp.fd = -1;
	snprintf(servers, sizeof(servers), DNSMASQ_ADDR ":%d", dnsmasq_port);
	f->d = new_dns(f, servers);
	*state = f;
	return 0;
}

/* teardown - free what setup and the responder made */
static int teardown(void **state)
{
	struct fx *f = *state;

	dns_free(f->d);
	if (f->resp.ev)
		event_free(f->resp.ev);
	if (f->resp.fd >= 0)
		close(f->resp.fd);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* resp_cb - answer one query as the responder's mode says */
static void resp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct responder *r = arg;
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	unsigned char q[512];
	ssize_t n;
	uint16_t type;

	(void)what;
	n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	if (n < 17)
		return;
	r->queries++;
	if (r->mode == RESP_SILENT)
		return;
	if (r->mode == RESP_GARBAGE) {
		q[2] = 0x81;		/* a response with a looping name */
		q[3] = 0x80;
		q[7] = 1;
		q[n] = 0xc0;
		q[n + 1] = (unsigned char)n;
		n += 2;
		sendto(fd, q, (size_t)n, 0, (struct sockaddr *)&from, flen);
		return;
	}
	if (r->mode == RESP_NX_SOA) {	/* NXDOMAIN, SOA TTL 900 MINIMUM 120 */
		static const unsigned char soa[] = {
			0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0x03, 0x84, 0, 28,
			1, 'n', 0xc0, 0x0c, 1, 'h', 0xc0, 0x0c,
			0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
			0, 0, 0, 120,
		};
		q[2] = 0x81;
		q[3] = 0x83;
		q[9] = 1;		/* NSCOUNT */
		memcpy(q + n, soa, sizeof(soa));
		n += (ssize_t)sizeof(soa);
		sendto(fd, q, (size_t)n, 0, (struct sockaddr *)&from, flen);
		return;
	}
	type = (uint16_t)((q[n - 4] << 8) | q[n - 3]);
	q[2] = 0x81;
	q[3] = type == DNS_T_MX ? 0x82 : 0x80;	/* SERVFAIL for MX */
	if (type == DNS_T_A) {		/* answer 127.0.0.9 */
		static const unsigned char rr[] = {
			0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4,
			127, 0, 0, 9,
		};
		q[7] = 1;
		memcpy(q + n, rr, sizeof(rr));
		n += (ssize_t)sizeof(rr);
	}
	sendto(fd, q, (size_t)n, 0, (struct sockaddr *)&from, flen);
}

/* responder_dns - start the responder in mode; a resolver that asks it */
static struct dns *responder_dns(struct fx *f, enum resp_mode mode)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char servers[64];

	f->resp.mode = mode;
	f->resp.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(f->resp.fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(f->resp.fd, (struct sockaddr *)&sin,
			      sizeof(sin)), 0);
	assert_int_equal(getsockname(f->resp.fd, (struct sockaddr *)&sin,
				     &len), 0);
	f->resp.port = ntohs(sin.sin_port);
	f->resp.ev = event_new(f->base, f->resp.fd, EV_READ | EV_PERSIST,
			       resp_cb, &f->resp);
	assert_non_null(f->resp.ev);
	event_add(f->resp.ev, NULL);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", f->resp.port);
	return new_dns(f, servers);
}

/* limit_cb - the run limit passed */
static void limit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct fx *)arg)->timed_out = 1;
}

/* run_until - run the loop until *count reaches want (fail after
 * RUN_LIMIT_SEC seconds) */
static void run_until(struct fx *f, const int *count, int want)
{
	struct timeval tv = { RUN_LIMIT_SEC, 0 };
	struct event *limit = evtimer_new(f->base, limit_cb, f);

	f->timed_out = 0;
	evtimer_add(limit, &tv);
	while (*count < want && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(limit);
	if (*count < want)
		fail_msg("timed out waiting for %d callbacks (got %d)", want,
			 *count);
}

/* run_idle - let the loop turn a few times (nothing should happen) */
static void run_idle(struct fx *f)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

/* ---- captured results ---- */

#define CAP_RR_MAX 16

struct got {
	int calls;
	enum dns_status status;
	uint32_t ttl;
	int cached;
	size_t n;
	char names[CAP_RR_MAX][DNS_NAME_SIZE];
	unsigned prefs[CAP_RR_MAX];
	char addrs[CAP_RR_MAX][INET6_ADDRSTRLEN];
	char txt[256];
	char why[64];
};

/* got_cb - keep a copy of a DNS result */
static void got_cb(void *arg, const struct dns_result *res)
{
	struct got *g = arg;

	g->calls++;
	g->status = res->status;
	g->ttl = res->ttl;
	g->cached = res->cached;
	g->n = res->n;
	snprintf(g->why, sizeof(g->why), "%s", res->why);
	for (size_t i = 0; i < res->n && i < CAP_RR_MAX; i++) {
		const struct dns_rr *rr = &res->rr[i];

		if (rr->name)
			snprintf(g->names[i], DNS_NAME_SIZE, "%s", rr->name);
		g->prefs[i] = rr->pref;
		if (rr->type == DNS_T_A)
			inet_ntop(AF_INET, &rr->addr.a, g->addrs[i],
				  INET6_ADDRSTRLEN);
		if (rr->type == DNS_T_AAAA)
			inet_ntop(AF_INET6, &rr->addr.aaaa, g->addrs[i],
				  INET6_ADDRSTRLEN);
		if (rr->txt)
			snprintf(g->txt, sizeof(g->txt), "%s", rr->txt);
	}
}

struct rgot {
	int calls;
	struct route r;
};

/* rgot_cb - keep a copy of a route */
static void rgot_cb(void *arg, const struct route *r)
{
	struct rgot *g = arg;

	g->calls++;
	g->r = *r;
}

/* route_of - route domain and wait for the answer */
static void route_of(struct fx *f, const char *domain,
		     const struct route_opts *o, struct rgot *g)
{
	memset(g, 0, sizeof(*g));
	assert_non_null(route_resolve(f->d, domain, o, rgot_cb, g));
	assert_int_equal(g->calls, 0);	/* never synchronous */
	run_until(f, &g->calls, 1);
}

/* host_addr - address i of route host h as text */
static const char *host_addr(const struct route *r, size_t h, size_t i,
			     char *out, size_t n)
{
	assert_true(h < r->nhosts);
	assert_true(i < r->hosts[h].naddrs);
	return addr_text(&r->hosts[h].addrs[i], out, n);
}

/* ---- live tests ---- */

static void test_mx_order(void **state)
{
	struct fx *f = *state;
	struct route_opts o = { .port = 0 };
	struct rgot g;
	char s[80];
	int ab = 0, ba = 0;

	route_of(f, "Multi.TEST.", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_string_equal(g.r.domain, "multi.test");
	assert_int_equal(g.r.nhosts, 4);
	assert_int_equal(g.r.nskipped, 0);
	assert_string_equal(g.r.hosts[0].name, "mx1.test");
	assert_int_equal(g.r.hosts[0].pref, 10);
	assert_false(g.r.hosts[0].implicit);
	assert_int_equal(g.r.hosts[1].pref, 20);
	assert_int_equal(g.r.hosts[2].pref, 20);
	assert_string_equal(g.r.hosts[3].name, "mx3.test");
	assert_int_equal(g.r.hosts[3].pref, 30);
	/* A and AAAA, IPv4 first by default, port 25 */
	assert_int_equal(g.r.hosts[0].naddrs, 2);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.2:25");
	assert_string_equal(host_addr(&g.r, 0, 1, s, sizeof(s)), "[::2]:25");
	assert_string_equal(host_addr(&g.r, 3, 0, s, sizeof(s)),
			    "127.0.0.5:25");
	assert_int_equal(g.r.hosts[3].naddrs, 1);

	o.prefer_inet6 = 1;
	o.port = 2525;
	route_of(f, "multi.test", &o, &g);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "[::2]:2525");
	assert_string_equal(host_addr(&g.r, 0, 1, s, sizeof(s)),
			    "127.0.0.2:2525");
	o.prefer_inet6 = 0;
	o.family = ROUTE_INET4;
	route_of(f, "multi.test", &o, &g);
	assert_int_equal(g.r.hosts[0].naddrs, 1);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.2:2525");

	/* equal preferences come in both orders; others never move */
	for (int i = 0; i < 40; i++) {
		route_of(f, "multi.test", NULL, &g);
		assert_int_equal(g.r.status, ROUTE_OK);
		assert_string_equal(g.r.hosts[0].name, "mx1.test");
		assert_string_equal(g.r.hosts[3].name, "mx3.test");
		if (strcmp(g.r.hosts[1].name, "mx2a.test") == 0) {
			assert_string_equal(g.r.hosts[2].name, "mx2b.test");
			ab++;
		} else {
			assert_string_equal(g.r.hosts[1].name, "mx2b.test");
			assert_string_equal(g.r.hosts[2].name, "mx2a.test");
			ba++;
		}
	}
	assert_true(ab >= 5);		/* p(fail) ~ 2^-40 * 40^5: nil */
	assert_true(ba >= 5);
}

static void test_shuffle_seeded(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	char first[2][16][DNS_NAME_SIZE];

	for (int round = 0; round < 2; round++) {
		dns_seed(f->d, 7);
		for (int i = 0; i < 16; i++) {
			route_of(f, "multi.test", NULL, &g);
			snprintf(first[round][i], DNS_NAME_SIZE, "%s",
				 g.r.hosts[1].name);
		}
	}
	for (int i = 0; i < 16; i++)
		assert_string_equal(first[0][i], first[1][i]);
}

static void test_implicit_mx(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	char s[80];

	route_of(f, "implicit.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_int_equal(g.r.nhosts, 1);
	assert_string_equal(g.r.hosts[0].name, "implicit.test");
	assert_int_equal(g.r.hosts[0].pref, 0);
	assert_true(g.r.hosts[0].implicit);
	assert_int_equal(g.r.hosts[0].naddrs, 2);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.6:25");
	assert_string_equal(host_addr(&g.r, 0, 1, s, sizeof(s)), "[::6]:25");

	/* no MX and no address: the implicit MX is unusable */
	route_of(f, "mx1.test", NULL, &g);	/* has A/AAAA: fine */
	assert_int_equal(g.r.status, ROUTE_OK);
	route_of(f, "nullmx.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_NULLMX);
}

static void test_noaddr(void **state)
{
	struct fx *f = *state;
	struct rgot g;

	/* txt.test exists (TXT) but has neither MX nor A/AAAA */
	route_of(f, "txt.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_NOADDR);
	assert_int_equal(g.r.nhosts, 0);
	assert_non_null(strstr(g.r.text, "txt.test"));
}

static void test_null_mx(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	struct dns_stats st;

	route_of(f, "nullmx.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_NULLMX);
	assert_int_equal(g.r.nhosts, 0);
	assert_non_null(strstr(g.r.text, "null MX"));
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 1);	/* no A/AAAA asked */
}

static void test_nxdomain(void **state)
{
	struct fx *f = *state;
	struct rgot g;

	route_of(f, "nosuch.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_NXDOMAIN);
	assert_int_equal(g.r.nhosts, 0);
	assert_non_null(strstr(g.r.text, "NXDOMAIN"));
}

static void test_timeout_tempfail(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	struct dns_stats st;

	/* dnsmasq forwards fail.test to a closed port and never answers */
	route_of(f, "fail.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);
	assert_non_null(strstr(g.r.text, "MX lookup for fail.test failed"));
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 1);	/* no A/AAAA fallback */
	assert_int_equal(st.tempfails, 1);
}

static void test_servfail_no_fallback(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	struct got a;
	struct dns_stats st;

	dns_free(f->d);
	f->d = responder_dns(f, RESP_SERVFAIL_MX);
	/* the responder has an A record for everything */
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "srv.example", DNS_T_A, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_OK);
	assert_string_equal(a.addrs[0], "127.0.0.9");

	route_of(f, "srv.example", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);
	if (!strstr(g.r.text, "SERVFAIL"))
		fail_msg("text: %s", g.r.text);
	/* a tempfail is never cached: the next route asks again */
	route_of(f, "srv.example", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 3);
	assert_int_equal(f->resp.queries, 3);
	assert_int_equal(st.hits, 0);
}

static void test_silent_and_garbage(void **state)
{
	struct fx *f = *state;
	struct got a;

	dns_free(f->d);
	f->d = responder_dns(f, RESP_SILENT);
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "quiet.example", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_string_equal(a.why, "timeout");

	f->resp.mode = RESP_GARBAGE;
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "garbage.example", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_TEMPFAIL);
	assert_string_equal(a.why, "malformed answer");
}

static void test_skip_unresolvable(void **state)
{
	struct fx *f = *state;
	struct rgot g;

	route_of(f, "skip.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_int_equal(g.r.nhosts, 1);
	assert_string_equal(g.r.hosts[0].name, "mx3.test");
	assert_int_equal(g.r.hosts[0].pref, 20);
	assert_int_equal(g.r.nskipped, 1);
	assert_non_null(strstr(g.r.text, "nohost.test"));

	route_of(f, "allskip.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);
	assert_int_equal(g.r.nhosts, 0);
	assert_int_equal(g.r.nskipped, 2);
	assert_non_null(strstr(g.r.text, "nohost2.test"));
}

static void test_many_mx_bounded(void **state)
{
	struct fx *f = *state;
	struct rgot g;
	struct dns_stats st;

	route_of(f, "many.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_int_equal(g.r.nhosts, ROUTE_HOSTS_MAX);
	assert_int_equal(g.r.nskipped, 2);
	for (size_t i = 0; i < g.r.nhosts; i++)
		assert_int_equal(g.r.hosts[i].pref, i + 1);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 1 + 2 * ROUTE_HOSTS_MAX);
}

static void test_literals_and_relay(void **state)
{
	struct fx *f = *state;
	struct route_target t;
	struct rgot g;
	struct dns_stats st;
	char s[80];
	buf_t err;

	route_of(f, "[127.0.0.9]", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_int_equal(g.r.nhosts, 1);
	assert_string_equal(g.r.hosts[0].name, "127.0.0.9");
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.9:25");
	route_of(f, "[IPv6:::1]", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)), "[::1]:25");
	route_of(f, "[::1]", NULL, &g);		/* RFC 5321 needs the tag */
	assert_int_equal(g.r.status, ROUTE_BADNAME);
	route_of(f, "[999.1.1.1]", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_BADNAME);
	route_of(f, "bad..name", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_BADNAME);
	route_of(f, "a\r\nb.test", NULL, &g);
	assert_int_equal(g.r.status, ROUTE_BADNAME);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 0);

	buf_init(&err);
	assert_int_equal(route_parse_target("[127.0.0.8]:2525", &t, &err), 0);
	memset(&g, 0, sizeof(g));
	assert_non_null(route_relay(f->d, &t, NULL, rgot_cb, &g));
	run_until(f, &g.calls, 1);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.8:2525");

	/* a smarthost name: A/AAAA only, never MX (multi.test has no A) */
	assert_int_equal(route_parse_target("mx1.test:2526", &t, &err), 0);
	memset(&g, 0, sizeof(g));
	assert_non_null(route_relay(f->d, &t, NULL, rgot_cb, &g));
	run_until(f, &g.calls, 1);
	assert_int_equal(g.r.status, ROUTE_OK);
	assert_string_equal(g.r.hosts[0].name, "mx1.test");
	assert_string_equal(host_addr(&g.r, 0, 0, s, sizeof(s)),
			    "127.0.0.2:2526");
	assert_int_equal(route_parse_target("multi.test", &t, &err), 0);
	memset(&g, 0, sizeof(g));
	assert_non_null(route_relay(f->d, &t, NULL, rgot_cb, &g));
	run_until(f, &g.calls, 1);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);
	assert_int_equal(route_parse_target("nohost.test", &t, &err), 0);
	memset(&g, 0, sizeof(g));
	assert_non_null(route_relay(f->d, &t, NULL, rgot_cb, &g));
	run_until(f, &g.calls, 1);
	assert_int_equal(g.r.status, ROUTE_TEMPFAIL);	/* never bounce */
	buf_free(&err);
}

static void test_cache_ttl(void **state)
{
	struct fx *f = *state;
	struct dns_stats st;
	struct got a;

	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "multi.test", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.ttl, LOCAL_TTL);
	assert_false(a.cached);

	f->clock += 100;			/* within the TTL: a hit */
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "MULTI.test.", DNS_T_MX, got_cb, &a);
	assert_int_equal(a.calls, 0);
	run_until(f, &a.calls, 1);
	assert_true(a.cached);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.ttl, LOCAL_TTL - 100);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.cached, 1);

	f->clock += LOCAL_TTL - 100;		/* expired: asked again */
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "multi.test", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_false(a.cached);
	assert_int_equal(a.ttl, LOCAL_TTL);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 2);
	assert_int_equal(st.hits, 1);
}

static void test_negative_cache(void **state)
{
	struct fx *f = *state;
	struct dns_stats st;
	struct got a;

	/* NXDOMAIN without a SOA: kept conf.neg_ttl (60 s) */
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "gone.test", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.ttl, 60);
	f->clock += 59;
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "gone.test", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_true(a.cached);
	assert_int_equal(a.ttl, 1);
	f->clock += 1;
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "gone.test", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_false(a.cached);

	/* NODATA likewise */
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "mx2a.test", DNS_T_AAAA, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_NODATA);
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "mx2a.test", DNS_T_AAAA, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_NODATA);
	assert_true(a.cached);
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 3);
	assert_int_equal(st.hits, 2);
}

static void test_negative_soa_ttl(void **state)
{
	struct fx *f = *state;
	struct got a;

	dns_free(f->d);
	f->d = responder_dns(f, RESP_NX_SOA);
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "nx.example", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_int_equal(a.ttl, 120);		/* RFC 2308: SOA MINIMUM */
	f->clock += 119;
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "nx.example", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_true(a.cached);
	f->clock += 1;
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "nx.example", DNS_T_MX, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_false(a.cached);
	assert_int_equal(f->resp.queries, 2);
}

static void test_cache_bounded(void **state)
{
	struct fx *f = *state;
	struct dns_conf c;
	struct dns_stats st;
	struct got a;
	char servers[64], name[32];
	buf_t err;

	dns_free(f->d);
	dns_conf_init(&c);
	snprintf(servers, sizeof(servers), DNSMASQ_ADDR ":%d", dnsmasq_port);
	c.servers = servers;
	c.cache_max = 3;
	buf_init(&err);
	f->d = dns_new(f->base, &c, &err);
	assert_non_null(f->d);
	buf_free(&err);
	dns_set_clock(f->d, fake_clock, f);
	for (int i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "m0%d.test", i);
		memset(&a, 0, sizeof(a));
		dns_lookup(f->d, name, DNS_T_A, got_cb, &a);
		run_until(f, &a.calls, 1);
	}
	dns_get_stats(f->d, &st);
	assert_int_equal(st.cached, 3);
	memset(&a, 0, sizeof(a));		/* m05 is still there */
	dns_lookup(f->d, "m05.test", DNS_T_A, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_true(a.cached);
	memset(&a, 0, sizeof(a));		/* m01 went first */
	dns_lookup(f->d, "m01.test", DNS_T_A, got_cb, &a);
	run_until(f, &a.calls, 1);
	assert_false(a.cached);
}

static void test_lookup_types(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	struct got a, aaaa, ptr, txt, bad;

	memset(&a, 0, sizeof(a));
	memset(&aaaa, 0, sizeof(aaaa));
	memset(&ptr, 0, sizeof(ptr));
	memset(&txt, 0, sizeof(txt));
	memset(&bad, 0, sizeof(bad));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr);
	assert_non_null(dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a));
	assert_non_null(dns_lookup(f->d, "mx1.test", DNS_T_AAAA, got_cb,
				   &aaaa));
	assert_non_null(dns_lookup_ptr(f->d, (struct sockaddr *)&sin, got_cb,
				       &ptr));
	assert_non_null(dns_lookup(f->d, "txt.test", DNS_T_TXT, got_cb, &txt));
	assert_non_null(dns_lookup(f->d, "no name", DNS_T_A, got_cb, &bad));
	run_until(f, &a.calls, 1);
	run_until(f, &aaaa.calls, 1);
	run_until(f, &ptr.calls, 1);
	run_until(f, &txt.calls, 1);
	run_until(f, &bad.calls, 1);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.addrs[0], "127.0.0.2");
	assert_int_equal(aaaa.status, DNS_OK);
	assert_string_equal(aaaa.addrs[0], "::2");
	assert_int_equal(ptr.status, DNS_OK);
	assert_string_equal(ptr.names[0], "mx1.test");
	assert_int_equal(txt.status, DNS_OK);
	assert_string_equal(txt.txt, "v=spf1 -all");
	assert_int_equal(bad.status, DNS_BADNAME);
}

static void test_tcp_fallback(void **state)
{
	struct fx *f = *state;
	struct dns_req *q;
	struct got a;
	size_t n = 0;

	memset(&a, 0, sizeof(a));
	q = dns_lookup(f->d, "big.test", DNS_T_TXT, got_cb, &a);
	assert_non_null(q);
	run_until(f, &a.calls, 1);
	if (a.status != DNS_OK)
		fail_msg("big.test TXT: %s (%s)", dns_status_name(a.status),
			 a.why);
	assert_int_equal(a.n, 4);
	n = strlen(a.txt);
	assert_int_equal(n, 200);
}

static void test_shared_query(void **state)
{
	struct fx *f = *state;
	struct dns_stats st;
	struct got a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	dns_lookup(f->d, "mx3.test", DNS_T_A, got_cb, &a);
	dns_lookup(f->d, "mx3.test", DNS_T_A, got_cb, &b);
	run_until(f, &b.calls, 1);
	run_until(f, &a.calls, 1);
	assert_string_equal(a.addrs[0], "127.0.0.5");
	assert_string_equal(b.addrs[0], "127.0.0.5");
	dns_get_stats(f->d, &st);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.joined, 1);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct got a, b, c;
	struct rgot g;
	struct route_req *rr;
	struct dns_req *q;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	q = dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);
	dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &b);
	dns_cancel(q);
	run_until(f, &b.calls, 1);
	run_idle(f);
	assert_int_equal(a.calls, 0);
	q = dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);	/* cached */
	dns_cancel(q);
	dns_lookup(f->d, "mx2a.test", DNS_T_A, got_cb, &c);
	run_until(f, &c.calls, 1);
	run_idle(f);
	assert_int_equal(a.calls, 0);

	/* a route cancelled while its MX lookup is in flight */
	memset(&g, 0, sizeof(g));
	rr = route_resolve(f->d, "multi.test", NULL, rgot_cb, &g);
	assert_non_null(rr);
	route_cancel(rr);
	memset(&c, 0, sizeof(c));
	dns_lookup(f->d, "multi.test", DNS_T_MX, got_cb, &c);
	run_until(f, &c.calls, 1);
	run_idle(f);
	assert_int_equal(g.calls, 0);

	/* ... and while its address lookups are: the observer shares the
	 * MX query and is told right after the route's MX callback */
	memset(&g, 0, sizeof(g));
	memset(&c, 0, sizeof(c));
	rr = route_resolve(f->d, "skip.test", NULL, rgot_cb, &g);
	assert_non_null(rr);
	dns_lookup(f->d, "skip.test", DNS_T_MX, got_cb, &c);
	run_until(f, &c.calls, 1);
	assert_int_equal(g.calls, 0);
	route_cancel(rr);
	memset(&c, 0, sizeof(c));
	dns_lookup(f->d, "nohost.test", DNS_T_A, got_cb, &c);
	run_until(f, &c.calls, 1);
	run_idle(f);
	assert_int_equal(g.calls, 0);
}

static void test_free_cancels(void **state)
{
	struct fx *f = *state;
	struct got a, b;
	struct rgot g, lit;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&g, 0, sizeof(g));
	memset(&lit, 0, sizeof(lit));
	dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);
	run_until(f, &a.calls, 1);
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);	/* ready */
	dns_lookup(f->d, "mx3.test", DNS_T_A, got_cb, &b);	/* in flight */
	route_resolve(f->d, "multi.test", NULL, rgot_cb, &g);
	route_resolve(f->d, "[127.0.0.1]", NULL, rgot_cb, &lit);
	dns_free(f->d);
	f->d = NULL;
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, DNS_CANCELLED);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.status, DNS_CANCELLED);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.r.status, ROUTE_CANCELLED);
	assert_int_equal(lit.calls, 1);
	assert_int_equal(lit.r.status, ROUTE_CANCELLED);
	run_idle(f);
}

/* free_in_cb - a callback that frees the resolver */
static void free_in_cb(void *arg, const struct dns_result *res)
{
	struct fx *f = arg;

	(void)res;
	dns_free(f->d);
	assert_null(dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, NULL));
	f->d = NULL;
}

static void test_free_from_callback(void **state)
{
	struct fx *f = *state;
	struct got a, b;
	int done = 0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);
	run_until(f, &a.calls, 1);
	memset(&a, 0, sizeof(a));
	dns_lookup(f->d, "mx1.test", DNS_T_A, free_in_cb, f);	/* cached */
	dns_lookup(f->d, "mx1.test", DNS_T_A, got_cb, &a);	/* cached */
	dns_lookup(f->d, "mx3.test", DNS_T_A, got_cb, &b);	/* in flight */
	while (f->d && done++ < 100)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_null(f->d);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, DNS_CANCELLED);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.status, DNS_CANCELLED);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_parse_mx_compressed),
		cmocka_unit_test(test_parse_cname_chain),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_bad_names_dropped),
		cmocka_unit_test(test_parse_negative_soa),
		cmocka_unit_test(test_parse_txt),
		cmocka_unit_test(test_ptr_name),
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_servers_setting),
	};
#define LIVE(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest live[] = {
		LIVE(test_mx_order),
		LIVE(test_shuffle_seeded),
		LIVE(test_implicit_mx),
		LIVE(test_noaddr),
		LIVE(test_null_mx),
		LIVE(test_nxdomain),
		LIVE(test_timeout_tempfail),
		LIVE(test_servfail_no_fallback),
		LIVE(test_silent_and_garbage),
		LIVE(test_skip_unresolvable),
		LIVE(test_many_mx_bounded),
		LIVE(test_literals_and_relay),
		LIVE(test_cache_ttl),
		LIVE(test_negative_cache),
		LIVE(test_negative_soa_ttl),
		LIVE(test_cache_bounded),
		LIVE(test_lookup_types),
		LIVE(test_tcp_fallback),
		LIVE(test_shared_query),
		LIVE(test_cancel),
		LIVE(test_free_cancels),
		LIVE(test_free_from_callback),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = cmocka_run_group_tests_name("dns_pure", pure, NULL, NULL);
	rc += cmocka_run_group_tests_name("dns_live", live, dnsmasq_start,
					  dnsmasq_stop);
	return rc;
}

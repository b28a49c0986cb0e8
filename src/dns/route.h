/* route - where remote mail for a domain goes: RFC 5321 5.1 MX routing with
 * RFC 7505 null MX, address literals, and a smarthost ("host:port",
 * "[ip]:port") that replaces MX routing.
 *
 * route_resolve(d, "example.com", opts, cb, arg) looks up the MX records,
 * sorts them by preference (equal preferences in random order, RFC 5321
 * 5.1), keeps at most ROUTE_HOSTS_MAX hosts and resolves each to its A and
 * AAAA addresses (at most ROUTE_ADDRS_MAX per host), then calls cb once on
 * the loop thread with a struct route:
 *
 *   ROUTE_OK        hosts[0..nhosts) in the order to try; every host has at
 *                   least one address.  An MX host that did not resolve is
 *                   left out (nskipped, and why in text).
 *   ROUTE_NULLMX    RFC 7505: the domain's only MX is "0 ." - it accepts no
 *                   mail.  Bounce at once (suggested: 550 5.1.10).
 *   ROUTE_NXDOMAIN  the domain does not exist (suggested: 550 5.1.2).
 *   ROUTE_NOADDR    no MX and the domain has no A/AAAA either: the implicit
 *                   MX (RFC 5321 5.1) is unusable (suggested: 550 5.4.4,
 *                   RFC 3463 "unable to route").
 *   ROUTE_TEMPFAIL  try later (suggested: 451 4.4.3): the MX lookup failed
 *                   (SERVFAIL, timeout ...: never falls back to A/AAAA), or
 *                   no MX record names a usable host, or no MX host
 *                   resolved (whatever the reason: NXDOMAIN hosts too), or
 *                   the implicit MX's address lookups failed temporarily.
 *   ROUTE_BADNAME   the domain is neither a host name nor an address
 *                   literal (suggested: 550 5.1.2).
 *   ROUTE_CANCELLED dns_free ran while the route was pending.
 *
 * text always holds a one-line explanation made only of our own words,
 * host names that passed dns_name_ok and status names, e.g. "MX lookup for
 * example.com failed: SERVFAIL"; safe to log and to quote in a DSN.
 *
 * A domain "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) routes to
 * that address without DNS.  route_relay routes to a smarthost parsed by
 * route_parse_target: an IP address as is; a host name by its A/AAAA
 * records only (never MX), and any failure to resolve it is
 * ROUTE_TEMPFAIL (a broken relay setting or DNS must not bounce mail).
 *
 * Loop detection (RFC 5321 5.1: an MX that is this server) is the caller's:
 * it has every host's name and addresses here.  All DNS data is inert: only
 * names that passed dns_name_ok are used, and no more than the limits.
 */
#ifndef MAILPORT_DNS_ROUTE_H
#define MAILPORT_DNS_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "util/buf.h"

#define ROUTE_HOSTS_MAX 10
#define ROUTE_ADDRS_MAX 8
#define ROUTE_TEXT_MAX 256
#define ROUTE_PORT_DEFAULT 25

enum route_status {
	ROUTE_OK = 0,
	ROUTE_NULLMX,
	ROUTE_NXDOMAIN,
	ROUTE_NOADDR,
	ROUTE_TEMPFAIL,
	ROUTE_BADNAME,
	ROUTE_CANCELLED,
};

enum route_family {
	ROUTE_INET_ANY = 0,	/* IPv4 and IPv6 */
	ROUTE_INET4,		/* IPv4 only: no AAAA lookups */
	ROUTE_INET6,		/* IPv6 only: no A lookups */
};

/* Options; all-zero is the default. */
struct route_opts {
	uint16_t port;			/* 0: 25 */
	enum route_family family;
	int prefer_inet6;		/* list IPv6 addresses first (default
					 * IPv4 first) */
};

struct route_addr {
	struct sockaddr_storage ss;	/* port set */
	socklen_t len;
};

struct route_host {
	char name[DNS_NAME_SIZE];	/* MX host, the domain itself (implicit
					 * MX), the smarthost, or the literal's
					 * address text ("192.0.2.1") */
	unsigned pref;			/* MX preference; 0 when implicit */
	int implicit;			/* not from an MX record: implicit
					 * MX, smarthost or literal */
	size_t naddrs;			/* >= 1 */
	struct route_addr addrs[ROUTE_ADDRS_MAX];	/* in order to try */
};

struct route {
	enum route_status status;
	char domain[DNS_NAME_SIZE];	/* what was routed, cut if very long:
					 * for ROUTE_BADNAME the caller's bytes
					 * as given (escape them to log) */
	size_t nhosts;
	struct route_host hosts[ROUTE_HOSTS_MAX];
	size_t nskipped;		/* MX hosts left out: no address,
					 * beyond ROUTE_HOSTS_MAX, bad name */
	char text[ROUTE_TEXT_MAX];
};

/* A smarthost setting, as route_parse_target reads it. */
struct route_target {
	char host[DNS_NAME_SIZE];	/* host name, or the address as text */
	uint16_t port;			/* 0 if none was given */
	int literal;			/* host is an IP address, in addr */
	struct route_addr addr;		/* when literal (port 0 unless given) */
};

typedef void route_cb(void *arg, const struct route *r);
struct route_req;

/* route_resolve - route mail for domain (a host name or an address
 * literal) with options o (NULL: defaults); cb(arg, route) runs once,
 * later, on the loop thread (the route is valid during the call only).
 * NULL on ENOMEM or while dns_free runs (cb is then never called). */
struct route_req *route_resolve(struct dns *d, const char *domain,
				const struct route_opts *o, route_cb *cb,
				void *arg);

/* route_relay - route to the smarthost t (o->port is used when t has no
 * port); same contract as route_resolve */
struct route_req *route_relay(struct dns *d, const struct route_target *t,
			      const struct route_opts *o, route_cb *cb,
			      void *arg);

/* route_cancel - forget a pending route: cb will not be called (the
 * handle is invalid once cb has started; NULL is a no-op) */
void route_cancel(struct route_req *r);

/* route_parse_target - parse a smarthost "host", "host:port", "[host]",
 * "[host]:port", "ipv4", "ipv4:port", "[ipv4]", "[ipv6]" or
 * "[IPv6:ipv6]", each optionally ":port"; 0, or -1 with a reason in err */
int route_parse_target(const char *spec, struct route_target *t, buf_t *err);

/* route_status_name - "ok", "nullmx", "nxdomain", "noaddr", "tempfail",
 * "badname", "cancelled" */
const char *route_status_name(enum route_status st);

#endif

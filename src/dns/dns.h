/* dns - asynchronous DNS lookups on the event loop (c-ares driven by
 * libevent; the loop never blocks), with a cache that honours TTLs.
 *
 * Use:
 *	struct dns_conf c;
 *	dns_conf_init(&c);
 *	c.servers = "127.0.0.153:53, [::1]:5353";	(NULL: resolv.conf)
 *	struct dns *d = dns_new(base, &c, &err);
 *	struct dns_req *q = dns_lookup(d, "example.com", DNS_T_MX, cb, arg);
 *	...  cb(arg, &result) runs later on the loop thread, exactly once,
 *	unless dns_cancel(q) is called first.
 *
 * Callbacks: always called from the event loop (from the dispatch of an
 * event of this module), never from inside dns_lookup, so a caller can
 * start a lookup while holding its own state half-built.  A callback may
 * start new lookups, cancel other pending ones, and call dns_free: the
 * resolver is then torn down as soon as that callback returns (everything
 * else still pending gets DNS_CANCELLED, see dns_free) and must not be used
 * again.  The result and everything it points to are valid only during
 * the callback: copy what you keep.  A dns_req handle is invalid once its
 * callback has started or it has been cancelled.
 *
 * Statuses: DNS_OK (n >= 1 records, at most 64 kept; rarely n == 0 when
 * every record of the type was dropped as unusable: see dnsmsg.h),
 * DNS_NODATA (the name exists, no record of this type), DNS_NXDOMAIN (the
 * name does not exist), both of them final answers; DNS_TEMPFAIL
 * (SERVFAIL, REFUSED, timeout, no server reachable, a malformed answer,
 * out of memory: ask again later), never cached; DNS_BADNAME (the name
 * asked for is not a host name, dns_name_ok); DNS_CANCELLED (only from
 * dns_free).
 *
 * Cache: answers DNS_OK, DNS_NODATA and DNS_NXDOMAIN are kept for their TTL
 * (the smallest TTL of the records, capped at conf.max_ttl); negative
 * answers for the SOA's RFC 2308 TTL, capped at conf.neg_ttl_max, or for
 * conf.neg_ttl when the answer holds no SOA; a TTL of 0 is not cached.  At
 * most conf.cache_max answers are kept, the least recently used go first.
 * Concurrent lookups of the same name and type share one query.  Clock:
 * CLOCK_MONOTONIC seconds unless dns_set_clock gives another (tests).
 *
 * Names: a lookup name is a host name (dns_name_ok), matched case-blind,
 * with or without a final dot; no search domains are ever appended, and
 * /etc/hosts is never read.  Only class IN.
 *
 * Threads: none of its own; a struct dns belongs to the thread running its
 * event base and must be used from that thread only.
 */
#ifndef MAILPORT_DNS_DNS_H
#define MAILPORT_DNS_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#include "dns/dnsmsg.h"
#include "util/buf.h"

struct event_base;
struct dns;
struct dns_req;

enum dns_status {
	DNS_OK = 0,
	DNS_NODATA,
	DNS_NXDOMAIN,
	DNS_TEMPFAIL,
	DNS_BADNAME,
	DNS_CANCELLED,
};

/* Settings; dns_conf_init fills the defaults shown. */
struct dns_conf {
	const char *servers;	/* NULL: resolv.conf; else "ip[:port],
				 * [ipv6]:port ..." (comma or space
				 * separated; port 53 if none; an IPv6
				 * address with a port in []) */
	int timeout_ms;		/* 3000: first try's timeout per server
				 * (c-ares doubles it on each later round) */
	int tries;		/* 3: rounds over the servers */
	size_t cache_max;	/* 10000 answers; 0 disables the cache */
	uint32_t max_ttl;	/* 86400 s: longest a positive answer is kept */
	uint32_t neg_ttl;	/* 60 s: a negative answer without a SOA */
	uint32_t neg_ttl_max;	/* 3600 s: longest a negative answer is kept */
};

/* What a callback receives.  rr[i].type is the type asked for. */
struct dns_result {
	enum dns_status status;
	uint16_t type;		/* the type asked for */
	const char *name;	/* the name asked for, normalised
				 * (dns_name_norm); for DNS_BADNAME as
				 * given (cut at DNS_NAME_MAX bytes:
				 * escape it to log it) */
	uint32_t ttl;		/* seconds the answer stays valid from now
				 * (a cached answer: what is left, capped as
				 * the cache caps it); 0 for DNS_TEMPFAIL,
				 * DNS_BADNAME, DNS_CANCELLED */
	int cached;		/* came from the cache, no query sent */
	size_t n;		/* records in rr (0 unless DNS_OK) */
	const struct dns_rr *rr;
	size_t dropped;		/* records of the type ignored (bad names) */
	const char *why;	/* a short reason: "SERVFAIL", "timeout",
				 * "NXDOMAIN", "no data" ... never NULL */
};

typedef void dns_cb(void *arg, const struct dns_result *res);
typedef time_t dns_clock_fn(void *arg);

struct dns_stats {
	unsigned long lookups;	/* dns_lookup calls */
	unsigned long queries;	/* queries handed to c-ares */
	unsigned long hits;	/* lookups answered from the cache */
	unsigned long joined;	/* lookups that joined a query in flight */
	unsigned long tempfails;/* queries that ended in DNS_TEMPFAIL */
	size_t cached;		/* answers in the cache now */
};

/* dns_conf_init - the default settings (see struct dns_conf) */
void dns_conf_init(struct dns_conf *c);

/* dns_new - a resolver on base with the settings c (NULL: defaults); NULL
 * with a one-line reason in err (e.g. a bad server address) on failure */
struct dns *dns_new(struct event_base *base, const struct dns_conf *c,
		    buf_t *err);

/* dns_free - stop everything.  Every lookup still pending (including
 * answers ready but not yet delivered) gets its callback called with
 * DNS_CANCELLED from within dns_free, so callers can free their state
 * there; those callbacks must not start lookups (dns_lookup then returns
 * NULL).  NULL is a no-op. */
void dns_free(struct dns *d);

/* dns_lookup - look name up for records of type (DNS_T_A, AAAA, MX, PTR,
 * TXT); cb(arg, result) runs later on the loop thread.  Returns a handle
 * for dns_cancel, or NULL (nothing will be called) on ENOMEM or while
 * dns_free runs. */
struct dns_req *dns_lookup(struct dns *d, const char *name, uint16_t type,
			   dns_cb *cb, void *arg);

/* dns_lookup_ptr - the PTR lookup of an AF_INET or AF_INET6 address (its
 * in-addr.arpa or ip6.arpa name); DNS_BADNAME for another family */
struct dns_req *dns_lookup_ptr(struct dns *d, const struct sockaddr *sa,
			       dns_cb *cb, void *arg);

/* dns_defer - call cb(arg, result) soon from the loop with an empty
 * DNS_OK result of type 0 (DNS_CANCELLED if dns_free comes first): lets a
 * layer above answer asynchronously and be cancelled like a lookup */
struct dns_req *dns_defer(struct dns *d, dns_cb *cb, void *arg);

/* dns_cancel - forget a pending lookup: its callback will not be called.
 * The query itself may still complete and fill the cache. */
void dns_cancel(struct dns_req *q);

/* dns_rr_sockaddr - the address of an A or AAAA record with port (host
 * order) into ss; its length, or 0 for another record type */
socklen_t dns_rr_sockaddr(const struct dns_rr *rr, uint16_t port,
			  struct sockaddr_storage *ss);

/* dns_status_name - "ok", "nodata", "nxdomain", "tempfail", "badname",
 * "cancelled" */
const char *dns_status_name(enum dns_status st);

/* dns_set_clock - use fn(arg) as the clock in seconds (tests); NULL
 * restores CLOCK_MONOTONIC */
void dns_set_clock(struct dns *d, dns_clock_fn *fn, void *arg);

/* dns_random - the next value of the resolver's random sequence (shuffling
 * equal MX preferences); seeded from getrandom(2) */
uint32_t dns_random(struct dns *d);

/* dns_seed - restart the random sequence from seed (tests) */
void dns_seed(struct dns *d, uint64_t seed);

/* dns_base - the event base the resolver runs on */
struct event_base *dns_base(struct dns *d);

/* dns_get_stats - counters since dns_new */
void dns_get_stats(struct dns *d, struct dns_stats *st);

#endif

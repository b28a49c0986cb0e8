/* dns - c-ares lookups driven by libevent, with a TTL cache (see dns.h).
 *
 * Public: dns_conf_init, dns_new, dns_free, dns_lookup, dns_lookup_ptr,
 * dns_defer, dns_cancel, dns_rr_sockaddr, dns_status_name, dns_set_clock,
 * dns_random, dns_seed, dns_base, dns_get_stats.
 *
 * How it runs: c-ares tells us which sockets it wants watched through
 * ARES_OPT_SOCK_STATE_CB; each gets a persistent libevent event that calls
 * ares_process_fd, and one timer, re-armed from ares_timeout after every
 * call into c-ares, drives its timeouts.  Nothing here ever blocks.
 *
 * Invariants:
 * - One entry per (name, type) in a hash table.  An entry holds a cached
 *   answer (then it is on the LRU list), or a query in flight with the
 *   requests waiting for it, or both (an answer expired and its refresh is
 *   under way: the old answer is dropped when the refresh starts).  An
 *   entry with neither is freed at once.
 * - Answers are immutable and reference-counted: the cache and every
 *   request about to be told hold a reference.
 * - A request is on exactly one list: its entry's waiters, or the ready
 *   list of answered requests whose callbacks run from the ready event.
 *   User callbacks run only from ready_cb and from dns_free's sweep, never
 *   from inside c-ares (ares_cb only files answers), so c-ares is never
 *   re-entered from a user callback's dns_free.
 */
#include "dns/dns.h"

#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <event2/event.h>

#include "util/log.h"

#define DNS_RR_MAX 64			/* records kept from one answer */
#define DNS_SERVERS_MAX 16
#define DNS_CLASS_IN 1

struct dns_wlist {
	struct dns_req *head, *tail;
};

/* An immutable answer, shared by the cache and the requests told of it. */
struct answer {
	int refs;			/* < 0: static, never freed */
	enum dns_status status;
	uint16_t type;
	uint32_t ttl;			/* validity when received, capped */
	size_t n, dropped;
	struct dns_rr *rr;
	const char *why;
	char name[DNS_NAME_SIZE];
};

struct entry {
	struct entry *hnext;		/* hash chain */
	struct entry *lprev, *lnext;	/* LRU list, when ans != NULL */
	struct answer *ans;		/* cached answer or NULL */
	time_t expires;			/* ans is valid while now < expires */
	int inflight;			/* a c-ares query is running */
	struct dns_wlist waiters;	/* requests waiting for that query */
	struct dns *d;
	uint16_t type;
	char name[DNS_NAME_SIZE];
};

struct dns_req {
	struct dns *d;
	struct dns_wlist *list;
	struct dns_req *prev, *next;
	struct entry *ent;		/* when waiting on an entry's query */
	dns_cb *cb;
	void *arg;
	struct answer *ans;		/* when on the ready list */
	uint32_t ttl;
	int cached;
};

struct sock {
	ares_socket_t fd;
	struct event *ev;
	short what;
	struct sock *next;
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct event *ready_ev;
	struct dns_wlist ready;
	struct entry **tab;
	size_t nbuckets;
	struct entry *lru_head, *lru_tail;	/* most recently used first */
	struct sock *socks;
	struct dns_conf conf;
	struct dns_stats st;
	dns_clock_fn *clock;
	void *clock_arg;
	uint64_t rng;
	int depth;			/* user callbacks running */
	int closing;			/* no new lookups */
	int free_pending;		/* dns_free called from a callback */
	int freeing;
	int lib_init;
};

/* Answers used when no memory is left for one. */
static struct answer nomem_answer = {
	.refs = -1, .status = DNS_TEMPFAIL, .why = "out of memory",
};
static struct answer cancelled_answer = {
	.refs = -1, .status = DNS_CANCELLED, .why = "cancelled",
};

/* dns_conf_init - see dns.h */
void dns_conf_init(struct dns_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->servers = NULL;
	c->timeout_ms = 3000;
	c->tries = 3;
	c->cache_max = 10000;
	c->max_ttl = 86400;
	c->neg_ttl = 60;
	c->neg_ttl_max = 3600;
}

/* dns_status_name - see dns.h */
const char *dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "ok";
	case DNS_NODATA: return "nodata";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_TEMPFAIL: return "tempfail";
	case DNS_BADNAME: return "badname";
	case DNS_CANCELLED: return "cancelled";
	}
	return "?";
}

/* ---- request lists ---- */

/* wl_append - put q at the end of l */
static void wl_append(struct dns_wlist *l, struct dns_req *q)
{
	q->list = l;
	q->next = NULL;
	q->prev = l->tail;
	if (l->tail)
		l->tail->next = q;
	else
		l->head = q;
	l->tail = q;
}

/* wl_remove - take q off its list */
static void wl_remove(struct dns_req *q)
{
	struct dns_wlist *l = q->list;

	if (!l)
		return;
	if (q->prev)
		q->prev->next = q->next;
	else
		l->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		l->tail = q->prev;
	q->list = NULL;
	q->prev = q->next = NULL;
}

/* wl_move - append every request of from to to, in order */
static void wl_move(struct dns_wlist *to, struct dns_wlist *from)
{
	struct dns_req *q;

	while ((q = from->head) != NULL) {
		wl_remove(q);
		wl_append(to, q);
	}
}

/* ---- answers ---- */

/* answer_ref - one more holder of a */
static struct answer *answer_ref(struct answer *a)
{
	if (a->refs >= 0)
		a->refs++;
	return a;
}

/* answer_unref - one holder less; frees a with the last */
static void answer_unref(struct answer *a)
{
	if (!a || a->refs < 0 || --a->refs > 0)
		return;
	dns_rr_free(a->rr, a->n);
	free(a);
}

/* answer_new - a fresh answer (one reference) for name and type; status
 * DNS_TEMPFAIL until set; NULL on ENOMEM */
static struct answer *answer_new(const char *name, uint16_t type)
{
	struct answer *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->refs = 1;
	a->status = DNS_TEMPFAIL;
	a->type = type;
	a->why = "no answer";
	snprintf(a->name, sizeof(a->name), "%s", name);
	return a;
}

/* rcode_why - the reason text of a failing RCODE (RFC 1035 4.1.1) */
static const char *rcode_why(int rcode)
{
	switch (rcode) {
	case 1: return "FORMERR";
	case 2: return "SERVFAIL";
	case 4: return "NOTIMP";
	case 5: return "REFUSED";
	default: return "unexpected RCODE";
	}
}

/* neg_ttl - how long a negative answer holds (RFC 2308 5) */
static uint32_t neg_ttl(const struct dns *d, const struct dnsmsg *m)
{
	uint32_t t = m->has_soa ? m->neg_ttl : d->conf.neg_ttl;

	return t < d->conf.neg_ttl_max ? t : d->conf.neg_ttl_max;
}

/* answer_from_msg - fill a from the parsed message m (takes its records) */
static void answer_from_msg(const struct dns *d, struct answer *a,
			    struct dnsmsg *m)
{
	if (m->rcode == 0 && (m->n > 0 || m->dropped > 0)) {
		a->status = DNS_OK;
		a->why = m->n > 0 ? "ok" : "no usable record";
		a->ttl = m->ttl < d->conf.max_ttl ? m->ttl : d->conf.max_ttl;
		a->rr = m->rr;
		a->n = m->n;
		a->dropped = m->dropped;
		m->rr = NULL;
		m->n = 0;
	} else if (m->rcode == 0 || m->rcode == 3) {
		a->status = m->rcode == 0 ? DNS_NODATA : DNS_NXDOMAIN;
		a->why = m->rcode == 0 ? "no data" : "NXDOMAIN";
		a->ttl = neg_ttl(d, m);
	} else {
		a->status = DNS_TEMPFAIL;
		a->why = rcode_why(m->rcode);
	}
}

/* answer_from_status - fill a from a c-ares status without a message */
static void answer_from_status(const struct dns *d, struct answer *a,
			       int status)
{
	a->status = DNS_TEMPFAIL;
	switch (status) {
	case ARES_ENODATA:
		a->status = DNS_NODATA;
		a->why = "no data";
		a->ttl = d->conf.neg_ttl;
		break;
	case ARES_ENOTFOUND:
		a->status = DNS_NXDOMAIN;
		a->why = "NXDOMAIN";
		a->ttl = d->conf.neg_ttl;
		break;
	case ARES_EBADNAME:
		a->status = DNS_BADNAME;
		a->why = "not a host name";
		break;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		a->status = DNS_CANCELLED;
		a->why = "cancelled";
		break;
	case ARES_ETIMEOUT: a->why = "timeout"; break;
	case ARES_ESERVFAIL: a->why = "SERVFAIL"; break;
	case ARES_EREFUSED: a->why = "REFUSED"; break;
	case ARES_ECONNREFUSED:
		/* c-ares 1.18 reports a SERVFAIL or REFUSED from every
		 * server (it tries the next one on those) as ECONNREFUSED */
		a->why = "server failure (SERVFAIL, REFUSED or unreachable)";
		break;
	case ARES_ENOMEM: a->why = "out of memory"; break;
	default: a->why = ares_strerror(status); break;
	}
	if (a->ttl > d->conf.neg_ttl_max)
		a->ttl = d->conf.neg_ttl_max;
}

/* answer_build - the answer to e's query from what c-ares reports; never
 * NULL (a static answer when memory is short) */
static struct answer *answer_build(const struct dns *d, const struct entry *e,
				   int status, const unsigned char *abuf,
				   int alen)
{
	struct answer *a = answer_new(e->name, e->type);
	struct dnsmsg m;

	if (!a)
		return &nomem_answer;
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION ||
	    !abuf || alen <= 0) {
		answer_from_status(d, a, status);
	} else if (dnsmsg_parse(abuf, (size_t)alen, e->name, e->type,
				DNS_RR_MAX, &m) < 0) {
		a->why = errno == ENOMEM ? "out of memory" : "malformed answer";
	} else {
		answer_from_msg(d, a, &m);
		dnsmsg_free(&m);
	}
	return a;
}

/* ---- clock, randomness ---- */

/* mono_now - CLOCK_MONOTONIC in seconds */
static time_t mono_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* now - the resolver's clock */
static time_t now(const struct dns *d)
{
	return d->clock(d->clock_arg);
}

/* dns_set_clock - see dns.h */
void dns_set_clock(struct dns *d, dns_clock_fn *fn, void *arg)
{
	d->clock = fn ? fn : mono_now;
	d->clock_arg = fn ? arg : NULL;
}

/* dns_seed - see dns.h */
void dns_seed(struct dns *d, uint64_t seed)
{
	d->rng = seed;
}

/* dns_random - see dns.h (splitmix64) */
uint32_t dns_random(struct dns *d)
{
	uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* ---- the cache table ---- */

/* hash - bucket of (name, type): FNV-1a */
static size_t hash(const struct dns *d, const char *name, uint16_t type)
{
	uint64_t h = 0xcbf29ce484222325ull ^ type;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return (size_t)(h & (d->nbuckets - 1));
}

/* entry_find - the entry of (name, type) or NULL */
static struct entry *entry_find(const struct dns *d, const char *name,
				uint16_t type)
{
	struct entry *e = d->tab[hash(d, name, type)];

	while (e && (e->type != type || strcmp(e->name, name) != 0))
		e = e->hnext;
	return e;
}

/* entry_new - a new, empty entry in the table; NULL on ENOMEM */
static struct entry *entry_new(struct dns *d, const char *name, uint16_t type)
{
	struct entry *e = calloc(1, sizeof(*e));
	size_t h;

	if (!e)
		return NULL;
	e->d = d;
	e->type = type;
	snprintf(e->name, sizeof(e->name), "%s", name);
	h = hash(d, name, type);
	e->hnext = d->tab[h];
	d->tab[h] = e;
	return e;
}

/* lru_unlink - take e (which holds an answer) off the LRU list */
static void lru_unlink(struct dns *d, struct entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		d->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		d->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

/* lru_push - put e at the head (most recently used) */
static void lru_push(struct dns *d, struct entry *e)
{
	e->lprev = NULL;
	e->lnext = d->lru_head;
	if (d->lru_head)
		d->lru_head->lprev = e;
	else
		d->lru_tail = e;
	d->lru_head = e;
}

/* entry_free_if_idle - free e when it holds neither an answer nor a query */
static void entry_free_if_idle(struct dns *d, struct entry *e)
{
	struct entry **pp;

	if (e->ans || e->inflight || e->waiters.head)
		return;
	for (pp = &d->tab[hash(d, e->name, e->type)]; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	free(e);
}

/* cache_drop - forget e's cached answer (e itself may stay, in flight) */
static void cache_drop(struct dns *d, struct entry *e)
{
	if (!e->ans)
		return;
	lru_unlink(d, e);
	answer_unref(e->ans);
	e->ans = NULL;
	d->st.cached--;
}

/* cache_put - cache a for ttl seconds in e, evicting the least recently
 * used answers beyond conf.cache_max */
static void cache_put(struct dns *d, struct entry *e, struct answer *a,
		      uint32_t ttl)
{
	cache_drop(d, e);
	e->ans = answer_ref(a);
	e->expires = now(d) + (time_t)ttl;
	lru_push(d, e);
	d->st.cached++;
	while (d->st.cached > d->conf.cache_max && d->lru_tail != e) {
		struct entry *old = d->lru_tail;

		cache_drop(d, old);
		entry_free_if_idle(d, old);
	}
}

/* cacheable - a is an answer to keep (final and with a TTL) */
static int cacheable(const struct dns *d, const struct answer *a)
{
	return d->conf.cache_max > 0 && a->ttl > 0 &&
	       (a->status == DNS_OK || a->status == DNS_NODATA ||
		a->status == DNS_NXDOMAIN);
}

/* ---- delivering results ---- */

/* ready_push - file q as answered with a (q takes a reference) and make
 * the ready event run */
static void ready_push(struct dns *d, struct dns_req *q, struct answer *a,
		       uint32_t ttl, int cached)
{
	q->ent = NULL;
	q->ans = answer_ref(a);
	q->ttl = ttl;
	q->cached = cached;
	wl_append(&d->ready, q);
	if (!d->closing)
		event_active(d->ready_ev, EV_TIMEOUT, 0);
}

/* deliver - call q's callback with a (or with q->ans) and free q; q is off
 * every list */
static void deliver(struct dns *d, struct dns_req *q, struct answer *a)
{
	struct dns_result r;
	dns_cb *cb = q->cb;
	void *arg = q->arg;
	struct answer *held = q->ans;

	if (!a)
		a = held;
	memset(&r, 0, sizeof(r));
	r.status = a->status;
	r.type = a->type;
	r.name = a->name;
	r.ttl = a->status == DNS_TEMPFAIL ? 0 : q->ttl;
	r.cached = q->cached;
	r.n = a->status == DNS_OK ? a->n : 0;
	r.rr = r.n ? a->rr : NULL;
	r.dropped = a->dropped;
	r.why = a->why ? a->why : dns_status_name(a->status);
	free(q);
	d->depth++;
	cb(arg, &r);
	d->depth--;
	answer_unref(held);
}

static void dns_free_now(struct dns *d);

/* ready_cb - the ready event: deliver the requests answered so far (those
 * filed meanwhile wait for the next round, so the loop keeps turning) */
static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	struct dns_wlist batch = { NULL, NULL };
	struct dns_req *q;

	(void)fd;
	(void)what;
	wl_move(&batch, &d->ready);
	while (!d->free_pending && (q = batch.head) != NULL) {
		wl_remove(q);
		deliver(d, q, NULL);
	}
	if (batch.head) {
		/* dns_free came from a callback: put the rest back in front
		 * of the ready list, where dns_free_now cancels them */
		wl_move(&batch, &d->ready);
		wl_move(&d->ready, &batch);
	}
	if (d->free_pending)
		dns_free_now(d);
}

/* ---- c-ares glue ---- */

/* rearm - set the timer to c-ares' next timeout (or stop it) */
static void rearm(struct dns *d)
{
	struct timeval tv, *tvp;

	if (d->freeing)
		return;
	tvp = ares_timeout(d->ch, NULL, &tv);
	if (tvp)
		evtimer_add(d->timer, tvp);
	else
		evtimer_del(d->timer);
}

/* timer_cb - let c-ares handle its timeouts */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(d);
}

/* sock_cb - a c-ares socket is readable or writable */
static void sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(d);
}

/* sock_state_cb - c-ares wants fd watched for reading and/or writing, or
 * (both 0) no longer watched */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct dns *d = data;
	struct sock **pp, *s;
	short what = (short)((readable ? EV_READ : 0) |
			     (writable ? EV_WRITE : 0));

	for (pp = &d->socks; *pp && (*pp)->fd != fd; pp = &(*pp)->next)
		;
	s = *pp;
	if (!what) {
		if (s) {
			*pp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s && s->what == what)
		return;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_err("dns: out of memory watching a socket");
			return;		/* the query will time out */
		}
		s->fd = fd;
		s->next = d->socks;
		d->socks = s;
	} else {
		event_free(s->ev);
	}
	s->what = what;
	s->ev = event_new(d->base, fd, (short)(what | EV_PERSIST), sock_cb, d);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		log_err("dns: cannot watch socket fd=%d", (int)fd);
}

/* ares_cb - a query ended: cache the answer and file the waiters */
static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf,
		    int alen)
{
	struct entry *e = arg;
	struct dns *d = e->d;
	struct answer *a;
	struct dns_req *q;

	(void)timeouts;
	e->inflight = 0;
	if (d->closing)
		return;			/* dns_free cancels the waiters */
	a = answer_build(d, e, status, abuf, alen);
	if (a->status == DNS_TEMPFAIL)
		d->st.tempfails++;
	log_debug("dns: name=%s type=%s status=%s why=\"%s\" n=%zu ttl=%u",
		  e->name, dns_type_name(e->type), dns_status_name(a->status),
		  a->why, a->n, (unsigned)a->ttl);
	if (cacheable(d, a))
		cache_put(d, e, a, a->ttl);
	while ((q = e->waiters.head) != NULL) {
		wl_remove(q);
		ready_push(d, q, a, a->status == DNS_TEMPFAIL ? 0 : a->ttl, 0);
	}
	answer_unref(a);
	entry_free_if_idle(d, e);
}

/* ---- servers ---- */

/* parse_port - decimal 1..65535 of s[0..n) into *port; -1 if not */
static int parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* server_item - one "ip", "ip:port", "ipv6", "[ip]" or "[ip]:port" of
 * s[0..n) appended to csv as c-ares wants it; -1 if malformed */
static int server_item(const char *s, size_t n, buf_t *csv)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = NULL, *p;
	unsigned port = 53, ncolon = 0;
	size_t hl;
	unsigned char bin[sizeof(struct in6_addr)];
	int v6;

	for (p = s; p < s + n; p++)
		if (*p == ':') {
			ncolon++;
			colon = p;
		}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return -1;
		hl = (size_t)(close - s - 1);
		p = s + 1;
		if (close + 1 < s + n && (close[1] != ':' ||
		    parse_port(close + 2, (size_t)(s + n - close - 2),
			       &port) < 0))
			return -1;
	} else {
		p = s;
		hl = ncolon == 1 ? (size_t)(colon - s) : n;
		if (ncolon == 1 && parse_port(colon + 1,
					      (size_t)(s + n - colon - 1),
					      &port) < 0)
			return -1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	v6 = inet_pton(AF_INET6, host, bin) == 1;
	if (!v6 && inet_pton(AF_INET, host, bin) != 1)
		return -1;
	if (csv->len && buf_putc(csv, ',') < 0)
		return -1;
	return buf_printf(csv, v6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* servers_csv - turn the [dns] servers setting into c-ares' csv form;
 * -1 with a reason in err */
static int servers_csv(const char *spec, buf_t *csv, buf_t *err)
{
	const char *p = spec, *sep = ", \t";
	char shown[LOG_ESC_SIZE];
	size_t n, count = 0;

	for (;;) {
		p += strspn(p, sep);
		if (!*p)
			break;
		n = strcspn(p, sep);
		if (++count > DNS_SERVERS_MAX) {
			buf_printf(err, "dns servers: more than %d",
				   DNS_SERVERS_MAX);
			return -1;
		}
		if (server_item(p, n, csv) < 0) {
			buf_printf(err, "dns servers: bad address \"%s\" "
				   "(want ip, ip:port or [ip]:port)",
				   log_escape(shown, p, n));
			return -1;
		}
		p += n;
	}
	if (count == 0) {
		buf_printf(err, "dns servers: no address given");
		return -1;
	}
	return 0;
}

/* ---- life cycle ---- */

/* channel_init - create d's c-ares channel with c's settings; -1 with a
 * reason in err */
static int channel_init(struct dns *d, const struct dns_conf *c, buf_t *err)
{
	struct ares_options o;
	int rc, mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
		       ARES_OPT_SOCK_STATE_CB;
	buf_t csv;

	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_NOSEARCH;
	o.timeout = c->timeout_ms > 0 ? c->timeout_ms : 3000;
	o.tries = c->tries > 0 ? c->tries : 1;
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = d;
	rc = ares_init_options(&d->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		d->ch = NULL;
		buf_printf(err, "dns: cannot start c-ares: %s",
			   ares_strerror(rc));
		return -1;
	}
	if (!c->servers)
		return 0;
	buf_init(&csv);
	if (servers_csv(c->servers, &csv, err) < 0) {
		buf_free(&csv);
		return -1;
	}
	rc = ares_set_servers_ports_csv(d->ch, csv.data);
	if (rc != ARES_SUCCESS)
		buf_printf(err, "dns servers: c-ares refused \"%s\": %s",
			   csv.data, ares_strerror(rc));
	buf_free(&csv);
	return rc == ARES_SUCCESS ? 0 : -1;
}

/* dns_new - see dns.h */
struct dns *dns_new(struct event_base *base, const struct dns_conf *c,
		    buf_t *err)
{
	struct dns_conf defaults;
	struct dns *d;
	size_t nb = 64;
	uint64_t seed = 0;

	if (!c) {
		dns_conf_init(&defaults);
		c = &defaults;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		buf_printf(err, "dns: out of memory");
		return NULL;
	}
	d->base = base;
	d->conf = *c;
	d->conf.servers = NULL;
	d->clock = mono_now;
	while (nb < c->cache_max && nb < (1u << 20))
		nb <<= 1;
	d->nbuckets = nb;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)d;
	d->rng = seed;
	d->tab = calloc(nb, sizeof(*d->tab));
	d->timer = evtimer_new(base, timer_cb, d);
	d->ready_ev = event_new(base, -1, 0, ready_cb, d);
	if (!d->tab || !d->timer || !d->ready_ev) {
		buf_printf(err, "dns: out of memory");
		goto fail;
	}
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		buf_printf(err, "dns: cannot initialise c-ares");
		goto fail;
	}
	d->lib_init = 1;
	if (channel_init(d, c, err) < 0)
		goto fail;
	return d;
fail:
	d->closing = 1;
	dns_free_now(d);
	return NULL;
}

/* dns_free_now - cancel everything pending (callbacks get DNS_CANCELLED)
 * and free d */
static void dns_free_now(struct dns *d)
{
	struct dns_req *q;
	struct sock *s;
	size_t i;

	d->closing = 1;
	d->freeing = 1;
	if (d->ch)
		ares_destroy(d->ch);	/* ares_cb: in flight ends */
	for (i = 0; d->tab && i < d->nbuckets; i++) {
		struct entry *e;

		for (e = d->tab[i]; e; e = e->hnext)
			wl_move(&d->ready, &e->waiters);
	}
	for (q = d->ready.head; q; q = q->next)
		q->ent = NULL;
	while ((q = d->ready.head) != NULL) {
		wl_remove(q);
		deliver(d, q, &cancelled_answer);
	}
	for (i = 0; d->tab && i < d->nbuckets; i++) {
		while (d->tab[i]) {
			struct entry *e = d->tab[i];

			d->tab[i] = e->hnext;
			answer_unref(e->ans);
			free(e);
		}
	}
	while ((s = d->socks) != NULL) {
		d->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	if (d->timer)
		event_free(d->timer);
	if (d->ready_ev)
		event_free(d->ready_ev);
	if (d->lib_init)
		ares_library_cleanup();
	free(d->tab);
	free(d);
}

/* dns_free - see dns.h */
void dns_free(struct dns *d)
{
	if (!d || d->freeing)
		return;
	if (d->depth > 0) {		/* from a callback: ready_cb ends it */
		d->closing = 1;
		d->free_pending = 1;
		return;
	}
	dns_free_now(d);
}

/* ---- lookups ---- */

/* req_new - a request for cb(arg); NULL on ENOMEM */
static struct dns_req *req_new(struct dns *d, dns_cb *cb, void *arg)
{
	struct dns_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	return q;
}

/* answer_now - file q as answered at once by a new answer (status, why) */
static struct dns_req *answer_now(struct dns *d, struct dns_req *q,
				  const char *name, uint16_t type,
				  enum dns_status status, const char *why)
{
	struct answer *a = answer_new(name, type);

	if (!a) {
		free(q);
		return NULL;
	}
	a->status = status;
	a->why = why;
	ready_push(d, q, a, 0, 0);
	answer_unref(a);
	return q;
}

/* known_type - a record type dnsmsg can decode */
static int known_type(uint16_t type)
{
	return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_MX ||
	       type == DNS_T_PTR || type == DNS_T_TXT;
}

/* dns_lookup - see dns.h */
struct dns_req *dns_lookup(struct dns *d, const char *name, uint16_t type,
			   dns_cb *cb, void *arg)
{
	char key[DNS_NAME_SIZE];
	struct dns_req *q;
	struct entry *e;
	time_t t;

	if (d->closing || !(q = req_new(d, cb, arg)))
		return NULL;
	d->st.lookups++;
	if (dns_name_norm(key, name) < 0 || !known_type(type))
		return answer_now(d, q, name, type, DNS_BADNAME,
				  known_type(type) ? "not a host name"
						   : "unsupported type");
	e = entry_find(d, key, type);
	t = now(d);
	if (e && e->ans && t < e->expires) {
		d->st.hits++;
		lru_unlink(d, e);
		lru_push(d, e);
		ready_push(d, q, e->ans, (uint32_t)(e->expires - t), 1);
		return q;
	}
	if (e)
		cache_drop(d, e);	/* expired */
	if (e && e->inflight) {
		d->st.joined++;
		wl_append(&e->waiters, q);
		q->ent = e;
		return q;
	}
	if (!e && !(e = entry_new(d, key, type))) {
		free(q);
		return NULL;
	}
	wl_append(&e->waiters, q);
	q->ent = e;
	e->inflight = 1;
	d->st.queries++;
	ares_query(d->ch, key, DNS_CLASS_IN, type, ares_cb, e);
	rearm(d);
	return q;
}

/* dns_lookup_ptr - see dns.h */
struct dns_req *dns_lookup_ptr(struct dns *d, const struct sockaddr *sa,
			       dns_cb *cb, void *arg)
{
	char name[DNS_NAME_SIZE];
	struct dns_req *q;

	if (dns_ptr_name(name, sa) == 0)
		return dns_lookup(d, name, DNS_T_PTR, cb, arg);
	if (d->closing || !(q = req_new(d, cb, arg)))
		return NULL;
	d->st.lookups++;
	return answer_now(d, q, "", DNS_T_PTR, DNS_BADNAME,
			  "not an IP address");
}

/* dns_defer - see dns.h */
struct dns_req *dns_defer(struct dns *d, dns_cb *cb, void *arg)
{
	struct dns_req *q;

	if (d->closing || !(q = req_new(d, cb, arg)))
		return NULL;
	return answer_now(d, q, "", 0, DNS_OK, "deferred");
}

/* dns_cancel - see dns.h */
void dns_cancel(struct dns_req *q)
{
	struct entry *e;

	if (!q)
		return;
	e = q->ent;
	wl_remove(q);
	answer_unref(q->ans);
	free(q);
	if (e)
		entry_free_if_idle(e->d, e);
}

/* ---- small helpers ---- */

/* dns_rr_sockaddr - see dns.h */
socklen_t dns_rr_sockaddr(const struct dns_rr *rr, uint16_t port,
			  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (rr->type == DNS_T_A) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = rr->addr.a;
		return sizeof(*sin);
	}
	if (rr->type == DNS_T_AAAA) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = rr->addr.aaaa;
		return sizeof(*sin6);
	}
	return 0;
}

/* dns_base - see dns.h */
struct event_base *dns_base(struct dns *d)
{
	return d->base;
}

/* dns_get_stats - see dns.h */
void dns_get_stats(struct dns *d, struct dns_stats *st)
{
	*st = d->st;
}

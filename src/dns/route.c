/* route - from a recipient domain (or a smarthost) to the hosts and
 * addresses to try, in order (RFC 5321 5.1, RFC 7505; see route.h).
 *
 * Public: route_resolve, route_relay, route_cancel, route_parse_target,
 * route_status_name.
 *
 * A route_req goes through at most two rounds of lookups: the MX lookup
 * (route_resolve of a host name), then the A and AAAA lookups of every
 * candidate host at once.  `pending` counts the address lookups in flight;
 * the route finishes when it drops to 0.  Every lookup answers from the
 * loop (dns.h), so the user's callback never runs inside route_resolve.
 * Invariants: a finished route is freed right after its callback; after
 * the MX answer the candidates hold only dns_name_ok names (dns.h), sorted
 * by preference with equal preferences shuffled, at most ROUTE_HOSTS_MAX.
 */
#include "dns/route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"

#define ROUTE_WHY_MAX 32
#define MX_MAX 64		/* MX records looked at (dns.c keeps 64) */

enum route_mode { MODE_MX, MODE_IMPLICIT, MODE_RELAY, MODE_NOW };

/* One A or AAAA lookup of a candidate host. */
struct sub {
	struct route_req *r;
	struct dns_req *q;
	uint16_t type;
	int used;			/* the lookup was started */
	enum dns_status st;
	char why[ROUTE_WHY_MAX];
	size_t n;
	struct route_addr a[ROUTE_ADDRS_MAX];
};

struct cand {
	char name[DNS_NAME_SIZE];
	unsigned pref;
	struct sub sub[2];		/* [0] A, [1] AAAA */
};

struct route_req {
	struct dns *d;
	route_cb *cb;
	void *arg;
	struct route_opts o;
	uint16_t port;
	enum route_mode mode;
	struct dns_req *q;		/* the MX lookup, or a dns_defer */
	size_t ncand;
	struct cand cand[ROUTE_HOSTS_MAX];
	int pending;
	int cancelled;
	struct route res;
};

/* An MX record while sorting. */
struct mx {
	const char *name;
	unsigned pref;
};

/* route_status_name - see route.h */
const char *route_status_name(enum route_status st)
{
	switch (st) {
	case ROUTE_OK: return "ok";
	case ROUTE_NULLMX: return "nullmx";
	case ROUTE_NXDOMAIN: return "nxdomain";
	case ROUTE_NOADDR: return "noaddr";
	case ROUTE_TEMPFAIL: return "tempfail";
	case ROUTE_BADNAME: return "badname";
	case ROUTE_CANCELLED: return "cancelled";
	}
	return "?";
}

/* set - the route's status and explanation */
__attribute__((format(printf, 3, 4)))
static void set(struct route_req *r, enum route_status st, const char *fmt,
		...)
{
	va_list ap;

	r->res.status = st;
	va_start(ap, fmt);
	vsnprintf(r->res.text, sizeof(r->res.text), fmt, ap);
	va_end(ap);
}

/* finish - tell the caller and free r */
static void finish(struct route_req *r)
{
	char esc[LOG_ESC_SIZE];

	if (r->cancelled) {
		r->res.status = ROUTE_CANCELLED;
		r->res.nhosts = 0;
		snprintf(r->res.text, sizeof(r->res.text), "cancelled");
	}
	log_debug("route: domain=%s status=%s hosts=%zu skipped=%zu "
		  "text=\"%s\"",
		  log_escape(esc, r->res.domain, strlen(r->res.domain)),
		  route_status_name(r->res.status), r->res.nhosts,
		  r->res.nskipped, r->res.text);
	r->cb(r->arg, &r->res);
	free(r);
}

/* route_new - a request routing name for cb(arg) */
static struct route_req *route_new(struct dns *d, const char *name,
				   const struct route_opts *o, route_cb *cb,
				   void *arg)
{
	struct route_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = d;
	r->cb = cb;
	r->arg = arg;
	if (o)
		r->o = *o;
	r->port = r->o.port ? r->o.port : ROUTE_PORT_DEFAULT;
	snprintf(r->res.domain, sizeof(r->res.domain), "%s", name);
	return r;
}

/* set_port - put port (host order) into an AF_INET/AF_INET6 address */
static void set_port(struct route_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&a->ss)->sin6_port =
			htons(port);
}

/* parse_ip - text (n bytes) as an IPv4 address, or IPv6 when v6_ok, into
 * a; 0, or -1 if it is not one */
static int parse_ip(const char *text, size_t n, int v6_ok,
		    struct route_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&a->ss;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		a->len = sizeof(*sin);
		return 0;
	}
	if (v6_ok && inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		a->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* parse_literal - RFC 5321 4.1.3 address literal "[1.2.3.4]" or
 * "[IPv6:...]" (the whole of s) into a; -1 if it is not one */
static int parse_literal(const char *s, struct route_addr *a)
{
	size_t n = strlen(s);

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return -1;
	if (n > 7 && strncasecmp(s + 1, "IPv6:", 5) == 0)
		return parse_ip(s + 6, n - 7, 1, a) == 0 &&
		       a->ss.ss_family == AF_INET6 ? 0 : -1;
	return parse_ip(s + 1, n - 2, 0, a);
}

/* defer_cb - answer a route decided without DNS (literal, bad name) */
static void defer_cb(void *arg, const struct dns_result *res)
{
	struct route_req *r = arg;

	r->q = NULL;
	if (res->status == DNS_CANCELLED)
		r->cancelled = 1;
	finish(r);
}

/* finish_later - finish r from the loop; r, or NULL (r freed) if dns
 * refuses */
static struct route_req *finish_later(struct route_req *r)
{
	r->mode = MODE_NOW;
	r->q = dns_defer(r->d, defer_cb, r);
	if (!r->q) {
		free(r);
		return NULL;
	}
	return r;
}

/* route_one_addr - the route to the single known address a, named by
 * its text form */
static struct route_req *route_one_addr(struct route_req *r,
					const struct route_addr *a)
{
	struct route_host *h = &r->res.hosts[0];
	const void *bin = a->ss.ss_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)(const void *)
				&a->ss)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)(const void *)
				&a->ss)->sin_addr;

	inet_ntop(a->ss.ss_family, bin, h->name, sizeof(h->name));
	h->implicit = 1;
	h->naddrs = 1;
	h->addrs[0] = *a;
	set_port(&h->addrs[0], r->port);
	r->res.nhosts = 1;
	set(r, ROUTE_OK, "address %s", h->name);
	return finish_later(r);
}

/* ---- the address round ---- */

/* take - copy up to max addresses of s to h */
static void take(struct route_host *h, const struct sub *s, size_t max)
{
	size_t i;

	for (i = 0; i < s->n && i < max && h->naddrs < ROUTE_ADDRS_MAX; i++)
		h->addrs[h->naddrs++] = s->a[i];
}

/* merge - the addresses of c into h: the preferred family first, each
 * family given at least half the room when the other has more */
static void merge(const struct route_req *r, const struct cand *c,
		  struct route_host *h)
{
	const struct sub *first = &c->sub[r->o.prefer_inet6 ? 1 : 0];
	const struct sub *second = &c->sub[r->o.prefer_inet6 ? 0 : 1];
	size_t room = ROUTE_ADDRS_MAX, nfirst = first->n;

	if (second->n > 0 && nfirst > room / 2 && nfirst + second->n > room)
		nfirst = room - (second->n < room / 2 ? second->n : room / 2);
	take(h, first, nfirst);
	take(h, second, room);
}

/* skip_note - add "name (A: why, AAAA: why)" for a host left out to text */
static void skip_note(const struct cand *c, char *text, size_t size)
{
	size_t len = strlen(text);
	int k;

	if (len + 2 >= size)
		return;
	snprintf(text + len, size - len, "%s%s (", len ? ", " : "", c->name);
	for (k = 0; k < 2; k++) {
		const struct sub *s = &c->sub[k];

		if (!s->used)
			continue;
		len = strlen(text);
		snprintf(text + len, size - len, "%s%s: %s",
			 text[len - 1] == '(' ? "" : ", ",
			 dns_type_name(s->type), s->why);
	}
	len = strlen(text);
	snprintf(text + len, size - len, ")");
}

/* any_tempfail - an address lookup of c failed temporarily */
static int any_tempfail(const struct cand *c)
{
	return (c->sub[0].used && c->sub[0].st == DNS_TEMPFAIL) ||
	       (c->sub[1].used && c->sub[1].st == DNS_TEMPFAIL);
}

/* assemble - every address lookup is back: build the result, finish */
static void assemble(struct route_req *r)
{
	char skipped[ROUTE_TEXT_MAX] = "";
	size_t i;
	int tempfail = 0;

	for (i = 0; i < r->ncand; i++) {
		struct cand *c = &r->cand[i];
		struct route_host *h = &r->res.hosts[r->res.nhosts];

		memset(h, 0, sizeof(*h));
		merge(r, c, h);
		if (h->naddrs == 0) {
			r->res.nskipped++;
			tempfail |= any_tempfail(c);
			skip_note(c, skipped, sizeof(skipped));
			continue;
		}
		snprintf(h->name, sizeof(h->name), "%s", c->name);
		h->pref = c->pref;
		h->implicit = r->mode != MODE_MX;
		r->res.nhosts++;
	}
	if (r->res.nhosts > 0)
		set(r, ROUTE_OK, "%zu host(s)%s%s", r->res.nhosts,
		    skipped[0] ? "; no address: " : "", skipped);
	else if (r->mode == MODE_IMPLICIT && !tempfail)
		set(r, ROUTE_NOADDR, "%s has no MX and no address record: %s",
		    r->res.domain, skipped);
	else if (r->mode == MODE_IMPLICIT)
		set(r, ROUTE_TEMPFAIL, "address lookup for %s failed: %s",
		    r->res.domain, skipped);
	else if (r->mode == MODE_RELAY)
		set(r, ROUTE_TEMPFAIL, "smarthost has no address: %s",
		    skipped);
	else
		set(r, ROUTE_TEMPFAIL, "no MX host of %s has an address: %s",
		    r->res.domain, skipped);
	finish(r);
}

/* addr_cb - one A or AAAA answer */
static void addr_cb(void *arg, const struct dns_result *res)
{
	struct sub *s = arg;
	struct route_req *r = s->r;
	size_t i;

	s->q = NULL;
	s->st = res->status;
	snprintf(s->why, sizeof(s->why), "%s", res->why);
	for (i = 0; i < res->n && s->n < ROUTE_ADDRS_MAX; i++) {
		struct route_addr *a = &s->a[s->n];

		a->len = dns_rr_sockaddr(&res->rr[i], r->port, &a->ss);
		if (a->len)
			s->n++;
	}
	if (res->status == DNS_CANCELLED)
		r->cancelled = 1;
	if (--r->pending == 0)
		assemble(r);
}

/* start_addrs - start the A/AAAA lookups of every candidate; the number
 * started (0: dns refused them all) */
static int start_addrs(struct route_req *r)
{
	static const uint16_t types[2] = { DNS_T_A, DNS_T_AAAA };
	size_t i;
	int k;

	for (i = 0; i < r->ncand; i++) {
		for (k = 0; k < 2; k++) {
			struct sub *s = &r->cand[i].sub[k];

			if ((k == 0 && r->o.family == ROUTE_INET6) ||
			    (k == 1 && r->o.family == ROUTE_INET4))
				continue;
			s->r = r;
			s->type = types[k];
			s->used = 1;
			s->st = DNS_TEMPFAIL;
			snprintf(s->why, sizeof(s->why), "out of memory");
			s->q = dns_lookup(r->d, r->cand[i].name, s->type,
					  addr_cb, s);
			if (s->q)
				r->pending++;
		}
	}
	return r->pending;
}

/* ---- the MX round ---- */

/* mx_cmp - by preference */
static int mx_cmp(const void *a, const void *b)
{
	const struct mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* shuffle_equal - RFC 5321 5.1: hosts of equal preference in random order */
static void shuffle_equal(struct dns *d, struct mx *mx, size_t n)
{
	size_t i = 0, j, k;

	while (i < n) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {	/* Fisher-Yates on [i, j) */
			size_t m = i + dns_random(d) % (k - i + 1);
			struct mx t = mx[k];

			mx[k] = mx[m];
			mx[m] = t;
		}
		i = j;
	}
}

/* mx_candidates - the usable MX records of res, deduplicated (lowest
 * preference kept), sorted, shuffled, cut at ROUTE_HOSTS_MAX, into
 * r->cand */
static void mx_candidates(struct route_req *r, const struct dns_result *res)
{
	struct mx mx[MX_MAX];
	size_t n = 0, i, j;

	r->res.nskipped = res->dropped;
	for (i = 0; i < res->n && n < MX_MAX; i++) {
		const struct dns_rr *rr = &res->rr[i];

		if (!rr->name || rr->name[0] == '\0') {	/* "." among others */
			r->res.nskipped++;
			continue;
		}
		for (j = 0; j < n && strcmp(mx[j].name, rr->name) != 0; j++)
			;
		if (j < n) {
			if (rr->pref < mx[j].pref)
				mx[j].pref = rr->pref;
			continue;
		}
		mx[n].name = rr->name;
		mx[n].pref = rr->pref;
		n++;
	}
	qsort(mx, n, sizeof(mx[0]), mx_cmp);
	shuffle_equal(r->d, mx, n);
	for (i = 0; i < n; i++) {
		if (r->ncand == ROUTE_HOSTS_MAX) {
			r->res.nskipped += n - i;
			break;
		}
		snprintf(r->cand[r->ncand].name, DNS_NAME_SIZE, "%s",
			 mx[i].name);
		r->cand[r->ncand].pref = mx[i].pref;
		r->ncand++;
	}
}

/* mx_cb - the MX answer (RFC 5321 5.1, RFC 7505) */
static void mx_cb(void *arg, const struct dns_result *res)
{
	struct route_req *r = arg;

	r->q = NULL;
	switch (res->status) {
	case DNS_CANCELLED:
		r->cancelled = 1;
		finish(r);
		return;
	case DNS_NXDOMAIN:
		set(r, ROUTE_NXDOMAIN, "domain %s does not exist (NXDOMAIN)",
		    r->res.domain);
		finish(r);
		return;
	case DNS_BADNAME:
		set(r, ROUTE_BADNAME, "not a valid domain name");
		finish(r);
		return;
	case DNS_TEMPFAIL:
		set(r, ROUTE_TEMPFAIL, "MX lookup for %s failed: %s",
		    r->res.domain, res->why);
		finish(r);
		return;
	case DNS_NODATA:		/* RFC 5321 5.1: the implicit MX */
		r->mode = MODE_IMPLICIT;
		snprintf(r->cand[0].name, DNS_NAME_SIZE, "%s", res->name);
		r->ncand = 1;
		break;
	case DNS_OK:
		if (res->n == 1 && res->dropped == 0 &&
		    res->rr[0].name[0] == '\0') {	/* RFC 7505 */
			set(r, ROUTE_NULLMX, "domain %s accepts no mail "
			    "(null MX)", r->res.domain);
			finish(r);
			return;
		}
		mx_candidates(r, res);
		break;
	}
	if (r->ncand == 0) {
		set(r, ROUTE_TEMPFAIL, "no usable MX host for %s",
		    r->res.domain);
		finish(r);
	} else if (start_addrs(r) == 0) {
		set(r, ROUTE_TEMPFAIL, "cannot start address lookups for %s",
		    r->res.domain);
		finish(r);
	}
}

/* ---- public entry points ---- */

/* route_resolve - see route.h */
struct route_req *route_resolve(struct dns *d, const char *domain,
				const struct route_opts *o, route_cb *cb,
				void *arg)
{
	struct route_req *r = route_new(d, domain, o, cb, arg);
	struct route_addr a;

	if (!r)
		return NULL;
	if (domain[0] == '[') {
		if (parse_literal(domain, &a) == 0)
			return route_one_addr(r, &a);
		set(r, ROUTE_BADNAME, "not a valid address literal");
		return finish_later(r);
	}
	if (dns_name_norm(r->res.domain, domain) < 0) {
		set(r, ROUTE_BADNAME, "not a valid domain name");
		return finish_later(r);
	}
	r->mode = MODE_MX;
	r->q = dns_lookup(d, domain, DNS_T_MX, mx_cb, r);
	if (!r->q) {
		free(r);
		return NULL;
	}
	return r;
}

/* route_relay - see route.h */
struct route_req *route_relay(struct dns *d, const struct route_target *t,
			      const struct route_opts *o, route_cb *cb,
			      void *arg)
{
	struct route_req *r = route_new(d, t->host, o, cb, arg);

	if (!r)
		return NULL;
	if (t->port)
		r->port = t->port;
	if (t->literal)
		return route_one_addr(r, &t->addr);
	r->mode = MODE_RELAY;
	snprintf(r->cand[0].name, DNS_NAME_SIZE, "%s", t->host);
	r->ncand = 1;
	if (start_addrs(r) == 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* route_cancel - see route.h */
void route_cancel(struct route_req *r)
{
	size_t i;

	if (!r)
		return;
	dns_cancel(r->q);
	for (i = 0; i < r->ncand; i++) {
		dns_cancel(r->cand[i].sub[0].q);
		dns_cancel(r->cand[i].sub[1].q);
	}
	free(r);
}

/* target_err - the reason spec is refused, into err; -1 */
static int target_err(buf_t *err, const char *spec, const char *why)
{
	char shown[LOG_ESC_SIZE];

	buf_printf(err, "smarthost \"%s\": %s", log_show(shown, spec), why);
	return -1;
}

/* route_parse_target - see route.h */
int route_parse_target(const char *spec, struct route_target *t, buf_t *err)
{
	const char *host = spec, *rest, *colon;
	size_t hl;
	unsigned port = 0;

	memset(t, 0, sizeof(*t));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close)
			return target_err(err, spec, "missing ']'");
		host = spec + 1;
		hl = (size_t)(close - host);
		if (hl > 5 && strncasecmp(host, "IPv6:", 5) == 0) {
			host += 5;
			hl -= 5;
			if (parse_ip(host, hl, 1, &t->addr) < 0 ||
			    t->addr.ss.ss_family != AF_INET6)
				return target_err(err, spec,
						  "bad IPv6 address");
		}
		rest = close + 1;
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			return target_err(err, spec, "an IPv6 address "
					  "needs brackets: [addr]:port");
		hl = colon ? (size_t)(colon - spec) : strlen(spec);
		rest = spec + hl;
	}
	if (*rest) {
		char *end;
		unsigned long v;

		if (rest[0] != ':' || rest[1] < '0' || rest[1] > '9')
			return target_err(err, spec, "bad port");
		v = strtoul(rest + 1, &end, 10);
		if (*end || v == 0 || v > 65535)
			return target_err(err, spec, "bad port");
		port = (unsigned)v;
	}
	if (hl == 0 || hl >= sizeof(t->host))
		return target_err(err, spec, "no host");
	memcpy(t->host, host, hl);
	t->host[hl] = '\0';
	t->port = (uint16_t)port;
	if (t->addr.len || parse_ip(t->host, hl, 1, &t->addr) == 0) {
		t->literal = 1;
		set_port(&t->addr, t->port);
		return 0;
	}
	if (!dns_name_ok(t->host))
		return target_err(err, spec, "not a host name or IP address");
	if (dns_name_norm(t->host, t->host) < 0)
		return target_err(err, spec, "not a host name");
	return 0;
}

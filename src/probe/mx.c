/* mx - `mailport mx DOMAIN [--dns HOST:PORT] [--json] [--timeout S]`: the
 * seeds' `nslookup -type=mx` and `nslookup -type=ptr`, done together and
 * explained: the MX hosts by preference (RFC 5321 5.1), each host's A and
 * AAAA addresses, each address's PTR names and whether each PTR name
 * resolves back to the address (forward-confirmed reverse DNS); the
 * implicit MX, null MX (RFC 7505), NXDOMAIN and DNS failures each explained
 * in one line.  Issue 8; output, JSON and exit codes in the issue 8 spec.
 *
 * Public: mx_main (probe.h).
 *
 * A run: options -> a resolver (dns.h) on a private event base -> the MX
 * lookup -> the A and AAAA lookups of every host -> the PTR lookup of
 * every address -> the A or AAAA lookup of every PTR name; each round
 * starts from the callbacks of the one before, all lookups of a round at
 * once.  The loop runs until no lookup is pending or the --timeout deadline
 * fires (dns_free then cancels whatever is left, reported as "no answer
 * within N s").  Then the result is judged and printed, text or JSON.
 *
 * Invariants: every name printed is either the domain given, normalised by
 * dns_name_norm, or a name from the DNS that passed dns_name_ok (dns.h), so
 * nothing in an answer can drive the terminal; a bad domain is printed
 * escaped.  Equal preferences are listed by name (RFC 5321 5.1 makes their
 * order random: the note says so).  At most MX_HOSTS_MAX hosts,
 * MX_FAMILY_MAX addresses per family and host, MX_PTRS_MAX PTR names per
 * address are looked at.  Exit: 0 can receive mail, 1 cannot (null MX,
 * NXDOMAIN, no address), 2 usage (or not a domain name), 3 temporary DNS
 * failure.
 */
#include "probe/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "dns/dns.h"
#include "dns/dnsmsg.h"
#include "dns/route.h"
#include "probe/verdict.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

#define MX_HOSTS_MAX 16
#define MX_FAMILY_MAX 8			/* addresses per family and host */
#define MX_ADDRS_MAX (2 * MX_FAMILY_MAX)
#define MX_PTRS_MAX 4
#define MX_RECORDS_MAX 64		/* MX records sorted (dns.c keeps 64) */
#define MX_WHY_MAX 80
#define MX_TIMEOUT_DEFAULT 15		/* seconds, the whole run */
#define MX_TIMEOUT_MAX 3600

enum mx_exit {
	MX_EXIT_OK = 0,
	MX_EXIT_NOMAIL = 1,
	MX_EXIT_USAGE = 2,
	MX_EXIT_TEMP = 3,
};

enum mx_status {
	MX_OK = 0,
	MX_IMPLICIT,
	MX_NULLMX,
	MX_NXDOMAIN,
	MX_TEMPFAIL,
	MX_NOADDR,
	MX_BADNAME,
};

static const char *const status_names[] = {
	"ok", "implicit", "nullmx", "nxdomain", "tempfail", "noaddr", "badname",
};

/* The outcome of one lookup. */
struct look {
	int done;			/* answered (or given up) */
	enum dns_status st;
	char why[MX_WHY_MAX];
};

struct mxaddr {
	struct sockaddr_storage ss;
	char text[INET6_ADDRSTRLEN];
	struct look ptr;
	size_t nptr;
	char ptrname[MX_PTRS_MAX][DNS_NAME_SIZE];
	struct look fwd[MX_PTRS_MAX];	/* A/AAAA of each PTR name */
	int back[MX_PTRS_MAX];		/* ... and it holds this address */
};

struct mxhost {
	char name[DNS_NAME_SIZE];
	unsigned pref;
	int implicit;
	struct look a[2];		/* [0] A, [1] AAAA */
	size_t naddrs;
	size_t nfam[2];
	size_t more;			/* addresses beyond MX_FAMILY_MAX */
	struct mxaddr addrs[MX_ADDRS_MAX];
};

struct mxrun {
	struct event_base *base;
	struct dns *d;
	int timeout_s;
	int pending;			/* lookups in flight */
	int expired;			/* the deadline fired */
	char domain[DNS_NAME_SIZE];
	struct look mx;
	int nullmx;
	int bad_dot;			/* "0 ." among other MX records */
	size_t dropped;			/* MX records with unusable names */
	size_t more;			/* MX hosts beyond MX_HOSTS_MAX */
	size_t nhosts;
	struct mxhost hosts[MX_HOSTS_MAX];
};

enum job_kind { JOB_MX, JOB_ADDR, JOB_PTR, JOB_FWD };

/* One lookup in flight: what its answer is for. */
struct job {
	struct mxrun *r;
	enum job_kind kind;
	size_t h, a, p;			/* host, address, PTR name */
	int k;				/* JOB_ADDR: 0 A, 1 AAAA */
};

/* What the command line asked for. */
struct mxopts {
	const char *domain;
	const char *servers;
	int json;
	int timeout_s;
};

/* usage - the synopsis on f; rc */
static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: mailport mx DOMAIN [--dns HOST:PORT] [--json] [--timeout S]\n"
		   "  The MX hosts of DOMAIN by preference, their addresses and reverse DNS\n"
		   "  (PTR, and whether it resolves back), explained.\n"
		   "  --dns HOST:PORT  ask this DNS server (default: /etc/resolv.conf)\n"
		   "  --json           one JSON document on stdout\n"
		   "  --timeout S      give up on DNS after S seconds in all (default %d)\n"
		   "Exit: 0 DOMAIN can receive mail, 1 it cannot (null MX, NXDOMAIN, no\n"
		   "address), 2 usage, 3 temporary DNS failure.\n", MX_TIMEOUT_DEFAULT);
	return rc;
}

/* ---- the command line ---- */

/* take_value - the value of option argv[*i] ("--opt=V" or the next word) */
static const char *take_value(int argc, char **argv, int *i, const char *eq)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* parse_timeout - whole seconds 1..MX_TIMEOUT_MAX; -1 if not */
static int parse_timeout(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno || v < 1 || v > MX_TIMEOUT_MAX)
		return -1;
	return (int)v;
}

/* one_option - argv[*i], a word starting with '-'; 0, 1 (help) or
 * MX_EXIT_USAGE */
static int one_option(int argc, char **argv, int *i, struct mxopts *o)
{
	const char *a = argv[*i], *eq = strchr(a, '='), *v;
	size_t n = eq ? (size_t)(eq - a) : strlen(a);

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		return 1;
	if (strcmp(a, "--json") == 0) {
		o->json = 1;
		return 0;
	}
	if (n == 5 && strncmp(a, "--dns", 5) == 0) {
		v = take_value(argc, argv, i, eq);
		if (!v || !*v) {
			log_cli("mx", "--dns needs a value (HOST:PORT)");
			return MX_EXIT_USAGE;
		}
		o->servers = v;
		return 0;
	}
	if (n == 9 && strncmp(a, "--timeout", 9) == 0) {
		v = take_value(argc, argv, i, eq);
		if (!v || (o->timeout_s = parse_timeout(v)) < 0) {
			log_cli("mx", "--timeout needs whole seconds from 1 to %d",
			    MX_TIMEOUT_MAX);
			return MX_EXIT_USAGE;
		}
		return 0;
	}
	log_cli("mx", "unknown option %.*s", (int)(n > 40 ? 40 : n), a);
	return MX_EXIT_USAGE;
}

/* parse_args - options anywhere, one domain ("--" ends options); 0, 1
 * (help) or MX_EXIT_USAGE */
static int parse_args(int argc, char **argv, struct mxopts *o)
{
	int i, opts = 1, rc;

	o->timeout_s = MX_TIMEOUT_DEFAULT;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			if ((rc = one_option(argc, argv, &i, o)) != 0)
				return rc;
		} else if (o->domain) {
			log_cli("mx", "one domain only");
			return MX_EXIT_USAGE;
		} else {
			o->domain = a;
		}
	}
	if (!o->domain) {
		log_cli("mx", "which domain?");
		return MX_EXIT_USAGE;
	}
	return 0;
}

/* ---- the lookups ---- */

/* set_look - what an answer says, into l */
static void set_look(struct mxrun *r, struct look *l,
		     const struct dns_result *res)
{
	l->done = 1;
	if (res->status == DNS_CANCELLED) {
		l->st = DNS_TEMPFAIL;
		snprintf(l->why, sizeof(l->why), "no answer within %d s",
			 r->timeout_s);
		return;
	}
	l->st = res->status;
	snprintf(l->why, sizeof(l->why), "%s", res->why);
}

static void job_cb(void *arg, const struct dns_result *res);

/* start - a lookup for job (kind, h, a, p, k): of name/type, or the PTR of
 * sa; on failure l gets a temporary failure */
static void start(struct mxrun *r, struct look *l, const char *name,
		  uint16_t type, const struct sockaddr *sa, struct job tmpl)
{
	struct job *j;
	struct dns_req *q = NULL;

	if (!r->d || r->expired)
		goto fail;
	j = malloc(sizeof(*j));
	if (!j)
		goto fail;
	*j = tmpl;
	j->r = r;
	q = sa ? dns_lookup_ptr(r->d, sa, job_cb, j) :
		 dns_lookup(r->d, name, type, job_cb, j);
	if (!q) {
		free(j);
		goto fail;
	}
	r->pending++;
	return;
fail:
	l->done = 1;
	l->st = DNS_TEMPFAIL;
	snprintf(l->why, sizeof(l->why), "%s",
		 r->expired ? "no time left" : "out of memory");
}

/* start_addrs - the A and AAAA lookups of host h */
static void start_addrs(struct mxrun *r, size_t h)
{
	static const uint16_t types[2] = { DNS_T_A, DNS_T_AAAA };
	struct job t = { .kind = JOB_ADDR, .h = h };
	int k;

	for (k = 0; k < 2; k++) {
		t.k = k;
		start(r, &r->hosts[h].a[k], r->hosts[h].name, types[k], NULL, t);
	}
}

/* mx_rank - by preference, then by name */
static int mx_rank(const void *x, const void *y)
{
	const struct dns_rr *a = *(const struct dns_rr *const *)x;
	const struct dns_rr *b = *(const struct dns_rr *const *)y;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* on_mx - the MX answer: the hosts (RFC 5321 5.1), or null MX (RFC 7505),
 * or no MX at all (the implicit MX) */
static void on_mx(struct mxrun *r, const struct dns_result *res)
{
	const struct dns_rr *rr[MX_RECORDS_MAX];
	size_t n = 0, i, j;

	set_look(r, &r->mx, res);
	if (res->status == DNS_NODATA) {
		struct mxhost *h = &r->hosts[0];

		snprintf(h->name, sizeof(h->name), "%s", r->domain);
		h->implicit = 1;
		r->nhosts = 1;
		start_addrs(r, 0);
		return;
	}
	if (res->status != DNS_OK)
		return;
	if (res->n == 1 && res->dropped == 0 && res->rr[0].name &&
	    res->rr[0].name[0] == '\0') {
		r->nullmx = 1;
		return;
	}
	r->dropped = res->dropped;
	for (i = 0; i < res->n && n < MX_RECORDS_MAX; i++) {
		if (!res->rr[i].name || res->rr[i].name[0] == '\0') {
			r->bad_dot = 1;
			continue;
		}
		for (j = 0; j < n && strcmp(rr[j]->name, res->rr[i].name); j++)
			;
		if (j == n)
			rr[n++] = &res->rr[i];
		else if (res->rr[i].pref < rr[j]->pref)
			rr[j] = &res->rr[i];	/* a name twice: the best */
	}
	qsort(rr, n, sizeof(rr[0]), mx_rank);
	for (i = 0; i < n; i++) {
		struct mxhost *h;

		if (r->nhosts == MX_HOSTS_MAX) {
			r->more = n - i;
			break;
		}
		h = &r->hosts[r->nhosts++];
		snprintf(h->name, sizeof(h->name), "%s", rr[i]->name);
		h->pref = rr[i]->pref;
	}
	for (i = 0; i < r->nhosts; i++)
		start_addrs(r, i);
}

/* on_addr - the A or AAAA answer of host h: keep the addresses, start
 * their PTR lookups */
static void on_addr(struct mxrun *r, size_t h, int k,
		    const struct dns_result *res)
{
	struct mxhost *host = &r->hosts[h];
	size_t i;

	set_look(r, &host->a[k], res);
	for (i = 0; i < res->n; i++) {
		struct mxaddr *a;
		struct job t = { .kind = JOB_PTR, .h = h };
		const void *bin;

		if (host->nfam[k] == MX_FAMILY_MAX) {
			host->more += res->n - i;
			break;
		}
		a = &host->addrs[host->naddrs];
		if (dns_rr_sockaddr(&res->rr[i], 0, &a->ss) == 0)
			continue;
		bin = a->ss.ss_family == AF_INET6 ?
			(const void *)&((struct sockaddr_in6 *)(void *)
					&a->ss)->sin6_addr :
			(const void *)&((struct sockaddr_in *)(void *)
					&a->ss)->sin_addr;
		inet_ntop(a->ss.ss_family, bin, a->text, sizeof(a->text));
		t.a = host->naddrs++;
		host->nfam[k]++;
		start(r, &a->ptr, NULL, 0, (const struct sockaddr *)&a->ss, t);
	}
}

/* on_ptr - the PTR names of an address: keep them, start their forward
 * lookups (same family as the address) */
static void on_ptr(struct mxrun *r, size_t h, size_t ai,
		   const struct dns_result *res)
{
	struct mxaddr *a = &r->hosts[h].addrs[ai];
	uint16_t type = a->ss.ss_family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
	size_t i;

	set_look(r, &a->ptr, res);
	for (i = 0; i < res->n && a->nptr < MX_PTRS_MAX; i++) {
		struct job t = { .kind = JOB_FWD, .h = h, .a = ai };

		if (!res->rr[i].name || res->rr[i].name[0] == '\0')
			continue;
		t.p = a->nptr++;
		snprintf(a->ptrname[t.p], DNS_NAME_SIZE, "%s", res->rr[i].name);
		start(r, &a->fwd[t.p], a->ptrname[t.p], type, NULL, t);
	}
}

/* same_addr - the A/AAAA record rr holds the address of a */
static int same_addr(const struct dns_rr *rr, const struct mxaddr *a)
{
	if (rr->type == DNS_T_A && a->ss.ss_family == AF_INET)
		return memcmp(&rr->addr.a, &((const struct sockaddr_in *)
					     (const void *)&a->ss)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (rr->type == DNS_T_AAAA && a->ss.ss_family == AF_INET6)
		return memcmp(&rr->addr.aaaa, &((const struct sockaddr_in6 *)
						(const void *)&a->ss)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return 0;
}

/* on_fwd - the forward answer of a PTR name: does it lead back? */
static void on_fwd(struct mxrun *r, size_t h, size_t ai, size_t p,
		   const struct dns_result *res)
{
	struct mxaddr *a = &r->hosts[h].addrs[ai];
	size_t i;

	set_look(r, &a->fwd[p], res);
	for (i = 0; i < res->n; i++)
		if (same_addr(&res->rr[i], a))
			a->back[p] = 1;
}

/* job_cb - every answer comes here; the loop stops when none is pending */
static void job_cb(void *arg, const struct dns_result *res)
{
	struct job *j = arg;
	struct mxrun *r = j->r;

	switch (j->kind) {
	case JOB_MX:
		on_mx(r, res);
		break;
	case JOB_ADDR:
		on_addr(r, j->h, j->k, res);
		break;
	case JOB_PTR:
		on_ptr(r, j->h, j->a, res);
		break;
	case JOB_FWD:
		on_fwd(r, j->h, j->a, j->p, res);
		break;
	}
	free(j);
	if (--r->pending == 0)
		event_base_loopbreak(r->base);
}

/* on_deadline - --timeout is over: cancel everything still pending (each
 * gets its callback now, with DNS_CANCELLED) */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct mxrun *r = arg;

	(void)fd;
	(void)what;
	r->expired = 1;
	dns_free(r->d);
	r->d = NULL;
	event_base_loopbreak(r->base);
}

/* run - all the lookups for r->domain, bounded by r->timeout_s; 0, or -1
 * when the resolver cannot start (a message said why) */
static int run(struct mxrun *r, const char *servers)
{
	struct dns_conf c;
	struct event *deadline;
	struct timeval tv = { r->timeout_s, 0 };
	struct job t = { .kind = JOB_MX };
	buf_t err;
	int ms = r->timeout_s * 250;

	r->base = event_base_new();
	if (!r->base) {
		log_cli("mx", "cannot create an event base");
		return -1;
	}
	dns_conf_init(&c);
	c.servers = servers;
	c.timeout_ms = ms < 250 ? 250 : ms > 3000 ? 3000 : ms;
	buf_init(&err);
	r->d = dns_new(r->base, &c, &err);
	if (!r->d) {
		log_cli("mx", "%s%s", servers ? "--dns: " : "",
		    err.data ? err.data : "cannot start the resolver");
		buf_free(&err);
		event_base_free(r->base);
		return -1;
	}
	buf_free(&err);
	deadline = evtimer_new(r->base, on_deadline, r);
	if (!deadline || evtimer_add(deadline, &tv) < 0) {
		log_cli("mx", "cannot set a timer");
		if (deadline)
			event_free(deadline);
		dns_free(r->d);
		event_base_free(r->base);
		return -1;
	}
	start(r, &r->mx, r->domain, DNS_T_MX, NULL, t);
	if (r->pending > 0)
		event_base_dispatch(r->base);
	event_free(deadline);
	dns_free(r->d);
	r->d = NULL;
	event_base_free(r->base);
	r->base = NULL;
	return 0;
}

/* ---- the judgement ---- */

/* addr_rank - IPv4 first, then by address */
static int addr_rank(const void *x, const void *y)
{
	const struct mxaddr *a = x, *b = y;

	if (a->ss.ss_family != b->ss.ss_family)
		return a->ss.ss_family == AF_INET ? -1 : 1;
	if (a->ss.ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)
				&a->ss)->sin_addr,
			      &((const struct sockaddr_in *)(const void *)
				&b->ss)->sin_addr, sizeof(struct in_addr));
	return memcmp(&((const struct sockaddr_in6 *)(const void *)
			&a->ss)->sin6_addr,
		      &((const struct sockaddr_in6 *)(const void *)
			&b->ss)->sin6_addr, sizeof(struct in6_addr));
}

/* host_tempfail - an address lookup of h failed temporarily */
static int host_tempfail(const struct mxhost *h)
{
	return (h->a[0].done && h->a[0].st == DNS_TEMPFAIL) ||
	       (h->a[1].done && h->a[1].st == DNS_TEMPFAIL);
}

/* judge - the status of a finished run */
static enum mx_status judge(const struct mxrun *r)
{
	size_t i, usable = 0;
	int temp = 0;

	switch (r->mx.st) {
	case DNS_NXDOMAIN: return MX_NXDOMAIN;
	case DNS_BADNAME: return MX_BADNAME;
	case DNS_OK:
	case DNS_NODATA: break;
	default: return MX_TEMPFAIL;
	}
	if (r->nullmx)
		return MX_NULLMX;
	for (i = 0; i < r->nhosts; i++) {
		usable += r->hosts[i].naddrs > 0;
		temp |= host_tempfail(&r->hosts[i]);
	}
	if (usable)
		return r->mx.st == DNS_NODATA ? MX_IMPLICIT : MX_OK;
	return temp ? MX_TEMPFAIL : MX_NOADDR;
}

/* status_exit - the exit status of a status */
static int status_exit(enum mx_status st)
{
	switch (st) {
	case MX_OK:
	case MX_IMPLICIT: return MX_EXIT_OK;
	case MX_NULLMX:
	case MX_NXDOMAIN:
	case MX_NOADDR: return MX_EXIT_NOMAIL;
	case MX_BADNAME: return MX_EXIT_USAGE;
	case MX_TEMPFAIL: break;
	}
	return MX_EXIT_TEMP;
}

/* first_hosts - "a", "a or b", "a, b or c": the usable hosts of the best
 * preference, into out; how many */
static size_t first_hosts(const struct mxrun *r, buf_t *out)
{
	size_t i, n = 0, k = 0;
	unsigned best = 0;
	int found = 0;

	for (i = 0; i < r->nhosts; i++) {
		if (r->hosts[i].naddrs == 0)
			continue;
		if (!found || r->hosts[i].pref < best) {
			best = r->hosts[i].pref;
			found = 1;
		}
	}
	for (i = 0; i < r->nhosts; i++)
		n += r->hosts[i].naddrs > 0 && r->hosts[i].pref == best;
	for (i = 0; i < r->nhosts; i++) {
		if (r->hosts[i].naddrs == 0 || r->hosts[i].pref != best)
			continue;
		k++;
		buf_printf(out, "%s%s", k == 1 ? "" : k == n ? " or " : ", ",
			   r->hosts[i].name);
	}
	return n;
}

/* explain - the one-line verdict on the run into out */
static void explain(const struct mxrun *r, enum mx_status st,
		    const char *shown, buf_t *out)
{
	const char *d = shown;
	buf_t first;
	size_t i, n;

	switch (st) {
	case MX_OK:
		buf_init(&first);
		n = first_hosts(r, &first);
		buf_printf(out, "%s can receive mail: try %s first%s.", d,
			   first.data, n > 1 ? " (same preference: senders "
			   "pick at random)" : "");
		buf_free(&first);
		return;
	case MX_IMPLICIT:
		buf_printf(out, "%s can receive mail: it has no MX record, so "
			   "senders use its own address (implicit MX, RFC 5321 "
			   "5.1).", d);
		return;
	case MX_NULLMX:
		buf_printf(out, "%s cannot receive mail: it publishes a null MX "
			   "(\"0 .\", RFC 7505), which says it accepts no mail; "
			   "senders bounce at once.", d);
		return;
	case MX_NXDOMAIN:
		buf_printf(out, "%s cannot receive mail: the domain does not "
			   "exist (NXDOMAIN); check the spelling.", d);
		return;
	case MX_BADNAME:
		buf_printf(out, "%s is not a valid domain name%s.", d,
			   d[0] == '[' ? " (an address literal needs no MX "
			   "lookup: mail goes to that address)" :
			   " (give internationalized names in their xn-- "
			   "form)");
		return;
	case MX_NOADDR:
		if (r->mx.st == DNS_NODATA)
			buf_printf(out, "%s cannot receive mail: it has no MX "
				   "record and no A/AAAA address, so there is "
				   "nowhere to deliver.", d);
		else if (r->nhosts == 0)
			buf_printf(out, "%s cannot receive mail: its MX records "
				   "name no usable host.", d);
		else
			buf_printf(out, "%s cannot receive mail: none of its MX "
				   "hosts has an address; fix the MX records or "
				   "the hosts' A/AAAA records.", d);
		return;
	case MX_TEMPFAIL:
		break;
	}
	if (!(r->mx.st == DNS_OK || r->mx.st == DNS_NODATA)) {
		buf_printf(out, "%s: the MX lookup failed (%s), a temporary DNS "
			   "failure: senders keep the mail and retry; check the "
			   "domain's name servers and your DNS server (--dns).",
			   d, r->mx.why);
		return;
	}
	for (i = 0; i < r->nhosts && !host_tempfail(&r->hosts[i]); i++)
		;
	if (r->mx.st == DNS_NODATA)
		buf_printf(out, "%s: no MX record, and the address lookup failed "
			   "(%s), a temporary DNS failure: senders retry later.",
			   d, r->hosts[0].a[r->hosts[0].a[0].st == DNS_TEMPFAIL ?
					    0 : 1].why);
	else
		buf_printf(out, "%s: no MX host has an address, and some lookups "
			   "failed (%s), a temporary DNS failure: senders retry "
			   "later.", d, i < r->nhosts ?
			   r->hosts[i].a[r->hosts[i].a[0].st == DNS_TEMPFAIL ?
					 0 : 1].why : "?");
}

/* fcrdns - a PTR name of a leads back to it */
static int fcrdns(const struct mxaddr *a)
{
	size_t p;

	for (p = 0; p < a->nptr; p++)
		if (a->back[p])
			return 1;
	return 0;
}

/* matches_host - a PTR name of a is the host's name */
static int matches_host(const struct mxaddr *a, const char *host)
{
	size_t p;

	for (p = 0; p < a->nptr; p++)
		if (strcasecmp(a->ptrname[p], host) == 0)
			return 1;
	return 0;
}

/* ptr_status - "ok", "nodata", "nxdomain", "tempfail" for JSON */
static const char *ptr_status(const struct mxaddr *a)
{
	if (!a->ptr.done)
		return "tempfail";
	return dns_status_name(a->ptr.st);
}

/* describe_addr - "(PTR mx1.test, matches)" and the like into out */
static void describe_addr(const struct mxaddr *a, const char *host,
			  buf_t *out)
{
	size_t p;
	int temp = 0;

	if (!a->ptr.done || a->ptr.st == DNS_TEMPFAIL) {
		buf_printf(out, "(PTR lookup failed: %s)",
			   a->ptr.done ? a->ptr.why : "not done");
		return;
	}
	if (a->nptr == 0) {
		buf_puts(out, "(no PTR)");
		return;
	}
	buf_puts(out, "(PTR");
	for (p = 0; p < a->nptr; p++)
		buf_printf(out, "%s %s", p ? "," : "", a->ptrname[p]);
	if (matches_host(a, host))
		buf_puts(out, ", matches");
	else
		buf_printf(out, ", does not match %s", host);
	if (!fcrdns(a)) {
		for (p = 0; p < a->nptr; p++)
			temp |= a->fwd[p].st == DNS_TEMPFAIL || !a->fwd[p].done;
		if (temp)
			buf_puts(out, "; could not check that it resolves back");
		else if (a->nptr == 1)
			buf_printf(out, "; %s does not resolve back to it",
				   a->ptrname[0]);
		else
			buf_puts(out, "; no PTR name resolves back to it");
	}
	buf_puts(out, ")");
}

/* host_error - why host h has no address ("NXDOMAIN", "A: SERVFAIL, AAAA:
 * no data") into out; "" when it has one */
static void host_error(const struct mxhost *h, buf_t *out)
{
	const struct look *a = &h->a[0], *b = &h->a[1];

	if (h->naddrs > 0)
		return;
	if (a->st == b->st && strcmp(a->why, b->why) == 0)
		buf_printf(out, "%s", a->why);
	else
		buf_printf(out, "A: %s, AAAA: %s", a->why, b->why);
}

/* add_notes - the remarks worth a line each, into notes (one per line) */
static void add_notes(const struct mxrun *r, buf_t *notes)
{
	size_t i, j, k;
	int ptr_issue = 0, partial = 0;

	for (i = 0; i < r->nhosts; i = j) {
		for (j = i + 1; j < r->nhosts && !r->hosts[i].implicit &&
		     r->hosts[j].pref == r->hosts[i].pref; j++)
			;
		if (j - i < 2)
			continue;
		for (k = i; k < j; k++)
			buf_printf(notes, "%s%s", k == i ? "" : k + 1 == j ?
				   " and " : ", ", r->hosts[k].name);
		buf_printf(notes, " share preference %u: senders pick among "
			   "them at random (RFC 5321 5.1)\n", r->hosts[i].pref);
	}
	if (r->bad_dot)
		buf_puts(notes, "a null MX record (\"0 .\") among other MX "
			 "records is invalid (RFC 7505 3) and is ignored\n");
	if (r->dropped)
		buf_printf(notes, "%zu MX record(s) with an invalid host name "
			   "ignored\n", r->dropped);
	if (r->more)
		buf_printf(notes, "%zu more MX host(s) not checked (only the "
			   "first %d)\n", r->more, MX_HOSTS_MAX);
	for (i = 0; i < r->nhosts; i++) {
		const struct mxhost *h = &r->hosts[i];

		if (h->naddrs == 0 && !h->implicit && judge(r) == MX_OK)
			buf_printf(notes, "%s has no address: senders skip it\n",
				   h->name);
		partial |= h->naddrs > 0 && host_tempfail(h);
		for (j = 0; j < h->naddrs; j++)
			ptr_issue |= !fcrdns(&h->addrs[j]) ||
				     !matches_host(&h->addrs[j], h->name);
	}
	if (partial)
		buf_puts(notes, "some address lookups failed: the list may be "
			 "incomplete\n");
	if (ptr_issue)
		buf_puts(notes, "a missing or mismatched PTR does not stop a "
			 "host from receiving mail; it matters for the "
			 "addresses a server sends from (receivers check that "
			 "the PTR name resolves back)\n");
	if (r->expired && r->mx.st != DNS_TEMPFAIL)
		buf_printf(notes, "some lookups got no answer within %d s\n",
			   r->timeout_s);
}

/* ---- output ---- */

/* print_text - the human form on stdout */
static void print_text(const struct mxrun *r, enum mx_status st,
		       const char *expl, const buf_t *notes)
{
	const char *p, *nl;
	buf_t line;
	size_t i, j;

	if (r->nhosts > 0 && st != MX_BADNAME) {
		if (r->hosts[0].implicit)
			printf("%s: no MX record, so the domain itself is the "
			       "implicit MX\n", r->domain);
		else
			printf("%s: %zu MX host%s\n", r->domain,
			       r->nhosts + r->more, r->nhosts + r->more == 1 ?
			       "" : "s");
	}
	buf_init(&line);
	for (i = 0; i < r->nhosts && st != MX_BADNAME; i++) {
		const struct mxhost *h = &r->hosts[i];

		buf_reset(&line);
		if (h->implicit)
			buf_printf(&line, "  (implicit) %s", h->name);
		else
			buf_printf(&line, "  %u %s", h->pref, h->name);
		if (h->naddrs == 0) {
			buf_puts(&line, "  no address (");
			host_error(h, &line);
			buf_puts(&line, ")");
		}
		for (j = 0; j < h->naddrs; j++) {
			buf_printf(&line, "  %s ", h->addrs[j].text);
			describe_addr(&h->addrs[j], h->name, &line);
		}
		if (h->more)
			buf_printf(&line, "  (+%zu more)", h->more);
		for (j = 0; j < 2 && h->naddrs > 0; j++)
			if (h->a[j].st == DNS_TEMPFAIL)
				buf_printf(&line, "  (%s lookup failed: %s)",
					   j ? "AAAA" : "A", h->a[j].why);
		printf("%s\n", line.data);
	}
	buf_free(&line);
	for (p = notes->data; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		printf("  note: %.*s\n", (int)(nl - p), p);
	}
	printf("%s\n", expl);
}

/* json_addr - one address object */
static void json_addr(buf_t *o, const struct mxaddr *a, const char *host)
{
	size_t p;

	buf_puts(o, "{\"address\":");
	json_cstr(o, a->text);
	buf_puts(o, ",\"ptr\":[");
	for (p = 0; p < a->nptr; p++) {
		if (p)
			buf_putc(o, ',');
		json_cstr(o, a->ptrname[p]);
	}
	buf_printf(o, "],\"ptr_status\":\"%s\",\"fcrdns\":%s,"
		   "\"matches_host\":%s}", ptr_status(a),
		   fcrdns(a) ? "true" : "false",
		   matches_host(a, host) ? "true" : "false");
}

/* print_json - the one JSON document on stdout */
static void print_json(const struct mxrun *r, enum mx_status st,
		       const char *shown, const char *expl,
		       const buf_t *notes)
{
	const char *p, *nl;
	buf_t o, err;
	size_t i, j;

	buf_init(&o);
	buf_init(&err);
	buf_puts(&o, "{\"domain\":");
	json_cstr(&o, shown);
	buf_printf(&o, ",\"status\":\"%s\",\"explanation\":", status_names[st]);
	json_cstr(&o, expl);
	buf_puts(&o, ",\"hosts\":[");
	for (i = 0; i < r->nhosts && st != MX_BADNAME; i++) {
		const struct mxhost *h = &r->hosts[i];

		buf_puts(&o, i ? ",{\"name\":" : "{\"name\":");
		json_cstr(&o, h->name);
		buf_printf(&o, ",\"preference\":%u,\"implicit\":%s,"
			   "\"addresses\":[", h->pref,
			   h->implicit ? "true" : "false");
		for (j = 0; j < h->naddrs; j++) {
			if (j)
				buf_putc(&o, ',');
			json_addr(&o, &h->addrs[j], h->name);
		}
		buf_puts(&o, "],\"error\":");
		buf_reset(&err);
		host_error(h, &err);
		json_cstr(&o, err.len ? err.data : NULL);
		buf_putc(&o, '}');
	}
	buf_puts(&o, "],\"notes\":[");
	for (p = notes->data, j = 0; p && *p; p = nl + 1, j++) {
		nl = strchr(p, '\n');
		if (j)
			buf_putc(&o, ',');
		json_str(&o, p, (size_t)(nl - p));
	}
	buf_printf(&o, "],\"exit\":%d}\n", status_exit(st));
	fwrite(o.data, 1, o.len, stdout);
	buf_free(&o);
	buf_free(&err);
}

/* report - judge r, print it; the exit status */
static int report(struct mxrun *r, const struct mxopts *o, enum mx_status st,
		  const char *shown)
{
	buf_t expl, notes;
	size_t i;
	int rc = status_exit(st);

	for (i = 0; i < r->nhosts; i++)
		qsort(r->hosts[i].addrs, r->hosts[i].naddrs,
		      sizeof(r->hosts[i].addrs[0]), addr_rank);
	buf_init(&expl);
	buf_init(&notes);
	explain(r, st, shown, &expl);
	if (st != MX_BADNAME)
		add_notes(r, &notes);
	if (o->json)
		print_json(r, st, shown, expl.data, &notes);
	else if (st == MX_BADNAME)
		log_cli("mx", "%s", expl.data);
	else
		print_text(r, st, expl.data, &notes);
	buf_free(&expl);
	buf_free(&notes);
	fflush(stdout);
	return rc;
}

/* mx_main - see probe.h */
int mx_main(int argc, char **argv)
{
	struct mxopts o;
	struct mxrun *r;
	char shown[LOG_ESC_SIZE];
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc == 1)
		return usage(stdout, MX_EXIT_OK);
	if (rc != 0)
		return usage(stderr, rc);
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_cli("mx", "out of memory");
		return MX_EXIT_TEMP;
	}
	r->timeout_s = o.timeout_s;
	if (dns_name_norm(r->domain, o.domain) < 0) {
		log_show(shown, o.domain);
		rc = report(r, &o, MX_BADNAME, shown);
		free(r);
		return rc;
	}
	if (run(r, o.servers) < 0) {
		free(r);
		return o.servers ? MX_EXIT_USAGE : MX_EXIT_TEMP;
	}
	rc = report(r, &o, judge(r), r->domain);
	free(r);
	return rc;
}

/* smtp - remote delivery: the agent that takes jobs (one message, the
 * recipients of one next hop) from the scheduler and delivers them over
 * SMTP.
 *
 * Public: smtp_agent_new, smtp_agent_stop, smtp_agent_free.
 *
 * Shape.  One struct dest per next hop with jobs waiting; it routes the
 * hop once (dns/route: MX hosts in order, or the smarthost), drops the
 * hosts that are this server (RFC 5321 5.1: an MX with our name or
 * address, and every MX of the same or a lower preference; none left is a
 * loop, 5.4.6), and opens connections (at most per_destination, and
 * max_connections in all).  A struct conn runs one job at a time and takes
 * the next waiting job of its hop when one is done (several messages per
 * connection); it walks the hosts and their addresses in order while the
 * failure is the session's (refused, timed out, a 4xx greeting, a drop:
 * the engine's next_mx).
 * Every wait is bounded: the connect by connect_timeout, the rest by the
 * engine's RFC 5321 4.5.3.2 timeouts.  Disk reads (the 8-bit scan and the
 * message body in 64 KiB chunks) run on the worker pool; the loop never
 * waits for the disk or the network.
 * Invariants: a job's done() is called exactly once, from the loop, never
 * from inside submit; a conn with a pool job in flight is freed only when
 * it comes back; bytes the server sent after its 220 to STARTTLS are
 * dropped (CHECKLIST D, response injection); the body goes out through
 * msg/outbound (CRLF only, dot-stuffed: no smuggling payload survives).
 */
#include "deliver/smtp.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "deliver/agent.h"
#include "dns/route.h"
#include "msg/outbound.h"
#include "net/listen.h"
#include "util/log.h"
#include "util/work.h"

#define CHUNK (64 * 1024)
#define OUT_LOW (64 * 1024)	/* read the next chunk below this */
#define DEFAULT_MAX_CONN 100
#define DEFAULT_PER_DEST 10
#define DEFAULT_CONNECT_TIMEOUT 30

struct sagent;

struct dest {
	struct sagent *ag;
	char *name;			/* the next hop */
	struct agent_job *qhead, *qtail;	/* waiting */
	unsigned nconn;
	struct route_req *rreq;		/* routing in flight */
	int routed;			/* route below is usable */
	struct route route;
	struct dest *next;
};

enum cstate { C_PREP, C_CONNECT, C_SMTP, C_IDLE, C_CLOSING };

#define IDLE_KEEP 2	/* seconds an idle session waits for the next job of
			 * its hop (Postfix's smtp_connection_cache_time) */

struct conn {
	struct sagent *ag;
	struct dest *d;
	enum cstate state;
	size_t host, addr;		/* where in d->route we are */
	char remote[DSTATUS_REMOTE_MAX];
	struct bufferevent *bev;
	struct event *timer;
	struct smtpc *eng;
	int tls_pending;
	int busy;			/* a pool job holds the conn */
	int dead;			/* freed when the pool job returns */
	/* the job */
	struct agent_job *job;
	struct smtpc_job sj;
	struct smtpc_rcpt *rc;
	unsigned scan_flags;
	long long size, size7;
	struct dstatus last;		/* why the last connection failed */
	/* the body */
	int streaming, body_end;
	off_t boff;
	struct msg_out enc;
	int enc_on;
	buf_t chunk;
	struct conn *next;
};

struct sagent {
	struct agent a;
	struct event_base *base;
	struct workpool *pool;
	struct dns *dns;
	struct smtp_agent_conf conf;
	char *helo;
	char *smarthost;
	struct route_target target;
	SSL_CTX *ctx;
	struct sockaddr_storage *self;
	struct dest *dests;
	struct conn *conns;
	unsigned nconn;
	int stopping;
};

static int drive(struct conn *c);
static void conn_connect(struct conn *c);
static void dest_pump(struct dest *d);
static void start_job(struct conn *c, struct agent_job *j);

/* ------------------------------------------------------------ statuses */

/* arm - (re)start the connection's timer */
static void arm(struct conn *c, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(c->timer, &tv);
}

/* set_st - one of our own statuses */
__attribute__((format(printf, 6, 7)))
static void set_st(struct dstatus *st, enum dclass cls, int code, const char *enh,
		   const char *remote, const char *fmt, ...)
{
	va_list ap;

	memset(st, 0, sizeof(*st));
	st->cls = cls;
	st->code = code;
	snprintf(st->enh, sizeof(st->enh), "%s", enh);
	snprintf(st->remote, sizeof(st->remote), "%s", remote ? remote : "");
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
}

/* job_fail - answer every recipient of j with st */
static void job_fail(struct agent_job *j, const struct dstatus *st)
{
	size_t k;

	for (k = 0; k < j->nrcpts; k++)
		j->status[k] = *st;
	j->next = NULL;
	j->done(j);
}

/* on_later - a job answered from the loop (never from inside submit) */
struct later {
	struct agent_job *j;
	struct dstatus st;
};

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	(void)fd;
	(void)what;
	job_fail(l->j, &l->st);
	free(l);
}

/* fail_later - job_fail from the loop */
static void fail_later(struct sagent *ag, struct agent_job *j, const struct dstatus *st)
{
	struct later *l = calloc(1, sizeof(*l));
	struct timeval now = { 0, 0 };

	if (!l || event_base_once(ag->base, -1, EV_TIMEOUT, later_cb, l, &now) < 0) {
		free(l);
		job_fail(j, st);	/* out of memory: better now than never */
		return;
	}
	l->j = j;
	l->st = *st;
}

/* ------------------------------------------------------------ dests */

/* dest_get - the dest of a next hop (created) */
static struct dest *dest_get(struct sagent *ag, const char *name)
{
	struct dest *d;

	for (d = ag->dests; d; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return NULL;
	}
	d->ag = ag;
	d->next = ag->dests;
	ag->dests = d;
	return d;
}

/* dest_free_if_idle - forget a hop with nothing to do */
static void dest_free_if_idle(struct dest *d)
{
	struct dest **pp;

	if (d->qhead || d->nconn || d->rreq)
		return;
	for (pp = &d->ag->dests; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	free(d->name);
	free(d);
}

/* dest_take - the first waiting job, or NULL */
static struct agent_job *dest_take(struct dest *d)
{
	struct agent_job *j = d->qhead;

	if (j) {
		d->qhead = j->next;
		if (!d->qhead)
			d->qtail = NULL;
		j->next = NULL;
	}
	return j;
}

/* dest_fail_all - answer every waiting job with st */
static void dest_fail_all(struct dest *d, const struct dstatus *st)
{
	struct agent_job *j;

	while ((j = dest_take(d)) != NULL)
		job_fail(j, st);
}

/* is_self - is this address one of ours (listener address and port)? */
static int is_self(const struct sagent *ag, const struct sockaddr_storage *ss)
{
	size_t i;

	for (i = 0; i < ag->conf.nself; i++) {
		const struct sockaddr_storage *s = &ag->self[i];

		if (s->ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)s, *b = (const void *)ss;

			if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr)
				return 1;
		} else if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)s, *b = (const void *)ss;

			if (a->sin6_port == b->sin6_port &&
			    memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0)
				return 1;
		}
	}
	return 0;
}

/* host_is_self - an MX host that is this server */
static int host_is_self(const struct sagent *ag, const struct route_host *h)
{
	size_t i;

	if (strcasecmp(h->name, ag->helo) == 0)
		return 1;
	for (i = 0; i < h->naddrs; i++)
		if (is_self(ag, &h->addrs[i].ss))
			return 1;
	return 0;
}

/* drop_self - RFC 5321 5.1: when we are one of the MX hosts, only hosts
 * more preferred than we are may be used; returns the hosts left */
static size_t drop_self(const struct sagent *ag, struct route *r)
{
	size_t i;

	for (i = 0; i < r->nhosts; i++) {
		if (!host_is_self(ag, &r->hosts[i]))
			continue;
		while (i > 0 && r->hosts[i - 1].pref == r->hosts[i].pref && !r->hosts[i].implicit)
			i--;	/* same preference as ours: not more preferred */
		r->nhosts = i;
		break;
	}
	return r->nhosts;
}

/* route_failure - the status a failed route gives its jobs */
static void route_failure(const struct route *r, struct dstatus *st)
{
	switch (r->status) {
	case ROUTE_NULLMX:
		set_st(st, DS_PERM, 556, "5.1.10", NULL, "%s", r->text);
		break;
	case ROUTE_NXDOMAIN:
	case ROUTE_BADNAME:
		set_st(st, DS_PERM, 550, "5.1.2", NULL, "%s", r->text);
		break;
	case ROUTE_NOADDR:
		set_st(st, DS_PERM, 550, "5.4.4", NULL, "%s", r->text);
		break;
	default:
		set_st(st, DS_TEMP, 451, "4.4.3", NULL, "%s",
		       r->text[0] ? r->text : "routing failed");
		break;
	}
}

/* on_route - the hop's route came back */
static void on_route(void *arg, const struct route *r)
{
	struct dest *d = arg;
	struct dstatus st;
	char why[300];

	d->rreq = NULL;
	if (r->status != ROUTE_OK) {
		route_failure(r, &st);
		dest_fail_all(d, &st);
		dest_free_if_idle(d);
		return;
	}
	d->route = *r;
	if (drop_self(d->ag, &d->route) == 0) {
		snprintf(why, sizeof(why), "mail for %s loops back to myself", d->name);
		set_st(&st, DS_PERM, 554, "5.4.6", NULL, "%s", why);
		dest_fail_all(d, &st);
		dest_free_if_idle(d);
		return;
	}
	d->routed = 1;
	dest_pump(d);
}

/* dest_route - look the hop up (once per dest life) */
static void dest_route(struct dest *d)
{
	struct sagent *ag = d->ag;
	struct route_opts o = { ag->conf.port, ROUTE_INET_ANY, 0 };
	struct dstatus st;

	if (ag->smarthost)
		d->rreq = route_relay(ag->dns, &ag->target, &o, on_route, d);
	else
		d->rreq = route_resolve(ag->dns, d->name, &o, on_route, d);
	if (!d->rreq) {
		set_st(&st, DS_TEMP, 451, "4.4.3", NULL, "%s", "routing failed: out of memory");
		dest_fail_all(d, &st);
	}
}

/* conn_new - a connection of d for job j */
static struct conn *conn_new(struct dest *d)
{
	struct sagent *ag = d->ag;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ag = ag;
	c->d = d;
	buf_init(&c->chunk);
	d->nconn++;
	ag->nconn++;
	c->next = ag->conns;
	ag->conns = c;
	return c;
}

/* dest_pump - open connections for waiting jobs, within the limits */
static void dest_pump(struct dest *d)
{
	struct sagent *ag = d->ag;
	unsigned per = ag->conf.per_destination ? ag->conf.per_destination : DEFAULT_PER_DEST;
	unsigned max = ag->conf.max_connections ? ag->conf.max_connections : DEFAULT_MAX_CONN;
	struct conn *c;

	if (!d->qhead)
		return;
	if (!d->routed) {
		if (!d->rreq)
			dest_route(d);
		return;
	}
	for (c = ag->conns; c && d->qhead; c = c->next)
		if (c->d == d && c->state == C_IDLE) {
			c->state = C_SMTP;	/* a cached session takes it */
			start_job(c, dest_take(d));
		}
	while (d->qhead && d->nconn < per && ag->nconn < max) {
		c = conn_new(d);

		if (!c)
			break;
		start_job(c, dest_take(d));
	}
}

/* pump_all - after a connection closed: other hops may open one now */
static void pump_all(struct sagent *ag)
{
	struct dest *d, *n;

	for (d = ag->dests; d; d = n) {
		n = d->next;
		dest_pump(d);
	}
}

/* ------------------------------------------------------------ conns */

/* conn_unlink - out of the agent's list */
static void conn_unlink(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->ag->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
}

/* job_clear - free the engine job's recipients */
static void job_clear(struct conn *c)
{
	free(c->rc);
	c->rc = NULL;
	memset(&c->sj, 0, sizeof(c->sj));
	c->job = NULL;
}

/* conn_drop_socket - close the socket and the engine */
static void conn_drop_socket(struct conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->timer)
		evtimer_del(c->timer);
	if (c->eng) {
		smtpc_free(c->eng);
		c->eng = NULL;
	}
	if (c->enc_on) {
		msg_out_free(&c->enc);
		c->enc_on = 0;
	}
	c->streaming = 0;
	c->tls_pending = 0;
}

/* conn_free - the connection is over; its hop goes on */
static void conn_free(struct conn *c)
{
	struct sagent *ag = c->ag;
	struct dest *d = c->d;

	conn_drop_socket(c);
	if (c->busy) {
		c->dead = 1;	/* the pool job comes back to a dead conn */
		return;
	}
	if (c->job) {	/* never left without an answer */
		struct dstatus st = c->last;

		if (st.cls != DS_TEMP && st.code)
			st.cls = DS_TEMP;	/* every host refused the session (a 5xx
						 * greeting): deferred, its reply kept */
		else if (st.cls != DS_TEMP)
			set_st(&st, DS_TEMP, 451, "4.4.2", c->remote, "%s", "connection closed");
		job_fail(c->job, &st);
		job_clear(c);
	}
	conn_unlink(c);
	if (c->timer)
		event_free(c->timer);
	buf_free(&c->chunk);
	free(c);
	d->nconn--;
	ag->nconn--;
	if (ag->stopping) {
		struct dstatus st;

		set_st(&st, DS_TEMP, 451, "4.3.2", NULL, "%s", "mail system shutting down");
		dest_fail_all(d, &st);
	}
	dest_free_if_idle(d);
	if (!ag->stopping)
		pump_all(ag);
}

/* finish_job - the engine is done with the job: report it */
static void finish_job(struct conn *c)
{
	struct agent_job *j = c->job;
	size_t k;
	char esc[LOG_ESC_SIZE];

	for (k = 0; k < j->nrcpts; k++) {
		j->status[k] = c->rc[k].st;
		if (!j->status[k].remote[0])
			snprintf(j->status[k].remote, sizeof(j->status[k].remote), "%s", c->remote);
	}
	if (smtpc_discarded(c->eng))
		log_warn("smtp qid=%s remote=%s discarded=%zu reason=\"bytes after the 220 to STARTTLS\"",
			 j->qid, log_escape(esc, c->remote, strlen(c->remote)),
			 smtpc_discarded(c->eng));
	job_clear(c);
	j->next = NULL;
	j->done(j);
}

/* content_refused - the server refused the message itself (a 5xx in the
 * middle of the data or after the dot): final, another MX would refuse it
 * too (CHECKLIST H "mid-DATA 550") */
static int content_refused(const struct conn *c)
{
	size_t k;

	for (k = 0; c->rc && k < c->sj.nrcpt; k++)
		if (c->rc[k].st.cls == DS_PERM && (c->rc[k].stage == SMTPC_STAGE_BODY ||
						   c->rc[k].stage == SMTPC_STAGE_DOT))
			return 1;
	return 0;
}

/* next_address - move to the next address or host; 0, or -1 when none */
static int next_address(struct conn *c)
{
	const struct route *r = &c->d->route;

	if (c->host >= r->nhosts)
		return -1;
	if (++c->addr < r->hosts[c->host].naddrs)
		return 0;
	c->addr = 0;
	return ++c->host < r->nhosts ? 0 : -1;
}

/* session_failed - this connection cannot carry the job: next address,
 * or give the job its last status */
static void session_failed(struct conn *c)
{
	size_t k;

	conn_drop_socket(c);
	if (c->job && !c->ag->stopping && next_address(c) == 0) {
		c->sj.done = c->sj.downconvert = c->sj.next_mx = 0;	/* a fresh try */
		for (k = 0; c->rc && k < c->sj.nrcpt; k++) {
			memset(&c->rc[k].st, 0, sizeof(c->rc[k].st));
			c->rc[k].stage = SMTPC_STAGE_NONE;
		}
		conn_connect(c);
		return;
	}
	conn_free(c);
}

/* ------------------------------------------------------------ prep */

/* prep_work - the 8-bit scan and the wire sizes (worker) */
static void prep_work(void *arg)
{
	struct conn *c = arg;
	struct agent_job *j = c->job;
	struct msg_scan sc;
	struct msg_out o;
	buf_t out;
	char *b = malloc(CHUNK);
	off_t off = 0;
	long long size = 0;

	c->scan_flags = 0;
	c->size = j->len;
	c->size7 = 0;
	if (!b)
		return;
	buf_init(&out);
	msg_scan_init(&sc);
	msg_out_init(&o, MSG_OUT_BDAT, 0);
	while (off < j->len) {
		size_t want = j->len - off > CHUNK ? CHUNK : (size_t)(j->len - off);
		ssize_t r = pread(j->fd, b, want, j->off + off);

		if (r <= 0)
			break;
		msg_scan_feed(&sc, b, (size_t)r);
		msg_out_feed(&o, b, (size_t)r, &out, NULL);
		size += (long long)out.len;
		buf_reset(&out);
		off += r;
	}
	msg_scan_finish(&sc);
	msg_out_finish(&o, &out);
	size += (long long)out.len;
	c->size = size;
	if (sc.body_8bit) {
		c->scan_flags |= SMTPC_JOB_8BIT;
		if (msg_scan_verdict(&sc) == MSG_8BIT_QP) {
			c->scan_flags |= SMTPC_JOB_DOWNCONVERT;
			c->size7 = size * 3;	/* QP's worst case: the SIZE check only */
		}
	}
	msg_out_free(&o);
	msg_scan_free(&sc);
	buf_free(&out);
	free(b);
}

/* prep_done - the job is ready: connect, or start it on the open session */
static void prep_done(void *arg)
{
	struct conn *c = arg;
	struct agent_job *j = c->job;
	const struct envelope *e = j->env;
	size_t k;

	c->busy = 0;
	if (c->dead) {
		c->dead = 0;
		conn_free(c);
		return;
	}
	c->rc = calloc(j->nrcpts, sizeof(*c->rc));
	if (!c->rc) {
		set_st(&c->last, DS_TEMP, 451, "4.3.0", NULL, "%s", "out of memory");
		conn_free(c);
		return;
	}
	for (k = 0; k < j->nrcpts; k++) {
		const struct env_rcpt *r = &e->rcpts[j->rcpts[k]];

		c->rc[k].addr = r->addr ? r->addr : "";
		c->rc[k].notify = r->notify;
		c->rc[k].orcpt_type = r->orcpt_type;
		c->rc[k].orcpt = r->orcpt;
		c->rc[k].orcpt_len = r->orcpt_len;
	}
	memset(&c->sj, 0, sizeof(c->sj));
	c->sj.sender = e->sender ? e->sender : "";
	c->sj.rcpts = c->rc;
	c->sj.nrcpt = j->nrcpts;
	c->sj.size = c->size;
	c->sj.size_7bit = c->size7;
	c->sj.flags = c->scan_flags | (e->smtputf8 ? SMTPC_JOB_SMTPUTF8 : 0) |
		      (e->body == BODY_8BITMIME ? SMTPC_JOB_8BIT : 0);
	c->sj.ret = e->ret;
	c->sj.envid = e->envid;
	c->sj.envid_len = e->envid_len;
	if (c->eng && smtpc_want(c->eng) == SMTPC_WANT_JOB &&
	    smtpc_job_start(c->eng, &c->sj) == 0) {
		c->state = C_SMTP;
		drive(c);
		return;
	}
	if (c->eng)
		conn_drop_socket(c);
	c->host = c->addr = 0;
	conn_connect(c);
}

/* start_job - take j on c: prepare it, then run it */
static void start_job(struct conn *c, struct agent_job *j)
{
	if (c->timer)
		evtimer_del(c->timer);	/* a cached session's idle timer */
	c->job = j;
	c->state = C_PREP;
	c->busy = 1;
	memset(&c->last, 0, sizeof(c->last));
	if (workpool_submit(c->ag->pool, prep_work, prep_done, c) < 0) {
		c->busy = 0;
		set_st(&c->last, DS_TEMP, 451, "4.3.0", NULL, "%s", "no worker thread");
		conn_free(c);
	}
}

/* ------------------------------------------------------------ body */

static void body_next(struct conn *c);

/* body_work - read and encode the next chunk (worker) */
static void body_work(void *arg)
{
	struct conn *c = arg;
	struct agent_job *j = c->job;
	size_t want = j->len - c->boff > CHUNK ? CHUNK : (size_t)(j->len - c->boff);
	char *b = malloc(want ? want : 1);
	ssize_t r = 0;

	buf_reset(&c->chunk);
	if (!b) {
		c->body_end = -1;
		return;
	}
	if (want) {
		r = pread(j->fd, b, want, j->off + c->boff);
		if (r <= 0 || msg_out_feed(&c->enc, b, (size_t)r, &c->chunk, NULL) < 0)
			c->body_end = -1;
		else
			c->boff += r;
	}
	if (c->body_end == 0 && c->boff >= j->len) {
		if (msg_out_finish(&c->enc, &c->chunk) < 0 || c->chunk.len < 3)
			c->body_end = -1;
		else {
			c->chunk.len -= 3;	/* the engine sends the final ".\r\n" */
			c->chunk.data[c->chunk.len] = '\0';
			c->body_end = 1;
		}
	}
	free(b);
}

/* body_done - a chunk is encoded: send it */
static void body_done(void *arg)
{
	struct conn *c = arg;

	c->busy = 0;
	if (c->dead) {
		c->dead = 0;
		conn_free(c);
		return;
	}
	if (!c->bev || !c->streaming)
		return;
	if (c->body_end < 0) {
		smtpc_conn_lost(c->eng, "cannot read the queue file");
		drive(c);
		return;
	}
	bufferevent_write(c->bev, c->chunk.data, c->chunk.len);
	buf_reset(&c->chunk);
	arm(c, smtpc_timeout(c->eng));
	if (c->body_end == 1) {
		c->streaming = 0;
		msg_out_free(&c->enc);
		c->enc_on = 0;
		smtpc_body_done(c->eng);
		drive(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) < OUT_LOW)
		body_next(c);
}

/* body_next - read the next chunk */
static void body_next(struct conn *c)
{
	if (c->busy)
		return;
	c->busy = 1;
	if (workpool_submit(c->ag->pool, body_work, body_done, c) < 0) {
		c->busy = 0;
		smtpc_conn_lost(c->eng, "no worker thread");
		drive(c);
	}
}

/* body_start - SMTPC_WANT_BODY: stream the message */
static void body_start(struct conn *c)
{
	if (c->streaming)
		return;
	c->streaming = 1;
	c->body_end = 0;
	c->boff = 0;
	msg_out_init(&c->enc, MSG_OUT_DATA, c->sj.downconvert ? MSG_OUT_QP : 0);
	c->enc_on = 1;
	body_next(c);
}

/* ------------------------------------------------------------ events */

/* ssl_why - the reason of a failed handshake */
static void ssl_why(struct bufferevent *bev, char *why, size_t n)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	snprintf(why, n, "TLS handshake failed");
	if (e)
		ERR_error_string_n(e, why, n);
	ERR_clear_error();
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* tls_start - SMTPC_WANT_TLS: drop unread bytes, handshake */
static void tls_start(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct bufferevent *tb;
	SSL *ssl;

	evbuffer_drain(in, evbuffer_get_length(in));	/* response injection */
	ssl = c->ag->ctx ? SSL_new(c->ag->ctx) : NULL;
	if (!ssl) {
		smtpc_tls_done(c->eng, 0, "no TLS context");
		drive(c);
		return;
	}
	SSL_set_tlsext_host_name(ssl, c->d->route.hosts[c->host].name);
	if (c->ag->conf.tls == SMTPC_TLS_VERIFY) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		SSL_set1_host(ssl, c->d->route.hosts[c->host].name);
	}
	tb = bufferevent_openssl_filter_new(c->ag->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
					    BEV_OPT_CLOSE_ON_FREE);
	if (!tb) {
		SSL_free(ssl);
		smtpc_tls_done(c->eng, 0, "cannot start TLS");
		drive(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->bev = tb;
	c->tls_pending = 1;
	bufferevent_setcb(tb, on_read, on_write, on_event, c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	arm(c, smtpc_timeout(c->eng));
}

/* flush_output - hand the engine's output to the socket */
static void flush_output(struct conn *c)
{
	size_t n;
	const char *p = smtpc_output(c->eng, &n);

	if (n) {
		bufferevent_write(c->bev, p, n);
		smtpc_output_taken(c->eng, n);
	}
}

/* drive - do what the engine wants; -1 when c was freed on the way */
static int drive(struct conn *c)
{
	unsigned to;

	if (!c->eng || !c->bev)
		return 0;
	flush_output(c);
	to = smtpc_timeout(c->eng);
	switch (smtpc_want(c->eng)) {
	case SMTPC_WANT_READ:
		break;
	case SMTPC_WANT_TLS:
		tls_start(c);
		return 0;
	case SMTPC_WANT_BODY:
		body_start(c);
		break;
	case SMTPC_WANT_JOB:
		if (c->job && c->sj.done)
			finish_job(c);
		if (!c->job && !c->ag->stopping && c->d->qhead) {
			start_job(c, dest_take(c->d));	/* reuse the session */
			return c->busy || c->job ? 0 : -1;
		}
		if (!c->job && !c->ag->stopping && c->state != C_IDLE) {
			c->state = C_IDLE;	/* kept a moment for the next job */
			arm(c, IDLE_KEEP);
			return 0;
		}
		if (!c->job && smtpc_quit(c->eng) == 0)
			flush_output(c);
		if (smtpc_want(c->eng) != SMTPC_WANT_CLOSE)
			break;
		/* fall through */
	case SMTPC_WANT_CLOSE:
		if (c->job && c->sj.done) {
			if (c->sj.next_mx && !content_refused(c)) {
				c->last = c->rc[0].st;
				session_failed(c);
				return -1;	/* or reconnecting: either way not ours */
			}
			finish_job(c);
		}
		c->state = C_CLOSING;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			conn_free(c);
			return -1;
		}
		arm(c, 10);
		return 0;
	}
	if (to)
		arm(c, to);
	else
		evtimer_del(c->timer);
	return 0;
}

/* on_read - server bytes */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096];
	size_t n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0 && c->eng) {
		smtpc_feed(c->eng, buf, n);
		if (smtpc_want(c->eng) == SMTPC_WANT_TLS) {
			evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
	}
	drive(c);
}

/* on_write - output drained below the low mark */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == C_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	if (c->streaming && !c->busy && c->body_end == 0)
		body_next(c);
}

/* on_connected - the TCP connection is up: the engine takes over */
static void on_connected(struct conn *c)
{
	struct smtpc_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.helo_name = c->ag->helo;
	cfg.remote = c->remote;
	cfg.tls = c->ag->ctx ? c->ag->conf.tls : SMTPC_TLS_NONE;
	cfg.auth_user = c->ag->smarthost ? c->ag->conf.auth_user : NULL;
	cfg.auth_pass = c->ag->conf.auth_pass;
	memcpy(cfg.timeout, c->ag->conf.timeouts, sizeof(cfg.timeout));
	c->eng = smtpc_new(&cfg);
	c->state = C_SMTP;
	if (!c->eng || smtpc_job_start(c->eng, &c->sj) < 0) {
		set_st(&c->last, DS_TEMP, 451, "4.3.0", c->remote, "%s", "out of memory");
		session_failed(c);
		return;
	}
	drive(c);
}

/* on_event - connected, EOF, error */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char why[256];

	if (c->state == C_CONNECT) {
		if (what & BEV_EVENT_CONNECTED) {
			evtimer_del(c->timer);
			on_connected(c);
			return;
		}
		set_st(&c->last, DS_TEMP, 451, "4.4.1", c->remote, "connect to %s: %s", c->remote,
		       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		session_failed(c);
		return;
	}
	if (c->tls_pending) {
		c->tls_pending = 0;
		if (what & BEV_EVENT_CONNECTED) {
			smtpc_tls_done(c->eng, 1, NULL);
		} else {
			ssl_why(bev, why, sizeof(why));
			smtpc_tls_done(c->eng, 0, why);
		}
		drive(c);
		return;
	}
	if (c->state == C_CLOSING) {
		conn_free(c);
		return;
	}
	if (c->eng)
		smtpc_conn_lost(c->eng, (what & BEV_EVENT_ERROR) ?
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : NULL);
	if (drive(c) == 0 && c->state != C_CLOSING && c->state != C_CONNECT)
		conn_free(c);	/* nothing else to do with a dead socket */
}

/* on_timer - connect timeout, engine timeout, or the close linger */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == C_CONNECT) {
		set_st(&c->last, DS_TEMP, 451, "4.4.1", c->remote, "connect to %s: timed out",
		       c->remote);
		session_failed(c);
		return;
	}
	if (c->state == C_CLOSING || !c->eng) {
		conn_free(c);
		return;
	}
	if (c->state == C_IDLE) {	/* nothing came: QUIT */
		c->state = C_SMTP;
		if (smtpc_quit(c->eng) == 0)
			drive(c);
		else
			conn_free(c);
		return;
	}
	if (c->tls_pending) {
		c->tls_pending = 0;
		smtpc_tls_done(c->eng, 0, "TLS handshake timed out");
	} else {
		smtpc_timed_out(c->eng);
	}
	drive(c);
}

/* conn_connect - connect to the current address */
static void conn_connect(struct conn *c)
{
	const struct route_host *h = &c->d->route.hosts[c->host];
	const struct route_addr *a = &h->addrs[c->addr];
	unsigned to = c->ag->conf.connect_timeout ? c->ag->conf.connect_timeout
						 : DEFAULT_CONNECT_TIMEOUT;
	char ip[64];

	sockaddr_text((const struct sockaddr *)&a->ss, ip, sizeof(ip));
	snprintf(c->remote, sizeof(c->remote), "%s[%s]", h->name, ip);
	c->state = C_CONNECT;
	if (!c->timer)
		c->timer = evtimer_new(c->ag->base, on_timer, c);
	c->bev = bufferevent_socket_new(c->ag->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->timer || !c->bev) {
		set_st(&c->last, DS_TEMP, 451, "4.3.0", c->remote, "%s", "out of memory");
		session_failed(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	arm(c, to);
	if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&a->ss, (int)a->len) < 0) {
		set_st(&c->last, DS_TEMP, 451, "4.4.1", c->remote, "connect to %s failed",
		       c->remote);
		session_failed(c);
	}
}

/* ------------------------------------------------------------ agent */

/* agent_submit - queue the job on its hop */
static void agent_submit(struct agent *a, struct agent_job *j)
{
	struct sagent *ag = (struct sagent *)a;
	struct dest *d;
	struct dstatus st;

	if (ag->stopping) {
		set_st(&st, DS_TEMP, 451, "4.3.2", NULL, "%s", "mail system shutting down");
		fail_later(ag, j, &st);
		return;
	}
	d = dest_get(ag, j->nexthop);
	if (!d) {
		set_st(&st, DS_TEMP, 451, "4.3.0", NULL, "%s", "out of memory");
		fail_later(ag, j, &st);
		return;
	}
	j->next = NULL;
	if (d->qtail)
		d->qtail->next = j;
	else
		d->qhead = j;
	d->qtail = j;
	dest_pump(d);	/* may start a route or a prep: both answer later */
}

/* client_ctx - the outbound TLS context */
static SSL_CTX *client_ctx(const struct smtp_agent_conf *conf, buf_t *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (conf->tls == SMTPC_TLS_VERIFY) {
		int ok = conf->ca_file ? SSL_CTX_load_verify_locations(ctx, conf->ca_file, NULL)
				       : SSL_CTX_set_default_verify_paths(ctx);

		if (ok != 1) {
			buf_printf(err, "tls: cannot load the CA certificates %s\n",
				   conf->ca_file ? conf->ca_file : "(system)");
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

/* smtp_agent_new - the remote agent */
struct agent *smtp_agent_new(struct event_base *base, struct workpool *pool, struct dns *dns,
			     const struct smtp_agent_conf *conf, buf_t *err)
{
	struct sagent *ag = calloc(1, sizeof(*ag));

	if (!ag)
		return NULL;
	ag->a.name = "smtp";
	ag->a.submit = agent_submit;
	ag->base = base;
	ag->pool = pool;
	ag->dns = dns;
	ag->conf = *conf;
	ag->conf.auth_user = ag->conf.auth_pass = NULL;	/* ours: copied below */
	ag->conf.self = NULL;
	ag->helo = strdup(conf->helo_name ? conf->helo_name : "localhost");
	if (conf->nself) {
		ag->self = calloc(conf->nself, sizeof(*ag->self));
		if (ag->self)
			memcpy(ag->self, conf->self, conf->nself * sizeof(*ag->self));
	}
	ag->conf.self = ag->self;
	if (!ag->helo || (conf->nself && !ag->self))
		goto fail;
	if (conf->smarthost) {
		ag->smarthost = strdup(conf->smarthost);
		if (!ag->smarthost || route_parse_target(conf->smarthost, &ag->target, err) < 0)
			goto fail;
	}
	ag->conf.smarthost = ag->smarthost;
	ag->conf.auth_user = conf->auth_user ? strdup(conf->auth_user) : NULL;
	ag->conf.auth_pass = conf->auth_pass ? strdup(conf->auth_pass) : NULL;
	if ((conf->auth_user && !ag->conf.auth_user) || (conf->auth_pass && !ag->conf.auth_pass))
		goto fail;
	if (conf->tls != SMTPC_TLS_NONE && !(ag->ctx = client_ctx(conf, err)))
		goto fail;
	return &ag->a;
fail:
	smtp_agent_free(&ag->a);
	return NULL;
}

/* smtp_agent_stop - end everything: connections close, jobs are deferred */
void smtp_agent_stop(struct agent *a)
{
	struct sagent *ag = (struct sagent *)a;
	struct dstatus st;
	struct dest *d, *dn;
	struct conn *c, *cn;

	if (!ag)
		return;
	ag->stopping = 1;
	set_st(&st, DS_TEMP, 451, "4.3.2", NULL, "%s", "mail system shutting down");
	for (d = ag->dests; d; d = dn) {
		dn = d->next;
		if (d->rreq) {
			route_cancel(d->rreq);
			d->rreq = NULL;
		}
		dest_fail_all(d, &st);
	}
	for (c = ag->conns; c; c = cn) {
		cn = c->next;
		if (c->dead)
			continue;
		if (c->job && !c->busy)
			c->last = st;
		conn_free(c);
	}
	for (d = ag->dests; d; d = dn) {
		dn = d->next;
		dest_free_if_idle(d);
	}
}

/* smtp_agent_free - free what is left */
void smtp_agent_free(struct agent *a)
{
	struct sagent *ag = (struct sagent *)a;

	if (!ag)
		return;
	if (ag->ctx)
		SSL_CTX_free(ag->ctx);
	free(ag->helo);
	free(ag->smarthost);
	free((char *)ag->conf.auth_user);
	if (ag->conf.auth_pass) {
		explicit_bzero((char *)ag->conf.auth_pass, strlen(ag->conf.auth_pass));
		free((char *)ag->conf.auth_pass);
	}
	free(ag->self);
	free(ag);
}

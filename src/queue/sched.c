/* sched - the delivery scheduler: one entry per message in queue/, each
 * idle, waiting for its next attempt (a timer), running, or held.
 *
 * Public (within src/queue, sched.h): sched_new, sched_add, sched_has,
 * sched_stop, sched_running, sched_free, sched_set_clock, sched_run_due,
 * sched_stats, sched_flush, sched_hold, sched_remove.
 *
 * One attempt of one message:
 *  1. load (worker): open queue/<qid>, decode the envelope and the status
 *     records (store_open);
 *  2. dispatch (loop): the recipients that are due (next_try passed, or a
 *     flush) and not done: the expired ones (older than max_lifetime) fail
 *     with 4.4.7 at once; the local ones go to the local agent in one job;
 *     the remote ones to the remote agent, one job per next hop (the
 *     smarthost, or the recipient's domain: one transaction each);
 *  3. the agents fill one struct dstatus per recipient (loop);
 *  4. record (worker): the notifications the outcomes call for (failed,
 *     delayed, success; RFC 3461) are queued first (store_add), then the
 *     message is removed when every recipient is done, or else the status
 *     records are appended (fdatasync).  A crash in between repeats an
 *     attempt or a notification at worst, never loses one;
 *  5. finish (loop): log each recipient, schedule the notifications, and
 *     wait for the earliest next_try of the recipients left.
 * Back-off per recipient: retry_min, doubling up to retry_max, by the
 * scheduler's clock (unix seconds, injectable for tests).
 * Invariants: an entry has at most one attempt running; everything here
 * runs on the loop thread except the work functions, which touch only
 * their attempt; hold, release and remove of a running message wait for
 * the attempt to end.
 */
#include "queue/sched.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "deliver/agent.h"
#include "deliver/bounce.h"
#include "queue/qfile.h"
#include "queue/store.h"
#include "util/log.h"
#include "util/work.h"

#define HASH_SIZE 4096
#define DEFAULT_RETRY_MIN 300
#define DEFAULT_RETRY_MAX (4 * 3600)
#define DEFAULT_LIFETIME (5 * 86400)
#define DEFAULT_DELAY_WARNING (4 * 3600)
#define IO_RETRY 60		/* an attempt that could not read or record */

enum estate { E_IDLE, E_WAIT, E_READY, E_RUN, E_HELD };

/* Attempts running at once: each holds its queue file open and its
 * envelope in memory; the rest wait their turn in a FIFO (E_READY), so
 * 100,000 messages recovered at start cost 100,000 small entries only. */
#define RUNNING_MAX 256

struct attempt;

struct entry {
	char qid[QID_MAX + 1];
	enum estate state;
	time_t due;			/* E_WAIT */
	struct event *timer;
	int flush;			/* next attempt: every pending recipient */
	char *flush_domain;		/* ... only those in this domain */
	int want_hold;			/* -1 nothing, 0 release, 1 hold: after the run */
	int want_remove;
	struct attempt *att;		/* E_RUN */
	struct entry *hnext;
	struct entry *rnext;		/* E_READY: the FIFO */
};

struct attempt {
	struct sched *s;
	struct entry *e;
	/* load */
	struct envelope env;
	int fd;
	off_t off, len;
	enum store_rc rc;
	const char *why;
	/* dispatch */
	time_t now;
	size_t *idx;			/* recipients being tried */
	struct dstatus *res;		/* per recipient index (env.nrcpts) */
	unsigned char *tried;		/* per recipient index */
	struct agent_job *jobs;
	struct agent **jag;		/* the agent of each job */
	size_t njobs, pending;
	/* record */
	int set_hold;			/* -1, 0, 1 */
	int remove;
	int record_failed;
	int all_done;
	time_t next_due;
	char (*added)[QID_MAX + 1];	/* notifications queued */
	size_t nadded;
};

struct sched {
	struct queue *q;
	struct event_base *base;
	struct workpool *pool;
	struct agent *local, *remote;
	char *smarthost, *hostname;
	unsigned retry_min, retry_max, lifetime, delay_warning;
	queue_route_fn route;
	void *route_arg;
	time_t (*now)(void *arg);
	void *now_arg;
	int stopping;
	unsigned running;
	struct entry *rhead, *rtail;	/* E_READY, oldest first */
	struct queue_stats st;
	struct entry *hash[HASH_SIZE];
};

static void run(struct sched *s, struct entry *e);
static void set_state(struct sched *s, struct entry *e, enum estate st);

/* ------------------------------------------------------------ entries */

/* slot - the bucket of a qid (FNV-1a) */
static struct entry **slot(const struct sched *s, const char *qid)
{
	uint32_t h = 2166136261u;

	for (; *qid; qid++)
		h = (h ^ (unsigned char)*qid) * 16777619u;
	return (struct entry **)&s->hash[h % HASH_SIZE];
}

/* find - the entry of qid or NULL */
static struct entry *find(const struct sched *s, const char *qid)
{
	struct entry *e;

	for (e = *slot(s, qid); e; e = e->hnext)
		if (strcmp(e->qid, qid) == 0)
			return e;
	return NULL;
}

/* run_next - an attempt ended: the oldest waiting entry gets its turn */
static void run_next(struct sched *s)
{
	struct entry *e;

	while (s->rhead && s->running < RUNNING_MAX && !s->stopping) {
		e = s->rhead;
		s->rhead = e->rnext;
		if (!s->rhead)
			s->rtail = NULL;
		set_state(s, e, E_IDLE);
		run(s, e);
	}
}

/* forget - the message left queue/ */
static void forget(struct sched *s, struct entry *e)
{
	struct entry **pp;

	for (pp = slot(s, e->qid); *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	if (e->state == E_WAIT)
		s->st.waiting--;
	if (e->state == E_HELD)
		s->st.held--;
	if (e->timer) {
		free(event_get_callback_arg(e->timer));
		event_free(e->timer);
	}
	free(e->flush_domain);
	free(e);
	s->st.queued--;
}

/* set_state - move e to st, keeping the counters */
static void set_state(struct sched *s, struct entry *e, enum estate st)
{
	if (e->state == E_WAIT)
		s->st.waiting--;
	if (e->state == E_HELD)
		s->st.held--;
	if (e->state == E_RUN || e->state == E_READY)
		s->st.active--;
	e->state = st;
	if (st == E_WAIT)
		s->st.waiting++;
	if (st == E_HELD)
		s->st.held++;
	if (st == E_RUN || st == E_READY)
		s->st.active++;
	if (st != E_WAIT && e->timer)
		evtimer_del(e->timer);
}

/* wait_until - e waits for its next attempt at due */
static void wait_until(struct sched *s, struct entry *e, time_t due);

/* the argument of an entry's timer */
struct timer_arg {
	struct sched *s;
	struct entry *e;
};

/* -------------------------------------------------------------- run */

static void on_loaded(void *arg);
static void load_work(void *arg);

/* run - start an attempt of e */
static void run(struct sched *s, struct entry *e)
{
	struct attempt *a;

	if (s->stopping || e->state == E_RUN || e->state == E_HELD || e->state == E_READY)
		return;
	if (s->running >= RUNNING_MAX) {
		set_state(s, e, E_READY);
		e->rnext = NULL;
		if (s->rtail)
			s->rtail->rnext = e;
		else
			s->rhead = e;
		s->rtail = e;
		return;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		wait_until(s, e, s->now(s->now_arg) + IO_RETRY);
		return;
	}
	a->s = s;
	a->e = e;
	a->fd = -1;
	a->set_hold = -1;
	envelope_init(&a->env);
	e->att = a;
	set_state(s, e, E_RUN);
	s->running++;
	if (workpool_submit(s->pool, load_work, on_loaded, a) < 0) {
		a->rc = STORE_IO;
		a->why = "no worker";
		on_loaded(a);
	}
}

/* entry_timer - libevent: e's retry time came */
static void entry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct timer_arg *t = arg;

	(void)fd;
	(void)what;
	run(t->s, t->e);
}

/* wait_until - arm e's timer for due (by the clock) */
static void wait_until(struct sched *s, struct entry *e, time_t due)
{
	time_t now = s->now(s->now_arg);
	struct timeval tv = { due > now ? due - now : 0, 0 };
	struct timer_arg *t;

	set_state(s, e, E_WAIT);
	e->due = due;
	if (!e->timer) {
		t = calloc(1, sizeof(*t));
		e->timer = t ? evtimer_new(s->base, entry_timer, t) : NULL;
		if (!e->timer) {
			free(t);
			log_err("queue qid=%s status=unscheduled reason=\"out of memory\"", e->qid);
			return;
		}
		t->s = s;
		t->e = e;
	}
	evtimer_add(e->timer, &tv);
}

/* load_work - open the message and its status (worker) */
static void load_work(void *arg)
{
	struct attempt *a = arg;

	a->rc = store_open(a->s->q, a->e->qid, &a->env, &a->fd, &a->off, &a->len, &a->why);
}

/* ------------------------------------------------------------ dispatch */

static void on_job_done(struct agent_job *j);
static void record(struct attempt *a);

/* expired - has this message been queued longer than the lifetime? */
static int expired(const struct attempt *a)
{
	return a->now - (time_t)a->env.arrival >= (time_t)a->s->lifetime;
}

/* set_status - fill a dstatus of our own making */
static void set_status(struct dstatus *st, enum dclass cls, int code, const char *enh,
		       const char *text)
{
	memset(st, 0, sizeof(*st));
	st->cls = cls;
	st->code = code;
	snprintf(st->enh, sizeof(st->enh), "%s", enh);
	snprintf(st->text, sizeof(st->text), "%.*s", (int)sizeof(st->text) - 1, text);
}

/* nexthop_of - the destination of a remote recipient */
static const char *nexthop_of(const struct sched *s, const struct env_rcpt *r)
{
	return s->smarthost ? s->smarthost : r->domain ? r->domain : "";
}

/* add_job - a job for agent ag with the recipients idx[0..n) */
static void add_job(struct attempt *a, struct agent *ag, const size_t *idx, size_t n,
		    const char *nexthop)
{
	struct agent_job *j = &a->jobs[a->njobs++];

	j->qid = a->e->qid;
	j->env = &a->env;
	j->rcpts = idx;
	j->nrcpts = n;
	j->nexthop = nexthop;
	j->fd = a->fd;
	j->off = a->off;
	j->len = a->len;
	j->status = calloc(n, sizeof(*j->status));
	j->done = on_job_done;
	j->owner = a;
	a->jag[a->njobs - 1] = ag;
}

/* cmp_hop - order remote recipient indexes by next hop (qsort_r) */
static int cmp_hop(const void *x, const void *y, void *arg)
{
	const struct attempt *t = arg;
	const struct env_rcpt *a = &t->env.rcpts[*(const size_t *)x];
	const struct env_rcpt *b = &t->env.rcpts[*(const size_t *)y];
	int c = strcasecmp(nexthop_of(t->s, a), nexthop_of(t->s, b));

	if (c)
		return c;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* select_rcpts - the recipients to try now into a->idx: local ones first,
 * then the remote ones sorted by next hop; expired ones fail here.
 * Returns how many local (*nl) and remote (*nr) there are. */
static void select_rcpts(struct attempt *a, size_t *nl, size_t *nr)
{
	struct sched *s = a->s;
	size_t i, n = 0, l = 0;
	const char *fd = a->e->flush_domain;

	*nl = *nr = 0;
	for (i = 0; i < a->env.nrcpts; i++) {
		struct env_rcpt *r = &a->env.rcpts[i];
		int flush = a->e->flush && (!fd || (r->domain && strcasecmp(r->domain, fd) == 0));

		if (r->done || (!flush && r->next_try > a->now))
			continue;
		if (r->kind == RCPT_RELAY && !s->remote)
			continue;	/* nothing can send it yet */
		a->tried[i] = 1;
		if (expired(a)) {
			char text[DSTATUS_TEXT_MAX + 32];

			snprintf(text, sizeof(text), "delivery time expired%s%.*s",
				 r->last.text[0] ? ": " : "", DSTATUS_TEXT_MAX - 32, r->last.text);
			set_status(&a->res[i], DS_PERM, r->last.code ? r->last.code : 0, "4.4.7",
				   text);
			snprintf(a->res[i].remote, sizeof(a->res[i].remote), "%s", r->last.remote);
			a->res[i].remote_said = 0;
			continue;
		}
		if (r->kind == RCPT_LOCAL) {
			memmove(a->idx + l + 1, a->idx + l, (n - l) * sizeof(*a->idx));
			a->idx[l++] = i;
		} else {
			a->idx[n] = i;
		}
		n++;
	}
	*nl = l;
	*nr = n - l;
	if (*nr > 1)
		qsort_r(a->idx + l, *nr, sizeof(*a->idx), cmp_hop, a);
}

/* dispatch - hand the due recipients to the agents */
static void dispatch(struct attempt *a)
{
	struct sched *s = a->s;
	size_t n = a->env.nrcpts, nl, nr, i, start;

	a->idx = calloc(n, sizeof(*a->idx));
	a->res = calloc(n, sizeof(*a->res));
	a->tried = calloc(n, 1);
	a->jobs = calloc(n + 1, sizeof(*a->jobs));
	a->jag = calloc(n + 1, sizeof(*a->jag));
	if (!a->idx || !a->res || !a->tried || !a->jobs || !a->jag) {
		a->record_failed = 1;
		record(a);
		return;
	}
	select_rcpts(a, &nl, &nr);
	if (nl)
		add_job(a, s->local, a->idx, nl, "local");
	for (i = nl, start = nl; i <= nl + nr; i++) {
		if (i < nl + nr && i > start &&
		    strcasecmp(nexthop_of(s, &a->env.rcpts[a->idx[i]]),
			       nexthop_of(s, &a->env.rcpts[a->idx[start]])) == 0)
			continue;
		if (i > start)
			add_job(a, s->remote, a->idx + start, i - start,
				nexthop_of(s, &a->env.rcpts[a->idx[start]]));
		start = i;
	}
	a->pending = a->njobs;
	if (a->pending == 0) {
		record(a);
		return;
	}
	for (i = 0; i < a->njobs; i++) {
		struct agent_job *j = &a->jobs[i];

		if (!j->status) {	/* out of memory: the recipients wait */
			size_t k;

			for (k = 0; k < j->nrcpts; k++)
				set_status(&a->res[j->rcpts[k]], DS_TEMP, 451, "4.3.0",
					   "out of memory");
			a->pending--;
			continue;
		}
		a->jag[i]->submit(a->jag[i], j);
	}
	if (a->pending == 0)
		record(a);
}

/* on_loaded - the message is open (loop) */
static void on_loaded(void *arg)
{
	struct attempt *a = arg;
	struct entry *e = a->e;
	char esc[LOG_ESC_SIZE];

	a->now = a->s->now(a->s->now_arg);
	switch (a->rc) {
	case STORE_OK:
		break;
	case STORE_GONE:
		a->remove = 1;		/* removed behind our back */
		a->all_done = 1;
		record(a);
		return;
	case STORE_DAMAGED:
		log_err("queue qid=%s status=error reason=\"damaged queue file: %s\"", e->qid,
			log_escape(esc, a->why, strlen(a->why)));
		a->record_failed = 1;	/* quarantined at the next start */
		a->next_due = (time_t)-1;
		record(a);
		return;
	case STORE_IO:
		log_err("queue qid=%s status=deferred reason=\"read queue file: %s\"", e->qid,
			log_escape(esc, a->why, strlen(a->why)));
		a->record_failed = 1;
		record(a);
		return;
	}
	if (e->want_remove) {
		a->remove = 1;
		record(a);
		return;
	}
	if (e->want_hold == 1 || (a->env.hold && e->want_hold != 0)) {
		a->set_hold = 1;	/* also held on disk (a restart): stay held */
		record(a);
		return;
	}
	if (e->want_hold == 0 && a->env.hold)
		a->set_hold = 0;	/* released: recorded, and tried now */
	dispatch(a);
}

/* on_job_done - an agent finished a job (loop) */
static void on_job_done(struct agent_job *j)
{
	struct attempt *a = j->owner;
	size_t k;

	for (k = 0; k < j->nrcpts; k++)
		a->res[j->rcpts[k]] = j->status[k];
	if (--a->pending == 0)
		record(a);
}

/* ------------------------------------------------------------ record */

/* backoff - seconds before attempt number n+1 after n failures */
static time_t backoff(const struct sched *s, unsigned n)
{
	time_t b = s->retry_min;

	while (n-- > 1 && b < (time_t)s->retry_max)
		b *= 2;
	return b < (time_t)s->retry_max ? b : (time_t)s->retry_max;
}

/* apply - the outcome of recipient i into its state */
static void apply(struct attempt *a, size_t i)
{
	struct env_rcpt *r = &a->env.rcpts[i];
	const struct dstatus *st = &a->res[i];

	r->last = *st;
	if (st->cls != DS_TEMP) {
		r->done = 1;
		return;
	}
	r->attempts++;
	if (!r->first_fail)
		r->first_fail = a->now;
	r->next_try = a->now + backoff(a->s, r->attempts);
	if (r->next_try > (time_t)a->env.arrival + (time_t)a->s->lifetime)
		r->next_try = (time_t)a->env.arrival + (time_t)a->s->lifetime;
	if (r->next_try <= a->now)
		r->next_try = a->now + 1;
}

/* read_orig - the start of the original message for a notice */
static char *read_orig(const struct attempt *a, size_t *n, int *truncated)
{
	/* one byte more than a notice returns: it tells "larger" */
	size_t want = a->len > (off_t)BOUNCE_ORIG_MAX ? BOUNCE_ORIG_MAX + 1 : (size_t)a->len;
	char *b = malloc(want + 1);
	ssize_t r;
	size_t got = 0;

	*n = 0;
	*truncated = a->len > (off_t)want;
	if (!b)
		return NULL;
	while (got < want) {
		r = pread(a->fd, b + got, want - got, a->off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*n = got;
	return b;
}

/* notify - queue one notice of kind about the recipients picked (worker);
 * -1 when it could not be queued (the outcomes are not recorded then) */
static int notify(struct attempt *a, const struct envelope *env, enum bounce_kind kind,
		  const size_t *idx, size_t n, const char *orig, size_t olen, int trunc)
{
	struct sched *s = a->s;
	struct bounce_in in = { env, idx, n, kind, s->hostname, (long long)a->now,
				a->env.arrival + s->lifetime, orig, olen, trunc };
	struct envelope out;
	char (*added)[QID_MAX + 1];
	buf_t msg;
	int rc = -1;

	envelope_init(&out);
	buf_init(&msg);
	if (bounce_build(&in, &out, &msg) < 0 || out.nrcpts != 1)
		goto done;
	if (!s->route || s->route(s->route_arg, out.rcpts[0].addr, &out.rcpts[0]) < 0) {
		out.rcpts[0].kind = RCPT_RELAY;
		if (!out.rcpts[0].domain) {
			const char *at = strrchr(out.rcpts[0].addr, '@');

			out.rcpts[0].domain = strdup(at ? at + 1 : s->hostname);
		}
	}
	out.arrival = a->now;
	if (store_add(s->q, &out, msg.data, msg.len) < 0)
		goto done;
	added = realloc(a->added, (a->nadded + 1) * sizeof(*a->added));
	if (added) {
		a->added = added;
		memcpy(a->added[a->nadded++], out.qid, QID_MAX + 1);
	}
	rc = 0;
done:
	envelope_clear(&out);
	buf_free(&msg);
	return rc;
}

/* is_postmaster - addr is a postmaster address (a double bounce to it
 * that failed too is only logged: no loop) */
static int is_postmaster(const char *addr)
{
	return addr && strncasecmp(addr, "postmaster", 10) == 0 &&
	       (addr[10] == '\0' || addr[10] == '@');
}

/* double_bounce - a message from <> failed (a bounce that bounced): it is
 * never reported to its sender (RFC 5321 4.5.5), so the local postmaster
 * gets the report instead (Postfix does the same) */
static int double_bounce(struct attempt *a, size_t *pick, char **orig, size_t *olen, int *trunc)
{
	struct envelope view = a->env;
	char pm[DSTATUS_REMOTE_MAX + 16];
	size_t i, n = 0;

	for (i = 0; i < a->env.nrcpts; i++)
		if (a->tried[i] && a->res[i].cls == DS_PERM && !is_postmaster(a->env.rcpts[i].addr))
			pick[n++] = i;
	if (n == 0)
		return 0;
	if (!*orig)
		*orig = read_orig(a, olen, trunc);
	snprintf(pm, sizeof(pm), "postmaster@%s", a->s->hostname);
	view.sender = pm;	/* a view: nothing of it is freed */
	return notify(a, &view, BOUNCE_FAILED, pick, n, *orig ? *orig : "", *olen, *trunc);
}

/* notices - the notifications this attempt's outcomes ask for, before
 * their status records are written (worker) */
static int notices(struct attempt *a)
{
	static const enum bounce_kind kinds[] = { BOUNCE_FAILED, BOUNCE_DELAYED, BOUNCE_SUCCESS };
	size_t *pick;
	char *orig = NULL;
	size_t k, i, n, olen = 0;
	int trunc = 0, rc = 0;

	if (!a->tried)
		return 0;	/* nothing was tried (hold, remove) */
	pick = calloc(a->env.nrcpts ? a->env.nrcpts : 1, sizeof(*pick));
	if (!pick)
		return -1;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; k++) {
		for (i = 0, n = 0; i < a->env.nrcpts; i++) {
			const struct env_rcpt *r = &a->env.rcpts[i];
			enum dclass c = a->res[i].cls;

			if (!a->tried[i] || !bounce_wanted(&a->env, r, kinds[k]))
				continue;
			if ((kinds[k] == BOUNCE_FAILED && c == DS_PERM) ||
			    (kinds[k] == BOUNCE_SUCCESS && c == DS_OK && !a->res[i].dsn_passed) ||
			    (kinds[k] == BOUNCE_DELAYED && c == DS_TEMP && !r->delay_notified &&
			     a->now - (time_t)a->env.arrival >= (time_t)a->s->delay_warning))
				pick[n++] = i;
		}
		if (n == 0)
			continue;
		if (!orig)
			orig = read_orig(a, &olen, &trunc);
		rc = notify(a, &a->env, kinds[k], pick, n, orig ? orig : "", olen, trunc);
		for (i = 0; rc == 0 && kinds[k] == BOUNCE_DELAYED && i < n; i++)
			a->env.rcpts[pick[i]].delay_notified = 1;
	}
	if (rc == 0 && (!a->env.sender || !a->env.sender[0]))
		rc = double_bounce(a, pick, &orig, &olen, &trunc);
	free(orig);
	free(pick);
	return rc;
}

/* record_work - notices, status records, removal (worker) */
static void record_work(void *arg)
{
	struct attempt *a = arg;
	struct sched *s = a->s;
	buf_t recs;
	size_t i;
	time_t next = 0;

	if (a->record_failed || a->rc != STORE_OK)
		return;
	buf_init(&recs);
	for (i = 0; a->tried && i < a->env.nrcpts; i++)
		if (a->tried[i])
			apply(a, i);
	if (notices(a) < 0) {
		a->record_failed = 1;	/* nothing recorded: the attempt repeats */
		buf_free(&recs);
		return;
	}
	a->all_done = 1;
	for (i = 0; i < a->env.nrcpts; i++) {
		const struct env_rcpt *r = &a->env.rcpts[i];

		if (r->done)
			continue;
		a->all_done = 0;
		if (r->kind == RCPT_RELAY && !s->remote)
			continue;	/* waits for a restart with remote delivery */
		if (!next || r->next_try < next)
			next = r->next_try;
	}
	a->next_due = next;
	if (a->all_done || a->remove) {
		/* nothing left to remember: no status records, the message goes
		 * (a crash before the unlink repeats the attempt, as it would
		 * before the records); if it cannot go, the records are kept */
		a->remove = store_remove(s->q, a->e->qid) == 0;
		if (a->remove) {
			buf_free(&recs);
			return;
		}
	}
	for (i = 0; a->tried && i < a->env.nrcpts; i++)
		if (a->tried[i] && qfile_encode_status(&a->env, i, &recs) < 0)
			a->record_failed = 1;
	if (a->set_hold >= 0 && qfile_encode_hold(a->set_hold, &recs) < 0)
		a->record_failed = 1;
	if (!a->record_failed && recs.len && store_append(s->q, a->e->qid, &recs) < 0)
		a->record_failed = 1;
	buf_free(&recs);
}

static void on_recorded(void *arg);

/* record - go on with the record step (from the loop) */
static void record(struct attempt *a)
{
	if (a->rc != STORE_OK || a->record_failed) {
		on_recorded(a);
		return;
	}
	if (workpool_submit(a->s->pool, record_work, on_recorded, a) < 0) {
		a->record_failed = 1;
		on_recorded(a);
	}
}

/* log_outcomes - one "deliver" line per recipient tried */
static void log_outcomes(struct attempt *a)
{
	char to[LOG_ESC_SIZE], why[LOG_ESC_SIZE];
	size_t i;

	for (i = 0; a->tried && i < a->env.nrcpts; i++) {
		const struct env_rcpt *r = &a->env.rcpts[i];
		const struct dstatus *st = &a->res[i];
		const char *word = st->cls == DS_OK ? "sent" : st->cls == DS_TEMP ? "deferred"
										: "bounced";

		if (!a->tried[i])
			continue;
		log_escape(to, r->addr ? r->addr : "", r->addr ? strlen(r->addr) : 0);
		log_escape(why, st->text, strlen(st->text));
		log_info("deliver qid=%s to=<%s> relay=%s status=%s dsn=%s code=%d reason=\"%s\"",
			 a->e->qid, to, st->remote[0] ? st->remote :
					r->kind == RCPT_LOCAL ? "local" : "none",
			 word, st->enh[0] ? st->enh : "-", st->code, why);
		if (st->cls == DS_OK)
			a->s->st.delivered++;
		else if (st->cls == DS_TEMP)
			a->s->st.deferred++;
		else
			a->s->st.failed++;
	}
}

/* attempt_free - release what the attempt holds */
static void attempt_free(struct attempt *a)
{
	size_t i;

	for (i = 0; i < a->njobs; i++)
		free(a->jobs[i].status);
	if (a->fd >= 0)
		close(a->fd);
	envelope_clear(&a->env);
	free(a->jobs);
	free(a->jag);
	free(a->idx);
	free(a->res);
	free(a->tried);
	free(a->added);
	free(a);
}

/* on_recorded - the attempt is over (loop) */
static void on_recorded(void *arg)
{
	struct attempt *a = arg;
	struct sched *s = a->s;
	struct entry *e = a->e;
	size_t i;

	s->running--;
	e->att = NULL;
	run_next(s);
	if (a->rc == STORE_OK && !a->record_failed)
		log_outcomes(a);
	s->st.dsns += a->nadded;
	for (i = 0; i < a->nadded; i++) {
		log_info("queue qid=%s status=queued reason=\"delivery status notification for %s\"",
			 a->added[i], e->qid);
		sched_add(s, a->added[i]);
	}
	e->flush = 0;
	free(e->flush_domain);
	e->flush_domain = NULL;
	if (a->rc == STORE_OK && !a->record_failed) {
		e->want_remove = 0;
		if (a->set_hold >= 0)
			e->want_hold = -1;
	}
	if (a->remove || a->rc == STORE_GONE) {
		if (a->remove)
			log_info("queue qid=%s status=removed", e->qid);
		set_state(s, e, E_IDLE);
		forget(s, e);
		attempt_free(a);
		return;
	}
	if (a->set_hold == 1 && !a->record_failed) {
		set_state(s, e, E_HELD);
		log_info("queue qid=%s status=held", e->qid);
	} else if (a->next_due == (time_t)-1) {
		set_state(s, e, E_IDLE);	/* damaged: left alone */
	} else if (a->record_failed) {
		wait_until(s, e, a->now + IO_RETRY);
	} else if (a->next_due) {
		wait_until(s, e, a->next_due);
	} else {
		set_state(s, e, E_IDLE);	/* relay recipients with no agent */
	}
	if (!a->record_failed && e->state != E_RUN &&
	    (e->want_remove || e->want_hold == 0 || (e->want_hold == 1 && e->state != E_HELD))) {
		attempt_free(a);
		run(s, e);	/* a request that came during the attempt */
		return;
	}
	attempt_free(a);
}

/* ------------------------------------------------------------ public */

/* default_now - time(2) */
static time_t default_now(void *arg)
{
	(void)arg;
	return time(NULL);
}

/* sched_new - an empty scheduler */
struct sched *sched_new(struct queue *q, struct event_base *base, const struct queue_opts *o)
{
	struct sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->q = q;
	s->base = base;
	s->pool = o->pool;
	s->local = o->local;
	s->remote = o->remote;
	s->smarthost = o->smarthost ? strdup(o->smarthost) : NULL;
	s->hostname = strdup(o->hostname && *o->hostname ? o->hostname : "localhost");
	s->retry_min = o->retry_min ? o->retry_min : DEFAULT_RETRY_MIN;
	s->retry_max = o->retry_max ? o->retry_max : DEFAULT_RETRY_MAX;
	if (s->retry_max < s->retry_min)
		s->retry_max = s->retry_min;
	s->lifetime = o->max_lifetime ? o->max_lifetime : DEFAULT_LIFETIME;
	s->delay_warning = o->delay_warning ? o->delay_warning : DEFAULT_DELAY_WARNING;
	s->route = o->route;
	s->route_arg = o->route_arg;
	s->now = default_now;
	if (!s->hostname || (o->smarthost && !s->smarthost)) {
		sched_free(s);
		return NULL;
	}
	return s;
}

/* sched_add - know qid and run it */
void sched_add(struct sched *s, const char *qid)
{
	struct entry *e = find(s, qid), **sl;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			log_err("queue qid=%s status=unscheduled reason=\"out of memory\"", qid);
			return;
		}
		snprintf(e->qid, sizeof(e->qid), "%s", qid);
		e->state = E_IDLE;
		e->want_hold = -1;
		sl = slot(s, qid);
		e->hnext = *sl;
		*sl = e;
		s->st.queued++;
	}
	run(s, e);
}

/* sched_has - is qid known? */
int sched_has(const struct sched *s, const char *qid)
{
	return find(s, qid) != NULL;
}

/* sched_stop - no new attempts; the agents end theirs soon */
void sched_stop(struct sched *s)
{
	s->stopping = 1;
}

/* sched_running - attempts not finished */
unsigned sched_running(const struct sched *s)
{
	return s->running;
}

/* sched_free - free every entry (no attempt may be running) */
void sched_free(struct sched *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < HASH_SIZE; i++) {
		while (s->hash[i]) {
			struct entry *e = s->hash[i];

			s->hash[i] = e->hnext;
			if (e->timer) {
				free(event_get_callback_arg(e->timer));
				event_free(e->timer);
			}
			free(e->flush_domain);
			free(e);
		}
	}
	free(s->smarthost);
	free(s->hostname);
	free(s);
}

/* sched_set_clock - replace the clock (NULL: time()) */
void sched_set_clock(struct sched *s, time_t (*now)(void *arg), void *arg)
{
	s->now = now ? now : default_now;
	s->now_arg = now ? arg : NULL;
}

/* sched_run_due - run every waiting entry due by the clock */
unsigned sched_run_due(struct sched *s)
{
	time_t now = s->now(s->now_arg);
	struct entry *e;
	unsigned i, n = 0;

	for (i = 0; i < HASH_SIZE; i++)
		for (e = s->hash[i]; e; e = e->hnext)
			if (e->state == E_WAIT && e->due <= now) {
				run(s, e);
				n++;
			}
	return n;
}

/* sched_stats - the counters */
void sched_stats(struct sched *s, struct queue_stats *st)
{
	*st = s->st;
}

/* flush_one - make e due now (only the recipients in domain, if given) */
static unsigned flush_one(struct sched *s, struct entry *e, const char *domain)
{
	e->flush = 1;
	free(e->flush_domain);
	e->flush_domain = domain ? strdup(domain) : NULL;
	if (e->state == E_WAIT || e->state == E_IDLE) {
		run(s, e);
		return 1;
	}
	return e->state == E_RUN;
}

/* sched_flush - qid, every message, or (domain) those with mail there.
 * The domain filter is applied when the attempt looks at the recipients:
 * a message without a recipient there simply finds nothing due. */
unsigned sched_flush(struct sched *s, const char *qid, const char *domain)
{
	struct entry *e;
	unsigned i, n = 0;

	if (qid) {
		e = find(s, qid);
		return e && e->state != E_HELD ? flush_one(s, e, domain) : 0;
	}
	for (i = 0; i < HASH_SIZE; i++)
		for (e = s->hash[i]; e; e = e->hnext)
			if (e->state != E_HELD)
				n += flush_one(s, e, domain);
	return n;
}

/* sched_hold - hold or release; recorded by an attempt */
int sched_hold(struct sched *s, const char *qid, int hold)
{
	struct entry *e = find(s, qid);

	if (!e)
		return -1;
	e->want_hold = hold ? 1 : 0;
	if (!hold) {
		e->flush = 1;	/* released: tried now, back-off ignored */
		if (e->state == E_HELD)
			set_state(s, e, E_IDLE);
	}
	if (e->state != E_RUN)
		run(s, e);
	return 0;
}

/* sched_remove - delete qid (after a running attempt) */
int sched_remove(struct sched *s, const char *qid)
{
	struct entry *e = find(s, qid);

	if (!e)
		return -1;
	e->want_remove = 1;
	if (e->state == E_HELD)
		set_state(s, e, E_IDLE);
	if (e->state != E_RUN)
		run(s, e);
	return 0;
}

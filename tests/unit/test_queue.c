/* test_queue - the durable queue end to end with a real event_base:
 * commit lands in queue/ before the callback, local delivery empties the
 * queue, abort leaves nothing, write failures never report Q_OK, recovery
 * quarantines damaged files and removes incoming/ leftovers, relay
 * recipients stay queued, a temporary failure is retried exactly when due
 * (backoff), backlog and drain, queue ids.
 *
 * Time: the queue runs on a fake clock (x->now, queue_set_clock) and the
 * backoff is longer than any test, so the libevent retry timers never fire;
 * a test advances x->now and calls queue_run_due to run what is due.  No
 * test sleeps to decide an outcome: loops wait for a condition, and the
 * time limit of run_until only bounds a hang. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "deliver/agent.h"
#include "deliver/local.h"
#include "queue/qfile.h"
#include "queue/queue.h"
#include "util/work.h"
#include "util/buf.h"
#include "util/log.h"
#include "testutil.h"

#define T0 1700000000	/* the fake clock at the start of every test */
#define RETRY_MIN 600	/* longer than any test: the retry timers never */
#define RETRY_MAX 2400	/* fire, retries run through queue_run_due only */

struct fx {
	char dir[128];
	int spool_fd, mail_fd;
	struct event_base *base;
	struct queue *q;
	struct queue_opts o;
	struct workpool *pool;
	struct agent *local;
	/* commit callback */
	int ncalls;
	enum qstatus st;
	int in_queue_at_cb;	/* queue/<qid> existed when done() ran */
	char qid[QID_MAX + 1];
	int drained;
	time_t now;		/* the queue's clock */
};

/* open_dir - open dir/name as a directory fd */
static int open_dir(const char *dir, const char *name)
{
	char p[256];
	int fd;

	tu_path(p, sizeof(p), dir, name);
	mkdir(p, 0700);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* setup - temp spool and mail dirs, a base; the queue is made by tests */
static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	tu_tmpdir(x->dir, sizeof(x->dir));
	x->spool_fd = open_dir(x->dir, "spool");
	x->mail_fd = open_dir(x->dir, "mail");
	x->base = event_base_new();
	assert_non_null(x->base);
	x->o.spool_fd = x->spool_fd;
	x->o.mail_fd = x->mail_fd;
	x->o.hostname = "mx.test";
	x->o.retry_min = RETRY_MIN;
	x->o.retry_max = RETRY_MAX;
	x->pool = workpool_new(x->base, 3);
	x->local = local_agent_new(x->pool, x->mail_fd, "mx.test");
	assert_non_null(x->local);
	x->o.pool = x->pool;
	x->o.local = x->local;
	x->now = T0;
	*state = x;
	return 0;
}

/* teardown - free the queue and base, remove the temp dir */
static int teardown(void **state)
{
	struct fx *x = *state;

	queue_free(x->q);
	workpool_free(x->pool);
	local_agent_free(x->local);
	event_base_free(x->base);
	close(x->spool_fd);
	close(x->mail_fd);
	tu_rm_rf(x->dir);
	free(x);
	return 0;
}

/* fake_now - the queue's clock: x->now, moved by the tests */
static time_t fake_now(void *arg)
{
	struct fx *x = arg;

	return x->now;
}

/* start - make the queue, on the fake clock */
static void start(struct fx *x)
{
	x->q = queue_new(x->base, &x->o);
	assert_non_null(x->q);
	queue_set_clock(x->q, fake_now, x);
}

/* tick - keeps EVLOOP_ONCE returning */
static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* run_until - run the loop until pred(x) holds or ms pass; returns pred */
static int run_until(struct fx *x, int (*pred)(struct fx *), long long ms)
{
	struct event *ev = event_new(x->base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = { 0, 5000 };
	long long end = now_ms() + ms;
	int ok;

	event_add(ev, &tv);
	while (!(ok = pred(x)) && now_ms() < end)
		event_base_loop(x->base, EVLOOP_ONCE);
	event_free(ev);
	return ok;
}

/* called - the commit callback ran */
static int called(struct fx *x)
{
	return x->ncalls > 0;
}

/* settled - no delivery attempt in flight: every result has been seen */
static int settled(struct fx *x)
{
	struct queue_stats st;

	queue_get_stats(x->q, &st);
	return st.active == 0;
}

/* queue_empty - no message left in queue/ */
static int queue_empty(struct fx *x)
{
	struct queue_stats st;

	queue_get_stats(x->q, &st);
	return st.queued == 0;
}

/* exists - does path exist below dirfd? */
static int exists(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* on_done - the commit callback: record and check queue/<qid> */
static void on_done(void *arg, enum qstatus st)
{
	struct fx *x = arg;
	char p[64];

	snprintf(p, sizeof(p), "queue/%s", x->qid);
	x->in_queue_at_cb = exists(x->spool_fd, p);
	x->st = st;
	x->ncalls++;
}

/* add_rcpt - append a recipient */
static void add_rcpt(struct envelope *e, enum rcpt_kind k, const char *mbox,
		     const char *domain)
{
	struct env_rcpt *r = envelope_add_rcpt(e);
	char a[128];

	assert_non_null(r);
	snprintf(a, sizeof(a), "%s@%s", mbox, domain);
	r->kind = k;
	r->addr = strdup(a);
	r->orig = strdup(a);
	r->domain = strdup(domain);
	r->mailbox = k == RCPT_LOCAL ? strdup(mbox) : NULL;
}

/* make_env - an envelope with a fresh qid and n local recipients */
static void make_env(struct fx *x, struct envelope *e, int nlocal)
{
	int i;

	envelope_init(e);
	queue_make_qid(x->q, e->qid);
	strcpy(x->qid, e->qid);
	e->arrival = 1700000000;
	e->client_addr = strdup("127.0.0.1");
	e->proto = strdup("ESMTP");
	e->sender = strdup("bob@example.net");
	for (i = 0; i < nlocal; i++) {
		char mb[16];

		snprintf(mb, sizeof(mb), "user%d", i);
		add_rcpt(e, RCPT_LOCAL, mb, "example.org");
	}
}

/* body_of - a test body of n bytes with CRLF lines */
static char *body_of(size_t n)
{
	char *b = malloc(n);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < n; i++)
		b[i] = (i % 60 == 58) ? '\r' : (i % 60 == 59) ? '\n' : 'A' + i % 26;
	return b;
}

/* write_chunks - hand the body over in uneven pieces */
static void write_chunks(struct qmsg *m, const char *b, size_t n)
{
	size_t off = 0, k = 1;

	while (off < n) {
		size_t c = k < n - off ? k : n - off;

		queue_msg_write(m, b + off, c);
		off += c;
		k = k * 3 + 7;
		if (k > 300000)
			k = 1;
	}
}

/* check_qfile - queue/<qid> is complete: envelope, body, trailer */
static void check_qfile(struct fx *x, const char *body, size_t n, size_t nrcpt)
{
	char p[64], *b;
	struct envelope e;
	struct stat st;
	size_t len;
	long elen;

	snprintf(p, sizeof(p), "queue/%s", x->qid);
	assert_int_equal(fstatat(x->spool_fd, p, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	b = tu_slurp_at(x->spool_fd, p, &len);
	envelope_init(&e);
	elen = qfile_decode_envelope(b, len, &e);
	assert_true(elen > 0);
	assert_string_equal(e.qid, x->qid);
	assert_int_equal(e.nrcpts, nrcpt);
	assert_int_equal(len, (size_t)elen + n + QFILE_TRAILER_LEN);
	assert_memory_equal(b + elen, body, n);
	assert_int_equal(qfile_check_trailer(b + elen + n, QFILE_TRAILER_LEN),
			 (long long)n);
	envelope_clear(&e);
	free(b);
}

/* check_maildir - mail/example.org/<mbox>/new holds the LF copy */
static void check_maildir(struct fx *x, const char *mbox, unsigned idx,
			  const char *body, size_t n)
{
	char p[256], *got;
	size_t i, k = 0, hl, len;

	snprintf(p, sizeof(p), "example.org/%s/new/1700000000.%s_%u.mx.test",
		 mbox, x->qid, idx);
	got = tu_slurp_at(x->mail_fd, p, &len);
	hl = strlen("Return-Path: <bob@example.net>\nDelivered-To: ") +
	     strlen(mbox) + strlen("@example.org\n");
	assert_memory_equal(got, "Return-Path: <bob@example.net>\n", 31);
	for (i = 0; i < n; i++)
		if (!(body[i] == '\r' && i + 1 < n && body[i + 1] == '\n'))
			assert_int_equal(got[hl + k++], body[i]);
	assert_int_equal(len, hl + k);
	free(got);
}

/* test_commit_deliver - the full path: spool, commit, deliver, remove */
static void test_commit_deliver(void **state)
{
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;
	size_t n = 300000;
	char *b = body_of(n);

	start(x);
	make_env(x, &e, 2);
	m = queue_msg_begin(x->q, &e);
	assert_non_null(m);
	assert_int_equal(e.nrcpts, 0);	/* moved out */
	write_chunks(m, b, n);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(x->ncalls, 1);
	assert_int_equal(x->st, Q_OK);
	assert_true(x->in_queue_at_cb);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_true(run_until(x, queue_empty, 10000));
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	check_maildir(x, "user0", 0, b, n);
	check_maildir(x, "user1", 1, b, n);
	queue_get_stats(x->q, &st);
	assert_int_equal(st.committed, 1);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.failed, 0);
	free(b);
}

/* test_commit_file - the committed file is complete (checked before any
 * delivery by using a relay-only message) */
static void test_commit_file(void **state)
{
	struct fx *x = *state;
	struct envelope e;
	struct qmsg *m;
	size_t n = 200001;
	char *b = body_of(n);

	start(x);
	make_env(x, &e, 0);
	add_rcpt(&e, RCPT_RELAY, "r", "remote.example");
	m = queue_msg_begin(x->q, &e);
	write_chunks(m, b, n);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(x->st, Q_OK);
	check_qfile(x, b, n, 1);
	free(b);
}

/* incoming_one - a worker has created the one file in incoming/ */
static int incoming_one(struct fx *x)
{
	return tu_count_dir(x->spool_fd, "incoming") == 1;
}

/* test_abort - aborted messages leave no file: before a worker saw them,
 * after a worker created the file, and while a write may be in flight
 * (queue_free finishes every job, so what is left afterwards stays) */
static void test_abort(void **state)
{
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;
	size_t n = 500000;
	char *b = body_of(n);

	start(x);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	queue_msg_abort(m);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	write_chunks(m, b, n);
	assert_true(run_until(x, incoming_one, 10000));
	queue_msg_abort(m);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, b, n);
	queue_msg_abort(m);		/* abort while a write may be in flight */
	queue_get_stats(x->q, &st);
	queue_free(x->q);		/* every job done, every file removed */
	x->q = NULL;
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	assert_int_equal(x->ncalls, 0);
	assert_int_equal(st.committed, 0);
	free(b);
}

/* test_write_error - a failing write (RLIMIT_FSIZE: EFBIG) gives Q_TEMP,
 * never Q_OK, and removes the file */
static void test_write_error(void **state)
{
	struct fx *x = *state;
	struct rlimit old, lim;
	struct envelope e;
	struct qmsg *m;
	size_t n = 400000;
	char *b = body_of(n);

	start(x);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	write_chunks(m, b, n);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(x->st, Q_TEMP);
	assert_false(x->in_queue_at_cb);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	free(b);
}

/* test_bad_qid - a message whose qid was not made by queue_make_qid is
 * refused at commit, nothing is written */
static void test_bad_qid(void **state)
{
	struct fx *x = *state;
	struct envelope e;
	struct qmsg *m;

	start(x);
	make_env(x, &e, 1);
	strcpy(e.qid, "../../etc");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "x\r\n", 3);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(x->st, Q_TEMP);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	assert_false(exists(x->spool_fd, "../etc"));
}

/* put_file - write a file below the spool */
static void put_file(struct fx *x, const char *path, const char *p, size_t n)
{
	tu_write_at(x->spool_fd, path, p, n, 0600);
}

/* make_qfile - a complete queue file for qid with the given recipients */
static void make_qfile(struct fx *x, buf_t *out, const char *qid, int nlocal,
		       const char *body)
{
	struct envelope e;
	char tr[QFILE_TRAILER_LEN + 1];
	int i;

	envelope_init(&e);
	strcpy(e.qid, qid);
	e.arrival = 1700000000;
	e.sender = strdup("bob@example.net");
	for (i = 0; i < nlocal; i++) {
		char mb[16];

		snprintf(mb, sizeof(mb), "user%d", i);
		add_rcpt(&e, RCPT_LOCAL, mb, "example.org");
	}
	buf_init(out);
	assert_int_equal(qfile_encode_envelope(&e, out), 0);
	buf_puts(out, body);
	qfile_trailer(strlen(body), tr);
	buf_puts(out, tr);
	envelope_clear(&e);
	(void)x;
}

/* test_recovery - incoming/ leftovers go, damaged files go to corrupt/
 * with their .done, stale .done files go, valid messages are delivered
 * (skipping recipients already done) */
static void test_recovery(void **state)
{
	static const char body[] = "Subject: r\r\n\r\nbody\r\n";
	struct fx *x = *state;
	buf_t good, bad;
	char p[64];

	assert_int_equal(mkdirat(x->spool_fd, "incoming", 0700), 0);
	assert_int_equal(mkdirat(x->spool_fd, "queue", 0700), 0);
	put_file(x, "incoming/0000000000A000", "partial", 7);
	put_file(x, "incoming/junk", "x", 1);
	make_qfile(x, &good, "0000000000B000", 2, body);
	put_file(x, "queue/0000000000B000", good.data, good.len);
	put_file(x, "queue/0000000000B000.done", "0\n", 2);	/* user0 done */
	make_qfile(x, &bad, "0000000000C000", 1, body);
	put_file(x, "queue/0000000000C000", bad.data, bad.len - 5);
	put_file(x, "queue/0000000000C000.done", "", 0);
	put_file(x, "queue/0000000000D000", bad.data, bad.len);	/* id mismatch */
	put_file(x, "queue/0000000000E000", "garbage", 7);
	put_file(x, "queue/not-a-qid", bad.data, bad.len);
	put_file(x, "queue/0000000000F000.done", "0\n", 2);	/* stale */
	assert_int_equal(mkdirat(x->spool_fd, "queue/0000000000G000", 0700), 0);
	start(x);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_true(exists(x->spool_fd, "corrupt/0000000000C000"));
	assert_true(exists(x->spool_fd, "corrupt/0000000000C000.done"));
	assert_true(exists(x->spool_fd, "corrupt/0000000000D000"));
	assert_true(exists(x->spool_fd, "corrupt/0000000000E000"));
	assert_true(exists(x->spool_fd, "corrupt/not-a-qid"));
	assert_true(exists(x->spool_fd, "corrupt/0000000000G000"));
	assert_false(exists(x->spool_fd, "queue/0000000000F000.done"));
	assert_true(run_until(x, queue_empty, 10000));
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	strcpy(x->qid, "0000000000B000");
	check_maildir(x, "user1", 1, body, sizeof(body) - 1);
	snprintf(p, sizeof(p), "example.org/user0");
	assert_false(exists(x->mail_fd, p));	/* was done before the crash */
	buf_free(&good);
	buf_free(&bad);
}

/* The fake remote agent: records each job (next hop, recipients) and
 * answers it from the loop with the status the test set up. */
struct fake_remote {
	struct agent a;
	struct fx *x;
	int jobs;
	char hops[8][64];
	size_t nrcpts[8];
	enum dclass answer;
	struct agent_job *held;		/* answered by fake_answer */
};

/* fake_submit - keep the job; answered later, never from submit */
static void fake_submit(struct agent *a, struct agent_job *j)
{
	struct fake_remote *f = (struct fake_remote *)a;

	if (f->jobs < 8) {
		snprintf(f->hops[f->jobs], sizeof(f->hops[0]), "%s", j->nexthop);
		f->nrcpts[f->jobs] = j->nrcpts;
	}
	f->jobs++;
	j->next = f->held;
	f->held = j;
}

/* fake_answer - complete every held job with f->answer */
static void fake_answer(struct fake_remote *f)
{
	while (f->held) {
		struct agent_job *j = f->held;
		size_t k;

		f->held = j->next;
		for (k = 0; k < j->nrcpts; k++) {
			struct dstatus *st = &j->status[k];

			memset(st, 0, sizeof(*st));
			st->cls = f->answer;
			st->code = f->answer == DS_OK ? 250 : f->answer == DS_TEMP ? 451 : 550;
			strcpy(st->enh, f->answer == DS_OK ? "2.0.0" : f->answer == DS_TEMP ?
					 "4.4.1" : "5.1.1");
			strcpy(st->remote, "mx.remote.example[192.0.2.9]");
		}
		j->done(j);
	}
}

/* no_more - a predicate that never holds: run_until just runs the loop */
static int no_more(struct fx *x)
{
	(void)x;
	return 0;
}

/* wait_jobs - run the loop until the fake agent has n jobs (10 s bound) */
static void wait_jobs(struct fx *x, struct fake_remote *f, int n)
{
	long long end = now_ms() + 10000;

	while (f->jobs < n && now_ms() < end)
		run_until(x, no_more, 5);
	assert_int_equal(f->jobs, n);
}

/* test_relay_agent - relay recipients go to the remote agent, one job per
 * next hop with all of that domain's recipients; local ones are delivered
 * meanwhile; a temporary answer keeps the message queued with a retry at
 * retry_min, and the next attempt tries only the recipients left; the
 * message leaves the queue when the agent delivers them */
static void test_relay_agent(void **state)
{
	struct fx *x = *state;
	struct fake_remote f;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;

	memset(&f, 0, sizeof(f));
	f.a.name = "fake";
	f.a.submit = fake_submit;
	f.x = x;
	x->o.remote = &f.a;
	start(x);
	make_env(x, &e, 1);
	add_rcpt(&e, RCPT_RELAY, "r1", "one.example");
	add_rcpt(&e, RCPT_RELAY, "r2", "two.example");
	add_rcpt(&e, RCPT_RELAY, "r3", "one.example");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "hi\r\n", 4);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	wait_jobs(x, &f, 2);
	assert_int_equal(f.jobs, 2);
	assert_string_equal(f.hops[0], "one.example");
	assert_int_equal(f.nrcpts[0], 2);
	assert_string_equal(f.hops[1], "two.example");
	assert_int_equal(f.nrcpts[1], 1);
	f.answer = DS_TEMP;
	fake_answer(&f);
	assert_true(run_until(x, settled, 10000));
	check_maildir(x, "user0", 0, "hi\r\n", 4);
	queue_get_stats(x->q, &st);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.deferred, 3);
	assert_int_equal(st.waiting, 1);
	x->now += RETRY_MIN - 1;
	assert_int_equal(queue_run_due(x->q), 0);
	x->now += 1;
	assert_int_equal(queue_run_due(x->q), 1);
	wait_jobs(x, &f, 4);
	assert_int_equal(f.nrcpts[2] + f.nrcpts[3], 3);	/* the local one is done */
	f.answer = DS_OK;
	fake_answer(&f);
	assert_true(run_until(x, queue_empty, 10000));
	queue_get_stats(x->q, &st);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/user0/new"), 1);
}

/* test_relay_no_agent - without a remote agent (none configured) relay
 * recipients are kept: the message stays queued, is not retried on a
 * timer, and is tried again at the next start */
static void test_relay_no_agent(void **state)
{
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;

	start(x);
	make_env(x, &e, 1);
	add_rcpt(&e, RCPT_RELAY, "r", "remote.example");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "hi\r\n", 4);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(x->st, Q_OK);
	assert_true(run_until(x, settled, 10000));
	check_maildir(x, "user0", 0, "hi\r\n", 4);
	queue_get_stats(x->q, &st);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.waiting, 0);
	x->now += 100 * RETRY_MAX;
	assert_int_equal(queue_run_due(x->q), 0);
	assert_true(exists(x->spool_fd, "queue") && tu_count_dir(x->spool_fd, "queue") == 2);
}

/* route_local - the test's router for notifications: every address is a
 * local mailbox (its local part) in its domain */
static int route_local(void *arg, const char *addr, struct env_rcpt *r)
{
	const char *at = strrchr(addr, '@');

	(void)arg;
	if (!at)
		return -1;
	r->kind = RCPT_LOCAL;
	r->domain = strdup(at + 1);
	r->mailbox = strndup(addr, (size_t)(at - addr));
	return r->domain && r->mailbox ? 0 : -1;
}

/* first_file - the content of the only file in dir below mail_fd */
static char *first_file(struct fx *x, const char *dir)
{
	char **v = NULL, p[256], *data;
	size_t n = 0;
	int fd = openat(x->mail_fd, dir, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			v = realloc(v, (n + 1) * sizeof(*v));
			v[n++] = strdup(de->d_name);
		}
	closedir(d);
	assert_int_equal(n, 1);
	snprintf(p, sizeof(p), "%s/%s", dir, v[0]);
	data = tu_slurp_at(x->mail_fd, p, NULL);
	free(v[0]);
	free(v);
	return data;
}

/* test_bounce - a permanent failure (unsafe mailbox) is recorded as done
 * and counted as failed; the sender gets one RFC 3464 report from <>
 * (queued as a message of its own, here delivered locally), the other
 * recipient its copy, and both messages leave the queue */
static void test_bounce(void **state)
{
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;
	char *dsn;

	x->o.route = route_local;
	start(x);
	make_env(x, &e, 1);
	add_rcpt(&e, RCPT_LOCAL, "..", "example.org");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "Subject: hi\r\n\r\nhi\r\n", 19);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_true(run_until(x, queue_empty, 10000));
	queue_get_stats(x->q, &st);
	assert_int_equal(st.delivered, 2);	/* user0 and the report */
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.dsns, 1);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	check_maildir(x, "user0", 0, "Subject: hi\r\n\r\nhi\r\n", 19);
	dsn = first_file(x, "example.net/bob/new");
	assert_non_null(strstr(dsn, "Return-Path: <>\n"));
	assert_non_null(strstr(dsn, "Delivered-To: bob@example.net\n"));
	assert_non_null(strstr(dsn, "MAILER-DAEMON@mx.test"));
	assert_non_null(strstr(dsn, "report-type=delivery-status"));
	assert_non_null(strstr(dsn, "Final-Recipient: rfc822; ..@example.org"));
	assert_non_null(strstr(dsn, "Action: failed"));
	assert_non_null(strstr(dsn, "Status: 5.1.3"));
	assert_non_null(strstr(dsn, "Subject: hi"));	/* the original's header */
	assert_null(strstr(dsn, "user0@example.org"));	/* only the failed one */
	free(dsn);
}

/* test_double_bounce - a failure of a message from <> is never reported
 * to its (null) sender (RFC 5321 4.5.5): the local postmaster gets the
 * report; one that fails for the postmaster itself is only logged */
static void test_double_bounce(void **state)
{
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;
	char *dsn;

	x->o.route = route_local;
	start(x);
	make_env(x, &e, 0);
	e.sender[0] = '\0';
	add_rcpt(&e, RCPT_LOCAL, "..", "example.org");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "hi\r\n", 4);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_true(run_until(x, queue_empty, 10000));
	queue_get_stats(x->q, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.dsns, 1);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.net"), -1);	/* no sender */
	dsn = first_file(x, "mx.test/postmaster/new");
	assert_non_null(strstr(dsn, "Return-Path: <>\n"));
	assert_non_null(strstr(dsn, "Final-Recipient: rfc822; ..@example.org"));
	free(dsn);

	x->ncalls = 0;
	make_env(x, &e, 0);
	e.sender[0] = '\0';
	add_rcpt(&e, RCPT_LOCAL, ".postmaster", "example.org");
	free(e.rcpts[0].addr);
	e.rcpts[0].addr = strdup("postmaster@example.org");
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "hi\r\n", 4);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_true(run_until(x, queue_empty, 10000));
	queue_get_stats(x->q, &st);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.dsns, 1);	/* no report about a report to postmaster */
}

/* test_retry - a temporary local failure (a file where the domain's
 * directory belongs) is retried exactly when due by the clock: retry_min
 * after the failed attempt, then twice as long each time, capped at
 * retry_max; the retry after the cause is gone delivers */
static void test_retry(void **state)
{
	static const time_t wait[] = { RETRY_MIN, 2 * RETRY_MIN, RETRY_MAX,
				       RETRY_MAX };
	const size_t nwait = sizeof(wait) / sizeof(wait[0]);
	struct fx *x = *state;
	struct queue_stats st;
	struct envelope e;
	struct qmsg *m;
	size_t i;

	tu_write_at(x->mail_fd, "example.org", "", 0, 0600);
	start(x);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, "hi\r\n", 4);
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	for (i = 0; i < nwait; i++) {
		assert_true(run_until(x, settled, 10000));
		queue_get_stats(x->q, &st);
		assert_int_equal(st.deferred, i + 1);
		assert_int_equal(st.waiting, 1);
		assert_int_equal(st.queued, 1);
		x->now += wait[i] - 1;
		if (queue_run_due(x->q) != 0)
			fail_msg("retry %zu ran 1 s before its backoff of %lld s",
				 i + 1, (long long)wait[i]);
		x->now += 1;
		if (i == nwait - 1)	/* the cause goes away */
			assert_int_equal(unlinkat(x->mail_fd, "example.org", 0), 0);
		assert_int_equal(queue_run_due(x->q), 1);
		assert_int_equal(queue_run_due(x->q), 0);	/* started once */
	}
	assert_true(run_until(x, queue_empty, 10000));
	queue_get_stats(x->q, &st);
	assert_int_equal(st.deferred, nwait);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.active, 0);
	check_maildir(x, "user0", 0, "hi\r\n", 4);
}

/* on_drain - the drain callback */
static void on_drain(void *arg)
{
	struct fx *x = arg;

	x->drained++;
}

/* drained - the drain callback ran */
static int drained(struct fx *x)
{
	return x->drained > 0;
}

/* drained_twice - the drain callback ran twice */
static int drained_twice(struct fx *x)
{
	return x->drained > 1;
}

/* test_backlog - more than 1 MiB unwritten is high; the drain callback
 * runs once it is low again, or, when it already is, from the loop (never
 * from inside queue_msg_on_drain); once per registration */
static void test_backlog(void **state)
{
	struct fx *x = *state;
	struct envelope e;
	struct qmsg *m;
	size_t n = 3u << 20;
	char *b = body_of(n);

	start(x);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	assert_false(queue_msg_backlog_high(m));
	queue_msg_write(m, b, n);
	queue_msg_on_drain(m, on_drain, x);
	assert_true(run_until(x, drained, 10000));
	assert_int_equal(x->drained, 1);
	assert_false(queue_msg_backlog_high(m));
	queue_msg_on_drain(m, on_drain, x);	/* already low */
	assert_int_equal(x->drained, 1);	/* not called from inside */
	assert_true(run_until(x, drained_twice, 10000));
	queue_msg_commit(m, on_done, x);
	assert_true(run_until(x, called, 10000));
	assert_int_equal(x->drained, 2);	/* once per registration */
	assert_int_equal(x->st, Q_OK);
	assert_true(run_until(x, queue_empty, 10000));
	check_maildir(x, "user0", 0, b, n);
	free(b);
}

/* test_free_in_flight - queue_free completes a pending commit and runs
 * its callback; a new queue on the spool delivers it */
static void test_free_in_flight(void **state)
{
	struct fx *x = *state;
	struct envelope e;
	struct qmsg *m;
	size_t n = 100000;
	char *b = body_of(n);

	start(x);
	make_env(x, &e, 1);
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, b, n);
	queue_msg_commit(m, on_done, x);
	make_env(x, &e, 1);		/* never committed nor aborted */
	m = queue_msg_begin(x->q, &e);
	queue_msg_write(m, b, n);
	strcpy(x->qid, "");
	queue_free(x->q);
	x->q = NULL;
	assert_int_equal(x->ncalls, 1);
	assert_int_equal(x->st, Q_OK);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 1);
	start(x);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_true(run_until(x, queue_empty, 10000));
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/user0/new"), 1);
	free(b);
}

/* test_qid - ids are fixed-width base62, strictly increasing, unique */
static void test_qid(void **state)
{
	struct fx *x = *state;
	char prev[QID_MAX + 1] = "", cur[QID_MAX + 1];
	int i;

	start(x);
	for (i = 0; i < 200000; i++) {
		size_t k;

		queue_make_qid(x->q, cur);
		assert_true(strlen(cur) > 0 && strlen(cur) <= QID_MAX);
		assert_int_equal(strlen(cur), 14);
		for (k = 0; cur[k]; k++)
			assert_non_null(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "abcdefghijklmnopqrstuvwxyz", cur[k]));
		assert_true(strcmp(prev, cur) < 0);
		strcpy(prev, cur);
	}
}

/* test_qid_after_restart - ids keep increasing past recovered ones, even
 * if those come from the future (a clock set back) */
static void test_qid_after_restart(void **state)
{
	static const char future[] = "0A000000000000";	/* about year 6000 */
	struct fx *x = *state;
	char cur[QID_MAX + 1], tr[QFILE_TRAILER_LEN + 1];
	struct envelope e;
	buf_t f;

	assert_int_equal(mkdirat(x->spool_fd, "queue", 0700), 0);
	envelope_init(&e);
	strcpy(e.qid, future);
	e.sender = strdup("");
	add_rcpt(&e, RCPT_RELAY, "r", "remote.example");
	buf_init(&f);
	assert_int_equal(qfile_encode_envelope(&e, &f), 0);
	buf_puts(&f, "x\r\n");
	qfile_trailer(3, tr);
	buf_puts(&f, tr);
	envelope_clear(&e);
	put_file(x, "queue/0A000000000000", f.data, f.len);
	buf_free(&f);
	start(x);
	queue_make_qid(x->q, cur);
	assert_true(strcmp(cur, future) > 0);
	assert_true(exists(x->spool_fd, "queue/0A000000000000"));
}

/* all_done_45 - 45 commits reported and the queue is empty */
static int all_done_45(struct fx *x)
{
	return x->ncalls == 45 && queue_empty(x);
}

/* test_many - many concurrent messages, all delivered exactly once */
static void test_many(void **state)
{
	struct fx *x = *state;
	struct qmsg *m[50];
	struct envelope e;
	int i;

	start(x);
	for (i = 0; i < 50; i++) {
		make_env(x, &e, 1);
		m[i] = queue_msg_begin(x->q, &e);
	}
	for (i = 0; i < 50; i++)
		queue_msg_write(m[i], "line\r\n", 6);
	for (i = 0; i < 50; i++) {
		char *b = body_of(70000);

		queue_msg_write(m[i], b, 70000);
		free(b);
		if (i % 10 == 9)
			queue_msg_abort(m[i]);
		else
			queue_msg_commit(m[i], on_done, x);
	}
	assert_true(run_until(x, all_done_45, 20000));
	assert_int_equal(x->st, Q_OK);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/user0/new"), 45);
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
}

/* all_done_600 - 600 commits reported and the queue is empty */
static int all_done_600(struct fx *x)
{
	return x->ncalls == 600 && queue_empty(x);
}

/* test_more_than_running_max - more messages due at once than attempts
 * may run (RUNNING_MAX, 256): the rest wait their turn and every one is
 * delivered exactly once */
static void test_more_than_running_max(void **state)
{
	struct fx *x = *state;
	struct envelope e;
	struct qmsg *m;
	int i;

	start(x);
	for (i = 0; i < 600; i++) {
		make_env(x, &e, 1);
		m = queue_msg_begin(x->q, &e);
		queue_msg_write(m, "x\r\n", 3);
		queue_msg_commit(m, on_done, x);
	}
	assert_true(run_until(x, all_done_600, 60000));
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/user0/new"), 600);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
}

/* test_space - queue_space_ok answers sensibly */
static void test_space(void **state)
{
	struct fx *x = *state;

	start(x);
	assert_true(queue_space_ok(x->q, 0));
	assert_true(queue_space_ok(x->q, 1000));
	assert_false(queue_space_ok(x->q, 0x7fffffffffffffffLL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_qid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_no_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qid_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_than_running_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_space, setup, teardown),
	};

	evthread_use_pthreads();
	log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* queue - the durable queue: spooling messages as they arrive, commit,
 * crash recovery, and the local delivery scheduler.
 *
 * Public: queue_new, queue_free, queue_make_qid, queue_space_ok,
 * queue_msg_begin, queue_msg_write, queue_msg_backlog_high,
 * queue_msg_on_drain, queue_msg_commit, queue_msg_abort, queue_get_stats,
 * queue_set_clock, queue_run_due.
 *
 * Threads.  The loop thread (the one running the event_base) only buffers
 * bytes and posts work: after queue_new it never touches the disk (but for
 * the statvfs of queue_space_ok).
 * - disk workers take messages from a FIFO.  A message is on the FIFO or in
 *   a worker's hands at most once at a time (qmsg.busy), so its jobs (write
 *   the envelope and data, commit or abort) run in order.  A worker keeps
 *   serving the message while it has >= 64 KiB pending, or a commit/abort.
 * - delivery workers take struct dmsg from a run queue.  A dmsg exists for
 *   every message in queue/ and is in one state (RUNQ, RUNNING, WAIT on a
 *   retry timer, IDLE), so no message is delivered by two threads at once.
 * Results come back to the loop thread through two events made active by
 * the workers; every callback and timer runs on the loop thread.
 * Retries: a temporary failure makes the message due retry_min seconds
 * later (doubled for each further failure, up to retry_max) by the queue's
 * clock (queue_set_clock; CLOCK_MONOTONIC by default).  A libevent timer of
 * the same length runs it in the daemon; queue_run_due runs every message
 * that is due by the clock, so tests drive retries with a fake clock (and a
 * backoff longer than the test, so the timers never fire) without sleeping.
 * Locks: q->mu guards the disk FIFO, the completion list and the shared
 * fields of every qmsg; q->dmu guards the run queue, results, dmsg states
 * and the counters.  Lock order: q->mu or q->dmu, then libevent's base
 * lock (event_active); the two are never held together.
 *
 * Durability (docs: DESIGN.md "Durability contract"): Q_OK is reported only
 * after fsync(file), renameat(incoming/ -> queue/) and fsync(queue/); any
 * failure removes the file and is never retried into Q_OK.  A recipient is
 * recorded in <qid>.done (fdatasync) only after local_deliver succeeded, and
 * the message is unlinked before its .done file.
 */
#include "queue/queue.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "deliver/local.h"
#include "queue/qfile.h"
#include "util/buf.h"
#include "util/log.h"

#define FLUSH_AT (64u * 1024)		/* hand pending bytes to a worker */
#define BACKLOG_HIGH (1024u * 1024)	/* ask the session to pause */
#define BACKLOG_LOW (256u * 1024)	/* and to resume */
#define ENV_READ_FIRST (64u * 1024)
#define DONE_MAX (16u << 20)		/* a .done file is never read beyond */
#define HASH_SIZE 4096
#define COMPLETION_BUDGET 256		/* per loop callback, for fairness */
#define WBUF_KEEP (256u * 1024)		/* larger write buffers are freed */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
#define QID_TIME_DIGITS 11		/* 62^11 > 2^64 */
#define QID_SEQ_DIGITS 3		/* 62^3 > 2^16 */
#define QID_SEQ_MAX 0xffffu

enum mstate { MS_OPEN, MS_COMMIT, MS_ABORT, MS_FINISHED };

struct qmsg {
	struct queue *q;
	struct envelope env;		/* loop thread: kept for the log line */
	char qid[QID_MAX + 1];
	unsigned long long nbytes;	/* loop thread: message bytes given */
	void (*done)(void *arg, enum qstatus st);
	void *done_arg;
	/* guarded by q->mu */
	enum mstate state;
	int started;			/* ever posted to a worker */
	int busy;			/* on the FIFO or held by a worker */
	int in_clist;			/* on the completion list */
	int bad;			/* errno when buffering failed: Q_TEMP */
	buf_t pending;
	size_t backlog;			/* pending + being written */
	void (*drain_cb)(void *arg);
	void *drain_arg;
	enum qstatus result;
	int err;			/* errno of the failure, for the log */
	/* owned by the worker that holds busy */
	int fd;				/* incoming/<qid>, -1 until created */
	int werr;			/* first I/O error */
	buf_t wbuf;
	struct qmsg *jnext, *cnext, *lprev, *lnext;
};

enum dstate { D_IDLE, D_RUNQ, D_RUNNING, D_WAIT };
enum dres { DR_DONE, DR_TEMP, DR_STUCK, DR_GONE };

struct dmsg {
	struct queue *q;
	char qid[QID_MAX + 1];
	enum dstate state;		/* q->dmu */
	enum dres res;			/* q->dmu */
	int relay_logged;		/* the delivering worker */
	unsigned backoff;		/* loop thread */
	time_t due;			/* loop thread: retry time (D_WAIT) */
	struct event *timer;		/* loop thread */
	struct dmsg *hnext, *rnext;
};

struct queue {
	struct event_base *base;
	int spool_fd, mail_fd;		/* the caller's */
	int in_fd, q_fd, bad_fd;	/* ours */
	char *hostname;
	unsigned retry_min, retry_max;
	time_t (*now)(void *arg);	/* the retry clock, loop thread */
	void *now_arg;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct qmsg *jhead, *jtail;	/* disk FIFO */
	struct qmsg *chead, *ctail;	/* completions for the loop thread */
	struct qmsg *live;		/* every message not yet freed */
	int disk_stop;
	pthread_t *disk;
	unsigned ndisk, ndisk_run;
	struct event *ev_disk;

	pthread_mutex_t dmu;
	pthread_cond_t dcond;
	struct dmsg *rhead, *rtail;	/* run queue */
	struct dmsg *reshead, *restail;	/* delivery results */
	int deliver_stop;
	pthread_t *dthr;
	unsigned ndeliver, ndeliver_run;
	struct event *ev_deliver;
	struct queue_stats st;		/* q->dmu */

	struct dmsg *hash[HASH_SIZE];	/* loop thread */

	pthread_mutex_t qid_mu;
	unsigned long long last_us;
	unsigned seq;
};

static const char b62[] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* ---------------------------------------------------------------- util */

/* pread_full - read exactly n bytes at off; a short file is EIO */
static int pread_full(int fd, void *p, size_t n, off_t off)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* errno_status - commit status for a failure errno */
static enum qstatus errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT ? Q_NOSPACE : Q_TEMP;
}

/* qid_ok - is s a queue id as queue_make_qid makes them (and safe)? */
static int qid_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > QID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr(b62, s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

/* done_name - "<qid>.done" */
static void done_name(const char *qid, char out[QID_MAX + 6])
{
	snprintf(out, QID_MAX + 6, "%s.done", qid);
}

/* rename_noreplace - renameat that never replaces an existing file */
static int rename_noreplace(int ofd, const char *o, int nfd, const char *n)
{
	if (renameat2(ofd, o, nfd, n, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	return renameat(ofd, o, nfd, n);
}

/* -------------------------------------------------------------- qids */

/* queue_make_qid - 11 base62 digits of microseconds since the epoch, then
 * 3 of a sequence number within the microsecond: unique and sorted */
void queue_make_qid(struct queue *q, char out[QID_MAX + 1])
{
	struct timespec ts;
	unsigned long long us, t;
	unsigned seq;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (unsigned long long)ts.tv_sec * 1000000ull +
	     (unsigned long long)ts.tv_nsec / 1000;
	pthread_mutex_lock(&q->qid_mu);
	if (us > q->last_us) {
		q->last_us = us;
		q->seq = 0;
	} else if (++q->seq > QID_SEQ_MAX) {
		q->last_us++;
		q->seq = 0;
	}
	t = q->last_us;
	seq = q->seq;
	pthread_mutex_unlock(&q->qid_mu);
	for (i = QID_TIME_DIGITS - 1; i >= 0; i--, t /= 62)
		out[i] = b62[t % 62];
	for (i = QID_SEQ_DIGITS - 1; i >= 0; i--, seq /= 62)
		out[QID_TIME_DIGITS + i] = b62[seq % 62];
	out[QID_TIME_DIGITS + QID_SEQ_DIGITS] = '\0';
}

/* qid_clock_see - a recovered qid moves the id clock past it (against a
 * clock that went backwards across a restart) */
static void qid_clock_see(struct queue *q, const char *qid)
{
	unsigned long long t = 0;
	unsigned seq = 0;
	int i;

	if (strlen(qid) != QID_TIME_DIGITS + QID_SEQ_DIGITS)
		return;
	for (i = 0; i < QID_TIME_DIGITS; i++) {
		unsigned long long d;

		d = (unsigned long long)(strchr(b62, qid[i]) - b62);
		if (t > (ULLONG_MAX - d) / 62)
			return;	/* not one of ours */
		t = t * 62 + d;
	}
	for (; i < QID_TIME_DIGITS + QID_SEQ_DIGITS; i++)
		seq = seq * 62 + (unsigned)(strchr(b62, qid[i]) - b62);
	pthread_mutex_lock(&q->qid_mu);
	if (t > q->last_us || (t == q->last_us && seq > q->seq)) {
		q->last_us = t;
		q->seq = seq;
	}
	pthread_mutex_unlock(&q->qid_mu);
}

/* queue_space_ok - free space >= 1.5 * size + 16 MiB (statvfs) */
int queue_space_ok(struct queue *q, long long size)
{
	struct statvfs sv;
	unsigned long long need, avail;

	if (fstatvfs(q->spool_fd, &sv) < 0 || sv.f_frsize == 0)
		return 1;	/* cannot tell: let the commit find out */
	need = size > 0 ? (unsigned long long)size : 0;
	need += need / 2 + (16ull << 20);
	if (sv.f_bavail > ULLONG_MAX / sv.f_frsize)
		return 1;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	return avail >= need;
}

/* ------------------------------------------------- message file format */

/* load_message - read and validate queue/<qid> open as fd: envelope,
 * trailer, size.  Returns 0 with *off and *len of the message bytes, -1 if
 * the file is damaged (why says how), -2 on an I/O error. */
static int load_message(int fd, const char *qid, struct envelope *env,
			off_t *off, off_t *len, const char **why)
{
	struct stat st;
	char tr[QFILE_TRAILER_LEN];
	size_t cap = ENV_READ_FIRST, n;
	long elen = 0;
	long long mlen;
	char *b = NULL, *nb;

	if (fstat(fd, &st) < 0)
		return -2;
	*why = "not a regular file";
	if (!S_ISREG(st.st_mode))
		return -1;
	*why = "truncated";
	if (st.st_size < (off_t)(sizeof(QFILE_MAGIC) - 1 + QFILE_TRAILER_LEN))
		return -1;
	for (;;) {
		n = (off_t)cap < st.st_size ? cap : (size_t)st.st_size;
		nb = realloc(b, n);
		if (!nb) {
			free(b);
			errno = ENOMEM;
			return -2;
		}
		b = nb;
		if (pread_full(fd, b, n, 0) < 0) {
			free(b);
			return -2;
		}
		elen = qfile_decode_envelope(b, n, env);
		if (elen != 0 || (off_t)n == st.st_size || n >= QFILE_ENV_MAX)
			break;
		cap *= 2;
	}
	free(b);
	*why = "bad envelope";
	if (elen <= 0)
		return -1;
	*why = "queue id does not match the file name";
	if (strcmp(env->qid, qid) != 0)
		return -1;
	if (pread_full(fd, tr, sizeof(tr), st.st_size - QFILE_TRAILER_LEN) < 0)
		return -2;
	mlen = qfile_check_trailer(tr, sizeof(tr));
	*why = "bad trailer";
	if (mlen < 0 || (unsigned long long)elen + (unsigned long long)mlen +
			QFILE_TRAILER_LEN != (unsigned long long)st.st_size)
		return -1;
	*off = elen;
	*len = mlen;
	return 0;
}

/* --------------------------------------------------- receiving (disk) */

/* clist_push_locked - queue m for the loop thread (q->mu held) */
static void clist_push_locked(struct queue *q, struct qmsg *m)
{
	if (m->in_clist)
		return;
	m->in_clist = 1;
	m->cnext = NULL;
	if (q->ctail)
		q->ctail->cnext = m;
	else
		q->chead = m;
	q->ctail = m;
	event_active(q->ev_disk, EV_READ, 0);
}

/* post_locked - hand m to the disk workers (q->mu held, m not busy) */
static void post_locked(struct queue *q, struct qmsg *m)
{
	m->busy = 1;
	m->started = 1;
	m->jnext = NULL;
	if (q->jtail)
		q->jtail->jnext = m;
	else
		q->jhead = m;
	q->jtail = m;
	pthread_cond_signal(&q->cond);
}

/* msg_write_io - create incoming/<qid> if needed and write wbuf (worker) */
static void msg_write_io(struct queue *q, struct qmsg *m)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;

	if (m->werr)
		return;
	if (m->fd < 0) {
		m->fd = openat(q->in_fd, m->qid, fl, 0600);
		if (m->fd < 0) {
			m->werr = errno;
			return;
		}
	}
	if (write_all(m->fd, m->wbuf.data, m->wbuf.len) < 0)
		m->werr = errno;
}

/* msg_drop_file - close and remove incoming/<qid> if we created it */
static void msg_drop_file(struct queue *q, struct qmsg *m)
{
	if (m->fd < 0)
		return;
	close(m->fd);
	m->fd = -1;
	unlinkat(q->in_fd, m->qid, 0);
}

/* msg_commit_io - fsync, rename into queue/, fsync queue/ (worker).
 * Any failure removes the file; a failed fsync is never retried. */
static enum qstatus msg_commit_io(struct queue *q, struct qmsg *m, int bad)
{
	if (!m->werr && bad)
		m->werr = bad;
	if (!m->werr && m->fd < 0)
		msg_write_io(q, m);
	if (!m->werr && fsync(m->fd) < 0)
		m->werr = errno;
	if (m->werr) {
		msg_drop_file(q, m);
		return errno_status(m->werr);
	}
	if (close(m->fd) < 0)
		m->werr = errno;
	m->fd = -1;
	if (!m->werr && rename_noreplace(q->in_fd, m->qid, q->q_fd, m->qid) < 0)
		m->werr = errno;
	if (m->werr) {
		unlinkat(q->in_fd, m->qid, 0);
		return errno_status(m->werr);
	}
	if (fsync(q->q_fd) < 0) {
		m->werr = errno;
		unlinkat(q->q_fd, m->qid, 0);
		return errno_status(m->werr);
	}
	return Q_OK;
}

/* drain_check_locked - tell the loop thread the backlog went down */
static void drain_check_locked(struct queue *q, struct qmsg *m)
{
	if (m->drain_cb && m->backlog < BACKLOG_LOW)
		clist_push_locked(q, m);
}

/* finish_locked - m is done with the disk: give it to the loop thread */
static void finish_locked(struct queue *q, struct qmsg *m)
{
	m->state = MS_FINISHED;
	m->busy = 0;
	m->err = m->werr;
	clist_push_locked(q, m);
}

/* msg_service - run m's jobs in order until none is left (q->mu held,
 * m->busy set; the lock is dropped around the I/O) */
static void msg_service(struct queue *q, struct qmsg *m)
{
	for (;;) {
		if (m->state == MS_ABORT) {
			pthread_mutex_unlock(&q->mu);
			msg_drop_file(q, m);
			pthread_mutex_lock(&q->mu);
			finish_locked(q, m);
			return;
		}
		if (m->pending.len > 0 &&
		    (m->pending.len >= FLUSH_AT || m->state == MS_COMMIT)) {
			buf_t t = m->pending;
			size_t n = t.len;

			m->pending = m->wbuf;
			m->wbuf = t;
			pthread_mutex_unlock(&q->mu);
			msg_write_io(q, m);
			if (m->wbuf.cap > WBUF_KEEP)
				buf_free(&m->wbuf);
			else
				buf_reset(&m->wbuf);
			pthread_mutex_lock(&q->mu);
			m->backlog -= n;
			drain_check_locked(q, m);
			continue;
		}
		if (m->state == MS_COMMIT) {
			int bad = m->bad;
			enum qstatus st;

			pthread_mutex_unlock(&q->mu);
			st = msg_commit_io(q, m, bad);
			pthread_mutex_lock(&q->mu);
			m->result = st;
			finish_locked(q, m);
			return;
		}
		m->busy = 0;
		return;
	}
}

/* disk_main - a disk worker: serve messages from the FIFO; at stop, leave
 * only when the FIFO is empty */
static void *disk_main(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct qmsg *m = q->jhead;

		if (!m) {
			if (q->disk_stop)
				break;
			pthread_cond_wait(&q->cond, &q->mu);
			continue;
		}
		q->jhead = m->jnext;
		if (!q->jhead)
			q->jtail = NULL;
		m->jnext = NULL;
		msg_service(q, m);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* ------------------------------------------------- receiving (loop) */

static void schedule_qid(struct queue *q, const char *qid);

/* msg_free - unlink m from the live list and free it */
static void msg_free(struct queue *q, struct qmsg *m)
{
	pthread_mutex_lock(&q->mu);
	if (m->lprev)
		m->lprev->lnext = m->lnext;
	else
		q->live = m->lnext;
	if (m->lnext)
		m->lnext->lprev = m->lprev;
	pthread_mutex_unlock(&q->mu);
	envelope_clear(&m->env);
	buf_free(&m->pending);
	buf_free(&m->wbuf);
	free(m);
}

/* msg_finish - report a finished commit and free m (loop thread) */
static void msg_finish(struct queue *q, struct qmsg *m)
{
	char from[LOG_ESC_SIZE];

	if (m->done && m->result == Q_OK) {
		log_escape(from, m->env.sender ? m->env.sender : "",
			   m->env.sender ? strlen(m->env.sender) : 0);
		log_info("queue qid=%s from=<%s> size=%llu nrcpt=%zu status=queued",
			 m->qid, from, m->nbytes, m->env.nrcpts);
		pthread_mutex_lock(&q->dmu);
		q->st.committed++;
		pthread_mutex_unlock(&q->dmu);
	} else if (m->done) {
		log_warn("queue qid=%s status=failed reason=\"%s\"", m->qid,
			 strerror(m->err ? m->err : EIO));
	}
	if (m->done)
		m->done(m->done_arg, m->result);
	if (m->done && m->result == Q_OK)
		schedule_qid(q, m->qid);
	msg_free(q, m);
}

/* on_disk_done - loop thread: finished messages and drain notices */
static void on_disk_done(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	int budget = COMPLETION_BUDGET;

	(void)fd;
	(void)what;
	for (;;) {
		struct qmsg *m;
		void (*cb)(void *) = NULL;
		void *cbarg = NULL;

		pthread_mutex_lock(&q->mu);
		m = q->chead;
		if (m && budget-- == 0 && !q->disk_stop) {
			/* the rest in a later round */
			event_active(q->ev_disk, EV_READ, 0);
			m = NULL;
		}
		if (!m) {
			pthread_mutex_unlock(&q->mu);
			return;
		}
		q->chead = m->cnext;
		if (!q->chead)
			q->ctail = NULL;
		m->in_clist = 0;
		if (m->state == MS_FINISHED) {
			pthread_mutex_unlock(&q->mu);
			msg_finish(q, m);
			continue;
		}
		if (m->drain_cb && m->backlog < BACKLOG_LOW) {
			cb = m->drain_cb;
			cbarg = m->drain_arg;
			m->drain_cb = NULL;
		}
		pthread_mutex_unlock(&q->mu);
		if (cb)
			cb(cbarg);	/* may use or consume m: don't touch it */
	}
}

/* queue_msg_begin - start receiving a message; takes over *env.  Failures
 * to encode are remembered and reported by the commit (Q_TEMP). */
struct qmsg *queue_msg_begin(struct queue *q, struct envelope *env)
{
	struct qmsg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->q = q;
	m->env = *env;
	envelope_init(env);
	m->fd = -1;
	buf_init(&m->pending);
	buf_init(&m->wbuf);
	m->state = MS_OPEN;
	if (!qid_ok(m->env.qid))
		m->bad = EINVAL;
	else if (qfile_encode_envelope(&m->env, &m->pending) < 0)
		m->bad = ENOMEM;
	if (m->bad) {
		buf_free(&m->pending);
		queue_make_qid(q, m->qid);	/* a harmless name for the log */
	} else {
		memcpy(m->qid, m->env.qid, sizeof(m->qid));
	}
	m->backlog = m->pending.len;
	pthread_mutex_lock(&q->mu);
	m->lnext = q->live;
	if (q->live)
		q->live->lprev = m;
	q->live = m;
	pthread_mutex_unlock(&q->mu);
	return m;
}

/* queue_msg_write - buffer message bytes; a worker writes them */
void queue_msg_write(struct qmsg *m, const void *p, size_t n)
{
	struct queue *q = m->q;

	if (n == 0)
		return;
	m->nbytes += n;
	pthread_mutex_lock(&q->mu);
	if (m->state == MS_OPEN && !m->bad) {
		if (buf_append(&m->pending, p, n) < 0)
			m->bad = ENOMEM;
		else
			m->backlog += n;
		if (!m->busy && m->pending.len >= FLUSH_AT)
			post_locked(q, m);
	}
	pthread_mutex_unlock(&q->mu);
}

/* queue_msg_backlog_high - more than 1 MiB is waiting for the disk */
int queue_msg_backlog_high(const struct qmsg *m)
{
	int high;

	pthread_mutex_lock(&m->q->mu);
	high = m->backlog > BACKLOG_HIGH;
	pthread_mutex_unlock(&m->q->mu);
	return high;
}

/* queue_msg_on_drain - register the drain callback (runs once, at once if
 * the backlog is already low) */
void queue_msg_on_drain(struct qmsg *m, void (*cb)(void *arg), void *arg)
{
	struct queue *q = m->q;

	pthread_mutex_lock(&q->mu);
	m->drain_cb = cb;
	m->drain_arg = arg;
	drain_check_locked(q, m);
	pthread_mutex_unlock(&q->mu);
}

/* queue_msg_commit - append the trailer and post the commit */
void queue_msg_commit(struct qmsg *m, void (*done)(void *arg, enum qstatus st),
		      void *arg)
{
	struct queue *q = m->q;
	char tr[QFILE_TRAILER_LEN + 1];

	qfile_trailer(m->nbytes, tr);
	pthread_mutex_lock(&q->mu);
	m->done = done;
	m->done_arg = arg;
	m->drain_cb = NULL;
	if (!m->bad && buf_append(&m->pending, tr, QFILE_TRAILER_LEN) < 0)
		m->bad = ENOMEM;
	else if (!m->bad)
		m->backlog += QFILE_TRAILER_LEN;
	m->state = MS_COMMIT;
	if (!m->busy)
		post_locked(q, m);
	pthread_mutex_unlock(&q->mu);
}

/* queue_msg_abort - drop the message; a file is removed by a worker */
void queue_msg_abort(struct qmsg *m)
{
	struct queue *q = m->q;
	int free_now = 0;

	pthread_mutex_lock(&q->mu);
	m->drain_cb = NULL;
	m->backlog -= m->pending.len;
	buf_reset(&m->pending);
	m->state = MS_ABORT;
	if (!m->started && !m->in_clist)
		free_now = 1;
	else if (!m->started)
		m->state = MS_FINISHED;	/* on_disk_done frees it */
	else if (!m->busy)
		post_locked(q, m);
	pthread_mutex_unlock(&q->mu);
	if (free_now)
		msg_free(q, m);
}

/* -------------------------------------------------------- delivery */

/* hash_slot - the bucket of a qid (FNV-1a) */
static struct dmsg **hash_slot(struct queue *q, const char *qid)
{
	uint32_t h = 2166136261u;

	for (; *qid; qid++)
		h = (h ^ (unsigned char)*qid) * 16777619u;
	return &q->hash[h % HASH_SIZE];
}

/* hash_find - the dmsg of qid or NULL */
static struct dmsg *hash_find(struct queue *q, const char *qid)
{
	struct dmsg *d;

	for (d = *hash_slot(q, qid); d; d = d->hnext)
		if (strcmp(d->qid, qid) == 0)
			return d;
	return NULL;
}

/* dmsg_remove - forget a message that left queue/ (loop thread) */
static void dmsg_remove(struct queue *q, struct dmsg *d)
{
	struct dmsg **pp;

	for (pp = hash_slot(q, d->qid); *pp; pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	}
	if (d->timer)
		event_free(d->timer);
	free(d);
	pthread_mutex_lock(&q->dmu);
	q->st.queued--;
	pthread_mutex_unlock(&q->dmu);
}

/* dmsg_run - put d on the run queue unless it is there or running */
static void dmsg_run(struct queue *q, struct dmsg *d)
{
	if (d->timer)
		evtimer_del(d->timer);
	pthread_mutex_lock(&q->dmu);
	if (d->state == D_IDLE || d->state == D_WAIT) {
		if (d->state == D_WAIT)
			q->st.waiting--;
		q->st.active++;
		d->state = D_RUNQ;
		d->rnext = NULL;
		if (q->rtail)
			q->rtail->rnext = d;
		else
			q->rhead = d;
		q->rtail = d;
		pthread_cond_signal(&q->dcond);
	}
	pthread_mutex_unlock(&q->dmu);
}

/* on_retry - a retry timer fired (loop thread) */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct dmsg *d = arg;

	(void)fd;
	(void)what;
	dmsg_run(d->q, d);
}

/* schedule_qid - track a message in queue/ and run it (loop thread) */
static void schedule_qid(struct queue *q, const char *qid)
{
	struct dmsg *d = hash_find(q, qid), **slot;

	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			log_err("queue qid=%s status=unscheduled reason=\"out of memory\"",
				qid);
			return;
		}
		d->q = q;
		snprintf(d->qid, sizeof(d->qid), "%s", qid);
		d->state = D_IDLE;
		slot = hash_slot(q, qid);
		d->hnext = *slot;
		*slot = d;
		pthread_mutex_lock(&q->dmu);
		q->st.queued++;
		pthread_mutex_unlock(&q->dmu);
	}
	dmsg_run(q, d);
}

/* mono_now - the default retry clock: CLOCK_MONOTONIC seconds */
static time_t mono_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* queue_set_clock - replace the retry clock (NULL: the default) */
void queue_set_clock(struct queue *q, time_t (*now)(void *arg), void *arg)
{
	q->now = now ? now : mono_now;
	q->now_arg = now ? arg : NULL;
}

/* dmsg_due_at - is d waiting for a retry that is due at time now? */
static int dmsg_due_at(struct queue *q, struct dmsg *d, time_t now)
{
	int wait;

	pthread_mutex_lock(&q->dmu);
	wait = d->state == D_WAIT;
	pthread_mutex_unlock(&q->dmu);
	return wait && d->due <= now;
}

/* queue_run_due - run every waiting message that is due by the clock */
unsigned queue_run_due(struct queue *q)
{
	time_t now = q->now(q->now_arg);
	struct dmsg *d;
	unsigned i, n = 0;

	for (i = 0; i < HASH_SIZE; i++) {
		for (d = q->hash[i]; d; d = d->hnext) {
			if (dmsg_due_at(q, d, now)) {
				dmsg_run(q, d);
				n++;
			}
		}
	}
	return n;
}

/* dmsg_defer - make d due after an exponential backoff and arm its retry
 * timer for the same time */
static void dmsg_defer(struct queue *q, struct dmsg *d)
{
	struct timeval tv;

	if (d->backoff == 0)
		d->backoff = q->retry_min;
	else if (d->backoff < q->retry_max / 2)
		d->backoff *= 2;
	else
		d->backoff = q->retry_max;
	d->due = q->now(q->now_arg) + (time_t)d->backoff;
	if (!d->timer)
		d->timer = evtimer_new(q->base, on_retry, d);
	if (!d->timer) {
		log_err("queue qid=%s status=unscheduled reason=\"out of memory\"",
			d->qid);
		return;
	}
	tv.tv_sec = (time_t)d->backoff;
	tv.tv_usec = 0;
	evtimer_add(d->timer, &tv);
}

/* on_deliver_done - loop thread: act on delivery results */
static void on_deliver_done(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	int budget = COMPLETION_BUDGET;

	(void)fd;
	(void)what;
	for (;;) {
		struct dmsg *d;
		enum dres res;

		pthread_mutex_lock(&q->dmu);
		d = q->reshead;
		if (d && budget-- == 0) {
			/* the rest in a later round */
			event_active(q->ev_deliver, EV_READ, 0);
			d = NULL;
		}
		if (d) {
			q->reshead = d->rnext;
			if (!q->reshead)
				q->restail = NULL;
			res = d->res;
			d->state = res == DR_TEMP ? D_WAIT : D_IDLE;
			q->st.active--;
			if (res == DR_TEMP)
				q->st.waiting++;
		}
		pthread_mutex_unlock(&q->dmu);
		if (!d)
			return;
		if (res == DR_DONE || res == DR_GONE)
			dmsg_remove(q, d);
		else if (res == DR_TEMP)
			dmsg_defer(q, d);
	}
}

/* struct dctx - one delivery attempt of one message (worker) */
struct dctx {
	struct queue *q;
	struct dmsg *d;
	struct envelope env;
	struct local_msg lm;
	int done_fd;		/* <qid>.done for appending, -1 until needed */
	int done_nl;		/* its last line is torn: start with "\n" */
	int temp;		/* a recipient must be retried */
	int relay;		/* a relay recipient is waiting */
};

/* load_done - read <qid>.done into the envelope's done flags */
static int load_done(struct dctx *c)
{
	char name[QID_MAX + 6];
	struct stat st;
	char *b;
	size_t n;
	int fd;

	done_name(c->d->qid, name);
	fd = openat(c->q->q_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	n = st.st_size > (off_t)DONE_MAX ? DONE_MAX : (size_t)st.st_size;
	b = malloc(n + 1);
	if (!b || pread_full(fd, b, n, 0) < 0) {
		free(b);
		close(fd);
		return -1;
	}
	qfile_decode_done(b, n, &c->env);
	c->done_nl = n > 0 && b[n - 1] != '\n';
	free(b);
	close(fd);
	return 0;
}

/* append_done - durably record recipient i as done: fdatasync, and the
 * first append of an attempt also fsyncs queue/ (the file may be new, or
 * made by an attempt whose directory fsync failed) */
static int append_done(struct dctx *c, size_t i)
{
	const int fl = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	char name[QID_MAX + 6], line[32];
	int first = 0, n;

	if (c->done_fd < 0) {
		done_name(c->d->qid, name);
		c->done_fd = openat(c->q->q_fd, name, fl, 0600);
		if (c->done_fd < 0)
			return -1;
		first = 1;
	}
	n = snprintf(line, sizeof(line), "%s%zu\n", c->done_nl ? "\n" : "", i);
	if (write_all(c->done_fd, line, (size_t)n) < 0 ||
	    fdatasync(c->done_fd) < 0 || (first && fsync(c->q->q_fd) < 0)) {
		close(c->done_fd);
		c->done_fd = -1;
		c->done_nl = 1;
		return -1;
	}
	c->done_nl = 0;
	return 0;
}

/* log_rcpt - one "deliver" log line */
static void log_rcpt(struct dctx *c, const struct env_rcpt *r, const char *relay,
		     const char *status, const char *why)
{
	char to[LOG_ESC_SIZE], w[LOG_ESC_SIZE];
	const char *a = r->addr ? r->addr : "";

	log_escape(to, a, strlen(a));
	if (why) {
		log_escape(w, why, strlen(why));
		log_info("deliver qid=%s to=<%s> relay=%s status=%s reason=\"%s\"",
			 c->d->qid, to, relay, status, w);
	} else {
		log_info("deliver qid=%s to=<%s> relay=%s status=%s", c->d->qid,
			 to, relay, status);
	}
}

/* count - bump a delivery counter */
static void count(struct queue *q, unsigned long long *ctr)
{
	pthread_mutex_lock(&q->dmu);
	(*ctr)++;
	pthread_mutex_unlock(&q->dmu);
}

/* deliver_rcpt - deliver recipient i locally and record the outcome;
 * returns -1 when the round must stop (the .done file failed) */
static int deliver_rcpt(struct dctx *c, size_t i)
{
	struct env_rcpt *r = &c->env.rcpts[i];
	char why[256] = "";
	enum dresult dr;

	dr = local_deliver(c->q->mail_fd, r->domain, r->mailbox,
			   r->addr ? r->addr : "", (unsigned)i, &c->lm,
			   c->q->hostname, why, sizeof(why));
	if (dr == DELIVER_TEMP) {
		log_rcpt(c, r, "local", "deferred", why);
		count(c->q, &c->q->st.deferred);
		c->temp = 1;
		return 0;
	}
	if (append_done(c, i) < 0) {
		log_err("queue qid=%s status=error reason=\"done file: %s\"",
			c->d->qid, strerror(errno));
		c->temp = 1;
		return -1;
	}
	r->done = 1;
	if (dr == DELIVER_OK) {
		log_rcpt(c, r, "local", "sent", NULL);
		count(c->q, &c->q->st.delivered);
	} else {
		log_rcpt(c, r, "local", "bounced", why);
		count(c->q, &c->q->st.failed);
	}
	return 0;
}

/* remove_message - every recipient is done: unlink the message, then its
 * .done file, then fsync queue/ */
static enum dres remove_message(struct dctx *c)
{
	char name[QID_MAX + 6];

	if (unlinkat(c->q->q_fd, c->d->qid, 0) < 0 && errno != ENOENT) {
		log_err("queue qid=%s status=error reason=\"unlink: %s\"",
			c->d->qid, strerror(errno));
		return DR_TEMP;
	}
	done_name(c->d->qid, name);
	unlinkat(c->q->q_fd, name, 0);
	fsync(c->q->q_fd);
	log_info("queue qid=%s status=removed", c->d->qid);
	return DR_DONE;
}

/* deliver_rcpts - try every recipient not done yet */
static void deliver_rcpts(struct dctx *c)
{
	size_t i;

	for (i = 0; i < c->env.nrcpts; i++) {
		struct env_rcpt *r = &c->env.rcpts[i];

		if (r->done)
			continue;
		if (r->kind == RCPT_RELAY) {
			if (!c->d->relay_logged) {
				log_rcpt(c, r, "none", "deferred",
					 "remote delivery not implemented");
				count(c->q, &c->q->st.deferred);
			}
			c->relay = 1;
			continue;
		}
		if (deliver_rcpt(c, i) < 0)
			break;
	}
	if (c->relay)
		c->d->relay_logged = 1;
}

/* deliver_open - open and validate queue/<qid>, read its .done file;
 * 0 when ready, else -1 with *res saying what to do with the message */
static int deliver_open(struct dctx *c, int *fd, enum dres *res)
{
	const char *why = "";
	off_t off, len;
	int r;

	*fd = openat(c->q->q_fd, c->d->qid, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0 && errno == ENOENT) {
		*res = DR_GONE;
		return -1;
	}
	r = *fd < 0 ? -2 : load_message(*fd, c->d->qid, &c->env, &off, &len, &why);
	if (r == -1) {
		log_err("queue qid=%s status=error reason=\"damaged queue file: %s\"",
			c->d->qid, why);
		*res = DR_STUCK;	/* quarantined at the next start */
		return -1;
	}
	if (r == 0 && load_done(c) < 0)
		r = -2;
	if (r < 0) {
		log_err("queue qid=%s status=deferred reason=\"read queue file: %s\"",
			c->d->qid, strerror(errno));
		*res = DR_TEMP;
		return -1;
	}
	c->lm.fd = *fd;
	c->lm.offset = off;
	c->lm.length = len;
	c->lm.qid = c->d->qid;
	c->lm.arrival = c->env.arrival;
	c->lm.sender = c->env.sender ? c->env.sender : "";
	return 0;
}

/* deliver_one - one delivery attempt of one message (worker) */
static enum dres deliver_one(struct queue *q, struct dmsg *d)
{
	struct dctx c;
	enum dres res;
	size_t i;
	int fd = -1;

	memset(&c, 0, sizeof(c));
	c.q = q;
	c.d = d;
	c.done_fd = -1;
	envelope_init(&c.env);
	if (deliver_open(&c, &fd, &res) == 0) {
		deliver_rcpts(&c);
		for (i = 0; i < c.env.nrcpts && c.env.rcpts[i].done; i++)
			;
		if (i == c.env.nrcpts)
			res = remove_message(&c);
		else
			res = c.temp ? DR_TEMP : DR_STUCK;
	}
	if (c.done_fd >= 0)
		close(c.done_fd);
	if (fd >= 0)
		close(fd);
	envelope_clear(&c.env);
	return res;
}

/* deliver_main - a delivery worker */
static void *deliver_main(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->dmu);
	for (;;) {
		struct dmsg *d = q->rhead;

		if (q->deliver_stop)
			break;
		if (!d) {
			pthread_cond_wait(&q->dcond, &q->dmu);
			continue;
		}
		q->rhead = d->rnext;
		if (!q->rhead)
			q->rtail = NULL;
		d->state = D_RUNNING;
		pthread_mutex_unlock(&q->dmu);
		d->res = deliver_one(q, d);
		pthread_mutex_lock(&q->dmu);
		d->rnext = NULL;
		if (q->restail)
			q->restail->rnext = d;
		else
			q->reshead = d;
		q->restail = d;
		event_active(q->ev_deliver, EV_READ, 0);
	}
	pthread_mutex_unlock(&q->dmu);
	return NULL;
}

/* -------------------------------------------------------- recovery */

/* open_spool_dir - create (0700) and open a spool subdirectory */
static int open_spool_dir(int spool_fd, const char *name)
{
	int fd;

	if (mkdirat(spool_fd, name, 0700) == 0)
		fsync(spool_fd);
	else if (errno != EEXIST)
		goto fail;
	fd = openat(spool_fd, name, DIR_FLAGS);
	if (fd >= 0)
		return fd;
fail:
	log_err("queue dir=%s status=error reason=\"%s\"", name, strerror(errno));
	return -1;
}

/* cmp_name - qsort comparator for an array of strings */
static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* free_names - free what list_dir returned */
static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* list_dir - the sorted names in directory dfd; -1 on any error (a partial
 * list could make recovery remove a live .done file) */
static int list_dir(int dfd, char ***names, size_t *n)
{
	int fd = openat(dfd, ".", DIR_FLAGS);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t cap = 0, k = 0;
	char **v = NULL, **nv;
	int rc = 0;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[k] = strdup(de->d_name);
		if (!v[k])
			break;
		k++;
	}
	if (de != NULL || errno != 0)
		rc = -1;
	closedir(dir);
	if (rc < 0) {
		free_names(v, k);
		return -1;
	}
	if (k > 0)
		qsort(v, k, sizeof(*v), cmp_name);
	*names = v;
	*n = k;
	return 0;
}

/* clean_incoming - remove every incomplete message from incoming/ */
static void clean_incoming(struct queue *q)
{
	char esc[LOG_ESC_SIZE], **v;
	size_t n, i;

	if (list_dir(q->in_fd, &v, &n) < 0) {
		log_err("queue dir=incoming status=error reason=\"%s\"",
			strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		log_escape(esc, v[i], strlen(v[i]));
		if (unlinkat(q->in_fd, v[i], 0) < 0)
			log_warn("queue file=incoming/%s status=error reason=\"%s\"",
				 esc, strerror(errno));
		else
			log_info("queue qid=%s status=removed reason=\"incomplete\"",
				 esc);
	}
	free_names(v, n);
}

/* quarantine - move queue/<name> and its .done into corrupt/ */
static int quarantine(struct queue *q, const char *name, const char *why)
{
	char esc[LOG_ESC_SIZE], dn[NAME_MAX + 1];
	int r;

	log_escape(esc, name, strlen(name));
	if (renameat(q->q_fd, name, q->bad_fd, name) < 0) {
		log_err("queue qid=%s status=corrupt reason=\"%s\" error=\"move: %s\"",
			esc, why, strerror(errno));
		return -1;
	}
	r = snprintf(dn, sizeof(dn), "%s.done", name);
	if (r > 0 && (size_t)r < sizeof(dn))
		renameat(q->q_fd, dn, q->bad_fd, dn);
	log_warn("queue qid=%s status=corrupt reason=\"%s\" moved=corrupt/", esc,
		 why);
	return 0;
}

/* check_queued - validate queue/<name>: 0 valid, -1 damaged, -2 I/O error */
static int check_queued(struct queue *q, const char *name, const char **why)
{
	struct envelope env;
	off_t off, len;
	int fd, r;

	*why = "bad queue id";
	if (!qid_ok(name))
		return -1;
	fd = openat(q->q_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = errno == ELOOP ? -1 : -2;
		*why = r == -1 ? "symbolic link" : strerror(errno);
		return r;
	}
	envelope_init(&env);
	r = load_message(fd, name, &env, &off, &len, why);
	if (r == -2)
		*why = strerror(errno);
	envelope_clear(&env);
	close(fd);
	return r;
}

/* is_done_name - does s end in ".done"? */
static int is_done_name(const char *s)
{
	size_t n = strlen(s);

	return n > 5 && strcmp(s + n - 5, ".done") == 0;
}

/* remove_stale_done - drop .done files whose message is gone */
static size_t remove_stale_done(struct queue *q, char **v, size_t n)
{
	char base[NAME_MAX + 1], esc[LOG_ESC_SIZE];
	size_t i, removed = 0;

	for (i = 0; i < n; i++) {
		size_t bl = strlen(v[i]) - 5;

		if (!is_done_name(v[i]) || bl >= sizeof(base))
			continue;
		memcpy(base, v[i], bl);
		base[bl] = '\0';
		if (hash_find(q, base) || unlinkat(q->q_fd, v[i], 0) < 0)
			continue;
		log_escape(esc, base, bl);
		log_info("queue qid=%s status=removed reason=\"stale done file\"", esc);
		removed++;
	}
	return removed;
}

/* recover_queue - validate queue/: quarantine damaged files, schedule the
 * rest, remove stale .done files */
static int recover_queue(struct queue *q)
{
	char **v, esc[LOG_ESC_SIZE];
	size_t n, i, moved = 0, ok = 0;
	const char *why;
	int r;

	if (list_dir(q->q_fd, &v, &n) < 0) {
		log_err("queue dir=queue status=error reason=\"%s\"", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (is_done_name(v[i]))
			continue;
		r = check_queued(q, v[i], &why);
		if (r == -1) {
			moved += quarantine(q, v[i], why) == 0;
			continue;
		}
		if (r == -2) {
			log_escape(esc, v[i], strlen(v[i]));
			log_err("queue qid=%s status=error reason=\"%s\"", esc, why);
		}
		qid_clock_see(q, v[i]);
		schedule_qid(q, v[i]);
		ok++;
	}
	if (remove_stale_done(q, v, n) > 0 || moved > 0)
		fsync(q->q_fd);
	if (moved > 0)
		fsync(q->bad_fd);
	free_names(v, n);
	log_info("queue status=recovered queued=%zu corrupt=%zu", ok, moved);
	return 0;
}

/* ----------------------------------------------------- life cycle */

/* start_threads - start the disk and delivery workers */
static int start_threads(struct queue *q)
{
	int e;

	for (; q->ndisk_run < q->ndisk; q->ndisk_run++) {
		e = pthread_create(&q->disk[q->ndisk_run], NULL, disk_main, q);
		if (e != 0)
			goto fail;
	}
	for (; q->ndeliver_run < q->ndeliver; q->ndeliver_run++) {
		e = pthread_create(&q->dthr[q->ndeliver_run], NULL,
				   deliver_main, q);
		if (e != 0)
			goto fail;
	}
	return 0;
fail:
	log_err("queue status=error reason=\"pthread_create: %s\"", strerror(e));
	return -1;
}

/* queue_init - allocate q and everything that cannot touch the disk */
static struct queue *queue_init(struct event_base *base,
				const struct queue_opts *o)
{
	struct queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->base = base;
	q->spool_fd = o->spool_fd;
	q->mail_fd = o->mail_fd;
	q->in_fd = q->q_fd = q->bad_fd = -1;
	q->ndisk = o->disk_threads ? o->disk_threads : 4;
	q->ndeliver = o->deliver_threads ? o->deliver_threads : 2;
	q->now = mono_now;
	q->retry_min = o->retry_min ? o->retry_min : 60;
	q->retry_max = o->retry_max ? o->retry_max : 3600;
	if (q->retry_max < q->retry_min)
		q->retry_max = q->retry_min;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_mutex_init(&q->dmu, NULL);
	pthread_cond_init(&q->dcond, NULL);
	pthread_mutex_init(&q->qid_mu, NULL);
	q->hostname = strdup(o->hostname && *o->hostname ? o->hostname
							     : "localhost");
	q->disk = calloc(q->ndisk, sizeof(*q->disk));
	q->dthr = calloc(q->ndeliver, sizeof(*q->dthr));
	q->ev_disk = event_new(base, -1, 0, on_disk_done, q);
	q->ev_deliver = event_new(base, -1, 0, on_deliver_done, q);
	if (!q->hostname || !q->disk || !q->dthr || !q->ev_disk || !q->ev_deliver) {
		queue_free(q);
		return NULL;
	}
	return q;
}

/* queue_new - set up the spool, recover it and start the workers */
struct queue *queue_new(struct event_base *base, const struct queue_opts *o)
{
	struct queue *q = queue_init(base, o);

	if (!q)
		return NULL;
	q->in_fd = open_spool_dir(q->spool_fd, "incoming");
	q->q_fd = open_spool_dir(q->spool_fd, "queue");
	q->bad_fd = open_spool_dir(q->spool_fd, "corrupt");
	if (q->in_fd < 0 || q->q_fd < 0 || q->bad_fd < 0)
		goto fail;
	clean_incoming(q);
	if (recover_queue(q) < 0 || start_threads(q) < 0)
		goto fail;
	return q;
fail:
	queue_free(q);
	return NULL;
}

/* stop_disk - let the disk workers finish every job, join them, run the
 * commit callbacks and drop messages nobody committed or aborted */
static void stop_disk(struct queue *q)
{
	unsigned i;

	pthread_mutex_lock(&q->mu);
	q->disk_stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->ndisk_run; i++)
		pthread_join(q->disk[i], NULL);
	if (q->ev_disk)
		on_disk_done(-1, 0, q);
	while (q->live) {
		struct qmsg *m = q->live;

		log_warn("queue qid=%s status=dropped reason=\"open at shutdown\"",
			 m->qid);
		msg_drop_file(q, m);
		msg_free(q, m);
	}
}

/* stop_delivery - let each delivery worker finish its message and join
 * them */
static void stop_delivery(struct queue *q)
{
	unsigned i;

	pthread_mutex_lock(&q->dmu);
	q->deliver_stop = 1;
	pthread_cond_broadcast(&q->dcond);
	pthread_mutex_unlock(&q->dmu);
	for (i = 0; i < q->ndeliver_run; i++)
		pthread_join(q->dthr[i], NULL);
}

/* free_schedule - free every dmsg and its timer */
static void free_schedule(struct queue *q)
{
	unsigned i;

	for (i = 0; i < HASH_SIZE; i++) {
		while (q->hash[i]) {
			struct dmsg *d = q->hash[i];

			q->hash[i] = d->hnext;
			if (d->timer)
				event_free(d->timer);
			free(d);
		}
	}
}

/* queue_free - finish in-flight jobs, join the threads, free everything */
void queue_free(struct queue *q)
{
	if (!q)
		return;
	stop_delivery(q);	/* first: no delivery starts during shutdown */
	stop_disk(q);
	free_schedule(q);
	if (q->ev_disk)
		event_free(q->ev_disk);
	if (q->ev_deliver)
		event_free(q->ev_deliver);
	if (q->in_fd >= 0)
		close(q->in_fd);
	if (q->q_fd >= 0)
		close(q->q_fd);
	if (q->bad_fd >= 0)
		close(q->bad_fd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->dmu);
	pthread_cond_destroy(&q->dcond);
	pthread_mutex_destroy(&q->qid_mu);
	free(q->disk);
	free(q->dthr);
	free(q->hostname);
	free(q);
}

/* queue_get_stats - a snapshot of the counters */
void queue_get_stats(struct queue *q, struct queue_stats *st)
{
	pthread_mutex_lock(&q->dmu);
	*st = q->st;
	pthread_mutex_unlock(&q->dmu);
}

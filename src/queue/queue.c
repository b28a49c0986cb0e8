/* queue - the durable queue's storage: spooling messages as they arrive,
 * commit, crash recovery, and the file operations of the delivery side
 * (store.h); the scheduler (sched.c) decides what is delivered when.
 *
 * Public: queue_new, queue_free, queue_make_qid, queue_space_ok,
 * queue_msg_begin, queue_msg_write, queue_msg_backlog_high,
 * queue_msg_on_drain, queue_msg_commit, queue_msg_abort, queue_get_stats,
 * queue_set_clock, queue_run_due, queue_flush, queue_hold, queue_remove,
 * queue_list_json, queue_show_json;
 * store_* (store.h, within src/queue).
 *
 * Threads.  The loop thread (the one running the event_base) only buffers
 * bytes and posts work: after queue_new it never touches the disk (but for
 * the statvfs of queue_space_ok).
 * - a message being received is posted to the shared worker pool when it
 *   has work (>= 64 KiB pending, a commit or an abort); it is queued there
 *   or in a worker's hands at most once at a time (qmsg.busy), so its jobs
 *   (write the envelope and data, commit or abort) run in order, and the
 *   worker serving it keeps going while there is more.
 * - the store_* functions run on the same pool, called by the scheduler.
 * Results come back to the loop thread through an event made active by the
 * workers; every callback and timer runs on the loop thread.
 * Locks: q->mu guards the completion list and the shared
 * fields of every qmsg; q->qid_mu the qid clock; q->st_mu the counter;
 * q->sync_mu the group commit of queue/ (never held with another).
 * Lock order: q->mu, then the pool's lock (workpool_post) or libevent's
 * base lock (event_active).
 *
 * Durability (docs: DESIGN.md "Durability contract"): Q_OK is reported only
 * after fsync(file), renameat(incoming/ -> queue/) and fsync(queue/); any
 * failure removes the file and is never retried into Q_OK.  A recipient's
 * outcome is recorded in <qid>.done (fdatasync) only after its agent
 * reported it, and the message is unlinked before its .done file.
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

#include "queue/qfile.h"
#include "queue/sched.h"
#include "queue/store.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/work.h"

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
	struct work_item job;		/* its turn on the worker pool */
	struct qmsg *cnext, *lprev, *lnext;
};

struct queue {
	struct event_base *base;
	int spool_fd, mail_fd;		/* the caller's */
	int in_fd, q_fd, bad_fd;	/* ours */
	char *hostname;
	struct sched *sched;		/* loop thread */

	struct workpool *pool;		/* the shared one: receiving and delivery */
	pthread_mutex_t mu;
	pthread_cond_t cond;		/* a message stopped being busy */
	struct qmsg *chead, *ctail;	/* completions for the loop thread */
	struct qmsg *live;		/* every message not yet freed */
	int disk_stop;
	struct event *ev_disk;

	pthread_mutex_t st_mu;
	unsigned long long committed;	/* q->st_mu */

	/* group commit of queue/ (dir_sync), all under sync_mu */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cond;
	unsigned long long sync_req;	/* directory changes waiting for a sync */
	unsigned long long sync_done;	/* covered by a finished sync */
	int syncing;			/* a thread is in fsync(queue/) */
	int sync_err;			/* a sync failed: sticky (errno) */

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

static void disk_job(void *arg);

/* post_locked - give m its turn on the worker pool (q->mu held, m not
 * busy); the pool never refuses an item that lives in the message */
static void post_locked(struct queue *q, struct qmsg *m)
{
	m->busy = 1;
	m->started = 1;
	m->job.work = disk_job;
	m->job.done = NULL;
	m->job.arg = m;
	workpool_post(q->pool, &m->job);
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

/* dir_sync - make a rename or unlink in queue/ done before the call
 * durable: fsync(queue/), shared by every caller waiting at the time
 * (group commit: while one thread syncs, the changes made meanwhile wait
 * and the next single sync covers them all).  A failed sync is sticky:
 * nothing later is reported durable (a directory that cannot be synced
 * is no place to acknowledge mail in). */
static int dir_sync(struct queue *q)
{
	unsigned long long mine, target;
	int rc;

	pthread_mutex_lock(&q->sync_mu);
	mine = ++q->sync_req;
	while (q->sync_done < mine && !q->sync_err) {
		if (q->syncing) {
			pthread_cond_wait(&q->sync_cond, &q->sync_mu);
			continue;
		}
		q->syncing = 1;
		target = q->sync_req;	/* every change made up to now */
		pthread_mutex_unlock(&q->sync_mu);
		rc = fsync(q->q_fd) < 0 ? errno : 0;
		pthread_mutex_lock(&q->sync_mu);
		q->syncing = 0;
		if (rc) {
			q->sync_err = rc;
			log_err("queue dir=queue status=error reason=\"fsync: %s\"", strerror(rc));
		} else {
			q->sync_done = target;
		}
		pthread_cond_broadcast(&q->sync_cond);
	}
	rc = q->sync_done >= mine ? 0 : q->sync_err;
	pthread_mutex_unlock(&q->sync_mu);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
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
	if (dir_sync(q) < 0) {
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

/* disk_job - a worker serves m: its jobs in order, while there are any
 * (m is busy: nobody else serves it meanwhile).  m is not touched after
 * the lock is dropped: the loop may free a finished message then. */
static void disk_job(void *arg)
{
	struct qmsg *m = arg;
	struct queue *q = m->q;

	pthread_mutex_lock(&q->mu);
	msg_service(q, m);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

/* ------------------------------------------------- receiving (loop) */

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
		pthread_mutex_lock(&q->st_mu);
		q->committed++;
		pthread_mutex_unlock(&q->st_mu);
	} else if (m->done) {
		log_warn("queue qid=%s status=failed reason=\"%s\"", m->qid,
			 strerror(m->err ? m->err : EIO));
	}
	if (m->done)
		m->done(m->done_arg, m->result);
	if (m->done && m->result == Q_OK)
		sched_add(q->sched, m->qid);
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

/* ------------------------------------------------------ store (workers) */

/* store_open - open and validate queue/<qid>, apply its status file */
enum store_rc store_open(struct queue *q, const char *qid, struct envelope *env, int *fd,
			 off_t *off, off_t *len, const char **why)
{
	char name[QID_MAX + 6];
	struct stat st;
	char *b;
	size_t n;
	int dfd, r;

	*why = "";
	*fd = openat(q->q_fd, qid, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? STORE_GONE : STORE_IO;
	r = load_message(*fd, qid, env, off, len, why);
	if (r == 0) {
		done_name(qid, name);
		dfd = openat(q->q_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0 && errno != ENOENT)
			r = -2;
		if (dfd >= 0) {
			if (fstat(dfd, &st) < 0) {
				r = -2;
			} else {
				n = st.st_size > (off_t)DONE_MAX ? DONE_MAX : (size_t)st.st_size;
				b = malloc(n + 1);
				if (!b || pread_full(dfd, b, n, 0) < 0)
					r = -2;
				else
					qfile_decode_done(b, n, env);
				free(b);
			}
			close(dfd);
		}
	}
	if (r == 0)
		return STORE_OK;
	if (r == -2 && !**why)
		*why = strerror(errno ? errno : EIO);
	close(*fd);
	*fd = -1;
	envelope_clear(env);
	return r == -1 ? STORE_DAMAGED : STORE_IO;
}

/* store_append - O_APPEND the records, fdatasync; a new file also fsyncs
 * queue/ (so its name survives a crash) */
int store_append(struct queue *q, const char *qid, const buf_t *records)
{
	char name[QID_MAX + 6];
	int fd, created = 0, rc = 0;

	done_name(qid, name);
	fd = openat(q->q_fd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(q->q_fd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC |
			    O_NOFOLLOW, 0600);
		created = fd >= 0;
	}
	if (fd < 0)
		return -1;
	if (write_all(fd, records->data, records->len) < 0 || fdatasync(fd) < 0 ||
	    (created && dir_sync(q) < 0))
		rc = -1;
	close(fd);
	return rc;
}

/* store_remove - unlink the message, then its status file, fsync queue/ */
int store_remove(struct queue *q, const char *qid)
{
	char name[QID_MAX + 6];

	if (unlinkat(q->q_fd, qid, 0) < 0 && errno != ENOENT)
		return -1;
	done_name(qid, name);
	unlinkat(q->q_fd, name, 0);
	return dir_sync(q);
}

/* store_add - write a whole message as a commit does */
int store_add(struct queue *q, struct envelope *env, const void *msg, size_t len)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
	char tr[QFILE_TRAILER_LEN + 1];
	buf_t b;
	int fd, rc = -1;

	queue_make_qid(q, env->qid);
	buf_init(&b);
	if (qfile_encode_envelope(env, &b) < 0) {
		buf_free(&b);
		return -1;
	}
	qfile_trailer(len, tr);
	fd = openat(q->in_fd, env->qid, fl, 0600);
	if (fd >= 0 && write_all(fd, b.data, b.len) == 0 && write_all(fd, msg, len) == 0 &&
	    write_all(fd, tr, QFILE_TRAILER_LEN) == 0 && fsync(fd) == 0)
		rc = 0;
	if (fd >= 0 && close(fd) < 0)
		rc = -1;
	if (rc == 0 && (rename_noreplace(q->in_fd, env->qid, q->q_fd, env->qid) < 0 ||
			dir_sync(q) < 0))
		rc = -1;
	if (rc < 0 && fd >= 0) {
		unlinkat(q->in_fd, env->qid, 0);
		unlinkat(q->q_fd, env->qid, 0);
	}
	buf_free(&b);
	return rc;
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
		if (sched_has(q->sched, base) || unlinkat(q->q_fd, v[i], 0) < 0)
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
		sched_add(q->sched, v[i]);
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
	q->pool = o->pool;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_mutex_init(&q->st_mu, NULL);
	pthread_mutex_init(&q->sync_mu, NULL);
	pthread_cond_init(&q->sync_cond, NULL);
	pthread_mutex_init(&q->qid_mu, NULL);
	q->hostname = strdup(o->hostname && *o->hostname ? o->hostname
							     : "localhost");
	q->ev_disk = event_new(base, -1, 0, on_disk_done, q);
	q->sched = o->pool && o->local ? sched_new(q, base, o) : NULL;
	if (!q->hostname || !q->ev_disk || !q->sched) {
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
	if (recover_queue(q) < 0)
		goto fail;
	return q;
fail:
	queue_free(q);
	return NULL;
}

/* any_busy - is a message in a worker's hands (q->mu held)? */
static int any_busy(const struct queue *q)
{
	const struct qmsg *m;

	for (m = q->live; m; m = m->lnext)
		if (m->busy)
			return 1;
	return 0;
}

/* stop_disk - let the workers finish every message's jobs, run the commit
 * callbacks and drop messages nobody committed or aborted */
static void stop_disk(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->disk_stop = 1;
	while (any_busy(q))
		pthread_cond_wait(&q->cond, &q->mu);
	pthread_mutex_unlock(&q->mu);
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

/* stop_delivery - start no attempt; let the running ones finish (their
 * agents were told to stop: the loop runs until they report) */
static void stop_delivery(struct queue *q)
{
	if (!q->sched)
		return;
	sched_stop(q->sched);
	while (sched_running(q->sched) > 0)
		event_base_loop(q->base, EVLOOP_ONCE);
}

/* queue_free - finish in-flight jobs, join the threads, free everything */
void queue_free(struct queue *q)
{
	if (!q)
		return;
	stop_delivery(q);	/* first: no delivery starts during shutdown */
	stop_disk(q);
	sched_free(q->sched);
	if (q->ev_disk)
		event_free(q->ev_disk);
	if (q->in_fd >= 0)
		close(q->in_fd);
	if (q->q_fd >= 0)
		close(q->q_fd);
	if (q->bad_fd >= 0)
		close(q->bad_fd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->st_mu);
	pthread_mutex_destroy(&q->sync_mu);
	pthread_cond_destroy(&q->sync_cond);
	pthread_mutex_destroy(&q->qid_mu);
	free(q->hostname);
	free(q);
}

/* queue_get_stats - a snapshot of the counters */
void queue_get_stats(struct queue *q, struct queue_stats *st)
{
	sched_stats(q->sched, st);
	pthread_mutex_lock(&q->st_mu);
	st->committed = q->committed;
	pthread_mutex_unlock(&q->st_mu);
}

/* queue_set_clock - the scheduler's clock */
void queue_set_clock(struct queue *q, time_t (*now)(void *arg), void *arg)
{
	sched_set_clock(q->sched, now, arg);
}

/* queue_run_due - run what is due by the clock */
unsigned queue_run_due(struct queue *q)
{
	return sched_run_due(q->sched);
}

/* queue_flush - make messages due now */
unsigned queue_flush(struct queue *q, const char *qid, const char *domain)
{
	return sched_flush(q->sched, qid, domain);
}

/* queue_hold - hold or release a message */
int queue_hold(struct queue *q, const char *qid, int hold)
{
	return sched_hold(q->sched, qid, hold);
}

/* queue_remove - delete a message */
int queue_remove(struct queue *q, const char *qid)
{
	return sched_remove(q->sched, qid);
}

/* store_list - the qids in queue/ (worker) */
int store_list(struct queue *q, char ***qids, size_t *n)
{
	char **v;
	size_t k, i, o = 0;

	if (list_dir(q->q_fd, &v, &k) < 0)
		return -1;
	for (i = 0; i < k; i++) {
		if (is_done_name(v[i]) || !qid_ok(v[i]))
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*qids = v;
	*n = o;
	return 0;
}

/* rcpt_state - a recipient's state word */
static const char *rcpt_state(const struct env_rcpt *r)
{
	if (r->done)
		return r->last.cls == DS_PERM ? "failed" : "sent";
	return r->attempts ? "deferred" : "pending";
}

/* json_message - one message's JSON object (envelope and state) */
static int json_message(const struct envelope *e, off_t len, buf_t *out)
{
	size_t i;
	int rc = 0;

	rc |= buf_printf(out, "{\"id\":");
	rc |= json_cstr(out, e->qid);
	rc |= buf_printf(out, ",\"arrival\":%lld,\"size\":%lld,\"sender\":", e->arrival,
			 (long long)len);
	rc |= json_cstr(out, e->sender ? e->sender : "");
	rc |= buf_printf(out, ",\"held\":%s,\"client\":", e->hold ? "true" : "false");
	rc |= json_cstr(out, e->client_addr);
	rc |= buf_puts(out, ",\"recipients\":[");
	for (i = 0; i < e->nrcpts; i++) {
		const struct env_rcpt *r = &e->rcpts[i];

		rc |= buf_puts(out, i ? ",{\"address\":" : "{\"address\":");
		rc |= json_cstr(out, r->addr);
		rc |= buf_printf(out, ",\"transport\":\"%s\",\"state\":\"%s\",\"attempts\":%u,"
				 "\"next_attempt\":%lld", r->kind == RCPT_LOCAL ? "local" : "smtp",
				 rcpt_state(r), r->attempts, r->done ? 0 : r->next_try);
		if (r->last.code || r->last.text[0]) {
			rc |= buf_printf(out, ",\"code\":%d,\"status\":", r->last.code);
			rc |= json_cstr(out, r->last.enh);
			rc |= buf_puts(out, ",\"remote\":");
			rc |= json_cstr(out, r->last.remote);
			rc |= buf_puts(out, ",\"reason\":");
			rc |= json_cstr(out, r->last.text);
		}
		rc |= buf_putc(out, '}');
	}
	rc |= buf_puts(out, "]}");
	return rc ? -1 : 0;
}

/* queue_list_json - every queued message (worker) */
int queue_list_json(struct queue *q, buf_t *out)
{
	char **v;
	size_t n, i, k = 0;
	int rc = 0;

	if (store_list(q, &v, &n) < 0)
		return -1;
	rc |= buf_putc(out, '[');
	for (i = 0; i < n && rc == 0; i++) {
		struct envelope e;
		const char *why;
		off_t off, len;
		int fd;

		envelope_init(&e);
		if (store_open(q, v[i], &e, &fd, &off, &len, &why) != STORE_OK)
			continue;	/* gone since, or damaged: not listed */
		close(fd);
		if (k++)
			rc |= buf_putc(out, ',');
		rc |= json_message(&e, len, out);
		envelope_clear(&e);
	}
	rc |= buf_putc(out, ']');
	store_list_free(v, n);
	return rc ? -1 : 0;
}

/* queue_show_json - one message, its bytes up to max (worker) */
int queue_show_json(struct queue *q, const char *qid, size_t max, buf_t *out)
{
	struct envelope e;
	const char *why;
	off_t off, len;
	size_t want, got = 0;
	char *b;
	int fd, rc;

	if (!qid_ok(qid))
		return -1;
	envelope_init(&e);
	if (store_open(q, qid, &e, &fd, &off, &len, &why) != STORE_OK)
		return -1;
	want = (off_t)max < len ? max : (size_t)len;
	b = malloc(want + 1);
	if (b)
		got = pread_full(fd, b, want, off) == 0 ? want : 0;
	close(fd);
	rc = json_message(&e, len, out);
	if (rc == 0) {
		out->len--;	/* reopen the object */
		rc |= buf_puts(out, ",\"message\":");
		rc |= json_str(out, b ? b : "", got);
		rc |= buf_printf(out, ",\"truncated\":%s}", (off_t)got < len ? "true" : "false");
	}
	free(b);
	envelope_clear(&e);
	return rc ? -1 : 0;
}

/* store_list_free - free what store_list returned */
void store_list_free(char **qids, size_t n)
{
	free_names(qids, n);
}

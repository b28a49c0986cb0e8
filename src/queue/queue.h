/* queue - the durable message queue: receiving into the spool, commit,
 * crash recovery (queue.c: the storage), and the delivery scheduler
 * (sched.c) that hands recipients to the agents (deliver/agent.h: local
 * Maildir, remote SMTP) and turns their outcomes into status records,
 * retries and delivery status notifications.
 *
 * Spool layout (all below one directory, opened once as a dirfd):
 *   incoming/<qid>       a message being received (removed at start-up)
 *   queue/<qid>          a committed message (qfile format)
 *   queue/<qid>.done     its status records (qfile.h), append-only
 *   corrupt/<qid>        files found damaged at start-up
 * Durability: the commit callback reports Q_OK only after the file data is
 * fsynced, the file renamed into queue/ and queue/ itself fsynced.
 * Threads: every disk operation runs on a worker thread; all callbacks run
 * on the event loop thread of the base given to queue_new.  Jobs of one
 * message run in order.  The queue requires evthread_use_pthreads().
 */
#ifndef MAILPORT_QUEUE_QUEUE_H
#define MAILPORT_QUEUE_QUEUE_H

#include <stddef.h>
#include <time.h>
#include "queue/envelope.h"
#include "util/buf.h"

struct agent;
struct event_base;
struct queue;
struct qmsg;
struct workpool;

enum qstatus {
	Q_OK = 0,
	Q_TEMP,		/* local error: 451 4.3.0 */
	Q_NOSPACE,	/* ENOSPC/EDQUOT: 452 4.3.1 */
};

/* route - classify an address the queue itself sends to (a DSN's
 * recipient): fill r->kind, r->domain and r->mailbox (RCPT_LOCAL) as the
 * server's policy would; 0, or -1 when it cannot be delivered */
typedef int (*queue_route_fn)(void *arg, const char *addr, struct env_rcpt *r);

struct queue_opts {
	int spool_fd;		/* directory fd of the spool root (kept open) */
	int mail_fd;		/* directory fd of the Maildir root (kept open) */
	const char *hostname;	/* for Maildir file names and DSNs */
	struct workpool *pool;	/* all disk work: receiving, delivery (required) */
	struct agent *local;	/* RCPT_LOCAL recipients (required) */
	struct agent *remote;	/* RCPT_RELAY recipients; NULL: they wait */
	const char *smarthost;	/* the next hop of every remote recipient, or
				 * NULL: per domain */
	unsigned retry_min;	/* seconds before the first retry, 0: 300 */
	unsigned retry_max;	/* backoff ceiling, 0: 4 h */
	unsigned max_lifetime;	/* then bounce 4.4.7, 0: 5 days */
	unsigned delay_warning;	/* NOTIFY=DELAY notice after, 0: 4 h */
	queue_route_fn route;	/* for DSN recipients; NULL: all remote */
	void *route_arg;
};

/* queue_new - create the spool subdirectories, remove incoming/ leftovers,
 * move damaged queue files to corrupt/, schedule everything queued for
 * delivery, start the threads.  Runs synchronously (start-up only). */
struct queue *queue_new(struct event_base *base, const struct queue_opts *o);

/* queue_free - stop taking work, finish jobs in flight (commits complete,
 * their callbacks run), join the threads and free.  Call from the loop
 * thread after the sessions are gone. */
void queue_free(struct queue *q);

/* queue_set_clock - the clock of the retry schedule: now(arg) in unix
 * seconds (now NULL: time(), the default; next-attempt times are kept in
 * the status files, so they mean the same after a restart).  A deferred message is due
 * retry_min..retry_max seconds after its attempt by this clock.  Call from
 * the loop thread before the loop runs; tests install a fake clock. */
void queue_set_clock(struct queue *q, time_t (*now)(void *arg), void *arg);

/* queue_run_due - start the delivery of every message whose retry is due
 * by the clock (loop thread); returns how many.  The daemon needs no call:
 * each deferred message has a timer that does the same when it is due.
 * Tests advance a fake clock and call this instead of sleeping. */
unsigned queue_run_due(struct queue *q);

/* queue_flush - make qid (NULL: all; with domain: those with a recipient
 * pending there) due now, back-off ignored; returns how many */
unsigned queue_flush(struct queue *q, const char *qid, const char *domain);

/* queue_hold - hold (1) or release (0) a message; queue_remove - delete
 * it (its pending recipients get no DSN).  0, or -1 when qid is unknown */
int queue_hold(struct queue *q, const char *qid, int hold);
int queue_remove(struct queue *q, const char *qid);

/* queue_list_json - a JSON array with an object per queued message: id,
 * arrival, size, sender, held, client, recipients [{address, transport,
 * state (pending, deferred, sent, failed), attempts, next_attempt (unix
 * seconds), code, status, remote, reason}].  Reads the spool: call it on a
 * worker thread.  0 or -1. */
int queue_list_json(struct queue *q, buf_t *out);

/* queue_show_json - the same object for one message, with "message" (its
 * first max bytes as stored) and "truncated"; -1 when qid is not queued.
 * Worker thread. */
int queue_show_json(struct queue *q, const char *qid, size_t max, buf_t *out);

/* queue_make_qid - a new unique, time-ordered id of [0-9A-Za-z] */
void queue_make_qid(struct queue *q, char out[QID_MAX + 1]);

/* queue_space_ok - is there room for a message of size bytes (statvfs:
 * free >= 1.5 * size + 16 MiB)? */
int queue_space_ok(struct queue *q, long long size);

/* queue_msg_begin - start a message; takes ownership of *env (moved out,
 * *env left empty); env->qid must be set (queue_make_qid).  The envelope is
 * written first, then the bytes given to queue_msg_write. */
struct qmsg *queue_msg_begin(struct queue *q, struct envelope *env);

/* queue_msg_write - append message bytes (buffered; written by a worker).
 * Never fails on the caller's side: an error is remembered and reported
 * by the commit. */
void queue_msg_write(struct qmsg *m, const void *p, size_t n);

/* queue_msg_backlog_high - more than 1 MiB waits to be written: the caller
 * should stop reading from the client until the drain callback runs. */
int queue_msg_backlog_high(const struct qmsg *m);

/* queue_msg_on_drain - cb(arg) runs (once) on the loop thread when the
 * backlog drops below 256 KiB; replaces an earlier registration. */
void queue_msg_on_drain(struct qmsg *m, void (*cb)(void *arg), void *arg);

/* queue_msg_commit - finish the message: write the rest and the trailer,
 * fsync, rename into queue/, fsync the directory, then call done(arg,
 * status) on the loop thread and schedule delivery.  m is consumed. */
void queue_msg_commit(struct qmsg *m, void (*done)(void *arg, enum qstatus st),
		      void *arg);

/* queue_msg_abort - drop the message and remove its file; m is consumed */
void queue_msg_abort(struct qmsg *m);

/* queue_stats - counts for logs and tests */
struct queue_stats {
	unsigned long long committed, delivered, deferred, failed;
	unsigned long long dsns;	/* notifications queued */
	unsigned queued;	/* messages now in queue/ */
	unsigned held;		/* of these, held */
	unsigned waiting;	/* of these, waiting for a retry */
	unsigned active;	/* of these, being delivered or about to be
				 * (the result not yet seen by the loop) */
};
void queue_get_stats(struct queue *q, struct queue_stats *st);

#endif

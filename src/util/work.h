/* work - run slow functions (password hashing, file reads) on worker
 * threads and get the result back on the event loop thread.
 *
 * work(arg) runs on a worker; done(arg) runs afterwards on the loop thread
 * of the base given to workpool_new.  Requires evthread_use_pthreads().
 */
#ifndef MAILPORT_UTIL_WORK_H
#define MAILPORT_UTIL_WORK_H

struct event_base;
struct workpool;

/* One job.  workpool_submit allocates its own; workpool_post takes one the
 * caller keeps (inside its object), so posting never fails.  With done
 * NULL nothing runs on the loop afterwards, and the pool does not touch
 * the item once work() has started (work may free it). */
struct work_item {
	void (*work)(void *);
	void (*done)(void *);
	void *arg;
	struct work_item *next;		/* the pool's */
	int owned;			/* the pool's: allocated by submit */
};

struct workpool *workpool_new(struct event_base *base, unsigned threads);

/* workpool_post - queue the caller's item (not on any queue now) */
void workpool_post(struct workpool *p, struct work_item *it);

/* workpool_submit - queue a job; 0, or -1 (nothing will run) */
int workpool_submit(struct workpool *p, void (*work)(void *), void (*done)(void *),
		    void *arg);

/* workpool_free - finish the queued jobs (their done callbacks run), join */
void workpool_free(struct workpool *p);

#endif

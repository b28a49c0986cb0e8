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

struct workpool *workpool_new(struct event_base *base, unsigned threads);

/* workpool_submit - queue a job; 0, or -1 (nothing will run) */
int workpool_submit(struct workpool *p, void (*work)(void *), void (*done)(void *),
		    void *arg);

/* workpool_free - finish the queued jobs (their done callbacks run), join */
void workpool_free(struct workpool *p);

#endif

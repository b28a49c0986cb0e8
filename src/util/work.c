/* work - a small thread pool with completions on the event loop.
 *
 * Public: workpool_new, workpool_submit, workpool_post, workpool_free.
 * Invariant: every submitted job's done() runs exactly once, on the loop
 * thread (from the completion event, or from workpool_free).
 */
#include "util/work.h"

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#define job work_item

struct jobq {
	struct job *head, *tail;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobq todo, finished;
	struct event *ev;
	pthread_t *threads;
	unsigned nthreads;
	int stopping;
};

/* jobq_push - append */
static void jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

/* jobq_pop - take the first, or NULL */
static struct job *jobq_pop(struct jobq *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

/* worker - run jobs until stopped */
static void *worker(void *arg)
{
	struct workpool *p = arg;
	struct job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo.head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		j = jobq_pop(&p->todo);
		if (!j)
			break;
		pthread_mutex_unlock(&p->lock);
		if (!j->done) {		/* read before work(): it may free j */
			int owned = j->owned;

			j->work(j->arg);
			if (owned)
				free(j);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		j->work(j->arg);
		pthread_mutex_lock(&p->lock);
		jobq_push(&p->finished, j);
		event_active(p->ev, 0, 0);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* run_finished - done callbacks on the loop thread */
static void run_finished(struct workpool *p)
{
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		j = jobq_pop(&p->finished);
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		j->done(j->arg);
		if (j->owned)
			free(j);
	}
}

/* on_finished - the completion event */
static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_finished(arg);
}

/* workpool_new - start the threads */
struct workpool *workpool_new(struct event_base *base, unsigned threads)
{
	struct workpool *p = calloc(1, sizeof(*p));
	unsigned i;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->ev = event_new(base, -1, 0, on_finished, p);
	p->threads = calloc(threads, sizeof(*p->threads));
	if (!p->ev || !p->threads) {
		workpool_free(p);
		return NULL;
	}
	for (i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		workpool_free(p);
		return NULL;
	}
	return p;
}

/* workpool_submit - queue one job */
int workpool_submit(struct workpool *p, void (*work)(void *), void (*done)(void *),
		    void *arg)
{
	struct job *j = malloc(sizeof(*j));

	if (!j)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->owned = 1;
	pthread_mutex_lock(&p->lock);
	jobq_push(&p->todo, j);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* workpool_post - queue a caller-owned item */
void workpool_post(struct workpool *p, struct work_item *it)
{
	it->owned = 0;
	pthread_mutex_lock(&p->lock);
	jobq_push(&p->todo, it);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* workpool_free - drain, join, free */
void workpool_free(struct workpool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	if (p->ev) {
		run_finished(p);
		event_free(p->ev);
	}
	free(p->threads);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

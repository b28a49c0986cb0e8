/* sched - the delivery scheduler (within src/queue): which queued message
 * is tried when, by which agent, and what happens with the outcome.
 *
 * Runs on the event loop thread; its disk work (loading a message, writing
 * status records, bounces, removing) runs on the shared worker pool.
 */
#ifndef MAILPORT_QUEUE_SCHED_H
#define MAILPORT_QUEUE_SCHED_H

#include <stddef.h>
#include <time.h>

#include "queue/queue.h"

struct sched;

struct sched *sched_new(struct queue *q, struct event_base *base, const struct queue_opts *o);

/* sched_add - a message entered queue/: try it now */
void sched_add(struct sched *s, const char *qid);

/* sched_has - is qid known (a message in queue/)? */
int sched_has(const struct sched *s, const char *qid);

/* sched_stop - start no attempt any more; ask the agents to end theirs;
 * returns the number of attempts still running (the loop must run until
 * sched_running says 0) */
void sched_stop(struct sched *s);
unsigned sched_running(const struct sched *s);
void sched_free(struct sched *s);

void sched_set_clock(struct sched *s, time_t (*now)(void *arg), void *arg);
unsigned sched_run_due(struct sched *s);
void sched_stats(struct sched *s, struct queue_stats *st);

/* sched_flush - make qid (NULL: every message; with domain, those with a
 * pending recipient in domain) due now, recipients' back-off ignored */
unsigned sched_flush(struct sched *s, const char *qid, const char *domain);

/* sched_hold - hold (1) or release (0) qid; sched_remove - delete it.
 * -1 when qid is unknown.  Both take effect through a status record or an
 * unlink on a worker; a running attempt finishes first. */
int sched_hold(struct sched *s, const char *qid, int hold);
int sched_remove(struct sched *s, const char *qid);

#endif

/* store - the queue's files as the delivery side uses them (within
 * src/queue only): open a queued message with its status records, append
 * status records, remove a finished message, add a new message (bounces),
 * list the queue.  Every function does disk I/O: call them on a worker
 * thread, never on the event loop (start-up excepted).
 */
#ifndef MAILPORT_QUEUE_STORE_H
#define MAILPORT_QUEUE_STORE_H

#include <stddef.h>
#include <sys/types.h>

#include "queue/envelope.h"
#include "util/buf.h"

struct queue;

enum store_rc {
	STORE_OK = 0,
	STORE_DAMAGED = -1,	/* the file does not parse: left for quarantine */
	STORE_IO = -2,		/* an I/O error: try again later */
	STORE_GONE = -3,	/* no such message */
};

/* store_open - open queue/<qid>, decode its envelope and apply its status
 * file; *fd stays open for reading the message bytes at [*off, *off+*len) */
enum store_rc store_open(struct queue *q, const char *qid, struct envelope *env, int *fd,
			 off_t *off, off_t *len, const char **why);

/* store_append - append records to <qid>.done durably (fdatasync; the
 * directory too when the file is new) */
int store_append(struct queue *q, const char *qid, const buf_t *records);

/* store_remove - every recipient is done: unlink the message, then its
 * status file, then fsync queue/ */
int store_remove(struct queue *q, const char *qid);

/* store_add - a new message made by mailport itself (a DSN): env (its qid
 * set by store_add) and the message bytes (CRLF lines) are written,
 * fsynced and renamed into queue/ as a commit does; the caller schedules
 * it.  0 or -1. */
int store_add(struct queue *q, struct envelope *env, const void *msg, size_t len);

/* store_list - the qids in queue/, sorted; free with store_list_free */
int store_list(struct queue *q, char ***qids, size_t *n);
void store_list_free(char **qids, size_t n);

#endif

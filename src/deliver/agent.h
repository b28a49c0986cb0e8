/* agent - the one small interface between the queue's scheduler and the
 * transports that deliver (local Maildir, remote SMTP): the scheduler hands
 * an agent a job (one message, some of its recipients, one destination),
 * the agent fills in one struct dstatus per recipient and calls done().
 * Postfix's delivery agents report to qmgr the same way (dsn_buf).
 *
 * Threads: submit() and done() run on the event loop thread; an agent does
 * its slow work elsewhere (a worker pool for the disk, non-blocking sockets
 * and c-ares for the network) and never blocks the loop.
 */
#ifndef MAILPORT_DELIVER_AGENT_H
#define MAILPORT_DELIVER_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "smtp/status.h"
#include "queue/envelope.h"

struct agent_job {
	/* set by the scheduler; valid until done() returns */
	const char *qid;
	const struct envelope *env;	/* the whole envelope (read only) */
	const size_t *rcpts;		/* indexes into env->rcpts */
	size_t nrcpts;
	const char *nexthop;		/* the destination: a domain, or the
					 * smarthost "host:port" */
	int fd;				/* the queue file (pread only) */
	off_t off, len;			/* where the message bytes are in it */
	struct dstatus *status;		/* nrcpts results, filled by the agent */
	void (*done)(struct agent_job *job);
	void *owner;			/* the scheduler's */
	struct agent_job *next;		/* free for the agent's own lists */
};

struct agent {
	const char *name;		/* "local", "smtp": for logs */
	/* submit - take the job; done() is called exactly once, later (never
	 * from inside submit) */
	void (*submit)(struct agent *a, struct agent_job *job);
	void *ctx;
};

#endif

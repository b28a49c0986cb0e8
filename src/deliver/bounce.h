/* bounce - the delivery status notifications mailport sends (RFC 3461,
 * RFC 3464): which recipients of a message get one after an attempt, and
 * the notification message itself, addressed to the envelope sender with
 * the null reverse path.  Pure: the caller reads the original message and
 * queues the result.
 */
#ifndef MAILPORT_DELIVER_BOUNCE_H
#define MAILPORT_DELIVER_BOUNCE_H

#include <stddef.h>

#include "queue/envelope.h"
#include "util/buf.h"

enum bounce_kind {
	BOUNCE_FAILED = 0,	/* Action: failed */
	BOUNCE_DELAYED,		/* Action: delayed (NOTIFY=DELAY) */
	BOUNCE_SUCCESS,		/* Action: delivered / relayed (NOTIFY=SUCCESS) */
	BOUNCE__COUNT
};

/* bounce_wanted - does recipient r ask for a notice of this kind (RFC 3461
 * 4.1: no NOTIFY means failures only; NEVER means none)?  A message from
 * the null sender never gets one. */
int bounce_wanted(const struct envelope *env, const struct env_rcpt *r, enum bounce_kind kind);

struct bounce_in {
	const struct envelope *env;	/* the original message's envelope */
	const size_t *rcpts;		/* the recipients this notice is about */
	size_t nrcpts;
	enum bounce_kind kind;
	const char *hostname;		/* Reporting-MTA, From: MAILER-DAEMON@ */
	long long now;			/* unix seconds: Date:, Last-Attempt-Date */
	long long retry_until;		/* BOUNCE_DELAYED: Will-Retry-Until */
	const char *orig;		/* the original message (CRLF lines) or
					 * its first part */
	size_t orig_len;
	int orig_truncated;		/* orig is only the start of it */
};

/* bounce_build - the notification: out_env gets the null sender and the
 * original sender as its one recipient (kind, domain, mailbox left for the
 * caller's routing), out gets the message (CRLF lines).  0, or -1. */
int bounce_build(const struct bounce_in *in, struct envelope *out_env, buf_t *out);

/* BOUNCE_ORIG_MAX - how much of the original message a notice returns
 * (RET=FULL; otherwise the header section, at most this much) */
#define BOUNCE_ORIG_MAX (64u * 1024)

#endif

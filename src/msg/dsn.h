/* dsn - the RFC 3464 delivery status notification builder (RFC 3461-3464,
 * RFC 6522 multipart/report, RFC 3834 Auto-Submitted).
 *
 * Given the original envelope, the recipients this report is about (each
 * with its action and the transport's struct dstatus) and a reader for the
 * stored message, msg_dsn_build makes the whole report message:
 *
 *   Date, From: Mail Delivery System <MAILER-DAEMON@host>, To: <sender>,
 *   Subject (by the report's kind), Message-ID, Auto-Submitted:
 *   auto-replied, MIME-Version, Content-Type: multipart/report;
 *   report-type=delivery-status
 *   part 1  text/plain: what happened, per recipient, quoting the remote
 *           server's reply
 *   part 2  message/delivery-status: Original-Envelope-Id (ENVID),
 *           Reporting-MTA, Arrival-Date, X-Mailport-Queue-ID,
 *           X-Mailport-Sender; per recipient Original-Recipient (ORCPT),
 *           Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code,
 *           Last-Attempt-Date, Will-Retry-Until (delayed)
 *   part 3  message/rfc822 (RET=FULL in a report about a failure, when
 *           the message is at most orig_max bytes) or text/rfc822-headers
 *           (otherwise: RET=HDRS, no RET, delay and success reports, and
 *           larger messages, which the text then says); none without a
 *           reader.
 *
 * The kind of the report is its worst action: failed, else delayed, else
 * success (delivered / relayed / expanded).  Every text a human reads is
 * in one table in dsn.c.
 *
 * The result has CRLF line ends, every line shorter than 998 octets, and
 * is not dot-stuffed: it is a message as the queue stores one (send it
 * with MAIL FROM:<> through msg/outbound like any other).  Remote-supplied
 * and envelope text (reply text, host names, addresses, ENVID, ORCPT) is
 * cleaned before use: no CR, LF or other control byte gets through
 * (printable ASCII, the rest as \xHH; addresses per RFC 6533 / RFC 3461
 * xtext), long values are folded, and the MIME boundary is checked against
 * every part's lines, so no supplied text can end a part or forge one.
 * Dates are UTC.  Pure: no I/O but the caller's reader; no clock (the
 * caller gives now).
 */
#ifndef MAILPORT_MSG_DSN_H
#define MAILPORT_MSG_DSN_H

#include <stddef.h>
#include "smtp/status.h"
#include "smtp/params.h"
#include "util/buf.h"

/* how much of the original a report carries unless told otherwise */
#define MSG_DSN_ORIG_MAX (64 * 1024)

/* RFC 3464 2.3.3 */
enum msg_dsn_action {
	MSG_DSN_FAILED = 0,
	MSG_DSN_DELAYED,
	MSG_DSN_DELIVERED,
	MSG_DSN_RELAYED,
	MSG_DSN_EXPANDED,
};

/* One recipient the report is about. */
struct msg_dsn_rcpt {
	const char *final_rcpt;	/* the address delivery was tried to */
	const char *orcpt_type;	/* ORCPT addr-type ("rfc822", "utf-8"), or
				 * NULL when the client gave no ORCPT */
	const char *orcpt;	/* ORCPT address, xtext already decoded (as
				 * struct env_rcpt keeps it) */
	size_t orcpt_len;
	enum msg_dsn_action action;
	const struct dstatus *status;	/* NULL: nothing beyond the action */
	long long last_attempt;	/* unix seconds; 0: no Last-Attempt-Date */
	long long retry_until;	/* delayed: Will-Retry-Until; 0: none */
};

/* msg_dsn_read_fn - read up to n bytes of the stored message (as the
 * queue keeps it, from its first byte on) into buf: the count, 0 at the
 * end, -1 on an error.  msg_dsn_build reads at most orig_max + 1 bytes. */
typedef long (*msg_dsn_read_fn)(void *ctx, char *buf, size_t n);

/* The report to make. */
struct msg_dsn {
	const char *hostname;	/* ours: Reporting-MTA, MAILER-DAEMON@ */
	const char *qid;	/* the original's queue id */
	const char *sender;	/* the envelope sender (not "": a message
				 * from <> is never reported on) */
	const char *envid;	/* ENVID, xtext decoded; NULL: none */
	size_t envid_len;
	enum dsn_ret ret;	/* RET=FULL | HDRS | not given */
	long long arrival;	/* unix seconds; 0: no Arrival-Date */
	long long now;		/* Date:, Message-ID */
	unsigned long long nonce;	/* differs between reports made the
				 * same second for one message (a counter,
				 * random bits): Message-ID, boundary */
	size_t orig_max;	/* 0: MSG_DSN_ORIG_MAX */
	msg_dsn_read_fn read;	/* NULL: no third part */
	void *read_ctx;
	const struct msg_dsn_rcpt *rcpts;
	size_t nrcpts;
};

/* What the caller needs to know to send the report. */
struct msg_dsn_info {
	int eight_bit;		/* holds 8-bit bytes (from the original):
				 * send with BODY=8BITMIME */
	int smtputf8;		/* To: holds a UTF-8 address: SMTPUTF8 */
	int headers_only;	/* part 3 is text/rfc822-headers */
	int truncated;		/* RET=FULL was asked but the message is
				 * larger than orig_max: headers only */
};

/* msg_dsn_build - append the report to out.  Returns 0, or -1 when memory
 * runs out, the reader fails, or the report makes no sense (no recipient,
 * no hostname, an empty sender); out is then left as it was.  info may be
 * NULL. */
int msg_dsn_build(const struct msg_dsn *d, buf_t *out,
		  struct msg_dsn_info *info);

/* msg_dsn_action_name - "failed", "delayed", "delivered", "relayed",
 * "expanded" (RFC 3464 2.3.3) */
const char *msg_dsn_action_name(enum msg_dsn_action a);

/* msg_dsn_date - an RFC 5322 3.3 date-time in UTC for unix seconds t
 * ("Tue, 05 Mar 2024 10:00:00 +0000") into dst (at least 32 bytes);
 * returns dst */
char *msg_dsn_date(char dst[32], long long t);

#endif

/* local - delivery into a Maildir (the safe way: tmp/, fsync, rename into
 * new/, fsync new/).
 *
 * Mailbox path: <mail_fd>/<domain>/<mailbox>/{tmp,new,cur}, created (0700)
 * when missing.  domain and mailbox must be single safe path components
 * (addr_mailbox_safe): otherwise DELIVER_PERM.  The file gets "Return-Path: <sender>" and
 * "Delivered-To: <rcpt>" first, then the message with CRLF turned into LF.
 * The file name is deterministic for (qid, rcpt index): a delivery retried
 * after a crash finds new/<name> already there and reports DELIVER_OK
 * without writing a second copy.
 */
#ifndef MAILPORT_DELIVER_LOCAL_H
#define MAILPORT_DELIVER_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

enum dresult { DELIVER_OK = 0, DELIVER_TEMP, DELIVER_PERM };

struct local_msg {
	int fd;			/* the queue file, read with pread */
	off_t offset;		/* where the message bytes start */
	off_t length;		/* message byte count */
	const char *qid;
	long long arrival;
	const char *sender;	/* canonical, "" for <> */
};

/* local_deliver - deliver one copy; on failure writes a reason to why */
enum dresult local_deliver(int mail_fd, const char *domain, const char *mailbox,
			   const char *rcpt, unsigned rcpt_index,
			   const struct local_msg *m, const char *hostname,
			   char *why, size_t whysz);


/* local_agent_new - the delivery agent (deliver/agent.h) that runs
 * local_deliver for a job's recipients on the worker pool: OK is 250
 * 2.0.0, TEMP 451 4.2.0, PERM 550 5.1.3 with the reason as text */
struct agent;
struct workpool;
struct agent *local_agent_new(struct workpool *pool, int mail_fd, const char *hostname);
void local_agent_free(struct agent *a);

#endif

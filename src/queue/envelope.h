/* envelope - what the SMTP transaction says about a message: sender,
 * recipients and their DSN parameters, and where it came from.
 *
 * All strings are heap copies owned by the envelope; byte strings that may
 * hold arbitrary bytes carry a length.
 */
#ifndef MAILPORT_QUEUE_ENVELOPE_H
#define MAILPORT_QUEUE_ENVELOPE_H

#include <stddef.h>
#include "smtp/status.h"
#include "smtp/params.h"

#define QID_MAX 24		/* queue id text length limit, NUL excluded */

enum rcpt_kind { RCPT_LOCAL = 0, RCPT_RELAY = 1 };

struct env_rcpt {
	enum rcpt_kind kind;
	char *addr;		/* canonical final address (addr_format) */
	char *domain;		/* lowercased domain */
	char *mailbox;		/* RCPT_LOCAL: Maildir name below <domain>/ */
	char *orig;		/* the address the client gave (before aliases) */
	unsigned notify;	/* dsn_notify bits */
	char *orcpt_type;	/* NULL when no ORCPT */
	char *orcpt;
	size_t orcpt_len;
	int done;		/* delivered or finally failed */
	/* delivery state, kept in the status file "<qid>.done" */
	unsigned attempts;	/* attempts that ended in a temporary failure */
	long long next_try;	/* unix seconds of the next attempt; 0: now */
	long long first_fail;	/* unix seconds of the first temporary failure */
	int delay_notified;	/* a NOTIFY=DELAY notice went out */
	struct dstatus last;	/* the last outcome (DS_OK with code 0: none) */
};

struct envelope {
	char qid[QID_MAX + 1];
	long long arrival;	/* unix seconds */
	char *client_addr;	/* "127.0.0.1" / "::1" */
	char *helo;		/* as given (validated), may be NULL */
	char *proto;		/* "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" */
	char *sender;		/* canonical, "" for <> */
	enum body_type body;
	int smtputf8;
	enum dsn_ret ret;
	char *envid;		/* NULL when none */
	size_t envid_len;
	char *auth;		/* authenticated identity, NULL when none */
	int hold;		/* held by the administrator (status file) */
	struct env_rcpt *rcpts;
	size_t nrcpts;
	size_t rcpts_cap;
};

void envelope_init(struct envelope *e);
void envelope_clear(struct envelope *e);	/* frees everything, re-inits */
/* envelope_add_rcpt - append a zeroed recipient; NULL on allocation failure */
struct env_rcpt *envelope_add_rcpt(struct envelope *e);

#endif

/* policy - who may send to whom: local domains, users, aliases, relay.
 */
#ifndef MAILPORT_SERVER_POLICY_H
#define MAILPORT_SERVER_POLICY_H

#include <sys/socket.h>
#include "conf/config.h"
#include "queue/envelope.h"
#include "smtp/addr.h"
#include "smtp/params.h"

enum rcpt_verdict {
	RV_OK = 0,		/* recipients appended to the envelope */
	RV_UNKNOWN,		/* 550 5.1.1 */
	RV_BAD_MAILBOX,		/* 550 5.1.3 */
	RV_RELAY_DENIED,	/* 550 5.7.1 */
	RV_NOMEM,		/* 451 4.3.0 */
};

struct rcpt_ctx {
	const struct config *cfg;
	const struct sockaddr *client;
	int authenticated;
};

/* policy_rcpt - judge one RCPT and append its final recipients (aliases
 * expanded, duplicates skipped) to env */
enum rcpt_verdict policy_rcpt(const struct rcpt_ctx *ctx, const struct smtp_path *p,
			      const struct rcpt_params *rp, struct envelope *env);

/* policy_route - where mail mailport itself makes (a DSN) to addr goes:
 * r->kind, r->domain and r->mailbox set as an accepted RCPT would set them
 * (aliases followed: the first final recipient); 0, or -1 when addr is
 * not a deliverable address */
int policy_route(const struct config *cfg, const char *addr, struct env_rcpt *r);

#endif

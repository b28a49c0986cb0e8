/* request - the request line of the control socket (<spool>/control.sock),
 * shared by the daemon (ctl.c parses it) and `mailport queue` (queuecmd.c
 * formats it): pure functions, no I/O.
 *
 * Grammar (one line, at most CTL_REQ_MAX bytes with its LF; words are
 * separated by exactly one space, verbs are lowercase):
 *   list
 *   show QID
 *   flush | flush QID | flush --domain DOMAIN
 *   remove QID | remove --all
 *   hold QID
 *   release QID
 *   reload
 * QID: 1..QID_MAX characters of [0-9A-Za-z] (what queue_make_qid makes).
 * DOMAIN: 1..CTL_DOMAIN_MAX characters of [0-9A-Za-z.-_] or an address
 * literal's "[...]" with [0-9A-Za-z.:-] inside.  Anything else (another
 * verb, a missing or extra word, a control byte, a non-ASCII byte, a
 * leading, trailing or double space) is refused with a short reason.
 */
#ifndef MAILPORT_CTL_REQUEST_H
#define MAILPORT_CTL_REQUEST_H

#include <stddef.h>

#include "queue/envelope.h"	/* QID_MAX */

#define CTL_REQ_MAX 512		/* request line, LF included */
#define CTL_DOMAIN_MAX 255

enum ctl_verb { CTL_LIST, CTL_SHOW, CTL_FLUSH, CTL_REMOVE, CTL_HOLD, CTL_RELEASE, CTL_RELOAD };

struct ctl_req {
	enum ctl_verb verb;
	char qid[QID_MAX + 1];		/* "" when none */
	char domain[CTL_DOMAIN_MAX + 1];	/* flush --domain; "" when none */
	int all;			/* remove --all */
};

/* ctl_req_parse - parse line[0..len) (without its LF; one CR before it is
 * allowed); 0, or -1 with *why set to a static reason */
int ctl_req_parse(const char *line, size_t len, struct ctl_req *r, const char **why);

/* ctl_req_format - the request line for r, LF included, into out (n
 * bytes); 0, or -1 when r is not valid (the same checks as the parser) */
int ctl_req_format(const struct ctl_req *r, char *out, size_t n);

/* ctl_qid_ok - is s a well-formed queue id? */
int ctl_qid_ok(const char *s);

/* ctl_domain_ok - is s a well-formed --domain argument? */
int ctl_domain_ok(const char *s);

/* ctl_verb_name - "list", "show", ... */
const char *ctl_verb_name(enum ctl_verb v);

#endif

/* checks - the tests people otherwise script by hand, run by `mailport
 * probe` after its normal steps (issue 8):
 *
 *   --relay-test          unauthenticated attempts to have the server
 *                         relay to an outside recipient: directly, with a
 *                         spoofed local sender, with the null sender, and
 *                         with the classic routing tricks against the
 *                         server's own domain D (user%outside@D,
 *                         outside!user@D, "user@outside"@D, @D:user@outside,
 *                         user@outside@D).  Each attempt is its own
 *                         transaction (MAIL, RCPT, RSET); DATA is never sent.
 *   --smuggling-test      one message per fake end-of-data variant
 *                         (<LF>.<LF>, <CR>.<CR> ...: CHECKLIST B, the SMTP
 *                         smuggling research) followed by a smuggled MAIL,
 *                         RCPT and DATA, then the real <CRLF>.<CRLF>; the
 *                         server must answer exactly once.
 *   --starttls-injection  "STARTTLS\r\nNOOP\r\n" in one write: after the
 *                         handshake no reply to the NOOP may come
 *                         (CVE-2011-0411).
 *
 * Each check opens its own connections to the address the probe reached,
 * with the probe's EHLO name, timeout, TLS settings and live output, and
 * keeps its own transcript.  A finding is exit status PROBE_EXIT_RELAY
 * (12); a check that could not run gives the status of the stage where it
 * stopped (probe.h).  The checks never authenticate: they test what a
 * stranger can do.
 *
 * Public: checks_run, checks_json, checks_free.
 */
#ifndef MAILPORT_PROBE_CHECKS_H
#define MAILPORT_PROBE_CHECKS_H

#include <stdio.h>
#include <sys/socket.h>

#include "probe/session.h"
#include "util/buf.h"

enum {
	CHECK_RELAY = 1u << 0,		/* --relay-test */
	CHECK_SMUGGLING = 1u << 1,	/* --smuggling-test */
	CHECK_INJECTION = 1u << 2,	/* --starttls-injection */
};

/* What the checks need from the probe (borrowed: must outlive the run). */
struct check_conf {
	unsigned which;			/* CHECK_* */
	const struct sockaddr *addr;	/* the address that answered (port
					 * included) */
	socklen_t addrlen;
	const char *label;		/* its host name, shown */
	const char *helo;		/* the EHLO name */
	const char *from;		/* the envelope sender (--from or the
					 * default); "" is <> */
	const char *const *to;		/* --to, in order */
	size_t nto;
	const char *domain;		/* D for the relay tricks (--relay-domain,
					 * the target domain or the banner's
					 * name), or NULL */
	int timeout_ms;			/* per operation */
	int implicit_tls;		/* --tls */
	int starttls;			/* 1 require, -1 never, 0 when offered */
	struct sess_tls_conf tls;	/* for every handshake */
	struct sess_hooks hooks;	/* live output (zero: none) */
	FILE *out;			/* where the loud verdicts go (NULL in
					 * JSON mode) */
	int color;			/* out is a terminal */
};

/* One check's outcome. */
struct check_outcome {
	int ran;			/* the check was asked for */
	int found;			/* -1 not decided, 0 nothing, 1 found */
	int exit;			/* 0, PROBE_EXIT_RELAY or the failed stage's */
	const char *stage;		/* the stage of a non-zero exit */
	char text[400];			/* one line for the summary */
	struct sess s;			/* its transcript */
	buf_t json;			/* its details as JSON members (no braces) */
};

struct check_result {
	struct check_outcome relay, smuggling, injection;
	int exit;			/* 12 if anything was found, else the
					 * first failure's status, else 0 */
	const char *stage;
};

/* checks_run - run the checks c->which asks for, in the order relay,
 * smuggling, injection; r is filled (free it with checks_free) */
void checks_run(const struct check_conf *c, struct check_result *r);

/* checks_json - the "checks" object of `probe --json`: one member per
 * check that ran, with its findings and its steps */
void checks_json(const struct check_result *r, buf_t *out);

/* checks_free - the transcripts and buffers of r */
void checks_free(struct check_result *r);

#endif

/* verdict - what an SMTP reply, a failed connection, a DNS answer or an EHLO
 * extension means, in plain language: the one table behind `mailport probe`
 * and `mailport mx` (issue 8).  Pure: no I/O, no allocation; every string
 * returned is static (or written to the caller's buffer) and is our own
 * words, safe to print and to put in JSON.
 *
 * A verdict has a class (ok, temporary, permanent, error), a text (what it
 * means and what usually causes it) and a next step (what to check next;
 * "" when there is nothing to do).  Both are one line, start in lower case
 * and have no final period, so a caller can print
 *	"   x permanent: %s" / "     next: %s".
 *
 * Replies: the class always comes from the reply code's first digit (2xx and
 * 3xx ok, 4xx temporary, 5xx permanent, anything else error).  The text is
 * the most specific the table knows, in this order: the code with this exact
 * enhanced code (at this stage, then at any stage); for a code whose meaning
 * does not depend on the enhanced code (500, 502, 503, 530, 535 ...) the
 * code at this stage or any stage; for 4xx/5xx the RFC 3463 meaning of the
 * enhanced code (X.1.1 ... X.7.30, with the later registrations); the code
 * at this stage or any stage; else a generic text by the first digit.
 */
#ifndef MAILPORT_PROBE_VERDICT_H
#define MAILPORT_PROBE_VERDICT_H

#include <stddef.h>

#include "dns/route.h"

/* Where in the session a reply (or a failure) came.  PROBE_TLS is the
 * handshake after STARTTLS (or at once with implicit TLS); PROBE_DOT the
 * reply after the final "." of DATA; PROBE_OTHER any other command (NOOP,
 * HELP, EXPN ... typed in interactive mode). */
enum probe_stage {
	PROBE_CONNECT = 0,
	PROBE_BANNER,
	PROBE_EHLO,
	PROBE_HELO,
	PROBE_STARTTLS,
	PROBE_TLS,
	PROBE_AUTH,
	PROBE_MAIL,
	PROBE_RCPT,
	PROBE_DATA,
	PROBE_DOT,
	PROBE_BDAT,
	PROBE_QUIT,
	PROBE_RSET,
	PROBE_VRFY,
	PROBE_OTHER,
};
#define PROBE_STAGES (PROBE_OTHER + 1)

enum verdict_class {
	VERDICT_OK = 0,		/* 2xx, 3xx: it worked (or goes on) */
	VERDICT_TEMPORARY,	/* 4xx, DNS tempfail: try again later */
	VERDICT_PERMANENT,	/* 5xx, NXDOMAIN, null MX: will not work */
	VERDICT_ERROR,		/* no reply at all: connection, timeout,
				 * malformed reply, TLS, bad input */
};

struct verdict {
	enum verdict_class cls;
	const char *text;	/* what it means; never NULL */
	const char *next;	/* what to check next; "" if nothing */
};

/* Failures that are not a reply. */
enum verdict_problem {
	VERDICT_CLOSED = 0,	/* the server closed the connection */
	VERDICT_TIMEOUT,	/* no reply in time */
	VERDICT_MALFORMED,	/* a reply that is not SMTP */
	VERDICT_TLS_HANDSHAKE,	/* the TLS handshake failed */
	VERDICT_TLS_VERIFY,	/* the certificate chain does not verify */
	VERDICT_TLS_NAME,	/* the certificate does not name the host */
	VERDICT_NO_STARTTLS,	/* STARTTLS not offered */
	VERDICT_NO_AUTH,	/* AUTH not offered */
};

/* verdict_reply - the verdict on reply code (with enhanced code enh
 * "5.1.1", or NULL or "" when none) to the command of stage */
struct verdict verdict_reply(int code, const char *enh,
			     enum probe_stage stage);

/* verdict_connect - the verdict on a connect(2) failure errno err
 * (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH ...; 0: connected) */
struct verdict verdict_connect(int err);

/* verdict_dns - the verdict on resolving a mail domain (route.h statuses:
 * NXDOMAIN, null MX, no address, tempfail, bad name) */
struct verdict verdict_dns(enum route_status st);

/* verdict_problem - the verdict on a failure without a reply at stage */
struct verdict verdict_problem(enum verdict_problem p,
			       enum probe_stage stage);

/* verdict_extension - explain one EHLO extension line (keyword and
 * parameters, without the "250-": "SIZE 36700160", "AUTH PLAIN LOGIN")
 * into out (n bytes, always NUL-terminated when n > 0); 1 if mailport
 * knows the keyword, 0 if not (out then says so) */
int verdict_extension(const char *line, char *out, size_t n);

/* verdict_banner_note - a remark on the text of a 220 greeting (after the
 * code), or NULL: e.g. a banner masked with asterisks by a firewall's SMTP
 * inspection */
const char *verdict_banner_note(const char *text);

/* verdict_class_name - "ok", "temporary", "permanent", "error" */
const char *verdict_class_name(enum verdict_class c);

/* probe_stage_name - "connect", "banner", "ehlo" ... "other" */
const char *probe_stage_name(enum probe_stage s);

/* probe_stage_parse - the stage named name (as probe_stage_name gives it,
 * case-blind) into *out; 0, or -1 if there is none */
int probe_stage_parse(const char *name, enum probe_stage *out);

#endif

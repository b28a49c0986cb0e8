/* interactive - `mailport probe -i TARGET`: an SMTP session typed by hand,
 * like telnet to port 25 but humane (issue 8): line editing and history
 * (libedit), lines sent with CRLF, every reply shown and explained
 * (verdict.h through session.h's printer), DATA typed line by line with
 * the dot-stuffing done here and "." alone to finish, STARTTLS upgrading
 * the session in place (the certificate summary shown), AUTH PLAIN and
 * AUTH LOGIN helpers that ask for the user and the password (no echo) and
 * do the base64, "help" or "?" for a short help, "quit" or Ctrl-D to end.
 * When stdin is not a terminal the lines are read one by one without
 * prompts or editing (scripts and tests).
 *
 * Public: interactive_run.
 */
#ifndef MAILPORT_PROBE_INTERACTIVE_H
#define MAILPORT_PROBE_INTERACTIVE_H

#include "probe/session.h"

struct inter_conf {
	const char *helo;		/* the EHLO name to suggest */
	struct sess_tls_conf tls;	/* for STARTTLS */
	struct sess_printer *pr;	/* the transcript's printer (the hooks
					 * of the session print through it) */
};

/* interactive_run - the session on s (connected, with implicit TLS done
 * when asked): read the greeting, then what the user types until QUIT,
 * end of input or the server closing; the exit status: 0, or
 * PROBE_EXIT_BANNER (no greeting), PROBE_EXIT_TLS (a STARTTLS handshake
 * failed), PROBE_EXIT_PROTOCOL (the connection was lost without QUIT) */
int interactive_run(struct sess *s, const struct inter_conf *c);

#endif

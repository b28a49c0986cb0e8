/* probe - the commands that test a mail server from the outside (issue 8):
 * `mailport mx DOMAIN` (mx.c) and `mailport probe TARGET` (probe.c).
 * main.c dispatches to these; each returns the process exit status.
 */
#ifndef MAILPORT_PROBE_PROBE_H
#define MAILPORT_PROBE_PROBE_H

/* `mailport probe` exit statuses: where the probe stopped (README, man
 * page).  One per stage, so scripts and monitoring can tell them apart. */
enum probe_exit {
	PROBE_EXIT_OK = 0,		/* every requested stage passed */
	PROBE_EXIT_USAGE = 2,		/* bad command line */
	PROBE_EXIT_DNS = 3,		/* target not resolved (NXDOMAIN, no
					 * MX/address, null MX, tempfail) */
	PROBE_EXIT_CONNECT = 4,		/* refused, timed out, unreachable */
	PROBE_EXIT_BANNER = 5,		/* no 220 greeting (4xx/5xx, closed,
					 * timed out, not SMTP) */
	PROBE_EXIT_EHLO = 6,		/* EHLO and HELO refused */
	PROBE_EXIT_TLS = 7,		/* STARTTLS refused or missing when
					 * required, handshake failed, or the
					 * certificate failed with --verify */
	PROBE_EXIT_AUTH = 8,		/* AUTH refused (or not offered) */
	PROBE_EXIT_MAIL = 9,		/* MAIL refused */
	PROBE_EXIT_RCPT = 10,		/* a RCPT refused (any recipient) */
	PROBE_EXIT_DATA = 11,		/* DATA, the message or BDAT refused */
	PROBE_EXIT_RELAY = 12,		/* open relay / smuggling accepted /
					 * STARTTLS injection answered */
	PROBE_EXIT_PROTOCOL = 13,	/* malformed reply, timeout or close
					 * mid-session */
};

/* mx_main - `mailport mx DOMAIN [--dns HOST:PORT] [--json]` (argv[0] is
 * "mx"); the exit status */
int mx_main(int argc, char **argv);

/* probe_main - `mailport probe TARGET [options]` (argv[0] is "probe");
 * the exit status (enum probe_exit) */
int probe_main(int argc, char **argv);

#endif

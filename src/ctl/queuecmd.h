/* queuecmd - `mailport queue`: list, show, flush, remove, hold and release
 * queued mail through the running daemon's control socket
 * <spool>/control.sock (ctl/ctl.h), like Postfix's postqueue/postsuper
 * and OpenSMTPD's smtpctl.
 */
#ifndef MAILPORT_CTL_QUEUECMD_H
#define MAILPORT_CTL_QUEUECMD_H

/* queuecmd_main - run "queue [options] COMMAND [ARGS]"; argv[0] is the
 * word "queue" and is not looked at.  Output on stdout, errors on stderr.
 * Returns 0 on success, 1 when the daemon answers with an error,
 * EX_USAGE, EX_CONFIG, EX_UNAVAILABLE (no daemon answers), EX_NOPERM
 * (refused), EX_TEMPFAIL (timeout), EX_PROTOCOL (a malformed reply). */
int queuecmd_main(int argc, char **argv);

/* reloadcmd_main - run "reload [-c FILE | --defaults] [--json]": the
 * daemon re-reads its config (the privileged parent reads the files) and
 * the outcome is printed: 0 "reload: ok", 1 when the reload failed (the
 * old config stays; the errors name file and line) or was partial (TLS
 * not reloaded), and the exit codes of queuecmd_main otherwise. */
int reloadcmd_main(int argc, char **argv);

#endif

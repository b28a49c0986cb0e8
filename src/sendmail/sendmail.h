/* sendmail - the classic sendmail(1) command line interface: read one
 * message on stdin and hand it to the running mailport daemon over SMTP
 * (the Unix socket <spool>/sendmail.sock, else the first listen address).
 *
 * Its pure parts are in src/msg/: the RFC 5322 address list parser and
 * header field iterator (msg/rfc5322.h) and the encoder to SMTP DATA form
 * (msg/outbound.h), each with its own unit tests.
 */
#ifndef MAILPORT_SENDMAIL_SENDMAIL_H
#define MAILPORT_SENDMAIL_SENDMAIL_H

/* sendmail_main - run "sendmail [options] [recipients...]"; argv[0] is the
 * program name and is not looked at.  config_path NULL: $MAILPORT_CONFIG,
 * else /etc/mailport/mailport.conf when it exists, else the embedded
 * default.  Returns a sysexits.h status; messages go to stderr. */
int sendmail_main(int argc, char **argv, const char *config_path);

#endif

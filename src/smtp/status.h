/* status - the structured outcome of one delivery attempt for one
 * recipient, as every transport (local Maildir, remote SMTP) reports it
 * and as bounces and `mailport queue` show it (Postfix's dsn_buf, in
 * small): the class decides what the queue does (done, retry, bounce), the
 * code, enhanced code and text are what the DSN quotes.
 */
#ifndef MAILPORT_SMTP_STATUS_H
#define MAILPORT_SMTP_STATUS_H

enum dclass {
	DS_OK = 0,	/* delivered (or relayed): the recipient is done */
	DS_TEMP,	/* try again later (4xx, connection trouble, DNS tempfail) */
	DS_PERM,	/* give up now: bounce (5xx, NXDOMAIN, null MX, loop) */
};

#define DSTATUS_TEXT_MAX 512
#define DSTATUS_REMOTE_MAX 256

struct dstatus {
	enum dclass cls;
	int code;				/* reply code: 250, 451, 550; 0 if none */
	char enh[16];				/* RFC 3463 "5.1.1"; "" if none */
	char text[DSTATUS_TEXT_MAX];		/* the remote reply text (escaped,
						 * one line) or our explanation */
	char remote[DSTATUS_REMOTE_MAX];	/* "mx.example.net[192.0.2.1]" or "" */
	int remote_said;			/* code/text came from the remote
						 * server (DSN Diagnostic-Code) */
	int dsn_passed;				/* DS_OK: the next hop took the DSN
						 * parameters (it notifies; RFC 3461
						 * "relayed" otherwise) */
};

#endif

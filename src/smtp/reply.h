/* reply - the one table of SMTP replies (codes, enhanced status codes per
 * RFC 3463, texts).  Defaults follow the seed documents.
 *
 * A text may hold "$1" and "$2", replaced by the caller's arguments
 * (hostname, queue id, ...).  Arguments must not contain CR or LF.
 */
#ifndef MAILPORT_SMTP_REPLY_H
#define MAILPORT_SMTP_REPLY_H

#include "util/buf.h"

enum reply_id {
	R_NONE = 0,	/* no reply: "go on" for check functions */
	R_BANNER, R_EHLO, R_HELO, R_SENDER_OK, R_RCPT_OK, R_DATA_GO, R_QUEUED,
	R_BDAT_CHUNK, R_QUIT, R_RSET, R_NOOP, R_VRFY, R_EXPN, R_HELP,
	R_UNKNOWN, R_LINE_TOO_LONG, R_FLOOD, R_NUL, R_BAD_HELO,
	R_NEED_HELLO, R_NEED_MAIL, R_NEED_RCPT, R_NESTED_MAIL,
	R_DATA_AFTER_BDAT, R_BAD_ARGS, R_BAD_SENDER, R_BAD_RCPT,
	R_ADDR_TOO_LONG, R_UTF8_ADDR, R_PARAM_UNKNOWN, R_SIZE_PARAM,
	R_NO_SPACE, R_USER_UNKNOWN, R_BAD_MAILBOX, R_RELAY_DENIED,
	R_TOO_MANY_RCPTS, R_SIZE_EXCEEDED, R_TOO_MANY_HOPS, R_LOCAL_ERROR,
	R_SYNC, R_FORBIDDEN, R_TOO_MANY_ERRORS, R_TIMEOUT, R_CONN_PER_IP,
	R_CONN_TOTAL, R_SHUTDOWN,
	R_STARTTLS_GO, R_TLS_ACTIVE, R_TLS_UNAVAILABLE, R_AUTH_CHALLENGE,
	R_AUTH_OK, R_AUTH_FAILED, R_AUTH_CANCEL, R_AUTH_BAD, R_AUTH_MECH,
	R_AUTH_TWICE, R_AUTH_IN_TX, R_AUTH_UNAVAILABLE, R_NEED_TLS, R_NEED_AUTH,
	R_AUTH_LINE_TOO_LONG, R_SENDER_NOT_OWNED, R_AUTH_BLOCKED,
	R__COUNT
};

/* What a negative reply says about the client, for the session limits:
 * protocol errors count toward max_errors, rejected recipients toward
 * max_rcpt_rejects; the rest (our own trouble, policy with limits of its
 * own such as AUTH failures) toward neither. */
enum reply_class { RC_NONE = 0, RC_PROTOCOL, RC_RCPT };

struct reply_def {
	int code;
	const char *enh;	/* "" for replies without an enhanced code */
	const char *text;
	enum reply_class cls;
};

const struct reply_def *reply_get(enum reply_id id);

/* reply_format - append the reply line(s) with CRLF to out; a text holding
 * "\n" becomes a multi-line reply ("250-..." lines, last "250 ..."). */
int reply_format(buf_t *out, enum reply_id id, const char *a1, const char *a2);

/* reply_code - the reply's code */
int reply_code(enum reply_id id);

/* reply_class - what the reply counts toward */
enum reply_class reply_class(enum reply_id id);

#endif

/* reply - SMTP reply table and formatting.
 *
 * Public: reply_get, reply_format, reply_code, reply_class.
 * Invariant: every reply mailport's server sends is in this table, with
 * the class that decides which session limit it counts toward.
 */
#include "smtp/reply.h"

#include <stdio.h>
#include <string.h>

static const struct reply_def table[R__COUNT] = {
	[R_NONE] = { 0, "", "" },
	[R_BANNER] = { 220, "", "$1 $2" },
	[R_HELO] = { 250, "", "$1 Hello [$2]" },
	[R_EHLO] = { 250, "", "$1\n$2" },	/* $2: the extension list, one a line */
	[R_SENDER_OK] = { 250, "2.1.0", "Sender OK" },
	[R_RCPT_OK] = { 250, "2.1.5", "Recipient OK" },
	[R_DATA_GO] = { 354, "", "Start mail input; end with <CRLF>.<CRLF>" },
	[R_QUEUED] = { 250, "2.6.0", "<$1@$2> Queued mail for delivery" },
	[R_BDAT_CHUNK] = { 250, "2.0.0", "$1 octets received" },
	[R_QUIT] = { 221, "2.0.0", "Service closing transmission channel" },
	[R_RSET] = { 250, "2.0.0", "Resetting" },
	[R_NOOP] = { 250, "2.0.0", "OK" },
	[R_VRFY] = { 252, "2.1.5", "Cannot VRFY user" },
	[R_EXPN] = { 502, "5.5.1", "EXPN not available" },
	[R_HELP] = { 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP" },
	[R_UNKNOWN] = { 500, "5.3.3", "Unrecognized command", RC_PROTOCOL },
	[R_LINE_TOO_LONG] = { 500, "5.5.2", "Line too long", RC_PROTOCOL },
	[R_FLOOD] = { 421, "4.7.0", "$1 Line too long, closing transmission channel" },
	[R_NUL] = { 500, "5.5.2", "NUL character not allowed", RC_PROTOCOL },
	[R_BAD_HELO] = { 501, "5.5.4", "Invalid domain name", RC_PROTOCOL },
	[R_NEED_HELLO] = { 503, "5.5.2", "Send hello first", RC_PROTOCOL },
	[R_NEED_MAIL] = { 503, "5.5.2", "Need mail command", RC_PROTOCOL },
	[R_NEED_RCPT] = { 503, "5.5.2", "Need rcpt command", RC_PROTOCOL },
	[R_NESTED_MAIL] = { 503, "5.5.1", "Sender already specified", RC_PROTOCOL },
	[R_DATA_AFTER_BDAT] = { 503, "5.5.1", "DATA not allowed after BDAT", RC_PROTOCOL },
	[R_BAD_ARGS] = { 501, "5.5.4", "Invalid arguments", RC_PROTOCOL },
	[R_BAD_SENDER] = { 550, "5.1.7", "Invalid address", RC_PROTOCOL },
	[R_BAD_RCPT] = { 501, "5.1.3", "Invalid address", RC_PROTOCOL },
	[R_ADDR_TOO_LONG] = { 501, "5.1.3", "Address too long", RC_PROTOCOL },
	[R_UTF8_ADDR] = { 553, "5.6.7", "Must declare SMTPUTF8 to send unicode address", RC_PROTOCOL },
	[R_PARAM_UNKNOWN] = { 555, "5.5.4", "Unrecognized parameter", RC_PROTOCOL },
	[R_SIZE_PARAM] = { 552, "5.3.4", "Message size exceeds fixed maximum message size", RC_PROTOCOL },
	[R_NO_SPACE] = { 452, "4.3.1", "Insufficient system storage" },
	[R_USER_UNKNOWN] = { 550, "5.1.1", "User unknown", RC_RCPT },
	[R_BAD_MAILBOX] = { 550, "5.1.3", "Mailbox name not allowed", RC_RCPT },
	[R_RELAY_DENIED] = { 550, "5.7.1", "Unable to relay", RC_RCPT },
	[R_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients", RC_RCPT },
	[R_SIZE_EXCEEDED] = { 552, "5.3.4", "Message size exceeds fixed maximum message size" },
	[R_TOO_MANY_HOPS] = { 554, "5.4.6", "Too many hops" },
	[R_LOCAL_ERROR] = { 451, "4.3.0", "Local error in processing" },
	[R_SYNC] = { 554, "5.5.0", "SMTP protocol synchronization error", RC_PROTOCOL },
	[R_FORBIDDEN] = { 554, "5.7.0", "Forbidden command, closing connection", RC_PROTOCOL },
	[R_TOO_MANY_ERRORS] = { 421, "4.7.0", "Too many errors on this connection, closing transmission channel" },
	[R_TIMEOUT] = { 421, "4.4.2", "$1 Timeout, closing transmission channel" },
	[R_CONN_PER_IP] = { 421, "4.7.0", "$1 Too many connections from your address" },
	[R_CONN_TOTAL] = { 421, "4.3.2", "$1 Too many connections, try again later" },
	[R_SHUTDOWN] = { 421, "4.3.2", "$1 Service shutting down, closing transmission channel" },
	[R_STARTTLS_GO] = { 220, "2.0.0", "Ready to start TLS" },
	[R_TLS_ACTIVE] = { 503, "5.5.1", "TLS already active", RC_PROTOCOL },
	[R_TLS_UNAVAILABLE] = { 454, "4.7.0", "TLS not available" },
	[R_AUTH_CHALLENGE] = { 334, "", "$1" },
	[R_AUTH_OK] = { 235, "2.7.0", "Authentication successful" },
	[R_AUTH_FAILED] = { 535, "5.7.8", "Authentication credentials invalid" },
	[R_AUTH_CANCEL] = { 501, "5.0.0", "Authentication cancelled" },
	[R_AUTH_BAD] = { 501, "5.5.2", "Invalid authentication data", RC_PROTOCOL },
	[R_AUTH_MECH] = { 504, "5.5.4", "Unrecognized authentication type", RC_PROTOCOL },
	[R_AUTH_TWICE] = { 503, "5.5.1", "Already authenticated", RC_PROTOCOL },
	[R_AUTH_IN_TX] = { 503, "5.5.1", "AUTH not allowed during a mail transaction", RC_PROTOCOL },
	[R_AUTH_UNAVAILABLE] = { 503, "5.5.1", "Authentication not available", RC_PROTOCOL },
	[R_NEED_TLS] = { 530, "5.7.0", "Must issue a STARTTLS command first", RC_PROTOCOL },
	[R_NEED_AUTH] = { 530, "5.7.0", "Authentication required", RC_PROTOCOL },
	[R_AUTH_LINE_TOO_LONG] = { 500, "5.5.6", "Authentication exchange line is too long", RC_PROTOCOL },
	[R_SENDER_NOT_OWNED] = { 553, "5.7.1", "Sender address rejected: not owned by user $1", RC_PROTOCOL },
	[R_AUTH_BLOCKED] = { 421, "4.7.0", "$1 Too many authentication failures, closing transmission channel" },
};

/* reply_get - the table entry */
const struct reply_def *reply_get(enum reply_id id)
{
	return &table[id];
}

/* reply_code - the basic code */
int reply_code(enum reply_id id)
{
	return table[id].code;
}

/* reply_class - protocol error, rejected recipient, or neither */
enum reply_class reply_class(enum reply_id id)
{
	return table[id].cls;
}

/* expand - substitute $1/$2 in text into out */
static int expand(buf_t *out, const char *text, const char *a1, const char *a2)
{
	const char *p;

	for (p = text; *p; p++) {
		if (p[0] == '$' && (p[1] == '1' || p[1] == '2')) {
			const char *a = p[1] == '1' ? a1 : a2;

			if (buf_puts(out, a ? a : "") < 0)
				return -1;
			p++;
		} else if (buf_putc(out, *p) < 0) {
			return -1;
		}
	}
	return 0;
}

/* reply_format - render a reply; "\n" in the expanded text splits lines */
int reply_format(buf_t *out, enum reply_id id, const char *a1, const char *a2)
{
	const struct reply_def *d = &table[id];
	buf_t t;
	const char *line;
	int rc = 0;

	buf_init(&t);
	if (expand(&t, d->text, a1, a2) < 0) {
		buf_free(&t);
		return -1;
	}
	line = t.data ? t.data : "";
	for (;;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		rc |= buf_printf(out, "%03d%c%s%s%.*s\r\n", d->code, nl ? '-' : ' ',
				 d->enh, d->enh[0] ? " " : "", (int)n, line);
		if (!nl)
			break;
		line = nl + 1;
	}
	buf_free(&t);
	return rc;
}

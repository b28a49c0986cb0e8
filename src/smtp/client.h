/* client - the I/O-free SMTP client engine (RFC 5321, with PIPELINING
 * RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, DSN
 * RFC 3461, STARTTLS RFC 3207, ENHANCEDSTATUSCODES RFC 2034/3463).
 *
 * A codec, like the server's session: the caller owns the socket, TLS and
 * timers.  It feeds the bytes the server sent (smtpc_feed), writes what the
 * engine wants sent (smtpc_output, then smtpc_output_taken), and after
 * every call asks smtpc_want what to do next:
 *
 *   SMTPC_WANT_READ   write the pending output, then wait for server bytes
 *                     for at most smtpc_timeout() seconds; on expiry call
 *                     smtpc_timed_out, on EOF or an I/O error
 *                     smtpc_conn_lost.
 *   SMTPC_WANT_TLS    the server said 220 to STARTTLS.  The output is
 *                     empty.  Drop every byte read from the socket and not
 *                     yet fed (the engine already dropped what it held:
 *                     CHECKLIST D, response injection), do the handshake
 *                     (certificate checks per the caller's policy), then
 *                     smtpc_tls_done.
 *   SMTPC_WANT_BODY   write the pending output, then stream the message as
 *                     encoded for the wire (CRLF line ends, dot-stuffed,
 *                     7-bit if job->downconvert, ending in CRLF, WITHOUT
 *                     the terminating "." line), each write bounded by
 *                     smtpc_timeout(); keep feeding what the server sends
 *                     (a reply in the middle of the data ends the job);
 *                     then smtpc_body_done, which queues ".\r\n".
 *   SMTPC_WANT_JOB    idle between transactions: smtpc_job_start for the
 *                     next message, or smtpc_quit.  Keep reading: a server
 *                     that closes or says 421 ends the connection.
 *   SMTPC_WANT_CLOSE  write the pending output (a QUIT, maybe), then
 *                     close.  Nothing more will be asked.
 *
 * A job is one mail transaction: the sender, the recipients and the
 * message's properties.  The caller owns the job and its recipients and
 * keeps them unchanged until job->done; the engine writes only the fields
 * marked "out".  When job->done is set every recipient's status is final:
 * DS_OK (accepted after the final dot), DS_TEMP or DS_PERM.  Several jobs
 * may run one after the other on one connection (RSET in between when a
 * transaction was left open).  A job may be started right after
 * smtpc_new (it waits for the greeting and EHLO) or whenever the engine
 * wants a job.
 *
 * The engine never sends a command before the reply that decides it has
 * arrived, except with PIPELINING (MAIL, every RCPT and DATA in one
 * group).  A reply is accepted only for a command the caller has taken
 * for sending; anything else (an early or unsolicited reply), a malformed
 * reply (see replyparse.h, plus: a line without text after the code such
 * as a bare "250" unless accept_bare_code, a bare LF, a line longer than
 * line_max, a reply code this stage does not allow) is a protocol error:
 * every pending recipient is deferred and the connection is closed.
 *
 * Statuses: cls, code, enh, text, remote and remote_said of struct dstatus
 * (smtp/status.h).  From a reply: its code, its enhanced code or the
 * RFC 3463 default "X.0.0", its text (lines joined by a space, bytes
 * outside printable ASCII and '\' as \xHH, cut to fit), remote_said = 1.
 * From the engine's own verdict (a check before sending, a timeout, a
 * protocol error): a code of the right class (451, 552, 554), an enhanced
 * code (4.4.2 connection, 4.5.0 protocol, 4.7.4/4.7.5 TLS, 5.3.4 size,
 * 5.6.3 8-bit, 5.6.7 SMTPUTF8, 5.1.3/5.1.7 address), our explanation, and
 * remote_said = 0.  remote is the caller's "host[ip]".  dsn_passed is set
 * on a DS_OK after the dot when the peer offers DSN (it took NOTIFY/ORCPT
 * and notifies from now on; otherwise a NOTIFY=SUCCESS means "relayed",
 * RFC 3461 5.2.2).
 */
#ifndef MAILPORT_SMTP_CLIENT_H
#define MAILPORT_SMTP_CLIENT_H

#include <stddef.h>

#include "smtp/status.h"
#include "smtp/params.h"

struct smtpc;

/* RFC 5321 4.5.3.2 timeouts, in seconds; which one applies to the current
 * wait is smtpc_timeout()'s answer */
enum smtpc_timeout {
	SMTPC_TO_GREETING,	/* initial 220: 5 min */
	SMTPC_TO_HELO,		/* EHLO, HELO, STARTTLS, TLS handshake, RSET,
				 * QUIT: 5 min */
	SMTPC_TO_MAIL,		/* MAIL: 5 min */
	SMTPC_TO_RCPT,		/* RCPT: 5 min */
	SMTPC_TO_DATA,		/* DATA initiation (the 354): 2 min */
	SMTPC_TO_BLOCK,		/* each write of the message data: 3 min */
	SMTPC_TO_DOT,		/* reply after the final dot: 10 min */
	SMTPC_TO__COUNT
};

/* the caller's TLS policy ([tls] outbound) */
enum smtpc_tls {
	SMTPC_TLS_NONE = 0,	/* never STARTTLS */
	SMTPC_TLS_MAY,		/* STARTTLS when offered; plaintext when not
				 * offered or refused */
	SMTPC_TLS_ENCRYPT,	/* TLS required: missing or refused ->
				 * 4.7.4, never plaintext */
	SMTPC_TLS_VERIFY,	/* as ENCRYPT; the caller also verifies the
				 * certificate during the handshake */
};

/* which command a status answers (for "in reply to ...") */
enum smtpc_stage {
	SMTPC_STAGE_NONE = 0,	/* our own check, nothing was sent */
	SMTPC_STAGE_GREETING,
	SMTPC_STAGE_EHLO,
	SMTPC_STAGE_HELO,
	SMTPC_STAGE_STARTTLS,
	SMTPC_STAGE_TLS,	/* the TLS handshake */
	SMTPC_STAGE_MAIL,
	SMTPC_STAGE_RCPT,
	SMTPC_STAGE_DATA,
	SMTPC_STAGE_BODY,	/* while the message data was being sent */
	SMTPC_STAGE_DOT,	/* after the final dot */
	SMTPC_STAGE_RSET,
	SMTPC_STAGE_AUTH,	/* AUTH PLAIN to a smarthost (RFC 4954) */
};

enum smtpc_want {
	SMTPC_WANT_READ,
	SMTPC_WANT_TLS,
	SMTPC_WANT_BODY,
	SMTPC_WANT_JOB,
	SMTPC_WANT_CLOSE,
};

/* EHLO keywords the engine knows (smtpc_extensions) */
#define SMTPC_EXT_PIPELINING	0x001
#define SMTPC_EXT_SIZE		0x002
#define SMTPC_EXT_8BITMIME	0x004
#define SMTPC_EXT_SMTPUTF8	0x008
#define SMTPC_EXT_DSN		0x010
#define SMTPC_EXT_STARTTLS	0x020
#define SMTPC_EXT_CHUNKING	0x040
#define SMTPC_EXT_ENHANCED	0x080	/* ENHANCEDSTATUSCODES */
#define SMTPC_EXT_AUTH_PLAIN	0x100	/* AUTH with the PLAIN mechanism */

#define SMTPC_LINE_MAX_DEFAULT 2048	/* reply line bound, CRLF included */
#define SMTPC_LINE_MAX_MIN 512		/* RFC 5321 4.5.3.1.5 */

struct smtpc_config {
	const char *helo_name;	/* our name for EHLO/HELO (required:
				 * printable ASCII, no space, <= 255) */
	const char *remote;	/* "mx.example.net[192.0.2.1]" for statuses */
	enum smtpc_tls tls;
	int tls_on_connect;	/* already encrypted (port 465): no STARTTLS */
	int no_pipelining;	/* lock-step even when PIPELINING is offered */
	int accept_bare_code;	/* take a "250" line without text as valid
				 * (RFC 5321 4.2 grammar; Postfix and Exim do);
				 * 0: protocol error (CHECKLIST H) */
	size_t line_max;	/* 0: SMTPC_LINE_MAX_DEFAULT; less than
				 * SMTPC_LINE_MAX_MIN is raised to it */
	unsigned timeout[SMTPC_TO__COUNT];	/* seconds; 0: the RFC value */
	const char *auth_user;	/* AUTH PLAIN after EHLO (RFC 4954, 4616), only
				 * over TLS: NULL for none.  A missing AUTH, no
				 * TLS, or a refusal defers (4.7.x) */
	const char *auth_pass;
};

struct smtpc_rcpt {
	const char *addr;	/* in: "user@example.net", no angle brackets */
	unsigned notify;	/* in: NOTIFY_* bits (smtp/params.h), 0: none */
	const char *orcpt_type;	/* in: "rfc822", or NULL for no ORCPT */
	const char *orcpt;	/* in: the decoded original address */
	size_t orcpt_len;
	struct dstatus st;	/* out: final once job->done */
	enum smtpc_stage stage;	/* out: what st answers */
};

/* job flags */
#define SMTPC_JOB_8BIT		0x1	/* the body has 8-bit bytes */
#define SMTPC_JOB_SMTPUTF8	0x2	/* needs SMTPUTF8 (also implied by an
					 * 8-bit byte in an address) */
#define SMTPC_JOB_DOWNCONVERT	0x4	/* a 7-bit (quoted-printable) form
					 * can be sent to a peer without
					 * 8BITMIME; otherwise 5.6.3 */

struct smtpc_job {
	const char *sender;		/* in: reverse-path, "" for <> */
	struct smtpc_rcpt *rcpts;	/* in/out */
	size_t nrcpt;			/* in: at least 1 */
	long long size;			/* in: octets on the wire (CRLF, before
					 * dot-stuffing); SIZE= and the check;
					 * 0: unknown, no SIZE= sent */
	long long size_7bit;		/* in: the same after downconversion;
					 * 0: use size */
	unsigned flags;			/* in: SMTPC_JOB_* */
	enum dsn_ret ret;		/* in: RET_NONE, RET_FULL, RET_HDRS */
	const char *envid;		/* in: decoded ENVID or NULL */
	size_t envid_len;
	int done;			/* out: every rcpts[i].st is final */
	int downconvert;		/* out: send the 7-bit form (set before
					 * SMTPC_WANT_BODY) */
	int next_mx;			/* out: the failure was the session's
					 * (greeting, EHLO, TLS, 421, drop,
					 * timeout, protocol error): another
					 * MX may do better */
};

/* smtpc_new - an engine for one new connection (waiting for the
 * greeting); NULL on a bad config or out of memory */
struct smtpc *smtpc_new(const struct smtpc_config *cfg);

/* smtpc_free - release the engine (jobs are the caller's) */
void smtpc_free(struct smtpc *c);

/* smtpc_want - what the caller should do now */
enum smtpc_want smtpc_want(const struct smtpc *c);

/* smtpc_timeout - seconds the current wait (or body write) may take;
 * 0 when the engine sets no limit (idle, SMTPC_WANT_JOB) */
unsigned smtpc_timeout(const struct smtpc *c);

/* smtpc_output - the bytes to send, *len of them (NULL and 0: none) */
const char *smtpc_output(const struct smtpc *c, size_t *len);

/* smtpc_output_taken - the caller took the first n output bytes for
 * sending (call it when they go into the socket or its write buffer,
 * before reading the replies they cause) */
void smtpc_output_taken(struct smtpc *c, size_t n);

/* smtpc_feed - bytes received from the server */
void smtpc_feed(struct smtpc *c, const void *data, size_t len);

/* smtpc_tls_done - the handshake asked for by SMTPC_WANT_TLS finished;
 * ok = 0 with why (escaped here) when it failed: the job is deferred
 * (4.7.5) and the connection is over.  A "may" caller can reconnect
 * with SMTPC_TLS_NONE. */
void smtpc_tls_done(struct smtpc *c, int ok, const char *why);

/* smtpc_body_done - the whole body was written: queue ".\r\n" */
void smtpc_body_done(struct smtpc *c);

/* smtpc_timed_out - the wait smtpc_timeout() gave expired: pending
 * recipients are deferred (4.4.2), the connection is over */
void smtpc_timed_out(struct smtpc *c);

/* smtpc_conn_lost - the server closed the connection or it failed (why:
 * NULL for a plain EOF): pending recipients are deferred (4.4.2) */
void smtpc_conn_lost(struct smtpc *c, const char *why);

/* smtpc_job_start - run job next (right after smtpc_new, or when the
 * engine wants a job); -1 when another job is running or the connection
 * is over (then the job is untouched) */
int smtpc_job_start(struct smtpc *c, struct smtpc_job *job);

/* smtpc_quit - end the connection (QUIT when it is idle); -1 while a job
 * runs */
int smtpc_quit(struct smtpc *c);

/* smtpc_extensions - SMTPC_EXT_* bits of the last EHLO (0 after HELO) */
unsigned smtpc_extensions(const struct smtpc *c);

/* smtpc_size_limit - the peer's SIZE limit, 0 when none */
long long smtpc_size_limit(const struct smtpc *c);

/* smtpc_tls_active - is the connection encrypted (STARTTLS done or
 * tls_on_connect)? */
int smtpc_tls_active(const struct smtpc *c);

/* smtpc_discarded - bytes dropped after the 220 to STARTTLS (an
 * injection attempt when not 0; worth a log line) */
size_t smtpc_discarded(const struct smtpc *c);

/* smtpc_status - the status that ended the connection (cls DS_OK with
 * code 0 while it has not failed); for logging a failure without a job */
const struct dstatus *smtpc_status(const struct smtpc *c);

/* smtpc_stage_name - "RCPT TO", "end of DATA" ... ("" for NONE) */
const char *smtpc_stage_name(enum smtpc_stage s);

#endif

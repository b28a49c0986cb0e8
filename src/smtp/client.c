/* client - the I/O-free SMTP client engine: server replies in, commands
 * out, one struct dstatus per recipient (see client.h for the caller's
 * side of the contract).
 *
 * Public: smtpc_new, smtpc_free, smtpc_want, smtpc_timeout, smtpc_output,
 * smtpc_output_taken, smtpc_feed, smtpc_tls_done, smtpc_body_done,
 * smtpc_timed_out, smtpc_conn_lost, smtpc_job_start, smtpc_quit,
 * smtpc_extensions, smtpc_size_limit, smtpc_tls_active, smtpc_discarded,
 * smtpc_status, smtpc_stage_name.
 *
 * Shape: every command sent pushes one entry on a FIFO of expected replies
 * (its stage, the recipient index, and the output offset where the
 * command ends); every complete reply pops the head and goes to that
 * stage's handler (one table, reply_handler[]).  The connection state is
 * coarse (waiting for replies, TLS handshake, idle, body, done); where the
 * transaction stands is in struct smtpc's txn fields.
 *
 * Invariants:
 * - A reply is matched only to a command the caller has taken for sending
 *   (out_taken >= entry.end); an earlier one, or one with no command
 *   outstanding, is a protocol error (CHECKLIST H "early reply",
 *   "unsolicited lines").
 * - After the 220 to STARTTLS nothing the server sent in plaintext is
 *   looked at again (RFC 3207 4.2, CHECKLIST D, CVE-2011-0411 mirror).
 * - Every recipient of a job gets exactly one final status; a status is
 *   never overwritten (settle_* skip final recipients).
 * - 421 in reply to anything ends the connection (RFC 5321 3.8); so does
 *   every protocol error, timeout and loss, without QUIT.
 * - No byte from the server reaches a status unescaped (OpenSMTPD
 *   CVE-2020-8794): text_escape is the only way in.
 * - Out of memory is sticky (c->oom) and ends the connection with 4.3.0.
 */
#include "smtp/client.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/linereader.h"
#include "smtp/replyparse.h"
#include "smtp/xtext.h"
#include "util/buf.h"

#define HELO_NAME_MAX 255
#define EXCERPT_MAX 100		/* server bytes quoted in a protocol error */
#define IDX_ABORT ((size_t)-1)	/* DOT entry: the lone dot after a 354 that
				 * came with no recipient accepted */

/* RFC 5321 4.5.3.2 */
static const unsigned default_timeout[SMTPC_TO__COUNT] = {
	[SMTPC_TO_GREETING] = 300, [SMTPC_TO_HELO] = 300,
	[SMTPC_TO_MAIL] = 300, [SMTPC_TO_RCPT] = 300, [SMTPC_TO_DATA] = 120,
	[SMTPC_TO_BLOCK] = 180, [SMTPC_TO_DOT] = 600,
};

enum cstate {
	CS_WAIT,	/* replies outstanding (the FIFO is not empty) */
	CS_TLS,		/* the caller does the TLS handshake */
	CS_READY,	/* session up, nothing outstanding */
	CS_BODY,	/* the caller sends the message data */
	CS_DONE,	/* over; the output may still hold a QUIT */
};

enum rstate { R_PENDING = 0, R_ACCEPTED, R_FINAL };

struct expect {
	enum smtpc_stage stage;
	size_t idx;			/* recipient (RCPT) or IDX_ABORT (DOT) */
	unsigned long long end;		/* output offset after the command */
};

struct smtpc {
	char helo[HELO_NAME_MAX + 1];
	char remote[DSTATUS_REMOTE_MAX];
	enum smtpc_tls tls_policy;
	int no_pipelining, accept_bare_code;
	size_t line_max;
	unsigned timeout[SMTPC_TO__COUNT];

	enum cstate state;
	int tls;			/* the connection is encrypted */
	unsigned ext;			/* SMTPC_EXT_* of the last EHLO */
	long long size_limit;
	int quit_after;			/* QUIT once the RSET reply is in */
	int oom;
	size_t discarded;
	struct dstatus st;		/* what ended the connection */
	char *auth;			/* "AUTH PLAIN <base64>", NULL: no AUTH */
	int authed;

	buf_t in;			/* server bytes not yet parsed ... */
	size_t in_off;			/* ... from this offset */
	buf_t out;			/* commands the caller has not taken */
	unsigned long long out_taken;	/* bytes taken since the start */
	struct expect *exp;
	size_t exp_head, exp_tail, exp_cap;
	struct smtp_reply reply;

	struct smtpc_job *job;		/* the running job, NULL when none */
	int started;			/* its commands are under way */
	unsigned char *rst;		/* enum rstate per recipient */
	size_t rst_cap;
	int mail_ok;			/* 0 unanswered, 1 accepted, -1 refused */
	size_t next_rcpt;		/* lock-step: the next RCPT to send */
	size_t accepted;
	int data_sent;
	int need_rset;			/* a transaction is open on the server */
};

typedef void reply_fn(struct smtpc *c, const struct smtp_reply *r,
		      size_t idx);

static void send_ehlo(struct smtpc *c);
static void start_auth(struct smtpc *c, enum smtpc_stage stage);
static void become_ready(struct smtpc *c);
static void txn_continue(struct smtpc *c);

/* ---- escaping and statuses ---- */

/* text_escape - append src[0..len) to dst (dstsz bytes, *o used) as one
 * line: '\n' becomes a space, bytes outside printable ASCII and '\' become
 * \xHH; cut with "..." when it does not fit.  dst stays NUL-terminated. */
static void text_escape(char *dst, size_t dstsz, size_t *o, const char *src,
			size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, k;
	char tmp[4];

	if (dstsz < 8 || *o >= dstsz)
		return;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];

		k = 0;
		if (ch == '\n')
			tmp[k++] = ' ';
		else if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
			tmp[k++] = '\\'; tmp[k++] = 'x';
			tmp[k++] = hex[ch >> 4]; tmp[k++] = hex[ch & 15];
		} else
			tmp[k++] = (char)ch;
		if (*o + k + 4 > dstsz) {
			if (*o + 4 <= dstsz) {
				memcpy(dst + *o, "...", 3);
				*o += 3;
			}
			break;
		}
		memcpy(dst + *o, tmp, k);
		*o += k;
	}
	dst[*o] = '\0';
}

/* esc_str - src[0..len) escaped into dst (dstsz bytes); returns dst */
static char *esc_str(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t o = 0;

	dst[0] = '\0';
	text_escape(dst, dstsz, &o, src, len);
	return dst;
}

/* class_of - the status class of a reply code */
static enum dclass class_of(int code)
{
	if (code / 100 == 2)
		return DS_OK;
	return code / 100 == 5 ? DS_PERM : DS_TEMP;
}

/* reply_status - the status a reply gives: its code, its enhanced code or
 * RFC 3463's "X.0.0", its text escaped to one line */
static void reply_status(const struct smtpc *c, struct dstatus *st,
			 const struct smtp_reply *r)
{
	size_t o = 0;

	memset(st, 0, sizeof(*st));
	st->cls = class_of(r->code);
	st->code = r->code;
	if (r->enh[0])
		snprintf(st->enh, sizeof(st->enh), "%s", r->enh);
	else
		snprintf(st->enh, sizeof(st->enh), "%d.0.0", r->code / 100);
	text_escape(st->text, sizeof(st->text), &o, r->text, r->text_len);
	snprintf(st->remote, sizeof(st->remote), "%s", c->remote);
	st->remote_said = 1;
}

/* own_status - our own verdict; fmt's arguments are already escaped */
__attribute__((format(printf, 6, 7)))
static void own_status(const struct smtpc *c, struct dstatus *st,
		       enum dclass cls, int code, const char *enh,
		       const char *fmt, ...)
{
	va_list ap;

	memset(st, 0, sizeof(*st));
	st->cls = cls;
	st->code = code;
	snprintf(st->enh, sizeof(st->enh), "%s", enh);
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
	snprintf(st->remote, sizeof(st->remote), "%s", c->remote);
}

/* settle_one - give recipient i its final status, unless it has one */
static void settle_one(struct smtpc *c, size_t i, const struct dstatus *st,
		       enum smtpc_stage stage)
{
	if (c->rst[i] == R_FINAL)
		return;
	c->job->rcpts[i].st = *st;
	c->job->rcpts[i].stage = stage;
	c->rst[i] = R_FINAL;
}

/* settle_all - the status for every recipient that has none yet (pending
 * or accepted) */
static void settle_all(struct smtpc *c, const struct dstatus *st,
		       enum smtpc_stage stage)
{
	size_t i;

	for (i = 0; i < c->job->nrcpt; i++)
		settle_one(c, i, st, stage);
}

/* ---- output and the FIFO of expected replies ---- */

/* put - append n bytes of command text to the output (sticky oom) */
static void put(struct smtpc *c, const char *s, size_t n)
{
	if (!c->oom && buf_append(&c->out, s, n) < 0)
		c->oom = 1;
}

/* put_s - append a C string */
static void put_s(struct smtpc *c, const char *s)
{
	put(c, s, strlen(s));
}

/* exp_reserve - room for n more expected replies */
static int exp_reserve(struct smtpc *c, size_t n)
{
	struct expect *p;
	size_t cap;

	if (c->exp_tail + n <= c->exp_cap)
		return 0;
	if (n > ((size_t)-1) / sizeof(*p) / 2 - c->exp_tail)
		return -1;
	cap = (c->exp_tail + n) * 2;
	p = realloc(c->exp, cap * sizeof(*p));
	if (!p)
		return -1;
	c->exp = p;
	c->exp_cap = cap;
	return 0;
}

/* expect - the command just put ends here; its reply is for stage */
static void expect(struct smtpc *c, enum smtpc_stage stage, size_t idx)
{
	struct expect *e;

	if (c->oom || exp_reserve(c, 1) < 0) {
		c->oom = 1;
		return;
	}
	e = &c->exp[c->exp_tail++];
	e->stage = stage;
	e->idx = idx;
	e->end = c->out_taken + c->out.len;
	c->state = CS_WAIT;
}

/* command - put a whole command line (CRLF added) and expect its reply */
static void command(struct smtpc *c, const char *line, enum smtpc_stage stage,
		    size_t idx)
{
	put_s(c, line);
	put(c, "\r\n", 2);
	expect(c, stage, idx);
}

/* exp_head - the reply due next, NULL when none */
static const struct expect *exp_head(const struct smtpc *c)
{
	return c->exp_head < c->exp_tail ? &c->exp[c->exp_head] : NULL;
}

/* exp_pop - drop the head entry */
static void exp_pop(struct smtpc *c)
{
	if (++c->exp_head >= c->exp_tail)
		c->exp_head = c->exp_tail = 0;
}

/* ---- ending things ---- */

/* job_finish - the job is done: hand it back */
static void job_finish(struct smtpc *c)
{
	c->job->done = 1;
	c->job = NULL;
	c->started = 0;
}

/* conn_fail - the session is over: every unsettled recipient of the job
 * (started or waiting) gets st, then QUIT when quit and the server can
 * still take it (RFC 5321 3.1, 4.1.1.10), else just close */
static void conn_fail(struct smtpc *c, const struct dstatus *st,
		      enum smtpc_stage stage, int quit)
{
	if (c->job) {
		settle_all(c, st, stage);
		c->job->next_mx = 1;
		job_finish(c);
	}
	c->st = *st;
	c->exp_head = c->exp_tail = 0;
	buf_reset(&c->in);
	c->in_off = 0;
	buf_reset(&c->out);
	rp_init(&c->reply);
	c->oom = 0;
	if (quit)
		put(c, "QUIT\r\n", 6);
	c->state = CS_DONE;
}

/* current_stage - what the connection is waiting for */
static enum smtpc_stage current_stage(const struct smtpc *c)
{
	const struct expect *e = exp_head(c);

	if (c->state == CS_BODY)
		return SMTPC_STAGE_BODY;
	if (c->state == CS_TLS)
		return SMTPC_STAGE_TLS;
	return e ? e->stage : SMTPC_STAGE_NONE;
}

/* proto_error - the server broke the protocol (bytes: the offending
 * ones): defer everything pending, close without QUIT */
static void proto_error(struct smtpc *c, const char *what, const char *bytes,
			size_t n)
{
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	esc_str(esc, sizeof(esc), bytes, n < EXCERPT_MAX ? n : EXCERPT_MAX);
	own_status(c, &st, DS_TEMP, 451, "4.5.0", "protocol error: %s: \"%s%s\"",
		   what, esc, n > EXCERPT_MAX ? "..." : "");
	conn_fail(c, &st, current_stage(c), 0);
}

/* proto_reply - a reply code this stage does not allow */
static void proto_reply(struct smtpc *c, const struct smtp_reply *r,
			enum smtpc_stage stage)
{
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	esc_str(esc, sizeof(esc), r->text,
		r->text_len < EXCERPT_MAX ? r->text_len : EXCERPT_MAX);
	own_status(c, &st, DS_TEMP, 451, "4.5.0",
		   "protocol error: unexpected reply to %s: \"%d %s\"",
		   smtpc_stage_name(stage), r->code, esc);
	conn_fail(c, &st, stage, 0);
}

/* check_oom - turn a failed allocation into a deferral */
static void check_oom(struct smtpc *c)
{
	struct dstatus st;

	if (!c->oom)
		return;
	own_status(c, &st, DS_TEMP, 451, "4.3.0", "out of memory");
	conn_fail(c, &st, current_stage(c), 0);
}

/* ---- the transaction ---- */

/* addr_ok - no control bytes that could end or split a command line */
static int addr_ok(const char *a)
{
	const unsigned char *p;

	for (p = (const unsigned char *)a; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* has_8bit - a byte >= 0x80 in a */
static int has_8bit(const char *a)
{
	const unsigned char *p;

	for (p = (const unsigned char *)a; p && *p; p++)
		if (*p >= 0x80)
			return 1;
	return 0;
}

/* needs_utf8 - RFC 6531: asked for, or a UTF-8 address */
static int needs_utf8(const struct smtpc_job *j)
{
	size_t i;

	if ((j->flags & SMTPC_JOB_SMTPUTF8) || has_8bit(j->sender))
		return 1;
	for (i = 0; i < j->nrcpt; i++)
		if (has_8bit(j->rcpts[i].addr))
			return 1;
	return 0;
}

/* wire_size - the size that will be sent */
static long long wire_size(const struct smtpc_job *j)
{
	return j->downconvert && j->size_7bit > 0 ? j->size_7bit : j->size;
}

/* precheck - what the peer's extensions rule out before anything is
 * sent: SMTPUTF8 (RFC 6531 3.4), 8BITMIME (RFC 6152 3), SIZE (RFC 1870
 * 6); -1 when the job is settled */
static int precheck(struct smtpc *c)
{
	struct smtpc_job *j = c->job;
	struct dstatus st;

	if (needs_utf8(j) && !(c->ext & SMTPC_EXT_SMTPUTF8)) {
		own_status(c, &st, DS_PERM, 554, "5.6.7", "SMTPUTF8 is "
			   "required, but the server does not offer it");
		settle_all(c, &st, SMTPC_STAGE_NONE);
		return -1;
	}
	if ((j->flags & SMTPC_JOB_8BIT) && !(c->ext & SMTPC_EXT_8BITMIME)) {
		if (!(j->flags & SMTPC_JOB_DOWNCONVERT)) {
			own_status(c, &st, DS_PERM, 554, "5.6.3", "the message "
				   "has 8-bit content, but the server does not "
				   "offer 8BITMIME");
			settle_all(c, &st, SMTPC_STAGE_NONE);
			return -1;
		}
		j->downconvert = 1;
	}
	if ((c->ext & SMTPC_EXT_SIZE) && c->size_limit > 0 &&
	    wire_size(j) > c->size_limit) {
		own_status(c, &st, DS_PERM, 552, "5.3.4", "message size %lld "
			   "exceeds the server's limit of %lld", wire_size(j),
			   c->size_limit);
		settle_all(c, &st, SMTPC_STAGE_NONE);
		return -1;
	}
	return 0;
}

/* put_xtext - " KEY=" then prefix then xtext of v[0..n) (RFC 3461 4) */
static void put_xtext(struct smtpc *c, const char *key, const char *prefix,
		      const char *v, size_t n)
{
	char enc[ORCPT_MAX * 3 + 1];

	if (n > ORCPT_MAX || xtext_encode(v, n, enc, sizeof(enc)) < 0)
		return;
	put_s(c, key);
	put_s(c, prefix);
	put_s(c, enc);
}

/* send_mail - MAIL FROM with SIZE, BODY, SMTPUTF8, RET, ENVID as the peer
 * and the job allow */
static void send_mail(struct smtpc *c)
{
	const struct smtpc_job *j = c->job;
	int dsn = (c->ext & SMTPC_EXT_DSN) != 0;
	char num[32];

	put_s(c, "MAIL FROM:<");
	put_s(c, j->sender);
	put(c, ">", 1);
	if ((c->ext & SMTPC_EXT_SIZE) && wire_size(j) > 0) {
		snprintf(num, sizeof(num), " SIZE=%lld", wire_size(j));
		put_s(c, num);
	}
	if ((j->flags & SMTPC_JOB_8BIT) && !j->downconvert)
		put_s(c, " BODY=8BITMIME");
	if (needs_utf8(j))
		put_s(c, " SMTPUTF8");
	if (dsn && j->ret != RET_NONE)
		put_s(c, j->ret == RET_FULL ? " RET=FULL" : " RET=HDRS");
	if (dsn && j->envid && j->envid_len <= ENVID_MAX)
		put_xtext(c, " ENVID=", "", j->envid, j->envid_len);
	put(c, "\r\n", 2);
	expect(c, SMTPC_STAGE_MAIL, 0);
}

/* orcpt_type_ok - RFC 3461 4.2 addr-type: an atom, short */
static int orcpt_type_ok(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > 31)
		return 0;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '-'))
			return 0;
	return 1;
}

/* put_notify - " NOTIFY=NEVER" or the list (RFC 3461 4.1) */
static void put_notify(struct smtpc *c, unsigned notify)
{
	const char *sep = "=";

	if (notify == NOTIFY_NONE)
		return;
	put_s(c, " NOTIFY");
	if (notify & NOTIFY_NEVER) {
		put_s(c, "=NEVER");
		return;
	}
	if (notify & NOTIFY_SUCCESS) {
		put_s(c, sep);
		put_s(c, "SUCCESS");
		sep = ",";
	}
	if (notify & NOTIFY_FAILURE) {
		put_s(c, sep);
		put_s(c, "FAILURE");
		sep = ",";
	}
	if (notify & NOTIFY_DELAY) {
		put_s(c, sep);
		put_s(c, "DELAY");
	}
}

/* send_rcpt - RCPT TO for recipient i, NOTIFY and ORCPT when DSN is
 * offered */
static void send_rcpt(struct smtpc *c, size_t i)
{
	const struct smtpc_rcpt *r = &c->job->rcpts[i];

	put_s(c, "RCPT TO:<");
	put_s(c, r->addr);
	put(c, ">", 1);
	if (c->ext & SMTPC_EXT_DSN) {
		put_notify(c, r->notify);
		if (r->orcpt_type && r->orcpt && orcpt_type_ok(r->orcpt_type)) {
			char prefix[40];

			snprintf(prefix, sizeof(prefix), "%s;", r->orcpt_type);
			put_xtext(c, " ORCPT=", prefix, r->orcpt, r->orcpt_len);
		}
	}
	put(c, "\r\n", 2);
	expect(c, SMTPC_STAGE_RCPT, i);
}

/* check_addrs - settle the recipients (or, for the sender, the job) whose
 * address could break the command line; the number left to send */
static size_t check_addrs(struct smtpc *c)
{
	struct smtpc_job *j = c->job;
	struct dstatus st;
	size_t i, left = 0;

	if (!addr_ok(j->sender)) {
		own_status(c, &st, DS_PERM, 553, "5.1.7", "bad sender address");
		settle_all(c, &st, SMTPC_STAGE_NONE);
		return 0;
	}
	own_status(c, &st, DS_PERM, 553, "5.1.3", "bad recipient address");
	for (i = 0; i < j->nrcpt; i++) {
		if (!j->rcpts[i].addr || !j->rcpts[i].addr[0] ||
		    !addr_ok(j->rcpts[i].addr))
			settle_one(c, i, &st, SMTPC_STAGE_NONE);
		else
			left++;
	}
	return left;
}

/* job_end - every recipient is settled: hand the job back, RSET when a
 * transaction is still open on the server */
static void job_end(struct smtpc *c)
{
	struct dstatus st;

	own_status(c, &st, DS_TEMP, 451, "4.3.0", "no status (internal error)");
	settle_all(c, &st, SMTPC_STAGE_NONE);
	job_finish(c);
	if (c->need_rset) {
		command(c, "RSET", SMTPC_STAGE_RSET, 0);
		return;
	}
	become_ready(c);
}

/* txn_start - run the job: checks, then MAIL, and with PIPELINING every
 * RCPT and DATA in the same group (RFC 2920 3.1) */
static void txn_start(struct smtpc *c)
{
	struct smtpc_job *j = c->job;
	size_t i;

	c->started = 1;
	c->mail_ok = 0;
	c->next_rcpt = 0;
	c->accepted = 0;
	c->data_sent = 0;
	if (check_addrs(c) == 0 || precheck(c) < 0) {
		job_end(c);
		return;
	}
	send_mail(c);
	if (!(c->ext & SMTPC_EXT_PIPELINING) || c->no_pipelining)
		return;
	if (exp_reserve(c, j->nrcpt + 1) < 0)
		c->oom = 1;
	for (i = 0; i < j->nrcpt; i++)
		if (c->rst[i] == R_PENDING)
			send_rcpt(c, i);
	command(c, "DATA", SMTPC_STAGE_DATA, 0);
	c->next_rcpt = j->nrcpt;
	c->data_sent = 1;
}

/* txn_next - nothing outstanding: the next lock-step command, or the end
 * of the job */
static void txn_next(struct smtpc *c)
{
	const struct smtpc_job *j = c->job;

	if (c->mail_ok == 1) {
		while (c->next_rcpt < j->nrcpt && c->rst[c->next_rcpt] != R_PENDING)
			c->next_rcpt++;
		if (c->next_rcpt < j->nrcpt) {
			send_rcpt(c, c->next_rcpt++);
			return;
		}
		if (!c->data_sent && c->accepted > 0) {
			c->data_sent = 1;
			command(c, "DATA", SMTPC_STAGE_DATA, 0);
			return;
		}
	}
	job_end(c);
}

/* txn_continue - after a transaction reply: wait for the rest of a
 * pipelined group, or go on */
static void txn_continue(struct smtpc *c)
{
	if (c->state == CS_WAIT && exp_head(c) == NULL)
		txn_next(c);
}

/* ---- session setup ---- */

/* become_ready - the session is up and idle: QUIT if asked, else run the
 * waiting job */
static void become_ready(struct smtpc *c)
{
	c->state = CS_READY;
	if (c->quit_after) {
		put(c, "QUIT\r\n", 6);
		c->state = CS_DONE;
		return;
	}
	if (c->job && !c->started)
		txn_start(c);
}

/* send_ehlo - EHLO <our name> (RFC 5321 4.1.1.1) */
static void send_ehlo(struct smtpc *c)
{
	put_s(c, "EHLO ");
	command(c, c->helo, SMTPC_STAGE_EHLO, 0);
}

/* size_value - the SIZE keyword's number (RFC 1870 4), 0 when absent,
 * LLONG_MAX when too big */
static long long size_value(const char *p, size_t n)
{
	long long v = 0;
	size_t i = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (LLONG_MAX - (p[i] - '0')) / 10)
			return LLONG_MAX;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* ehlo_keyword - record one EHLO line "KEYWORD [params]" */
static void ehlo_keyword(struct smtpc *c, const char *p, size_t n)
{
	static const struct { const char *kw; unsigned bit; } kws[] = {
		{ "PIPELINING", SMTPC_EXT_PIPELINING },
		{ "SIZE", SMTPC_EXT_SIZE },
		{ "8BITMIME", SMTPC_EXT_8BITMIME },
		{ "SMTPUTF8", SMTPC_EXT_SMTPUTF8 },
		{ "DSN", SMTPC_EXT_DSN },
		{ "STARTTLS", SMTPC_EXT_STARTTLS },
		{ "CHUNKING", SMTPC_EXT_CHUNKING },
		{ "ENHANCEDSTATUSCODES", SMTPC_EXT_ENHANCED },
	};
	size_t kl = 0, i;

	while (kl < n && p[kl] != ' ')
		kl++;
	if (kl == 4 && strncasecmp(p, "AUTH", 4) == 0) {	/* "AUTH LOGIN PLAIN ..." */
		for (i = kl; i + 5 <= n; i++)
			if (strncasecmp(p + i, "PLAIN", 5) == 0 && p[i - 1] == ' ' &&
			    (i + 5 == n || p[i + 5] == ' '))
				c->ext |= SMTPC_EXT_AUTH_PLAIN;
		return;
	}
	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (strlen(kws[i].kw) != kl || strncasecmp(p, kws[i].kw, kl))
			continue;
		c->ext |= kws[i].bit;
		if (kws[i].bit == SMTPC_EXT_SIZE)
			c->size_limit = size_value(p + kl, n - kl);
	}
}

/* parse_ehlo - the extensions of an EHLO reply: every line after the
 * first (RFC 5321 4.1.1.1) */
static void parse_ehlo(struct smtpc *c, const struct smtp_reply *r)
{
	const char *p = r->text, *end = r->text + r->text_len, *nl;

	c->ext = 0;
	c->size_limit = 0;
	nl = memchr(p, '\n', r->text_len);
	while (nl) {
		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		ehlo_keyword(c, p, (size_t)((nl ? nl : end) - p));
	}
}

/* tls_required - may the session go on without TLS? */
static int tls_required(const struct smtpc *c)
{
	return c->tls_policy == SMTPC_TLS_ENCRYPT ||
	       c->tls_policy == SMTPC_TLS_VERIFY;
}

/* start_auth - AUTH PLAIN, never in clear; a server without it defers */
static void start_auth(struct smtpc *c, enum smtpc_stage stage)
{
	struct dstatus st;

	if (!c->tls) {
		own_status(c, &st, DS_TEMP, 451, "4.7.4", "AUTH needs TLS, but the "
			   "session is not encrypted");
		conn_fail(c, &st, stage, 1);
	} else if (!(c->ext & SMTPC_EXT_AUTH_PLAIN)) {
		own_status(c, &st, DS_TEMP, 451, "4.7.0", "the server offers no AUTH PLAIN");
		conn_fail(c, &st, stage, 1);
	} else {
		command(c, c->auth, SMTPC_STAGE_AUTH, 0);
	}
}

/* after_hello - STARTTLS when offered and wanted (RFC 3207); a required
 * TLS that is not offered defers (CHECKLIST D "outbound downgrade") */
static void after_hello(struct smtpc *c, enum smtpc_stage stage)
{
	struct dstatus st;

	if (!c->tls && c->tls_policy != SMTPC_TLS_NONE &&
	    (c->ext & SMTPC_EXT_STARTTLS)) {
		command(c, "STARTTLS", SMTPC_STAGE_STARTTLS, 0);
		return;
	}
	if (!c->tls && tls_required(c)) {
		own_status(c, &st, DS_TEMP, 451, "4.7.4", "TLS is required, "
			   "but the server does not offer STARTTLS");
		conn_fail(c, &st, stage, 1);
		return;
	}
	if (c->auth && !c->authed) {
		start_auth(c, stage);
		return;
	}
	become_ready(c);
}

/* ---- reply handlers, one per stage ---- */

/* session_refused - a 4xx/5xx to the greeting, EHLO or HELO */
static void session_refused(struct smtpc *c, const struct smtp_reply *r,
			    enum smtpc_stage stage)
{
	struct dstatus st;

	reply_status(c, &st, r);
	conn_fail(c, &st, stage, 1);
}

/* on_greeting - 220, or the server refuses us (RFC 5321 3.1, 4.3.2) */
static void on_greeting(struct smtpc *c, const struct smtp_reply *r,
			size_t idx)
{
	(void)idx;
	if (r->code == 220)
		send_ehlo(c);
	else if (r->code >= 400)
		session_refused(c, r, SMTPC_STAGE_GREETING);
	else
		proto_reply(c, r, SMTPC_STAGE_GREETING);
}

/* on_ehlo - extensions, or HELO after a 5xx (RFC 5321 4.1.4, 3.2) */
static void on_ehlo(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	(void)idx;
	if (r->code / 100 == 2) {
		parse_ehlo(c, r);
		after_hello(c, SMTPC_STAGE_EHLO);
	} else if (r->code / 100 == 5) {
		put_s(c, "HELO ");
		command(c, c->helo, SMTPC_STAGE_HELO, 0);
	} else if (r->code / 100 == 4)
		session_refused(c, r, SMTPC_STAGE_EHLO);
	else
		proto_reply(c, r, SMTPC_STAGE_EHLO);
}

/* on_helo - a plain SMTP peer: no extensions */
static void on_helo(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	(void)idx;
	if (r->code / 100 == 2) {
		c->ext = 0;
		c->size_limit = 0;
		after_hello(c, SMTPC_STAGE_HELO);
	} else if (r->code >= 400)
		session_refused(c, r, SMTPC_STAGE_HELO);
	else
		proto_reply(c, r, SMTPC_STAGE_HELO);
}

/* on_starttls - 220: the caller starts TLS and every plaintext byte
 * already here is dropped (RFC 3207 4.2, CHECKLIST D); refused: go on in
 * plaintext only when TLS is not required */
static void on_starttls(struct smtpc *c, const struct smtp_reply *r,
			size_t idx)
{
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	(void)idx;
	if (r->code == 220) {
		c->discarded += c->in.len - c->in_off;
		buf_reset(&c->in);
		c->in_off = 0;
		c->state = CS_TLS;
	} else if (r->code < 400) {
		proto_reply(c, r, SMTPC_STAGE_STARTTLS);
	} else if (tls_required(c)) {
		esc_str(esc, sizeof(esc), r->text, r->text_len < EXCERPT_MAX ?
			r->text_len : EXCERPT_MAX);
		own_status(c, &st, DS_TEMP, 451, "4.7.4", "TLS is required, but "
			   "the server refused STARTTLS: %d %s", r->code, esc);
		conn_fail(c, &st, SMTPC_STAGE_STARTTLS, 1);
	} else
		become_ready(c);
}

/* on_auth - 235, or the credentials were refused: defer (a password to
 * fix is no reason to bounce the mail) */
static void on_auth(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	struct dstatus st;

	(void)idx;
	if (r->code == 235) {
		c->authed = 1;
		become_ready(c);
	} else if (r->code >= 400) {
		reply_status(c, &st, r);
		st.cls = DS_TEMP;	/* keep the class of the codes consistent */
		if (st.code >= 500)
			st.code = 451;
		if (st.enh[0] == '5')
			st.enh[0] = '4';
		conn_fail(c, &st, SMTPC_STAGE_AUTH, 0);
	} else {
		proto_reply(c, r, SMTPC_STAGE_AUTH);
	}
}

/* on_mail - RFC 5321 4.1.1.2; a refusal settles every recipient */
static void on_mail(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	struct dstatus st;

	(void)idx;
	if (r->code / 100 == 2) {
		c->mail_ok = 1;
		c->need_rset = 1;
	} else if (r->code >= 400) {
		c->mail_ok = -1;
		reply_status(c, &st, r);
		settle_all(c, &st, SMTPC_STAGE_MAIL);
	} else {
		proto_reply(c, r, SMTPC_STAGE_MAIL);
		return;
	}
	txn_continue(c);
}

/* on_rcpt - per recipient: 2xx accepted, 4xx deferred, 5xx refused
 * (RFC 5321 4.1.1.3); ignored after a refused MAIL (RFC 2920 3.1) */
static void on_rcpt(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	struct dstatus st;

	if (r->code / 100 == 3) {
		proto_reply(c, r, SMTPC_STAGE_RCPT);
		return;
	}
	if (c->mail_ok == 1) {
		if (r->code / 100 == 2) {
			if (c->rst[idx] == R_PENDING) {
				c->rst[idx] = R_ACCEPTED;
				c->accepted++;
			}
		} else {
			reply_status(c, &st, r);
			settle_one(c, idx, &st, SMTPC_STAGE_RCPT);
		}
	}
	txn_continue(c);
}

/* on_data - 354: the body; a 354 with no recipient accepted (a pipelined
 * group) gets a lone dot; 4xx/5xx settles the accepted recipients */
static void on_data(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	struct dstatus st;

	(void)idx;
	if (r->code == 354) {
		if (c->mail_ok == 1 && c->accepted > 0) {
			c->state = CS_BODY;
			return;
		}
		c->need_rset = 1;	/* whatever the server thinks it has */
		command(c, ".", SMTPC_STAGE_DOT, IDX_ABORT);
		return;
	}
	if (r->code < 400) {
		proto_reply(c, r, SMTPC_STAGE_DATA);
		return;
	}
	if (c->mail_ok == 1) {
		reply_status(c, &st, r);
		settle_all(c, &st, SMTPC_STAGE_DATA);
	}
	txn_continue(c);
}

/* on_dot - the reply after the data applies to every accepted recipient
 * (RFC 5321 4.1.1.4); the transaction is over either way */
static void on_dot(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	struct dstatus st;

	if (r->code / 100 == 3) {
		proto_reply(c, r, SMTPC_STAGE_DOT);
		return;
	}
	if (idx != IDX_ABORT) {
		reply_status(c, &st, r);
		/* RFC 3461 5.2.2: a peer without DSN means "relayed" */
		st.dsn_passed = st.cls == DS_OK && (c->ext & SMTPC_EXT_DSN);
		settle_all(c, &st, SMTPC_STAGE_DOT);
		c->need_rset = 0;
	}
	txn_continue(c);
}

/* on_rset - 2xx: idle again; anything else: the session cannot be
 * trusted with another transaction */
static void on_rset(struct smtpc *c, const struct smtp_reply *r, size_t idx)
{
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	(void)idx;
	if (r->code / 100 == 2) {
		c->need_rset = 0;
		become_ready(c);
		return;
	}
	esc_str(esc, sizeof(esc), r->text,
		r->text_len < EXCERPT_MAX ? r->text_len : EXCERPT_MAX);
	own_status(c, &st, DS_TEMP, 451, "4.5.0", "RSET failed: %d %s",
		   r->code, esc);
	conn_fail(c, &st, SMTPC_STAGE_RSET, r->code >= 400);
}

static reply_fn *const reply_handler[] = {
	[SMTPC_STAGE_GREETING] = on_greeting,
	[SMTPC_STAGE_EHLO] = on_ehlo,
	[SMTPC_STAGE_HELO] = on_helo,
	[SMTPC_STAGE_STARTTLS] = on_starttls,
	[SMTPC_STAGE_MAIL] = on_mail,
	[SMTPC_STAGE_RCPT] = on_rcpt,
	[SMTPC_STAGE_DATA] = on_data,
	[SMTPC_STAGE_DOT] = on_dot,
	[SMTPC_STAGE_RSET] = on_rset,
	[SMTPC_STAGE_AUTH] = on_auth,
};

/* on_body_reply - a reply while the data is being sent (CHECKLIST H
 * "mid-DATA 550"): 4xx/5xx settles the accepted recipients; anything else
 * is an early reply; the connection is over */
static void on_body_reply(struct smtpc *c, const struct smtp_reply *r)
{
	struct dstatus st;

	if (r->code < 400) {
		proto_reply(c, r, SMTPC_STAGE_BODY);
		return;
	}
	reply_status(c, &st, r);
	conn_fail(c, &st, SMTPC_STAGE_BODY, 0);
}

/* on_reply - a complete reply: 421 ends everything (RFC 5321 3.8), else
 * the handler of the stage it answers */
static void on_reply(struct smtpc *c, const struct smtp_reply *r)
{
	const struct expect *e = exp_head(c);
	struct dstatus st;
	enum smtpc_stage stage;
	size_t idx;

	if (c->state == CS_BODY || !e) {
		on_body_reply(c, r);
		return;
	}
	stage = e->stage;
	idx = e->idx;
	exp_pop(c);
	if (r->code == 421) {
		reply_status(c, &st, r);
		conn_fail(c, &st, stage, 0);
		return;
	}
	reply_handler[stage](c, r, idx);
}

/* reply_due - may a reply start now?  One must be outstanding and its
 * command taken for sending; during the body any reply is handled */
static int reply_due(struct smtpc *c, const char *p, size_t n)
{
	const struct expect *e = exp_head(c);

	if (c->state == CS_BODY)
		return 1;
	if (!e) {
		proto_error(c, "unsolicited reply", p, n);
		return 0;
	}
	if (c->out_taken < e->end) {
		proto_error(c, "reply before the command was sent", p, n);
		return 0;
	}
	return 1;
}

/* parsing - is the engine in a state that reads replies? */
static int parsing(const struct smtpc *c)
{
	return c->state == CS_WAIT || c->state == CS_READY ||
	       c->state == CS_BODY;
}

/* input_line - one complete line from the server; 0 to go on */
static int input_line(struct smtpc *c, const char *p, const struct lr_line *ln)
{
	enum rp_result res;

	if (c->reply.lines == 0 && !reply_due(c, p, ln->len))
		return -1;
	if (ln->bare_lf) {
		proto_error(c, "reply line ends in a bare LF", p, ln->consumed);
		return -1;
	}
	if (ln->len == 3 && !c->accept_bare_code) {
		proto_error(c, "reply code without text", p, ln->len);
		return -1;
	}
	res = rp_line(&c->reply, p, ln->len);
	if (res == RP_ERROR) {
		proto_error(c, "malformed reply", p, ln->len);
		return -1;
	}
	c->in_off += ln->consumed;
	if (res == RP_DONE) {
		on_reply(c, &c->reply);
		rp_init(&c->reply);
	}
	return 0;
}

/* process_input - parse every complete line held, as long as the state
 * reads replies */
static void process_input(struct smtpc *c)
{
	struct lr_line ln;
	enum lr_result lr;

	while (parsing(c) && c->in_off < c->in.len) {
		const char *p = c->in.data + c->in_off;
		size_t n = c->in.len - c->in_off;

		lr = lr_scan(p, n, c->line_max, &ln);
		if (lr == LR_NEED_MORE)
			break;
		if (lr == LR_TOO_LONG) {
			proto_error(c, "reply line too long", p, n);
			break;
		}
		if (input_line(c, p, &ln) < 0)
			break;
	}
	if (c->in_off > 0) {
		buf_consume(&c->in, c->in_off);
		c->in_off = 0;
	}
}

/* ---- public ---- */

/* name_ok - our EHLO name: printable ASCII without spaces */
static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n == 0 || n > HELO_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* auth_line - "AUTH PLAIN " + base64("\0user\0pass") (RFC 4616) */
static int auth_line(struct smtpc *c, const char *user, const char *pass)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t ul = strlen(user), pl = strlen(pass), n = ul + pl + 2, i, o = 11;
	unsigned char *raw;

	if (ul > 255 || pl > 255 || strpbrk(user, "\r\n") || strpbrk(pass, "\r\n"))
		return -1;
	raw = malloc(n);
	c->auth = malloc(11 + (n + 2) / 3 * 4 + 1);
	if (!raw || !c->auth) {
		free(raw);
		return -1;
	}
	raw[0] = 0;
	memcpy(raw + 1, user, ul);
	raw[ul + 1] = 0;
	memcpy(raw + ul + 2, pass, pl);
	memcpy(c->auth, "AUTH PLAIN ", 11);
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) |
			     (i + 2 < n ? raw[i + 2] : 0);

		c->auth[o++] = b64[v >> 18 & 63];
		c->auth[o++] = b64[v >> 12 & 63];
		c->auth[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		c->auth[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	c->auth[o] = '\0';
	explicit_bzero(raw, n);
	free(raw);
	return 0;
}

/* smtpc_new - a fresh engine waiting for the greeting */
struct smtpc *smtpc_new(const struct smtpc_config *cfg)
{
	struct smtpc *c;
	int i;

	if (!cfg || !name_ok(cfg->helo_name))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->helo, sizeof(c->helo), "%s", cfg->helo_name);
	snprintf(c->remote, sizeof(c->remote), "%s",
		 cfg->remote ? cfg->remote : "");
	c->tls_policy = cfg->tls;
	c->tls = cfg->tls_on_connect != 0;
	c->no_pipelining = cfg->no_pipelining;
	c->accept_bare_code = cfg->accept_bare_code;
	c->line_max = cfg->line_max ? cfg->line_max : SMTPC_LINE_MAX_DEFAULT;
	if (c->line_max < SMTPC_LINE_MAX_MIN)
		c->line_max = SMTPC_LINE_MAX_MIN;
	for (i = 0; i < SMTPC_TO__COUNT; i++)
		c->timeout[i] = cfg->timeout[i] ? cfg->timeout[i] :
			default_timeout[i];
	buf_init(&c->in);
	buf_init(&c->out);
	rp_init(&c->reply);
	c->st.cls = DS_OK;
	if (cfg->auth_user && auth_line(c, cfg->auth_user, cfg->auth_pass ? cfg->auth_pass : "") < 0) {
		smtpc_free(c);
		return NULL;
	}
	expect(c, SMTPC_STAGE_GREETING, 0);
	if (c->oom) {
		smtpc_free(c);
		return NULL;
	}
	return c;
}

/* smtpc_free - release everything the engine owns (the secret wiped) */
void smtpc_free(struct smtpc *c)
{
	if (!c)
		return;
	if (c->auth) {
		explicit_bzero(c->auth, strlen(c->auth));
		free(c->auth);
		if (c->out.data)
			explicit_bzero(c->out.data, c->out.cap);
	}
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->exp);
	free(c->rst);
	free(c);
}

/* smtpc_want - the caller's next step (client.h) */
enum smtpc_want smtpc_want(const struct smtpc *c)
{
	switch (c->state) {
	case CS_TLS:
		return SMTPC_WANT_TLS;
	case CS_BODY:
		return SMTPC_WANT_BODY;
	case CS_READY:
		return c->job ? SMTPC_WANT_READ : SMTPC_WANT_JOB;
	case CS_DONE:
		return SMTPC_WANT_CLOSE;
	case CS_WAIT:
		break;
	}
	return SMTPC_WANT_READ;
}

/* smtpc_timeout - the RFC 5321 4.5.3.2 limit of the current wait */
unsigned smtpc_timeout(const struct smtpc *c)
{
	static const enum smtpc_timeout by_stage[] = {
		[SMTPC_STAGE_NONE] = SMTPC_TO_HELO,
		[SMTPC_STAGE_GREETING] = SMTPC_TO_GREETING,
		[SMTPC_STAGE_EHLO] = SMTPC_TO_HELO,
		[SMTPC_STAGE_HELO] = SMTPC_TO_HELO,
		[SMTPC_STAGE_STARTTLS] = SMTPC_TO_HELO,
		[SMTPC_STAGE_TLS] = SMTPC_TO_HELO,
		[SMTPC_STAGE_MAIL] = SMTPC_TO_MAIL,
		[SMTPC_STAGE_RCPT] = SMTPC_TO_RCPT,
		[SMTPC_STAGE_DATA] = SMTPC_TO_DATA,
		[SMTPC_STAGE_BODY] = SMTPC_TO_BLOCK,
		[SMTPC_STAGE_DOT] = SMTPC_TO_DOT,
		[SMTPC_STAGE_RSET] = SMTPC_TO_HELO,
		[SMTPC_STAGE_AUTH] = SMTPC_TO_HELO,
	};

	if (c->state == CS_READY)
		return 0;
	return c->timeout[by_stage[current_stage(c)]];
}

/* smtpc_output - the bytes waiting to be sent */
const char *smtpc_output(const struct smtpc *c, size_t *len)
{
	*len = c->out.len;
	return c->out.len ? c->out.data : NULL;
}

/* smtpc_output_taken - n bytes went to the socket (or its buffer) */
void smtpc_output_taken(struct smtpc *c, size_t n)
{
	if (n > c->out.len)
		n = c->out.len;
	buf_consume(&c->out, n);
	c->out_taken += n;
}

/* smtpc_feed - server bytes in; replies are handled at once */
void smtpc_feed(struct smtpc *c, const void *data, size_t len)
{
	if (c->state == CS_TLS) {
		c->discarded += len;	/* plaintext after the 220: injected */
		return;
	}
	if (!parsing(c) || len == 0)
		return;
	if (buf_append(&c->in, data, len) < 0)
		c->oom = 1;
	else
		process_input(c);
	check_oom(c);
}

/* smtpc_tls_done - after the handshake: EHLO again (RFC 3207 4.2), or
 * defer */
void smtpc_tls_done(struct smtpc *c, int ok, const char *why)
{
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	if (c->state != CS_TLS)
		return;
	if (ok) {
		c->tls = 1;
		c->ext = 0;
		c->size_limit = 0;
		send_ehlo(c);
		check_oom(c);
		return;
	}
	esc_str(esc, sizeof(esc), why ? why : "", why ? strlen(why) : 0);
	own_status(c, &st, DS_TEMP, 451, "4.7.5", "TLS handshake failed%s%s",
		   esc[0] ? ": " : "", esc);
	conn_fail(c, &st, SMTPC_STAGE_TLS, 0);
}

/* smtpc_body_done - the data is out: the final dot (RFC 5321 4.1.1.4) */
void smtpc_body_done(struct smtpc *c)
{
	if (c->state != CS_BODY)
		return;
	command(c, ".", SMTPC_STAGE_DOT, 0);
	check_oom(c);
}

/* give_up - a timeout or a lost connection (what: "timeout", "connection
 * lost"); after the dot the message may arrive twice (RFC 5321 6.1) */
static void give_up(struct smtpc *c, const char *what, const char *why)
{
	enum smtpc_stage stage = current_stage(c);
	char esc[EXCERPT_MAX * 4 + 8];
	struct dstatus st;

	if (c->state == CS_DONE)
		return;
	if (c->state == CS_READY && !c->job) {
		c->state = CS_DONE;
		return;
	}
	esc_str(esc, sizeof(esc), why ? why : "", why ? strlen(why) : 0);
	if (stage == SMTPC_STAGE_DOT)
		own_status(c, &st, DS_TEMP, 451, "4.4.2", "%s after end of data "
			   "(the message may be delivered twice)%s%s", what,
			   esc[0] ? ": " : "", esc);
	else
		own_status(c, &st, DS_TEMP, 451, "4.4.2", "%s %s %s%s%s", what,
			   stage == SMTPC_STAGE_BODY ? "while sending" :
			   stage == SMTPC_STAGE_TLS ? "in" :
			   "waiting for the reply to",
			   smtpc_stage_name(stage), esc[0] ? ": " : "", esc);
	conn_fail(c, &st, stage, 0);
}

/* smtpc_timed_out - the limit of smtpc_timeout passed */
void smtpc_timed_out(struct smtpc *c)
{
	give_up(c, "timeout", NULL);
}

/* smtpc_conn_lost - EOF or an I/O error */
void smtpc_conn_lost(struct smtpc *c, const char *why)
{
	give_up(c, "connection lost", why);
}

/* smtpc_job_start - take the next job (client.h) */
int smtpc_job_start(struct smtpc *c, struct smtpc_job *job)
{
	size_t i;

	if (c->job || c->state == CS_DONE || c->quit_after || !job ||
	    !job->sender || !job->rcpts || job->nrcpt == 0)
		return -1;
	if (job->nrcpt > c->rst_cap) {
		unsigned char *p = realloc(c->rst, job->nrcpt);

		if (!p)
			return -1;
		c->rst = p;
		c->rst_cap = job->nrcpt;
	}
	memset(c->rst, R_PENDING, job->nrcpt);
	job->done = 0;
	job->downconvert = 0;
	job->next_mx = 0;
	for (i = 0; i < job->nrcpt; i++) {
		memset(&job->rcpts[i].st, 0, sizeof(job->rcpts[i].st));
		job->rcpts[i].st.cls = DS_TEMP;
		job->rcpts[i].stage = SMTPC_STAGE_NONE;
	}
	c->job = job;
	c->started = 0;
	if (c->state == CS_READY)
		txn_start(c);
	check_oom(c);
	return 0;
}

/* smtpc_quit - QUIT when idle (RFC 5321 4.1.1.10), or just close */
int smtpc_quit(struct smtpc *c)
{
	const struct expect *e = exp_head(c);

	if (c->job)
		return -1;
	if (c->state == CS_READY) {
		put(c, "QUIT\r\n", 6);
		c->state = CS_DONE;
	} else if (c->state == CS_WAIT && e && e->stage == SMTPC_STAGE_RSET) {
		c->quit_after = 1;
	} else if (c->state != CS_DONE) {
		c->exp_head = c->exp_tail = 0;
		buf_reset(&c->out);
		c->state = CS_DONE;
	}
	check_oom(c);
	return 0;
}

/* smtpc_extensions - what the last EHLO offered */
unsigned smtpc_extensions(const struct smtpc *c)
{
	return c->ext;
}

/* smtpc_size_limit - the peer's SIZE (0: none) */
long long smtpc_size_limit(const struct smtpc *c)
{
	return (c->ext & SMTPC_EXT_SIZE) ? c->size_limit : 0;
}

/* smtpc_tls_active - encrypted? */
int smtpc_tls_active(const struct smtpc *c)
{
	return c->tls;
}

/* smtpc_discarded - plaintext bytes dropped after STARTTLS's 220 */
size_t smtpc_discarded(const struct smtpc *c)
{
	return c->discarded;
}

/* smtpc_status - what ended the connection */
const struct dstatus *smtpc_status(const struct smtpc *c)
{
	return &c->st;
}

/* smtpc_stage_name - for "in reply to ..." */
const char *smtpc_stage_name(enum smtpc_stage s)
{
	static const char *const names[] = {
		[SMTPC_STAGE_NONE] = "",
		[SMTPC_STAGE_GREETING] = "initial greeting",
		[SMTPC_STAGE_EHLO] = "EHLO",
		[SMTPC_STAGE_HELO] = "HELO",
		[SMTPC_STAGE_STARTTLS] = "STARTTLS",
		[SMTPC_STAGE_TLS] = "TLS handshake",
		[SMTPC_STAGE_MAIL] = "MAIL FROM",
		[SMTPC_STAGE_RCPT] = "RCPT TO",
		[SMTPC_STAGE_DATA] = "DATA",
		[SMTPC_STAGE_BODY] = "message data",
		[SMTPC_STAGE_DOT] = "end of data",
		[SMTPC_STAGE_RSET] = "RSET",
		[SMTPC_STAGE_AUTH] = "AUTH",
	};

	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "";
	return names[s];
}

/* session - one SMTP server session: the command state machine, DATA and
 * BDAT, the connection (STARTTLS and AUTH live in session_auth.c; the
 * shared private declarations in session_int.h).
 *
 * Public: session_new, session_shutdown, session_kill, session_peer,
 * session_closing.
 *
 * The command table (cmds[]) carries the policy of every verb: flags for
 * sequencing (hello first, MAIL first, a recipient first), whether the
 * command counts as junk, whether its line may be long (MAIL/RCPT with
 * parameters), a check function (validates, no side effects, returns the
 * error reply or R_NONE) and a proceed function (side effects, replies).
 * Replies are appended to the bufferevent's output and go out when the
 * session returns to the event loop to wait for input: that is PIPELINING
 * (RFC 2920) without any special case.
 *
 * Invariants:
 * - all input passes through the bounded line reader (commands) or the
 *   DATA decoder / BDAT byte counter (message content);
 * - the state changes only through set_state();
 * - a message is acknowledged (250 2.6.0) only from the queue's commit
 *   callback with Q_OK;
 * - memory per session is bounded: input by the read high-water mark,
 *   output by OUT_HIGH, message bytes by the queue backlog limit.
 */
#include "server/session.h"
#include "server/session_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/un.h>

#include "auth/sasl.h"
#include "conf/config.h"
#include "conf/tables.h"
#include "net/listen.h"
#include "queue/queue.h"
#include "server/policy.h"
#include "server/server.h"
#include "smtp/addr.h"
#include "smtp/cmd.h"
#include "smtp/data.h"
#include "smtp/linereader.h"
#include "smtp/params.h"
#include "smtp/reply.h"
#include "util/buf.h"
#include "util/log.h"

static const char *const state_names[] = {
	"greet", "command", "auth", "verify", "data", "bdat", "commit", "delay", "closing"
};

static const char *const role_names[] = { "mx", "submission", "submissions", "local" };

enum cmd_flags {
	CF_HELO = 1,	/* needs HELO/EHLO first */
	CF_MAIL = 2,	/* needs MAIL first */
	CF_RCPT = 4,	/* needs an accepted RCPT */
	CF_JUNK = 8,	/* counts against JUNK_MAX */
	CF_LONG = 16,	/* line may be up to PATH_LINE_MAX */
	CF_AUTHED = 32,	/* submission listeners: needs TLS and AUTH first */
};

struct cmd_def {
	enum smtp_verb verb;
	unsigned flags;
	enum reply_id (*check)(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
	void (*proceed)(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
};

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* set_state - the only place the state changes */
void set_state(struct session *s, enum sess_state st)
{
	if (s->state != st)
		log_debug("state sid=%s from=%s to=%s", s->id, state_names[s->state],
			  state_names[st]);
	s->state = st;
}

/* trace_line - log one command or reply line when tracing */
void trace_line(struct session *s, const char *dir, const char *p, size_t n)
{
	char esc[LOG_ESC_SIZE];

	if (s->trace)
		log_info("trace sid=%s dir=%s line=\"%s\"", s->id, dir, log_escape(esc, p, n));
}

/* count_reply - protocol errors and rejected recipients each have a limit
 * (counted since the last accepted message, as Postfix counts "errors
 * without delivering mail"); reaching one ends the session */
static void count_reply(struct session *s, enum reply_id id)
{
	switch (reply_class(id)) {
	case RC_PROTOCOL:
		s->errors_total++;
		if (++s->errors < s->cfg->max_errors)
			return;
		break;
	case RC_RCPT:
		if (++s->rcpt_rejects < s->cfg->max_rcpt_rejects)
			return;
		break;
	case RC_NONE:
		return;
	}
	log_info("limit sid=%s client=%s errors=%u rejected_rcpts=%u", s->id, s->ip,
		 s->errors, s->rcpt_rejects);
	reply(s, R_TOO_MANY_ERRORS, NULL, NULL);
	begin_close(s);
}

/* reply - send a reply from the table; negative ones are logged and
 * counted against the session limits */
void reply(struct session *s, enum reply_id id, const char *a1, const char *a2)
{
	buf_t b;
	int code = reply_code(id);
	size_t i, start = 0;

	if (!s->bev || s->state == ST_CLOSING)
		return;
	buf_init(&b);
	if (reply_format(&b, id, a1, a2) < 0) {
		buf_free(&b);
		return;
	}
	bufferevent_write(s->bev, b.data, b.len);
	for (i = 0; s->trace && i < b.len; i++)
		if (b.data[i] == '\n') {
			trace_line(s, "out", b.data + start, i - 1 - start);
			start = i + 1;
		}
	if (code >= 400 && code != 421) {
		char esc[LOG_ESC_SIZE];

		log_info("reject sid=%s client=%s reply=\"%s\"", s->id, s->ip,
			 log_escape(esc, b.data, b.len - 2));
	}
	buf_free(&b);
	count_reply(s, id);
}

/* reply_host - a reply whose text starts with the hostname */
void reply_host(struct session *s, enum reply_id id)
{
	reply(s, id, s->cfg->hostname, NULL);
}

/* arm_timer - (re)start the session deadline */
void arm_timer(struct session *s, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(s->timer, &tv);
}

/* arm_timer_ms - (re)start the session deadline in milliseconds */
void arm_timer_ms(struct session *s, unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

/* tx_reset - forget the transaction; an open message is dropped */
void tx_reset(struct session *s)
{
	struct transaction *t = &s->tx;

	if (t->msg)
		queue_msg_abort(t->msg);
	envelope_clear(&t->env);
	free(t->sender);
	memset(t, 0, sizeof(*t));
	envelope_init(&t->env);
	buf_reset(&s->dbuf);
}

/* begin_close - stop reading, flush what was replied, then free */
void begin_close(struct session *s)
{
	struct timeval now = { 0, 0 };

	if (s->state == ST_CLOSING)
		return;
	set_state(s, ST_CLOSING);
	if (s->tx.msg)
		tx_reset(s);
	if (!s->bev) {
		evtimer_add(s->timer, &now);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		evtimer_add(s->timer, &now);	/* free from the loop, not from here */
	else
		arm_timer(s, CLOSE_LINGER);
}

/* helo_valid - a domain, an address literal, or a lenient host name:
 * labels of [A-Za-z0-9_-] (Windows hosts send underscores), not starting
 * or ending with '-', one trailing dot allowed */
static int helo_valid(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	if (p[0] == '[')
		return addr_domain_valid(p, n, 0);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '_' || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return p[n - 1] != '-';
}

/* check_hello - HELO/EHLO argument */
static enum reply_id check_hello(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)s;
	(void)a;
	return helo_valid(c->arg, c->arglen) ? R_NONE : R_BAD_HELO;
}

/* proceed_hello - HELO/EHLO: a new session state, the transaction reset */
static void proceed_hello(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	char first[ADDR_DOMAIN_MAX + 128];
	buf_t ext;

	(void)a;
	tx_reset(s);
	free(s->helo);
	s->helo = strndup(c->arg, c->arglen);
	s->esmtp = c->verb == VERB_EHLO;
	if (!s->esmtp) {
		reply(s, R_HELO, s->cfg->hostname, s->ip);
		return;
	}
	snprintf(first, sizeof(first), "%s Hello [%s]", s->cfg->hostname, s->ip);
	buf_init(&ext);
	buf_printf(&ext, "PIPELINING\nSIZE %lld\n8BITMIME\n", s->cfg->max_message_size);
	if (starttls_offered(s))
		buf_puts(&ext, "STARTTLS\n");
	if (auth_offered(s))
		buf_puts(&ext, "AUTH PLAIN LOGIN\n");
	buf_puts(&ext, "ENHANCEDSTATUSCODES\nDSN\nCHUNKING\nSMTPUTF8");
	reply(s, R_EHLO, first, ext.data);
	buf_free(&ext);
}

/* path_error - the reply for an address parse error */
static enum reply_id path_error(enum addr_err e, enum reply_id syntax)
{
	switch (e) {
	case ADDR_OK:
		return R_NONE;
	case ADDR_ERR_EMPTY:
		return R_BAD_ARGS;
	case ADDR_ERR_LOCAL_TOO_LONG:
	case ADDR_ERR_DOMAIN_TOO_LONG:
	case ADDR_ERR_PATH_TOO_LONG:
		return R_ADDR_TOO_LONG;
	case ADDR_ERR_UTF8:
		return R_UTF8_ADDR;
	case ADDR_ERR_SYNTAX:
		break;
	}
	return syntax;
}

/* param_error - the reply for a parameter parse error */
static enum reply_id param_error(enum param_err e)
{
	switch (e) {
	case PARAM_OK:
		return R_NONE;
	case PARAM_UNKNOWN:
		return R_PARAM_UNKNOWN;
	case PARAM_TOO_BIG:
		return R_SIZE_PARAM;
	case PARAM_SYNTAX:
		break;
	}
	return R_BAD_ARGS;
}

/* rest_blank - only blanks in p[0..n)? */
static int rest_blank(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	return n == 0;
}

/* sender_is_login - is the sender the authenticated user's address? */
static int sender_is_login(const struct session *s, const struct smtp_path *p)
{
	char text[ADDR_TEXT_MAX + 1];

	addr_format(p, text, sizeof(text));
	return strcasecmp(text, s->auth_user) == 0;
}

/* check_mail - MAIL FROM: path and parameters (RFC 5321 4.1.1.2) */
static enum reply_id check_mail(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	size_t used = 0;
	enum reply_id r;
	const char *bad;

	if (s->tx.active)
		return R_NESTED_MAIL;
	if (c->bad_syntax || c->arglen == 0)
		return R_BAD_ARGS;
	r = path_error(addr_parse_path(c->arg, c->arglen, ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8,
				       &a->mail.path, &used), R_BAD_SENDER);
	if (r != R_NONE)
		return r;
	if (!s->esmtp && !rest_blank(c->arg + used, c->arglen - used))
		return R_PARAM_UNKNOWN;
	r = param_error(params_parse_mail(c->arg + used, c->arglen - used, &a->mail.mp, &bad));
	if (r != R_NONE)
		return r;
	if (a->mail.path.utf8 && !a->mail.mp.smtputf8)
		return R_UTF8_ADDR;
	if (a->mail.mp.size > s->cfg->max_message_size)
		return R_SIZE_PARAM;
	if (s->auth_user && s->cfg->sender_must_match_login &&
	    !sender_is_login(s, &a->mail.path))
		return R_SENDER_NOT_OWNED;
	if (!queue_space_ok(server_queue(s->srv), a->mail.mp.size > 0 ? a->mail.mp.size : 0))
		return R_NO_SPACE;
	return R_NONE;
}

/* proceed_mail - start the transaction */
static void proceed_mail(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	struct transaction *t = &s->tx;
	char text[ADDR_TEXT_MAX + 1];
	struct envelope *e = &t->env;

	(void)c;
	addr_format(&a->mail.path, text, sizeof(text));
	t->mp = a->mail.mp;
	/* RFC 4954 5: AUTH= from an unauthenticated client is ignored */
	t->mp.has_auth = 0;
	e->sender = strdup(text);
	e->body = t->mp.body;
	e->smtputf8 = t->mp.smtputf8;
	e->ret = t->mp.ret;
	if (t->mp.has_envid) {
		e->envid = malloc(t->mp.envid_len + 1);
		if (e->envid) {
			memcpy(e->envid, t->mp.envid, t->mp.envid_len + 1);
			e->envid_len = t->mp.envid_len;
		}
	}
	if (!e->sender || (t->mp.has_envid && !e->envid)) {
		tx_reset(s);
		reply(s, R_LOCAL_ERROR, NULL, NULL);
		return;
	}
	t->active = 1;
	reply(s, R_SENDER_OK, NULL, NULL);
}

/* check_rcpt - RCPT TO: path and parameters (RFC 5321 4.1.1.3) */
static enum reply_id check_rcpt(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	unsigned flags = ADDR_ALLOW_POSTMASTER;
	size_t used = 0;
	enum reply_id r;
	const char *bad;

	if (c->bad_syntax || c->arglen == 0)
		return R_BAD_ARGS;
	if (s->tx.mp.smtputf8)
		flags |= ADDR_ALLOW_UTF8;
	r = path_error(addr_parse_path(c->arg, c->arglen, flags, &a->rcpt.path, &used),
		       R_BAD_RCPT);
	if (r != R_NONE)
		return r;
	if (!s->esmtp && !rest_blank(c->arg + used, c->arglen - used))
		return R_PARAM_UNKNOWN;
	r = param_error(params_parse_rcpt(c->arg + used, c->arglen - used, &a->rcpt.rp, &bad));
	if (r != R_NONE)
		return r;
	if (s->tx.rcpt_cmds >= s->cfg->max_recipients)
		return R_TOO_MANY_RCPTS;
	return R_NONE;
}

#define REJECT_DELAY_STEP_MS 250	/* each further rejection waits longer */
#define REJECT_DELAY_MAX_MS 5000

/* reject_rcpt - answer a rejected recipient; past rcpt_reject_delay_after
 * rejections the answer waits, longer each time (a brake on directory
 * harvesting, as Postfix's smtpd_error_sleep_time) */
static void reject_rcpt(struct session *s, enum reply_id r)
{
	unsigned n = s->rcpt_rejects + 1, after = s->cfg->rcpt_reject_delay_after;
	unsigned long long ms;

	if (n <= after) {
		reply(s, r, NULL, NULL);
		return;
	}
	ms = (unsigned long long)(n - after) * REJECT_DELAY_STEP_MS;
	s->delayed_reply = r;
	set_state(s, ST_DELAY);
	arm_timer_ms(s, ms < REJECT_DELAY_MAX_MS ? (unsigned)ms : REJECT_DELAY_MAX_MS);
}

/* proceed_rcpt - apply the recipient policy */
static void proceed_rcpt(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	struct rcpt_ctx ctx = { s->cfg, (const struct sockaddr *)&s->peer,
				s->auth_user != NULL || s->role == ROLE_LOCAL };

	(void)c;
	switch (policy_rcpt(&ctx, &a->rcpt.path, &a->rcpt.rp, &s->tx.env)) {
	case RV_OK:
		s->tx.rcpt_cmds++;
		reply(s, R_RCPT_OK, NULL, NULL);
		break;
	case RV_UNKNOWN:
		reject_rcpt(s, R_USER_UNKNOWN);
		break;
	case RV_BAD_MAILBOX:
		reject_rcpt(s, R_BAD_MAILBOX);
		break;
	case RV_RELAY_DENIED:
		reject_rcpt(s, R_RELAY_DENIED);
		break;
	case RV_NOMEM:
		reply(s, R_LOCAL_ERROR, NULL, NULL);
		break;
	}
}

/* rfc5322_date - "Sat, 21 Nov 2026 19:45:00 +0000" */
static void rfc5322_date(char *out, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* protocol_name - the "with" keyword of the Received: header: RFC 3848
 * (ESMTP, ESMTPA, ESMTPS, ESMTPSA), RFC 6531 4.3 for SMTPUTF8 mail */
static const char *protocol_name(const struct session *s, int smtputf8)
{
	static const char *const names[2][4] = {
		{ "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" },
	};

	if (!s->esmtp)
		return "SMTP";
	return names[smtputf8 ? 1 : 0][(s->tls ? 2 : 0) + (s->auth_user ? 1 : 0)];
}

/* open_message - start a spool message with our Received: header first
 * (RFC 5321 4.4) */
static int open_message(struct session *s)
{
	struct transaction *t = &s->tx;
	struct envelope *e = &t->env;
	buf_t *b = &s->dbuf;
	char date[64];

	queue_make_qid(server_queue(s->srv), e->qid);
	e->arrival = (long long)time(NULL);
	e->client_addr = strdup(s->ip);
	e->helo = strdup(s->helo);
	e->proto = strdup(protocol_name(s, e->smtputf8));
	e->auth = s->auth_user ? strdup(s->auth_user) : NULL;
	if (!e->client_addr || !e->helo || !e->proto || (s->auth_user && !e->auth))
		return -1;
	memcpy(t->qid, e->qid, sizeof(t->qid));
	t->sender = strdup(e->sender);
	if (!t->sender)
		return -1;
	rfc5322_date(date, sizeof(date), (time_t)e->arrival);
	buf_reset(b);
	if (s->role == ROLE_LOCAL)
		buf_printf(b, "Received: from %s (uid %ld)", s->helo, s->peer_uid);
	else
		buf_printf(b, "Received: from %s ([%s])", s->helo, s->ip);
	if (s->tls)
		buf_printf(b, "\r\n\t(using %s)", s->tls_info[0] ? s->tls_info : "TLS");
	buf_printf(b, "\r\n\tby %s with %s id %s", s->cfg->hostname, e->proto, e->qid);
	if (e->nrcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", e->rcpts[0].orig);
	buf_printf(b, "; %s\r\n", date);
	t->msg = queue_msg_begin(server_queue(s->srv), e);
	if (!t->msg)
		return -1;
	queue_msg_write(t->msg, b->data, b->len);
	buf_reset(b);
	return 0;
}

/* check_data - DATA takes no argument and needs a recipient */
static enum reply_id check_data(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)a;
	if (c->arglen)
		return R_BAD_ARGS;
	if (s->tx.bdat)
		return R_DATA_AFTER_BDAT;
	return R_NONE;
}

/* proceed_data - 354, then content; more input already buffered means the
 * client did not wait for 354 (RFC 2920 3.1, CHECKLIST B) */
static void proceed_data(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)c;
	(void)a;
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		log_warn("sync sid=%s client=%s reason=\"data before 354\"", s->id, s->ip);
		reply(s, R_SYNC, NULL, NULL);
		begin_close(s);
		return;
	}
	if (open_message(s) < 0) {
		tx_reset(s);
		reply(s, R_LOCAL_ERROR, NULL, NULL);
		return;
	}
	data_dec_init(&s->tx.dec);
	set_state(s, ST_DATA);
	s->block_bytes = 0;
	arm_timer(s, s->cfg->timeout);
	reply(s, R_DATA_GO, NULL, NULL);
}

/* check_bdat - "BDAT <size> [LAST]" (RFC 3030 2) */
static enum reply_id check_bdat(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	size_t i = 0, digits;
	unsigned long long n = 0;

	(void)s;
	while (i < c->arglen && isdigit((unsigned char)c->arg[i])) {
		if (i >= 18)
			return R_BAD_ARGS;	/* more than fits: never overflow */
		n = n * 10 + (unsigned)(c->arg[i] - '0');
		i++;
	}
	digits = i;
	if (digits == 0)
		return R_BAD_ARGS;
	a->bdat.size = n;
	a->bdat.last = 0;
	if (i == c->arglen)
		return R_NONE;
	if (c->arg[i] != ' ' && c->arg[i] != '\t')
		return R_BAD_ARGS;
	while (i < c->arglen && (c->arg[i] == ' ' || c->arg[i] == '\t'))
		i++;
	if (c->arglen - i == 4 && strncasecmp(c->arg + i, "LAST", 4) == 0) {
		a->bdat.last = 1;
		return R_NONE;
	}
	return R_BAD_ARGS;
}

/* bdat_error - why this chunk cannot be taken (it is still read) */
static enum reply_id bdat_error(struct session *s)
{
	if (!s->helo)
		return R_NEED_HELLO;
	if (!s->tx.active)
		return R_NEED_MAIL;
	if (s->tx.rcpt_cmds == 0)
		return R_NEED_RCPT;
	return R_NONE;
}

/* proceed_bdat - read a chunk literally; errors are answered after it.
 * A message over the size limit goes on being read and dropped, chunk by
 * chunk, and is refused once, at LAST (as DATA is at the final dot). */
static void proceed_bdat(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	struct transaction *t = &s->tx;
	enum reply_id err = bdat_error(s);

	(void)c;
	if (err == R_NONE && !t->msg) {
		if (open_message(s) < 0)
			err = R_LOCAL_ERROR;
		else
			data_dec_init_literal(&t->dec);
	}
	if (err == R_NONE) {
		t->bdat = 1;
		if (a->bdat.size > (unsigned long long)s->cfg->max_message_size - t->size)
			t->too_big = 1;	/* nothing more is written */
	}
	t->chunk_error = err;
	t->chunk_left = a->bdat.size;
	t->chunk_size = a->bdat.size;
	t->chunk_last = a->bdat.last;
	set_state(s, ST_BDAT);
	s->block_bytes = 0;
	arm_timer(s, s->cfg->timeout);
}

/* check_noarg - commands that take no argument */
static enum reply_id check_noarg(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)s;
	(void)a;
	return c->arglen ? R_BAD_ARGS : R_NONE;
}

/* check_arg - commands that need an argument */
static enum reply_id check_arg(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)s;
	(void)a;
	return c->arglen ? R_NONE : R_BAD_ARGS;
}

/* proceed_rset - RSET (RFC 5321 4.1.1.5) */
static void proceed_rset(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)c;
	(void)a;
	tx_reset(s);
	reply(s, R_RSET, NULL, NULL);
}

/* proceed_quit - QUIT: reply and close */
static void proceed_quit(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)c;
	(void)a;
	reply(s, R_QUIT, NULL, NULL);
	begin_close(s);
}

/* take_bufferevent - make bev the session's connection */
void take_bufferevent(struct session *s, struct bufferevent *bev)
{
	s->bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, IN_HIGH);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

#define SIMPLE_REPLY(fn, id) \
	static void fn(struct session *s, const struct smtp_cmd *c, union cmd_args *a) \
	{ \
		(void)c; \
		(void)a; \
		reply(s, id, NULL, NULL); \
	}

SIMPLE_REPLY(proceed_noop, R_NOOP)
SIMPLE_REPLY(proceed_vrfy, R_VRFY)
SIMPLE_REPLY(proceed_expn, R_EXPN)
SIMPLE_REPLY(proceed_help, R_HELP)

static const struct cmd_def cmds[] = {
	{ VERB_HELO, 0, check_hello, proceed_hello },
	{ VERB_EHLO, 0, check_hello, proceed_hello },
	{ VERB_MAIL, CF_HELO | CF_AUTHED | CF_LONG, check_mail, proceed_mail },
	{ VERB_RCPT, CF_HELO | CF_MAIL | CF_LONG, check_rcpt, proceed_rcpt },
	{ VERB_DATA, CF_HELO | CF_MAIL | CF_RCPT, check_data, proceed_data },
	{ VERB_BDAT, 0, check_bdat, proceed_bdat },
	{ VERB_RSET, CF_JUNK, check_noarg, proceed_rset },
	{ VERB_NOOP, CF_JUNK, NULL, proceed_noop },
	{ VERB_QUIT, 0, NULL, proceed_quit },
	{ VERB_VRFY, CF_JUNK, check_arg, proceed_vrfy },
	{ VERB_EXPN, CF_JUNK, NULL, proceed_expn },
	{ VERB_HELP, CF_JUNK, NULL, proceed_help },
	{ VERB_STARTTLS, 0, check_starttls, proceed_starttls },
	{ VERB_AUTH, CF_LONG, check_auth, proceed_auth },
};

/* find_cmd - the table entry for a verb, or NULL */
static const struct cmd_def *find_cmd(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].verb == v)
			return &cmds[i];
	return NULL;
}

/* sequence_error - the generic order checks of a command's flags */
static enum reply_id sequence_error(struct session *s, unsigned flags)
{
	if ((flags & CF_HELO) && !s->helo)
		return R_NEED_HELLO;
	/* RFC 6409 / RFC 8314 listeners: TLS, then AUTH (CHECKLIST D) */
	if ((flags & CF_AUTHED) && (s->role == ROLE_SUBMISSION || s->role == ROLE_SUBMISSIONS) &&
	    !s->auth_user)
		return !s->tls && !s->cfg->allow_plaintext_auth ? R_NEED_TLS : R_NEED_AUTH;
	if ((flags & CF_MAIL) && !s->tx.active)
		return R_NEED_MAIL;
	if ((flags & CF_RCPT) && s->tx.rcpt_cmds == 0)
		return R_NEED_RCPT;
	return R_NONE;
}

/* handle_line - one complete command line */
static void handle_line(struct session *s, const char *line, const struct lr_line *l)
{
	const struct cmd_def *def;
	struct smtp_cmd c;
	union cmd_args a;
	enum reply_id err;

	if (l->len > 5 && strncasecmp(line, "AUTH", 4) == 0 && (line[4] == ' ' || line[4] == '\t'))
		trace_line(s, "in", line, l->len < 10 ? l->len : 10);	/* never the secret */
	else
		trace_line(s, "in", line, l->len);
	if (l->has_nul) {
		reply(s, R_NUL, NULL, NULL);
		return;
	}
	cmd_parse(line, l->len, &c);
	if (c.verb == VERB_FORBIDDEN) {
		char esc[LOG_ESC_SIZE];

		log_warn("forbidden sid=%s client=%s line=\"%s\"", s->id, s->ip,
			 log_escape(esc, line, l->len < 100 ? l->len : 100));
		reply(s, R_FORBIDDEN, NULL, NULL);
		begin_close(s);
		return;
	}
	def = find_cmd(c.verb);
	if (!def) {
		reply(s, R_UNKNOWN, NULL, NULL);
		return;
	}
	if (l->len + 2 > CMD_LINE_MAX && !(def->flags & CF_LONG)) {
		reply(s, R_LINE_TOO_LONG, NULL, NULL);
		return;
	}
	if ((def->flags & CF_JUNK) && ++s->junk > JUNK_MAX) {
		reply(s, R_TOO_MANY_ERRORS, NULL, NULL);
		begin_close(s);
		return;
	}
	memset(&a, 0, sizeof(a));
	err = sequence_error(s, def->flags);
	if (err == R_NONE && def->check)
		err = def->check(s, &c, &a);
	if (err != R_NONE && reply_class(err) == RC_RCPT) {
		reject_rcpt(s, err);	/* 452 4.5.3: a rejected recipient too */
		return;
	}
	if (err != R_NONE) {
		reply(s, err, err == R_SENDER_NOT_OWNED ? s->auth_user : NULL, NULL);
		if (c.verb == VERB_BDAT)	/* chunk length unknown: cannot resync */
			begin_close(s);
		return;
	}
	def->proceed(s, &c, &a);
}

/* step_discard - skip the rest of an over-long line */
static int step_discard(struct session *s, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr p;

	if (len == 0)
		return 0;
	p = evbuffer_search(in, "\n", 1, NULL);
	if (p.pos < 0) {
		evbuffer_drain(in, len);
		s->discarded += len;
		if (s->discarded > FLOOD_MAX) {
			log_warn("flood sid=%s client=%s reason=\"no line end\"", s->id, s->ip);
			reply_host(s, R_FLOOD);
			begin_close(s);
		}
		return 0;
	}
	evbuffer_drain(in, (size_t)p.pos + 1);
	s->discarding = 0;
	s->cmd_armed = 0;
	reply(s, s->discard_reply ? s->discard_reply : R_LINE_TOO_LONG, NULL, NULL);
	s->discard_reply = R_NONE;
	return 1;
}

/* step_command - read and run one command; 0 when more input is needed */
static int step_command(struct session *s, struct evbuffer *in)
{
	char line[PATH_LINE_MAX + 1];
	size_t avail, want;
	const char *data;
	struct lr_line l;

	if (s->discarding)
		return step_discard(s, in);
	avail = evbuffer_get_length(in);
	if (avail == 0)
		return 0;
	want = avail < PATH_LINE_MAX ? avail : PATH_LINE_MAX;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	switch (lr_scan(data, want, PATH_LINE_MAX, &l)) {
	case LR_NEED_MORE:
		return 0;
	case LR_TOO_LONG:
		s->discarding = 1;
		s->discarded = 0;
		return 1;
	case LR_LINE:
		break;
	}
	memcpy(line, data, l.len);
	line[l.len] = '\0';
	evbuffer_drain(in, l.consumed);
	s->cmd_armed = 0;
	handle_line(s, line, &l);
	return 1;
}

/* data_progress - count content bytes; the deadline moves per block */
static void data_progress(struct session *s, size_t n)
{
	s->block_bytes += n;
	if (s->block_bytes >= DATA_BLOCK) {
		s->block_bytes = 0;
		arm_timer(s, s->cfg->timeout);
	}
}

/* on_drain - the queue caught up: read again */
static void on_drain(void *arg)
{
	struct session *s = arg;

	if (!s->paused || !s->bev)
		return;
	s->paused = 0;
	bufferevent_enable(s->bev, EV_READ);
	arm_timer(s, s->cfg->timeout);
	process(s);
}

/* backlog_pause - too much written but not yet on disk: stop reading */
static int backlog_pause(struct session *s)
{
	if (!s->tx.msg || !queue_msg_backlog_high(s->tx.msg))
		return 0;
	s->paused = 1;
	bufferevent_disable(s->bev, EV_READ);
	evtimer_del(s->timer);
	queue_msg_on_drain(s->tx.msg, on_drain, s);
	return 1;
}

/* push_content - hand decoded bytes to the queue unless over the limit */
static void push_content(struct session *s, const void *p, size_t n)
{
	struct transaction *t = &s->tx;

	t->size += n;
	if (t->size > (unsigned long long)s->cfg->max_message_size)
		t->too_big = 1;
	if (!t->too_big && t->msg && n)
		queue_msg_write(t->msg, p, n);
}

/* add_missing_fields - Message-ID: and Date: when the header lacks them */
static void add_missing_fields(struct session *s)
{
	struct transaction *t = &s->tx;
	buf_t *b = &s->dbuf;
	char date[64];
	int added = 0;

	if (!t->dec.saw_message_id) {
		buf_printf(b, "Message-ID: <%s@%s>\r\n", t->qid, s->cfg->hostname);
		added = 1;
	}
	if (!t->dec.saw_date) {
		rfc5322_date(date, sizeof(date), time(NULL));
		buf_printf(b, "Date: %s\r\n", date);
		added = 1;
	}
	if (added && !t->dec.headers_end_blank)
		buf_puts(b, "\r\n");	/* the body started without a blank line */
}

static void on_committed(void *arg, enum qstatus st);

/* finish_message - the content is complete: commit or refuse it */
static void finish_message(struct session *s)
{
	struct transaction *t = &s->tx;
	struct qmsg *m = t->msg;

	if (t->too_big || t->dec.received_count >= HOPS_MAX) {
		enum reply_id r = t->too_big ? R_SIZE_EXCEEDED : R_TOO_MANY_HOPS;

		tx_reset(s);
		set_state(s, ST_CMD);
		reply(s, r, NULL, NULL);
		return;
	}
	t->msg = NULL;
	set_state(s, ST_COMMIT);
	evtimer_del(s->timer);
	s->pending++;
	queue_msg_commit(m, on_committed, s);
}

/* end_of_header - the header section ended: add our fields */
static void end_of_header(struct session *s)
{
	struct transaction *t = &s->tx;

	t->dec.headers_end_event = 0;
	buf_reset(&s->dbuf);
	add_missing_fields(s);
	if (!t->too_big && t->msg)
		queue_msg_write(t->msg, s->dbuf.data, s->dbuf.len);
	buf_reset(&s->dbuf);
}

/* feed_content - run content bytes through the decoder into the queue;
 * returns the bytes consumed, *progress set when anything happened */
static size_t feed_content(struct session *s, const char *p, size_t n, int *progress)
{
	struct transaction *t = &s->tx;
	size_t used;

	buf_reset(&s->dbuf);
	used = data_dec_feed(&t->dec, p, n, &s->dbuf);
	push_content(s, s->dbuf.data, s->dbuf.len);
	buf_reset(&s->dbuf);
	*progress = used > 0 || t->dec.headers_end_event || t->dec.done;
	if (t->dec.headers_end_event)
		end_of_header(s);
	return used;
}

/* step_data - decode DATA content (RFC 5321 4.1.1.4) */
static int step_data(struct session *s, struct evbuffer *in)
{
	struct transaction *t = &s->tx;
	struct evbuffer_iovec v;
	size_t used;
	int progress;

	if (backlog_pause(s))
		return 0;
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return 0;
	used = feed_content(s, v.iov_base, v.iov_len, &progress);
	evbuffer_drain(in, used);
	data_progress(s, used);
	if (t->dec.done)
		finish_message(s);
	return progress;
}

/* bdat_chunk_done - a whole chunk was read: answer it */
static void bdat_chunk_done(struct session *s)
{
	struct transaction *t = &s->tx;
	char num[32];

	if (t->chunk_error != R_NONE) {
		enum reply_id r = t->chunk_error;

		if (r == R_LOCAL_ERROR)
			tx_reset(s);
		set_state(s, ST_CMD);
		reply(s, r, NULL, NULL);
		return;
	}
	if (t->chunk_last) {
		buf_reset(&s->dbuf);
		if (data_dec_finish_literal(&t->dec, &s->dbuf) == 1) {
			push_content(s, s->dbuf.data, s->dbuf.len);
			end_of_header(s);
		} else {
			push_content(s, s->dbuf.data, s->dbuf.len);
		}
		buf_reset(&s->dbuf);
		finish_message(s);
		return;
	}
	set_state(s, ST_CMD);
	snprintf(num, sizeof(num), "%llu", t->chunk_size);
	reply(s, R_BDAT_CHUNK, num, NULL);
}

/* step_bdat - take chunk bytes literally (RFC 3030 2) */
static int step_bdat(struct session *s, struct evbuffer *in)
{
	struct transaction *t = &s->tx;
	struct evbuffer_iovec v;
	size_t n;
	int progress = 1;

	if (t->chunk_left && t->chunk_error == R_NONE && backlog_pause(s))
		return 0;
	if (t->chunk_left) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return 0;
		n = v.iov_len < t->chunk_left ? v.iov_len : (size_t)t->chunk_left;
		if (t->chunk_error == R_NONE)
			n = feed_content(s, v.iov_base, n, &progress);
		evbuffer_drain(in, n);
		t->chunk_left -= n;
		data_progress(s, n);
		if (t->chunk_left)
			return progress;
	}
	bdat_chunk_done(s);
	return 1;
}

/* wait_command - nothing complete to run: arm the deadline or stop */
static void wait_command(struct session *s)
{
	if (s->shutdown && s->state == ST_CMD && !s->discarding &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
		reply_host(s, R_SHUTDOWN);
		begin_close(s);
		return;
	}
	if (!s->cmd_armed) {
		s->cmd_armed = 1;
		arm_timer(s, s->cfg->timeout);
	}
}

/* output_high - the client is not reading our replies */
static int output_high(struct session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev)) > OUT_HIGH;
}

/* process - run everything the buffered input allows */
void process(struct session *s)
{
	struct evbuffer *in;
	int more = 1;

	if (!s->bev)
		return;

	while (more && !s->paused && s->bev) {
		in = bufferevent_get_input(s->bev);	/* STARTTLS replaces the bufferevent */
		if (output_high(s)) {
			s->out_blocked = 1;
			return;
		}
		switch (s->state) {
		case ST_CMD:
			more = step_command(s, in);
			if (!more && s->state == ST_CMD)
				wait_command(s);
			break;
		case ST_AUTH:
			more = step_auth(s, in);
			if (!more && s->state == ST_AUTH)
				wait_command(s);
			break;
		case ST_DATA:
			more = step_data(s, in);
			break;
		case ST_BDAT:
			more = step_bdat(s, in);
			break;
		default:
			more = 0;
			break;
		}
	}
	if (s->eof && s->state != ST_COMMIT && s->state != ST_CLOSING && !s->paused)
		begin_close(s);	/* unterminated content is dropped by tx_reset */
}

/* on_read - bytes arrived */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state == ST_CLOSING) {
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (s->state == ST_GREET) {
		log_warn("pregreet sid=%s client=%s reason=\"talked before the banner\"",
			 s->id, s->ip);
		set_state(s, ST_CMD);
		reply(s, R_SYNC, NULL, NULL);
		begin_close(s);
		return;
	}
	process(s);
}

/* on_write - output drained */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct timeval now = { 0, 0 };

	if (s->state == ST_CLOSING) {
		if (!s->tls && !s->lingering && !s->shutdown && bufferevent_getfd(bev) >= 0) {
			/* Closing a socket with unread input makes the kernel
			 * send RST, which can destroy our last replies in
			 * flight: half-close, swallow input briefly, then close. */
			s->lingering = 1;
			shutdown(bufferevent_getfd(bev), SHUT_WR);
			evbuffer_drain(bufferevent_get_input(bev),
				       evbuffer_get_length(bufferevent_get_input(bev)));
			bufferevent_enable(bev, EV_READ);
			arm_timer(s, DRAIN_LINGER);
			return;
		}
		evtimer_add(s->timer, &now);
		return;
	}
	if (s->out_blocked) {
		s->out_blocked = 0;
		process(s);
	}
}

/* on_event - EOF or error on the connection */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		tls_established(s, bev);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && s->tls)
		log_tls_error(s, bev);
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && s->state != ST_CLOSING) {
		s->eof = 1;
		if (s->state == ST_DATA || s->state == ST_BDAT)
			log_info("lost sid=%s client=%s reason=\"eof in message content\"",
				 s->id, s->ip);
		process(s);
		return;
	}
	session_destroy(s);
}

/* on_timer - deadline passed, greeting pause over, or time to free */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	switch (s->state) {
	case ST_CLOSING:
		session_destroy(s);
		return;
	case ST_GREET:
		set_state(s, ST_CMD);
		reply(s, R_BANNER, s->cfg->hostname, s->cfg->banner);
		process(s);
		return;
	case ST_COMMIT:
		return;
	case ST_DELAY:
		set_state(s, ST_CMD);
		reply(s, s->delayed_reply, NULL, NULL);
		process(s);
		return;
	case ST_VERIFY:
		if (!s->pending)
			auth_fail_done(s);
		return;
	default:
		break;
	}
	log_info("timeout sid=%s client=%s state=%s%s", s->id, s->ip, state_names[s->state],
		 s->tls && !s->tls_ready ? " tls=handshake" : "");
	if (s->tls && !s->tls_ready) {
		session_destroy(s);	/* no reply can go out before the handshake */
		return;
	}
	reply_host(s, R_TIMEOUT);
	begin_close(s);
}

/* on_committed - the queue's verdict on the message */
static void on_committed(void *arg, enum qstatus st)
{
	struct session *s = arg;
	struct transaction *t = &s->tx;
	char from[LOG_ESC_SIZE];

	s->pending--;
	if (s->dead) {
		session_destroy(s);
		return;
	}
	set_state(s, ST_CMD);
	if (st == Q_OK) {
		log_info("accept sid=%s client=%s qid=%s from=<%s> nrcpt=%u size=%llu",
			 s->id, s->ip, t->qid, log_escape(from, t->sender, strlen(t->sender)),
			 t->rcpt_cmds, t->size);
		s->messages++;
		s->junk = 0;		/* the limits count since the last message */
		s->errors = 0;
		s->rcpt_rejects = 0;
		reply(s, R_QUEUED, t->qid, s->cfg->hostname);
	} else {
		reply(s, st == Q_NOSPACE ? R_NO_SPACE : R_LOCAL_ERROR, NULL, NULL);
	}
	tx_reset(s);
	if (s->killed) {	/* the grace period ended during the commit */
		reply_host(s, R_SHUTDOWN);
		begin_close(s);
		return;
	}
	process(s);
}

/* open_connection - the bufferevent for a new socket: plain, or TLS from
 * the first byte on a submissions listener (RFC 8314 3.3) */
static struct bufferevent *open_connection(struct server *srv, const struct config *cfg,
					   int fd, enum listen_role role, int *tls)
{
	struct event_base *base = server_base(srv);
	struct bufferevent *bev;
	SSL *ssl;

	*tls = 0;
	if (role != ROLE_SUBMISSIONS || !cfg->tls_ctx)
		return bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	ssl = SSL_new(cfg->tls_ctx);
	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	*tls = 1;
	return bev;
}

/* peer_identity - printable client address; the uid on the local socket */
static void peer_identity(struct session *s, int fd, const struct sockaddr *sa)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	s->peer_uid = -1;
	if (sa->sa_family != AF_UNIX) {
		sockaddr_text(sa, s->ip, sizeof(s->ip));
		return;
	}
	snprintf(s->ip, sizeof(s->ip), "local");
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0)
		s->peer_uid = (long)uc.uid;
}

/* session_new - set up a session for an accepted socket */
struct session *session_new(struct server *srv, int fd, const struct sockaddr *sa,
			    socklen_t salen, enum listen_role role, int reject_reply)
{
	struct bufferevent *bev;
	int tls;

	bev = open_connection(srv, server_config(srv), fd, role, &tls);
	if (!bev) {
		evutil_closesocket(fd);
		return NULL;
	}
	return session_attach(srv, bev, tls, sa, salen, role, reject_reply);
}

/* session_attach - run a session on a ready bufferevent (a socket, or one
 * end of a bufferevent pair in the unit tests) */
struct session *session_attach(struct server *srv, struct bufferevent *bev, int tls,
			       const struct sockaddr *sa, socklen_t salen,
			       enum listen_role role, int reject_reply)
{
	static unsigned long long next_id;
	struct session *s = calloc(1, sizeof(*s));
	struct event_base *base = server_base(srv);

	if (!s) {
		bufferevent_free(bev);
		return NULL;
	}
	s->role = role;
	s->srv = srv;
	s->cfg = server_config(srv);
	config_ref(s->cfg);
	s->tls = tls;
	snprintf(s->id, sizeof(s->id), "%llx", ++next_id);
	memcpy(&s->peer, sa, salen < sizeof(s->peer) ? salen : sizeof(s->peer));
	peer_identity(s, bufferevent_getfd(bev), sa);
	s->trace = config_trace_client(s->cfg, sa);
	envelope_init(&s->tx.env);
	buf_init(&s->dbuf);
	s->bev = bev;
	s->timer = evtimer_new(base, on_timer, s);
	if (!s->timer) {
		session_destroy(s);
		return NULL;
	}
	take_bufferevent(s, s->bev);
	log_info("connect sid=%s client=%s role=%s", s->id, s->ip, role_names[role]);
	s->state = ST_CMD;
	if (reject_reply) {
		reply_host(s, (enum reply_id)reject_reply);
		begin_close(s);
	} else if (s->cfg->greet_pause_ms) {
		struct timeval tv = { s->cfg->greet_pause_ms / 1000,
				      (s->cfg->greet_pause_ms % 1000) * 1000 };

		s->state = ST_GREET;
		evtimer_add(s->timer, &tv);
	} else {
		reply(s, R_BANNER, s->cfg->hostname, s->cfg->banner);
		wait_command(s);
	}
	return s;
}

/* session_destroy - free everything (deferred while a commit is pending) */
void session_destroy(struct session *s)
{
	if (s->tx.msg)
		tx_reset(s);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->pending) {
		s->dead = 1;	/* on_committed finishes the job */
		if (s->timer)
			evtimer_del(s->timer);
		return;
	}
	log_info("disconnect sid=%s client=%s messages=%llu errors=%u", s->id, s->ip,
		 s->messages, s->errors_total);
	envelope_clear(&s->tx.env);
	if (s->timer)
		event_free(s->timer);
	buf_free(&s->dbuf);
	free(s->helo);
	free(s->auth_user);
	if (s->login_user) {
		sasl_wipe(s->login_user, strlen(s->login_user));
		free(s->login_user);
	}
	config_unref(s->cfg);
	server_session_gone(s->srv, s);
	free(s);
}

/* session_shutdown - the server is stopping */
void session_shutdown(struct session *s)
{
	s->shutdown = 1;
	if (s->state == ST_GREET) {
		set_state(s, ST_CMD);
		reply_host(s, R_SHUTDOWN);
		begin_close(s);
	} else if (s->state == ST_CMD && s->bev && !s->discarding &&
		   evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
		wait_command(s);
	}
}

/* session_kill - the grace period is over: close now.  A session waiting
 * for its commit is left to get its reply (the message may already be on
 * disk: answering avoids a duplicate), then it closes as shutdown says. */
void session_kill(struct session *s)
{
	if (s->dead)
		return;
	if (s->state == ST_COMMIT) {
		s->killed = 1;
		return;
	}
	if (s->state != ST_CLOSING)
		log_info("killed sid=%s client=%s state=%s", s->id, s->ip, state_names[s->state]);
	session_destroy(s);
}

/* session_peer - client address */
const struct sockaddr *session_peer(const struct session *s)
{
	return (const struct sockaddr *)&s->peer;
}

/* session_closing - in its final state */
int session_closing(const struct session *s)
{
	return s->state == ST_CLOSING || s->dead;
}

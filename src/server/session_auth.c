/* session_auth - STARTTLS (RFC 3207) and AUTH (RFC 4954) for the SMTP
 * session: the TLS switch-over with the plaintext discard (CVE-2011-0411),
 * the SASL exchanges, password checks on worker threads, and the failure
 * delays and limits.
 *
 * Public (within src/server, through session_int.h): starttls_offered,
 * auth_offered, check_/proceed_starttls, check_/proceed_auth, step_auth,
 * auth_fail_done, tls_established, log_tls_error.
 * Invariants: a secret never reaches a log line and is wiped from every
 * buffer it passed through; a verification job keeps the session alive
 * (s->pending) until its callback ran.
 */
#include "server/session_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/passwd.h"
#include "auth/sasl.h"
#include "conf/tables.h"
#include "server/server.h"
#include "smtp/linereader.h"
#include "tls/tlsctx.h"
#include "util/log.h"
#include "util/work.h"

/* starttls_offered - STARTTLS can be used now (RFC 3207) */
int starttls_offered(const struct session *s)
{
	return s->cfg->tls_ctx && !s->tls && s->role != ROLE_LOCAL;
}

/* auth_available - AUTH exists on this listener: a users file, and the
 * submission listeners (the MX listener only with auth_on_mx: port 25 is
 * where password guessing comes from, so Postfix's default is the same) */
static int auth_available(const struct session *s)
{
	if (!s->cfg->users || s->role == ROLE_LOCAL)
		return 0;
	return s->role != ROLE_MX || s->cfg->auth_on_mx;
}

/* auth_offered - AUTH can be used now (RFC 4954 4: only over TLS unless
 * the administrator allows plaintext) */
int auth_offered(const struct session *s)
{
	return auth_available(s) && (s->tls || s->cfg->allow_plaintext_auth);
}

/* check_starttls - RFC 3207 4: not twice, no argument */
enum reply_id check_starttls(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	(void)a;
	if (s->tls)
		return R_TLS_ACTIVE;
	if (!starttls_offered(s))
		return R_UNKNOWN;
	return c->arglen ? R_BAD_ARGS : R_NONE;
}

/* forget_session - RFC 3207 4.2: after TLS starts, nothing said before
 * counts (HELO, AUTH, the transaction) */
static void forget_session(struct session *s)
{
	tx_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	free(s->auth_user);
	s->auth_user = NULL;
	s->discarding = 0;
}

/* proceed_starttls - 220, then the handshake; whatever the client sent
 * after STARTTLS in the clear is thrown away (CVE-2011-0411) */
void proceed_starttls(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk = evbuffer_get_length(in);
	SSL *ssl = SSL_new(s->cfg->tls_ctx);
	struct bufferevent *tb;

	(void)c;
	(void)a;
	if (!ssl) {
		reply(s, R_TLS_UNAVAILABLE, NULL, NULL);
		return;
	}
	reply(s, R_STARTTLS_GO, NULL, NULL);
	if (junk) {
		log_warn("starttls sid=%s client=%s discarded=%zu reason=\"plaintext after STARTTLS\"",
			 s->id, s->ip, junk);
		evbuffer_drain(in, junk);
	}
	tb = bufferevent_openssl_filter_new(server_base(s->srv), s->bev, ssl,
					    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tb) {
		SSL_free(ssl);
		begin_close(s);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	forget_session(s);
	s->tls = 1;
	take_bufferevent(s, tb);
}

/* check_auth - RFC 4954 4: after EHLO, once, outside a transaction, over
 * TLS (unless allowed), a mechanism we know */
enum reply_id check_auth(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	size_t n = 0;

	(void)a;
	if (!s->esmtp)
		return R_NEED_HELLO;
	if (s->auth_user)
		return R_AUTH_TWICE;
	if (s->tx.active)
		return R_AUTH_IN_TX;
	if (!auth_available(s))
		return R_AUTH_UNAVAILABLE;
	if (!s->tls && !s->cfg->allow_plaintext_auth)
		return R_NEED_TLS;
	while (n < c->arglen && c->arg[n] != ' ' && c->arg[n] != '\t')
		n++;
	if ((n == 5 && strncasecmp(c->arg, "PLAIN", 5) == 0) ||
	    (n == 5 && strncasecmp(c->arg, "LOGIN", 5) == 0))
		return R_NONE;
	return c->arglen ? R_AUTH_MECH : R_BAD_ARGS;
}

/* auth_end - leave the AUTH exchange with a reply */
static void auth_end(struct session *s, enum reply_id r)
{
	s->auth_step = AS_NONE;
	if (s->login_user) {
		sasl_wipe(s->login_user, strlen(s->login_user));
		free(s->login_user);
		s->login_user = NULL;
	}
	set_state(s, ST_CMD);
	reply(s, r, NULL, NULL);
}

/* sasl_reply - the reply for a SASL decoding error */
static enum reply_id sasl_reply(enum sasl_err e)
{
	return e == SASL_CANCEL ? R_AUTH_CANCEL : R_AUTH_BAD;
}

/* auth_blocked - the client's address used up its AUTH attempts */
static void auth_blocked(struct session *s)
{
	s->auth_step = AS_NONE;
	set_state(s, ST_CMD);
	log_info("auth sid=%s client=%s status=refused reason=\"address blocked\"", s->id, s->ip);
	reply_host(s, R_AUTH_BLOCKED);
	begin_close(s);
}

struct verify_job {
	struct session *s;
	char *user;		/* lowercased authcid */
	char *hash;		/* NULL: unknown user */
	char *password;
	int deny;		/* authzid names someone else */
	int ok;
};

/* verify_work - the slow part, on a worker thread */
static void verify_work(void *arg)
{
	struct verify_job *j = arg;

	if (j->hash && !j->deny)
		j->ok = passwd_verify(j->password, j->hash);
	else
		passwd_dummy_verify(j->password);	/* same time either way */
	sasl_wipe(j->password, strlen(j->password));
}

/* auth_fail_done - the failure delay is over: answer */
void auth_fail_done(struct session *s)
{
	set_state(s, ST_CMD);
	reply(s, R_AUTH_FAILED, NULL, NULL);
	if (s->auth_failures >= s->cfg->max_auth_failures) {
		reply_host(s, R_AUTH_BLOCKED);
		begin_close(s);
		return;
	}
	process(s);
}

/* verify_done - back on the loop thread */
static void verify_done(void *arg)
{
	struct verify_job *j = arg;
	struct session *s = j->s;
	char esc[LOG_ESC_SIZE];

	s->pending--;
	if (s->dead) {
		session_destroy(s);
	} else if (j->ok) {
		log_info("auth sid=%s client=%s user=%s status=ok", s->id, s->ip,
			 log_escape(esc, j->user, strlen(j->user)));
		server_auth_success(s->srv, (const struct sockaddr *)&s->peer);
		s->auth_user = j->user;
		j->user = NULL;
		set_state(s, ST_CMD);
		reply(s, R_AUTH_OK, NULL, NULL);
		process(s);
	} else {
		log_info("auth sid=%s client=%s user=%s status=failed failures=%u", s->id, s->ip,
			 log_escape(esc, j->user, strlen(j->user)), s->auth_failures + 1);
		s->auth_failures++;	/* the address's count was taken at the start */
		arm_timer(s, s->auth_failures - 1);	/* slower at each failure */
	}
	free(j->user);
	free(j->hash);
	free(j->password);
	free(j);
}

/* auth_verify - check the credentials off the loop thread */
static void auth_verify(struct session *s, const char *authzid, const char *authcid,
			const char *password)
{
	struct verify_job *j = calloc(1, sizeof(*j));
	const char *hash;
	char *p;

	if (!j || !(j->user = strdup(authcid)) || !(j->password = strdup(password))) {
		if (j) {
			free(j->user);
			free(j);
		}
		auth_end(s, R_LOCAL_ERROR);
		return;
	}
	for (p = j->user; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (server_auth_begin(s->srv, (const struct sockaddr *)&s->peer) < 0) {
		free(j->user);
		sasl_wipe(j->password, strlen(j->password));
		free(j->password);
		free(j);
		auth_blocked(s);
		return;
	}
	j->s = s;
	j->deny = authzid[0] && strcasecmp(authzid, authcid) != 0;
	hash = users_hash(s->cfg->users, j->user);
	j->hash = hash ? strdup(hash) : NULL;
	s->auth_step = AS_NONE;
	set_state(s, ST_VERIFY);
	evtimer_del(s->timer);
	s->pending++;
	if (workpool_submit(server_workpool(s->srv), verify_work, verify_done, j) < 0) {
		s->pending--;
		free(j->user);
		free(j->hash);
		sasl_wipe(j->password, strlen(j->password));
		free(j->password);
		free(j);
		auth_end(s, R_LOCAL_ERROR);
	}
}

/* auth_plain - one PLAIN response (RFC 4616) */
static void auth_plain(struct session *s, const char *p, size_t n)
{
	struct sasl_creds cr;
	enum sasl_err e = sasl_plain(p, n, &cr);

	if (e != SASL_OK)
		auth_end(s, sasl_reply(e));
	else
		auth_verify(s, cr.authzid, cr.authcid, cr.password);
	sasl_wipe(&cr, sizeof(cr));
}

/* auth_login - one LOGIN response: the user name, then the password */
static void auth_login(struct session *s, const char *p, size_t n)
{
	char field[SASL_FIELD_MAX + 1];
	enum sasl_err e = sasl_login_field(p, n, field);

	if (e != SASL_OK) {
		auth_end(s, sasl_reply(e));
	} else if (!s->login_user) {
		s->login_user = strdup(field);
		if (!s->login_user) {
			auth_end(s, R_LOCAL_ERROR);
		} else {
			s->auth_step = AS_LOGIN_PASS;
			set_state(s, ST_AUTH);
			reply(s, R_AUTH_CHALLENGE, "UGFzc3dvcmQ6", NULL);	/* "Password:" */
		}
	} else {
		char *user = s->login_user;

		s->login_user = NULL;
		auth_verify(s, "", user, field);
		free(user);
	}
	sasl_wipe(field, sizeof(field));
}

/* proceed_auth - AUTH <mechanism> [initial-response] */
void proceed_auth(struct session *s, const struct smtp_cmd *c, union cmd_args *a)
{
	int plain = strncasecmp(c->arg, "PLAIN", 5) == 0;
	const char *ir = c->arg + 5;
	size_t irlen = c->arglen - 5;

	(void)a;
	while (irlen && (*ir == ' ' || *ir == '\t')) {
		ir++;
		irlen--;
	}
	if (server_auth_blocked(s->srv, (const struct sockaddr *)&s->peer)) {
		auth_blocked(s);
		return;
	}
	s->auth_step = plain ? AS_PLAIN : AS_LOGIN_USER;
	if (irlen) {
		if (plain)
			auth_plain(s, ir, irlen);
		else
			auth_login(s, ir, irlen);
		return;
	}
	set_state(s, ST_AUTH);
	reply(s, R_AUTH_CHALLENGE, plain ? "" : "VXNlcm5hbWU6", NULL);	/* "Username:" */
}

/* step_auth - read one AUTH response line (up to SASL_LINE_MAX) */
int step_auth(struct session *s, struct evbuffer *in)
{
	char *line;
	size_t avail = evbuffer_get_length(in), want;
	const char *data;
	struct lr_line l;

	if (avail == 0)
		return 0;
	want = avail < SASL_LINE_MAX + 2 ? avail : SASL_LINE_MAX + 2;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	switch (lr_scan(data, want, SASL_LINE_MAX + 2, &l)) {
	case LR_NEED_MORE:
		return 0;
	case LR_TOO_LONG:
		s->discarding = 1;
		s->discarded = 0;
		s->discard_reply = R_AUTH_LINE_TOO_LONG;
		s->auth_step = AS_NONE;
		set_state(s, ST_CMD);
		return 1;
	case LR_LINE:
		break;
	}
	line = malloc(l.len + 1);
	if (!line) {
		evbuffer_drain(in, l.consumed);
		auth_end(s, R_LOCAL_ERROR);
		return 1;
	}
	memcpy(line, data, l.len);
	line[l.len] = '\0';
	sasl_wipe((void *)data, l.consumed);	/* the secret leaves the input buffer */
	evbuffer_drain(in, l.consumed);
	s->cmd_armed = 0;
	trace_line(s, "in", "<authentication data>", 21);
	if (l.has_nul)
		auth_end(s, R_AUTH_BAD);
	else if (s->auth_step == AS_PLAIN)
		auth_plain(s, line, l.len);
	else
		auth_login(s, line, l.len);
	sasl_wipe(line, l.len);
	free(line);
	return 1;
}

/* tls_established - the TLS handshake is done */
void tls_established(struct session *s, struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const char *sni = ssl ? tls_sni(ssl) : NULL;
	char esc[LOG_ESC_SIZE];

	s->tls_ready = 1;
	if (ssl)
		tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
	log_info("tls sid=%s client=%s version=\"%s\" sni=\"%s\"", s->id, s->ip, s->tls_info,
		 sni ? log_escape(esc, sni, strlen(sni)) : "");
}

/* log_tls_error - why a TLS connection failed (handshake garbage etc.) */
void log_tls_error(struct session *s, struct bufferevent *bev)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	char why[256] = "connection error";

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	log_info("tls sid=%s client=%s status=failed error=\"%s\"", s->id, s->ip, why);
	ERR_clear_error();
}


/* session - mailport probe's connection: blocking, poll()-bounded socket
 * and TLS primitives, and the transcript of steps (see session.h).
 *
 * Public: sess_init, sess_free, sess_set_hooks, sess_connect,
 * sess_greeting, sess_cmd, sess_send_cmd, sess_read_step, sess_send_data,
 * sess_send_raw, sess_read_reply, sess_quiet, sess_starttls,
 * sess_tls_handshake, sess_close, sess_step_add, sess_note, sess_info,
 * sess_verdict, sess_reply_text, sess_vclass_name, sess_result_text,
 * sess_printer_hooks, sess_print_escaped, sess_json_step, sess_json_tls.
 *
 * Invariants: the socket is non-blocking and every wait is a poll() with
 * the time left until the operation's deadline; s->in holds only bytes not
 * yet read as a reply line; once a step is done its verdict is set and the
 * hooks have seen it.  Every byte from the server that is printed goes
 * through sess_print_escaped (no terminal escape ever reaches the screen).
 */
#include "probe/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "auth/sasl.h"
#include "probe/verdict.h"
#include "smtp/linereader.h"
#include "smtp/replyparse.h"
#include "util/json.h"

#define CHUNK 16384
#define NOTE_MAX 1024

/* now_us - the monotonic clock in microseconds */
static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* deadline - now plus the session's timeout */
static long long deadline(const struct sess *s)
{
	return now_us() + (long long)s->timeout_ms * 1000;
}

/* xstrdup - strdup that tolerates NULL */
static char *xstrdup(const char *p)
{
	return p ? strdup(p) : NULL;
}

/* sess_init - see session.h */
void sess_init(struct sess *s, int timeout_ms)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	buf_init(&s->in);
}

/* free_reply - the lines of a reply */
static void free_reply(struct sess_reply *r)
{
	for (size_t i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	free(r->lines);
	memset(r, 0, sizeof(*r));
}

/* free_step - one step and what it holds */
static void free_step(struct sess_step *st)
{
	free(st->command);
	free(st->error);
	free(st->verdict);
	free(st->next);
	for (size_t i = 0; i < st->nnotes; i++)
		free(st->notes[i]);
	free(st->notes);
	free_reply(&st->reply);
	free(st);
}

/* free_tls - the certificate details */
static void free_tls(struct sess_tls *t)
{
	free(t->subject);
	free(t->issuer);
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

/* sess_close - see session.h */
void sess_close(struct sess *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->ctx) {
		SSL_CTX_free(s->ctx);
		s->ctx = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	buf_reset(&s->in);
}

/* sess_free - see session.h */
void sess_free(struct sess *s)
{
	sess_close(s);
	for (size_t i = 0; i < s->nsteps; i++)
		free_step(s->steps[i]);
	free(s->steps);
	free_tls(&s->tls);
	buf_free(&s->in);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* sess_set_hooks - see session.h */
void sess_set_hooks(struct sess *s, const struct sess_hooks *h)
{
	if (h)
		s->hooks = *h;
	else
		memset(&s->hooks, 0, sizeof(s->hooks));
}

/* ------------------------------------------------------------ transcript */

/* sess_step_add - see session.h */
struct sess_step *sess_step_add(struct sess *s, const char *name, const char *command)
{
	struct sess_step *st;

	if (s->nsteps == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct sess_step **p = realloc(s->steps, nc * sizeof(*p));

		if (!p)
			return NULL;
		s->steps = p;
		s->cap = nc;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->command = xstrdup(command);
	st->t0_us = now_us();
	s->steps[s->nsteps++] = st;
	return st;
}

/* vnote - append a formatted note */
static void vnote(struct sess *s, struct sess_step *st, const char *fmt, va_list ap)
{
	char text[NOTE_MAX];
	char **p;

	vsnprintf(text, sizeof(text), fmt, ap);
	p = realloc(st->notes, (st->nnotes + 1) * sizeof(*p));
	if (!p)
		return;
	st->notes = p;
	st->notes[st->nnotes] = strdup(text);
	if (!st->notes[st->nnotes])
		return;
	st->nnotes++;
	if (s->hooks.note)
		s->hooks.note(s->hooks.arg, st, text);
}

/* sess_note - see session.h */
void sess_note(struct sess *s, struct sess_step *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(s, st, fmt, ap);
	va_end(ap);
}

/* sess_info - see session.h */
void sess_info(struct sess *s, const char *fmt, ...)
{
	char text[NOTE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (s->hooks.info)
		s->hooks.info(s->hooks.arg, text);
}

/* finish - stop the step's clock, mark it done, show it */
static void finish(struct sess *s, struct sess_step *st)
{
	if (!st->done)
		st->ms = (double)(now_us() - st->t0_us) / 1000.0;
	st->done = 1;
	if (s->hooks.done)
		s->hooks.done(s->hooks.arg, st);
}

/* set_verdict - replace the verdict text, next step and class */
static void set_verdict(struct sess_step *st, enum sess_vclass c, const char *text,
			const char *next)
{
	free(st->verdict);
	free(st->next);
	st->verdict = xstrdup(text);
	st->next = next && next[0] ? strdup(next) : NULL;
	st->vclass = c;
}

/* sess_verdict - see session.h */
void sess_verdict(struct sess *s, struct sess_step *st, enum sess_vclass c, const char *next,
		  const char *fmt, ...)
{
	char text[NOTE_MAX];
	int shown = st->done;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	set_verdict(st, c, text, next);
	if (!shown)
		finish(s, st);
}

/* sess_stage - see session.h */
int sess_stage(const char *name)
{
	enum probe_stage st;

	return probe_stage_parse(name, &st) == 0 ? (int)st : (int)PROBE_OTHER;
}

/* vclass_of - the session's class for verdict.h's */
static enum sess_vclass vclass_of(enum verdict_class c)
{
	switch (c) {
	case VERDICT_OK:
		return SESS_V_OK;
	case VERDICT_TEMPORARY:
		return SESS_V_TEMP;
	case VERDICT_PERMANENT:
		return SESS_V_PERM;
	default:
		return SESS_V_ERROR;
	}
}

/* use_verdict - a verdict.h verdict as the step's */
static void use_verdict(struct sess_step *st, struct verdict v)
{
	set_verdict(st, vclass_of(v.cls), v.text, v.next);
}

/* reply_verdict - the verdict of a step's reply */
static void reply_verdict(struct sess_step *st)
{
	use_verdict(st, verdict_reply(st->reply.code, st->reply.enh,
				      (enum probe_stage)sess_stage(st->name)));
}

/* failure_verdict - the words for a step that got no reply */
static void failure_verdict(struct sess_step *st, enum sess_result r)
{
	enum probe_stage stage = (enum probe_stage)sess_stage(st->name);

	switch (r) {
	case SESS_TIMEOUT:
		use_verdict(st, verdict_problem(VERDICT_TIMEOUT, stage));
		break;
	case SESS_CLOSED:
		use_verdict(st, verdict_problem(VERDICT_CLOSED, stage));
		break;
	case SESS_PROTO:
		use_verdict(st, verdict_problem(VERDICT_MALFORMED, stage));
		break;
	case SESS_TLS:
		use_verdict(st, verdict_problem(VERDICT_TLS_HANDSHAKE, stage));
		break;
	default: {
		char text[NOTE_MAX];

		snprintf(text, sizeof(text), "%s%s%s", sess_result_text(r), st->err ? ": " : "",
			 st->err ? strerror(st->err) : "");
		set_verdict(st, SESS_V_ERROR, text, NULL);
		break;
	}
	}
	if (st->error) {		/* the specifics come first */
		char text[NOTE_MAX];

		snprintf(text, sizeof(text), "%s: %s", st->error, st->verdict ? st->verdict : "");
		free(st->verdict);
		st->verdict = strdup(text);
	}
}

/* fail - record a failed step and show it */
static enum sess_result fail(struct sess *s, struct sess_step *st, enum sess_result r,
			     const char *error)
{
	st->result = r;
	if (error && !st->error)
		st->error = strdup(error);
	failure_verdict(st, r);
	finish(s, st);
	return r;
}

/* ---------------------------------------------------------------- sockets */

/* wait_fd - poll fd for events until dl; 1 ready, 0 timed out, -1 error */
static int wait_fd(int fd, short events, long long dl)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = dl - now_us();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return 1;
		if (n == 0)
			continue;	/* loop re-checks the clock */
		if (errno != EINTR)
			return -1;
	}
}

/* ssl_wait - wait for what an SSL call wants; SESS_OK to retry */
static enum sess_result ssl_wait(struct sess *s, int rc, long long dl, char *why, size_t n)
{
	int e = SSL_get_error(s->ssl, rc);
	short ev;
	int w;

	if (e == SSL_ERROR_WANT_READ)
		ev = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		ev = POLLOUT;
	else if (e == SSL_ERROR_ZERO_RETURN) {
		return SESS_CLOSED;
	} else if (e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET ||
					      errno == EPIPE)) {
		ERR_clear_error();
		return SESS_CLOSED;
	} else {
		unsigned long ee = ERR_get_error();

		if (ee)
			ERR_error_string_n(ee, why, n);
		else
			snprintf(why, n, "TLS error %d%s%s", e, errno ? ": " : "",
				 errno ? strerror(errno) : "");
		ERR_clear_error();
		return SESS_TLS;
	}
	w = wait_fd(s->fd, ev, dl);
	if (w == 0)
		return SESS_TIMEOUT;
	return w < 0 ? SESS_IO : SESS_OK;
}

/* send_all - write p[0..n) before dl */
static enum sess_result send_all(struct sess *s, const char *p, size_t n, long long dl,
				 int *err, char *why, size_t whyn)
{
	while (n > 0) {
		if (s->ssl) {
			int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
			int rc;

			ERR_clear_error();
			rc = SSL_write(s->ssl, p, chunk);
			if (rc > 0) {
				p += rc;
				n -= (size_t)rc;
				continue;
			}
			enum sess_result r = ssl_wait(s, rc, dl, why, whyn);

			if (r != SESS_OK)
				return r;
			continue;
		}
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			*err = errno;
			return errno == EPIPE || errno == ECONNRESET ? SESS_CLOSED : SESS_IO;
		}
		int rc = wait_fd(s->fd, POLLOUT, dl);

		if (rc == 0)
			return SESS_TIMEOUT;
		if (rc < 0) {
			*err = errno;
			return SESS_IO;
		}
	}
	return SESS_OK;
}

/* fill - read what the server sends into s->in (at least one byte) */
static enum sess_result fill(struct sess *s, long long dl, int *err, char *why, size_t whyn)
{
	char tmp[CHUNK];

	if (s->fd < 0)
		return SESS_LOCAL;
	if (s->eof)
		return SESS_CLOSED;
	for (;;) {
		if (s->ssl) {
			int rc;

			ERR_clear_error();
			rc = SSL_read(s->ssl, tmp, sizeof(tmp));
			if (rc > 0)
				return buf_append(&s->in, tmp, (size_t)rc) < 0 ? SESS_LOCAL : SESS_OK;
			enum sess_result r = ssl_wait(s, rc, dl, why, whyn);

			if (r == SESS_CLOSED)
				s->eof = 1;
			if (r != SESS_OK)
				return r;
			continue;
		}
		ssize_t n = recv(s->fd, tmp, sizeof(tmp), 0);

		if (n > 0)
			return buf_append(&s->in, tmp, (size_t)n) < 0 ? SESS_LOCAL : SESS_OK;
		if (n == 0) {
			s->eof = 1;
			return SESS_CLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*err = errno;
			if (errno == ECONNRESET) {
				s->eof = 1;
				return SESS_CLOSED;
			}
			return SESS_IO;
		}
		int w = wait_fd(s->fd, POLLIN, dl);

		if (w == 0)
			return SESS_TIMEOUT;
		if (w < 0) {
			*err = errno;
			return SESS_IO;
		}
	}
}

/* connect_failed - record why a connect failed */
static enum sess_result connect_failed(struct sess *s, struct sess_step *st, int e)
{
	char text[NOTE_MAX];

	st->err = e;
	st->result = e == ETIMEDOUT ? SESS_TIMEOUT : SESS_IO;
	free(st->error);
	if (e == ETIMEDOUT)
		snprintf(text, sizeof(text), "no answer within %d s (timed out)",
			 s->timeout_ms / 1000);
	else
		snprintf(text, sizeof(text), "%s", strerror(e));
	st->error = strdup(text);
	use_verdict(st, verdict_connect(e));
	finish(s, st);
	return st->result;
}

/* sess_connect - see session.h */
enum sess_result sess_connect(struct sess *s, const struct sockaddr *sa, socklen_t len,
			      const char *label)
{
	struct sess_step *st;
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned short port = 0;
	int fd, rc, e = 0;
	socklen_t el = sizeof(e);

	sess_close(s);
	s->eof = 0;
	free_tls(&s->tls);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	snprintf(s->peer_text, sizeof(s->peer_text), "%s", addr);
	s->port = port;
	memcpy(&s->peer, sa, len < sizeof(s->peer) ? len : sizeof(s->peer));
	s->peer_len = len;
	if (label && strcmp(label, addr) != 0)
		sess_info(s, "Trying %s (%s) port %u ...", addr, label, (unsigned)port);
	else
		sess_info(s, "Trying %s port %u ...", addr, (unsigned)port);
	st = sess_step_add(s, "connect", NULL);
	if (!st)
		return SESS_LOCAL;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		st->err = errno;
		return fail(s, st, SESS_IO, strerror(errno));
	}
	rc = connect(fd, sa, len);
	if (rc < 0 && errno != EINPROGRESS) {
		e = errno;
	} else if (rc < 0) {
		int w = wait_fd(fd, POLLOUT, deadline(s));

		if (w == 0)
			e = ETIMEDOUT;
		else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
	}
	if (e) {
		close(fd);
		return connect_failed(s, st, e);
	}
	s->fd = fd;
	rc = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &rc, sizeof(rc));
	st->result = SESS_OK;
	st->ms = (double)(now_us() - st->t0_us) / 1000.0;
	{
		char text[NOTE_MAX];

		snprintf(text, sizeof(text), "connected to %s port %u", addr, (unsigned)port);
		set_verdict(st, SESS_V_OK, text, NULL);
	}
	finish(s, st);
	return SESS_OK;
}

/* ---------------------------------------------------------------- replies */

/* escape_into - s[0..n) with bytes outside printable ASCII as \xHH, cut to
 * fit dst (dstsz bytes, NUL-terminated; "..." when cut) */
static void escape_into(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;

		if (o + need + 4 > dstsz) {
			if (dstsz >= 4) {
				memcpy(dst + (o < dstsz - 4 ? o : dstsz - 4), "...", 4);
				return;
			}
			break;
		}
		if (need == 1)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
	}
	if (dstsz)
		dst[o < dstsz ? o : dstsz - 1] = '\0';
}

/* add_line - keep a reply line as received */
static int add_line(struct sess_reply *r, const char *p, size_t n)
{
	char **v = realloc(r->lines, (r->nlines + 1) * sizeof(*v));

	if (!v)
		return -1;
	r->lines = v;
	v[r->nlines] = malloc(n + 1);
	if (!v[r->nlines])
		return -1;
	memcpy(v[r->nlines], p, n);
	v[r->nlines][n] = '\0';
	r->nlines++;
	return 0;
}

/* read_into - read one full reply (RFC 5321 4.2.1) into st and judge it */
static enum sess_result read_into(struct sess *s, struct sess_step *st)
{
	struct smtp_reply *rp = malloc(sizeof(*rp));
	long long dl = deadline(s);
	char why[300] = "";
	int bare = 0;
	enum sess_result r = SESS_OK;

	if (!rp)
		return fail(s, st, SESS_LOCAL, "out of memory");
	rp_init(rp);
	free_reply(&st->reply);
	for (;;) {
		struct lr_line ln;
		enum lr_result lr = lr_scan(s->in.data ? s->in.data : "", s->in.len,
					    SESS_LINE_MAX, &ln);
		enum rp_result pr;

		if (lr == LR_NEED_MORE) {
			r = fill(s, dl, &st->err, why, sizeof(why));
			if (r != SESS_OK)
				break;
			continue;
		}
		if (lr == LR_TOO_LONG) {
			r = SESS_PROTO;
			snprintf(why, sizeof(why), "a reply line longer than %d bytes",
				 SESS_LINE_MAX);
			break;
		}
		if (add_line(&st->reply, s->in.data, ln.len) < 0) {
			r = SESS_LOCAL;
			break;
		}
		bare |= ln.bare_lf;
		pr = ln.has_nul ? RP_ERROR : rp_line(rp, s->in.data, ln.len);
		if (pr == RP_ERROR) {
			char q[200];

			escape_into(q, sizeof(q), s->in.data, ln.len);
			snprintf(why, sizeof(why), "malformed reply line \"%s\"", q);
			buf_consume(&s->in, ln.consumed);
			r = SESS_PROTO;
			break;
		}
		buf_consume(&s->in, ln.consumed);
		if (pr == RP_DONE)
			break;
	}
	if (r == SESS_OK) {
		st->reply.code = rp->code;
		memcpy(st->reply.enh, rp->enh, sizeof(st->reply.enh));
	}
	free(rp);
	if (r != SESS_OK) {
		if (r == SESS_CLOSED && st->err == 0 && st->reply.nlines)
			snprintf(why, sizeof(why), "the connection closed in the middle of a reply");
		return fail(s, st, r, why[0] ? why : NULL);
	}
	st->result = SESS_OK;
	reply_verdict(st);
	finish(s, st);
	if (bare)
		sess_note(s, st, "the server ended a reply line with a bare LF; RFC 5321 2.3.8 "
			  "requires CRLF");
	return SESS_OK;
}

/* sess_greeting - see session.h */
enum sess_result sess_greeting(struct sess *s, struct sess_step **out)
{
	struct sess_step *st = sess_step_add(s, "banner", NULL);

	if (out)
		*out = st;
	if (!st)
		return SESS_LOCAL;
	if (s->fd < 0)
		return fail(s, st, SESS_LOCAL, "not connected");
	return read_into(s, st);
}

/* sess_send_cmd - see session.h */
enum sess_result sess_send_cmd(struct sess *s, const char *name, const char *line,
			       const char *shown, struct sess_step **out)
{
	struct sess_step *st = sess_step_add(s, name, shown ? shown : line);
	char why[256] = "";
	buf_t b;
	enum sess_result r;

	if (out)
		*out = st;
	if (!st)
		return SESS_LOCAL;
	if (s->fd < 0)
		return fail(s, st, SESS_LOCAL, "not connected");
	if (s->hooks.sent)
		s->hooks.sent(s->hooks.arg, st, st->command);
	buf_init(&b);
	if (buf_puts(&b, line) < 0 || buf_puts(&b, "\r\n") < 0) {
		buf_free(&b);
		return fail(s, st, SESS_LOCAL, "out of memory");
	}
	st->t0_us = now_us();
	r = send_all(s, b.data, b.len, deadline(s), &st->err, why, sizeof(why));
	st->sent_bytes = b.len;
	sasl_wipe(b.data, b.len);	/* AUTH lines hold secrets */
	buf_free(&b);
	if (r == SESS_CLOSED)
		return SESS_OK;	/* a last reply may still be waiting: read it */
	if (r != SESS_OK)
		return fail(s, st, r, why[0] ? why : NULL);
	return SESS_OK;
}

/* sess_read_step - see session.h */
enum sess_result sess_read_step(struct sess *s, struct sess_step *st)
{
	if (!st)
		return SESS_LOCAL;
	if (st->done)
		return st->result;
	return read_into(s, st);
}

/* sess_cmd - see session.h */
enum sess_result sess_cmd(struct sess *s, const char *name, const char *line,
			  const char *shown, struct sess_step **out)
{
	struct sess_step *st = NULL;
	enum sess_result r = sess_send_cmd(s, name, line, shown, &st);

	if (out)
		*out = st;
	if (r != SESS_OK)
		return r;
	return sess_read_step(s, st);
}

/* show_lines - every CRLF line of data to the sent hook */
static void show_lines(struct sess *s, struct sess_step *st, const char *data, size_t n)
{
	size_t i = 0;

	if (!s->hooks.sent)
		return;
	while (i < n) {
		const char *e = memchr(data + i, '\n', n - i);
		size_t end = e ? (size_t)(e - data) : n;
		size_t len = end - i;
		char *line;

		if (len && data[i + len - 1] == '\r')
			len--;
		line = malloc(len + 1);
		if (!line)
			return;
		memcpy(line, data + i, len);
		line[len] = '\0';
		s->hooks.sent(s->hooks.arg, st, line);
		free(line);
		i = end + 1;
	}
}

/* sess_send_data - see session.h */
enum sess_result sess_send_data(struct sess *s, const char *name, const char *shown,
				const char *data, size_t n, struct sess_step **out)
{
	struct sess_step *st = sess_step_add(s, name, shown);
	char why[256] = "";
	enum sess_result r;

	if (out)
		*out = st;
	if (!st)
		return SESS_LOCAL;
	if (s->fd < 0)
		return fail(s, st, SESS_LOCAL, "not connected");
	show_lines(s, st, data, n);
	st->t0_us = now_us();
	r = send_all(s, data, n, deadline(s), &st->err, why, sizeof(why));
	st->sent_bytes = n;
	if (r != SESS_OK && r != SESS_CLOSED)
		return fail(s, st, r, why[0] ? why : NULL);
	return read_into(s, st);
}

/* sess_send_raw - see session.h */
enum sess_result sess_send_raw(struct sess *s, const void *p, size_t n)
{
	char why[256];
	int err = 0;

	if (s->fd < 0)
		return SESS_LOCAL;
	return send_all(s, p, n, deadline(s), &err, why, sizeof(why));
}

/* sess_read_reply - see session.h */
enum sess_result sess_read_reply(struct sess *s, const char *name, struct sess_step **out)
{
	struct sess_step *st = sess_step_add(s, name, NULL);

	if (out)
		*out = st;
	if (!st)
		return SESS_LOCAL;
	if (s->fd < 0)
		return fail(s, st, SESS_LOCAL, "not connected");
	return read_into(s, st);
}

/* sess_quiet - see session.h */
int sess_quiet(struct sess *s, int ms)
{
	char why[256];
	int err = 0;

	if (s->in.len || s->eof || s->fd < 0)
		return 0;
	return fill(s, now_us() + (long long)ms * 1000, &err, why, sizeof(why)) == SESS_TIMEOUT;
}

/* -------------------------------------------------------------------- TLS */

/* is_ip - s is an IPv4 or IPv6 address literal */
static int is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* drain - read and drop what the socket holds now (no waiting) */
static size_t drain(int fd)
{
	char tmp[CHUNK];
	size_t n = 0;

	for (;;) {
		ssize_t r = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return n;
	}
}

/* bio_text - what was written to a memory BIO, as a new string */
static char *bio_text(BIO *b)
{
	char *p = NULL, *out;
	long n = BIO_get_mem_data(b, &p);

	if (n < 0)
		n = 0;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	if (n)
		memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return out;
}

/* name_text - an X509 name in RFC 2253 form */
static char *name_text(const X509_NAME *nm)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0)
		out = bio_text(b);
	BIO_free(b);
	return out;
}

/* add_name - one more certificate name (escaped) */
static void add_name(struct sess_tls *t, const char *p, size_t n)
{
	char esc[512];
	char **v;

	if (t->nnames >= 100)
		return;
	v = realloc(t->names, (t->nnames + 1) * sizeof(*v));
	if (!v)
		return;
	t->names = v;
	escape_into(esc, sizeof(esc), p, n);
	v[t->nnames] = strdup(esc);
	if (v[t->nnames])
		t->nnames++;
}

/* cert_names - subjectAltName DNS and IP entries, else the CN */
static void cert_names(struct sess_tls *t, X509 *cert)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS) {
			add_name(t, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				 (size_t)ASN1_STRING_length(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			char a[INET6_ADDRSTRLEN];
			int len = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);

			if ((len == 4 && inet_ntop(AF_INET, d, a, sizeof(a))) ||
			    (len == 16 && inet_ntop(AF_INET6, d, a, sizeof(a))))
				add_name(t, a, strlen(a));
		}
	}
	GENERAL_NAMES_free(gens);
	if (t->nnames == 0) {
		const X509_NAME *sub = X509_get_subject_name(cert);
		int k = X509_NAME_get_index_by_NID(sub, NID_commonName, -1);
		const ASN1_STRING *cn = k >= 0 ?
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, k)) : NULL;

		if (cn)
			add_name(t, (const char *)ASN1_STRING_get0_data(cn),
				 (size_t)ASN1_STRING_length(cn));
	}
}

/* cert_dates - notAfter as ISO 8601 UTC and the days left */
static void cert_dates(struct sess_tls *t, X509 *cert)
{
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	struct tm tm;
	int days = 0, secs = 0;

	if (na && ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(t->not_after, sizeof(t->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (na && ASN1_TIME_diff(&days, &secs, NULL, na) == 1)
		t->days_left = days - (secs < 0 && days <= 0 ? 1 : 0);
}

/* collect_tls - what the handshake and the certificate say */
static void collect_tls(struct sess *s, const char *check_name)
{
	struct sess_tls *t = &s->tls;
	const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);
	X509 *cert = SSL_get1_peer_certificate(s->ssl);
	long vr = SSL_get_verify_result(s->ssl);

	t->on = 1;
	snprintf(t->protocol, sizeof(t->protocol), "%s", SSL_get_version(s->ssl));
	snprintf(t->cipher, sizeof(t->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "?");
	snprintf(t->check_name, sizeof(t->check_name), "%s", check_name);
	if (!cert) {
		snprintf(t->verify_error, sizeof(t->verify_error), "no certificate");
		return;
	}
	t->has_cert = 1;
	t->subject = name_text(X509_get_subject_name(cert));
	t->issuer = name_text(X509_get_issuer_name(cert));
	cert_names(t, cert);
	cert_dates(t, cert);
	t->verified = vr == X509_V_OK;
	if (!t->verified)
		snprintf(t->verify_error, sizeof(t->verify_error), "%s",
			 X509_verify_cert_error_string(vr));
	if (is_ip(check_name))
		t->name_matches = X509_check_ip_asc(cert, check_name, 0) == 1;
	else
		t->name_matches = X509_check_host(cert, check_name, strlen(check_name), 0,
						  NULL) == 1;
	X509_free(cert);
}

/* tls_verdict - the handshake step's verdict and notes */
static void tls_verdict(struct sess *s, struct sess_step *st, const struct sess_tls_conf *c,
			int ca_ok)
{
	const struct sess_tls *t = &s->tls;
	int good = t->has_cert && t->verified && t->name_matches;
	char text[NOTE_MAX];

	if (!t->has_cert)
		snprintf(text, sizeof(text), "%s %s, but the server sent no certificate",
			 t->protocol, t->cipher);
	else if (good)
		snprintf(text, sizeof(text), "%s %s; the certificate verifies and is valid for %s",
			 t->protocol, t->cipher, t->check_name);
	else
		snprintf(text, sizeof(text), "%s %s; the certificate %s%s%s%s%s", t->protocol,
			 t->cipher, t->verified ? "verifies" : "does NOT verify (",
			 t->verified ? "" : t->verify_error, t->verified ? "" : ")",
			 t->name_matches ? " and is valid for " : " and is NOT valid for ",
			 t->check_name);
	st->result = SESS_OK;
	{
		const char *next = NULL;

		if (t->has_cert && !t->verified)
			next = verdict_problem(VERDICT_TLS_VERIFY, PROBE_TLS).next;
		else if (t->has_cert && !t->name_matches)
			next = verdict_problem(VERDICT_TLS_NAME, PROBE_TLS).next;
		set_verdict(st, good ? SESS_V_OK : c->verify ? SESS_V_ERROR : SESS_V_WARN, text,
			    next);
	}
	finish(s, st);
	if (!ca_ok)
		sess_note(s, st, "cannot load the CA certificates %s", c->ca_file ? c->ca_file :
			  "of the system");
	if (!t->has_cert)
		return;
	sess_note(s, st, "subject: %s", t->subject ? t->subject : "?");
	for (size_t i = 0; i < t->nnames; i++)
		sess_note(s, st, "name: %s", t->names[i]);
	sess_note(s, st, "issuer: %s", t->issuer ? t->issuer : "?");
	if (t->days_left < 0)
		sess_note(s, st, "expired: %s (%ld day%s ago)", t->not_after, -t->days_left,
			  t->days_left == -1 ? "" : "s");
	else
		sess_note(s, st, "expires: %s (in %ld day%s)", t->not_after, t->days_left,
			  t->days_left == 1 ? "" : "s");
	if (t->verified)
		sess_note(s, st, "chain: verified against %s", c->ca_file ? c->ca_file :
			  "the system's CA certificates");
	else
		sess_note(s, st, "chain: not verified: %s%s", t->verify_error,
			  c->verify ? "" : " (add --verify to make this an error)");
}

/* sess_tls_handshake - see session.h */
enum sess_result sess_tls_handshake(struct sess *s, const struct sess_tls_conf *c,
				    struct sess_step **out)
{
	struct sess_step *st;
	const char *name = c->name && c->name[0] ? c->name : s->peer_text;
	char why[300] = "";
	size_t dropped = s->in.len;
	long long dl = deadline(s);
	int ca_ok;

	if (is_ip(name) || !c->name || !c->name[0])
		sess_info(s, "TLS handshake with %s", s->peer_text);
	else
		sess_info(s, "TLS handshake with %s (SNI %s)", s->peer_text, name);
	st = sess_step_add(s, "tls", NULL);
	if (out)
		*out = st;
	if (!st)
		return SESS_LOCAL;
	if (s->fd < 0)
		return fail(s, st, SESS_LOCAL, "not connected");
	/* RFC 3207 4.2 (and CVE-2011-0411): nothing the server sent before
	 * the handshake may be read as part of the TLS session */
	buf_reset(&s->in);
	dropped += drain(s->fd);
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->ctx)
		return fail(s, st, SESS_TLS, "cannot create a TLS context");
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);	/* judged afterwards */
	ca_ok = (c->ca_file ? SSL_CTX_load_verify_locations(s->ctx, c->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(s->ctx)) == 1;
	ERR_clear_error();
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
		return fail(s, st, SESS_TLS, "cannot create a TLS session");
	if (!is_ip(name))
		SSL_set_tlsext_host_name(s->ssl, name);
	st->t0_us = now_us();
	for (;;) {
		int rc;
		enum sess_result r;

		ERR_clear_error();
		rc = SSL_connect(s->ssl);
		if (rc == 1)
			break;
		r = ssl_wait(s, rc, dl, why, sizeof(why));
		if (r == SESS_CLOSED)
			snprintf(why, sizeof(why), "the server closed the connection during the "
				 "handshake");
		if (r == SESS_TIMEOUT)
			snprintf(why, sizeof(why), "no handshake within %d s",
				 s->timeout_ms / 1000);
		if (r != SESS_OK) {
			SSL_free(s->ssl);
			s->ssl = NULL;
			close(s->fd);
			s->fd = -1;
			fail(s, st, SESS_TLS, why[0] ? why : sess_result_text(r));
			if (dropped)
				sess_note(s, st, "dropped %zu bytes the server sent after its 220 "
					  "(RFC 3207 4.2)", dropped);
			return SESS_TLS;
		}
	}
	collect_tls(s, name);
	tls_verdict(s, st, c, ca_ok);
	if (dropped)
		sess_note(s, st, "discarded %zu bytes the server sent before the handshake "
			  "(plaintext after its 220 must never be read as TLS data: RFC 3207 4.2, "
			  "CVE-2011-0411)", dropped);
	return SESS_OK;
}

/* sess_starttls - see session.h */
enum sess_result sess_starttls(struct sess *s, const struct sess_tls_conf *c,
			       struct sess_step **out)
{
	struct sess_step *st = NULL;
	enum sess_result r = sess_cmd(s, "starttls", "STARTTLS", NULL, &st);

	if (out)
		*out = st;
	if (r != SESS_OK || st->reply.code != 220)
		return r;
	return sess_tls_handshake(s, c, NULL);
}

/* ----------------------------------------------------------------- words */

/* sess_vclass_name - see session.h */
const char *sess_vclass_name(enum sess_vclass c)
{
	switch (c) {
	case SESS_V_OK:
		return "ok";
	case SESS_V_WARN:
		return "warning";
	case SESS_V_TEMP:
		return "temporary";
	case SESS_V_PERM:
		return "permanent";
	case SESS_V_ERROR:
		return "error";
	default:
		return "";
	}
}

/* sess_result_text - see session.h */
const char *sess_result_text(enum sess_result r)
{
	switch (r) {
	case SESS_OK:
		return "ok";
	case SESS_TIMEOUT:
		return "timed out";
	case SESS_CLOSED:
		return "connection closed by the server";
	case SESS_IO:
		return "socket error";
	case SESS_PROTO:
		return "malformed reply";
	case SESS_TLS:
		return "TLS failure";
	default:
		return "local error";
	}
}

/* reply_line_text - where a reply line's text starts (after the code and
 * the separator, and the enhanced code when the reply has one) */
static const char *reply_line_text(const struct sess_reply *r, const char *line)
{
	size_t el = strlen(r->enh);

	line += strlen(line) >= 4 ? 4 : strlen(line);
	if (el && strncmp(line, r->enh, el) == 0 && (line[el] == ' ' || line[el] == '\0'))
		line += el + (line[el] == ' ');
	return line;
}

/* sess_reply_text - see session.h */
void sess_reply_text(const struct sess_reply *r, const char *sep, buf_t *out)
{
	for (size_t i = 0; i < r->nlines; i++) {
		if (i)
			buf_puts(out, sep);
		buf_puts(out, reply_line_text(r, r->lines[i]));
	}
}

/* --------------------------------------------------------------- printer */

#define C_RESET "\033[0m"
#define C_CYAN "\033[36m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_BOLD "\033[1m"

/* sess_print_escaped - see session.h */
void sess_print_escaped(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

/* code_color - the colour of a reply code */
static const char *code_color(int code)
{
	return code >= 200 && code < 400 ? C_GREEN : code >= 400 && code < 500 ? C_YELLOW : C_RED;
}

/* vclass_color - the colour of a verdict class */
static const char *vclass_color(enum sess_vclass c)
{
	return c == SESS_V_OK ? C_GREEN : c == SESS_V_WARN || c == SESS_V_TEMP ? C_YELLOW : C_RED;
}

/* print_line - one marked line in a colour (color NULL: none) */
static void print_line(struct sess_printer *p, const char *mark, const char *color,
		       const char *s)
{
	if (p->color && color)
		fputs(color, p->f);
	fputs(mark, p->f);
	sess_print_escaped(p->f, s, strlen(s));
	if (p->color && color)
		fputs(C_RESET, p->f);
	fputc('\n', p->f);
}

/* sess_print_verdict - see session.h */
void sess_print_verdict(struct sess_printer *p, enum sess_vclass c, const char *text,
			const char *next, double ms)
{
	const char *x = p->utf8 ? "\xe2\x9c\x97" : "x";
	const char *mark = c == SESS_V_OK ? "=" : c == SESS_V_WARN || c == SESS_V_TEMP ? "!" : x;

	if (p->color)
		fputs(vclass_color(c), p->f);
	fprintf(p->f, "   %s %s: ", mark, sess_vclass_name(c));
	sess_print_escaped(p->f, text ? text : "", text ? strlen(text) : 0);
	if (next && next[0]) {
		fputs("; next: ", p->f);
		sess_print_escaped(p->f, next, strlen(next));
	}
	if (ms >= 0)
		fprintf(p->f, ms < 10 ? " [%.1f ms]" : " [%.0f ms]", ms);
	if (p->color)
		fputs(C_RESET, p->f);
	fputc('\n', p->f);
	fflush(p->f);
}

/* flush_held - the summary of the lines not shown, then the last one */
static void flush_held(struct sess_printer *p)
{
	if (p->hidden > 1)
		fprintf(p->f, "%s-> ... (%zu more lines)%s\n", p->color ? C_CYAN : "",
			p->hidden - 1, p->color ? C_RESET : "");
	if (p->held)
		print_line(p, "-> ", C_CYAN, p->held);
	free(p->held);
	p->held = NULL;
	p->hidden = 0;
}

/* p_sent - a line sent */
static void p_sent(void *arg, const struct sess_step *st, const char *line)
{
	struct sess_printer *p = arg;
	size_t max = p->max_data_lines ? p->max_data_lines : 30;

	if (st != p->cur) {
		flush_held(p);
		p->cur = st;
		p->shown = 0;
	}
	if (p->shown < max) {
		print_line(p, "-> ", C_CYAN, line);
		p->shown++;
		return;
	}
	free(p->held);
	p->held = strdup(line);
	p->hidden++;
	fflush(p->f);
}

/* p_done - a reply (or a failure) and its verdict */
static void p_done(void *arg, const struct sess_step *st)
{
	struct sess_printer *p = arg;

	if (st == p->cur)
		flush_held(p);
	for (size_t i = 0; i < st->reply.nlines; i++)
		print_line(p, "<- ", code_color(st->reply.code), st->reply.lines[i]);
	sess_print_verdict(p, st->vclass, st->verdict, st->next, st->ms);
}

/* p_note - a fact found on the way */
static void p_note(void *arg, const struct sess_step *st, const char *note)
{
	struct sess_printer *p = arg;

	(void)st;
	print_line(p, "   . ", NULL, note);
	fflush(p->f);
}

/* p_info - an action of ours */
static void p_info(void *arg, const char *text)
{
	struct sess_printer *p = arg;

	flush_held(p);
	p->cur = NULL;
	print_line(p, "** ", C_BOLD, text);
	fflush(p->f);
}

/* sess_printer_hooks - see session.h */
void sess_printer_hooks(struct sess_printer *p, struct sess_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->sent = p_sent;
	h->done = p_done;
	h->note = p_note;
	h->info = p_info;
	h->arg = p;
}

/* sess_printer_free - see session.h */
void sess_printer_free(struct sess_printer *p)
{
	free(p->held);
	p->held = NULL;
}

/* ------------------------------------------------------------------ JSON */

/* json_strs - a JSON array of strings */
static void json_strs(buf_t *out, char *const *v, size_t n)
{
	buf_putc(out, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		json_cstr(out, v[i]);
	}
	buf_putc(out, ']');
}

/* sess_json_step - see session.h */
int sess_json_step(buf_t *out, const struct sess_step *st)
{
	buf_puts(out, "{\"step\":");
	json_cstr(out, st->name);
	buf_puts(out, ",\"command\":");
	json_cstr(out, st->command);
	buf_puts(out, ",\"reply\":");
	if (st->reply.nlines) {
		if (st->reply.code)
			buf_printf(out, "{\"code\":%d,\"enhanced\":", st->reply.code);
		else
			buf_puts(out, "{\"code\":null,\"enhanced\":");
		json_cstr(out, st->reply.enh[0] ? st->reply.enh : NULL);
		buf_puts(out, ",\"lines\":");
		json_strs(out, st->reply.lines, st->reply.nlines);
		buf_putc(out, '}');
	} else {
		buf_puts(out, "null");
	}
	buf_puts(out, ",\"verdict\":{\"class\":");
	json_cstr(out, sess_vclass_name(st->vclass));
	buf_puts(out, ",\"text\":");
	json_cstr(out, st->verdict);
	buf_puts(out, ",\"next\":");
	json_cstr(out, st->next);
	buf_printf(out, "},\"ms\":%.1f,\"notes\":", st->ms);
	json_strs(out, st->notes, st->nnotes);
	buf_puts(out, ",\"error\":");
	json_cstr(out, st->error);
	buf_puts(out, ",\"errno\":");
	json_cstr(out, st->err ? strerrorname_np(st->err) : NULL);
	if (st->sent_bytes)
		buf_printf(out, ",\"sent_bytes\":%zu", st->sent_bytes);
	return buf_putc(out, '}');
}

/* sess_json_tls - see session.h */
int sess_json_tls(buf_t *out, const struct sess_tls *t)
{
	if (!t->on)
		return buf_puts(out, "null");
	buf_puts(out, "{\"protocol\":");
	json_cstr(out, t->protocol);
	buf_puts(out, ",\"cipher\":");
	json_cstr(out, t->cipher);
	buf_puts(out, ",\"subject\":");
	json_cstr(out, t->subject);
	buf_puts(out, ",\"names\":");
	json_strs(out, t->names, t->nnames);
	buf_puts(out, ",\"issuer\":");
	json_cstr(out, t->issuer);
	buf_puts(out, ",\"not_after\":");
	json_cstr(out, t->not_after[0] ? t->not_after : NULL);
	if (t->has_cert)
		buf_printf(out, ",\"days_left\":%ld", t->days_left);
	else
		buf_puts(out, ",\"days_left\":null");
	buf_printf(out, ",\"verified\":%s,\"verify_error\":", t->verified ? "true" : "false");
	json_cstr(out, t->verify_error[0] ? t->verify_error : NULL);
	buf_printf(out, ",\"name_matches\":%s,\"checked_name\":", t->name_matches ? "true" : "false");
	json_cstr(out, t->check_name);
	return buf_putc(out, '}');
}

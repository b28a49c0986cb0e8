/* test_session - the SMTP session state machine (server/session.c) driven
 * with byte strings and no sockets: each test attaches a session to one end
 * of a libevent bufferevent pair (server_attach, as if accepted from a
 * given address on the MX listener), writes commands to the other end and
 * compares every reply line with the README reply table.
 *
 * Covered: banner, EHLO and HELO, pipelined MAIL/RCPT/DATA groups, a whole
 * message accepted and found in the spool, the sequence errors, RSET,
 * unknown commands, over-long lines, NUL, BDAT, DATA with data before 354,
 * QUIT, max_errors, and the issue 6 rules: rejected recipients are counted
 * apart from protocol errors (max_rcpt_rejects, rcpt_reject_delay_after),
 * both counters start again after an accepted message, and BDAT over the
 * size limit is refused once, at LAST.
 *
 * The fixture: a temporary directory with spool/ and mail/, a queue on
 * them, an event_base with a 5 ms tick (so EVLOOP_ONCE always returns), a
 * config file written per test, a server without listeners.  Every wait is
 * bounded (WAIT_MS); nothing sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "conf/config.h"
#include "queue/envelope.h"
#include "queue/qfile.h"
#include "deliver/local.h"
#include "queue/queue.h"
#include "util/work.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/log.h"

#include "testutil.h"

#define HOST "mx.example.test"
#define WAIT_MS 5000		/* longest wait for one reply line (ASan, fsync) */
#define TICK_MS 5

#define BANNER "220 " HOST " ESMTP ready"
#define EHLO_LOCAL "250-" HOST " Hello [127.0.0.1]"
#define SENDER_OK "250 2.1.0 Sender OK"
#define RCPT_OK "250 2.1.5 Recipient OK"
#define DATA_GO "354 Start mail input; end with <CRLF>.<CRLF>"
#define RSET_OK "250 2.0.0 Resetting"
#define NOOP_OK "250 2.0.0 OK"
#define QUIT_OK "221 2.0.0 Service closing transmission channel"
#define UNKNOWN "500 5.3.3 Unrecognized command"
#define TOO_LONG "500 5.5.2 Line too long"
#define NUL_REPLY "500 5.5.2 NUL character not allowed"
#define BAD_HELO "501 5.5.4 Invalid domain name"
#define NEED_HELLO "503 5.5.2 Send hello first"
#define NEED_MAIL "503 5.5.2 Need mail command"
#define NEED_RCPT "503 5.5.2 Need rcpt command"
#define NESTED_MAIL "503 5.5.1 Sender already specified"
#define DATA_AFTER_BDAT "503 5.5.1 DATA not allowed after BDAT"
#define SYNC_ERROR "554 5.5.0 SMTP protocol synchronization error"
#define RELAY_DENIED "550 5.7.1 Unable to relay"
#define USER_UNKNOWN "550 5.1.1 User unknown"
#define BAD_MAILBOX "550 5.1.3 Mailbox name not allowed"
#define TOO_MANY_RCPTS "452 4.5.3 Too many recipients"
#define SIZE_EXCEEDED "552 5.3.4 Message size exceeds fixed maximum message size"
#define TOO_MANY_ERRORS \
	"421 4.7.0 Too many errors on this connection, closing transmission channel"
#define FLOOD "421 4.7.0 " HOST " Line too long, closing transmission channel"
#define QUEUED_PREFIX "250 2.6.0 <"
#define QUEUED_SUFFIX "@" HOST "> Queued mail for delivery"

struct fx {
	char dir[PATH_MAX];
	int spool_fd, mail_fd;
	struct event_base *base;
	struct event *tick;
	struct queue *q;
	struct workpool *pool;
	struct agent *local;
	struct config *cfg;
	struct server *srv;
	struct bufferevent *cli;	/* the client's end of the pair */
	char line[4096];		/* the last reply line read */
};

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* open_dir - make dir/name and open it as a directory fd */
static int open_dir(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	assert_int_equal(mkdir(tu_path(path, sizeof(path), dir, name), 0700), 0);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* on_tick - does nothing: keeps EVLOOP_ONCE returning every TICK_MS */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* setup - temp dir, base with a tick, queue; the server comes in start() */
static int setup(void **state)
{
	struct timeval tv = { 0, TICK_MS * 1000 };
	struct queue_opts o;
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	tu_tmpdir(x->dir, sizeof(x->dir));
	x->spool_fd = open_dir(x->dir, "spool");
	x->mail_fd = open_dir(x->dir, "mail");
	x->base = event_base_new();
	assert_non_null(x->base);
	x->tick = event_new(x->base, -1, EV_PERSIST, on_tick, NULL);
	assert_non_null(x->tick);
	assert_int_equal(event_add(x->tick, &tv), 0);
	memset(&o, 0, sizeof(o));
	o.spool_fd = x->spool_fd;
	o.mail_fd = x->mail_fd;
	o.hostname = HOST;
	x->pool = workpool_new(x->base, 2);
	x->local = local_agent_new(x->pool, x->mail_fd, HOST);
	assert_non_null(x->local);
	o.pool = x->pool;
	o.local = x->local;
	x->q = queue_new(x->base, &o);
	assert_non_null(x->q);
	*state = x;
	return 0;
}

/* on_stopped - server_shutdown's callback */
static void on_stopped(void *arg)
{
	*(int *)arg = 1;
}

/* teardown - client end, server (shutdown, then free), queue, base, dir */
static int teardown(void **state)
{
	struct fx *x = *state;
	long long end;
	int stopped = 0;

	if (x->cli)
		bufferevent_free(x->cli);
	if (x->srv) {
		server_shutdown(x->srv, 0, on_stopped, &stopped);
		end = now_ms() + WAIT_MS;
		while (!stopped && now_ms() < end)
			event_base_loop(x->base, EVLOOP_ONCE);
		server_free(x->srv);
	}
	queue_free(x->q);
	workpool_free(x->pool);
	local_agent_free(x->local);
	if (x->cfg)
		config_unref(x->cfg);
	event_free(x->tick);
	event_base_free(x->base);
	close(x->spool_fd);
	close(x->mail_fd);
	tu_rm_rf(x->dir);
	free(x);
	return 0;
}

/* load_config - write mailport.conf: hostname, local domain example.test,
 * relay for 127.0.0.1/32, plus extra [server] and [local] lines */
static struct config *load_config(struct fx *x, const char *server_extra,
				  const char *local_extra)
{
	char text[3 * PATH_MAX + 1024], path[PATH_MAX];
	struct config *c;
	buf_t err;

	snprintf(text, sizeof(text),
		 "[server]\nhostname = " HOST "\nspool = %s/spool\n%s"
		 "[local]\ndomains = example.test\nmailboxes = %s/mail\n%s"
		 "[relay]\nnetworks = 127.0.0.1/32\n",
		 x->dir, server_extra ? server_extra : "", x->dir,
		 local_extra ? local_extra : "");
	tu_write_file(tu_path(path, sizeof(path), x->dir, "mailport.conf"), text);
	buf_init(&err);
	c = config_load(path, &err);
	if (!c)
		fail_msg("config_load:\n%s\n%s", text, err.data ? err.data : "");
	buf_free(&err);
	return c;
}

/* attach - a new client session from ip (an address value only: no
 * traffic goes anywhere) on a listener of the given role */
static void attach(struct fx *x, const char *ip, enum listen_role role)
{
	struct bufferevent *pair[2];
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	assert_int_equal(bufferevent_pair_new(x->base, BEV_OPT_DEFER_CALLBACKS, pair), 0);
	x->cli = pair[1];
	assert_int_equal(bufferevent_enable(x->cli, EV_READ | EV_WRITE), 0);
	assert_non_null(server_attach(x->srv, pair[0], (const struct sockaddr *)&sin,
				      sizeof(sin), role));
}

/* start_role - config with the extra lines, server, one session from ip
 * on a listener of role */
static struct fx *start_role(void **state, const char *server_extra,
			     const char *local_extra, const char *ip, enum listen_role role)
{
	struct fx *x = *state;

	x->cfg = load_config(x, server_extra, local_extra);
	x->srv = server_new(x->base, x->cfg, x->q, NULL, NULL, 0);
	assert_non_null(x->srv);
	attach(x, ip, role);
	return x;
}

/* start - the same on the MX listener */
static struct fx *start(void **state, const char *server_extra, const char *local_extra,
			const char *ip)
{
	return start_role(state, server_extra, local_extra, ip, ROLE_MX);
}

/* send_n - the client writes n bytes */
static void send_n(struct fx *x, const void *p, size_t n)
{
	assert_int_equal(bufferevent_write(x->cli, p, n), 0);
}

/* send_s - the client writes a string */
static void send_s(struct fx *x, const char *s)
{
	send_n(x, s, strlen(s));
}

/* have_line - a whole CRLF-terminated reply line is waiting */
static int have_line(struct fx *x)
{
	struct evbuffer_ptr p = evbuffer_search(bufferevent_get_input(x->cli), "\r\n", 2, NULL);

	return p.pos >= 0;
}

/* next_line - the next reply line, CRLF removed (in x->line, control bytes
 * shown as \xHH), or NULL when none came within WAIT_MS */
static const char *next_line(struct fx *x)
{
	struct evbuffer *in = bufferevent_get_input(x->cli);
	long long end = now_ms() + WAIT_MS;
	struct evbuffer_ptr p;
	char raw[sizeof(x->line)];
	size_t n, i, o = 0;

	while (!have_line(x) && now_ms() < end)
		event_base_loop(x->base, EVLOOP_ONCE);
	p = evbuffer_search(in, "\r\n", 2, NULL);
	if (p.pos < 0)
		return NULL;
	n = (size_t)p.pos < sizeof(raw) ? (size_t)p.pos : sizeof(raw) - 1;
	evbuffer_copyout(in, raw, n);
	evbuffer_drain(in, (size_t)p.pos + 2);
	for (i = 0; i < n && o + 5 < sizeof(x->line); i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x20 || c > 0x7e)
			o += (size_t)snprintf(x->line + o, sizeof(x->line) - o, "\\x%02x", c);
		else
			x->line[o++] = (char)c;
	}
	x->line[o] = '\0';
	return x->line;
}

/* expect_line - the next reply line is exactly want (expect() adds the caller's line) */
static void expect_line(struct fx *x, const char *want, int lineno)
{
	const char *got = next_line(x);

	if (!got)
		fail_msg("line %d: wanted \"%s\", got nothing within %d ms", lineno, want,
			 WAIT_MS);
	if (strcmp(got, want) != 0)
		fail_msg("line %d: wanted \"%s\", got \"%s\"", lineno, want, got);
}
#define expect(x, want) expect_line((x), (want), __LINE__)

/* expect_queued_line - the next reply is "250 2.6.0 <QID@H> Queued mail for
 * delivery"; the QID into qid */
static void expect_queued_line(struct fx *x, char qid[QID_MAX + 1], int lineno)
{
	const char *got = next_line(x);
	size_t n, pre = strlen(QUEUED_PREFIX), suf = strlen(QUEUED_SUFFIX), i;

	if (!got)
		fail_msg("line %d: wanted the 250 2.6.0 reply, got nothing", lineno);
	n = strlen(got);
	if (n <= pre + suf || strncmp(got, QUEUED_PREFIX, pre) != 0 ||
	    strcmp(got + n - suf, QUEUED_SUFFIX) != 0 || n - pre - suf > QID_MAX)
		fail_msg("line %d: wanted \"" QUEUED_PREFIX "QID" QUEUED_SUFFIX "\", got \"%s\"",
			 lineno, got);
	for (i = pre; i < n - suf; i++)
		if (!((got[i] >= '0' && got[i] <= '9') || (got[i] >= 'a' && got[i] <= 'z') ||
		      (got[i] >= 'A' && got[i] <= 'Z')))
			fail_msg("line %d: bad queue id in \"%s\"", lineno, got);
	if (qid) {
		memcpy(qid, got + pre, n - pre - suf);
		qid[n - pre - suf] = '\0';
	}
}
#define expect_queued(x, qid) expect_queued_line((x), (qid), __LINE__)

/* expect_silence_line - no reply is waiting, nor comes within a few loop
 * turns (no timer of the session fires this fast) */
static void expect_silence_line(struct fx *x, int lineno)
{
	struct evbuffer *in = bufferevent_get_input(x->cli);
	int i;

	for (i = 0; i < 4; i++)
		event_base_loop(x->base, EVLOOP_ONCE);
	if (evbuffer_get_length(in) > 0) {
		const char *got = next_line(x);

		fail_msg("line %d: wanted no reply, got \"%s\"", lineno, got ? got : "(partial line)");
	}
}
#define expect_silence(x) expect_silence_line((x), __LINE__)

/* expect_closed_line - the session has closed: it answers nothing more
 * (a NOOP gets no reply), and once the client hangs up, as clients do
 * after the last reply, the server frees its end of the pair within
 * WAIT_MS.  (A session on a pair has no socket to half-close, so the
 * server's linger for the client's EOF would otherwise last its full
 * DRAIN_LINGER seconds.) */
static void expect_closed_line(struct fx *x, int lineno)
{
	long long end = now_ms() + WAIT_MS;
	const char *got;

	if (bufferevent_pair_get_partner(x->cli)) {
		send_s(x, "NOOP\r\n");
		expect_silence_line(x, lineno);
		bufferevent_flush(x->cli, EV_WRITE, BEV_FINISHED);
	}
	while (bufferevent_pair_get_partner(x->cli) && now_ms() < end)
		event_base_loop(x->base, EVLOOP_ONCE);
	if (bufferevent_pair_get_partner(x->cli))
		fail_msg("line %d: the session did not close within %d ms", lineno, WAIT_MS);
	if (evbuffer_get_length(bufferevent_get_input(x->cli)) > 0) {
		got = next_line(x);
		fail_msg("line %d: wanted nothing after the last reply, got \"%s\"", lineno,
			 got ? got : "(partial line)");
	}
}
#define expect_closed(x) expect_closed_line((x), __LINE__)

/* expect_open_line - the session still answers (NOOP) */
static void expect_open_line(struct fx *x, int lineno)
{
	send_s(x, "NOOP\r\n");
	expect_line(x, NOOP_OK, lineno);
}
#define expect_open(x) expect_open_line((x), __LINE__)

/* ehlo - banner, then EHLO and its 8 lines */
static void ehlo(struct fx *x, const char *ip)
{
	char first[128];

	expect(x, BANNER);
	send_s(x, "EHLO client.example.com\r\n");
	snprintf(first, sizeof(first), "250-" HOST " Hello [%s]", ip);
	expect(x, first);
	expect(x, "250-PIPELINING");
	if (!next_line(x) || strncmp(x->line, "250-SIZE ", 9) != 0)
		fail_msg("wanted the 250-SIZE line, got \"%s\"", x->line);
	expect(x, "250-8BITMIME");
	expect(x, "250-ENHANCEDSTATUSCODES");
	expect(x, "250-DSN");
	expect(x, "250-CHUNKING");
	expect(x, "250 SMTPUTF8");
}

/* send_message - a whole DATA transaction to rcpt; the queue id into qid */
static void send_message(struct fx *x, const char *rcpt, char qid[QID_MAX + 1])
{
	char cmd[256];

	send_s(x, "MAIL FROM:<elvis@graceland.com>\r\n");
	expect(x, SENDER_OK);
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", rcpt);
	send_s(x, cmd);
	expect(x, RCPT_OK);
	send_s(x, "DATA\r\n");
	expect(x, DATA_GO);
	send_s(x, "Subject: hello\r\n\r\nbody\r\n.\r\n");
	expect_queued(x, qid);
}

/* check_spooled - queue/<qid> holds this envelope and exactly the message
 * bytes want after our Received: header (whose first lines are received) */
static void check_spooled(struct fx *x, const char *qid, const char *received,
			  const char *want, const char *sender, const char *rcpt)
{
	char name[64];
	struct envelope e;
	size_t len, n, rl = strlen(received);
	long envlen;
	char *data, *msg, *eol;

	snprintf(name, sizeof(name), "queue/%s", qid);
	data = tu_slurp_at(x->spool_fd, name, &len);
	envelope_init(&e);
	envlen = qfile_decode_envelope(data, len, &e);
	assert_true(envlen > 0);
	assert_string_equal(e.qid, qid);
	assert_string_equal(e.sender, sender);
	assert_int_equal(e.nrcpts, 1);
	assert_string_equal(e.rcpts[0].addr, rcpt);
	assert_string_equal(e.client_addr, "127.0.0.1");
	assert_string_equal(e.helo, "client.example.com");
	envelope_clear(&e);
	assert_true(len >= (size_t)envlen + QFILE_TRAILER_LEN);
	msg = data + envlen;
	n = len - (size_t)envlen - QFILE_TRAILER_LEN;
	assert_int_equal(qfile_check_trailer(data + len - QFILE_TRAILER_LEN, QFILE_TRAILER_LEN),
			 (long long)n);
	msg[n] = '\0';
	/* Received: ... ; <date>\r\n, then the message as sent */
	if (n < rl || memcmp(msg, received, rl) != 0)
		fail_msg("spooled message starts \"%.200s\", wanted \"%s\"", msg, received);
	eol = strstr(msg + rl, "\r\n");
	assert_non_null(eol);
	assert_string_equal(eol + 2, want);
	free(data);
}

/* --- the tests --- */

/* test_banner - the first line is the 220 banner */
static void test_banner(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	expect(x, BANNER);
	expect_silence(x);
}

/* test_ehlo - the EHLO reply and its extension list (no STARTTLS without
 * [tls], no AUTH on the MX listener) */
static void test_ehlo(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "EHLO client.example.com\r\n");
	expect(x, EHLO_LOCAL);
	expect(x, "250-PIPELINING");
	expect(x, "250-SIZE 36700160");
	expect(x, "250-8BITMIME");
	expect(x, "250-ENHANCEDSTATUSCODES");
	expect(x, "250-DSN");
	expect(x, "250-CHUNKING");
	expect(x, "250 SMTPUTF8");
	expect_silence(x);
	/* a second EHLO is fine; the SIZE line follows the config */
	send_s(x, "ehlo other.example.com\n");
	expect(x, EHLO_LOCAL);
	expect(x, "250-PIPELINING");
	expect(x, "250-SIZE 36700160");
}

/* test_ehlo_size - SIZE advertises max_message_size */
static void test_ehlo_size(void **state)
{
	struct fx *x = start(state, "max_message_size = 1000\n", NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "EHLO client.example.com\r\n");
	expect(x, EHLO_LOCAL);
	expect(x, "250-PIPELINING");
	expect(x, "250-SIZE 1000");
}

/* test_helo - HELO's one line; bad or missing arguments get 501 */
static void test_helo(void **state)
{
	struct fx *x = start(state, NULL, NULL, "192.0.2.1");

	expect(x, BANNER);
	send_s(x, "HELO client.example.com\r\n");
	expect(x, "250 " HOST " Hello [192.0.2.1]");
	send_s(x, "HELO\r\n");
	expect(x, BAD_HELO);
	send_s(x, "HELO -bad-.example\r\n");
	expect(x, BAD_HELO);
	send_s(x, "EHLO a..b\r\n");
	expect(x, BAD_HELO);
	send_s(x, "helo win_host\r\n");	/* underscores are accepted */
	expect(x, "250 " HOST " Hello [192.0.2.1]");
	/* parameters after HELO get 555 */
	send_s(x, "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n");
	expect(x, "555 5.5.4 Unrecognized parameter");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
}

/* test_pipelined_group - MAIL/RCPT/RCPT/RCPT/DATA in one write: the
 * replies come in order, a refused recipient in its place */
static void test_pipelined_group(void **state)
{
	struct fx *x = start(state, NULL, NULL, "192.0.2.1");
	char qid[QID_MAX + 1];

	ehlo(x, "192.0.2.1");
	send_s(x, "MAIL FROM:<elvis@graceland.com>\r\n"
		  "RCPT TO:<ed@example.test>\r\n"
		  "RCPT TO:<someone@remote.example>\r\n"
		  "RCPT TO:<postmaster>\r\n"
		  "DATA\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, RELAY_DENIED);
	expect(x, RCPT_OK);
	expect(x, DATA_GO);
	expect_silence(x);
	send_s(x, "Subject: pipelined\r\n\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<ed@example.test>\r\n");
	expect_queued(x, qid);
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
}

/* test_message_spooled - a whole message: 250 2.6.0 <qid@host>, and the
 * queue file holds the envelope and the dot-unstuffed bytes after our
 * Received: header */
static void test_message_spooled(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	char qid[QID_MAX + 1], received[256];
	static const char body[] =
		"Message-ID: <m1@graceland.com>\r\n"
		"Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n"
		"Subject: Test from telnet\r\n"
		"\r\n"
		"This is a test message\r\n"
		"..leading dot\r\n"
		"bare\nLF and bare\rCR stay\r\n";

	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<elvis@graceland.com>\r\n");
	expect(x, SENDER_OK);
	send_s(x, "RCPT TO:<bob@remote.example>\r\n");	/* relayed: stays queued */
	expect(x, RCPT_OK);
	send_s(x, "DATA\r\n");
	expect(x, DATA_GO);
	send_s(x, body);
	expect_silence(x);
	send_s(x, ".\r\n");
	expect_queued(x, qid);
	snprintf(received, sizeof(received),
		 "Received: from client.example.com ([127.0.0.1])\r\n"
		 "\tby " HOST " with ESMTP id %s\r\n"
		 "\tfor <bob@remote.example>; ", qid);
	check_spooled(x, qid, received,
		      "Message-ID: <m1@graceland.com>\r\n"
		      "Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n"
		      "Subject: Test from telnet\r\n"
		      "\r\n"
		      "This is a test message\r\n"
		      ".leading dot\r\n"
		      "bare\nLF and bare\rCR stay\r\n",
		      "elvis@graceland.com", "bob@remote.example");
	assert_int_equal(tu_count_dir(x->spool_fd, "incoming"), 0);
	send_s(x, "QUIT\r\n");
	expect(x, QUIT_OK);
	expect_closed(x);
}

/* test_sequence_errors - 503 for every command out of order; the session
 * goes on after each */
static void test_sequence_errors(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, NEED_HELLO);
	send_s(x, "RCPT TO:<ed@example.test>\r\n");
	expect(x, NEED_HELLO);
	send_s(x, "DATA\r\n");
	expect(x, NEED_HELLO);
	send_s(x, "BDAT 4\r\nabcd");	/* the chunk is read, then refused */
	expect(x, NEED_HELLO);
	send_s(x, "HELO client.example.com\r\n");
	expect(x, "250 " HOST " Hello [127.0.0.1]");
	send_s(x, "RCPT TO:<ed@example.test>\r\n");
	expect(x, NEED_MAIL);
	send_s(x, "DATA\r\n");
	expect(x, NEED_MAIL);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	send_s(x, "DATA\r\n");
	expect(x, NEED_RCPT);
	send_s(x, "BDAT 3 LAST\r\nxyz");
	expect(x, NEED_RCPT);
	send_s(x, "MAIL FROM:<b@example.org>\r\n");
	expect(x, NESTED_MAIL);
	send_s(x, "RCPT TO:<ed@example.test>\r\n");
	expect(x, RCPT_OK);
	expect_open(x);
}

/* test_data_after_bdat - DATA inside a BDAT transaction is refused; the
 * BDAT message can still be finished */
static void test_data_after_bdat(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<ed@example.test>\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	send_s(x, "BDAT 14\r\nSubject: x\r\n\r\n");
	expect(x, "250 2.0.0 14 octets received");
	send_s(x, "DATA\r\n");
	expect(x, DATA_AFTER_BDAT);
	send_s(x, "BDAT 6 LAST\r\nbody\r\n");
	expect_queued(x, NULL);
}

/* test_rset - RSET drops the transaction, keeps the HELO */
static void test_rset(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	ehlo(x, "127.0.0.1");
	send_s(x, "RSET\r\n");
	expect(x, RSET_OK);
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<ed@example.test>\r\nRSET\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, RSET_OK);
	send_s(x, "RCPT TO:<ed@example.test>\r\n");
	expect(x, NEED_MAIL);
	send_s(x, "DATA\r\n");
	expect(x, NEED_MAIL);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	send_s(x, "RSET now\r\n");
	expect(x, "501 5.5.4 Invalid arguments");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, NESTED_MAIL);
}

/* test_unknown_command - 500 5.3.3, the session goes on; verbs are
 * case-insensitive; the other simple commands */
static void test_unknown_command(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "FOO bar\r\n");
	expect(x, UNKNOWN);
	send_s(x, "\r\n");
	expect(x, UNKNOWN);
	send_s(x, "noop\r\n");
	expect(x, NOOP_OK);
	send_s(x, "VRFY ed\r\nEXPN staff\r\nHELP\r\n");
	expect(x, "252 2.1.5 Cannot VRFY user");
	expect(x, "502 5.5.1 EXPN not available");
	expect(x, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
	send_s(x, "STARTTLS\r\n");	/* no [tls]: not a command here */
	expect(x, UNKNOWN);
	expect_open(x);
}

/* test_line_too_long - a command over 512 octets (MAIL/RCPT: 2048) gets
 * 500 5.5.2 and the session goes on */
static void test_line_too_long(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	char line[4000];

	ehlo(x, "127.0.0.1");
	/* 511 octets with the CRLF: fine; 513: too long */
	memset(line, 0, sizeof(line));
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 504);
	strcat(line, "\r\n");
	assert_int_equal(strlen(line), 511);
	send_s(x, line);
	expect(x, NOOP_OK);
	memset(line + 5, 'x', 506);
	strcpy(line + 511, "\r\n");
	send_s(x, line);
	expect(x, TOO_LONG);
	expect_open(x);
	/* RCPT may be longer than 512 (ORCPT alone may be 500) ... */
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	strcpy(line, "RCPT TO:<ed@example.test> ORCPT=rfc822;");
	memset(line + strlen(line), 'a', 490);
	strcpy(line + 39 + 490, "\r\n");
	assert_true(strlen(line) > 512);
	send_s(x, line);
	expect(x, RCPT_OK);
	send_s(x, "RSET\r\n");
	expect(x, RSET_OK);
	/* ... MAIL and RCPT not over 2048: the rest of the line is skipped */
	memset(line, 'y', 3000);
	memcpy(line, "MAIL FROM:<", 11);
	strcpy(line + 3000, ">\r\n");
	send_s(x, line);
	expect(x, TOO_LONG);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
}

/* test_line_flood - no LF within 1 MiB: 421 and close */
static void test_line_flood(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	size_t chunk = 64 << 10, sent;
	char *junk = malloc(chunk);

	assert_non_null(junk);
	memset(junk, 'z', chunk);
	expect(x, BANNER);
	for (sent = 0; sent <= (1u << 20) + chunk; sent += chunk) {
		send_n(x, junk, chunk);
		event_base_loop(x->base, EVLOOP_NONBLOCK);
	}
	free(junk);
	expect(x, FLOOD);
	expect_closed(x);
}

/* test_nul - a NUL byte in a command: 500 5.5.2, the session goes on */
static void test_nul(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	ehlo(x, "127.0.0.1");
	send_n(x, "NO\0OP\r\n", 7);
	expect(x, NUL_REPLY);
	send_n(x, "MAIL FROM:<a\0@example.org>\r\n", 28);
	expect(x, NUL_REPLY);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
}

/* test_bdat - chunks (pipelined too), then LAST; taken literally */
static void test_bdat(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	char qid[QID_MAX + 1], received[256];
	static const char c1[] = "Message-ID: <b1@graceland.com>\r\n"
				 "Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n";
	static const char c2[] = "Subject: chunks\r\n\r\n";
	static const char c3[] = ".dot stays\r\n.\r\n";
	char cmd[64];

	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<elvis@graceland.com>\r\nRCPT TO:<bob@remote.example>\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	snprintf(cmd, sizeof(cmd), "BDAT %zu\r\n", strlen(c1));
	send_s(x, cmd);
	expect_silence(x);	/* the reply waits for the whole chunk */
	send_s(x, c1);
	snprintf(cmd, sizeof(cmd), "250 2.0.0 %zu octets received", strlen(c1));
	expect(x, cmd);
	/* pipelined: a chunk, an empty chunk, the last */
	snprintf(cmd, sizeof(cmd), "BDAT %zu\r\n", strlen(c2));
	send_s(x, cmd);
	send_s(x, c2);
	send_s(x, "BDAT 0\r\n");
	snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", strlen(c3));
	send_s(x, cmd);
	send_s(x, c3);
	snprintf(cmd, sizeof(cmd), "250 2.0.0 %zu octets received", strlen(c2));
	expect(x, cmd);
	expect(x, "250 2.0.0 0 octets received");
	expect_queued(x, qid);
	snprintf(received, sizeof(received),
		 "Received: from client.example.com ([127.0.0.1])\r\n"
		 "\tby " HOST " with ESMTP id %s\r\n"
		 "\tfor <bob@remote.example>; ", qid);
	check_spooled(x, qid, received,
		      "Message-ID: <b1@graceland.com>\r\n"
		      "Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n"
		      "Subject: chunks\r\n\r\n.dot stays\r\n.\r\n",
		      "elvis@graceland.com", "bob@remote.example");
	/* BDAT 0 LAST alone ends a message too */
	send_s(x, "MAIL FROM:<>\r\nRCPT TO:<ed@example.test>\r\nBDAT 8\r\nX: y\r\n\r\nBDAT 0 LAST\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, "250 2.0.0 8 octets received");
	expect_queued(x, NULL);
	/* a malformed BDAT: the chunk length is unknown, the session ends */
	send_s(x, "BDAT x\r\n");
	expect(x, "501 5.5.4 Invalid arguments");
	expect_closed(x);
}

/* test_data_before_354 - bytes after DATA before the 354: 554 and close */
static void test_data_before_354(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<ed@example.test>\r\n"
		  "DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, SYNC_ERROR);
	expect_closed(x);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
}

/* test_quit - 221 and close; what follows QUIT is not answered */
static void test_quit(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "QUIT\r\nNOOP\r\n");
	expect(x, QUIT_OK);
	expect_closed(x);
}

/* test_max_errors - the max_errors-th protocol error gets its reply, then
 * 421 and close */
static void test_max_errors(void **state)
{
	struct fx *x = start(state, "max_errors = 4\n", NULL, "127.0.0.1");

	expect(x, BANNER);
	send_s(x, "FOO\r\nMAIL FROM:<a@example.org>\r\nHELO\r\n");
	expect(x, UNKNOWN);
	expect(x, NEED_HELLO);
	expect(x, BAD_HELO);
	expect_open(x);
	send_s(x, "BAR\r\nNOOP\r\n");
	expect(x, UNKNOWN);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_max_errors_default - the default limit is 10 */
static void test_max_errors_default(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	int i;

	expect(x, BANNER);
	for (i = 0; i < 9; i++) {
		send_s(x, "FOO\r\n");
		expect(x, UNKNOWN);
	}
	expect_open(x);
	send_s(x, "FOO\r\n");
	expect(x, UNKNOWN);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_rejected_rcpts_not_errors - 550 5.7.1 (relay from a client outside
 * [relay] networks), 550 5.1.1, 550 5.1.3 and 452 4.5.3 do not count
 * toward max_errors (issue 6) */
static void test_rejected_rcpts_not_errors(void **state)
{
	struct fx *x = *state;
	char path[PATH_MAX], users[PATH_MAX + 16];
	int i;

	tu_write_file(tu_path(path, sizeof(path), x->dir, "users"), "alice@example.test\n");
	snprintf(users, sizeof(users), "users = %s\n", path);
	start(state, "max_errors = 3\nmax_recipients = 2\n", users, "192.0.2.1");
	ehlo(x, "192.0.2.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	for (i = 0; i < 6; i++) {
		send_s(x, "RCPT TO:<someone@remote.example>\r\n");
		expect(x, RELAY_DENIED);
	}
	send_s(x, "RCPT TO:<nobody@example.test>\r\nRCPT TO:<a/b@example.test>\r\n");
	expect(x, USER_UNKNOWN);
	expect(x, BAD_MAILBOX);
	send_s(x, "RCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster@example.test>\r\n");
	expect(x, RCPT_OK);
	expect(x, RCPT_OK);
	for (i = 0; i < 4; i++) {
		send_s(x, "RCPT TO:<alice@example.test>\r\n");
		expect(x, TOO_MANY_RCPTS);
	}
	expect_open(x);
	/* two protocol errors still leave the session open, the third ends it */
	send_s(x, "FOO\r\nFOO\r\n");
	expect(x, UNKNOWN);
	expect(x, UNKNOWN);
	expect_open(x);
	send_s(x, "FOO\r\n");
	expect(x, UNKNOWN);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_errors_reset_after_message - the protocol error count starts again
 * after an accepted message (issue 6) */
static void test_errors_reset_after_message(void **state)
{
	struct fx *x = start(state, "max_errors = 3\n", NULL, "127.0.0.1");

	ehlo(x, "127.0.0.1");
	send_s(x, "FOO\r\nFOO\r\n");
	expect(x, UNKNOWN);
	expect(x, UNKNOWN);
	send_message(x, "ed@example.test", NULL);
	send_s(x, "FOO\r\nFOO\r\n");
	expect(x, UNKNOWN);
	expect(x, UNKNOWN);
	expect_open(x);
	send_s(x, "FOO\r\n");
	expect(x, UNKNOWN);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_junk_reset_after_message - the NOOP/RSET/... count (100) starts
 * again after an accepted message too */
static void test_junk_reset_after_message(void **state)
{
	struct fx *x = start(state, NULL, NULL, "127.0.0.1");
	int i;

	ehlo(x, "127.0.0.1");
	for (i = 0; i < 80; i++) {
		send_s(x, "NOOP\r\n");
		expect(x, NOOP_OK);
	}
	send_message(x, "ed@example.test", NULL);
	for (i = 0; i < 100; i++) {
		send_s(x, i % 2 ? "NOOP\r\n" : "RSET\r\n");
		expect(x, i % 2 ? NOOP_OK : RSET_OK);
	}
	send_s(x, "NOOP\r\n");
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_max_rcpt_rejects - the max_rcpt_rejects-th rejected recipient is
 * answered, then 421 and close (issue 6) */
static void test_max_rcpt_rejects(void **state)
{
	struct fx *x = start(state, "max_rcpt_rejects = 5\n", NULL, "192.0.2.1");
	int i;

	ehlo(x, "192.0.2.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	for (i = 0; i < 4; i++) {
		send_s(x, "RCPT TO:<someone@remote.example>\r\n");
		expect(x, RELAY_DENIED);
	}
	send_s(x, "RCPT TO:<ed@example.test>\r\n");	/* accepted ones do not count */
	expect(x, RCPT_OK);
	expect_open(x);
	send_s(x, "RCPT TO:<other@remote.example>\r\nNOOP\r\n");
	expect(x, RELAY_DENIED);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_rcpt_rejects_reset_after_message - the rejected-recipient count
 * starts again after an accepted message (issue 6) */
static void test_rcpt_rejects_reset_after_message(void **state)
{
	struct fx *x = start(state, "max_rcpt_rejects = 3\n", NULL, "192.0.2.1");

	ehlo(x, "192.0.2.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\n"
		  "RCPT TO:<r1@remote.example>\r\nRCPT TO:<r2@remote.example>\r\n");
	expect(x, SENDER_OK);
	expect(x, RELAY_DENIED);
	expect(x, RELAY_DENIED);
	send_s(x, "RCPT TO:<ed@example.test>\r\nDATA\r\n");
	expect(x, RCPT_OK);
	expect(x, DATA_GO);
	send_s(x, "Subject: x\r\n\r\nx\r\n.\r\n");
	expect_queued(x, NULL);
	send_s(x, "MAIL FROM:<a@example.org>\r\n"
		  "RCPT TO:<r3@remote.example>\r\nRCPT TO:<r4@remote.example>\r\n");
	expect(x, SENDER_OK);
	expect(x, RELAY_DENIED);
	expect(x, RELAY_DENIED);
	expect_open(x);
	send_s(x, "RCPT TO:<r5@remote.example>\r\n");
	expect(x, RELAY_DENIED);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_rcpt_reject_delay_threshold - up to rcpt_reject_delay_after
 * rejections are answered at once (within a few loop turns, no timer);
 * the next one is held back (its delay is 250 ms: not waited for here) */
static void test_rcpt_reject_delay_threshold(void **state)
{
	struct fx *x = start(state, "rcpt_reject_delay_after = 3\n", NULL, "192.0.2.1");
	int i;

	ehlo(x, "192.0.2.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	send_s(x, "RCPT TO:<r1@remote.example>\r\nRCPT TO:<r2@remote.example>\r\n"
		  "RCPT TO:<r3@remote.example>\r\n");
	for (i = 0; i < 4; i++)
		event_base_loop(x->base, EVLOOP_NONBLOCK);
	for (i = 0; i < 3; i++) {
		assert_true(have_line(x));
		expect(x, RELAY_DENIED);
	}
	send_s(x, "RCPT TO:<r4@remote.example>\r\n");
	expect_silence(x);
}

/* test_bdat_too_big - BDAT over max_message_size: 250 for every chunk but
 * LAST, 552 at LAST, nothing queued, no 503, the session goes on (issue 6) */
static void test_bdat_too_big(void **state)
{
	struct fx *x = start(state, "max_message_size = 100\n", NULL, "127.0.0.1");
	char chunk[61];

	/* header lines, so that the decoder passes every byte on at once */
	memset(chunk, 'a', 60);
	memcpy(chunk, "X-Pad: ", 7);
	memcpy(chunk + 58, "\r\n", 3);
	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@remote.example>\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	send_s(x, "BDAT 60\r\n");
	send_s(x, chunk);
	expect(x, "250 2.0.0 60 octets received");
	send_s(x, "BDAT 60\r\n");	/* crosses the limit */
	send_s(x, chunk);
	expect(x, "250 2.0.0 60 octets received");
	send_s(x, "BDAT 10\r\n0123456789BDAT 5 LAST\r\nabcde");
	expect(x, "250 2.0.0 10 octets received");
	expect(x, SIZE_EXCEEDED);
	expect_silence(x);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
	send_s(x, "RSET\r\n");
	expect(x, RSET_OK);
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@remote.example>\r\n"
		  "BDAT 9 LAST\r\nX: y\r\n\r\nz");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect_queued(x, NULL);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 1);
}

/* test_bdat_too_big_last - a LAST chunk that alone crosses the limit gets
 * 552, and the next transaction works without RSET */
static void test_bdat_too_big_last(void **state)
{
	struct fx *x = start(state, "max_message_size = 100\n", NULL, "127.0.0.1");
	char chunk[201];

	memset(chunk, 'b', 200);
	chunk[200] = '\0';
	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@remote.example>\r\n"
		  "BDAT 200 LAST\r\n");
	send_s(x, chunk);
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, SIZE_EXCEEDED);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, SENDER_OK);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
}

/* test_data_too_big - DATA over max_message_size: 552 after the final dot */
static void test_data_too_big(void **state)
{
	struct fx *x = start(state, "max_message_size = 100\n", NULL, "127.0.0.1");
	char body[300];

	memset(body, 'c', 200);
	strcpy(body + 200, "\r\n.\r\n");
	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@remote.example>\r\nDATA\r\n");
	expect(x, SENDER_OK);
	expect(x, RCPT_OK);
	expect(x, DATA_GO);
	send_s(x, body);
	expect(x, SIZE_EXCEEDED);
	send_s(x, "MAIL FROM:<a@example.org> SIZE=101\r\n");
	expect(x, SIZE_EXCEEDED);
	send_s(x, "MAIL FROM:<a@example.org> SIZE=100\r\n");
	expect(x, SENDER_OK);
	assert_int_equal(tu_count_dir(x->spool_fd, "queue"), 0);
}

/* test_size_rejections - content over the limit (552 at the end of the
 * data) does not count toward max_errors: it took a whole message to get
 * there; SIZE= over the limit at MAIL is a bad parameter and counts
 * (README: "Limits") */
static void test_size_rejections(void **state)
{
	struct fx *x = start(state, "max_errors = 2\nmax_message_size = 100\n", NULL,
			     "127.0.0.1");
	char body[200];
	int i;

	memset(body, 'd', sizeof(body));
	ehlo(x, "127.0.0.1");
	for (i = 0; i < 3; i++) {
		send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<ed@example.test>\r\n");
		expect(x, SENDER_OK);
		expect(x, RCPT_OK);
		send_s(x, "BDAT 200 LAST\r\n");
		send_n(x, body, sizeof(body));
		expect(x, SIZE_EXCEEDED);
	}
	expect_open(x);
	send_s(x, "MAIL FROM:<a@example.org> SIZE=1000\r\n");
	expect(x, SIZE_EXCEEDED);
	expect_open(x);
	send_s(x, "MAIL FROM:<a@example.org> SIZE=1000\r\n");
	expect(x, SIZE_EXCEEDED);
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

/* test_hops_not_errors - 554 5.4.6 Too many hops does not count toward
 * max_errors (issue 6) */
static void test_hops_not_errors(void **state)
{
	struct fx *x = start(state, "max_errors = 2\n", NULL, "127.0.0.1");
	buf_t b;
	int i, m;

	ehlo(x, "127.0.0.1");
	buf_init(&b);
	for (i = 0; i < 100; i++)
		buf_printf(&b, "Received: from h%d.example.org by h%d.example.org\r\n", i, i + 1);
	buf_puts(&b, "Subject: loop\r\n\r\nx\r\n.\r\n");
	for (m = 0; m < 2; m++) {
		send_s(x, "MAIL FROM:<a@example.org>\r\nRCPT TO:<ed@example.test>\r\nDATA\r\n");
		expect(x, SENDER_OK);
		expect(x, RCPT_OK);
		expect(x, DATA_GO);
		send_n(x, b.data, b.len);
		expect(x, "554 5.4.6 Too many hops");
	}
	buf_free(&b);
	send_s(x, "FOO\r\n");
	expect(x, UNKNOWN);
	expect_open(x);
}

/* test_need_tls_errors - on a submission listener without TLS, MAIL gets
 * 530 5.7.0 Must issue a STARTTLS command first: a sequence error that
 * counts toward max_errors, so a client cannot loop on it for ever */
static void test_need_tls_errors(void **state)
{
	struct fx *x = start_role(state, "max_errors = 2\n", NULL, "127.0.0.1",
				  ROLE_SUBMISSION);

	ehlo(x, "127.0.0.1");
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, "530 5.7.0 Must issue a STARTTLS command first");
	expect_open(x);
	send_s(x, "MAIL FROM:<a@example.org>\r\n");
	expect(x, "530 5.7.0 Must issue a STARTTLS command first");
	expect(x, TOO_MANY_ERRORS);
	expect_closed(x);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* main - run the tests; the queue needs evthread_use_pthreads() first */
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_banner),
		T(test_ehlo),
		T(test_ehlo_size),
		T(test_helo),
		T(test_pipelined_group),
		T(test_message_spooled),
		T(test_sequence_errors),
		T(test_data_after_bdat),
		T(test_rset),
		T(test_unknown_command),
		T(test_line_too_long),
		T(test_line_flood),
		T(test_nul),
		T(test_bdat),
		T(test_data_before_354),
		T(test_quit),
		T(test_max_errors),
		T(test_max_errors_default),
		T(test_rejected_rcpts_not_errors),
		T(test_errors_reset_after_message),
		T(test_junk_reset_after_message),
		T(test_max_rcpt_rejects),
		T(test_rcpt_rejects_reset_after_message),
		T(test_rcpt_reject_delay_threshold),
		T(test_bdat_too_big),
		T(test_bdat_too_big_last),
		T(test_data_too_big),
		T(test_size_rejections),
		T(test_hops_not_errors),
		T(test_need_tls_errors),
	};

	evthread_use_pthreads();
	log_set_level(getenv("TEST_SESSION_LOG") ? LOG_DEBUG : LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_smtp_client - unit tests of the I/O-free SMTP client engine
 * (src/smtp/client.c): scripted conversations, server bytes in, the exact
 * commands out.
 *
 * Covers: the happy path with and without PIPELINING (RFC 2920), replies
 * split at every byte, HELO fallback, STARTTLS with the plaintext bytes
 * after the 220 dropped (CHECKLIST D), TLS required but missing, refused
 * or failing, SIZE too small (552 5.3.4, nothing sent), 8-bit without
 * 8BITMIME (5.6.3 or downconversion), SMTPUTF8 missing (5.6.7), DSN
 * parameters on and off, 4xx/5xx per RCPT, every RCPT refused (no DATA,
 * RSET), a refused MAIL and DATA, 4xx/5xx after the dot, a reply in the
 * middle of the data, 421 at each stage, CHECKLIST H "Malformed replies"
 * (3-char 250, "2", mixed codes, 600, a 10 KB line, no CRLF, a bare LF,
 * NUL, an early reply, unsolicited lines), reply text escaping, timeouts
 * (RFC 5321 4.5.3.2) and lost connections, two transactions on one
 * connection, addresses that would break a command line, API misuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"

#define HELO "mail.example.org"
#define REMOTE "mx.example.net[192.0.2.1]"
#define GREETING "220 mx.example.net ESMTP\r\n"
#define EHLO_CMD "EHLO " HELO "\r\n"

/* every extension the engine knows */
#define EHLO_ALL "250-mx.example.net Hello\r\n250-PIPELINING\r\n" \
	"250-SIZE 10000000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"
/* no PIPELINING, no DSN, no SMTPUTF8 */
#define EHLO_PLAIN "250-mx.example.net\r\n250-SIZE 10000000\r\n" \
	"250 8BITMIME\r\n"
#define EHLO_MIN "250 mx.example.net\r\n"
#define EHLO_TLS "250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n" \
	"250 8BITMIME\r\n"

#define MAX_RCPT 8

struct tjob {
	struct smtpc_job job;
	struct smtpc_rcpt r[MAX_RCPT];
};

/* cfg_base - the config most tests use */
static struct smtpc_config cfg_base(void)
{
	struct smtpc_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.helo_name = HELO;
	cfg.remote = REMOTE;
	return cfg;
}

/* mkjob - a job from alice to the NULL-terminated addresses */
static void mkjob(struct tjob *t, const char *const *addrs)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	for (; *addrs; addrs++) {
		assert_true(n < MAX_RCPT);
		t->r[n++].addr = *addrs;
	}
	t->job.sender = "alice@example.org";
	t->job.rcpts = t->r;
	t->job.nrcpt = n;
	t->job.size = 1234;
}

/* mkjob1 - a job to bob */
static void mkjob1(struct tjob *t)
{
	const char *a[] = { "bob@example.net", NULL };

	mkjob(t, a);
}

/* mkjob2 - a job to bob and carol */
static void mkjob2(struct tjob *t)
{
	const char *a[] = { "bob@example.net", "carol@example.net", NULL };

	mkjob(t, a);
}

/* srv - the server sends s */
static void srv(struct smtpc *c, const char *s)
{
	smtpc_feed(c, s, strlen(s));
}

/* srv_bytes - the server sends s one byte at a time */
static void srv_bytes(struct smtpc *c, const char *s)
{
	for (; *s; s++)
		smtpc_feed(c, s, 1);
}

/* sent - the engine's output is exactly want; the caller takes it */
static void sent(struct smtpc *c, const char *want)
{
	size_t n;
	const char *p = smtpc_output(c, &n);

	if (n != strlen(want) || (n && memcmp(p, want, n) != 0))
		fail_msg("output \"%.*s\", wanted \"%s\"", (int)n, p ? p : "",
			 want);
	smtpc_output_taken(c, n);
}

/* nothing_sent - no output waiting */
static void nothing_sent(struct smtpc *c)
{
	size_t n;

	assert_null(smtpc_output(c, &n));
	assert_int_equal(n, 0);
}

/* start - a new engine after the greeting, EHLO sent and answered */
static struct smtpc *start(const struct smtpc_config *cfg, const char *ehlo)
{
	struct smtpc *c = smtpc_new(cfg);

	assert_non_null(c);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	nothing_sent(c);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, ehlo);
	return c;
}

/* up - start() with cfg_base */
static struct smtpc *up(const char *ehlo)
{
	struct smtpc_config cfg = cfg_base();

	return start(&cfg, ehlo);
}

/* st_is - recipient r's status */
static void st_is(const struct smtpc_rcpt *r, enum dclass cls, int code,
		  const char *enh, enum smtpc_stage stage)
{
	if (r->st.cls != cls || r->st.code != code || strcmp(r->st.enh, enh) ||
	    r->stage != stage)
		fail_msg("status %d %d %s stage %d \"%s\", wanted %d %d %s "
			 "stage %d", r->st.cls, r->st.code, r->st.enh, r->stage,
			 r->st.text, cls, code, enh, stage);
	assert_string_equal(r->st.remote, REMOTE);
}

/* closed_quiet - the connection is over without a QUIT */
static void closed_quiet(struct smtpc *c)
{
	assert_int_equal(smtpc_want(c), SMTPC_WANT_CLOSE);
	nothing_sent(c);
}

/* closed_quit - the connection ends with QUIT */
static void closed_quit(struct smtpc *c)
{
	assert_int_equal(smtpc_want(c), SMTPC_WANT_CLOSE);
	sent(c, "QUIT\r\n");
}

/* ---- happy paths ---- */

static void test_pipelining(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c = smtpc_new(&cfg);
	struct tjob t;
	size_t i;

	(void)state;
	assert_non_null(c);
	mkjob2(&t);
	/* a job may wait for the greeting and EHLO */
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	nothing_sent(c);
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, EHLO_ALL);
	assert_int_equal(smtpc_extensions(c),
			 SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE |
			 SMTPC_EXT_8BITMIME | SMTPC_EXT_SMTPUTF8 | SMTPC_EXT_DSN |
			 SMTPC_EXT_ENHANCED | SMTPC_EXT_CHUNKING);
	assert_int_equal(smtpc_size_limit(c), 10000000);
	/* RFC 2920: MAIL, every RCPT and DATA in one group */
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
	     "DATA\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, "250 2.1.5 Ok\r\n");
	assert_int_equal(smtpc_timeout(c), 120);	/* DATA initiation */
	srv(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	assert_int_equal(smtpc_timeout(c), 180);	/* data block */
	assert_int_equal(t.job.downconvert, 0);
	assert_int_equal(t.job.done, 0);
	nothing_sent(c);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	assert_int_equal(smtpc_timeout(c), 600);	/* after the dot */
	srv(c, "250 2.0.0 Ok: queued as 4XyZ\r\n");
	assert_int_equal(t.job.done, 1);
	assert_int_equal(t.job.next_mx, 0);
	for (i = 0; i < 2; i++) {
		st_is(&t.r[i], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
		assert_string_equal(t.r[i].st.text, "Ok: queued as 4XyZ");
		assert_int_equal(t.r[i].st.remote_said, 1);
		assert_int_equal(t.r[i].st.dsn_passed, 1);	/* DSN offered */
	}
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	assert_int_equal(smtpc_timeout(c), 0);
	assert_int_equal(smtpc_quit(c), 0);
	closed_quit(c);
	assert_int_equal(smtpc_status(c)->cls, DS_OK);
	smtpc_free(c);
}

static void test_lockstep(void **state)
{
	struct smtpc *c = up(EHLO_PLAIN);
	struct tjob t;

	(void)state;
	mkjob2(&t);
	t.job.flags = SMTPC_JOB_8BIT;
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	/* one command at a time, each reply split at every byte */
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME\r\n");
	assert_int_equal(smtpc_timeout(c), 300);
	srv_bytes(c, "250 Ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	assert_int_equal(smtpc_timeout(c), 300);
	srv_bytes(c, "251 2.1.5 will forward\r\n");
	sent(c, "RCPT TO:<carol@example.net>\r\n");
	srv_bytes(c, "250-2.1.5 Ok\r\n250 2.1.5 really\r\n");
	sent(c, "DATA\r\n");
	assert_int_equal(smtpc_timeout(c), 120);
	srv_bytes(c, "354 go ahead\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv_bytes(c, "250 queued\r\n");
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	st_is(&t.r[1], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	assert_string_equal(t.r[1].st.text, "queued");
	assert_int_equal(t.r[1].st.dsn_passed, 0);	/* no DSN: "relayed" */
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

static void test_no_pipelining_config(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	cfg.no_pipelining = 1;
	c = start(&cfg, EHLO_ALL);
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	smtpc_free(c);
}

static void test_helo_fallback(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c = smtpc_new(&cfg);
	struct tjob t;

	(void)state;
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "502 5.5.2 Error: command not recognized\r\n");
	sent(c, "HELO " HELO "\r\n");
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, "250 mx.example.net\r\n");
	assert_int_equal(smtpc_extensions(c), 0);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	/* a plain SMTP peer: no parameters, lock-step */
	mkjob1(&t);
	t.job.flags = SMTPC_JOB_8BIT | SMTPC_JOB_DOWNCONVERT;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	assert_int_equal(t.job.downconvert, 1);
	sent(c, "MAIL FROM:<alice@example.org>\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "DATA\r\n");
	srv(c, "354 go\r\n");
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 ok\r\n");
	st_is(&t.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	smtpc_free(c);

	/* 500 too */
	c = smtpc_new(&cfg);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "500 unrecognized command\r\n");
	sent(c, "HELO " HELO "\r\n");
	smtpc_free(c);
}

static void test_hello_refused(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c = smtpc_new(&cfg);
	struct tjob t;

	(void)state;
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "451 4.3.0 try later\r\n");
	assert_int_equal(t.job.done, 1);
	assert_int_equal(t.job.next_mx, 1);
	st_is(&t.r[0], DS_TEMP, 451, "4.3.0", SMTPC_STAGE_EHLO);
	closed_quit(c);
	assert_int_equal(smtpc_status(c)->code, 451);
	smtpc_free(c);

	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "500 what\r\n");
	sent(c, "HELO " HELO "\r\n");
	srv(c, "550 go away\r\n");
	st_is(&t.r[0], DS_PERM, 550, "5.0.0", SMTPC_STAGE_HELO);
	assert_string_equal(t.r[0].st.text, "go away");
	closed_quit(c);
	smtpc_free(c);
}

static void test_greeting_refused(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c = smtpc_new(&cfg);
	struct tjob t;

	(void)state;
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, "554 5.7.1 no service for you\r\n");
	assert_int_equal(t.job.done, 1);
	assert_int_equal(t.job.next_mx, 1);
	st_is(&t.r[0], DS_PERM, 554, "5.7.1", SMTPC_STAGE_GREETING);
	st_is(&t.r[1], DS_PERM, 554, "5.7.1", SMTPC_STAGE_GREETING);
	assert_string_equal(t.r[0].st.text, "no service for you");
	/* RFC 5321 3.1: the server waits for QUIT */
	closed_quit(c);
	assert_int_equal(smtpc_job_start(c, &t.job), -1);
	smtpc_free(c);

	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, "450-busy\r\n450 come back later\r\n");
	st_is(&t.r[0], DS_TEMP, 450, "4.0.0", SMTPC_STAGE_GREETING);
	assert_string_equal(t.r[0].st.text, "busy come back later");
	closed_quit(c);
	smtpc_free(c);

	/* a multi-line 220 is fine */
	c = smtpc_new(&cfg);
	srv(c, "220-mx.example.net\r\n220 ESMTP\r\n");
	sent(c, EHLO_CMD);
	smtpc_free(c);
}

/* ---- STARTTLS ---- */

static void test_starttls(void **state)
{
	static const char inj[] = "250-injected\r\n250 PIPELINING\r\n";
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	cfg.tls = SMTPC_TLS_MAY;
	c = start(&cfg, EHLO_TLS);
	assert_true(smtpc_extensions(c) & SMTPC_EXT_STARTTLS);
	sent(c, "STARTTLS\r\n");
	assert_int_equal(smtpc_timeout(c), 300);
	/* the 220 and injected plaintext in one read (CHECKLIST D) */
	srv(c, "220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 PIPELINING\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_TLS);
	nothing_sent(c);
	assert_int_equal(smtpc_discarded(c), strlen(inj));
	assert_int_equal(smtpc_tls_active(c), 0);
	/* bytes fed during the handshake are dropped too */
	srv(c, "250 more\r\n");
	assert_int_equal(smtpc_discarded(c), strlen(inj) + 10);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_TLS);
	smtpc_tls_done(c, 1, NULL);
	assert_int_equal(smtpc_tls_active(c), 1);
	assert_int_equal(smtpc_extensions(c), 0);
	/* RFC 3207 4.2: EHLO again; nothing injected counts as its reply */
	sent(c, EHLO_CMD);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	srv(c, "250-mx.example.net\r\n250 PIPELINING\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
	     "DATA\r\n");
	smtpc_free(c);
}

/* test_auth_plain - a smarthost login: STARTTLS, EHLO, AUTH PLAIN with
 * the RFC 4616 message in base64, then the transaction; the secret line
 * is sent only after TLS */
static void test_auth_plain(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	cfg.tls = SMTPC_TLS_MAY;
	cfg.auth_user = "alice";
	cfg.auth_pass = "secret";
	c = start(&cfg, EHLO_TLS);
	sent(c, "STARTTLS\r\n");
	srv(c, "220 go\r\n");
	smtpc_tls_done(c, 1, NULL);
	sent(c, EHLO_CMD);
	srv(c, "250-mx.example.net\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n");
	assert_true(smtpc_extensions(c) & SMTPC_EXT_AUTH_PLAIN);
	sent(c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	srv(c, "235 2.7.0 ok\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
	     "DATA\r\n");
	smtpc_free(c);
}

/* test_auth_refused - no TLS, no AUTH PLAIN, or a 535: deferred (4.7.x),
 * never the password in clear */
static void test_auth_refused(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	cfg.auth_user = "alice";
	cfg.auth_pass = "secret";
	mkjob1(&t);
	c = smtpc_new(&cfg);	/* no TLS: the login is never sent */
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "250-mx.example.net\r\n250 AUTH PLAIN\r\n");
	assert_true(t.job.done);
	st_is(&t.r[0], DS_TEMP, 451, "4.7.4", SMTPC_STAGE_EHLO);
	closed_quit(c);
	smtpc_free(c);

	cfg.tls = SMTPC_TLS_MAY;
	cfg.tls_on_connect = 1;
	mkjob1(&t);
	c = smtpc_new(&cfg);	/* TLS, but only AUTH LOGIN */
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "250-mx.example.net\r\n250 AUTH LOGIN PLAINX\r\n");
	assert_true(t.job.done);
	st_is(&t.r[0], DS_TEMP, 451, "4.7.0", SMTPC_STAGE_EHLO);
	smtpc_free(c);

	mkjob1(&t);
	c = smtpc_new(&cfg);	/* 535: deferred, not bounced */
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "250-mx.example.net\r\n250 AUTH PLAIN\r\n");
	sent(c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	srv(c, "535 5.7.8 Authentication credentials invalid\r\n");
	assert_true(t.job.done);
	st_is(&t.r[0], DS_TEMP, 451, "4.7.8", SMTPC_STAGE_AUTH);
	smtpc_free(c);
}

static void test_starttls_split_220(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;

	(void)state;
	cfg.tls = SMTPC_TLS_VERIFY;
	c = start(&cfg, EHLO_TLS);
	sent(c, "STARTTLS\r\n");
	srv(c, "220 go");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	srv(c, " ahead\r\n250 2.1.0 Sender ok\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_TLS);
	assert_int_equal(smtpc_discarded(c), strlen("250 2.1.0 Sender ok\r\n"));
	smtpc_tls_done(c, 1, NULL);
	sent(c, EHLO_CMD);
	smtpc_free(c);
}

static void test_starttls_may(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	/* refused: plaintext is fine for "may" */
	cfg.tls = SMTPC_TLS_MAY;
	c = start(&cfg, EHLO_TLS);
	sent(c, "STARTTLS\r\n");
	srv(c, "454 4.7.0 TLS not available\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	assert_int_equal(smtpc_tls_active(c), 0);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
	     "DATA\r\n");
	smtpc_free(c);

	/* not offered: plaintext */
	c = start(&cfg, EHLO_PLAIN);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);

	/* policy none: no STARTTLS even when offered */
	cfg.tls = SMTPC_TLS_NONE;
	c = start(&cfg, EHLO_TLS);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	nothing_sent(c);
	smtpc_free(c);

	/* already encrypted (port 465) */
	cfg.tls = SMTPC_TLS_ENCRYPT;
	cfg.tls_on_connect = 1;
	c = start(&cfg, EHLO_TLS);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	assert_int_equal(smtpc_tls_active(c), 1);
	nothing_sent(c);
	smtpc_free(c);
}

static void test_tls_required(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	/* CHECKLIST D "outbound downgrade": STARTTLS stripped */
	cfg.tls = SMTPC_TLS_ENCRYPT;
	c = smtpc_new(&cfg);
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, EHLO_ALL);
	assert_int_equal(t.job.done, 1);
	assert_int_equal(t.job.next_mx, 1);
	st_is(&t.r[0], DS_TEMP, 451, "4.7.4", SMTPC_STAGE_EHLO);
	st_is(&t.r[1], DS_TEMP, 451, "4.7.4", SMTPC_STAGE_EHLO);
	assert_int_equal(t.r[0].st.remote_said, 0);
	closed_quit(c);		/* no MAIL, ever */
	smtpc_free(c);

	/* refused */
	cfg.tls = SMTPC_TLS_VERIFY;
	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, EHLO_TLS);
	sent(c, "STARTTLS\r\n");
	srv(c, "554 5.7.3 no TLS for you\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.7.4", SMTPC_STAGE_STARTTLS);
	assert_non_null(strstr(t.r[0].st.text, "554 no TLS for you"));
	closed_quit(c);
	smtpc_free(c);

	/* a plain SMTP peer cannot do TLS at all */
	cfg.tls = SMTPC_TLS_ENCRYPT;
	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, "502 no\r\n");
	sent(c, "HELO " HELO "\r\n");
	srv(c, "250 ok\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.7.4", SMTPC_STAGE_HELO);
	closed_quit(c);
	smtpc_free(c);

	/* the handshake (or the certificate check) failed */
	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	srv(c, EHLO_TLS);
	sent(c, "STARTTLS\r\n");
	srv(c, "220 go\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_TLS);
	assert_int_equal(smtpc_timeout(c), 300);
	smtpc_tls_done(c, 0, "certificate verify failed\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.7.5", SMTPC_STAGE_TLS);
	assert_string_equal(t.r[0].st.text,
			    "TLS handshake failed: certificate verify failed ");
	assert_int_equal(t.job.next_mx, 1);
	closed_quiet(c);
	smtpc_free(c);
}

/* ---- checks before sending ---- */

static void test_size(void **state)
{
	struct smtpc *c = up("250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
	struct tjob t;

	(void)state;
	assert_int_equal(smtpc_size_limit(c), 1000);
	mkjob2(&t);
	t.job.size = 5000;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	/* RFC 1870 6: nothing is sent */
	nothing_sent(c);
	assert_int_equal(t.job.done, 1);
	assert_int_equal(t.job.next_mx, 0);
	st_is(&t.r[0], DS_PERM, 552, "5.3.4", SMTPC_STAGE_NONE);
	st_is(&t.r[1], DS_PERM, 552, "5.3.4", SMTPC_STAGE_NONE);
	assert_int_equal(t.r[0].st.remote_said, 0);
	assert_non_null(strstr(t.r[0].st.text, "5000"));
	assert_non_null(strstr(t.r[0].st.text, "1000"));
	/* the connection is still good */
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	mkjob1(&t);
	t.job.size = 1000;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1000\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	smtpc_free(c);

	/* SIZE without a number: no limit */
	c = up("250-mx\r\n250 SIZE\r\n");
	assert_int_equal(smtpc_size_limit(c), 0);
	mkjob1(&t);
	t.job.size = 99999999;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=99999999\r\n");
	smtpc_free(c);
}

static void test_8bitmime(void **state)
{
	struct smtpc *c = up("250-mx\r\n250-SIZE 2000\r\n250 PIPELINING\r\n");
	struct tjob t;

	(void)state;
	/* no 8BITMIME, no downconversion: 5.6.3 without sending */
	mkjob1(&t);
	t.job.flags = SMTPC_JOB_8BIT;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	nothing_sent(c);
	st_is(&t.r[0], DS_PERM, 554, "5.6.3", SMTPC_STAGE_NONE);
	assert_int_equal(t.job.downconvert, 0);
	/* the caller can downconvert: the 7-bit form's size counts */
	mkjob1(&t);
	t.job.flags = SMTPC_JOB_8BIT | SMTPC_JOB_DOWNCONVERT;
	t.job.size = 1500;
	t.job.size_7bit = 1900;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	assert_int_equal(t.job.downconvert, 1);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1900\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	srv(c, "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 ok\r\n");
	st_is(&t.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	/* the converted form too big */
	mkjob1(&t);
	t.job.flags = SMTPC_JOB_8BIT | SMTPC_JOB_DOWNCONVERT;
	t.job.size = 1500;
	t.job.size_7bit = 2500;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	nothing_sent(c);
	st_is(&t.r[0], DS_PERM, 552, "5.3.4", SMTPC_STAGE_NONE);
	smtpc_free(c);
}

static void test_smtputf8(void **state)
{
	const char *utf8[] = { "j\xc3\xb6rg@example.net", NULL };
	struct smtpc *c = up(EHLO_PLAIN);
	struct tjob t;

	(void)state;
	mkjob1(&t);
	t.job.flags = SMTPC_JOB_SMTPUTF8;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	nothing_sent(c);
	st_is(&t.r[0], DS_PERM, 554, "5.6.7", SMTPC_STAGE_NONE);
	/* a UTF-8 address needs it without the flag */
	mkjob(&t, utf8);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	nothing_sent(c);
	st_is(&t.r[0], DS_PERM, 554, "5.6.7", SMTPC_STAGE_NONE);
	mkjob1(&t);
	t.job.sender = "\xc3\xa9lise@example.org";
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	st_is(&t.r[0], DS_PERM, 554, "5.6.7", SMTPC_STAGE_NONE);
	smtpc_free(c);

	/* offered: passed on */
	c = up(EHLO_ALL);
	mkjob(&t, utf8);
	t.job.flags = SMTPC_JOB_8BIT;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME "
	     "SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@example.net>\r\nDATA\r\n");
	smtpc_free(c);

	/* not needed: not sent */
	c = up(EHLO_ALL);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	smtpc_free(c);
}

/* dsn_job - a job with every DSN parameter */
static void dsn_job(struct tjob *t)
{
	const char *a[] = { "bob+tag@example.net", "carol@example.net",
			    "dave@example.net", NULL };

	mkjob(t, a);
	t->job.ret = RET_HDRS;
	t->job.envid = "q1+x=y";
	t->job.envid_len = 6;
	t->r[0].notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
	t->r[0].orcpt_type = "rfc822";
	t->r[0].orcpt = "Bob+Tag@example.net";
	t->r[0].orcpt_len = strlen(t->r[0].orcpt);
	t->r[1].notify = NOTIFY_NEVER;
	t->r[2].notify = NOTIFY_DELAY | NOTIFY_FAILURE | NOTIFY_SUCCESS;
	t->r[2].orcpt_type = "bad type";	/* not an atom: left out */
	t->r[2].orcpt = "x";
	t->r[2].orcpt_len = 1;
}

static void test_dsn_params(void **state)
{
	struct smtpc *c = up(EHLO_ALL);
	struct tjob t;

	(void)state;
	dsn_job(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234 RET=HDRS "
	     "ENVID=q1+2Bx+3Dy\r\n"
	     "RCPT TO:<bob+tag@example.net> NOTIFY=SUCCESS,FAILURE "
	     "ORCPT=rfc822;Bob+2BTag@example.net\r\n"
	     "RCPT TO:<carol@example.net> NOTIFY=NEVER\r\n"
	     "RCPT TO:<dave@example.net> NOTIFY=SUCCESS,FAILURE,DELAY\r\n"
	     "DATA\r\n");
	smtpc_free(c);

	/* RET=FULL */
	c = up(EHLO_ALL);
	mkjob1(&t);
	t.job.ret = RET_FULL;
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234 RET=FULL\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	smtpc_free(c);

	/* no DSN offered: none of them */
	c = up("250-mx\r\n250 PIPELINING\r\n");
	dsn_job(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org>\r\n"
	     "RCPT TO:<bob+tag@example.net>\r\n"
	     "RCPT TO:<carol@example.net>\r\n"
	     "RCPT TO:<dave@example.net>\r\nDATA\r\n");
	smtpc_free(c);
}

/* ---- per-recipient and per-transaction results ---- */

static void test_rcpt_results(void **state)
{
	const char *a[] = { "a@example.net", "b@example.net", "c@example.net",
			    "d@example.net", NULL };
	struct smtpc *c = up(EHLO_ALL);
	struct tjob t;

	(void)state;
	mkjob(&t, a);
	t.job.sender = "";	/* a bounce */
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<> SIZE=1234\r\nRCPT TO:<a@example.net>\r\n"
	     "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
	     "RCPT TO:<d@example.net>\r\nDATA\r\n");
	srv(c, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n450 4.2.1 mailbox busy\r\n"
	    "550 no such user\r\n552 5.2.2 over quota\r\n354 go\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	assert_int_equal(t.job.done, 0);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 2.0.0 queued\r\n");
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	st_is(&t.r[1], DS_TEMP, 450, "4.2.1", SMTPC_STAGE_RCPT);
	assert_string_equal(t.r[1].st.text, "mailbox busy");
	st_is(&t.r[2], DS_PERM, 550, "5.0.0", SMTPC_STAGE_RCPT);
	assert_string_equal(t.r[2].st.text, "no such user");
	assert_int_equal(t.r[2].st.remote_said, 1);
	st_is(&t.r[3], DS_PERM, 552, "5.2.2", SMTPC_STAGE_RCPT);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

static void test_all_rcpts_refused(void **state)
{
	struct smtpc *c = up(EHLO_PLAIN);
	struct tjob t;

	(void)state;
	/* lock-step: no DATA, RSET */
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "550 5.1.1 unknown\r\n");
	sent(c, "RCPT TO:<carol@example.net>\r\n");
	srv(c, "450 4.2.0 greylisted\r\n");
	sent(c, "RSET\r\n");
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_PERM, 550, "5.1.1", SMTPC_STAGE_RCPT);
	st_is(&t.r[1], DS_TEMP, 450, "4.2.0", SMTPC_STAGE_RCPT);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	assert_int_equal(smtpc_timeout(c), 300);
	srv(c, "250 2.0.0 ok\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	nothing_sent(c);
	smtpc_free(c);

	/* pipelined: DATA refused by the server, then RSET */
	c = up(EHLO_ALL);
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
	     "DATA\r\n");
	srv(c, "250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n"
	    "554 5.5.1 Error: no valid recipients\r\n");
	st_is(&t.r[0], DS_PERM, 550, "5.1.1", SMTPC_STAGE_RCPT);
	st_is(&t.r[1], DS_PERM, 550, "5.1.1", SMTPC_STAGE_RCPT);
	sent(c, "RSET\r\n");
	srv(c, "250 ok\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);

	/* pipelined, and the server says 354 anyway: a lone dot (RFC 2920) */
	c = up(EHLO_ALL);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	srv(c, "250 ok\r\n550 5.1.1 no\r\n354 go\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	sent(c, ".\r\n");
	srv(c, "554 no recipients\r\n");
	sent(c, "RSET\r\n");
	srv(c, "250 ok\r\n");
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_PERM, 550, "5.1.1", SMTPC_STAGE_RCPT);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

static void test_mail_refused(void **state)
{
	struct smtpc *c = up(EHLO_ALL);
	struct tjob t;

	(void)state;
	/* pipelined: the RCPT and DATA replies are consumed, no RSET */
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
	     "DATA\r\n");
	srv(c, "550 5.1.8 bad sender domain\r\n503 5.5.1 need MAIL\r\n");
	assert_int_equal(t.job.done, 0);
	srv(c, "503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n");
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_PERM, 550, "5.1.8", SMTPC_STAGE_MAIL);
	st_is(&t.r[1], DS_PERM, 550, "5.1.8", SMTPC_STAGE_MAIL);
	assert_int_equal(t.job.next_mx, 0);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	nothing_sent(c);
	smtpc_free(c);

	/* pipelined, MAIL refused and still a 354: end it with a lone dot */
	c = up(EHLO_ALL);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	srv(c, "451 4.3.0 later\r\n503 5.5.1 need MAIL\r\n354 go\r\n");
	sent(c, ".\r\n");
	srv(c, "503 5.5.1 no\r\n");
	sent(c, "RSET\r\n");
	srv(c, "250 ok\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.3.0", SMTPC_STAGE_MAIL);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);

	/* lock-step: no RCPT after a refused MAIL */
	c = up(EHLO_PLAIN);
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "451 4.3.0 local error\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.3.0", SMTPC_STAGE_MAIL);
	st_is(&t.r[1], DS_TEMP, 451, "4.3.0", SMTPC_STAGE_MAIL);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	nothing_sent(c);
	smtpc_free(c);
}

static void test_data_refused(void **state)
{
	struct smtpc *c = up(EHLO_PLAIN);
	struct tjob t;

	(void)state;
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "550 5.1.1 unknown\r\n");
	sent(c, "RCPT TO:<carol@example.net>\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "DATA\r\n");
	srv(c, "451 4.3.0 try later\r\n");
	st_is(&t.r[0], DS_PERM, 550, "5.1.1", SMTPC_STAGE_RCPT);
	st_is(&t.r[1], DS_TEMP, 451, "4.3.0", SMTPC_STAGE_DATA);
	sent(c, "RSET\r\n");
	srv(c, "250 ok\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

/* to_body - c with job t (bob, carol) accepted, in the body */
static struct smtpc *to_body(struct tjob *t)
{
	struct smtpc *c = up(EHLO_ALL);

	mkjob2(t);
	assert_int_equal(smtpc_job_start(c, &t->job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
	     "DATA\r\n");
	srv(c, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	return c;
}

static void test_after_dot(void **state)
{
	struct smtpc *c;
	struct tjob t;

	(void)state;
	c = to_body(&t);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "554-5.7.1 Message rejected\r\n554 5.7.1 spam score too high\r\n");
	st_is(&t.r[0], DS_PERM, 554, "5.7.1", SMTPC_STAGE_DOT);
	st_is(&t.r[1], DS_PERM, 554, "5.7.1", SMTPC_STAGE_DOT);
	assert_string_equal(t.r[0].st.text,
			    "Message rejected spam score too high");
	/* the transaction is over on the server: no RSET needed */
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	nothing_sent(c);
	smtpc_free(c);

	c = to_body(&t);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "452 4.3.1 insufficient storage\r\n");
	st_is(&t.r[0], DS_TEMP, 452, "4.3.1", SMTPC_STAGE_DOT);
	st_is(&t.r[1], DS_TEMP, 452, "4.3.1", SMTPC_STAGE_DOT);
	assert_int_equal(t.job.next_mx, 0);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

static void test_mid_data_reply(void **state)
{
	struct smtpc *c;
	struct tjob t;

	(void)state;
	/* CHECKLIST H "mid-DATA 550": stop sending, bounce */
	c = to_body(&t);
	srv(c, "550 5.7.0 ");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_BODY);
	srv(c, "message refused\r\n");
	st_is(&t.r[0], DS_PERM, 550, "5.7.0", SMTPC_STAGE_BODY);
	st_is(&t.r[1], DS_PERM, 550, "5.7.0", SMTPC_STAGE_BODY);
	closed_quiet(c);
	smtpc_body_done(c);	/* too late: ignored */
	nothing_sent(c);
	smtpc_free(c);

	/* an early 250: the message did not end here */
	c = to_body(&t);
	srv(c, "250 2.0.0 queued\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_BODY);
	assert_int_equal(t.r[0].st.remote_said, 0);
	closed_quiet(c);
	smtpc_free(c);
}

/* ---- 421 at each stage (RFC 5321 3.8) ---- */

enum stop { AT_GREETING, AT_EHLO, AT_HELO, AT_STARTTLS, AT_MAIL, AT_RCPT,
	    AT_DATA, AT_BODY, AT_DOT, AT_RSET, AT_PIPELINED, AT__COUNT };

/* drive - a two-recipient job up to the stop; the stage a reply answers */
static enum smtpc_stage drive(struct smtpc *c, struct tjob *t, enum stop at)
{
	static const char *const ehlo[] = {
		[AT_STARTTLS] = EHLO_TLS, [AT_PIPELINED] = EHLO_ALL,
	};

	mkjob2(t);
	assert_int_equal(smtpc_job_start(c, &t->job), 0);
	if (at == AT_GREETING)
		return SMTPC_STAGE_GREETING;
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	if (at == AT_EHLO)
		return SMTPC_STAGE_EHLO;
	if (at == AT_HELO) {
		srv(c, "502 no\r\n");
		sent(c, "HELO " HELO "\r\n");
		return SMTPC_STAGE_HELO;
	}
	srv(c, ehlo[at] ? ehlo[at] : EHLO_PLAIN);
	if (at == AT_STARTTLS) {
		sent(c, "STARTTLS\r\n");
		return SMTPC_STAGE_STARTTLS;
	}
	if (at == AT_PIPELINED) {
		sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
		     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
		     "DATA\r\n");
		srv(c, "250 ok\r\n250 ok\r\n");
		return SMTPC_STAGE_RCPT;
	}
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	if (at == AT_MAIL)
		return SMTPC_STAGE_MAIL;
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<carol@example.net>\r\n");
	if (at == AT_RCPT)
		return SMTPC_STAGE_RCPT;
	srv(c, at == AT_RSET ? "550 no\r\n" : "250 ok\r\n");
	if (at == AT_RSET) {
		sent(c, "DATA\r\n");
		srv(c, "554 no\r\n");
		sent(c, "RSET\r\n");
		return SMTPC_STAGE_RSET;
	}
	sent(c, "DATA\r\n");
	if (at == AT_DATA)
		return SMTPC_STAGE_DATA;
	srv(c, "354 go\r\n");
	if (at == AT_BODY)
		return SMTPC_STAGE_BODY;
	smtpc_body_done(c);
	sent(c, ".\r\n");
	return SMTPC_STAGE_DOT;
}

static void test_421_everywhere(void **state)
{
	struct smtpc_config cfg = cfg_base();
	int at;

	(void)state;
	cfg.tls = SMTPC_TLS_MAY;
	for (at = 0; at < AT__COUNT; at++) {
		struct smtpc *c = smtpc_new(&cfg);
		struct tjob t, t2;
		enum smtpc_stage stage = drive(c, &t, (enum stop)at);
		size_t i;

		if (at == AT_RSET) {
			/* the first job is done; a waiting one gets the 421 */
			assert_int_equal(t.job.done, 1);
			st_is(&t.r[0], DS_PERM, 554, "5.0.0", SMTPC_STAGE_DATA);
			st_is(&t.r[1], DS_PERM, 550, "5.0.0", SMTPC_STAGE_RCPT);
			mkjob2(&t2);
			assert_int_equal(smtpc_job_start(c, &t2.job), 0);
			nothing_sent(c);
		}
		srv(c, "421 4.3.2 Service shutting down\r\n");
		for (i = 0; i < 2; i++) {
			const struct smtpc_rcpt *r = at == AT_RSET ? &t2.r[i] :
				&t.r[i];

			st_is(r, DS_TEMP, 421, "4.3.2", stage);
			assert_string_equal(r->st.text,
					    "Service shutting down");
		}
		assert_int_equal(at == AT_RSET ? t2.job.done : t.job.done, 1);
		assert_int_equal(at == AT_RSET ? t2.job.next_mx :
				 t.job.next_mx, 1);
		/* no QUIT after a 421 */
		closed_quiet(c);
		assert_int_equal(smtpc_status(c)->code, 421);
		smtpc_free(c);
	}
}

static void test_421_idle(void **state)
{
	struct smtpc *c = up(EHLO_ALL);

	(void)state;
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	srv(c, "421 4.4.2 idle timeout\r\n");
	closed_quiet(c);
	smtpc_free(c);
}

/* ---- malformed replies (CHECKLIST H) ---- */

/* at_mail - c waiting for the MAIL reply of a one-recipient job */
static struct smtpc *at_mail(const struct smtpc_config *cfg, struct tjob *t)
{
	struct smtpc *c = start(cfg, EHLO_PLAIN);

	mkjob1(t);
	assert_int_equal(smtpc_job_start(c, &t->job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	return c;
}

/* bad - the server's answer to MAIL is a protocol error */
static void bad(const char *reply, size_t len)
{
	struct smtpc_config cfg = cfg_base();
	struct tjob t;
	struct smtpc *c = at_mail(&cfg, &t);

	smtpc_feed(c, reply, len);
	if (t.job.done != 1)
		fail_msg("not a protocol error: \"%.*s\"", (int)(len > 60 ?
			 60 : len), reply);
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_MAIL);
	assert_int_equal(t.r[0].st.remote_said, 0);
	assert_int_equal(t.job.next_mx, 1);
	assert_true(strlen(t.r[0].st.text) < DSTATUS_TEXT_MAX);
	/* defer and close, no QUIT to a confused server */
	closed_quiet(c);
	smtpc_free(c);
}

/* bad_s - bad() for a C string */
static void bad_s(const char *reply)
{
	bad(reply, strlen(reply));
}

static void test_malformed(void **state)
{
	static const char nul[] = "250 o\0k\r\n";
	size_t big = 10 * 1024;
	char *line = malloc(big + 3);

	(void)state;
	bad_s("250\r\n");			/* 3-char 250 */
	bad_s("2\r\n");
	bad_s("25\r\n");
	bad_s("\r\n");
	bad_s("250-first\r\n451 second\r\n");	/* mixed codes */
	bad_s("250-first\r\n251 second\r\n");
	bad_s("600 too big\r\n");
	bad_s("199 too small\r\n");
	bad_s("2500 four digits\r\n");
	bad_s("250\tTab\r\n");
	bad_s("ESMTP hello\r\n");
	bad_s("250 ok\n");			/* bare LF */
	bad_s("250-ok\r\n250 ok\n");
	bad(nul, sizeof(nul) - 1);		/* NUL */
	bad_s("354 not now\r\n");		/* a code MAIL cannot get */
	/* a 10 KB line, with and without its CRLF */
	assert_non_null(line);
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', big - 4);
	bad(line, big);
	memcpy(line + big, "\r\n", 3);
	bad(line, big + 2);
	free(line);
}

static void test_no_crlf_bound(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct tjob t;
	struct smtpc *c;
	char chunk[512];
	int i;

	(void)state;
	/* bytes without a line end: an error once past line_max, not an
	 * ever-growing buffer */
	cfg.line_max = 1024;
	c = at_mail(&cfg, &t);
	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "250 ", 4);
	smtpc_feed(c, chunk, sizeof(chunk));
	assert_int_equal(t.job.done, 0);
	for (i = 0; i < 2 && t.job.done == 0; i++)
		smtpc_feed(c, chunk, sizeof(chunk));
	assert_int_equal(t.job.done, 1);
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_MAIL);
	assert_non_null(strstr(t.r[0].st.text, "too long"));
	closed_quiet(c);
	smtpc_free(c);

	/* a partial line then EOF */
	cfg = cfg_base();
	c = at_mail(&cfg, &t);
	srv(c, "250 o");
	smtpc_conn_lost(c, NULL);
	st_is(&t.r[0], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_MAIL);
	closed_quiet(c);
	smtpc_free(c);
}

static void test_bare_code_option(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct tjob t;
	struct smtpc *c;

	(void)state;
	/* RFC 5321 4.2 allows "250" CRLF; accepted when configured */
	cfg.accept_bare_code = 1;
	c = at_mail(&cfg, &t);
	srv(c, "250\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "250-\r\n250\r\n");
	sent(c, "DATA\r\n");
	smtpc_free(c);
}

static void test_early_and_unsolicited(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;
	size_t n;

	(void)state;
	/* a reply to EHLO in the same read as the greeting: before EHLO
	 * could have been sent */
	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	srv(c, GREETING "250 mx.example.net\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_EHLO);
	assert_non_null(strstr(t.r[0].st.text, "before the command"));
	closed_quiet(c);	/* the EHLO is not sent either */
	smtpc_free(c);

	/* replies to a pipelined group the caller has not taken yet */
	c = up(EHLO_ALL);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	assert_non_null(smtpc_output(c, &n));
	smtpc_output_taken(c, strlen("MAIL FROM:<alice@example.org> "
				     "SIZE=1234\r\n"));
	srv(c, "250 ok\r\n");	/* MAIL was taken: fine */
	assert_int_equal(t.job.done, 0);
	srv(c, "250 ok\r\n");	/* RCPT was not */
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_RCPT);
	closed_quiet(c);
	smtpc_free(c);

	/* an extra line after a complete reply */
	c = up(EHLO_PLAIN);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n250 extra\r\n");
	st_is(&t.r[0], DS_TEMP, 451, "4.5.0", SMTPC_STAGE_RCPT);
	smtpc_free(c);

	/* a line while idle ends the connection, no job involved */
	c = up(EHLO_PLAIN);
	srv(c, "250 hello?\r\n");
	closed_quiet(c);
	assert_int_equal(smtpc_status(c)->cls, DS_TEMP);
	assert_string_equal(smtpc_status(c)->enh, "4.5.0");
	smtpc_free(c);

	/* an EHLO line after the greeting reply but before EHLO goes out */
	c = smtpc_new(&cfg);
	srv(c, GREETING);
	srv(c, "2");
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	srv(c, "50 x\r\n");
	closed_quiet(c);
	smtpc_free(c);
}

static void test_text_escaping(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;
	char line[1600];

	(void)state;
	c = at_mail(&cfg, &t);
	srv(c, "550-5.1.8 bad \x01 \"sender\"\r\n"
	    "550 5.1.8 caf\xc3\xa9 \\ \x7f end\r\n");
	st_is(&t.r[0], DS_PERM, 550, "5.1.8", SMTPC_STAGE_MAIL);
	assert_string_equal(t.r[0].st.text, "bad \\x01 \"sender\" "
			    "caf\\xc3\\xa9 \\x5c \\x7f end");
	smtpc_free(c);

	/* long text is cut to fit, and says so */
	c = at_mail(&cfg, &t);
	memcpy(line, "550 ", 4);
	memset(line + 4, 'y', sizeof(line) - 7);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	srv(c, line);
	assert_int_equal(t.r[0].st.cls, DS_PERM);
	assert_true(strlen(t.r[0].st.text) < DSTATUS_TEXT_MAX);
	assert_true(strlen(t.r[0].st.text) > DSTATUS_TEXT_MAX - 10);
	assert_non_null(strstr(t.r[0].st.text, "..."));
	smtpc_free(c);

	/* a protocol error quotes the bytes escaped */
	c = at_mail(&cfg, &t);
	srv(c, "2\x1b[31m\r\n");
	assert_null(strchr(t.r[0].st.text, '\x1b'));
	assert_non_null(strstr(t.r[0].st.text, "\\x1b"));
	smtpc_free(c);
}

/* ---- timeouts and lost connections ---- */

static void test_timeouts(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;
	int i;

	(void)state;
	for (i = 0; i < SMTPC_TO__COUNT; i++)
		cfg.timeout[i] = 10 + (unsigned)i;
	c = smtpc_new(&cfg);
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_GREETING);
	srv(c, GREETING);
	sent(c, EHLO_CMD);
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_HELO);
	srv(c, EHLO_PLAIN);
	assert_int_equal(smtpc_timeout(c), 0);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_MAIL);
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_RCPT);
	srv(c, "250 ok\r\n");
	sent(c, "DATA\r\n");
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_DATA);
	srv(c, "354 go\r\n");
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_BLOCK);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	assert_int_equal(smtpc_timeout(c), 10 + SMTPC_TO_DOT);
	/* RFC 5321 4.5.3.2: treat as 4yz; a duplicate is possible */
	smtpc_timed_out(c);
	st_is(&t.r[0], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_DOT);
	assert_non_null(strstr(t.r[0].st.text, "twice"));
	assert_int_equal(t.job.next_mx, 1);
	closed_quiet(c);
	smtpc_free(c);

	/* a hung RCPT */
	c = up(EHLO_PLAIN);
	mkjob2(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "550 no\r\n");
	sent(c, "RCPT TO:<carol@example.net>\r\n");
	smtpc_timed_out(c);
	st_is(&t.r[0], DS_PERM, 550, "5.0.0", SMTPC_STAGE_RCPT);
	st_is(&t.r[1], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_RCPT);
	assert_string_equal(t.r[1].st.text,
			    "timeout waiting for the reply to RCPT TO");
	closed_quiet(c);
	smtpc_free(c);

	/* the default values */
	cfg = cfg_base();
	c = smtpc_new(&cfg);
	smtpc_timed_out(c);
	closed_quiet(c);
	assert_string_equal(smtpc_status(c)->text,
			    "timeout waiting for the reply to initial greeting");
	smtpc_free(c);
}

static void test_conn_lost(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t;

	(void)state;
	/* before the greeting: next MX */
	c = smtpc_new(&cfg);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	smtpc_conn_lost(c, NULL);
	st_is(&t.r[0], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_GREETING);
	assert_int_equal(t.job.next_mx, 1);
	closed_quiet(c);
	smtpc_free(c);

	/* during the body, with a reason */
	c = to_body(&t);
	smtpc_conn_lost(c, "Connection reset by peer");
	st_is(&t.r[0], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_BODY);
	assert_string_equal(t.r[0].st.text, "connection lost while sending "
			    "message data: Connection reset by peer");
	closed_quiet(c);
	smtpc_free(c);

	/* after the dot with no reply (CHECKLIST H "lost reply") */
	c = to_body(&t);
	smtpc_body_done(c);
	sent(c, ".\r\n");
	smtpc_conn_lost(c, NULL);
	st_is(&t.r[1], DS_TEMP, 451, "4.4.2", SMTPC_STAGE_DOT);
	smtpc_free(c);

	/* idle: nobody to tell */
	c = up(EHLO_ALL);
	smtpc_conn_lost(c, NULL);
	closed_quiet(c);
	assert_int_equal(smtpc_status(c)->cls, DS_OK);
	smtpc_free(c);
}

/* ---- several transactions ---- */

static void test_two_transactions(void **state)
{
	struct smtpc *c = up(EHLO_ALL);
	struct tjob t1, t2, t3;

	(void)state;
	mkjob1(&t1);
	assert_int_equal(smtpc_job_start(c, &t1.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	srv(c, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 2.0.0 first\r\n");
	st_is(&t1.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);

	/* the second: every recipient refused, so RSET before the third */
	mkjob2(&t2);
	t2.job.sender = "zed@example.org";
	assert_int_equal(smtpc_job_start(c, &t2.job), 0);
	sent(c, "MAIL FROM:<zed@example.org> SIZE=1234\r\n"
	     "RCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
	     "DATA\r\n");
	srv(c, "250 ok\r\n550 no\r\n550 no\r\n554 no valid recipients\r\n");
	assert_int_equal(t2.job.done, 1);
	sent(c, "RSET\r\n");
	/* the third job may be given while the RSET is outstanding */
	mkjob1(&t3);
	t3.job.size = 77;
	assert_int_equal(smtpc_job_start(c, &t3.job), 0);
	nothing_sent(c);
	srv(c, "250 2.0.0 reset\r\n");
	sent(c, "MAIL FROM:<alice@example.org> SIZE=77\r\n"
	     "RCPT TO:<bob@example.net>\r\nDATA\r\n");
	srv(c, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 2.0.0 third\r\n");
	st_is(&t3.r[0], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);
	assert_string_equal(t3.r[0].st.text, "third");
	assert_int_equal(smtpc_quit(c), 0);
	closed_quit(c);
	smtpc_free(c);

	/* QUIT asked for while the RSET is outstanding goes after it */
	c = up(EHLO_PLAIN);
	mkjob1(&t1);
	assert_int_equal(smtpc_job_start(c, &t1.job), 0);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n");
	srv(c, "250 ok\r\n");
	sent(c, "RCPT TO:<bob@example.net>\r\n");
	srv(c, "550 no\r\n");
	sent(c, "RSET\r\n");
	assert_int_equal(smtpc_quit(c), 0);
	nothing_sent(c);
	assert_int_equal(smtpc_job_start(c, &t2.job), -1);
	srv(c, "250 ok\r\n");
	closed_quit(c);
	smtpc_free(c);
}

/* ---- addresses and misuse ---- */

static void test_bad_addresses(void **state)
{
	const char *a[] = { "bob@example.net>\r\nRSET", "", "carol@example.net",
			    NULL };
	struct smtpc *c = up(EHLO_ALL);
	struct tjob t;

	(void)state;
	mkjob(&t, a);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	st_is(&t.r[0], DS_PERM, 553, "5.1.3", SMTPC_STAGE_NONE);
	st_is(&t.r[1], DS_PERM, 553, "5.1.3", SMTPC_STAGE_NONE);
	sent(c, "MAIL FROM:<alice@example.org> SIZE=1234\r\n"
	     "RCPT TO:<carol@example.net>\r\nDATA\r\n");
	srv(c, "250 ok\r\n250 ok\r\n354 go\r\n");
	smtpc_body_done(c);
	sent(c, ".\r\n");
	srv(c, "250 ok\r\n");
	st_is(&t.r[0], DS_PERM, 553, "5.1.3", SMTPC_STAGE_NONE);
	st_is(&t.r[2], DS_OK, 250, "2.0.0", SMTPC_STAGE_DOT);

	mkjob1(&t);
	t.job.sender = "alice@example.org>\r\nRCPT TO:<evil@example.com";
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	st_is(&t.r[0], DS_PERM, 553, "5.1.7", SMTPC_STAGE_NONE);
	nothing_sent(c);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_JOB);
	smtpc_free(c);
}

static void test_misuse(void **state)
{
	struct smtpc_config cfg = cfg_base();
	struct smtpc *c;
	struct tjob t, t2;

	(void)state;
	cfg.helo_name = "bad name";
	assert_null(smtpc_new(&cfg));
	cfg.helo_name = "";
	assert_null(smtpc_new(&cfg));
	cfg.helo_name = NULL;
	assert_null(smtpc_new(&cfg));
	cfg = cfg_base();
	c = smtpc_new(&cfg);
	assert_non_null(c);
	mkjob1(&t);
	t.job.nrcpt = 0;
	assert_int_equal(smtpc_job_start(c, &t.job), -1);
	mkjob1(&t);
	assert_int_equal(smtpc_job_start(c, &t.job), 0);
	mkjob1(&t2);
	assert_int_equal(smtpc_job_start(c, &t2.job), -1);
	assert_int_equal(smtpc_quit(c), -1);
	smtpc_body_done(c);		/* not in the body: ignored */
	smtpc_tls_done(c, 1, NULL);	/* no STARTTLS: ignored */
	nothing_sent(c);
	assert_int_equal(smtpc_want(c), SMTPC_WANT_READ);
	assert_string_equal(smtpc_stage_name(SMTPC_STAGE_DOT), "end of data");
	assert_string_equal(smtpc_stage_name((enum smtpc_stage)99), "");
	smtpc_free(c);

	/* quit before the greeting: just close */
	c = smtpc_new(&cfg);
	assert_int_equal(smtpc_quit(c), 0);
	closed_quiet(c);
	srv(c, GREETING);	/* ignored */
	closed_quiet(c);
	smtpc_free(c);
	smtpc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_lockstep),
		cmocka_unit_test(test_no_pipelining_config),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_hello_refused),
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_split_220),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_starttls_may),
		cmocka_unit_test(test_tls_required),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_8bitmime),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_dsn_params),
		cmocka_unit_test(test_rcpt_results),
		cmocka_unit_test(test_all_rcpts_refused),
		cmocka_unit_test(test_mail_refused),
		cmocka_unit_test(test_data_refused),
		cmocka_unit_test(test_after_dot),
		cmocka_unit_test(test_mid_data_reply),
		cmocka_unit_test(test_421_everywhere),
		cmocka_unit_test(test_421_idle),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_crlf_bound),
		cmocka_unit_test(test_bare_code_option),
		cmocka_unit_test(test_early_and_unsolicited),
		cmocka_unit_test(test_text_escaping),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_conn_lost),
		cmocka_unit_test(test_two_transactions),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_msg_dsn - unit tests of the RFC 3464 report builder (src/msg/dsn.c).
 *
 * Golden files (tests/unit/golden/dsn_*.eml, LF line ends; the output must
 * have CRLF only and match them line for line): a remote 5xx with RET=FULL,
 * ENVID and ORCPT; several failures with RET=HDRS (remote, local, DNS, a
 * UTF-8 recipient, a long reply wrapped); a delay report (Will-Retry-Until,
 * headers by default); a success report (delivered, relayed, expanded, no
 * original); an original too large for RET=FULL (headers only, the note,
 * 8-bit, a header line over 998 octets cut).
 * Then: every line < 999 octets and parts 1-2 7-bit in every report;
 * injection through the reply text, the remote host, the ORCPT and ENVID
 * (CR/LF, a forged boundary, a forged part) gets nowhere; a boundary that
 * the original contains is avoided; the reader's chunk size changes
 * nothing; reader errors and bad arguments fail with out unchanged;
 * ORCPT decoding and re-encoding (rfc822, xtext, utf-8); Status from the
 * transport or by action; dates.  When python3 is installed, every report
 * built here is also parsed by tests/unit/check_dsn.py (Python's email
 * package); set MAILPORT_GOLDEN_UPDATE=1 to rewrite the golden files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg/dsn.h"
#include "testutil.h"
#include "util/buf.h"

extern char **environ;

#define T0 1709632800LL		/* Tue, 05 Mar 2024 10:00:00 +0000 */

/* ---- helpers ---- */

/* A reader over memory: at most chunk bytes a call; fails at fail_at. */
struct mem_reader {
	const char *p;
	size_t len, pos, chunk;
	size_t fail_at;		/* 0: never */
	size_t asked;		/* largest request */
};

/* mem_read - msg_dsn_read_fn over a struct mem_reader */
static long mem_read(void *ctx, char *buf, size_t n)
{
	struct mem_reader *m = ctx;
	size_t k = m->len - m->pos;

	if (n > m->asked)
		m->asked = n;
	if (m->fail_at && m->pos >= m->fail_at)
		return -1;
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (long)k;
}

/* Reports built by this run, for check_dsn.py at the end. */
static char tmpdir[512];
static unsigned nsaved;

/* save_report - keep a copy of a report for the Python check */
static void save_report(const char *p, size_t n)
{
	char name[64], path[1024];

	if (!tmpdir[0])
		return;
	snprintf(name, sizeof(name), "r%03u.eml", nsaved++);
	tu_path(path, sizeof(path), tmpdir, name);
	assert_int_equal(tu_write_at(AT_FDCWD, path, p, n, 0600), 0);
}

/* line_at - does a line of out start with s? */
static int line_at(const buf_t *out, const char *s)
{
	size_t n = strlen(s);
	const char *p = out->data, *end = out->data + out->len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) >= n && memcmp(p, s, n) == 0)
			return 1;
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* boundary_of - the boundary of a report (static buffer) */
static const char *boundary_of(const buf_t *out)
{
	static char b[128];
	const char *p = strstr(out->data, "boundary=\"");
	const char *q;

	assert_non_null(p);
	p += 10;
	q = strchr(p, '"');
	assert_non_null(q);
	assert_true(q - p > 0 && q - p <= 70);
	snprintf(b, sizeof(b), "%.*s", (int)(q - p), p);
	return b;
}

/* check_shape - what every report must be: CRLF only, every line under
 * 999 octets, everything before part 3 7-bit, the close delimiter last */
static void check_shape(const buf_t *out, const struct msg_dsn_info *info)
{
	const char *b = boundary_of(out), *p3;
	char close[160], part3[160];
	size_t i, col = 0, upto;

	tu_assert_crlf_only(out->data, out->len);
	for (i = 0; i < out->len; i++) {
		col = out->data[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 999);	/* 998 + the CR */
	}
	snprintf(part3, sizeof(part3), "\r\n--%s\r\nContent-Description: ", b);
	p3 = strstr(out->data, part3);
	if (p3)
		p3 = strstr(p3 + 1, part3);
	if (p3)
		p3 = strstr(p3 + 1, part3);
	upto = p3 ? (size_t)(p3 - out->data) : out->len;
	if (!info->smtputf8)
		for (i = 0; i < upto; i++)
			assert_true((unsigned char)out->data[i] < 0x80);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", b);
	assert_true(out->len > strlen(close));
	assert_string_equal(out->data + out->len - strlen(close), close);
	save_report(out->data, out->len);
}

/* build_ok - msg_dsn_build must succeed; checks the shape */
static void build_ok(const struct msg_dsn *d, buf_t *out,
		     struct msg_dsn_info *info)
{
	assert_int_equal(msg_dsn_build(d, out, info), 0);
	check_shape(out, info);
}

/* status - a struct dstatus */
static struct dstatus status(enum dclass cls, int code, const char *enh,
			     const char *text, const char *remote, int said)
{
	struct dstatus st;

	memset(&st, 0, sizeof(st));
	st.cls = cls;
	st.code = code;
	snprintf(st.enh, sizeof(st.enh), "%s", enh);
	snprintf(st.text, sizeof(st.text), "%s", text);
	snprintf(st.remote, sizeof(st.remote), "%s", remote);
	st.remote_said = said;
	return st;
}

/* base - the report fields the tests share */
static struct msg_dsn base(const struct msg_dsn_rcpt *r, size_t n,
			   struct mem_reader *m)
{
	struct msg_dsn d;

	memset(&d, 0, sizeof(d));
	d.hostname = "mx.example.org";
	d.qid = "4Tq9bX2kLmZ";
	d.sender = "alice@example.org";
	d.arrival = T0 - 3600;
	d.now = T0;
	d.nonce = 1;
	d.rcpts = r;
	d.nrcpts = n;
	if (m) {
		d.read = mem_read;
		d.read_ctx = m;
	}
	return d;
}

static const char original[] =
	"Received: from client.example.org ([192.0.2.7])\r\n"
	"\tby mx.example.org (mailport) with ESMTP id 4Tq9bX2kLmZ\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.net>\r\n"
	"Subject: lunch\r\n"
	"Message-ID: <1@example.org>\r\n"
	"\r\n"
	"Hello Bob,\n"
	".\r\n"
	"-- \r\n"
	"Alice\r\n";

/* ---- golden reports ---- */

static void test_golden_failed_full(void **state)
{
	struct dstatus st = status(DS_PERM, 550, "5.1.1",
		"<bob+tag@example.net>: Recipient address rejected: User unknown",
		"mx.example.net[192.0.2.25]", 1);
	struct msg_dsn_rcpt r = {
		.final_rcpt = "bob+tag@example.net", .orcpt_type = "rfc822",
		.orcpt = "Bob+tag@example.net", .orcpt_len = 19,
		.action = MSG_DSN_FAILED, .status = &st, .last_attempt = T0 - 60,
	};
	struct mem_reader m = { original, sizeof(original) - 1, 0, 0, 0, 0 };
	struct msg_dsn d = base(&r, 1, &m);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	d.ret = RET_FULL;
	d.envid = "QQ314159";
	d.envid_len = 8;
	buf_init(&out);
	build_ok(&d, &out, &info);
	tu_golden_check("dsn_failed_full.eml", out.data, out.len);
	assert_int_equal(info.eight_bit, 0);
	assert_int_equal(info.headers_only, 0);
	assert_int_equal(info.truncated, 0);
	assert_int_equal(info.smtputf8, 0);
	/* nothing more is read than orig_max + 1 bytes */
	assert_true(m.pos <= MSG_DSN_ORIG_MAX + 1);
	buf_free(&out);
}

static void test_golden_failed_hdrs(void **state)
{
	struct dstatus remote = status(DS_PERM, 554, "5.7.1",
		"Service unavailable; Client host [198.51.100.4] blocked using "
		"zen.spamhaus.example; https://www.spamhaus.example/query/ip/"
		"198.51.100.4 for more information about this block",
		"mx2.example.com[203.0.113.9]", 1);
	struct dstatus local = status(DS_PERM, 550, "5.1.1",
		"mailbox unknown", "", 0);
	struct dstatus dns = status(DS_PERM, 0, "5.1.2",
		"Host or domain name not found. Name service error for "
		"name=nonexistent.example type=MX: Host not found", "", 0);
	struct msg_dsn_rcpt r[] = {
		{ .final_rcpt = "carol@example.com", .action = MSG_DSN_FAILED,
		  .status = &remote, .last_attempt = T0 - 30 },
		{ .final_rcpt = "nobody@example.org", .orcpt_type = "rfc822",
		  .orcpt = "postmaster@example.org", .orcpt_len = 22,
		  .action = MSG_DSN_FAILED, .status = &local,
		  .last_attempt = T0 - 20 },
		{ .final_rcpt = "dave@nonexistent.example",
		  .action = MSG_DSN_FAILED, .status = &dns,
		  .last_attempt = T0 - 10 },
		{ .final_rcpt = "j\xc3\xbcrgen@b\xc3\xbc\x63her.example",
		  .orcpt_type = "utf-8",
		  .orcpt = "J\xc3\xbcrgen@b\xc3\xbc\x63her.example",
		  .orcpt_len = strlen("J\xc3\xbcrgen@b\xc3\xbc\x63her.example"),
		  .action = MSG_DSN_FAILED, .status = NULL },
	};
	struct mem_reader m = { original, sizeof(original) - 1, 0, 7, 0, 0 };
	struct msg_dsn d = base(r, 4, &m);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	d.ret = RET_HDRS;
	buf_init(&out);
	build_ok(&d, &out, &info);
	tu_golden_check("dsn_failed_hdrs.eml", out.data, out.len);
	assert_int_equal(info.headers_only, 1);
	assert_int_equal(info.truncated, 0);
	buf_free(&out);
}

static void test_golden_delayed(void **state)
{
	struct dstatus st = status(DS_TEMP, 451, "4.7.1",
		"Greylisted, please try again in 300 seconds",
		"mx.example.net[192.0.2.25]", 1);
	struct dstatus conn = status(DS_TEMP, 0, "4.4.1",
		"connect to mx.example.com[203.0.113.9]:25: Connection timed out",
		"mx.example.com[203.0.113.9]", 0);
	struct msg_dsn_rcpt r[] = {
		{ .final_rcpt = "bob@example.net", .action = MSG_DSN_DELAYED,
		  .status = &st, .last_attempt = T0 - 120,
		  .retry_until = T0 + 5 * 86400 - 3600 },
		{ .final_rcpt = "carol@example.com", .action = MSG_DSN_DELAYED,
		  .status = &conn, .last_attempt = T0 - 100 },
	};
	struct mem_reader m = { original, sizeof(original) - 1, 0, 0, 0, 0 };
	struct msg_dsn d = base(r, 2, &m);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	d.ret = RET_FULL;	/* RET is about failures: headers only */
	d.now = T0 + 4 * 3600;
	buf_init(&out);
	build_ok(&d, &out, &info);
	tu_golden_check("dsn_delayed.eml", out.data, out.len);
	assert_int_equal(info.headers_only, 1);
	assert_int_equal(info.truncated, 0);
	buf_free(&out);
}

static void test_golden_success(void **state)
{
	struct dstatus local = status(DS_OK, 250, "2.0.0",
		"delivered to mailbox", "", 0);
	struct dstatus relay = status(DS_OK, 250, "2.0.0",
		"Ok: queued as 4TqBq1", "mx.example.net[192.0.2.25]", 1);
	struct msg_dsn_rcpt r[] = {
		{ .final_rcpt = "alice2@example.org", .action = MSG_DSN_DELIVERED,
		  .status = &local, .last_attempt = T0 },
		{ .final_rcpt = "bob@example.net", .orcpt_type = "rfc822",
		  .orcpt = "bob@example.net", .orcpt_len = 15,
		  .action = MSG_DSN_RELAYED, .status = &relay,
		  .last_attempt = T0 },
		{ .final_rcpt = "team@example.org", .action = MSG_DSN_EXPANDED,
		  .status = NULL, .last_attempt = T0 },
	};
	struct msg_dsn d = base(r, 3, NULL);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	d.envid = "env id with space";
	d.envid_len = 17;
	buf_init(&out);
	build_ok(&d, &out, &info);
	tu_golden_check("dsn_success.eml", out.data, out.len);
	assert_int_equal(info.headers_only, 0);
	assert_null(strstr(out.data, "Undelivered Message"));
	buf_free(&out);
}

static void test_golden_truncated(void **state)
{
	struct dstatus st = status(DS_PERM, 552, "5.3.4",
		"Message size exceeds fixed limit", "mx.example.net[192.0.2.25]",
		1);
	struct msg_dsn_rcpt r = {
		.final_rcpt = "bob@example.net", .action = MSG_DSN_FAILED,
		.status = &st, .last_attempt = T0,
	};
	buf_t orig, out;
	struct mem_reader m;
	struct msg_dsn d;
	struct msg_dsn_info info;
	size_t i;

	(void)state;
	buf_init(&orig);
	buf_init(&out);
	assert_int_equal(buf_puts(&orig, "Subject: caf\xc3\xa9\r\nX-Long: "), 0);
	for (i = 0; i < 1100; i++)
		assert_int_equal(buf_putc(&orig, (char)('a' + i % 26)), 0);
	assert_int_equal(buf_puts(&orig, "\r\n\r\n"), 0);
	for (i = 0; i < 50; i++)
		assert_int_equal(buf_puts(&orig, "body line \xe9\r\n"), 0);
	m = (struct mem_reader){ orig.data, orig.len, 0, 100, 0, 0 };
	d = base(&r, 1, &m);
	d.ret = RET_FULL;
	d.orig_max = 1300;
	build_ok(&d, &out, &info);
	tu_golden_check("dsn_truncated.eml", out.data, out.len);
	assert_int_equal(info.truncated, 1);
	assert_int_equal(info.headers_only, 1);
	assert_int_equal(info.eight_bit, 1);
	assert_true(m.pos <= 1301);
	/* the whole message fits when the limit allows it */
	m = (struct mem_reader){ orig.data, orig.len, 0, 0, 0, 0 };
	d.orig_max = 0;
	buf_reset(&out);
	build_ok(&d, &out, &info);
	assert_int_equal(info.truncated, 0);
	assert_int_equal(info.headers_only, 0);
	assert_non_null(strstr(out.data, "Content-Type: message/rfc822\r\n"
				       "Content-Transfer-Encoding: 8bit\r\n"));
	assert_non_null(strstr(out.data, "Content-Transfer-Encoding: 8bit\r\n\r\n"
				       "This is a MIME"));
	buf_free(&orig);
	buf_free(&out);
}

/* ---- structure and safety ---- */

static void test_injection(void **state)
{
	struct dstatus st = status(DS_PERM, 550, "5.1.1",
		"no\r\n--BOUNDARY\r\nContent-Type: text/html\r\n\r\n<b>evil</b>\n"
		"Action: delivered\x01\x7f\xff",
		"evil.example\r\nX-Injected: 1[192.0.2.1]", 1);
	struct msg_dsn_rcpt r = {
		.final_rcpt = "bob@example.net\r\nBcc: victim@example.com",
		.orcpt_type = "rfc822\r\nX-Evil", .orcpt = "a\r\nb@c",
		.orcpt_len = 6, .action = MSG_DSN_FAILED, .status = &st,
	};
	struct msg_dsn d = base(&r, 1, NULL);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	d.envid = "id\r\nX-Evil: 1";
	d.envid_len = 13;
	d.sender = "alice@example.org\r\nBcc: x@example.com";
	d.qid = "Q\r\nX: 1";
	d.hostname = "host\r\nX: 1";
	buf_init(&out);
	build_ok(&d, &out, &info);
	assert_false(line_at(&out, "--BOUNDARY"));
	assert_false(line_at(&out, "Content-Type: text/html"));
	assert_false(line_at(&out, "<b>evil"));
	assert_false(line_at(&out, "Action: delivered"));
	assert_false(line_at(&out, "X-Injected"));
	assert_false(line_at(&out, "X-Evil"));
	assert_false(line_at(&out, "X:"));
	assert_false(line_at(&out, "Bcc:"));
	assert_false(line_at(&out, " X-Evil"));
	assert_non_null(strstr(out.data, "Remote-MTA: dns; evil.example??X-Injected:?1\r\n"));
	assert_non_null(strstr(out.data, "Original-Recipient: rfc822X-Evil; a+0D+0Ab@c\r\n"));
	assert_non_null(strstr(out.data, "\\x01\\x7f\\xff"));
	buf_free(&out);
}

static void test_long_texts(void **state)
{
	struct dstatus st;
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED, .status = &st };
	struct msg_dsn d = base(&r, 1, NULL);
	struct msg_dsn_info info;
	buf_t out;
	char addr[1500];

	(void)state;
	/* one word of 511 octets, then one full of 8-bit bytes (escaped
	 * four times longer) */
	st = status(DS_PERM, 550, "5.0.0", "", "mx.example.net[192.0.2.25]", 1);
	memset(st.text, 'w', sizeof(st.text) - 1);
	buf_init(&out);
	build_ok(&d, &out, &info);
	memset(st.text, '\xff', sizeof(st.text) - 1);
	buf_reset(&out);
	build_ok(&d, &out, &info);
	/* a huge address */
	memset(addr, 'x', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	addr[700] = '@';
	r.final_rcpt = addr;
	d.sender = addr;
	buf_reset(&out);
	build_ok(&d, &out, &info);
	buf_free(&out);
}

static void test_boundary_collision(void **state)
{
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED };
	struct mem_reader m = { original, sizeof(original) - 1, 0, 0, 0, 0 };
	struct msg_dsn d = base(&r, 1, &m);
	struct msg_dsn_info info;
	char first[128], evil[1024];
	buf_t out;

	(void)state;
	d.ret = RET_FULL;
	buf_init(&out);
	build_ok(&d, &out, &info);
	snprintf(first, sizeof(first), "%s", boundary_of(&out));
	snprintf(evil, sizeof(evil), "Subject: x\r\n\r\n--%s\r\n"
		 "Content-Type: text/html\r\n\r\nforged\r\n--%s.1--\r\n",
		 first, first);
	m = (struct mem_reader){ evil, strlen(evil), 0, 0, 0, 0 };
	buf_reset(&out);
	build_ok(&d, &out, &info);
	assert_string_not_equal(boundary_of(&out), first);
	assert_string_not_equal(boundary_of(&out), "");
	assert_int_equal(strncmp(boundary_of(&out), first, strlen(first)), 0);
	/* ".1" is taken too (a line starts with it): ".2" */
	assert_string_equal(boundary_of(&out) + strlen(first), ".2");
	buf_free(&out);
}

/* build_with_chunk - the report over original with reads of chunk bytes */
static void build_with_chunk(size_t chunk, enum dsn_ret ret, buf_t *out)
{
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED };
	struct mem_reader m = { original, sizeof(original) - 1, 0, chunk, 0, 0 };
	struct msg_dsn d = base(&r, 1, &m);
	struct msg_dsn_info info;

	d.ret = ret;
	build_ok(&d, out, &info);
}

static void test_reader_chunks(void **state)
{
	buf_t a, b;
	size_t chunk;
	enum dsn_ret ret;

	(void)state;
	for (ret = RET_NONE; ret <= RET_HDRS; ret++) {
		buf_init(&a);
		build_with_chunk(0, ret, &a);
		for (chunk = 1; chunk < 40; chunk += 6) {
			buf_init(&b);
			build_with_chunk(chunk, ret, &b);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
			buf_free(&b);
		}
		buf_free(&a);
	}
}

static void test_errors(void **state)
{
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED };
	struct mem_reader m = { original, sizeof(original) - 1, 0, 10, 30, 0 };
	struct msg_dsn d = base(&r, 1, &m);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	buf_init(&out);
	assert_int_equal(buf_puts(&out, "keep"), 0);
	assert_int_equal(msg_dsn_build(&d, &out, &info), -1);	/* reader */
	assert_int_equal(out.len, 4);
	assert_string_equal(out.data, "keep");
	d = base(&r, 0, NULL);
	assert_int_equal(msg_dsn_build(&d, &out, NULL), -1);
	d = base(&r, 1, NULL);
	d.sender = "";
	assert_int_equal(msg_dsn_build(&d, &out, NULL), -1);
	d = base(&r, 1, NULL);
	d.hostname = NULL;
	assert_int_equal(msg_dsn_build(&d, &out, NULL), -1);
	d = base(&r, 1, NULL);
	r.final_rcpt = NULL;
	assert_int_equal(msg_dsn_build(&d, &out, NULL), -1);
	r.final_rcpt = "bob@example.net";
	r.action = (enum msg_dsn_action)9;
	assert_int_equal(msg_dsn_build(&d, &out, NULL), -1);
	assert_string_equal(out.data, "keep");
	r.action = MSG_DSN_FAILED;
	assert_int_equal(msg_dsn_build(&d, &out, NULL), 0);
	assert_memory_equal(out.data, "keepDate: ", 10);
	buf_free(&out);
}

/* field_of - the value of the first "name: " line in out (static) */
static const char *field_of(const buf_t *out, const char *name)
{
	static char v[1024];
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(out->data, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(v, sizeof(v), "%.*s", (int)(e - p), p);
	return v;
}

/* one_rcpt - a failure report for r alone */
static void one_rcpt(struct msg_dsn_rcpt *r, buf_t *out)
{
	struct msg_dsn d = base(r, 1, NULL);
	struct msg_dsn_info info;

	buf_reset(out);
	build_ok(&d, out, &info);
}

static void test_addresses(void **state)
{
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED };
	buf_t out;

	(void)state;
	buf_init(&out);
	/* ORCPT=rfc822;bob+2Btag@example.net was decoded on arrival */
	r.orcpt_type = "rfc822";
	r.orcpt = "bob+tag@example.net";
	r.orcpt_len = 19;
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Original-Recipient"),
			    "rfc822; bob+tag@example.net");
	assert_string_equal(field_of(&out, "Final-Recipient"),
			    "rfc822; bob@example.net");
	/* a space in it: xtext again */
	r.orcpt = "\"b b\"@example.net";
	r.orcpt_len = 17;
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Original-Recipient"),
			    "rfc822; \"b+20b\"@example.net");
	/* utf-8: RFC 6533 encoding, in both fields */
	r.orcpt_type = "UTF-8";
	r.orcpt = "\xc3\xa9=+\\@x.example";
	r.orcpt_len = 15;
	r.final_rcpt = "\xc3\xa9@x.example";
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Original-Recipient"),
			    "UTF-8; \\x{E9}\\x{3D}\\x{2B}\\x{5C}@x.example");
	assert_string_equal(field_of(&out, "Final-Recipient"),
			    "utf-8; \\x{E9}@x.example");
	/* malformed UTF-8 */
	r.final_rcpt = "\xc3(\xf0\x9f\x98\x80\xed\xa0\x80@x";
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Final-Recipient"),
			    "utf-8; \\x{FFFD}(\\x{1F600}\\x{FFFD}\\x{FFFD}\\x{FFFD}@x");
	/* no ORCPT: no field */
	r.orcpt_type = NULL;
	one_rcpt(&r, &out);
	assert_null(field_of(&out, "Original-Recipient"));
	buf_free(&out);
}

static void test_sender_utf8(void **state)
{
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED };
	struct msg_dsn d = base(&r, 1, NULL);
	struct msg_dsn_info info;
	buf_t out;

	(void)state;
	buf_init(&out);
	d.sender = "j\xc3\xbcrgen@example.org";
	assert_int_equal(msg_dsn_build(&d, &out, &info), 0);
	check_shape(&out, &info);
	assert_int_equal(info.smtputf8, 1);
	assert_string_equal(field_of(&out, "To"), "<j\xc3\xbcrgen@example.org>");
	assert_string_equal(field_of(&out, "X-Mailport-Sender"),
			    "utf-8; j\\x{FC}rgen@example.org");
	/* malformed: escaped, no SMTPUTF8 needed */
	d.sender = "j\xfcrgen@example.org";
	buf_reset(&out);
	build_ok(&d, &out, &info);
	assert_int_equal(info.smtputf8, 0);
	assert_string_equal(field_of(&out, "To"), "<j\\xfcrgen@example.org>");
	buf_free(&out);
}

static void test_status_field(void **state)
{
	struct dstatus st;
	struct msg_dsn_rcpt r = { .final_rcpt = "bob@example.net",
				  .action = MSG_DSN_FAILED, .status = &st };
	buf_t out;

	(void)state;
	buf_init(&out);
	/* a message that expired after 4xx: failed, with the 4.x.x code */
	st = status(DS_PERM, 451, "4.4.7", "timed out", "mx.example.net[192.0.2.1]", 1);
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Status"), "4.4.7");
	assert_string_equal(field_of(&out, "Diagnostic-Code"),
			    "smtp; 451 4.4.7 timed out");
	assert_string_equal(field_of(&out, "Remote-MTA"), "dns; mx.example.net");
	/* malformed enhanced codes: by action */
	st = status(DS_PERM, 550, "5.1", "x", "", 1);
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Status"), "5.0.0");
	assert_string_equal(field_of(&out, "Diagnostic-Code"), "smtp; 550 x");
	assert_null(field_of(&out, "Remote-MTA"));
	st = status(DS_PERM, 550, "5.1.1234", "", "[192.0.2.1]", 1);
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Status"), "5.0.0");
	assert_string_equal(field_of(&out, "Diagnostic-Code"), "smtp; 550");
	assert_string_equal(field_of(&out, "Remote-MTA"), "dns; [192.0.2.1]");
	/* our own reason: X-Mailport; no code in it */
	st = status(DS_PERM, 0, "5.4.6", "mail for example.net loops back to myself", "", 0);
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Status"), "5.4.6");
	assert_string_equal(field_of(&out, "Diagnostic-Code"),
			    "X-Mailport; mail for example.net loops back to myself");
	/* nothing known */
	r.status = NULL;
	r.action = MSG_DSN_DELAYED;
	one_rcpt(&r, &out);
	assert_string_equal(field_of(&out, "Status"), "4.0.0");
	assert_string_equal(field_of(&out, "Action"), "delayed");
	assert_null(field_of(&out, "Diagnostic-Code"));
	assert_null(field_of(&out, "Last-Attempt-Date"));
	assert_null(field_of(&out, "Will-Retry-Until"));
	assert_string_equal(field_of(&out, "Subject"),
			    "Delayed Mail (still being retried)");
	buf_free(&out);
}

static void test_dates(void **state)
{
	char d[32];

	(void)state;
	assert_string_equal(msg_dsn_date(d, T0), "Tue, 05 Mar 2024 10:00:00 +0000");
	assert_string_equal(msg_dsn_date(d, 0), "Thu, 01 Jan 1970 00:00:00 +0000");
	assert_string_equal(msg_dsn_date(d, -5), "Thu, 01 Jan 1970 00:00:00 +0000");
	assert_string_equal(msg_dsn_date(d, 951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
	assert_string_equal(msg_dsn_date(d, 253402300799LL),
			    "Fri, 31 Dec 9999 23:59:59 +0000");
	assert_string_equal(msg_dsn_action_name(MSG_DSN_EXPANDED), "expanded");
	assert_string_equal(msg_dsn_action_name(MSG_DSN_RELAYED), "relayed");
}

/* ---- Python's email package (tests/unit/check_dsn.py) ---- */

static void test_python_check(void **state)
{
	char script[1024];
	char *argv[] = {
		"sh", "-c",
		"/usr/bin/python3 \"$0\" \"$1\"/r*.eml >/dev/null || "
		"/usr/bin/python3 \"$0\" \"$1\"/r*.eml",
		script, tmpdir, NULL,
	};
	pid_t pid;
	int st;

	(void)state;
	tu_golden_path(script, sizeof(script), "../check_dsn.py");
	if (access("/usr/bin/python3", X_OK) != 0 || nsaved == 0) {
		print_message("python3 not found: check_dsn.py skipped\n");
		skip();
	}
	/* sh expands the glob of the saved reports; quiet unless one fails */
	assert_int_equal(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* setup - a directory for the reports the Python check reads */
static int setup(void **state)
{
	(void)state;
	return tu_tmpdir(tmpdir, sizeof(tmpdir));
}

/* teardown - remove it */
static int teardown(void **state)
{
	(void)state;
	return tu_rm_rf(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_failed_full),
		cmocka_unit_test(test_golden_failed_hdrs),
		cmocka_unit_test(test_golden_delayed),
		cmocka_unit_test(test_golden_success),
		cmocka_unit_test(test_golden_truncated),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_long_texts),
		cmocka_unit_test(test_boundary_collision),
		cmocka_unit_test(test_reader_chunks),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_sender_utf8),
		cmocka_unit_test(test_status_field),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_python_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_data - unit tests of the DATA decoder (src/smtp/data.c).
 *
 * Covers CHECKLIST.md B as far as a decoder is concerned: smuggling (only
 * <CRLF>.<CRLF> ends the data, exactly one message, the bytes after a fake
 * end stay in the message, the bytes after the real end are not consumed),
 * dot-stuffing, the empty body, long lines with bounded memory, NUL and
 * 8-bit bytes, header abuse and Received counting.  Every input is also fed
 * split at every position and byte by byte: the results must not change.
 * Literal (BDAT, RFC 3030) mode: no unstuffing, no end marker, the same
 * header events and flags as DATA, and data_dec_finish_literal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp/data.h"
#include "util/buf.h"

#define INSERT "X-Ins: 1\r\n"

/* everything one decoding run produced */
struct run {
	struct data_dec d;
	buf_t out;
	size_t consumed;
	int events;
	size_t event_at;	/* out.len when the header section ended */
	const char *insert;	/* appended at the header event, or NULL */
	int literal;		/* BDAT mode */
	int fin;		/* data_dec_finish_literal result, or -2 */
};

/* run_init_mode - fresh decoder (DATA or literal) and output */
static void run_init_mode(struct run *r, const char *insert, int literal)
{
	memset(r, 0, sizeof(*r));
	if (literal)
		data_dec_init_literal(&r->d);
	else
		data_dec_init(&r->d);
	buf_init(&r->out);
	r->event_at = (size_t)-1;
	r->insert = insert;
	r->literal = literal;
	r->fin = -2;
}

/* run_init - fresh DATA decoder and output */
static void run_init(struct run *r, const char *insert)
{
	run_init_mode(r, insert, 0);
}

/* header_event - the caller's side of a header event */
static void header_event(struct run *r)
{
	assert_true(r->d.headers_ended);
	r->events++;
	r->event_at = r->out.len;
	r->d.headers_end_event = 0;
	if (r->insert)
		assert_int_equal(buf_puts(&r->out, r->insert), 0);
}

/* feed_chunk - hand one chunk to the decoder the way a session would */
static void feed_chunk(struct run *r, const char *in, size_t n)
{
	size_t off = 0, c;

	while (off < n && !r->d.done) {
		c = data_dec_feed(&r->d, in + off, n - off, &r->out);
		assert_true(c <= n - off);
		assert_true(r->d.hold_len <= DATA_HOLD_MAX);
		off += c;
		/* literal: all consumed unless stopped at a header event */
		if (r->literal)
			assert_true(off == n || r->d.headers_end_event);
		if (r->d.headers_end_event)
			header_event(r);
		else
			assert_true(c > 0 || r->d.done);	/* no stall */
	}
	if (r->literal)
		assert_false(r->d.done);
	r->consumed += off;
}

/* run_finish - literal mode: the LAST chunk was fed */
static void run_finish(struct run *r)
{
	size_t before = r->out.len;
	unsigned long long ob = r->d.out_bytes;
	int had = r->d.headers_ended;

	r->fin = data_dec_finish_literal(&r->d, &r->out);
	assert_true(r->fin == 0 || r->fin == 1);
	assert_false(r->d.done);
	assert_int_equal(r->d.hold_len, 0);
	assert_int_equal(r->d.out_bytes - ob, r->out.len - before);
	if (r->fin) {
		assert_false(had);
		assert_true(r->d.headers_end_event);
		assert_int_equal(r->d.headers_end_blank, 0);
		header_event(r);
	} else {
		assert_false(r->d.headers_end_event);
	}
}

/* run_split - feed in[0..n) in chunks of the given sizes (0-terminated;
 * the rest in one piece) */
static void run_split(struct run *r, const char *in, size_t n,
		      const size_t *sizes)
{
	size_t off = 0, k;

	for (k = 0; sizes && sizes[k] && off < n; k++) {
		size_t m = sizes[k] < n - off ? sizes[k] : n - off;

		feed_chunk(r, in + off, m);
		off += m;
	}
	if (off < n)
		feed_chunk(r, in + off, n - off);
}

/* run_free - release the output */
static void run_free(struct run *r)
{
	buf_free(&r->out);
}

/* same_result - two runs over the same input agree on everything */
static void same_result(const struct run *a, const struct run *b)
{
	assert_int_equal(a->out.len, b->out.len);
	if (a->out.len)
		assert_memory_equal(a->out.data, b->out.data, a->out.len);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->events, b->events);
	assert_int_equal(a->event_at, b->event_at);
	assert_int_equal(a->d.done, b->d.done);
	assert_int_equal(a->d.headers_ended, b->d.headers_ended);
	assert_int_equal(a->d.headers_end_blank, b->d.headers_end_blank);
	assert_int_equal(a->d.received_count, b->d.received_count);
	assert_int_equal(a->d.saw_message_id, b->d.saw_message_id);
	assert_int_equal(a->d.saw_date, b->d.saw_date);
	assert_int_equal(a->d.saw_bare_lf, b->d.saw_bare_lf);
	assert_int_equal(a->d.saw_bare_cr, b->d.saw_bare_cr);
	assert_int_equal(a->d.saw_nul, b->d.saw_nul);
	assert_int_equal(a->d.saw_8bit, b->d.saw_8bit);
	assert_int_equal(a->d.out_bytes, b->d.out_bytes);
	assert_int_equal(a->fin, b->fin);
}

/* run_split_fin - run_split, then finish a literal run */
static void run_split_fin(struct run *r, const char *in, size_t n,
			  const size_t *sizes)
{
	run_split(r, in, n, sizes);
	if (r->literal)
		run_finish(r);
}

/* check_splits_mode - whole input vs. every two-way split, byte by byte
 * and a few pseudo-random chunkings, in DATA or literal mode */
static void check_splits_mode(const char *in, size_t n, int literal)
{
	struct run whole, part;
	size_t sizes[2] = { 0, 0 }, k, rnd[64];
	unsigned seed = 12345;
	int t;

	run_init_mode(&whole, INSERT, literal);
	run_split_fin(&whole, in, n, NULL);
	for (k = 1; k < n; k++) {
		run_init_mode(&part, INSERT, literal);
		sizes[0] = k;
		run_split_fin(&part, in, n, sizes);
		same_result(&whole, &part);
		run_free(&part);
	}
	run_init_mode(&part, INSERT, literal);
	for (k = 0; k < n; k++)
		feed_chunk(&part, in + k, 1);
	if (literal)
		run_finish(&part);
	same_result(&whole, &part);
	run_free(&part);
	for (t = 0; t < 20; t++) {
		for (k = 0; k < 63; k++) {
			seed = seed * 1103515245u + 12345u;
			rnd[k] = 1 + (seed >> 16) % 13;
		}
		rnd[63] = 0;
		run_init_mode(&part, INSERT, literal);
		run_split_fin(&part, in, n, rnd);
		same_result(&whole, &part);
		run_free(&part);
	}
	run_free(&whole);
}

/* check_splits - check_splits_mode for DATA */
static void check_splits(const char *in, size_t n)
{
	check_splits_mode(in, n, 0);
}

/* decode - run in[0..n) in one piece, without insertion */
static void decode(struct run *r, const char *in, size_t n)
{
	run_init(r, NULL);
	run_split(r, in, n, NULL);
	check_splits(in, n);
}

/* decode_lit - literal mode: run in[0..n) in one piece and finish, without
 * insertion; also check every split */
static void decode_lit(struct run *r, const char *in, size_t n)
{
	run_init_mode(r, NULL, 1);
	run_split_fin(r, in, n, NULL);
	assert_int_equal(r->consumed, n);
	check_splits_mode(in, n, 1);
}

/* expect_out - the output equals want[0..wn) */
static void expect_out(const struct run *r, const char *want, size_t wn)
{
	assert_int_equal(r->out.len, wn);
	if (wn)
		assert_memory_equal(r->out.data, want, wn);
	assert_int_equal(r->d.out_bytes, wn);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_simple(void **state)
{
	static const char in[] = "Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n";
	struct run r;

	(void)state;
	decode(&r, S(in));
	expect_out(&r, S("Subject: hi\r\n\r\nHello\r\n"));
	assert_true(r.d.done);
	assert_int_equal(r.consumed, sizeof(in) - 1 - 6);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 13);
	assert_int_equal(r.d.headers_end_blank, 1);
	assert_false(r.d.saw_bare_lf || r.d.saw_bare_cr || r.d.saw_nul ||
		     r.d.saw_8bit);
	/* after the end nothing more is consumed */
	assert_int_equal(data_dec_feed(&r.d, "x", 1, &r.out), 0);
	assert_int_equal(r.out.len, 22);
	run_free(&r);
}

static void test_insert_position(void **state)
{
	static const char in[] = "A: 1\r\nB: 2\r\n\r\nbody\r\n.\r\n";
	static const char in2[] = "A: 1\r\nbody line\r\n.\r\n";
	struct run r;

	(void)state;
	run_init(&r, INSERT);
	run_split(&r, S(in), NULL);
	assert_int_equal(r.out.len, sizeof("A: 1\r\nB: 2\r\n" INSERT
					   "\r\nbody\r\n") - 1);
	assert_memory_equal(r.out.data, "A: 1\r\nB: 2\r\n" INSERT "\r\nbody\r\n",
			    r.out.len);
	run_free(&r);

	run_init(&r, INSERT);
	run_split(&r, S(in2), NULL);
	assert_memory_equal(r.out.data, "A: 1\r\n" INSERT "body line\r\n",
			    r.out.len);
	assert_int_equal(r.d.headers_end_blank, 0);
	run_free(&r);
}

static void test_empty_body(void **state)
{
	struct run r;

	(void)state;
	/* "DATA\r\n.\r\n": the content starts at a line start */
	decode(&r, S(".\r\n"));
	expect_out(&r, "", 0);
	assert_true(r.d.done);
	assert_int_equal(r.consumed, 3);
	assert_int_equal(r.events, 1);		/* at EOD, still in headers */
	assert_int_equal(r.event_at, 0);
	assert_true(r.d.headers_ended);
	assert_int_equal(r.d.headers_end_blank, 0);
	run_free(&r);

	decode(&r, S(".\r\nMAIL FROM:<a@b>\r\n"));
	expect_out(&r, "", 0);
	assert_int_equal(r.consumed, 3);
	run_free(&r);

	/* one empty line, then the end */
	decode(&r, S("\r\n.\r\n"));
	expect_out(&r, S("\r\n"));
	assert_true(r.d.done);
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);

	/* header only, no blank line, then the end */
	decode(&r, S("Subject: x\r\n.\r\nQUIT\r\n"));
	expect_out(&r, S("Subject: x\r\n"));
	assert_int_equal(r.consumed, 15);
	assert_int_equal(r.event_at, 12);
	assert_int_equal(r.d.headers_end_blank, 0);
	run_free(&r);
}

static void test_dot_unstuffing(void **state)
{
	static const char in[] = "S: x\r\n\r\n"
				 "..x\r\n"	/* ".x" */
				 ".x\r\n"	/* "x" */
				 "..\r\n"	/* "." */
				 "...\r\n"	/* ".." */
				 "a.b\r\n"	/* untouched */
				 "a\r\n.\r\n";
	struct run r;

	(void)state;
	decode(&r, S(in));
	expect_out(&r, S("S: x\r\n\r\n.x\r\nx\r\n.\r\n..\r\na.b\r\na\r\n"));
	assert_true(r.d.done);
	assert_int_equal(r.consumed, sizeof(in) - 1);
	run_free(&r);

	/* dot-stuffed line inside the header section */
	decode(&r, S("..Foo: x\r\n.Received: y\r\n\r\n.\r\n"));
	expect_out(&r, S(".Foo: x\r\nReceived: y\r\n\r\n"));
	assert_int_equal(r.d.received_count, 1);
	run_free(&r);
}

/* one smuggling case: a fake end and what it must decode to */
struct fake {
	const char *seq;
	size_t seqlen;
	const char *want;
	size_t wantlen;
};

#define FK(a, b) { a, sizeof(a) - 1, b, sizeof(b) - 1 }

static const struct fake fakes[] = {
	FK("\n.\n", "\n.\n"),
	FK("\n.\r\n", "\n.\r\n"),
	FK("\r.\r", "\r.\r"),
	FK("\r.\n", "\r.\n"),
	FK("\r.\r\n", "\r.\r\n"),
	FK("\n.\r", "\n.\r"),
	FK("\r\n.\n", "\r\n\n"),
	FK("\r\n.\r", "\r\n\r"),
	FK("\r\n.\r\r\n", "\r\n\r\r\n"),
	FK("\r\n.\rX", "\r\n\rX"),
	FK("\n\n.\n\n", "\n\n.\n\n"),
	FK("\r\r.\r\r", "\r\r.\r\r"),
	FK("\r\n\0.\r\n", "\r\n\0.\r\n"),
	FK("\r\n.\0\r\n", "\r\n\0\r\n"),
	FK("\r\n .\r\n", "\r\n .\r\n"),
	FK("\r\n..\r\n", "\r\n.\r\n"),
	FK("\r\n.\n\r\n", "\r\n\n\r\n"),
	FK("\r\n.\r.\r\n", "\r\n\r.\r\n"),
};

static const char smuggled[] = "MAIL FROM:<x@evil>\r\nRCPT TO:<y@victim>\r\n"
			       "DATA\r\nevil\r\n";
static const char real_end[] = ".\r\nQUIT\r\n";

/* smuggle - prefix + fake + smuggled commands + real end: one message */
static void smuggle(const char *prefix, const struct fake *f)
{
	char in[512], want[512];
	size_t n = 0, wn = 0, pl = strlen(prefix);
	struct run r;

	memcpy(in, prefix, pl);
	n = pl;
	memcpy(in + n, f->seq, f->seqlen);
	n += f->seqlen;
	memcpy(in + n, smuggled, sizeof(smuggled) - 1);
	n += sizeof(smuggled) - 1;
	memcpy(in + n, real_end, sizeof(real_end) - 1);
	n += sizeof(real_end) - 1;

	memcpy(want, prefix, pl);
	wn = pl;
	memcpy(want + wn, f->want, f->wantlen);
	wn += f->wantlen;
	memcpy(want + wn, smuggled, sizeof(smuggled) - 1);
	wn += sizeof(smuggled) - 1;

	decode(&r, in, n);
	assert_true(r.d.done);
	expect_out(&r, want, wn);
	/* exactly one message: the real end, and only "QUIT\r\n" is left */
	assert_int_equal(r.consumed, n - 6);
	assert_memory_equal(in + r.consumed, "QUIT\r\n", 6);
	run_free(&r);
}

static void test_smuggling(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(fakes) / sizeof(fakes[0]); k++) {
		smuggle("Subject: t\r\n\r\nbody", &fakes[k]);
		smuggle("Subject: t\r\n\r\n", &fakes[k]);
		smuggle("Subject: t", &fakes[k]);
		smuggle("", &fakes[k]);
	}
}

static void test_smuggling_flags(void **state)
{
	struct run r;

	(void)state;
	decode(&r, S("S: 1\r\n\r\na\n.\nb\r\n.\r\n"));
	assert_true(r.d.saw_bare_lf);
	assert_false(r.d.saw_bare_cr);
	run_free(&r);
	decode(&r, S("S: 1\r\n\r\na\r.\rb\r\n.\r\n"));
	assert_false(r.d.saw_bare_lf);
	assert_true(r.d.saw_bare_cr);
	run_free(&r);
	decode(&r, S("S: 1\r\n\r\na\r\n.\rb\r\n.\r\n"));
	assert_true(r.d.saw_bare_cr);
	run_free(&r);
	decode(&r, S("S: 1\r\n\r\na\r\n.\nb\r\n.\r\n"));
	assert_true(r.d.saw_bare_lf);
	run_free(&r);
	/* CR at the very end of a chunk then LF: not bare (split tests too) */
	decode(&r, S("S: 1\r\n\r\na\r\nb\r\n.\r\n"));
	assert_false(r.d.saw_bare_lf || r.d.saw_bare_cr);
	run_free(&r);
	/* bare CR and LF in the header section */
	decode(&r, S("S: a\rb\nc\r\n\r\n.\r\n"));
	assert_true(r.d.saw_bare_lf && r.d.saw_bare_cr);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);
}

static void test_real_end_variants(void **state)
{
	struct run r;

	(void)state;
	/* a bare CR before a real CRLF . CRLF does not hide it */
	decode(&r, S("S: 1\r\n\r\nx\r\r\n.\r\nRSET\r\n"));
	assert_true(r.d.done);
	expect_out(&r, S("S: 1\r\n\r\nx\r\r\n"));
	assert_int_equal(r.consumed, 15);
	run_free(&r);
	/* remaining input after the end is left alone */
	decode(&r, S("S: 1\r\n\r\nbody\r\n.\r\nMAIL FROM:<x>\r\n"));
	assert_true(r.d.done);
	assert_int_equal(r.consumed, 17);
	run_free(&r);
	/* input that stops right before the final LF: not done */
	decode(&r, S("S: 1\r\n\r\nbody\r\n.\r"));
	assert_false(r.d.done);
	expect_out(&r, S("S: 1\r\n\r\nbody\r\n"));
	run_free(&r);
	/* EOF right after "." */
	decode(&r, S("S: 1\r\n\r\nbody\r\n."));
	assert_false(r.d.done);
	run_free(&r);
}

static void test_nul_and_8bit(void **state)
{
	static const char in[] = "S: \xc3\xa9\r\n\r\na\0b\r\n\0\r\n.\r\n";
	struct run r;

	(void)state;
	decode(&r, S(in));
	expect_out(&r, S("S: \xc3\xa9\r\n\r\na\0b\r\n\0\r\n"));
	assert_true(r.d.saw_nul);
	assert_true(r.d.saw_8bit);
	assert_false(r.d.saw_bare_lf || r.d.saw_bare_cr);
	run_free(&r);

	decode(&r, S("S: x\r\n\r\n\xff\r\n.\r\n"));
	assert_true(r.d.saw_8bit);
	assert_false(r.d.saw_nul);
	run_free(&r);
}

static void test_header_counts(void **state)
{
	static const char in[] =
		"Received: a\r\n"
		"received: b\r\n"
		"\tcontinued\r\n"
		"RECEIVED: c\r\n"
		"Message-Id: <x@y>\r\n"
		"DATE: now\r\n"
		"X-Received: no\r\n"
		"Received-SPF: no\r\n"
		"\r\n"
		"Received: body\r\n"
		"Message-ID: body\r\n"
		".\r\n";
	struct run r;

	(void)state;
	decode(&r, S(in));
	assert_int_equal(r.d.received_count, 3);
	assert_true(r.d.saw_message_id);
	assert_true(r.d.saw_date);
	assert_int_equal(r.d.headers_end_blank, 1);
	expect_out(&r, in, sizeof(in) - 1 - 3);
	run_free(&r);

	/* fields after the header section are not counted */
	decode(&r, S("Subject: x\r\nbody\r\nDate: x\r\nReceived: y\r\n.\r\n"));
	assert_int_equal(r.d.received_count, 0);
	assert_false(r.d.saw_date);
	assert_int_equal(r.d.headers_end_blank, 0);
	assert_int_equal(r.event_at, 12);
	run_free(&r);
}

static void test_many_received(void **state)
{
	buf_t in;
	struct run r;
	int k;

	(void)state;
	buf_init(&in);
	for (k = 0; k < 150; k++)
		assert_int_equal(buf_puts(&in, "Received: from x by y\r\n"), 0);
	assert_int_equal(buf_puts(&in, "\r\nbody\r\n.\r\n"), 0);
	run_init(&r, NULL);
	run_split(&r, in.data, in.len, NULL);
	assert_int_equal(r.d.received_count, 150);
	assert_true(r.d.done);
	run_free(&r);
	buf_free(&in);
}

#define TAIL ": v\r\nDate: x\r\n\r\n.\r\n"

static void test_header_end_rules(void **state)
{
	char in[300];
	struct run r;
	size_t n;

	(void)state;
	/* a line without a colon ends the header section */
	decode(&r, S("A: 1\r\nno colon here\r\nReceived: x\r\n\r\n.\r\n"));
	assert_int_equal(r.event_at, 6);
	assert_int_equal(r.d.headers_end_blank, 0);
	assert_int_equal(r.d.received_count, 0);
	run_free(&r);
	/* a space before the colon is not a field name */
	decode(&r, S("Received : x\r\nReceived: y\r\n.\r\n"));
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.received_count, 0);
	run_free(&r);
	/* empty field name */
	decode(&r, S(": x\r\n.\r\n"));
	assert_int_equal(r.event_at, 0);
	run_free(&r);
	/* a continuation first line is not a header */
	decode(&r, S(" x: y\r\nReceived: z\r\n.\r\n"));
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.received_count, 0);
	run_free(&r);
	/* 8-bit byte in a field name */
	decode(&r, S("F\xc3\xa9: y\r\nReceived: z\r\n.\r\n"));
	assert_int_equal(r.event_at, 0);
	run_free(&r);
	/* a line starting with a bare CR */
	decode(&r, S("A: 1\r\n\rReceived: x\r\n.\r\n"));
	assert_int_equal(r.event_at, 6);
	assert_int_equal(r.d.headers_end_blank, 0);
	assert_true(r.d.saw_bare_cr);
	expect_out(&r, S("A: 1\r\n\rReceived: x\r\n"));
	run_free(&r);
	/* a line starting with a bare LF */
	decode(&r, S("A: 1\r\n\nReceived: x\r\n.\r\n"));
	assert_int_equal(r.event_at, 6);
	assert_true(r.d.saw_bare_lf);
	assert_int_equal(r.d.received_count, 0);
	run_free(&r);
	/* ".\r" + other at a header line start */
	decode(&r, S("A: 1\r\n.\rB: 2\r\n.\r\n"));
	assert_int_equal(r.event_at, 6);
	expect_out(&r, S("A: 1\r\n\rB: 2\r\n"));
	assert_true(r.d.saw_bare_cr);
	run_free(&r);
	/* bare LF does not start a new header line */
	decode(&r, S("A: 1\nReceived: x\r\n\r\n.\r\n"));
	assert_int_equal(r.d.received_count, 0);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);

	/* field name of DATA_HOLD_MAX octets still counts as a header */
	memset(in, 'n', DATA_HOLD_MAX);
	n = DATA_HOLD_MAX;
	memcpy(in + n, S(TAIL));
	n += sizeof(TAIL) - 1;
	decode(&r, in, n);
	assert_true(r.d.saw_date);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);
	/* one more octet without a colon: a body line */
	memset(in, 'n', DATA_HOLD_MAX + 1);
	n = DATA_HOLD_MAX + 1;
	memcpy(in + n, S(TAIL));
	n += sizeof(TAIL) - 1;
	decode(&r, in, n);
	assert_false(r.d.saw_date);
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.headers_end_blank, 0);
	expect_out(&r, in, n - 3);
	run_free(&r);
}

static void test_long_line(void **state)
{
	const size_t chunk = 64 * 1024, total = 50u * 1024 * 1024;
	char *block = malloc(chunk);
	struct run r;
	size_t sent;

	(void)state;
	assert_non_null(block);
	memset(block, 'a', chunk);
	run_init(&r, NULL);
	/* a 50 MB line in the body */
	feed_chunk(&r, S("Subject: x\r\n\r\n"));
	buf_reset(&r.out);
	for (sent = 0; sent < total; sent += chunk) {
		feed_chunk(&r, block, chunk);
		assert_int_equal(r.out.len, chunk);	/* nothing held back */
		buf_reset(&r.out);
	}
	feed_chunk(&r, S("\r\n.\r\n"));
	assert_true(r.d.done);
	assert_int_equal(r.d.out_bytes, 14 + total + 2);
	assert_true(r.out.cap <= 2 * chunk + 256);
	run_free(&r);

	/* a 10 MB header field passes through with a bounded hold too */
	run_init(&r, NULL);
	feed_chunk(&r, S("Subject: "));
	for (sent = 0; sent < 10u * 1024 * 1024; sent += chunk) {
		feed_chunk(&r, block, chunk);
		assert_true(r.d.hold_len <= DATA_HOLD_MAX);
		buf_reset(&r.out);
	}
	feed_chunk(&r, S("\r\nDate: x\r\n\r\nbody\r\n.\r\n"));
	assert_true(r.d.done && r.d.saw_date);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);

	/* a 10 MB line of field-name bytes without a colon: a body line */
	run_init(&r, NULL);
	for (sent = 0; sent < 10u * 1024 * 1024; sent += chunk) {
		feed_chunk(&r, block, chunk);
		assert_true(r.d.hold_len <= DATA_HOLD_MAX);
	}
	assert_int_equal(r.events, 1);
	assert_int_equal(r.out.len, 10u * 1024 * 1024);
	run_free(&r);
	free(block);
}

static void test_many_continuations(void **state)
{
	buf_t in;
	struct run r;
	int k;

	(void)state;
	buf_init(&in);
	assert_int_equal(buf_puts(&in, "Subject: x\r\n"), 0);
	for (k = 0; k < 100000; k++)
		assert_int_equal(buf_puts(&in, " y\r\n"), 0);
	assert_int_equal(buf_puts(&in, "Received: z\r\n\r\n.\r\n"), 0);
	run_init(&r, NULL);
	run_split(&r, in.data, in.len, NULL);
	assert_true(r.d.done);
	assert_int_equal(r.d.received_count, 1);
	assert_int_equal(r.d.headers_end_blank, 1);
	assert_int_equal(r.event_at, in.len - 5);
	assert_int_equal(r.out.len, in.len - 3);
	run_free(&r);
	buf_free(&in);
}

static void test_lines_998_to_1001(void **state)
{
	char in[1100];
	size_t len, n;
	struct run r;

	(void)state;
	for (len = 998; len <= 1001; len++) {
		memcpy(in, "S: x\r\n\r\n", 8);
		memset(in + 8, 'L', len);
		memcpy(in + 8 + len, "\r\n.\r\n", 5);
		n = 8 + len + 5;
		run_init(&r, NULL);
		run_split(&r, in, n, NULL);
		assert_true(r.d.done);
		expect_out(&r, in, n - 3);
		run_free(&r);
	}
}

static void test_feed_edges(void **state)
{
	struct run r;
	size_t c;

	(void)state;
	run_init(&r, NULL);
	c = data_dec_feed(&r.d, "", 0, &r.out);
	assert_int_equal(c, 0);
	assert_false(r.d.done);
	feed_chunk(&r, S("A: b\r\n\r\n.\r\n"));
	assert_true(r.d.done);
	/* called again after the end: 0, nothing appended */
	c = data_dec_feed(&r.d, ".\r\n", 3, &r.out);
	assert_int_equal(c, 0);
	assert_int_equal(r.out.len, 8);
	run_free(&r);
}

static void test_split_everywhere(void **state)
{
	static const char *const ins[] = {
		"Received: a\r\nreceived: b\r\n c\r\nDate: d\r\n"
		"Message-ID: <m>\r\n\r\n..x\r\n.y\r\n\r\n.\r\nQUIT\r\n",
		"A: 1\r\n\rB\r\n.\r\n",
		"A: 1\r\n.\rB\r\n.\r\n",
		".\r\n",
		"\r\n.\r\n",
		"..\r\n.\r\n",
		".\r\r\n.\r\n",
		"A: 1\r\n.\r\n",
		"x\r\n.\r\n",
		"A:\r\n\n.\r\n.\r\n",
		"A: b\r\n\r\na\n.\nb\r.\rc\r\n.\nd\r\n.\re\r\n.\r\nX",
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++)
		check_splits(ins[k], strlen(ins[k]));
}

static void test_literal_passthrough(void **state)
{
	static const char in[] = "S: x\r\n\r\na\r\n.\r\nMAIL FROM:<x>\r\n"
				 "..\r\n.x\r\n...\r\n.\r\n";
	struct run r;

	(void)state;
	/* RFC 3030 2: BDAT content is taken as is, "." is plain data */
	decode_lit(&r, S(in));
	expect_out(&r, S(in));
	assert_false(r.d.done);
	assert_int_equal(r.consumed, sizeof(in) - 1);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 6);
	assert_int_equal(r.d.headers_end_blank, 1);
	assert_int_equal(r.fin, 0);
	run_free(&r);

	decode_lit(&r, S("\r\n.\r\n"));
	expect_out(&r, S("\r\n.\r\n"));
	assert_false(r.d.done);
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.headers_end_blank, 1);
	run_free(&r);

	decode_lit(&r, S(".."));
	expect_out(&r, S(".."));
	assert_false(r.d.done);
	assert_int_equal(r.fin, 0);
	run_free(&r);

	/* a "." line in the header section is a body line, not an end */
	decode_lit(&r, S("A: 1\r\n.\r\nB: 2\r\n"));
	expect_out(&r, S("A: 1\r\n.\r\nB: 2\r\n"));
	assert_int_equal(r.event_at, 6);
	assert_int_equal(r.d.headers_end_blank, 0);
	assert_int_equal(r.fin, 0);
	run_free(&r);

	/* ".Received:" is a (strange) field name, not "Received" */
	decode_lit(&r, S(".Received: x\r\nReceived: y\r\n\r\n"));
	assert_int_equal(r.d.received_count, 1);
	run_free(&r);
}

/* one message content without leading dots, for DATA vs. literal */
struct content {
	const char *s;
	size_t n;
};

#define CT(a) { a, sizeof(a) - 1 }

static const struct content contents[] = {
	CT(""),
	CT("\r\n"),
	CT("Subject: hi\r\n\r\nHello\r\n"),
	CT("Subject: x\r\n"),
	CT("A: 1\r\nB: 2\r\n\r\nbody\r\n"),
	CT("A: 1\r\nbody line\r\n"),
	CT("x\r\n"),
	CT("Received: a\r\nreceived: b\r\n\tcontinued\r\nRECEIVED: c\r\n"
	   "Message-Id: <x@y>\r\nDATE: now\r\nX-Received: no\r\n"
	   "Received-SPF: no\r\n\r\nReceived: body\r\nMessage-ID: body\r\n"),
	CT("Subject: x\r\nbody\r\nDate: x\r\nReceived: y\r\n"),
	CT("A: 1\r\nno colon here\r\nReceived: x\r\n\r\n"),
	CT("Received : x\r\nReceived: y\r\n"),
	CT(": x\r\n"),
	CT(" x: y\r\nReceived: z\r\n"),
	CT("F\xc3\xa9: y\r\nReceived: z\r\n"),
	CT("A: 1\r\n\rReceived: x\r\n"),
	CT("A: 1\r\n\nReceived: x\r\n"),
	CT("A: 1\nReceived: x\r\n\r\n"),
	CT("S: a\rb\nc\r\n\r\n"),
	CT("S: \xc3\xa9\r\n\r\na\0b\r\n\0\r\n"),
	CT("S: 1\r\n\r\nx\r\r\n"),
	CT("A:\r\n\n\r\n"),
	CT("A: b\r\n\r\na\n.\nb\r.\rc\r\n"),
	CT("Date: x\r\n\r\r\n"),
	CT("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	   "nnnnnnnnnnnn: v\r\nDate: x\r\n\r\n"),
	CT("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	   "nnnnnnnnnnnnn: v\r\nDate: x\r\n\r\n"),
};

static void test_literal_same_events(void **state)
{
	char in[512];
	struct run a, b;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(contents) / sizeof(contents[0]); k++) {
		const struct content *c = &contents[k];

		assert_true(c->n + 3 <= sizeof(in));
		memcpy(in, c->s, c->n);
		memcpy(in + c->n, ".\r\n", 3);
		run_init(&a, INSERT);
		run_split(&a, in, c->n + 3, NULL);
		assert_true(a.d.done);
		run_init_mode(&b, INSERT, 1);
		run_split_fin(&b, c->s, c->n, NULL);
		assert_int_equal(b.consumed, c->n);
		/* same output, same header event, same flags */
		b.consumed += 3;
		b.d.done = 1;
		b.fin = -2;
		same_result(&a, &b);
		assert_int_equal(a.events, 1);
		run_free(&a);
		run_free(&b);
		check_splits_mode(c->s, c->n, 1);
		check_splits_mode(in, c->n + 3, 0);
	}
	/* the 80-octet field name counts, the 81-octet one does not */
	run_init_mode(&b, NULL, 1);
	run_split_fin(&b, contents[23].s, contents[23].n, NULL);
	assert_true(b.d.saw_date);
	run_free(&b);
	run_init_mode(&b, NULL, 1);
	run_split_fin(&b, contents[24].s, contents[24].n, NULL);
	assert_false(b.d.saw_date);
	assert_int_equal(b.event_at, 0);
	run_free(&b);
}

static void test_literal_split_everywhere(void **state)
{
	static const struct content ins[] = {
		CT("Received: a\r\nreceived: b\r\n c\r\nDate: d\r\n"
		   "Message-ID: <m>\r\n\r\n..x\r\n.y\r\n\r\n.\r\nQUIT\r\n"),
		CT("A: 1\r\n\rB\r\n.\r\n"),
		CT("A: 1\r\n.\rB\r\n.\r\n"),
		CT(".\r\n"),
		CT("\r\n.\r\n"),
		CT(".\r\r\n.\r\n"),
		CT("A: 1\r\n"),
		CT("A: 1\r\nRecei"),
		CT("A: 1\r\nSubject: x"),
		CT("A: 1\r\n\r"),
		CT("A: 1\r\n\r\nbody\r"),
		CT("A: 1\r\n\r\nbody"),
		CT("x"),
		CT("\r"),
		CT("\n"),
		CT("\0\r\n\xff"),
		CT("A: b\r\n\r\na\n.\nb\r.\rc\r\n.\nd\r\n.\re\r\n.\r\nX"),
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++)
		check_splits_mode(ins[k].s, ins[k].n, 1);
}

static void test_literal_finish(void **state)
{
	struct run r;

	(void)state;
	/* header section ended already: 0 */
	decode_lit(&r, S("A: 1\r\n\r\nbody\r\n"));
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 6);
	expect_out(&r, S("A: 1\r\n\r\nbody\r\n"));
	run_free(&r);
	decode_lit(&r, S("A: 1\r\nbody line"));
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 6);
	run_free(&r);

	/* header section still open, at a line start: 1, fields go last */
	run_init_mode(&r, INSERT, 1);
	feed_chunk(&r, S("A: 1\r\nReceived: x\r\n"));
	assert_int_equal(r.events, 0);
	assert_false(r.d.headers_ended);
	run_finish(&r);
	assert_int_equal(r.fin, 1);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 19);
	assert_true(r.d.headers_ended);
	assert_int_equal(r.d.headers_end_blank, 0);
	assert_int_equal(r.d.received_count, 1);
	assert_int_equal(r.out.len, 19 + sizeof(INSERT) - 1);
	assert_memory_equal(r.out.data, "A: 1\r\nReceived: x\r\n" INSERT,
			    r.out.len);
	assert_int_equal(r.d.out_bytes, 19);
	run_free(&r);

	/* a held partial line without CRLF: flushed, 0, no event */
	run_init_mode(&r, NULL, 1);
	feed_chunk(&r, S("A: 1\r\nReceived"));
	assert_int_equal(r.out.len, 6);		/* "Received" held back */
	assert_int_equal(r.d.hold_len, 8);
	run_finish(&r);
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.events, 0);
	assert_false(r.d.headers_ended);
	assert_int_equal(r.d.received_count, 0);
	expect_out(&r, S("A: 1\r\nReceived"));
	run_free(&r);

	/* empty content: 1, the fields are the whole header */
	decode_lit(&r, "", 0);
	assert_int_equal(r.fin, 1);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.d.headers_end_blank, 0);
	expect_out(&r, "", 0);
	run_free(&r);

	/* a trailing '\r' at a header line start: flushed, bare, 0 */
	decode_lit(&r, S("A: 1\r\n\r"));
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.events, 0);
	assert_true(r.d.saw_bare_cr);
	expect_out(&r, S("A: 1\r\n\r"));
	run_free(&r);
	/* a trailing '\r' in the body is bare too */
	decode_lit(&r, S("A: 1\r\n\r\nb\r"));
	assert_true(r.d.saw_bare_cr);
	assert_false(r.d.saw_bare_lf);
	run_free(&r);
	/* a header field line without CRLF: 0, no event */
	decode_lit(&r, S("Subject: x"));
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.events, 0);
	expect_out(&r, S("Subject: x"));
	run_free(&r);
}

static void test_literal_bounded_hold(void **state)
{
	const size_t chunk = 64 * 1024;
	char *block = malloc(chunk);
	struct run r;
	size_t sent;

	(void)state;
	assert_non_null(block);
	memset(block, 'n', chunk);
	/* 4 MB of field-name bytes without a colon: a body line */
	run_init_mode(&r, NULL, 1);
	for (sent = 0; sent < 4u * 1024 * 1024; sent += chunk)
		feed_chunk(&r, block, chunk);	/* asserts hold_len bound */
	run_finish(&r);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.event_at, 0);
	assert_int_equal(r.fin, 0);
	assert_int_equal(r.out.len, 4u * 1024 * 1024);
	run_free(&r);
	free(block);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_insert_position),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_dot_unstuffing),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_smuggling_flags),
		cmocka_unit_test(test_real_end_variants),
		cmocka_unit_test(test_nul_and_8bit),
		cmocka_unit_test(test_header_counts),
		cmocka_unit_test(test_many_received),
		cmocka_unit_test(test_header_end_rules),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_many_continuations),
		cmocka_unit_test(test_lines_998_to_1001),
		cmocka_unit_test(test_feed_edges),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_literal_passthrough),
		cmocka_unit_test(test_literal_same_events),
		cmocka_unit_test(test_literal_split_everywhere),
		cmocka_unit_test(test_literal_finish),
		cmocka_unit_test(test_literal_bounded_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

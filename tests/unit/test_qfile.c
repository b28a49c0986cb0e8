/* test_qfile - queue file format: hostile values round-trip byte-exact,
 * no record can be split, damaged envelopes and trailers are rejected, the
 * .done parser ignores junk. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "queue/envelope.h"
#include "queue/qfile.h"
#include "util/buf.h"

#define HOSTILE "a b\r\nc+d=e\x01\x7f\xff-\t.\n.\r\n"

/* dupn - heap copy of n bytes plus a NUL */
static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* make_hostile - an envelope with hostile bytes in every string field */
static void make_hostile(struct envelope *e)
{
	static const char bin[] = "x\0y\r\n+2D =\0";
	struct env_rcpt *r;

	envelope_init(e);
	strcpy(e->qid, "0AbZz9");
	e->arrival = 1700000000;
	e->client_addr = strdup("::1 " HOSTILE);
	e->helo = strdup(HOSTILE "helo");
	e->proto = strdup("ESMTPSA" HOSTILE);
	e->sender = strdup("s" HOSTILE "@x");
	e->body = BODY_8BITMIME;
	e->smtputf8 = 1;
	e->ret = RET_HDRS;
	e->envid = dupn(bin, sizeof(bin) - 1);
	e->envid_len = sizeof(bin) - 1;
	e->auth = strdup("+auth " HOSTILE);
	r = envelope_add_rcpt(e);
	r->kind = RCPT_RELAY;
	r->addr = strdup(HOSTILE "@r");
	r->domain = strdup("d " HOSTILE);
	r->mailbox = NULL;
	r->orig = strdup("o" HOSTILE);
	r->notify = 2 | 4 | 8;
	r->orcpt_type = strdup("rfc822 " HOSTILE);
	r->orcpt = dupn(bin, sizeof(bin) - 1);
	r->orcpt_len = sizeof(bin) - 1;
	r = envelope_add_rcpt(e);
	r->kind = RCPT_LOCAL;
	r->addr = strdup("-");
	r->domain = strdup("");
	r->mailbox = strdup("-");
	r->orig = NULL;
	r->notify = 1;
	r = envelope_add_rcpt(e);
	r->addr = strdup("u@localhost");
	r->domain = strdup("localhost");
	r->mailbox = strdup("u");
	r->orig = strdup("");
	r->orcpt_type = strdup("-");
	r->orcpt = dupn("", 0);
	r->orcpt_len = 0;
}

/* same_str - NULL-aware string equality */
static void same_str(const char *a, const char *b)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_string_equal(a, b);
}

/* same_bytes - NULL-aware byte-string equality */
static void same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(al, bl);
	assert_memory_equal(a, b, al);
}

/* same_env - every field of two envelopes is equal */
static void same_env(const struct envelope *a, const struct envelope *b)
{
	size_t i;

	assert_string_equal(a->qid, b->qid);
	assert_int_equal(a->arrival, b->arrival);
	same_str(a->client_addr, b->client_addr);
	same_str(a->helo, b->helo);
	same_str(a->proto, b->proto);
	same_str(a->sender, b->sender);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->ret, b->ret);
	same_bytes(a->envid, a->envid_len, b->envid, b->envid_len);
	same_str(a->auth, b->auth);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		const struct env_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		assert_int_equal(x->kind, y->kind);
		same_str(x->addr, y->addr);
		same_str(x->domain, y->domain);
		same_str(x->mailbox, y->mailbox);
		same_str(x->orig, y->orig);
		assert_int_equal(x->notify, y->notify);
		same_str(x->orcpt_type, y->orcpt_type);
		same_bytes(x->orcpt, x->orcpt_len, y->orcpt, y->orcpt_len);
		assert_int_equal(y->done, 0);
	}
}

/* count_lines - number of LF bytes in b[0..n) */
static size_t count_lines(const char *b, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += b[i] == '\n';
	return k;
}

/* test_roundtrip - hostile values survive encode + decode byte-exact and
 * every record stays one line */
static void test_roundtrip(void **state)
{
	struct envelope a, b;
	buf_t out;
	long r;

	(void)state;
	make_hostile(&a);
	envelope_init(&b);
	buf_init(&out);
	assert_int_equal(qfile_encode_envelope(&a, &out), 0);
	/* magic + id arrival client helo proto from body smtputf8 ret envid
	 * auth + 3 rcpt + "." */
	assert_int_equal(count_lines(out.data, out.len), 1 + 11 + 3 + 1);
	assert_memory_equal(out.data, QFILE_MAGIC, strlen(QFILE_MAGIC));
	assert_null(memchr(out.data, '\r', out.len));
	/* message bytes after the envelope are not part of it */
	assert_int_equal(buf_puts(&out, ".\r\nfrom x\r\n"), 0);
	r = qfile_decode_envelope(out.data, out.len, &b);
	assert_int_equal(r, (long)out.len - 11);
	same_env(&a, &b);
	envelope_clear(&a);
	envelope_clear(&b);
	buf_free(&out);
}

/* test_minimal - optional fields absent stay absent */
static void test_minimal(void **state)
{
	struct envelope a, b;
	struct env_rcpt *r;
	buf_t out;

	(void)state;
	envelope_init(&a);
	envelope_init(&b);
	buf_init(&out);
	strcpy(a.qid, "Q1");
	a.sender = strdup("");
	r = envelope_add_rcpt(&a);
	r->addr = strdup("a@b");
	r->domain = strdup("b");
	r->mailbox = strdup("a");
	r->orig = strdup("a@b");
	assert_int_equal(qfile_encode_envelope(&a, &out), 0);
	assert_int_equal(qfile_decode_envelope(out.data, out.len, &b), (long)out.len);
	same_env(&a, &b);
	assert_null(b.helo);
	assert_null(b.envid);
	assert_null(b.auth);
	envelope_clear(&a);
	envelope_clear(&b);
	buf_free(&out);
}

/* test_encode_rejects - a bad qid is never written into a file, and
 * nothing the decoder would refuse is encoded */
static void test_encode_rejects(void **state)
{
	struct envelope a;
	buf_t out;

	(void)state;
	make_hostile(&a);
	buf_init(&out);
	buf_puts(&out, "keep");
	strcpy(a.qid, "../x");
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	assert_string_equal(out.data, "keep");
	a.qid[0] = '\0';
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	strcpy(a.qid, "Q1");
	free(a.rcpts[2].domain);
	a.rcpts[2].domain = NULL;	/* the decoder needs addr and domain */
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	a.nrcpts = 2;			/* ... and a recipient */
	a.rcpts[1].notify = 16;
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	a.rcpts[1].notify = 0;
	a.arrival = 1000000000000000000LL;
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	a.arrival = 0;
	assert_int_equal(qfile_encode_envelope(&a, &out), 0);
	out.len = 4;
	a.nrcpts = 0;
	assert_int_equal(qfile_encode_envelope(&a, &out), -1);
	assert_int_equal(out.len, 4);
	a.nrcpts = 3;
	envelope_clear(&a);
	buf_free(&out);
}

/* test_truncated - every strict prefix asks for more and leaves the
 * envelope empty */
static void test_truncated(void **state)
{
	struct envelope a, b;
	buf_t out;
	size_t n;

	(void)state;
	make_hostile(&a);
	envelope_init(&b);
	buf_init(&out);
	assert_int_equal(qfile_encode_envelope(&a, &out), 0);
	for (n = 0; n < out.len; n++) {
		char *copy = dupn(out.data, n);	/* exact size: ASan sees overreads */

		assert_int_equal(qfile_decode_envelope(copy, n, &b), 0);
		assert_int_equal(b.nrcpts, 0);
		assert_null(b.sender);
		free(copy);
	}
	envelope_clear(&a);
	buf_free(&out);
}

/* decode_str - decode a NUL-terminated text, return the result */
static long decode_str(const char *s)
{
	struct envelope e;
	long r;

	envelope_init(&e);
	r = qfile_decode_envelope(s, strlen(s), &e);
	if (r <= 0) {
		assert_int_equal(e.nrcpts, 0);
		assert_null(e.sender);
	}
	envelope_clear(&e);
	return r;
}

#define M QFILE_MAGIC
#define HEAD "id Q1\narrival 5\nfrom a@b\n"
#define RCPT "rcpt local a@b b a a@b 0 - -\n"

/* test_garbage - malformed envelopes are rejected */
static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"MAILPORT-QUEUE 2\n" HEAD RCPT ".\n",
		"X" M HEAD RCPT ".\n",
		M HEAD ".\n",				/* no recipient */
		M "id Q1\nfrom a@b\n" RCPT ".\n",	/* no arrival */
		M "id Q1\narrival 5\n" RCPT ".\n",	/* no from */
		M HEAD "from c@d\n" RCPT ".\n",		/* duplicate */
		M HEAD "id Q2\n" RCPT ".\n",
		M HEAD "bogus 1\n" RCPT ".\n",		/* unknown key */
		M HEAD "helo\n" RCPT ".\n",		/* no space */
		M "id ../x\narrival 5\nfrom a@b\n" RCPT ".\n",
		M "id Q1\narrival -5\nfrom a@b\n" RCPT ".\n",
		M "id Q1\narrival 5x\nfrom a@b\n" RCPT ".\n",
		M "id Q1\narrival 99999999999999999999\nfrom a@b\n" RCPT ".\n",
		M "id Q1\narrival 5\nfrom a+00b\n" RCPT ".\n",	/* NUL in C string */
		M "id Q1\narrival 5\nfrom a+0G\n" RCPT ".\n",	/* bad xtext */
		M "id Q1\narrival 5\nfrom a+0a\n" RCPT ".\n",	/* lowercase hex */
		M "id Q1\narrival 5\nfrom a b\n" RCPT ".\n",	/* raw space */
		M "id Q1\narrival 5\nfrom a\rb\n" RCPT ".\n",	/* raw CR */
		M HEAD "body 9bit\n" RCPT ".\n",
		M HEAD "smtputf8 2\n" RCPT ".\n",
		M HEAD "ret all\n" RCPT ".\n",
		M HEAD "rcpt local a@b b a a@b 0 -\n.\n",	/* 7 fields */
		M HEAD "rcpt local a@b b a a@b 0 - - x\n.\n",	/* 9 fields */
		M HEAD "rcpt local  a@b b a a@b 0 - -\n.\n",	/* 9 via "  " */
		M HEAD "rcpt other a@b b a a@b 0 - -\n.\n",
		M HEAD "rcpt local a@b b a a@b 16 - -\n.\n",
		M HEAD "rcpt local a@b b a a@b x - -\n.\n",
		M HEAD "rcpt local - b a a@b 0 - -\n.\n",	/* no addr */
		M HEAD "rcpt local a@b - a a@b 0 - -\n.\n",	/* no domain */
		M HEAD "rcpt local a@b b a a@b 0 - x\n.\n",	/* orcpt, no type */
		M HEAD "rcpt local a@b b a a@b 0 rfc822 -\n.\n",/* type, no orcpt */
		M HEAD "rcpt local a+00@b b a a@b 0 - -\n.\n",
		M HEAD RCPT "..\n",
		M HEAD RCPT ". \n",
	};
	size_t i;

	(void)state;
	assert_int_equal(decode_str(M HEAD RCPT ".\n"),
			 (long)strlen(M HEAD RCPT ".\n"));
	assert_int_equal(decode_str(M HEAD "rcpt local a@b b a a@b 0 utf-8 a+00b\n.\n"),
			 (long)strlen(M HEAD RCPT ".\n") + 8);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode_str(bad[i]) != -1)
			fail_msg("accepted bad envelope %zu", i);
	}
}

/* test_fuzz - mutated and random envelopes never crash the decoder and
 * anything it accepts re-encodes */
static void test_fuzz(void **state)
{
	struct envelope a, b;
	buf_t out, re;
	unsigned seed = 12345;
	int i;

	(void)state;
	make_hostile(&a);
	buf_init(&out);
	buf_init(&re);
	envelope_init(&b);
	assert_int_equal(qfile_encode_envelope(&a, &out), 0);
	for (i = 0; i < 20000; i++) {
		char *c = dupn(out.data, out.len);
		size_t n = out.len, k;
		long r;

		for (k = 0; k < 1 + (size_t)(i % 3); k++) {
			seed = seed * 1103515245u + 12345u;
			c[(seed >> 8) % n] = (char)(seed >> 16);
		}
		r = qfile_decode_envelope(c, n, &b);
		assert_true(r >= -1 && r <= (long)n);
		if (r > 0) {
			buf_reset(&re);
			assert_true(b.nrcpts > 0);
			assert_int_equal(qfile_encode_envelope(&b, &re), 0);
		}
		envelope_clear(&b);
		free(c);
	}
	envelope_clear(&a);
	buf_free(&out);
	buf_free(&re);
}

/* test_trailer - format and strict parsing of the trailer */
static void test_trailer(void **state)
{
	char t[QFILE_TRAILER_LEN + 1], c[QFILE_TRAILER_LEN + 1];

	(void)state;
	qfile_trailer(0, t);
	assert_string_equal(t, "\nMPQ-END 0000000000000000\n");
	assert_int_equal(strlen(t), QFILE_TRAILER_LEN);
	assert_int_equal(qfile_check_trailer(t, QFILE_TRAILER_LEN), 0);
	qfile_trailer(0x123456789abcdefull, t);
	assert_string_equal(t, "\nMPQ-END 0123456789abcdef\n");
	assert_int_equal(qfile_check_trailer(t, QFILE_TRAILER_LEN),
			 0x123456789abcdefll);
	assert_int_equal(qfile_check_trailer(t, QFILE_TRAILER_LEN - 1), -1);
	assert_int_equal(qfile_check_trailer(t + 1, QFILE_TRAILER_LEN - 1), -1);
	memcpy(c, t, sizeof(c));
	c[12] = 'A';
	assert_int_equal(qfile_check_trailer(c, QFILE_TRAILER_LEN), -1);
	memcpy(c, t, sizeof(c));
	c[QFILE_TRAILER_LEN - 1] = 'x';
	assert_int_equal(qfile_check_trailer(c, QFILE_TRAILER_LEN), -1);
	memcpy(c, t, sizeof(c));
	c[0] = 'x';
	assert_int_equal(qfile_check_trailer(c, QFILE_TRAILER_LEN), -1);
	qfile_trailer(~0ull, t);
	assert_int_equal(qfile_check_trailer(t, QFILE_TRAILER_LEN), -1);
	assert_int_equal(qfile_check_trailer("garbage", 7), -1);
}

/* test_done - indexes mark recipients; junk and torn lines are ignored */
static void test_done(void **state)
{
	static const char d[] = "0\n\nx\n-1\n 2\n7\n99999999999999999999999\n"
				"18446744073709551619\n2\n1";
	struct envelope e;
	int i;

	(void)state;
	envelope_init(&e);
	for (i = 0; i < 4; i++)
		assert_non_null(envelope_add_rcpt(&e));
	qfile_decode_done(d, sizeof(d) - 1, &e);
	assert_int_equal(e.rcpts[0].done, 1);
	assert_int_equal(e.rcpts[1].done, 0);	/* torn last line */
	assert_int_equal(e.rcpts[2].done, 1);
	/* 20 digits: ignored, never wrapped around to 3 */
	assert_int_equal(e.rcpts[3].done, 0);
	qfile_decode_done("", 0, &e);
	envelope_clear(&e);
}

/* test_status_roundtrip - sent, failed and deferred records come back as
 * written; hostile reply text stays one record; the last record wins */
static void test_status_roundtrip(void **state)
{
	struct envelope e, d;
	buf_t b;
	size_t i;

	(void)state;
	envelope_init(&e);
	envelope_init(&d);
	for (i = 0; i < 3; i++) {
		assert_non_null(envelope_add_rcpt(&e));
		assert_non_null(envelope_add_rcpt(&d));
	}
	e.rcpts[0].done = 1;
	e.rcpts[0].last.cls = DS_OK;
	e.rcpts[0].last.code = 250;
	strcpy(e.rcpts[0].last.enh, "2.0.0");
	strcpy(e.rcpts[0].last.remote, "mx.example.net[192.0.2.1]");
	strcpy(e.rcpts[0].last.text, "Ok: queued as ABC");
	e.rcpts[1].done = 1;
	e.rcpts[1].last.cls = DS_PERM;
	e.rcpts[1].last.code = 550;
	strcpy(e.rcpts[1].last.enh, "5.1.1");
	strcpy(e.rcpts[1].last.text, "no such user\n2 sent 250 - - -\r\nhold 1 \x01");
	e.rcpts[2].attempts = 3;
	e.rcpts[2].next_try = 1800000000;
	e.rcpts[2].first_fail = 1799990000;
	e.rcpts[2].delay_notified = 1;
	e.rcpts[2].last.cls = DS_TEMP;
	e.rcpts[2].last.code = 451;
	strcpy(e.rcpts[2].last.enh, "4.3.0");
	buf_init(&b);
	assert_int_equal(qfile_encode_status(&e, 2, &b), 0);	/* superseded below */
	e.rcpts[2].attempts = 4;
	for (i = 0; i < 3; i++)
		assert_int_equal(qfile_encode_status(&e, i, &b), 0);
	assert_int_equal(qfile_encode_hold(1, &b), 0);
	assert_int_equal(qfile_encode_hold(0, &b), 0);
	assert_int_equal(qfile_encode_hold(1, &b), 0);
	assert_null(memchr(b.data, '\r', b.len));
	assert_int_equal(b.data[b.len - 1], '\n');
	qfile_decode_done(b.data, b.len, &d);
	assert_int_equal(d.hold, 1);
	for (i = 0; i < 3; i++) {
		const struct env_rcpt *x = &e.rcpts[i], *y = &d.rcpts[i];

		assert_int_equal(y->done, x->done);
		assert_int_equal(y->last.cls, x->last.cls);
		assert_int_equal(y->last.code, x->last.code);
		assert_string_equal(y->last.enh, x->last.enh);
		assert_string_equal(y->last.remote, x->last.remote);
		assert_string_equal(y->last.text, x->last.text);
		assert_int_equal(y->attempts, x->attempts);
		assert_true(y->next_try == x->next_try);
		assert_true(y->first_fail == x->first_fail);
		assert_int_equal(y->delay_notified, x->delay_notified);
	}
	buf_free(&b);
	envelope_clear(&e);
	envelope_clear(&d);
}

/* test_status_junk - malformed status records change nothing; a format-1
 * index after a deferred record marks the recipient done */
static void test_status_junk(void **state)
{
	static const char d[] = "0 deferred 1 2 3 1 451 - - -\n"
				"0 deferred x 2 3 1 451 - - -\n"	/* bad number */
				"0 deferred 1 2 3 2 451 - - -\n"	/* notified 0/1 */
				"0 sent 250 - -\n"			/* a field short */
				"0 bogus 250 - - -\n"
				"1 failed 550 5.1.1 - bad+0Aline\n"
				"1 deferred 1 2 3 0 4510 - - -\n"	/* code > 999 */
				"hold 2\nhold\n"
				"2 deferred 1 2 3 0 451 - - -\n2\n";
	struct envelope e;
	int i;

	(void)state;
	envelope_init(&e);
	for (i = 0; i < 3; i++)
		assert_non_null(envelope_add_rcpt(&e));
	qfile_decode_done(d, sizeof(d) - 1, &e);
	assert_int_equal(e.rcpts[0].done, 0);
	assert_int_equal(e.rcpts[0].attempts, 1);
	assert_int_equal(e.rcpts[0].last.code, 451);
	assert_int_equal(e.rcpts[1].done, 1);
	assert_int_equal(e.rcpts[1].last.cls, DS_PERM);
	assert_string_equal(e.rcpts[1].last.text, "bad\nline");
	assert_int_equal(e.rcpts[2].done, 1);
	assert_int_equal(e.hold, 0);
	envelope_clear(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_trailer),
		cmocka_unit_test(test_done),
		cmocka_unit_test(test_status_roundtrip),
		cmocka_unit_test(test_status_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

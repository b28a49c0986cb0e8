/* test_msg_outbound - unit tests of src/msg/outbound.c.
 *
 * The encoder to DATA form as sendmail uses it (moved here from
 * test_sendmail_parse.c): line ends, dot-stuffing, the "." line with and
 * without -i, binary bytes, a long line; every input fed whole, split at
 * every position and byte by byte.  The stored-message path (CHECKLIST H
 * "Outbound sanitising"): bare CR and bare LF become CRLF, smuggling
 * payloads ("<LF>.<CR><LF>", "<CR>.<CR>", ...) cannot end the data early,
 * and a randomized check that feeds the DATA output to the server's own
 * DATA decoder (src/smtp/data.c): it must end exactly at the final dot and
 * give back the canonical form of the input.  BDAT mode.  The 8BITMIME
 * scan and its verdicts (text, multipart, message/..., base64 label, 8-bit
 * headers, oversized header section, comments and case in the fields), and
 * the quoted-printable downconversion: golden files (tests/unit/golden/
 * qp_*.in -> qp_*.out) and a randomized round trip through a QP decoder
 * written here (line length, 7-bit output, same text back).
 *
 * Golden files hold LF line ends; the test checks that the output has CRLF
 * line ends only, then compares it with the file's lines.  Set
 * MAILPORT_GOLDEN_UPDATE=1 to rewrite them, MAILPORT_GOLDEN_DIR to find
 * them when not run from the top of the source tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg/outbound.h"
#include "smtp/data.h"
#include "testutil.h"
#include "util/buf.h"

/* ---- helpers ---- */

/* encode - run msg_out over in, split into pieces of step bytes (0:
 * whole); the output (malloc'ed, *olen bytes) and the input bytes used */
static char *encode(const char *in, size_t len, enum msg_out_mode mode,
		    unsigned flags, size_t step, size_t *used_total,
		    size_t *olen, int *eight_bit)
{
	struct msg_out o;
	buf_t out;
	size_t pos = 0;

	msg_out_init(&o, mode, flags);
	buf_init(&out);
	while (pos < len && !o.done) {
		size_t n = step && len - pos > step ? step : len - pos;
		size_t used = 0;

		assert_int_equal(msg_out_feed(&o, in + pos, n, &out, &used), 0);
		assert_true(used == n || o.done);
		pos += used;
	}
	if (used_total)
		*used_total = pos;
	assert_int_equal(msg_out_finish(&o, &out), 0);
	assert_true(o.done);
	if (eight_bit)
		*eight_bit = o.eight_bit;
	msg_out_free(&o);
	if (olen)
		*olen = out.len;
	if (!out.data)
		return strdup("");
	return buf_steal(&out);
}

/* convert - DATA form as sendmail makes it: the output as a C string */
static char *convert(const char *in, size_t len, int dot_ends, size_t step,
		     size_t *used_total)
{
	return encode(in, len, MSG_OUT_DATA, dot_ends ? MSG_OUT_DOT_ENDS : 0,
		      step, used_total, NULL, NULL);
}

/* check_conv - in converts to want, whole and split everywhere */
static void check_conv(const char *in, int dot_ends, const char *want)
{
	size_t len = strlen(in), step, used;
	char *got;

	for (step = 0; step <= len + 1; step++) {
		got = convert(in, len, dot_ends, step, &used);
		assert_string_equal(got, want);
		free(got);
	}
}

/* check_mode - in[0..len) encodes to want[0..wlen) in mode/flags, whole
 * and split everywhere */
static void check_mode(const char *in, size_t len, enum msg_out_mode mode,
		       unsigned flags, const char *want, size_t wlen)
{
	size_t step, olen;
	char *got;

	for (step = 0; step <= len + 1; step++) {
		got = encode(in, len, mode, flags, step, NULL, &olen, NULL);
		assert_int_equal(olen, wlen);
		assert_memory_equal(got, want, wlen);
		free(got);
	}
}

/* check_str - check_mode for C strings */
static void check_str(const char *in, enum msg_out_mode mode, unsigned flags,
		      const char *want)
{
	check_mode(in, strlen(in), mode, flags, want, strlen(want));
}

/* ---- DATA form as sendmail uses it (moved from test_sendmail_parse) ---- */

static void test_enc_line_ends(void **state)
{
	(void)state;
	check_conv("a\nb\n", 0, "a\r\nb\r\n.\r\n");
	check_conv("a\r\nb\r\n", 0, "a\r\nb\r\n.\r\n");
	check_conv("a\r\nb\nc", 0, "a\r\nb\r\nc\r\n.\r\n");
	check_conv("", 0, ".\r\n");
	check_conv("\n", 0, "\r\n.\r\n");
	check_conv("\n\n", 1, "\r\n\r\n.\r\n");
	/* a lone CR ends a line too: no bare CR goes out (RFC 5321 2.3.8;
	 * sendmail used to send it as data) */
	check_conv("a\rb\n", 0, "a\r\nb\r\n.\r\n");
	check_conv("a\r\r\n", 0, "a\r\n\r\n.\r\n");
	/* ... but it does not start an input line: "\r." is no "." line */
	check_conv("\r.\r\n", 1, "\r\n..\r\n.\r\n");
	/* a CR at the very end of the input ends the line */
	check_conv("a\r", 0, "a\r\n.\r\n");
}

static void test_enc_dot_stuffing(void **state)
{
	(void)state;
	/* RFC 5321 4.5.2 */
	check_conv(".hidden\n", 0, "..hidden\r\n.\r\n");
	check_conv("..\n", 0, "...\r\n.\r\n");
	check_conv("a\n.b\n.\n", 0, "a\r\n..b\r\n..\r\n.\r\n");
	check_conv(".\r\n", 0, "..\r\n.\r\n");
	check_conv(".\rx\n", 0, "..\r\nx\r\n.\r\n");
	check_conv(".", 0, "..\r\n.\r\n");
	check_conv("a.\n", 0, "a.\r\n.\r\n");
	check_conv("\r\n.\n", 0, "\r\n..\r\n.\r\n");
	/* a '.' after a lone CR starts an output line: stuffed */
	check_conv("a\r.b\n", 0, "a\r\n..b\r\n.\r\n");
	check_conv("a\r.b\n", 1, "a\r\n..b\r\n.\r\n");
}

static void test_enc_dot_ends(void **state)
{
	const char in[] = "a\n.\nafter\n";
	size_t used;
	char *got;

	(void)state;
	check_conv("a\n.\nafter\n", 1, "a\r\n.\r\n");
	check_conv("a\r\n.\r\nafter\r\n", 1, "a\r\n.\r\n");
	check_conv(".\n", 1, ".\r\n");
	check_conv("a\n.", 1, "a\r\n.\r\n");
	check_conv("a\n.\r", 1, "a\r\n.\r\n");
	/* only a line of just "." */
	check_conv("a\n. \n.x\n..\n", 1, "a\r\n.. \r\n..x\r\n...\r\n.\r\n");
	check_conv("a\n.\r\r\n", 1, "a\r\n..\r\n\r\n.\r\n");
	check_conv("a\n.\rb\n.\n", 1, "a\r\n..\r\nb\r\n.\r\n");
	/* the bytes after the "." line are not used */
	got = convert(in, sizeof(in) - 1, 1, 0, &used);
	assert_int_equal(used, 4);
	free(got);
	got = convert(in, sizeof(in) - 1, 1, 1, &used);
	assert_int_equal(used, 4);
	free(got);
	/* without DOT_ENDS every byte is used */
	got = convert(in, sizeof(in) - 1, 0, 1, &used);
	assert_int_equal(used, sizeof(in) - 1);
	assert_string_equal(got, "a\r\n..\r\nafter\r\n.\r\n");
	free(got);
}

static void test_enc_binary(void **state)
{
	const char in[] = "\xc3\xa9t\xc3\xa9\n\0nul\n";
	const char want[] = "\xc3\xa9t\xc3\xa9\r\n\0nul\r\n.\r\n";
	struct msg_out e;
	buf_t out;
	size_t used;

	(void)state;
	msg_out_init(&e, MSG_OUT_DATA, MSG_OUT_DOT_ENDS);
	buf_init(&out);
	assert_int_equal(msg_out_feed(&e, in, sizeof(in) - 1, &out, &used), 0);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(msg_out_finish(&e, &out), 0);
	assert_int_equal(out.len, sizeof(want) - 1);
	assert_memory_equal(out.data, want, out.len);
	assert_int_equal(e.eight_bit, 1);
	msg_out_free(&e);
	buf_free(&out);

	msg_out_init(&e, MSG_OUT_DATA, MSG_OUT_DOT_ENDS);
	buf_init(&out);
	assert_int_equal(msg_out_feed(&e, "plain\n", 6, &out, &used), 0);
	assert_int_equal(e.eight_bit, 0);
	msg_out_free(&e);
	buf_free(&out);
}

static void test_enc_long_line(void **state)
{
	size_t len = 100000, used;
	char *in = malloc(len + 1), *got;

	(void)state;
	assert_non_null(in);
	memset(in, 'y', len);
	in[0] = '.';
	in[len] = '\0';
	got = convert(in, len, 1, 4096, &used);
	assert_int_equal(used, len);
	assert_int_equal(strlen(got), len + 1 + 2 + 3);
	assert_memory_equal(got, "..yy", 4);
	assert_string_equal(got + len + 1, "\r\n.\r\n");
	free(got);
	free(in);
}

/* ---- stored messages: sanitising for relay (CHECKLIST H) ---- */

static void test_out_smuggling(void **state)
{
	/* the classic payloads, as a lenient server may have stored them */
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "a\r\n\n.\r\nMAIL FROM:<x>\r\n",
		  "a\r\n\r\n..\r\nMAIL FROM:<x>\r\n.\r\n" },
		{ "a\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "a\r\n.\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "a\r.\rb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "a\r\n.\r.\r\n", "a\r\n..\r\n..\r\n.\r\n" },
		{ "a\n.\n", "a\r\n..\r\n.\r\n" },
		{ "x\r\n\r.\r\n", "x\r\n\r\n..\r\n.\r\n" },
		{ "\n.\r\n", "\r\n..\r\n.\r\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_str(cases[i].in, MSG_OUT_DATA, 0, cases[i].want);
}

static void test_out_bdat(void **state)
{
	(void)state;
	/* no stuffing, no final dot; line ends still made CRLF */
	check_str(".a\n.\r\nb\rc", MSG_OUT_BDAT, 0,
		  ".a\r\n.\r\nb\r\nc\r\n");
	check_str("", MSG_OUT_BDAT, 0, "");
	check_str("a\r\n", MSG_OUT_BDAT, 0, "a\r\n");
	/* DOT_ENDS means nothing for BDAT */
	check_str("a\n.\nb", MSG_OUT_BDAT, MSG_OUT_DOT_ENDS,
		  "a\r\n.\r\nb\r\n");
}

/* canonical - the reference: CRLF, lone CR, lone LF each one line end,
 * the last line closed */
static void canonical(const char *in, size_t len, buf_t *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			assert_int_equal(buf_append(out, "\r\n", 2), 0);
		} else {
			assert_int_equal(buf_putc(out, in[i]), 0);
		}
	}
	if (len > 0 && in[len - 1] != '\r' && in[len - 1] != '\n')
		assert_int_equal(buf_append(out, "\r\n", 2), 0);
}

/* unstuff - the server's DATA decoder over p[0..len): it must end at the
 * very end; the message it gives */
static void unstuff(const char *p, size_t len, buf_t *out)
{
	struct data_dec d;
	size_t pos = 0;
	int idle = 0;

	data_dec_init(&d);
	while (pos < len && !d.done) {
		size_t k = data_dec_feed(&d, p + pos, len - pos, out);

		d.headers_end_event = 0;
		pos += k;
		idle = k == 0 ? idle + 1 : 0;
		assert_true(idle < 3);
	}
	assert_true(d.done);
	assert_int_equal(pos, len);
}

/* xorshift - a small deterministic PRNG */
static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_out_random_roundtrip(void **state)
{
	static const char alphabet[] = "\r\n.a \x80";
	uint32_t seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 3000; round++) {
		char in[40];
		size_t len = xorshift(&seed) % sizeof(in), i, olen, blen;
		size_t step = xorshift(&seed) % 5;
		buf_t want, back;
		char *got, *bdat;

		for (i = 0; i < len; i++)
			in[i] = alphabet[xorshift(&seed) % (sizeof(alphabet) - 1)];
		got = encode(in, len, MSG_OUT_DATA, 0, step, NULL, &olen, NULL);
		tu_assert_crlf_only(got, olen);
		buf_init(&want);
		buf_init(&back);
		canonical(in, len, &want);
		unstuff(got, olen, &back);
		assert_int_equal(back.len, want.len);
		if (want.len)
			assert_memory_equal(back.data, want.data, want.len);
		/* BDAT sends the same message, unstuffed */
		bdat = encode(in, len, MSG_OUT_BDAT, 0, step, NULL, &blen, NULL);
		assert_int_equal(blen, want.len);
		if (blen)
			assert_memory_equal(bdat, want.data, blen);
		free(bdat);
		free(got);
		buf_free(&want);
		buf_free(&back);
	}
}

static void test_out_eight_bit(void **state)
{
	int eight;
	char *got;

	(void)state;
	got = encode("Subject: x\r\n\r\n\xe9t\xe9\r\n", 19, MSG_OUT_DATA, 0, 0,
		     NULL, NULL, &eight);
	assert_int_equal(eight, 1);
	free(got);
	got = encode("Subject: x\r\n\r\nete\r\n", 19, MSG_OUT_BDAT, 0, 3, NULL,
		     NULL, &eight);
	assert_int_equal(eight, 0);
	free(got);
}

/* ---- the 8BITMIME scan ---- */

/* scan - scan text, split in pieces of step bytes; the verdict */
static enum msg_8bit scan(const char *text, size_t step, struct msg_scan *s)
{
	size_t len = strlen(text), pos = 0;
	enum msg_8bit v;

	msg_scan_init(s);
	while (pos < len) {
		size_t n = step && len - pos > step ? step : len - pos;

		assert_int_equal(msg_scan_feed(s, text + pos, n), 0);
		pos += n;
	}
	assert_int_equal(msg_scan_finish(s), 0);
	v = msg_scan_verdict(s);
	msg_scan_free(s);
	return v;
}

/* verdict - the same verdict whole, split and byte by byte */
static enum msg_8bit verdict(const char *text)
{
	struct msg_scan s;
	enum msg_8bit v = scan(text, 0, &s);

	assert_int_equal(scan(text, 1, &s), v);
	assert_int_equal(scan(text, 7, &s), v);
	return v;
}

static void test_scan_verdicts(void **state)
{
	(void)state;
	assert_int_equal(verdict("Subject: a\r\n\r\nplain\r\n"), MSG_8BIT_NONE);
	assert_int_equal(verdict(""), MSG_8BIT_NONE);
	assert_int_equal(verdict("Subject: a\r\n\r\n\xe9t\xe9\r\n"), MSG_8BIT_QP);
	assert_int_equal(verdict("Content-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n"
				 "\xc3\xa9\r\n"), MSG_8BIT_QP);
	assert_int_equal(verdict("Content-Type: application/octet-stream\r\n"
				 "\r\n\xff\r\n"), MSG_8BIT_QP);
	assert_int_equal(verdict("Content-Transfer-Encoding: binary\r\n\r\n"
				 "\xff\r\n"), MSG_8BIT_QP);
	/* composite types cannot be converted without walking the parts */
	assert_int_equal(verdict("MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
				 " boundary=x\r\n\r\n--x\r\n\r\n\xe9\r\n--x--\r\n"),
			 MSG_8BIT_CANNOT);
	assert_int_equal(verdict("Content-Type: message/rfc822\r\n\r\n"
				 "Subject: \xe9\r\n\r\nb\r\n"), MSG_8BIT_CANNOT);
	assert_int_equal(verdict("Content-Type: (comment) MULTIPART/Mixed;\r\n"
				 "\tboundary=x\r\n\r\n\xe9\r\n"), MSG_8BIT_CANNOT);
	/* but a 7-bit multipart needs nothing */
	assert_int_equal(verdict("Content-Type: multipart/mixed; boundary=x\r\n"
				 "\r\n--x--\r\n"), MSG_8BIT_NONE);
	/* two Content-Type fields: the composite one wins */
	assert_int_equal(verdict("Content-Type: text/plain\r\n"
				 "Content-Type: multipart/mixed\r\n\r\n\xe9\r\n"),
			 MSG_8BIT_CANNOT);
	/* encoded already, yet 8-bit: broken, not converted */
	assert_int_equal(verdict("Content-Transfer-Encoding: base64\r\n\r\n"
				 "\xe9\r\n"), MSG_8BIT_CANNOT);
	assert_int_equal(verdict("Content-Transfer-Encoding: Quoted-Printable\r\n"
				 "\r\n\xe9\r\n"), MSG_8BIT_CANNOT);
	assert_int_equal(verdict("Content-Transfer-Encoding: x-uuencode\r\n"
				 "\r\n\xe9\r\n"), MSG_8BIT_CANNOT);
}

static void test_scan_fields(void **state)
{
	struct msg_scan s;

	(void)state;
	/* 8-bit only in the header section: nothing to convert */
	assert_int_equal(scan("Subject: \xe9\r\n\r\nbody\r\n", 0, &s),
			 MSG_8BIT_NONE);
	assert_int_equal(s.hdr_8bit, 1);
	assert_int_equal(s.body_8bit, 0);
	/* the body starts without the empty line */
	assert_int_equal(scan("Subject: a\r\n\xe9t\xe9\r\n", 0, &s), MSG_8BIT_QP);
	assert_int_equal(s.hdr_8bit, 0);
	/* lenient line ends count as line ends */
	assert_int_equal(scan("Subject: a\n\n\xe9\n", 1, &s), MSG_8BIT_QP);
	assert_int_equal(scan("Subject: a\r\rX-B: \xe9\r", 1, &s), MSG_8BIT_QP);
	assert_int_equal(s.hdr_8bit, 0);
	/* only a header section */
	assert_int_equal(scan("Subject: \xe9", 2, &s), MSG_8BIT_NONE);
	assert_int_equal(s.hdr_8bit, 1);
	/* what the fields say */
	scan("MIME-Version: 1.0\r\nContent-Type: Text/Plain\r\n"
	     "Content-Transfer-Encoding: 8BIT (x)\r\n\r\n", 3, &s);
	assert_int_equal(s.mime_version, 1);
	assert_int_equal(s.ctype, MSG_CT_TEXT);
	assert_int_equal(s.cte, MSG_CTE_8BIT);
	scan("Content-Type: ;\r\n\r\n", 0, &s);
	assert_int_equal(s.ctype, MSG_CT_NONE);
	assert_int_equal(s.cte, MSG_CTE_NONE);
	assert_int_equal(s.mime_version, 0);
	/* a field name continued on the next line is no field of the body */
	scan("X: 1\r\n Content-Type: multipart/x\r\n\r\n", 0, &s);
	assert_int_equal(s.ctype, MSG_CT_NONE);
}

static void test_scan_header_too_big(void **state)
{
	struct msg_scan s;
	size_t n = MSG_HDR_MAX + 100, i;
	char *big = malloc(n + 32);

	(void)state;
	assert_non_null(big);
	memcpy(big, "X-Long: ", 8);
	for (i = 8; i < n; i++)
		big[i] = (i % 70 == 0) ? '\n' : (i % 70 == 1 ? ' ' : 'x');
	strcpy(big + n, "\r\n\r\n\xe9\r\n");
	assert_int_equal(scan(big, 4096, &s), MSG_8BIT_CANNOT);
	assert_int_equal(s.hdr_too_big, 1);
	big[n + 4] = 'e';	/* 7-bit: nothing to do anyway */
	assert_int_equal(scan(big, 4096, &s), MSG_8BIT_NONE);
	free(big);
}

/* ---- quoted-printable downconversion ---- */

/* qp_golden - tests/unit/golden/<name>.in in QP mode (DATA) gives
 * <name>.out, whole and in pieces */
static void qp_golden(const char *name)
{
	char path[1024], file[256];
	size_t len, olen, step;
	char *in, *got;

	snprintf(file, sizeof(file), "%s.in", name);
	in = tu_slurp(tu_golden_path(path, sizeof(path), file), &len);
	snprintf(file, sizeof(file), "%s.out", name);
	got = encode(in, len, MSG_OUT_DATA, MSG_OUT_QP, 0, NULL, &olen, NULL);
	tu_golden_check(file, got, olen);
	for (step = 1; step < 20; step += 3) {
		size_t n;
		char *again = encode(in, len, MSG_OUT_DATA, MSG_OUT_QP, step,
				     NULL, &n, NULL);

		assert_int_equal(n, olen);
		assert_memory_equal(again, got, olen);
		free(again);
	}
	free(got);
	free(in);
}

static void test_qp_golden(void **state)
{
	(void)state;
	qp_golden("qp_text");
	qp_golden("qp_nomime");
}

static void test_qp_header(void **state)
{
	const char in[] = "Subject: x\r\nContent-Transfer-Encoding:\r\n 8bit\r\n"
			  "MIME-Version: 1.0\r\ncontent-type: text/plain\r\n"
			  "content-transfer-encoding: 8bit\r\n\r\n\xe9\r\n";
	const char want[] = "Subject: x\r\nMIME-Version: 1.0\r\n"
			    "content-type: text/plain\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "\r\n=E9\r\n.\r\n";
	const char nobody[] = "Subject: \xe9";
	const char nobody_want[] = "Subject: \xe9\r\nMIME-Version: 1.0\r\n"
				   "Content-Type: text/plain; charset=unknown-8bit\r\n"
				   "Content-Transfer-Encoding: quoted-printable\r\n"
				   "\r\n";
	const char noblank[] = "Subject: x\r\n.\xe9\r\n";
	const char noblank_want[] = "Subject: x\r\nMIME-Version: 1.0\r\n"
				    "Content-Type: text/plain; charset=unknown-8bit\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n"
				    "\r\n..=E9\r\n.\r\n";

	(void)state;
	check_mode(in, sizeof(in) - 1, MSG_OUT_DATA, MSG_OUT_QP, want,
		   sizeof(want) - 1);
	check_mode(nobody, sizeof(nobody) - 1, MSG_OUT_BDAT, MSG_OUT_QP,
		   nobody_want, sizeof(nobody_want) - 1);
	/* the body started without the empty line: one is put in */
	check_mode(noblank, sizeof(noblank) - 1, MSG_OUT_DATA, MSG_OUT_QP,
		   noblank_want, sizeof(noblank_want) - 1);
}

static void test_qp_header_too_big(void **state)
{
	struct msg_out o;
	buf_t out;
	char chunk[1024];
	size_t total = 0;
	int r = 0;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "X-A: ", 5);
	chunk[sizeof(chunk) - 1] = '\n';
	msg_out_init(&o, MSG_OUT_DATA, MSG_OUT_QP);
	buf_init(&out);
	while (r == 0 && total <= MSG_HDR_MAX + sizeof(chunk)) {
		r = msg_out_feed(&o, chunk, sizeof(chunk), &out, NULL);
		total += sizeof(chunk);
	}
	assert_int_equal(r, -1);
	assert_int_equal(o.hdr_too_big, 1);
	assert_int_equal(out.len, 0);
	msg_out_free(&o);
	buf_free(&out);
}

/* hexval - a QP hex digit's value, -1 if none (uppercase only) */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* qp_decode - decode a canonical QP body (RFC 2045 6.7) into out,
 * checking the encoder's rules on the way */
static void qp_decode(const char *p, size_t n, buf_t *out)
{
	size_t i = 0;

	while (i < n) {
		const char *crlf = memchr(p + i, '\n', n - i);
		size_t len, j;

		assert_non_null(crlf);
		len = (size_t)(crlf - (p + i)) - 1;	/* without CRLF */
		assert_true(len <= 76);
		for (j = 0; j < len; j++) {
			unsigned char c = (unsigned char)p[i + j];

			assert_true(c == ' ' || c == '\t' || (c > ' ' && c < 0x7f));
			if (c != '=') {
				assert_int_equal(buf_putc(out, (char)c), 0);
				continue;
			}
			if (j + 1 == len)	/* a soft line break */
				break;
			assert_true(j + 2 < len);
			assert_true(hexval(p[i + j + 1]) >= 0 &&
				    hexval(p[i + j + 2]) >= 0);
			assert_int_equal(buf_putc(out, (char)(hexval(p[i + j + 1]) * 16 +
							       hexval(p[i + j + 2]))), 0);
			j += 2;
		}
		/* no white space before a hard line end */
		if (len > 0 && p[i + len - 1] != '=')
			assert_true(p[i + len - 1] != ' ' && p[i + len - 1] != '\t');
		if (len == 0 || p[i + len - 1] != '=')
			assert_int_equal(buf_append(out, "\r\n", 2), 0);
		i += len + 2;
	}
}

static void test_qp_random_roundtrip(void **state)
{
	static const char alphabet[] = "ab =.\t\r\n\xe9\x00\xff";
	uint32_t seed = 777;
	int round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		char in[300];
		size_t len = xorshift(&seed) % 200, i, olen, hdr, step;
		buf_t want, dec;
		char *got;
		const char *body;

		memcpy(in, "Subject: r\r\n\r\n", 14);
		for (i = 14; i < 14 + len; i++)
			in[i] = alphabet[xorshift(&seed) % (sizeof(alphabet) - 1)];
		len += 14;
		step = xorshift(&seed) % 9;
		got = encode(in, len, MSG_OUT_BDAT, MSG_OUT_QP, step, NULL,
			     &olen, NULL);
		tu_assert_crlf_only(got, olen);
		body = strstr(got, "\r\n\r\n");
		assert_non_null(body);
		hdr = (size_t)(body - got) + 4;
		buf_init(&want);
		buf_init(&dec);
		canonical(in + 14, len - 14, &want);
		qp_decode(got + hdr, olen - hdr, &dec);
		assert_int_equal(dec.len, want.len);
		if (want.len)
			assert_memory_equal(dec.data, want.data, want.len);
		free(got);
		buf_free(&want);
		buf_free(&dec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enc_line_ends),
		cmocka_unit_test(test_enc_dot_stuffing),
		cmocka_unit_test(test_enc_dot_ends),
		cmocka_unit_test(test_enc_binary),
		cmocka_unit_test(test_enc_long_line),
		cmocka_unit_test(test_out_smuggling),
		cmocka_unit_test(test_out_bdat),
		cmocka_unit_test(test_out_random_roundtrip),
		cmocka_unit_test(test_out_eight_bit),
		cmocka_unit_test(test_scan_verdicts),
		cmocka_unit_test(test_scan_fields),
		cmocka_unit_test(test_scan_header_too_big),
		cmocka_unit_test(test_qp_golden),
		cmocka_unit_test(test_qp_header),
		cmocka_unit_test(test_qp_header_too_big),
		cmocka_unit_test(test_qp_random_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

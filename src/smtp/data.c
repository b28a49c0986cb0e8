/* data - DATA content decoder (pure, streaming, bounded memory).
 *
 * Public: data_dec_init, data_dec_init_literal, data_dec_feed,
 * data_dec_finish_literal.
 * RFC 5321 4.1.1.4: only <CRLF>.<CRLF> ends the data; RFC 5321 4.5.2: a
 * leading "." of a line is removed.  A line start exists only after CRLF
 * (and at the very beginning), so bare CR and bare LF are plain data and
 * can never form or complete an end marker (SMTP smuggling).
 * Literal mode (d->literal, BDAT content, RFC 3030 2): a leading "." is
 * plain data, so ST_DOT, ST_DOT_CR and ST_DONE are never entered and every
 * input byte is consumed (except after a header event); the header tracking,
 * flags and out_bytes are the same code as for DATA.  The end of the content
 * is told by data_dec_finish_literal, which flushes the hold.
 *
 * States (d->state):
 *   ST_BOL     at a line start, nothing of the line seen yet
 *   ST_DOT     line start + "." consumed (a leading dot is never emitted)
 *   ST_DOT_CR  line start + ".\r" consumed; "\n" next would end the data
 *   ST_MID     inside a line: the fast path, memchr for '\r', spans copied
 *   ST_CR      inside a line, the last byte consumed (and emitted) was '\r'
 *   ST_HOLD    header section, line start: field-name bytes go to d->hold
 *              until ':' (a field), or a byte that makes it a body line
 *   ST_HDR_CR  header section, a line starting with '\r' (consumed, not
 *              yet emitted): "\n" next means the empty separator line
 *   ST_DONE    the end marker was consumed
 * d->in_headers: 0 in the body, 1 in the header section before any field,
 * 2 after a field (a continuation line is only possible then).
 *
 * Invariants: d->hold_len <= DATA_HOLD_MAX; a header-section end stops the
 * feed before any byte of the line that ended it is emitted (the consumed
 * bytes of that line wait in d->hold and are emitted by the next feed); the
 * final ".\r\n" is never emitted; input after the end marker is never
 * consumed.  When the data ends while still in the header section, the
 * header event is raised first, with the final "\n" of ".\r\n" not yet
 * consumed (".\r" may be); the next feed consumes it and sets done.
 * Each feed reserves its worst-case output up front, so no append inside
 * the loop can fail half-way; if out cannot grow, the feed returns 0 with
 * the state untouched (neither done nor the header event set).
 */
#include "smtp/data.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

enum {
	ST_BOL = 0,
	ST_DOT,
	ST_DOT_CR,
	ST_MID,
	ST_CR,
	ST_HOLD,
	ST_HDR_CR,
	ST_DONE,
};

/* one call of data_dec_feed: input, cursor and the pending output span */
struct feed {
	struct data_dec *d;
	const char *in;
	size_t n;
	buf_t *out;
	size_t i;	/* next input byte */
	size_t mark;	/* in[mark..i) is decoded output not yet appended */
	int stop;	/* end of data or header-section end: return now */
};

/* data_dec_init - start decoding right after the DATA command's CRLF */
void data_dec_init(struct data_dec *d)
{
	memset(d, 0, sizeof(*d));
	d->state = ST_BOL;
	d->in_headers = 1;
}

/* data_dec_init_literal - start decoding BDAT content (RFC 3030) */
void data_dec_init_literal(struct data_dec *d)
{
	data_dec_init(d);
	d->literal = 1;
}

/* emit - append decoded bytes to the output and note NUL / 8-bit bytes */
static void emit(struct data_dec *d, buf_t *out, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned char acc = 0;
	size_t k;

	if (n == 0)
		return;
	(void)buf_append(out, p, n);	/* room reserved by data_dec_feed */
	d->out_bytes += n;
	if (!d->saw_nul && memchr(p, '\0', n))
		d->saw_nul = 1;
	if (!d->saw_8bit) {
		for (k = 0; k < n; k++)
			acc |= u[k];
		if (acc & 0x80)
			d->saw_8bit = 1;
	}
}

/* flush - append the pending span in[mark..i) */
static void flush(struct feed *f)
{
	emit(f->d, f->out, f->in + f->mark, f->i - f->mark);
	f->mark = f->i;
}

/* skip - drop the byte at i from the output (flushes what precedes it) */
static void skip(struct feed *f)
{
	flush(f);
	f->i++;
	f->mark = f->i;
}

/* headers_end - the header section ended: raise the event and stop */
static void headers_end(struct feed *f, int blank)
{
	struct data_dec *d = f->d;

	d->in_headers = 0;
	d->headers_ended = 1;
	d->headers_end_event = 1;
	d->headers_end_blank = blank;
	f->stop = 1;
}

/* step_mid - inside a line: copy up to and including the next '\r' */
static void step_mid(struct feed *f)
{
	struct data_dec *d = f->d;
	const char *p = f->in + f->i;
	size_t rest = f->n - f->i;
	const char *cr = memchr(p, '\r', rest);
	size_t k = cr ? (size_t)(cr - p) : rest;

	if (!d->saw_bare_lf && memchr(p, '\n', k))
		d->saw_bare_lf = 1;	/* no '\r' before it in this span */
	f->i += k;
	if (!cr)
		return;
	f->i++;
	if (f->i == f->n) {
		d->state = ST_CR;
	} else if (f->in[f->i] == '\n') {
		f->i++;
		d->state = ST_BOL;
	} else {
		d->saw_bare_cr = 1;
	}
}

/* step_cr - the byte after a '\r' that ended the previous input chunk */
static void step_cr(struct feed *f)
{
	if (f->in[f->i] == '\n') {
		f->i++;
		f->d->state = ST_BOL;
	} else {
		f->d->saw_bare_cr = 1;
		f->d->state = ST_MID;
	}
}

/* step_bol - first byte of a line: a leading dot is removed (RFC 5321
 * 4.5.2) or starts the end marker, except in literal mode; header lines
 * go to the hold */
static void step_bol(struct feed *f)
{
	struct data_dec *d = f->d;

	if (f->in[f->i] == '.' && !d->literal) {
		skip(f);
		d->state = ST_DOT;
	} else if (d->in_headers) {
		flush(f);
		d->state = ST_HOLD;
	} else {
		d->state = ST_MID;
	}
}

/* step_dot - after a leading dot: "\r" may start the end marker */
static void step_dot(struct feed *f)
{
	struct data_dec *d = f->d;

	if (f->in[f->i] == '\r') {
		skip(f);
		d->state = ST_DOT_CR;
	} else {
		d->state = d->in_headers ? ST_HOLD : ST_MID;
	}
}

/* step_dot_cr - after ".\r" at a line start: "\n" ends the data
 * (RFC 5321 4.1.1.4); anything else makes the '\r' plain data */
static void step_dot_cr(struct feed *f)
{
	struct data_dec *d = f->d;

	if (f->in[f->i] == '\n') {
		if (d->in_headers) {
			/* the end marker is consumed by the next feed */
			headers_end(f, 0);
			return;
		}
		skip(f);
		d->done = 1;
		d->state = ST_DONE;
		f->stop = 1;
	} else if (d->in_headers) {
		d->state = ST_HDR_CR;
	} else {
		flush(f);
		emit(d, f->out, "\r", 1);
		d->state = ST_CR;
	}
}

/* step_hdr_cr - header section, line began with '\r': the header section
 * ends either way; it was the empty separator line if "\n" follows */
static void step_hdr_cr(struct feed *f)
{
	struct data_dec *d = f->d;

	d->hold[0] = '\r';
	d->hold_len = 1;
	d->state = ST_CR;
	headers_end(f, f->in[f->i] == '\n');
}

/* hold_is - true if the held field name equals name (ASCII, any case) */
static int hold_is(const struct data_dec *d, const char *name)
{
	size_t k;

	if (strlen(name) != d->hold_len)
		return 0;
	for (k = 0; k < d->hold_len; k++) {
		unsigned char c = (unsigned char)d->hold[k];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)name[k])
			return 0;
	}
	return 1;
}

/* field_seen - a header field name was completed by ':' (RFC 5322 2.2) */
static void field_seen(struct feed *f)
{
	struct data_dec *d = f->d;

	if (hold_is(d, "received")) {
		if (d->received_count < UINT_MAX)
			d->received_count++;
	} else if (hold_is(d, "message-id")) {
		d->saw_message_id = 1;
	} else if (hold_is(d, "date")) {
		d->saw_date = 1;
	}
	emit(d, f->out, d->hold, d->hold_len);
	d->hold_len = 0;
	d->in_headers = 2;
	d->state = ST_MID;	/* the ':' is emitted by the span */
}

/* step_hold - one byte of a header-section line start (RFC 5322 2.2:
 * field-name = 1*(%d33-57 / %d59-126), continuation starts with WSP) */
static void step_hold(struct feed *f)
{
	struct data_dec *d = f->d;
	unsigned char c = (unsigned char)f->in[f->i];

	if (c == ':' && d->hold_len > 0) {
		field_seen(f);
	} else if (c >= 33 && c <= 126 && c != ':' &&
		   d->hold_len < DATA_HOLD_MAX) {
		d->hold[d->hold_len++] = (char)c;
		f->i++;
		f->mark = f->i;
	} else if (c == '\r' && d->hold_len == 0) {
		skip(f);
		d->state = ST_HDR_CR;
	} else if ((c == ' ' || c == '\t') && d->hold_len == 0 &&
		   d->in_headers == 2) {
		d->state = ST_MID;	/* continuation line */
	} else {
		/* a body line: the hold is emitted by the next feed */
		d->state = ST_MID;
		headers_end(f, 0);
	}
}

/* step - run the state machine on the byte(s) at f->i */
static void step(struct feed *f)
{
	switch (f->d->state) {
	case ST_MID:
		step_mid(f);
		break;
	case ST_CR:
		step_cr(f);
		break;
	case ST_BOL:
		step_bol(f);
		break;
	case ST_DOT:
		step_dot(f);
		break;
	case ST_DOT_CR:
		step_dot_cr(f);
		break;
	case ST_HOLD:
		step_hold(f);
		break;
	case ST_HDR_CR:
		step_hdr_cr(f);
		break;
	default:
		f->stop = 1;
		break;
	}
}

/* data_dec_feed - decode input, stop at the end of data or of the header */
size_t data_dec_feed(struct data_dec *d, const char *in, size_t n, buf_t *out)
{
	struct feed f = { d, in, n, out, 0, 0, 0 };
	size_t worst = sizeof(d->hold) + 1;

	if (d->done)
		return 0;
	/* output <= input + held bytes + one literal '\r' */
	if (n > SIZE_MAX - worst || buf_reserve(out, n + worst) < 0)
		return 0;
	if (!d->in_headers && d->hold_len) {
		emit(d, out, d->hold, d->hold_len);
		d->hold_len = 0;
	}
	while (f.i < n && !f.stop)
		step(&f);
	flush(&f);
	return f.i;
}

/* data_dec_finish_literal - end of BDAT content: flush the hold and end an
 * open header section if the content ended at a line start.  Returns 1 if
 * it raised the header event, 0 if not, -1 (nothing changed) if out cannot
 * grow. */
int data_dec_finish_literal(struct data_dec *d, buf_t *out)
{
	int at_bol = d->state == ST_BOL ||
		     (d->state == ST_HOLD && d->hold_len == 0);

	if (buf_reserve(out, d->hold_len + 1) < 0)
		return -1;
	if (d->state == ST_HDR_CR) {
		/* the content ended with a '\r' at a header line start */
		d->hold[d->hold_len++] = '\r';
		d->state = ST_CR;
	} else if (d->state == ST_HOLD && d->hold_len) {
		d->state = ST_MID;	/* a partial line without CRLF */
	}
	emit(d, out, d->hold, d->hold_len);
	d->hold_len = 0;
	if (d->state == ST_CR)
		d->saw_bare_cr = 1;	/* nothing follows the last '\r' */
	if (d->headers_ended || !at_bol)
		return 0;
	d->in_headers = 0;
	d->headers_ended = 1;
	d->headers_end_event = 1;
	d->headers_end_blank = 0;
	return 1;
}

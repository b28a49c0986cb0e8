/* outbound - stored message -> SMTP DATA / BDAT form; 8BITMIME scan and
 * quoted-printable downconversion.
 *
 * Public: msg_out_init, msg_out_feed, msg_out_finish, msg_out_free,
 * msg_scan_init, msg_scan_feed, msg_scan_finish, msg_scan_free,
 * msg_scan_verdict.
 *
 * Stages, each a streaming state machine over arbitrary chunks:
 *   norm   line ends: CRLF, bare LF and bare CR each end a line and become
 *          CRLF (CHECKLIST H); DATA: a '.' starting an output line is
 *          doubled (RFC 5321 4.5.2); DOT_ENDS: an input line of just "."
 *          ends the input (sendmail).  Its output is "canonical": CRLF
 *          lines, no other CR or LF.
 *   hdr    collects the canonical header section (at most MSG_HDR_MAX)
 *          until an empty line, a line that is neither a field nor a
 *          continuation (the body started without the empty line), or the
 *          end of the input.  The scan and the QP mode use the same code,
 *          so they always agree on where the body starts.
 *   qp     rewrites the header section's MIME fields and encodes the body
 *          (RFC 2045 6.7: "=XX" for '=', controls and 8-bit bytes, a
 *          trailing SP/HT encoded, soft line breaks keep lines <= 76).
 * msg_out without QP is one norm stage (input -> wire); with QP it is norm
 * (input -> canonical), qp, norm (canonical -> wire: stuffing only).
 *
 * Invariants: no CR or LF leaves a norm stage except in CRLF pairs; in
 * DATA mode no output line starts with a single '.' except the final
 * ".\r\n"; a norm stage reserves its worst case before writing, so it
 * never fails half-way.
 *
 * Limits (documented for the caller): the downconversion handles a
 * single discrete top-level part only (no walk into multipart bodies);
 * 8-bit bytes in the header section are never changed (RFC 2047 encoding
 * would need the charset and the field syntax); a body that claims base64
 * or quoted-printable yet holds 8-bit bytes is not converted (verdict
 * CANNOT); lines longer than 998 octets are sent as they are except in QP
 * bodies.
 */
#include "msg/outbound.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "msg/rfc5322.h"

/* ---- norm: line ends and dot-stuffing ---- */

/* norm_init - a normaliser at the start of its input */
static void norm_init(struct msg_norm *n, int stuff, int dot_ends)
{
	memset(n, 0, sizeof(*n));
	n->stuff = stuff;
	n->dot_ends = dot_ends;
	n->bol = 1;
	n->in_bol = 1;
}

/* put_crlf - a line end at o; the new write position */
static char *put_crlf(char *o)
{
	o[0] = '\r';
	o[1] = '\n';
	return o + 2;
}

/* norm_dot - the held '.' is data after all (stuffed in DATA mode) */
static char *norm_dot(struct msg_norm *n, char *o)
{
	*o++ = '.';
	if (n->stuff)
		*o++ = '.';
	n->dot = 0;
	n->bol = 0;
	n->in_bol = 0;
	return o;
}

/* norm_span - copy the run of ordinary bytes at in[0..len) to o; its
 * length */
static size_t norm_span(struct msg_norm *n, const char *in, size_t len,
			char *o)
{
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < len && in[i] != '\r' && in[i] != '\n'; i++)
		acc |= (unsigned char)in[i];
	memcpy(o, in, i);
	if (acc & 0x80)
		n->eight_bit = 1;
	n->bol = 0;
	n->in_bol = 0;
	return i;
}

/* norm_held - the held CR and/or '.' meet the next byte c; 1 when c was
 * used up with them (the LF of a CRLF, the end of the "." line), 0 when c
 * is still to be handled */
static int norm_held(struct msg_norm *n, char c, char **op)
{
	char *o = *op;
	int r = 0;

	if (n->cr) {
		n->cr = 0;
		if (c == '\n') {
			if (n->dot) {		/* ".\r\n" ends the input */
				n->dot = 0;
				n->done = 1;
			} else {
				o = put_crlf(o);
				n->bol = n->in_bol = 1;
			}
			*op = o;
			return 1;
		}
		/* a bare CR ends an output line; its input line goes on */
		if (n->dot)
			o = norm_dot(n, o);
		o = put_crlf(o);
		n->bol = 1;
		n->in_bol = 0;
	}
	if (n->dot) {
		if (c == '\n') {		/* ".\n" ends the input */
			n->dot = 0;
			n->done = 1;
			r = 1;
		} else if (c == '\r') {
			n->cr = 1;
			r = 1;
		} else {
			o = norm_dot(n, o);
		}
	}
	*op = o;
	return r;
}

/* norm_feed - normalise in[0..len) onto out; *used gets the bytes used
 * (fewer than len once the "." line ended the input); 0 or -1 (no room) */
static int norm_feed(struct msg_norm *n, const char *in, size_t len,
		     buf_t *out, size_t *used)
{
	size_t i = 0;
	char *o;

	/* each byte makes at most 2; a held "." and CR at most 4 more */
	if (len > (SIZE_MAX - 16) / 2 || buf_reserve(out, 2 * len + 8) < 0)
		return -1;
	o = out->data + out->len;
	while (i < len && !n->done) {
		char c = in[i];

		if ((n->cr || n->dot) && norm_held(n, c, &o)) {
			i++;
			continue;
		}
		if (c == '\r') {
			n->cr = 1;
			i++;
		} else if (c == '\n') {		/* a bare LF */
			o = put_crlf(o);
			n->bol = n->in_bol = 1;
			i++;
		} else if (n->bol && c == '.' && n->dot_ends && n->in_bol) {
			n->dot = 1;		/* maybe the "." line */
			i++;
		} else {
			size_t k;

			if (n->bol && c == '.' && n->stuff)
				*o++ = '.';	/* RFC 5321 4.5.2 */
			k = norm_span(n, in + i, len - i, o);
			i += k;
			o += k;
		}
	}
	if (used)
		*used = i;
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* norm_finish - the end of the input: close the last line (a held "."
 * with DOT_ENDS is the "." line), then DATA's ".\r\n"; 0 or -1 */
static int norm_finish(struct msg_norm *n, buf_t *out)
{
	int r = 0;

	if (!n->done && !n->dot && (n->cr || !n->bol))
		r = buf_append(out, "\r\n", 2);
	n->cr = 0;
	n->dot = 0;
	n->bol = 1;
	n->done = 1;
	if (r == 0 && n->stuff)
		r = buf_append(out, ".\r\n", 3);
	return r;
}

/* ---- hdr: the header section of canonical text ---- */

/* hdr_init - nothing collected yet */
static void hdr_init(struct msg_hdr *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->buf);
}

/* hdr_line - classify the complete line buf[scan..lf]; 1 when it ends the
 * header section (then hend, body_at and blank are set) */
static int hdr_line(struct msg_hdr *h, size_t lf)
{
	const char *p = h->buf.data + h->scan;
	size_t n = lf - h->scan, name_len;
	enum msg_line_kind k;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	k = msg_line_kind(p, n, &name_len);
	if (k == MSG_LINE_CONT && h->scan == 0)
		k = MSG_LINE_OTHER;	/* nothing to continue */
	if (k == MSG_LINE_FIELD || k == MSG_LINE_CONT)
		return 0;
	h->ended = 1;
	h->blank = k == MSG_LINE_BLANK;
	h->hend = h->scan;
	h->body_at = h->blank ? lf + 1 : h->scan;
	return 1;
}

/* hdr_take - append canonical bytes and look for the end of the section
 * (stops growing at MSG_HDR_MAX: too_big); 0 or -1 (no memory) */
static int hdr_take(struct msg_hdr *h, const char *in, size_t len)
{
	if (buf_append(&h->buf, in, len) < 0)
		return -1;
	while (!h->ended) {
		const char *lf;

		if (h->looked < h->scan)
			h->looked = h->scan;
		lf = memchr(h->buf.data + h->looked, '\n',
			    h->buf.len - h->looked);
		if (!lf) {
			h->looked = h->buf.len;
			break;
		}
		if (hdr_line(h, (size_t)(lf - h->buf.data)))
			break;
		h->scan = (size_t)(lf - h->buf.data) + 1;
	}
	if (!h->ended && h->buf.len > MSG_HDR_MAX)
		h->too_big = 1;
	return 0;
}

/* hdr_eof - the input ended inside the header section: all of it is
 * fields (the last line was closed by norm_finish) */
static void hdr_eof(struct msg_hdr *h)
{
	if (h->ended)
		return;
	h->ended = 1;
	h->blank = 0;
	h->hend = h->buf.len;
	h->body_at = h->buf.len;
}

/* ---- the MIME fields a downconversion looks at ---- */

/* skip_cfws - skip white space and (nested) comments in v[i..n) */
static size_t skip_cfws(const char *v, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		char c = v[i];

		if (depth > 0 && c == '\\')
			i++;
		else if (c == '(')
			depth++;
		else if (depth > 0 && c == ')')
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
			 c != '\n')
			break;
	}
	return i;
}

/* first_token - the first token of a field value (RFC 2045 5.1: up to a
 * tspecial, white space or a control) as [*start, *start + return) */
static size_t first_token(const char *v, size_t n, size_t *start)
{
	size_t i = skip_cfws(v, n, 0), j;

	for (j = i; j < n; j++) {
		unsigned char c = (unsigned char)v[j];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			break;
	}
	*start = i;
	return j - i;
}

/* token_is - is v[0..n) the word w (any case)? */
static int token_is(const char *v, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(v, w, n) == 0;
}

/* content_type - the class of a Content-Type field value */
static enum msg_ctype content_type(const char *v, size_t n)
{
	size_t at, len = first_token(v, n, &at);

	if (len == 0)
		return MSG_CT_NONE;	/* RFC 2045 5.2: text/plain */
	if (token_is(v + at, len, "multipart"))
		return MSG_CT_MULTIPART;
	if (token_is(v + at, len, "message"))
		return MSG_CT_MESSAGE;
	if (token_is(v + at, len, "text"))
		return MSG_CT_TEXT;
	return MSG_CT_OTHER;
}

/* content_encoding - the class of a Content-Transfer-Encoding value */
static enum msg_cte content_encoding(const char *v, size_t n)
{
	static const struct {
		const char *w;
		enum msg_cte e;
	} words[] = {
		{ "7bit", MSG_CTE_7BIT }, { "8bit", MSG_CTE_8BIT },
		{ "binary", MSG_CTE_BINARY }, { "quoted-printable", MSG_CTE_QP },
		{ "base64", MSG_CTE_BASE64 },
	};
	size_t at, len = first_token(v, n, &at), i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (token_is(v + at, len, words[i].w))
			return words[i].e;
	return MSG_CTE_OTHER;
}

/* ---- qp: the downconversion (RFC 2045 6.7, RFC 6152) ---- */

/* qp_init - at the start of the header section */
static void qp_init(struct msg_qp *q)
{
	memset(q, 0, sizeof(*q));
	hdr_init(&q->h);
}

/* qp_put - append one encoded token, after a soft line break when the
 * line would pass 75 octets (76 with the '='); 0 or -1 */
static int qp_put(struct msg_qp *q, buf_t *out, const char *t, size_t n)
{
	if (q->col + (int)n > 75) {
		if (buf_append(out, "=\r\n", 3) < 0)
			return -1;
		q->col = 0;
	}
	q->col += (int)n;
	return buf_append(out, t, n);
}

/* qp_byte - one byte as itself or as "=XX" */
static int qp_byte(struct msg_qp *q, buf_t *out, unsigned char c, int lit)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3] = { '=', hex[c >> 4], hex[c & 15] };

	if (lit)
		return qp_put(q, out, (const char *)&c, 1);
	return qp_put(q, out, t, 3);
}

/* qp_body - encode canonical body bytes; 0 or -1 */
static int qp_body(struct msg_qp *q, const char *in, size_t len, buf_t *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int r = 0;

		if (c == '\r')		/* canonical: an LF follows */
			continue;
		if (c == '\n') {	/* rule 3: trailing white space encoded */
			if (q->ws)
				r = qp_byte(q, out, (unsigned char)q->ws, 0);
			q->ws = 0;
			q->col = 0;
			if (r < 0 || buf_append(out, "\r\n", 2) < 0)
				return -1;
			continue;
		}
		if (q->ws && qp_byte(q, out, (unsigned char)q->ws, 1) < 0)
			return -1;
		q->ws = 0;
		if (c == ' ' || c == '\t')
			q->ws = (char)c;
		else if (qp_byte(q, out, c, c > ' ' && c < 0x7f && c != '=') < 0)
			return -1;
	}
	return 0;
}

/* qp_header - the header section with its MIME fields rewritten, the
 * empty line, then the body bytes collected with it; 0 or -1 */
static int qp_header(struct msg_qp *q, buf_t *out)
{
	struct msg_hdr *h = &q->h;
	struct msg_field f;
	size_t pos = 0;
	int mime = 0, ctype = 0, r = 0;

	while (r == 0 && msg_next_field(h->buf.data, h->hend, &pos, &f)) {
		if (msg_field_is(&f, "Content-Transfer-Encoding"))
			continue;
		mime |= msg_field_is(&f, "MIME-Version");
		ctype |= msg_field_is(&f, "Content-Type");
		r = buf_append(out, f.raw, f.raw_len);
	}
	if (r == 0 && !mime)
		r = buf_puts(out, "MIME-Version: 1.0\r\n");
	if (r == 0 && !ctype)	/* RFC 1428: 8-bit text of no known charset */
		r = buf_puts(out, "Content-Type: text/plain; "
			     "charset=unknown-8bit\r\n");
	if (r == 0)
		r = buf_puts(out, "Content-Transfer-Encoding: "
			     "quoted-printable\r\n\r\n");
	if (r == 0)
		r = qp_body(q, h->buf.data + h->body_at,
			    h->buf.len - h->body_at, out);
	buf_free(&h->buf);
	q->in_body = 1;
	return r;
}

/* qp_feed - canonical bytes in, canonical QP text out; 0 or -1 (no
 * memory, or the header section passed MSG_HDR_MAX) */
static int qp_feed(struct msg_qp *q, const char *in, size_t len, buf_t *out)
{
	if (q->in_body)
		return qp_body(q, in, len, out);
	if (hdr_take(&q->h, in, len) < 0 || q->h.too_big)
		return -1;
	return q->h.ended ? qp_header(q, out) : 0;
}

/* qp_finish - the end of the canonical text (its last line closed) */
static int qp_finish(struct msg_qp *q, buf_t *out)
{
	if (!q->in_body) {
		hdr_eof(&q->h);
		if (qp_header(q, out) < 0)
			return -1;
	}
	if (q->ws && qp_byte(q, out, (unsigned char)q->ws, 0) < 0)
		return -1;
	q->ws = 0;
	if (q->col > 0 && buf_append(out, "\r\n", 2) < 0)
		return -1;
	q->col = 0;
	return 0;
}

/* ---- msg_out ---- */

/* msg_out_init - an encoder at the start of a message */
void msg_out_init(struct msg_out *o, enum msg_out_mode mode, unsigned flags)
{
	int data = mode == MSG_OUT_DATA;

	memset(o, 0, sizeof(*o));
	o->qp = (flags & MSG_OUT_QP) != 0;
	buf_init(&o->mid);
	buf_init(&o->mid2);
	qp_init(&o->q);
	if (o->qp) {
		norm_init(&o->a, 0, 0);
		norm_init(&o->c, data, 0);
	} else {
		norm_init(&o->a, data, data && (flags & MSG_OUT_DOT_ENDS));
	}
}

/* out_qp_stages - the canonical text in o->mid through qp and the final
 * norm stage onto out */
static int out_qp_stages(struct msg_out *o, buf_t *out)
{
	int r = qp_feed(&o->q, o->mid.data, o->mid.len, &o->mid2);

	o->hdr_too_big = o->q.h.too_big;
	buf_reset(&o->mid);
	if (r == 0)
		r = norm_feed(&o->c, o->mid2.data, o->mid2.len, out, NULL);
	buf_reset(&o->mid2);
	return r;
}

/* msg_out_feed - encode a chunk of the message */
int msg_out_feed(struct msg_out *o, const char *in, size_t len, buf_t *out,
		 size_t *used)
{
	int r;

	if (!o->qp) {
		r = norm_feed(&o->a, in, len, out, used);
		o->done = o->a.done;
	} else {
		r = norm_feed(&o->a, in, len, &o->mid, used);
		if (r == 0)
			r = out_qp_stages(o, out);
	}
	o->eight_bit = o->a.eight_bit;
	return r;
}

/* msg_out_finish - close the last line; DATA: the final "." line */
int msg_out_finish(struct msg_out *o, buf_t *out)
{
	int r;

	o->done = 1;
	if (!o->qp)
		return norm_finish(&o->a, out);
	r = norm_finish(&o->a, &o->mid);
	if (r == 0)
		r = out_qp_stages(o, out);
	if (r == 0)
		r = qp_finish(&o->q, &o->mid2);
	if (r == 0)
		r = norm_feed(&o->c, o->mid2.data, o->mid2.len, out, NULL);
	buf_reset(&o->mid2);
	return r == 0 ? norm_finish(&o->c, out) : -1;
}

/* msg_out_free - release the buffers */
void msg_out_free(struct msg_out *o)
{
	buf_free(&o->mid);
	buf_free(&o->mid2);
	buf_free(&o->q.h.buf);
}

/* ---- msg_scan ---- */

/* msg_scan_init - a scan at the start of a message */
void msg_scan_init(struct msg_scan *s)
{
	memset(s, 0, sizeof(*s));
	norm_init(&s->n, 0, 0);
	hdr_init(&s->h);
	buf_init(&s->tmp);
}

/* has_8bit - does p[0..n) hold a byte >= 0x80? */
static int has_8bit(const char *p, size_t n)
{
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (unsigned char)p[i];
	return (acc & 0x80) != 0;
}

/* scan_header - note what the ended header section says, then look at
 * the body bytes collected with it */
static void scan_header(struct msg_scan *s)
{
	struct msg_hdr *h = &s->h;
	struct msg_field f;
	size_t pos = 0;

	s->hdr_8bit = has_8bit(h->buf.data, h->hend);
	while (msg_next_field(h->buf.data, h->hend, &pos, &f)) {
		if (msg_field_is(&f, "MIME-Version"))
			s->mime_version = 1;
		if (msg_field_is(&f, "Content-Type")) {
			enum msg_ctype t = content_type(f.value, f.value_len);

			if (t > s->ctype)
				s->ctype = t;
		}
		if (msg_field_is(&f, "Content-Transfer-Encoding")) {
			enum msg_cte e = content_encoding(f.value, f.value_len);

			if (e > s->cte)
				s->cte = e;
		}
	}
	if (has_8bit(h->buf.data + h->body_at, h->buf.len - h->body_at))
		s->body_8bit = 1;
	buf_free(&h->buf);
}

/* scan_take - canonical bytes: to the header section, else the body */
static int scan_take(struct msg_scan *s, const char *p, size_t n)
{
	struct msg_hdr *h = &s->h;

	if (h->ended || s->hdr_too_big) {
		if (!s->body_8bit && has_8bit(p, n))
			s->body_8bit = 1;
		return 0;
	}
	if (hdr_take(h, p, n) < 0)
		return -1;
	if (h->too_big) {	/* no header section to go by: all body */
		s->hdr_too_big = 1;
		s->body_8bit = has_8bit(h->buf.data, h->buf.len);
		buf_free(&h->buf);
	} else if (h->ended) {
		scan_header(s);
	}
	return 0;
}

/* msg_scan_feed - look at a chunk of the message */
int msg_scan_feed(struct msg_scan *s, const char *in, size_t len)
{
	int r = norm_feed(&s->n, in, len, &s->tmp, NULL);

	if (r == 0)
		r = scan_take(s, s->tmp.data, s->tmp.len);
	buf_reset(&s->tmp);
	return r;
}

/* msg_scan_finish - the end of the message */
int msg_scan_finish(struct msg_scan *s)
{
	int r = norm_finish(&s->n, &s->tmp);

	if (r == 0)
		r = scan_take(s, s->tmp.data, s->tmp.len);
	buf_reset(&s->tmp);
	if (r == 0 && !s->h.ended && !s->hdr_too_big) {
		hdr_eof(&s->h);
		scan_header(s);
	}
	return r;
}

/* msg_scan_free - release the buffers */
void msg_scan_free(struct msg_scan *s)
{
	buf_free(&s->h.buf);
	buf_free(&s->tmp);
}

/* msg_scan_verdict - send as is, convert to QP, or cannot (RFC 6152) */
enum msg_8bit msg_scan_verdict(const struct msg_scan *s)
{
	if (!s->body_8bit)
		return MSG_8BIT_NONE;
	if (s->hdr_too_big || s->ctype >= MSG_CT_MULTIPART ||
	    s->cte >= MSG_CTE_QP)
		return MSG_8BIT_CANNOT;
	return MSG_8BIT_QP;
}

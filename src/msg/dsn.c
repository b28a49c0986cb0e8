/* dsn - build RFC 3464 delivery status notifications.
 *
 * Public: msg_dsn_build, msg_dsn_action_name, msg_dsn_date.
 *
 * msg_dsn_build reads the original first (at most orig_max + 1 bytes),
 * then writes the three part bodies into buffers of their own, then picks
 * a boundary that starts no line of any of them, then joins everything.
 * All human texts are in texts[] below (with $1 $2 $3 filled in, like the
 * SMTP reply table).
 *
 * Invariants: every line of the result ends in CRLF and is shorter than
 * 998 octets (put_wrap; break_lines for the original); every byte that
 * came from outside (reply text, remote host, addresses, ENVID, ORCPT,
 * hostname, queue id) goes through a cleaner that lets no CR, LF or other
 * control byte through; parts 1 and 2 are 7-bit; the boundary starts no
 * line of any part; on failure out is unchanged.
 */
#include "msg/dsn.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "msg/outbound.h"
#include "msg/rfc5322.h"
#include "smtp/xtext.h"

#define WRAP_TEXT 76		/* human text lines */
#define WRAP_FIELD 78		/* delivery-status fields */
#define HARD_MAX 900		/* a longer word is cut: lines stay < 998 */
#define LINE_MAX_OCTETS 998	/* RFC 5322 2.1.1, for the original */
#define LINE_CUT 990		/* where a longer line of it is cut */
#define CLEAN_MAX 2000		/* input octets of one cleaned value */
#define BOUNDARY_BASE 58	/* the boundary before a collision suffix
				 * (".N", at most 11 more: RFC 2046 says 70) */
#define READ_CHUNK 16384

/* ---- the one table of texts ---- */

enum text_id {
	T_FROM_NAME, T_SUBJ_FAILED, T_SUBJ_DELAYED, T_SUBJ_SUCCESS,
	T_PREAMBLE, T_INTRO,
	T_GROUP_FAILED, T_GROUP_DELAYED, T_GROUP_DELIVERED, T_GROUP_RELAYED,
	T_GROUP_EXPANDED,
	T_WHY_FAILED, T_WHY_DELAYED, T_WHY_DELIVERED, T_WHY_RELAYED,
	T_WHY_EXPANDED,
	T_RCPT_SAID, T_RCPT_HOST, T_RCPT, T_RETRY_UNTIL, T_TRUNCATED, T_HELP,
	T_DESC_NOTIFICATION, T_DESC_REPORT, T_DESC_MESSAGE, T_DESC_HEADERS,
	T_DESC_MSG_HEADERS,
	T__COUNT
};

/* Lines end at "\n"; each line is wrapped at WRAP_TEXT after $1 $2 $3 are
 * filled in.  Group and reason texts follow enum msg_dsn_action's order. */
static const char *const texts[T__COUNT] = {
	[T_FROM_NAME] = "Mail Delivery System",
	[T_SUBJ_FAILED] = "Undelivered Mail Returned to Sender",
	[T_SUBJ_DELAYED] = "Delayed Mail (still being retried)",
	[T_SUBJ_SUCCESS] = "Successful Mail Delivery Report",
	[T_PREAMBLE] = "This is a MIME-encapsulated message.",
	[T_INTRO] = "This is the mail system at host $1.",
	[T_GROUP_FAILED] =
		"Your message could not be delivered to the recipients below.\n"
		"This is a permanent error: the mail system has given up. The\n"
		"reasons follow; your message, or its header, is attached.",
	[T_GROUP_DELAYED] =
		"THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.\n"
		"\n"
		"Your message could not be delivered yet to the recipients below.\n"
		"The mail system will keep trying.",
	[T_GROUP_DELIVERED] =
		"Your message was delivered to the recipients below.",
	[T_GROUP_RELAYED] =
		"Your message was passed on to the mail systems of the recipients\n"
		"below. They do not send delivery reports of their own, so you may\n"
		"receive no further notice from them.",
	[T_GROUP_EXPANDED] =
		"Your message was delivered to the recipients below, which are\n"
		"mailing lists or aliases; further notices may come from the mail\n"
		"systems of their members.",
	[T_WHY_FAILED] = "delivery failed",
	[T_WHY_DELAYED] = "delivery temporarily suspended",
	[T_WHY_DELIVERED] = "delivered",
	[T_WHY_RELAYED] = "relayed",
	[T_WHY_EXPANDED] = "delivered to a list or alias",
	[T_RCPT_SAID] = "<$1>: host $2 said: $3",
	[T_RCPT_HOST] = "<$1>: host $2: $3",
	[T_RCPT] = "<$1>: $3",
	[T_RETRY_UNTIL] = "    Delivery attempts will go on until $1.",
	[T_TRUNCATED] = "Your message was larger than $1 bytes, so only its "
		"header section is attached.",
	[T_HELP] = "For further assistance, please send mail to postmaster@$1\n"
		"and include this report.",
	[T_DESC_NOTIFICATION] = "Notification",
	[T_DESC_REPORT] = "Delivery report",
	[T_DESC_MESSAGE] = "Undelivered Message",
	[T_DESC_HEADERS] = "Undelivered Message Headers",
	[T_DESC_MSG_HEADERS] = "Message Headers",
};

static const char *const action_names[] = {
	"failed", "delayed", "delivered", "relayed", "expanded",
};

#define NACTIONS (sizeof(action_names) / sizeof(action_names[0]))

/* msg_dsn_action_name - the RFC 3464 word for an action */
const char *msg_dsn_action_name(enum msg_dsn_action a)
{
	return (size_t)a < NACTIONS ? action_names[a] : "failed";
}

/* ---- cleaning what came from outside ---- */

/* put_clean - s[0..n) as printable ASCII: SP, HT, CR and LF become a
 * space, every other byte outside 0x20..0x7e "\xHH"; at most CLEAN_MAX
 * input octets */
static int put_clean(buf_t *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (n > CLEAN_MAX)
		n = CLEAN_MAX;
	if (buf_reserve(b, 4 * n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o = b->data + b->len;

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c >= 0x20 && c < 0x7f) {
			o[0] = (char)c;
			b->len++;
		} else {
			o[0] = '\\';
			o[1] = 'x';
			o[2] = hex[c >> 4];
			o[3] = hex[c & 15];
			b->len += 4;
		}
	}
	b->data[b->len] = '\0';
	return 0;
}

/* put_host - a host name (or "[address]") for a field: letters, digits
 * and ".-_:[]" kept, any other byte becomes '?'; "unknown" if empty */
static int put_host(buf_t *b, const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return buf_puts(b, "unknown");
	if (n > 255)
		n = 255;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || strchr(".-_:[]", c);

		if (buf_putc(b, ok && c ? (char)c : '?') < 0)
			return -1;
	}
	return 0;
}

/* is_plain - s[0..n) is printable ASCII without spaces (an address that
 * can stand as it is in an "rfc822;" field) */
static int is_plain(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return n > 0;
}

/* utf8_next - the code point at s[*i] (advanced past it), or -1 for a
 * byte that starts no well-formed UTF-8 sequence (*i advanced by one):
 * RFC 3629 4, no overlong forms, no surrogates, nothing above U+10FFFF */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i], lo = 0x80, hi = 0xbf;
	size_t len = 0, k;
	long u = 0;

	if (c < 0x80) {
		++*i;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		u = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		u = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		u = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	}
	for (k = 1; k < len; k++) {
		unsigned char t = *i + k < n ? s[*i + k] : 0;

		if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xbf))
			break;
		u = (u << 6) | (t & 0x3f);
	}
	if (len == 0 || k < len) {
		++*i;
		return -1;
	}
	*i += len;
	return u;
}

/* put_utf8_xtext - RFC 6533 3 utf-8-addr-xtext: QCHAR as is, any other
 * character "\x{HEX}" (a malformed byte as U+FFFD) */
static int put_utf8_xtext(buf_t *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	if (n > CLEAN_MAX)
		n = CLEAN_MAX;
	while (i < n) {
		long c = utf8_next(u, n, &i);
		int r;

		if (c < 0)
			c = 0xfffd;
		if (c > 0x20 && c < 0x7f && c != '+' && c != '=' && c != '\\')
			r = buf_putc(b, (char)c);
		else
			r = buf_printf(b, "\\x{%lX}", c);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* utf8_clean - s[0..n) is well-formed UTF-8 without control characters */
static int utf8_clean(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		long c = utf8_next(u, n, &i);

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
			return 0;
	}
	return 1;
}

/* put_address - an address-type and address for a DSN field: "rfc822;
 * addr" as it is when plain, else "utf-8; " RFC 6533 encoding */
static int put_address(buf_t *b, const char *s, size_t n)
{
	if (is_plain(s, n))
		return buf_puts(b, "rfc822; ") < 0 ? -1 : buf_append(b, s, n);
	if (buf_puts(b, "utf-8; ") < 0)
		return -1;
	return put_utf8_xtext(b, s, n);
}

/* put_xtext - RFC 3461 4 xtext of s[0..n) */
static int put_xtext(buf_t *b, const char *s, size_t n)
{
	long r;

	if (n > CLEAN_MAX)
		n = CLEAN_MAX;
	if (buf_reserve(b, 3 * n + 1) < 0)
		return -1;
	r = xtext_encode(s, n, b->data + b->len, b->cap - b->len);
	if (r < 0)
		return -1;
	b->len += (size_t)r;
	return 0;
}

/* put_orcpt - "type; address" of an ORCPT (RFC 3464 2.3.1): the address
 * as it is when plain, else RFC 6533 encoding for utf-8, xtext for any
 * other type */
static int put_orcpt(buf_t *b, const struct msg_dsn_rcpt *r)
{
	const char *t = r->orcpt_type;
	size_t i, mark = b->len;

	for (i = 0; t[i] && i < 32; i++) {
		unsigned char c = (unsigned char)t[i];

		if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     (c >= '0' && c <= '9') || c == '-') && buf_putc(b, (char)c) < 0)
			return -1;
	}
	if (b->len == mark && buf_puts(b, "rfc822") < 0)
		return -1;
	if (buf_puts(b, "; ") < 0)
		return -1;
	if (!r->orcpt || is_plain(r->orcpt, r->orcpt_len))
		return r->orcpt ? buf_append(b, r->orcpt, r->orcpt_len) : 0;
	if (strcasecmp(b->data + mark, "utf-8; ") == 0)
		return put_utf8_xtext(b, r->orcpt, r->orcpt_len);
	return put_xtext(b, r->orcpt, r->orcpt_len);
}

/* ---- lines ---- */

/* How put_wrap breaks a line. */
enum wrap {
	W_FOLD,		/* RFC 5322 folding: the break goes before a space
			 * that stays (unfolding gives the value back) */
	W_PLAIN,	/* text: the space is dropped */
	W_INDENT,	/* text: the space is dropped, the next line
			 * indented by four spaces */
};

/* put_wrap - s[0..n) (one line, cleaned) as lines of at most width
 * octets where spaces allow, never longer than HARD_MAX + 5.  Every line
 * ends in CRLF. */
static int put_wrap(buf_t *out, const char *s, size_t n, size_t width,
		    enum wrap how)
{
	int fold = how == W_FOLD;
	const char *indent = how == W_INDENT ? "    " : "";

	size_t at = 0, pre = 0;

	while (n - at + pre > width) {
		size_t lim = at + (width > pre ? width - pre : 1), brk = 0, k;
		int hard = 0;

		for (k = lim; k > at && !brk; k--)
			if (s[k] == ' ')
				brk = k;
		for (k = lim + 1; !brk && k < n && k < at + HARD_MAX; k++)
			if (s[k] == ' ')
				brk = k;
		if (!brk && n - at <= HARD_MAX)
			break;		/* one long word: it fits as it is */
		if (!brk) {
			brk = at + HARD_MAX;
			hard = 1;
		}
		if (buf_append(out, s + at, brk - at) < 0 ||
		    buf_append(out, "\r\n", 2) < 0)
			return -1;
		if (fold) {
			if (hard && buf_putc(out, ' ') < 0)
				return -1;
			pre = hard;
			at = brk;
		} else {
			if (buf_puts(out, indent) < 0)
				return -1;
			pre = strlen(indent);
			at = hard ? brk : brk + 1;
		}
	}
	if (buf_append(out, s + at, n - at) < 0)
		return -1;
	return buf_append(out, "\r\n", 2);
}

/* put_field - "Name: " plus the value in line, folded at WRAP_FIELD */
static int put_field(buf_t *out, const char *name, const buf_t *v)
{
	buf_t line;
	int r;

	buf_init(&line);
	r = buf_printf(&line, "%s: ", name) < 0 ||
	    buf_append(&line, v->data ? v->data : "", v->len) < 0 ? -1 : 0;
	if (r == 0)
		r = put_wrap(out, line.data, line.len, WRAP_FIELD, W_FOLD);
	buf_free(&line);
	return r;
}

/* put_text - the table text id with $1 $2 $3 filled in (arguments are
 * clean), each of its lines wrapped at WRAP_TEXT (a recipient's lines
 * indented after the first) */
static int put_text(buf_t *out, enum text_id id, const char *a1,
		    const char *a2, const char *a3)
{
	const char *p, *args[3] = { a1, a2, a3 };
	enum wrap how = id == T_RCPT_SAID || id == T_RCPT_HOST || id == T_RCPT ||
			id == T_RETRY_UNTIL ? W_INDENT : W_PLAIN;
	buf_t t;
	size_t start = 0, i;
	int r = 0;

	buf_init(&t);
	for (p = texts[id]; *p && r == 0; p++) {
		if (p[0] == '$' && p[1] >= '1' && p[1] <= '3') {
			r = buf_puts(&t, args[p[1] - '1'] ? args[p[1] - '1'] : "");
			p++;
		} else {
			r = buf_putc(&t, *p);
		}
	}
	for (i = 0; r == 0 && i <= t.len; i++) {
		if (i < t.len && t.data[i] != '\n')
			continue;
		r = put_wrap(out, t.data ? t.data + start : "", i - start,
			     WRAP_TEXT, how);
		start = i + 1;
	}
	buf_free(&t);
	return r;
}

/* msg_dsn_date - RFC 5322 3.3 date-time, UTC */
char *msg_dsn_date(char dst[32], long long t)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > 253402300799LL || !gmtime_r(&tt, &tm)) {
		memset(&tm, 0, sizeof(tm));	/* the epoch: a Thursday */
		tm.tm_mday = 1;
		tm.tm_year = 70;
		tm.tm_wday = 4;
	}
	char tmp[96];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%.3s, %02d %.3s %04d %02d:%02d:%02d +0000",
		     days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon,
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || n > 31)
		n = 0;	/* cannot happen: every field is in range */
	memcpy(dst, tmp, (size_t)n);
	dst[n] = '\0';
	return dst;
}

/* ---- the original message ---- */

/* read_original - up to lim + 1 bytes of the original into raw; *eof set
 * when it ended within them; 0 or -1 */
static int read_original(const struct msg_dsn *d, size_t lim, buf_t *raw,
			 int *eof)
{
	*eof = 0;
	while (raw->len <= lim) {
		size_t want = lim + 1 - raw->len;
		long r;

		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if (buf_reserve(raw, want) < 0)
			return -1;
		r = d->read(d->read_ctx, raw->data + raw->len, want);
		if (r < 0 || (size_t)r > want)
			return -1;
		if (r == 0) {
			*eof = 1;
			break;
		}
		raw->len += (size_t)r;
		raw->data[raw->len] = '\0';
	}
	return 0;
}

/* header_len - the length of the header fields of canonical text */
static size_t header_len(const char *p, size_t n)
{
	size_t pos = 0, nl;

	while (pos < n) {
		const char *lf = memchr(p + pos, '\n', n - pos);
		size_t len = lf ? (size_t)(lf - (p + pos)) : n - pos;
		enum msg_line_kind k;

		if (len > 0 && p[pos + len - 1] == '\r')
			len--;
		k = msg_line_kind(p + pos, len, &nl);
		if (k == MSG_LINE_BLANK || k == MSG_LINE_OTHER ||
		    (k == MSG_LINE_CONT && pos == 0))
			break;
		pos = lf ? (size_t)(lf - p) + 1 : n;
	}
	return pos;
}

/* break_lines - copy canonical text, cutting lines longer than
 * LINE_MAX_OCTETS (in the header section the rest goes on a continuation
 * line); *eight_bit set when a byte >= 0x80 is there */
static int break_lines(const char *p, size_t n, buf_t *out, int *eight_bit)
{
	size_t pos = 0;
	int in_header = 1;

	while (pos < n) {
		const char *lf = memchr(p + pos, '\n', n - pos);
		size_t end = lf ? (size_t)(lf - p) + 1 : n;
		size_t len = end - pos, take, i;

		if (lf && len >= 2)
			len -= 2;	/* canonical: CRLF */
		if (len == 0)
			in_header = 0;
		for (i = pos; i < pos + len; i++)
			if ((unsigned char)p[i] >= 0x80)
				*eight_bit = 1;
		while (len > LINE_MAX_OCTETS) {
			take = LINE_CUT;
			if (buf_append(out, p + pos, take) < 0 ||
			    buf_puts(out, in_header ? "\r\n " : "\r\n") < 0)
				return -1;
			pos += take;
			len -= take;
		}
		if (buf_append(out, p + pos, end - pos) < 0)
			return -1;
		pos = end;
	}
	return 0;
}

/* The original as part 3 will carry it. */
struct orig {
	buf_t text;		/* CRLF lines, each < 998 octets */
	int full;		/* message/rfc822 (else text/rfc822-headers) */
	int truncated;		/* FULL asked, too large: headers only */
	int eight_bit;
};

/* orig_load - read and prepare the original (d->read is set) */
static int orig_load(const struct msg_dsn *d, int failed, struct orig *o)
{
	size_t lim = d->orig_max ? d->orig_max : MSG_DSN_ORIG_MAX;
	struct msg_out enc;
	buf_t raw, canon;
	int eof, r;

	buf_init(&raw);
	buf_init(&canon);
	r = read_original(d, lim, &raw, &eof);
	if (r == 0 && !eof) {	/* keep whole lines within lim bytes */
		size_t k = raw.len > lim ? lim : raw.len;

		while (k > 0 && raw.data[k - 1] != '\n' && raw.data[k - 1] != '\r')
			k--;
		raw.len = k ? k : lim;
	}
	o->full = d->ret == RET_FULL && failed && eof;
	o->truncated = d->ret == RET_FULL && failed && !eof;
	msg_out_init(&enc, MSG_OUT_BDAT, 0);
	if (r == 0)
		r = msg_out_feed(&enc, raw.data ? raw.data : "", raw.len, &canon,
				 NULL);
	if (r == 0)
		r = msg_out_finish(&enc, &canon);
	msg_out_free(&enc);
	if (r == 0 && !o->full)
		canon.len = header_len(canon.data ? canon.data : "", canon.len);
	if (r == 0)
		r = break_lines(canon.data ? canon.data : "", canon.len, &o->text,
				&o->eight_bit);
	buf_free(&raw);
	buf_free(&canon);
	return r;
}

/* ---- part 1: the human-readable text ---- */

/* valid_enh - an RFC 3463 status code: class.subject.detail */
static int valid_enh(const char *s)
{
	size_t i = 0, part, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	for (part = 0; part < 3; part++) {
		for (digits = 0; s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > (part ? 3u : 1u))
			return 0;
		if (part < 2 && s[i++] != '.')
			return 0;
	}
	return s[i] == '\0';
}

/* remote_said - the status holds a remote server's reply */
static int remote_said(const struct dstatus *st)
{
	return st && st->remote_said && st->code >= 200 && st->code <= 599;
}

/* enh_ok - the status holds a well-formed enhanced code */
static int enh_ok(const struct dstatus *st)
{
	return st && memchr(st->enh, '\0', sizeof(st->enh)) && valid_enh(st->enh);
}

/* put_reason - "550 5.1.1 text" of a remote reply, the transport's own
 * text, or the action's default; cleaned */
static int put_reason(buf_t *b, const struct msg_dsn_rcpt *r)
{
	const struct dstatus *st = r->status;
	size_t tlen = st ? strnlen(st->text, sizeof(st->text)) : 0;

	if (remote_said(st)) {
		if (buf_printf(b, "%d", st->code) < 0 ||
		    (enh_ok(st) && buf_printf(b, " %s", st->enh) < 0))
			return -1;
		if (tlen == 0)
			return 0;
		if (buf_putc(b, ' ') < 0)
			return -1;
	}
	if (tlen)
		return put_clean(b, st->text, tlen);
	return buf_puts(b, texts[T_WHY_FAILED + r->action]);
}

/* rcpt_line - one recipient in part 1 */
static int rcpt_line(buf_t *out, const struct msg_dsn_rcpt *r)
{
	const struct dstatus *st = r->status;
	size_t rlen = st ? strnlen(st->remote, sizeof(st->remote)) : 0;
	buf_t addr, host, why;
	enum text_id id = T_RCPT;
	char date[32];
	int rc;

	buf_init(&addr);
	buf_init(&host);
	buf_init(&why);
	if (rlen)
		id = st->remote_said ? T_RCPT_SAID : T_RCPT_HOST;
	rc = put_clean(&addr, r->final_rcpt, strlen(r->final_rcpt)) < 0 ||
	     put_clean(&host, rlen ? st->remote : "", rlen) < 0 ||
	     put_reason(&why, r) < 0 ? -1 : 0;
	if (rc == 0)
		rc = put_text(out, id, addr.data, host.data, why.data);
	if (rc == 0 && r->action == MSG_DSN_DELAYED && r->retry_until > 0)
		rc = put_text(out, T_RETRY_UNTIL,
			      msg_dsn_date(date, r->retry_until), NULL, NULL);
	buf_free(&addr);
	buf_free(&host);
	buf_free(&why);
	return rc;
}

/* human_part - the text/plain part */
static int human_part(const struct msg_dsn *d, const char *host,
		      const struct orig *o, buf_t *out)
{
	char lim[32];
	size_t a, i;
	int r = put_text(out, T_INTRO, host, NULL, NULL);

	for (a = 0; a < NACTIONS && r == 0; a++) {
		int any = 0;

		for (i = 0; i < d->nrcpts && r == 0; i++) {
			if ((size_t)d->rcpts[i].action != a)
				continue;
			if (!any)
				r = buf_puts(out, "\r\n") < 0 ||
				    put_text(out, T_GROUP_FAILED + a, NULL, NULL,
					     NULL) < 0 ? -1 : 0;
			any = 1;
			if (r == 0 && buf_puts(out, "\r\n") < 0)
				r = -1;
			if (r == 0)
				r = rcpt_line(out, &d->rcpts[i]);
		}
	}
	snprintf(lim, sizeof(lim), "%zu",
		 d->orig_max ? d->orig_max : (size_t)MSG_DSN_ORIG_MAX);
	if (r == 0 && o->truncated)
		r = buf_puts(out, "\r\n") < 0 ||
		    put_text(out, T_TRUNCATED, lim, NULL, NULL) < 0 ? -1 : 0;
	if (r == 0)
		r = buf_puts(out, "\r\n") < 0 ||
		    put_text(out, T_HELP, host, NULL, NULL) < 0 ? -1 : 0;
	return r;
}

/* ---- part 2: message/delivery-status (RFC 3464 2.2, 2.3) ---- */

/* put_status - the Status: value: the transport's code, or by action */
static int put_status(buf_t *b, const struct msg_dsn_rcpt *r)
{
	const struct dstatus *st = r->status;

	if (enh_ok(st))
		return buf_puts(b, st->enh);
	if (r->action == MSG_DSN_FAILED)
		return buf_puts(b, "5.0.0");
	return buf_puts(b, r->action == MSG_DSN_DELAYED ? "4.0.0" : "2.0.0");
}

/* put_diag - the Diagnostic-Code: value, or nothing: "smtp; 550 5.1.1
 * text" for a remote reply, "X-Mailport; text" for our own */
static int put_diag(buf_t *b, const struct msg_dsn_rcpt *r)
{
	const struct dstatus *st = r->status;
	size_t tlen = st ? strnlen(st->text, sizeof(st->text)) : 0;

	if (remote_said(st))
		return buf_puts(b, "smtp; ") < 0 ? -1 : put_reason(b, r);
	if (!tlen)
		return 0;
	return buf_puts(b, "X-Mailport; ") < 0 ? -1 : put_clean(b, st->text, tlen);
}

/* put_remote - the Remote-MTA: value: the host name of
 * "name[address]", or the whole when there is no name */
static int put_remote(buf_t *b, const struct dstatus *st)
{
	size_t n = strnlen(st->remote, sizeof(st->remote));
	const char *br = memchr(st->remote, '[', n);

	if (br && br > st->remote)
		n = (size_t)(br - st->remote);
	return buf_puts(b, "dns; ") < 0 ? -1 : put_host(b, st->remote, n);
}

/* FIELD - in rcpt_fields and status_part (buf_t v, int rc, buf_t *out in
 * scope): fill v with the value, then write the field; rc = -1 on error */
#define FIELD(name, fill) \
	do { \
		buf_reset(&v); \
		if (rc == 0 && ((fill) < 0 || put_field(out, name, &v) < 0)) \
			rc = -1; \
	} while (0)

/* rcpt_fields - one recipient's block */
static int rcpt_fields(buf_t *out, const struct msg_dsn_rcpt *r)
{
	const struct dstatus *st = r->status;
	char date[32];
	buf_t v;
	int rc = buf_puts(out, "\r\n");

	buf_init(&v);
	if (r->orcpt_type)
		FIELD("Original-Recipient", put_orcpt(&v, r));
	FIELD("Final-Recipient", put_address(&v, r->final_rcpt,
					     strlen(r->final_rcpt)));
	FIELD("Action", buf_puts(&v, msg_dsn_action_name(r->action)));
	FIELD("Status", put_status(&v, r));
	if (st && st->remote[0])
		FIELD("Remote-MTA", put_remote(&v, st));
	buf_reset(&v);
	if (rc == 0 && put_diag(&v, r) < 0)
		rc = -1;
	if (rc == 0 && v.len && put_field(out, "Diagnostic-Code", &v) < 0)
		rc = -1;
	if (r->last_attempt > 0)
		FIELD("Last-Attempt-Date",
		      buf_puts(&v, msg_dsn_date(date, r->last_attempt)));
	if (r->action == MSG_DSN_DELAYED && r->retry_until > 0)
		FIELD("Will-Retry-Until",
		      buf_puts(&v, msg_dsn_date(date, r->retry_until)));
	buf_free(&v);
	return rc;
}

/* status_part - the message/delivery-status part */
static int status_part(const struct msg_dsn *d, const char *host,
		       buf_t *out)
{
	char date[32];
	buf_t v;
	size_t i;
	int rc = 0;

	buf_init(&v);
	if (d->envid)
		FIELD("Original-Envelope-Id",
		      put_clean(&v, d->envid, d->envid_len));
	FIELD("Reporting-MTA", buf_printf(&v, "dns; %s", host));
	if (d->arrival > 0)
		FIELD("Arrival-Date", buf_puts(&v, msg_dsn_date(date, d->arrival)));
	FIELD("X-Mailport-Queue-ID", put_clean(&v, d->qid, strlen(d->qid)));
	FIELD("X-Mailport-Sender", put_address(&v, d->sender, strlen(d->sender)));
	for (i = 0; i < d->nrcpts && rc == 0; i++)
		rc = rcpt_fields(out, &d->rcpts[i]);
#undef FIELD
	buf_free(&v);
	return rc;
}

/* ---- the whole message ---- */

/* starts_line - does a line of p[0..n) start with "--" + b? */
static int starts_line(const char *p, size_t n, const char *b)
{
	size_t bl = strlen(b);
	const char *q = p, *end = p + n;

	while (q && q < end && (q = memmem(q, (size_t)(end - q), "--", 2))) {
		if ((q == p || q[-1] == '\n') && (size_t)(end - q) >= bl + 2 &&
		    memcmp(q + 2, b, bl) == 0)
			return 1;
		q++;
	}
	return 0;
}

/* pick_boundary - a boundary from the queue id, time, nonce and host
 * that starts no line of any part (RFC 2046 5.1.1: at most 70 of bchars) */
static void pick_boundary(const struct msg_dsn *d, const char *host,
			  const buf_t *parts, size_t nparts, char b[80])
{
	static const char bchars[] = "'()+_,-./:=?";
	unsigned tries = 0;
	size_t i, n;
	int clash;
	char all[512];

	snprintf(all, sizeof(all), "%.64s.%lld.%llx/%s", d->qid, d->now,
		 d->nonce, host);
	n = strnlen(all, BOUNDARY_BASE);
	memcpy(b, all, n);
	b[n] = '\0';
	for (i = 0; b[i]; i++) {
		unsigned char c = (unsigned char)b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(bchars, c)))
			b[i] = '_';
	}
	n = strlen(b);
	do {
		clash = 0;
		for (i = 0; i < nparts && !clash; i++)
			clash = starts_line(parts[i].data ? parts[i].data : "",
					    parts[i].len, b);
		if (clash)
			snprintf(b + n, 80 - n, ".%u", ++tries);
	} while (clash);
}

/* clean_name - a name for a Message-ID, From: and Reporting-MTA:
 * letters, digits, '.' and '-' kept, any other byte becomes '-' (at most
 * size - 1 of them); def when empty */
static void clean_name(const char *name, char *dst, size_t size,
		       const char *def)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)name[i];

		dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-' ?
			 (char)c : '-';
	}
	dst[i] = '\0';
	if (i == 0)
		snprintf(dst, size, "%s", def);
}

/* put_to - "To: <sender>", folded: as it is when plain or clean UTF-8
 * (then *utf8 is set), else cleaned */
static int put_to(buf_t *out, const char *s, int *utf8)
{
	size_t n = strlen(s);
	buf_t line;
	int r;

	buf_init(&line);
	r = buf_puts(&line, "To: <");
	if (r == 0 && (is_plain(s, n) || utf8_clean(s, n))) {
		*utf8 = !is_plain(s, n);
		r = buf_append(&line, s, n);
	} else if (r == 0) {
		r = put_clean(&line, s, n);
	}
	if (r == 0)
		r = buf_putc(&line, '>');
	if (r == 0)
		r = put_wrap(out, line.data, line.len, WRAP_FIELD, W_FOLD);
	buf_free(&line);
	return r;
}

/* put_top - the header section of the report */
static int put_top(const struct msg_dsn *d, const char *host,
		   enum text_id subj, const char *boundary, int eight_bit,
		   buf_t *out, int *utf8)
{
	char date[32], id[32], qid[64];
	struct tm tm;
	time_t t = (time_t)d->now;
	int r;

	clean_name(d->qid, qid, sizeof(qid), "none");
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(id, sizeof(id), "%04d%02d%02d%02d%02d%02d",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	r = buf_printf(out, "Date: %s\r\nFrom: %s <MAILER-DAEMON@%s>\r\n",
			       msg_dsn_date(date, d->now), texts[T_FROM_NAME],
			       host);
	if (r == 0)
		r = put_to(out, d->sender, utf8);
	if (r == 0)
		r = buf_printf(out, "Subject: %s\r\nMessage-ID: <%s.%s.%llx@%s>\r\n"
			       "Auto-Submitted: auto-replied\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: multipart/report; "
			       "report-type=delivery-status;\r\n"
			       "\tboundary=\"%s\"\r\n"
			       "Content-Transfer-Encoding: %s\r\n\r\n",
			       texts[subj], id, qid, d->nonce, host,
			       boundary, eight_bit ? "8bit" : "7bit");
	return r;
}

/* put_parts - the preamble, the three parts and the close delimiter */
static int put_parts(const buf_t parts[3], const struct orig *o, int has3,
		     int failed, const char *b, buf_t *out)
{
	int r = buf_printf(out, "%s\r\n\r\n--%s\r\nContent-Description: %s\r\n"
			   "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
			   texts[T_PREAMBLE], b, texts[T_DESC_NOTIFICATION]);

	if (r == 0)
		r = buf_append(out, parts[0].data, parts[0].len);
	if (r == 0)
		r = buf_printf(out, "\r\n--%s\r\nContent-Description: %s\r\n"
			       "Content-Type: message/delivery-status\r\n\r\n",
			       b, texts[T_DESC_REPORT]);
	if (r == 0)
		r = buf_append(out, parts[1].data, parts[1].len);
	if (r == 0 && has3)
		r = buf_printf(out, "\r\n--%s\r\nContent-Description: %s\r\n"
			       "Content-Type: %s\r\n%s\r\n", b,
			       texts[o->full ? T_DESC_MESSAGE : failed ?
				     T_DESC_HEADERS : T_DESC_MSG_HEADERS],
			       o->full ? "message/rfc822" : "text/rfc822-headers",
			       o->eight_bit ? "Content-Transfer-Encoding: 8bit\r\n"
					    : "");
	if (r == 0 && has3 && parts[2].len)
		r = buf_append(out, parts[2].data, parts[2].len);
	if (r == 0)
		r = buf_printf(out, "\r\n--%s--\r\n", b);
	return r;
}

/* report_kind - 0 failed, 1 delayed, 2 success: the worst action */
static int report_kind(const struct msg_dsn *d)
{
	int kind = 2;
	size_t i;

	for (i = 0; i < d->nrcpts; i++) {
		if (d->rcpts[i].action == MSG_DSN_FAILED)
			return 0;
		if (d->rcpts[i].action == MSG_DSN_DELAYED)
			kind = 1;
	}
	return kind;
}

/* build - msg_dsn_build once the arguments are checked */
static int build(const struct msg_dsn *d, buf_t *out,
		 struct msg_dsn_info *info)
{
	static const enum text_id subjects[] = {
		T_SUBJ_FAILED, T_SUBJ_DELAYED, T_SUBJ_SUCCESS,
	};
	int kind = report_kind(d), r = 0;
	char host[256], boundary[80];
	struct orig o;
	buf_t parts[3];

	memset(&o, 0, sizeof(o));
	buf_init(&o.text);
	buf_init(&parts[0]);
	buf_init(&parts[1]);
	clean_name(d->hostname, host, sizeof(host), "localhost");
	if (d->read)
		r = orig_load(d, kind == 0, &o);
	if (r == 0)
		r = human_part(d, host, &o, &parts[0]);
	if (r == 0)
		r = status_part(d, host, &parts[1]);
	parts[2] = o.text;
	if (r == 0) {
		pick_boundary(d, host, parts, 3, boundary);
		r = put_top(d, host, subjects[kind], boundary, o.eight_bit, out,
			    &info->smtputf8);
	}
	if (r == 0)
		r = put_parts(parts, &o, d->read != NULL, kind == 0, boundary,
			      out);
	info->eight_bit = o.eight_bit;
	info->headers_only = d->read && !o.full;
	info->truncated = o.truncated;
	buf_free(&parts[0]);
	buf_free(&parts[1]);
	buf_free(&o.text);
	return r;
}

/* msg_dsn_build - the whole report, appended to out */
int msg_dsn_build(const struct msg_dsn *d, buf_t *out,
		  struct msg_dsn_info *info)
{
	struct msg_dsn_info dummy;
	size_t mark = out->len, i;

	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (!d->hostname || !*d->hostname || !d->qid || !d->sender ||
	    !*d->sender || d->nrcpts == 0 || !d->rcpts)
		return -1;
	for (i = 0; i < d->nrcpts; i++)
		if (!d->rcpts[i].final_rcpt ||
		    (size_t)d->rcpts[i].action >= NACTIONS)
			return -1;
	if (build(d, out, info) == 0)
		return 0;
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	memset(info, 0, sizeof(*info));
	return -1;
}

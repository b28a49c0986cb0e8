/* rfc5322 - RFC 5322 header lines, folded fields and address lists.
 *
 * Public: msg_parse_addresses, msg_line_kind, msg_next_field,
 * msg_field_is.
 *
 * The address list parser is a small lexer (words: atoms, quoted strings,
 * domain literals; specials; comments and folding whitespace skipped)
 * under a parser that assembles one list element at a time: what was read
 * outside angle brackets (an addr-spec, or a display name once '<'
 * follows) and what was read inside them.  Invariants: nothing is appended
 * to the output unless the whole field parses; no control character can
 * be part of an address (CR and LF are folding whitespace between tokens
 * and unfolded away inside quoted strings); the parser reads only
 * field[0..len).
 */
#include "msg/rfc5322.h"

#include <string.h>
#include <strings.h>

/* ---- RFC 5322 3.4 address lists ---- */

enum tok { TK_END, TK_WORD, TK_SPECIAL, TK_ERROR };

struct lexer {
	const char *s;
	size_t len, pos;
	buf_t text;		/* the word or domain literal just read */
	char special;		/* the special character just read */
};

/* is_ctl - an ASCII control character */
static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* is_fws - a byte of (folding) white space: SP, HT, CR, LF */
static int is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_special - RFC 5322 3.2.3 specials, plus '[' ']' of domain literals */
static int is_special(unsigned char c)
{
	return c != '\0' && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* skip_comment - skip the (nested) comment at s[pos]; -1 if unterminated */
static int skip_comment(struct lexer *lx)
{
	int depth = 0;

	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos++];

		if (c == '\\')
			lx->pos++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return 0;
	}
	return -1;
}

/* skip_cfws - skip white space and comments; -1 on a bad comment */
static int skip_cfws(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];

		if (is_fws(c))
			lx->pos++;
		else if (c == '(') {
			if (skip_comment(lx) < 0)
				return -1;
		} else
			break;
	}
	return 0;
}

/* lex_delimited - a quoted string or a domain literal up to the closing
 * byte, kept with its delimiters; CR and LF are unfolded away (RFC 5322
 * 3.2.4); other control characters are errors */
static enum tok lex_delimited(struct lexer *lx, char close)
{
	char open = lx->s[lx->pos++];

	if (buf_putc(&lx->text, open) < 0)
		return TK_ERROR;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos++];

		if (c == (unsigned char)close)
			return buf_putc(&lx->text, close) < 0 ? TK_ERROR : TK_WORD;
		if (c == '\r' || c == '\n')
			continue;
		if (c == '[' || (is_ctl(c) && c != '\t'))
			return TK_ERROR;
		if (c == '\\') {
			if (lx->pos >= lx->len || buf_putc(&lx->text, '\\') < 0)
				return TK_ERROR;
			c = (unsigned char)lx->s[lx->pos++];
			if (is_ctl(c) && c != '\t')
				return TK_ERROR;
		}
		if (buf_putc(&lx->text, (char)c) < 0)
			return TK_ERROR;
	}
	return TK_ERROR;
}

/* lex_next - the next token: a word (atom, quoted string or domain
 * literal, in lx->text), a special (lx->special), the end, or an error */
static enum tok lex_next(struct lexer *lx)
{
	size_t start;
	unsigned char c;

	buf_reset(&lx->text);
	if (skip_cfws(lx) < 0)
		return TK_ERROR;
	if (lx->pos >= lx->len)
		return TK_END;
	c = (unsigned char)lx->s[lx->pos];
	if (c == '"')
		return lex_delimited(lx, '"');
	if (c == '[')
		return lex_delimited(lx, ']');
	if (is_ctl(c))
		return TK_ERROR;
	if (is_special(c)) {
		lx->special = (char)c;
		lx->pos++;
		return TK_SPECIAL;
	}
	start = lx->pos;
	while (lx->pos < lx->len) {
		c = (unsigned char)lx->s[lx->pos];
		if (is_ctl(c) || is_fws(c) || is_special(c))
			break;
		lx->pos++;
	}
	if (buf_append(&lx->text, lx->s + start, lx->pos - start) < 0)
		return TK_ERROR;
	return TK_WORD;
}

enum spec_part { SP_NONE, SP_WORD, SP_DOT, SP_AT };

/* An addr-spec being put together from tokens. */
struct spec {
	buf_t text;
	enum spec_part last;
	int ats;
	int bad;		/* two words in a row, a misplaced '@' */
};

/* spec_reset - start a new addr-spec */
static void spec_reset(struct spec *sp)
{
	buf_reset(&sp->text);
	sp->last = SP_NONE;
	sp->ats = 0;
	sp->bad = 0;
}

/* spec_add - append one token to the addr-spec, noting misplacements */
static int spec_add(struct spec *sp, enum spec_part part, const char *t,
		    size_t n)
{
	if (part == SP_WORD && sp->last == SP_WORD)
		sp->bad = 1;
	if (part == SP_AT) {
		sp->ats++;
		if (sp->last == SP_NONE || sp->last == SP_AT || sp->ats > 1)
			sp->bad = 1;
	}
	sp->last = part;
	return buf_append(&sp->text, t, n);
}

/* The parser: one list element at a time. */
struct aparse {
	struct lexer lx;
	struct spec cand;	/* what was read outside <>: an addr-spec
				 * or a display name */
	struct spec angle;	/* what was read inside <> */
	int in_angle, had_angle, in_route, in_group;
	buf_t *out;
	size_t count;
};

/* ap_cur - the addr-spec tokens go to */
static struct spec *ap_cur(struct aparse *p)
{
	return p->in_angle ? &p->angle : &p->cand;
}

/* ap_finish - end of one list element: emit its address, if any */
static int ap_finish(struct aparse *p)
{
	struct spec *sp = p->had_angle ? &p->angle : &p->cand;
	int r = 0;

	if (sp->last != SP_NONE) {
		if (sp->bad || sp->last == SP_AT)
			return -1;
		if (buf_append(p->out, sp->text.data, sp->text.len) < 0 ||
		    buf_putc(p->out, '\0') < 0)
			r = -1;
		p->count++;
	}
	spec_reset(&p->cand);
	spec_reset(&p->angle);
	p->had_angle = 0;
	return r;
}

/* ap_word - a word or domain literal */
static int ap_word(struct aparse *p)
{
	if (p->had_angle)
		return -1;	/* "<a@b> junk" */
	if (p->in_route)
		return 0;
	return spec_add(ap_cur(p), SP_WORD, p->lx.text.data, p->lx.text.len);
}

/* ap_at - '@': an addr-spec's, or the start of an obsolete route
 * (RFC 5322 4.4: "<@a,@b:u@d>", the route is dropped) */
static int ap_at(struct aparse *p)
{
	if (p->had_angle)
		return -1;
	if (p->in_angle && p->angle.last == SP_NONE) {
		p->in_route = 1;
		return 0;
	}
	return spec_add(ap_cur(p), SP_AT, "@", 1);
}

/* ap_colon - ':' ends a route, or starts a group (RFC 5322 3.4) */
static int ap_colon(struct aparse *p)
{
	if (p->in_route) {
		p->in_route = 0;
		return 0;
	}
	if (p->in_angle || p->in_group || p->had_angle || p->cand.ats > 0)
		return -1;	/* a group's name is a phrase: no '@' */
	p->in_group = 1;
	spec_reset(&p->cand);	/* it was the group's display name */
	return 0;
}

/* ap_special - one special character */
static int ap_special(struct aparse *p, char c)
{
	if (p->in_route && c != ':' && c != '>')
		return c == '<' || c == ';' ? -1 : 0;
	switch (c) {
	case '<':
		if (p->in_angle || p->had_angle)
			return -1;
		p->in_angle = 1;
		return 0;
	case '>':
		if (!p->in_angle || p->in_route)
			return -1;
		p->in_angle = 0;
		p->had_angle = 1;
		return 0;
	case '@':
		return ap_at(p);
	case '.':
		return p->had_angle ? -1 : spec_add(ap_cur(p), SP_DOT, ".", 1);
	case ':':
		return ap_colon(p);
	case ',':
		return p->in_angle ? -1 : ap_finish(p);
	case ';':		/* a stray ';' outside a group separates too */
		if (p->in_angle)
			return -1;
		p->in_group = 0;
		return ap_finish(p);
	default:		/* ')' ']' '\\' out of place */
		return -1;
	}
}

/* ap_run - parse the whole field */
static int ap_run(struct aparse *p)
{
	for (;;) {
		enum tok t = lex_next(&p->lx);
		int r;

		if (t == TK_END)
			return p->in_angle ? -1 : ap_finish(p);
		if (t == TK_ERROR)
			return -1;
		r = t == TK_SPECIAL ? ap_special(p, p->lx.special) : ap_word(p);
		if (r < 0)
			return -1;
	}
}

/* msg_parse_addresses - the addresses of an RFC 5322 address list */
int msg_parse_addresses(const char *field, size_t len, buf_t *out,
			size_t *count)
{
	struct aparse p;
	size_t mark = out->len;
	int r;

	memset(&p, 0, sizeof(p));
	p.lx.s = field;
	p.lx.len = len;
	buf_init(&p.lx.text);
	buf_init(&p.cand.text);
	buf_init(&p.angle.text);
	p.out = out;
	r = ap_run(&p);
	buf_free(&p.lx.text);
	buf_free(&p.cand.text);
	buf_free(&p.angle.text);
	if (r < 0) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
		return -1;
	}
	*count += p.count;
	return 0;
}

/* ---- header section ---- */

/* msg_line_kind - field, continuation, blank or other (RFC 5322 2.2:
 * field-name is printable ASCII except ':'; obsolete WSP before the
 * colon, RFC 5322 4.5, is accepted) */
enum msg_line_kind msg_line_kind(const char *line, size_t len,
				 size_t *name_len)
{
	size_t i = 0, n;

	if (len == 0)
		return MSG_LINE_BLANK;
	if (line[0] == ' ' || line[0] == '\t')
		return MSG_LINE_CONT;
	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	n = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (n == 0 || i >= len || line[i] != ':')
		return MSG_LINE_OTHER;
	*name_len = n;
	return MSG_LINE_FIELD;
}

/* next_line - the line at hdr[pos]: its length without the ending and
 * the length with it */
static size_t next_line(const char *hdr, size_t len, size_t pos,
			size_t *full)
{
	const char *lf = memchr(hdr + pos, '\n', len - pos);
	size_t n = lf ? (size_t)(lf - (hdr + pos)) : len - pos;

	*full = lf ? n + 1 : n;
	if (lf && n > 0 && hdr[pos + n - 1] == '\r')
		n--;
	return n;
}

/* msg_next_field - one (possibly folded) field of a header section */
int msg_next_field(const char *hdr, size_t len, size_t *pos,
		   struct msg_field *f)
{
	size_t p = *pos, full, n, name_len = 0;

	if (p >= len)
		return 0;
	n = next_line(hdr, len, p, &full);
	if (msg_line_kind(hdr + p, n, &name_len) != MSG_LINE_FIELD)
		return 0;
	f->raw = hdr + p;
	f->name = hdr + p;
	f->name_len = name_len;
	f->value = (const char *)memchr(hdr + p, ':', n) + 1;
	p += full;
	while (p < len) {
		n = next_line(hdr, len, p, &full);
		if (msg_line_kind(hdr + p, n, &name_len) != MSG_LINE_CONT)
			break;
		p += full;
	}
	f->raw_len = p - *pos;
	f->value_len = (size_t)((hdr + p) - f->value);
	*pos = p;
	return 1;
}


/* msg_field_is - compare the field's name with name, any case */
int msg_field_is(const struct msg_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	       strncasecmp(f->name, name, f->name_len) == 0;
}

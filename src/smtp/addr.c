/* addr - RFC 5321 4.1.2 path and mailbox parser (pure, bounded, no I/O).
 *
 * Public: addr_parse_path, addr_format, addr_domain_valid, addr_mailbox_safe.
 * Invariants: never allocates; never reads outside s[0..len); never writes
 * more than ADDR_LOCAL_MAX + 1 bytes into local nor ADDR_DOMAIN_MAX + 1 into
 * domain (lengths are checked before every store); the stored local part
 * and domain never hold a NUL (any NUL in the input is a syntax error).
 * Grammar (RFC 5321 4.1.2, RFC 6531 3.3 for UTF-8):
 *   Path = "<" [ A-d-l ":" ] Mailbox ">"    Mailbox = Local-part "@" Domain
 *   Local-part = Dot-string / Quoted-string
 * Decisions beyond the grammar: an empty local part ("" included) is
 * refused; a domain whose last label is all digits (1.2.3.4, x.123) is
 * refused (RFC 1123 2.1, RFC 3696 2: literals need brackets); invalid UTF-8
 * (overlong, surrogate, > U+10FFFF, truncated) is a syntax error.
 */
#include "smtp/addr.h"

#include <arpa/inet.h>
#include <string.h>

/* parse cursor over the input */
struct cur {
	const unsigned char *s;
	size_t len;
	size_t i;
	unsigned flags;
};

/* is_atext - RFC 5322 3.2.3 atext (ASCII only) */
static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_ldh - letter, digit or hyphen (RFC 5321 Ldh-str) */
static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* is_digit - ASCII decimal digit */
static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* lower - ASCII lowercase, other bytes unchanged */
static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* utf8_len - length of the valid UTF-8 sequence at p (RFC 3629 4), 0 if
 * invalid: no overlong forms, no surrogates, nothing above U+10FFFF */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k < need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need;
}

/* take_utf8 - length of the non-ASCII sequence at c->i, or an error:
 * ADDR_ERR_UTF8 without ADDR_ALLOW_UTF8, syntax error when invalid */
static enum addr_err take_utf8(const struct cur *c, size_t *n)
{
	if (!(c->flags & ADDR_ALLOW_UTF8))
		return ADDR_ERR_UTF8;
	*n = utf8_len(c->s + c->i, c->len - c->i);
	return *n ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/* local_put - store n decoded local-part bytes */
static void local_put(struct smtp_path *out, const unsigned char *p, size_t n)
{
	memcpy(out->local + out->local_len, p, n);
	out->local_len += n;
	out->local[out->local_len] = '\0';
}

/* parse_dotstring - RFC 5321 Dot-string: Atom *("." Atom) */
static enum addr_err parse_dotstring(struct cur *c, struct smtp_path *out)
{
	size_t start = c->i, atom = 0, n;
	enum addr_err e;

	while (c->i < c->len) {
		unsigned char ch = c->s[c->i];

		n = 1;
		if (ch >= 0x80) {
			if ((e = take_utf8(c, &n)) != ADDR_OK)
				return e;
			out->utf8 = 1;
		} else if (ch == '.') {
			if (atom == 0)
				return ADDR_ERR_SYNTAX;
			atom = 0;
		} else if (!is_atext(ch)) {
			break;
		}
		if (c->i + n - start > ADDR_LOCAL_MAX)
			return ADDR_ERR_LOCAL_TOO_LONG;
		local_put(out, c->s + c->i, n);
		c->i += n;
		if (ch != '.')
			atom++;
	}
	return atom ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/* parse_quoted - RFC 5321 Quoted-string: qtextSMTP (32-126 minus '"' and
 * '\'), quoted-pairSMTP ('\' then 32-126); the stored form drops both */
static enum addr_err parse_quoted(struct cur *c, struct smtp_path *out)
{
	size_t start = c->i, n;
	enum addr_err e;

	c->i++;			/* opening quote */
	for (;;) {
		const unsigned char *p;

		if (c->i >= c->len)
			return ADDR_ERR_SYNTAX;
		p = c->s + c->i;
		n = 1;
		if (*p == '"') {
			c->i++;
			break;
		}
		if (*p == '\\') {
			if (c->i + 1 >= c->len || p[1] < 32 || p[1] > 126)
				return ADDR_ERR_SYNTAX;
			c->i++;
			p++;
		} else if (*p >= 0x80) {
			if ((e = take_utf8(c, &n)) != ADDR_OK)
				return e;
			out->utf8 = 1;
		} else if (*p < 32 || *p > 126) {
			return ADDR_ERR_SYNTAX;
		}
		if (c->i + n - start > ADDR_LOCAL_MAX)
			return ADDR_ERR_LOCAL_TOO_LONG;
		local_put(out, p, n);
		c->i += n;
	}
	if (c->i - start > ADDR_LOCAL_MAX)
		return ADDR_ERR_LOCAL_TOO_LONG;
	return ADDR_OK;
}

/* ipv4_ok - four dot-separated decimal octets 0..255 (RFC 5321 4.1.3) */
static int ipv4_ok(const char *s, size_t len)
{
	size_t i = 0;
	int part, digits, value;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
		value = 0;
		for (digits = 0; i < len && is_digit((unsigned char)s[i]);
		     digits++, i++) {
			if (digits == 3)
				return 0;
			value = value * 10 + (s[i] - '0');
		}
		if (digits == 0 || value > 255)
			return 0;
	}
	return i == len;
}

/* literal_ok - validate the inside of an address literal (RFC 5321 4.1.3):
 * IPv4, or "IPv6:" + an address inet_pton accepts; other tags refused */
static int literal_ok(const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char bin[16];

	if (len > 5 && strncmp(s, "ipv6:", 5) == 0) {
		if (len - 5 >= sizeof(tmp))
			return 0;
		memcpy(tmp, s + 5, len - 5);
		tmp[len - 5] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	return ipv4_ok(s, len);
}

/* parse_literal - "[" dcontent "]", stored lowercased with brackets */
static enum addr_err parse_literal(struct cur *c, char *dst, size_t *olen)
{
	size_t o = 0;

	for (;;) {
		unsigned char ch;

		if (c->i >= c->len)
			return ADDR_ERR_SYNTAX;
		ch = c->s[c->i];
		if (ch >= 0x80)
			return (c->flags & ADDR_ALLOW_UTF8) ? ADDR_ERR_SYNTAX
							    : ADDR_ERR_UTF8;
		if (ch < 33 || ch > 126 || (ch == '[' && o > 0) || ch == '\\')
			return ADDR_ERR_SYNTAX;
		if (o >= ADDR_DOMAIN_MAX)
			return ADDR_ERR_DOMAIN_TOO_LONG;
		dst[o++] = (char)lower(ch);
		c->i++;
		if (ch == ']')
			break;
	}
	dst[o] = '\0';
	*olen = o;
	return literal_ok(dst + 1, o - 2) ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/* label_ok - RFC 5321 sub-domain: 1..63 octets, no hyphen at either end */
static int label_ok(const char *l, size_t n)
{
	return n >= 1 && n <= 63 && l[0] != '-' && l[n - 1] != '-';
}

/* all_digits - true if l[0..n) is made of ASCII digits only */
static int all_digits(const char *l, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (!is_digit((unsigned char)l[k]))
			return 0;
	return 1;
}

/* label_char_at - true if a label can go on at position i */
static int label_char_at(const struct cur *c, size_t i)
{
	return i < c->len && (is_ldh(c->s[i]) || c->s[i] >= 0x80);
}

/* parse_name - dot-separated labels, lowercased; one trailing dot is
 * accepted and dropped (RFC 5321 2.3.5 and 4.1.2) */
static enum addr_err parse_name(struct cur *c, char *dst, int *utf8)
{
	size_t o = 0, lab = 0, n;
	enum addr_err e;

	while (c->i < c->len) {
		unsigned char ch = c->s[c->i];

		n = 1;
		if (ch == '.') {
			if (!label_ok(dst + lab, o - lab))
				return ADDR_ERR_SYNTAX;
			c->i++;
			if (!label_char_at(c, c->i))
				break;	/* trailing dot: dropped */
		} else if (ch >= 0x80) {
			if ((e = take_utf8(c, &n)) != ADDR_OK)
				return e;
			*utf8 = 1;
		} else if (!is_ldh(ch)) {
			break;
		}
		if (o + n > ADDR_DOMAIN_MAX)
			return ADDR_ERR_DOMAIN_TOO_LONG;
		if (ch == '.') {
			dst[o++] = '.';
			lab = o;
			continue;
		}
		while (n--)
			dst[o++] = (char)lower(c->s[c->i++]);
	}
	dst[o] = '\0';
	if (!label_ok(dst + lab, o - lab) || all_digits(dst + lab, o - lab))
		return ADDR_ERR_SYNTAX;
	return ADDR_OK;
}

/* parse_domain - a domain name or an address literal at c->i into dst
 * (ADDR_DOMAIN_MAX + 1 bytes) */
static enum addr_err parse_domain(struct cur *c, char *dst, int *literal,
				  int *utf8)
{
	size_t n;

	*literal = 0;
	if (c->i < c->len && c->s[c->i] == '[') {
		*literal = 1;
		return parse_literal(c, dst, &n);
	}
	return parse_name(c, dst, utf8);
}

/* parse_route - RFC 5321 4.1.1.3 A-d-l ":" (parsed, checked, ignored) */
static enum addr_err parse_route(struct cur *c)
{
	char scratch[ADDR_DOMAIN_MAX + 1];
	int lit, u8 = 0;
	enum addr_err e;

	for (;;) {
		if (c->i >= c->len || c->s[c->i] != '@')
			return ADDR_ERR_SYNTAX;
		c->i++;
		if ((e = parse_domain(c, scratch, &lit, &u8)) != ADDR_OK)
			return e;
		if (c->i >= c->len)
			return ADDR_ERR_SYNTAX;
		if (c->s[c->i++] == ':')
			return ADDR_OK;
		if (c->s[c->i - 1] != ',')
			return ADDR_ERR_SYNTAX;
	}
}

/* parse_mailbox - Local-part "@" Domain */
static enum addr_err parse_mailbox(struct cur *c, struct smtp_path *out)
{
	enum addr_err e;

	if (c->i < c->len && c->s[c->i] == '"')
		e = parse_quoted(c, out);
	else
		e = parse_dotstring(c, out);
	if (e != ADDR_OK)
		return e;
	if (out->local_len == 0 || c->i >= c->len || c->s[c->i] != '@')
		return ADDR_ERR_SYNTAX;
	c->i++;
	return parse_domain(c, out->domain, &out->domain_literal, &out->utf8);
}

/* is_end - true at end of input or at SP/TAB (where a path may end) */
static int is_end(const struct cur *c, size_t i)
{
	return i >= c->len || c->s[i] == ' ' || c->s[i] == '\t';
}

/* try_postmaster - bare "postmaster" (RFC 5321 4.5.1) ending at term, or at
 * SP/TAB/end when term is 0; consumes it on success */
static int try_postmaster(struct cur *c, struct smtp_path *out, char term)
{
	static const char pm[] = "postmaster";
	size_t n = sizeof(pm) - 1, k;

	if (!(c->flags & ADDR_ALLOW_POSTMASTER) || c->len - c->i < n)
		return 0;
	for (k = 0; k < n; k++)
		if (lower(c->s[c->i + k]) != (unsigned char)pm[k])
			return 0;
	if (term ? (c->i + n >= c->len || c->s[c->i + n] != term)
		 : !is_end(c, c->i + n))
		return 0;
	local_put(out, c->s + c->i, n);
	out->is_postmaster = 1;
	c->i += n;
	return 1;
}

/* parse_bracketed - "<" ... ">" at c->i, then SP/TAB/end must follow */
static enum addr_err parse_bracketed(struct cur *c, struct smtp_path *out)
{
	size_t start = c->i;
	enum addr_err e;

	c->i++;
	if (c->i < c->len && c->s[c->i] == '>' &&
	    (c->flags & ADDR_ALLOW_NULL)) {
		out->is_null = 1;
	} else if (!try_postmaster(c, out, '>')) {
		if (c->i < c->len && c->s[c->i] == '@' &&
		    (e = parse_route(c)) != ADDR_OK)
			return e;
		if ((e = parse_mailbox(c, out)) != ADDR_OK)
			return e;
	}
	if (c->i >= c->len || c->s[c->i] != '>')
		return ADDR_ERR_SYNTAX;
	c->i++;
	if (!is_end(c, c->i))
		return ADDR_ERR_SYNTAX;
	if (c->i - start > ADDR_PATH_MAX)
		return ADDR_ERR_PATH_TOO_LONG;
	return ADDR_OK;
}

/* parse_bare - unbracketed mailbox ending at SP/TAB/end */
static enum addr_err parse_bare(struct cur *c, struct smtp_path *out)
{
	size_t start = c->i;
	enum addr_err e;

	if (!try_postmaster(c, out, 0)) {
		if ((e = parse_mailbox(c, out)) != ADDR_OK)
			return e;
		if (!is_end(c, c->i))
			return ADDR_ERR_SYNTAX;
	}
	if (c->i - start + 2 > ADDR_PATH_MAX)	/* as if bracketed */
		return ADDR_ERR_PATH_TOO_LONG;
	return ADDR_OK;
}

/* addr_parse_path - parse a reverse-path or forward-path (RFC 5321 4.1.2) */
enum addr_err addr_parse_path(const char *s, size_t len, unsigned flags,
			      struct smtp_path *out, size_t *consumed)
{
	struct cur c = { (const unsigned char *)s, len, 0, flags };
	enum addr_err e;

	memset(out, 0, sizeof(*out));
	while (c.i < len && (s[c.i] == ' ' || s[c.i] == '\t'))
		c.i++;
	if (c.i >= len)
		return ADDR_ERR_EMPTY;
	if (memchr(s, '\0', len))
		return ADDR_ERR_SYNTAX;
	if (s[c.i] == '<')
		e = parse_bracketed(&c, out);
	else
		e = parse_bare(&c, out);
	if (e != ADDR_OK) {
		memset(out, 0, sizeof(*out));
		return e;
	}
	*consumed = c.i;
	return ADDR_OK;
}

/* is_dotstring - true if the decoded local part can be written unquoted */
static int is_dotstring(const char *l, size_t n)
{
	size_t k;

	if (n == 0 || l[0] == '.' || l[n - 1] == '.')
		return 0;
	for (k = 0; k < n; k++) {
		unsigned char ch = (unsigned char)l[k];

		if (ch == '.' && l[k + 1] == '.')
			return 0;
		if (ch != '.' && ch < 0x80 && !is_atext(ch))
			return 0;
	}
	return 1;
}

/* bounded writer for addr_format: counts everything, stores what fits */
struct wr {
	char *dst;
	size_t sz;
	size_t n;
};

/* wr_put - append n bytes (stored only while they fit before the NUL) */
static void wr_put(struct wr *w, const char *p, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++, w->n++)
		if (w->dst && w->n + 1 < w->sz)
			w->dst[w->n] = p[k];
}

/* addr_format - canonical text of a parsed path (RFC 5321 4.1.2 quoting) */
size_t addr_format(const struct smtp_path *p, char *dst, size_t dstsz)
{
	struct wr w = { dst, dstsz, 0 };
	size_t k;

	if (p->is_null) {
		/* nothing */
	} else if (p->is_postmaster) {
		wr_put(&w, "postmaster", 10);
	} else {
		if (is_dotstring(p->local, p->local_len)) {
			wr_put(&w, p->local, p->local_len);
		} else {
			wr_put(&w, "\"", 1);
			for (k = 0; k < p->local_len; k++) {
				if (p->local[k] == '"' || p->local[k] == '\\')
					wr_put(&w, "\\", 1);
				wr_put(&w, p->local + k, 1);
			}
			wr_put(&w, "\"", 1);
		}
		wr_put(&w, "@", 1);
		wr_put(&w, p->domain, strlen(p->domain));
	}
	if (!dst)
		return w.n;
	if (dstsz == 0)
		return 0;
	if (w.n >= dstsz)
		w.n = dstsz - 1;
	dst[w.n] = '\0';
	return w.n;
}

/* addr_domain_valid - HELO/EHLO argument check (same rules as in paths) */
int addr_domain_valid(const char *s, size_t len, int allow_utf8)
{
	struct cur c = { (const unsigned char *)s, len, 0,
			 allow_utf8 ? ADDR_ALLOW_UTF8 : 0 };
	char dom[ADDR_DOMAIN_MAX + 1];
	int lit, u8 = 0;

	if (len == 0 || memchr(s, '\0', len))
		return 0;
	if (parse_domain(&c, dom, &lit, &u8) != ADDR_OK)
		return 0;
	return c.i == len;
}

/* addr_mailbox_safe - non-empty, no '/', no control byte, no leading '.' */
int addr_mailbox_safe(const char *s)
{
	if (!s || !*s || *s == '.')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* params - ESMTP parameters of MAIL FROM and RCPT TO (pure, bounded).
 *
 * Public: params_parse_mail, params_parse_rcpt.
 * Grammar (RFC 5321 4.1.2): esmtp-param = esmtp-keyword ["=" esmtp-value],
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
 * esmtp-value = 1*(%d33-60 / %d62-126).  Tokens are separated by SP or TAB.
 * Every token is checked for syntax first (PARAM_SYNTAX), then looked up
 * (PARAM_UNKNOWN), then its value is checked (PARAM_SYNTAX / PARAM_TOO_BIG).
 * Invariants: no allocation; decoded values are written with their bounds
 * checked (xtext_decode) and never hold a control byte; SIZE is accumulated
 * with an overflow check before every multiply-add.
 */
#include "smtp/params.h"

#include <limits.h>
#include <string.h>

#include "smtp/xtext.h"

/* one "KEYWORD[=VALUE]" token */
struct ptok {
	const char *kw;
	size_t kwlen;
	const char *val;	/* NULL when there was no "=" */
	size_t vallen;
};

/* is_alnum - ASCII letter or digit */
static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* is_sp - parameter separator */
static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* next_tok - read the next token at s[*pos]; t->kw is NULL at the end */
static enum param_err next_tok(const char *s, size_t len, size_t *pos,
			       struct ptok *t)
{
	size_t i = *pos;

	memset(t, 0, sizeof(*t));
	while (i < len && is_sp(s[i]))
		i++;
	*pos = i;
	if (i >= len)
		return PARAM_OK;
	t->kw = s + i;
	if (!is_alnum((unsigned char)s[i]))
		return PARAM_SYNTAX;
	while (i < len && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	t->kwlen = (size_t)(s + i - t->kw);
	if (i < len && s[i] == '=') {
		t->val = s + ++i;
		while (i < len && !is_sp(s[i])) {
			unsigned char c = (unsigned char)s[i];

			if (c < 33 || c > 126 || c == '=')
				return PARAM_SYNTAX;
			i++;
		}
		t->vallen = (size_t)(s + i - t->val);
		if (t->vallen == 0)
			return PARAM_SYNTAX;
	}
	if (i < len && !is_sp(s[i]))
		return PARAM_SYNTAX;
	*pos = i;
	return PARAM_OK;
}

/* ieq - case-insensitive compare of s[0..n) with the C string word */
static int ieq(const char *s, size_t n, const char *word)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char a = (unsigned char)s[k];
		unsigned char b = (unsigned char)word[k];

		if (b == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return word[n] == '\0';
}

/* has_ctl - true if p[0..n) holds a control byte (< 0x20 or 0x7f) */
static int has_ctl(const char *p, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if ((unsigned char)p[k] < 0x20 || p[k] == 0x7f)
			return 1;
	return 0;
}

/* decode_xtext - xtext value into dst[dstsz]; refuses control bytes */
static enum param_err decode_xtext(const struct ptok *t, char *dst,
				   size_t dstsz, size_t *outlen)
{
	long n;

	if (!t->val)
		return PARAM_SYNTAX;
	n = xtext_decode(t->val, t->vallen, dst, dstsz);
	if (n < 0 || has_ctl(dst, (size_t)n))
		return PARAM_SYNTAX;
	*outlen = (size_t)n;
	return PARAM_OK;
}

/* do_size - RFC 1870 SIZE=digits, no overflow ever */
static enum param_err do_size(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;
	long long v = 0;
	size_t k;

	if (!t->val)
		return PARAM_SYNTAX;
	for (k = 0; k < t->vallen; k++)
		if (t->val[k] < '0' || t->val[k] > '9')
			return PARAM_SYNTAX;
	for (k = 0; k < t->vallen; k++) {
		int d = t->val[k] - '0';

		if (v > (LLONG_MAX - d) / 10)
			return PARAM_TOO_BIG;
		v = v * 10 + d;
	}
	m->size = v;
	return PARAM_OK;
}

/* do_body - RFC 6152 BODY=7BIT|8BITMIME */
static enum param_err do_body(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;

	if (t->val && ieq(t->val, t->vallen, "7bit"))
		m->body = BODY_7BIT;
	else if (t->val && ieq(t->val, t->vallen, "8bitmime"))
		m->body = BODY_8BITMIME;
	else
		return PARAM_SYNTAX;
	return PARAM_OK;
}

/* do_smtputf8 - RFC 6531 3.4 SMTPUTF8, takes no value */
static enum param_err do_smtputf8(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;

	if (t->val)
		return PARAM_SYNTAX;
	m->smtputf8 = 1;
	return PARAM_OK;
}

/* do_ret - RFC 3461 4.3 RET=FULL|HDRS */
static enum param_err do_ret(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;

	if (t->val && ieq(t->val, t->vallen, "full"))
		m->ret = RET_FULL;
	else if (t->val && ieq(t->val, t->vallen, "hdrs"))
		m->ret = RET_HDRS;
	else
		return PARAM_SYNTAX;
	return PARAM_OK;
}

/* do_envid - RFC 3461 4.4 ENVID=xtext, at most ENVID_MAX octets decoded */
static enum param_err do_envid(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;
	enum param_err e;

	e = decode_xtext(t, m->envid, sizeof(m->envid), &m->envid_len);
	if (e == PARAM_OK)
		m->has_envid = 1;
	return e;
}

/* do_auth - RFC 4954 5 AUTH=xtext or AUTH=<> */
static enum param_err do_auth(void *ctx, const struct ptok *t)
{
	struct mail_params *m = ctx;
	enum param_err e;

	if (t->val && t->vallen == 2 && memcmp(t->val, "<>", 2) == 0) {
		memcpy(m->auth, "<>", 3);
		m->auth_len = 2;
		e = PARAM_OK;
	} else {
		e = decode_xtext(t, m->auth, sizeof(m->auth), &m->auth_len);
	}
	if (e == PARAM_OK)
		m->has_auth = 1;
	return e;
}

/* do_notify - RFC 3461 4.1 NOTIFY=NEVER or a list of SUCCESS,FAILURE,DELAY */
static enum param_err do_notify(void *ctx, const struct ptok *t)
{
	static const struct { const char *name; unsigned bit; } kw[] = {
		{ "never", NOTIFY_NEVER }, { "success", NOTIFY_SUCCESS },
		{ "failure", NOTIFY_FAILURE }, { "delay", NOTIFY_DELAY },
	};
	struct rcpt_params *r = ctx;
	const char *p, *end, *comma;
	unsigned bits = 0, bit;
	size_t k;

	if (!t->val)
		return PARAM_SYNTAX;
	p = t->val;
	end = t->val + t->vallen;
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		for (bit = 0, k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
			if (ieq(p, (size_t)(comma - p), kw[k].name))
				bit = kw[k].bit;
		if (bit == 0 || (bits & bit))
			return PARAM_SYNTAX;
		bits |= bit;
		if (comma == end)
			break;
		p = comma + 1;
	}
	if ((bits & NOTIFY_NEVER) && bits != NOTIFY_NEVER)
		return PARAM_SYNTAX;
	r->notify = bits;
	return PARAM_OK;
}

/* is_atom_char - RFC 5322 atext, used for the ORCPT addr-type */
static int is_atom_char(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* do_orcpt - RFC 3461 4.2 ORCPT=addr-type;xtext */
static enum param_err do_orcpt(void *ctx, const struct ptok *t)
{
	struct rcpt_params *r = ctx;
	struct ptok x;
	const char *semi;
	size_t tlen, k;

	if (!t->val || t->vallen > ORCPT_MAX)
		return PARAM_SYNTAX;
	semi = memchr(t->val, ';', t->vallen);
	if (!semi)
		return PARAM_SYNTAX;
	tlen = (size_t)(semi - t->val);
	if (tlen == 0 || tlen >= sizeof(r->orcpt_type))
		return PARAM_SYNTAX;
	for (k = 0; k < tlen; k++)
		if (!is_atom_char((unsigned char)t->val[k]))
			return PARAM_SYNTAX;
	x.kw = t->kw;
	x.kwlen = t->kwlen;
	x.val = semi + 1;
	x.vallen = t->vallen - tlen - 1;
	if (x.vallen == 0 || decode_xtext(&x, r->orcpt, sizeof(r->orcpt),
					  &r->orcpt_len) != PARAM_OK)
		return PARAM_SYNTAX;
	memcpy(r->orcpt_type, t->val, tlen);
	r->orcpt_type[tlen] = '\0';
	r->has_orcpt = 1;
	return PARAM_OK;
}

/* a supported keyword and its handler */
struct pdef {
	const char *name;
	enum param_err (*fn)(void *ctx, const struct ptok *t);
};

static const struct pdef mail_defs[] = {
	{ "size", do_size }, { "body", do_body }, { "smtputf8", do_smtputf8 },
	{ "ret", do_ret }, { "envid", do_envid }, { "auth", do_auth },
	{ NULL, NULL },
};

static const struct pdef rcpt_defs[] = {
	{ "notify", do_notify }, { "orcpt", do_orcpt }, { NULL, NULL },
};

/* parse_all - tokenize s and run each keyword's handler once at most */
static enum param_err parse_all(const char *s, size_t len,
				const struct pdef *defs, void *ctx,
				const char **bad)
{
	struct ptok t;
	size_t pos = 0, k;
	unsigned seen = 0;
	enum param_err e;

	if (bad)
		*bad = NULL;
	for (;;) {
		e = next_tok(s, len, &pos, &t);
		if (e == PARAM_OK && !t.kw)
			return PARAM_OK;
		for (k = 0; e == PARAM_OK && defs[k].name; k++)
			if (ieq(t.kw, t.kwlen, defs[k].name))
				break;
		if (e == PARAM_OK && !defs[k].name)
			e = PARAM_UNKNOWN;
		else if (e == PARAM_OK && (seen & (1u << k)))
			e = PARAM_SYNTAX;	/* given twice */
		if (e == PARAM_OK) {
			seen |= 1u << k;
			e = defs[k].fn(ctx, &t);
		}
		if (e != PARAM_OK) {
			if (bad)
				*bad = t.kw;
			return e;
		}
	}
}

/* params_parse_mail - parse the ESMTP parameters of MAIL FROM */
enum param_err params_parse_mail(const char *s, size_t len,
				 struct mail_params *out, const char **bad)
{
	memset(out, 0, sizeof(*out));
	out->size = -1;
	return parse_all(s, len, mail_defs, out, bad);
}

/* params_parse_rcpt - parse the ESMTP parameters of RCPT TO */
enum param_err params_parse_rcpt(const char *s, size_t len,
				 struct rcpt_params *out, const char **bad)
{
	memset(out, 0, sizeof(*out));
	return parse_all(s, len, rcpt_defs, out, bad);
}

/* jsonparse - strict, bounded JSON reader.
 *
 * Public: jv_parse, jv_free, jv_get, jv_str, jv_int, jv_bool.
 * Invariants: a node is zeroed before anything is parsed into it and an
 * array's or object's kid count grows before the kid is parsed, so a tree
 * that failed half-way is always safe to free; the recursion depth is at
 * most JSONP_DEPTH_MAX.
 */
#include "util/jsonparse.h"
#include "util/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define NUM_MAX 64		/* bytes of one number */

struct jp {
	const unsigned char *s;
	size_t n, pos;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int parse_value(struct jp *p, struct jv *v, unsigned depth);

/* fail - record the first error at the current offset; -1 */
__attribute__((format(printf, 2, 3)))
static int fail(struct jp *p, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->errlen)
		snprintf(p->err, p->errlen, "offset %zu: %s", p->pos, what);
	return -1;
}

/* skip_ws - RFC 8259 2: space, tab, LF, CR */
static void skip_ws(struct jp *p)
{
	while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				 p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/* literal - true, false or null */
static int literal(struct jp *p, const char *word, struct jv *v, enum jv_type t)
{
	size_t k = strlen(word);

	if (p->n - p->pos < k || memcmp(p->s + p->pos, word, k) != 0)
		return fail(p, "unexpected character");
	p->pos += k;
	v->type = t;
	return 0;
}

/* digits - skip a run of digits; how many */
static size_t digits(struct jp *p)
{
	size_t k = 0;

	while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		p->pos++;
		k++;
	}
	return k;
}

/* number - RFC 8259 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct jp *p, struct jv *v)
{
	size_t start = p->pos, k;
	char tmp[NUM_MAX + 1];
	int whole = 1;

	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->n && p->s[p->pos] == '0')
		p->pos++;
	else if (digits(p) == 0)
		return fail(p, "bad number");
	if (p->pos < p->n && p->s[p->pos] == '.') {
		p->pos++;
		whole = 0;
		if (digits(p) == 0)
			return fail(p, "bad number");
	}
	if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		whole = 0;
		if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (digits(p) == 0)
			return fail(p, "bad number");
	}
	k = p->pos - start;
	if (k > NUM_MAX)
		return fail(p, "number too long");
	memcpy(tmp, p->s + start, k);
	tmp[k] = '\0';
	v->type = JV_NUMBER;
	v->num = strtod(tmp, NULL);
	if (whole) {
		errno = 0;
		v->inum = strtoll(tmp, NULL, 10);
		v->is_int = errno == 0;
	}
	return 0;
}

/* hex4 - the 4 hex digits at p->pos into *u; 0 or -1 */
static int hex4(struct jp *p, unsigned *u)
{
	size_t i;

	if (p->n - p->pos < 4)
		return fail(p, "short \\u escape");
	*u = 0;
	for (i = 0; i < 4; i++) {
		unsigned char c = p->s[p->pos + i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return fail(p, "bad \\u escape");
		*u = *u * 16 + d;
	}
	p->pos += 4;
	return 0;
}

/* put_utf8 - append code point u as UTF-8 */
static int put_utf8(buf_t *b, unsigned u)
{
	unsigned char o[4];
	size_t k;

	if (u < 0x80) {
		o[0] = (unsigned char)u;
		k = 1;
	} else if (u < 0x800) {
		o[0] = (unsigned char)(0xc0 | (u >> 6));
		o[1] = (unsigned char)(0x80 | (u & 0x3f));
		k = 2;
	} else if (u < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (u >> 12));
		o[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (u & 0x3f));
		k = 3;
	} else {
		o[0] = (unsigned char)(0xf0 | (u >> 18));
		o[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
		o[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
		o[3] = (unsigned char)(0x80 | (u & 0x3f));
		k = 4;
	}
	return buf_append(b, o, k);
}

/* unicode_escape - \uXXXX (after the "\u"), a surrogate pair as one code
 * point (RFC 8259 7) */
static int unicode_escape(struct jp *p, buf_t *b)
{
	unsigned u, lo;

	if (hex4(p, &u) < 0)
		return -1;
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(p, "lone low surrogate");
	if (u >= 0xd800 && u <= 0xdbff) {
		if (p->n - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
			return fail(p, "lone high surrogate");
		p->pos += 2;
		if (hex4(p, &lo) < 0)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(p, "bad surrogate pair");
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	}
	return put_utf8(b, u) < 0 ? fail(p, "out of memory") : 0;
}

/* escape - one escape sequence after the backslash */
static int escape(struct jp *p, buf_t *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	unsigned char c;

	if (p->pos >= p->n)
		return fail(p, "unterminated string");
	c = p->s[p->pos++];
	if (c == 'u')
		return unicode_escape(p, b);
	k = c ? strchr(from, c) : NULL;
	if (!k)
		return fail(p, "bad escape");
	return buf_putc(b, to[k - from]) < 0 ? fail(p, "out of memory") : 0;
}

/* string - a string at the opening quote into *out and *len (malloc'ed) */
static int string(struct jp *p, char **out, size_t *len)
{
	buf_t b;
	size_t run, k;

	buf_init(&b);
	p->pos++;
	for (;;) {
		unsigned char c;

		for (run = p->pos; run < p->n && p->s[run] >= 0x20 && p->s[run] < 0x80 &&
		     p->s[run] != '"' && p->s[run] != '\\'; run++)
			;
		if (buf_append(&b, p->s + p->pos, run - p->pos) < 0)
			goto nomem;
		p->pos = run;
		if (p->pos >= p->n) {
			fail(p, "unterminated string");
			goto bad;
		}
		c = p->s[p->pos];
		if (c == '"')
			break;
		if (c == '\\') {
			p->pos++;
			if (escape(p, &b) < 0)
				goto bad;
			continue;
		}
		if (c < 0x20) {
			fail(p, "control character in string");
			goto bad;
		}
		k = json_utf8_len(p->s + p->pos, p->n - p->pos);
		if (k == 0) {
			fail(p, "invalid UTF-8");
			goto bad;
		}
		if (buf_append(&b, p->s + p->pos, k) < 0)
			goto nomem;
		p->pos += k;
	}
	p->pos++;
	if (!b.data && buf_reserve(&b, 0) < 0)
		goto nomem;
	*len = b.len;
	*out = buf_steal(&b);
	return 0;
nomem:
	fail(p, "out of memory");
bad:
	buf_free(&b);
	return -1;
}

/* add_kid - a new zeroed kid at the end of v's kids */
static struct jv *add_kid(struct jp *p, struct jv *v)
{
	struct jv *k;

	if (++p->nodes > JSONP_NODES_MAX) {
		fail(p, "too many values");
		return NULL;
	}
	if (v->nkids == SIZE_MAX / sizeof(*k) - 1) {
		fail(p, "out of memory");
		return NULL;
	}
	k = realloc(v->kids, (v->nkids + 1) * sizeof(*k));
	if (!k) {
		fail(p, "out of memory");
		return NULL;
	}
	v->kids = k;
	memset(&k[v->nkids], 0, sizeof(*k));
	return &k[v->nkids++];
}

/* has_key - is key already a member of v (all but its last kid)? */
static int has_key(const struct jv *v, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < v->nkids; i++)
		if (v->kids[i].keylen == len && memcmp(v->kids[i].key, key, len) == 0)
			return 1;
	return 0;
}

/* member - "key": value of an object, into a new kid of v */
static int member(struct jp *p, struct jv *v, unsigned depth)
{
	struct jv *k = add_kid(p, v);

	if (!k)
		return -1;
	skip_ws(p);
	if (p->pos >= p->n || p->s[p->pos] != '"')
		return fail(p, "object key expected");
	if (string(p, &k->key, &k->keylen) < 0)
		return -1;
	if (v->nkids > 1 && has_key(v, k->key, k->keylen))
		return fail(p, "duplicate key");
	skip_ws(p);
	if (p->pos >= p->n || p->s[p->pos] != ':')
		return fail(p, "':' expected");
	p->pos++;
	return parse_value(p, k, depth);
}

/* container - an array or an object at its opening bracket */
static int container(struct jp *p, struct jv *v, unsigned depth)
{
	int obj = p->s[p->pos] == '{';
	char close = obj ? '}' : ']';

	if (depth >= JSONP_DEPTH_MAX)
		return fail(p, "nested too deeply");
	v->type = obj ? JV_OBJECT : JV_ARRAY;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->n && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		struct jv *k;

		if (obj) {
			if (member(p, v, depth + 1) < 0)
				return -1;
		} else {
			k = add_kid(p, v);
			if (!k || parse_value(p, k, depth + 1) < 0)
				return -1;
		}
		skip_ws(p);
		if (p->pos >= p->n)
			return fail(p, "unterminated %s", obj ? "object" : "array");
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return fail(p, "',' or '%c' expected", close);
		p->pos++;
	}
}

/* parse_value - one value, white space around it skipped */
static int parse_value(struct jp *p, struct jv *v, unsigned depth)
{
	unsigned char c;
	int rc;

	skip_ws(p);
	if (p->pos >= p->n)
		return fail(p, "value expected");
	c = p->s[p->pos];
	if (c == '{' || c == '[')
		rc = container(p, v, depth);
	else if (c == '"') {
		v->type = JV_STRING;
		rc = string(p, &v->str, &v->len);
	} else if (c == '-' || (c >= '0' && c <= '9'))
		rc = number(p, v);
	else if (c == 't')
		rc = literal(p, "true", v, JV_TRUE);
	else if (c == 'f')
		rc = literal(p, "false", v, JV_FALSE);
	else if (c == 'n')
		rc = literal(p, "null", v, JV_NULL);
	else
		rc = fail(p, "unexpected character");
	if (rc == 0)
		skip_ws(p);
	return rc;
}

/* jv_parse - the whole input as one value */
int jv_parse(const char *s, size_t n, struct jv **out, char *err, size_t errlen)
{
	struct jp p = { (const unsigned char *)s, n, 0, 1, err, errlen };
	struct jv *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (!v)
		return fail(&p, "out of memory");
	if (parse_value(&p, v, 0) < 0 ||
	    (p.pos < p.n && fail(&p, "data after the value") < 0)) {
		jv_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* free_inner - what a node owns */
static void free_inner(struct jv *v)
{
	size_t i;

	for (i = 0; i < v->nkids; i++)
		free_inner(&v->kids[i]);
	free(v->kids);
	free(v->key);
	free(v->str);
}

/* jv_free - free a whole tree */
void jv_free(struct jv *v)
{
	if (!v)
		return;
	free_inner(v);
	free(v);
}

/* jv_get - an object's member by key */
const struct jv *jv_get(const struct jv *v, const char *key)
{
	size_t i, len = strlen(key);

	if (!v || v->type != JV_OBJECT)
		return NULL;
	for (i = 0; i < v->nkids; i++)
		if (v->kids[i].keylen == len && memcmp(v->kids[i].key, key, len) == 0)
			return &v->kids[i];
	return NULL;
}

/* jv_str - a string member */
const char *jv_str(const struct jv *v, const char *key)
{
	const struct jv *m = jv_get(v, key);

	return m && m->type == JV_STRING ? m->str : NULL;
}

/* jv_int - an integer member */
int jv_int(const struct jv *v, const char *key, long long *out)
{
	const struct jv *m = jv_get(v, key);

	if (!m || m->type != JV_NUMBER || !m->is_int)
		return -1;
	*out = m->inum;
	return 0;
}

/* jv_bool - a boolean member */
int jv_bool(const struct jv *v, const char *key)
{
	const struct jv *m = jv_get(v, key);

	if (!m || (m->type != JV_TRUE && m->type != JV_FALSE))
		return -1;
	return m->type == JV_TRUE;
}

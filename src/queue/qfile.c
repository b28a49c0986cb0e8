/* qfile - encode and decode the on-disk queue file format (pure, no I/O).
 *
 * Public: qfile_encode_envelope, qfile_decode_envelope, qfile_trailer,
 * qfile_check_trailer, qfile_decode_done, qfile_encode_status,
 * qfile_encode_hold.
 * Invariants: every free-form value is xtext-encoded (RFC 3461 4), so a
 * record is always exactly one line whatever bytes the client sent; the
 * decoder accepts only what the encoder writes (known keys, no duplicates,
 * exact field counts) and leaves the envelope empty when it fails.  Values
 * stored in C strings (everything but envid and orcpt) can never hold a
 * NUL: a record decoding to one is rejected rather than truncated.  In rcpt
 * records "-" stands for NULL, so a literal "-" is written as "+2D".
 */
#include "queue/qfile.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtp/xtext.h"

#define TRAILER_PREFIX "\nMPQ-END "
#define TRAILER_PREFIX_LEN 9
#define RCPT_FIELDS 8
#define ARRIVAL_MAX 999999999999999999LL	/* 18 digits, see get_num */

enum rec_bit {
	R_ID = 1 << 0, R_ARRIVAL = 1 << 1, R_CLIENT = 1 << 2, R_HELO = 1 << 3,
	R_PROTO = 1 << 4, R_FROM = 1 << 5, R_BODY = 1 << 6, R_UTF8 = 1 << 7,
	R_RET = 1 << 8, R_ENVID = 1 << 9, R_AUTH = 1 << 10,
};

static const char *const body_words[] = { "none", "7bit", "8bitmime" };
static const char *const ret_words[] = { "none", "full", "hdrs" };

/* qid_valid - is s[0..n) a queue id: 1..QID_MAX of [0-9A-Za-z]? */
static int qid_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > QID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z')))
			return 0;
	}
	return 1;
}

/* put_xtext - append n bytes of s xtext-encoded ("-" becomes "+2D") */
static int put_xtext(buf_t *out, const char *s, size_t n)
{
	long r;

	if (n == 1 && s[0] == '-')
		return buf_puts(out, "+2D");
	if (n > (SIZE_MAX - 1) / 3 || buf_reserve(out, 3 * n + 1) < 0)
		return -1;
	r = xtext_encode(s, n, out->data + out->len, out->cap - out->len);
	if (r < 0)
		return -1;
	out->len += (size_t)r;
	out->data[out->len] = '\0';
	return 0;
}

/* put_opt - append " " and an optional field: "-" for NULL */
static int put_opt(buf_t *out, const char *s, size_t n)
{
	if (buf_putc(out, ' ') < 0)
		return -1;
	if (!s)
		return buf_putc(out, '-');
	return put_xtext(out, s, n);
}

/* put_rec - append the record "<key> <xtext of s[0..n)>\n" */
static int put_rec(buf_t *out, const char *key, const char *s, size_t n)
{
	if (buf_printf(out, "%s ", key) < 0 || put_xtext(out, s, n) < 0)
		return -1;
	return buf_putc(out, '\n');
}

/* put_rcpt - append one "rcpt ..." record */
static int put_rcpt(buf_t *out, const struct env_rcpt *r)
{
	const char *kind = r->kind == RCPT_RELAY ? "relay" : "local";

	if (buf_printf(out, "rcpt %s", kind) < 0 ||
	    put_opt(out, r->addr, r->addr ? strlen(r->addr) : 0) < 0 ||
	    put_opt(out, r->domain, r->domain ? strlen(r->domain) : 0) < 0 ||
	    put_opt(out, r->mailbox, r->mailbox ? strlen(r->mailbox) : 0) < 0 ||
	    put_opt(out, r->orig, r->orig ? strlen(r->orig) : 0) < 0 ||
	    buf_printf(out, " %u", r->notify) < 0)
		return -1;
	if (r->orcpt_type && r->orcpt) {
		if (put_opt(out, r->orcpt_type, strlen(r->orcpt_type)) < 0 ||
		    put_opt(out, r->orcpt, r->orcpt_len) < 0)
			return -1;
	} else if (buf_puts(out, " - -") < 0) {
		return -1;
	}
	return buf_putc(out, '\n');
}

/* put_header - append the magic and the per-message records */
static int put_header(const struct envelope *e, buf_t *out)
{
	const char *from = e->sender ? e->sender : "";

	if (buf_puts(out, QFILE_MAGIC) < 0 ||
	    buf_printf(out, "id %s\narrival %lld\n", e->qid, e->arrival) < 0)
		return -1;
	if (e->client_addr &&
	    put_rec(out, "client", e->client_addr, strlen(e->client_addr)) < 0)
		return -1;
	if (e->helo && put_rec(out, "helo", e->helo, strlen(e->helo)) < 0)
		return -1;
	if (e->proto && put_rec(out, "proto", e->proto, strlen(e->proto)) < 0)
		return -1;
	if (put_rec(out, "from", from, strlen(from)) < 0 ||
	    buf_printf(out, "body %s\nsmtputf8 %d\nret %s\n",
		       body_words[e->body], e->smtputf8 ? 1 : 0,
		       ret_words[e->ret]) < 0)
		return -1;
	if (e->envid && put_rec(out, "envid", e->envid, e->envid_len) < 0)
		return -1;
	if (e->auth && put_rec(out, "auth", e->auth, strlen(e->auth)) < 0)
		return -1;
	return 0;
}

/* encodable - would the decoder accept this envelope back? */
static int encodable(const struct envelope *e)
{
	size_t i;

	if (!qid_valid(e->qid, strnlen(e->qid, QID_MAX + 1)) ||
	    (unsigned)e->body > BODY_8BITMIME || (unsigned)e->ret > RET_HDRS ||
	    e->arrival < 0 || e->arrival > ARRIVAL_MAX || e->nrcpts == 0)
		return 0;
	for (i = 0; i < e->nrcpts; i++) {
		const struct env_rcpt *r = &e->rcpts[i];

		if (!r->addr || !r->domain || r->notify > 15 ||
		    (r->kind != RCPT_LOCAL && r->kind != RCPT_RELAY))
			return 0;
	}
	return 1;
}

/* qfile_encode_envelope - append the magic, the records and ".\n" to out;
 * refuses (-1) what the decoder would reject; on failure out is left as
 * it was */
int qfile_encode_envelope(const struct envelope *e, buf_t *out)
{
	size_t start = out->len, i;

	if (!encodable(e))
		return -1;
	if (put_header(e, out) < 0)
		goto fail;
	for (i = 0; i < e->nrcpts; i++)
		if (put_rcpt(out, &e->rcpts[i]) < 0)
			goto fail;
	if (buf_puts(out, ".\n") < 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return -1;
}

/* get_bytes - xtext-decode v[0..n) into a new heap string; -1 if malformed */
static int get_bytes(const char *v, size_t n, char **out, size_t *outlen)
{
	char *d = malloc(n + 1);
	long r;

	if (!d)
		return -1;
	r = xtext_decode(v, n, d, n + 1);
	if (r < 0) {
		free(d);
		return -1;
	}
	free(*out);
	*out = d;
	if (outlen)
		*outlen = (size_t)r;
	return 0;
}

/* get_str - like get_bytes, but the value must not hold a NUL */
static int get_str(const char *v, size_t n, char **out)
{
	size_t len;

	if (get_bytes(v, n, out, &len) < 0)
		return -1;
	return memchr(*out, '\0', len) ? -1 : 0;
}

/* get_opt_str - an optional rcpt field: "-" is NULL */
static int get_opt_str(const char *v, size_t n, char **out)
{
	if (n == 1 && v[0] == '-')
		return 0;
	return get_str(v, n, out);
}

/* get_num - strict decimal (digits only, at most 18) */
static int get_num(const char *v, size_t n, long long *out)
{
	long long x = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

/* get_word - index of v[0..n) in words[0..nw), -1 if absent */
static int get_word(const char *v, size_t n, const char *const *words, int nw)
{
	int i;

	for (i = 0; i < nw; i++)
		if (strlen(words[i]) == n && memcmp(words[i], v, n) == 0)
			return i;
	return -1;
}

/* split_fields - cut v[0..n) at single spaces into exactly nf fields */
static int split_fields(const char *v, size_t n, const char **f, size_t *fl,
			int nf)
{
	int k = 0;
	size_t start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && v[i] != ' ')
			continue;
		if (k == nf)
			return -1;
		f[k] = v + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	return k == nf ? 0 : -1;
}

/* get_rcpt - decode the value of a "rcpt" record into a new recipient */
static int get_rcpt(const char *v, size_t n, struct envelope *e)
{
	const char *f[RCPT_FIELDS];
	size_t fl[RCPT_FIELDS];
	struct env_rcpt *r;
	long long notify;
	int kind;

	if (split_fields(v, n, f, fl, RCPT_FIELDS) < 0)
		return -1;
	kind = get_word(f[0], fl[0], (const char *const[]){ "local", "relay" }, 2);
	if (kind < 0 || get_num(f[5], fl[5], &notify) < 0 || notify > 15)
		return -1;
	r = envelope_add_rcpt(e);
	if (!r)
		return -1;
	r->kind = kind == 1 ? RCPT_RELAY : RCPT_LOCAL;
	r->notify = (unsigned)notify;
	if (get_opt_str(f[1], fl[1], &r->addr) < 0 || !r->addr ||
	    get_opt_str(f[2], fl[2], &r->domain) < 0 || !r->domain ||
	    get_opt_str(f[3], fl[3], &r->mailbox) < 0 ||
	    get_opt_str(f[4], fl[4], &r->orig) < 0 ||
	    get_opt_str(f[6], fl[6], &r->orcpt_type) < 0)
		return -1;
	if (fl[7] == 1 && f[7][0] == '-')
		return r->orcpt_type ? -1 : 0;
	if (!r->orcpt_type)
		return -1;
	return get_bytes(f[7], fl[7], &r->orcpt, &r->orcpt_len);
}

/* get_scalar - decode the value of a non-string record */
static int get_scalar(int bit, const char *v, size_t n, struct envelope *e)
{
	int w;

	switch (bit) {
	case R_ID:
		if (!qid_valid(v, n))
			return -1;
		memcpy(e->qid, v, n);
		e->qid[n] = '\0';
		return 0;
	case R_ARRIVAL:
		return get_num(v, n, &e->arrival);
	case R_BODY:
		w = get_word(v, n, body_words, 3);
		e->body = (enum body_type)w;
		return w < 0 ? -1 : 0;
	case R_UTF8:
		if (n != 1 || (v[0] != '0' && v[0] != '1'))
			return -1;
		e->smtputf8 = v[0] == '1';
		return 0;
	default:
		w = get_word(v, n, ret_words, 3);
		e->ret = (enum dsn_ret)w;
		return w < 0 ? -1 : 0;
	}
}

/* get_record - decode one record line (without its LF) */
static int get_record(const char *line, size_t n, struct envelope *e,
		      unsigned *seen)
{
	static const struct { const char *key; int bit; } keys[] = {
		{ "id", R_ID }, { "arrival", R_ARRIVAL }, { "client", R_CLIENT },
		{ "helo", R_HELO }, { "proto", R_PROTO }, { "from", R_FROM },
		{ "body", R_BODY }, { "smtputf8", R_UTF8 }, { "ret", R_RET },
		{ "envid", R_ENVID }, { "auth", R_AUTH },
	};
	const char *sp = memchr(line, ' ', n), *v;
	size_t kl, vn, i;

	if (!sp)
		return -1;
	kl = (size_t)(sp - line);
	v = sp + 1;
	vn = n - kl - 1;
	if (kl == 4 && memcmp(line, "rcpt", 4) == 0)
		return get_rcpt(v, vn, e);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].key) == kl && memcmp(keys[i].key, line, kl) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]) || (*seen & (unsigned)keys[i].bit))
		return -1;
	*seen |= (unsigned)keys[i].bit;
	switch (keys[i].bit) {
	case R_CLIENT: return get_str(v, vn, &e->client_addr);
	case R_HELO: return get_str(v, vn, &e->helo);
	case R_PROTO: return get_str(v, vn, &e->proto);
	case R_FROM: return get_str(v, vn, &e->sender);
	case R_AUTH: return get_str(v, vn, &e->auth);
	case R_ENVID: return get_bytes(v, vn, &e->envid, &e->envid_len);
	default: return get_scalar(keys[i].bit, v, vn, e);
	}
}

/* qfile_decode_envelope - parse the envelope at the start of data[0..len);
 * returns its length, 0 when more data is needed, -1 when malformed.  e
 * must be initialised; it is cleared first and left empty unless > 0. */
long qfile_decode_envelope(const char *data, size_t len, struct envelope *e)
{
	const size_t ml = sizeof(QFILE_MAGIC) - 1;
	unsigned seen = 0;
	size_t off = ml;

	envelope_clear(e);
	if (len < ml)
		return len == 0 || memcmp(data, QFILE_MAGIC, len) == 0 ? 0 : -1;
	if (memcmp(data, QFILE_MAGIC, ml) != 0)
		return -1;
	for (;;) {
		const char *line = data + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n;

		if (!nl) {
			envelope_clear(e);
			return len - off >= QFILE_ENV_MAX ? -1 : 0;
		}
		n = (size_t)(nl - line);
		if (off + n + 1 > QFILE_ENV_MAX)
			break;
		if (n == 1 && line[0] == '.') {
			if ((seen & (R_ID | R_ARRIVAL | R_FROM)) !=
			    (R_ID | R_ARRIVAL | R_FROM) || e->nrcpts == 0)
				break;
			return (long)(off + 2);
		}
		if (get_record(line, n, e, &seen) < 0)
			break;
		off += n + 1;
	}
	envelope_clear(e);
	return -1;
}

/* qfile_trailer - format the trailer for a message of n bytes */
void qfile_trailer(unsigned long long n, char *out)
{
	snprintf(out, QFILE_TRAILER_LEN + 1, TRAILER_PREFIX "%016llx\n", n);
}

/* qfile_check_trailer - parse a trailer; the byte count or -1 */
long long qfile_check_trailer(const char *t, size_t len)
{
	unsigned long long n = 0;
	size_t i;

	if (len != QFILE_TRAILER_LEN ||
	    memcmp(t, TRAILER_PREFIX, TRAILER_PREFIX_LEN) != 0 ||
	    t[QFILE_TRAILER_LEN - 1] != '\n')
		return -1;
	for (i = TRAILER_PREFIX_LEN; i < QFILE_TRAILER_LEN - 1; i++) {
		char c = t[i];

		if (c >= '0' && c <= '9')
			n = n * 16 + (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			n = n * 16 + (unsigned)(c - 'a' + 10);
		else
			return -1;
	}
	return n > (unsigned long long)LLONG_MAX ? -1 : (long long)n;
}

/* put_status - append " <code> <enh> <remote> <text>" */
static int put_status(buf_t *out, const struct dstatus *st)
{
	if (buf_printf(out, " %d", st->code >= 0 && st->code <= 999 ? st->code : 0) < 0 ||
	    put_opt(out, st->enh[0] ? st->enh : NULL, strlen(st->enh)) < 0 ||
	    put_opt(out, st->remote[0] ? st->remote : NULL, strlen(st->remote)) < 0 ||
	    put_opt(out, st->text[0] ? st->text : NULL, strlen(st->text)) < 0)
		return -1;
	return 0;
}

/* qfile_encode_status - one recipient's status record */
int qfile_encode_status(const struct envelope *e, size_t i, buf_t *out)
{
	const struct env_rcpt *r = &e->rcpts[i];

	if (r->done) {
		if (buf_printf(out, "%zu %s", i, r->last.cls == DS_PERM ? "failed" : "sent") < 0)
			return -1;
	} else if (buf_printf(out, "%zu deferred %u %lld %lld %d", i, r->attempts,
			      r->next_try, r->first_fail, r->delay_notified ? 1 : 0) < 0) {
		return -1;
	}
	if (put_status(out, &r->last) < 0)
		return -1;
	return buf_putc(out, '\n');
}

/* qfile_encode_hold - "hold 0|1" */
int qfile_encode_hold(int hold, buf_t *out)
{
	return buf_printf(out, "hold %d\n", hold ? 1 : 0);
}

/* get_fixed - an optional xtext field into a fixed buffer ("-": empty) */
static int get_fixed(const char *v, size_t n, char *out, size_t cap)
{
	long r;

	out[0] = '\0';
	if (n == 1 && v[0] == '-')
		return 0;
	r = xtext_decode(v, n, out, cap);
	if (r < 0 || memchr(out, '\0', (size_t)r))
		return -1;
	return 0;
}

/* get_status - "<code> <enh> <remote> <text>" from fields f[0..4) */
static int get_status(const char **f, const size_t *fl, enum dclass cls, struct dstatus *st)
{
	long long code;

	memset(st, 0, sizeof(*st));
	if (get_num(f[0], fl[0], &code) < 0 || code > 999 ||
	    get_fixed(f[1], fl[1], st->enh, sizeof(st->enh)) < 0 ||
	    get_fixed(f[2], fl[2], st->remote, sizeof(st->remote)) < 0 ||
	    get_fixed(f[3], fl[3], st->text, sizeof(st->text)) < 0)
		return -1;
	st->cls = cls;
	st->code = (int)code;
	return 0;
}

/* status_line - apply one record "<i> <kind> ..." (the index already read) */
static void status_line(struct env_rcpt *r, const char *v, size_t n)
{
	const char *f[9];
	size_t fl[9];
	long long at, next, first, notified;
	struct dstatus st;

	if (n > 5 && memcmp(v, "sent ", 5) == 0 && split_fields(v + 5, n - 5, f, fl, 4) == 0 &&
	    get_status(f, fl, DS_OK, &st) == 0) {
		r->done = 1;
		r->last = st;
	} else if (n > 7 && memcmp(v, "failed ", 7) == 0 &&
		   split_fields(v + 7, n - 7, f, fl, 4) == 0 &&
		   get_status(f, fl, DS_PERM, &st) == 0) {
		r->done = 1;
		r->last = st;
	} else if (n > 9 && memcmp(v, "deferred ", 9) == 0 &&
		   split_fields(v + 9, n - 9, f, fl, 8) == 0 &&
		   get_num(f[0], fl[0], &at) == 0 && at <= UINT32_MAX &&
		   get_num(f[1], fl[1], &next) == 0 && get_num(f[2], fl[2], &first) == 0 &&
		   get_num(f[3], fl[3], &notified) == 0 && notified <= 1 &&
		   get_status(f + 4, fl + 4, DS_TEMP, &st) == 0) {
		r->done = 0;
		r->attempts = (unsigned)at;
		r->next_try = next;
		r->first_fail = first;
		r->delay_notified = (int)notified;
		r->last = st;
	}
}

/* qfile_decode_done - apply a status file; only complete lines count (a
 * torn last line is ignored), and a line that does not parse changes
 * nothing */
void qfile_decode_done(const char *data, size_t len, struct envelope *e)
{
	size_t off = 0;

	while (off < len) {
		const char *line = data + off;
		const char *nl = memchr(line, '\n', len - off);
		unsigned long long x = 0;
		size_t n, i;

		if (!nl)
			return;
		n = (size_t)(nl - line);
		off += n + 1;
		if (n == 6 && (memcmp(line, "hold 1", 6) == 0 || memcmp(line, "hold 0", 6) == 0)) {
			e->hold = line[5] == '1';
			continue;
		}
		for (i = 0; i < n && i < 19 && line[i] >= '0' && line[i] <= '9'; i++)
			x = x * 10 + (unsigned)(line[i] - '0');
		if (i == 0 || x >= e->nrcpts)
			continue;
		if (i == n)
			e->rcpts[x].done = 1;	/* format 1 */
		else if (line[i] == ' ')
			status_line(&e->rcpts[x], line + i + 1, n - i - 1);
	}
}

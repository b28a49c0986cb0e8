/* request - parse and format control socket request lines.
 *
 * Public: ctl_req_parse, ctl_req_format, ctl_qid_ok, ctl_domain_ok,
 * ctl_verb_name.
 * Invariant: a parsed request holds only characters the grammar in
 * request.h allows, so it is safe to log, to pass to the queue and to
 * format back into the identical line.
 */
#include "ctl/request.h"

#include <stdio.h>
#include <string.h>

#define WORDS_MAX 3		/* the longest request: flush --domain D */

static const char *const verb_names[] = {
	[CTL_LIST] = "list", [CTL_SHOW] = "show", [CTL_FLUSH] = "flush",
	[CTL_REMOVE] = "remove", [CTL_HOLD] = "hold", [CTL_RELEASE] = "release",
	[CTL_RELOAD] = "reload",
};

/* A word of the line: a pointer into it and a length. */
struct word {
	const char *p;
	size_t n;
};

/* ctl_verb_name - the verb's word */
const char *ctl_verb_name(enum ctl_verb v)
{
	return (unsigned)v < sizeof(verb_names) / sizeof(verb_names[0]) ? verb_names[v] : "?";
}

/* is_alnum - ASCII letter or digit (no locale) */
static int is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* qid_word - a queue id: [0-9A-Za-z]{1,QID_MAX} */
static int qid_word(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > QID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/* domain_word - a domain name or an address literal "[...]" */
static int domain_word(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CTL_DOMAIN_MAX)
		return 0;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return 0;
		for (i = 1; i + 1 < n; i++)
			if (!is_alnum((unsigned char)s[i]) && !strchr(".:-", s[i]))
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

/* ctl_qid_ok - a C string queue id */
int ctl_qid_ok(const char *s)
{
	return qid_word(s, strlen(s));
}

/* ctl_domain_ok - a C string --domain argument */
int ctl_domain_ok(const char *s)
{
	return domain_word(s, strlen(s));
}

/* is_word - does w hold exactly the C string s? */
static int is_word(const struct word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

/* split - the line into words separated by single spaces; the count, or
 * -1 with *why */
static int split(const char *line, size_t len, struct word *w, const char **why)
{
	size_t i, start = 0;
	int k = 0;

	if (len == 0) {
		*why = "empty request";
		return -1;
	}
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)line[i] : ' ';

		if (c != ' ') {
			if (c < 0x21 || c > 0x7e) {
				*why = "control or non-ASCII character in request";
				return -1;
			}
			continue;
		}
		if (i == start) {
			*why = "malformed request (empty word)";
			return -1;
		}
		if (k == WORDS_MAX) {
			*why = "too many words in request";
			return -1;
		}
		w[k].p = line + start;
		w[k].n = i - start;
		k++;
		start = i + 1;
	}
	return k;
}

/* take_qid - word w as the request's queue id */
static int take_qid(const struct word *w, struct ctl_req *r, const char **why)
{
	if (!qid_word(w->p, w->n)) {
		*why = "malformed queue id";
		return -1;
	}
	memcpy(r->qid, w->p, w->n);
	r->qid[w->n] = '\0';
	return 0;
}

/* find_verb - the verb of word w; 0, or -1 */
static int find_verb(const struct word *w, enum ctl_verb *v)
{
	size_t i;

	for (i = 0; i < sizeof(verb_names) / sizeof(verb_names[0]); i++)
		if (is_word(w, verb_names[i])) {
			*v = (enum ctl_verb)i;
			return 0;
		}
	return -1;
}

/* args_flush - flush [QID | --domain D] */
static int args_flush(const struct word *w, int n, struct ctl_req *r, const char **why)
{
	if (n == 1)
		return 0;
	if (is_word(&w[1], "--domain")) {
		if (n != 3 || !domain_word(w[2].p, w[2].n)) {
			*why = n != 3 ? "usage: flush --domain DOMAIN" : "malformed domain";
			return -1;
		}
		memcpy(r->domain, w[2].p, w[2].n);
		r->domain[w[2].n] = '\0';
		return 0;
	}
	if (n != 2) {
		*why = "usage: flush [QID | --domain DOMAIN]";
		return -1;
	}
	return take_qid(&w[1], r, why);
}

/* ctl_req_parse - one request line */
int ctl_req_parse(const char *line, size_t len, struct ctl_req *r, const char **why)
{
	struct word w[WORDS_MAX];
	int n;

	memset(r, 0, sizeof(*r));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= CTL_REQ_MAX) {
		*why = "request too long";
		return -1;
	}
	n = split(line, len, w, why);
	if (n < 0)
		return -1;
	if (find_verb(&w[0], &r->verb) < 0) {
		*why = "unknown request";
		return -1;
	}
	switch (r->verb) {
	case CTL_LIST:
	case CTL_RELOAD:
		if (n == 1)
			return 0;
		*why = r->verb == CTL_LIST ? "usage: list" : "usage: reload";
		return -1;
	case CTL_FLUSH:
		return args_flush(w, n, r, why);
	case CTL_REMOVE:
		if (n == 2 && is_word(&w[1], "--all")) {
			r->all = 1;
			return 0;
		}
		break;
	case CTL_SHOW:
	case CTL_HOLD:
	case CTL_RELEASE:
		break;
	}
	if (n != 2) {
		*why = r->verb == CTL_REMOVE ? "usage: remove QID | remove --all"
					     : "usage: show|hold|release QID";
		return -1;
	}
	return take_qid(&w[1], r, why);
}

/* valid - does r satisfy the grammar? */
static int valid(const struct ctl_req *r)
{
	int has_qid = r->qid[0] != '\0', has_dom = r->domain[0] != '\0';

	if ((has_qid && !ctl_qid_ok(r->qid)) || (has_dom && !ctl_domain_ok(r->domain)))
		return 0;
	switch (r->verb) {
	case CTL_LIST:
	case CTL_RELOAD:
		return !has_qid && !has_dom && !r->all;
	case CTL_FLUSH:
		return !(has_qid && has_dom) && !r->all;
	case CTL_REMOVE:
		return !has_dom && (has_qid != r->all);
	case CTL_SHOW:
	case CTL_HOLD:
	case CTL_RELEASE:
		return has_qid && !has_dom && !r->all;
	}
	return 0;
}

/* ctl_req_format - the line the parser reads back as r */
int ctl_req_format(const struct ctl_req *r, char *out, size_t n)
{
	const char *verb = ctl_verb_name(r->verb);
	int k;

	if (!valid(r))
		return -1;
	if (r->all)
		k = snprintf(out, n, "%s --all\n", verb);
	else if (r->domain[0])
		k = snprintf(out, n, "%s --domain %s\n", verb, r->domain);
	else if (r->qid[0])
		k = snprintf(out, n, "%s %s\n", verb, r->qid);
	else
		k = snprintf(out, n, "%s\n", verb);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

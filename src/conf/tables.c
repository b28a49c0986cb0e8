/* tables - load and query the users file and the aliases file.
 *
 * Public: users_load, users_free, users_exists, users_hash, users_count,
 * users_hash_count,
 * aliases_load, aliases_free, aliases_lookup.
 * Both tables are hash maps (util/strmap) keyed by the lowercased address
 * or alias name, so a lookup costs O(1) whatever the file size.  Once
 * loaded they are never modified, so sessions on several threads may read
 * them at once.  Lines are read with getline(3) (no fixed buffer) and a
 * line longer than TABLE_LINE_MAX is an error.  Every problem is reported as
 * "<path>:<line>: <message>\n" in the caller's error buffer; loading goes
 * on to collect every error (up to TABLE_MAX_ERRORS) and then fails.
 * Text quoted in a message is escaped (log_escape) and capped.
 * Limits follow RFC 5321 4.5.3.1: local part 64 octets, domain 255.
 */
#include "conf/tables.h"
#include "conf/cfiles.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/strmap.h"

#define TABLE_LINE_MAX 65536
#define TABLE_MAX_ERRORS 100
#define LOCAL_MAX 64
#define DOMAIN_MAX 255
#define ADDR_MAX (LOCAL_MAX + 1 + DOMAIN_MAX)

struct users {
	struct strmap map;		/* lowercased address -> hash or NULL */
	size_t nhash;			/* entries with a password hash */
};

struct alias_entry {
	char **v;			/* targets in file order, no duplicates */
	size_t n, cap;
};

struct aliases {
	struct strmap map;		/* lowercased name -> struct alias_entry */
};

/* One table file being read: the line reader and the error sink. */
struct reader {
	FILE *f;
	const char *path;
	buf_t *errors;
	char *line;
	size_t cap;
	unsigned long lineno;
	unsigned nerr;
};

/* An aliases entry being built (it may go on over continuation lines). */
struct pending {
	char *name;			/* NULL: no entry open */
	struct alias_entry *e;
	struct strmap seen;		/* lowercased targets of this entry */
	unsigned long line;		/* where the entry starts */
	int bad;			/* an error was reported for it */
};

/* rd_error_at - append "path:line: message" to the errors */
__attribute__((format(printf, 3, 4)))
static void rd_error_at(struct reader *r, unsigned long line,
			const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	r->nerr++;
	if (!r->errors || r->nerr > TABLE_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->nerr == TABLE_MAX_ERRORS)
		buf_printf(r->errors, "%s:%lu: too many errors, giving up\n",
			   r->path, line);
	else
		buf_printf(r->errors, "%s:%lu: %s\n", r->path, line, msg);
}

/* reader_open - open path for reading; on failure report it and return -1 */
static int reader_open(struct reader *r, struct cfiles *src, const char *path, buf_t *errors)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->errors = errors;
	r->f = cfiles_open(src, path);
	if (r->f)
		return 0;
	if (errors)
		buf_printf(errors, "%s: cannot open: %s\n", path, strerror(errno));
	return -1;
}

/* reader_close - close the file and free the line buffer */
static void reader_close(struct reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->line);
	r->f = NULL;
	r->line = NULL;
}

/* next_line - the next line without its CR/LF; 1, or 0 at end of file.
 * Over-long lines and lines holding NUL bytes are reported and skipped. */
static int next_line(struct reader *r, char **line)
{
	ssize_t n;

	while (r->nerr < TABLE_MAX_ERRORS) {
		n = getline(&r->line, &r->cap, r->f);
		if (n < 0) {
			if (ferror(r->f))
				rd_error_at(r, r->lineno, "read error");
			return 0;
		}
		r->lineno++;
		if (n > 0 && r->line[n - 1] == '\n')
			r->line[--n] = '\0';
		if (n > 0 && r->line[n - 1] == '\r')
			r->line[--n] = '\0';
		if (n > TABLE_LINE_MAX) {
			rd_error_at(r, r->lineno, "line too long (more than %d bytes)",
				    TABLE_LINE_MAX);
		} else if (memchr(r->line, '\0', (size_t)n)) {
			rd_error_at(r, r->lineno, "NUL byte in line");
		} else {
			*line = r->line;
			return 1;
		}
	}
	return 0;
}

/* is_blank - SP or TAB */
static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* trim - strip blanks at both ends, in place */
static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* lower - lowercase ASCII letters in place */
static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* has_space_or_ctl - does s contain whitespace, a control byte or DEL? */
static int has_space_or_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

/* check_addr - NULL if s is "local" (when bare_ok) or "local@domain" with
 * sane lengths and no blanks/controls, else why not */
static const char *check_addr(const char *s, int bare_ok)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s);

	if (*s == '\0')
		return "empty";
	if (has_space_or_ctl(s))
		return "contains whitespace or control characters";
	if (strpbrk(s, "\",;<>()\\"))
		return "contains a character that would need quoting";
	if (!at && !bare_ok)
		return "not an address (local@domain)";
	if (at && (at == s || at[1] == '\0'))
		return "empty local part or domain";
	if ((size_t)((at ? at : s + len) - s) > LOCAL_MAX)
		return "local part too long";
	if (at && strlen(at + 1) > DOMAIN_MAX)
		return "domain too long";
	return NULL;
}

/* lower_key - lowercase copy of a (+ "@" b) into key (ADDR_MAX + 1 bytes);
 * -1 if it does not fit (no such key can be in a table) */
static int lower_key(char *key, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;

	if (la + (b ? 1 + lb : 0) > ADDR_MAX)
		return -1;
	memcpy(key, a, la);
	if (b) {
		key[la] = '@';
		memcpy(key + la + 1, b, lb);
		la += 1 + lb;
	}
	key[la] = '\0';
	lower(key);
	return 0;
}

/* ---- users ---- */

/* users_line - parse one "address[:hash]" line into u */
static void users_line(struct users *u, struct reader *r, char *s)
{
	char esc[LOG_ESC_SIZE];
	char *at, *colon, *hash = NULL;
	const char *why;
	int added;

	s = trim(s);
	if (*s == '\0' || *s == '#')
		return;
	at = strrchr(s, '@');
	colon = strchr(at ? at : s, ':');
	if (colon) {
		*colon = '\0';
		hash = trim(colon + 1);
		s = trim(s);
	}
	if ((why = check_addr(s, 0)) != NULL) {
		rd_error_at(r, r->lineno, "address '%s': %s", log_show(esc, s), why);
		return;
	}
	if (hash && (*hash == '\0' || has_space_or_ctl(hash) || strchr(hash, ':'))) {
		rd_error_at(r, r->lineno, "bad password hash for '%s'", log_show(esc, s));
		return;
	}
	if (hash && !(hash = strdup(hash)))
		goto oom;
	lower(s);
	added = strmap_put(&u->map, s, hash);
	if (added == 1) {
		u->nhash += hash != NULL;
		return;
	}
	free(hash);
	if (added < 0)
		goto oom;
	rd_error_at(r, r->lineno, "duplicate address '%s'", log_show(esc, s));
	return;
oom:
	rd_error_at(r, r->lineno, "out of memory");
}

/* users_load - read a users file; returns 0, or -1 with errors written */
int users_load(const char *path, struct users **out, buf_t *errors)
{
	return users_load_from(NULL, path, out, errors);
}

/* users_load_from - the same through src (conf/cfiles.h) */
int users_load_from(struct cfiles *src, const char *path, struct users **out, buf_t *errors)
{
	struct reader r;
	struct users *u;
	char *line;

	*out = NULL;
	if (reader_open(&r, src, path, errors) < 0)
		return -1;
	u = calloc(1, sizeof(*u));
	if (!u) {
		rd_error_at(&r, 0, "out of memory");
		reader_close(&r);
		return -1;
	}
	strmap_init(&u->map);
	while (next_line(&r, &line))
		users_line(u, &r, line);
	reader_close(&r);
	if (r.nerr) {
		users_free(u);
		return -1;
	}
	*out = u;
	return 0;
}

/* users_free - free the table (NULL is fine) */
void users_free(struct users *u)
{
	if (!u)
		return;
	strmap_free(&u->map, free);
	free(u);
}

/* users_exists - is this address (any case) listed? */
int users_exists(const struct users *u, const char *addr)
{
	char key[ADDR_MAX + 1];

	if (!u || !addr || lower_key(key, addr, NULL) < 0)
		return 0;
	return strmap_get(&u->map, key, NULL);
}

/* users_hash - the crypt(3) hash for the address, or NULL (none / unknown) */
const char *users_hash(const struct users *u, const char *addr)
{
	char key[ADDR_MAX + 1];
	void *hash;

	if (!u || !addr || lower_key(key, addr, NULL) < 0)
		return NULL;
	if (!strmap_get(&u->map, key, &hash))
		return NULL;
	return hash;
}

/* users_count - number of addresses in the table */
size_t users_count(const struct users *u)
{
	return u ? u->map.n : 0;
}

/* users_hash_count - entries that carry a password hash */
size_t users_hash_count(const struct users *u)
{
	return u ? u->nhash : 0;
}

/* ---- aliases ---- */

/* entry_free - free one aliases entry and its targets */
static void entry_free(void *p)
{
	struct alias_entry *e = p;
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	free(e);
}

/* entry_add - append target t unless already there (any case); 0 or -1 */
static int entry_add(struct pending *p, const char *t)
{
	char key[ADDR_MAX + 1];
	struct alias_entry *e = p->e;
	char **nv;
	int r;

	if (lower_key(key, t, NULL) < 0)
		return -1;
	r = strmap_put(&p->seen, key, NULL);
	if (r <= 0)
		return r;
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 4;
		nv = realloc(e->v, e->cap * sizeof(*nv));
		if (!nv)
			return -1;
		e->v = nv;
	}
	if (!(e->v[e->n] = strdup(t)))
		return -1;
	e->n++;
	return 0;
}

/* check_target - NULL if t is an acceptable alias target, else why not */
static const char *check_target(const char *t)
{
	if (*t == '|')
		return "delivery to a command is not supported";
	if (*t == '/')
		return "delivery to a file is not supported";
	if (strncasecmp(t, ":include:", 9) == 0)
		return ":include: lists are not supported";
	return check_addr(t, 1);
}

/* add_target - check one target and add it to the pending entry */
static void add_target(struct pending *p, struct reader *r, const char *t)
{
	char esc[LOG_ESC_SIZE];
	const char *why = check_target(t);

	if (why) {
		rd_error_at(r, r->lineno, "alias target '%s': %s", log_show(esc, t), why);
		p->bad = 1;
	} else if (entry_add(p, t) < 0) {
		rd_error_at(r, r->lineno, "out of memory");
		p->bad = 1;
	}
}

/* next_target - cut the next target off *sp: a run up to ',' (blanks
 * trimmed) or a "quoted" string; NULL at the end of the list or on a
 * quoting error (reported) */
static char *next_target(struct pending *p, struct reader *r, char **sp)
{
	char *s = *sp, *t, *end;

	while (is_blank(*s) || *s == ',')
		s++;
	if (*s == '\0')
		return NULL;
	if (*s == '"') {
		t = s + 1;
		end = strchr(t, '"');
		if (!end || (end[1] && !is_blank(end[1]) && end[1] != ',')) {
			rd_error_at(r, r->lineno, "bad quoting in alias targets");
			p->bad = 1;
			return NULL;
		}
		*end = '\0';
		*sp = end + 1;
		return t;
	}
	t = s;
	s += strcspn(s, ",");
	if (*s)
		*s++ = '\0';
	*sp = s;
	return trim(t);
}

/* parse_targets - add every target of a comma separated list */
static void parse_targets(struct pending *p, struct reader *r, char *s)
{
	char *t;

	while ((t = next_target(p, r, &s)) != NULL)
		add_target(p, r, t);
}

/* pending_finish - store the open entry (if it is good) and close it */
static void pending_finish(struct aliases *a, struct pending *p,
			   struct reader *r)
{
	char esc[LOG_ESC_SIZE];
	int added = 0;

	if (!p->name)
		return;
	if (!p->bad && p->e->n == 0)
		rd_error_at(r, p->line, "alias '%s' has no targets",
			    log_show(esc, p->name));
	else if (!p->bad)
		added = strmap_put(&a->map, p->name, p->e);
	if (added < 0)
		rd_error_at(r, p->line, "out of memory");
	else if (added == 0 && !p->bad && p->e->n)
		rd_error_at(r, p->line, "duplicate alias '%s'", log_show(esc, p->name));
	if (added != 1)
		entry_free(p->e);
	free(p->name);
	strmap_free(&p->seen, NULL);
	p->name = NULL;
	p->e = NULL;
}

/* pending_start - open an entry from a "name: targets" line */
static void pending_start(struct pending *p, struct reader *r, char *s)
{
	char esc[LOG_ESC_SIZE];
	char *colon = strchr(s, ':'), *name;
	const char *why;

	p->line = r->lineno;
	p->bad = 1;		/* until the entry is open */
	if (!colon) {
		rd_error_at(r, r->lineno, "missing ':' after the alias name");
		return;
	}
	*colon = '\0';
	name = trim(s);
	if ((why = check_addr(name, 1)) != NULL) {
		rd_error_at(r, r->lineno, "alias name '%s': %s", log_show(esc, name), why);
		return;
	}
	lower(name);
	p->name = strdup(name);
	p->e = calloc(1, sizeof(*p->e));
	if (!p->name || !p->e) {
		free(p->name);
		free(p->e);
		p->name = NULL;
		p->e = NULL;
		rd_error_at(r, r->lineno, "out of memory");
		return;
	}
	strmap_init(&p->seen);
	p->bad = 0;
	parse_targets(p, r, colon + 1);
}

/* aliases_line - one physical line: comment, continuation or new entry */
static void aliases_line(struct aliases *a, struct pending *p,
			 struct reader *r, char *line)
{
	char *s = line;

	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return;
	if (s != line) {
		if (p->name)
			parse_targets(p, r, s);
		else if (!p->bad)
			rd_error_at(r, r->lineno,
				    "continuation line without an alias entry");
		return;
	}
	pending_finish(a, p, r);
	pending_start(p, r, s);
}

/* aliases_load - read an aliases file; returns 0, or -1 with errors written */
int aliases_load(const char *path, struct aliases **out, buf_t *errors)
{
	return aliases_load_from(NULL, path, out, errors);
}

/* aliases_load_from - the same through src (conf/cfiles.h) */
int aliases_load_from(struct cfiles *src, const char *path, struct aliases **out,
		      buf_t *errors)
{
	struct reader r;
	struct pending p;
	struct aliases *a;
	char *line;

	*out = NULL;
	if (reader_open(&r, src, path, errors) < 0)
		return -1;
	a = calloc(1, sizeof(*a));
	if (!a) {
		rd_error_at(&r, 0, "out of memory");
		reader_close(&r);
		return -1;
	}
	strmap_init(&a->map);
	memset(&p, 0, sizeof(p));
	while (next_line(&r, &line))
		aliases_line(a, &p, &r, line);
	pending_finish(a, &p, &r);
	reader_close(&r);
	if (r.nerr) {
		aliases_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* aliases_free - free the table (NULL is fine) */
void aliases_free(struct aliases *a)
{
	if (!a)
		return;
	strmap_free(&a->map, entry_free);
	free(a);
}

/* entry_targets - the target array of a stored entry, its size in *n */
static const char *const *entry_targets(void *v, size_t *n)
{
	struct alias_entry *e = v;

	if (n)
		*n = e->n;
	return (const char *const *)e->v;
}

/* aliases_lookup - targets for local@domain: the full address wins over
 * the bare local part; NULL (and *n = 0) when there is no entry.  domain
 * may be NULL or empty to look up the local part only. */
const char *const *aliases_lookup(const struct aliases *a, const char *local,
				  const char *domain, size_t *n)
{
	char key[ADDR_MAX + 1];
	void *v;

	if (n)
		*n = 0;
	if (!a || !local)
		return NULL;
	if (domain && *domain && lower_key(key, local, domain) == 0 &&
	    strmap_get(&a->map, key, &v))
		return entry_targets(v, n);
	if (lower_key(key, local, NULL) == 0 && strmap_get(&a->map, key, &v))
		return entry_targets(v, n);
	return NULL;
}

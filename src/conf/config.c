/* config - load mailport.conf (INI, parsed by inih), apply the defaults,
 * validate every value and load the users/aliases tables it names.
 *
 * Public: config_load, config_ref, config_unref, config_is_local_domain,
 * config_trace_client.
 *
 * Invariants: a config returned by config_load is complete (every default
 * filled in, every value checked) and never changes afterwards; it is
 * shared between threads and freed, tables included, when the last
 * reference goes (refs is only touched with __atomic builtins).
 *
 * How the file is read: inih pulls lines through conf_reader (our
 * ini_reader), which numbers them, so that every error can be reported as
 * "path:line: message" without inih's optional line-number callback, and
 * which settles the shape of each line before inih sees it:
 *  - blank lines and comment lines (first non-blank ';' or '#') are
 *    skipped; ';' after a blank starts an inline comment (inih's rule);
 *  - "[section]" must be well formed and known; keys of an unknown section
 *    are skipped after one error for the section header;
 *  - a line starting with SP/TAB right after a key line (comment lines in
 *    between allowed) continues that key's value, as in inih and Python's
 *    configparser; only list keys accept it, which is also how a list too
 *    long for inih's line buffer is written; other indented lines are
 *    ordinary lines, their indentation ignored;
 *  - "key = value" (or "key: value") lines must have the separator;
 *  - control characters and over-long lines are errors.
 * Section and key names are case-insensitive.  The users and aliases paths
 * are used as written (a relative one is relative to the working directory).
 * A broken line is handed to inih as an empty line, so inih never reports
 * errors of its own and parsing goes on: all errors are collected (up to
 * CONF_MAX_ERRORS), then config_load fails.  Nothing is printed.
 */
#include "conf/config.h"
#include "conf/cfiles.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/tables.h"
#include "dns/route.h"
#include "tls/tlsctx.h"
#include "util/fsutil.h"
#include "util/log.h"

#define CONF_MAX_ERRORS 100
#define ITEM_MAX 300		/* longest list item */
#define DOMAIN_MAX 253		/* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX 63
#define BANNER_MAX 400		/* keeps the 220 line well under 512 octets */
#define USER_MAX 32
#define MAX_MESSAGE_SIZE_MAX (1LL << 40)

#define DEFAULT_LISTEN "127.0.0.1:2525"
#define DEFAULT_RELAY "127.0.0.1/32, ::1/128"
#define DEFAULT_SUBMISSION "127.0.0.1:5587"
#define DEFAULT_SUBMISSIONS "127.0.0.1:5465"

struct load;
struct key;

typedef void setter_fn(struct load *ld, const struct key *k, const char *v);

/* One known key: where it lives, how it is parsed, its numeric range. */
struct key {
	const char *section;
	const char *name;
	setter_fn *set;
	size_t off;			/* offset of the field in struct config */
	long long min, max;		/* for numbers */
	int list;			/* accepts continuation lines */
};

static setter_fn set_duration, set_outbound, set_smarthost, set_dns_servers, set_smarthost_auth;
static setter_fn set_uint, set_size, set_hostname, set_listen, set_path,
	set_opt_path, set_user, set_banner, set_trace, set_log_level,
	set_domains, set_networks, set_bool;

#define OFF(field) offsetof(struct config, field)

static const struct key keys[] = {
	{ "server", "hostname", set_hostname, OFF(hostname), 0, 0, 0 },
	/* for set_listen, min is the listen_role */
	{ "server", "listen", set_listen, 0, ROLE_MX, 0, 1 },
	{ "server", "submission", set_listen, 0, ROLE_SUBMISSION, 0, 1 },
	{ "server", "submissions", set_listen, 0, ROLE_SUBMISSIONS, 0, 1 },
	{ "server", "max_auth_failures", set_uint, OFF(max_auth_failures), 1, 100, 0 },
	{ "server", "spool", set_path, OFF(spool), 0, 0, 0 },
	{ "server", "user", set_user, OFF(user), 0, 0, 0 },
	{ "server", "banner", set_banner, OFF(banner), 0, 0, 0 },
	{ "server", "max_message_size", set_size, OFF(max_message_size),
	  1, MAX_MESSAGE_SIZE_MAX, 0 },
	{ "server", "max_recipients", set_uint, OFF(max_recipients),
	  1, 1000000, 0 },
	{ "server", "max_errors", set_uint, OFF(max_errors), 1, 1000, 0 },
	{ "server", "max_rcpt_rejects", set_uint, OFF(max_rcpt_rejects), 1, 1000000, 0 },
	{ "server", "rcpt_reject_delay_after", set_uint, OFF(rcpt_reject_delay_after),
	  0, 1000000, 0 },
	{ "server", "listen_backlog", set_uint, OFF(listen_backlog), 1, 65535, 0 },
	{ "server", "timeout", set_uint, OFF(timeout), 1, 86400, 0 },
	{ "server", "max_connections_per_ip", set_uint,
	  OFF(max_connections_per_ip), 1, 100000, 0 },
	{ "server", "max_connections", set_uint, OFF(max_connections),
	  1, 100000, 0 },
	{ "server", "greet_pause", set_uint, OFF(greet_pause_ms), 0, 60000, 0 },
	{ "server", "trace", set_trace, OFF(trace_networks), 0, 0, 1 },
	{ "server", "log_level", set_log_level, 0, 0, 0, 0 },
	{ "server", "seccomp", set_bool, OFF(seccomp), 0, 0, 0 },
	{ "local", "domains", set_domains, 0, 0, 0, 1 },
	{ "local", "mailboxes", set_path, OFF(mailboxes), 0, 0, 0 },
	{ "local", "users", set_opt_path, OFF(users_path), 0, 0, 0 },
	{ "local", "aliases", set_opt_path, OFF(aliases_path), 0, 0, 0 },
	{ "relay", "networks", set_networks, OFF(relay_networks), 0, 0, 1 },
	{ "tls", "cert", set_opt_path, OFF(tls_cert), 0, 0, 0 },
	{ "tls", "key", set_opt_path, OFF(tls_key), 0, 0, 0 },
	{ "tls", "allow_plaintext_auth", set_bool, OFF(allow_plaintext_auth), 0, 0, 0 },
	{ "submission", "sender_must_match_login", set_bool,
	  OFF(sender_must_match_login), 0, 0, 0 },
	{ "submission", "auth_on_mx", set_bool, OFF(auth_on_mx), 0, 0, 0 },
	{ "relay", "smarthost", set_smarthost, OFF(smarthost), 0, 0, 0 },
	{ "relay", "smarthost_auth", set_smarthost_auth, OFF(smarthost_user), 0, 0, 0 },
	{ "dns", "servers", set_dns_servers, OFF(dns_servers), 0, 0, 1 },
	{ "tls", "outbound", set_outbound, OFF(tls_outbound), 0, 0, 0 },
	{ "tls", "ca_file", set_opt_path, OFF(tls_ca_file), 0, 0, 0 },
	{ "queue", "retry_min", set_duration, OFF(retry_min), 1, 86400 * 30, 0 },
	{ "queue", "retry_max", set_duration, OFF(retry_max), 1, 86400 * 30, 0 },
	{ "queue", "max_lifetime", set_duration, OFF(max_lifetime), 1, 86400 * 365, 0 },
	{ "queue", "delay_warning", set_duration, OFF(delay_warning), 1, 86400 * 365, 0 },
	{ "smtp", "port", set_uint, OFF(smtp_port), 1, 65535, 0 },
	{ "smtp", "max_connections", set_uint, OFF(smtp_max_connections), 1, 100000, 0 },
	{ "smtp", "connections_per_destination", set_uint, OFF(smtp_per_destination),
	  1, 100000, 0 },
	{ "smtp", "connect_timeout", set_duration, OFF(smtp_connect_timeout), 1, 3600, 0 },
	{ "smtp", "command_timeout", set_duration, OFF(smtp_command_timeout), 1, 3600, 0 },
	{ "smtp", "data_timeout", set_duration, OFF(smtp_data_timeout), 1, 3600, 0 },
	{ "smtp", "dot_timeout", set_duration, OFF(smtp_dot_timeout), 1, 3600, 0 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = { "server", "local", "relay", "tls", "submission",
					"dns", "queue", "smtp" };

#define SECT_NONE (-1)		/* before the first section header */
#define SECT_BAD (-2)		/* in an unknown or malformed section */

/* What conf_reader decided about the lines that follow a key line. */
enum chain { CHAIN_NONE, CHAIN_KEY, CHAIN_SKIP };

/* The state of one config_load: file, line reader, errors, keys seen. */
struct load {
	struct config *c;
	struct cfiles *src;		/* where files are read (conf/cfiles.h) */
	const char *path;
	buf_t *errors;
	FILE *f;
	char *line;			/* getline buffer */
	size_t cap;
	unsigned long lineno;
	unsigned nerr;
	int sect;			/* index in sections[] or SECT_* */
	enum chain chain;
	int cont;			/* the current line is a continuation */
	int last_key;			/* index in keys[] of the open key, -1 */
	int trace_bool;			/* trace was given as yes/no */
	unsigned long key_line[NKEYS];	/* where each key was set, 0: not */
	unsigned char key_bad[NKEYS];	/* a value of that key was rejected */
};

/* ---- errors ---- */

/* verror_at - append "path:line: <prefix><message>" to the errors */
__attribute__((format(printf, 4, 0)))
static void verror_at(struct load *ld, unsigned long line, const char *prefix,
		      const char *fmt, va_list ap)
{
	char msg[512];

	ld->nerr++;
	if (!ld->errors || ld->nerr > CONF_MAX_ERRORS)
		return;
	if (ld->nerr == CONF_MAX_ERRORS) {
		buf_printf(ld->errors, "%s:%lu: too many errors, giving up\n",
			   ld->path, line);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	buf_printf(ld->errors, "%s:%lu: %s%s\n", ld->path, line, prefix, msg);
}

/* error_at - report a problem found at a given line */
__attribute__((format(printf, 3, 4)))
static void error_at(struct load *ld, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_at(ld, line, "", fmt, ap);
	va_end(ap);
}

/* key_error - report a bad value of key k on the current line */
__attribute__((format(printf, 3, 4)))
static void key_error(struct load *ld, const struct key *k, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	ld->key_bad[k - keys] = 1;
	snprintf(prefix, sizeof(prefix), "[%s] %s: ", k->section, k->name);
	va_start(ap, fmt);
	verror_at(ld, ld->lineno, prefix, fmt, ap);
	va_end(ap);
}

/* ---- small parsers ---- */

/* is_blank - SP or TAB */
static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* parse_num - decimal digits only, value in 0..max; 0 or -1 */
static int parse_num(const char *s, long long max, long long *out)
{
	long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

/* parse_bool - yes/no/true/false/on/off/1/0 (any case): 1, 0, or -1 */
static int parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* next_item - cut the next comma/blank separated item of *sp into item
 * (ITEM_MAX + 1 bytes); 1 for an item, 0 at the end, -1 if too long */
static int next_item(const char **sp, char *item)
{
	const char *s = *sp, *start;
	size_t n;

	while (*s == ',' || is_blank(*s))
		s++;
	if (*s == '\0')
		return 0;
	start = s;
	while (*s && *s != ',' && !is_blank(*s))
		s++;
	*sp = s;
	n = (size_t)(s - start);
	if (n > ITEM_MAX) {
		memcpy(item, start, ITEM_MAX);
		item[ITEM_MAX] = '\0';
		return -1;
	}
	memcpy(item, start, n);
	item[n] = '\0';
	return 1;
}

/* valid_domain - RFC 1035 2.3.1 host name syntax (LDH labels, RFC 1123
 * 2.1 allows a leading digit), no trailing dot; 1 or 0 */
static int valid_domain(const char *s)
{
	size_t label = 0, total = strlen(s);

	if (total == 0 || total > DOMAIN_MAX)
		return 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return 0;
			label = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			   (*s >= '0' && *s <= '9') || *s == '-') {
			if ((label == 0 && *s == '-') || ++label > LABEL_MAX)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && s[-1] != '-';
}

/* strip_dot - remove one trailing dot (an absolute domain name) */
static void strip_dot(char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* parse_port - decimal port 1..65535 */
static int parse_port(const char *s, unsigned short *port)
{
	long long v;

	if (parse_num(s, 65535, &v) < 0 || v == 0)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

/* parse_listen - "a.b.c.d:port" or "[v6]:port", numeric only; NULL or why not */
static const char *parse_listen(const char *s, struct listen_addr *la)
{
	char host[INET6_ADDRSTRLEN], ntop[INET6_ADDRSTRLEN];
	const char *end, *port;
	unsigned short p;
	int v6 = *s == '[';

	end = v6 ? strchr(s, ']') : strrchr(s, ':');
	if (!end || (v6 && end[1] != ':'))
		return "expected host:port or [IPv6]:port";
	if (!v6 && memchr(s, ':', (size_t)(end - s)))
		return "an IPv6 address needs brackets: [addr]:port";
	port = end + (v6 ? 2 : 1);
	s += v6;
	if ((size_t)(end - s) >= sizeof(host))
		return "not a numeric IP address";
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	if (parse_port(port, &p) < 0)
		return "port must be 1..65535";
	memset(la, 0, sizeof(*la));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&la->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return "not a numeric IPv6 address";
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		la->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, ntop, sizeof(ntop));
		snprintf(la->text, sizeof(la->text), "[%s]:%u", ntop, p);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&la->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return "not a numeric IPv4 address";
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		la->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, ntop, sizeof(ntop));
		snprintf(la->text, sizeof(la->text), "%s:%u", ntop, p);
	}
	return NULL;
}

/* ---- list helpers ---- */

/* listen_add - append la unless the same address is there; 1 added, 0 dup, -1 */
static int listen_add(struct config *c, const struct listen_addr *la)
{
	struct listen_addr *nv;
	size_t i;

	for (i = 0; i < c->nlisten; i++)
		if (strcmp(c->listen[i].text, la->text) == 0)
			return 0;
	nv = reallocarray(c->listen, c->nlisten + 1, sizeof(*nv));
	if (!nv)
		return -1;
	c->listen = nv;
	c->listen[c->nlisten++] = *la;
	return 1;
}

/* listen_clear_role - drop the addresses of one role (a key's first line
 * replaces what the default had for that role) */
static void listen_clear_role(struct config *c, enum listen_role role)
{
	size_t i, o = 0;

	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].role != role)
			c->listen[o++] = c->listen[i];
	c->nlisten = o;
}

/* domain_add - append a copy of d unless it is there already; 0 or -1 */
static int domain_add(struct config *c, const char *d)
{
	char **nv;
	size_t i;

	for (i = 0; i < c->ndomains; i++)
		if (strcmp(c->domains[i], d) == 0)
			return 0;
	nv = reallocarray(c->domains, c->ndomains + 1, sizeof(*nv));
	if (!nv)
		return -1;
	c->domains = nv;
	if (!(c->domains[c->ndomains] = strdup(d)))
		return -1;
	c->ndomains++;
	return 0;
}

/* domains_clear - drop every local domain */
static void domains_clear(struct config *c)
{
	size_t i;

	for (i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	c->domains = NULL;
	c->ndomains = 0;
}

/* cidr_add - append one network to a list; 0 or -1 */
static int cidr_add(struct cidr_list *l, const struct cidr *n)
{
	struct cidr *nv = reallocarray(l->v, l->n + 1, sizeof(*nv));

	if (!nv)
		return -1;
	l->v = nv;
	l->v[l->n++] = *n;
	return 0;
}

/* ---- setters: one per kind of value ---- */

#define FIELD(ld, k, type) ((type *)(void *)((char *)(ld)->c + (k)->off))

/* oom - report an allocation failure against the current key */
static void oom(struct load *ld, const struct key *k)
{
	key_error(ld, k, "out of memory");
}

/* set_string - replace the string field of k with a copy of v */
static void set_string(struct load *ld, const struct key *k, const char *v)
{
	char **field = FIELD(ld, k, char *);
	char *copy = strdup(v);

	if (!copy) {
		oom(ld, k);
		return;
	}
	free(*field);
	*field = copy;
}

/* set_uint - unsigned number in k's range */
static void set_uint(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	long long n;

	if (parse_num(v, k->max, &n) < 0 || n < k->min) {
		key_error(ld, k, "'%s' is not a number in %lld..%lld",
			  log_show(esc, v), k->min, k->max);
		return;
	}
	*FIELD(ld, k, unsigned) = (unsigned)n;
}

/* set_size - byte count (long long) in k's range */
static void set_size(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	long long n;

	if (parse_num(v, k->max, &n) < 0 || n < k->min) {
		key_error(ld, k, "'%s' is not a number of bytes in %lld..%lld",
			  log_show(esc, v), k->min, k->max);
		return;
	}
	*FIELD(ld, k, long long) = n;
}

/* set_hostname - our own name (EHLO, banner): a valid domain name */
static void set_hostname(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	char name[DOMAIN_MAX + 2];

	if (strlen(v) >= sizeof(name)) {
		key_error(ld, k, "'%s' is too long", log_show(esc, v));
		return;
	}
	strcpy(name, v);
	strip_dot(name);
	if (!valid_domain(name)) {
		key_error(ld, k, "'%s' is not a valid host name", log_show(esc, v));
		return;
	}
	set_string(ld, k, name);
}

/* set_path - a directory or file name: not empty, not longer than PATH_MAX */
static void set_path(struct load *ld, const struct key *k, const char *v)
{
	if (*v == '\0') {
		key_error(ld, k, "a path is required");
		return;
	}
	if (strlen(v) >= PATH_MAX) {
		key_error(ld, k, "path too long");
		return;
	}
	set_string(ld, k, v);
}

/* set_opt_path - like set_path, but an empty value means "none" */
static void set_opt_path(struct load *ld, const struct key *k, const char *v)
{
	char **field = FIELD(ld, k, char *);

	if (*v) {
		set_path(ld, k, v);
		return;
	}
	free(*field);
	*field = NULL;
}

/* set_user - a login name: [A-Za-z0-9_][A-Za-z0-9_.-]*, at most USER_MAX */
static void set_user(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	if (*v == '\0' || v[n] != '\0' || n > USER_MAX || *v == '-' ||
	    *v == '.') {
		key_error(ld, k, "'%s' is not a valid user name", log_show(esc, v));
		return;
	}
	set_string(ld, k, v);
}

/* set_banner - text of the 220 greeting: printable ASCII only (RFC 5321
 * 4.2: reply text; no CR/LF so it cannot inject reply lines) */
static void set_banner(struct load *ld, const struct key *k, const char *v)
{
	const char *p;

	for (p = v; *p; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			key_error(ld, k, "only printable ASCII characters allowed");
			return;
		}
	}
	if (p - v > BANNER_MAX) {
		key_error(ld, k, "longer than %d characters", BANNER_MAX);
		return;
	}
	set_string(ld, k, v);
}

/* set_duration - seconds, with an optional unit: s, m, h, d ("4h") */
static void set_duration(struct load *ld, const struct key *k, const char *v)
{
	static const struct { char unit; long long mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char esc[LOG_ESC_SIZE], num[32];
	size_t n = strlen(v), i;
	long long mul = 1, x;

	if (n > 0 && n < sizeof(num)) {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (v[n - 1] == units[i].unit) {
				mul = units[i].mul;
				n--;
			}
	}
	if (n == 0 || n >= sizeof(num)) {
		key_error(ld, k, "'%s' is not a duration (seconds, or with s, m, h, d)",
			  log_show(esc, v));
		return;
	}
	memcpy(num, v, n);
	num[n] = '\0';
	if (parse_num(num, k->max, &x) < 0 || x > k->max / mul || x * mul < k->min ||
	    x * mul > k->max) {
		key_error(ld, k, "'%s' is not a duration in %lld..%lld seconds",
			  log_show(esc, v), k->min, k->max);
		return;
	}
	*FIELD(ld, k, unsigned) = (unsigned)(x * mul);
}

/* set_outbound - [tls] outbound: none, may, encrypt, verify */
static void set_outbound(struct load *ld, const struct key *k, const char *v)
{
	static const char *const words[] = { "none", "may", "encrypt", "verify" };
	char esc[LOG_ESC_SIZE];
	int i;

	for (i = 0; i < 4; i++)
		if (strcasecmp(v, words[i]) == 0) {
			*FIELD(ld, k, int) = i;
			return;
		}
	key_error(ld, k, "'%s' is not none, may, encrypt or verify", log_show(esc, v));
}

/* set_smarthost - "host", "host:port", "[ip]:port" (checked by dns/route) */
static void set_smarthost(struct load *ld, const struct key *k, const char *v)
{
	struct route_target t;
	char esc[LOG_ESC_SIZE];
	buf_t err;

	if (!*v) {
		free(*FIELD(ld, k, char *));
		*FIELD(ld, k, char *) = NULL;
		return;
	}
	buf_init(&err);
	if (route_parse_target(v, &t, &err) < 0)
		key_error(ld, k, "'%s': %s", log_show(esc, v), err.data ? err.data : "bad host");
	else
		set_string(ld, k, v);
	buf_free(&err);
}

/* set_smarthost_auth - "user:/path/of/the/password-file" */
static void set_smarthost_auth(struct load *ld, const struct key *k, const char *v)
{
	const char *colon = strchr(v, ':');
	char esc[LOG_ESC_SIZE];

	if (!colon || colon == v || colon[1] == '\0' || (size_t)(colon - v) > 255) {
		key_error(ld, k, "'%s' is not user:password-file", log_show(esc, v));
		return;
	}
	free(ld->c->smarthost_user);
	ld->c->smarthost_user = strndup(v, (size_t)(colon - v));
	free(ld->c->smarthost_pwfile);
	ld->c->smarthost_pwfile = strdup(colon + 1);
	if (!ld->c->smarthost_user || !ld->c->smarthost_pwfile)
		oom(ld, k);
}

/* load_secret - the smarthost password: the first line of its file */
static void load_secret(struct load *ld)
{
	struct config *c = ld->c;
	char line[512];
	FILE *f;

	if (!c->smarthost_pwfile)
		return;
	f = cfiles_open(ld->src, c->smarthost_pwfile);
	if (!f || !fgets(line, sizeof(line), f)) {
		buf_printf(ld->errors, "%s: cannot read the smarthost password: %s\n",
			   c->smarthost_pwfile, f ? "empty file" : strerror(errno));
		ld->nerr++;
	} else {
		line[strcspn(line, "\r\n")] = '\0';
		c->smarthost_password = strdup(line);
		if (!c->smarthost_password)
			ld->nerr++;
	}
	explicit_bzero(line, sizeof(line));
	if (f)
		fclose(f);
}

/* set_dns_servers - "ip[:port], [ipv6]:port ..." (checked when the
 * resolver starts; the text is kept) */
static void set_dns_servers(struct load *ld, const struct key *k, const char *v)
{
	char **field = FIELD(ld, k, char *);
	char *joined;

	if (!*field) {
		set_string(ld, k, v);
		return;
	}
	joined = malloc(strlen(*field) + strlen(v) + 3);
	if (!joined) {
		oom(ld, k);
		return;
	}
	sprintf(joined, "%s, %s", *field, v);
	free(*field);
	*field = joined;
}

/* set_log_level - info | debug */
static void set_log_level(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];

	if (strcasecmp(v, "info") == 0)
		ld->c->log_debug = 0;
	else if (strcasecmp(v, "debug") == 0)
		ld->c->log_debug = 1;
	else
		key_error(ld, k, "'%s' is not info or debug", log_show(esc, v));
}

/* set_bool - yes/no/true/false/on/off/1/0 into an int field */
static void set_bool(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	int b = parse_bool(v);

	if (b < 0)
		key_error(ld, k, "'%s' is not yes or no", log_show(esc, v));
	else
		*(int *)((char *)ld->c + k->off) = b;
}

/* set_listen - list of listening addresses; the first line replaces the
 * default, continuation lines add to it */
static void set_listen(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	char item[ITEM_MAX + 1];
	struct listen_addr la;
	const char *why;
	int r;

	if (!ld->cont)
		listen_clear_role(ld->c, (enum listen_role)k->min);
	while ((r = next_item(&v, item)) != 0) {
		why = r < 0 ? "too long" : parse_listen(item, &la);
		if (why) {
			key_error(ld, k, "'%s': %s", log_show(esc, item), why);
			continue;
		}
		la.role = (enum listen_role)k->min;
		r = listen_add(ld->c, &la);
		if (r == 0)
			key_error(ld, k, "'%s' is listed twice", log_show(esc, item));
		else if (r < 0)
			oom(ld, k);
	}
}

/* set_domains - the local domains: lowercased, trailing dot removed,
 * duplicates dropped; the first line replaces the default */
static void set_domains(struct load *ld, const struct key *k, const char *v)
{
	char esc[LOG_ESC_SIZE];
	char item[ITEM_MAX + 1], norm[ITEM_MAX + 1];
	char *p;
	int r;

	if (!ld->cont)
		domains_clear(ld->c);
	while ((r = next_item(&v, item)) != 0) {
		strcpy(norm, item);
		strip_dot(norm);
		for (p = norm; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (r < 0 || !valid_domain(norm))
			key_error(ld, k, "'%s' is not a valid domain name",
				  log_show(esc, item));
		else if (domain_add(ld->c, norm) < 0)
			oom(ld, k);
	}
}

/* set_networks - a CIDR list (empty: none); first line replaces the default */
static void set_networks(struct load *ld, const struct key *k, const char *v)
{
	struct cidr_list *l = FIELD(ld, k, struct cidr_list);
	char esc[LOG_ESC_SIZE];
	char item[ITEM_MAX + 1];
	struct cidr n;
	int r;

	if (!ld->cont)
		cidr_list_free(l);
	while ((r = next_item(&v, item)) != 0) {
		if (r < 0 || cidr_parse(item, &n) < 0)
			key_error(ld, k, "'%s' is not an IP address or network",
				  log_show(esc, item));
		else if (cidr_add(l, &n) < 0)
			oom(ld, k);
	}
}

/* set_trace - yes | no | a CIDR list of the clients to trace */
static void set_trace(struct load *ld, const struct key *k, const char *v)
{
	int b = ld->cont ? -1 : parse_bool(v);

	if (ld->cont && ld->trace_bool) {
		key_error(ld, k, "yes/no cannot be continued with a list");
		return;
	}
	if (b < 0) {
		set_networks(ld, k, v);
		return;
	}
	ld->trace_bool = 1;
	ld->c->trace_all = b;
	cidr_list_free(&ld->c->trace_networks);
}

/* ---- reading lines (the ini_reader) ---- */

/* find_key - index in keys[] of name in section sect, or -1 */
static int find_key(int sect, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, sections[sect]) == 0 &&
		    strcasecmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* section_line - check a "[name]" line and enter that section; returns
 * the text inih should see */
static const char *section_line(struct load *ld, char *t)
{
	char esc[LOG_ESC_SIZE];
	char *end = strchr(t, ']'), *rest;
	size_t i;

	ld->chain = CHAIN_NONE;
	ld->sect = SECT_BAD;
	rest = end ? end + 1 + strspn(end + 1, " \t") : NULL;
	if (!end || end == t + 1 || (size_t)(end - t - 1) != strspn(t + 1,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ||
	    (*rest && *rest != ';' && *rest != '#')) {
		error_at(ld, ld->lineno, "malformed section header '%s'",
			 log_show(esc, t));
		return "";
	}
	*end = '\0';
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcasecmp(t + 1, sections[i]) == 0)
			ld->sect = (int)i;
	if (ld->sect == SECT_BAD)
		error_at(ld, ld->lineno, "unknown section [%s]", log_show(esc, t + 1));
	*end = ']';
	end[1] = '\0';
	return t;
}

/* key_line - check that a line has a key = value (or key: value) shape,
 * the separator coming before any inline comment (inih's rule) */
static const char *key_line(struct load *ld, char *t)
{
	char esc[LOG_ESC_SIZE];
	const char *p;

	for (p = t; *p && *p != '=' && *p != ':'; p++)
		if (*p == ';' && p > t && is_blank(p[-1]))
			break;
	if (*p != '=' && *p != ':') {
		error_at(ld, ld->lineno, "expected 'key = value', got '%s'",
			 log_show(esc, t));
		ld->chain = CHAIN_SKIP;
		return "";
	}
	/* an empty name leaves inih without a key to continue: skip those */
	ld->chain = p == t ? CHAIN_SKIP : CHAIN_KEY;
	return t;
}

/* classify - decide what one (CR/LF-stripped) line is; returns the text to
 * hand to inih, sets ld->cont for a continuation line */
static const char *classify(struct load *ld, char *s)
{
	char *t = s;

	while (is_blank(*t))
		t++;
	if (*t == '\0') {
		ld->chain = CHAIN_NONE;
		return "";
	}
	if (*t == ';' || *t == '#')
		return "";
	if (t != s && ld->chain != CHAIN_NONE) {
		if (ld->chain == CHAIN_SKIP)
			return "";
		ld->cont = 1;
		return t;
	}
	if (*t == '[')
		return section_line(ld, t);
	return key_line(ld, t);
}

/* has_ctl - does the line hold a control character other than TAB? */
static int has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 1;
	return 0;
}

/* read_line - the next line without CR/LF into ld->line; its length, or -1 */
static ssize_t read_line(struct load *ld)
{
	ssize_t n = getline(&ld->line, &ld->cap, ld->f);

	if (n < 0) {
		if (ferror(ld->f))
			error_at(ld, ld->lineno, "read error");
		return -1;
	}
	ld->lineno++;
	if (n > 0 && ld->line[n - 1] == '\n')
		ld->line[--n] = '\0';
	if (n > 0 && ld->line[n - 1] == '\r')
		ld->line[--n] = '\0';
	return n;
}

/* conf_reader - inih's line source (fgets-like): numbers the lines and
 * hands inih only lines of a known good shape (see the file comment) */
static char *conf_reader(char *str, int num, void *stream)
{
	struct load *ld = stream;
	const char *out;
	char *s;
	ssize_t n;

	if (ld->nerr >= CONF_MAX_ERRORS || (n = read_line(ld)) < 0)
		return NULL;
	s = ld->line;
	if (ld->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;		/* UTF-8 byte order mark */
	ld->cont = 0;
	if (has_ctl(ld->line, (size_t)n)) {
		error_at(ld, ld->lineno, "control character in line");
		ld->chain = CHAIN_SKIP;
		out = "";
	} else {
		out = classify(ld, s);
	}
	if (strlen(out) + (size_t)ld->cont + 1 > (size_t)num) {
		error_at(ld, ld->lineno, "line too long (at most %d bytes; "
			 "continue long lists on indented lines)", num - 2);
		ld->chain = CHAIN_SKIP;
		ld->cont = 0;
		out = "";
	}
	snprintf(str, (size_t)num, "%s%s", ld->cont ? " " : "", out);
	return str;
}

/* ---- handling key = value ---- */

/* continuation - more of the value of the key opened on a previous line */
static void continuation(struct load *ld, const char *value)
{
	const struct key *k;

	if (ld->last_key < 0)
		return;		/* that key line was already reported */
	k = &keys[ld->last_key];
	if (!k->list) {
		key_error(ld, k, "only lists may go on over several lines");
		return;
	}
	k->set(ld, k, value);
}

/* conf_handler - inih callback for one key = value (section is ours) */
static int conf_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct load *ld = user;
	char esc[LOG_ESC_SIZE];
	int i;

	(void)section;	/* conf_reader tracks the section itself */
	if (ld->cont) {
		continuation(ld, value);
		return 1;
	}
	ld->last_key = -1;
	if (ld->sect == SECT_NONE) {
		error_at(ld, ld->lineno, "key '%s' outside of any section",
			 log_show(esc, name));
		return 1;
	}
	if (ld->sect == SECT_BAD)
		return 1;
	i = find_key(ld->sect, name);
	if (i < 0) {
		error_at(ld, ld->lineno, "[%s] unknown key '%s'",
			 sections[ld->sect], log_show(esc, name));
	} else if (ld->key_line[i]) {
		error_at(ld, ld->lineno, "[%s] duplicate key '%s' (first set "
			 "at line %lu)", sections[ld->sect], keys[i].name,
			 ld->key_line[i]);
	} else {
		ld->key_line[i] = ld->lineno;
		ld->last_key = i;
		keys[i].set(ld, &keys[i], value);
	}
	return 1;
}

/* ---- defaults, checks across keys, tables ---- */

/* default_hostname - gethostname(2) if it gives a valid name, else localhost */
static char *default_hostname(void)
{
	char name[HOST_NAME_MAX + 2];

	if (gethostname(name, sizeof(name) - 1) < 0)
		return strdup("localhost");
	name[sizeof(name) - 1] = '\0';
	strip_dot(name);
	return strdup(valid_domain(name) ? name : "localhost");
}

/* config_defaults - a new config holding the embedded default; NULL on OOM */
static struct config *config_defaults(void)
{
	struct config *c = calloc(1, sizeof(*c));
	struct listen_addr la;

	if (!c)
		return NULL;
	c->refs = 1;
	c->hostname = default_hostname();
	c->spool = strdup("./var/spool");
	c->user = strdup("mailport");
	c->banner = strdup("ESMTP ready");
	c->mailboxes = strdup("./var/mail");
	c->max_message_size = 36700160;
	c->max_recipients = 1000;
	c->max_errors = 10;
	c->max_rcpt_rejects = 200;
	c->rcpt_reject_delay_after = 100;
	c->listen_backlog = 1024;
	c->tls_outbound = 1;		/* may: opportunistic STARTTLS */
	c->retry_min = 300;
	c->retry_max = 4 * 3600;
	c->max_lifetime = 5 * 86400;
	c->delay_warning = 4 * 3600;
	c->smtp_port = 25;
	c->smtp_max_connections = 100;
	c->smtp_per_destination = 10;
	c->smtp_connect_timeout = 30;
	c->timeout = 300;
	c->max_connections_per_ip = 50;
	c->max_connections = 1000;
	c->max_auth_failures = 3;
	c->seccomp = 1;
	if (!c->hostname || !c->spool || !c->user || !c->banner ||
	    !c->mailboxes || parse_listen(DEFAULT_LISTEN, &la) != NULL ||
	    listen_add(c, &la) < 0 || domain_add(c, "localhost") < 0 ||
	    cidr_list_parse(DEFAULT_RELAY, &c->relay_networks, NULL) < 0) {
		config_unref(c);
		return NULL;
	}
	return c;
}

/* embedded_extras - what only the embedded default (no file) has: a
 * self-signed TLS pair under ./var/tls and submission listeners, so that
 * `make run` offers STARTTLS, 587-style and 465-style service out of the box */
static int embedded_extras(struct config *c)
{
	struct listen_addr la;

	c->tls_selfsigned = 1;
	c->tls_cert = strdup("./var/tls/cert.pem");
	c->tls_key = strdup("./var/tls/key.pem");
	if (!c->tls_cert || !c->tls_key || parse_listen(DEFAULT_SUBMISSION, &la) != NULL)
		return -1;
	la.role = ROLE_SUBMISSION;
	if (listen_add(c, &la) < 0 || parse_listen(DEFAULT_SUBMISSIONS, &la) != NULL)
		return -1;
	la.role = ROLE_SUBMISSIONS;
	return listen_add(c, &la) < 0 ? -1 : 0;
}

/* line_of - where key name was set with no bad value, 0 if it was not */
static unsigned long line_of(const struct load *ld, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return ld->key_bad[i] ? 0 : ld->key_line[i];
	return 0;
}

/* has_role - is any address configured for role? */
static int has_role(const struct config *c, enum listen_role role)
{
	size_t i;

	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].role == role)
			return 1;
	return 0;
}

/* check_tls - [tls] cert and key go together; TLS listeners need them */
static void check_tls(struct load *ld)
{
	struct config *c = ld->c;
	unsigned long line;

	if (!c->tls_cert != !c->tls_key) {
		line = line_of(ld, c->tls_cert ? "cert" : "key");
		error_at(ld, line, "[tls] cert and key must be given together");
	}
	if (!c->tls_cert && has_role(c, ROLE_SUBMISSIONS))
		error_at(ld, line_of(ld, "submissions"),
			 "[server] submissions needs [tls] cert and key");
	if (!c->tls_cert && !c->allow_plaintext_auth && has_role(c, ROLE_SUBMISSION))
		error_at(ld, line_of(ld, "submission"),
			 "[server] submission needs [tls] cert and key "
			 "(or [tls] allow_plaintext_auth = yes)");
}

/* check_limits - rules that involve a whole list or several keys (only
 * for keys whose values were all good, so as not to pile up errors) */
static void check_limits(struct load *ld)
{
	struct config *c = ld->c;
	unsigned long line;

	if ((line = line_of(ld, "listen")) && c->nlisten == 0)
		error_at(ld, line, "[server] listen: at least one address "
			 "is required");
	if (c->nlisten > CONFIG_MAX_LISTEN)
		error_at(ld, line_of(ld, "listen"), "[server] listen, submission and submissions: "
			 "at most %d addresses in all", CONFIG_MAX_LISTEN);
	if ((line = line_of(ld, "domains")) && c->ndomains == 0)
		error_at(ld, line, "[local] domains: at least one domain "
			 "is required");
	/* a per-address limit above the total one is harmless: the total
	 * limit answers first */
	check_tls(ld);
}

/* load_tables - load the users and aliases files named by the config */
static void load_tables(struct load *ld)
{
	struct config *c = ld->c;

	if (c->users_path && users_load_from(ld->src, c->users_path, &c->users,
					     ld->errors) < 0)
		ld->nerr++;
	if (c->aliases_path && aliases_load_from(ld->src, c->aliases_path, &c->aliases,
						 ld->errors) < 0)
		ld->nerr++;
	load_secret(ld);
}

/* parse_file - run inih over the open file */
static void parse_file(struct load *ld)
{
	int r;

	ld->sect = SECT_NONE;
	ld->last_key = -1;
	r = ini_parse_stream(conf_reader, ld, conf_handler, ld);
	if (r == -2)
		error_at(ld, ld->lineno, "out of memory");
	else if (r > 0 && ld->nerr == 0)
		error_at(ld, (unsigned long)r, "syntax error");
}

static struct config *load_config(struct cfiles *src, const char *path, int tables,
				  buf_t *errors);

/* config_locate - -c, $MAILPORT_CONFIG, the system file, the default */
const char *config_locate(const char *given)
{
	const char *env = getenv("MAILPORT_CONFIG");

	if (given)
		return given;
	if (env && *env)
		return env;
	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		return CONFIG_DEFAULT_PATH;
	return NULL;
}

/* config_name - printable name of a config path */
const char *config_name(const char *path)
{
	return path ? path : "(embedded default)";
}

/* config_load - load path (NULL: the embedded default), with its tables.
 * Returns a config with one reference, or NULL with "path:line: message"
 * lines appended to errors (which may be NULL). */
struct config *config_load(const char *path, buf_t *errors)
{
	return load_config(NULL, path, 1, errors);
}

/* config_load_from - config_load through src */
struct config *config_load_from(struct cfiles *src, const char *path, buf_t *errors)
{
	return load_config(src, path, 1, errors);
}

/* config_load_lenient - the settings, errors or not (see config.h) */
struct config *config_load_lenient(const char *path, buf_t *errors)
{
	return load_config(NULL, path, -1, errors);
}

/* config_load_settings - config_load without the tables */
struct config *config_load_settings(const char *path, buf_t *errors)
{
	return load_config(NULL, path, 0, errors);
}

/* load_config - the work of config_load: tables 1 loads them, 0 does
 * not, -1 neither and returns the config whatever the errors */
static struct config *load_config(struct cfiles *src, const char *path, int tables,
				  buf_t *errors)
{
	struct load ld;

	memset(&ld, 0, sizeof(ld));
	ld.src = src;
	ld.path = path ? path : "(default)";
	ld.errors = errors;
	ld.c = config_defaults();
	if (ld.c && !path && embedded_extras(ld.c) < 0) {
		config_unref(ld.c);
		ld.c = NULL;
	}
	if (!ld.c || !path) {
		if (!ld.c && errors)
			buf_printf(errors, "%s: out of memory\n", ld.path);
		return ld.c;
	}
	ld.f = cfiles_open(src, path);
	if (!ld.f) {
		if (errors)
			buf_printf(errors, "%s: cannot open: %s\n", path,
				   strerror(errno));
		config_unref(ld.c);
		return NULL;
	}
	parse_file(&ld);
	fclose(ld.f);
	free(ld.line);
	check_limits(&ld);
	if (tables > 0)
		load_tables(&ld);
	if (tables < 0)		/* lenient: keep what parsed */
		ld.nerr = 0;
	if (ld.nerr || !(ld.c->path = strdup(path))) {
		if (!ld.nerr)
			error_at(&ld, 0, "out of memory");
		config_unref(ld.c);
		return NULL;
	}
	return ld.c;
}

/* config_load_tls - the TLS server context for this config */
int config_load_tls(struct config *c, buf_t *errors)
{
	return config_load_tls_from(c, NULL, errors);
}

/* config_load_tls_from - the same through src; a replaying src (the
 * worker) never makes a self-signed pair: the parent made it */
int config_load_tls_from(struct config *c, struct cfiles *src, buf_t *errors)
{
	int make = c->tls_selfsigned && (!src || src->record);

	if (!c->tls_cert || c->tls_ctx)
		return 0;
	/* ./var is the spool's and the mailboxes' parent too: searchable */
	if (make && (mkdir_p("./var", 0755) < 0 || mkdir_p("./var/tls", 0700) < 0)) {
		if (errors)
			buf_printf(errors, "./var/tls: cannot create: %s\n", strerror(errno));
		return -1;
	}
	if (make && tls_selfsigned(c->tls_cert, c->tls_key, c->hostname, errors) < 0)
		return -1;
	c->tls_ctx = tls_server_ctx_from(src, c->tls_cert, c->tls_key, errors);
	return c->tls_ctx ? 0 : -1;
}

/* config_free - release everything a config owns, tables included */
static void config_free(struct config *c)
{
	free(c->path);
	free(c->hostname);
	free(c->listen);
	free(c->spool);
	free(c->user);
	free(c->banner);
	cidr_list_free(&c->trace_networks);
	domains_clear(c);
	free(c->mailboxes);
	free(c->users_path);
	free(c->aliases_path);
	users_free(c->users);
	aliases_free(c->aliases);
	cidr_list_free(&c->relay_networks);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca_file);
	free(c->smarthost);
	free(c->smarthost_user);
	free(c->smarthost_pwfile);
	if (c->smarthost_password) {
		explicit_bzero(c->smarthost_password, strlen(c->smarthost_password));
		free(c->smarthost_password);
	}
	free(c->dns_servers);
	if (c->tls_ctx)
		SSL_CTX_free(c->tls_ctx);
	free(c);
}

/* config_ref - take one more reference */
void config_ref(struct config *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

/* config_unref - drop a reference; the last one frees the config */
void config_unref(struct config *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

/* config_is_local_domain - domain (lowercase, no trailing dot) is ours */
int config_is_local_domain(const struct config *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->ndomains; i++)
		if (strcmp(c->domains[i], domain) == 0)
			return 1;
	/* like Postfix's mydestination = $myhostname: mail to user@<this
	 * host> (cron, sendmail with a bare user name) stays here */
	return strcasecmp(c->hostname, domain) == 0;
}

/* config_trace_client - should this client's session be traced? */
int config_trace_client(const struct config *c, const struct sockaddr *sa)
{
	return c->trace_all || cidr_list_match(&c->trace_networks, sa);
}

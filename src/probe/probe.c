/* probe - `mailport probe TARGET [options]`: the administrator's telnet
 * test of a mail server (the seeds' procedure: find the MX, connect, read
 * the banner, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT), done in one
 * command, every reply explained (verdict.h) and a summary that answers
 * the seeds' questions.  Issue 8; decisions in the issue 8 spec.
 *
 * Public: probe_main (probe.h).
 *
 * Layers: options (one table: add a row and a case to extend), the target
 * (route.h on a private event base run until the lookups finish), the
 * steps (session.h does the I/O and keeps the transcript), the summary and
 * the output (text live through session.h's printer, or one JSON document
 * at the end).  The exit status says where the probe stopped (probe.h).
 *
 * Invariants: nothing given on the command line reaches the wire with a
 * CR, LF or NUL in it (checked before connecting); the password is never
 * shown, stored in the transcript or left in memory after use; every wait
 * is bounded by --timeout (DNS included).
 */
#include "probe/probe.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "auth/sasl.h"
#include "dns/dns.h"
#include "dns/route.h"
#include "msg/outbound.h"
#include "probe/checks.h"
#include "probe/interactive.h"
#include "probe/session.h"
#include "probe/verdict.h"
#include "smtp/xtext.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT 30		/* seconds per operation */
#define DATA_FILE_MAX (64L * 1024 * 1024)
#define LIST_MAX 100			/* --to, --header, --*-param */
#define EXT_MAX 64
#define PTR_MAX 8
#define ADDR_MAX 16

/* ---------------------------------------------------------------- options */

/* --quit-after stages, in session order */
enum stop {
	STOP_NONE = 0,
	STOP_CONNECT,
	STOP_BANNER,
	STOP_EHLO,
	STOP_TLS,
	STOP_AUTH,
	STOP_MAIL,
	STOP_RCPT,
	STOP_DATA,
};

static const char *const stop_names[] = {
	"", "connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data",
};

struct strlist {
	size_t n;
	const char *v[LIST_MAX];
};

struct opts {
	const char *target;
	const char *from;		/* NULL: not given */
	struct strlist to;
	const char *dns;
	unsigned port;			/* 0: not given */
	const char *helo;
	int starttls;			/* 1 require, -1 never, 0 when offered */
	int tls;			/* implicit TLS */
	int verify;
	const char *ca;
	const char *auth_user;
	const char *auth_mech;		/* NULL: PLAIN if offered, else LOGIN */
	int password_stdin;
	struct strlist mail_params, rcpt_params, headers;
	int bdat, pipelining;
	const char *subject, *body, *data_file;
	enum stop quit_after;
	int timeout;			/* seconds */
	int json, no_color;
	unsigned checks;		/* CHECK_* (checks.h) */
	const char *relay_domain;	/* D for the relay tricks */
	int interactive;		/* -i */
};

enum opt_id {
	O_FROM = 256, O_TO, O_DNS, O_PORT, O_HELO, O_STARTTLS, O_NO_STARTTLS, O_TLS,
	O_VERIFY, O_CA, O_AUTH, O_AUTH_MECH, O_PASSWORD_STDIN, O_MAIL_PARAM, O_RCPT_PARAM,
	O_BDAT, O_PIPELINING, O_HEADER, O_SUBJECT, O_BODY, O_DATA, O_QUIT_AFTER, O_TIMEOUT,
	O_JSON, O_NO_COLOR, O_RELAY_TEST, O_RELAY_DOMAIN, O_SMUGGLING_TEST,
	O_STARTTLS_INJECTION, O_INTERACTIVE, O_HELP,
};

/* The option table: getopt_long's and the usage text's only source. */
static const struct optdef {
	const char *name;
	int has_arg;
	int id;
	const char *arg;
	const char *help;
} optdefs[] = {
	{ "from", 1, O_FROM, "ADDR", "envelope sender (MAIL FROM); \"\" for <>" },
	{ "to", 1, O_TO, "ADDR", "recipient (RCPT TO), repeatable" },
	{ "dns", 1, O_DNS, "HOST:PORT", "DNS server to ask (default: resolv.conf)" },
	{ "port", 1, O_PORT, "N", "port when TARGET has none (25; 465 with --tls)" },
	{ "helo", 1, O_HELO, "NAME", "name for EHLO/HELO (default: this host's name)" },
	{ "starttls", 0, O_STARTTLS, NULL, "require STARTTLS (fail if not offered)" },
	{ "no-starttls", 0, O_NO_STARTTLS, NULL, "never use STARTTLS" },
	{ "tls", 0, O_TLS, NULL, "implicit TLS from the start (port 465 style)" },
	{ "verify", 0, O_VERIFY, NULL, "fail when the certificate does not verify or match" },
	{ "ca", 1, O_CA, "FILE", "CA certificates to verify against (default: system)" },
	{ "auth", 1, O_AUTH, "USER", "AUTH as USER (password: prompt, --password-stdin "
	  "or $MAILPORT_PROBE_PASSWORD)" },
	{ "auth-mech", 1, O_AUTH_MECH, "MECH", "PLAIN or LOGIN (default: PLAIN if offered)" },
	{ "password-stdin", 0, O_PASSWORD_STDIN, NULL, "read the AUTH password from stdin" },
	{ "mail-param", 1, O_MAIL_PARAM, "P=V", "ESMTP parameter for MAIL (SIZE, BODY, RET, "
	  "ENVID, SMTPUTF8 ...)" },
	{ "rcpt-param", 1, O_RCPT_PARAM, "P=V", "ESMTP parameter for RCPT (NOTIFY, ORCPT ...)" },
	{ "bdat", 0, O_BDAT, NULL, "send the message with BDAT (CHUNKING) instead of DATA" },
	{ "pipelining", 0, O_PIPELINING, NULL, "send MAIL, RCPT and DATA as one group" },
	{ "header", 1, O_HEADER, "\"N: V\"", "add (or replace) a header field, repeatable" },
	{ "subject", 1, O_SUBJECT, "TEXT", "Subject of the test message" },
	{ "body", 1, O_BODY, "TEXT", "body of the test message" },
	{ "data", 1, O_DATA, "FILE", "send FILE as the message (\"-\": stdin), dot-stuffed "
	  "here" },
	{ "quit-after", 1, O_QUIT_AFTER, "STAGE", "stop after connect, banner, ehlo, tls, "
	  "auth, mail, rcpt or data" },
	{ "timeout", 1, O_TIMEOUT, "SECS", "bound on each operation (default 30)" },
	{ "json", 0, O_JSON, NULL, "print one JSON document instead of the transcript" },
	{ "no-color", 0, O_NO_COLOR, NULL, "no colours even on a terminal" },
	{ "relay-test", 0, O_RELAY_TEST, NULL, "try to relay to an outside recipient, with "
	  "routing tricks (no DATA)" },
	{ "relay-domain", 1, O_RELAY_DOMAIN, "D", "the server's mail domain for the tricks "
	  "(default: TARGET, or the banner's name)" },
	{ "smuggling-test", 0, O_SMUGGLING_TEST, NULL, "SMTP smuggling with fake ends of data "
	  "(needs --from, --to)" },
	{ "starttls-injection", 0, O_STARTTLS_INJECTION, NULL, "STARTTLS and NOOP in one write: "
	  "no reply allowed (CVE-2011-0411)" },
	{ "interactive", 0, O_INTERACTIVE, NULL, "-i: type the session yourself, every reply "
	  "explained" },
	{ "help", 0, O_HELP, NULL, "this text" },
};
#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

/* usage - the option summary from the table */
static void usage(FILE *f)
{
	fprintf(f, "usage: mailport probe TARGET [options]\n"
		   "       mailport probe -i TARGET [--port N] [--tls] [--ca FILE] [--helo NAME]\n"
		   "TARGET: a domain (its MX hosts are tried in order), host, host:port, [host],\n"
		   "        ip, [ip]:port\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", optdefs[i].name, optdefs[i].arg ? " " : "",
			 optdefs[i].arg ? optdefs[i].arg : "");
		fprintf(f, "  %-22s %s\n", left, optdefs[i].help);
	}
	fprintf(f, "exit: 0 ok, 2 usage, 3 DNS, 4 connect, 5 no 220, 6 EHLO/HELO refused, 7 TLS,\n"
		   "      8 AUTH, 9 MAIL, 10 RCPT, 11 DATA, 12 open relay, smuggling or STARTTLS\n"
		   "      injection found, 13 protocol error\n");
}

/* bad - a usage error */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("mailport probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return -1;
}

/* push - add to a repeatable option */
static int push(struct strlist *l, const char *v, const char *opt)
{
	if (l->n >= LIST_MAX)
		return bad("too many --%s (at most %d)", opt, LIST_MAX);
	l->v[l->n++] = v;
	return 0;
}

/* wire_safe - no CR, LF or NUL can come from s onto the wire */
static int wire_safe(const char *s, const char *what)
{
	if (strpbrk(s, "\r\n"))
		return bad("%s must not hold a line break", what);
	return 0;
}

/* num - a number in [lo, hi] */
static int num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* set_opt - one option */
static int set_opt(struct opts *o, int id, const char *arg)
{
	long v;

	switch (id) {
	case O_FROM: o->from = arg; return wire_safe(arg, "--from");
	case O_TO: return wire_safe(arg, "--to") < 0 ? -1 : push(&o->to, arg, "to");
	case O_DNS: o->dns = arg; return 0;
	case O_PORT:
		if (num(arg, 1, 65535, &v) < 0)
			return bad("--port: not a port number: %s", arg);
		o->port = (unsigned)v;
		return 0;
	case O_HELO: o->helo = arg; return wire_safe(arg, "--helo");
	case O_STARTTLS: o->starttls = 1; return 0;
	case O_NO_STARTTLS: o->starttls = -1; return 0;
	case O_TLS: o->tls = 1; return 0;
	case O_VERIFY: o->verify = 1; return 0;
	case O_CA: o->ca = arg; return 0;
	case O_AUTH: o->auth_user = arg; return wire_safe(arg, "--auth");
	case O_AUTH_MECH:
		if (strcasecmp(arg, "PLAIN") && strcasecmp(arg, "LOGIN"))
			return bad("--auth-mech: PLAIN or LOGIN");
		o->auth_mech = strcasecmp(arg, "PLAIN") == 0 ? "PLAIN" : "LOGIN";
		return 0;
	case O_PASSWORD_STDIN: o->password_stdin = 1; return 0;
	case O_MAIL_PARAM:
		return wire_safe(arg, "--mail-param") < 0 ? -1 : push(&o->mail_params, arg,
								       "mail-param");
	case O_RCPT_PARAM:
		return wire_safe(arg, "--rcpt-param") < 0 ? -1 : push(&o->rcpt_params, arg,
								       "rcpt-param");
	case O_BDAT: o->bdat = 1; return 0;
	case O_PIPELINING: o->pipelining = 1; return 0;
	case O_HEADER: {
		size_t k = strcspn(arg, ":");

		if (!arg[k] || k == 0 || strcspn(arg, " \t") < k || wire_safe(arg, "--header") < 0)
			return bad("--header wants \"Name: value\" on one line: %s", arg);
		return push(&o->headers, arg, "header");
	}
	case O_SUBJECT: o->subject = arg; return wire_safe(arg, "--subject");
	case O_BODY: o->body = arg; return 0;
	case O_DATA: o->data_file = arg; return 0;
	case O_QUIT_AFTER:
		for (size_t i = 1; i < sizeof(stop_names) / sizeof(stop_names[0]); i++)
			if (strcasecmp(arg, stop_names[i]) == 0) {
				o->quit_after = (enum stop)i;
				return 0;
			}
		return bad("--quit-after: one of connect, banner, ehlo, tls, auth, mail, rcpt, "
			   "data");
	case O_TIMEOUT:
		if (num(arg, 1, 3600, &v) < 0)
			return bad("--timeout: seconds from 1 to 3600: %s", arg);
		o->timeout = (int)v;
		return 0;
	case O_JSON: o->json = 1; return 0;
	case O_NO_COLOR: o->no_color = 1; return 0;
	case O_RELAY_TEST: o->checks |= CHECK_RELAY; return 0;
	case O_RELAY_DOMAIN:
		if (!arg[0] || strpbrk(arg, "@<>\"\\ ") || wire_safe(arg, "--relay-domain") < 0)
			return bad("--relay-domain wants a domain name: %s", arg);
		o->relay_domain = arg;
		return 0;
	case O_SMUGGLING_TEST: o->checks |= CHECK_SMUGGLING; return 0;
	case O_STARTTLS_INJECTION: o->checks |= CHECK_INJECTION; return 0;
	case O_INTERACTIVE: o->interactive = 1; return 0;
	default:
		return -1;
	}
}

/* check_opts - -i and the checks against the rest: the checks send no
 * mail of their own through the normal steps, which stop after AUTH */
static int check_opts(struct opts *o)
{
	if (o->interactive && (o->json || o->checks || o->quit_after || o->to.n || o->from ||
			       o->auth_user))
		return bad("-i is a session you type: no --json, checks, --quit-after, --from, "
			   "--to or --auth (type AUTH PLAIN or AUTH LOGIN)");
	if ((o->checks & CHECK_SMUGGLING) && (!o->from || !o->to.n))
		return bad("--smuggling-test needs --from and --to (a sender and a recipient the "
			   "server accepts: it sends test messages)");
	if (o->checks && o->data_file)
		return bad("the checks send no --data");
	if (o->checks && (o->quit_after == STOP_NONE || o->quit_after > STOP_AUTH))
		o->quit_after = STOP_AUTH;
	return 0;
}

/* parse_opts - the command line into o; 0, 1 for --help, -1 on error */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	struct option lo[NOPTS + 1];
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = DEFAULT_TIMEOUT;
	for (size_t i = 0; i < NOPTS; i++)
		lo[i] = (struct option){ optdefs[i].name, optdefs[i].has_arg ? required_argument
						: no_argument, NULL, optdefs[i].id };
	memset(&lo[NOPTS], 0, sizeof(lo[NOPTS]));
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "hi", lo, NULL)) != -1) {
		if (c == 'h' || c == O_HELP)
			return 1;
		if (c == 'i')
			c = O_INTERACTIVE;
		if (c == '?' || set_opt(o, c, optarg) < 0)
			return -1;
	}
	if (optind != argc - 1)
		return bad(optind >= argc ? "no TARGET given" : "one TARGET only");
	o->target = argv[optind];
	if (o->starttls == 1 && o->tls)
		return bad("--starttls and --tls exclude each other");
	if (o->password_stdin && o->data_file && strcmp(o->data_file, "-") == 0)
		return bad("--password-stdin and --data - both want stdin");
	if (o->password_stdin && !o->auth_user)
		return bad("--password-stdin without --auth");
	if (o->to.n == 0 && (o->quit_after == STOP_RCPT || o->quit_after == STOP_DATA))
		return bad("--quit-after %s needs --to", stop_names[o->quit_after]);
	if (o->to.n == 0 && (o->data_file || o->bdat || o->body || o->subject ||
			     o->headers.n || o->rcpt_params.n))
		return bad("a message or RCPT parameters need --to");
	if (o->data_file && (o->body || o->subject || o->headers.n))
		return bad("--data sends the file as it is: no --body, --subject or --header");
	return check_opts(o);
}

/* --------------------------------------------------------------- secrets */

/* read_line_fd - one line from f into buf (n bytes); line end removed */
static int read_line_f(FILE *f, char *buf, size_t n)
{
	size_t len;

	if (!fgets(buf, (int)n, f))
		return -1;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return 0;
}

/* prompt_tty - the password from /dev/tty with echo off */
static int prompt_tty(const char *user, char *buf, size_t n)
{
	FILE *tty = fopen("/dev/tty", "r+");
	struct termios old, quiet;
	int rc, echo_off;

	if (!tty)
		return -1;
	fprintf(tty, "Password for %s: ", user);
	fflush(tty);
	echo_off = tcgetattr(fileno(tty), &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	rc = read_line_f(tty, buf, n);
	if (echo_off)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fprintf(tty, "\n");
	fclose(tty);
	return rc;
}

/* get_password - --password-stdin, else $MAILPORT_PROBE_PASSWORD, else a
 * prompt on the terminal */
static int get_password(const struct opts *o, char *buf, size_t n)
{
	const char *env = getenv("MAILPORT_PROBE_PASSWORD");

	buf[0] = '\0';
	if (o->password_stdin) {
		if (read_line_f(stdin, buf, n) < 0)
			return bad("--password-stdin: no password on stdin");
	} else if (env) {
		snprintf(buf, n, "%s", env);
	} else if (prompt_tty(o->auth_user, buf, n) < 0) {
		return bad("--auth: no terminal to ask for the password; use --password-stdin "
			   "or $MAILPORT_PROBE_PASSWORD");
	}
	if (!buf[0])
		return bad("--auth: empty password");
	return 0;
}

/* ---------------------------------------------------------------- message */

/* header_given - a --header with this field name */
static int header_given(const struct opts *o, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < o->headers.n; i++)
		if (strncasecmp(o->headers.v[i], name, n) == 0 && o->headers.v[i][n] == ':')
			return 1;
	return 0;
}

/* rfc5322_date - now as an RFC 5322 3.3 date-time */
static void rfc5322_date(char *out, size_t n)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(out, n, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* build_message - the test message (CRLF lines, not dot-stuffed): From, To,
 * Subject, Date, Message-ID (each replaced by a --header of that name),
 * the --header fields, a blank line, the body */
static int build_message(const struct opts *o, const char *from, const char *helo, buf_t *m)
{
	char date[64];
	uint64_t rnd = 0;

	rfc5322_date(date, sizeof(date));
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (!header_given(o, "From"))
		buf_printf(m, "From: <%s>\r\n", from[0] ? from : "postmaster");
	if (!header_given(o, "To")) {
		buf_puts(m, "To: ");
		for (size_t i = 0; i < o->to.n; i++)
			buf_printf(m, "%s<%s>", i ? ",\r\n " : "", o->to.v[i]);
		buf_puts(m, "\r\n");
	}
	if (!header_given(o, "Subject"))
		buf_printf(m, "Subject: %s\r\n", o->subject ? o->subject : "mailport probe test");
	if (!header_given(o, "Date"))
		buf_printf(m, "Date: %s\r\n", date);
	if (!header_given(o, "Message-ID"))
		buf_printf(m, "Message-ID: <%016llx.probe@%s>\r\n", (unsigned long long)rnd, helo);
	for (size_t i = 0; i < o->headers.n; i++)
		buf_printf(m, "%s\r\n", o->headers.v[i]);
	buf_puts(m, "\r\n");
	if (o->body)
		return buf_puts(m, o->body);
	return buf_puts(m, "This is a test message sent by mailport probe.\r\n");
}

/* read_file - the whole of path ("-": stdin) into m, at most DATA_FILE_MAX */
static int read_file(const char *path, buf_t *m)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char tmp[65536];
	size_t n;

	if (!f)
		return bad("--data %s: %s", path, strerror(errno));
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (m->len + n > (size_t)DATA_FILE_MAX || buf_append(m, tmp, n) < 0) {
			if (f != stdin)
				fclose(f);
			return bad("--data %s: larger than %ld bytes", path, DATA_FILE_MAX);
		}
	}
	if (ferror(f)) {
		if (f != stdin)
			fclose(f);
		return bad("--data %s: %s", path, strerror(errno));
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

/* encode - the message as it goes on the wire (outbound.h: CRLF lines;
 * DATA: dot-stuffed, RFC 5321 4.5.2, and ".\r\n" at the end) */
static int encode(const buf_t *raw, enum msg_out_mode mode, buf_t *wire)
{
	struct msg_out enc;
	int rc;

	msg_out_init(&enc, mode, 0);
	rc = msg_out_feed(&enc, raw->data ? raw->data : "", raw->len, wire, NULL);
	if (rc == 0)
		rc = msg_out_finish(&enc, wire);
	msg_out_free(&enc);
	return rc;
}

/* ------------------------------------------------------------------- DNS */

/* The DNS module on a private event base, run until the lookups finish. */
struct pdns {
	struct event_base *base;
	struct dns *d;
	int pending;
	int expired;
	int timeout_ms;
};

/* One lookup and what it found (copied: results live only in callbacks). */
struct plook {
	struct pdns *p;
	struct dns_req *q;
	int started, done;
	enum dns_status st;
	char why[96];
	size_t n;
	char names[PTR_MAX][DNS_NAME_SIZE];		/* PTR */
	struct sockaddr_storage addrs[ADDR_MAX];	/* A, AAAA */
};

/* A route lookup. */
struct proute {
	struct pdns *p;
	struct route_req *q;
	int done;
	struct route r;
};

/* pdns_open - a resolver on servers (NULL: resolv.conf); -1 with a message */
static int pdns_open(struct pdns *p, const char *servers, int timeout_s)
{
	struct dns_conf c;
	buf_t err;

	memset(p, 0, sizeof(*p));
	p->timeout_ms = timeout_s * 1000;
	p->base = event_base_new();
	if (!p->base)
		return bad("cannot create an event base");
	dns_conf_init(&c);
	c.servers = servers;
	c.timeout_ms = timeout_s * 1000 < 2000 ? timeout_s * 1000 : 2000;
	c.tries = 2;
	buf_init(&err);
	p->d = dns_new(p->base, &c, &err);
	if (!p->d) {
		bad("--dns: %s", err.data ? err.data : "cannot start the resolver");
		buf_free(&err);
		event_base_free(p->base);
		p->base = NULL;
		return -1;
	}
	buf_free(&err);
	return 0;
}

/* pdns_close - free the resolver (pending lookups are cancelled) */
static void pdns_close(struct pdns *p)
{
	if (p->d)
		dns_free(p->d);
	if (p->base)
		event_base_free(p->base);
	memset(p, 0, sizeof(*p));
}

/* on_expire - the bound on a round of lookups */
static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct pdns *p = arg;

	(void)fd;
	(void)what;
	p->expired = 1;
	event_base_loopbreak(p->base);
}

/* pdns_wait - run the loop until every lookup answered or the timeout */
static void pdns_wait(struct pdns *p)
{
	struct timeval tv = { p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000 };
	struct event *t = evtimer_new(p->base, on_expire, p);

	p->expired = 0;
	if (t)
		evtimer_add(t, &tv);
	while (p->pending > 0 && !p->expired && t)
		event_base_loop(p->base, EVLOOP_ONCE);
	if (t)
		event_free(t);
}

/* plook_cb - copy what a lookup found */
static void plook_cb(void *arg, const struct dns_result *r)
{
	struct plook *l = arg;

	l->q = NULL;
	l->done = 1;
	l->st = r->status;
	snprintf(l->why, sizeof(l->why), "%s", r->why);
	for (size_t i = 0; i < r->n; i++) {
		if (r->rr[i].type == DNS_T_PTR) {
			if (l->n < PTR_MAX && r->rr[i].name && r->rr[i].name[0])
				snprintf(l->names[l->n++], DNS_NAME_SIZE, "%s", r->rr[i].name);
		} else if (l->n < ADDR_MAX && dns_rr_sockaddr(&r->rr[i], 0, &l->addrs[l->n]) > 0) {
			l->n++;
		}
	}
	l->p->pending--;
}

/* plook_start - start a lookup of name/type (sa: a PTR lookup) */
static void plook_start(struct pdns *p, struct plook *l, const char *name, uint16_t type,
			const struct sockaddr *sa)
{
	memset(l, 0, sizeof(*l));
	l->p = p;
	l->started = 1;
	l->st = DNS_TEMPFAIL;
	snprintf(l->why, sizeof(l->why), "not looked up");
	l->q = sa ? dns_lookup_ptr(p->d, sa, plook_cb, l) : dns_lookup(p->d, name, type, plook_cb, l);
	if (l->q)
		p->pending++;
	else
		l->done = 1;
}

/* plook_finish - cancel a lookup that did not answer in time */
static void plook_finish(struct plook *l)
{
	if (l->started && !l->done) {
		dns_cancel(l->q);
		l->q = NULL;
		l->done = 1;
		l->st = DNS_TEMPFAIL;
		snprintf(l->why, sizeof(l->why), "timeout");
		l->p->pending--;
	}
}

/* proute_cb - copy the route */
static void proute_cb(void *arg, const struct route *r)
{
	struct proute *pr = arg;

	pr->q = NULL;
	pr->done = 1;
	pr->r = *r;
	pr->p->pending--;
}

/* same_addr - a and b hold the same IP address (ports aside; an IPv4-mapped
 * IPv6 address equals its IPv4 address) */
static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	unsigned char x[16], y[16];
	int lx, ly;

	lx = a->ss_family == AF_INET ? 4 : 16;
	ly = b->ss_family == AF_INET ? 4 : 16;
	memcpy(x, a->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
		  : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr, (size_t)lx);
	memcpy(y, b->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)b)->sin_addr
		  : (const void *)&((const struct sockaddr_in6 *)b)->sin6_addr, (size_t)ly);
	if (lx == 16 && ly == 4 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)x))
		return memcmp(x + 12, y, 4) == 0;
	if (lx == 4 && ly == 16 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)y))
		return memcmp(y + 12, x, 4) == 0;
	return lx == ly && memcmp(x, y, (size_t)lx) == 0;
}

/* addr_text - the address of ss as text */
static const char *addr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const void *a = ss->ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (!inet_ntop(ss->ss_family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
	return out;
}

/* ----------------------------------------------------------------- state */

/* A host to try, with its addresses in order. */
struct cand {
	char name[DNS_NAME_SIZE];
	int pref;			/* MX preference, -1 when none */
	int implicit;
	size_t naddrs;
	struct route_addr addrs[ROUTE_ADDRS_MAX];
};

enum target_kind { T_DOMAIN, T_HOST, T_IP };

/* One extension line of the last EHLO reply. */
struct ext {
	char kw[32];
	char *params;			/* "" when none */
};

struct probe {
	struct opts o;
	char helo[DNS_NAME_SIZE + 2];	/* also an address literal */
	char from[512];
	struct sess s;
	struct sess_printer pr;
	struct pdns dns;
	enum target_kind kind;
	char host[DNS_NAME_SIZE];	/* the target's name or address text */
	unsigned port;
	const char *resolve_status;	/* route_status_name, or NULL: no lookup */
	size_t ncand;
	struct cand cand[ROUTE_HOSTS_MAX];
	/* the connection */
	int connected;
	const struct cand *at;		/* the host connected to */
	int nrefused, ntimeout, nunreach, nother;	/* connect failures */
	/* findings */
	struct sess_step *banner;
	int greeted;			/* a 220 */
	char banner_name[DNS_NAME_SIZE];	/* "" when the banner names none */
	int name_resolves;		/* -1 unknown, 0 no, 1 yes */
	int name_matches;		/* -1 unknown */
	char name_addrs[256];
	size_t nptr;
	char ptr[PTR_MAX][DNS_NAME_SIZE];
	int ptr_known;			/* the PTR lookup answered */
	int ptr_matches;		/* -1 unknown: a PTR name equals the banner name */
	int fcrdns;			/* -1 unknown: a PTR name resolves back */
	int names_checked;		/* name_checks ran */
	int esmtp;			/* EHLO worked */
	int helo_ok;			/* HELO worked (EHLO did not) */
	size_t next;
	struct ext ext[EXT_MAX];
	int starttls_offered;
	int tls_refused;		/* STARTTLS got another reply than 220 */
	int auth;			/* 0 not tried, 1 ok, -1 refused */
	struct sess_step *mail, *data, *dot;
	size_t rcpt_ok, rcpt_bad;
	struct sess_step *rcpt_first_bad;
	int aborted;			/* closed to drop a half-sent transaction */
	enum stop stopped;		/* --quit-after that took effect */
	int checks_ran;			/* checks.c ran (checks holds them) */
	struct check_result checks;
	int exit;
	const char *exit_stage;		/* the stage that decided the exit */
};

/* -------------------------------------------------------------- the target */

/* parse_target - what TARGET is: an IP (with a port), a host (with a port or
 * in brackets: its A/AAAA only) or a domain (MX, else its own address) */
static int parse_target(struct probe *p)
{
	const char *t = p->o.target;
	unsigned def = p->o.port ? p->o.port : p->o.tls ? 465 : ROUTE_PORT_DEFAULT;
	struct route_target rt;
	struct cand *c = &p->cand[0];
	unsigned char a[16];
	buf_t err;

	p->port = def;
	if (inet_pton(AF_INET6, t, a) == 1) {	/* a bare IPv6 address */
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->addrs[0].ss;

		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a, 16);
		in6->sin6_port = htons((uint16_t)def);
		c->addrs[0].len = sizeof(*in6);
		goto ip;
	}
	buf_init(&err);
	if (route_parse_target(t, &rt, &err) < 0) {
		bad("TARGET %s", err.data ? err.data : "not understood");
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	if (rt.port)
		p->port = rt.port;
	if (rt.literal) {
		c->addrs[0] = rt.addr;
		if (c->addrs[0].ss.ss_family == AF_INET)
			((struct sockaddr_in *)&c->addrs[0].ss)->sin_port = htons((uint16_t)p->port);
		else
			((struct sockaddr_in6 *)&c->addrs[0].ss)->sin6_port = htons((uint16_t)p->port);
		goto ip;
	}
	snprintf(p->host, sizeof(p->host), "%s", rt.host);
	p->kind = t[0] == '[' || rt.port ? T_HOST : T_DOMAIN;
	return 0;
ip:
	p->kind = T_IP;
	addr_text(&c->addrs[0].ss, p->host, sizeof(p->host));
	snprintf(c->name, sizeof(c->name), "%s", p->host);
	c->pref = -1;
	c->implicit = 1;
	c->naddrs = 1;
	p->ncand = 1;
	return 0;
}

/* system_lookup - a host only the system resolver knows (/etc/hosts:
 * "localhost"); 0 when found */
static int system_lookup(struct probe *p)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct cand *c = &p->cand[0];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if (getaddrinfo(p->host, NULL, &hints, &res) != 0)
		return -1;
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", p->host);
	c->pref = -1;
	c->implicit = 1;
	for (ai = res; ai && c->naddrs < ROUTE_ADDRS_MAX; ai = ai->ai_next) {
		struct route_addr *ra = &c->addrs[c->naddrs];

		if (ai->ai_addrlen > sizeof(ra->ss))
			continue;
		memcpy(&ra->ss, ai->ai_addr, ai->ai_addrlen);
		ra->len = ai->ai_addrlen;
		if (ra->ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ra->ss)->sin_port = htons((uint16_t)p->port);
		else
			((struct sockaddr_in6 *)&ra->ss)->sin6_port = htons((uint16_t)p->port);
		c->naddrs++;
	}
	freeaddrinfo(res);
	p->ncand = c->naddrs ? 1 : 0;
	return c->naddrs ? 0 : -1;
}

/* host_note - "MX 10 mx1.example.org: 192.0.2.1, 2001:db8::1" */
static void host_note(struct probe *p, struct sess_step *st, const struct cand *c)
{
	char line[1024], a[INET6_ADDRSTRLEN];
	size_t o = 0;

	if (c->pref >= 0)
		o += (size_t)snprintf(line, sizeof(line), "MX %d %s:", c->pref, c->name);
	else
		o += (size_t)snprintf(line, sizeof(line), "%s:", c->name);
	for (size_t i = 0; i < c->naddrs && o < sizeof(line); i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s %s", i ? "," : "",
				      addr_text(&c->addrs[i].ss, a, sizeof(a)));
	sess_note(&p->s, st, "%s", line);
}

/* resolve - the hosts to try, in order (step "resolve"); an exit status
 * or 0 */
static int resolve(struct probe *p)
{
	struct proute pr;
	struct route_opts ro;
	struct route_target rt;
	struct sess_step *st;
	struct verdict v;
	int fallback = 0;

	if (p->kind == T_IP)
		return 0;
	sess_info(&p->s, p->kind == T_DOMAIN ? "Looking up the MX hosts of %s" :
		  "Looking up the addresses of %s", p->host);
	st = sess_step_add(&p->s, "resolve", NULL);
	if (!st)
		return PROBE_EXIT_DNS;
	memset(&pr, 0, sizeof(pr));
	memset(&ro, 0, sizeof(ro));
	pr.p = &p->dns;
	ro.port = (uint16_t)p->port;
	if (p->kind == T_DOMAIN) {
		pr.q = route_resolve(p->dns.d, p->host, &ro, proute_cb, &pr);
	} else {
		memset(&rt, 0, sizeof(rt));
		snprintf(rt.host, sizeof(rt.host), "%s", p->host);
		rt.port = (uint16_t)p->port;
		pr.q = route_relay(p->dns.d, &rt, &ro, proute_cb, &pr);
	}
	if (pr.q) {
		p->dns.pending++;
		pdns_wait(&p->dns);
	}
	if (!pr.done) {
		route_cancel(pr.q);
		if (pr.q)
			p->dns.pending--;
		pr.r.status = ROUTE_TEMPFAIL;
		snprintf(pr.r.text, sizeof(pr.r.text), "no answer from DNS within %d s",
			 p->o.timeout);
	}
	p->resolve_status = route_status_name(pr.r.status);
	if (pr.r.status == ROUTE_OK) {
		for (size_t i = 0; i < pr.r.nhosts; i++) {
			struct cand *c = &p->cand[i];

			snprintf(c->name, sizeof(c->name), "%s", pr.r.hosts[i].name);
			c->pref = pr.r.hosts[i].implicit ? -1 : (int)pr.r.hosts[i].pref;
			c->implicit = pr.r.hosts[i].implicit;
			c->naddrs = pr.r.hosts[i].naddrs;
			memcpy(c->addrs, pr.r.hosts[i].addrs, sizeof(c->addrs));
		}
		p->ncand = pr.r.nhosts;
	} else if (!p->o.dns && pr.r.status != ROUTE_NULLMX && pr.r.status != ROUTE_BADNAME &&
		   system_lookup(p) == 0) {
		fallback = 1;
		p->resolve_status = "system";
	}
	v = verdict_dns(pr.r.status == ROUTE_OK || fallback ? ROUTE_OK : pr.r.status);
	sess_verdict(&p->s, st, v.cls == VERDICT_OK ? SESS_V_OK : v.cls == VERDICT_TEMPORARY ?
		     SESS_V_TEMP : v.cls == VERDICT_PERMANENT ? SESS_V_PERM : SESS_V_ERROR, v.next,
		     "%s", v.text);
	if (pr.r.status != ROUTE_OK || pr.r.nskipped)
		sess_note(&p->s, st, "%s", pr.r.text);
	if (fallback)
		sess_note(&p->s, st, "found by the system resolver only (/etc/hosts or its "
			  "search domains), not in DNS");
	if (p->kind == T_DOMAIN && p->ncand && p->cand[0].implicit && !fallback)
		sess_note(&p->s, st, "no MX record: mail goes to the domain's own address "
			  "(implicit MX, RFC 5321 5.1)");
	for (size_t i = 0; i < p->ncand; i++)
		host_note(p, st, &p->cand[i]);
	return p->ncand ? 0 : PROBE_EXIT_DNS;
}

/* ----------------------------------------------------------------- steps */

/* set_exit - the first failure decides the exit status */
static int set_exit(struct probe *p, int code, const char *stage)
{
	if (!p->exit) {
		p->exit = code;
		p->exit_stage = stage;
	}
	return code;
}

/* alive - the connection can still carry a command */
static int alive(const struct probe *p)
{
	return p->s.fd >= 0 && !p->s.eof;
}

/* quit - QUIT and its reply when the connection is still up */
static void quit(struct probe *p)
{
	if (alive(p))
		sess_cmd(&p->s, "quit", "QUIT", NULL, NULL);
	sess_close(&p->s);
}

/* no_reply - the exit status for a step without a (usable) reply */
static int no_reply(struct probe *p, enum sess_result r, const char *stage)
{
	if (r == SESS_TLS)
		return set_exit(p, PROBE_EXIT_TLS, stage);
	return set_exit(p, PROBE_EXIT_PROTOCOL, stage);
}

/* stop_at - --quit-after says stop here: QUIT (unless connect) */
static int stop_at(struct probe *p, enum stop where)
{
	if (p->o.quit_after != where)
		return 0;
	p->stopped = where;
	if (where == STOP_CONNECT)
		sess_close(&p->s);
	else
		quit(p);
	return 1;
}

/* connect_walk - connect to the first host and address that answers */
static int connect_walk(struct probe *p)
{
	for (size_t i = 0; i < p->ncand; i++) {
		const struct cand *c = &p->cand[i];

		for (size_t j = 0; j < c->naddrs; j++) {
			const struct route_addr *a = &c->addrs[j];
			struct sess_step *st;

			enum sess_result r = sess_connect(&p->s, (const struct sockaddr *)&a->ss,
							  a->len, c->name);

			if (r == SESS_OK) {
				p->connected = 1;
				p->at = c;
				return 0;
			}
			if (r == SESS_LOCAL || !p->s.nsteps)
				continue;
			st = p->s.steps[p->s.nsteps - 1];
			if (st->err == ECONNREFUSED)
				p->nrefused++;
			else if (st->err == ETIMEDOUT)
				p->ntimeout++;
			else if (st->err == EHOSTUNREACH || st->err == ENETUNREACH)
				p->nunreach++;
			else
				p->nother++;
		}
	}
	return set_exit(p, PROBE_EXIT_CONNECT, "connect");
}

/* banner_word - the first word of the greeting's text: the name the
 * server claims (RFC 5321 4.3.1: "220 domain ...") */
static void banner_word(struct probe *p, const struct sess_step *st)
{
	const char *t = st->reply.nlines ? st->reply.lines[0] : "";
	char w[DNS_NAME_SIZE + 1];
	size_t n;

	t += strlen(t) >= 4 ? 4 : strlen(t);
	n = strcspn(t, " \t");
	p->banner_name[0] = '\0';
	if (n == 0 || n >= sizeof(w))
		return;
	memcpy(w, t, n);
	w[n] = '\0';
	if (strchr(w, '.') && dns_name_ok(w))
		dns_name_norm(p->banner_name, w);
}

/* addrs_text - the addresses of two lookups as text */
static void addrs_text(const struct plook *a, const struct plook *b, char *out, size_t n)
{
	const struct plook *l[2] = { a, b };
	char t[INET6_ADDRSTRLEN];
	size_t o = 0;

	out[0] = '\0';
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < l[k]->n && o < n; i++)
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "",
					      addr_text(&l[k]->addrs[i], t, sizeof(t)));
}

/* holds - one of the lookups found the peer's address */
static int holds(const struct probe *p, const struct plook *a, const struct plook *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (same_addr(&a->addrs[i], &p->s.peer))
			return 1;
	for (size_t i = 0; i < b->n; i++)
		if (same_addr(&b->addrs[i], &p->s.peer))
			return 1;
	return 0;
}

/* status_of - ok, or the worst of two lookups */
static enum dns_status status_of(const struct plook *a, const struct plook *b)
{
	if (a->st == DNS_OK || b->st == DNS_OK)
		return DNS_OK;
	if (a->st == DNS_TEMPFAIL || b->st == DNS_TEMPFAIL)
		return DNS_TEMPFAIL;
	return a->st;
}

/* name_lookups - A/AAAA of the banner name (l[0], l[1]), PTR of the peer
 * (l[2]), then A/AAAA of up to 4 PTR names (l[3 + 2i], l[4 + 2i]); the
 * number of PTR names looked up */
static size_t name_lookups(struct probe *p, struct plook *l)
{
	size_t nf;

	if (p->banner_name[0]) {
		plook_start(&p->dns, &l[0], p->banner_name, DNS_T_A, NULL);
		plook_start(&p->dns, &l[1], p->banner_name, DNS_T_AAAA, NULL);
	}
	plook_start(&p->dns, &l[2], NULL, DNS_T_PTR, (const struct sockaddr *)&p->s.peer);
	pdns_wait(&p->dns);
	for (int i = 0; i < 3; i++)
		plook_finish(&l[i]);
	p->ptr_known = l[2].st == DNS_OK || l[2].st == DNS_NXDOMAIN || l[2].st == DNS_NODATA;
	p->nptr = l[2].n;
	for (size_t i = 0; i < l[2].n; i++)
		snprintf(p->ptr[i], DNS_NAME_SIZE, "%s", l[2].names[i]);
	nf = p->nptr < 4 ? p->nptr : 4;
	for (size_t i = 0; i < nf; i++) {
		plook_start(&p->dns, &l[3 + 2 * i], p->ptr[i], DNS_T_A, NULL);
		plook_start(&p->dns, &l[4 + 2 * i], p->ptr[i], DNS_T_AAAA, NULL);
	}
	if (nf)
		pdns_wait(&p->dns);
	for (size_t i = 0; i < 2 * nf; i++)
		plook_finish(&l[3 + i]);
	return nf;
}

/* banner_name_note - does the banner's name resolve to the peer */
static void banner_name_note(struct probe *p, struct sess_step *st, const struct plook *l)
{
	enum dns_status s;

	if (!p->banner_name[0]) {
		if (p->greeted)
			sess_note(&p->s, st, "the greeting does not start with a fully qualified "
				  "host name (RFC 5321 4.3.1 says it should)");
		return;
	}
	s = status_of(&l[0], &l[1]);
	addrs_text(&l[0], &l[1], p->name_addrs, sizeof(p->name_addrs));
	p->name_resolves = s == DNS_OK && (l[0].n || l[1].n) ? 1 : s == DNS_TEMPFAIL ? -1 : 0;
	p->name_matches = p->name_resolves == 1 ? holds(p, &l[0], &l[1]) : p->name_resolves;
	if (p->name_matches == 1)
		sess_note(&p->s, st, "it calls itself %s, which resolves to %s: that is the "
			  "address we connected to", p->banner_name, p->name_addrs);
	else if (p->name_resolves == 1)
		sess_note(&p->s, st, "it calls itself %s, which resolves to %s but not to %s: the "
			  "banner names another host (a wrong host name setting, NAT or a load "
			  "balancer)", p->banner_name, p->name_addrs, p->s.peer_text);
	else if (p->name_resolves == 0)
		sess_note(&p->s, st, "it calls itself %s, which does not resolve (%s): receivers "
			  "that check the name will distrust it", p->banner_name,
			  l[0].st == DNS_NXDOMAIN ? "no such name" : "no address");
	else
		sess_note(&p->s, st, "it calls itself %s; looking that name up failed: %s",
			  p->banner_name, l[0].why);
}

/* ptr_note - the peer's PTR names, and whether they resolve back */
static void ptr_note(struct probe *p, struct sess_step *st, const struct plook *l, size_t nf)
{
	const char *peer = p->s.peer_text;
	char names[600] = "";
	size_t o = 0;

	if (!p->nptr) {
		p->fcrdns = p->ptr_known ? 0 : -1;
		if (p->ptr_known)
			sess_note(&p->s, st, "no PTR record for %s: receivers and blocklists "
				  "distrust mail servers without reverse DNS", peer);
		else
			sess_note(&p->s, st, "the PTR lookup of %s failed: %s", peer, l[2].why);
		return;
	}
	p->fcrdns = 0;
	p->ptr_matches = p->banner_name[0] ? 0 : -1;
	for (size_t i = 0; i < p->nptr; i++) {
		o += (size_t)snprintf(names + o, o < sizeof(names) ? sizeof(names) - o : 0,
				      "%s%s", i ? ", " : "", p->ptr[i]);
		if (p->banner_name[0] && strcasecmp(p->ptr[i], p->banner_name) == 0)
			p->ptr_matches = 1;
		if (i < nf && holds(p, &l[3 + 2 * i], &l[4 + 2 * i]))
			p->fcrdns = 1;
	}
	sess_note(&p->s, st, "PTR of %s: %s (%s%s)", peer, names,
		  p->fcrdns ? "resolves back to it: forward-confirmed" :
		  "does NOT resolve back to it: not forward-confirmed",
		  p->ptr_matches == 1 ? ", same as the banner name" :
		  p->ptr_matches == 0 ? ", differs from the banner name" : "");
}

/* name_checks - the banner's name against the peer address (forward), the
 * peer's PTR names and whether they resolve back (forward-confirmed
 * reverse DNS): the seeds' "does the server respond with the correct
 * hostname?" */
static void name_checks(struct probe *p, struct sess_step *st)
{
	struct plook *l = calloc(3 + 2 * 4, sizeof(*l));
	size_t nf;

	p->name_resolves = p->name_matches = p->ptr_matches = p->fcrdns = -1;
	if (!l)
		return;
	nf = name_lookups(p, l);
	p->names_checked = 1;
	banner_name_note(p, st, l);
	ptr_note(p, st, l, nf);
	free(l);
}

/* greeting - the banner: 220 or not, the name it claims, the DNS checks */
static int greeting(struct probe *p)
{
	struct sess_step *st;
	enum sess_result r = sess_greeting(&p->s, &st);
	const char *note;

	p->banner = st;
	if (r != SESS_OK) {
		sess_close(&p->s);
		return set_exit(p, r == SESS_TLS ? PROBE_EXIT_TLS : PROBE_EXIT_BANNER, "banner");
	}
	p->greeted = st->reply.code == 220;
	if (p->greeted) {
		buf_t t;

		buf_init(&t);
		sess_reply_text(&st->reply, " ", &t);
		note = verdict_banner_note(t.data ? t.data : "");
		if (note)
			sess_note(&p->s, st, "%s", note);
		buf_free(&t);
	}
	banner_word(p, st);
	name_checks(p, st);
	if (!p->greeted) {
		quit(p);	/* RFC 5321 3.1: QUIT after a 554 greeting */
		return set_exit(p, PROBE_EXIT_BANNER, "banner");
	}
	return 0;
}

/* clear_ext - forget the extensions of an earlier EHLO */
static void clear_ext(struct probe *p)
{
	for (size_t i = 0; i < p->next; i++)
		free(p->ext[i].params);
	p->next = 0;
}

/* find_ext - the extension keyword kw, or NULL */
static const struct ext *find_ext(const struct probe *p, const char *kw)
{
	for (size_t i = 0; i < p->next; i++)
		if (strcasecmp(p->ext[i].kw, kw) == 0)
			return &p->ext[i];
	return NULL;
}

/* ext_has_word - the extension's parameters hold the word w */
static int ext_has_word(const struct ext *e, const char *w)
{
	const char *s = e ? e->params : "";
	size_t n = strlen(w);

	while (*s) {
		size_t k = strcspn(s, " ");

		if (k == n && strncasecmp(s, w, n) == 0)
			return 1;
		s += k;
		s += strspn(s, " ");
	}
	return 0;
}

/* read_ext - the extensions of an EHLO reply (RFC 5321 4.1.1.1: every
 * line after the first is "keyword [params]"), each explained */
static void read_ext(struct probe *p, struct sess_step *st)
{
	clear_ext(p);
	for (size_t i = 1; i < st->reply.nlines && p->next < EXT_MAX; i++) {
		const char *line = st->reply.lines[i];
		char expl[512];
		size_t k;
		struct ext *e;

		line += strlen(line) >= 4 ? 4 : strlen(line);
		k = strcspn(line, " =");
		if (k == 0 || k >= sizeof(e->kw))
			continue;
		e = &p->ext[p->next];
		memcpy(e->kw, line, k);
		e->kw[k] = '\0';
		for (char *c = e->kw; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		e->params = strdup(line[k] ? line + k + 1 : "");
		if (!e->params)
			break;
		p->next++;
		verdict_extension(line, expl, sizeof(expl));
		sess_note(&p->s, st, "%s: %s", line, expl);
	}
	p->starttls_offered |= find_ext(p, "STARTTLS") != NULL;	/* not after TLS */
}

/* helo_literal - no --helo and this host's name is not fully qualified:
 * greet with our address as a literal instead (RFC 5321 4.1.4) */
static void helo_literal(struct probe *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	if (p->o.helo || strchr(p->helo, '.') || p->s.fd < 0 ||
	    getsockname(p->s.fd, (struct sockaddr *)&ss, &len) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	addr_text(&ss, a, sizeof(a));
	snprintf(p->helo, sizeof(p->helo), ss.ss_family == AF_INET ? "[%s]" : "[IPv6:%s]", a);
}

/* hello - EHLO, HELO when EHLO is refused (RFC 5321 4.1.1.1) */
static int hello(struct probe *p)
{
	struct sess_step *st;
	char line[DNS_NAME_SIZE + 8];
	enum sess_result r;

	helo_literal(p);
	snprintf(line, sizeof(line), "EHLO %s", p->helo);
	r = sess_cmd(&p->s, "ehlo", line, NULL, &st);
	if (r != SESS_OK)
		return no_reply(p, r, "ehlo");
	if (st->reply.code == 250) {
		p->esmtp = 1;
		read_ext(p, st);
		return 0;
	}
	p->esmtp = 0;
	clear_ext(p);
	if (st->reply.code == 421 || !alive(p)) {
		sess_close(&p->s);
		return set_exit(p, PROBE_EXIT_EHLO, "ehlo");
	}
	snprintf(line, sizeof(line), "HELO %s", p->helo);
	r = sess_cmd(&p->s, "helo", line, NULL, &st);
	if (r != SESS_OK)
		return no_reply(p, r, "helo");
	if (st->reply.code != 250) {
		quit(p);
		return set_exit(p, PROBE_EXIT_EHLO, "helo");
	}
	p->helo_ok = 1;
	return 0;
}

/* tls_conf - the handshake's settings: the host name we went to (an IP
 * target: its address) */
static void tls_conf(const struct probe *p, struct sess_tls_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ca_file = p->o.ca;
	c->name = p->at ? p->at->name : p->host;
	c->verify = p->o.verify;
}

/* tls_bad - --verify and the certificate failed */
static int tls_bad(const struct probe *p)
{
	return p->o.verify && !(p->s.tls.verified && p->s.tls.name_matches);
}

/* starttls - STARTTLS when offered (or required), then EHLO again */
static int starttls(struct probe *p)
{
	struct sess_tls_conf tc;
	struct sess_step *st;
	enum sess_result r;

	if (p->o.tls || p->o.starttls < 0)
		return 0;
	if (!p->starttls_offered) {
		struct verdict v;

		if (p->o.starttls <= 0)
			return 0;
		v = verdict_problem(VERDICT_NO_STARTTLS, PROBE_STARTTLS);
		st = sess_step_add(&p->s, "starttls", NULL);
		if (st)
			sess_verdict(&p->s, st, SESS_V_ERROR, v.next, "%s", v.text);
		quit(p);
		return set_exit(p, PROBE_EXIT_TLS, "starttls");
	}
	tls_conf(p, &tc);
	r = sess_starttls(&p->s, &tc, &st);
	if (r != SESS_OK)
		return no_reply(p, r, r == SESS_TLS ? "tls" : "starttls");
	if (!p->s.tls.on) {		/* refused */
		p->tls_refused = 1;
		if (p->o.starttls > 0) {
			quit(p);
			return set_exit(p, PROBE_EXIT_TLS, "starttls");
		}
		if (!alive(p) || st->reply.code == 421)
			return no_reply(p, SESS_CLOSED, "starttls");
		sess_note(&p->s, st, "going on without TLS");
		return 0;
	}
	if (tls_bad(p)) {
		quit(p);
		return set_exit(p, PROBE_EXIT_TLS, "tls");
	}
	return hello(p);	/* RFC 3207 4.2: forget what was learnt before */
}

/* implicit_tls - --tls: the handshake right after the connect */
static int implicit_tls(struct probe *p)
{
	struct sess_tls_conf tc;
	enum sess_result r;

	tls_conf(p, &tc);
	r = sess_tls_handshake(&p->s, &tc, NULL);
	if (r != SESS_OK)
		return set_exit(p, PROBE_EXIT_TLS, "tls");
	if (tls_bad(p)) {
		sess_close(&p->s);
		return set_exit(p, PROBE_EXIT_TLS, "tls");
	}
	return 0;
}

/* b64 - base64 of n bytes into a new buffer (NULL on failure) */
static char *b64(const void *src, size_t n)
{
	size_t sz = (n + 2) / 3 * 4 + 1;
	char *out = malloc(sz);

	if (out && sasl_b64_encode(src, n, out, sz) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

/* auth_expect - the reply to an AUTH exchange; 0 when it is code */
static int auth_expect(struct probe *p, enum sess_result r, const struct sess_step *st, int code)
{
	if (r != SESS_OK) {
		no_reply(p, r, "auth");
		return -1;
	}
	if (st->reply.code != code) {
		p->auth = -1;
		if (st->reply.code == 334 && alive(p))	/* a challenge we cannot meet */
			sess_cmd(&p->s, "auth", "*", NULL, NULL);
		quit(p);
		set_exit(p, PROBE_EXIT_AUTH, "auth");
		return -1;
	}
	return 0;
}

/* auth_plain - AUTH PLAIN with an initial response (RFC 4954 4, RFC 4616) */
static int auth_plain(struct probe *p, const char *user, const char *pw)
{
	size_t ul = strlen(user), pl = strlen(pw), n = ul + pl + 2;
	char *raw = malloc(n), *enc, *line;
	struct sess_step *st;
	enum sess_result r;

	if (!raw)
		return set_exit(p, PROBE_EXIT_AUTH, "auth");
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pw, pl);
	enc = b64(raw, n);
	sasl_wipe(raw, n);
	free(raw);
	line = enc ? malloc(strlen(enc) + 16) : NULL;
	if (!line) {
		free(enc);
		return set_exit(p, PROBE_EXIT_AUTH, "auth");
	}
	sprintf(line, "AUTH PLAIN %s", enc);
	r = sess_cmd(&p->s, "auth", line, "AUTH PLAIN <credentials hidden>", &st);
	sasl_wipe(line, strlen(line));
	sasl_wipe(enc, strlen(enc));
	free(line);
	free(enc);
	return auth_expect(p, r, st, 235) < 0 ? p->exit : 0;
}

/* auth_login - AUTH LOGIN: the user name and the password, each in
 * base64 after a 334 */
static int auth_login(struct probe *p, const char *user, const char *pw)
{
	struct sess_step *st;
	enum sess_result r;
	char *u = b64(user, strlen(user)), *w = b64(pw, strlen(pw));
	int rc = -1;

	if (!u || !w)
		goto out;
	r = sess_cmd(&p->s, "auth", "AUTH LOGIN", NULL, &st);
	if (auth_expect(p, r, st, 334) < 0)
		goto out;
	r = sess_cmd(&p->s, "auth", u, NULL, &st);
	if (auth_expect(p, r, st, 334) < 0)
		goto out;
	r = sess_cmd(&p->s, "auth", w, "<password hidden>", &st);
	if (auth_expect(p, r, st, 235) < 0)
		goto out;
	rc = 0;
out:
	if (w)
		sasl_wipe(w, strlen(w));
	free(u);
	free(w);
	return rc < 0 ? set_exit(p, PROBE_EXIT_AUTH, "auth") : 0;
}

/* authenticate - AUTH (RFC 4954) with PLAIN or LOGIN */
static int authenticate(struct probe *p, const char *pw)
{
	const struct ext *e = find_ext(p, "AUTH");
	const char *mech = p->o.auth_mech;
	struct sess_step *st;
	int rc;

	if (!p->o.auth_user)
		return 0;
	if (!e) {
		struct verdict v = verdict_problem(VERDICT_NO_AUTH, PROBE_AUTH);

		st = sess_step_add(&p->s, "auth", NULL);
		if (st)
			sess_verdict(&p->s, st, SESS_V_ERROR, v.next, "%s", v.text);
		p->auth = -1;
		quit(p);
		return set_exit(p, PROBE_EXIT_AUTH, "auth");
	}
	if (!mech)
		mech = ext_has_word(e, "PLAIN") ? "PLAIN" : ext_has_word(e, "LOGIN") ? "LOGIN" : NULL;
	if (!mech) {
		st = sess_step_add(&p->s, "auth", NULL);
		if (st)
			sess_verdict(&p->s, st, SESS_V_ERROR, "use a client that speaks one of "
				     "them", "the server offers neither PLAIN nor LOGIN (AUTH %s)",
				     e->params);
		p->auth = -1;
		quit(p);
		return set_exit(p, PROBE_EXIT_AUTH, "auth");
	}
	if (!p->s.tls.on)
		sess_info(&p->s, "AUTH %s without TLS: the password crosses the network "
			  "readable (base64 is no encryption)", mech);
	rc = strcmp(mech, "PLAIN") == 0 ? auth_plain(p, p->o.auth_user, pw)
					: auth_login(p, p->o.auth_user, pw);
	if (rc == 0)
		p->auth = 1;
	else if (p->auth == 0)
		p->auth = -1;
	return rc;
}

/* put_param - " P=V"; the xtext values of ENVID and ORCPT (after its
 * "type;") are encoded (RFC 3461 4) unless they already are valid xtext,
 * so "--rcpt-param ORCPT=rfc822;a+b@example.org" works as typed */
static void put_param(buf_t *b, const char *param)
{
	const char *eq = strchr(param, '='), *v;
	char tmp[1024], enc[3 * sizeof(tmp)];
	size_t k = eq ? (size_t)(eq - param) : 0;

	if (!eq || !((k == 5 && strncasecmp(param, "ENVID", 5) == 0) ||
		     (k == 5 && strncasecmp(param, "ORCPT", 5) == 0))) {
		buf_printf(b, " %s", param);
		return;
	}
	v = eq + 1;
	if (k == 5 && strncasecmp(param, "ORCPT", 5) == 0 && strchr(v, ';'))
		v = strchr(v, ';') + 1;
	if (xtext_decode(v, strlen(v), tmp, sizeof(tmp)) >= 0 ||
	    xtext_encode(v, strlen(v), enc, sizeof(enc)) < 0) {
		buf_printf(b, " %s", param);
		return;
	}
	buf_printf(b, " %.*s%s", (int)(v - param), param, enc);
}

/* with_params - "base" then " param" for each, into a new string */
static char *with_params(const char *base, const struct strlist *l)
{
	buf_t b;

	buf_init(&b);
	buf_puts(&b, base);
	for (size_t i = 0; i < l->n; i++)
		put_param(&b, l->v[i]);
	return b.data ? buf_steal(&b) : strdup(base);
}

/* send_step - a command: sent and read at once, or only sent (pipelined) */
static enum sess_result send_step(struct probe *p, int pipelined, const char *name,
				  const char *line, struct sess_step **st)
{
	if (pipelined)
		return sess_send_cmd(&p->s, name, line, NULL, st);
	return sess_cmd(&p->s, name, line, NULL, st);
}

/* check_mail - MAIL's reply: 0, or the exit status */
static int check_mail(struct probe *p, enum sess_result r)
{
	if (r != SESS_OK)
		return no_reply(p, r, "mail");
	if (p->mail->reply.code != 250)
		return set_exit(p, PROBE_EXIT_MAIL, "mail");
	return 0;
}

/* check_rcpt - one RCPT's reply: 0, or the exit status (a refusal is
 * counted; the status is set once every RCPT was sent) */
static int check_rcpt(struct probe *p, enum sess_result r, struct sess_step *st)
{
	if (r != SESS_OK)
		return no_reply(p, r, "rcpt");
	if (st->reply.code == 250 || st->reply.code == 251) {
		p->rcpt_ok++;
	} else {
		p->rcpt_bad++;
		if (!p->rcpt_first_bad)
			p->rcpt_first_bad = st;
	}
	return 0;
}

/* read_group - the replies to a pipelined group, in order (RFC 2920 3.1):
 * MAIL, nrcpt RCPTs and DATA when sent; 0 or the exit status */
static int read_group(struct probe *p, size_t nrcpt, struct sess_step **rs,
		      enum sess_result *rd)
{
	enum sess_result rm = sess_read_step(&p->s, p->mail), rr[LIST_MAX];
	int rc;

	for (size_t i = 0; i < nrcpt; i++)
		rr[i] = sess_read_step(&p->s, rs[i]);
	if (p->data)
		*rd = sess_read_step(&p->s, p->data);
	if ((rc = check_mail(p, rm)) != 0)
		return rc;
	for (size_t i = 0; i < nrcpt; i++)
		if ((rc = check_rcpt(p, rr[i], rs[i])) != 0)
			return rc;
	return 0;
}

/* envelope - MAIL, each RCPT and (unless BDAT or stopping before) DATA,
 * one by one or as one PIPELINING group (RFC 2920 3.1: DATA last) */
static int envelope(struct probe *p)
{
	const struct opts *o = &p->o;
	int pipe = o->pipelining && find_ext(p, "PIPELINING");
	int want_rcpt = o->quit_after != STOP_MAIL && o->to.n;
	int want_data = want_rcpt && o->quit_after != STOP_RCPT && !o->bdat;
	struct sess_step *rs[LIST_MAX];
	enum sess_result rr, rm, rd = SESS_OK;
	char base[600], *line;
	int rc;

	if (o->pipelining && !pipe)
		sess_info(&p->s, "the server does not offer PIPELINING: one command at a time");
	snprintf(base, sizeof(base), "MAIL FROM:<%s>", p->from);
	line = with_params(base, &o->mail_params);
	rm = send_step(p, pipe, "mail", line ? line : base, &p->mail);
	free(line);
	if (!pipe && (rc = check_mail(p, rm)) != 0) {
		quit(p);
		return rc;
	}
	for (size_t i = 0; want_rcpt && i < o->to.n; i++) {
		snprintf(base, sizeof(base), "RCPT TO:<%s>", o->to.v[i]);
		line = with_params(base, &o->rcpt_params);
		rr = send_step(p, pipe, "rcpt", line ? line : base, &rs[i]);
		free(line);
		if (!pipe && (rc = check_rcpt(p, rr, rs[i])) != 0)
			return rc;
	}
	if (want_data && (pipe || p->rcpt_bad == 0))
		rd = send_step(p, pipe, "data", "DATA", &p->data);
	if (pipe && (rc = read_group(p, want_rcpt ? o->to.n : 0, rs, &rd)) != 0)
		goto abandon;
	if (p->rcpt_bad) {
		rc = set_exit(p, PROBE_EXIT_RCPT, "rcpt");
		goto abandon;
	}
	if (p->data && rd != SESS_OK)
		return no_reply(p, rd, "data");
	if (p->data && p->data->reply.code != 354) {
		quit(p);
		return set_exit(p, PROBE_EXIT_DATA, "data");
	}
	return 0;
abandon:
	if (p->data && p->data->done && p->data->reply.code == 354) {
		/* in DATA with a refused sender or recipient: no message may
		 * go, so drop the connection (the server discards it all) */
		sess_info(&p->s, "closing the connection to abandon the message (the sender or "
			  "a recipient was refused)");
		p->aborted = 1;
		sess_close(&p->s);
	} else {
		quit(p);
	}
	return rc;
}

/* message - the message after the 354 (step "dot"), or as one BDAT LAST
 * chunk (RFC 3030) */
static int message(struct probe *p, const buf_t *raw)
{
	buf_t wire;
	enum sess_result r;
	struct sess_step *st;
	int rc = 0;

	buf_init(&wire);
	if (p->o.bdat && !find_ext(p, "CHUNKING")) {
		st = sess_step_add(&p->s, "bdat", NULL);
		if (st)
			sess_verdict(&p->s, st, SESS_V_ERROR, "send it with DATA (leave out --bdat)",
				     "the server does not offer CHUNKING (RFC 3030), so it cannot "
				     "take BDAT; nothing was sent");
		quit(p);
		return set_exit(p, PROBE_EXIT_DATA, "bdat");
	}
	if (p->o.bdat) {
		buf_t chunk;
		char cmd[64];

		buf_init(&chunk);
		if (encode(raw, MSG_OUT_BDAT, &chunk) < 0) {
			buf_free(&chunk);
			return set_exit(p, PROBE_EXIT_DATA, "bdat");
		}
		snprintf(cmd, sizeof(cmd), "BDAT %zu LAST", chunk.len);
		buf_printf(&wire, "%s\r\n", cmd);
		buf_append(&wire, chunk.data ? chunk.data : "", chunk.len);
		buf_free(&chunk);
		r = sess_send_data(&p->s, "bdat", cmd, wire.data, wire.len, &st);
		p->dot = st;
	} else if (encode(raw, MSG_OUT_DATA, &wire) < 0) {
		buf_free(&wire);
		return set_exit(p, PROBE_EXIT_DATA, "dot");
	} else {
		r = sess_send_data(&p->s, "dot", ".", wire.data, wire.len, &st);
		p->dot = st;
	}
	buf_free(&wire);
	if (r != SESS_OK)
		rc = no_reply(p, r, st ? st->name : "dot");
	else if (st->reply.code < 200 || st->reply.code > 299)
		rc = set_exit(p, PROBE_EXIT_DATA, st->name);
	quit(p);
	return rc;
}

/* ---------------------------------------------------------------- summary */

/* exit_text - what an exit status means */
static const char *exit_text(int code)
{
	switch (code) {
	case PROBE_EXIT_OK: return "success";
	case PROBE_EXIT_USAGE: return "usage error";
	case PROBE_EXIT_DNS: return "the target could not be resolved";
	case PROBE_EXIT_CONNECT: return "the connection failed";
	case PROBE_EXIT_BANNER: return "no 220 greeting";
	case PROBE_EXIT_EHLO: return "EHLO and HELO refused";
	case PROBE_EXIT_TLS: return "TLS failure";
	case PROBE_EXIT_AUTH: return "AUTH refused";
	case PROBE_EXIT_MAIL: return "MAIL refused";
	case PROBE_EXIT_RCPT: return "RCPT refused";
	case PROBE_EXIT_DATA: return "DATA refused";
	case PROBE_EXIT_RELAY: return "open relay, smuggling or STARTTLS injection found";
	case PROBE_EXIT_PROTOCOL: return "protocol error";
	default: return "?";
	}
}

/* The answers to the seeds' questions, for the text and the JSON. */
struct summary {
	char up[512], blocked[512], supports[1024], tls[1024], name[1200], auth[300];
	char accept[900], relay[420], smuggling[420], injection[420];
	int up_b, blocked_b, accept_b, sender_b, message_b;	/* -1: null */
};

/* first_line - a step's reply as "250 2.1.5 text" (first line) */
static void first_line(const struct sess_step *st, char *out, size_t n)
{
	if (!st || !st->reply.nlines) {
		snprintf(out, n, "%s", st && st->error ? st->error : "no reply");
		return;
	}
	snprintf(out, n, "%s", st->reply.lines[0]);
	for (char *c = out; *c; c++)	/* our text: keep it printable */
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
}

/* sum_up - is the server up, is the port blocked */
static void sum_up(const struct probe *p, struct summary *s)
{
	unsigned port = p->connected ? p->s.port : p->port;

	s->up_b = p->greeted;
	s->blocked_b = -1;
	if (!p->ncand) {
		snprintf(s->up, sizeof(s->up), "unknown: no mail host to try for %s", p->host);
		snprintf(s->blocked, sizeof(s->blocked), "unknown: nothing to connect to");
		return;
	}
	if (!p->connected) {
		s->up_b = 0;
		s->blocked_b = p->ntimeout + p->nunreach > 0;
		snprintf(s->up, sizeof(s->up), "no: none of %s's addresses took a connection "
			 "on port %u", p->host, port);
		if (p->ntimeout + p->nunreach)
			snprintf(s->blocked, sizeof(s->blocked), "probably: %s on port %u; a "
				 "firewall (yours, your provider's or the server's) may drop it",
				 p->ntimeout ? "no answer (timed out)" : "unreachable", port);
		else
			snprintf(s->blocked, sizeof(s->blocked), "no: the host answered, but "
				 "refused port %u (nothing listens there)", port);
		return;
	}
	s->blocked_b = 0;
	snprintf(s->blocked, sizeof(s->blocked), "no: port %u took the connection", port);
	if (p->greeted && strcmp(p->at->name, p->s.peer_text) != 0)
		snprintf(s->up, sizeof(s->up), "yes: %s [%s] port %u greets with 220 (%.1f ms)",
			 p->at->name, p->s.peer_text, port, p->banner ? p->banner->ms : 0.0);
	else if (p->greeted)
		snprintf(s->up, sizeof(s->up), "yes: %s port %u greets with 220 (%.1f ms)",
			 p->s.peer_text, port, p->banner ? p->banner->ms : 0.0);
	else if (p->banner && p->banner->reply.code)
		snprintf(s->up, sizeof(s->up), "reachable, but it does not greet with 220: %d",
			 p->banner->reply.code);
	else if (p->o.quit_after == STOP_CONNECT)
		snprintf(s->up, sizeof(s->up), "it accepts connections on port %u (stopped "
			 "before the greeting)", port);
	else
		snprintf(s->up, sizeof(s->up), "reachable, but no SMTP greeting: %s",
			 !p->banner ? "none" : p->banner->error ? p->banner->error :
			 sess_result_text(p->banner->result));
}

/* sum_supports - the extensions */
static void sum_supports(const struct probe *p, struct summary *s)
{
	size_t o;

	if (!p->esmtp) {
		snprintf(s->supports, sizeof(s->supports), "%s", p->helo_ok ?
			 "plain SMTP only (HELO): no extensions" : "unknown (no EHLO reply)");
		return;
	}
	o = (size_t)snprintf(s->supports, sizeof(s->supports), "ESMTP:");
	for (size_t i = 0; i < p->next && o < sizeof(s->supports); i++)
		o += (size_t)snprintf(s->supports + o, sizeof(s->supports) - o, " %s",
				      p->ext[i].kw);
	if (p->starttls_offered && !find_ext(p, "STARTTLS") && o < sizeof(s->supports))
		o += (size_t)snprintf(s->supports + o, sizeof(s->supports) - o, " STARTTLS");
	if (p->next == 0 && !p->starttls_offered)
		snprintf(s->supports + o, sizeof(s->supports) - o, " no extensions");
}

/* sum_tls - TLS in one line */
static void sum_tls(const struct probe *p, struct summary *s)
{
	const struct sess_tls *t = &p->s.tls;

	if (t->on)
		snprintf(s->tls, sizeof(s->tls), "%s %s; certificate %s%s%s, %s %s%s", t->protocol,
			 t->cipher, t->verified ? "verified" : "NOT verified (",
			 t->verified ? "" : t->verify_error, t->verified ? "" : ")",
			 t->name_matches ? "valid for" : "NOT valid for", t->check_name,
			 t->days_left < 0 ? ", EXPIRED" : "");
	else if (p->tls_refused)
		snprintf(s->tls, sizeof(s->tls), "STARTTLS offered but refused");
	else if (p->exit == PROBE_EXIT_TLS && !p->checks_ran)
		snprintf(s->tls, sizeof(s->tls), "failed (see above)");
	else if (p->esmtp && !p->starttls_offered)
		snprintf(s->tls, sizeof(s->tls), "not offered: mail to this server travels "
			 "unencrypted");
	else if (p->o.starttls < 0 && p->starttls_offered)
		snprintf(s->tls, sizeof(s->tls), "offered, not used (--no-starttls)");
	else
		snprintf(s->tls, sizeof(s->tls), "not tested");
}

/* sum_name - the banner name, the PTR, and whether they match */
static void sum_name(const struct probe *p, struct summary *s)
{
	size_t o = 0;

	if (!p->names_checked) {
		snprintf(s->name, sizeof(s->name), "not tested");
		return;
	}
	if (p->banner_name[0])
		o += (size_t)snprintf(s->name, sizeof(s->name), "banner name %s %s",
				      p->banner_name, p->name_matches == 1 ?
				      "resolves to this address" : p->name_resolves == 1 ?
				      "resolves to other addresses only" : p->name_resolves == 0 ?
				      "does not resolve" : "could not be looked up");
	else
		o += (size_t)snprintf(s->name, sizeof(s->name), "the banner names no host");
	if (p->nptr)
		snprintf(s->name + o, sizeof(s->name) - o, "; PTR %s%s%s", p->ptr[0],
			 p->fcrdns == 1 ? " (forward-confirmed)" : " (not forward-confirmed)",
			 p->ptr_matches == 1 ? ", same as the banner name" :
			 p->ptr_matches == 0 ? ", differs from the banner name" : "");
	else
		snprintf(s->name + o, sizeof(s->name) - o, "; %s", p->ptr_known ?
			 "no PTR record" : "PTR lookup failed");
}

/* sum_accept - would it accept this mail */
static void sum_accept(const struct probe *p, struct summary *s)
{
	char l[300];

	s->accept_b = s->sender_b = s->message_b = -1;
	if (p->auth)
		snprintf(s->auth, sizeof(s->auth), "%s as %s", p->auth > 0 ? "accepted" :
			 "refused", p->o.auth_user);
	else
		snprintf(s->auth, sizeof(s->auth), "%s", p->o.auth_user ? "not reached" :
			 "not tried (--auth USER)");
	snprintf(s->relay, sizeof(s->relay), "not tested (--relay-test)");
	if (p->resolve_status && !p->ncand && strcmp(p->resolve_status, "tempfail") != 0) {
		s->accept_b = 0;
		snprintf(s->accept, sizeof(s->accept), "no: %s cannot receive mail (%s)", p->host,
			 p->resolve_status);
		return;
	}
	if (!p->mail || !p->mail->done) {
		snprintf(s->accept, sizeof(s->accept), "not tested (give --from and --to)");
		return;
	}
	if (p->mail->reply.code != 250) {
		first_line(p->mail, l, sizeof(l));
		s->accept_b = s->sender_b = 0;
		snprintf(s->accept, sizeof(s->accept), "no: the sender was refused: %s", l);
		return;
	}
	s->sender_b = 1;
	if (p->rcpt_bad) {
		first_line(p->rcpt_first_bad, l, sizeof(l));
		s->accept_b = 0;
		snprintf(s->accept, sizeof(s->accept), "no: %zu of %zu recipients refused: %s",
			 p->rcpt_bad, p->rcpt_bad + p->rcpt_ok, l);
		return;
	}
	if (!p->rcpt_ok) {
		snprintf(s->accept, sizeof(s->accept), "the sender is accepted; no recipient "
			 "tested (--to)");
		return;
	}
	if (p->dot && p->dot->done) {
		first_line(p->dot, l, sizeof(l));
		s->message_b = s->accept_b = p->dot->reply.code >= 200 && p->dot->reply.code < 300;
		snprintf(s->accept, sizeof(s->accept), "%s: %s", s->accept_b ?
			 "yes, the message was accepted" : "no, the message was refused", l);
		return;
	}
	if (p->data && p->data->done && p->data->reply.code != 354) {
		first_line(p->data, l, sizeof(l));
		s->accept_b = 0;
		snprintf(s->accept, sizeof(s->accept), "no: DATA was refused: %s", l);
		return;
	}
	if (p->stopped) {
		s->accept_b = 1;
		snprintf(s->accept, sizeof(s->accept), "yes as far as tested: the sender and %zu "
			 "recipient%s accepted (no message sent: --quit-after %s)", p->rcpt_ok,
			 p->rcpt_ok == 1 ? "" : "s", stop_names[p->stopped]);
		return;
	}
	snprintf(s->accept, sizeof(s->accept), "the sender and %zu recipient%s accepted; the "
		 "message did not get through", p->rcpt_ok, p->rcpt_ok == 1 ? "" : "s");
}

/* sum_check - one check's answer */
static void sum_check(const struct probe *p, const struct check_outcome *o, const char *opt,
		      char *out, size_t n)
{
	if (o->ran)
		snprintf(out, n, "%s", o->text);
	else if (p->o.checks && p->exit && !p->checks_ran)
		snprintf(out, n, "not tested: the probe stopped before (%s)", opt);
	else
		snprintf(out, n, "not tested (%s)", opt);
}

/* summarize - every answer */
static void summarize(const struct probe *p, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	sum_up(p, s);
	sum_supports(p, s);
	sum_tls(p, s);
	sum_name(p, s);
	sum_accept(p, s);
	if (p->checks_ran && !p->mail)
		snprintf(s->accept, sizeof(s->accept), "not tested: the checks ran instead");
	sum_check(p, &p->checks.relay, "--relay-test", s->relay, sizeof(s->relay));
	sum_check(p, &p->checks.smuggling, "--smuggling-test", s->smuggling,
		  sizeof(s->smuggling));
	sum_check(p, &p->checks.injection, "--starttls-injection", s->injection,
		  sizeof(s->injection));
}

/* print_summary - the summary as text */
static void print_summary(struct probe *p, const struct summary *s)
{
	FILE *f = stdout;
	char blocked[32];
	const char *rows[][2] = {
		{ "server up", s->up }, { blocked, s->blocked }, { "supports", s->supports },
		{ "TLS", s->tls }, { "name and address", s->name },
		{ "authentication", s->auth }, { "would accept mail", s->accept },
		{ "open relay", s->relay },
	};

	snprintf(blocked, sizeof(blocked), "port %u blocked", p->connected ? p->s.port : p->port);
	fprintf(f, "\n%sSummary%s\n", p->pr.color ? "\033[1m" : "", p->pr.color ? "\033[0m" : "");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fprintf(f, "   %-20s ", rows[i][0]);
		sess_print_escaped(f, rows[i][1], strlen(rows[i][1]));
		fputc('\n', f);
	}
	if (p->o.checks & CHECK_SMUGGLING)
		fprintf(f, "   %-20s %s\n", "SMTP smuggling", s->smuggling);
	if (p->o.checks & CHECK_INJECTION)
		fprintf(f, "   %-20s %s\n", "STARTTLS injection", s->injection);
	fprintf(f, "   %-20s exit %d: %s%s%s%s\n", "result", p->exit, exit_text(p->exit),
		 p->exit && p->exit_stage ? " (stopped at: " : "", p->exit && p->exit_stage ?
		 p->exit_stage : "", p->exit && p->exit_stage ? ")" : "");
}

/* ------------------------------------------------------------------ JSON */

/* json_tri - true, false or null */
static void json_tri(buf_t *b, const char *key, int v)
{
	buf_printf(b, ",\"%s\":%s", key, v < 0 ? "null" : v ? "true" : "false");
}

/* json_kv - ,"key":"value" */
static void json_kv(buf_t *b, const char *key, const char *v)
{
	buf_printf(b, ",\"%s\":", key);
	json_cstr(b, v);
}

/* json_resolved - the hosts and their addresses */
static void json_resolved(buf_t *b, const struct probe *p)
{
	char a[INET6_ADDRSTRLEN];

	buf_putc(b, '[');
	for (size_t i = 0; i < p->ncand; i++) {
		const struct cand *c = &p->cand[i];

		buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		json_cstr(b, c->name);
		if (c->pref >= 0)
			buf_printf(b, ",\"preference\":%d", c->pref);
		else
			buf_puts(b, ",\"preference\":null");
		buf_printf(b, ",\"implicit\":%s,\"addresses\":[", c->implicit ? "true" : "false");
		for (size_t j = 0; j < c->naddrs; j++) {
			if (j)
				buf_putc(b, ',');
			json_cstr(b, addr_text(&c->addrs[j].ss, a, sizeof(a)));
		}
		buf_puts(b, "]}");
	}
	buf_putc(b, ']');
}

/* json_summary - the summary object */
static void json_summary(buf_t *b, const struct probe *p, const struct summary *s)
{
	buf_printf(b, "{\"up\":%s", s->up_b ? "true" : "false");
	json_tri(b, "port_blocked", s->blocked_b);
	buf_printf(b, ",\"esmtp\":%s,\"supports\":[", p->esmtp ? "true" : "false");
	for (size_t i = 0; i < p->next; i++) {
		if (i)
			buf_putc(b, ',');
		json_cstr(b, p->ext[i].kw);
	}
	buf_printf(b, "],\"tls\":%s", p->s.tls.on ? "true" : "false");
	json_kv(b, "banner_name", p->banner_name[0] ? p->banner_name : NULL);
	json_tri(b, "banner_name_resolves", p->names_checked ? p->name_resolves : -1);
	json_tri(b, "name_matches_address", p->names_checked ? p->name_matches : -1);
	buf_puts(b, ",\"ptr\":[");
	for (size_t i = 0; i < p->nptr; i++) {
		if (i)
			buf_putc(b, ',');
		json_cstr(b, p->ptr[i]);
	}
	buf_putc(b, ']');
	json_tri(b, "ptr_matches_banner", p->names_checked ? p->ptr_matches : -1);
	json_tri(b, "fcrdns", p->names_checked ? p->fcrdns : -1);
	json_kv(b, "auth", p->auth > 0 ? "ok" : p->auth < 0 ? "refused" : "not tried");
	json_tri(b, "sender_accepted", s->sender_b);
	buf_printf(b, ",\"recipients_accepted\":%zu,\"recipients_refused\":%zu", p->rcpt_ok,
		   p->rcpt_bad);
	json_tri(b, "would_accept", s->accept_b);
	json_tri(b, "message_accepted", s->message_b);
	json_tri(b, "open_relay", p->checks.relay.ran ? p->checks.relay.found : -1);
	json_tri(b, "smuggling", p->checks.smuggling.ran ? p->checks.smuggling.found : -1);
	json_tri(b, "starttls_injection", p->checks.injection.ran ? p->checks.injection.found :
		 -1);
	json_kv(b, "stopped_after", p->stopped ? stop_names[p->stopped] : NULL);
	buf_puts(b, ",\"answers\":{\"up\":");
	json_cstr(b, s->up);
	json_kv(b, "port_blocked", s->blocked);
	json_kv(b, "supports", s->supports);
	json_kv(b, "tls", s->tls);
	json_kv(b, "name", s->name);
	json_kv(b, "auth", s->auth);
	json_kv(b, "would_accept", s->accept);
	json_kv(b, "open_relay", s->relay);
	json_kv(b, "smuggling", s->smuggling);
	json_kv(b, "starttls_injection", s->injection);
	buf_puts(b, "}}");
}

/* print_json - the one JSON document */
static void print_json(const struct probe *p, const struct summary *s)
{
	buf_t b;

	buf_init(&b);
	buf_puts(&b, "{\"target\":");
	json_cstr(&b, p->o.target);
	json_kv(&b, "kind", p->kind == T_DOMAIN ? "domain" : p->kind == T_HOST ? "host" : "ip");
	json_kv(&b, "resolve_status", p->resolve_status);
	buf_puts(&b, ",\"resolved\":");
	json_resolved(&b, p);
	json_kv(&b, "host", p->at ? p->at->name : NULL);
	json_kv(&b, "address", p->connected ? p->s.peer_text : NULL);
	buf_printf(&b, ",\"port\":%u,\"steps\":[", p->connected ? p->s.port : p->port);
	for (size_t i = 0; i < p->s.nsteps; i++) {
		if (i)
			buf_putc(&b, ',');
		sess_json_step(&b, p->s.steps[i]);
	}
	buf_puts(&b, "],\"extensions\":{");
	for (size_t i = 0; i < p->next; i++) {
		if (i)
			buf_putc(&b, ',');
		json_cstr(&b, p->ext[i].kw);
		buf_putc(&b, ':');
		json_cstr(&b, p->ext[i].params);
	}
	buf_puts(&b, "},\"tls\":");
	sess_json_tls(&b, &p->s.tls);
	buf_puts(&b, ",\"checks\":");
	if (p->checks_ran)
		checks_json(&p->checks, &b);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ",\"summary\":");
	json_summary(&b, p, s);
	buf_printf(&b, ",\"exit\":%d", p->exit);
	json_kv(&b, "exit_text", exit_text(p->exit));
	json_kv(&b, "exit_stage", p->exit ? p->exit_stage : NULL);
	buf_puts(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

/* ------------------------------------------------------------------ main */

/* run - the steps in session order, each stopping the probe when it
 * fails or --quit-after says so.  The checks (--relay-test ...) belong
 * after it: they open their own sessions to p->at / p->s.peer (the
 * address that answered) with the same hooks (p->s.hooks) and timeout,
 * and set_exit(p, PROBE_EXIT_RELAY, ...) on a finding. */
static void run(struct probe *p, const char *pw, const buf_t *raw)
{
	const struct opts *o = &p->o;

	if (resolve(p)) {
		set_exit(p, PROBE_EXIT_DNS, "resolve");
		return;
	}
	if (connect_walk(p) || stop_at(p, STOP_CONNECT))
		return;
	if (o->tls && implicit_tls(p))
		return;
	if (greeting(p) || stop_at(p, STOP_BANNER))
		return;
	if (hello(p) || stop_at(p, STOP_EHLO))
		return;
	if (starttls(p) || stop_at(p, STOP_TLS))
		return;
	if (authenticate(p, pw) || stop_at(p, STOP_AUTH))
		return;
	if (!o->from && !o->to.n && o->quit_after < STOP_MAIL) {
		quit(p);
		return;
	}
	if (envelope(p) || stop_at(p, STOP_MAIL) || stop_at(p, STOP_RCPT))
		return;
	if (o->quit_after == STOP_DATA) {
		p->stopped = STOP_DATA;
		if (p->data && alive(p)) {
			sess_info(&p->s, "stopping after DATA as asked: closing the connection "
				  "without sending a message (the server discards the transaction)");
			sess_close(&p->s);
		} else {
			quit(p);
		}
		return;
	}
	if (!o->to.n) {
		quit(p);
		return;
	}
	message(p, raw);
}

/* run_checks - the checks (checks.c) on the address that answered, with
 * the probe's settings; a finding or a failure decides the exit status */
static void run_checks(struct probe *p)
{
	struct check_conf c;

	memset(&c, 0, sizeof(c));
	c.which = p->o.checks;
	c.addr = (const struct sockaddr *)&p->s.peer;
	c.addrlen = p->s.peer_len;
	c.label = p->at ? p->at->name : p->s.peer_text;
	c.helo = p->helo;
	c.from = p->from;
	c.to = p->o.to.v;
	c.nto = p->o.to.n;
	c.domain = p->o.relay_domain ? p->o.relay_domain : p->kind == T_DOMAIN ? p->host :
		   p->banner_name[0] ? p->banner_name : NULL;
	c.timeout_ms = p->o.timeout * 1000;
	c.implicit_tls = p->o.tls;
	c.starttls = p->o.starttls;
	tls_conf(p, &c.tls);
	c.hooks = p->s.hooks;
	c.out = p->o.json ? NULL : stdout;
	c.color = p->pr.color;
	checks_run(&c, &p->checks);
	p->checks_ran = 1;
	if (p->checks.exit)
		set_exit(p, p->checks.exit, p->checks.stage);
}

/* interactive - `probe -i`: resolve and connect as the probe does, then
 * hand the connection to interactive.c; the exit status */
static int interactive(struct probe *p)
{
	struct inter_conf ic;

	if (resolve(p))
		return PROBE_EXIT_DNS;
	if (connect_walk(p))
		return p->exit;
	if (p->o.tls && implicit_tls(p))
		return p->exit;
	helo_literal(p);
	memset(&ic, 0, sizeof(ic));
	ic.helo = p->helo;
	tls_conf(p, &ic.tls);
	ic.pr = &p->pr;
	return interactive_run(&p->s, &ic);
}

/* defaults - the EHLO name and the sender when not given */
static void defaults(struct probe *p)
{
	const char *user = getenv("USER");
	char host[DNS_NAME_SIZE] = "";

	if (p->o.helo) {
		snprintf(p->helo, sizeof(p->helo), "%s", p->o.helo);
	} else {
		if (gethostname(host, sizeof(host) - 1) < 0 || !dns_name_ok(host))
			snprintf(host, sizeof(host), "localhost");
		snprintf(p->helo, sizeof(p->helo), "%s", host);
	}
	if (p->o.from) {
		snprintf(p->from, sizeof(p->from), "%s", p->o.from);
		return;
	}
	if (!user || !user[0] || strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789._-") != strlen(user))
		user = "probe";
	snprintf(p->from, sizeof(p->from), "%s@%s", user, p->helo);
}

/* setup_output - the live printer (text mode) */
static void setup_output(struct probe *p)
{
	const char *term = getenv("TERM");
	struct sess_hooks h;

	setlocale(LC_CTYPE, "");
	p->pr.f = stdout;
	p->pr.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	p->pr.color = !p->o.no_color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
		      !(term && strcmp(term, "dumb") == 0);
	if (p->o.json)
		return;
	sess_printer_hooks(&p->pr, &h);
	sess_set_hooks(&p->s, &h);
}

/* probe_main - see probe.h */
int probe_main(int argc, char **argv)
{
	struct probe *p = calloc(1, sizeof(*p));
	char pw[SASL_FIELD_MAX + 2] = "";
	struct summary sum;
	buf_t raw;
	int rc;

	if (!p)
		return PROBE_EXIT_USAGE;
	buf_init(&raw);
	rc = parse_opts(argc, argv, &p->o);
	if (rc != 0) {
		if (rc > 0)
			usage(stdout);
		else
			fprintf(stderr, "try: mailport probe --help\n");
		free(p);
		return rc > 0 ? 0 : PROBE_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERR);
	defaults(p);
	rc = parse_target(p);
	if (rc == 0 && p->o.auth_user)
		rc = get_password(&p->o, pw, sizeof(pw));
	if (rc == 0 && p->o.to.n)
		rc = p->o.data_file ? read_file(p->o.data_file, &raw)
				    : build_message(&p->o, p->from, p->helo, &raw);
	sess_init(&p->s, p->o.timeout * 1000);
	if (rc == 0)
		rc = pdns_open(&p->dns, p->o.dns, p->o.timeout);
	if (rc != 0) {
		sess_free(&p->s);
		buf_free(&raw);
		sasl_wipe(pw, sizeof(pw));
		free(p);
		return PROBE_EXIT_USAGE;
	}
	setup_output(p);
	if (p->o.interactive) {
		rc = interactive(p);
		sess_printer_free(&p->pr);
		sess_free(&p->s);
		pdns_close(&p->dns);
		buf_free(&raw);
		free(p);
		return rc;
	}
	run(p, pw, &raw);
	sasl_wipe(pw, sizeof(pw));
	sess_close(&p->s);
	if (p->o.checks && !p->exit && p->connected)
		run_checks(p);
	summarize(p, &sum);
	if (p->o.json)
		print_json(p, &sum);
	else
		print_summary(p, &sum);
	fflush(stdout);
	rc = p->exit;
	if (p->checks_ran)
		checks_free(&p->checks);
	clear_ext(p);
	sess_printer_free(&p->pr);
	sess_free(&p->s);
	pdns_close(&p->dns);
	buf_free(&raw);
	free(p);
	return rc;
}

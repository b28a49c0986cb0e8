/* checks - `mailport probe --relay-test / --smuggling-test /
 * --starttls-injection` (see checks.h): the tests administrators script
 * by hand, each on its own connections, every attempt shown with its
 * verdict, a finding printed loudly and turned into exit status 12.
 *
 * Public: checks_run, checks_json, checks_free.
 *
 * Layers: opening a session like the probe does (connect, implicit TLS,
 * the 220, EHLO or HELO, STARTTLS when offered and EHLO again: ck_open),
 * then one section per check, then the JSON.  The session module does
 * all I/O; every wait is bounded by the probe's --timeout, and the waits
 * for "anything more?" by a short quiet window (QUIET_MIN_MS, or four
 * times the EHLO round trip when that is longer).
 *
 * Invariants: no check sends DATA except the smuggling test (which needs
 * --from and --to the server accepts, and sends one test message per
 * variant); no transaction is left open: a transaction ends with RSET,
 * QUIT, or, when the server may still be reading message text, a plain
 * close (the server then discards it, RFC 5321 4.1.1.4); nothing the
 * server sends reaches the terminal unescaped (session.h's printer).
 */
#include "probe/checks.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "probe/probe.h"
#include "probe/verdict.h"
#include "util/json.h"

#define QUIET_MIN_MS 1000	/* the least wait for an extra reply */
#define EXTRA_MAX 8		/* extra replies read after a smuggling test */
#define ADDR_MAX 600		/* one address as sent */
#define ATTEMPTS_MAX 8
#define OUTSIDE_DEFAULT "relaytest@example.com"

#define C_LOUD "\033[1;31m"
#define C_RESET "\033[0m"

/* One check at work. */
struct check {
	const struct check_conf *c;
	struct check_outcome *o;
	struct sess *s;
	int quiet_ms;
};

enum tls_mode {
	TLS_AS_CONF,		/* STARTTLS as the probe does it */
	TLS_NEVER,		/* stay in plaintext (the injection test) */
};

/* ------------------------------------------------------------- sessions */

/* fail_at - a check stopped at stage: the first reason decides its exit */
static int fail_at(struct check *k, int code, const char *stage)
{
	if (!k->o->exit) {
		k->o->exit = code;
		k->o->stage = stage;
	}
	return code;
}

/* no_reply - the exit status for a step without a usable reply */
static int no_reply(struct check *k, enum sess_result r, const char *stage)
{
	return fail_at(k, r == SESS_TLS ? PROBE_EXIT_TLS : PROBE_EXIT_PROTOCOL, stage);
}

/* alive - the connection can still carry a command */
static int alive(const struct check *k)
{
	return k->s->fd >= 0 && !k->s->eof;
}

/* ck_quit - QUIT when the connection is up, then close */
static void ck_quit(struct check *k)
{
	if (alive(k))
		sess_cmd(k->s, "quit", "QUIT", NULL, NULL);
	sess_close(k->s);
}

/* has_ext - the EHLO reply st lists the keyword kw (RFC 5321 4.1.1.1) */
static int has_ext(const struct sess_step *st, const char *kw)
{
	size_t n = strlen(kw);

	for (size_t i = 1; i < st->reply.nlines; i++) {
		const char *l = st->reply.lines[i];

		if (strlen(l) < 4)
			continue;
		l += 4;
		if (strncasecmp(l, kw, n) == 0 && (l[n] == '\0' || l[n] == ' '))
			return 1;
	}
	return 0;
}

/* line_of - a step's first reply line (printable), or why there is none */
static void line_of(const struct sess_step *st, char *out, size_t n)
{
	if (!st || !st->reply.nlines) {
		snprintf(out, n, "%s", st && st->error ? st->error :
			 st ? sess_result_text(st->result) : "no reply");
		return;
	}
	snprintf(out, n, "%s", st->reply.lines[0]);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
}

/* ck_hello - EHLO, HELO when EHLO is refused; the step, or NULL with the
 * exit status set and the connection closed */
static struct sess_step *ck_hello(struct check *k, int *esmtp)
{
	struct sess_step *st;
	enum sess_result r;
	char line[300];

	snprintf(line, sizeof(line), "EHLO %s", k->c->helo);
	r = sess_cmd(k->s, "ehlo", line, NULL, &st);
	if (r != SESS_OK) {
		no_reply(k, r, "ehlo");
		sess_close(k->s);
		return NULL;
	}
	*esmtp = st->reply.code == 250;
	if (*esmtp)
		return st;
	if (st->reply.code == 421 || !alive(k)) {
		sess_close(k->s);
		fail_at(k, PROBE_EXIT_EHLO, "ehlo");
		return NULL;
	}
	snprintf(line, sizeof(line), "HELO %s", k->c->helo);
	r = sess_cmd(k->s, "helo", line, NULL, &st);
	if (r != SESS_OK || st->reply.code != 250) {
		if (r == SESS_OK)
			ck_quit(k);
		else
			sess_close(k->s);
		fail_at(k, r == SESS_OK ? PROBE_EXIT_EHLO : PROBE_EXIT_PROTOCOL, "helo");
		return NULL;
	}
	return st;
}

/* ck_starttls - STARTTLS and EHLO again (RFC 3207 4.2), as the probe's
 * settings say; 0, or the exit status with the connection closed */
static int ck_starttls(struct check *k, struct sess_step **ehlo, int esmtp)
{
	const struct check_conf *c = k->c;
	int offered = esmtp && has_ext(*ehlo, "STARTTLS");
	const struct sess_tls *t = &k->s->tls;
	struct sess_step *st;
	enum sess_result r;

	if (!offered) {
		if (c->starttls <= 0)
			return 0;
		ck_quit(k);
		return fail_at(k, PROBE_EXIT_TLS, "starttls");
	}
	r = sess_starttls(k->s, &c->tls, &st);
	if (r != SESS_OK) {
		sess_close(k->s);
		return no_reply(k, r, r == SESS_TLS ? "tls" : "starttls");
	}
	if (!t->on) {
		if (c->starttls > 0 || st->reply.code == 421 || !alive(k)) {
			ck_quit(k);
			return fail_at(k, PROBE_EXIT_TLS, "starttls");
		}
		return 0;	/* refused: go on in plaintext, as the probe does */
	}
	if (c->tls.verify && !(t->verified && t->name_matches)) {
		ck_quit(k);
		return fail_at(k, PROBE_EXIT_TLS, "tls");
	}
	*ehlo = ck_hello(k, &esmtp);
	return *ehlo ? 0 : k->o->exit;
}

/* ck_open - a new connection up to the EHLO (after STARTTLS unless mode
 * says never); 0 with *ehlo the last EHLO/HELO step, or the exit status */
static int ck_open(struct check *k, enum tls_mode mode, struct sess_step **ehlo)
{
	const struct check_conf *c = k->c;
	struct sess_step *st;
	enum sess_result r;
	int esmtp = 0, q;

	r = sess_connect(k->s, c->addr, c->addrlen, c->label);
	if (r != SESS_OK)
		return fail_at(k, PROBE_EXIT_CONNECT, "connect");
	if (c->implicit_tls && sess_tls_handshake(k->s, &c->tls, NULL) != SESS_OK) {
		sess_close(k->s);
		return fail_at(k, PROBE_EXIT_TLS, "tls");
	}
	r = sess_greeting(k->s, &st);
	if (r != SESS_OK || st->reply.code != 220) {
		if (r == SESS_OK)
			ck_quit(k);	/* RFC 5321 3.1: QUIT after a 554 greeting */
		else
			sess_close(k->s);
		return fail_at(k, PROBE_EXIT_BANNER, "banner");
	}
	st = ck_hello(k, &esmtp);
	if (!st)
		return k->o->exit;
	q = (int)(4 * st->ms);
	k->quiet_ms = q > QUIET_MIN_MS ? q : QUIET_MIN_MS;
	if (k->quiet_ms > c->timeout_ms)
		k->quiet_ms = c->timeout_ms;
	if (mode == TLS_AS_CONF && !c->implicit_tls && c->starttls >= 0 &&
	    ck_starttls(k, &st, esmtp) != 0)
		return k->o->exit;
	if (ehlo)
		*ehlo = st;
	return 0;
}

/* loud - a finding, impossible to miss: bold red on a terminal */
static void loud(const struct check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void loud(const struct check *k, const char *fmt, ...)
{
	FILE *f = k->c->out;
	char text[600];
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fputs(k->c->color ? "\n" C_LOUD "!!! " : "\n!!! ", f);
	sess_print_escaped(f, text, strlen(text));
	fputs(k->c->color ? " !!!" C_RESET "\n" : " !!!\n", f);
	fflush(f);
}

/* verdict_step - a step of our own that only carries a verdict */
static struct sess_step *verdict_step(struct check *k, const char *name,
				      enum sess_vclass cls, const char *next,
				      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static struct sess_step *verdict_step(struct check *k, const char *name,
				      enum sess_vclass cls, const char *next,
				      const char *fmt, ...)
{
	struct sess_step *st = sess_step_add(k->s, name, NULL);
	char text[900];
	va_list ap;

	if (!st)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sess_verdict(k->s, st, cls, next, "%s", text);
	return st;
}

/* json_code - ,"key":code or null */
static void json_code(buf_t *b, const char *key, int code)
{
	if (code > 0)
		buf_printf(b, ",\"%s\":%d", key, code);
	else
		buf_printf(b, ",\"%s\":null", key);
}

/* json_tri - ,"key":true/false/null */
static void json_tri(buf_t *b, const char *key, int v)
{
	buf_printf(b, ",\"%s\":%s", key, v < 0 ? "null" : v ? "true" : "false");
}

/* list_add - append sep (unless first) and item to out (n bytes) at *o,
 * cut when full */
static void list_add(char *out, size_t n, size_t *o, const char *sep, const char *item)
{
	if (*o >= n)
		return;
	*o += (size_t)snprintf(out + *o, n - *o, "%s%s", *o ? sep : "", item);
}

/* ------------------------------------------------------------ relay test */

/* One relay attempt. */
struct attempt {
	const char *key;		/* JSON name */
	const char *what;		/* in words */
	char sender[ADDR_MAX];
	char rcpt[ADDR_MAX];
	int trick;			/* an address at D naming the outside one */
	int mail, code;			/* MAIL's and RCPT's reply codes (0: none) */
	char reply[200];		/* the deciding reply line */
	int error;			/* no answer (the connection failed) */
	int relayed;			/* accepted, and counted as relaying */
};

struct relay {
	const char *domain;		/* D, or NULL */
	char outside[ADDR_MAX];		/* user@outside */
	char control[ADDR_MAX];		/* a random local part at D */
	int catchall;			/* -1 unknown, 0 no, 1 D takes any local part */
	int control_code;
	size_t n;
	struct attempt a[ATTEMPTS_MAX];
};

/* plain_addr - s is local@domain with one "@" and no routing characters */
static int plain_addr(const char *s)
{
	const char *at = strchr(s, '@');

	return at && at != s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, "\"%!:<>[] ");
}

/* pick_outside - the first --to outside D, else OUTSIDE_DEFAULT */
static void pick_outside(const struct check_conf *c, struct relay *rl)
{
	for (size_t i = 0; i < c->nto; i++) {
		const char *t = c->to[i];

		if (plain_addr(t) && (!rl->domain || strcasecmp(strchr(t, '@') + 1, rl->domain)))
			if (strlen(t) < sizeof(rl->outside)) {
				snprintf(rl->outside, sizeof(rl->outside), "%s", t);
				return;
			}
	}
	snprintf(rl->outside, sizeof(rl->outside), "%s", OUTSIDE_DEFAULT);
}

/* add_attempt - one more attempt: sender and recipient */
static void add_attempt(struct relay *rl, const char *key, const char *what, int trick,
			const char *sender, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add_attempt(struct relay *rl, const char *key, const char *what, int trick,
			const char *sender, const char *fmt, ...)
{
	struct attempt *a;
	va_list ap;

	if (rl->n >= ATTEMPTS_MAX)
		return;
	a = &rl->a[rl->n++];
	memset(a, 0, sizeof(*a));
	a->key = key;
	a->what = what;
	a->trick = trick;
	snprintf(a->sender, sizeof(a->sender), "%s", sender);
	va_start(ap, fmt);
	vsnprintf(a->rcpt, sizeof(a->rcpt), fmt, ap);
	va_end(ap);
}

/* relay_plan - the attempts: directly (our sender, a spoofed local one,
 * the null sender), then the routing tricks against D (CHECKLIST F) */
static void relay_plan(const struct check_conf *c, struct relay *rl)
{
	const char *d = rl->domain, *out = rl->outside;
	const char *at = strchr(out, '@');
	int lpn = (int)(at - out);
	char local_sender[ADDR_MAX];
	uint32_t rnd = 0;

	add_attempt(rl, "direct", "direct relay", 0, c->from, "%s", out);
	if (d) {
		snprintf(local_sender, sizeof(local_sender), "postmaster@%s", d);
		add_attempt(rl, "local_sender", "spoofed local sender", 0, local_sender, "%s", out);
	}
	if (c->from[0])
		add_attempt(rl, "null_sender", "null sender", 0, "", "%s", out);
	if (!d)
		return;
	add_attempt(rl, "percent", "percent hack", 1, c->from, "%.*s%%%s@%s", lpn, out, at + 1, d);
	add_attempt(rl, "bang", "UUCP bang path", 1, c->from, "%s!%.*s@%s", at + 1, lpn, out, d);
	add_attempt(rl, "quoted", "quoted local part", 1, c->from, "\"%s\"@%s", out, d);
	add_attempt(rl, "source_route", "source route", 1, c->from, "@%s:%s", d, out);
	add_attempt(rl, "double_at", "double at-sign", 1, c->from, "%s@%s", out, d);
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	snprintf(rl->control, sizeof(rl->control), "mailport-probe-%08x@%s", (unsigned)rnd, d);
}

/* relay_txn - MAIL and RCPT of one transaction (never DATA; the caller
 * ends it with RSET); 0 when the server answered (whatever it said), -1
 * when the connection failed or the server is closing it (421) */
static int relay_txn(struct check *k, const char *sender, const char *rcpt, int *mail,
		     int *code, char *reply, size_t n)
{
	char line[ADDR_MAX + 16];
	struct sess_step *st;
	enum sess_result r;

	*mail = *code = 0;
	snprintf(line, sizeof(line), "MAIL FROM:<%s>", sender);
	r = sess_cmd(k->s, "mail", line, NULL, &st);
	if (r != SESS_OK || st->reply.code == 421)
		return -1;
	*mail = st->reply.code;
	line_of(st, reply, n);
	if (*mail != 250)
		return alive(k) ? 0 : -1;
	snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
	r = sess_cmd(k->s, "rcpt", line, NULL, &st);
	if (r != SESS_OK || st->reply.code == 421)
		return -1;
	*code = st->reply.code;
	line_of(st, reply, n);
	return 0;
}

/* relay_rset - end the attempt's transaction (RFC 5321 4.1.1.5) */
static void relay_rset(struct check *k)
{
	if (alive(k))
		sess_cmd(k->s, "rset", "RSET", NULL, NULL);
}

/* relay_try - one transaction on a live connection, reconnecting once
 * when the server dropped it (servers close after N refusals); 0, or -1
 * when no connection could be opened (the exit status is set) */
static int relay_try(struct check *k, const char *sender, const char *rcpt, int *mail,
		     int *code, char *reply, size_t n, int *error)
{
	*error = 0;
	for (int tries = 0; tries < 2; tries++) {
		if (!alive(k)) {
			sess_close(k->s);
			if (ck_open(k, TLS_AS_CONF, NULL) != 0)
				return -1;
		}
		if (relay_txn(k, sender, rcpt, mail, code, reply, n) == 0)
			return 0;
		sess_close(k->s);
	}
	*error = 1;
	return 0;
}

/* relay_control - does D take any local part (a catch-all)?  Then an
 * accepted routing trick may be local delivery, not relaying */
static int relay_control(struct check *k, struct relay *rl)
{
	char reply[200] = "";
	int mail, err;

	rl->catchall = -1;
	if (!rl->domain)
		return 0;
	sess_info(k->s, "Relay test: does %s take any local part? MAIL FROM:<%s> RCPT TO:<%s>",
		  rl->domain, k->c->from, rl->control);
	if (relay_try(k, k->c->from, rl->control, &mail, &rl->control_code, reply,
		      sizeof(reply), &err) < 0)
		return -1;
	if (err || mail != 250) {
		relay_rset(k);
		verdict_step(k, "relay", SESS_V_WARN, NULL, "could not tell whether %s is a "
			     "catch-all: %s", rl->domain, err ? "the connection failed" : reply);
	} else if (rl->control_code / 100 == 2) {
		rl->catchall = 1;
		verdict_step(k, "relay", SESS_V_WARN, NULL, "%s accepts a made-up local part (a "
			     "catch-all): a routing trick it accepts may be delivered locally, "
			     "so only where such mail ends up would tell", rl->domain);
	} else {
		rl->catchall = 0;
		verdict_step(k, "relay", SESS_V_OK, rl->control_code / 10 == 55 &&
			     strstr(reply, "5.7.") ? "give --relay-domain with the server's own "
			     "mail domain" : NULL, "%s refuses a made-up local part (%s)%s",
			     rl->domain, reply, strstr(reply, "5.7.") ? ": it does not look like a "
			     "domain this server receives mail for" : ": routing tricks it accepts "
			     "would be relayed");
	}
	if (!err && mail == 250)
		relay_rset(k);
	return 0;
}

/* relay_judge - the verdict on one attempt */
static void relay_judge(struct check *k, const struct relay *rl, struct attempt *a)
{
	if (a->error) {
		verdict_step(k, "relay", SESS_V_ERROR, NULL, "%s: not tested, the connection "
			     "failed", a->what);
	} else if (a->mail != 250) {
		verdict_step(k, "relay", SESS_V_WARN, "try another --from", "%s: not tested, "
			     "the sender <%s> was refused: %s", a->what, a->sender, a->reply);
	} else if (a->code / 100 == 2 && a->trick && rl->catchall == 1) {
		verdict_step(k, "relay", SESS_V_WARN, "send a message to it and see where it "
			     "goes", "%s: accepted, but %s takes any local part, so this is "
			     "probably local delivery to a mailbox named like that, not relaying",
			     a->what, rl->domain);
	} else if (a->code / 100 == 2) {
		a->relayed = 1;
		verdict_step(k, "relay", SESS_V_ERROR, "allow relaying only for authenticated "
			     "clients and your own networks; never forward %, ! or quoted "
			     "local parts", "OPEN RELAY: %s: <%s> accepted from an unauthenticated "
			     "client: %s", a->what, a->rcpt, a->reply);
	} else if (a->code / 100 == 4) {
		verdict_step(k, "relay", SESS_V_WARN, "try again later to be sure (greylisting "
			     "gives 4xx first)", "%s: refused for now: %s", a->what, a->reply);
	} else {
		verdict_step(k, "relay", SESS_V_OK, NULL, "%s: refused: %s", a->what, a->reply);
	}
}

/* relay_json - the attempts as JSON members */
static void relay_json(buf_t *b, const struct relay *rl)
{
	buf_puts(b, ",\"domain\":");
	json_cstr(b, rl->domain);
	buf_puts(b, ",\"outside\":");
	json_cstr(b, rl->outside);
	buf_puts(b, ",\"control\":");
	json_cstr(b, rl->domain ? rl->control : NULL);
	json_code(b, "control_code", rl->control_code);
	json_tri(b, "catch_all", rl->catchall);
	buf_puts(b, ",\"attempts\":[");
	for (size_t i = 0; i < rl->n; i++) {
		const struct attempt *a = &rl->a[i];

		buf_puts(b, i ? ",{\"kind\":" : "{\"kind\":");
		json_cstr(b, a->key);
		buf_puts(b, ",\"sender\":");
		json_cstr(b, a->sender);
		buf_puts(b, ",\"recipient\":");
		json_cstr(b, a->rcpt);
		json_code(b, "mail_code", a->mail);
		json_code(b, "rcpt_code", a->code);
		buf_puts(b, ",\"reply\":");
		json_cstr(b, a->mail || a->code ? a->reply : NULL);
		buf_printf(b, ",\"accepted\":%s,\"relayed\":%s}", a->code / 100 == 2 ? "true" :
			   "false", a->relayed ? "true" : "false");
	}
	buf_putc(b, ']');
}

/* relay_sum - the outcome in one line, the loud line, the exit status */
static void relay_sum(struct check *k, const struct relay *rl)
{
	struct check_outcome *o = k->o;
	size_t relayed = 0, refused = 0, local = 0, tested = 0, o2 = 0;
	char which[300] = "";

	for (size_t i = 0; i < rl->n; i++) {
		const struct attempt *a = &rl->a[i];

		if (a->error || a->mail != 250)
			continue;
		tested++;
		if (a->relayed) {
			relayed++;
			list_add(which, sizeof(which), &o2, ", ", a->what);
		} else if (a->code / 100 == 2) {
			local++;
		} else {
			refused++;
		}
	}
	if (relayed) {
		o->found = 1;
		o->exit = PROBE_EXIT_RELAY;
		o->stage = "relay";
		snprintf(o->text, sizeof(o->text), "YES: %zu of %zu attempts accepted (%s)",
			 relayed, tested, which);
		loud(k, "OPEN RELAY: %s accepted mail for an outside recipient from an "
		     "unauthenticated client (%s)", k->c->label, which);
	} else if (tested) {
		size_t off;

		o->found = 0;
		if (local)
			off = (size_t)snprintf(o->text, sizeof(o->text), "no: %zu attempt%s refused, "
					       "%zu routing trick%s accepted by a catch-all domain "
					       "(probably local delivery)", refused,
					       refused == 1 ? "" : "s", local, local == 1 ? "" : "s");
		else
			off = (size_t)snprintf(o->text, sizeof(o->text), "no: all %zu attempts "
					       "refused", refused);
		if (tested < rl->n && off < sizeof(o->text))
			snprintf(o->text + off, sizeof(o->text) - off, "; %zu not tested",
				 rl->n - tested);
		sess_info(k->s, "Relay test passed: no open relay (%s)", o->text + 4);
	} else {
		o->found = -1;
		if (!o->exit)
			fail_at(k, PROBE_EXIT_MAIL, "mail");
		snprintf(o->text, sizeof(o->text), "not decided: no attempt got as far as RCPT "
			 "(the sender was refused or the connection failed)");
	}
}

/* relay_test - --relay-test */
static void relay_test(struct check *k)
{
	struct relay *rl = calloc(1, sizeof(*rl));

	if (!rl) {
		fail_at(k, PROBE_EXIT_PROTOCOL, "relay");
		return;
	}
	rl->domain = k->c->domain && k->c->domain[0] ? k->c->domain : NULL;
	pick_outside(k->c, rl);
	relay_plan(k->c, rl);
	sess_info(k->s, "Relay test: can a stranger send mail through %s to %s?%s%s",
		  k->c->label, rl->outside, rl->domain ? " Routing tricks against " : " No "
		  "domain for the routing tricks (give --relay-domain)",
		  rl->domain ? rl->domain : "");
	if (ck_open(k, TLS_AS_CONF, NULL) == 0 && relay_control(k, rl) == 0) {
		for (size_t i = 0; i < rl->n; i++) {
			struct attempt *a = &rl->a[i];

			sess_info(k->s, "Relay attempt %zu of %zu, %s: MAIL FROM:<%s> RCPT TO:<%s>",
				  i + 1, rl->n, a->what, a->sender, a->rcpt);
			if (relay_try(k, a->sender, a->rcpt, &a->mail, &a->code, a->reply,
				      sizeof(a->reply), &a->error) < 0)
				break;
			relay_judge(k, rl, a);
			if (!a->error && a->mail == 250)
				relay_rset(k);
		}
	}
	ck_quit(k);
	relay_sum(k, rl);
	relay_json(&k->o->json, rl);
	free(rl);
}

/* ------------------------------------------------------- smuggling test */

#define V(s) { s, sizeof(s) - 1 }

/* Fake ends of data: CHECKLIST B and the SMTP smuggling research (SEC
 * Consult 2023; CVE-2023-51764, -51765, -51766): bare LF and bare CR in
 * every place, a NUL, a space, a doubled CR.  Only <CR><LF>.<CR><LF> may
 * end a message (RFC 5321 4.1.1.4). */
static const struct variant {
	const char *b;
	size_t n;
} variants[] = {
	V("\n.\n"), V("\r\n.\n"), V("\n.\r\n"), V("\r.\r"), V("\r.\n"), V("\n.\r"),
	V("\r\n.\r"), V("\r.\r\n"), V("\r\n.\r\r\n"), V("\r\n\0.\r\n"), V("\r\n.\0\r\n"),
	V("\r\n .\r\n"),
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* What one variant did. */
struct smug {
	char name[48];
	int first;			/* the reply after our end of data */
	size_t nextra;
	int extra[EXTRA_MAX];		/* the replies after it */
	int closed;			/* the server closed afterwards */
	int found;			/* 1 smuggling possible, 0 no, -1 error */
};

/* variant_name - "<CR><LF>.<LF>" */
static void variant_name(const struct variant *v, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < v->n && o < n; i++) {
		const char *w = v->b[i] == '\r' ? "<CR>" : v->b[i] == '\n' ? "<LF>" :
				v->b[i] == '\0' ? "<NUL>" : v->b[i] == ' ' ? "<SP>" : ".";

		o += (size_t)snprintf(out + o, n - o, "%s", w);
	}
}

/* rfc5322_date - now as an RFC 5322 3.3 date-time (UTC) */
static void rfc5322_date(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* smuggle_payload - the message: a first message whose text holds the
 * fake end, then the smuggled MAIL, RCPT, DATA and a second message, then
 * the real end of data */
static void smuggle_payload(const struct check *k, const struct variant *v,
			    const char *name, buf_t *b)
{
	const char *from = k->c->from, *to = k->c->to[0];
	char date[64];

	rfc5322_date(date, sizeof(date));
	buf_printf(b, "From: <%s>\r\nTo: <%s>\r\nSubject: mailport smuggling test %s\r\n"
		   "Date: %s\r\n\r\n", from[0] ? from : "postmaster", to, name, date);
	buf_printf(b, "This message tests SMTP smuggling with the fake end of data %s.\r\n"
		   "A second message \"mailport SMUGGLED message\" means the server is "
		   "vulnerable.\r\nThe fake end follows:", name);
	buf_append(b, v->b, v->n);
	buf_printf(b, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to);
	buf_printf(b, "From: <%s>\r\nTo: <%s>\r\nSubject: mailport SMUGGLED message %s\r\n"
		   "Date: %s\r\n\r\nSMUGGLED: the server took %s as the end of a message.\r\n"
		   ".\r\n", from[0] ? from : "postmaster", to, name, date, name);
}

/* show_payload - the message as lines (split at CRLF, a bare CR, LF or
 * NUL shown as <CR>, <LF>, <NUL>) through the sent hook */
static void show_payload(struct check *k, const struct sess_step *st, const buf_t *b)
{
	buf_t line;

	if (!k->s->hooks.sent)
		return;
	buf_init(&line);
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == '\r' && i + 1 < b->len && b->data[i + 1] == '\n') {
			k->s->hooks.sent(k->s->hooks.arg, st, line.data ? line.data : "");
			buf_reset(&line);
			i++;
		} else {
			buf_puts(&line, c == '\r' ? "<CR>" : c == '\n' ? "<LF>" : c == '\0' ?
				 "<NUL>" : (char[]){ c, '\0' });
		}
	}
	buf_free(&line);
}

/* smuggle_envelope - MAIL, every RCPT, DATA: 0 after a 354, else the exit
 * status (the connection closed) */
static int smuggle_envelope(struct check *k, struct sess_step **data)
{
	struct sess_step *st;
	enum sess_result r;
	char line[ADDR_MAX + 16];
	size_t ok = 0;

	snprintf(line, sizeof(line), "MAIL FROM:<%s>", k->c->from);
	r = sess_cmd(k->s, "mail", line, NULL, &st);
	if (r != SESS_OK || st->reply.code != 250) {
		ck_quit(k);
		return r != SESS_OK ? no_reply(k, r, "mail") : fail_at(k, PROBE_EXIT_MAIL, "mail");
	}
	for (size_t i = 0; i < k->c->nto; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>", k->c->to[i]);
		r = sess_cmd(k->s, "rcpt", line, NULL, &st);
		if (r != SESS_OK) {
			sess_close(k->s);
			return no_reply(k, r, "rcpt");
		}
		ok += st->reply.code / 100 == 2;
	}
	if (!ok) {
		ck_quit(k);
		return fail_at(k, PROBE_EXIT_RCPT, "rcpt");
	}
	r = sess_cmd(k->s, "data", "DATA", NULL, data);
	if (r != SESS_OK || (*data)->reply.code != 354) {
		ck_quit(k);
		return r != SESS_OK ? no_reply(k, r, "data") : fail_at(k, PROBE_EXIT_DATA, "data");
	}
	return 0;
}

/* smuggle_extras - every reply that follows the first (a server that took
 * the fake end answers the smuggled commands too) */
static void smuggle_extras(struct check *k, struct smug *m)
{
	struct sess_step *st;

	while (m->nextra < EXTRA_MAX) {
		if (sess_quiet(k->s, k->quiet_ms))
			return;
		if (!k->s->in.len) {
			m->closed = k->s->eof;
			return;
		}
		if (sess_read_reply(k->s, "smuggled", &st) != SESS_OK)
			return;
		m->extra[m->nextra++] = st->reply.code;
	}
}

/* extras_text - "250, 250, 354, 250" */
static void extras_text(const struct smug *m, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < m->nextra && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%d", i ? ", " : "", m->extra[i]);
}

/* smuggle_judge - one variant's verdict: any reply after the first that
 * is not a lone 421 means the server read the smuggled lines as commands */
static void smuggle_judge(struct check *k, struct smug *m)
{
	char codes[80];
	int positive = 0;

	for (size_t i = 0; i < m->nextra; i++)
		positive |= m->extra[i] / 100 == 2 || m->extra[i] / 100 == 3;
	extras_text(m, codes, sizeof(codes));
	if (m->nextra && (positive || m->nextra > 1 || m->extra[0] != 421)) {
		m->found = 1;
		verdict_step(k, "smuggling", SESS_V_ERROR, "accept only <CR><LF>.<CR><LF> as the "
			     "end of data and keep a bare CR or LF as data (or refuse it)",
			     "SMUGGLING POSSIBLE: the server took %s as the end of data and "
			     "answered the smuggled commands (%d, then %s): a second message can "
			     "be slipped in", m->name, m->first, codes);
	} else if (m->nextra) {
		verdict_step(k, "smuggling", SESS_V_WARN, NULL, "%s: the server answered %d, "
			     "then 421 and closed; it did not take the smuggled commands",
			     m->name, m->first);
	} else if (m->first / 100 == 2) {
		verdict_step(k, "smuggling", SESS_V_OK, NULL, "%s is not an end of data here: "
			     "one message, with the smuggled commands as its text", m->name);
	} else {
		verdict_step(k, "smuggling", SESS_V_OK, NULL, "the server refused the message "
			     "with %s in it (%d): nothing smuggled", m->name, m->first);
	}
}

/* smuggle_one - one variant on its own connection; 0 to go on, -1 when
 * the test cannot go on (the exit status is set) */
static int smuggle_one(struct check *k, const struct variant *v, struct smug *m, size_t i)
{
	struct sess_step *data = NULL, *st;
	struct sess_hooks saved;
	enum sess_result r;
	buf_t b;

	variant_name(v, m->name, sizeof(m->name));
	sess_info(k->s, "Smuggling test %zu of %zu: fake end of data %s", i + 1,
		  (size_t)NVARIANTS, m->name);
	if (ck_open(k, TLS_AS_CONF, NULL) != 0 || smuggle_envelope(k, &data) != 0)
		return -1;
	buf_init(&b);
	smuggle_payload(k, v, m->name, &b);
	show_payload(k, data, &b);
	saved = k->s->hooks;
	k->s->hooks.sent = NULL;	/* shown above, with the bare CR/LF visible */
	r = sess_send_data(k->s, "dot", ".", b.data, b.len, &st);
	k->s->hooks = saved;
	buf_free(&b);
	if (r != SESS_OK) {
		m->found = -1;
		sess_close(k->s);	/* the server discards what it holds */
		verdict_step(k, "smuggling", SESS_V_ERROR, NULL, "%s: no reply after the end of "
			     "data: %s", m->name, sess_result_text(r));
		return 0;
	}
	m->first = st->reply.code;
	smuggle_extras(k, m);
	smuggle_judge(k, m);
	if (m->nextra && m->extra[m->nextra - 1] == 354)
		sess_close(k->s);	/* still reading message text: close, never QUIT */
	else
		ck_quit(k);
	return 0;
}

/* smuggling_test - --smuggling-test */
static void smuggling_test(struct check *k)
{
	struct smug m[NVARIANTS];
	char which[300] = "";
	size_t found = 0, errors = 0, done = 0, o = 0;
	buf_t *b = &k->o->json;

	memset(m, 0, sizeof(m));
	sess_info(k->s, "Smuggling test: %zu messages from <%s> to <%s>, each with a fake end of "
		  "data and a smuggled second message behind it", (size_t)NVARIANTS, k->c->from,
		  k->c->to[0]);
	for (size_t i = 0; i < NVARIANTS; i++) {
		if (smuggle_one(k, &variants[i], &m[i], i) < 0)
			break;
		done++;
		if (m[i].found > 0) {
			found++;
			list_add(which, sizeof(which), &o, " ", m[i].name);
		}
		errors += m[i].found < 0;
	}
	buf_puts(b, ",\"variants\":[");
	for (size_t i = 0; i < done; i++) {
		buf_puts(b, i ? ",{\"end\":" : "{\"end\":");
		json_cstr(b, m[i].name);
		json_code(b, "first", m[i].first);
		buf_puts(b, ",\"extra\":[");
		for (size_t j = 0; j < m[i].nextra; j++)
			buf_printf(b, "%s%d", j ? "," : "", m[i].extra[j]);
		buf_printf(b, "],\"closed\":%s", m[i].closed ? "true" : "false");
		json_tri(b, "smuggling", m[i].found);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
	if (found) {
		k->o->found = 1;
		k->o->exit = PROBE_EXIT_RELAY;
		k->o->stage = "smuggling";
		snprintf(k->o->text, sizeof(k->o->text), "YES: %zu of %zu fake ends of data ended "
			 "the message: %s", found, done, which);
		loud(k, "SMUGGLING POSSIBLE: %s answered smuggled commands after %s", k->c->label,
		     which);
	} else if (done == NVARIANTS && !errors) {
		k->o->found = 0;
		snprintf(k->o->text, sizeof(k->o->text), "no: each of the %zu fake ends of data "
			 "stayed message text or was refused", done);
		sess_info(k->s, "Smuggling test passed: %s", k->o->text + 4);
	} else {
		k->o->found = -1;
		if (!k->o->exit)
			fail_at(k, PROBE_EXIT_PROTOCOL, "smuggling");
		snprintf(k->o->text, sizeof(k->o->text), "not decided: %zu of %zu variants tested "
			 "(%zu without a reply)", done - errors, (size_t)NVARIANTS, errors);
	}
}

/* ------------------------------------------------------- injection test */

/* injection_reply - what arrived unasked: 1 a reply (the injected NOOP
 * answered), -1 the connection closed or failed, or a 421 (closing) */
static int injection_reply(struct check *k)
{
	struct sess_step *st;

	if (!k->s->in.len)
		return -1;
	if (sess_read_reply(k->s, "injected", &st) == SESS_OK && st->reply.code == 421)
		return -1;
	return 1;
}

/* injection_after - after the handshake: any reply before we send
 * anything answers the NOOP; so does a second reply to our EHLO (a server
 * that runs the buffered NOOP only when more input comes); 0 when neither */
static int injection_after(struct check *k)
{
	struct sess_step *st;
	char line[300];

	if (!sess_quiet(k->s, k->quiet_ms))
		return injection_reply(k);
	snprintf(line, sizeof(line), "EHLO %s", k->c->helo);
	if (sess_cmd(k->s, "ehlo", line, NULL, &st) != SESS_OK)
		return -1;
	if (!sess_quiet(k->s, k->quiet_ms))
		return injection_reply(k);
	return 0;
}

/* injection_sum - the outcome in one line, the loud line, the exit */
static void injection_sum(struct check *k, int v)
{
	k->o->found = v;
	if (v == 1) {
		k->o->exit = PROBE_EXIT_RELAY;
		k->o->stage = "injection";
		loud(k, "STARTTLS INJECTION: %s runs commands sent before the TLS handshake "
		     "(CVE-2011-0411)", k->c->label);
		snprintf(k->o->text, sizeof(k->o->text), "YES: the NOOP sent with STARTTLS was "
			 "answered inside TLS (CVE-2011-0411)");
	} else if (v == 0) {
		snprintf(k->o->text, sizeof(k->o->text), "no: the NOOP sent with STARTTLS got no "
			 "reply");
		sess_info(k->s, "STARTTLS injection test passed: %s", k->o->text + 4);
	} else {
		snprintf(k->o->text, sizeof(k->o->text), "not decided (stopped at %s)",
			 k->o->stage ? k->o->stage : "?");
	}
	json_tri(&k->o->json, "vulnerable", v);
}

/* injection_test - --starttls-injection (CVE-2011-0411) */
static void injection_test(struct check *k)
{
	struct sess_step *st = NULL;
	enum sess_result r;
	int v = -1;

	sess_info(k->s, "STARTTLS injection test: STARTTLS and NOOP in one write; after the "
		  "handshake the NOOP must get no reply (CVE-2011-0411)");
	if (ck_open(k, TLS_NEVER, &st) != 0)
		goto out;
	if (k->c->implicit_tls || !has_ext(st, "STARTTLS")) {
		verdict_step(k, "injection", SESS_V_ERROR, "test a port that offers STARTTLS",
			     "%s: nothing to test", k->c->implicit_tls ? "implicit TLS (--tls) has "
			     "no STARTTLS" : "the server does not offer STARTTLS");
		ck_quit(k);
		fail_at(k, PROBE_EXIT_TLS, "starttls");
		snprintf(k->o->text, sizeof(k->o->text), "not tested: %s", k->c->implicit_tls ?
			 "implicit TLS (--tls)" : "STARTTLS is not offered");
		k->o->found = -1;
		json_tri(&k->o->json, "vulnerable", -1);
		return;
	}
	r = sess_send_cmd(k->s, "starttls", "STARTTLS\r\nNOOP", "STARTTLS<CRLF>NOOP (one write)",
			  &st);
	if (r == SESS_OK)
		r = sess_read_step(k->s, st);
	if (r != SESS_OK || st->reply.code != 220) {
		ck_quit(k);
		if (r != SESS_OK)
			no_reply(k, r, "starttls");
		else
			fail_at(k, PROBE_EXIT_TLS, "starttls");
		goto out;
	}
	if (k->s->in.len)
		sess_note(k->s, st, "the server answered the NOOP in plaintext, before the "
			  "handshake: dropped (RFC 3207 4.2)");
	if (sess_tls_handshake(k->s, &k->c->tls, NULL) != SESS_OK) {
		sess_close(k->s);
		fail_at(k, PROBE_EXIT_TLS, "tls");
		goto out;
	}
	v = injection_after(k);
	if (v == 1) {
		verdict_step(k, "injection", SESS_V_ERROR, "the server must discard what it "
			     "buffered before the TLS handshake: update its software",
			     "VULNERABLE: the server answered, inside TLS, the NOOP sent in "
			     "plaintext with STARTTLS: an attacker can inject commands into the "
			     "TLS session (CVE-2011-0411)");
	} else if (v == 0) {
		verdict_step(k, "injection", SESS_V_OK, NULL, "no reply to the injected NOOP: "
			     "the server discarded what it had buffered before the handshake");
	} else {
		verdict_step(k, "injection", SESS_V_ERROR, NULL, "the connection failed or was "
			     "closed after the handshake: not decided");
		fail_at(k, PROBE_EXIT_PROTOCOL, "injection");
	}
	ck_quit(k);
out:
	injection_sum(k, v);
}

/* ------------------------------------------------------------------ run */

/* run_one - one check with its own transcript */
static void run_one(const struct check_conf *c, struct check_outcome *o,
		    void (*fn)(struct check *))
{
	struct check k;

	o->ran = 1;
	o->found = -1;
	sess_init(&o->s, c->timeout_ms);
	sess_set_hooks(&o->s, &c->hooks);
	buf_init(&o->json);
	memset(&k, 0, sizeof(k));
	k.c = c;
	k.o = o;
	k.s = &o->s;
	k.quiet_ms = QUIET_MIN_MS < c->timeout_ms ? QUIET_MIN_MS : c->timeout_ms;
	fn(&k);
	sess_close(&o->s);
}

/* checks_run - see checks.h */
void checks_run(const struct check_conf *c, struct check_result *r)
{
	struct check_outcome *all[] = { &r->relay, &r->smuggling, &r->injection };

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < 3; i++)
		sess_init(&all[i]->s, c->timeout_ms);
	if (c->which & CHECK_RELAY)
		run_one(c, &r->relay, relay_test);
	if (c->which & CHECK_SMUGGLING)
		run_one(c, &r->smuggling, smuggling_test);
	if (c->which & CHECK_INJECTION)
		run_one(c, &r->injection, injection_test);
	for (size_t i = 0; i < 3; i++)
		if (all[i]->found == 1 && !r->exit) {
			r->exit = PROBE_EXIT_RELAY;
			r->stage = all[i]->stage;
		}
	for (size_t i = 0; i < 3 && !r->exit; i++)
		if (all[i]->exit) {
			r->exit = all[i]->exit;
			r->stage = all[i]->stage;
		}
}

/* json_outcome - one check as a JSON object */
static void json_outcome(buf_t *out, const struct check_outcome *o)
{
	buf_puts(out, "{\"found\":");
	buf_puts(out, o->found < 0 ? "null" : o->found ? "true" : "false");
	buf_puts(out, ",\"text\":");
	json_cstr(out, o->text);
	buf_printf(out, ",\"exit\":%d,\"exit_stage\":", o->exit);
	json_cstr(out, o->exit ? o->stage : NULL);
	if (o->json.len)
		buf_append(out, o->json.data, o->json.len);
	buf_puts(out, ",\"steps\":[");
	for (size_t i = 0; i < o->s.nsteps; i++) {
		if (i)
			buf_putc(out, ',');
		sess_json_step(out, o->s.steps[i]);
	}
	buf_puts(out, "]}");
}

/* checks_json - see checks.h */
void checks_json(const struct check_result *r, buf_t *out)
{
	const char *sep = "";

	buf_putc(out, '{');
	if (r->relay.ran) {
		buf_puts(out, "\"relay_test\":");
		json_outcome(out, &r->relay);
		sep = ",";
	}
	if (r->smuggling.ran) {
		buf_printf(out, "%s\"smuggling_test\":", sep);
		json_outcome(out, &r->smuggling);
		sep = ",";
	}
	if (r->injection.ran) {
		buf_printf(out, "%s\"starttls_injection\":", sep);
		json_outcome(out, &r->injection);
	}
	buf_putc(out, '}');
}

/* checks_free - see checks.h */
void checks_free(struct check_result *r)
{
	struct check_outcome *all[] = { &r->relay, &r->smuggling, &r->injection };

	for (size_t i = 0; i < 3; i++) {
		sess_free(&all[i]->s);
		buf_free(&all[i]->json);
	}
}

/* queuecmd - `mailport queue`: the client of the control socket.
 *
 * Public: queuecmd_main.
 * A run: options and words (options may stand anywhere: -c FILE,
 * --defaults, --json, --domain D, --all) -> the request (ctl/request.h,
 * checked here first so that a usage error never reaches the daemon) ->
 * the config (config_locate's rule; config_load_settings: no tables) for
 * the spool -> connect to <spool>/control.sock within CONNECT_TIMEOUT ->
 * send the line -> read the reply to its end (at most REPLY_MAX bytes, no
 * pause longer than REPLY_TIMEOUT) -> parse it (util/jsonparse.h) -> print
 * it as is (--json) or as text.
 * Invariants: every string that came from the daemon (addresses, remote
 * replies, the message itself: bytes from strangers) is printed through
 * put_text, which escapes control characters, so nothing in a queued
 * message can drive the terminal.
 */
#include "ctl/queuecmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl.h"
#include "ctl/request.h"
#include "util/buf.h"
#include "util/jsonparse.h"
#include "util/log.h"

#define CONNECT_TIMEOUT 10	/* seconds */
#define REPLY_TIMEOUT 120	/* seconds without a byte of the reply */
#define REPLY_MAX (256u * 1024 * 1024)
#define EX_ERROR_REPLY 1

/* "queue" or "reload": the command the messages speak for */
static const char *cmd_name = "queue";

/* What the command line asked for. */
struct qopts {
	const char *config;	/* -c */
	int defaults;		/* --defaults */
	int json;		/* --json */
	int all;		/* --all */
	const char *domain;	/* --domain */
	const char *words[4];	/* verb and arguments */
	int nwords;
	struct ctl_req req;
};

/* usage - the synopsis on f; EX_USAGE (0 for --help) */
static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: mailport queue [-c FILE | --defaults] list [--json]\n"
		   "       mailport queue [-c FILE | --defaults] show ID [--json]\n"
		   "       mailport queue [-c FILE | --defaults] flush [ID | --domain DOMAIN]\n"
		   "       mailport queue [-c FILE | --defaults] remove ID | --all\n"
		   "       mailport queue [-c FILE | --defaults] hold ID\n"
		   "       mailport queue [-c FILE | --defaults] release ID\n");
	return rc;
}

/* ---- the command line ---- */

/* take_value - the value of option argv[*i]: "--opt=V" or the next word */
static const char *take_value(int argc, char **argv, int *i, const char *eq)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* one_option - argv[*i], a word starting with '-'; 0 or EX_USAGE */
static int one_option(int argc, char **argv, int *i, struct qopts *o)
{
	const char *a = argv[*i], *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);

	if (strncmp(a, "-c", 2) == 0 && a[1] == 'c' && a[2] != '\0')
		o->config = a + 2;
	else if (strcmp(a, "-c") == 0)
		o->config = take_value(argc, argv, i, NULL);
	else if (strcmp(a, "--defaults") == 0)
		o->defaults = 1;
	else if (strcmp(a, "--json") == 0)
		o->json = 1;
	else if (strcmp(a, "--all") == 0)
		o->all = 1;
	else if (n == 8 && strncmp(a, "--domain", 8) == 0)
		o->domain = take_value(argc, argv, i, eq);
	else {
		log_cli(cmd_name, "unknown option %s", a);
		return EX_USAGE;
	}
	if ((strcmp(a, "-c") == 0 && !o->config) ||
	    (n == 8 && strncmp(a, "--domain", 8) == 0 && !o->domain)) {
		log_cli(cmd_name, "option %.*s needs a value", (int)n, a);
		return EX_USAGE;
	}
	return 0;
}

/* parse_args - options anywhere, at most 2 words ("--" ends options) */
static int parse_args(int argc, char **argv, struct qopts *o)
{
	int i, opts = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
				return -1;
			if (one_option(argc, argv, &i, o) != 0)
				return EX_USAGE;
		} else if (o->nwords == 2) {
			log_cli(cmd_name, "too many arguments");
			return EX_USAGE;
		} else {
			o->words[o->nwords++] = a;
		}
	}
	if (o->config && o->defaults) {
		log_cli(cmd_name, "-c and --defaults exclude each other");
		return EX_USAGE;
	}
	return 0;
}

/* find_verb - the verb word; 0 or EX_USAGE */
static int find_verb(const char *w, enum ctl_verb *v)
{
	static const enum ctl_verb all[] = { CTL_LIST, CTL_SHOW, CTL_FLUSH, CTL_REMOVE,
					     CTL_HOLD, CTL_RELEASE };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(w, ctl_verb_name(all[i])) == 0) {
			*v = all[i];
			return 0;
		}
	log_cli(cmd_name, "unknown command %s", w);
	return EX_USAGE;
}

/* build_request - the words and options as a request; 0 or EX_USAGE */
static int build_request(struct qopts *o)
{
	struct ctl_req *r = &o->req;
	const char *id = o->nwords > 1 ? o->words[1] : NULL;
	char line[CTL_REQ_MAX];

	memset(r, 0, sizeof(*r));
	if (o->nwords == 0) {
		log_cli(cmd_name, "no command given");
		return EX_USAGE;
	}
	if (find_verb(o->words[0], &r->verb) != 0)
		return EX_USAGE;
	if (id && !ctl_qid_ok(id)) {
		log_cli(cmd_name, "malformed queue id: %s", id);	/* argv: the user's own text */
		return EX_USAGE;
	}
	if (o->domain && !ctl_domain_ok(o->domain)) {
		log_cli(cmd_name, "malformed domain: %s", o->domain);
		return EX_USAGE;
	}
	if (id)
		snprintf(r->qid, sizeof(r->qid), "%s", id);
	if (o->domain)
		snprintf(r->domain, sizeof(r->domain), "%s", o->domain);
	r->all = o->all;
	if (ctl_req_format(r, line, sizeof(line)) < 0) {
		log_cli(cmd_name, "wrong arguments for %s", o->words[0]);
		return EX_USAGE;
	}
	return 0;
}

/* ---- the connection ---- */

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll fd for events up to ms; revents, 0 on timeout, -1 */
static int wait_fd(int fd, short events, long long ms)
{
	long long end = now_ms() + ms;
	struct pollfd p;

	for (;;) {
		long long left = end - now_ms();
		int r;

		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return p.revents;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* connect_unix - connect to path within CONNECT_TIMEOUT (a full backlog
 * gives EAGAIN on a Unix socket: try again); the fd, or -1 (errno) */
static int connect_unix(const struct sockaddr_un *sun)
{
	long long end = now_ms() + CONNECT_TIMEOUT * 1000LL;
	int fd, e;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
			return fd;
		e = errno;
		if (e == EINPROGRESS) {
			int err = 0;
			socklen_t len = sizeof(err);
			int r = wait_fd(fd, POLLOUT, end - now_ms());

			if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
				return fd;
			e = r == 0 ? ETIMEDOUT : err ? err : errno;
			break;
		}
		if (e != EAGAIN && e != EINTR)
			break;
		if (now_ms() >= end) {
			e = ETIMEDOUT;
			break;
		}
		usleep(50000);
	}
	close(fd);
	errno = e;
	return -1;
}

/* open_socket - connect; the fd, or -1 with the exit status in *rc */
static int open_socket(const struct config *cfg, int *rc)
{
	struct sockaddr_un sun;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", cfg->spool, CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		log_cli(cmd_name, "%s/%s: path too long for a socket", cfg->spool, CTL_SOCKET_NAME);
		*rc = EX_CONFIG;
		return -1;
	}
	fd = connect_unix(&sun);
	if (fd >= 0)
		return fd;
	if ((errno == ENOENT || errno == ECONNREFUSED) && strcmp(cmd_name, "reload") == 0) {
		/* the socket is found through the file being reloaded: an
		 * edited spool points elsewhere than the running daemon's */
		log_cli(cmd_name, "no daemon answers on %s (is mailport serve running? if [server] "
			"spool was changed, the daemon still uses the old spool: spool changes need "
			"a restart)", sun.sun_path);
		*rc = EX_UNAVAILABLE;
	} else if (errno == ENOENT || errno == ECONNREFUSED) {
		log_cli(cmd_name, "no daemon answers on %s (is mailport serve running?)", sun.sun_path);
		*rc = EX_UNAVAILABLE;
	} else if (errno == EACCES || errno == EPERM) {
		log_cli(cmd_name, "permission denied on %s (only root and the mail user %s may use it)",
		    sun.sun_path, cfg->user);
		*rc = EX_NOPERM;
	} else if (errno == ETIMEDOUT) {
		log_cli(cmd_name, "the daemon on %s does not accept connections (timeout)", sun.sun_path);
		*rc = EX_TEMPFAIL;
	} else {
		log_cli(cmd_name, "cannot connect to %s: %s", sun.sun_path, strerror(errno));
		*rc = EX_UNAVAILABLE;
	}
	return -1;
}

/* send_all - write the request; 0 or -1 */
static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, REPLY_TIMEOUT * 1000LL) <= 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* read_reply - everything up to the close; 0, or an exit status.  A reset
 * after the reply counts as its end (Linux resets a Unix socket whose peer
 * closed with unread bytes). */
static int read_reply(int fd, buf_t *b)
{
	char chunk[65536];

	for (;;) {
		ssize_t r = recv(fd, chunk, sizeof(chunk), 0);

		if (r > 0) {
			if (b->len + (size_t)r > REPLY_MAX) {
				log_cli(cmd_name, "the reply is too long (over %u bytes)", REPLY_MAX);
				return EX_PROTOCOL;
			}
			if (buf_append(b, chunk, (size_t)r) < 0) {
				log_cli(cmd_name, "out of memory");
				return EX_OSERR;
			}
			continue;
		}
		if (r == 0 || (errno == ECONNRESET && b->len > 0))
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			log_cli(cmd_name, "reading the reply: %s", strerror(errno));
			return EX_PROTOCOL;
		}
		if (wait_fd(fd, POLLIN, REPLY_TIMEOUT * 1000LL) <= 0) {
			log_cli(cmd_name, "no reply from the daemon within %d seconds", REPLY_TIMEOUT);
			return EX_TEMPFAIL;
		}
	}
}

/* ---- text output ---- */

/* fput_text - s[0..n) on f with control characters escaped (C0, DEL, and
 * the C1 range as UTF-8 U+0080..U+009F); keep_lf leaves LF and TAB as they
 * are and drops the CR of a CRLF */
static void fput_text(FILE *f, const char *s, size_t n, int keep_lf)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (keep_lf && c == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (keep_lf && (c == '\n' || c == '\t'))
			fputc(c, f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			 (unsigned char)s[i + 1] <= 0x9f)
			fprintf(f, "\\u%04x", (unsigned char)s[++i]);
		else
			fputc(c, f);
	}
}

/* put_text - the same on stdout */
static void put_text(const char *s, size_t n, int keep_lf)
{
	fput_text(stdout, s, n, keep_lf);
}

/* put_str - a string member of v (escaped), or dflt */
static void put_str(const struct jv *v, const char *key, const char *dflt)
{
	const struct jv *m = jv_get(v, key);

	if (m && m->type == JV_STRING)
		put_text(m->str, m->len, 0);
	else
		fputs(dflt, stdout);
}

/* fmt_dur - a compact duration: 45s, 12m05s, 3h05m, 2d03h */
static void fmt_dur(long long s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%llds", s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* fmt_time - local date and time of a unix time */
static void fmt_time(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(out, n, "@%lld", t);
}

/* put_rcpt_state - "deferred, 2 attempts, next in 4m10s" */
static void put_rcpt_state(const struct jv *r, long long now)
{
	long long attempts = 0, next = 0;
	const char *state = jv_str(r, "state");
	char d[32];

	put_text(state ? state : "?", strlen(state ? state : "?"), 0);
	if (jv_int(r, "attempts", &attempts) == 0 && attempts > 0)
		printf(", %lld attempt%s", attempts, attempts == 1 ? "" : "s");
	if (state && (strcmp(state, "deferred") == 0 || strcmp(state, "pending") == 0) &&
	    jv_int(r, "next_attempt", &next) == 0 && next > 0) {
		if (next > now) {
			fmt_dur(next - now, d, sizeof(d));
			printf(", next in %s", d);
		} else {
			printf(", next now");
		}
	}
}

/* put_last_error - "451 4.4.3 reason (remote)" of a recipient, if any */
static void put_last_error(const struct jv *r, const char *indent)
{
	long long code = 0;
	const char *status = jv_str(r, "status"), *reason = jv_str(r, "reason");
	const char *remote = jv_str(r, "remote");

	if (jv_int(r, "code", &code) < 0 && !reason)
		return;
	fputs(indent, stdout);
	if (code)
		printf("%lld ", code);
	if (status && *status) {
		put_text(status, strlen(status), 0);
		putchar(' ');
	}
	put_str(r, "reason", "");
	if (remote && *remote) {
		fputs(" (", stdout);
		put_text(remote, strlen(remote), 0);
		putchar(')');
	}
	putchar('\n');
}

/* print_list_entry - one message of the list and its recipients */
static void print_list_entry(const struct jv *m, long long now, long long *bytes)
{
	const struct jv *rc = jv_get(m, "recipients");
	const char *id = jv_str(m, "id");
	long long arrival = 0, size = 0;
	char age[32];
	size_t i;
	int pad;

	jv_int(m, "arrival", &arrival);
	jv_int(m, "size", &size);
	*bytes += size;
	fmt_dur(now - arrival, age, sizeof(age));
	if (!id)
		id = "?";
	pad = strlen(id) < 20 ? 20 - (int)strlen(id) : 1;
	put_text(id, strlen(id), 0);
	printf("%*s%-8s %8lld  <", pad, "", age, size);
	put_str(m, "sender", "");
	printf(">%s\n", jv_bool(m, "held") == 1 ? "  (held)" : "");
	for (i = 0; rc && rc->type == JV_ARRAY && i < rc->nkids; i++) {
		const struct jv *r = &rc->kids[i];

		fputs("    <", stdout);
		put_str(r, "address", "?");
		fputs(">  ", stdout);
		put_rcpt_state(r, now);
		putchar('\n');
		put_last_error(r, "        ");
	}
}

/* print_list - the queue as a table (like postqueue -p) */
static int print_list(const struct jv *root)
{
	const struct jv *msgs = jv_get(root, "messages");
	long long now = (long long)time(NULL), bytes = 0;
	size_t i, held = 0;

	if (!msgs || msgs->type != JV_ARRAY) {
		log_cli(cmd_name, "malformed reply from the daemon: no message list");
		return EX_PROTOCOL;
	}
	jv_int(root, "now", &now);
	if (msgs->nkids == 0) {
		printf("Mail queue is empty\n");
		return 0;
	}
	printf("%-20s%-8s %8s  %s\n", "Queue ID", "Age", "Size", "Sender / Recipients");
	for (i = 0; i < msgs->nkids; i++) {
		print_list_entry(&msgs->kids[i], now, &bytes);
		held += jv_bool(&msgs->kids[i], "held") == 1;
	}
	printf("-- %zu message%s, %lld bytes", msgs->nkids, msgs->nkids == 1 ? "" : "s", bytes);
	if (held)
		printf(", %zu held", held);
	putchar('\n');
	return 0;
}

/* print_show - the envelope, then the message (like postcat) */
static int print_show(const struct jv *root)
{
	const struct jv *m = jv_get(root, "message"), *rc, *body;
	long long now = (long long)time(NULL), arrival = 0, size = 0;
	char when[64], age[32];
	size_t i;

	body = jv_get(m, "message");
	if (!m || m->type != JV_OBJECT || !body || body->type != JV_STRING) {
		log_cli(cmd_name, "malformed reply from the daemon: no message");
		return EX_PROTOCOL;
	}
	jv_int(root, "now", &now);
	jv_int(m, "arrival", &arrival);
	jv_int(m, "size", &size);
	fmt_time(arrival, when, sizeof(when));
	fmt_dur(now - arrival, age, sizeof(age));
	fputs("Queue ID:   ", stdout);
	put_str(m, "id", "?");
	printf("\nArrival:    %s (%s ago)\nSize:       %lld bytes\nSender:     <", when, age, size);
	put_str(m, "sender", "");
	fputs(">\nClient:     ", stdout);
	put_str(m, "client", "-");
	printf("\nHeld:       %s\n", jv_bool(m, "held") == 1 ? "yes" : "no");
	rc = jv_get(m, "recipients");
	for (i = 0; rc && rc->type == JV_ARRAY && i < rc->nkids; i++) {
		const struct jv *r = &rc->kids[i];

		fputs("Recipient:  <", stdout);
		put_str(r, "address", "?");
		fputs("> (", stdout);
		put_str(r, "transport", "?");
		fputs(") ", stdout);
		put_rcpt_state(r, now);
		putchar('\n');
		put_last_error(r, "            ");
	}
	printf("*** MESSAGE ***\n");
	put_text(body->str, body->len, 1);
	if (body->len && body->str[body->len - 1] != '\n')
		putchar('\n');
	if (jv_bool(m, "truncated") == 1)
		printf("*** truncated: the first %zu of %lld bytes shown ***\n", body->len, size);
	return 0;
}

/* print_reload - "reload: ok" and the daemon's notes, a line each */
static int print_reload(const struct jv *root)
{
	const char *notes = jv_str(root, "notes"), *p, *nl;

	printf("reload: ok\n");
	for (p = notes; p && *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		printf("note: ");
		put_text(p, nl ? (size_t)(nl - p) : strlen(p), 0);
		printf("\n");
	}
	return 0;
}

/* print_done - the confirmation of flush, remove, hold, release */
static int print_done(const struct qopts *o, const struct jv *root)
{
	const struct ctl_req *r = &o->req;
	long long n = 0;

	switch (r->verb) {
	case CTL_FLUSH:
		jv_int(root, "flushed", &n);
		if (r->qid[0])
			printf("%s: scheduled for delivery now\n", r->qid);
		else
			printf("%lld message%s scheduled for delivery now\n", n, n == 1 ? "" : "s");
		return 0;
	case CTL_REMOVE:
		jv_int(root, "removed", &n);
		if (r->qid[0])
			printf("%s: removed\n", r->qid);
		else
			printf("%lld message%s removed\n", n, n == 1 ? "" : "s");
		return 0;
	case CTL_HOLD:
	case CTL_RELEASE:
		printf("%s: %s\n", r->qid, r->verb == CTL_HOLD ? "held" : "released");
		return 0;
	case CTL_LIST:
		return print_list(root);
	case CTL_SHOW:
		return print_show(root);
	case CTL_RELOAD:
		return print_reload(root);
	}
	return 0;
}

/* show_reply - parse and print the reply; the exit status */
static int show_reply(const struct qopts *o, const buf_t *reply)
{
	struct jv *root;
	char err[128];
	const char *msg, *code;
	int ok, rc;

	if (reply->len == 0) {
		log_cli(cmd_name, "the daemon closed the connection without a reply");
		return EX_PROTOCOL;
	}
	if (jv_parse(reply->data, reply->len, &root, err, sizeof(err)) < 0) {
		log_cli(cmd_name, "malformed reply from the daemon (%s)", err);
		return EX_PROTOCOL;
	}
	ok = jv_bool(root, "ok");
	if (ok < 0) {
		log_cli(cmd_name, "malformed reply from the daemon (no \"ok\")");
		jv_free(root);
		return EX_PROTOCOL;
	}
	if (o->json)
		fwrite(reply->data, 1, reply->len, stdout);
	if (ok == 0) {
		msg = jv_str(root, "error");
		code = jv_str(root, "code");
		if (!msg)
			msg = "the daemon refused the request";
		fflush(stdout);
		fprintf(stderr, "mailport %s: ", cmd_name);
		if (code && (strcmp(code, "failed") == 0 || strcmp(code, "partial") == 0))
			fprintf(stderr, "%s: ", code);
		fput_text(stderr, msg, strlen(msg), 0);	/* it came from the socket */
		fputc('\n', stderr);
		rc = code && strcmp(code, "denied") == 0 ? EX_NOPERM : EX_ERROR_REPLY;
	} else {
		rc = o->json ? 0 : print_done(o, root);
	}
	jv_free(root);
	return rc;
}

/* load_settings - the config by config_locate's rule; NULL (reported) */
static struct config *load_settings(const struct qopts *o)
{
	const char *path = o->defaults ? NULL : config_locate(o->config);
	struct config *c;
	buf_t err;

	buf_init(&err);
	/* reload: the daemon reports a broken file (with its lines); only
	 * the spool is needed here to reach it */
	c = o->req.verb == CTL_RELOAD ? config_load_lenient(path, &err)
				      : config_load_settings(path, &err);
	if (!c) {
		if (err.len)
			fputs(err.data, stderr);
		else
			log_cli(cmd_name, "cannot load the configuration %s", config_name(path));
	}
	buf_free(&err);
	return c;
}

/* run_request - send o->req to the daemon, print the reply; the exit
 * status */
static int run_request(struct qopts *o)
{
	struct config *cfg;
	char line[CTL_REQ_MAX];
	buf_t reply;
	int fd, rc;

	cfg = load_settings(o);
	if (!cfg)
		return EX_CONFIG;
	fd = open_socket(cfg, &rc);
	config_unref(cfg);
	if (fd < 0)
		return rc;
	ctl_req_format(&o->req, line, sizeof(line));
	buf_init(&reply);
	if (send_all(fd, line, strlen(line)) < 0) {
		int e = errno;

		rc = read_reply(fd, &reply);	/* a refusal may be there already */
		if (rc == 0 && reply.len == 0) {
			log_cli(cmd_name, "sending the request: %s", strerror(e));
			rc = EX_PROTOCOL;
		}
	} else {
		rc = read_reply(fd, &reply);
	}
	close(fd);
	if (rc == 0)
		rc = show_reply(o, &reply);
	buf_free(&reply);
	return rc;
}

/* queuecmd_main - mailport queue ... */
int queuecmd_main(int argc, char **argv)
{
	struct qopts o;
	int rc;

	cmd_name = "queue";
	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc < 0)
		return usage(stdout, 0);
	if (rc != 0 || (rc = build_request(&o)) != 0)
		return rc == EX_USAGE ? usage(stderr, EX_USAGE) : rc;
	return run_request(&o);
}

/* reloadcmd_main - mailport reload [-c FILE | --defaults] [--json]: ask the
 * running daemon to re-read its config and wait for the outcome */
int reloadcmd_main(int argc, char **argv)
{
	struct qopts o;
	int rc;

	cmd_name = "reload";
	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc != 0 || o.nwords != 0 || o.all || o.domain) {
		if (rc == 0 && o.nwords != 0)
			log_cli(cmd_name, "too many arguments");
		fprintf(rc < 0 ? stdout : stderr,
			"usage: mailport reload [-c FILE | --defaults] [--json]\n");
		return rc < 0 ? 0 : EX_USAGE;
	}
	o.req.verb = CTL_RELOAD;
	return run_request(&o);
}

/* sendmail - "mailport sendmail" and the sendmail symlink: the classic
 * sendmail(1) interface, with the option semantics Postfix's sendmail(1)
 * documents, on top of a small SMTP client that hands the message to the
 * running daemon.
 *
 * Public: sendmail_main.  Its pure parts live in src/msg/: the address
 * list parser and the header field iterator (msg/rfc5322.h), the encoder
 * to DATA form (msg/outbound.h).
 *
 * A run:
 *  1. options, getopt style (clustered letters, "-fsender" or "-f sender",
 *     the first non-option or "--" ends them);
 *  2. the config (config_load_settings: no tables), only for hostname, spool and the first
 *     listen address;
 *  3. stdin is read to its end before any connection is made, so that a
 *     slow writer (cron pipes a job's output while the job still runs)
 *     never holds a server session open.  The header section is kept in
 *     memory (at most HDR_MAX; more is EX_DATAERR with -t, otherwise the
 *     rest passes unexamined) to find To/Cc/Bcc and From:.  The message
 *     is converted to DATA form by msg/outbound (LF, CRLF and a lone CR
 *     each end a line and become CRLF, dot-stuffing, final ".") into a
 *     spool: the first SPOOL_MEM_MAX bytes in memory, the
 *     rest in an unlinked temporary file in $TMPDIR or /tmp.  The whole
 *     message is never in memory.
 *  4. connect to <spool>/sendmail.sock; when that fails for any reason,
 *     to the first listen address over TCP (a wildcard address is
 *     replaced by loopback);
 *  5. a blocking SMTP dialog without pipelining, each reply within
 *     REPLY_TIMEOUT seconds (poll): 220, EHLO localhost (HELO when EHLO
 *     gets a 5xx, RFC 5321 3.2), MAIL, one RCPT per recipient, DATA, the
 *     spool, QUIT.  MAIL gets BODY=8BITMIME when the server offers
 *     8BITMIME and the message holds 8-bit bytes (or -B 8BITMIME), and
 *     SMTPUTF8 when the server offers it and an address is not ASCII.
 *
 * Addresses: command-line arguments and -t header fields are RFC 5322
 * address lists; an address without '@' gets "@<hostname>"; duplicates
 * (compared case-insensitively) are sent once.  The default sender is
 * <login>@<hostname>; "-f ''" and "-f '<>'" give the null sender.
 *
 * Exit statuses (sysexits.h): 0 sent; EX_USAGE bad options, bad
 * command-line addresses, no recipients; EX_DATAERR bad message input
 * (header addresses, oversized header with -t); EX_NOUSER a recipient got
 * 5xx; EX_UNAVAILABLE another 5xx; EX_TEMPFAIL 4xx, connection failure,
 * timeout, no room for the temporary file; EX_SOFTWARE malformed or
 * unexpected replies; EX_OSERR system errors (stdin, memory, user
 * unknown); EX_CONFIG a broken config file.
 *
 * Invariants: every address written into an SMTP command came out of
 * msg_parse_addresses, which refuses control characters, so no CR or
 * LF can reach the server outside DATA; server replies are escaped
 * (log_escape) before they are shown; nothing is written to stdout.
 */
#include "sendmail/sendmail.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "msg/outbound.h"
#include "msg/rfc5322.h"
#include "smtp/linereader.h"
#include "smtp/replyparse.h"
#include "util/log.h"

#define HDR_MAX (1024 * 1024)		/* header section kept for -t */
#define SPOOL_MEM_MAX (64 * 1024)	/* DATA form kept in memory */
#define READ_CHUNK (64 * 1024)
#define REPLY_TIMEOUT 60		/* seconds per reply, per write */
#define REPLY_LINE_MAX 2048		/* longer reply lines: protocol error */
#define SOCKET_NAME "sendmail.sock"

/* ---- the command: options, config, addresses ---- */

/* Options as given. */
struct sm_opts {
	int extract;		/* -t */
	int dot_ends;		/* no -i / -oi: a "." line ends the input */
	int body_8bit;		/* -B 8BITMIME */
	const char *sender;	/* -f / -r; NULL: the default */
	const char *fullname;	/* -F */
	const char *config;	/* -C */
	int first_rcpt;		/* argv index of the first recipient */
};

/* How the header section read from stdin ended. */
enum hdr_end {
	HDR_EOF,		/* end of input */
	HDR_BLANK,		/* the empty line (consumed) */
	HDR_OTHER,		/* a line that is no field: the body's first */
	HDR_TRUNC		/* HDR_MAX reached (without -t only) */
};

/* The message in DATA form, waiting to be sent. */
struct spool {
	buf_t mem;		/* the first part, or all of it */
	int fd;			/* the rest: an unlinked temporary file, or -1 */
};

/* The connection to the daemon. */
struct conn {
	int fd;
	buf_t rbuf;		/* bytes received, not parsed yet */
	char peer[160];		/* socket path or address, for messages */
	int broken;		/* no more commands: I/O or protocol error */
	int quiet;		/* do not report I/O errors (during QUIT) */
};

/* Everything one run holds. */
struct run {
	struct sm_opts o;
	struct config *cfg;
	char *sender;		/* "" for the null sender */
	buf_t rcpts;		/* NUL-separated: qualified and unique */
	size_t nrcpt;
	buf_t in;		/* stdin bytes not used yet */
	int eof;
	buf_t hdr;		/* the header section (field lines) */
	enum hdr_end hdr_end;
	struct msg_out enc;
	buf_t chunk;		/* converter output on its way to the spool */
	struct spool spool;
	struct conn conn;
	struct smtp_reply reply;
	int has_8bitmime, has_smtputf8;
};

#define ST_EARLY (-1)		/* conn_send: the server spoke meanwhile */

/* say - one "mailport sendmail: ..." line on stderr */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mailport sendmail: %s\n", line);
}

/* oom - report memory exhaustion; EX_OSERR */
static int oom(void)
{
	say("out of memory");
	return EX_OSERR;
}

/* usage - the usage line; EX_USAGE */
static int usage(void)
{
	fprintf(stderr, "usage: sendmail [-t] [-i] [-f sender] [-F name] "
		"[--] [recipient ...]\n");
	return EX_USAGE;
}

/* opt_value - the value of the option letter at argv[*i][j]: the rest of
 * the word, else the next word (then *i advances); NULL when missing */
static const char *opt_value(int argc, char **argv, int *i, size_t j)
{
	if (argv[*i][j + 1] != '\0')
		return argv[*i] + j + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* opt_with_value - an option that takes a value; 0 or EX_USAGE */
static int opt_with_value(struct sm_opts *o, char letter, const char *v)
{
	switch (letter) {
	case 'f':
	case 'r':
		o->sender = v;
		return 0;
	case 'F':
		o->fullname = v;
		return 0;
	case 'C':
		o->config = v;
		return 0;
	case 'o':		/* -oi; every other -o option is ignored */
		if (strcmp(v, "i") == 0)
			o->dot_ends = 0;
		return 0;
	case 'B':
		if (strcasecmp(v, "8BITMIME") != 0 && strcasecmp(v, "7BIT") != 0) {
			say("-B: unknown body type (7BIT or 8BITMIME)");
			return EX_USAGE;
		}
		o->body_8bit = strcasecmp(v, "8BITMIME") == 0;
		return 0;
	case 'b':		/* -bm is the only mode */
		if (strcmp(v, "m") == 0)
			return 0;
		say("-b%s is not supported", v);
		return EX_USAGE;
	default:		/* -N -R -V -L -h -X -O: accepted, ignored */
		return 0;
	}
}

/* opt_cluster - one word of option letters ("-ti", "-fsender", "-oi") */
static int opt_cluster(int argc, char **argv, int *i, struct sm_opts *o)
{
	const char *a = argv[*i];
	size_t j;

	for (j = 1; a[j] != '\0'; j++) {
		char c = a[j];
		const char *v;

		if (strchr("tivnmUG", c)) {	/* -v -n -m -U -G ignored */
			if (c == 't')
				o->extract = 1;
			if (c == 'i')
				o->dot_ends = 0;
			continue;
		}
		if (!strchr("fFrCoBbNRVLhXO", c)) {
			if (c == 'q' || c == 'I')
				say("-%c is not supported", c);
			else
				say("unknown option -%c", c);
			return EX_USAGE;
		}
		v = opt_value(argc, argv, i, j);
		if (!v) {
			say("option -%c needs a value", c);
			return EX_USAGE;
		}
		return opt_with_value(o, c, v);
	}
	return 0;
}

/* parse_options - the options up to the first non-option or "--" */
static int parse_options(int argc, char **argv, struct sm_opts *o)
{
	int i;

	o->dot_ends = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (opt_cluster(argc, argv, &i, o) != 0)
			return EX_USAGE;
	}
	o->first_rcpt = i;
	return 0;
}

/* load_config - -C, the caller's path, else config_locate's rule */
static int load_config(struct run *R, const char *config_path)
{
	const char *path = config_locate(R->o.config ? R->o.config : config_path);
	const char *line, *nl;
	buf_t errors;

	buf_init(&errors);
	R->cfg = config_load_settings(path, &errors);
	if (R->cfg) {
		buf_free(&errors);
		return 0;
	}
	for (line = errors.data; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		say("%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	if (errors.len == 0)
		say("cannot load the configuration %s", config_name(path));
	buf_free(&errors);
	return EX_CONFIG;
}

/* has_domain - does the address hold an '@' outside quoted strings? */
static int has_domain(const char *a)
{
	int quoted = 0;

	for (; *a; a++) {
		if (quoted && *a == '\\' && a[1])
			a++;
		else if (*a == '"')
			quoted = !quoted;
		else if (!quoted && *a == '@')
			return 1;
	}
	return 0;
}

/* append_qualified - addr plus NUL to list, "@hostname" added when the
 * address has no domain */
static int append_qualified(buf_t *list, const char *addr,
			    const char *hostname)
{
	if (buf_puts(list, addr) < 0)
		return -1;
	if (!has_domain(addr) && buf_printf(list, "@%s", hostname) < 0)
		return -1;
	return buf_putc(list, '\0');
}

/* one_address - the single address in text, qualified, malloc'ed; NULL
 * when text does not hold exactly one */
static char *one_address(const char *text, const char *hostname)
{
	buf_t list, q;
	size_t n = 0;
	char *r = NULL;

	buf_init(&list);
	buf_init(&q);
	if (msg_parse_addresses(text, strlen(text), &list, &n) == 0 &&
	    n == 1 && append_qualified(&q, list.data, hostname) == 0)
		r = buf_steal(&q);
	buf_free(&list);
	buf_free(&q);
	return r;
}

/* make_sender - -f / -r, or <login>@<hostname> */
static int make_sender(struct run *R)
{
	const char *s = R->o.sender;
	struct passwd *pw;

	if (s && (*s == '\0' || strcmp(s, "<>") == 0)) {
		R->sender = strdup("");
		return R->sender ? 0 : oom();
	}
	if (s) {
		R->sender = one_address(s, R->cfg->hostname);
		if (R->sender)
			return 0;
		say("bad sender address: %s", s);
		return EX_USAGE;
	}
	pw = getpwuid(getuid());
	if (!pw || !pw->pw_name || !*pw->pw_name) {
		say("no login name for user id %u", (unsigned)getuid());
		return EX_OSERR;
	}
	R->sender = one_address(pw->pw_name, R->cfg->hostname);
	if (R->sender)
		return 0;
	say("cannot make a sender address of the login name");
	return EX_OSERR;
}

/* header_rcpts - -t: the addresses of the To:, Cc: and Bcc: fields */
static int header_rcpts(struct run *R, buf_t *raw, size_t *n)
{
	struct msg_field f;
	size_t pos = 0;

	while (msg_next_field(R->hdr.data, R->hdr.len, &pos, &f)) {
		if (!msg_field_is(&f, "To") && !msg_field_is(&f, "Cc") &&
		    !msg_field_is(&f, "Bcc"))
			continue;
		if (msg_parse_addresses(f.value, f.value_len, raw, n) < 0) {
			say("bad address list in the %.*s: header",
			    (int)f.name_len, f.name);
			return EX_DATAERR;
		}
	}
	return 0;
}

/* listed - is addr among the first n entries of list (any case)? */
static int listed(const buf_t *list, size_t n, const char *addr)
{
	const char *p = list->data;
	size_t i;

	for (i = 0; i < n; i++, p += strlen(p) + 1)
		if (strcasecmp(p, addr) == 0)
			return 1;
	return 0;
}

/* add_unique - qualify the raw addresses and keep each one once */
static int add_unique(struct run *R, const buf_t *raw, size_t n)
{
	const char *a = raw->data;
	buf_t one;
	size_t i;
	int r = 0;

	buf_init(&one);
	for (i = 0; i < n && r == 0; i++, a += strlen(a) + 1) {
		buf_reset(&one);
		r = append_qualified(&one, a, R->cfg->hostname);
		if (r == 0 && !listed(&R->rcpts, R->nrcpt, one.data)) {
			r = buf_append(&R->rcpts, one.data, one.len);
			R->nrcpt++;
		}
	}
	buf_free(&one);
	return r < 0 ? oom() : 0;
}

/* make_rcpts - the recipients: arguments, then (-t) header fields */
static int make_rcpts(struct run *R, int argc, char **argv)
{
	buf_t raw;
	size_t n = 0;
	int i, st = 0;

	buf_init(&raw);
	for (i = R->o.first_rcpt; i < argc && st == 0; i++) {
		if (msg_parse_addresses(argv[i], strlen(argv[i]), &raw,
					     &n) < 0) {
			say("bad recipient address: %s", argv[i]);
			st = EX_USAGE;
		}
	}
	if (st == 0 && R->o.extract)
		st = header_rcpts(R, &raw, &n);
	if (st == 0)
		st = add_unique(R, &raw, n);
	buf_free(&raw);
	if (st == 0 && R->nrcpt == 0) {
		say(R->o.extract ? "no recipient addresses found in the message "
				   "header" : "no recipients given");
		st = EX_USAGE;
	}
	return st;
}

/* ---- the command: reading the message ---- */

/* input_fill - read more of stdin; 0 (R->eof set at the end) or -1 */
static int input_fill(struct run *R)
{
	ssize_t n;

	if (buf_reserve(&R->in, READ_CHUNK) < 0) {
		errno = ENOMEM;
		return -1;
	}
	do
		n = read(STDIN_FILENO, R->in.data + R->in.len, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		R->eof = 1;
	R->in.len += (size_t)n;
	R->in.data[R->in.len] = '\0';
	return 0;
}

/* take_field_line - move the header line in[0..full) into hdr, with an
 * LF when it had none (last line of the input) */
static int take_field_line(struct run *R, size_t full, int has_lf)
{
	if (buf_append(&R->hdr, R->in.data, full) < 0 ||
	    (!has_lf && buf_putc(&R->hdr, '\n') < 0)) {
		errno = ENOMEM;
		return -1;
	}
	buf_consume(&R->in, full);
	return 1;
}

/* header_step - one line of the header section: 1 taken (or more input
 * read), 0 the section ended (R->hdr_end says how), -1 error (errno) */
static int header_step(struct run *R)
{
	const char *lf = R->in.len ? memchr(R->in.data, '\n', R->in.len) : NULL;
	size_t full, n, name_len;
	enum msg_line_kind k;

	if (!lf && !R->eof) {
		if (R->in.len >= HDR_MAX - R->hdr.len) {
			R->hdr_end = HDR_TRUNC;
			return 0;
		}
		return input_fill(R) < 0 ? -1 : 1;
	}
	if (R->in.len == 0) {
		R->hdr_end = HDR_EOF;
		return 0;
	}
	full = lf ? (size_t)(lf - R->in.data) + 1 : R->in.len;
	n = lf ? full - 1 : full;
	if (lf && n > 0 && R->in.data[n - 1] == '\r')
		n--;
	k = msg_line_kind(R->in.data, n, &name_len);
	if (k == MSG_LINE_CONT && R->hdr.len == 0)
		k = MSG_LINE_OTHER;
	if (k == MSG_LINE_BLANK)
		buf_consume(&R->in, full);
	R->hdr_end = k == MSG_LINE_BLANK ? HDR_BLANK : HDR_OTHER;
	if (k == MSG_LINE_BLANK || k == MSG_LINE_OTHER)
		return 0;
	if (full + 1 > HDR_MAX - R->hdr.len) {
		R->hdr_end = HDR_TRUNC;
		return 0;
	}
	return take_field_line(R, full, lf != NULL);
}

/* read_header - the header section of stdin into R->hdr */
static int read_header(struct run *R)
{
	int r;

	while ((r = header_step(R)) == 1)
		;
	if (r < 0) {
		say("cannot read the message: %s", strerror(errno));
		return EX_OSERR;
	}
	if (R->hdr_end == HDR_TRUNC && R->o.extract) {
		say("message header section larger than %d bytes", HDR_MAX);
		return EX_DATAERR;
	}
	return 0;
}

/* tmp_open - an unlinked temporary file in $TMPDIR or /tmp, or -1 */
static int tmp_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd, n;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	n = snprintf(path, sizeof(path), "%s/mailport-sendmail.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* spool_put - move chunk into the spool: memory first, then the file */
static int spool_put(struct spool *sp, buf_t *chunk)
{
	int st = 0;

	if (chunk->len == 0)
		return 0;
	if (sp->fd < 0 && chunk->len <= SPOOL_MEM_MAX - sp->mem.len) {
		if (buf_append(&sp->mem, chunk->data, chunk->len) < 0)
			st = oom();
	} else {
		if (sp->fd < 0)
			sp->fd = tmp_open();
		if (sp->fd < 0 || write_all(sp->fd, chunk->data, chunk->len) < 0) {
			say("cannot store the message in a temporary file: %s",
			    strerror(errno));
			st = EX_TEMPFAIL;
		}
	}
	buf_reset(chunk);
	return st;
}

/* feed - convert input bytes into the spool; *used (if not NULL) gets
 * how many were taken */
static int feed(struct run *R, const char *data, size_t len, size_t *used)
{
	size_t u;

	if (msg_out_feed(&R->enc, data, len, &R->chunk, &u) < 0)
		return oom();
	if (used)
		*used = u;
	return spool_put(&R->spool, &R->chunk);
}

/* is_ctl - an ASCII control character */
static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* is_atext - RFC 5322 3.2.3 atext, UTF-8 bytes included (RFC 6532) */
static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* put_phrase - the -F name as a display name: atoms as they are, else a
 * quoted string; control characters become spaces (no header injection) */
static int put_phrase(buf_t *b, const char *name)
{
	const unsigned char *p;
	int plain = *name != '\0';

	for (p = (const unsigned char *)name; *p; p++)
		if (!is_atext(*p) && *p != ' ')
			plain = 0;
	if (plain)
		return buf_puts(b, name);
	if (buf_putc(b, '"') < 0)
		return -1;
	for (p = (const unsigned char *)name; *p; p++) {
		char c = is_ctl(*p) ? ' ' : (char)*p;

		if ((c == '"' || c == '\\') && buf_putc(b, '\\') < 0)
			return -1;
		if (buf_putc(b, c) < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

/* put_from - the From: field for a message without one: "From: sender"
 * or, with -F, "From: name <sender>"; MAILER-DAEMON for the null sender */
static int put_from(struct run *R)
{
	buf_t b, addr;
	int r;

	buf_init(&b);
	buf_init(&addr);
	r = *R->sender ? buf_puts(&addr, R->sender) :
		buf_printf(&addr, "MAILER-DAEMON@%s", R->cfg->hostname);
	if (r == 0)
		r = buf_puts(&b, "From: ");
	if (r == 0 && R->o.fullname)
		r = put_phrase(&b, R->o.fullname) < 0 ||
		    buf_printf(&b, " <%s>\n", addr.data) < 0 ? -1 : 0;
	else if (r == 0)
		r = buf_printf(&b, "%s\n", addr.data);
	r = r < 0 ? oom() : feed(R, b.data, b.len, NULL);
	buf_free(&b);
	buf_free(&addr);
	return r;
}

/* put_header - the header section: Bcc: removed with -t, From: added
 * when missing, then the empty line that ends it */
static int put_header(struct run *R)
{
	struct msg_field f;
	size_t pos = 0;
	int has_from = 0, st = 0;

	while (st == 0 &&
	       msg_next_field(R->hdr.data, R->hdr.len, &pos, &f)) {
		if (msg_field_is(&f, "From"))
			has_from = 1;
		if (!(R->o.extract && msg_field_is(&f, "Bcc")))
			st = feed(R, f.raw, f.raw_len, NULL);
	}
	if (st == 0 && !has_from && R->hdr_end != HDR_TRUNC)
		st = put_from(R);
	/* a body that started without the empty line gets one */
	if (st == 0 && (R->hdr_end == HDR_BLANK || R->hdr_end == HDR_OTHER))
		st = feed(R, "\n", 1, NULL);
	return st;
}

/* read_message - the whole message into the spool, in DATA form */
static int read_message(struct run *R)
{
	size_t used = 0;
	int st = put_header(R);

	while (st == 0) {
		if (R->in.len > 0) {
			st = feed(R, R->in.data, R->in.len, &used);
			buf_consume(&R->in, used);
		}
		if (st != 0 || R->enc.done || R->eof)
			break;
		if (input_fill(R) < 0) {
			say("cannot read the message: %s", strerror(errno));
			st = EX_OSERR;
		}
	}
	if (st == 0 && msg_out_finish(&R->enc, &R->chunk) < 0)
		st = oom();
	return st == 0 ? spool_put(&R->spool, &R->chunk) : st;
}

/* ---- the command: the connection ---- */

/* now_ms - monotonic time in milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll fd until deadline: the revents, 0 on timeout, -1 */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd;

	for (;;) {
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return pfd.revents;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* connect_to - connect fd to sa within REPLY_TIMEOUT; 0 or -1 (errno) */
static int connect_to(int fd, const struct sockaddr *sa, socklen_t len)
{
	int fl = fcntl(fd, F_GETFL), err = 0, r;
	socklen_t elen = sizeof(err);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	r = wait_fd(fd, POLLOUT, now_ms() + REPLY_TIMEOUT * 1000LL);
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	errno = err;
	return err ? -1 : 0;
}

/* open_unix - connect to <spool>/sendmail.sock; the fd or -1 (why set) */
static int open_unix(struct run *R, buf_t *why)
{
	struct sockaddr_un sun;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
		     R->cfg->spool, SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		buf_printf(why, "%s/%s: path too long", R->cfg->spool,
			   SOCKET_NAME);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect_to(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		buf_printf(why, "%s: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(R->conn.peer, sizeof(R->conn.peer), "%s", sun.sun_path);
	return fd;
}

/* to_loopback - a wildcard address becomes the loopback address */
static void to_loopback(struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET &&
	    sin->sin_addr.s_addr == htonl(INADDR_ANY))
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		sin6->sin6_addr = in6addr_loopback;
}

/* open_tcp - connect to the first listen address; the fd or -1 */
static int open_tcp(struct run *R, buf_t *why)
{
	const struct listen_addr *la;
	struct sockaddr_storage ss;
	int fd;

	if (R->cfg->nlisten == 0) {
		buf_puts(why, "no listen address");
		return -1;
	}
	la = &R->cfg->listen[0];
	memcpy(&ss, &la->ss, sizeof(ss));
	to_loopback(&ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect_to(fd, (struct sockaddr *)&ss, la->len) < 0) {
		buf_printf(why, "%s: %s", la->text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(R->conn.peer, sizeof(R->conn.peer), "%s", la->text);
	return fd;
}

/* conn_open - the Unix socket, else TCP */
static int conn_open(struct run *R)
{
	buf_t why;

	buf_init(&why);
	R->conn.fd = open_unix(R, &why);
	if (R->conn.fd < 0) {
		buf_puts(&why, "; ");
		R->conn.fd = open_tcp(R, &why);
	}
	if (R->conn.fd < 0)
		say("cannot connect to the mail daemon (%s)",
		    why.data ? why.data : "");
	buf_free(&why);
	return R->conn.fd < 0 ? EX_TEMPFAIL : 0;
}

/* conn_fail - the connection is unusable: report (unless quiet) */
__attribute__((format(printf, 3, 4)))
static int conn_fail(struct conn *c, int st, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	c->broken = 1;
	if (c->quiet)
		return st;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	say("%s: %s", c->peer, what);
	return st;
}

/* conn_send - send all of p within REPLY_TIMEOUT per write; 0, an exit
 * status, or ST_EARLY when the server sent something meanwhile */
static int conn_send(struct conn *c, const char *p, size_t len)
{
	long long deadline = now_ms() + REPLY_TIMEOUT * 1000LL;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		int ev;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			deadline = now_ms() + REPLY_TIMEOUT * 1000LL;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return conn_fail(c, EX_TEMPFAIL, "connection lost: %s",
					 n == 0 ? "closed" : strerror(errno));
		ev = wait_fd(c->fd, POLLOUT | POLLIN, deadline);
		if (ev < 0)
			return conn_fail(c, EX_OSERR, "poll: %s", strerror(errno));
		if (ev == 0)
			return conn_fail(c, EX_TEMPFAIL, "timeout sending");
		if ((ev & POLLIN) && !(ev & POLLOUT))
			return ST_EARLY;
	}
	return 0;
}

/* conn_fill - receive more bytes within the deadline */
static int conn_fill(struct conn *c, long long deadline)
{
	ssize_t n;
	int ev = wait_fd(c->fd, POLLIN, deadline);

	if (ev < 0)
		return conn_fail(c, EX_OSERR, "poll: %s", strerror(errno));
	if (ev == 0)
		return conn_fail(c, EX_TEMPFAIL, "timeout waiting for a reply");
	if (buf_reserve(&c->rbuf, 4096) < 0)
		return oom();
	n = recv(c->fd, c->rbuf.data + c->rbuf.len, 4096, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return conn_fail(c, EX_TEMPFAIL, "connection lost: %s",
				 strerror(errno));
	if (n == 0)
		return conn_fail(c, EX_TEMPFAIL, "connection closed by the server");
	c->rbuf.len += (size_t)n;
	c->rbuf.data[c->rbuf.len] = '\0';
	return 0;
}

/* bad_reply - a protocol error: report the offending bytes, escaped */
static int bad_reply(struct conn *c, const char *what, const char *p,
		     size_t len)
{
	char esc[LOG_ESC_SIZE];

	log_escape(esc, p, len);
	return conn_fail(c, EX_SOFTWARE, "%s: \"%s\"", what, esc);
}

/* conn_reply - read one complete reply (RFC 5321 4.2.1) within
 * REPLY_TIMEOUT.  Lines must end in CRLF; a line that is too long or
 * malformed, or bytes after the reply (we never pipeline, so they are
 * unsolicited), are protocol errors. */
static int conn_reply(struct conn *c, struct smtp_reply *r)
{
	long long deadline = now_ms() + REPLY_TIMEOUT * 1000LL;
	struct lr_line ln;
	enum lr_result lr;
	enum rp_result rp;
	int st;

	rp_init(r);
	for (;;) {
		lr = c->rbuf.len == 0 ? LR_NEED_MORE :
			lr_scan(c->rbuf.data, c->rbuf.len, REPLY_LINE_MAX, &ln);
		if (lr == LR_TOO_LONG)
			return bad_reply(c, "reply line too long", c->rbuf.data, 80);
		if (lr == LR_NEED_MORE) {
			if ((st = conn_fill(c, deadline)) != 0)
				return st;
			continue;
		}
		rp = ln.bare_lf ? RP_ERROR : rp_line(r, c->rbuf.data, ln.len);
		if (rp == RP_ERROR)
			return bad_reply(c, "malformed reply", c->rbuf.data,
					 ln.consumed);
		buf_consume(&c->rbuf, ln.consumed);
		if (rp == RP_DONE)
			break;
	}
	if (c->rbuf.len > 0)
		return bad_reply(c, "unexpected data after a reply",
				 c->rbuf.data, c->rbuf.len);
	return 0;
}

/* ---- the command: the SMTP dialog (RFC 5321 3.3, 4.1) ---- */

/* reply_show - "550 5.1.1 text" of the reply, lines joined, escaped */
static const char *reply_show(const struct smtp_reply *r,
			      char esc[LOG_ESC_SIZE])
{
	buf_t b;
	size_t i;

	buf_init(&b);
	if (buf_printf(&b, "%d%s%s %s", r->code, *r->enh ? " " : "", r->enh,
		       r->text) < 0) {
		buf_free(&b);
		return "(out of memory)";
	}
	for (i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			b.data[i] = ' ';
	log_escape(esc, b.data, b.len);
	buf_free(&b);
	return esc;
}

/* fail_status - the exit status for a negative or unexpected reply */
static int fail_status(int code)
{
	if (code / 100 == 4)
		return EX_TEMPFAIL;
	if (code / 100 == 5)
		return EX_UNAVAILABLE;
	return EX_SOFTWARE;
}

/* smtp_reject - report R->reply as the answer to what; its status */
__attribute__((format(printf, 2, 3)))
static int smtp_reject(struct run *R, const char *fmt, ...)
{
	char what[1024], esc[LOG_ESC_SIZE];
	int code = R->reply.code;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	say("%s: %s%s", what, code / 100 == 4 || code / 100 == 5 ?
	    "" : "unexpected reply ", reply_show(&R->reply, esc));
	if (fail_status(code) == EX_SOFTWARE)
		R->conn.broken = 1;
	return fail_status(code);
}

/* smtp_send - send cmd plus CRLF and read the reply into R->reply */
static int smtp_send(struct run *R, buf_t *cmd)
{
	int st;

	if (buf_append(cmd, "\r\n", 2) < 0)
		return oom();
	st = conn_send(&R->conn, cmd->data, cmd->len);
	buf_reset(cmd);
	if (st != 0 && st != ST_EARLY)
		return st;
	return conn_reply(&R->conn, &R->reply);
}

/* smtp_simple - a command without arguments from us */
static int smtp_simple(struct run *R, const char *line)
{
	buf_t cmd;
	int st;

	buf_init(&cmd);
	st = buf_puts(&cmd, line) < 0 ? oom() : smtp_send(R, &cmd);
	buf_free(&cmd);
	return st;
}

/* ehlo_has - does the EHLO reply list the keyword (RFC 5321 4.1.1.1)? */
static int ehlo_has(const struct smtp_reply *r, const char *kw)
{
	const char *end = r->text + r->text_len;
	const char *p = memchr(r->text, '\n', r->text_len);
	size_t n = strlen(kw), len;
	const char *nl;

	while (p) {
		p++;
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len >= n && strncasecmp(p, kw, n) == 0 &&
		    (len == n || p[n] == ' '))
			return 1;
		p = nl;
	}
	return 0;
}

/* smtp_hello - EHLO, or HELO when EHLO gets a 5xx (RFC 5321 3.2) */
static int smtp_hello(struct run *R)
{
	int st = smtp_simple(R, "EHLO localhost");

	if (st)
		return st;
	if (R->reply.code / 100 == 2) {
		R->has_8bitmime = ehlo_has(&R->reply, "8BITMIME");
		R->has_smtputf8 = ehlo_has(&R->reply, "SMTPUTF8");
		return 0;
	}
	if (R->reply.code / 100 != 5)
		return smtp_reject(R, "EHLO rejected");
	st = smtp_simple(R, "HELO localhost");
	if (st)
		return st;
	return R->reply.code / 100 == 2 ? 0 : smtp_reject(R, "HELO rejected");
}

/* needs_utf8 - is the sender or a recipient not ASCII (RFC 6531)? */
static int needs_utf8(const struct run *R)
{
	const unsigned char *p;
	size_t i;

	for (p = (const unsigned char *)R->sender; *p; p++)
		if (*p >= 0x80)
			return 1;
	for (i = 0; i < R->rcpts.len; i++)
		if ((unsigned char)R->rcpts.data[i] >= 0x80)
			return 1;
	return 0;
}

/* smtp_mail - MAIL FROM, with BODY=8BITMIME (RFC 6152) and SMTPUTF8
 * (RFC 6531) when offered and needed, nothing else */
static int smtp_mail(struct run *R)
{
	int eight = R->enc.eight_bit || R->o.body_8bit;
	buf_t cmd;
	int st = 0;

	buf_init(&cmd);
	if (buf_printf(&cmd, "MAIL FROM:<%s>", R->sender) < 0 ||
	    (R->has_8bitmime && eight && buf_puts(&cmd, " BODY=8BITMIME") < 0) ||
	    (R->has_smtputf8 && needs_utf8(R) && buf_puts(&cmd, " SMTPUTF8") < 0))
		st = oom();
	if (st == 0)
		st = smtp_send(R, &cmd);
	buf_free(&cmd);
	if (st || R->reply.code / 100 == 2)
		return st;
	return smtp_reject(R, "sender <%s> rejected", R->sender);
}

/* smtp_rcpts - one RCPT TO per recipient; *accepted counts the 2xx and
 * *temp is set when one got 4xx.  Each rejection is reported. */
static int smtp_rcpts(struct run *R, size_t *accepted, int *temp)
{
	const char *a = R->rcpts.data;
	buf_t cmd;
	size_t i;
	int st = 0;

	buf_init(&cmd);
	for (i = 0; i < R->nrcpt && st == 0; i++, a += strlen(a) + 1) {
		if (buf_printf(&cmd, "RCPT TO:<%s>", a) < 0) {
			st = oom();
			break;
		}
		st = smtp_send(R, &cmd);
		if (st || R->reply.code / 100 == 2) {
			*accepted += st ? 0 : 1;
			continue;
		}
		if (R->reply.code / 100 == 4)
			*temp = 1;
		st = smtp_reject(R, "recipient <%s> rejected", a);
		/* go on with the next recipient unless the session ends */
		if (st != EX_SOFTWARE && R->reply.code != 421)
			st = 0;
	}
	buf_free(&cmd);
	return st;
}

/* early_reply - the server spoke before the end of the data: read and
 * report that reply; the session is over */
static int early_reply(struct run *R)
{
	char esc[LOG_ESC_SIZE];
	int st = conn_reply(&R->conn, &R->reply);

	R->conn.broken = 1;
	if (st)
		return st;
	say("the server replied before the end of the message: %s",
	    reply_show(&R->reply, esc));
	return fail_status(R->reply.code);
}

/* send_data - send message bytes, watching for an early reply */
static int send_data(struct run *R, const char *p, size_t len)
{
	struct pollfd pfd = { .fd = R->conn.fd, .events = POLLIN };
	int st;

	if (poll(&pfd, 1, 0) > 0)
		return early_reply(R);
	st = conn_send(&R->conn, p, len);
	return st == ST_EARLY ? early_reply(R) : st;
}

/* send_spool - the message in DATA form: memory part, then the file */
static int send_spool(struct run *R)
{
	struct spool *sp = &R->spool;
	ssize_t n;
	int st = send_data(R, sp->mem.data, sp->mem.len);

	if (st || sp->fd < 0)
		return st;
	if (lseek(sp->fd, 0, SEEK_SET) < 0 || buf_reserve(&R->chunk, READ_CHUNK) < 0)
		n = -1;
	else
		n = 1;
	while (n > 0 && st == 0) {
		n = read(sp->fd, R->chunk.data, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			n = 1;
		else if (n > 0)
			st = send_data(R, R->chunk.data, (size_t)n);
	}
	if (n < 0) {
		R->conn.broken = 1;	/* no final "." goes out: nothing queued */
		say("cannot read the temporary file: %s", strerror(errno));
		return EX_OSERR;
	}
	return st;
}

/* smtp_data - DATA, the message, the final reply (RFC 5321 4.1.1.4) */
static int smtp_data(struct run *R)
{
	int st = smtp_simple(R, "DATA");

	if (st)
		return st;
	if (R->reply.code / 100 != 3)
		return smtp_reject(R, "DATA rejected");
	st = send_spool(R);
	if (st == 0)
		st = conn_reply(&R->conn, &R->reply);
	if (st || R->reply.code / 100 == 2)
		return st;
	return smtp_reject(R, "message rejected");
}

/* smtp_session - the whole dialog; QUIT unless the connection broke.
 *
 * Some recipients rejected, at least one accepted: the message is still
 * sent to the accepted ones and the status is EX_NOUSER, after each
 * rejection was reported (classic sendmail behaviour).  EX_TEMPFAIL would
 * invite the caller to send the whole message again, a second copy for
 * every recipient that already has it. */
static int smtp_session(struct run *R)
{
	size_t accepted = 0;
	int temp = 0;
	int st = conn_reply(&R->conn, &R->reply);

	if (st == 0 && R->reply.code / 100 != 2)
		st = smtp_reject(R, "the server refused the connection");
	if (st == 0)
		st = smtp_hello(R);
	if (st == 0)
		st = smtp_mail(R);
	if (st == 0)
		st = smtp_rcpts(R, &accepted, &temp);
	if (st == 0 && accepted == 0) {
		say("no recipient accepted, message not sent");
		st = temp ? EX_TEMPFAIL : EX_NOUSER;
	}
	if (st == 0)
		st = smtp_data(R);
	if (st == 0 && accepted < R->nrcpt) {
		say("message sent to %zu of %zu recipients", accepted, R->nrcpt);
		st = EX_NOUSER;
	}
	if (!R->conn.broken) {
		R->conn.quiet = 1;
		smtp_simple(R, "QUIT");
	}
	return st;
}

/* run_init - an empty run */
static void run_init(struct run *R)
{
	memset(R, 0, sizeof(*R));
	buf_init(&R->rcpts);
	buf_init(&R->in);
	buf_init(&R->hdr);
	buf_init(&R->chunk);
	buf_init(&R->spool.mem);
	R->spool.fd = -1;
	buf_init(&R->conn.rbuf);
	R->conn.fd = -1;
}

/* run_free - release everything the run holds */
static void run_free(struct run *R)
{
	if (R->cfg)
		config_unref(R->cfg);
	free(R->sender);
	buf_free(&R->rcpts);
	buf_free(&R->in);
	buf_free(&R->hdr);
	buf_free(&R->chunk);
	msg_out_free(&R->enc);
	buf_free(&R->spool.mem);
	if (R->spool.fd >= 0)
		close(R->spool.fd);
	buf_free(&R->conn.rbuf);
	if (R->conn.fd >= 0)
		close(R->conn.fd);
}

/* sendmail_main - the sendmail command */
int sendmail_main(int argc, char **argv, const char *config_path)
{
	struct run *R = malloc(sizeof(*R));
	int st;

	if (!R)
		return oom();
	run_init(R);
	st = parse_options(argc, argv, &R->o);
	if (st == 0 && !R->o.extract && R->o.first_rcpt >= argc) {
		say("no recipients given");
		st = EX_USAGE;
	}
	if (st == EX_USAGE)
		usage();
	if (st == 0)
		st = load_config(R, config_path);
	if (st == 0)
		st = make_sender(R);
	if (st == 0)
		st = read_header(R);
	if (st == 0)
		st = make_rcpts(R, argc, argv);
	if (st == 0)
		msg_out_init(&R->enc, MSG_OUT_DATA,
			     R->o.dot_ends ? MSG_OUT_DOT_ENDS : 0);
	if (st == 0)
		st = read_message(R);
	if (st == 0)
		st = conn_open(R);
	if (st == 0)
		st = smtp_session(R);
	run_free(R);
	free(R);
	return st;
}

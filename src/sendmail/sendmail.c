/* sendmail - "mailport sendmail" and the sendmail symlink: the classic
 * sendmail(1) interface, with the option semantics Postfix's sendmail(1)
 * documents, on top of the SMTP client engine (smtp/client.h) that hands
 * the message to the running daemon.
 *
 * Public: sendmail_main.  Its pure parts live in src/msg/: the address
 * list parser and the header field iterator (msg/rfc5322.h), the encoder
 * to DATA form (msg/outbound.h); the dialog is smtp/client's.
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
 *     each end a line and become CRLF, dot-stuffing; the final "." is
 *     left out, the engine sends it) into a spool: the first
 *     SPOOL_MEM_MAX bytes in memory, the rest in an unlinked temporary
 *     file in $TMPDIR or /tmp.  The whole message is never in memory.
 *  4. connect to <spool>/sendmail.sock; when that fails for any reason,
 *     to the first listen address over TCP (a wildcard address is
 *     replaced by loopback);
 *  5. the SMTP dialog of the client engine, lock-step (no pipelining),
 *     driven here with blocking poll() I/O, each reply and each write
 *     within REPLY_TIMEOUT seconds: 220, EHLO localhost (HELO when EHLO
 *     gets a 5xx, RFC 5321 3.2), MAIL, one RCPT per recipient, DATA, the
 *     spool, QUIT.  MAIL gets BODY=8BITMIME when the server offers
 *     8BITMIME and the message holds 8-bit bytes (or -B 8BITMIME); a
 *     server without it gets the message as it is.  MAIL gets SMTPUTF8
 *     when an address is not ASCII; a server that does not offer it gets
 *     no MAIL (the engine's 5.6.7, EX_UNAVAILABLE).
 *  6. the report: each refused recipient, then what failed the whole
 *     job (the reply, or the connection's failure), from the statuses the
 *     engine gives every recipient.
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
 * LF can reach the server outside DATA; server replies are escaped (by
 * the engine, into struct dstatus) before they are shown; nothing is
 * written to stdout.
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
#include "smtp/client.h"
#include "util/log.h"

#define HDR_MAX (1024 * 1024)		/* header section kept for -t */
#define SPOOL_MEM_MAX (64 * 1024)	/* DATA form kept in memory */
#define READ_CHUNK (64 * 1024)
#define RECV_CHUNK 4096
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

/* The message in DATA form without the final "." line, waiting to be
 * sent. */
struct spool {
	buf_t mem;		/* the first part, or all of it */
	int fd;			/* the rest: an unlinked temporary file, or -1 */
};

/* The connection to the daemon. */
struct conn {
	int fd;
	char peer[160];		/* socket path or address, for messages */
	long long deadline;	/* of the current wait (now_ms) */
	int failed;		/* exit status of the first I/O failure during
				 * the job, 0 while none */
	char why[512];		/* ... and its message */
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
	struct smtpc *eng;	/* the SMTP client engine */
	struct smtpc_job job;	/* the one mail transaction */
	struct smtpc_rcpt *rc;	/* its recipients (addresses in rcpts) */
};

/* oom - report memory exhaustion; EX_OSERR */
static int oom(void)
{
	log_cli("sendmail", "out of memory");
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
			log_cli("sendmail", "-B: unknown body type (7BIT or 8BITMIME)");
			return EX_USAGE;
		}
		o->body_8bit = strcasecmp(v, "8BITMIME") == 0;
		return 0;
	case 'b':		/* -bm is the only mode */
		if (strcmp(v, "m") == 0)
			return 0;
		log_cli("sendmail", "-b%s is not supported", v);
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
				log_cli("sendmail", "-%c is not supported", c);
			else
				log_cli("sendmail", "unknown option -%c", c);
			return EX_USAGE;
		}
		v = opt_value(argc, argv, i, j);
		if (!v) {
			log_cli("sendmail", "option -%c needs a value", c);
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
		log_cli("sendmail", "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	if (errors.len == 0)
		log_cli("sendmail", "cannot load the configuration %s", config_name(path));
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
		log_cli("sendmail", "bad sender address: %s", s);
		return EX_USAGE;
	}
	pw = getpwuid(getuid());
	if (!pw || !pw->pw_name || !*pw->pw_name) {
		log_cli("sendmail", "no login name for user id %u", (unsigned)getuid());
		return EX_OSERR;
	}
	R->sender = one_address(pw->pw_name, R->cfg->hostname);
	if (R->sender)
		return 0;
	log_cli("sendmail", "cannot make a sender address of the login name");
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
			log_cli("sendmail", "bad address list in the %.*s: header",
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
			log_cli("sendmail", "bad recipient address: %s", argv[i]);
			st = EX_USAGE;
		}
	}
	if (st == 0 && R->o.extract)
		st = header_rcpts(R, &raw, &n);
	if (st == 0)
		st = add_unique(R, &raw, n);
	buf_free(&raw);
	if (st == 0 && R->nrcpt == 0) {
		log_cli("sendmail", R->o.extract ? "no recipient addresses found in the message "
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
		log_cli("sendmail", "cannot read the message: %s", strerror(errno));
		return EX_OSERR;
	}
	if (R->hdr_end == HDR_TRUNC && R->o.extract) {
		log_cli("sendmail", "message header section larger than %d bytes", HDR_MAX);
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
			log_cli("sendmail", "cannot store the message in a temporary file: %s",
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

/* read_message - the whole message into the spool, in DATA form without
 * the final "." line */
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
			log_cli("sendmail", "cannot read the message: %s", strerror(errno));
			st = EX_OSERR;
		}
	}
	if (st == 0 && msg_out_finish(&R->enc, &R->chunk) < 0)
		st = oom();
	if (st == 0) {		/* drop the ".\r\n" msg_out_finish appended */
		R->chunk.len -= 3;
		R->chunk.data[R->chunk.len] = '\0';
	}
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
		log_cli("sendmail", "cannot connect to the mail daemon (%s)",
		    why.data ? why.data : "");
	buf_free(&why);
	return R->conn.fd < 0 ? EX_TEMPFAIL : 0;
}

/* ---- the command: the SMTP dialog (the engine in smtp/client.h) ---- */

/* io_fail - the connection failed: keep the first failure, its exit
 * status st and its message, for the report; none once the job is over
 * (RSET, QUIT) */
__attribute__((format(printf, 3, 4)))
static void io_fail(struct run *R, int st, const char *fmt, ...)
{
	va_list ap;

	if (R->job.done || R->conn.failed)
		return;
	R->conn.failed = st;
	va_start(ap, fmt);
	vsnprintf(R->conn.why, sizeof(R->conn.why), fmt, ap);
	va_end(ap);
}

/* arm - the wait starting now (a write, then the reply) may last as long
 * as the engine says; only a write's progress arms it again, never bytes
 * read, so that each reply comes within the timeout */
static void arm(struct run *R)
{
	R->conn.deadline = now_ms() + smtpc_timeout(R->eng) * 1000LL;
}

/* conn_read - feed what the server sent to the engine; 0, or -1 when the
 * connection is over (EOF or an error: the engine was told) */
static int conn_read(struct run *R)
{
	char b[RECV_CHUNK];
	ssize_t n = recv(R->conn.fd, b, sizeof(b), 0);
	int e = errno;

	if (n > 0) {
		smtpc_feed(R->eng, b, (size_t)n);
		return 0;
	}
	if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR))
		return 0;
	if (n == 0)
		io_fail(R, EX_TEMPFAIL, "%s: connection closed by the server",
			R->conn.peer);
	else
		io_fail(R, EX_TEMPFAIL, "%s: connection lost: %s", R->conn.peer,
			strerror(e));
	smtpc_conn_lost(R->eng, n == 0 ? NULL : strerror(e));
	return -1;
}

/* conn_step - one wait on the connection, until the deadline: what the
 * server sent goes to the engine first (a reply in the middle of the data
 * ends it), else up to len bytes of p are sent (and the deadline moves
 * on).  The number sent (0: none, something was read), or -1 when the
 * connection is over (the engine was told). */
static ssize_t conn_step(struct run *R, const char *p, size_t len)
{
	int ev = wait_fd(R->conn.fd, len ? POLLIN | POLLOUT : POLLIN,
			 R->conn.deadline);
	int e = errno;
	ssize_t n;

	if (ev < 0) {
		io_fail(R, EX_OSERR, "%s: poll: %s", R->conn.peer, strerror(e));
		smtpc_conn_lost(R->eng, strerror(e));
		return -1;
	}
	if (ev == 0) {
		io_fail(R, EX_TEMPFAIL, "%s: %s", R->conn.peer,
			len ? "timeout sending" : "timeout waiting for a reply");
		smtpc_timed_out(R->eng);
		return -1;
	}
	if (ev & (POLLIN | POLLHUP | POLLERR))
		return conn_read(R);
	n = send(R->conn.fd, p, len, MSG_NOSIGNAL);
	if (n > 0)
		arm(R);
	if (n >= 0)
		return n;
	e = errno;
	if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
		return 0;
	io_fail(R, EX_TEMPFAIL, "%s: connection lost: %s", R->conn.peer,
		strerror(e));
	smtpc_conn_lost(R->eng, strerror(e));
	return -1;
}

/* flush - write the engine's output (commands), each write within the
 * timeout, which then runs on for the reply; 0, or -1 when the
 * connection is over */
static int flush(struct run *R)
{
	const char *p;
	size_t len;
	ssize_t n;

	if (smtpc_output(R->eng, &len) != NULL)
		arm(R);
	while ((p = smtpc_output(R->eng, &len)) != NULL) {
		n = conn_step(R, p, len);
		if (n < 0)
			return -1;
		smtpc_output_taken(R->eng, (size_t)n);
	}
	return 0;
}

/* send_data - send p[0..len) of the body, each write within the timeout;
 * -1 when the body is over: the connection failed, or the server replied
 * and the engine wants no more data */
static int send_data(struct run *R, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (smtpc_want(R->eng) != SMTPC_WANT_BODY)
			return -1;
		n = conn_step(R, p, len);
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* send_body - the spool as the body (DATA form: CRLF lines, dot-stuffed,
 * without the final "." line, RFC 5321 4.1.1.4), memory part then file;
 * then the engine sends the final dot */
static void send_body(struct run *R)
{
	struct spool *sp = &R->spool;
	ssize_t n = 1;

	arm(R);
	if (send_data(R, sp->mem.data, sp->mem.len) < 0)
		return;
	if (sp->fd >= 0 && (lseek(sp->fd, 0, SEEK_SET) < 0 ||
			    buf_reserve(&R->chunk, READ_CHUNK) < 0))
		n = -1;
	while (sp->fd >= 0 && n > 0) {
		n = read(sp->fd, R->chunk.data, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			n = 1;
		else if (n > 0 && send_data(R, R->chunk.data, (size_t)n) < 0)
			return;
	}
	if (n < 0) {
		/* close without the final "." : nothing is queued */
		io_fail(R, EX_OSERR, "cannot read the temporary file: %s",
			strerror(errno));
		smtpc_conn_lost(R->eng, "cannot read the temporary file");
		return;
	}
	smtpc_body_done(R->eng);
}

/* job_init - the engine for the connection and the one job: the sender,
 * every recipient, the body's 8-bit flag; 0 or EX_OSERR */
static int job_init(struct run *R)
{
	struct smtpc_config cfg;
	const char *a = R->rcpts.data;
	size_t i;
	int t;

	memset(&cfg, 0, sizeof(cfg));
	cfg.helo_name = "localhost";
	cfg.remote = R->conn.peer;
	cfg.tls = SMTPC_TLS_NONE;
	cfg.no_pipelining = 1;		/* lock-step: one reply at a time */
	cfg.accept_bare_code = 1;	/* a bare "250" (RFC 5321 4.2 grammar) */
	cfg.line_max = REPLY_LINE_MAX;
	for (t = 0; t < SMTPC_TO__COUNT; t++)
		cfg.timeout[t] = REPLY_TIMEOUT;
	R->rc = calloc(R->nrcpt, sizeof(*R->rc));
	R->eng = R->rc ? smtpc_new(&cfg) : NULL;
	if (!R->eng)
		return oom();
	for (i = 0; i < R->nrcpt; i++, a += strlen(a) + 1)
		R->rc[i].addr = a;
	R->job.sender = R->sender;
	R->job.rcpts = R->rc;
	R->job.nrcpt = R->nrcpt;
	/* size 0: no SIZE=, the server judges the size after the data.
	 * BODY=8BITMIME when the server offers 8BITMIME (RFC 6152); one
	 * without it gets the message as it is: DOWNCONVERT keeps the engine
	 * from refusing, and job.downconvert is not looked at (sendmail never
	 * converts) */
	if (R->enc.eight_bit || R->o.body_8bit)
		R->job.flags = SMTPC_JOB_8BIT | SMTPC_JOB_DOWNCONVERT;
	return smtpc_job_start(R->eng, &R->job) < 0 ? oom() : 0;
}

/* same_status - do a and b say the same (the copies one event gave)? */
static int same_status(const struct dstatus *a, const struct dstatus *b)
{
	return a->cls == b->cls && a->code == b->code &&
	       a->remote_said == b->remote_said &&
	       strcmp(a->enh, b->enh) == 0 && strcmp(a->text, b->text) == 0;
}

/* status_exit - the exit status of a failure: the reply's class; of the
 * engine's own verdicts a protocol error (X.5.x, RFC 3463) is
 * EX_SOFTWARE */
static int status_exit(const struct dstatus *st)
{
	if (!st->remote_said && strncmp(st->enh + 1, ".5.", 3) == 0)
		return EX_SOFTWARE;
	return st->cls == DS_PERM ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* say_status - "what: 550 5.1.1 text" for a reply (the engine escaped
 * its text), "peer: text" for the engine's own verdict */
static void say_status(const struct run *R, const char *what,
		       const struct dstatus *st)
{
	if (st->remote_said)
		log_cli("sendmail", "%s: %d %s %s", what, st->code, st->enh, st->text);
	else
		log_cli("sendmail", "%s: %s", R->conn.peer, st->text);
}

/* say_job_failure - what failed the whole job, named after the command
 * that got it; r holds it, n recipients share it */
static void say_job_failure(const struct run *R, const struct smtpc_rcpt *r,
			    size_t n)
{
	char what[1024];

	switch (r->stage) {
	case SMTPC_STAGE_GREETING:
		snprintf(what, sizeof(what), "the server refused the connection");
		break;
	case SMTPC_STAGE_MAIL:
		snprintf(what, sizeof(what), "sender <%s> rejected", R->sender);
		break;
	case SMTPC_STAGE_RCPT:		/* 421: the session ended */
		if (n == 1)
			snprintf(what, sizeof(what), "recipient <%s> rejected",
				 r->addr);
		else
			snprintf(what, sizeof(what), "recipients rejected");
		break;
	case SMTPC_STAGE_BODY:
		snprintf(what, sizeof(what),
			 "the server replied before the end of the message");
		break;
	case SMTPC_STAGE_DOT:
		snprintf(what, sizeof(what), "message rejected");
		break;
	default:			/* EHLO, HELO, DATA */
		snprintf(what, sizeof(what), "%s rejected",
			 smtpc_stage_name(r->stage));
		break;
	}
	say_status(R, what, &r->st);
}

/* job_outcome - report what the job came to, in the order it happened
 * (each refused recipient, then what failed the whole job); the status.
 *
 * Some recipients rejected, at least one accepted: the message is still
 * sent to the accepted ones and the status is EX_NOUSER, after each
 * rejection was reported (classic sendmail behaviour).  EX_TEMPFAIL would
 * invite the caller to send the whole message again, a second copy for
 * every recipient that already has it. */
static int job_outcome(struct run *R)
{
	const struct dstatus *end = smtpc_status(R->eng);
	const struct smtpc_rcpt *wide = NULL;
	size_t i, n = 0, accepted = 0;
	char what[1024];
	int temp = 0;

	for (i = 0; i < R->nrcpt; i++) {
		const struct smtpc_rcpt *r = &R->rc[i];

		if (r->st.cls == DS_OK) {
			accepted++;
		} else if (r->stage == SMTPC_STAGE_RCPT && r->st.remote_said &&
			   !same_status(&r->st, end)) {
			snprintf(what, sizeof(what), "recipient <%s> rejected",
				 r->addr);
			say_status(R, what, &r->st);
			temp |= r->st.cls == DS_TEMP;
		} else {
			wide = wide ? wide : r;
			n += same_status(&r->st, &wide->st);
		}
	}
	if (R->conn.failed) {
		log_cli("sendmail", "%s", R->conn.why);
		return R->conn.failed;
	}
	if (wide) {
		say_job_failure(R, wide, n);
		return status_exit(&wide->st);
	}
	if (accepted == 0) {
		log_cli("sendmail", "no recipient accepted, message not sent");
		return temp ? EX_TEMPFAIL : EX_NOUSER;
	}
	if (accepted < R->nrcpt) {
		log_cli("sendmail", "message sent to %zu of %zu recipients", accepted, R->nrcpt);
		return EX_NOUSER;
	}
	return 0;
}

/* smtp_session - the dialog: the engine says what to do next, this does
 * it with blocking poll() I/O; QUIT after the job; then the report */
static int smtp_session(struct run *R)
{
	int st = job_init(R);

	if (st)
		return st;
	arm(R);				/* the greeting */
	while (smtpc_want(R->eng) != SMTPC_WANT_CLOSE) {
		switch (smtpc_want(R->eng)) {
		case SMTPC_WANT_READ:
			if (flush(R) == 0)
				conn_step(R, NULL, 0);
			break;
		case SMTPC_WANT_BODY:
			if (flush(R) == 0)
				send_body(R);
			break;
		case SMTPC_WANT_JOB:	/* the one job is over */
			smtpc_quit(R->eng);
			break;
		case SMTPC_WANT_TLS:	/* never asked: SMTPC_TLS_NONE */
			smtpc_tls_done(R->eng, 0, "TLS is not used");
			break;
		case SMTPC_WANT_CLOSE:
			break;
		}
	}
	flush(R);			/* a QUIT, maybe */
	return job_outcome(R);
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
	if (R->conn.fd >= 0)
		close(R->conn.fd);
	smtpc_free(R->eng);
	free(R->rc);
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
		log_cli("sendmail", "no recipients given");
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

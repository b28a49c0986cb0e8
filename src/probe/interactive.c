/* interactive - `mailport probe -i`: an SMTP session typed by hand, every
 * reply explained (see interactive.h).
 *
 * Public: interactive_run.
 *
 * Layers: the input (libedit on a terminal: editing, history, prompts;
 * plain reads of fd 0 otherwise, so no stdio buffer ever holds lines
 * libedit or the password prompt should see), the helpers (DATA,
 * STARTTLS, AUTH PLAIN/LOGIN), and the loop.  session.h does every
 * exchange: sent lines, replies and verdicts go through its printer, so
 * the transcript reads like `mailport probe`'s.
 *
 * Invariants: a line reaches the server with CRLF and nothing else added
 * (DATA lines: a leading dot doubled, RFC 5321 4.5.2); a password is never
 * echoed, shown, kept in the history or left in memory after use (the
 * transcript shows "<credentials hidden>"; so does any line typed in
 * answer to a 334 challenge); every wait for the server is bounded by the
 * probe's --timeout; replies the server sends unasked (a 421 on its
 * timeout) are shown before the next prompt.
 */
#include "probe/interactive.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <histedit.h>

#include "auth/sasl.h"
#include "probe/probe.h"
#include "probe/verdict.h"
#include "util/buf.h"

#define INPUT_MAX 65536		/* one typed line */
#define HISTORY_SIZE 500

/* ------------------------------------------------------------------ input */

struct input {
	int tty;			/* stdin is a terminal: libedit */
	EditLine *el;
	History *hist;
	const char *prompt;		/* the prompt of the next el_gets */
};

/* prompt_fn - libedit's prompt callback: the current prompt */
static char *prompt_fn(EditLine *el)
{
	void *d = NULL;

	el_get(el, EL_CLIENTDATA, &d);
	return (char *)(d ? ((struct input *)d)->prompt : "");
}

/* in_open - libedit on a terminal (emacs keys, history, ~/.editrc) */
static void in_open(struct input *in)
{
	HistEvent ev;

	memset(in, 0, sizeof(*in));
	in->prompt = "";
	in->tty = isatty(STDIN_FILENO);
	if (!in->tty)
		return;
	in->el = el_init("mailport", stdin, stdout, stderr);
	in->hist = history_init();
	if (!in->el || !in->hist) {
		if (in->el)
			el_end(in->el);
		if (in->hist)
			history_end(in->hist);
		in->el = NULL;
		in->hist = NULL;
		in->tty = 0;
		return;
	}
	history(in->hist, &ev, H_SETSIZE, HISTORY_SIZE);
	history(in->hist, &ev, H_SETUNIQUE, 1);
	el_set(in->el, EL_CLIENTDATA, in);
	el_set(in->el, EL_PROMPT, prompt_fn);
	el_set(in->el, EL_EDITOR, "emacs");
	el_set(in->el, EL_SIGNAL, 1);
	el_set(in->el, EL_HIST, history, in->hist);
	el_source(in->el, NULL);
}

/* in_close - libedit's state and the terminal as it was */
static void in_close(struct input *in)
{
	if (in->el)
		el_end(in->el);
	if (in->hist)
		history_end(in->hist);
	memset(in, 0, sizeof(*in));
}

/* read_raw - one line from fd 0 byte by byte (nothing read ahead), line
 * end removed; NULL at the end of input */
static char *read_raw(void)
{
	buf_t b;
	char c;

	buf_init(&b);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (b.len)
				break;
			buf_free(&b);
			return NULL;
		}
		if (c == '\n')
			break;
		if (b.len < INPUT_MAX && buf_putc(&b, c) < 0) {
			buf_free(&b);
			return NULL;
		}
	}
	if (b.len && b.data[b.len - 1] == '\r')
		b.data[--b.len] = '\0';
	return b.data ? buf_steal(&b) : strdup("");
}

/* in_line - the next line typed (prompt on a terminal; keep: into the
 * history), without its line end; NULL at the end of input */
static char *in_line(struct input *in, const char *prompt, int keep)
{
	const char *l;
	char *line;
	size_t n;
	int count = 0;
	HistEvent ev;

	fflush(stdout);
	if (!in->tty)
		return read_raw();
	in->prompt = prompt;
	l = el_gets(in->el, &count);
	if (!l || count <= 0)
		return NULL;
	n = strcspn(l, "\r\n");
	line = strndup(l, n);
	if (line && keep && line[0])
		history(in->hist, &ev, H_ENTER, line);
	return line;
}

/* in_secret - a line typed without echo (a password) */
static char *in_secret(struct input *in, const char *prompt)
{
	struct termios old, quiet;
	int echo_off;
	char *line;

	if (!in->tty)
		return read_raw();
	echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
	if (echo_off) {		/* before the prompt: nothing typed may echo */
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ICANON;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	fputs(prompt, stdout);
	fflush(stdout);
	line = read_raw();
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	fputs("\n", stdout);
	fflush(stdout);
	return line;
}

/* free_secret - wipe and free a line that held a secret */
static void free_secret(char *p)
{
	if (p) {
		sasl_wipe(p, strlen(p));
		free(p);
	}
}

/* --------------------------------------------------------------- session */

struct ia {
	struct sess *s;
	const struct inter_conf *c;
	struct input in;
	int challenged;			/* the last reply was a 334 */
	int quit;			/* the user ended the session (QUIT, end of
				 * input) */
	int rc;				/* the exit status */
};

/* alive - the connection can still carry a command */
static int alive(const struct ia *ia)
{
	return ia->s->fd >= 0 && !ia->s->eof;
}

/* show_sent - a line sent outside session.h's steps (a DATA line), in
 * the printer's style */
static void show_sent(const struct ia *ia, const char *line)
{
	const struct sess_printer *p = ia->c->pr;

	if (!p || !p->f)
		return;
	fputs(p->color ? "\033[36m-> " : "-> ", p->f);
	sess_print_escaped(p->f, line, strlen(line));
	fputs(p->color ? "\033[0m\n" : "\n", p->f);
	fflush(p->f);
}

/* help - the one-screen help */
static void help(const struct ia *ia)
{
	printf("Type SMTP commands; each goes to the server with CRLF and its reply is "
	       "explained.\n"
	       "  EHLO %s, MAIL FROM:<you@example.org>, RCPT TO:<them@example.net>, RSET, "
	       "NOOP, VRFY, HELP, QUIT\n"
	       "  DATA      then the message line by line (headers, empty line, body); "
	       "\".\" alone ends it,\n"
	       "            lines starting with \".\" get their second dot here\n"
	       "  STARTTLS  upgrades this session to TLS and shows the certificate; say "
	       "EHLO again after it\n"
	       "  AUTH PLAIN, AUTH LOGIN  ask for the user and the password (not echoed) and "
	       "do the base64\n"
	       "  help or ?  this text;  quit or Ctrl-D  QUIT and end\n", ia->c->helo);
	fflush(stdout);
}

/* step_name - the transcript's step name for a verb ("ehlo", "mail" ...;
 * "other" for anything verdict.h has no stage for) */
static void step_name(const char *verb, char *out, size_t n)
{
	enum probe_stage st;
	size_t i;

	for (i = 0; verb[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)verb[i]);
	out[i] = '\0';
	if (probe_stage_parse(out, &st) < 0 || st == PROBE_CONNECT || st == PROBE_BANNER ||
	    st == PROBE_TLS || st == PROBE_DOT)
		snprintf(out, n, "other");
}

/* explain - notes after a reply: each EHLO extension, a 334 challenge
 * decoded */
static void explain(struct ia *ia, struct sess_step *st)
{
	const struct sess_reply *r = &st->reply;

	ia->challenged = r->code == 334;
	if (strcmp(st->name, "ehlo") == 0 && r->code == 250) {
		for (size_t i = 1; i < r->nlines; i++) {
			char expl[512];
			const char *l = r->lines[i];

			l += strlen(l) >= 4 ? 4 : strlen(l);
			verdict_extension(l, expl, sizeof(expl));
			sess_note(ia->s, st, "%s: %s", l, expl);
		}
	}
	if (r->code == 334 && r->nlines && strlen(r->lines[0]) > 4) {
		const char *b = r->lines[0] + 4;
		char dec[256];
		long n = sasl_b64_decode(b, strlen(b), dec, sizeof(dec));
		int printable = n >= 0;

		for (long i = 0; i < n && printable; i++)
			printable = dec[i] >= 0x20 && dec[i] < 0x7f;
		if (printable && n > 0)
			sess_note(ia->s, st, "the challenge is base64 for \"%s\"", dec);
	}
}

/* send_line - a command line and its reply (shown: what the transcript
 * shows instead of the line, or NULL) */
static void send_line(struct ia *ia, const char *name, const char *line, const char *shown)
{
	struct sess_step *st = NULL;
	enum sess_result r = sess_cmd(ia->s, name, line, shown, &st);

	if (r == SESS_OK && st)
		explain(ia, st);
	else
		ia->challenged = 0;
}

/* pending - replies that came unasked (a 421 on the server's timeout) */
static void pending(struct ia *ia)
{
	struct sess_step *st;

	while (ia->s->fd >= 0 && !sess_quiet(ia->s, 0) && ia->s->in.len) {
		sess_info(ia->s, "the server sent this without being asked:");
		if (sess_read_reply(ia->s, "other", &st) != SESS_OK)
			break;
	}
}

/* do_data - DATA, then the message as typed: a leading dot doubled (RFC
 * 5321 4.5.2), "." alone ends it; end of input inside the message drops
 * the connection, so the server discards the message */
static void do_data(struct ia *ia, const char *line)
{
	struct sess_step *st = NULL;
	char *l;

	if (sess_cmd(ia->s, "data", line, NULL, &st) != SESS_OK || st->reply.code != 354)
		return;
	sess_info(ia->s, "Type the message: header lines, an empty line, the body. A line "
		  "with only \".\" ends it; a line starting with \".\" is sent with a second one");
	while ((l = in_line(&ia->in, "data> ", 0)) != NULL) {
		buf_t b;

		if (strcmp(l, ".") == 0) {
			free(l);
			if (sess_send_data(ia->s, "dot", ".", ".\r\n", 3, NULL) != SESS_OK)
				sess_close(ia->s);
			return;
		}
		buf_init(&b);
		if (l[0] == '.')
			buf_putc(&b, '.');
		buf_puts(&b, l);
		free(l);
		show_sent(ia, b.data ? b.data : "");
		buf_puts(&b, "\r\n");
		if (sess_send_raw(ia->s, b.data, b.len) != SESS_OK) {
			buf_free(&b);
			sess_info(ia->s, "sending failed: closing the connection");
			sess_close(ia->s);
			return;
		}
		buf_free(&b);
	}
	sess_info(ia->s, "end of input inside the message: closing the connection, so the "
		  "server discards it");
	sess_close(ia->s);
	ia->quit = 1;		/* the user ended the session */
}

/* do_starttls - STARTTLS and the handshake on this connection (RFC 3207) */
static void do_starttls(struct ia *ia)
{
	const struct sess_tls *t = &ia->s->tls;
	enum sess_result r = sess_starttls(ia->s, &ia->c->tls, NULL);

	if (r == SESS_TLS) {
		ia->rc = PROBE_EXIT_TLS;
		return;
	}
	if (r == SESS_OK && t->on)
		sess_info(ia->s, "TLS is on (%s, %s). Say EHLO again: the server forgot the one "
			  "before (RFC 3207 4.2)", t->protocol, t->cipher);
}

/* b64 - base64 of n bytes into a new string (NULL on failure) */
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

/* cleartext_warning - AUTH outside TLS */
static void cleartext_warning(struct ia *ia)
{
	if (!ia->s->ssl)
		sess_info(ia->s, "no TLS: the password crosses the network readable (base64 is "
			  "no encryption); STARTTLS first if the server offers it");
}

/* auth_plain - AUTH PLAIN with an initial response (RFC 4954 4, RFC 4616):
 * base64 of NUL user NUL password */
static void auth_plain(struct ia *ia)
{
	char *user = in_line(&ia->in, "Username: ", 0), *pw = NULL, *raw = NULL;
	char *enc = NULL, *line = NULL;
	size_t ul, pl;

	if (!user || !user[0])
		goto out;
	pw = in_secret(&ia->in, "Password: ");
	if (!pw)
		goto out;
	ul = strlen(user);
	pl = strlen(pw);
	raw = malloc(ul + pl + 2);
	if (!raw)
		goto out;
	raw[0] = '\0';
	memcpy(raw + 1, user, ul + 1);
	memcpy(raw + 2 + ul, pw, pl);
	enc = b64(raw, ul + pl + 2);
	sasl_wipe(raw, ul + pl + 2);
	line = enc ? malloc(strlen(enc) + 16) : NULL;
	if (!line)
		goto out;
	cleartext_warning(ia);
	snprintf(line, strlen(enc) + 16, "AUTH PLAIN %s", enc);
	send_line(ia, "auth", line, "AUTH PLAIN <credentials hidden>");
out:
	if (!user || !user[0] || !pw)
		sess_info(ia->s, "AUTH PLAIN not sent (no user name or password)");
	free(user);
	free_secret(pw);
	free(raw);
	free_secret(enc);
	free_secret(line);
}

/* login_step - one AUTH LOGIN answer (base64 of what was typed), or "*"
 * to cancel when nothing was typed (RFC 4954 4) */
static void login_step(struct ia *ia, char *typed, const char *shown)
{
	char *enc = typed && typed[0] ? b64(typed, strlen(typed)) : NULL;

	send_line(ia, "auth", enc ? enc : "*", enc ? shown : NULL);
	free_secret(enc);
}

/* auth_login - AUTH LOGIN: the user name, then the password, each in
 * base64 after a 334 */
static void auth_login(struct ia *ia, const char *line)
{
	char *typed;

	cleartext_warning(ia);
	send_line(ia, "auth", line, NULL);
	if (!ia->challenged || !alive(ia))
		return;
	typed = in_line(&ia->in, "Username: ", 0);
	login_step(ia, typed, NULL);
	free(typed);
	if (!ia->challenged || !alive(ia))
		return;
	typed = in_secret(&ia->in, "Password: ");
	login_step(ia, typed, "<password hidden>");
	free_secret(typed);
}

/* word_is - the n-byte word w is kw, case-blind */
static int word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* do_auth - AUTH: the helpers for a bare PLAIN or LOGIN, anything else
 * sent as typed with its credentials hidden */
static void do_auth(struct ia *ia, const char *line)
{
	const char *mech = line + 4 + strspn(line + 4, " ");
	size_t mn = strcspn(mech, " ");
	const char *rest = mech + mn + strspn(mech + mn, " ");
	char shown[64];

	if (word_is(mech, mn, "PLAIN") && !rest[0]) {
		auth_plain(ia);
		return;
	}
	if (word_is(mech, mn, "LOGIN") && !rest[0]) {
		auth_login(ia, line);
		return;
	}
	snprintf(shown, sizeof(shown), "AUTH %.*s%s", (int)(mn < 20 ? mn : 20), mech,
		 rest[0] ? " <credentials hidden>" : "");
	send_line(ia, "auth", line, shown);
}

/* do_line - one typed line; 1 when the session is over */
static int do_line(struct ia *ia, const char *line)
{
	size_t vn = strcspn(line, " ");
	const char *arg = line + vn + strspn(line + vn, " ");
	char name[SESS_NAME_MAX + 1], verb[16];

	if (ia->challenged) {	/* an answer to a 334: a SASL response */
		send_line(ia, "auth", line, "<response hidden>");
		return 0;
	}
	if (!line[0])
		return 0;
	if (strcmp(line, "help") == 0 || strcmp(line, "?") == 0) {
		help(ia);
		return 0;
	}
	snprintf(verb, sizeof(verb), "%.*s", (int)(vn < 15 ? vn : 15), line);
	if (word_is(line, vn, "QUIT")) {
		send_line(ia, "quit", "QUIT", NULL);
		ia->quit = 1;
		return 1;
	}
	if (word_is(line, vn, "DATA") && !arg[0]) {
		do_data(ia, line);
		return 0;
	}
	if (word_is(line, vn, "STARTTLS") && !arg[0] && !ia->s->ssl) {
		do_starttls(ia);
		return 0;
	}
	if (word_is(line, vn, "AUTH") && arg[0]) {
		do_auth(ia, line);
		return 0;
	}
	if (word_is(line, vn, "BDAT")) {
		sess_info(ia->s, "BDAT wants its chunk's bytes right after the command: use DATA "
			  "here (nothing sent)");
		return 0;
	}
	step_name(vn ? verb : "other", name, sizeof(name));
	send_line(ia, name, line, NULL);
	return 0;
}

/* greet - the server's greeting; 0, or -1 when none came */
static int greet(struct ia *ia)
{
	struct sess_step *st = NULL;

	if (sess_greeting(ia->s, &st) != SESS_OK) {
		sess_close(ia->s);
		return -1;
	}
	sess_info(ia->s, "Type SMTP commands (help or ? for help, quit or Ctrl-D to end)%s",
		  st->reply.code == 220 ? "; start with EHLO" : "");
	return 0;
}

/* interactive_run - see interactive.h */
int interactive_run(struct sess *s, const struct inter_conf *c)
{
	struct ia ia;
	char *line;

	memset(&ia, 0, sizeof(ia));
	ia.s = s;
	ia.c = c;
	if (greet(&ia) < 0)
		return PROBE_EXIT_BANNER;
	in_open(&ia.in);
	for (;;) {
		int end, secret;

		pending(&ia);
		if (!alive(&ia))
			break;
		line = in_line(&ia.in, ia.challenged ? "auth> " : s->ssl ? "smtp/tls> " :
			       "smtp> ", !ia.challenged);
		if (!line) {	/* Ctrl-D, or the end of the input */
			fputs(ia.in.tty ? "\n" : "", stdout);
			if (ia.challenged && alive(&ia))
				send_line(&ia, "auth", "*", NULL);
			if (alive(&ia))
				send_line(&ia, "quit", "QUIT", NULL);
			ia.quit = 1;
			break;
		}
		secret = ia.challenged || strncasecmp(line, "AUTH", 4) == 0;
		end = do_line(&ia, line);
		if (secret)
			sasl_wipe(line, strlen(line));
		free(line);
		if (end || ia.rc)
			break;
	}
	in_close(&ia.in);
	if (!ia.quit && !ia.rc) {
		sess_info(s, "the server closed the connection");
		ia.rc = PROBE_EXIT_PROTOCOL;
	}
	sess_close(s);
	return ia.rc;
}

/* session - the client side of `mailport probe`: blocking, poll()-bounded
 * socket and TLS primitives, and the transcript that records every
 * exchange with its time, its reply and its verdict.
 *
 * One struct sess is one connection.  Every operation waits at most the
 * session's timeout (per operation: a connect, one reply, one write, one
 * TLS handshake); nothing blocks without a bound.  Every operation appends
 * to (or completes) a step of the transcript:
 *
 *	struct sess s;
 *	sess_init(&s, 30000);
 *	sess_set_hooks(&s, &hooks);		live output (optional)
 *	sess_connect(&s, sa, len, "mx.example.org");	step "connect"
 *	sess_greeting(&s, &st);			step "banner"
 *	sess_cmd(&s, "ehlo", "EHLO me.example", NULL, &st);
 *	sess_starttls(&s, &tlsconf, &st);		steps "starttls", "tls"
 *	sess_send_raw(&s, bytes, n);		anything, for the checks
 *	sess_free(&s);
 *
 * Results: SESS_OK when the operation completed (a reply arrived, whatever
 * its code: look at the step), else why it did not.  A step's reply is
 * parsed by smtp/replyparse (RFC 5321 4.2.1 multi-line, RFC 3463 enhanced
 * codes); a malformed one is SESS_PROTO and the step holds the offending
 * line.  Lines are read by the shared line reader (smtp/linereader); a
 * reply line ending in a bare LF is accepted with a note (RFC 5321 2.3.8
 * says CRLF), a line longer than SESS_LINE_MAX is SESS_PROTO.
 *
 * STARTTLS (RFC 3207): after the 220 every byte the server sent or sends
 * before our ClientHello is discarded (and counted in a note), so a
 * pipelined or injected plaintext reply never reads as a TLS-protected one
 * (CVE-2011-0411, the client side).  The certificate is never a reason to
 * abort the handshake: the chain is verified against the system CAs (or
 * conf->ca_file), the name is checked with X509_check_host/_ip_asc, and
 * both results are recorded for the caller to judge.
 *
 * Secrets: a command given with a "shown" text (AUTH) is recorded and
 * displayed only as that text; the real line is never stored.
 *
 * Output: struct sess_hooks lets the caller print steps live; sess_printer
 * is the one text renderer (arrows, colours, verdict lines) and
 * sess_json_steps the JSON one, shared by `mailport probe`, its checks and
 * its interactive mode.
 */
#ifndef MAILPORT_PROBE_SESSION_H
#define MAILPORT_PROBE_SESSION_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "util/buf.h"

#define SESS_LINE_MAX 4096	/* one reply line, ending included */
#define SESS_NAME_MAX 15	/* a step name ("connect", "rcpt" ...) */

enum sess_result {
	SESS_OK = 0,		/* done (a reply came: look at its code) */
	SESS_TIMEOUT,		/* nothing within the timeout */
	SESS_CLOSED,		/* the server closed the connection */
	SESS_IO,		/* a socket error (errno in the step) */
	SESS_PROTO,		/* a malformed reply */
	SESS_TLS,		/* the TLS handshake (or a TLS record) failed */
	SESS_LOCAL,		/* out of memory, bad argument, not connected */
};

/* Verdict classes, as the JSON names them (verdict.h's table supplies
 * the class of a reply; SESS_V_ERROR is a local failure: no reply). */
enum sess_vclass {
	SESS_V_NONE = 0,
	SESS_V_OK,		/* "ok" */
	SESS_V_WARN,		/* "warning": worked, but worth a look (an
				 * unverified certificate, a bare LF) */
	SESS_V_TEMP,		/* "temporary": a 4xx */
	SESS_V_PERM,		/* "permanent": a 5xx */
	SESS_V_ERROR,		/* "error": no usable reply, or a failure the
				 * caller asked to treat as one */
};

/* One reply as received. */
struct sess_reply {
	int code;		/* 250 */
	char enh[16];		/* "2.1.0", or "" */
	size_t nlines;
	char **lines;		/* each line as received, without its line
				 * end (NUL-free: replyparse refuses NUL) */
};

/* One step of the transcript. */
struct sess_step {
	char name[SESS_NAME_MAX + 1];
	char *command;		/* what was sent, as shown (secrets replaced);
				 * NULL: nothing (connect, banner, tls) */
	size_t sent_bytes;	/* bytes written for this step */
	struct sess_reply reply;	/* reply.code 0: none */
	enum sess_result result;
	int err;		/* errno of a connect or socket error */
	char *error;		/* a local failure in words, or NULL */
	enum sess_vclass vclass;
	char *verdict;		/* one line, or NULL */
	char *next;		/* what to check next, or NULL */
	size_t nnotes;
	char **notes;		/* facts found on the way, one line each */
	double ms;		/* from the first byte sent (or the connect
				 * start) to the last byte of the reply */
	int done;		/* the reply (or the failure) is recorded */
	long long t0_us;	/* private: when the step started */
};

/* Live output: each called right after the transcript changed. */
struct sess_hooks {
	void (*sent)(void *arg, const struct sess_step *st, const char *line);
	void (*done)(void *arg, const struct sess_step *st);
	void (*note)(void *arg, const struct sess_step *st, const char *note);
	void (*info)(void *arg, const char *text);	/* "Trying ..." */
	void *arg;
};

/* What the TLS handshake found. */
struct sess_tls {
	int on;			/* the handshake succeeded */
	char protocol[32];	/* "TLSv1.3" */
	char cipher[128];	/* "TLS_AES_256_GCM_SHA384" */
	int has_cert;		/* the server sent a certificate */
	char *subject;		/* RFC 2253 text, or NULL */
	char *issuer;
	char not_after[32];	/* "2026-03-01T12:00:00Z" */
	long days_left;		/* negative: expired */
	size_t nnames;
	char **names;		/* subjectAltName DNS/IP entries, else CN */
	int verified;		/* the chain verifies (and is in date) */
	char verify_error[160];	/* "" or X509_verify_cert_error_string */
	int name_matches;	/* the certificate is valid for check_name */
	char check_name[256];	/* the name (or IP) it was checked against */
};

/* TLS settings for one handshake. */
struct sess_tls_conf {
	const char *ca_file;	/* NULL: the system's CA store */
	const char *name;	/* SNI and the name to check; an IP address
				 * literal is checked, never sent as SNI */
	int verify;		/* a chain that does not verify or a name that
				 * does not match makes the verdict "error"
				 * (else "warning"); the handshake stands */
};

/* A text renderer for the hooks (zero it, then set the first fields). */
struct sess_printer {
	FILE *f;
	int color;		/* ANSI colours (a terminal) */
	int utf8;		/* the locale is UTF-8: "✗", else "x" */
	size_t max_data_lines;	/* lines shown per step (0: 30); the last
				 * line sent is always shown */
	/* private */
	const struct sess_step *cur;
	size_t shown, hidden;
	char *held;		/* the last line not shown */
};

struct ssl_ctx_st;
struct ssl_st;

struct sess {
	int fd;
	int timeout_ms;
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
	buf_t in;		/* received, not yet read as a reply */
	int eof;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_text[64];	/* "192.0.2.1" / "2001:db8::1" */
	unsigned short port;
	struct sess_tls tls;
	size_t nsteps;
	struct sess_step **steps;
	struct sess_hooks hooks;
	size_t cap;
};

/* sess_init - an unconnected session; timeout_ms bounds each operation */
void sess_init(struct sess *s, int timeout_ms);

/* sess_free - close and free everything, the transcript included */
void sess_free(struct sess *s);

/* sess_set_hooks - live output (copied; NULL: none) */
void sess_set_hooks(struct sess *s, const struct sess_hooks *h);

/* sess_connect - a TCP connection to sa (port included); step "connect"
 * with the time taken, or the errno (ECONNREFUSED, ETIMEDOUT for our own
 * timeout, EHOSTUNREACH, ENETUNREACH ...) and verdict.h's explanation.
 * label (the host name, may be NULL) is only shown. */
enum sess_result sess_connect(struct sess *s, const struct sockaddr *sa,
			      socklen_t len, const char *label);

/* sess_greeting - read the server's greeting: step "banner" */
enum sess_result sess_greeting(struct sess *s, struct sess_step **out);

/* sess_cmd - send line (CRLF added) and read one reply into a new step
 * name; shown replaces the line in the transcript (NULL: the line) */
enum sess_result sess_cmd(struct sess *s, const char *name, const char *line,
			  const char *shown, struct sess_step **out);

/* sess_send_cmd - send line (CRLF added) as a new step without reading
 * the reply (PIPELINING, RFC 2920): read it later with sess_read_step */
enum sess_result sess_send_cmd(struct sess *s, const char *name,
			       const char *line, const char *shown,
			       struct sess_step **out);

/* sess_read_step - read one reply into st (a step of this session whose
 * reply is pending) */
enum sess_result sess_read_step(struct sess *s, struct sess_step *st);

/* sess_send_data - send data[0..n) as step name (the message after a 354,
 * already dot-stuffed and ending in ".\r\n"; or a BDAT command line and its
 * chunk) and read the reply; shown is the step's command as recorded;
 * every CRLF line of the data goes to the sent hook (the printer shows the
 * first few and the last) */
enum sess_result sess_send_data(struct sess *s, const char *name,
				const char *shown, const char *data, size_t n,
				struct sess_step **out);

/* sess_send_raw - write bytes as they are (no step, no CRLF added) */
enum sess_result sess_send_raw(struct sess *s, const void *p, size_t n);

/* sess_read_reply - read one reply into a new step name that has no
 * command (an unsolicited or extra reply, e.g. after a smuggling test) */
enum sess_result sess_read_reply(struct sess *s, const char *name,
				 struct sess_step **out);

/* sess_quiet - wait up to ms for input: 1 if nothing came (and no EOF),
 * 0 if bytes or EOF arrived (they stay buffered for the next read) */
int sess_quiet(struct sess *s, int ms);

/* sess_starttls - STARTTLS (step "starttls"); on 220 discard what the
 * server sent after it and do the handshake (step "tls").  SESS_OK with
 * s->tls.on set after a handshake; SESS_OK with tls.on 0 when the server
 * refused (look at the step's reply); SESS_TLS when the handshake failed */
enum sess_result sess_starttls(struct sess *s, const struct sess_tls_conf *c,
			       struct sess_step **out);

/* sess_tls_handshake - the TLS handshake on the connection as it is
 * (implicit TLS, RFC 8314; or after a STARTTLS done by hand): step "tls" */
enum sess_result sess_tls_handshake(struct sess *s,
				    const struct sess_tls_conf *c,
				    struct sess_step **out);

/* sess_close - close the connection (the transcript stays) */
void sess_close(struct sess *s);

/* sess_step_add - a new step (command shown, or NULL) appended to the
 * transcript, its clock started; NULL on ENOMEM */
struct sess_step *sess_step_add(struct sess *s, const char *name,
				const char *command);

/* sess_note - add a note to st (and show it) */
void sess_note(struct sess *s, struct sess_step *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* sess_info - show a line of information (no step) */
void sess_info(struct sess *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sess_verdict - set (replace) st's verdict and mark it done (shown once:
 * a step already done is not shown again); next may be NULL */
void sess_verdict(struct sess *s, struct sess_step *st, enum sess_vclass c,
		  const char *next, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* sess_stage - verdict.h's stage for a step name ("dot", "rcpt" ...);
 * PROBE_OTHER for a name it does not know */
int sess_stage(const char *name);

/* sess_reply_text - the reply's texts (after the code and the enhanced
 * code of each line) joined by sep, into out */
void sess_reply_text(const struct sess_reply *r, const char *sep, buf_t *out);

/* sess_vclass_name - "ok", "temporary", "permanent", "error", "" */
const char *sess_vclass_name(enum sess_vclass c);

/* sess_result_text - "timed out", "connection closed by the server" ... */
const char *sess_result_text(enum sess_result r);

/* sess_printer_hooks - hooks that print to p (p must outlive them) */
void sess_printer_hooks(struct sess_printer *p, struct sess_hooks *h);

/* sess_printer_free - what the printer holds */
void sess_printer_free(struct sess_printer *p);

/* sess_print_verdict - a verdict line ("   = ok: text; next: ... [1.2 ms]");
 * next may be NULL or ""; ms < 0: no time */
void sess_print_verdict(struct sess_printer *p, enum sess_vclass c,
			const char *text, const char *next, double ms);

/* sess_print_escaped - write s[0..n) with bytes outside printable ASCII as
 * \xHH (terminal-safe) */
void sess_print_escaped(FILE *f, const char *s, size_t n);

/* sess_json_step - one step as a JSON object (see the issue 8 spec) */
int sess_json_step(buf_t *out, const struct sess_step *st);

/* sess_json_tls - the TLS details as a JSON object, or null */
int sess_json_tls(buf_t *out, const struct sess_tls *t);

#endif

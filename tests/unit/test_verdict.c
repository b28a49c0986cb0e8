/* test_verdict - unit tests of the explanation table (src/probe/verdict.c).
 *
 * Table-driven: every reply quoted in the seed documents (the five telnet
 * guides in ../shared/seeds: Exchange, PowerMTA, the "possible reasons for
 * failure") gets the right class and a text that says what the guide says
 * it means; the same code means different things at different stages (503
 * to MAIL, RCPT, DATA; 550 5.7.1 to MAIL vs RCPT; 501 to EHLO vs MAIL);
 * every RFC 3463 enhanced code has its own text; unknown codes fall back to
 * a generic text by their first digit; connection errors carry the seeds'
 * reasons (service down, firewall, ISP blocking port 25, wrong address or
 * port); DNS outcomes; failures without a reply; the EHLO extensions of the
 * seeds' transcripts; stage names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probe/verdict.h"

/* has - text contains needle, case-blind */
static int has(const char *text, const char *needle)
{
	size_t n = strlen(needle);

	for (; *text; text++)
		if (strncasecmp(text, needle, n) == 0)
			return 1;
	return 0;
}

/* assert_has - fail with both strings when text lacks needle */
static void assert_has(const char *what, const char *text, const char *needle)
{
	if (!has(text, needle))
		fail_msg("%s: \"%s\" does not mention \"%s\"", what, text, needle);
}

/* check_line - one line, lower-case start, no final period */
static void check_line(const char *what, const char *s, int may_be_empty)
{
	size_t n;

	assert_non_null(s);
	n = strlen(s);
	if (n == 0) {
		if (!may_be_empty)
			fail_msg("%s: empty text", what);
		return;
	}
	if (strchr(s, '\n') || strchr(s, '\r'))
		fail_msg("%s: more than one line: \"%s\"", what, s);
	if (s[n - 1] == '.')
		fail_msg("%s: final period: \"%s\"", what, s);
	if (n > 400)
		fail_msg("%s: too long (%zu): \"%s\"", what, n, s);
}

/* check_verdict - the shape every verdict must have */
static void check_verdict(const char *what, const struct verdict *v)
{
	check_line(what, v->text, 0);
	check_line(what, v->next, 1);
}

struct seed_reply {
	int code;
	const char *enh;
	enum probe_stage stage;
	enum verdict_class cls;
	const char *says;	/* the text must mention this */
	const char *says2;	/* ... and this (or NULL) */
};

/* Every reply in the seed documents, at the stage it answers. */
static const struct seed_reply seed_replies[] = {
	/* 001: Exchange 2007, "Interpreting the Results" */
	{ 220, NULL, PROBE_BANNER, VERDICT_OK, "ready", NULL },
	{ 250, NULL, PROBE_EHLO, VERDICT_OK, "extensions", NULL },
	{ 501, "5.5.4", PROBE_EHLO, VERDICT_PERMANENT, "invalid characters",
	  "restrictions" },
	{ 501, "5.5.4", PROBE_HELO, VERDICT_PERMANENT, "domain name", NULL },
	{ 250, "2.1.0", PROBE_MAIL, VERDICT_OK, "sender", NULL },
	{ 550, "5.1.7", PROBE_MAIL, VERDICT_PERMANENT, "syntax error",
	  "sender" },
	{ 530, "5.7.1", PROBE_MAIL, VERDICT_PERMANENT, "anonymous", "AUTH" },
	{ 250, "2.1.5", PROBE_RCPT, VERDICT_OK, "accepts this recipient",
	  NULL },
	{ 550, "5.1.1", PROBE_RCPT, VERDICT_PERMANENT, "does not exist",
	  NULL },
	{ 354, NULL, PROBE_DATA, VERDICT_OK, "dot", NULL },
	{ 250, "2.6.0", PROBE_DOT, VERDICT_OK, "queued", NULL },
	{ 221, "2.0.0", PROBE_QUIT, VERDICT_OK, "clos", NULL },
	{ 500, "5.3.3", PROBE_OTHER, VERDICT_PERMANENT, "unrecognized",
	  NULL },
	{ 500, "5.3.3", PROBE_MAIL, VERDICT_PERMANENT, "unrecognized",
	  NULL },
	/* 002: the list of replies "you might encounter" */
	{ 221, NULL, PROBE_QUIT, VERDICT_OK, "clos", NULL },
	{ 250, NULL, PROBE_HELO, VERDICT_OK, "greeting", NULL },
	{ 250, NULL, PROBE_MAIL, VERDICT_OK, "sender", NULL },
	{ 250, "2.0.0", PROBE_RSET, VERDICT_OK, "reset", NULL },
	{ 252, "2.1.5", PROBE_VRFY, VERDICT_OK, "verify", "deliver" },
	{ 421, "4.7.0", PROBE_MAIL, VERDICT_TEMPORARY, "too many errors",
	  NULL },
	{ 421, "4.7.0", PROBE_RCPT, VERDICT_TEMPORARY, "too many errors",
	  NULL },
	{ 501, "5.5.4", PROBE_MAIL, VERDICT_PERMANENT, "parameter", NULL },
	{ 501, "5.5.4", PROBE_RCPT, VERDICT_PERMANENT, "arguments", NULL },
	{ 503, "5.5.2", PROBE_MAIL, VERDICT_PERMANENT, "EHLO/HELO first",
	  NULL },
	{ 503, "5.5.2", PROBE_RCPT, VERDICT_PERMANENT, "MAIL first", NULL },
	{ 503, "5.5.2", PROBE_DATA, VERDICT_PERMANENT, "recipient", NULL },
	{ 550, "5.7.1", PROBE_RCPT, VERDICT_PERMANENT, "relay", NULL },
	{ 354, NULL, PROBE_DATA, VERDICT_OK, "ready for the message", NULL },
	{ 250, NULL, PROBE_DOT, VERDICT_OK, "queued", NULL },
	{ 250, "2.1.5", PROBE_RCPT, VERDICT_OK, "recipient", NULL },
	/* 003: PowerMTA */
	{ 220, NULL, PROBE_BANNER, VERDICT_OK, "SMTP", NULL },
	{ 250, "2.1.0", PROBE_MAIL, VERDICT_OK, "sender", NULL },
	{ 250, "2.6.0", PROBE_DOT, VERDICT_OK, "accepted", NULL },
	{ 221, "2.0.0", PROBE_QUIT, VERDICT_OK, "clos", NULL },
	/* 004: Exchange 2003 */
	{ 250, "2.6.0", PROBE_DOT, VERDICT_OK, "queued", NULL },
	/* the seeds' advice: an outside recipient must get 550 5.7.1 */
	{ 554, "5.7.1", PROBE_RCPT, VERDICT_PERMANENT, "relay", NULL },
};

static void test_seed_replies(void **state)
{
	size_t i;
	char what[64];

	(void)state;
	for (i = 0; i < sizeof(seed_replies) / sizeof(seed_replies[0]); i++) {
		const struct seed_reply *s = &seed_replies[i];
		struct verdict v = verdict_reply(s->code, s->enh, s->stage);

		snprintf(what, sizeof(what), "%d %s to %s", s->code,
			 s->enh ? s->enh : "", probe_stage_name(s->stage));
		check_verdict(what, &v);
		if (v.cls != s->cls)
			fail_msg("%s: class %s, want %s", what,
				 verdict_class_name(v.cls),
				 verdict_class_name(s->cls));
		assert_has(what, v.text, s->says);
		if (s->says2)
			assert_has(what, v.text, s->says2);
		if (v.cls != VERDICT_OK && v.next[0] == '\0')
			fail_msg("%s: a failure without a next step", what);
	}
}

/* the same code means different things at different stages */
static void test_stage_matters(void **state)
{
	struct verdict mail, rcpt, data, ehlo;

	(void)state;
	mail = verdict_reply(503, "5.5.2", PROBE_MAIL);
	rcpt = verdict_reply(503, "5.5.2", PROBE_RCPT);
	data = verdict_reply(503, "5.5.2", PROBE_DATA);
	assert_string_not_equal(mail.text, rcpt.text);
	assert_string_not_equal(rcpt.text, data.text);

	mail = verdict_reply(550, "5.7.1", PROBE_MAIL);
	rcpt = verdict_reply(550, "5.7.1", PROBE_RCPT);
	assert_string_not_equal(mail.text, rcpt.text);
	assert_has("550 5.7.1 MAIL", mail.text, "sender");
	assert_has("550 5.7.1 RCPT", rcpt.text, "relay");

	ehlo = verdict_reply(501, "5.5.4", PROBE_EHLO);
	mail = verdict_reply(501, "5.5.4", PROBE_MAIL);
	assert_string_not_equal(ehlo.text, mail.text);

	/* 550 without an enhanced code: sender at MAIL, recipient at RCPT,
	 * content after the dot */
	assert_has("550 MAIL", verdict_reply(550, NULL, PROBE_MAIL).text,
		   "sender");
	assert_has("550 RCPT", verdict_reply(550, NULL, PROBE_RCPT).text,
		   "recipient");
	assert_has("550 DOT", verdict_reply(550, NULL, PROBE_DOT).text,
		   "filter");
	assert_has("554 banner", verdict_reply(554, NULL, PROBE_BANNER).text,
		   "blocklist");
	assert_has("421 banner", verdict_reply(421, NULL, PROBE_BANNER).text,
		   "busy");
	assert_has("220 STARTTLS",
		   verdict_reply(220, "2.0.0", PROBE_STARTTLS).text, "TLS");
	assert_has("454 STARTTLS", verdict_reply(454, "4.7.0",
						 PROBE_STARTTLS).text,
		   "certificate");
	assert_has("502 EHLO", verdict_reply(502, "5.5.1", PROBE_EHLO).text,
		   "HELO");
	assert_has("535 AUTH", verdict_reply(535, "5.7.8", PROBE_AUTH).text,
		   "password");
	assert_has("250 BDAT", verdict_reply(250, "2.0.0", PROBE_BDAT).text,
		   "accepted");
	assert_has("552 DOT", verdict_reply(552, "5.3.4", PROBE_DOT).text,
		   "too big");
	assert_has("450 RCPT", verdict_reply(450, "4.2.0", PROBE_RCPT).text,
		   "greylisting");
}

/* the enhanced code refines a vague code; a firm code wins over it */
static void test_enhanced_precedence(void **state)
{
	struct verdict v;

	(void)state;
	v = verdict_reply(550, "5.2.2", PROBE_RCPT);
	assert_has("550 5.2.2", v.text, "full");
	v = verdict_reply(452, "4.5.3", PROBE_RCPT);
	assert_int_equal(v.cls, VERDICT_TEMPORARY);
	assert_has("452 4.5.3", v.text, "too many recipients");
	v = verdict_reply(550, "5.1.10", PROBE_RCPT);
	assert_has("550 5.1.10", v.text, "null MX");
	v = verdict_reply(550, "5.7.25", PROBE_MAIL);
	assert_has("550 5.7.25", v.text, "reverse DNS");
	v = verdict_reply(559, "5.1.1", PROBE_RCPT);	/* unknown code */
	assert_int_equal(v.cls, VERDICT_PERMANENT);
	assert_has("559 5.1.1", v.text, "does not exist");
	v = verdict_reply(459, "4.2.2", PROBE_RCPT);
	assert_int_equal(v.cls, VERDICT_TEMPORARY);
	assert_has("459 4.2.2", v.text, "full");
	/* firm: 503 is a sequence error whatever its enhanced code says */
	v = verdict_reply(503, "5.5.1", PROBE_RCPT);
	assert_has("503 5.5.1", v.text, "MAIL first");
	/* a detail-0 code does not hide the code's own meaning */
	v = verdict_reply(550, "5.0.0", PROBE_RCPT);
	assert_string_equal(v.text, verdict_reply(550, NULL,
						  PROBE_RCPT).text);
	/* success replies keep their stage text */
	v = verdict_reply(250, "2.1.0", PROBE_MAIL);
	assert_has("250 2.1.0", v.text, "sender");
	/* "" is no enhanced code */
	v = verdict_reply(550, "", PROBE_RCPT);
	assert_string_equal(v.text, verdict_reply(550, NULL,
						  PROBE_RCPT).text);
	/* garbage is no enhanced code either */
	v = verdict_reply(550, "5.1", PROBE_RCPT);
	assert_string_equal(v.text, verdict_reply(550, NULL,
						  PROBE_RCPT).text);
	v = verdict_reply(550, "5.1.1111", PROBE_RCPT);
	assert_string_equal(v.text, verdict_reply(550, NULL,
						  PROBE_RCPT).text);
}

/* RFC 3463 and its later registrations: each its own text */
static void test_every_enhanced_code(void **state)
{
	static const int codes[][2] = {
		{ 1, 1 }, { 1, 2 }, { 1, 3 }, { 1, 4 }, { 1, 5 }, { 1, 6 },
		{ 1, 7 }, { 1, 8 }, { 1, 9 }, { 1, 10 },
		{ 2, 1 }, { 2, 2 }, { 2, 3 }, { 2, 4 },
		{ 3, 1 }, { 3, 2 }, { 3, 3 }, { 3, 4 }, { 3, 5 }, { 3, 6 },
		{ 4, 1 }, { 4, 2 }, { 4, 3 }, { 4, 4 }, { 4, 5 }, { 4, 6 },
		{ 4, 7 },
		{ 5, 1 }, { 5, 2 }, { 5, 3 }, { 5, 4 }, { 5, 5 }, { 5, 6 },
		{ 6, 1 }, { 6, 2 }, { 6, 3 }, { 6, 4 }, { 6, 5 }, { 6, 6 },
		{ 6, 7 }, { 6, 8 }, { 6, 9 },
		{ 7, 1 }, { 7, 2 }, { 7, 3 }, { 7, 4 }, { 7, 5 }, { 7, 6 },
		{ 7, 7 }, { 7, 8 }, { 7, 9 }, { 7, 10 }, { 7, 11 }, { 7, 12 },
		{ 7, 13 }, { 7, 14 }, { 7, 15 }, { 7, 16 }, { 7, 17 },
		{ 7, 18 }, { 7, 19 }, { 7, 20 }, { 7, 21 }, { 7, 22 },
		{ 7, 23 }, { 7, 24 }, { 7, 25 }, { 7, 26 }, { 7, 27 },
		{ 7, 28 }, { 7, 29 }, { 7, 30 },
	};
	const char *seen[sizeof(codes) / sizeof(codes[0])];
	const char *plain5 = verdict_reply(599, NULL, PROBE_OTHER).text;
	const char *plain4 = verdict_reply(499, NULL, PROBE_OTHER).text;
	char enh[16];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct verdict v5, v4;

		snprintf(enh, sizeof(enh), "5.%d.%d", codes[i][0], codes[i][1]);
		v5 = verdict_reply(599, enh, PROBE_OTHER);
		check_verdict(enh, &v5);
		assert_int_equal(v5.cls, VERDICT_PERMANENT);
		if (strcmp(v5.text, plain5) == 0)
			fail_msg("%s: no text of its own", enh);
		snprintf(enh, sizeof(enh), "4.%d.%d", codes[i][0], codes[i][1]);
		v4 = verdict_reply(499, enh, PROBE_OTHER);
		assert_int_equal(v4.cls, VERDICT_TEMPORARY);
		assert_string_equal(v4.text, v5.text);
		assert_string_not_equal(v4.text, plain4);
		for (j = 0; j < i; j++)
			if (seen[j] == v5.text)
				fail_msg("%s shares its text with another code",
					 enh);
		seen[i] = v5.text;
	}
	/* the "other" codes of each subject have texts too */
	for (i = 0; i <= 7; i++) {
		snprintf(enh, sizeof(enh), "5.%zu.0", i);
		assert_string_not_equal(verdict_reply(599, enh,
						      PROBE_OTHER).text,
					plain5);
	}
	/* an unregistered detail falls back to the generic text */
	assert_string_equal(verdict_reply(599, "5.7.99", PROBE_OTHER).text,
			    plain5);
}

/* unknown codes: a generic verdict by their first digit */
static void test_generic_by_first_digit(void **state)
{
	static const struct {
		int code;
		enum verdict_class cls;
		const char *says;
	} rows[] = {
		{ 299, VERDICT_OK, "success" },
		{ 280, VERDICT_OK, "success" },
		{ 399, VERDICT_OK, "more input" },
		{ 471, VERDICT_TEMPORARY, "temporary" },
		{ 499, VERDICT_TEMPORARY, "retry" },
		{ 571, VERDICT_PERMANENT, "permanent" },
		{ 599, VERDICT_PERMANENT, "permanent" },
		{ 199, VERDICT_ERROR, "not a valid" },
		{ 600, VERDICT_ERROR, "not a valid" },
		{ 0, VERDICT_ERROR, "not a valid" },
		{ -250, VERDICT_ERROR, "not a valid" },
		{ 1250, VERDICT_ERROR, "not a valid" },
	};
	size_t i;
	enum probe_stage st;
	char what[32];

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (st = PROBE_CONNECT; st < PROBE_STAGES; st++) {
			struct verdict v = verdict_reply(rows[i].code, NULL, st);

			snprintf(what, sizeof(what), "%d at %s", rows[i].code,
				 probe_stage_name(st));
			check_verdict(what, &v);
			assert_int_equal(v.cls, rows[i].cls);
			assert_has(what, v.text, rows[i].says);
		}
	}
	/* a stage out of range is only "any stage" */
	assert_int_equal(verdict_reply(550, "5.1.1", (enum probe_stage)99).cls,
			 VERDICT_PERMANENT);
}

/* every known code at every stage gives a well-formed verdict of the
 * code's class */
static void test_all_codes_well_formed(void **state)
{
	static const char *const enh[] = { NULL, "5.1.1", "5.7.1", "4.7.0",
					   "2.0.0", "5.5.2", "4.4.2" };
	char what[64];
	int code;
	size_t k;
	enum probe_stage st;

	(void)state;
	for (code = 200; code < 600; code++) {
		for (st = PROBE_CONNECT; st < PROBE_STAGES; st++) {
			for (k = 0; k < sizeof(enh) / sizeof(enh[0]); k++) {
				const char *e = enh[k] && enh[k][0] - '0' ==
					code / 100 ? enh[k] : NULL;
				struct verdict v = verdict_reply(code, e, st);

				snprintf(what, sizeof(what), "%d %s at %s",
					 code, e ? e : "-",
					 probe_stage_name(st));
				check_verdict(what, &v);
				assert_int_equal(v.cls, code < 400 ? VERDICT_OK :
						 code < 500 ? VERDICT_TEMPORARY :
						 VERDICT_PERMANENT);
			}
		}
	}
}

/* seed 001 "Possible Reasons for Failure" of "open 25", and the
 * SparkPost questions: is the server up, is a firewall blocking */
static void test_connect(void **state)
{
	struct verdict v;
	static const int errs[] = { ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH,
				    ENETUNREACH, ECONNRESET, EACCES, EPERM,
				    EADDRNOTAVAIL, EAFNOSUPPORT, EHOSTDOWN,
				    ENETDOWN, ENOMEM, 0 };
	size_t i;

	(void)state;
	v = verdict_connect(ECONNREFUSED);
	assert_int_equal(v.cls, VERDICT_ERROR);
	assert_has("refused", v.text, "refused");
	assert_has("refused", v.text, "not running");
	assert_has("refused", v.text, "port number");
	v = verdict_connect(ETIMEDOUT);
	assert_has("timeout", v.text, "firewall");
	assert_has("timeout", v.text, "ISP");
	assert_has("timeout", v.text, "port 25");
	assert_has("timeout", v.text, "address is wrong");
	assert_has("timeout", v.next, "both sides");
	v = verdict_connect(EHOSTUNREACH);
	assert_has("unreach", v.text, "route");
	v = verdict_connect(ENETUNREACH);
	assert_has("netunreach", v.text, "network");
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		v = verdict_connect(errs[i]);
		check_verdict("connect", &v);
		assert_int_equal(v.cls, errs[i] ? VERDICT_ERROR : VERDICT_OK);
	}
}

static void test_dns(void **state)
{
	static const enum route_status all[] = {
		ROUTE_OK, ROUTE_NULLMX, ROUTE_NXDOMAIN, ROUTE_NOADDR,
		ROUTE_TEMPFAIL, ROUTE_BADNAME, ROUTE_CANCELLED,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct verdict v = verdict_dns(all[i]);

		check_verdict(route_status_name(all[i]), &v);
	}
	assert_int_equal(verdict_dns(ROUTE_OK).cls, VERDICT_OK);
	assert_int_equal(verdict_dns(ROUTE_NULLMX).cls, VERDICT_PERMANENT);
	assert_has("nullmx", verdict_dns(ROUTE_NULLMX).text, "RFC 7505");
	assert_int_equal(verdict_dns(ROUTE_NXDOMAIN).cls, VERDICT_PERMANENT);
	assert_has("nxdomain", verdict_dns(ROUTE_NXDOMAIN).text,
		   "does not exist");
	assert_int_equal(verdict_dns(ROUTE_NOADDR).cls, VERDICT_PERMANENT);
	assert_int_equal(verdict_dns(ROUTE_TEMPFAIL).cls, VERDICT_TEMPORARY);
	assert_has("tempfail", verdict_dns(ROUTE_TEMPFAIL).next, "firewall");
	assert_int_equal(verdict_dns(ROUTE_BADNAME).cls, VERDICT_ERROR);
}

static void test_problems(void **state)
{
	enum verdict_problem p;
	enum probe_stage st;
	char what[64];

	(void)state;
	for (p = VERDICT_CLOSED; p <= VERDICT_NO_AUTH; p++) {
		for (st = PROBE_CONNECT; st < PROBE_STAGES; st++) {
			struct verdict v = verdict_problem(p, st);

			snprintf(what, sizeof(what), "problem %d at %s", (int)p,
				 probe_stage_name(st));
			check_verdict(what, &v);
			assert_int_equal(v.cls, VERDICT_ERROR);
		}
	}
	assert_has("closed banner",
		   verdict_problem(VERDICT_CLOSED, PROBE_BANNER).text,
		   "without a greeting");
	assert_has("timeout banner",
		   verdict_problem(VERDICT_TIMEOUT, PROBE_BANNER).text,
		   "not an SMTP server");
	assert_has("timeout banner",
		   verdict_problem(VERDICT_TIMEOUT, PROBE_BANNER).next, "465");
	assert_has("verify", verdict_problem(VERDICT_TLS_VERIFY, PROBE_TLS).next,
		   "--ca");
}

struct ext_case {
	const char *line;
	int known;
	const char *says;
};

/* the extension lists in seed 003 (PowerMTA, yahoo, aol), and others */
static void test_extensions(void **state)
{
	static const struct ext_case cases[] = {
		{ "STARTTLS", 1, "encrypted" },
		{ "ENHANCEDSTATUSCODES", 1, "5.1.1" },
		{ "PIPELINING", 1, "without waiting" },
		{ "CHUNKING", 1, "BDAT" },
		{ "8BITMIME", 1, "8-bit" },
		{ "XACK", 1, "PowerMTA" },
		{ "XMRG", 1, "merge" },
		{ "SIZE 54525952", 1, "54525952 bytes (52.0 MiB)" },
		{ "SIZE 41943040", 1, "40.0 MiB" },
		{ "SIZE 36700160", 1, "35.0 MiB" },
		{ "SIZE 1000", 1, "1000 bytes" },
		{ "SIZE", 1, "no fixed limit" },
		{ "SIZE 0", 1, "no fixed limit" },
		{ "SIZE junk", 1, "no fixed limit" },
		{ "VERP", 1, "return" },
		{ "DSN", 1, "NOTIFY" },
		{ "dsn", 1, "NOTIFY" },
		{ "SMTPUTF8", 1, "UTF-8" },
		{ "AUTH PLAIN LOGIN", 1, "PLAIN LOGIN" },
		{ "AUTH PLAIN LOGIN", 1, "TLS" },
		{ "AUTH CRAM-MD5", 1, "CRAM-MD5" },
		{ "AUTH", 1, "no mechanism" },
		{ "AUTH=LOGIN", 1, "Outlook" },
		{ "XXXXXXXA", 1, "firewall" },
		{ "XXXXA", 1, "PIX/ASA" },
		{ "REQUIRETLS", 1, "TLS" },
		{ "ETRN", 1, "queued" },
		{ "VRFY", 1, "VRFY" },
		{ "XCLIENT", 1, "Postfix" },
		{ "XEXCH50", 1, "Exchange" },
		{ "X-EXPS GSSAPI NTLM", 1, "Exchange" },
		{ "FOOBAR", 0, "not known to mailport" },
		{ "X-FOO bar", 0, "private" },
		{ "XX", 0, "private" },
		{ "", 0, "empty" },
	};
	char out[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int k = verdict_extension(cases[i].line, out, sizeof(out));

		if (k != cases[i].known)
			fail_msg("\"%s\": known %d, want %d", cases[i].line, k,
				 cases[i].known);
		check_line(cases[i].line, out, 0);
		assert_has(cases[i].line, out, cases[i].says);
	}
}

/* bytes from the server never reach the output raw; the buffer is
 * respected */
static void test_extension_output_safe(void **state)
{
	char out[512], small[8];
	size_t i;

	(void)state;
	verdict_extension("AUTH PLAIN\x1b[31m\x7f\xff", out, sizeof(out));
	for (i = 0; out[i]; i++)
		assert_true(out[i] >= 0x20 && out[i] < 0x7f);
	assert_has("escape", out, "PLAIN?[31m??");
	memset(small, 'z', sizeof(small));
	verdict_extension("PIPELINING", small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	memset(small, 'z', sizeof(small));
	verdict_extension("SIZE 36700160", small, 0);
	assert_int_equal(small[0], 'z');
	verdict_extension("SIZE 99999999999999999999999", out, sizeof(out));
	assert_has("overflow", out, "no fixed limit");
}

/* seed 002: a PIX/ASA doing "fixup"/"inspect" masks the banner */
static void test_banner_note(void **state)
{
	(void)state;
	assert_null(verdict_banner_note(NULL));
	assert_null(verdict_banner_note("mail.port25.com (PowerMTA(TM) v4.0) "
					"ESMTP service ready"));
	assert_null(verdict_banner_note("This is the example.com mailserver. "
					"How you doin'?"));
	assert_null(verdict_banner_note("mx.test ESMTP *** no UCE ***"));
	assert_non_null(verdict_banner_note("*****************************"));
	assert_non_null(verdict_banner_note("******************** ****** "
					    "****2*0**0*******0*0**"));
	assert_has("banner", verdict_banner_note("****************"), "PIX");
}

static void test_stage_names(void **state)
{
	static const char *const names[] = {
		"connect", "banner", "ehlo", "helo", "starttls", "tls", "auth",
		"mail", "rcpt", "data", "dot", "bdat", "quit", "rset", "vrfy",
		"other",
	};
	enum probe_stage st;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), PROBE_STAGES);
	for (i = 0; i < PROBE_STAGES; i++) {
		assert_string_equal(probe_stage_name((enum probe_stage)i),
				    names[i]);
		assert_int_equal(probe_stage_parse(names[i], &st), 0);
		assert_int_equal(st, (enum probe_stage)i);
	}
	assert_int_equal(probe_stage_parse("RCPT", &st), 0);
	assert_int_equal(st, PROBE_RCPT);
	assert_int_equal(probe_stage_parse("nope", &st), -1);
	assert_int_equal(probe_stage_parse("", &st), -1);
	assert_string_equal(probe_stage_name((enum probe_stage)99), "other");
	assert_string_equal(verdict_class_name(VERDICT_OK), "ok");
	assert_string_equal(verdict_class_name(VERDICT_TEMPORARY), "temporary");
	assert_string_equal(verdict_class_name(VERDICT_PERMANENT), "permanent");
	assert_string_equal(verdict_class_name(VERDICT_ERROR), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_replies),
		cmocka_unit_test(test_stage_matters),
		cmocka_unit_test(test_enhanced_precedence),
		cmocka_unit_test(test_every_enhanced_code),
		cmocka_unit_test(test_generic_by_first_digit),
		cmocka_unit_test(test_all_codes_well_formed),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_extension_output_safe),
		cmocka_unit_test(test_banner_note),
		cmocka_unit_test(test_stage_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

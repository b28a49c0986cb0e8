/* cmd - tokenizing an SMTP command line.
 *
 * Public: cmd_parse, cmd_name.
 * Invariant: arg always points inside the given line (or at its end).
 */
#include "smtp/cmd.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", VERB_HELO }, { "EHLO", VERB_EHLO }, { "MAIL", VERB_MAIL },
	{ "RCPT", VERB_RCPT }, { "DATA", VERB_DATA }, { "BDAT", VERB_BDAT },
	{ "RSET", VERB_RSET }, { "NOOP", VERB_NOOP }, { "QUIT", VERB_QUIT },
	{ "VRFY", VERB_VRFY }, { "EXPN", VERB_EXPN }, { "HELP", VERB_HELP },
	{ "STARTTLS", VERB_STARTTLS }, { "AUTH", VERB_AUTH },
	/* CHECKLIST A: HTTP or proxy requests on the SMTP port */
	{ "GET", VERB_FORBIDDEN }, { "POST", VERB_FORBIDDEN },
	{ "HEAD", VERB_FORBIDDEN }, { "PUT", VERB_FORBIDDEN },
	{ "CONNECT", VERB_FORBIDDEN },
};

/* is_blank - SP or TAB */
static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* cmd_name - printable verb name */
const char *cmd_name(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v && v != VERB_FORBIDDEN)
			return verbs[i].name;
	return v == VERB_FORBIDDEN ? "FORBIDDEN" : "UNKNOWN";
}

/* strip_prefix - consume "FROM:" / "TO:" (case-insensitive) and blanks */
static int strip_prefix(struct smtp_cmd *c, const char *kw, size_t kwlen)
{
	if (c->arglen < kwlen || strncasecmp(c->arg, kw, kwlen) != 0)
		return -1;
	c->arg += kwlen;
	c->arglen -= kwlen;
	while (c->arglen && is_blank(*c->arg)) {
		c->arg++;
		c->arglen--;
	}
	return 0;
}

/* cmd_parse - split a command line into verb and argument */
void cmd_parse(const char *line, size_t len, struct smtp_cmd *out)
{
	size_t vlen = 0, i;

	out->verb = VERB_UNKNOWN;
	out->bad_syntax = 0;
	while (vlen < len && !is_blank(line[vlen]))
		vlen++;
	out->arg = line + vlen;
	out->arglen = len - vlen;
	while (out->arglen && is_blank(*out->arg)) {
		out->arg++;
		out->arglen--;
	}
	while (out->arglen && is_blank(out->arg[out->arglen - 1]))
		out->arglen--;
	if (len == 0)
		return;
	if (!((line[0] >= 'A' && line[0] <= 'Z') || (line[0] >= 'a' && line[0] <= 'z'))) {
		out->verb = VERB_FORBIDDEN;
		return;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == vlen &&
		    strncasecmp(line, verbs[i].name, vlen) == 0) {
			out->verb = verbs[i].verb;
			break;
		}
	}
	if (out->verb == VERB_MAIL)
		out->bad_syntax = strip_prefix(out, "FROM:", 5) < 0;
	else if (out->verb == VERB_RCPT)
		out->bad_syntax = strip_prefix(out, "TO:", 3) < 0;
}

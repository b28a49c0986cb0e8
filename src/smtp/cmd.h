/* cmd - SMTP command tokenizer (pure): the verb and its argument text.
 *
 * RFC 5321 4.1.1: verbs are case-insensitive; "MAIL FROM:" and "RCPT TO:"
 * are recognised as one token each, with optional SP/TAB before the path.
 */
#ifndef MAILPORT_SMTP_CMD_H
#define MAILPORT_SMTP_CMD_H

#include <stddef.h>

enum smtp_verb {
	VERB_UNKNOWN = 0,
	VERB_HELO, VERB_EHLO, VERB_MAIL, VERB_RCPT, VERB_DATA, VERB_BDAT,
	VERB_RSET, VERB_NOOP, VERB_QUIT, VERB_VRFY, VERB_EXPN, VERB_HELP,
	VERB_STARTTLS, VERB_AUTH,
	VERB_FORBIDDEN,		/* HTTP/proxy verbs, lines not starting with a letter */
	VERB__COUNT
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;	/* points into the line; not NUL-terminated */
	size_t arglen;		/* trailing SP/TAB removed */
	int bad_syntax;		/* MAIL/RCPT without "FROM:"/"TO:" */
};

/* cmd_parse - tokenize line[0..len) (no line ending) */
void cmd_parse(const char *line, size_t len, struct smtp_cmd *out);

/* cmd_name - the verb's name for logs */
const char *cmd_name(enum smtp_verb v);

#endif

/* rfc5322 - RFC 5322 message syntax, the pure parts several commands need:
 * the header line classifier, the folded-field iterator and the address
 * list parser (moved here from sendmail.c for issue 7; sendmail, the
 * outbound encoder and the DSN builder use them).
 *
 * No I/O; every function works on a byte range (len given, no NUL needed)
 * and never reads past it.
 */
#ifndef MAILPORT_MSG_RFC5322_H
#define MAILPORT_MSG_RFC5322_H

#include <stddef.h>
#include "util/buf.h"

/* msg_parse_addresses - parse an RFC 5322 3.4 address list (display
 * names, comments, quoted strings, groups, folding whitespace, obsolete
 * routes and empty list elements) and append each address found as
 * "local@domain" or "local" (as written, comments and whitespace removed)
 * plus a NUL byte to out; *count is incremented per address.  Returns 0,
 * or -1 on a syntax error (unbalanced quote, comment, angle bracket or
 * domain literal, a control character, two words where one address was
 * expected, a misplaced '@') or when out cannot grow; on error out and
 * *count are left as they were.  No control character (CR and LF
 * included) ever reaches out: an address is safe in an SMTP command. */
int msg_parse_addresses(const char *field, size_t len, buf_t *out,
			size_t *count);

/* What one line of a header section is (line given without its ending). */
enum msg_line_kind {
	MSG_LINE_FIELD,		/* "Name: value" (RFC 5322 2.2, 3.6.8) */
	MSG_LINE_CONT,		/* starts with SP/HT: continues a field */
	MSG_LINE_BLANK,		/* empty: the header section ends */
	MSG_LINE_OTHER		/* anything else: the body starts here */
};

/* msg_line_kind - classify a line; for a field, *name_len gets the length
 * of its name (obsolete WSP before the colon excluded) */
enum msg_line_kind msg_line_kind(const char *line, size_t len,
				 size_t *name_len);

/* One field of a header section: its name and its value (everything after
 * the colon, continuation lines and their line ends included: RFC 5322
 * 2.2.3 folding).  raw/raw_len cover the whole field, line ends included. */
struct msg_field {
	const char *raw;
	size_t raw_len;
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* msg_next_field - the field starting at hdr[*pos] in a header section
 * made of LF- or CRLF-terminated field and continuation lines; advances
 * *pos past it.  Returns 1, or 0 at the end (or at a line that is not a
 * field). */
int msg_next_field(const char *hdr, size_t len, size_t *pos,
		   struct msg_field *f);

/* msg_field_is - does the field have this name (ASCII case-insensitive)? */
int msg_field_is(const struct msg_field *f, const char *name);

#endif

/* sendmail - the classic sendmail(1) command line interface: read one
 * message on stdin and hand it to the running mailport daemon over SMTP
 * (the Unix socket <spool>/sendmail.sock, else the first listen address).
 *
 * sendmail_main is the command; the other functions are its pure parts,
 * exported for the unit tests: the RFC 5322 address list parser, the
 * header line classifier and field iterator (folded fields), and the
 * encoder that turns the input into SMTP DATA form.
 */
#ifndef MAILPORT_SENDMAIL_SENDMAIL_H
#define MAILPORT_SENDMAIL_SENDMAIL_H

#include <stddef.h>
#include "util/buf.h"

/* sendmail_main - run "sendmail [options] [recipients...]"; argv[0] is the
 * program name and is not looked at.  config_path NULL: $MAILPORT_CONFIG,
 * else /etc/mailport/mailport.conf when it exists, else the embedded
 * default.  Returns a sysexits.h status; messages go to stderr. */
int sendmail_main(int argc, char **argv, const char *config_path);

/* sendmail_parse_addresses - parse an RFC 5322 3.4 address list
 * (display names, comments, quoted strings, groups, folding whitespace,
 * obsolete routes and empty list elements) and append each address found
 * as "local@domain" or "local" (as written, comments and whitespace
 * removed) plus a NUL byte to out; *count is incremented per address.
 * Returns 0, or -1 on a syntax error (unbalanced quote, comment, angle
 * bracket or domain literal, a control character, two words where one
 * address was expected, a misplaced '@') or when out cannot grow; on
 * error out and *count are left as they were. */
int sendmail_parse_addresses(const char *field, size_t len, buf_t *out,
			     size_t *count);

/* What one line of a header section is (line given without its ending). */
enum sm_line_kind {
	SM_LINE_FIELD,		/* "Name: value" (RFC 5322 2.2, 3.6.8) */
	SM_LINE_CONT,		/* starts with SP/HT: continues a field */
	SM_LINE_BLANK,		/* empty: the header section ends */
	SM_LINE_OTHER		/* anything else: the body starts here */
};

/* sendmail_line_kind - classify a line; for a field, *name_len gets the
 * length of its name (obsolete WSP before the colon excluded) */
enum sm_line_kind sendmail_line_kind(const char *line, size_t len,
				     size_t *name_len);

/* One field of a header section: its name and its value (everything after
 * the colon, continuation lines and their line ends included: RFC 5322
 * 2.2.3 folding).  raw/raw_len cover the whole field, line ends included. */
struct sm_field {
	const char *raw;
	size_t raw_len;
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* sendmail_next_field - the field starting at hdr[*pos] in a header
 * section made of LF- or CRLF-terminated field and continuation lines;
 * advances *pos past it.  Returns 1, or 0 at the end (or at a line that
 * is not a field). */
int sendmail_next_field(const char *hdr, size_t len, size_t *pos,
			struct sm_field *f);

/* Converter from input text to SMTP DATA form (RFC 5321 4.1.1.4 and
 * 4.5.2): LF and CRLF line ends become CRLF, a lone CR is kept as data,
 * lines starting with '.' are dot-stuffed.  With dot_ends a line holding
 * only "." ends the input (classic sendmail without -i). */
struct sm_enc {
	int dot_ends;
	int bol;		/* at the beginning of a line */
	int dot;		/* a '.' at the beginning of the line is held */
	int cr;			/* a CR is held (an LF may follow) */
	int done;		/* the "." line was seen */
	int eight_bit;		/* a byte >= 0x80 was seen */
};

void sendmail_enc_init(struct sm_enc *e, int dot_ends);

/* sendmail_enc_feed - convert in[0..len) and append to out; *used gets
 * the number of bytes used (less than len only once e->done: the rest
 * follows the "." line).  Returns 0, or -1 when out cannot grow. */
int sendmail_enc_feed(struct sm_enc *e, const char *in, size_t len,
		      buf_t *out, size_t *used);

/* sendmail_enc_finish - end of the input: close the last line with CRLF
 * and append the final ".\r\n"; 0 or -1 */
int sendmail_enc_finish(struct sm_enc *e, buf_t *out);

#endif

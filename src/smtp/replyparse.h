/* replyparse - the client side's SMTP reply parser (pure): multi-line
 * replies (RFC 5321 4.2.1) and enhanced status codes (RFC 3463).
 *
 * Feed it one line at a time (without the line ending, from the shared
 * line reader).  Malformed input is a protocol error, never guessed at:
 * a line shorter than 3 characters, a code that is not three digits with
 * the first 2..5, a fourth character other than ' ' or '-' (or end of
 * line after exactly 3 digits), a continuation line whose code differs
 * from the first line's, a NUL byte, more than REPLY_LINES_MAX lines or
 * REPLY_TEXT_MAX bytes of text in one reply.
 */
#ifndef MAILPORT_SMTP_REPLYPARSE_H
#define MAILPORT_SMTP_REPLYPARSE_H

#include <stddef.h>

#define REPLY_LINES_MAX 100
#define REPLY_TEXT_MAX 8192

enum rp_result { RP_MORE, RP_DONE, RP_ERROR };

struct smtp_reply {
	int code;			/* 250 */
	char enh[16];			/* "2.1.0" or "" when the reply has none */
	char text[REPLY_TEXT_MAX + 1];	/* the lines' texts (enhanced code of the
					 * first line removed), joined with '\n' */
	size_t text_len;
	unsigned lines;
};

void rp_init(struct smtp_reply *r);

/* rp_line - add one line; RP_DONE when the reply is complete (the struct
 * then holds it; call rp_init before the next reply) */
enum rp_result rp_line(struct smtp_reply *r, const char *line, size_t len);

#endif

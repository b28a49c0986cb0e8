/* linereader - the one bounded line reader for all network input (server
 * and client side share it).  Pure: it looks at bytes, it owns none.
 *
 * A line ends at LF; a CR right before the LF is part of the ending (CRLF),
 * otherwise the ending is a bare LF, reported as such.  A line longer than
 * the limit is LR_TOO_LONG: the caller discards up to and including the next
 * LF (lr_skip_to_lf) and answers an error; it never buffers the excess.
 */
#ifndef MAILPORT_SMTP_LINEREADER_H
#define MAILPORT_SMTP_LINEREADER_H

#include <stddef.h>

enum lr_result { LR_LINE, LR_NEED_MORE, LR_TOO_LONG };

struct lr_line {
	size_t len;		/* line length without its ending */
	size_t consumed;	/* bytes including the ending */
	int bare_lf;		/* ended in LF without CR */
	int has_nul;		/* a NUL byte inside the line */
};

/* lr_scan - look for one line in data[0..len) of at most max bytes
 * (ending included) */
enum lr_result lr_scan(const char *data, size_t len, size_t max,
		       struct lr_line *out);

/* lr_skip_to_lf - how many bytes of data[0..len) to discard to finish
 * skipping an over-long line; *found set when the LF was among them */
size_t lr_skip_to_lf(const char *data, size_t len, int *found);

#endif

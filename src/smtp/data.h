/* data - DATA content decoder: dot-unstuffing and end-of-data detection
 * (pure, streaming, bounded memory).
 *
 * RFC 5321 4.1.1.4 / 4.5.2.  Only <CRLF>.<CRLF> ends the data.  The DATA
 * content starts right after the CRLF of the DATA command, so the decoder
 * starts "at a line start".  A bare LF or a bare CR is data, never part of
 * an end marker (SMTP smuggling): "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n" do
 * not end the message.  A line start exists only after CRLF; at a line start
 * a leading "." is removed when something other than "\r\n" follows.
 * The decoder also looks at the header section (lines up to the first empty
 * line, or up to the first line that is not a header field nor a
 * continuation line): it counts "Received:" fields and notes whether
 * "Message-ID:" and "Date:" were seen (field names case-insensitive).
 * It never stores a whole line: it holds back at most DATA_HOLD_MAX bytes at a
 * line start while the header-name decision is pending.
 */
#ifndef MAILPORT_SMTP_DATA_H
#define MAILPORT_SMTP_DATA_H

#include <stddef.h>
#include "util/buf.h"

#define DATA_HOLD_MAX 80

struct data_dec {
	/* set by data_dec_init_literal: BDAT content (RFC 3030), taken
	 * literally: no dot-unstuffing and no end marker (done is never set);
	 * the header tracking and flags work as for DATA */
	int literal;
	/* private state */
	int state;
	int in_headers;
	char hold[DATA_HOLD_MAX + 8];
	size_t hold_len;
	/* results, read by the caller */
	int done;			/* <CRLF>.<CRLF> seen */
	int headers_ended;		/* the header section has ended */
	int headers_end_event;		/* set once, when it ends; caller clears */
	int headers_end_blank;		/* it ended at an empty line (vs. a body line) */
	unsigned received_count;	/* Received: fields seen in the header */
	int saw_message_id;
	int saw_date;
	int saw_bare_lf;
	int saw_bare_cr;
	int saw_nul;
	int saw_8bit;
	unsigned long long out_bytes;	/* bytes emitted so far */
};

void data_dec_init(struct data_dec *d);
void data_dec_init_literal(struct data_dec *d);

/* data_dec_finish_literal - the BDAT LAST chunk was fully fed: flush any
 * held-back bytes to out.  Then, if the header section had not ended and
 * the output so far ends at a line start (empty, or after CRLF), end it:
 * set headers_ended, headers_end_event, headers_end_blank = 0 and return 1
 * (the caller appends its fields).  Otherwise return 0.  Call it once. */
int data_dec_finish_literal(struct data_dec *d, buf_t *out);

/* data_dec_feed - decode up to n input bytes, appending the unstuffed
 * message bytes (CRLF line ends kept, the final ".\r\n" not emitted) to out.
 * Returns the number of input bytes consumed.  It stops early (consumed < n
 * possible) in two cases: right after the end of data (d->done set; the
 * rest of the input belongs to the next command) and right when the header
 * section ends (d->headers_end_event set, before any byte of the first body
 * line or of the empty separator line was emitted, so the caller can append
 * header fields of its own; it must clear headers_end_event and feed the
 * rest).  Returns 0 with d->done already set if called after the end. */
size_t data_dec_feed(struct data_dec *d, const char *in, size_t n, buf_t *out);

#endif

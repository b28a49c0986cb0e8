/* qfile - the on-disk format of one queued message (pure encode/parse).
 *
 * A queue file is:
 *   "MAILPORT-QUEUE 1\n"
 *   envelope records, one per line, "<key> <value>...\n", every free-form
 *     value xtext-encoded (so no record can be split or forged by client
 *     data, whatever bytes it holds)
 *   ".\n"                           end of the envelope
 *   <message bytes, CRLF lines, dot-unstuffed, Received: header first>
 *   trailer "\nMPQ-END <16 lowercase hex digits: message byte count>\n"
 *     (QFILE_TRAILER_LEN bytes), written last: a file without a valid
 *     trailer is incomplete or corrupt.
 * Record keys: id, arrival, client, helo, proto, from, body, smtputf8, ret,
 * envid, auth, rcpt.  A rcpt record is
 *   "rcpt <local|relay> <addr> <domain> <mailbox|-> <orig> <notify> <orcpt-type|-> <orcpt|->"
 * with every string xtext-encoded and notify as a decimal bit mask.
 * Recipient completion is kept in a separate append-only file "<qid>.done":
 * one decimal recipient index a line.
 */
#ifndef MAILPORT_QUEUE_QFILE_H
#define MAILPORT_QUEUE_QFILE_H

#include <stddef.h>
#include "queue/envelope.h"
#include "util/buf.h"

#define QFILE_MAGIC "MAILPORT-QUEUE 1\n"
#define QFILE_TRAILER_LEN 26
#define QFILE_ENV_MAX (64u << 20)	/* an envelope is never larger */

/* qfile_encode_envelope - append the magic, records and ".\n" to out */
int qfile_encode_envelope(const struct envelope *e, buf_t *out);

/* qfile_decode_envelope - parse data[0..len) (the start of a file).
 * Returns the envelope length (offset of the message) on success, 0 if more
 * data is needed to find the end of the envelope, -1 if malformed. */
long qfile_decode_envelope(const char *data, size_t len, struct envelope *e);

/* qfile_trailer - write the trailer for a message of n bytes into out
 * (QFILE_TRAILER_LEN + 1 bytes, NUL-terminated) */
void qfile_trailer(unsigned long long n, char *out);

/* qfile_check_trailer - parse a trailer; returns the byte count or -1 */
long long qfile_check_trailer(const char *t, size_t len);

/* qfile_decode_done - mark rcpts[i].done for every index listed in a done
 * file's contents (malformed or out-of-range lines are ignored) */
void qfile_decode_done(const char *data, size_t len, struct envelope *e);

#endif

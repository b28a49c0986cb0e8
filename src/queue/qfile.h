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
 * Delivery state is kept in a separate append-only status file
 * "<qid>.done", one record a line; for each recipient the last record wins:
 *   "<i>"                                  done (format 1: just the index)
 *   "<i> sent <code> <enh> <remote> <text>"   delivered or relayed: done
 *   "<i> failed <code> <enh> <remote> <text>" failed for good, the bounce is
 *                                          queued: done
 *   "<i> deferred <attempts> <next-try> <first-fail> <delay-notified> <code>
 *        <enh> <remote> <text>"            to be tried again (unix seconds)
 *   "hold 1" / "hold 0"                    the message is held / released
 * Strings are xtext, "-" when empty; a torn last line is ignored.
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

/* qfile_decode_done - apply a status file's records to the envelope's
 * recipients (done flags, attempts, times, last status) and hold flag;
 * malformed or out-of-range lines are ignored */
void qfile_decode_done(const char *data, size_t len, struct envelope *e);

/* qfile_encode_status - append the status record of recipient i (from its
 * done flag and state in e) to out */
int qfile_encode_status(const struct envelope *e, size_t i, buf_t *out);

/* qfile_encode_hold - append a "hold 0|1" record */
int qfile_encode_hold(int hold, buf_t *out);

#endif

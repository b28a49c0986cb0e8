/* xtext - RFC 3461 4 xtext encoding and decoding (pure).
 *
 * xtext = *( xchar / hexchar ), xchar = "!".."~" except "+" and "=",
 * hexchar = "+" two UPPERCASE hex digits.
 */
#ifndef MAILPORT_SMTP_XTEXT_H
#define MAILPORT_SMTP_XTEXT_H

#include <stddef.h>

/* xtext_decode - decode s[0..len) into dst (room for dstsz bytes, NUL
 * added).  Returns the decoded length, or -1 on malformed input (bad
 * "+XX", a byte outside xchar) or if the result does not fit in dstsz - 1.
 * The result may contain any byte, NUL included: use the length. */
long xtext_decode(const char *s, size_t len, char *dst, size_t dstsz);

/* xtext_encode - encode n bytes into dst (NUL-terminated).  Returns the
 * encoded length, or -1 if it does not fit in dstsz - 1.  Output is at most
 * 3 * n bytes. */
long xtext_encode(const void *src, size_t n, char *dst, size_t dstsz);

#endif

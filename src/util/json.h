/* json - the small part of JSON output mailport needs: strings escaped
 * (RFC 8259 7: quotes, backslash, control bytes; bytes >= 0x80 that are not
 * valid UTF-8 as \u00XX of the byte, so any input gives valid JSON).
 */
#ifndef MAILPORT_UTIL_JSON_H
#define MAILPORT_UTIL_JSON_H

#include <stddef.h>
#include "util/buf.h"

/* json_str - append s[0..n) as a JSON string (with the quotes) */
int json_str(buf_t *out, const char *s, size_t n);

/* json_utf8_len - the length of the valid UTF-8 sequence at p (n bytes
 * left), 0 when there is none (overlong, surrogate, beyond U+10FFFF) */
size_t json_utf8_len(const unsigned char *p, size_t n);

/* json_cstr - the same for a C string; NULL is written as null */
int json_cstr(buf_t *out, const char *s);

#endif

/* buf - growable, length-carrying byte buffer with overflow-checked growth.
 *
 * Invariant: data[len] is always a NUL byte when data != NULL, so a buffer
 * holding text can be passed to C string functions; binary content may hold
 * NUL bytes of its own, so always use len for the real length.
 */
#ifndef MAILPORT_UTIL_BUF_H
#define MAILPORT_UTIL_BUF_H

#include <stddef.h>

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *p, size_t n);
int buf_puts(buf_t *b, const char *s);
int buf_putc(buf_t *b, char c);
int buf_printf(buf_t *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_consume(buf_t *b, size_t n);
char *buf_steal(buf_t *b);

#endif

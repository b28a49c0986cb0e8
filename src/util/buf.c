/* buf - growable byte buffer.
 *
 * Public: buf_init, buf_free, buf_reset, buf_reserve, buf_append, buf_puts,
 * buf_putc, buf_printf, buf_consume, buf_steal.
 * Invariant: when data != NULL, data[len] == '\0' and len < cap.
 * Every growth is checked for size_t overflow; failures return -1 and leave
 * the buffer unchanged.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf_init - make an empty buffer that owns no memory */
void buf_init(buf_t *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* buf_free - release the memory and make the buffer empty */
void buf_free(buf_t *b)
{
	free(b->data);
	buf_init(b);
}

/* buf_reset - forget the contents, keep the memory */
void buf_reset(buf_t *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* buf_reserve - make room for extra more bytes plus the trailing NUL */
int buf_reserve(buf_t *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	p = realloc(b->data, ncap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

/* buf_append - append n bytes */
int buf_append(buf_t *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* buf_puts - append a C string */
int buf_puts(buf_t *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_putc - append one byte */
int buf_putc(buf_t *b, char c)
{
	return buf_append(b, &c, 1);
}

/* buf_printf - append formatted text */
int buf_printf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* buf_consume - drop the first n bytes */
void buf_consume(buf_t *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

/* buf_steal - hand the (NUL-terminated) memory to the caller, empty the buffer */
char *buf_steal(buf_t *b)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	buf_init(b);
	return p;
}

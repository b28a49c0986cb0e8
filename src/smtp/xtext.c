/* xtext - RFC 3461 4 xtext encoding and decoding (pure).
 *
 * Public: xtext_decode, xtext_encode.
 * Invariants: never writes more than dstsz bytes; on success dst is
 * NUL-terminated and the return value is the length before the NUL; on
 * failure -1 is returned (dst content is then unspecified but terminated
 * when dstsz > 0).  Decoding is strict: "+" needs two UPPERCASE hex digits
 * and every other byte must be an xchar ("!".."~" except "+" and "=").
 */
#include "smtp/xtext.h"

static const char hexdig[] = "0123456789ABCDEF";

/* is_xchar - RFC 3461 4: "!".."~" except "+" and "=" */
static int is_xchar(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '+' && c != '=';
}

/* hexval - value of an uppercase hex digit, -1 otherwise */
static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xtext_decode - decode xtext s[0..len) into dst (NUL added) */
long xtext_decode(const char *s, size_t len, char *dst, size_t dstsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	int hi, lo;

	if (dstsz == 0)
		return -1;
	dst[0] = '\0';
	while (i < len) {
		if (o + 1 >= dstsz)
			return -1;
		if (p[i] == '+') {
			if (len - i < 3 || (hi = hexval(p[i + 1])) < 0 ||
			    (lo = hexval(p[i + 2])) < 0)
				return -1;
			dst[o++] = (char)(hi * 16 + lo);
			i += 3;
		} else if (is_xchar(p[i])) {
			dst[o++] = (char)p[i++];
		} else {
			return -1;
		}
		dst[o] = '\0';
	}
	return (long)o;
}

/* xtext_encode - encode n bytes as xtext into dst (NUL added) */
long xtext_encode(const void *src, size_t n, char *dst, size_t dstsz)
{
	const unsigned char *p = src;
	size_t i, o = 0;

	if (dstsz == 0)
		return -1;
	dst[0] = '\0';
	for (i = 0; i < n; i++) {
		if (is_xchar(p[i])) {
			if (o + 1 >= dstsz)
				return -1;
			dst[o++] = (char)p[i];
		} else {
			if (o + 3 >= dstsz)
				return -1;
			dst[o++] = '+';
			dst[o++] = hexdig[p[i] >> 4];
			dst[o++] = hexdig[p[i] & 15];
		}
		dst[o] = '\0';
	}
	return (long)o;
}

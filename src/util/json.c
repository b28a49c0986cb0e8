/* json - JSON string output.
 *
 * Public: json_str, json_cstr, json_utf8_len.
 */
#include "util/json.h"

#include <string.h>

/* json_utf8_len - the length of a valid UTF-8 sequence at p (n bytes
 * left), 0 when it is not one (overlong forms, surrogates, > U+10FFFF) */
size_t json_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;	/* overlong, surrogate, beyond U+10FFFF */
	return len;
}

/* json_str - a JSON string */
int json_str(buf_t *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	int rc = buf_putc(out, '"');

	while (i < n && rc == 0) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			rc = buf_printf(out, "\\%c", c);
		} else if (c == '\n') {
			rc = buf_puts(out, "\\n");
		} else if (c == '\r') {
			rc = buf_puts(out, "\\r");
		} else if (c == '\t') {
			rc = buf_puts(out, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			rc = buf_printf(out, "\\u%04x", c);
		} else if (c >= 0x80) {
			k = json_utf8_len(p + i, n - i);
			if (k) {
				rc = buf_append(out, p + i, k);
				i += k;
				continue;
			}
			rc = buf_printf(out, "\\u%04x", c);
		} else {
			rc = buf_putc(out, (char)c);
		}
		i++;
	}
	return rc < 0 ? -1 : buf_putc(out, '"');
}

/* json_cstr - a C string or null */
int json_cstr(buf_t *out, const char *s)
{
	return s ? json_str(out, s, strlen(s)) : buf_puts(out, "null");
}

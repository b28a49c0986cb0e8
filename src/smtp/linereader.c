/* linereader - bounded line scanning for SMTP commands and replies.
 *
 * Public: lr_scan, lr_skip_to_lf.
 * Invariant: never reports a line longer than the caller's maximum.
 */
#include "smtp/linereader.h"

#include <string.h>

/* lr_scan - find the next LF-terminated line within max bytes */
enum lr_result lr_scan(const char *data, size_t len, size_t max,
		       struct lr_line *out)
{
	size_t lim = len < max ? len : max;
	const char *lf = memchr(data, '\n', lim);
	size_t n;

	if (!lf)
		return len >= max ? LR_TOO_LONG : LR_NEED_MORE;
	n = (size_t)(lf - data);
	out->consumed = n + 1;
	out->bare_lf = !(n > 0 && data[n - 1] == '\r');
	out->len = out->bare_lf ? n : n - 1;
	out->has_nul = memchr(data, '\0', out->len) != NULL;
	return LR_LINE;
}

/* lr_skip_to_lf - bytes to drop while discarding the rest of a long line */
size_t lr_skip_to_lf(const char *data, size_t len, int *found)
{
	const char *lf = memchr(data, '\n', len);

	*found = lf != NULL;
	return lf ? (size_t)(lf - data) + 1 : len;
}

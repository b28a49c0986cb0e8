/* log - key=value event lines on stderr.
 *
 * Public: log_set_level, log_msg, log_escape, log_show, log_cli.
 * Each line is "<ISO time> <level> <text>\n", written with a single write(2).
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

/* log_set_level - only events at lvl or more severe are written */
void log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

/* one_line - copy text into out, control bytes escaped (\n, \r, \t,
 * \xHH), so that every event stays one line whatever its text (client
 * bytes are escaped before they get here; this also covers our own texts,
 * such as OpenSSL's multi-line errors); returns the length written */
static size_t one_line(char *out, size_t cap, const char *text, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < n && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c != 0x7f) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else {
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

/* log_msg - format and write one event line */
void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char text[4096], line[4200];
	struct timespec ts;
	struct tm tm;
	size_t n, len;
	int r;
	va_list ap;

	if (lvl > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
		     ts.tv_nsec / 1000000L, level_names[lvl]);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	len = r < 0 ? 0 : (size_t)r < sizeof(text) ? (size_t)r : sizeof(text) - 1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;		/* a trailing line end is not part of the event */
	n += one_line(line + n, sizeof(line) - n - 1, text, len);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

/* log_escape - escape client bytes for a log line, capped at LOG_ESC_MAX */
char *log_escape(char *dst, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t o = 0, i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		char tmp[4];
		size_t k = 0;

		if (c == '\r') {
			tmp[k++] = '\\'; tmp[k++] = 'r';
		} else if (c == '\n') {
			tmp[k++] = '\\'; tmp[k++] = 'n';
		} else if (c == '\t') {
			tmp[k++] = '\\'; tmp[k++] = 't';
		} else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			tmp[k++] = '\\'; tmp[k++] = 'x';
			tmp[k++] = hex[c >> 4]; tmp[k++] = hex[c & 15];
		} else {
			tmp[k++] = (char)c;
		}
		if (o + k > LOG_ESC_MAX - 3) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, tmp, k);
		o += k;
	}
	dst[o] = '\0';
	return dst;
}

/* log_show - escaped, capped copy of s for an error message */
const char *log_show(char *dst, const char *s)
{
	size_t n = strlen(s);

	log_escape(dst, s, n > LOG_SHOW_MAX ? LOG_SHOW_MAX : n);
	if (n > LOG_SHOW_MAX)
		strcat(dst, "...");
	return dst;
}

/* log_cli - a command's message for its user: "mailport <cmd>: ..." on
 * stderr (the daemon's events go through log_msg instead) */
void log_cli(const char *cmd, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mailport %s: %s\n", cmd, line);
}

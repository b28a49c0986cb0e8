/* log - one line per event on stderr, in key=value form.
 *
 * Every byte that came from a client must go through log_escape (or the
 * "%s" of an escaped copy) before it is logged.  Lines are written with one
 * write(2) so that threads do not interleave within a line.
 */
#ifndef MAILPORT_UTIL_LOG_H
#define MAILPORT_UTIL_LOG_H

#include <stddef.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Longest escaped text log_escape produces, NUL excluded (see LOG_ESC_SIZE). */
#define LOG_ESC_MAX 1024
#define LOG_ESC_SIZE (LOG_ESC_MAX + 1)

/* log_escape - copy n bytes of src into dst (LOG_ESC_SIZE bytes), escaping
 * everything outside printable ASCII, '"' and '\\' as \xHH (\r \n \t as
 * such); the output is capped and ends in "..." when cut.  Returns dst. */
char *log_escape(char *dst, const void *src, size_t n);

/* log_show - a short escaped quote of the C string s for an error message:
 * at most LOG_SHOW_MAX bytes of it, then "..." (dst: LOG_ESC_SIZE bytes) */
#define LOG_SHOW_MAX 80
const char *log_show(char *dst, const char *s);

/* log_cli - "mailport <cmd>: <message>" on stderr, for the commands */
__attribute__((format(printf, 2, 3)))
void log_cli(const char *cmd, const char *fmt, ...);

#endif

/* replyparse - the client side's SMTP reply parser: one line at a time,
 * multi-line replies (RFC 5321 4.2.1) and enhanced status codes (RFC 2034,
 * RFC 3463).
 *
 * Public: rp_init, rp_line.
 *
 * Invariants: nothing is guessed.  A reply line is three digits (the first
 * 2..5), then ' ' (last line), '-' (more lines follow) or the end of the
 * line: RFC 5321 4.2's grammar allows a bare "250" as a last line with no
 * text.  Every line of a reply carries the first line's code.  NUL bytes,
 * more than REPLY_LINES_MAX lines or more than REPLY_TEXT_MAX bytes of text
 * are errors; r->text never overflows and is always NUL-terminated.
 * After RP_ERROR the struct holds a partial reply and must be rp_init'ed.
 *
 * Enhanced codes: the first line's text is checked for "c.s.d" (class the
 * same digit as the reply code, subject and detail 1..3 digits each, then a
 * space or the end of the line).  When found it goes to r->enh and is
 * removed from the text, and the same code is removed from the start of
 * every continuation line too (RFC 2034 3 puts it on every line).  A code
 * whose class differs from the reply's is ordinary text.
 */
#include "smtp/replyparse.h"

#include <string.h>

#define ENH_PART_MAX 3		/* RFC 3463 2: 1*3digit per subject/detail */

/* rp_init - forget everything, ready for a new reply */
void rp_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* is_digit - ASCII decimal digit */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* digits - length of the run of 1..ENH_PART_MAX digits at s, 0 if none
 * or too long */
static size_t digits(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && is_digit(s[n]))
		n++;
	return n <= ENH_PART_MAX ? n : 0;
}

/* enh_len - length of the enhanced status code "c.s.d" at the start of
 * text (class must be cls), not counting the separating space; 0 if none */
static size_t enh_len(const char *text, size_t len, char cls)
{
	size_t pos, n;

	if (len < 5 || text[0] != cls || text[1] != '.')
		return 0;
	pos = 2;
	n = digits(text + pos, len - pos);
	if (n == 0 || pos + n >= len || text[pos + n] != '.')
		return 0;
	pos += n + 1;
	n = digits(text + pos, len - pos);
	if (n == 0)
		return 0;
	pos += n;
	if (pos < len && text[pos] != ' ')
		return 0;
	return pos;
}

/* strip_enh - skip the enhanced code (and one following space) at the
 * start of *text when it equals enh */
static void strip_enh(const char *enh, const char **text, size_t *len)
{
	size_t n = strlen(enh);

	if (n == 0 || *len < n || memcmp(*text, enh, n) != 0)
		return;
	if (*len > n && (*text)[n] != ' ')
		return;
	*text += *len > n ? n + 1 : n;
	*len -= *len > n ? n + 1 : n;
}

/* parse_code - the reply code of a line, or -1 when malformed */
static int parse_code(const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* add_text - append one line's text (after the code) to the reply */
static int add_text(struct smtp_reply *r, const char *text, size_t len)
{
	size_t n;

	if (r->lines == 0) {
		n = enh_len(text, len, (char)('0' + r->code / 100));
		if (n > 0) {
			memcpy(r->enh, text, n);
			r->enh[n] = '\0';
		}
	}
	strip_enh(r->enh, &text, &len);
	n = (r->lines > 0 ? 1 : 0) + len;
	if (n > REPLY_TEXT_MAX - r->text_len)
		return -1;
	if (r->lines > 0)
		r->text[r->text_len++] = '\n';
	memcpy(r->text + r->text_len, text, len);
	r->text_len += len;
	r->text[r->text_len] = '\0';
	return 0;
}

/* rp_line - add one line (RFC 5321 4.2.1); RP_DONE on the last line */
enum rp_result rp_line(struct smtp_reply *r, const char *line, size_t len)
{
	int code;

	if (r->lines >= REPLY_LINES_MAX || memchr(line, '\0', len))
		return RP_ERROR;
	code = parse_code(line, len);
	if (code < 0 || (r->lines > 0 && code != r->code))
		return RP_ERROR;
	r->code = code;
	if (add_text(r, line + (len > 3 ? 4 : 3), len > 3 ? len - 4 : 0) < 0)
		return RP_ERROR;
	r->lines++;
	return len > 3 && line[3] == '-' ? RP_MORE : RP_DONE;
}

/* addr - RFC 5321 4.1.2 path and mailbox parser (pure, no I/O).
 *
 * Accepted forms of the argument of MAIL FROM: / RCPT TO: (the text after the
 * colon; leading spaces/tabs already skipped by the caller or skipped here):
 *   <local@domain>            the standard form
 *   local@domain              unbracketed (seed: "mail from:elvis@graceland.com");
 *                             ends at the first SP/TAB or end of input
 *   <>                        null reverse path (only when ADDR_ALLOW_NULL)
 *   <postmaster> / postmaster  bare postmaster, case-insensitive (only with
 *                             ADDR_ALLOW_POSTMASTER; RFC 5321 4.5.1)
 *   <@a,@b:local@domain>      source route: parsed and ignored (4.1.1.3)
 * Local part: dot-string of atext, or quoted-string (qtextSMTP and
 * quoted-pairs \x with x in 32..126).  Domain: dot-separated labels of
 * [A-Za-z0-9-] (no leading/trailing hyphen, 1..63 each), one trailing dot
 * accepted and removed; or an address literal [1.2.3.4] (each octet 0..255)
 * or [IPv6:...] (validated with inet_pton).  With ADDR_ALLOW_UTF8, bytes
 * >= 0x80 are allowed in atext, qtext and labels when they form valid UTF-8
 * (RFC 6531); without it they give ADDR_ERR_UTF8.
 * '%', '!' and a quoted '@' are plain local-part data, never a route.
 * "a@b@c" is a syntax error.  NUL anywhere is a syntax error.
 */
#ifndef MAILPORT_SMTP_ADDR_H
#define MAILPORT_SMTP_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1, octets as written */
#define ADDR_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX 256	/* RFC 5321 4.5.3.1.3, incl. "<" and ">" */

enum addr_flags {
	ADDR_ALLOW_NULL = 1,		/* "<>" is valid (MAIL FROM) */
	ADDR_ALLOW_POSTMASTER = 2,	/* bare "postmaster" valid (RCPT TO) */
	ADDR_ALLOW_UTF8 = 4,		/* SMTPUTF8 was given on MAIL */
};

enum addr_err {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* 501 5.1.3 / 501 5.1.7 */
	ADDR_ERR_EMPTY,		/* nothing at all after the colon: 501 5.5.4 */
	ADDR_ERR_LOCAL_TOO_LONG,
	ADDR_ERR_DOMAIN_TOO_LONG,
	ADDR_ERR_PATH_TOO_LONG,
	ADDR_ERR_UTF8,		/* non-ASCII without SMTPUTF8: 553 5.6.7 */
};

struct smtp_path {
	int is_null;		/* "<>" */
	int is_postmaster;	/* bare "postmaster" (domain empty) */
	int utf8;		/* contains bytes >= 0x80 */
	int domain_literal;	/* domain is "[...]" */
	/* The local part as data: quotes and quoted-pair backslashes removed,
	 * so "a\"b" is stored as a"b.  NUL-terminated; never contains NUL. */
	char local[ADDR_LOCAL_MAX + 1];
	size_t local_len;
	/* Domain: ASCII letters lowercased, trailing dot removed; address
	 * literals kept with brackets, "IPv6:" tag as written lowercased. */
	char domain[ADDR_DOMAIN_MAX + 1];
};

/* addr_parse_path - parse a path at s[0..len).  On ADDR_OK fills *out and
 * sets *consumed to the number of bytes of s used (the path and nothing
 * after it; the caller parses ESMTP parameters from s + *consumed). */
enum addr_err addr_parse_path(const char *s, size_t len, unsigned flags,
			      struct smtp_path *out, size_t *consumed);

/* addr_format - the canonical text form: "local@domain" with the local part
 * re-quoted when it is not a valid dot-string ("a b"@x), "postmaster" for
 * a bare postmaster, "" for the null path.  Returns the length written
 * (always < dstsz, output truncated at dstsz - 1 if it does not fit), or
 * the length needed if dst is NULL.  ADDR_TEXT_MAX fits every parsed path. */
#define ADDR_TEXT_MAX (2 * ADDR_LOCAL_MAX + 3 + ADDR_DOMAIN_MAX)
size_t addr_format(const struct smtp_path *p, char *dst, size_t dstsz);

/* addr_mailbox_safe - can s name a mailbox directory: one safe path
 * component (non-empty, no '/', no control byte, not starting with '.')?
 * Policy judges local parts with it; local delivery checks again. */
int addr_mailbox_safe(const char *s);

/* addr_domain_valid - true if s[0..len) is a valid domain (same rules as in
 * paths, address literals included); used for HELO/EHLO arguments. */
int addr_domain_valid(const char *s, size_t len, int allow_utf8);

#endif

/* sasl - the server side of SMTP AUTH (RFC 4954) mechanisms PLAIN
 * (RFC 4616) and LOGIN, as pure functions: base64 and message parsing.
 *
 * Limits: a client response line is at most SASL_LINE_MAX octets of base64
 * (a longer one is an error, never buffered: CHECKLIST E, Exim
 * CVE-2018-6789); decoded identities and passwords at most SASL_FIELD_MAX
 * octets each and never hold NUL.
 */
#ifndef MAILPORT_AUTH_SASL_H
#define MAILPORT_AUTH_SASL_H

#include <stddef.h>

#define SASL_LINE_MAX 12288
#define SASL_FIELD_MAX 1024

enum sasl_err {
	SASL_OK = 0,
	SASL_CANCEL,		/* the client sent "*": 501 5.0.0 */
	SASL_BAD_BASE64,	/* 501 5.5.2 */
	SASL_BAD_MESSAGE,	/* malformed PLAIN message, too long field: 501 5.5.2 */
};

/* sasl_b64_decode - strict base64 (RFC 4648 4, padding required, no
 * whitespace) of s[0..len) into dst (dstsz bytes, NUL-terminated); -1 on
 * bad input or overflow, else the decoded length.  "=" alone decodes to an
 * empty string (RFC 4954 4). */
long sasl_b64_decode(const char *s, size_t len, char *dst, size_t dstsz);

/* sasl_b64_encode - base64 of n bytes into dst (NUL-terminated); -1 if it
 * does not fit */
long sasl_b64_encode(const void *src, size_t n, char *dst, size_t dstsz);

struct sasl_creds {
	char authzid[SASL_FIELD_MAX + 1];	/* "" when not given */
	char authcid[SASL_FIELD_MAX + 1];
	char password[SASL_FIELD_MAX + 1];
};

/* sasl_plain - parse a PLAIN response (base64 of authzid NUL authcid NUL
 * passwd): exactly two NULs, authcid and password non-empty.  A line "*"
 * is SASL_CANCEL.  The password is wiped from every temporary buffer. */
enum sasl_err sasl_plain(const char *line, size_t len, struct sasl_creds *out);

/* sasl_login_field - one LOGIN response (base64 of the user name or of
 * the password) into dst (SASL_FIELD_MAX + 1 bytes); "*" is SASL_CANCEL;
 * an empty field is SASL_BAD_MESSAGE */
enum sasl_err sasl_login_field(const char *line, size_t len, char *dst);

/* sasl_wipe - clear secrets so the compiler cannot drop it */
void sasl_wipe(void *p, size_t n);

#endif

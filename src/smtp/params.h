/* params - ESMTP parameters of MAIL FROM and RCPT TO (pure).
 *
 * Input is the text after the path: zero or more of " KEYWORD[=VALUE]"
 * separated by one or more SP (tabs tolerated).  Keywords are
 * case-insensitive.  Supported on MAIL: SIZE (RFC 1870), BODY=7BIT|8BITMIME
 * (RFC 6152), SMTPUTF8 (RFC 6531, no value), RET=FULL|HDRS and ENVID=xtext
 * (RFC 3461), AUTH=xtext (RFC 4954; "<>" allowed).  On RCPT: NOTIFY=NEVER |
 * comma list of SUCCESS,FAILURE,DELAY (case-insensitive; NEVER alone), and
 * ORCPT=addr-type;xtext (RFC 3461 4.2; addr-type is an atom, e.g. rfc822 or
 * utf-8).
 * Errors: unknown keyword -> PARAM_UNKNOWN (555 5.5.4); a keyword given twice,
 * a missing or malformed value, bad xtext, a decoded ENVID/ORCPT/AUTH holding
 * a control byte (< 0x20 or 0x7f) -> PARAM_SYNTAX (501 5.5.4); SIZE with
 * more digits than fit in 63 bits -> PARAM_TOO_BIG (552 5.3.4) (no
 * overflow ever).  ENVID decoded > 100 octets, ORCPT > 500 octets (as
 * written) -> PARAM_SYNTAX.
 */
#ifndef MAILPORT_SMTP_PARAMS_H
#define MAILPORT_SMTP_PARAMS_H

#include <stddef.h>

enum param_err { PARAM_OK = 0, PARAM_UNKNOWN, PARAM_SYNTAX, PARAM_TOO_BIG };

enum body_type { BODY_NONE = 0, BODY_7BIT, BODY_8BITMIME };
enum dsn_ret { RET_NONE = 0, RET_FULL, RET_HDRS };

enum dsn_notify {
	NOTIFY_NONE = 0,	/* not given */
	NOTIFY_NEVER = 1,
	NOTIFY_SUCCESS = 2,
	NOTIFY_FAILURE = 4,
	NOTIFY_DELAY = 8,
};

#define ENVID_MAX 100
#define ORCPT_MAX 500
#define AUTHPARAM_MAX 500

struct mail_params {
	long long size;		/* -1 when SIZE was not given */
	enum body_type body;
	int smtputf8;
	enum dsn_ret ret;
	int has_envid;
	char envid[ENVID_MAX + 1];	/* decoded; NUL-terminated */
	size_t envid_len;
	int has_auth;
	char auth[AUTHPARAM_MAX + 1];	/* decoded mailbox or "<>" */
	size_t auth_len;
};

struct rcpt_params {
	unsigned notify;		/* dsn_notify bits */
	int has_orcpt;
	char orcpt_type[32];		/* addr-type as written, e.g. "rfc822" */
	char orcpt[ORCPT_MAX + 1];	/* decoded address */
	size_t orcpt_len;
};

/* params_parse_mail - parse MAIL parameters; on error *bad points to the
 * offending keyword inside s (for logging) */
enum param_err params_parse_mail(const char *s, size_t len,
				 struct mail_params *out, const char **bad);

/* params_parse_rcpt - parse RCPT parameters */
enum param_err params_parse_rcpt(const char *s, size_t len,
				 struct rcpt_params *out, const char **bad);

#endif

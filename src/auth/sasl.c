/* sasl - server side of SMTP AUTH (RFC 4954): strict base64 and the
 * PLAIN (RFC 4616) and LOGIN messages, as pure functions.
 *
 * Public: sasl_b64_decode, sasl_b64_encode, sasl_plain, sasl_login_field,
 * sasl_wipe.
 * Invariants: base64 is checked here in full (alphabet, length, padding,
 * canonical trailing bits) before OpenSSL decodes it, because
 * EVP_DecodeBlock alone accepts whitespace and stray '='; the decoded
 * length is computed from the padding, never taken from OpenSSL.  A line
 * longer than SASL_LINE_MAX is refused before any decoding.  Every buffer
 * that held a password is wiped before return, and on failure the output
 * credentials are wiped too.
 */
#include "auth/sasl.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Longest decoded PLAIN message: three fields and two NULs. */
#define PLAIN_MSG_MAX (3 * SASL_FIELD_MAX + 2)

/* b64_val - the 6-bit value of a base64 alphabet character, -1 if none */
static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* b64_check - validate strict base64 (RFC 4648 4); the decoded length or
 * -1.  "=" alone is the empty string (RFC 4954 4). */
static long b64_check(const char *s, size_t len)
{
	size_t i, pad = 0;

	if (len == 0 || (len == 1 && s[0] == '='))
		return 0;
	if (len % 4 != 0 || len > INT_MAX)
		return -1;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (b64_val((unsigned char)s[i]) < 0)
			return -1;
	/* RFC 4648 3.5: the bits after the last octet must be zero */
	if (pad == 2 && (b64_val((unsigned char)s[len - 3]) & 0x0f) != 0)
		return -1;
	if (pad == 1 && (b64_val((unsigned char)s[len - 2]) & 0x03) != 0)
		return -1;
	return (long)(len / 4 * 3 - pad);
}

/* sasl_b64_decode - strict base64 of s[0..len) into dst, NUL-terminated */
long sasl_b64_decode(const char *s, size_t len, char *dst, size_t dstsz)
{
	unsigned char last[3];
	long n = b64_check(s, len);
	size_t body;

	if (n < 0 || dstsz == 0 || (size_t)n >= dstsz)
		return -1;
	if (n == 0 && len <= 1) {
		dst[0] = '\0';
		return 0;
	}
	/* all groups but the last decode in place: they fit in n bytes */
	body = len - 4;
	if (body > 0 && EVP_DecodeBlock((unsigned char *)dst,
					(const unsigned char *)s, (int)body) < 0)
		return -1;
	/* the last group may carry padding: through a 3-byte buffer */
	if (EVP_DecodeBlock(last, (const unsigned char *)s + body, 4) != 3)
		return -1;
	memcpy(dst + body / 4 * 3, last, (size_t)n - body / 4 * 3);
	sasl_wipe(last, sizeof(last));
	dst[n] = '\0';
	return n;
}

/* sasl_b64_encode - base64 of n bytes into dst, NUL-terminated */
long sasl_b64_encode(const void *src, size_t n, char *dst, size_t dstsz)
{
	size_t out;

	if (n > (size_t)INT_MAX / 4 * 3)
		return -1;
	out = (n + 2) / 3 * 4;
	if (dstsz == 0 || out >= dstsz)
		return -1;
	if (n == 0) {
		dst[0] = '\0';
		return 0;
	}
	return EVP_EncodeBlock((unsigned char *)dst, src, (int)n);
}

/* is_cancel - RFC 4954 4: a response of "*" cancels the exchange */
static int is_cancel(const char *line, size_t len)
{
	return len == 1 && line[0] == '*';
}

/* copy_field - copy one PLAIN field of n bytes into a credential slot */
static int copy_field(char *dst, const char *src, size_t n)
{
	if (n > SASL_FIELD_MAX)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* plain_split - RFC 4616 2: authzid NUL authcid NUL passwd, exactly two
 * NULs, authcid and passwd non-empty */
static int plain_split(const char *m, size_t n, struct sasl_creds *out)
{
	const char *nul1, *nul2, *end = m + n;

	nul1 = memchr(m, '\0', n);
	if (!nul1)
		return -1;
	nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
	if (!nul2 || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)))
		return -1;
	if (nul2 == nul1 + 1 || nul2 + 1 == end)
		return -1;
	if (copy_field(out->authzid, m, (size_t)(nul1 - m)) < 0 ||
	    copy_field(out->authcid, nul1 + 1, (size_t)(nul2 - nul1 - 1)) < 0 ||
	    copy_field(out->password, nul2 + 1, (size_t)(end - nul2 - 1)) < 0)
		return -1;
	return 0;
}

/* response_check - what every response line must pass: "*" cancels, the
 * length limit, strict base64 (*n: the decoded length) */
static enum sasl_err response_check(const char *line, size_t len, long *n)
{
	if (is_cancel(line, len))
		return SASL_CANCEL;
	if (len > SASL_LINE_MAX)
		return SASL_BAD_MESSAGE;
	*n = b64_check(line, len);
	return *n < 0 ? SASL_BAD_BASE64 : SASL_OK;
}

/* sasl_plain - parse one PLAIN response line into out */
enum sasl_err sasl_plain(const char *line, size_t len, struct sasl_creds *out)
{
	char msg[PLAIN_MSG_MAX + 1];
	enum sasl_err r = SASL_OK;
	long n;

	sasl_wipe(out, sizeof(*out));
	r = response_check(line, len, &n);
	if (r != SASL_OK)
		return r;
	if (n > PLAIN_MSG_MAX)
		return SASL_BAD_MESSAGE;
	if (sasl_b64_decode(line, len, msg, sizeof(msg)) != n)
		r = SASL_BAD_BASE64;
	else if (plain_split(msg, (size_t)n, out) < 0)
		r = SASL_BAD_MESSAGE;
	sasl_wipe(msg, sizeof(msg));
	if (r != SASL_OK)
		sasl_wipe(out, sizeof(*out));
	return r;
}

/* sasl_login_field - one LOGIN response (user name or password) into dst */
enum sasl_err sasl_login_field(const char *line, size_t len, char *dst)
{
	enum sasl_err r;
	long n;

	dst[0] = '\0';
	r = response_check(line, len, &n);
	if (r != SASL_OK)
		return r;
	if (n == 0 || n > SASL_FIELD_MAX)
		return SASL_BAD_MESSAGE;
	if (sasl_b64_decode(line, len, dst, SASL_FIELD_MAX + 1) != n) {
		sasl_wipe(dst, SASL_FIELD_MAX + 1);
		return SASL_BAD_BASE64;
	}
	if (memchr(dst, '\0', (size_t)n)) {
		sasl_wipe(dst, SASL_FIELD_MAX + 1);
		return SASL_BAD_MESSAGE;
	}
	return SASL_OK;
}

/* sasl_wipe - clear secrets in a way the compiler cannot drop */
void sasl_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

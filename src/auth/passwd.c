/* passwd - create and check crypt(3) password hashes with libcrypt
 * (libxcrypt): yescrypt ("$y$") by default, sha512-crypt ("$6$"), and
 * every other method libcrypt knows when verifying.
 *
 * Public: passwd_hash, passwd_verify, passwd_dummy_verify.
 * Invariants: only the thread-safe crypt_rn and crypt_gensalt_rn are used,
 * with a struct crypt_data on the heap (32 KiB) that is wiped before it is
 * freed; hashes are compared with CRYPTO_memcmp; a NULL, empty, locked
 * ("!", "*") or otherwise unusable hash never matches.  The dummy hash for
 * unknown users is made once (pthread_once) with the same method and cost
 * as passwd_hash's default.
 */
#include "auth/passwd.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* The default method: yescrypt at libcrypt's default cost. */
#define PASSWD_DEFAULT_PREFIX "$y$"

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[CRYPT_OUTPUT_SIZE];

/* crypt_data_new - a zeroed crypt_data ("initialized" must start at 0) */
static struct crypt_data *crypt_data_new(void)
{
	return calloc(1, sizeof(struct crypt_data));
}

/* crypt_data_free - wipe the phrase and hash copies, then free */
static void crypt_data_free(struct crypt_data *cd)
{
	if (!cd)
		return;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
}

/* prefix_ok - only the two methods passwd_hash offers */
static int prefix_ok(const char *prefix)
{
	return strcmp(prefix, "$y$") == 0 || strcmp(prefix, "$6$") == 0;
}

/* passwd_hash - hash password with a fresh random salt into out */
int passwd_hash(const char *password, const char *prefix, char *out, size_t outsz)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int r = -1;

	if (!password || !out || outsz == 0)
		return -1;
	if (!prefix)
		prefix = PASSWD_DEFAULT_PREFIX;
	if (!prefix_ok(prefix))
		return -1;
	/* count 0: the method's default cost; rbytes NULL: OS randomness */
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, (int)sizeof(salt)))
		return -1;
	cd = crypt_data_new();
	if (!cd)
		return -1;
	h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	if (h && h[0] != '*' && strlen(h) < outsz) {
		memcpy(out, h, strlen(h) + 1);
		r = 0;
	}
	crypt_data_free(cd);
	return r;
}

/* hash_usable - can this stored hash ever match? (not NULL, not empty,
 * not locked, not longer than libcrypt can produce) */
static int hash_usable(const char *hash)
{
	size_t n;

	if (!hash || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
		return 0;
	n = strnlen(hash, CRYPT_OUTPUT_SIZE);
	return n < CRYPT_OUTPUT_SIZE;
}

/* check - compute crypt(password, hash) and compare in constant time */
static int check(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	size_t n = strlen(hash);
	int match = 0;

	cd = crypt_data_new();
	if (!cd)
		return 0;
	h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	if (h && h[0] != '*' && strlen(h) == n)
		match = CRYPTO_memcmp(h, hash, n) == 0;
	crypt_data_free(cd);
	return match;
}

/* passwd_verify - 1 if password matches hash, else 0 */
int passwd_verify(const char *password, const char *hash)
{
	if (!password)
		return 0;
	if (!hash_usable(hash)) {
		/* a locked or broken entry costs as much as a real one */
		passwd_dummy_verify(password);
		return 0;
	}
	return check(password, hash);
}

/* dummy_init - make the dummy hash once (a fixed phrase, random salt) */
static void dummy_init(void)
{
	if (passwd_hash("mailport-dummy-password", PASSWD_DEFAULT_PREFIX,
			dummy_hash, sizeof(dummy_hash)) < 0)
		dummy_hash[0] = '\0';
}

/* passwd_dummy_verify - a verification's worth of work for unknown users */
void passwd_dummy_verify(const char *password)
{
	pthread_once(&dummy_once, dummy_init);
	if (password && dummy_hash[0] != '\0')
		(void)check(password, dummy_hash);
}

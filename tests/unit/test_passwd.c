/* test_passwd - unit tests for auth/passwd: yescrypt and sha512-crypt
 * round trips, fixed hashes in the mkpasswd(1) format, wrong passwords,
 * NULL, locked, truncated and garbage hashes, bad prefixes and small
 * buffers, the dummy verification (cost, threads). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "auth/passwd.h"

/* Drepper's SHA-crypt specification, test vector 1. */
#define SHA512_VECTOR "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/" \
	"O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
/* "correct horse" as mkpasswd -m yescrypt writes it (default cost j9T). */
#define YESCRYPT_VECTOR "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$" \
	"zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79"

static void test_yescrypt_roundtrip(void **state)
{
	char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE];

	(void)state;
	assert_int_equal(passwd_hash("s3cret pw", "$y$", h1, sizeof(h1)), 0);
	assert_memory_equal(h1, "$y$j9T$", 7);
	assert_int_equal(passwd_verify("s3cret pw", h1), 1);
	assert_int_equal(passwd_verify("s3cret pW", h1), 0);
	assert_int_equal(passwd_verify("s3cret pw ", h1), 0);
	assert_int_equal(passwd_verify("", h1), 0);
	/* a fresh random salt each time */
	assert_int_equal(passwd_hash("s3cret pw", "$y$", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(passwd_verify("s3cret pw", h2), 1);
}

static void test_sha512_roundtrip(void **state)
{
	char h[CRYPT_OUTPUT_SIZE];

	(void)state;
	assert_int_equal(passwd_hash("p\xc3\xa4ss", "$6$", h, sizeof(h)), 0);
	assert_memory_equal(h, "$6$", 3);
	assert_int_equal(passwd_verify("p\xc3\xa4ss", h), 1);
	assert_int_equal(passwd_verify("pass", h), 0);
}

static void test_default_prefix(void **state)
{
	char h[CRYPT_OUTPUT_SIZE];

	(void)state;
	assert_int_equal(passwd_hash("x", NULL, h, sizeof(h)), 0);
	assert_memory_equal(h, "$y$", 3);
	assert_int_equal(passwd_verify("x", h), 1);
}

static void test_fixed_vectors(void **state)
{
	(void)state;
	assert_int_equal(passwd_verify("Hello world!", SHA512_VECTOR), 1);
	assert_int_equal(passwd_verify("Hello world", SHA512_VECTOR), 0);
	assert_int_equal(passwd_verify("correct horse", YESCRYPT_VECTOR), 1);
	assert_int_equal(passwd_verify("correct horsE", YESCRYPT_VECTOR), 0);
}

static void test_bad_hash_args(void **state)
{
	char h[CRYPT_OUTPUT_SIZE];

	(void)state;
	assert_int_equal(passwd_hash("x", "$1$", h, sizeof(h)), -1);
	assert_int_equal(passwd_hash("x", "", h, sizeof(h)), -1);
	assert_int_equal(passwd_hash("x", "$y", h, sizeof(h)), -1);
	assert_int_equal(passwd_hash("x", "garbage", h, sizeof(h)), -1);
	assert_int_equal(passwd_hash(NULL, "$y$", h, sizeof(h)), -1);
	assert_int_equal(passwd_hash("x", "$y$", NULL, sizeof(h)), -1);
	/* a yescrypt hash is 73 characters: 20 bytes cannot hold it */
	assert_int_equal(passwd_hash("x", "$y$", h, 20), -1);
	assert_int_equal(passwd_hash("x", "$y$", h, 0), -1);
}

static void test_unusable_hashes(void **state)
{
	static const char *const bad[] = {
		"", "*", "!", "!" YESCRYPT_VECTOR, "*" YESCRYPT_VECTOR,
		"garbage", "$y$", "$6$", "$y$j9T$", "$6$saltstring$",
		"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU7",
		"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU7A",
		"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79x",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/",
		"$2b$05$garbagegarbagegarbagegarbagegarbagegarbagegarbagegar",
		"$zz$unknown$method",
	};
	char longhash[CRYPT_OUTPUT_SIZE + 10];
	size_t i;

	(void)state;
	assert_int_equal(passwd_verify("correct horse", NULL), 0);
	assert_int_equal(passwd_verify(NULL, YESCRYPT_VECTOR), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (passwd_verify("correct horse", bad[i]) != 0)
			fail_msg("matched against \"%s\"", bad[i]);
	/* garbage hashes never match the empty password either */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(passwd_verify("", bad[i]), 0);
	/* longer than libcrypt can ever produce */
	memset(longhash, 'a', sizeof(longhash) - 1);
	memcpy(longhash, YESCRYPT_VECTOR, strlen(YESCRYPT_VECTOR));
	longhash[sizeof(longhash) - 1] = '\0';
	assert_int_equal(passwd_verify("correct horse", longhash), 0);
}

static void test_long_passwords(void **state)
{
	char pw[600], h[CRYPT_OUTPUT_SIZE];

	(void)state;
	/* libcrypt takes passphrases of up to CRYPT_MAX_PASSPHRASE_SIZE - 1 */
	memset(pw, 'l', sizeof(pw));
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 1] = '\0';
	assert_int_equal(passwd_hash(pw, "$y$", h, sizeof(h)), 0);
	assert_int_equal(passwd_verify(pw, h), 1);
	/* one byte more: cannot be hashed and never matches */
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 1] = 'l';
	pw[CRYPT_MAX_PASSPHRASE_SIZE] = '\0';
	assert_int_equal(passwd_hash(pw, "$6$", h, sizeof(h)), -1);
	assert_int_equal(passwd_verify(pw, YESCRYPT_VECTOR), 0);
	passwd_dummy_verify(pw);
}

/* seconds - a monotonic clock reading */
static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_dummy_cost(void **state)
{
	double t, real = 1e9, dummy = 1e9;
	int i;

	(void)state;
	passwd_dummy_verify("warm-up");		/* the one-time set-up */
	passwd_dummy_verify(NULL);
	for (i = 0; i < 3; i++) {
		t = seconds();
		assert_int_equal(passwd_verify("wrong", YESCRYPT_VECTOR), 0);
		t = seconds() - t;
		real = t < real ? t : real;
		t = seconds();
		passwd_dummy_verify("wrong");
		t = seconds() - t;
		dummy = t < dummy ? t : dummy;
	}
	/* same method and cost: within a generous factor of each other */
	if (dummy < real / 4 || dummy > real * 4)
		fail_msg("dummy %.4fs vs real %.4fs", dummy, real);
}

/* verify_thread - verification and dummy runs from many threads at once */
static void *verify_thread(void *arg)
{
	long ok = 1;

	(void)arg;
	passwd_dummy_verify("nobody");
	if (passwd_verify("correct horse", YESCRYPT_VECTOR) != 1)
		ok = 0;
	if (passwd_verify("Hello world!", SHA512_VECTOR) != 1)
		ok = 0;
	if (passwd_verify("wrong", YESCRYPT_VECTOR) != 0)
		ok = 0;
	return (void *)ok;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	void *res;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, verify_thread,
						NULL), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_true(res == (void *)1L);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_yescrypt_roundtrip),
		cmocka_unit_test(test_sha512_roundtrip),
		cmocka_unit_test(test_default_prefix),
		cmocka_unit_test(test_fixed_vectors),
		cmocka_unit_test(test_bad_hash_args),
		cmocka_unit_test(test_unusable_hashes),
		cmocka_unit_test(test_long_passwords),
		cmocka_unit_test(test_dummy_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_local - Maildir delivery: content and CRLF -> LF across 64 KiB
 * block boundaries, deterministic names and idempotent redelivery, crash
 * leftovers in tmp/, unsafe names, failures leave nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/local.h"
#include "smtp/addr.h"
#include "testutil.h"

#define ARRIVAL 1700000000LL
#define QID "0AbCdEfGhIjK00"

struct fx {
	char dir[128];
	int mail_fd;
	int qfd;
	struct local_msg m;
};

/* setup - a temp dir with mail/ and an empty queue file */
static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char p[256];

	assert_non_null(x);
	tu_tmpdir(x->dir, sizeof(x->dir));
	tu_path(p, sizeof(p), x->dir, "mail");
	assert_int_equal(mkdir(p, 0700), 0);
	x->mail_fd = open(p, O_RDONLY | O_DIRECTORY);
	assert_true(x->mail_fd >= 0);
	tu_path(p, sizeof(p), x->dir, "qf");
	x->qfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(x->qfd >= 0);
	x->m.fd = x->qfd;
	x->m.qid = QID;
	x->m.arrival = ARRIVAL;
	x->m.sender = "bob@example.net";
	*state = x;
	return 0;
}

/* teardown - remove the temp dir */
static int teardown(void **state)
{
	struct fx *x = *state;

	close(x->mail_fd);
	close(x->qfd);
	tu_rm_rf(x->dir);
	free(x);
	return 0;
}

/* put_msg - store body between a prefix and a trailer-like suffix, so the
 * offset and length must be honoured */
static void put_msg(struct fx *x, const char *body, size_t n)
{
	static const char pre[] = "ENVELOPE\r\n.\n", post[] = "\nMPQ-END junk\r\n";

	assert_int_equal(ftruncate(x->qfd, 0), 0);
	assert_int_equal(pwrite(x->qfd, pre, sizeof(pre) - 1, 0), sizeof(pre) - 1);
	assert_int_equal(pwrite(x->qfd, body, n, sizeof(pre) - 1), (ssize_t)n);
	assert_int_equal(pwrite(x->qfd, post, sizeof(post) - 1,
				(off_t)(sizeof(pre) - 1 + n)), sizeof(post) - 1);
	x->m.offset = sizeof(pre) - 1;
	x->m.length = (off_t)n;
}

/* expect_file - new/<name> holds the headers plus want[0..n) */
static void expect_file(struct fx *x, const char *path, const char *rcpt,
			const char *want, size_t n)
{
	char hdr[256];
	size_t hl, got_n;
	char *got = tu_slurp_at(x->mail_fd, path, &got_n);

	hl = (size_t)snprintf(hdr, sizeof(hdr),
			      "Return-Path: <%s>\nDelivered-To: %s\n",
			      x->m.sender, rcpt);
	assert_int_equal(got_n, hl + n);
	assert_memory_equal(got, hdr, hl);
	assert_memory_equal(got + hl, want, n);
	free(got);
}

/* reference_lf - the expected conversion: CR LF -> LF, other CRs kept */
static char *reference_lf(const char *in, size_t n, size_t *outn)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	assert_non_null(o);
	for (i = 0; i < n; i++)
		if (!(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n'))
			o[k++] = in[i];
	*outn = k;
	return o;
}

#define NAME0 "1700000000." QID "_0.mx.example"
#define PATH0 "example.org/alice/new/" NAME0

/* test_name_safe - the path component rules */
static void test_name_safe(void **state)
{
	(void)state;
	assert_true(addr_mailbox_safe("alice"));
	assert_true(addr_mailbox_safe("a.b-c_d+e"));
	assert_true(addr_mailbox_safe("\xc3\xbc"));
	assert_false(addr_mailbox_safe(NULL));
	assert_false(addr_mailbox_safe(""));
	assert_false(addr_mailbox_safe("."));
	assert_false(addr_mailbox_safe(".."));
	assert_false(addr_mailbox_safe(".hidden"));
	assert_false(addr_mailbox_safe("a/b"));
	assert_false(addr_mailbox_safe("/"));
	assert_false(addr_mailbox_safe("a\nb"));
	assert_false(addr_mailbox_safe("a\rb"));
	assert_false(addr_mailbox_safe("a\x01"));
	assert_false(addr_mailbox_safe("a\x7f"));
}

/* test_basic - headers, LF lines, the Maildir tree and modes */
static void test_basic(void **state)
{
	static const char body[] = "Subject: x\r\n\r\nhello\r\nbare\rcr\r\n";
	static const char want[] = "Subject: x\n\nhello\nbare\rcr\n";
	struct fx *x = *state;
	char why[128] = "";
	struct stat st;

	put_msg(x, body, sizeof(body) - 1);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 0, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	expect_file(x, PATH0, "alice@example.org", want, sizeof(want) - 1);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/tmp"), 0);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/new"), 1);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/cur"), 0);
	assert_int_equal(fstatat(x->mail_fd, PATH0, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fstatat(x->mail_fd, "example.org/alice", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

/* test_empty - an empty message still gets its headers; null sender */
static void test_empty(void **state)
{
	struct fx *x = *state;
	char why[128];

	x->m.sender = "";
	put_msg(x, "", 0);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 0, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	expect_file(x, PATH0, "alice@example.org", "", 0);
}

/* test_blocks - CRLF split by a 64 KiB block boundary, lone CRs at and
 * around boundaries, a final lone CR */
static void test_blocks(void **state)
{
	struct fx *x = *state;
	size_t n = 3 * 65536 + 1000, i, wn;
	char *body = malloc(n), *want, why[128];

	assert_non_null(body);
	for (i = 0; i < n; i++)
		body[i] = (i % 70 == 68) ? '\r' : (i % 70 == 69) ? '\n' : 'a' + i % 26;
	body[65535] = '\r';		/* CR | LF across the first boundary */
	body[65536] = '\n';
	body[131071] = '\r';		/* lone CR ending a block */
	body[131072] = 'x';
	body[196607] = '\r';		/* CR | CR LF */
	body[196608] = '\r';
	body[196609] = '\n';
	body[n - 1] = '\r';		/* final lone CR */
	want = reference_lf(body, n, &wn);
	put_msg(x, body, n);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 0, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	expect_file(x, PATH0, "alice@example.org", want, wn);
	free(body);
	free(want);
}

/* test_idempotent - a second delivery of the same (qid, index) finds the
 * first and writes nothing; another index is another file */
static void test_idempotent(void **state)
{
	static const char body[] = "a\r\n";
	struct fx *x = *state;
	char why[128];
	int i;

	put_msg(x, body, 3);
	for (i = 0; i < 2; i++)
		assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
					       "alice@example.org", 0, &x->m,
					       "mx.example", why, sizeof(why)),
				 DELIVER_OK);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/new"), 1);
	put_msg(x, "changed\r\n", 9);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 0, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	expect_file(x, PATH0, "alice@example.org", "a\n", 2);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alias@example.org", 1, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/new"), 2);
	expect_file(x, "example.org/alice/new/1700000000." QID "_1.mx.example",
		    "alias@example.org", "changed\n", 8);
}

/* test_leftover_tmp - a tmp/ file left by a crash is replaced */
static void test_leftover_tmp(void **state)
{
	struct fx *x = *state;
	char why[128];
	int fd;

	assert_int_equal(mkdirat(x->mail_fd, "example.org", 0700), 0);
	assert_int_equal(mkdirat(x->mail_fd, "example.org/alice", 0700), 0);
	assert_int_equal(mkdirat(x->mail_fd, "example.org/alice/tmp", 0700), 0);
	fd = openat(x->mail_fd, "example.org/alice/tmp/" NAME0,
		    O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half-written junk that is longer", 32), 32);
	close(fd);
	put_msg(x, "ok\r\n", 4);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 0, &x->m, "mx.example",
				       why, sizeof(why)), DELIVER_OK);
	expect_file(x, PATH0, "alice@example.org", "ok\n", 3);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/tmp"), 0);
}

/* test_hostname - '/' and ':' in the host name are escaped */
static void test_hostname(void **state)
{
	struct fx *x = *state;
	char why[128];
	struct stat st;

	put_msg(x, "ok\r\n", 4);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "alice@example.org", 7, &x->m, "a/b:c",
				       why, sizeof(why)), DELIVER_OK);
	assert_int_equal(fstatat(x->mail_fd, "example.org/alice/new/1700000000."
				 QID "_7.a\\057b\\072c", &st, 0), 0);
}

/* test_unsafe - unsafe names and addresses: DELIVER_PERM, nothing made */
static void test_unsafe(void **state)
{
	static const char *const bad[][2] = {
		{ "../x", "alice" }, { "", "alice" }, { ".hidden", "alice" },
		{ "a/b", "alice" }, { "example.org", ".." }, { "example.org", "" },
		{ "example.org", "a/../../b" }, { "example.org", "a\nb" },
	};
	struct fx *x = *state;
	char why[128];
	size_t i;

	put_msg(x, "ok\r\n", 4);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(local_deliver(x->mail_fd, bad[i][0], bad[i][1],
					       "a@b", 0, &x->m, "h", why,
					       sizeof(why)), DELIVER_PERM);
		assert_true(why[0] != '\0');
	}
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "a@b\nX-Evil: 1", 0, &x->m, "h", why,
				       sizeof(why)), DELIVER_PERM);
	x->m.sender = "a@b\r\nX-Evil: 1";
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "a@b", 0, &x->m, "h", why, sizeof(why)),
			 DELIVER_PERM);
	x->m.sender = "a@b";
	x->m.qid = "../../x";
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "a@b", 0, &x->m, "h", why, sizeof(why)),
			 DELIVER_PERM);
	assert_int_equal(tu_count_dir(x->mail_fd, "."), 0);
}

/* test_short_source - a queue file shorter than announced: temporary
 * failure, no file left in tmp/ or new/ */
static void test_short_source(void **state)
{
	struct fx *x = *state;
	char why[128] = "";

	put_msg(x, "ok\r\n", 4);
	x->m.length = 1 << 20;
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "a@b", 0, &x->m, "h", why, sizeof(why)),
			 DELIVER_TEMP);
	assert_true(why[0] != '\0');
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/tmp"), 0);
	assert_int_equal(tu_count_dir(x->mail_fd, "example.org/alice/new"), 0);
}

/* test_not_a_dir - the domain path is a file (or a symlink): temporary */
static void test_not_a_dir(void **state)
{
	struct fx *x = *state;
	char why[128] = "";
	int fd = openat(x->mail_fd, "example.org", O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	close(fd);
	put_msg(x, "ok\r\n", 4);
	assert_int_equal(local_deliver(x->mail_fd, "example.org", "alice",
				       "a@b", 0, &x->m, "h", why, sizeof(why)),
			 DELIVER_TEMP);
	assert_true(why[0] != '\0');
	assert_int_equal(symlinkat("/tmp", x->mail_fd, "evil.example"), 0);
	assert_int_equal(local_deliver(x->mail_fd, "evil.example", "alice",
				       "a@b", 0, &x->m, "h", why, sizeof(why)),
			 DELIVER_TEMP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_safe),
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cfiles - unit tests for conf/cfiles: what the privileged parent
 * records (the config, the tables, the smarthost password, the TLS pair)
 * is enough for the worker to load the same config with no file opened;
 * a file that was not recorded does not exist for the worker; failed
 * reads travel as their errno; the size and count limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conf/cfiles.h"
#include "conf/config.h"
#include "conf/tables.h"
#include "tls/tlsctx.h"
#include "testutil.h"


/* write_config - a config naming users, aliases, a smarthost password and
 * a self-made TLS pair in dir; its path into conf */
static void write_config(char *conf)
{
	char users[PATH_MAX], aliases[PATH_MAX], pw[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char text[6 * PATH_MAX];
	buf_t err;

	tu_write_file(tu_path(users, sizeof(users), tu_dir, "users"), "alice@example.org\n");
	tu_write_file(tu_path(aliases, sizeof(aliases), tu_dir, "aliases"), "postmaster: alice\n");
	tu_write_file_mode(tu_path(pw, sizeof(pw), tu_dir, "pw"), "s3cret\n", 0600);
	tu_path(cert, sizeof(cert), tu_dir, "cert.pem");
	tu_path(key, sizeof(key), tu_dir, "key.pem");
	buf_init(&err);
	assert_int_equal(tls_selfsigned(cert, key, "mx.example.org", &err), 0);
	buf_free(&err);
	snprintf(text, sizeof(text),
		 "[server]\nhostname = mx.example.org\n"
		 "[local]\ndomains = example.org\nusers = %s\naliases = %s\n"
		 "[relay]\nsmarthost = [192.0.2.1]:587\nsmarthost_auth = bob:%s\n"
		 "[tls]\ncert = %s\nkey = %s\n",
		 users, aliases, pw, cert, key);
	tu_write_file(tu_path(conf, PATH_MAX, tu_dir, "mailport.conf"), text);
}

/* record - load conf from disk, recording into s */
static struct config *record(struct cfiles *s, const char *conf)
{
	struct config *c;
	buf_t err;

	cfiles_init(s);
	s->record = 1;
	buf_init(&err);
	c = config_load_from(s, conf, &err);
	if (c && config_load_tls_from(c, s, &err) < 0) {
		config_unref(c);
		c = NULL;
	}
	if (!c)
		fail_msg("record: %s", err.data ? err.data : "");
	buf_free(&err);
	return c;
}

/* test_replay_same_config - the worker's load from the recorded bytes
 * equals the parent's from disk, with the files gone from disk */
static void test_replay_same_config(void **state)
{
	char conf[PATH_MAX], users[PATH_MAX];
	struct cfiles s;
	struct config *a, *b;
	size_t n = 0;
	buf_t err;

	(void)state;
	write_config(conf);
	a = record(&s, conf);
	assert_int_equal(s.n, 6);	/* conf, users, aliases, pw, cert, key */
	tu_rm_rf(tu_dir);			/* nothing left to open */
	mkdir(tu_dir, 0700);
	s.record = 0;
	buf_init(&err);
	b = config_load_from(&s, conf, &err);
	assert_non_null(b);
	assert_int_equal(config_load_tls_from(b, &s, &err), 0);
	assert_non_null(b->tls_ctx);
	assert_string_equal(b->hostname, a->hostname);
	assert_string_equal(b->smarthost_password, "s3cret");
	tu_path(users, sizeof(users), tu_dir, "users");
	assert_true(users_exists(b->users, "alice@example.org"));
	assert_false(users_exists(b->users, "bob@example.org"));
	assert_non_null(aliases_lookup(b->aliases, "postmaster", "example.org", &n));
	assert_int_equal(n, 1);
	config_unref(a);
	config_unref(b);
	cfiles_free(&s);
	buf_free(&err);
}

/* test_replay_missing - a file the parent did not send does not exist */
static void test_replay_missing(void **state)
{
	struct cfiles s;
	char *data;
	size_t len;
	FILE *f;

	(void)state;
	cfiles_init(&s);
	errno = 0;
	assert_int_equal(cfiles_get(&s, "/etc/passwd", &data, &len), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(cfiles_open(&s, "/etc/passwd"));
	assert_int_equal(cfiles_add(&s, "/x/key.pem", EACCES, NULL, 0), 0);
	f = cfiles_open(&s, "/x/key.pem");
	assert_null(f);
	assert_int_equal(errno, EACCES);
	cfiles_free(&s);
}

/* test_record_error - a read failure is recorded with its errno, and the
 * replayed load reports it as the disk load did */
static void test_record_error(void **state)
{
	char conf[PATH_MAX], users[PATH_MAX], text[2 * PATH_MAX];
	struct cfiles s;
	const struct cfile *f;
	buf_t e1, e2;

	(void)state;
	tu_path(users, sizeof(users), tu_dir, "missing-users");
	snprintf(text, sizeof(text), "[local]\nusers = %s\n", users);
	tu_write_file(tu_path(conf, sizeof(conf), tu_dir, "mailport.conf"), text);
	cfiles_init(&s);
	s.record = 1;
	buf_init(&e1);
	buf_init(&e2);
	assert_null(config_load_from(&s, conf, &e1));
	f = cfiles_find(&s, users);
	assert_non_null(f);
	assert_int_equal(f->err, ENOENT);
	s.record = 0;
	assert_null(config_load_from(&s, conf, &e2));
	assert_string_equal(e1.data, e2.data);
	cfiles_free(&s);
	buf_free(&e1);
	buf_free(&e2);
}

/* test_copy_keeps_old_bytes - cfiles_copy (the parent keeping the old TLS
 * pair under the new config's names) */
static void test_copy_keeps_old_bytes(void **state)
{
	struct cfiles a, b;
	const struct cfile *f;

	(void)state;
	cfiles_init(&a);
	cfiles_init(&b);
	assert_int_equal(cfiles_add(&a, "/old/key.pem", 0, "OLD", 3), 0);
	assert_int_equal(cfiles_add(&b, "/new/key.pem", EACCES, NULL, 0), 0);
	assert_int_equal(cfiles_copy(&b, &a, "/old/key.pem", "/new/key.pem"), 0);
	f = cfiles_find(&b, "/new/key.pem");
	assert_non_null(f);
	assert_int_equal(f->err, 0);
	assert_int_equal(f->len, 3);
	assert_memory_equal(f->data, "OLD\0", 4);
	assert_int_equal(b.n, 1);
	assert_int_equal(cfiles_copy(&b, &a, "/nowhere", "/new/cert.pem"), 0);
	assert_int_equal(cfiles_find(&b, "/new/cert.pem")->err, ENOENT);
	cfiles_free(&a);
	cfiles_free(&b);
}

/* test_limits - at most CFILES_MAX files; no directories, no huge files */
static void test_limits(void **state)
{
	struct cfiles s;
	char name[32], big[PATH_MAX], *data;
	size_t len, i;
	int fd;

	(void)state;
	cfiles_init(&s);
	for (i = 0; i < CFILES_MAX; i++) {
		snprintf(name, sizeof(name), "/f%zu", i);
		assert_int_equal(cfiles_add(&s, name, 0, "x", 1), 0);
	}
	assert_int_equal(cfiles_add(&s, "/one-more", 0, "x", 1), -1);
	assert_int_equal(cfiles_add(&s, "/f0", 0, "yy", 2), 0);	/* replacing is fine */
	assert_int_equal(cfiles_find(&s, "/f0")->len, 2);
	cfiles_free(&s);
	cfiles_init(&s);
	s.record = 1;
	assert_int_equal(cfiles_get(&s, tu_dir, &data, &len), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(cfiles_find(&s, tu_dir)->err, EISDIR);
	/* one byte over the size limit (a sparse file): EFBIG, nothing read */
	tu_path(big, sizeof(big), tu_dir, "big");
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)CFILE_MAX_SIZE + 1), 0);
	close(fd);
	assert_int_equal(cfiles_get(&s, big, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(cfiles_find(&s, big)->err, EFBIG);
	cfiles_free(&s);
}

/* test_empty_file - an empty file replays as an empty stream */
static void test_empty_file(void **state)
{
	struct cfiles s;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	(void)state;
	cfiles_init(&s);
	assert_int_equal(cfiles_add(&s, "/empty", 0, "", 0), 0);
	f = cfiles_open(&s, "/empty");
	assert_non_null(f);
	assert_int_equal(getline(&line, &cap, f), -1);
	fclose(f);
	free(line);
	cfiles_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_same_config, tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test(test_replay_missing),
		cmocka_unit_test_setup_teardown(test_record_error, tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test(test_copy_keeps_old_bytes),
		cmocka_unit_test_setup_teardown(test_limits, tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test(test_empty_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

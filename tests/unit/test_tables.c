/* test_tables - unit tests for conf/tables: the users file and the aliases
 * file (comments, continuations, case, quoting, rejected targets, every
 * error with its line number, several errors in one file, big tables). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/tables.h"
#include "testutil.h"

/* load_users - load text as a users file; errors (if any) go to err */
static int load_users(const char *text, struct users **u, buf_t *err)
{
	char path[256];
	int r;

	tu_tmpfile(path, sizeof(path), text, strlen(text));
	r = users_load(path, u, err);
	unlink(path);
	return r;
}

/* load_aliases - load text as an aliases file */
static int load_aliases(const char *text, struct aliases **a, buf_t *err)
{
	char path[256];
	int r;

	tu_tmpfile(path, sizeof(path), text, strlen(text));
	r = aliases_load(path, a, err);
	unlink(path);
	return r;
}

/* errors_without_paths - the error text with every "<path>:" removed */
static char *errors_without_paths(const buf_t *err)
{
	char *out = calloc(1, err->len + 1), *o = out;
	const char *s = err->data ? err->data : "";

	assert_non_null(out);
	while (*s) {
		const char *colon = strchr(s, ':'), *nl = strchr(s, '\n');

		assert_non_null(colon);
		assert_non_null(nl);
		memcpy(o, colon + 1, (size_t)(nl + 1 - colon - 1));
		o += nl + 1 - colon - 1;
		s = nl + 1;
	}
	return out;
}

/* expect_users_errors - loading text fails with exactly these messages
 * ("line: message\n" each, the path stripped) */
static void expect_users_errors(const char *text, const char *want)
{
	struct users *u = (struct users *)1;
	buf_t err;
	char *got;

	buf_init(&err);
	assert_int_equal(load_users(text, &u, &err), -1);
	assert_null(u);
	got = errors_without_paths(&err);
	assert_string_equal(got, want);
	free(got);
	buf_free(&err);
}

/* expect_aliases_errors - same, for an aliases file */
static void expect_aliases_errors(const char *text, const char *want)
{
	struct aliases *a = (struct aliases *)1;
	buf_t err;
	char *got;

	buf_init(&err);
	assert_int_equal(load_aliases(text, &a, &err), -1);
	assert_null(a);
	got = errors_without_paths(&err);
	assert_string_equal(got, want);
	free(got);
	buf_free(&err);
}

/* ---- users ---- */

static void test_users_basic(void **state)
{
	struct users *u;
	buf_t err;

	(void)state;
	buf_init(&err);
	assert_int_equal(load_users(
		"# users\n"
		"\n"
		"alice@example.test\n"
		"   \n"
		"Bob@Example.TEST:$6$salt$hash\r\n"
		"  # indented comment\n"
		"carol@example.net : $y$j9T$abc$def  \n"
		"last@example.test", &u, &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(users_count(u), 4);
	assert_true(users_exists(u, "alice@example.test"));
	assert_true(users_exists(u, "ALICE@example.TEST"));
	assert_true(users_exists(u, "bob@example.test"));
	assert_true(users_exists(u, "last@example.test"));
	assert_false(users_exists(u, "alice@example.net"));
	assert_false(users_exists(u, "alice"));
	assert_null(users_hash(u, "alice@example.test"));
	assert_string_equal(users_hash(u, "BOB@example.test"), "$6$salt$hash");
	assert_string_equal(users_hash(u, "carol@example.net"), "$y$j9T$abc$def");
	assert_null(users_hash(u, "nobody@example.test"));
	users_free(u);
	buf_free(&err);
}

static void test_users_null(void **state)
{
	(void)state;
	assert_false(users_exists(NULL, "a@b"));
	assert_null(users_hash(NULL, "a@b"));
	assert_int_equal(users_count(NULL), 0);
	users_free(NULL);
}

static void test_users_errors(void **state)
{
	(void)state;
	expect_users_errors(
		"good@example.test\n"
		"no-at-sign\n"
		"# fine\n"
		"Good@example.test\n"
		"two words@example.test\n"
		"@example.test\n"
		"user@\n"
		"empty@hash.test:\n"
		"space@hash.test:$6$a b\n"
		"colon@hash.test:$6$a:b\n"
		"ok@example.test:$6$x\n"
		"a<b>@example.test\n",
		"2: address 'no-at-sign': not an address (local@domain)\n"
		"4: duplicate address 'good@example.test'\n"
		"5: address 'two words@example.test': contains whitespace or control characters\n"
		"6: address '@example.test': empty local part or domain\n"
		"7: address 'user@': empty local part or domain\n"
		"8: bad password hash for 'empty@hash.test'\n"
		"9: bad password hash for 'space@hash.test'\n"
		"10: bad password hash for 'colon@hash.test'\n"
		"12: address 'a<b>@example.test': contains a character that would need quoting\n");
}

static void test_users_limits(void **state)
{
	char line[400], want[400], x[66];

	(void)state;
	memset(x, 'x', 65);
	x[65] = '\0';
	snprintf(line, sizeof(line), "%s@example.test\n", x);
	snprintf(want, sizeof(want), "1: address '%s@example.test': local "
		 "part too long\n", x);
	expect_users_errors(line, want);
	snprintf(line, sizeof(line), "%s%s@example.test\n", x, x);
	snprintf(want, sizeof(want), "1: address '%s%.15s...': local "
		 "part too long\n", x, x);
	expect_users_errors(line, want);
	expect_users_errors("a\001b@example.test\n",
		"1: address 'a\\x01b@example.test': contains whitespace or control characters\n");
}

static void test_users_control_and_nul(void **state)
{
	static const char text[] = "a@b.test\nx\0y@b.test\nc@b.test\n";
	char path[256];
	struct users *u;
	buf_t err;
	char *got;

	(void)state;
	buf_init(&err);
	tu_tmpfile(path, sizeof(path), text, sizeof(text) - 1);
	assert_int_equal(users_load(path, &u, &err), -1);
	unlink(path);
	got = errors_without_paths(&err);
	assert_string_equal(got, "2: NUL byte in line\n");
	free(got);
	buf_free(&err);
}

static void test_users_long_lines(void **state)
{
	size_t big = 70000, i;
	char *text = malloc(2 * big + 200), *p = text;
	struct users *u;
	buf_t err;
	char *got;

	(void)state;
	assert_non_null(text);
	p += sprintf(p, "a@example.test\n#");
	for (i = 0; i < 60000; i++)	/* long but allowed: a comment */
		*p++ = 'c';
	p += sprintf(p, "\nb@example.test\n#");
	for (i = 0; i < big; i++)	/* too long, even as a comment */
		*p++ = 'c';
	p += sprintf(p, "\nc@example.test\n");
	buf_init(&err);
	assert_int_equal(load_users(text, &u, &err), -1);
	got = errors_without_paths(&err);
	assert_string_equal(got, "4: line too long (more than 65536 bytes)\n");
	free(got);
	free(text);
	buf_free(&err);
}

static void test_users_missing_file(void **state)
{
	struct users *u = (struct users *)1;
	buf_t err;

	(void)state;
	buf_init(&err);
	assert_int_equal(users_load("/nonexistent/mailport-users", &u, &err), -1);
	assert_null(u);
	assert_string_equal(err.data, "/nonexistent/mailport-users: cannot open: "
			    "No such file or directory\n");
	buf_free(&err);
}

static void test_users_many(void **state)
{
	enum { N = 100000 };
	buf_t text, err;
	struct users *u;
	char addr[64];
	size_t i;

	(void)state;
	buf_init(&text);
	buf_init(&err);
	for (i = 0; i < N; i++)
		assert_int_equal(buf_printf(&text, "User%zu@Example.test:$6$h%zu\n",
					    i, i), 0);
	assert_int_equal(load_users(text.data, &u, &err), 0);
	assert_int_equal(users_count(u), N);
	for (i = 0; i < N; i += 997) {
		snprintf(addr, sizeof(addr), "user%zu@example.TEST", i);
		assert_true(users_exists(u, addr));
	}
	assert_string_equal(users_hash(u, "user99999@example.test"), "$6$h99999");
	assert_false(users_exists(u, "user100000@example.test"));
	users_free(u);
	buf_free(&text);
	buf_free(&err);
}

static void test_users_too_many_errors(void **state)
{
	buf_t text, err;
	size_t i, lines = 0;
	struct users *u;

	(void)state;
	buf_init(&text);
	buf_init(&err);
	for (i = 0; i < 1000; i++)
		buf_puts(&text, "bad\n");
	assert_int_equal(load_users(text.data, &u, &err), -1);
	for (i = 0; i < err.len; i++)
		lines += err.data[i] == '\n';
	assert_int_equal(lines, 100);
	assert_non_null(strstr(err.data, ":100: too many errors, giving up\n"));
	buf_free(&text);
	buf_free(&err);
}

/* ---- aliases ---- */

/* targets_are - the lookup gives exactly the NULL-terminated list want */
static void targets_are(const struct aliases *a, const char *local,
			const char *domain, const char *const *want)
{
	const char *const *got;
	size_t n, i;

	got = aliases_lookup(a, local, domain, &n);
	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		assert_true(i < n);
		assert_string_equal(got[i], want[i]);
	}
	assert_int_equal(n, i);
}

static void test_aliases_basic(void **state)
{
	static const char *const pm[] = { "root", NULL };
	static const char *const staff[] = { "alice", "bob@example.net",
					     "carol", "Dave", NULL };
	static const char *const sales[] = { "eve@example.org", NULL };
	static const char *const generic[] = { "frank", NULL };
	static const char *const x[] = { "x", NULL };
	struct aliases *a;
	buf_t err;
	size_t n = 99;

	(void)state;
	buf_init(&err);
	assert_int_equal(load_aliases(
		"# system aliases\n"
		"postmaster: root\n"
		"\n"
		"Staff: alice, bob@example.net,\n"
		"  carol\n"
		"# a comment inside the entry\n"
		"\t\"Dave\", ALICE, carol\n"
		"sales@example.test: eve@example.org\r\n"
		"sales: frank\n"
		"empty-later:\n"
		"  x\n", &a, &err), 0);
	assert_int_equal(err.len, 0);
	targets_are(a, "postmaster", "example.test", pm);
	targets_are(a, "POSTMASTER", NULL, pm);
	targets_are(a, "staff", "example.test", staff);
	targets_are(a, "sales", "Example.Test", sales);
	targets_are(a, "sales", "example.net", generic);
	targets_are(a, "sales", "", generic);
	assert_null(aliases_lookup(a, "nobody", "example.test", &n));
	assert_int_equal(n, 0);
	assert_null(aliases_lookup(NULL, "x", "y", &n));
	assert_non_null(aliases_lookup(a, "Staff", NULL, NULL));
	targets_are(a, "empty-later", NULL, x);
	aliases_free(a);
	aliases_free(NULL);
	buf_free(&err);
}

static void test_aliases_quotes(void **state)
{
	static const char *const want[] = { "a", "b@example.test", "c", NULL };
	struct aliases *a;
	buf_t err;

	(void)state;
	buf_init(&err);
	assert_int_equal(load_aliases(
		"list: \"a\",\"b@example.test\" , \"c\"\n", &a, &err), 0);
	targets_are(a, "list", NULL, want);
	aliases_free(a);
	buf_free(&err);
}

static void test_aliases_rejected_targets(void **state)
{
	(void)state;
	expect_aliases_errors(
		"cmd: |/usr/bin/procmail\n"
		"qcmd: \"|/usr/bin/vacation -a x\"\n"
		"file: /var/mail/archive\n"
		"qfile: \"/tmp/x\"\n"
		"inc: :include:/etc/mail/list\n"
		"inc2: :INCLUDE:/etc/mail/list\n"
		"mixed: alice,\n"
		"  |/bin/sh\n",
		"1: alias target '|/usr/bin/procmail': delivery to a command is not supported\n"
		"2: alias target '|/usr/bin/vacation -a x': delivery to a command is not supported\n"
		"3: alias target '/var/mail/archive': delivery to a file is not supported\n"
		"4: alias target '/tmp/x': delivery to a file is not supported\n"
		"5: alias target ':include:/etc/mail/list': :include: lists are not supported\n"
		"6: alias target ':INCLUDE:/etc/mail/list': :include: lists are not supported\n"
		"8: alias target '|/bin/sh': delivery to a command is not supported\n");
}

static void test_aliases_errors(void **state)
{
	(void)state;
	expect_aliases_errors(
		"  leading: continuation\n"
		"good: a\n"
		"no colon here\n"
		"  ignored, after the broken line\n"
		": nobody\n"
		"two words: a\n"
		"ws: a b, c\n"
		"ctl: a\001b\n"
		"notargets:\n"
		"# comment\n"
		"GOOD: b\n"
		"quote: \"abc\n"
		"quote2: \"abc\"def\n"
		"empty: \"\"\n"
		"at: user@, @dom\n"
		"name@: x\n",
		"1: continuation line without an alias entry\n"
		"3: missing ':' after the alias name\n"
		"5: alias name '': empty\n"
		"6: alias name 'two words': contains whitespace or control characters\n"
		"7: alias target 'a b': contains whitespace or control characters\n"
		"8: alias target 'a\\x01b': contains whitespace or control characters\n"
		"9: alias 'notargets' has no targets\n"
		"11: duplicate alias 'good'\n"
		"12: bad quoting in alias targets\n"
		"13: bad quoting in alias targets\n"
		"14: alias target '': empty\n"
		"15: alias target 'user@': empty local part or domain\n"
		"15: alias target '@dom': empty local part or domain\n"
		"16: alias name 'name@': empty local part or domain\n");
}

static void test_aliases_missing_file(void **state)
{
	struct aliases *a = (struct aliases *)1;
	buf_t err;

	(void)state;
	buf_init(&err);
	assert_int_equal(aliases_load("/nonexistent/aliases", &a, &err), -1);
	assert_null(a);
	assert_non_null(strstr(err.data, "/nonexistent/aliases: cannot open:"));
	buf_free(&err);
}

static void test_aliases_error_path(void **state)
{
	char path[256];
	struct aliases *a;
	buf_t err;
	char want[384];

	(void)state;
	buf_init(&err);
	tu_tmpfile(path, sizeof(path), "x\n", 2);
	assert_int_equal(aliases_load(path, &a, &err), -1);
	snprintf(want, sizeof(want), "%s:1: missing ':' after the alias name\n",
		 path);
	assert_string_equal(err.data, want);
	unlink(path);
	buf_free(&err);
}

static void test_aliases_many(void **state)
{
	enum { N = 100000 };
	static const char *const last[] = { "t99999", "u99999@example.net", NULL };
	buf_t text, err;
	struct aliases *a;
	size_t i;

	(void)state;
	buf_init(&text);
	buf_init(&err);
	for (i = 0; i < N; i++)
		buf_printf(&text, "name%zu: t%zu,\n u%zu@example.net\n", i, i, i);
	/* one long list: 20000 targets in a single entry, with duplicates,
	 * 1000 a line (one line would be over the 64 KiB limit) */
	buf_puts(&text, "big:");
	for (i = 0; i < 20000; i++)
		buf_printf(&text, "%sm%zu", i == 0 ? " " : i % 1000 ? "," : ",\n ",
			   i % 15000);
	buf_putc(&text, '\n');
	assert_int_equal(load_aliases(text.data, &a, &err), 0);
	targets_are(a, "name99999", "example.test", last);
	assert_non_null(aliases_lookup(a, "big", NULL, &i));
	assert_int_equal(i, 15000);
	assert_string_equal(aliases_lookup(a, "big", NULL, &i)[14999], "m14999");
	aliases_free(a);
	buf_free(&text);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users_basic),
		cmocka_unit_test(test_users_null),
		cmocka_unit_test(test_users_errors),
		cmocka_unit_test(test_users_limits),
		cmocka_unit_test(test_users_control_and_nul),
		cmocka_unit_test(test_users_long_lines),
		cmocka_unit_test(test_users_missing_file),
		cmocka_unit_test(test_users_many),
		cmocka_unit_test(test_users_too_many_errors),
		cmocka_unit_test(test_aliases_basic),
		cmocka_unit_test(test_aliases_quotes),
		cmocka_unit_test(test_aliases_rejected_targets),
		cmocka_unit_test(test_aliases_errors),
		cmocka_unit_test(test_aliases_missing_file),
		cmocka_unit_test(test_aliases_error_path),
		cmocka_unit_test(test_aliases_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* testutil - fixtures shared by the cmocka unit tests: temporary
 * directories and files, recursive removal, reading and writing whole
 * files, counting directory entries.
 *
 * Every function that can fail on a broken test machine (mkdtemp, open,
 * write...) fails the running test with a message naming the path and the
 * error (cmocka fail_msg), so callers need no checks; the int returns are 0
 * and exist only so that a setup function can `return tu_tmpdir(...)`.
 * Temporary names are $TMPDIR (or /tmp) + "/<program>.XXXXXX".
 * Linked into every tests/unit/test_* binary by the Makefile.
 */
#ifndef MAILPORT_TESTS_TESTUTIL_H
#define MAILPORT_TESTS_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* tu_tmpdir - make a fresh private (0700) directory; its path into out
 * (n bytes); 0 */
int tu_tmpdir(char *out, size_t n);

/* tu_dir, tu_dir_setup, tu_dir_teardown - a cmocka setup/teardown pair:
 * a fresh private directory in tu_dir for each test, removed after it */
extern char tu_dir[256];
int tu_dir_setup(void **state);
int tu_dir_teardown(void **state);

/* tu_tmpfile - make a fresh file (0600) holding data[0..len); its path
 * into out (n bytes); 0 */
int tu_tmpfile(char *out, size_t n, const void *data, size_t len);

/* tu_path - "dir/name" into out (n bytes); fails the test if it does not
 * fit; returns out */
char *tu_path(char *out, size_t n, const char *dir, const char *name);

/* tu_rm_rf - remove path and, for a directory, everything below it
 * (symbolic links are removed, never followed); 0, or -1 if something
 * could not be removed.  A missing path is not an error. */
int tu_rm_rf(const char *path);

/* tu_slurp - the whole file as a malloc'd, NUL-terminated string (the
 * caller frees it); *len (if len is not NULL) gets its size, which does not
 * count the added NUL (the file may hold NULs itself) */
char *tu_slurp(const char *path, size_t *len);

/* tu_slurp_at - the same for a path relative to the directory fd dirfd */
char *tu_slurp_at(int dirfd, const char *path, size_t *len);

/* tu_write_file - create or truncate path with content (mode 0644) */
int tu_write_file(const char *path, const char *content);

/* tu_write_file_mode - the same with exactly this mode (umask ignored) */
int tu_write_file_mode(const char *path, const char *content, mode_t mode);

/* tu_write_at - create or truncate path (relative to dirfd, or AT_FDCWD)
 * with data[0..len) and exactly this mode */
int tu_write_at(int dirfd, const char *path, const void *data, size_t len,
		mode_t mode);

/* tu_count_dir - entries (not "." nor "..") of the directory path
 * relative to dirfd (or AT_FDCWD); -1 if it is missing */
int tu_count_dir(int dirfd, const char *path);

/* tu_golden_path - tests/unit/golden/<name> (or $MAILPORT_GOLDEN_DIR) */
char *tu_golden_path(char *out, size_t n, const char *name);

/* tu_assert_crlf_only - fail on a bare CR or a bare LF in p[0..n) */
void tu_assert_crlf_only(const char *p, size_t n);

/* tu_golden_check - out (CRLF lines) equals the golden file name (stored
 * with LF lines); MAILPORT_GOLDEN_UPDATE=1 rewrites the file */
void tu_golden_check(const char *name, const char *out, size_t len);

#endif

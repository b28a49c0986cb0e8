/* testutil - fixtures shared by the cmocka unit tests (see testutil.h).
 *
 * Public: tu_tmpdir, tu_tmpfile, tu_path, tu_rm_rf, tu_slurp, tu_slurp_at,
 * tu_write_file, tu_write_file_mode, tu_write_at, tu_count_dir.
 * Invariant: a failure of the machine (not of the code under test) fails
 * the running test through cmocka with the path and strerror(errno); no
 * function returns a half-made fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RM_DEPTH_MAX 64		/* deeper trees are not ours */

/* tmp_template - "$TMPDIR/<program>.XXXXXX" into out */
static void tmp_template(char *out, size_t n)
{
	const char *dir = getenv("TMPDIR");
	int r;

	if (!dir || !*dir)
		dir = "/tmp";
	r = snprintf(out, n, "%s/%s.XXXXXX", dir, program_invocation_short_name);
	if (r < 0 || (size_t)r >= n)
		fail_msg("temporary name under %s does not fit in %zu bytes", dir, n);
}

/* tu_tmpdir - mkdtemp under $TMPDIR or /tmp */
int tu_tmpdir(char *out, size_t n)
{
	tmp_template(out, n);
	if (!mkdtemp(out))
		fail_msg("mkdtemp %s: %s", out, strerror(errno));
	return 0;
}

char tu_dir[256];

/* tu_dir_setup - a fresh directory in tu_dir (cmocka setup) */
int tu_dir_setup(void **state)
{
	(void)state;
	return tu_tmpdir(tu_dir, sizeof(tu_dir));
}

/* tu_dir_teardown - remove tu_dir and what the test put there */
int tu_dir_teardown(void **state)
{
	(void)state;
	return tu_rm_rf(tu_dir);
}

/* tu_tmpfile - mkstemp under $TMPDIR or /tmp, filled with data */
int tu_tmpfile(char *out, size_t n, const void *data, size_t len)
{
	int fd;

	tmp_template(out, n);
	fd = mkstemp(out);
	if (fd < 0)
		fail_msg("mkstemp %s: %s", out, strerror(errno));
	close(fd);
	return tu_write_at(AT_FDCWD, out, data, len, 0600);
}

/* tu_path - dir/name into out, checked */
char *tu_path(char *out, size_t n, const char *dir, const char *name)
{
	int r = snprintf(out, n, "%s/%s", dir, name);

	if (r < 0 || (size_t)r >= n)
		fail_msg("path %s/%s does not fit in %zu bytes", dir, name, n);
	return out;
}

static int rm_at(int at, const char *name, int depth);

/* rm_children - remove everything inside the directory at/name */
static int rm_children(int at, const char *name, int depth)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return -1;
	fchmod(fd, 0700);	/* a test may have made it read-only */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_at(dirfd(d), de->d_name, depth + 1) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* rm_at - remove at/name, recursively for a directory */
static int rm_at(int at, const char *name, int depth)
{
	struct stat st;
	int rc;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (depth > RM_DEPTH_MAX)
		return -1;
	rc = rm_children(at, name, depth);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* tu_rm_rf - remove a tree without following symbolic links */
int tu_rm_rf(const char *path)
{
	return rm_at(AT_FDCWD, path, 0);
}

/* tu_slurp_at - read a whole file below dirfd, NUL-terminated */
char *tu_slurp_at(int dirfd, const char *path, size_t *len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *b = NULL;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t r;

		if (!b || n + 1 == cap) {
			char *nb = realloc(b, cap *= 2);

			if (!nb)
				fail_msg("%s: out of memory", path);
			b = nb;
		}
		r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail_msg("read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

/* tu_slurp - read a whole file, NUL-terminated */
char *tu_slurp(const char *path, size_t *len)
{
	return tu_slurp_at(AT_FDCWD, path, len);
}

/* tu_write_at - create or truncate dirfd/path with data and mode */
int tu_write_at(int dirfd, const char *path, const void *data, size_t len,
		mode_t mode)
{
	const char *p = data;
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) < 0)
		fail_msg("chmod %s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail_msg("write %s: %s", path, strerror(errno));
		p += r;
		len -= (size_t)r;
	}
	if (close(fd) < 0)
		fail_msg("close %s: %s", path, strerror(errno));
	return 0;
}

/* tu_write_file_mode - a text file with exactly this mode */
int tu_write_file_mode(const char *path, const char *content, mode_t mode)
{
	return tu_write_at(AT_FDCWD, path, content, strlen(content), mode);
}

/* tu_write_file - a text file, mode 0644 */
int tu_write_file(const char *path, const char *content)
{
	return tu_write_file_mode(path, content, 0644);
}

/* tu_count_dir - entries of a directory, -1 if it is missing */
int tu_count_dir(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), k = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d)
		fail_msg("fdopendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		k += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return k;
}

/* tu_golden_path - tests/unit/golden/<name> (or $MAILPORT_GOLDEN_DIR) */
char *tu_golden_path(char *out, size_t n, const char *name)
{
	const char *dir = getenv("MAILPORT_GOLDEN_DIR");
	char here[512];
	const char *slash = strrchr(__FILE__, '/');

	if (!dir || !*dir) {
		snprintf(here, sizeof(here), "%.*s/golden",
			 slash ? (int)(slash - __FILE__) : 1,
			 slash ? __FILE__ : ".");
		dir = here;
	}
	return tu_path(out, n, dir, name);
}

/* tu_assert_crlf_only - every CR is followed by LF, every LF preceded by CR */
void tu_assert_crlf_only(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
			fail_msg("bare CR at offset %zu", i);
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			fail_msg("bare LF at offset %zu", i);
	}
}

/* tu_golden_check - out (CRLF lines) is the golden file name (LF lines);
 * MAILPORT_GOLDEN_UPDATE=1 rewrites the file instead */
void tu_golden_check(const char *name, const char *out, size_t len)
{
	char path[1024];
	buf_t want, lf;
	size_t i, n, line = 1;
	char *file;

	tu_assert_crlf_only(out, len);
	tu_golden_path(path, sizeof(path), name);
	buf_init(&lf);
	for (i = 0; i < len; i++)
		if (out[i] != '\r')
			assert_int_equal(buf_putc(&lf, out[i]), 0);
	if (getenv("MAILPORT_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(lf.data, 1, lf.len, f), lf.len);
		assert_int_equal(fclose(f), 0);
	}
	file = tu_slurp(path, &n);
	buf_init(&want);
	for (i = 0; i < n; i++)
		assert_int_equal(file[i] == '\n' ? buf_append(&want, "\r\n", 2) :
				 buf_putc(&want, file[i]), 0);
	for (i = 0; i < len && i < want.len && out[i] == want.data[i]; i++)
		line += out[i] == '\n';
	if (i < len || i < want.len)
		fail_msg("%s: differs at line %zu (offset %zu)\n got: %.80s\nwant: %.80s",
			 name, line, i, out + (i < len ? i : len),
			 want.data + (i < want.len ? i : want.len));
	free(file);
	buf_free(&want);
	buf_free(&lf);
}

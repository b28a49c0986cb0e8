/* test_sandbox - unit tests for priv/sandbox: the worker's Landlock rules
 * (a read-write directory given by fd, a read-only directory, a file
 * outside both, a symlink and a /proc/self/fd link pointing outside, the
 * system read-only and read-write lists, /etc and its secrets denied, no
 * execute in the spool), missing paths skipped, bad rules refused without
 * restricting anything, the "kernel lacks Landlock" answers (forced with a
 * seccomp filter), no_new_privs and the capability bounding set.
 *
 * Every test forks a child that applies the sandbox and checks; the child
 * reports through its exit status (0 passed, 77 skipped, 1 failed with the
 * failed check on stderr) and the parent asserts.  The parent itself is
 * never sandboxed, so it can clean up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv/sandbox.h"
#include "testutil.h"
#include "util/buf.h"

#define SKIPPED 77
#define NOBODY 65534

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s (errno: %s)\n", \
			__FILE__, __LINE__, #cond, strerror(errno)); \
		return 1; \
	} \
} while (0)

struct fx {
	char root[256];		/* the mkdtemp tree */
	char adir[300];		/* root/A: read-write, given by fd */
	char rdir[300];		/* root/R: read-only */
	char rfile[320];	/* root/R/file: "hello" */
	char outside[300];	/* root/outside: "secret", no rule */
	int afd;
	int arg;		/* a per-test parameter for the child */
};

/* setup - the tree: A/ (existing, link -> ../outside, x.sh), R/file,
 * outside */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[400];

	assert_non_null(f);
	tu_tmpdir(f->root, sizeof(f->root));
	tu_path(f->adir, sizeof(f->adir), f->root, "A");
	tu_path(f->rdir, sizeof(f->rdir), f->root, "R");
	tu_path(f->rfile, sizeof(f->rfile), f->rdir, "file");
	tu_path(f->outside, sizeof(f->outside), f->root, "outside");
	assert_int_equal(mkdir(f->adir, 0700), 0);
	assert_int_equal(mkdir(f->rdir, 0700), 0);
	tu_write_file(f->rfile, "hello");
	tu_write_file(f->outside, "secret");
	tu_write_file(tu_path(p, sizeof(p), f->adir, "existing"), "data");
	tu_write_file_mode(tu_path(p, sizeof(p), f->adir, "x.sh"), "#!/bin/sh\nexit 0\n", 0755);
	assert_int_equal(symlink(f->outside, tu_path(p, sizeof(p), f->adir, "link")), 0);
	f->afd = open(f->adir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->afd >= 0);
	*state = f;
	return 0;
}

/* teardown - remove the tree */
static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->afd);
	assert_int_equal(tu_rm_rf(f->root), 0);
	free(f);
	return 0;
}

/* run_child - fn(f) in a forked child; assert it passed, skip if it
 * skipped */
static void run_child(int (*fn)(struct fx *), struct fx *f)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIPPED)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* need_landlock - skip the test when the kernel lacks Landlock */
static void need_landlock(void)
{
	if (sandbox_landlock_abi() == 0) {
		print_message("kernel lacks Landlock (or it is disabled): skipped\n");
		skip();
	}
}

/* apply_rules - no_new_privs and Landlock with r; SKIPPED if the kernel
 * lacks Landlock, 1 on error, 0 applied */
static int apply_rules(const struct sandbox_rules *r)
{
	buf_t why;
	int abi = -1, rc;

	buf_init(&why);
	CHECK(sandbox_no_new_privs() == 0);
	rc = sandbox_landlock(r, &abi, &why);
	if (rc == 0) {
		fprintf(stderr, "landlock unsupported: %s\n", why.data ? why.data : "");
		buf_free(&why);
		return SKIPPED;
	}
	if (rc < 0) {
		fprintf(stderr, "sandbox_landlock: %s\n", why.data ? why.data : "");
		buf_free(&why);
		return 1;
	}
	buf_free(&why);
	CHECK(abi >= 1 && abi == sandbox_landlock_abi());
	return 0;
}

/* apply - the worker's sandbox: rw A (fd), read-only system list plus R
 * and two paths that cannot exist, the system read-write files */
static int apply(struct fx *f, int exec)
{
	const char *ro[64];
	const char *const *sys, *const *rw;
	size_t nsys, nrw, i, n = 0;
	struct sandbox_rules r;

	sys = sandbox_system_ro(&nsys);
	rw = sandbox_system_rw(&nrw);
	CHECK(nsys + 3 <= sizeof(ro) / sizeof(ro[0]));
	for (i = 0; i < nsys; i++)
		ro[n++] = sys[i];
	ro[n++] = f->rdir;
	ro[n++] = "/nonexistent-mailport-test/x";	/* ENOENT */
	ro[n++] = "/etc/passwd/x";			/* ENOTDIR */
	memset(&r, 0, sizeof(r));
	r.rw_dirs = &f->afd;
	r.nrw = 1;
	r.ro_paths = ro;
	r.nro = n;
	r.ro_exec = exec;
	r.rw_files = rw;
	r.nrwf = nrw;
	return apply_rules(&r);
}

/* open_err - 0 if path opens with flags (then closed), else errno */
static int open_err(int at, const char *path, int flags)
{
	int fd = openat(at, path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* read_is - the file at path (relative to at) holds exactly want */
static int read_is(int at, const char *path, const char *want)
{
	char b[64];
	ssize_t n;
	int fd = openat(at, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, b, sizeof(b));
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(b, want, (size_t)n) == 0;
}

/* readable - path opens for reading and the first read succeeds */
static int readable(const char *path)
{
	char b[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, b, sizeof(b));
	close(fd);
	return n >= 0;
}

/* exists - stat(path) succeeds (stat is not a Landlock right) */
static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* bind_err - 0 if an AF_UNIX socket binds at path, else errno */
static int bind_err(const char *path)
{
	struct sockaddr_un sun;
	int fd, e = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		e = errno;
	close(fd);
	return e;
}

/* exec_status - exit code of a grandchild that execs path: the program's
 * own status, 3 if execve failed with EACCES, 4 for other failures */
static int exec_status(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(errno == EACCES ? 3 : 4);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- read-write directory ---- */

static int child_rw_dir(struct fx *f)
{
	char p[400];
	int fd, dfd, rc;

	if ((rc = apply(f, 0)) != 0)
		return rc;
	fd = openat(f->afd, "new", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "abc", 3) == 3);
	CHECK(close(fd) == 0);
	CHECK(renameat(f->afd, "new", f->afd, "new2") == 0);
	CHECK(mkdirat(f->afd, "sub", 0700) == 0);
	CHECK(renameat(f->afd, "new2", f->afd, "sub/moved") == 0);	/* REFER */
	CHECK(read_is(AT_FDCWD, tu_path(p, sizeof(p), f->adir, "sub/moved"), "abc"));
	CHECK(linkat(f->afd, "sub/moved", f->afd, "hard", 0) == 0);
	CHECK(read_is(f->afd, "hard", "abc"));
	CHECK(open_err(f->afd, "hard", O_WRONLY | O_TRUNC) == 0);	/* TRUNCATE */
	CHECK(truncate(tu_path(p, sizeof(p), f->adir, "existing"), 1) == 0);
	CHECK(read_is(f->afd, "existing", "d"));
	CHECK(unlinkat(f->afd, "hard", 0) == 0);
	CHECK(unlinkat(f->afd, "sub/moved", 0) == 0);
	CHECK(unlinkat(f->afd, "sub", AT_REMOVEDIR) == 0);
	/* by absolute path too (the spool code opens "<spool>/...") */
	CHECK(open_err(AT_FDCWD, tu_path(p, sizeof(p), f->adir, "abs"),
		       O_CREAT | O_EXCL | O_RDWR) == 0);
	CHECK(mkdir(tu_path(p, sizeof(p), f->adir, "absdir"), 0700) == 0);
	dfd = openat(f->afd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* READ_DIR */
	CHECK(dfd >= 0);
	close(dfd);
	/* not granted in the spool: symlinks, fifos */
	errno = 0;
	CHECK(symlinkat("existing", f->afd, "sym") < 0 && errno == EACCES);
	errno = 0;
	CHECK(mkfifoat(f->afd, "fifo", 0600) < 0 && errno == EACCES);
	return 0;
}

static void test_rw_dir(void **state)
{
	need_landlock();
	run_child(child_rw_dir, *state);
}

static int child_rw_socket(struct fx *f)
{
	char p[400];
	int rc;

	if ((rc = apply(f, 0)) != 0)
		return rc;
	CHECK(bind_err(tu_path(p, sizeof(p), f->adir, "s.sock")) == 0);
	CHECK(bind_err(tu_path(p, sizeof(p), f->rdir, "s.sock")) == EACCES);
	CHECK(bind_err(tu_path(p, sizeof(p), f->root, "s.sock")) == EACCES);
	return 0;
}

static void test_rw_socket(void **state)
{
	need_landlock();
	run_child(child_rw_socket, *state);
}

/* ---- read-only directory ---- */

static int child_ro_dir(struct fx *f)
{
	char p[400], q[400];
	int rc;

	if ((rc = apply(f, 0)) != 0)
		return rc;
	CHECK(read_is(AT_FDCWD, f->rfile, "hello"));
	CHECK(open_err(AT_FDCWD, f->rdir, O_RDONLY | O_DIRECTORY) == 0);
	CHECK(open_err(AT_FDCWD, f->rfile, O_WRONLY) == EACCES);
	CHECK(open_err(AT_FDCWD, f->rfile, O_RDWR) == EACCES);
	CHECK(open_err(AT_FDCWD, tu_path(p, sizeof(p), f->rdir, "new"),
		       O_CREAT | O_WRONLY) == EACCES);
	errno = 0;
	CHECK(mkdir(tu_path(p, sizeof(p), f->rdir, "d"), 0700) < 0 && errno == EACCES);
	errno = 0;
	CHECK(unlink(f->rfile) < 0 && errno == EACCES);
	errno = 0;
	CHECK(truncate(f->rfile, 0) < 0 && errno == EACCES);
	errno = 0;
	CHECK(rename(tu_path(p, sizeof(p), f->adir, "existing"),
		     tu_path(q, sizeof(q), f->rdir, "moved")) < 0 &&
	      (errno == EACCES || errno == EXDEV));
	errno = 0;
	CHECK(rename(f->rfile, tu_path(q, sizeof(q), f->adir, "stolen")) < 0 &&
	      (errno == EACCES || errno == EXDEV));
	CHECK(read_is(AT_FDCWD, f->rfile, "hello"));
	return 0;
}

static void test_ro_dir(void **state)
{
	need_landlock();
	run_child(child_ro_dir, *state);
}

/* ---- outside every rule ---- */

static int child_outside(struct fx *f)
{
	char p[64];
	int fd, rc;

	/* an fd opened before the sandbox stays usable (Landlock checks at
	 * open); re-opening it through /proc/self/fd must not be */
	fd = open(f->outside, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if ((rc = apply(f, 0)) != 0)
		return rc;
	CHECK(open_err(AT_FDCWD, f->outside, O_RDONLY) == EACCES);
	CHECK(open_err(f->afd, "link", O_RDONLY) == EACCES);	/* symlink in A -> outside */
	CHECK(open_err(f->afd, "../outside", O_RDONLY) == EACCES);
	CHECK(open_err(AT_FDCWD, f->root, O_RDONLY | O_DIRECTORY) == EACCES);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	CHECK(open_err(AT_FDCWD, p, O_RDONLY) == EACCES);
	close(fd);
	/* /etc as a whole and its secrets, even for root */
	CHECK(open_err(AT_FDCWD, "/etc/passwd", O_RDONLY) == EACCES);
	if (exists("/etc/shadow"))
		CHECK(open_err(AT_FDCWD, "/etc/shadow", O_RDONLY) == EACCES);
	if (exists("/etc/ssl/private"))
		CHECK(open_err(AT_FDCWD, "/etc/ssl/private", O_RDONLY | O_DIRECTORY) == EACCES);
	CHECK(open_err(AT_FDCWD, "/etc", O_RDONLY | O_DIRECTORY) == EACCES);
	CHECK(open_err(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY) == EACCES);
	return 0;
}

static void test_outside(void **state)
{
	need_landlock();
	run_child(child_outside, *state);
}

/* ---- the system lists ---- */

static int child_system(struct fx *f)
{
	int has_resolv = exists("/etc/resolv.conf"), has_hosts = exists("/etc/hosts");
	struct addrinfo hints, *ai = NULL;
	char b[16];
	int fd, rc;

	if ((rc = apply(f, 0)) != 0)
		return rc;
	if (has_resolv)
		CHECK(readable("/etc/resolv.conf"));
	if (has_hosts) {
		CHECK(readable("/etc/hosts"));
		CHECK(open_err(AT_FDCWD, "/etc/hosts", O_WRONLY) == EACCES);
	}
	fd = open("/dev/null", O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
	CHECK(open_err(AT_FDCWD, "/dev/null", O_RDWR) == 0);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(read(fd, b, sizeof(b)) == (ssize_t)sizeof(b));
	close(fd);
	CHECK(readable("/proc/self/maps"));
	CHECK(readable("/proc/self/status"));
	CHECK(readable("/proc/self/exe"));	/* ASan's symbolizer reads it */
	if (exists("/sys/devices/system/cpu/online"))
		CHECK(readable("/sys/devices/system/cpu/online"));
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) > 0);
	if (exists("/etc/ld.so.cache"))
		CHECK(readable("/etc/ld.so.cache"));
	if (exists("/etc/localtime"))
		CHECK(readable("/etc/localtime"));
	if (exists("/etc/ssl/certs"))
		CHECK(open_err(AT_FDCWD, "/etc/ssl/certs", O_RDONLY | O_DIRECTORY) == 0);
	if (exists("/etc/ssl/certs/ca-certificates.crt"))
		CHECK(readable("/etc/ssl/certs/ca-certificates.crt"));
	CHECK(open_err(AT_FDCWD, "/usr", O_RDONLY | O_DIRECTORY) == 0);
	if (has_hosts) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		CHECK(getaddrinfo("localhost", "25", &hints, &ai) == 0);
		freeaddrinfo(ai);
	}
	return 0;
}

static void test_system(void **state)
{
	need_landlock();
	run_child(child_system, *state);
}

/* ---- execute ---- */

static int child_exec(struct fx *f)
{
	char p[400];
	int rc;

	if ((rc = apply(f, f->arg)) != 0)
		return rc;
	if (f->arg)
		CHECK(exec_status("/bin/true") == 0);
	else
		CHECK(exec_status("/bin/true") == 3);
	/* never from the spool */
	CHECK(exec_status(tu_path(p, sizeof(p), f->adir, "x.sh")) == 3);
	return 0;
}

static void test_exec_allowed(void **state)
{
	struct fx *f = *state;

	need_landlock();
	if (!exists("/bin/true"))
		skip();
	f->arg = 1;
	run_child(child_exec, f);
}

static void test_exec_denied(void **state)
{
	struct fx *f = *state;

	need_landlock();
	if (!exists("/bin/true"))
		skip();
	f->arg = 0;
	run_child(child_exec, f);
}

/* ---- rules that fit the file type ---- */

static int child_file_rules(struct fx *f)
{
	/* files (regular, character device) as read-only paths with execute
	 * on: only file rights, execute only for the regular file */
	const char *ro[] = { f->rfile, "/dev/zero", "/proc/self/status" };
	struct sandbox_rules r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.ro_paths = ro;
	r.nro = 3;
	r.ro_exec = 1;
	if ((rc = apply_rules(&r)) != 0)
		return rc;
	CHECK(read_is(AT_FDCWD, f->rfile, "hello"));
	CHECK(open_err(AT_FDCWD, "/dev/zero", O_RDONLY) == 0);
	CHECK(open_err(AT_FDCWD, f->rdir, O_RDONLY | O_DIRECTORY) == EACCES);
	CHECK(open_err(AT_FDCWD, "/dev/null", O_WRONLY) == EACCES);
	return 0;
}

static void test_file_rules(void **state)
{
	need_landlock();
	run_child(child_file_rules, *state);
}

/* ---- refused rule sets change nothing ---- */

static int child_bad_rules(struct fx *f)
{
	struct sandbox_rules r;
	buf_t why;
	int bad, file_fd;

	buf_init(&why);
	CHECK(sandbox_no_new_privs() == 0);
	memset(&r, 0, sizeof(r));
	bad = -1;
	r.rw_dirs = &bad;
	r.nrw = 1;
	CHECK(sandbox_landlock(&r, NULL, &why) == -1);
	CHECK(why.len > 0 && strstr(why.data, "fd -1") != NULL);
	buf_reset(&why);
	file_fd = open(f->outside, O_RDONLY | O_CLOEXEC);
	CHECK(file_fd >= 0);
	r.rw_dirs = &file_fd;
	CHECK(sandbox_landlock(&r, NULL, &why) == -1);
	CHECK(why.len > 0 && strstr(why.data, "not a directory") != NULL);
	close(file_fd);
	buf_free(&why);
	/* nothing was restricted */
	CHECK(read_is(AT_FDCWD, f->outside, "secret"));
	CHECK(readable("/etc/passwd"));
	return 0;
}

static void test_bad_rules(void **state)
{
	need_landlock();
	run_child(child_bad_rules, *state);
}

/* without no_new_privs and without CAP_SYS_ADMIN: refused */
static int child_needs_nnp(struct fx *f)
{
	struct sandbox_rules r;
	buf_t why;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) == 1)
		return SKIPPED;		/* set by whoever started the tests */
	if (geteuid() == 0)
		CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
	memset(&r, 0, sizeof(r));
	r.rw_dirs = &f->afd;
	r.nrw = 1;
	buf_init(&why);
	CHECK(sandbox_landlock(&r, NULL, &why) == -1);
	CHECK(why.len > 0 && strstr(why.data, "no_new_privs") != NULL);
	buf_free(&why);
	return 0;
}

static void test_needs_nnp(void **state)
{
	need_landlock();
	run_child(child_needs_nnp, *state);
}

/* ---- kernels without Landlock, forced with a seccomp filter ---- */

/* deny_landlock - make landlock_create_ruleset fail with errno e (the
 * filter checks only the number: a test, not a security boundary) */
static int deny_landlock(int e)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_landlock_create_ruleset, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)e & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	if (sandbox_no_new_privs() < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0L, 0L);
}

static int child_unsupported(struct fx *f)
{
	struct sandbox_rules r;
	buf_t why;
	int abi = -7, rc;

	CHECK(deny_landlock(f->arg) == 0);
	CHECK(sandbox_landlock_abi() == 0);
	memset(&r, 0, sizeof(r));
	r.rw_dirs = &f->afd;
	r.nrw = 1;
	buf_init(&why);
	rc = sandbox_landlock(&r, &abi, &why);
	if (f->arg == ENOSYS || f->arg == EOPNOTSUPP) {
		CHECK(rc == 0);
		CHECK(abi == -7);
		CHECK(why.len > 0 && strstr(why.data,
					    f->arg == ENOSYS ? "ENOSYS" : "EOPNOTSUPP") != NULL);
	} else {
		CHECK(rc == -1);
		CHECK(why.len > 0);
	}
	buf_free(&why);
	CHECK(read_is(AT_FDCWD, f->outside, "secret"));	/* nothing restricted */
	return 0;
}

static void test_unsupported_enosys(void **state)
{
	struct fx *f = *state;

	f->arg = ENOSYS;
	run_child(child_unsupported, f);
}

static void test_unsupported_eopnotsupp(void **state)
{
	struct fx *f = *state;

	f->arg = EOPNOTSUPP;
	run_child(child_unsupported, f);
}

static void test_landlock_eperm(void **state)
{
	struct fx *f = *state;

	f->arg = EPERM;
	run_child(child_unsupported, f);
}

/* ---- no_new_privs, bounding set ---- */

static int child_nnp(struct fx *f)
{
	(void)f;
	CHECK(sandbox_no_new_privs() == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) == 1);
	CHECK(sandbox_no_new_privs() == 0);	/* idempotent */
	return 0;
}

static void test_no_new_privs(void **state)
{
	run_child(child_nnp, *state);
}

/* cap_bnd - the CapBnd mask of /proc/self/status into *mask; 0 or -1 */
static int cap_bnd(unsigned long long *mask)
{
	char *s = tu_slurp("/proc/self/status", NULL);
	char *p = strstr(s, "\nCapBnd:");
	int rc = -1;

	if (p && sscanf(p + 8, "%llx", mask) == 1)
		rc = 0;
	free(s);
	return rc;
}

static int child_bounding(struct fx *f)
{
	unsigned long long m = 1;

	(void)f;
	CHECK(cap_bnd(&m) == 0 && m != 0);
	CHECK(sandbox_drop_bounding() == 0);
	CHECK(cap_bnd(&m) == 0);
	if (m != 0) {
		fprintf(stderr, "CapBnd after the drop: %016llx\n", m);
		return 1;
	}
	CHECK(sandbox_drop_bounding() == 0);	/* already empty */
	return 0;
}

static void test_drop_bounding(void **state)
{
	if (geteuid() != 0) {
		print_message("not root: skipped\n");
		skip();
	}
	run_child(child_bounding, *state);
}

/* without CAP_SETPCAP (root after setuid, as the worker is once it has
 * dropped to the mail user): "not dropped", nothing changed */
static int child_bounding_eperm(struct fx *f)
{
	unsigned long long before = 0, after = 0;

	(void)f;
	if (geteuid() == 0)
		CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
	CHECK(cap_bnd(&before) == 0);
	CHECK(sandbox_drop_bounding() == (before != 0 ? 1 : 0));
	CHECK(cap_bnd(&after) == 0 && after == before);
	return 0;
}

static void test_drop_bounding_eperm(void **state)
{
	run_child(child_bounding_eperm, *state);
}

/* ---- the lists ---- */

static void test_lists(void **state)
{
	const char *const *l;
	size_t n, i;
	int usr = 0, proc = 0, null = 0;

	(void)state;
	l = sandbox_system_ro(&n);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		assert_string_not_equal(l[i], "/etc");
		assert_string_not_equal(l[i], "/");
		assert_null(strstr(l[i], "private"));
		assert_null(strstr(l[i], "mailport"));
		usr |= strcmp(l[i], "/usr") == 0;
		proc |= strcmp(l[i], "/proc") == 0;
	}
	assert_true(usr && proc);
	l = sandbox_system_rw(&n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		null |= strcmp(l[i], "/dev/null") == 0;
	assert_true(null);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test_setup_teardown(test_rw_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_nnp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_enosys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_eopnotsupp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_landlock_eperm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_new_privs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_bounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_bounding_eperm, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

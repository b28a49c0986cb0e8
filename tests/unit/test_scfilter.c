/* test_scfilter - unit tests for priv/scfilter: in a forked child with the
 * filter loaded, the worker's kind of calls work (files, sockets, threads,
 * time), calls outside the list fail with EPERM instead of killing the
 * process (execve, unshare, setuid, mount, ptrace outside sanitizer
 * builds), and scfilter_denied names them once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "priv/scfilter.h"
#include "util/buf.h"

#define CHECK(c)                                                                    \
	do {                                                                        \
		if (!(c)) {                                                         \
			fprintf(stderr, "child: %s:%d: %s (errno %d)\n", __FILE__,  \
				__LINE__, #c, errno);                               \
			_exit(1);                                                   \
		}                                                                   \
	} while (0)

/* thread_fn - a thread started under the filter */
static void *thread_fn(void *arg)
{
	return arg;
}

/* in_child - run fn in a child with no_new_privs and the filter loaded;
 * its exit status */
static int in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		buf_t why;

		buf_init(&why);
		CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == 0);
		if (scfilter_apply(&why) < 0) {
			fprintf(stderr, "child: scfilter_apply: %s\n", why.data ? why.data : "");
			_exit(1);
		}
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* allowed_calls - what the worker does keeps working */
static void allowed_calls(void)
{
	char path[] = "/tmp/test_scfilter.XXXXXX";
	struct timespec ts;
	pthread_t t;
	void *ret;
	int fd, sv[2];

	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "x", 1) == 1);
	CHECK(fsync(fd) == 0);
	CHECK(close(fd) == 0);
	CHECK(unlink(path) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(send(sv[0], "y", 1, 0) == 1);
	close(sv[0]);
	close(sv[1]);
	CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	CHECK(pthread_create(&t, NULL, thread_fn, &ts) == 0);
	CHECK(pthread_join(t, &ret) == 0 && ret == &ts);
	CHECK(getpid() > 0);
}

static void test_allowed(void **state)
{
	(void)state;
	assert_int_equal(in_child(allowed_calls), 0);
}

/* denied_calls - refused with EPERM, the process goes on, the names are
 * reported once */
static void denied_calls(void)
{
	char *const argv[] = { "true", NULL };
	buf_t names;

	errno = 0;
	CHECK(execv("/bin/true", argv) == -1 && errno == EPERM);
	errno = 0;
	CHECK(syscall(SYS_unshare, 0) == -1 && errno == EPERM);
	errno = 0;
	CHECK(syscall(SYS_setuid, 0) == -1 && errno == EPERM);
	errno = 0;
	CHECK(mount("none", "/tmp", "tmpfs", 0, NULL) == -1 && errno == EPERM);
	buf_init(&names);
	CHECK(scfilter_denied(&names) == 4);
	CHECK(strstr(names.data, "execve") && strstr(names.data, "unshare") &&
	      strstr(names.data, "setuid") && strstr(names.data, "mount"));
	buf_reset(&names);
	CHECK(scfilter_denied(&names) == 0);	/* taken: reported once */
	buf_free(&names);
}

static void test_denied(void **state)
{
	(void)state;
	assert_int_equal(in_child(denied_calls), 0);
}

/* list_sane - nothing dangerous on the list */
static void test_list(void **state)
{
	static const char *const never[] = { "execve", "execveat", "setuid", "setgid",
		"setresuid", "setgroups", "mount", "umount2", "unshare", "setns", "bpf",
		"keyctl", "add_key", "userfaultfd", "perf_event_open", "init_module",
		"kexec_load", "pivot_root", "chroot", "fork", "vfork" };
	const char *const *l;
	size_t n, i, j;

	(void)state;
	l = scfilter_allowed(&n);
	assert_true(n > 50);
	for (i = 0; i < n; i++)
		for (j = 0; j < sizeof(never) / sizeof(never[0]); j++)
			if (strcmp(l[i], never[j]) == 0)
				fail_msg("%s is on the allow list", l[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

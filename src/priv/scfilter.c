/* scfilter - the worker's seccomp allow list (see scfilter.h).
 *
 * The list is what the worker does (glibc, libevent, OpenSSL, c-ares, the
 * queue, the Maildir writer, and LeakSanitizer in test builds), checked by
 * running every black-box test with SCMP_ACT_LOG as the default action and
 * reading the kernel's seccomp log (audit type=1326): nothing else showed.  The default action
 * is SECCOMP_RET_TRAP: the SIGSYS handler makes the call return -EPERM and
 * sets a bit for its number; scfilter_denied reads and clears the bits.
 */
#include "priv/scfilter.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <seccomp.h>

#define NR_BITS 1024		/* syscall numbers noted (x86_64 < 500) */

static const char *const allowed[] = {
	/* memory, threads, time, identity */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore",
	"clone", "clone3", "exit", "exit_group", "futex", "set_robust_list",
	"get_robust_list", "set_tid_address", "rseq", "arch_prctl", "prctl",
	"sched_yield", "sched_getaffinity", "getrandom", "membarrier",
	"clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "nanosleep",
	"time", "times", "getrusage", "sysinfo", "prlimit64", "getrlimit", "uname",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getgroups", "getresuid", "getresgid",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "kill", "tgkill",
	"tkill", "rt_sigtimedwait", "restart_syscall",
	/* descriptors and events */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "pipe", "pipe2",
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "lseek",
	/* sockets */
	"socket", "socketpair", "connect", "accept", "accept4", "bind", "listen",
	"shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	/* files: the spool and the Maildirs (Landlock decides where) */
	"open", "openat", "creat", "stat", "fstat", "lstat", "newfstatat", "statx",
	"fstatfs", "statfs", "access", "faccessat", "faccessat2", "getdents", "getdents64",
	"getcwd", "readlink", "readlinkat", "rename", "renameat", "renameat2",
	"link", "linkat", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir",
	"chmod", "fchmod", "fchmodat", "umask", "fsync", "fdatasync", "ftruncate",
	"truncate", "fallocate", "flock", "utimensat", "fadvise64", "sync_file_range",
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer stops the threads with ptrace from a clone'd tracer */
	"ptrace", "wait4", "waitid", "process_vm_readv",
#endif
};

static uint64_t denied_bits[NR_BITS / 64];

/* on_sigsys - a call outside the list: note it, make it fail with EPERM */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int nr = si->si_syscall;

	(void)sig;
	if (nr >= 0 && nr < NR_BITS)
		__atomic_fetch_or(&denied_bits[nr / 64], 1ULL << (nr % 64), __ATOMIC_RELAXED);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#else
#error "scfilter: set the return register for this architecture"
#endif
}

/* scfilter_allowed - the list */
const char *const *scfilter_allowed(size_t *n)
{
	*n = sizeof(allowed) / sizeof(allowed[0]);
	return allowed;
}

/* scfilter_apply - build and load the filter */
int scfilter_apply(buf_t *why)
{
	struct sigaction sa;
	scmp_filter_ctx f;
	size_t i;
	int rc, nr;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		buf_printf(why, "sigaction SIGSYS: %s", strerror(errno));
		return -1;
	}
	f = seccomp_init(SCMP_ACT_TRAP);
	if (!f) {
		buf_puts(why, "seccomp_init failed");
		return -1;
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* not a call of this architecture */
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST) {
			buf_printf(why, "seccomp_rule_add %s: %s", allowed[i], strerror(-rc));
			seccomp_release(f);
			return -1;
		}
	}
	rc = seccomp_load(f);
	seccomp_release(f);
	if (rc < 0) {
		buf_printf(why, "seccomp_load: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* scfilter_denied - names of the calls noted since the last time */
size_t scfilter_denied(buf_t *out)
{
	size_t i, n = 0;
	int b;

	for (i = 0; i < NR_BITS / 64; i++) {
		uint64_t w = __atomic_exchange_n(&denied_bits[i], 0, __ATOMIC_RELAXED);

		for (b = 0; w && b < 64; b++) {
			char *name;

			if (!(w & (1ULL << b)))
				continue;
			name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)(i * 64) + b);
			if (n++)
				buf_putc(out, ' ');
			if (name)
				buf_puts(out, name);
			else
				buf_printf(out, "%zu", i * 64 + (size_t)b);
			free(name);
		}
	}
	return n;
}

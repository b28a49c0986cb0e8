/* slowfsync - LD_PRELOAD shim for the black-box tests (test_shutdown.py):
 * makes fsync(2)/fdatasync(2) stall, so that a test can hold a commit "in
 * flight" for as long as it likes.
 *
 * Environment:
 *   SLOWFSYNC_FLAG   path of a flag file; nothing is slowed while it does
 *                    not exist (so start-up and recovery run at full speed)
 *   SLOWFSYNC_SECS   seconds a stalled call sleeps (default 20)
 *   SLOWFSYNC_COUNT  how many calls stall, in all, per process (default 1;
 *                    0 = every call made while the flag exists)
 *
 * A stalled call sleeps the full time even when a signal interrupts the
 * sleep, then does the real system call.  Build:
 *   cc -shared -fPIC -O2 -o slowfsync.so slowfsync.c
 * With an ASan binary, set ASAN_OPTIONS=verify_asan_link_order=0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_long stalled;

/* stall - sleep SLOWFSYNC_SECS when the flag exists and calls are left */
static void stall(void)
{
	const char *flag = getenv("SLOWFSYNC_FLAG");
	const char *s = getenv("SLOWFSYNC_SECS");
	const char *n = getenv("SLOWFSYNC_COUNT");
	long secs = s ? atol(s) : 20;
	long max = n ? atol(n) : 1;
	struct timespec end, now, left;
	int saved = errno;

	if (!flag || access(flag, F_OK) != 0) {
		errno = saved;
		return;
	}
	if (max > 0 && atomic_fetch_add(&stalled, 1) >= max) {
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		nanosleep(&left, NULL);
	}
	errno = saved;
}

/* fsync - stall, then the real system call */
int fsync(int fd)
{
	stall();
	return (int)syscall(SYS_fsync, fd);
}

/* fdatasync - stall, then the real system call */
int fdatasync(int fd)
{
	stall();
	return (int)syscall(SYS_fdatasync, fd);
}

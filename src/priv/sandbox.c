/* sandbox - the worker's confinement: Landlock, no_new_privs, bounding set.
 *
 * Public: sandbox_landlock, sandbox_landlock_abi, sandbox_no_new_privs,
 * sandbox_drop_bounding, sandbox_system_ro, sandbox_system_rw.
 *
 * Landlock goes through syscall(2): no library, and the kernel headers
 * may predate the running kernel (Debian 12 ships the 6.1 UAPI), so the
 * newer access bits are defined here when missing.  The ruleset handles
 * every file-system right the kernel's ABI knows (masked by version), so
 * whatever no rule grants is denied; network rights and scopes stay
 * unhandled.  A rule on a file gets only the file rights (Landlock rejects
 * directory rights there with EINVAL); a rule on anything but a regular
 * file or a directory never gets EXECUTE.
 *
 * Invariant: sandbox_landlock either restricts the calling thread with
 * every rule in place or changes nothing (the ruleset is built completely
 * before landlock_restrict_self).
 */
#include "priv/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)	/* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)	/* ABI 5 */
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* ABI 1: EXECUTE .. MAKE_SYM (bits 0..12) */
#define FS_ABI1 ((1ULL << 13) - 1)
/* rights Landlock accepts on a rule whose fd is not a directory */
#define FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
		 LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* a spool or mailboxes directory: everything the queue and the local
 * delivery do (maildir tmp -> new renames, the control and sendmail
 * sockets); no execute, device nodes, fifos, symlinks or device ioctls */
#define FS_RW_DIR (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
		   LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
		   LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		   LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | \
		   LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REFER)
#define FS_RO (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_RW_FILE (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		    LANDLOCK_ACCESS_FS_TRUNCATE)

static const char *const system_ro[] = {
	"/usr", "/lib", "/lib64", "/bin", "/sbin",
	"/etc/ssl/certs", "/usr/share/ca-certificates",
	"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf",
	"/etc/gai.conf", "/etc/services", "/etc/protocols",
	"/etc/localtime", "/usr/share/zoneinfo", "/etc/ld.so.cache",
	"/proc",			/* ASan reads /proc/self/maps */
	"/sys/devices/system/cpu",	/* glibc and ASan count CPUs */
	"/proc/self/exe",		/* the program itself (a build tree's
					 * binary): ASan's symbolizer reads it */
};

static const char *const system_rw[] = {
	"/dev/null", "/dev/urandom", "/dev/random",
};

/* handled_fs - every file-system right Landlock ABI version abi knows */
static uint64_t handled_fs(int abi)
{
	uint64_t m = 0;

	if (abi >= 1)
		m |= FS_ABI1;
	if (abi >= 2)
		m |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		m |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return m;
}

/* sandbox_landlock_abi - the kernel's Landlock ABI version, 0 if none */
int sandbox_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
			 LANDLOCK_CREATE_RULESET_VERSION);

	return v > 0 ? (int)v : 0;
}

/* add_rule - allow want (masked to what fits the file type and what the
 * ruleset handles) beneath fd; 0 or -1 with errno */
static int add_rule(int ruleset, int fd, uint64_t want, uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		want &= FS_FILE;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		want &= ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
	want &= handled;
	if (want == 0)
		return 0;	/* Landlock refuses an empty rule (ENOMSG) */
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = want;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		return -1;
	return 0;
}

/* add_path - add_rule for a path; a missing path is skipped (0) */
static int add_path(int ruleset, const char *path, uint64_t want, uint64_t handled,
		    buf_t *why)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		buf_printf(why, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (add_rule(ruleset, fd, want, handled) < 0) {
		buf_printf(why, "landlock_add_rule %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* add_dir_fd - full access beneath the directory fd */
static int add_dir_fd(int ruleset, int fd, uint64_t handled, buf_t *why)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		buf_printf(why, "rw dir fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		buf_printf(why, "rw dir fd %d: not a directory", fd);
		return -1;
	}
	if (add_rule(ruleset, fd, FS_RW_DIR, handled) < 0) {
		buf_printf(why, "landlock_add_rule fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return 0;
}

/* add_rules - every rule of r into the ruleset; 0 or -1 (why set) */
static int add_rules(int ruleset, const struct sandbox_rules *r, uint64_t handled,
		     buf_t *why)
{
	uint64_t ro = FS_RO | (r->ro_exec ? LANDLOCK_ACCESS_FS_EXECUTE : 0);
	size_t i;

	for (i = 0; i < r->nrw; i++)
		if (add_dir_fd(ruleset, r->rw_dirs[i], handled, why) < 0)
			return -1;
	for (i = 0; i < r->nro; i++)
		if (add_path(ruleset, r->ro_paths[i], ro, handled, why) < 0)
			return -1;
	for (i = 0; i < r->nrwf; i++)
		if (add_path(ruleset, r->rw_files[i], FS_RW_FILE, handled, why) < 0)
			return -1;
	return 0;
}

/* sandbox_landlock - build the ruleset for r and restrict the calling
 * thread with it */
int sandbox_landlock(const struct sandbox_rules *r, int *abi, buf_t *why)
{
	struct landlock_ruleset_attr attr;
	long v;
	int ruleset;

	v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (v < 0 && errno == ENOSYS) {
		buf_puts(why, "kernel without Landlock (ENOSYS)");
		return 0;
	}
	if (v < 0 && errno == EOPNOTSUPP) {
		buf_puts(why, "Landlock disabled at boot (EOPNOTSUPP; see the lsm= kernel parameter)");
		return 0;
	}
	if (v < 1) {
		buf_printf(why, "landlock_create_ruleset version: %s",
			   v < 0 ? strerror(errno) : "version 0");
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled_fs((int)v);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		buf_printf(why, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	if (add_rules(ruleset, r, attr.handled_access_fs, why) < 0) {
		close(ruleset);
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		int e = errno;

		buf_printf(why, "landlock_restrict_self: %s%s", strerror(e),
			   e == EPERM ? " (no_new_privs not set)" : "");
		close(ruleset);
		return -1;
	}
	close(ruleset);
	if (abi)
		*abi = (int)v;
	return 1;
}

/* sandbox_no_new_privs - PR_SET_NO_NEW_PRIVS: exec never grants privileges */
int sandbox_no_new_privs(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 ? -1 : 0;
}

/* cap_last - /proc/sys/kernel/cap_last_cap, or 40 if unreadable */
static int cap_last(void)
{
	char b[16];
	ssize_t n;
	long v;
	char *end;
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 40;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return 40;
	b[n] = '\0';
	errno = 0;
	v = strtol(b, &end, 10);
	if (errno != 0 || end == b || v < 0 || v > 63)
		return 40;
	return (int)v;
}

/* sandbox_drop_bounding - empty the capability bounding set; 1 if the
 * process may not (no CAP_SETPCAP) */
int sandbox_drop_bounding(void)
{
	int cap, last = cap_last();

	for (cap = 0; cap <= last; cap++) {
		int in = prctl(PR_CAPBSET_READ, (long)cap, 0L, 0L, 0L);

		if (in < 0 && errno == EINVAL)
			break;		/* beyond what this kernel knows */
		if (in < 0)
			return -1;
		if (in == 0)
			continue;	/* already gone: needs no privilege */
		if (prctl(PR_CAPBSET_DROP, (long)cap, 0L, 0L, 0L) < 0) {
			if (errno == EPERM)
				return 1;
			if (errno == EINVAL)
				break;
			return -1;
		}
	}
	return 0;
}

/* sandbox_system_ro - the worker's fixed read-only paths */
const char *const *sandbox_system_ro(size_t *n)
{
	*n = sizeof(system_ro) / sizeof(system_ro[0]);
	return system_ro;
}

/* sandbox_system_rw - the worker's read+write device files */
const char *const *sandbox_system_rw(size_t *n)
{
	*n = sizeof(system_rw) / sizeof(system_rw[0]);
	return system_rw;
}

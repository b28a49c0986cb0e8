/* sandbox - the worker's confinement: a Landlock file-system ruleset,
 * PR_SET_NO_NEW_PRIVS and an empty capability bounding set.
 *
 * Landlock is used through syscall(2) (no library).  The ruleset handles
 * every file-system access right the running kernel's ABI knows (up to
 * ABI 5: TRUNCATE, IOCTL_DEV); network rights and scopes are left
 * unhandled, so the worker connects and listens freely.
 *
 * Landlock confines the calling thread only (and what it forks/execs
 * later): apply it before the worker starts any thread.  Rules attach to
 * inodes, not names: a file that is later replaced by rename (an editor,
 * a DHCP client rewriting /etc/resolv.conf) is no longer covered, while
 * anything beneath a covered directory is.
 */
#ifndef MAILPORT_PRIV_SANDBOX_H
#define MAILPORT_PRIV_SANDBOX_H

#include <stddef.h>

#include "util/buf.h"

struct sandbox_rules {
	/* directory fds: full access beneath (read, write, create and remove
	 * files and directories, rename and link within (REFER), truncate,
	 * make sockets); no execute, no device nodes, fifos or symlinks */
	const int *rw_dirs;
	size_t nrw;
	/* files or directories, read-only; a missing path is skipped */
	const char *const *ro_paths;
	size_t nro;
	/* also allow EXECUTE of regular files under ro_paths (ASan's
	 * symbolizer) */
	int ro_exec;
	/* single files opened read+write (and truncate), e.g. /dev/null; a
	 * missing path is skipped */
	const char *const *rw_files;
	size_t nrwf;
};

/* sandbox_landlock - restrict the calling thread to r.  1: applied (*abi,
 * if abi is not NULL, gets the kernel's Landlock ABI version); 0: the
 * kernel lacks Landlock or has it disabled (why says which; nothing
 * changed); -1: error (why says what; nothing changed).  Unless the
 * caller holds CAP_SYS_ADMIN, call sandbox_no_new_privs first. */
int sandbox_landlock(const struct sandbox_rules *r, int *abi, buf_t *why);

/* sandbox_landlock_abi - the kernel's Landlock ABI version, or 0 when it
 * has none (ENOSYS, EOPNOTSUPP) */
int sandbox_landlock_abi(void);

/* sandbox_no_new_privs - prctl(PR_SET_NO_NEW_PRIVS): 0, or -1 with errno */
int sandbox_no_new_privs(void);

/* sandbox_drop_bounding - drop every capability (0..cap_last_cap) from the
 * bounding set: 0 done; 1 not dropped because the process lacks
 * CAP_SETPCAP (EPERM: not an error, e.g. under systemd's own bounding
 * set); -1 other error with errno */
int sandbox_drop_bounding(void);

/* sandbox_system_ro - the worker's fixed read-only list (system libraries,
 * CA store, resolver and time-zone files, /proc, CPU counts); never /etc
 * as a whole, key files or the config directory; *n gets its length */
const char *const *sandbox_system_ro(size_t *n);

/* sandbox_system_rw - the worker's read+write files (/dev/null,
 * /dev/urandom, /dev/random); *n gets its length */
const char *const *sandbox_system_rw(size_t *n);

#endif

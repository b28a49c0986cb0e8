/* scfilter - the worker's seccomp filter (libseccomp): only the system
 * calls the worker uses are allowed.
 *
 * Any other call does not kill the worker: it fails with EPERM, and its
 * number is noted (by a SIGSYS handler) so the worker can log it
 * ("seccomp denied syscall=NAME") and an admin can tell what happened.
 * Not in the list, among others: execve/execveat (no program is ever run),
 * the set*id calls, mount, unshare, setns, bpf, keyctl, userfaultfd,
 * perf_event_open, ptrace (only in sanitizer builds, for LeakSanitizer).
 * Applies to the calling thread and the threads it starts later: call it
 * before the worker starts any thread, after no_new_privs.
 */
#ifndef MAILPORT_PRIV_SCFILTER_H
#define MAILPORT_PRIV_SCFILTER_H

#include <stddef.h>

#include "util/buf.h"

/* scfilter_apply - load the filter; 0, or -1 with the reason in why */
int scfilter_apply(buf_t *why);

/* scfilter_denied - the system calls denied since the last call, as
 * "name name ..." appended to out; how many there were */
size_t scfilter_denied(buf_t *out);

/* scfilter_allowed - the allow list (names; a name this kernel does not
 * know is skipped when the filter is built); *n gets its length */
const char *const *scfilter_allowed(size_t *n);

#endif

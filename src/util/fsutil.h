/* fsutil - small file-system helpers (they block: worker threads and
 * start-up only).
 */
#ifndef MAILPORT_UTIL_FSUTIL_H
#define MAILPORT_UTIL_FSUTIL_H

#include <sys/types.h>

#include <stddef.h>

/* write_all - write all n bytes (short writes and EINTR retried); 0 or -1 */
int write_all(int fd, const void *p, size_t n);

/* mkdir_p - create a directory and its parents (mode for new ones) */
int mkdir_p(const char *path, mode_t mode);

#endif

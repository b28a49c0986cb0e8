/* fsutil - small file-system helpers (start-up use: they block).
 */
#ifndef MAILPORT_UTIL_FSUTIL_H
#define MAILPORT_UTIL_FSUTIL_H

#include <sys/types.h>

/* mkdir_p - create a directory and its parents (mode for new ones) */
int mkdir_p(const char *path, mode_t mode);

#endif

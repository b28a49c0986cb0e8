/* listen - binding the listening sockets (done as root, before the
 * privilege drop).
 */
#ifndef MAILPORT_NET_LISTEN_H
#define MAILPORT_NET_LISTEN_H

#include <stddef.h>
#include "conf/config.h"

/* listen_bind_all - socket/bind/listen every address with the given
 * backlog; fds[] gets the non-blocking, close-on-exec descriptors.  On failure logs the address
 * and the error, closes what was opened and returns -1. */
int listen_bind_all(const struct listen_addr *a, size_t n, int backlog, int *fds);

/* listen_bind - one address: the listening fd, or -1 with errno (nothing
 * logged) */
int listen_bind(const struct listen_addr *a, int backlog);

/* sockaddr_text - numeric host text of a socket address ("::1", "127.0.0.1";
 * v4-mapped v6 addresses shown as v4) */
void sockaddr_text(const struct sockaddr *sa, char *out, size_t outsz);

#endif

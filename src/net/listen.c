/* listen - listening sockets and address text.
 *
 * Public: listen_bind_all, sockaddr_text.
 */
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* listen_bind - one listening socket, or -1 with errno */
int listen_bind(const struct listen_addr *a, int backlog)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, backlog) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* listen_bind_all - bind every configured address */
int listen_bind_all(const struct listen_addr *a, size_t n, int backlog, int *fds)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fds[i] = listen_bind(&a[i], backlog);
		if (fds[i] < 0) {
			log_err("listen addr=%s status=failed error=\"%s\"", a[i].text,
				strerror(errno));
			while (i-- > 0)
				close(fds[i]);
			return -1;
		}
		log_info("listen addr=%s backlog=%d status=ok", a[i].text, backlog);
	}
	return 0;
}

/* sockaddr_text - printable numeric address */
void sockaddr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outsz);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
			inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)outsz);
		else
			inet_ntop(AF_INET6, a6, out, (socklen_t)outsz);
	} else {
		snprintf(out, outsz, "unknown");
	}
}

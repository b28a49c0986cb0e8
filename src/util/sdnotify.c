/* sdnotify - the sd_notify(3) protocol: a datagram to $NOTIFY_SOCKET
 * (a path, or an abstract name starting with '@').
 *
 * Public: sd_notify_msg.
 */
#include "util/sdnotify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* sd_notify_msg - send one state string */
int sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t n;
	int fd, rc;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if (n >= sizeof(sun.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

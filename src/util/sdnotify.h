/* sdnotify - tell systemd about readiness (Type=notify) without libsystemd:
 * one datagram to $NOTIFY_SOCKET.  A no-op when not run by systemd.
 */
#ifndef MAILPORT_UTIL_SDNOTIFY_H
#define MAILPORT_UTIL_SDNOTIFY_H

/* sd_notify_msg - send e.g. "READY=1" or "STOPPING=1"; 0, or -1 */
int sd_notify_msg(const char *msg);

#endif

/* parent - `mailport serve`, the privileged half of the daemon.
 *
 * Two processes (privilege separation, as OpenSMTPD does it, kept small):
 *   mailport serve   root: reads the config, the tables and the TLS keys
 *                    (at start and on every reload), binds the listening
 *                    sockets, makes the spool and the mailbox root, starts
 *                    and restarts the worker; never reads the network.
 *   mailport worker  the mail user, no capabilities, no_new_privs, in a
 *                    Landlock sandbox: sessions, queue, delivery, control
 *                    socket.  It gets the bytes of the files and the
 *                    sockets over a socketpair (priv/proto.h).
 * Not started as root, both run as the invoking user (same split, no
 * privilege change).
 */
#ifndef MAILPORT_PRIV_PARENT_H
#define MAILPORT_PRIV_PARENT_H

/* parent_main - run the daemon on the config at path (NULL: the embedded
 * default) until SIGTERM/SIGINT; the exit status */
int parent_main(const char *path);

#endif

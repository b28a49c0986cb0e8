/* session - one SMTP server session: the command state machine (RFC 5321),
 * PIPELINING (RFC 2920), DATA and BDAT (RFC 3030), streaming the message
 * into the queue.
 */
#ifndef MAILPORT_SERVER_SESSION_H
#define MAILPORT_SERVER_SESSION_H

#include <sys/socket.h>
#include "conf/config.h"

struct bufferevent;
struct server;
struct session;

/* session_new - take over an accepted socket from a listener of the given
 * role; reject_reply is 0, or a reply id (R_CONN_PER_IP, R_CONN_TOTAL) to
 * send before closing */
struct session *session_new(struct server *srv, int fd, const struct sockaddr *sa,
			    socklen_t salen, enum listen_role role, int reject_reply);

/* session_attach - run a session on a ready bufferevent (taken over, freed
 * with the session); tls: the bufferevent is already a TLS one (implicit
 * TLS).  The server's accept path and the unit tests (bufferevent pairs)
 * both come through here. */
struct session *session_attach(struct server *srv, struct bufferevent *bev, int tls,
			       const struct sockaddr *sa, socklen_t salen,
			       enum listen_role role, int reject_reply);

/* session_shutdown - the server is stopping: close now if idle, else after
 * the current command */
void session_shutdown(struct session *s);

/* session_kill - close at once (grace period over); an unacknowledged
 * message is dropped.  A session waiting for its commit is left alone: it
 * answers when the commit is done and then closes. */
void session_kill(struct session *s);

/* session_peer - the client's address, for connection accounting */
const struct sockaddr *session_peer(const struct session *s);

/* session_closing - the session has said its last word (not counted
 * against the per-address limit any more) */
int session_closing(const struct session *s);

#endif

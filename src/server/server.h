/* server - the SMTP listeners and the set of live sessions: accepting,
 * connection limits, reload and graceful shutdown.
 */
#ifndef MAILPORT_SERVER_SERVER_H
#define MAILPORT_SERVER_SERVER_H

#include <stddef.h>

struct event_base;
struct sockaddr;
struct config;
struct queue;
struct server;
struct session;

/* server_new - start accepting on the bound, listening fds, each with its
 * role (enum listen_role); the server takes a reference to cfg */
struct server *server_new(struct event_base *base, struct config *cfg,
			  struct queue *q, const int *fds, const int *roles, size_t nfds);

/* server_set_config - use cfg for new sessions (takes a reference) */
void server_set_config(struct server *srv, struct config *cfg);

/* server_shutdown - stop accepting, end idle sessions with 421, let busy
 * ones finish their current command (at most grace seconds), then call
 * done(arg) once no session is left */
void server_shutdown(struct server *srv, unsigned grace, void (*done)(void *), void *arg);

void server_free(struct server *srv);

/* for session.c */
struct config *server_config(struct server *srv);
struct queue *server_queue(struct server *srv);
struct event_base *server_base(struct server *srv);
int server_shutting_down(const struct server *srv);
void server_session_gone(struct server *srv, struct session *s);
struct workpool *server_workpool(struct server *srv);

/* server_auth_failure - count a failed AUTH from this address;
 * server_auth_blocked - too many lately (AUTH_IP_FAILURES in
 * AUTH_IP_WINDOW seconds): refuse AUTH from it for a while */
void server_auth_failure(struct server *srv, const struct sockaddr *sa);
int server_auth_blocked(struct server *srv, const struct sockaddr *sa);

#endif

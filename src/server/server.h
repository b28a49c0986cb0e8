/* server - the SMTP listeners and the set of live sessions: accepting,
 * connection limits, reload and graceful shutdown.
 */
#ifndef MAILPORT_SERVER_SERVER_H
#define MAILPORT_SERVER_SERVER_H

#include <stddef.h>
#include <sys/socket.h>

struct bufferevent;
struct event_base;
struct sockaddr;
struct config;
struct queue;
struct server;
struct session;

/* server_new - start accepting on the bound, listening fds (taken: closed
 * on failure too), each with its role (enum listen_role); the server takes
 * a reference to cfg */
struct server *server_new(struct event_base *base, struct config *cfg,
			  struct queue *q, const int *fds, const int *roles, size_t nfds);

/* server_set_listeners - accept on fds instead of the old listeners
 * (closed); the fds are taken in every case (closed on failure: -1) */
int server_set_listeners(struct server *srv, const int *fds, const int *roles, size_t nfds);

/* server_set_config - use cfg for new sessions (takes a reference) */
void server_set_config(struct server *srv, struct config *cfg);

/* server_shutdown - stop accepting, end idle sessions with 421, let busy
 * ones finish their current command (at most grace seconds), then call
 * done(arg) once no session is left */
void server_shutdown(struct server *srv, unsigned grace, void (*done)(void *), void *arg);

void server_free(struct server *srv);

/* server_attach - run a session on a ready bufferevent as if it had been
 * accepted from sa on a listener of role (enum listen_role); NULL on
 * failure (bev is freed) */
struct session *server_attach(struct server *srv, struct bufferevent *bev,
			      const struct sockaddr *sa, socklen_t salen, int role);

/* for session.c */
struct config *server_config(struct server *srv);
struct queue *server_queue(struct server *srv);
struct event_base *server_base(struct server *srv);
int server_shutting_down(const struct server *srv);
void server_session_gone(struct server *srv, struct session *s);
struct workpool *server_workpool(struct server *srv);

/* The per-address AUTH limit (AUTH_IP_FAILURES attempts in AUTH_IP_WINDOW
 * seconds): server_auth_begin counts an attempt as it starts (-1: the
 * address is blocked, refuse it), server_auth_success takes a successful
 * one back, server_auth_blocked asks without counting. */
int server_auth_begin(struct server *srv, const struct sockaddr *sa);
void server_auth_success(struct server *srv, const struct sockaddr *sa);
int server_auth_blocked(struct server *srv, const struct sockaddr *sa);

/* server_same_client - the same client for the per-address limits (IPv6
 * addresses of one /64 are one client) */
int server_same_client(const struct sockaddr *a, const struct sockaddr *b);

#endif

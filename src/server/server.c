/* server - listeners and the set of live sessions.
 *
 * Public: server_new, server_set_config, server_shutdown, server_free and
 * the accessors session.c uses.
 * Invariants: every live session is in sess[]; connection limits are
 * checked against it at accept time (CHECKLIST C: per-address and total
 * limits answer 421 and close).
 */
#include "server/server.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf/config.h"
#include "net/listen.h"
#include "server/session.h"
#include "smtp/reply.h"
#include "util/log.h"
#include "util/work.h"

#define AUTH_IP_SLOTS 256	/* addresses remembered for AUTH failures */
#define AUTH_IP_FAILURES 10	/* failures from one address ... */
#define AUTH_IP_WINDOW 900	/* ... within this many seconds: blocked */
#define VERIFY_THREADS 2

/* Recent AUTH failures of one client address (CHECKLIST E: per-IP limit
 * across connections). */
struct auth_slot {
	unsigned char key[16];
	size_t keylen;
	unsigned count;		/* attempts that failed or are being checked */
	time_t first;
};

struct listener {
	struct server *srv;
	struct evconnlistener *l;
	enum listen_role role;
};

struct server {
	struct event_base *base;
	struct config *cfg;
	struct queue *q;
	struct listener *ls;
	size_t nls;
	struct workpool *verify;
	struct auth_slot auth[AUTH_IP_SLOTS];
	struct session **sess;
	size_t n, cap;
	int stopping;
	struct event *grace;
	void (*done)(void *);
	void *done_arg;
};

/* addr_key - the bytes that identify a client for the per-address limits:
 * an IPv4 address (v4-mapped IPv6 as IPv4), or the /64 prefix of an IPv6
 * one (one host usually holds a whole /64) */
static size_t addr_key(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, &a->s6_addr[12], 4);
			return 4;
		}
		memcpy(out, a, 8);
		return 8;
	}
	return 0;
}

/* server_same_client - do two addresses count as one client? */
int server_same_client(const struct sockaddr *a, const struct sockaddr *b)
{
	unsigned char ka[16], kb[16];
	size_t la = addr_key(a, ka);

	return la == addr_key(b, kb) && memcmp(ka, kb, la) == 0;
}

/* count_from - live sessions from the same client address */
static size_t count_from(const struct server *srv, const struct sockaddr *sa)
{
	size_t i, n = 0;

	for (i = 0; i < srv->n; i++)
		if (!session_closing(srv->sess[i]) &&
		    server_same_client(session_peer(srv->sess[i]), sa))
			n++;
	return n;
}

/* reserve_slot - room for one more session in sess[] */
static int reserve_slot(struct server *srv)
{
	size_t ncap;
	struct session **v;

	if (srv->n < srv->cap)
		return 0;
	ncap = srv->cap ? srv->cap * 2 : 64;
	v = realloc(srv->sess, ncap * sizeof(*v));
	if (!v)
		return -1;
	srv->sess = v;
	srv->cap = ncap;
	return 0;
}

/* accept_reject - the reply that refuses a new connection from sa, or 0 */
static int accept_reject(const struct server *srv, const struct sockaddr *sa)
{
	if (srv->n >= srv->cfg->max_connections)
		return R_CONN_TOTAL;
	if (count_from(srv, sa) >= srv->cfg->max_connections_per_ip)
		return R_CONN_PER_IP;
	return 0;
}

/* on_accept - a new connection */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct listener *li = arg;
	struct server *srv = li->srv;
	struct session *s;

	(void)l;
	if (reserve_slot(srv) < 0) {
		evutil_closesocket(fd);
		return;
	}
	s = session_new(srv, fd, sa, (socklen_t)salen, li->role, accept_reject(srv, sa));
	if (s)
		srv->sess[srv->n++] = s;
}

/* server_attach - a session on a ready bufferevent, counted like an
 * accepted connection (unit tests drive sessions through bufferevent
 * pairs this way) */
struct session *server_attach(struct server *srv, struct bufferevent *bev,
			      const struct sockaddr *sa, socklen_t salen, int role)
{
	struct session *s;

	if (reserve_slot(srv) < 0) {
		bufferevent_free(bev);
		return NULL;
	}
	s = session_attach(srv, bev, 0, sa, salen, (enum listen_role)role,
			   accept_reject(srv, sa));
	if (s)
		srv->sess[srv->n++] = s;
	return s;
}

/* on_listen_error - accept failed (EMFILE and the like): log, go on */
static void on_listen_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	log_warn("accept status=failed error=\"%s\"",
		 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* open_listeners - a listener array for the sockets, which it takes:
 * they close with it, or at once when it cannot be made (NULL) */
static struct listener *open_listeners(struct server *srv, const int *fds, const int *roles,
				       size_t nfds)
{
	struct listener *ls = calloc(nfds ? nfds : 1, sizeof(*ls));
	size_t i, made = 0;

	for (i = 0; ls && i < nfds; i++) {
		struct listener *li = &ls[i];

		li->srv = srv;
		li->role = (enum listen_role)roles[i];
		/* backlog 0: the socket already listens with the configured
		 * backlog (-1 would call listen() again with 128) */
		li->l = evconnlistener_new(srv->base, on_accept, li, LEV_OPT_CLOSE_ON_FREE, 0, fds[i]);
		if (!li->l)
			break;
		evconnlistener_set_error_cb(li->l, on_listen_error);
		made++;
	}
	if (ls && made == nfds)
		return ls;
	for (i = 0; i < nfds; i++) {
		if (i < made)
			evconnlistener_free(ls[i].l);
		else
			close(fds[i]);
	}
	free(ls);
	return NULL;
}

/* server_new - listen on the given sockets */
struct server *server_new(struct event_base *base, struct config *cfg,
			  struct queue *q, const int *fds, const int *roles, size_t nfds)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->base = base;
	srv->q = q;
	srv->cfg = cfg;
	config_ref(cfg);
	srv->verify = workpool_new(base, VERIFY_THREADS);
	if (srv->verify)
		srv->ls = open_listeners(srv, fds, roles, nfds);
	if (!srv->ls) {
		server_free(srv);
		return NULL;
	}
	srv->nls = nfds;
	return srv;
}

/* server_set_listeners - accept on these sockets from now on, in place of
 * the old ones (closed); -1 (nothing changed, the new sockets closed) when
 * they cannot be used or the server is stopping */
int server_set_listeners(struct server *srv, const int *fds, const int *roles, size_t nfds)
{
	struct listener *ls;
	size_t i;

	if (srv->stopping) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return -1;
	}
	ls = open_listeners(srv, fds, roles, nfds);
	if (!ls)
		return -1;
	for (i = 0; i < srv->nls; i++)
		evconnlistener_free(srv->ls[i].l);
	free(srv->ls);
	srv->ls = ls;
	srv->nls = nfds;
	return 0;
}

/* server_set_config - new sessions use cfg */
void server_set_config(struct server *srv, struct config *cfg)
{
	config_ref(cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
}

/* close_listeners - stop accepting */
static void close_listeners(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->nls; i++)
		evconnlistener_free(srv->ls[i].l);
	srv->nls = 0;
}

/* kill_sessions - close every session at once, except those waiting for
 * their commit: they get their reply when it completes, then close */
static void kill_sessions(struct server *srv)
{
	size_t i = srv->n;

	/* downwards: a freed session's slot takes the last one, already seen */
	while (i-- > 0)
		if (i < srv->n)
			session_kill(srv->sess[i]);
}

/* on_grace - the grace period is over (or nothing was left): kill the
 * rest; done() runs once the last session is gone */
static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	kill_sessions(srv);
	if (srv->n == 0 && srv->done) {
		void (*done)(void *) = srv->done;

		srv->done = NULL;
		done(srv->done_arg);
	}
}

/* server_shutdown - graceful stop */
void server_shutdown(struct server *srv, unsigned grace, void (*done)(void *), void *arg)
{
	struct timeval tv = { (time_t)grace, 0 };
	size_t i;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	srv->done = done;
	srv->done_arg = arg;
	close_listeners(srv);
	for (i = 0; i < srv->n; i++)
		session_shutdown(srv->sess[i]);
	srv->grace = evtimer_new(srv->base, on_grace, srv);
	if (!srv->grace) {
		done(arg);
		return;
	}
	if (srv->n == 0)
		tv.tv_sec = 0;
	evtimer_add(srv->grace, &tv);
}

/* server_session_gone - a session freed itself */
void server_session_gone(struct server *srv, struct session *s)
{
	size_t i;

	for (i = 0; i < srv->n; i++) {
		if (srv->sess[i] == s) {
			srv->sess[i] = srv->sess[--srv->n];
			break;
		}
	}
	if (srv->stopping && srv->n == 0 && srv->done && srv->grace) {
		struct timeval now = { 0, 0 };

		evtimer_add(srv->grace, &now);	/* finish from the loop */
	}
}

/* server_free - free listeners and state.  Sessions still alive are
 * killed; those waiting for a commit or a password check are waited for
 * (the loop runs until their callbacks came back), so no callback ever
 * finds the server freed. */
void server_free(struct server *srv)
{
	if (!srv)
		return;
	close_listeners(srv);
	srv->done = NULL;
	for (;;) {
		kill_sessions(srv);
		if (srv->n == 0)
			break;
		event_base_loop(srv->base, EVLOOP_ONCE);
	}
	workpool_free(srv->verify);
	if (srv->grace)
		event_free(srv->grace);
	free(srv->ls);
	free(srv->sess);
	config_unref(srv->cfg);
	free(srv);
}

struct config *server_config(struct server *srv) { return srv->cfg; }
struct queue *server_queue(struct server *srv) { return srv->q; }
struct event_base *server_base(struct server *srv) { return srv->base; }
int server_shutting_down(const struct server *srv) { return srv->stopping; }
struct workpool *server_workpool(struct server *srv) { return srv->verify; }

/* auth_slot_for - the slot of this address (create: take the oldest) */
static struct auth_slot *auth_slot_for(struct server *srv, const struct sockaddr *sa,
				       int create)
{
	unsigned char k[16];
	size_t kl = addr_key(sa, k), i;
	struct auth_slot *oldest = &srv->auth[0];
	time_t now = time(NULL);

	for (i = 0; i < AUTH_IP_SLOTS; i++) {
		struct auth_slot *a = &srv->auth[i];

		if (a->count && now - a->first > AUTH_IP_WINDOW)
			a->count = 0;	/* forgotten */
		if (a->count && a->keylen == kl && memcmp(a->key, k, kl) == 0)
			return a;
		if (!a->count || (oldest->count && a->first < oldest->first))
			oldest = a;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	memcpy(oldest->key, k, kl);
	oldest->keylen = kl;
	oldest->first = now;
	return oldest;
}

/* server_auth_begin - a password check from sa starts: refuse it when the
 * address has used up its attempts, else count it now (before the check
 * runs, so parallel connections cannot race past the limit) */
int server_auth_begin(struct server *srv, const struct sockaddr *sa)
{
	struct auth_slot *a = auth_slot_for(srv, sa, 1);
	char ip[64];

	if (a->count >= AUTH_IP_FAILURES)
		return -1;
	if (++a->count == AUTH_IP_FAILURES) {
		sockaddr_text(sa, ip, sizeof(ip));
		log_warn("auth status=blocked client=%s failures=%u window=%d", ip, a->count,
			 AUTH_IP_WINDOW);
	}
	return 0;
}

/* server_auth_success - the check begun by server_auth_begin succeeded:
 * it does not count */
void server_auth_success(struct server *srv, const struct sockaddr *sa)
{
	struct auth_slot *a = auth_slot_for(srv, sa, 0);

	if (a && a->count > 0)
		a->count--;
}

/* server_auth_blocked - too many recent attempts from sa? */
int server_auth_blocked(struct server *srv, const struct sockaddr *sa)
{
	struct auth_slot *a = auth_slot_for(srv, sa, 0);

	return a && a->count >= AUTH_IP_FAILURES;
}

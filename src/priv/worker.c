/* worker - `mailport worker`: the unprivileged half of the daemon.
 *
 * Public: worker_main.
 * The parent (priv/parent.c) starts it as the mail user with its
 * socketpair on fd 3, no capabilities and no_new_privs set.  Everything
 * comes over that socketpair (priv/proto.h): the first CONFIG message
 * carries the bytes of every file of the config (conf/cfiles.h), the
 * spool and mailbox directories and the listening sockets.  The worker
 * parses the bytes, shuts itself into a Landlock sandbox (read-write: the
 * spool and the mailboxes; read-only: system libraries, the CA store and
 * the resolver files; nothing else: not the config, not a key), then runs
 * the sessions, the queue, the delivery agents and the control socket on
 * one event loop.
 * Reload: a reload request (control socket or SIGHUP) goes to the parent;
 * the parent answers with a new CONFIG (or RELOAD_FAILED); the worker
 * parses it on a helper thread (the loop never waits) and swaps it in:
 * new sessions use it, new listening sockets replace the old ones.
 * Stop: SIGTERM/SIGINT or the parent gone (EOF): stop accepting, drain the
 * sessions (grace period, commits finish), wait for a reload in flight,
 * leave the loop, free.
 */
#include "priv/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "conf/cfiles.h"
#include "conf/config.h"
#include "ctl/ctl.h"
#include "deliver/local.h"
#include "deliver/smtp.h"
#include "dns/dns.h"
#include "priv/chan.h"
#include "priv/proto.h"
#include "priv/sandbox.h"
#include "priv/scfilter.h"
#include "queue/queue.h"
#include "server/policy.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/work.h"

#define SHUTDOWN_GRACE 10	/* seconds for sessions mid-command */
/* Worker threads: the disk work (receiving, Maildir delivery, status
 * records) is fsync-bound, so more threads overlap more syncs
 * (bench/RESULTS.md: 8 delivery threads deliver ~1.5x faster than 2 on the
 * 2-core test machine).  One pool does all of it; password hashing has its
 * own (server.c), so a burst of logins never starves the disk. */
#define POOL_THREADS 16
#define SELF_RELOAD_ID 0xffffffffu	/* a reload asked by SIGHUP: no client */

static const struct timeval denied_every = { 10, 0 };	/* seccomp log check */

/* A CONFIG from the parent waiting to be applied, or being applied. */
struct pending {
	struct pending *next;
	struct proto_config pc;
	int *fds;			/* spool, mailboxes, listeners */
	size_t nfds;
	struct config *cfg;		/* parsed by the reload thread */
	buf_t errors;
};

struct worker {
	struct event_base *base;
	struct chan *ch;		/* to the parent */
	struct config *cfg;
	struct server *srv;
	struct queue *q;
	struct workpool *pool;		/* the delivery side's disk work */
	struct agent *local;
	struct agent *remote;
	struct dns *dns;
	struct ctl *ctl;		/* the control socket (mailport queue) */
	int spool_fd, mail_fd;
	int local_fd;			/* the sendmail socket, -1: none */
	struct proto_listen *listen;	/* the listeners in use */
	size_t nlisten;
	struct event *sig[3];
	struct event *reload_done;
	struct event *denied_ev;	/* checks for refused system calls */
	pthread_mutex_t lock;		/* d->cfg for route() on workers */
	struct pending *queue, *applying;
	pthread_t reload_thr;
	int reloading;			/* a reload thread runs (loop thread only) */
	int started;			/* the first CONFIG was applied */
	int stopping;			/* SIGTERM/SIGINT/EOF seen */
	int drained;			/* ... and every session is gone */
	int rc;
};

/* pending_free - a CONFIG and whatever it still holds */
static void pending_free(struct pending *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nfds; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	free(p->fds);
	proto_config_free(&p->pc);
	if (p->cfg)
		config_unref(p->cfg);
	buf_free(&p->errors);
	free(p);
}

/* parse - the config in p's files (any thread) */
static void parse(struct pending *p)
{
	const char *path = p->pc.path[0] ? p->pc.path : NULL;

	p->cfg = config_load_from(&p->pc.files, path, &p->errors);
	if (p->cfg && config_load_tls_from(p->cfg, &p->pc.files, &p->errors) < 0) {
		config_unref(p->cfg);
		p->cfg = NULL;
	}
}

/* maybe_exit - the last step of the stop sequence: once the sessions are
 * drained (their commits finished) and no reload is in flight, leave the
 * loop; the queue and the server are freed after it */
static void maybe_exit(struct worker *w)
{
	if (w->stopping && (w->drained || !w->srv) && !w->reloading)
		event_base_loopexit(w->base, NULL);
}

/* on_drained - every session is gone: go on with the stop sequence */
static void on_drained(void *arg)
{
	struct worker *w = arg;

	w->drained = 1;
	maybe_exit(w);
}

/* begin_stop - the stop sequence (once) */
static void begin_stop(struct worker *w, const char *why)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("stop reason=\"%s\"", why);
	if (w->srv)
		server_shutdown(w->srv, SHUTDOWN_GRACE, on_drained, w);
	else
		maybe_exit(w);
}

/* same_str - two optional strings equal? */
static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* same_delivery - the settings the queue and the agents took at start */
static int same_delivery(const struct config *a, const struct config *b)
{
	return same_str(a->smarthost, b->smarthost) && same_str(a->smarthost_user, b->smarthost_user) &&
	       same_str(a->smarthost_password, b->smarthost_password) &&
	       same_str(a->dns_servers, b->dns_servers) && same_str(a->tls_ca_file, b->tls_ca_file) &&
	       a->tls_outbound == b->tls_outbound && a->retry_min == b->retry_min &&
	       a->retry_max == b->retry_max && a->max_lifetime == b->max_lifetime &&
	       a->delay_warning == b->delay_warning && a->smtp_port == b->smtp_port &&
	       a->smtp_max_connections == b->smtp_max_connections &&
	       a->smtp_per_destination == b->smtp_per_destination &&
	       a->smtp_connect_timeout == b->smtp_connect_timeout &&
	       a->smtp_command_timeout == b->smtp_command_timeout &&
	       a->smtp_data_timeout == b->smtp_data_timeout &&
	       a->smtp_dot_timeout == b->smtp_dot_timeout;
}

/* same_listen - the listeners of a CONFIG are the ones in use? */
static int same_listen(const struct worker *w, const struct proto_config *pc)
{
	size_t i;

	if (pc->nlisten != w->nlisten)
		return 0;
	for (i = 0; i < pc->nlisten; i++)
		if (pc->listen[i].role != w->listen[i].role ||
		    strcmp(pc->listen[i].text, w->listen[i].text) != 0)
			return 0;
	return 1;
}

/* keep_listen - remember the listeners of pc as the ones in use */
static int keep_listen(struct worker *w, const struct proto_config *pc)
{
	struct proto_listen *l = calloc(pc->nlisten ? pc->nlisten : 1, sizeof(*l));

	if (!l)
		return -1;
	memcpy(l, pc->listen, pc->nlisten * sizeof(*l));
	free(w->listen);
	w->listen = l;
	w->nlisten = pc->nlisten;
	return 0;
}

/* listener_set - the network listeners of p (taken from it) and the
 * sendmail socket (a duplicate) with their roles; the count, or -1 */
static ssize_t listener_set(struct worker *w, struct pending *p, int *fds, int *roles)
{
	size_t i, n = 0;

	for (i = 0; i < p->pc.nlisten; i++) {
		fds[n] = p->fds[2 + i];
		p->fds[2 + i] = -1;
		roles[n++] = (int)p->pc.listen[i].role;
	}
	if (w->local_fd >= 0) {
		fds[n] = fcntl(w->local_fd, F_DUPFD_CLOEXEC, 0);
		if (fds[n] < 0) {
			while (n-- > 0)
				close(fds[n]);
			return -1;
		}
		roles[n++] = ROLE_LOCAL;
	}
	return (ssize_t)n;
}

/* swap_listeners - accept on p's sockets when they differ from ours */
static int swap_listeners(struct worker *w, struct pending *p)
{
	int fds[PROTO_MAX_LISTEN + 1], roles[PROTO_MAX_LISTEN + 1];
	ssize_t n;

	if (same_listen(w, &p->pc))
		return 0;
	n = listener_set(w, p, fds, roles);
	if (n < 0 || server_set_listeners(w->srv, fds, roles, (size_t)n) < 0 ||
	    keep_listen(w, &p->pc) < 0)
		return -1;
	log_info("reload listeners=%zu", p->pc.nlisten);
	return 0;
}

/* reload_result - log a reload's outcome and answer its client */
static void reload_result(struct worker *w, unsigned id, const char *status, const char *text)
{
	/* our own text (client bytes in it are escaped where they were
	 * read); the logger escapes control characters */
	if (strcmp(status, "ok") == 0)
		log_info("reload status=ok%s%s%s", text && *text ? " notes=\"" : "",
			 text && *text ? text : "", text && *text ? "\"" : "");
	else if (strcmp(status, "partial") == 0)
		log_warn("reload status=partial tls=kept error=\"%s\"", text);
	else
		log_err("reload status=failed errors=\"%s\"", text);
	ctl_reload_done(w->ctl, id, status, text);
}

/* apply - swap in a parsed CONFIG (loop thread) */
static void apply(struct worker *w, struct pending *p)
{
	struct config *c = p->cfg;
	buf_t notes;

	if (!c) {
		reload_result(w, p->pc.id, "failed", p->errors.data ? p->errors.data : "");
		return;
	}
	buf_init(&notes);
	if (strcmp(c->spool, w->cfg->spool) || strcmp(c->mailboxes, w->cfg->mailboxes))
		buf_puts(&notes, "spool and mailboxes changes need a restart\n");
	if (strcmp(c->user, w->cfg->user))
		buf_puts(&notes, "a user change needs a restart\n");
	if (!same_delivery(c, w->cfg))
		buf_puts(&notes, "[relay] smarthost, [dns], [tls] outbound, [queue] and [smtp] changes "
				 "need a restart\n");
	if (swap_listeners(w, p) < 0) {
		reload_result(w, p->pc.id, "failed", "the new listening sockets cannot be used");
		buf_free(&notes);
		return;
	}
	server_set_config(w->srv, c);
	pthread_mutex_lock(&w->lock);	/* route() reads w->cfg on workers */
	config_unref(w->cfg);
	w->cfg = c;
	pthread_mutex_unlock(&w->lock);
	p->cfg = NULL;
	log_set_level(c->log_debug ? LOG_DEBUG : LOG_INFO);
	if (notes.len)
		notes.data[--notes.len] = '\0';	/* the last LF */
	if (p->pc.flags & PROTO_TLS_KEPT)
		reload_result(w, p->pc.id, "partial", p->pc.note);
	else
		reload_result(w, p->pc.id, "ok", notes.data ? notes.data : "");
	buf_free(&notes);
}

/* reload_thread - parse the CONFIG off the loop thread */
static void *reload_thread(void *arg)
{
	struct worker *w = arg;

	parse(w->applying);
	event_active(w->reload_done, 0, 0);
	return NULL;
}

/* next_reload - start parsing the oldest waiting CONFIG */
static void next_reload(struct worker *w)
{
	struct pending *p = w->queue;

	if (w->reloading || !p || w->stopping)
		return;
	w->queue = p->next;
	w->applying = p;
	w->reloading = 1;
	if (pthread_create(&w->reload_thr, NULL, reload_thread, w) != 0) {
		w->reloading = 0;
		w->applying = NULL;
		reload_result(w, p->pc.id, "failed", "no thread to parse the config");
		pending_free(p);
	}
}

/* on_reload_done - join the reload thread, swap in the new config */
static void on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct pending *p = w->applying;

	(void)fd;
	(void)what;
	pthread_join(w->reload_thr, NULL);
	w->reloading = 0;
	w->applying = NULL;
	if (w->stopping) {
		log_info("reload status=dropped reason=\"stopping\"");
		ctl_reload_done(w->ctl, p->pc.id, "failed", "the server is stopping");
		pending_free(p);
		maybe_exit(w);
		return;
	}
	apply(w, p);
	pending_free(p);
	next_reload(w);
}

/* ask_reload - a reload request to the parent (ctl's reload hook) */
static void ask_reload(void *arg, unsigned id)
{
	struct worker *w = arg;
	buf_t b;

	buf_init(&b);
	if (w->stopping || !w->ch || proto_reload_req_encode(&b, id) < 0 ||
	    chan_send(w->ch, PROTO_RELOAD_REQ, b.data, b.len, NULL, 0) < 0)
		ctl_reload_done(w->ctl, id, "failed",
				w->stopping ? "the server is stopping" : "cannot reach the parent");
	buf_free(&b);
}

/* on_signal - SIGHUP asks the parent for a reload; SIGTERM/SIGINT stop */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	if (sig == SIGHUP) {
		ask_reload(w, SELF_RELOAD_ID);
		return;
	}
	begin_stop(w, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* local_socket - the sendmail socket <spool>/sendmail.sock: SMTP for local
 * users (any local user may connect; the peer's uid is recorded) */
static int local_socket(const struct config *c)
{
	struct sockaddr_un sun;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sendmail.sock", c->spool);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		log_warn("listen addr=%s/sendmail.sock status=skipped reason=\"path too long\"",
			 c->spool);
		return -1;
	}
	unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(sun.sun_path, 0666) < 0 || listen(fd, (int)c->listen_backlog) < 0) {
		log_warn("listen addr=%s status=failed error=\"%s\"", sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	log_info("listen addr=%s role=local status=ok", sun.sun_path);
	return fd;
}

/* route - the queue's router for the mail it makes (DSNs): the current
 * config's policy; runs on a worker thread, so it takes its own reference
 * to the config under the lock the reload swaps it under */
static int route(void *arg, const char *addr, struct env_rcpt *r)
{
	struct worker *w = arg;
	struct config *c;
	int rc;

	pthread_mutex_lock(&w->lock);
	c = w->cfg;
	config_ref(c);
	pthread_mutex_unlock(&w->lock);
	rc = policy_route(c, addr, r);
	config_unref(c);
	return rc;
}

/* start_remote - the resolver and the remote delivery agent */
static int start_remote(struct worker *w)
{
	const struct config *c = w->cfg;
	struct smtp_agent_conf sc;
	struct dns_conf dc;
	struct sockaddr_storage *self;
	buf_t err;
	size_t i;

	buf_init(&err);
	dns_conf_init(&dc);
	dc.servers = c->dns_servers;
	w->dns = dns_new(w->base, &dc, &err);
	if (!w->dns) {
		log_err("start error=\"dns: %s\"", err.data ? err.data : "cannot start");
		buf_free(&err);
		return -1;
	}
	self = calloc(c->nlisten ? c->nlisten : 1, sizeof(*self));
	if (!self) {
		buf_free(&err);
		return -1;
	}
	for (i = 0; i < c->nlisten; i++)
		self[i] = c->listen[i].ss;
	memset(&sc, 0, sizeof(sc));
	sc.helo_name = c->hostname;
	sc.smarthost = c->smarthost;
	sc.auth_user = c->smarthost_password ? c->smarthost_user : NULL;
	sc.auth_pass = c->smarthost_password;
	sc.port = (unsigned short)c->smtp_port;
	sc.tls = (enum smtpc_tls)c->tls_outbound;
	sc.ca_file = c->tls_ca_file;
	sc.max_connections = c->smtp_max_connections;
	sc.per_destination = c->smtp_per_destination;
	sc.connect_timeout = c->smtp_connect_timeout;
	sc.timeouts[SMTPC_TO_GREETING] = c->smtp_command_timeout;
	sc.timeouts[SMTPC_TO_HELO] = c->smtp_command_timeout;
	sc.timeouts[SMTPC_TO_MAIL] = c->smtp_command_timeout;
	sc.timeouts[SMTPC_TO_RCPT] = c->smtp_command_timeout;
	sc.timeouts[SMTPC_TO_DATA] = c->smtp_data_timeout;
	sc.timeouts[SMTPC_TO_BLOCK] = c->smtp_data_timeout;
	sc.timeouts[SMTPC_TO_DOT] = c->smtp_dot_timeout;
	sc.self = self;
	sc.nself = c->nlisten;
	w->remote = smtp_agent_new(w->base, w->pool, w->dns, &sc, &err);
	free(self);
	if (!w->remote)
		log_err("start error=\"remote delivery: %s\"", err.data ? err.data : "cannot start");
	buf_free(&err);
	return w->remote ? 0 : -1;
}

/* start_queue - the worker pool, the agents and the queue */
static int start_queue(struct worker *w)
{
	struct queue_opts qo = {
		.spool_fd = w->spool_fd,
		.mail_fd = w->mail_fd,
		.hostname = w->cfg->hostname,
		.route = route,
		.route_arg = w,
	};

	w->pool = workpool_new(w->base, POOL_THREADS);
	w->local = w->pool ? local_agent_new(w->pool, w->mail_fd, w->cfg->hostname) : NULL;
	if (!w->local || start_remote(w) < 0)
		return -1;
	qo.pool = w->pool;
	qo.local = w->local;
	qo.remote = w->remote;
	qo.smarthost = w->cfg->smarthost;
	qo.retry_min = w->cfg->retry_min;
	qo.retry_max = w->cfg->retry_max;
	qo.max_lifetime = w->cfg->max_lifetime;
	qo.delay_warning = w->cfg->delay_warning;
	w->q = queue_new(w->base, &qo);
	if (w->q) {	/* no control socket: logged, mail still flows */
		w->ctl = ctl_new(w->base, w->pool, w->q, w->cfg->spool);
		ctl_set_reload(w->ctl, ask_reload, w);
	}
	return w->q ? 0 : -1;
}

/* stop_queue - the reverse of start_queue: remote connections end (their
 * jobs are deferred), the queue finishes its attempts, then the pool and
 * the agents go */
static void stop_queue(struct worker *w)
{
	ctl_free(w->ctl);	/* first: its jobs read the queue */
	w->ctl = NULL;
	if (w->remote)
		smtp_agent_stop(w->remote);
	queue_free(w->q);
	if (w->pool)
		workpool_free(w->pool);
	smtp_agent_free(w->remote);
	local_agent_free(w->local);
	dns_free(w->dns);
}

/* log_denied - name the system calls the filter refused lately */
static void log_denied(void)
{
	buf_t names;

	buf_init(&names);
	if (scfilter_denied(&names))
		log_warn("seccomp denied syscalls=\"%s\" result=EPERM note=\"[server] seccomp = no "
			 "turns the filter off; please report it\"", names.data);
	buf_free(&names);
}

/* on_denied_check - now and then: were calls refused? */
static void on_denied_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_denied();
}

/* sandbox - shut the worker into its file-system allow list */
static void sandbox(struct worker *w)
{
	const char *ro[64];
	const char *const *sys;
	size_t nsys, nro = 0, i, nrw;
	int rw[2] = { w->spool_fd, w->mail_fd }, abi = 0, r;
	struct sandbox_rules rules;
	buf_t why;

	sys = sandbox_system_ro(&nsys);
	for (i = 0; i < nsys && nro < 63; i++)
		ro[nro++] = sys[i];
	if (w->cfg->tls_ca_file)
		ro[nro++] = w->cfg->tls_ca_file;
	memset(&rules, 0, sizeof(rules));
	rules.rw_dirs = rw;
	rules.nrw = 2;
	rules.ro_paths = ro;
	rules.nro = nro;
	rules.ro_exec = 1;	/* ASan's symbolizer, if any */
	rules.rw_files = sandbox_system_rw(&nrw);
	rules.nrwf = nrw;
	buf_init(&why);
	r = sandbox_landlock(&rules, &abi, &why);
	if (r > 0)
		log_info("sandbox landlock=abi%d no_new_privs=%s", abi,
			 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? "yes" : "no");
	else
		log_warn("sandbox landlock=%s no_new_privs=%s reason=\"%s\"",
			 r == 0 ? "unsupported" : "failed",
			 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? "yes" : "no",
			 why.data ? why.data : "");
	buf_free(&why);
	if (!w->cfg->seccomp) {
		log_info("sandbox seccomp=off");
		return;
	}
	buf_init(&why);
	if (scfilter_apply(&why) == 0) {
		scfilter_allowed(&nrw);
		log_info("sandbox seccomp=on syscalls=%zu", nrw);
		w->denied_ev = event_new(w->base, -1, EV_PERSIST, on_denied_check, w);
		if (w->denied_ev)
			event_add(w->denied_ev, &denied_every);
	} else {
		log_warn("sandbox seccomp=failed reason=\"%s\"", why.data ? why.data : "");
	}
	buf_free(&why);
}

/* start - the first CONFIG: parse it, sandbox, start everything */
static int start(struct worker *w, struct pending *p)
{
	int fds[PROTO_MAX_LISTEN + 1], roles[PROTO_MAX_LISTEN + 1];
	char esc[LOG_ESC_SIZE];
	ssize_t n;

	parse(p);
	if (!p->cfg) {
		log_err("start error=\"%s\"", log_show(esc, p->errors.data ? p->errors.data : ""));
		return -1;
	}
	w->cfg = p->cfg;
	p->cfg = NULL;
	log_set_level(w->cfg->log_debug ? LOG_DEBUG : LOG_INFO);
	w->spool_fd = p->fds[0];
	w->mail_fd = p->fds[1];
	p->fds[0] = p->fds[1] = -1;
	if (getuid() != 0)
		log_info("start user=%s uid=%u", w->cfg->user, (unsigned)getuid());
	sandbox(w);
	w->local_fd = local_socket(w->cfg);
	if (keep_listen(w, &p->pc) < 0 || start_queue(w) < 0)
		return -1;
	n = listener_set(w, p, fds, roles);
	if (n < 0)
		return -1;
	w->srv = server_new(w->base, w->cfg, w->q, fds, roles, (size_t)n);
	if (!w->srv)
		return -1;
	w->started = 1;
	log_info("ready hostname=%s", w->cfg->hostname);
	if (chan_send(w->ch, PROTO_READY, NULL, 0, NULL, 0) < 0)
		return -1;
	return 0;
}

/* on_config - a CONFIG message: the first starts the worker, later ones
 * are reloads, applied one after the other */
static void on_config(struct worker *w, const struct chan_msg *m)
{
	struct pending *p = calloc(1, sizeof(*p)), **tail;
	const char *why = "out of memory";
	size_t i;

	if (!p || proto_config_decode(m, &p->pc, &why) < 0) {
		log_err("parent status=error error=\"bad CONFIG message: %s\"", why);
		for (i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		free(p);
		begin_stop(w, "protocol error");
		return;
	}
	buf_init(&p->errors);
	p->fds = calloc(m->nfds ? m->nfds : 1, sizeof(int));
	if (!p->fds) {
		for (i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		pending_free(p);
		begin_stop(w, "out of memory");
		return;
	}
	memcpy(p->fds, m->fds, m->nfds * sizeof(int));
	p->nfds = m->nfds;
	if (!w->started) {
		if (start(w, p) < 0) {
			w->rc = 1;
			begin_stop(w, "start failed");
		}
		pending_free(p);
		return;
	}
	for (tail = &w->queue; *tail; tail = &(*tail)->next)
		;
	*tail = p;
	next_reload(w);
}

/* on_parent - a message from the parent, or its end */
static void on_parent(void *arg, const struct chan_msg *m)
{
	struct worker *w = arg;
	uint32_t id;
	char *errors = NULL;
	const char *why = "unexpected message";
	size_t i;

	if (!m) {
		log_err("parent status=gone error=\"%s\"", chan_error(w->ch));
		chan_free(w->ch);
		w->ch = NULL;
		begin_stop(w, "parent gone");
		return;
	}
	if (m->type == PROTO_CONFIG) {
		on_config(w, m);
		return;
	}
	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	if (m->type == PROTO_RELOAD_FAILED && m->nfds == 0 &&
	    proto_reload_failed_decode(m, &id, &errors, &why) == 0) {
		ctl_reload_done(w->ctl, id, "failed", errors);
		free(errors);
		return;
	}
	log_err("parent status=error error=\"bad message type=%u: %s\"", (unsigned)m->type, why);
	begin_stop(w, "protocol error");
}

/* channel_fd - is fd 3 the socketpair end a parent gave us? */
static int channel_fd(void)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(WORKER_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -1;
	len = sizeof(domain);
	if (getsockopt(WORKER_FD, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return -1;
	return 0;
}

/* worker_main - mailport worker (started by mailport serve only) */
int worker_main(int argc, char **argv)
{
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct worker w;
	struct pending *p;
	size_t i;

	(void)argv;
	if (argc != 1 || channel_fd() < 0) {
		fprintf(stderr, "mailport worker: this is the unprivileged half of the daemon; it is "
				"started by `mailport serve` only\n");
		return 2;
	}
	/* ps -C mailport: an exec through a descriptor names the process
	 * after the descriptor's number on kernels before 6.13 */
	prctl(PR_SET_NAME, "mailport", 0, 0, 0);
	memset(&w, 0, sizeof(w));
	w.spool_fd = w.mail_fd = w.local_fd = -1;
	pthread_mutex_init(&w.lock, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* OpenSSL reads its config now, before the sandbox closes /etc */
	if (evthread_use_pthreads() < 0 || OPENSSL_init_ssl(0, NULL) != 1)
		return 1;
	w.base = event_base_new();
	if (!w.base)
		return 1;
	w.ch = chan_new(w.base, WORKER_FD, on_parent, &w);
	w.reload_done = event_new(w.base, -1, 0, on_reload_done, &w);
	if (!w.ch || !w.reload_done)
		return 1;
	for (i = 0; i < 3; i++) {
		w.sig[i] = evsignal_new(w.base, signums[i], on_signal, &w);
		evsignal_add(w.sig[i], NULL);
	}
	if (event_base_dispatch(w.base) < 0)
		w.rc = 1;
	if (w.reloading)	/* only if the loop failed: the thread holds w */
		pthread_join(w.reload_thr, NULL);
	pending_free(w.applying);
	while ((p = w.queue) != NULL) {
		w.queue = p->next;
		pending_free(p);
	}
	if (w.srv)
		server_free(w.srv);	/* no session is left: no commit in flight */
	stop_queue(&w);
	if (w.local_fd >= 0)
		close(w.local_fd);
	for (i = 0; i < 3; i++)
		if (w.sig[i])
			event_free(w.sig[i]);
	event_free(w.reload_done);
	if (w.denied_ev) {
		log_denied();
		event_free(w.denied_ev);
	}
	chan_free(w.ch);
	event_base_free(w.base);
	if (w.cfg)
		config_unref(w.cfg);
	free(w.listen);
	if (w.spool_fd >= 0)
		close(w.spool_fd);
	if (w.mail_fd >= 0)
		close(w.mail_fd);
	log_info("stopped");
	return w.rc;
}

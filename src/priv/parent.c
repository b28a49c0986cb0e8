/* parent - `mailport serve`: the privileged half of the daemon.
 *
 * Public: parent_main.
 * The parent keeps root (when started as root) and does only what needs
 * it: read the config, the tables, the smarthost password and the TLS
 * pair (root-only files are fine), bind the listening sockets, make the
 * spool and the mailbox root, and start the worker (priv/worker.c) as the
 * mail user with no capabilities and no_new_privs.  It hands the worker
 * the bytes of every file it read (conf/cfiles.h), the directories and
 * the sockets over a socketpair (priv/proto.h) and never parses a byte
 * from the network: the only input it reads is its own files and the
 * worker's small, validated messages.
 * Reload (SIGHUP, or a request the worker forwards from `mailport
 * reload`): read everything again; a broken file keeps the old config
 * (RELOAD_FAILED with "file:line: ..." goes back); TLS files that cannot
 * be used keep the previous pair while the rest is applied (TLS_KEPT);
 * new listen addresses are bound here and passed down.
 * The worker dies: restart it with back-off (1 s doubling to 60 s; reset
 * once a worker ran for 60 s).  A worker that fails before its first
 * READY stops the daemon (a start failure, as before the split).
 * SIGTERM/SIGINT: SIGTERM to the worker (its ordered shutdown), exit when
 * it is gone (SIGKILL after STOP_TIMEOUT).
 */
#include "priv/parent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/cfiles.h"
#include "conf/config.h"
#include "net/listen.h"
#include "priv/chan.h"
#include "priv/proto.h"
#include "priv/sandbox.h"
#include "priv/worker.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/sdnotify.h"

_Static_assert(CONFIG_MAX_LISTEN <= PROTO_MAX_LISTEN, "listeners fit in one CONFIG");
/* the worker sends only small messages: a bigger frame ends it */
#define FROM_WORKER_MAX 4096

#define BACKOFF_MIN 1		/* seconds before the first restart */
#define BACKOFF_MAX 60
#define STABLE_AFTER 60		/* a worker that ran this long resets it */
#define STOP_TIMEOUT 30		/* seconds for the worker's stop, then KILL */

/* A bound listening socket and the address it is for. */
struct lsock {
	int role;
	char text[80];
	int fd;
};

struct parent {
	struct event_base *base;
	const char *path;		/* the config file, NULL: embedded */
	struct config *cfg;		/* the config in force */
	struct cfiles files;		/* ... and the bytes it was read from */
	uint32_t flags;			/* PROTO_TLS_KEPT while old TLS bytes are in files */
	char *note;			/* why (with PROTO_TLS_KEPT) */
	struct lsock *ls;		/* cfg's listeners, in cfg's order */
	size_t nls;
	int spool_fd, mail_fd;
	int drop;			/* root: the worker runs as uid/gid */
	uid_t uid;
	gid_t gid;
	int exe_fd;			/* this program, for the worker's exec */
	pid_t pid;			/* the worker, 0: none */
	struct chan *ch;
	time_t started;			/* when the worker was started */
	unsigned backoff;		/* seconds before the next restart */
	int ever_ready;			/* some worker got as far as READY */
	int stopping;
	int rc;
	struct event *sig[4];
	struct event *restart_ev;
	struct event *kill_ev;
};

/* ---- the files ---- */

/* load - read the config and everything it names through files
 * (recording); NULL with errors */
static struct config *load(const char *path, struct cfiles *files, buf_t *errors)
{
	files->record = 1;
	return config_load_from(files, path, errors);
}

/* keep_old_tls - put the previous TLS pair's bytes under c's names */
static int keep_old_tls(struct parent *p, struct config *c, struct cfiles *files)
{
	if (!p->cfg || !p->cfg->tls_cert || !c->tls_cert)
		return -1;
	if (cfiles_copy(files, &p->files, p->cfg->tls_cert, c->tls_cert) < 0 ||
	    cfiles_copy(files, &p->files, p->cfg->tls_key, c->tls_key) < 0)
		return -1;
	files->record = 0;	/* check the pair as the worker will load it */
	return config_load_tls_from(c, files, NULL);
}

/* trim_nl - drop trailing LFs */
static void trim_nl(buf_t *b)
{
	while (b->len && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
}

/* ---- the listening sockets ---- */

/* find_lsock - an open socket for the same role and address */
static int find_lsock(const struct parent *p, const struct listen_addr *a)
{
	size_t i;

	for (i = 0; i < p->nls; i++)
		if (p->ls[i].role == (int)a->role && strcmp(p->ls[i].text, a->text) == 0)
			return p->ls[i].fd;
	return -1;
}

/* free_lsocks - close what n sockets of ls are not also in keep */
static void free_lsocks(struct lsock *ls, size_t n, const struct lsock *keep, size_t nkeep)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nkeep && keep[j].fd != ls[i].fd; j++)
			;
		if (j == nkeep)
			close(ls[i].fd);
	}
	free(ls);
}

/* bind_lsocks - the sockets of c: the open ones reused, the others bound;
 * NULL with the reason in errors */
static struct lsock *bind_lsocks(const struct parent *p, const struct config *c, buf_t *errors)
{
	struct lsock *ls = calloc(c->nlisten ? c->nlisten : 1, sizeof(*ls));
	size_t i;

	if (!ls) {
		buf_puts(errors, "out of memory\n");
		return NULL;
	}
	for (i = 0; i < c->nlisten; i++) {
		const struct listen_addr *a = &c->listen[i];

		ls[i].role = (int)a->role;
		snprintf(ls[i].text, sizeof(ls[i].text), "%s", a->text);
		ls[i].fd = find_lsock(p, a);
		if (ls[i].fd >= 0)
			continue;
		ls[i].fd = listen_bind(a, (int)c->listen_backlog);
		if (ls[i].fd < 0) {
			buf_printf(errors, "listen %s: %s\n", a->text, strerror(errno));
			free_lsocks(ls, i, p->ls, p->nls);
			return NULL;
		}
		log_info("listen addr=%s backlog=%u status=ok", a->text, c->listen_backlog);
	}
	return ls;
}

/* ---- talking to the worker ---- */

/* send_config - the config in force, its files, directories and sockets */
static int send_config(struct parent *p, uint32_t id)
{
	struct proto_config pc;
	struct proto_listen *pl;
	int fds[2 + PROTO_MAX_LISTEN];
	size_t i;
	buf_t b;
	int rc;

	if (!p->ch || p->nls > PROTO_MAX_LISTEN)
		return -1;
	pl = calloc(p->nls ? p->nls : 1, sizeof(*pl));
	if (!pl)
		return -1;
	memset(&pc, 0, sizeof(pc));
	pc.id = id;
	pc.flags = p->flags;
	pc.path = (char *)(p->path ? p->path : "");
	pc.note = p->note ? p->note : (char *)"";
	pc.files = p->files;
	pc.nlisten = p->nls;
	pc.listen = pl;
	fds[0] = p->spool_fd;
	fds[1] = p->mail_fd;
	for (i = 0; i < p->nls; i++) {
		pl[i].role = (uint32_t)p->ls[i].role;
		snprintf(pl[i].text, sizeof(pl[i].text), "%s", p->ls[i].text);
		fds[2 + i] = p->ls[i].fd;
	}
	buf_init(&b);
	rc = proto_config_encode(&b, &pc);
	if (rc == 0)
		rc = chan_send(p->ch, PROTO_CONFIG, b.data, b.len, fds, 2 + p->nls);
	if (b.data)
		explicit_bzero(b.data, b.len);	/* keys and passwords */
	buf_free(&b);
	free(pl);
	return rc;
}

/* send_failed - a reload the worker asked for did not happen */
static void send_failed(struct parent *p, uint32_t id, const char *errors)
{
	buf_t b;

	if (!p->ch || id == 0)
		return;
	buf_init(&b);
	if (proto_reload_failed_encode(&b, id, errors) == 0)
		chan_send(p->ch, PROTO_RELOAD_FAILED, b.data, b.len, NULL, 0);
	buf_free(&b);
}

/* ---- reload ---- */

/* reload - read everything again and hand it to the worker */
static void reload(struct parent *p, uint32_t id)
{
	struct cfiles files;
	struct config *c;
	struct lsock *ls = NULL;
	uint32_t flags = 0;
	char *note = NULL;
	buf_t err, tls_err;

	cfiles_init(&files);
	buf_init(&err);
	buf_init(&tls_err);
	c = load(p->path, &files, &err);
	if (c && config_load_tls_from(c, &files, &tls_err) < 0) {
		trim_nl(&tls_err);
		if (keep_old_tls(p, c, &files) == 0 &&
		    asprintf(&note, "TLS not reloaded: %s; the rest of the config is in use",
			     tls_err.data) >= 0) {
			flags |= PROTO_TLS_KEPT;
		} else {
			buf_printf(&err, "%s\n", tls_err.data);
			config_unref(c);
			c = NULL;
		}
	}
	if (c && !(ls = bind_lsocks(p, c, &err))) {
		config_unref(c);
		c = NULL;
	}
	if (!c) {
		trim_nl(&err);
		log_err("reload status=failed errors=\"%s\"", err.data ? err.data : "");
		send_failed(p, id, err.data ? err.data : "");
		cfiles_free(&files);
		goto out;
	}
	free_lsocks(p->ls, p->nls, ls, c->nlisten);
	p->ls = ls;
	p->nls = c->nlisten;
	config_unref(p->cfg);
	p->cfg = c;
	cfiles_free(&p->files);
	p->files = files;
	p->flags = flags;
	free(p->note);
	p->note = note;
	note = NULL;
	if (!p->ch)
		log_info("reload status=ok note=\"no worker runs now; the next one starts with it\"");
	else if (send_config(p, id) < 0)
		log_err("reload status=failed error=\"cannot send the config to the worker\"");
out:
	free(note);
	buf_free(&err);
	buf_free(&tls_err);
}

/* ---- the worker's life ---- */

/* exec_worker - in the child: become the mail user, lock the door behind
 * (no capabilities, no_new_privs, die with the parent) and exec */
static void exec_worker(struct parent *p, int sock, pid_t parent)
{
	char *argv[] = { "mailport", "worker", NULL };
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 10), e = fcntl(p->exe_fd, F_DUPFD_CLOEXEC, 10);

	if (s < 0 || e < 0 || dup2(s, WORKER_FD) < 0 || dup2(e, WORKER_FD + 1) < 0 ||
	    fcntl(WORKER_FD + 1, F_SETFD, FD_CLOEXEC) < 0)
		goto fail;
	close_range(WORKER_FD + 2, ~0U, 0);
	if (p->drop) {
		if (sandbox_drop_bounding() < 0 || setgroups(0, NULL) < 0 ||
		    setgid(p->gid) < 0 || setuid(p->uid) < 0)
			goto fail;
		if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0)
			goto fail;
	}
	if (sandbox_no_new_privs() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
	    getppid() != parent)
		goto fail;
	unsetenv("NOTIFY_SOCKET");	/* the parent speaks to systemd */
	fexecve(WORKER_FD + 1, argv, environ);
fail:
	fprintf(stderr, "mailport: cannot start the worker: %s\n", strerror(errno));
	_exit(127);
}

static void on_worker(void *arg, const struct chan_msg *m);

/* spawn - start a worker and send it the config */
static void spawn(struct parent *p)
{
	int sv[2];
	pid_t self = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("worker status=failed error=\"socketpair: %s\"", strerror(errno));
		p->pid = 0;
		return;
	}
	pid = fork();
	if (pid == 0)
		exec_worker(p, sv[1], self);
	close(sv[1]);
	if (pid < 0) {
		log_err("worker status=failed error=\"fork: %s\"", strerror(errno));
		close(sv[0]);
		return;
	}
	p->pid = pid;
	p->started = time(NULL);
	p->ch = chan_new(p->base, sv[0], on_worker, p);
	if (p->ch)
		chan_set_limit(p->ch, FROM_WORKER_MAX);
	log_info("worker pid=%ld status=started", (long)pid);
	if (!p->ch || send_config(p, 0) < 0) {
		log_err("worker pid=%ld status=failed error=\"cannot send the config\"", (long)pid);
		kill(pid, SIGKILL);
	}
}

/* on_restart - the back-off is over */
static void on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	(void)fd;
	(void)what;
	if (!p->stopping && p->pid == 0)
		spawn(p);
}

/* on_worker - a message from the worker, or its end */
static void on_worker(void *arg, const struct chan_msg *m)
{
	struct parent *p = arg;
	const char *why = "unexpected message";
	uint32_t id;
	size_t i;

	if (!m) {
		/* a clean close: the worker is exiting (SIGCHLD follows);
		 * anything else: it broke the protocol, make it exit */
		if (p->pid && strcmp(chan_error(p->ch), "connection closed") != 0) {
			log_err("worker pid=%ld status=error error=\"%s\"", (long)p->pid,
				chan_error(p->ch));
			kill(p->pid, SIGKILL);
		}
		chan_free(p->ch);
		p->ch = NULL;
		return;
	}
	for (i = 0; i < m->nfds; i++)	/* the worker never sends any */
		close(m->fds[i]);
	if (m->nfds == 0 && m->type == PROTO_READY && proto_ready_decode(m, &why) == 0) {
		if (!p->ever_ready)
			sd_notify_msg("READY=1");
		p->ever_ready = 1;
		return;
	}
	if (m->nfds == 0 && m->type == PROTO_RELOAD_REQ &&
	    proto_reload_req_decode(m, &id, &why) == 0) {
		reload(p, id);
		return;
	}
	log_err("worker pid=%ld status=error error=\"bad message type=%u: %s\"", (long)p->pid,
		(unsigned)m->type, why);
	kill(p->pid, SIGKILL);
}

/* reaped - the worker is gone: restart it, or finish the stop */
static void reaped(struct parent *p, int status)
{
	struct timeval tv = { 0, 0 };
	long pid = (long)p->pid;

	if (WIFSIGNALED(status))
		log_warn("worker pid=%ld status=killed signal=%d", pid, WTERMSIG(status));
	else
		log_info("worker pid=%ld status=exited code=%d", pid, WEXITSTATUS(status));
	p->pid = 0;
	chan_free(p->ch);
	p->ch = NULL;
	if (p->stopping) {
		event_base_loopexit(p->base, NULL);
		return;
	}
	if (!p->ever_ready) {	/* it never started: a start failure */
		log_err("start status=failed error=\"the worker did not start\"");
		p->rc = 1;
		event_base_loopexit(p->base, NULL);
		return;
	}
	if (time(NULL) - p->started >= STABLE_AFTER)
		p->backoff = BACKOFF_MIN;
	tv.tv_sec = p->backoff;
	log_info("worker restart_in=%us", p->backoff);
	p->backoff = p->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : p->backoff * 2;
	evtimer_add(p->restart_ev, &tv);
}

/* on_kill_timeout - the worker does not stop: kill it */
static void on_kill_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	(void)fd;
	(void)what;
	if (p->pid) {
		log_warn("worker pid=%ld status=stuck action=kill", (long)p->pid);
		kill(p->pid, SIGKILL);
	}
}

/* on_signal - SIGCHLD reaps, SIGHUP reloads, SIGTERM/SIGINT stop */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	struct timeval tv = { STOP_TIMEOUT, 0 };
	pid_t pid;
	int status;

	(void)what;
	if (sig == SIGCHLD) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == p->pid)
				reaped(p, status);
		return;
	}
	if (sig == SIGHUP) {
		if (!p->stopping)
			reload(p, 0);
		return;
	}
	if (p->stopping)
		return;
	p->stopping = 1;
	log_info("stop signal=%d", (int)sig);
	sd_notify_msg("STOPPING=1");
	event_del(p->restart_ev);
	if (!p->pid) {
		event_base_loopexit(p->base, NULL);
		return;
	}
	kill(p->pid, SIGTERM);
	evtimer_add(p->kill_ev, &tv);
}

/* ---- start ---- */

/* prepare_dir - create dir, give it to the mail user, open it */
static int prepare_dir(const char *path, const struct parent *p)
{
	int fd;

	if (mkdir_p(path, 0755) < 0) {
		log_err("start dir=%s error=\"%s\"", path, strerror(errno));
		return -1;
	}
	if (p->drop && chown(path, p->uid, p->gid) < 0) {
		log_err("start dir=%s error=\"chown: %s\"", path, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_err("start dir=%s error=\"%s\"", path, strerror(errno));
	return fd;
}

/* setup - what needs root, before the first worker */
static int setup(struct parent *p)
{
	struct passwd *pw;
	buf_t err;

	if (geteuid() == 0) {
		pw = getpwnam(p->cfg->user);
		if (!pw) {
			log_err("start error=\"user %s does not exist (mailport will not run as root)\"",
				p->cfg->user);
			return -1;
		}
		if (pw->pw_uid == 0) {
			log_err("start error=\"user %s is root (mailport will not run as root)\"",
				p->cfg->user);
			return -1;
		}
		p->drop = 1;
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	}
	buf_init(&err);
	p->ls = bind_lsocks(p, p->cfg, &err);
	buf_free(&err);
	if (!p->ls)
		return -1;
	p->nls = p->cfg->nlisten;
	p->spool_fd = prepare_dir(p->cfg->spool, p);
	p->mail_fd = p->spool_fd < 0 ? -1 : prepare_dir(p->cfg->mailboxes, p);
	p->exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (p->exe_fd < 0)
		log_err("start error=\"/proc/self/exe: %s\"", strerror(errno));
	if (p->mail_fd < 0 || p->exe_fd < 0)
		return -1;
	if (p->drop)
		log_info("start user=%s uid=%u worker=unprivileged parent=root", p->cfg->user,
			 (unsigned)p->uid);
	return 0;
}

/* parent_main - mailport serve */
int parent_main(const char *path)
{
	static const int signums[4] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct parent p;
	buf_t err;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.spool_fd = p.mail_fd = p.exe_fd = -1;
	p.backoff = BACKOFF_MIN;
	signal(SIGPIPE, SIG_IGN);
	cfiles_init(&p.files);
	buf_init(&err);
	p.cfg = load(path, &p.files, &err);
	if (p.cfg && config_load_tls_from(p.cfg, &p.files, &err) < 0) {
		config_unref(p.cfg);
		p.cfg = NULL;
	}
	if (!p.cfg) {
		fprintf(stderr, "%s", err.data ? err.data : "config: unknown error\n");
		buf_free(&err);
		cfiles_free(&p.files);
		return 1;
	}
	buf_free(&err);
	log_info("config file=%s", config_name(path));
	log_set_level(p.cfg->log_debug ? LOG_DEBUG : LOG_INFO);
	p.rc = 1;
	if (setup(&p) < 0 || !(p.base = event_base_new()))
		goto out;
	p.restart_ev = evtimer_new(p.base, on_restart, &p);
	p.kill_ev = evtimer_new(p.base, on_kill_timeout, &p);
	for (i = 0; i < 4; i++) {
		p.sig[i] = evsignal_new(p.base, signums[i], on_signal, &p);
		if (!p.sig[i] || evsignal_add(p.sig[i], NULL) < 0)
			goto out;
	}
	if (!p.restart_ev || !p.kill_ev)
		goto out;
	p.rc = 0;
	spawn(&p);
	if (!p.pid)
		p.rc = 1;
	else if (event_base_dispatch(p.base) < 0)
		p.rc = 1;
	if (p.pid) {	/* the loop failed: do not leave the worker behind */
		kill(p.pid, SIGKILL);
		waitpid(p.pid, NULL, 0);
	}
	log_info("stopped");
out:
	chan_free(p.ch);
	for (i = 0; i < 4; i++)
		if (p.sig[i])
			event_free(p.sig[i]);
	if (p.restart_ev)
		event_free(p.restart_ev);
	if (p.kill_ev)
		event_free(p.kill_ev);
	if (p.base)
		event_base_free(p.base);
	free_lsocks(p.ls, p.nls, NULL, 0);
	if (p.spool_fd >= 0)
		close(p.spool_fd);
	if (p.mail_fd >= 0)
		close(p.mail_fd);
	if (p.exe_fd >= 0)
		close(p.exe_fd);
	config_unref(p.cfg);
	cfiles_free(&p.files);
	free(p.note);
	return p.rc;
}

/* main - the mailport command line: serve, check-config, passwd, version
 * (and sendmail, also as argv[0] "sendmail").
 *
 * serve: load the config, bind the listeners, prepare the spool and the
 * mailbox root (owned by the mail user), drop root for good, recover the
 * queue, then run the event loop until SIGTERM/SIGINT.  SIGHUP re-reads the
 * config and tables on a helper thread (the loop never waits on the disk)
 * and new sessions use the new config.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>

#include "conf/config.h"
#include "conf/tables.h"
#include "ctl/ctl.h"
#include "ctl/queuecmd.h"
#include "probe/probe.h"
#include "net/listen.h"
#include "deliver/local.h"
#include "deliver/smtp.h"
#include "dns/dns.h"
#include "queue/queue.h"
#include "server/policy.h"
#include "server/server.h"
#include "util/work.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/sdnotify.h"
#include "sendmail/sendmail.h"
#include <libgen.h>
#include "auth/passwd.h"
#include "auth/sasl.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#define MAILPORT_VERSION "0.1.0"
#define SHUTDOWN_GRACE 10	/* seconds for sessions mid-command */
/* Worker threads: the disk work (receiving, Maildir delivery, status
 * records) is fsync-bound, so more threads overlap more syncs
 * (bench/RESULTS.md: 8 delivery threads deliver ~1.5x faster than 2 on the
 * 2-core test machine).  One pool does all of it; password hashing has its
 * own (server.c), so a burst of logins never starves the disk. */
#define POOL_THREADS 16

struct daemon {
	struct event_base *base;
	struct config *cfg;
	struct server *srv;
	struct queue *q;
	struct workpool *pool;		/* the delivery side's disk work */
	struct agent *local;
	struct agent *remote;
	struct dns *dns;
	struct ctl *ctl;		/* the control socket (mailport queue) */
	const char *path;
	struct event *reload_done;
	pthread_mutex_t lock;
	struct config *reloaded;	/* handed over by the reload thread */
	buf_t reload_errors;
	pthread_t reload_thr;
	int reloading;			/* a reload thread runs (loop thread only) */
	int stopping;			/* SIGTERM/SIGINT seen */
	int drained;			/* ... and every session is gone */
};

/* usage - the command summary */
static void usage(FILE *f)
{
	fprintf(f, "usage: mailport serve [-c FILE | --defaults]  run the mail server (foreground)\n"
		   "       mailport check-config [-c FILE | --defaults]  validate a config file\n"
		   "       mailport passwd [-m yescrypt|sha512]\n"
		   "                                        hash a password (terminal or stdin) for the users file\n"
		   "       mailport sendmail [-t] [-i] [-f sender] [-F name] [rcpt...]\n"
		   "                                        queue a message read on stdin (also as 'sendmail')\n"
		   "       mailport queue list|show ID|flush [ID|--domain D]|remove ID|--all|hold ID|release ID\n"
		   "                                        look at and act on the running server's queue\n"
		   "       mailport probe TARGET [options]  test a mail server like telnet, every reply explained\n"
		   "       mailport mx DOMAIN [--dns HOST:PORT] [--json]\n"
		   "                                        a domain's MX hosts, addresses and PTR names\n"
		   "       mailport version                 versions of mailport and its libraries\n"
		   "The config is -c FILE, else $MAILPORT_CONFIG, else " CONFIG_DEFAULT_PATH
		   " when it exists,\nelse the embedded default (--defaults: always the embedded default).\n");
}

/* load_config - load (with the TLS context when tls is set) and print
 * errors */
static struct config *load_config(const char *path, int tls)
{
	buf_t err;
	struct config *c;

	buf_init(&err);
	c = config_load(path, &err);
	if (c && tls && config_load_tls(c, &err) < 0) {
		config_unref(c);
		c = NULL;
	}
	if (!c)
		fprintf(stderr, "%s", err.data ? err.data : "config: unknown error\n");
	buf_free(&err);
	return c;
}

/* prepare_dir - create dir, give it to the mail user, open it */
static int prepare_dir(const char *path, const struct passwd *pw)
{
	int fd;

	if (mkdir_p(path, 0755) < 0) {
		log_err("start dir=%s error=\"%s\"", path, strerror(errno));
		return -1;
	}
	if (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		log_err("start dir=%s error=\"chown: %s\"", path, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_err("start dir=%s error=\"%s\"", path, strerror(errno));
	return fd;
}

/* drop_privileges - become the mail user; refuse to go on as root */
static int drop_privileges(const struct passwd *pw)
{
	if (!pw)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_err("start error=\"cannot drop privileges: %s\"", strerror(errno));
		return -1;
	}
	if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
		log_err("start error=\"still root after dropping privileges\"");
		return -1;
	}
	log_info("start user=%s uid=%u", pw->pw_name, (unsigned)pw->pw_uid);
	return 0;
}

/* reload_thread - read the config off the loop thread */
static void *reload_thread(void *arg)
{
	struct daemon *d = arg;
	buf_t err;
	struct config *c;

	buf_init(&err);
	c = config_load(d->path, &err);
	if (c && config_load_tls(c, &err) < 0) {
		config_unref(c);
		c = NULL;
	}
	pthread_mutex_lock(&d->lock);
	d->reloaded = c;
	buf_free(&d->reload_errors);
	d->reload_errors = err;
	pthread_mutex_unlock(&d->lock);
	event_active(d->reload_done, 0, 0);
	return NULL;
}

/* same_listeners - the same addresses with the same roles? */
static int same_listeners(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].role != b->listen[i].role ||
		    strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return 0;
	return 1;
}

/* maybe_exit - the last step of the stop sequence: once the sessions are
 * drained (their commits finished) and no reload is in flight, leave the
 * loop; the queue and the server are freed after it */
static void maybe_exit(struct daemon *d)
{
	if (d->stopping && d->drained && !d->reloading)
		event_base_loopexit(d->base, NULL);
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

/* on_reload_done - join the reload thread, swap in the new config (loop
 * thread) */
static void on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct config *c;
	buf_t err;

	(void)fd;
	(void)what;
	pthread_join(d->reload_thr, NULL);
	pthread_mutex_lock(&d->lock);
	c = d->reloaded;
	d->reloaded = NULL;
	err = d->reload_errors;
	buf_init(&d->reload_errors);
	pthread_mutex_unlock(&d->lock);
	d->reloading = 0;
	if (d->stopping) {
		log_info("reload status=dropped reason=\"stopping\"");
		if (c)
			config_unref(c);
		buf_free(&err);
		maybe_exit(d);
		return;
	}
	if (!c) {
		log_err("reload status=failed errors=\"%s\"", err.data ? err.data : "");
		buf_free(&err);
		return;
	}
	buf_free(&err);
	if (strcmp(c->spool, d->cfg->spool) || strcmp(c->mailboxes, d->cfg->mailboxes) ||
	    !same_listeners(c, d->cfg))
		log_warn("reload note=\"listen, spool and mailboxes changes need a restart\"");
	if (!same_delivery(c, d->cfg))
		log_warn("reload note=\"[relay] smarthost, [dns], [tls] outbound, [queue] and [smtp] "
			 "changes need a restart\"");
	server_set_config(d->srv, c);
	pthread_mutex_lock(&d->lock);	/* route() reads d->cfg on workers */
	config_unref(d->cfg);
	d->cfg = c;
	pthread_mutex_unlock(&d->lock);
	log_set_level(c->log_debug ? LOG_DEBUG : LOG_INFO);
	log_info("reload status=ok");
}

/* on_drained - every session is gone: go on with the stop sequence */
static void on_drained(void *arg)
{
	struct daemon *d = arg;

	d->drained = 1;
	maybe_exit(d);
}

/* on_signal - SIGHUP reloads (on a thread: the loop never waits for the
 * disk); SIGTERM/SIGINT start the stop sequence: stop accepting, drain the
 * sessions (grace period, commits finish), wait for a reload in flight,
 * leave the loop, free */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (d->reloading || d->stopping)
			return;
		d->reloading = 1;
		if (pthread_create(&d->reload_thr, NULL, reload_thread, d) != 0) {
			d->reloading = 0;
			log_err("reload status=failed error=\"no thread\"");
		}
		return;
	}
	if (d->stopping)
		return;
	d->stopping = 1;
	log_info("stop signal=%d", (int)sig);
	sd_notify_msg("STOPPING=1");
	server_shutdown(d->srv, SHUTDOWN_GRACE, on_drained, d);
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
	struct daemon *d = arg;
	struct config *c;
	int rc;

	pthread_mutex_lock(&d->lock);
	c = d->cfg;
	config_ref(c);
	pthread_mutex_unlock(&d->lock);
	rc = policy_route(c, addr, r);
	config_unref(c);
	return rc;
}

/* start_remote - the resolver and the remote delivery agent */
static int start_remote(struct daemon *d)
{
	const struct config *c = d->cfg;
	struct smtp_agent_conf sc;
	struct dns_conf dc;
	struct sockaddr_storage *self;
	buf_t err;
	size_t i;

	buf_init(&err);
	dns_conf_init(&dc);
	dc.servers = c->dns_servers;
	d->dns = dns_new(d->base, &dc, &err);
	if (!d->dns) {
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
	d->remote = smtp_agent_new(d->base, d->pool, d->dns, &sc, &err);
	free(self);
	if (!d->remote)
		log_err("start error=\"remote delivery: %s\"", err.data ? err.data : "cannot start");
	buf_free(&err);
	return d->remote ? 0 : -1;
}

/* start_queue - the worker pool, the agents and the queue */
static int start_queue(struct daemon *d, int spool_fd, int mail_fd)
{
	struct queue_opts qo = {
		.spool_fd = spool_fd,
		.mail_fd = mail_fd,
		.hostname = d->cfg->hostname,
		.route = route,
		.route_arg = d,
	};

	d->pool = workpool_new(d->base, POOL_THREADS);
	d->local = d->pool ? local_agent_new(d->pool, mail_fd, d->cfg->hostname) : NULL;
	if (!d->local || start_remote(d) < 0)
		return -1;
	qo.pool = d->pool;
	qo.local = d->local;
	qo.remote = d->remote;
	qo.smarthost = d->cfg->smarthost;
	qo.retry_min = d->cfg->retry_min;
	qo.retry_max = d->cfg->retry_max;
	qo.max_lifetime = d->cfg->max_lifetime;
	qo.delay_warning = d->cfg->delay_warning;
	d->q = queue_new(d->base, &qo);
	if (d->q)	/* no control socket: logged, mail still flows */
		d->ctl = ctl_new(d->base, d->pool, d->q, d->cfg->spool);
	return d->q ? 0 : -1;
}

/* stop_queue - the reverse of start_queue: remote connections end (their
 * jobs are deferred), the queue finishes its attempts, then the pool and
 * the agents go */
static void stop_queue(struct daemon *d)
{
	ctl_free(d->ctl);	/* first: its jobs read the queue */
	if (d->remote)
		smtp_agent_stop(d->remote);
	queue_free(d->q);
	if (d->pool)
		workpool_free(d->pool);
	smtp_agent_free(d->remote);
	local_agent_free(d->local);
	dns_free(d->dns);
}

/* run_loop - the daemon proper, after the privilege drop */
static int run_loop(struct daemon *d, int *fds, int spool_fd, int mail_fd)
{
	struct event *sig[4];
	int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	size_t n = d->cfg->nlisten;
	int *roles = calloc(n + 1, sizeof(*roles));
	int i, rc = 0;
	size_t k;

	if (!roles)
		return 1;
	for (k = 0; k < n; k++)
		roles[k] = d->cfg->listen[k].role;
	fds[n] = local_socket(d->cfg);
	if (fds[n] >= 0)
		roles[n++] = ROLE_LOCAL;
	if (start_queue(d, spool_fd, mail_fd) < 0) {
		stop_queue(d);
		free(roles);
		return 1;
	}
	d->srv = server_new(d->base, d->cfg, d->q, fds, roles, n);
	free(roles);
	d->reload_done = event_new(d->base, -1, 0, on_reload_done, d);
	if (!d->srv || !d->reload_done) {
		stop_queue(d);
		return 1;
	}
	for (i = 0; signums[i]; i++) {
		sig[i] = evsignal_new(d->base, signums[i], on_signal, d);
		evsignal_add(sig[i], NULL);
	}
	log_info("ready hostname=%s", d->cfg->hostname);
	sd_notify_msg("READY=1");
	if (event_base_dispatch(d->base) < 0)
		rc = 1;
	if (d->reloading)	/* only if the loop failed: the thread holds d */
		pthread_join(d->reload_thr, NULL);
	server_free(d->srv);	/* no session is left: no commit in flight */
	stop_queue(d);
	for (i = 0; signums[i]; i++)
		event_free(sig[i]);
	event_free(d->reload_done);
	log_info("stopped");
	return rc;
}

/* cmd_serve - mailport serve */
static int cmd_serve(const char *path)
{
	struct daemon d;
	struct passwd *pw = NULL;
	int *fds, spool_fd, mail_fd, rc;

	memset(&d, 0, sizeof(d));
	d.path = path;
	pthread_mutex_init(&d.lock, NULL);
	buf_init(&d.reload_errors);
	if (evthread_use_pthreads() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	d.cfg = load_config(path, 1);
	if (!d.cfg)
		return 1;
	log_info("config file=%s", config_name(path));
	log_set_level(d.cfg->log_debug ? LOG_DEBUG : LOG_INFO);
	if (geteuid() == 0) {
		pw = getpwnam(d.cfg->user);
		if (!pw) {
			log_err("start error=\"user %s does not exist (mailport will not run as root)\"",
				d.cfg->user);
			return 1;
		}
	}
	if (pw && d.cfg->tls_selfsigned) {
		/* SIGHUP reloads run as the mail user: let it read its own pair */
		if (chown("./var/tls", pw->pw_uid, pw->pw_gid) < 0 ||
		    chown(d.cfg->tls_cert, pw->pw_uid, pw->pw_gid) < 0 ||
		    chown(d.cfg->tls_key, pw->pw_uid, pw->pw_gid) < 0)
			log_warn("start tls=selfsigned error=\"chown: %s\"", strerror(errno));
	}
	fds = calloc(d.cfg->nlisten + 1, sizeof(*fds));	/* + the local socket */
	if (!fds || listen_bind_all(d.cfg->listen, d.cfg->nlisten, (int)d.cfg->listen_backlog, fds) < 0)
		return 1;
	spool_fd = prepare_dir(d.cfg->spool, pw);
	mail_fd = spool_fd < 0 ? -1 : prepare_dir(d.cfg->mailboxes, pw);
	if (mail_fd < 0 || drop_privileges(pw) < 0)
		return 1;
	d.base = event_base_new();
	if (!d.base)
		return 1;
	rc = run_loop(&d, fds, spool_fd, mail_fd);
	event_base_free(d.base);
	config_unref(d.cfg);
	free(fds);
	close(spool_fd);
	close(mail_fd);
	buf_free(&d.reload_errors);
	return rc;
}

/* warn_users_mode - a users file with password hashes must not be readable
 * by every local user (as sshd warns about its key files) */
static void warn_users_mode(const struct config *c)
{
	struct stat st;

	if (!c->users_path || users_hash_count(c->users) == 0 || stat(c->users_path, &st) < 0)
		return;
	if (st.st_mode & S_IROTH)
		fprintf(stderr, "warning: %s: users file with password hashes is readable by every "
			"local user (mode %04o); chmod o-r\n", c->users_path,
			(unsigned)(st.st_mode & 07777));
}

/* cmd_check_config - mailport check-config */
static int cmd_check_config(const char *path)
{
	struct config *c = load_config(path, path != NULL);

	if (!c)
		return 1;
	warn_users_mode(c);
	printf("%s: OK (hostname %s, %zu listen address(es), %zu local domain(s))\n",
	       config_name(path), c->hostname, c->nlisten, c->ndomains);
	config_unref(c);
	return 0;
}

/* read_secret - a password from the terminal (no echo) or a stdin line */
static int read_secret(const char *prompt, char *buf, size_t n)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);
	size_t len;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		if (tcgetattr(STDIN_FILENO, &old) < 0)
			return -1;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (!fgets(buf, (int)n, stdin))
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return len ? 0 : -1;
}

/* cmd_passwd - mailport passwd: print a crypt(3) hash for the users file */
static int cmd_passwd(int argc, char **argv)
{
	char pw[512], again[512], hash[256];
	const char *prefix = "$y$";
	int opt, rc = 1;

	optind = 2;
	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt == 'm' && strcmp(optarg, "sha512") == 0)
			prefix = "$6$";
		else if (opt != 'm' || strcmp(optarg, "yescrypt") != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (read_secret("Password: ", pw, sizeof(pw)) < 0) {
		fprintf(stderr, "mailport passwd: empty password\n");
	} else if (isatty(STDIN_FILENO) &&
		   (read_secret("Again: ", again, sizeof(again)) < 0 || strcmp(pw, again) != 0)) {
		fprintf(stderr, "mailport passwd: the passwords differ\n");
	} else if (passwd_hash(pw, prefix, hash, sizeof(hash)) < 0) {
		fprintf(stderr, "mailport passwd: cannot hash the password\n");
	} else {
		printf("%s\n", hash);
		rc = 0;
	}
	sasl_wipe(pw, sizeof(pw));
	sasl_wipe(again, sizeof(again));
	return rc;
}

/* cmd_version - mailport version */
static int cmd_version(void)
{
	printf("mailport %s\n", MAILPORT_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("c-ares %s\n", ares_version(NULL));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "defaults", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *path = NULL;
	int opt, defaults = 0;

	/* the classic interface: /usr/sbin/sendmail -> mailport */
	if (argc >= 1 && strcmp(basename(argv[0]), "sendmail") == 0)
		return sendmail_main(argc, argv, NULL);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "sendmail") == 0)
		return sendmail_main(argc - 1, argv + 1, NULL);
	if (strcmp(cmd, "passwd") == 0)
		return cmd_passwd(argc, argv);
	if (strcmp(cmd, "queue") == 0)
		return queuecmd_main(argc - 1, argv + 1);
	if (strcmp(cmd, "mx") == 0)
		return mx_main(argc - 1, argv + 1);
	if (strcmp(cmd, "probe") == 0)
		return probe_main(argc - 1, argv + 1);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'D')
			defaults = 1;
		else {
			usage(stderr);
			return 2;
		}
	}
	path = defaults ? NULL : config_locate(path);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(path);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(path);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return cmd_version();

	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mailport: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}

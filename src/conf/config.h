/* config - mailport.conf (INI, read with inih), defaults and validation.
 *
 * Without a file the embedded default applies (see config_load).  The
 * config is immutable once loaded and reference counted: SIGHUP loads a new
 * one and sessions in flight keep the one they started with.
 */
#ifndef MAILPORT_CONF_CONFIG_H
#define MAILPORT_CONF_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>
#include "conf/cidr.h"
#include "util/buf.h"

struct users;
struct aliases;

/* What a listening address is for (RFC 6409, RFC 8314). */
enum listen_role {
	ROLE_MX = 0,		/* [server] listen: mail for local domains, relay by policy */
	ROLE_SUBMISSION,	/* [server] submission: STARTTLS, then AUTH required */
	ROLE_SUBMISSIONS,	/* [server] submissions: implicit TLS, AUTH required */
	ROLE_LOCAL,		/* the sendmail socket: local users, trusted */
};

struct listen_addr {
	enum listen_role role;
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];		/* as "127.0.0.1:2525" or "[::1]:2525" */
};

struct config {
	int refs;			/* atomic */
	char *path;			/* NULL for the embedded default */

	/* [server] */
	char *hostname;			/* default: gethostname(2) */
	struct listen_addr *listen;	/* default 127.0.0.1:2525 */
	size_t nlisten;
	char *spool;			/* default ./var/spool */
	char *user;			/* default "mailport" (used only as root) */
	char *banner;			/* default "ESMTP ready" */
	long long max_message_size;	/* default 36700160 */
	unsigned max_recipients;	/* default 1000 */
	unsigned max_errors;		/* protocol errors between accepted
					 * messages, default 10 */
	unsigned max_rcpt_rejects;	/* rejected recipients between accepted
					 * messages, default 200 */
	unsigned rcpt_reject_delay_after; /* rejections answered at once,
					 * default 100; later ones wait */
	unsigned listen_backlog;	/* listen(2) backlog, default 1024 */
	unsigned timeout;		/* seconds, default 300 */
	unsigned max_connections_per_ip;/* default 50 */
	unsigned max_connections;	/* default 1000 */
	unsigned greet_pause_ms;	/* default 0: early-talker check */
	int trace_all;			/* trace = yes */
	struct cidr_list trace_networks;/* trace = <cidr list> */
	int log_debug;			/* log_level = debug */
	unsigned max_auth_failures;	/* default 3, then 421 */
	int seccomp;			/* the worker's system call filter, default on */

	/* [local] */
	char **domains;			/* lowercased, default "localhost" */
	size_t ndomains;
	char *mailboxes;		/* default ./var/mail */
	char *users_path;		/* NULL: every local part exists */
	char *aliases_path;		/* NULL: no aliases */
	struct users *users;		/* loaded table or NULL */
	struct aliases *aliases;	/* loaded table or NULL */

	/* [relay] */
	struct cidr_list relay_networks;/* default 127.0.0.1/32, ::1/128 */

	/* [tls] */
	char *tls_cert;			/* PEM chain; NULL: no TLS */
	char *tls_key;
	int tls_selfsigned;		/* embedded default: make a pair if missing */
	int allow_plaintext_auth;	/* AUTH without TLS (tests on loopback) */
	struct ssl_ctx_st *tls_ctx;	/* built by config_load_tls */

	/* [submission] */
	int sender_must_match_login;
	int auth_on_mx;			/* offer AUTH on the MX listener too */

	/* remote delivery */
	char *smarthost;		/* [relay] smarthost, NULL: MX routing */
	char *smarthost_user;		/* [relay] smarthost_auth = user:file */
	char *smarthost_pwfile;
	char *smarthost_password;	/* read from the file with the tables */
	char *dns_servers;		/* [dns] servers, NULL: resolv.conf */
	int tls_outbound;		/* [tls] outbound: 0 none, 1 may (default),
					 * 2 encrypt, 3 verify (enum smtpc_tls) */
	char *tls_ca_file;		/* [tls] ca_file for verify, NULL: system */
	unsigned retry_min;		/* [queue] seconds, default 300 */
	unsigned retry_max;		/* default 4 h */
	unsigned max_lifetime;		/* default 5 d */
	unsigned delay_warning;		/* default 4 h */
	unsigned smtp_port;		/* [smtp] port, default 25 */
	unsigned smtp_max_connections;	/* default 100 */
	unsigned smtp_per_destination;	/* default 10 */
	unsigned smtp_connect_timeout;	/* default 30 s */
	unsigned smtp_command_timeout;	/* 0: RFC 5321 (5 min) */
	unsigned smtp_data_timeout;	/* 0: RFC 5321 (2 min 354, 3 min a block) */
	unsigned smtp_dot_timeout;	/* 0: RFC 5321 (10 min) */
};

#define CONFIG_DEFAULT_PATH "/etc/mailport/mailport.conf"
/* listen + submission + submissions addresses (the parent passes them to
 * the worker with the spool and mailbox directories in one message of at
 * most 64 descriptors, priv/proto.h) */
#define CONFIG_MAX_LISTEN 62

/* config_locate - the one rule every command follows to find its config:
 * the -c/-C path when given, else $MAILPORT_CONFIG, else
 * CONFIG_DEFAULT_PATH when it exists, else NULL (the embedded default) */
const char *config_locate(const char *given);

/* config_name - path, or "(embedded default)" for NULL, for messages */
const char *config_name(const char *path);

/* config_load - load path (NULL: the embedded default), with its tables.
 * Returns a config with one reference, or NULL with "path:line: message"
 * lines appended to errors. */
struct config *config_load(const char *path, buf_t *errors);

/* config_load_from - the same, every file read through src (conf/cfiles.h:
 * the parent records what it read, the worker replays it) */
struct cfiles;
struct config *config_load_from(struct cfiles *src, const char *path, buf_t *errors);

/* config_load_settings - the same without loading the users and aliases
 * tables (for client commands run by unprivileged users: the users file
 * holds password hashes and need not be readable by them) */
struct config *config_load_settings(const char *path, buf_t *errors);
/* config_load_lenient - the settings of a file that may be broken: every
 * line that parses is used, the errors are appended but do not fail it
 * (NULL only when the file cannot be read).  For `mailport reload`, which
 * must find the control socket to ask the daemon about a broken file. */
struct config *config_load_lenient(const char *path, buf_t *errors);
void config_ref(struct config *c);
void config_unref(struct config *c);

/* config_load_tls - build the TLS context from tls_cert/tls_key (first
 * making a self-signed pair when tls_selfsigned is set and the files are
 * missing); 0 when there is no TLS or it worked, -1 with a reason appended
 * to errors */
int config_load_tls(struct config *c, buf_t *errors);
int config_load_tls_from(struct config *c, struct cfiles *src, buf_t *errors);

/* config_is_local_domain - domain (lowercase, no trailing dot) is ours:
 * one of [local] domains, or the hostname itself */
int config_is_local_domain(const struct config *c, const char *domain);

/* config_trace_client - should this client's session be traced? */
int config_trace_client(const struct config *c, const struct sockaddr *sa);

#endif

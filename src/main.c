/* main - the mailport command line: serve, reload, check-config, passwd,
 * queue, probe, mx, version (and sendmail, also as argv[0] "sendmail").
 *
 * serve is the privileged parent (priv/parent.c), which starts the
 * unprivileged worker as "mailport worker" (priv/worker.c).
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "auth/passwd.h"
#include "auth/sasl.h"
#include "conf/config.h"
#include "conf/tables.h"
#include "ctl/queuecmd.h"
#include "priv/parent.h"
#include "priv/worker.h"
#include "probe/probe.h"
#include "sendmail/sendmail.h"
#include "util/buf.h"

#define MAILPORT_VERSION "0.1.0"

/* usage - the command summary */
static void usage(FILE *f)
{
	fprintf(f, "usage: mailport serve [-c FILE | --defaults]  run the mail server (foreground)\n"
		   "       mailport check-config [-c FILE | --defaults]  validate a config file\n"
		   "       mailport passwd [-m yescrypt|sha512]\n"
		   "                                        hash a password (terminal or stdin) for the users file\n"
		   "       mailport sendmail [-t] [-i] [-f sender] [-F name] [rcpt...]\n"
		   "                                        queue a message read on stdin (also as 'sendmail')\n"
		   "       mailport reload [-c FILE | --defaults]\n"
		   "                                        re-read the config, tables and TLS keys; report the outcome\n"
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
	if (strcmp(cmd, "reload") == 0)
		return reloadcmd_main(argc - 1, argv + 1);
	if (strcmp(cmd, "worker") == 0)
		return worker_main(argc - 1, argv + 1);
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
		return parent_main(path);
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

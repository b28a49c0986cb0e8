/* test_policy - unit tests for server/policy (policy_rcpt), table driven:
 * local domains and the hostname as a local domain, with and without a
 * users file, aliases (lists, full-address names, chains, loops, a copy in
 * the alias's own mailbox, unusable targets, a remote target), postmaster
 * always accepted, relay allowed for [relay] networks (IPv4 and IPv6),
 * authenticated clients and the local socket and denied otherwise, '%',
 * '!' and a quoted '@' staying local, mailbox names refused, source
 * routes ignored; then duplicates across RCPTs and the DSN parameters
 * copied to every recipient an alias gives.
 *
 * The configs are real files loaded with config_load (users and aliases
 * tables included); the RCPT argument goes through addr_parse_path as the
 * session does, so every row reads like the client's command. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conf/config.h"
#include "queue/envelope.h"
#include "server/policy.h"
#include "smtp/addr.h"
#include "smtp/params.h"
#include "util/log.h"
#include "testutil.h"

/* The configs of the table. */
enum cfg_id {
	OPEN,		/* no users file, no aliases: every local part exists */
	USERS,		/* users file and aliases */
	STRICT,		/* a users file with one user, no aliases */
	ALIASES,	/* aliases without a users file */
	NCFG
};

#define COMMON \
	"[server]\nhostname = MX.Example.Test\n" \
	"[relay]\nnetworks = 192.0.2.0/24, 2001:db8::/32\n" \
	"[local]\ndomains = example.test, example.net\n"

static const char users_text[] =
	"alice@example.test\n"
	"bob@example.test\n"
	"carol@example.net\n"
	"dave@mx.example.test\n"
	"erin@example.test\n";

static const char aliases_text[] =
	"postmaster: alice\n"
	"info: alice, bob\n"
	"team: alice@example.test, carol@example.net\n"
	"sales@example.test: carol@example.net\n"
	"chain1: chain2\n"
	"chain2: chain3\n"
	"chain3: bob\n"
	"loop1: loop2\n"
	"loop2: loop1\n"
	"fwd: someone@remote.example\n"
	"erin: erin, dave@mx.example.test\n"
	"ghost: nobody, nobody2@example.net\n"
	"mixed: nobody, bob\n"
	"hidden: \".dot\", bob\n"
	"dup: bob, bob@example.test, chain3\n"
	"deep0: deep1\ndeep1: deep2\ndeep2: deep3\ndeep3: deep4\ndeep4: deep5\n"
	"deep5: deep6\ndeep6: deep7\ndeep7: deep8\ndeep8: deep9\ndeep9: bob\n"
	"deeper: deep0\n";

static char dir[256];
static struct config *cfgs[NCFG];

/* load - config_load of text written to dir/name */
static struct config *load(const char *name, const char *text)
{
	char path[PATH_MAX];
	struct config *c;
	buf_t err;

	tu_write_file(tu_path(path, sizeof(path), dir, name), text);
	buf_init(&err);
	c = config_load(path, &err);
	if (!c || err.len)
		fail_msg("%s:\n%s", name, err.data ? err.data : "");
	buf_free(&err);
	return c;
}

/* setup - the configs and their tables in a temporary directory */
static int setup(void **state)
{
	char users[PATH_MAX], users1[PATH_MAX], aliases[PATH_MAX];
	char text[4 * PATH_MAX];

	(void)state;
	tu_tmpdir(dir, sizeof(dir));
	tu_write_file(tu_path(users, sizeof(users), dir, "users"), users_text);
	tu_write_file(tu_path(users1, sizeof(users1), dir, "users1"),
		      "bob@example.test\n");
	tu_write_file(tu_path(aliases, sizeof(aliases), dir, "aliases"),
		      aliases_text);
	cfgs[OPEN] = load("open.conf", COMMON);
	snprintf(text, sizeof(text), COMMON "users = %s\naliases = %s\n", users,
		 aliases);
	cfgs[USERS] = load("users.conf", text);
	snprintf(text, sizeof(text), COMMON "users = %s\n", users1);
	cfgs[STRICT] = load("strict.conf", text);
	snprintf(text, sizeof(text), COMMON "aliases = %s\n", aliases);
	cfgs[ALIASES] = load("aliases.conf", text);
	return 0;
}

/* teardown - drop the configs, remove the directory */
static int teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NCFG; i++)
		config_unref(cfgs[i]);
	return tu_rm_rf(dir);
}

/* client_of - the peer address: an IP, or "unix" for the sendmail socket */
static struct sockaddr_storage client_of(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strcmp(ip, "unix") == 0) {
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, "/var/spool/mailport/sendmail.sock");
	} else if (strchr(ip, ':')) {
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

/* parse - the RCPT TO: argument as the session parses it */
static struct smtp_path parse(const char *arg)
{
	struct smtp_path p;
	size_t used = 0;
	enum addr_err e;

	e = addr_parse_path(arg, strlen(arg), ADDR_ALLOW_POSTMASTER | ADDR_ALLOW_UTF8,
			    &p, &used);
	if (e != ADDR_OK || used != strlen(arg))
		fail_msg("RCPT TO:%s does not parse (error %d, used %zu)", arg, (int)e,
			 used);
	return p;
}

/* render - the envelope's recipients as "local <domain>/<mailbox> <addr>"
 * or "relay <addr>", joined with "; " */
static void render(const struct envelope *e, char *out, size_t n)
{
	size_t i, k = 0;

	out[0] = '\0';
	for (i = 0; i < e->nrcpts && k < n; i++) {
		const struct env_rcpt *r = &e->rcpts[i];

		if (r->kind == RCPT_LOCAL)
			k += (size_t)snprintf(out + k, n - k, "%slocal %s/%s <%s>",
					      i ? "; " : "", r->domain, r->mailbox,
					      r->addr);
		else
			k += (size_t)snprintf(out + k, n - k, "%srelay <%s>",
					      i ? "; " : "", r->addr);
	}
	assert_true(k < n);
}

static const char *const verdict_names[] = {
	"RV_OK", "RV_UNKNOWN", "RV_BAD_MAILBOX", "RV_RELAY_DENIED", "RV_NOMEM",
};

/* One RCPT judged on its own, in an empty envelope. */
struct rcpt_case {
	const char *what;
	enum cfg_id cfg;
	const char *rcpt;	/* the argument of RCPT TO: */
	const char *client;	/* peer IP, or "unix" */
	int auth;		/* authenticated (or the local socket) */
	enum rcpt_verdict want;
	const char *queued;	/* render() of the recipients added */
};

#define IN4 "192.0.2.7"		/* in [relay] networks */
#define IN6 "2001:db8::7"
#define OUT4 "198.51.100.9"	/* not */
#define OUT6 "2001:db9::1"

static const struct rcpt_case cases[] = {
	/* local domains, no users file */
	{ "local domain, any local part", OPEN, "<anyone@example.test>", OUT4, 0,
	  RV_OK, "local example.test/anyone <anyone@example.test>" },
	{ "second local domain, domain case folded", OPEN, "<Bob@EXAMPLE.NET>",
	  OUT6, 0, RV_OK, "local example.net/bob <Bob@example.net>" },
	{ "the hostname is a local domain", OPEN, "<root@mx.example.test>", OUT4, 0,
	  RV_OK, "local mx.example.test/root <root@mx.example.test>" },
	{ "the hostname in any case, trailing dot", OPEN, "<root@MX.Example.Test.>",
	  OUT4, 0, RV_OK, "local mx.example.test/root <root@mx.example.test>" },
	{ "bare postmaster: the first local domain", OPEN, "<postmaster>", OUT4, 0,
	  RV_OK, "local example.test/postmaster <postmaster@example.test>" },
	{ "a subdomain is not local", OPEN, "<a@sub.example.test>", OUT4, 0,
	  RV_RELAY_DENIED, "" },
	{ "an address literal is not local", OPEN, "<a@[192.0.2.1]>", OUT4, 0,
	  RV_RELAY_DENIED, "" },
	{ "quoted local part with a space", OPEN, "<\"a b\"@example.test>", OUT4, 0,
	  RV_OK, "local example.test/a b <\"a b\"@example.test>" },
	{ "UTF-8 local part (SMTPUTF8)", OPEN, "<j\xc3\xb6rg@example.test>", OUT4, 0,
	  RV_OK, "local example.test/j\xc3\xb6rg <j\xc3\xb6rg@example.test>" },

	/* relay */
	{ "relay from [relay] networks, IPv4", OPEN, "<x@remote.example>", IN4, 0,
	  RV_OK, "relay <x@remote.example>" },
	{ "relay from [relay] networks, IPv6", OPEN, "<x@remote.example>", IN6, 0,
	  RV_OK, "relay <x@remote.example>" },
	{ "relay for an authenticated client", OPEN, "<x@remote.example>", OUT4, 1,
	  RV_OK, "relay <x@remote.example>" },
	{ "relay from the local socket", OPEN, "<x@Remote.Example>", "unix", 1,
	  RV_OK, "relay <x@remote.example>" },
	{ "relay denied, IPv4 outside the networks", OPEN, "<x@remote.example>",
	  OUT4, 0, RV_RELAY_DENIED, "" },
	{ "relay denied, IPv6 outside the networks", OPEN, "<x@remote.example>",
	  OUT6, 0, RV_RELAY_DENIED, "" },
	{ "relay denied, loopback not listed in the networks", OPEN,
	  "<x@remote.example>", "127.0.0.1", 0, RV_RELAY_DENIED, "" },
	{ "relay denied, a unix peer is no network", OPEN, "<x@remote.example>",
	  "unix", 0, RV_RELAY_DENIED, "" },
	{ "relay with a users file: remote addresses are not checked", USERS,
	  "<x@remote.example>", IN4, 0, RV_OK, "relay <x@remote.example>" },

	/* '%', '!' and quoted '@' are local-part data (RFC 5321 3.6.1) */
	{ "'%' hack stays local", OPEN, "<x%remote.example@example.test>", IN4, 0,
	  RV_OK, "local example.test/x%remote.example <x%remote.example@example.test>" },
	{ "'!' path stays local", OPEN, "<remote.example!x@example.test>", IN4, 0,
	  RV_OK, "local example.test/remote.example!x <remote.example!x@example.test>" },
	{ "quoted '@' stays local", OPEN, "<\"x@remote.example\"@example.test>", IN4,
	  0, RV_OK,
	  "local example.test/x@remote.example <\"x@remote.example\"@example.test>" },
	{ "'%' hack with a users file: unknown, never relayed", USERS,
	  "<bob%remote.example@example.test>", IN4, 1, RV_UNKNOWN, "" },
	{ "quoted '@' with a users file: unknown, never relayed", USERS,
	  "<\"bob@remote.example\"@example.test>", IN4, 1, RV_UNKNOWN, "" },

	/* source routes are ignored (RFC 5321 4.1.1.3, C.) */
	{ "source route to a local address", OPEN,
	  "<@relay.example,@other.example:bob@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
	{ "source route through us to a remote address", OPEN,
	  "<@mx.example.test:x@remote.example>", OUT4, 0, RV_RELAY_DENIED, "" },

	/* mailbox names */
	{ "mailbox starting with a dot", OPEN, "<\".hidden\"@example.test>", OUT4, 0,
	  RV_BAD_MAILBOX, "" },
	{ "mailbox \"..\"", OPEN, "<\"..\"@example.test>", OUT4, 0, RV_BAD_MAILBOX,
	  "" },
	{ "mailbox with a slash", OPEN, "<a/b@example.test>", OUT4, 0,
	  RV_BAD_MAILBOX, "" },
	{ "quoted mailbox with a slash", OPEN, "<\"../etc\"@example.test>", OUT4, 0,
	  RV_BAD_MAILBOX, "" },
	{ "bad mailbox name before the users check", USERS, "<\".x\"@example.test>",
	  OUT4, 0, RV_BAD_MAILBOX, "" },

	/* users file */
	{ "listed user", USERS, "<alice@example.test>", OUT4, 0, RV_OK,
	  "local example.test/alice <alice@example.test>" },
	{ "listed user, any case", USERS, "<ALICE@Example.Test>", OUT4, 0, RV_OK,
	  "local example.test/alice <ALICE@example.test>" },
	{ "unlisted user", USERS, "<zed@example.test>", OUT4, 0, RV_UNKNOWN, "" },
	{ "users are addresses, not local parts", USERS, "<alice@example.net>", OUT4,
	  0, RV_UNKNOWN, "" },
	{ "listed user at the hostname", USERS, "<dave@mx.example.test>", OUT4, 0,
	  RV_OK, "local mx.example.test/dave <dave@mx.example.test>" },
	{ "unlisted user at the hostname", USERS, "<root@mx.example.test>", OUT4, 0,
	  RV_UNKNOWN, "" },
	{ "unknown even for an authenticated client", USERS, "<zed@example.test>",
	  OUT4, 1, RV_UNKNOWN, "" },

	/* postmaster (RFC 5321 4.5.1) */
	{ "postmaster not in the users file", STRICT, "<postmaster@example.test>",
	  OUT4, 0, RV_OK, "local example.test/postmaster <postmaster@example.test>" },
	{ "Postmaster in any case, second domain", STRICT, "<PostMaster@example.net>",
	  OUT4, 0, RV_OK, "local example.net/postmaster <PostMaster@example.net>" },
	{ "bare postmaster with a users file", STRICT, "<POSTMASTER>", OUT4, 0, RV_OK,
	  "local example.test/postmaster <postmaster@example.test>" },
	{ "postmaster at the hostname", STRICT, "<postmaster@mx.example.test>", OUT4,
	  0, RV_OK, "local mx.example.test/postmaster <postmaster@mx.example.test>" },
	{ "the one listed user", STRICT, "<bob@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
	{ "anyone else is unknown", STRICT, "<alice@example.test>", OUT4, 0,
	  RV_UNKNOWN, "" },
	{ "postmaster aliased", USERS, "<postmaster>", OUT4, 0, RV_OK,
	  "local example.test/alice <alice@example.test>" },

	/* aliases */
	{ "alias to two users", USERS, "<info@example.test>", OUT4, 0, RV_OK,
	  "local example.test/alice <alice@example.test>; "
	  "local example.test/bob <bob@example.test>" },
	{ "alias name in any case", USERS, "<INFO@example.test>", OUT4, 0, RV_OK,
	  "local example.test/alice <alice@example.test>; "
	  "local example.test/bob <bob@example.test>" },
	{ "a local-part alias applies in every local domain", USERS,
	  "<team@example.net>", OUT4, 0, RV_OK,
	  "local example.test/alice <alice@example.test>; "
	  "local example.net/carol <carol@example.net>" },
	{ "local-part targets stay in the domain asked for", USERS,
	  "<info@example.net>", OUT4, 0, RV_UNKNOWN, "" },
	{ "a full-address alias", USERS, "<sales@example.test>", OUT4, 0, RV_OK,
	  "local example.net/carol <carol@example.net>" },
	{ "a full-address alias only for that address", USERS, "<sales@example.net>",
	  OUT4, 0, RV_UNKNOWN, "" },
	{ "alias chain", USERS, "<chain1@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
	{ "alias loop ends, nothing deliverable", USERS, "<loop1@example.test>", OUT4,
	  0, RV_UNKNOWN, "" },
	{ "alias loop without a users file: the name reached at depth 10", ALIASES,
	  "<loop1@example.test>", OUT4, 0, RV_OK,
	  "local example.test/loop1 <loop1@example.test>" },
	{ "aliases without a users file", ALIASES, "<info@example.net>", OUT4, 0,
	  RV_OK, "local example.net/alice <alice@example.net>; "
	  "local example.net/bob <bob@example.net>" },
	{ "a chain of 10 aliases is followed to the end", USERS,
	  "<deep0@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
	{ "the 11th alias of a chain is not expanded", USERS, "<deeper@example.test>",
	  OUT4, 0, RV_UNKNOWN, "" },
	{ "alias to a remote address relays for anyone", USERS, "<fwd@example.test>",
	  OUT4, 0, RV_OK, "relay <someone@remote.example>" },
	{ "alias keeping a copy in its own mailbox", USERS, "<erin@example.test>",
	  OUT4, 0, RV_OK,
	  "local example.test/erin <erin@example.test>; "
	  "local mx.example.test/dave <dave@mx.example.test>" },
	{ "alias whose targets are all unknown", USERS, "<ghost@example.test>", OUT4,
	  0, RV_UNKNOWN, "" },
	{ "unknown targets skipped", USERS, "<mixed@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
	{ "unsafe mailbox target skipped", USERS, "<hidden@example.test>", OUT4, 0,
	  RV_OK, "local example.test/bob <bob@example.test>" },
	{ "one recipient for targets naming the same address", USERS,
	  "<dup@example.test>", OUT4, 0, RV_OK,
	  "local example.test/bob <bob@example.test>" },
};

/* check_case - judge one row in a fresh envelope */
static void check_case(size_t i, const struct rcpt_case *t)
{
	struct sockaddr_storage ss = client_of(t->client);
	struct rcpt_ctx ctx = { cfgs[t->cfg], (const struct sockaddr *)&ss, t->auth };
	struct smtp_path p = parse(t->rcpt);
	struct rcpt_params rp;
	struct envelope env;
	char got[1024], orig[ADDR_TEXT_MAX + 1];
	enum rcpt_verdict v;
	size_t k;

	memset(&rp, 0, sizeof(rp));
	envelope_init(&env);
	v = policy_rcpt(&ctx, &p, &rp, &env);
	render(&env, got, sizeof(got));
	if (v != t->want || strcmp(got, t->queued) != 0)
		fail_msg("case %zu, %s: RCPT TO:%s from %s%s\n"
			 "  got  %s [%s]\n  want %s [%s]", i, t->what, t->rcpt,
			 t->client, t->auth ? " (authenticated)" : "",
			 verdict_names[v], got, verdict_names[t->want], t->queued);
	addr_format(&p, orig, sizeof(orig));
	for (k = 0; k < env.nrcpts; k++) {
		assert_string_equal(env.rcpts[k].orig, orig);
		assert_null(env.rcpts[k].orcpt);
		assert_int_equal(env.rcpts[k].done, 0);
		if (env.rcpts[k].kind == RCPT_RELAY)
			assert_null(env.rcpts[k].mailbox);
	}
	envelope_clear(&env);
}

/* test_rcpt_table - every row of cases[] */
static void test_rcpt_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(i, &cases[i]);
}

/* rcpt - one more RCPT into env; returns the verdict */
static enum rcpt_verdict rcpt(enum cfg_id cfg, const char *arg,
			      const struct rcpt_params *rp, struct envelope *env)
{
	struct sockaddr_storage ss = client_of(OUT4);
	struct rcpt_ctx ctx = { cfgs[cfg], (const struct sockaddr *)&ss, 0 };
	struct smtp_path p = parse(arg);

	return policy_rcpt(&ctx, &p, rp, env);
}

/* test_duplicates - a recipient already in the envelope is not added again
 * (the RCPT is still accepted), whether named directly or by an alias; a
 * rejected RCPT adds nothing */
static void test_duplicates(void **state)
{
	struct rcpt_params rp;
	struct envelope env;
	char got[512];

	(void)state;
	memset(&rp, 0, sizeof(rp));
	envelope_init(&env);
	assert_int_equal(rcpt(USERS, "<bob@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<info@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<bob@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<chain1@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<zed@example.test>", &rp, &env), RV_UNKNOWN);
	assert_int_equal(rcpt(USERS, "<x@remote.example>", &rp, &env),
			 RV_RELAY_DENIED);
	render(&env, got, sizeof(got));
	assert_string_equal(got, "local example.test/bob <bob@example.test>; "
				 "local example.test/alice <alice@example.test>");
	assert_string_equal(env.rcpts[0].orig, "bob@example.test");
	assert_string_equal(env.rcpts[1].orig, "info@example.test");
	envelope_clear(&env);
}

/* test_duplicates_case - local parts are lowercased for the mailbox, so
 * Bob@ and an alias reaching bob@ are one copy; a remote local part may be
 * case-sensitive and is kept as written */
static void test_duplicates_case(void **state)
{
	struct rcpt_params rp;
	struct envelope env;
	char got[512];

	(void)state;
	memset(&rp, 0, sizeof(rp));
	envelope_init(&env);
	assert_int_equal(rcpt(USERS, "<Bob@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<info@example.test>", &rp, &env), RV_OK);
	assert_int_equal(rcpt(USERS, "<BOB@Example.Test>", &rp, &env), RV_OK);
	render(&env, got, sizeof(got));
	assert_string_equal(got, "local example.test/bob <Bob@example.test>; "
				 "local example.test/alice <alice@example.test>");
	envelope_clear(&env);
}

/* test_dsn_copied - NOTIFY and ORCPT go to every final recipient of an
 * alias, with the address the client gave as orig */
static void test_dsn_copied(void **state)
{
	static const char orcpt[] = "info@example.test";
	struct rcpt_params rp;
	struct envelope env;
	size_t k;

	(void)state;
	memset(&rp, 0, sizeof(rp));
	rp.notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
	rp.has_orcpt = 1;
	strcpy(rp.orcpt_type, "rfc822");
	memcpy(rp.orcpt, orcpt, sizeof(orcpt));
	rp.orcpt_len = sizeof(orcpt) - 1;
	envelope_init(&env);
	assert_int_equal(rcpt(USERS, "<Info@example.test>", &rp, &env), RV_OK);
	assert_int_equal(env.nrcpts, 2);
	for (k = 0; k < env.nrcpts; k++) {
		const struct env_rcpt *r = &env.rcpts[k];

		assert_int_equal(r->kind, RCPT_LOCAL);
		assert_int_equal(r->notify, rp.notify);
		assert_string_equal(r->orcpt_type, "rfc822");
		assert_int_equal(r->orcpt_len, rp.orcpt_len);
		assert_memory_equal(r->orcpt, orcpt, sizeof(orcpt));
		assert_string_equal(r->orig, "Info@example.test");
	}
	envelope_clear(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcpt_table),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_duplicates_case),
		cmocka_unit_test(test_dsn_copied),
	};

	log_set_level(getenv("TEST_VERBOSE") ? LOG_DEBUG : LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}

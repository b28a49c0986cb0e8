/* policy - recipient policy: local domains, users, aliases and relay.
 *
 * Public: policy_rcpt, policy_route.
 * Invariants: a recipient is relayed only for clients in [relay] networks
 * or authenticated ones (or through an alias the administrator wrote);
 * '%', '!' and quoted '@' never route anywhere (RFC 5321 3.6.1 / CHECKLIST
 * F): they are part of a local mailbox name.  Aliases are expanded here,
 * at RCPT time, so the queue holds final mailboxes only.
 */
#include "server/policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf/tables.h"
#include "util/log.h"

#define ALIAS_DEPTH_MAX 10

/* lower_copy - strdup with ASCII letters lowercased */
static char *lower_copy(const char *s)
{
	char *d = strdup(s);
	char *p;

	if (d)
		for (p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return d;
}

/* format_addr - "local@domain" with the local part quoted when needed */
static char *format_addr(const char *local, const char *domain)
{
	struct smtp_path p;
	char text[ADDR_TEXT_MAX + 1];
	size_t n = strlen(local);

	memset(&p, 0, sizeof(p));
	if (n > ADDR_LOCAL_MAX || strlen(domain) > ADDR_DOMAIN_MAX)
		return NULL;
	memcpy(p.local, local, n + 1);
	p.local_len = n;
	strcpy(p.domain, domain);
	addr_format(&p, text, sizeof(text));
	return strdup(text);
}

/* have_rcpt - is this final recipient already in the envelope?  Local
 * ones are the same when they reach the same mailbox (local parts are
 * lowercased for it, so Bob@ and bob@ are one copy); remote ones when the
 * address is the same (a remote local part may be case-sensitive) */
static int have_rcpt(const struct envelope *env, enum rcpt_kind kind, const char *addr,
		     const char *local, const char *domain)
{
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		const struct env_rcpt *r = &env->rcpts[i];

		if (r->kind != kind)
			continue;
		if (kind == RCPT_LOCAL ? strcmp(r->domain, domain) == 0 &&
					 strcasecmp(r->mailbox, local) == 0
				       : strcmp(r->addr, addr) == 0)
			return 1;
	}
	return 0;
}

/* expansion - one policy_rcpt call in progress */
struct expansion {
	const struct rcpt_ctx *ctx;
	const struct rcpt_params *rp;
	struct envelope *env;
	const char *orig;	/* the address as the client gave it */
	size_t found;		/* final recipients reached (duplicates too) */
};

/* add_final - append one final recipient (deduplicated) */
static enum rcpt_verdict add_final(struct expansion *x, enum rcpt_kind kind,
				   const char *local, const char *domain)
{
	const struct rcpt_params *rp = x->rp;
	struct env_rcpt *r;
	char *addr = format_addr(local, domain);

	if (!addr)
		return RV_BAD_MAILBOX;
	x->found++;
	if (have_rcpt(x->env, kind, addr, local, domain)) {
		free(addr);
		return RV_OK;
	}
	r = envelope_add_rcpt(x->env);
	if (!r) {
		free(addr);
		return RV_NOMEM;
	}
	r->kind = kind;
	r->addr = addr;
	r->domain = strdup(domain);
	r->mailbox = kind == RCPT_LOCAL ? lower_copy(local) : NULL;
	r->orig = strdup(x->orig);
	r->notify = rp->notify;
	if (rp->has_orcpt) {
		r->orcpt_type = strdup(rp->orcpt_type);
		r->orcpt = malloc(rp->orcpt_len + 1);
		if (r->orcpt) {
			memcpy(r->orcpt, rp->orcpt, rp->orcpt_len + 1);
			r->orcpt_len = rp->orcpt_len;
		}
	}
	if (!r->domain || !r->orig || (kind == RCPT_LOCAL && !r->mailbox) ||
	    (rp->has_orcpt && (!r->orcpt_type || !r->orcpt)))
		return RV_NOMEM;
	return RV_OK;
}

/* local_exists - does local@domain exist without aliases? */
static int local_exists(const struct config *cfg, const char *local, const char *domain)
{
	char *addr, *low;
	int ok;

	if (!cfg->users || strcasecmp(local, "postmaster") == 0)
		return 1;
	addr = format_addr(local, domain);
	if (!addr)
		return 0;
	low = lower_copy(addr);
	ok = low && users_exists(cfg->users, low);
	free(addr);
	free(low);
	return ok;
}

static enum rcpt_verdict expand(struct expansion *x, const char *local,
				const char *domain, int depth);

/* expand_target - one alias target: "user" (same domain) or "user@domain" */
static enum rcpt_verdict expand_target(struct expansion *x, const char *t,
				       const char *domain, int depth)
{
	const char *at = strrchr(t, '@');
	char local[ADDR_LOCAL_MAX + 1];
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t ln = at ? (size_t)(at - t) : strlen(t);
	char *p;

	if (ln == 0 || ln > ADDR_LOCAL_MAX || (at && strlen(at + 1) > ADDR_DOMAIN_MAX)) {
		log_warn("alias target=\"%.80s\" status=skipped reason=\"bad address\"", t);
		return RV_OK;
	}
	memcpy(local, t, ln);
	local[ln] = '\0';
	snprintf(dom, sizeof(dom), "%s", at ? at + 1 : domain);
	for (p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return expand(x, local, dom, depth + 1);
}

/* expand_local - a local address that no alias names: a mailbox */
static enum rcpt_verdict expand_local(struct expansion *x, const char *local,
				      const char *domain, int depth)
{
	char *mb = lower_copy(local);
	int safe = mb && addr_mailbox_safe(mb);

	free(mb);
	if (!safe)
		return depth ? RV_OK : RV_BAD_MAILBOX;
	if (!local_exists(x->ctx->cfg, local, domain)) {
		if (depth)
			log_warn("alias target=%s@%s status=skipped reason=\"user unknown\"",
				 local, domain);
		return depth ? RV_OK : RV_UNKNOWN;
	}
	return add_final(x, RCPT_LOCAL, local, domain);
}

/* expand - resolve local@domain through the aliases into final recipients */
static enum rcpt_verdict expand(struct expansion *x, const char *local,
				const char *domain, int depth)
{
	const struct config *cfg = x->ctx->cfg;
	const char *const *targets = NULL;
	size_t n = 0, i;
	enum rcpt_verdict v;

	if (!config_is_local_domain(cfg, domain))
		return add_final(x, RCPT_RELAY, local, domain);
	if (cfg->aliases && depth < ALIAS_DEPTH_MAX)
		targets = aliases_lookup(cfg->aliases, local, domain, &n);
	if (!targets || n == 0)
		return expand_local(x, local, domain, depth);
	for (i = 0; i < n; i++) {
		/* "alice: alice, bob" keeps a copy in alice's own mailbox */
		if (strcasecmp(targets[i], local) == 0)
			v = add_final(x, RCPT_LOCAL, local, domain);
		else
			v = expand_target(x, targets[i], domain, depth);
		if (v == RV_NOMEM)
			return v;
	}
	return RV_OK;
}

/* policy_rcpt - judge one RCPT TO: path */
enum rcpt_verdict policy_rcpt(const struct rcpt_ctx *ctx, const struct smtp_path *p,
			      const struct rcpt_params *rp, struct envelope *env)
{
	const struct config *cfg = ctx->cfg;
	char orig[ADDR_TEXT_MAX + 1];
	const char *domain = p->is_postmaster ? cfg->domains[0] : p->domain;
	struct expansion x = { ctx, rp, env, orig, 0 };
	enum rcpt_verdict v;

	addr_format(p, orig, sizeof(orig));
	if (!config_is_local_domain(cfg, domain) &&
	    !ctx->authenticated && !cidr_list_match(&cfg->relay_networks, ctx->client))
		return RV_RELAY_DENIED;
	v = expand(&x, p->is_postmaster ? "postmaster" : p->local, domain, 0);
	if (v == RV_OK && x.found == 0)
		return RV_UNKNOWN;	/* every alias target was unusable */
	return v;
}

/* policy_route - route an address as a trusted local client's RCPT */
int policy_route(const struct config *cfg, const char *addr, struct env_rcpt *r)
{
	struct sockaddr_storage none;
	struct rcpt_ctx ctx = { cfg, (const struct sockaddr *)&none, 1 };
	struct rcpt_params rp;
	struct smtp_path p;
	struct envelope env;
	char text[ADDR_TEXT_MAX + 3];
	size_t used = 0;
	int rc = -1;

	memset(&none, 0, sizeof(none));
	memset(&rp, 0, sizeof(rp));
	snprintf(text, sizeof(text), "<%s>", addr);
	if (addr_parse_path(text, strlen(text), ADDR_ALLOW_UTF8 | ADDR_ALLOW_POSTMASTER, &p,
			    &used) != ADDR_OK || used != strlen(text))
		return -1;
	envelope_init(&env);
	if (policy_rcpt(&ctx, &p, &rp, &env) == RV_OK && env.nrcpts > 0) {
		const struct env_rcpt *f = &env.rcpts[0];

		r->kind = f->kind;
		free(r->domain);
		free(r->mailbox);
		r->domain = f->domain ? strdup(f->domain) : NULL;
		r->mailbox = f->mailbox ? strdup(f->mailbox) : NULL;
		rc = r->domain && (f->kind != RCPT_LOCAL || r->mailbox) ? 0 : -1;
	}
	envelope_clear(&env);
	return rc;
}

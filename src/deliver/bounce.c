/* bounce - delivery status notifications (RFC 3461, RFC 3464): who gets
 * one, and the message (built by msg/dsn).
 *
 * Public: bounce_wanted, bounce_build.
 * A notice about several recipients of one message is one report (RFC
 * 3464); its recipient statuses are their last outcomes (env_rcpt.last).
 * Invariants: a message from the null sender never causes a notification
 * (RFC 5321 4.5.5: no bounce of a bounce); a notification has the null
 * sender and exactly one recipient, the original sender.
 */
#include "deliver/bounce.h"

#include <stdlib.h>
#include <string.h>

#include "msg/dsn.h"
#include "smtp/params.h"

/* bounce_wanted - RFC 3461 4.1: NOTIFY absent = failures only */
int bounce_wanted(const struct envelope *env, const struct env_rcpt *r, enum bounce_kind kind)
{
	unsigned n = r->notify;

	if (!env->sender || !env->sender[0])
		return 0;
	if (n & NOTIFY_NEVER)
		return 0;
	switch (kind) {
	case BOUNCE_FAILED:
		return n == 0 || (n & NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return (n & NOTIFY_DELAY) != 0;
	case BOUNCE_SUCCESS:
		return (n & NOTIFY_SUCCESS) != 0;
	case BOUNCE__COUNT:
		break;
	}
	return 0;
}

/* orig_reader - msg/dsn's reader over the bytes the caller read */
struct orig_reader {
	const char *p;
	size_t left;
};

static long orig_read(void *ctx, char *buf, size_t n)
{
	struct orig_reader *r = ctx;

	if (n > r->left)
		n = r->left;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return (long)n;
}

/* action_of - the RFC 3464 action of one recipient in a notice of kind */
static enum msg_dsn_action action_of(enum bounce_kind kind, const struct env_rcpt *r)
{
	if (kind == BOUNCE_FAILED)
		return MSG_DSN_FAILED;
	if (kind == BOUNCE_DELAYED)
		return MSG_DSN_DELAYED;
	return r->kind == RCPT_LOCAL ? MSG_DSN_DELIVERED : MSG_DSN_RELAYED;
}

/* bounce_build - the notice through msg/dsn, addressed to the sender */
int bounce_build(const struct bounce_in *in, struct envelope *out_env, buf_t *out)
{
	static unsigned long long nonce;
	const struct envelope *e = in->env;
	struct msg_dsn_rcpt *rs;
	struct orig_reader rd = { in->orig, in->orig_len };
	struct msg_dsn d;
	struct msg_dsn_info info;
	struct env_rcpt *to;
	size_t k;
	int rc = -1;

	if (!e->sender || !e->sender[0] || in->nrcpts == 0)
		return -1;
	rs = calloc(in->nrcpts, sizeof(*rs));
	if (!rs)
		return -1;
	for (k = 0; k < in->nrcpts; k++) {
		const struct env_rcpt *r = &e->rcpts[in->rcpts[k]];

		rs[k].final_rcpt = r->addr ? r->addr : "";
		rs[k].orcpt_type = r->orcpt_type;
		rs[k].orcpt = r->orcpt;
		rs[k].orcpt_len = r->orcpt_len;
		rs[k].action = action_of(in->kind, r);
		rs[k].status = &r->last;
		rs[k].last_attempt = in->now;
		rs[k].retry_until = in->kind == BOUNCE_DELAYED ? in->retry_until : 0;
	}
	memset(&d, 0, sizeof(d));
	d.hostname = in->hostname;
	d.qid = e->qid;
	d.sender = e->sender;
	d.envid = e->envid;
	d.envid_len = e->envid_len;
	d.ret = e->ret;
	d.arrival = e->arrival;
	d.now = in->now;
	d.nonce = __atomic_add_fetch(&nonce, 1, __ATOMIC_RELAXED);
	d.orig_max = BOUNCE_ORIG_MAX;
	d.read = in->orig ? orig_read : NULL;
	d.read_ctx = &rd;
	d.rcpts = rs;
	d.nrcpts = in->nrcpts;
	if (msg_dsn_build(&d, out, &info) < 0)
		goto done;
	/* the notice's envelope: from <>, to the original sender */
	out_env->sender = strdup("");
	out_env->body = info.eight_bit ? BODY_8BITMIME : BODY_NONE;
	out_env->smtputf8 = info.smtputf8;
	out_env->proto = strdup("local");
	out_env->client_addr = strdup("127.0.0.1");
	to = envelope_add_rcpt(out_env);
	if (!out_env->sender || !out_env->proto || !out_env->client_addr || !to)
		goto done;
	to->addr = strdup(e->sender);
	to->orig = strdup(e->sender);
	if (to->addr && to->orig)
		rc = 0;
done:
	free(rs);
	return rc;
}

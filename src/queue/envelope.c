/* envelope - the SMTP transaction's description of a message.
 *
 * Public: envelope_init, envelope_clear, envelope_add_rcpt.
 * Invariant: every string pointer is NULL or a heap copy owned by the
 * envelope; rcpts holds nrcpts initialised entries and room for rcpts_cap.
 */
#include "queue/envelope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* envelope_init - make an empty envelope that owns nothing */
void envelope_init(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	e->body = BODY_NONE;
	e->ret = RET_NONE;
}

/* rcpt_clear - free the strings of one recipient */
static void rcpt_clear(struct env_rcpt *r)
{
	free(r->addr);
	free(r->domain);
	free(r->mailbox);
	free(r->orig);
	free(r->orcpt_type);
	free(r->orcpt);
	memset(r, 0, sizeof(*r));
}

/* envelope_clear - free everything the envelope owns and re-initialise it */
void envelope_clear(struct envelope *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		rcpt_clear(&e->rcpts[i]);
	free(e->rcpts);
	free(e->client_addr);
	free(e->helo);
	free(e->proto);
	free(e->sender);
	free(e->envid);
	free(e->auth);
	envelope_init(e);
}

/* envelope_add_rcpt - append a zeroed recipient, growing the array */
struct env_rcpt *envelope_add_rcpt(struct envelope *e)
{
	struct env_rcpt *r;

	if (e->nrcpts == e->rcpts_cap) {
		size_t ncap = e->rcpts_cap ? e->rcpts_cap * 2 : 4;

		if (ncap < e->rcpts_cap || ncap > SIZE_MAX / sizeof(*r))
			return NULL;
		r = realloc(e->rcpts, ncap * sizeof(*r));
		if (!r)
			return NULL;
		e->rcpts = r;
		e->rcpts_cap = ncap;
	}
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->kind = RCPT_LOCAL;
	return r;
}

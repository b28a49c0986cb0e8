/* chan - frames (priv/wire.h) with file descriptors over a connected
 * AF_UNIX SOCK_STREAM socket, on a libevent loop.
 *
 * Sending queues: chan_send copies the payload and duplicates the
 * descriptors (the caller keeps and may close its own at once); the queue
 * is written when the socket takes it, each frame's descriptors riding
 * with its first byte.  Receiving delivers every complete frame to the
 * callback, with the descriptors its header declares.  Anything wrong
 * with the peer (a bad header, descriptors missing, stray or truncated,
 * EOF, a socket error) ends the channel: the callback gets m == NULL once,
 * chan_error says why, and nothing is delivered or written any more.
 */
#ifndef MAILPORT_PRIV_CHAN_H
#define MAILPORT_PRIV_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "priv/wire.h"

struct chan;

/* One received frame.  data (len bytes) and the fds array stay valid
 * during the callback only; the descriptors themselves belong to the
 * callback, which must close or keep each one (the chan closes none of
 * them afterwards). */
struct chan_msg {
	uint32_t type;
	const uint8_t *data;
	size_t len;
	int *fds;
	size_t nfds;
};

/* m == NULL: the channel ended (EOF or an error, see chan_error).  The
 * callback may call chan_free on the channel. */
typedef void chan_fn(void *arg, const struct chan_msg *m);

/* chan_new - a channel over fd (made non-blocking; owned by the channel
 * from now on, closed by chan_free); NULL on failure (fd left open) */
struct chan *chan_new(struct event_base *base, int fd, chan_fn *cb, void *arg);

/* chan_set_limit - refuse (as a protocol error) frames whose payload is
 * over max bytes (default and ceiling: WIRE_MAX_PAYLOAD); the parent
 * expects only small messages from the worker */
void chan_set_limit(struct chan *ch, size_t max);

/* chan_send - queue a frame: len bytes of data and nfds descriptors
 * (duplicated now, the duplicates closed once sent); 0, or -1 on ENOMEM,
 * EMFILE, over the limits (type 0, len > WIRE_MAX_PAYLOAD, nfds >
 * WIRE_MAX_FDS) or on an ended channel */
int chan_send(struct chan *ch, uint32_t type, const void *data, size_t len,
	      const int *fds, size_t nfds);

/* chan_pending - bytes queued and not written yet */
size_t chan_pending(const struct chan *ch);

/* chan_error - why the channel ended ("" while it runs) */
const char *chan_error(const struct chan *ch);

/* chan_free - close the socket, the descriptors received and not handed
 * out and those queued; NULL is fine.  From the channel's own callback
 * the memory goes when the callback returns. */
void chan_free(struct chan *ch);

#endif

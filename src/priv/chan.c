/* chan - framed messages with descriptors over a unix stream socket (see
 * chan.h).
 *
 * Public: chan_new, chan_set_limit, chan_send, chan_pending, chan_error,
 * chan_free.
 *
 * Receiving: recvmsg reads a chunk (the rest of the current frame when
 * its header says more) into the input buffer; SCM_RIGHTS descriptors go
 * to a FIFO.  Linux ends a stream read right after the bytes that carry
 * descriptors, and the sender attaches a frame's descriptors to its first
 * byte, so when a header is complete its descriptors are at the head of
 * the FIFO: they are claimed then (fewer = protocol error), and once every
 * complete frame is delivered the FIFO must be empty unless a header is
 * still incomplete (otherwise: stray descriptors, protocol error).
 * Sending: a queue of frames, each one allocation of exactly header +
 * payload; the first sendmsg of a frame carries its descriptors; EAGAIN
 * and short writes wait for EV_WRITE.
 * Invariants: after the channel ended (ended != 0) no event is pending,
 * the FIFO, the claimed descriptors and the queue are empty, and the
 * callback is never called again.  While a callback runs (in_cb) the
 * channel's memory stays: chan_free only marks it dead.  Buffers that held
 * frames are wiped before reuse or release (the CONFIG carries keys).
 */
#include "priv/chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (256u << 10)		/* bytes asked of one recvmsg at least */
#define FIFO_MAX (2 * WIRE_MAX_FDS)	/* one frame's pending, one more read */
#define KEEP_BUF (1u << 20)		/* an empty input buffer above: freed */

/* A frame waiting to be written. */
struct ofr {
	struct ofr *next;
	size_t len;			/* header + payload */
	size_t off;			/* bytes written */
	size_t nfds;			/* duplicates still to send */
	int fds[WIRE_MAX_FDS];
	uint8_t data[];
};

struct chan {
	int fd;
	struct event *rev, *wev;
	chan_fn *cb;
	void *arg;
	uint8_t *in;			/* received, not delivered */
	size_t ilen, icap;
	int fifo[FIFO_MAX];		/* received descriptors, not claimed */
	size_t nfifo;
	int cur[WIRE_MAX_FDS];		/* the incomplete frame's descriptors */
	size_t ncur;
	int claimed;			/* its header was complete: cur holds them */
	size_t need;			/* its size (header + payload) when claimed */
	size_t max;			/* payload bytes accepted in one frame */
	struct ofr *ohead, *otail;
	size_t pending;			/* bytes in the queue */
	int ended;
	int in_cb;
	int dead;			/* chan_free was called from the callback */
	char err[160];
};

/* close_all - close n descriptors */
static void close_all(const int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* ofr_free - a queued frame: its duplicates closed, its bytes wiped */
static void ofr_free(struct ofr *f)
{
	close_all(f->fds, f->nfds);
	explicit_bzero(f->data, f->len);
	free(f);
}

/* drop_state - release everything but the socket and the events */
static void drop_state(struct chan *ch)
{
	struct ofr *f;

	close_all(ch->fifo, ch->nfifo);
	ch->nfifo = 0;
	close_all(ch->cur, ch->ncur);
	ch->ncur = 0;
	ch->claimed = 0;
	while ((f = ch->ohead) != NULL) {
		ch->ohead = f->next;
		ofr_free(f);
	}
	ch->otail = NULL;
	ch->pending = 0;
	if (ch->in)
		explicit_bzero(ch->in, ch->ilen);
	free(ch->in);
	ch->in = NULL;
	ch->ilen = ch->icap = 0;
}

/* destroy - free the channel now */
static void destroy(struct chan *ch)
{
	drop_state(ch);
	if (ch->rev)
		event_free(ch->rev);
	if (ch->wev)
		event_free(ch->wev);
	close(ch->fd);
	free(ch);
}

/* deliver - call the callback; -1 when the channel is gone (freed now,
 * or by an outer delivery) and must not be touched */
static int deliver(struct chan *ch, const struct chan_msg *m)
{
	ch->in_cb++;
	ch->cb(ch->arg, m);
	ch->in_cb--;
	if (!ch->dead)
		return 0;
	if (ch->in_cb == 0)
		destroy(ch);
	return -1;
}

/* fail - end the channel and tell the callback once; the channel may be
 * gone afterwards: the caller returns at once */
__attribute__((format(printf, 2, 3)))
static void fail(struct chan *ch, const char *fmt, ...)
{
	va_list ap;

	if (ch->ended)
		return;
	ch->ended = 1;
	va_start(ap, fmt);
	vsnprintf(ch->err, sizeof(ch->err), fmt, ap);
	va_end(ap);
	event_del(ch->rev);
	event_del(ch->wev);
	drop_state(ch);
	deliver(ch, NULL);
}

/* ---- receiving ---- */

/* take_fds - move the descriptors of a recvmsg into the FIFO; NULL, or
 * what is wrong (the descriptors are closed or in the FIFO either way) */
static const char *take_fds(struct chan *ch, struct msghdr *mh)
{
	struct cmsghdr *c;
	const char *why = NULL;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ch->nfifo < FIFO_MAX) {
				ch->fifo[ch->nfifo++] = fd;
			} else {
				close(fd);
				why = "too many descriptors without a frame";
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		why = "descriptors truncated (more than 64 with one frame?)";
	return why;
}

/* claim - the header of the frame at p is complete: take its descriptors
 * from the FIFO; -1 if fewer arrived */
static int claim(struct chan *ch, const struct wire_hdr *h)
{
	if (ch->nfifo < h->nfds)
		return -1;
	memcpy(ch->cur, ch->fifo, h->nfds * sizeof(int));
	ch->ncur = h->nfds;
	ch->nfifo -= h->nfds;
	memmove(ch->fifo, ch->fifo + h->nfds, ch->nfifo * sizeof(int));
	ch->claimed = 1;
	ch->need = WIRE_HDR_SIZE + (size_t)h->len;
	return 0;
}

/* consume - drop the first n input bytes, wiping what they leave */
static void consume(struct chan *ch, size_t n)
{
	size_t rest = ch->ilen - n;

	if (n == 0)
		return;
	memmove(ch->in, ch->in + n, rest);
	explicit_bzero(ch->in + rest, n);
	ch->ilen = rest;
	if (rest == 0 && ch->icap > KEEP_BUF) {
		free(ch->in);
		ch->in = NULL;
		ch->icap = 0;
	}
}

/* process - deliver every complete frame in the input; -1 when the
 * channel ended or is gone */
static int process(struct chan *ch)
{
	struct chan_msg m;
	struct wire_hdr h;
	size_t off = 0;
	int r;

	for (;;) {
		r = wire_frame_parse(ch->in + off, ch->ilen - off, &h);
		if (r < 0) {
			fail(ch, "invalid frame header (type 0, or over the limits)");
			return -1;
		}
		if (ch->ilen - off >= WIRE_HDR_SIZE && !ch->claimed) {
			if (h.len > ch->max) {
				fail(ch, "frame type=%u of %u bytes: over this channel's limit of %zu",
				     (unsigned)h.type, (unsigned)h.len, ch->max);
				return -1;
			}
			if (claim(ch, &h) < 0) {
				fail(ch, "frame type=%u declares %u descriptors, %zu arrived",
				     (unsigned)h.type, (unsigned)h.nfds, ch->nfifo);
				return -1;
			}
		}
		if (r == 0)
			break;
		m.type = h.type;
		m.data = ch->in + off + WIRE_HDR_SIZE;
		m.len = h.len;
		m.fds = ch->cur;
		m.nfds = ch->ncur;
		ch->ncur = 0;		/* the callback's now */
		ch->claimed = 0;
		off += WIRE_HDR_SIZE + (size_t)h.len;
		if (deliver(ch, &m) < 0 || ch->ended)
			return -1;
	}
	consume(ch, off);
	if (ch->nfifo && (ch->claimed || ch->ilen == 0)) {
		fail(ch, "%zu descriptors arrived without a frame", ch->nfifo);
		return -1;
	}
	return 0;
}

/* room - space for the next read: a chunk, or more of a big frame (the
 * buffer doubles up to the frame's size as its bytes arrive, so a header
 * alone never costs the memory it announces) */
static int room(struct chan *ch)
{
	size_t want = CHUNK, rest, grow, ncap;
	uint8_t *p;

	if (ch->claimed && ch->need > ch->ilen) {
		rest = ch->need - ch->ilen;
		grow = ch->ilen > CHUNK ? ch->ilen : CHUNK;
		if (rest > want)
			want = rest < grow ? rest : grow;
	}
	if (ch->icap - ch->ilen >= want)
		return 0;
	ncap = ch->ilen + want;
	p = malloc(ncap);	/* not realloc: the old bytes are wiped */
	if (!p)
		return -1;
	if (ch->in) {
		memcpy(p, ch->in, ch->ilen);
		explicit_bzero(ch->in, ch->ilen);
		free(ch->in);
	}
	ch->in = p;
	ch->icap = ncap;
	return 0;
}

/* on_read - the socket is readable: one recvmsg, then deliver */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	union {
		char buf[CMSG_SPACE(WIRE_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct chan *ch = arg;
	struct msghdr mh;
	struct iovec iov;
	const char *why;
	ssize_t r;

	(void)fd;
	(void)what;
	if (ch->ended)
		return;
	if (room(ch) < 0) {
		fail(ch, "out of memory for a frame of %zu bytes", ch->need);
		return;
	}
	iov.iov_base = ch->in + ch->ilen;
	iov.iov_len = ch->icap - ch->ilen;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	r = recvmsg(ch->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			fail(ch, "recvmsg: %s", strerror(errno));
		return;
	}
	if ((why = take_fds(ch, &mh)) != NULL) {
		fail(ch, "%s", why);
		return;
	}
	if (r == 0) {
		fail(ch, ch->ilen || ch->nfifo ? "connection closed mid-frame" : "connection closed");
		return;
	}
	ch->ilen += (size_t)r;
	process(ch);
}

/* ---- sending ---- */

/* send_one - one sendmsg of the head frame; 1 written (some), 0 EAGAIN,
 * -1 error (errno) */
static int send_one(struct chan *ch, struct ofr *f)
{
	union {
		char buf[CMSG_SPACE(WIRE_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t r;

	iov.iov_base = f->data + f->off;
	iov.iov_len = f->len - f->off;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (f->off == 0 && f->nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(f->nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(f->nfds * sizeof(int));
		memcpy(CMSG_DATA(c), f->fds, f->nfds * sizeof(int));
	}
	do
		r = sendmsg(ch->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (f->off == 0) {		/* the descriptors went with byte 0 */
		close_all(f->fds, f->nfds);
		f->nfds = 0;
	}
	f->off += (size_t)r;
	ch->pending -= (size_t)r;
	return 1;
}

/* on_write - the socket is writable: write the queue until EAGAIN */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct chan *ch = arg;
	struct ofr *f;
	int r;

	(void)fd;
	(void)what;
	while (!ch->ended && (f = ch->ohead) != NULL) {
		r = send_one(ch, f);
		if (r < 0) {
			fail(ch, "sendmsg: %s", strerror(errno));
			return;
		}
		if (r == 0)
			return;		/* EV_WRITE stays */
		if (f->off == f->len) {
			ch->ohead = f->next;
			if (!ch->ohead)
				ch->otail = NULL;
			ofr_free(f);
		}
	}
	event_del(ch->wev);
}

/* chan_send - queue a frame with duplicates of fds */
int chan_send(struct chan *ch, uint32_t type, const void *data, size_t len,
	      const int *fds, size_t nfds)
{
	struct wire_hdr h;
	struct ofr *f;

	if (!ch || ch->ended || ch->dead || type == 0 || len > WIRE_MAX_PAYLOAD ||
	    nfds > WIRE_MAX_FDS)
		return -1;
	f = malloc(sizeof(*f) + WIRE_HDR_SIZE + len);
	if (!f)
		return -1;
	f->next = NULL;
	f->len = WIRE_HDR_SIZE + len;
	f->off = 0;
	for (f->nfds = 0; f->nfds < nfds; f->nfds++) {
		f->fds[f->nfds] = fcntl(fds[f->nfds], F_DUPFD_CLOEXEC, 0);
		if (f->fds[f->nfds] < 0) {
			ofr_free(f);
			return -1;
		}
	}
	h.type = type;
	h.len = (uint32_t)len;
	h.nfds = (uint32_t)nfds;
	wire_hdr_encode(f->data, &h);
	if (len)
		memcpy(f->data + WIRE_HDR_SIZE, data, len);
	if (event_add(ch->wev, NULL) < 0) {
		ofr_free(f);
		return -1;
	}
	if (ch->otail)
		ch->otail->next = f;
	else
		ch->ohead = f;
	ch->otail = f;
	ch->pending += f->len;
	return 0;
}

/* ---- the channel ---- */

/* chan_new - wrap a connected unix stream socket */
struct chan *chan_new(struct event_base *base, int fd, chan_fn *cb, void *arg)
{
	struct chan *ch;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->fd = fd;
	ch->max = WIRE_MAX_PAYLOAD;
	ch->cb = cb;
	ch->arg = arg;
	ch->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, ch);
	ch->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, ch);
	if (!ch->rev || !ch->wev || event_add(ch->rev, NULL) < 0) {
		if (ch->rev)
			event_free(ch->rev);
		if (ch->wev)
			event_free(ch->wev);
		free(ch);
		return NULL;
	}
	return ch;
}

/* chan_set_limit - accept frames of at most max payload bytes */
void chan_set_limit(struct chan *ch, size_t max)
{
	ch->max = max < WIRE_MAX_PAYLOAD ? max : WIRE_MAX_PAYLOAD;
}

/* chan_pending - bytes not written yet */
size_t chan_pending(const struct chan *ch)
{
	return ch ? ch->pending : 0;
}

/* chan_error - why the channel ended */
const char *chan_error(const struct chan *ch)
{
	return ch ? ch->err : "no channel";
}

/* chan_free - close and release, or mark dead from inside the callback */
void chan_free(struct chan *ch)
{
	if (!ch)
		return;
	if (ch->in_cb) {
		ch->dead = 1;
		event_del(ch->rev);
		event_del(ch->wev);
		return;
	}
	destroy(ch);
}

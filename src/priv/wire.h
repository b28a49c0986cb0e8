/* wire - the byte layout of the parent/worker socketpair protocol.
 *
 * A frame is a 12-byte header (little-endian u32 type, u32 payload
 * length, u32 number of descriptors), then the payload; the descriptors
 * travel as SCM_RIGHTS with the first byte of the header (priv/chan.h).
 * Payload fields: u32 (LE), str (u32 length + bytes, no NUL inside),
 * blob (u32 length + bytes).  The message types and their fields are in
 * priv/proto.h; this module knows only frames and fields.
 *
 * The reader is sticky: once a get fails (short input, over its limit, a
 * NUL in a str) every later get fails too, so a decoder may read all its
 * fields and check once, and wire_end tells whether the payload was
 * consumed exactly.
 */
#ifndef MAILPORT_PRIV_WIRE_H
#define MAILPORT_PRIV_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define WIRE_HDR_SIZE 12
#define WIRE_MAX_PAYLOAD (256u << 20)	/* bytes of payload in one frame */
#define WIRE_MAX_FDS 64			/* descriptors with one frame */

struct wire_hdr {
	uint32_t type;		/* never 0 */
	uint32_t len;		/* payload bytes, <= WIRE_MAX_PAYLOAD */
	uint32_t nfds;		/* <= WIRE_MAX_FDS */
};

/* wire_frame_parse - look at the frame starting at p[0..n):
 * -1 the header is invalid (type 0, payload or descriptors over the
 * limits); 0 need more bytes; 1 the whole frame (WIRE_HDR_SIZE + h->len
 * bytes) is there.  Whenever n >= WIRE_HDR_SIZE and the header is valid,
 * *h is filled, also when 0 is returned (the payload is still short). */
int wire_frame_parse(const uint8_t *p, size_t n, struct wire_hdr *h);

/* wire_hdr_encode - the 12 header bytes of h into out (not checked) */
void wire_hdr_encode(uint8_t out[WIRE_HDR_SIZE], const struct wire_hdr *h);

/* wire_frame_put - append a header and len bytes of payload; -1 (b
 * unchanged) on ENOMEM or over the limits */
int wire_frame_put(buf_t *b, uint32_t type, const void *payload, size_t len, size_t nfds);

/* wire_put_u32, wire_put_str, wire_put_strn, wire_put_blob - append one
 * field; -1 (b unchanged) on ENOMEM or a length over UINT32_MAX.  The
 * str writers do not check for NUL bytes (a C string has none; strn is
 * the caller's word) */
int wire_put_u32(buf_t *b, uint32_t v);
int wire_put_str(buf_t *b, const char *s);
int wire_put_strn(buf_t *b, const char *s, size_t n);
int wire_put_blob(buf_t *b, const void *p, size_t n);

struct wire_rd {
	const uint8_t *p;	/* the next unread byte */
	size_t left;		/* bytes not read yet */
	int bad;		/* a get failed: every later one fails */
};

/* wire_rd_init - a reader over p[0..n) */
void wire_rd_init(struct wire_rd *rd, const void *p, size_t n);

/* wire_get_u32 - one u32 into *v; 0, or -1 (rd bad, *v = 0) */
int wire_get_u32(struct wire_rd *rd, uint32_t *v);

/* wire_get_str - a str of at most maxlen bytes without NUL, as a malloc'd
 * NUL-terminated copy in *out; 0, or -1 (rd bad, *out = NULL) */
int wire_get_str(struct wire_rd *rd, size_t maxlen, char **out);

/* wire_get_str_ref - the same without a copy: *s points into the input,
 * *len bytes, not terminated */
int wire_get_str_ref(struct wire_rd *rd, size_t maxlen, const char **s, size_t *len);

/* wire_get_blob - a blob of at most maxlen bytes as a malloc'd copy with
 * one more NUL byte (text parsers may use it) in *out, *len without the
 * NUL; 0, or -1 (rd bad, *out = NULL, *len = 0) */
int wire_get_blob(struct wire_rd *rd, size_t maxlen, char **out, size_t *len);

/* wire_get_blob_ref - the same without a copy: *p points into the input */
int wire_get_blob_ref(struct wire_rd *rd, size_t maxlen, const uint8_t **p, size_t *len);

/* wire_end - 0 when the input was consumed exactly and no get failed */
int wire_end(const struct wire_rd *rd);

#endif

/* wire - frames and fields of the socketpair protocol (see wire.h).
 *
 * Public: wire_frame_parse, wire_hdr_encode, wire_frame_put, wire_put_u32,
 * wire_put_str, wire_put_strn, wire_put_blob, wire_rd_init, wire_get_u32,
 * wire_get_str, wire_get_str_ref, wire_get_blob, wire_get_blob_ref,
 * wire_end.
 * Invariants: integers are little-endian whatever the host; a reader never
 * looks past p[left - 1]; a failed get leaves its outputs empty and the
 * reader bad; a failed put leaves the buffer as it was.
 */
#include "priv/wire.h"

#include <stdlib.h>
#include <string.h>

/* le32 - the little-endian u32 at p */
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* put_le32 - v at p, little-endian */
static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* wire_frame_parse - check the header, tell whether the frame is whole */
int wire_frame_parse(const uint8_t *p, size_t n, struct wire_hdr *h)
{
	struct wire_hdr t;

	if (n < WIRE_HDR_SIZE)
		return 0;
	t.type = le32(p);
	t.len = le32(p + 4);
	t.nfds = le32(p + 8);
	if (t.type == 0 || t.len > WIRE_MAX_PAYLOAD || t.nfds > WIRE_MAX_FDS)
		return -1;
	*h = t;
	return n - WIRE_HDR_SIZE >= t.len ? 1 : 0;
}

/* wire_hdr_encode - type, length, descriptors, little-endian */
void wire_hdr_encode(uint8_t out[WIRE_HDR_SIZE], const struct wire_hdr *h)
{
	put_le32(out, h->type);
	put_le32(out + 4, h->len);
	put_le32(out + 8, h->nfds);
}

/* wire_frame_put - header and payload */
int wire_frame_put(buf_t *b, uint32_t type, const void *payload, size_t len, size_t nfds)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	struct wire_hdr h;

	if (type == 0 || len > WIRE_MAX_PAYLOAD || nfds > WIRE_MAX_FDS ||
	    buf_reserve(b, WIRE_HDR_SIZE + len) < 0)
		return -1;
	h.type = type;
	h.len = (uint32_t)len;
	h.nfds = (uint32_t)nfds;
	wire_hdr_encode(hdr, &h);
	buf_append(b, hdr, sizeof(hdr));	/* reserved: cannot fail */
	buf_append(b, payload, len);
	return 0;
}

/* wire_put_u32 - a u32 field */
int wire_put_u32(buf_t *b, uint32_t v)
{
	uint8_t le[4];

	put_le32(le, v);
	return buf_append(b, le, sizeof(le));
}

/* wire_put_blob - a u32 length and the bytes */
int wire_put_blob(buf_t *b, const void *p, size_t n)
{
	if (n > UINT32_MAX || n > SIZE_MAX - 4 || buf_reserve(b, 4 + n) < 0)
		return -1;
	wire_put_u32(b, (uint32_t)n);		/* reserved: cannot fail */
	buf_append(b, p, n);
	return 0;
}

/* wire_put_strn - a str of n bytes (same layout as a blob) */
int wire_put_strn(buf_t *b, const char *s, size_t n)
{
	return wire_put_blob(b, s, n);
}

/* wire_put_str - a C string as a str */
int wire_put_str(buf_t *b, const char *s)
{
	return wire_put_blob(b, s, strlen(s));
}

/* wire_rd_init - a reader over p[0..n) */
void wire_rd_init(struct wire_rd *rd, const void *p, size_t n)
{
	rd->p = p;
	rd->left = n;
	rd->bad = 0;
}

/* wire_get_u32 - four bytes, little-endian */
int wire_get_u32(struct wire_rd *rd, uint32_t *v)
{
	*v = 0;
	if (rd->bad || rd->left < 4) {
		rd->bad = 1;
		return -1;
	}
	*v = le32(rd->p);
	rd->p += 4;
	rd->left -= 4;
	return 0;
}

/* wire_get_blob_ref - a length and that many bytes, in place */
int wire_get_blob_ref(struct wire_rd *rd, size_t maxlen, const uint8_t **p, size_t *len)
{
	uint32_t n;

	*p = NULL;
	*len = 0;
	if (wire_get_u32(rd, &n) < 0)
		return -1;
	if (n > maxlen || n > rd->left) {
		rd->bad = 1;
		return -1;
	}
	*p = rd->p;
	*len = n;
	rd->p += n;
	rd->left -= n;
	return 0;
}

/* wire_get_str_ref - a blob that holds no NUL, in place */
int wire_get_str_ref(struct wire_rd *rd, size_t maxlen, const char **s, size_t *len)
{
	const uint8_t *p;

	*s = NULL;
	if (wire_get_blob_ref(rd, maxlen, &p, len) < 0)
		return -1;
	if (*len && memchr(p, '\0', *len)) {
		rd->bad = 1;
		*len = 0;
		return -1;
	}
	*s = (const char *)p;
	return 0;
}

/* copy_nul - a malloc'd copy of p[0..n) and a NUL */
static char *copy_nul(const void *p, size_t n)
{
	char *c = n < SIZE_MAX ? malloc(n + 1) : NULL;

	if (!c)
		return NULL;
	if (n)
		memcpy(c, p, n);
	c[n] = '\0';
	return c;
}

/* wire_get_blob - a blob, copied, NUL added */
int wire_get_blob(struct wire_rd *rd, size_t maxlen, char **out, size_t *len)
{
	const uint8_t *p;

	*out = NULL;
	if (wire_get_blob_ref(rd, maxlen, &p, len) < 0)
		return -1;
	if (!(*out = copy_nul(p, *len))) {
		rd->bad = 1;
		*len = 0;
		return -1;
	}
	return 0;
}

/* wire_get_str - a str, copied, NUL-terminated */
int wire_get_str(struct wire_rd *rd, size_t maxlen, char **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (wire_get_str_ref(rd, maxlen, &s, &n) < 0)
		return -1;
	if (!(*out = copy_nul(s, n))) {
		rd->bad = 1;
		return -1;
	}
	return 0;
}

/* wire_end - consumed exactly, nothing failed */
int wire_end(const struct wire_rd *rd)
{
	return rd->bad || rd->left ? -1 : 0;
}

/* test_wire - unit tests of the parent/worker socketpair protocol:
 * frames and fields (priv/wire), the messages and every limit they have
 * (priv/proto), the channel over a real socketpair on an event loop
 * (priv/chan), and a fixed-seed fuzz of the frame parser and every
 * decoder (and of the channel's reader) that must never crash or leak. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/cfiles.h"
#include "priv/chan.h"
#include "priv/proto.h"
#include "priv/wire.h"
#include "util/buf.h"

#define MIB (1u << 20)

/* Descriptor slots for messages built by hand: decoders only count them. */
static int fake_fds[WIRE_MAX_FDS + 8] = { -1 };

/* ---- helpers ---- */

/* le32_at - store v little-endian at p */
static void le32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* msg_of - a message over p[0..n) with nfds fake descriptors */
static struct chan_msg msg_of(uint32_t type, const void *p, size_t n, size_t nfds)
{
	struct chan_msg m;

	m.type = type;
	m.data = p;
	m.len = n;
	m.fds = fake_fds;
	m.nfds = nfds;
	return m;
}

/* msg_buf - the same over a buffer */
static struct chan_msg msg_buf(uint32_t type, const buf_t *b, size_t nfds)
{
	return msg_of(type, b->data, b->len, nfds);
}

/* rep - a malloc'd string of n times c */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static const char conf_bytes[] = "[server]\nhostname = mx.example\n";
static const char users_bytes[] = "alice:$6$x\0binary\xff\xfe\n";

/* sample_config - a CONFIG with text, binary, failed and empty files and
 * two listeners (free with sample_free) */
static void sample_config(struct proto_config *c)
{
	static const struct proto_listen l[2] = { { 0, "127.0.0.1:2525" }, { 2, "[::1]:4650" } };

	memset(c, 0, sizeof(*c));
	cfiles_init(&c->files);
	c->id = 42;
	c->flags = PROTO_TLS_KEPT;
	c->path = (char *)"/etc/mailport/mailport.conf";
	c->note = (char *)"TLS not reloaded: key /etc/mailport/key.pem: Permission denied";
	assert_int_equal(cfiles_add(&c->files, "/etc/mailport/mailport.conf", 0, conf_bytes,
				    sizeof(conf_bytes) - 1), 0);
	assert_int_equal(cfiles_add(&c->files, "/etc/mailport/users", 0, users_bytes,
				    sizeof(users_bytes) - 1), 0);
	assert_int_equal(cfiles_add(&c->files, "/etc/mailport/key.pem", EACCES, NULL, 0), 0);
	assert_int_equal(cfiles_add(&c->files, "/etc/mailport/empty", 0, "", 0), 0);
	c->nlisten = 2;
	c->listen = (struct proto_listen *)l;
}

/* sample_free - what sample_config allocated */
static void sample_free(struct proto_config *c)
{
	cfiles_free(&c->files);
}

/* assert_config_equal - every field of b is a's */
static void assert_config_equal(const struct proto_config *a, const struct proto_config *b)
{
	size_t i;

	assert_int_equal(a->id, b->id);
	assert_int_equal(a->flags, b->flags);
	assert_string_equal(a->path ? a->path : "", b->path);
	assert_string_equal(a->note ? a->note : "", b->note);
	assert_int_equal(a->files.n, b->files.n);
	assert_int_equal(b->files.record, 0);
	for (i = 0; i < a->files.n; i++) {
		assert_string_equal(a->files.v[i].name, b->files.v[i].name);
		assert_int_equal(a->files.v[i].err, b->files.v[i].err);
		assert_int_equal(a->files.v[i].len, b->files.v[i].len);
		assert_memory_equal(a->files.v[i].data, b->files.v[i].data, a->files.v[i].len);
		assert_int_equal(b->files.v[i].data[b->files.v[i].len], '\0');
	}
	assert_int_equal(a->nlisten, b->nlisten);
	for (i = 0; i < a->nlisten; i++) {
		assert_int_equal(a->listen[i].role, b->listen[i].role);
		assert_string_equal(a->listen[i].text, b->listen[i].text);
	}
}

/* assert_config_empty - what a failed decode leaves */
static void assert_config_empty(const struct proto_config *c)
{
	assert_null(c->path);
	assert_null(c->note);
	assert_null(c->files.v);
	assert_int_equal(c->files.n, 0);
	assert_null(c->listen);
	assert_int_equal(c->nlisten, 0);
}

/* A CONFIG payload written field by field, limits ignored (lengths are
 * explicit, so names may hold NULs). */
struct rawfile {
	const char *name;
	size_t nlen;
	uint32_t err;
	const void *data;
	size_t len;
};

struct rawlisten {
	uint32_t role;
	const char *text;
	size_t tlen;
};

struct raw {
	uint32_t id, flags;
	const char *path;
	size_t plen;
	const char *note;
	size_t nlen;
	const struct rawfile *f;
	uint32_t nfiles;
	const struct rawlisten *l;
	uint32_t nlisten;
};

/* raw_put - r's payload into b */
static void raw_put(buf_t *b, const struct raw *r)
{
	uint32_t i;

	assert_int_equal(wire_put_u32(b, r->id), 0);
	assert_int_equal(wire_put_u32(b, r->flags), 0);
	assert_int_equal(wire_put_strn(b, r->path ? r->path : "", r->plen), 0);
	assert_int_equal(wire_put_strn(b, r->note ? r->note : "", r->nlen), 0);
	assert_int_equal(wire_put_u32(b, r->nfiles), 0);
	for (i = 0; i < r->nfiles; i++) {
		assert_int_equal(wire_put_strn(b, r->f[i].name, r->f[i].nlen), 0);
		assert_int_equal(wire_put_u32(b, r->f[i].err), 0);
		assert_int_equal(wire_put_blob(b, r->f[i].data, r->f[i].len), 0);
	}
	assert_int_equal(wire_put_u32(b, r->nlisten), 0);
	for (i = 0; i < r->nlisten; i++) {
		assert_int_equal(wire_put_u32(b, r->l[i].role), 0);
		assert_int_equal(wire_put_strn(b, r->l[i].text, r->l[i].tlen), 0);
	}
}

/* try_raw - decode r's payload with nfds descriptors: NULL when it is
 * accepted, else the reason (a failed decode must leave c empty) */
static const char *try_raw(const struct raw *r, size_t nfds)
{
	struct proto_config c;
	struct chan_msg m;
	const char *why = NULL;
	buf_t b;
	int rc;

	buf_init(&b);
	raw_put(&b, r);
	m = msg_buf(PROTO_CONFIG, &b, nfds);
	rc = proto_config_decode(&m, &c, &why);
	if (rc == 0) {
		assert_int_equal(c.files.n, r->nfiles);
		assert_int_equal(c.nlisten, r->nlisten);
		proto_config_free(&c);
		assert_config_empty(&c);
		why = NULL;
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(why);
		assert_config_empty(&c);
	}
	buf_free(&b);
	return why;
}

/* ok_file - a one-file entry */
static struct rawfile ok_file(const char *name)
{
	struct rawfile f = { name, strlen(name), 0, "x", 1 };

	return f;
}

/* decode_any - run the decoder m->type names; 0 or -1 (and free) */
static int decode_any(const struct chan_msg *m)
{
	struct proto_config c;
	const char *why = NULL;
	char *errors;
	uint32_t id;
	int rc = -1;

	switch (m->type) {
	case PROTO_CONFIG:
		rc = proto_config_decode(m, &c, &why);
		if (rc == 0)
			proto_config_free(&c);
		else
			assert_config_empty(&c);
		break;
	case PROTO_RELOAD_FAILED:
		rc = proto_reload_failed_decode(m, &id, &errors, &why);
		if (rc == 0)
			free(errors);
		else
			assert_null(errors);
		break;
	case PROTO_RELOAD_REQ:
		rc = proto_reload_req_decode(m, &id, &why);
		break;
	case PROTO_READY:
		rc = proto_ready_decode(m, &why);
		break;
	default:
		fail_msg("no decoder for type %u", (unsigned)m->type);
	}
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

/* One valid message of every kind, for truncation and fuzzing. */
struct base {
	uint32_t type;
	buf_t payload;
	size_t nfds;
};

#define NBASE 6

/* make_bases - the messages (free with free_bases) */
static void make_bases(struct base *v)
{
	struct proto_config c;
	int i;

	for (i = 0; i < NBASE; i++)
		buf_init(&v[i].payload);
	sample_config(&c);
	v[0].type = PROTO_CONFIG;
	v[0].nfds = 4;
	assert_int_equal(proto_config_encode(&v[0].payload, &c), 0);
	sample_free(&c);
	memset(&c, 0, sizeof(c));
	v[1].type = PROTO_CONFIG;
	v[1].nfds = 2;
	assert_int_equal(proto_config_encode(&v[1].payload, &c), 0);
	v[2].type = PROTO_RELOAD_FAILED;
	assert_int_equal(proto_reload_failed_encode(&v[2].payload, 7,
						    "/etc/m.conf:3: unknown key\n/etc/users:9: bad"), 0);
	v[3].type = PROTO_RELOAD_REQ;
	assert_int_equal(proto_reload_req_encode(&v[3].payload, 0x01020304), 0);
	v[4].type = PROTO_READY;
	v[5].type = PROTO_RELOAD_FAILED;
	assert_int_equal(proto_reload_failed_encode(&v[5].payload, 0, ""), 0);
	for (i = 0; i < NBASE; i++)
		if (v[i].type != PROTO_CONFIG)
			v[i].nfds = 0;
}

/* free_bases - release make_bases' buffers */
static void free_bases(struct base *v)
{
	int i;

	for (i = 0; i < NBASE; i++)
		buf_free(&v[i].payload);
}

/* ---- wire: frames and fields ---- */

static void wire_header(void **state)
{
	struct wire_hdr h = { 7, 3, 2 }, g;
	uint8_t f[WIRE_HDR_SIZE + 8];
	size_t n;

	(void)state;
	wire_hdr_encode(f, &h);
	assert_memory_equal(f, "\x07\0\0\0\x03\0\0\0\x02\0\0\0", WIRE_HDR_SIZE);
	memcpy(f + WIRE_HDR_SIZE, "abcdefgh", 8);
	for (n = 0; n < WIRE_HDR_SIZE + 3; n++)
		assert_int_equal(wire_frame_parse(f, n, &g), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(wire_frame_parse(f, WIRE_HDR_SIZE, &g), 0);	/* header known */
	assert_int_equal(g.type, 7);
	assert_int_equal(g.len, 3);
	assert_int_equal(g.nfds, 2);
	assert_int_equal(wire_frame_parse(f, WIRE_HDR_SIZE + 3, &g), 1);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), 1);	/* the next frame's bytes */
	h.type = 0;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), -1);
	assert_int_equal(wire_frame_parse(f, WIRE_HDR_SIZE - 1, &g), 0);	/* not known yet */
	h.type = UINT32_MAX;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), 1);
}

static void wire_header_limits(void **state)
{
	struct wire_hdr h = { 1, WIRE_MAX_PAYLOAD, WIRE_MAX_FDS }, g;
	uint8_t f[WIRE_HDR_SIZE];
	buf_t b;

	(void)state;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), 0);
	assert_int_equal(g.len, WIRE_MAX_PAYLOAD);
	assert_int_equal(g.nfds, WIRE_MAX_FDS);
	h.len = WIRE_MAX_PAYLOAD + 1;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), -1);
	h.len = UINT32_MAX;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), -1);
	h.len = 0;
	h.nfds = WIRE_MAX_FDS + 1;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), -1);
	h.nfds = UINT32_MAX;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), -1);
	h.nfds = 0;
	wire_hdr_encode(f, &h);
	assert_int_equal(wire_frame_parse(f, sizeof(f), &g), 1);	/* empty payload */

	buf_init(&b);
	assert_int_equal(wire_frame_put(&b, 0, "x", 1, 0), -1);
	assert_int_equal(wire_frame_put(&b, 1, "x", WIRE_MAX_PAYLOAD + 1u, 0), -1);
	assert_int_equal(wire_frame_put(&b, 1, "x", 1, WIRE_MAX_FDS + 1), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(wire_frame_put(&b, 4, NULL, 0, WIRE_MAX_FDS), 0);
	assert_int_equal(wire_frame_put(&b, 3, "\x05\0\0\0", 4, 0), 0);
	assert_int_equal(b.len, 2 * WIRE_HDR_SIZE + 4);
	assert_memory_equal(b.data, "\x04\0\0\0\0\0\0\0\x40\0\0\0\x03\0\0\0\x04\0\0\0\0\0\0\0\x05\0\0\0",
			    b.len);
	buf_free(&b);
}

static void wire_fields(void **state)
{
	struct wire_rd rd;
	const uint8_t *ref;
	const char *sref;
	char *s, *bl;
	size_t n;
	uint32_t v;
	buf_t b;

	(void)state;
	buf_init(&b);
	assert_int_equal(wire_put_u32(&b, 0x01020304), 0);
	assert_int_equal(wire_put_str(&b, "hello"), 0);
	assert_int_equal(wire_put_blob(&b, "a\0b", 3), 0);
	assert_int_equal(wire_put_str(&b, ""), 0);
	assert_int_equal(wire_put_strn(&b, "xyz", 2), 0);
	assert_memory_equal(b.data, "\x04\x03\x02\x01\x05\0\0\0hello\x03\0\0\0a\0b\0\0\0\0\x02\0\0\0xy",
			    b.len);
	wire_rd_init(&rd, b.data, b.len);
	assert_int_equal(wire_get_u32(&rd, &v), 0);
	assert_int_equal(v, 0x01020304);
	assert_int_equal(wire_get_str(&rd, 5, &s), 0);	/* just at its limit */
	assert_string_equal(s, "hello");
	free(s);
	assert_int_equal(wire_get_blob(&rd, 3, &bl, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(bl, "a\0b\0", 4);	/* and the added NUL */
	free(bl);
	assert_int_equal(wire_get_str(&rd, 0, &s), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(wire_end(&rd), -1);	/* "xy" left */
	assert_int_equal(wire_get_str_ref(&rd, 2, &sref, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(sref, "xy", 2);
	assert_int_equal(wire_end(&rd), 0);
	assert_int_equal(wire_get_u32(&rd, &v), -1);	/* nothing left */
	assert_int_equal(v, 0);
	assert_int_equal(wire_end(&rd), -1);	/* sticky */

	wire_rd_init(&rd, b.data + 4, b.len - 4);
	assert_int_equal(wire_get_str(&rd, 4, &s), -1);	/* just over */
	assert_null(s);
	assert_true(rd.bad);
	assert_int_equal(wire_get_u32(&rd, &v), -1);	/* everything fails now */
	wire_rd_init(&rd, b.data + 13, b.len - 13);
	assert_int_equal(wire_get_str(&rd, 100, &s), -1);	/* a NUL inside */
	assert_null(s);
	wire_rd_init(&rd, b.data + 13, b.len - 13);
	assert_int_equal(wire_get_blob_ref(&rd, 2, &ref, &n), -1);	/* blob over */
	assert_null(ref);
	assert_int_equal(n, 0);
	wire_rd_init(&rd, b.data + 13, b.len - 13);
	assert_int_equal(wire_get_blob(&rd, 3, &bl, &n), 0);
	free(bl);
	wire_rd_init(&rd, b.data + 4, 8);	/* the str is cut short */
	assert_int_equal(wire_get_str(&rd, 100, &s), -1);
	assert_null(s);
	wire_rd_init(&rd, b.data, 3);
	assert_int_equal(wire_get_u32(&rd, &v), -1);
	wire_rd_init(&rd, NULL, 0);
	assert_int_equal(wire_end(&rd), 0);
	assert_int_equal(wire_get_blob(&rd, 10, &bl, &n), -1);
	assert_null(bl);
	buf_free(&b);

	/* a length field of 0xffffffff: refused, nothing read past the end */
	buf_init(&b);
	assert_int_equal(wire_put_u32(&b, UINT32_MAX), 0);
	wire_rd_init(&rd, b.data, b.len);
	assert_int_equal(wire_get_blob(&rd, SIZE_MAX, &bl, &n), -1);
	buf_free(&b);
}

/* ---- proto: round trips ---- */

static void config_round_trip(void **state)
{
	struct proto_config in, out;
	struct chan_msg m;
	const char *why = NULL;
	buf_t b;

	(void)state;
	sample_config(&in);
	buf_init(&b);
	assert_int_equal(proto_config_encode(&b, &in), 0);
	m = msg_buf(PROTO_CONFIG, &b, 4);
	assert_int_equal(proto_config_decode(&m, &out, &why), 0);
	assert_config_equal(&in, &out);
	proto_config_free(&out);
	assert_config_empty(&out);
	proto_config_free(&out);	/* twice is fine */
	sample_free(&in);
	buf_free(&b);

	/* the smallest: embedded default, no files, no listeners */
	memset(&in, 0, sizeof(in));
	buf_init(&b);
	assert_int_equal(proto_config_encode(&b, &in), 0);
	assert_int_equal(b.len, 4 * 6);
	m = msg_buf(PROTO_CONFIG, &b, 2);
	assert_int_equal(proto_config_decode(&m, &out, &why), 0);
	assert_config_equal(&in, &out);
	assert_string_equal(out.path, "");
	assert_non_null(out.listen);
	proto_config_free(&out);
	buf_free(&b);
}

static void config_appends(void **state)
{
	struct proto_config in, out;
	struct chan_msg m;
	const char *why;
	buf_t b;

	(void)state;
	sample_config(&in);
	buf_init(&b);
	assert_int_equal(buf_puts(&b, "prefix"), 0);
	assert_int_equal(proto_config_encode(&b, &in), 0);
	assert_memory_equal(b.data, "prefix", 6);
	m = msg_of(PROTO_CONFIG, b.data + 6, b.len - 6, 4);
	assert_int_equal(proto_config_decode(&m, &out, &why), 0);
	assert_config_equal(&in, &out);
	proto_config_free(&out);
	/* a refused encode leaves the buffer as it was */
	in.flags = 2;
	b.len = 6;
	assert_int_equal(proto_config_encode(&b, &in), -1);
	assert_int_equal(b.len, 6);
	sample_free(&in);
	buf_free(&b);
}

static void small_round_trips(void **state)
{
	struct chan_msg m;
	const char *why;
	char *errors, *big;
	uint32_t id;
	buf_t b;

	(void)state;
	buf_init(&b);
	assert_int_equal(proto_reload_failed_encode(&b, 9, "/x.conf:1: bad\n/y:2: worse"), 0);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), 0);
	assert_int_equal(id, 9);
	assert_string_equal(errors, "/x.conf:1: bad\n/y:2: worse");
	free(errors);
	buf_reset(&b);
	assert_int_equal(proto_reload_failed_encode(&b, 0, NULL), 0);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), 0);
	assert_int_equal(id, 0);
	assert_string_equal(errors, "");
	free(errors);

	/* errors longer than the limit are cut at it, on a character */
	big = rep('e', PROTO_MAX_ERRORS + 100);
	memcpy(big + PROTO_MAX_ERRORS - 1, "\xc3\xa9", 2);	/* é across the limit */
	buf_reset(&b);
	assert_int_equal(proto_reload_failed_encode(&b, 1, big), 0);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), 0);
	assert_int_equal(strlen(errors), PROTO_MAX_ERRORS - 1);
	free(errors);
	free(big);

	buf_reset(&b);
	assert_int_equal(proto_reload_req_encode(&b, 0xffffffffu), 0);
	m = msg_buf(PROTO_RELOAD_REQ, &b, 0);
	assert_int_equal(proto_reload_req_decode(&m, &id, &why), 0);
	assert_int_equal(id, 0xffffffffu);
	buf_reset(&b);
	assert_int_equal(proto_reload_req_encode(&b, 1), 0);
	m = msg_buf(PROTO_RELOAD_REQ, &b, 0);
	assert_int_equal(proto_reload_req_decode(&m, &id, &why), 0);
	assert_int_equal(id, 1);
	buf_reset(&b);
	assert_int_equal(proto_reload_req_encode(&b, 0), -1);
	assert_int_equal(b.len, 0);

	m = msg_of(PROTO_READY, NULL, 0, 0);
	assert_int_equal(proto_ready_decode(&m, &why), 0);
	buf_free(&b);
}

static void wrong_types(void **state)
{
	struct base v[NBASE];
	struct proto_config c;
	struct chan_msg m;
	const char *why;
	char *errors;
	uint32_t id, t;
	int i;

	(void)state;
	make_bases(v);
	for (i = 0; i < NBASE; i++) {
		m = msg_buf(v[i].type, &v[i].payload, v[i].nfds);
		assert_int_equal(decode_any(&m), 0);
		for (t = 0; t <= 5; t++) {
			m.type = t;
			why = NULL;
			if (t != PROTO_CONFIG) {
				assert_int_equal(proto_config_decode(&m, &c, &why), -1);
				assert_config_empty(&c);
			}
			if (t != PROTO_RELOAD_FAILED) {
				assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), -1);
				assert_null(errors);
			}
			if (t != PROTO_RELOAD_REQ)
				assert_int_equal(proto_reload_req_decode(&m, &id, &why), -1);
			if (t != PROTO_READY)
				assert_int_equal(proto_ready_decode(&m, &why), -1);
			assert_non_null(why);
		}
	}
	free_bases(v);
}

/* ---- proto: limits, each just at and just over ---- */

static void limits_path_note_flags(void **state)
{
	char *at = rep('p', PROTO_MAX_PATH), *over = rep('p', PROTO_MAX_PATH + 1);
	struct raw r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_null(try_raw(&r, 2));
	r.path = at;
	r.plen = PROTO_MAX_PATH;
	assert_null(try_raw(&r, 2));
	r.plen = PROTO_MAX_PATH + 1;
	r.path = over;
	assert_non_null(try_raw(&r, 2));
	r.path = "/etc/a\0b";
	r.plen = 8;
	assert_non_null(try_raw(&r, 2));	/* a NUL in a str */
	r.path = NULL;
	r.plen = 0;
	r.note = at;
	r.nlen = PROTO_MAX_NOTE;
	assert_null(try_raw(&r, 2));
	r.note = over;
	r.nlen = PROTO_MAX_NOTE + 1;
	assert_non_null(try_raw(&r, 2));
	r.note = "a\0";
	r.nlen = 2;
	assert_non_null(try_raw(&r, 2));
	r.note = NULL;
	r.nlen = 0;
	r.flags = PROTO_TLS_KEPT;
	assert_null(try_raw(&r, 2));
	r.flags = 2;
	assert_non_null(try_raw(&r, 2));
	r.flags = 0x80000001u;
	assert_non_null(try_raw(&r, 2));
	r.flags = 0;
	r.id = UINT32_MAX;
	assert_null(try_raw(&r, 2));
	free(at);
	free(over);
}

static void limits_files(void **state)
{
	struct rawfile f[PROTO_MAX_FILES + 1];
	char names[PROTO_MAX_FILES + 1][8];
	char *at = rep('n', PROTO_MAX_NAME), *over = rep('n', PROTO_MAX_NAME + 1);
	struct raw r;
	uint32_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (i = 0; i <= PROTO_MAX_FILES; i++) {
		snprintf(names[i], sizeof(names[i]), "f%u", (unsigned)i);
		f[i] = ok_file(names[i]);
	}
	r.f = f;
	r.nfiles = PROTO_MAX_FILES;
	assert_null(try_raw(&r, 2));
	r.nfiles = PROTO_MAX_FILES + 1;
	assert_non_null(try_raw(&r, 2));
	r.nfiles = 2;

	f[1].name = "";
	f[1].nlen = 0;
	assert_non_null(try_raw(&r, 2));	/* an empty name */
	f[1].name = "y";
	f[1].nlen = 1;
	assert_null(try_raw(&r, 2));
	f[1].name = at;
	f[1].nlen = PROTO_MAX_NAME;
	assert_null(try_raw(&r, 2));
	f[1].name = over;
	f[1].nlen = PROTO_MAX_NAME + 1;
	assert_non_null(try_raw(&r, 2));
	f[1].name = "a\0b";
	f[1].nlen = 3;
	assert_non_null(try_raw(&r, 2));
	f[1] = ok_file("f0");	/* the same name twice */
	assert_non_null(try_raw(&r, 2));
	f[1] = ok_file("f00");	/* a longer one with the same start */
	assert_null(try_raw(&r, 2));

	f[1].err = PROTO_MAX_ERR;
	f[1].len = 0;
	assert_null(try_raw(&r, 2));
	f[1].err = PROTO_MAX_ERR + 1;
	assert_non_null(try_raw(&r, 2));
	f[1].err = UINT32_MAX;
	assert_non_null(try_raw(&r, 2));
	f[1].err = ENOENT;
	f[1].len = 1;	/* an errno and data */
	assert_non_null(try_raw(&r, 2));
	free(at);
	free(over);
}

static void limits_counts_beyond_payload(void **state)
{
	struct chan_msg m;
	struct proto_config c;
	const char *why;
	buf_t b;

	(void)state;
	buf_init(&b);	/* counts the payload cannot hold */
	wire_put_u32(&b, 1);
	wire_put_u32(&b, 0);
	wire_put_str(&b, "");
	wire_put_str(&b, "");
	wire_put_u32(&b, 3);
	m = msg_buf(PROTO_CONFIG, &b, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), -1);
	assert_config_empty(&c);
	b.len -= 4;
	wire_put_u32(&b, 0);
	wire_put_u32(&b, UINT32_MAX);
	m = msg_buf(PROTO_CONFIG, &b, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), -1);
	b.len -= 4;
	wire_put_u32(&b, 2);	/* listeners announced, not there */
	m = msg_buf(PROTO_CONFIG, &b, 4);
	assert_int_equal(proto_config_decode(&m, &c, &why), -1);
	assert_config_empty(&c);
	buf_free(&b);
}

static void limits_listen(void **state)
{
	struct rawlisten l[PROTO_MAX_LISTEN + 1];
	char *at = rep('l', PROTO_MAX_TEXT), *over = rep('l', PROTO_MAX_TEXT + 1);
	struct raw r;
	uint32_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (i = 0; i <= PROTO_MAX_LISTEN; i++) {
		l[i].role = i % 3;
		l[i].text = "127.0.0.1:25";
		l[i].tlen = 12;
	}
	r.l = l;
	r.nlisten = PROTO_MAX_LISTEN;
	assert_int_equal(2 + PROTO_MAX_LISTEN, WIRE_MAX_FDS);
	assert_null(try_raw(&r, 2 + PROTO_MAX_LISTEN));
	r.nlisten = PROTO_MAX_LISTEN + 1;
	assert_non_null(try_raw(&r, 2 + PROTO_MAX_LISTEN + 1));
	r.nlisten = 1;
	l[0].role = PROTO_MAX_ROLE;
	assert_null(try_raw(&r, 3));
	l[0].role = PROTO_MAX_ROLE + 1;
	assert_non_null(try_raw(&r, 3));
	l[0].role = UINT32_MAX;
	assert_non_null(try_raw(&r, 3));
	l[0].role = 0;
	l[0].text = at;
	l[0].tlen = PROTO_MAX_TEXT;
	assert_null(try_raw(&r, 3));
	l[0].text = over;
	l[0].tlen = PROTO_MAX_TEXT + 1;
	assert_non_null(try_raw(&r, 3));
	l[0].text = "";
	l[0].tlen = 0;
	assert_non_null(try_raw(&r, 3));
	l[0].text = "1.2.3.4\0:25";
	l[0].tlen = 11;
	assert_non_null(try_raw(&r, 3));
	free(at);
	free(over);
}

static void limits_fd_count(void **state)
{
	struct rawlisten l[2] = { { 0, "a:1", 3 }, { 1, "b:2", 3 } };
	struct raw r;
	struct base v[NBASE];
	struct chan_msg m;
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.l = l;
	r.nlisten = 2;
	assert_null(try_raw(&r, 4));
	assert_non_null(try_raw(&r, 3));
	assert_non_null(try_raw(&r, 5));
	assert_non_null(try_raw(&r, 0));
	r.nlisten = 0;
	assert_null(try_raw(&r, 2));
	assert_non_null(try_raw(&r, 1));
	make_bases(v);
	for (i = 0; i < NBASE; i++) {	/* the others carry none */
		if (v[i].type == PROTO_CONFIG)
			continue;
		m = msg_buf(v[i].type, &v[i].payload, 1);
		assert_int_equal(decode_any(&m), -1);
	}
	free_bases(v);
}

static void limits_small(void **state)
{
	char *at = rep('e', PROTO_MAX_ERRORS), *over = rep('e', PROTO_MAX_ERRORS + 1);
	struct chan_msg m;
	const char *why;
	char *errors;
	uint32_t id;
	buf_t b;

	(void)state;
	buf_init(&b);
	wire_put_u32(&b, 5);
	wire_put_strn(&b, at, PROTO_MAX_ERRORS);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), 0);
	assert_int_equal(strlen(errors), PROTO_MAX_ERRORS);
	free(errors);
	buf_reset(&b);
	wire_put_u32(&b, 5);
	wire_put_strn(&b, over, PROTO_MAX_ERRORS + 1);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), -1);
	assert_null(errors);
	assert_int_equal(id, 0);
	buf_reset(&b);
	wire_put_u32(&b, 5);
	wire_put_strn(&b, "a\0b", 3);
	m = msg_buf(PROTO_RELOAD_FAILED, &b, 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), -1);

	buf_reset(&b);
	wire_put_u32(&b, 0);
	m = msg_buf(PROTO_RELOAD_REQ, &b, 0);
	assert_int_equal(proto_reload_req_decode(&m, &id, &why), -1);	/* id 0 */
	m = msg_of(PROTO_READY, "\0", 1, 0);
	assert_int_equal(proto_ready_decode(&m, &why), -1);
	buf_free(&b);
	free(at);
	free(over);
}

static void limits_encode(void **state)
{
	struct proto_config c;
	struct proto_listen l[PROTO_MAX_LISTEN + 1];
	struct chan_msg m;
	const char *why;
	char *over = rep('n', PROTO_MAX_NAME + 1), *note;
	struct proto_config out;
	buf_t b;

	(void)state;
	buf_init(&b);
	sample_config(&c);
	c.flags = 2;
	assert_int_equal(proto_config_encode(&b, &c), -1);
	c.flags = 0;
	c.path = over;
	assert_int_equal(proto_config_encode(&b, &c), -1);
	c.path = NULL;
	memcpy(l, c.listen, 2 * sizeof(*l));
	c.listen = l;
	l[1].role = 3;
	assert_int_equal(proto_config_encode(&b, &c), -1);
	l[1].role = 1;
	memset(l[1].text, 'x', sizeof(l[1].text));	/* no NUL: 80 bytes */
	assert_int_equal(proto_config_encode(&b, &c), -1);
	l[1].text[0] = '\0';
	assert_int_equal(proto_config_encode(&b, &c), -1);
	strcpy(l[1].text, "ok:1");
	c.nlisten = PROTO_MAX_LISTEN + 1;
	assert_int_equal(proto_config_encode(&b, &c), -1);
	c.nlisten = 2;
	assert_int_equal(b.len, 0);
	assert_int_equal(cfiles_add(&c.files, over, 0, "x", 1), 0);	/* name too long */
	assert_int_equal(proto_config_encode(&b, &c), -1);
	cfiles_free(&c.files);
	assert_int_equal(cfiles_add(&c.files, "k", 4096, NULL, 0), 0);	/* errno over */
	assert_int_equal(proto_config_encode(&b, &c), -1);
	cfiles_free(&c.files);
	assert_int_equal(b.len, 0);

	/* a note over the limit is cut there, on a character boundary */
	note = rep('n', PROTO_MAX_NOTE + 10);
	memcpy(note + PROTO_MAX_NOTE - 2, "\xe2\x82\xac", 3);	/* € across the limit */
	c.note = note;
	assert_int_equal(proto_config_encode(&b, &c), 0);
	m = msg_buf(PROTO_CONFIG, &b, 4);
	assert_int_equal(proto_config_decode(&m, &out, &why), 0);
	assert_int_equal(strlen(out.note), PROTO_MAX_NOTE - 2);
	proto_config_free(&out);
	free(note);
	free(over);
	buf_free(&b);
}

/* big_payload - a CONFIG with files of the given sizes, built in a
 * mapping of zero pages (only the length fields are written) */
static uint8_t *big_payload(const size_t *sizes, size_t n, size_t *len)
{
	size_t total = 4 * 5 + 4, i, off;
	uint8_t *p;

	for (i = 0; i < n; i++)
		total += 4 + 2 + 4 + 4 + sizes[i];
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	assert_true(p != MAP_FAILED);
	le32_at(p + 16, (uint32_t)n);	/* id, flags, path, note: zeros */
	off = 20;
	for (i = 0; i < n; i++) {
		le32_at(p + off, 2);
		p[off + 4] = 'f';
		p[off + 5] = (uint8_t)('0' + i);
		le32_at(p + off + 10, (uint32_t)sizes[i]);	/* errno 0 */
		off += 14 + sizes[i];
	}
	*len = total;	/* nlisten 0 */
	return p;
}

static void limits_file_sizes(void **state)
{
	size_t s[5] = { PROTO_MAX_FILE, PROTO_MAX_FILE, PROTO_MAX_FILE, PROTO_MAX_FILE, 1 };
	struct proto_config c;
	struct chan_msg m;
	const char *why = NULL;
	uint8_t *p;
	size_t len;

	(void)state;
	p = big_payload(s, 1, &len);	/* one file of 64 MiB: at the limit */
	m = msg_of(PROTO_CONFIG, p, len, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), 0);
	assert_int_equal(c.files.v[0].len, PROTO_MAX_FILE);
	proto_config_free(&c);
	munmap(p, len);

	s[0] = PROTO_MAX_FILE + 1;	/* just over */
	p = big_payload(s, 1, &len);
	m = msg_of(PROTO_CONFIG, p, len, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), -1);
	assert_config_empty(&c);
	munmap(p, len);

	s[0] = PROTO_MAX_FILE;	/* 4 x 64 MiB = 256 MiB together: at the limit */
	p = big_payload(s, 4, &len);
	m = msg_of(PROTO_CONFIG, p, len, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), 0);
	assert_int_equal(c.files.n, 4);
	proto_config_free(&c);
	munmap(p, len);

	p = big_payload(s, 5, &len);	/* one byte more */
	m = msg_of(PROTO_CONFIG, p, len, 2);
	assert_int_equal(proto_config_decode(&m, &c, &why), -1);
	assert_string_equal(why, "files over 256 MiB together");
	assert_config_empty(&c);
	munmap(p, len);
}

/* ---- proto: truncated and trailing ---- */

static void truncated_and_trailing(void **state)
{
	struct base v[NBASE];
	struct wire_hdr h;
	struct chan_msg m;
	size_t n;
	buf_t f;
	int i;

	(void)state;
	make_bases(v);
	for (i = 0; i < NBASE; i++) {
		buf_init(&f);
		assert_int_equal(wire_frame_put(&f, v[i].type, v[i].payload.data, v[i].payload.len,
						v[i].nfds), 0);
		for (n = 0; n < f.len; n++)	/* the frame cut at every byte */
			assert_int_equal(wire_frame_parse((uint8_t *)f.data, n, &h), 0);
		assert_int_equal(wire_frame_parse((uint8_t *)f.data, f.len, &h), 1);
		assert_int_equal(h.len, v[i].payload.len);
		for (n = 0; n < v[i].payload.len; n++) {	/* the payload cut */
			m = msg_of(v[i].type, v[i].payload.data, n, v[i].nfds);
			assert_int_equal(decode_any(&m), -1);
		}
		buf_free(&f);
		/* one byte too many, whatever its value */
		assert_int_equal(buf_putc(&v[i].payload, 0), 0);
		m = msg_buf(v[i].type, &v[i].payload, v[i].nfds);
		assert_int_equal(decode_any(&m), -1);
		v[i].payload.data[v[i].payload.len - 1] = (char)0xff;
		assert_int_equal(decode_any(&m), -1);
	}
	free_bases(v);
}

/* ---- chan over a socketpair ---- */

#define RX_MAX 16

struct rx {
	struct chan *ch;
	int n;				/* messages */
	uint32_t type[RX_MAX];
	buf_t data[RX_MAX];
	int fds[RX_MAX][WIRE_MAX_FDS];
	size_t nfds[RX_MAX];
	int ended;
	char err[200];
	int free_on_msg;		/* chan_free from the first message */
};

static void rx_cb(void *arg, const struct chan_msg *m);

/* rx_new - rx_init with the recording callback */
static void rx_new(struct rx *r, struct event_base *base, int fd)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < RX_MAX; i++)
		buf_init(&r->data[i]);
	r->ch = chan_new(base, fd, rx_cb, r);
	assert_non_null(r->ch);
}

/* rx_cb - record a message (keep its descriptors) or the end */
static void rx_cb(void *arg, const struct chan_msg *m)
{
	struct rx *r = arg;

	if (!m) {
		assert_false(r->ended);
		r->ended = 1;
		snprintf(r->err, sizeof(r->err), "%s", chan_error(r->ch));
		chan_free(r->ch);	/* from inside the callback */
		r->ch = NULL;
		return;
	}
	assert_false(r->ended);
	assert_true(r->n < RX_MAX);
	r->type[r->n] = m->type;
	assert_int_equal(buf_append(&r->data[r->n], m->data, m->len), 0);
	memcpy(r->fds[r->n], m->fds, m->nfds * sizeof(int));
	r->nfds[r->n] = m->nfds;
	r->n++;
	if (r->free_on_msg) {
		chan_free(r->ch);
		r->ch = NULL;
	}
}

/* rx_done - close what a receiver kept, free it */
static void rx_done(struct rx *r)
{
	size_t j;
	int i;

	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->nfds[i]; j++)
			close(r->fds[i][j]);
	for (i = 0; i < RX_MAX; i++)
		buf_free(&r->data[i]);
	chan_free(r->ch);
	r->ch = NULL;
}

/* run_until - run the loop until *flag reaches want (at most 20 s) */
static void run_until(struct event_base *base, const int *flag, int want)
{
	struct timeval tv = { 0, 20000 };
	time_t end = time(NULL) + 20;

	while (*flag < want) {
		if (time(NULL) > end)
			fail_msg("timed out waiting (%d of %d)", *flag, want);
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* spin - a few non-blocking rounds of the loop */
static void spin(struct event_base *base)
{
	int i;

	for (i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* raw_send - one sendmsg of p[0..n) with descriptors */
static void raw_send(int fd, const void *p, size_t n, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(100 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;

	assert_true(nfds <= 100);
	iov.iov_base = (void *)p;
	iov.iov_len = n;
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)n);
}

/* frame - a frame of type with payload p[0..n) declaring nfds */
static void frame(buf_t *b, uint32_t type, const void *p, size_t n, uint32_t nfds)
{
	struct wire_hdr h = { type, (uint32_t)n, nfds };
	uint8_t hdr[WIRE_HDR_SIZE];

	wire_hdr_encode(hdr, &h);
	assert_int_equal(buf_append(b, hdr, sizeof(hdr)), 0);
	assert_int_equal(buf_append(b, p, n), 0);
}

/* pair - a socketpair and a base */
static struct event_base *pair(int sv[2])
{
	struct event_base *base = event_base_new();

	assert_non_null(base);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	return base;
}

/* assert_no_writer - the pipe read end rfd reaches EOF: every copy of its
 * write end is closed (none leaked in a channel) */
static void assert_no_writer(int rfd)
{
	char c[64];
	ssize_t r;

	assert_int_equal(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
	while ((r = read(rfd, c, sizeof(c))) > 0)
		;
	if (r < 0)
		fail_msg("the pipe still has a writer: %s", strerror(errno));
	assert_int_equal(r, 0);
}

static void chan_several_in_one_write(void **state)
{
	struct event_base *base;
	struct chan_msg m;
	const char *why;
	char *errors;
	uint32_t id;
	struct rx r;
	buf_t b, p;
	int sv[2];

	(void)state;
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	buf_init(&b);
	buf_init(&p);
	frame(&b, PROTO_READY, NULL, 0, 0);
	assert_int_equal(proto_reload_req_encode(&p, 5), 0);
	frame(&b, PROTO_RELOAD_REQ, p.data, p.len, 0);
	buf_reset(&p);
	assert_int_equal(proto_reload_failed_encode(&p, 5, "x:1: y"), 0);
	frame(&b, PROTO_RELOAD_FAILED, p.data, p.len, 0);
	frame(&b, 77, "unknown types are the caller's", 30, 0);
	assert_int_equal(write(sv[1], b.data, b.len), (ssize_t)b.len);
	run_until(base, &r.n, 4);
	assert_int_equal(r.type[0], PROTO_READY);
	assert_int_equal(r.data[0].len, 0);
	m = msg_buf(r.type[1], &r.data[1], 0);
	assert_int_equal(proto_reload_req_decode(&m, &id, &why), 0);
	assert_int_equal(id, 5);
	m = msg_buf(r.type[2], &r.data[2], 0);
	assert_int_equal(proto_reload_failed_decode(&m, &id, &errors, &why), 0);
	assert_string_equal(errors, "x:1: y");
	free(errors);
	assert_int_equal(r.type[3], 77);
	assert_false(r.ended);
	assert_string_equal(chan_error(r.ch), "");

	close(sv[1]);	/* a clean EOF */
	run_until(base, &r.ended, 1);
	assert_string_equal(r.err, "connection closed");
	assert_null(r.ch);
	rx_done(&r);
	buf_free(&b);
	buf_free(&p);
	event_base_free(base);
}

static void chan_split_writes(void **state)
{
	struct proto_config in, out;
	struct event_base *base;
	struct chan_msg m;
	const char *why;
	int sv[2], fds[4], pp[2];
	struct stat st;
	struct rx r;
	buf_t p, b;
	size_t i;

	(void)state;
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	fds[0] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds[1] = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds[2] = pp[1];
	fds[3] = pp[1];
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	sample_config(&in);
	buf_init(&p);
	buf_init(&b);
	assert_int_equal(proto_config_encode(&p, &in), 0);
	frame(&b, PROTO_CONFIG, p.data, p.len, 4);
	frame(&b, PROTO_READY, NULL, 0, 0);
	/* the descriptors ride with byte 0, then a byte per write */
	raw_send(sv[1], b.data, 1, fds, 4);
	for (i = 1; i < b.len; i++) {
		spin(base);
		assert_int_equal(r.n, i >= WIRE_HDR_SIZE + p.len);
		assert_int_equal(write(sv[1], b.data + i, 1), 1);
	}
	run_until(base, &r.n, 2);
	assert_int_equal(r.type[0], PROTO_CONFIG);
	assert_int_equal(r.nfds[0], 4);
	assert_int_equal(r.type[1], PROTO_READY);
	assert_int_equal(r.nfds[1], 0);
	m = msg_buf(PROTO_CONFIG, &r.data[0], r.nfds[0]);
	assert_int_equal(proto_config_decode(&m, &out, &why), 0);
	assert_config_equal(&in, &out);
	proto_config_free(&out);
	for (i = 0; i < 4; i++)		/* close-on-exec, and new descriptors */
		assert_true(fcntl(r.fds[0][i], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(r.fds[0][0], &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fstat(r.fds[0][2], &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_false(r.ended);
	close(fds[0]);
	close(fds[1]);
	close(pp[1]);
	rx_done(&r);	/* closes the received ones */
	assert_no_writer(pp[0]);
	close(pp[0]);
	close(sv[1]);
	sample_free(&in);
	buf_free(&p);
	buf_free(&b);
	event_base_free(base);
}

static void chan_fds_usable(void **state)
{
	struct event_base *base;
	struct rx a, b;
	int sv[2], pp[2];
	char got[8];

	(void)state;
	base = pair(sv);
	rx_new(&a, base, sv[0]);
	rx_new(&b, base, sv[1]);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(chan_send(a.ch, 9, "p", 1, &pp[1], 1), 0);
	assert_int_equal(chan_pending(a.ch), WIRE_HDR_SIZE + 1);
	close(pp[1]);	/* the channel sends its own duplicate */
	assert_int_equal(chan_send(a.ch, 10, NULL, 0, NULL, 0), 0);
	run_until(base, &b.n, 2);
	assert_int_equal(chan_pending(a.ch), 0);
	assert_int_equal(b.type[0], 9);
	assert_int_equal(b.nfds[0], 1);
	assert_int_equal(b.type[1], 10);
	assert_int_equal(b.nfds[1], 0);
	assert_int_equal(write(b.fds[0][0], "hello", 5), 5);
	assert_int_equal(read(pp[0], got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	close(b.fds[0][0]);
	b.nfds[0] = 0;
	assert_no_writer(pp[0]);	/* the sender's duplicate was closed */
	close(pp[0]);
	/* and the other way */
	assert_int_equal(chan_send(b.ch, 11, "q", 1, NULL, 0), 0);
	run_until(base, &a.n, 1);
	assert_int_equal(a.type[0], 11);
	rx_done(&a);
	run_until(base, &b.ended, 1);	/* a's end closed */
	assert_string_equal(b.err, "connection closed");
	rx_done(&b);
	event_base_free(base);
}

static void chan_big_message(void **state)
{
	const size_t big = 20 * MIB;
	struct event_base *base;
	struct rx a, b;
	uint8_t *p;
	size_t i;
	int sv[2], p1[2], p2[2];
	char got[4];

	(void)state;
	base = pair(sv);
	rx_new(&a, base, sv[0]);
	rx_new(&b, base, sv[1]);
	assert_int_equal(pipe2(p1, O_CLOEXEC), 0);
	assert_int_equal(pipe2(p2, O_CLOEXEC), 0);
	p = malloc(big);
	assert_non_null(p);
	for (i = 0; i < big; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 16));
	/* many partial writes; a descriptor with each frame */
	assert_int_equal(chan_send(a.ch, 5, p, big, &p1[1], 1), 0);
	assert_int_equal(chan_send(a.ch, 6, "after", 5, &p2[1], 1), 0);
	close(p1[1]);
	close(p2[1]);
	assert_int_equal(chan_pending(a.ch), 2 * WIRE_HDR_SIZE + big + 5);
	run_until(base, &b.n, 2);
	assert_int_equal(b.type[0], 5);
	assert_int_equal(b.data[0].len, big);
	assert_memory_equal(b.data[0].data, p, big);
	assert_int_equal(b.type[1], 6);
	assert_memory_equal(b.data[1].data, "after", 5);
	assert_int_equal(chan_pending(a.ch), 0);
	assert_int_equal(b.nfds[0], 1);
	assert_int_equal(b.nfds[1], 1);
	assert_int_equal(write(b.fds[0][0], "1", 1), 1);	/* in order */
	assert_int_equal(write(b.fds[1][0], "2", 1), 1);
	assert_int_equal(read(p1[0], got, sizeof(got)), 1);
	assert_int_equal(got[0], '1');
	assert_int_equal(read(p2[0], got, sizeof(got)), 1);
	assert_int_equal(got[0], '2');
	free(p);
	rx_done(&a);
	rx_done(&b);
	assert_no_writer(p1[0]);
	assert_no_writer(p2[0]);
	close(p1[0]);
	close(p2[0]);
	event_base_free(base);
}

/* expect_error - write what b holds (descriptors with byte 0), close
 * unless keep, run until the receiver ends: its error must hold text,
 * and n messages came before */
static void expect_error(const buf_t *b, const int *fds, size_t nfds, int keep, const char *text,
			 int n)
{
	struct event_base *base;
	struct rx r;
	int sv[2];

	base = pair(sv);
	rx_new(&r, base, sv[0]);
	if (b->len)
		raw_send(sv[1], b->data, b->len, fds, nfds);
	if (!keep)
		close(sv[1]);
	run_until(base, &r.ended, 1);
	if (!strstr(r.err, text))
		fail_msg("error \"%s\", expected \"%s\"", r.err, text);
	assert_int_equal(r.n, n);
	rx_done(&r);
	if (keep)
		close(sv[1]);
	event_base_free(base);
}

static void chan_protocol_errors(void **state)
{
	int pp[2], many[70];
	buf_t b;
	size_t i;

	(void)state;
	buf_init(&b);
	frame(&b, 5, "0123456789", 10, 0);	/* EOF mid-frame (payload) */
	b.len = 15;
	expect_error(&b, NULL, 0, 0, "connection closed mid-frame", 0);
	b.len = 5;	/* ... and mid-header */
	expect_error(&b, NULL, 0, 0, "connection closed mid-frame", 0);
	buf_reset(&b);
	expect_error(&b, NULL, 0, 0, "connection closed", 0);	/* a clean one */

	frame(&b, 0, "x", 1, 0);	/* type 0 */
	expect_error(&b, NULL, 0, 1, "invalid frame header", 0);
	buf_reset(&b);
	frame(&b, 1, NULL, 0, WIRE_MAX_FDS + 1);
	expect_error(&b, NULL, 0, 1, "invalid frame header", 0);

	/* more descriptors declared than sent: the one sent is closed */
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	buf_reset(&b);
	frame(&b, 1, "x", 1, 2);
	expect_error(&b, &pp[1], 1, 1, "declares 2 descriptors, 1 arrived", 0);
	/* descriptors with a frame that declares none */
	buf_reset(&b);
	frame(&b, 1, "x", 1, 0);
	expect_error(&b, &pp[1], 1, 1, "without a frame", 1);
	/* more than a frame may carry in one sendmsg: truncated */
	buf_reset(&b);
	frame(&b, 1, "x", 1, WIRE_MAX_FDS);
	for (i = 0; i < 70; i++)
		many[i] = pp[1];
	expect_error(&b, many, 70, 1, "truncated", 0);
	close(pp[1]);
	assert_no_writer(pp[0]);
	close(pp[0]);
	buf_free(&b);
}

static void chan_stray_after_frame(void **state)
{
	struct event_base *base;
	struct rx r;
	int sv[2], pp[2];
	buf_t b;

	(void)state;
	/* a whole frame, then descriptors on a byte of a frame's payload */
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	buf_init(&b);
	frame(&b, 1, "abcd", 4, 0);
	raw_send(sv[1], b.data, 14, NULL, 0);
	raw_send(sv[1], b.data + 14, 2, &pp[1], 1);
	run_until(base, &r.ended, 1);
	assert_non_null(strstr(r.err, "without a frame"));
	rx_done(&r);
	close(sv[1]);
	close(pp[1]);
	assert_no_writer(pp[0]);
	close(pp[0]);
	buf_free(&b);
	event_base_free(base);
}

static void chan_free_in_callback(void **state)
{
	struct event_base *base;
	struct rx r;
	int sv[2], pp[2];
	buf_t b;

	(void)state;
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	r.free_on_msg = 1;
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	buf_init(&b);
	frame(&b, 1, "first", 5, 0);
	raw_send(sv[1], b.data, b.len, NULL, 0);
	buf_reset(&b);
	frame(&b, 2, "second", 6, 1);
	frame(&b, 3, "third", 5, 0);
	raw_send(sv[1], b.data, b.len, &pp[1], 1);	/* read with the first */
	close(pp[1]);
	run_until(base, &r.n, 1);
	spin(base);
	assert_int_equal(r.n, 1);	/* nothing after the free */
	assert_null(r.ch);
	assert_no_writer(pp[0]);	/* the undelivered descriptor was closed */
	close(pp[0]);
	rx_done(&r);
	close(sv[1]);
	buf_free(&b);
	event_base_free(base);
}

static void chan_send_limits_and_free(void **state)
{
	struct event_base *base;
	int sv[2], pp[2], fds[WIRE_MAX_FDS + 1], bad[2];
	struct rx r;
	size_t i;

	(void)state;
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	for (i = 0; i <= WIRE_MAX_FDS; i++)
		fds[i] = pp[1];
	assert_int_equal(chan_send(r.ch, 0, "x", 1, NULL, 0), -1);
	assert_int_equal(chan_send(r.ch, 1, "x", WIRE_MAX_PAYLOAD + 1u, NULL, 0), -1);
	assert_int_equal(chan_send(r.ch, 1, "x", 1, fds, WIRE_MAX_FDS + 1), -1);
	bad[0] = pp[1];
	bad[1] = -1;	/* cannot be duplicated: nothing queued, nothing leaked */
	assert_int_equal(chan_send(r.ch, 1, "x", 1, bad, 2), -1);
	assert_int_equal(chan_pending(r.ch), 0);
	assert_int_equal(chan_send(r.ch, 1, "x", 1, fds, WIRE_MAX_FDS), 0);
	assert_int_equal(chan_pending(r.ch), WIRE_HDR_SIZE + 1);
	assert_int_equal(chan_send(r.ch, 2, NULL, 0, &pp[1], 1), 0);
	close(pp[1]);
	chan_free(r.ch);	/* queued, never sent: the duplicates are closed */
	r.ch = NULL;
	assert_no_writer(pp[0]);
	close(pp[0]);
	chan_free(NULL);
	assert_int_equal(chan_send(NULL, 1, NULL, 0, NULL, 0), -1);
	assert_int_equal(chan_pending(NULL), 0);
	rx_done(&r);
	close(sv[1]);
	event_base_free(base);
}

static void chan_send_to_closed_peer(void **state)
{
	struct event_base *base;
	struct rx r;
	int sv[2];

	(void)state;
	base = pair(sv);
	rx_new(&r, base, sv[0]);
	close(sv[1]);
	assert_int_equal(chan_send(r.ch, 1, "x", 1, NULL, 0), 0);
	run_until(base, &r.ended, 1);	/* EOF or EPIPE, once */
	assert_true(strstr(r.err, "closed") || strstr(r.err, "sendmsg"));
	rx_done(&r);
	event_base_free(base);
}

/* keep_cb - note the end, free nothing */
static void keep_cb(void *arg, const struct chan_msg *m)
{
	int *ended = arg;

	if (!m)
		*ended = 1;
}

static void chan_send_after_end(void **state)
{
	struct event_base *base;
	struct chan *ch;
	int sv[2], ended = 0, pp[2];

	(void)state;
	base = pair(sv);
	ch = chan_new(base, sv[0], keep_cb, &ended);
	assert_non_null(ch);
	close(sv[1]);
	run_until(base, &ended, 1);
	assert_string_equal(chan_error(ch), "connection closed");
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	assert_int_equal(chan_send(ch, 1, "x", 1, &pp[1], 1), -1);	/* ended: refused */
	assert_int_equal(chan_pending(ch), 0);
	spin(base);
	assert_int_equal(ended, 1);	/* told once */
	chan_free(ch);
	close(pp[1]);
	assert_no_writer(pp[0]);
	close(pp[0]);
	event_base_free(base);
}

static void chan_limit(void **state)
{
	struct event_base *base;
	struct rx a, b;
	int sv[2];

	(void)state;
	base = pair(sv);
	rx_new(&a, base, sv[0]);
	rx_new(&b, base, sv[1]);
	chan_set_limit(b.ch, 4);
	assert_int_equal(chan_send(a.ch, 1, "1234", 4, NULL, 0), 0);	/* at */
	assert_int_equal(chan_send(a.ch, 1, "12345", 5, NULL, 0), 0);	/* over */
	run_until(base, &b.ended, 1);
	assert_int_equal(b.n, 1);
	assert_non_null(strstr(b.err, "over this channel's limit of 4"));
	rx_done(&a);
	rx_done(&b);
	event_base_free(base);
}

/* ---- fuzz ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* rnd - xorshift64* */
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

/* below - a number in [0, n) */
static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* canonical - a payload that decoded re-encodes to the same bytes */
static void check_canonical(const struct chan_msg *m)
{
	struct proto_config c;
	const char *why;
	char *errors;
	uint32_t id;
	buf_t b;

	buf_init(&b);
	switch (m->type) {
	case PROTO_CONFIG:
		if (proto_config_decode(m, &c, &why) == 0) {
			assert_int_equal(proto_config_encode(&b, &c), 0);
			proto_config_free(&c);
		}
		break;
	case PROTO_RELOAD_FAILED:
		if (proto_reload_failed_decode(m, &id, &errors, &why) == 0) {
			assert_int_equal(proto_reload_failed_encode(&b, id, errors), 0);
			free(errors);
		}
		break;
	case PROTO_RELOAD_REQ:
		if (proto_reload_req_decode(m, &id, &why) == 0)
			assert_int_equal(proto_reload_req_encode(&b, id), 0);
		break;
	default:
		break;
	}
	if (b.len) {
		assert_int_equal(b.len, m->len);
		assert_memory_equal(b.data, m->data, m->len);
	}
	buf_free(&b);
}

/* mutate - change p[0..*n) (room for cap bytes) a little */
static void mutate(uint8_t *p, size_t *n, size_t cap)
{
	static const uint32_t odd[] = { 0, 1, 2, 3, 4, 12, 63, 64, 65, 79, 80, 4095, 4096, 4097,
					65536, 65537, (64u << 20), (64u << 20) + 1, (256u << 20),
					(256u << 20) + 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu,
					0xffffffffu };
	size_t at, k, i;

	switch (below(7)) {
	case 0:		/* flip a bit */
		if (*n)
			p[below(*n)] ^= (uint8_t)(1u << below(8));
		break;
	case 1:		/* a random byte */
		if (*n)
			p[below(*n)] = (uint8_t)rnd();
		break;
	case 2:		/* cut */
		*n = below(*n + 1);
		break;
	case 3:		/* insert */
		k = 1 + below(8);
		if (*n + k > cap)
			break;
		at = below(*n + 1);
		memmove(p + at + k, p + at, *n - at);
		for (i = 0; i < k; i++)
			p[at + i] = (uint8_t)rnd();
		*n += k;
		break;
	case 4:		/* delete */
		if (!*n)
			break;
		at = below(*n);
		k = 1 + below(*n - at);
		memmove(p + at, p + at + k, *n - at - k);
		*n -= k;
		break;
	case 5:		/* a length or count field set to something odd */
	case 6:
		if (*n < 4)
			break;
		at = below(*n - 3);
		le32_at(p + at, below(3) ? odd[below(sizeof(odd) / sizeof(odd[0]))] :
			(uint32_t)rnd());
		break;
	}
}

/* fuzz_one - the frame parser and every decoder on p[0..n) */
static void fuzz_one(const uint8_t *p, size_t n, size_t nfds_hint)
{
	struct wire_hdr h;
	struct chan_msg m;
	uint32_t t;
	int fr;

	fr = wire_frame_parse(p, n, &h);
	assert_true(fr >= -1 && fr <= 1);
	if (fr == 1)
		assert_true(h.len <= n - WIRE_HDR_SIZE && h.nfds <= WIRE_MAX_FDS && h.type);
	if (n < WIRE_HDR_SIZE)
		return;
	m.data = p + WIRE_HDR_SIZE;
	m.len = fr == 1 ? h.len : n - WIRE_HDR_SIZE;
	m.fds = fake_fds;
	for (t = PROTO_CONFIG; t <= PROTO_READY; t++) {
		m.type = t;
		m.nfds = fr >= 0 && (rnd() & 1) ? h.nfds : (t == PROTO_CONFIG ? nfds_hint : 0);
		if (m.nfds > WIRE_MAX_FDS)
			m.nfds = WIRE_MAX_FDS;
		if (decode_any(&m) == 0)
			check_canonical(&m);
	}
}

static void fuzz_decoders(void **state)
{
	const long rounds = 200000;
	struct base v[NBASE];
	uint8_t work[4096];
	buf_t f[NBASE];
	size_t n, k, i;
	long r;
	int j;

	(void)state;
	rng = 0x9e3779b97f4a7c15ull;
	make_bases(v);
	for (j = 0; j < NBASE; j++) {
		buf_init(&f[j]);
		assert_int_equal(wire_frame_put(&f[j], v[j].type, v[j].payload.data,
						v[j].payload.len, v[j].nfds), 0);
		assert_true(f[j].len < sizeof(work) / 2);
		fuzz_one((uint8_t *)f[j].data, f[j].len, v[j].nfds);	/* unchanged: valid */
	}
	for (r = 0; r < rounds; r++) {
		j = (int)below(NBASE);
		n = f[j].len;
		memcpy(work, f[j].data, n);
		k = 1 + below(4);
		for (i = 0; i < k; i++)
			mutate(work, &n, sizeof(work));
		fuzz_one(work, n, v[j].nfds);
	}
	for (j = 0; j < NBASE; j++)
		buf_free(&f[j]);
	free_bases(v);
}

/* fuzz_chan_cb - count; keep nothing */
static void fuzz_chan_cb(void *arg, const struct chan_msg *m)
{
	int *st = arg;
	size_t i;

	if (!m) {
		st[1] = 1;
		return;
	}
	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	st[0]++;
}

static void fuzz_chan(void **state)
{
	struct base v[NBASE];
	struct event_base *base;
	struct chan *ch;
	uint8_t work[8192];
	int sv[2], pp[2], st[2];
	size_t n, k, i, at, cut;
	buf_t f;
	int r, j;

	(void)state;
	rng = 0x243f6a8885a308d3ull;
	make_bases(v);
	base = event_base_new();
	assert_non_null(base);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	for (r = 0; r < 400; r++) {
		buf_init(&f);
		for (j = 0; j < 3; j++) {
			k = below(NBASE);
			assert_int_equal(wire_frame_put(&f, v[k].type, v[k].payload.data,
							v[k].payload.len, v[k].nfds ? 1 : 0), 0);
		}
		n = f.len;
		memcpy(work, f.data, n);
		k = below(4);
		for (i = 0; i < k; i++)
			mutate(work, &n, sizeof(work));
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		st[0] = st[1] = 0;
		ch = chan_new(base, sv[0], fuzz_chan_cb, st);
		assert_non_null(ch);
		/* in two pieces, a descriptor with one of them now and then */
		cut = below(n + 1);
		at = 0;
		if (cut) {
			raw_send(sv[1], work, cut, &pp[1], below(2));
			at = cut;
		}
		if (n > at)
			raw_send(sv[1], work + at, n - at, &pp[1], below(2));
		close(sv[1]);
		while (!st[1])
			event_base_loop(base, EVLOOP_ONCE);
		chan_free(ch);
		buf_free(&f);
	}
	close(pp[1]);
	assert_no_writer(pp[0]);	/* every descriptor sent was closed */
	close(pp[0]);
	event_base_free(base);
	free_bases(v);
}

static int fds_at_start;

/* count_fds - descriptors open in this process */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* group_setup - note the open descriptors */
static int group_setup(void **state)
{
	(void)state;
	fds_at_start = count_fds();
	return 0;
}

/* no_descriptor_leaked - run last: every test closed what it (and the
 * channels it made) opened */
static void no_descriptor_leaked(void **state)
{
	(void)state;
	assert_int_equal(count_fds(), fds_at_start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wire_header),
		cmocka_unit_test(wire_header_limits),
		cmocka_unit_test(wire_fields),
		cmocka_unit_test(config_round_trip),
		cmocka_unit_test(config_appends),
		cmocka_unit_test(small_round_trips),
		cmocka_unit_test(wrong_types),
		cmocka_unit_test(limits_path_note_flags),
		cmocka_unit_test(limits_files),
		cmocka_unit_test(limits_counts_beyond_payload),
		cmocka_unit_test(limits_listen),
		cmocka_unit_test(limits_fd_count),
		cmocka_unit_test(limits_small),
		cmocka_unit_test(limits_encode),
		cmocka_unit_test(limits_file_sizes),
		cmocka_unit_test(truncated_and_trailing),
		cmocka_unit_test(chan_several_in_one_write),
		cmocka_unit_test(chan_split_writes),
		cmocka_unit_test(chan_fds_usable),
		cmocka_unit_test(chan_big_message),
		cmocka_unit_test(chan_protocol_errors),
		cmocka_unit_test(chan_stray_after_frame),
		cmocka_unit_test(chan_free_in_callback),
		cmocka_unit_test(chan_send_limits_and_free),
		cmocka_unit_test(chan_send_to_closed_peer),
		cmocka_unit_test(chan_send_after_end),
		cmocka_unit_test(chan_limit),
		cmocka_unit_test(fuzz_decoders),
		cmocka_unit_test(fuzz_chan),
		cmocka_unit_test(no_descriptor_leaked),	/* last */
	};
	size_t i;

	for (i = 0; i < sizeof(fake_fds) / sizeof(fake_fds[0]); i++)
		fake_fds[i] = -1;
	return cmocka_run_group_tests(tests, group_setup, NULL);
}

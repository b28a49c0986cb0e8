/* proto - encode and decode the parent/worker messages (see proto.h).
 *
 * Public: proto_config_encode, proto_config_decode, proto_config_free,
 * proto_reload_failed_encode, proto_reload_failed_decode,
 * proto_reload_req_encode, proto_reload_req_decode, proto_ready_decode.
 * A CONFIG is decoded in two passes over the same payload: the first
 * checks every field and allocates nothing (a bad message of 256 MiB
 * costs no copy), the second copies; only ENOMEM can fail it.
 * Invariants: an encoder either appends a whole valid payload or leaves
 * the buffer as it was (wiped: a CONFIG holds keys); a decoder either
 * fills its outputs completely or leaves nothing allocated.
 */
#include "priv/proto.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(PROTO_MAX_FILES <= CFILES_MAX, "a CONFIG's files fit a struct cfiles");
_Static_assert(PROTO_MAX_FILE <= CFILE_MAX_SIZE, "a CONFIG's file fits a struct cfile");
_Static_assert(2 + PROTO_MAX_LISTEN <= WIRE_MAX_FDS, "a CONFIG's descriptors fit a frame");

#define NOMEM "out of memory"

/* NEED - fail the decode with text unless cond holds (cond has side
 * effects: evaluated once) */
#define NEED(cond, text) do { if (!(cond)) return (text); } while (0)

/* cut_len - strlen(s), at most max, not splitting a UTF-8 sequence */
static size_t cut_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* undo - drop what an encoder appended after start (wiped) */
static int undo(buf_t *out, size_t start)
{
	if (out->data && out->len > start) {
		explicit_bzero(out->data + start, out->len - start);
		out->len = start;
	}
	return -1;
}

/* ---- CONFIG ---- */

/* config_ok - may c be encoded: every field within its limit? */
static int config_ok(const struct proto_config *c, const char *path)
{
	const struct cfile *f;
	size_t i, j, n, total = 0;

	if ((c->flags & ~PROTO_TLS_KEPT) || strnlen(path, PROTO_MAX_PATH + 1) > PROTO_MAX_PATH ||
	    c->files.n > PROTO_MAX_FILES || c->nlisten > PROTO_MAX_LISTEN)
		return 0;
	for (i = 0; i < c->files.n; i++) {
		f = &c->files.v[i];
		n = f->name ? strnlen(f->name, PROTO_MAX_NAME + 1) : 0;
		if (n == 0 || n > PROTO_MAX_NAME || f->err < 0 || f->err > PROTO_MAX_ERR ||
		    (f->err && f->len) || f->len > PROTO_MAX_FILE || (f->len && !f->data) ||
		    f->len > PROTO_MAX_TOTAL - total)
			return 0;
		total += f->len;
		for (j = 0; j < i; j++)
			if (strcmp(c->files.v[j].name, f->name) == 0)
				return 0;
	}
	for (i = 0; i < c->nlisten; i++) {
		n = strnlen(c->listen[i].text, sizeof(c->listen[i].text));
		if (c->listen[i].role > PROTO_MAX_ROLE || n == 0 || n > PROTO_MAX_TEXT)
			return 0;
	}
	return 1;
}

/* proto_config_encode - c's payload, checked first */
int proto_config_encode(buf_t *out, const struct proto_config *c)
{
	const char *path = c->path ? c->path : "", *note = c->note ? c->note : "";
	const struct cfile *f;
	size_t start = out->len, i;
	int bad = 0;

	if (!config_ok(c, path))
		return -1;
	bad |= wire_put_u32(out, c->id);
	bad |= wire_put_u32(out, c->flags);
	bad |= wire_put_str(out, path);
	bad |= wire_put_strn(out, note, cut_len(note, PROTO_MAX_NOTE));
	bad |= wire_put_u32(out, (uint32_t)c->files.n);
	for (i = 0; i < c->files.n && !bad; i++) {
		f = &c->files.v[i];
		bad |= wire_put_str(out, f->name);
		bad |= wire_put_u32(out, (uint32_t)f->err);
		bad |= wire_put_blob(out, f->data, f->len);
	}
	bad |= wire_put_u32(out, (uint32_t)c->nlisten);
	for (i = 0; i < c->nlisten && !bad; i++) {
		bad |= wire_put_u32(out, c->listen[i].role);
		bad |= wire_put_str(out, c->listen[i].text);
	}
	if (bad || out->len - start > WIRE_MAX_PAYLOAD)
		return undo(out, start);
	return 0;
}

/* add_file - a copy of one file into c's set */
static const char *add_file(struct proto_config *c, const char *name, size_t n, uint32_t err,
			    const uint8_t *data, size_t len)
{
	char *s = strndup(name, n);
	int r;

	if (!s)
		return NOMEM;
	r = cfiles_add(&c->files, s, (int)err, data, len);
	free(s);
	return r < 0 ? NOMEM : NULL;
}

/* config_files - the file entries; checked only (c NULL) or copied */
static const char *config_files(struct wire_rd *rd, struct proto_config *c)
{
	struct {
		const char *p;
		size_t n;
	} names[PROTO_MAX_FILES];
	const uint8_t *data;
	const char *s, *r;
	uint32_t nfiles, err, i, j;
	size_t n, len, total = 0;

	NEED(wire_get_u32(rd, &nfiles) == 0, "file count missing");
	NEED(nfiles <= PROTO_MAX_FILES, "more than 64 files");
	for (i = 0; i < nfiles; i++) {
		NEED(wire_get_str_ref(rd, PROTO_MAX_NAME, &s, &n) == 0 && n > 0,
		     "file name: missing, empty, over 4096 bytes or holding a NUL");
		for (j = 0; j < i; j++)
			NEED(names[j].n != n || memcmp(names[j].p, s, n) != 0, "a file name twice");
		names[i].p = s;
		names[i].n = n;
		NEED(wire_get_u32(rd, &err) == 0, "file errno missing");
		NEED(err <= PROTO_MAX_ERR, "file errno over 4095");
		NEED(wire_get_blob_ref(rd, PROTO_MAX_FILE, &data, &len) == 0,
		     "file data: missing or over 64 MiB");
		NEED(err == 0 || len == 0, "file data with an errno");
		NEED(len <= PROTO_MAX_TOTAL - total, "files over 256 MiB together");
		total += len;
		if (c && (r = add_file(c, s, n, err, data, len)) != NULL)
			return r;
	}
	return NULL;
}

/* config_listen - the listener entries; checked only (c NULL) or copied;
 * their count into *nlisten */
static const char *config_listen(struct wire_rd *rd, struct proto_config *c, uint32_t *nlisten)
{
	const char *s;
	uint32_t i, role;
	size_t n;

	NEED(wire_get_u32(rd, nlisten) == 0, "listener count missing");
	NEED(*nlisten <= PROTO_MAX_LISTEN, "more than 62 listeners");
	if (c) {
		c->listen = calloc(*nlisten ? *nlisten : 1, sizeof(*c->listen));
		NEED(c->listen, NOMEM);
		c->nlisten = *nlisten;
	}
	for (i = 0; i < *nlisten; i++) {
		NEED(wire_get_u32(rd, &role) == 0, "listener role missing");
		NEED(role <= PROTO_MAX_ROLE, "listener role over 2");
		NEED(wire_get_str_ref(rd, PROTO_MAX_TEXT, &s, &n) == 0 && n > 0,
		     "listener address: missing, empty, over 79 bytes or holding a NUL");
		if (c) {
			c->listen[i].role = role;
			memcpy(c->listen[i].text, s, n);
			c->listen[i].text[n] = '\0';
		}
	}
	return NULL;
}

/* config_walk - the whole payload; checked only (c NULL) or copied */
static const char *config_walk(const struct chan_msg *m, struct proto_config *c)
{
	struct wire_rd rd;
	uint32_t id, flags, nlisten;
	const char *s, *r;
	size_t n;

	wire_rd_init(&rd, m->data, m->len);
	NEED(wire_get_u32(&rd, &id) == 0, "id missing");
	NEED(wire_get_u32(&rd, &flags) == 0, "flags missing");
	NEED((flags & ~PROTO_TLS_KEPT) == 0, "unknown flags");
	NEED(wire_get_str_ref(&rd, PROTO_MAX_PATH, &s, &n) == 0,
	     "path: missing, over 4096 bytes or holding a NUL");
	if (c) {
		c->id = id;
		c->flags = flags;
		NEED((c->path = strndup(s, n)) != NULL, NOMEM);
	}
	NEED(wire_get_str_ref(&rd, PROTO_MAX_NOTE, &s, &n) == 0,
	     "note: missing, over 4096 bytes or holding a NUL");
	if (c)
		NEED((c->note = strndup(s, n)) != NULL, NOMEM);
	if ((r = config_files(&rd, c)) != NULL || (r = config_listen(&rd, c, &nlisten)) != NULL)
		return r;
	NEED(wire_end(&rd) == 0, "bytes after the last field");
	NEED(m->nfds == 2 + (size_t)nlisten, "descriptor count is not 2 + listeners");
	return NULL;
}

/* proto_config_decode - check, then copy */
int proto_config_decode(const struct chan_msg *m, struct proto_config *c, const char **why)
{
	const char *r;

	memset(c, 0, sizeof(*c));
	cfiles_init(&c->files);
	if (m->type != PROTO_CONFIG)
		r = "not a CONFIG message";
	else if ((r = config_walk(m, NULL)) == NULL)
		r = config_walk(m, c);
	if (!r)
		return 0;
	proto_config_free(c);
	*why = r;
	return -1;
}

/* proto_config_free - what a decode allocated */
void proto_config_free(struct proto_config *c)
{
	free(c->path);
	free(c->note);
	cfiles_free(&c->files);
	free(c->listen);
	memset(c, 0, sizeof(*c));
	cfiles_init(&c->files);
}

/* ---- the small ones ---- */

/* proto_reload_failed_encode - id, errors (cut to the limit) */
int proto_reload_failed_encode(buf_t *out, uint32_t id, const char *errors)
{
	size_t start = out->len;

	if (!errors)
		errors = "";
	if (wire_put_u32(out, id) < 0 ||
	    wire_put_strn(out, errors, cut_len(errors, PROTO_MAX_ERRORS)) < 0)
		return undo(out, start);
	return 0;
}

/* proto_reload_failed_decode - id, errors */
int proto_reload_failed_decode(const struct chan_msg *m, uint32_t *id, char **errors,
			       const char **why)
{
	struct wire_rd rd;
	const char *s;
	size_t n;

	*id = 0;
	*errors = NULL;
	wire_rd_init(&rd, m->data, m->len);
	if (m->type != PROTO_RELOAD_FAILED)
		*why = "not a RELOAD_FAILED message";
	else if (m->nfds)
		*why = "descriptors with a RELOAD_FAILED";
	else if (wire_get_u32(&rd, id) < 0)
		*why = "id missing";
	else if (wire_get_str_ref(&rd, PROTO_MAX_ERRORS, &s, &n) < 0)
		*why = "errors: missing, over 65536 bytes or holding a NUL";
	else if (wire_end(&rd) < 0)
		*why = "bytes after the last field";
	else if (!(*errors = strndup(s, n)))
		*why = NOMEM;
	else
		return 0;
	*id = 0;
	return -1;
}

/* proto_reload_req_encode - a request id */
int proto_reload_req_encode(buf_t *out, uint32_t id)
{
	if (id == 0)
		return -1;
	return wire_put_u32(out, id);
}

/* proto_reload_req_decode - a request id, not 0 */
int proto_reload_req_decode(const struct chan_msg *m, uint32_t *id, const char **why)
{
	struct wire_rd rd;

	*id = 0;
	wire_rd_init(&rd, m->data, m->len);
	if (m->type != PROTO_RELOAD_REQ)
		*why = "not a RELOAD_REQ message";
	else if (m->nfds)
		*why = "descriptors with a RELOAD_REQ";
	else if (wire_get_u32(&rd, id) < 0)
		*why = "id missing";
	else if (wire_end(&rd) < 0)
		*why = "bytes after the last field";
	else if (*id == 0)
		*why = "id 0";
	else
		return 0;
	*id = 0;
	return -1;
}

/* proto_ready_decode - nothing in it */
int proto_ready_decode(const struct chan_msg *m, const char **why)
{
	if (m->type != PROTO_READY)
		*why = "not a READY message";
	else if (m->nfds)
		*why = "descriptors with a READY";
	else if (m->len)
		*why = "bytes after the last field";
	else
		return 0;
	return -1;
}

/* proto - the messages between the parent and the worker (issue 9).
 *
 * Payload layouts (fields as in priv/wire.h; every limit is checked by the
 * decoders, and by the encoders so that nothing the parent sends is
 * refused):
 *   PROTO_CONFIG (parent -> worker)  u32 id; u32 flags (PROTO_TLS_KEPT);
 *     str path (<= 4096, "" = the embedded default); str note (<= 4096);
 *     u32 nfiles (<= 64), each: str name (1..4096, no two the same), u32
 *     err (0..4095; non-zero: data empty), blob data (<= 64 MiB, all
 *     together <= 256 MiB); u32 nlisten (<= 62: PROTO_MAX_LISTEN), each:
 *     u32 role (0..2), str text (1..79).  Descriptors: exactly 2 +
 *     nlisten (the spool directory, the mailbox directory, the listeners
 *     in order).
 *   PROTO_RELOAD_FAILED (parent -> worker)  u32 id; str errors (<= 65536).
 *   PROTO_RELOAD_REQ (worker -> parent)  u32 id (not 0).
 *   PROTO_READY (worker -> parent)  empty.
 * Only CONFIG carries descriptors.  Bytes after the last field, an
 * unknown flag bit, a wrong descriptor count: the message is refused.
 * A decoder never closes descriptors (they stay the caller's) and, when
 * it fails, leaves nothing allocated and *why pointing at a static text.
 */
#ifndef MAILPORT_PRIV_PROTO_H
#define MAILPORT_PRIV_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "conf/cfiles.h"
#include "priv/chan.h"
#include "priv/wire.h"
#include "util/buf.h"

enum {
	PROTO_CONFIG = 1,
	PROTO_RELOAD_FAILED = 2,
	PROTO_RELOAD_REQ = 3,
	PROTO_READY = 4,
};

#define PROTO_TLS_KEPT 0x1u		/* CONFIG flags: the previous TLS pair */

#define PROTO_MAX_PATH 4096		/* CONFIG path */
#define PROTO_MAX_NOTE 4096		/* CONFIG note */
#define PROTO_MAX_FILES 64		/* CONFIG files */
#define PROTO_MAX_NAME 4096		/* a file's name */
#define PROTO_MAX_ERR 4095		/* a file's errno */
#define PROTO_MAX_FILE (64u << 20)	/* a file's bytes */
#define PROTO_MAX_TOTAL (256u << 20)	/* all the files' bytes */
/* CONFIG listeners.  The issue 9 spec says 64, but a CONFIG carries 2 +
 * nlisten descriptors and a frame at most WIRE_MAX_FDS (64): 62 is the
 * most that can travel. */
#define PROTO_MAX_LISTEN (WIRE_MAX_FDS - 2)
#define PROTO_MAX_ROLE 2		/* a listener's role (enum listen_role) */
#define PROTO_MAX_TEXT 79		/* a listener's address text */
#define PROTO_MAX_ERRORS 65536		/* RELOAD_FAILED errors */

struct proto_listen {
	uint32_t role;			/* 0..PROTO_MAX_ROLE */
	char text[PROTO_MAX_TEXT + 1];	/* "addr:port", NUL-terminated */
};

struct proto_config {
	uint32_t id;			/* the RELOAD_REQ answered, 0: none */
	uint32_t flags;
	char *path;			/* the config file, "": embedded */
	char *note;			/* with PROTO_TLS_KEPT: why */
	struct cfiles files;
	size_t nlisten;
	struct proto_listen *listen;
};

/* proto_config_encode - append c's payload to out.  A note longer than
 * PROTO_MAX_NOTE is cut there (at a character boundary); anything else
 * over a limit: -1, out unchanged.  NULL path and note are "" */
int proto_config_encode(buf_t *out, const struct proto_config *c);

/* proto_config_decode - a CONFIG message (its descriptors: m->fds, not
 * touched) into *c; 0, or -1 with *why and *c empty */
int proto_config_decode(const struct chan_msg *m, struct proto_config *c, const char **why);

/* proto_config_free - release what a decode allocated; *c empty after
 * (fine on an empty or zeroed one) */
void proto_config_free(struct proto_config *c);

/* proto_reload_failed_encode - id and errors (cut to PROTO_MAX_ERRORS at
 * a character boundary when longer; NULL is "") */
int proto_reload_failed_encode(buf_t *out, uint32_t id, const char *errors);

/* proto_reload_failed_decode - *id and *errors (malloc'd); 0, or -1 with
 * *why (*errors NULL) */
int proto_reload_failed_decode(const struct chan_msg *m, uint32_t *id, char **errors,
			       const char **why);

/* proto_reload_req_encode - a reload request id (not 0) */
int proto_reload_req_encode(buf_t *out, uint32_t id);

/* proto_reload_req_decode - *id (not 0); 0, or -1 with *why */
int proto_reload_req_decode(const struct chan_msg *m, uint32_t *id, const char **why);

/* proto_ready_decode - an empty READY; 0, or -1 with *why */
int proto_ready_decode(const struct chan_msg *m, const char **why);

#endif

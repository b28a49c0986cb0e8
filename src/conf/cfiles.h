/* cfiles - the files a config is made of, as bytes.
 *
 * The privileged parent reads the config file, the tables, the smarthost
 * password and the TLS pair from disk (as root) and records what it read
 * in a struct cfiles; the unprivileged worker gets that set over its
 * socketpair and loads the same config from it without opening a file.
 * Every reader in conf/ and tls/ goes through cfiles_open/cfiles_get:
 *   src == NULL          read the disk (check-config, client commands)
 *   src->record set      read the disk and keep a copy of what was read
 *   src->record clear    replay: only the recorded files exist
 */
#ifndef MAILPORT_CONF_CFILES_H
#define MAILPORT_CONF_CFILES_H

#include <stddef.h>
#include <stdio.h>

#define CFILES_MAX 64			/* files in one set */
#define CFILE_MAX_SIZE (64u << 20)	/* bytes in one file */

struct cfile {
	char *name;		/* the path as the config names it */
	int err;		/* errno of the failed read, 0: data holds it */
	char *data;		/* len bytes and a NUL */
	size_t len;
};

struct cfiles {
	struct cfile *v;
	size_t n;
	int record;		/* read the disk and keep copies */
};

void cfiles_init(struct cfiles *s);
void cfiles_free(struct cfiles *s);

/* cfiles_add - keep a copy of name's bytes (or its errno); -1 on ENOMEM
 * or when the set is full */
int cfiles_add(struct cfiles *s, const char *name, int err, const void *data, size_t len);

/* cfiles_find - the entry for name, or NULL */
const struct cfile *cfiles_find(const struct cfiles *s, const char *name);

/* cfiles_get - the whole file name into *data (NUL-terminated, malloc'd)
 * and *len; -1 with errno set when it cannot be read (or, replaying, was
 * not sent) */
int cfiles_get(struct cfiles *src, const char *name, char **data, size_t *len);

/* cfiles_open - name as a stdio stream for reading; NULL with errno */
FILE *cfiles_open(struct cfiles *src, const char *name);

/* cfiles_copy - give to the entry "as" the bytes (or error) of name in
 * from (ENOENT when from has none); -1 on ENOMEM */
int cfiles_copy(struct cfiles *to, const struct cfiles *from, const char *name, const char *as);

#endif

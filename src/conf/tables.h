/* tables - the users file and the aliases file.
 *
 * users: one address a line, "alice@example.test" or
 *   "alice@example.test:<crypt(3) hash>"; blank lines and lines starting with
 *   '#' ignored; the address is matched case-insensitively (stored
 *   lowercased); duplicate addresses are an error.
 * aliases: aliases(5) syntax: "name: target, target, ...", continuation
 *   lines start with SP or TAB, '#' comments.  "name" is a local part (it
 *   applies in every local domain) or a full address (that address only);
 *   matched case-insensitively.  A target is a local part (same domain as
 *   the address being expanded) or a full address.  Targets starting with
 *   '|', '/' or ":include:" are rejected with an error (mailport never runs
 *   commands nor writes to files named by a table).  Double quotes around a
 *   target are allowed and removed.
 * Errors are appended to *errors as "<path>:<line>: <message>\n".
 */
#ifndef MAILPORT_CONF_TABLES_H
#define MAILPORT_CONF_TABLES_H

#include <stddef.h>
#include "util/buf.h"

struct users;
struct aliases;
struct cfiles;

/* users_load - read a users file; returns 0, or -1 with errors written */
int users_load(const char *path, struct users **out, buf_t *errors);
/* users_load_from - the same, the file read through src (conf/cfiles.h) */
int users_load_from(struct cfiles *src, const char *path, struct users **out, buf_t *errors);
void users_free(struct users *u);
/* users_exists - is this address (any case) listed? */
int users_exists(const struct users *u, const char *addr);
/* users_hash - the crypt(3) hash for the address, or NULL (none / unknown) */
const char *users_hash(const struct users *u, const char *addr);
size_t users_count(const struct users *u);
/* users_hash_count - how many entries carry a password hash */
size_t users_hash_count(const struct users *u);

int aliases_load(const char *path, struct aliases **out, buf_t *errors);
int aliases_load_from(struct cfiles *src, const char *path, struct aliases **out,
		      buf_t *errors);
void aliases_free(struct aliases *a);
/* aliases_lookup - the targets for local@domain: an entry for the full
 * address wins over an entry for the local part; NULL when there is none.
 * *n gets the number of targets. */
const char *const *aliases_lookup(const struct aliases *a, const char *local,
				  const char *domain, size_t *n);

#endif

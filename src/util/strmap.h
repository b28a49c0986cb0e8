/* strmap - string-keyed hash map (open addressing, linear probing).
 *
 * Keys are compared byte for byte: callers that want case-insensitive keys
 * lowercase them before every put and get.  The map owns a private copy of
 * each key; values are opaque pointers owned by the caller (strmap_free can
 * release them through a callback).  There is no removal: the tables built
 * with it are loaded once and then only read, which is safe from several
 * threads at once.
 */
#ifndef MAILPORT_UTIL_STRMAP_H
#define MAILPORT_UTIL_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char *key;			/* NULL: empty slot */
	void *val;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;			/* 0 or a power of two */
	size_t n;			/* keys stored, always <= cap / 2 */
};

/* strmap_init - make an empty map that owns no memory */
void strmap_init(struct strmap *m);
/* strmap_free - free the keys and slots, call free_val (if not NULL) on
 * every value, leave the map empty */
void strmap_free(struct strmap *m, void (*free_val)(void *));
/* strmap_put - add key -> val; returns 1 if added, 0 if the key was already
 * there (nothing changed), -1 when out of memory */
int strmap_put(struct strmap *m, const char *key, void *val);
/* strmap_get - 1 and *val set (val may be NULL) if key is present, else 0 */
int strmap_get(const struct strmap *m, const char *key, void **val);

#endif

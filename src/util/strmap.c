/* strmap - string-keyed hash map with open addressing.
 *
 * Public: strmap_init, strmap_free, strmap_put, strmap_get.
 * Invariants: cap is 0 or a power of two; n <= cap / 2, so a probe always
 * reaches an empty slot; keys are private copies, never NULL once stored.
 * The hash is FNV-1a (64 bit): the keys come from files the administrator
 * writes, not from the network, so no keyed hash is needed against flooding.
 */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRMAP_MIN_CAP 16

/* hash_str - FNV-1a of a NUL-terminated string */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* find_slot - the slot holding key, or the empty slot where it would go */
static struct strmap_slot *find_slot(const struct strmap_slot *slots,
				     size_t cap, const char *key)
{
	size_t mask = cap - 1, i = (size_t)hash_str(key) & mask;

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & mask;
	return (struct strmap_slot *)&slots[i];
}

/* strmap_init - make an empty map that owns no memory */
void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

/* strmap_free - free keys and slots, release values through free_val */
void strmap_free(struct strmap *m, void (*free_val)(void *))
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		free(m->slots[i].key);
		if (free_val)
			free_val(m->slots[i].val);
	}
	free(m->slots);
	strmap_init(m);
}

/* grow - double the table (or create it) and rehash every key */
static int grow(struct strmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : STRMAP_MIN_CAP, i;
	struct strmap_slot *ns;

	if (m->cap > SIZE_MAX / 2 / sizeof(*ns))
		return -1;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find_slot(ns, ncap, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

/* strmap_put - add key -> val unless the key is there already */
int strmap_put(struct strmap *m, const char *key, void *val)
{
	struct strmap_slot *s;
	char *copy;

	if (m->cap && find_slot(m->slots, m->cap, key)->key)
		return 0;
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	copy = strdup(key);
	if (!copy)
		return -1;
	s = find_slot(m->slots, m->cap, key);
	s->key = copy;
	s->val = val;
	m->n++;
	return 1;
}

/* strmap_get - look key up; *val (if val) gets the value when found */
int strmap_get(const struct strmap *m, const char *key, void **val)
{
	const struct strmap_slot *s;

	if (m->cap == 0)
		return 0;
	s = find_slot(m->slots, m->cap, key);
	if (!s->key)
		return 0;
	if (val)
		*val = s->val;
	return 1;
}

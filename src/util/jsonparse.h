/* jsonparse - a small, strict, bounded JSON reader (RFC 8259) into a tree:
 * enough for the replies of mailport's control socket (`mailport queue`).
 *
 * Strict: the whole input is one value with optional white space around
 * it; strings must be valid UTF-8 without raw control bytes; escapes are
 * decoded (\uXXXX surrogate pairs into one code point; a lone surrogate is
 * an error); an object may not repeat a key.  Bounded: nesting depth
 * JSONP_DEPTH_MAX, JSONP_NODES_MAX values, numbers of at most 64 bytes.
 * Anything else is an error with a short reason and its byte offset; a
 * parse either gives a whole tree or nothing.
 */
#ifndef MAILPORT_UTIL_JSONPARSE_H
#define MAILPORT_UTIL_JSONPARSE_H

#include <stddef.h>

#define JSONP_DEPTH_MAX 64
#define JSONP_NODES_MAX (8u * 1024 * 1024)

enum jv_type { JV_NULL, JV_FALSE, JV_TRUE, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

/* One value.  An object's members are its kids, each with its key. */
struct jv {
	enum jv_type type;
	char *key;		/* member of an object: its key (decoded, NUL-ended) */
	size_t keylen;
	char *str;		/* JV_STRING: decoded, NUL-ended (may hold NULs: len) */
	size_t len;		/* JV_STRING: its length */
	double num;		/* JV_NUMBER */
	long long inum;		/* JV_NUMBER when is_int: the exact value */
	int is_int;		/* an integer without fraction or exponent, in range */
	struct jv *kids;	/* JV_ARRAY elements, JV_OBJECT members */
	size_t nkids;
};

/* jv_parse - parse s[0..n); 0 and *out (free with jv_free), or -1 with a
 * reason "offset N: ..." in err (errlen bytes) */
int jv_parse(const char *s, size_t n, struct jv **out, char *err, size_t errlen);

/* jv_free - free a tree from jv_parse (NULL is fine) */
void jv_free(struct jv *v);

/* jv_get - the member key of object v, or NULL (v not an object, or no
 * such member) */
const struct jv *jv_get(const struct jv *v, const char *key);

/* jv_str - the string member key of v, or NULL (missing, not a string) */
const char *jv_str(const struct jv *v, const char *key);

/* jv_int - the integer member key of v into *out; 0, or -1 (missing, not
 * an integer) */
int jv_int(const struct jv *v, const char *key, long long *out);

/* jv_bool - the boolean member key of v: 1 true, 0 false, -1 missing or
 * not a boolean */
int jv_bool(const struct jv *v, const char *key);

#endif

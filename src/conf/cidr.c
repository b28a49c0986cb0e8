/* cidr - parse and match lists of IPv4/IPv6 networks.
 *
 * Public: cidr_parse, cidr_list_parse, cidr_list_free, cidr_list_match.
 * Invariants: a struct cidr holds its network with the host bits zeroed
 * (10.1.2.3/8 is stored as 10.0.0.0/8), bits <= 32 for AF_INET and
 * <= 128 for AF_INET6; an IPv4 entry keeps its 4 bytes in addr[0..3].
 * Addresses are numeric only (inet_pton), never resolved.  An IPv4-mapped
 * IPv6 client (::ffff:a.b.c.d, RFC 4291 2.5.5.2) is matched against the
 * IPv4 entries as well as the IPv6 ones.
 */
#include "conf/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Longest item text accepted: an IPv6 address in its longest form plus "/128". */
#define CIDR_TEXT_MAX 64

/* parse_bits - decimal prefix length, digits only, at most max */
static int parse_bits(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* zero_host_bits - clear every bit after the first bits of addr */
static void zero_host_bits(unsigned char *addr, size_t len, unsigned bits)
{
	size_t i = bits / 8;

	if (i >= len)
		return;
	if (bits % 8)
		addr[i++] &= (unsigned char)(0xff << (8 - bits % 8));
	memset(addr + i, 0, len - i);
}

/* cidr_parse - parse one "addr[/bits]" (surrounding blanks not allowed) */
int cidr_parse(const char *s, struct cidr *out)
{
	char text[CIDR_TEXT_MAX];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct cidr c;
	unsigned max;

	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, s, alen);
	text[alen] = '\0';
	memset(&c, 0, sizeof(c));
	c.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, text, c.addr) != 1)
		return -1;
	max = c.family == AF_INET ? 32 : 128;
	c.bits = max;
	if (slash && parse_bits(slash + 1, max, &c.bits) < 0)
		return -1;
	zero_host_bits(c.addr, max / 8, c.bits);
	*out = c;
	return 0;
}

/* is_sep - list separators: comma and blanks */
static int is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

/* set_bad - remember the offending item in a (thread-local) static copy */
static void set_bad(const char *item, size_t len, const char **bad)
{
	static _Thread_local char copy[CIDR_TEXT_MAX + 4];

	if (!bad)
		return;
	if (len > CIDR_TEXT_MAX) {
		memcpy(copy, item, CIDR_TEXT_MAX);
		memcpy(copy + CIDR_TEXT_MAX, "...", 4);
	} else {
		memcpy(copy, item, len);
		copy[len] = '\0';
	}
	*bad = copy;
}

/* count_items - number of separator-delimited items in s */
static size_t count_items(const char *s)
{
	size_t n = 0;

	while (*s) {
		while (is_sep(*s))
			s++;
		if (!*s)
			break;
		n++;
		while (*s && !is_sep(*s))
			s++;
	}
	return n;
}

/* cidr_list_parse - parse a comma/blank separated list; on error returns -1
 * and points *bad at the offending item (a static copy, may be truncated).
 * An empty list is valid (out->n == 0).  On error *out is left empty. */
int cidr_list_parse(const char *s, struct cidr_list *out, const char **bad)
{
	char text[CIDR_TEXT_MAX + 1];
	size_t n = count_items(s), len;
	const char *item;

	out->v = NULL;
	out->n = 0;
	if (n == 0)
		return 0;
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v) {
		set_bad("(out of memory)", 15, bad);
		return -1;
	}
	while (*s) {
		while (is_sep(*s))
			s++;
		if (!*s)
			break;
		item = s;
		while (*s && !is_sep(*s))
			s++;
		len = (size_t)(s - item);
		if (len < sizeof(text)) {
			memcpy(text, item, len);
			text[len] = '\0';
		}
		if (len >= sizeof(text) || cidr_parse(text, &out->v[out->n]) < 0) {
			set_bad(item, len, bad);
			cidr_list_free(out);
			return -1;
		}
		out->n++;
	}
	return 0;
}

/* cidr_list_free - release the entries and make the list empty */
void cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* prefix_match - do the first bits of a and net agree? */
static int prefix_match(const unsigned char *a, const unsigned char *net,
			unsigned bits)
{
	size_t whole = bits / 8;
	unsigned char mask;

	if (memcmp(a, net, whole) != 0)
		return 0;
	if (bits % 8 == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - bits % 8));
	return (a[whole] & mask) == net[whole];
}

/* match_family - is the address (of family) in one of l's entries of it? */
static int match_family(const struct cidr_list *l, int family,
			const unsigned char *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].family == family &&
		    prefix_match(a, l->v[i].addr, l->v[i].bits))
			return 1;
	return 0;
}

/* cidr_list_match - true if the socket address lies in one of the networks */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (!l || !sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		return match_family(l, AF_INET,
				    (const unsigned char *)&sin->sin_addr);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (match_family(l, AF_INET6, sin6->sin6_addr.s6_addr))
		return 1;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return match_family(l, AF_INET, sin6->sin6_addr.s6_addr + 12);
	return 0;
}

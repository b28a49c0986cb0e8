/* cidr - lists of IPv4/IPv6 networks ("127.0.0.1/32, ::1/128, 10.0.0.0/8").
 *
 * A bare address means a host (/32 or /128).  An IPv4-mapped IPv6 client
 * address (::ffff:1.2.3.4) matches IPv4 networks.
 */
#ifndef MAILPORT_CONF_CIDR_H
#define MAILPORT_CONF_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network bytes, host bits zeroed */
	unsigned bits;
};

struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* cidr_parse - parse one "addr[/bits]" (surrounding blanks not allowed) */
int cidr_parse(const char *s, struct cidr *out);

/* cidr_list_parse - parse a comma/blank separated list; on error returns -1
 * and points *bad at the offending item (a static copy, may be truncated) */
int cidr_list_parse(const char *s, struct cidr_list *out, const char **bad);

void cidr_list_free(struct cidr_list *l);

/* cidr_list_match - true if the socket address lies in one of the networks */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

#endif

/* dnsmsg - the DNS wire format, as far as mailport needs it: a pure parser
 * of answers (RFC 1035 4.1, names with compression 4.1.4), host name checks
 * and the reverse (PTR) name of an address.  No I/O; fuzzable on its own.
 *
 * Everything from the wire is inert data: a name is returned only when it
 * is a plausible host name (labels of letters, digits, '-' and '_', 1..63
 * bytes, at most DNS_NAME_MAX bytes in all), lower-cased and without the
 * final dot; a record whose name is not is dropped and counted.  TXT data is
 * returned as bytes with a length (it may hold anything, NUL included).
 */
#ifndef MAILPORT_DNS_DNSMSG_H
#define MAILPORT_DNS_DNSMSG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DNS_NAME_MAX 253		/* presentation form, no final dot */
#define DNS_NAME_SIZE (DNS_NAME_MAX + 1)
#define DNS_TTL_MAX 0x7fffffffu		/* RFC 2181 8: larger means 0 */

/* The record types mailport asks for (RFC 1035 3.2.2, RFC 3596). */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
};

/* One answer record of the type asked for.  Strings belong to the record
 * set that holds it (dnsmsg_free / the dns module). */
struct dns_rr {
	uint16_t type;			/* enum dns_type */
	uint16_t pref;			/* MX: preference */
	uint32_t ttl;			/* seconds, as received (capped) */
	union {
		struct in_addr a;	/* A */
		struct in6_addr aaaa;	/* AAAA */
	} addr;
	char *name;			/* MX exchange, PTR target; "" is the
					 * root (RFC 7505 null MX); else NULL */
	unsigned char *txt;		/* TXT: its character-strings joined,
					 * NUL-terminated for convenience */
	size_t txt_len;			/* TXT: bytes in txt, NUL excluded */
};

/* What one DNS message says about (qname, qtype). */
struct dnsmsg {
	int rcode;			/* RFC 1035 4.1.1: 0 ok, 2 SERVFAIL,
					 * 3 NXDOMAIN, 5 REFUSED ... */
	size_t n;			/* records in rr */
	struct dns_rr *rr;		/* records of qtype owned by qname or
					 * by a CNAME it leads to, in order */
	size_t dropped;			/* records of qtype not returned: a
					 * bad name, bad RDATA, over max_rr */
	uint32_t ttl;			/* smallest TTL of rr (and of the
					 * CNAMEs used); 0 when n == 0 */
	int has_soa;			/* authority section holds a SOA */
	uint32_t neg_ttl;		/* RFC 2308 5: min(SOA TTL, SOA
					 * MINIMUM) when has_soa */
};

/* dnsmsg_parse - parse the answer m[0..len) to the question (qname, qtype);
 * qname is a dns_name_ok name.  At most max_rr records are kept.  Returns
 * 0, or -1 if the message is malformed (truncated, a name that loops or
 * points out of the message, not a response) or on ENOMEM (errno says
 * which: EBADMSG or ENOMEM).  On 0 the caller must dnsmsg_free(out). */
int dnsmsg_parse(const unsigned char *m, size_t len, const char *qname,
		 uint16_t qtype, size_t max_rr, struct dnsmsg *out);

/* dnsmsg_free - free what dnsmsg_parse allocated in msg */
void dnsmsg_free(struct dnsmsg *msg);

/* dns_rr_free - free the strings of n records and the array itself */
void dns_rr_free(struct dns_rr *rr, size_t n);

/* dns_name_ok - s is a host name as this module accepts one (see the
 * header comment), optionally with one final dot */
int dns_name_ok(const char *s);

/* dns_name_norm - copy the dns_name_ok name s into out (DNS_NAME_SIZE
 * bytes) lower-cased and without a final dot; 0, or -1 if s is not ok */
int dns_name_norm(char *out, const char *s);

/* dns_ptr_name - the reverse name of an AF_INET or AF_INET6 address
 * ("4.3.2.1.in-addr.arpa", RFC 3596 2.5 nibbles for IPv6) into out
 * (DNS_NAME_SIZE bytes); 0, or -1 for another family */
int dns_ptr_name(char *out, const struct sockaddr *sa);

/* dns_type_name - "MX", "A" ... for logs ("?" for a type not in
 * enum dns_type) */
const char *dns_type_name(uint16_t type);

#endif

/* dnsmsg - parse DNS answers (RFC 1035 4.1) into records mailport can use.
 *
 * Public: dnsmsg_parse, dnsmsg_free, dns_rr_free, dns_name_ok,
 * dns_name_norm, dns_ptr_name, dns_type_name.
 *
 * Invariants: every read is bounds-checked against the message length; a
 * compression pointer (RFC 1035 4.1.4) must point before the previous one
 * (so no name can loop) and a name is at most 255 bytes on the wire.  Only
 * class IN records of the asked type, owned by the question's name or by
 * the end of a CNAME chain from it (at most DNSMSG_CHAIN_MAX links), are
 * returned: anything else in the message is ignored, never trusted.  Names
 * that are not host-name shaped are never returned (see dnsmsg.h).
 */
#include "dns/dnsmsg.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define DNSMSG_HDR 12
#define DNSMSG_WIRE_NAME_MAX 255	/* RFC 1035 2.3.4 */
#define DNSMSG_LABEL_MAX 63
#define DNSMSG_RAW_MAX 256		/* answer records looked at */
#define DNSMSG_CHAIN_MAX 8		/* CNAME links followed */
#define DNS_CLASS_IN 1

/* One answer-section record, located but not yet decoded. */
struct raw {
	char owner[DNS_NAME_SIZE];
	int owner_ok;
	uint16_t type;
	uint32_t ttl;
	size_t rdoff, rdlen;
};

/* get16 - big-endian 16-bit value at p */
static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* get32 - big-endian 32-bit value at p */
static uint32_t get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* host_char - a byte allowed in a host-name label (letters, digits, '-',
 * and '_' which SRV-style and some real MX names use) */
static int host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* lower - ASCII lower case */
static char lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* name_read - decode the name at m[off]: *end gets the offset just after
 * it in place (after its labels or its first pointer); out (DNS_NAME_SIZE
 * bytes) its text and *ok 1 when it is host-name shaped, else *ok 0 and out
 * "".  The root is "" with *ok 1.  -1 if malformed. */
static int name_read(const unsigned char *m, size_t len, size_t off,
		     char *out, size_t *end, int *ok)
{
	size_t pos = off, limit = SIZE_MAX, wire = 1, o = 0, i;
	int jumped = 0;

	*ok = 1;
	for (;;) {
		unsigned c;

		if (pos >= len)
			return -1;
		c = m[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -1;
			to = ((size_t)(c & 0x3f) << 8) | m[pos + 1];
			if (to >= pos || to >= limit)
				return -1;
			if (!jumped)
				*end = pos + 2;
			jumped = 1;
			limit = to;
			pos = to;
			continue;
		}
		if (c & 0xc0)		/* RFC 6891 extended label types */
			return -1;
		if (c == 0)
			break;
		if (pos + 1 + c > len)
			return -1;
		wire += c + 1;
		if (wire > DNSMSG_WIRE_NAME_MAX)
			return -1;
		if (*ok && o + (o > 0) + c > DNS_NAME_MAX)
			*ok = 0;
		for (i = 0; *ok && i < c; i++)
			if (!host_char(m[pos + 1 + i]))
				*ok = 0;
		if (*ok) {
			if (o > 0)
				out[o++] = '.';
			for (i = 0; i < c; i++)
				out[o++] = lower(m[pos + 1 + i]);
		}
		pos += 1 + c;
	}
	if (!jumped)
		*end = pos + 1;
	if (!*ok)
		o = 0;
	out[o] = '\0';
	return 0;
}

/* rdata_name - decode a name that must fill the RDATA from off to rdend
 * exactly; 0 and out when host-name shaped, 1 when not (or it does not fit
 * the RDATA: the record is to be dropped), -1 if the message is malformed */
static int rdata_name(const unsigned char *m, size_t len, size_t off,
		      size_t rdend, char *out)
{
	size_t end = 0;
	int ok;

	if (off >= rdend || name_read(m, len, off, out, &end, &ok) < 0)
		return -1;
	if (end != rdend)
		return 1;
	return ok ? 0 : 1;
}

/* skip_questions - move *pos past qd questions; -1 if malformed */
static int skip_questions(const unsigned char *m, size_t len, size_t *pos,
			  unsigned qd)
{
	char name[DNS_NAME_SIZE];
	size_t end;
	int ok;

	while (qd-- > 0) {
		if (name_read(m, len, *pos, name, &end, &ok) < 0 ||
		    end + 4 > len)
			return -1;
		*pos = end + 4;
	}
	return 0;
}

/* rr_header - read the record header at *pos into r (owner, type, TTL,
 * RDATA place) and move *pos past its RDATA; *cls gets its class; -1 if
 * malformed */
static int rr_header(const unsigned char *m, size_t len, size_t *pos,
		     struct raw *r, uint16_t *cls)
{
	size_t end;

	if (name_read(m, len, *pos, r->owner, &end, &r->owner_ok) < 0 ||
	    end + 10 > len)
		return -1;
	r->type = get16(m + end);
	*cls = get16(m + end + 2);
	r->ttl = get32(m + end + 4);
	if (r->ttl > DNS_TTL_MAX)
		r->ttl = 0;
	r->rdlen = get16(m + end + 8);
	r->rdoff = end + 10;
	if (r->rdoff + r->rdlen > len)
		return -1;
	*pos = r->rdoff + r->rdlen;
	return 0;
}

/* in_chain - name is one of the n names of the CNAME chain */
static int in_chain(char chain[][DNS_NAME_SIZE], size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(chain[i], name) == 0)
			return 1;
	return 0;
}

/* follow_cnames - extend chain (chain[0] is the question's name) with the
 * CNAME targets of raws; *ttl lowered to the TTLs of the links used;
 * the chain's length, or -1 if the message is malformed */
static int follow_cnames(const unsigned char *m, size_t len,
			 const struct raw *raws, size_t nraw,
			 char chain[][DNS_NAME_SIZE], uint32_t *ttl)
{
	size_t n = 1, i;
	int again = 1;

	while (again && n < DNSMSG_CHAIN_MAX + 1) {
		again = 0;
		for (i = 0; i < nraw && n < DNSMSG_CHAIN_MAX + 1; i++) {
			const struct raw *r = &raws[i];
			int rc;

			if (r->type != DNS_T_CNAME || !r->owner_ok ||
			    strcmp(r->owner, chain[n - 1]) != 0)
				continue;
			rc = rdata_name(m, len, r->rdoff, r->rdoff + r->rdlen,
					chain[n]);
			if (rc < 0)
				return -1;
			if (rc > 0 || chain[n][0] == '\0' ||
			    in_chain(chain, n, chain[n]))
				continue;
			if (r->ttl < *ttl)
				*ttl = r->ttl;
			n++;
			again = 1;
		}
	}
	return (int)n;
}

/* txt_join - join the character-strings of a TXT RDATA into rr; 1 if the
 * RDATA is malformed (drop the record), -1 on ENOMEM */
static int txt_join(const unsigned char *p, size_t rdlen, struct dns_rr *rr)
{
	size_t i = 0, o = 0;

	rr->txt = malloc(rdlen + 1);
	if (!rr->txt)
		return -1;
	while (i < rdlen) {
		size_t l = p[i];

		if (i + 1 + l > rdlen) {
			free(rr->txt);
			rr->txt = NULL;
			return 1;
		}
		memcpy(rr->txt + o, p + i + 1, l);
		o += l;
		i += 1 + l;
	}
	rr->txt[o] = '\0';
	rr->txt_len = o;
	return 0;
}

/* rr_decode - decode the RDATA of r into rr (type already checked); 0,
 * 1 to drop the record, -1 on a malformed message (errno EBADMSG) or
 * ENOMEM */
static int rr_decode(const unsigned char *m, size_t len, const struct raw *r,
		     struct dns_rr *rr)
{
	const unsigned char *p = m + r->rdoff;
	char name[DNS_NAME_SIZE];
	size_t rdend = r->rdoff + r->rdlen;
	int rc;

	memset(rr, 0, sizeof(*rr));
	rr->type = r->type;
	rr->ttl = r->ttl;
	switch (r->type) {
	case DNS_T_A:
		if (r->rdlen != 4)
			return 1;
		memcpy(&rr->addr.a, p, 4);
		return 0;
	case DNS_T_AAAA:
		if (r->rdlen != 16)
			return 1;
		memcpy(&rr->addr.aaaa, p, 16);
		return 0;
	case DNS_T_MX:
		if (r->rdlen < 3)
			return 1;
		rr->pref = get16(p);
		rc = rdata_name(m, len, r->rdoff + 2, rdend, name);
		break;
	case DNS_T_PTR:
		rc = rdata_name(m, len, r->rdoff, rdend, name);
		if (rc == 0 && name[0] == '\0')
			rc = 1;
		break;
	case DNS_T_TXT:
		rc = txt_join(p, r->rdlen, rr);
		if (rc < 0)
			errno = ENOMEM;
		return rc;
	default:
		return 1;
	}
	if (rc < 0) {
		errno = EBADMSG;
		return -1;
	}
	if (rc > 0)
		return 1;
	rr->name = strdup(name);
	if (!rr->name) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* collect - decode the records of qtype owned by the chain into out */
static int collect(const unsigned char *m, size_t len, const struct raw *raws,
		   size_t nraw, char chain[][DNS_NAME_SIZE], size_t nchain,
		   uint16_t qtype, size_t max_rr, struct dnsmsg *out)
{
	size_t i, want = 0;

	for (i = 0; i < nraw; i++)
		if (raws[i].type == qtype)
			want++;
	if (want > max_rr)
		want = max_rr;
	if (want == 0)
		return 0;
	out->rr = calloc(want, sizeof(*out->rr));
	if (!out->rr) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nraw; i++) {
		const struct raw *r = &raws[i];
		int rc;

		if (r->type != qtype)
			continue;
		if (!r->owner_ok || !in_chain(chain, nchain, r->owner) ||
		    out->n >= want) {
			out->dropped++;
			continue;
		}
		rc = rr_decode(m, len, r, &out->rr[out->n]);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			out->dropped++;
			continue;
		}
		if (out->n == 0 || r->ttl < out->ttl)
			out->ttl = r->ttl;
		out->n++;
	}
	return 0;
}

/* find_soa - look for a SOA among the ns authority records at *pos and
 * set out->has_soa and neg_ttl (RFC 2308 5); a malformed authority
 * section is ignored */
static void find_soa(const unsigned char *m, size_t len, size_t pos,
		     unsigned ns, struct dnsmsg *out)
{
	char name[DNS_NAME_SIZE];
	struct raw r;
	uint16_t cls;
	size_t end;
	int ok;

	while (ns-- > 0) {
		if (rr_header(m, len, &pos, &r, &cls) < 0)
			return;
		if (r.type != DNS_T_SOA || cls != DNS_CLASS_IN)
			continue;
		/* MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM */
		if (name_read(m, len, r.rdoff, name, &end, &ok) < 0 ||
		    name_read(m, len, end, name, &end, &ok) < 0 ||
		    end + 20 != r.rdoff + r.rdlen)
			return;
		out->has_soa = 1;
		out->neg_ttl = get32(m + end + 16);
		if (out->neg_ttl > DNS_TTL_MAX)
			out->neg_ttl = 0;
		if (r.ttl < out->neg_ttl)
			out->neg_ttl = r.ttl;
		return;
	}
}

/* read_answers - locate up to DNSMSG_RAW_MAX class IN answer records from
 * *pos into raws (*nraw), counting later ones of qtype in out->dropped;
 * -1 if malformed */
static int read_answers(const unsigned char *m, size_t len, size_t *pos,
			unsigned an, uint16_t qtype, struct raw *raws,
			size_t *nraw, struct dnsmsg *out)
{
	struct raw r;
	uint16_t cls;

	*nraw = 0;
	while (an-- > 0) {
		if (rr_header(m, len, pos, &r, &cls) < 0)
			return -1;
		if (cls != DNS_CLASS_IN)
			continue;
		if (*nraw < DNSMSG_RAW_MAX)
			raws[(*nraw)++] = r;
		else if (r.type == qtype)
			out->dropped++;
	}
	return 0;
}

/* dnsmsg_parse - see dnsmsg.h */
int dnsmsg_parse(const unsigned char *m, size_t len, const char *qname,
		 uint16_t qtype, size_t max_rr, struct dnsmsg *out)
{
	char chain[DNSMSG_CHAIN_MAX + 1][DNS_NAME_SIZE];
	struct raw *raws = NULL;
	size_t pos = DNSMSG_HDR, nraw = 0;
	unsigned an, ns;
	uint32_t chain_ttl = DNS_TTL_MAX;
	int nchain;

	memset(out, 0, sizeof(*out));
	if (len < DNSMSG_HDR || !(m[2] & 0x80) ||
	    dns_name_norm(chain[0], qname) < 0)
		goto bad;
	out->rcode = m[3] & 0x0f;
	an = get16(m + 6);
	ns = get16(m + 8);
	if (skip_questions(m, len, &pos, get16(m + 4)) < 0)
		goto bad;
	raws = calloc(an < DNSMSG_RAW_MAX ? an + 1 : DNSMSG_RAW_MAX,
		      sizeof(*raws));
	if (!raws) {
		errno = ENOMEM;
		return -1;
	}
	if (read_answers(m, len, &pos, an, qtype, raws, &nraw, out) < 0)
		goto bad;
	nchain = follow_cnames(m, len, raws, nraw, chain, &chain_ttl);
	if (nchain < 0)
		goto bad;
	if (collect(m, len, raws, nraw, chain, (size_t)nchain, qtype, max_rr,
		    out) < 0)
		goto fail;
	if (out->n > 0 && chain_ttl < out->ttl)
		out->ttl = chain_ttl;
	find_soa(m, len, pos, ns, out);
	free(raws);
	return 0;
bad:
	errno = EBADMSG;
fail:
	free(raws);
	dnsmsg_free(out);
	return -1;
}

/* dns_rr_free - see dnsmsg.h */
void dns_rr_free(struct dns_rr *rr, size_t n)
{
	size_t i;

	if (!rr)
		return;
	for (i = 0; i < n; i++) {
		free(rr[i].name);
		free(rr[i].txt);
	}
	free(rr);
}

/* dnsmsg_free - see dnsmsg.h */
void dnsmsg_free(struct dnsmsg *msg)
{
	int saved = errno;

	dns_rr_free(msg->rr, msg->n);
	msg->rr = NULL;
	msg->n = 0;
	errno = saved;
}

/* dns_name_ok - see dnsmsg.h */
int dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (!host_char((unsigned char)s[i]) ||
			   ++label > DNSMSG_LABEL_MAX) {
			return 0;
		}
	}
	return label > 0;
}

/* dns_name_norm - see dnsmsg.h */
int dns_name_norm(char *out, const char *s)
{
	size_t i;

	if (!dns_name_ok(s))
		return -1;
	for (i = 0; s[i] && !(s[i] == '.' && s[i + 1] == '\0'); i++)
		out[i] = lower((unsigned char)s[i]);
	out[i] = '\0';
	return 0;
}

/* dns_ptr_name - see dnsmsg.h */
int dns_ptr_name(char *out, const struct sockaddr *sa)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b;
	size_t o = 0;
	int i;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		b = (const unsigned char *)&sin->sin_addr;
		snprintf(out, DNS_NAME_SIZE, "%u.%u.%u.%u.in-addr.arpa",
			 b[3], b[2], b[1], b[0]);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	b = (const unsigned char *)
		&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	for (i = 15; i >= 0; i--) {
		out[o++] = hex[b[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

/* dns_type_name - see dnsmsg.h */
const char *dns_type_name(uint16_t type)
{
	switch (type) {
	case DNS_T_A: return "A";
	case DNS_T_CNAME: return "CNAME";
	case DNS_T_SOA: return "SOA";
	case DNS_T_PTR: return "PTR";
	case DNS_T_MX: return "MX";
	case DNS_T_TXT: return "TXT";
	case DNS_T_AAAA: return "AAAA";
	default: return "?";
	}
}

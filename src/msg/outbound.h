/* outbound - a stored message on its way out: the bytes the queue holds
 * (what the client sent after dot-unstuffing: CRLF lines, but possibly
 * bare LF or bare CR from lenient clients, NUL, 8-bit bytes, no final
 * line end) turned into what an SMTP client sends (RFC 5321 4.1.1.4,
 * 4.5.2; RFC 3030 for BDAT); plus the 8BITMIME check and the
 * quoted-printable downconversion for a peer without 8BITMIME (RFC 6152).
 * Also the encoder of the sendmail command (its stdin to DATA form).
 *
 * Pure and streaming: feed chunks of any size, memory stays bounded (the
 * encoder holds a few state bits; the QP mode and the scan hold the header
 * section, at most MSG_HDR_MAX bytes).
 *
 * Line ends (CHECKLIST H "Outbound sanitising", RFC 5321 2.3.8): CRLF, a
 * bare LF and a bare CR each end a line, and every line end is sent as
 * CRLF: "a\nb" and "a\rb" go out as "a\r\nb".  So no bare CR or LF ever
 * leaves, and no "<LF>.<CR><LF>" or other smuggling payload stored from a
 * lenient client can end the DATA early at the next hop.  The last line is
 * closed with CRLF when the input does not end with one (DATA and BDAT
 * alike, so both send the same message).
 */
#ifndef MAILPORT_MSG_OUTBOUND_H
#define MAILPORT_MSG_OUTBOUND_H

#include <stddef.h>
#include "util/buf.h"

/* header section held by the scan and the QP mode; a longer one cannot be
 * downconverted (msg_scan says MSG_8BIT_CANNOT) */
#define MSG_HDR_MAX (256 * 1024)

enum msg_out_mode {
	MSG_OUT_DATA,		/* dot-stuffed (RFC 5321 4.5.2), then ".\r\n" */
	MSG_OUT_BDAT,		/* BDAT content (RFC 3030): no stuffing, no
				 * final "."; also the canonical form (CRLF
				 * lines only) other modules build on */
};

enum msg_out_flag {
	/* sendmail without -i: an input line holding only "." (ended by
	 * LF, CRLF or the end of the input) ends the input; DATA mode
	 * without MSG_OUT_QP only (ignored otherwise) */
	MSG_OUT_DOT_ENDS = 1,
	/* convert the body to quoted-printable (use it when msg_scan said
	 * MSG_8BIT_QP): the header section loses its Content-Transfer-Encoding
	 * fields and gets "Content-Transfer-Encoding: quoted-printable",
	 * plus "MIME-Version: 1.0" and "Content-Type: text/plain;
	 * charset=unknown-8bit" (RFC 1428) when it had none; the body is
	 * encoded line by line (RFC 2045 6.7, lines of at most 76 octets) */
	MSG_OUT_QP = 2,
};

/* Private: one line-end normaliser (+ dot-stuffer) stage. */
struct msg_norm {
	int stuff;		/* DATA: dot-stuff */
	int dot_ends;		/* MSG_OUT_DOT_ENDS */
	int bol;		/* at the start of an output line */
	int in_bol;		/* at the start of an input (LF-ended) line */
	int dot;		/* dot_ends: a '.' at an input line start held */
	int cr;			/* a CR held (an LF may follow) */
	int done;		/* the "." line was seen, or finished */
	int eight_bit;		/* a byte >= 0x80 was seen */
};

/* Private: a header section of canonical text being collected. */
struct msg_hdr {
	buf_t buf;
	size_t scan;		/* start of the next line to classify */
	size_t looked;		/* buf[scan..looked) holds no LF */
	int ended;		/* the header section has ended */
	int blank;		/* ... at an empty line (else at a body line or
				 * at the end of the input) */
	size_t hend;		/* the fields: buf[0..hend) */
	size_t body_at;		/* the first body byte in buf */
	int too_big;		/* MSG_HDR_MAX passed before the end */
};

/* Private: the quoted-printable stage. */
struct msg_qp {
	struct msg_hdr h;
	int in_body;
	int col;		/* octets on the current encoded line */
	char ws;		/* a SP or HT held: encoded if the line ends */
};

struct msg_out {
	/* private */
	struct msg_norm a;	/* input -> wire, or -> canonical (QP) */
	struct msg_norm c;	/* QP: canonical -> wire */
	struct msg_qp q;
	buf_t mid, mid2;
	int qp;
	/* results, read by the caller */
	int eight_bit;		/* the input held a byte >= 0x80 */
	int done;		/* MSG_OUT_DOT_ENDS: the "." line was seen
				 * (the rest of the input is not used); always
				 * set by msg_out_finish */
	int hdr_too_big;	/* MSG_OUT_QP: the header section is larger
				 * than MSG_HDR_MAX (feed returned -1) */
};

/* msg_out_init - an encoder at the start of a message; flags: msg_out_flag
 * bits.  Call msg_out_free when done (with or without errors). */
void msg_out_init(struct msg_out *o, enum msg_out_mode mode, unsigned flags);

/* msg_out_feed - encode in[0..len) and append to out; *used (if not NULL)
 * gets the number of bytes used, less than len only once o->done (the
 * rest follows the "." line).  out grows by at most 2 * len + 8 bytes (QP:
 * 4 * len + MSG_HDR_MAX + 256), so feeding bounded chunks and draining out
 * keeps memory bounded.  Returns 0, or -1 when out cannot grow or (QP) the
 * header section is too large; the encoder is then unusable. */
int msg_out_feed(struct msg_out *o, const char *in, size_t len, buf_t *out,
		 size_t *used);

/* msg_out_finish - the end of the input: close the last line with CRLF
 * and (DATA) append the final ".\r\n"; 0 or -1 */
int msg_out_finish(struct msg_out *o, buf_t *out);

/* msg_out_free - release what the encoder holds */
void msg_out_free(struct msg_out *o);

/* The top-level Content-Type, as far as a downconversion cares.  In this
 * order: with several Content-Type fields the highest one counts. */
enum msg_ctype {
	MSG_CT_NONE = 0,	/* no field, or no type in it: text/plain */
	MSG_CT_TEXT,		/* text/... */
	MSG_CT_OTHER,		/* another discrete type: application/..., ... */
	MSG_CT_MULTIPART,	/* multipart/... (composite, RFC 2046 5) */
	MSG_CT_MESSAGE,		/* message/... (composite) */
};

/* The top-level Content-Transfer-Encoding; the highest one counts. */
enum msg_cte {
	MSG_CTE_NONE = 0,	/* no field: 7bit */
	MSG_CTE_7BIT,
	MSG_CTE_8BIT,
	MSG_CTE_BINARY,
	MSG_CTE_QP,		/* quoted-printable */
	MSG_CTE_BASE64,
	MSG_CTE_OTHER,		/* unknown token, or empty */
};

/* What a peer without 8BITMIME needs (RFC 6152). */
enum msg_8bit {
	MSG_8BIT_NONE = 0,	/* no 8-bit byte in the body: send as it is */
	MSG_8BIT_QP,		/* 8-bit body, one discrete part, 7bit/8bit/
				 * binary (or no) encoding: MSG_OUT_QP */
	MSG_8BIT_CANNOT,	/* 8-bit body in a multipart/... or message/...
				 * part, under a base64 or quoted-printable
				 * label, or with a header section larger than
				 * MSG_HDR_MAX: bounce 5.6.3 */
};

/* A first pass over a stored message, before the transaction: is it 8-bit,
 * and can its body be downconverted? */
struct msg_scan {
	/* private */
	struct msg_norm n;
	struct msg_hdr h;
	buf_t tmp;
	/* results, complete after msg_scan_finish */
	int hdr_8bit;		/* a byte >= 0x80 in the header section
				 * (passed as it is, like Postfix does:
				 * no conversion can fix it) */
	int body_8bit;		/* a byte >= 0x80 in the body */
	int hdr_too_big;	/* header section larger than MSG_HDR_MAX
				 * (bytes after that count as body) */
	int mime_version;	/* a MIME-Version field is there */
	enum msg_ctype ctype;
	enum msg_cte cte;
};

/* msg_scan_init - start a scan; msg_scan_free when done */
void msg_scan_init(struct msg_scan *s);

/* msg_scan_feed - look at in[0..len); 0, or -1 when memory runs out */
int msg_scan_feed(struct msg_scan *s, const char *in, size_t len);

/* msg_scan_finish - the end of the message; 0 or -1 */
int msg_scan_finish(struct msg_scan *s);

/* msg_scan_free - release what the scan holds */
void msg_scan_free(struct msg_scan *s);

/* msg_scan_verdict - what to do for a peer without 8BITMIME (a finished
 * scan).  A message with 8-bit bytes only in its header section is
 * MSG_8BIT_NONE (see hdr_8bit). */
enum msg_8bit msg_scan_verdict(const struct msg_scan *s);

#endif

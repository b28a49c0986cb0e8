/* session_int - the private parts of the SMTP session shared by
 * session.c (the state machine, DATA/BDAT, connection handling) and
 * session_auth.c (STARTTLS and AUTH).  Not for use outside src/server.
 */
#ifndef MAILPORT_SERVER_SESSION_INT_H
#define MAILPORT_SERVER_SESSION_INT_H

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conf/config.h"
#include "queue/envelope.h"
#include "smtp/addr.h"
#include "smtp/cmd.h"
#include "smtp/data.h"
#include "smtp/params.h"
#include "smtp/reply.h"
#include "util/buf.h"

#define CMD_LINE_MAX 512	/* RFC 5321 4.5.3.1.4, CRLF included */
#define PATH_LINE_MAX 2048	/* MAIL/RCPT with ESMTP parameters */
#define FLOOD_MAX (1u << 20)	/* no LF within this: 421 and close */
#define JUNK_MAX 100		/* NOOP/RSET/VRFY/... per message */
#define HOPS_MAX 100		/* RFC 5321 6.3 */
#define DATA_BLOCK 1024		/* DATA/BDAT deadline is per block */
#define IN_HIGH (256u << 10)
#define OUT_HIGH (256u << 10)
#define CLOSE_LINGER 10		/* seconds to flush the last reply */
#define DRAIN_LINGER 2		/* seconds to swallow input after it */

enum sess_state {
	ST_GREET,	/* greet_pause: waiting before the banner */
	ST_CMD,		/* reading commands */
	ST_AUTH,	/* reading an AUTH response line (RFC 4954 4) */
	ST_VERIFY,	/* password check in flight, or the failure delay */
	ST_DATA,	/* reading DATA content */
	ST_BDAT,	/* reading a BDAT chunk */
	ST_COMMIT,	/* waiting for the queue */
	ST_DELAY,	/* a rejected recipient's reply waits (harvest brake) */
	ST_CLOSING,	/* last reply on its way out */
};


enum auth_step { AS_NONE, AS_PLAIN, AS_LOGIN_USER, AS_LOGIN_PASS };


/* The mail transaction (RFC 5321 3.3): reset by RSET, HELO/EHLO, or the
 * end of a message. */
struct transaction {
	int active;			/* MAIL accepted */
	struct envelope env;
	struct mail_params mp;
	unsigned rcpt_cmds;		/* accepted RCPT commands */
	int bdat;			/* BDAT used */
	struct qmsg *msg;		/* open spool message (owns the envelope then) */
	char qid[QID_MAX + 1];		/* kept: the envelope moves into the queue */
	char *sender;			/* kept for the log line */
	struct data_dec dec;
	unsigned long long size;	/* message bytes received */
	int too_big;
	unsigned long long chunk_left;	/* BDAT bytes still to read */
	unsigned long long chunk_size;	/* size of the current chunk */
	int chunk_last;
	enum reply_id chunk_error;	/* chunk is read and dropped, then this */
};

struct session {
	struct server *srv;
	struct config *cfg;
	struct bufferevent *bev;
	struct event *timer;
	char id[20];
	char ip[64];
	struct sockaddr_storage peer;
	enum listen_role role;
	long peer_uid;			/* ROLE_LOCAL: the client's uid, else -1 */
	enum sess_state state;
	int tls;			/* TLS is on */
	int tls_ready;			/* ... and its handshake is done */
	char tls_info[96];		/* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	char *auth_user;		/* authenticated identity (lowercased) */
	unsigned auth_failures;
	enum auth_step auth_step;
	char *login_user;		/* AUTH LOGIN: the name, waiting for the password */
	enum reply_id auth_result;	/* ST_VERIFY: reply to send when the delay ends */
	enum reply_id discard_reply;	/* reply after an over-long line is skipped */
	char *helo;			/* NULL until HELO/EHLO */
	int esmtp;
	unsigned errors;		/* protocol errors since the last message */
	unsigned rcpt_rejects;		/* rejected recipients since then */
	unsigned errors_total;		/* for the disconnect log line */
	enum reply_id delayed_reply;	/* ST_DELAY: the reply to send */
	unsigned junk;
	int trace;
	int discarding;			/* skipping the rest of a long line */
	size_t discarded;
	int cmd_armed;			/* command deadline running */
	unsigned long long block_bytes;	/* DATA bytes since the deadline moved */
	int out_blocked;		/* output over OUT_HIGH */
	int paused;			/* waiting for the queue backlog */
	int eof;			/* client closed its side */
	int shutdown;			/* server stopping */
	int killed;			/* grace over: close after the commit */
	unsigned pending;		/* async callbacks outstanding (commit, verify) */
	int dead;			/* destroyed while callbacks were pending */
	int lingering;			/* output done, swallowing input before close */
	unsigned long long messages;
	buf_t dbuf;			/* decoded DATA bytes on their way to the queue */
	struct transaction tx;
};

union cmd_args {
	struct {
		struct smtp_path path;
		struct mail_params mp;
	} mail;
	struct {
		struct smtp_path path;
		struct rcpt_params rp;
	} rcpt;
	struct {
		unsigned long long size;
		int last;
	} bdat;
};

/* session.c */
void set_state(struct session *s, enum sess_state st);
void trace_line(struct session *s, const char *dir, const char *p, size_t n);
void reply(struct session *s, enum reply_id id, const char *a1, const char *a2);
void reply_host(struct session *s, enum reply_id id);
void arm_timer(struct session *s, unsigned seconds);
void arm_timer_ms(struct session *s, unsigned ms);
void tx_reset(struct session *s);
void begin_close(struct session *s);
void process(struct session *s);
void session_destroy(struct session *s);
void take_bufferevent(struct session *s, struct bufferevent *bev);

/* session_auth.c */
int starttls_offered(const struct session *s);
int auth_offered(const struct session *s);
enum reply_id check_starttls(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
void proceed_starttls(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
enum reply_id check_auth(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
void proceed_auth(struct session *s, const struct smtp_cmd *c, union cmd_args *a);
int step_auth(struct session *s, struct evbuffer *in);
void auth_fail_done(struct session *s);
void tls_established(struct session *s, struct bufferevent *bev);
void log_tls_error(struct session *s, struct bufferevent *bev);

#endif

/* smtp - the remote delivery agent (deliver/agent.h): MX routing through
 * dns/route, connections driven by the event loop (libevent bufferevents,
 * OpenSSL for STARTTLS), the I/O-free client engine smtp/client for the
 * protocol, and msg/outbound for the bytes on the wire.
 */
#ifndef MAILPORT_DELIVER_SMTP_H
#define MAILPORT_DELIVER_SMTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "smtp/client.h"
#include "util/buf.h"

struct agent;
struct dns;
struct event_base;
struct workpool;

struct smtp_agent_conf {
	const char *helo_name;		/* our hostname: EHLO, loop check */
	const char *smarthost;		/* "host[:port]" or NULL: MX routing */
	const char *auth_user;		/* AUTH PLAIN to the smarthost (over TLS) */
	const char *auth_pass;
	unsigned short port;		/* MX delivery port, 0: 25 */
	enum smtpc_tls tls;		/* [tls] outbound */
	const char *ca_file;		/* verify: CA bundle, NULL: system CAs */
	unsigned max_connections;	/* in total, 0: 100 */
	unsigned per_destination;	/* per next hop, 0: 10 */
	unsigned connect_timeout;	/* seconds, 0: 30 */
	unsigned timeouts[SMTPC_TO__COUNT];	/* 0: RFC 5321 4.5.3.2 */
	/* this server's own addresses (listeners): an MX among them, or
	 * named helo_name, is a loop (5.4.6) */
	const struct sockaddr_storage *self;
	size_t nself;
};

/* smtp_agent_new - the agent; NULL with a reason in err */
struct agent *smtp_agent_new(struct event_base *base, struct workpool *pool, struct dns *dns,
			     const struct smtp_agent_conf *conf, buf_t *err);

/* smtp_agent_stop - close every connection; jobs still queued or running
 * are answered (deferred) from the loop */
void smtp_agent_stop(struct agent *a);

/* smtp_agent_free - free the agent (after stop, with no job left) */
void smtp_agent_free(struct agent *a);

#endif

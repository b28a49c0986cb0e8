/* ctl - the control socket: `mailport queue` requests, answered from the
 * event loop.
 *
 * Public: ctl_new, ctl_free.
 * A connection's life: accept -> peer check (SO_PEERCRED: root or our own
 * uid, else a "denied" reply without reading a byte) -> one request line
 * (at most CTL_REQ_MAX bytes, within READ_TIMEOUT) -> the request runs
 * (on the loop, or on the worker pool for spool reads) -> one JSON reply
 * -> close once it is written.  Reading stops after the first line: bytes
 * after it are never looked at.
 * Invariants: a connection with a job on the pool is freed only by the
 * job's completion (its socket may be closed before); ctl_free returns
 * only when no job is left, so no job outlives the queue it reads.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "ctl/request.h"
#include "queue/queue.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/jsonparse.h"
#include "util/log.h"
#include "util/work.h"

#define CONN_MAX 16		/* control connections at once; more: "busy" */
#define BACKLOG 16
#define READ_TIMEOUT 10		/* seconds for the request line */
#define WRITE_TIMEOUT 60	/* seconds for the reply to drain */
#define SHOW_MAX (1024 * 1024)	/* message bytes in a show reply */

struct conn;

struct ctl {
	struct event_base *base;
	struct workpool *pool;
	struct queue *q;
	struct evconnlistener *l;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uid_t self;			/* the daemon's uid: allowed with root */
	struct conn *conns;		/* every live connection */
	unsigned nconns;
	unsigned jobs;			/* connections with a job on the pool */
	ctl_reload_fn *reload;		/* asks for a reload (ctl_set_reload) */
	void *reload_arg;
	unsigned reload_seq;		/* the last reload id handed out */
};

/* One control connection. */
struct conn {
	struct ctl *c;
	struct conn *prev, *next;
	struct bufferevent *bev;	/* NULL: closed while its job runs */
	unsigned long uid;
	long pid;
	char req_text[LOG_ESC_SIZE];	/* the request, escaped, for the log;
					 * "" until one is read */
	struct ctl_req req;
	int job;			/* a worker job holds this connection */
	int job_rc;			/* the job's result (worker) */
	unsigned reload_id;		/* waiting for ctl_reload_done, 0: not */
	buf_t out;			/* the job's JSON (worker) */
};

/* conn_free - unlink and free (its socket closes) */
static void conn_free(struct conn *k)
{
	struct ctl *c = k->c;

	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->nconns--;
	if (k->bev)
		bufferevent_free(k->bev);
	buf_free(&k->out);
	free(k);
}

/* conn_close - close the socket now; the connection goes when no job
 * holds it any more */
static void conn_close(struct conn *k)
{
	if (!k->job) {
		conn_free(k);
		return;
	}
	if (k->bev) {
		bufferevent_free(k->bev);
		k->bev = NULL;
	}
}

/* on_written - the reply is out: close */
static void on_written(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_close(arg);
}

/* on_write_event - the reply could not be written: close */
static void on_write_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;

	(void)bev;
	log_debug("ctl uid=%lu status=closed reason=\"%s\"", k->uid,
		  (what & BEV_EVENT_TIMEOUT) ? "write timeout" : "write error");
	conn_close(k);
}

/* send_reply - log the request's line, write json and a LF, close once it
 * is written */
static void send_reply(struct conn *k, const buf_t *json, const char *status,
		       const char *error, const char *extra)
{
	struct evbuffer *o;

	log_info("ctl request=%s%s%s uid=%lu pid=%ld status=%s%s%s%s%s", k->req_text[0] ? "\"" : "-",
		 k->req_text, k->req_text[0] ? "\"" : "", k->uid, k->pid, status,
		 error ? " error=\"" : "", error ? error : "", error ? "\"" : "", extra ? extra : "");
	if (!k->bev) {
		conn_close(k);
		return;
	}
	o = bufferevent_get_output(k->bev);
	if (!json->data || evbuffer_add(o, json->data, json->len) < 0 ||
	    evbuffer_add(o, "\n", 1) < 0) {
		conn_close(k);
		return;
	}
	bufferevent_disable(k->bev, EV_READ);
	bufferevent_setcb(k->bev, NULL, on_written, on_write_event, k);
	bufferevent_enable(k->bev, EV_WRITE);
}

/* reply_error - {"ok":false,"code":code,"error":msg} */
static void reply_error(struct conn *k, const char *code, const char *msg)
{
	const char *status = strcmp(code, "denied") == 0 ? "denied" : "error";
	buf_t b;

	buf_init(&b);
	if (buf_printf(&b, "{\"ok\":false,\"code\":\"%s\",\"error\":", code) < 0 ||
	    json_cstr(&b, msg) < 0 || buf_putc(&b, '}') < 0)
		buf_free(&b);
	send_reply(k, &b, status, msg, NULL);
	buf_free(&b);
}

/* reply_ok - {"ok":true<members>} where members is ",..." or "" */
static void reply_ok(struct conn *k, const char *members, const char *extra)
{
	buf_t b;

	buf_init(&b);
	if (buf_printf(&b, "{\"ok\":true%s}", members) < 0)
		buf_free(&b);
	send_reply(k, &b, "ok", NULL, extra);
	buf_free(&b);
}

/* job_work - a spool read on a worker thread */
static void job_work(void *arg)
{
	struct conn *k = arg;

	if (k->req.verb == CTL_SHOW)
		k->job_rc = queue_show_json(k->c->q, k->req.qid, SHOW_MAX, &k->out);
	else
		k->job_rc = queue_list_json(k->c->q, &k->out);
}

/* remove_listed - remove every message of a queue_list_json array; how
 * many were removed, or -1 when the list does not parse */
static long remove_listed(struct ctl *c, const buf_t *list)
{
	struct jv *v;
	char err[128];
	size_t i;
	long n = 0;

	if (jv_parse(list->data, list->len, &v, err, sizeof(err)) < 0 || v->type != JV_ARRAY) {
		log_err("ctl error=\"queue list does not parse: %s\"", err);
		jv_free(v);
		return -1;
	}
	for (i = 0; i < v->nkids; i++) {
		const char *id = jv_str(&v->kids[i], "id");

		if (id && ctl_qid_ok(id) && queue_remove(c->q, id) == 0)
			n++;
	}
	jv_free(v);
	return n;
}

/* reply_job - the reply of a finished list, show or remove --all */
static void reply_job(struct conn *k)
{
	char members[64], extra[64];
	long n;
	buf_t b;

	if (k->job_rc < 0) {
		if (k->req.verb == CTL_SHOW)
			reply_error(k, "notfound", "no such message in the queue");
		else
			reply_error(k, "internal", "cannot read the queue");
		return;
	}
	if (k->req.verb == CTL_REMOVE) {
		n = remove_listed(k->c, &k->out);
		if (n < 0) {
			reply_error(k, "internal", "cannot read the queue");
			return;
		}
		snprintf(members, sizeof(members), ",\"removed\":%ld", n);
		snprintf(extra, sizeof(extra), " removed=%ld", n);
		reply_ok(k, members, extra);
		return;
	}
	buf_init(&b);
	if (buf_printf(&b, "{\"ok\":true,\"now\":%lld,\"%s\":", (long long)time(NULL),
		       k->req.verb == CTL_SHOW ? "message" : "messages") < 0 ||
	    buf_append(&b, k->out.data, k->out.len) < 0 || buf_putc(&b, '}') < 0)
		buf_free(&b);
	send_reply(k, &b, b.data ? "ok" : "error", b.data ? NULL : "out of memory", NULL);
	buf_free(&b);
}

/* job_done - back on the loop thread */
static void job_done(void *arg)
{
	struct conn *k = arg;

	k->job = 0;
	k->c->jobs--;
	if (!k->bev) {
		conn_free(k);
		return;
	}
	reply_job(k);
}

/* start_job - run the request's spool read on the pool */
static void start_job(struct conn *k)
{
	bufferevent_disable(k->bev, EV_READ);
	k->job = 1;
	k->c->jobs++;
	if (workpool_submit(k->c->pool, job_work, job_done, k) < 0) {
		k->job = 0;
		k->c->jobs--;
		reply_error(k, "internal", "out of memory");
	}
}

/* do_flush - flush [QID | --domain D] (loop thread) */
static void do_flush(struct conn *k)
{
	const struct ctl_req *r = &k->req;
	char members[64], extra[32];
	unsigned n;

	n = queue_flush(k->c->q, r->qid[0] ? r->qid : NULL, r->domain[0] ? r->domain : NULL);
	if (r->qid[0] && n == 0) {
		reply_error(k, "notfound", "no such message in the queue, or it is held");
		return;
	}
	snprintf(members, sizeof(members), ",\"flushed\":%u", n);
	snprintf(extra, sizeof(extra), " flushed=%u", n);
	reply_ok(k, members, extra);
}

/* do_hold - hold or release QID (loop thread) */
static void do_hold(struct conn *k, int hold)
{
	char members[128];

	if (queue_hold(k->c->q, k->req.qid, hold) < 0) {
		reply_error(k, "notfound", "no such message in the queue");
		return;
	}
	snprintf(members, sizeof(members), ",\"id\":\"%s\",\"held\":%s", k->req.qid,
		 hold ? "true" : "false");
	reply_ok(k, members, NULL);
}

/* do_reload - ask for a reload; the reply waits for ctl_reload_done */
static void do_reload(struct conn *k)
{
	struct ctl *c = k->c;

	if (!c->reload) {
		reply_error(k, "internal", "reload is not available");
		return;
	}
	bufferevent_disable(k->bev, EV_READ);
	if (++c->reload_seq == 0)
		c->reload_seq = 1;
	k->reload_id = c->reload_seq;
	c->reload(c->reload_arg, k->reload_id);
}

/* ctl_set_reload - who carries out reload requests */
void ctl_set_reload(struct ctl *c, ctl_reload_fn *fn, void *arg)
{
	if (!c)
		return;
	c->reload = fn;
	c->reload_arg = arg;
}

/* ctl_reload_done - the outcome of reload id: answer its connection */
void ctl_reload_done(struct ctl *c, unsigned id, const char *status, const char *text)
{
	struct conn *k;
	buf_t b;

	if (!c || id == 0)
		return;
	for (k = c->conns; k && k->reload_id != id; k = k->next)
		;
	if (!k)
		return;		/* the client went away */
	k->reload_id = 0;
	if (strcmp(status, "ok") != 0) {
		reply_error(k, status, text ? text : "");
		return;
	}
	buf_init(&b);
	if (buf_puts(&b, "{\"ok\":true,\"status\":\"ok\",\"notes\":") < 0 ||
	    json_cstr(&b, text ? text : "") < 0 || buf_putc(&b, '}') < 0)
		buf_free(&b);
	send_reply(k, &b, b.data ? "ok" : "error", b.data ? NULL : "out of memory", NULL);
	buf_free(&b);
}

/* do_request - run a parsed request */
static void do_request(struct conn *k)
{
	switch (k->req.verb) {
	case CTL_LIST:
	case CTL_SHOW:
		start_job(k);
		return;
	case CTL_FLUSH:
		do_flush(k);
		return;
	case CTL_HOLD:
	case CTL_RELEASE:
		do_hold(k, k->req.verb == CTL_HOLD);
		return;
	case CTL_RELOAD:
		do_reload(k);
		return;
	case CTL_REMOVE:
		if (k->req.all) {
			start_job(k);	/* the ids come from the spool */
			return;
		}
		if (queue_remove(k->c->q, k->req.qid) < 0)
			reply_error(k, "notfound", "no such message in the queue");
		else
			reply_ok(k, ",\"removed\":1", NULL);
		return;
	}
	reply_error(k, "usage", "unknown request");
}

/* on_read - wait for the request line, then run it */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	char line[CTL_REQ_MAX];
	const char *why;
	size_t n;

	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos < 0 || (size_t)eol.pos >= CTL_REQ_MAX) {
		n = evbuffer_get_length(in);
		if (n < CTL_REQ_MAX)
			return;		/* need more */
		evbuffer_copyout(in, line, 64);
		log_escape(k->req_text, line, 64);
		reply_error(k, "usage", "request too long");
		return;
	}
	n = (size_t)eol.pos;
	evbuffer_remove(in, line, n);
	log_escape(k->req_text, line, n);
	bufferevent_disable(bev, EV_READ);
	if (ctl_req_parse(line, n, &k->req, &why) < 0) {
		reply_error(k, "usage", why);
		return;
	}
	do_request(k);
}

/* on_read_event - end of input, timeout or error before the request */
static void on_read_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *k = arg;
	size_t n = evbuffer_get_length(bufferevent_get_input(bev));
	char part[64];

	if (what & BEV_EVENT_TIMEOUT) {
		reply_error(k, "timeout", "no request within 10 seconds");
	} else if ((what & BEV_EVENT_EOF) && n > 0) {
		evbuffer_copyout(bufferevent_get_input(bev), part, n < sizeof(part) ? n : sizeof(part));
		log_escape(k->req_text, part, n < sizeof(part) ? n : sizeof(part));
		reply_error(k, "usage", "request not ended by a newline");
	} else {
		log_info("ctl request=- uid=%lu pid=%ld status=error error=\"%s\"", k->uid, k->pid,
			 (what & BEV_EVENT_EOF) ? "no request" : "read error");
		conn_close(k);
	}
}

/* peer_ok - look up the peer's credentials; may it use the socket? */
static int peer_ok(struct conn *k, evutil_socket_t fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc)) {
		k->uid = (unsigned long)-1;
		k->pid = -1;
		return 0;
	}
	k->uid = (unsigned long)uc.uid;
	k->pid = (long)uc.pid;
	return uc.uid == 0 || uc.uid == k->c->self;
}

/* on_accept - a new control connection */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct ctl *c = arg;
	struct conn *k = calloc(1, sizeof(*k));
	struct timeval rt = { READ_TIMEOUT, 0 }, wt = { WRITE_TIMEOUT, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	if (k)
		k->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!k || !k->bev) {
		free(k);
		evutil_closesocket(fd);
		log_err("ctl status=error error=\"out of memory\"");
		return;
	}
	k->c = c;
	buf_init(&k->out);
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	c->nconns++;
	bufferevent_set_timeouts(k->bev, &rt, &wt);
	if (!peer_ok(k, fd)) {
		reply_error(k, "denied", "permission denied: only root and the mail user may "
			    "use the control socket");
		return;
	}
	if (c->nconns > CONN_MAX) {
		reply_error(k, "busy", "too many control connections, try again");
		return;
	}
	bufferevent_setwatermark(k->bev, EV_READ, 0, CTL_REQ_MAX);
	bufferevent_setcb(k->bev, on_read, NULL, on_read_event, k);
	bufferevent_enable(k->bev, EV_READ);
}

/* on_listen_error - accept failed (EMFILE...): logged, the listener goes on */
static void on_listen_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	log_warn("ctl status=error error=\"accept: %s\"", strerror(errno));
}

/* make_socket - bind and listen on path, mode 0600 from the start (Linux:
 * a socket's inode mode before bind is the mode of the file it makes) */
static int make_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, BACKLOG) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ctl_new - the control socket on the loop */
struct ctl *ctl_new(struct event_base *base, struct workpool *pool, struct queue *q,
		    const char *spool)
{
	struct ctl *c = calloc(1, sizeof(*c));
	int fd, n;

	if (!c) {
		log_err("ctl status=failed error=\"out of memory\"");
		return NULL;
	}
	c->base = base;
	c->pool = pool;
	c->q = q;
	c->self = geteuid();
	n = snprintf(c->path, sizeof(c->path), "%s/%s", spool, CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(c->path)) {
		log_warn("listen addr=%s/%s status=skipped reason=\"path too long\"", spool,
			 CTL_SOCKET_NAME);
		free(c);
		return NULL;
	}
	fd = make_socket(c->path);
	if (fd >= 0) {
		c->l = evconnlistener_new(base, on_accept, c,
					  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (!c->l)
			close(fd);
	}
	if (!c->l) {
		log_warn("listen addr=%s role=control status=failed error=\"%s\"", c->path,
			 fd < 0 ? strerror(errno) : "out of memory");
		if (fd >= 0)
			unlink(c->path);
		free(c);
		return NULL;
	}
	evconnlistener_set_error_cb(c->l, on_listen_error);
	log_info("listen addr=%s role=control status=ok", c->path);
	return c;
}

/* ctl_free - close everything, wait for the jobs */
void ctl_free(struct ctl *c)
{
	struct conn *k, *next;

	if (!c)
		return;
	evconnlistener_free(c->l);
	unlink(c->path);
	for (k = c->conns; k; k = next) {
		next = k->next;
		conn_close(k);
	}
	while (c->jobs > 0)
		event_base_loop(c->base, EVLOOP_ONCE);
	while (c->conns)	/* not reached: a job's end frees its conn */
		conn_free(c->conns);
	free(c);
}

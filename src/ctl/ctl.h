/* ctl - the daemon's control socket <spool>/control.sock, the server side
 * of `mailport queue` (as postqueue/postsuper talk to Postfix's master and
 * smtpctl to OpenSMTPD's control process).
 *
 * One request line per connection (ctl/request.h), one JSON document as
 * the reply, then the close:
 *   {"ok":true, ...}  or  {"ok":false,"code":"usage|notfound|denied|busy|
 *   timeout|internal","error":"..."}
 *   list     {"ok":true,"now":T,"messages":[queue_list_json's objects]}
 *   show     {"ok":true,"now":T,"message":{queue_show_json's object}}
 *   flush    {"ok":true,"flushed":N}
 *   remove   {"ok":true,"removed":N}
 *   hold     {"ok":true,"id":"QID","held":true}   (release: false)
 *   reload   {"ok":true,"status":"ok","notes":"..."}, or code "failed" (the
 *            old config stays) or "partial" (TLS kept, the rest in use)
 * Only root and the daemon's own uid may use it: the socket file is 0600
 * and owned by the daemon's user, and every connection's SO_PEERCRED is
 * checked as well (another uid gets code "denied" and a log line).
 * Everything runs on the event loop; list and show (spool reads) run on the
 * worker pool.  One log line per request:
 *   ctl request="..." uid=N status=ok|error|denied [error="..."]
 */
#ifndef MAILPORT_CTL_CTL_H
#define MAILPORT_CTL_CTL_H

struct event_base;
struct queue;
struct workpool;

#define CTL_SOCKET_NAME "control.sock"

/* ctl_new - bind <spool>/control.sock (a stale file is replaced) and start
 * accepting on base.  Call after the privilege drop (the file is owned by
 * the user the daemon runs as).  NULL on failure (logged): the daemon runs
 * on without it. */
struct ctl *ctl_new(struct event_base *base, struct workpool *pool, struct queue *q,
		    const char *spool);

/* ctl_set_reload - fn(arg, id) carries out a reload request; its outcome
 * comes back through ctl_reload_done(c, id, ...) (the connection waits) */
typedef void ctl_reload_fn(void *arg, unsigned id);
void ctl_set_reload(struct ctl *c, ctl_reload_fn *fn, void *arg);

/* ctl_reload_done - answer reload id: status "ok" (text: notes, may be
 * empty), "failed" or "partial" (text: the errors) */
void ctl_reload_done(struct ctl *c, unsigned id, const char *status, const char *text);

/* ctl_free - stop accepting, remove the socket file, close every control
 * connection and wait (running the loop) for their worker jobs; call on
 * the loop thread before the queue and the pool are freed.  NULL is fine. */
void ctl_free(struct ctl *c);

#endif

/* local - deliver one copy of a queued message into a Maildir.
 *
 * Public: local_deliver, local_agent_new, local_agent_free.
 * Steps (the Maildir protocol): write tmp/<name>, fsync it, rename it into
 * new/<name>, fsync new/.  <name> is "<arrival>.<qid>_<index>.<host>", a
 * pure function of the queue entry, so a delivery repeated after a crash
 * finds new/<name> and reports success without a second copy.
 * Invariants: every path is one safe component opened with *at() below
 * mail_fd, never following a symlink; the message is copied with pread in
 * 64 KiB blocks and CRLF becomes LF (a lone CR is kept), also when a CR
 * ends one block and its LF starts the next; a failed delivery leaves no
 * file in tmp/ or new/.
 */
#include "deliver/local.h"
#include "deliver/agent.h"
#include "smtp/addr.h"
#include "util/fsutil.h"
#include "util/work.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCAL_BLOCK (64 * 1024)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)

/* set_why - format a failure reason for the caller */
__attribute__((format(printf, 3, 4)))
static void set_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	if (!why || whysz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

/* header_safe - can s go into a header line (no control byte)? */
static int header_safe(const char *s)
{
	if (!s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* put_host - append hostname with '/' as "\057" and ':' as "\072" */
static void put_host(char *out, size_t *o, size_t cap, const char *host)
{
	for (; *host; host++) {
		const char *unit = *host == '/' ? "\\057" : *host == ':' ? "\\072" : NULL;
		size_t n = unit ? 4 : 1;

		if (*o + n >= cap)
			break;
		if (unit)
			memcpy(out + *o, unit, n);
		else
			out[*o] = *host;
		*o += n;
	}
	out[*o] = '\0';
}

/* make_name - the deterministic Maildir file name; -1 if the qid is unsafe */
static int make_name(char *out, size_t cap, const struct local_msg *m,
		     unsigned idx, const char *host)
{
	const char *p;
	size_t o;
	int r;

	if (!m->qid || !*m->qid || strlen(m->qid) > 64)
		return -1;
	for (p = m->qid; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= 'a' && *p <= 'z')))
			return -1;
	r = snprintf(out, cap, "%lld.%s_%u.", m->arrival, m->qid, idx);
	if (r < 0 || (size_t)r >= cap)
		return -1;
	o = (size_t)r;
	put_host(out, &o, cap, host && *host ? host : "localhost");
	return 0;
}

/* open_subdir - open parent/name as a directory, creating it (0700) when
 * missing; a new entry is fsynced into parent; EEXIST from a concurrent
 * creator is fine */
static int open_subdir(int parent, const char *name)
{
	int fd = openat(parent, name, DIR_FLAGS);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(parent, name, 0700) == 0) {
		if (fsync(parent) < 0)
			return -1;
	} else if (errno != EEXIST) {
		return -1;
	}
	return openat(parent, name, DIR_FLAGS);
}

/* make_subdir - create parent/name (0700) unless it exists */
static int make_subdir(int parent, const char *name)
{
	if (mkdirat(parent, name, 0700) == 0)
		return fsync(parent);
	return errno == EEXIST ? 0 : -1;
}

/* open_maildir - open (creating) <domain>/<mailbox>/{tmp,new,cur}; returns
 * 0 with the tmp/ and new/ dirfds, or -1 with errno set */
static int open_maildir(int mail_fd, const char *domain, const char *mailbox,
			int *tmpfd, int *newfd)
{
	int dfd, mfd = -1, rc = -1, e;

	*tmpfd = *newfd = -1;
	dfd = open_subdir(mail_fd, domain);
	if (dfd >= 0)
		mfd = open_subdir(dfd, mailbox);
	if (mfd >= 0)
		*tmpfd = open_subdir(mfd, "tmp");
	if (*tmpfd >= 0)
		*newfd = open_subdir(mfd, "new");
	if (*newfd >= 0)
		rc = make_subdir(mfd, "cur");
	e = errno;
	if (rc < 0) {
		if (*tmpfd >= 0)
			close(*tmpfd);
		if (*newfd >= 0)
			close(*newfd);
		*tmpfd = *newfd = -1;
	}
	if (mfd >= 0)
		close(mfd);
	if (dfd >= 0)
		close(dfd);
	errno = e;
	return rc;
}

/* crlf_to_lf - convert in[0..n) into out, carrying a trailing CR in *held;
 * returns the output length (at most n + 1) */
static size_t crlf_to_lf(const unsigned char *in, size_t n, char *out,
			 int *held)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (*held) {
			*held = 0;
			if (in[i] != '\n')
				out[o++] = '\r';
		}
		if (in[i] == '\r')
			*held = 1;
		else
			out[o++] = (char)in[i];
	}
	return o;
}

/* copy_body - copy the message from the queue file, CRLF -> LF */
static int copy_body(int fd, const struct local_msg *m, char *why, size_t whysz)
{
	unsigned char *in = malloc(LOCAL_BLOCK);
	char *out = malloc(LOCAL_BLOCK + 1);
	off_t pos = 0;
	int held = 0, rc = -1;

	if (!in || !out) {
		set_why(why, whysz, "out of memory");
		goto done;
	}
	while (pos < m->length) {
		off_t left = m->length - pos;
		size_t want = left < LOCAL_BLOCK ? (size_t)left : LOCAL_BLOCK;
		ssize_t r = pread(m->fd, in, want, m->offset + pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			set_why(why, whysz, "read queue file: %s", strerror(errno));
			goto done;
		}
		if (write_all(fd, out, crlf_to_lf(in, (size_t)r, out, &held)) < 0)
			goto wfail;
		pos += r;
	}
	if (held && write_all(fd, "\r", 1) < 0)
		goto wfail;
	rc = 0;
	goto done;
wfail:
	set_why(why, whysz, "write maildir file: %s", strerror(errno));
done:
	free(in);
	free(out);
	return rc;
}

/* create_tmp - create tmp/<name>, replacing a leftover from a crash */
static int create_tmp(int tmpfd, const char *name)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
	int fd = openat(tmpfd, name, fl, 0600);

	if (fd < 0 && errno == EEXIST) {
		if (unlinkat(tmpfd, name, 0) < 0 && errno != ENOENT)
			return -1;
		fd = openat(tmpfd, name, fl, 0600);
	}
	return fd;
}

/* write_tmp - write headers and body into tmp/<name> and fsync it */
static int write_tmp(int tmpfd, const char *name, const char *rcpt,
		     const struct local_msg *m, char *why, size_t whysz)
{
	char *hdr;
	int fd, r, e;

	fd = create_tmp(tmpfd, name);
	if (fd < 0) {
		set_why(why, whysz, "create maildir file: %s", strerror(errno));
		return -1;
	}
	r = asprintf(&hdr, "Return-Path: <%s>\nDelivered-To: %s\n",
		     m->sender ? m->sender : "", rcpt);
	if (r < 0) {
		hdr = NULL;
		errno = ENOMEM;
	}
	if (r < 0 || write_all(fd, hdr, (size_t)r) < 0) {
		set_why(why, whysz, "write maildir file: %s", strerror(errno));
		r = -1;
	} else if ((r = copy_body(fd, m, why, whysz)) == 0 && fsync(fd) < 0) {
		set_why(why, whysz, "fsync maildir file: %s", strerror(errno));
		r = -1;
	}
	free(hdr);
	e = errno;
	if (close(fd) < 0 && r == 0) {
		set_why(why, whysz, "close maildir file: %s", strerror(errno));
		r = -1;
		e = errno;
	}
	if (r < 0)
		unlinkat(tmpfd, name, 0);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* commit_new - rename tmp/<name> into new/ and fsync new/; on a failed
 * fsync the entry is removed again, so nothing unsynced counts as done */
static int commit_new(int tmpfd, int newfd, const char *name, char *why,
		      size_t whysz)
{
	if (renameat(tmpfd, name, newfd, name) < 0) {
		set_why(why, whysz, "rename into new/: %s", strerror(errno));
		unlinkat(tmpfd, name, 0);
		return -1;
	}
	if (fsync(newfd) < 0) {
		set_why(why, whysz, "fsync new/: %s", strerror(errno));
		unlinkat(newfd, name, 0);
		return -1;
	}
	return 0;
}

/* local_deliver - deliver one copy of m to <domain>/<mailbox> */
enum dresult local_deliver(int mail_fd, const char *domain, const char *mailbox,
			   const char *rcpt, unsigned rcpt_index,
			   const struct local_msg *m, const char *hostname,
			   char *why, size_t whysz)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int tmpfd, newfd;
	enum dresult res = DELIVER_TEMP;

	if (!addr_mailbox_safe(domain) || !addr_mailbox_safe(mailbox)) {
		set_why(why, whysz, "unsafe mailbox name");
		return DELIVER_PERM;
	}
	if (!header_safe(rcpt) || (m->sender && !header_safe(m->sender))) {
		set_why(why, whysz, "unsafe address");
		return DELIVER_PERM;
	}
	if (make_name(name, sizeof(name), m, rcpt_index, hostname) < 0) {
		set_why(why, whysz, "unsafe queue id");
		return DELIVER_PERM;
	}
	if (open_maildir(mail_fd, domain, mailbox, &tmpfd, &newfd) < 0) {
		set_why(why, whysz, "open maildir: %s", strerror(errno));
		return errno == ENAMETOOLONG ? DELIVER_PERM : DELIVER_TEMP;
	}
	if (fstatat(newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		res = DELIVER_OK;
	else if (errno != ENOENT)
		set_why(why, whysz, "stat new/: %s", strerror(errno));
	else if (write_tmp(tmpfd, name, rcpt, m, why, whysz) == 0 &&
		 commit_new(tmpfd, newfd, name, why, whysz) == 0)
		res = DELIVER_OK;
	close(tmpfd);
	close(newfd);
	return res;
}

/* ------------------------------------------------------------ the agent */

struct local_agent {
	struct agent a;
	struct workpool *pool;
	int mail_fd;
	char *hostname;
};

/* status_of - a local outcome as a struct dstatus (RFC 3463 codes) */
static void status_of(enum dresult r, const char *why, struct dstatus *st)
{
	memset(st, 0, sizeof(*st));
	st->cls = r == DELIVER_OK ? DS_OK : r == DELIVER_TEMP ? DS_TEMP : DS_PERM;
	st->code = r == DELIVER_OK ? 250 : r == DELIVER_TEMP ? 451 : 550;
	snprintf(st->enh, sizeof(st->enh), "%s",
		 r == DELIVER_OK ? "2.0.0" : r == DELIVER_TEMP ? "4.2.0" : "5.1.3");
	snprintf(st->text, sizeof(st->text), "%s",
		 r == DELIVER_OK ? "delivered to maildir" : why);
}

/* agent_work - deliver every recipient of the job (worker) */
static void agent_work(void *arg)
{
	struct agent_job *j = arg;
	struct local_agent *la = (struct local_agent *)j->next;
	const struct envelope *e = j->env;
	struct local_msg m = { j->fd, j->off, j->len, j->qid, e->arrival,
			       e->sender ? e->sender : "" };
	size_t k;

	for (k = 0; k < j->nrcpts; k++) {
		const struct env_rcpt *r = &e->rcpts[j->rcpts[k]];
		char why[256] = "";
		enum dresult res;

		res = local_deliver(la->mail_fd, r->domain ? r->domain : "",
				    r->mailbox ? r->mailbox : "", r->addr ? r->addr : "",
				    (unsigned)j->rcpts[k], &m, la->hostname, why, sizeof(why));
		status_of(res, why, &j->status[k]);
	}
}

/* agent_done - back on the loop */
static void agent_done(void *arg)
{
	struct agent_job *j = arg;

	j->next = NULL;
	j->done(j);
}

/* agent_submit - run the job on the pool */
static void agent_submit(struct agent *a, struct agent_job *j)
{
	struct local_agent *la = (struct local_agent *)a;
	size_t k;

	j->next = (struct agent_job *)la;
	if (workpool_submit(la->pool, agent_work, agent_done, j) == 0)
		return;
	for (k = 0; k < j->nrcpts; k++)
		status_of(DELIVER_TEMP, "no worker thread", &j->status[k]);
	j->next = NULL;
	j->done(j);	/* never from inside submit, but nothing else is left */
}

/* local_agent_new - the Maildir agent */
struct agent *local_agent_new(struct workpool *pool, int mail_fd, const char *hostname)
{
	struct local_agent *la = calloc(1, sizeof(*la));

	if (!la)
		return NULL;
	la->a.name = "local";
	la->a.submit = agent_submit;
	la->pool = pool;
	la->mail_fd = mail_fd;
	la->hostname = strdup(hostname && *hostname ? hostname : "localhost");
	if (!la->hostname) {
		free(la);
		return NULL;
	}
	return &la->a;
}

/* local_agent_free - free the agent (no job may be in flight) */
void local_agent_free(struct agent *a)
{
	struct local_agent *la = (struct local_agent *)a;

	if (!la)
		return;
	free(la->hostname);
	free(la);
}

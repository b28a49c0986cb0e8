/* cfiles - the files a config is made of, as bytes (see cfiles.h).
 *
 * A replayed stream is an fmemopen(3) over the recorded bytes: the
 * parsers read it with getline exactly as they read the file.
 */
#include "conf/cfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cfiles_init - an empty set (replay mode) */
void cfiles_init(struct cfiles *s)
{
	memset(s, 0, sizeof(*s));
}

/* cfiles_free - release every copy (the data may be secret: wiped) */
void cfiles_free(struct cfiles *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		if (s->v[i].data) {
			explicit_bzero(s->v[i].data, s->v[i].len);
			free(s->v[i].data);
		}
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* cfiles_find - the entry for name */
const struct cfile *cfiles_find(const struct cfiles *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

/* cfiles_add - keep a copy (an entry of the same name is replaced) */
int cfiles_add(struct cfiles *s, const char *name, int err, const void *data, size_t len)
{
	struct cfile *f = (struct cfile *)cfiles_find(s, name), *v;
	char *copy = malloc(len + 1);

	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	if (!f) {
		if (s->n >= CFILES_MAX ||
		    !(v = realloc(s->v, (s->n + 1) * sizeof(*v))))
			goto fail;
		s->v = v;
		f = &s->v[s->n];
		memset(f, 0, sizeof(*f));
		if (!(f->name = strdup(name)))
			goto fail;
		s->n++;
	} else if (f->data) {
		explicit_bzero(f->data, f->len);
		free(f->data);
	}
	f->err = err;
	f->data = copy;
	f->len = err ? 0 : len;
	return 0;
fail:
	free(copy);
	return -1;
}

/* read_whole - read a regular file of at most CFILE_MAX_SIZE bytes */
static int read_whole(const char *name, char **data, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY), e;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if ((unsigned long long)st.st_size > CFILE_MAX_SIZE) {
		errno = EFBIG;
		goto fail;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		goto fail;
	while (n < (size_t)st.st_size) {	/* the file may shrink meanwhile */
		r = read(fd, p + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
fail:
	e = errno;
	free(p);
	close(fd);
	errno = e;
	return -1;
}

/* cfiles_get - the bytes of name: from the disk (and recorded) or from
 * the set */
int cfiles_get(struct cfiles *src, const char *name, char **data, size_t *len)
{
	const struct cfile *f;
	int e;

	if (!src || src->record) {
		if (read_whole(name, data, len) < 0) {
			e = errno;
			if (src && cfiles_add(src, name, e, NULL, 0) < 0)
				e = ENOMEM;
			errno = e;
			return -1;
		}
		if (src && cfiles_add(src, name, 0, *data, *len) < 0) {
			explicit_bzero(*data, *len);
			free(*data);
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	f = cfiles_find(src, name);
	if (!f || f->err) {
		errno = f ? f->err : ENOENT;
		return -1;
	}
	*data = malloc(f->len + 1);
	if (!*data)
		return -1;
	memcpy(*data, f->data, f->len + 1);
	*len = f->len;
	return 0;
}

/* cfiles_open - a stream over the bytes; they stay with the set while
 * replaying, or with the stream (freed at fclose) when read from disk */
FILE *cfiles_open(struct cfiles *src, const char *name)
{
	const struct cfile *f;
	FILE *fp;
	char *data;
	size_t len;

	if (!src)
		return fopen(name, "re");
	if (src->record) {
		if (cfiles_get(src, name, &data, &len) < 0)
			return NULL;
		explicit_bzero(data, len);
		free(data);
	}
	f = cfiles_find(src, name);
	if (!f || f->err) {
		errno = f ? f->err : ENOENT;
		return NULL;
	}
	fp = fmemopen(f->data, f->len, "r");
	return fp;
}

/* cfiles_copy - take from's bytes of name, as the entry "as" */
int cfiles_copy(struct cfiles *to, const struct cfiles *from, const char *name, const char *as)
{
	const struct cfile *f = cfiles_find(from, name);

	if (!f)
		return cfiles_add(to, as, ENOENT, NULL, 0);
	return cfiles_add(to, as, f->err, f->data, f->len);
}

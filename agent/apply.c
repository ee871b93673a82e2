/*
 * apply - install a new table set atomically, and reload Postfix.
 * See apply.h for the contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "secret.h"
#include "stamp.h"

enum layout { L_NONE, L_LINK, L_DIR };

struct site {
	const struct rs_config *c;
	const struct rs_installer *inst;	/* Postfix's commands */
	struct buf gens;	/* <map_dir>.generations */
	struct buf parent;	/* the directory holding map_dir */
	struct buf gname;	/* <base>.generations */
	struct buf tmpname;	/* <base>.new */
	const char *base;	/* last component of map_dir */
	int pfd;		/* parent, opened safely (safe_dir()) */
	int gfd;		/* the generations directory, or -1 */
	int lfd;		/* the live table directory, or -1 */
	enum layout layout;
	unsigned long current;	/* generation map_dir points to, or 0 */
	unsigned long max;	/* highest generation number present */
};

static int
sys_err(struct rs_err *err, const char *what, const char *path)
{
	return rs_err_set(err, RS_EX_CANTCREAT, "%s %s: %s; the installed "
	    "tables are unchanged", what, path, strerror(errno));
}

/*
 * Path safety. A directory relaysync writes in (the one holding map_dir,
 * the generations, state_dir) must be owned by root (or the user running
 * relaysync) and writable by nobody else; so must every directory above
 * it, except that a root-owned sticky directory (/tmp) may be writable by
 * all: nobody else can rename what root put there. Symbolic links are
 * not followed on the way (O_NOFOLLOW on each component).
 */
static int
unsafe(const char *path, const struct stat *st, int above,
    struct rs_err *err)
{
	if (!S_ISDIR(st->st_mode))
		return rs_err_set(err, RS_EX_CANTCREAT, "refusing to write "
		    "below %s: it is not a directory; the installed tables "
		    "are unchanged", path);
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return rs_err_set(err, RS_EX_CANTCREAT, "refusing to write "
		    "below %s: it is owned by uid %ju, so that user could "
		    "replace what relaysync writes; fix: chown root %s (the "
		    "installed tables are unchanged)", path,
		    (uintmax_t)st->st_uid, path);
	if ((st->st_mode & 022) &&
	    !(above && st->st_uid == 0 && (st->st_mode & S_ISVTX)))
		return rs_err_set(err, RS_EX_CANTCREAT, "refusing to write "
		    "below %s: it is writable by %s (mode %04o), so another "
		    "user could replace what relaysync writes; fix: chmod "
		    "go-w %s, or move the directory below one only root can "
		    "write (the installed tables are unchanged)", path,
		    (st->st_mode & 002) ? "everyone" : "its group",
		    (unsigned)(st->st_mode & 07777), path);
	return 0;
}

/* Open one component below dirfd, creating it (mode) when missing. */
static int
open_component(int dirfd, const char *name, mode_t mode)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && mode != 0 &&
	    (mkdirat(dirfd, name, mode) == 0 || errno == EEXIST))
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	return fd;
}

static int
component_err(const char *path, struct rs_err *err)
{
	if (errno == ELOOP || errno == ENOTDIR)
		return rs_err_set(err, RS_EX_CANTCREAT, "refusing to write "
		    "below %s: it is a symbolic link or not a directory; name "
		    "the real directory in the configuration (the installed "
		    "tables are unchanged)", path);
	return sys_err(err, "cannot open", path);
}

/* Is the directory open on fd (named path) safe to write below? */
static int
checked(int fd, const char *path, int above, struct rs_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return sys_err(err, "cannot inspect", path);
	return unsafe(path, &st, above, err);
}

/* An fd of directory path, each component checked (mode: create missing
 * ones, 0: do not); -1 with err naming the component and the fix. */
static int
safe_dir(const char *path, mode_t mode, struct rs_err *err)
{
	const char *s = path + strspn(path, "/"), *e;
	struct buf done, name;
	int fd, next, safe = 0;

	buf_init(&done);
	buf_init(&name);
	buf_adds(&done, "/");
	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		sys_err(err, "cannot open", "/");
	while (fd >= 0 && (safe = checked(fd, done.data, *s != '\0',
	    err) == 0) && *s != '\0') {
		e = s + strcspn(s, "/");
		buf_reset(&name);
		buf_add(&name, s, (size_t)(e - s));
		if (done.len > 1)
			buf_addc(&done, '/');
		buf_add(&done, s, (size_t)(e - s));
		buf_str(&done);
		next = open_component(fd, buf_str(&name), *e && mode ? 0755 :
		    mode);
		close(fd);
		if ((fd = next) < 0)
			component_err(done.data, err);
		s = e + strspn(e, "/");
	}
	if (fd >= 0 && !safe) {
		close(fd);
		fd = -1;
	}
	buf_free(&done);
	buf_free(&name);
	return fd;
}

int
apply_lock(const struct rs_config *c, struct rs_lock *l, struct rs_err *err)
{
	int dfd;

	l->fd = -1;
	if ((dfd = safe_dir(c->state_dir, 0700, err)) < 0)
		return -1;
	l->fd = openat(dfd, "relaysync.lock", O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	close(dfd);
	if (l->fd < 0)
		return rs_err_set(err, RS_EX_CANTCREAT, "cannot create the "
		    "lock file %s/relaysync.lock: %s (a symbolic link there is "
		    "refused: remove it)", c->state_dir, strerror(errno));
	if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		rs_err_set(err, RS_EX_TEMPFAIL, "another relaysync run holds "
		    "%s/relaysync.lock; this run did nothing (try again when "
		    "it has finished)", c->state_dir);
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	return 0;
}

void
apply_unlock(struct rs_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

static int
fsync_at(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
parse_gen(const char *name, unsigned long *n)
{
	char *end;

	if (*name < '1' || *name > '9')
		return -1;
	*n = strtoul(name, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* The generations directory: created when asked, never through a link,
 * checked like its parent. */
static int
open_gens(struct site *s, int create, struct rs_err *err)
{
	struct stat st;

	s->gfd = open_component(s->pfd, s->gname.data, create ? 0755 : 0);
	if (s->gfd < 0) {
		if (errno == ENOENT && !create)
			return 0;
		return component_err(s->gens.data, err);
	}
	if (fstat(s->gfd, &st) < 0)
		return sys_err(err, "cannot inspect", s->gens.data);
	return unsafe(s->gens.data, &st, 0, err);
}

static int
inspect(struct site *s, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir;
	char target[4096], gen[32];
	struct stat st;
	ssize_t n;

	s->layout = L_NONE;
	s->current = 0;
	if (fstatat(s->pfd, s->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sys_err(err, "cannot inspect", md);
	if (S_ISDIR(st.st_mode)) {
		s->layout = L_DIR;
		s->lfd = open_component(s->pfd, s->base, 0);
		return 0;
	}
	if (!S_ISLNK(st.st_mode) ||
	    (n = readlinkat(s->pfd, s->base, target, sizeof(target) - 1)) < 0)
		return rs_err_set(err, RS_EX_CANTCREAT, "postfix.map_dir %s is "
		    "neither a directory nor relaysync's link; move it away",
		    md);
	target[n] = '\0';
	if (strncmp(target, s->gname.data, s->gname.len) != 0 ||
	    target[s->gname.len] != '/' ||
	    parse_gen(target + s->gname.len + 1, &s->current) < 0)
		return rs_err_set(err, RS_EX_CANTCREAT, "postfix.map_dir %s "
		    "links to %s, not to a generation in %s; move it away", md,
		    target, s->gens.data);
	s->layout = L_LINK;
	snprintf(gen, sizeof(gen), "%lu", s->current);
	if (s->gfd >= 0)
		s->lfd = open_component(s->gfd, gen, 0);
	return 0;
}

/* Remove directory name below dirfd and everything in it, never
 * following a link (a link is removed, not what it points to). */
static void
remove_tree_at(int dirfd, const char *name, const char *shown)
{
	struct dirent *e;
	DIR *d;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);

	if (fd < 0) {
		unlinkat(dirfd, name, 0);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0 && errno == EISDIR)
			remove_tree_at(fd, e->d_name, shown);
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		rs_log(RS_LOG_WARN, "cannot remove old generation %s/%s: %s",
		    shown, name, strerror(errno));
}

/* Find the highest generation; remove all but keep and its predecessor. */
static void
prune(struct site *s, unsigned long keep)
{
	unsigned long n, prev = 0;
	struct dirent *e;
	DIR *d;
	int fd;

	s->max = keep;
	if (s->gfd < 0 || (fd = openat(s->gfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (parse_gen(e->d_name, &n) == 0) {
			if (n < keep && n > prev)
				prev = n;
			if (n > s->max)
				s->max = n;
		}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (parse_gen(e->d_name, &n) == 0 && n != keep && n != prev)
			remove_tree_at(s->gfd, e->d_name, s->gens.data);
	closedir(d);
}

/* A run killed while converting a plain map_dir left it at tmpname. */
static void
recover_tmplink(struct site *s)
{
	struct stat st;
	char gen[32];

	if (fstatat(s->pfd, s->tmpname.data, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlinkat(s->pfd, s->tmpname.data, 0);
		return;
	}
	snprintf(gen, sizeof(gen), "%lu", s->current ? s->current - 1 : 1);
	if (s->current < 2 || renameat(s->pfd, s->tmpname.data, s->gfd,
	    gen) < 0)
		remove_tree_at(s->pfd, s->tmpname.data, s->parent.data);
}

/* Write len bytes to *fd (an rs_drain_fn); -1 with errno on failure. */
static int
write_all(void *fd, const char *data, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = write(*(int *)fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Create name below dirfd (never through a link) holding b, fsynced when
 * sync; shown is the path errors name. */
static int
write_file_at(int dirfd, const char *name, const char *shown,
    const struct buf *b, mode_t mode, int sync, struct rs_err *err)
{
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd < 0)
		return sys_err(err, "cannot create", shown);
	if (write_all(&fd, b->data, b->len) < 0) {
		close(fd);
		return sys_err(err, "cannot write", shown);
	}
	if (sync && fsync(fd) < 0) {
		close(fd);
		return sys_err(err, "cannot fsync", shown);
	}
	if (close(fd) < 0)
		return sys_err(err, "cannot close", shown);
	return 0;
}

/* Replace name below dirfd atomically (a temporary file, then rename). */
static int
replace_file_at(int dirfd, const char *dir, const char *name,
    const struct buf *b, mode_t mode, struct rs_err *err)
{
	struct buf tmp, shown;
	int rc;

	buf_init(&tmp);
	buf_init(&shown);
	buf_printf(&tmp, "%s.tmp", name);
	buf_printf(&shown, "%s/%s", dir, name);
	unlinkat(dirfd, tmp.data, 0);
	rc = write_file_at(dirfd, tmp.data, shown.data, b, mode, 1, err);
	if (rc == 0 && renameat(dirfd, tmp.data, dirfd, name) < 0)
		rc = sys_err(err, "cannot replace", shown.data);
	if (rc < 0)
		unlinkat(dirfd, tmp.data, 0);
	buf_free(&tmp);
	buf_free(&shown);
	return rc;
}

int
apply_file(const char *path, const struct buf *b, mode_t mode,
    struct rs_err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = xstrndup(path, slash && slash > path ?
	    (size_t)(slash - path) : 1);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (dfd < 0)
		rc = sys_err(err, "cannot open", dir);
	else
		rc = replace_file_at(dfd, dir, slash ? slash + 1 : path, b,
		    mode, err);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return rc;
}

int
apply_state(const struct rs_config *c, const char *name, const struct buf *b,
    struct rs_err *err)
{
	int dfd = safe_dir(c->state_dir, 0700, err), rc;

	if (dfd < 0)
		return -1;
	rc = replace_file_at(dfd, c->state_dir, name, b, 0600, err);
	close(dfd);
	return rc;
}

/* fill's output into fd; errno of the first write that failed kept. */
struct filling {
	int fd;
	int error;
};

static int
fill_drain(void *arg, const char *data, size_t len)
{
	struct filling *f = arg;

	if (f->error == 0 && write_all(&f->fd, data, len) < 0)
		f->error = errno;
	return f->error ? -1 : 0;
}

int
apply_cache_stream(const struct rs_config *c, const char *name,
    rs_fill_fn fill, void *arg, struct rs_err *err)
{
	struct filling f = { -1, 0 };
	struct buf tmp, shown;
	int dfd = safe_dir(c->state_dir, 0700, err), rc = 0;

	if (dfd < 0)
		return -1;
	buf_init(&tmp);
	buf_init(&shown);
	buf_printf(&tmp, "%s.tmp", name);
	buf_printf(&shown, "%s/%s", c->state_dir, name);
	unlinkat(dfd, tmp.data, 0);
	f.fd = openat(dfd, tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (f.fd < 0)
		rc = sys_err(err, "cannot create", shown.data);
	else if (fill(arg, fill_drain, &f) < 0)
		rc = f.error ? (errno = f.error, sys_err(err, "cannot write",
		    shown.data)) : 1;
	if (f.fd >= 0 && close(f.fd) < 0 && rc == 0)
		rc = sys_err(err, "cannot close", shown.data);
	if (rc == 0 && renameat(dfd, tmp.data, dfd, name) < 0)
		rc = sys_err(err, "cannot replace", shown.data);
	if (rc != 0)
		unlinkat(dfd, tmp.data, 0);
	close(dfd);
	buf_free(&tmp);
	buf_free(&shown);
	return rc;
}

static int
buf_fill(void *arg, rs_drain_fn drain, void *to)
{
	const struct buf *b = arg;

	return b->len > 0 ? drain(to, b->data, b->len) : 0;
}

int
apply_cache(const struct rs_config *c, const char *name, const struct buf *b,
    struct rs_err *err)
{
	return apply_cache_stream(c, name, buf_fill, (void *)b, err) < 0 ?
	    -1 : 0;
}

void
apply_forget(const struct rs_config *c, const char *name)
{
	struct rs_err err;
	int dfd = safe_dir(c->state_dir, 0, &err);

	if (dfd >= 0) {
		unlinkat(dfd, name, 0);
		close(dfd);
	}
}

int
apply_cache_rename(const struct rs_config *c, const char *from,
    const char *to, struct rs_err *err)
{
	struct buf shown;
	int dfd = safe_dir(c->state_dir, 0700, err), rc = 0;

	if (dfd < 0)
		return -1;
	buf_init(&shown);
	buf_printf(&shown, "%s/%s", c->state_dir, to);
	if (renameat(dfd, from, dfd, to) < 0)
		rc = sys_err(err, "cannot replace", shown.data);
	close(dfd);
	buf_free(&shown);
	return rc;
}

/* A directory being written: its fd and its path (for postmap and for
 * messages). */
struct gdir {
	int fd;
	struct buf path;
};

/*
 * Patching an index instead of rebuilding it: when the live index of a
 * table is stamped as verified for the live text (stamp.h), and few lines
 * changed, the new generation starts from a copy of that index, gets the
 * added and changed lines with "postmap -i -r" and loses the removed keys
 * with "postmap -d -", and "postmap -q -" then shows that every changed key
 * holds its new value and every removed key is gone. Anything else - no
 * stamp, many changes, cdb (which cannot be updated), a failure at any
 * step - means a full rebuild.
 */
struct patch {
	struct buf put;		/* "key value" lines added or changed */
	struct buf del;		/* keys removed */
	size_t n;		/* changed lines */
};

static void
add_line(struct buf *b, const char *line, size_t len)
{
	buf_add(b, line, len);
	buf_add(b, "\n", 1);
}

static void
on_diff(void *arg, const char *old, const char *new)
{
	struct patch *p = arg;

	if (new != NULL)
		add_line(&p->put, new, strcspn(new, "\n"));
	else
		add_line(&p->del, old, table_key_len(old));
	p->n++;
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text = table_next_line(text))
		n++;
	return n;
}

/* Copy file name of the live directory into g (same mode). Not fsynced:
 * the patched copy is, as the last step of patching (P_FSYNC). */
static int
copy_live(const struct site *s, const struct gdir *g, const char *name)
{
	char chunk[65536];
	struct stat st;
	ssize_t n = 0;
	int in, out = -1, rc = -1;

	if ((in = openat(s->lfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(in, &st) == 0)
		out = openat(g->fd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
	while (out >= 0 && (n = read(in, chunk, sizeof(chunk))) > 0)
		if (write(out, chunk, (size_t)n) != n)
			break;
	if (out >= 0 && n == 0)
		rc = 0;
	close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	return rc;
}

/* Read file name of directory dirfd (never through a link). */
static int
read_at(int dirfd, const char *name, struct buf *out)
{
	char chunk[65536];
	ssize_t n = 0;
	int fd;

	buf_reset(out);
	if (dirfd < 0 || (fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)n);
	close(fd);
	buf_str(out);
	return n < 0 ? -1 : 0;
}

/* Edit or query (op) the index of table path with standard input from a
 * temporary file holding in (0600: sasl_passwd lines hold passwords; not
 * fsynced: it is removed right after), named after the table, as the
 * tables are patched at the same time. */
static int
postmap_in(const struct site *s, const struct gdir *g, enum rs_edit op,
    const char *path, const struct buf *in, struct buf *out)
{
	struct buf name, tmp;
	struct rs_err err;
	int rc;

	buf_init(&name);
	buf_init(&tmp);
	buf_printf(&name, ".%s.postmap-input", strrchr(path, '/') + 1);
	buf_printf(&tmp, "%s/%s", g->path.data, name.data);
	unlinkat(g->fd, name.data, 0);
	rc = write_file_at(g->fd, name.data, tmp.data, in, 0600, 0, &err);
	if (rc == 0)
		rc = s->inst->edit(s->c, op, path, tmp.data, out);
	unlinkat(g->fd, name.data, 0);
	buf_free(&name);
	buf_free(&tmp);
	return rc;
}

/* Does "postmap -q -" give every "key value" line of lines its value, and
 * find none of the keys of gone (NULL: none)? */
static int
index_shows(const struct site *s, const struct gdir *g, const char *path,
    const struct buf *lines, const struct buf *gone)
{
	struct buf keys, out, want;
	const char *l, *v;
	size_t k, n;
	int rc;

	buf_init(&keys);
	buf_init(&out);
	buf_init(&want);
	for (l = lines->data; l && *l; l = table_next_line(l)) {
		k = table_key_len(l);
		v = table_result(l, &n);
		add_line(&keys, l, k);
		buf_add(&want, l, k);
		buf_add(&want, "\t", 1);
		add_line(&want, v, n);
	}
	if (gone != NULL)
		buf_add(&keys, gone->data, gone->len);
	rc = postmap_in(s, g, RS_EDIT_QUERY, path, &keys, &out);
	if (out.len)
		buf_add(&out, "\n", 1);
	rc = (rc == 0 || (rc == 1 && want.len == 0)) && out.len == want.len &&
	    (want.len == 0 || memcmp(out.data, want.data, want.len) == 0);
	buf_free(&keys);
	buf_wipe(&out);
	buf_wipe(&want);
	return rc;
}

/* Some lines of text, spread over it: the first, the last and every k-th
 * in between, at most about RS_INDEX_SAMPLE. */
static void
sample_lines(const char *text, struct buf *out)
{
	const char *l, *last = NULL;
	size_t i, every = count_lines(text) / RS_INDEX_SAMPLE + 1;

	for (l = text, i = 0; *l; l = table_next_line(l), i++) {
		if (i % every == 0)
			add_line(out, l, strcspn(l, "\n"));
		last = l;
	}
	if (last != NULL && (i - 1) % every != 0)
		add_line(out, last, strcspn(last, "\n"));
}

/*
 * Index table name of g, then check it: postmap can exit 0 with an empty
 * index when the disk is full (lmdb: any write of its one transaction
 * failing with ENOSPC). An index is written whole or not at all, so
 * "postmap -q -" of a sample of the lines (sample_lines()) shows which;
 * a dump would cost two locks per record, more than the postmap, and cdb
 * cannot be dumped at all.
 */
static int
postmap(const struct site *s, const struct gdir *g, const char *name,
    const struct buf *text, struct rs_err *err)
{
	const struct rs_config *c = s->c;
	const char *suffix = map_suffix(c->postfix.map_type);
	struct buf cmd, out, path, index, sample;
	int rc;

	if (suffix == NULL)
		return 0;
	buf_init(&cmd);
	buf_init(&out);
	buf_init(&path);
	buf_init(&index);
	buf_init(&sample);
	buf_printf(&path, "%s/%s", g->path.data, name);
	buf_printf(&index, "%s%s", name, suffix);
	sample_lines(text->data ? text->data : "", &sample);
	if ((rc = s->inst->index(c, path.data, &out)) != 0)
		rs_err_set(err, RS_EX_CANTCREAT, "%s -c %s %s:%s failed "
		    "(status %d): %s; the installed tables are unchanged",
		    config_postfix_cmd(c, "postmap", &cmd),
		    c->postfix.config_dir, c->postfix.map_type, path.data, rc,
		    buf_str(&out));
	else if (fsync_at(g->fd, index.data, O_RDONLY) < 0)
		rc = sys_err(err, "cannot fsync", index.data);
	else if (!index_shows(s, g, path.data, &sample, NULL))
		rc = rs_err_set(err, RS_EX_CANTCREAT, "postmap wrote %s%s but "
		    "it does not hold exactly the lines of %s (is the disk "
		    "full?); the installed tables are unchanged", path.data,
		    suffix, path.data);
	buf_free(&cmd);
	buf_free(&out);
	buf_free(&path);
	buf_free(&index);
	buf_wipe(&sample);
	return rc ? -1 : 0;
}

/* The steps of patching an index, in order. Those before P_COPY only
 * decide whether to patch; a failure of a later one is worth a line in
 * the log, which names it (the index is then built from scratch). */
enum patch_step { P_READ, P_STAMPED, P_DIFF, P_FEW, P_COPY, P_PUT, P_DEL,
	P_SHOWS, P_FSYNC, P_DONE };

static const char *const patch_where[] = {
	"reading the live text", "finding the live index stamped verified",
	"comparing the texts", "more than a tenth of the lines changed",
	"copying the live index", "postmap -i -r (adding and changing lines)",
	"postmap -d - (removing keys)",
	"postmap -q - (the patched index does not show every change)",
	"fsyncing the patched index"
};

/* Take the steps of patching index (of table i, at path in g) one after
 * the other, each that succeeds moving step on to the next; the first
 * that fails, or P_DONE. */
static enum patch_step
patch_steps(const struct site *s, const struct gdir *g, int i,
    const char *path, const char *index, const struct rs_tables *t,
    struct patch *p)
{
	const char *name = rs_table_info[i].name;
	const char *text = t->t[i].data ? t->t[i].data : "";
	struct buf old, out;
	enum patch_step step = P_READ;

	buf_init(&old);
	buf_init(&out);
	if (read_at(s->lfd, name, &old) == 0 && ++step &&
	    stamp_verified(s->c, name, &old) && ++step &&
	    table_diff(buf_str(&old), old.len, text, t->t[i].len, on_diff,
	    p) == 0 && ++step &&
	    p->n * 10 <= count_lines(text) && ++step &&
	    copy_live(s, g, index) == 0 && ++step &&
	    (p->put.len == 0 || postmap_in(s, g, RS_EDIT_PUT, path, &p->put,
	    &out) == 0) && ++step &&
	    (p->del.len == 0 || postmap_in(s, g, RS_EDIT_DEL, path, &p->del,
	    &out) == 0) && ++step &&
	    index_shows(s, g, path, &p->put, &p->del) && ++step &&
	    fsync_at(g->fd, index, O_RDONLY) == 0)
		step = P_DONE;
	buf_wipe(&old);
	buf_wipe(&out);
	return step;
}

/* Patch a copy of the live index of table i into g; -1: rebuild. */
static int
patch_index(const struct site *s, const struct gdir *g, int i,
    const struct rs_tables *t)
{
	const char *suffix = map_suffix(s->c->postfix.map_type);
	const char *name = rs_table_info[i].name;
	enum patch_step step;
	struct patch p;
	struct buf index, path;

	if (suffix == NULL || strcmp(s->c->postfix.map_type, "cdb") == 0)
		return -1;
	memset(&p, 0, sizeof(p));
	buf_init(&index);
	buf_init(&path);
	buf_printf(&index, "%s%s", name, suffix);
	buf_printf(&path, "%s/%s", g->path.data, name);
	step = patch_steps(s, g, i, path.data, index.data, t, &p);
	if (step == P_DONE)
		rs_log(RS_LOG_DEBUG, "%s: %zu changed lines patched into a copy "
		    "of the live index", name, p.n);
	else {
		unlinkat(g->fd, index.data, 0);
		rs_log(step < P_COPY ? RS_LOG_DEBUG : RS_LOG_INFO, "%s: index "
		    "not patched (%s); building it from scratch", name,
		    patch_where[step]);
	}
	buf_wipe(&p.put);
	buf_free(&p.del);
	buf_free(&index);
	buf_free(&path);
	return step == P_DONE ? 0 : -1;
}

/* Hard-link a file of the live generation into g (generations are never
 * changed in place, so they may share files). */
static int
link_live(const struct site *s, const struct gdir *g, const char *name,
    const char *suffix)
{
	struct buf file;
	int rc;

	buf_init(&file);
	buf_printf(&file, "%s%s", name, suffix);
	rc = linkat(s->lfd, file.data, g->fd, file.data, 0);
	buf_free(&file);
	return rc;
}

/* The steps of sharing a table with the live generation, in order; those
 * before S_LINK only decide whether it can be shared. */
enum share_step { S_READ, S_SAME, S_STAMPED, S_LINK, S_LINK_INDEX, S_DONE };

static const char *const share_where[] = {
	"reading the live text", "its text changed",
	"finding the live index stamped verified",
	"linking the live text", "linking the live index"
};

/* Share a table with the live generation when its text is the same and
 * its index (the suffix; NULL: none, as for texthash and the owners file)
 * is stamped verified for that text; step moves on with each check that
 * passes, and the log names the first that did not. */
static int
share_unchanged(const struct site *s, const struct gdir *g,
    const char *name, const struct buf *text, const char *index)
{
	enum share_step step = S_READ;
	struct buf live;

	buf_init(&live);
	if (read_at(s->lfd, name, &live) == 0 && ++step &&
	    live.len == text->len && memcmp(live.data, text->data ?
	    text->data : "", text->len) == 0 && ++step &&
	    (index == NULL || stamp_verified(s->c, name, text)) && ++step &&
	    link_live(s, g, name, "") == 0 && ++step &&
	    (index == NULL || link_live(s, g, name, index) == 0))
		step = S_DONE;
	buf_wipe(&live);
	if (step != S_DONE)
		rs_log(step < S_LINK ? RS_LOG_DEBUG : RS_LOG_INFO, "%s: not "
		    "shared with the live generation (%s); writing it", name,
		    share_where[step]);
	return step == S_DONE ? 0 : -1;
}

/* Write the text of table i into g with its mode, removing what a
 * half-shared table left (its text and index, suffix; NULL: none). */
static int
put_table(const struct gdir *g, int i,
    const struct buf *text, const char *suffix, struct rs_err *err)
{
	const char *name = rs_table_info[i].name;
	struct buf path;
	int rc;

	buf_init(&path);
	buf_printf(&path, "%s/%s", g->path.data, name);
	unlinkat(g->fd, name, 0);
	if (suffix != NULL) {
		buf_adds(&path, suffix);
		unlinkat(g->fd, path.data + g->path.len + 1, 0);
		path.len -= strlen(suffix);
		buf_str(&path);
	}
	rc = write_file_at(g->fd, name, path.data, text, rs_table_info[i].mode,
	    1, err);
	buf_free(&path);
	return rc;
}

/* Table i of the set into g: shared with the live generation, or written
 * and, for a Postfix table, its index patched or rebuilt. */
static int
write_table(const struct site *s, const struct gdir *g, int i,
    const struct rs_tables *t, struct rs_err *err)
{
	const char *name = rs_table_info[i].name;
	const char *suffix = rs_table_info[i].postfix ?
	    map_suffix(s->c->postfix.map_type) : NULL;

	if (share_unchanged(s, g, name, &t->t[i], suffix) == 0)
		return 0;
	if (put_table(g, i, &t->t[i], suffix, err) < 0)
		return -1;
	if (rs_table_info[i].postfix && patch_index(s, g, i, t) < 0)
		return postmap(s, g, name, &t->t[i], err);
	return 0;
}

/*
 * The tables of a generation are written at the same time, by as many
 * workers as there are online CPUs (this thread is one of them): each
 * takes the largest table not yet taken, so that a big postmap does not
 * start last. After a failure no worker takes another table; those
 * running finish, and every failure is named (the first in err, the
 * others in the log). The caller removes the generation when one failed.
 */
struct tables_job {
	const struct site *s;
	const struct gdir *g;
	const struct rs_tables *t;
	pthread_mutex_t lock;
	int order[RS_T_SET];	/* the tables, largest first */
	int next;		/* the next in order to take */
	int failed;		/* a table failed: take no more */
	int rc[RS_T_SET];
	struct rs_err err[RS_T_SET];
};

static int
take_table(struct tables_job *j, int failed)
{
	int i = RS_T_SET;

	pthread_mutex_lock(&j->lock);
	j->failed |= failed;
	if (!j->failed && j->next < RS_T_SET)
		i = j->order[j->next++];
	pthread_mutex_unlock(&j->lock);
	return i;
}

static void *
table_worker(void *arg)
{
	struct tables_job *j = arg;
	int i, failed = 0;

	while ((i = take_table(j, failed)) < RS_T_SET)
		failed = (j->rc[i] = write_table(j->s, j->g, i, j->t,
		    &j->err[i])) < 0;
	return NULL;
}

static void
order_tables(struct tables_job *j)
{
	int i, k, tmp;

	for (i = 0; i < RS_T_SET; i++)
		j->order[i] = i;
	for (i = 1; i < RS_T_SET; i++)
		for (k = i; k > 0 && j->t->t[j->order[k]].len >
		    j->t->t[j->order[k - 1]].len; k--) {
			tmp = j->order[k];
			j->order[k] = j->order[k - 1];
			j->order[k - 1] = tmp;
		}
}

/* Run the table workers, at most one per online CPU; 0, or -1 with the
 * first failed table's error in err and the others logged. */
static int
write_tables(struct tables_job *j, struct rs_err *err)
{
	pthread_t th[RS_T_SET];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int i, n = 0, rc = 0;

	order_tables(j);
	while (n + 1 < RS_T_SET && n + 1 < cpus &&
	    pthread_create(&th[n], NULL, table_worker, j) == 0)
		n++;
	table_worker(j);
	while (n > 0)
		pthread_join(th[--n], NULL);
	for (i = 0; i < RS_T_SET; i++)
		if (j->rc[i] < 0 && rc++ == 0)
			*err = j->err[i];
		else if (j->rc[i] < 0)
			rs_log(RS_LOG_ERROR, "%s", j->err[i].msg);
	return rc ? -1 : 0;
}

static int
write_generation(const struct site *s, const struct gdir *g,
    const struct rs_tables *t, struct rs_err *err)
{
	struct tables_job j;
	struct buf warm;
	int rc;

	memset(&j, 0, sizeof(j));
	j.s = s;
	j.g = g;
	j.t = t;
	pthread_mutex_init(&j.lock, NULL);
	buf_init(&warm);
	config_postfix_cmd(s->c, "postmap", &warm);	/* asked once, here */
	buf_free(&warm);
	rc = write_tables(&j, err);
	pthread_mutex_destroy(&j.lock);
	if (rc == 0 && fsync(g->fd) < 0)
		rc = sys_err(err, "cannot fsync", g->path.data);
	return rc;
}

/* Move a plain map_dir out of the way as generation old. */
static int
convert_plain(struct site *s, unsigned long old, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir;
	char dst[32];

	snprintf(dst, sizeof(dst), "%lu", old);
	if (renameat2(s->pfd, s->tmpname.data, s->pfd, s->base,
	    RENAME_EXCHANGE) == 0) {
		if (renameat(s->pfd, s->tmpname.data, s->gfd, dst) < 0)
			rs_log(RS_LOG_WARN, "cannot keep the old %s as %s/%s: "
			    "%s", md, s->gens.data, dst, strerror(errno));
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return sys_err(err, "cannot switch", md);
	if (renameat(s->pfd, s->base, s->gfd, dst) < 0)
		return sys_err(err, "cannot move the plain directory", md);
	if (renameat(s->pfd, s->tmpname.data, s->pfd, s->base) < 0)
		return sys_err(err, "cannot switch", md);
	return 0;
}

static int
switch_link(struct site *s, unsigned long gen, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir;
	struct buf target;
	int rc;

	buf_init(&target);
	buf_printf(&target, "%s/%lu", s->gname.data, gen);
	unlinkat(s->pfd, s->tmpname.data, 0);
	if (symlinkat(target.data, s->pfd, s->tmpname.data) < 0)
		rc = sys_err(err, "cannot create the link next to", md);
	else if (s->layout == L_DIR)
		rc = convert_plain(s, gen - 1, err);
	else if (renameat(s->pfd, s->tmpname.data, s->pfd, s->base) < 0)
		rc = sys_err(err, "cannot switch", md);
	else
		rc = 0;
	buf_free(&target);
	if (rc == 0 && (fsync(s->pfd) < 0 || fsync(s->gfd) < 0))
		rs_log(RS_LOG_WARN, "cannot fsync %s: %s", s->parent.data,
		    strerror(errno));
	return rc;
}

/* Reload Postfix when it is running (not running: nothing to do). */
static int
reload(const struct rs_config *c, const struct rs_installer *inst,
    struct rs_applied *out, struct rs_err *err)
{
	struct buf cmd, o;
	int rc = 0;

	buf_init(&cmd);
	buf_init(&o);
	if (inst->running(c, &o) != 0)
		rs_log(RS_LOG_INFO, "Postfix (%s) is not running; it will read "
		    "the new tables when it starts", c->postfix.config_dir);
	else if ((rc = inst->reload(c, &o)) != 0)
		rs_err_set(err, RS_EX_FAIL, "the new tables are installed but "
		    "postfix -c %s reload failed (status %d, %s): %s",
		    c->postfix.config_dir, rc, config_postfix_cmd(c, "postfix",
		    &cmd), buf_str(&o));
	else
		out->reloaded = 1;
	buf_free(&cmd);
	buf_free(&o);
	return rc ? -1 : 0;
}

/* Open map_dir's directory (checked, created when create) and, when
 * present or create, the generations directory. */
static int
site_open(struct site *s, const struct rs_config *c, int create,
    struct rs_err *err)
{
	const char *md = c->postfix.map_dir, *slash = strrchr(md, '/');

	memset(s, 0, sizeof(*s));
	s->c = c;
	s->gfd = s->lfd = -1;
	buf_init(&s->gens);
	buf_init(&s->parent);
	buf_init(&s->gname);
	buf_init(&s->tmpname);
	s->base = slash + 1;
	buf_printf(&s->gens, "%s.generations", md);
	buf_printf(&s->gname, "%s.generations", s->base);
	buf_printf(&s->tmpname, "%s.new", s->base);
	buf_add(&s->parent, md, slash == md ? 1 : (size_t)(slash - md));
	buf_str(&s->parent);
	if ((s->pfd = safe_dir(s->parent.data, create ? 0755 : 0, err)) < 0 ||
	    open_gens(s, create, err) < 0)
		return -1;
	return inspect(s, err);
}

static void
site_close(struct site *s)
{
	if (s->pfd >= 0)
		close(s->pfd);
	if (s->gfd >= 0)
		close(s->gfd);
	if (s->lfd >= 0)
		close(s->lfd);
	buf_free(&s->gens);
	buf_free(&s->parent);
	buf_free(&s->gname);
	buf_free(&s->tmpname);
}

/* The number install() gives a generation. */
static unsigned long
next_number(const struct site *s)
{
	return s->max + (s->layout == L_DIR ? 2 : 1);
}

static int
install(struct site *s, const struct rs_tables *t, struct rs_applied *out,
    struct rs_err *err)
{
	unsigned long gen;
	struct gdir g;
	char name[32];
	int rc;

	recover_tmplink(s);
	prune(s, s->current);
	gen = next_number(s);
	snprintf(name, sizeof(name), "%lu", gen);
	buf_init(&g.path);
	buf_printf(&g.path, "%s/%s", s->gens.data, name);
	if (mkdirat(s->gfd, name, 0755) < 0 ||
	    (g.fd = open_component(s->gfd, name, 0)) < 0)
		rc = sys_err(err, "cannot create", g.path.data);
	else {
		rc = write_generation(s, &g, t, err);
		close(g.fd);
	}
	if (rc == 0)
		rc = switch_link(s, gen, err);
	if (rc < 0)
		remove_tree_at(s->gfd, name, s->gens.data);
	else {
		prune(s, gen);
		out->generation = gen;
	}
	buf_free(&g.path);
	return rc;
}

int
apply_stamps(const struct rs_config *c, const struct rs_tables *t,
    struct rs_err *err)
{
	struct buf all;
	int rc;

	buf_init(&all);
	stamp_file(c, t, &all);
	rc = apply_state(c, RS_INDEX_STAMPS, &all, err);
	buf_free(&all);
	return rc;
}

unsigned long
apply_generation(const struct rs_config *c)
{
	struct rs_err err;
	struct site s;
	unsigned long gen;

	gen = site_open(&s, c, 0, &err) == 0 ? s.current : 0;
	site_close(&s);
	return gen;
}

unsigned long
apply_next_generation(const struct rs_config *c)
{
	struct rs_err err;
	struct site s;
	unsigned long gen;

	gen = site_open(&s, c, 0, &err) == 0 ? next_number(&s) : 1;
	site_close(&s);
	return gen;
}

int
apply_tables(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_tables *t, int tables_changed, struct rs_applied *out,
    struct rs_err *err)
{
	struct site s;
	mode_t mask = umask(022);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = site_open(&s, c, 1, err);
	s.inst = inst;
	if (rc == 0)
		rc = install(&s, t, out, err);
	site_close(&s);
	umask(mask);
	if (rc == 0 && apply_stamps(c, t, err) < 0)
		rs_log(RS_LOG_WARN, "%s; the next run checks the indexes again",
		    err->msg);
	if (rc == 0 && tables_changed && c->postfix.reload)
		rc = reload(c, inst, out, err);
	return rc;
}

/* The highest generation below gen whose directory holds a whole table
 * set (every table, its index, the owners file); 0 when there is none. */
static unsigned long
previous_generation(const struct site *s, unsigned long gen)
{
	const char *suffix = map_suffix(s->c->postfix.map_type);
	unsigned long n, best = 0;
	struct dirent *e;
	struct buf p;
	struct stat st;
	DIR *d;
	int i, whole, fd;

	if (s->gfd < 0 || (fd = openat(s->gfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	buf_init(&p);
	while ((e = readdir(d)) != NULL) {
		if (parse_gen(e->d_name, &n) < 0 || n >= gen || n <= best)
			continue;
		whole = 1;
		for (i = 0; i < RS_T_SET && whole; i++) {
			buf_reset(&p);
			buf_printf(&p, "%lu/%s", n, rs_table_info[i].name);
			whole = fstatat(s->gfd, p.data, &st,
			    AT_SYMLINK_NOFOLLOW) == 0;
			if (whole && suffix && rs_table_info[i].postfix) {
				buf_adds(&p, suffix);
				whole = fstatat(s->gfd, p.data, &st,
				    AT_SYMLINK_NOFOLLOW) == 0;
			}
		}
		if (whole)
			best = n;
	}
	closedir(d);
	buf_free(&p);
	return best;
}

void
apply_generations(const struct rs_config *c, unsigned long *live,
    unsigned long *previous)
{
	struct rs_err err;
	struct site s;

	*live = site_open(&s, c, 0, &err) == 0 ? s.current : 0;
	*previous = *live ? previous_generation(&s, *live) : 0;
	site_close(&s);
}

int
apply_rollback(const struct rs_config *c, const struct rs_installer *inst,
    struct rs_applied *out, unsigned long *from, struct rs_err *err)
{
	struct site s;
	unsigned long prev;
	int rc;

	memset(out, 0, sizeof(*out));
	*from = 0;
	if ((rc = site_open(&s, c, 0, err)) == 0 && s.layout != L_LINK)
		rc = rs_err_set(err, RS_EX_FAIL, "postfix.map_dir %s is not "
		    "relaysync's link to a generation: there is nothing to roll "
		    "back to", c->postfix.map_dir);
	else if (rc == 0 && (prev = previous_generation(&s, s.current)) == 0)
		rc = rs_err_set(err, RS_EX_FAIL, "no generation before the live "
		    "one (%lu) is kept in %s: there is nothing to roll back to",
		    s.current, s.gens.data);
	else if (rc == 0 && (rc = switch_link(&s, prev, err)) == 0) {
		*from = s.current;
		out->generation = prev;
	}
	site_close(&s);
	if (rc == 0 && c->postfix.reload)
		rc = reload(c, inst, out, err);
	return rc;
}

/* The hold: "since <time>", "from <generation>", "to <generation>". */
int
apply_hold(const struct rs_config *c, unsigned long from, unsigned long to,
    struct rs_err *err)
{
	struct buf b;
	int rc;

	buf_init(&b);
	buf_printf(&b, "since %lld\nfrom %lu\nto %lu\n", (long long)time(NULL),
	    from, to);
	rc = apply_state(c, RS_HOLD_FILE, &b, err);
	buf_free(&b);
	return rc;
}

int
apply_held(const struct rs_config *c, struct rs_hold *h)
{
	struct buf path, text;
	struct rs_err err;
	long long since = 0;
	int held;

	memset(h, 0, sizeof(*h));
	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_HOLD_FILE);
	held = read_file(path.data, &text, &err) == 0;
	if (held && sscanf(buf_str(&text), "since %lld from %lu to %lu",
	    &since, &h->from, &h->to) >= 1)
		h->since = (time_t)since;
	buf_free(&path);
	buf_free(&text);
	return held;
}

int
apply_resume(const struct rs_config *c, struct rs_err *err)
{
	struct buf path;
	int rc = 0, dfd = safe_dir(c->state_dir, 0, err);

	if (dfd < 0)
		return -1;
	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_HOLD_FILE);
	if (unlinkat(dfd, RS_HOLD_FILE, 0) < 0 && errno != ENOENT)
		rc = sys_err(err, "cannot remove", path.data);
	close(dfd);
	buf_free(&path);
	return rc;
}

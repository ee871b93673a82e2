/*
 * apply - install a new table set atomically, and reload Postfix.
 * See apply.h for the contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "plan.h"

enum layout { L_NONE, L_LINK, L_DIR };

struct site {
	const struct rs_config *c;
	struct buf gens;	/* <map_dir>.generations */
	struct buf parent;	/* the directory holding map_dir */
	struct buf tmplink;	/* <map_dir>.new */
	const char *base;	/* last component of map_dir */
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

static int
mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; *s && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

int
apply_lock(const struct rs_config *c, struct rs_lock *l, struct rs_err *err)
{
	struct buf path;

	buf_init(&path);
	buf_printf(&path, "%s/relaysync.lock", c->state_dir);
	l->fd = -1;
	if (mkdir_p(c->state_dir, 0700) < 0 ||
	    (l->fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		sys_err(err, "cannot create the lock file", path.data);
		buf_free(&path);
		return -1;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		rs_err_set(err, RS_EX_TEMPFAIL, "another relaysync run holds "
		    "%s; this run did nothing (try again when it has finished)",
		    path.data);
		close(l->fd);
		l->fd = -1;
		buf_free(&path);
		return -1;
	}
	buf_free(&path);
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
fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), rc;

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

static int
inspect(struct site *s, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir, *slash;
	char target[4096];
	struct stat st;
	ssize_t n;

	s->layout = L_NONE;
	s->current = 0;
	if (lstat(md, &st) < 0)
		return errno == ENOENT ? 0 : sys_err(err, "cannot inspect", md);
	if (S_ISDIR(st.st_mode))
		return s->layout = L_DIR, 0;
	if (!S_ISLNK(st.st_mode) ||
	    (n = readlink(md, target, sizeof(target) - 1)) < 0)
		return rs_err_set(err, RS_EX_CANTCREAT, "postfix.map_dir %s is "
		    "neither a directory nor relaysync's link; move it away",
		    md);
	target[n] = '\0';
	slash = strrchr(target, '/');
	if (slash == NULL || parse_gen(slash + 1, &s->current) < 0)
		return rs_err_set(err, RS_EX_CANTCREAT, "postfix.map_dir %s "
		    "links to %s, not to a generation in %s; move it away", md,
		    target, s->gens.data);
	s->layout = L_LINK;
	return 0;
}

static void
remove_tree(const char *dir)
{
	struct dirent *e;
	struct buf p;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	buf_init(&p);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, e->d_name);
		if (unlink(p.data) < 0 && errno == EISDIR)
			remove_tree(p.data);
	}
	closedir(d);
	buf_free(&p);
	if (rmdir(dir) < 0)
		rs_log(RS_LOG_WARN, "cannot remove old generation %s: %s",
		    dir, strerror(errno));
}

/* Find the highest generation; remove all but keep and its predecessor. */
static void
prune(struct site *s, unsigned long keep)
{
	unsigned long n, prev = 0;
	struct dirent *e;
	struct buf p;
	DIR *d;

	s->max = keep;
	if ((d = opendir(s->gens.data)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (parse_gen(e->d_name, &n) == 0) {
			if (n < keep && n > prev)
				prev = n;
			if (n > s->max)
				s->max = n;
		}
	rewinddir(d);
	buf_init(&p);
	while ((e = readdir(d)) != NULL) {
		if (parse_gen(e->d_name, &n) < 0 || n == keep || n == prev)
			continue;
		buf_reset(&p);
		buf_printf(&p, "%s/%s", s->gens.data, e->d_name);
		remove_tree(p.data);
	}
	closedir(d);
	buf_free(&p);
}

/* A run killed while converting a plain map_dir left it at tmplink. */
static void
recover_tmplink(struct site *s)
{
	struct stat st;
	struct buf p;

	if (lstat(s->tmplink.data, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(s->tmplink.data);
		return;
	}
	buf_init(&p);
	buf_printf(&p, "%s/%lu", s->gens.data, s->current ? s->current - 1 : 1);
	if (s->current < 2 || rename(s->tmplink.data, p.data) < 0)
		remove_tree(s->tmplink.data);
	buf_free(&p);
}

static int
write_file_sync(const char *path, const struct buf *b, mode_t mode, int sync,
    struct rs_err *err)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return sys_err(err, "cannot create", path);
	while (off < b->len) {
		if ((n = write(fd, b->data + off, b->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return sys_err(err, "cannot write", path);
		}
		off += (size_t)n;
	}
	if (sync && fsync(fd) < 0) {
		close(fd);
		return sys_err(err, "cannot fsync", path);
	}
	if (close(fd) < 0)
		return sys_err(err, "cannot close", path);
	return 0;
}

static int
write_file(const char *path, const struct buf *b, mode_t mode,
    struct rs_err *err)
{
	return write_file_sync(path, b, mode, 1, err);
}

static int
replace_file(const char *path, const struct buf *b, mode_t mode, int sync,
    struct rs_err *err)
{
	struct buf tmp;
	int rc;

	buf_init(&tmp);
	buf_printf(&tmp, "%s.tmp", path);
	unlink(tmp.data);
	rc = write_file_sync(tmp.data, b, mode, sync, err);
	if (rc == 0 && rename(tmp.data, path) < 0)
		rc = sys_err(err, "cannot replace", path);
	if (rc < 0)
		unlink(tmp.data);
	buf_free(&tmp);
	return rc;
}

int
apply_file(const char *path, const struct buf *b, mode_t mode,
    struct rs_err *err)
{
	return replace_file(path, b, mode, 1, err);
}

static int
state_file(const struct rs_config *c, const char *name, const struct buf *b,
    int sync, struct rs_err *err)
{
	struct buf path;
	int rc;

	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, name);
	if (mkdir_p(c->state_dir, 0700) < 0)
		rc = sys_err(err, "cannot create", c->state_dir);
	else
		rc = replace_file(path.data, b, 0600, sync, err);
	buf_free(&path);
	return rc;
}

int
apply_state(const struct rs_config *c, const char *name, const struct buf *b,
    struct rs_err *err)
{
	return state_file(c, name, b, 1, err);
}

int
apply_cache(const struct rs_config *c, const char *name, const struct buf *b,
    struct rs_err *err)
{
	return state_file(c, name, b, 0, err);
}

/* Index one table, then check that the index holds exactly its text:
 * postmap can exit 0 with an empty index when the disk is full. */
static int
postmap(const struct site *s, const char *path, const struct buf *text,
    struct rs_err *err)
{
	const struct rs_config *c = s->c;
	const char *suffix = map_suffix(c->postfix.map_type);
	struct buf arg, out;
	int rc;

	if (suffix == NULL)
		return 0;
	buf_init(&arg);
	buf_init(&out);
	buf_printf(&arg, "%s:%s", c->postfix.map_type, path);
	{
		char *argv[] = { "postmap", "-c", c->postfix.config_dir,
		    arg.data, NULL };

		rc = run_cmd(argv, &out);
	}
	if (rc != 0)
		rs_err_set(err, RS_EX_CANTCREAT, "postmap -c %s %s failed "
		    "(status %d): %s; the installed tables are unchanged",
		    c->postfix.config_dir, arg.data, rc, buf_str(&out));
	buf_reset(&arg);
	buf_printf(&arg, "%s%s", path, suffix);
	if (rc == 0 && fsync_path(arg.data, O_RDONLY) < 0)
		rc = sys_err(err, "cannot fsync", arg.data);
	if (rc == 0 && !index_agrees(c, path, text))
		rc = rs_err_set(err, RS_EX_CANTCREAT, "postmap wrote %s but "
		    "it does not hold exactly the lines of %s (is the disk "
		    "full?); the installed tables are unchanged", arg.data,
		    path);
	buf_free(&arg);
	buf_free(&out);
	return rc ? -1 : 0;
}

/*
 * Patching an index instead of rebuilding it: when the live index of a
 * table is stamped as verified for the live text (plan.h), and few lines
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

/* The length of a line without its newline. */
static size_t
line_len(const char *line)
{
	return strcspn(line, "\n");
}

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
		add_line(&p->put, new, line_len(new));
	else
		add_line(&p->del, old, render_key_len(old));
	p->n++;
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text = render_next_line(text))
		n++;
	return n;
}

static int
copy_file(const char *from, const char *to)
{
	char chunk[65536];
	struct stat st;
	ssize_t n = 0;
	int in, out = -1, rc = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(in, &st) == 0)
		out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    st.st_mode & 07777);
	while (out >= 0 && (n = read(in, chunk, sizeof(chunk))) > 0)
		if (write(out, chunk, (size_t)n) != n)
			break;
	if (out >= 0 && n == 0 && fsync(out) == 0)
		rc = 0;
	close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	return rc;
}

/* Run "postmap -c <config_dir> opt arg map" with standard input from a
 * temporary file holding in (0600: sasl_passwd lines hold passwords). */
static int
postmap_in(const struct site *s, const char *dir, const char *opt,
    const char *map, const struct buf *in, struct buf *out)
{
	char *argv[] = { "postmap", "-c", s->c->postfix.config_dir,
	    (char *)opt, strcmp(opt, "-i") == 0 ? "-r" : "-", (char *)map,
	    NULL };
	struct rs_err err;
	struct buf tmp;
	int rc;

	buf_init(&tmp);
	buf_printf(&tmp, "%s/.postmap-input", dir);
	rc = write_file(tmp.data, in, 0600, &err);
	if (rc == 0)
		rc = run_cmd_in(argv, tmp.data, out);
	unlink(tmp.data);
	buf_free(&tmp);
	return rc;
}

/* Does "postmap -q -" show every put line and none of the removed keys? */
static int
patch_shows(const struct site *s, const char *dir, const char *map,
    const struct patch *p)
{
	struct buf keys, out, want;
	const char *l;
	size_t k, v;
	int rc;

	buf_init(&keys);
	buf_init(&out);
	buf_init(&want);
	for (l = p->put.data; l && *l; l = render_next_line(l)) {
		k = render_key_len(l);
		v = k + strspn(l + k, " \t");
		add_line(&keys, l, k);
		buf_add(&want, l, k);
		buf_add(&want, "\t", 1);
		add_line(&want, l + v, line_len(l) - v);
	}
	buf_add(&keys, p->del.data, p->del.len);
	rc = postmap_in(s, dir, "-q", map, &keys, &out);
	if (out.len)
		buf_add(&out, "\n", 1);
	rc = (rc == 0 || (rc == 1 && want.len == 0)) && out.len == want.len &&
	    (want.len == 0 || memcmp(out.data, want.data, want.len) == 0);
	buf_free(&keys);
	buf_wipe(&out);
	buf_wipe(&want);
	return rc;
}

/* Patch a copy of the live index of table i into dir; -1: rebuild. */
static int
patch_index(const struct site *s, const char *dir, int i,
    const struct rs_tables *t)
{
	const struct rs_config *c = s->c;
	const char *suffix = map_suffix(c->postfix.map_type);
	struct patch p;
	struct buf old, from, to, map, out;
	struct rs_err err;
	int rc = -1;

	if (suffix == NULL || strcmp(c->postfix.map_type, "cdb") == 0)
		return -1;
	memset(&p, 0, sizeof(p));
	buf_init(&old);
	buf_init(&from);
	buf_init(&to);
	buf_init(&map);
	buf_init(&out);
	buf_printf(&from, "%s/%s", c->postfix.map_dir, rs_table_names[i]);
	buf_printf(&to, "%s/%s%s", dir, rs_table_names[i], suffix);
	buf_printf(&map, "%s:%s/%s", c->postfix.map_type, dir,
	    rs_table_names[i]);
	if (read_file(from.data, &old, &err) == 0 &&
	    index_verified(c, rs_table_names[i], &old)) {
		buf_adds(&from, suffix);
		if (render_diff(buf_str(&old), t->t[i].data ? t->t[i].data :
		    "", on_diff, &p) == 0 &&
		    p.n * 10 <= count_lines(t->t[i].data ? t->t[i].data : "") &&
		    copy_file(from.data, to.data) == 0 &&
		    (p.put.len == 0 || postmap_in(s, dir, "-i", map.data,
		    &p.put, &out) == 0) && (p.del.len == 0 || postmap_in(s,
		    dir, "-d", map.data, &p.del, &out) == 0) &&
		    patch_shows(s, dir, map.data, &p) &&
		    fsync_path(to.data, O_RDONLY) == 0)
			rc = 0;
	}
	if (rc < 0)
		unlink(to.data);
	else
		rs_log(RS_LOG_DEBUG, "%s: %zu changed lines patched into a copy "
		    "of the live index", rs_table_names[i], p.n);
	buf_wipe(&old);
	buf_wipe(&p.put);
	buf_free(&p.del);
	buf_free(&from);
	buf_free(&to);
	buf_free(&map);
	buf_wipe(&out);
	return rc;
}

/* Hard-link a file of the live generation into dir (generations are
 * never changed in place, so they may share files). */
static int
link_live(const struct site *s, const char *dir, const char *name,
    const char *suffix)
{
	struct buf from, to;
	int rc;

	buf_init(&from);
	buf_init(&to);
	buf_printf(&from, "%s/%s%s", s->c->postfix.map_dir, name, suffix);
	buf_printf(&to, "%s/%s%s", dir, name, suffix);
	rc = link(from.data, to.data);
	buf_free(&from);
	buf_free(&to);
	return rc;
}

/* Share a table with the live generation when its text is the same and
 * its index (the suffix; NULL: none, as for texthash and the owners file)
 * is stamped verified for that text. */
static int
share_unchanged(const struct site *s, const char *dir, const char *name,
    const struct buf *text, const char *index)
{
	const struct rs_config *c = s->c;
	struct buf live, path;
	struct rs_err err;
	int same;

	buf_init(&live);
	buf_init(&path);
	buf_printf(&path, "%s/%s", c->postfix.map_dir, name);
	same = read_file(path.data, &live, &err) == 0 && live.len ==
	    text->len && memcmp(live.data, text->data ? text->data : "",
	    text->len) == 0 && (index == NULL || index_verified(c, name,
	    text)) && link_live(s, dir, name, "") == 0 &&
	    (index == NULL || link_live(s, dir, name, index) == 0);
	buf_wipe(&live);
	buf_free(&path);
	return same ? 0 : -1;
}

static int
write_table(const struct site *s, const char *dir, int i,
    const struct rs_tables *t, struct rs_err *err)
{
	const char *suffix = map_suffix(s->c->postfix.map_type);
	struct buf path;
	int rc;

	if (share_unchanged(s, dir, rs_table_names[i], &t->t[i], suffix) == 0)
		return 0;
	buf_init(&path);
	buf_printf(&path, "%s/%s", dir, rs_table_names[i]);
	unlink(path.data);	/* a half-shared table: start again */
	if (suffix != NULL) {
		buf_adds(&path, suffix);
		unlink(path.data);
		path.len -= strlen(suffix);
		buf_str(&path);
	}
	rc = write_file(path.data, &t->t[i], rs_table_private[i] ? 0600 :
	    0640, err);
	if (rc == 0 && patch_index(s, dir, i, t) < 0)
		rc = postmap(s, path.data, &t->t[i], err);
	buf_free(&path);
	return rc;
}

static int
write_generation(const struct site *s, const char *dir,
    const struct rs_tables *t, struct rs_err *err)
{
	struct buf path;
	int i, rc = 0;

	buf_init(&path);
	for (i = 0; i < RS_T_COUNT && rc == 0; i++)
		rc = write_table(s, dir, i, t, err);
	if (rc == 0 && share_unchanged(s, dir, RS_OWNERS_FILE, &t->owners,
	    NULL) < 0) {
		buf_printf(&path, "%s/%s", dir, RS_OWNERS_FILE);
		unlink(path.data);
		rc = write_file(path.data, &t->owners, 0640, err);
	}
	if (rc == 0 && fsync_path(dir, O_RDONLY | O_DIRECTORY) < 0)
		rc = sys_err(err, "cannot fsync", dir);
	buf_free(&path);
	return rc;
}

/* Move a plain map_dir out of the way as generation old. */
static int
convert_plain(struct site *s, unsigned long old, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir;
	struct buf dst;
	int rc = 0;

	buf_init(&dst);
	buf_printf(&dst, "%s/%lu", s->gens.data, old);
	if (renameat2(AT_FDCWD, s->tmplink.data, AT_FDCWD, md,
	    RENAME_EXCHANGE) == 0) {
		if (rename(s->tmplink.data, dst.data) < 0)
			rs_log(RS_LOG_WARN, "cannot keep the old %s as %s: %s",
			    md, dst.data, strerror(errno));
	} else if (errno != EINVAL && errno != ENOSYS)
		rc = sys_err(err, "cannot switch", md);
	else if (rename(md, dst.data) < 0)
		rc = sys_err(err, "cannot move the plain directory", md);
	else if (rename(s->tmplink.data, md) < 0)
		rc = sys_err(err, "cannot switch", md);
	buf_free(&dst);
	return rc;
}

static int
switch_link(struct site *s, unsigned long gen, struct rs_err *err)
{
	const char *md = s->c->postfix.map_dir;
	struct buf target;
	int rc;

	buf_init(&target);
	buf_printf(&target, "%s.generations/%lu", s->base, gen);
	unlink(s->tmplink.data);
	if (symlink(target.data, s->tmplink.data) < 0)
		rc = sys_err(err, "cannot create the link", s->tmplink.data);
	else if (s->layout == L_DIR)
		rc = convert_plain(s, gen - 1, err);
	else if (rename(s->tmplink.data, md) < 0)
		rc = sys_err(err, "cannot switch", md);
	else
		rc = 0;
	buf_free(&target);
	if (rc == 0 && (fsync_path(s->parent.data, O_RDONLY | O_DIRECTORY) < 0
	    || fsync_path(s->gens.data, O_RDONLY | O_DIRECTORY) < 0))
		rs_log(RS_LOG_WARN, "cannot fsync %s: %s", s->parent.data,
		    strerror(errno));
	return rc;
}

static int
reload(const struct rs_config *c, struct rs_applied *out, struct rs_err *err)
{
	char *status[] = { "postfix", "-c", c->postfix.config_dir, "status",
	    NULL };
	char *rl[] = { "postfix", "-c", c->postfix.config_dir, "reload",
	    NULL };
	struct buf o;
	int rc;

	buf_init(&o);
	if (run_cmd(status, &o) != 0) {
		rs_log(RS_LOG_INFO, "Postfix (%s) is not running; it will read "
		    "the new tables when it starts", c->postfix.config_dir);
		buf_free(&o);
		return 0;
	}
	if ((rc = run_cmd(rl, &o)) != 0)
		rs_err_set(err, RS_EX_FAIL, "the new tables are installed but "
		    "postfix -c %s reload failed (status %d): %s",
		    c->postfix.config_dir, rc, buf_str(&o));
	else
		out->reloaded = 1;
	buf_free(&o);
	return rc ? -1 : 0;
}

static void
site_init(struct site *s, const struct rs_config *c)
{
	const char *md = c->postfix.map_dir, *slash = strrchr(md, '/');

	memset(s, 0, sizeof(*s));
	s->c = c;
	buf_init(&s->gens);
	buf_init(&s->parent);
	buf_init(&s->tmplink);
	buf_printf(&s->gens, "%s.generations", md);
	buf_printf(&s->tmplink, "%s.new", md);
	buf_add(&s->parent, md, slash == md ? 1 : (size_t)(slash - md));
	buf_str(&s->parent);
	s->base = slash + 1;
}

static void
site_free(struct site *s)
{
	buf_free(&s->gens);
	buf_free(&s->parent);
	buf_free(&s->tmplink);
}

static int
install(struct site *s, const struct rs_tables *t, struct rs_applied *out,
    struct rs_err *err)
{
	unsigned long gen;
	struct buf dir;
	int rc;

	if (inspect(s, err) < 0)
		return -1;
	if (mkdir_p(s->gens.data, 0755) < 0)
		return sys_err(err, "cannot create", s->gens.data);
	recover_tmplink(s);
	prune(s, s->current);
	gen = s->max + (s->layout == L_DIR ? 2 : 1);
	buf_init(&dir);
	buf_printf(&dir, "%s/%lu", s->gens.data, gen);
	if (mkdir(dir.data, 0755) < 0)
		rc = sys_err(err, "cannot create", dir.data);
	else
		rc = write_generation(s, dir.data, t, err);
	if (rc == 0)
		rc = switch_link(s, gen, err);
	if (rc < 0)
		remove_tree(dir.data);
	else {
		prune(s, gen);
		out->generation = gen;
	}
	buf_free(&dir);
	return rc;
}

int
apply_stamps(const struct rs_config *c, const struct rs_tables *t,
    struct rs_err *err)
{
	struct buf all, line;
	int i, rc;

	buf_init(&all);
	buf_init(&line);
	for (i = 0; i < RS_T_COUNT; i++) {
		index_stamp(c, rs_table_names[i], &t->t[i], &line);
		buf_add(&all, line.data, line.len);
	}
	buf_str(&all);
	rc = apply_state(c, RS_INDEX_STAMPS, &all, err);
	buf_free(&all);
	buf_free(&line);
	return rc;
}

unsigned long
apply_generation(const struct rs_config *c)
{
	struct rs_err err;
	struct site s;
	unsigned long gen;

	site_init(&s, c);
	gen = inspect(&s, &err) == 0 ? s.current : 0;
	site_free(&s);
	return gen;
}

int
apply_tables(const struct rs_config *c, const struct rs_tables *t,
    int tables_changed, struct rs_applied *out, struct rs_err *err)
{
	struct site s;
	mode_t mask = umask(022);
	int rc;

	memset(out, 0, sizeof(*out));
	site_init(&s, c);
	rc = install(&s, t, out, err);
	site_free(&s);
	umask(mask);
	if (rc == 0 && apply_stamps(c, t, err) < 0)
		rs_log(RS_LOG_WARN, "%s; the next run checks the indexes again",
		    err->msg);
	if (rc == 0 && tables_changed && c->postfix.reload)
		rc = reload(c, out, err);
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
	int i, whole;

	if ((d = opendir(s->gens.data)) == NULL)
		return 0;
	buf_init(&p);
	while ((e = readdir(d)) != NULL) {
		if (parse_gen(e->d_name, &n) < 0 || n >= gen || n <= best)
			continue;
		whole = 1;
		for (i = 0; i <= RS_T_COUNT && whole; i++) {
			buf_reset(&p);
			buf_printf(&p, "%s/%lu/%s", s->gens.data, n, i ==
			    RS_T_COUNT ? RS_OWNERS_FILE : rs_table_names[i]);
			whole = stat(p.data, &st) == 0;
			if (whole && suffix && i < RS_T_COUNT) {
				buf_adds(&p, suffix);
				whole = stat(p.data, &st) == 0;
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

	site_init(&s, c);
	*live = inspect(&s, &err) == 0 ? s.current : 0;
	*previous = *live ? previous_generation(&s, *live) : 0;
	site_free(&s);
}

int
apply_rollback(const struct rs_config *c, struct rs_applied *out,
    unsigned long *from, struct rs_err *err)
{
	struct site s;
	unsigned long prev;
	int rc;

	memset(out, 0, sizeof(*out));
	site_init(&s, c);
	*from = 0;
	if ((rc = inspect(&s, err)) == 0 && s.layout != L_LINK)
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
	site_free(&s);
	if (rc == 0 && c->postfix.reload)
		rc = reload(c, out, err);
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
	int rc = 0;

	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_HOLD_FILE);
	if (unlink(path.data) < 0 && errno != ENOENT)
		rc = sys_err(err, "cannot remove", path.data);
	buf_free(&path);
	return rc;
}

/*
 * fake.h - fakes of relaysync's two I/O boundaries, for unit tests.
 *
 * fake_installer (struct rs_installer, installer.h) keeps an "index" as a
 * file next to the table (<table><suffix>) holding the table's lines,
 * sorted: index copies the text, edit adds, replaces, removes and looks
 * up keys in it, verify compares it with the text. Postfix is "running"
 * unless fake_inst.stopped. Each operation is counted in fake_inst.calls
 * (atomically: apply runs them from several threads at once) and fails
 * (status 1) when its fail_* knob is set (edit: fail_call[op] = N makes
 * only its N-th call fail); index also fails for the tables
 * named in fake_inst.fail_index (" sasl_passwd tls_policy "), saying which
 * and adding " name" to fake_inst.failed;
 * fake_inst.empty_index makes index write an empty index and still
 * succeed (postmap on a full disk).
 *
 * fake_decision(d, n) is a decision of n accepted routes (at most
 * FAKE_ROUTES), u00@p.example ... via smtp.p.example:587, each with its
 * own password fake_pw[i] (set one to change it; "" is "pw<i>").
 *
 * fake_directory (struct rs_directory, source.h) answers from fake_dir:
 * open fails with RS_EX_UNAVAILABLE when fail_open is set; tracking is
 * fake_dir.tracking; changes hands over fake_dir.changes (then empty)
 * and the cookie "fake-cookie"; every call is counted.
 *
 * fake_site(c, top, name, more) makes a scratch directory top (64 bytes,
 * "/tmp/relaysync-<name>.XXXXXX"), loads into c a configuration whose
 * map_dir and state_dir are in it, with the YAML more appended, and
 * resets fake_inst and fake_pw; fake_site_remove(c, top) undoes it.
 */
#ifndef RS_FAKE_H
#define RS_FAKE_H

#include <pthread.h>

#include "installer.h"
#include "policy.h"
#include "source.h"
#include "stamp.h"

enum { F_INDEX, F_PUT, F_DEL, F_QUERY, F_VERIFY, F_RUNNING, F_RELOAD,
	F_COUNT };

struct fake_installer {
	_Atomic int calls[F_COUNT];
	int fail[F_COUNT];
	int fail_call[F_COUNT];	/* edit: only its N-th call fails */
	const char *fail_index;	/* " name name ": these tables' index fails */
	char failed[256];	/* " name" of each that did */
	int empty_index;
	int stopped;
};


static struct fake_installer fake_inst;

/* Is the table at path one fail_index names? */
static int
fake_fails(const char *path)
{
	char name[64];

	snprintf(name, sizeof(name), " %s ", strrchr(path, '/') + 1);
	return fake_inst.fail_index && strstr(fake_inst.fail_index, name);
}

static void
fake_index_path(const struct rs_config *c, const char *path, struct buf *b)
{
	buf_reset(b);
	buf_printf(b, "%s%s", path, map_suffix(c->postfix.map_type));
}

static int
fake_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the lines of text (each ending in a newline) in place. */
static void
fake_sort(struct buf *text)
{
	char **lines = NULL, *copy = xstrdup(buf_str(text)), *l, *next;
	size_t n = 0, cap = 0, i;

	for (l = copy; *l; l = next) {
		next = strchr(l, '\n');
		*next++ = '\0';
		lines = vec_grow(lines, &cap, n, sizeof(*lines));
		lines[n++] = l;
	}
	if (n)
		qsort(lines, n, sizeof(*lines), fake_cmp);
	buf_reset(text);
	for (i = 0; i < n; i++)
		buf_printf(text, "%s\n", lines[i]);
	buf_str(text);
	free(lines);
	free(copy);
}

static void
fake_write(const char *path, const struct buf *b)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fwrite(b->data ? b->data : "", 1, b->len, fp);
	fclose(fp);
}

static int
fake_index(const struct rs_config *c, const char *path, struct buf *out)
{
	struct buf text, index;
	struct rs_err err;

	fake_inst.calls[F_INDEX]++;
	buf_reset(out);
	if (fake_inst.fail[F_INDEX]) {
		buf_adds(out, "postmap: fatal: fake failure");
		return 1;
	}
	if (fake_fails(path)) {
		static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

		pthread_mutex_lock(&lock);
		strcat(fake_inst.failed, " ");
		strcat(fake_inst.failed, strrchr(path, '/') + 1);
		pthread_mutex_unlock(&lock);
		buf_printf(out, "postmap: fatal: fake failure of %s",
		    strrchr(path, '/') + 1);
		return 1;
	}
	buf_init(&text);
	buf_init(&index);
	assert_int_equal(read_file(path, &text, &err), 0);
	if (fake_inst.empty_index)
		buf_reset(&text);
	fake_sort(&text);
	fake_index_path(c, path, &index);
	fake_write(index.data, &text);
	buf_free(&text);
	buf_free(&index);
	return 0;
}

/* The line of key in the sorted index text, or NULL. */
static char *
fake_find(char *text, const char *key, size_t klen)
{
	char *l;

	for (l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 :
	    NULL)
		if (strncmp(l, key, klen) == 0 && l[klen] == ' ')
			return l;
	return NULL;
}

/* Remove the line of key from index text b. */
static void
fake_drop(struct buf *b, const char *key, size_t klen)
{
	char *l, *end;
	size_t len;

	buf_str(b);
	if ((l = fake_find(b->data, key, klen)) == NULL)
		return;
	end = strchr(l, '\n') + 1;
	len = (size_t)(b->data + b->len - end);
	memmove(l, end, len);
	b->len = (size_t)(l - b->data) + len;
	buf_str(b);
}

static int
fake_edit(const struct rs_config *c, enum rs_edit op, const char *path,
    const char *input, struct buf *out)
{
	struct buf index, in, ipath;
	struct rs_err err;
	char *l, *next, *hit;
	size_t klen;
	int found = 0, call;

	call = ++fake_inst.calls[F_PUT + op];
	buf_reset(out);
	if (fake_inst.fail[F_PUT + op] || fake_inst.fail_call[F_PUT + op] ==
	    call)
		return 1;
	buf_init(&index);
	buf_init(&in);
	buf_init(&ipath);
	fake_index_path(c, path, &ipath);
	assert_int_equal(read_file(ipath.data, &index, &err), 0);
	assert_int_equal(read_file(input, &in, &err), 0);
	for (l = in.data; l && *l; l = next) {
		next = strchr(l, '\n') + 1;
		klen = strcspn(l, " \n");
		if (op == RS_EDIT_QUERY && (hit = fake_find(index.data, l,
		    klen)) != NULL) {
			buf_printf(out, "%s%.*s\t%.*s", found++ ? "\n" : "",
			    (int)klen, l, (int)strcspn(hit + klen + 1, "\n"),
			    hit + klen + 1);
			continue;
		}
		if (op != RS_EDIT_QUERY)
			fake_drop(&index, l, klen);
		if (op == RS_EDIT_PUT)
			buf_add(&index, l, (size_t)(next - l));
	}
	if (op != RS_EDIT_QUERY) {
		fake_sort(&index);
		fake_write(ipath.data, &index);
	}
	buf_free(&index);
	buf_free(&in);
	buf_free(&ipath);
	return op == RS_EDIT_QUERY && found == 0 ? 1 : 0;
}

static int
fake_verify(const struct rs_config *c, const char *path,
    const struct buf *text)
{
	struct buf index, ipath;
	struct rs_err err;
	int same;

	fake_inst.calls[F_VERIFY]++;
	if (fake_inst.fail[F_VERIFY])
		return 0;
	buf_init(&index);
	buf_init(&ipath);
	fake_index_path(c, path, &ipath);
	same = read_file(ipath.data, &index, &err) == 0 &&
	    index.len == text->len && memcmp(index.data, text->data ?
	    text->data : "", text->len) == 0;
	buf_free(&index);
	buf_free(&ipath);
	return same;
}

static int
fake_running(const struct rs_config *c, struct buf *out)
{
	(void)c;
	fake_inst.calls[F_RUNNING]++;
	buf_reset(out);
	return fake_inst.stopped ? 1 : 0;
}

static int
fake_reload(const struct rs_config *c, struct buf *out)
{
	(void)c;
	fake_inst.calls[F_RELOAD]++;
	buf_reset(out);
	if (fake_inst.fail[F_RELOAD])
		buf_adds(out, "postfix: fatal: fake reload failure");
	return fake_inst.fail[F_RELOAD] ? 1 : 0;
}

static const struct rs_installer fake_installer = {
	fake_index, fake_edit, fake_verify, fake_running, fake_reload
};

#define FAKE_ROUTES	20

static struct rs_sendas fake_sa[FAKE_ROUTES];
static struct rs_verdict fake_v[FAKE_ROUTES];
static const struct rs_verdict *fake_r[FAKE_ROUTES];
static char fake_addr[FAKE_ROUTES][32], fake_pw[FAKE_ROUTES][32];

static void
fake_decision(struct rs_decision *d, size_t n)
{
	struct rs_verdict *v;
	size_t i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < n; i++) {
		snprintf(fake_addr[i], sizeof(fake_addr[i]), "u%02zu@p.example",
		    i);
		if (fake_pw[i][0] == '\0')
			snprintf(fake_pw[i], sizeof(fake_pw[i]), "pw%zu", i);
		memset(&fake_sa[i], 0, sizeof(fake_sa[i]));
		fake_sa[i].dn = "cn=x";
		v = &fake_v[i];
		memset(v, 0, sizeof(*v));
		v->sa = &fake_sa[i];
		v->owner_dn = "uid=u,dc=example,dc=com";
		v->detail = "";
		v->route.address = fake_addr[i];
		v->route.host = "smtp.p.example";
		v->route.port = 587;
		v->route.sec = RS_SEC_STARTTLS;
		v->route.username = fake_addr[i];
		v->route.password = fake_pw[i];
		v->route.logins = "u";
		fake_r[i] = v;
	}
	d->v = fake_v;
	d->n = n;
	d->routes = fake_r;
	d->nroutes = n;
}

enum { D_OPEN, D_READ, D_FETCH, D_COOKIE, D_CHANGES, D_CLOSE, D_COUNT };

struct fake_directory {
	int calls[D_COUNT];
	int fail_open;
	enum rs_tracking tracking;
	struct rs_changes changes;	/* what changes() hands over */
};

static struct fake_directory fake_dir;

/* The handle open() gives: fake_dir itself, behind the opaque type. */
#define FAKE_SRC	((struct rs_source *)(void *)&fake_dir)

static int
fake_open(const struct rs_config *c, struct rs_source **src,
    struct rs_err *err)
{
	fake_dir.calls[D_OPEN]++;
	*src = NULL;
	if (fake_dir.fail_open)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: fake "
		    "server down", c->ldap.uri);
	*src = FAKE_SRC;
	return 0;
}

static int
fake_read(struct rs_source *src, struct rs_model *m, struct rs_err *err)
{
	(void)m;
	(void)err;
	assert_ptr_equal(src, FAKE_SRC);
	fake_dir.calls[D_READ]++;
	return 0;
}

static int
fake_fetch(struct rs_source *src, const struct rs_reads *r,
    struct rs_model *m, struct rs_err *err)
{
	(void)r;
	(void)m;
	(void)err;
	assert_ptr_equal(src, FAKE_SRC);
	fake_dir.calls[D_FETCH]++;
	return 0;
}

static int
fake_cookie(struct rs_source *src, struct buf *cookie, struct rs_err *err)
{
	(void)src;
	(void)err;
	fake_dir.calls[D_COOKIE]++;
	buf_reset(cookie);
	buf_adds(cookie, "fake-cookie");
	return 0;
}

static int
fake_changes(struct rs_source *src, const struct buf *cookie,
    struct rs_changes *ch, struct buf *next, struct rs_err *err)
{
	(void)src;
	(void)cookie;
	(void)err;
	fake_dir.calls[D_CHANGES]++;
	*ch = fake_dir.changes;
	model_changes_init(&fake_dir.changes);
	buf_reset(next);
	buf_adds(next, "fake-cookie");
	return 0;
}

static const char *
fake_reason(const struct rs_source *src)
{
	(void)src;
	return "sync_failed";
}

static enum rs_tracking
fake_tracking(const struct rs_source *src)
{
	(void)src;
	return fake_dir.tracking;
}

static void
fake_close(struct rs_source *src)
{
	if (src != NULL)
		fake_dir.calls[D_CLOSE]++;
}

static const struct rs_directory fake_directory = {
	fake_open, fake_read, fake_fetch, fake_cookie, fake_changes,
	fake_reason, fake_tracking, NULL, NULL, NULL, NULL, NULL, fake_close
};

static int
fake_site(struct rs_config *c, char top[64], const char *name,
    const char *more)
{
	struct rs_err err;
	char extra[512];

	snprintf(top, 64, "/tmp/relaysync-%s.XXXXXX", name);
	if (mkdtemp(top) == NULL)
		return -1;
	snprintf(extra, sizeof(extra), "postfix:\n  map_dir: %s/maps\n"
	    "  map_type: hash\nstate_dir: %s/state\n%s", top, top, more);
	memset(&fake_inst, 0, sizeof(fake_inst));
	memset(fake_pw, 0, sizeof(fake_pw));
	return test_config(c, extra, &err);
}

static void
fake_site_remove(struct rs_config *c, const char *top)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	assert_int_equal(system(cmd), 0);
	config_free(c);
}

#endif

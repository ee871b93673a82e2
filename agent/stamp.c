/*
 * stamp - the Postfix indexes of the table set and their stamps.
 * See stamp.h for the contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "secret.h"
#include "stamp.h"

const char *
map_suffix(const char *type)
{
	if (strcmp(type, "lmdb") == 0)
		return ".lmdb";
	if (strcmp(type, "cdb") == 0)
		return ".cdb";
	if (strcmp(type, "texthash") == 0)
		return NULL;
	return ".db";
}

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of a "postmap -s" dump (its tabs made spaces), sorted, in
 * out. */
static void
sorted_dump(char *dump, struct buf *out)
{
	char **lines = NULL, *line, *next;
	size_t n = 0, cap = 0, i;

	for (line = dump; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lines = vec_grow(lines, &cap, n, sizeof(*lines));
		lines[n++] = line;
	}
	if (n)
		qsort(lines, n, sizeof(*lines), cmp_line);
	for (i = 0; i < n; i++) {
		buf_adds(out, lines[i]);
		buf_addc(out, '\n');
	}
	buf_str(out);
	free(lines);
}

/* A "postmap -s" dump's lines are "key<TAB>value"; the text's are
 * "key value": make each line's first tab a space. */
static void
dump_spaces(struct buf *dump)
{
	char *line, *nl, *tab, *end;

	if (dump->len == 0)
		return;
	end = dump->data + dump->len;
	for (line = dump->data; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		if ((tab = memchr(line, '\t', (size_t)(nl - line))) != NULL)
			*tab = ' ';
	}
}

/* Is the dump (dump_spaces() done) the text itself? Then it need not be
 * sorted: lmdb dumps in key order, which is the text's (hash does not). */
static int
dump_is_text(const struct buf *dump, const struct buf *text)
{
	return dump->len == text->len &&
	    (dump->len == 0 || memcmp(dump->data, text->data, dump->len) == 0);
}

/* "name dev inode size mtime sha256-of-text": what a verified index of
 * table name below map_dir looked like; empty when it cannot be read. */
void
stamp_line(const struct rs_config *c, const char *name,
    const struct buf *text, struct buf *out)
{
	const char *suffix = map_suffix(c->postfix.map_type);
	char sum[65];
	struct buf path;
	struct stat st;

	buf_reset(out);
	buf_init(&path);
	buf_printf(&path, "%s/%s%s", c->postfix.map_dir, name,
	    suffix ? suffix : "");
	if (suffix != NULL && stat(path.data, &st) == 0) {
		sha256_hex(text->data ? text->data : "", text->len, sum);
		secret_keyed_hex(sum);	/* the text may hold passwords */
		buf_printf(out, "%s %ju %ju %jd %jd.%09ld %s\n", name,
		    (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		    (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec, sum);
	}
	buf_free(&path);
}

/* Did a run verify this installed index (dump against its text), and
 * is it still the same file? */
static int
index_stamped(const struct rs_config *c, const char *name,
    const struct buf *text, const struct buf *stamps)
{
	struct buf line;
	const char *p;
	int yes = 0;

	buf_init(&line);
	stamp_line(c, name, text, &line);
	for (p = stamps->data; line.len && p != NULL && !yes;
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		yes = strncmp(p, line.data, line.len) == 0;
	buf_free(&line);
	return yes;
}

int
stamp_verified(const struct rs_config *c, const char *name,
    const struct buf *text)
{
	struct buf path, stamps;
	struct rs_err ignored;
	int yes;

	buf_init(&path);
	buf_init(&stamps);
	buf_printf(&path, "%s/%s", c->state_dir, RS_INDEX_STAMPS);
	yes = read_file(path.data, &stamps, &ignored) == 0 &&
	    index_stamped(c, name, text, &stamps);
	buf_free(&path);
	buf_free(&stamps);
	return yes;
}

int
index_agrees(const struct rs_config *c, const char *path,
    const struct buf *text)
{
	const char *suffix = map_suffix(c->postfix.map_type);
	struct buf arg, cmd, dump, sorted;
	int agrees;

	if (suffix == NULL)
		return 1;
	buf_init(&arg);
	buf_init(&cmd);
	buf_init(&dump);
	buf_init(&sorted);
	buf_printf(&arg, "%s%s", path, suffix);
	agrees = access(arg.data, F_OK) == 0;	/* else postmap logs a fatal */
	buf_reset(&arg);
	buf_printf(&arg, "%s:%s", c->postfix.map_type, path);
	if (agrees) {
		char *argv[] = { (char *)config_postfix_cmd(c, "postmap", &cmd),
		    "-c", c->postfix.config_dir, "-s", arg.data, NULL };

		agrees = run_cmd(argv, &dump) == 0;
	}
	if (agrees && dump.len)
		buf_addc(&dump, '\n');
	if (agrees)
		dump_spaces(&dump);
	if (agrees && !dump_is_text(&dump, text)) {
		sorted_dump(dump.data ? dump.data : "", &sorted);
		agrees = sorted.len == text->len && (text->len == 0 ||
		    memcmp(sorted.data, text->data, text->len) == 0);
	}
	buf_free(&arg);
	buf_free(&cmd);
	buf_wipe(&dump);
	buf_wipe(&sorted);
	return agrees;
}


void
stamp_file(const struct rs_config *c, const struct rs_tables *t,
    struct buf *out)
{
	struct buf line;
	int i;

	buf_init(&line);
	buf_reset(out);
	for (i = 0; i < RS_T_COUNT; i++) {
		stamp_line(c, rs_table_info[i].name, &t->t[i], &line);
		buf_add(out, line.data, line.len);
	}
	buf_str(out);
	buf_free(&line);
}

/*
 * installer - the Postfix commands that index, check and load the tables.
 * See installer.h for the contract.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "installer.h"
#include "secret.h"

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

/* Run Postfix program name with "-c config_dir", then the arguments
 * (at most three), standard input from input when not NULL. */
static int
postfix_run(const struct rs_config *c, const char *name, const char *a1,
    const char *a2, const char *a3, const char *input, struct buf *out)
{
	struct buf cmd;
	int rc;

	buf_init(&cmd);
	{
		char *argv[] = { (char *)config_postfix_cmd(c, name, &cmd),
		    "-c", (char *)c->postfix.config_dir, (char *)a1,
		    (char *)a2, (char *)a3, NULL };

		rc = run_cmd_in(argv, input, out);
	}
	buf_free(&cmd);
	return rc;
}

static int
postmap_index(const struct rs_config *c, const char *path, struct buf *out)
{
	struct buf map;
	int rc;

	buf_init(&map);
	buf_printf(&map, "%s:%s", c->postfix.map_type, path);
	rc = postfix_run(c, "postmap", map.data, NULL, NULL, NULL, out);
	buf_free(&map);
	return rc;
}

static int
postmap_edit(const struct rs_config *c, enum rs_edit op, const char *path,
    const char *input, struct buf *out)
{
	static const char *const opt[] = { "-i", "-d", "-q" };
	struct buf map;
	int rc;

	buf_init(&map);
	buf_printf(&map, "%s:%s", c->postfix.map_type, path);
	rc = postfix_run(c, "postmap", opt[op], op == RS_EDIT_PUT ? "-r" : "-",
	    map.data, input, out);
	buf_free(&map);
	return rc;
}

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of a "postmap -s" dump as "key value", sorted, in out. */
static void
sorted_dump(char *dump, struct buf *out)
{
	char **lines = NULL, *line, *tab, *next;
	size_t n = 0, cap = 0, i;

	for (line = dump; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((tab = strchr(line, '\t')) != NULL)
			*tab = ' ';
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

static int
postmap_verify(const struct rs_config *c, const char *path,
    const struct buf *text)
{
	const char *suffix = map_suffix(c->postfix.map_type);
	struct buf arg, dump, sorted;
	int agrees;

	if (suffix == NULL)
		return 1;
	buf_init(&arg);
	buf_init(&dump);
	buf_init(&sorted);
	buf_printf(&arg, "%s%s", path, suffix);
	agrees = access(arg.data, F_OK) == 0;	/* else postmap logs a fatal */
	buf_reset(&arg);
	buf_printf(&arg, "%s:%s", c->postfix.map_type, path);
	if (agrees)
		agrees = postfix_run(c, "postmap", "-s", arg.data, NULL, NULL,
		    &dump) == 0;
	if (agrees && dump.len)
		buf_addc(&dump, '\n');
	if (agrees)
		sorted_dump(dump.data ? dump.data : "", &sorted);
	agrees = agrees && sorted.len == text->len &&
	    (text->len == 0 || memcmp(sorted.data, text->data, text->len) == 0);
	buf_free(&arg);
	buf_wipe(&dump);
	buf_wipe(&sorted);
	return agrees;
}

static int
postfix_running(const struct rs_config *c, struct buf *out)
{
	return postfix_run(c, "postfix", "status", NULL, NULL, NULL, out);
}

static int
postfix_reload(const struct rs_config *c, struct buf *out)
{
	return postfix_run(c, "postfix", "reload", NULL, NULL, NULL, out);
}

const struct rs_installer installer_postfix = {
	postmap_index, postmap_edit, postmap_verify, postfix_running,
	postfix_reload
};

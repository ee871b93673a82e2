/*
 * installer - the Postfix commands that index, check and load the tables.
 * See installer.h for the contract.
 */
#include "installer.h"
#include "stamp.h"

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
	postmap_index, postmap_edit, index_agrees, postfix_running,
	postfix_reload
};

/*
 * installer - the Postfix commands that index, check and load the tables.
 *
 * One of relaysync's two I/O boundaries (the other is the directory,
 * source.h): plan and apply reach Postfix only through a struct
 * rs_installer, so that unit tests can give them a fake one
 * (tests/unit/fake.h). installer_postfix is the real one; each of its
 * operations runs a Postfix program by absolute path
 * (config_postfix_cmd()) with "-c postfix.config_dir", through run_cmd().
 *
 * Operations of struct rs_installer
 *	index(c, path, out): "postmap -c <config_dir> <map_type>:<path>",
 *	index the text table at path; the exit status (0: done), the
 *	program's output in out.
 *	edit(c, op, path, input, out): change or query the index of the table
 *	at path with the lines of the file input: RS_EDIT_PUT ("postmap -i
 *	-r": add or replace "key value" lines), RS_EDIT_DEL ("postmap -d -":
 *	remove keys), RS_EDIT_QUERY ("postmap -q -": out gets "key<TAB>value"
 *	per key found, the status is 1 when none was). The exit status.
 *	verify(c, path, text): 1 when the index of the table at path holds
 *	exactly the lines of text, else 0 (index_agrees() of stamp.h: "postmap
 *	-s", sorted, compared byte for byte; always 1 for texthash; always 0
 *	for cdb, which postmap cannot list). plan verifies an installed
 *	index with it when no stamp vouches for it; apply checks the indexes
 *	it writes with edit's query instead (apply.h).
 *	running(c, out): "postfix status"; 0 when that Postfix is running.
 *	reload(c, out): "postfix reload"; the exit status.
 *
 * Diagnostics
 *	None: the callers name the command, the file and the fix.
 */
#ifndef RS_INSTALLER_H
#define RS_INSTALLER_H

#include "config.h"

enum rs_edit { RS_EDIT_PUT, RS_EDIT_DEL, RS_EDIT_QUERY };

struct rs_installer {
	int (*index)(const struct rs_config *c, const char *path,
	    struct buf *out);
	int (*edit)(const struct rs_config *c, enum rs_edit op,
	    const char *path, const char *input, struct buf *out);
	int (*verify)(const struct rs_config *c, const char *path,
	    const struct buf *text);
	int (*running)(const struct rs_config *c, struct buf *out);
	int (*reload)(const struct rs_config *c, struct buf *out);
};

extern const struct rs_installer installer_postfix;

#endif

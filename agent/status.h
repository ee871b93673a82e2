/*
 * status - what relaysync did last and what is live now, without asking
 * the directory.
 *
 * Every real sync run (and every apply of watch) leaves a record in
 * <state_dir>/last-run: "key value" lines "time", "exit_code", "result"
 * (applied, no change, refused, failed), "read" (full, incremental,
 * none), "read_reason", "generation", "routes", one "rejected <reason>
 * <count>" line per reason code, and "error" (no secret: messages never
 * hold one).
 *
 * Functions
 *	status_record(b, run, rc, error, how) renders that record (run is
 *	NULL when the run failed before deciding, how when it read nothing;
 *	"read_reason" is how's reason code and detail); pipeline writes it
 *	with apply_state().
 *	status_show(c, fmt, fp) prints, from state_dir and postfix.map_dir:
 *	the last run (when, its result and exit code, how it read the
 *	directory), the live generation and the previous one kept, the
 *	routes in the live owners file, the rejected entries of the last run
 *	by reason, when relaysync.timer runs next ("systemctl show"; unknown
 *	when systemctl cannot say), and the hold that relaysync rollback
 *	left, if any. Text, or one JSON object.
 *
 * Diagnostics
 *	status_show() returns RS_EX_OK; a missing record or map_dir is shown
 *	as "never" or "none", not as an error.
 */
#ifndef RS_STATUS_H
#define RS_STATUS_H

#include <stdio.h>

#include "config.h"
#include "report.h"

#define RS_LASTRUN_FILE	"last-run"

void status_record(struct buf *b, const struct rs_run *run, int rc,
    const char *error, const struct rs_how *how);
int status_show(const struct rs_config *c, enum rs_format fmt, FILE *fp);

#endif

/*
 * report - what a run did or would do, for people (text) and programs
 * (JSON).
 *
 * Functions
 *	report_write() prints every added, changed and removed route and every
 *	rejected send-as entry (address, owner DN, reason code and its
 *	detail), in a dry run what else is pending in words (plan->pending:
 *	"pending   creating the table set in ..."), then a summary line. Values from the directory are shown with
 *	non-printable bytes as \xNN (text) or escaped (JSON). Passwords never
 *	appear: a changed login or password reads "credentials changed".
 *
 *	Both say how the run read the directory (when run->how is set): the
 *	text in one line ("read: incremental, ..." or "read: full (REASON:
 *	detail)"), the JSON as "read": "incremental" or "read": "full" with
 *	"read_reason" (a code of struct rs_how) and "read_detail".
 *
 *	json_str() writes a JSON string: escapes, and invalid UTF-8 as U+FFFD.
 *	json_kv(fp, key, value, comma) writes "key":value (null for NULL),
 *	then a comma when comma is set.
 *	report_log() logs one line per applied change (never a secret) and
 *	one summary line for the run; a run that failed or was refused says
 *	"nothing applied" and counts what was not installed, never as if it
 *	had been.
 *	report_json_buf() is the JSON report in memory (for the webhook);
 *	report_failure_json() is the JSON of a run that failed before it
 *	could decide anything.
 *	report_metrics() renders the Prometheus text format for node
 *	exporter's textfile collector: last run success, end time, duration
 *	and exit code, whether it read incrementally, routes by kind, rejections by reason code, changes
 *	applied; run is NULL when the run failed before deciding.
 *
 * Diagnostics
 *	None.
 */
#ifndef RS_REPORT_H
#define RS_REPORT_H

#include <stdio.h>

#include "plan.h"
#include "policy.h"

enum rs_format { RS_FMT_TEXT, RS_FMT_JSON };

/* How a run read the directory. reason, for a full read: full_requested
 * (--full), incremental_off (full_every: 0), no_rfc4533 (the server's
 * rootDSE offers no RFC 4533), no_snapshot, snapshot_damaged,
 * settings_changed (other ldap or mapping settings), tables_changed (the
 * live tables or generation are not the snapshot's), full_every,
 * cookie_refused, inconsistent_sync (the server's answer contradicted
 * itself or named live entries deleted), many_changes, sync_failed; held
 * (nothing read: relaysync rollback holds syncs) is never reported, a run
 * that read nothing has no struct rs_how. */
struct rs_how {
	int incremental;
	const char *reason;
	char detail[2600];	/* an error message and a path */
	size_t changed, deleted;	/* incremental: entries */
};

struct rs_run {
	int dry_run;
	int applied;		/* a new generation was switched in */
	int reloaded;		/* Postfix was told to reload */
	const char *error;	/* set when the run failed after planning */
	int exit_code;
	const struct rs_decision *d;
	const struct rs_plan *p;
	const struct rs_how *how;	/* NULL: not said */
};

void report_write(FILE *fp, enum rs_format fmt, const struct rs_run *r);
void report_log(const struct rs_run *r);
void json_str(FILE *fp, const char *s, size_t n);
void json_kv(FILE *fp, const char *key, const char *value, int comma);
void report_json_buf(const struct rs_run *r, struct buf *out);
void report_failure_json(struct buf *out, int code, const char *error);
void report_metrics(struct buf *b, const struct rs_run *r, int code,
    double secs);

#endif

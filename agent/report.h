/*
 * report - what a run did or would do, for people (text) and programs
 * (JSON).
 *
 * Functions
 *	report_write() prints every added, changed and removed route and every
 *	rejected send-as entry (address, owner DN, reason code and its
 *	detail), then a summary line. Values from the directory are shown with
 *	non-printable bytes as \xNN (text) or escaped (JSON). Passwords never
 *	appear: a changed login or password reads "credentials changed".
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

struct rs_run {
	int dry_run;
	int applied;		/* a new generation was switched in */
	int reloaded;		/* Postfix was told to reload */
	const char *error;	/* set when the run failed after planning */
	const struct rs_decision *d;
	const struct rs_plan *p;
};

void report_write(FILE *, enum rs_format, const struct rs_run *);

#endif

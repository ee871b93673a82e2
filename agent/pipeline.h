/*
 * pipeline - one sync run, from the directory to live tables.
 *
 * The stages in order, for the commands that need them (sync, verify,
 * explain, watch): read the directory (source), decide (policy, with the
 * recorded gateway checks when policy.require_gateway_check), render, plan,
 * apply under the run lock, report, log, metrics and webhook.
 *
 * Functions
 *	pipeline_sync() is one sync run with the given options; it returns
 *	the exit code of DESIGN.md and has reported everything itself.
 *	pipeline_read() reads the directory into a model.
 *	pipeline_decide() decides, loading the passed gateway checks when
 *	the policy requires them.
 *	pipeline_candidates() decides as if policy.require_gateway_check were
 *	off: the routes that verify checks and the gate then filters.
 *	pipeline_check() checks gateways (verify), records the passed ones
 *	in state_dir, prints the results, and returns how many failed.
 *	pipeline_fail() logs an error and returns its exit code.
 *
 * Diagnostics
 *	Errors are logged with their file, key, DN or address and mapped to
 *	the exit codes of DESIGN.md.
 */
#ifndef RS_PIPELINE_H
#define RS_PIPELINE_H

#include <stdio.h>

#include "config.h"
#include "model.h"
#include "policy.h"
#include "report.h"
#include "secret.h"

struct rs_runopts {
	int dry_run;
	int force;
	int full;
	int verify;
	long timeout;		/* per gateway check, seconds */
	long parallel;		/* simultaneous gateway checks */
	enum rs_format format;
	int no_report;		/* log only (watch) */
};

int pipeline_sync(const struct rs_runopts *, const struct rs_config *,
    const struct rs_keyring *);
int pipeline_read(const struct rs_config *, struct rs_model *,
    struct rs_err *);
int pipeline_decide(const struct rs_config *, const struct rs_keyring *,
    const struct rs_model *, struct rs_decision *, struct rs_err *);
void pipeline_candidates(const struct rs_config *, const struct rs_keyring *,
    const struct rs_model *, struct rs_decision *);
int pipeline_check(const struct rs_runopts *, const struct rs_config *,
    const struct rs_verdict **, size_t, FILE *, struct rs_err *);
int pipeline_fail(const struct rs_err *);

#endif

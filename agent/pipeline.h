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
 *	an exit code (enum rs_exit, util.h) and has reported everything
 *	itself. It
 *	reads incrementally (RFC 4533 refreshOnly from the cookie of the
 *	previous run's snapshot, applied to that snapshot's model) unless
 *	--full is given, full_every is 0 or reached, or the snapshot is
 *	missing, damaged, taken with other ldap or mapping settings, or not
 *	the one of the live generation; a server whose rootDSE offers no
 *	RFC 4533, a cookie the server refuses, a sync answer that
 *	contradicts itself or names a live entry deleted, or more than 1,000
 *	entries to read again that are also more than a tenth of the model
 *	also mean a full read. The report says which read it was and why
 *	(struct rs_how in report.h). A run that leaves
 *	the live tables equal to what it rendered saves a new snapshot
 *	(written beside apply when it installs tables: snapshot.h). A run
 *	that the directory tells nothing changed, and a full read that
 *	finds the model the snapshot holds (snapshot_holds()), report from
 *	the last run's summary without deciding, when it still vouches for
 *	the settings, the other inputs and the live files (summary.h).
 *	When the directory tells that something changed since the cookie
 *	of the snapshot itself, the incremental read uses that answer and
 *	that connection rather than asking again.
 *	pipeline_choose() is that choice, made from a run's facts (struct
 *	rs_read_facts, looked at in their order): RS_RUN_NONE while
 *	relaysync rollback holds syncs (reason "held"), RS_RUN_FULL with
 *	the reason code and detail of struct rs_how, or RS_RUN_INCREMENTAL;
 *	the snapshot is looked at only when nothing before it decided. A
 *	failure of the incremental read itself (cookie refused, an
 *	inconsistent answer, many changes) then falls back to a full read.
 *	The directory and Postfix are reached only through the run options'
 *	dir (source.h) and installer (installer.h).
 *	pipeline_resume() loads the previous run's snapshot when it may be
 *	used (-1 otherwise, after logging why); pipeline_read_all() is a
 *	full read that first takes a sync cookie; pipeline_merge() reads
 *	again what a change set names and applies it to a model (failing
 *	with RS_EX_TEMPFAIL, and the reason code, when only a full read
 *	will do), making the snapshot journal's record of it when given
 *	the next snapshot (snapshot.h).
 *	pipeline_apply() renders, plans and applies a model's decision,
 *	reports, and saves the snapshot when given one, and with it the
 *	run's summary (summary.h); pipeline_save() saves the snapshot (with
 *	the SHA-256 of the given tables, or of the live ones) and returns 0
 *	when a snapshot of the live generation is kept. A run's duration is
 *	measured with monotonic_seconds() (util.h). pipeline_stage(name, t)
 *	logs, with --verbose, "name: N ms" since *t (a monotonic_seconds()
 *	reading), with the resident memory now and at its peak
 *	(memory_use(), when /proc tells), and sets *t to now.
 *	pipeline_read() reads the directory (through dir) into a model.
 *	pipeline_decide() decides, loading the passed gateway checks when
 *	the policy requires them, and the relay's own next hops (postconf)
 *	unless policy.allow_private_gateways.
 *	pipeline_candidates() decides as if policy.require_gateway_check were
 *	off: the routes that verify checks and the gate then filters.
 *	pipeline_check() checks gateways (verify), records the passed ones
 *	in state_dir, prints the results, and returns how many failed.
 *	pipeline_rollback() makes the previous generation live again
 *	(apply_rollback(), under the run lock), holds syncs and says so on
 *	standard output; pipeline_unhold() ends the hold (relaysync resume)
 *	and says so. Both return an exit code.
 *	pipeline_held() tells (1, with the RS_EX_TEMPFAIL message naming
 *	relaysync resume in err) whether relaysync rollback holds syncs; a
 *	real sync run then changes nothing. Every real run records its
 *	outcome for relaysync status (status.h).
 *	Before deciding, every {AES256-GCM} password must find its key
 *	(pipeline_keys_cover(), also used by check-config): a
 *	key file that is missing or holds no key while such values exist,
 *	or a key id that the run which made the live generation had (kept in
 *	<state_dir>/key-ids by pipeline_record_keys() after each real run)
 *	and the key file lost while values still name it, fail with
 *	RS_EX_CONFIG before anything is planned.
 *
 * Diagnostics
 *	Errors are logged with their file, key, DN or address and mapped to
 *	the exit codes of enum rs_exit (util.h).
 */
#ifndef RS_PIPELINE_H
#define RS_PIPELINE_H

#include <stdio.h>

#include "config.h"
#include "installer.h"
#include "model.h"
#include "policy.h"
#include "postconf.h"
#include "report.h"
#include "secret.h"
#include "snapshot.h"
#include "source.h"

struct rs_runopts {
	const struct rs_directory *dir;		/* source_ldap, or a fake */
	const struct rs_installer *installer;	/* installer_postfix, or a fake */
	int dry_run;
	int force;
	int full;
	int verify;
	long timeout;		/* per gateway check, seconds */
	long parallel;		/* simultaneous gateway checks */
	enum rs_format format;
	int no_report;		/* log only (watch) */
	int diff;		/* print the table lines that change */
};

int pipeline_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys);
/* Which read a run makes (pipeline_choose()). */
enum rs_run_read {
	RS_RUN_NONE,		/* none: relaysync rollback holds syncs */
	RS_RUN_FULL,		/* everything, after taking a sync cookie */
	RS_RUN_INCREMENTAL	/* what changed since the snapshot's cookie */
};

/* What the choice is made from, looked at in this order. */
struct rs_read_facts {
	int held;			/* relaysync rollback holds syncs */
	int full;			/* sync --full */
	long full_every;		/* 0: incremental reads are off */
	enum rs_tracking tracking;	/* how the server follows changes */
	/* The previous run's snapshot (named snapshot_file), looked at
	 * only when nothing above decided: 0 when it may be used, with
	 * *runs the incremental runs made since the last full read; else
	 * -1 with how->reason and how->detail set. */
	int (*snapshot)(void *arg, long *runs, struct rs_how *how);
	void *arg;
	const char *snapshot_file;
};

enum rs_run_read pipeline_choose(const struct rs_read_facts *f,
    struct rs_how *how);
int pipeline_read(const struct rs_directory *dir, const struct rs_config *c,
    struct rs_model *m, struct rs_err *err);
int pipeline_resume(const struct rs_config *c, struct rs_snapshot *old,
    struct rs_model *m);
int pipeline_read_all(const struct rs_directory *dir, struct rs_source *src,
    struct rs_snapshot *next, struct rs_model *m, struct rs_err *err);
int pipeline_merge(const struct rs_directory *dir, struct rs_source *src,
    const struct rs_changes *ch, struct rs_model *m, const char **reason,
    struct rs_snapshot *next, struct rs_err *err);
int pipeline_apply(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_model *m, const struct rs_decision *d,
    const struct rs_how *how, struct rs_snapshot *next, double t0);
int pipeline_save(const struct rs_config *c, const struct rs_model *m,
    const struct rs_tables *t, struct rs_snapshot *next);
void pipeline_stage(const char *name, double *t);
int pipeline_decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err);
int pipeline_candidates(const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_model *m,
    struct rs_decision *d, struct rs_err *err);
int pipeline_check(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_verdict **routes, size_t n, FILE *out, struct rs_err *err);
int pipeline_keys_cover(const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_model *m,
    struct rs_err *err);
int pipeline_rollback(const struct rs_config *c,
    const struct rs_installer *inst);
int pipeline_unhold(const struct rs_config *c);
int pipeline_held(const struct rs_config *c, struct rs_err *err);
void pipeline_record_keys(const struct rs_config *c,
    const struct rs_keyring *keys);

#define RS_KEYIDS_FILE	"key-ids"

#endif

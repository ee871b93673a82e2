/*
 * pipeline - one sync run, from the directory to live tables.
 * See pipeline.h for the contract.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "notify.h"
#include "pipeline.h"
#include "plan.h"
#include "render.h"
#include "snapshot.h"
#include "source.h"
#include "verify.h"

int
pipeline_fail(const struct rs_err *err)
{
	rs_log(RS_LOG_ERROR, "%s", err->msg);
	return err->code ? err->code : RS_EX_FAIL;
}

/* Read the directory into a model. */
int
pipeline_read(const struct rs_config *c, struct rs_model *m,
    struct rs_err *err)
{
	struct rs_source *src = NULL;
	int rc;

	rc = source_open(c, &src, err);
	if (rc == 0)
		rc = source_load(src, m, err);
	source_close(src);
	return rc;
}

/* A full read, and why. */
static void
full_because(struct rs_how *how, const char *reason, const char *detail)
{
	how->incremental = 0;
	how->reason = reason;
	snprintf(how->detail, sizeof(how->detail), "%s", detail);
}

/* The previous run's snapshot, when it may be used: same source
 * settings, and its generation is the live one, unchanged. Otherwise -1,
 * and why in how. */
static int
load_snapshot(const struct rs_config *c, const char *source,
    struct rs_snapshot *old, struct rs_model *m, struct rs_how *how)
{
	char live[RS_HASH_HEX + 1];
	struct rs_err err;
	struct buf path, text;
	const char *why = NULL, *code = NULL;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_RUNS_FILE);
	old->runs = read_file(path.data, &text, &err) == 0 ?
	    strtol(buf_str(&text), NULL, 10) : 0;
	buf_reset(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_SNAPSHOT_FILE);
	if (read_file(path.data, &text, &err) < 0)
		code = "no_snapshot", why = "no snapshot of a previous run";
	else if (snapshot_parse(&text, old, m, &err) < 0)
		code = "snapshot_damaged", why = err.msg;
	else if (strcmp(old->source, source) != 0)
		code = "settings_changed", why = "ldap or mapping settings "
		    "changed";
	else if (old->generation != apply_generation(c))
		code = "tables_changed", why = "it does not name the live "
		    "generation";
	else if (snapshot_live_tables(c, live) < 0 ||
	    strcmp(live, old->tables) != 0)
		code = "tables_changed", why = "the live tables are not the "
		    "ones it produced";
	else if (old->runs + 1 >= c->full_every)
		code = "full_every", why = "full_every incremental runs were "
		    "made since the last full read";
	if (why != NULL) {
		snprintf(how->detail, sizeof(how->detail), "%s/%s: %s",
		    c->state_dir, RS_SNAPSHOT_FILE, why);
		how->reason = code;
		model_free(m);
	}
	buf_free(&path);
	buf_free(&text);
	return why ? -1 : 0;
}

/* Read again what a change set names, and apply it to the model; a
 * failure with RS_EX_TEMPFAIL means: read everything (reason, when not
 * NULL, says why). */
int
pipeline_merge(struct rs_source *src, const struct rs_changes *ch,
    struct rs_model *m, const char **reason, struct rs_err *err)
{
	struct rs_reads r;
	struct rs_model fresh;
	int rc;

	model_init(&fresh);
	model_reads(m, ch, &r);
	if (r.n > 1000 && r.n > (m->nusers + m->nsendas) / 10) {
		rc = rs_err_set(err, RS_EX_TEMPFAIL, "%zu entries to read "
		    "again after %zu changes and %zu deletions since the last "
		    "run; reading everything is cheaper", r.n, ch->n,
		    ch->gone.count);
		if (reason)
			*reason = "many_changes";
	} else if ((rc = source_fetch(src, &r, &fresh, err)) == 0 &&
	    (rc = model_merge(m, ch, &r, &fresh)) < 0) {
		rc = rs_err_set(err, RS_EX_TEMPFAIL, "the sync answer named "
		    "deleted (or left out of a present phase) an entry that "
		    "the directory still holds; not trusting it");
		if (reason)
			*reason = "inconsistent_sync";
	}
	model_reads_free(&r);
	model_free(&fresh);
	return rc;
}

/* Apply what changed since the snapshot's cookie to the model; on
 * failure, why in how. */
static int
read_changes(struct rs_source *src, const struct rs_snapshot *old,
    struct rs_snapshot *next, struct rs_model *m, struct rs_how *how,
    struct rs_err *err)
{
	struct rs_changes ch;
	const char *reason = NULL;
	int rc;

	rc = source_changes(src, &old->cookie, &ch, &next->cookie, err);
	if (rc < 0)
		reason = source_sync_reason(src);
	else
		rc = pipeline_merge(src, &ch, m, &reason, err);
	if (rc == 0) {
		next->runs = old->runs + 1;
		next->unchanged = ch.n == 0 && ch.gone.count == 0 &&
		    !ch.present_phase && next->cookie.len == old->cookie.len &&
		    memcmp(next->cookie.data, old->cookie.data,
		    old->cookie.len) == 0;
		if (next->unchanged)
			next->generation = old->generation;
		how->changed = ch.n;
		how->deleted = ch.gone.count;
		rs_log(RS_LOG_INFO, "incremental read: %zu changed and %zu "
		    "deleted entries since the last run%s", ch.n, ch.gone.count,
		    ch.present_phase ? " (present phase)" : "");
	} else
		full_because(how, reason ? reason : "sync_failed", err->msg);
	model_changes_free(&ch);
	return rc;
}

/* A full read, after taking the cookie it will be current to. */
int
pipeline_read_all(struct rs_source *src, struct rs_snapshot *next,
    struct rs_model *m, struct rs_err *err)
{
	struct rs_err why;

	if (source_cookie(src, &next->cookie, &why) < 0) {
		rs_log(source_sync_offered(src) ? RS_LOG_WARN : RS_LOG_DEBUG,
		    "no sync cookie, so the next run reads everything too: %s",
		    why.msg);
		buf_reset(&next->cookie);
	}
	next->runs = 0;
	return source_load(src, m, err);
}

/* The previous run's snapshot, into old and m, when it may be used. */
int
pipeline_resume(const struct rs_config *c, struct rs_snapshot *old,
    struct rs_model *m)
{
	char source[RS_HASH_HEX + 1];

	struct rs_how how;
	int rc;

	snapshot_source(c, source);
	if ((rc = load_snapshot(c, source, old, m, &how)) < 0)
		rs_log(RS_LOG_INFO, "full read: %s", how.detail);
	return rc;
}

/* Read the directory into m: incrementally from the previous run's
 * snapshot when allowed and possible, else in full; how says which, and
 * why. next gets what the snapshot of this run will say. */
static int
pipeline_load(const struct rs_config *c, int full, struct rs_snapshot *next,
    struct rs_model *m, struct rs_how *how, struct rs_err *err)
{
	struct rs_source *src = NULL;
	struct rs_snapshot old;
	int rc;

	snapshot_init(&old);
	snapshot_source(c, next->source);
	memset(how, 0, sizeof(*how));
	if (full)
		full_because(how, "full_requested", "sync --full");
	else if (c->full_every == 0)
		full_because(how, "incremental_off", "full_every is 0");
	rc = source_open(c, &src, err);
	if (rc == 0 && how->reason == NULL && !source_sync_offered(src))
		full_because(how, "no_rfc4533", "the server's rootDSE offers "
		    "no RFC 4533 content synchronization (OpenLDAP: the "
		    "syncprov overlay; 389-ds: the Content Synchronization "
		    "plugin)");
	if (rc == 0 && how->reason == NULL &&
	    load_snapshot(c, next->source, &old, m, how) == 0) {
		how->incremental = 1;
		if (read_changes(src, &old, next, m, how, err) < 0)
			model_free(m);
	}
	if (rc == 0 && !how->incremental) {
		rs_log(RS_LOG_INFO, "full read (%s): %s", how->reason,
		    how->detail);
		rc = pipeline_read_all(src, next, m, err);
	}
	source_close(src);
	snapshot_free(&old);
	return rc;
}

/* Decide with the relay's own next hops (unless private gateways are
 * allowed anyway) and, when gated, the recorded gateway checks. */
static int
decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, int gated, struct rs_decision *d,
    struct rs_err *err)
{
	struct rs_policy_env env = { NULL, NULL, 0 };
	struct strmap ok;
	char **hops = NULL;
	size_t nhops = 0;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	strmap_init(&ok);
	if (gated)
		rc = verify_load_ok(c, &ok, err);
	if (rc == 0 && !c->policy.allow_private_gateways)
		rc = postconf_own_hops(c->postfix.config_dir, &hops, &nhops,
		    err);
	env.checked = &ok;
	env.own_hops = hops;
	env.n_own_hops = nhops;
	if (rc == 0)
		policy_decide(m, c, keys, &env, d);
	postconf_free_hops(hops, nhops);
	strmap_free_values(&ok);
	return rc;
}

/* Decide, with the recorded gateway checks when the policy wants them. */
int
pipeline_decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err)
{
	return decide(c, keys, m, c->policy.require_gateway_check, d, err);
}

/* Decide as if policy.require_gateway_check were off: the routes that a
 * gateway check would gate. */
int
pipeline_candidates(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err)
{
	struct rs_config ungated = *c;

	ungated.policy.require_gateway_check = 0;
	return decide(&ungated, keys, m, 0, d, err);
}

/* Check the given routes; record the passed ones in state_dir. */
int
pipeline_check(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_verdict **routes, size_t n, FILE *out, struct rs_err *err)
{
	struct rs_check_result *res = xcalloc(n ? n : 1, sizeof(*res));
	struct strmap ok;
	struct buf state;
	size_t i, failed = 0;
	int rc;

	strmap_init(&ok);
	buf_init(&state);
	rc = verify_routes(c, routes, n, o->parallel, o->timeout, res, err);
	if (rc == 0)
		rc = verify_load_ok(c, &ok, err);
	if (rc == 0) {
		for (i = 0; i < n; i++) {
			failed += res[i].result != RS_CK_OK;
			free(*strmap_slot(&ok, res[i].v->route.address));
			*strmap_slot(&ok, res[i].v->route.address) = NULL;
		}
		for (i = 0; i < ok.cap; i++)
			if (ok.slots[i].key && ok.slots[i].val)
				buf_printf(&state, "%s %s\n", ok.slots[i].key,
				    (char *)ok.slots[i].val);
		verify_state(res, n, &state);
		rc = apply_state(c, RS_VERIFY_STATE, &state, err);
	}
	if (rc == 0 && rs_verbosity > RS_LOG_ERROR)
		verify_write(out, o->format, res, n);
	strmap_free_values(&ok);
	buf_free(&state);
	free(res);
	return rc < 0 ? -1 : (int)failed;
}

static int
finish_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_tables *t, struct rs_run *run, struct rs_err *err)
{
	struct rs_applied ap;

	if (o->dry_run)
		return run->p->refused ? RS_EX_TEMPFAIL :
		    run->p->apply ? RS_EX_PENDING : RS_EX_OK;
	if (run->p->refused)
		return rs_err_set(err, RS_EX_TEMPFAIL, "%s", run->p->refusal),
		    RS_EX_TEMPFAIL;
	if (!run->p->apply)
		return RS_EX_OK;
	if (apply_tables(c, t, run->p->reload, &ap, err) < 0) {
		run->error = err->msg;
		run->applied = ap.generation != 0;
		return err->code;
	}
	run->applied = 1;
	run->reloaded = ap.reloaded;
	rs_log(RS_LOG_INFO, "installed generation %lu in %s%s", ap.generation,
	    c->postfix.map_dir, ap.reloaded ? "; Postfix reloaded" : "");
	return RS_EX_OK;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Log, with --verbose, how long the stage that just ended took. */
static void
stage(const char *name, double *t)
{
	double now = seconds();

	rs_log(RS_LOG_DEBUG, "%s: %.0f ms", name, (now - *t) * 1e3);
	*t = now;
}

/* After a real run: the metrics file, and the webhook on change or failure.
 * run is NULL when the run failed before deciding. */
static void
after_run(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_run *run, int rc, const char *error, double t0)
{
	struct rs_err err;
	struct buf b;

	if (o->dry_run)
		return;
	buf_init(&b);
	if (*c->metrics_file) {
		report_metrics(&b, run, rc, seconds() - t0);
		if (apply_file(c->metrics_file, &b, 0644, &err) < 0)
			rs_log(RS_LOG_WARN, "metrics_file: %s", err.msg);
	}
	if (*c->notify.webhook_url && (rc != 0 || (run && run->applied))) {
		if (run)
			report_json_buf(run, &b);
		else
			report_failure_json(&b, rc, error);
		(void)notify_post(c, &b);
	}
	buf_free(&b);
}

/* The snapshot for the next incremental run (none without a sync
 * cookie), naming the live generation and its tables: t when the run left
 * them live, else (NULL) read back from map_dir. */
void
pipeline_save(const struct rs_config *c, const struct rs_model *m,
    const struct rs_tables *t, struct rs_snapshot *next)
{
	unsigned long live;
	struct rs_err err;
	struct buf b;

	if (next == NULL || next->cookie.len == 0)
		return;
	live = apply_generation(c);
	buf_init(&b);
	buf_printf(&b, "%ld\n", next->runs);
	if (apply_state(c, RS_RUNS_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	buf_reset(&b);
	if (next->unchanged && next->generation == live) {
		buf_free(&b);
		return;
	}
	next->generation = live;
	if (t != NULL)
		snapshot_tables(t, next->tables);
	else if (snapshot_live_tables(c, next->tables) < 0) {
		rs_log(RS_LOG_WARN, "cannot read the live tables below %s; the "
		    "next run reads everything", c->postfix.map_dir);
		buf_free(&b);
		return;
	}
	snapshot_dump(next, m, &b);
	if (apply_cache(c, RS_SNAPSHOT_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s; the next run reads everything",
		    err.msg);
	buf_wipe(&b);
}

int
pipeline_apply(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_model *m, const struct rs_decision *d,
    const struct rs_how *how, struct rs_snapshot *next, double t0)
{
	struct rs_tables t;
	struct rs_plan p;
	struct rs_run run;
	struct rs_err err;
	double clock = seconds();
	int rc;

	render_tables(d, c->postfix.tls_level, &t);
	stage("render", &clock);
	if (plan_build(c, d, &t, o->force, &p, &err) < 0) {
		render_free(&t);
		return pipeline_fail(&err);
	}
	stage("plan", &clock);
	memset(&run, 0, sizeof(run));
	run.dry_run = o->dry_run;
	run.d = d;
	run.p = &p;
	run.how = how;
	err.code = 0;
	rc = finish_sync(o, c, &t, &run, &err);
	run.exit_code = rc;
	stage("apply", &clock);
	if (rs_verbosity > RS_LOG_ERROR && !o->no_report)
		report_write(stdout, o->format, &run);
	if (err.code)
		pipeline_fail(&err);
	if (!o->dry_run)
		report_log(&run);
	if (!o->dry_run && rc == RS_EX_OK && !p.apply && p.verified &&
	    apply_stamps(c, &t, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	if (!o->dry_run && rc == RS_EX_OK) {
		pipeline_save(c, m, &t, next);	/* rc OK: t is live */
		stage("snapshot", &clock);
	}
	after_run(o, c, &run, rc, err.code ? err.msg : NULL, t0);
	plan_free(&p);
	render_free(&t);
	return rc;
}

/* sync --verify: check every otherwise accepted route before deciding. */
static int
verify_first(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_model *m,
    struct rs_err *err)
{
	struct rs_decision d;
	int rc;

	if ((rc = pipeline_candidates(c, keys, m, &d, err)) == 0)
		rc = pipeline_check(o, c, d.routes, d.nroutes, stderr, err);
	policy_free(&d);
	return rc < 0 ? -1 : 0;
}

double
pipeline_clock(void)
{
	return seconds();
}


/* Read, check gateways when asked, and decide. */
static int
read_and_decide(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, struct rs_snapshot *next,
    struct rs_model *m, struct rs_decision *d, struct rs_how *how,
    struct rs_err *err)
{
	double clock = seconds();

	if (pipeline_load(c, o->full, next, m, how, err) < 0)
		return -1;
	stage("read", &clock);
	if (o->verify && verify_first(o, c, keys, m, err) < 0)
		return -1;
	if (pipeline_decide(c, keys, m, d, err) < 0)
		return -1;
	stage("decide", &clock);
	return 0;
}

int
pipeline_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys)
{
	struct rs_lock lock = { -1 };
	struct rs_snapshot next;
	struct rs_model m;
	struct rs_decision d;
	struct rs_how how;
	struct rs_err err;
	double t0 = seconds();
	int rc;

	memset(&d, 0, sizeof(d));
	model_init(&m);
	snapshot_init(&next);
	if (!o->dry_run && apply_lock(c, &lock, &err) < 0)
		rc = pipeline_fail(&err);	/* no metrics: another run's */
	else if (read_and_decide(o, c, keys, &next, &m, &d, &how, &err) < 0) {
		rc = pipeline_fail(&err);
		after_run(o, c, NULL, rc, err.msg, t0);
	} else
		rc = pipeline_apply(o, c, &m, &d, &how, &next, t0);
	policy_free(&d);
	model_free(&m);
	snapshot_free(&next);
	apply_unlock(&lock);
	return rc;
}

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

/* Decide, with the recorded gateway checks when the policy wants them. */
int
pipeline_decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err)
{
	struct strmap ok;
	int rc = 0;

	strmap_init(&ok);
	if (c->policy.require_gateway_check)
		rc = verify_load_ok(c, &ok, err);
	if (rc == 0)
		policy_decide(m, c, keys, &ok, d);
	strmap_free_values(&ok);
	return rc;
}

/* Decide as if policy.require_gateway_check were off: the routes that a
 * gateway check would gate. */
void
pipeline_candidates(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d)
{
	struct rs_config ungated = *c;

	ungated.policy.require_gateway_check = 0;
	policy_decide(m, &ungated, keys, NULL, d);
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

static int
plan_and_apply(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_decision *d, struct rs_err *err, double t0)
{
	struct rs_tables t;
	struct rs_plan p;
	struct rs_run run;
	int rc;

	render_tables(d, c->postfix.tls_level, &t);
	if (plan_build(c, d, &t, o->force, &p, err) < 0) {
		render_free(&t);
		return pipeline_fail(err);
	}
	memset(&run, 0, sizeof(run));
	run.dry_run = o->dry_run;
	run.d = d;
	run.p = &p;
	err->code = 0;
	rc = finish_sync(o, c, &t, &run, err);
	run.exit_code = rc;
	if (rs_verbosity > RS_LOG_ERROR && !o->no_report)
		report_write(stdout, o->format, &run);
	if (err->code)
		pipeline_fail(err);
	if (!o->dry_run)
		report_log(&run);
	after_run(o, c, &run, rc, err->code ? err->msg : NULL, t0);
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

	pipeline_candidates(c, keys, m, &d);
	rc = pipeline_check(o, c, d.routes, d.nroutes, stderr, err);
	policy_free(&d);
	return rc < 0 ? -1 : 0;
}

int
pipeline_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys)
{
	struct rs_lock lock = { -1 };
	struct rs_model m;
	struct rs_decision d;
	struct rs_err err;
	double t0 = seconds();
	int rc;

	memset(&d, 0, sizeof(d));
	model_init(&m);
	if (!o->dry_run && apply_lock(c, &lock, &err) < 0)
		rc = pipeline_fail(&err);	/* no metrics: another run's */
	else if (pipeline_read(c, &m, &err) < 0 ||
	    (o->verify && verify_first(o, c, keys, &m, &err) < 0) ||
	    pipeline_decide(c, keys, &m, &d, &err) < 0) {
		rc = pipeline_fail(&err);
		after_run(o, c, NULL, rc, err.msg, t0);
	} else
		rc = plan_and_apply(o, c, &d, &err, t0);
	policy_free(&d);
	model_free(&m);
	apply_unlock(&lock);
	return rc;
}

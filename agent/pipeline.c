/*
 * pipeline - one sync run, from the directory to live tables.
 * See pipeline.h for the contract.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "notify.h"
#include "pipeline.h"
#include "plan.h"
#include "render.h"
#include "snapshot.h"
#include "source.h"
#include "status.h"
#include "summary.h"
#include "verify.h"

/* Read the directory into a model. */
int
pipeline_read(const struct rs_directory *dir, const struct rs_config *c,
    struct rs_model *m, struct rs_err *err)
{
	struct rs_source *src = NULL;
	int rc;

	rc = dir->open(c, &src, err);
	if (rc == 0)
		rc = dir->read(src, m, err);
	dir->close(src);
	return rc;
}

/* A choice, and why. */
static enum rs_run_read
choice(struct rs_how *how, enum rs_run_read read, const char *reason,
    const char *detail)
{
	how->incremental = read == RS_RUN_INCREMENTAL;
	how->reason = reason;
	snprintf(how->detail, sizeof(how->detail), "%s", detail);
	return read;
}

/* How many incremental runs were made since the last full read. */
static void
save_runs(const struct rs_config *c, long runs)
{
	struct rs_err err;
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%ld\n", runs);
	if (apply_state(c, RS_RUNS_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	buf_free(&b);
}

static long
load_runs(const struct rs_config *c)
{
	struct rs_err err;
	struct buf path, text;
	long runs;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_RUNS_FILE);
	runs = read_file(path.data, &text, &err) == 0 ?
	    strtol(buf_str(&text), NULL, 10) : 0;
	buf_free(&path);
	buf_free(&text);
	return runs;
}

/* The snapshot's journal, when there is one, applied to it. */
static int
replay_journal(const struct rs_config *c, struct rs_snapshot *old,
    struct rs_model *m, struct rs_err *err)
{
	struct buf path, text;
	int rc = 0;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_JOURNAL_FILE);
	if (read_file(path.data, &text, err) == 0 &&
	    (rc = snapshot_replay(&text, old, m, err)) == 0)
		rs_log(RS_LOG_DEBUG, "snapshot: %s replayed (%zu bytes)",
		    RS_JOURNAL_FILE, text.len);
	buf_wipe(&text);
	buf_free(&path);
	return rc;
}

enum rs_run_read
pipeline_choose(const struct rs_read_facts *f, struct rs_how *how)
{
	long runs = 0;

	memset(how, 0, sizeof(*how));
	if (f->held)
		return choice(how, RS_RUN_NONE, "held", "relaysync rollback "
		    "holds syncs");
	if (f->full)
		return choice(how, RS_RUN_FULL, "full_requested",
		    "sync --full");
	if (f->full_every == 0)
		return choice(how, RS_RUN_FULL, "incremental_off",
		    "full_every is 0");
	if (f->tracking == RS_TRACK_NONE)
		return choice(how, RS_RUN_FULL, "no_rfc4533", "the server's "
		    "rootDSE offers no RFC 4533 content synchronization "
		    "(OpenLDAP: the syncprov overlay; 389-ds: the Content "
		    "Synchronization plugin) and no AD DirSync");
	if (f->snapshot(f->arg, &runs, how) < 0)
		return RS_RUN_FULL;	/* why: in how */
	if (runs + 1 >= f->full_every) {
		choice(how, RS_RUN_FULL, "full_every", "");
		snprintf(how->detail, sizeof(how->detail), "%s: full_every "
		    "incremental runs were made since the last full read",
		    f->snapshot_file);
		return RS_RUN_FULL;
	}
	return choice(how, RS_RUN_INCREMENTAL, NULL, "");
}

/*
 * What the quick check asked the directory when the answer was that
 * something changed, kept for the incremental read that follows: the
 * connection, the cookie it asked from, and the answer (the changes and
 * the cookie to keep). The read uses the answer when the snapshot's
 * cookie is the one asked from, instead of asking again.
 */
struct asked {
	struct rs_source *src;
	struct buf from;
	struct rs_changes ch;
	struct buf cookie;
	int answered;
};

static void
asked_init(struct asked *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->from);
	buf_init(&a->cookie);
	model_changes_init(&a->ch);
}

static void
asked_free(const struct rs_directory *dir, struct asked *a)
{
	dir->close(a->src);
	buf_free(&a->from);
	buf_free(&a->cookie);
	model_changes_free(&a->ch);
}

/* The changes since cookie, from what the quick check was answered when
 * it asked from that cookie, else from the directory. */
static int
changes_since(const struct rs_directory *dir, struct rs_source *src,
    struct asked *a, const struct buf *cookie, struct rs_changes *ch,
    struct buf *next, struct rs_err *err)
{
	if (!a->answered || a->from.len != cookie->len ||
	    memcmp(a->from.data, cookie->data, cookie->len) != 0)
		return dir->changes(src, cookie, ch, next, err);
	rs_log(RS_LOG_DEBUG, "ldap: the changes the quick check was told");
	*ch = a->ch;
	model_changes_init(&a->ch);
	a->answered = 0;
	buf_reset(next);
	buf_add(next, a->cookie.data, a->cookie.len);
	return 0;
}

/* Where the previous run's snapshot goes: old, and its model m. */
struct previous {
	const struct rs_config *c;
	const char *source;		/* this run's snapshot_source() */
	struct rs_snapshot *old;
	struct rs_model *m;
	int live_known;			/* the summary vouches for the live
					 * tables: no need to hash them */
};

/* The previous run's snapshot, when it may be used (struct
 * rs_read_facts): same source settings, and its generation is the live
 * one, unchanged. Otherwise -1, and why in how. */
static int
load_snapshot(void *arg, long *runs, struct rs_how *how)
{
	struct previous *pr = arg;
	const struct rs_config *c = pr->c;
	char live[RS_HASH_HEX + 1];
	struct rs_err err;
	struct buf path;
	const char *why = NULL, *code = NULL;
	int rc;

	buf_init(&path);
	*runs = pr->old->runs = load_runs(c);
	buf_printf(&path, "%s/%s", c->state_dir, RS_SNAPSHOT_FILE);
	if ((rc = snapshot_load(path.data, pr->old, pr->m, &err)) == -2)
		code = "no_snapshot", why = "no snapshot of a previous run";
	else if (rc < 0 || replay_journal(c, pr->old, pr->m, &err) < 0)
		code = "snapshot_damaged", why = err.msg;
	else if (strcmp(pr->old->source, pr->source) != 0)
		code = "settings_changed", why = "ldap or mapping settings "
		    "changed";
	else if (pr->old->generation != apply_generation(c))
		code = "tables_changed", why = "it does not name the live "
		    "generation";
	else if (!pr->live_known && (snapshot_live_tables(c, live) < 0 ||
	    strcmp(live, pr->old->tables) != 0))
		code = "tables_changed", why = "the live tables are not the "
		    "ones it produced";
	if (why != NULL) {
		snprintf(how->detail, sizeof(how->detail), "%s: %s", path.data,
		    why);
		how->reason = code;
		model_free(pr->m);
	}
	buf_free(&path);
	return why ? -1 : 0;
}

/* model_merge(), with the journal record of the merge made first (it
 * takes fresh over) when there is a next snapshot. */
static int
merge_recorded(struct rs_model *m, const struct rs_changes *ch,
    const struct rs_reads *r, struct rs_model *fresh,
    struct rs_snapshot *next)
{
	if (next != NULL)
		(void)snapshot_record(next, ch, fresh);	/* none: a whole one */
	return model_merge(m, ch, r, fresh);
}

/* The facts of a run's choice, but what the run says (held, full) and the
 * directory's tracking (taken as RS_TRACK_SYNC until it says). */
static void
read_facts(const struct rs_config *c, struct previous *pr, struct buf *file,
    struct rs_read_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->full_every = c->full_every;
	f->tracking = RS_TRACK_SYNC;
	f->snapshot = load_snapshot;
	f->arg = pr;
	buf_printf(file, "%s/%s", c->state_dir, RS_SNAPSHOT_FILE);
	f->snapshot_file = file->data;
}

/* Read again what a change set names, and apply it to the model; a
 * failure with RS_EX_TEMPFAIL means: read everything (reason, when not
 * NULL, says why). */
int
pipeline_merge(const struct rs_directory *dir, struct rs_source *src,
    const struct rs_changes *ch, struct rs_model *m, const char **reason,
    struct rs_snapshot *next, struct rs_err *err)
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
	} else if ((rc = dir->fetch(src, &r, &fresh, err)) == 0 &&
	    (rc = merge_recorded(m, ch, &r, &fresh, next)) < 0) {
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
 * failure, why in how (a full read then). */
static int
read_changes(const struct rs_directory *dir, struct rs_source *src,
    struct asked *a, const struct rs_snapshot *old, struct rs_snapshot *next,
    struct rs_model *m, struct rs_how *how, struct rs_err *err)
{
	struct rs_changes ch;
	const char *reason = NULL;
	int rc;

	rc = changes_since(dir, src, a, &old->cookie, &ch, &next->cookie, err);
	if (rc < 0)
		reason = dir->reason(src);
	else
		rc = pipeline_merge(dir, src, &ch, m, &reason, next, err);
	if (rc == 0) {
		next->runs = old->runs + 1;
		memcpy(next->base, old->base, sizeof(next->base));
		next->size = old->size;
		next->records = old->records;
		buf_add(&next->journal, old->journal.data, old->journal.len);
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
		choice(how, RS_RUN_FULL, reason ? reason : "sync_failed",
		    err->msg);
	model_changes_free(&ch);
	return rc;
}

/* A full read, after taking the cookie it will be current to. */
int
pipeline_read_all(const struct rs_directory *dir, struct rs_source *src,
    struct rs_snapshot *next, struct rs_model *m, struct rs_err *err)
{
	struct rs_err why;

	if (dir->cookie(src, &next->cookie, &why) < 0) {
		rs_log(dir->tracking(src) != RS_TRACK_NONE ? RS_LOG_WARN :
		    RS_LOG_DEBUG,
		    "no sync cookie, so the next run reads everything too: %s",
		    why.msg);
		buf_reset(&next->cookie);
	}
	next->runs = 0;
	return dir->read(src, m, err);
}

/* The previous run's snapshot, into old and m, when it may be used
 * (watch: the server follows changes, nothing is held). */
int
pipeline_resume(const struct rs_config *c, struct rs_snapshot *old,
    struct rs_model *m)
{
	char source[RS_HASH_HEX + 1];
	struct previous pr = { c, source, old, m, 0 };
	struct rs_read_facts f;
	struct rs_how how;
	struct buf file;
	int rc = 0;

	buf_init(&file);
	snapshot_source(c, source);
	read_facts(c, &pr, &file, &f);
	if (pipeline_choose(&f, &how) != RS_RUN_INCREMENTAL) {
		rs_log(RS_LOG_INFO, "full read: %s", how.detail);
		model_free(m);
		rc = -1;
	}
	buf_free(&file);
	return rc;
}

/* Read the directory into m as pipeline_choose() says: incrementally
 * from the previous run's snapshot (falling back to a full read when
 * that fails), in full, or not at all (held: -1 with err set). how says
 * which, and why; next gets what the snapshot of this run will say. */
static int
pipeline_load(const struct rs_runopts *o, const struct rs_config *c,
    struct asked *a, struct rs_snapshot *next, struct rs_model *m,
    struct rs_how *how, enum rs_run_read *read, struct rs_err *err)
{
	const struct rs_directory *dir = o->dir;
	struct rs_source *src = NULL;
	struct rs_snapshot old;
	struct previous pr = { c, next->source, &old, m, 0 };
	struct rs_read_facts f;
	struct buf file;
	int rc = 0;

	snapshot_init(&old);
	buf_init(&file);
	snapshot_source(c, next->source);
	read_facts(c, &pr, &file, &f);
	f.held = !o->dry_run && pipeline_held(c, err);
	f.full = o->full;
	memset(how, 0, sizeof(*how));
	pr.live_known = next->live_known;
	if (!f.held && a->src != NULL) {
		src = a->src;	/* the quick check's connection */
		a->src = NULL;
	} else if (!f.held)
		rc = dir->open(c, &src, err);
	if (rc == 0 && src != NULL)
		f.tracking = dir->tracking(src);
	next->present_scans = f.tracking == RS_TRACK_DIRSYNC;
	if (rc == 0)
		*read = pipeline_choose(&f, how);
	if (rc == 0 && *read == RS_RUN_NONE)
		rc = -1;		/* held: err says so */
	if (rc == 0 && *read == RS_RUN_INCREMENTAL &&
	    read_changes(dir, src, a, &old, next, m, how, err) < 0)
		*read = RS_RUN_FULL;
	if (rc == 0 && *read == RS_RUN_FULL) {
		model_free(m);
		rs_log(RS_LOG_INFO, "full read (%s): %s", how->reason,
		    how->detail);
		rc = pipeline_read_all(dir, src, next, m, err);
	}
	dir->close(src);
	snapshot_free(&old);
	buf_free(&file);
	return rc;
}

/* The key ids of the run that made the live generation, when that
 * generation is still live (id -> non-NULL in known). */
static void
recorded_keys(const struct rs_config *c, struct strmap *known,
    unsigned long *gen)
{
	struct buf path, text;
	struct rs_err ignored;
	char *line, *next;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->state_dir, RS_KEYIDS_FILE);
	*gen = 0;
	if (read_file(path.data, &text, &ignored) == 0 &&
	    sscanf(buf_str(&text), "generation %lu", gen) == 1 &&
	    *gen == apply_generation(c))
		for (line = strchr(text.data, '\n'); line && *++line;
		    line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next = '\0';
			*strmap_slot(known, line) = (void *)1;
		}
	buf_free(&path);
	buf_free(&text);
}

static int
keys_missing(const struct rs_config *c, size_t n, const char *first,
    struct rs_err *err)
{
	const char *kf = c->secrets.key_file;

	return rs_err_set(err, RS_EX_CONFIG, "secrets.key_file %s (%s:%lu) %s, "
	    "but %zu send-as entries hold {AES256-GCM} passwords (the first: "
	    "%s); without the key every one of those routes would be "
	    "revoked. Give the right path in secrets.key_file or restore the "
	    "file; nothing was changed", *kf ? kf : "(empty)", c->path,
	    config_line(c, "secrets.key_file"), !*kf ? "is not set" :
	    access(kf, F_OK) < 0 ? "does not exist" : "holds no key", n,
	    first);
}

/* Encrypted passwords need the keys they were made with: a key file that
 * is missing or empty, or a key that the live generation's run had and
 * the key file lost, is a configuration error, never a mass revocation. */
int
pipeline_keys_cover(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_err *err)
{
	const struct rs_value *v;
	struct strmap known;
	unsigned long gen;
	const char *first = NULL;
	char id[33], lost[33] = "";
	size_t i, n = 0;

	strmap_init(&known);
	recorded_keys(c, &known, &gen);
	for (i = 0; i < m->nsendas; i++) {
		v = &m->sendas[i].f[RS_F_PASSWORD];
		if (v->count == 0 || secret_key_id(v->val, v->len, id,
		    sizeof(id)) < 0 || (keys->n > 0 && (keyring_has(keys, id) ||
		    strmap_get(&known, id) == NULL)))
			continue;
		if (n++ == 0) {
			first = m->sendas[i].dn;
			snprintf(lost, sizeof(lost), "%s", id);
		}
	}
	strmap_free(&known);
	if (n == 0)
		return 0;
	if (keys->n == 0)
		return keys_missing(c, n, first, err);
	return rs_err_set(err, RS_EX_CONFIG, "secrets.key_file %s no longer "
	    "holds key %s, which it held when generation %lu was made live; "
	    "%zu send-as entries hold {AES256-GCM} passwords made with it "
	    "(the first: %s). Put the key line back (drop a key only after "
	    "every value was encrypted again with relaysync encrypt-secret); "
	    "nothing was changed", c->secrets.key_file, lost, gen, n, first);
}

void
pipeline_record_keys(const struct rs_config *c, const struct rs_keyring *keys)
{
	struct buf b, old, path;
	struct rs_err err;
	size_t i;

	buf_init(&b);
	buf_init(&old);
	buf_init(&path);
	buf_printf(&b, "generation %lu\n", apply_generation(c));
	for (i = 0; i < keys->n; i++)
		buf_printf(&b, "%s\n", keys->keys[i].id);
	buf_printf(&path, "%s/%s", c->state_dir, RS_KEYIDS_FILE);
	if ((read_file(path.data, &old, &err) < 0 || old.len != b.len ||
	    memcmp(old.data, b.data, b.len) != 0) &&
	    apply_state(c, RS_KEYIDS_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	buf_free(&b);
	buf_free(&old);
	buf_free(&path);
}

/* pipeline_keys_cover(), in a thread of its own beside the decision
 * (both only read the model). */
struct cover {
	const struct rs_config *c;
	const struct rs_keyring *keys;
	const struct rs_model *m;
	struct rs_err err;
	int rc;
};

static void *
cover_thread(void *arg)
{
	struct cover *k = arg;

	k->rc = pipeline_keys_cover(k->c, k->keys, k->m, &k->err);
	return NULL;
}

/* Decide with the relay's own next hops (unless private gateways are
 * allowed anyway), when gated the recorded gateway checks, and for
 * verify every route's fingerprint; unless the keys do not cover the
 * model's passwords (that error first: the decision made meanwhile is
 * dropped), or the checks or the next hops cannot be read. */
static int
decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, int gated, int for_verify,
    struct rs_decision *d, struct rs_err *err)
{
	struct rs_policy_env env = { NULL, NULL, 0, for_verify };
	struct cover k = { c, keys, m, { 0, "" }, 0 };
	struct strmap ok;
	char **hops = NULL;
	size_t nhops = 0;
	pthread_t th;
	int rc = 0, two;

	memset(d, 0, sizeof(*d));
	strmap_init(&ok);
	if (!(two = pthread_create(&th, NULL, cover_thread, &k) == 0))
		cover_thread(&k);
	if (gated)
		rc = verify_load_ok(c, &ok, err);
	if (rc == 0 && !c->policy.allow_private_gateways)
		rc = postconf_own_hops(c, &hops, &nhops, err);
	env.checked = &ok;
	env.own_hops = hops;
	env.n_own_hops = nhops;
	if (rc == 0)
		policy_decide(m, c, keys, &env, d);
	if (two)
		pthread_join(th, NULL);
	if (k.rc < 0) {
		policy_free(d);
		memset(d, 0, sizeof(*d));
		*err = k.err;
		rc = -1;
	}
	postconf_free_hops(hops, nhops);
	strmap_free_values(&ok);
	return rc;
}

/* Decide, with the recorded gateway checks when the policy wants them. */
int
pipeline_decide(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err)
{
	return decide(c, keys, m, c->policy.require_gateway_check, 0, d, err);
}

/* Decide as if policy.require_gateway_check were off: the routes that a
 * gateway check would gate. */
int
pipeline_candidates(const struct rs_config *c, const struct rs_keyring *keys,
    const struct rs_model *m, struct rs_decision *d, struct rs_err *err)
{
	struct rs_config ungated = *c;

	ungated.policy.require_gateway_check = 0;
	return decide(&ungated, keys, m, 0, 1, d, err);
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

/* Install the planned tables unless a dry run or a safety limit says
 * not to. The outcome in out: its code is the run's exit code, its
 * message set only when the run failed. */
static void
finish_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_tables *t, struct rs_run *run, struct rs_err *out)
{
	struct rs_applied ap;

	out->code = RS_EX_OK;
	out->msg[0] = '\0';
	if (o->dry_run)
		out->code = run->p->refused ? RS_EX_TEMPFAIL :
		    run->p->apply ? RS_EX_PENDING : RS_EX_OK;
	else if (run->p->refused)
		rs_err_set(out, RS_EX_TEMPFAIL, "%s", run->p->refusal);
	else if (run->p->apply && apply_tables(c, o->installer, t,
	    run->p->reload, &ap, out) < 0)
		run->applied = ap.generation != 0;
	else if (run->p->apply) {
		run->applied = 1;
		run->reloaded = ap.reloaded;
		rs_log(RS_LOG_INFO, "installed generation %lu in %s%s",
		    ap.generation, c->postfix.map_dir, ap.reloaded ?
		    "; Postfix reloaded" : "");
	}
}

void
pipeline_stage(const char *name, double *t)
{
	double now = monotonic_seconds();
	long rss, peak;

	memory_use(&rss, &peak);
	if (rss < 0 || peak < 0)	/* no /proc */
		rs_log(RS_LOG_DEBUG, "%s: %.0f ms", name, (now - *t) * 1e3);
	else
		rs_log(RS_LOG_DEBUG, "%s: %.0f ms (resident %ld MiB, peak %ld "
		    "MiB)", name, (now - *t) * 1e3, rss / 1024, peak / 1024);
	*t = now;
}

/* After a real run: the metrics file, and the webhook on change or failure.
 * run is NULL when the run failed before deciding. */
static void
after_run(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_run *run, int rc, const char *error, double t0,
    const struct rs_how *how)
{
	struct rs_err err;
	struct buf b;

	if (o->dry_run)
		return;
	buf_init(&b);
	status_record(&b, run, rc, error, how);
	if (apply_state(c, RS_LASTRUN_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	if (*c->metrics_file) {
		report_metrics(&b, run, rc, monotonic_seconds() - t0);
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
struct snapshot_fill {
	const struct rs_snapshot *s;
	const struct rs_model *m;
	char digest[RS_HASH_HEX + 1];
};

static int
snapshot_fill(void *arg, rs_drain_fn drain, void *to)
{
	struct snapshot_fill *f = arg;

	return snapshot_write_digest(f->s, f->m, drain, to, f->digest);
}

/* The digest file of a whole snapshot just written with fill. */
static void
keep_digest(const struct rs_config *c, struct snapshot_fill *fill,
    struct rs_snapshot *next, const struct rs_model *m)
{
	struct rs_err err;
	struct buf b;

	buf_init(&b);
	snapshot_digest_text(c, *fill->digest ? fill->digest :
	    snapshot_digest(next, m), &b);	/* sealed: another pass */
	if (b.len > 0 && apply_cache(c, RS_DIGEST_FILE, &b, &err) < 0)
		rs_log(RS_LOG_WARN, "%s; the next run writes the snapshot "
		    "again", err.msg);
	buf_free(&b);
}

/* The whole snapshot, written as a stream (never whole in memory), with
 * its digest; not written again when the file holds it already. */
static int
save_whole(const struct rs_config *c, const struct rs_model *m,
    struct rs_snapshot *next)
{
	struct snapshot_fill fill = { next, m, "" };
	struct rs_err err;
	int rc;

	if (snapshot_kept(c, next, m)) {
		rs_log(RS_LOG_DEBUG, "snapshot: %s holds this model and cookie "
		    "already, not rewritten", RS_SNAPSHOT_FILE);
		apply_forget(c, RS_JOURNAL_FILE);
		return 0;
	}
	apply_forget(c, RS_DIGEST_FILE);
	rc = apply_cache_stream(c, RS_SNAPSHOT_FILE, snapshot_fill, &fill,
	    &err);
	if (rc > 0) {
		rs_log(RS_LOG_INFO, "no snapshot kept: the directory holds a "
		    "password in clear and there is no key in %s to keep it "
		    "encrypted (the next run reads everything)",
		    c->secrets.key_file);
		apply_forget(c, RS_SNAPSHOT_FILE);
		return -1;
	}
	if (rc < 0) {
		rs_log(RS_LOG_WARN, "%s; the next run reads everything",
		    err.msg);
		return -1;
	}
	apply_forget(c, RS_JOURNAL_FILE);
	keep_digest(c, &fill, next, m);
	return 0;
}

int
pipeline_save(const struct rs_config *c, const struct rs_model *m,
    const struct rs_tables *t, struct rs_snapshot *next)
{
	unsigned long live;
	struct rs_err err;
	struct buf b;
	int rc = 0;

	if (next == NULL || next->cookie.len == 0)
		return -1;
	live = apply_generation(c);
	save_runs(c, next->runs);
	if (next->unchanged && next->generation == live)
		return 0;
	buf_init(&b);
	next->generation = live;
	if (t != NULL)
		snapshot_tables(t, next->tables);
	else if (snapshot_live_tables(c, next->tables) < 0) {
		rs_log(RS_LOG_WARN, "cannot read the live tables below %s; the "
		    "next run reads everything", c->postfix.map_dir);
		rc = -1;
	}
	if (rc == 0 && snapshot_journal(next, &b) == 0) {
		rs_log(RS_LOG_DEBUG, "snapshot: a record added to %s (%zu "
		    "bytes)", RS_JOURNAL_FILE, b.len);
		if (apply_cache(c, RS_JOURNAL_FILE, &b, &err) < 0) {
			rs_log(RS_LOG_WARN, "%s; the next run reads everything",
			    err.msg);
			rc = -1;
		}
	} else if (rc == 0)
		rc = save_whole(c, m, next);
	buf_wipe(&b);
	return rc;
}

/* The rejections file of the summary, written as a stream. */
struct rejected_fill {
	const struct rs_decision *d;
	char sum[RS_HASH_HEX + 1];
};

static int
rejected_fill(void *arg, rs_drain_fn drain, void *to)
{
	struct rejected_fill *f = arg;
	struct rs_stream out;
	int rc;

	stream_init(&out, drain, to);
	rc = summary_rejections(f->d, &out, f->sum);
	if (stream_end(&out) < 0)
		rc = -1;
	buf_free(&out.b);
	return rc;
}

/* Write the rejections file of the summary (whose keyed SHA-256 goes to
 * sum) unless the previous one (in old, read back from the state
 * directory) left it as it must be: it is ~90 bytes per rejected entry,
 * rewritten by every change run. */
static int
save_rejected(const struct rs_config *c, const struct buf *old,
    const struct rs_decision *d, char *sum, struct rs_err *err)
{
	struct rejected_fill f = { d, "" };
	struct rs_summary prev;
	struct rs_err ignored;
	int kept = 0, rc = 0;

	/* with a previous summary, a first pass for the digest only: the
	 * file is written (a second pass) only when the recorded digest
	 * differs; without one, the writing pass makes the digest */
	summary_init(&prev);
	if (old->len > 0 && summary_parse(old, &prev, &ignored) == 0) {
		(void)rejected_fill(&f, drain_nothing, NULL);
		kept = summary_rejected_kept(c, &prev, f.sum);
	}
	summary_free(&prev);
	if (kept)
		rs_log(RS_LOG_DEBUG, "summary: %s unchanged, not rewritten",
		    RS_REJECTED_FILE);
	else
		rc = apply_cache_stream(c, RS_REJECTED_FILE, rejected_fill, &f,
		    err);
	memcpy(sum, f.sum, sizeof(f.sum));	/* made by either pass */
	return rc == 0 ? 0 : -1;
}

/* The summary of a decision whose tables are live, for the next run to
 * tell quickly that nothing changed (none when next says nothing of
 * the decision's inputs). The rejections file goes first: the summary
 * records its identity. */
static void
save_summary(const struct rs_config *c, const struct rs_model *m,
    const struct rs_decision *d, const struct rs_snapshot *next)
{
	struct rs_summary s;
	struct rs_err err;
	struct buf text, old, path;
	size_t i;

	summary_init(&s);
	buf_init(&text);
	buf_init(&old);
	buf_init(&path);
	memcpy(s.source, next->source, sizeof(s.source));
	memcpy(s.inputs, next->inputs, sizeof(s.inputs));
	s.generation = apply_generation(c);
	buf_add(&s.cookie, next->cookie.data, next->cookie.len);
	s.routes = d->nroutes;
	for (i = 0; i < d->nroutes; i++)
		s.relay += d->routes[i]->route.sec != RS_SEC_SSL;
	if (next->present_scans)
		summary_uuids(m, s.present);
	buf_printf(&path, "%s/%s", c->state_dir, RS_SUMMARY_FILE);
	if (read_file(path.data, &old, &err) < 0)
		buf_reset(&old);
	if (save_rejected(c, &old, d, s.rejected, &err) == 0) {
		summary_files(c, &s.files);
		summary_dump(&s, &text);
		if ((old.len != text.len || memcmp(old.data, text.data,
		    text.len) != 0) && apply_cache(c, RS_SUMMARY_FILE, &text,
		    &err) < 0)
			rs_log(RS_LOG_WARN, "%s", err.msg);
	} else
		rs_log(RS_LOG_WARN, "%s", err.msg);
	summary_free(&s);
	buf_free(&text);
	buf_free(&old);
	buf_free(&path);
}

/* The report, the failure if any (out's message), and the log lines of
 * a run. */
static void
tell(const struct rs_runopts *o, const struct rs_run *run,
    const struct rs_err *out)
{
	if (rs_verbosity > RS_LOG_ERROR && !o->no_report)
		report_write(stdout, o->format, run);
	if (*out->msg)
		rs_fail(out);
	if (!o->dry_run)
		report_log(run);
}

/* sync --diff: the table lines that change, passwords masked. */
static void
print_diff(const struct rs_config *c, const struct rs_tables *t)
{
	struct buf b;

	buf_init(&b);
	plan_diff(c, t, &b);
	fputs(b.len ? b.data : "(no table line changes)\n", stdout);
	buf_free(&b);
}

/*
 * A run that installs tables writes the whole snapshot beside apply, in
 * a thread of its own, as RS_SNAPSHOT_NEXT_FILE naming the generation
 * apply is about to make live (apply_next_generation()); it replaces the
 * snapshot only when that generation is the live one after apply. The
 * main thread does nothing but apply meanwhile (secret.c's contexts are
 * the writer's while it seals).
 */
struct ahead {
	const struct rs_config *c;
	struct snapshot_fill fill;
	struct rs_err err;
	pthread_t thread;
	int running, rc;
};

static void *
ahead_thread(void *arg)
{
	struct ahead *a = arg;

	a->rc = apply_cache_stream(a->c, RS_SNAPSHOT_NEXT_FILE, snapshot_fill,
	    &a->fill, &a->err);
	return NULL;
}

static void
ahead_start(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_tables *t, const struct rs_plan *p,
    struct rs_snapshot *next, const struct rs_model *m, struct ahead *a)
{
	memset(a, 0, sizeof(*a));
	if (o->dry_run || next == NULL || next->cookie.len == 0 ||
	    next->record.len > 0 || !p->apply || p->refused)
		return;
	next->generation = apply_next_generation(c);
	snapshot_tables(t, next->tables);
	a->c = c;
	a->fill.s = next;
	a->fill.m = m;
	a->running = pthread_create(&a->thread, NULL, ahead_thread, a) == 0;
	if (a->running)
		rs_log(RS_LOG_DEBUG, "snapshot: written beside apply, naming "
		    "generation %lu", next->generation);
}

/* After apply: the snapshot written ahead replaces the old one when its
 * generation is live (then the run need not write it again). */
static void
ahead_finish(struct ahead *a, const struct rs_run *run,
    struct rs_snapshot *next, const struct rs_model *m)
{
	struct rs_err err;

	if (!a->running)
		return;
	pthread_join(a->thread, NULL);
	if (a->rc == 0 && run->applied && run->exit_code == RS_EX_OK &&
	    apply_generation(a->c) == next->generation) {
		apply_forget(a->c, RS_DIGEST_FILE);
		if (apply_cache_rename(a->c, RS_SNAPSHOT_NEXT_FILE,
		    RS_SNAPSHOT_FILE, &err) == 0) {
			apply_forget(a->c, RS_JOURNAL_FILE);
			keep_digest(a->c, &a->fill, next, m);
			next->unchanged = 1;	/* saved */
			rs_log(RS_LOG_DEBUG, "snapshot: %s kept (generation "
			    "%lu is live)", RS_SNAPSHOT_FILE, next->generation);
			return;
		}
		rs_log(RS_LOG_WARN, "%s", err.msg);
	}
	apply_forget(a->c, RS_SNAPSHOT_NEXT_FILE);
}

int
pipeline_apply(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_model *m, const struct rs_decision *d,
    const struct rs_how *how, struct rs_snapshot *next, double t0)
{
	struct rs_tables t;
	struct rs_plan p;
	struct rs_run run;
	struct rs_err out, warn;
	struct ahead ahead;
	double clock = monotonic_seconds();

	if (!o->dry_run && next != NULL)
		snapshot_digest_start(c, next, m);	/* while we go on */
	render_tables(d, c->postfix.tls_level, &t);
	pipeline_stage("render", &clock);
	if (plan_build(c, o->installer, d, &t, o->force, &p, &out) < 0) {
		if (next != NULL)
			snapshot_digest_join(next);
		render_free(&t);
		return rs_fail(&out);
	}
	pipeline_stage("plan", &clock);
	if (o->diff && rs_verbosity > RS_LOG_ERROR)
		print_diff(c, &t);
	memset(&run, 0, sizeof(run));
	run.dry_run = o->dry_run;
	run.d = d;
	run.p = &p;
	run.how = how;
	ahead_start(o, c, &t, &p, next, m, &ahead);
	finish_sync(o, c, &t, &run, &out);
	run.exit_code = out.code;
	ahead_finish(&ahead, &run, next, m);
	run.error = *out.msg && !p.refused ? out.msg : NULL;	/* refusal:
								 * shown as such */
	pipeline_stage("apply", &clock);
	tell(o, &run, &out);
	if (!o->dry_run && out.code == RS_EX_OK && !p.apply && p.verified &&
	    apply_stamps(c, &t, &warn) < 0)
		rs_log(RS_LOG_WARN, "%s", warn.msg);
	if (!o->dry_run && out.code == RS_EX_OK && next != NULL) {
		/* OK: t is live */
		if (pipeline_save(c, m, &t, next) == 0 && *next->inputs)
			save_summary(c, m, d, next);
		else
			apply_forget(c, RS_SUMMARY_FILE);
		pipeline_stage("snapshot", &clock);
	}
	if (next != NULL)
		snapshot_digest_join(next);
	after_run(o, c, &run, out.code, *out.msg ? out.msg : NULL, t0, how);
	plan_free(&p);
	render_free(&t);
	return out.code;
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


static int full_unchanged(const struct rs_runopts *, const struct rs_config *,
    const struct rs_keyring *, const struct rs_snapshot *,
    const struct rs_model *, const struct rs_how *, double);

/* Read, check gateways when asked, and decide; 1 when a full read found
 * nothing changed and the run was reported without deciding. */
static int
read_and_decide(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, struct asked *a, struct rs_snapshot *next,
    struct rs_model *m, struct rs_decision *d, struct rs_how *how,
    enum rs_run_read *read, double t0, struct rs_err *err)
{
	double clock = monotonic_seconds();

	if (pipeline_load(o, c, a, next, m, how, read, err) < 0)
		return -1;
	pipeline_stage("read", &clock);
	if (*read == RS_RUN_FULL && full_unchanged(o, c, keys, next, m, how,
	    t0)) {
		pipeline_stage("unchanged", &clock);
		return 1;
	}
	if (o->verify && verify_first(o, c, keys, m, err) < 0)
		return -1;
	if (pipeline_decide(c, keys, m, d, err) < 0)
		return -1;
	pipeline_stage("decide", &clock);
	return 0;
}

int
pipeline_held(const struct rs_config *c, struct rs_err *err)
{
	struct rs_hold h;
	struct tm tm;
	char t[64];

	if (!apply_held(c, &h))
		return 0;
	localtime_r(&h.since, &tm);
	strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S %Z", &tm);
	rs_err_set(err, RS_EX_TEMPFAIL, "syncs are held: relaysync rollback "
	    "made generation %lu live (was %lu) at %s; this run changed "
	    "nothing. Run relaysync resume to let syncs change the tables "
	    "again", h.to, h.from, t);
	return 1;
}

/* The decision's inputs besides the directory (summary_inputs()); ""
 * when the relay's own next hops cannot be listed. */
static void
decision_inputs(const struct rs_config *c, char *out)
{
	struct rs_err ignored;
	char **hops = NULL;
	size_t n = 0;

	*out = '\0';
	if (c->policy.allow_private_gateways ||
	    postconf_own_hops(c, &hops, &n, &ignored) == 0)
		summary_inputs(c, hops, n, out);
	postconf_free_hops(hops, n);
}

/* Does the last run's summary describe this run but for what the
 * directory may have changed: same settings, inputs, live generation and
 * files, and (for an incremental run) no full read due? */
static int
summary_current(const struct rs_config *c, const char *inputs,
    int incremental, struct rs_summary *s, long *runs)
{
	char source[RS_HASH_HEX + 1];
	struct rs_err err;
	struct buf path, text, files;
	int ok;

	buf_init(&path);
	buf_init(&text);
	buf_init(&files);
	buf_printf(&path, "%s/%s", c->state_dir, RS_SUMMARY_FILE);
	snapshot_source(c, source);
	*runs = load_runs(c);
	ok = *inputs && (!incremental || (c->full_every > 0 &&
	    *runs + 1 < c->full_every)) &&
	    read_file(path.data, &text, &err) == 0 &&
	    summary_parse(&text, s, &err) == 0 &&
	    strcmp(s->source, source) == 0 && strcmp(s->inputs, inputs) == 0 &&
	    s->generation == apply_generation(c);
	if (ok) {
		summary_files(c, &files);
		ok = files.len == s->files.len &&
		    memcmp(files.data, s->files.data, files.len) == 0;
	}
	buf_free(&path);
	buf_free(&text);
	buf_free(&files);
	return ok;
}

/* Did the directory name nothing changed, and, in a present phase,
 * exactly what the summary's model held? */
static int
nothing_changed(const struct rs_changes *ch, const struct rs_summary *s)
{
	char present[RS_HASH_HEX + 1];

	if (ch->n != 0 || ch->gone.count != 0)
		return 0;
	if (!ch->present_phase)
		return 1;
	if (strcmp(s->present, "-") == 0)
		return 0;
	summary_present(ch, present);
	return strcmp(present, s->present) == 0;
}

/* Does the directory say that nothing changed since the summary's
 * cookie? cookie gets the one to keep. When it says what changed, a
 * keeps the connection and the answer. -1 when it cannot be asked (err
 * says why). */
static int
directory_unchanged(const struct rs_directory *dir, const struct rs_config *c,
    const struct rs_summary *s, struct asked *a, struct buf *cookie,
    struct rs_err *err)
{
	struct rs_source *src = NULL;
	struct rs_changes ch;
	struct rs_err why;
	int same = 0;

	model_changes_init(&ch);
	if (dir->open(c, &src, err) < 0)
		same = -1;
	else if (dir->tracking(src) != RS_TRACK_NONE &&
	    dir->changes(src, &s->cookie, &ch, cookie, &why) == 0 &&
	    (same = nothing_changed(&ch, s)) == 0) {
		a->src = src;
		src = NULL;
		model_changes_free(&a->ch);
		a->ch = ch;
		model_changes_init(&ch);
		buf_add(&a->from, s->cookie.data, s->cookie.len);
		buf_add(&a->cookie, cookie->data, cookie->len);
		a->answered = 1;
	}
	dir->close(src);
	model_changes_free(&ch);
	return same;
}

/* A new cookie with nothing changed: the summary keeps it (the
 * snapshot's older one stays valid: nothing changed in between). */
static void
move_cookie(const struct rs_config *c, struct rs_summary *s,
    const struct buf *cookie)
{
	struct rs_err err;
	struct buf text;

	if (cookie->len == s->cookie.len &&
	    memcmp(cookie->data, s->cookie.data, cookie->len) == 0)
		return;
	buf_init(&text);
	buf_reset(&s->cookie);
	buf_add(&s->cookie, cookie->data, cookie->len);
	summary_dump(s, &text);
	if (apply_cache(c, RS_SUMMARY_FILE, &text, &err) < 0)
		rs_log(RS_LOG_WARN, "%s", err.msg);
	buf_free(&text);
}

/* Report a run that found nothing changed (read as how says) from the
 * summary's decision, and record runs incremental runs since the last
 * full read; -1 when its rejections cannot be read back. */
static int
report_quick(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_summary *s,
    const struct rs_how *how, long runs, double t0)
{
	struct rs_decision d;
	struct rs_plan p;
	struct rs_run run;
	struct rs_err err;
	struct buf path, rejected;
	int rc;

	buf_init(&path);
	buf_init(&rejected);
	buf_printf(&path, "%s/%s", c->state_dir, RS_REJECTED_FILE);
	rc = read_file(path.data, &rejected, &err) < 0 ? -1 :
	    summary_decision(s, &rejected, &d);
	if (rc == 0) {
		memset(&p, 0, sizeof(p));
		p.installed = 1;
		p.old_routes = p.new_routes = d.nroutes;
		memset(&run, 0, sizeof(run));
		run.dry_run = o->dry_run;
		run.d = &d;
		run.p = &p;
		run.how = how;
		err.code = 0;
		*err.msg = '\0';
		rs_log(RS_LOG_DEBUG, "nothing changed: the last run's decision "
		    "stands (%s/%s)", c->state_dir, RS_SUMMARY_FILE);
		tell(o, &run, &err);
		if (!o->dry_run) {
			save_runs(c, runs);
			pipeline_record_keys(c, keys);
		}
		after_run(o, c, &run, RS_EX_OK, NULL, t0, how);
		summary_decision_free(&d);
	}
	buf_free(&path);
	buf_free(&rejected);
	return rc;
}

/* An incremental run that the directory tells nothing changed since the
 * last run's summary: reported from the summary, without loading the
 * snapshot or deciding. 1 when done, 0 when the run must read and
 * decide, -1 when the directory cannot be reached (err). next gets the
 * decision's inputs, for the summary this run leaves, and whether the
 * summary vouches for the live files. */
static int
sync_quick(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, struct asked *a, struct rs_snapshot *next,
    double t0, struct rs_err *err)
{
	char *inputs = next->inputs;
	struct rs_summary s;
	struct rs_how how;
	struct buf cookie;
	double clock = monotonic_seconds();
	long runs;
	int rc = 0;

	decision_inputs(c, inputs);
	if (o->full || o->verify || o->diff ||
	    (!o->dry_run && pipeline_held(c, err)))
		return 0;	/* held: the full path says so */
	summary_init(&s);
	buf_init(&cookie);
	if ((next->live_known = summary_current(c, inputs, 1, &s, &runs)) &&
	    (rc = directory_unchanged(o->dir, c, &s, a, &cookie, err)) == 1) {
		pipeline_stage("read", &clock);
		rs_log(RS_LOG_INFO, "incremental read: 0 changed and 0 deleted "
		    "entries since the last run");
		memset(&how, 0, sizeof(how));
		how.incremental = 1;
		rc = report_quick(o, c, keys, &s, &how, runs + 1, t0) == 0;
		if (rc == 1 && !o->dry_run)
			move_cookie(c, &s, &cookie);
	}
	summary_free(&s);
	buf_free(&cookie);
	return rc;
}

/* A full read that found the model the last run decided from (the
 * snapshot, with no journal, holds it; the summary vouches for the
 * settings, the other inputs and the live files): reported from the
 * summary without deciding, rendering or planning again. 1 when done;
 * the summary keeps the new cookie, the snapshot its older one (nothing
 * changed in between). */
static int
full_unchanged(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_snapshot *next,
    const struct rs_model *m, const struct rs_how *how, double t0)
{
	struct rs_summary s;
	long runs;
	int done = 0;

	if (o->verify || o->diff || next->cookie.len == 0)
		return 0;
	summary_init(&s);
	if (summary_current(c, next->inputs, 0, &s, &runs) &&
	    snapshot_holds(c, m)) {
		rs_log(RS_LOG_DEBUG, "the full read found the model of %s/%s",
		    c->state_dir, RS_SNAPSHOT_FILE);
		done = report_quick(o, c, keys, &s, how, 0, t0) == 0;
		if (done && !o->dry_run)
			move_cookie(c, &s, &next->cookie);
	}
	summary_free(&s);
	return done;
}

int
pipeline_sync(const struct rs_runopts *o, const struct rs_config *c,
    const struct rs_keyring *keys)
{
	struct rs_lock lock = { -1 };
	struct rs_snapshot next;
	struct asked asked;
	struct rs_model m;
	struct rs_decision d;
	struct rs_how how;
	struct rs_err err;
	enum rs_run_read read = RS_RUN_FULL;
	double t0 = monotonic_seconds();
	int rc;

	memset(&d, 0, sizeof(d));
	model_init(&m);
	snapshot_init(&next);
	asked_init(&asked);
	next.seal_with = keys;
	if (!o->dry_run && apply_lock(c, &lock, &err) < 0)
		rc = rs_fail(&err);	/* no metrics: another run's */
	else if ((rc = sync_quick(o, c, keys, &asked, &next, t0, &err)) != 0) {
		if (rc < 0) {
			memset(&how, 0, sizeof(how));
			rc = rs_fail(&err);
			after_run(o, c, NULL, rc, err.msg, t0, &how);
		} else
			rc = RS_EX_OK;
	} else if ((rc = read_and_decide(o, c, keys, &asked, &next, &m, &d,
	    &how, &read, t0, &err)) < 0) {
		rc = rs_fail(&err);
		after_run(o, c, NULL, rc, err.msg, t0, read == RS_RUN_NONE ?
		    NULL : &how);
	} else if (rc == 1)
		rc = RS_EX_OK;
	else if ((rc = pipeline_apply(o, c, &m, &d, &how, &next, t0)) ==
	    RS_EX_OK && !o->dry_run)
		pipeline_record_keys(c, keys);
	policy_free(&d);
	model_free(&m);
	snapshot_free(&next);
	asked_free(o->dir, &asked);
	apply_unlock(&lock);
	return rc;
}

int
pipeline_rollback(const struct rs_config *c, const struct rs_installer *inst)
{
	struct rs_lock lock = { -1 };
	struct rs_applied ap;
	struct rs_err err;
	unsigned long from;
	int rc;

	if (apply_lock(c, &lock, &err) < 0)
		return rs_fail(&err);
	if ((rc = apply_rollback(c, inst, &ap, &from, &err)) == 0 || from != 0) {
		if (apply_hold(c, from, ap.generation, &err) < 0)
			rc = -1;
		printf("rolled back %s from generation %lu to generation %lu"
		    "%s; syncs are held until relaysync resume\n",
		    c->postfix.map_dir, from, ap.generation, ap.reloaded ?
		    "; Postfix reloaded" : rc == 0 ? "; Postfix not running "
		    "or reload off" : "");
		rs_log(RS_LOG_INFO, "rolled back to generation %lu (was %lu); "
		    "syncs held until relaysync resume", ap.generation, from);
	}
	apply_unlock(&lock);
	return rc < 0 ? rs_fail(&err) : RS_EX_OK;
}

int
pipeline_unhold(const struct rs_config *c)
{
	struct rs_hold h;
	struct rs_err err;
	int rc = 0, was;

	if ((was = apply_held(c, &h)) && (rc = apply_resume(c, &err)) == 0)
		rs_log(RS_LOG_INFO, "syncs resumed (held since the rollback to "
		    "generation %lu)", h.to);
	if (rc == 0)
		printf(was ? "syncs resumed: the next sync makes the "
		    "directory's tables live again (generation %lu is live "
		    "now)\n" : "no hold: syncs were not held (generation %lu "
		    "is live)\n", apply_generation(c));
	return rc < 0 ? rs_fail(&err) : RS_EX_OK;
}

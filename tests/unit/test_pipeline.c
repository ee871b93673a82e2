/* Unit tests: pipeline - which read a run makes and why, when a change set
 * is too big to merge, and whole runs against a fake directory and a fake
 * installer (fake.h). */
#include "unit.h"
#include "apply.h"
#include "fake.h"
#include "pipeline.h"
#include "status.h"

static struct rs_config cfg;
static char top[64];

/* The snapshot as the fake facts see it. */
struct snap {
	int looked;		/* times the snapshot was looked at */
	const char *refuse;	/* its reason code, NULL: usable */
	long runs;
};

static int
look(void *arg, long *runs, struct rs_how *how)
{
	struct snap *s = arg;

	s->looked++;
	*runs = s->runs;
	if (s->refuse == NULL)
		return 0;
	how->reason = s->refuse;
	snprintf(how->detail, sizeof(how->detail), "the fake says so");
	return -1;
}

static void
facts(struct rs_read_facts *f, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	memset(f, 0, sizeof(*f));
	f->full_every = 10;
	f->tracking = RS_TRACK_SYNC;
	f->snapshot = look;
	f->arg = s;
	f->snapshot_file = "/state/snapshot";
}

/* The choice and its reason, each fact in its turn. */
static void
test_choose(void **state)
{
	struct rs_read_facts f;
	struct rs_how how;
	struct snap s;

	(void)state;
	facts(&f, &s);
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_INCREMENTAL);
	assert_int_equal(how.incremental, 1);
	assert_null(how.reason);
	assert_int_equal(s.looked, 1);

	/* Held: nothing is read, whatever else is true. */
	facts(&f, &s);
	f.held = f.full = 1;
	f.tracking = RS_TRACK_NONE;
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_NONE);
	assert_string_equal(how.reason, "held");
	assert_int_equal(how.incremental, 0);
	assert_int_equal(s.looked, 0);

	/* --full comes before every other reason; the snapshot is not even
	 * looked at (it costs a parse and a hash of the live tables). */
	facts(&f, &s);
	f.full = 1;
	f.full_every = 0;
	f.tracking = RS_TRACK_NONE;
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "full_requested");
	assert_string_equal(how.detail, "sync --full");
	assert_int_equal(s.looked, 0);

	facts(&f, &s);
	f.full_every = 0;
	f.tracking = RS_TRACK_NONE;
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "incremental_off");
	assert_int_equal(s.looked, 0);

	facts(&f, &s);
	f.tracking = RS_TRACK_NONE;
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "no_rfc4533");
	assert_non_null(strstr(how.detail, "no AD DirSync"));
	assert_int_equal(s.looked, 0);

	/* AD DirSync follows changes too. */
	facts(&f, &s);
	f.tracking = RS_TRACK_DIRSYNC;
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_INCREMENTAL);
}

/* The snapshot's own reasons, then full_every counted from its runs. */
static void
test_choose_snapshot(void **state)
{
	struct rs_read_facts f;
	struct rs_how how;
	struct snap s;

	(void)state;
	facts(&f, &s);
	s.refuse = "tables_changed";
	s.runs = 100;		/* would reach full_every too: not said */
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "tables_changed");
	assert_string_equal(how.detail, "the fake says so");
	assert_int_equal(s.looked, 1);

	facts(&f, &s);
	s.runs = 8;		/* the ninth incremental run of ten */
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_INCREMENTAL);
	facts(&f, &s);
	s.runs = 9;		/* the tenth run: full */
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "full_every");
	assert_string_equal(how.detail, "/state/snapshot: full_every "
	    "incremental runs were made since the last full read");
	facts(&f, &s);
	f.full_every = 1;	/* every run full, yet incremental reads on */
	assert_int_equal(pipeline_choose(&f, &how), RS_RUN_FULL);
	assert_string_equal(how.reason, "full_every");
}

static void
changes(struct rs_changes *ch, size_t n)
{
	char uuid[64], dn[64];
	size_t i;

	model_changes_init(ch);
	for (i = 0; i < n; i++) {
		snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-%012zu",
		    i);
		snprintf(dn, sizeof(dn), "uid=u%zu,dc=example,dc=com", i);
		model_changed(ch, uuid, dn);
	}
}

/* More than 1,000 entries to read again, and more than a tenth of the
 * model: a full read is cheaper; nothing is fetched. */
static void
test_merge_limit(void **state)
{
	struct rs_changes ch;
	struct rs_model m;
	struct rs_err err;
	const char *reason = NULL;

	(void)state;
	memset(&fake_dir, 0, sizeof(fake_dir));
	model_init(&m);
	changes(&ch, 1001);
	assert_int_equal(pipeline_merge(&fake_directory, FAKE_SRC, &ch, &m,
	    &reason, NULL, &err), -1);
	assert_int_equal(err.code, RS_EX_TEMPFAIL);
	assert_string_equal(reason, "many_changes");
	assert_non_null(strstr(err.msg, "1001 entries to read again"));
	assert_int_equal(fake_dir.calls[D_FETCH], 0);
	model_changes_free(&ch);

	changes(&ch, 1000);	/* not more than 1,000: fetched */
	reason = NULL;
	assert_int_equal(pipeline_merge(&fake_directory, FAKE_SRC, &ch, &m,
	    &reason, NULL, &err), 0);
	assert_null(reason);
	assert_int_equal(fake_dir.calls[D_FETCH], 1);
	model_changes_free(&ch);
	model_free(&m);
}

static int
setup(void **state)
{
	(void)state;
	memset(&fake_dir, 0, sizeof(fake_dir));
	fake_dir.tracking = RS_TRACK_SYNC;
	model_changes_init(&fake_dir.changes);
	rs_verbosity = RS_LOG_ERROR;	/* no report on standard output */
	return fake_site(&cfg, top, "pipeline",
	    "policy:\n  allow_private_gateways: true\n");
}

static int
teardown(void **state)
{
	(void)state;
	fake_site_remove(&cfg, top);
	model_changes_free(&fake_dir.changes);
	rs_verbosity = RS_LOG_INFO;
	return 0;
}

static enum rs_format report_format = RS_FMT_TEXT;

/* One sync run through the fakes (the directory is empty); its exit
 * code. */
static int
sync_opts(int full, int dry_run, int force)
{
	struct rs_runopts o;
	struct rs_keyring keys;

	memset(&o, 0, sizeof(o));
	memset(&keys, 0, sizeof(keys));
	o.dir = &fake_directory;
	o.installer = &fake_installer;
	o.full = full;
	o.dry_run = dry_run;
	o.force = force;
	o.format = report_format;
	return pipeline_sync(&o, &cfg, &keys);
}

static int
sync_run(int full)
{
	return sync_opts(full, 0, 0);
}

/* What the last run recorded for relaysync status: "read ..." line. */
static void
assert_recorded(const char *line)
{
	struct buf b;
	struct rs_err err;
	char path[128];

	snprintf(path, sizeof(path), "%s/state/%s", top, RS_LASTRUN_FILE);
	buf_init(&b);
	assert_int_equal(read_file(path, &b, &err), 0);
	assert_non_null(strstr(b.data, line));
	buf_free(&b);
}

/* A first run reads everything; the next one only the changes; --full
 * everything again. */
static void
test_sync_reads(void **state)
{
	(void)state;
	assert_int_equal(sync_run(0), RS_EX_OK);
	assert_int_equal(fake_dir.calls[D_READ], 1);
	assert_int_equal(fake_dir.calls[D_COOKIE], 1);
	assert_int_equal(fake_dir.calls[D_CHANGES], 0);
	assert_int_equal(fake_dir.calls[D_CLOSE], 1);
	assert_recorded("read full\nread_reason no_snapshot: ");
	assert_int_equal(apply_generation(&cfg), 1);

	assert_int_equal(sync_run(0), RS_EX_OK);
	assert_int_equal(fake_dir.calls[D_READ], 1);
	assert_int_equal(fake_dir.calls[D_CHANGES], 1);
	assert_recorded("read incremental\n");

	assert_int_equal(sync_run(1), RS_EX_OK);
	assert_int_equal(fake_dir.calls[D_READ], 2);
	assert_int_equal(fake_dir.calls[D_CHANGES], 1);
	assert_recorded("read full\nread_reason full_requested:  "
	    "sync --full\n");

	fake_dir.tracking = RS_TRACK_NONE;
	assert_int_equal(sync_run(0), RS_EX_OK);
	assert_int_equal(fake_dir.calls[D_READ], 3);
	assert_recorded("read_reason no_rfc4533: ");
}

/* A run whose quick check hears that something changed reads it with
 * that connection and that answer: the directory is opened, asked and
 * closed once. */
static void
test_sync_asks_once(void **state)
{
	(void)state;
	assert_int_equal(sync_run(0), RS_EX_OK);
	memset(fake_dir.calls, 0, sizeof(fake_dir.calls));
	model_changed(&fake_dir.changes, "00000000-0000-4000-8000-000000000001",
	    "uid=new,ou=people,dc=example,dc=com");
	assert_int_equal(sync_run(0), RS_EX_OK);
	assert_int_equal(fake_dir.calls[D_OPEN], 1);
	assert_int_equal(fake_dir.calls[D_CHANGES], 1);
	assert_int_equal(fake_dir.calls[D_FETCH], 1);
	assert_int_equal(fake_dir.calls[D_READ], 0);
	assert_int_equal(fake_dir.calls[D_CLOSE], 1);
	assert_recorded("read incremental\n");
}

/* Held by relaysync rollback: the directory is not even opened; the run
 * is refused and records that nothing was read. An unreachable
 * directory fails with 69 and records a full read that failed. */
static void
test_sync_held_and_down(void **state)
{
	struct rs_err err;

	(void)state;
	assert_int_equal(apply_hold(&cfg, 2, 1, &err), 0);
	assert_int_equal(sync_run(0), RS_EX_TEMPFAIL);
	assert_int_equal(fake_dir.calls[D_OPEN], 0);
	assert_recorded("result refused\nread none\n");
	assert_int_equal(apply_resume(&cfg, &err), 0);

	fake_dir.fail_open = 1;
	assert_int_equal(sync_run(0), RS_EX_UNAVAILABLE);
	assert_int_equal(fake_dir.calls[D_OPEN], 1);
	assert_int_equal(fake_dir.calls[D_READ], 0);
	assert_recorded("result failed\nread full\n");
	assert_int_equal(apply_generation(&cfg), 0);
}

/* Twenty routes are live and the directory comes back empty: the
 * empty-set rule refuses (75), the live generation stays and nothing is
 * indexed; the refusal is the run's one error (status, log), the report
 * shows it as a refusal. A dry run says 75 too, without an error; --force
 * removes them. */
static void
test_sync_refused(void **state)
{
	struct rs_decision d;
	struct rs_tables t;
	struct rs_applied ap;
	struct rs_err err;

	(void)state;
	fake_decision(&d, FAKE_ROUTES);
	render_tables(&d, "secure", &t);
	assert_int_equal(apply_tables(&cfg, &fake_installer, &t, 1, &ap, &err),
	    0);
	render_free(&t);
	memset(&fake_inst, 0, sizeof(fake_inst));
	assert_int_equal(sync_run(0), RS_EX_TEMPFAIL);
	assert_int_equal(apply_generation(&cfg), 1);
	assert_int_equal(fake_inst.calls[F_INDEX], 0);
	assert_recorded("result refused\nread full\n");
	assert_recorded("error refusing to remove all 20 routes");

	assert_int_equal(sync_opts(0, 1, 0), RS_EX_TEMPFAIL);
	assert_recorded("error refusing to remove all 20 routes");	/* the
						 * dry run recorded nothing */
	assert_int_equal(sync_opts(0, 0, 1), RS_EX_OK);
	assert_int_equal(apply_generation(&cfg), 2);
	assert_recorded("result applied\n");
}

/* A sync run with its JSON report on standard output, into report. */
static int
sync_json(struct buf *report)
{
	char path[64];
	struct rs_err err;
	int fd, saved, rc;

	strcpy(path, "/tmp/relaysync-report.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	close(fd);
	report_format = RS_FMT_JSON;
	rs_verbosity = RS_LOG_INFO;
	rc = sync_run(0);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	report_format = RS_FMT_TEXT;
	rs_verbosity = RS_LOG_ERROR;
	assert_int_equal(read_file(path, report, &err), 0);
	unlink(path);
	return rc;
}

/* One error channel, three readers: the exit code, the report's "error"
 * (a failure to install; a refusal shows as such, not as an error) and
 * the status record's error line say the same. */
static void
test_sync_error_channel(void **state)
{
	struct rs_decision d;
	struct rs_tables t;
	struct rs_applied ap;
	struct rs_err err;
	struct buf report;

	(void)state;
	buf_init(&report);
	fake_inst.fail[F_INDEX] = 1;	/* postmap fails: nothing installed */
	assert_int_equal(sync_json(&report), RS_EX_CANTCREAT);
	assert_non_null(strstr(report.data, "postmap -c "
	    "/etc/postfix hash:"));
	assert_non_null(strstr(report.data, "failed (status 1): postmap: "
	    "fatal: fake failure; the installed tables are unchanged\","));
	assert_non_null(strstr(report.data, "\"exit_code\":73,"));
	assert_recorded("result failed\n");
	assert_recorded("failed (status 1): postmap: fatal: fake failure");
	assert_int_equal(apply_generation(&cfg), 0);

	fake_inst.fail[F_INDEX] = 0;
	fake_decision(&d, FAKE_ROUTES);
	render_tables(&d, "secure", &t);
	assert_int_equal(apply_tables(&cfg, &fake_installer, &t, 1, &ap, &err),
	    0);
	render_free(&t);
	assert_int_equal(sync_json(&report), RS_EX_TEMPFAIL);
	assert_non_null(strstr(report.data, "\"error\":null,"));
	assert_non_null(strstr(report.data, "\"exit_code\":75,"));
	assert_recorded("error refusing to remove all 20 routes");
	buf_free(&report);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_choose_snapshot),
		cmocka_unit_test(test_merge_limit),
		cmocka_unit_test_setup_teardown(test_sync_reads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_asks_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_held_and_down, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_error_channel, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}

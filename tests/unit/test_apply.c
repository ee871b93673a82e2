/* Unit tests: apply - what it indexes, patches and shares, and what stays
 * live after each failure, against a fake installer (fake.h). */
#include <dirent.h>
#include <sys/stat.h>

#include "unit.h"
#include "apply.h"
#include "plan.h"
#include "render.h"
#include "fake.h"
#include "secret.h"

#define N	FAKE_ROUTES

static struct rs_config cfg;
static char top[64];

static int
setup(void **state)
{
	(void)state;
	return fake_site(&cfg, top, "apply", "");
}

static int
teardown(void **state)
{
	(void)state;
	fake_site_remove(&cfg, top);
	return 0;
}

/* Install n routes; 0 or -1 as apply_tables() returned. */
static int
install(size_t n, struct rs_applied *ap, struct rs_err *err)
{
	struct rs_decision d;
	struct rs_tables t;
	int rc;

	fake_decision(&d, n);
	render_tables(&d, "secure", &t);
	rc = apply_tables(&cfg, &fake_installer, &t, 1, ap, err);
	render_free(&t);
	return rc;
}

static void
slurp(const char *name, struct buf *b)
{
	char path[256];
	struct rs_err err;

	snprintf(path, sizeof(path), "%s/maps/%s", top, name);
	assert_int_equal(read_file(path, b, &err), 0);
}

/* The live generation's number, from the link. */
static unsigned long
live(void)
{
	return apply_generation(&cfg);
}

/* Does the live index of table name hold exactly its live text? */
static void
assert_index_whole(const char *name)
{
	struct buf text, index;
	char iname[64];

	buf_init(&text);
	buf_init(&index);
	slurp(name, &text);
	snprintf(iname, sizeof(iname), "%s.db", name);
	slurp(iname, &index);
	assert_string_equal(index.data, text.data);
	buf_free(&text);
	buf_free(&index);
}

/* Run f with standard error into a string (the log lines). */
static void
capture_start(int *saved, char *path)
{
	int fd;

	strcpy(path, "/tmp/relaysync-log.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	*saved = dup(2);
	dup2(fd, 2);
	close(fd);
	rs_verbosity = RS_LOG_DEBUG;
}

static void
capture_end(int saved, const char *path, struct buf *log)
{
	struct rs_err err;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rs_verbosity = RS_LOG_INFO;
	assert_int_equal(read_file(path, log, &err), 0);
	unlink(path);
}

static void
test_first_install(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct buf b;
	int i;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(ap.generation, 1);
	assert_int_equal(live(), 1);
	assert_int_equal(ap.reloaded, 1);
	assert_int_equal(fake_inst.calls[F_INDEX], RS_T_COUNT);
	/* each new index checked by a query, none dumped */
	assert_int_equal(fake_inst.calls[F_QUERY], RS_T_COUNT);
	assert_int_equal(fake_inst.calls[F_VERIFY], 0);
	assert_int_equal(fake_inst.calls[F_PUT], 0);
	for (i = 0; i < RS_T_COUNT; i++)
		assert_index_whole(rs_table_info[i].name);
	buf_init(&b);
	slurp("sasl_passwd", &b);
	assert_non_null(strstr(b.data, "u07@p.example u07@p.example:pw7\n"));
	buf_free(&b);
}

/* One password of twenty changed: sasl_passwd's index is patched (no
 * postmap of the whole table), every other table is shared with the
 * live generation (the same file). */
static void
test_patch(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct stat before, after;
	char path[256];

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	snprintf(path, sizeof(path), "%s/maps/sender_relay.db", top);
	assert_int_equal(stat(path, &before), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	strcpy(fake_pw[3], "rotated");
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(ap.generation, 2);
	assert_int_equal(fake_inst.calls[F_INDEX], 0);
	assert_int_equal(fake_inst.calls[F_PUT], 1);
	assert_int_equal(fake_inst.calls[F_DEL], 0);
	assert_int_equal(fake_inst.calls[F_QUERY], 1);
	assert_index_whole("sasl_passwd");
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);	/* shared */
	fake_pw[3][0] = '\0';
}

/* More than a tenth of a table's lines changed: its index is built
 * whole, not patched. */
static void
test_many_changes(void **state)
{
	struct rs_applied ap;
	struct rs_err err;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	strcpy(fake_pw[1], "rotated");
	strcpy(fake_pw[2], "rotated");	/* two of twenty: a tenth, patched */
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_INDEX], 0);
	assert_int_equal(fake_inst.calls[F_PUT], 1);
	memset(&fake_inst, 0, sizeof(fake_inst));
	strcpy(fake_pw[3], "rotated");
	strcpy(fake_pw[4], "rotated");
	strcpy(fake_pw[5], "rotated");	/* three: more than a tenth */
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_INDEX], 1);
	assert_int_equal(fake_inst.calls[F_PUT], 0);
	assert_index_whole("sasl_passwd");
}

/* Without the stamp that says a run verified the live index, an
 * unchanged table is not shared (nor patched): written and indexed
 * whole, and checked. */
static void
test_unstamped(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct stat before, after;
	char path[256];

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	snprintf(path, sizeof(path), "%s/state/%s", top, RS_INDEX_STAMPS);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/maps/sender_relay.db", top);
	assert_int_equal(stat(path, &before), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	strcpy(fake_pw[6], "rotated");
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_INDEX], RS_T_COUNT);
	assert_int_equal(fake_inst.calls[F_QUERY], RS_T_COUNT);
	assert_int_equal(fake_inst.calls[F_PUT], 0);
	assert_int_equal(stat(path, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	assert_index_whole("sender_relay");
}

/* plan trusts a stamped index; an unstamped one is dumped (the
 * installer's verify), and one that does not hold its text is repaired. */
static void
test_plan_checks_indexes(void **state)
{
	struct rs_decision d;
	struct rs_tables t;
	struct rs_applied ap;
	struct rs_plan p;
	struct rs_err err;
	char path[256];

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	fake_decision(&d, N);
	render_tables(&d, "secure", &t);
	memset(&fake_inst, 0, sizeof(fake_inst));
	assert_int_equal(plan_build(&cfg, &fake_installer, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(fake_inst.calls[F_VERIFY], 0);	/* stamped */
	assert_int_equal(p.apply, 0);
	plan_free(&p);
	snprintf(path, sizeof(path), "%s/state/%s", top, RS_INDEX_STAMPS);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(plan_build(&cfg, &fake_installer, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(fake_inst.calls[F_VERIFY], RS_T_COUNT);
	assert_int_equal(p.verified, RS_T_COUNT);
	assert_int_equal(p.apply, 0);
	plan_free(&p);
	fake_inst.fail[F_VERIFY] = 1;	/* every index damaged */
	assert_int_equal(plan_build(&cfg, &fake_installer, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.apply, 1);
	assert_int_equal(p.reload, 1);
	assert_int_equal(p.damaged, (1u << RS_T_COUNT) - 1);
	assert_int_equal(p.n, 0);	/* no route changes */
	plan_free(&p);
	render_free(&t);
}

/* A failed step of the patch falls back to indexing the whole table; the
 * log names the step. */
static void
patch_fails_at(int op, const char *where)
{
	struct rs_applied ap;
	struct rs_err err;
	struct buf log;
	char path[64], want[256];
	int saved;

	assert_int_equal(install(N, &ap, &err), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	fake_inst.fail_call[op] = 1;	/* the patch's, not the rebuild's */
	strcpy(fake_pw[5], "rotated");
	capture_start(&saved, path);
	assert_int_equal(install(N, &ap, &err), 0);
	buf_init(&log);
	capture_end(saved, path, &log);
	assert_int_equal(ap.generation, 2);
	assert_int_equal(fake_inst.calls[F_INDEX], 1);	/* the rebuild */
	assert_index_whole("sasl_passwd");
	snprintf(want, sizeof(want), "sasl_passwd: index not patched (%s); "
	    "building it from scratch", where);
	assert_non_null(strstr(log.data, want));
	buf_free(&log);
	fake_pw[5][0] = '\0';
}

static void
test_patch_put_fails(void **state)
{
	(void)state;
	patch_fails_at(F_PUT, "postmap -i -r (adding and changing lines)");
}

static void
test_patch_query_fails(void **state)
{
	(void)state;
	patch_fails_at(F_QUERY, "postmap -q - (the patched index does not "
	    "show every change)");
}

/* Removing a route patches with "postmap -d -"; when that fails, the
 * tables that lost a line are indexed whole. */
static void
test_patch_delete(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	int i;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	assert_int_equal(install(N - 1, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_INDEX], 0);
	assert_true(fake_inst.calls[F_DEL] >= 3);
	for (i = 0; i < RS_T_COUNT; i++)
		assert_index_whole(rs_table_info[i].name);
	memset(&fake_inst, 0, sizeof(fake_inst));
	fake_inst.fail[F_DEL] = 1;
	assert_int_equal(install(N - 2, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_INDEX], fake_inst.calls[F_DEL]);
	for (i = 0; i < RS_T_COUNT; i++)
		assert_index_whole(rs_table_info[i].name);
}

/* postmap fails: nothing is switched, the live generation stays. */
static void
test_index_fails(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct buf before, after;
	char path[256];

	(void)state;
	fake_inst.fail[F_INDEX] = 1;
	assert_int_equal(install(N, &ap, &err), -1);
	assert_int_equal(err.code, RS_EX_CANTCREAT);
	assert_non_null(strstr(err.msg, "failed (status 1): postmap: fatal: "
	    "fake failure; the installed tables are unchanged"));
	snprintf(path, sizeof(path), "%s/maps", top);
	assert_int_equal(access(path, F_OK), -1);	/* no set at all */
	assert_int_equal(ap.generation, 0);

	memset(&fake_inst, 0, sizeof(fake_inst));
	assert_int_equal(install(N, &ap, &err), 0);
	buf_init(&before);
	buf_init(&after);
	slurp("sasl_passwd", &before);
	memset(&fake_inst, 0, sizeof(fake_inst));
	fake_inst.fail[F_INDEX] = fake_inst.fail[F_PUT] = 1;
	strcpy(fake_pw[1], "rotated");
	assert_int_equal(install(N, &ap, &err), -1);
	assert_int_equal(err.code, RS_EX_CANTCREAT);
	assert_int_equal(live(), 1);
	slurp("sasl_passwd", &after);
	assert_string_equal(before.data, after.data);
	assert_int_equal(fake_inst.calls[F_RELOAD], 0);
	buf_free(&before);
	buf_free(&after);
	fake_pw[1][0] = '\0';
}

/* Every file of the live generation (name, mode, bytes) and the list of
 * generations kept, into out. */
static void
live_tree(struct buf *out)
{
	struct dirent **names;
	struct rs_err err;
	struct stat st;
	struct buf file;
	char path[512];
	int i, n;

	buf_reset(out);
	buf_init(&file);
	snprintf(path, sizeof(path), "%s/maps.generations", top);
	assert_true((n = scandir(path, &names, NULL, alphasort)) > 0);
	for (i = 0; i < n; i++) {
		buf_printf(out, "generation %s\n", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	snprintf(path, sizeof(path), "%s/maps", top);
	assert_true((n = scandir(path, &names, NULL, alphasort)) > 0);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/maps/%s", top,
		    names[i]->d_name);
		assert_int_equal(lstat(path, &st), 0);
		buf_printf(out, "%s %o\n", names[i]->d_name, st.st_mode);
		if (S_ISREG(st.st_mode)) {
			assert_int_equal(read_file(path, &file, &err), 0);
			buf_add(out, file.data, file.len);
		}
		free(names[i]);
	}
	free(names);
	buf_free(&file);
}

/* Does table i differ between a set of a and one of b routes? */
static int
table_changes(int i, size_t a, size_t b)
{
	struct rs_decision d;
	struct rs_tables ta, tb;
	int differ;

	fake_decision(&d, a);
	render_tables(&d, "secure", &ta);
	fake_decision(&d, b);
	render_tables(&d, "secure", &tb);
	differ = ta.t[i].len != tb.t[i].len || (ta.t[i].len &&
	    memcmp(ta.t[i].data, tb.t[i].data, ta.t[i].len) != 0);
	render_free(&ta);
	render_free(&tb);
	return differ;
}

/* The tables are indexed at the same time. One index among them fails
 * (each table in turn): nothing is switched, the live generation stays
 * byte for byte, no new one is left, and the error names the table. */
static void
test_one_of_many_fails(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct buf before, after;
	char fail[64], want[256];
	int i, tried = 0;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	buf_init(&before);
	buf_init(&after);
	live_tree(&before);
	for (i = 0; i < RS_T_COUNT; i++) {
		if (!table_changes(i, N, N - 4))
			continue;	/* shared, not indexed */
		tried++;
		memset(&fake_inst, 0, sizeof(fake_inst));
		fake_inst.fail[F_DEL] = 1;	/* no patch: whole indexes */
		snprintf(fail, sizeof(fail), " %s ", rs_table_info[i].name);
		fake_inst.fail_index = fail;
		assert_int_equal(install(N - 4, &ap, &err), -1);
		assert_int_equal(err.code, RS_EX_CANTCREAT);
		snprintf(want, sizeof(want), "%s/maps.generations/2/%s failed "
		    "(status 1): postmap: fatal: fake failure of %s; the "
		    "installed tables are unchanged", top,
		    rs_table_info[i].name, rs_table_info[i].name);
		assert_non_null(strstr(err.msg, want));
		assert_int_equal(ap.generation, 0);
		assert_int_equal(live(), 1);
		assert_int_equal(fake_inst.calls[F_RELOAD], 0);
		live_tree(&after);
		assert_int_equal(after.len, before.len);
		assert_memory_equal(after.data, before.data, before.len);
	}
	assert_true(tried >= 3);
	buf_free(&before);
	buf_free(&after);
}

/* Two indexes fail: every one that failed is named, one in the error and
 * the others in the log; the live generation stays. */
static void
test_two_fail(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	struct buf log, both;
	char path[64], *name, *save;
	int saved;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	memset(&fake_inst, 0, sizeof(fake_inst));
	fake_inst.fail[F_DEL] = 1;	/* no patch: whole indexes */
	fake_inst.fail_index = " sender_relay sasl_passwd ";
	capture_start(&saved, path);
	assert_int_equal(install(N - 4, &ap, &err), -1);
	buf_init(&log);
	capture_end(saved, path, &log);
	assert_int_equal(live(), 1);
	assert_true(strlen(fake_inst.failed) > 0);
	buf_init(&both);
	buf_printf(&both, "%s\n%s", err.msg, log.data);
	for (name = strtok_r(fake_inst.failed, " ", &save); name != NULL;
	    name = strtok_r(NULL, " ", &save)) {
		snprintf(path, sizeof(path), "fake failure of %s;", name);
		assert_non_null(strstr(both.data, path));
	}
	buf_free(&log);
	buf_free(&both);
}

/* postmap exits 0 but the index is empty (a full disk): refused. */
static void
test_verify_fails(void **state)
{
	struct rs_applied ap;
	struct rs_err err;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	fake_inst.empty_index = 1;
	fake_inst.fail[F_PUT] = 1;	/* no patch: a whole index */
	strcpy(fake_pw[2], "rotated");
	assert_int_equal(install(N, &ap, &err), -1);
	assert_int_equal(err.code, RS_EX_CANTCREAT);
	assert_non_null(strstr(err.msg, "but it does not hold exactly the "
	    "lines of"));
	assert_int_equal(live(), 1);
	assert_index_whole("sasl_passwd");
	fake_pw[2][0] = '\0';
}

/* The reload fails after the switch: the new generation is live (exit
 * 1), the previous one is kept for relaysync rollback. */
static void
test_reload(void **state)
{
	struct rs_applied ap;
	struct rs_err err;
	unsigned long now, prev, from;
	struct buf b;

	(void)state;
	assert_int_equal(install(N, &ap, &err), 0);
	fake_inst.fail[F_RELOAD] = 1;
	strcpy(fake_pw[4], "rotated");
	assert_int_equal(install(N, &ap, &err), -1);
	assert_int_equal(err.code, RS_EX_FAIL);
	assert_non_null(strstr(err.msg, "the new tables are installed but "
	    "postfix -c"));
	assert_non_null(strstr(err.msg, "fake reload failure"));
	assert_int_equal(ap.generation, 2);
	assert_int_equal(ap.reloaded, 0);
	apply_generations(&cfg, &now, &prev);
	assert_int_equal(now, 2);
	assert_int_equal(prev, 1);
	buf_init(&b);
	slurp("sasl_passwd", &b);
	assert_non_null(strstr(b.data, "u04@p.example:rotated\n"));

	/* Postfix not running: nothing to reload, no failure. */
	memset(&fake_inst, 0, sizeof(fake_inst));
	fake_inst.stopped = 1;
	fake_pw[4][0] = '\0';
	assert_int_equal(install(N, &ap, &err), 0);
	assert_int_equal(fake_inst.calls[F_RUNNING], 1);
	assert_int_equal(fake_inst.calls[F_RELOAD], 0);
	assert_int_equal(ap.reloaded, 0);

	/* Rollback: the previous generation again, then a reload. */
	memset(&fake_inst, 0, sizeof(fake_inst));
	assert_int_equal(apply_rollback(&cfg, &fake_installer, &ap, &from,
	    &err), 0);
	assert_int_equal(from, 3);
	assert_int_equal(ap.generation, 2);
	assert_int_equal(live(), 2);
	assert_int_equal(fake_inst.calls[F_RELOAD], 1);
	slurp("sasl_passwd", &b);
	assert_non_null(strstr(b.data, "u04@p.example:rotated\n"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_install, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_patch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_checks_indexes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_changes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unstamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patch_put_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_patch_query_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_patch_delete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_one_of_many_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_two_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};

	return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}

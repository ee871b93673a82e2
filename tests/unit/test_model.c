/* Unit tests: model - merging a change set, and the snapshot format. */
#include "unit.h"
#include "dn.h"
#include "model.h"
#include "snapshot.h"

#define BASE "dc=example,dc=com"

static struct rs_sendas *
sendas(struct rs_model *m, const char *uuid, const char *dn, const char *addr)
{
	struct rs_sendas *s = model_add_sendas(m, dn, NULL);

	strcpy(s->uuid, uuid);
	model_set_field(m, s, RS_F_ADDRESS, addr, strlen(addr), 1);
	return s;
}

static void
user(struct rs_model *m, const char *uuid, const char *dn)
{
	strcpy(model_add_user(m, dn, "u@example.com")->uuid, uuid);
}

/* ou=a renamed to ou=b: the change names ou=a's UUID with its new DN; the
 * subtree is read again, and what the model had below ou=a goes. */
static void
test_merge_rename(void **state)
{
	struct rs_model m, fresh;
	struct rs_changes ch;
	struct rs_reads r;

	(void)state;
	model_init(&m);
	model_init(&fresh);
	strcpy(model_add_policy(&m, "ou=a," BASE, RS_YES)->uuid, "0a");
	user(&m, "01", "uid=u,ou=a," BASE);
	sendas(&m, "02", "relaysyncSendAsAddress=x@p.example,uid=u,ou=a," BASE,
	    "x@p.example");
	user(&m, "03", "uid=v,ou=c," BASE);
	model_changes_init(&ch);
	model_changed(&ch, "0a", "ou=b," BASE);
	model_reads(&m, &ch, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.r[0].kind, RS_DROP_SUBTREE);
	assert_string_equal(r.r[0].ndn, "ou=a," BASE);
	assert_int_equal(r.r[1].kind, RS_READ_SUBTREE);
	/* what the subtree read found */
	strcpy(model_add_policy(&fresh, "ou=b," BASE, RS_YES)->uuid, "0a");
	user(&fresh, "01", "uid=u,ou=b," BASE);
	model_merge(&m, &ch, &r, &fresh);
	assert_int_equal(m.npol, 1);
	assert_string_equal(m.pol[0].dn, "ou=b," BASE);
	assert_int_equal(m.nusers, 2);
	assert_non_null(model_user(&m, "uid=u,ou=b," BASE));
	assert_null(model_user(&m, "uid=u,ou=a," BASE));
	assert_non_null(model_user(&m, "uid=v,ou=c," BASE));
	assert_int_equal(m.nsendas, 0);	/* not found again: deleted */
	assert_int_equal(fresh.nusers, 0);
	model_reads_free(&r);
	model_changes_free(&ch);
	model_free(&fresh);
	model_free(&m);
}

/* A present phase: whatever is neither present nor changed is gone. */
static void
test_merge_present(void **state)
{
	struct rs_model m, fresh;
	struct rs_changes ch;
	struct rs_reads r;

	(void)state;
	model_init(&m);
	model_init(&fresh);
	user(&m, "01", "uid=u," BASE);
	user(&m, "02", "uid=v," BASE);
	user(&m, "03", "uid=w," BASE);
	model_changes_init(&ch);
	model_sync_state(&ch, "01", 1);
	model_changed(&ch, "03", "uid=w," BASE);
	assert_int_equal(model_phase_end(&ch, 1), 0);
	assert_true(ch.present_phase);
	model_reads(&m, &ch, &r);
	assert_int_equal(r.n, 2);	/* w changed; v, left out, to verify */
	assert_int_equal(r.r[0].kind, RS_READ_ENTRY);
	assert_string_equal(r.r[0].ndn, "uid=w," BASE);
	assert_int_equal(r.r[1].kind, RS_READ_ENTRY);
	assert_string_equal(r.r[1].ndn, "uid=v," BASE);
	user(&fresh, "03", "uid=w," BASE);
	model_merge(&m, &ch, &r, &fresh);
	assert_int_equal(m.nusers, 2);
	assert_non_null(model_user(&m, "uid=u," BASE));
	assert_null(model_user(&m, "uid=v," BASE));
	assert_non_null(model_user(&m, "uid=w," BASE));
	model_reads_free(&r);
	model_changes_free(&ch);
	model_free(&fresh);
	model_free(&m);
}

/*
 * What 389-ds sends after one deletion and two modifications: the deleted
 * UUID in a syncIdSet with refreshDeletes TRUE, the modified entries, and
 * a syncDone with refreshDeletes FALSE (a "present phase" that named
 * nothing present). Read as a delete phase: only the deleted entry goes;
 * the unchanged users and send-as entries (live routes) stay. Read as a
 * present phase (as relaysync did), every unchanged entry went.
 */
static void
test_phase_389ds(void **state)
{
	struct rs_model m, fresh;
	struct rs_changes ch;
	struct rs_reads r;

	(void)state;
	model_init(&m);
	model_init(&fresh);
	user(&m, "01", "uid=u," BASE);
	user(&m, "02", "uid=v," BASE);
	user(&m, "03", "uid=w," BASE);
	sendas(&m, "11", "relaysyncSendAsAddress=a@p.example,uid=u," BASE,
	    "a@p.example");
	sendas(&m, "12", "relaysyncSendAsAddress=b@p.example,uid=v," BASE,
	    "b@p.example");
	sendas(&m, "13", "relaysyncSendAsAddress=c@p.example,uid=w," BASE,
	    "c@p.example");
	model_changes_init(&ch);
	model_sync_state(&ch, "13", 0);		/* syncIdSet, deletes */
	model_changed(&ch, "01", "uid=u," BASE);
	model_changed(&ch, "02", "uid=v," BASE);
	assert_int_equal(model_phase_end(&ch, 1), 0);	/* syncDone FALSE */
	assert_false(ch.present_phase);
	assert_true(ch.present_as_delete);
	model_reads(&m, &ch, &r);
	assert_int_equal(r.n, 3);	/* u, v and, to verify, c's entry */
	assert_string_equal(r.r[2].dn,
	    "relaysyncSendAsAddress=c@p.example,uid=w," BASE);
	user(&fresh, "01", "uid=u," BASE);
	user(&fresh, "02", "uid=v," BASE);
	assert_int_equal(model_merge(&m, &ch, &r, &fresh), 0);
	assert_int_equal(m.nusers, 3);
	assert_int_equal(m.nsendas, 2);
	assert_string_equal(m.sendas[0].uuid, "11");
	assert_string_equal(m.sendas[1].uuid, "12");
	model_reads_free(&r);
	model_changes_free(&ch);
	model_free(&fresh);
	model_free(&m);
}

/* A present phase that also names deleted entries contradicts itself; a
 * delete phase may name present ones. */
static void
test_phase_inconsistent(void **state)
{
	struct rs_changes ch;

	(void)state;
	model_changes_init(&ch);
	model_sync_state(&ch, "01", 1);
	model_sync_state(&ch, "02", 0);
	assert_int_equal(model_phase_end(&ch, 1), -1);
	model_sync_state(&ch, "03", 1);
	model_sync_state(&ch, "04", 0);
	assert_int_equal(model_phase_end(&ch, 0), 0);
	assert_false(ch.present_phase);
	/* a present phase (refreshPresent, refreshDone FALSE), then a
	 * delete phase: both apply */
	model_changes_free(&ch);
	model_sync_state(&ch, "01", 1);
	assert_int_equal(model_phase_end(&ch, 1), 0);
	model_sync_state(&ch, "02", 0);
	assert_int_equal(model_phase_end(&ch, 0), 0);
	assert_true(ch.present_phase);
	assert_non_null(strmap_get(&ch.gone, "02"));
	model_changes_free(&ch);
}

/* The server says an entry is gone, but reading it again finds it: the
 * merge refuses and leaves the model as it was. */
static void
test_merge_still_held(void **state)
{
	struct rs_model m, fresh;
	struct rs_changes ch;
	struct rs_reads r;

	(void)state;
	model_init(&m);
	model_init(&fresh);
	user(&m, "01", "uid=u," BASE);
	sendas(&m, "11", "relaysyncSendAsAddress=a@p.example,uid=u," BASE,
	    "a@p.example");
	model_changes_init(&ch);
	model_sync_state(&ch, "11", 0);
	assert_int_equal(model_phase_end(&ch, 0), 0);
	model_reads(&m, &ch, &r);
	assert_int_equal(r.n, 1);
	sendas(&fresh, "11", "relaysyncSendAsAddress=a@p.example,uid=u," BASE,
	    "a@p.example");
	assert_int_equal(model_merge(&m, &ch, &r, &fresh), -1);
	assert_int_equal(m.nsendas, 1);
	assert_int_equal(m.nusers, 1);
	model_reads_free(&r);
	model_changes_free(&ch);
	model_free(&fresh);
	model_free(&m);
}

/* What a round trip of a snapshot needs: the model and header written,
 * those read back, the text and the text written again. */
static void
round_trip_init(struct rs_model *m, struct rs_model *got,
    struct rs_snapshot *s, struct rs_snapshot *back, struct buf *b,
    struct buf *again)
{
	model_init(m);
	model_init(got);
	snapshot_init(s);
	snapshot_init(back);
	buf_init(b);
	buf_init(again);
}

static void
round_trip_free(struct rs_model *m, struct rs_model *got,
    struct rs_snapshot *s, struct rs_snapshot *back, struct buf *b,
    struct buf *again)
{
	buf_free(b);
	buf_free(again);
	snapshot_free(s);
	snapshot_free(back);
	model_free(got);
	model_free(m);
}

/* Every byte of every value survives; one changed byte is refused. */
static void
test_snapshot_round_trip(void **state)
{
	struct rs_snapshot s, back;
	struct rs_model m, got;
	struct rs_err err;
	struct rs_sendas *sa;
	struct buf b, again;

	(void)state;
	round_trip_init(&m, &got, &s, &back, &b, &again);
	user(&m, "0123", "UID=U," BASE);
	sa = sendas(&m, "4567", "relaysyncSendAsAddress=x@p.example,uid=u," BASE,
	    "x@p.example");
	model_set_field(&m, sa, RS_F_HOST, "a\0b\nc d", 7, 2);
	buf_add(&s.cookie, "rid=000,csn=1\n2", 15);
	s.generation = 7;
	strcpy(s.source, "ab");
	strcpy(s.tables, "cd");
	snapshot_dump(&s, &m, &b);
	assert_int_equal(snapshot_parse(&b, &back, &got, &err), 0);
	assert_int_equal(back.generation, 7);
	assert_int_equal(back.cookie.len, 15);
	assert_memory_equal(back.cookie.data, "rid=000,csn=1\n2", 15);
	assert_int_equal(got.nsendas, 1);
	assert_int_equal(got.sendas[0].f[RS_F_HOST].len, 7);
	assert_int_equal(got.sendas[0].f[RS_F_HOST].count, 2);
	assert_memory_equal(got.sendas[0].f[RS_F_HOST].val, "a\0b\nc d", 7);
	assert_null(got.sendas[0].f[RS_F_PORT].val);
	assert_non_null(model_user(&got, "uid=u," BASE));
	snapshot_dump(&back, &got, &again);
	assert_int_equal(again.len, b.len);
	assert_memory_equal(again.data, b.data, b.len);
	b.data[b.len / 2] ^= 1;
	model_free(&got);
	assert_int_equal(snapshot_parse(&b, &back, &got, &err), -1);
	assert_non_null(strstr(err.msg, "checksum"));
	round_trip_free(&m, &got, &s, &back, &b, &again);
}

/* Write b to path. */
static void
put_file(const char *path, const char *p, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* snapshot_load() reads a file of several pieces (entries and values
 * with newlines across their edges) into the model snapshot_parse()
 * makes; a changed byte, a cut end, a missing file are refused. */
static void
test_snapshot_load(void **state)
{
	char path[] = "/tmp/relaysync-load.XXXXXX", dn[128], addr[64];
	struct rs_snapshot s, back;
	struct rs_model m, got;
	struct rs_err err;
	struct rs_sendas *sa;
	struct buf b, again;
	int i, fd;

	(void)state;
	round_trip_init(&m, &got, &s, &back, &b, &again);
	for (i = 0; i < 30000; i++) {
		snprintf(addr, sizeof(addr), "a%d@p.example", i);
		snprintf(dn, sizeof(dn), "relaysyncSendAsAddress=%s,uid=u,"
		    BASE, addr);
		sa = sendas(&m, "4567", dn, addr);
		model_set_field(&m, sa, RS_F_PASSWORD, "pw\nwith\nnewlines",
		    17, 1);
	}
	buf_add(&s.cookie, "rid=000,csn=1", 13);
	s.generation = 3;
	strcpy(s.source, "ab");
	strcpy(s.tables, "cd");
	snapshot_dump(&s, &m, &b);
	assert_true(b.len > 3 * 1024 * 1024);	/* several pieces */
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	put_file(path, b.data, b.len);
	assert_int_equal(snapshot_load(path, &back, &got, &err), 0);
	assert_int_equal(back.generation, 3);
	assert_int_equal(back.size, b.len);
	assert_int_equal(got.nsendas, 30000);
	snapshot_dump(&back, &got, &again);
	assert_int_equal(again.len, b.len);
	assert_memory_equal(again.data, b.data, b.len);
	b.data[b.len / 2] ^= 1;
	put_file(path, b.data, b.len);
	model_free(&got);
	assert_int_equal(snapshot_load(path, &back, &got, &err), -1);
	b.data[b.len / 2] ^= 1;
	put_file(path, b.data, b.len - 30);
	model_free(&got);
	assert_int_equal(snapshot_load(path, &back, &got, &err), -1);
	put_file(path, b.data, 2 * 1024 * 1024);
	model_free(&got);
	assert_int_equal(snapshot_load(path, &back, &got, &err), -1);
	unlink(path);
	model_free(&got);
	assert_int_equal(snapshot_load(path, &back, &got, &err), -2);
	round_trip_free(&m, &got, &s, &back, &b, &again);
}

/* A journal record replayed on the snapshot gives the model the run
 * merged, and its header; a changed byte, or another snapshot, is refused. */
static void
test_snapshot_journal(void **state)
{
	struct rs_snapshot s, next, back;
	struct rs_model m, fresh, got;
	struct rs_changes ch;
	struct rs_reads r;
	struct rs_err err;
	struct buf b, journal, want, have;

	(void)state;
	model_init(&m);
	model_init(&fresh);
	model_init(&got);
	snapshot_init(&s);
	snapshot_init(&next);
	snapshot_init(&back);
	buf_init(&b);
	buf_init(&journal);
	buf_init(&want);
	buf_init(&have);
	user(&m, "01", "uid=u," BASE);
	sendas(&m, "02", "relaysyncSendAsAddress=x@p.example,uid=u," BASE,
	    "x@p.example");
	sendas(&m, "03", "relaysyncSendAsAddress=y@p.example,uid=u," BASE,
	    "y@p.example");
	buf_add(&s.cookie, "c1", 2);
	strcpy(s.source, "ab");
	strcpy(s.tables, "cd");
	snapshot_dump(&s, &m, &b);
	assert_int_equal(snapshot_parse(&b, &next, &got, &err), 0);
	model_free(&got);
	/* a run: 02 changed (read again with a new address), 03 deleted */
	model_changes_init(&ch);
	model_changed(&ch, "02", "relaysyncSendAsAddress=x@p.example,uid=u," BASE);
	model_sync_state(&ch, "03", 0);
	sendas(&fresh, "02", "relaysyncSendAsAddress=x@p.example,uid=u," BASE,
	    "z@p.example");
	next.size = 1000000;
	assert_int_equal(snapshot_record(&next, &ch, &fresh), 0);
	model_reads(&m, &ch, &r);
	assert_int_equal(model_merge(&m, &ch, &r, &fresh), 0);
	buf_reset(&next.cookie);
	buf_add(&next.cookie, "c2", 2);
	next.generation = 9;
	strcpy(next.tables, "ef");
	assert_int_equal(snapshot_journal(&next, &journal), 0);
	/* the next run loads the snapshot and replays the journal */
	assert_int_equal(snapshot_parse(&b, &back, &got, &err), 0);
	assert_int_equal(snapshot_replay(&journal, &back, &got, &err), 0);
	model_dump(&m, &want);
	model_dump(&got, &have);
	assert_int_equal(have.len, want.len);
	assert_memory_equal(have.data, want.data, want.len);
	assert_int_equal(back.generation, 9);
	assert_string_equal(back.tables, "ef");
	assert_string_equal(buf_str(&back.cookie), "c2");
	assert_int_equal(back.records, 1);
	journal.data[journal.len - 80] ^= 1;
	model_free(&got);
	assert_int_equal(snapshot_parse(&b, &back, &got, &err), 0);
	assert_int_equal(snapshot_replay(&journal, &back, &got, &err), -1);
	assert_non_null(strstr(err.msg, "checksum"));
	journal.data[journal.len - 80] ^= 1;
	strcpy(back.base, "00");
	assert_int_equal(snapshot_replay(&journal, &back, &got, &err), -1);
	assert_non_null(strstr(err.msg, "does not follow"));
	model_changes_free(&ch);
	model_reads_free(&r);
	buf_free(&b);
	buf_free(&journal);
	buf_free(&want);
	buf_free(&have);
	snapshot_free(&s);
	snapshot_free(&next);
	snapshot_free(&back);
	model_free(&fresh);
	model_free(&got);
	model_free(&m);
}

/* One changed send-as entry with a big password, merged into m. */
static void
merge_big(struct rs_model *m, const char *dn, const char *pw, size_t len)
{
	struct rs_model fresh;
	struct rs_changes ch;
	struct rs_reads r;
	struct rs_sendas *s;

	model_init(&fresh);
	model_changes_init(&ch);
	model_changed(&ch, "s1", dn);
	model_reads(m, &ch, &r);
	s = sendas(&fresh, "s1", dn, "x@p.example");
	model_set_field(&fresh, s, RS_F_HOST, "smtp.p.example", 14, 1);
	model_set_field(&fresh, s, RS_F_PASSWORD, pw, len, 1);
	assert_int_equal(model_merge(m, &ch, &r, &fresh), 0);
	model_reads_free(&r);
	model_changes_free(&ch);
}

/* The arena: an owner is its user's DN string, a repeated host is stored
 * once, and what merges replace is reclaimed (100 KiB replaced 60 times
 * would leave 6 MiB of garbage). */
static void
test_arena(void **state)
{
	static char pw[100 * 1024];
	const char *dn = "relaysyncSendAsAddress=x@p.example,uid=u," BASE;
	struct rs_model m;
	struct rs_sendas *s;
	int i;

	(void)state;
	model_init(&m);
	user(&m, "01", "uid=u," BASE);
	s = sendas(&m, "02", "relaysyncSendAsAddress=y@p.example,uid=u," BASE,
	    "y@p.example");
	model_set_field(&m, s, RS_F_HOST, "smtp.p.example", 14, 1);
	for (i = 0; i < 60; i++) {
		memset(pw, 'a' + i % 26, sizeof(pw));
		merge_big(&m, dn, pw, sizeof(pw));
	}
	assert_int_equal(m.nusers, 1);
	assert_int_equal(m.nsendas, 2);
	assert_true(m.arena.used < 4 * 1024 * 1024);
	assert_ptr_equal(m.sendas[0].owner, m.users[0].dn);
	assert_ptr_equal(m.sendas[1].owner, m.users[0].dn);
	assert_ptr_equal(m.sendas[0].f[RS_F_HOST].val,
	    m.sendas[1].f[RS_F_HOST].val);
	assert_string_equal(m.sendas[1].dn, dn);
	assert_int_equal(m.sendas[1].f[RS_F_PASSWORD].len, sizeof(pw));
	assert_memory_equal(m.sendas[1].f[RS_F_PASSWORD].val, pw, sizeof(pw));
	assert_ptr_equal(model_user(&m, "uid=u," BASE), &m.users[0]);
	model_free(&m);
}

/* A model read or parsed holds no garbage: the first merge into it must
 * not copy the whole model to a fresh arena (it used to, at every
 * incremental run: 0.3 s and a second model's memory at 100,000 users). */
static void
test_merge_no_copy(void **state)
{
	const char *dn = "relaysyncSendAsAddress=x@p.example,uid=u5," BASE;
	char udn[64], uuid[16];
	struct rs_model m;
	const char *kept;
	int i;

	(void)state;
	model_init(&m);
	for (i = 0; i < 30000; i++) {
		snprintf(udn, sizeof(udn), "uid=u%d," BASE, i);
		snprintf(uuid, sizeof(uuid), "u%d", i);
		user(&m, uuid, udn);
	}
	assert_true(m.arena.used > RS_ARENA_CHUNK + 4096);
	kept = m.users[7].dn;
	merge_big(&m, dn, "pw", 2);
	assert_int_equal(m.nusers, 30000);
	assert_int_equal(m.nsendas, 1);
	assert_ptr_equal(m.users[7].dn, kept);
	model_free(&m);
}

/* A number of an entry is digits and nothing else: a sign, a space or
 * a letter in it is a damaged entry (strtoul() took "+1" and "-1"). */
static void
test_parse_numbers(void **state)
{
	static const struct {
		const char *field;
		int rc;
	} num[] = { { "1:1", 0 }, { "2:01", 0 }, { "1:+", -1 },
	    { "1:x", -1 }, { "2:+1", -1 }, { "2:-1", -1 }, { "2: 1", -1 },
	    { "20:18446744073709551615", -1 } };
	struct rs_model m, got;
	struct buf b, line;
	size_t i;

	(void)state;
	model_init(&m);
	strcpy(model_add_policy(&m, "ou=a," BASE, RS_YES)->uuid, "0a");
	buf_init(&b);
	buf_init(&line);
	model_dump(&m, &b);
	assert_string_equal(b.data, "P 2:0a 22:ou=a,dc=example,dc=com 1:1 \n");
	for (i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
		buf_reset(&line);
		buf_printf(&line, "P 2:0a 22:ou=a,dc=example,dc=com %s \n",
		    num[i].field);
		model_init(&got);
		assert_int_equal(model_parse(line.data, line.len, &got),
		    num[i].rc);
		model_free(&got);
	}
	buf_free(&line);
	buf_free(&b);
	model_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_merge_rename),
		cmocka_unit_test(test_merge_present),
		cmocka_unit_test(test_phase_389ds),
		cmocka_unit_test(test_phase_inconsistent),
		cmocka_unit_test(test_merge_still_held),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_load),
		cmocka_unit_test(test_snapshot_journal),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_merge_no_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

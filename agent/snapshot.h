/*
 * snapshot - what the previous run knew, for an incremental run.
 *
 * A snapshot is the model a run decided from, the RFC 4533 sync cookie
 * that model is current to, the live generation that run left and a
 * SHA-256 of that generation's text tables. apply writes it to
 * <state_dir>/snapshot (0600, atomically; not fsynced: a snapshot torn by
 * a crash fails its checksum) right after it installed the
 * generation (or found the installed one current); a crash between the
 * two leaves a snapshot that names an older generation, which the next
 * run notices and answers with a full read.
 *
 * Format: a header of "key value" lines (relaysync-snapshot 1, source,
 * generation, tables, then "cookie <length>:<bytes>"), the entries
 * of model_dump(), and a last line "end <SHA-256 of everything before>".
 *
 * An incremental run that changed entries need not rewrite it: it adds a
 * record to <state_dir>/snapshot-journal instead, which names the
 * snapshot it follows (its end line), and holds, per run, the
 * generation, tables and cookie that run left, what the directory said
 * changed (changed UUIDs and DNs, deleted UUIDs) and the entries read
 * again (model_dump(), sealed), each record ending with "end" and the
 * SHA-256 of the previous record's end and its own text. Loading
 * replays the records on the snapshot's model as the runs merged them
 * (model_reads(), model_merge(), each a pass over the model). A journal
 * that would grow past an eighth of the snapshot or RS_JOURNAL_RECORDS
 * records, a change set with a present phase, a full read, and watch
 * write the whole snapshot again and remove the journal.
 *
 * A run that installs a generation and writes the whole snapshot writes
 * it beside apply, as <state_dir>/snapshot-next naming the generation
 * apply_next_generation() expects, and renames it over the snapshot only
 * once that generation is live (pipeline.c); otherwise it is removed.

 * How many incremental runs were made since the last full read is kept
 * apart, in <state_dir>/incremental-runs, so that a run that changed
 * nothing need not rewrite the snapshot.
 *
 * Functions
 *	snapshot_init(), snapshot_free() manage the header.
 *	snapshot_source() is a SHA-256 of the settings that decide what is
 *	read (ldap.uri, ldap.base_dn, the mapping's filters, attributes and
 *	layout): a snapshot taken with other settings is not used.
 *	snapshot_tables() is the SHA-256 of a set of text tables and the
 *	owners file; snapshot_live_tables() the same of the files below
 *	postfix.map_dir (-1 when one cannot be read).
 *	snapshot_record(next, ch, fresh) makes next's journal record from a
 *	change set (none, -1, for one with a present phase) and the entries
 *	read again, before model_merge() takes them; snapshot_journal(next,
 *	out) is next's journal with that record added (-1 when the snapshot
 *	should be written whole instead); snapshot_replay(journal, s, m,
 *	err) checks a journal against the snapshot s and m were loaded from
 *	and applies its records to both.
 *	snapshot_write() writes a snapshot to drain, a piece at a time (a
 *	stream, util.h: the snapshot is never whole in memory), and returns
 *	-1 when drain or sealing failed; snapshot_write_digest() does the
 *	same and sets digest to the keyed SHA-256 (secret_keyed_hex()) of
 *	checksum of what it wrote when it sealed no password (else "": what
 *	it wrote is not the model's text, snapshot_digest() gives it). snapshot_digest_text(c, digest, out) is the
 *	text of <state_dir>/snapshot-digest for that digest and the snapshot
 *	file now in state_dir (its device, inode, size, times; empty for
 *	""); apply writes it next to the snapshot. The digest is that of the
 *	snapshot of s and m with nothing sealed (the header, m's entries as
 *	read), so that a sealed snapshot has one too.
 *	snapshot_kept(c, s, m) tells that the snapshot file holds s and m
 *	already: the digest file names it as it is, it starts with s's header
 *	(source, generation, tables, cookie), and the digest of s and m is
 *	the one recorded; then a run need not write it again.
 *	snapshot_holds(c, m) tells that the snapshot file in state_dir
 *	alone (no journal) holds m's entries: the digest file names the
 *	file as it is, and the digest of the file's own header with m's
 *	entries is the recorded one (whatever cookie the header names); a
 *	full read that finds the model it saved changed nothing.
 *	snapshot_digest(s, m) is that digest (computed here unless
 *	snapshot_digest_start() did, for m and the same header);
 *	snapshot_digest_start(c, s, m) computes it, with the header the
 *	snapshot file has, in a thread of its own while the run renders,
 *	plans and applies (m is not changed once decided), when a whole
 *	snapshot is to be written (a sync cookie, no journal record) and a
 *	digest file exists; snapshot_digest_join() waits for it.
 *	snapshot_dump() writes it into a
 *	buffer; snapshot_parse() reads one (handing it to the parser in small
 *	pieces, so that tests and the fuzzer see entries cut anywhere).
 *	snapshot_load(path, s, m, err) reads the snapshot file at path, a
 *	piece at a time (never whole in memory): a thread reads and
 *	checksums the file while the calling thread parses each entry line
 *	as soon as it is whole; it returns -2 when the file cannot be opened
 *	(err says why), -1 when it is damaged, as snapshot_parse() does.
 *	With seal_with set (every real run), a password the directory holds
 *	in clear is written as an {AES256-GCM} envelope of the first local
 *	key, never in clear; without a local key such a snapshot is not
 *	written (-1: the next run reads everything).
 *
 * Diagnostics
 *	snapshot_parse() and snapshot_load() return -1 with a message naming
 *	what is wrong (version, the header, the checksum, an entry, a read
 *	error) when the text is not a whole snapshot.
 */
#ifndef RS_SNAPSHOT_H
#define RS_SNAPSHOT_H

#include <pthread.h>

#include "config.h"
#include "model.h"
#include "secret.h"
#include "render.h"
#include "util.h"

#define RS_SNAPSHOT_FILE	"snapshot"
#define RS_RUNS_FILE		"incremental-runs"
#define RS_JOURNAL_FILE		"snapshot-journal"
#define RS_DIGEST_FILE		"snapshot-digest"
#define RS_SNAPSHOT_NEXT_FILE	"snapshot-next"
#define RS_JOURNAL_RECORDS	4
#define RS_HASH_HEX		64

struct rs_snapshot {
	char source[RS_HASH_HEX + 1];
	unsigned long generation;
	char tables[RS_HASH_HEX + 1];
	long runs;		/* incremental runs since the last full read
				 * (RS_RUNS_FILE, not in the snapshot) */
	struct buf cookie;
	int unchanged;		/* the saved snapshot already says all this */
	char inputs[RS_HASH_HEX + 1];	/* summary_inputs() of the run, not
					 * in the snapshot; "": unknown */
	int present_scans;	/* the server answers with present phases */
	int live_known;		/* the summary names the live files as they
				 * are: no need to hash them again */
	const struct rs_keyring *seal_with;	/* see snapshot_dump() */
	char base[RS_HASH_HEX + 1];	/* the loaded snapshot's end line */
	size_t size;		/* and its length */
	struct buf journal;	/* its journal as loaded (verified) */
	size_t records;		/* how many records it holds */
	struct buf record;	/* this run's journal record, if any */
	const struct rs_model *model;	/* snapshot_digest()'s model, */
	struct buf digested;		/* ... the header it was taken with */
	char digest[RS_HASH_HEX + 1];	/* ... and the digest ("": none) */
	pthread_t digester;
	int digesting;
};

void snapshot_init(struct rs_snapshot *s);
void snapshot_free(struct rs_snapshot *s);
void snapshot_source(const struct rs_config *c, char *out);
void snapshot_tables(const struct rs_tables *t, char *out);
int snapshot_live_tables(const struct rs_config *c, char *out);
int snapshot_write(const struct rs_snapshot *s, const struct rs_model *m,
    rs_drain_fn drain, void *arg);
int snapshot_write_digest(const struct rs_snapshot *s,
    const struct rs_model *m, rs_drain_fn drain, void *arg, char *digest);
void snapshot_digest_text(const struct rs_config *c, const char *digest,
    struct buf *out);
int snapshot_kept(const struct rs_config *c, struct rs_snapshot *s,
    const struct rs_model *m);
int snapshot_holds(const struct rs_config *c, const struct rs_model *m);
void snapshot_digest_start(const struct rs_config *c, struct rs_snapshot *s,
    const struct rs_model *m);
void snapshot_digest_join(struct rs_snapshot *s);
const char *snapshot_digest(struct rs_snapshot *s, const struct rs_model *m);
int snapshot_dump(const struct rs_snapshot *s, const struct rs_model *m,
    struct buf *b);
int snapshot_parse(const struct buf *b, struct rs_snapshot *s,
    struct rs_model *m, struct rs_err *err);
int snapshot_load(const char *path, struct rs_snapshot *s, struct rs_model *m,
    struct rs_err *err);
int snapshot_record(struct rs_snapshot *next, const struct rs_changes *ch,
    const struct rs_model *fresh);
int snapshot_journal(const struct rs_snapshot *next, struct buf *out);
int snapshot_replay(const struct buf *journal, struct rs_snapshot *s,
    struct rs_model *m, struct rs_err *err);

#endif

/*
 * apply - install a new table set atomically, and reload Postfix.
 *
 * The only module that writes. postfix.map_dir is a symbolic link to a
 * generation directory <map_dir>.generations/<n>/. A run writes the new
 * generation's text tables (sasl_passwd created 0600, the others 0640),
 * fsyncs them, indexes them with "postmap -c <config_dir>", fsyncs the
 * indexes, checks each with "postmap -q -" of a sample of its lines (at
 * most about RS_INDEX_SAMPLE, the first and the last included: postmap
 * can exit 0 with an empty index when the disk is full, and an index is
 * written whole or not at all), fsyncs the directory, then switches the
 * link with one rename().
 * A plain map_dir directory is converted on the first run: it is swapped
 * with the link in one renameat2(RENAME_EXCHANGE) where the file system
 * allows, and kept as the previous generation. After the switch the
 * previous generation is kept for rollback and older ones are removed;
 * generations left by a killed run are removed at the next run.
 *
 * Functions
 *	apply_lock() takes the run lock (flock on <state_dir>/relaysync.lock,
 *	opened with O_NOFOLLOW, creating state_dir 0700 if needed);
 *	apply_unlock() releases it.
 *
 *	Every directory written in - state_dir, the directory holding
 *	map_dir, <map_dir>.generations - is reached from / one component at a
 *	time through directory fds (openat with O_NOFOLLOW | O_DIRECTORY) and
 *	must be owned by root (or the user running relaysync) and writable by
 *	nobody else; directories above it may also be root-owned sticky ones
 *	(/tmp). Files are then made, linked, renamed and removed relative to
 *	those fds (openat, linkat, renameat, unlinkat, never following a
 *	link), so a component swapped during the run is not followed.
 *	Postfix's programs get paths, which are safe because of that check.
 *	The rollback generation keeps its sasl_passwd as it was (a rollback
 *	restores it whole): a revoked or rotated password stays on disk, in
 *	that one 0600 file and its index, until the next applied change
 *	removes the generation (only the live one and its predecessor are
 *	ever kept).
 *	apply_file() replaces one file atomically (a temporary file created
 *	with the given mode, fsynced, then renamed over the old one), for
 *	example the metrics file; apply_state() does it for a file in
 *	state_dir (mode 0600, state_dir created 0700 if needed); apply_cache()
 *	too, without the fsync, for a file whose loss in a crash costs only
 *	time (the snapshot, its journal: a torn one fails its checksum);
 *	apply_cache_stream() is apply_cache() for a file that fill writes a
 *	piece at a time through the drain it is given (util.h), never whole
 *	in memory: it returns -1 (err set) when the file cannot be written,
 *	1 when fill itself failed (nothing replaced), 0 once the file is in
 *	place. apply_forget()
 *	removes a file of state_dir (a snapshot that may not be kept);
 *	apply_cache_rename(c, from, to, err) renames one file of state_dir
 *	over another (a snapshot written beside apply_tables(), kept once
 *	the generation it names is live).
 *	apply_tables() and apply_rollback() run Postfix's commands through
 *	inst (installer.h: installer_postfix, or a fake in unit tests).
 *	apply_tables() installs a table set and, when postfix.reload is true
 *	and the Postfix tables changed, runs "postfix -c <config_dir> reload"
 *	if that Postfix is running. It reports what it did in *out.
 *	apply_tables() and apply_stamps() write <state_dir>/index-stamps, the
 *	stamp_file() of the indexes they verified (stamp.h), so that plan need
 *	not dump them again while they stay the same files.
 *	apply_generation() is the number of the live generation (0 when
 *	map_dir is missing or a plain directory); a snapshot names it.
 *	apply_next_generation() is the number apply_tables() will give the
 *	next generation it installs (a guess when map_dir cannot be
 *	inspected: a snapshot that names another one is not used).
 *	apply_generations() gives it and the newest whole generation kept
 *	before it (0: none).
 *	apply_rollback() makes that previous generation live through the
 *	same atomic switch, then reloads Postfix (when postfix.reload and it
 *	is running); *from is the generation it replaced. The caller holds
 *	the run lock. apply_hold() records in <state_dir>/hold that syncs
 *	must not change the tables until apply_resume() removes it;
 *	apply_held() reads it (1: held).
 *
 * Diagnostics
 *	apply_lock(): RS_EX_TEMPFAIL (75) when another run holds the lock,
 *	RS_EX_CANTCREAT (73) when state_dir cannot be created or is unsafe.
 *	An unsafe directory (owned by another user, writable by group or
 *	others, a symbolic link) is refused with RS_EX_CANTCREAT, naming it
 *	and the fix (chown root, chmod go-w, the real path).
 *	apply_tables(): RS_EX_CANTCREAT (73) for any failure before the switch
 *	(the installed set is untouched), with the file and the system error
 *	or postmap's own message; RS_EX_FAIL (1) when the reload fails after
 *	the switch.
 *	An unchanged table is shared with the live generation (hard links)
 *	and a changed one's index patched from a copy of the live one, each
 *	as a sequence of steps; when one stops it, the log names that step
 *	(debug for the checks that decide, info for a failed command or
 *	link) and the table is written and indexed whole.
 *	The tables of a generation are written, indexed (or patched) and
 *	verified at the same time, by one thread per online CPU at most,
 *	largest table first; after a failure no further table is started,
 *	the ones running finish, and then the new generation is removed:
 *	the live one is untouched. Every table that failed is named: the
 *	first (in table order) in err, the others logged as errors.
 */
#ifndef RS_APPLY_H
#define RS_APPLY_H

#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "installer.h"
#include "table.h"

struct rs_lock {
	int fd;
};

struct rs_applied {
	unsigned long generation;
	int reloaded;
};

#define RS_HOLD_FILE	"hold"
#define RS_INDEX_SAMPLE	256	/* lines looked up in a new index */

struct rs_hold {
	time_t since;
	unsigned long from;	/* the generation rolled back from */
	unsigned long to;	/* the generation made live */
};

int apply_lock(const struct rs_config *c, struct rs_lock *l,
    struct rs_err *err);
void apply_unlock(struct rs_lock *l);
int apply_file(const char *path, const struct buf *b, mode_t mode,
    struct rs_err *err);
int apply_state(const struct rs_config *c, const char *name,
    const struct buf *b, struct rs_err *err);
int apply_cache(const struct rs_config *c, const char *name,
    const struct buf *b, struct rs_err *err);
typedef int (*rs_fill_fn)(void *fill_arg, rs_drain_fn drain,
    void *drain_arg);
int apply_cache_stream(const struct rs_config *c, const char *name,
    rs_fill_fn fill, void *fill_arg, struct rs_err *err);
void apply_forget(const struct rs_config *c, const char *name);
int apply_cache_rename(const struct rs_config *c, const char *from,
    const char *to, struct rs_err *err);
unsigned long apply_generation(const struct rs_config *c);
unsigned long apply_next_generation(const struct rs_config *c);
int apply_stamps(const struct rs_config *c, const struct rs_tables *t,
    struct rs_err *err);
int apply_tables(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_tables *t, int tables_changed, struct rs_applied *out,
    struct rs_err *err);
void apply_generations(const struct rs_config *c, unsigned long *live,
    unsigned long *previous);
int apply_rollback(const struct rs_config *c, const struct rs_installer *inst,
    struct rs_applied *out, unsigned long *from, struct rs_err *err);
int apply_hold(const struct rs_config *c, unsigned long from, unsigned long to,
    struct rs_err *err);
int apply_held(const struct rs_config *c, struct rs_hold *h);
int apply_resume(const struct rs_config *c, struct rs_err *err);

#endif

/*
 * summary - what the last run decided, in brief: enough for an
 * incremental run that the directory tells "nothing changed" to report
 * and finish without loading the snapshot's model or deciding again.
 *
 * <state_dir>/summary (0600) holds the sync cookie the last run was
 * current to, the settings hash of its snapshot (snapshot_source()), the
 * live generation it left, a fingerprint of everything besides the
 * directory that a decision depends on (summary_inputs()), the identity
 * of every live file (summary_files()), the route counts, and the keyed
 * SHA-256 of <state_dir>/summary-rejected, which lists the rejected
 * send-as entries as the report shows them. Its last line is "end" and
 * a SHA-256 of everything before it, keyed under the local key
 * (secret_keyed_hex()), so that a summary edited or torn is not
 * believed: such a run then loads the snapshot as before.
 *
 * Functions
 *	summary_init(), summary_free() manage a summary.
 *	summary_inputs(c, own_hops, n_own_hops, out) is the keyed SHA-256 of
 *	the program version, the bytes of the configuration and mapping files,
 *	the key file, the recorded gateway checks (policy.require_gateway_
 *	check) and the relay's own next hops (own_hops, n_own_hops): any
 *	change of these means deciding again.
 *	summary_files(c, out) writes one line per live file below
 *	postfix.map_dir (text tables, their indexes, the owners file) and
 *	for the snapshot, its journal and the rejections file: name, device,
 *	inode, size, modification and change times. A file written,
 *	replaced, linked or touched changes its line,
 *	so that a run after such a change loads the snapshot and says what
 *	it found (a damaged snapshot, tables edited by hand).
 *	summary_uuids(m, out) is the SHA-256 of the sorted set of the sync
 *	UUIDs a model holds; summary_present(ch, out) the same of the UUIDs a
 *	present phase named. When the server answers every run with a
 *	present phase (AD DirSync: source.h), the two agree when nothing
 *	vanished from what the model holds.
 *	summary_rejections(d, out, sum) writes the rejected verdicts of a
 *	decision into the stream out (util.h: a line at a time, never whole
 *	in memory when it has a drain) and sets sum to their keyed SHA-256
 *	(for the summary's rejected); -1 when out's drain failed;
 *	summary_rejected_kept(c, s, sum) is 1 when the rejections file
 *	needs no rewriting: s (a summary summary_parse() accepted) records
 *	sum as its keyed SHA-256 and the file's identity (summary_files())
 *	is still the one s records, so its bytes are those s was written
 *	with; 0 otherwise.
 *	summary_dump(s, out) writes a summary.
 *	summary_parse(text, s, err) reads a summary back, checking its end
 *	line; summary_decision(s, rejected, d) rebuilds, from a summary and
 *	the text of its rejections file (which it checks against the
 *	summary; -1 when they disagree), a decision that reports like the
 *	one it was made from: its rejected verdicts (pointing into rejected,
 *	which must outlive d), then one empty verdict per route, and nroutes
 *	routes, of which relay use STARTTLS or none;
 *	summary_decision_free() frees it.
 *
 * Diagnostics
 *	summary_parse() returns -1 with a message naming what is wrong.
 */
#ifndef RS_SUMMARY_H
#define RS_SUMMARY_H

#include "config.h"
#include "model.h"
#include "policy.h"
#include "util.h"

#define RS_SUMMARY_FILE		"summary"
#define RS_REJECTED_FILE	"summary-rejected"

struct rs_summary {
	char source[65];
	unsigned long generation;
	char inputs[65];
	struct buf cookie;
	struct buf files;	/* summary_files() of the live generation */
	size_t routes, relay;
	char rejected[65];	/* keyed SHA-256 of the rejections file */
	char present[65];	/* summary_uuids() of the model, or "-" */
};

void summary_init(struct rs_summary *s);
void summary_free(struct rs_summary *s);
void summary_inputs(const struct rs_config *c, char *const *own_hops,
    size_t n_own_hops, char *out);
void summary_files(const struct rs_config *c, struct buf *out);
int summary_rejections(const struct rs_decision *d, struct rs_stream *out,
    char *sum);
int summary_rejected_kept(const struct rs_config *c,
    const struct rs_summary *s, const char *sum);
void summary_uuids(const struct rs_model *m, char *out);
void summary_present(const struct rs_changes *ch, char *out);
void summary_dump(const struct rs_summary *s, struct buf *out);
int summary_parse(const struct buf *text, struct rs_summary *s,
    struct rs_err *err);
int summary_decision(const struct rs_summary *s, struct buf *rejected,
    struct rs_decision *d);
void summary_decision_free(struct rs_decision *d);

#endif

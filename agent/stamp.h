/*
 * stamp - the Postfix indexes of the table set, and the stamps that
 * remember which of them a run verified.
 *
 * An index (name.db, name.lmdb, name.cdb below postfix.map_dir; texthash
 * has none) is verified when "postmap -s" dumps exactly the lines of its
 * text table (cdb cannot be dumped: an installed cdb index without a
 * stamp is built again), or when apply wrote it from that text and
 * checked it (apply.h). Dumping is slow, so a run that verified (or wrote
 * and checked) an index records its stamp in <state_dir>/index-stamps, one
 * line per table: "name dev inode size mtime digest", where digest is the
 * SHA-256 of the table's text, keyed with the local key when there is one
 * (secret_keyed_hex(): the text may hold passwords). A later run trusts
 * an index without dumping it while its stamp is unchanged: the same file
 * (device, inode, size, modification time) indexing the same text. plan
 * reads stamps, apply writes them (only apply writes state), pipeline
 * asks apply to when plan found the installed indexes current.
 *
 * Functions
 *	map_suffix(map_type) is the index file suffix of a map type (".db",
 *	".lmdb", ".cdb"; NULL for texthash, which has no index).
 *	index_agrees(config, path, text) dumps the index of the table at path
 *	with "postmap -s" and tells whether it holds exactly the lines of the
 *	given sorted text (always true for texthash).
 *	stamp_line(config, name, text, out) sets out to the stamp line
 *	(newline included) of the index of table name below map_dir for that
 *	text; empty when there is no index.
 *	stamp_verified(config, name, text) tells whether <state_dir>/index-
 *	stamps holds that stamp line: the index was verified and is unchanged.
 *	stamp_file(config, tables, out) sets out to the whole index-stamps
 *	text for a table set installed below map_dir (apply writes it).
 *
 * Diagnostics
 *	None: a stamp that cannot be made or read means "not verified", and
 *	the index is dumped again.
 */
#ifndef RS_STAMP_H
#define RS_STAMP_H

#include "config.h"
#include "table.h"

#define RS_INDEX_STAMPS	"index-stamps"

const char *map_suffix(const char *map_type);
int index_agrees(const struct rs_config *config, const char *path,
    const struct buf *text);
void stamp_line(const struct rs_config *config, const char *name,
    const struct buf *text, struct buf *out);
int stamp_verified(const struct rs_config *config, const char *name,
    const struct buf *text);
void stamp_file(const struct rs_config *config, const struct rs_tables *tables,
    struct buf *out);

#endif

/*
 * table - the line format of relaysync's tables: the one place that knows
 * how a line is written and read back.
 *
 * A table set is six Postfix lookup tables and the owners file, each a
 * text of lines "key SP rest NL", keys unique and ascending (byte order
 * of the key alone), written by render, compared by plan, indexed and
 * patched by apply, hashed by snapshot. rs_table_info[t] describes table
 * t: its file name below postfix.map_dir, its mode (0600 when it holds
 * secrets, then a line's secret is masked in every message), whether
 * Postfix reads it (indexed with postmap; the owners file is not), its
 * line form, and whether it is a gateway table: every route's gateway is
 * in exactly one gateway table (sender_relay or sender_transport), with
 * the security that table implies ("ssl"), or NULL when tls_policy's
 * level for the next hop says ("none", else "starttls"). plan counts the
 * installed routes (for policy.max_removals and the empty-set refusal) as
 * the valid lines of the gateway tables.
 *
 * Line forms (a line's parts: key, value, hop, secret)
 *	RS_LF_PLAIN   key value             sender_login (value: login
 *	                                    names), owners (the owner DN)
 *	RS_LF_HOP     key hop               sender_relay (value empty)
 *	RS_LF_VIA     key value:hop         sender_transport (value:
 *	                                    the transport)
 *	RS_LF_FILTER  key FILTER value:hop  sender_access (value: the
 *	                                    transport)
 *	RS_LF_LOGIN   key value:secret      sasl_passwd (value: username,
 *	                                    secret: password; no ":" when
 *	                                    the secret is NULL)
 *	RS_LF_POLICY  hop value             tls_policy (key and hop are
 *	                                    the same; value: TLS level)
 *	A hop is a next hop "[host]:port" (IPv6 as "[ipv6:addr]:port").
 *	A valid line has: a key of one or more bytes, none of them space,
 *	tab, newline or NUL, not starting with "#"; a value without newline
 *	or NUL, and without ":" in the VIA, FILTER and LOGIN forms; a hop
 *	starting with "[", holding "]:", without space, tab, newline or NUL;
 *	a secret without newline or NUL. table_put() of valid parts and
 *	table_get() of the line give back the same parts.
 *
 * Functions
 *	table_put(out, t, key, value, hop, secret) appends one line of table
 *	t to out, using the parts its form has (the others are ignored).
 *	table_get(t, line, &parts) splits the line at line (up to its newline
 *	or the end of the text) into parts that point into it; -1 when it is
 *	not a valid line of t's form (a comment, a damaged line).
 *	table_next(t, &cursor, &parts) reads the next valid line at cursor
 *	and moves cursor past it, skipping lines that are not valid; 0 at
 *	the end of the text.
 *	table_hop(out, host, port) writes "[host]:port" into out (reset
 *	first) and returns it.
 *	table_key_len(line) is the length of a line's key; table_next_line()
 *	points at the line after it (or at the end of the text).
 *	table_result(line, &len) points at what Postfix answers for the
 *	line's key (all after the key and the blanks that follow it, as
 *	postmap reads a line), its length without the newline in len.
 *	table_masked(out, t, line) appends a line (without its newline) to
 *	out, its secret shown as ******** when table t is private.
 *	table_diff(old, old_len, new, new_len, fn, arg) walks two texts of
 *	one table (the first old_len bytes of old, new_len of new; each ends
 *	after a newline or where its string ends) in key order and calls
 *	fn(arg, old_line, new_line) for each key whose line differs, with
 *	NULL for the side that lacks the key; the lines point into the
 *	texts. It returns -1, part way, when a text is not in strictly
 *	ascending order of keys.
 *	table_ascends_at(text, len, at) tells whether the key of the line
 *	that starts at byte at of a text (len bytes) sorts after the key of
 *	the line before it (yes when either is missing).
 *	table_find(text, len, key) is the line of key in the first len bytes
 *	of a text in strictly ascending order of keys (ending with a newline
 *	or at len), by bisection; NULL when no line has that key.
 *
 * Diagnostics
 *	None: lines are written from values policy validated, and a line
 *	read that is not of its table's form is skipped or refused (-1).
 */
#ifndef RS_TABLE_H
#define RS_TABLE_H

#include <sys/types.h>

#include "util.h"

enum rs_table {
	RS_T_SENDER_RELAY,
	RS_T_SENDER_TRANSPORT,
	RS_T_SASL_PASSWD,
	RS_T_TLS_POLICY,
	RS_T_SENDER_ACCESS,
	RS_T_SENDER_LOGIN,
	RS_T_COUNT,			/* the Postfix tables end here */
	RS_T_OWNERS = RS_T_COUNT,	/* not a Postfix table: for plan */
	RS_T_SET			/* the whole set */
};

#define RS_SMTP_TRANSPORT	"relaysync_smtp"
#define RS_SMTPS_TRANSPORT	"relaysync_smtps"

enum rs_line_form {
	RS_LF_PLAIN, RS_LF_HOP, RS_LF_VIA, RS_LF_FILTER, RS_LF_LOGIN,
	RS_LF_POLICY
};

struct rs_table_info {
	const char *name;	/* file name below postfix.map_dir */
	mode_t mode;		/* 0600: holds secrets (private) */
	int postfix;		/* Postfix reads it: indexed, reloaded */
	enum rs_line_form form;
	int gateway;		/* a route's gateway table */
	const char *security;	/* gateway: implied security, or NULL */
};

extern const struct rs_table_info rs_table_info[RS_T_SET];

/* A table set: t[RS_T_OWNERS] is the owners file. */
struct rs_tables {
	struct buf t[RS_T_SET];
	size_t nroutes;
};

/* The parts of a line; each points into the text, of the length given
 * (hop and secret NULL when the line has none). */
struct rs_line {
	const char *key, *value, *hop, *secret;
	size_t key_len, value_len, hop_len, secret_len;
};

void table_put(struct buf *out, enum rs_table t, const char *key,
    const char *value, const char *hop, const char *secret);
int table_get(enum rs_table t, const char *line, struct rs_line *parts);
int table_next(enum rs_table t, const char **cursor, struct rs_line *parts);
const char *table_hop(struct buf *out, const char *host, int port);
size_t table_key_len(const char *line);
const char *table_next_line(const char *line);
const char *table_result(const char *line, size_t *len);
void table_masked(struct buf *out, enum rs_table t, const char *line);
typedef void (*table_diff_fn)(void *arg, const char *old_line,
    const char *new_line);
int table_diff(const char *old, size_t old_len, const char *new,
    size_t new_len, table_diff_fn fn, void *arg);
int table_ascends_at(const char *text, size_t len, size_t at);
const char *table_find(const char *text, size_t len, const char *key);

#endif

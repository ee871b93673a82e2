/*
 * explain - why one user or address does or does not get a gateway.
 *
 * Functions
 *	explain() finds the user named by a DN (a user entry, or a send-as
 *	entry and its owner) or by an address (a send-as address, or a user's
 *	primary mail), and prints for each match: the chain of entries from
 *	the base DN down to the user with their allow values, which entry
 *	decided (the user's own value, inherited from which entry, or the
 *	configured default), whether the account is disabled, and every
 *	send-as entry with its verdict: the table lines it produces (passwords
 *	shown as ********) or its reason code with a sentence saying how to
 *	fix it. Where the live tables (below postfix.map_dir) give the
 *	address other lines than that verdict would, it also shows what they
 *	do now, until the next sync ("live tables now (generation N, until
 *	the next sync):" and their lines, passwords masked; JSON "live":
 *	{"generation", "lines"}, null when they agree); an address that only
 *	the live tables still have is shown that way too. Text or JSON.
 *
 * Diagnostics
 *	Returns RS_EX_OK, or RS_EX_FAIL when nothing matches (after saying so).
 */
#ifndef RS_EXPLAIN_H
#define RS_EXPLAIN_H

#include <stdio.h>

#include "config.h"
#include "model.h"
#include "policy.h"
#include "report.h"

int explain(FILE *fp, enum rs_format fmt, const struct rs_config *c,
    const struct rs_model *m, const struct rs_decision *d, const char *arg);

#endif

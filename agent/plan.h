/*
 * plan - what a run would change, compared with the installed tables.
 *
 * Functions
 *	plan_build() reads the installed generation (the text tables and the
 *	owners file below postfix.map_dir), compares it with the new tables
 *	and lists, sorted by address, every added, changed and removed route.
 *	A change of login or password shows only as "credentials changed".
 *	A removed route carries the current verdict of its address when the
 *	directory still has it (so the report can say why), else none.
 *	It sets plan->apply when any file of the set differs or an indexed
 *	file does not hold exactly the lines of its text table (missing,
 *	damaged, of another map_type), and plan->reload when a Postfix table
 *	needs to change.
 *	It applies the safety limits to the routes whose entries vanished
 *	(removed routes whose address no entry claims any more, or claims
 *	without a rejection): more of them than policy.max_removals, or any
 *	of them while the new set would be empty, set plan->refused (with a
 *	message naming the count and --force) unless force is given. Routes
 *	removed by a decision (a rejection's reason code) are revocations: they
 *	never count.
 *	plan->pending says in words what a run would do besides the route
 *	changes: create the table set, repair a damaged index, rewrite a
 *	table whose lines change while no route does, update the owners file.
 *	A change's strings live in the plan's arena, or, for the new side
 *	(address, owner, login, login names), in the decision, which must
 *	outlive the plan.
 *	When nothing is installed (a first run), every route of the decision
 *	is added: plan->all_added is set and plan->c lists none of them
 *	(115,000 changes at 100,000 users, held until the report), so the
 *	changes are read with plan_walk_init(w, plan, decision), then
 *	plan_next(w) (the next change in address order, NULL after the last;
 *	it stays valid until the next call) and plan_walk_free(w).
 *	plan_free() releases it, wiping the old credentials it read.
 *	plan_diff() writes, per table (and the owners file) that would
 *	change, a "--- live" and "+++ new" header and the "-" and "+" lines,
 *	the password of sasl_passwd lines shown as ********.
 *	An installed index is checked by the installer's verify() (inst,
 *	installer.h: "postmap -s") unless its stamp
 *	(stamp.h) says a run verified it and it is still the same file with
 *	the same text. plan reads the installed lines through table.h.
 *
 * Diagnostics
 *	plan_build() fails (RS_EX_FAIL) only when an installed table exists
 *	but cannot be read; a missing installed set is a first run.
 */
#ifndef RS_PLAN_H
#define RS_PLAN_H

#include "config.h"
#include "installer.h"
#include "policy.h"
#include "render.h"

enum rs_change_kind { RS_C_ADDED, RS_C_CHANGED, RS_C_REMOVED };

struct rs_change {
	enum rs_change_kind kind;
	const char *address;
	const char *owner_dn;	/* printable form */
	const char *old_gateway;	/* "[host]:port starttls" or NULL */
	const char *new_gateway;
	const char *old_login;	/* username only, or NULL */
	const char *new_login;
	const char *old_logins;	/* the owner's login names, or NULL */
	const char *new_logins;
	int credentials_changed;
	const struct rs_verdict *why;	/* removed: current verdict or NULL */
};

struct rs_plan {
	struct rs_change *c;
	size_t n, cap;
	struct rs_arena text;	/* the changes' strings */
	size_t added, changed, removed;
	size_t vanished;	/* removed because their entries are gone */
	size_t old_routes, new_routes;
	int installed;
	int verified;		/* installed indexes dumped to check them */
	int apply;
	int reload;
	int refused;
	char refusal[512];
	unsigned differs;	/* bit per table whose text changes */
	unsigned damaged;	/* bit per table whose index is wrong */
	int owners_differ;
	int all_added;		/* every route is added; c lists none */
	char pending[1024];	/* what else a run would do, in words */
};

/* A walk over a plan's changes (plan_next()). */
struct rs_change_walk {
	const struct rs_plan *p;
	const struct rs_decision *d;
	size_t i;
	struct rs_change c;	/* an added route made up by plan_next() */
	struct buf gw, owner;
};

int plan_build(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_decision *d, const struct rs_tables *t, int force,
    struct rs_plan *p, struct rs_err *err);
void plan_free(struct rs_plan *p);
void plan_walk_init(struct rs_change_walk *w, const struct rs_plan *p,
    const struct rs_decision *d);
const struct rs_change *plan_next(struct rs_change_walk *w);
void plan_walk_free(struct rs_change_walk *w);
void plan_diff(const struct rs_config *c, const struct rs_tables *nt,
    struct buf *out);

#endif

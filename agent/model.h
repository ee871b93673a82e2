/*
 * model - what relaysync knows about the directory, as plain C structs.
 *
 * The model holds raw directory values: nothing in it has been validated.
 * policy decides; render writes. Each value keeps its byte length and the
 * number of values the attribute had, so that a NUL byte or a second value
 * in a single-valued attribute can be seen and rejected later.
 *
 * Functions
 *	model_init(), model_free() manage a model.
 *	model_add_policy(), model_add_user(), model_add_sendas() append
 *	entries, copying their arguments and indexing them by normalized
 *	DN (a later entry with the same DN wins the index); a send-as entry's
 *	owner is the given DN, or its parent entry when NULL;
 *	model_set_disabled() marks a user. model_user() and model_policy()
 *	find an entry by normalized DN.
 *	dn_norm() returns a DN in the form used for all comparisons (LDAPv3
 *	string form, lower case); dn_parent() points into a normalized DN at
 *	its parent, or returns NULL at the top.
 */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include <stddef.h>

#include "config.h"
#include "util.h"

struct rs_value {
	char *val;		/* first value, NUL-terminated copy */
	size_t len;		/* its length in bytes (may contain NUL) */
	unsigned count;		/* how many values the attribute had */
};

enum rs_tristate { RS_UNSET = -1, RS_NO = 0, RS_YES = 1 };

struct rs_ou_policy {
	char *dn;		/* normalized */
	int allow;		/* RS_YES or RS_NO */
};

struct rs_user {
	char *dn;		/* normalized */
	char *display_dn;	/* as the server returned it */
	char *mail;
	int disabled;
};

struct rs_sendas {
	char *dn;		/* as the server returned it */
	char *owner;		/* normalized DN of the parent entry */
	struct rs_value f[RS_F_COUNT];
};

struct rs_model {
	struct rs_ou_policy *pol;
	size_t npol, cappol;
	struct rs_user *users;
	size_t nusers, capusers;
	struct rs_sendas *sendas;
	size_t nsendas, capsendas;
	struct strmap pol_by_dn;	/* normalized DN -> index + 1 */
	struct strmap user_by_dn;	/* normalized DN -> index + 1 */
};

void model_init(struct rs_model *);
void model_free(struct rs_model *);
void model_add_policy(struct rs_model *, const char *, int);
void model_add_user(struct rs_model *, const char *, const char *);
struct rs_sendas *model_add_sendas(struct rs_model *, const char *,
    const char *);
void model_set_value(struct rs_value *, const char *, size_t, unsigned);
int model_set_disabled(struct rs_model *, const char *);
struct rs_user *model_user(const struct rs_model *, const char *);
const struct rs_ou_policy *model_policy(const struct rs_model *,
    const char *);

char *dn_norm(const char *);
const char *dn_parent(const char *);

#endif

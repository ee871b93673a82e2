/*
 * policy - who may use which gateway, and why not.
 *
 * Functions
 *	policy_resolve() gives a user's effective permission: the user entry's
 *	own allow attribute if set, else the nearest ancestor entry (by DN)
 *	that sets it, else policy.default_allow. *decided_by is the normalized
 *	DN of the deciding entry, or NULL when the default decided.
 *	policy_decide() gives every send-as entry of the model exactly one
 *	verdict: a route, or the first reason code that applies, in the order
 *	of DESIGN.md. An address claimed by more than one entry (compared
 *	case-insensitively) is a conflict for every claim. Accepted routes are
 *	also listed sorted by address in decision->routes.
 *	With policy.require_gateway_check, a route is accepted only when the
 *	map of passed checks (address -> fingerprint, from verify) holds its
 *	current fingerprint; otherwise gateway_check_failed.
 *	policy_free() releases a decision and wipes decrypted passwords.
 *	policy_fingerprint() is a keyed HMAC-SHA256 (the first local key)
 *	over a route's address, gateway, security, login and password, in
 *	hex: equal only for the same route, and useless for guessing the
 *	password without the key. Without a local key it covers everything
 *	but the password (a plain SHA-256), so nothing derived from a
 *	password is stored. decide fills each route's verdict with it.
 *	reason_code() is the reason's stable name ("policy_forbidden").
 *	reason_sentence() is one sentence about an address and its reason
 *	that tells an administrator the fix.
 *
 * Diagnostics
 *	None: every problem with directory data becomes a verdict.
 */
#ifndef RS_POLICY_H
#define RS_POLICY_H

#include "config.h"
#include "model.h"
#include "secret.h"
#include "validate.h"

enum rs_reason {
	RS_R_NONE,
	RS_R_POLICY_FORBIDDEN,
	RS_R_USER_DISABLED,
	RS_R_BAD_ADDRESS,
	RS_R_INTERNAL_DOMAIN,
	RS_R_NO_GATEWAY,
	RS_R_BAD_HOST,
	RS_R_BAD_PORT,
	RS_R_BAD_SECURITY,
	RS_R_INSECURE_FORBIDDEN,
	RS_R_BAD_CREDENTIALS,
	RS_R_SECRET_UNDECRYPTABLE,
	RS_R_UNVERIFIED,
	RS_R_CONFLICT,
	RS_R_GATEWAY_CHECK_FAILED,
	RS_R_COUNT
};

struct rs_route {
	char *address;		/* lower case */
	char *host;		/* lower case; "ipv6:..." for IPv6 */
	int port;
	enum rs_security sec;
	char *username;		/* NULL: no authentication */
	char *password;		/* decrypted; NULL with username */
};

struct rs_verdict {
	const struct rs_sendas *sa;
	const char *owner_dn;	/* the owner as the server wrote it */
	enum rs_reason reason;
	const char *detail;	/* static; never quotes a value */
	struct rs_route route;	/* filled when reason == RS_R_NONE */
	char fingerprint[65];	/* policy_fingerprint() of the route */
};

struct rs_decision {
	struct rs_verdict *v;
	size_t n;
	const struct rs_verdict **routes;
	size_t nroutes;
};

int policy_resolve(const struct rs_model *, const char *, int,
    const char **);
void policy_decide(const struct rs_model *, const struct rs_config *,
    const struct rs_keyring *, const struct strmap *, struct rs_decision *);
void policy_fingerprint(const struct rs_keyring *, const struct rs_route *,
    char *);
void policy_free(struct rs_decision *);
const char *reason_code(enum rs_reason);
const char *reason_sentence(struct buf *, enum rs_reason, const char *);

#endif

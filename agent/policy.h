/*
 * policy - who may use which gateway, and why not.
 *
 * Functions
 *	policy_resolve() gives a user's effective permission: the user entry's
 *	own allow attribute if set, else the nearest ancestor entry (by DN)
 *	that sets it, else policy.default_allow. *decided_by is the normalized
 *	DN of the deciding entry, or NULL when the default decided.
 *	policy_decide(model, c, keys, env, decision) gives every send-as
 *	entry of the model exactly one verdict: a route, or the first reason
 *	code that applies, in this order:
 *	  policy_forbidden  neither the user, an entry above it nor
 *	                    policy.default_allow allows gateways
 *	  user_disabled     the owner's account is disabled (mapping)
 *	  no_login          the owner has no usable login name
 *	                    (users.login_attribute): the route could not be
 *	                    bound to its owner
 *	  bad_address       not a plain mailbox
 *	  internal_domain   the address is in policy.internal_domains
 *	  no_gateway        no SMTP host (nothing to route)
 *	  bad_host          not a host name or IP literal
 *	  internal_gateway  the host is loopback, private, link-local,
 *	                    localhost, or one of the relay's own next hops
 *	                    (env->own_hops), unless policy.allow_private_gateways
 *	  bad_port, bad_security
 *	  insecure_forbidden  security none without policy.allow_insecure;
 *	                    or a login sent without a verified certificate
 *	                    (security none, or postfix.tls_level encrypt)
 *	  bad_credentials   username without password or the reverse, or a
 *	                    character the table format cannot carry
 *	  secret_undecryptable  the {AES256-GCM} value does not open with the
 *	                    keys for this address
 *	  unverified        policy.require_verified and the flag is not TRUE
 *	  conflict          another entry claims the same address (any case):
 *	                    a single verified claim wins over unverified ones;
 *	                    two verified claims, or only unverified ones,
 *	                    reject every claim
 *	  gateway_check_failed  policy.require_gateway_check and no passed
 *	                    check of this route (env->checked)
 *	decision->v holds the verdicts sorted by address in any case (then
 *	by DN). Accepted routes carry the owner's valid login names and are
 *	also listed, in that order, in decision->routes. env may be NULL.
 *	policy_free() releases a decision and wipes decrypted passwords.
 *	policy_fingerprint() is a keyed HMAC-SHA256 (the first local key)
 *	over a route's address, gateway, security, login and password, in
 *	hex: equal only for the same route, and useless for guessing the
 *	password without the key. Without a local key it covers everything
 *	but the password (a plain SHA-256), so nothing derived from a
 *	password is stored. decide fills each accepted route's verdict with
 *	it when policy.require_gateway_check needs it or env->fingerprints
 *	asks for it (the routes verify checks), else leaves it NULL. The
 *	routes' strings live in the decision's arenas (one copy of an
 *	owner's login names for the owner's neighbouring entries): from
 *	4,096 entries on, the second half of the model is decided in a
 *	thread of its own, with its own arena (decision->more).
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
	RS_R_NO_LOGIN,
	RS_R_BAD_ADDRESS,
	RS_R_INTERNAL_DOMAIN,
	RS_R_NO_GATEWAY,
	RS_R_BAD_HOST,
	RS_R_INTERNAL_GATEWAY,
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
	char *logins;		/* the owner's login names, ", " between */
};

struct rs_verdict {
	const struct rs_sendas *sa;
	const char *owner_dn;	/* the owner as the server wrote it */
	enum rs_reason reason;
	const char *detail;	/* static; never quotes a value */
	struct rs_route route;	/* filled when reason == RS_R_NONE */
	const char *fingerprint;	/* policy_fingerprint() of the route,
					 * or NULL */
};

/* What a decision needs besides the model and the configuration. */
struct rs_policy_env {
	const struct strmap *checked;	/* address -> fingerprint; or NULL */
	char *const *own_hops;		/* the relay's own next-hop hosts */
	size_t n_own_hops;
	int fingerprints;		/* fill every route's fingerprint */
};

struct rs_decision {
	struct rs_verdict *v;
	size_t n;
	const struct rs_verdict **routes;
	size_t nroutes;
	struct rs_arena text;	/* the routes' strings and fingerprints, */
	struct rs_arena more;	/* those decided in a second thread */
};

int policy_resolve(const struct rs_model *m, const char *ndn, int default_allow,
    const char **decided_by);
void policy_decide(const struct rs_model *model, const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_policy_env *env,
    struct rs_decision *decision);
void policy_fingerprint(const struct rs_keyring *keys, const struct rs_route *r,
    char *hex);
void policy_free(struct rs_decision *d);
const char *reason_code(enum rs_reason r);
const char *reason_sentence(struct buf *b, enum rs_reason r,
    const char *address);

#endif

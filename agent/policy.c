/*
 * policy - who may use which gateway, and why not.
 * See policy.h for the contract.
 *
 * Each check below either passes or sets the verdict's reason; the checks
 * run in the order policy.h lists the reasons and stop at the first
 * failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dn.h"
#include "policy.h"

/* Each hint is a sentence about one address (where "%s" stands): what is
 * wrong, and the fix. */
static const struct {
	const char *code;
	const char *hint;
} reasons[RS_R_COUNT] = {
	[RS_R_NONE] = { "accepted", "%s leaves through its own gateway" },
	[RS_R_POLICY_FORBIDDEN] = { "policy_forbidden",
	    "%s is not routed because per-user gateways are forbidden for its "
	    "owner; set relaysyncAllowUserGateways: TRUE on the user or an OU "
	    "above it (or policy.default_allow) to allow them" },
	[RS_R_USER_DISABLED] = { "user_disabled",
	    "%s belongs to a disabled account; enable the account to restore "
	    "the route" },
	[RS_R_NO_LOGIN] = { "no_login",
	    "%s is not routed because its owner has no usable login name "
	    "(users.login_attribute), so no submission could be tied to the "
	    "owner; give the user a login name without commas, spaces or "
	    "control characters" },
	[RS_R_BAD_ADDRESS] = { "bad_address",
	    "%s is not a plain mailbox (local@domain); correct the send-as "
	    "address in the directory" },
	[RS_R_INTERNAL_DOMAIN] = { "internal_domain",
	    "%s is in an internal domain (policy.internal_domains); internal "
	    "addresses always leave through the default relay" },
	[RS_R_NO_GATEWAY] = { "no_gateway",
	    "%s has no SMTP host, so its mail uses the default relay; set the "
	    "SMTP host to give it a gateway" },
	[RS_R_BAD_HOST] = { "bad_host",
	    "%s has an SMTP host that is not a valid host name or IP address; "
	    "correct it" },
	[RS_R_INTERNAL_GATEWAY] = { "internal_gateway",
	    "%s has a gateway inside the organisation (loopback, private or "
	    "link-local address, localhost, or the relay's own next hop); "
	    "give the partner's public SMTP server, or set "
	    "policy.allow_private_gateways if such gateways are intended" },
	[RS_R_BAD_PORT] = { "bad_port",
	    "%s has an SMTP port that is not a number from 1 to 65535; "
	    "correct it" },
	[RS_R_BAD_SECURITY] = { "bad_security",
	    "%s has an unknown security mode; use starttls, ssl (or tls) or "
	    "none" },
	[RS_R_INSECURE_FORBIDDEN] = { "insecure_forbidden",
	    "%s would reach its gateway without a verified TLS certificate "
	    "(security none, or a login with postfix.tls_level encrypt); use "
	    "starttls or ssl with a verifying tls_level, or, for a gateway "
	    "without a login, set policy.allow_insecure" },
	[RS_R_BAD_CREDENTIALS] = { "bad_credentials",
	    "%s has an unusable login: username and password go together, "
	    "without control characters, the username without ':' or spaces" },
	[RS_R_SECRET_UNDECRYPTABLE] = { "secret_undecryptable",
	    "%s has an encrypted password that the keys in secrets.key_file "
	    "cannot open; encrypt it again with relaysync encrypt-secret" },
	[RS_R_UNVERIFIED] = { "unverified",
	    "%s is not marked verified (policy.require_verified); set the "
	    "verified flag once ownership of the address is confirmed" },
	[RS_R_CONFLICT] = { "conflict",
	    "%s is claimed by more than one entry; a single verified claim "
	    "wins, otherwise no claim does: remove the wrong claims or "
	    "verify the right one" },
	[RS_R_GATEWAY_CHECK_FAILED] = { "gateway_check_failed",
	    "%s has a gateway that has not passed relaysync verify with this "
	    "login (policy.require_gateway_check); run relaysync verify, or "
	    "sync --verify" },
};

const char *
reason_code(enum rs_reason r)
{
	return reasons[r].code;
}

const char *
reason_sentence(struct buf *b, enum rs_reason r, const char *address)
{
	const char *h = reasons[r].hint, *at = strstr(h, "%s");

	buf_reset(b);
	buf_add(b, h, (size_t)(at - h));
	buf_adds(b, address);
	buf_adds(b, at + 2);
	return buf_str(b);
}

int
policy_resolve(const struct rs_model *m, const char *ndn, int default_allow,
    const char **decided_by)
{
	const struct rs_ou_policy *p;
	const char *dn;

	for (dn = ndn; dn != NULL; dn = dn_parent(dn)) {
		if ((p = model_policy(m, dn)) != NULL) {
			*decided_by = p->dn;
			return p->allow;
		}
	}
	*decided_by = NULL;
	return default_allow;
}

/*
 * What an owner's entries have in common, worked out once for a run of
 * entries with the same owner (a user's entries are mostly neighbours in
 * the model): the user, and the verdict of check_owner() with the login
 * names it gives.
 */
struct owner {
	const char *ndn;	/* the owner this is about; NULL: none yet */
	const char *display_dn;	/* as the server wrote it; NULL: no user */
	enum rs_reason reason;
	const char *detail;
	struct buf logins;	/* valid login names, ", " between */
	const char *shared;	/* their copy in the decision, or NULL */
};

/*
 * One send-as entry on its way to a verdict: its address in lower case
 * (the sort key of the decision, and the route's address once accepted)
 * and the claims on it.
 */
struct entry {
	uint64_t head;		/* lc's first 8 bytes, big-endian: sorts as lc */
	char *lc;		/* lower case; "" without an address */
	const struct rs_sendas *sa;
	unsigned claims;	/* well-formed entries claiming lc */
	unsigned verified;	/* those of them that are verified */
	unsigned char claiming;	/* this entry is one of those claims */
	unsigned char own_verified;	/* and a verified one */
};

struct ctx {
	const struct rs_model *m;
	const struct rs_config *c;
	const struct rs_keyring *keys;
	struct rs_hmac *fp_key;	/* the first local key, or NULL */
	const struct rs_policy_env *env;
	struct strmap below;	/* parent DN -> what it inherits, + 1 */
	struct strmap hosts;	/* a route's host -> its one copy */
	struct buf host;	/* the host being checked */
	int user_policies;	/* some user entry sets the allow attribute */
	struct owner owner;	/* of the entry decided last */
	struct buf fp;		/* what a fingerprint covers (wiped) */
	struct rs_arena *text;	/* the decision's */
};

#define REJECT(v, r, d)	do { (v)->reason = (r); (v)->detail = (d); \
	return -1; } while (0)

static const struct rs_value *
field(const struct rs_verdict *v, enum rs_field f)
{
	return &v->sa->f[f];
}

/* policy_resolve() for a user: their own entry, else what their parent
 * inherits, resolved once per parent. *by: an entry decided. */
static int
user_allowed(struct ctx *x, const struct rs_user *u, int *by)
{
	const struct rs_ou_policy *p = x->user_policies ?
	    model_policy(x->m, u->dn) : NULL;
	const char *parent = dn_parent(u->dn), *decider;
	uintptr_t r;
	void **slot;

	if (p != NULL || parent == NULL) {
		*by = p != NULL;
		return p ? p->allow : x->c->policy.default_allow;
	}
	slot = strmap_slot(&x->below, parent);
	if (*slot == NULL) {
		r = (uintptr_t)policy_resolve(x->m, parent,
		    x->c->policy.default_allow, &decider) ? 2 : 0;
		*slot = (void *)(r + (decider != NULL) + 1);
	}
	r = (uintptr_t)*slot - 1;
	*by = (r & 1) != 0;
	return (r & 2) != 0;
}

/* The owner's valid login names, for sender_login; none is no_login. */
static void
owner_logins(struct owner *o, const struct rs_user *u)
{
	size_t i;

	for (i = 0; i < u->nlogins; i++) {
		if (valid_login(u->logins[i].val, u->logins[i].len, NULL) < 0)
			continue;
		if (o->logins.len)
			buf_adds(&o->logins, ", ");
		buf_adds(&o->logins, u->logins[i].val);
	}
	buf_str(&o->logins);
	if (o->logins.len == 0) {
		o->reason = RS_R_NO_LOGIN;
		o->detail = u->nlogins ? "none of the owner's login names can "
		    "be written into sender_login" : "the owner has no login "
		    "name (users.login_attribute)";
	}
}

/* What check_owner() says of every entry of the owner ndn. */
static void
owner_verdict(struct ctx *x, const char *ndn, struct owner *o)
{
	const struct rs_user *u = model_user(x->m, ndn);
	int by;

	o->ndn = ndn;
	o->display_dn = u ? u->display_dn : NULL;
	o->reason = RS_R_POLICY_FORBIDDEN;
	o->shared = NULL;
	buf_reset(&o->logins);
	if (u == NULL)
		o->detail = "the entry is not directly below a user entry "
		    "(users.filter)";
	else if (!user_allowed(x, u, &by))
		o->detail = by ? "forbidden by the directory policy" :
		    "forbidden by policy.default_allow";
	else if (u->disabled) {
		o->reason = RS_R_USER_DISABLED;
		o->detail = "the owner is disabled";
	} else {
		o->reason = RS_R_NONE;
		owner_logins(o, u);
	}
}

static int
check_owner(struct ctx *x, struct rs_verdict *v)
{
	struct owner *o = &x->owner;

	if (o->ndn == NULL || strcmp(o->ndn, v->sa->owner) != 0)
		owner_verdict(x, v->sa->owner, o);
	if (o->display_dn != NULL)
		v->owner_dn = o->display_dn;
	if (o->reason != RS_R_NONE)
		REJECT(v, o->reason, o->detail);
	if (o->shared == NULL)
		o->shared = arena_copy(x->text, o->logins.data, o->logins.len);
	v->route.logins = (char *)o->shared;
	return 0;
}

/* The entry's lower-case address moves to the route. */
static int
check_address(struct ctx *x, struct rs_verdict *v, const struct entry *e)
{
	const struct rs_value *a = field(v, RS_F_ADDRESS);
	const char *why = "the entry has no address or more than one";

	if (!e->claiming && (a->count != 1 ||
	    valid_address(a->val, a->len, &why) < 0))
		REJECT(v, RS_R_BAD_ADDRESS, why);
	v->route.address = e->lc;	/* in the decision's arena */
	if (domain_is_internal(strchr(v->route.address, '@') + 1,
	    x->c->policy.internal_domains, x->c->policy.n_internal_domains))
		REJECT(v, RS_R_INTERNAL_DOMAIN, "the domain is listed in "
		    "policy.internal_domains");
	return 0;
}

/* The relay's own next hops and the organisation's networks. */
static int
check_internal(struct ctx *x, struct rs_verdict *v)
{
	size_t i;

	if (x->c->policy.allow_private_gateways)
		return 0;
	if (host_is_internal(v->route.host))
		REJECT(v, RS_R_INTERNAL_GATEWAY, "the gateway is a loopback, "
		    "private or link-local address, or localhost");
	for (i = 0; x->env && i < x->env->n_own_hops; i++)
		if (strcasecmp(v->route.host, x->env->own_hops[i]) == 0)
			REJECT(v, RS_R_INTERNAL_GATEWAY, "the gateway is one of "
			    "the relay's own next hops (relayhost, "
			    "transport_maps)");
	return 0;
}

static int
check_host(struct ctx *x, struct rs_verdict *v)
{
	const struct rs_value *h = field(v, RS_F_HOST);
	const char *why = "the entry has more than one SMTP host";
	void **slot;
	int v6;

	if (h->count == 0)
		REJECT(v, RS_R_NO_GATEWAY, "no SMTP host is set");
	if (h->count != 1 || valid_host(h->val, h->len, &v6, &why) < 0)
		REJECT(v, RS_R_BAD_HOST, why);
	buf_reset(&x->host);
	buf_add(&x->host, "ipv6:", v6 ? 5 : 0);
	buf_add(&x->host, h->val, h->len);
	buf_str(&x->host);
	str_lower(x->host.data);
	slot = strmap_slot(&x->hosts, x->host.data);	/* one copy each */
	if (*slot == NULL)
		*slot = arena_copy(x->text, x->host.data, x->host.len);
	v->route.host = *slot;
	return check_internal(x, v);
}

static int
check_port_security(struct ctx *x, struct rs_verdict *v)
{
	const struct rs_value *p = field(v, RS_F_PORT);
	const struct rs_value *s = field(v, RS_F_SECURITY);
	const char *why = "the entry has more than one value";

	v->route.sec = RS_SEC_STARTTLS;
	if (s->count == 1)
		(void)parse_security(s->val, s->len, &v->route.sec, &why);
	v->route.port = v->route.sec == RS_SEC_SSL ? 465 : 587;
	if (p->count > 1 || (p->count == 1 &&
	    parse_port(p->val, p->len, &v->route.port, &why) < 0))
		REJECT(v, RS_R_BAD_PORT, why);
	if (s->count > 1 || (s->count == 1 &&
	    parse_security(s->val, s->len, &v->route.sec, &why) < 0))
		REJECT(v, RS_R_BAD_SECURITY, why);
	if (v->route.sec == RS_SEC_NONE && !x->c->policy.allow_insecure)
		REJECT(v, RS_R_INSECURE_FORBIDDEN, "security is none and "
		    "policy.allow_insecure is false");
	if (field(v, RS_F_USERNAME)->count == 0)
		return 0;
	if (v->route.sec == RS_SEC_NONE)
		REJECT(v, RS_R_INSECURE_FORBIDDEN, "a login is never sent "
		    "without TLS (security none)");
	if (strcmp(x->c->postfix.tls_level, "encrypt") == 0)
		REJECT(v, RS_R_INSECURE_FORBIDDEN, "a login is never sent "
		    "over TLS that does not verify the gateway's certificate "
		    "(postfix.tls_level encrypt)");
	return 0;
}

static int
check_password(struct ctx *x, struct rs_verdict *v, const struct rs_value *p)
{
	const char *why = NULL;
	struct buf plain;

	buf_init(&plain);
	if (secret_is_encrypted(p->val, p->len)) {
		if (secret_decrypt(x->keys, v->route.address, p->val, p->len,
		    &plain, &why) < 0)
			REJECT(v, RS_R_SECRET_UNDECRYPTABLE, why);
	} else
		buf_add(&plain, p->val, p->len);
	if (valid_password(plain.data, plain.len, &why) < 0) {
		buf_wipe(&plain);
		REJECT(v, RS_R_BAD_CREDENTIALS, why);
	}
	v->route.password = arena_copy(x->text, plain.data, plain.len);
	buf_wipe(&plain);
	return 0;
}

static int
check_credentials(struct ctx *x, struct rs_verdict *v)
{
	const struct rs_value *u = field(v, RS_F_USERNAME);
	const struct rs_value *p = field(v, RS_F_PASSWORD);
	const char *why = NULL;

	if (u->count == 0 && p->count == 0)
		return 0;
	if (u->count != 1 || p->count != 1)
		REJECT(v, RS_R_BAD_CREDENTIALS, "a username needs exactly one "
		    "password and a password exactly one username");
	if (valid_username(u->val, u->len, &why) < 0)
		REJECT(v, RS_R_BAD_CREDENTIALS, why);
	if (check_password(x, v, p) < 0)
		return -1;
	v->route.username = arena_copy(x->text, u->val, u->len);
	return 0;
}

/*
 * The verified flag counts only as an attribute an administrator set: an
 * entry named by it was renamed (modrdn) to carry it, which slapd's ACLs
 * do not check (OpenLDAP 2.5 lets the entry's writer add an RDN value).
 */
static int
is_verified(const struct rs_config *c, const struct rs_sendas *sa)
{
	const struct rs_value *f = &sa->f[RS_F_VERIFIED];
	const char *attr = c->mapping.attr[RS_F_VERIFIED];
	int ok = 0;

	return f->count == 1 && parse_ldap_bool(f->val, f->len, &ok) == 0 &&
	    ok && !(*attr && dn_rdn_names(sa->dn, attr));
}

static int
check_verified(struct ctx *x, struct rs_verdict *v, const struct entry *e)
{
	if (x->c->policy.require_verified && !e->own_verified)
		REJECT(v, RS_R_UNVERIFIED, "the address is not marked verified");
	return 0;
}

/* One claim wins; a single verified one wins over unverified ones. */
static int
check_claims(struct rs_verdict *v, const struct entry *e)
{
	if (e->claims <= 1 || (e->verified == 1 && e->own_verified))
		return 0;
	REJECT(v, RS_R_CONFLICT, e->verified == 0 ? "the address is claimed "
	    "by more than one entry, none of them verified" : e->verified == 1 ?
	    "another entry holds the verified claim on this address" :
	    "the address has more than one verified claim");
}

/* policy_fingerprint() with the first local key prepared (NULL: none),
 * what it covers put together in in. */
static void
fingerprint(struct rs_hmac *key, struct buf *in, const struct rs_route *r,
    char *hex)
{
	buf_reset(in);
	buf_adds(in, "relaysync gateway-check\n");
	buf_adds(in, r->address);
	buf_addc(in, '\n');
	buf_adds(in, r->host);
	buf_addc(in, '\n');
	buf_addu(in, (unsigned long)r->port);
	buf_addc(in, '\n');
	buf_addu(in, (unsigned long)r->sec);
	buf_addc(in, '\n');
	buf_adds(in, r->username ? r->username : "");
	buf_addc(in, '\n');
	if (key != NULL) {
		buf_adds(in, r->password ? r->password : "");
		hmac_hex(key, in->data, in->len, hex);
	} else
		sha256_hex(in->data, in->len, hex);
}

/* Prepare the first local key of keys in h; NULL when there is none. */
static struct rs_hmac *
fingerprint_key(const struct rs_keyring *keys, struct rs_hmac *h)
{
	if (keys == NULL || keys->n == 0)
		return NULL;
	hmac_prepare(h, keys->keys[0].key, sizeof(keys->keys[0].key));
	return h;
}

void
policy_fingerprint(const struct rs_keyring *keys, const struct rs_route *r,
    char *hex)
{
	struct rs_hmac h = { NULL };
	struct buf in;

	buf_init(&in);
	fingerprint(fingerprint_key(keys, &h), &in, r, hex);
	buf_wipe(&in);
	hmac_free(&h);
}

/* A route's fingerprint, in the decision's arena. */
static const char *
route_fingerprint(struct ctx *x, const struct rs_route *r)
{
	char hex[65];

	fingerprint(x->fp_key, &x->fp, r, hex);
	return arena_copy(x->text, hex, strlen(hex));
}

static int
check_gateway(struct ctx *x, struct rs_verdict *v)
{
	const char *ok;

	if (x->c->policy.require_gateway_check ||
	    (x->env && x->env->fingerprints))
		v->fingerprint = route_fingerprint(x, &v->route);
	if (!x->c->policy.require_gateway_check)
		return 0;
	ok = x->env && x->env->checked ? strmap_get(x->env->checked,
	    v->route.address) : NULL;
	if (!ok || !v->fingerprint || strcmp(ok, v->fingerprint) != 0)
		REJECT(v, RS_R_GATEWAY_CHECK_FAILED, ok ? "the gateway or login "
		    "changed since its last passed check" : "no passed check "
		    "of this gateway is recorded");
	return 0;
}

static void
decide_one(struct ctx *x, struct rs_verdict *v, const struct entry *e)
{
	v->owner_dn = v->sa->owner;
	if (check_owner(x, v) < 0 || check_address(x, v, e) < 0 ||
	    check_host(x, v) < 0 || check_port_security(x, v) < 0 ||
	    check_credentials(x, v) < 0 || check_verified(x, v, e) < 0 ||
	    check_claims(v, e) < 0)
		return;
	(void)check_gateway(x, v);
}

/* The order of the decision: by address in any case, then by DN. */
static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = x->head != y->head ? (x->head < y->head ? -1 : 1) :
	    strcmp(x->lc, y->lc);

	return c ? c : strcmp(x->sa->dn, y->sa->dn);
}

/* The first 8 bytes of s (NULs after its end), big-endian: a number
 * that sorts as strcmp() sorts the strings it starts. */
static uint64_t
sort_head(const char *s)
{
	uint64_t h = 0;
	int i, end = 0;

	for (i = 0; i < 8; i++) {
		end = end || s[i] == '\0';
		h = h << 8 | (end ? 0u : (unsigned char)s[i]);
	}
	return h;
}

#define RS_DECIDE_SPLIT	4096	/* from this many entries, two threads */

/* Where the second of two halves of n entries begins (n: no second). */
static size_t
split_at(size_t n)
{
	return n >= RS_DECIDE_SPLIT ? n / 2 : n;
}

/*
 * Entries [from, to) of the model, in its order: each one's lower-case
 * address (in text), whether it is a well-formed claim on that address
 * and whether that claim is verified. Two of these fill the halves of e
 * at once.
 */
struct fill {
	const struct rs_model *m;
	const struct rs_config *c;
	struct entry *e;
	struct rs_arena *text;
	size_t from, to;
};

static void *
fill_entries(void *arg)
{
	const struct fill *f = arg;
	const struct rs_value *a;
	struct entry *e;
	size_t i;

	for (i = f->from; i < f->to; i++) {
		e = &f->e[i];
		e->sa = &f->m->sendas[i];
		a = &e->sa->f[RS_F_ADDRESS];
		e->lc = arena_strdup(f->text, a->val ? a->val : "");
		str_lower(e->lc);
		e->head = sort_head(e->lc);
		e->claiming = a->count == 1 &&
		    valid_address(a->val, a->len, NULL) == 0;
		e->own_verified = e->claiming && is_verified(f->c, e->sa);
	}
	return NULL;
}

/* The entries in the decision's order, their lower-case addresses in the
 * decision's arenas (from RS_DECIDE_SPLIT entries on, the second half's
 * in d->more, made in a thread). */
static struct entry *
sorted_entries(const struct rs_model *m, const struct rs_config *c,
    struct rs_decision *d)
{
	size_t n = m->nsendas, half = split_at(n);
	struct entry *e = xcalloc(n ? n : 1, sizeof(*e));
	struct fill f[2] = { { m, c, e, &d->text, 0, half },
	    { m, c, e, &d->more, half, n } };

	run_halves(fill_entries, &f[0], &f[1], half < n);
	qsort(e, n, sizeof(*e), cmp_entry);
	return e;
}

/* Count the claims on every well-formed address, whatever their verdict:
 * the claims on one address are neighbours in e. */
static void
count_claims(struct entry *e, size_t n)
{
	unsigned claims = 0, verified = 0;
	size_t i, first = 0, j;

	for (i = 0; i <= n; i++) {
		if (i == n || (i > 0 && strcmp(e[i].lc, e[first].lc) != 0)) {
			for (j = first; j < i; j++) {
				e[j].claims = claims;
				e[j].verified = verified;
			}
			first = i;
			claims = verified = 0;
		}
		if (i == n)
			break;
		claims += e[i].claiming;
		verified += e[i].own_verified;
	}
}

/*
 * Part of the entries, model order [from, to) (where an owner's entries
 * are mostly neighbours), decided with a context of its own: caches,
 * copies of hosts, fingerprint key and arena. Each verdict goes to its
 * entry's place in e (at: model order -> place).
 */
struct part {
	struct ctx x;
	struct rs_hmac fp_key;
	const struct entry *e;
	const size_t *at;
	struct rs_decision *d;
	size_t from, to;
};

static void
part_init(struct part *p, const struct ctx *proto, struct rs_arena *text)
{
	memset(p, 0, sizeof(*p));
	p->x.m = proto->m;
	p->x.c = proto->c;
	p->x.keys = proto->keys;
	p->x.env = proto->env;
	p->x.user_policies = proto->user_policies;
	p->x.fp_key = fingerprint_key(proto->keys, &p->fp_key);
	buf_init(&p->x.owner.logins);
	buf_init(&p->x.fp);
	buf_init(&p->x.host);
	strmap_init(&p->x.hosts);
	p->x.text = text;
}

static void
part_free(struct part *p)
{
	strmap_free(&p->x.below);
	strmap_free(&p->x.hosts);
	buf_free(&p->x.host);
	buf_free(&p->x.owner.logins);
	buf_wipe(&p->x.fp);
	hmac_free(&p->fp_key);
}

static void *
decide_part(void *arg)
{
	struct part *p = arg;
	size_t i, k;

	for (i = p->from; i < p->to; i++) {
		k = p->at[i];
		p->d->v[k].sa = p->e[k].sa;
		decide_one(&p->x, &p->d->v[k], &p->e[k]);
	}
	return NULL;
}

/* Decide every entry: from RS_DECIDE_SPLIT entries on, the second half
 * in a thread (its strings in d->more) while the caller decides the
 * first. */
static void
decide_all(const struct ctx *proto, const struct entry *e,
    struct rs_decision *d)
{
	size_t *at = xcalloc(d->n ? d->n : 1, sizeof(*at)), i;
	size_t half = split_at(d->n);
	struct part p[2];

	for (i = 0; i < d->n; i++)
		at[e[i].sa - proto->m->sendas] = i;
	for (i = 0; i < 2; i++) {
		part_init(&p[i], proto, i == 0 ? &d->text : &d->more);
		p[i].e = e;
		p[i].at = at;
		p[i].d = d;
		p[i].from = i == 0 ? 0 : half;
		p[i].to = i == 0 ? half : d->n;
	}
	run_halves(decide_part, &p[0], &p[1], half < d->n);
	part_free(&p[0]);
	part_free(&p[1]);
	free(at);
}

void
policy_decide(const struct rs_model *m, const struct rs_config *c,
    const struct rs_keyring *keys, const struct rs_policy_env *env,
    struct rs_decision *d)
{
	struct ctx x;
	struct entry *e;
	size_t i;

	memset(d, 0, sizeof(*d));
	memset(&x, 0, sizeof(x));
	x.m = m;
	x.c = c;
	x.keys = keys;
	x.env = env;
	for (i = 0; i < m->npol && !x.user_policies; i++)
		x.user_policies = model_user(m, m->pol[i].dn) != NULL;
	e = sorted_entries(m, c, d);
	count_claims(e, m->nsendas);
	d->n = m->nsendas;
	d->v = xcalloc(d->n ? d->n : 1, sizeof(*d->v));
	decide_all(&x, e, d);
	free(e);
	d->routes = xcalloc(d->n ? d->n : 1, sizeof(*d->routes));
	for (i = 0; i < d->n; i++)
		if (d->v[i].reason == RS_R_NONE)
			d->routes[d->nroutes++] = &d->v[i];
}

void
policy_free(struct rs_decision *d)
{
	arena_free(&d->text);	/* wipes the passwords */
	arena_free(&d->more);
	free(d->v);
	free(d->routes);
	memset(d, 0, sizeof(*d));
}

/* Unit tests: policy - inheritance and every reason code, in order. */
#include "unit.h"
#include "dn.h"
#include "policy.h"
#include "secret.h"

#define BASE "dc=example,dc=com"

static struct rs_config cfg;
static struct rs_keyring keys;

static int
setup(void **state)
{
	struct rs_err err;

	(void)state;
	if (test_config(&cfg, "policy:\n  internal_domains: [example.com]\n"
	    "  require_verified: false\n", &err) < 0)
		return -1;
	memset(&keys, 0, sizeof(keys));
	keys.n = keys.cap = 1;
	keys.keys = calloc(1, sizeof(*keys.keys));
	strcpy(keys.keys[0].id, "k1");
	memset(keys.keys[0].key, 7, 32);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	keyring_free(&keys);
	return 0;
}

/* dn_norm() whose result lives until the next call. */
static const char *
dn_norm_tmp(const char *dn)
{
	static char *last;

	free(last);
	last = dn_norm(dn);
	return last;
}

/* Give a user the login name "user1" (every owner needs one). */
static void
login(struct rs_model *m, struct rs_user *u)
{
	model_add_login(m, u, "user1", 5);
}

static void
set(struct rs_model *m, struct rs_sendas *s, enum rs_field f, const char *v)
{
	model_set_field(m, s, f, v, strlen(v), 1);
}

/* A send-as entry for address below owner, with a complete gateway. */
static struct rs_sendas *
entry(struct rs_model *m, const char *owner, const char *address)
{
	char dn[512];
	struct rs_sendas *s;

	snprintf(dn, sizeof(dn), "relaysyncSendAsAddress=%s,%s", address,
	    owner);
	s = model_add_sendas(m, dn, NULL);
	set(m, s, RS_F_ADDRESS, address);
	set(m, s, RS_F_HOST, "smtp.partner.example");
	set(m, s, RS_F_USERNAME, "login");
	set(m, s, RS_F_PASSWORD, "pw");
	return s;
}

static const struct rs_verdict *
verdict(const struct rs_decision *d, const char *address)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].sa->f[RS_F_ADDRESS].val, address) == 0)
			return &d->v[i];
	fail_msg("no verdict for %s", address);
	return NULL;
}

static const char *
reason_of(const struct rs_decision *d, const char *address)
{
	return reason_code(verdict(d, address)->reason);
}

static void
test_inheritance(void **state)
{
	struct rs_model m;
	const char *by;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=People," BASE, RS_YES);
	model_add_policy(&m, "ou=interns,ou=sales,ou=people," BASE, RS_NO);
	model_add_policy(&m, "uid=erin,ou=interns,ou=sales,ou=people," BASE,
	    RS_YES);
	assert_int_equal(policy_resolve(&m, dn_norm_tmp("uid=a,ou=sales,"
	    "ou=people," BASE), 0, &by), 1);
	assert_string_equal(by, "ou=people,dc=example,dc=com");
	assert_int_equal(policy_resolve(&m, dn_norm_tmp("uid=bob,ou=interns,"
	    "ou=sales,ou=people," BASE), 1, &by), 0);
	assert_string_equal(by, "ou=interns,ou=sales,ou=people,dc=example,dc=com");
	assert_int_equal(policy_resolve(&m, dn_norm_tmp("uid=erin,ou=interns,"
	    "ou=sales,ou=people," BASE), 0, &by), 1);
	assert_string_equal(by, "uid=erin,ou=interns,ou=sales,ou=people,"
	    "dc=example,dc=com");
	assert_int_equal(policy_resolve(&m, dn_norm_tmp("uid=g,ou=partners,"
	    BASE), 0, &by), 0);
	assert_null(by);
	assert_int_equal(policy_resolve(&m, dn_norm_tmp("uid=g,ou=partners,"
	    BASE), 1, &by), 1);
	model_free(&m);
}

/*
 * A user entry's own allow attribute decides for its send-as entries over
 * the OU above it; its neighbours inherit the OU's. The entries of one
 * owner are decided together, whatever the order of the model.
 */
static void
test_user_policy(void **state)
{
	const char *yes = "uid=yes,ou=closed,ou=people," BASE;
	const char *no = "uid=no,ou=open,ou=people," BASE;
	const char *plain = "uid=plain,ou=closed,ou=people," BASE;
	const char *open = "uid=open,ou=open,ou=people," BASE;
	struct rs_decision d;
	struct rs_model m;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=closed,ou=people," BASE, RS_NO);
	model_add_policy(&m, "ou=open,ou=people," BASE, RS_YES);
	model_add_policy(&m, yes, RS_YES);
	model_add_policy(&m, no, RS_NO);
	login(&m, model_add_user(&m, yes, "yes@example.com"));
	login(&m, model_add_user(&m, no, "no@example.com"));
	login(&m, model_add_user(&m, plain, "plain@example.com"));
	login(&m, model_add_user(&m, open, "open@example.com"));
	entry(&m, yes, "yes1@partner.example");
	entry(&m, plain, "plain1@partner.example");
	entry(&m, yes, "yes2@partner.example");
	entry(&m, no, "no1@partner.example");
	entry(&m, open, "open1@partner.example");
	entry(&m, no, "no2@partner.example");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_string_equal(reason_of(&d, "yes1@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "yes2@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "open1@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "plain1@partner.example"),
	    "policy_forbidden");
	assert_string_equal(reason_of(&d, "no1@partner.example"),
	    "policy_forbidden");
	assert_string_equal(verdict(&d, "no2@partner.example")->detail,
	    "forbidden by the directory policy");
	assert_string_equal(verdict(&d, "yes2@partner.example")->owner_dn, yes);
	assert_string_equal(verdict(&d, "yes2@partner.example")->route.logins,
	    "user1");
	policy_free(&d);
	model_free(&m);
}

static void
test_reason_order(void **state)
{
	const char *ok = "uid=ok,ou=people," BASE, *no = "uid=no," BASE;
	char *hops[] = { "relay.corp.example" };
	struct rs_policy_env env = { NULL, hops, 1, 0 };
	struct rs_model m;
	struct rs_decision d;
	struct rs_sendas *s;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	login(&m, model_add_user(&m, ok, "ok@example.com"));
	login(&m, model_add_user(&m, no, "no@example.com"));
	login(&m, model_add_user(&m, "uid=off,ou=people," BASE, "off@example.com"));
	model_set_disabled(&m, "uid=off,ou=people," BASE);
	/* Forbidden wins over every later problem. */
	s = entry(&m, no, "bad address@x");
	set(&m, s, RS_F_PORT, "0");
	entry(&m, "uid=off,ou=people," BASE, "off@partner.example");
	entry(&m, ok, "two@@partner.example");
	entry(&m, ok, "ok@Example.com");
	s = entry(&m, ok, "nogw@partner.example");
	model_set_field(&m, s, RS_F_HOST, "", 0, 0);
	set(&m, s, RS_F_PORT, "0");
	set(&m, entry(&m, ok, "host@partner.example"), RS_F_HOST, "a,b.example");
	s = entry(&m, ok, "loop@partner.example");
	set(&m, s, RS_F_HOST, "127.0.0.1");
	set(&m, s, RS_F_PORT, "0");
	set(&m, entry(&m, ok, "own@partner.example"), RS_F_HOST, "Relay.Corp.Example");
	set(&m, entry(&m, ok, "v6@partner.example"), RS_F_HOST, "fe80::1");
	set(&m, entry(&m, ok, "lh@partner.example"), RS_F_HOST, "mx.localhost");
	model_add_user(&m, "uid=nologin,ou=people," BASE, "n@example.com");
	model_add_login(&m, model_add_user(&m, "uid=badlogin,ou=people," BASE,
	    "b@example.com"), "a, b", 4);
	s = entry(&m, "uid=nologin,ou=people," BASE, "nologin@partner.example");
	set(&m, s, RS_F_PORT, "0");
	entry(&m, "uid=badlogin,ou=people," BASE, "badlogin@partner.example");
	s = entry(&m, ok, "port@partner.example");
	set(&m, s, RS_F_PORT, "99999");
	set(&m, s, RS_F_SECURITY, "bogus");
	set(&m, entry(&m, ok, "sec@partner.example"), RS_F_SECURITY, "ssl3");
	s = entry(&m, ok, "insecure@partner.example");
	set(&m, s, RS_F_SECURITY, "none");
	set(&m, s, RS_F_USERNAME, "a:b");
	set(&m, entry(&m, ok, "cred@partner.example"), RS_F_USERNAME, "a:b");
	s = entry(&m, ok, "nopw@partner.example");
	model_set_field(&m, s, RS_F_PASSWORD, "", 0, 0);
	set(&m, entry(&m, ok, "pwnl@partner.example"), RS_F_PASSWORD, "a\nb");
	set(&m, entry(&m, ok, "enc@partner.example"), RS_F_PASSWORD,
	    "{AES256-GCM}k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	policy_decide(&m, &cfg, &keys, &env, &d);
	assert_string_equal(reason_of(&d, "bad address@x"), "policy_forbidden");
	assert_string_equal(reason_of(&d, "nologin@partner.example"),
	    "no_login");
	assert_string_equal(reason_of(&d, "badlogin@partner.example"),
	    "no_login");
	assert_string_equal(reason_of(&d, "loop@partner.example"),
	    "internal_gateway");
	assert_string_equal(reason_of(&d, "own@partner.example"),
	    "internal_gateway");
	assert_string_equal(reason_of(&d, "v6@partner.example"),
	    "internal_gateway");
	assert_string_equal(reason_of(&d, "lh@partner.example"),
	    "internal_gateway");
	assert_string_equal(reason_of(&d, "off@partner.example"), "user_disabled");
	assert_string_equal(reason_of(&d, "two@@partner.example"), "bad_address");
	assert_string_equal(reason_of(&d, "ok@Example.com"), "internal_domain");
	assert_string_equal(reason_of(&d, "nogw@partner.example"), "no_gateway");
	assert_string_equal(reason_of(&d, "host@partner.example"), "bad_host");
	assert_string_equal(reason_of(&d, "port@partner.example"), "bad_port");
	assert_string_equal(reason_of(&d, "sec@partner.example"), "bad_security");
	assert_string_equal(reason_of(&d, "insecure@partner.example"),
	    "insecure_forbidden");
	assert_string_equal(reason_of(&d, "cred@partner.example"),
	    "bad_credentials");
	assert_string_equal(reason_of(&d, "nopw@partner.example"),
	    "bad_credentials");
	assert_string_equal(reason_of(&d, "pwnl@partner.example"),
	    "bad_credentials");
	assert_string_equal(reason_of(&d, "enc@partner.example"),
	    "secret_undecryptable");
	assert_int_equal(d.nroutes, 0);
	policy_free(&d);
	model_free(&m);
}

static void
test_routes_and_defaults(void **state)
{
	const char *u = "uid=u,ou=people," BASE;
	const struct rs_verdict *v;
	struct rs_model m;
	struct rs_decision d;
	struct rs_sendas *s;
	struct rs_err err;
	struct buf enc;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	login(&m, model_add_user(&m, u, "u@example.com"));
	s = entry(&m, u, "User.Name@Partner.Example");
	set(&m, s, RS_F_HOST, "SMTP.Partner.Example");
	s = entry(&m, u, "implicit@partner.example");
	set(&m, s, RS_F_SECURITY, "tls");
	s = entry(&m, u, "noauth@partner.example");
	model_set_field(&m, s, RS_F_USERNAME, "", 0, 0);
	model_set_field(&m, s, RS_F_PASSWORD, "", 0, 0);
	set(&m, s, RS_F_HOST, "2001:DB8::1");
	buf_init(&enc);
	assert_int_equal(secret_encrypt(&keys, "enc@partner.example", "s3cret pw", 9, &enc, &err), 0);
	s = entry(&m, u, "enc@partner.example");
	set(&m, s, RS_F_PASSWORD, enc.data);
	buf_free(&enc);
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_int_equal(d.nroutes, 4);
	v = verdict(&d, "User.Name@Partner.Example");
	assert_string_equal(v->route.address, "user.name@partner.example");
	assert_string_equal(v->route.host, "smtp.partner.example");
	assert_int_equal(v->route.port, 587);
	assert_int_equal(v->route.sec, RS_SEC_STARTTLS);
	v = verdict(&d, "implicit@partner.example");
	/* one copy of a host in the decision, whatever its case was */
	assert_ptr_equal(v->route.host,
	    verdict(&d, "User.Name@Partner.Example")->route.host);
	assert_int_equal(v->route.port, 465);
	assert_int_equal(v->route.sec, RS_SEC_SSL);
	v = verdict(&d, "noauth@partner.example");
	assert_null(v->route.username);
	assert_string_equal(v->route.host, "ipv6:2001:db8::1");
	v = verdict(&d, "enc@partner.example");
	assert_string_equal(v->route.password, "s3cret pw");
	assert_string_equal(d.routes[0]->route.address, "enc@partner.example");
	assert_string_equal(d.routes[3]->route.address,
	    "user.name@partner.example");
	policy_free(&d);
	model_free(&m);
}

static void
test_conflict(void **state)
{
	const char *a = "uid=a,ou=people," BASE, *b = "uid=b," BASE;
	struct rs_model m;
	struct rs_decision d;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	login(&m, model_add_user(&m, a, "a@example.com"));
	login(&m, model_add_user(&m, b, "b@example.com"));
	entry(&m, a, "Shared@Partner.example");
	entry(&m, a, "shared@partner.EXAMPLE");
	entry(&m, a, "both@partner.example");
	entry(&m, b, "BOTH@partner.example");
	entry(&m, a, "mine@partner.example");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_string_equal(reason_of(&d, "Shared@Partner.example"), "conflict");
	assert_string_equal(reason_of(&d, "shared@partner.EXAMPLE"), "conflict");
	/* b is forbidden, yet its claim still blocks a's: no first come. */
	assert_string_equal(reason_of(&d, "BOTH@partner.example"),
	    "policy_forbidden");
	assert_string_equal(reason_of(&d, "both@partner.example"), "conflict");
	assert_int_equal(d.nroutes, 1);
	assert_string_equal(d.routes[0]->route.address, "mine@partner.example");
	policy_free(&d);
	/* A single verified claim wins over unverified ones (any case). */
	set(&m, entry(&m, a, "owned@partner.example"), RS_F_VERIFIED, "TRUE");
	entry(&m, b, "Owned@Partner.Example");
	login(&m, model_add_user(&m, "uid=c,ou=people," BASE, "c@example.com"));
	entry(&m, "uid=c,ou=people," BASE, "OWNED@partner.example");
	/* Two verified claims: no claim wins. */
	set(&m, entry(&m, a, "twice@partner.example"), RS_F_VERIFIED, "TRUE");
	set(&m, entry(&m, "uid=c,ou=people," BASE, "Twice@partner.example"),
	    RS_F_VERIFIED, "TRUE");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_string_equal(reason_of(&d, "owned@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "OWNED@partner.example"), "conflict");
	assert_string_equal(reason_of(&d, "twice@partner.example"), "conflict");
	assert_string_equal(reason_of(&d, "Twice@partner.example"), "conflict");
	policy_free(&d);
	model_free(&m);
}

static void
test_owner_binding(void **state)
{
	const char *u = "uid=u,ou=people," BASE;
	const struct rs_verdict *v;
	struct rs_model m;
	struct rs_decision d;
	struct rs_user *user;
	struct rs_err err;
	struct buf enc;

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	user = model_add_user(&m, u, "u@example.com");
	model_add_login(&m, user, "alice", 5);
	model_add_login(&m, user, "bad login", 9);
	model_add_login(&m, user, "alice@example.com", 17);
	buf_init(&enc);
	assert_int_equal(secret_encrypt(&keys, "Frank@Partner.Example", "pw",
	    2, &enc, &err), 0);
	set(&m, entry(&m, u, "frank@partner.example"), RS_F_PASSWORD, enc.data);
	set(&m, entry(&m, u, "mallory@partner.example"), RS_F_PASSWORD, enc.data);
	buf_free(&enc);
	entry(&m, u, "encrypt@partner.example");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	v = verdict(&d, "frank@partner.example");
	assert_string_equal(reason_code(v->reason), "accepted");
	assert_string_equal(v->route.logins, "alice, alice@example.com");
	assert_string_equal(reason_of(&d, "mallory@partner.example"),
	    "secret_undecryptable");
	policy_free(&d);
	free(cfg.postfix.tls_level);
	cfg.postfix.tls_level = strdup("encrypt");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_string_equal(reason_of(&d, "encrypt@partner.example"),
	    "insecure_forbidden");
	policy_free(&d);
	free(cfg.postfix.tls_level);
	cfg.postfix.tls_level = strdup("secure");
	model_free(&m);
}

static void
test_verified_and_orphans(void **state)
{
	const char *u = "uid=u,ou=people," BASE;
	struct rs_model m;
	struct rs_decision d;

	(void)state;
	cfg.policy.require_verified = 1;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	login(&m, model_add_user(&m, u, "u@example.com"));
	set(&m, entry(&m, u, "yes@partner.example"), RS_F_VERIFIED, "TRUE");
	set(&m, entry(&m, u, "no@partner.example"), RS_F_VERIFIED, "FALSE");
	entry(&m, u, "unset@partner.example");
	entry(&m, "ou=people," BASE, "orphan@partner.example");
	policy_decide(&m, &cfg, &keys, NULL, &d);
	cfg.policy.require_verified = 0;
	assert_string_equal(reason_of(&d, "yes@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "no@partner.example"), "unverified");
	assert_string_equal(reason_of(&d, "unset@partner.example"), "unverified");
	assert_string_equal(reason_of(&d, "orphan@partner.example"),
	    "policy_forbidden");
	policy_free(&d);
	model_free(&m);
}

/*
 * Decide's fingerprint (one prepared key for the run) has the bytes of a
 * one-off HMAC of the documented input with the first key, and of
 * policy_fingerprint(): recorded gateway checks stay valid.
 */
static void
same_fingerprint(const struct rs_verdict *v)
{
	static const char in[] = "relaysync gateway-check\nchecked@partner."
	    "example\nsmtp.partner.example\n%d\n%d\nlogin\npw";
	char text[256], hex[65];

	snprintf(text, sizeof(text), in, v->route.port, (int)v->route.sec);
	hmac_sha256_hex(keys.keys[0].key, 32, text, strlen(text), hex);
	assert_string_equal(v->fingerprint, hex);
	policy_fingerprint(&keys, &v->route, hex);
	assert_string_equal(v->fingerprint, hex);
}

static void
test_gateway_check(void **state)
{
	const char *u = "uid=u,ou=people," BASE;
	struct rs_decision d;
	struct rs_model m;
	struct strmap ok;
	struct rs_policy_env env = { &ok, NULL, 0, 0 };
	struct rs_policy_env for_verify = { NULL, NULL, 0, 1 };

	(void)state;
	model_init(&m);
	model_add_policy(&m, "ou=people," BASE, RS_YES);
	login(&m, model_add_user(&m, u, "u@example.com"));
	entry(&m, u, "checked@partner.example");
	entry(&m, u, "stale@partner.example");
	entry(&m, u, "never@partner.example");
	policy_decide(&m, &cfg, &keys, NULL, &d);	/* not needed: none */
	assert_null(verdict(&d, "checked@partner.example")->fingerprint);
	policy_free(&d);
	policy_decide(&m, &cfg, &keys, &for_verify, &d);
	strmap_init(&ok);
	*strmap_slot(&ok, "checked@partner.example") = strdup(
	    verdict(&d, "checked@partner.example")->fingerprint);
	assert_int_equal(strlen(verdict(&d, "checked@partner.example")->
	    fingerprint), 64);
	*strmap_slot(&ok, "stale@partner.example") = strdup("0123abcd");
	same_fingerprint(verdict(&d, "checked@partner.example"));
	policy_free(&d);
	cfg.policy.require_gateway_check = 1;
	policy_decide(&m, &cfg, &keys, &env, &d);
	cfg.policy.require_gateway_check = 0;
	assert_string_equal(reason_of(&d, "checked@partner.example"), "accepted");
	assert_string_equal(reason_of(&d, "stale@partner.example"),
	    "gateway_check_failed");
	assert_string_equal(reason_of(&d, "never@partner.example"),
	    "gateway_check_failed");
	policy_free(&d);
	/* the fingerprint covers the password */
	set(&m, &m.sendas[0], RS_F_PASSWORD, "other");
	cfg.policy.require_gateway_check = 1;
	policy_decide(&m, &cfg, &keys, &env, &d);
	cfg.policy.require_gateway_check = 0;
	assert_string_equal(reason_of(&d, "checked@partner.example"),
	    "gateway_check_failed");
	policy_free(&d);
	strmap_free_values(&ok);
	model_free(&m);
}

/* Users with two send-as entries each, one in three under a forbidden
 * OU, every password encrypted for its address, and one address claimed
 * by the first and the last user: more entries than RS_DECIDE_SPLIT, so
 * the decision is made in two halves at once. */
#define HALVES_USERS	3000

static void
halves_model(struct rs_model *m)
{
	char owner[128], addr[128], pw[32];
	struct rs_sendas *sa;
	struct rs_err err;
	struct buf enc;
	int i, j;

	buf_init(&enc);
	model_add_policy(m, "ou=open," BASE, RS_YES);
	model_add_policy(m, "ou=closed," BASE, RS_NO);
	for (i = 0; i < HALVES_USERS; i++) {
		snprintf(owner, sizeof(owner), "uid=u%d,ou=%s," BASE, i,
		    i % 3 ? "open" : "closed");
		login(m, model_add_user(m, owner, "u@example.com"));
		for (j = 0; j < 2; j++) {
			snprintf(addr, sizeof(addr), i == HALVES_USERS - 1 &&
			    j == 1 ? "U1.0@P1.example" : "u%d.%d@p%d.example",
			    i, j, i % 50);
			snprintf(pw, sizeof(pw), "pw%d.%d", i, j);
			sa = entry(m, owner, addr);
			set(m, sa, RS_F_HOST, i % 2 ? "smtp.one.example" :
			    "smtp.two.example");
			buf_reset(&enc);
			assert_int_equal(secret_encrypt(&keys, addr, pw,
			    strlen(pw), &enc, &err), 0);
			set(m, sa, RS_F_PASSWORD, enc.data);
		}
	}
	buf_free(&enc);
}

static void
test_decide_halves(void **state)
{
	const struct rs_verdict *v;
	struct rs_model m;
	struct rs_decision d;
	char pw[32];
	int i, j, n = 0;

	(void)state;
	model_init(&m);
	halves_model(&m);
	policy_decide(&m, &cfg, &keys, NULL, &d);
	assert_int_equal(d.n, 2 * HALVES_USERS);
	for (i = 0; i < (int)d.n; i++) {
		v = &d.v[i];
		assert_int_equal(sscanf(v->sa->dn, "relaysyncSendAsAddress=%*[^,],"
		    "uid=u%d", &j), 1);
		if (strcasecmp(v->sa->f[RS_F_ADDRESS].val, "u1.0@p1.example")
		    == 0) {
			assert_int_equal(v->reason, RS_R_CONFLICT);
			continue;
		}
		if (j % 3 == 0) {
			assert_int_equal(v->reason, RS_R_POLICY_FORBIDDEN);
			continue;
		}
		assert_int_equal(v->reason, RS_R_NONE);
		snprintf(pw, sizeof(pw), "pw%d.%c", j,
		    v->sa->f[RS_F_ADDRESS].val[strcspn(v->sa->f[RS_F_ADDRESS]
		    .val, ".") + 1]);
		assert_string_equal(v->route.password, pw);
		assert_string_equal(v->route.host, j % 2 ? "smtp.one.example" :
		    "smtp.two.example");
		assert_string_equal(v->route.logins, "user1");
		n++;
	}
	assert_int_equal(n, 2 * (HALVES_USERS - HALVES_USERS / 3) - 2);
	assert_int_equal(d.nroutes, (size_t)n);
	for (i = 1; i < (int)d.n; i++)
		assert_true(strcasecmp(d.v[i - 1].sa->f[RS_F_ADDRESS].val,
		    d.v[i].sa->f[RS_F_ADDRESS].val) <= 0);
	policy_free(&d);
	model_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inheritance),
		cmocka_unit_test(test_user_policy),
		cmocka_unit_test(test_reason_order),
		cmocka_unit_test(test_routes_and_defaults),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_owner_binding),
		cmocka_unit_test(test_verified_and_orphans),
		cmocka_unit_test(test_gateway_check),
		cmocka_unit_test(test_decide_halves),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}

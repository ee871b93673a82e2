/* Unit tests: plan - the diff against installed tables and safety limits. */
#include "unit.h"
#include "plan.h"

static struct rs_config cfg;
static char dir[64];
static struct rs_sendas sa[4];
static struct rs_verdict v[4];
static const struct rs_verdict *r[4];
static struct rs_decision d;

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	struct rs_err err;
	char extra[512];

	(void)state;
	strcpy(dir, "/tmp/relaysync-plan.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(extra, sizeof(extra), "postfix:\n  map_dir: %s\n"
	    "  map_type: texthash\npolicy:\n  max_removals: 1\n", dir);
	return test_config(&cfg, extra, &err);
}

static int
teardown(void **state)
{
	const char *names[] = { "sender_relay", "sender_transport",
	    "sasl_passwd", "tls_policy", "sender_access", "sender_login",
	    "owners" };
	char path[256];
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	config_free(&cfg);
	return 0;
}

/* The installed set: alice (starttls), bob (ssl), carol, dave. */
static void
install_old(void)
{
	put("sender_relay", "alice@p.example [smtp.p.example]:587\n"
	    "carol@p.example [smtp.p.example]:587\n"
	    "dave@p.example [old.p.example]:587\n");
	put("sender_transport", "bob@p.example relaysync_smtps:[smtp.p.example]:465\n");
	put("sasl_passwd", "alice@p.example alice:old-pw\n"
	    "bob@p.example bob:pw\ncarol@p.example carol:pw\n");
	put("tls_policy", "[smtp.p.example]:587 secure\n");
	put("sender_access", "alice@p.example FILTER relaysync_smtp:"
	    "[smtp.p.example]:587\nbob@p.example FILTER relaysync_smtps:"
	    "[smtp.p.example]:465\ncarol@p.example FILTER relaysync_smtp:"
	    "[smtp.p.example]:587\ndave@p.example FILTER relaysync_smtp:"
	    "[old.p.example]:587\n");
	put("sender_login", "alice@p.example owner\nbob@p.example owner\n"
	    "carol@p.example owner\ndave@p.example owner\n");
	put("owners", "alice@p.example uid=alice,dc=example,dc=com\n"
	    "carol@p.example uid=carol,dc=example,dc=com\n");
}

static void
add(int i, const char *addr, const char *host, int port, enum rs_security s,
    const char *user, const char *pw, enum rs_reason reason)
{
	memset(&sa[i], 0, sizeof(sa[i]));
	sa[i].dn = "cn=x";
	sa[i].f[RS_F_ADDRESS].val = (char *)addr;
	sa[i].f[RS_F_ADDRESS].len = strlen(addr);
	sa[i].f[RS_F_ADDRESS].count = 1;
	memset(&v[i], 0, sizeof(v[i]));
	v[i].sa = &sa[i];
	v[i].owner_dn = "uid=new,dc=example,dc=com";
	v[i].reason = reason;
	v[i].detail = "because";
	v[i].route.address = (char *)addr;
	v[i].route.host = (char *)host;
	v[i].route.port = port;
	v[i].route.sec = s;
	v[i].route.username = (char *)user;
	v[i].route.password = (char *)pw;
	v[i].route.logins = "owner";
}

static void
decide(size_t n)
{
	size_t i;

	d.v = v;
	d.n = n;
	d.routes = r;
	d.nroutes = 0;
	for (i = 0; i < n; i++)
		if (v[i].reason == RS_R_NONE)
			r[d.nroutes++] = &v[i];
}

static const struct rs_change *
change(const struct rs_plan *p, const char *address)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->c[i].address, address) == 0)
			return &p->c[i];
	return NULL;
}

static void
test_diff(void **state)
{
	const struct rs_change *c;
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;

	(void)state;
	install_old();
	/* alice: new password; bob: unchanged; carol: policy now forbids;
	 * dave: deleted from the directory; erin: new. */
	add(0, "alice@p.example", "smtp.p.example", 587, RS_SEC_STARTTLS,
	    "alice", "new-pw", RS_R_NONE);
	add(1, "bob@p.example", "smtp.p.example", 465, RS_SEC_SSL, "bob", "pw",
	    RS_R_NONE);
	add(2, "carol@p.example", NULL, 0, 0, NULL, NULL,
	    RS_R_POLICY_FORBIDDEN);
	add(3, "erin@p.example", "smtp.p.example", 587, RS_SEC_STARTTLS, NULL,
	    NULL, RS_R_NONE);
	decide(4);
	render_tables(&d, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 1, &p,
	    &err), 0);
	assert_int_equal(p.old_routes, 4);
	assert_int_equal(p.new_routes, 3);
	assert_int_equal(p.added, 1);
	assert_int_equal(p.changed, 1);
	assert_int_equal(p.removed, 2);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.apply, 1);
	assert_int_equal(p.reload, 1);
	c = change(&p, "alice@p.example");
	assert_int_equal(c->kind, RS_C_CHANGED);
	assert_int_equal(c->credentials_changed, 1);
	assert_string_equal(c->old_gateway, "[smtp.p.example]:587 starttls");
	assert_string_equal(c->old_login, "alice");
	assert_null(change(&p, "bob@p.example"));
	c = change(&p, "carol@p.example");
	assert_int_equal(c->kind, RS_C_REMOVED);
	assert_int_equal(c->why->reason, RS_R_POLICY_FORBIDDEN);
	assert_string_equal(c->owner_dn, "uid=carol,dc=example,dc=com");
	c = change(&p, "dave@p.example");
	assert_int_equal(c->kind, RS_C_REMOVED);
	assert_null(c->why);
	assert_string_equal(c->old_gateway, "[old.p.example]:587 starttls");
	c = change(&p, "erin@p.example");
	assert_int_equal(c->kind, RS_C_ADDED);
	assert_string_equal(c->new_gateway, "[smtp.p.example]:587 starttls");
	assert_string_equal(p.c[0].address, "alice@p.example");
	assert_int_equal(p.refused, 0);
	plan_free(&p);
	render_free(&t);
}

/*
 * A route whose lines stay the same can still change: x and y shared a
 * next hop, which tls_policy secured for x's sake, so y's mail left with
 * TLS; x is gone, and the hop's level becomes y's own "none". Through
 * one next hop whose tls_policy line changed, and through five (the
 * second installed set also holds stale lines of four other hops).
 */
static void
install_shared_hop(int stale)
{
	char policy[512];
	int i;

	put("sender_relay", "x@p.example [h.p.example]:587\n"
	    "y@p.example [h.p.example]:587\n");
	put("sender_transport", "");
	put("sasl_passwd", "");
	snprintf(policy, sizeof(policy), "[h.p.example]:587 secure\n");
	for (i = 0; i < stale; i++)
		snprintf(policy + strlen(policy), sizeof(policy) -
		    strlen(policy), "[s%d.p.example]:25 secure\n", i);
	put("tls_policy", policy);
	put("sender_access", "x@p.example FILTER relaysync_smtp:"
	    "[h.p.example]:587\ny@p.example FILTER relaysync_smtp:"
	    "[h.p.example]:587\n");
	put("sender_login", "x@p.example owner\ny@p.example owner\n");
	put("owners", "x@p.example uid=new,dc=example,dc=com\n"
	    "y@p.example uid=new,dc=example,dc=com\n");
}

static void
test_hop_level(void **state)
{
	const struct rs_change *c;
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;
	int stale;

	(void)state;
	add(0, "y@p.example", "h.p.example", 587, RS_SEC_NONE, NULL, NULL,
	    RS_R_NONE);
	decide(1);
	render_tables(&d, "secure", &t);
	assert_string_equal(t.t[RS_T_TLS_POLICY].data,
	    "[h.p.example]:587 none\n");
	for (stale = 0; stale <= 4; stale += 4) {
		install_shared_hop(stale);
		assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t,
		    1, &p, &err), 0);
		c = change(&p, "y@p.example");
		assert_non_null(c);
		assert_int_equal(c->kind, RS_C_CHANGED);
		assert_string_equal(c->old_gateway,
		    "[h.p.example]:587 starttls");
		assert_string_equal(c->new_gateway, "[h.p.example]:587 none");
		assert_int_equal(change(&p, "x@p.example")->kind,
		    RS_C_REMOVED);
		assert_int_equal(p.n, 2);
		plan_free(&p);
	}
	render_free(&t);
}

/*
 * Tables of megabytes-like length (2,000 routes, longer than the blocks
 * plan compares at once) with three changes in the middle: only those
 * are reported, with what the installed lines said, whatever the lines
 * around them.
 */
#define LARGE 2000
static struct rs_sendas large_sa[LARGE];
static struct rs_verdict large_v[LARGE];
static const struct rs_verdict *large_r[LARGE];
static char large_addr[LARGE][32], large_host[LARGE][32];

static void
large_decision(struct rs_decision *ld, int changed)
{
	struct rs_verdict *lv;
	size_t i;

	memset(ld, 0, sizeof(*ld));
	for (i = 0; i < LARGE; i++) {
		snprintf(large_addr[i], sizeof(large_addr[i]), "u%04zu@p.example",
		    i);
		snprintf(large_host[i], sizeof(large_host[i]), "%s.p.example",
		    changed && i == 1000 ? "moved" : i % 7 ? "mx" : "smtp");
		memset(&large_sa[i], 0, sizeof(large_sa[i]));
		large_sa[i].dn = "cn=x";
		large_sa[i].f[RS_F_ADDRESS] = (struct rs_value){ large_addr[i],
		    strlen(large_addr[i]), 1 };
		lv = &large_v[i];
		memset(lv, 0, sizeof(*lv));
		lv->sa = &large_sa[i];
		lv->owner_dn = "uid=u,dc=example,dc=com";
		lv->detail = "";
		lv->reason = changed && i == 1500 ? RS_R_NO_GATEWAY : RS_R_NONE;
		lv->route.address = large_addr[i];
		lv->route.host = large_host[i];
		lv->route.port = 587;
		lv->route.sec = i % 3 ? RS_SEC_STARTTLS : RS_SEC_NONE;
		lv->route.username = i % 2 ? large_addr[i] : NULL;
		lv->route.password = i % 2 ? (changed && i == 201 ? "new" :
		    "old") : NULL;
		lv->route.logins = "u";
		if (lv->reason == RS_R_NONE)
			large_r[ld->nroutes++] = lv;
	}
	ld->v = large_v;
	ld->n = LARGE;
	ld->routes = large_r;
}

static void
test_large(void **state)
{
	const struct rs_change *c;
	struct rs_decision ld;
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;
	size_t i;

	(void)state;
	large_decision(&ld, 0);
	render_tables(&ld, "secure", &t);
	for (i = 0; i < RS_T_SET; i++)
		put(rs_table_info[i].name, t.t[i].data);
	assert_true(t.t[RS_T_SENDER_ACCESS].len > 2 * 4096);
	render_free(&t);
	large_decision(&ld, 1);
	render_tables(&ld, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &ld, &t, 1, &p,
	    &err), 0);
	assert_int_equal(p.old_routes, LARGE);
	assert_int_equal(p.new_routes, LARGE - 1);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.changed, 2);
	assert_int_equal(p.removed, 1);
	assert_int_equal(p.vanished, 0);
	c = change(&p, "u1000@p.example");
	assert_int_equal(c->kind, RS_C_CHANGED);
	assert_string_equal(c->old_gateway, "[mx.p.example]:587 starttls");
	assert_string_equal(c->new_gateway, "[moved.p.example]:587 starttls");
	c = change(&p, "u0201@p.example");
	assert_int_equal(c->credentials_changed, 1);
	assert_string_equal(c->old_login, "u0201@p.example");
	c = change(&p, "u1500@p.example");
	assert_int_equal(c->kind, RS_C_REMOVED);
	assert_int_equal(c->why->reason, RS_R_NO_GATEWAY);
	assert_string_equal(c->old_gateway, "[mx.p.example]:587 starttls");
	plan_free(&p);
	render_free(&t);
}

static void
test_limits(void **state)
{
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;

	(void)state;
	install_old();
	add(0, "alice@p.example", "smtp.p.example", 587, RS_SEC_STARTTLS,
	    "alice", "old-pw", RS_R_NONE);
	add(1, "bob@p.example", "smtp.p.example", 465, RS_SEC_SSL, "bob", "pw",
	    RS_R_NONE);
	decide(2);
	render_tables(&d, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.removed, 2);
	assert_int_equal(p.refused, 1);
	assert_int_equal(p.vanished, 2);
	assert_non_null(strstr(p.refusal, "refusing to remove 2 routes whose "
	    "entries vanished from the directory (more than "
	    "policy.max_removals = 1)"));
	assert_non_null(strstr(p.refusal, "--force"));
	plan_free(&p);
	/* As many as policy.max_removals: allowed. */
	cfg.policy.max_removals = 2;
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.vanished, 2);
	assert_int_equal(p.refused, 0);
	cfg.policy.max_removals = 1;
	plan_free(&p);
	render_free(&t);

	/* Revocations (a decision removed them) are never held back, even
	 * when they empty the set. */
	add(0, "alice@p.example", NULL, 0, 0, NULL, NULL, RS_R_USER_DISABLED);
	add(1, "bob@p.example", NULL, 0, 0, NULL, NULL, RS_R_NO_LOGIN);
	add(2, "carol@p.example", NULL, 0, 0, NULL, NULL,
	    RS_R_POLICY_FORBIDDEN);
	add(3, "dave@p.example", NULL, 0, 0, NULL, NULL, RS_R_INTERNAL_GATEWAY);
	decide(4);
	render_tables(&d, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.removed, 4);
	assert_int_equal(p.vanished, 0);
	assert_int_equal(p.refused, 0);
	plan_free(&p);
	render_free(&t);

	cfg.policy.max_removals = 100;
	decide(0);
	render_tables(&d, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.refused, 1);
	assert_non_null(strstr(p.refusal, "refusing to remove all 4 routes"));
	plan_free(&p);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 1, &p,
	    &err), 0);
	assert_int_equal(p.refused, 0);
	assert_int_equal(p.removed, 4);
	plan_free(&p);
	render_free(&t);
	cfg.policy.max_removals = 1;
}

static void
test_no_change_and_first_run(void **state)
{
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;

	(void)state;
	add(0, "alice@p.example", "smtp.p.example", 587, RS_SEC_STARTTLS,
	    "alice", "pw", RS_R_NONE);
	decide(1);
	render_tables(&d, "secure", &t);
	put("sender_relay", t.t[RS_T_SENDER_RELAY].data);
	put("sender_transport", "");
	put("sasl_passwd", t.t[RS_T_SASL_PASSWD].data);
	put("tls_policy", t.t[RS_T_TLS_POLICY].data);
	put("sender_access", t.t[RS_T_SENDER_ACCESS].data);
	put("sender_login", t.t[RS_T_SENDER_LOGIN].data);
	put("owners", t.t[RS_T_OWNERS].data);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.apply, 0);
	assert_int_equal(p.reload, 0);
	plan_free(&p);
	/* Only the owner changed: write the metadata, do not reload. */
	put("owners", "alice@p.example uid=old,dc=example,dc=com\n");
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.apply, 1);
	assert_int_equal(p.reload, 0);
	plan_free(&p);
	teardown(NULL);
	assert_int_equal(setup(NULL), 0);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.installed, 0);
	assert_int_equal(p.apply, 1);
	assert_int_equal(p.added, 1);
	plan_free(&p);
	render_free(&t);
}

/* A first run adds every route: the plan lists none of them (at 100,000
 * users it would hold 115,000 changes until the report) and plan_next()
 * makes each, in the decision's order, which is the address order; an
 * owner DN is shown printable. A plan that lists its changes is walked
 * as it lists them. */
static void
test_first_run_walk(void **state)
{
	const struct rs_change *c;
	struct rs_change_walk w;
	struct rs_tables t;
	struct rs_plan p;
	struct rs_err err;

	(void)state;
	add(0, "alice@p.example", "smtp.p.example", 587, RS_SEC_STARTTLS,
	    "alice", "pw", RS_R_NONE);
	add(1, "bob@p.example", NULL, 0, 0, NULL, NULL, RS_R_POLICY_FORBIDDEN);
	add(2, "carol@q.example", "smtp.q.example", 465, RS_SEC_SSL,
	    NULL, NULL, RS_R_NONE);
	v[2].owner_dn = "uid=c\nx,dc=example,dc=com";
	decide(3);
	render_tables(&d, "secure", &t);
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 0, &p,
	    &err), 0);
	assert_int_equal(p.added, 2);
	assert_int_equal(p.all_added, 1);
	assert_int_equal(p.n, 0);
	plan_walk_init(&w, &p, &d);
	assert_non_null(c = plan_next(&w));
	assert_int_equal(c->kind, RS_C_ADDED);
	assert_string_equal(c->address, "alice@p.example");
	assert_string_equal(c->new_gateway, "[smtp.p.example]:587 starttls");
	assert_string_equal(c->new_login, "alice");
	assert_string_equal(c->new_logins, "owner");
	assert_string_equal(c->owner_dn, "uid=new,dc=example,dc=com");
	assert_null(c->old_gateway);
	assert_non_null(c = plan_next(&w));
	assert_string_equal(c->address, "carol@q.example");
	assert_string_equal(c->new_gateway, "[smtp.q.example]:465 ssl");
	assert_null(c->new_login);
	assert_string_equal(c->owner_dn, "uid=c\\x0ax,dc=example,dc=com");
	assert_null(plan_next(&w));
	plan_walk_free(&w);
	plan_free(&p);
	install_old();
	assert_int_equal(plan_build(&cfg, &installer_postfix, &d, &t, 1, &p,
	    &err), 0);
	assert_int_equal(p.all_added, 0);
	plan_walk_init(&w, &p, &d);
	assert_ptr_equal(plan_next(&w), &p.c[0]);
	assert_ptr_equal(plan_next(&w), &p.c[1]);
	plan_walk_free(&w);
	plan_free(&p);
	render_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_hop_level),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_change_and_first_run),
		cmocka_unit_test(test_first_run_walk),
	};

	return cmocka_run_group_tests_name("plan", tests, setup, teardown);
}

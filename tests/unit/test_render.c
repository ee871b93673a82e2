/* Unit tests: render - the bytes of the six tables. */
#include "unit.h"
#include "render.h"

static struct rs_sendas sa[8];

static void
route(struct rs_verdict *v, int i, const char *addr, const char *host,
    int port, enum rs_security sec, const char *user, const char *pw)
{
	memset(v, 0, sizeof(*v));
	v->sa = &sa[i];
	v->owner_dn = "uid=owner,dc=example,dc=com";
	v->route.address = (char *)addr;
	v->route.host = (char *)host;
	v->route.port = port;
	v->route.sec = sec;
	v->route.username = (char *)user;
	v->route.password = (char *)pw;
	v->route.logins = "owner";
}

static void
decision(struct rs_decision *d, struct rs_verdict *v, size_t n,
    const struct rs_verdict **r)
{
	size_t i;

	d->v = v;
	d->n = d->nroutes = n;
	d->routes = r;
	for (i = 0; i < n; i++)
		r[i] = &v[i];
}

static void
test_tables(void **state)
{
	struct rs_verdict v[5];
	const struct rs_verdict *r[5];
	struct rs_decision d;
	struct rs_tables t;

	(void)state;
	route(&v[0], 0, "alice@partner.example", "smtp.partner.example", 587,
	    RS_SEC_STARTTLS, "alice@partner.example", "pw:with:colons");
	route(&v[1], 1, "bob@partner.example", "smtp.partner.example", 587,
	    RS_SEC_STARTTLS, "bob", "b pw");
	route(&v[2], 2, "carol@smtps.example", "smtp.smtps.example", 465,
	    RS_SEC_SSL, "carol", "c");
	route(&v[3], 3, "dave@plain.example", "mx.plain.example", 25,
	    RS_SEC_NONE, NULL, NULL);
	route(&v[4], 4, "erin@v6.example", "ipv6:2001:db8::1", 587,
	    RS_SEC_STARTTLS, NULL, NULL);
	decision(&d, v, 5, r);
	render_tables(&d, "secure", &t);
	assert_string_equal(t.t[RS_T_SENDER_RELAY].data,
	    "alice@partner.example [smtp.partner.example]:587\n"
	    "bob@partner.example [smtp.partner.example]:587\n"
	    "dave@plain.example [mx.plain.example]:25\n"
	    "erin@v6.example [ipv6:2001:db8::1]:587\n");
	assert_string_equal(t.t[RS_T_SENDER_TRANSPORT].data,
	    "carol@smtps.example relaysync_smtps:[smtp.smtps.example]:465\n");
	assert_string_equal(t.t[RS_T_SASL_PASSWD].data,
	    "alice@partner.example alice@partner.example:pw:with:colons\n"
	    "bob@partner.example bob:b pw\n"
	    "carol@smtps.example carol:c\n");
	assert_string_equal(t.t[RS_T_TLS_POLICY].data,
	    "[ipv6:2001:db8::1]:587 secure\n"
	    "[mx.plain.example]:25 none\n"
	    "[smtp.partner.example]:587 secure\n"
	    "[smtp.smtps.example]:465 secure\n");
	assert_string_equal(t.t[RS_T_SENDER_ACCESS].data,
	    "alice@partner.example FILTER relaysync_smtp:"
	    "[smtp.partner.example]:587\n"
	    "bob@partner.example FILTER relaysync_smtp:[smtp.partner.example]:587\n"
	    "carol@smtps.example FILTER relaysync_smtps:[smtp.smtps.example]:465\n"
	    "dave@plain.example FILTER relaysync_smtp:[mx.plain.example]:25\n"
	    "erin@v6.example FILTER relaysync_smtp:[ipv6:2001:db8::1]:587\n");
	assert_string_equal(t.t[RS_T_SENDER_LOGIN].data,
	    "alice@partner.example owner\n"
	    "bob@partner.example owner\n"
	    "carol@smtps.example owner\n"
	    "dave@plain.example owner\n"
	    "erin@v6.example owner\n");
	assert_string_equal(t.t[RS_T_OWNERS].data,
	    "alice@partner.example uid=owner,dc=example,dc=com\n"
	    "bob@partner.example uid=owner,dc=example,dc=com\n"
	    "carol@smtps.example uid=owner,dc=example,dc=com\n"
	    "dave@plain.example uid=owner,dc=example,dc=com\n"
	    "erin@v6.example uid=owner,dc=example,dc=com\n");
	t.t[RS_T_SASL_PASSWD].data[0] = 'A';	/* wiped on free, not shared */
	render_free(&t);
	assert_string_equal(v[0].route.password, "pw:with:colons");
}

static void
test_shared_gateway_and_levels(void **state)
{
	struct rs_verdict v[3];
	const struct rs_verdict *r[3];
	struct rs_decision d;
	struct rs_tables t;

	(void)state;
	/* An insecure route sharing a TLS route's gateway gets TLS. */
	route(&v[0], 0, "a@p.example", "mx.p.example", 25, RS_SEC_NONE,
	    NULL, NULL);
	route(&v[1], 1, "b@p.example", "mx.p.example", 25, RS_SEC_STARTTLS,
	    "b", "pw");
	route(&v[2], 2, "c@p.example", "mx.p.example", 25, RS_SEC_NONE, NULL,
	    NULL);
	decision(&d, v, 3, r);
	render_tables(&d, "verify", &t);
	assert_string_equal(t.t[RS_T_TLS_POLICY].data,
	    "[mx.p.example]:25 verify\n");
	render_free(&t);
}

/* Many routes (the tables are sized ahead after the first ones), lines
 * of growing length, each next hop once in tls_policy. */
#define MANY 1000
static void
test_many(void **state)
{
	static struct rs_verdict v[MANY];
	static const struct rs_verdict *r[MANY];
	static char addr[MANY][80], host[MANY][80];
	struct buf relay, tls;
	struct rs_decision d;
	struct rs_tables t;
	size_t i;

	(void)state;
	buf_init(&relay);
	buf_init(&tls);
	for (i = 0; i < MANY; i++) {
		snprintf(addr[i], sizeof(addr[i]), "u%04zu%.*s@p.example", i,
		    (int)(i / 20), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		snprintf(host[i], sizeof(host[i]), "mx%zu.p.example", i % 10);
		route(&v[i], 0, addr[i], host[i], 25, i % 2 ? RS_SEC_NONE :
		    RS_SEC_STARTTLS, NULL, NULL);
		buf_printf(&relay, "%s [%s]:25\n", addr[i], host[i]);
	}
	for (i = 0; i < 10; i++)
		buf_printf(&tls, "[mx%zu.p.example]:25 %s\n", i,
		    i % 2 ? "none" : "secure");
	decision(&d, v, MANY, r);
	render_tables(&d, "secure", &t);
	assert_string_equal(t.t[RS_T_SENDER_RELAY].data, relay.data);
	assert_string_equal(t.t[RS_T_TLS_POLICY].data, tls.data);
	render_free(&t);
	buf_free(&relay);
	buf_free(&tls);
}

static void
test_empty(void **state)
{
	struct rs_decision d;
	struct rs_tables t;
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	render_tables(&d, "secure", &t);
	for (i = 0; i < RS_T_SET; i++) {
		assert_non_null(t.t[i].data);
		assert_string_equal(t.t[i].data, "");
	}
	render_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_shared_gateway_and_levels),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}

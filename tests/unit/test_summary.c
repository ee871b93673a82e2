/* Unit tests: summary - what a no-op incremental run reports from. */
#include "unit.h"
#include "summary.h"

/* A decision of one route and two rejections, one of them an address
 * with a newline and a NUL in it, comes back from its summary as the
 * report sees it; an edited summary or rejections file does not. */
static void
test_summary_round_trip(void **state)
{
	struct rs_sendas sa[3];
	struct rs_verdict v[3];
	struct rs_decision d = { v, 3, NULL, 1, { NULL, 0 }, { NULL, 0 } },
	    back;
	const struct rs_verdict *routes[1] = { &v[0] };
	struct rs_summary s, got;
	struct rs_err err;
	struct rs_stream out;
	struct buf rejected, text;

	(void)state;
	memset(sa, 0, sizeof(sa));
	memset(v, 0, sizeof(v));
	d.routes = routes;
	sa[1].f[RS_F_ADDRESS] = (struct rs_value){ "a\nb\0c", 5, 2 };
	sa[1].dn = "cn=one,dc=example,dc=com";
	sa[2].dn = "cn=two,dc=example,dc=com";
	v[0].sa = &sa[0];
	v[0].route.sec = RS_SEC_SSL;
	v[1] = (struct rs_verdict){ .sa = &sa[1], .owner_dn = "uid=o",
	    .reason = RS_R_UNVERIFIED, .detail = "not verified" };
	v[2] = (struct rs_verdict){ .sa = &sa[2], .owner_dn = "uid=p",
	    .reason = RS_R_USER_DISABLED, .detail = "disabled" };
	summary_init(&s);
	summary_init(&got);
	buf_init(&rejected);
	buf_init(&text);
	strcpy(s.source, "ab");
	strcpy(s.inputs, "cd");
	s.generation = 4;
	s.routes = 1;
	buf_add(&s.cookie, "rid=000\n", 8);
	buf_adds(&s.files, "file sender_relay 1 2 3 4.0 5.0\n");
	stream_init(&out, NULL, NULL);	/* kept whole: no drain */
	assert_int_equal(summary_rejections(&d, &out, s.rejected), 0);
	buf_add(&rejected, out.b.data, out.b.len);
	buf_free(&out.b);
	summary_dump(&s, &text);
	assert_int_equal(summary_parse(&text, &got, &err), 0);
	assert_string_equal(got.source, "ab");
	assert_string_equal(got.present, "-");
	assert_int_equal(got.cookie.len, 8);
	assert_string_equal(buf_str(&got.files), buf_str(&s.files));
	assert_int_equal(summary_decision(&got, &rejected, &back), 0);
	assert_int_equal(back.n, 3);
	assert_int_equal(back.nroutes, 1);
	assert_int_equal(back.routes[0]->route.sec, RS_SEC_SSL);
	assert_int_equal(back.v[0].reason, RS_R_UNVERIFIED);
	assert_int_equal(back.v[0].sa->f[RS_F_ADDRESS].len, 5);
	assert_int_equal(back.v[0].sa->f[RS_F_ADDRESS].count, 2);
	assert_memory_equal(back.v[0].sa->f[RS_F_ADDRESS].val, "a\nb\0c", 5);
	assert_string_equal(back.v[1].sa->dn, "cn=two,dc=example,dc=com");
	assert_string_equal(back.v[1].owner_dn, "uid=p");
	assert_string_equal(back.v[1].detail, "disabled");
	assert_int_equal(back.v[2].reason, RS_R_NONE);
	summary_decision_free(&back);
	rejected.data[3] ^= 1;
	assert_int_equal(summary_decision(&got, &rejected, &back), -1);
	text.data[text.len / 2] ^= 1;
	assert_int_equal(summary_parse(&text, &got, &err), -1);
	summary_free(&s);
	summary_free(&got);
	buf_free(&rejected);
	buf_free(&text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: table - the line format of each table, written and read. */
#include "unit.h"
#include "table.h"

/* Expect the parts of line: hop and secret NULL when not given. */
static void
expect(enum rs_table t, const char *line, const char *key, const char *value,
    const char *hop, const char *secret)
{
	struct rs_line l;

	assert_int_equal(table_get(t, line, &l), 0);
	assert_int_equal(l.key_len, strlen(key));
	assert_memory_equal(l.key, key, l.key_len);
	assert_int_equal(l.value_len, strlen(value));
	assert_memory_equal(l.value, value, l.value_len);
	if (hop == NULL)
		assert_null(l.hop);
	else {
		assert_int_equal(l.hop_len, strlen(hop));
		assert_memory_equal(l.hop, hop, l.hop_len);
	}
	if (secret == NULL)
		assert_null(l.secret);
	else {
		assert_int_equal(l.secret_len, strlen(secret));
		assert_memory_equal(l.secret, secret, l.secret_len);
	}
}

/* Each form as render writes it, and read back. */
static void
test_forms(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	table_put(&b, RS_T_SENDER_RELAY, "a@p.example", NULL, "[h.p]:587",
	    NULL);
	table_put(&b, RS_T_SENDER_TRANSPORT, "b@p.example", RS_SMTPS_TRANSPORT,
	    "[ipv6:2001:db8::1]:465", NULL);
	table_put(&b, RS_T_SENDER_ACCESS, "c@p.example", RS_SMTP_TRANSPORT,
	    "[h.p]:587", NULL);
	table_put(&b, RS_T_SASL_PASSWD, "d@p.example", "d", NULL, "pw:x y");
	table_put(&b, RS_T_TLS_POLICY, "[h.p]:587", "secure", NULL, NULL);
	table_put(&b, RS_T_SENDER_LOGIN, "e@p.example", "u1, u2", NULL, NULL);
	assert_string_equal(buf_str(&b),
	    "a@p.example [h.p]:587\n"
	    "b@p.example relaysync_smtps:[ipv6:2001:db8::1]:465\n"
	    "c@p.example FILTER relaysync_smtp:[h.p]:587\n"
	    "d@p.example d:pw:x y\n"
	    "[h.p]:587 secure\n"
	    "e@p.example u1, u2\n");
	expect(RS_T_SENDER_RELAY, "a@p.example [h.p]:587\n", "a@p.example", "",
	    "[h.p]:587", NULL);
	expect(RS_T_SENDER_TRANSPORT, "b@p.example relaysync_smtps:"
	    "[ipv6:2001:db8::1]:465", "b@p.example", "relaysync_smtps",
	    "[ipv6:2001:db8::1]:465", NULL);
	expect(RS_T_SENDER_ACCESS, "c@p.example FILTER relaysync_smtp:"
	    "[h.p]:587\n", "c@p.example", "relaysync_smtp", "[h.p]:587", NULL);
	expect(RS_T_SASL_PASSWD, "d@p.example d:pw:x y\n", "d@p.example", "d",
	    NULL, "pw:x y");
	expect(RS_T_SASL_PASSWD, "d@p.example d\n", "d@p.example", "d", NULL,
	    NULL);
	expect(RS_T_TLS_POLICY, "[h.p]:587 secure\n", "[h.p]:587", "secure",
	    "[h.p]:587", NULL);
	expect(RS_T_OWNERS, "e@p.example uid=e,dc=p\n", "e@p.example",
	    "uid=e,dc=p", NULL, NULL);
	buf_free(&b);
}

/* Lines that are not of their table's form are refused and skipped. */
static void
test_refused(void **state)
{
	const char *text = "# comment\nnospace\n\tx y\n"
	    "a@p.example [h]:587\nb@p.example h:587\nc@p.example [h]:1";
	const char *cur = text;
	struct rs_line l;

	(void)state;
	assert_int_equal(table_get(RS_T_SENDER_RELAY, "a [h]587", &l), -1);
	assert_int_equal(table_get(RS_T_SENDER_RELAY, "a\t[h]:587", &l), -1);
	assert_int_equal(table_get(RS_T_SENDER_TRANSPORT, "a [h]:587", &l),
	    -1);
	assert_int_equal(table_get(RS_T_SENDER_ACCESS,
	    "a relaysync_smtp:[h]:587", &l), -1);
	assert_int_equal(table_get(RS_T_TLS_POLICY, "h:587 secure", &l), -1);
	assert_int_equal(table_next(RS_T_SENDER_RELAY, &cur, &l), 1);
	assert_memory_equal(l.key, "a@p.example", l.key_len);
	assert_int_equal(table_next(RS_T_SENDER_RELAY, &cur, &l), 1);
	assert_memory_equal(l.key, "c@p.example", l.key_len);
	assert_int_equal(table_next(RS_T_SENDER_RELAY, &cur, &l), 0);
}

static void
test_masked(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	table_masked(&b, RS_T_SASL_PASSWD, "a@p.example a@p.example:pw:x\nb");
	assert_string_equal(b.data, "a@p.example a@p.example:********");
	buf_reset(&b);
	table_masked(&b, RS_T_SASL_PASSWD, "a@p.example\tu:pw");
	assert_string_equal(b.data, "a@p.example\tu:********");
	buf_reset(&b);
	table_masked(&b, RS_T_SENDER_RELAY, "a@p.example [h]:587\n");
	assert_string_equal(b.data, "a@p.example [h]:587");
	buf_reset(&b);
	table_masked(&b, RS_T_SASL_PASSWD, "a@p.example nocolon");
	assert_string_equal(b.data, "a@p.example nocolon");
	buf_free(&b);
}

/* The descriptors: which tables are private, Postfix's, gateways. */
static void
test_info(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < RS_T_SET; i++) {
		assert_int_equal(rs_table_info[i].mode, i == RS_T_SASL_PASSWD ?
		    0600 : 0640);
		assert_int_equal(rs_table_info[i].postfix, i != RS_T_OWNERS);
		assert_int_equal(rs_table_info[i].gateway,
		    i == RS_T_SENDER_RELAY || i == RS_T_SENDER_TRANSPORT);
	}
	assert_string_equal(rs_table_info[RS_T_OWNERS].name, "owners");
	assert_string_equal(rs_table_info[RS_T_SENDER_TRANSPORT].security,
	    "ssl");
}

struct seen {
	char text[256];
};

static void
on_diff(void *arg, const char *old, const char *new)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%c%.*s;", old && new ? '~' :
	    old ? '-' : '+', (int)table_key_len(old ? old : new),
	    old ? old : new);
}

/* table_diff() of two whole strings. */
static int
diff(const char *old, const char *new, table_diff_fn fn, void *arg)
{
	return table_diff(old, strlen(old), new, strlen(new), fn, arg);
}

static void
test_diff(void **state)
{
	struct seen s = { "" };
	size_t n;

	(void)state;
	assert_int_equal(diff("a 1\nb 2\nc 3\n", "b 2\nc 4\nd 5\n",
	    on_diff, &s), 0);
	assert_string_equal(s.text, "-a;~c;+d;");
	assert_string_equal(table_result("k  \t FILTER x:[h]:1\nn", &n),
	    "FILTER x:[h]:1\nn");
	assert_int_equal(n, strlen("FILTER x:[h]:1"));
	assert_int_equal(diff("b 1\na 1\n", "", on_diff, &s), -1);
}

/* Lines the two texts share are passed over whole, yet still checked for
 * order, on either side; a last line without its newline is the same
 * line as with it. */
static void
test_diff_shared(void **state)
{
	struct seen s = { "" };

	(void)state;
	assert_int_equal(diff("a 1\nb 2\nc 3\nd 4\n",
	    "a 1\nb 2\nc 9\nd 4\ne 5", on_diff, &s), 0);
	assert_string_equal(s.text, "~c;+e;");
	*s.text = '\0';
	assert_int_equal(diff("a 1\nb 2", "a 1\nb 2\n", on_diff, &s),
	    0);
	assert_int_equal(diff("a 1\nb 2\n", "a 1\nb 3", on_diff, &s),
	    0);
	assert_string_equal(s.text, "~b;");
	assert_int_equal(diff("b 1\na 1\n", "b 1\na 1\n", on_diff,
	    &s), -1);
	assert_int_equal(diff("a 1\nc 1\nb 1\n", "a 2\nc 1\nb 1\n",
	    on_diff, &s), -1);
	assert_int_equal(diff("a 2\nc 1\n", "a 1\nb 1\nc 1\na 3\n",
	    on_diff, &s), -1);
	assert_int_equal(diff("a 1\nb 1\nc 1\na 3\n", "a 2\nc 1\n",
	    on_diff, &s), -1);
}

/* Only the given bytes of each text are compared, though more lines
 * follow them (plan hands over the middles of whole tables): a line of
 * one side is never matched with a line after the other side's end; a
 * NUL byte inside a text does not stop the walk. */
static void
test_diff_bounded(void **state)
{
	struct seen s = { "" };
	const char *old = "a 1\nc 3\n", *new = "a 1\nc 3\n";
	const char nul[] = "\0x\na 1\nc 3\n";

	(void)state;
	assert_int_equal(table_diff(old, 8, new, 4, on_diff, &s), 0);
	assert_string_equal(s.text, "-c;");
	*s.text = '\0';
	assert_int_equal(table_diff(old, 4, new, 8, on_diff, &s), 0);
	assert_string_equal(s.text, "+c;");
	*s.text = '\0';
	assert_int_equal(table_diff(old, 4, new, 4, on_diff, &s), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(table_diff(nul, sizeof(nul) - 1, old, 4, on_diff,
	    &s), 0);
	assert_string_equal(s.text, "-;-c;");
}

/* Lines found by key in a sorted text: first, last, keys that are
 * prefixes of others, absent keys, a last line without its newline. */
static void
test_find(void **state)
{
	static const char text[] = "a@x 1\na@xy 2\nb@x 3\nc@x 4\nd@x 5";
	static const char *keys[] = { "a@x", "a@xy", "b@x", "c@x", "d@x" };
	const char *l;
	size_t i, len = strlen(text);

	(void)state;
	for (i = 0; i < 5; i++) {
		l = table_find(text, len, keys[i]);
		assert_non_null(l);
		assert_int_equal(table_key_len(l), strlen(keys[i]));
		assert_int_equal(strncmp(l, keys[i], strlen(keys[i])), 0);
	}
	assert_null(table_find(text, len, "a@"));
	assert_null(table_find(text, len, "a@xz"));
	assert_null(table_find(text, len, "0@x"));
	assert_null(table_find(text, len, "e@x"));
	assert_null(table_find(text, 0, "a@x"));
	assert_null(table_find(text, 12, "b@x"));	/* beyond len */
	assert_true(table_ascends_at(text, len, 6));	/* a@x, a@xy */
	assert_true(table_ascends_at(text, len, 0));
	assert_true(table_ascends_at(text, len, len));
	assert_false(table_ascends_at("b@x 1\na@x 2\n", 12, 6));
	assert_false(table_ascends_at("a@x 1\na@x 2\n", 12, 6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_masked),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_shared),
		cmocka_unit_test(test_diff_bounded),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}

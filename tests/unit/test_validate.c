/* Unit tests: validate - every directory value that can reach a table. */
#include "unit.h"
#include "validate.h"

#define S(x) x, sizeof(x) - 1

static void
test_addresses(void **state)
{
	const char *why = NULL;
	char longlocal[80], longaddr[300];

	(void)state;
	assert_int_equal(valid_address(S("user.name@partner.example"), &why), 0);
	assert_int_equal(valid_address(S("a+tag@x.example"), &why), 0);
	assert_int_equal(valid_address(S("user"), &why), -1);
	assert_string_equal(why, "the address has no '@'");
	assert_int_equal(valid_address(S("a@b@c.example"), &why), -1);
	assert_string_equal(why, "the address has more than one '@'");
	assert_int_equal(valid_address(S("a b@c.example"), &why), -1);
	assert_int_equal(valid_address(S("ab@c.example\nevil@x y"), &why), -1);
	assert_int_equal(valid_address(S("a\tb@c.example"), &why), -1);
	assert_int_equal(valid_address(S("a,b@c.example"), &why), -1);
	assert_int_equal(valid_address(S("\"a b\"@c.example"), &why), -1);
	assert_int_equal(valid_address(S(".a@c.example"), &why), -1);
	assert_int_equal(valid_address(S("a..b@c.example"), &why), -1);
	assert_int_equal(valid_address(S("a@c..example"), &why), -1);
	assert_int_equal(valid_address(S("a@c.example."), &why), -1);
	assert_int_equal(valid_address(S("a@-c.example"), &why), -1);
	assert_int_equal(valid_address(S("a@[192.0.2.1]"), &why), -1);
	assert_int_equal(valid_address("a\0b@c.example", 13, &why), -1);
	assert_string_equal(why, "the address contains a NUL byte");
	assert_int_equal(valid_address(S("@c.example"), &why), -1);
	assert_int_equal(valid_address(S("a@"), &why), -1);
	assert_int_equal(valid_address(S("j\xc3\xbcrgen@c.example"), &why), -1);
	memset(longlocal, 'a', 65);
	strcpy(longlocal + 65, "@c.example");
	assert_int_equal(valid_address(longlocal, strlen(longlocal), &why), -1);
	memset(longaddr, 'b', 260);
	memcpy(longaddr, "a@", 2);
	longaddr[260] = '\0';
	assert_int_equal(valid_address(longaddr, 260, &why), -1);
	assert_string_equal(why, "the address is longer than 254 bytes");
}

static void
test_hosts(void **state)
{
	char label[80], name[300];
	const char *why;
	int v6, i;

	(void)state;
	assert_int_equal(valid_host(S("smtp.partner.example"), &v6, &why), 0);
	assert_int_equal(v6, 0);
	assert_int_equal(valid_host(S("localhost"), &v6, &why), 0);
	assert_int_equal(valid_host(S("192.0.2.10"), &v6, &why), 0);
	assert_int_equal(valid_host(S("2001:db8::1"), &v6, &why), 0);
	assert_int_equal(v6, 1);
	assert_int_equal(valid_host(S("2001:db8::zz"), &v6, &why), -1);
	assert_int_equal(valid_host(S("smtp,evil.example"), &v6, &why), -1);
	assert_int_equal(valid_host(S("smtp.example\nx@y z"), &v6, &why), -1);
	assert_int_equal(valid_host(S("smtp\t.example"), &v6, &why), -1);
	assert_int_equal(valid_host(S("smtp_1.example"), &v6, &why), -1);
	assert_int_equal(valid_host(S("[smtp.example]"), &v6, &why), -1);
	assert_int_equal(valid_host(S("smtp.example:25"), &v6, &why), -1);
	assert_int_equal(valid_host(S(""), &v6, &why), -1);
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(valid_host(label, 64, &v6, &why), -1);
	assert_string_equal(why, "a domain label is longer than 63 bytes");
	assert_int_equal(valid_host(label, 63, &v6, &why), 0);
	for (i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	assert_int_equal(valid_host(name, 253, &v6, &why), 0);
	assert_int_equal(valid_host(name, 254, &v6, &why), -1);
}

static void
test_ports(void **state)
{
	const char *why;
	int port = 0;

	(void)state;
	assert_int_equal(parse_port(S("587"), &port, &why), 0);
	assert_int_equal(port, 587);
	assert_int_equal(parse_port(S("1"), &port, &why), 0);
	assert_int_equal(parse_port(S("65535"), &port, &why), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(parse_port(S("0"), &port, &why), -1);
	assert_int_equal(parse_port(S("65536"), &port, &why), -1);
	assert_int_equal(parse_port(S("99999"), &port, &why), -1);
	assert_int_equal(parse_port(S("-1"), &port, &why), -1);
	assert_int_equal(parse_port(S("25a"), &port, &why), -1);
	assert_int_equal(parse_port(S(""), &port, &why), -1);
	assert_int_equal(parse_port(S("000587"), &port, &why), -1);
}

static void
test_security(void **state)
{
	enum rs_security s;
	const char *why;

	(void)state;
	assert_int_equal(parse_security(S("starttls"), &s, &why), 0);
	assert_int_equal(s, RS_SEC_STARTTLS);
	assert_int_equal(parse_security(S("SSL"), &s, &why), 0);
	assert_int_equal(s, RS_SEC_SSL);
	assert_int_equal(parse_security(S("tls"), &s, &why), 0);
	assert_int_equal(s, RS_SEC_SSL);
	assert_int_equal(parse_security(S("none"), &s, &why), 0);
	assert_int_equal(s, RS_SEC_NONE);
	assert_int_equal(parse_security(S("ssl3"), &s, &why), -1);
	assert_int_equal(parse_security(S("starttls "), &s, &why), -1);
	assert_int_equal(parse_security(S(""), &s, &why), -1);
	assert_string_equal(security_name(RS_SEC_SSL), "ssl");
}

static void
test_credentials(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(valid_username(S("user.name@partner.example"), &why), 0);
	assert_int_equal(valid_username(S("user:name"), &why), -1);
	assert_int_equal(valid_username(S("user name"), &why), -1);
	assert_int_equal(valid_username(S("user\nname"), &why), -1);
	assert_int_equal(valid_username(S(""), &why), -1);
	assert_int_equal(valid_password(S("p@ss:w0rd with space"), &why), 0);
	assert_int_equal(valid_password(S("pw\nevil@x y:z"), &why), -1);
	assert_int_equal(valid_password(S("pw\tx"), &why), -1);
	assert_int_equal(valid_password("pw\0x", 4, &why), -1);
	assert_int_equal(valid_password(S(" leading"), &why), -1);
	assert_int_equal(valid_password(S("trailing "), &why), -1);
	assert_int_equal(valid_password(S("del\x7f"), &why), -1);
	assert_int_equal(valid_password(S(""), &why), -1);
}

static void
test_bool_and_domains(void **state)
{
	char *domains[] = { "example.com", "corp.example" };
	int b = -1;

	(void)state;
	assert_int_equal(parse_ldap_bool(S("TRUE"), &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(parse_ldap_bool(S("false"), &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(parse_ldap_bool(S("yes"), &b), -1);
	assert_int_equal(domain_is_internal("example.com", domains, 2), 1);
	assert_int_equal(domain_is_internal("EXAMPLE.com", domains, 2), 1);
	assert_int_equal(domain_is_internal("mail.example.com", domains, 2), 1);
	assert_int_equal(domain_is_internal("notexample.com", domains, 2), 0);
	assert_int_equal(domain_is_internal("example.com.evil", domains, 2), 0);
	assert_int_equal(domain_is_internal("partner.example", domains, 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_bool_and_domains),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}

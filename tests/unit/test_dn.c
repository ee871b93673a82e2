/* Unit tests: dn - the comparison form, parents, "within" and RDN names. */
#include <ldap.h>

#include "unit.h"
#include "dn.h"

#define BASE "dc=example,dc=com"

/* The fast path for plain DNs gives what libldap gives. */
static void
test_dn_norm(void **state)
{
	const char *dns[] = { "UID=Bob,OU=Sales,DC=Example,DC=Com",
	    "relaysyncSendAsAddress=Bob.X@Partner.example,uid=bob," BASE,
	    "cn=a_b-c," BASE, "uid=a,ou=x\\2Cy," BASE, "uid=a, ou=b," BASE,
	    "cn=A+sn=B," BASE };
	char *ours, *ldap = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
		ours = dn_norm(dns[i]);
		assert_int_equal(ldap_dn_normalize(dns[i], LDAP_DN_FORMAT_LDAP,
		    &ldap, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS);
		str_lower(ldap);
		assert_string_equal(ours, ldap);
		ldap_memfree(ldap);
		free(ours);
	}
	ours = dn_norm("uid=a, ou=b," BASE);
	assert_string_equal(ours, "uid=a,ou=b," BASE);
	free(ours);
	ours = dn_norm("not a DN, ((");	/* kept as given, lower case */
	assert_string_equal(ours, "not a dn, ((");
	free(ours);
}

static void
test_dn_parent_within(void **state)
{
	const char *dn = "cn=a\\,b,ou=x," BASE;

	(void)state;
	assert_string_equal(dn_parent(dn), "ou=x," BASE);
	assert_string_equal(dn_parent(dn_parent(dn)), BASE);
	assert_string_equal(dn_parent(BASE), "dc=com");
	assert_null(dn_parent("dc=com"));
	assert_null(dn_parent("cn=trailing\\"));
	assert_int_equal(dn_within(dn, BASE), 1);
	assert_int_equal(dn_within(dn, dn), 1);
	assert_int_equal(dn_within(dn, "ou=x"), 0);	/* not a suffix RDN */
	assert_int_equal(dn_within(BASE, "ou=x," BASE), 0);
	assert_int_equal(dn_within("cn=b,dc=example,dc=org", BASE), 0);
	assert_int_equal(dn_within(dn, "b,ou=x," BASE), 0);	/* escaped */
}

static void
test_dn_rdn_names(void **state)
{
	(void)state;
	assert_int_equal(dn_rdn_names("relaysyncVerified=TRUE,uid=a," BASE,
	    "relaysyncverified"), 1);
	assert_int_equal(dn_rdn_names("cn=x+relaysyncVerified=TRUE,uid=a,"
	    BASE, "relaysyncVerified"), 1);
	assert_int_equal(dn_rdn_names("cn=relaysyncVerified\\+x=1,uid=a,"
	    BASE, "x"), 0);
	assert_int_equal(dn_rdn_names("cn=x,relaysyncVerified=TRUE," BASE,
	    "relaysyncVerified"), 0);	/* not the entry's own RDN */
	assert_int_equal(dn_rdn_names("cnx=1," BASE, "cn"), 0);
	/* escaped separators belong to the value; a last lone backslash
	 * ends it */
	assert_int_equal(dn_rdn_names("cn=a\\,x=1+y=2," BASE, "x"), 0);
	assert_int_equal(dn_rdn_names("cn=a\\,x=1+y=2," BASE, "y"), 1);
	assert_int_equal(dn_rdn_names("cn=a\\\\+x=1," BASE, "x"), 1);
	assert_int_equal(dn_rdn_names("cn=a\\", "x"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dn_norm),
		cmocka_unit_test(test_dn_parent_within),
		cmocka_unit_test(test_dn_rdn_names),
	};

	return cmocka_run_group_tests_name("dn", tests, NULL, NULL);
}

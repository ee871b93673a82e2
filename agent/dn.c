/*
 * dn - distinguished names as relaysync compares them.
 * See dn.h for the contract.
 */
#include <ldap.h>
#include <string.h>
#include <strings.h>

#include "dn.h"
#include "util.h"

/* Is a DN already in LDAPv3 string form, whatever its case: no escapes,
 * quotes, spaces, multi-valued RDNs or other specials? */
static int
plain_dn(const char *dn)
{
	const unsigned char *p;

	for (p = (const unsigned char *)dn; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '=' || *p == ',' ||
		    *p == '.' || *p == '@' || *p == '-' || *p == '_'))
			return 0;
	return *dn != '\0' && strchr(dn, '=') != NULL;
}

char *
dn_norm(const char *dn)
{
	char *out = NULL, *r;

	if (plain_dn(dn)) {
		r = xstrdup(dn);
		str_lower(r);
		return r;
	}
	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAP, &out,
	    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || out == NULL)
		r = xstrdup(dn);
	else {
		r = xstrdup(out);
		ldap_memfree(out);
	}
	str_lower(r);
	return r;
}

const char *
dn_parent(const char *ndn)
{
	const char *p;

	for (p = ndn; *p; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == ',')
			return p + 1;
	}
	return NULL;
}

int
dn_within(const char *ndn, const char *root)
{
	const char *p;

	for (p = ndn; p != NULL; p = dn_parent(p))
		if (strcmp(p, root) == 0)
			return 1;
	return 0;
}

int
dn_rdn_names(const char *dn, const char *attr)
{
	size_t n = strlen(attr);
	const char *p = dn;

	while (*p && *p != ',') {
		if (strncasecmp(p, attr, n) == 0 && p[n] == '=')
			return 1;
		for (p += strcspn(p, ",+\\"); *p == '\\';
		    p += strcspn(p, ",+\\"))
			p += p[1] ? 2 : 1;	/* an escaped byte */
		if (*p == '+')
			p++;
	}
	return 0;
}

/*
 * dn - distinguished names as relaysync compares them.
 *
 * Every DN relaysync compares (entries, owners, policy containers,
 * ldap.base_dn, naming contexts) is first put in one comparison form by
 * dn_norm(); the other functions work on that form with plain string
 * operations, so a caller needs no libldap. The functions take
 * NUL-terminated strings and keep no state.
 *
 * Functions
 *	dn_norm(dn) returns a newly allocated copy of dn in comparison form:
 *	libldap's LDAPv3 string form (spacing and escapes made canonical),
 *	then ASCII lower case, since the attribute values in the DNs
 *	relaysync walks (dc, ou, cn, uid, mail) compare case-insensitively.
 *	A DN that is already plain (letters, digits, '=', ',', '.', '@', '-',
 *	'_', and at least one '=') is only lower-cased; a DN libldap cannot
 *	parse is kept as given, lower-cased. The caller frees the result.
 *	dn_parent(ndn) points into the normalized DN ndn at its parent (the
 *	text after the first unescaped comma), or returns NULL at the top.
 *	Walking dn_parent() from any string ends: each step moves forward.
 *	dn_within(ndn, root) is 1 when the normalized DN ndn is root or below
 *	it, else 0.
 *	dn_rdn_names(dn, attr) is 1 when the first RDN of dn (any of its
 *	AVAs joined by '+') is a value of attribute attr (any case), else 0.
 *
 * Diagnostics
 *	None: an unparsable DN still gets a comparison form (itself).
 */
#ifndef RS_DN_H
#define RS_DN_H

char *dn_norm(const char *dn);
const char *dn_parent(const char *ndn);
int dn_within(const char *ndn, const char *root);
int dn_rdn_names(const char *dn, const char *attr);

#endif

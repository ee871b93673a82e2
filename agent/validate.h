/*
 * validate - checks for single values taken from the directory.
 *
 * Every value from the directory is hostile. These functions accept a
 * value only when it can be written into a Postfix table line without
 * changing that line's meaning; they never escape or truncate. Each takes
 * the raw bytes and their length (a NUL inside a value is a rejection).
 *
 * Functions
 *	valid_address() - RFC 5321 mailbox: dot-atom local part of at most 64
 *	bytes, exactly one '@', a DNS domain, at most 254 bytes in all; no
 *	quoted local parts, address literals, white space or control bytes.
 *	valid_host() - a DNS name (labels of letters, digits and hyphens, 1 to
 *	63 bytes, at most 253 in all) or an IPv4 or IPv6 literal; sets
 *	*is_ipv6 for the latter.
 *	parse_port() - decimal 1 to 65535.
 *	parse_security() - starttls, ssl (or its synonym tls), none; any case.
 *	valid_username() - 1 to 256 bytes, no colon, white space or control.
 *	valid_login() - a SASL login name for sender_login: 1 to 256 bytes, no
 *	comma, white space or control byte (Postfix splits the value there).
 *	host_is_internal() - a validated host (lower case, "ipv6:" prefix for
 *	IPv6) that is loopback, private, link-local, shared (100.64/10),
 *	unspecified or multicast, or localhost (or a name below .localhost).
 *	valid_password() - 1 to 512 bytes, no control bytes (newline, NUL,
 *	tab, DEL) and no leading or trailing space (Postfix would strip it).
 *	parse_ldap_bool() - TRUE or FALSE (LDAP Boolean syntax, any case).
 *	domain_is_internal() - the domain or a parent of it is in the list.
 *
 * Diagnostics
 *	Each validator returns 0 or -1; on -1, *why (when not NULL) is set to
 *	a static sentence that describes the problem without quoting the value.
 */
#ifndef RS_VALIDATE_H
#define RS_VALIDATE_H

#include <stddef.h>

enum rs_security { RS_SEC_STARTTLS, RS_SEC_SSL, RS_SEC_NONE };

int valid_address(const char *s, size_t n, const char **why);
int valid_host(const char *s, size_t n, int *is_ipv6, const char **why);
int parse_port(const char *s, size_t n, int *port, const char **why);
int parse_security(const char *s, size_t n, enum rs_security *sec,
    const char **why);
int valid_username(const char *s, size_t n, const char **why);
int valid_password(const char *s, size_t n, const char **why);
int valid_login(const char *login, size_t len, const char **why);
int host_is_internal(const char *host);
int parse_ldap_bool(const char *s, size_t n, int *out);
int domain_is_internal(const char *domain, char *const *list, size_t n);
const char *security_name(enum rs_security sec);

#endif

/*
 * validate - checks for single values taken from the directory.
 * See validate.h for the contract.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "validate.h"

#define FAIL(w)	do { if (why) *why = (w); return -1; } while (0)

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext: the characters of a dot-atom besides the dots. */
static int
is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int
has_nul(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static int
valid_dns_name(const char *s, size_t n, const char **why)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		FAIL("the domain name is empty or longer than 253 bytes");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				FAIL("the domain name has an empty label or "
				    "a label ending in a hyphen");
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			FAIL("the domain name has a character other than "
			    "letters, digits, hyphens and dots");
		if (label == 0 && c == '-')
			FAIL("a domain label starts with a hyphen");
		if (++label > 63)
			FAIL("a domain label is longer than 63 bytes");
	}
	if (label == 0 || s[n - 1] == '-')
		FAIL("the domain name ends with a dot or a hyphen");
	return 0;
}

static int
valid_local_part(const char *s, size_t n, const char **why)
{
	size_t i;

	if (n == 0 || n > 64)
		FAIL("the local part is empty or longer than 64 bytes");
	if (s[0] == '.' || s[n - 1] == '.')
		FAIL("the local part starts or ends with a dot");
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				FAIL("the local part has two dots in a row");
			continue;
		}
		if (!is_atext((unsigned char)s[i]))
			FAIL("the local part has a character that is not "
			    "allowed (white space, control, quote, comma, "
			    "or non-ASCII)");
	}
	return 0;
}

int
valid_address(const char *s, size_t n, const char **why)
{
	const char *at;

	if (n == 0)
		FAIL("the address is empty");
	if (n > 254)
		FAIL("the address is longer than 254 bytes");
	if (has_nul(s, n))
		FAIL("the address contains a NUL byte");
	if ((at = memchr(s, '@', n)) == NULL)
		FAIL("the address has no '@'");
	if (memchr(at + 1, '@', n - (size_t)(at - s) - 1) != NULL)
		FAIL("the address has more than one '@'");
	if (valid_local_part(s, (size_t)(at - s), why) < 0)
		return -1;
	return valid_dns_name(at + 1, n - (size_t)(at - s) - 1, why);
}

int
valid_host(const char *s, size_t n, int *is_ipv6, const char **why)
{
	unsigned char addr[16];
	char tmp[64];

	*is_ipv6 = 0;
	if (n == 0)
		FAIL("the host is empty");
	if (has_nul(s, n))
		FAIL("the host contains a NUL byte");
	if (n < sizeof(tmp) && memchr(s, ':', n)) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			FAIL("the host looks like an IPv6 address but is not "
			    "one");
		*is_ipv6 = 1;
		return 0;
	}
	return valid_dns_name(s, n, why);
}

int
parse_port(const char *s, size_t n, int *port, const char **why)
{
	size_t i;
	long v = 0;

	if (n == 0 || n > 5)
		FAIL("the port is not a number from 1 to 65535");
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			FAIL("the port is not a number from 1 to 65535");
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		FAIL("the port is not a number from 1 to 65535");
	*port = (int)v;
	return 0;
}

int
parse_security(const char *s, size_t n, enum rs_security *sec,
    const char **why)
{
	static const struct {
		const char *name;
		enum rs_security sec;
	} names[] = {
		{ "starttls", RS_SEC_STARTTLS }, { "ssl", RS_SEC_SSL },
		{ "tls", RS_SEC_SSL }, { "none", RS_SEC_NONE }
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == n &&
		    strncasecmp(s, names[i].name, n) == 0) {
			*sec = names[i].sec;
			return 0;
		}
	}
	FAIL("the security mode is not starttls, ssl, tls or none");
}

const char *
security_name(enum rs_security sec)
{
	switch (sec) {
	case RS_SEC_SSL:
		return "ssl";
	case RS_SEC_NONE:
		return "none";
	default:
		return "starttls";
	}
}

/* 1 to 256 bytes, none of them white space, control or sep: -1, or 0. */
static int
plain_token(const char *s, size_t n, char sep)
{
	size_t i;

	if (n == 0 || n > 256)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == sep)
			return -1;
	return 0;
}

int
valid_username(const char *s, size_t n, const char **why)
{
	if (plain_token(s, n, ':') < 0)
		FAIL("the username is empty, longer than 256 bytes, or contains "
		    "a colon, white space or a control character");
	return 0;
}

int
valid_password(const char *s, size_t n, const char **why)
{
	size_t i;

	if (n == 0 || n > 512)
		FAIL("the password is empty or longer than 512 bytes");
	if (s[0] == ' ' || s[n - 1] == ' ')
		FAIL("the password starts or ends with a space, which Postfix "
		    "would strip");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			FAIL("the password contains a control character "
			    "(newline, tab, NUL or similar)");
	}
	return 0;
}

int
parse_ldap_bool(const char *s, size_t n, int *out)
{
	if (n == 4 && strncasecmp(s, "TRUE", 4) == 0)
		return *out = 1, 0;
	if (n == 5 && strncasecmp(s, "FALSE", 5) == 0)
		return *out = 0, 0;
	return -1;
}

int
domain_is_internal(const char *domain, char *const *list, size_t n)
{
	size_t i, dl = strlen(domain), il;

	for (i = 0; i < n; i++) {
		il = strlen(list[i]);
		if (dl == il && strcasecmp(domain, list[i]) == 0)
			return 1;
		if (dl > il && domain[dl - il - 1] == '.' &&
		    strcasecmp(domain + dl - il, list[i]) == 0)
			return 1;
	}
	return 0;
}

int
valid_login(const char *s, size_t n, const char **why)
{
	if (plain_token(s, n, ',') < 0)
		FAIL("the login name is empty, longer than 256 bytes, or "
		    "contains a comma, white space or a control character");
	return 0;
}

static int
v4_internal(const unsigned char *a)
{
	return a[0] == 0 || a[0] == 10 || a[0] == 127 ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* 100.64/10 */
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) || a[0] >= 224;
}

static int
v6_internal(const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	static const unsigned char zero[15] = { 0 };

	if (memcmp(a, mapped, 12) == 0)
		return v4_internal(a + 12);
	return (memcmp(a, zero, 15) == 0 && a[15] <= 1) ||	/* :: and ::1 */
	    (a[0] & 0xfe) == 0xfc ||				/* fc00::/7 */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||		/* fe80::/10 */
	    a[0] == 0xff;					/* multicast */
}

int
host_is_internal(const char *host)
{
	unsigned char a[16];
	size_t n = strlen(host);

	if (strncasecmp(host, "ipv6:", 5) == 0)
		return inet_pton(AF_INET6, host + 5, a) == 1 && v6_internal(a);
	if (inet_pton(AF_INET, host, a) == 1)
		return v4_internal(a);
	return strcasecmp(host, "localhost") == 0 ||
	    (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0) ||
	    strncasecmp(host, "localhost.", 10) == 0;
}

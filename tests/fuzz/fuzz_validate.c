/*
 * libFuzzer target: the validators. The first byte picks one; the rest is
 * the value. Besides crashes, it checks the contract: an accepted value
 * never holds a byte that would change the meaning of a table line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

static int
has_any(const char *s, size_t n, const char *bad)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
		    strchr(bad, s[i]) != NULL)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1, *why;
	size_t n = size ? size - 1 : 0;
	enum rs_security sec;
	int v6, port, b;

	if (size == 0)
		return 0;
	switch (data[0] % 7) {
	case 0:
		if (valid_address(s, n, &why) == 0 &&
		    (n > 254 || has_any(s, n, " ,:\"") ||
		    memchr(s, '@', n) != memrchr(s, '@', n)))
			abort();
		break;
	case 1:
		if (valid_host(s, n, &v6, &why) == 0 &&
		    (has_any(s, n, " ,[]") || (!v6 && memchr(s, ':', n))))
			abort();
		break;
	case 2:
		if (parse_port(s, n, &port, &why) == 0 &&
		    (port < 1 || port > 65535))
			abort();
		break;
	case 3:
		(void)parse_security(s, n, &sec, &why);
		break;
	case 4:
		if (valid_username(s, n, &why) == 0 && has_any(s, n, " :"))
			abort();
		break;
	case 5:
		if (valid_password(s, n, &why) == 0 &&
		    (has_any(s, n, "") || s[0] == ' ' || s[n - 1] == ' '))
			abort();
		break;
	default:
		(void)parse_ldap_bool(s, n, &b);
		break;
	}
	return 0;
}

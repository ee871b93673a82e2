/*
 * libFuzzer target: the dn module on arbitrary bytes. Normalization must
 * be stable, the parent walk must end with each parent a suffix of its
 * child that the child is within, and the RDN test must not read past the
 * string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dn.h"
#include "util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *dn = xstrndup((const char *)data, size), *n, *n2;
	const char *p, *prev;
	size_t steps = 0;

	n = dn_norm(dn);
	for (prev = n, p = dn_parent(n); p != NULL; prev = p, p = dn_parent(p)) {
		if (p <= prev || p > n + strlen(n) || ++steps > size + 1 ||
		    !dn_within(n, p))
			abort();
	}
	n2 = dn_norm(n);
	if (strcmp(n, n2) != 0 && strcmp(dn, n) != 0)
		abort();
	(void)dn_rdn_names(dn, "cn");
	free(n2);
	free(n);
	free(dn);
	return 0;
}

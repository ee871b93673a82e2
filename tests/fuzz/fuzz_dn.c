/*
 * libFuzzer target: DN normalization and the parent walk that policy
 * inheritance uses. The walk must end, each parent must be a suffix of its
 * child, and normalization must be stable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *dn = xstrndup((const char *)data, size), *n, *n2;
	const char *p, *prev;
	size_t steps = 0;

	n = dn_norm(dn);
	for (prev = n, p = dn_parent(n); p != NULL; prev = p, p = dn_parent(p)) {
		if (p <= prev || p > n + strlen(n) || ++steps > size + 1)
			abort();
	}
	n2 = dn_norm(n);
	if (strcmp(n, n2) != 0 && strcmp(dn, n) != 0)
		abort();
	free(n2);
	free(n);
	free(dn);
	return 0;
}

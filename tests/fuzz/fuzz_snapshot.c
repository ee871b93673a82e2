/*
 * libFuzzer target: reading snapshots. Damaged input must be refused,
 * never crash; entries that parse must dump back to bytes that parse to
 * the same dump (model_dump and model_parse keep every byte).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

static void
round_trip(const uint8_t *data, size_t size)
{
	struct rs_model m, again;
	struct buf a, b;

	model_init(&m);
	model_init(&again);
	buf_init(&a);
	buf_init(&b);
	if (model_parse((const char *)data, size, &m) == 0) {
		model_dump(&m, &a);
		if (model_parse(a.data ? a.data : "", a.len, &again) < 0)
			abort();
		model_dump(&again, &b);
		if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len)))
			abort();
	}
	model_free(&m);
	model_free(&again);
	buf_free(&a);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rs_snapshot s;
	struct rs_model m;
	struct rs_err err;
	struct buf in;

	round_trip(data, size);
	buf_init(&in);
	buf_add(&in, data, size);
	buf_str(&in);
	snapshot_init(&s);
	model_init(&m);
	(void)snapshot_parse(&in, &s, &m, &err);
	snapshot_free(&s);
	model_free(&m);
	buf_free(&in);
	return 0;
}

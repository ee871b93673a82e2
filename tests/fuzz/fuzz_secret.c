/*
 * libFuzzer target: opening {AES256-GCM} envelopes from the directory, and
 * parsing key files. Tampered input must be refused, never crash; a value
 * that decrypts must round-trip through secret_encrypt.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ADDR "user.name@partner.example"
#include <unistd.h>

#include "secret.h"

static struct rs_keyring ring;

static void
init(void)
{
	static struct rs_key k;

	strcpy(k.id, "k1");
	memset(k.key, 0x42, sizeof(k.key));
	ring.keys = &k;
	ring.n = ring.cap = 1;
}

static void
fuzz_keyfile(const uint8_t *data, size_t size)
{
	char path[64];
	struct rs_keyring r;
	struct rs_err err;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/relaysync-fuzzkey-%d", (int)getpid());
	if ((fp = fopen(path, "w")) == NULL)
		return;
	fwrite(data, 1, size, fp);
	fclose(fp);
	chmod(path, 0600);
	if (keyring_load(path, 0, &r, &err) == 0)
		keyring_free(&r);
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in, out, again;
	struct rs_err err;
	const char *why;

	if (ring.n == 0)
		init();
	if (size > 0 && data[0] == '#') {
		fuzz_keyfile(data, size);
		return 0;
	}
	buf_init(&in);
	buf_init(&out);
	buf_init(&again);
	buf_adds(&in, RS_SECRET_PREFIX "k1:");
	buf_add(&in, data, size);
	if (secret_decrypt(&ring, ADDR, in.data, in.len, &out, &why) == 0) {
		if (secret_encrypt(&ring, ADDR, out.data, out.len, &again, &err) < 0)
			abort();
		buf_reset(&in);
		if (secret_decrypt(&ring, ADDR, again.data, again.len, &in, &why) < 0
		    || in.len != out.len || memcmp(in.data, out.data, out.len))
			abort();
	}
	buf_free(&in);
	buf_free(&out);
	buf_free(&again);
	return 0;
}

/* Unit tests: secret - AES-256-GCM envelopes, key rings, private files. */
#include <sys/stat.h>

#include "unit.h"
#include "secret.h"

#define ADDR "user.name@partner.example"

#define K1 "k1 0101010101010101010101010101010101010101010101010101010101010101\n"
#define K2 "k2 0202020202020202020202020202020202020202020202020202020202020202\n"

static char *
key_file(const char *text, mode_t mode)
{
	char *path = write_tmp(text);

	chmod(path, mode);
	return path;
}

static void
load(struct rs_keyring *r, const char *text)
{
	struct rs_err err;
	char *path = key_file(text, 0600);

	assert_int_equal(keyring_load(path, 0, r, &err), 0);
	unlink(path);
	free(path);
}

static void
test_round_trip(void **state)
{
	struct rs_keyring r;
	struct buf enc, dec;
	struct rs_err err;
	const char *why;

	(void)state;
	load(&r, "# comment\n\n" K1);
	assert_int_equal(r.n, 1);
	buf_init(&enc);
	buf_init(&dec);
	assert_int_equal(secret_encrypt(&r, ADDR, "gateway pw", 10, &enc, &err), 0);
	assert_true(strncmp(enc.data, "{AES256-GCM}k1:", 15) == 0);
	assert_null(strstr(enc.data, "gateway"));
	assert_true(secret_is_encrypted(enc.data, enc.len));
	assert_false(secret_is_encrypted("plain", 5));
	assert_int_equal(secret_decrypt(&r, ADDR, enc.data, enc.len, &dec, &why), 0);
	assert_int_equal(dec.len, 10);
	assert_string_equal(dec.data, "gateway pw");
	buf_free(&enc);
	assert_int_equal(secret_encrypt(&r, ADDR, "gateway pw", 10, &enc, &err), 0);
	assert_int_equal(secret_decrypt(&r, ADDR, enc.data, enc.len, &dec, &why), 0);
	buf_wipe(&enc);
	buf_wipe(&dec);
	keyring_free(&r);
}

/* Values of two keys and two addresses, opened in turn, with failures in
 * between: each opens with its own key and address only, whatever was
 * opened before (the cipher contexts are kept between values). */
static void
test_interleaved(void **state)
{
	static const char *addr[2] = { ADDR, "other@partner.example" };
	struct rs_keyring r, first;
	struct buf enc[4], dec;
	struct rs_err err;
	const char *why;
	char plain[32];
	int i, round;

	(void)state;
	load(&first, K2);
	load(&r, K1 K2);
	buf_init(&dec);
	for (i = 0; i < 4; i++) {
		buf_init(&enc[i]);
		snprintf(plain, sizeof(plain), "password %d", i);
		assert_int_equal(secret_encrypt(i < 2 ? &r : &first, addr[i % 2],
		    plain, strlen(plain), &enc[i], &err), 0);
	}
	for (round = 0; round < 2; round++)
		for (i = 0; i < 4; i++) {
			snprintf(plain, sizeof(plain), "password %d", i);
			assert_int_equal(secret_decrypt(&r, addr[i % 2],
			    enc[i].data, enc[i].len, &dec, &why), 0);
			assert_string_equal(dec.data, plain);
			assert_int_equal(secret_decrypt(&r, addr[(i + 1) % 2],
			    enc[i].data, enc[i].len, &dec, &why), -1);
		}
	assert_int_equal(secret_decrypt(&first, addr[0], enc[0].data,
	    enc[0].len, &dec, &why), -1);
	assert_int_equal(secret_decrypt(&first, addr[0], enc[2].data,
	    enc[2].len, &dec, &why), 0);
	assert_string_equal(dec.data, "password 2");
	for (i = 0; i < 4; i++)
		buf_wipe(&enc[i]);
	buf_wipe(&dec);
	keyring_free(&r);
	keyring_free(&first);
}

static void
test_failures(void **state)
{
	struct rs_keyring r1, r2;
	struct buf enc, dec;
	struct rs_err err;
	const char *why = NULL;
	char *p;

	(void)state;
	load(&r1, K1);
	load(&r2, "k1 0303030303030303030303030303030303030303030303030303030303030303\n");
	buf_init(&enc);
	buf_init(&dec);
	assert_int_equal(secret_encrypt(&r1, ADDR, "pw", 2, &enc, &err), 0);
	/* wrong key with the same id */
	assert_int_equal(secret_decrypt(&r2, ADDR, enc.data, enc.len, &dec, &why), -1);
	assert_non_null(strstr(why, "does not authenticate"));
	/* tampered ciphertext */
	p = strchr(enc.data, ':') + 20;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(secret_decrypt(&r1, ADDR, enc.data, enc.len, &dec, &why), -1);
	assert_non_null(strstr(why, "does not authenticate"));
	/* the key id is authenticated: relabelled values fail */
	buf_free(&enc);
	keyring_free(&r2);
	load(&r2, K2);
	assert_int_equal(secret_encrypt(&r2, ADDR, "pw", 2, &enc, &err), 0);
	enc.data[13] = '1';
	memcpy(r2.keys[0].id, "k1", 3);
	assert_int_equal(secret_decrypt(&r2, ADDR, enc.data, enc.len, &dec, &why), -1);
	/* unknown key id, no id, bad base64 */
	assert_int_equal(secret_decrypt(&r1, ADDR, "{AES256-GCM}k9:AAAA", 19, &dec,
	    &why), -1);
	assert_non_null(strstr(why, "not in secrets.key_file"));
	assert_int_equal(secret_decrypt(&r1, ADDR, "{AES256-GCM}AAAA", 16, &dec,
	    &why), -1);
	assert_int_equal(secret_decrypt(&r1, ADDR, "{AES256-GCM}k1:A*AA", 19, &dec,
	    &why), -1);
	assert_int_equal(secret_decrypt(&r1, ADDR, "{AES256-GCM}k1:AAAA", 19, &dec,
	    &why), -1);
	buf_free(&enc);
	buf_free(&dec);
	keyring_free(&r1);
	keyring_free(&r2);
}

static void
test_rotation(void **state)
{
	struct rs_keyring old, both;
	struct buf a, b, dec;
	struct rs_err err;
	const char *why;

	(void)state;
	load(&old, K1);
	load(&both, K2 K1);
	buf_init(&a);
	buf_init(&b);
	buf_init(&dec);
	assert_int_equal(secret_encrypt(&old, ADDR, "old", 3, &a, &err), 0);
	assert_int_equal(secret_encrypt(&both, ADDR, "new", 3, &b, &err), 0);
	assert_true(strncmp(b.data, "{AES256-GCM}k2:", 15) == 0);
	assert_int_equal(secret_decrypt(&both, ADDR, a.data, a.len, &dec, &why), 0);
	assert_string_equal(dec.data, "old");
	assert_int_equal(secret_decrypt(&both, ADDR, b.data, b.len, &dec, &why), 0);
	assert_string_equal(dec.data, "new");
	assert_int_equal(secret_decrypt(&old, ADDR, b.data, b.len, &dec, &why), -1);
	buf_free(&a);
	buf_free(&b);
	buf_free(&dec);
	keyring_free(&old);
	keyring_free(&both);
}

static void
test_key_id(void **state)
{
	char id[33];

	(void)state;
	assert_int_equal(secret_key_id("{AES256-GCM}k1:AAAA", 19, id,
	    sizeof(id)), 0);
	assert_string_equal(id, "k1");
	assert_int_equal(secret_key_id("plain", 5, id, sizeof(id)), -1);
	assert_int_equal(secret_key_id("{AES256-GCM}nokey", 17, id,
	    sizeof(id)), -1);
	assert_int_equal(secret_key_id("{AES256-GCM}k 1:AA", 18, id,
	    sizeof(id)), -1);
	assert_int_equal(secret_key_id("{AES256-GCM}k1:AA", 17, id, 2), -1);
}

static void
test_key_files(void **state)
{
	struct rs_keyring r;
	struct rs_err err;
	struct buf b;
	char *path;

	(void)state;
	path = key_file(K1, 0640);
	assert_int_equal(keyring_load(path, 0, &r, &err), -1);
	assert_int_equal(err.code, 78);
	assert_non_null(strstr(err.msg, "group or others may read it (mode 640)"));
	assert_non_null(strstr(err.msg, "chmod 600"));
	unlink(path);
	free(path);
	path = key_file("k1 0101\n", 0600);
	assert_int_equal(keyring_load(path, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, ":1: not a key line"));
	unlink(path);
	free(path);
	/* a bad line after good ones: fails, and frees the good keys (LSan) */
	path = key_file(K1 K2 "k3 zz\n", 0600);
	assert_int_equal(keyring_load(path, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, ":3: not a key line"));
	assert_null(r.keys);
	unlink(path);
	free(path);
	assert_int_equal(keyring_load("/nonexistent/key", 1, &r, &err), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(keyring_load("/nonexistent/key", 0, &r, &err), -1);
	assert_int_equal(secret_encrypt(&r, ADDR, "x", 1, &b, &err), -1);
	path = key_file("bind-SECRET\n", 0600);
	buf_init(&b);
	assert_int_equal(private_file_read(path, &b, &err), 0);
	assert_string_equal(b.data, "bind-SECRET");
	chmod(path, 0604);
	assert_int_equal(private_file_read(path, &b, &err), -1);
	assert_null(strstr(err.msg, "bind-SECRET"));
	buf_wipe(&b);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_key_id),
	};

	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}

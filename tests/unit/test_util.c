/* Unit tests: util - the digest and hex helpers, number and DN formatting,
 * the monotonic clock, rs_fail(). Digests are checked against published vectors (FIPS 180-2,
 * RFC 4231) and Python's hashlib for the NUL-separated parts. */
#include "unit.h"
#include "table.h"
#include "util.h"

static void
test_sha256(void **state)
{
	const char *parts[] = { "a", "bc" };
	const size_t lens[] = { 1, 2 };
	char out[65];

	(void)state;
	sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	sha256_parts_hex(parts, NULL, 2, out);
	assert_string_equal(out, "aa795aa4bbb6117911ef062e271bcb05"
	    "ccfd58ea439da7d46a44e3a3fcefa790");
	sha256_parts_hex(parts, lens, 2, out);
	assert_string_equal(out, "aa795aa4bbb6117911ef062e271bcb05"
	    "ccfd58ea439da7d46a44e3a3fcefa790");
	sha256_parts_hex((const char *[]){ "abc" }, NULL, 1, out);
	assert_string_equal(out, "dc1114cd074914bd872cc1f9a23ec910"
	    "ea2203bc79779ab2e17da25782a624fc");
}

static void
test_hmac(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	char out[65];

	(void)state;
	hmac_sha256_hex("Jefe", 4, data, strlen(data), out);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	strcpy(out, data);	/* in place, as secret_keyed_hex() does */
	hmac_sha256_hex("Jefe", 4, out, strlen(out), out);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

/* The prepared key gives hmac_sha256_hex()'s bytes, call after call. */
static void
test_hmac_prepared(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	static const char big[] = "This is a test using a larger than block-"
	    "size key and a larger than block-size data. The key needs to be "
	    "hashed before being used by the HMAC algorithm.";
	unsigned char key[131];
	char out[65], ref[65];
	struct rs_hmac h;
	int i;

	(void)state;
	hmac_prepare(&h, "Jefe", 4);
	for (i = 0; i < 2; i++) {	/* RFC 4231 test case 2, twice */
		hmac_hex(&h, data, strlen(data), out);
		assert_string_equal(out, "5bdcc146bf60754e6a042426089575c7"
		    "5a003f089d2739839dec58b964ec3843");
	}
	strcpy(out, data);	/* in place */
	hmac_hex(&h, out, strlen(out), out);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	hmac_free(&h);
	memset(key, 0xaa, sizeof(key));	/* test case 7: a hashed key */
	hmac_prepare(&h, key, sizeof(key));
	hmac_hex(&h, big, strlen(big), out);
	assert_string_equal(out, "9b09ffa71b942fcb27635fbcd5b0e944"
	    "bfdc63644f0713938a7f51535c3a35e2");
	for (i = 0; i < 64; i++) {	/* a keyring-sized key, any length */
		hmac_hex(&h, big, (size_t)i, out);
		hmac_sha256_hex(key, sizeof(key), big, (size_t)i, ref);
		assert_string_equal(out, ref);
	}
	hmac_free(&h);
	hmac_prepare(&h, key, 32);
	hmac_hex(&h, data, strlen(data), out);
	hmac_sha256_hex(key, 32, data, strlen(data), ref);
	assert_string_equal(out, ref);
	hmac_free(&h);
	hmac_free(&h);	/* idempotent */
}

static void
test_hex(void **state)
{
	unsigned char b[3];
	char out[7];

	(void)state;
	assert_int_equal(hex_decode("00ffAb", 3, b), 0);
	assert_int_equal(b[0], 0x00);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(b[2], 0xab);
	hex_encode(b, 3, out);
	assert_string_equal(out, "00ffab");
	assert_int_equal(hex_decode("0g", 1, b), -1);
	assert_int_equal(hex_decode("g0", 1, b), -1);
}

/* Numbers, next hops and printable DNs, as printf would write them. */
static void
test_formatting(void **state)
{
	static const unsigned long n[] = { 0, 7, 10, 587, 65535, 4294967296UL };
	struct buf b, want;
	size_t i;

	(void)state;
	buf_init(&b);
	buf_init(&want);
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		buf_reset(&b);
		buf_reset(&want);
		buf_adds(&b, "x");
		buf_addu(&b, n[i]);
		buf_printf(&want, "x%lu", n[i]);
		assert_string_equal(b.data, want.data);
	}
	assert_string_equal(printable(&b, "uid=a,dc=b", 10), "uid=a,dc=b");
	assert_string_equal(printable(&b, "\\a\nb\x7f\xc3", 6),
	    "\\x5ca\\x0ab\\x7f\\xc3");
	assert_string_equal(printable(&b, "a\0b", 3), "a\\x00b");
	assert_string_equal(printable(&b, "", 0), "");
	assert_string_equal(table_hop(&b, "smtp.p.example", 587),
	    "[smtp.p.example]:587");
	assert_string_equal(table_hop(&b, "ipv6:2001:db8::1", 25),
	    "[ipv6:2001:db8::1]:25");
	buf_free(&b);
	buf_free(&want);
}

static void
test_clock_and_fail(void **state)
{
	struct rs_err err;
	double t0 = monotonic_seconds();

	(void)state;
	assert_true(t0 > 0);
	assert_true(monotonic_seconds() >= t0);
	rs_err_set(&err, RS_EX_CANTCREAT, "test: expected error");
	assert_int_equal(rs_fail(&err), RS_EX_CANTCREAT);
	err.code = 0;
	assert_int_equal(rs_fail(&err), RS_EX_FAIL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_hmac_prepared),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_formatting),
		cmocka_unit_test(test_clock_and_fail),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

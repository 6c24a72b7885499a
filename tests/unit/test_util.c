/* Tests for common/util: base64, read_file, parse_long, parse_duration. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"
#include "util.h"

/* RFC 4648 section 10 */
static const char *const vectors[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_b64_encode_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b = BUF_INIT(64);
		assert_int_equal(b64_encode(vectors[i][0], strlen(vectors[i][0]), &b), 0);
		assert_string_equal(buf_str(&b), vectors[i][1]);
		buf_free(&b);
	}
}

static void test_b64_decode_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b = BUF_INIT(64);
		assert_int_equal(b64_decode(vectors[i][1], strlen(vectors[i][1]), &b), 0);
		assert_int_equal(b.len, strlen(vectors[i][0]));
		assert_string_equal(buf_str(&b), vectors[i][0]);
		buf_free(&b);
	}
}

static void test_b64_all_bytes_round_trip(void **state)
{
	unsigned char all[256];
	struct buf enc = BUF_INIT(1024), dec = BUF_INIT(1024);

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	assert_int_equal(b64_encode(all, sizeof(all), &enc), 0);
	assert_int_equal(enc.len, 344); /* 4 * ceil(256 / 3) */
	assert_memory_equal(enc.ptr, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44);
	assert_memory_equal(enc.ptr + 340, "/w==", 4);
	assert_int_equal(b64_decode(enc.ptr, enc.len, &dec), 0);
	assert_int_equal(dec.len, 256);
	assert_memory_equal(dec.ptr, all, 256);
	buf_free(&enc);
	buf_free(&dec);
}

static void test_b64_decode_whitespace_and_append(void **state)
{
	struct buf b = BUF_INIT(64);

	assert_int_equal(buf_adds(&b, "x:"), 0);
	/* PEM-style line breaks and stray blanks are skipped; output is appended */
	assert_int_equal(b64_decode(" Zm9v\r\nYmFy\n\tYg= =\n", 19, &b), 0);
	assert_string_equal(buf_str(&b), "x:foobarb");
	buf_free(&b);
}

static void test_b64_decode_malformed(void **state)
{
	static const char *bad[] = {
	    "Z",                 /* not a multiple of 4 */
	    "Zg=",               /* padding short */
	    "Zg===",             /* too much padding */
	    "Z===",              /* three pad characters */
	    "====",              /* only padding */
	    "Zm9v!",             /* not in the alphabet */
	    "Zm9-",              /* base64url is not accepted */
	    "Zm9_",  "Zg==Zg==", /* data after padding */
	    "=Zg=",  "Zm=9",     "Zm9vYmFy\x80", NULL,
	};

	for (int i = 0; bad[i]; i++) {
		struct buf b = BUF_INIT(64);
		assert_int_equal(buf_adds(&b, "prior"), 0);
		if (b64_decode(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("b64_decode(%s) accepted malformed input", bad[i]);
		/* out is left empty (and was wiped) */
		assert_null(b.ptr);
		assert_int_equal(b.len, 0);
	}
}

static void test_b64_decode_respects_buf_max(void **state)
{
	struct buf b = BUF_INIT(5);

	assert_int_equal(b64_decode("Zm9vYmFy", 8, &b), -1); /* 6 bytes into max 5 */
	assert_null(b.ptr);
	assert_int_equal(b64_decode("Zm9vYg==", 8, &b), 0);
	assert_string_equal(buf_str(&b), "foob");
	buf_free(&b);
}

static void test_read_file(void **state)
{
	struct buf b = BUF_INIT(1024);

	assert_int_equal(read_file(UNIT_FIXTURES "/util/hello.txt", 1024, &b), 0);
	assert_int_equal(b.len, 15);
	assert_string_equal(buf_str(&b), "hello, fixture\n");
	buf_free(&b);

	/* exactly max is fine; one byte less is E2BIG and leaves b empty */
	assert_int_equal(read_file(UNIT_FIXTURES "/util/hello.txt", 15, &b), 0);
	buf_free(&b);
	errno = 0;
	assert_int_equal(read_file(UNIT_FIXTURES "/util/hello.txt", 14, &b), -1);
	assert_int_equal(errno, E2BIG);
	assert_null(b.ptr);

	/* an empty file gives an empty, non-NULL string */
	assert_int_equal(read_file(UNIT_FIXTURES "/util/empty.txt", 1024, &b), 0);
	assert_non_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	buf_free(&b);

	errno = 0;
	assert_int_equal(read_file(UNIT_FIXTURES "/util/does-not-exist", 1024, &b), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(b.ptr);
	errno = 0;
	assert_int_equal(read_file(UNIT_FIXTURES "/util", 1024, &b), -1);
	assert_int_equal(errno, EISDIR);
	buf_free(&b);
}

static void test_parse_long(void **state)
{
	long v = -999;
	char s[64];

	assert_int_equal(parse_long("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_long("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(parse_long("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	/* bounds are inclusive */
	assert_int_equal(parse_long("1", 1, 3, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_long("3", 1, 3, &v), 0);
	assert_int_equal(v, 3);
	snprintf(s, sizeof(s), "%ld", LONG_MAX);
	assert_int_equal(parse_long(s, LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MAX);
	snprintf(s, sizeof(s), "%ld", LONG_MIN);
	assert_int_equal(parse_long(s, LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MIN);

	/* failures leave *out alone */
	v = 7;
	assert_int_equal(parse_long("0", 1, 3, &v), -1);
	assert_int_equal(parse_long("4", 1, 3, &v), -1);
	assert_int_equal(parse_long("101", 0, 100, &v), -1);
	assert_int_equal(parse_long("-1", 0, 100, &v), -1);
	assert_int_equal(parse_long("9223372036854775808", LONG_MIN, LONG_MAX, &v), -1);
	assert_int_equal(parse_long("-9223372036854775809", LONG_MIN, LONG_MAX, &v), -1);
	assert_int_equal(parse_long("", 0, 100, &v), -1);
	assert_int_equal(parse_long(NULL, 0, 100, &v), -1);
	assert_int_equal(parse_long("abc", 0, 100, &v), -1);
	assert_int_equal(parse_long("12abc", 0, 100, &v), -1);
	assert_int_equal(parse_long("1.5", 0, 100, &v), -1);
	assert_int_equal(parse_long("0x10", 0, 100, &v), -1);
	assert_int_equal(parse_long("5 ", 0, 100, &v), -1);
	assert_int_equal(v, 7);
}

static void assert_duration(const char *s, double want)
{
	double got = -1;
	if (parse_duration(s, &got) != 0)
		fail_msg("parse_duration(%s) failed", s);
	if (fabs(got - want) > 1e-9 * (want > 1 ? want : 1))
		fail_msg("parse_duration(%s) = %.12g, want %.12g", s, got, want);
}

static void test_parse_duration(void **state)
{
	assert_duration("1h30m", 5400);
	assert_duration("2160h", 7776000);
	assert_duration("90s", 90);
	assert_duration("0s", 0);
	assert_duration("1.5h", 5400);
	/* the CRD's form: digits before and (when there is a point) after it */
	assert_int_equal(parse_duration(".5m", &(double){0}), -1);
	assert_int_equal(parse_duration("1.h", &(double){0}), -1);
	assert_duration("100ms", 0.1);
	assert_duration("250us", 0.00025);
	assert_duration("250\xc2\xb5s", 0.00025);
	assert_duration("10ns", 1e-8);
	assert_duration("1h2m3s4ms", 3723.004);
	assert_duration("1m1m", 120);
}

static void test_parse_duration_bad(void **state)
{
	static const char *bad[] = {
	    "bad", "",     "1",    "h",    "1x",   "-1h",   "1h-1m",  "1hh",    "1 h", " 1h", "1h ",
	    "+1h", "nanh", "infs", "NaNs", "1e3s", "0x10s", "1.2.3s", "1e400h", ".s",  "1sm", NULL,
	};

	for (int i = 0; bad[i]; i++) {
		double d = 42;
		if (parse_duration(bad[i], &d) != -1)
			fail_msg("parse_duration(\"%s\") accepted (%g)", bad[i], d);
		assert_true(d == 42); /* left alone */
	}
	assert_int_equal(parse_duration(NULL, NULL), -1);
}

static void test_now_ms_is_monotonic(void **state)
{
	long long a = now_ms(), b = now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64_encode_vectors),
	    cmocka_unit_test(test_b64_decode_vectors),
	    cmocka_unit_test(test_b64_all_bytes_round_trip),
	    cmocka_unit_test(test_b64_decode_whitespace_and_append),
	    cmocka_unit_test(test_b64_decode_malformed),
	    cmocka_unit_test(test_b64_decode_respects_buf_max),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_parse_long),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_duration_bad),
	    cmocka_unit_test(test_now_ms_is_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

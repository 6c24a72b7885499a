/* Tests for common/buf: the bounded growable buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

static void test_init_is_empty(void **state)
{
	struct buf b;
	struct buf m = BUF_INIT(10);

	buf_init(&b, 100);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	assert_string_equal(buf_str(&b), "");
	assert_null(m.ptr);
	assert_int_equal(m.max, 10);
	buf_free(&b); /* freeing an empty buf is fine */
	assert_null(b.ptr);
}

static void test_add_appends_and_terminates(void **state)
{
	struct buf b = BUF_INIT(1024);

	assert_int_equal(buf_add(&b, "abc", 3), 0);
	assert_int_equal(buf_adds(&b, "def"), 0);
	assert_int_equal(buf_addc(&b, 'g'), 0);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 7);
	assert_string_equal(buf_str(&b), "abcdefg");
	assert_int_equal(b.ptr[7], '\0');
	/* binary content with an embedded NUL keeps its length */
	assert_int_equal(buf_add(&b, "x\0y", 3), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.ptr, "abcdefgx\0y", 11);
	buf_free(&b);
}

static void test_add_empty_makes_empty_string(void **state)
{
	struct buf b = BUF_INIT(8);

	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_non_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	buf_free(&b);
}

static void test_grows_across_many_appends(void **state)
{
	struct buf b = BUF_INIT(1 << 20);

	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_addc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap >= 10001);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(b.ptr[i], 'a' + (int)(i % 26));
	assert_int_equal(b.ptr[10000], '\0');
	buf_free(&b);
}

static void test_max_is_exact(void **state)
{
	struct buf b = BUF_INIT(5);

	assert_int_equal(buf_adds(&b, "12345"), 0); /* exactly max: fine */
	assert_int_equal(b.len, 5);
	assert_true(b.cap <= 6); /* never allocates past max+1 */
	errno = 0;
	assert_int_equal(buf_addc(&b, '6'), -1); /* one past max */
	assert_int_equal(errno, E2BIG);
	/* a failed add frees the buffer but keeps it initialised */
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 5);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_adds(&b, "ok"), 0);
	assert_string_equal(buf_str(&b), "ok");
	buf_free(&b);
}

static void test_single_add_larger_than_max(void **state)
{
	struct buf b = BUF_INIT(4);

	assert_int_equal(buf_adds(&b, "ab"), 0);
	assert_int_equal(buf_add(&b, "abcdefgh", 8), -1);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	/* SIZE_MAX-sized adds cannot wrap the length check */
	assert_int_equal(buf_add(&b, "x", (size_t)-1), -1);
	assert_null(b.ptr);
}

static void test_printf_small_and_large(void **state)
{
	struct buf b = BUF_INIT(4096);
	char big[1001];

	assert_int_equal(buf_printf(&b, "%s=%d;", "n", 42), 0);
	memset(big, 'z', 1000);
	big[1000] = '\0';
	/* longer than the 256-byte fast path */
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 5 + 1002);
	assert_memory_equal(b.ptr, "n=42;[", 6);
	assert_int_equal(b.ptr[6], 'z');
	assert_int_equal(b.ptr[1005], 'z');
	assert_int_equal(b.ptr[1006], ']');
	assert_int_equal(b.ptr[1007], '\0');
	buf_free(&b);
}

static void test_printf_past_max_fails_and_frees(void **state)
{
	struct buf b = BUF_INIT(300);

	assert_int_equal(buf_adds(&b, "keep?"), 0);
	assert_int_equal(buf_printf(&b, "%0400d", 7), -1);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%d", 1), 0);
	assert_string_equal(buf_str(&b), "1");
	buf_free(&b);
}

static void test_urlenc(void **state)
{
	struct buf b = BUF_INIT(256);

	assert_int_equal(buf_add_urlenc(&b, "a b/c?d=e&f~g._-H9"), 0);
	assert_string_equal(buf_str(&b), "a%20b%2Fc%3Fd%3De%26f~g._-H9");
	buf_reset(&b);
	assert_int_equal(buf_add_urlenc(&b, "\xc3\xa9%+:\x01\x7f\xff"), 0);
	assert_string_equal(buf_str(&b), "%C3%A9%25%2B%3A%01%7F%FF");
	buf_reset(&b);
	assert_int_equal(buf_add_urlenc(&b, ""), 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void test_urlenc_respects_max(void **state)
{
	struct buf b = BUF_INIT(5);

	assert_int_equal(buf_add_urlenc(&b, "ab/"), 0); /* "ab%2F" is 5 bytes */
	assert_string_equal(buf_str(&b), "ab%2F");
	assert_int_equal(buf_add_urlenc(&b, "c"), -1);
	assert_null(b.ptr);
}

static void test_reset_keeps_allocation(void **state)
{
	struct buf b = BUF_INIT(100);
	char *p;

	assert_int_equal(buf_adds(&b, "hello"), 0);
	p = b.ptr;
	buf_reset(&b);
	assert_ptr_equal(b.ptr, p);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_adds(&b, "x"), 0);
	assert_string_equal(buf_str(&b), "x");
	buf_free(&b);
	buf_reset(&b); /* on an empty buf: no-op */
	assert_null(b.ptr);
}

static void test_take(void **state)
{
	struct buf b = BUF_INIT(100);
	char *s;

	assert_int_equal(buf_adds(&b, "owned"), 0);
	s = buf_take(&b);
	assert_string_equal(s, "owned");
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	free(s);
	/* taking from an empty buffer gives "" (never NULL) */
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void test_free_secret(void **state)
{
	struct buf b = BUF_INIT(100);

	assert_int_equal(buf_adds(&b, "s3cr3t"), 0);
	buf_free_secret(&b);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_free_secret(&b); /* twice is fine */
	assert_null(b.ptr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_is_empty),
	    cmocka_unit_test(test_add_appends_and_terminates),
	    cmocka_unit_test(test_add_empty_makes_empty_string),
	    cmocka_unit_test(test_grows_across_many_appends),
	    cmocka_unit_test(test_max_is_exact),
	    cmocka_unit_test(test_single_add_larger_than_max),
	    cmocka_unit_test(test_printf_small_and_large),
	    cmocka_unit_test(test_printf_past_max_fails_and_frees),
	    cmocka_unit_test(test_urlenc),
	    cmocka_unit_test(test_urlenc_respects_max),
	    cmocka_unit_test(test_reset_keeps_allocation),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_free_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

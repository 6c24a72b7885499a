/* Tests for operator/reconcile/synccache: fingerprints and notes. */
#include <string.h>

#include "synccache.h"
#include "unit.h"

static void test_fresh_needs_same_fp_and_age(void **state)
{
	unsigned char a[SYNC_FP_LEN], b[SYNC_FP_LEN];

	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	sync_reset();
	assert_int_equal(sync_fresh("k", a, 60000), 0);
	sync_record("k", a);
	assert_int_equal(sync_fresh("k", a, 60000), 1);
	assert_int_equal(sync_fresh("k", b, 60000), 0);
	assert_int_equal(sync_fresh("k", a, 0), 0); /* too old for max_age 0 */
	sync_record("k", NULL);
	assert_int_equal(sync_fresh("k", a, 60000), 0);
	sync_reset();
}

static void test_notes(void **state)
{
	char out[16];

	sync_reset();
	assert_int_equal(sync_note_get("u/1", out, sizeof(out)), 0);
	sync_note_set("u/1", "first");
	sync_note_set("u/2", "other");
	assert_int_equal(sync_note_get("u/1", out, sizeof(out)), 1);
	assert_string_equal(out, "first");
	sync_note_set("u/1", "second, and longer than out");
	assert_int_equal(sync_note_get("u/1", out, sizeof(out)), 1);
	assert_string_equal(out, "second, and lon"); /* truncated to outlen */
	sync_note_set("u/1", NULL);
	assert_int_equal(sync_note_get("u/1", out, sizeof(out)), 0);
	assert_int_equal(sync_note_get("u/2", out, sizeof(out)), 1);
	assert_string_equal(out, "other");
	sync_reset(); /* notes too */
	assert_int_equal(sync_note_get("u/2", out, sizeof(out)), 0);
	sync_note_set("u/3", NULL); /* forgetting on an empty map is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_needs_same_fp_and_age),
	    cmocka_unit_test(test_notes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

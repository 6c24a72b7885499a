/* Tests for the pure part of operator/reconcile/rbac: the managed roles kept on
 * record by a status written without a role sync. */
#include <string.h>

#include <yajl/yajl_tree.h>

#include "rbac.h"
#include "synccache.h"
#include "unit.h"

static yajl_val parse(const char *s)
{
	char err[128];
	yajl_val v = yajl_tree_parse(s, err, sizeof(err));
	assert_non_null(v);
	return v;
}

static void test_managed_on_record(void **state)
{
	yajl_val c = parse("{\"metadata\":{\"uid\":\"u1\"},\"status\":{\"rbac\":{\"managedRoles\":"
	                   "[\"reader\",\"writer\"]}}}");
	yajl_val bare = parse("{\"metadata\":{\"uid\":\"u2\"}}");
	char buf[256];
	const char *names[8];
	size_t n;

	sync_reset();
	/* the copy alone */
	n = rbac_managed_on_record(c, buf, sizeof(buf), names, 8);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "reader");
	assert_string_equal(names[1], "writer");
	/* with what this process recorded and the copy does not show yet: both,
	 * each once, in the copy's order first */
	sync_note_set("rbac-managed/u1", "writer\ningest\n");
	n = rbac_managed_on_record(c, buf, sizeof(buf), names, 8);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "reader");
	assert_string_equal(names[1], "writer");
	assert_string_equal(names[2], "ingest");
	/* another Cluster's note is not this one's */
	n = rbac_managed_on_record(bare, buf, sizeof(buf), names, 8);
	assert_int_equal(n, 0);
	/* at most max */
	n = rbac_managed_on_record(c, buf, sizeof(buf), names, 2);
	assert_int_equal(n, 2);
	sync_reset();
	yajl_tree_free(c);
	yajl_tree_free(bare);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_managed_on_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

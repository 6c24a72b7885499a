/* Tests for the pure parts of operator/reconcile/apply: apply_owned_by_earlier. */
#include <string.h>

#include <yajl/yajl_tree.h>

#include "apply.h"
#include "unit.h"

static yajl_val parse(const char *s)
{
	char err[128];
	yajl_val v = yajl_tree_parse(s, err, sizeof(err));
	assert_non_null(v);
	return v;
}

static void test_owned_by_earlier(void **state)
{
	yajl_val ctl =
	    parse("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"Cluster\",\"name\":\"prod\","
	          "\"uid\":\"u1\",\"controller\":true}]}}");
	yajl_val plain =
	    parse("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"Cluster\",\"name\":\"prod\","
	          "\"uid\":\"u1\"}]}}");
	yajl_val none = parse("{\"metadata\":{}}");

	assert_int_equal(apply_owned_by_earlier(ctl, "Cluster", "prod", "u2"), 1); /* another uid */
	assert_int_equal(apply_owned_by_earlier(ctl, "Cluster", "prod", "u1"), 0); /* this one */
	assert_int_equal(apply_owned_by_earlier(ctl, "Cluster", "other", "u2"), 0);
	assert_int_equal(apply_owned_by_earlier(ctl, "User", "prod", "u2"), 0);
	assert_int_equal(apply_owned_by_earlier(ctl, "Cluster", "prod", NULL), 0);
	assert_int_equal(apply_owned_by_earlier(plain, "Cluster", "prod", "u2"),
	                 0); /* not controller */
	assert_int_equal(apply_owned_by_earlier(none, "Cluster", "prod", "u2"), 0);
	yajl_tree_free(ctl);
	yajl_tree_free(plain);
	yajl_tree_free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_owned_by_earlier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

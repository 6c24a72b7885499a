/* Tests for the pure parts of operator/controller: queue keys, informer keys,
 * the status-only update filter,
 * the leader-election decision, the lease time format, password generation. */
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "informer.h"
#include "json.h"
#include "leader.h"
#include "secret.h"
#include "unit.h"

static void test_split_key(void **state)
{
	char a[] = "Cluster/ns/name", b[] = "Namespace/x", c[] = "nokind", d[] = "Cluster//";
	const char *k, *n, *m;

	assert_int_equal(controller_split_key(a, &k, &n, &m), 0);
	assert_string_equal(k, "Cluster");
	assert_string_equal(n, "ns");
	assert_string_equal(m, "name");
	assert_int_equal(controller_split_key(b, &k, &n, &m), 0);
	assert_string_equal(n, "");
	assert_string_equal(m, "x");
	assert_int_equal(controller_split_key(c, &k, &n, &m), -1);
	assert_int_equal(controller_split_key(d, &k, &n, &m), -1);
}

static void test_informer_key(void **state)
{
	yajl_val v = NULL;
	char key[64];
	const char *s = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}";

	assert_int_equal(json_parse(s, strlen(s), 8, 0, &v, NULL, 0), 0);
	assert_int_equal(informer_key(v, key, sizeof(key)), 0);
	assert_string_equal(key, "b/a");
	assert_int_equal(informer_key(v, key, 3), -1); /* does not fit */
	yajl_tree_free(v);
	s = "{\"metadata\":{\"name\":\"node1\"}}";
	assert_int_equal(json_parse(s, strlen(s), 8, 0, &v, NULL, 0), 0);
	assert_int_equal(informer_key(v, key, sizeof(key)), 0);
	assert_string_equal(key, "node1");
	yajl_tree_free(v);
}

static yajl_val parse(const char *s)
{
	yajl_val v = NULL;
	assert_int_equal(json_parse(s, strlen(s), 32, 0, &v, NULL, 0), 0);
	return v;
}

#define BASE_META                                                                                  \
	"\"name\":\"u\",\"namespace\":\"ns\",\"uid\":\"1\",\"generation\":2,"                      \
	"\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"y\"},\"finalizers\":[\"f\"],"           \
	"\"ownerReferences\":[{\"uid\":\"9\"}]"

/* Only .status, metadata.resourceVersion and metadata.managedFields may differ
 * for an update to be skipped; any other field is a change. */
static void test_status_only_change(void **state)
{
	yajl_val old =
	    parse("{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META
	          ",\"resourceVersion\":\"10\",\"managedFields\":[{\"m\":1}]},"
	          "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]},"
	          "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
	static const struct {
		const char *json;
		int status_only;
	} cases[] = {
	    /* the operator's own status write: new status, rv and managedFields,
	     * keys of metadata and spec in another order */
	    {"{\"kind\":\"User\",\"apiVersion\":\"vecward.io/"
	     "v1\",\"metadata\":{\"managedFields\":[{\"m\":2}],"
	     "\"resourceVersion\":\"11\"," BASE_META "},"
	     "\"spec\":{\"roles\":[\"r1\",\"r2\"],\"clusterRef\":{\"name\":\"c\"}},"
	     "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
	     1},
	    /* status gone, no managedFields */
	    {"{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META
	     ",\"resourceVersion\":\"12\"},\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":["
	     "\"r1\",\"r2\"]}}",
	     1},
	    /* spec changed (array order counts) */
	    {"{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META
	     ",\"resourceVersion\":\"12\"},\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":["
	     "\"r2\",\"r1\"]}}",
	     0},
	    /* generation */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":3,\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"y\"}"
	     ","
	     "\"finalizers\":[\"f\"],\"ownerReferences\":[{\"uid\":\"9\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* an annotation added (a rotation request) */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":2,\"labels\":{\"a\":\"b\"},"
	     "\"annotations\":{\"x\":\"y\",\"vecward.io/rotate\":\"1\"},"
	     "\"finalizers\":[\"f\"],\"ownerReferences\":[{\"uid\":\"9\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* a label changed */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":2,\"labels\":{\"a\":\"c\"},\"annotations\":{\"x\":\"y\"}"
	     ","
	     "\"finalizers\":[\"f\"],\"ownerReferences\":[{\"uid\":\"9\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* finalizers removed */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":2,\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"y\"}"
	     ","
	     "\"ownerReferences\":[{\"uid\":\"9\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* deletionTimestamp set */
	    {"{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META
	     ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* ownerReferences changed */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":2,\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"y\"}"
	     ","
	     "\"finalizers\":[\"f\"],\"ownerReferences\":[{\"uid\":\"8\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    /* a new top-level field (data of a Secret) */
	    {"{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META "},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]},\"data\":{\"k\":"
	     "\"dg==\"}}",
	     0},
	    /* a number's value, a type (string for number), null for a value */
	    {"{\"apiVersion\":\"vecward.io/"
	     "v1\",\"kind\":\"User\",\"metadata\":{\"name\":\"u\",\"namespace\":\"ns\","
	     "\"uid\":\"1\",\"generation\":\"2\",\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":"
	     "\"y\"},"
	     "\"finalizers\":[\"f\"],\"ownerReferences\":[{\"uid\":\"9\"}]},"
	     "\"spec\":{\"clusterRef\":{\"name\":\"c\"},\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	    {"{\"apiVersion\":\"vecward.io/v1\",\"kind\":\"User\",\"metadata\":{" BASE_META "},"
	     "\"spec\":{\"clusterRef\":null,\"roles\":[\"r1\",\"r2\"]}}",
	     0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		yajl_val n = parse(cases[i].json);
		if (controller_status_only_change(old, n) != cases[i].status_only)
			fail_msg("case %zu: expected %d", i, cases[i].status_only);
		/* symmetric */
		assert_int_equal(controller_status_only_change(n, old), cases[i].status_only);
		yajl_tree_free(n);
	}
	assert_int_equal(controller_status_only_change(old, old), 1);
	assert_int_equal(controller_status_only_change(NULL, old), 0);
	assert_int_equal(controller_status_only_change(old, NULL), 0);
	yajl_tree_free(old);
	/* no metadata object: compared whole, but for the status */
	old = parse("{\"spec\":1,\"status\":2}");
	{
		yajl_val n = parse("{\"spec\":1,\"status\":3}");
		assert_int_equal(controller_status_only_change(old, n), 1);
		yajl_tree_free(n);
		n = parse("{\"spec\":1,\"metadata\":{\"resourceVersion\":\"1\"}}");
		assert_int_equal(controller_status_only_change(old, n), 0);
		yajl_tree_free(n);
	}
	yajl_tree_free(old);
}

static void test_leader_decision(void **state)
{
	/* free, ours, or expired: take it */
	assert_true(leader_may_acquire(NULL, "me", 0, 1000, 15));
	assert_true(leader_may_acquire("", "me", 0, 1000, 15));
	assert_true(leader_may_acquire("me", "me", 1000, 1001, 15));
	/* held by another and renewed less than a lease ago (our clock): wait */
	assert_false(leader_may_acquire("other", "me", 10000, 10000 + 14999, 15));
	assert_true(leader_may_acquire("other", "me", 10000, 10000 + 15000, 15));
}

static void test_microtime_format(void **state)
{
	char t[64];

	leader_microtime(t, sizeof(t));
	assert_int_equal(strlen(t), 27); /* 2026-11-27T01:02:03.123456Z */
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[19], '.');
	assert_int_equal(t[26], 'Z');
}

static void test_password(void **state)
{
	char a[SECRET_PASSWORD_LEN + 1], b[SECRET_PASSWORD_LEN + 1];

	assert_int_equal(secret_password(a, SECRET_PASSWORD_LEN), 0);
	assert_int_equal(secret_password(b, SECRET_PASSWORD_LEN), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(secret_classes(a), 15); /* lower, upper, digit, symbol */
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 32; i++)
		assert_non_null(strchr(
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" SECRET_SYMBOLS,
		    a[i]));
	assert_int_equal(secret_password(a, 3), -1);
	assert_int_equal(secret_class_count("abcDEF123"), 3);
	assert_int_equal(secret_class_count("abc"), 1);
	assert_int_equal(secret_class_count("a!"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_key),          cmocka_unit_test(test_informer_key),
	    cmocka_unit_test(test_status_only_change), cmocka_unit_test(test_leader_decision),
	    cmocka_unit_test(test_microtime_format),   cmocka_unit_test(test_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

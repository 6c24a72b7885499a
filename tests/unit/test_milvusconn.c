/* Tests for operator/reconcile/milvusconn: what is known without a Secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "milvusconn.h"
#include "unit.h"

static const char *BUNDLE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

static yajl_val cluster(const char *mode, const char *digest)
{
	char doc[1024];
	yajl_val v = NULL;
	int n;

	n = snprintf(doc, sizeof(doc),
	             "{\"metadata\":{\"name\":\"prod\",\"namespace\":\"search\",\"uid\":\"u-1\"},"
	             "\"spec\":{\"tls\":{\"mode\":\"%s\"}},\"status\":{%s%s%s}}",
	             mode, digest ? "\"certificate\":{\"trustBundleSHA256\":\"" : "",
	             digest ? digest : "", digest ? "\"}" : "");
	assert_true(n > 0 && n < (int)sizeof(doc));
	assert_int_equal(json_parse(doc, strlen(doc), 64, 0, &v, NULL, 0), 0);
	return v;
}

static void test_bundle_digest(void **state)
{
	char d[MCONN_BUNDLE_DIGEST_LEN + 1];

	assert_int_equal(mconn_bundle_digest("", d), 0);
	assert_string_equal(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(mconn_bundle_digest("abc", d), 0);
	assert_string_equal(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(mconn_bundle_digest(NULL, d), -1);
}

static void test_known_when_status_vouches(void **state)
{
	char d[MCONN_BUNDLE_DIGEST_LEN + 1];
	struct mconn c;
	yajl_val t;

	assert_int_equal(mconn_bundle_digest(BUNDLE, d), 0);
	t = cluster("mutual", d);
	assert_int_equal(mconn_open_known(t, BUNDLE, &c), 0);
	assert_string_equal(c.uri, "https://prod.search.svc:19530");
	assert_string_equal(c.bundle, BUNDLE);
	assert_null(c.mv);
	assert_null(c.ca.key_pem);
	assert_true(c.mutual);
	mconn_close(&c);
	assert_null(c.bundle);
	yajl_tree_free(t);
}

static void test_unknown_bundle_needs_secrets(void **state)
{
	char d[MCONN_BUNDLE_DIGEST_LEN + 1];
	struct mconn c;
	yajl_val t;

	/* another bundle (a CA rotation), none held, no digest, a bad digest */
	assert_int_equal(mconn_bundle_digest("another bundle", d), 0);
	t = cluster("server", d);
	assert_int_equal(mconn_open_known(t, BUNDLE, &c), -1);
	assert_null(c.bundle);
	assert_int_equal(mconn_open_known(t, NULL, &c), -1);
	yajl_tree_free(t);
	t = cluster("server", NULL);
	assert_int_equal(mconn_open_known(t, BUNDLE, &c), -1);
	yajl_tree_free(t);
	t = cluster("server", "abc");
	assert_int_equal(mconn_open_known(t, BUNDLE, &c), -1);
	yajl_tree_free(t);
}

static void test_tls_disabled_has_no_bundle(void **state)
{
	struct mconn c;
	yajl_val t = cluster("disabled", NULL);

	assert_int_equal(mconn_open_known(t, BUNDLE, &c), 0);
	assert_string_equal(c.uri, "http://prod.search.svc:19530");
	assert_null(c.bundle);
	mconn_close(&c);
	yajl_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bundle_digest),
	    cmocka_unit_test(test_known_when_status_vouches),
	    cmocka_unit_test(test_unknown_bundle_needs_secrets),
	    cmocka_unit_test(test_tls_disabled_has_no_bundle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

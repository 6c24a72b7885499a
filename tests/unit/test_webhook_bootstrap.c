/*
 * Tests for webhook/bootstrap's pure parts: the Service's DNS names, the
 * caBundle patch (nothing when current, exact ops otherwise), and the Secret
 * documents (create and resourceVersion-guarded patch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "buf.h"
#include "json.h"
#include "unit.h"
#include "util.h"

static yajl_val parse(const char *s)
{
	yajl_val v = NULL;

	assert_int_equal(json_parse(s, strlen(s), JSON_MAX_DEPTH, 0, &v, NULL, 0), 0);
	return v;
}

static void test_service_names(void **state)
{
	char dns[4][WH_BOOT_NAME_MAX];
	const char *ok[] = {"vecward-webhook.vecward-system.svc", "vecward-webhook.vecward-system",
	                    "vecward-webhook.vecward-system.svc.cluster.local"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(dns, 0, sizeof(dns));
		assert_int_equal(wh_boot_service_names(ok[i], dns), 0);
		assert_string_equal(dns[0], "vecward-webhook");
		assert_string_equal(dns[1], "vecward-webhook.vecward-system");
		assert_string_equal(dns[2], "vecward-webhook.vecward-system.svc");
		assert_string_equal(dns[3], "vecward-webhook.vecward-system.svc.cluster.local");
	}
	assert_int_equal(wh_boot_service_names("webhook", dns), -1);
	assert_int_equal(wh_boot_service_names("Webhook.ns.svc", dns), -1);
	assert_int_equal(wh_boot_service_names("webhook.ns.example.com", dns), -1);
	assert_int_equal(wh_boot_service_names("webhook..svc", dns), -1);
	assert_int_equal(wh_boot_service_names("-webhook.ns", dns), -1);
	assert_int_equal(wh_boot_service_names("webhook.ns.", dns), -1);
	assert_int_equal(wh_boot_service_names(NULL, dns), -1);
}

static const char *CFG_FMT =
    "{\"metadata\":{\"name\":\"vecward-webhook\",\"resourceVersion\":\"42\"},"
    "\"webhooks\":[{\"name\":\"validate.vecward.io\",\"clientConfig\":{\"url\":\"https://"
    "127.0.0.1:1/validate\"%s}},{\"name\":\"mutate.vecward.io\",\"clientConfig\":{%s}}]}";

static char *cfg_json(const char *cc1, const char *cc2)
{
	size_t n = strlen(CFG_FMT) + strlen(cc1) + strlen(cc2) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	assert_true(snprintf(s, n, CFG_FMT, cc1, cc2) > 0);
	return s;
}

static void test_cabundle_current(void **state)
{
	char *s = cfg_json(",\"caBundle\":\"Q0E=\"", "\"service\":{},\"caBundle\":\"Q0E=\"");
	yajl_val v = parse(s);
	char *patch = (char *)"untouched";

	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), 0);
	assert_null(patch);
	yajl_tree_free(v);
	free(s);
}

static void test_cabundle_differs(void **state)
{
	/* the first entry is current, the second has the old CA */
	char *s = cfg_json(",\"caBundle\":\"TkVX\"", "\"caBundle\":\"T0xE\"");
	yajl_val v = parse(s);
	char *patch = NULL;

	assert_int_equal(wh_boot_cabundle_patch(v, "TkVX", &patch), 0);
	assert_non_null(patch);
	assert_string_equal(
	    patch,
	    "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"42\"},"
	    "{\"op\":\"test\",\"path\":\"/webhooks/0/name\",\"value\":\"validate.vecward.io\"},"
	    "{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"TkVX\"},"
	    "{\"op\":\"test\",\"path\":\"/webhooks/1/name\",\"value\":\"mutate.vecward.io\"},"
	    "{\"op\":\"add\",\"path\":\"/webhooks/1/clientConfig/caBundle\",\"value\":\"TkVX\"}]");
	free(patch);
	yajl_tree_free(v);
	free(s);
}

static void test_cabundle_absent_and_malformed(void **state)
{
	char *s = cfg_json("", "");
	yajl_val v = parse(s), t;
	char *patch = NULL;

	/* no caBundle at all (a placeholder-free registration): set on both */
	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), 0);
	assert_non_null(patch);
	t = parse(patch);
	assert_int_equal(json_array_len(t), 5);
	assert_string_equal(json_get_str(json_array_at(t, 4), "path", NULL),
	                    "/webhooks/1/clientConfig/caBundle");
	assert_string_equal(json_get_str(json_array_at(t, 4), "value", NULL), "Q0E=");
	yajl_tree_free(t);
	free(patch);
	yajl_tree_free(v);
	free(s);

	/* no clientConfig object: the whole object is added */
	v = parse("{\"metadata\":{\"resourceVersion\":\"7\"},\"webhooks\":[{\"name\":\"a\"}]}");
	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), 0);
	t = parse(patch);
	assert_string_equal(json_get_str(json_array_at(t, 2), "path", NULL),
	                    "/webhooks/0/clientConfig");
	assert_string_equal(json_get_str(json_array_at(t, 2), "value", "caBundle", NULL), "Q0E=");
	yajl_tree_free(t);
	free(patch);
	yajl_tree_free(v);

	/* no resourceVersion to guard the write, or an entry without a name */
	patch = NULL;
	v = parse("{\"metadata\":{},\"webhooks\":[{\"name\":\"a\"}]}");
	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), -1);
	assert_null(patch);
	yajl_tree_free(v);
	v = parse(
	    "{\"metadata\":{\"resourceVersion\":\"7\"},\"webhooks\":[{\"clientConfig\":{}}]}");
	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), -1);
	assert_null(patch);
	yajl_tree_free(v);

	/* no webhooks: nothing to write */
	v = parse("{\"metadata\":{\"resourceVersion\":\"7\"}}");
	assert_int_equal(wh_boot_cabundle_patch(v, "Q0E=", &patch), 0);
	assert_null(patch);
	yajl_tree_free(v);
}

static void expect_data(yajl_val v, const char *key, const char *want)
{
	const char *s = json_get_str(v, "data", key, NULL);
	struct buf b = BUF_INIT(1 << 20);

	assert_non_null(s);
	assert_int_equal(b64_decode(s, strlen(s), &b), 0);
	assert_string_equal(buf_str(&b), want);
	buf_free(&b);
}

static void test_secret_documents(void **state)
{
	struct wh_boot_pems p = {(char *)"CA CERT\n", (char *)"CA KEY\n", (char *)"LEAF\n",
	                         (char *)"LEAF KEY\n"};
	char *json = wh_boot_secret_render("vecward-system", "vecward-webhook-tls", &p);
	yajl_val v;

	assert_non_null(json);
	v = parse(json);
	assert_string_equal(json_get_str(v, "kind", NULL), "Secret");
	assert_string_equal(json_get_str(v, "type", NULL), "kubernetes.io/tls");
	assert_string_equal(json_get_str(v, "metadata", "name", NULL), "vecward-webhook-tls");
	assert_string_equal(json_get_str(v, "metadata", "namespace", NULL), "vecward-system");
	expect_data(v, "ca.crt", "CA CERT\n");
	expect_data(v, "ca.key", "CA KEY\n");
	expect_data(v, "tls.crt", "LEAF\n");
	expect_data(v, "tls.key", "LEAF KEY\n");
	json_free_secret(v);
	wh_boot_secret_free(json);

	json = wh_boot_secret_patch_render("1234", &p);
	assert_non_null(json);
	v = parse(json);
	assert_string_equal(json_get_str(v, "metadata", "resourceVersion", NULL), "1234");
	assert_null(json_get(v, "metadata", "name", NULL));
	expect_data(v, "tls.key", "LEAF KEY\n");
	json_free_secret(v);
	wh_boot_secret_free(json);

	/* no resourceVersion, no unguarded write; a missing PEM, no document */
	assert_null(wh_boot_secret_patch_render(NULL, &p));
	p.tls_key = NULL;
	assert_null(wh_boot_secret_render("ns", "name", &p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_service_names),
	    cmocka_unit_test(test_cabundle_current),
	    cmocka_unit_test(test_cabundle_differs),
	    cmocka_unit_test(test_cabundle_absent_and_malformed),
	    cmocka_unit_test(test_secret_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

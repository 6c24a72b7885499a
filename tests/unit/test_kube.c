/* Tests for the pure parts of operator/kube/kube: paths and API errors. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "kube.h"
#include "unit.h"

static void assert_path(const struct kube_kind *k, const char *ns, const char *name,
                        const char *sub, const char *want)
{
	struct buf b = BUF_INIT(4096);
	assert_int_equal(kube_path(&b, k, ns, name, sub), 0);
	assert_string_equal(buf_str(&b), want);
	buf_free(&b);
}

static void test_path_core(void **state)
{
	assert_path(&KUBE_SECRET, "default", "db-creds", NULL,
	            "/api/v1/namespaces/default/secrets/db-creds");
	assert_path(&KUBE_SECRET, "default", NULL, NULL, "/api/v1/namespaces/default/secrets");
	assert_path(&KUBE_SECRET, NULL, NULL, NULL, "/api/v1/secrets"); /* all namespaces */
	assert_path(&KUBE_SECRET, "", "", "", "/api/v1/secrets");
	assert_path(&KUBE_CONFIGMAP, "ns", "cm", NULL, "/api/v1/namespaces/ns/configmaps/cm");
	assert_path(&KUBE_PVC, "ns", "data-0", NULL,
	            "/api/v1/namespaces/ns/persistentvolumeclaims/data-0");
	assert_path(&KUBE_SERVICEACCOUNT, "ns", "sa", NULL,
	            "/api/v1/namespaces/ns/serviceaccounts/sa");
}

static void test_path_group(void **state)
{
	assert_path(&KUBE_DEPLOYMENT, "ns", "milvus", NULL,
	            "/apis/apps/v1/namespaces/ns/deployments/milvus");
	assert_path(&KUBE_NETWORKPOLICY, "ns", NULL, NULL,
	            "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies");
	assert_path(
	    &KUBE_LEASE, "vecward-system", "vecward-operator", NULL,
	    "/apis/coordination.k8s.io/v1/namespaces/vecward-system/leases/vecward-operator");
	assert_path(&KUBE_EVENT, "ns", NULL, NULL, "/apis/events.k8s.io/v1/namespaces/ns/events");
	assert_path(&KUBE_VW_CLUSTER, NULL, NULL, NULL, "/apis/vecward.io/v1alpha1/clusters");
	assert_path(&KUBE_VW_USER, "t", "alice", NULL,
	            "/apis/vecward.io/v1alpha1/namespaces/t/users/alice");
	assert_path(&KUBE_VW_ENCRYPTIONKEY, "t", "k1", NULL,
	            "/apis/vecward.io/v1alpha1/namespaces/t/encryptionkeys/k1");
}

static void test_path_cluster_scoped(void **state)
{
	/* a namespace argument is ignored for cluster-scoped kinds */
	assert_path(&KUBE_NAMESPACE, NULL, "team-a", NULL, "/api/v1/namespaces/team-a");
	assert_path(&KUBE_NAMESPACE, "ignored", "team-a", NULL, "/api/v1/namespaces/team-a");
	assert_path(&KUBE_NAMESPACE, NULL, NULL, NULL, "/api/v1/namespaces");
	const struct kube_kind crd = {"apiextensions.k8s.io", "v1", "CustomResourceDefinition",
	                              "customresourcedefinitions", 0};
	assert_path(&crd, "x", "clusters.vecward.io", NULL,
	            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.vecward.io");
}

static void test_path_subresource(void **state)
{
	assert_path(&KUBE_VW_CLUSTER, "ns", "search", "status",
	            "/apis/vecward.io/v1alpha1/namespaces/ns/clusters/search/status");
	assert_path(&KUBE_DEPLOYMENT, "ns", "milvus", "scale",
	            "/apis/apps/v1/namespaces/ns/deployments/milvus/scale");
	assert_path(&KUBE_NAMESPACE, NULL, "team-a", "finalize",
	            "/api/v1/namespaces/team-a/finalize");
}

static void test_path_url_encoding(void **state)
{
	assert_path(&KUBE_SECRET, "a b", "x/y?z=1&w#", NULL,
	            "/api/v1/namespaces/a%20b/secrets/x%2Fy%3Fz%3D1%26w%23");
	assert_path(&KUBE_CONFIGMAP, "ns", "..", NULL, "/api/v1/namespaces/ns/configmaps/..");
	assert_path(&KUBE_CONFIGMAP, "ns", "caf\xc3\xa9", NULL,
	            "/api/v1/namespaces/ns/configmaps/caf%C3%A9");
}

static void test_path_appends_and_caps(void **state)
{
	struct buf b = BUF_INIT(4096);

	assert_int_equal(buf_adds(&b, "https://k"), 0);
	assert_int_equal(kube_path(&b, &KUBE_SECRET, "n", "s", NULL), 0);
	assert_string_equal(buf_str(&b), "https://k/api/v1/namespaces/n/secrets/s");
	buf_free(&b);

	struct buf small = BUF_INIT(20);
	assert_int_equal(kube_path(&small, &KUBE_SECRET, "default", "db-creds", NULL), -1);
	assert_null(small.ptr);
}

static void test_api_version(void **state)
{
	char out[64];
	assert_int_equal(kube_api_version(&KUBE_SECRET, out, sizeof(out)), 0);
	assert_string_equal(out, "v1");
	assert_int_equal(kube_api_version(&KUBE_DEPLOYMENT, out, sizeof(out)), 0);
	assert_string_equal(out, "apps/v1");
	assert_int_equal(kube_api_version(&KUBE_VW_CLUSTER, out, sizeof(out)), 0);
	assert_string_equal(out, "vecward.io/v1alpha1");
	assert_int_equal(kube_api_version(&KUBE_VW_CLUSTER, out, 10), -1);
}

/* ---- errors --------------------------------------------------------------- */

static void from_body(long http, const char *body, struct kube_error *e)
{
	memset(e, 0x5a, sizeof(*e)); /* everything must be (re)set */
	kube_error_from_body(http, body, body ? strlen(body) : 0, e);
}

static void test_status_404(void **state)
{
	struct kube_error e;
	char s[700];

	from_body(
	    404,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"secrets \\\"db\\\" not found\",\"reason\":\"NotFound\","
	    "\"details\":{\"name\":\"db\",\"kind\":\"secrets\"},\"code\":404}\n",
	    &e);
	assert_int_equal(e.http, 404);
	assert_int_equal(e.code, 404);
	assert_string_equal(e.reason, "NotFound");
	assert_string_equal(e.message, "secrets \"db\" not found");
	assert_true(kube_is_not_found(&e));
	assert_false(kube_is_conflict(&e));
	assert_false(kube_is_gone(&e));
	assert_string_equal(kube_strerror(&e, s, sizeof(s)),
	                    "404 NotFound: secrets \"db\" not found");
}

static void test_status_409(void **state)
{
	struct kube_error e;
	char s[700];

	from_body(
	    409,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"Operation cannot be fulfilled on clusters.vecward.io \\\"search\\\": "
	    "the object has been modified; please apply your changes to the latest version and "
	    "try again\",\"reason\":\"Conflict\",\"details\":{\"name\":\"search\",\"group\":"
	    "\"vecward.io\",\"kind\":\"clusters\"},\"code\":409}",
	    &e);
	assert_int_equal(e.http, 409);
	assert_int_equal(e.code, 409);
	assert_string_equal(e.reason, "Conflict");
	assert_string_equal(
	    e.message,
	    "Operation cannot be fulfilled on clusters.vecward.io \"search\": the object "
	    "has been modified; please apply your changes to the latest version and try again");
	assert_true(kube_is_conflict(&e));
	assert_false(kube_is_not_found(&e));
	assert_false(kube_is_gone(&e));
	assert_string_equal(
	    kube_strerror(&e, s, sizeof(s)),
	    "409 Conflict: Operation cannot be fulfilled on clusters.vecward.io "
	    "\"search\": the object has been modified; please apply your changes to the "
	    "latest version and try again");
}

static void test_status_410(void **state)
{
	struct kube_error e;

	from_body(
	    410,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"too old resource version: 1234 (5678)\",\"reason\":\"Expired\","
	    "\"code\":410}",
	    &e);
	assert_int_equal(e.http, 410);
	assert_int_equal(e.code, 410);
	assert_string_equal(e.reason, "Expired");
	assert_string_equal(e.message, "too old resource version: 1234 (5678)");
	assert_true(kube_is_gone(&e));
	assert_false(kube_is_not_found(&e));

	/* a Status code of 410 inside another HTTP answer still means gone */
	from_body(
	    200, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"m\",\"code\":410}", &e);
	assert_int_equal(e.http, 200);
	assert_int_equal(e.code, 410);
	assert_true(kube_is_gone(&e));
}

static void test_status_422(void **state)
{
	struct kube_error e;
	char s[700];

	from_body(
	    422,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"Cluster.vecward.io \\\"search\\\" is invalid: spec.replicas: Invalid "
	    "value: -1: spec.replicas in body should be greater than or equal to 1\","
	    "\"reason\":\"Invalid\",\"details\":{\"name\":\"search\",\"group\":\"vecward.io\","
	    "\"kind\":\"Cluster\",\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":"
	    "\"Invalid value: -1\",\"field\":\"spec.replicas\"}]},\"code\":422}",
	    &e);
	assert_int_equal(e.http, 422);
	assert_int_equal(e.code, 422);
	assert_string_equal(e.reason, "Invalid");
	assert_false(kube_is_not_found(&e) || kube_is_conflict(&e) || kube_is_gone(&e));
	assert_string_equal(
	    kube_strerror(&e, s, sizeof(s)),
	    "422 Invalid: Cluster.vecward.io \"search\" is invalid: spec.replicas: "
	    "Invalid value: -1: spec.replicas in body should be greater than or equal to 1");
}

static void test_status_without_reason_or_code(void **state)
{
	struct kube_error e;

	from_body(403, "{\"kind\":\"Status\",\"message\":\"forbidden: nope\"}", &e);
	assert_int_equal(e.code, 403); /* falls back to the HTTP status */
	assert_string_equal(e.reason, "Forbidden");
	assert_string_equal(e.message, "forbidden: nope");
}

static void test_non_json_body(void **state)
{
	struct kube_error e;
	char s[700];

	from_body(503, "upstream connect error\r\n\tor disconnect\x01", &e);
	assert_int_equal(e.http, 503);
	assert_int_equal(e.code, 503);
	assert_string_equal(e.reason, "ServiceUnavailable");
	/* a printable copy: control characters become blanks */
	assert_string_equal(e.message, "upstream connect error   or disconnect ");
	assert_string_equal(kube_strerror(&e, s, sizeof(s)),
	                    "503 ServiceUnavailable: upstream connect error   or disconnect ");

	from_body(502, "<html><body>Bad Gateway</body></html>", &e);
	assert_string_equal(e.reason, "Unknown");
	assert_string_equal(e.message, "<html><body>Bad Gateway</body></html>");
}

static void test_json_not_a_status(void **state)
{
	struct kube_error e;

	from_body(500, "{\"error\":\"boom\"}", &e);
	assert_int_equal(e.code, 500);
	assert_string_equal(e.reason, "InternalError");
	assert_string_equal(e.message, "{\"error\":\"boom\"}");
}

static void test_long_body_truncated(void **state)
{
	struct kube_error e;
	char body[1000];

	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	from_body(400, body, &e);
	assert_string_equal(e.reason, "BadRequest");
	assert_int_equal(strlen(e.message), 200);

	/* a Status message longer than the field is cut, NUL-terminated */
	char status[1200];
	snprintf(status, sizeof(status),
	         "{\"kind\":\"Status\",\"reason\":\"%.100s\",\"message\":\"%.900s\"}", body, body);
	from_body(400, status, &e);
	assert_int_equal(strlen(e.reason), sizeof(e.reason) - 1);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
}

static void test_empty_body(void **state)
{
	static const struct {
		long http;
		const char *reason;
	} map[] = {
	    {400, "BadRequest"},    {401, "Unauthorized"},
	    {403, "Forbidden"},     {404, "NotFound"},
	    {409, "Conflict"},      {410, "Expired"},
	    {422, "Invalid"},       {429, "TooManyRequests"},
	    {500, "InternalError"}, {503, "ServiceUnavailable"},
	    {504, "Timeout"},       {418, "Unknown"},
	};
	struct kube_error e;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		from_body(map[i].http, "", &e);
		assert_int_equal(e.http, map[i].http);
		assert_int_equal(e.code, map[i].http);
		assert_string_equal(e.reason, map[i].reason);
		assert_string_equal(e.message, "");
	}
	from_body(404, NULL, &e);
	assert_string_equal(e.reason, "NotFound");
	assert_string_equal(e.message, "");
	assert_true(kube_is_not_found(&e));
	from_body(410, NULL, &e);
	assert_true(kube_is_gone(&e));
	from_body(409, NULL, &e);
	assert_true(kube_is_conflict(&e));
}

static void test_strerror_formats(void **state)
{
	struct kube_error e;
	char s[64];

	memset(&e, 0, sizeof(e));
	snprintf(e.reason, sizeof(e.reason), "Transport");
	snprintf(e.message, sizeof(e.message), "connection refused");
	assert_string_equal(kube_strerror(&e, s, sizeof(s)), "Transport: connection refused");

	memset(&e, 0, sizeof(e));
	snprintf(e.message, sizeof(e.message), "no reason");
	assert_string_equal(kube_strerror(&e, s, sizeof(s)), "error: no reason");

	memset(&e, 0, sizeof(e));
	e.http = 404;
	snprintf(e.reason, sizeof(e.reason), "NotFound");
	snprintf(e.message, sizeof(e.message),
	         "a rather long message that will not fit in the output");
	assert_ptr_equal(kube_strerror(&e, s, 20), s);
	assert_string_equal(s, "404 NotFound: a rat"); /* cut to the buffer */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_core),
	    cmocka_unit_test(test_path_group),
	    cmocka_unit_test(test_path_cluster_scoped),
	    cmocka_unit_test(test_path_subresource),
	    cmocka_unit_test(test_path_url_encoding),
	    cmocka_unit_test(test_path_appends_and_caps),
	    cmocka_unit_test(test_api_version),
	    cmocka_unit_test(test_status_404),
	    cmocka_unit_test(test_status_409),
	    cmocka_unit_test(test_status_410),
	    cmocka_unit_test(test_status_422),
	    cmocka_unit_test(test_status_without_reason_or_code),
	    cmocka_unit_test(test_non_json_body),
	    cmocka_unit_test(test_json_not_a_status),
	    cmocka_unit_test(test_long_body_truncated),
	    cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_strerror_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

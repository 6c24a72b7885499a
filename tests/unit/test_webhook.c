/*
 * Tests for webhook/admission and webhook/metrics: AdmissionReview decoding
 * (every 400), the response review (uid echo, 403 status, warnings, base64
 * JSONPatch), fail-closed answers, and the Prometheus text.
 * JSON here is written with ' for " (see Q()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "buf.h"
#include "json.h"
#include "memlookup.h"
#include "metrics.h"
#include "unit.h"
#include "util.h"

static char *Q(const char *s)
{
	char *t = strdup(s);

	assert_non_null(t);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

/* a review of kind/op in namespace ns1 for obj/old (JSON text or NULL) */
static char *review(const char *kind, const char *op, const char *obj, const char *old)
{
	char *b = malloc(1 << 16);

	assert_non_null(b);
	snprintf(b, 1 << 16,
	         "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{"
	         "'uid':'705ab4f5-6393-11e8-b7cc-42010a800002','kind':{'group':'vecward.io',"
	         "'version':'v1alpha1','kind':'%s'},'resource':{'group':'vecward.io','version':"
	         "'v1alpha1','resource':'x'},'namespace':'ns1','operation':'%s'%s%s%s%s,"
	         "'userInfo':{'username':'admin'},'dryRun':false}}",
	         kind, op, obj ? ",'object':" : "", obj ? obj : "", old ? ",'oldObject':" : "",
	         old ? old : "");
	char *q = Q(b);
	free(b);
	return q;
}

struct fx {
	struct wh_memlookup *m;
	struct wh_lookup lk;
	struct buf resp;
	struct wh_outcome o;
	yajl_val r; /* parsed response review */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->m = wh_memlookup_new();
	wh_memlookup_bind(f->m, &f->lk);
	assert_int_equal(
	    wh_memlookup_add_json(f->m, WH_KIND_NAMESPACE, "{\"metadata\":{\"name\":\"ns1\"}}"), 0);
	buf_init(&f->resp, 1 << 24);
	*state = f;
	return 0;
}

static void reset(struct fx *f)
{
	buf_free(&f->resp);
	wh_outcome_free(&f->o);
	yajl_tree_free(f->r);
	f->r = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	reset(f);
	wh_memlookup_free(f->m);
	free(f);
	return 0;
}

/* Run ep on body; for 200 parse the response into f->r and check the frame. */
static void admit(struct fx *f, enum wh_endpoint ep, const char *body, size_t len)
{
	reset(f);
	assert_int_equal(wh_admit(ep, body, len, &f->lk, &f->resp, &f->o), 0);
	if (f->o.http != 200)
		return;
	assert_int_equal(json_parse(f->resp.ptr, f->resp.len, 64, 0, &f->r, NULL, 0), 0);
	assert_string_equal(json_get_str(f->r, "apiVersion", NULL), "admission.k8s.io/v1");
	assert_string_equal(json_get_str(f->r, "kind", NULL), "AdmissionReview");
	assert_string_equal(json_get_str(f->r, "response", "uid", NULL),
	                    "705ab4f5-6393-11e8-b7cc-42010a800002");
}

static void admit_s(struct fx *f, enum wh_endpoint ep, char *body)
{
	admit(f, ep, body, strlen(body));
	free(body);
}

#define CLUSTER(spec)                                                                              \
	"{'apiVersion':'vecward.io/"                                                               \
	"v1alpha1','kind':'Cluster','metadata':{'name':'c1','namespace':'ns1'},'spec':" spec "}"

static void test_validate_allowed(void **state)
{
	struct fx *f = *state;

	admit_s(f, WH_EP_VALIDATE,
	        review("Cluster", "CREATE", CLUSTER("{'tls':{'mode':'mutual'}}"), NULL));
	assert_int_equal(f->o.http, 200);
	assert_string_equal(f->o.result, "allowed");
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	assert_null(json_get(f->r, "response", "status", NULL));
	assert_null(json_get(f->r, "response", "warnings", NULL));
	assert_null(json_get(f->r, "response", "patch", NULL));
	assert_string_equal(f->o.kind, "Cluster");
	assert_string_equal(f->o.op, "CREATE");
	assert_string_equal(f->o.object, "ns1/c1");
}

static void test_validate_denied_with_403_and_all_messages(void **state)
{
	struct fx *f = *state;

	admit_s(
	    f, WH_EP_VALIDATE,
	    review("Cluster", "CREATE",
	           CLUSTER("{'tls':{'mode':'disabled'},'network':{'allowedCIDRs':['0.0.0.0/0']},"
	                   "'audit':{'enabled':false}}"),
	           NULL));
	assert_int_equal(f->o.http, 200);
	assert_string_equal(f->o.result, "denied");
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 0);
	assert_int_equal(json_get_int(f->r, 0, "response", "status", "code", NULL), 403);
	assert_string_equal(json_get_str(f->r, "response", "status", "reason", NULL), "Forbidden");
	assert_string_equal(
	    json_get_str(f->r, "response", "status", "message", NULL),
	    "VW001: spec.tls.mode disabled is refused: passwords and vectors cross the network in "
	    "plaintext; use server (the default) or mutual, or for development only label "
	    "namespace ns1 vecward.io/allow-insecure=true; VW004: spec.network.allowedCIDRs[0] "
	    "\"0.0.0.0/0\" allows every address on the network; list your client networks instead "
	    "(the Cluster's own namespace always has access)");
	/* warnings travel with a denial too */
	yajl_val w = json_get(f->r, "response", "warnings", NULL);
	assert_int_equal(json_array_len(w), 1);
	assert_true(strncmp(json_str(json_array_at(w, 0)), "VW014: spec.audit.enabled false", 31) ==
	            0);
}

static void test_validate_warnings_only(void **state)
{
	struct fx *f = *state;

	/* GitOps order: the User's Cluster does not exist yet */
	admit_s(
	    f, WH_EP_VALIDATE,
	    review(
	        "User", "CREATE",
	        "{'kind':'User','metadata':{'name':'app','namespace':'ns1'},'spec':{'clusterRef':"
	        "{'name':'prod'},'username':'app'}}",
	        NULL));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	yajl_val w = json_get(f->r, "response", "warnings", NULL);
	assert_int_equal(json_array_len(w), 1);
	assert_string_equal(
	    json_str(json_array_at(w, 0)),
	    "VW025: Cluster prod (spec.clusterRef) does not exist yet; admitted, the "
	    "operator creates the user once it appears and checks roles and TLS then");
	assert_int_equal(f->o.res.n_warnings, 1);
}

static void test_validate_fails_closed(void **state)
{
	struct fx *f = *state;
	char *body = review("User", "CREATE",
	                    "{'metadata':{'name':'app','namespace':'ns1'},'spec':{'clusterRef':"
	                    "{'name':'prod'},'username':'app'}}",
	                    NULL);

	wh_memlookup_fail(f->m, WH_MEM_FAIL_ALL, "dial tcp 127.0.0.1:6443: connection refused");
	admit(f, WH_EP_VALIDATE, body, strlen(body));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 0);
	assert_int_equal(json_get_int(f->r, 0, "response", "status", "code", NULL), 403);
	assert_string_equal(json_get_str(f->r, "response", "status", "message", NULL),
	                    "VW000: cannot decide: reading Cluster ns1/prod failed (dial tcp "
	                    "127.0.0.1:6443: connection refused); denied rather than admitted "
	                    "unchecked, retry when the API server answers");
	/* and with no lookup at all */
	reset(f);
	assert_int_equal(wh_admit(WH_EP_VALIDATE, body, strlen(body), NULL, &f->resp, &f->o), 0);
	assert_string_equal(f->o.result, "denied");
	free(body);
}

static void test_validate_update_and_delete(void **state)
{
	struct fx *f = *state;
	const char *key =
	    "{'kind':'EncryptionKey','metadata':{'name':'prod-key','namespace':'ns1'},"
	    "'spec':{'provider':'aws-kms','keyID':'arn:aws:kms:us-east-1:111122223333:"
	    "key/1234abcd-12ab-34cd-56ef-1234567890ab'}}";

	assert_int_equal(
	    wh_memlookup_add_json(f->m, WH_KIND_CLUSTER,
	                          "{\"metadata\":{\"name\":\"prod\",\"namespace\":\"ns1\"},"
	                          "\"spec\":{\"region\":\"us-east-1\",\"encryption\":"
	                          "{\"keyRef\":{\"name\":\"prod-key\"}}}}"),
	    0);
	admit_s(f, WH_EP_VALIDATE, review("EncryptionKey", "DELETE", NULL, key));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 0);
	assert_true(strncmp(json_get_str(f->r, "response", "status", "message", NULL),
	                    "VW034: EncryptionKey prod-key is used by Cluster prod", 53) == 0);
	assert_string_equal(f->o.op, "DELETE");
	assert_string_equal(f->o.object, "ns1/prod-key");
	/* UPDATE: the old object is used */
	admit_s(
	    f, WH_EP_VALIDATE,
	    review("Cluster", "UPDATE",
	           CLUSTER("{'region':'us-east-1','encryption':{'keyRef':{'name':'other'}}}"),
	           CLUSTER("{'region':'us-east-1','encryption':{'keyRef':{'name':'prod-key'}}}")));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 0);
	assert_true(strncmp(json_get_str(f->r, "response", "status", "message", NULL),
	                    "VW007: spec.encryption.keyRef can not change once set", 53) == 0);
}

static void test_mutate_patch(void **state)
{
	struct fx *f = *state;
	struct buf dec = BUF_INIT(1 << 20);
	char *exp;

	admit_s(f, WH_EP_MUTATE,
	        review("User", "CREATE",
	               "{'metadata':{'name':'reader1','namespace':'ns1'},'spec':{'clusterRef':"
	               "{'name':'prod'},'tls':{'clientCertificate':true}}}",
	               NULL));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	assert_string_equal(json_get_str(f->r, "response", "patchType", NULL), "JSONPatch");
	const char *p = json_get_str(f->r, "response", "patch", NULL);
	assert_non_null(p);
	assert_int_equal(b64_decode(p, strlen(p), &dec), 0);
	exp = Q("[{'op':'add','path':'/spec/username','value':'reader1'}]");
	assert_string_equal(buf_str(&dec), exp);
	free(exp);
	assert_int_equal(f->o.patch_ops, 1);
	buf_free(&dec);
	/* nothing to add: no patch at all */
	admit_s(f, WH_EP_MUTATE,
	        review("EncryptionKey", "CREATE",
	               "{'metadata':{'name':'k','namespace':'ns1'},'spec':{'provider':'local',"
	               "'region':'x','rotationPeriod':'720h'}}",
	               NULL));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	assert_null(json_get(f->r, "response", "patch", NULL));
	assert_null(json_get(f->r, "response", "patchType", NULL));
	/* DELETE: nothing to default */
	admit_s(f, WH_EP_MUTATE,
	        review("EncryptionKey", "DELETE", NULL, "{'metadata':{'name':'k'}}"));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	assert_null(json_get(f->r, "response", "patch", NULL));
	/* mutate never looks anything up and never denies a spec */
	wh_memlookup_fail(f->m, WH_MEM_FAIL_ALL, "down");
	admit_s(f, WH_EP_MUTATE,
	        review("Cluster", "CREATE", CLUSTER("{'tls':{'mode':'disabled'}}"), NULL));
	assert_int_equal(json_get_bool(f->r, -1, "response", "allowed", NULL), 1);
	assert_int_equal(f->o.patch_ops, 11);
	assert_int_equal(wh_memlookup_calls(f->m), 0);
}

static void bad(struct fx *f, const char *body, size_t len, const char *why)
{
	char exp[1024];

	admit(f, WH_EP_VALIDATE, body, len);
	assert_int_equal(f->o.http, 400);
	assert_string_equal(f->o.result, "invalid");
	snprintf(exp, sizeof(exp), "vecward-webhook: bad AdmissionReview: %s\n", why);
	if (exp[strlen(exp) - 2] == '*') /* a prefix */
		assert_true(strncmp(buf_str(&f->resp), exp, strlen(exp) - 2) == 0);
	else
		assert_string_equal(buf_str(&f->resp), exp);
	/* mutate decodes the same way */
	admit(f, WH_EP_MUTATE, body, len);
	assert_int_equal(f->o.http, 400);
}

static void bad_q(struct fx *f, const char *body, const char *why)
{
	char *b = Q(body);
	bad(f, b, strlen(b), why);
	free(b);
}

static void test_bad_requests_get_400(void **state)
{
	struct fx *f = *state;
	char *b;

	bad(f, "", 0, "empty request body: expected an AdmissionReview");
	bad(f, "{\"apiVersion\":", 14, "the body is not valid JSON (malformed json: *");
	bad(f, "[]", 2, "the body is not a JSON object: expected an AdmissionReview");
	bad(f, "\"x\"", 3, "the body is not a JSON object: expected an AdmissionReview");
	bad_q(f, "{'apiVersion':'admission.k8s.io/v1beta1','kind':'AdmissionReview','request':{}}",
	      "apiVersion must be admission.k8s.io/v1, got admission.k8s.io/v1beta1");
	bad_q(f, "{'kind':'AdmissionReview'}",
	      "apiVersion must be admission.k8s.io/v1, got (missing)");
	bad_q(f, "{'apiVersion':'admission.k8s.io/v1','kind':'ConversionReview'}",
	      "kind must be AdmissionReview, got ConversionReview");
	bad_q(f, "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview'}",
	      "the AdmissionReview has no request object");
	bad_q(f,
	      "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'kind':{}}}",
	      "request.uid is missing, empty or longer than 128 characters");
	bad_q(f,
	      "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':''}}",
	      "request.uid is missing, empty or longer than 128 characters");
	b = review("Cluster", "CREATE", CLUSTER("{}"), NULL);
	/* wrong kinds and versions */
	char *pod = strdup(b);
	char *at = strstr(pod, "\"group\":\"vecward.io\"");
	memcpy(at, "\"group\":\"apps.k8s.i\"", 20);
	bad(f, pod, strlen(pod),
	    "request.kind apps.k8s.i/v1alpha1 Cluster is not handled here: vecward-webhook admits "
	    "only vecward.io/v1alpha1 Cluster, User and EncryptionKey");
	free(pod);
	free(b);
	b = review("Pod", "CREATE", "{}", NULL);
	bad(f, b, strlen(b),
	    "request.kind vecward.io/v1alpha1 Pod is not handled here: vecward-webhook admits only "
	    "vecward.io/v1alpha1 Cluster, User and EncryptionKey");
	free(b);
	b = review("Cluster", "CONNECT", "{}", NULL);
	bad(f, b, strlen(b), "request.operation CONNECT is not CREATE, UPDATE or DELETE");
	free(b);
	b = review("Cluster", "CREATE", NULL, NULL);
	bad(f, b, strlen(b), "request.object is missing for CREATE");
	free(b);
	b = review("Cluster", "UPDATE", CLUSTER("{}"), NULL);
	bad(f, b, strlen(b), "request.oldObject is missing for UPDATE");
	free(b);
	b = review("Cluster", "DELETE", NULL, NULL);
	bad(f, b, strlen(b), "request.oldObject is missing for DELETE");
	free(b);
	b = review("User", "CREATE", CLUSTER("{}"), NULL);
	bad(f, b, strlen(b), "the object's kind Cluster does not match request.kind User");
	free(b);
	bad_q(f,
	      "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':'u',"
	      "'kind':{'group':'vecward.io','version':'v1alpha1','kind':'Cluster'},'operation':"
	      "'CREATE','object':{}}}",
	      "request.namespace is missing: vecward kinds are namespaced");
}

static void test_limits_get_400(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT(WH_MAX_BODY + 16);
	char *deep;
	size_t n = 0;

	/* nested deeper than WH_MAX_DEPTH */
	deep = malloc(400);
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	bad(f, deep, n, "the body is not valid JSON (json nested too deeply)");
	free(deep);
	/* larger than the cap, even if it would parse */
	buf_addc(&b, '"');
	while (b.len < WH_MAX_BODY)
		buf_adds(&b, "aaaaaaaaaaaaaaaa");
	buf_addc(&b, '"');
	bad(f, b.ptr, b.len, "request body larger than 3145728 bytes");
	buf_free(&b);
	/* a uid full of control characters is echoed, escaped */
	char *r = review("Cluster", "CREATE", CLUSTER("{}"), NULL);
	char *u = strstr(r, "705ab4f5");
	memcpy(u, "\\u0001\\\"</", 10);
	reset(f);
	assert_int_equal(wh_admit(WH_EP_VALIDATE, r, strlen(r), &f->lk, &f->resp, &f->o), 0);
	assert_int_equal(f->o.http, 200);
	assert_int_equal(json_parse(f->resp.ptr, f->resp.len, 64, 0, &f->r, NULL, 0), 0);
	assert_true(strncmp(json_get_str(f->r, "response", "uid", NULL), "\x01\"</", 4) == 0);
	free(r);
}

static void test_encode_escapes_and_is_json(void **state)
{
	struct wh_finding w = {"VW014", (char *)"quote \" backslash \\ tab\t"};
	struct wh_result res = {NULL, 0, &w, 1};
	struct buf out = BUF_INIT(1 << 16);
	yajl_val v = NULL;

	assert_int_equal(wh_review_encode("uid-1", 0, "line \"one\"", &res, "[]", &out), 0);
	assert_int_equal(json_parse(out.ptr, out.len, 64, 0, &v, NULL, 0), 0);
	assert_string_equal(json_get_str(v, "response", "status", "message", NULL), "line \"one\"");
	assert_string_equal(json_str(json_array_at(json_get(v, "response", "warnings", NULL), 0)),
	                    "quote \" backslash \\ tab\t");
	assert_string_equal(json_get_str(v, "response", "patch", NULL), "W10=");
	assert_string_equal(json_get_str(v, "response", "status", "status", NULL), "Failure");
	yajl_tree_free(v);
	buf_free(&out);
}

static void test_metrics_text(void **state)
{
	struct wh_metrics m;
	struct buf out = BUF_INIT(1 << 20);
	struct wh_finding d[2] = {{"VW001", (char *)"x"}, {"VW004", (char *)"y"}};
	struct wh_finding w[1] = {{"VW025", (char *)"z"}};
	struct wh_result res = {d, 2, w, 1};
	const char *s;

	wh_metrics_init(&m);
	wh_metrics_observe(&m, WH_M_VALIDATE, WH_R_DENIED, &res, 0.003);
	wh_metrics_observe(&m, WH_M_VALIDATE, WH_R_ALLOWED, NULL, 0.0005);
	wh_metrics_observe(&m, WH_M_VALIDATE, WH_R_ALLOWED, NULL, 7);
	wh_metrics_observe(&m, WH_M_MUTATE, WH_R_INVALID, NULL, 0.02);
	wh_metrics_observe(&m, WH_M_HEALTHZ, WH_R_OK, NULL, 0);
	m.cert_not_after = 1800000000;
	m.reloads_ok = 2;
	assert_int_equal(wh_metrics_render(&m, &out), 0);
	s = buf_str(&out);
	const char *want[] = {
	    "# TYPE vecward_webhook_requests_total counter\n",
	    "vecward_webhook_requests_total{endpoint=\"validate\",result=\"allowed\"} 2\n",
	    "vecward_webhook_requests_total{endpoint=\"validate\",result=\"denied\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"mutate\",result=\"invalid\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"mutate\",result=\"allowed\"} 0\n",
	    "vecward_webhook_requests_total{endpoint=\"healthz\",result=\"ok\"} 1\n",
	    "vecward_webhook_denials_total{rule=\"VW001\"} 1\n",
	    "vecward_webhook_denials_total{rule=\"VW004\"} 1\n",
	    "vecward_webhook_denials_total{rule=\"VW036\"} 0\n",
	    "vecward_webhook_warnings_total{rule=\"VW025\"} 1\n",
	    "# TYPE vecward_webhook_request_duration_seconds histogram\n",
	    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.001\"} "
	    "1\n",
	    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.005\"} "
	    "2\n",
	    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"validate\",le=\"2.5\"} 2\n",
	    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"validate\",le=\"+Inf\"} "
	    "3\n",
	    "vecward_webhook_request_duration_seconds_count{endpoint=\"validate\"} 3\n",
	    "vecward_webhook_request_duration_seconds_sum{endpoint=\"validate\"} 7.003500\n",
	    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"mutate\",le=\"0.025\"} 1\n",
	    "vecward_webhook_certificate_reloads_total{result=\"ok\"} 2\n",
	    "vecward_webhook_certificate_not_after_timestamp_seconds 1800000000\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(s, want[i]))
			fail_msg("metrics lack %s", want[i]);
	/* health endpoints that never ran are not listed */
	assert_null(strstr(s, "endpoint=\"readyz\""));
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_validate_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validate_denied_with_403_and_all_messages, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_validate_warnings_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validate_fails_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validate_update_and_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mutate_patch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests_get_400, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_get_400, setup, teardown),
	    cmocka_unit_test(test_encode_escapes_and_is_json),
	    cmocka_unit_test(test_metrics_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

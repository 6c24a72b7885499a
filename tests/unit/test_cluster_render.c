/* Tests for operator/render/cluster_render: spec in, exact objects out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster_render.h"
#include "json.h"
#include "unit.h"
#include "util.h"

static const char *CR =
    "{\"apiVersion\":\"vecward.io/v1alpha1\",\"kind\":\"Cluster\","
    "\"metadata\":{\"name\":\"prod\",\"namespace\":\"search\",\"uid\":\"u-1\",\"generation\":3},"
    "\"spec\":{\"version\":\"v2.6.1\",\"storage\":{\"size\":\"50Gi\",\"storageClassName\":\"fast\"}"
    ","
    "\"tls\":{\"mode\":\"mutual\",\"internal\":true,\"duration\":\"720h\",\"renewBefore\":\"24h\"},"
    "\"network\":{\"allowedCIDRs\":[\"10.20.0.0/16\"],\"allowedNamespaces\":[\"app\"]},"
    "\"encryption\":{\"keyRef\":{\"name\":\"k\"}},"
    "\"audit\":{\"enabled\":true,\"output\":\"file\"}}}";

static yajl_val parse(const char *s)
{
	yajl_val v = NULL;
	assert_int_equal(json_parse(s, strlen(s), 64, 0, &v, NULL, 0), 0);
	return v;
}

static void view(const char *cr, yajl_val *tree, struct cluster_view *v)
{
	char err[256];
	*tree = parse(cr);
	assert_int_equal(cluster_view_parse(*tree, v, err, sizeof(err)), 0);
}

static void test_view_reads_spec(void **state)
{
	yajl_val t;
	struct cluster_view v;

	view(CR, &t, &v);
	assert_string_equal(v.name, "prod");
	assert_string_equal(v.ns, "search");
	assert_string_equal(v.image, "milvusdb/milvus:v2.6.1");
	assert_int_equal(v.tls_mode, TLS_MUTUAL);
	assert_true(v.tls_internal);
	assert_true(v.duration_s == 720 * 3600.0);
	assert_true(v.renew_before_s == 24 * 3600.0);
	assert_string_equal(v.storage_size, "50Gi");
	assert_true(v.root_generated);
	assert_string_equal(v.encryption_key, "k");
	assert_string_equal(v.audit_output, "file");
	assert_int_equal(v.recycle_bin_days, 30);
	yajl_tree_free(t);
}

static void test_view_defaults(void **state)
{
	yajl_val t;
	struct cluster_view v;

	view("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"}}", &t, &v);
	assert_int_equal(v.tls_mode, TLS_SERVER);
	assert_true(v.tls_internal);
	assert_true(v.duration_s == 2160 * 3600.0);
	assert_true(v.renew_before_s == 360 * 3600.0);
	assert_string_equal(v.key_algorithm, "ECDSA-P256");
	assert_string_equal(v.storage_size, "10Gi");
	assert_int_equal(v.replicas, 1);
	assert_true(v.audit_enabled);
	assert_string_equal(v.image, "milvusdb/milvus:v2.6.0");
	yajl_tree_free(t);
}

static void expect_view_error(const char *spec, const char *needle)
{
	char doc[1024], err[256] = "";
	struct cluster_view v;
	yajl_val t;

	snprintf(doc, sizeof(doc),
	         "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},\"spec\":%s}",
	         spec);
	t = parse(doc);
	assert_int_equal(cluster_view_parse(t, &v, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not contain '%s'", err, needle);
	yajl_tree_free(t);
}

static void test_view_rejects_bad_specs(void **state)
{
	expect_view_error("{\"tls\":{\"renewBefore\":\"800h\",\"duration\":\"720h\"}}",
	                  "spec.tls.renewBefore");
	expect_view_error("{\"tls\":{\"duration\":\"30m\"}}", "spec.tls.duration");
	expect_view_error("{\"tls\":{\"duration\":\"20000h\"}}", "825 days");
	expect_view_error("{\"tls\":{\"mode\":\"maybe\"}}", "spec.tls.mode");
	expect_view_error("{\"replicas\":3}", "spec.replicas");
	expect_view_error("{\"mode\":\"distributed\"}", "spec.mode");
}

static void test_milvus_config(void **state)
{
	yajl_val t;
	struct cluster_view v;
	char *y;

	view(CR, &t, &v);
	y = cluster_render_milvus_config(&v);
	assert_non_null(y);
	assert_non_null(strstr(y, "    authorizationEnabled: true\n"));
	assert_non_null(strstr(y, "    tlsMode: 2\n"));
	assert_non_null(strstr(y, "    internaltlsEnabled: true\n"));
	assert_non_null(strstr(y, "  serverPemPath: /milvus/tls/server/tls.crt\n"));
	assert_non_null(strstr(y, "  caPemPath: /milvus/tls/server/ca.crt\n"));
	assert_non_null(strstr(y, "  sni: prod.search.svc.cluster.local\n"));
	assert_non_null(strstr(y, "    enable: true\n"));
	assert_non_null(strstr(y, "    filename: access.log\n"));
	assert_non_null(strstr(y, "    port: 8080\n"));
	/* nothing secret can be in it: no password key at all */
	assert_null(strstr(y, "Password"));
	assert_null(strstr(y, "password"));
	free(y);
	yajl_tree_free(t);

	view("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},"
	     "\"spec\":{\"tls\":{\"mode\":\"disabled\",\"internal\":false},\"audit\":{\"enabled\":"
	     "false}}}",
	     &t, &v);
	y = cluster_render_milvus_config(&v);
	assert_non_null(strstr(y, "    tlsMode: 0\n"));
	assert_non_null(strstr(y, "    internaltlsEnabled: false\n"));
	assert_null(strstr(y, "serverPemPath"));
	assert_non_null(strstr(y, "    enable: false\n"));
	free(y);
	yajl_tree_free(t);
}

static void test_deployment_is_restricted(void **state)
{
	yajl_val t, d, c, pod;
	struct cluster_view v;
	char *j;

	view(CR, &t, &v);
	j = cluster_render_deployment(&v, "abc123");
	assert_non_null(j);
	d = parse(j);
	pod = json_get(d, "spec", "template", "spec", NULL);
	c = json_array_at(json_get(pod, "containers", NULL), 0);
	assert_string_equal(json_get_str(d, "metadata", "name", NULL), "prod");
	assert_string_equal(
	    json_get_str(json_array_at(json_get(d, "metadata", "ownerReferences", NULL), 0), "uid",
	                 NULL),
	    "u-1");
	assert_string_equal(json_get_str(d, "spec", "template", "metadata", "annotations",
	                                 "vecward.io/config-hash", NULL),
	                    "abc123");
	assert_int_equal(json_get_bool(pod, -1, "securityContext", "runAsNonRoot", NULL), 1);
	assert_string_equal(json_get_str(pod, "securityContext", "seccompProfile", "type", NULL),
	                    "RuntimeDefault");
	assert_int_equal(json_get_bool(pod, -1, "automountServiceAccountToken", NULL), 0);
	assert_int_equal(json_get_bool(c, -1, "securityContext", "allowPrivilegeEscalation", NULL),
	                 0);
	assert_int_equal(json_get_bool(c, -1, "securityContext", "readOnlyRootFilesystem", NULL),
	                 1);
	assert_string_equal(json_str(json_array_at(
	                        json_get(c, "securityContext", "capabilities", "drop", NULL), 0)),
	                    "ALL");
	assert_int_equal(json_get_int(c, 0, "readinessProbe", "httpGet", "port", NULL), 9091);
	assert_int_equal(json_get_int(c, 0, "livenessProbe", "httpGet", "port", NULL), 9091);
	assert_string_equal(json_get_str(json_array_at(json_get(c, "env", NULL), 0), "valueFrom",
	                                 "secretKeyRef", "name", NULL),
	                    "prod-root");
	/* the only Secret mounted is the server certificate: never the CA key */
	{
		yajl_val vols = json_get(pod, "volumes", NULL);
		int secrets = 0;
		for (size_t i = 0; i < json_array_len(vols); i++) {
			const char *s =
			    json_get_str(json_array_at(vols, i), "secret", "secretName", NULL);
			if (s) {
				secrets++;
				assert_string_equal(s, "prod-server-tls");
			}
		}
		assert_int_equal(secrets, 1);
	}
	yajl_tree_free(d);
	free(j);
	/* pure: the same input renders the same bytes */
	{
		char *a = cluster_render_deployment(&v, "abc123"),
		     *b = cluster_render_deployment(&v, "abc123");
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	yajl_tree_free(t);
}

static void test_netpols(void **state)
{
	yajl_val t, np;
	struct cluster_view v;
	char *out[CLUSTER_NETPOLS];
	int n;

	view(CR, &t, &v);
	n = cluster_render_netpols(&v, "vecward-system", NULL, out);
	assert_int_equal(n, 5);
	np = parse(out[0]);
	assert_string_equal(json_get_str(np, "metadata", "name", NULL), "prod-default-deny");
	assert_int_equal(json_array_len(json_get(np, "spec", "policyTypes", NULL)), 2);
	assert_null(json_get(np, "spec", "ingress", NULL));
	assert_null(json_get(np, "spec", "egress", NULL));
	yajl_tree_free(np);
	np = parse(out[1]);
	{
		yajl_val from =
		    json_get(json_array_at(json_get(np, "spec", "ingress", NULL), 0), "from", NULL);
		yajl_val ports = json_get(json_array_at(json_get(np, "spec", "ingress", NULL), 0),
		                          "ports", NULL);
		assert_int_equal(json_array_len(from), 3); /* own namespace, app, the CIDR */
		assert_string_equal(json_get_str(json_array_at(from, 1), "namespaceSelector",
		                                 "matchLabels", "kubernetes.io/metadata.name",
		                                 NULL),
		                    "app");
		assert_string_equal(json_get_str(json_array_at(from, 2), "ipBlock", "cidr", NULL),
		                    "10.20.0.0/16");
		assert_int_equal(json_array_len(ports), 2);
		assert_int_equal(json_get_int(json_array_at(ports, 0), 0, "port", NULL), 19530);
		assert_int_equal(json_get_int(json_array_at(ports, 1), 0, "port", NULL), 8080);
	}
	yajl_tree_free(np);
	np = parse(out[2]);
	assert_string_equal(
	    json_get_str(
	        json_array_at(
	            json_get(json_array_at(json_get(np, "spec", "ingress", NULL), 0), "from", NULL),
	            0),
	        "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name", NULL),
	    "vecward-system");
	yajl_tree_free(np);
	np = parse(out[4]);
	/* DNS plus the KMS egress because encryption is set */
	assert_int_equal(json_array_len(json_get(np, "spec", "egress", NULL)), 2);
	yajl_tree_free(np);
	for (int i = 0; i < n; i++)
		free(out[i]);
	yajl_tree_free(t);
}

static void test_secret_is_base64(void **state)
{
	yajl_val t, s;
	struct cluster_view v;
	const char *keys[] = {"username", "password"};
	const char *vals[] = {"root", "pw:1"};
	char *j;

	view(CR, &t, &v);
	j = cluster_render_secret(&v, "prod-root", "kubernetes.io/basic-auth", keys, vals, 2);
	s = parse(j);
	assert_string_equal(json_get_str(s, "type", NULL), "kubernetes.io/basic-auth");
	assert_string_equal(json_get_str(s, "data", "username", NULL), "cm9vdA==");
	assert_string_equal(json_get_str(s, "data", "password", NULL), "cHc6MQ==");
	assert_null(strstr(j, "pw:1"));
	yajl_tree_free(s);
	cluster_free_secret_json(j);
	yajl_tree_free(t);
}

static void test_service_and_pvc(void **state)
{
	yajl_val t, o;
	struct cluster_view v;
	char *j;

	view(CR, &t, &v);
	j = cluster_render_service(&v);
	o = parse(j);
	assert_int_equal(json_array_len(json_get(o, "spec", "ports", NULL)), 3);
	assert_string_equal(json_get_str(o, "spec", "selector", "vecward.io/cluster", NULL),
	                    "prod");
	yajl_tree_free(o);
	free(j);
	j = cluster_render_pvc(&v);
	o = parse(j);
	assert_string_equal(json_get_str(o, "metadata", "name", NULL), "prod-data");
	assert_string_equal(json_get_str(o, "spec", "resources", "requests", "storage", NULL),
	                    "50Gi");
	assert_string_equal(json_get_str(o, "spec", "storageClassName", NULL), "fast");
	yajl_tree_free(o);
	free(j);
	yajl_tree_free(t);
}

/* ---- the cipher plugin (spec.encryption.cipherPlugin) --------------------------- */

#define ARN "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

static const char *CR_CIPHER =
    "{\"apiVersion\":\"vecward.io/v1alpha1\",\"kind\":\"Cluster\","
    "\"metadata\":{\"name\":\"prod\",\"namespace\":\"search\",\"uid\":\"u-1\"},"
    "\"spec\":{\"image\":\"registry.example.com/milvus-cipher@sha256:0123\","
    "\"encryption\":{\"keyRef\":{\"name\":\"k\"},\"databases\":[\"default\",\"sales\"],"
    "\"cipherPlugin\":{\"soPathGo\":\"/milvus/plugins/cipher.so\","
    "\"soPathCpp\":\"/milvus/lib/libcipher.so\","
    "\"roleARN\":\"arn:aws:iam::111122223333:role/milvus-kms\","
    "\"externalID\":\"ext-42:a/b\"}}}}";

/* the Deployment renders of Clusters without a cipher plugin are the bytes they were
 * before the plugin existed (fixtures rendered by that code): no pod restarts on upgrade */
static void expect_fixture(const char *cr, const char *fixture)
{
	struct buf want = BUF_INIT(1024 * 1024);
	yajl_val t;
	struct cluster_view v;
	char path[256], *j;

	snprintf(path, sizeof(path), UNIT_FIXTURES "/render/%s", fixture);
	assert_int_equal(read_file(path, want.max, &want), 0);
	view(cr, &t, &v);
	assert_null(v.cipher_so_go);
	j = cluster_render_deployment(&v, "abc123");
	assert_non_null(j);
	assert_true(want.len > 0 && want.ptr[want.len - 1] == '\n');
	want.ptr[--want.len] = '\0';
	assert_string_equal(j, want.ptr);
	free(j);
	buf_free(&want);
	yajl_tree_free(t);
}

static void test_no_plugin_renders_unchanged(void **state)
{
	expect_fixture(CR, "deployment-prod.json");
	expect_fixture("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},"
	               "\"spec\":{\"tls\":{\"mode\":\"disabled\",\"internal\":false},"
	               "\"audit\":{\"enabled\":false}}}",
	               "deployment-plain.json");
}

static void test_view_reads_cipher_plugin(void **state)
{
	yajl_val t;
	struct cluster_view v;

	view(CR_CIPHER, &t, &v);
	assert_string_equal(v.cipher_so_go, "/milvus/plugins/cipher.so");
	assert_string_equal(v.cipher_so_cpp, "/milvus/lib/libcipher.so");
	assert_string_equal(v.cipher_role_arn, "arn:aws:iam::111122223333:role/milvus-kms");
	assert_string_equal(v.cipher_external_id, "ext-42:a/b");
	assert_int_equal(json_array_len(v.encryption_databases), 2);
	assert_string_equal(json_str(json_array_at(v.encryption_databases, 1)), "sales");
	yajl_tree_free(t);

	/* without cipherPlugin nothing of it is set; databases are read either way */
	view(CR, &t, &v);
	assert_null(v.cipher_so_go);
	assert_null(v.cipher_so_cpp);
	assert_null(v.cipher_role_arn);
	assert_null(v.cipher_external_id);
	assert_null(v.encryption_databases);
	yajl_tree_free(t);

	/* role and external ID are optional */
	view("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},\"spec\":{"
	     "\"encryption\":{\"keyRef\":{\"name\":\"k\"},\"cipherPlugin\":{"
	     "\"soPathGo\":\"/a.so\",\"soPathCpp\":\"/b.so\"}}}}",
	     &t, &v);
	assert_string_equal(v.cipher_so_go, "/a.so");
	assert_null(v.cipher_role_arn);
	assert_null(v.cipher_external_id);
	yajl_tree_free(t);
}

static void test_view_rejects_bad_cipher_plugin(void **state)
{
#define CP(x) "{\"encryption\":{\"keyRef\":{\"name\":\"k\"},\"cipherPlugin\":{" x "}}}"
#define PATHS "\"soPathGo\":\"/a.so\",\"soPathCpp\":\"/b.so\""
	expect_view_error(CP("\"soPathGo\":\"/a.so\""), "cipherPlugin.soPathCpp: required");
	expect_view_error(CP("\"soPathCpp\":\"/b.so\""), "cipherPlugin.soPathGo: required");
	expect_view_error(CP("\"soPathGo\":\"plugins/a.so\",\"soPathCpp\":\"/b.so\""),
	                  "cipherPlugin.soPathGo: required, an absolute path");
	expect_view_error(CP("\"soPathGo\":\"/a.so\",\"soPathCpp\":\"/b so\""),
	                  "cipherPlugin.soPathCpp");
	expect_view_error(CP("\"soPathGo\":\"/a.so\\nx: y\",\"soPathCpp\":\"/b.so\""),
	                  "cipherPlugin.soPathGo");
	expect_view_error(CP(PATHS ",\"roleARN\":\"arn:aws:iam::11112222333:role/r\""),
	                  "cipherPlugin.roleARN");
	expect_view_error(CP(PATHS ",\"roleARN\":\"arn:aws:kms:us-east-1:111122223333:key/k\""),
	                  "cipherPlugin.roleARN");
	expect_view_error(CP(PATHS ",\"roleARN\":\"arn:aws:iam::111122223333:role/\""),
	                  "cipherPlugin.roleARN");
	expect_view_error(CP(PATHS ",\"externalID\":\"x\""), "cipherPlugin.externalID");
	expect_view_error(CP(PATHS ",\"externalID\":\"a b\""), "cipherPlugin.externalID");
	expect_view_error("{\"encryption\":{\"cipherPlugin\":{" PATHS "}}}",
	                  "needs spec.encryption.keyRef");
	expect_view_error("{\"encryption\":{\"keyRef\":{\"name\":\"k\"},\"cipherPlugin\":[]}}",
	                  "cipherPlugin: must be an object");
	/* partitions other than aws are fine */
	{
		yajl_val t;
		struct cluster_view v;
		view(
		    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},\"spec\":" CP(
		        PATHS ",\"roleARN\":\"arn:aws-us-gov:iam::111122223333:role/p/"
		              "a+b=c,d.e@f_g-h\"") "}",
		    &t, &v);
		assert_non_null(v.cipher_role_arn);
		yajl_tree_free(t);
	}
#undef PATHS
#undef CP
}

static void test_hook_yaml(void **state)
{
	yajl_val t;
	struct cluster_view v;
	char *y;

	view(CR_CIPHER, &t, &v);
	y = cluster_render_hook_yaml(&v, ARN, 8760);
	assert_non_null(y);
	assert_string_equal(y, "# Rendered by vecward for Cluster search/prod. Do not edit: the "
	                       "operator restores it.\n"
	                       "# Read only by Milvus builds that carry a cipher plugin; "
	                       "open-source Milvus has none.\n"
	                       "cipherPlugin:\n"
	                       "  soPathGo: \"/milvus/plugins/cipher.so\"\n"
	                       "  soPathCpp: \"/milvus/lib/libcipher.so\"\n"
	                       "  defaultKmsKeyArn: \"" ARN "\"\n"
	                       "  kms:\n"
	                       "    defaultKey: \"" ARN "\"\n"
	                       "    credentials:\n"
	                       "      aws:\n"
	                       "        roleARN: \"arn:aws:iam::111122223333:role/milvus-kms\"\n"
	                       "        externalID: \"ext-42:a/b\"\n"
	                       "  rotationPeriodInHours: 8760\n");
	free(y);
	/* a key ARN is quoted whatever it holds: it can not end the scalar */
	y = cluster_render_hook_yaml(&v, "arn:\"x\\y\nz: 1", 0);
	assert_non_null(strstr(y, "    defaultKey: \"arn:\\\"x\\\\y\\x0az: 1\"\n"));
	assert_null(strstr(y, "rotationPeriodInHours")); /* <= 0: Milvus's default */
	free(y);
	assert_null(cluster_render_hook_yaml(&v, NULL, 8760));
	assert_null(cluster_render_hook_yaml(&v, "", 8760));
	yajl_tree_free(t);

	/* no role, no external ID: no credentials block */
	view("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"},\"spec\":{"
	     "\"encryption\":{\"keyRef\":{\"name\":\"k\"},\"cipherPlugin\":{"
	     "\"soPathGo\":\"/a.so\",\"soPathCpp\":\"/b.so\"}}}}",
	     &t, &v);
	y = cluster_render_hook_yaml(&v, ARN, 24);
	assert_null(strstr(y, "credentials"));
	assert_non_null(
	    strstr(y, "  kms:\n    defaultKey: \"" ARN "\"\n  rotationPeriodInHours: 24\n"));
	free(y);
	yajl_tree_free(t);

	/* no plugin: nothing */
	view(CR, &t, &v);
	assert_null(cluster_render_hook_yaml(&v, ARN, 24));
	assert_null(cluster_render_hook_secret(&v, ARN, 24));
	yajl_tree_free(t);
}

static void test_hook_secret(void **state)
{
	yajl_val t, s, root;
	struct cluster_view v;
	struct buf dec = BUF_INIT(1024 * 1024);
	const char *keys[] = {"password"};
	const char *vals[] = {"x"};
	char *j, *y, *other;

	view(CR_CIPHER, &t, &v);
	j = cluster_render_hook_secret(&v, ARN, 8760);
	assert_non_null(j);
	s = parse(j);
	assert_string_equal(json_get_str(s, "kind", NULL), "Secret");
	assert_string_equal(json_get_str(s, "type", NULL), "Opaque");
	assert_string_equal(json_get_str(s, "metadata", "name", NULL), "prod-hook");
	assert_string_equal(json_get_str(s, "metadata", "namespace", NULL), "search");
	/* owned and labelled exactly as the Cluster's other Secrets */
	other = cluster_render_secret(&v, "prod-root", NULL, keys, vals, 1);
	root = parse(other);
	{
		char *a = json_dump(json_get(s, "metadata", "labels", NULL));
		char *b = json_dump(json_get(root, "metadata", "labels", NULL));
		char *c = json_dump(json_get(s, "metadata", "ownerReferences", NULL));
		char *d = json_dump(json_get(root, "metadata", "ownerReferences", NULL));
		assert_string_equal(a, b);
		assert_string_equal(c, d);
		assert_non_null(strstr(c, "\"uid\":\"u-1\""));
		free(a);
		free(b);
		free(c);
		free(d);
	}
	assert_int_equal(json_get(s, "data", NULL)->u.object.len, 1);
	{
		const char *b64 = json_get_str(s, "data", "hook.yaml", NULL);
		assert_non_null(b64);
		assert_int_equal(b64_decode(b64, strlen(b64), &dec), 0);
	}
	y = cluster_render_hook_yaml(&v, ARN, 8760);
	assert_string_equal(dec.ptr, y);
	/* pure: the same bytes every time (the caller hashes them into the pod template) */
	{
		char *again = cluster_render_hook_secret(&v, ARN, 8760);
		char *other_key = cluster_render_hook_secret(&v, ARN "2", 8760);
		assert_string_equal(again, j);
		assert_string_not_equal(other_key, j);
		cluster_free_secret_json(again);
		cluster_free_secret_json(other_key);
	}
	assert_null(cluster_render_hook_secret(&v, NULL, 8760));
	free(y);
	buf_free(&dec);
	yajl_tree_free(root);
	cluster_free_secret_json(other);
	yajl_tree_free(s);
	cluster_free_secret_json(j);
	yajl_tree_free(t);
}

static void test_deployment_mounts_hook(void **state)
{
	yajl_val t, d, pod, c, mounts, vols;
	struct cluster_view v;
	int seen_mount = 0, seen_vol = 0, secrets = 0;
	char *j;

	view(CR_CIPHER, &t, &v);
	j = cluster_render_deployment(&v, "h1");
	d = parse(j);
	pod = json_get(d, "spec", "template", "spec", NULL);
	c = json_array_at(json_get(pod, "containers", NULL), 0);
	assert_string_equal(json_get_str(c, "image", NULL),
	                    "registry.example.com/milvus-cipher@sha256:0123");
	mounts = json_get(c, "volumeMounts", NULL);
	for (size_t i = 0; i < json_array_len(mounts); i++) {
		yajl_val m = json_array_at(mounts, i);
		if (strcmp(json_get_str(m, "name", NULL), "hook") != 0)
			continue;
		seen_mount++;
		assert_int_equal(i, 1); /* right after user.yaml */
		assert_string_equal(json_get_str(m, "mountPath", NULL),
		                    "/milvus/configs/hook.yaml");
		assert_string_equal(json_get_str(m, "subPath", NULL), "hook.yaml");
		assert_int_equal(json_get_bool(m, 0, "readOnly", NULL), 1);
	}
	assert_string_equal(json_get_str(json_array_at(mounts, 0), "mountPath", NULL),
	                    "/milvus/configs/user.yaml");
	vols = json_get(pod, "volumes", NULL);
	for (size_t i = 0; i < json_array_len(vols); i++) {
		yajl_val vol = json_array_at(vols, i);
		const char *sn = json_get_str(vol, "secret", "secretName", NULL);
		if (sn)
			secrets++;
		if (strcmp(json_get_str(vol, "name", NULL), "hook") != 0)
			continue;
		seen_vol++;
		assert_string_equal(sn, "prod-hook");
		assert_int_equal(json_get_int(vol, 0, "secret", "defaultMode", NULL), 0440);
	}
	assert_int_equal(seen_mount, 1);
	assert_int_equal(seen_vol, 1);
	assert_int_equal(secrets, 2); /* the server certificate and hook.yaml; never the CA key */
	/* the caller's pod hash (which includes the hook Secret) is the template annotation */
	assert_string_equal(json_get_str(d, "spec", "template", "metadata", "annotations",
	                                 "vecward.io/config-hash", NULL),
	                    "h1");
	yajl_tree_free(d);
	free(j);
	yajl_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_reads_spec),
	    cmocka_unit_test(test_view_defaults),
	    cmocka_unit_test(test_view_rejects_bad_specs),
	    cmocka_unit_test(test_milvus_config),
	    cmocka_unit_test(test_deployment_is_restricted),
	    cmocka_unit_test(test_netpols),
	    cmocka_unit_test(test_secret_is_base64),
	    cmocka_unit_test(test_service_and_pvc),
	    cmocka_unit_test(test_no_plugin_renders_unchanged),
	    cmocka_unit_test(test_view_reads_cipher_plugin),
	    cmocka_unit_test(test_view_rejects_bad_cipher_plugin),
	    cmocka_unit_test(test_hook_yaml),
	    cmocka_unit_test(test_hook_secret),
	    cmocka_unit_test(test_deployment_mounts_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

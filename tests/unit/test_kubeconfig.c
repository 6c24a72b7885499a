/* Tests for operator/kube/kubeconfig: kube_config_parse and friends.
 * Fixtures under tests/unit/fixtures/kubeconfig hold FAKE, non-secret
 * PEM-looking text. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kubeconfig.h"
#include "unit.h"
#include "util.h"

#define KC_DIR UNIT_FIXTURES "/kubeconfig"

static const char fake_ca[] =
    "-----BEGIN CERTIFICATE-----\nFAKE-INLINE-CA\n-----END CERTIFICATE-----\n";
static const char fake_cert[] =
    "-----BEGIN CERTIFICATE-----\nFAKE-INLINE-CLIENT\n-----END CERTIFICATE-----\n";
static const char fake_key[] =
    "-----BEGIN PRIVATE KEY-----\nFAKE-INLINE-KEY\n-----END PRIVATE KEY-----\n";

static char *b64(const char *s)
{
	struct buf b = BUF_INIT(4096);
	assert_int_equal(b64_encode(s, strlen(s), &b), 0);
	return buf_take(&b);
}

static char *file_text(const char *path)
{
	struct buf b = BUF_INIT(1 << 20);
	assert_int_equal(read_file(path, 1 << 20, &b), 0);
	return buf_take(&b);
}

static struct kube_config *parse_ok(const char *yaml, const char *basedir, const char *context)
{
	struct kube_config *c = NULL;
	char err[512] = "";
	if (kube_config_parse(yaml, strlen(yaml), basedir, context, &c, err, sizeof(err)) != 0)
		fail_msg("kube_config_parse: %s\n%s", err, yaml);
	assert_non_null(c);
	return c;
}

/* Fails, leaves out alone, and the error contains want. */
static void parse_fails(const char *yaml, const char *basedir, const char *context,
                        const char *want)
{
	struct kube_config *c = (struct kube_config *)0x1;
	char err[512] = "";
	assert_int_equal(
	    kube_config_parse(yaml, strlen(yaml), basedir, context, &c, err, sizeof(err)), -1);
	assert_ptr_equal(c, (struct kube_config *)0x1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

/* A kubeconfig with one cluster c1, one user u1 and one context ctx1 (the
 * current one); cluster_extra and user_extra are inserted as fields. */
static char *kc(const char *server, const char *cluster_extra, const char *user_extra)
{
	struct buf b = BUF_INIT(1 << 16);
	assert_int_equal(buf_printf(&b,
	                            "apiVersion: v1\n"
	                            "kind: Config\n"
	                            "current-context: ctx1\n"
	                            "clusters:\n"
	                            "- name: c1\n"
	                            "  cluster:\n"
	                            "    server: %s\n"
	                            "%s"
	                            "users:\n"
	                            "- name: u1\n"
	                            "  user:\n"
	                            "%s"
	                            "contexts:\n"
	                            "- name: ctx1\n"
	                            "  context:\n"
	                            "    cluster: c1\n"
	                            "    user: u1\n"
	                            "    namespace: ns1\n",
	                            server, cluster_extra, user_extra),
	                 0);
	return buf_take(&b);
}

static void test_inline_data(void **state)
{
	char *ca = b64(fake_ca), *cert = b64(fake_cert), *key = b64(fake_key);
	char cl[4096], us[4096];
	struct kube_config *c;
	char *y;

	snprintf(cl, sizeof(cl), "    certificate-authority-data: %s\n", ca);
	snprintf(us, sizeof(us), "    client-certificate-data: %s\n    client-key-data: %s\n", cert,
	         key);
	y = kc("https://10.0.0.1:6443/", cl, us);
	c = parse_ok(y, "/nonexistent", NULL);
	assert_string_equal(c->server, "https://10.0.0.1:6443"); /* trailing slash dropped */
	assert_string_equal(c->context, "ctx1");
	assert_string_equal(c->namespace, "ns1");
	assert_string_equal(buf_str(&c->ca), fake_ca);
	assert_int_equal(c->ca.len, strlen(fake_ca));
	assert_string_equal(buf_str(&c->cert), fake_cert);
	assert_string_equal(buf_str(&c->key), fake_key);
	assert_int_equal(c->token.len, 0);
	assert_null(c->token_file);
	kube_config_free(c);
	free(y);
	free(ca);
	free(cert);
	free(key);
}

static void test_inline_data_wins_over_path(void **state)
{
	char *ca = b64(fake_ca);
	char cl[4096];
	struct kube_config *c;
	char *y;

	snprintf(cl, sizeof(cl),
	         "    certificate-authority-data: %s\n"
	         "    certificate-authority: does-not-exist.crt\n",
	         ca);
	y = kc("https://k", cl, "    token: t\n");
	c = parse_ok(y, KC_DIR, NULL);
	assert_string_equal(buf_str(&c->ca), fake_ca);
	kube_config_free(c);
	free(y);
	free(ca);
}

static void test_relative_paths(void **state)
{
	char *y = kc("https://kube.example:6443", "    certificate-authority: ca.crt\n",
	             "    client-certificate: client.crt\n"
	             "    client-key: sub/client.key\n");
	char *ca = file_text(KC_DIR "/ca.crt"), *cert = file_text(KC_DIR "/client.crt"),
	     *key = file_text(KC_DIR "/sub/client.key");
	struct kube_config *c = parse_ok(y, KC_DIR, NULL);

	assert_string_equal(buf_str(&c->ca), ca);
	assert_string_equal(buf_str(&c->cert), cert);
	assert_string_equal(buf_str(&c->key), key);
	assert_memory_equal(buf_str(&c->ca), "-----BEGIN CERTIFICATE-----\n", 28);
	assert_memory_equal(buf_str(&c->key), "-----BEGIN PRIVATE KEY-----\n", 28);
	kube_config_free(c);

	/* relative to the basedir, not to the working directory */
	parse_fails(y, UNIT_FIXTURES, NULL,
	            "kubeconfig: cluster c1 certificate-authority: cannot read ca.crt: "
	            "No such file or directory");
	free(y);
	free(ca);
	free(cert);
	free(key);
}

static void test_absolute_paths(void **state)
{
	char abs[PATH_MAX], cl[PATH_MAX + 64];
	struct kube_config *c;
	char *y, *ca = file_text(KC_DIR "/ca.crt");

	assert_non_null(realpath(KC_DIR "/ca.crt", abs));
	snprintf(cl, sizeof(cl), "    certificate-authority: %s\n", abs);
	y = kc("https://k", cl, "    token: t\n");
	c = parse_ok(y, "/nonexistent-basedir", NULL); /* absolute: basedir ignored */
	assert_string_equal(buf_str(&c->ca), ca);
	kube_config_free(c);
	free(y);
	free(ca);
}

static void test_load_file_uses_its_directory(void **state)
{
	struct kube_config *c = NULL;
	char err[512] = "";
	char *key = file_text(KC_DIR "/sub/client.key");

	assert_int_equal(
	    kube_config_load_file(KC_DIR "/kubeconfig.yaml", NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->server, "https://127.0.0.1:6443");
	assert_string_equal(c->context, "dev");
	assert_string_equal(c->namespace, "team-a");
	assert_string_equal(buf_str(&c->key), key);
	assert_true(c->ca.len > 0 && c->cert.len > 0);
	kube_config_free(c);
	free(key);

	c = (struct kube_config *)0x1;
	assert_int_equal(kube_config_load_file(KC_DIR "/nope.yaml", NULL, &c, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "kubeconfig " KC_DIR "/nope.yaml: No such file or directory");
	assert_ptr_equal(c, (struct kube_config *)0x1);
}

static void test_token(void **state)
{
	char *y = kc("https://k", "", "    token: abc.def-ghi\n");
	struct kube_config *c = parse_ok(y, NULL, NULL);
	struct buf t = BUF_INIT(1024);

	assert_string_equal(buf_str(&c->token), "abc.def-ghi");
	assert_null(c->token_file);
	assert_int_equal(c->cert.len, 0);
	assert_int_equal(c->key.len, 0);
	assert_int_equal(buf_adds(&t, "stale"), 0);
	assert_int_equal(kube_config_token(c, &t), 0); /* dst is cleared first */
	assert_string_equal(buf_str(&t), "abc.def-ghi");
	buf_free_secret(&t);
	kube_config_free(c);
	free(y);
}

static void test_token_file(void **state)
{
	char *y = kc("https://k", "", "    tokenFile: token\n");
	struct kube_config *c = parse_ok(y, KC_DIR, NULL);
	struct buf t = BUF_INIT(1024);

	/* stored as a path, read (and newline-trimmed) when asked for */
	assert_string_equal(c->token_file, KC_DIR "/token");
	assert_int_equal(c->token.len, 0);
	assert_int_equal(kube_config_token(c, &t), 0);
	assert_string_equal(buf_str(&t), "fake-token-from-file");
	assert_true(c->token_read_ms > 0);
	/* a second call within the reload period uses the cached token */
	assert_int_equal(kube_config_token(c, &t), 0);
	assert_string_equal(buf_str(&t), "fake-token-from-file");
	buf_free_secret(&t);
	kube_config_free(c);
	free(y);

	/* a token file that cannot be read, and no token known: -1 */
	y = kc("https://k", "", "    tokenFile: missing-token\n");
	c = parse_ok(y, KC_DIR, NULL);
	assert_int_equal(kube_config_token(c, &t), -1);
	assert_null(t.ptr);
	kube_config_free(c);
	free(y);
}

static const char two_contexts[] = "current-context: a\n"
                                   "clusters:\n"
                                   "- name: ca\n"
                                   "  cluster: {server: 'https://a.example'}\n"
                                   "- name: cb\n"
                                   "  cluster: {server: 'https://b.example:8443//'}\n"
                                   "users:\n"
                                   "- name: ua\n"
                                   "  user: {token: token-a}\n"
                                   "- name: ub\n"
                                   "  user: {token: token-b}\n"
                                   "contexts:\n"
                                   "- name: a\n"
                                   "  context: {cluster: ca, user: ua, namespace: ns-a}\n"
                                   "- name: b\n"
                                   "  context: {cluster: cb, user: ub}\n";

static void test_named_context_vs_current(void **state)
{
	struct kube_config *c = parse_ok(two_contexts, NULL, NULL);
	assert_string_equal(c->context, "a");
	assert_string_equal(c->server, "https://a.example");
	assert_string_equal(c->namespace, "ns-a");
	assert_string_equal(buf_str(&c->token), "token-a");
	kube_config_free(c);

	c = parse_ok(two_contexts, NULL, "b");
	assert_string_equal(c->context, "b");
	assert_string_equal(c->server, "https://b.example:8443");
	assert_string_equal(c->namespace, "default"); /* none in the context */
	assert_string_equal(buf_str(&c->token), "token-b");
	kube_config_free(c);

	c = parse_ok(two_contexts, NULL, ""); /* "" means current-context too */
	assert_string_equal(c->context, "a");
	kube_config_free(c);
}

static void test_missing_context_cluster_user(void **state)
{
	parse_fails(two_contexts, NULL, "nope", "kubeconfig: context nope not found");
	parse_fails("clusters: []\ncontexts: []\n", NULL, NULL,
	            "kubeconfig: no current-context set and no context given");
	parse_fails("current-context: x\n", NULL, NULL, "kubeconfig: context x not found");
	parse_fails("current-context: x\n"
	            "contexts:\n- name: x\n  context: {cluster: gone, user: u}\n",
	            NULL, NULL, "kubeconfig: context x: cluster gone not found");
	parse_fails("current-context: x\n"
	            "contexts:\n- name: x\n  context: {user: u}\n",
	            NULL, NULL, "kubeconfig: context x: cluster (unset) not found");
	parse_fails("current-context: x\n"
	            "clusters:\n- name: c\n  cluster: {server: 'https://k'}\n"
	            "contexts:\n- name: x\n  context: {cluster: c, user: who}\n",
	            NULL, NULL, "kubeconfig: context x: user who not found");
}

static void test_no_user_is_anonymous(void **state)
{
	struct kube_config *c = parse_ok("current-context: x\n"
	                                 "clusters:\n- name: c\n  cluster: {server: 'https://k'}\n"
	                                 "contexts:\n- name: x\n  context: {cluster: c}\n",
	                                 NULL, NULL);
	assert_string_equal(c->server, "https://k");
	assert_int_equal(c->cert.len + c->key.len + c->token.len, 0);
	assert_int_equal(c->ca.len, 0); /* system trust store */
	kube_config_free(c);
}

static void test_insecure_refused(void **state)
{
	static const char *values[] = {"true", "True", "TRUE", "yes", "on", "\"true\"", "1", NULL};
	char cl[128];

	for (int i = 0; values[i]; i++) {
		snprintf(cl, sizeof(cl), "    insecure-skip-tls-verify: %s\n", values[i]);
		char *y = kc("https://k", cl, "    token: t\n");
		parse_fails(y, NULL, NULL,
		            "kubeconfig: cluster c1 sets insecure-skip-tls-verify; vecward always "
		            "verifies TLS");
		free(y);
	}
	/* false (as kubectl's YAML reads it) or empty is fine */
	static const char *off[] = {"false", "False", "no", "off", "", "~", NULL};
	for (int i = 0; off[i]; i++) {
		snprintf(cl, sizeof(cl), "    insecure-skip-tls-verify: %s\n", off[i]);
		char *y = kc("https://k", cl, "    token: t\n");
		struct kube_config *c = parse_ok(y, NULL, NULL);
		assert_string_equal(c->server, "https://k");
		kube_config_free(c);
		free(y);
	}
}

static void test_plugins_refused(void **state)
{
	char *y = kc("https://k", "",
	             "    exec:\n"
	             "      apiVersion: client.authentication.k8s.io/v1\n"
	             "      command: aws\n"
	             "      args: [eks, get-token]\n");
	parse_fails(y, NULL, NULL,
	            "kubeconfig: user u1 uses an exec or auth-provider plugin, which vecward does "
	            "not run: use a client certificate or a token");
	free(y);
	y = kc("https://k", "", "    auth-provider:\n      name: oidc\n");
	parse_fails(y, NULL, NULL, "uses an exec or auth-provider plugin");
	free(y);
}

static void test_server_must_be_https(void **state)
{
	char *y = kc("http://10.0.0.1:8080", "", "    token: t\n");
	parse_fails(
	    y, NULL, NULL,
	    "kubeconfig: cluster c1: server must be an https:// url (got http://10.0.0.1:8080)");
	free(y);
	y = kc("10.0.0.1:6443", "", "    token: t\n");
	parse_fails(y, NULL, NULL, "server must be an https:// url (got 10.0.0.1:6443)");
	free(y);
	parse_fails("current-context: x\n"
	            "clusters:\n- name: c\n  cluster: {certificate-authority-data: ''}\n"
	            "contexts:\n- name: x\n  context: {cluster: c}\n",
	            NULL, NULL,
	            "kubeconfig: cluster c: server must be an https:// url (got nothing)");
}

static void test_bad_base64(void **state)
{
	char *y = kc("https://k", "    certificate-authority-data: not*base64\n", "    token: t\n");
	parse_fails(y, NULL, NULL,
	            "kubeconfig: cluster c1 certificate-authority-data is not valid base64");
	free(y);
	y = kc("https://k", "", "    client-certificate-data: Zm9v\n    client-key-data: Zm9\n");
	parse_fails(y, NULL, NULL, "kubeconfig: user u1 client-key-data is not valid base64");
	free(y);
	y = kc("https://k", "", "    client-certificate-data: Zm9v=\n    client-key-data: Zm9v\n");
	parse_fails(y, NULL, NULL,
	            "kubeconfig: user u1 client-certificate-data is not valid base64");
	free(y);
}

static void test_cert_without_key(void **state)
{
	char *y = kc("https://k", "", "    client-certificate: client.crt\n");
	parse_fails(
	    y, KC_DIR, NULL,
	    "kubeconfig: user u1 has a client certificate without a key (or a key without a "
	    "certificate)");
	free(y);
	y = kc("https://k", "", "    client-key: sub/client.key\n");
	parse_fails(y, KC_DIR, NULL, "has a client certificate without a key");
	free(y);
}

static void test_missing_files(void **state)
{
	char *y =
	    kc("https://k", "", "    client-certificate: client.crt\n    client-key: nope.key\n");
	parse_fails(
	    y, KC_DIR, NULL,
	    "kubeconfig: user u1 client-key: cannot read nope.key: No such file or directory");
	free(y);
}

static void test_other_refusals(void **state)
{
	char *y = kc("https://k", "    tls-server-name: kube.internal\n", "    token: t\n");
	parse_fails(y, NULL, NULL, "kubeconfig: cluster c1: tls-server-name is not supported");
	free(y);
	y = kc("https://k", "    proxy-url: http://proxy:3128\n", "    token: t\n");
	parse_fails(y, NULL, NULL, "kubeconfig: cluster c1: proxy-url is not supported");
	free(y);
	y = kc("https://k", "", "    username: admin\n    password: hunter2\n");
	parse_fails(y, NULL, NULL, "kubeconfig: user u1 uses basic auth, which Kubernetes removed");
	free(y);
}

static void test_not_a_kubeconfig(void **state)
{
	parse_fails("- a\n- b\n", NULL, NULL, "kubeconfig: not a mapping");
	parse_fails("just a string", NULL, NULL, "kubeconfig: not a mapping");
	parse_fails("a: [1,\n", NULL, NULL, "yaml: ");
	parse_fails("", NULL, NULL, "yaml: empty document");
}

static void test_error_never_shows_secrets(void **state)
{
	/* a broken key next to a token: neither appears in the message */
	struct kube_config *c = NULL;
	char err[512] = "";
	char *y = kc("https://k", "",
	             "    token: SECRET-TOKEN-VALUE\n"
	             "    client-certificate-data: Zm9v\n"
	             "    client-key-data: SECRET-KEY-DATA!!\n");
	assert_int_equal(kube_config_parse(y, strlen(y), NULL, NULL, &c, err, sizeof(err)), -1);
	assert_null(strstr(err, "SECRET"));
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inline_data),
	    cmocka_unit_test(test_inline_data_wins_over_path),
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test(test_absolute_paths),
	    cmocka_unit_test(test_load_file_uses_its_directory),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_token_file),
	    cmocka_unit_test(test_named_context_vs_current),
	    cmocka_unit_test(test_missing_context_cluster_user),
	    cmocka_unit_test(test_no_user_is_anonymous),
	    cmocka_unit_test(test_insecure_refused),
	    cmocka_unit_test(test_plugins_refused),
	    cmocka_unit_test(test_server_must_be_https),
	    cmocka_unit_test(test_bad_base64),
	    cmocka_unit_test(test_cert_without_key),
	    cmocka_unit_test(test_missing_files),
	    cmocka_unit_test(test_other_refusals),
	    cmocka_unit_test(test_not_a_kubeconfig),
	    cmocka_unit_test(test_error_never_shows_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

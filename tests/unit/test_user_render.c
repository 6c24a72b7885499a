/* Tests for operator/render/user_render: a User in, its view and Secrets out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "unit.h"
#include "user_render.h"
#include "util.h"

static yajl_val parse(const char *s)
{
	yajl_val v = NULL;
	assert_int_equal(json_parse(s, strlen(s), 64, 0, &v, NULL, 0), 0);
	return v;
}

#define META                                                                                       \
	"\"metadata\":{\"name\":\"app-reader\",\"namespace\":\"search\",\"uid\":\"u-9\","          \
	"\"generation\":2"

static void test_view_defaults(void **state)
{
	yajl_val t = parse(
	    "{" META "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"app_reader\","
	    "\"roles\":[\"reader\",\"ingest\",\"reader\"]}}");
	struct user_view v;
	char err[256];

	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), 0);
	assert_string_equal(v.username, "app_reader");
	assert_string_equal(v.cluster, "prod");
	assert_int_equal(v.nroles, 2);             /* unique */
	assert_string_equal(v.roles[0], "ingest"); /* sorted */
	assert_string_equal(v.roles[1], "reader");
	assert_null(v.pw_secret);
	assert_int_equal(v.client_cert, 0);
	assert_true(v.rotation_s == 0);
	assert_true(user_has_role(&v, "reader"));
	assert_false(user_has_role(&v, "admin"));
	yajl_tree_free(t);
}

static void test_view_username_defaults_to_name_and_is_checked(void **state)
{
	struct user_view v;
	char err[256];
	/* metadata.name app-reader is not a Milvus name: username required */
	yajl_val t = parse("{" META "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"}}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spec.username"));
	yajl_tree_free(t);
	t = parse("{\"metadata\":{\"name\":\"bob\",\"namespace\":\"n\",\"uid\":\"u\"},"
	          "\"spec\":{\"clusterRef\":{\"name\":\"prod\"}}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), 0);
	assert_string_equal(v.username, "bob");
	yajl_tree_free(t);
	t = parse("{" META
	          "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"root\"}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), -1);
	yajl_tree_free(t);
}

static void test_view_rotation(void **state)
{
	struct user_view v;
	char err[256];
	yajl_val t = parse(
	    "{" META ",\"annotations\":{\"vecward.io/rotate-password\":\"t1\","
	    "\"vecward.io/adopt-existing-user\":\"true\"}},"
	    "\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"u\","
	    "\"passwordRotation\":{\"period\":\"720h\"},\"tls\":{\"clientCertificate\":true}}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), 0);
	assert_true(v.rotation_s == 720.0 * 3600);
	assert_string_equal(v.rotate_token, "t1");
	assert_int_equal(v.adopt, 1);
	assert_int_equal(v.client_cert, 1);
	yajl_tree_free(t);
	/* too short, and not with a password the user brings */
	t = parse("{" META "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"u\","
	          "\"passwordRotation\":{\"period\":\"30m\"}}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "passwordRotation.period"));
	yajl_tree_free(t);
	t = parse(
	    "{" META "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"u\","
	    "\"passwordSecretRef\":{\"name\":\"s\"},\"passwordRotation\":{\"period\":\"720h\"}}}");
	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "passwordSecretRef"));
	yajl_tree_free(t);
}

static void test_password_policy(void **state)
{
	assert_int_equal(user_password_ok("Short1!"), -1);
	assert_int_equal(user_password_ok("alllowercaseletters"), -1);
	assert_int_equal(user_password_ok("lowerUPPER1234"), 0);
	assert_int_equal(user_password_ok("lower-and-digits-123"), 0);
	char big[80];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = 'A';
	big[1] = '1';
	assert_int_equal(user_password_ok(big), -1); /* 79 > 72 */
	big[72] = '\0';
	assert_int_equal(user_password_ok(big), 0);
}

static char *data(yajl_val secret, const char *key)
{
	struct buf b = BUF_INIT(1 << 16);
	const char *v = json_get_str(secret, "data", key, NULL);
	if (!v || b64_decode(v, strlen(v), &b))
		return NULL;
	return buf_take(&b);
}

static void test_credentials_secret(void **state)
{
	yajl_val t =
	    parse("{" META
	          "},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":\"app_reader\"}}");
	struct user_view v;
	struct user_creds c = {"pw\"with:quote", "https://prod.search.svc:19530", "CA", "CRT",
	                       "KEY"};
	char err[256], *json, *s;
	yajl_val sec;

	assert_int_equal(user_view_parse(t, &v, err, sizeof(err)), 0);
	json = user_render_credentials(&v, &c);
	assert_non_null(json);
	sec = parse(json);
	assert_string_equal(json_get_str(sec, "metadata", "name", NULL), "app-reader-credentials");
	assert_string_equal(json_get_str(sec, "metadata", "namespace", NULL), "search");
	assert_string_equal(json_get_str(sec, "metadata", "labels", "vecward.io/cluster", NULL),
	                    "prod");
	assert_string_equal(
	    json_get_str(json_array_at(json_get(sec, "metadata", "ownerReferences", NULL), 0),
	                 "uid", NULL),
	    "u-9");
	assert_string_equal((s = data(sec, "username")), "app_reader");
	free(s);
	assert_string_equal((s = data(sec, "password")), "pw\"with:quote");
	free(s);
	assert_string_equal((s = data(sec, "token")), "app_reader:pw\"with:quote");
	free(s);
	assert_string_equal((s = data(sec, "uri")), "https://prod.search.svc:19530");
	free(s);
	assert_string_equal((s = data(sec, "ca.crt")), "CA");
	free(s);
	assert_string_equal((s = data(sec, "tls.key")), "KEY");
	free(s);
	/* the password never appears unencoded */
	assert_null(strstr(json, "with:quote"));
	yajl_tree_free(sec);
	user_free_secret_json(json);
	/* no client certificate asked: no tls.* keys */
	c.tls_crt = c.tls_key = NULL;
	json = user_render_credentials(&v, &c);
	sec = parse(json);
	assert_null(json_get(sec, "data", "tls.crt", NULL));
	yajl_tree_free(sec);
	user_free_secret_json(json);
	json = user_render_pending(&v, "next-Password-1");
	sec = parse(json);
	assert_string_equal(json_get_str(sec, "metadata", "name", NULL),
	                    "app-reader-password-pending");
	assert_string_equal((s = data(sec, "password")), "next-Password-1");
	free(s);
	yajl_tree_free(sec);
	user_free_secret_json(json);
	yajl_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_defaults),
	    cmocka_unit_test(test_view_username_defaults_to_name_and_is_checked),
	    cmocka_unit_test(test_view_rotation),
	    cmocka_unit_test(test_password_policy),
	    cmocka_unit_test(test_credentials_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

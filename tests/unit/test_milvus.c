/*
 * Tests for operator/milvus: request bodies byte for byte, response and data
 * parsing, error mapping, and real round trips against a tiny scripted
 * HTTP(S) server on 127.0.0.1 run in a thread here (it records each request
 * line, header block and body, and answers canned responses). Nothing waits
 * on a clock: the server ends when the test shuts its listening socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "json.h"
#include "milvus.h"
#include "pki.h"
#include "unit.h"

/* ---- request bodies ------------------------------------------------------------ */

static void assert_body(enum mv_op op, const struct mv_args *a, const char *want)
{
	char *s = NULL;

	assert_int_equal(mv_build_body(op, a, &s), MV_OK);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_body_users(void **state)
{
	struct mv_args a = {
	    .user = "alice", .password = "s3cret-pw", .new_password = "n3w-pw", .role = "reader"};

	assert_body(MV_OP_USER_LIST, &a, "{}");
	assert_body(MV_OP_USER_DESCRIBE, &a, "{\"userName\":\"alice\"}");
	assert_body(MV_OP_USER_CREATE, &a, "{\"userName\":\"alice\",\"password\":\"s3cret-pw\"}");
	assert_body(MV_OP_USER_UPDATE_PASSWORD, &a,
	            "{\"userName\":\"alice\",\"password\":\"s3cret-pw\","
	            "\"newPassword\":\"n3w-pw\"}");
	assert_body(MV_OP_USER_DROP, &a, "{\"userName\":\"alice\"}");
	assert_body(MV_OP_USER_GRANT_ROLE, &a, "{\"userName\":\"alice\",\"roleName\":\"reader\"}");
	assert_body(MV_OP_USER_REVOKE_ROLE, &a, "{\"userName\":\"alice\",\"roleName\":\"reader\"}");
}

static void test_body_roles(void **state)
{
	struct mv_args a = {
	    .role = "reader", .db = "default", .collection = "*", .privilege = "Search"};

	assert_body(MV_OP_ROLE_LIST, &a, "{}");
	assert_body(MV_OP_ROLE_CREATE, &a, "{\"roleName\":\"reader\"}");
	assert_body(MV_OP_ROLE_DROP, &a, "{\"roleName\":\"reader\"}");
	assert_body(MV_OP_ROLE_DESCRIBE, &a, "{\"roleName\":\"reader\",\"dbName\":\"default\"}");
	assert_body(MV_OP_ROLE_GRANT_PRIVILEGE_V2, &a,
	            "{\"roleName\":\"reader\",\"privilege\":\"Search\",\"dbName\":\"default\","
	            "\"collectionName\":\"*\"}");
	assert_body(MV_OP_ROLE_REVOKE_PRIVILEGE_V2, &a,
	            "{\"roleName\":\"reader\",\"privilege\":\"Search\",\"dbName\":\"default\","
	            "\"collectionName\":\"*\"}");
	/* describe without a database leaves dbName out */
	a.db = NULL;
	assert_body(MV_OP_ROLE_DESCRIBE, &a, "{\"roleName\":\"reader\"}");
}

static void test_body_groups(void **state)
{
	const char *const privs[] = {"Search", "Query", "Load"};
	struct mv_args a = {.group = "readonly", .privileges = privs, .n_privileges = 3};

	assert_body(MV_OP_PRIVILEGE_GROUP_LIST, &a, "{}");
	assert_body(MV_OP_PRIVILEGE_GROUP_CREATE, &a, "{\"privilegeGroupName\":\"readonly\"}");
	assert_body(MV_OP_PRIVILEGE_GROUP_DROP, &a, "{\"privilegeGroupName\":\"readonly\"}");
	assert_body(MV_OP_PRIVILEGE_GROUP_ADD, &a,
	            "{\"privilegeGroupName\":\"readonly\",\"privileges\":[\"Search\",\"Query\","
	            "\"Load\"]}");
	a.n_privileges = 1;
	assert_body(MV_OP_PRIVILEGE_GROUP_REMOVE, &a,
	            "{\"privilegeGroupName\":\"readonly\",\"privileges\":[\"Search\"]}");
}

static void test_body_escaping(void **state)
{
	struct mv_args a = {.user = "a\"b\\c", .password = "p\"w\n\x01/"};

	assert_body(MV_OP_USER_CREATE, &a,
	            "{\"userName\":\"a\\\"b\\\\c\",\"password\":\"p\\\"w\\n\\u0001/\"}");
	a.user = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* UTF-8 passes through as is */
	assert_body(MV_OP_USER_DROP, &a,
	            "{\"userName\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
	/* an empty password is Milvus' business to refuse, not ours */
	a.user = "u";
	a.password = "";
	assert_body(MV_OP_USER_CREATE, &a, "{\"userName\":\"u\",\"password\":\"\"}");
}

static void test_body_databases(void **state)
{
	const char *const keys[] = {"cipher.enabled", "cipher.key"};
	const char *const vals[] = {"true", "arn:aws:kms:us-east-1:111122223333:key/k-1"};
	struct mv_args a = {
	    .db = "sales", .prop_keys = keys, .prop_values = vals, .n_properties = 2};

	assert_body(MV_OP_DATABASE_LIST, &a, "{}");
	assert_body(MV_OP_DATABASE_DESCRIBE, &a, "{\"dbName\":\"sales\"}");
	assert_body(MV_OP_DATABASE_CREATE, &a,
	            "{\"dbName\":\"sales\",\"properties\":{\"cipher.enabled\":\"true\","
	            "\"cipher.key\":\"arn:aws:kms:us-east-1:111122223333:key/k-1\"}}");
	/* no properties: the key is left out; an empty value is a value */
	a.n_properties = 0;
	assert_body(MV_OP_DATABASE_CREATE, &a, "{\"dbName\":\"sales\"}");
	a.prop_keys = keys + 1;
	a.prop_values = (const char *const[]){""};
	a.n_properties = 1;
	assert_body(MV_OP_DATABASE_CREATE, &a,
	            "{\"dbName\":\"sales\",\"properties\":{\"cipher.key\":\"\"}}");
	/* values are escaped like every other string */
	a.prop_values = (const char *const[]){"a\"b\n"};
	assert_body(MV_OP_DATABASE_CREATE, &a,
	            "{\"dbName\":\"sales\",\"properties\":{\"cipher.key\":\"a\\\"b\\n\"}}");
}

static void assert_invalid(enum mv_op op, const struct mv_args *a)
{
	char *s = (char *)"untouched";

	assert_int_equal(mv_build_body(op, a, &s), MV_ERR_INVALID);
	assert_string_equal(s, "untouched");
}

static void test_body_invalid(void **state)
{
	char big[MV_MAX_ARG + 2];
	const char *const privs[] = {"Search", NULL};
	const char *const empty_priv[] = {""};
	struct mv_args a = {0};
	char *s = NULL;

	assert_invalid(MV_OP_USER_DESCRIBE, &a); /* user missing */
	a.user = "";
	assert_invalid(MV_OP_USER_DESCRIBE, &a);
	a.user = "alice";
	assert_invalid(MV_OP_USER_CREATE, &a); /* password missing */
	a.password = "pw";
	assert_invalid(MV_OP_USER_UPDATE_PASSWORD, &a); /* new password missing */
	assert_invalid(MV_OP_USER_GRANT_ROLE, &a);      /* role missing */
	a.user = "bad\xff";
	assert_invalid(MV_OP_USER_DROP, &a);
	a.user = "over\xc0\xaflong";
	assert_invalid(MV_OP_USER_DROP, &a);
	a.user = "surrogate\xed\xa0\x80";
	assert_invalid(MV_OP_USER_DROP, &a);
	a.user = "cut\xe2\x82";
	assert_invalid(MV_OP_USER_DROP, &a);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a.user = big;
	assert_invalid(MV_OP_USER_DROP, &a);
	big[MV_MAX_ARG] = '\0'; /* exactly at the cap: fine */
	assert_int_equal(mv_build_body(MV_OP_USER_DROP, &a, &s), MV_OK);
	free(s);

	a.role = "r";
	a.privilege = "Search";
	a.db = "default";
	assert_invalid(MV_OP_ROLE_GRANT_PRIVILEGE_V2, &a); /* collection missing */
	a.collection = "*";
	a.db = NULL;
	assert_invalid(MV_OP_ROLE_GRANT_PRIVILEGE_V2, &a); /* db required here */

	a.group = "g";
	assert_invalid(MV_OP_PRIVILEGE_GROUP_ADD, &a); /* no privileges */
	a.privileges = privs;
	a.n_privileges = 0;
	assert_invalid(MV_OP_PRIVILEGE_GROUP_ADD, &a);
	a.n_privileges = 2; /* a NULL among them */
	assert_invalid(MV_OP_PRIVILEGE_GROUP_REMOVE, &a);
	a.privileges = empty_priv;
	a.n_privileges = 1;
	assert_invalid(MV_OP_PRIVILEGE_GROUP_ADD, &a);
	a.n_privileges = MV_MAX_PRIVILEGES + 1;
	assert_invalid(MV_OP_PRIVILEGE_GROUP_ADD, &a);

	/* databases: a name always; properties non-empty and distinct keys, within the cap */
	{
		const char *const dup[] = {"k", "k"};
		const char *const two[] = {"v", "w"};
		const char *const empty_key[] = {""};
		const char *const bad_val[] = {"\xff"};
		struct mv_args d = {0};
		assert_invalid(MV_OP_DATABASE_DESCRIBE, &d);
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.db = "";
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.db = "sales";
		d.prop_keys = dup;
		d.prop_values = two;
		d.n_properties = 2;
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.prop_keys = empty_key;
		d.n_properties = 1;
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.prop_keys = two;
		d.prop_values = bad_val;
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.prop_values = NULL;
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
		d.prop_values = two;
		d.n_properties = MV_MAX_PROPERTIES + 1;
		assert_invalid(MV_OP_DATABASE_CREATE, &d);
	}

	assert_invalid(MV_OP_COUNT_, &a);
	assert_invalid((enum mv_op) - 1, &a);
	assert_int_equal(mv_build_body(MV_OP_USER_LIST, NULL, &s), MV_ERR_INVALID);
}

static void test_op_paths(void **state)
{
	assert_string_equal(mv_op_path(MV_OP_USER_LIST), "users/list");
	assert_string_equal(mv_op_path(MV_OP_USER_UPDATE_PASSWORD), "users/update_password");
	assert_string_equal(mv_op_path(MV_OP_USER_GRANT_ROLE), "users/grant_role");
	assert_string_equal(mv_op_path(MV_OP_ROLE_DESCRIBE), "roles/describe");
	assert_string_equal(mv_op_path(MV_OP_ROLE_REVOKE_PRIVILEGE_V2),
	                    "roles/revoke_privilege_v2");
	assert_string_equal(mv_op_path(MV_OP_PRIVILEGE_GROUP_ADD),
	                    "privilege_groups/add_privileges_to_group");
	assert_string_equal(mv_op_path(MV_OP_PRIVILEGE_GROUP_REMOVE),
	                    "privilege_groups/remove_privileges_from_group");
	assert_string_equal(mv_op_path(MV_OP_DATABASE_LIST), "databases/list");
	assert_string_equal(mv_op_path(MV_OP_DATABASE_DESCRIBE), "databases/describe");
	assert_string_equal(mv_op_path(MV_OP_DATABASE_CREATE), "databases/create");
	assert_null(mv_op_path(MV_OP_COUNT_));
	for (int op = 0; op < MV_OP_COUNT_; op++) {
		assert_non_null(mv_op_path((enum mv_op)op));
		assert_int_equal(mv_op_has_secret((enum mv_op)op),
		                 op == MV_OP_USER_CREATE || op == MV_OP_USER_UPDATE_PASSWORD);
	}
}

/* ---- responses ------------------------------------------------------------------- */

static int parse(const char *body, yajl_val *data, struct mv_error *err)
{
	return mv_parse_response(body, strlen(body), data, err);
}

static void test_parse_success_list(void **state)
{
	struct mv_error err;
	struct mv_names n = {0};
	yajl_val d = NULL;

	assert_int_equal(parse("{\"code\":0,\"data\":[\"root\",\"alice\"]}", &d, &err), MV_OK);
	assert_int_equal(err.status, MV_OK);
	assert_int_equal(err.code, 0);
	assert_int_equal(mv_parse_names(d, &n, &err), MV_OK);
	yajl_tree_free(d);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "root");
	assert_string_equal(n.v[1], "alice");
	assert_true(mv_names_has(&n, "alice"));
	assert_false(mv_names_has(&n, "Alice"));
	assert_false(mv_names_has(&n, NULL));
	mv_names_free(&n);
	assert_null(n.v);
	assert_int_equal(n.n, 0);
	mv_names_free(&n); /* again: fine */

	/* the caller may discard the data */
	assert_int_equal(parse("{\"code\":0,\"data\":[\"x\"]}", NULL, &err), MV_OK);
	/* and may pass no error struct */
	assert_int_equal(parse("{\"code\":0}", NULL, NULL), MV_OK);
}

static void test_parse_success_object(void **state)
{
	struct mv_error err;
	yajl_val d = NULL;

	assert_int_equal(
	    parse("{\"data\":{\"privilegeGroups\":[]},\"code\":0,\"extra\":1}", &d, &err), MV_OK);
	assert_non_null(d);
	assert_int_equal(d->type, yajl_t_object);
	assert_non_null(json_get(d, "privilegeGroups", NULL));
	assert_int_equal(json_array_len(json_get(d, "privilegeGroups", NULL)), 0);
	yajl_tree_free(d);
}

static void test_parse_error(void **state)
{
	struct mv_error err;
	yajl_val d = (yajl_val)0x1;

	assert_int_equal(parse("{\"code\":1100,\"message\":\"invalid parameter[expected=valid "
	                       "username][actual=1abc]\"}",
	                       &d, &err),
	                 MV_ERR_MILVUS);
	assert_ptr_equal(d, (yajl_val)0x1); /* untouched on error */
	assert_int_equal(err.status, MV_ERR_MILVUS);
	assert_int_equal(err.code, 1100);
	assert_int_equal(err.http_status, 0);
	assert_string_equal(err.message, "invalid parameter[expected=valid username][actual=1abc]");

	/* no message: say the code */
	assert_int_equal(parse("{\"code\":65535}", NULL, &err), MV_ERR_MILVUS);
	assert_int_equal(err.code, 65535);
	assert_string_equal(err.message, "milvus error code 65535");

	/* control characters and non-ASCII bytes do not reach the message */
	assert_int_equal(
	    parse("{\"code\":5,\"message\":\"a\\nb\\u0001c caf\xc3\xa9\"}", NULL, &err),
	    MV_ERR_MILVUS);
	assert_string_equal(err.message, "a b c caf??");
}

static void test_parse_long_message_is_cut(void **state)
{
	char body[2048];
	struct mv_error err;
	int n;

	n = snprintf(body, sizeof(body), "{\"code\":65535,\"message\":\"%0900d\"}", 7);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	assert_int_equal(parse(body, NULL, &err), MV_ERR_MILVUS);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

static void test_parse_legacy_200(void **state)
{
	struct mv_error err;
	struct mv_names n = {0};
	yajl_val d = NULL;

	assert_int_equal(parse("{\"code\":200,\"data\":[\"admin\"]}", &d, &err), MV_OK);
	assert_int_equal(mv_parse_names(d, &n, &err), MV_OK);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "admin");
	mv_names_free(&n);
	yajl_tree_free(d);
}

static void assert_garbled(const char *body)
{
	struct mv_error err;
	yajl_val d = NULL;

	assert_int_equal(mv_parse_response(body, strlen(body), &d, &err), MV_ERR_TRANSPORT);
	assert_int_equal(err.status, MV_ERR_TRANSPORT);
	assert_null(d);
	assert_int_equal(err.code, 0);
	assert_non_null(strstr(err.message, "garbled response"));
	assert_string_equal(mv_error_reason(&err), "MilvusUnreachable");
}

static void test_parse_garbled(void **state)
{
	assert_garbled("");
	assert_garbled("{\"code\":0,");
	assert_garbled("<html>502 Bad Gateway</html>");
	assert_garbled("[1,2]");
	assert_garbled("\"code\"");
	assert_garbled("{\"data\":[]}");             /* no code */
	assert_garbled("{\"code\":\"0\"}");          /* code not a number */
	assert_garbled("{\"code\":0.5}");            /* not an integer */
	assert_garbled("{\"code\":99999999999999}"); /* beyond int */
	assert_garbled("{\"code\":0} {\"code\":0}"); /* two documents */
	/* deeper than MV_MAX_DEPTH */
	{
		char deep[256] = "{\"code\":0,\"data\":";
		size_t n = strlen(deep);
		for (int i = 0; i < MV_MAX_DEPTH + 1; i++)
			deep[n++] = '[';
		for (int i = 0; i < MV_MAX_DEPTH + 1; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		assert_garbled(deep);
	}
}

static void test_parse_oversize(void **state)
{
	size_t len = MV_MAX_RESPONSE + 1;
	char *body = malloc(len + 1);
	struct mv_error err;
	yajl_val d = NULL;

	assert_non_null(body);
	/* a well-formed document one byte over the cap */
	memset(body, ' ', len);
	memcpy(body, "{\"code\":0}", 10);
	body[len] = '\0';
	assert_int_equal(mv_parse_response(body, len, &d, &err), MV_ERR_TRANSPORT);
	assert_null(d);
	assert_non_null(strstr(err.message, "larger than"));
	/* at the cap it is fine */
	assert_int_equal(mv_parse_response(body, len - 1, &d, &err), MV_OK);
	free(body);
}

static void test_parse_data_missing(void **state)
{
	struct mv_error err;
	struct mv_names n = {(char **)0x1, 99};
	struct mv_grants g = {0};
	struct mv_groups gr = {0};
	yajl_val d = (yajl_val)0x1;

	assert_int_equal(parse("{\"code\":0}", &d, &err), MV_OK);
	assert_null(d);
	assert_int_equal(mv_parse_names(d, &n, &err), MV_OK);
	assert_int_equal(n.n, 0);
	assert_null(n.v);
	assert_int_equal(mv_parse_grants(NULL, &g, &err), MV_OK);
	assert_int_equal(g.n, 0);
	assert_int_equal(mv_parse_groups(NULL, &gr, &err), MV_OK);
	assert_int_equal(gr.n, 0);

	/* "data": null and "data": [] are empty as well */
	assert_int_equal(parse("{\"code\":0,\"data\":null}", &d, &err), MV_OK);
	assert_int_equal(mv_parse_names(d, &n, &err), MV_OK);
	assert_int_equal(n.n, 0);
	yajl_tree_free(d);
	assert_int_equal(parse("{\"code\":0,\"data\":[]}", &d, &err), MV_OK);
	assert_int_equal(mv_parse_names(d, &n, &err), MV_OK);
	assert_int_equal(n.n, 0);
	mv_names_free(&n);
	yajl_tree_free(d);
}

static void assert_bad_data(const char *json, int which)
{
	struct mv_error err;
	struct mv_names n = {0};
	struct mv_grants g = {0};
	struct mv_groups gr = {0};
	yajl_val d = NULL;
	int rc;

	assert_int_equal(json_parse(json, strlen(json), JSON_MAX_DEPTH, 0, &d, NULL, 0), JSON_OK);
	if (which == 0)
		rc = mv_parse_names(d, &n, &err);
	else if (which == 1)
		rc = mv_parse_grants(d, &g, &err);
	else
		rc = mv_parse_groups(d, &gr, &err);
	yajl_tree_free(d);
	assert_int_equal(rc, MV_ERR_TRANSPORT);
	assert_non_null(strstr(err.message, "unexpected data"));
	assert_null(n.v);
	assert_null(g.v);
	assert_null(gr.v);
}

static void test_parse_bad_shapes(void **state)
{
	assert_bad_data("{\"a\":1}", 0);
	assert_bad_data("[\"a\",1]", 0);
	assert_bad_data("\"root\"", 0);
	assert_bad_data("{}", 1);
	assert_bad_data("[{\"privilege\":\"Search\"},\"x\"]", 1);
	assert_bad_data("[]", 2);
	assert_bad_data("{\"privilegeGroups\":{}}", 2);
	assert_bad_data("{\"privilegeGroups\":[{\"privileges\":\"a\"}]}", 2);
	assert_bad_data("{\"privilegeGroups\":[{\"privilegeGroupName\":\"g\","
	                "\"privileges\":1}]}",
	                2);
	assert_bad_data("{\"privilegeGroups\":[{\"privilegeGroupName\":\"g\","
	                "\"privileges\":[1]}]}",
	                2);
}

static void test_parse_grants(void **state)
{
	const char *body =
	    "{\"code\":0,\"data\":[{\"objectType\":\"Collection\",\"objectName\":\"*\","
	    "\"privilege\":\"Search\",\"dbName\":\"default\",\"grantor\":\"root\"},"
	    "{\"objectType\":\"Global\",\"objectName\":\"*\",\"privilege\":\"ReadOnly\","
	    "\"dbName\":\"*\"}]}";
	struct mv_error err;
	struct mv_grants g = {0};
	yajl_val d = NULL;

	assert_int_equal(parse(body, &d, &err), MV_OK);
	assert_int_equal(mv_parse_grants(d, &g, &err), MV_OK);
	yajl_tree_free(d);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.v[0].object_type, "Collection");
	assert_string_equal(g.v[0].object_name, "*");
	assert_string_equal(g.v[0].privilege, "Search");
	assert_string_equal(g.v[0].db_name, "default");
	assert_string_equal(g.v[0].grantor, "root");
	assert_string_equal(g.v[1].object_type, "Global");
	assert_string_equal(g.v[1].privilege, "ReadOnly");
	assert_string_equal(g.v[1].db_name, "*");
	assert_string_equal(g.v[1].grantor, ""); /* absent: "" rather than NULL */
	mv_grants_free(&g);
	assert_null(g.v);
	assert_int_equal(g.n, 0);
}

static void test_parse_groups(void **state)
{
	const char *body =
	    "{\"code\":0,\"data\":{\"privilegeGroups\":["
	    "{\"privilegeGroupName\":\"readonly\",\"privileges\":\"Search,Query, Load\"},"
	    "{\"privilegeGroupName\":\"empty\",\"privileges\":\"\"},"
	    "{\"privilegeGroupName\":\"none\"},"
	    "{\"privilegeGroupName\":\"listed\",\"privileges\":[\"Insert\",\"Upsert\"]},"
	    "{\"privilegeGroupName\":\"odd\",\"privileges\":\",Flush,,\"}]}}";
	struct mv_error err;
	struct mv_groups g = {0};
	yajl_val d = NULL;

	assert_int_equal(parse(body, &d, &err), MV_OK);
	assert_int_equal(mv_parse_groups(d, &g, &err), MV_OK);
	yajl_tree_free(d);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.v[0].name, "readonly");
	assert_int_equal(g.v[0].privileges.n, 3);
	assert_string_equal(g.v[0].privileges.v[0], "Search");
	assert_string_equal(g.v[0].privileges.v[1], "Query");
	assert_string_equal(g.v[0].privileges.v[2], "Load");
	assert_string_equal(g.v[1].name, "empty");
	assert_int_equal(g.v[1].privileges.n, 0);
	assert_int_equal(g.v[2].privileges.n, 0);
	assert_int_equal(g.v[3].privileges.n, 2);
	assert_string_equal(g.v[3].privileges.v[1], "Upsert");
	assert_int_equal(g.v[4].privileges.n, 1);
	assert_string_equal(g.v[4].privileges.v[0], "Flush");
	mv_groups_free(&g);
	assert_null(g.v);

	/* no privilegeGroups at all: none */
	assert_int_equal(parse("{\"code\":0,\"data\":{}}", &d, &err), MV_OK);
	assert_int_equal(mv_parse_groups(d, &g, &err), MV_OK);
	assert_int_equal(g.n, 0);
	yajl_tree_free(d);
}

static void test_parse_database(void **state)
{
	/* Milvus's describeDatabase answer (encoding/json of a map: keys sorted), an
	 * int64 ID beyond 2^53, an encryption zone's properties */
	const char *body =
	    "{\"code\":0,\"data\":{\"dbID\":458000000000000003,\"dbName\":\"sales\","
	    "\"properties\":[{\"key\":\"cipher.enabled\",\"value\":\"true\"},"
	    "{\"key\":\"cipher.ezID\",\"value\":\"458000000000000003\"},"
	    "{\"key\":\"cipher.key\",\"value\":\"arn:aws:kms:us-east-1:1:key/k\"},"
	    "{\"key\":\"empty\"},{\"key\":\"cipher.enabled\",\"value\":\"false\"}]}}";
	struct mv_error err;
	struct mv_database db = {0};
	yajl_val d = NULL;

	assert_int_equal(parse(body, &d, &err), MV_OK);
	assert_int_equal(mv_parse_database(d, &db, &err), MV_OK);
	yajl_tree_free(d);
	assert_string_equal(db.name, "sales");
	assert_true(db.id == 458000000000000003LL);
	assert_int_equal(db.nprops, 5);
	assert_string_equal(db.props[1].key, "cipher.ezID");
	assert_string_equal(mv_database_property(&db, MV_PROP_CIPHER_ENABLED), "true"); /* first */
	assert_string_equal(mv_database_property(&db, MV_PROP_CIPHER_KEY),
	                    "arn:aws:kms:us-east-1:1:key/k");
	assert_string_equal(mv_database_property(&db, "empty"), ""); /* omitempty value */
	assert_null(mv_database_property(&db, "missing"));
	assert_null(mv_database_property(NULL, "x"));
	mv_database_free(&db);
	assert_null(db.name);
	assert_int_equal(db.nprops, 0);
	mv_database_free(&db); /* again: fine */

	/* default: no properties (null, absent or []), dbID as a string (protojson) */
	assert_int_equal(parse("{\"code\":0,\"data\":{\"dbID\":\"1\",\"dbName\":\"default\","
	                       "\"properties\":null}}",
	                       &d, &err),
	                 MV_OK);
	assert_int_equal(mv_parse_database(d, &db, &err), MV_OK);
	yajl_tree_free(d);
	assert_true(db.id == 1);
	assert_int_equal(db.nprops, 0);
	assert_null(db.props);
	mv_database_free(&db);
	assert_int_equal(parse("{\"code\":0,\"data\":{}}", &d, &err), MV_OK);
	assert_int_equal(mv_parse_database(d, &db, &err), MV_OK);
	yajl_tree_free(d);
	assert_string_equal(db.name, "");
	assert_true(db.id == 0);
	mv_database_free(&db);
}

static void assert_bad_database(const char *json)
{
	struct mv_error err;
	struct mv_database db = {0};
	yajl_val d = NULL;
	int rc;

	assert_int_equal(json_parse(json, strlen(json), JSON_MAX_DEPTH, 0, &d, NULL, 0), JSON_OK);
	rc = mv_parse_database(d, &db, &err);
	yajl_tree_free(d);
	assert_int_equal(rc, MV_ERR_TRANSPORT);
	assert_non_null(strstr(err.message, "unexpected data"));
	assert_null(db.name);
	assert_null(db.props);
}

static void test_parse_database_bad_shapes(void **state)
{
	struct mv_error err;
	struct mv_database db = {0};

	assert_int_equal(mv_parse_database(NULL, &db, &err), MV_ERR_TRANSPORT);
	assert_bad_database("[]");
	assert_bad_database("\"sales\"");
	assert_bad_database("{\"dbName\":7}");
	assert_bad_database("{\"dbID\":1.5}");
	assert_bad_database("{\"dbID\":\"12x\"}");
	assert_bad_database("{\"dbID\":\"99999999999999999999\"}");
	assert_bad_database("{\"dbID\":true}");
	assert_bad_database("{\"properties\":{}}");
	assert_bad_database("{\"properties\":[\"cipher.enabled\"]}");
	assert_bad_database("{\"properties\":[{\"key\":\"a\",\"value\":1}]}");
	assert_bad_database("{\"properties\":[{\"key\":[],\"value\":\"v\"}]}");
}

static void test_split_privileges(void **state)
{
	struct mv_names n = {0};

	assert_int_equal(mv_split_privileges("a,b", &n), MV_OK);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "a");
	assert_string_equal(n.v[1], "b");
	mv_names_free(&n);
	assert_int_equal(mv_split_privileges("", &n), MV_OK);
	assert_int_equal(n.n, 0);
	assert_null(n.v);
	assert_int_equal(mv_split_privileges(NULL, &n), MV_OK);
	assert_int_equal(n.n, 0);
	assert_int_equal(mv_split_privileges(" , ,\t", &n), MV_OK);
	assert_int_equal(n.n, 0);
	mv_names_free(&n);
	assert_int_equal(mv_split_privileges("  Search  ", &n), MV_OK);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "Search");
	mv_names_free(&n);
}

/* ---- error mapping --------------------------------------------------------------- */

static void test_error_reason(void **state)
{
	struct mv_error e = {0};

	assert_string_equal(mv_error_reason(&e), "");
	assert_string_equal(mv_error_hint(&e), "");
	assert_string_equal(mv_error_reason(NULL), "");
	e.status = MV_ERR_MILVUS;
	e.code = 1400;
	assert_string_equal(mv_error_reason(&e), "MilvusAuthenticationFailed");
	assert_true(mv_error_is_auth(&e));
	e.code = 1800;
	assert_string_equal(mv_error_reason(&e), "MilvusAuthenticationFailed");
	assert_true(mv_error_is_auth(&e));
	e.code = 1401;
	assert_string_equal(mv_error_reason(&e), "MilvusPermissionDenied");
	assert_false(mv_error_is_auth(&e));
	e.code = 1100;
	assert_string_equal(mv_error_reason(&e), "MilvusInvalidParameter");
	assert_false(mv_error_is_auth(&e));
	e.code = 65535;
	assert_string_equal(mv_error_reason(&e), "MilvusError");
	assert_true(strlen(mv_error_hint(&e)) > 0);
	e.status = MV_ERR_TRANSPORT;
	e.code = 0;
	assert_string_equal(mv_error_reason(&e), "MilvusUnreachable");
	assert_non_null(strstr(mv_error_hint(&e), "reachable"));
	e.code = 1400; /* a code alone is not an auth failure */
	assert_false(mv_error_is_auth(&e));
	e.status = MV_ERR_NOMEM;
	assert_string_equal(mv_error_reason(&e), "MilvusError");
	e.status = MV_ERR_INVALID;
	assert_string_equal(mv_error_reason(&e), "MilvusError");
	assert_false(mv_error_is_auth(NULL));
}

/* ---- client configuration ---------------------------------------------------------- */

static void assert_cfg_invalid(const struct mv_config *cfg)
{
	struct mv_client *c = (struct mv_client *)0x1;
	struct mv_error err;

	assert_int_equal(mv_client_new(cfg, &c, &err), MV_ERR_INVALID);
	assert_int_equal(err.status, MV_ERR_INVALID);
	assert_ptr_equal(c, (struct mv_client *)0x1);
	assert_true(strlen(err.message) > 0);
}

static void test_client_config(void **state)
{
	struct mv_config cfg = {.base_url = "https://milvus.ns.svc:19530", .ca_pem = "x"};
	struct mv_client *c = NULL;
	struct mv_error err;

	assert_int_equal(mv_client_new(&cfg, &c, &err), MV_OK);
	assert_int_equal(err.status, MV_OK);
	assert_int_equal(mv_client_set_credentials(c, "root", "Milvus"), MV_OK);
	assert_int_equal(mv_client_set_credentials(c, "ro:ot", "x"), MV_ERR_INVALID);
	assert_int_equal(mv_client_set_credentials(c, "root", "a\r\nX-Evil: 1"), MV_ERR_INVALID);
	assert_int_equal(mv_client_set_credentials(c, NULL, NULL), MV_OK);
	mv_client_free(c);
	mv_client_free(NULL);

	cfg.ca_pem = NULL; /* https needs a CA */
	assert_cfg_invalid(&cfg);
	cfg.ca_pem = "";
	assert_cfg_invalid(&cfg);
	cfg.ca_pem = "x";
	cfg.base_url = "ftp://milvus";
	assert_cfg_invalid(&cfg);
	cfg.base_url = "https://";
	assert_cfg_invalid(&cfg);
	cfg.base_url = "https://root:Milvus@milvus:19530";
	assert_cfg_invalid(&cfg);
	cfg.base_url = "https://milvus:19530/?x=1";
	assert_cfg_invalid(&cfg);
	cfg.base_url = "https://milvus:19530\r\nHost: x";
	assert_cfg_invalid(&cfg);
	cfg.base_url = NULL;
	assert_cfg_invalid(&cfg);
	cfg.base_url = "https://milvus:19530";
	cfg.cert_pem = "cert";
	assert_cfg_invalid(&cfg); /* a certificate without its key */
	cfg.cert_pem = NULL;
	cfg.connect_to = "127.0.0.1";
	assert_cfg_invalid(&cfg);
	cfg.connect_to = "127.0.0.1:80x";
	assert_cfg_invalid(&cfg);
	cfg.connect_to = NULL;
	cfg.timeout_ms = -1;
	assert_cfg_invalid(&cfg);
	cfg.timeout_ms = 0;
	cfg.user = "";
	assert_cfg_invalid(&cfg);
	cfg.user = "a:b";
	assert_cfg_invalid(&cfg);
	cfg.user = "root";
	cfg.password = "pw\n";
	assert_cfg_invalid(&cfg);
	assert_int_equal(mv_client_new(NULL, &c, &err), MV_ERR_INVALID);

	/* plain http needs no CA (tests only) */
	cfg = (struct mv_config){.base_url = "HTTP://127.0.0.1:1/milvus/"};
	assert_int_equal(mv_client_new(&cfg, &c, NULL), MV_OK);
	/* argument errors are reported before anything is sent */
	{
		unsigned long before = mv_requests_total();
		struct mv_names n = {0};
		assert_int_equal(mv_user_describe(c, "", &n, &err), MV_ERR_INVALID);
		assert_string_equal(mv_error_reason(&err), "MilvusError");
		assert_non_null(strstr(err.message, "users/describe: invalid argument"));
		assert_int_equal(mv_privilege_group_add(c, "g", NULL, 0, &err), MV_ERR_INVALID);
		assert_int_equal(mv_user_list(c, NULL, &err), MV_ERR_INVALID);
		assert_int_equal(mv_authenticate(c, &err), MV_ERR_INVALID); /* no user */
		assert_int_equal(mv_requests_total(), before);
	}
	mv_client_free(c);
}

/* ---- a scripted HTTP(S) server ----------------------------------------------------- */

#define MAX_EXCHANGES 16

struct canned {
	int status;
	const char *body;
	size_t big; /* instead of body: this many filler bytes */
};

struct rec {
	char line[256];
	char headers[4096]; /* from the "\r\n" ending the request line to the blank line */
	char body[8192];
};

struct srv {
	int lfd, port;
	pthread_t th;
	SSL_CTX *tls;
	pthread_mutex_t mu;
	struct canned resp[MAX_EXCHANGES];
	size_t nresp, served;
	struct rec rec[MAX_EXCHANGES];
	size_t nrec;
	int accepts;
	char peer_cn[128];
};

struct conn {
	int fd;
	SSL *ssl;
};

static long conn_read(struct conn *c, char *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, n > 65536 ? 65536 : (int)n);
		return r > 0 ? r : -1;
	}
	return (long)recv(c->fd, p, n, 0);
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		long w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = (long)send(c->fd, p, n, MSG_NOSIGNAL);
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one request into r: 0, or -1 at end of connection. */
static int read_request(struct conn *c, struct rec *r)
{
	char buf[65536];
	size_t len = 0, hlen, blen = 0;
	char *end, *cl, *line_end;

	for (;;) {
		long n;
		buf[len] = '\0';
		end = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (len + 1 >= sizeof(buf))
			return -1;
		n = conn_read(c, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	hlen = (size_t)(end - buf) + 4;
	line_end = strstr(buf, "\r\n");
	snprintf(r->line, sizeof(r->line), "%.*s", (int)(line_end - buf), buf);
	snprintf(r->headers, sizeof(r->headers), "%.*s", (int)(end + 2 - line_end), line_end);
	cl = strcasestr(r->headers, "\r\nContent-Length:");
	if (cl) {
		char *e;
		unsigned long v = strtoul(cl + 17, &e, 10);
		if (e == cl + 17 || v >= sizeof(r->body))
			return -1;
		blen = v;
	}
	while (len < hlen + blen) {
		long n;
		if (len + 1 >= sizeof(buf))
			return -1;
		n = conn_read(c, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	memcpy(r->body, buf + hlen, blen);
	r->body[blen] = '\0';
	return 0;
}

static int respond(struct conn *c, const struct canned *k)
{
	char head[256];
	size_t blen = k->big ? k->big : strlen(k->body);
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 k->status, k->status == 200 ? "OK" : "Not OK", blen);

	if (n < 0 || (size_t)n >= sizeof(head) || conn_write(c, head, (size_t)n))
		return -1;
	if (!k->big)
		return conn_write(c, k->body, blen);
	{
		static char fill[65536];
		memset(fill, ' ', sizeof(fill));
		while (blen) {
			size_t m = blen < sizeof(fill) ? blen : sizeof(fill);
			if (conn_write(c, fill, m))
				return -1;
			blen -= m;
		}
	}
	return 0;
}

static void serve_conn(struct srv *s, struct conn *c)
{
	for (;;) {
		struct rec r;
		struct canned k = {500, "{\"code\":65535,\"message\":\"no canned response\"}", 0};

		if (read_request(c, &r))
			return;
		pthread_mutex_lock(&s->mu);
		if (s->nrec < MAX_EXCHANGES)
			s->rec[s->nrec++] = r;
		if (s->served < s->nresp)
			k = s->resp[s->served++];
		pthread_mutex_unlock(&s->mu);
		if (respond(c, &k))
			return;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		struct conn c = {-1, NULL};

		c.fd = accept(s->lfd, NULL, NULL);
		if (c.fd < 0) {
			if (errno == EINTR)
				continue;
			break; /* the listening socket was shut down */
		}
		pthread_mutex_lock(&s->mu);
		s->accepts++;
		pthread_mutex_unlock(&s->mu);
		if (s->tls) {
			c.ssl = SSL_new(s->tls);
			SSL_set_fd(c.ssl, c.fd);
			if (SSL_accept(c.ssl) != 1)
				goto done;
			X509 *peer = SSL_get1_peer_certificate(c.ssl);
			if (peer) {
				pthread_mutex_lock(&s->mu);
				X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
				                          NID_commonName, s->peer_cn,
				                          sizeof(s->peer_cn));
				pthread_mutex_unlock(&s->mu);
				X509_free(peer);
			}
		}
		serve_conn(s, &c);
		if (c.ssl)
			SSL_shutdown(c.ssl);
	done:
		SSL_free(c.ssl);
		close(c.fd);
	}
	return NULL;
}

static struct srv *srv_start(SSL_CTX *tls)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	s->tls = tls;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return s;
}

/* Queue the next answers (before the calls that get them). */
static void srv_script(struct srv *s, const struct canned *k, size_t n)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n && s->nresp < MAX_EXCHANGES; i++)
		s->resp[s->nresp++] = k[i];
	pthread_mutex_unlock(&s->mu);
}

static struct rec srv_rec(struct srv *s, size_t i)
{
	struct rec r;

	pthread_mutex_lock(&s->mu);
	assert_true(i < s->nrec);
	r = s->rec[i];
	pthread_mutex_unlock(&s->mu);
	return r;
}

static size_t srv_nrec(struct srv *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nrec;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Stop: free every client first (closing their connections), then this. */
static void srv_stop(struct srv *s)
{
	shutdown(s->lfd, SHUT_RDWR); /* accept() fails from now on */
	assert_int_equal(pthread_join(s->th, NULL), 0);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct mv_client *plain_client(struct srv *s, const char *user, const char *pw)
{
	char url[64];
	struct mv_config cfg = {.base_url = url, .user = user, .password = pw};
	struct mv_client *c = NULL;
	struct mv_error err;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);
	assert_int_equal(mv_client_new(&cfg, &c, &err), MV_OK);
	return c;
}

static int has_header(const struct rec *r, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(r->headers, want) != NULL;
}

/* ---- round trips over plain HTTP ---------------------------------------------------- */

static void test_roundtrip_create(void **state)
{
	static const struct canned k[] = {{200, "{\"code\":0,\"data\":{}}", 0}};
	struct srv *s = srv_start(NULL);
	struct mv_client *c = plain_client(s, "root", "Milvus");
	unsigned long before = mv_requests_total();
	struct mv_error err;
	struct rec r;

	srv_script(s, k, 1);
	assert_int_equal(mv_user_create(c, "alice", "Pa\"ss-w0rd", &err), MV_OK);
	assert_int_equal(err.status, MV_OK);
	assert_int_equal(err.http_status, 200);
	assert_int_equal(mv_requests_total(), before + 1);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /v2/vectordb/users/create HTTP/1.1");
	assert_true(has_header(&r, "Authorization: Bearer root:Milvus"));
	assert_true(has_header(&r, "Content-Type: application/json"));
	assert_true(has_header(&r, "Accept: application/json"));
	assert_null(strcasestr(r.headers, "\r\nExpect:"));
	assert_string_equal(r.body, "{\"userName\":\"alice\",\"password\":\"Pa\\\"ss-w0rd\"}");
	mv_client_free(c);
	srv_stop(s);
}

static void test_roundtrip_reads_and_reuse(void **state)
{
	static const struct canned k[] = {
	    {200, "{\"code\":0,\"data\":[\"root\",\"alice\"]}", 0},
	    {200,
	     "{\"code\":0,\"data\":[{\"objectType\":\"Collection\",\"objectName\":\"docs\","
	     "\"privilege\":\"Search\",\"dbName\":\"default\",\"grantor\":\"root\"}]}",
	     0},
	    {200,
	     "{\"code\":200,\"data\":{\"privilegeGroups\":[{\"privilegeGroupName\":\"ro\","
	     "\"privileges\":\"Search,Query\"}]}}",
	     0},
	    {200, "{\"code\":0,\"data\":{}}", 0},
	};
	const char *const privs[] = {"Search", "Query"};
	struct srv *s = srv_start(NULL);
	struct mv_client *c = plain_client(s, "root", "Milvus");
	struct mv_names users = {0};
	struct mv_grants grants = {0};
	struct mv_groups groups = {0};
	struct mv_error err;
	struct rec r;

	srv_script(s, k, 4);
	assert_int_equal(mv_user_list(c, &users, &err), MV_OK);
	assert_int_equal(users.n, 2);
	assert_true(mv_names_has(&users, "alice"));
	assert_int_equal(mv_role_describe(c, "reader", "default", &grants, &err), MV_OK);
	assert_int_equal(grants.n, 1);
	assert_string_equal(grants.v[0].object_name, "docs");
	assert_int_equal(mv_privilege_group_list(c, &groups, &err), MV_OK);
	assert_int_equal(groups.n, 1);
	assert_string_equal(groups.v[0].name, "ro");
	assert_true(mv_names_has(&groups.v[0].privileges, "Query"));
	assert_int_equal(mv_privilege_group_add(c, "ro", privs, 2, &err), MV_OK);

	assert_int_equal(srv_nrec(s), 4);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /v2/vectordb/users/list HTTP/1.1");
	assert_string_equal(r.body, "{}");
	r = srv_rec(s, 1);
	assert_string_equal(r.line, "POST /v2/vectordb/roles/describe HTTP/1.1");
	assert_string_equal(r.body, "{\"roleName\":\"reader\",\"dbName\":\"default\"}");
	r = srv_rec(s, 2);
	assert_string_equal(r.line, "POST /v2/vectordb/privilege_groups/list HTTP/1.1");
	r = srv_rec(s, 3);
	assert_string_equal(r.line,
	                    "POST /v2/vectordb/privilege_groups/add_privileges_to_group HTTP/1.1");
	assert_string_equal(r.body, "{\"privilegeGroupName\":\"ro\","
	                            "\"privileges\":[\"Search\",\"Query\"]}");
	/* one connection for all four */
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->accepts, 1);
	pthread_mutex_unlock(&s->mu);

	mv_names_free(&users);
	mv_grants_free(&grants);
	mv_groups_free(&groups);
	mv_client_free(c);
	srv_stop(s);
}

static void test_roundtrip_databases(void **state)
{
	static const struct canned k[] = {
	    {200, "{\"code\":0,\"data\":[\"default\",\"sales\"]}", 0},
	    {200, "{\"code\":0,\"data\":{\"dbID\":1,\"dbName\":\"default\",\"properties\":[]}}", 0},
	    {200, "{\"code\":0,\"data\":{}}", 0},
	    {200,
	     "{\"code\":65535,\"message\":\"failed to tidy database cipher properties: "
	     "cipher plugin is missing\"}",
	     0},
	    {200, "{\"code\":800,\"message\":\"database not found[database=nope]\"}", 0},
	};
	const char *const keys[] = {MV_PROP_CIPHER_ENABLED, MV_PROP_CIPHER_KEY};
	const char *const vals[] = {"true", "arn:aws:kms:us-east-1:111122223333:key/k"};
	struct srv *s = srv_start(NULL);
	struct mv_client *c = plain_client(s, "root", "Milvus");
	struct mv_names names = {0};
	struct mv_database db = {0};
	struct mv_error err;
	struct rec r;

	srv_script(s, k, 5);
	assert_int_equal(mv_database_list(c, &names, &err), MV_OK);
	assert_int_equal(names.n, 2);
	assert_true(mv_names_has(&names, "sales"));
	assert_int_equal(mv_database_describe(c, "default", &db, &err), MV_OK);
	assert_string_equal(db.name, "default");
	assert_true(db.id == 1);
	assert_int_equal(db.nprops, 0);
	assert_int_equal(mv_database_create(c, "hr", keys, vals, 2, &err), MV_OK);
	assert_int_equal(mv_database_create(c, "hr2", keys, vals, 2, &err), MV_ERR_MILVUS);
	assert_int_equal(err.code, MV_CODE_GENERIC);
	assert_non_null(strstr(err.message, "databases/create: "));
	assert_non_null(strstr(err.message, "cipher plugin is missing"));
	{
		struct mv_database untouched = {0};
		assert_int_equal(mv_database_describe(c, "nope", &untouched, &err), MV_ERR_MILVUS);
		assert_int_equal(err.code, MV_CODE_DATABASE_NOT_FOUND);
		assert_null(untouched.name);
	}
	/* nothing is sent for an invalid argument */
	assert_int_equal(mv_database_create(c, "", keys, vals, 2, &err), MV_ERR_INVALID);

	assert_int_equal(srv_nrec(s), 5);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /v2/vectordb/databases/list HTTP/1.1");
	assert_string_equal(r.body, "{}");
	r = srv_rec(s, 1);
	assert_string_equal(r.line, "POST /v2/vectordb/databases/describe HTTP/1.1");
	assert_string_equal(r.body, "{\"dbName\":\"default\"}");
	r = srv_rec(s, 2);
	assert_string_equal(r.line, "POST /v2/vectordb/databases/create HTTP/1.1");
	assert_string_equal(r.body, "{\"dbName\":\"hr\",\"properties\":{\"cipher.enabled\":"
	                            "\"true\",\"cipher.key\":\"arn:aws:kms:us-east-1:"
	                            "111122223333:key/k\"}}");
	mv_names_free(&names);
	mv_database_free(&db);
	mv_client_free(c);
	srv_stop(s);
}

static void test_authenticate(void **state)
{
	static const struct canned k[] = {
	    {200, "{\"code\":0,\"data\":[\"admin\"]}", 0},
	    {200, "{\"code\":1401,\"message\":\"privilege not permitted\"}", 0},
	    {200, "{\"code\":1400,\"message\":\"not authenticated\"}", 0},
	    {401, "{\"code\":1800,\"message\":\"user hasn't authenticated\"}", 0},
	};
	struct srv *s = srv_start(NULL);
	struct mv_client *c = plain_client(s, "alice", "right-pw");
	struct mv_error err;
	struct rec r;

	srv_script(s, k, 4);
	assert_int_equal(mv_authenticate(c, &err), MV_OK);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /v2/vectordb/users/describe HTTP/1.1");
	assert_string_equal(r.body, "{\"userName\":\"alice\"}");
	assert_true(has_header(&r, "Authorization: Bearer alice:right-pw"));

	/* 1401: authenticated, only not allowed to describe */
	assert_int_equal(mv_authenticate(c, &err), MV_OK);
	assert_int_equal(err.status, MV_OK);
	assert_int_equal(err.code, 0);

	/* wrong password, as code 1400 ... */
	assert_int_equal(mv_client_set_credentials(c, "alice", "wrong-pw"), MV_OK);
	assert_int_equal(mv_authenticate(c, &err), MV_ERR_MILVUS);
	assert_int_equal(err.code, 1400);
	assert_true(mv_error_is_auth(&err));
	assert_string_equal(mv_error_reason(&err), "MilvusAuthenticationFailed");
	assert_string_equal(err.message, "users/describe: not authenticated");
	r = srv_rec(s, 2);
	assert_true(has_header(&r, "Authorization: Bearer alice:wrong-pw"));

	/* ... and as Milvus' auth middleware says it: HTTP 401, code 1800 */
	assert_int_equal(mv_authenticate(c, &err), MV_ERR_MILVUS);
	assert_int_equal(err.http_status, 401);
	assert_int_equal(err.code, 1800);
	assert_true(mv_error_is_auth(&err));
	assert_string_equal(mv_error_reason(&err), "MilvusAuthenticationFailed");

	mv_client_free(c);
	srv_stop(s);
}

static void test_http_errors(void **state)
{
	static const struct canned k[] = {
	    {503, "<html>upstream unavailable</html>", 0},
	    {200, "{\"code\":0,", 0},
	    {200,
	     "{\"code\":65535,\"message\":\"bad password Sup3r-Secret for user bob, "
	     "new one n3w-Secret, bearer root-pw\"}",
	     0},
	    {200, "{\"code\":65535,\"message\":\"was Secret, now Secret-2\"}", 0},
	    {404, "{\"code\":0}", 0},
	    {200, NULL, MV_MAX_RESPONSE + 1},
	    {200, "{\"code\":0}", 0},
	};
	struct srv *s = srv_start(NULL);
	struct mv_client *c = plain_client(s, "root", "root-pw");
	struct mv_names n = {0};
	struct mv_error err;

	srv_script(s, k, 7);
	assert_int_equal(mv_role_create(c, "r", &err), MV_ERR_TRANSPORT);
	assert_int_equal(err.http_status, 503);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.message, "roles/create: http status 503");
	assert_string_equal(mv_error_reason(&err), "MilvusUnreachable");

	assert_int_equal(mv_role_list(c, &n, &err), MV_ERR_TRANSPORT);
	assert_null(n.v);
	assert_int_equal(err.http_status, 200);
	assert_non_null(strstr(err.message, "roles/list: garbled response"));

	/* Milvus echoing a password: it never reaches the message */
	assert_int_equal(mv_user_update_password(c, "bob", "Sup3r-Secret", "n3w-Secret", &err),
	                 MV_ERR_MILVUS);
	assert_int_equal(err.code, 65535);
	assert_string_equal(err.message, "users/update_password: bad password *** for user bob, "
	                                 "new one ***, bearer ***");
	assert_string_equal(mv_error_reason(&err), "MilvusError");
	/* a password that extends another is hidden whole */
	assert_int_equal(mv_user_update_password(c, "bob", "Secret", "Secret-2", &err),
	                 MV_ERR_MILVUS);
	assert_string_equal(err.message, "users/update_password: was ***, now ***");

	/* code 0 with a non-200 status is no success */
	assert_int_equal(mv_role_drop(c, "r", &err), MV_ERR_TRANSPORT);
	assert_int_equal(err.http_status, 404);

	/* a body over the cap is cut off where it is read */
	assert_int_equal(mv_user_list(c, &n, &err), MV_ERR_TRANSPORT);
	assert_null(n.v);
	assert_non_null(strstr(err.message, "users/list: response larger than"));

	/* and the client recovers on a new connection */
	assert_int_equal(mv_user_drop(c, "bob", &err), MV_OK);
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->accepts, 2);
	pthread_mutex_unlock(&s->mu);

	mv_client_free(c);
	srv_stop(s);
}

static void test_connect_to_and_prefix(void **state)
{
	static const struct canned k[] = {{200, "{\"code\":0}", 0}};
	struct srv *s = srv_start(NULL);
	struct mv_config cfg = {.base_url = "http://milvus.example:19530/gw//", .connect_to = NULL};
	struct mv_client *c = NULL;
	struct mv_error err;
	char to[32];
	struct rec r;

	snprintf(to, sizeof(to), "127.0.0.1:%d", s->port);
	cfg.connect_to = to;
	assert_int_equal(mv_client_new(&cfg, &c, &err), MV_OK);
	srv_script(s, k, 1);
	assert_int_equal(mv_role_grant_privilege_v2(c, "r", "Search", "db1", "docs", &err), MV_OK);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /gw/v2/vectordb/roles/grant_privilege_v2 HTTP/1.1");
	assert_true(has_header(&r, "Host: milvus.example:19530"));
	assert_null(strcasestr(r.headers, "\r\nAuthorization:")); /* no user: no header */
	mv_client_free(c);
	srv_stop(s);
}

static void test_connection_refused(void **state)
{
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	struct mv_config cfg = {0};
	struct mv_client *c = NULL;
	struct mv_names n = {0};
	struct mv_error err;
	char url[64];
	int fd;

	/* a port held bound but not listening: connecting is refused, and no other
	 * process can take the port meanwhile */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	cfg.base_url = url;
	cfg.user = "root";
	cfg.password = "Milvus";
	assert_int_equal(mv_client_new(&cfg, &c, &err), MV_OK);
	assert_int_equal(mv_user_list(c, &n, &err), MV_ERR_TRANSPORT);
	assert_null(n.v);
	assert_int_equal(err.status, MV_ERR_TRANSPORT);
	assert_int_equal(err.http_status, 0);
	assert_string_equal(mv_error_reason(&err), "MilvusUnreachable");
	assert_non_null(strstr(err.message, "users/list: "));
	assert_null(strstr(err.message, "Milvus"));
	assert_int_equal(mv_authenticate(c, &err), MV_ERR_TRANSPORT);
	assert_false(mv_error_is_auth(&err));
	mv_client_free(c);
	close(fd);
}

/* ---- TLS ------------------------------------------------------------------------------ */

struct tls_fixture {
	struct pki_pair ca, other_ca, server, client;
};

static void issue(const struct pki_pair *ca, const char *cn, const char *dns, enum pki_usage usage,
                  struct pki_pair *out)
{
	const char *const names[] = {dns};
	struct pki_leaf_req req = {.cn = cn,
	                           .dns = dns ? names : NULL,
	                           .ndns = dns ? 1 : 0,
	                           .usage = usage,
	                           .alg = PKI_KEY_ECDSA_P256,
	                           .lifetime = 3600};
	char e[256];

	assert_int_equal(pki_issue(ca->cert_pem, ca->key_pem, &req, time(NULL), out, e, sizeof(e)),
	                 0);
}

static int tls_setup(void **state)
{
	struct tls_fixture *f = calloc(1, sizeof(*f));
	char e[256];

	assert_non_null(f);
	assert_int_equal(
	    pki_ca_create("test CA", PKI_KEY_ECDSA_P256, 3600, time(NULL), &f->ca, e, sizeof(e)),
	    0);
	assert_int_equal(pki_ca_create("other CA", PKI_KEY_ECDSA_P256, 3600, time(NULL),
	                               &f->other_ca, e, sizeof(e)),
	                 0);
	issue(&f->ca, "milvus", "milvus.test", PKI_USAGE_SERVER, &f->server);
	issue(&f->ca, "vecward-operator", NULL, PKI_USAGE_CLIENT, &f->client);
	*state = f;
	return 0;
}

static int tls_teardown(void **state)
{
	struct tls_fixture *f = *state;

	pki_pair_free(&f->ca);
	pki_pair_free(&f->other_ca);
	pki_pair_free(&f->server);
	pki_pair_free(&f->client);
	free(f);
	return 0;
}

static SSL_CTX *server_ctx(const struct tls_fixture *f)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *b;
	X509 *x, *ca;
	EVP_PKEY *k;

	assert_non_null(ctx);
	b = BIO_new_mem_buf(f->server.cert_pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(f->server.key_pem, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(f->ca.cert_pem, -1);
	ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	assert_non_null(k);
	assert_non_null(ca);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
	/* ask for a client certificate; verify it when one comes */
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	return ctx;
}

static struct mv_client *tls_client(struct srv *s, const char *host, const char *ca_pem,
                                    const struct pki_pair *client)
{
	char url[128], to[32];
	struct mv_config cfg = {.base_url = url,
	                        .connect_to = to,
	                        .ca_pem = ca_pem,
	                        .user = "root",
	                        .password = "Milvus"};
	struct mv_client *c = NULL;
	struct mv_error err;

	snprintf(url, sizeof(url), "https://%s:19530", host);
	snprintf(to, sizeof(to), "127.0.0.1:%d", s->port);
	if (client) {
		cfg.cert_pem = client->cert_pem;
		cfg.key_pem = client->key_pem;
	}
	assert_int_equal(mv_client_new(&cfg, &c, &err), MV_OK);
	return c;
}

static void test_tls(void **state)
{
	static const struct canned k[] = {{200, "{\"code\":0,\"data\":[\"root\"]}", 0}};
	struct tls_fixture *f = *state;
	SSL_CTX *ctx = server_ctx(f);
	struct srv *s = srv_start(ctx);
	struct mv_names n = {0};
	struct mv_error err;
	struct mv_client *c;
	struct rec r;

	/* the right CA and host name, with a client certificate: through */
	srv_script(s, k, 1);
	c = tls_client(s, "milvus.test", f->ca.cert_pem, &f->client);
	assert_int_equal(mv_user_list(c, &n, &err), MV_OK);
	assert_true(mv_names_has(&n, "root"));
	mv_names_free(&n);
	mv_client_free(c);
	r = srv_rec(s, 0);
	assert_string_equal(r.line, "POST /v2/vectordb/users/list HTTP/1.1");
	assert_true(has_header(&r, "Host: milvus.test:19530"));
	pthread_mutex_lock(&s->mu);
	assert_string_equal(s->peer_cn, "vecward-operator"); /* set before the answer went */
	pthread_mutex_unlock(&s->mu);

	/* a CA that did not sign the server's certificate: refused */
	c = tls_client(s, "milvus.test", f->other_ca.cert_pem, NULL);
	assert_int_equal(mv_user_list(c, &n, &err), MV_ERR_TRANSPORT);
	assert_null(n.v);
	assert_string_equal(mv_error_reason(&err), "MilvusUnreachable");
	assert_int_equal(err.http_status, 0);
	assert_non_null(strstr(err.message, "users/list: "));
	mv_client_free(c);

	/* the right CA, but a host name the certificate does not name: refused */
	c = tls_client(s, "other.test", f->ca.cert_pem, NULL);
	assert_int_equal(mv_user_list(c, &n, &err), MV_ERR_TRANSPORT);
	assert_string_equal(mv_error_reason(&err), "MilvusUnreachable");
	mv_client_free(c);

	/* no request but the first was ever sent (how far each refused handshake
	 * got on the server's side is not asserted: that would race the client) */
	assert_int_equal(srv_nrec(s), 1);

	srv_stop(s);
	SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body_users),
	    cmocka_unit_test(test_body_roles),
	    cmocka_unit_test(test_body_groups),
	    cmocka_unit_test(test_body_escaping),
	    cmocka_unit_test(test_body_databases),
	    cmocka_unit_test(test_body_invalid),
	    cmocka_unit_test(test_op_paths),
	    cmocka_unit_test(test_parse_success_list),
	    cmocka_unit_test(test_parse_success_object),
	    cmocka_unit_test(test_parse_error),
	    cmocka_unit_test(test_parse_long_message_is_cut),
	    cmocka_unit_test(test_parse_legacy_200),
	    cmocka_unit_test(test_parse_garbled),
	    cmocka_unit_test(test_parse_oversize),
	    cmocka_unit_test(test_parse_data_missing),
	    cmocka_unit_test(test_parse_bad_shapes),
	    cmocka_unit_test(test_parse_grants),
	    cmocka_unit_test(test_parse_groups),
	    cmocka_unit_test(test_parse_database),
	    cmocka_unit_test(test_parse_database_bad_shapes),
	    cmocka_unit_test(test_split_privileges),
	    cmocka_unit_test(test_error_reason),
	    cmocka_unit_test(test_client_config),
	    cmocka_unit_test(test_roundtrip_create),
	    cmocka_unit_test(test_roundtrip_reads_and_reuse),
	    cmocka_unit_test(test_roundtrip_databases),
	    cmocka_unit_test(test_authenticate),
	    cmocka_unit_test(test_http_errors),
	    cmocka_unit_test(test_connect_to_and_prefix),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test_setup_teardown(test_tls, tls_setup, tls_teardown),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN); /* a peer hanging up mid-write must not kill the test */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

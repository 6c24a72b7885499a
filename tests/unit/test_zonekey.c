/*
 * Tests for operator/crypto/zonekey (names, encryption context, the stored
 * JSON entry, rotation arithmetic, the latest version of a database in a
 * zone-keys Secret) and for the zone-key half of operator/reconcile/kmsconn:
 * a zone key made by the local provider under zk_context unwraps to the same
 * 32 bytes, an entry whose database, version or cluster UID was changed does
 * not (the KMS checks the context), and an entry of another cluster is
 * refused before the KMS is asked (a counting provider proves it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json.h"
#include "kms.h"
#include "kmsconn.h"
#include "unit.h"
#include "zonekey.h"

#define UID  "5f0c1d7e-9b7a-4c55-8f7e-3c2b1a0d9e8f"
#define UID2 "0a1b2c3d-0000-4000-8000-000000000002"

static const uint8_t ROOT[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* A name of n characters: "d" then n-1 'x'. */
static char *long_name(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'x', n);
	s[0] = 'd';
	s[n] = '\0';
	return s;
}

/* ---- names ---------------------------------------------------------------- */

static void test_database_names(void **state)
{
	char *max = long_name(ZK_DATABASE_MAX), *over = long_name(ZK_DATABASE_MAX + 1);

	assert_true(zk_database_ok("default"));
	assert_true(zk_database_ok("_x9"));
	assert_true(zk_database_ok("Sales_2026"));
	assert_true(zk_database_ok(max));
	assert_false(zk_database_ok(over));
	assert_false(zk_database_ok(NULL));
	assert_false(zk_database_ok(""));
	assert_false(zk_database_ok("9lives"));
	assert_false(zk_database_ok("a-b"));
	assert_false(zk_database_ok("a.b"));
	assert_false(zk_database_ok("a b"));
	assert_false(zk_database_ok("caf\xc3\xa9"));
	free(max);
	free(over);
}

static void test_data_key(void **state)
{
	char out[300], db[ZK_DATABASE_MAX + 1];
	char *max = long_name(ZK_DATABASE_MAX), *over = long_name(ZK_DATABASE_MAX + 1);
	uint32_t v = 0;

	assert_int_equal(zk_data_key("default", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "default.v1");
	assert_int_equal(zk_data_key("db_2", ZK_VERSION_MAX, out, sizeof(out)), 0);
	assert_string_equal(out, "db_2.v1000000");
	/* out of exactly the right size, and one byte short */
	assert_int_equal(zk_data_key("db", 7, out, 6), 0);
	assert_string_equal(out, "db.v7");
	assert_int_equal(zk_data_key("db", 7, out, 5), -1);
	/* rejects */
	assert_int_equal(zk_data_key("db", 0, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key("db", ZK_VERSION_MAX + 1, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key("", 1, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key(NULL, 1, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key("a-b", 1, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key("a.v1", 1, out, sizeof(out)), -1);
	assert_int_equal(zk_data_key(over, 1, out, sizeof(out)), -1);

	/* round trips */
	assert_int_equal(zk_parse_data_key("default.v1", db, sizeof(db), &v), 0);
	assert_string_equal(db, "default");
	assert_int_equal(v, 1);
	assert_int_equal(zk_parse_data_key("db_2.v1000000", db, sizeof(db), &v), 0);
	assert_string_equal(db, "db_2");
	assert_int_equal(v, ZK_VERSION_MAX);
	assert_int_equal(zk_data_key(max, 42, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), ZK_DATABASE_MAX + 4);
	assert_int_equal(zk_parse_data_key(out, db, sizeof(db), &v), 0);
	assert_string_equal(db, max);
	assert_int_equal(v, 42);
	/* database buffer of exactly the right size, and one byte short */
	assert_int_equal(zk_parse_data_key("db.v3", db, 3, &v), 0);
	assert_string_equal(db, "db");

	/* rejects leave the outputs alone */
	snprintf(db, sizeof(db), "unchanged");
	v = 77;
	static const char *const bad[] = {
	    "db.v0",
	    "db.v01",
	    "db.x1",
	    "db.v",
	    "db",
	    "db.",
	    ".v1",
	    "db.v1x",
	    "db.v-1",
	    "db.v+1",
	    "db.v 1",
	    "db.v1 ",
	    " db.v1",
	    "db.V1",
	    "1db.v1",
	    "a-b.v1",
	    "a.b.v1",
	    "db.v1000001",
	    "db.v99999999999999999999",
	    "",
	    "db..v1",
	    "db.v1.v2x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (zk_parse_data_key(bad[i], db, sizeof(db), &v) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(zk_parse_data_key(NULL, db, sizeof(db), &v), -1);
	assert_int_equal(zk_parse_data_key("db.v3", db, 2, &v), -1);
	snprintf(out, sizeof(out), "%s.v1", over);
	assert_int_equal(zk_parse_data_key(out, db, sizeof(db), &v), -1);
	assert_string_equal(db, "unchanged");
	assert_int_equal(v, 77);
	free(max);
	free(over);
}

static void test_secret_name(void **state)
{
	char out[300];
	char *ok = long_name(253 - strlen("-zone-keys"));
	char *over = long_name(254 - strlen("-zone-keys"));

	assert_int_equal(zk_secret_name("search", out, sizeof(out)), 0);
	assert_string_equal(out, "search-zone-keys");
	assert_int_equal(zk_secret_name(ok, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 253);
	assert_int_equal(zk_secret_name(over, out, sizeof(out)), -1);
	assert_int_equal(zk_secret_name("", out, sizeof(out)), -1);
	assert_int_equal(zk_secret_name(NULL, out, sizeof(out)), -1);
	assert_int_equal(zk_secret_name("search", out, strlen("search-zone-keys")), -1);
	assert_int_equal(zk_secret_name("search", out, strlen("search-zone-keys") + 1), 0);

	assert_int_equal(kmsconn_root_secret_name("prod-key", out, sizeof(out)), 0);
	assert_string_equal(out, "prod-key-root-key");
	assert_int_equal(kmsconn_root_secret_name("", out, sizeof(out)), -1);
	assert_int_equal(kmsconn_root_secret_name(NULL, out, sizeof(out)), -1);
	free(ok);
	free(over);
}

/* ---- encryption context ---------------------------------------------------- */

static void test_context(void **state)
{
	struct kms_context ctx;
	struct kms_error err;
	struct buf ser = BUF_INIT(4096);
	char ver[12];
	char *uid_max = long_name(KMS_CONTEXT_STR_MAX);
	char *uid_over = long_name(KMS_CONTEXT_STR_MAX + 1);
	static const char want_ser[] = "vwkms1"
	                               "\0\0\0\x16vecward.io/cluster-uid\0\0\0\x24" UID
	                               "\0\0\0\x13vecward.io/database\0\0\0\x05sales"
	                               "\0\0\0\x12vecward.io/purpose\0\0\0\x13"
	                               "encryption-zone-key"
	                               "\0\0\0\x12vecward.io/version\0\0\0\x02"
	                               "17";

	assert_int_equal(zk_context(&ctx, UID, "sales", 17, ver), 0);
	assert_string_equal(ver, "17");
	assert_int_equal(ctx.n, 4);
	/* sorted by key, exact values */
	assert_string_equal(ctx.kv[0].key, "vecward.io/cluster-uid");
	assert_string_equal(ctx.kv[0].value, UID);
	assert_string_equal(ctx.kv[1].key, "vecward.io/database");
	assert_string_equal(ctx.kv[1].value, "sales");
	assert_string_equal(ctx.kv[2].key, "vecward.io/purpose");
	assert_string_equal(ctx.kv[2].value, "encryption-zone-key");
	assert_string_equal(ctx.kv[3].key, "vecward.io/version");
	assert_ptr_equal(ctx.kv[3].value, ver);
	assert_int_equal(kms_context_check(&ctx, &err), 0);
	/* the local provider's AAD, byte for byte */
	assert_int_equal(kms_context_serialize(&ctx, &ser), 0);
	assert_int_equal(ser.len, sizeof(want_ser) - 1);
	assert_memory_equal(ser.ptr, want_ser, ser.len);

	assert_int_equal(zk_context(&ctx, UID, "sales", ZK_VERSION_MAX, ver), 0);
	assert_string_equal(ver, "1000000");
	assert_int_equal(zk_context(&ctx, uid_max, "sales", 1, ver), 0);

	/* rejects */
	assert_int_equal(zk_context(&ctx, NULL, "sales", 1, ver), -1);
	assert_int_equal(zk_context(&ctx, "", "sales", 1, ver), -1);
	assert_int_equal(zk_context(&ctx, uid_over, "sales", 1, ver), -1);
	assert_int_equal(zk_context(&ctx, UID, NULL, 1, ver), -1);
	assert_int_equal(zk_context(&ctx, UID, "a-b", 1, ver), -1);
	assert_int_equal(zk_context(&ctx, UID, "sales", 0, ver), -1);
	assert_int_equal(zk_context(&ctx, UID, "sales", ZK_VERSION_MAX + 1, ver), -1);
	buf_free(&ser);
	free(uid_max);
	free(uid_over);
}

/* ---- stored entries --------------------------------------------------------- */

static const uint8_t WRAPPED[] = {1, 0, 0xff, 0xfe, 0x10, 0x20, 0x30, 0x40, 0x3e, 0x3f, 0xfb};

#define ENTRY_JSON                                                                                 \
	"{\"format\":\"vecward.io/zone-key/v1\",\"encryptionKey\":\"prod-key\","                   \
	"\"provider\":\"local\",\"keyID\":\"local:0123456789abcdef\",\"cluster\":\"search\","      \
	"\"clusterUID\":\"" UID "\",\"database\":\"sales\",\"version\":3,"                         \
	"\"createdAt\":\"2026-01-02T03:04:05Z\",\"wrapped\":\"AQD//hAgMEA+P/s=\"}"

static void fixed_entry(struct zk_entry *e)
{
	zk_entry_init(e);
	snprintf(e->encryption_key, sizeof(e->encryption_key), "prod-key");
	snprintf(e->provider, sizeof(e->provider), "local");
	snprintf(e->key_id, sizeof(e->key_id), "local:0123456789abcdef");
	snprintf(e->cluster, sizeof(e->cluster), "search");
	snprintf(e->cluster_uid, sizeof(e->cluster_uid), UID);
	snprintf(e->database, sizeof(e->database), "sales");
	e->version = 3;
	snprintf(e->created_at, sizeof(e->created_at), "2026-01-02T03:04:05Z");
	assert_int_equal(buf_add(&e->wrapped, WRAPPED, sizeof(WRAPPED)), 0);
}

static void test_entry_round_trip(void **state)
{
	struct zk_entry e, back;
	struct buf json = BUF_INIT(ZK_ENTRY_MAX);
	char err[200] = "";

	fixed_entry(&e);
	assert_int_equal(zk_entry_encode(&e, &json), 0);
	assert_string_equal(buf_str(&json), ENTRY_JSON);

	zk_entry_init(&back);
	assert_int_equal(zk_entry_parse(json.ptr, json.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.encryption_key, "prod-key");
	assert_string_equal(back.provider, "local");
	assert_string_equal(back.key_id, "local:0123456789abcdef");
	assert_string_equal(back.cluster, "search");
	assert_string_equal(back.cluster_uid, UID);
	assert_string_equal(back.database, "sales");
	assert_int_equal(back.version, 3);
	assert_string_equal(back.created_at, "2026-01-02T03:04:05Z");
	assert_int_equal(back.wrapped.len, sizeof(WRAPPED));
	assert_memory_equal(back.wrapped.ptr, WRAPPED, sizeof(WRAPPED));

	/* encoding what was parsed gives the same bytes; encode appends */
	assert_int_equal(buf_adds(&json, "|"), 0);
	assert_int_equal(zk_entry_encode(&back, &json), 0);
	assert_string_equal(buf_str(&json), ENTRY_JSON "|" ENTRY_JSON);

	/* field order and whitespace do not matter to the parser */
	zk_entry_free(&back);
	zk_entry_init(&back);
	static const char reordered[] =
	    "{ \"wrapped\": \"AQD//hAgMEA+P/s=\", \"version\": 3, \"database\": \"sales\",\n"
	    "  \"createdAt\": \"2026-01-02T03:04:05Z\", \"clusterUID\": \"" UID "\",\n"
	    "  \"cluster\": \"search\", \"keyID\": \"k\", \"provider\": \"aws-kms\",\n"
	    "  \"encryptionKey\": \"prod-key\", \"format\": \"vecward.io/zone-key/v1\",\n"
	    "  \"extra\": {\"ignored\": [1, 2]} }";
	assert_int_equal(zk_entry_parse(reordered, strlen(reordered), &back, err, sizeof(err)), 0);
	assert_string_equal(back.provider, "aws-kms");
	assert_memory_equal(back.wrapped.ptr, WRAPPED, sizeof(WRAPPED));

	assert_string_equal(back.request, "");

	/* a version made on request names it, between createdAt and wrapped */
	zk_entry_free(&back);
	zk_entry_init(&back);
	buf_reset(&json);
	snprintf(e.request, sizeof(e.request), "r1");
	assert_int_equal(zk_entry_encode(&e, &json), 0);
	assert_string_equal(buf_str(&json),
	                    "{\"format\":\"vecward.io/zone-key/v1\",\"encryptionKey\":\"prod-key\","
	                    "\"provider\":\"local\",\"keyID\":\"local:0123456789abcdef\","
	                    "\"cluster\":\"search\",\"clusterUID\":\"" UID
	                    "\",\"database\":\"sales\","
	                    "\"version\":3,\"createdAt\":\"2026-01-02T03:04:05Z\","
	                    "\"rotationRequest\":\"r1\",\"wrapped\":\"AQD//hAgMEA+P/s=\"}");
	assert_int_equal(zk_entry_parse(json.ptr, json.len, &back, err, sizeof(err)), 0);
	assert_string_equal(back.request, "r1");

	zk_entry_free(&back);
	zk_entry_free(&e);
	buf_free(&json);
}

static void test_entry_encode_rejects(void **state)
{
	struct zk_entry e;
	struct buf json = BUF_INIT(ZK_ENTRY_MAX);

	/* every required field, emptied in turn */
	for (int i = 0; i < 10; i++) {
		fixed_entry(&e);
		switch (i) {
		case 0:
			e.encryption_key[0] = '\0';
			break;
		case 1:
			e.provider[0] = '\0';
			break;
		case 2:
			e.key_id[0] = '\0';
			break;
		case 3:
			e.cluster[0] = '\0';
			break;
		case 4:
			e.cluster_uid[0] = '\0';
			break;
		case 5:
			snprintf(e.database, sizeof(e.database), "a-b");
			break;
		case 6:
			e.version = 0;
			break;
		case 7:
			e.version = ZK_VERSION_MAX + 1;
			break;
		case 8:
			e.created_at[0] = '\0';
			break;
		case 9:
			buf_reset(&e.wrapped);
			break;
		}
		if (zk_entry_encode(&e, &json) != -1)
			fail_msg("case %d encoded", i);
		assert_int_equal(json.len, 0);
		zk_entry_free(&e);
	}
	buf_free(&json);
}

/* ENTRY_JSON with one "key":value pair replaced (value NULL: removed). */
static char *entry_with(const char *key, const char *value)
{
	static const char *const keys[] = {"format",    "encryptionKey", "provider", "keyID",
	                                   "cluster",   "clusterUID",    "database", "version",
	                                   "createdAt", "wrapped"};
	static const char *const vals[] = {"\"vecward.io/zone-key/v1\"",
	                                   "\"prod-key\"",
	                                   "\"local\"",
	                                   "\"local:0123456789abcdef\"",
	                                   "\"search\"",
	                                   "\"" UID "\"",
	                                   "\"sales\"",
	                                   "3",
	                                   "\"2026-01-02T03:04:05Z\"",
	                                   "\"AQD//hAgMEA+P/s=\""};
	struct buf b = BUF_INIT(1u << 20);
	int first = 1;

	assert_int_equal(buf_adds(&b, "{"), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = strcmp(keys[i], key) ? vals[i] : value;
		if (!v)
			continue;
		assert_int_equal(buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", keys[i], v), 0);
		first = 0;
	}
	assert_int_equal(buf_adds(&b, "}"), 0);
	return buf_take(&b);
}

static void expect_parse_fails(const char *json, size_t len, const char *want_in_err)
{
	struct zk_entry e;
	char err[200] = "";

	zk_entry_init(&e);
	if (zk_entry_parse(json, len, &e, err, sizeof(err)) != -1)
		fail_msg("parsed: %.200s", json);
	if (!strstr(err, want_in_err))
		fail_msg("error \"%s\" does not say \"%s\" for %.200s", err, want_in_err, json);
	assert_non_null(strstr(err, "zone key entry: "));
	zk_entry_free(&e);
}

static void expect_field_fails(const char *key, const char *value, const char *want_in_err)
{
	char *j = entry_with(key, value);

	expect_parse_fails(j, strlen(j), want_in_err);
	free(j);
}

static void test_entry_parse_rejects(void **state)
{
	struct zk_entry e;
	char err[200];
	char *j;

	/* the baseline parses */
	j = entry_with("", NULL);
	assert_string_equal(j, ENTRY_JSON);
	zk_entry_init(&e);
	assert_int_equal(zk_entry_parse(j, strlen(j), &e, err, sizeof(err)), 0);
	zk_entry_free(&e);
	free(j);

	/* each field missing */
	expect_field_fails("format", NULL, "format is not vecward.io/zone-key/v1");
	expect_field_fails("encryptionKey", NULL, "encryptionKey is missing");
	expect_field_fails("provider", NULL, "provider is missing");
	expect_field_fails("keyID", NULL, "keyID is missing");
	expect_field_fails("cluster", NULL, "cluster is missing");
	expect_field_fails("clusterUID", NULL, "clusterUID is missing");
	expect_field_fails("database", NULL, "database is missing");
	expect_field_fails("version", NULL, "version must be 1..1000000");
	expect_field_fails("createdAt", NULL, "createdAt is missing");
	expect_field_fails("wrapped", NULL, "wrapped is not base64");

	/* empty or of the wrong type */
	expect_field_fails("encryptionKey", "\"\"", "encryptionKey is missing");
	expect_field_fails("cluster", "7", "cluster is missing");
	expect_field_fails("clusterUID", "null", "clusterUID is missing");
	expect_field_fails("keyID", "[\"k\"]", "keyID is missing");

	/* wrong format */
	expect_field_fails("format", "\"vecward.io/zone-key/v2\"", "format is not");
	expect_field_fails("format", "\"\"", "format is not");
	expect_field_fails("format", "1", "format is not");

	/* too long for its field */
	/* 64 characters: one more than cluster_uid holds */
	expect_field_fails("clusterUID",
	                   "\"0123456789012345678901234567890123456789012345678901234567890123\"",
	                   "clusterUID is too long");
	expect_field_fails("provider", "\"aws-kms-aws-kms-x\"", "provider is too long");
	{
		/* rotationRequest is optional, but bounded when present */
		char *j2 = entry_with("", NULL);
		struct buf b = BUF_INIT(1u << 16);
		assert_int_equal(buf_add(&b, j2, strlen(j2) - 1), 0);
		assert_int_equal(buf_printf(&b, ",\"rotationRequest\":\"%064d\"}", 7), 0);
		expect_parse_fails(b.ptr, b.len, "rotationRequest is too long");
		buf_free(&b);
		free(j2);
	}

	/* database */
	expect_field_fails("database", "\"a-b\"", "database is not a Milvus database name");
	expect_field_fails("database", "\"9x\"", "database is not a Milvus database name");

	/* version */
	expect_field_fails("version", "0", "version must be");
	expect_field_fails("version", "-3", "version must be");
	expect_field_fails("version", "1000001", "version must be");
	expect_field_fails("version", "\"3\"", "version must be");
	expect_field_fails("version", "3.0", "version must be");
	expect_field_fails("version", "99999999999999999999999", "version must be");

	/* createdAt */
	expect_field_fails("createdAt", "\"2026-01-02 03:04:05Z\"", "createdAt is not an RFC 3339");
	expect_field_fails("createdAt", "\"2026-01-02T03:04:05+00:00\"", "createdAt is not");
	expect_field_fails("createdAt", "\"2026-02-30T03:04:05Z\"", "createdAt is not");
	expect_field_fails("createdAt", "\"yesterday\"", "createdAt is not");

	/* wrapped */
	expect_field_fails("wrapped", "\"!!!!\"", "wrapped is not base64");
	expect_field_fails("wrapped", "\"AQD\"", "wrapped is not base64");
	expect_field_fails("wrapped", "\"\"", "wrapped is not base64");
	expect_field_fails("wrapped", "5", "wrapped is not base64");
	{
		/* a blob of KMS_MAX_BLOB + 3 bytes: valid base64, too large */
		size_t n = (KMS_MAX_BLOB + 3) / 3 * 4;
		char *big = malloc(n + 3);
		assert_non_null(big);
		big[0] = '"';
		memset(big + 1, 'A', n);
		big[n + 1] = '"';
		big[n + 2] = '\0';
		expect_field_fails("wrapped", big, "wrapped is not base64 of at most 6144 bytes");
		free(big);
	}

	/* not an entry at all */
	expect_parse_fails("", 0, "not a JSON object");
	expect_parse_fails("[]", 2, "not a JSON object");
	expect_parse_fails("null", 4, "not a JSON object");
	expect_parse_fails("{\"format\":", 10, "not a JSON object");
	expect_parse_fails(ENTRY_JSON "x", strlen(ENTRY_JSON) + 1, "not a JSON object");
	/* len is honoured: a truncated view of a valid entry fails */
	expect_parse_fails(ENTRY_JSON, strlen(ENTRY_JSON) - 1, "not a JSON object");

	/* oversize: one byte over ZK_ENTRY_MAX fails before parsing, at the cap parses */
	{
		char *big = malloc(ZK_ENTRY_MAX + 2);
		size_t n = strlen(ENTRY_JSON);
		assert_non_null(big);
		memcpy(big, ENTRY_JSON, n);
		memset(big + n, ' ', ZK_ENTRY_MAX + 1 - n);
		big[ZK_ENTRY_MAX + 1] = '\0';
		expect_parse_fails(big, ZK_ENTRY_MAX + 1, "larger than 16384 bytes");
		zk_entry_init(&e);
		assert_int_equal(zk_entry_parse(big, ZK_ENTRY_MAX, &e, err, sizeof(err)), 0);
		zk_entry_free(&e);
		free(big);
	}
}

/* ---- time ------------------------------------------------------------------- */

static void test_time(void **state)
{
	assert_int_equal(zk_time_parse("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(zk_time_parse("2026-01-02T03:04:05Z"), 1767323045LL);
	assert_int_equal(zk_time_parse("2024-02-29T23:59:59Z"), 1709251199LL);
	assert_int_equal(zk_time_parse("2000-03-01T00:00:00Z"), 951868800LL);
	assert_int_equal(zk_time_parse("2038-01-19T03:14:08Z"), 2147483648LL);
	assert_true(zk_time_parse("2000-02-29T00:00:00Z") > 0);

	static const char *const bad[] = {
	    NULL,
	    "",
	    "2026-01-02T03:04:05",
	    "2026-01-02T03:04:05z",
	    "2026-01-02t03:04:05Z",
	    "2026-01-02T03:04:05.5Z",
	    "2026-01-02T03:04:05+00:00",
	    "2026-01-02 03:04:05Z",
	    "2026- 1-02T03:04:05Z",
	    "2026-01-02T3:04:05ZZ",
	    "+026-01-02T03:04:05Z",
	    "2026-00-02T03:04:05Z",
	    "2026-13-02T03:04:05Z",
	    "2026-01-00T03:04:05Z",
	    "2026-01-32T03:04:05Z",
	    "2026-04-31T03:04:05Z",
	    "2023-02-29T00:00:00Z",
	    "2100-02-29T00:00:00Z",
	    "2026-01-02T24:00:00Z",
	    "2026-01-02T03:60:05Z",
	    "2026-01-02T03:04:60Z",
	    "1969-12-31T23:59:59Z",
	    "0000-01-01T00:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (zk_time_parse(bad[i]) != -1)
			fail_msg("accepted %s", bad[i] ? bad[i] : "NULL");
	}
}

static void test_rotation_due(void **state)
{
	const char *t = "2026-01-02T03:04:05Z";
	const long long t0 = 1767323045LL;

	/* exactly at created + period it is due, one second before it is not */
	assert_int_equal(zk_rotation_due(t, 3600, t0 + 3599), 0);
	assert_int_equal(zk_rotation_due(t, 3600, t0 + 3600), 1);
	assert_int_equal(zk_rotation_due(t, 3600, t0 + 3601), 1);
	assert_int_equal(zk_rotation_due(t, 3600.5, t0 + 3600), 0);
	assert_int_equal(zk_rotation_due(t, 90 * 86400.0, t0 + 90 * 86400LL - 1), 0);
	assert_int_equal(zk_rotation_due(t, 90 * 86400.0, t0 + 90 * 86400LL), 1);
	assert_int_equal(zk_rotation_due(t, 0, t0), 1);
	assert_int_equal(zk_rotation_due(t, 0, t0 - 1), 0);
	assert_int_equal(zk_rotation_due("2026-02-30T00:00:00Z", 1, t0), -1);
	assert_int_equal(zk_rotation_due(NULL, 1, t0), -1);
}

/* ---- latest version in a Secret ------------------------------------------------ */

static yajl_val parse(const char *s)
{
	yajl_val v = NULL;

	assert_int_equal(json_parse(s, strlen(s), 16, 1u << 20, &v, NULL, 0), 0);
	return v;
}

static void test_latest_version(void **state)
{
	yajl_val sec = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
	                     "\"metadata\":{\"name\":\"search-zone-keys\"},\"data\":{"
	                     "\"sales.v1\":\"e30=\",\"sales.v10\":\"e30=\",\"sales.v2\":\"e30=\","
	                     "\"sales.v011\":\"e30=\",\"sales.v12\":5,\"sales2.v99\":\"e30=\","
	                     "\"sale.v50\":\"e30=\",\"hr.v7\":\"e30=\",\"Sales.v40\":\"e30=\","
	                     "\"sales\":\"e30=\",\"sales.v1000001\":\"e30=\","
	                     "\"x.sales.v30\":\"e30=\"}}");
	yajl_val none = parse("{\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}");
	yajl_val empty = parse("{\"kind\":\"Secret\",\"data\":{}}");
	yajl_val notobj = parse("{\"kind\":\"Secret\",\"data\":[\"sales.v1\"]}");
	uint32_t v = 0;

	assert_int_equal(zk_latest_version(sec, "sales", &v), 0);
	assert_int_equal(v, 10); /* numerically, not by string order */
	assert_int_equal(zk_latest_version(sec, "hr", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(zk_latest_version(sec, "sales2", &v), 0);
	assert_int_equal(v, 99);
	assert_int_equal(zk_latest_version(sec, "Sales", &v), 0);
	assert_int_equal(v, 40);
	assert_int_equal(zk_latest_version(sec, "sale", &v), 0);
	assert_int_equal(v, 50);

	/* none: out untouched */
	v = 1234;
	assert_int_equal(zk_latest_version(sec, "default", &v), 1);
	assert_int_equal(zk_latest_version(sec, "sal", &v), 1);
	assert_int_equal(zk_latest_version(sec, "a-b", &v), 1);
	assert_int_equal(zk_latest_version(sec, "", &v), 1);
	assert_int_equal(zk_latest_version(sec, NULL, &v), 1);
	assert_int_equal(zk_latest_version(none, "sales", &v), 1);
	assert_int_equal(zk_latest_version(empty, "sales", &v), 1);
	assert_int_equal(zk_latest_version(notobj, "sales", &v), 1);
	assert_int_equal(zk_latest_version(NULL, "sales", &v), 1);
	assert_int_equal(v, 1234);

	yajl_tree_free(sec);
	yajl_tree_free(none);
	yajl_tree_free(empty);
	yajl_tree_free(notobj);
}

/* ---- kmsconn_unwrap_zone ------------------------------------------------------- */

/* A zone key made by the local provider, stored as an entry of (uid, db, 1). */
static void make_zone(struct kms *k, const char *uid, const char *db, uint32_t version,
                      uint8_t ezk[ZK_KEY_LEN], struct zk_entry *e)
{
	struct kms_context ctx;
	struct kms_error err;
	char ver[12];

	assert_int_equal(zk_context(&ctx, uid, db, version, ver), 0);
	zk_entry_init(e);
	assert_int_equal(kms_generate_data_key(k, &ctx, ZK_KEY_LEN, ezk, &e->wrapped, &err), 0);
	snprintf(e->encryption_key, sizeof(e->encryption_key), "prod-key");
	snprintf(e->provider, sizeof(e->provider), "local");
	snprintf(e->key_id, sizeof(e->key_id), "local:x");
	snprintf(e->cluster, sizeof(e->cluster), "search");
	snprintf(e->cluster_uid, sizeof(e->cluster_uid), "%s", uid);
	snprintf(e->database, sizeof(e->database), "%s", db);
	e->version = version;
	snprintf(e->created_at, sizeof(e->created_at), "2026-01-02T03:04:05Z");
}

static void test_unwrap_zone_local(void **state)
{
	struct kms *k = NULL;
	struct kms_error err;
	struct zk_entry e, back;
	struct buf json = BUF_INIT(ZK_ENTRY_MAX);
	uint8_t ezk[ZK_KEY_LEN], got[ZK_KEY_LEN], zero[ZK_KEY_LEN] = {0};
	char msg[200];

	assert_int_equal(kms_local_new(ROOT, sizeof(ROOT), &k, &err), 0);
	make_zone(k, UID, "db", 1, ezk, &e);
	assert_memory_not_equal(ezk, zero, ZK_KEY_LEN);

	/* through the stored JSON and back, as vecward-crypt reads it */
	assert_int_equal(zk_entry_encode(&e, &json), 0);
	zk_entry_init(&back);
	assert_int_equal(zk_entry_parse(json.ptr, json.len, &back, msg, sizeof(msg)), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(kmsconn_unwrap_zone(k, &back, UID, got, &err), 0);
	assert_memory_equal(got, ezk, ZK_KEY_LEN);
	assert_int_equal(err.kind, KMS_OK);
	/* NULL: no expectation about the cluster, the KMS still checks the context */
	memset(got, 0, sizeof(got));
	assert_int_equal(kmsconn_unwrap_zone(k, &back, NULL, got, &err), 0);
	assert_memory_equal(got, ezk, ZK_KEY_LEN);

	/* a copy claiming another database, version or cluster does not unwrap,
	 * and the output is left alone */
	for (int i = 0; i < 4; i++) {
		struct zk_entry c = back; /* shares wrapped: not freed here */
		const char *expect = UID;
		switch (i) {
		case 0:
			snprintf(c.database, sizeof(c.database), "db2");
			break;
		case 1:
			c.version = 2;
			break;
		case 2:
			snprintf(c.cluster_uid, sizeof(c.cluster_uid), UID2);
			expect = UID2; /* the caller was fooled too: the KMS refuses */
			break;
		case 3:
			snprintf(c.database, sizeof(c.database), "DB");
			break;
		}
		memset(got, 0xa5, sizeof(got));
		if (kmsconn_unwrap_zone(k, &c, expect, got, &err) != -1)
			fail_msg("case %d unwrapped", i);
		assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
		for (size_t j = 0; j < sizeof(got); j++)
			assert_int_equal(got[j], 0xa5);
	}

	/* a tampered blob */
	back.wrapped.ptr[back.wrapped.len - 1] ^= 1;
	assert_int_equal(kmsconn_unwrap_zone(k, &back, UID, got, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
	back.wrapped.ptr[back.wrapped.len - 1] ^= 1;

	/* another root key */
	{
		struct kms *other = NULL;
		uint8_t root2[32];
		memcpy(root2, ROOT, sizeof(root2));
		root2[31] ^= 0x80;
		assert_int_equal(kms_local_new(root2, sizeof(root2), &other, &err), 0);
		assert_int_equal(kmsconn_unwrap_zone(other, &back, UID, got, &err), -1);
		assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
		kms_free(other);
	}

	OPENSSL_cleanse(ezk, sizeof(ezk));
	OPENSSL_cleanse(got, sizeof(got));
	zk_entry_free(&back);
	zk_entry_free(&e);
	buf_free(&json);
	kms_free(k);
}

/* A provider that counts Decrypt calls, checks the context it gets and
 * answers with n bytes of 0x5a. */
struct counting {
	int decrypts;
	size_t answer_len;
	char want_db[64];
};

static int cnt_decrypt(void *impl, const struct kms_context *ctx, const void *blob, size_t bloblen,
                       uint8_t *pt, size_t ptcap, size_t *ptlen, struct kms_error *err)
{
	struct counting *c = impl;

	c->decrypts++;
	assert_int_equal(ctx->n, 4);
	assert_string_equal(ctx->kv[0].value, UID);
	assert_string_equal(ctx->kv[1].value, c->want_db);
	assert_string_equal(ctx->kv[2].value, ZK_PURPOSE);
	assert_true(ptcap >= c->answer_len);
	memset(pt, 0x5a, c->answer_len);
	*ptlen = c->answer_len;
	if (err)
		memset(err, 0, sizeof(*err));
	return 0;
}

static void cnt_free(void *impl)
{
}

static const struct kms_ops COUNTING = {"counting", NULL, NULL, NULL, cnt_decrypt, cnt_free};

static void test_unwrap_zone_refused_before_kms(void **state)
{
	struct counting c = {0, ZK_KEY_LEN, "sales"};
	struct kms *k = kms_new_provider(&COUNTING, &c);
	struct kms_error err;
	struct zk_entry e;
	uint8_t got[ZK_KEY_LEN], want[ZK_KEY_LEN];

	assert_non_null(k);
	fixed_entry(&e);
	memset(want, 0x5a, sizeof(want));

	/* the entry's own cluster: the KMS is asked once */
	assert_int_equal(kmsconn_unwrap_zone(k, &e, UID, got, &err), 0);
	assert_int_equal(c.decrypts, 1);
	assert_memory_equal(got, want, sizeof(got));

	/* another cluster than the caller expects: refused, no KMS call */
	memset(got, 0, sizeof(got));
	assert_int_equal(kmsconn_unwrap_zone(k, &e, UID2, got, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
	assert_non_null(strstr(err.message, "sales.v3 belongs to another cluster"));
	assert_int_equal(c.decrypts, 1);
	assert_int_equal(kmsconn_unwrap_zone(k, &e, "", got, &err), -1);
	assert_int_equal(c.decrypts, 1);

	/* an entry that has no valid context: no KMS call either */
	e.version = 0;
	assert_int_equal(kmsconn_unwrap_zone(k, &e, UID, got, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	assert_int_equal(c.decrypts, 1);
	e.version = 3;

	/* a KMS answer that is not 32 bytes is not a zone key */
	c.answer_len = 16;
	assert_int_equal(kmsconn_unwrap_zone(k, &e, UID, got, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
	assert_non_null(strstr(err.message, "unwrapped to 16 bytes, not 32"));
	assert_int_equal(c.decrypts, 2);
	assert_memory_equal(got, (uint8_t[ZK_KEY_LEN]){0}, sizeof(got));

	zk_entry_free(&e);
	kms_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_database_names),
	    cmocka_unit_test(test_data_key),
	    cmocka_unit_test(test_secret_name),
	    cmocka_unit_test(test_context),
	    cmocka_unit_test(test_entry_round_trip),
	    cmocka_unit_test(test_entry_encode_rejects),
	    cmocka_unit_test(test_entry_parse_rejects),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_rotation_due),
	    cmocka_unit_test(test_latest_version),
	    cmocka_unit_test(test_unwrap_zone_local),
	    cmocka_unit_test(test_unwrap_zone_refused_before_kms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "zonekey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jgen.h"
#include "json.h"
#include "util.h"

void zk_entry_init(struct zk_entry *e)
{
	memset(e, 0, sizeof(*e));
	buf_init(&e->wrapped, KMS_MAX_BLOB);
}

void zk_entry_free(struct zk_entry *e)
{
	buf_free(&e->wrapped);
}

int zk_database_ok(const char *db)
{
	size_t n;

	if (!db || !db[0])
		return 0;
	if (!((db[0] >= 'A' && db[0] <= 'Z') || (db[0] >= 'a' && db[0] <= 'z') || db[0] == '_'))
		return 0;
	for (n = 0; db[n]; n++) {
		char c = db[n];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return n <= ZK_DATABASE_MAX;
}

int zk_data_key(const char *database, uint32_t version, char *out, size_t outlen)
{
	int n;

	if (!zk_database_ok(database) || version == 0 || version > ZK_VERSION_MAX)
		return -1;
	n = snprintf(out, outlen, "%s.v%u", database, (unsigned)version);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int zk_parse_data_key(const char *k, char *database, size_t dblen, uint32_t *version)
{
	const char *dot = k ? strrchr(k, '.') : NULL;
	char db[ZK_DATABASE_MAX + 1];
	size_t n;
	long v;

	if (!dot || dot[1] != 'v' || dot[2] < '1' || dot[2] > '9')
		return -1;
	n = (size_t)(dot - k);
	if (n == 0 || n > ZK_DATABASE_MAX || n >= dblen)
		return -1;
	memcpy(db, k, n);
	db[n] = '\0';
	if (!zk_database_ok(db) || parse_long(dot + 2, 1, ZK_VERSION_MAX, &v))
		return -1;
	memcpy(database, db, n + 1);
	*version = (uint32_t)v;
	return 0;
}

int zk_latest_version(yajl_val secret, const char *database, uint32_t *out)
{
	yajl_val data = json_get(secret, "data", NULL);
	char db[ZK_DATABASE_MAX + 1];
	uint32_t best = 0, v;

	if (!YAJL_IS_OBJECT(data) || !zk_database_ok(database))
		return 1;
	for (size_t i = 0; i < data->u.object.len; i++) {
		if (!YAJL_IS_STRING(data->u.object.values[i]) ||
		    zk_parse_data_key(data->u.object.keys[i], db, sizeof(db), &v) ||
		    strcmp(db, database) != 0)
			continue;
		if (v > best)
			best = v;
	}
	if (best == 0)
		return 1;
	*out = best;
	return 0;
}

int zk_secret_name(const char *cluster, char *out, size_t outlen)
{
	int n;

	if (!cluster || !cluster[0])
		return -1;
	n = snprintf(out, outlen, "%s-" ZK_SECRET_SUFFIX, cluster);
	return n < 0 || (size_t)n >= outlen || n > 253 ? -1 : 0;
}

int zk_context(struct kms_context *ctx, const char *cluster_uid, const char *database,
               uint32_t version, char verbuf[12])
{
	if (!cluster_uid || !cluster_uid[0] || !zk_database_ok(database) || version == 0 ||
	    version > ZK_VERSION_MAX)
		return -1;
	snprintf(verbuf, 12, "%u", (unsigned)version);
	kms_context_init(ctx);
	if (kms_context_add(ctx, ZK_CTX_CLUSTER_UID, cluster_uid) ||
	    kms_context_add(ctx, ZK_CTX_DATABASE, database) ||
	    kms_context_add(ctx, ZK_CTX_PURPOSE, ZK_PURPOSE) ||
	    kms_context_add(ctx, ZK_CTX_VERSION, verbuf))
		return -1;
	return 0;
}

int zk_entry_encode(const struct zk_entry *e, struct buf *out)
{
	struct buf b64 = BUF_INIT(2 * KMS_MAX_BLOB);
	yajl_gen g;
	char *json;
	int rc = -1;

	if (!e->encryption_key[0] || !e->provider[0] || !e->key_id[0] || !e->cluster[0] ||
	    !e->cluster_uid[0] || !zk_database_ok(e->database) || e->version == 0 ||
	    e->version > ZK_VERSION_MAX || !e->created_at[0] || e->wrapped.len == 0)
		return -1;
	if (b64_encode(e->wrapped.ptr, e->wrapped.len, &b64))
		goto out;
	g = jgen_new();
	if (!g)
		goto out;
	jo(g);
	jkv(g, "format", ZK_FORMAT);
	jkv(g, "encryptionKey", e->encryption_key);
	jkv(g, "provider", e->provider);
	jkv(g, "keyID", e->key_id);
	jkv(g, "cluster", e->cluster);
	jkv(g, "clusterUID", e->cluster_uid);
	jkv(g, "database", e->database);
	jki(g, "version", e->version);
	jkv(g, "createdAt", e->created_at);
	if (e->request[0])
		jkv(g, "rotationRequest", e->request);
	jkv(g, "wrapped", buf_str(&b64));
	jc(g);
	json = jgen_finish(g);
	if (!json)
		goto out;
	rc = buf_adds(out, json);
	free(json);
out:
	buf_free(&b64);
	return rc;
}

static int copy_field(yajl_val root, const char *key, char *dst, size_t dstlen, char *err,
                      size_t errlen)
{
	const char *s = json_get_str(root, key, NULL);
	size_t n;

	if (!s || !s[0]) {
		snprintf(err, errlen, "zone key entry: %s is missing", key);
		return -1;
	}
	n = strlen(s);
	if (n >= dstlen) {
		snprintf(err, errlen, "zone key entry: %s is too long", key);
		return -1;
	}
	memcpy(dst, s, n + 1);
	return 0;
}

int zk_entry_parse(const char *json, size_t len, struct zk_entry *e, char *err, size_t errlen)
{
	yajl_val root = NULL;
	const char *fmt, *w;
	long long v;
	int rc = -1;

	if (len > ZK_ENTRY_MAX) {
		snprintf(err, errlen, "zone key entry: larger than %d bytes", ZK_ENTRY_MAX);
		return -1;
	}
	if (json_parse(json, len, 4, ZK_ENTRY_MAX, &root, NULL, 0) || !YAJL_IS_OBJECT(root)) {
		snprintf(err, errlen, "zone key entry: not a JSON object");
		goto out;
	}
	fmt = json_get_str(root, "format", NULL);
	if (!fmt || strcmp(fmt, ZK_FORMAT)) {
		snprintf(err, errlen, "zone key entry: format is not %s", ZK_FORMAT);
		goto out;
	}
	if (copy_field(root, "encryptionKey", e->encryption_key, sizeof(e->encryption_key), err,
	               errlen) ||
	    copy_field(root, "provider", e->provider, sizeof(e->provider), err, errlen) ||
	    copy_field(root, "keyID", e->key_id, sizeof(e->key_id), err, errlen) ||
	    copy_field(root, "cluster", e->cluster, sizeof(e->cluster), err, errlen) ||
	    copy_field(root, "clusterUID", e->cluster_uid, sizeof(e->cluster_uid), err, errlen) ||
	    copy_field(root, "database", e->database, sizeof(e->database), err, errlen) ||
	    copy_field(root, "createdAt", e->created_at, sizeof(e->created_at), err, errlen))
		goto out;
	{
		const char *rq = json_get_str(root, "rotationRequest", NULL);
		if (rq && copy_field(root, "rotationRequest", e->request, sizeof(e->request), err,
		                     errlen))
			goto out;
	}
	if (!zk_database_ok(e->database)) {
		snprintf(err, errlen, "zone key entry: database is not a Milvus database name");
		goto out;
	}
	if (zk_time_parse(e->created_at) < 0) {
		snprintf(err, errlen, "zone key entry: createdAt is not an RFC 3339 UTC time");
		goto out;
	}
	v = json_get_int(root, 0, "version", NULL);
	if (v < 1 || v > (long long)ZK_VERSION_MAX) {
		snprintf(err, errlen, "zone key entry: version must be 1..%u", ZK_VERSION_MAX);
		goto out;
	}
	e->version = (uint32_t)v;
	w = json_get_str(root, "wrapped", NULL);
	buf_reset(&e->wrapped);
	if (!w || !w[0] || b64_decode(w, strlen(w), &e->wrapped) || e->wrapped.len == 0) {
		snprintf(err, errlen, "zone key entry: wrapped is not base64 of at most %d bytes",
		         KMS_MAX_BLOB);
		goto out;
	}
	rc = 0;
out:
	json_free_secret(root);
	return rc;
}

/* n decimal digits at s into *out; 0, or -1 when one is not a digit. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1970). */
static long long days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" with every field in range: strptime would
 * take " 1" for "01" and normalise 2026-02-31 into March. */
long long zk_time_parse(const char *s)
{
	int y, mo, d, h, mi, sec;

	if (!s || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

int zk_rotation_due(const char *created_at, double period_s, long long now_s)
{
	long long t = zk_time_parse(created_at);

	if (t < 0)
		return -1;
	return (double)t + period_s <= (double)now_s;
}

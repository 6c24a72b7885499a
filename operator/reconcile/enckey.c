#include "enckey.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "apply.h"
#include "buf.h"
#include "cluster.h"
#include "jgen.h"
#include "json.h"
#include "kms.h"
#include "kmsconn.h"
#include "log.h"
#include "pki.h"
#include "util.h"
#include "zonekey.h"

#define NOT_READY_REQUEUE_MS 5000
#define IN_USE_REQUEUE_MS    15000
#define DEFAULT_ROTATION_S   (8760.0 * 3600)
#define MAX_CLUSTERS         256
#define MAX_ZONES            1024

enum { C_READY, C_DEGRADED, C_N };
static const char *const cond_types[C_N] = {"Ready", "Degraded"};

struct cond {
	int set, status;
	char reason[64];
	char message[600];
};

struct zone {
	char cluster[254];
	char database[ZK_DATABASE_MAX + 1];
	uint32_t version;
	char secret[300];
	char created_at[32];
};

struct pass {
	const char *what, *ns, *name;
	yajl_val obj;
	long long generation;
	time_t now;
	double period_s;
	const char *rotate_req; /* annotation value not yet handled, or NULL */
	const char *handled_req;
	struct cond c[C_N];
	char key_state[64], region[64], root_secret[300], key_id[300];
	struct zone *zones;
	size_t nzones;
	long long next_rotation; /* unix time, 0 when no zones */
	char last_rotation[32];
	int failed;   /* an API step failed: retry */
	int pending;  /* waiting for something else: come back soon */
	int zones_ok; /* every zone of every using Cluster is in place */
};

static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	p->c[i].set = 1;
	p->c[i].status = status;
	snprintf(p->c[i].reason, sizeof(p->c[i].reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(p->c[i].message, sizeof(p->c[i].message), fmt, ap);
	va_end(ap);
}

/* Degraded keeps the first problem found. */
static void degrade(struct pass *p, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void degrade(struct pass *p, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (p->c[C_DEGRADED].set)
		return;
	p->c[C_DEGRADED].set = 1;
	p->c[C_DEGRADED].status = 1;
	snprintf(p->c[C_DEGRADED].reason, sizeof(p->c[C_DEGRADED].reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(p->c[C_DEGRADED].message, sizeof(p->c[C_DEGRADED].message), fmt, ap);
	va_end(ap);
}

static void kerr(struct pass *p, const char *step, const struct kube_error *err)
{
	char ebuf[700];

	kube_strerror(err, ebuf, sizeof(ebuf));
	log_warnx(p->what, "%s: %s", step, ebuf);
	degrade(p, "APIError", "%s failed: %.300s", step, ebuf);
	p->failed = 1;
}

static void rfc3339(time_t t, char *out, size_t n)
{
	if (pki_time_rfc3339(t, out, n))
		out[0] = '\0';
}

/* ---- the Clusters using this key ------------------------------------------------ */

struct users {
	struct informer *inf;
	const char *ns, *key;
	yajl_val items[MAX_CLUSTERS];
	size_t n;
	int truncated;
	char keys[MAX_CLUSTERS][300];
	size_t nkeys;
};

static void collect_key(const char *key, void *ctx)
{
	struct users *u = ctx;
	size_t nl = strlen(u->ns);

	if (strncmp(key, u->ns, nl) || key[nl] != '/')
		return;
	if (u->nkeys == MAX_CLUSTERS) {
		u->truncated = 1;
		return;
	}
	snprintf(u->keys[u->nkeys++], sizeof(u->keys[0]), "%s", key);
}

/* Clusters of namespace ns whose spec.encryption.keyRef.name is key (copies
 * from the cache; free with users_free). */
static struct users *users_find(struct controller *ctl, const char *ns, const char *key)
{
	struct users *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->inf = controller_informer(ctl, &KUBE_VW_CLUSTER);
	u->ns = ns;
	u->key = key;
	if (!u->inf)
		return u;
	informer_foreach_key(u->inf, collect_key, u);
	for (size_t i = 0; i < u->nkeys; i++) {
		yajl_val c = informer_get(u->inf, u->keys[i]);
		const char *ref = json_get_str(c, "spec", "encryption", "keyRef", "name", NULL);
		if (c && ref && !strcmp(ref, key))
			u->items[u->n++] = c;
		else
			yajl_tree_free(c);
	}
	return u;
}

static void users_free(struct users *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		yajl_tree_free(u->items[i]);
	free(u);
}

static int is_deleting(yajl_val obj)
{
	return json_get(obj, "metadata", "deletionTimestamp", NULL) != NULL;
}

static void requeue_users(struct controller *ctl, const struct users *u)
{
	char key[400];

	for (size_t i = 0; i < u->n; i++) {
		const char *n = json_get_str(u->items[i], "metadata", "name", NULL);
		if (n && snprintf(key, sizeof(key), "Cluster/%s/%s", u->ns, n) < (int)sizeof(key))
			wq_add(controller_queue(ctl), key);
	}
}

/* ---- the local root key ------------------------------------------------------- */

static void gen_labels(yajl_gen g, const char *key, const char *cluster)
{
	jko(g, "labels");
	jkv(g, "app.kubernetes.io/name", "vecward");
	jkv(g, "app.kubernetes.io/managed-by", "vecward");
	jkv(g, ENCKEY_LABEL, key);
	if (cluster)
		jkv(g, "vecward.io/cluster", cluster);
	jc(g);
}

/* Make sure Secret <name>-root-key exists and is ours (created once). */
static int ensure_root_key(struct kube_client *kc, struct pass *p)
{
	struct buf b64 = BUF_INIT(128);
	struct kube_error err;
	uint8_t key[KMS_ROOT_KEY_LEN];
	yajl_val live = NULL;
	char *body = NULL;
	const char *owner;
	yajl_gen g;
	int created = 0, r, rc = -1;

	if (kmsconn_root_secret_name(p->name, p->root_secret, sizeof(p->root_secret))) {
		cond_set(p, C_READY, 0, "InvalidSpec",
		         "metadata.name is too long for a root-key Secret");
		return -1;
	}
	r = apply_get(kc, &KUBE_SECRET, p->ns, p->root_secret, &live, &err);
	if (r < 0) {
		kerr(p, "read root key", &err);
		return -1;
	}
	if (r == 1) {
		if (RAND_bytes(key, sizeof(key)) != 1 || b64_encode(key, sizeof(key), &b64)) {
			cond_set(p, C_READY, 0, "RandomFailed", "the CSPRNG failed; retrying");
			p->failed = 1;
			goto out;
		}
		g = jgen_new();
		jo(g);
		jkv(g, "apiVersion", "v1");
		jkv(g, "kind", "Secret");
		jko(g, "metadata");
		jkv(g, "name", p->root_secret);
		jkv(g, "namespace", p->ns);
		gen_labels(g, p->name, NULL);
		jko(g, "annotations");
		jkv(g, "vecward.io/warning",
		    "development only: anyone who can read this Secret can open every zone key "
		    "wrapped by it; use provider aws-kms in production");
		jc(g);
		jc(g);
		jkv(g, "type", "Opaque");
		jko(g, "data");
		jkv(g, KMSCONN_ROOT_KEY_DATA, buf_str(&b64));
		jc(g);
		jc(g);
		body = jgen_finish_secret(g);
		if (!body ||
		    apply_create_once(kc, &KUBE_SECRET, p->ns, body, &created, &live, &err)) {
			if (body)
				kerr(p, "create root key", &err);
			p->failed = 1;
			goto out;
		}
		if (created) {
			log_info(p->what, "generated the local root key in Secret %s",
			         p->root_secret);
			event_emit(kc, p->obj, "Normal", "RootKeyGenerated", "Create",
			           "generated a 256-bit local root key (development only)");
		}
	}
	owner = json_get_str(live, "metadata", "labels", ENCKEY_LABEL, NULL);
	if (!owner || strcmp(owner, p->name)) {
		cond_set(p, C_READY, 0, "RootKeyConflict",
		         "Secret %s exists but was not made by vecward for this EncryptionKey "
		         "(label " ENCKEY_LABEL "); rename the EncryptionKey or move that Secret",
		         p->root_secret);
		goto out;
	}
	if (json_get_str(live, "metadata", "labels", CLUSTER_PURGE_LABEL, NULL)) {
		/* scheduled for shredding by an earlier EncryptionKey of this name:
		 * re-created in time, so it is ours again */
		struct buf path = BUF_INIT(2048);
		if (kube_path(&path, &KUBE_SECRET, p->ns, p->root_secret, NULL) == 0) {
			apply_count_write();
			if (kube_merge_patch(kc, path.ptr,
			                     "{\"metadata\":{\"labels\":{\"" CLUSTER_PURGE_LABEL
			                     "\":null}}}",
			                     NULL, &err)) {
				buf_free(&path);
				kerr(p, "keep root key", &err);
				goto out;
			}
			log_info(p->what, "root key Secret %s taken back from the purge schedule",
			         p->root_secret);
		}
		buf_free(&path);
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	buf_free_secret(&b64);
	if (body) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	json_free_secret(live);
	return rc;
}

/* ---- zone keys ------------------------------------------------------------------ */

static int add_zone(struct pass *p, const char *cluster, const char *db, uint32_t version,
                    const char *secret, const char *created_at, double period_s)
{
	struct zone *z;
	long long t;

	if (p->nzones == MAX_ZONES)
		return -1;
	if (!p->zones && !(p->zones = calloc(MAX_ZONES, sizeof(*p->zones))))
		return -1;
	z = &p->zones[p->nzones++];
	snprintf(z->cluster, sizeof(z->cluster), "%s", cluster);
	snprintf(z->database, sizeof(z->database), "%s", db);
	z->version = version;
	snprintf(z->secret, sizeof(z->secret), "%s", secret);
	snprintf(z->created_at, sizeof(z->created_at), "%s", created_at);
	t = zk_time_parse(created_at);
	if (t >= 0) {
		long long due = t + (long long)period_s;
		if (!p->next_rotation || due < p->next_rotation)
			p->next_rotation = due;
		if (strcmp(created_at, p->last_rotation) > 0)
			snprintf(p->last_rotation, sizeof(p->last_rotation), "%s", created_at);
	}
	return 0;
}

/* The newest entry of db in a zone-key Secret: 0 and e filled, 1 when none,
 * -1 when the newest entry does not parse. */
static int newest_entry(yajl_val sec, const char *db, struct zk_entry *e, char *err, size_t errlen)
{
	yajl_val data = json_get(sec, "data", NULL);
	char d[ZK_DATABASE_MAX + 1], k[300];
	uint32_t v, best = 0;
	struct buf raw = BUF_INIT(ZK_ENTRY_MAX);
	int rc;

	if (!YAJL_IS_OBJECT(data))
		return 1;
	for (size_t i = 0; i < data->u.object.len; i++)
		if (zk_parse_data_key(data->u.object.keys[i], d, sizeof(d), &v) == 0 &&
		    !strcmp(d, db) && v > best)
			best = v;
	if (!best)
		return 1;
	if (zk_data_key(db, best, k, sizeof(k)) || secret_data(sec, k, &raw)) {
		snprintf(err, errlen, "entry %s is not base64", k);
		buf_free(&raw);
		return -1;
	}
	rc = zk_entry_parse(raw.ptr, raw.len, e, err, errlen);
	buf_free(&raw);
	return rc ? -1 : 0;
}

/* Generate version `version` of (cluster, db), check that it unwraps to the
 * same key, and append its "<key>":"<base64 JSON>" pair to data (a JSON
 * object body being built). */
static int make_zone_key(struct pass *p, struct kms *k, yajl_val cluster, const char *db,
                         uint32_t version, struct buf *data, struct zk_entry *out)
{
	const char *cname = json_get_str(cluster, "metadata", "name", NULL);
	const char *uid = json_get_str(cluster, "metadata", "uid", NULL);
	struct buf json = BUF_INIT(ZK_ENTRY_MAX), b64 = BUF_INIT(2 * ZK_ENTRY_MAX);
	uint8_t pt[ZK_KEY_LEN], back[64];
	struct kms_context ctx;
	struct kms_error err;
	char ver[12], dk[300], eb[500];
	size_t n = 0;
	int rc = -1;

	if (zk_context(&ctx, uid, db, version, ver) || zk_data_key(db, version, dk, sizeof(dk))) {
		degrade(p, "InvalidDatabase", "Cluster %s: database %s can not have a zone key",
		        cname, db);
		return -1;
	}
	if (kms_generate_data_key(k, &ctx, ZK_KEY_LEN, pt, &out->wrapped, &err)) {
		kms_strerror(&err, eb, sizeof(eb));
		log_warnx(p->what, "GenerateDataKey for %s/%s: %s", cname, db, eb);
		degrade(p, kms_err_reason(err.kind), "zone key of Cluster %s database %s: %s",
		        cname, db, eb);
		p->failed = 1;
		goto out;
	}
	/* the blob must open again, to the same key, under the same context */
	if (kms_decrypt(k, &ctx, out->wrapped.ptr, out->wrapped.len, back, sizeof(back), &n,
	                &err) ||
	    n != ZK_KEY_LEN || CRYPTO_memcmp(back, pt, ZK_KEY_LEN)) {
		kms_strerror(&err, eb, sizeof(eb));
		degrade(p, "ZoneKeyCheckFailed",
		        "a new zone key of Cluster %s database %s did not unwrap to itself: %s",
		        cname, db, eb);
		p->failed = 1;
		goto out;
	}
	snprintf(out->encryption_key, sizeof(out->encryption_key), "%s", p->name);
	snprintf(out->provider, sizeof(out->provider), "%s", kms_provider(k));
	snprintf(out->key_id, sizeof(out->key_id), "%s", p->key_id);
	snprintf(out->cluster, sizeof(out->cluster), "%s", cname);
	snprintf(out->cluster_uid, sizeof(out->cluster_uid), "%s", uid);
	snprintf(out->database, sizeof(out->database), "%s", db);
	out->version = version;
	rfc3339(p->now, out->created_at, sizeof(out->created_at));
	if (p->rotate_req)
		snprintf(out->request, sizeof(out->request), "%s", p->rotate_req);
	if (zk_entry_encode(out, &json) || b64_encode(json.ptr, json.len, &b64))
		goto out;
	if (data->len > 1 && buf_addc(data, ','))
		goto out;
	if (buf_printf(data, "\"%s\":\"%s\"", dk, buf_str(&b64)))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(back, sizeof(back));
	buf_free(&json);
	buf_free(&b64);
	return rc;
}

/* Everything for one Cluster using the key. */
static void ensure_cluster_zones(struct kube_client *kc, struct pass *p, struct kms *k,
                                 yajl_val cluster, int *changed)
{
	const char *cname = json_get_str(cluster, "metadata", "name", NULL);
	const char *uid = json_get_str(cluster, "metadata", "uid", NULL);
	const char *cregion = json_get_str(cluster, "spec", "region", NULL);
	yajl_val dbs = json_get(cluster, "spec", "encryption", "databases", NULL);
	struct buf data = BUF_INIT(1024 * 1024), body = BUF_INIT(1100 * 1024);
	struct kube_error err;
	yajl_val sec = NULL;
	char sname[300], eb[400];
	const char *events[64];
	char evnotes[64][200];
	size_t nev = 0, ndb = json_array_len(dbs);
	int r, added = 0;

	if (!cname || !uid || zk_secret_name(cname, sname, sizeof(sname))) {
		degrade(p, "InvalidCluster", "a Cluster using this key has no usable name");
		p->zones_ok = 0;
		return;
	}
	if (!cregion || strcmp(cregion, p->region)) {
		degrade(p, "RegionMismatch",
		        "Cluster %s is in region %s but this key is in %s; a key can only protect "
		        "Clusters of its own region (seed 002): create an EncryptionKey in %s",
		        cname, cregion ? cregion : "(unset)", p->region,
		        cregion ? cregion : "its region");
		p->zones_ok = 0;
		return;
	}
	if (ndb == 0)
		ndb = 1; /* the CRD default: [default] */
	r = apply_get(kc, &KUBE_SECRET, p->ns, sname, &sec, &err);
	if (r < 0) {
		kerr(p, "read zone keys", &err);
		p->zones_ok = 0;
		return;
	}
	if (r == 0) {
		const char *lk = json_get_str(sec, "metadata", "labels", ENCKEY_LABEL, NULL);
		if (!lk || strcmp(lk, p->name)) {
			degrade(p, "ZoneKeysConflict",
			        "Secret %s is not a zone-key Secret of this EncryptionKey "
			        "(label " ENCKEY_LABEL
			        "); Cluster %s can not be given zone keys until it is "
			        "removed",
			        sname, cname);
			p->zones_ok = 0;
			goto out;
		}
		if (apply_owned_by_earlier(sec, "Cluster", cname, uid)) {
			/* left by an earlier Cluster of this name, deleted without the
			 * recycle bin: the Cluster's reconcile deletes it; then new ones */
			p->pending = 1;
			p->zones_ok = 0;
			goto out;
		}
		if (json_get_str(sec, "metadata", "labels", CLUSTER_PURGE_LABEL, NULL)) {
			struct buf path = BUF_INIT(2048);
			p->pending = 1;
			p->zones_ok = 0;
			if (json_get_str(sec, "metadata", "labels", "vecward.io/recycled-uid",
			                 NULL))
				goto out; /* in the recycle bin: the Cluster adopts it first */
			/* scheduled for shredding by an earlier EncryptionKey of this name,
			 * which is back in time: keep the zone keys */
			if (kube_path(&path, &KUBE_SECRET, p->ns, sname, NULL) == 0) {
				apply_count_write();
				if (kube_merge_patch(
				        kc, path.ptr,
				        "{\"metadata\":{\"labels\":{\"" CLUSTER_PURGE_LABEL
				        "\":null}}}",
				        NULL, &err))
					kerr(p, "keep zone keys", &err);
				else
					log_info(p->what,
					         "zone keys %s taken back from the shred schedule",
					         sname);
			}
			buf_free(&path);
			goto out;
		}
	}
	if (buf_addc(&data, '{'))
		goto oom;
	for (size_t i = 0; i < ndb; i++) {
		const char *db = json_array_len(dbs) ? json_str(json_array_at(dbs, i)) : "default";
		struct zk_entry have, made;
		int hr = 1, need;
		uint32_t next = 1;

		zk_entry_init(&have);
		zk_entry_init(&made);
		if (!db || !zk_database_ok(db)) {
			degrade(p, "InvalidDatabase",
			        "Cluster %s: spec.encryption.databases has an invalid name", cname);
			p->zones_ok = 0;
			goto next_db;
		}
		if (r == 0) {
			hr = newest_entry(sec, db, &have, eb, sizeof(eb));
			if (hr < 0) {
				degrade(p, "ZoneKeyCorrupt",
				        "Secret %s: the newest zone key of database %s is "
				        "unreadable (%s); "
				        "restore the Secret from a backup",
				        sname, db, eb);
				p->zones_ok = 0;
				goto next_db;
			}
		}
		need = hr == 1;
		if (!need) {
			next = have.version + 1;
			if (strcmp(have.cluster_uid, uid))
				need = 1; /* made for an earlier Cluster of this name */
			else if (zk_rotation_due(have.created_at, p->period_s, (long long)p->now) ==
			         1)
				need = 1;
			else if (p->rotate_req && strcmp(have.request, p->rotate_req))
				need = 1;
		}
		if (need) {
			if (make_zone_key(p, k, cluster, db, next, &data, &made)) {
				p->zones_ok = 0;
				goto next_db;
			}
			added++;
			if (nev < 64) {
				events[nev] = hr == 1 ? "ZoneKeyCreated" : "ZoneKeyRotated";
				snprintf(evnotes[nev], sizeof(evnotes[nev]),
				         "zone key %s.v%u of Cluster %s %s", db, (unsigned)next,
				         cname, hr == 1 ? "created" : "created (rotation)");
				nev++;
			}
			add_zone(p, cname, db, next, sname, made.created_at, p->period_s);
		} else {
			add_zone(p, cname, db, have.version, sname, have.created_at, p->period_s);
		}
	next_db:
		zk_entry_free(&have);
		zk_entry_free(&made);
	}
	if (buf_addc(&data, '}'))
		goto oom;
	if (!added)
		goto out;
	if (r == 1) {
		/* a new Secret, owned by the Cluster: POST, so nothing is replaced */
		int created = 0;
		yajl_val live = NULL;
		if (buf_printf(
		        &body,
		        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\","
		        "\"namespace\":\"%s\",\"labels\":{\"app.kubernetes.io/name\":\"vecward\","
		        "\"app.kubernetes.io/managed-by\":\"vecward\",\"" ENCKEY_LABEL "\":\"%s\","
		        "\"vecward.io/cluster\":\"%s\"},\"ownerReferences\":[{\"apiVersion\":"
		        "\"vecward.io/"
		        "v1alpha1\",\"kind\":\"Cluster\",\"name\":\"%s\",\"uid\":\"%s\","
		        "\"controller\":true,\"blockOwnerDeletion\":true}]},\"type\":\"Opaque\","
		        "\"data\":",
		        sname, p->ns, p->name, cname, cname, uid) ||
		    buf_add(&body, data.ptr, data.len) || buf_addc(&body, '}'))
			goto oom;
		if (apply_create_once(kc, &KUBE_SECRET, p->ns, buf_str(&body), &created, &live,
		                      &err)) {
			kerr(p, "create zone keys", &err);
			p->zones_ok = 0;
			goto out;
		}
		json_free_secret(live);
		if (!created) {
			/* someone else wrote it meanwhile: start over from what is there */
			p->pending = 1;
			p->zones_ok = 0;
			goto out;
		}
	} else {
		/* add entries only; resourceVersion guards against a concurrent writer */
		struct buf path = BUF_INIT(2048);
		int pr;
		if (buf_printf(&body, "{\"metadata\":{\"resourceVersion\":\"%s\"},\"data\":",
		               json_get_str(sec, "metadata", "resourceVersion", NULL)) ||
		    buf_add(&body, data.ptr, data.len) || buf_addc(&body, '}') ||
		    kube_path(&path, &KUBE_SECRET, p->ns, sname, NULL)) {
			buf_free(&path);
			goto oom;
		}
		apply_count_write();
		pr = kube_merge_patch(kc, path.ptr, buf_str(&body), NULL, &err);
		buf_free(&path);
		if (pr) {
			if (kube_is_conflict(&err))
				p->pending = 1;
			else
				kerr(p, "add zone keys", &err);
			p->zones_ok = 0;
			goto out;
		}
	}
	*changed = 1;
	for (size_t i = 0; i < nev; i++) {
		log_info(p->what, "%s", evnotes[i]);
		event_emit(kc, p->obj, "Normal", events[i], "Create", evnotes[i]);
		event_emit(kc, cluster, "Normal", events[i], "Create", evnotes[i]);
	}
	goto out;
oom:
	degrade(p, "InternalError", "out of memory building zone keys of Cluster %s", cname);
	p->failed = 1;
	p->zones_ok = 0;
out:
	buf_free(&data);
	buf_free(&body);
	json_free_secret(sec);
}

/* ---- status ---------------------------------------------------------------------- */

static void write_status(struct kube_client *kc, struct pass *p)
{
	struct kube_error err;
	char now[32];
	yajl_gen g;
	char *body;

	rfc3339(p->now, now, sizeof(now));
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "vecward.io/v1alpha1");
	jkv(g, "kind", "EncryptionKey");
	jko(g, "metadata");
	jkv(g, "name", p->name);
	jkv(g, "namespace", p->ns);
	jc(g);
	jko(g, "status");
	jki(g, "observedGeneration", p->generation);
	if (p->key_state[0])
		jkv(g, "keyState", p->key_state);
	if (p->region[0])
		jkv(g, "region", p->region);
	if (p->root_secret[0])
		jkv(g, "rootKeySecret", p->root_secret);
	if (p->last_rotation[0])
		jkv(g, "lastRotationTime", p->last_rotation);
	if (p->next_rotation > 0) {
		char t[32];
		rfc3339((time_t)p->next_rotation, t, sizeof(t));
		jkv(g, "nextRotationTime", t);
	}
	if (p->handled_req)
		jkv(g, "zoneKeyRotationRequest", p->handled_req);
	if (p->zones_ok || p->nzones) {
		jka(g, "zones");
		for (size_t i = 0; i < p->nzones; i++) {
			jo(g);
			jkv(g, "cluster", p->zones[i].cluster);
			jkv(g, "database", p->zones[i].database);
			jki(g, "version", p->zones[i].version);
			jkv(g, "secret", p->zones[i].secret);
			jkv(g, "createdAt", p->zones[i].created_at);
			jc(g);
		}
		jac(g);
	}
	jka(g, "conditions");
	for (int i = 0; i < C_N; i++)
		if (p->c[i].set)
			apply_gen_condition(g, p->obj, cond_types[i], p->c[i].status,
			                    p->c[i].reason, p->c[i].message, p->generation, now);
	jac(g);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	if (apply_status_if_changed(kc, &KUBE_VW_ENCRYPTIONKEY, p->obj, body, &err) < 0 &&
	    err.code && !kube_is_not_found(&err)) {
		char ebuf[700];
		log_warnx(p->what, "status: %s", kube_strerror(&err, ebuf, sizeof(ebuf)));
		p->failed = 1;
	}
	free(body);
}

/* ---- deletion ---------------------------------------------------------------------- */

struct shred_ctx {
	long long latest; /* the latest purge time already set */
	char names[64][300];
	char cluster[64][254];
	long long at[64]; /* purge time of a live Cluster's zone keys, else 0 */
	int scheduled[64];
	size_t n;
	int more;
};

static int shred_scan(yajl_val item, void *ctx)
{
	struct shred_ctx *s = ctx;
	const char *name = json_get_str(item, "metadata", "name", NULL);
	const char *at = json_get_str(item, "metadata", "labels", CLUSTER_PURGE_LABEL, NULL);
	long v;

	if (!name)
		return KUBE_ITEM_KEEP;
	if (s->n == 64) {
		s->more = 1;
		return KUBE_ITEM_KEEP;
	}
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	snprintf(s->cluster[s->n], sizeof(s->cluster[0]), "%s",
	         json_get_str(item, "metadata", "labels", "vecward.io/cluster", NULL) ?: "");
	s->scheduled[s->n] = at && parse_long(at, 0, 0x7fffffffL, &v) == 0;
	if (s->scheduled[s->n] && v > s->latest)
		s->latest = v;
	s->n++;
	return KUBE_ITEM_KEEP;
}

/* When the zone keys of Cluster `cluster` (the vecward.io/cluster label of a
 * Secret) are due, if it is one of the live Clusters: its recycle-bin window
 * from now. 0 when it is not live (or "" for a Secret of no Cluster). */
static long long live_purge_at(const struct users *live, const char *cluster, long long now,
                               long recycle_day_s)
{
	for (size_t j = 0; cluster[0] && j < live->n; j++)
		if (!strcmp(json_get_str(live->items[j], "metadata", "name", NULL) ?: "", cluster))
			return now + json_get_int(live->items[j], 30, "spec", "deletion",
			                          "recycleBinDays", NULL) *
			                 recycle_day_s;
	return 0;
}

/* Label every Secret of this key for purging at the end of the recycle-bin
 * window (see enckey.h); live holds the Clusters still using the key. 0 when
 * all are scheduled. */
static int schedule_shred(struct kube_client *kc, struct pass *p, const struct users *live,
                          long recycle_day_s, long long *when)
{
	struct shred_ctx *s = calloc(1, sizeof(*s));
	struct buf path = BUF_INIT(2048);
	struct kube_error err;
	char sel[400], body[300];
	int rc = -1;

	if (!s)
		return -1;
	snprintf(sel, sizeof(sel), ENCKEY_LABEL "=%s", p->name);
	if (kube_path(&path, &KUBE_SECRET, p->ns, NULL, NULL) ||
	    kube_list(kc, path.ptr, sel, 200, shred_scan, s, NULL, &err)) {
		kerr(p, "list key Secrets", &err);
		goto out;
	}
	/* a live Cluster's zone keys: after its own recycle-bin window; the
	 * rest (a local root key, orphans) after the latest of all */
	for (size_t i = 0; i < s->n; i++) {
		if (s->scheduled[i])
			continue;
		s->at[i] = live_purge_at(live, s->cluster[i], (long long)p->now, recycle_day_s);
		if (s->at[i] > s->latest)
			s->latest = s->at[i];
	}
	if (s->latest < (long long)p->now)
		s->latest = (long long)p->now;
	for (size_t i = 0; i < s->n; i++) {
		long long at = s->at[i] ? s->at[i] : s->latest;
		if (s->scheduled[i])
			continue;
		snprintf(body, sizeof(body),
		         "{\"metadata\":{\"labels\":{\"" CLUSTER_PURGE_LABEL "\":\"%lld\"}}}", at);
		buf_reset(&path);
		if (kube_path(&path, &KUBE_SECRET, p->ns, s->names[i], NULL))
			goto out;
		apply_count_write();
		if (kube_merge_patch(kc, path.ptr, body, NULL, &err) && !kube_is_not_found(&err)) {
			kerr(p, "schedule shredding", &err);
			goto out;
		}
		log_info(p->what, "Secret %s will be destroyed at %lld (crypto-shredding)",
		         s->names[i], at);
	}
	*when = s->latest;
	rc = s->more ? -1 : 0;
out:
	buf_free(&path);
	free(s);
	return rc;
}

static enum reconcile_result finalize(struct controller *ctl, struct kube_client *kc,
                                      struct pass *p, long recycle_day_s, long *requeue_ms)
{
	const char *shred =
	    json_get_str(p->obj, "metadata", "annotations", ENCKEY_SHRED_ANNOTATION, NULL);
	int shredding = shred && !strcmp(shred, "true");
	struct users *u, *live;
	struct kube_error err;
	char names[400] = "";
	enum reconcile_result res = RECONCILE_RETRY;

	if (!apply_has_finalizer(p->obj, ENCKEY_FINALIZER))
		return RECONCILE_DONE;
	u = users_find(ctl, p->ns, p->name);
	live = calloc(1, sizeof(*live));
	if (!u || !live)
		goto out;
	for (size_t i = 0; i < u->n; i++) {
		if (is_deleting(u->items[i]))
			continue;
		if (live->n < 5) {
			size_t l = strlen(names);
			snprintf(names + l, sizeof(names) - l, "%s%s", live->n ? ", " : "",
			         json_get_str(u->items[i], "metadata", "name", NULL));
		}
		live->items[live->n++] = u->items[i]; /* borrowed from u */
	}
	if (live->n && !shredding) {
		cond_set(p, C_READY, 0, "KeyInUse",
		         "deletion waits: %zu Cluster(s) still use this key (%s%s); delete them "
		         "first (their data and zone keys go to the recycle bin), or annotate the "
		         "key " ENCKEY_SHRED_ANNOTATION
		         "=true to destroy their zone keys on purpose",
		         live->n, names, live->n > 5 ? ", ..." : "");
		cond_set(p, C_DEGRADED, 1, "KeyInUse", "%s", p->c[C_READY].message);
		write_status(kc, p);
		*requeue_ms = IN_USE_REQUEUE_MS;
		res = RECONCILE_REQUEUE;
		goto out;
	}
	if (shredding) {
		long long when = 0;
		char note[700], t[32];
		if (schedule_shred(kc, p, live, recycle_day_s, &when))
			goto out;
		rfc3339((time_t)when, t, sizeof(t));
		snprintf(note, sizeof(note),
		         "crypto-shredding: the zone keys%s of this key are destroyed by %s%s%s; "
		         "files encrypted under them become unreadable",
		         p->root_secret[0] ? " and the local root key" : "", t,
		         live->n ? ", including those of Cluster " : "", names);
		event_emit(kc, p->obj, "Warning", "CryptoShredScheduled", "Delete", note);
		for (size_t i = 0; i < live->n; i++)
			event_emit(kc, live->items[i], "Warning", "CryptoShredScheduled", "Delete",
			           note);
		log_info(p->what, "%s", note);
	} else if (p->root_secret[0]) {
		event_emit(kc, p->obj, "Normal", "KeyMaterialKept", "Delete",
		           "the root key Secret is kept: re-create this EncryptionKey to use it "
		           "again, or annotate it " ENCKEY_SHRED_ANNOTATION "=true before deleting "
		           "to destroy it");
	}
	if (apply_set_finalizer(kc, &KUBE_VW_ENCRYPTIONKEY, p->obj, ENCKEY_FINALIZER, 0, &err)) {
		if (err.code && !kube_is_conflict(&err) && !kube_is_not_found(&err))
			kerr(p, "remove finalizer", &err);
		goto out;
	}
	requeue_users(ctl, u);
	log_info(p->what, "finalized");
	res = RECONCILE_DONE;
out:
	free(live); /* its items belong to u */
	users_free(u);
	return res;
}

/* ---- the reconcile ------------------------------------------------------------------- */

/* A fingerprint of what the using Clusters see, to know when to re-queue them. */
static unsigned long zones_hash(const struct pass *p)
{
	unsigned long h = 5381;

	for (size_t i = 0; i < p->nzones; i++) {
		const char *s[3] = {p->zones[i].cluster, p->zones[i].database,
		                    p->zones[i].created_at};
		for (int j = 0; j < 3; j++)
			for (const char *c = s[j]; *c; c++)
				h = h * 33 + (unsigned char)*c;
		h = h * 33 + p->zones[i].version;
	}
	return h * 33 + (unsigned long)(p->c[C_READY].status ? 1 : 2);
}

static unsigned long status_hash(yajl_val obj)
{
	yajl_val zs = json_get(obj, "status", "zones", NULL);
	const char *ready = NULL;
	yajl_val conds = json_get(obj, "status", "conditions", NULL);
	unsigned long h = 5381;

	for (size_t i = 0; i < json_array_len(zs); i++) {
		yajl_val z = json_array_at(zs, i);
		const char *s[3] = {json_get_str(z, "cluster", NULL),
		                    json_get_str(z, "database", NULL),
		                    json_get_str(z, "createdAt", NULL)};
		for (int j = 0; j < 3; j++)
			for (const char *c = s[j] ? s[j] : ""; *c; c++)
				h = h * 33 + (unsigned char)*c;
		h = h * 33 + (unsigned long)json_get_int(z, 0, "version", NULL);
	}
	for (size_t i = 0; i < json_array_len(conds); i++) {
		const char *t = json_get_str(json_array_at(conds, i), "type", NULL);
		if (t && !strcmp(t, "Ready"))
			ready = json_get_str(json_array_at(conds, i), "status", NULL);
	}
	return h * 33 + (unsigned long)(ready && !strcmp(ready, "True") ? 1 : 2);
}

enum reconcile_result enckey_reconcile(struct controller *ctl, struct kube_client *kc,
                                       const char *ns, const char *name, yajl_val obj,
                                       long *requeue_ms, void *ctx)
{
	const struct enckey_reconciler *er = ctx;
	struct kms_key_info ki;
	struct kms_error kerr_;
	struct kms *k = NULL;
	struct users *u = NULL;
	struct pass *p;
	char what[400], reason[64], msg[1200];
	const char *provider, *spec_region, *period, *req, *handled;
	enum reconcile_result res = RECONCILE_DONE;
	unsigned long before = 0;
	int changed = 0;

	if (!obj)
		return RECONCILE_DONE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return RECONCILE_RETRY;
	snprintf(what, sizeof(what), "encryptionkey %s/%s", ns, name);
	p->what = what;
	p->ns = ns;
	p->name = name;
	p->obj = obj;
	p->now = time(NULL);
	p->generation = json_get_int(obj, 0, "metadata", "generation", NULL);
	p->zones_ok = 1;
	provider = json_get_str(obj, "spec", "provider", NULL);
	spec_region = json_get_str(obj, "spec", "region", NULL);
	period = json_get_str(obj, "spec", "rotationPeriod", NULL);
	req = json_get_str(obj, "metadata", "annotations", ENCKEY_ROTATE_ANNOTATION, NULL);
	handled = json_get_str(obj, "status", "zoneKeyRotationRequest", NULL);
	p->handled_req = handled;
	if (req && strlen(req) > 63) {
		cond_set(p, C_READY, 0, "InvalidAnnotation",
		         "annotation " ENCKEY_ROTATE_ANNOTATION " must be at most 63 characters, "
		         "e.g. a date");
		goto status;
	}
	if (req && req[0] && (!handled || strcmp(req, handled)))
		p->rotate_req = req;
	if (provider && !strcmp(provider, KMS_PROVIDER_LOCAL))
		kmsconn_root_secret_name(name, p->root_secret, sizeof(p->root_secret));
	before = status_hash(obj);

	if (is_deleting(obj)) {
		res = finalize(ctl, kc, p, er->recycle_day_s, requeue_ms);
		goto out;
	}
	if (!apply_has_finalizer(obj, ENCKEY_FINALIZER)) {
		struct kube_error err;
		if (apply_set_finalizer(kc, &KUBE_VW_ENCRYPTIONKEY, obj, ENCKEY_FINALIZER, 1,
		                        &err) == 0)
			res = RECONCILE_DONE; /* the update brings us back */
		else
			res = RECONCILE_RETRY;
		goto out;
	}
	if (!provider ||
	    (strcmp(provider, KMS_PROVIDER_LOCAL) && strcmp(provider, KMS_PROVIDER_AWS))) {
		cond_set(p, C_READY, 0, "InvalidSpec", "spec.provider must be aws-kms or local");
		goto status;
	}
	p->period_s = DEFAULT_ROTATION_S;
	if (period && (parse_duration(period, &p->period_s) || p->period_s < 3600)) {
		cond_set(
		    p, C_READY, 0, "InvalidSpec",
		    "spec.rotationPeriod must be a duration between 24h and 87600h, e.g. 8760h");
		goto status;
	}

	/* 1. the provider and the key's health */
	if (!strcmp(provider, KMS_PROVIDER_LOCAL) && ensure_root_key(kc, p))
		goto status;
	if (kmsconn_open(kc, obj, &k, reason, sizeof(reason), msg, sizeof(msg))) {
		cond_set(p, C_READY, 0, reason, "%s", msg);
		log_warnx(what, "KMS: %s: %s", reason, msg);
		p->pending = 1;
		goto status;
	}
	if (kms_describe(k, &ki, &kerr_)) {
		char eb[500];
		kms_strerror(&kerr_, eb, sizeof(eb));
		cond_set(p, C_READY, 0, kms_err_reason(kerr_.kind), "DescribeKey: %s", eb);
		log_warnx(what, "DescribeKey: %s", eb);
		p->pending = 1;
		goto status;
	}
	snprintf(p->key_state, sizeof(p->key_state), "%s", ki.state);
	snprintf(p->key_id, sizeof(p->key_id), "%s", ki.arn);
	if (!strcmp(provider, KMS_PROVIDER_LOCAL))
		snprintf(p->region, sizeof(p->region), "%s", spec_region ? spec_region : "");
	else
		snprintf(p->region, sizeof(p->region), "%s", ki.region);
	if (spec_region && strcmp(spec_region, p->region)) {
		cond_set(p, C_READY, 0, "RegionMismatch",
		         "spec.region is %s but the KMS key is in %s; fix spec.region (or omit it)",
		         spec_region, p->region);
		goto status;
	}
	if (!kms_key_usable(&ki)) {
		cond_set(p, C_READY, 0, "KMSKeyDisabled",
		         "the KMS key is %s (usage %s, spec %s): zone keys can not be unwrapped or "
		         "created; enable the key in the KMS (it must be an Enabled symmetric "
		         "ENCRYPT_DECRYPT key)",
		         ki.state, ki.usage, ki.spec);
		p->pending = 1;
		goto status;
	}
	cond_set(p, C_READY, 1, "KeyAvailable", "the %s key is %s in %s", provider, ki.state,
	         p->region);

	/* 2. the zone keys of every Cluster using it */
	u = users_find(ctl, ns, name);
	if (!u) {
		p->failed = 1;
		goto status;
	}
	if (u->truncated)
		degrade(p, "TooManyClusters",
		        "more than %d Clusters in the namespace; some skipped", MAX_CLUSTERS);
	for (size_t i = 0; i < u->n; i++)
		if (!is_deleting(u->items[i]))
			ensure_cluster_zones(kc, p, k, u->items[i], &changed);
	if (!p->failed && !p->pending && p->zones_ok && p->rotate_req) {
		/* every zone now answers the request */
		log_info(what, "zone keys rotated on request %s", p->rotate_req);
		p->handled_req = p->rotate_req;
	}

status:
	if (!p->c[C_READY].set)
		cond_set(p, C_READY, 0, "Progressing", "reconciling");
	if (!p->c[C_DEGRADED].set) {
		if (p->failed)
			cond_set(p, C_DEGRADED, 1, "ReconcileError",
			         "a step failed; retrying with backoff");
		else if (!p->c[C_READY].status)
			cond_set(p, C_DEGRADED, 1, p->c[C_READY].reason, "%s",
			         p->c[C_READY].message);
		else
			cond_set(p, C_DEGRADED, 0, "AsExpected", "no errors");
	}
	if (!p->c[C_READY].status)
		p->zones_ok = 0;
	if (p->c[C_READY].status || !json_get(obj, "status", "zones", NULL))
		write_status(kc, p);
	else {
		/* the key is unhealthy: keep the zones last seen, say why */
		p->nzones = 0;
		p->next_rotation = 0;
		p->last_rotation[0] = '\0';
		{
			/* zones are left out of the body: server-side apply keeps them
			 * only if we own them, so copy them from the live status */
			yajl_val zs = json_get(obj, "status", "zones", NULL);
			for (size_t i = 0; i < json_array_len(zs); i++) {
				yajl_val z = json_array_at(zs, i);
				const char *c = json_get_str(z, "cluster", NULL);
				const char *d = json_get_str(z, "database", NULL);
				const char *s = json_get_str(z, "secret", NULL);
				const char *t = json_get_str(z, "createdAt", NULL);
				if (c && d && s && t)
					add_zone(
					    p, c, d, (uint32_t)json_get_int(z, 0, "version", NULL),
					    s, t,
					    p->period_s > 0 ? p->period_s : DEFAULT_ROTATION_S);
			}
		}
		write_status(kc, p);
	}
	if (before != zones_hash(p) || changed) {
		if (!u)
			u = users_find(ctl, ns, name);
		if (u)
			requeue_users(ctl, u);
	}
	if (p->failed) {
		res = RECONCILE_RETRY;
	} else {
		long long next = er->resync_ms;
		if (p->pending || !p->c[C_READY].status)
			next = p->c[C_READY].status ? NOT_READY_REQUEUE_MS : 30000;
		if (p->next_rotation > 0) {
			long long until = (p->next_rotation - (long long)p->now) * 1000 + 1000;
			if (until < next)
				next = until > 1000 ? until : 1000;
		}
		*requeue_ms = (long)next;
		res = RECONCILE_REQUEUE;
	}
out:
	users_free(u);
	kms_free(k);
	free(p->zones);
	free(p);
	return res;
}

/* ---- the Cluster's side --------------------------------------------------------------- */

int enckey_cluster_condition(struct controller *ctl, yajl_val cluster, const struct cluster_view *v,
                             char *reason, size_t reasonlen, char *msg, size_t msglen)
{
	struct informer *inf = controller_informer(ctl, &KUBE_VW_ENCRYPTIONKEY);
	yajl_val dbs = json_get(cluster, "spec", "encryption", "databases", NULL);
	const char *cregion = json_get_str(cluster, "spec", "region", NULL);
	char key[600], qkey[700];
	yajl_val ek = NULL, conds, zones;
	const char *kregion, *rstat = NULL, *rreason = NULL, *rmsg = NULL;
	size_t ndb = json_array_len(dbs) ? json_array_len(dbs) : 1, found = 0;
	int rc = 0;

	snprintf(key, sizeof(key), "%s/%s", v->ns, v->encryption_key);
	snprintf(qkey, sizeof(qkey), "EncryptionKey/%s", key);
	ek = inf ? informer_get(inf, key) : NULL;
	if (!ek) {
		snprintf(reason, reasonlen, "KeyNotFound");
		snprintf(msg, msglen,
		         "EncryptionKey %s does not exist in namespace %s; create it (see "
		         "docs/encryption.md)",
		         v->encryption_key, v->ns);
		goto out;
	}
	kregion = json_get_str(ek, "status", "region", NULL);
	conds = json_get(ek, "status", "conditions", NULL);
	for (size_t i = 0; i < json_array_len(conds); i++) {
		yajl_val c = json_array_at(conds, i);
		const char *t = json_get_str(c, "type", NULL);
		if (t && !strcmp(t, "Ready")) {
			rstat = json_get_str(c, "status", NULL);
			rreason = json_get_str(c, "reason", NULL);
			rmsg = json_get_str(c, "message", NULL);
		}
	}
	if (kregion && cregion && strcmp(kregion, cregion)) {
		snprintf(reason, reasonlen, "RegionMismatch");
		snprintf(msg, msglen,
		         "spec.region is %s but EncryptionKey %s is in %s: a key only protects "
		         "Clusters of its own region",
		         cregion, v->encryption_key, kregion);
		goto out;
	}
	if (!rstat || strcmp(rstat, "True")) {
		snprintf(reason, reasonlen, "%s", rreason ? rreason : "KeyNotReady");
		snprintf(msg, msglen, "EncryptionKey %s is not ready: %.400s", v->encryption_key,
		         rmsg ? rmsg : "not reconciled yet");
		goto out;
	}
	zones = json_get(ek, "status", "zones", NULL);
	for (size_t d = 0; d < ndb; d++) {
		const char *db = json_array_len(dbs) ? json_str(json_array_at(dbs, d)) : "default";
		for (size_t i = 0; db && i < json_array_len(zones); i++) {
			yajl_val z = json_array_at(zones, i);
			const char *zc = json_get_str(z, "cluster", NULL);
			const char *zd = json_get_str(z, "database", NULL);
			if (zc && zd && !strcmp(zc, v->name) && !strcmp(zd, db)) {
				found++;
				break;
			}
		}
	}
	if (found < ndb) {
		snprintf(reason, reasonlen, "ZoneKeysPending");
		snprintf(msg, msglen, "EncryptionKey %s has zone keys for %zu of %zu database(s)",
		         v->encryption_key, found, ndb);
		wq_add(controller_queue(ctl), qkey);
		goto out;
	}
	snprintf(reason, reasonlen, "ZoneKeysReady");
	snprintf(msg, msglen,
	         "%zu database(s) have zone keys wrapped by EncryptionKey %s (Secret %s-%s)", ndb,
	         v->encryption_key, v->name, ZK_SECRET_SUFFIX);
	rc = 1;
out:
	yajl_tree_free(ek);
	return rc;
}

int enckey_key_info(struct controller *ctl, const char *ns, const char *name, char *provider,
                    size_t provlen, char *arn, size_t arnlen, long *rotation_hours)
{
	struct informer *inf = controller_informer(ctl, &KUBE_VW_ENCRYPTIONKEY);
	const char *prov, *id, *period;
	char key[600];
	yajl_val ek;
	double secs = 0;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	ek = inf ? informer_get(inf, key) : NULL;
	if (!ek)
		return -1;
	prov = json_get_str(ek, "spec", "provider", NULL);
	id = json_get_str(ek, "spec", "keyID", NULL);
	period = json_get_str(ek, "spec", "rotationPeriod", NULL);
	snprintf(provider, provlen, "%s", prov ? prov : "");
	snprintf(arn, arnlen, "%s", prov && !strcmp(prov, KMS_PROVIDER_AWS) && id ? id : "");
	*rotation_hours = period && parse_duration(period, &secs) == 0 ? (long)(secs / 3600) : 0;
	yajl_tree_free(ek);
	return 0;
}

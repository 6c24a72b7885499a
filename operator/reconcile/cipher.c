#include "cipher.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "apply.h"
#include "json.h"
#include "log.h"
#include "milvus.h"
#include "milvusconn.h"
#include "synccache.h"

static void say(struct cipher_outcome *o, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct cipher_outcome *o, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

/* spec.encryption.databases, each once, in order; [default] when empty */
static size_t wanted_databases(const struct cluster_view *v, const char **dbs)
{
	size_t n = 0;

	for (size_t i = 0; i < json_array_len(v->encryption_databases); i++) {
		const char *d = json_str(json_array_at(v->encryption_databases, i));
		int dup = 0;
		if (!d || !*d)
			continue;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(dbs[j], d) == 0;
		if (!dup && n < CIPHER_MAX_DATABASES)
			dbs[n++] = d;
	}
	if (n == 0)
		dbs[n++] = "default";
	return n;
}

/* What Milvus must reflect: the Cluster (its UID: a re-created Cluster is
 * another Milvus), the key and the databases. */
static void fingerprint(const struct cluster_view *v, const char *arn, const char *const *dbs,
                        size_t n, unsigned char out[SYNC_FP_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;

	memset(out, 0, SYNC_FP_LEN);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "cipher", 7);
	EVP_DigestUpdate(ctx, v->uid, strlen(v->uid) + 1);
	EVP_DigestUpdate(ctx, arn, strlen(arn) + 1);
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(ctx, dbs[i], strlen(dbs[i]) + 1);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

/* "a, b, c" of n names into out (cut to fit) */
static void join(char *out, size_t cap, const char *const *names, size_t n)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && off < cap; i++) {
		int w = snprintf(out + off, cap - off, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* 1 when d is an encryption zone under arn (cipher.enabled is "true" in any
 * case, as Milvus reads it) */
static int is_zone(const struct mv_database *d, const char *arn)
{
	const char *en = mv_database_property(d, MV_PROP_CIPHER_ENABLED);
	const char *key = mv_database_property(d, MV_PROP_CIPHER_KEY);

	return en && strcasecmp(en, "true") == 0 && key && strcmp(key, arn) == 0;
}

/* The condition message for the first database that is not a zone (and how
 * many more are not). */
static void say_mismatch(struct cipher_outcome *o, const char *db, const struct mv_database *d,
                         const char *arn, size_t nbad)
{
	const char *en = mv_database_property(d, MV_PROP_CIPHER_ENABLED);
	const char *key = mv_database_property(d, MV_PROP_CIPHER_KEY);
	char more[128] = "";

	if (nbad > 1)
		snprintf(more, sizeof(more),
		         " (%zu more database(s) of spec.encryption.databases "
		         "are not encryption zones either)",
		         nbad - 1);
	if (en && strcasecmp(en, "true") == 0)
		say(o, "EncryptionZoneMismatch",
		    "database %s is encrypted under KMS key %s, not %s; Milvus can not change a "
		    "database's cipher properties: move its data to a new database listed in "
		    "spec.encryption.databases%s",
		    db, key && *key ? key : "(none)", arn, more);
	else if (strcmp(db, "default") == 0)
		say(o, "EncryptionZoneMismatch",
		    "database default is not encrypted: Milvus creates it at its first start and "
		    "this build's cipher plugin did not encrypt it with "
		    "cipherPlugin.kms.defaultKey; "
		    "Milvus can not encrypt an existing database: keep data in named databases "
		    "listed in spec.encryption.databases (vecward creates them encrypted), or use "
		    "a "
		    "Milvus build that encrypts the default database in a new Cluster%s",
		    more);
	else
		say(o, "EncryptionZoneMismatch",
		    "database %s exists in Milvus without encryption (created before, or by hand) "
		    "and Milvus can not encrypt an existing database: move its data out and drop "
		    "%s "
		    "in Milvus, and vecward creates it encrypted under %s%s",
		    db, db, arn, more);
}

/* Create db as a zone under arn. 0 created, 1 it existed already (another
 * writer was first), -1 with o filled. */
static int create_zone(struct kube_client *kc, yajl_val cluster, struct mv_client *mv,
                       const char *what, const char *db, const char *arn, struct cipher_outcome *o,
                       int *final)
{
	const char *keys[] = {MV_PROP_CIPHER_ENABLED, MV_PROP_CIPHER_KEY};
	const char *vals[] = {"true", arn};
	struct mv_error me;
	char note[600];

	if (mv_database_create(mv, db, keys, vals, 2, &me) != MV_OK) {
		if (me.status == MV_ERR_MILVUS && me.code == MV_CODE_INVALID_PARAMETER &&
		    strstr(me.message, "already exist"))
			return 1;
		if (me.status == MV_ERR_MILVUS && strstr(me.message, "cipher plugin is missing")) {
			say(o, "CipherPluginMissing",
			    "Milvus refused to create the encrypted database %s: its image has no "
			    "cipher plugin (open-source Milvus has none); set spec.image to a "
			    "Milvus "
			    "build that carries the plugin at "
			    "spec.encryption.cipherPlugin.soPathGo "
			    "and soPathCpp",
			    db);
			*final = 1;
			return -1;
		}
		say(o, mv_error_reason(&me), "Milvus: create encrypted database %s: %s (%s)", db,
		    me.message, mv_error_hint(&me));
		return -1;
	}
	o->created++;
	snprintf(note, sizeof(note), "created database %s as an encryption zone under KMS key %s",
	         db, arn);
	{
		const char *kv[] = {"reason", "EncryptedDatabaseCreated", "database", db, NULL};
		log_kv(LOG_INFO, what, note, kv);
	}
	event_emit(kc, cluster, "Normal", "EncryptedDatabaseCreated", "Create", note);
	return 0;
}

int cipher_sync(struct kube_client *kc, yajl_val cluster, const struct cluster_view *v,
                const char *kms_key_arn, long milvus_resync_ms, struct cipher_outcome *o)
{
	const char *dbs[CIPHER_MAX_DATABASES], *bad[CIPHER_MAX_DATABASES];
	struct mv_database first_bad = {0};
	struct mv_names have = {0};
	struct mv_error me;
	struct mconn mc;
	char key[600], what[600], reason[64], msg[400], names[600];
	unsigned char fp[SYNC_FP_LEN];
	size_t ndb, nbad = 0;
	int rc = -1, opened = 0;

	memset(o, 0, sizeof(*o));
	memset(&mc, 0, sizeof(mc));
	if (!v->cipher_so_go) {
		o->ok = 1;
		say(o, "NoCipherPlugin",
		    "spec.encryption.cipherPlugin is not set: Milvus itself encrypts nothing "
		    "(open-source Milvus has no cipher plugin)");
		return 0;
	}
	if (!kms_key_arn || !*kms_key_arn) {
		say(o, "KMSKeyNotReady",
		    "the cipher plugin needs the KMS key ARN of EncryptionKey %s, which is not "
		    "known "
		    "yet (a provider local key has none: the plugin calls AWS KMS itself, so it "
		    "needs provider aws-kms)",
		    v->encryption_key ? v->encryption_key : "(none)");
		return 0;
	}
	ndb = wanted_databases(v, dbs);
	join(names, sizeof(names), dbs, ndb);
	snprintf(key, sizeof(key), "Cluster/%s/%s/cipher", v->ns, v->name);
	snprintf(what, sizeof(what), "cluster %s/%s", v->ns, v->name);
	fingerprint(v, kms_key_arn, dbs, ndb, fp);
	if (sync_fresh(key, fp, milvus_resync_ms)) {
		o->ok = 1;
		say(o, "Encrypted",
		    "every listed database is an encryption zone under KMS key %s: %s", kms_key_arn,
		    names);
		return 0;
	}
	o->contacted = 1;
	if (mconn_open(kc, cluster, 0, &mc, reason, sizeof(reason), msg, sizeof(msg))) {
		say(o, reason, "%s", msg);
		goto out;
	}
	opened = 1;
	if (mv_database_list(mc.mv, &have, &me) != MV_OK) {
		say(o, mv_error_reason(&me), "Milvus: list databases: %s", me.message);
		goto out;
	}
	for (size_t i = 0; i < ndb; i++) {
		struct mv_database d = {0};
		if (!mv_names_has(&have, dbs[i])) {
			int final = 0;
			if (create_zone(kc, cluster, mc.mv, what, dbs[i], kms_key_arn, o, &final) <
			    0) {
				if (final)
					rc = 0;
				goto out;
			}
		}
		/* what Milvus holds now, for a database just created too: a build whose
		 * plugin ignored cipher.key must not pass for encrypted */
		if (mv_database_describe(mc.mv, dbs[i], &d, &me) != MV_OK) {
			say(o, mv_error_reason(&me), "Milvus: describe database %s: %s", dbs[i],
			    me.message);
			goto out;
		}
		if (!is_zone(&d, kms_key_arn)) {
			if (nbad == 0)
				first_bad = d; /* kept for the message */
			else
				mv_database_free(&d);
			bad[nbad++] = dbs[i];
			continue;
		}
		mv_database_free(&d);
	}
	if (nbad) {
		say_mismatch(o, bad[0], &first_bad, kms_key_arn, nbad);
		log_warnx(what, "encryption zones: %s", o->message);
		rc = 0; /* retrying changes nothing: the user has to act */
		goto out;
	}
	sync_record(key, fp);
	o->ok = 1;
	say(o, "Encrypted", "every listed database is an encryption zone under KMS key %s: %s",
	    kms_key_arn, names);
	rc = 0;
out:
	mv_database_free(&first_bad);
	mv_names_free(&have);
	if (opened)
		mconn_close(&mc);
	return rc;
}

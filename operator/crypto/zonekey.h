/*
 * zonekey: how Encryption Zone Keys (EZKs) are bound, named and stored.
 * Pure: no I/O, no clock (the caller passes times), no randomness.
 *
 * Hierarchy (seed 002, DESIGN.md EncryptionKey): the root key in the KMS
 * wraps one EZK per (cluster, database, version); an EZK wraps one data key
 * per file (envelope.h).
 *
 * Storage: one Secret per Cluster, "<cluster>-zone-keys" (owned by the
 * Cluster, so it follows the Cluster into the recycle bin), with one data
 * entry per (database, version):
 *
 *   key    "<database>.v<version>"            e.g. "default.v1"
 *   value  a JSON document (ZK_FORMAT):
 *     {"format":"vecward.io/zone-key/v1","encryptionKey":"<EncryptionKey name>",
 *      "provider":"aws-kms","keyID":"<key ARN, or local:<fingerprint>>",
 *      "cluster":"<name>","clusterUID":"<uid>","database":"<db>","version":N,
 *      "createdAt":"<RFC 3339>","wrapped":"<base64 of the KMS blob>"}
 *   and, for a version made on request, "rotationRequest":"<annotation value>"
 *   (so a rotation interrupted by a crash is not repeated for zones it did).
 *
 * The plaintext EZK is never stored: "wrapped" is what the KMS returned from
 * GenerateDataKey (CiphertextBlob), which only the root key can open, and
 * only with the encryption context below. An entry, once written, is never
 * changed: rotation adds version N+1 and keeps the older ones for decryption.
 *
 * Encryption context (authenticated by the KMS, not secret), for every
 * GenerateDataKey and Decrypt of a zone key:
 *
 *   vecward.io/cluster-uid = the Cluster's metadata.uid
 *   vecward.io/database    = the database
 *   vecward.io/purpose     = encryption-zone-key
 *   vecward.io/version     = the version in decimal
 *
 * So a wrapped key copied to another cluster, database or version does not
 * unwrap: the claims in the JSON are checked by the KMS, not trusted.
 */
#ifndef VW_ZONEKEY_H
#define VW_ZONEKEY_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "kms.h"

#define ZK_FORMAT          "vecward.io/zone-key/v1"
#define ZK_SECRET_SUFFIX   "zone-keys"
#define ZK_KEY_LEN         32 /* AES-256 */
#define ZK_DATABASE_MAX    255
#define ZK_VERSION_MAX     1000000u
#define ZK_ENTRY_MAX       16384 /* longest JSON value accepted */
#define ZK_CTX_CLUSTER_UID "vecward.io/cluster-uid"
#define ZK_CTX_DATABASE    "vecward.io/database"
#define ZK_CTX_PURPOSE     "vecward.io/purpose"
#define ZK_CTX_VERSION     "vecward.io/version"
#define ZK_PURPOSE         "encryption-zone-key"

/* A stored zone key version. Strings are fixed arrays; wrapped is a buf the
 * entry owns (zk_entry_free releases it). */
struct zk_entry {
	char encryption_key[254];
	char provider[16];
	char key_id[300];
	char cluster[254];
	char cluster_uid[64];
	char database[ZK_DATABASE_MAX + 1];
	uint32_t version;
	char created_at[32];
	char request[64];   /* optional: the rotation request (annotation value)
	                     * this version answers, "" for none */
	struct buf wrapped; /* the KMS blob, raw bytes */
};

/* An empty entry (wrapped initialised, capped at KMS_MAX_BLOB). */
void zk_entry_init(struct zk_entry *e);
void zk_entry_free(struct zk_entry *e);

/* 1 when db is a Milvus database name [A-Za-z_][A-Za-z0-9_]* of at most
 * ZK_DATABASE_MAX characters. */
int zk_database_ok(const char *db);

/* "<database>.v<version>" into out; 0, or -1 when db is not a database name,
 * version is 0 or above ZK_VERSION_MAX, or out is too small. */
int zk_data_key(const char *database, uint32_t version, char *out, size_t outlen);
/* The reverse: 0 with database (dblen bytes) and *version set, -1 when k is
 * not a zone key entry name. */
int zk_parse_data_key(const char *k, char *database, size_t dblen, uint32_t *version);

/* The highest version of database among the data keys of a zone-keys
 * Secret (the tree of the whole object, as read from the API): 0 and *out,
 * or 1 when data holds no "<database>.v<N>" entry (no data, or database is
 * not a database name). Only the names are looked at, not the values. */
int zk_latest_version(yajl_val secret, const char *database, uint32_t *out);

/* "<cluster>-zone-keys" into out; 0 or -1 when too long. */
int zk_secret_name(const char *cluster, char *out, size_t outlen);

/* The encryption context of (cluster UID, database, version). The context
 * borrows its strings: verbuf (12 bytes, the caller's) holds the version. */
int zk_context(struct kms_context *ctx, const char *cluster_uid, const char *database,
               uint32_t version, char verbuf[12]);

/* The JSON value of an entry, appended to out. 0 or -1 (a field missing or
 * too long). */
int zk_entry_encode(const struct zk_entry *e, struct buf *out);

/* Parse a JSON value (len bytes, at most ZK_ENTRY_MAX) into e (initialised
 * by the caller with zk_entry_init). 0, or -1 with a lower-case reason
 * naming the field in err. e is unspecified on failure (free it anyway). */
int zk_entry_parse(const char *json, size_t len, struct zk_entry *e, char *err, size_t errlen);

/*
 * Rotation arithmetic on RFC 3339 UTC times ("2026-01-02T03:04:05Z").
 * zk_rotation_due: 1 when created_at + period_s <= now_s, 0 when not yet,
 * -1 when created_at does not parse. zk_time_parse: the Unix time of an
 * RFC 3339 UTC string of exactly that form (no fractions, no offset, every
 * field in range, 1970 or later), -1 otherwise.
 */
long long zk_time_parse(const char *rfc3339);
int zk_rotation_due(const char *created_at, double period_s, long long now_s);

#endif

/*
 * cipher: a Cluster's encryption zones in Milvus, for Milvus images that carry
 * a cipher plugin (spec.encryption.cipherPlugin). Open-source Milvus has no
 * cipher plugin: without cipherPlugin this step contacts nothing.
 *
 * Every database of spec.encryption.databases (default [default]) must exist
 * in Milvus as an encryption zone under the Cluster's KMS key: database
 * properties cipher.enabled "true" and cipher.key <kms_key_arn> (Milvus adds
 * cipher.ezID itself). A missing database is created so (databases/create),
 * with a log line and a Normal Event EncryptedDatabaseCreated. An existing one
 * is only read: Milvus refuses to change cipher properties after creation, so
 * a database that exists unencrypted, or encrypted under another key, is
 * reported (EncryptionZoneMismatch) and never altered or dropped: that is the
 * user's data.
 *
 * The default database: Milvus creates "default" itself at its first start,
 * before vecward can say anything, and vecward can not create or alter it.
 * Milvus builds whose plugin reads cipherPlugin.kms.defaultKey (written by
 * cluster_render_hook_secret from the first start on, as cipherPlugin can only
 * be set when the Cluster is created) make "default" an encryption zone under
 * that key then; older builds leave it unencrypted. So "default" is checked
 * like any other database and counts as encrypted only when Milvus says so;
 * when it is not, the condition says so and how to proceed: keep data in named
 * databases listed in spec.encryption.databases (which vecward creates
 * encrypted) or use a build that encrypts the default database.
 *
 * Milvus is asked only when something may differ: the first pass after a start,
 * a change of the databases, the key or the Cluster's UID, and every
 * milvus_resync_ms (synccache); an idle resync sends Milvus nothing. A pass that
 * did not converge is not recorded, so the next one asks again.
 */
#ifndef VW_CIPHER_H
#define VW_CIPHER_H

#include <yajl/yajl_tree.h>

#include "cluster_render.h"
#include "kube.h"

#define CIPHER_MAX_DATABASES 64 /* spec.encryption.databases maxItems */

struct cipher_outcome {
	int ok;            /* every listed database is an encryption zone under the key */
	int contacted;     /* Milvus was asked this time */
	unsigned created;  /* databases created this pass */
	char reason[64];   /* CamelCase, for the EncryptionReady condition */
	char message[800]; /* names the database and the fix; never a secret */
};

/*
 * Sync the encryption zones of cluster (the object tree; v its parsed view,
 * both borrowed) for the KMS key kms_key_arn (the EncryptionKey's keyID; NULL
 * or "" when not known yet). Reasons:
 *   NoCipherPlugin          ok: no spec.encryption.cipherPlugin; nothing contacted
 *   Encrypted               ok: every listed database is a zone under the key
 *   KMSKeyNotReady          no kms_key_arn (not known yet, or a `local` key,
 *                           which has no ARN for the plugin to use)
 *   EncryptionZoneMismatch  a database exists unencrypted or under another key
 *   CipherPluginMissing     Milvus refused cipher.enabled: its image has no plugin
 *   Milvus* / Cluster*      Milvus unreachable, credentials, ... (mv_error_reason,
 *                           mconn_open)
 * Returns 0 when the outcome is final for this spec (see out->ok), -1 on a
 * failure worth retrying soon (Milvus unreachable or erroring); out is always
 * filled.
 */
int cipher_sync(struct kube_client *kc, yajl_val cluster, const struct cluster_view *v,
                const char *kms_key_arn, long milvus_resync_ms, struct cipher_outcome *out);

#endif

/*
 * kmsconn: a KMS provider for one EncryptionKey, as the operator and
 * vecward-crypt use it, and the unwrapping of a stored zone key.
 *
 *   aws-kms  spec.keyID, spec.endpoint, and credentials from the Secret named
 *            by spec.credentialsSecretRef (aws_access_key_id,
 *            aws_secret_access_key, optional aws_session_token) or, without
 *            it, ambient credentials (environment, IRSA web identity).
 *   local    the 32-byte root key in Secret <name>-root-key (data key
 *            "root.key"), which the EncryptionKey reconciler creates once.
 *
 * Credentials and root keys are read, handed to kms (which copies them) and
 * wiped at once; nothing here logs a secret.
 */
#ifndef VW_KMSCONN_H
#define VW_KMSCONN_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "kms.h"
#include "kube.h"
#include "zonekey.h"

#define KMSCONN_ROOT_KEY_SUFFIX "root-key"
#define KMSCONN_ROOT_KEY_DATA   "root.key"

/* "<key>-root-key" into out; 0 or -1 when too long. */
int kmsconn_root_secret_name(const char *key_name, char *out, size_t outlen);

/*
 * Open the provider of EncryptionKey `key` (the object tree). 0 and *out,
 * 1 when a local key has no root-key Secret yet (reason KeyNotGenerated), or
 * -1. On 1 and -1: a CamelCase reason and a message naming the field or
 * Secret and the fix, for a condition.
 */
int kmsconn_open(struct kube_client *kc, yajl_val key, struct kms **out, char *reason,
                 size_t reasonlen, char *msg, size_t msglen);

/* Unwrap a stored zone key: kms_decrypt of e->wrapped under the context of
 * (e's cluster UID, database, version) into ezk. The caller wipes ezk.
 * cluster_uid: the UID the caller expects (a copied entry claiming another
 * cluster is refused before the KMS is asked; the KMS checks it again). */
int kmsconn_unwrap_zone(struct kms *k, const struct zk_entry *e, const char *cluster_uid,
                        uint8_t ezk[ZK_KEY_LEN], struct kms_error *err);

#endif

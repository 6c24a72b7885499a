/*
 * user: the User reconciler. For one User it keeps:
 *   - the Milvus user (created through the Cluster's REST API as root, over
 *     TLS verified against the Cluster's CA), its password, and exactly the
 *     roles declared (missing ones granted, others revoked);
 *   - Secret <user>-credentials (username, password, token, uri, ca.crt, and a
 *     client certificate when asked), owned by the User, created with POST so a
 *     generated password is never regenerated;
 *   - password rotation (spec.passwordRotation.period, or the annotation
 *     vecward.io/rotate-password): the new password is first stored in Secret
 *     <user>-password-pending, then set in Milvus, then written to the
 *     credentials Secret, then the pending Secret is deleted, so a crash at any
 *     point resumes with the same new password (root is a Milvus superuser,
 *     so setting a password is idempotent);
 *   - a finalizer that drops the Milvus user before the User goes (released
 *     at once when the Cluster is gone or going);
 *   - status and an Event plus a log line (no secret) for every change.
 *
 * A Milvus user of the same name that vecward did not create is never
 * touched (condition MilvusUserExists) unless the User carries the annotation
 * vecward.io/adopt-existing-user: "true". root is never managed here.
 *
 * Milvus is asked only when something may have changed: after a pass that
 * converged, the same desired state (user, password, roles) is not checked
 * against Milvus again for milvus_resync_ms, so an idle resync sends Milvus
 * nothing. A restart of the operator re-checks everything once. Such a pass
 * reads only the User's credentials Secret: the Cluster's Secrets (root, CA,
 * trust bundle) only when the ca.crt it holds is not the bundle the Cluster's
 * status.certificate.trustBundleSHA256 names, or for a client certificate.
 * A User waits for a Cluster that is not Ready with a long requeue: the
 * Cluster reconciler enqueues it when the Cluster becomes Ready.
 */
#ifndef VW_RECONCILE_USER_H
#define VW_RECONCILE_USER_H

#include "controller.h"

struct user_reconciler {
	long resync_ms;        /* requeue of a converged User */
	long milvus_resync_ms; /* re-check a converged User against Milvus this often */
};

enum reconcile_result user_reconcile(struct controller *ctl, struct kube_client *kc, const char *ns,
                                     const char *name, yajl_val obj, long *requeue_ms, void *ctx);

#endif

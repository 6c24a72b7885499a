/*
 * cluster: the Cluster reconciler. From one Cluster it keeps, owned by it:
 * the CA (<name>-ca, never mounted), the trust bundle (<name>-ca-cert), the
 * server certificate (<name>-server-tls), the root credentials (<name>-root,
 * generated once, never regenerated), the milvus configuration ConfigMap, the
 * Deployment, Service, PVC and NetworkPolicies, and the status. Each step is
 * idempotent and writes only what differs; generated material is created with
 * POST so a crash or a retry can never replace it.
 *
 * On deletion a finalizer keeps the data volume and the key material for
 * spec.deletion.recycleBinDays (detached, labelled with the purge time); a
 * Cluster re-created with the same name inside the window adopts them again.
 */
#ifndef VW_RECONCILE_CLUSTER_H
#define VW_RECONCILE_CLUSTER_H

#include "controller.h"

#define CLUSTER_FINALIZER   "vecward.io/recycle-bin"
#define CLUSTER_PURGE_LABEL "vecward.io/purge-after"

struct cluster_reconciler {
	const char *operator_namespace; /* for the allow-operator NetworkPolicy */
	long resync_ms;                 /* requeue of a converged Cluster (drift) */
	long recycle_day_s;             /* seconds in a recycle-bin "day" (tests shorten it) */
	long milvus_resync_ms;          /* re-check synced roles against Milvus this often */
};

enum reconcile_result cluster_reconcile(struct controller *ctl, struct kube_client *kc,
                                        const char *ns, const char *name, yajl_val obj,
                                        long *requeue_ms, void *ctx);

/* Purge recycled objects whose time has passed (all namespaces or ns).
 * Returns how many were deleted, -1 on error. */
int cluster_purge_recycled(struct kube_client *kc, const char *ns, long long now_s);

#endif

/*
 * rbac: a Cluster's custom roles (spec.roles) kept in Milvus. Each declared
 * role exists with exactly its declared grants: privilegeGroups on database *
 * and collection *, privileges on their database and collection. Grants no
 * longer declared are revoked; roles removed from the spec are revoked from
 * every user and dropped. Roles vecward never declared (made by hand) and the
 * built-ins admin and public are never touched.
 *
 * Which roles are vecward's is recorded in Cluster status.rbac.managedRoles,
 * written (merge patch) BEFORE a new role is created, so a crash can never
 * leave an unrecorded role behind. Milvus is asked only when the declared
 * roles changed, after a restart, or every milvus_resync_ms (drift).
 */
#ifndef VW_RBAC_H
#define VW_RBAC_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "kube.h"

#define RBAC_MAX_ROLES 64
#define RBAC_MAX_DBS   64

struct rbac_outcome {
	int ok;        /* Milvus holds the declared roles and grants */
	int contacted; /* Milvus was asked this time */
	char reason[64];
	char message[400];
	/* for status.rbac (borrowed from the Cluster tree or static) */
	const char *managed[RBAC_MAX_ROLES];
	size_t nmanaged;
	const char *dbs[RBAC_MAX_DBS];
	size_t ndbs;
};

/* Sync cluster's roles into Milvus. Returns 0 (see out->ok), -1 on a failure
 * worth retrying (out->reason/message say why; never a secret). */
int rbac_sync(struct kube_client *kc, yajl_val cluster, long milvus_resync_ms,
              struct rbac_outcome *out);

/* For a status written by a pass that did not sync the roles: the roles to keep
 * on record as vecward's, the copy's status.rbac.managedRoles together with
 * what this process last recorded (the copy may not show that yet; leaving a
 * role off the record would leave it in Milvus when it is undeclared later).
 * names borrow from the Cluster tree and from buf. Returns the count. */
size_t rbac_managed_on_record(yajl_val cluster, char *buf, size_t len, const char **names,
                              size_t max);

#endif

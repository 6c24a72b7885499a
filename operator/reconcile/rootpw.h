/*
 * rootpw: rotation of a Cluster's generated root password on request (the
 * Cluster annotation vecward.io/rotate-password set to a new value). The same
 * crash-safe order as for Users: the new password is stored first in Secret
 * <cluster>-root-pending (created once), then set in Milvus, then written to
 * <cluster>-root, then the rotation is said (out->rotated: log and Event), the
 * request recorded as handled (status.rootPasswordRotationRequest) and the
 * pending Secret deleted: so a crash never rotates twice for one request, and
 * a write answered with an error although done never loses the Event (a
 * pending Secret whose request is handled is only deleted). A pass that finds
 * the pending Secret resumes with that password; if Milvus already has it (the
 * crash came after Milvus answered), the operator notices because the old
 * password no longer authenticates and the pending one does.
 */
#ifndef VW_ROOTPW_H
#define VW_ROOTPW_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "cluster_render.h"
#include "kube.h"

#define ROOTPW_ROTATE_ANNOTATION "vecward.io/rotate-password"

struct rootpw_outcome {
	int rotated;            /* a rotation finished in this pass */
	const char *handled;    /* the request now handled (borrowed from the Cluster or
	                         * handled_note), or NULL */
	char handled_note[256]; /* what this process last recorded as handled */
	char reason[64];
	char message[400];
};

/* 0 nothing to do or done (see out), -1 failed: retry (out says why).
 * After a pass that found no pending Secret and no new request, the same
 * request/handled pair is not checked again (no GET) for recheck_ms. */
int rootpw_rotate(struct kube_client *kc, yajl_val cluster, const struct cluster_view *v,
                  long recheck_ms, struct rootpw_outcome *out);

/* The rotation request handled, for a status written without rootpw_rotate's
 * outcome (a pass that stopped before it): what this process last recorded,
 * else the copy's status.rootPasswordRotationRequest, else NULL. The status is
 * applied server-side: leaving the field out would remove it, and the next
 * pass (or the next process) would rotate again. buf holds a noted value. */
const char *rootpw_handled(yajl_val cluster, const struct cluster_view *v, char *buf, size_t len);

#endif

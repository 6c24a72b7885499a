/*
 * milvusconn: a Milvus REST client for one Cluster, as the operator uses it:
 * root credentials from the Cluster's root Secret, TLS verified against the
 * Cluster's trust bundle (<cluster>-ca-cert), and on mutual-TLS clusters a
 * short-lived operator client certificate issued from the Cluster's CA and
 * kept in memory only (cached per Cluster and CA, renewed before expiry).
 *
 * The endpoint is https://<cluster>.<ns>.svc:8080. Test-only: when the operator
 * runs with --allow-milvus-connect-to, the Cluster annotation
 * vecward.io/milvus-connect-to: HOST:PORT sends the TCP connection there while
 * TLS still verifies the Service name, so a test double must present the
 * Cluster's own server certificate.
 */
#ifndef VW_MILVUSCONN_H
#define VW_MILVUSCONN_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "kube.h"
#include "milvus.h"
#include "pki.h"

#define MCONN_CONNECT_TO_ANNOTATION "vecward.io/milvus-connect-to"

/* Process-wide: honour MCONN_CONNECT_TO_ANNOTATION (test-only flag). */
void mconn_allow_connect_to(int allow);
/* Free the process-wide cache of operator client certificates (their keys wiped);
 * the operator calls it at exit, once no worker can open a client any more. */
void mconn_cache_free(void);

enum { MCONN_WANT_CA = 1 /* also load the CA key pair (to issue client certificates) */ };

struct mconn {
	struct mv_client *mv; /* authenticated as root */
	char *bundle;         /* ca.crt of the Cluster (trust bundle) */
	struct pki_pair ca;   /* with MCONN_WANT_CA, or on mutual clusters */
	char uri[400];        /* what clients use: https://<cluster>.<ns>.svc:19530 */
	int mutual;           /* the Cluster requires client certificates */
	/* private: to open more clients like this one */
	char base_url[400];
	char connect_to[300];
	struct pki_pair client; /* operator client certificate (mutual) */
};

/* Open a client for Cluster `cluster` (the object tree). 0 and *c filled, or
 * -1 with a CamelCase reason and a message for a condition (never a secret). */
int mconn_open(struct kube_client *kc, yajl_val cluster, int flags, struct mconn *c, char *reason,
               size_t reasonlen, char *msg, size_t msglen);
void mconn_close(struct mconn *c);
/* How many times mconn_open ran in this process: each reads a Cluster's root
 * password (and its CA key, with MCONN_WANT_CA or on a mutual Cluster). An
 * idle resync should not (the operator's "stats" log line shows it). */
unsigned long long mconn_loads(void);

/* ---- without reading a Secret -------------------------------------------------------
 * A converged resync of a User needs no Milvus client: only what the User's
 * credentials Secret must say about the Cluster (uri, ca.crt). The trust bundle
 * lives in a Secret (not watched, so a GET each time); instead the Cluster
 * reconciler publishes the SHA-256 of the bundle it last wrote, in
 * status.certificate.trustBundleSHA256 (MCONN_BUNDLE_DIGEST_LEN hex digits,
 * only when the bundle Secret write succeeded in that pass). */
#define MCONN_BUNDLE_DIGEST_LEN 64

/* Hex SHA-256 of a trust bundle (PEM, as stored) into out. 0 or -1. Pure. */
int mconn_bundle_digest(const char *bundle, char out[MCONN_BUNDLE_DIGEST_LEN + 1]);

/* Fill c->uri and c->bundle (a copy of held_bundle) for Cluster `cluster`
 * without any API call, when that is known to be current: TLS disabled (no
 * bundle; held_bundle ignored), or held_bundle (the ca.crt a client already
 * holds, NULL when none) hashes to the Cluster's
 * status.certificate.trustBundleSHA256. 0, or -1 (nothing left open): the
 * caller must use mconn_open. c->mv, c->ca and c->client stay empty: never for
 * Milvus calls or for issuing certificates. Close with mconn_close. */
int mconn_open_known(yajl_val cluster, const char *held_bundle, struct mconn *c);

/* A second client for the same Cluster with other credentials (to check that a
 * user's password works). 0 or -1. */
int mconn_open_as(const struct mconn *base, const char *user, const char *password,
                  struct mv_client **out);

#endif

/*
 * kubeconfig: where the API server is and how to authenticate to it.
 *
 * Sources: a kubeconfig file (libyaml; current-context or a named context),
 * or the in-cluster service account. Certificates and keys are kept in memory
 * as PEM blobs (from *-data fields or the files a kubeconfig names) and handed
 * to libcurl as blobs: nothing is ever written to a temporary file.
 *
 * TLS is always verified: a kubeconfig with insecure-skip-tls-verify is
 * refused. Exec and auth-provider plugins are not supported (clear error).
 *
 * A kube_config is shared read-only by every thread's client; the bearer token
 * of a service account is re-read from its file at most every
 * KUBE_TOKEN_RELOAD_S seconds (kube_config_token) under an internal lock.
 */
#ifndef VW_KUBECONFIG_H
#define VW_KUBECONFIG_H

#include <pthread.h>
#include <stddef.h>

#include "buf.h"

#define KUBE_TOKEN_RELOAD_S   60
#define KUBE_MAX_CONFIG_BYTES (1024 * 1024)

struct kube_config {
	char *server;    /* https://host:port, no trailing slash */
	struct buf ca;   /* PEM; empty: system trust store */
	struct buf cert; /* client certificate PEM, or empty */
	struct buf key;  /* client key PEM, or empty (secret) */
	char *namespace; /* context namespace or in-cluster namespace */
	char *context;   /* the context used (NULL in-cluster) */
	/* bearer token: either fixed or read from token_file */
	pthread_mutex_t token_lock;
	struct buf token; /* secret */
	char *token_file;
	long long token_read_ms; /* when token was last read from token_file */
};

/* Parse kubeconfig text. basedir resolves relative file paths; context NULL
 * means current-context. On success *out is a new config; on failure err
 * names the problem (never a secret). */
int kube_config_parse(const char *yaml, size_t len, const char *basedir, const char *context,
                      struct kube_config **out, char *err, size_t errlen);

/* Read and parse a kubeconfig file. */
int kube_config_load_file(const char *path, const char *context, struct kube_config **out,
                          char *err, size_t errlen);

/* In-cluster config from KUBERNETES_SERVICE_HOST/PORT and the service-account
 * directory (default /var/run/secrets/kubernetes.io/serviceaccount, or
 * $VECWARD_SERVICEACCOUNT_DIR). */
int kube_config_in_cluster(struct kube_config **out, char *err, size_t errlen);

/* The precedence the operator and webhook use: explicit path, then
 * $KUBECONFIG (first entry), then in-cluster. */
int kube_config_load_default(const char *path, struct kube_config **out, char *err, size_t errlen);

/* Copy the current bearer token into dst (cleared first); re-reads token_file
 * when due. 0 and a possibly empty token, -1 when the file cannot be read and
 * no earlier token is known. */
int kube_config_token(struct kube_config *cfg, struct buf *dst);

void kube_config_free(struct kube_config *cfg);

#endif

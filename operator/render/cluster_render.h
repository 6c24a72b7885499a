/*
 * cluster_render: the desired Kubernetes objects of a Cluster, as JSON for
 * server-side apply. Pure: no I/O, no clock, no randomness; the same inputs
 * always give the same bytes (so a resync compares equal and writes nothing).
 *
 * cluster_view_parse() reads a Cluster object into a view with every design
 * default applied (whether or not the CRD or the webhook filled it in), and
 * checks what the renderers rely on. Strings in the view borrow from the tree.
 */
#ifndef VW_CLUSTER_RENDER_H
#define VW_CLUSTER_RENDER_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define CLUSTER_PORT_GRPC    19530
#define CLUSTER_PORT_HTTP    8080
#define CLUSTER_PORT_METRICS 9091
/* Milvus limits the operator raises (proxy.maxUserNum, default 100, and
 * proxy.maxRoleNum, default 10 with the two built-ins): Users are declared
 * in Git by the hundred, and spec.roles allows 32 custom roles. */
#define CLUSTER_MAX_USERS 4096
#define CLUSTER_MAX_ROLES 64

enum tls_mode { TLS_DISABLED = 0, TLS_SERVER = 1, TLS_MUTUAL = 2 };

struct cluster_view {
	const char *name, *ns, *uid;
	long long generation;
	const char *version;
	char image[300];
	long replicas;
	const char *storage_size, *storage_class;
	const char *root_secret; /* Secret holding the root password */
	const char *root_key;    /* its key */
	int root_generated;      /* 1: vecward generates <name>-root */
	enum tls_mode tls_mode;
	int tls_internal;
	const char *ca_secret; /* user-supplied CA Secret, or NULL */
	double duration_s, renew_before_s;
	const char *key_algorithm;
	yajl_val allowed_cidrs;      /* array of strings or NULL */
	yajl_val allowed_namespaces; /* array of strings or NULL */
	int audit_enabled;
	const char *audit_output;      /* "stdout" or "file" */
	const char *encryption_key;    /* EncryptionKey name or NULL */
	yajl_val encryption_databases; /* spec.encryption.databases: array of strings,
	                                * or NULL (the design default is [default]) */
	/* spec.encryption.cipherPlugin, for Milvus images that carry a cipher
	 * plugin (open-source Milvus has none). cipher_so_go NULL: not set, and
	 * then nothing below is set and nothing of it is rendered. */
	const char *cipher_so_go, *cipher_so_cpp; /* absolute paths in the image */
	const char *cipher_role_arn;              /* IAM role to assume, or NULL */
	const char *cipher_external_id;           /* its external ID, or NULL */
	long recycle_bin_days;
};

/* 0, or -1 with err naming the field at fault. */
int cluster_view_parse(yajl_val cr, struct cluster_view *v, char *err, size_t errlen);

/* Object names: "<cluster>-<suffix>" into out; 0 or -1 if too long. */
int cluster_obj_name(const struct cluster_view *v, const char *suffix, char *out, size_t outlen);

/* The DNS names of the cluster's Service, for the server certificate:
 * name, name.ns, name.ns.svc, name.ns.svc.cluster.local. */
void cluster_dns_names(const struct cluster_view *v, char names[4][256]);

/* milvus user.yaml overrides (YAML text, caller frees): auth, TLS paths,
 * internal TLS, access log, REST on its own port. No secret ever. */
char *cluster_render_milvus_config(const struct cluster_view *v);

/* Objects (JSON strings, caller frees; NULL on out of memory). */
char *cluster_render_configmap(const struct cluster_view *v, const char *milvus_yaml);
/* pod_hash: hash of the configuration and certificates, as a pod-template
 * annotation, so any change rolls the pods. With a cipher plugin (v has
 * cipher_so_go) the pod also mounts hook.yaml from Secret <cluster>-hook at
 * /milvus/configs/hook.yaml (a subPath mount: the kubelet never refreshes
 * it), so the caller must include that Secret's rendered bytes in pod_hash
 * (and only then: without a plugin the hash, like the Deployment, stays what
 * it always was). Without a plugin the output is byte for byte unchanged. */
char *cluster_render_deployment(const struct cluster_view *v, const char *pod_hash);
char *cluster_render_service(const struct cluster_view *v);
char *cluster_render_pvc(const struct cluster_view *v);

/* NetworkPolicies: fills out[] with up to CLUSTER_NETPOLS JSON strings and
 * returns how many (or -1). operator_ns: the namespace the operator runs in;
 * kms_cidr: egress target of the KMS endpoint when encryption is on (NULL:
 * any address on 443). */
#define CLUSTER_NETPOLS 5
int cluster_render_netpols(const struct cluster_view *v, const char *operator_ns,
                           const char *kms_cidr, char *out[CLUSTER_NETPOLS]);

/* A Secret owned by the Cluster: kv holds n key/value pairs (values raw;
 * they are base64-encoded here). type NULL means Opaque. The result holds
 * secrets: free it with cluster_free_secret_json. */
char *cluster_render_secret(const struct cluster_view *v, const char *name, const char *type,
                            const char *const *keys, const char *const *vals, size_t n);
void cluster_free_secret_json(char *json);

/* The Secret <cluster>-hook (owned and labelled like the other Secrets of
 * the Cluster, see cluster_render_secret) whose data hook.yaml is the
 * cipherPlugin configuration a Milvus build with a cipher plugin reads from
 * /milvus/configs/hook.yaml:
 *
 *   cipherPlugin:
 *     soPathGo, soPathCpp        from spec.encryption.cipherPlugin
 *     defaultKmsKeyArn           kms_key_arn (the name before Milvus 2.6.1)
 *     kms:
 *       defaultKey               kms_key_arn
 *       credentials.aws.roleARN, .externalID   only when set in the spec
 *     rotationPeriodInHours      rotation_hours, left out when <= 0
 *
 * Every value is a YAML double-quoted scalar (escaped), whatever it holds.
 * kms_key_arn is the KMS key ARN of the Cluster's EncryptionKey (the plugin
 * calls AWS KMS itself, so a `local` key, which has no ARN, can not serve).
 * Returns NULL when v has no cipher plugin, kms_key_arn is NULL or empty, or
 * on out of memory. Free the result with cluster_free_secret_json. Pure. */
char *cluster_render_hook_secret(const struct cluster_view *v, const char *kms_key_arn,
                                 long rotation_hours);
/* The hook.yaml text alone (same rules; caller frees with free). */
char *cluster_render_hook_yaml(const struct cluster_view *v, const char *kms_key_arn,
                               long rotation_hours);

/* The metadata every owned object carries (labels, ownerReference), written
 * into an open yajl_gen map as "metadata": {...}. */
struct yajl_gen_t;
void cluster_gen_metadata(struct yajl_gen_t *g, const struct cluster_view *v, const char *name,
                          const char *component);

#endif

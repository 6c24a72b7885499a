#include "cluster_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "util.h"

#define DEFAULT_VERSION "v2.6.0"
#define TLS_DIR         "/milvus/tls/server"
#define CONFIG_DIR      "/milvus/configs"
#define DATA_DIR        "/var/lib/milvus"

#define CIPHER_PATH_MAX        512
#define CIPHER_ROLE_ARN_MAX    2048
#define CIPHER_EXTERNAL_ID_MAX 1224

static const char *str_or(yajl_val v, const char *def)
{
	const char *s = json_str(v);
	return s && *s ? s : def;
}

static int all_in(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* ^/[-A-Za-z0-9_./]+$, at most CIPHER_PATH_MAX (as the CRD says) */
static int plugin_path_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 2 && n <= CIPHER_PATH_MAX && s[0] == '/' && all_in(s, ALNUM "-_./");
}

/* ^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$ */
static int role_arn_ok(const char *s)
{
	const char *p;

	if (strlen(s) > CIPHER_ROLE_ARN_MAX || strncmp(s, "arn:aws", 7) != 0)
		return 0;
	p = s + 7;
	while (*p == '-') {
		const char *q = ++p;
		while (*p >= 'a' && *p <= 'z')
			p++;
		if (p == q)
			return 0;
	}
	if (strncmp(p, ":iam::", 6) != 0)
		return 0;
	p += 6;
	for (int i = 0; i < 12; i++, p++)
		if (*p < '0' || *p > '9')
			return 0;
	if (strncmp(p, ":role/", 6) != 0)
		return 0;
	p += 6;
	return *p && all_in(p, ALNUM "+=,.@_/-");
}

/* what AWS STS accepts as an ExternalId: 2-1224 of [\w+=,.@:/-] */
static int external_id_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 2 && n <= CIPHER_EXTERNAL_ID_MAX && all_in(s, ALNUM "_+=,.@:/-");
}

/* spec.encryption.cipherPlugin into v (all NULL when it is not set) */
static int parse_cipher_plugin(yajl_val spec, struct cluster_view *v, char *err, size_t errlen)
{
	yajl_val cp = json_get(spec, "encryption", "cipherPlugin", NULL);
	const char *go, *cpp, *role, *ext;

	if (!cp || cp->type == yajl_t_null)
		return 0;
	if (cp->type != yajl_t_object) {
		snprintf(err, errlen, "spec.encryption.cipherPlugin: must be an object");
		return -1;
	}
	if (!v->encryption_key || !*v->encryption_key) {
		snprintf(err, errlen,
		         "spec.encryption.cipherPlugin: needs spec.encryption.keyRef (the KMS key "
		         "the plugin encrypts with)");
		return -1;
	}
	go = json_get_str(cp, "soPathGo", NULL);
	cpp = json_get_str(cp, "soPathCpp", NULL);
	role = json_get_str(cp, "roleARN", NULL);
	ext = json_get_str(cp, "externalID", NULL);
	if (!go || !plugin_path_ok(go) || !cpp || !plugin_path_ok(cpp)) {
		snprintf(err, errlen,
		         "spec.encryption.cipherPlugin.%s: required, an absolute path inside the "
		         "image of letters, digits and -_./, at most %d characters",
		         !go || !plugin_path_ok(go) ? "soPathGo" : "soPathCpp", CIPHER_PATH_MAX);
		return -1;
	}
	if (role && *role && !role_arn_ok(role)) {
		snprintf(err, errlen,
		         "spec.encryption.cipherPlugin.roleARN: not an IAM role ARN such as "
		         "arn:aws:iam::111122223333:role/milvus-kms");
		return -1;
	}
	if (ext && *ext && !external_id_ok(ext)) {
		snprintf(err, errlen,
		         "spec.encryption.cipherPlugin.externalID: must be 2-%d characters of "
		         "letters, digits and _+=,.@:/-",
		         CIPHER_EXTERNAL_ID_MAX);
		return -1;
	}
	v->cipher_so_go = go;
	v->cipher_so_cpp = cpp;
	v->cipher_role_arn = role && *role ? role : NULL;
	v->cipher_external_id = ext && *ext ? ext : NULL;
	return 0;
}

int cluster_view_parse(yajl_val cr, struct cluster_view *v, char *err, size_t errlen)
{
	yajl_val spec = json_get(cr, "spec", NULL);
	const char *s;
	int n;

	memset(v, 0, sizeof(*v));
	v->name = json_get_str(cr, "metadata", "name", NULL);
	v->ns = json_get_str(cr, "metadata", "namespace", NULL);
	v->uid = json_get_str(cr, "metadata", "uid", NULL);
	v->generation = json_get_int(cr, 0, "metadata", "generation", NULL);
	if (!v->name || !v->ns || !v->uid) {
		snprintf(err, errlen, "metadata: name, namespace and uid are required");
		return -1;
	}
	v->version = str_or(json_get(spec, "version", NULL), DEFAULT_VERSION);
	s = json_get_str(spec, "image", NULL);
	if (s && *s)
		n = snprintf(v->image, sizeof(v->image), "%s", s);
	else
		n = snprintf(v->image, sizeof(v->image), "milvusdb/milvus:%s", v->version);
	if (n < 0 || (size_t)n >= sizeof(v->image)) {
		snprintf(err, errlen, "spec.image: longer than %zu characters",
		         sizeof(v->image) - 1);
		return -1;
	}
	s = str_or(json_get(spec, "mode", NULL), "standalone");
	if (strcmp(s, "standalone") != 0) {
		snprintf(err, errlen, "spec.mode: %s is not supported yet: use standalone", s);
		return -1;
	}
	v->replicas = (long)json_get_int(spec, 1, "replicas", NULL);
	if (v->replicas != 1) {
		snprintf(
		    err, errlen,
		    "spec.replicas: standalone Milvus runs exactly 1 replica (embedded etcd on "
		    "one volume): set replicas to 1");
		return -1;
	}
	v->storage_size = str_or(json_get(spec, "storage", "size", NULL), "10Gi");
	v->storage_class = json_get_str(spec, "storage", "storageClassName", NULL);
	v->root_secret =
	    json_get_str(spec, "authentication", "rootPasswordSecretRef", "name", NULL);
	v->root_key = str_or(json_get(spec, "authentication", "rootPasswordSecretRef", "key", NULL),
	                     "password");
	if (!v->root_secret || !*v->root_secret) {
		v->root_secret = NULL; /* the reconciler names it <name>-root */
		v->root_generated = 1;
	}
	s = str_or(json_get(spec, "tls", "mode", NULL), "server");
	if (strcmp(s, "server") == 0)
		v->tls_mode = TLS_SERVER;
	else if (strcmp(s, "mutual") == 0)
		v->tls_mode = TLS_MUTUAL;
	else if (strcmp(s, "disabled") == 0)
		v->tls_mode = TLS_DISABLED;
	else {
		snprintf(err, errlen, "spec.tls.mode: %s is not one of server, mutual, disabled",
		         s);
		return -1;
	}
	v->tls_internal = json_get_bool(spec, 1, "tls", "internal", NULL);
	v->ca_secret = json_get_str(spec, "tls", "caSecretRef", "name", NULL);
	if (v->ca_secret && !*v->ca_secret)
		v->ca_secret = NULL;
	if (parse_duration(str_or(json_get(spec, "tls", "duration", NULL), "2160h"),
	                   &v->duration_s)) {
		snprintf(err, errlen, "spec.tls.duration: not a duration such as 2160h");
		return -1;
	}
	if (parse_duration(str_or(json_get(spec, "tls", "renewBefore", NULL), "360h"),
	                   &v->renew_before_s)) {
		snprintf(err, errlen, "spec.tls.renewBefore: not a duration such as 360h");
		return -1;
	}
	if (v->duration_s < 3600 || v->duration_s > 825.0 * 86400) {
		snprintf(err, errlen,
		         "spec.tls.duration: must be between 1h and 19800h (825 days)");
		return -1;
	}
	if (v->renew_before_s >= v->duration_s) {
		snprintf(err, errlen,
		         "spec.tls.renewBefore: must be shorter than spec.tls.duration, or the "
		         "certificate would be renewed forever");
		return -1;
	}
	v->key_algorithm = str_or(json_get(spec, "tls", "keyAlgorithm", NULL), "ECDSA-P256");
	v->allowed_cidrs = json_get(spec, "network", "allowedCIDRs", NULL);
	v->allowed_namespaces = json_get(spec, "network", "allowedNamespaces", NULL);
	v->audit_enabled = json_get_bool(spec, 1, "audit", "enabled", NULL);
	v->audit_output = str_or(json_get(spec, "audit", "output", NULL), "stdout");
	v->encryption_key = json_get_str(spec, "encryption", "keyRef", "name", NULL);
	v->encryption_databases = json_get(spec, "encryption", "databases", NULL);
	if (v->encryption_databases && v->encryption_databases->type != yajl_t_array)
		v->encryption_databases = NULL;
	if (parse_cipher_plugin(spec, v, err, errlen))
		return -1;
	v->recycle_bin_days = (long)json_get_int(spec, 30, "deletion", "recycleBinDays", NULL);
	return 0;
}

int cluster_obj_name(const struct cluster_view *v, const char *suffix, char *out, size_t outlen)
{
	int n = suffix && *suffix ? snprintf(out, outlen, "%s-%s", v->name, suffix)
	                          : snprintf(out, outlen, "%s", v->name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void cluster_dns_names(const struct cluster_view *v, char names[4][256])
{
	snprintf(names[0], 256, "%s", v->name);
	snprintf(names[1], 256, "%s.%s", v->name, v->ns);
	snprintf(names[2], 256, "%s.%s.svc", v->name, v->ns);
	snprintf(names[3], 256, "%s.%s.svc.cluster.local", v->name, v->ns);
}

char *cluster_render_milvus_config(const struct cluster_view *v)
{
	struct buf b = BUF_INIT(64 * 1024);
	char names[4][256];

	cluster_dns_names(v, names);
	buf_printf(
	    &b,
	    "# Rendered by vecward for Cluster %s/%s. Do not edit: the operator restores it.\n"
	    "# Secrets are not here: they reach Milvus from Secrets only.\n",
	    v->ns, v->name);
	buf_printf(&b,
	           "common:\n"
	           "  storageType: local\n"
	           "  security:\n"
	           "    authorizationEnabled: true\n"
	           "    superUsers: root\n"
	           "    tlsMode: %d\n"
	           "    internaltlsEnabled: %s\n",
	           (int)v->tls_mode, v->tls_internal ? "true" : "false");
	buf_printf(&b, "etcd:\n"
	               "  use:\n"
	               "    embed: true\n"
	               "  data:\n"
	               "    dir: " DATA_DIR "/etcd\n"
	               "  config:\n"
	               "    path: " CONFIG_DIR "/embedEtcd.yaml\n"
	               "localStorage:\n"
	               "  path: " DATA_DIR "/data\n");
	if (v->tls_mode != TLS_DISABLED)
		buf_adds(&b, "tls:\n"
		             "  serverPemPath: " TLS_DIR "/tls.crt\n"
		             "  serverKeyPath: " TLS_DIR "/tls.key\n"
		             "  caPemPath: " TLS_DIR "/ca.crt\n");
	if (v->tls_internal)
		buf_printf(&b,
		           "internaltls:\n"
		           "  serverPemPath: " TLS_DIR "/tls.crt\n"
		           "  serverKeyPath: " TLS_DIR "/tls.key\n"
		           "  caPemPath: " TLS_DIR "/ca.crt\n"
		           "  sni: %s\n",
		           names[3]);
	buf_printf(&b,
	           "proxy:\n"
	           "  maxUserNum: %d\n"
	           "  maxRoleNum: %d\n"
	           "  http:\n"
	           "    enabled: true\n"
	           "    port: %d\n"
	           "  accessLog:\n"
	           "    enable: %s\n",
	           CLUSTER_MAX_USERS, CLUSTER_MAX_ROLES, CLUSTER_PORT_HTTP,
	           v->audit_enabled ? "true" : "false");
	if (strcmp(v->audit_output, "file") == 0)
		buf_adds(&b, "    localPath: /milvus/logs/access\n"
		             "    filename: access.log\n");
	else
		buf_adds(&b, "    filename: \"\"\n"); /* empty: to stdout */
	buf_adds(&b, "    formatters:\n"
	             "      base:\n"
	             "        format: \"[$time_now] [ACCESS] <$user_name: $user_addr> $method_name "
	             "[status: $method_status] [code: $error_code] [sdk: $sdk_version] "
	             "[msg: $error_msg] [traceID: $trace_id] [timeCost: $time_cost]\"\n");
	if (!b.ptr)
		return NULL;
	return buf_take(&b);
}

static const char *embed_etcd_yaml = "# embedded etcd of a standalone Milvus: loopback only\n"
                                     "listen-client-urls: http://127.0.0.1:2379\n"
                                     "advertise-client-urls: http://127.0.0.1:2379\n"
                                     "quota-backend-bytes: 4294967296\n"
                                     "auto-compaction-mode: revision\n"
                                     "auto-compaction-retention: '1000'\n";

static void gen_labels(yajl_gen g, const struct cluster_view *v, const char *component)
{
	jkv(g, "app.kubernetes.io/name", "milvus");
	jkv(g, "app.kubernetes.io/instance", v->name);
	if (component)
		jkv(g, "app.kubernetes.io/component", component);
	jkv(g, "app.kubernetes.io/managed-by", "vecward");
	jkv(g, "app.kubernetes.io/part-of", "vecward");
	jkv(g, "vecward.io/cluster", v->name);
}

/* the labels selecting the cluster's pods (stable: a Deployment selector is immutable) */
static void gen_selector_labels(yajl_gen g, const struct cluster_view *v)
{
	jkv(g, "app.kubernetes.io/name", "milvus");
	jkv(g, "vecward.io/cluster", v->name);
}

void cluster_gen_metadata(struct yajl_gen_t *g, const struct cluster_view *v, const char *name,
                          const char *component)
{
	jko(g, "metadata");
	jkv(g, "name", name);
	jkv(g, "namespace", v->ns);
	jko(g, "labels");
	gen_labels(g, v, component);
	jc(g);
	jka(g, "ownerReferences");
	jo(g);
	jkv(g, "apiVersion", "vecward.io/v1alpha1");
	jkv(g, "kind", "Cluster");
	jkv(g, "name", v->name);
	jkv(g, "uid", v->uid);
	jkb(g, "controller", 1);
	jkb(g, "blockOwnerDeletion", 1);
	jc(g);
	jac(g);
	jc(g);
}

static void gen_head(yajl_gen g, const char *api, const char *kind)
{
	jo(g);
	jkv(g, "apiVersion", api);
	jkv(g, "kind", kind);
}

char *cluster_render_configmap(const struct cluster_view *v, const char *milvus_yaml)
{
	yajl_gen g = jgen_new();
	char name[300];

	if (!g || cluster_obj_name(v, "config", name, sizeof(name))) {
		jgen_finish(g);
		return NULL;
	}
	gen_head(g, "v1", "ConfigMap");
	cluster_gen_metadata(g, v, name, "config");
	jko(g, "data");
	jkv(g, "embedEtcd.yaml", embed_etcd_yaml);
	jkv(g, "user.yaml", milvus_yaml);
	jc(g);
	jc(g);
	return jgen_finish(g);
}

static void gen_port(yajl_gen g, const char *name, int port)
{
	jo(g);
	jkv(g, "name", name);
	jki(g, "containerPort", port);
	jkv(g, "protocol", "TCP");
	jc(g);
}

static void gen_volume_mount(yajl_gen g, const char *name, const char *path, const char *sub,
                             int ro)
{
	jo(g);
	jkv(g, "name", name);
	jkv(g, "mountPath", path);
	if (sub)
		jkv(g, "subPath", sub);
	if (ro)
		jkb(g, "readOnly", 1);
	jc(g);
}

static void gen_probe(yajl_gen g, const char *key, int initial, int period, int failures)
{
	jko(g, key);
	jko(g, "httpGet");
	jkv(g, "path", "/healthz");
	jki(g, "port", CLUSTER_PORT_METRICS);
	jkv(g, "scheme", "HTTP");
	jc(g);
	jki(g, "initialDelaySeconds", initial);
	jki(g, "periodSeconds", period);
	jki(g, "timeoutSeconds", 5);
	jki(g, "failureThreshold", failures);
	jc(g);
}

char *cluster_render_deployment(const struct cluster_view *v, const char *pod_hash)
{
	yajl_gen g = jgen_new();
	char cm[300], tls[300], pvc[300], root[300], hook[300];

	if (!g || cluster_obj_name(v, "config", cm, sizeof(cm)) ||
	    (v->cipher_so_go && cluster_obj_name(v, "hook", hook, sizeof(hook))) ||
	    cluster_obj_name(v, "server-tls", tls, sizeof(tls)) ||
	    cluster_obj_name(v, "data", pvc, sizeof(pvc)) ||
	    (v->root_secret ? snprintf(root, sizeof(root), "%s", v->root_secret) < 0
	                    : cluster_obj_name(v, "root", root, sizeof(root)))) {
		jgen_finish(g);
		return NULL;
	}
	gen_head(g, "apps/v1", "Deployment");
	cluster_gen_metadata(g, v, v->name, "milvus");
	jko(g, "spec");
	jki(g, "replicas", v->replicas);
	jko(g, "strategy");
	jkv(g, "type", "Recreate"); /* one writer of the data volume at a time */
	jc(g);
	jko(g, "selector");
	jko(g, "matchLabels");
	gen_selector_labels(g, v);
	jc(g);
	jc(g);
	jko(g, "template");
	jko(g, "metadata");
	jko(g, "labels");
	gen_labels(g, v, "milvus");
	jc(g);
	jko(g, "annotations");
	jkv(g, "vecward.io/config-hash", pod_hash);
	jc(g);
	jc(g);
	jko(g, "spec");
	jkb(g, "automountServiceAccountToken", 0);
	jkb(g, "enableServiceLinks", 0);
	jko(g, "securityContext");
	jkb(g, "runAsNonRoot", 1);
	jki(g, "runAsUser", 1000);
	jki(g, "runAsGroup", 1000);
	jki(g, "fsGroup", 1000);
	jko(g, "seccompProfile");
	jkv(g, "type", "RuntimeDefault");
	jc(g);
	jc(g);
	jka(g, "containers");
	jo(g);
	jkv(g, "name", "milvus");
	jkv(g, "image", v->image);
	jka(g, "command");
	js(g, "milvus");
	js(g, "run");
	js(g, "standalone");
	jac(g);
	jka(g, "ports");
	gen_port(g, "grpc", CLUSTER_PORT_GRPC);
	gen_port(g, "http", CLUSTER_PORT_HTTP);
	gen_port(g, "metrics", CLUSTER_PORT_METRICS);
	jac(g);
	jka(g, "env");
	/* the root password reaches Milvus only from a Secret */
	jo(g);
	jkv(g, "name", "COMMON_SECURITY_DEFAULTROOTPASSWORD");
	jko(g, "valueFrom");
	jko(g, "secretKeyRef");
	jkv(g, "name", root);
	jkv(g, "key", v->root_key);
	jc(g);
	jc(g);
	jc(g);
	jac(g);
	jko(g, "securityContext");
	jkb(g, "allowPrivilegeEscalation", 0);
	jkb(g, "readOnlyRootFilesystem", 1);
	jkb(g, "runAsNonRoot", 1);
	jko(g, "capabilities");
	jka(g, "drop");
	js(g, "ALL");
	jac(g);
	jc(g);
	jko(g, "seccompProfile");
	jkv(g, "type", "RuntimeDefault");
	jc(g);
	jc(g);
	jko(g, "resources");
	jko(g, "requests");
	jkv(g, "cpu", "500m");
	jkv(g, "memory", "2Gi");
	jc(g);
	jko(g, "limits");
	jkv(g, "cpu", "4");
	jkv(g, "memory", "8Gi");
	jc(g);
	jc(g);
	gen_probe(g, "readinessProbe", 10, 10, 3);
	gen_probe(g, "livenessProbe", 90, 30, 5);
	jka(g, "volumeMounts");
	gen_volume_mount(g, "config", CONFIG_DIR "/user.yaml", "user.yaml", 1);
	if (v->cipher_so_go) /* next to user.yaml, where Milvus looks for it */
		gen_volume_mount(g, "hook", CONFIG_DIR "/hook.yaml", "hook.yaml", 1);
	gen_volume_mount(g, "config", CONFIG_DIR "/embedEtcd.yaml", "embedEtcd.yaml", 1);
	if (v->tls_mode != TLS_DISABLED || v->tls_internal)
		gen_volume_mount(g, "server-tls", TLS_DIR, NULL, 1);
	gen_volume_mount(g, "data", DATA_DIR, NULL, 0);
	gen_volume_mount(g, "tmp", "/tmp", NULL, 0);
	gen_volume_mount(g, "logs", "/milvus/logs", NULL, 0);
	jac(g);
	jc(g);
	jac(g); /* containers */
	jka(g, "volumes");
	jo(g);
	jkv(g, "name", "config");
	jko(g, "configMap");
	jkv(g, "name", cm);
	jc(g);
	jc(g);
	if (v->cipher_so_go) {
		/* hook.yaml of the cipher plugin: a Secret, as it names the KMS key,
		 * the role and its external ID */
		jo(g);
		jkv(g, "name", "hook");
		jko(g, "secret");
		jkv(g, "secretName", hook);
		jki(g, "defaultMode", 0440);
		jc(g);
		jc(g);
	}
	if (v->tls_mode != TLS_DISABLED || v->tls_internal) {
		/* server certificate, key and the trust bundle; never the CA key */
		jo(g);
		jkv(g, "name", "server-tls");
		jko(g, "secret");
		jkv(g, "secretName", tls);
		jki(g, "defaultMode", 0440);
		jc(g);
		jc(g);
	}
	jo(g);
	jkv(g, "name", "data");
	jko(g, "persistentVolumeClaim");
	jkv(g, "claimName", pvc);
	jc(g);
	jc(g);
	jo(g);
	jkv(g, "name", "tmp");
	jko(g, "emptyDir");
	jkv(g, "sizeLimit", "1Gi");
	jc(g);
	jc(g);
	jo(g);
	jkv(g, "name", "logs");
	jko(g, "emptyDir");
	jkv(g, "sizeLimit", "2Gi");
	jc(g);
	jc(g);
	jac(g); /* volumes */
	jc(g);  /* pod spec */
	jc(g);  /* template */
	jc(g);  /* spec */
	jc(g);
	return jgen_finish(g);
}

static void gen_svc_port(yajl_gen g, const char *name, int port)
{
	jo(g);
	jkv(g, "name", name);
	jki(g, "port", port);
	jkv(g, "targetPort", name);
	jkv(g, "protocol", "TCP");
	jc(g);
}

char *cluster_render_service(const struct cluster_view *v)
{
	yajl_gen g = jgen_new();

	if (!g)
		return NULL;
	gen_head(g, "v1", "Service");
	cluster_gen_metadata(g, v, v->name, "milvus");
	jko(g, "spec");
	jkv(g, "type", "ClusterIP");
	jko(g, "selector");
	gen_selector_labels(g, v);
	jc(g);
	jka(g, "ports");
	gen_svc_port(g, "grpc", CLUSTER_PORT_GRPC);
	gen_svc_port(g, "http", CLUSTER_PORT_HTTP);
	gen_svc_port(g, "metrics", CLUSTER_PORT_METRICS);
	jac(g);
	jc(g);
	jc(g);
	return jgen_finish(g);
}

char *cluster_render_pvc(const struct cluster_view *v)
{
	yajl_gen g = jgen_new();
	char name[300];

	if (!g || cluster_obj_name(v, "data", name, sizeof(name))) {
		jgen_finish(g);
		return NULL;
	}
	gen_head(g, "v1", "PersistentVolumeClaim");
	cluster_gen_metadata(g, v, name, "data");
	jko(g, "spec");
	jka(g, "accessModes");
	js(g, "ReadWriteOnce");
	jac(g);
	if (v->storage_class && *v->storage_class)
		jkv(g, "storageClassName", v->storage_class);
	jko(g, "resources");
	jko(g, "requests");
	jkv(g, "storage", v->storage_size);
	jc(g);
	jc(g);
	jc(g);
	jc(g);
	return jgen_finish(g);
}

static void gen_np_head(yajl_gen g, const struct cluster_view *v, const char *suffix)
{
	char name[300];

	cluster_obj_name(v, suffix, name, sizeof(name));
	gen_head(g, "networking.k8s.io/v1", "NetworkPolicy");
	cluster_gen_metadata(g, v, name, "network");
	jko(g, "spec");
	jko(g, "podSelector");
	jko(g, "matchLabels");
	gen_selector_labels(g, v);
	jc(g);
	jc(g);
}

static void gen_np_ports(yajl_gen g, const int *ports, int n, const char *proto)
{
	jka(g, "ports");
	for (int i = 0; i < n; i++) {
		jo(g);
		jkv(g, "protocol", proto);
		jki(g, "port", ports[i]);
		jc(g);
	}
	jac(g);
}

static void gen_ns_peer(yajl_gen g, const char *ns, const char *pod_app)
{
	jo(g);
	jko(g, "namespaceSelector");
	jko(g, "matchLabels");
	jkv(g, "kubernetes.io/metadata.name", ns);
	jc(g);
	jc(g);
	if (pod_app) {
		jko(g, "podSelector");
		jko(g, "matchLabels");
		jkv(g, "app.kubernetes.io/name", pod_app);
		jc(g);
		jc(g);
	}
	jc(g);
}

/* An ingress-only policy: opens its single rule's "from" list (the caller
 * writes the peers), and np_ingress_close writes the ports and finishes it. */
static yajl_gen np_ingress_open(const struct cluster_view *v, const char *suffix)
{
	yajl_gen g = jgen_new();

	if (!g)
		return NULL;
	gen_np_head(g, v, suffix);
	jka(g, "policyTypes");
	js(g, "Ingress");
	jac(g);
	jka(g, "ingress");
	jo(g);
	jka(g, "from");
	return g;
}

static char *np_ingress_close(yajl_gen g, const int *ports, int n)
{
	if (!g)
		return NULL;
	jac(g); /* from */
	gen_np_ports(g, ports, n, "TCP");
	jc(g);  /* the rule */
	jac(g); /* ingress */
	jc(g);  /* spec */
	jc(g);
	return jgen_finish(g);
}

int cluster_render_netpols(const struct cluster_view *v, const char *operator_ns,
                           const char *kms_cidr, char *out[CLUSTER_NETPOLS])
{
	static const int client_ports[] = {CLUSTER_PORT_GRPC, CLUSTER_PORT_HTTP};
	static const int http_port[] = {CLUSTER_PORT_HTTP};
	static const int metrics_port[] = {CLUSTER_PORT_METRICS};
	static const int dns_port[] = {53};
	static const int https_port[] = {443};
	yajl_gen g;
	int n = 0;

	for (int i = 0; i < CLUSTER_NETPOLS; i++)
		out[i] = NULL;

	/* 1. deny everything in and out that is not allowed below */
	g = jgen_new();
	gen_np_head(g, v, "default-deny");
	jka(g, "policyTypes");
	js(g, "Ingress");
	js(g, "Egress");
	jac(g);
	jc(g);
	jc(g);
	if (!(out[n++] = jgen_finish(g)))
		goto fail;

	/* 2. clients: pods of the cluster's own namespace, the allowlisted
	 * namespaces and CIDRs, to the gRPC and REST ports only */
	g = np_ingress_open(v, "allow-clients");
	if (g) {
		jo(g);
		jko(g, "podSelector");
		jc(g);
		jc(g);
		for (size_t i = 0; i < json_array_len(v->allowed_namespaces); i++) {
			const char *ns = json_str(json_array_at(v->allowed_namespaces, i));
			if (ns)
				gen_ns_peer(g, ns, NULL);
		}
		for (size_t i = 0; i < json_array_len(v->allowed_cidrs); i++) {
			const char *c = json_str(json_array_at(v->allowed_cidrs, i));
			if (!c)
				continue;
			jo(g);
			jko(g, "ipBlock");
			jkv(g, "cidr", c);
			jc(g);
			jc(g);
		}
	}
	if (!(out[n++] = np_ingress_close(g, client_ports, 2)))
		goto fail;

	/* 3. the operator, to the REST port (user and role management) */
	g = np_ingress_open(v, "allow-operator");
	if (g)
		gen_ns_peer(g, operator_ns, "vecward-operator");
	if (!(out[n++] = np_ingress_close(g, http_port, 1)))
		goto fail;

	/* 4. metrics: from namespaces labelled vecward.io/metrics-scraper=true */
	g = np_ingress_open(v, "allow-metrics");
	if (g) {
		jo(g);
		jko(g, "namespaceSelector");
		jko(g, "matchLabels");
		jkv(g, "vecward.io/metrics-scraper", "true");
		jc(g);
		jc(g);
		jc(g);
	}
	if (!(out[n++] = np_ingress_close(g, metrics_port, 1)))
		goto fail;

	/* 5. egress: DNS, and the KMS endpoint when encryption is on */
	g = jgen_new();
	gen_np_head(g, v, "allow-egress");
	jka(g, "policyTypes");
	js(g, "Egress");
	jac(g);
	jka(g, "egress");
	jo(g);
	jka(g, "to");
	jo(g);
	jko(g, "namespaceSelector");
	jc(g);
	jko(g, "podSelector");
	jko(g, "matchLabels");
	jkv(g, "k8s-app", "kube-dns");
	jc(g);
	jc(g);
	jc(g);
	jac(g);
	jka(g, "ports");
	jo(g);
	jkv(g, "protocol", "UDP");
	jki(g, "port", dns_port[0]);
	jc(g);
	jo(g);
	jkv(g, "protocol", "TCP");
	jki(g, "port", dns_port[0]);
	jc(g);
	jac(g);
	jc(g);
	if (v->encryption_key) {
		jo(g);
		jka(g, "to");
		jo(g);
		jko(g, "ipBlock");
		jkv(g, "cidr", kms_cidr ? kms_cidr : "0.0.0.0/0");
		jc(g);
		jc(g);
		jac(g);
		gen_np_ports(g, https_port, 1, "TCP");
		jc(g);
	}
	jac(g);
	jc(g);
	jc(g);
	if (!(out[n++] = jgen_finish(g)))
		goto fail;
	return n;
fail:
	for (int i = 0; i < CLUSTER_NETPOLS; i++) {
		free(out[i]);
		out[i] = NULL;
	}
	return -1;
}

char *cluster_render_secret(const struct cluster_view *v, const char *name, const char *type,
                            const char *const *keys, const char *const *vals, size_t n)
{
	yajl_gen g = jgen_new();
	char *out;

	if (!g)
		return NULL;
	gen_head(g, "v1", "Secret");
	cluster_gen_metadata(g, v, name, "credentials");
	jkv(g, "type", type ? type : "Opaque");
	jko(g, "data");
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT(4 * 1024 * 1024);
		if (b64_encode(vals[i], strlen(vals[i]), &b)) {
			buf_free_secret(&b);
			yajl_gen_free(g);
			return NULL;
		}
		jkv(g, keys[i], buf_str(&b));
		buf_free_secret(&b);
	}
	jc(g);
	jc(g);
	{
		/* the generator's internal buffer held the secret: copy out and wipe */
		const unsigned char *p;
		size_t len;
		out = NULL;
		if (yajl_gen_get_buf(g, &p, &len) == yajl_gen_status_ok &&
		    (out = malloc(len + 1))) {
			memcpy(out, p, len);
			out[len] = '\0';
			OPENSSL_cleanse((void *)p, len);
		}
		yajl_gen_free(g);
	}
	return out;
}

void cluster_free_secret_json(char *json)
{
	if (json) {
		OPENSSL_cleanse(json, strlen(json));
		free(json);
	}
}

/* s as a YAML double-quoted scalar: \\ and \" escaped, control characters as
 * \xNN, everything else (UTF-8 included) as is. 0, or -1 (b freed). */
static int yaml_dq(struct buf *b, const char *s)
{
	int bad = buf_addc(b, '"');

	for (; *s && !bad; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			bad = buf_addc(b, '\\') || buf_addc(b, (char)ch);
		else if (ch < 0x20 || ch == 0x7f)
			bad = buf_printf(b, "\\x%02x", ch);
		else
			bad = buf_addc(b, (char)ch);
	}
	return bad || buf_addc(b, '"') ? -1 : 0;
}

static int yaml_kv(struct buf *b, const char *indent, const char *key, const char *val)
{
	return buf_printf(b, "%s%s: ", indent, key) || yaml_dq(b, val) || buf_addc(b, '\n') ? -1
	                                                                                    : 0;
}

char *cluster_render_hook_yaml(const struct cluster_view *v, const char *kms_key_arn,
                               long rotation_hours)
{
	struct buf b = BUF_INIT(64 * 1024);
	int bad;

	if (!v->cipher_so_go || !v->cipher_so_cpp || !kms_key_arn || !*kms_key_arn)
		return NULL;
	bad = buf_printf(&b,
	                 "# Rendered by vecward for Cluster %s/%s. Do not edit: the operator "
	                 "restores it.\n"
	                 "# Read only by Milvus builds that carry a cipher plugin; open-source "
	                 "Milvus has none.\n"
	                 "cipherPlugin:\n",
	                 v->ns, v->name);
	bad = bad || yaml_kv(&b, "  ", "soPathGo", v->cipher_so_go);
	bad = bad || yaml_kv(&b, "  ", "soPathCpp", v->cipher_so_cpp);
	/* the name Milvus read before 2.6.1; later releases fall back to it only */
	bad = bad || yaml_kv(&b, "  ", "defaultKmsKeyArn", kms_key_arn);
	bad = bad || buf_adds(&b, "  kms:\n");
	bad = bad || yaml_kv(&b, "    ", "defaultKey", kms_key_arn);
	if (v->cipher_role_arn || v->cipher_external_id)
		bad = bad || buf_adds(&b, "    credentials:\n"
		                          "      aws:\n");
	if (v->cipher_role_arn)
		bad = bad || yaml_kv(&b, "        ", "roleARN", v->cipher_role_arn);
	if (v->cipher_external_id)
		bad = bad || yaml_kv(&b, "        ", "externalID", v->cipher_external_id);
	if (rotation_hours > 0)
		bad = bad || buf_printf(&b, "  rotationPeriodInHours: %ld\n", rotation_hours);
	if (bad) {
		buf_free_secret(&b);
		return NULL;
	}
	return buf_take(&b);
}

char *cluster_render_hook_secret(const struct cluster_view *v, const char *kms_key_arn,
                                 long rotation_hours)
{
	char *yaml = cluster_render_hook_yaml(v, kms_key_arn, rotation_hours);
	const char *keys[] = {"hook.yaml"};
	const char *vals[1];
	char name[300];
	char *out = NULL;

	if (!yaml)
		return NULL;
	vals[0] = yaml;
	if (cluster_obj_name(v, "hook", name, sizeof(name)) == 0)
		out = cluster_render_secret(v, name, NULL, keys, vals, 1);
	OPENSSL_cleanse(yaml, strlen(yaml));
	free(yaml);
	return out;
}

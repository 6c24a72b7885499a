#include "cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "apply.h"
#include "buf.h"
#include "cipher.h"
#include "cluster_render.h"
#include "enckey.h"
#include "jgen.h"
#include "kubelookup.h"
#include "json.h"
#include "log.h"
#include "milvusconn.h"
#include "pki.h"
#include "rbac.h"
#include "rootpw.h"
#include "rules.h"
#include "secret.h"
#include "synccache.h"
#include "util.h"

#define CA_LIFETIME_S     (10L * 365 * 86400)
#define CA_RENEW_BEFORE_S (365L * 86400)
/* After a CA rotation the server keeps its certificate from the old CA this
 * long, while clients pick up the new trust bundle; then it is re-issued. */
#define CA_ROTATION_GRACE_S  (7L * 86400)
#define NOT_READY_REQUEUE_MS 5000
#define ERROR_REQUEUE_MS     30000

enum { C_READY, C_CERTS, C_CREDS, C_NET, C_ENC, C_ROLES, C_DEGRADED, C_N };
static const char *const cond_types[C_N] = {
    "Ready",           "CertificatesReady", "CredentialsReady", "NetworkIsolated",
    "EncryptionReady", "RolesSynced",       "Degraded"};

struct cond {
	int set;
	int status; /* 1 True, 0 False */
	char reason[64];
	char message[800];
};

/* Everything one pass learns, for the status. */
struct pass {
	const char *what; /* "cluster ns/name" */
	struct cluster_view v;
	yajl_val obj;
	time_t now;
	struct cond c[C_N];
	char ca_not_after[32], not_after[32], renewal[32], serial[64];
	char bundle_digest[MCONN_BUNDLE_DIGEST_LEN + 1]; /* of the bundle written this pass */
	long long renew_at; /* unix time the server certificate is due */
	long long ca_renew_at;
	long long ca_not_before;
	long ready_replicas;
	struct rbac_outcome rbac;
	int rbac_pending; /* roles not in sync yet: come back soon */
	struct rootpw_outcome rootpw;
	int rootpw_failed;
	int enc_pending;   /* encryption is asked for and not ready */
	char key_arn[300]; /* the EncryptionKey's KMS key ARN (cipher plugin) */
	char key_provider[16];
	long key_rot_h;
	int deployment_available;
	char root_secret[300];
	int failed; /* a step failed: retry */
};

static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	p->c[i].set = 1;
	p->c[i].status = status;
	snprintf(p->c[i].reason, sizeof(p->c[i].reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(p->c[i].message, sizeof(p->c[i].message), fmt, ap);
	va_end(ap);
}

static void kerr(struct pass *p, int cond, const char *step, const struct kube_error *err)
{
	char ebuf[700];

	kube_strerror(err, ebuf, sizeof(ebuf));
	log_warnx(p->what, "%s: %s", step, ebuf);
	cond_set(p, cond, 0, "APIError", "%s failed: %.300s", step, ebuf);
	p->failed = 1;
}

static void rfc3339(time_t t, char *out, size_t n)
{
	if (pki_time_rfc3339(t, out, n))
		out[0] = '\0';
}

/* ---- finalizer -------------------------------------------------------------- */

static int has_finalizer(yajl_val obj)
{
	return apply_has_finalizer(obj, CLUSTER_FINALIZER);
}

static int set_finalizer(struct kube_client *kc, struct pass *p, int want)
{
	struct kube_error err;

	if (apply_set_finalizer(kc, &KUBE_VW_CLUSTER, p->obj, CLUSTER_FINALIZER, want, &err)) {
		if (err.code && !kube_is_conflict(&err) && !kube_is_not_found(&err))
			kerr(p, C_READY, want ? "add finalizer" : "remove finalizer", &err);
		return -1;
	}
	return 0;
}

/* Create a Secret of generated material once (POST, never apply), so no retry,
 * restart or second worker can replace it; *sec gets what is stored. */
static int create_generated(struct kube_client *kc, struct pass *p, int cond, const char *name,
                            const char *type, const char *const *keys, const char *const *vals,
                            size_t n, const char *reason, const char *note, yajl_val *sec)
{
	struct kube_error err;
	char *json = cluster_render_secret(&p->v, name, type, keys, vals, n);
	int created = 0, r;

	if (!json) {
		p->failed = 1;
		return -1;
	}
	r = apply_create_once(kc, &KUBE_SECRET, p->v.ns, json, &created, sec, &err);
	cluster_free_secret_json(json);
	if (r) {
		char step[400];
		snprintf(step, sizeof(step), "create Secret %s", name);
		kerr(p, cond, step, &err);
		return -1;
	}
	if (created) {
		log_info(p->what, "generated Secret %s", name);
		event_emit(kc, p->obj, "Normal", reason, "Generate", note);
	}
	return 0;
}

/* ---- CA ------------------------------------------------------------------ */

/* Load or create the CA; fills ca (cert and key PEM). 0 or -1. */
static int ensure_ca(struct kube_client *kc, struct pass *p, struct pki_pair *ca)
{
	struct cluster_view *v = &p->v;
	struct kube_error err;
	yajl_val sec = NULL;
	char name[300], ebuf[300];
	int r, rc = -1;

	if (v->ca_secret) {
		r = apply_get(kc, &KUBE_SECRET, v->ns, v->ca_secret, &sec, &err);
		if (r == 1) {
			cond_set(
			    p, C_CERTS, 0, "CASecretNotFound",
			    "spec.tls.caSecretRef: Secret %s not found in %s: create it with "
			    "ca.crt and ca.key, or remove caSecretRef to let vecward manage the CA",
			    v->ca_secret, v->ns);
			goto out;
		}
		if (r < 0) {
			kerr(p, C_CERTS, "read the CA secret", &err);
			goto out;
		}
	} else {
		cluster_obj_name(v, "ca", name, sizeof(name));
		r = apply_get(kc, &KUBE_SECRET, v->ns, name, &sec, &err);
		if (r < 0) {
			kerr(p, C_CERTS, "read the CA secret", &err);
			goto out;
		}
		if (r == 1) {
			struct pki_pair fresh = {0};
			char cn[200];
			snprintf(cn, sizeof(cn), "vecward %s/%s CA", v->ns, v->name);
			if (pki_ca_create(cn, PKI_KEY_ECDSA_P256, CA_LIFETIME_S, p->now, &fresh,
			                  ebuf, sizeof(ebuf))) {
				cond_set(p, C_CERTS, 0, "CAGenerationFailed", "creating the CA: %s",
				         ebuf);
				p->failed = 1;
				goto out;
			}
			const char *keys[] = {"ca.crt", "ca.key"};
			const char *vals[] = {fresh.cert_pem, fresh.key_pem};
			r = create_generated(
			    kc, p, C_CERTS, name, NULL, keys, vals, 2, "CAGenerated",
			    "vecward generated the cluster's certificate authority", &sec);
			pki_pair_free(&fresh);
			if (r)
				goto out;
		}
	}
	ca->cert_pem = secret_data_str(sec, "ca.crt", PKI_PEM_MAX);
	ca->key_pem = secret_data_str(sec, "ca.key", PKI_PEM_MAX);
	if (!ca->cert_pem || !ca->key_pem) {
		cond_set(p, C_CERTS, 0, "CASecretIncomplete",
		         "Secret %s must hold ca.crt and ca.key (PEM)",
		         v->ca_secret ? v->ca_secret : name);
		goto out;
	}
	r = pki_key_matches(ca->cert_pem, ca->key_pem, ebuf, sizeof(ebuf));
	if (r != 1) {
		cond_set(p, C_CERTS, 0, "CASecretInvalid", "Secret %s: %s",
		         v->ca_secret ? v->ca_secret : name,
		         r == 0 ? "ca.key does not belong to ca.crt" : ebuf);
		goto out;
	}
	{
		time_t due = 0;
		struct pki_cert_info info;
		enum pki_renew_reason why =
		    pki_ca_renewal_due(ca->cert_pem, p->now, CA_RENEW_BEFORE_S, &due);
		if (why == PKI_RENEW_UNPARSABLE) {
			cond_set(p, C_CERTS, 0, "CASecretInvalid",
			         "Secret %s: ca.crt is not a CA certificate",
			         v->ca_secret ? v->ca_secret : name);
			goto out;
		}
		if (why == PKI_RENEW_EXPIRING && !v->ca_secret) {
			/* rotate: a new CA; the old one stays in the trust bundle */
			struct pki_pair fresh = {0};
			char cn[200], *json;
			struct buf path = BUF_INIT(2048);
			yajl_val tmp = NULL;
			snprintf(cn, sizeof(cn), "vecward %s/%s CA", v->ns, v->name);
			if (pki_ca_create(cn, PKI_KEY_ECDSA_P256, CA_LIFETIME_S, p->now, &fresh,
			                  ebuf, sizeof(ebuf)) == 0) {
				const char *keys[] = {"ca.crt", "ca.key"};
				const char *vals[] = {fresh.cert_pem, fresh.key_pem};
				json = cluster_render_secret(v, name, NULL, keys, vals, 2);
				kube_path(&path, &KUBE_SECRET, v->ns, name, NULL);
				apply_count_write();
				if (json && kube_apply(kc, path.ptr, json, 1, &tmp, &err) == 0) {
					event_emit(
					    kc, p->obj, "Normal", "CARotated", "Rotate",
					    "the CA is near its end of life: a new CA signs from "
					    "now on; the old one stays trusted until every "
					    "certificate is re-issued");
					pki_secret_free(ca->cert_pem);
					pki_secret_free(ca->key_pem);
					ca->cert_pem = fresh.cert_pem;
					ca->key_pem = fresh.key_pem;
					fresh.cert_pem = fresh.key_pem = NULL;
				} else if (json) {
					kerr(p, C_CERTS, "rotate the CA", &err);
				}
				cluster_free_secret_json(json);
				yajl_tree_free(tmp);
				buf_free(&path);
			}
			pki_pair_free(&fresh);
			pki_ca_renewal_due(ca->cert_pem, p->now, CA_RENEW_BEFORE_S, &due);
		}
		p->ca_renew_at = due;
		if (pki_cert_info(ca->cert_pem, &info, NULL, 0) == 0) {
			p->ca_not_before = info.not_before;
			rfc3339(info.not_after, p->ca_not_after, sizeof(p->ca_not_after));
			pki_cert_info_free(&info);
		}
	}
	rc = 0;
out:
	json_free_secret(sec);
	return rc;
}

/* <name>-ca-cert: the trust bundle (current CA first, older CAs kept). */
static int ensure_bundle(struct kube_client *kc, struct pass *p, const char *ca_pem, char **bundle)
{
	struct kube_error err;
	enum apply_outcome oc;
	yajl_val sec = NULL;
	char name[300], ebuf[300], *prev = NULL, *json = NULL;
	int r, rc = -1;

	cluster_obj_name(&p->v, "ca-cert", name, sizeof(name));
	r = apply_get(kc, &KUBE_SECRET, p->v.ns, name, &sec, &err);
	if (r < 0) {
		kerr(p, C_CERTS, "read the CA bundle", &err);
		goto out;
	}
	if (r == 0)
		prev = secret_data_str(sec, "ca.crt", PKI_PEM_MAX);
	if (pki_bundle_build(ca_pem, prev, p->now, bundle, ebuf, sizeof(ebuf))) {
		cond_set(p, C_CERTS, 0, "CABundleFailed", "building the trust bundle: %s", ebuf);
		p->failed = 1;
		goto out;
	}
	{
		const char *keys[] = {"ca.crt"};
		const char *vals[] = {*bundle};
		json = cluster_render_secret(&p->v, name, NULL, keys, vals, 1);
	}
	if (!json || apply_ensure_known(kc, &KUBE_SECRET, json, 1, sec, &oc, &err)) {
		if (json)
			kerr(p, C_CERTS, "write the CA bundle", &err);
		goto out;
	}
	rc = 0;
out:
	free(json);
	free(prev);
	yajl_tree_free(sec);
	return rc;
}

/* <name>-server-tls: issued by the CA, renewed renewBefore its end. */
static int ensure_server_cert(struct kube_client *kc, struct pass *p, const struct pki_pair *ca,
                              const char *bundle, char **cert_out)
{
	struct cluster_view *v = &p->v;
	struct kube_error err;
	enum apply_outcome oc;
	enum pki_key_alg alg;
	enum pki_renew_reason why;
	struct pki_pair leaf = {0};
	yajl_val sec = NULL;
	char name[300], names[4][256], ebuf[300];
	const char *dns[5];
	char *json = NULL;
	time_t due = 0;
	int r, rc = -1;

	cluster_obj_name(v, "server-tls", name, sizeof(name));
	cluster_dns_names(v, names);
	for (int i = 0; i < 4; i++)
		dns[i] = names[i];
	dns[4] = "localhost"; /* in-pod components reach each other locally */
	if (pki_key_alg_parse(v->key_algorithm, &alg)) {
		cond_set(p, C_CERTS, 0, "InvalidKeyAlgorithm",
		         "spec.tls.keyAlgorithm: %s is not ECDSA-P256, RSA-2048 or RSA-4096",
		         v->key_algorithm);
		goto out;
	}
	r = apply_get(kc, &KUBE_SECRET, v->ns, name, &sec, &err);
	if (r < 0) {
		kerr(p, C_CERTS, "read the server certificate", &err);
		goto out;
	}
	leaf.cert_pem = r == 0 ? secret_data_str(sec, "tls.crt", PKI_PEM_MAX) : NULL;
	leaf.key_pem = r == 0 ? secret_data_str(sec, "tls.key", PKI_PEM_MAX) : NULL;
	{
		struct pki_renew_want want = {
		    leaf.key_pem, dns, 5, NULL, 0, PKI_USAGE_BOTH, alg, (time_t)v->renew_before_s};
		why = pki_renewal_due(leaf.cert_pem, ca->cert_pem, &want, p->now, &due);
	}
	if (why == PKI_RENEW_ISSUER_CHANGED && leaf.cert_pem && p->ca_not_before &&
	    p->now - p->ca_not_before < CA_ROTATION_GRACE_S &&
	    pki_verify(leaf.cert_pem, bundle, p->now, PKI_PURPOSE_SERVER, NULL, NULL, 0) == 0) {
		/* the CA was just rotated: clients that still trust only the old CA
		 * would lose the server if it switched now; keep the old-CA leaf
		 * (still in the bundle) through the grace period */
		why = PKI_RENEW_NONE;
		due = (time_t)(p->ca_not_before + CA_ROTATION_GRACE_S);
		goto keep;
	}
	if (why != PKI_RENEW_NONE) {
		struct pki_leaf_req req = {
		    names[3], dns, 5, NULL, 0, PKI_USAGE_BOTH, alg, (time_t)v->duration_s};
		pki_pair_free(&leaf);
		if (pki_issue(ca->cert_pem, ca->key_pem, &req, p->now, &leaf, ebuf, sizeof(ebuf))) {
			cond_set(p, C_CERTS, 0, "IssueFailed", "issuing the server certificate: %s",
			         ebuf);
			p->failed = 1;
			goto out;
		}
		{
			struct pki_renew_want want = {leaf.key_pem,
			                              dns,
			                              5,
			                              NULL,
			                              0,
			                              PKI_USAGE_BOTH,
			                              alg,
			                              (time_t)v->renew_before_s};
			pki_renewal_due(leaf.cert_pem, ca->cert_pem, &want, p->now, &due);
		}
	}
keep : {
	const char *keys[] = {"tls.crt", "tls.key", "ca.crt"};
	const char *vals[] = {leaf.cert_pem, leaf.key_pem, bundle};
	json = cluster_render_secret(v, name, "kubernetes.io/tls", keys, vals, 3);
}
	if (!json || apply_ensure_known(kc, &KUBE_SECRET, json, 1, sec, &oc, &err)) {
		if (json)
			kerr(p, C_CERTS, "write the server certificate", &err);
		goto out;
	}
	if (why != PKI_RENEW_NONE) {
		char note[1400];
		snprintf(note, sizeof(note), "server certificate %s (%s): valid for %s, %s, %s, %s",
		         why == PKI_RENEW_MISSING ? "issued" : "re-issued",
		         pki_renew_reason_name(why), names[0], names[1], names[2], names[3]);
		log_info(p->what, "%s", note);
		event_emit(kc, p->obj, "Normal",
		           why == PKI_RENEW_MISSING ? "CertificateIssued" : "CertificateRenewed",
		           "Issue", note);
	}
	{
		struct pki_cert_info info;
		if (pki_cert_info(leaf.cert_pem, &info, NULL, 0) == 0) {
			rfc3339(info.not_after, p->not_after, sizeof(p->not_after));
			snprintf(p->serial, sizeof(p->serial), "%s", info.serial);
			pki_cert_info_free(&info);
		}
		rfc3339(due, p->renewal, sizeof(p->renewal));
		p->renew_at = due;
	}
	*cert_out = leaf.cert_pem;
	leaf.cert_pem = NULL;
	rc = 0;
out:
	pki_pair_free(&leaf);
	cluster_free_secret_json(json);
	json_free_secret(sec);
	return rc;
}

/* ---- credentials ------------------------------------------------------------ */

static int ensure_root(struct kube_client *kc, struct pass *p)
{
	struct cluster_view *v = &p->v;
	struct kube_error err;
	yajl_val sec = NULL;
	char *pw = NULL;
	int r, rc = -1;

	if (v->root_generated) {
		char password[SECRET_PASSWORD_LEN + 1];
		cluster_obj_name(v, "root", p->root_secret, sizeof(p->root_secret));
		r = apply_get(kc, &KUBE_SECRET, v->ns, p->root_secret, &sec, &err);
		if (r < 0) {
			kerr(p, C_CREDS, "read the root credentials", &err);
			goto out;
		}
		if (r == 1) {
			if (secret_password(password, SECRET_PASSWORD_LEN)) {
				cond_set(p, C_CREDS, 0, "RandomFailed", "the CSPRNG failed");
				p->failed = 1;
				goto out;
			}
			const char *keys[] = {"username", "password"};
			const char *vals[] = {"root", password};
			r = create_generated(
			    kc, p, C_CREDS, p->root_secret, "kubernetes.io/basic-auth", keys, vals,
			    2, "RootPasswordGenerated",
			    "vecward generated a 32-character root password into a "
			    "Secret; it is never shown anywhere else",
			    &sec);
			OPENSSL_cleanse(password, sizeof(password));
			if (r)
				goto out;
		}
	} else {
		snprintf(p->root_secret, sizeof(p->root_secret), "%s", v->root_secret);
		r = apply_get(kc, &KUBE_SECRET, v->ns, v->root_secret, &sec, &err);
		if (r < 0) {
			kerr(p, C_CREDS, "read the root password secret", &err);
			goto out;
		}
		if (r == 1) {
			cond_set(
			    p, C_CREDS, 0, "RootSecretNotFound",
			    "spec.authentication.rootPasswordSecretRef: Secret %s not found in %s: "
			    "create it, or remove the reference to let vecward generate one",
			    v->root_secret, v->ns);
			goto out;
		}
	}
	pw = secret_data_str(sec, v->root_generated ? "password" : v->root_key, PKI_PEM_MAX);
	if (!pw) {
		cond_set(p, C_CREDS, 0, "RootSecretIncomplete", "Secret %s has no key %s",
		         p->root_secret, v->root_generated ? "password" : v->root_key);
		goto out;
	}
	{
		size_t n = strlen(pw);
		if (n < 12 || n > 72 || secret_class_count(pw) < 3) {
			cond_set(
			    p, C_CREDS, 0, "WeakRootPassword",
			    "the root password in Secret %s must have 12-72 characters from at "
			    "least 3 of: lower case, upper case, digits, symbols",
			    p->root_secret);
			goto out;
		}
	}
	cond_set(p, C_CREDS, 1, "CredentialsReady", "root credentials are in Secret %s",
	         p->root_secret);
	rc = 0;
out:
	secret_str_free(pw);
	json_free_secret(sec);
	return rc;
}

/* ---- workload and network ------------------------------------------------------ */

static void hash_hex(const char *const *parts, size_t n, char out[33])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; i < n; i++) {
		EVP_DigestUpdate(ctx, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) : 0);
		EVP_DigestUpdate(ctx, "\0", 1);
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int ensure_oc(struct kube_client *kc, struct pass *p, const struct kube_kind *kind,
                     char *json, const char *step, int cond, yajl_val *live,
                     enum apply_outcome *out)
{
	struct kube_error err;
	enum apply_outcome oc = APPLY_UNCHANGED;
	int rc;

	if (!json) {
		p->failed = 1;
		return -1;
	}
	rc = apply_ensure(kc, kind, json, 1, &oc, live, &err);
	free(json);
	if (rc) {
		kerr(p, cond, step, &err);
		return -1;
	}
	if (oc != APPLY_UNCHANGED)
		log_info(p->what, "%s %s", oc == APPLY_CREATED ? "created" : "updated", step);
	if (out)
		*out = oc;
	return 0;
}

static int ensure(struct kube_client *kc, struct pass *p, const struct kube_kind *kind, char *json,
                  const char *step, int cond, yajl_val *live)
{
	return ensure_oc(kc, p, kind, json, step, cond, live, NULL);
}

static int ensure_workload(struct kube_client *kc, struct pass *p, const char *server_cert,
                           const char *bundle, const char *operator_ns)
{
	struct cluster_view *v = &p->v;
	char *yaml = cluster_render_milvus_config(v);
	char *np[CLUSTER_NETPOLS];
	char hash[33];
	char *hook = NULL;
	yajl_val dep = NULL;
	int n, rc = -1;

	if (!yaml) {
		p->failed = 1;
		return -1;
	}
	if (ensure(kc, p, &KUBE_CONFIGMAP, cluster_render_configmap(v, yaml),
	           "configmap "
	           "config",
	           C_READY, NULL))
		goto out;
	if (ensure(kc, p, &KUBE_PVC, cluster_render_pvc(v), "persistentvolumeclaim", C_READY,
	           NULL) ||
	    ensure(kc, p, &KUBE_SERVICE, cluster_render_service(v), "service", C_READY, NULL))
		goto out;
	n = cluster_render_netpols(v, operator_ns, NULL, np);
	if (n < 0) {
		p->failed = 1;
		goto out;
	}
	{
		int changed = 0;
		for (int i = 0; i < n; i++) {
			enum apply_outcome oc = APPLY_UNCHANGED;
			if (ensure_oc(kc, p, &KUBE_NETWORKPOLICY, np[i], "networkpolicy", C_NET,
			              NULL, &oc)) {
				for (int j = i + 1; j < n; j++)
					free(np[j]);
				goto out;
			}
			changed |= oc != APPLY_UNCHANGED;
		}
		if (changed)
			event_emit(kc, p->obj, "Normal", "NetworkPolicyApplied", "Apply",
			           "default-deny NetworkPolicies applied: only the allowlist, the "
			           "namespace and the operator reach the cluster");
	}
	cond_set(p, C_NET, 1, "DefaultDeny",
	         "ingress and egress denied except: clients from the namespace, %zu namespace(s) "
	         "and %zu CIDR(s) to %d/%d; the operator to %d; DNS",
	         json_array_len(v->allowed_namespaces), json_array_len(v->allowed_cidrs),
	         CLUSTER_PORT_GRPC, CLUSTER_PORT_HTTP, CLUSTER_PORT_HTTP);
	if (v->cipher_so_go) {
		/* hook.yaml for the cipher plugin; without a KMS key ARN yet the pod
		 * waits for the Secret (EncryptionReady says why) */
		hook =
		    p->key_arn[0] ? cluster_render_hook_secret(v, p->key_arn, p->key_rot_h) : NULL;
		if (hook) {
			struct kube_error err;
			enum apply_outcome oc = APPLY_UNCHANGED;
			if (apply_ensure(kc, &KUBE_SECRET, hook, 1, &oc, NULL, &err)) {
				kerr(p, C_READY, "secret hook", &err);
				goto out;
			}
			if (oc != APPLY_UNCHANGED)
				log_info(p->what, "hook.yaml for the cipher plugin %s",
				         oc == APPLY_CREATED ? "created" : "updated");
		}
	}
	{
		/* 4 parts without a plugin: the hash, and so the pods, stay as they were */
		const char *parts[] = {yaml, server_cert, bundle, p->root_secret, hook};
		hash_hex(parts, hook ? 5 : 4, hash);
	}
	if (ensure(kc, p, &KUBE_DEPLOYMENT, cluster_render_deployment(v, hash), "deployment",
	           C_READY, &dep))
		goto out;
	p->ready_replicas = (long)json_get_int(dep, 0, "status", "readyReplicas", NULL);
	{
		long long avail = json_get_int(dep, 0, "status", "availableReplicas", NULL);
		long long ogen = json_get_int(dep, 0, "status", "observedGeneration", NULL);
		long long gen = json_get_int(dep, 0, "metadata", "generation", NULL);
		p->deployment_available = avail >= 1 && ogen >= gen;
	}
	rc = 0;
out:
	yajl_tree_free(dep);
	cluster_free_secret_json(hook);
	free(yaml);
	return rc;
}

/* ---- status --------------------------------------------------------------------- */

static int write_status(struct kube_client *kc, struct pass *p)
{
	struct cluster_view *v = &p->v;
	struct kube_error err;
	char now[32], ep[400], rest[400], allow[600];
	yajl_gen g;
	char *body = NULL;
	int r, rc = -1;

	rfc3339(p->now, now, sizeof(now));
	snprintf(ep, sizeof(ep), "%s.%s.svc:%d", v->name, v->ns, CLUSTER_PORT_GRPC);
	snprintf(rest, sizeof(rest), "%s://%s.%s.svc:%d", v->tls_mode ? "https" : "http", v->name,
	         v->ns, CLUSTER_PORT_HTTP);
	{
		struct buf a = BUF_INIT(sizeof(allow) - 1);
		buf_adds(&a, "namespace");
		for (size_t i = 0; i < json_array_len(v->allowed_namespaces); i++)
			buf_printf(&a, ",ns:%s", json_str(json_array_at(v->allowed_namespaces, i)));
		for (size_t i = 0; i < json_array_len(v->allowed_cidrs); i++)
			buf_printf(&a, ",%s", json_str(json_array_at(v->allowed_cidrs, i)));
		snprintf(allow, sizeof(allow), "%s", a.ptr ? a.ptr : "(too long to show)");
		buf_free(&a);
	}
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "vecward.io/v1alpha1");
	jkv(g, "kind", "Cluster");
	jko(g, "metadata");
	jkv(g, "name", v->name);
	jkv(g, "namespace", v->ns);
	jc(g);
	jko(g, "status");
	jki(g, "observedGeneration", v->generation);
	jkv(g, "endpoint", ep);
	jkv(g, "restEndpoint", rest);
	jkv(g, "version", v->version);
	jkv(g, "image", v->image);
	jki(g, "readyReplicas", p->ready_replicas);
	{
		char noted[256];
		const char *req = p->rootpw.handled
		                      ? p->rootpw.handled
		                      : rootpw_handled(p->obj, v, noted, sizeof(noted));
		if (req)
			jkv(g, "rootPasswordRotationRequest", req);
	}
	if (p->not_after[0] || p->ca_not_after[0] || p->bundle_digest[0]) {
		jko(g, "certificate");
		if (p->not_after[0])
			jkv(g, "notAfter", p->not_after);
		if (p->renewal[0])
			jkv(g, "renewalTime", p->renewal);
		if (p->ca_not_after[0])
			jkv(g, "caNotAfter", p->ca_not_after);
		if (p->serial[0])
			jkv(g, "serialNumber", p->serial);
		/* what Users compare the ca.crt they hold with (milvusconn.h) */
		if (p->bundle_digest[0])
			jkv(g, "trustBundleSHA256", p->bundle_digest);
		jc(g);
	} else if (v->tls_mode != TLS_DISABLED && json_get(p->obj, "status", "certificate", NULL)) {
		/* a pass that stopped before the certificates says them as before:
		 * left out of the apply they would be removed, and Users would take
		 * the missing digest for a changed CA */
		static const char *const keep[] = {"notAfter", "renewalTime", "caNotAfter",
		                                   "serialNumber", "trustBundleSHA256"};
		jko(g, "certificate");
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			const char *val =
			    json_get_str(p->obj, "status", "certificate", keep[i], NULL);
			if (val)
				jkv(g, keep[i], val);
		}
		jc(g);
	}
	{
		char n1[300], n2[300];
		cluster_obj_name(v, "ca-cert", n1, sizeof(n1));
		cluster_obj_name(v, "server-tls", n2, sizeof(n2));
		jko(g, "secrets");
		jkv(g, "caCertificate", n1);
		if (p->root_secret[0])
			jkv(g, "rootCredentials", p->root_secret);
		jkv(g, "serverTLS", n2);
		jc(g);
	}
	if (p->c[C_ROLES].set || json_get(p->obj, "status", "rbac", NULL)) {
		/* which roles are vecward's; kept when the pass could not sync or
		 * stopped before (applied server-side: left out, they would be
		 * removed, and roles vecward made would no longer be known as its) */
		yajl_val prev = json_get(p->obj, "status", "rbac", NULL);
		jko(g, "rbac");
		jka(g, "managedRoles");
		if (p->rbac.reason[0]) {
			for (size_t i = 0; i < p->rbac.nmanaged; i++)
				js(g, p->rbac.managed[i]);
		} else {
			char noted[RBAC_MAX_ROLES * 256];
			const char *names[RBAC_MAX_ROLES];
			size_t n = rbac_managed_on_record(p->obj, noted, sizeof(noted), names,
			                                  RBAC_MAX_ROLES);
			for (size_t i = 0; i < n; i++)
				js(g, names[i]);
		}
		jac(g);
		jka(g, "databases");
		if (p->rbac.reason[0]) {
			for (size_t i = 0; i < p->rbac.ndbs; i++)
				js(g, p->rbac.dbs[i]);
		} else {
			yajl_val m = json_get(prev, "databases", NULL);
			for (size_t i = 0; i < json_array_len(m); i++)
				js(g, json_str(json_array_at(m, i)));
		}
		jac(g);
		jc(g);
	}
	jko(g, "security");
	jkv(g, "tlsMode",
	    v->tls_mode == TLS_MUTUAL   ? "mutual"
	    : v->tls_mode == TLS_SERVER ? "server"
	                                : "disabled");
	jkb(g, "internalTLS", v->tls_internal);
	jkb(g, "authentication", 1);
	/* the provider (CRD: none, aws-kms or local), not the key's name */
	jkv(g, "encryption",
	    !v->encryption_key   ? "none"
	    : p->key_provider[0] ? p->key_provider
	                         : "unknown");
	jkb(g, "networkIsolated", p->c[C_NET].set && p->c[C_NET].status);
	jkv(g, "allowlist", allow);
	jkb(g, "audit", v->audit_enabled);
	jki(g, "recycleBinDays", v->recycle_bin_days);
	jc(g);
	jka(g, "conditions");
	for (int i = 0; i < C_N; i++)
		if (p->c[i].set)
			apply_gen_condition(g, p->obj, cond_types[i], p->c[i].status,
			                    p->c[i].reason, p->c[i].message, v->generation, now);
	jac(g);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	r = apply_status_if_changed(kc, &KUBE_VW_CLUSTER, p->obj, body, &err);
	if (r < 0 && err.code && !kube_is_not_found(&err)) {
		char ebuf[700];
		log_warnx(p->what, "status: %s", kube_strerror(&err, ebuf, sizeof(ebuf)));
	}
	rc = r < 0 ? -1 : 0;
	free(body);
	return rc;
}

/* ---- deletion and the recycle bin ---------------------------------------------------- */

/* Detach obj from the Cluster and label it with its purge time. */
static int recycle_one(struct kube_client *kc, struct pass *p, const struct kube_kind *kind,
                       const char *name, long long purge_at)
{
	struct buf path = BUF_INIT(2048);
	struct kube_error err;
	yajl_val live = NULL;
	char body[1024];
	int r, rc = -1;

	r = apply_get(kc, kind, p->v.ns, name, &live, &err);
	if (r == 1)
		return 0; /* nothing to keep */
	if (r < 0)
		goto fail;
	/* a merge patch: drop the owner references (so garbage collection keeps
	 * it) and label it; resourceVersion guards against a concurrent change */
	snprintf(body, sizeof(body),
	         "{\"metadata\":{\"resourceVersion\":\"%s\",\"ownerReferences\":null,"
	         "\"labels\":{\"" CLUSTER_PURGE_LABEL
	         "\":\"%lld\",\"vecward.io/recycled-uid\":\"%s\"}}}",
	         json_get_str(live, "metadata", "resourceVersion", NULL), purge_at, p->v.uid);
	if (kube_path(&path, kind, p->v.ns, name, NULL))
		goto out;
	apply_count_write();
	if (kube_merge_patch(kc, path.ptr, body, NULL, &err))
		goto fail;
	log_info(p->what, "kept %s %s in the recycle bin until %lld", kind->kind, name, purge_at);
	rc = 0;
	goto out;
fail:
	kerr(p, C_READY, "recycle", &err);
out:
	json_free_secret(live);
	buf_free(&path);
	return rc;
}

static enum reconcile_result finalize(struct kube_client *kc, struct pass *p,
                                      const struct cluster_reconciler *cr)
{
	char n[300];
	long long purge_at;

	if (!has_finalizer(p->obj))
		return RECONCILE_DONE;
	if (p->v.recycle_bin_days > 0) {
		purge_at = (long long)p->now + p->v.recycle_bin_days * cr->recycle_day_s;
		/* the data and the key material outlive the Cluster for a while */
		cluster_obj_name(&p->v, "data", n, sizeof(n));
		if (recycle_one(kc, p, &KUBE_PVC, n, purge_at))
			return RECONCILE_RETRY;
		if (p->v.root_generated) {
			cluster_obj_name(&p->v, "root", n, sizeof(n));
			if (recycle_one(kc, p, &KUBE_SECRET, n, purge_at))
				return RECONCILE_RETRY;
		}
		if (!p->v.ca_secret) {
			cluster_obj_name(&p->v, "ca", n, sizeof(n));
			if (recycle_one(kc, p, &KUBE_SECRET, n, purge_at))
				return RECONCILE_RETRY;
		}
		if (p->v.encryption_key) {
			/* the data on the volume is only readable with its zone keys */
			cluster_obj_name(&p->v, "zone-keys", n, sizeof(n));
			if (recycle_one(kc, p, &KUBE_SECRET, n, purge_at))
				return RECONCILE_RETRY;
		}
		event_emit(kc, p->obj, "Normal", "RecycleBin", "Delete",
		           "data volume and key material kept in the recycle bin; re-create the "
		           "Cluster with the same name before the purge time to get them back");
	}
	if (set_finalizer(kc, p, 0))
		return RECONCILE_RETRY;
	log_info(p->what, "finalized");
	return RECONCILE_DONE;
}

/* An object named after this Cluster, from before it existed: either in the
 * recycle bin (the labels recycle_one() put on it), and then it is adopted
 * again; or left by an earlier Cluster of this name deleted without the
 * recycle bin (its controller is that Cluster), which the garbage collector
 * deletes once it notices. Such a leftover is deleted now, that very object
 * (uid precondition), and never used: used, the collector would take it from
 * under this Cluster later (its CA, root password or zone keys) and it would
 * hand the deleted Cluster's data and keys to this one. from_bin 0: only
 * that (the object is not one the recycle bin keeps for this Cluster). 0, or
 * -1 when the leftover could not be deleted (retry). */
static int adopt(struct kube_client *kc, struct pass *p, const struct kube_kind *kind,
                 const char *name, int from_bin)
{
	struct buf path = BUF_INIT(2048);
	struct kube_error err;
	yajl_val live = NULL;
	char body[1024];
	int rc = 0;

	if (apply_get(kc, kind, p->v.ns, name, &live, &err) != 0)
		goto out;
	if (apply_owned_by_earlier(live, "Cluster", p->v.name, p->v.uid)) {
		if (kube_path(&path, kind, p->v.ns, name, NULL))
			goto out;
		apply_count_write();
		if (kube_delete(kc, path.ptr, json_get_str(live, "metadata", "uid", NULL), NULL,
		                "Background", &err) == 0 ||
		    kube_is_not_found(&err) || kube_is_conflict(&err)) {
			log_info(p->what, "deleted %s %s, left by an earlier Cluster of this name",
			         kind->kind, name);
		} else {
			kerr(p, C_READY, "delete a leftover of an earlier Cluster of this name",
			     &err);
			rc = -1;
		}
		goto out;
	}
	/* only what recycle_one() put in the bin: a zone-key Secret scheduled for
	 * crypto-shredding (its key deleted on purpose) stays scheduled */
	if (!from_bin || !json_get_str(live, "metadata", "labels", CLUSTER_PURGE_LABEL, NULL) ||
	    !json_get_str(live, "metadata", "labels", "vecward.io/recycled-uid", NULL))
		goto out;
	if (kube_path(&path, kind, p->v.ns, name, NULL))
		goto out;
	/* owned by the new Cluster again, and no longer due for purging */
	snprintf(body, sizeof(body),
	         "{\"metadata\":{\"labels\":{\"" CLUSTER_PURGE_LABEL "\":null,"
	         "\"vecward.io/recycled-uid\":null},\"ownerReferences\":[{\"apiVersion\":"
	         "\"vecward.io/v1alpha1\",\"kind\":\"Cluster\",\"name\":\"%s\",\"uid\":\"%s\","
	         "\"controller\":true,\"blockOwnerDeletion\":true}]}}",
	         p->v.name, p->v.uid);
	apply_count_write();
	if (kube_merge_patch(kc, path.ptr, body, NULL, &err) == 0) {
		log_info(p->what, "adopted %s %s back from the recycle bin", kind->kind, name);
		event_emit(kc, p->obj, "Normal", "Adopted", "Adopt",
		           "an object kept in the recycle bin was adopted again");
	}
out:
	json_free_secret(live);
	buf_free(&path);
	return rc;
}

struct purge_ctx {
	struct kube_client *kc;
	const struct kube_kind *kind;
	long long now;
	int n;
};

static int purge_item(yajl_val item, void *ctx)
{
	struct purge_ctx *pc = ctx;
	const char *at = json_get_str(item, "metadata", "labels", CLUSTER_PURGE_LABEL, NULL);
	const char *ns = json_get_str(item, "metadata", "namespace", NULL);
	const char *name = json_get_str(item, "metadata", "name", NULL);
	const char *uid = json_get_str(item, "metadata", "uid", NULL);
	long v;

	if (!at || !ns || !name || parse_long(at, 0, 0x7fffffffL, &v) || v > pc->now)
		return KUBE_ITEM_KEEP;
	if (json_get(item, "metadata", "deletionTimestamp", NULL))
		return KUBE_ITEM_KEEP; /* already going (a PVC waits for its pod) */
	{
		struct buf path = BUF_INIT(2048);
		struct kube_error err;
		char what[400];
		snprintf(what, sizeof(what), "%s %s/%s", pc->kind->kind, ns, name);
		if (kube_path(&path, pc->kind, ns, name, NULL) == 0) {
			apply_count_write();
			if (kube_delete(pc->kc, path.ptr, uid, NULL, "Background", &err) == 0) {
				log_info(what, "purged from the recycle bin");
				pc->n++;
			}
		}
		buf_free(&path);
	}
	return KUBE_ITEM_KEEP;
}

int cluster_purge_recycled(struct kube_client *kc, const char *ns, long long now_s)
{
	const struct kube_kind *kinds[] = {&KUBE_PVC, &KUBE_SECRET};
	struct kube_error err;
	int total = 0;

	for (int i = 0; i < 2; i++) {
		struct buf path = BUF_INIT(2048);
		struct purge_ctx pc = {kc, kinds[i], now_s, 0};
		int r =
		    kube_path(&path, kinds[i], ns, NULL, NULL) ||
		    kube_list(kc, path.ptr, CLUSTER_PURGE_LABEL, 200, purge_item, &pc, NULL, &err);
		buf_free(&path);
		if (r)
			return -1;
		total += pc.n;
	}
	return total;
}

/* The webhook's rules, run again here (a cluster stays safe where the webhook
 * is not installed): 0 when the spec passes, 1 on a policy violation (reported
 * as a condition and a warning Event; nothing is applied), -1 when the rules
 * could not decide (lookups failed): retry. */
static int check_policy(struct kube_client *kc, struct pass *p)
{
	struct wh_kube_lookup kl;
	struct wh_lookup lk;
	struct wh_result res;
	struct wh_input in = {WH_KIND_CLUSTER, WH_OP_RECONCILE, p->v.ns, p->obj, NULL};
	struct buf m = BUF_INIT(4096);
	int rc = 0;

	wh_kube_lookup_init(&kl, kc, 10000);
	wh_kube_lookup_begin(&kl);
	wh_kube_lookup_bind(&kl, &lk);
	if (wh_evaluate(&in, &lk, &res) != 0) {
		rc = -1;
		goto out;
	}
	if (res.n_denials == 0)
		goto out;
	wh_result_message(&res, &m);
	for (size_t i = 0; i < res.n_denials; i++)
		if (strcmp(res.denials[i].id, "VW000") == 0)
			rc = -1;
	if (rc == 0) {
		rc = 1;
		cond_set(p, C_READY, 0, "PolicyViolation", "%s", buf_str(&m));
		cond_set(p, C_DEGRADED, 1, "PolicyViolation",
		         "the spec breaks vecward policy; nothing is applied until it is fixed");
		log_warnx(p->what, "policy violation: %s", buf_str(&m));
		event_emit(kc, p->obj, "Warning", "PolicyViolation", "Validate", buf_str(&m));
	} else {
		cond_set(p, C_DEGRADED, 1, "PolicyCheckFailed", "%s", buf_str(&m));
		p->failed = 1;
	}
out:
	wh_result_free(&res);
	buf_free(&m);
	kube_client_set_timeout(kc, 0);
	return rc;
}

/* ---- waking the Users of a Cluster --------------------------------------------------- */

/* Users wait for their Cluster (ClusterNotReady: a long safety-net requeue) and
 * hold what it says about the connection (uri, ca.crt): when that changes, they
 * are enqueued now. Decided on the object this pass got from the informer, not
 * on the status this pass writes: a User reconciled now reads the Cluster from
 * the same cache, so it sees at least this state (the write comes back as an
 * update event and its own pass). The note holds the last state the Users were
 * woken for; after a restart the first Ready pass wakes them once. */
#define USERS_NOTE_PREFIX "cluster-users/"

struct user_keys {
	const char *prefix; /* "ns/" */
	size_t prefix_len;
	char **v;
	size_t n, cap;
	int oom;
};

static void collect_user_key(const char *key, void *arg)
{
	struct user_keys *k = arg;

	if (k->oom || strncmp(key, k->prefix, k->prefix_len) != 0)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		char **nv = realloc(k->v, cap * sizeof(*nv));
		if (!nv) {
			k->oom = 1;
			return;
		}
		k->v = nv;
		k->cap = cap;
	}
	if (!(k->v[k->n] = strdup(key))) {
		k->oom = 1;
		return;
	}
	k->n++;
}

/* What a waiting or connected User depends on, from the observed status. */
static void connection_state(yajl_val obj, char *out, size_t len)
{
	yajl_val cs = json_get(obj, "status", "conditions", NULL);
	const char *ready = "";
	const char *parts[4] = {
	    json_get_str(obj, "metadata", "uid", NULL),
	    json_get_str(obj, "status", "restEndpoint", NULL),
	    json_get_str(obj, "status", "security", "tlsMode", NULL),
	    json_get_str(obj, "status", "certificate", "trustBundleSHA256", NULL),
	};

	for (size_t i = 0; i < json_array_len(cs); i++) {
		yajl_val c = json_array_at(cs, i);
		const char *t = json_get_str(c, "type", NULL),
		           *st = json_get_str(c, "status", NULL);
		if (t && st && strcmp(t, "Ready") == 0)
			ready = st;
	}
	snprintf(out, len, "%s\t%s\t%s\t%s\t%s", ready, parts[0] ? parts[0] : "",
	         parts[1] ? parts[1] : "", parts[2] ? parts[2] : "", parts[3] ? parts[3] : "");
}

static int cluster_is_ready(yajl_val obj)
{
	char st[600];

	connection_state(obj, st, sizeof(st));
	return strncmp(st, "True\t", 5) == 0;
}

static void wake_users(struct controller *ctl, const char *ns, const char *name, yajl_val obj)
{
	struct informer *inf = controller_informer(ctl, &KUBE_VW_USER);
	char note_key[600], prev[600], now[600], prefix[300];
	char what[600];
	struct user_keys k;
	size_t woken = 0;

	if (snprintf(note_key, sizeof(note_key), USERS_NOTE_PREFIX "%s/%s", ns, name) >=
	    (int)sizeof(note_key))
		return;
	if (!obj) {
		sync_note_set(note_key, NULL);
		return;
	}
	connection_state(obj, now, sizeof(now));
	if (sync_note_get(note_key, prev, sizeof(prev)) && strcmp(prev, now) == 0)
		return;
	if (!inf || !cluster_is_ready(obj) ||
	    snprintf(prefix, sizeof(prefix), "%s/", ns) >= (int)sizeof(prefix)) {
		sync_note_set(note_key, now); /* Users only act on a Ready Cluster */
		return;
	}
	memset(&k, 0, sizeof(k));
	k.prefix = prefix;
	k.prefix_len = strlen(prefix);
	informer_foreach_key(inf, collect_user_key, &k);
	for (size_t i = 0; i < k.n; i++) {
		yajl_val u = informer_get(inf, k.v[i]);
		const char *c = json_get_str(u, "spec", "clusterRef", "name", NULL);
		char qk[700];
		if (c && strcmp(c, name) == 0 &&
		    snprintf(qk, sizeof(qk), "User/%s", k.v[i]) < (int)sizeof(qk)) {
			wq_add(controller_queue(ctl), qk);
			woken++;
		}
		yajl_tree_free(u);
		free(k.v[i]);
	}
	free(k.v);
	if (k.oom) {
		/* some were not enqueued: try again next pass (their safety net holds meanwhile) */
		snprintf(what, sizeof(what), "cluster %s/%s", ns, name);
		log_warnx(what, "out of memory listing its Users");
		return;
	}
	sync_note_set(note_key, now);
	if (woken) {
		snprintf(what, sizeof(what), "cluster %s/%s", ns, name);
		log_debug(what, "Ready, or its connection changed: enqueued %zu User(s)", woken);
	}
}

/* ---- the reconcile ----------------------------------------------------------------- */

enum reconcile_result cluster_reconcile(struct controller *ctl, struct kube_client *kc,
                                        const char *ns, const char *name, yajl_val obj,
                                        long *requeue_ms, void *ctx)
{
	const struct cluster_reconciler *cr = ctx;
	struct pass *p;
	struct pki_pair ca = {0};
	char what[400], err[512];
	char *bundle = NULL, *server_cert = NULL;
	enum reconcile_result res = RECONCILE_DONE;
	unsigned long writes0 = apply_writes();

	wake_users(ctl, ns, name, obj);
	if (!obj)
		return RECONCILE_DONE; /* gone: owned objects follow by garbage collection */
	p = calloc(1, sizeof(*p));
	if (!p)
		return RECONCILE_RETRY;
	snprintf(what, sizeof(what), "cluster %s/%s", ns, name);
	p->what = what;
	p->obj = obj;
	p->now = time(NULL);
	if (cluster_view_parse(obj, &p->v, err, sizeof(err))) {
		/* the webhook and CEL should have refused it; say so and wait for a fix */
		memset(&p->v, 0, sizeof(p->v));
		p->v.name = name;
		p->v.ns = ns;
		p->v.generation = json_get_int(obj, 0, "metadata", "generation", NULL);
		p->v.version = json_get_str(obj, "spec", "version", NULL);
		cond_set(p, C_READY, 0, "InvalidSpec", "%s", err);
		log_warnx(what, "invalid spec: %s", err);
		write_status(kc, p);
		goto out;
	}
	if (json_get(obj, "metadata", "deletionTimestamp", NULL)) {
		res = finalize(kc, p, cr);
		if (res == RECONCILE_DONE && p->v.encryption_key) {
			/* its key lists zones of live Clusters only */
			char qk[600];
			snprintf(qk, sizeof(qk), "EncryptionKey/%s/%s", ns, p->v.encryption_key);
			wq_add(controller_queue(ctl), qk);
		}
		goto out;
	}
	if (!has_finalizer(obj)) {
		/* the finalizer first: nothing is created that deletion would not see */
		if (set_finalizer(kc, p, 1) == 0) {
			res = RECONCILE_DONE; /* the update brings us back */
			goto out;
		}
		res = RECONCILE_RETRY;
		goto out;
	}
	{
		int pol = check_policy(kc, p);
		if (pol != 0) {
			write_status(kc, p);
			if (pol < 0) {
				res = RECONCILE_RETRY;
			} else {
				*requeue_ms = cr->resync_ms;
				res = RECONCILE_REQUEUE;
			}
			goto out;
		}
	}
	{
		/* what the recycle bin keeps, and what is created once (never
		 * applied, so an earlier Cluster's would stay its own) */
		char n[300];
		int left = 0;
		cluster_obj_name(&p->v, "data", n, sizeof(n));
		left |= adopt(kc, p, &KUBE_PVC, n, 1);
		cluster_obj_name(&p->v, "ca", n, sizeof(n));
		left |= adopt(kc, p, &KUBE_SECRET, n, 1);
		cluster_obj_name(&p->v, "root", n, sizeof(n));
		left |= adopt(kc, p, &KUBE_SECRET, n, 1);
		cluster_obj_name(&p->v, "root-pending", n, sizeof(n));
		left |= adopt(kc, p, &KUBE_SECRET, n, 0);
		cluster_obj_name(&p->v, "zone-keys", n, sizeof(n));
		left |= adopt(kc, p, &KUBE_SECRET, n, p->v.encryption_key != NULL);
		if (left) {
			write_status(kc, p);
			res = RECONCILE_RETRY;
			goto out;
		}
	}
	if (p->v.tls_mode != TLS_DISABLED || p->v.tls_internal) {
		int ok =
		    ensure_ca(kc, p, &ca) == 0 && ensure_bundle(kc, p, ca.cert_pem, &bundle) == 0;
		/* only a bundle the Secret holds now is vouched for */
		if (ok && mconn_bundle_digest(bundle, p->bundle_digest))
			p->bundle_digest[0] = '\0';
		if (ok && ensure_server_cert(kc, p, &ca, bundle, &server_cert) == 0)
			cond_set(p, C_CERTS, 1, "Issued",
			         "server certificate valid until %s, renewed from %s", p->not_after,
			         p->renewal);
	} else {
		cond_set(
		    p, C_CERTS, 1, "TLSDisabled",
		    "spec.tls.mode is disabled and internal TLS is off: no certificates (allowed "
		    "only in namespaces labelled vecward.io/allow-insecure=true)");
	}
	ensure_root(kc, p);
	if (p->v.encryption_key &&
	    enckey_key_info(ctl, ns, p->v.encryption_key, p->key_provider, sizeof(p->key_provider),
	                    p->key_arn, sizeof(p->key_arn), &p->key_rot_h))
		p->key_arn[0] = p->key_provider[0] = '\0';
	if (p->c[C_CERTS].status && p->c[C_CREDS].status)
		ensure_workload(kc, p, server_cert, bundle, cr->operator_namespace);
	if (!p->failed && p->deployment_available) {
		rbac_sync(kc, obj, cr->milvus_resync_ms, &p->rbac);
		cond_set(p, C_ROLES, p->rbac.ok, p->rbac.reason, "%s", p->rbac.message);
		p->rbac_pending = !p->rbac.ok;
		if (rootpw_rotate(kc, obj, &p->v, cr->milvus_resync_ms, &p->rootpw)) {
			log_warnx(p->what, "root password rotation: %s", p->rootpw.message);
			p->rootpw_failed = 1;
		} else if (p->rootpw.rotated) {
			event_emit(kc, obj, "Normal", "RootPasswordRotated", "Rotate",
			           p->rootpw.message);
		} else if (p->rootpw.reason[0]) {
			event_emit(kc, obj, "Warning", p->rootpw.reason, "Rotate",
			           p->rootpw.message);
		}
	} else if (json_array_len(json_get(obj, "spec", "roles", NULL)) ||
	           json_array_len(json_get(obj, "status", "rbac", "managedRoles", NULL))) {
		cond_set(p, C_ROLES, 0, "WaitingForMilvus",
		         "the custom roles are created once Milvus is available");
		p->rbac_pending = 1;
	} else {
		cond_set(p, C_ROLES, 1, "NoCustomRoles",
		         "spec.roles is empty: only the built-in roles admin and public");
	}
	if (p->v.encryption_key) {
		char er[64], em[600];
		int ok = enckey_cluster_condition(ctl, obj, &p->v, er, sizeof(er), em, sizeof(em));
		cond_set(p, C_ENC, ok, er, "%s", em);
		p->enc_pending = !ok;
		if (ok && p->v.cipher_so_go) {
			/* Milvus's own encryption zones, in images with a cipher plugin */
			struct cipher_outcome co;
			if (!p->failed && p->deployment_available) {
				cipher_sync(kc, obj, &p->v, p->key_arn, cr->milvus_resync_ms, &co);
				cond_set(p, C_ENC, co.ok, co.reason, "%s", co.message);
				p->enc_pending = !co.ok;
			} else {
				cond_set(
				    p, C_ENC, 0, "WaitingForMilvus",
				    "zone keys are ready; the encrypted databases are created once "
				    "Milvus is available");
				p->enc_pending = 1;
			}
		}
	} else
		cond_set(p, C_ENC, 1, "NotRequested", "spec.encryption is not set");

	/* the summary */
	{
		int ok = p->c[C_CERTS].status && p->c[C_CREDS].status && p->c[C_NET].set &&
		         p->c[C_NET].status && !p->failed;
		if (ok && p->deployment_available)
			cond_set(
			    p, C_READY, 1, "Available",
			    "Milvus is available at %s.%s.svc:%d with %s TLS and authentication on",
			    p->v.name, p->v.ns, CLUSTER_PORT_GRPC,
			    p->v.tls_mode == TLS_MUTUAL ? "mutual"
			    : p->v.tls_mode             ? "server"
			                                : "no");
		else if (ok)
			cond_set(p, C_READY, 0, "Progressing",
			         "waiting for the Milvus pod to be available");
		else {
			for (int i = 1; i < C_N; i++)
				if (p->c[i].set && !p->c[i].status && i != C_ENC && i != C_ROLES) {
					cond_set(p, C_READY, 0, p->c[i].reason, "%s",
					         p->c[i].message);
					break;
				}
			if (!p->c[C_READY].set)
				cond_set(p, C_READY, 0, "Progressing", "reconciling");
		}
		if (p->failed)
			cond_set(p, C_DEGRADED, 1, "ReconcileError",
			         "a step failed; retrying with backoff");
		else if (p->rootpw_failed)
			cond_set(p, C_DEGRADED, 1, "RootPasswordRotationFailed", "%s",
			         p->rootpw.message);
		else if (p->rbac_pending && p->rbac.contacted)
			cond_set(p, C_DEGRADED, 1, "RolesNotSynced", "%s", p->rbac.message);
		else if (p->enc_pending)
			cond_set(p, C_DEGRADED, 1, "EncryptionNotReady", "%s", p->c[C_ENC].message);
		else
			cond_set(p, C_DEGRADED, 0, "AsExpected", "no errors");
	}
	write_status(kc, p);

	if (p->failed) {
		res = RECONCILE_RETRY;
	} else {
		long long next = cr->resync_ms;
		if (!p->deployment_available || !p->c[C_READY].status)
			next = NOT_READY_REQUEUE_MS;
		if (p->enc_pending && next > ERROR_REQUEUE_MS)
			next = ERROR_REQUEUE_MS;
		if ((p->rbac_pending || p->rootpw_failed) && next > ERROR_REQUEUE_MS)
			next = p->rbac.contacted ? ERROR_REQUEUE_MS : NOT_READY_REQUEUE_MS;
		if (p->renew_at) {
			long long until =
			    ((long long)p->renew_at - (long long)p->now) * 1000 + 1000;
			if (until < next)
				next = until > 1000 ? until : 1000;
		}
		*requeue_ms = (long)next;
		res = RECONCILE_REQUEUE;
	}
out:
	log_debug(what, "reconciled: %lu write(s)", apply_writes() - writes0);
	pki_pair_free(&ca);
	free(bundle);
	free(server_cert);
	free(p);
	return res;
}

#include "milvusconn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "apply.h"
#include "buf.h"
#include "cluster_render.h"
#include "json.h"
#include "log.h"
#include "strmap.h"

#define CLIENT_CERT_LIFETIME_S (24L * 3600)
#define CLIENT_CERT_RENEW_S    (6L * 3600)

static atomic_int allow_connect_to;

void mconn_allow_connect_to(int allow)
{
	atomic_store(&allow_connect_to, allow);
}

/* ---- the operator's client certificates, in memory only ------------------------ */

struct cached_cert {
	char ca_fp[PKI_FINGERPRINT_LEN];
	time_t not_after;
	struct pki_pair pair;
};

static pthread_mutex_t cert_mu = PTHREAD_MUTEX_INITIALIZER;
static struct strmap *cert_cache; /* cluster uid -> struct cached_cert */

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_cached(void *p)
{
	struct cached_cert *c = p;
	if (c) {
		pki_pair_free(&c->pair);
		free(c);
	}
}

/* A copy of the operator client certificate for this cluster and CA. */
static int operator_cert(const char *uid, const struct pki_pair *ca, struct pki_pair *out,
                         char *msg, size_t msglen)
{
	struct pki_cert_info info;
	struct cached_cert *c;
	time_t now = time(NULL);
	int rc = -1;

	if (pki_cert_info(ca->cert_pem, &info, msg, msglen))
		return -1;
	pthread_mutex_lock(&cert_mu);
	if (!cert_cache && !(cert_cache = strmap_new()))
		goto out;
	c = strmap_get(cert_cache, uid);
	if (!c || strcmp(c->ca_fp, info.fingerprint) != 0 ||
	    now + CLIENT_CERT_RENEW_S >= c->not_after) {
		struct pki_leaf_req req = {
		    "vecward-operator",    NULL, 0, NULL, 0, PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256,
		    CLIENT_CERT_LIFETIME_S};
		struct cached_cert *n = calloc(1, sizeof(*n));
		void *old = NULL;
		if (!n || pki_issue(ca->cert_pem, ca->key_pem, &req, now, &n->pair, msg, msglen)) {
			free(n);
			goto out;
		}
		snprintf(n->ca_fp, sizeof(n->ca_fp), "%s", info.fingerprint);
		n->not_after = now + CLIENT_CERT_LIFETIME_S;
		if (strmap_put(cert_cache, uid, n, &old)) {
			free_cached(n);
			goto out;
		}
		free_cached(old);
		c = n;
	}
	if (!c)
		goto out;
	out->cert_pem = dupstr(c->pair.cert_pem);
	out->key_pem = dupstr(c->pair.key_pem);
	if (!out->cert_pem || !out->key_pem) {
		pki_pair_free(out);
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&cert_mu);
	pki_cert_info_free(&info);
	return rc;
}

/* ---- opening ---------------------------------------------------------------------- */

#define FAIL(r, ...)                                                                               \
	do {                                                                                       \
		snprintf(reason, reasonlen, "%s", r);                                              \
		snprintf(msg, msglen, __VA_ARGS__);                                                \
		goto out;                                                                          \
	} while (0)

static unsigned long long loads;

unsigned long long mconn_loads(void)
{
	return __atomic_load_n(&loads, __ATOMIC_RELAXED);
}

int mconn_open(struct kube_client *kc, yajl_val cluster, int flags, struct mconn *c, char *reason,
               size_t reasonlen, char *msg, size_t msglen)
{
	struct cluster_view v;
	struct kube_error kerr;
	struct mv_error merr;
	yajl_val sec = NULL;
	char name[300], ebuf[512];
	char *root_pw = NULL;
	const char *ct;
	int r, rc = -1;

	memset(c, 0, sizeof(*c));
	__atomic_add_fetch(&loads, 1, __ATOMIC_RELAXED);
	if (cluster_view_parse(cluster, &v, ebuf, sizeof(ebuf)))
		FAIL("ClusterInvalid", "Cluster %s: %s",
		     json_get_str(cluster, "metadata", "name", NULL), ebuf);
	c->mutual = v.tls_mode == TLS_MUTUAL;
	snprintf(c->uri, sizeof(c->uri), "%s://%s.%s.svc:%d", v.tls_mode ? "https" : "http", v.name,
	         v.ns, CLUSTER_PORT_GRPC);
	snprintf(c->base_url, sizeof(c->base_url), "%s://%s.%s.svc:%d",
	         v.tls_mode ? "https" : "http", v.name, v.ns, CLUSTER_PORT_HTTP);
	ct = json_get_str(cluster, "metadata", "annotations", MCONN_CONNECT_TO_ANNOTATION, NULL);
	if (ct && atomic_load(&allow_connect_to))
		snprintf(c->connect_to, sizeof(c->connect_to), "%s", ct);

	/* root credentials */
	if (v.root_generated)
		cluster_obj_name(&v, "root", name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s", v.root_secret);
	r = apply_get(kc, &KUBE_SECRET, v.ns, name, &sec, &kerr);
	if (r)
		FAIL("ClusterCredentialsMissing", "the root credentials Secret %s of Cluster %s %s",
		     name, v.name, r > 0 ? "does not exist yet" : "could not be read");
	root_pw = secret_data_str(sec, v.root_generated ? "password" : v.root_key, PKI_PEM_MAX);
	json_free_secret(sec);
	sec = NULL;
	if (!root_pw)
		FAIL("ClusterCredentialsMissing", "Secret %s has no root password", name);

	/* trust bundle */
	if (v.tls_mode != TLS_DISABLED) {
		cluster_obj_name(&v, "ca-cert", name, sizeof(name));
		r = apply_get(kc, &KUBE_SECRET, v.ns, name, &sec, &kerr);
		if (r || !(c->bundle = secret_data_str(sec, "ca.crt", PKI_PEM_MAX)))
			FAIL("ClusterCertificatesMissing",
			     "the trust bundle Secret %s of Cluster %s is not ready", name, v.name);
		json_free_secret(sec);
		sec = NULL;
	}
	if ((flags & MCONN_WANT_CA) || c->mutual) {
		if (v.ca_secret)
			snprintf(name, sizeof(name), "%s", v.ca_secret);
		else
			cluster_obj_name(&v, "ca", name, sizeof(name));
		r = apply_get(kc, &KUBE_SECRET, v.ns, name, &sec, &kerr);
		if (r || !(c->ca.cert_pem = secret_data_str(sec, "ca.crt", PKI_PEM_MAX)) ||
		    !(c->ca.key_pem = secret_data_str(sec, "ca.key", PKI_PEM_MAX)))
			FAIL("ClusterCertificatesMissing",
			     "the CA Secret %s of Cluster %s is not ready", name, v.name);
		json_free_secret(sec);
		sec = NULL;
	}
	if (c->mutual && operator_cert(v.uid, &c->ca, &c->client, ebuf, sizeof(ebuf)))
		FAIL("ClientCertificateFailed",
		     "cannot issue the operator's client certificate: %s", ebuf);
	if (mconn_open_as(c, "root", root_pw, &c->mv))
		FAIL("MilvusClientFailed", "cannot set up the Milvus client for Cluster %s",
		     v.name);
	rc = 0;
out:
	(void)merr;
	json_free_secret(sec);
	secret_str_free(root_pw);
	if (rc)
		mconn_close(c);
	return rc;
}

int mconn_bundle_digest(const char *bundle, char out[MCONN_BUNDLE_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!bundle || EVP_Digest(bundle, strlen(bundle), md, &len, EVP_sha256(), NULL) != 1 ||
	    len * 2 != MCONN_BUNDLE_DIGEST_LEN)
		return -1;
	for (unsigned int i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[MCONN_BUNDLE_DIGEST_LEN] = '\0';
	return 0;
}

int mconn_open_known(yajl_val cluster, const char *held_bundle, struct mconn *c)
{
	struct cluster_view v;
	char ebuf[512], have[MCONN_BUNDLE_DIGEST_LEN + 1];
	const char *want;

	memset(c, 0, sizeof(*c));
	if (cluster_view_parse(cluster, &v, ebuf, sizeof(ebuf)))
		return -1;
	if (v.tls_mode != TLS_DISABLED) {
		want = json_get_str(cluster, "status", "certificate", "trustBundleSHA256", NULL);
		if (!want || !held_bundle || mconn_bundle_digest(held_bundle, have) ||
		    strlen(want) != MCONN_BUNDLE_DIGEST_LEN ||
		    CRYPTO_memcmp(want, have, MCONN_BUNDLE_DIGEST_LEN) != 0)
			return -1;
		if (!(c->bundle = strdup(held_bundle)))
			return -1;
	}
	c->mutual = v.tls_mode == TLS_MUTUAL;
	snprintf(c->uri, sizeof(c->uri), "%s://%s.%s.svc:%d", v.tls_mode ? "https" : "http", v.name,
	         v.ns, CLUSTER_PORT_GRPC);
	snprintf(c->base_url, sizeof(c->base_url), "%s://%s.%s.svc:%d",
	         v.tls_mode ? "https" : "http", v.name, v.ns, CLUSTER_PORT_HTTP);
	return 0;
}

int mconn_open_as(const struct mconn *base, const char *user, const char *password,
                  struct mv_client **out)
{
	struct mv_config cfg;
	struct mv_error err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.base_url = base->base_url;
	cfg.connect_to = base->connect_to[0] ? base->connect_to : NULL;
	cfg.ca_pem = base->bundle;
	cfg.cert_pem = base->client.cert_pem;
	cfg.key_pem = base->client.key_pem;
	cfg.user = user;
	cfg.password = password;
	cfg.timeout_ms = 10000;
	return mv_client_new(&cfg, out, &err) == MV_OK ? 0 : -1;
}

void mconn_cache_free(void)
{
	pthread_mutex_lock(&cert_mu);
	strmap_free(cert_cache, free_cached);
	cert_cache = NULL;
	pthread_mutex_unlock(&cert_mu);
}

void mconn_close(struct mconn *c)
{
	mv_client_free(c->mv);
	c->mv = NULL;
	free(c->bundle);
	c->bundle = NULL;
	pki_pair_free(&c->ca);
	pki_pair_free(&c->client);
}

/*
 * bootstrap: the webhook's own CA and serving certificate in a Secret, the
 * files the server reads, and caBundle of its registrations (bootstrap.h).
 */
#include "bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "apply.h"
#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "log.h"
#include "pki.h"
#include "util.h"

static const struct kube_kind KIND_MWC = {"admissionregistration.k8s.io", "v1",
                                          "MutatingWebhookConfiguration",
                                          "mutatingwebhookconfigurations", 0};
static const struct kube_kind KIND_VWC = {"admissionregistration.k8s.io", "v1",
                                          "ValidatingWebhookConfiguration",
                                          "validatingwebhookconfigurations", 0};

#define SYNC_ATTEMPTS 4

/* ---- pure ------------------------------------------------------------------ */

static int dns_label(const char *s, size_t n)
{
	if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return -1;
	return 0;
}

int wh_boot_service_names(const char *service, char dns[4][WH_BOOT_NAME_MAX])
{
	const char *dot1, *dot2, *rest;
	size_t lsvc, lns;

	if (!service)
		return -1;
	dot1 = strchr(service, '.');
	if (!dot1)
		return -1;
	lsvc = (size_t)(dot1 - service);
	dot2 = strchr(dot1 + 1, '.');
	lns = dot2 ? (size_t)(dot2 - dot1 - 1) : strlen(dot1 + 1);
	rest = dot2 ? dot2 : "";
	if (dns_label(service, lsvc) || dns_label(dot1 + 1, lns))
		return -1;
	if (*rest && strcmp(rest, ".svc") != 0 && strcmp(rest, ".svc.cluster.local") != 0)
		return -1;
	if (snprintf(dns[0], WH_BOOT_NAME_MAX, "%.*s", (int)lsvc, service) < 0 ||
	    snprintf(dns[1], WH_BOOT_NAME_MAX, "%.*s.%.*s", (int)lsvc, service, (int)lns,
	             dot1 + 1) < 0 ||
	    snprintf(dns[2], WH_BOOT_NAME_MAX, "%.*s.%.*s.svc", (int)lsvc, service, (int)lns,
	             dot1 + 1) < 0 ||
	    snprintf(dns[3], WH_BOOT_NAME_MAX, "%.*s.%.*s.svc.cluster.local", (int)lsvc, service,
	             (int)lns, dot1 + 1) < 0)
		return -1;
	return 0;
}

void wh_boot_pems_free(struct wh_boot_pems *p)
{
	free(p->ca_crt);
	free(p->tls_crt);
	pki_secret_free(p->ca_key);
	pki_secret_free(p->tls_key);
	memset(p, 0, sizeof(*p));
}

void wh_boot_secret_free(char *json)
{
	if (json) {
		OPENSSL_cleanse(json, strlen(json));
		free(json);
	}
}

/* "k": base64(v) */
static int b64_kv(yajl_gen g, const char *k, const char *v)
{
	struct buf b = BUF_INIT(4 * PKI_PEM_MAX);
	int rc = -1;

	if (!v || b64_encode(v, strlen(v), &b))
		goto out;
	jkv(g, k, buf_str(&b));
	rc = 0;
out:
	buf_free_secret(&b);
	return rc;
}

static int data_kvs(yajl_gen g, const struct wh_boot_pems *p)
{
	jko(g, "data");
	if (b64_kv(g, "ca.crt", p->ca_crt) || b64_kv(g, "ca.key", p->ca_key) ||
	    b64_kv(g, "tls.crt", p->tls_crt) || b64_kv(g, "tls.key", p->tls_key))
		return -1;
	jc(g);
	return 0;
}

/* jgen_finish, but wiping what yajl held (the document carries keys) */
static char *finish_secret(yajl_gen g, int ok)
{
	const unsigned char *s;
	size_t n;
	char *out = NULL;

	if (ok && yajl_gen_get_buf(g, &s, &n) == yajl_gen_status_ok) {
		out = malloc(n + 1);
		if (out) {
			memcpy(out, s, n);
			out[n] = '\0';
		}
	}
	if (yajl_gen_get_buf(g, &s, &n) == yajl_gen_status_ok && n)
		OPENSSL_cleanse((void *)s, n);
	yajl_gen_free(g);
	return out;
}

char *wh_boot_secret_render(const char *ns, const char *name, const struct wh_boot_pems *p)
{
	yajl_gen g = jgen_new();
	int ok;

	if (!g)
		return NULL;
	jo(g);
	jkv(g, "apiVersion", "v1");
	jkv(g, "kind", "Secret");
	jko(g, "metadata");
	jkv(g, "name", name);
	jkv(g, "namespace", ns);
	jko(g, "labels");
	jkv(g, "app.kubernetes.io/name", "vecward");
	jkv(g, "app.kubernetes.io/component", "webhook");
	jc(g);
	jc(g);
	jkv(g, "type", "kubernetes.io/tls");
	ok = data_kvs(g, p) == 0;
	jc(g);
	return finish_secret(g, ok);
}

char *wh_boot_secret_patch_render(const char *rv, const struct wh_boot_pems *p)
{
	yajl_gen g = jgen_new();
	int ok;

	if (!g || !rv) {
		if (g)
			yajl_gen_free(g);
		return NULL;
	}
	jo(g);
	jko(g, "metadata");
	jkv(g, "resourceVersion", rv);
	jc(g);
	ok = data_kvs(g, p) == 0;
	jc(g);
	return finish_secret(g, ok);
}

int wh_boot_cabundle_patch(yajl_val cfg, const char *ca_b64, char **patch)
{
	const char *rv = json_get_str(cfg, "metadata", "resourceVersion", NULL);
	yajl_val hooks = json_get(cfg, "webhooks", NULL);
	size_t n = json_array_len(hooks), ndiff = 0;
	yajl_gen g = NULL;
	char path[64];

	if (!rv || !ca_b64)
		return -1;
	for (size_t i = 0; i < n; i++) {
		yajl_val h = json_array_at(hooks, i);
		const char *cur = json_get_str(h, "clientConfig", "caBundle", NULL);
		if (!json_get_str(h, "name", NULL))
			return -1;
		if (!cur || strcmp(cur, ca_b64) != 0)
			ndiff++;
	}
	if (ndiff == 0) {
		*patch = NULL;
		return 0;
	}
	g = jgen_new();
	if (!g)
		return -1;
	jao(g);
	jo(g);
	jkv(g, "op", "test");
	jkv(g, "path", "/metadata/resourceVersion");
	jkv(g, "value", rv);
	jc(g);
	for (size_t i = 0; i < n; i++) {
		yajl_val h = json_array_at(hooks, i);
		int has_cc = YAJL_IS_OBJECT(json_get(h, "clientConfig", NULL));

		jo(g);
		jkv(g, "op", "test");
		snprintf(path, sizeof(path), "/webhooks/%zu/name", i);
		jkv(g, "path", path);
		jkv(g, "value", json_get_str(h, "name", NULL));
		jc(g);
		jo(g);
		jkv(g, "op", "add");
		snprintf(path, sizeof(path),
		         has_cc ? "/webhooks/%zu/clientConfig/caBundle"
		                : "/webhooks/%zu/clientConfig",
		         i);
		jkv(g, "path", path);
		if (has_cc) {
			jkv(g, "value", ca_b64);
		} else {
			jko(g, "value");
			jkv(g, "caBundle", ca_b64);
			jc(g);
		}
		jc(g);
	}
	jac(g);
	*patch = jgen_finish(g);
	return *patch ? 0 : -1;
}

/* ---- the Secret ------------------------------------------------------------ */

static char *secret_pem(yajl_val sec, const char *key)
{
	struct buf b = BUF_INIT(PKI_PEM_MAX);

	if (secret_data(sec, key, &b) || !b.ptr) {
		buf_free_secret(&b);
		return NULL;
	}
	return buf_take(&b);
}

static void pems_from_secret(yajl_val sec, struct wh_boot_pems *p)
{
	p->ca_crt = secret_pem(sec, "ca.crt");
	p->ca_key = secret_pem(sec, "ca.key");
	p->tls_crt = secret_pem(sec, "tls.crt");
	p->tls_key = secret_pem(sec, "tls.key");
}

struct want {
	char dns[4][WH_BOOT_NAME_MAX];
	const char *dnsp[4];
};

/* A CA (when the Secret has no usable one) and a leaf into p. */
static int issue(const struct wh_boot_config *cfg, const struct want *w, time_t now, int new_ca,
                 struct wh_boot_pems *p, char *err, size_t errlen)
{
	struct pki_pair ca = {NULL, NULL}, leaf = {NULL, NULL};
	struct pki_leaf_req req = {w->dns[2],
	                           w->dnsp,
	                           4,
	                           cfg->ips,
	                           cfg->nips,
	                           PKI_USAGE_SERVER,
	                           PKI_KEY_ECDSA_P256,
	                           WH_BOOT_LEAF_LIFETIME};
	char cn[WH_BOOT_NAME_MAX + 32], e[256];
	int rc = -1;

	if (new_ca) {
		snprintf(cn, sizeof(cn), "vecward-webhook %s CA", w->dns[1]);
		if (pki_ca_create(cn, PKI_KEY_ECDSA_P256, WH_BOOT_CA_LIFETIME, now, &ca, e,
		                  sizeof(e))) {
			snprintf(err, errlen, "creating the webhook ca: %s", e);
			goto out;
		}
		free(p->ca_crt);
		pki_secret_free(p->ca_key);
		p->ca_crt = ca.cert_pem;
		p->ca_key = ca.key_pem;
		ca.cert_pem = ca.key_pem = NULL;
	}
	if (pki_issue(p->ca_crt, p->ca_key, &req, now, &leaf, e, sizeof(e))) {
		snprintf(err, errlen, "issuing the serving certificate: %s", e);
		goto out;
	}
	free(p->tls_crt);
	pki_secret_free(p->tls_key);
	p->tls_crt = leaf.cert_pem;
	p->tls_key = leaf.key_pem;
	leaf.cert_pem = leaf.key_pem = NULL;
	rc = 0;
out:
	pki_pair_free(&ca);
	pki_pair_free(&leaf);
	return rc;
}

/* Make the Secret hold a usable CA and a current leaf; *out gets them. */
static int ensure_secret(struct kube_client *kc, const struct wh_boot_config *cfg,
                         const struct want *w, time_t now, struct wh_boot_pems *out, char *err,
                         size_t errlen)
{
	char what[300];
	int rc = -1;

	snprintf(what, sizeof(what), "Secret %s/%s", cfg->ns, cfg->name);
	for (int attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
		struct wh_boot_pems p = {NULL, NULL, NULL, NULL};
		struct kube_error kerr;
		struct buf path = BUF_INIT(1024);
		yajl_val sec = NULL;
		char *json = NULL, ebuf[600];
		enum pki_renew_reason why;
		int r, new_ca, created = 0, again = 0;

		r = apply_get(kc, &KUBE_SECRET, cfg->ns, cfg->name, &sec, &kerr);
		if (r < 0) {
			snprintf(err, errlen, "%s: read: %s", what,
			         kube_strerror(&kerr, ebuf, sizeof(ebuf)));
			goto next;
		}
		if (r == 0)
			pems_from_secret(sec, &p);
		new_ca = pki_ca_renewal_due(p.ca_crt, now, 0, NULL) != PKI_RENEW_NONE ||
		         !p.ca_key || pki_key_matches(p.ca_crt, p.ca_key, NULL, 0) != 1;
		{
			struct pki_renew_want rw = {p.tls_key,
			                            w->dnsp,
			                            4,
			                            cfg->ips,
			                            cfg->nips,
			                            PKI_USAGE_SERVER,
			                            PKI_KEY_ECDSA_P256,
			                            WH_BOOT_LEAF_RENEW_BEFORE};
			why = new_ca ? PKI_RENEW_ISSUER_CHANGED
			             : pki_renewal_due(p.tls_crt, p.ca_crt, &rw, now, NULL);
		}
		if (why == PKI_RENEW_NONE) {
			*out = p;
			memset(&p, 0, sizeof(p));
			rc = 0;
			goto next;
		}
		if (issue(cfg, w, now, new_ca, &p, err, errlen))
			goto next;
		if (r == 1) {
			json = wh_boot_secret_render(cfg->ns, cfg->name, &p);
			if (!json) {
				snprintf(err, errlen, "%s: out of memory", what);
				goto next;
			}
			json_free_secret(sec);
			sec = NULL;
			if (apply_create_once(kc, &KUBE_SECRET, cfg->ns, json, &created, &sec,
			                      &kerr)) {
				snprintf(err, errlen, "%s: create: %s", what,
				         kube_strerror(&kerr, ebuf, sizeof(ebuf)));
				goto next;
			}
			if (created)
				log_info(what, "generated the webhook ca and serving certificate");
			else
				log_info(what, "created by another replica first: using it");
			again = !created; /* check what the other one stored */
		} else {
			const char *rv = json_get_str(sec, "metadata", "resourceVersion", NULL);
			json = wh_boot_secret_patch_render(rv, &p);
			if (!json || kube_path(&path, &KUBE_SECRET, cfg->ns, cfg->name, NULL)) {
				snprintf(err, errlen, "%s: out of memory", what);
				goto next;
			}
			json_free_secret(sec);
			sec = NULL;
			apply_count_write();
			if (kube_merge_patch(kc, path.ptr, json, &sec, &kerr)) {
				snprintf(err, errlen, "%s: update: %s", what,
				         kube_strerror(&kerr, ebuf, sizeof(ebuf)));
				again =
				    kube_is_conflict(&kerr); /* another replica wrote: re-read */
				if (again)
					log_info(what, "changed by another replica: re-reading");
				goto next;
			}
			log_info(what, "%s the serving certificate (%s)",
			         new_ca ? "generated a new ca and" : "renewed",
			         pki_renew_reason_name(why));
		}
		if (!again) {
			*out = p;
			memset(&p, 0, sizeof(p));
			rc = 0;
		}
	next:
		wh_boot_secret_free(json);
		json_free_secret(sec);
		wh_boot_pems_free(&p);
		buf_free(&path);
		if (rc == 0 || !again)
			break;
	}
	return rc;
}

/* ---- files ------------------------------------------------------------------ */

/* Write content to dir/name (0600) by rename, unless it already holds it.
 * 1 written, 0 unchanged, -1 error (errno). */
static int write_if_changed(const char *dir, const char *name, const char *content)
{
	struct buf cur = BUF_INIT(PKI_PEM_MAX);
	char path[4096], tmp[4200];
	size_t n = strlen(content), off = 0;
	int fd = -1, rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (read_file(path, PKI_PEM_MAX, &cur) == 0 && cur.len == n &&
	    CRYPTO_memcmp(buf_str(&cur), content, n) == 0) {
		rc = 0;
		goto out;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	while (off < n) {
		ssize_t w = write(fd, content + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) || close(fd)) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path))
		goto out;
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
	}
	buf_free_secret(&cur);
	return rc;
}

/* ---- caBundle ------------------------------------------------------------- */

static int ensure_cabundle(struct kube_client *kc, const struct kube_kind *kind, const char *name,
                           const char *ca_b64)
{
	char what[300], ebuf[600];
	int rc = -1;

	snprintf(what, sizeof(what), "%s %s", kind->kind, name);
	for (int attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
		struct buf path = BUF_INIT(1024);
		struct kube_error kerr;
		yajl_val cfg = NULL;
		char *patch = NULL;
		int r = apply_get(kc, kind, NULL, name, &cfg, &kerr), retry = 0;

		if (r == 1) {
			log_warnx(what, "not found: caBundle not set (register the webhook)");
			rc = 0;
		} else if (r < 0) {
			log_warnx(what, "read: %s", kube_strerror(&kerr, ebuf, sizeof(ebuf)));
		} else if (wh_boot_cabundle_patch(cfg, ca_b64, &patch)) {
			log_warnx(what, "cannot build the caBundle patch (malformed object?)");
		} else if (!patch) {
			rc = 0; /* already current */
		} else if (kube_path(&path, kind, NULL, name, NULL)) {
			log_warnx(what, "out of memory");
		} else {
			apply_count_write();
			if (kube_request(kc, "PATCH", path.ptr, "application/json-patch+json",
			                 patch, strlen(patch), NULL, &kerr) == 0) {
				log_info(what, "caBundle updated");
				rc = 0;
			} else {
				/* a failed test op (concurrent change) is 409 or 422 */
				retry = kerr.http == 409 || kerr.http == 422;
				log_warnx(what, "caBundle update: %s%s",
				          kube_strerror(&kerr, ebuf, sizeof(ebuf)),
				          retry ? " (re-reading)" : "");
			}
		}
		free(patch);
		yajl_tree_free(cfg);
		buf_free(&path);
		if (!retry)
			break;
	}
	return rc;
}

/* ---- one pass --------------------------------------------------------------- */

int wh_boot_sync(struct kube_client *kc, const struct wh_boot_config *cfg, time_t now,
                 int *files_changed, char *err, size_t errlen)
{
	struct wh_boot_pems p = {NULL, NULL, NULL, NULL};
	struct buf ca_b64 = BUF_INIT(4 * PKI_PEM_MAX);
	struct want w;
	int rc = -1, wk, wc;

	if (files_changed)
		*files_changed = 0;
	if (wh_boot_service_names(cfg->service, w.dns)) {
		snprintf(err, errlen, "service name %s: want svc.ns.svc", cfg->service);
		goto out;
	}
	for (int i = 0; i < 4; i++)
		w.dnsp[i] = w.dns[i];
	if (ensure_secret(kc, cfg, &w, now, &p, err, errlen))
		goto out;
	if (mkdir(cfg->cert_dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cert dir %s: %s", cfg->cert_dir, strerror(errno));
		goto out;
	}
	/* key first: a reload that sees only the new key fails and keeps the old pair */
	wk = write_if_changed(cfg->cert_dir, "tls.key", p.tls_key);
	wc = wk < 0 ? -1 : write_if_changed(cfg->cert_dir, "tls.crt", p.tls_crt);
	if (wk < 0 || wc < 0) {
		snprintf(err, errlen, "writing the serving certificate to %s: %s", cfg->cert_dir,
		         strerror(errno));
		goto out;
	}
	if (files_changed)
		*files_changed = wk || wc;
	if (b64_encode(p.ca_crt, strlen(p.ca_crt), &ca_b64)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
	if (ensure_cabundle(kc, &KIND_MWC, cfg->webhook_config, buf_str(&ca_b64)))
		rc = -1;
	if (ensure_cabundle(kc, &KIND_VWC, cfg->webhook_config, buf_str(&ca_b64)))
		rc = -1;
	if (rc)
		snprintf(err, errlen, "caBundle of webhook configurations %s not updated",
		         cfg->webhook_config);
out:
	wh_boot_pems_free(&p);
	buf_free(&ca_b64);
	return rc;
}

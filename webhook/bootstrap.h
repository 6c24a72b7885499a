/*
 * bootstrap: the webhook issues and keeps its own serving certificate.
 *
 *   vecward-webhook --listen :9443 --bootstrap-secret NS/NAME --service-name SVC.NS.svc
 *                   --cert-dir DIR [--bootstrap-ip IP]... [--webhook-config NAME]
 *                   [--bootstrap-interval SECS]
 *
 * At start and then every --bootstrap-interval (default 3600 s), wh_boot_sync():
 *   1. makes sure Secret NS/NAME holds a CA (ca.crt, ca.key) and a serving
 *      certificate signed by it (tls.crt, tls.key) for the Service's DNS names
 *      (svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local) and the IPs given.
 *      A missing Secret is created with POST (apply_create_once): when two
 *      replicas race, one wins and the other (409) reads and uses the stored
 *      one. A leaf that pki_renewal_due() says is due (expiring, SANs changed,
 *      wrong issuer, ...) is re-issued from the same CA and written with a
 *      merge patch carrying metadata.resourceVersion, so of two replicas only
 *      one write lands and the other re-reads and adopts it. The CA is only
 *      replaced when the Secret has none that is usable (absent, unparsable,
 *      expired, key mismatch); it is valid for WH_BOOT_CA_LIFETIME.
 *   2. writes tls.crt and tls.key into cert_dir (mode 0600, atomically by
 *      rename, only when their content differs), where the server's
 *      reload-on-change picks them up; the caller forces the reload at once.
 *      Keep cert_dir off shared directories such as /tmp (an emptyDir in a
 *      pod); it is created 0700 when missing.
 *   3. sets clientConfig.caBundle of every entry of the
 *      MutatingWebhookConfiguration and ValidatingWebhookConfiguration named
 *      webhook_config to base64(ca.crt), with a JSON patch that tests the
 *      resourceVersion and each entry's name, and only when some entry
 *      differs: a sync with nothing changed writes nothing. A configuration
 *      that does not exist (yet) is logged and skipped.
 *
 * Needs RBAC: secrets get/create/patch in NS; mutatingwebhookconfigurations
 * and validatingwebhookconfigurations get/patch.
 *
 * Functions return 0 or -1 (error text in err, lower case, naming the object;
 * never key material). The wh_boot_*_render / _patch / _names functions are
 * pure (no I/O) and unit-tested; wh_boot_sync does the I/O.
 */
#ifndef VW_BOOTSTRAP_H
#define VW_BOOTSTRAP_H

#include <stddef.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "kube.h"

#define WH_BOOT_CA_LIFETIME       ((time_t)10 * 365 * 86400) /* 10 years */
#define WH_BOOT_LEAF_LIFETIME     ((time_t)365 * 86400)      /* 1 year */
#define WH_BOOT_LEAF_RENEW_BEFORE ((time_t)30 * 86400)       /* 30 days */
#define WH_BOOT_MAX_IPS           4
#define WH_BOOT_NAME_MAX          254 /* a DNS name and its NUL */

struct wh_boot_config {
	const char *ns;         /* the Secret's namespace */
	const char *name;       /* the Secret's name */
	const char *service;    /* "svc.ns.svc" (or "svc.ns") */
	const char *const *ips; /* extra IP SANs (e.g. "127.0.0.1"); nips 0: none */
	size_t nips;
	const char *webhook_config; /* name of both webhook configurations */
	const char *cert_dir;       /* tls.crt and tls.key are written here */
};

/* The four DNS names of a Service given as "svc.ns", "svc.ns.svc" or
 * "svc.ns.svc.cluster.local": svc, svc.ns, svc.ns.svc,
 * svc.ns.svc.cluster.local. Labels must be DNS-1123 (a-z, 0-9, '-', 1-63
 * chars). 0, or -1 when service has another shape. Pure. */
int wh_boot_service_names(const char *service, char dns[4][WH_BOOT_NAME_MAX]);

/* The PEMs kept in the Secret. Owned strings; free with wh_boot_pems_free()
 * (keys wiped). */
struct wh_boot_pems {
	char *ca_crt, *ca_key, *tls_crt, *tls_key;
};
void wh_boot_pems_free(struct wh_boot_pems *p);

/* The Secret to POST: type kubernetes.io/tls, data ca.crt, ca.key, tls.crt,
 * tls.key (base64), labelled app.kubernetes.io/component=webhook. A new string
 * holding key material: free it with wh_boot_secret_free(). NULL on OOM. */
char *wh_boot_secret_render(const char *ns, const char *name, const struct wh_boot_pems *p);
/* The merge patch replacing the four data keys, guarded by resourceVersion rv
 * (the API server answers 409 when the Secret changed since). Same ownership. */
char *wh_boot_secret_patch_render(const char *rv, const struct wh_boot_pems *p);
/* OPENSSL_cleanse the string, then free it. NULL is fine. */
void wh_boot_secret_free(char *json);

/* The JSON patch that sets clientConfig.caBundle of every webhooks[] entry of
 * cfg (a Mutating- or ValidatingWebhookConfiguration) to ca_b64. 0 with
 * *patch NULL when every entry already has it (nothing to write); 0 with
 * *patch a new string (caller frees) otherwise; -1 when cfg has no
 * metadata.resourceVersion or an entry has no name, or on OOM. Pure. */
int wh_boot_cabundle_patch(yajl_val cfg, const char *ca_b64, char **patch);

/* One pass of steps 1-3 above at time now. *files_changed (may be NULL) is set
 * to 1 when tls.crt/tls.key in cert_dir were (re)written, else 0. kc should be
 * a client of its own (its timeout is not touched here). 0, or -1 with err
 * when the certificate could not be made available; a caBundle that could
 * not be updated is logged and makes it return -1 too (retry later), after
 * the files were written. */
int wh_boot_sync(struct kube_client *kc, const struct wh_boot_config *cfg, time_t now,
                 int *files_changed, char *err, size_t errlen);

#endif

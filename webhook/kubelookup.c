/*
 * kubelookup: wh_lookup over kube_get / kube_list with a per-request budget.
 */
#include "kubelookup.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MIN_CALL_MS 50

void wh_kube_lookup_init(struct wh_kube_lookup *kl, struct kube_client *kc, long budget_ms)
{
	memset(kl, 0, sizeof(*kl));
	kl->kc = kc;
	kl->budget_ms = budget_ms > 0 ? budget_ms : 3000;
	kl->deadline_ms = now_ms() + kl->budget_ms;
}

void wh_kube_lookup_begin(void *arg)
{
	struct wh_kube_lookup *kl = arg;

	kl->deadline_ms = now_ms() + kl->budget_ms;
	kl->calls = 0;
}

static const struct kube_kind *kind_of(enum wh_kind k)
{
	switch (k) {
	case WH_KIND_CLUSTER:
		return &KUBE_VW_CLUSTER;
	case WH_KIND_USER:
		return &KUBE_VW_USER;
	case WH_KIND_ENCRYPTIONKEY:
		return &KUBE_VW_ENCRYPTIONKEY;
	case WH_KIND_NAMESPACE:
		return &KUBE_NAMESPACE;
	case WH_KIND_SECRET:
		return &KUBE_SECRET;
	}
	return NULL;
}

/* Arm the client's timeout with what is left; -1 when nothing is. */
static int arm(struct wh_kube_lookup *kl, char *err, size_t errlen)
{
	long long left = kl->deadline_ms - now_ms();

	kl->calls++;
	if (left < MIN_CALL_MS) {
		snprintf(err, errlen, "the %ldms lookup budget of this request is spent",
		         kl->budget_ms);
		return -1;
	}
	kube_client_set_timeout(kl->kc, (long)left);
	return 0;
}

static int get(void *ctx, enum wh_kind k, const char *ns, const char *name, yajl_val *out,
               char *err, size_t errlen)
{
	struct wh_kube_lookup *kl = ctx;
	const struct kube_kind *kind = kind_of(k);
	struct buf path = BUF_INIT(4096);
	struct kube_error ke;
	yajl_val v = NULL;
	int rc = WH_LOOKUP_ERROR;

	if (!kind || !name || !*name) {
		snprintf(err, errlen, "nothing to look up");
		goto out;
	}
	if (kube_path(&path, kind, ns, name, NULL)) {
		snprintf(err, errlen, "name too long");
		goto out;
	}
	if (arm(kl, err, errlen))
		goto out;
	if (kube_get(kl->kc, path.ptr, &v, &ke) == 0 && v) {
		*out = v;
		rc = WH_LOOKUP_FOUND;
	} else if (kube_is_not_found(&ke)) {
		rc = WH_LOOKUP_NOT_FOUND;
	} else {
		if (v)
			yajl_tree_free(v);
		kube_strerror(&ke, err, errlen);
	}
out:
	buf_free(&path);
	return rc;
}

struct list_ctx {
	wh_item_fn fn;
	void *arg;
	int stopped;
};

static int each(yajl_val item, void *arg)
{
	struct list_ctx *l = arg;

	if (!l->stopped && l->fn(item, l->arg))
		l->stopped = 1;
	return KUBE_ITEM_KEEP;
}

/* One LIST per field selector of any_of (each small where the CRD makes the
 * fields selectable), else one LIST of everything. */
static int list(void *ctx, enum wh_kind k, const char *ns, const char *const *any_of, wh_item_fn fn,
                void *arg, char *err, size_t errlen)
{
	struct wh_kube_lookup *kl = ctx;
	const struct kube_kind *kind = kind_of(k);
	struct buf path = BUF_INIT(4096);
	struct list_ctx l = {fn, arg, 0};
	struct kube_error ke;
	int rc = WH_LOOKUP_ERROR, *no_fs = NULL;

	if (!kind || kube_path(&path, kind, ns, NULL, NULL)) {
		snprintf(err, errlen, "cannot build the list path");
		goto out;
	}
	if ((size_t)k < sizeof(kl->no_field_selectors) / sizeof(kl->no_field_selectors[0]))
		no_fs = &kl->no_field_selectors[k];
	if (any_of && any_of[0] && no_fs && !*no_fs) {
		size_t base = path.len;
		for (size_t i = 0; any_of[i] && !l.stopped; i++) {
			path.len = base;
			if (buf_adds(&path, "?fieldSelector=") ||
			    buf_add_urlenc(&path, any_of[i])) {
				snprintf(err, errlen, "field selector too long");
				goto out;
			}
			if (arm(kl, err, errlen))
				goto out;
			if (kube_list(kl->kc, path.ptr, NULL, 250, each, &l, NULL, &ke) == 0)
				continue;
			if ((ke.http == 400 || ke.code == 400) && i == 0) {
				/* "field label not supported": list everything (fn filters) */
				char eb[300];
				*no_fs = 1;
				log_warnx("lookup",
				          "field selectors refused for %s (%s): listing all of "
				          "them from now on; install the CRDs of this release "
				          "(selectableFields, Kubernetes 1.31+)",
				          kind->plural, kube_strerror(&ke, eb, sizeof(eb)));
				break;
			}
			kube_strerror(&ke, err, errlen);
			goto out;
		}
		if (!*no_fs) {
			rc = WH_LOOKUP_FOUND;
			goto out;
		}
		path.len = base;
		path.ptr[base] = '\0';
	}
	if (arm(kl, err, errlen))
		goto out;
	if (kube_list(kl->kc, path.ptr, NULL, 250, each, &l, NULL, &ke) == 0)
		rc = WH_LOOKUP_FOUND;
	else
		kube_strerror(&ke, err, errlen);
out:
	buf_free(&path);
	return rc;
}

void wh_kube_lookup_bind(struct wh_kube_lookup *kl, struct wh_lookup *lk)
{
	lk->ctx = kl;
	lk->get = get;
	lk->list = list;
}

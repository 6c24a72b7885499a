/*
 * cachelookup: get() from informer caches, the rest from a fallback (see
 * cachelookup.h).
 */
#include "cachelookup.h"

#include <stdio.h>
#include <string.h>

#include "informer.h"

void wh_cache_lookup_init(struct wh_cache_lookup *cl, const struct wh_lookup *next)
{
	memset(cl, 0, sizeof(*cl));
	if (next)
		cl->next = *next;
}

int wh_cache_lookup_set(struct wh_cache_lookup *cl, enum wh_kind kind,
                        const struct wh_cache_source *src)
{
	if ((int)kind < 0 || (int)kind >= WH_CACHE_KINDS || kind == WH_KIND_SECRET || !src ||
	    !src->synced || !src->get)
		return -1;
	cl->src[kind] = *src;
	return 0;
}

static int inf_synced(void *ctx)
{
	return informer_is_current(ctx);
}

static yajl_val inf_get(void *ctx, const char *key)
{
	return informer_get(ctx, key);
}

int wh_cache_lookup_set_informer(struct wh_cache_lookup *cl, enum wh_kind kind,
                                 struct informer *inf)
{
	struct wh_cache_source s = {inf, inf_synced, inf_get};

	if (!inf)
		return -1;
	return wh_cache_lookup_set(cl, kind, &s);
}

static int fallback_get(struct wh_cache_lookup *cl, enum wh_kind k, const char *ns,
                        const char *name, yajl_val *out, char *err, size_t errlen)
{
	if (!cl->next.get) {
		snprintf(err, errlen, "no lookup available");
		return WH_LOOKUP_ERROR;
	}
	return cl->next.get(cl->next.ctx, k, ns, name, out, err, errlen);
}

static int get(void *ctx, enum wh_kind k, const char *ns, const char *name, yajl_val *out,
               char *err, size_t errlen)
{
	struct wh_cache_lookup *cl = ctx;
	const struct wh_cache_source *s;
	char key[512];
	yajl_val v;
	int n;

	if ((int)k < 0 || (int)k >= WH_CACHE_KINDS || !cl->src[k].get || !name || !*name) {
		cl->stats.uncached++;
		return fallback_get(cl, k, ns, name, out, err, errlen);
	}
	s = &cl->src[k];
	if (!s->synced(s->ctx)) {
		cl->stats.unsynced++;
		return fallback_get(cl, k, ns, name, out, err, errlen);
	}
	if (k == WH_KIND_NAMESPACE || !ns || !*ns)
		n = snprintf(key, sizeof(key), "%s", name);
	else
		n = snprintf(key, sizeof(key), "%s/%s", ns, name);
	v = n < 0 || (size_t)n >= sizeof(key) ? NULL : s->get(s->ctx, key);
	if (!v) {
		cl->stats.misses++;
		return fallback_get(cl, k, ns, name, out, err, errlen);
	}
	cl->stats.hits++;
	*out = v;
	return WH_LOOKUP_FOUND;
}

static int list(void *ctx, enum wh_kind k, const char *ns, const char *const *any_of, wh_item_fn fn,
                void *arg, char *err, size_t errlen)
{
	struct wh_cache_lookup *cl = ctx;

	if (!cl->next.list) {
		snprintf(err, errlen, "no lookup available");
		return WH_LOOKUP_ERROR;
	}
	return cl->next.list(cl->next.ctx, k, ns, any_of, fn, arg, err, errlen);
}

void wh_cache_lookup_bind(struct wh_cache_lookup *cl, struct wh_lookup *lk)
{
	lk->ctx = cl;
	lk->get = get;
	lk->list = list;
}

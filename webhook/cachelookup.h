/*
 * cachelookup: struct wh_lookup that answers get() from informer caches and
 * falls back to another wh_lookup (the live API server, kubelookup.h).
 *
 * Why: every admission request used to make blocking GETs on the webhook's
 * one event-loop thread (the Namespace, the EncryptionKey a Cluster names,
 * the Cluster a User names); a cache hit costs a copy instead of a round
 * trip.
 *
 * Rules (one per kind, set with wh_cache_lookup_set):
 *   - a cache answers only while it is current: synced (its first LIST is
 *     loaded) and its last LIST or watch start did not fail (a refused watch,
 *     e.g. after the webhook's RBAC was narrowed, sends every get to the
 *     fallback until one succeeds: informer_is_current); otherwise every get
 *     goes to the fallback;
 *   - a hit returns the cached object (a deep copy the caller owns);
 *   - a miss goes to the fallback, so an object created a moment ago, not
 *     yet seen by the watch, is never reported missing, and the fallback's
 *     errors (WH_LOOKUP_ERROR, which the rules turn into a denial) stay
 *     exactly what they were;
 *   - list() always goes to the fallback;
 *   - Secrets are never cached (wh_cache_lookup_set refuses them): the
 *     webhook keeps no Secret in memory and has no right to list them.
 * Staleness: a hit may be up to one watch event behind the API server (an
 * EncryptionKey deleted or a namespace label removed a moment ago). The
 * operator runs the same rules again at reconcile.
 *
 * Thread safety: one wh_cache_lookup belongs to one thread (the event loop);
 * the sources must be safe to call from it (informer_get and
 * informer_is_current are: they take the informer's own locks and return
 * copies).
 */
#ifndef VW_CACHELOOKUP_H
#define VW_CACHELOOKUP_H

#include <yajl/yajl_tree.h>

#include "rules.h"

struct informer;

/* One kind's cache. synced: non-zero once it may answer. get: a deep copy of
 * the object under key ("namespace/name", or "name" for namespaces) that the
 * caller frees, or NULL when absent. */
struct wh_cache_source {
	void *ctx;
	int (*synced)(void *ctx);
	yajl_val (*get)(void *ctx, const char *key);
};

#define WH_CACHE_KINDS (WH_KIND_SECRET + 1)

struct wh_cache_stats {
	unsigned long hits;     /* answered from a cache */
	unsigned long misses;   /* synced cache without the object: fallback */
	unsigned long unsynced; /* cache not synced yet: fallback */
	unsigned long uncached; /* kind without a cache: fallback */
};

struct wh_cache_lookup {
	struct wh_lookup next; /* the fallback (its ctx is borrowed) */
	struct wh_cache_source src[WH_CACHE_KINDS];
	struct wh_cache_stats stats;
};

/* No caches yet: every lookup goes to next (copied; next->ctx borrowed). */
void wh_cache_lookup_init(struct wh_cache_lookup *cl, const struct wh_lookup *next);
/* Serve get() of kind from src (copied; src->ctx borrowed). 0, or -1 for
 * WH_KIND_SECRET, a kind out of range or a source without functions. */
int wh_cache_lookup_set(struct wh_cache_lookup *cl, enum wh_kind kind,
                        const struct wh_cache_source *src);
/* Serve get() of kind from an informer (borrowed; it must outlive cl's use). */
int wh_cache_lookup_set_informer(struct wh_cache_lookup *cl, enum wh_kind kind,
                                 struct informer *inf);
/* Fill lk so that the rules call cl. */
void wh_cache_lookup_bind(struct wh_cache_lookup *cl, struct wh_lookup *lk);

#endif

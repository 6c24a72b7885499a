/*
 * informer: keeps an in-memory cache of one kind of object in sync with the
 * API server and tells a handler what changed.
 *
 * One thread per informer: a paged LIST fills the cache, then a WATCH (with
 * bookmarks) streams changes from the list's resourceVersion. A watch that
 * ends is resumed from the last resourceVersion seen; a 410 Gone (too old)
 * makes it relist, and the handler hears of objects that changed or vanished
 * while it was away. Errors back off exponentially (1 s .. 30 s).
 *
 * The handler runs on the informer thread and must be quick (enqueue a key).
 * Cache reads return deep copies, so callers never hold the lock.
 * Keys are "namespace/name" ("name" for cluster-scoped kinds).
 */
#ifndef VW_INFORMER_H
#define VW_INFORMER_H

#include <signal.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "kube.h"

enum informer_event { INF_ADDED, INF_UPDATED, INF_DELETED };

/* obj is borrowed for the call (the new state; the last known one on delete).
 * old, also borrowed: the state cached before an INF_UPDATED, else NULL. */
typedef void (*informer_handler)(enum informer_event ev, const char *key, yajl_val obj,
                                 yajl_val old, void *ctx);

struct informer_opts {
	const struct kube_kind *kind;
	const char *namespace;      /* NULL: all namespaces */
	const char *label_selector; /* NULL: everything */
	int watch_timeout_s;        /* server-side watch timeout (default 300) */
	size_t max_event_bytes;     /* default 4 MiB */
	informer_handler handler;
	void *ctx;
};

struct informer;

struct informer *informer_new(struct kube_config *cfg, const struct informer_opts *opts);
/* Start the thread. 0 or -1. */
int informer_start(struct informer *inf);
/* Ask the thread to stop (returns within about a second) and join it. */
void informer_stop(struct informer *inf);
void informer_free(struct informer *inf);

/* 1 once the first LIST has been loaded into the cache. */
int informer_has_synced(struct informer *inf);
/* 1 when synced and the last LIST or watch start did not fail: the cache is
 * being kept up to date (a refused LIST or watch, e.g. after RBAC was narrowed,
 * makes it 0 until one succeeds). An established watch is not re-authorized by
 * the API server, so a narrowing shows at the watch's next start (at most the
 * watch timeout). */
int informer_is_current(struct informer *inf);
/* Wait up to timeout_ms for has_synced; 0 or -1. */
int informer_wait_synced(struct informer *inf, long timeout_ms);

/* A deep copy of the cached object (caller frees), or NULL when absent. */
yajl_val informer_get(struct informer *inf, const char *key);
size_t informer_len(struct informer *inf);
/* Call cb with each cached key (under the read lock: cb must not call back
 * into this informer). */
void informer_foreach_key(struct informer *inf, void (*cb)(const char *key, void *ctx), void *ctx);

/* Counters: lists, watches started, relists after 410, events. */
struct informer_stats {
	unsigned long lists, watches, relists, events, errors;
};
void informer_get_stats(struct informer *inf, struct informer_stats *out);

/* "ns/name" (or "name") of obj into out; 0 or -1. Pure. */
int informer_key(yajl_val obj, char *out, size_t outlen);

#endif

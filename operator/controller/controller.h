/*
 * controller: wires informers, the work queue and a pool of workers.
 *
 * Each registered kind gets an informer; every change of one of its objects
 * enqueues the key "Kind/namespace/name" (for kinds set up with
 * controller_skip_status_updates, an update of nothing but the status is not
 * a change). Workers take keys off the queue and
 * call the kind's reconcile function with the cached object (a copy; NULL
 * when it was deleted). Reconcile functions are straight-line code that must be
 * idempotent: the same key may be reconciled any number of times.
 */
#ifndef VW_CONTROLLER_H
#define VW_CONTROLLER_H

#include <yajl/yajl_tree.h>

#include "informer.h"
#include "kube.h"
#include "workqueue.h"

enum reconcile_result {
	RECONCILE_DONE = 0, /* converged; forget failures */
	RECONCILE_RETRY,    /* failed: retry with per-key backoff */
	RECONCILE_REQUEUE,  /* done for now, but come back after requeue_ms */
};

struct controller;

/* obj: the cached object (owned by the caller, freed after the call) or NULL
 * when the object no longer exists. requeue_ms: set with RECONCILE_REQUEUE. */
typedef enum reconcile_result (*reconcile_fn)(struct controller *ctl, struct kube_client *kc,
                                              const char *ns, const char *name, yajl_val obj,
                                              long *requeue_ms, void *ctx);

struct controller_opts {
	const char *namespace; /* NULL: watch all namespaces */
	int workers;           /* default 2 */
};

struct controller *controller_new(struct kube_config *cfg, const struct controller_opts *o);
/* Register a kind before controller_start. 0 or -1. */
int controller_add_kind(struct controller *ctl, const struct kube_kind *kind, reconcile_fn fn,
                        void *ctx);
/* For a registered kind, before controller_start: do not enqueue an update
 * that changes only .status, metadata.resourceVersion or metadata.managedFields
 * (the operator's own status writes), as client-go's predicates do. Only for
 * kinds whose reconcile does not act on a change of its own status; the
 * periodic resync still comes. 0, or -1 when the kind is not registered. */
int controller_skip_status_updates(struct controller *ctl, const struct kube_kind *kind);
/* Start informers, wait for their first sync (bounded), start workers. */
int controller_start(struct controller *ctl);
/* Stop workers and informers; returns when every thread has ended. */
void controller_stop(struct controller *ctl);
void controller_free(struct controller *ctl);

/* The informer of a registered kind (to read other objects from the cache). */
struct informer *controller_informer(struct controller *ctl, const struct kube_kind *kind);
struct workqueue *controller_queue(struct controller *ctl);
/* Reconciles run so far (all kinds). */
unsigned long controller_reconciles(struct controller *ctl);
/* Log the info line "stats" with the fields reconciles (total so far),
 * skipped (status-only updates not enqueued), queued (keys ready to run) and
 * delayed (keys waiting for a resync or a backoff): at once when force, else
 * only when a count changed and the last line is 60 s old or more. Call from
 * one thread (the main loop); SIGUSR1 is the operator's way to force one. */
void controller_log_stats(struct controller *ctl, int force);
/* One more figure for the "stats" line, read when it is logged (e.g. how often
 * a Cluster's credentials were loaded): a name and a function. One only. */
void controller_stats_extra(struct controller *ctl, const char *name,
                            unsigned long long (*fn)(void));

/* 1 when new differs from old in nothing but .status, metadata.resourceVersion
 * and metadata.managedFields (every other field, metadata.generation, labels,
 * annotations, finalizers, deletionTimestamp, ownerReferences, spec, data...
 * counts); 0 otherwise, or when either is not an object. Pure. */
int controller_status_only_change(yajl_val old, yajl_val new);

/* Split "Kind/ns/name" into its parts (pointers into buf). Pure. 0 or -1. */
int controller_split_key(char *buf, const char **kind, const char **ns, const char **name);

#endif

/*
 * memlookup: struct wh_lookup over objects held in memory.
 *
 * The operator fills one from its informer cache to run the admission rules
 * during reconcile; the unit tests and the fuzzer fill one by hand. Objects
 * are keyed by kind, metadata.namespace and metadata.name (namespaces by
 * name alone). get() hands out a deep copy; list() visits the stored trees in
 * insertion order. wh_memlookup_fail() makes lookups of one kind fail, to
 * test the fail-closed paths. Not thread-safe.
 */
#ifndef VW_MEMLOOKUP_H
#define VW_MEMLOOKUP_H

#include "rules.h"

#define WH_MEM_FAIL_NONE (-1)
#define WH_MEM_FAIL_ALL  (-2)

struct wh_memlookup;

struct wh_memlookup *wh_memlookup_new(void);
/* Store obj (ownership taken, also on failure). 0 or -1 (no metadata.name,
 * out of memory). An object with the same kind, namespace and name is
 * replaced. */
int wh_memlookup_take(struct wh_memlookup *m, enum wh_kind kind, yajl_val obj);
/* Parse json and store it. 0 or -1. */
int wh_memlookup_add_json(struct wh_memlookup *m, enum wh_kind kind, const char *json);
/* Lookups of kind (or WH_MEM_FAIL_ALL) fail with err from now on;
 * WH_MEM_FAIL_NONE restores. */
void wh_memlookup_fail(struct wh_memlookup *m, int kind, const char *err);
/* Number of get and list calls so far. */
unsigned long wh_memlookup_calls(const struct wh_memlookup *m);
void wh_memlookup_bind(struct wh_memlookup *m, struct wh_lookup *lk);
void wh_memlookup_free(struct wh_memlookup *m);

#endif

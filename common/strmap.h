/*
 * strmap: a string-keyed hash map (chained, FNV-1a, grows by doubling).
 * Keys are copied; values are opaque pointers owned by the caller, except in
 * strmap_free where free_val (may be NULL) is applied to each value.
 * Not thread-safe: callers lock.
 */
#ifndef VW_STRMAP_H
#define VW_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m, void (*free_val)(void *));
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace. *old (may be NULL) gets the replaced value (NULL if new).
 * 0, or -1 on out of memory (map unchanged). */
int strmap_put(struct strmap *m, const char *key, void *val, void **old);
/* Remove; returns the value or NULL when absent. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_len(const struct strmap *m);
/* Visit every entry; stop early when cb returns non-zero (returned). The map
 * must not be changed during the walk. */
int strmap_foreach(const struct strmap *m, int (*cb)(const char *key, void *val, void *ctx),
                   void *ctx);

#endif

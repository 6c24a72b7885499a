/*
 * synccache: what the operator last saw an external system (Milvus) agree
 * with, in memory only. A reconciler fingerprints the state it wants
 * (SHA-256 of everything the external side must reflect) and, after a pass
 * that converged, records it; while the same fingerprint is fresh, the next
 * pass need not ask the external system again. Nothing is persisted: after a
 * restart everything is checked once. Thread-safe.
 */
#ifndef VW_SYNCCACHE_H
#define VW_SYNCCACHE_H

#include <stddef.h>

#define SYNC_FP_LEN 32

/* 1 when key's recorded fingerprint equals fp and is younger than max_age_ms. */
int sync_fresh(const char *key, const unsigned char fp[SYNC_FP_LEN], long max_age_ms);
/* Record fp for key (now); fp NULL forgets key. */
void sync_record(const char *key, const unsigned char *fp);
/* Notes: a short string per key, what this process last wrote somewhere whose
 * echo (an informer's copy) may lag: read-your-writes for one field. Thread-safe;
 * in memory only, like the rest. sync_note_get: 1 and out filled (truncated to
 * outlen) when key has a note, else 0. sync_note_set: val NULL forgets key. */
int sync_note_get(const char *key, char *out, size_t outlen);
void sync_note_set(const char *key, const char *val);

/* Forget everything, notes too (tests; the operator at exit, to free the cache). */
void sync_reset(void);

#endif

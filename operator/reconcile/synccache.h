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

#define SYNC_FP_LEN 32

/* 1 when key's recorded fingerprint equals fp and is younger than max_age_ms. */
int sync_fresh(const char *key, const unsigned char fp[SYNC_FP_LEN], long max_age_ms);
/* Record fp for key (now); fp NULL forgets key. */
void sync_record(const char *key, const unsigned char *fp);
/* Forget everything (tests; the operator at exit, to free the cache). */
void sync_reset(void);

#endif

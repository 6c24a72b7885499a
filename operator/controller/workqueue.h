/*
 * workqueue: a de-duplicating, rate-limited queue of string keys shared by
 * informer threads (producers) and worker threads (consumers), with the
 * semantics of client-go's workqueue:
 *   - a key is in the queue at most once, however often it is added;
 *   - a key being processed is never handed to a second worker; if it is added
 *     meanwhile it is queued again when the worker calls wq_done();
 *   - wq_add_rate_limited() re-adds after an exponential per-key backoff
 *     (base * 2^failures, capped); wq_forget() resets the key's failures. A
 *     failure of a run that wq_add() brought forward, before the key's retry
 *     was due, is not counted: the retry stays where it was (client-go would
 *     double the backoff per event, not per retry);
 *   - wq_add_after() re-adds after a delay (a resync or a certificate renewal);
 *     of two due times for a key the earlier one stands, and wq_add() of a
 *     delayed key makes it ready now. wq_forget() leaves a pending delay alone.
 * Keys are copied in; wq_get() hands out a copy the worker frees after wq_done().
 *
 * Cost: delayed keys sit in a binary min-heap on their due time, so every
 * operation is O(log n) in the number of keys (none walks the key set), and
 * a wake-up signals one worker: at most one idle worker sleeps until the next
 * due time, the others until work is signalled.
 */
#ifndef VW_WORKQUEUE_H
#define VW_WORKQUEUE_H

#include <stddef.h>

struct workqueue;

/* base_ms, max_ms: the per-key backoff range (e.g. 5 ms .. 300 s). */
struct workqueue *wq_new(long base_ms, long max_ms);
void wq_free(struct workqueue *q);

void wq_add(struct workqueue *q, const char *key);
void wq_add_after(struct workqueue *q, const char *key, long delay_ms);
/* Re-add after the key's next backoff (or, before the pending retry is due,
 * at that retry); returns the delay used (ms). */
long wq_add_rate_limited(struct workqueue *q, const char *key);
/* The same, but not sooner than min_ms (the server's Retry-After). */
long wq_add_rate_limited_min(struct workqueue *q, const char *key, long min_ms);
void wq_forget(struct workqueue *q, const char *key);
int wq_failures(struct workqueue *q, const char *key);

/* Block until a key is ready; *key (caller frees) and 0, or -1 once the queue
 * is shut down and empty of ready work. */
int wq_get(struct workqueue *q, char **key);
void wq_done(struct workqueue *q, const char *key);

/* Wake every waiter; wq_get returns -1 from now on. */
void wq_shutdown(struct workqueue *q);
/* Keys ready to run (not counting delayed or in-process ones). */
size_t wq_len(struct workqueue *q);
/* Keys waiting for a delay or a backoff to expire. */
size_t wq_delayed_len(struct workqueue *q);

#endif

#include "workqueue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strmap.h"
#include "util.h"

struct item {
	char *key;
	struct item *next;      /* in the ready FIFO */
	int queued;             /* in the ready FIFO */
	int processing;         /* handed to a worker */
	int dirty;              /* added while processing */
	int failures;           /* for the backoff */
	long long retry_at_ms;  /* when the last counted failure's retry is due */
	long long ready_at_ms;  /* >0: waiting in the delayed heap, at heap[hidx] */
	unsigned long long seq; /* order of entry among equal ready_at_ms */
	size_t hidx;
};

struct workqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct strmap *items; /* key -> struct item */
	struct item *head, *tail;
	size_t nready;
	/* The delayed set: a binary min-heap on (ready_at_ms, seq). Its capacity
	 * is kept at least the number of items, so a push never allocates. */
	struct item **heap;
	size_t nheap, heapcap;
	unsigned long long seq;
	/* Workers blocked in wq_get; at most one of them (the timer) sleeps until
	 * the earliest due time, timer_at; the others wait for a signal. */
	size_t nwaiters;
	int timer_armed;
	long long timer_at;
	unsigned long timer_gen;
	int shutdown;
	long base_ms, max_ms;
};

struct workqueue *wq_new(long base_ms, long max_ms)
{
	struct workqueue *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return NULL;
	q->items = strmap_new();
	if (!q->items) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	q->base_ms = base_ms > 0 ? base_ms : 5;
	q->max_ms = max_ms > q->base_ms ? max_ms : q->base_ms;
	return q;
}

static void item_free(void *p)
{
	struct item *it = p;
	if (it) {
		free(it->key);
		free(it);
	}
}

void wq_free(struct workqueue *q)
{
	if (!q)
		return;
	strmap_free(q->items, item_free);
	free(q->heap);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static struct item *get_item(struct workqueue *q, const char *key)
{
	struct item *it = strmap_get(q->items, key);

	if (it)
		return it;
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->key = strdup(key);
	if (!it->key || strmap_put(q->items, key, it, NULL)) {
		item_free(it);
		return NULL;
	}
	if (strmap_len(q->items) > q->heapcap) {
		size_t nc = q->heapcap ? q->heapcap * 2 : 64;
		struct item **nh = realloc(q->heap, nc * sizeof(*nh));
		if (!nh) {
			strmap_del(q->items, key);
			item_free(it);
			return NULL;
		}
		q->heap = nh;
		q->heapcap = nc;
	}
	return it;
}

static int heap_less(const struct item *a, const struct item *b)
{
	return a->ready_at_ms < b->ready_at_ms ||
	       (a->ready_at_ms == b->ready_at_ms && a->seq < b->seq);
}

static void heap_set(struct workqueue *q, size_t i, struct item *it)
{
	q->heap[i] = it;
	it->hidx = i;
}

static void heap_up(struct workqueue *q, size_t i)
{
	struct item *it = q->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(it, q->heap[p]))
			break;
		heap_set(q, i, q->heap[p]);
		i = p;
	}
	heap_set(q, i, it);
}

static void heap_down(struct workqueue *q, size_t i)
{
	struct item *it = q->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->nheap)
			break;
		if (c + 1 < q->nheap && heap_less(q->heap[c + 1], q->heap[c]))
			c++;
		if (!heap_less(q->heap[c], it))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, it);
}

/* Take it out of the delayed heap (it->ready_at_ms becomes 0). */
static void heap_remove(struct workqueue *q, struct item *it)
{
	size_t i = it->hidx;
	struct item *last = q->heap[--q->nheap];

	it->ready_at_ms = 0;
	it->hidx = 0;
	if (last == it)
		return;
	heap_set(q, i, last);
	if (i > 0 && heap_less(last, q->heap[(i - 1) / 2]))
		heap_up(q, i);
	else
		heap_down(q, i);
}

/* Drop bookkeeping for a key that is idle and has nothing to remember. */
static void maybe_release(struct workqueue *q, struct item *it)
{
	if (!it->queued && !it->processing && !it->ready_at_ms && it->failures == 0) {
		strmap_del(q->items, it->key);
		item_free(it);
	}
}

static void enqueue_locked(struct workqueue *q, struct item *it)
{
	if (it->queued)
		return;
	if (it->processing) {
		it->dirty = 1;
		return;
	}
	if (it->ready_at_ms)
		heap_remove(q, it);
	it->queued = 1;
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->nready++;
	pthread_cond_signal(&q->cond);
}

void wq_add(struct workqueue *q, const char *key)
{
	struct item *it;

	pthread_mutex_lock(&q->lock);
	if (!q->shutdown && (it = get_item(q, key)) != NULL)
		enqueue_locked(q, it);
	pthread_mutex_unlock(&q->lock);
}

static void delay_locked(struct workqueue *q, struct item *it, long delay_ms)
{
	long long at = now_ms() + (delay_ms > 0 ? delay_ms : 0);

	if (it->queued)
		return; /* already due now */
	if (it->ready_at_ms && it->ready_at_ms <= at)
		return; /* an earlier wake-up is already set */
	if (it->ready_at_ms) {
		it->ready_at_ms = at; /* brought forward */
		heap_up(q, it->hidx);
	} else {
		it->ready_at_ms = at;
		it->seq = q->seq++;
		heap_set(q, q->nheap++, it); /* get_item reserved the room */
		heap_up(q, it->hidx);
	}
	/* Only a new earliest due time concerns a sleeping worker: the timer
	 * already sleeps until timer_at, and a waiter woken here re-arms. */
	if (it->hidx == 0 && q->nwaiters && (!q->timer_armed || at < q->timer_at))
		pthread_cond_signal(&q->cond);
}

void wq_add_after(struct workqueue *q, const char *key, long delay_ms)
{
	struct item *it;

	if (delay_ms <= 0) {
		wq_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (!q->shutdown && (it = get_item(q, key)) != NULL)
		delay_locked(q, it, delay_ms);
	pthread_mutex_unlock(&q->lock);
}

long wq_add_rate_limited(struct workqueue *q, const char *key)
{
	return wq_add_rate_limited_min(q, key, 0);
}

long wq_add_rate_limited_min(struct workqueue *q, const char *key, long min_ms)
{
	struct item *it;
	long delay = 0;

	pthread_mutex_lock(&q->lock);
	if (!q->shutdown && (it = get_item(q, key)) != NULL) {
		long long now = now_ms();
		if (it->failures && now < it->retry_at_ms) {
			/* the key ran before its retry was due (wq_add brought it forward,
			 * e.g. for a change of the object) and failed again: keep the retry
			 * where it was. Counting this failure would double the backoff at
			 * the pace of events, not of retries: a burst of errors would leave
			 * the key max_ms away once the events stop. */
			delay = (long)(it->retry_at_ms - now);
		} else {
			delay = q->base_ms;
			for (int i = 0; i < it->failures && delay < q->max_ms; i++)
				delay *= 2;
			if (delay > q->max_ms)
				delay = q->max_ms;
			if (it->failures < 64)
				it->failures++;
			it->retry_at_ms = now + delay;
		}
		if (delay < min_ms) {
			/* the server said when: not sooner (and not later) */
			delay = min_ms;
			it->retry_at_ms = now + delay;
		}
		delay_locked(q, it, delay);
	}
	pthread_mutex_unlock(&q->lock);
	return delay;
}

void wq_forget(struct workqueue *q, const char *key)
{
	struct item *it;

	pthread_mutex_lock(&q->lock);
	it = strmap_get(q->items, key);
	if (it) {
		it->failures = 0;
		it->retry_at_ms = 0;
		maybe_release(q, it);
	}
	pthread_mutex_unlock(&q->lock);
}

int wq_failures(struct workqueue *q, const char *key)
{
	struct item *it;
	int n;

	pthread_mutex_lock(&q->lock);
	it = strmap_get(q->items, key);
	n = it ? it->failures : 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* Move delayed items whose time has come; returns the next wake-up (0: none). */
static long long promote_locked(struct workqueue *q)
{
	long long now;

	if (!q->nheap)
		return 0;
	now = now_ms();
	while (q->nheap && q->heap[0]->ready_at_ms <= now) {
		struct item *it = q->heap[0];
		heap_remove(q, it);
		enqueue_locked(q, it); /* or marks it dirty if in process */
	}
	return q->nheap ? q->heap[0]->ready_at_ms : 0;
}

int wq_get(struct workqueue *q, char **key)
{
	struct item *it;
	char *k;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		long long next = promote_locked(q);
		if (q->head || q->shutdown)
			break;
		q->nwaiters++;
		if (next && (!q->timer_armed || next < q->timer_at)) {
			/* become the timer: sleep until the earliest due time */
			struct timespec ts;
			unsigned long gen = ++q->timer_gen;
			q->timer_armed = 1;
			q->timer_at = next;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			long long wait = next - now_ms();
			if (wait < 1)
				wait = 1;
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
			if (q->timer_armed && q->timer_gen == gen)
				q->timer_armed = 0;
		} else {
			/* nothing delayed, or the timer wakes before anything here is due */
			pthread_cond_wait(&q->cond, &q->lock);
		}
		q->nwaiters--;
	}
	if (q->shutdown || !q->head) {
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	it = q->head;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->nready--;
	it->next = NULL;
	it->queued = 0;
	it->processing = 1;
	/* Leaving: if no waiter sleeps until the next due time (this worker was
	 * the timer), wake one to take that duty. */
	if (q->nheap && !q->timer_armed && q->nwaiters)
		pthread_cond_signal(&q->cond);
	k = strdup(it->key);
	if (!k) {
		it->processing = 0;
		enqueue_locked(q, it);
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	pthread_mutex_unlock(&q->lock);
	*key = k;
	return 0;
}

void wq_done(struct workqueue *q, const char *key)
{
	struct item *it;

	pthread_mutex_lock(&q->lock);
	it = strmap_get(q->items, key);
	if (it) {
		it->processing = 0;
		if (it->dirty && !q->shutdown) {
			it->dirty = 0;
			enqueue_locked(q, it);
		} else {
			it->dirty = 0;
			maybe_release(q, it);
		}
	}
	pthread_mutex_unlock(&q->lock);
}

void wq_shutdown(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutdown = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

size_t wq_len(struct workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	promote_locked(q);
	n = q->nready;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t wq_delayed_len(struct workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	promote_locked(q);
	n = q->nheap;
	pthread_mutex_unlock(&q->lock);
	return n;
}

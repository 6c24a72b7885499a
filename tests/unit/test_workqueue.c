/* Tests for operator/controller/workqueue: de-duplication, one worker per key,
 * re-queue of keys added while processing, per-key backoff, delays, shutdown. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "workqueue.h"
#include "unit.h"

static char *get(struct workqueue *q)
{
	char *k = NULL;
	assert_int_equal(wq_get(q, &k), 0);
	return k;
}

static void test_dedup(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	char *k;

	wq_add(q, "a");
	wq_add(q, "b");
	wq_add(q, "a");
	wq_add(q, "a");
	assert_int_equal(wq_len(q), 2);
	k = get(q);
	assert_string_equal(k, "a"); /* FIFO */
	wq_done(q, k);
	free(k);
	k = get(q);
	assert_string_equal(k, "b");
	wq_done(q, k);
	free(k);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void test_added_while_processing_is_requeued_once(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	char *k = NULL;

	wq_add(q, "a");
	k = get(q);
	wq_add(q, "a"); /* while processing: not handed out again now */
	wq_add(q, "a");
	assert_int_equal(wq_len(q), 0);
	wq_done(q, k);
	free(k);
	assert_int_equal(wq_len(q), 1); /* once, after done */
	k = get(q);
	assert_string_equal(k, "a");
	wq_done(q, k);
	free(k);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void test_backoff_doubles_and_caps(void **state)
{
	struct workqueue *q = wq_new(10, 50);

	assert_int_equal(wq_add_rate_limited(q, "x"), 10);
	assert_int_equal(wq_failures(q, "x"), 1);
	wq_forget(q, "x");
	assert_int_equal(wq_failures(q, "x"), 0);
	{
		struct workqueue *r = wq_new(10, 50);
		long d[5];
		char *k;
		for (int i = 0; i < 5; i++) {
			d[i] = wq_add_rate_limited(r, "y");
			k = get(r);
			wq_done(r, k);
			free(k);
		}
		assert_int_equal(d[0], 10);
		assert_int_equal(d[1], 20);
		assert_int_equal(d[2], 40);
		assert_int_equal(d[3], 50);
		assert_int_equal(d[4], 50);
		wq_free(r);
	}
	wq_free(q);
}

/* A key brought forward by wq_add (a change of its object) that fails again
 * before its retry is due keeps that retry: failures count per retry, not per
 * event, so a burst of errors does not push the key to the maximum backoff. */
static void test_early_failure_keeps_the_retry(void **state)
{
	struct workqueue *q = wq_new(500, 100000);
	long d;
	char *k;

	assert_int_equal(wq_add_rate_limited(q, "x"), 500);
	for (int i = 0; i < 5; i++) {
		wq_add(q, "x"); /* an event: run now */
		k = get(q);
		d = wq_add_rate_limited(q, "x"); /* and fail again */
		wq_done(q, k);
		free(k);
		assert_true(d > 0 && d <= 500);
		assert_int_equal(wq_failures(q, "x"), 1);
	}
	k = get(q); /* the retry, when due */
	d = wq_add_rate_limited(q, "x");
	wq_done(q, k);
	free(k);
	assert_int_equal(d, 1000); /* a failure of the retry itself doubles */
	assert_int_equal(wq_failures(q, "x"), 2);
	wq_free(q);
}

/* The server's Retry-After is a floor under the backoff, not a failure more:
 * the next backoff doubles from where it was. */
static void test_retry_after_is_a_floor(void **state)
{
	struct workqueue *q = wq_new(100, 100000);
	char *k;

	assert_int_equal(wq_add_rate_limited_min(q, "x", 1000), 1000);
	assert_int_equal(wq_failures(q, "x"), 1);
	assert_int_equal(wq_len(q), 0); /* not ready before its second */
	k = get(q);
	assert_string_equal(k, "x");
	/* a longer backoff than the floor stays */
	assert_int_equal(wq_add_rate_limited_min(q, "x", 5), 200);
	wq_done(q, k);
	free(k);
	/* an event before the retry: the floor of a failure then holds too */
	wq_add(q, "x");
	k = get(q);
	assert_true(wq_add_rate_limited_min(q, "x", 3000) == 3000);
	assert_int_equal(wq_failures(q, "x"), 2);
	wq_done(q, k);
	free(k);
	wq_free(q);
}

static void test_add_after_waits(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	long long t0 = now_ms();
	char *k;

	wq_add_after(q, "later", 120);
	assert_int_equal(wq_len(q), 0);
	k = get(q);
	assert_string_equal(k, "later");
	assert_true(now_ms() - t0 >= 110);
	wq_done(q, k);
	free(k);
	/* an immediate add overrides a pending delay */
	wq_add_after(q, "z", 60000);
	wq_add(q, "z");
	assert_int_equal(wq_len(q), 1);
	wq_free(q);
}

static void *consumer(void *arg);

/* Delayed keys come out in due-time order, whatever order they went in. */
static void test_heap_orders_many_keys(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	enum { N = 2000 };
	static long long lo[N], hi[N]; /* bounds of each key's due time */
	char key[32];
	char *k;
	long prev = -1;

	/* a permutation of 0..N-1 (7919 is prime to N), due 200 + i/20 ms */
	for (long j = 0; j < N; j++) {
		long i = (j * 7919) % N;
		long d = 200 + i / 20;
		snprintf(key, sizeof(key), "k%05ld", i);
		lo[i] = now_ms() + d;
		wq_add_after(q, key, d);
		hi[i] = now_ms() + d;
	}
	assert_int_equal(wq_delayed_len(q), N);
	assert_int_equal(wq_len(q), 0);
	for (long j = 0; j < N; j++) {
		long i;
		k = get(q);
		assert_int_equal(k[0], 'k');
		i = strtol(k + 1, NULL, 10);
		assert_true(i >= 0 && i < N);
		/* never before a key due earlier (the clock ticks while adding) */
		if (prev >= 0)
			assert_true(hi[i] >= lo[prev]);
		prev = i;
		wq_done(q, k);
		free(k);
	}
	assert_int_equal(wq_delayed_len(q), 0);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

/* Re-adding a delayed key earlier brings it forward; later leaves it alone. */
static void test_readd_earlier_and_later(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	long long t0 = now_ms();
	char *k;

	wq_add_after(q, "a", 60000);
	wq_add_after(q, "b", 300);
	wq_add_after(q, "c", 60000);
	wq_add_after(q, "a", 100);   /* earlier: now first */
	wq_add_after(q, "b", 90000); /* later: keeps 300 ms */
	assert_int_equal(wq_delayed_len(q), 3);
	k = get(q);
	assert_string_equal(k, "a");
	assert_true(now_ms() - t0 >= 90);
	assert_true(now_ms() - t0 < 290);
	wq_done(q, k);
	free(k);
	k = get(q);
	assert_string_equal(k, "b");
	assert_true(now_ms() - t0 >= 290);
	wq_done(q, k);
	free(k);
	/* wq_add of a delayed key: ready now, no longer delayed */
	wq_add(q, "c");
	assert_int_equal(wq_delayed_len(q), 0);
	assert_int_equal(wq_len(q), 1);
	k = get(q);
	assert_string_equal(k, "c");
	wq_done(q, k);
	free(k);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

/* wq_forget resets the backoff but keeps the pending retry; a key whose
 * delay expires while it is in process runs once more after wq_done. */
static void test_forget_and_due_while_processing(void **state)
{
	struct workqueue *q = wq_new(50, 1000);
	char *k, *k2;

	assert_int_equal(wq_add_rate_limited(q, "x"), 50);
	wq_forget(q, "x");
	assert_int_equal(wq_failures(q, "x"), 0);
	assert_int_equal(wq_delayed_len(q), 1);
	k = get(q); /* the retry still comes */
	assert_string_equal(k, "x");
	wq_add_after(q, "x", 20); /* due while in process */
	usleep(60000);
	assert_int_equal(wq_len(q), 0); /* not handed out twice */
	assert_int_equal(wq_delayed_len(q), 0);
	wq_done(q, k);
	free(k);
	assert_int_equal(wq_len(q), 1); /* once, after done */
	k2 = get(q);
	assert_string_equal(k2, "x");
	wq_done(q, k2);
	free(k2);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

struct timed_consumer {
	struct workqueue *q;
	long long got_at;
};

static void *timed_consumer(void *arg)
{
	struct timed_consumer *c = arg;
	char *k;

	if (wq_get(c->q, &k) == 0) {
		c->got_at = now_ms();
		wq_done(c->q, k);
		free(k);
	}
	return NULL;
}

/* Workers asleep until a far due time (or with nothing due) are woken when an
 * earlier key is delayed, and when the worker timing the queue leaves. */
static void test_earlier_delay_wakes_sleepers(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	struct timed_consumer c[3] = {{q, 0}, {q, 0}, {q, 0}};
	pthread_t t[3];
	long long t0;

	wq_add_after(q, "far", 60000);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, timed_consumer, &c[i]);
	usleep(50000); /* all three asleep: one until "far", two untimed */
	t0 = now_ms();
	wq_add_after(q, "soon1", 100);
	wq_add(q, "now"); /* may take the timer worker away */
	wq_add_after(q, "soon2", 150);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 3; i++) {
		assert_true(c[i].got_at > 0);
		assert_true(c[i].got_at - t0 < 5000);
	}
	assert_int_equal(wq_delayed_len(q), 1); /* "far" */
	wq_shutdown(q);
	wq_free(q);
}

/* Shutdown with delayed keys: waiters return -1, the heap is freed. */
static void test_shutdown_with_delayed_keys(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	pthread_t t[2];
	char key[16];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "d%d", i);
		wq_add_after(q, key, 60000 + i);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, consumer, q);
	usleep(30000);
	wq_shutdown(q);
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_int_equal((long)r, 0);
	}
	wq_add_after(q, "late", 10); /* ignored after shutdown */
	assert_int_equal(wq_delayed_len(q), 100);
	wq_free(q);
}

static void *consumer(void *arg)
{
	struct workqueue *q = arg;
	char *k;
	long n = 0;

	while (wq_get(q, &k) == 0) {
		n++;
		wq_done(q, k);
		free(k);
	}
	return (void *)n;
}

static void test_shutdown_wakes_workers(void **state)
{
	struct workqueue *q = wq_new(5, 1000);
	pthread_t t[3];
	long total = 0;

	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, consumer, q);
	wq_add(q, "a");
	wq_add(q, "b");
	usleep(50000);
	wq_shutdown(q);
	for (int i = 0; i < 3; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	assert_int_equal(total, 2);
	wq_add(q, "c"); /* ignored after shutdown */
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dedup),
	    cmocka_unit_test(test_added_while_processing_is_requeued_once),
	    cmocka_unit_test(test_backoff_doubles_and_caps),
	    cmocka_unit_test(test_early_failure_keeps_the_retry),
	    cmocka_unit_test(test_retry_after_is_a_floor),
	    cmocka_unit_test(test_add_after_waits),
	    cmocka_unit_test(test_shutdown_wakes_workers),
	    cmocka_unit_test(test_heap_orders_many_keys),
	    cmocka_unit_test(test_readd_earlier_and_later),
	    cmocka_unit_test(test_forget_and_due_while_processing),
	    cmocka_unit_test(test_earlier_delay_wakes_sleepers),
	    cmocka_unit_test(test_shutdown_with_delayed_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

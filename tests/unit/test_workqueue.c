/* Tests for operator/controller/workqueue: de-duplication, one worker per key,
 * re-queue of keys added while processing, per-key backoff, delays, shutdown. */
#include <pthread.h>
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
		cmocka_unit_test(test_add_after_waits),
		cmocka_unit_test(test_shutdown_wakes_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

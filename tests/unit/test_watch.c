/* Tests for the watch stream decoder (operator/kube/watch.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "kube.h"
#include "unit.h"

/* What the callback saw: "TYPE <object json>" per line. */
struct rec {
	struct buf log;
	int n;
	int stop_at; /* return non-zero on this event (1-based); 0: never */
};

static int rec_cb(const char *type, yajl_val obj, void *ctx)
{
	struct rec *r = ctx;
	char *d = json_dump(obj);

	assert_non_null(d);
	assert_int_equal(buf_printf(&r->log, "%s %s\n", type, d), 0);
	free(d);
	yajl_tree_free(obj); /* the callback owns obj */
	r->n++;
	return r->stop_at && r->n == r->stop_at;
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->log, 1 << 20);
}

#define SECRET(rv, extra)                                                                          \
	"{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"db\",\"namespace\":"  \
	"\"team-a\",\"uid\":\"6f1c2d3e-0000-4000-8000-000000000001\",\"resourceVersion\":\"" rv    \
	"\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\",\"labels\":{\"app.kubernetes.io/"       \
	"managed-by\":\"vecward\"}" extra "},\"type\":\"Opaque\",\"data\":{\"password\":"          \
	"\"ZmFrZQ==\"}}"

/* As the API server sends it: one event per line, compact JSON. */
static const char recorded[] = "{\"type\":\"ADDED\",\"object\":" SECRET(
    "1001",
    "") "}\n"
        "{\"type\":\"MODIFIED\",\"object\":" SECRET(
            "1002",
            ",\"annotations\":{\"a\":\"caf\\u00e9\"}") "}\n"
                                                       "{\"type\":\"BOOKMARK\",\"object\":{"
                                                       "\"kind\":\"Secret\",\"apiVersion\":\"v1\","
                                                       "\"metadata\":"
                                                       "{\"resourceVersion\":\"1010\","
                                                       "\"creationTimestamp\":null,\"annotations\":"
                                                       "{\"k8s.io/"
                                                       "initial-events-end\":\"true\"}}}}\n"
                                                       "{\"type\":\"DELETED\",\"object\":" SECRET(
                                                           "1011", ",\"deletionTimestamp\":\"2024-"
                                                                   "05-01T10:05:00Z\"") "}\n";

static const char recorded_want[] = "ADDED " SECRET(
    "1001",
    "") "\n"
        "MODIFIED " SECRET(
            "1002",
            ",\"annotations\":{\"a\":\"caf\xc3\xa9\"}") "\n"
                                                        "BOOKMARK "
                                                        "{\"kind\":\"Secret\",\"apiVersion\":"
                                                        "\"v1\",\"metadata\":{\"resourceVersion\":"
                                                        "\"1010\","
                                                        "\"creationTimestamp\":null,"
                                                        "\"annotations\":{\"k8s.io/"
                                                        "initial-events-end\":\"true\"}}}\n"
                                                        "DELETED " SECRET(
                                                            "1011", ",\"deletionTimestamp\":\"2024-"
                                                                    "05-01T10:05:00Z\"") "\n";

static void test_recorded_stream_whole(void **state)
{
	struct rec r;
	struct kube_watch_decoder *d;

	rec_init(&r);
	d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
	assert_non_null(d);
	assert_string_equal(kube_watch_decoder_last_rv(d), "");
	assert_int_equal(kube_watch_decoder_feed(d, recorded, sizeof(recorded) - 1), 0);
	assert_int_equal(kube_watch_decoder_finish(d), 0);
	assert_string_equal(buf_str(&r.log), recorded_want);
	assert_int_equal(r.n, 4);
	assert_int_equal(kube_watch_decoder_events(d), 4);
	assert_string_equal(kube_watch_decoder_last_rv(d), "1011");
	assert_null(kube_watch_decoder_error(d));
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_recorded_stream_every_split(void **state)
{
	size_t len = sizeof(recorded) - 1;

	for (size_t split = 0; split <= len; split++) {
		struct rec r;
		struct kube_watch_decoder *d;
		rec_init(&r);
		d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
		assert_int_equal(kube_watch_decoder_feed(d, recorded, split), 0);
		assert_int_equal(kube_watch_decoder_feed(d, recorded + split, len - split), 0);
		assert_int_equal(kube_watch_decoder_finish(d), 0);
		if (strcmp(buf_str(&r.log), recorded_want) != 0)
			fail_msg("split at %zu:\n%s", split, buf_str(&r.log));
		assert_int_equal(kube_watch_decoder_events(d), 4);
		assert_string_equal(kube_watch_decoder_last_rv(d), "1011");
		assert_null(kube_watch_decoder_error(d));
		kube_watch_decoder_free(d);
		buf_free(&r.log);
	}
}

static void test_recorded_stream_byte_at_a_time(void **state)
{
	struct rec r;
	struct kube_watch_decoder *d;
	const char *first_end = strchr(recorded, '\n');

	rec_init(&r);
	d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
	for (size_t i = 0; i < sizeof(recorded) - 1; i++) {
		assert_int_equal(kube_watch_decoder_feed(d, recorded + i, 1), 0);
		/* each event is delivered on its last byte, and last_rv follows */
		if (recorded + i + 1 == first_end) {
			assert_int_equal(r.n, 1);
			assert_string_equal(kube_watch_decoder_last_rv(d), "1001");
		}
	}
	assert_int_equal(kube_watch_decoder_finish(d), 0);
	assert_string_equal(buf_str(&r.log), recorded_want);
	assert_string_equal(kube_watch_decoder_last_rv(d), "1011");
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_bookmark_moves_last_rv(void **state)
{
	static const char s[] = "{\"type\":\"ADDED\",\"object\":" SECRET(
	    "7", "") "}"
	             "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Secret\",\"metadata\":"
	             "{\"resourceVersion\":\"99\"}}}";
	struct rec r;
	struct kube_watch_decoder *d;

	rec_init(&r);
	d = kube_watch_decoder_new(0, rec_cb, &r);
	assert_int_equal(kube_watch_decoder_feed(d, s, sizeof(s) - 1), 0);
	assert_string_equal(kube_watch_decoder_last_rv(d), "99");
	assert_int_equal(kube_watch_decoder_events(d), 2);
	assert_int_equal(kube_watch_decoder_finish(d), 0);
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_error_410_is_gone(void **state)
{
	static const char s[] = "{\"type\":\"ADDED\",\"object\":" SECRET(
	    "1001",
	    "") "}\n"
	        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	        "\"metadata\":{},"
	        "\"status\":\"Failure\",\"message\":\"too old resource version: 1001 (2345)\","
	        "\"reason\":\"Expired\",\"code\":410}}\n"
	        "{\"type\":\"ADDED\",\"object\":" SECRET("1002", "") "}\n";
	struct rec r;
	struct kube_watch_decoder *d;
	const struct kube_error *e;
	char msg[256];

	rec_init(&r);
	d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
	assert_int_equal(kube_watch_decoder_feed(d, s, sizeof(s) - 1), -1);
	assert_int_equal(r.n, 1); /* the event before the error, not the one after */
	assert_int_equal(kube_watch_decoder_events(d), 1);
	assert_string_equal(kube_watch_decoder_last_rv(d), "1001");
	e = kube_watch_decoder_error(d);
	assert_non_null(e);
	assert_true(kube_is_gone(e));
	assert_int_equal(e->code, 410);
	assert_string_equal(e->reason, "Expired");
	assert_string_equal(e->message, "too old resource version: 1001 (2345)");
	assert_string_equal(kube_strerror(e, msg, sizeof(msg)),
	                    "410 Expired: too old resource version: 1001 (2345)");
	/* the stream is over */
	assert_int_equal(kube_watch_decoder_feed(d, "{}", 2), -1);
	assert_int_equal(kube_watch_decoder_finish(d), -1);
	assert_int_equal(r.n, 1);
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_error_other_status(void **state)
{
	static const char s[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"message\":"
	                        "\"internal error\",\"reason\":\"InternalError\",\"code\":500}}";
	static const char bare[] = "{\"type\":\"ERROR\",\"object\":{}}";
	struct kube_watch_decoder *d = kube_watch_decoder_new(0, NULL, NULL);
	const struct kube_error *e;

	assert_int_equal(kube_watch_decoder_feed(d, s, sizeof(s) - 1), -1);
	e = kube_watch_decoder_error(d);
	assert_non_null(e);
	assert_false(kube_is_gone(e));
	assert_int_equal(e->code, 500);
	assert_string_equal(e->reason, "InternalError");
	kube_watch_decoder_free(d);

	d = kube_watch_decoder_new(0, NULL, NULL);
	assert_int_equal(kube_watch_decoder_feed(d, bare, sizeof(bare) - 1), -1);
	e = kube_watch_decoder_error(d);
	assert_int_equal(e->code, 500);
	assert_string_equal(e->reason, "WatchError");
	assert_string_equal(e->message, "watch: error event");
	kube_watch_decoder_free(d);
}

static void test_event_too_large(void **state)
{
	/* one endless string: must fail near the cap, not buffer it all */
	const size_t cap = 64 * 1024;
	static const char head[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"";
	char chunk[1000];
	struct rec r;
	struct kube_watch_decoder *d;
	const struct kube_error *e;
	size_t fed;
	int rc;

	rec_init(&r);
	d = kube_watch_decoder_new(cap, rec_cb, &r);
	/* a normal event first, to show the budget is per event */
	assert_int_equal(
	    kube_watch_decoder_feed(d, recorded, strchr(recorded, '\n') - recorded + 1), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(kube_watch_decoder_feed(d, head, sizeof(head) - 1), 0);
	fed = sizeof(head) - 1;
	memset(chunk, 'n', sizeof(chunk));
	rc = 0;
	while (rc == 0 && fed < 64 * cap) {
		rc = kube_watch_decoder_feed(d, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(rc, -1);
	if (fed > cap + cap / 4 + sizeof(chunk))
		fail_msg("event failed only after %zu bytes with a cap of %zu", fed, cap);
	e = kube_watch_decoder_error(d);
	assert_non_null(e);
	assert_string_equal(e->reason, "EventTooLarge");
	assert_string_equal(e->message, "watch: json value too large");
	assert_int_equal(e->http, 0);
	assert_false(kube_is_gone(e));
	assert_int_equal(r.n, 1);
	assert_int_equal(kube_watch_decoder_events(d), 1);
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_event_too_large_many_fields(void **state)
{
	/* an event of many small values, all in one chunk */
	struct buf in = BUF_INIT(1 << 20);
	struct kube_watch_decoder *d;

	assert_int_equal(buf_adds(&in, "{\"type\":\"ADDED\",\"object\":{\"data\":{"), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(buf_printf(&in, "%s\"k%d\":\"v\"", i ? "," : "", i), 0);
	assert_int_equal(buf_adds(&in, "}}}"), 0);

	d = kube_watch_decoder_new(1 << 20, NULL, NULL);
	assert_int_equal(kube_watch_decoder_feed(d, in.ptr, in.len), 0); /* under 1 MiB: fine */
	assert_int_equal(kube_watch_decoder_events(d), 1);
	kube_watch_decoder_free(d);

	d = kube_watch_decoder_new(16 * 1024, NULL, NULL);
	assert_int_equal(kube_watch_decoder_feed(d, in.ptr, in.len), -1);
	assert_string_equal(kube_watch_decoder_error(d)->reason, "EventTooLarge");
	assert_int_equal(kube_watch_decoder_events(d), 0);
	kube_watch_decoder_free(d);
	buf_free(&in);
}

static void test_unknown_type(void **state)
{
	static const char s[] =
	    "{\"type\":\"SYNC\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}";
	struct rec r;
	struct kube_watch_decoder *d;
	const struct kube_error *e;

	rec_init(&r);
	d = kube_watch_decoder_new(0, rec_cb, &r);
	assert_int_equal(kube_watch_decoder_feed(d, s, sizeof(s) - 1), -1);
	e = kube_watch_decoder_error(d);
	assert_non_null(e);
	assert_string_equal(e->reason, "BadWatchEvent");
	assert_string_equal(e->message, "watch: unknown event type SYNC");
	assert_int_equal(r.n, 0);
	assert_string_equal(kube_watch_decoder_last_rv(d), ""); /* not taken from a bad event */
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_malformed_events(void **state)
{
	static const struct {
		const char *in;
		const char *message;
	} bad[] = {
	    {"{\"object\":{}}", "watch: event without type or object"},
	    {"{\"type\":\"ADDED\"}", "watch: event without type or object"},
	    {"{\"type\":\"ADDED\",\"object\":\"x\"}", "watch: event without type or object"},
	    {"{\"type\":7,\"object\":{}}", "watch: event without type or object"},
	    {"[\"ADDED\",{}]", "watch: event without type or object"},
	    {"42 ", "watch: event without type or object"},
	    {"{\"type\":\"ADDED\",\"object\":{]", "watch: malformed json"},
	    {"<html>", "watch: malformed json"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rec r;
		struct kube_watch_decoder *d;
		rec_init(&r);
		d = kube_watch_decoder_new(0, rec_cb, &r);
		assert_int_equal(kube_watch_decoder_feed(d, bad[i].in, strlen(bad[i].in)), -1);
		const struct kube_error *e = kube_watch_decoder_error(d);
		assert_non_null(e);
		assert_string_equal(e->reason, "BadWatchEvent");
		assert_string_equal(e->message, bad[i].message);
		assert_int_equal(r.n, 0);
		kube_watch_decoder_free(d);
		buf_free(&r.log);
	}
}

static void test_truncated_stream(void **state)
{
	size_t first = (size_t)(strchr(recorded, '\n') - recorded) + 1;
	struct rec r;
	struct kube_watch_decoder *d;
	const struct kube_error *e;

	rec_init(&r);
	d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
	/* one whole event and half of the next */
	assert_int_equal(kube_watch_decoder_feed(d, recorded, first + 40), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(kube_watch_decoder_finish(d), -1);
	e = kube_watch_decoder_error(d);
	assert_non_null(e);
	assert_string_equal(e->reason, "TruncatedWatchEvent");
	assert_string_equal(e->message, "watch: stream ended inside an event");
	assert_int_equal(r.n, 1);
	assert_string_equal(kube_watch_decoder_last_rv(d), "1001");
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_empty_stream_is_fine(void **state)
{
	/* a watch that times out with no changes sends nothing at all */
	struct kube_watch_decoder *d = kube_watch_decoder_new(0, NULL, NULL);

	assert_int_equal(kube_watch_decoder_finish(d), 0);
	assert_null(kube_watch_decoder_error(d));
	assert_int_equal(kube_watch_decoder_events(d), 0);
	kube_watch_decoder_free(d);

	d = kube_watch_decoder_new(0, NULL, NULL);
	assert_int_equal(kube_watch_decoder_feed(d, "\n", 1), 0);
	assert_int_equal(kube_watch_decoder_finish(d), 0);
	kube_watch_decoder_free(d);
}

static void test_callback_stop(void **state)
{
	struct rec r;
	struct kube_watch_decoder *d;

	rec_init(&r);
	r.stop_at = 2;
	d = kube_watch_decoder_new(1 << 20, rec_cb, &r);
	assert_int_equal(kube_watch_decoder_feed(d, recorded, sizeof(recorded) - 1), -1);
	assert_int_equal(r.n, 2);
	assert_int_equal(kube_watch_decoder_events(d), 2);
	/* stopping is not an error */
	assert_null(kube_watch_decoder_error(d));
	assert_string_equal(kube_watch_decoder_last_rv(d), "1002");
	assert_int_equal(kube_watch_decoder_feed(d, "\n", 1), -1);
	assert_int_equal(kube_watch_decoder_finish(d), -1);
	assert_null(kube_watch_decoder_error(d));
	assert_int_equal(r.n, 2);
	kube_watch_decoder_free(d);
	buf_free(&r.log);
}

static void test_no_callback(void **state)
{
	struct kube_watch_decoder *d = kube_watch_decoder_new(0, NULL, NULL);

	assert_int_equal(kube_watch_decoder_feed(d, recorded, sizeof(recorded) - 1), 0);
	assert_int_equal(kube_watch_decoder_finish(d), 0);
	assert_int_equal(kube_watch_decoder_events(d), 4);
	assert_string_equal(kube_watch_decoder_last_rv(d), "1011");
	kube_watch_decoder_free(d);
	kube_watch_decoder_free(NULL);
}

static void test_overlong_resource_version_ignored(void **state)
{
	struct buf in = BUF_INIT(4096);
	struct kube_watch_decoder *d = kube_watch_decoder_new(0, NULL, NULL);
	char rv[201];

	memset(rv, '9', 200);
	rv[200] = '\0';
	assert_int_equal(
	    buf_printf(
	        &in,
	        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}"
	        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"%s\"}}}",
	        rv),
	    0);
	assert_int_equal(kube_watch_decoder_feed(d, in.ptr, in.len), 0);
	assert_int_equal(kube_watch_decoder_events(d), 2);
	assert_string_equal(kube_watch_decoder_last_rv(d), "5"); /* never truncated */
	kube_watch_decoder_free(d);
	buf_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recorded_stream_whole),
	    cmocka_unit_test(test_recorded_stream_every_split),
	    cmocka_unit_test(test_recorded_stream_byte_at_a_time),
	    cmocka_unit_test(test_bookmark_moves_last_rv),
	    cmocka_unit_test(test_error_410_is_gone),
	    cmocka_unit_test(test_error_other_status),
	    cmocka_unit_test(test_event_too_large),
	    cmocka_unit_test(test_event_too_large_many_fields),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_malformed_events),
	    cmocka_unit_test(test_truncated_stream),
	    cmocka_unit_test(test_empty_stream_is_fine),
	    cmocka_unit_test(test_callback_stop),
	    cmocka_unit_test(test_no_callback),
	    cmocka_unit_test(test_overlong_resource_version_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

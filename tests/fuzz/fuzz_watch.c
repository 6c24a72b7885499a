/*
 * libFuzzer harness for the watch stream decoder (operator/kube/watch.c).
 *
 * The first byte picks where the rest of the input is split into two chunks.
 * The same stream is also decoded in one piece, and both runs must agree on
 * every event handed over, the last resourceVersion, the final status and the
 * error (a mismatch traps): chunking must never change what a watch sees.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "kube.h"

#define FUZZ_EVENT_CAP 8192 /* small, so EventTooLarge is reached */

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

struct seen {
	struct buf log;
	unsigned long n;
};

static int on_event(const char *type, yajl_val obj, void *ctx)
{
	struct seen *s = ctx;
	char *d = json_dump(obj);

	check(d != NULL);
	check(buf_printf(&s->log, "%s %s\n", type, d) == 0);
	free(d);
	yajl_tree_free(obj);
	s->n++;
	/* an arbitrary, deterministic stop: exercises the callback-stop path */
	return s->log.len % 997 == 0;
}

struct result {
	int rc;
	unsigned long events;
	char last_rv[256];
	int has_err;
	struct kube_error err;
};

static void decode(const uint8_t *data, size_t size, size_t split, struct seen *s, struct result *r)
{
	struct kube_watch_decoder *d = kube_watch_decoder_new(FUZZ_EVENT_CAP, on_event, s);
	const struct kube_error *e;

	check(d != NULL);
	memset(r, 0, sizeof(*r));
	r->rc = kube_watch_decoder_feed(d, data, split);
	if (r->rc == 0)
		r->rc = kube_watch_decoder_feed(d, data + split, size - split);
	if (r->rc == 0)
		r->rc = kube_watch_decoder_finish(d);
	r->events = kube_watch_decoder_events(d);
	check(strlen(kube_watch_decoder_last_rv(d)) < sizeof(r->last_rv));
	memcpy(r->last_rv, kube_watch_decoder_last_rv(d),
	       strlen(kube_watch_decoder_last_rv(d)) + 1);
	e = kube_watch_decoder_error(d);
	if (e) {
		char line[1024];
		r->has_err = 1;
		r->err = *e;
		check(kube_strerror(e, line, sizeof(line)) == line);
		(void)kube_is_gone(e);
	}
	kube_watch_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen sw, ss;
	struct result rw, rs;
	size_t at;

	if (size == 0)
		return 0;
	at = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;
	memset(&sw, 0, sizeof(sw));
	memset(&ss, 0, sizeof(ss));
	buf_init(&sw.log, 64u << 20);
	buf_init(&ss.log, 64u << 20);
	decode(data, size, 0, &sw, &rw);
	decode(data, size, at, &ss, &rs);
	check(rw.rc == rs.rc);
	check(rw.events == rs.events && sw.n == ss.n && rw.events == sw.n);
	check(strcmp(rw.last_rv, rs.last_rv) == 0);
	check(rw.has_err == rs.has_err);
	if (rw.has_err) {
		check(rw.err.http == rs.err.http && rw.err.code == rs.err.code);
		check(strcmp(rw.err.reason, rs.err.reason) == 0);
		check(strcmp(rw.err.message, rs.err.message) == 0);
	}
	check(sw.log.len == ss.log.len &&
	      memcmp(buf_str(&sw.log), buf_str(&ss.log), sw.log.len) == 0);
	buf_free(&sw.log);
	buf_free(&ss.log);
	return 0;
}

/*
 * libFuzzer harness for common/json: json_parse and json_stream.
 *
 * Besides the sanitizers, two properties are checked (a failure traps):
 * The first byte picks a split position; the rest is the JSON text.
 *   - a parsed document dumps to text that parses back and dumps the same;
 *   - a stream fed in two chunks, split at that position, hands over exactly the values, and ends
 * with exactly the status, of the same stream fed whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#define FUZZ_MAX_BYTES  (1024 * 1024)
#define FUZZ_STREAM_CAP 4096 /* small, so the stream's size cap is reached */

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void round_trip(const uint8_t *data, size_t size)
{
	yajl_val v = NULL, again = NULL, clone;
	char *d1, *d2, *d3;

	if (json_parse((const char *)data, size, JSON_MAX_DEPTH, FUZZ_MAX_BYTES, &v, NULL, 0) !=
	    JSON_OK)
		return;
	/* the getters on whatever came out */
	(void)json_get_str(v, "type", NULL);
	(void)json_get_int(v, 0, "object", "metadata", "generation", NULL);
	(void)json_get_bool(v, 0, "spec", "enabled", NULL);
	(void)json_array_at(json_get(v, "items", NULL), 0);
	d1 = json_dump(v);
	check(d1 != NULL);
	check(json_parse(d1, strlen(d1), JSON_MAX_DEPTH, FUZZ_MAX_BYTES, &again, NULL, 0) ==
	      JSON_OK);
	d2 = json_dump(again);
	check(d2 != NULL && strcmp(d1, d2) == 0);
	clone = json_clone(v);
	check(clone != NULL);
	d3 = json_dump(clone);
	check(d3 != NULL && strcmp(d1, d3) == 0);
	free(d1);
	free(d2);
	free(d3);
	yajl_tree_free(clone);
	yajl_tree_free(again);
	yajl_tree_free(v);
}

struct values {
	struct buf out;
	int n;
};

static int on_value(yajl_val v, void *ctx)
{
	struct values *vs = ctx;
	char *d = json_dump(v);

	check(d != NULL);
	check(buf_adds(&vs->out, d) == 0 && buf_addc(&vs->out, '\n') == 0);
	free(d);
	yajl_tree_free(v);
	vs->n++;
	return 0;
}

/* Feed data in two chunks split at split; the final status. */
static int stream(const uint8_t *data, size_t size, size_t split, struct values *vs)
{
	struct json_stream *js = json_stream_new(JSON_MAX_DEPTH, FUZZ_STREAM_CAP, on_value, vs);
	int rc;

	check(js != NULL);
	rc = json_stream_feed(js, data, split);
	if (rc == 0)
		rc = json_stream_feed(js, data + split, size - split);
	if (rc == 0)
		rc = json_stream_finish(js);
	json_stream_free(js);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct values whole, split;
	size_t at;
	int rc_whole, rc_split;

	if (size == 0)
		return 0;
	at = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;
	round_trip(data, size);
	memset(&whole, 0, sizeof(whole));
	memset(&split, 0, sizeof(split));
	buf_init(&whole.out, 64u << 20);
	buf_init(&split.out, 64u << 20);
	rc_whole = stream(data, size, 0, &whole);
	rc_split = stream(data, size, at, &split);
	check(rc_whole == rc_split);
	check(whole.n == split.n);
	check(whole.out.len == split.out.len &&
	      memcmp(buf_str(&whole.out), buf_str(&split.out), whole.out.len) == 0);
	buf_free(&whole.out);
	buf_free(&split.out);
	return 0;
}

/* Tests for common/json: capped parsing, the multi-value stream, getters, dump. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------ */

static yajl_val parse_ok(const char *s)
{
	yajl_val v = NULL;
	char err[256] = "";
	int rc = json_parse(s, strlen(s), 0, 0, &v, err, sizeof(err));
	if (rc != JSON_OK)
		fail_msg("json_parse(%s): %d %s", s, rc, err);
	assert_non_null(v);
	return v;
}

static void assert_dump(yajl_val v, const char *want)
{
	char *d = json_dump(v);
	assert_non_null(d);
	assert_string_equal(d, want);
	free(d);
}

/* "[[[...1...]]]" with n brackets each side */
static char *nested_arrays(int n)
{
	struct buf b = BUF_INIT(1 << 20);
	for (int i = 0; i < n; i++)
		assert_int_equal(buf_addc(&b, '['), 0);
	assert_int_equal(buf_addc(&b, '1'), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(buf_addc(&b, ']'), 0);
	return buf_take(&b);
}

/* Values the stream produced, serialised one per line. */
struct collect {
	struct buf out;
	int n;
	int stop_at; /* return non-zero on this value (1-based); 0: never */
};

static int collect_cb(yajl_val v, void *ctx)
{
	struct collect *c = ctx;
	char *d = json_dump(v);

	assert_non_null(d);
	assert_int_equal(buf_adds(&c->out, d), 0);
	assert_int_equal(buf_addc(&c->out, '\n'), 0);
	free(d);
	yajl_tree_free(v);
	c->n++;
	return c->stop_at && c->n == c->stop_at;
}

static void collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->out, 1 << 20);
}

/* ---- json_parse --------------------------------------------------------- */

static void test_parse_getters(void **state)
{
	yajl_val v =
	    parse_ok("{\"metadata\":{\"name\":\"db\",\"generation\":7,\"labels\":{}},"
	             "\"spec\":{\"replicas\":3,\"ratio\":1.5,\"big\":99999999999999999999,"
	             "\"on\":true,\"off\":false,\"nil\":null,\"list\":[\"a\",2,{\"x\":\"y\"}]}}");

	assert_string_equal(json_get_str(v, "metadata", "name", NULL), "db");
	assert_null(json_get_str(v, "metadata", "generation", NULL)); /* not a string */
	assert_null(json_get_str(v, "metadata", "missing", NULL));
	assert_null(json_get_str(v, "metadata", "name", "deeper", NULL)); /* through a string */
	assert_int_equal(json_get_int(v, -1, "metadata", "generation", NULL), 7);
	assert_int_equal(json_get_int(v, -1, "spec", "replicas", NULL), 3);
	assert_int_equal(json_get_int(v, -1, "spec", "ratio", NULL), -1); /* not an integer */
	assert_int_equal(json_get_int(v, -1, "spec", "big", NULL), -1);   /* out of range */
	assert_int_equal(json_get_int(v, -1, "metadata", "name", NULL), -1);
	assert_int_equal(json_get_int(v, 5, "nope", NULL), 5);
	assert_int_equal(json_get_bool(v, -1, "spec", "on", NULL), 1);
	assert_int_equal(json_get_bool(v, -1, "spec", "off", NULL), 0);
	assert_int_equal(json_get_bool(v, -1, "spec", "nil", NULL), -1);
	assert_int_equal(json_get_bool(v, -1, "spec", "replicas", NULL), -1);
	assert_int_equal(json_get_bool(v, 2, "absent", NULL), 2);

	yajl_val list = json_get(v, "spec", "list", NULL);
	assert_non_null(list);
	assert_int_equal(json_array_len(list), 3);
	assert_string_equal(json_str(json_array_at(list, 0)), "a");
	assert_null(json_str(json_array_at(list, 1)));
	assert_string_equal(json_get_str(json_array_at(list, 2), "x", NULL), "y");
	assert_null(json_array_at(list, 3));
	assert_int_equal(json_array_len(json_get(v, "spec", NULL)), 0); /* object, not array */
	assert_null(json_array_at(NULL, 0));
	assert_int_equal(json_get(v, "spec", "nil", NULL)->type, yajl_t_null);
	assert_int_equal(json_get(v, "metadata", "labels", NULL)->type, yajl_t_object);
	assert_ptr_equal(json_get(v, NULL), v); /* empty path: the value itself */
	assert_null(json_get(list, "x", NULL)); /* arrays have no keys */
	assert_null(json_get(NULL, "x", NULL));
	assert_null(json_str(NULL));
	yajl_tree_free(v);
}

static void test_parse_scalars_at_top(void **state)
{
	yajl_val v = parse_ok("\"just a string\"");
	assert_string_equal(json_str(v), "just a string");
	yajl_tree_free(v);
	v = parse_ok(" -12 ");
	assert_int_equal(json_get_int(v, 0, NULL), -12);
	yajl_tree_free(v);
	v = parse_ok("null");
	assert_int_equal(v->type, yajl_t_null);
	yajl_tree_free(v);
}

static void test_parse_unicode_and_escapes(void **state)
{
	yajl_val v = parse_ok("{\"s\":\"caf\\u00e9 \\\"q\\\" \\\\ \\/ \\n\",\"k\\u0041\":1}");
	assert_string_equal(json_get_str(v, "s", NULL), "caf\xc3\xa9 \"q\" \\ / \n");
	assert_int_equal(json_get_int(v, 0, "kA", NULL), 1);
	yajl_tree_free(v);
}

static void test_depth_cap(void **state)
{
	yajl_val v = NULL;
	char err[128] = "";
	char *ok = nested_arrays(JSON_MAX_DEPTH);
	char *deep = nested_arrays(JSON_MAX_DEPTH + 1);

	/* max_depth 0 means JSON_MAX_DEPTH: 64 levels fit, 65 do not */
	assert_int_equal(json_parse(ok, strlen(ok), 0, 0, &v, err, sizeof(err)), JSON_OK);
	assert_int_equal(json_array_len(v), 1);
	yajl_tree_free(v);
	v = NULL;
	assert_int_equal(json_parse(deep, strlen(deep), 0, 0, &v, err, sizeof(err)), JSON_EDEPTH);
	assert_null(v);
	assert_string_equal(err, "json nested too deeply");
	free(ok);
	free(deep);

	/* an explicit cap, mixing objects and arrays */
	assert_int_equal(json_parse("{\"a\":[{}]}", 10, 3, 0, &v, NULL, 0), JSON_OK);
	yajl_tree_free(v);
	v = NULL;
	assert_int_equal(json_parse("{\"a\":[{\"b\":[]}]}", 16, 3, 0, &v, NULL, 0), JSON_EDEPTH);
	assert_null(v);
	/* a very deep document fails cleanly, not by stack exhaustion */
	deep = nested_arrays(100000);
	assert_int_equal(json_parse(deep, strlen(deep), 0, 0, &v, NULL, 0), JSON_EDEPTH);
	free(deep);
}

static void test_size_cap(void **state)
{
	yajl_val v = NULL;
	char err[128] = "";
	char s[100];

	/* every value costs its decoded length + 16 */
	s[0] = '"';
	memset(s + 1, 'x', 84);
	s[85] = '"';
	assert_int_equal(json_parse(s, 86, 0, 100, &v, err, sizeof(err)), JSON_OK);
	assert_int_equal(strlen(json_str(v)), 84);
	yajl_tree_free(v);
	v = NULL;
	memset(s + 1, 'x', 85);
	s[86] = '"';
	assert_int_equal(json_parse(s, 87, 0, 100, &v, err, sizeof(err)), JSON_ESIZE);
	assert_null(v);
	assert_string_equal(err, "json value too large");

	/* {"k":"v"}: object 16 + key 17 + string 17 = 50 */
	assert_int_equal(json_parse("{\"k\":\"v\"}", 9, 0, 50, &v, NULL, 0), JSON_OK);
	yajl_tree_free(v);
	v = NULL;
	assert_int_equal(json_parse("{\"k\":\"v\"}", 9, 0, 49, &v, NULL, 0), JSON_ESIZE);
	assert_null(v);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
	    "",         "   ",        "{",          "}",     "{\"a\":}", "[1,]",
	    "tru",      "nul",        "{\"a\" 1}",  "{a:1}", "1 2",      "{} x",
	    "\"\\x\"",  "\"abc",      "[1 2]",      "01x",   "'single'", "{\"a\":1,}",
	    "\"\xff\"", "\"a\x01b\"", "[\"\xc3\"]", NULL,
	};

	for (int i = 0; bad[i]; i++) {
		yajl_val v = NULL;
		char err[256] = "";
		int rc = json_parse(bad[i], strlen(bad[i]), 0, 0, &v, err, sizeof(err));
		if (rc != JSON_ESYNTAX)
			fail_msg("json_parse(%s) = %d, want JSON_ESYNTAX", bad[i], rc);
		assert_null(v);
		assert_memory_equal(err, "malformed json: ", 16);
		assert_true(strlen(err) > 16);
		assert_int_not_equal(err[strlen(err) - 1], '\n'); /* yajl's newline trimmed */
	}
}

static void test_parse_err_may_be_null(void **state)
{
	yajl_val v = NULL;
	assert_int_equal(json_parse("[", 1, 0, 0, &v, NULL, 0), JSON_ESYNTAX);
	assert_int_equal(json_parse("[", 1, 0, 0, &v, NULL, 5), JSON_ESYNTAX);
	assert_null(v);
}

static void test_strerror(void **state)
{
	assert_string_equal(json_strerror(JSON_OK), "ok");
	assert_string_equal(json_strerror(JSON_ESYNTAX), "malformed json");
	assert_string_equal(json_strerror(JSON_EDEPTH), "json nested too deeply");
	assert_string_equal(json_strerror(JSON_ESIZE), "json value too large");
	assert_string_equal(json_strerror(JSON_ENOMEM), "out of memory");
	assert_string_equal(json_strerror(JSON_ECANCEL), "stopped by caller");
	assert_string_equal(json_strerror(42), "unknown json error");
}

/* ---- dump / clone / gen --------------------------------------------------- */

static void test_dump_round_trip(void **state)
{
	static const char *docs[] = {
	    "{\"a\":[1,-2.5e3,true,false,null,{},[]],\"b\":\"x\\\"y\\\\z\\n\\t\\u0001\","
	    "\"c\":{\"d\":[\"caf\xc3\xa9\"]},\"e\":0,\"f\":12345678901234567890}",
	    "[]",
	    "\"s\"",
	    "3.25",
	    NULL,
	};

	for (int i = 0; docs[i]; i++) {
		yajl_val v = parse_ok(docs[i]);
		char *d = json_dump(v);
		assert_non_null(d);
		/* already compact: dump gives back the same bytes */
		assert_string_equal(d, docs[i]);
		yajl_val again = parse_ok(d);
		assert_dump(again, docs[i]);
		yajl_tree_free(again);
		yajl_tree_free(v);
		free(d);
	}
}

static void test_dump_is_compact(void **state)
{
	yajl_val v = parse_ok(" {\n  \"a\" : [ 1 , 2 ] ,\n  \"b\" : { }\n}\n");
	assert_dump(v, "{\"a\":[1,2],\"b\":{}}");
	yajl_tree_free(v);
}

static void test_dump_of_yajl_tree_parse(void **state)
{
	char err[128];
	yajl_val v = yajl_tree_parse("{\"n\":1.50,\"s\":\"v\",\"l\":[null]}", err, sizeof(err));
	assert_non_null(v);
	assert_dump(v, "{\"n\":1.50,\"s\":\"v\",\"l\":[null]}");
	yajl_tree_free(v);
	assert_dump(NULL, "null");
}

static void test_clone(void **state)
{
	yajl_val v = parse_ok("{\"a\":{\"b\":[1,\"two\",false]}}");
	yajl_val c = json_clone(v);

	assert_non_null(c);
	assert_ptr_not_equal(c, v);
	assert_ptr_not_equal(json_get(c, "a", NULL), json_get(v, "a", NULL));
	assert_dump(c, "{\"a\":{\"b\":[1,\"two\",false]}}");
	yajl_tree_free(v); /* the clone stands alone */
	assert_string_equal(json_str(json_array_at(json_get(c, "a", "b", NULL), 1)), "two");
	yajl_tree_free(c);
	assert_null(json_clone(NULL));
}

static void test_gen_helpers(void **state)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *p;
	size_t n;

	assert_non_null(g);
	assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
	assert_int_equal(json_gen_kv(g, "name", "db"), 0);
	assert_int_equal(json_gen_kv(g, "skipped", NULL), 0);
	assert_int_equal(json_gen_str(g, "q"), 0);
	assert_int_equal(json_gen_str(g, "say \"hi\""), 0);
	assert_int_equal(yajl_gen_map_close(g), yajl_gen_status_ok);
	assert_int_equal(yajl_gen_get_buf(g, &p, &n), yajl_gen_status_ok);
	assert_int_equal(n, strlen("{\"name\":\"db\",\"q\":\"say \\\"hi\\\"\"}"));
	assert_memory_equal(p, "{\"name\":\"db\",\"q\":\"say \\\"hi\\\"\"}", n);
	yajl_gen_free(g);
}

/* ---- json_stream ------------------------------------------------------------ */

static const char multi[] = "{\"type\":\"ADDED\",\"object\":{\"a\":[1,2,{\"b\":null}]}}\n"
                            "[true,false,\"s\\u00e9\\\"\"]  \"top\"\t-3.5e2 7\r\n"
                            "{}[]{\"k\":{\"k\":{\"k\":\"v\"}}} null 42";
static const char multi_want[] = "{\"type\":\"ADDED\",\"object\":{\"a\":[1,2,{\"b\":null}]}}\n"
                                 "[true,false,\"s\xc3\xa9\\\"\"]\n"
                                 "\"top\"\n"
                                 "-3.5e2\n"
                                 "7\n"
                                 "{}\n"
                                 "[]\n"
                                 "{\"k\":{\"k\":{\"k\":\"v\"}}}\n"
                                 "null\n"
                                 "42\n";

static void run_stream_split(const char *in, size_t len, size_t split, struct collect *c)
{
	struct json_stream *js = json_stream_new(0, 0, collect_cb, c);
	assert_non_null(js);
	assert_int_equal(json_stream_feed(js, in, split), 0);
	assert_int_equal(json_stream_feed(js, in + split, len - split), 0);
	assert_int_equal(json_stream_finish(js), 0);
	assert_int_equal(json_stream_pending(js), 0);
	json_stream_free(js);
}

static void test_stream_every_split(void **state)
{
	size_t len = sizeof(multi) - 1;

	for (size_t split = 0; split <= len; split++) {
		struct collect c;
		collect_init(&c);
		run_stream_split(multi, len, split, &c);
		if (strcmp(buf_str(&c.out), multi_want) != 0)
			fail_msg("split at %zu:\n%s", split, buf_str(&c.out));
		assert_int_equal(c.n, 10);
		buf_free(&c.out);
	}
}

static void test_stream_byte_at_a_time(void **state)
{
	size_t len = sizeof(multi) - 1;
	struct collect c;
	struct json_stream *js;

	collect_init(&c);
	js = json_stream_new(0, 0, collect_cb, &c);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(json_stream_feed(js, multi + i, 1), 0);
		if (i == 0)
			assert_true(json_stream_pending(js) > 0); /* inside the first object */
	}
	/* the trailing 42 is only known complete at the end of input */
	assert_int_equal(c.n, 9);
	assert_int_equal(json_stream_finish(js), 0);
	assert_int_equal(c.n, 10);
	assert_string_equal(buf_str(&c.out), multi_want);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_value_handed_over_when_complete(void **state)
{
	struct collect c;
	struct json_stream *js;

	collect_init(&c);
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "{\"a\":", 5), 0);
	assert_int_equal(c.n, 0);
	assert_true(json_stream_pending(js) > 0);
	assert_int_equal(json_stream_feed(js, "1}", 2), 0);
	assert_int_equal(c.n, 1); /* on its closing brace, not later */
	assert_int_equal(json_stream_pending(js), 0);
	assert_string_equal(buf_str(&c.out), "{\"a\":1}\n");
	assert_int_equal(json_stream_finish(js), 0);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_empty_finish(void **state)
{
	struct collect c;
	struct json_stream *js;

	/* nothing at all, or only whitespace, is a complete (empty) stream */
	collect_init(&c);
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_finish(js), 0);
	json_stream_free(js);
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, " \n\r\t\n", 5), 0);
	assert_int_equal(json_stream_feed(js, "", 0), 0);
	assert_int_equal(json_stream_finish(js), 0);
	json_stream_free(js);
	assert_int_equal(c.n, 0);
	buf_free(&c.out);
}

static void test_stream_truncated(void **state)
{
	static const char *cut[] = {"{\"a\":", "[1,2", "\"abc", "{\"a\":1} {", "tr", NULL};

	for (int i = 0; cut[i]; i++) {
		struct collect c;
		struct json_stream *js;
		collect_init(&c);
		js = json_stream_new(0, 0, collect_cb, &c);
		assert_int_equal(json_stream_feed(js, cut[i], strlen(cut[i])), 0);
		if (json_stream_finish(js) != JSON_ESYNTAX)
			fail_msg("finish after %s: want JSON_ESYNTAX", cut[i]);
		json_stream_free(js);
		buf_free(&c.out);
	}
}

static void test_stream_syntax_error_is_final(void **state)
{
	struct collect c;
	struct json_stream *js;

	collect_init(&c);
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "{\"a\":1} {\"b\":]", 14), JSON_ESYNTAX);
	assert_int_equal(c.n, 1); /* the value before the error was delivered */
	assert_int_equal(json_stream_pending(js), 0);
	/* the stream is dead */
	assert_int_equal(json_stream_feed(js, "{}", 2), JSON_ESYNTAX);
	assert_int_equal(json_stream_finish(js), JSON_ESYNTAX);
	assert_int_equal(c.n, 1);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_depth_cap(void **state)
{
	struct collect c;
	struct json_stream *js;

	collect_init(&c);
	js = json_stream_new(2, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "[[1]] {\"a\":{}} ", 15), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(json_stream_feed(js, "[[", 2), 0);
	assert_int_equal(json_stream_feed(js, "[", 1), JSON_EDEPTH);
	assert_int_equal(json_stream_feed(js, "]]]", 3), JSON_EDEPTH);
	assert_int_equal(json_stream_finish(js), JSON_EDEPTH);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_size_cap_is_per_value(void **state)
{
	struct collect c;
	struct json_stream *js;

	/* each {"k":"v"} costs 50: the budget is per value, not per stream */
	collect_init(&c);
	js = json_stream_new(0, 50, collect_cb, &c);
	for (int i = 0; i < 100; i++)
		assert_int_equal(json_stream_feed(js, "{\"k\":\"v\"}\n", 10), 0);
	assert_int_equal(c.n, 100);
	assert_int_equal(json_stream_feed(js, "{\"k\":\"vw\"}", 10), JSON_ESIZE);
	assert_int_equal(c.n, 100);
	assert_int_equal(json_stream_feed(js, "{}", 2), JSON_ESIZE);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_long_token_capped_while_streaming(void **state)
{
	/* A value that never ends must fail once it is past the cap, not be
	 * buffered whole (yajl keeps a token split across chunks in memory). */
	const size_t cap = 4096;
	char chunk[100];
	struct collect c;
	struct json_stream *js;
	size_t fed = 0;
	int rc = 0;

	collect_init(&c);
	js = json_stream_new(0, cap, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "{\"k\":\"", 6), 0);
	fed = 6;
	memset(chunk, 'a', sizeof(chunk));
	while (fed < 10 * 1024 * 1024 && rc == 0) {
		rc = json_stream_feed(js, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(rc, JSON_ESIZE);
	if (fed > cap + cap / 2)
		fail_msg("failed only after %zu bytes with a cap of %zu", fed, cap);
	assert_int_equal(c.n, 0);
	json_stream_free(js);

	/* the same as one top-level string */
	js = json_stream_new(0, cap, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "\"", 1), 0);
	fed = 1;
	rc = 0;
	while (fed < 10 * 1024 * 1024 && rc == 0) {
		rc = json_stream_feed(js, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(rc, JSON_ESIZE);
	assert_true(fed <= cap + cap / 2);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_long_values_under_cap_pass(void **state)
{
	/* many values, each a little under the cap, fed in odd chunks */
	const size_t cap = 4096;
	struct buf in = BUF_INIT(1 << 20);
	struct collect c;
	struct json_stream *js;
	char s[3001];

	memset(s, 'q', 3000);
	s[3000] = '\0';
	for (int i = 0; i < 50; i++)
		assert_int_equal(buf_printf(&in, "{\"i\":%d,\"s\":\"%s\"}\n", i, s), 0);
	collect_init(&c);
	js = json_stream_new(0, cap, collect_cb, &c);
	for (size_t off = 0; off < in.len; off += 777) {
		size_t n = in.len - off < 777 ? in.len - off : 777;
		assert_int_equal(json_stream_feed(js, in.ptr + off, n), 0);
	}
	assert_int_equal(json_stream_finish(js), 0);
	assert_int_equal(c.n, 50);
	json_stream_free(js);
	buf_free(&c.out);
	buf_free(&in);
}

static void test_stream_cancel(void **state)
{
	struct collect c;
	struct json_stream *js;

	collect_init(&c);
	c.stop_at = 2;
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "1 [2] {\"x\":3} 4 ", 17), JSON_ECANCEL);
	assert_int_equal(c.n, 2);
	assert_string_equal(buf_str(&c.out), "1\n[2]\n");
	assert_int_equal(json_stream_feed(js, "5 ", 2), JSON_ECANCEL);
	assert_int_equal(json_stream_finish(js), JSON_ECANCEL);
	assert_int_equal(c.n, 2);
	json_stream_free(js);
	buf_free(&c.out);
}

static void test_stream_free_mid_value(void **state)
{
	struct collect c;
	struct json_stream *js;

	/* freeing with a half-built value releases it (ASan checks for leaks) */
	collect_init(&c);
	js = json_stream_new(0, 0, collect_cb, &c);
	assert_int_equal(json_stream_feed(js, "{\"a\":[1,{\"b\":\"c", 15), 0);
	assert_true(json_stream_pending(js) > 0);
	json_stream_free(js);
	json_stream_free(NULL);
	assert_int_equal(c.n, 0);
	buf_free(&c.out);
}

static void test_equal(void **state)
{
	yajl_val a = parse_ok("{\"x\":[1,\"s\",true,null,{\"k\":2}],\"y\":{\"p\":1,\"q\":2}}");
	yajl_val b = parse_ok("{\"y\":{\"q\":2,\"p\":1},\"x\":[1,\"s\",true,null,{\"k\":2}]}");
	yajl_val c = parse_ok("{\"y\":{\"q\":2,\"p\":1},\"x\":[1,\"s\",true,null,{\"k\":3}]}");
	yajl_val d =
	    parse_ok("{\"y\":{\"q\":2,\"p\":1,\"r\":0},\"x\":[1,\"s\",true,null,{\"k\":2}]}");
	yajl_val n1 = parse_ok("[1.0]"), n2 = parse_ok("[1]");

	assert_true(json_equal(a, b)); /* key order ignored */
	assert_true(json_equal(b, a));
	assert_false(json_equal(a, c)); /* a value deep down */
	assert_false(json_equal(a, d)); /* a key more */
	assert_false(json_equal(d, a));
	assert_false(json_equal(n1, n2)); /* numbers by their text */
	assert_true(json_equal(NULL, NULL));
	assert_false(json_equal(a, NULL));
	yajl_tree_free(a);
	yajl_tree_free(b);
	yajl_tree_free(c);
	yajl_tree_free(d);
	yajl_tree_free(n1);
	yajl_tree_free(n2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_getters),
	    cmocka_unit_test(test_parse_scalars_at_top),
	    cmocka_unit_test(test_parse_unicode_and_escapes),
	    cmocka_unit_test(test_depth_cap),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_parse_err_may_be_null),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_dump_round_trip),
	    cmocka_unit_test(test_dump_is_compact),
	    cmocka_unit_test(test_dump_of_yajl_tree_parse),
	    cmocka_unit_test(test_clone),
	    cmocka_unit_test(test_gen_helpers),
	    cmocka_unit_test(test_stream_every_split),
	    cmocka_unit_test(test_stream_byte_at_a_time),
	    cmocka_unit_test(test_stream_value_handed_over_when_complete),
	    cmocka_unit_test(test_stream_empty_finish),
	    cmocka_unit_test(test_stream_truncated),
	    cmocka_unit_test(test_stream_syntax_error_is_final),
	    cmocka_unit_test(test_stream_depth_cap),
	    cmocka_unit_test(test_stream_size_cap_is_per_value),
	    cmocka_unit_test(test_stream_long_token_capped_while_streaming),
	    cmocka_unit_test(test_stream_long_values_under_cap_pass),
	    cmocka_unit_test(test_stream_cancel),
	    cmocka_unit_test(test_stream_free_mid_value),
	    cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * json: JSON in and out on top of yajl, with the limits untrusted input needs.
 *
 * Parsing builds ordinary yajl trees (free them with yajl_tree_free), but unlike
 * yajl_tree_parse it caps nesting depth and the decoded size of every value.
 *   - json_parse(): one complete document;
 *   - json_stream: a sequence of concatenated values fed in arbitrary chunks
 *     (the Kubernetes watch stream); each complete top-level value is handed to
 *     a callback as soon as its last byte arrives, so nothing buffers the whole
 *     stream. After an error the stream is dead: start a new one.
 * Getters never allocate; they return NULL/defaults when a path is absent or of
 * another type. json_gen_val() writes a tree back through a yajl_gen.
 */
#ifndef VW_JSON_H
#define VW_JSON_H

#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JSON_MAX_DEPTH 64

enum json_err {
	JSON_OK = 0,
	JSON_ESYNTAX = -1, /* malformed JSON */
	JSON_EDEPTH = -2,  /* nested deeper than max_depth */
	JSON_ESIZE = -3,   /* one value larger than max_bytes */
	JSON_ENOMEM = -4,
	JSON_ECANCEL = -5, /* the stream callback asked to stop */
};

const char *json_strerror(int err);

/* Parse exactly one JSON document. On success *out owns a new tree.
 * err (may be NULL) receives a short lower-case reason on failure. */
int json_parse(const char *s, size_t len, int max_depth, size_t max_bytes, yajl_val *out, char *err,
               size_t errlen);

/* Called with each complete top-level value; the callback takes ownership of v.
 * Return 0 to go on, non-zero to stop the stream (json_stream_feed then
 * returns JSON_ECANCEL). */
typedef int (*json_value_cb)(yajl_val v, void *ctx);

/* max_bytes also bounds the raw input of one value while it streams in (yajl
 * would otherwise buffer a long token whole): a value whose encoding is longer
 * than max_bytes fails with JSON_ESIZE after at most max_bytes plus two slices
 * of min(4096, max(64, max_bytes / 8)) bytes were read. An empty stream (no
 * input, or only whitespace) finishes without error. */
struct json_stream;
struct json_stream *json_stream_new(int max_depth, size_t max_bytes, json_value_cb cb, void *ctx);
/* Feed the next chunk (any split, even mid-token). 0 or a json_err. */
int json_stream_feed(struct json_stream *js, const void *data, size_t len);
/* Ends the input: JSON_ESYNTAX if a value was left incomplete. */
int json_stream_finish(struct json_stream *js);
/* Bytes of the value currently being decoded (0 between values). */
size_t json_stream_pending(const struct json_stream *js);
void json_stream_free(struct json_stream *js);

/* Path lookup: json_get(v, "metadata", "name", NULL). Objects only. */
yajl_val json_get(yajl_val v, ...) __attribute__((sentinel));
const char *json_get_str(yajl_val v, ...) __attribute__((sentinel));
/* Integer at path, or def when absent or not an integer. */
long long json_get_int(yajl_val v, long long def, ...) __attribute__((sentinel));
/* 1/0 for true/false, def otherwise. */
int json_get_bool(yajl_val v, int def, ...) __attribute__((sentinel));
const char *json_str(yajl_val v);  /* the string, or NULL */
size_t json_array_len(yajl_val v); /* 0 when not an array */
yajl_val json_array_at(yajl_val v, size_t i);

/* Write v (any tree, including those yajl_tree_parse built) to g. */
int json_gen_val(yajl_gen g, yajl_val v);
/* Convenience: v serialised compactly into a new string (caller frees). */
char *json_dump(yajl_val v);
/* Strings for yajl_gen. */
int json_gen_str(yajl_gen g, const char *s);
int json_gen_kv(yajl_gen g, const char *k, const char *v); /* skips v == NULL */
/* 1 when every field of want is in have with an equal value (objects: a
 * subset of keys, recursively; arrays: same length, element-wise subset;
 * scalars: equal text). Fields the server adds (defaults, status, metadata)
 * are ignored, so "the live object already says what we would apply" is
 * json_subset(desired, live). Pure. */
int json_subset(yajl_val want, yajl_val have);
/* Deep equality of two JSON trees: numbers by their text, objects whatever the
 * order of their keys, NULL equal only to NULL. Pure. */
int json_equal(yajl_val a, yajl_val b);

/* yajl_tree_free after wiping every string and key (trees holding secrets). */
void json_free_secret(yajl_val v);

/* Deep copy (caller frees with yajl_tree_free); NULL on OOM. */
yajl_val json_clone(yajl_val v);

#endif

#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "buf.h"

#include <openssl/crypto.h>

/* A node on the build stack: an open object or array and its capacity. */
struct frame {
	yajl_val node;
	size_t cap;
	char *key; /* objects: key waiting for its value */
};

struct builder {
	struct frame *stack;
	int depth;
	int max_depth;
	size_t bytes;
	size_t max_bytes;
	int err;
	yajl_val done; /* json_parse: the one finished value */
	json_value_cb cb;
	void *ctx;
	int ndone;
};

/*
 * yajl keeps a token that is split across chunks (a long string) in its own
 * buffer until the token ends, where the builder cannot see or charge it. So
 * the stream also counts raw input, in slices at fixed stream offsets: a slice
 * in which no top-level value ended belongs to the value in progress, and once
 * those slices add up to more than max_bytes the value is too large. Fixed
 * offsets keep the outcome independent of how the input was chunked; yajl
 * then holds at most max_bytes plus two slices.
 */
struct json_stream {
	yajl_handle h;
	struct builder b;
	size_t slice;     /* slice length */
	size_t slice_off; /* bytes fed into the current slice */
	size_t raw;       /* bytes of whole slices since a value last ended */
	int ndone_mark;   /* b.ndone when the current slice began */
	int started;      /* anything but whitespace was fed */
};

const char *json_strerror(int err)
{
	switch (err) {
	case JSON_OK:
		return "ok";
	case JSON_ESYNTAX:
		return "malformed json";
	case JSON_EDEPTH:
		return "json nested too deeply";
	case JSON_ESIZE:
		return "json value too large";
	case JSON_ENOMEM:
		return "out of memory";
	case JSON_ECANCEL:
		return "stopped by caller";
	}
	return "unknown json error";
}

static void builder_reset(struct builder *b)
{
	while (b->depth > 0) {
		struct frame *f = &b->stack[--b->depth];
		free(f->key);
		f->key = NULL;
		yajl_tree_free(f->node);
	}
	b->bytes = 0;
}

static int charge(struct builder *b, size_t n)
{
	b->bytes += n + 16;
	if (b->bytes > b->max_bytes) {
		b->err = JSON_ESIZE;
		return 0;
	}
	return 1;
}

/* Attach v to the open container, or finish a top-level value. */
static int attach(struct builder *b, yajl_val v)
{
	if (b->depth == 0) {
		b->bytes = 0;
		b->ndone++;
		if (b->cb) {
			if (b->cb(v, b->ctx)) {
				b->err = JSON_ECANCEL;
				return 0;
			}
		} else {
			if (b->done) { /* cannot happen without allow_multiple_values */
				yajl_tree_free(v);
				b->err = JSON_ESYNTAX;
				return 0;
			}
			b->done = v;
		}
		return 1;
	}
	struct frame *f = &b->stack[b->depth - 1];
	yajl_val p = f->node;
	if (p->type == yajl_t_object) {
		if (p->u.object.len == f->cap) {
			size_t nc = f->cap ? f->cap * 2 : 4;
			const char **nk = realloc((void *)p->u.object.keys, nc * sizeof(*nk));
			if (!nk)
				goto oom;
			p->u.object.keys = nk;
			yajl_val *nv = realloc(p->u.object.values, nc * sizeof(*nv));
			if (!nv)
				goto oom;
			p->u.object.values = nv;
			f->cap = nc;
		}
		p->u.object.keys[p->u.object.len] = f->key;
		p->u.object.values[p->u.object.len] = v;
		p->u.object.len++;
		f->key = NULL;
	} else {
		if (p->u.array.len == f->cap) {
			size_t nc = f->cap ? f->cap * 2 : 4;
			yajl_val *nv = realloc(p->u.array.values, nc * sizeof(*nv));
			if (!nv)
				goto oom;
			p->u.array.values = nv;
			f->cap = nc;
		}
		p->u.array.values[p->u.array.len++] = v;
	}
	return 1;
oom:
	yajl_tree_free(v);
	b->err = JSON_ENOMEM;
	return 0;
}

static yajl_val new_node(struct builder *b, yajl_type t)
{
	yajl_val v = calloc(1, sizeof(*v));
	if (!v) {
		b->err = JSON_ENOMEM;
		return NULL;
	}
	v->type = t;
	return v;
}

static int cb_null(void *ctx)
{
	struct builder *b = ctx;
	yajl_val v;
	if (!charge(b, 0) || !(v = new_node(b, yajl_t_null)))
		return 0;
	return attach(b, v);
}

static int cb_bool(void *ctx, int bv)
{
	struct builder *b = ctx;
	yajl_val v;
	if (!charge(b, 0) || !(v = new_node(b, bv ? yajl_t_true : yajl_t_false)))
		return 0;
	return attach(b, v);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	struct builder *b = ctx;
	yajl_val v;
	char *end;

	if (!charge(b, len) || !(v = new_node(b, yajl_t_number)))
		return 0;
	v->u.number.r = malloc(len + 1);
	if (!v->u.number.r) {
		free(v);
		b->err = JSON_ENOMEM;
		return 0;
	}
	memcpy(v->u.number.r, s, len);
	v->u.number.r[len] = '\0';
	errno = 0;
	v->u.number.i = strtoll(v->u.number.r, &end, 10);
	if (errno == 0 && *end == '\0')
		v->u.number.flags |= YAJL_NUMBER_INT_VALID;
	errno = 0;
	v->u.number.d = strtod(v->u.number.r, &end);
	if (errno == 0 && *end == '\0')
		v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
	return attach(b, v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct builder *b = ctx;
	yajl_val v;

	if (!charge(b, len) || !(v = new_node(b, yajl_t_string)))
		return 0;
	v->u.string = malloc(len + 1);
	if (!v->u.string) {
		free(v);
		b->err = JSON_ENOMEM;
		return 0;
	}
	memcpy(v->u.string, s, len);
	v->u.string[len] = '\0';
	return attach(b, v);
}

static int push(struct builder *b, yajl_type t)
{
	yajl_val v;

	if (b->depth >= b->max_depth) {
		b->err = JSON_EDEPTH;
		return 0;
	}
	if (!charge(b, 0) || !(v = new_node(b, t)))
		return 0;
	b->stack[b->depth].node = v;
	b->stack[b->depth].cap = 0;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 1;
}

static int pop(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	yajl_val v = f->node;
	f->node = NULL;
	return attach(b, v);
}

static int cb_start_map(void *ctx)
{
	return push(ctx, yajl_t_object);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct builder *b = ctx;
	struct frame *f = &b->stack[b->depth - 1];

	if (!charge(b, len))
		return 0;
	free(f->key);
	f->key = malloc(len + 1);
	if (!f->key) {
		b->err = JSON_ENOMEM;
		return 0;
	}
	memcpy(f->key, s, len);
	f->key[len] = '\0';
	return 1;
}

static int cb_end(void *ctx)
{
	return pop(ctx);
}

static int cb_start_array(void *ctx)
{
	return push(ctx, yajl_t_array);
}

static const yajl_callbacks callbacks = {
    cb_null,      cb_bool,    NULL,   NULL,           cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end,
};

static int builder_init(struct builder *b, int max_depth, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	if (max_depth <= 0)
		max_depth = JSON_MAX_DEPTH;
	b->stack = calloc((size_t)max_depth, sizeof(*b->stack));
	if (!b->stack)
		return JSON_ENOMEM;
	b->max_depth = max_depth;
	b->max_bytes = max_bytes ? max_bytes : (size_t)-1 / 2;
	return 0;
}

static void builder_free(struct builder *b)
{
	builder_reset(b);
	free(b->stack);
	b->stack = NULL;
	yajl_tree_free(b->done);
	b->done = NULL;
}

static int status_err(struct builder *b)
{
	return b->err ? b->err : JSON_ESYNTAX;
}

int json_parse(const char *s, size_t len, int max_depth, size_t max_bytes, yajl_val *out, char *err,
               size_t errlen)
{
	struct builder b;
	yajl_handle h = NULL;
	int rc;

	if (builder_init(&b, max_depth, max_bytes))
		return JSON_ENOMEM;
	h = yajl_alloc(&callbacks, NULL, &b);
	if (!h) {
		rc = JSON_ENOMEM;
		goto out;
	}
	if (yajl_parse(h, (const unsigned char *)s, len) != yajl_status_ok ||
	    yajl_complete_parse(h) != yajl_status_ok) {
		rc = status_err(&b);
		if (err && errlen) {
			if (rc == JSON_ESYNTAX) {
				unsigned char *m =
				    yajl_get_error(h, 0, (const unsigned char *)s, len);
				snprintf(err, errlen, "malformed json: %s", m ? (char *)m : "?");
				if (m)
					yajl_free_error(h, m);
				/* yajl messages end with a newline */
				size_t n = strlen(err);
				while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
					err[--n] = '\0';
			} else {
				snprintf(err, errlen, "%s", json_strerror(rc));
			}
		}
		goto out;
	}
	if (!b.done) {
		rc = JSON_ESYNTAX;
		if (err && errlen)
			snprintf(err, errlen, "empty json document");
		goto out;
	}
	*out = b.done;
	b.done = NULL;
	rc = JSON_OK;
out:
	if (h)
		yajl_free(h);
	builder_free(&b);
	return rc;
}

struct json_stream *json_stream_new(int max_depth, size_t max_bytes, json_value_cb cb, void *ctx)
{
	struct json_stream *js = calloc(1, sizeof(*js));

	if (!js)
		return NULL;
	if (builder_init(&js->b, max_depth, max_bytes)) {
		free(js);
		return NULL;
	}
	js->b.cb = cb;
	js->b.ctx = ctx;
	js->h = yajl_alloc(&callbacks, NULL, &js->b);
	if (!js->h) {
		builder_free(&js->b);
		free(js);
		return NULL;
	}
	yajl_config(js->h, yajl_allow_multiple_values, 1);
	js->slice = js->b.max_bytes / 8;
	if (js->slice < 64)
		js->slice = 64;
	if (js->slice > 4096)
		js->slice = 4096;
	return js;
}

int json_stream_feed(struct json_stream *js, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (js->b.err)
		return js->b.err;
	for (size_t i = 0; !js->started && i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			js->started = 1;
	while (len > 0) {
		size_t n = js->slice - js->slice_off;
		if (n > len)
			n = len;
		if (yajl_parse(js->h, p, n) != yajl_status_ok) {
			if (!js->b.err)
				js->b.err = JSON_ESYNTAX;
			builder_reset(&js->b);
			return js->b.err;
		}
		p += n;
		len -= n;
		js->slice_off += n;
		if (js->slice_off < js->slice)
			continue;
		js->slice_off = 0;
		if (js->b.ndone != js->ndone_mark) {
			js->ndone_mark = js->b.ndone;
			js->raw = 0;
		} else {
			js->raw += js->slice;
			if (js->raw > js->b.max_bytes) {
				js->b.err = JSON_ESIZE;
				builder_reset(&js->b);
				return js->b.err;
			}
		}
	}
	return 0;
}

int json_stream_finish(struct json_stream *js)
{
	if (js->b.err)
		return js->b.err;
	if (js->b.depth > 0)
		return JSON_ESYNTAX;
	if (!js->started) /* no value at all: yajl would call that premature */
		return 0;
	if (yajl_complete_parse(js->h) != yajl_status_ok)
		return js->b.err ? js->b.err : JSON_ESYNTAX;
	return 0;
}

size_t json_stream_pending(const struct json_stream *js)
{
	return js->b.depth ? js->b.bytes : 0;
}

void json_stream_free(struct json_stream *js)
{
	if (!js)
		return;
	yajl_free(js->h);
	builder_free(&js->b);
	free(js);
}

static yajl_val vget(yajl_val v, va_list ap)
{
	const char *k;

	while ((k = va_arg(ap, const char *)) != NULL) {
		yajl_val next = NULL;
		if (!v || v->type != yajl_t_object)
			return NULL;
		for (size_t i = 0; i < v->u.object.len; i++) {
			if (strcmp(v->u.object.keys[i], k) == 0) {
				next = v->u.object.values[i];
				break;
			}
		}
		v = next;
	}
	return v;
}

yajl_val json_get(yajl_val v, ...)
{
	va_list ap;
	va_start(ap, v);
	v = vget(v, ap);
	va_end(ap);
	return v;
}

const char *json_get_str(yajl_val v, ...)
{
	va_list ap;
	va_start(ap, v);
	v = vget(v, ap);
	va_end(ap);
	return json_str(v);
}

long long json_get_int(yajl_val v, long long def, ...)
{
	va_list ap;
	va_start(ap, def);
	v = vget(v, ap);
	va_end(ap);
	if (v && v->type == yajl_t_number && (v->u.number.flags & YAJL_NUMBER_INT_VALID))
		return v->u.number.i;
	return def;
}

int json_get_bool(yajl_val v, int def, ...)
{
	va_list ap;
	va_start(ap, def);
	v = vget(v, ap);
	va_end(ap);
	if (v && v->type == yajl_t_true)
		return 1;
	if (v && v->type == yajl_t_false)
		return 0;
	return def;
}

const char *json_str(yajl_val v)
{
	return v && v->type == yajl_t_string ? v->u.string : NULL;
}

size_t json_array_len(yajl_val v)
{
	return v && v->type == yajl_t_array ? v->u.array.len : 0;
}

yajl_val json_array_at(yajl_val v, size_t i)
{
	return i < json_array_len(v) ? v->u.array.values[i] : NULL;
}

int json_gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok ? 0
	                                                                                     : -1;
}

int json_gen_kv(yajl_gen g, const char *k, const char *v)
{
	if (!v)
		return 0;
	if (json_gen_str(g, k) || json_gen_str(g, v))
		return -1;
	return 0;
}

int json_gen_val(yajl_gen g, yajl_val v)
{
	yajl_gen_status st = yajl_gen_status_ok;

	if (!v)
		return yajl_gen_null(g) == yajl_gen_status_ok ? 0 : -1;
	switch (v->type) {
	case yajl_t_string:
		return json_gen_str(g, v->u.string);
	case yajl_t_number:
		st = yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_true:
		st = yajl_gen_bool(g, 1);
		break;
	case yajl_t_false:
		st = yajl_gen_bool(g, 0);
		break;
	case yajl_t_null:
		st = yajl_gen_null(g);
		break;
	case yajl_t_object:
		if (yajl_gen_map_open(g) != yajl_gen_status_ok)
			return -1;
		for (size_t i = 0; i < v->u.object.len; i++) {
			if (json_gen_str(g, v->u.object.keys[i]) ||
			    json_gen_val(g, v->u.object.values[i]))
				return -1;
		}
		st = yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		if (yajl_gen_array_open(g) != yajl_gen_status_ok)
			return -1;
		for (size_t i = 0; i < v->u.array.len; i++)
			if (json_gen_val(g, v->u.array.values[i]))
				return -1;
		st = yajl_gen_array_close(g);
		break;
	default:
		return -1;
	}
	return st == yajl_gen_status_ok ? 0 : -1;
}

char *json_dump(yajl_val v)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *p;
	size_t n;
	char *out = NULL;

	if (!g)
		return NULL;
	if (json_gen_val(g, v) == 0 && yajl_gen_get_buf(g, &p, &n) == yajl_gen_status_ok) {
		out = malloc(n + 1);
		if (out) {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
	yajl_gen_free(g);
	return out;
}

yajl_val json_clone(yajl_val v)
{
	char *s;
	yajl_val out = NULL;

	if (!v)
		return NULL;
	s = json_dump(v);
	if (!s)
		return NULL;
	if (json_parse(s, strlen(s), 1024, 0, &out, NULL, 0) != JSON_OK)
		out = NULL;
	free(s);
	return out;
}

int json_equal(yajl_val a, yajl_val b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case yajl_t_string:
		return strcmp(a->u.string, b->u.string) == 0;
	case yajl_t_number:
		return strcmp(a->u.number.r, b->u.number.r) == 0;
	case yajl_t_array:
		if (a->u.array.len != b->u.array.len)
			return 0;
		for (size_t i = 0; i < a->u.array.len; i++)
			if (!json_equal(a->u.array.values[i], b->u.array.values[i]))
				return 0;
		return 1;
	case yajl_t_object:
		if (a->u.object.len != b->u.object.len)
			return 0;
		for (size_t i = 0; i < a->u.object.len; i++)
			if (!json_equal(a->u.object.values[i],
			                json_get(b, a->u.object.keys[i], (char *)NULL)))
				return 0;
		return 1;
	default: /* true, false, null: the type says it all */
		return 1;
	}
}

int json_subset(yajl_val want, yajl_val have)
{
	if (!want)
		return 1;
	if (!have)
		return want->type == yajl_t_null;
	switch (want->type) {
	case yajl_t_object:
		if (have->type != yajl_t_object)
			return 0;
		for (size_t i = 0; i < want->u.object.len; i++) {
			yajl_val hv = NULL;
			for (size_t j = 0; j < have->u.object.len; j++) {
				if (strcmp(want->u.object.keys[i], have->u.object.keys[j]) == 0) {
					hv = have->u.object.values[j];
					break;
				}
			}
			if (!json_subset(want->u.object.values[i], hv))
				return 0;
		}
		return 1;
	case yajl_t_array:
		if (have->type != yajl_t_array || have->u.array.len != want->u.array.len)
			return 0;
		for (size_t i = 0; i < want->u.array.len; i++)
			if (!json_subset(want->u.array.values[i], have->u.array.values[i]))
				return 0;
		return 1;
	case yajl_t_string:
		return have->type == yajl_t_string && strcmp(want->u.string, have->u.string) == 0;
	case yajl_t_number:
		if (have->type != yajl_t_number)
			return 0;
		if ((want->u.number.flags & YAJL_NUMBER_INT_VALID) &&
		    (have->u.number.flags & YAJL_NUMBER_INT_VALID))
			return want->u.number.i == have->u.number.i;
		return strcmp(want->u.number.r, have->u.number.r) == 0;
	default:
		return want->type == have->type;
	}
}

static void wipe(yajl_val v)
{
	if (!v)
		return;
	switch (v->type) {
	case yajl_t_string:
		OPENSSL_cleanse(v->u.string, strlen(v->u.string));
		break;
	case yajl_t_object:
		for (size_t i = 0; i < v->u.object.len; i++) {
			OPENSSL_cleanse((char *)v->u.object.keys[i], strlen(v->u.object.keys[i]));
			wipe(v->u.object.values[i]);
		}
		break;
	case yajl_t_array:
		for (size_t i = 0; i < v->u.array.len; i++)
			wipe(v->u.array.values[i]);
		break;
	default:
		break;
	}
}

void json_free_secret(yajl_val v)
{
	wipe(v);
	yajl_tree_free(v);
}

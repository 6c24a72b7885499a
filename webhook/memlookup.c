/*
 * memlookup: an in-memory wh_lookup (see memlookup.h).
 */
#include "memlookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct entry {
	enum wh_kind kind;
	yajl_val obj;
};

struct wh_memlookup {
	struct entry *e;
	size_t n, cap;
	int fail_kind;
	char fail_err[200];
	unsigned long calls;
};

struct wh_memlookup *wh_memlookup_new(void)
{
	struct wh_memlookup *m = calloc(1, sizeof(*m));

	if (m)
		m->fail_kind = WH_MEM_FAIL_NONE;
	return m;
}

static const char *ns_of(enum wh_kind k, yajl_val o)
{
	const char *ns = json_get_str(o, "metadata", "namespace", (char *)NULL);
	return k == WH_KIND_NAMESPACE ? "" : ns ? ns : "";
}

static int same(const struct entry *e, enum wh_kind k, const char *ns, const char *name)
{
	return e->kind == k && strcmp(ns_of(k, e->obj), ns ? ns : "") == 0 &&
	       strcmp(json_get_str(e->obj, "metadata", "name", (char *)NULL), name) == 0;
}

int wh_memlookup_take(struct wh_memlookup *m, enum wh_kind kind, yajl_val obj)
{
	const char *name = json_get_str(obj, "metadata", "name", (char *)NULL);

	if (!name) {
		yajl_tree_free(obj);
		return -1;
	}
	for (size_t i = 0; i < m->n; i++)
		if (same(&m->e[i], kind, ns_of(kind, obj), name)) {
			yajl_tree_free(m->e[i].obj);
			m->e[i].obj = obj;
			return 0;
		}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct entry *e = realloc(m->e, cap * sizeof(*e));
		if (!e) {
			yajl_tree_free(obj);
			return -1;
		}
		m->e = e;
		m->cap = cap;
	}
	m->e[m->n].kind = kind;
	m->e[m->n].obj = obj;
	m->n++;
	return 0;
}

int wh_memlookup_add_json(struct wh_memlookup *m, enum wh_kind kind, const char *json)
{
	yajl_val v = NULL;

	if (json_parse(json, strlen(json), JSON_MAX_DEPTH, 0, &v, NULL, 0) != 0)
		return -1;
	return wh_memlookup_take(m, kind, v);
}

void wh_memlookup_fail(struct wh_memlookup *m, int kind, const char *err)
{
	m->fail_kind = kind;
	snprintf(m->fail_err, sizeof(m->fail_err), "%s", err ? err : "injected failure");
}

unsigned long wh_memlookup_calls(const struct wh_memlookup *m)
{
	return m->calls;
}

static int failing(struct wh_memlookup *m, enum wh_kind k, char *err, size_t errlen)
{
	if (m->fail_kind == WH_MEM_FAIL_ALL || m->fail_kind == (int)k) {
		snprintf(err, errlen, "%s", m->fail_err);
		return 1;
	}
	return 0;
}

static int get(void *ctx, enum wh_kind k, const char *ns, const char *name, yajl_val *out,
	       char *err, size_t errlen)
{
	struct wh_memlookup *m = ctx;

	m->calls++;
	if (failing(m, k, err, errlen))
		return WH_LOOKUP_ERROR;
	for (size_t i = 0; i < m->n; i++)
		if (same(&m->e[i], k, k == WH_KIND_NAMESPACE ? "" : ns, name)) {
			*out = json_clone(m->e[i].obj);
			if (!*out) {
				snprintf(err, errlen, "out of memory");
				return WH_LOOKUP_ERROR;
			}
			return WH_LOOKUP_FOUND;
		}
	return WH_LOOKUP_NOT_FOUND;
}

static int list(void *ctx, enum wh_kind k, const char *ns, wh_item_fn fn, void *arg, char *err,
		size_t errlen)
{
	struct wh_memlookup *m = ctx;

	m->calls++;
	if (failing(m, k, err, errlen))
		return WH_LOOKUP_ERROR;
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].kind == k && strcmp(ns_of(k, m->e[i].obj), ns ? ns : "") == 0 &&
		    fn(m->e[i].obj, arg))
			break;
	return WH_LOOKUP_FOUND;
}

void wh_memlookup_bind(struct wh_memlookup *m, struct wh_lookup *lk)
{
	lk->ctx = m;
	lk->get = get;
	lk->list = list;
}

void wh_memlookup_free(struct wh_memlookup *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		yajl_tree_free(m->e[i].obj);
	free(m->e);
	free(m);
}

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

/* A field selector as the API server applies it: "a.b=v,c=w", every term an
 * equality on a dotted path (a missing field is ""). */
static int field_selector_matches(yajl_val obj, const char *sel)
{
	char buf[512], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", sel) >= (int)sizeof(buf))
		return 0;
	for (char *term = strtok_r(buf, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(term, '='), *psave = NULL;
		yajl_val v = obj;
		const char *have;
		if (!eq)
			return 0;
		*eq = '\0';
		for (char *part = strtok_r(term, ".", &psave); part && v;
		     part = strtok_r(NULL, ".", &psave))
			v = json_get(v, part, (char *)NULL);
		have = json_str(v);
		if (strcmp(have ? have : "", eq + 1) != 0)
			return 0;
	}
	return 1;
}

static int selected(yajl_val obj, const char *const *any_of)
{
	if (!any_of || !any_of[0])
		return 1;
	for (size_t i = 0; any_of[i]; i++)
		if (field_selector_matches(obj, any_of[i]))
			return 1;
	return 0;
}

static int list(void *ctx, enum wh_kind k, const char *ns, const char *const *any_of, wh_item_fn fn,
                void *arg, char *err, size_t errlen)
{
	struct wh_memlookup *m = ctx;

	m->calls++;
	if (failing(m, k, err, errlen))
		return WH_LOOKUP_ERROR;
	/* as the API server would: only the objects a selector matches (with
	 * them, a wrong selector in the rules shows in the rules' tests) */
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].kind == k && strcmp(ns_of(k, m->e[i].obj), ns ? ns : "") == 0 &&
		    selected(m->e[i].obj, any_of) && fn(m->e[i].obj, arg))
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

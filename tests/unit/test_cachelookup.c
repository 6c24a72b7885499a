/* Tests for webhook/cachelookup: a synced cache answers hits, everything else
 * goes to the fallback (a memlookup here), whose answers pass through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachelookup.h"
#include "json.h"
#include "memlookup.h"
#include "unit.h"

/* A fake cache: one key, one object, a synced flag, a call counter. */
struct fake {
	int synced;
	const char *key;  /* the one key it holds (NULL: empty) */
	const char *json; /* its object */
	unsigned long gets;
	char last_key[128];
};

static int fake_synced(void *ctx)
{
	return ((struct fake *)ctx)->synced;
}

static yajl_val fake_get(void *ctx, const char *key)
{
	struct fake *f = ctx;

	f->gets++;
	snprintf(f->last_key, sizeof(f->last_key), "%s", key);
	if (!f->key || strcmp(f->key, key) != 0)
		return NULL;
	return yajl_tree_parse(f->json, NULL, 0);
}

struct fixture {
	struct wh_memlookup *mem;
	struct wh_lookup live, lk;
	struct wh_cache_lookup cl;
	struct fake ek, ns;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct wh_cache_source s;

	assert_non_null(fx);
	fx->mem = wh_memlookup_new();
	assert_non_null(fx->mem);
	wh_memlookup_bind(fx->mem, &fx->live);
	wh_cache_lookup_init(&fx->cl, &fx->live);
	s = (struct wh_cache_source){&fx->ek, fake_synced, fake_get};
	assert_int_equal(wh_cache_lookup_set(&fx->cl, WH_KIND_ENCRYPTIONKEY, &s), 0);
	s = (struct wh_cache_source){&fx->ns, fake_synced, fake_get};
	assert_int_equal(wh_cache_lookup_set(&fx->cl, WH_KIND_NAMESPACE, &s), 0);
	wh_cache_lookup_bind(&fx->cl, &fx->lk);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	wh_memlookup_free(fx->mem);
	free(fx);
	return 0;
}

static int do_get(struct fixture *fx, enum wh_kind k, const char *ns, const char *name,
                  const char **region, char *err, size_t errlen)
{
	static char got[64];
	yajl_val v = NULL;
	int rc;

	err[0] = 0;
	rc = fx->lk.get(fx->lk.ctx, k, ns, name, &v, err, errlen);
	got[0] = 0;
	if (rc == WH_LOOKUP_FOUND) {
		const char *r;
		assert_non_null(v);
		r = json_get_str(v, "spec", "region", NULL);
		snprintf(got, sizeof(got), "%s", r ? r : "");
		yajl_tree_free(v);
	}
	if (region)
		*region = got;
	return rc;
}

static void test_hit_served_from_cache(void **state)
{
	struct fixture *fx = *state;
	const char *region;
	char err[128];

	fx->ek.synced = 1;
	fx->ek.key = "app/k1";
	fx->ek.json = "{\"metadata\":{\"name\":\"k1\",\"namespace\":\"app\"},"
	              "\"spec\":{\"region\":\"cached\"}}";
	/* the live side has a different version: a hit must not reach it */
	assert_int_equal(wh_memlookup_add_json(fx->mem, WH_KIND_ENCRYPTIONKEY,
	                                       "{\"metadata\":{\"name\":\"k1\",\"namespace\":"
	                                       "\"app\"},\"spec\":{\"region\":\"live\"}}"),
	                 0);
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "k1", &region, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	assert_string_equal(region, "cached");
	assert_string_equal(fx->ek.last_key, "app/k1");
	assert_int_equal(wh_memlookup_calls(fx->mem), 0);
	assert_int_equal(fx->cl.stats.hits, 1);
}

static void test_unsynced_goes_live(void **state)
{
	struct fixture *fx = *state;
	const char *region;
	char err[128];

	fx->ek.synced = 0;
	fx->ek.key = "app/k1";
	fx->ek.json = "{\"metadata\":{\"name\":\"k1\"},\"spec\":{\"region\":\"cached\"}}";
	assert_int_equal(wh_memlookup_add_json(fx->mem, WH_KIND_ENCRYPTIONKEY,
	                                       "{\"metadata\":{\"name\":\"k1\",\"namespace\":"
	                                       "\"app\"},\"spec\":{\"region\":\"live\"}}"),
	                 0);
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "k1", &region, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	assert_string_equal(region, "live");
	assert_int_equal(fx->ek.gets, 0); /* an unsynced cache is not even read */
	assert_int_equal(wh_memlookup_calls(fx->mem), 1);
	assert_int_equal(fx->cl.stats.unsynced, 1);
	assert_int_equal(fx->cl.stats.hits, 0);
}

static void test_miss_goes_live(void **state)
{
	struct fixture *fx = *state;
	const char *region;
	char err[128];

	fx->ek.synced = 1; /* synced but empty: the key was created a moment ago */
	assert_int_equal(wh_memlookup_add_json(fx->mem, WH_KIND_ENCRYPTIONKEY,
	                                       "{\"metadata\":{\"name\":\"new\",\"namespace\":"
	                                       "\"app\"},\"spec\":{\"region\":\"live\"}}"),
	                 0);
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "new", &region, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	assert_string_equal(region, "live");
	assert_int_equal(fx->ek.gets, 1);
	/* missing on both sides: the live answer (not found) is the answer */
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "gone", NULL, err, sizeof(err)),
	                 WH_LOOKUP_NOT_FOUND);
	assert_int_equal(wh_memlookup_calls(fx->mem), 2);
	assert_int_equal(fx->cl.stats.misses, 2);
}

static void test_miss_keeps_live_error(void **state)
{
	struct fixture *fx = *state;
	char err[128];

	fx->ek.synced = 1;
	wh_memlookup_fail(fx->mem, WH_KIND_ENCRYPTIONKEY, "forbidden");
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "k1", NULL, err, sizeof(err)),
	                 WH_LOOKUP_ERROR);
	assert_non_null(strstr(err, "forbidden"));
	/* and a hit does not need the (failing) live side */
	fx->ek.key = "app/k1";
	fx->ek.json = "{\"metadata\":{\"name\":\"k1\"},\"spec\":{\"region\":\"eu\"}}";
	assert_int_equal(do_get(fx, WH_KIND_ENCRYPTIONKEY, "app", "k1", NULL, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
}

static void test_namespace_key_is_name(void **state)
{
	struct fixture *fx = *state;
	char err[128];

	fx->ns.synced = 1;
	fx->ns.key = "app";
	fx->ns.json = "{\"metadata\":{\"name\":\"app\"}}";
	assert_int_equal(do_get(fx, WH_KIND_NAMESPACE, NULL, "app", NULL, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	assert_string_equal(fx->ns.last_key, "app");
	assert_int_equal(wh_memlookup_calls(fx->mem), 0);
}

static void test_uncached_kinds_and_list_go_live(void **state)
{
	struct fixture *fx = *state;
	struct wh_cache_source s = {&fx->ek, fake_synced, fake_get};
	char err[128];

	/* Secrets can not be cached at all */
	assert_int_equal(wh_cache_lookup_set(&fx->cl, WH_KIND_SECRET, &s), -1);
	assert_int_equal(wh_memlookup_add_json(fx->mem, WH_KIND_SECRET,
	                                       "{\"metadata\":{\"name\":\"pw\",\"namespace\":"
	                                       "\"app\"}}"),
	                 0);
	assert_int_equal(do_get(fx, WH_KIND_SECRET, "app", "pw", NULL, err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	/* a kind without a cache (Cluster here) */
	assert_int_equal(do_get(fx, WH_KIND_CLUSTER, "app", "c", NULL, err, sizeof(err)),
	                 WH_LOOKUP_NOT_FOUND);
	assert_int_equal(fx->cl.stats.uncached, 2);
	/* list() is the fallback's */
	fx->ek.synced = 1;
	assert_int_equal(fx->lk.list(fx->lk.ctx, WH_KIND_ENCRYPTIONKEY, "app", NULL, NULL, NULL,
	                             err, sizeof(err)),
	                 WH_LOOKUP_FOUND);
	assert_int_equal(wh_memlookup_calls(fx->mem), 3);
	assert_int_equal(fx->ek.gets, 0);
}

/* The rules see the cached key: its region differs from the Cluster's, so
 * VW011 (the live side, empty here, would only have warned "not found"). */
static void test_rules_through_cache(void **state)
{
	struct fixture *fx = *state;
	struct wh_result res;
	struct wh_input in;
	yajl_val obj;
	int vw011 = 0;

	fx->ek.synced = 1;
	fx->ns.synced = 1;
	fx->ns.key = "app";
	fx->ns.json = "{\"metadata\":{\"name\":\"app\"}}";
	fx->ek.key = "app/k1";
	fx->ek.json = "{\"metadata\":{\"name\":\"k1\",\"namespace\":\"app\"},"
	              "\"spec\":{\"provider\":\"aws-kms\",\"region\":\"us-east-1\"}}";
	obj = yajl_tree_parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"app\"},"
	                      "\"spec\":{\"region\":\"eu-west-1\","
	                      "\"encryption\":{\"keyRef\":{\"name\":\"k1\"}}}}",
	                      NULL, 0);
	assert_non_null(obj);
	memset(&in, 0, sizeof(in));
	in.kind = WH_KIND_CLUSTER;
	in.op = WH_OP_CREATE;
	in.ns = "app";
	in.object = obj;
	assert_int_equal(wh_evaluate(&in, &fx->lk, &res), 0);
	assert_int_equal(fx->ek.gets, 1);
	assert_string_equal(fx->ek.last_key, "app/k1");
	for (size_t i = 0; i < res.n_denials; i++) {
		assert_string_not_equal(res.denials[i].id, "VW000");
		if (strcmp(res.denials[i].id, "VW011") == 0)
			vw011 = 1;
	}
	assert_true(vw011);
	wh_result_free(&res);
	yajl_tree_free(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hit_served_from_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsynced_goes_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_miss_goes_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_miss_keeps_live_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespace_key_is_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uncached_kinds_and_list_go_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rules_through_cache, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

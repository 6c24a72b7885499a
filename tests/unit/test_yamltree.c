/* Tests for common/yamltree: YAML read into yajl trees, with node and depth caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "unit.h"
#include "yamltree.h"

static yajl_val yaml_ok(const char *s)
{
	yajl_val v = NULL;
	char err[256] = "";
	if (yamltree_parse(s, strlen(s), &v, err, sizeof(err)) != 0)
		fail_msg("yamltree_parse failed: %s\n%s", err, s);
	assert_non_null(v);
	return v;
}

static void yaml_fails(const char *s, size_t len, const char *want_err_part)
{
	yajl_val v = (yajl_val)0x1; /* must not be touched */
	char err[256] = "";
	assert_int_equal(yamltree_parse(s, len, &v, err, sizeof(err)), -1);
	assert_ptr_equal(v, (yajl_val)0x1);
	if (!strstr(err, want_err_part))
		fail_msg("error \"%s\" does not mention \"%s\"", err, want_err_part);
}

static void assert_dump(yajl_val v, const char *want)
{
	char *d = json_dump(v);
	assert_non_null(d);
	assert_string_equal(d, want);
	free(d);
}

static void test_scalars_are_strings(void **state)
{
	yajl_val v = yaml_ok("a: 1\n"
	                     "b: true\n"
	                     "c: hello world\n"
	                     "d: \"quoted: yes\"\n"
	                     "e: ~\n"
	                     "f:\n"
	                     "g: 'single ''q'''\n"
	                     "h: -0.5e3\n"
	                     "i: |\n"
	                     "  line one\n"
	                     "  line two\n"
	                     "j: \"caf\\u00e9\\n\"\n");

	assert_int_equal(v->type, yajl_t_object);
	assert_int_equal(v->u.object.len, 10);
	assert_string_equal(json_get_str(v, "a", NULL), "1");
	assert_string_equal(json_get_str(v, "b", NULL), "true");
	assert_string_equal(json_get_str(v, "c", NULL), "hello world");
	assert_string_equal(json_get_str(v, "d", NULL), "quoted: yes");
	assert_string_equal(json_get_str(v, "e", NULL), "~");
	assert_string_equal(json_get_str(v, "f", NULL), "");
	assert_string_equal(json_get_str(v, "g", NULL), "single 'q'");
	assert_string_equal(json_get_str(v, "h", NULL), "-0.5e3");
	assert_string_equal(json_get_str(v, "i", NULL), "line one\nline two\n");
	assert_string_equal(json_get_str(v, "j", NULL), "caf\xc3\xa9\n");
	/* keys keep their order */
	assert_string_equal(v->u.object.keys[0], "a");
	assert_string_equal(v->u.object.keys[9], "j");
	yajl_tree_free(v);
}

static void test_nesting(void **state)
{
	yajl_val v = yaml_ok("clusters:\n"
	                     "- name: one\n"
	                     "  cluster:\n"
	                     "    server: https://a\n"
	                     "    extensions: []\n"
	                     "- name: two\n"
	                     "  cluster: {server: 'https://b', tags: [x, y]}\n"
	                     "empty: {}\n");

	assert_dump(v,
	            "{\"clusters\":[{\"name\":\"one\",\"cluster\":{\"server\":\"https://a\","
	            "\"extensions\":[]}},{\"name\":\"two\",\"cluster\":{\"server\":\"https://b\","
	            "\"tags\":[\"x\",\"y\"]}}],\"empty\":{}}");
	yajl_val cl = json_get(v, "clusters", NULL);
	assert_int_equal(json_array_len(cl), 2);
	assert_string_equal(json_get_str(json_array_at(cl, 1), "cluster", "server", NULL),
	                    "https://b");
	yajl_tree_free(v);
}

static void test_top_level_sequence_and_scalar(void **state)
{
	yajl_val v = yaml_ok("- a\n- [b, c]\n- {d: e}\n");
	assert_dump(v, "[\"a\",[\"b\",\"c\"],{\"d\":\"e\"}]");
	yajl_tree_free(v);
	v = yaml_ok("just text\n");
	assert_string_equal(json_str(v), "just text");
	yajl_tree_free(v);
}

static void test_json_is_yaml(void **state)
{
	yajl_val v = yaml_ok("{\"a\": [1, 2], \"b\": {\"c\": null}}");
	assert_dump(v, "{\"a\":[\"1\",\"2\"],\"b\":{\"c\":\"null\"}}");
	yajl_tree_free(v);
}

static void test_alias_followed(void **state)
{
	yajl_val v = yaml_ok("base: &b {k: v, n: [1]}\ncopy: *b\nname: &s text\nagain: *s\n");
	assert_string_equal(json_get_str(v, "copy", "k", NULL), "v");
	assert_string_equal(json_get_str(v, "again", NULL), "text");
	/* the copy is a separate tree (each node freed once: ASan checks) */
	assert_ptr_not_equal(json_get(v, "copy", NULL), json_get(v, "base", NULL));
	assert_dump(json_get(v, "copy", NULL), "{\"k\":\"v\",\"n\":[\"1\"]}");
	yajl_tree_free(v);
}

static void test_alias_bomb_capped(void **state)
{
	/* "billion laughs": 9^9 leaves if expanded */
	static const char bomb[] =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	char want[64];

	snprintf(want, sizeof(want), "yaml: more than %d nodes", YAMLTREE_MAX_NODES);
	yaml_fails(bomb, sizeof(bomb) - 1, want);

	/* just under the cap is fine: 9^5 leaves + inner nodes */
	yajl_val v = yaml_ok("a: &a [x,x,x,x,x,x,x,x,x]\n"
	                     "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	                     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	                     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n");
	assert_int_equal(json_array_len(json_get(v, "d", NULL)), 9);
	yajl_tree_free(v);
}

static void test_recursive_alias_capped(void **state)
{
	static const char loop[] = "a: &a [x, *a]\n";
	yaml_fails(loop, sizeof(loop) - 1, "yaml: nested deeper than 64");
}

static char *nested_flow(int n)
{
	struct buf b = BUF_INIT(1 << 20);
	for (int i = 0; i < n; i++)
		assert_int_equal(buf_addc(&b, '['), 0);
	assert_int_equal(buf_addc(&b, 'x'), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(buf_addc(&b, ']'), 0);
	return buf_take(&b);
}

static void test_depth_cap(void **state)
{
	/* the root is depth 0; a node deeper than JSON_MAX_DEPTH fails */
	char *ok = nested_flow(JSON_MAX_DEPTH);
	char *deep = nested_flow(JSON_MAX_DEPTH + 1);
	yajl_val v = yaml_ok(ok);
	int d = 0;

	for (yajl_val p = v; p->type == yajl_t_array; p = json_array_at(p, 0))
		d++;
	assert_int_equal(d, JSON_MAX_DEPTH);
	yajl_tree_free(v);
	yaml_fails(deep, strlen(deep), "yaml: nested deeper than 64");
	free(ok);
	free(deep);
}

static void test_syntax_error(void **state)
{
	static const char bad[] = "a: [1, 2\nb: c\n";
	static const char tabs[] = "a:\n\tb: c\n";
	yaml_fails(bad, sizeof(bad) - 1, "yaml: ");
	yaml_fails(bad, sizeof(bad) - 1, " at line ");
	yaml_fails(tabs, sizeof(tabs) - 1, " at line 2 ");
}

static void test_empty_document(void **state)
{
	yaml_fails("", 0, "yaml: empty document");
	yaml_fails("# only a comment\n", 17, "yaml: empty document");
}

static void test_non_scalar_key(void **state)
{
	static const char s[] = "? [a, b]\n: c\n";
	yaml_fails(s, sizeof(s) - 1, "yaml: mapping key is not a scalar");
}

static void test_only_first_document(void **state)
{
	yajl_val v = yaml_ok("a: 1\n---\nb: 2\n");
	assert_dump(v, "{\"a\":\"1\"}");
	yajl_tree_free(v);
}

static void test_err_may_be_null(void **state)
{
	yajl_val v = NULL;
	assert_int_equal(yamltree_parse("a: [", 4, &v, NULL, 0), -1);
	assert_null(v);
	assert_int_equal(yamltree_parse("", 0, &v, NULL, 0), -1);
	assert_null(v);
}

static void test_length_is_respected(void **state)
{
	/* only len bytes are read, not up to a NUL */
	yajl_val v = NULL;
	assert_int_equal(yamltree_parse("a: bcdef", 5, &v, NULL, 0), 0);
	assert_string_equal(json_get_str(v, "a", NULL), "bc");
	yajl_tree_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_are_strings),
	    cmocka_unit_test(test_nesting),
	    cmocka_unit_test(test_top_level_sequence_and_scalar),
	    cmocka_unit_test(test_json_is_yaml),
	    cmocka_unit_test(test_alias_followed),
	    cmocka_unit_test(test_alias_bomb_capped),
	    cmocka_unit_test(test_recursive_alias_capped),
	    cmocka_unit_test(test_depth_cap),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_empty_document),
	    cmocka_unit_test(test_non_scalar_key),
	    cmocka_unit_test(test_only_first_document),
	    cmocka_unit_test(test_err_may_be_null),
	    cmocka_unit_test(test_length_is_respected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

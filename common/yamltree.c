#include "yamltree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "json.h"

struct conv {
	yaml_document_t *doc;
	size_t nodes;
	char *err;
	size_t errlen;
};

static yajl_val conv_node(struct conv *c, yaml_node_t *n, int depth)
{
	yajl_val v = NULL;

	if (!n) {
		snprintf(c->err, c->errlen, "yaml: dangling node reference");
		return NULL;
	}
	if (depth > JSON_MAX_DEPTH) {
		snprintf(c->err, c->errlen, "yaml: nested deeper than %d", JSON_MAX_DEPTH);
		return NULL;
	}
	if (++c->nodes > YAMLTREE_MAX_NODES) {
		snprintf(c->err, c->errlen, "yaml: more than %d nodes (alias expansion?)",
		         YAMLTREE_MAX_NODES);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		goto oom;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		v->type = yajl_t_string;
		v->u.string = malloc(n->data.scalar.length + 1);
		if (!v->u.string)
			goto oom;
		memcpy(v->u.string, n->data.scalar.value, n->data.scalar.length);
		v->u.string[n->data.scalar.length] = '\0';
		return v;
	case YAML_SEQUENCE_NODE: {
		size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
		v->type = yajl_t_array;
		if (cnt) {
			v->u.array.values = calloc(cnt, sizeof(yajl_val));
			if (!v->u.array.values)
				goto oom;
		}
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_t *it =
			    yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
			yajl_val cv = conv_node(c, it, depth + 1);
			if (!cv)
				goto fail;
			v->u.array.values[v->u.array.len++] = cv;
		}
		return v;
	}
	case YAML_MAPPING_NODE: {
		size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
		v->type = yajl_t_object;
		if (cnt) {
			v->u.object.keys = calloc(cnt, sizeof(char *));
			v->u.object.values = calloc(cnt, sizeof(yajl_val));
			if (!v->u.object.keys || !v->u.object.values)
				goto oom;
		}
		for (size_t i = 0; i < cnt; i++) {
			yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				snprintf(c->err, c->errlen, "yaml: mapping key is not a scalar");
				goto fail;
			}
			char *ks = malloc(k->data.scalar.length + 1);
			if (!ks)
				goto oom;
			memcpy(ks, k->data.scalar.value, k->data.scalar.length);
			ks[k->data.scalar.length] = '\0';
			yajl_val cv =
			    conv_node(c, yaml_document_get_node(c->doc, p->value), depth + 1);
			if (!cv) {
				free(ks);
				goto fail;
			}
			v->u.object.keys[v->u.object.len] = ks;
			v->u.object.values[v->u.object.len] = cv;
			v->u.object.len++;
		}
		return v;
	}
	default:
		v->type = yajl_t_null;
		return v;
	}
oom:
	snprintf(c->err, c->errlen, "yaml: out of memory");
fail:
	yajl_tree_free(v);
	return NULL;
}

int yamltree_parse(const char *s, size_t len, yajl_val *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	char dummy[8];
	struct conv c = {&doc, 0, err ? err : dummy, err ? errlen : sizeof(dummy)};
	yaml_node_t *root;
	yajl_val v;
	int rc = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(c.err, c.errlen, "yaml: out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)s, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(c.err, c.errlen, "yaml: %s at line %zu column %zu",
		         parser.problem ? parser.problem : "syntax error",
		         parser.problem_mark.line + 1, parser.problem_mark.column + 1);
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(c.err, c.errlen, "yaml: empty document");
		goto out;
	}
	v = conv_node(&c, root, 0);
	if (!v)
		goto out;
	*out = v;
	rc = 0;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/*
 * yamltree: a YAML document (libyaml) as a yajl tree, so YAML input (kubeconfig)
 * and JSON input are read with the same getters from json.h.
 *
 * Mappings become objects, sequences arrays, and every scalar a string (the
 * caller interprets "true" or "3"). Aliases are followed, but the total number
 * of nodes produced and the depth are capped, so an alias bomb fails cleanly.
 * Only the first document of the stream is read.
 */
#ifndef VW_YAMLTREE_H
#define VW_YAMLTREE_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define YAMLTREE_MAX_NODES 200000

/* 0 and *out (caller frees with yajl_tree_free), or -1 with err filled. */
int yamltree_parse(const char *s, size_t len, yajl_val *out, char *err, size_t errlen);

#endif

/*
 * libFuzzer harness for kube_config_parse (operator/kube/kubeconfig.c).
 *
 * Relative file paths resolve under a directory that does not exist, so every
 * file read fails harmlessly. Inputs naming an absolute path (in any YAML
 * spelling: the check walks the same tree kube_config_parse reads) are
 * skipped, so the fuzzer never reads real files such as /dev/stdin.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "kubeconfig.h"
#include "yamltree.h"

#define FUZZ_BASEDIR "/nonexistent-vecward-fuzz/kube"

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static int names_absolute_path(yajl_val v)
{
	if (!v)
		return 0;
	switch (v->type) {
	case yajl_t_string:
		return v->u.string[0] == '/';
	case yajl_t_object:
		for (size_t i = 0; i < v->u.object.len; i++)
			if (names_absolute_path(v->u.object.values[i]))
				return 1;
		return 0;
	case yajl_t_array:
		for (size_t i = 0; i < v->u.array.len; i++)
			if (names_absolute_path(v->u.array.values[i]))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static void parse(const char *s, size_t len, const char *context)
{
	struct kube_config *c = NULL;
	char err[512];

	err[0] = '\0';
	if (kube_config_parse(s, len, FUZZ_BASEDIR, context, &c, err, sizeof(err)) != 0) {
		check(c == NULL);
		check(err[0] != '\0' && strlen(err) < sizeof(err));
		return;
	}
	check(c != NULL);
	check(c->server && strncmp(c->server, "https://", 8) == 0);
	check(c->namespace && c->context);
	check((c->cert.len == 0) == (c->key.len == 0));
	if (c->token_file) {
		struct buf t = BUF_INIT(64 * 1024);
		/* under FUZZ_BASEDIR: cannot be read, and no token is known */
		check(strncmp(c->token_file, FUZZ_BASEDIR "/", sizeof(FUZZ_BASEDIR)) == 0);
		if (c->token.len == 0)
			check(kube_config_token(c, &t) == -1);
		buf_free_secret(&t);
	}
	kube_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	yajl_val tree = NULL;
	int skip;

	if (yamltree_parse((const char *)data, size, &tree, NULL, 0) == 0) {
		skip = names_absolute_path(tree);
		yajl_tree_free(tree);
		if (skip)
			return 0;
	}
	parse((const char *)data, size, NULL);
	parse((const char *)data, size, "dev");
	return 0;
}

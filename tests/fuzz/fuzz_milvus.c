/*
 * libFuzzer harness for the Milvus REST client's response handling: whatever a
 * Milvus (or something pretending to be one) answers goes through
 * mv_parse_response and then the decoder the call would use.
 *
 * The first byte picks the decoder (names, grants, groups, database); the rest
 * is the body. Properties (a failure traps):
 *   - mv_parse_response returns MV_OK, MV_ERR_MILVUS or MV_ERR_TRANSPORT (or
 *     NOMEM), and data only with MV_OK;
 *   - an error message is NUL-terminated printable ASCII;
 *   - a decoder sets its result only on MV_OK, and every decoded string is
 *     non-NULL.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "milvus.h"

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_msg(const struct mv_error *e)
{
	size_t n = strnlen(e->message, sizeof(e->message));
	check(n < sizeof(e->message));
	for (size_t i = 0; i < n; i++)
		check(e->message[i] >= 0x20 && e->message[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mv_error err;
	yajl_val v = NULL;
	int r;

	if (size < 1)
		return 0;
	memset(&err, 0, sizeof(err));
	r = mv_parse_response((const char *)data + 1, size - 1, &v, &err);
	check(r == MV_OK || r == MV_ERR_MILVUS || r == MV_ERR_TRANSPORT || r == MV_ERR_NOMEM);
	check_msg(&err);
	if (r != MV_OK) {
		check(v == NULL);
		return 0;
	}
	switch (data[0] % 4) {
	case 0: {
		struct mv_names n = {0};
		if (mv_parse_names(v, &n, &err) == MV_OK)
			for (size_t i = 0; i < n.n; i++)
				check(n.v[i] != NULL);
		else
			check(n.v == NULL && n.n == 0);
		mv_names_free(&n);
		break;
	}
	case 1: {
		struct mv_grants g = {0};
		if (mv_parse_grants(v, &g, &err) == MV_OK)
			for (size_t i = 0; i < g.n; i++)
				check(g.v[i].privilege && g.v[i].db_name && g.v[i].object_name &&
				      g.v[i].object_type && g.v[i].grantor);
		else
			check(g.v == NULL && g.n == 0);
		mv_grants_free(&g);
		break;
	}
	case 3: {
		/* databases/describe: the cipher plugin's properties are read from it */
		struct mv_database d = {0};
		if (mv_parse_database(v, &d, &err) == MV_OK) {
			check(d.name != NULL);
			for (size_t i = 0; i < d.nprops; i++)
				check(d.props[i].key != NULL && d.props[i].value != NULL);
			(void)mv_database_property(&d, "cipher.enabled");
		} else {
			check(d.name == NULL && d.props == NULL && d.nprops == 0);
		}
		mv_database_free(&d);
		break;
	}
	default: {
		struct mv_groups g = {0};
		if (mv_parse_groups(v, &g, &err) == MV_OK)
			for (size_t i = 0; i < g.n; i++)
				check(g.v[i].name != NULL);
		else
			check(g.v == NULL && g.n == 0);
		mv_groups_free(&g);
		break;
	}
	}
	check_msg(&err);
	yajl_tree_free(v);
	return 0;
}

/*
 * libFuzzer harness for the webhook: AdmissionReview decoding, rule
 * evaluation (with an in-memory lookup holding a namespace, an opted-in
 * namespace, a Cluster, an EncryptionKey, a User and a password Secret) and
 * the defaulting patch, through wh_admit exactly as the server calls it.
 *
 * The first byte picks the endpoint (bit 0) and whether every lookup fails
 * (bit 1); the rest is the request body. Properties (a failure traps):
 *   - wh_admit never fails for want of anything but memory;
 *   - a 400 is one line "vecward-webhook: bad AdmissionReview: ...\n";
 *   - a 200 is an AdmissionReview that echoes request.uid, says allowed true
 *     or false, has status.code 403 and a message when it denies, and carries
 *     a patch only when allowed, base64 of a JSON array of "add" operations
 *     under /spec;
 *   - when every lookup fails, validation never admits a spec whose rules
 *     needed one (the memlookup counts calls; any call => a VW000 denial).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "buf.h"
#include "json.h"
#include "memlookup.h"
#include "util.h"

static struct wh_memlookup *g_m;
static struct wh_lookup g_lk;

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static const char *const FIXTURES[][2] = {
    {"n", "{\"metadata\":{\"name\":\"ns1\"}}"},
    {"n", "{\"metadata\":{\"name\":\"dev\",\"labels\":{\"vecward.io/allow-insecure\":\"true\"}}}"},
    {"c", "{\"metadata\":{\"name\":\"prod\",\"namespace\":\"ns1\",\"creationTimestamp\":"
          "\"2026-01-01T00:00:00Z\"},\"spec\":{\"region\":\"us-east-1\",\"tls\":{\"mode\":"
          "\"mutual\"},\"encryption\":{\"keyRef\":{\"name\":\"prod-key\"}},\"roles\":[{\"name\":"
          "\"reader\"}]}}"},
    {"c", "{\"metadata\":{\"name\":\"prod\",\"namespace\":\"dev\"},\"spec\":{}}"},
    {"k", "{\"metadata\":{\"name\":\"prod-key\",\"namespace\":\"ns1\",\"creationTimestamp\":"
          "\"2026-01-01T00:00:00Z\"},\"spec\":{\"provider\":\"aws-kms\",\"keyID\":"
          "\"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\"}}"},
    {"u", "{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns1\",\"creationTimestamp\":"
          "\"2026-01-01T00:00:00Z\"},\"spec\":{\"clusterRef\":{\"name\":\"prod\"},\"username\":"
          "\"app\"}}"},
    {"s", "{\"metadata\":{\"name\":\"pw\",\"namespace\":\"ns1\"},\"data\":{\"password\":"
          "\"c2hvcnQ=\"}}"},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_m = wh_memlookup_new();
	check(g_m != NULL);
	for (size_t i = 0; i < sizeof(FIXTURES) / sizeof(FIXTURES[0]); i++) {
		enum wh_kind k = FIXTURES[i][0][0] == 'n'   ? WH_KIND_NAMESPACE
		                 : FIXTURES[i][0][0] == 'c' ? WH_KIND_CLUSTER
		                 : FIXTURES[i][0][0] == 'k' ? WH_KIND_ENCRYPTIONKEY
		                 : FIXTURES[i][0][0] == 'u' ? WH_KIND_USER
		                                            : WH_KIND_SECRET;
		check(wh_memlookup_add_json(g_m, k, FIXTURES[i][1]) == 0);
	}
	wh_memlookup_bind(g_m, &g_lk);
	return 0;
}

static void check_patch(const char *b64)
{
	struct buf dec = BUF_INIT(WH_MAX_BODY);
	yajl_val p = NULL;

	check(b64_decode(b64, strlen(b64), &dec) == 0);
	check(json_parse(buf_str(&dec), dec.len, 8, 0, &p, NULL, 0) == 0);
	check(p->type == yajl_t_array && json_array_len(p) > 0);
	for (size_t i = 0; i < json_array_len(p); i++) {
		yajl_val op = json_array_at(p, i);
		const char *path = json_get_str(op, "path", NULL);
		check(strcmp(json_get_str(op, "op", NULL) ?: "", "add") == 0);
		check(path && strncmp(path, "/spec", 5) == 0);
		check(json_get(op, "value", NULL) != NULL);
	}
	yajl_tree_free(p);
	buf_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum wh_endpoint ep;
	struct buf resp = BUF_INIT(8 * WH_MAX_BODY);
	struct wh_outcome o;
	yajl_val r = NULL, req = NULL;
	unsigned long calls;
	int failing;

	if (size < 1)
		return 0;
	ep = (data[0] & 1) ? WH_EP_MUTATE : WH_EP_VALIDATE;
	failing = (data[0] & 2) != 0;
	wh_memlookup_fail(g_m, failing ? WH_MEM_FAIL_ALL : WH_MEM_FAIL_NONE, "injected");
	calls = wh_memlookup_calls(g_m);
	data++;
	size--;

	check(wh_admit(ep, (const char *)data, size, &g_lk, &resp, &o) == 0);
	if (o.http == 400) {
		const char *s = buf_str(&resp);
		const char *nl = strchr(s, '\n');
		check(strncmp(s, "vecward-webhook: bad AdmissionReview: ", 38) == 0);
		check(nl && nl[1] == '\0');
		goto out;
	}
	check(o.http == 200);
	check(json_parse(resp.ptr, resp.len, 16, 0, &r, NULL, 0) == 0);
	check(json_parse((const char *)data, size, WH_MAX_DEPTH, WH_MAX_BODY, &req, NULL, 0) == 0);
	check(strcmp(json_get_str(r, "response", "uid", NULL),
	             json_get_str(req, "request", "uid", NULL)) == 0);
	switch (json_get_bool(r, -1, "response", "allowed", NULL)) {
	case 1:
		check(o.allowed && json_get(r, "response", "status", NULL) == NULL);
		if (json_get(r, "response", "patch", NULL)) {
			check(ep == WH_EP_MUTATE);
			check(strcmp(json_get_str(r, "response", "patchType", NULL), "JSONPatch") ==
			      0);
			check_patch(json_get_str(r, "response", "patch", NULL));
		}
		/* fail closed: a validation that had to look something up, with every
		 * lookup failing, must not have been admitted */
		if (ep == WH_EP_VALIDATE && failing)
			check(wh_memlookup_calls(g_m) == calls);
		break;
	case 0:
		check(!o.allowed);
		check(json_get_int(r, 0, "response", "status", "code", NULL) == 403);
		check(json_get_str(r, "response", "status", "message", NULL) != NULL);
		check(json_get(r, "response", "patch", NULL) == NULL);
		break;
	default:
		check(0);
	}
	for (size_t i = 0; i < o.res.n_denials; i++)
		check(strncmp(o.res.denials[i].msg, o.res.denials[i].id, 5) == 0);
out:
	yajl_tree_free(r);
	yajl_tree_free(req);
	wh_outcome_free(&o);
	buf_free(&resp);
	return 0;
}

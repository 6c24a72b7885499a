/*
 * admission: AdmissionReview v1 decoding, encoding and the endpoint logic.
 */
#include "admission.h"

#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "json.h"
#include "util.h"

#define REVIEW_API "admission.k8s.io/v1"

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a ? a : "(missing)", b ? b : "(missing)");
	/* keep the reason one printable line */
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return -1;
}

int wh_review_decode(const char *body, size_t len, struct wh_review *out, char *err, size_t errlen)
{
	struct wh_review r;
	yajl_val req, obj, kind;
	const char *s, *group, *version, *k, *op;
	char jerr[128];
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (len > WH_MAX_BODY) {
		snprintf(err, errlen, "request body larger than %u bytes", WH_MAX_BODY);
		return -1;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty request body: expected an AdmissionReview");
		return -1;
	}
	if (json_parse(body, len, WH_MAX_DEPTH, WH_MAX_BODY, &r.root, jerr, sizeof(jerr)) != 0) {
		fail(err, errlen, "the body is not valid JSON (%.200s)%s", jerr, "");
		return -1;
	}
	if (r.root->type != yajl_t_object) {
		snprintf(err, errlen, "the body is not a JSON object: expected an AdmissionReview");
		goto out;
	}
	s = json_get_str(r.root, "apiVersion", (char *)NULL);
	if (!s || strcmp(s, REVIEW_API) != 0) {
		fail(err, errlen, "apiVersion must be " REVIEW_API ", got %.64s%s", s, "");
		goto out;
	}
	s = json_get_str(r.root, "kind", (char *)NULL);
	if (!s || strcmp(s, "AdmissionReview") != 0) {
		fail(err, errlen, "kind must be AdmissionReview, got %.64s%s", s, "");
		goto out;
	}
	req = json_get(r.root, "request", (char *)NULL);
	if (!req || req->type != yajl_t_object) {
		snprintf(err, errlen, "the AdmissionReview has no request object");
		goto out;
	}
	r.uid = json_get_str(req, "uid", (char *)NULL);
	if (!r.uid || !*r.uid || strlen(r.uid) > WH_MAX_UID) {
		snprintf(err, errlen, "request.uid is missing, empty or longer than %d characters",
		         WH_MAX_UID);
		goto out;
	}
	kind = json_get(req, "kind", (char *)NULL);
	group = json_get_str(kind, "group", (char *)NULL);
	version = json_get_str(kind, "version", (char *)NULL);
	k = json_get_str(kind, "kind", (char *)NULL);
	if (!group || strcmp(group, WH_GROUP) != 0 || !version ||
	    strcmp(version, WH_VERSION) != 0 || wh_kind_parse(k, &r.kind) != 0) {
		char what[200];
		snprintf(what, sizeof(what), "%.64s/%.32s %.64s", group ? group : "?",
		         version ? version : "?", k ? k : "?");
		fail(err, errlen,
		     "request.kind %s is not handled here: vecward-webhook admits only " WH_GROUP
		     "/" WH_VERSION " Cluster, User and EncryptionKey%s",
		     what, "");
		goto out;
	}
	op = json_get_str(req, "operation", (char *)NULL);
	if (wh_op_parse(op, &r.op) != 0) {
		fail(err, errlen, "request.operation %.16s is not CREATE, UPDATE or DELETE%s", op,
		     "");
		goto out;
	}
	r.ns = json_get_str(req, "namespace", (char *)NULL);
	if (!r.ns || !*r.ns) {
		snprintf(err, errlen, "request.namespace is missing: vecward kinds are namespaced");
		goto out;
	}
	r.name = json_get_str(req, "name", (char *)NULL);
	if (!r.name)
		r.name = "";
	obj = json_get(req, "object", (char *)NULL);
	r.object = obj && obj->type == yajl_t_object ? obj : NULL;
	obj = json_get(req, "oldObject", (char *)NULL);
	r.old = obj && obj->type == yajl_t_object ? obj : NULL;
	if (r.op != WH_OP_DELETE && !r.object) {
		fail(err, errlen, "request.object is missing for %s%s", op, "");
		goto out;
	}
	if (r.op != WH_OP_CREATE && !r.old) {
		fail(err, errlen, "request.oldObject is missing for %s%s", op, "");
		goto out;
	}
	if (r.op == WH_OP_CREATE)
		r.old = NULL;
	if (r.op == WH_OP_DELETE)
		r.object = NULL;
	s = json_get_str(r.object ? r.object : r.old, "kind", (char *)NULL);
	if (s && strcmp(s, wh_kind_name(r.kind)) != 0) {
		fail(err, errlen, "the object's kind %.64s does not match request.kind %s", s,
		     wh_kind_name(r.kind));
		goto out;
	}
	if (!*r.name)
		r.name =
		    json_get_str(r.object ? r.object : r.old, "metadata", "name", (char *)NULL);
	if (!r.name)
		r.name = "";
	r.dry_run = json_get_bool(req, 0, "dryRun", (char *)NULL) == 1;
	*out = r;
	rc = 0;
out:
	if (rc)
		yajl_tree_free(r.root);
	return rc;
}

void wh_review_free(struct wh_review *r)
{
	if (!r)
		return;
	yajl_tree_free(r->root);
	memset(r, 0, sizeof(*r));
}

int wh_review_encode(const char *uid, int allowed, const char *message,
                     const struct wh_result *findings, const char *patch_json, struct buf *out)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *text;
	struct buf b64 = BUF_INIT(2 * WH_MAX_BODY);
	size_t tlen;
	int rc = -1;

	if (!g)
		return -1;
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	if (yajl_gen_map_open(g) || json_gen_kv(g, "apiVersion", REVIEW_API) ||
	    json_gen_kv(g, "kind", "AdmissionReview") || json_gen_str(g, "response") ||
	    yajl_gen_map_open(g) || json_gen_kv(g, "uid", uid) || json_gen_str(g, "allowed") ||
	    yajl_gen_bool(g, allowed))
		goto out;
	if (!allowed) {
		if (json_gen_str(g, "status") || yajl_gen_map_open(g) || json_gen_str(g, "code") ||
		    yajl_gen_integer(g, 403) || json_gen_kv(g, "status", "Failure") ||
		    json_gen_kv(g, "reason", "Forbidden") ||
		    json_gen_kv(g, "message", message ? message : "denied") ||
		    yajl_gen_map_close(g))
			goto out;
	}
	if (findings && findings->n_warnings) {
		if (json_gen_str(g, "warnings") || yajl_gen_array_open(g))
			goto out;
		for (size_t i = 0; i < findings->n_warnings; i++)
			if (json_gen_str(g, findings->warnings[i].msg))
				goto out;
		if (yajl_gen_array_close(g))
			goto out;
	}
	if (patch_json) {
		if (b64_encode(patch_json, strlen(patch_json), &b64) ||
		    json_gen_kv(g, "patchType", "JSONPatch") ||
		    json_gen_kv(g, "patch", buf_str(&b64)))
			goto out;
	}
	if (yajl_gen_map_close(g) || yajl_gen_map_close(g))
		goto out;
	if (yajl_gen_get_buf(g, &text, &tlen) != yajl_gen_status_ok || buf_add(out, text, tlen))
		goto out;
	rc = 0;
out:
	buf_free(&b64);
	yajl_gen_free(g);
	return rc;
}

static int bad_request(struct buf *resp, struct wh_outcome *o, const char *why)
{
	o->http = 400;
	o->result = "invalid";
	return buf_printf(resp, "vecward-webhook: bad AdmissionReview: %s\n", why);
}

int wh_admit(enum wh_endpoint ep, const char *body, size_t len, const struct wh_lookup *lk,
             struct buf *resp, struct wh_outcome *o)
{
	struct wh_review r;
	struct wh_input in;
	struct buf msg = BUF_INIT(64 * 1024);
	struct buf patch = BUF_INIT(64 * 1024);
	char err[512];
	int rc = -1;

	memset(o, 0, sizeof(*o));
	o->result = "invalid";
	if (wh_review_decode(body, len, &r, err, sizeof(err)) != 0)
		return bad_request(resp, o, err);
	o->http = 200;
	snprintf(o->kind, sizeof(o->kind), "%s", wh_kind_name(r.kind));
	snprintf(o->op, sizeof(o->op), "%s",
	         r.op == WH_OP_CREATE   ? "CREATE"
	         : r.op == WH_OP_UPDATE ? "UPDATE"
	                                : "DELETE");
	snprintf(o->object, sizeof(o->object), "%.100s/%.200s", r.ns, r.name);
	snprintf(o->uid, sizeof(o->uid), "%s", r.uid);

	if (ep == WH_EP_MUTATE) {
		size_t n = 0;
		if (r.op == WH_OP_DELETE) {
			o->allowed = 1;
		} else if (wh_mutate(r.kind, r.object, &patch, &n) != 0) {
			o->allowed = 0;
		} else {
			o->allowed = 1;
			o->patch_ops = n;
		}
		o->result = o->allowed ? "allowed" : "denied";
		rc =
		    wh_review_encode(r.uid, o->allowed,
		                     "vecward-webhook could not compute the defaults for this "
		                     "object (out of memory); denied rather than stored unchecked, "
		                     "retry",
		                     NULL, o->allowed && n ? buf_str(&patch) : NULL, resp);
		goto out;
	}

	in.kind = r.kind;
	in.op = r.op;
	in.ns = r.ns;
	in.object = r.object;
	in.old = r.old;
	if (wh_evaluate(&in, lk, &o->res) != 0) {
		o->allowed = 0;
		o->result = "denied";
		rc = wh_review_encode(r.uid, 0,
		                      "VW000: vecward-webhook could not evaluate this object (out "
		                      "of memory or unusable object); denied rather than admitted "
		                      "unchecked, retry",
		                      NULL, NULL, resp);
		goto out;
	}
	o->allowed = o->res.n_denials == 0;
	o->result = o->allowed ? "allowed" : "denied";
	if (!o->allowed && wh_result_message(&o->res, &msg) != 0)
		goto out;
	rc = wh_review_encode(r.uid, o->allowed, buf_str(&msg), &o->res, NULL, resp);
out:
	buf_free(&msg);
	buf_free(&patch);
	wh_review_free(&r);
	return rc;
}

void wh_outcome_free(struct wh_outcome *o)
{
	if (o)
		wh_result_free(&o->res);
}

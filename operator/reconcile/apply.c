#include "apply.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "leader.h"
#include "log.h"
#include "util.h"

static atomic_ulong g_writes;
static char g_identity[256] = "vecward-operator";

unsigned long apply_writes(void)
{
	return atomic_load(&g_writes);
}

void apply_count_write(void)
{
	atomic_fetch_add(&g_writes, 1);
}

void apply_set_identity(const char *identity)
{
	snprintf(g_identity, sizeof(g_identity), "%s", identity);
}

int apply_get(struct kube_client *kc, const struct kube_kind *kind, const char *ns,
              const char *name, yajl_val *out, struct kube_error *err)
{
	struct buf p = BUF_INIT(2048);
	int rc;

	if (kube_path(&p, kind, ns, name, NULL)) {
		memset(err, 0, sizeof(*err));
		snprintf(err->message, sizeof(err->message), "name too long");
		return -1;
	}
	rc = kube_get(kc, p.ptr, out, err);
	buf_free(&p);
	if (rc && kube_is_not_found(err))
		return 1;
	return rc;
}

/* The body of apply_ensure: known says the caller already read the live
 * object (known_have, borrowed; NULL when absent), so no GET is made. */
static int ensure_core(struct kube_client *kc, const struct kube_kind *kind, const char *desired,
                       int force, int known, yajl_val known_have, enum apply_outcome *outcome,
                       yajl_val *live, struct kube_error *err)
{
	yajl_val want = NULL, fetched = NULL, out = NULL, have;
	const char *ns, *name;
	struct buf p = BUF_INIT(2048);
	int rc = -1, r;

	memset(err, 0, sizeof(*err));
	if (json_parse(desired, strlen(desired), JSON_MAX_DEPTH, 0, &want, err->message,
	               sizeof(err->message)))
		goto out;
	ns = json_get_str(want, "metadata", "namespace", NULL);
	name = json_get_str(want, "metadata", "name", NULL);
	if (!name || kube_path(&p, kind, ns, name, NULL)) {
		snprintf(err->message, sizeof(err->message), "rendered object without a name");
		goto out;
	}
	if (known) {
		have = known_have;
		r = have ? 0 : 1;
	} else {
		r = apply_get(kc, kind, ns, name, &fetched, err);
		if (r < 0)
			goto out;
		have = fetched;
	}
	if (r == 0 && json_subset(want, have)) {
		*outcome = APPLY_UNCHANGED;
		if (live) {
			*live = known ? json_clone(have) : have;
			if (!known)
				fetched = NULL;
		}
		rc = 0;
		goto out;
	}
	apply_count_write();
	if (kube_apply(kc, p.ptr, desired, force, live ? &out : NULL, err))
		goto out;
	*outcome = r == 1 ? APPLY_CREATED : APPLY_UPDATED;
	if (live) {
		*live = out;
		out = NULL;
	}
	rc = 0;
out:
	/* a Secret's trees hold its data: wipe them */
	if (kind == &KUBE_SECRET) {
		json_free_secret(want);
		json_free_secret(fetched);
		json_free_secret(out);
	} else {
		yajl_tree_free(want);
		yajl_tree_free(fetched);
		yajl_tree_free(out);
	}
	buf_free(&p);
	return rc;
}

int apply_ensure(struct kube_client *kc, const struct kube_kind *kind, const char *desired,
                 int force, enum apply_outcome *outcome, yajl_val *live, struct kube_error *err)
{
	return ensure_core(kc, kind, desired, force, 0, NULL, outcome, live, err);
}

int apply_ensure_known(struct kube_client *kc, const struct kube_kind *kind, const char *desired,
                       int force, yajl_val have, enum apply_outcome *outcome,
                       struct kube_error *err)
{
	return ensure_core(kc, kind, desired, force, 1, have, outcome, NULL, err);
}

int apply_create_once(struct kube_client *kc, const struct kube_kind *kind, const char *ns,
                      const char *desired, int *created, yajl_val *live, struct kube_error *err)
{
	struct buf p = BUF_INIT(2048);
	yajl_val out = NULL;
	int rc = -1;

	if (kube_path(&p, kind, ns, NULL, NULL))
		goto out;
	apply_count_write();
	if (kube_create(kc, p.ptr, desired, &out, err) == 0) {
		*created = 1;
		*live = out;
		rc = 0;
		goto out;
	}
	if (err->http != 409)
		goto out;
	{
		/* someone (an earlier run of ours) created it first: use theirs */
		yajl_val want = NULL;
		const char *name;
		if (json_parse(desired, strlen(desired), JSON_MAX_DEPTH, 0, &want, NULL, 0))
			goto out;
		name = json_get_str(want, "metadata", "name", NULL);
		rc = name ? apply_get(kc, kind, ns, name, live, err) : -1;
		yajl_tree_free(want);
		if (rc == 1)
			rc = -1; /* deleted between the two calls: retry later */
		*created = 0;
	}
out:
	buf_free(&p);
	return rc;
}

void event_emit(struct kube_client *kc, yajl_val regarding, const char *type, const char *reason,
                const char *action, const char *note)
{
	const char *ns = json_get_str(regarding, "metadata", "namespace", NULL);
	const char *name = json_get_str(regarding, "metadata", "name", NULL);
	struct buf p = BUF_INIT(2048);
	struct kube_error err;
	unsigned char rnd[6];
	char ename[400], now[64], ebuf[700];
	yajl_gen g;
	char *body;

	if (!ns || !name || kube_path(&p, &KUBE_EVENT, ns, NULL, NULL))
		goto out;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	snprintf(ename, sizeof(ename), "%.200s.%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1],
	         rnd[2], rnd[3], rnd[4], rnd[5]);
	leader_microtime(now, sizeof(now));
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "events.k8s.io/v1");
	jkv(g, "kind", "Event");
	jko(g, "metadata");
	jkv(g, "name", ename);
	jkv(g, "namespace", ns);
	jc(g);
	jkv(g, "eventTime", now);
	jkv(g, "reportingController", "vecward.io/operator");
	jkv(g, "reportingInstance", g_identity);
	jkv(g, "action", action);
	jkv(g, "reason", reason);
	jkv(g, "type", type);
	jkv(g, "note", note);
	jko(g, "regarding");
	jkv(g, "apiVersion", json_get_str(regarding, "apiVersion", NULL));
	jkv(g, "kind", json_get_str(regarding, "kind", NULL));
	jkv(g, "namespace", ns);
	jkv(g, "name", name);
	jkv(g, "uid", json_get_str(regarding, "metadata", "uid", NULL));
	jc(g);
	jc(g);
	body = jgen_finish(g);
	if (!body)
		goto out;
	apply_count_write();
	if (kube_create(kc, p.ptr, body, NULL, &err))
		log_warnx(name, "event %s not recorded: %s", reason,
		          kube_strerror(&err, ebuf, sizeof(ebuf)));
	free(body);
out:
	buf_free(&p);
}

int secret_data(yajl_val secret, const char *key, struct buf *out)
{
	const char *v = json_get_str(secret, "data", key, NULL);

	if (!v)
		return -1;
	return b64_decode(v, strlen(v), out);
}

char *secret_data_str(yajl_val secret, const char *key, size_t max)
{
	struct buf b = BUF_INIT(max);

	if (secret_data(secret, key, &b) || !b.ptr) {
		buf_free_secret(&b);
		return NULL;
	}
	return buf_take(&b);
}

void secret_str_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

int apply_owned_by_earlier(yajl_val obj, const char *kind, const char *name, const char *uid)
{
	yajl_val refs = json_get(obj, "metadata", "ownerReferences", NULL);

	if (!uid)
		return 0;
	for (size_t i = 0; i < json_array_len(refs); i++) {
		yajl_val r = json_array_at(refs, i);
		const char *rkind = json_get_str(r, "kind", NULL),
		           *rname = json_get_str(r, "name", NULL);
		const char *ruid = json_get_str(r, "uid", NULL);
		if (rkind && rname && ruid && YAJL_IS_TRUE(json_get(r, "controller", NULL)) &&
		    strcmp(rkind, kind) == 0 && strcmp(rname, name) == 0)
			return strcmp(ruid, uid) != 0;
	}
	return 0;
}

/* ---- finalizers and conditions ------------------------------------------------ */

int apply_has_finalizer(yajl_val obj, const char *finalizer)
{
	yajl_val f = json_get(obj, "metadata", "finalizers", NULL);

	for (size_t i = 0; i < json_array_len(f); i++) {
		const char *s = json_str(json_array_at(f, i));
		if (s && strcmp(s, finalizer) == 0)
			return 1;
	}
	return 0;
}

int apply_set_finalizer(struct kube_client *kc, const struct kube_kind *kind, yajl_val obj,
                        const char *finalizer, int want, struct kube_error *err)
{
	yajl_val f = json_get(obj, "metadata", "finalizers", NULL);
	const char *rv = json_get_str(obj, "metadata", "resourceVersion", NULL);
	const char *ns = json_get_str(obj, "metadata", "namespace", NULL);
	const char *name = json_get_str(obj, "metadata", "name", NULL);
	struct buf path = BUF_INIT(2048);
	yajl_gen g = jgen_new();
	char *body;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	jo(g);
	jko(g, "metadata");
	jkv(g, "resourceVersion", rv);
	jka(g, "finalizers");
	for (size_t i = 0; i < json_array_len(f); i++) {
		const char *s = json_str(json_array_at(f, i));
		if (s && strcmp(s, finalizer) != 0)
			js(g, s);
	}
	if (want)
		js(g, finalizer);
	jac(g);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	if (!body || !name || kube_path(&path, kind, ns, name, NULL))
		goto out;
	apply_count_write();
	if (kube_merge_patch(kc, path.ptr, body, NULL, err))
		goto out;
	rc = 0;
out:
	free(body);
	buf_free(&path);
	return rc;
}

void apply_gen_condition(yajl_gen g, yajl_val obj, const char *type, int status, const char *reason,
                         const char *message, long long generation, const char *now)
{
	yajl_val cs = json_get(obj, "status", "conditions", NULL);
	const char *st = status ? "True" : "False";
	const char *ltt = now;

	for (size_t i = 0; i < json_array_len(cs); i++) {
		yajl_val c = json_array_at(cs, i);
		const char *t = json_get_str(c, "type", NULL);
		const char *s = json_get_str(c, "status", NULL);
		if (t && strcmp(t, type) == 0) {
			if (s && strcmp(s, st) == 0 && json_get_str(c, "lastTransitionTime", NULL))
				ltt = json_get_str(c, "lastTransitionTime", NULL);
			break;
		}
	}
	jo(g);
	jkv(g, "type", type);
	jkv(g, "status", st);
	jki(g, "observedGeneration", generation);
	jkv(g, "lastTransitionTime", ltt);
	jkv(g, "reason", reason);
	jkv(g, "message", message);
	jc(g);
}

int apply_status_if_changed(struct kube_client *kc, const struct kube_kind *kind, yajl_val obj,
                            const char *body, struct kube_error *err)
{
	const char *ns = json_get_str(obj, "metadata", "namespace", NULL);
	const char *name = json_get_str(obj, "metadata", "name", NULL);
	struct buf path = BUF_INIT(2048);
	yajl_val want = NULL;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	if (!body || json_parse(body, strlen(body), JSON_MAX_DEPTH, 0, &want, NULL, 0))
		goto out;
	/* nothing new to say: write nothing */
	if (json_subset(json_get(want, "status", NULL), json_get(obj, "status", NULL)) &&
	    json_array_len(json_get(want, "status", "conditions", NULL)) ==
	        json_array_len(json_get(obj, "status", "conditions", NULL))) {
		rc = 1;
		goto out;
	}
	if (!name || kube_path(&path, kind, ns, name, NULL))
		goto out;
	apply_count_write();
	if (kube_apply_status(kc, path.ptr, body, 1, NULL, err))
		goto out;
	rc = 0;
out:
	yajl_tree_free(want);
	buf_free(&path);
	return rc;
}

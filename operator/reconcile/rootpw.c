#include "rootpw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "apply.h"
#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "log.h"
#include "milvus.h"
#include "milvusconn.h"
#include "pki.h"
#include "secret.h"
#include "synccache.h"

static void say(struct rootpw_outcome *o, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct rootpw_outcome *o, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

/* What decides whether there is work: the request, the request handled. */
static void fingerprint(const struct cluster_view *v, const char *token, const char *handled,
                        unsigned char out[SYNC_FP_LEN])
{
	const char *parts[3] = {v->uid, token, handled};
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memset(out, 0, SYNC_FP_LEN);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (int i = 0; i < 3; i++) {
		/* a leading 0 or 1 tells NULL from "" */
		EVP_DigestUpdate(ctx, parts[i] ? "\1" : "\0", 1);
		if (parts[i])
			EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
	}
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

/* status.rootPasswordRotationRequest := token, BEFORE the pending Secret is
 * deleted: in the other order a crash between the two leaves neither, and the
 * next pass rotates the root password a second time for the same request. */
static int record_handled(struct kube_client *kc, const struct cluster_view *v, const char *token)
{
	struct buf path = BUF_INIT(2048);
	struct kube_error ke;
	yajl_gen g = jgen_new();
	char *body;
	int rc = -1;

	jo(g);
	jko(g, "status");
	jkv(g, "rootPasswordRotationRequest", token);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	if (body && kube_path(&path, &KUBE_VW_CLUSTER, v->ns, v->name, "status") == 0) {
		apply_count_write();
		rc = kube_merge_patch(kc, path.ptr, body, NULL, &ke);
	}
	free(body);
	buf_free(&path);
	return rc;
}

const char *rootpw_handled(yajl_val cluster, const struct cluster_view *v, char *buf, size_t len)
{
	char note_key[300];

	snprintf(note_key, sizeof(note_key), "root-rotation/%s", v->uid ? v->uid : "");
	if (v->uid && sync_note_get(note_key, buf, len))
		return buf;
	return json_get_str(cluster, "status", "rootPasswordRotationRequest", NULL);
}

int rootpw_rotate(struct kube_client *kc, yajl_val cluster, const struct cluster_view *v,
                  long recheck_ms, struct rootpw_outcome *o)
{
	const char *token =
	    json_get_str(cluster, "metadata", "annotations", ROOTPW_ROTATE_ANNOTATION, NULL);
	const char *handled = json_get_str(cluster, "status", "rootPasswordRotationRequest", NULL);
	char root_name[300], pend_name[300], what[400], gen[SECRET_PASSWORD_LEN + 1] = "";
	char note_key[300];
	struct kube_error ke;
	struct mv_error me;
	struct mconn mc;
	unsigned char fp[SYNC_FP_LEN];
	char key[600];
	yajl_val pend = NULL;
	char *pend_pw = NULL;
	int r, rc = -1, opened = 0, created = 0, leftover;

	memset(o, 0, sizeof(*o));
	memset(&mc, 0, sizeof(mc));
	/* read-your-writes: the informer's copy may not show the request this
	 * process recorded as handled yet; once the pending Secret is gone, such a
	 * copy would start a second rotation for the same request. Only this
	 * process writes the field, so what it wrote last is current. */
	snprintf(note_key, sizeof(note_key), "root-rotation/%s", v->uid ? v->uid : "");
	if (v->uid && sync_note_get(note_key, o->handled_note, sizeof(o->handled_note)))
		handled = o->handled_note;
	o->handled = handled;
	snprintf(what, sizeof(what), "cluster %s/%s", v->ns, v->name);
	if (!v->root_generated) {
		if (token && (!handled || strcmp(token, handled) != 0)) {
			say(o, "RotationNotApplicable",
			    "the root password comes from "
			    "spec.authentication.rootPasswordSecretRef: "
			    "change it in Milvus and in that Secret yourself");
			o->handled = token;
		}
		return 0;
	}
	/* only this code creates the pending Secret: once a pass saw none and no
	 * request, nothing changes until the annotation or the status does */
	snprintf(key, sizeof(key), "RootPassword/%s/%s", v->ns, v->name);
	fingerprint(v, token, handled, fp);
	if (sync_fresh(key, fp, recheck_ms))
		return 0;
	cluster_obj_name(v, "root", root_name, sizeof(root_name));
	cluster_obj_name(v, "root-pending", pend_name, sizeof(pend_name));
	r = apply_get(kc, &KUBE_SECRET, v->ns, pend_name, &pend, &ke);
	if (r < 0) {
		say(o, "APIError", "cannot read Secret %s", pend_name);
		goto out;
	}
	if (r == 1) {
		char *json;
		const char *keys[] = {"password"};
		const char *vals[] = {gen};
		if (!token || (handled && strcmp(token, handled) == 0)) {
			sync_record(key, fp);
			rc = 0;
			goto out;
		}
		if (secret_password(gen, SECRET_PASSWORD_LEN)) {
			say(o, "RandomFailed", "the CSPRNG failed");
			goto out;
		}
		json = cluster_render_secret(v, pend_name, NULL, keys, vals, 1);
		r = json ? apply_create_once(kc, &KUBE_SECRET, v->ns, json, &created, &pend, &ke)
		         : -1;
		cluster_free_secret_json(json);
		if (r) {
			say(o, "APIError", "cannot store the pending root password");
			goto out;
		}
	}
	pend_pw = secret_data_str(pend, "password", 4096);
	if (!pend_pw) {
		say(o, "RootSecretIncomplete", "Secret %s has no password", pend_name);
		goto out;
	}
	{
		char reason[64], msg[400];
		if (mconn_open(kc, cluster, 0, &mc, reason, sizeof(reason), msg, sizeof(msg))) {
			say(o, reason, "%s", msg);
			goto out;
		}
		opened = 1;
	}
	if (mv_user_update_password(mc.mv, "root", pend_pw, pend_pw, &me) != MV_OK) {
		/* the old password may already be gone: does the new one work? */
		struct mv_client *as = NULL;
		int ok = mv_error_is_auth(&me) && mconn_open_as(&mc, "root", pend_pw, &as) == 0 &&
		         mv_authenticate(as, &me) == MV_OK;
		mv_client_free(as);
		if (!ok) {
			say(o, mv_error_reason(&me), "Milvus: set the new root password: %s",
			    me.message);
			goto out;
		}
	}
	{
		const char *keys[] = {"username", "password"};
		const char *vals[] = {"root", pend_pw};
		char *json =
		    cluster_render_secret(v, root_name, "kubernetes.io/basic-auth", keys, vals, 2);
		enum apply_outcome oc;
		r = json ? apply_ensure(kc, &KUBE_SECRET, json, 1, &oc, NULL, &ke) : -1;
		cluster_free_secret_json(json);
		if (r) {
			say(o, "APIError", "cannot write the new root password to Secret %s",
			    root_name);
			goto out;
		}
	}
	/* Milvus and the Secret have the new password: the rotation is done. Say so
	 * now, before the two writes below: either may be answered with an error
	 * although it was done, and then no later pass could tell (the request is
	 * handled, or the pending Secret gone). A pending Secret whose request is
	 * already handled is the leftover of a rotation said before: only deleted. */
	leftover = token && handled && strcmp(token, handled) == 0;
	if (!leftover) {
		log_info(what, "rotated the root password; Secret %s has the new one", root_name);
		o->rotated = 1;
		o->handled = token; /* the Cluster's status says it too */
		say(o, "RootPasswordRotated",
		    "rotated the root password; Secret %s has the new one", root_name);
		if (token && record_handled(kc, v, token)) {
			/* the pending Secret stays until the status says the request
			 * is handled: deleted first, a crash would rotate again */
			log_warnx(what, "cannot record the rotation in the status yet");
			rc = 0;
			goto out;
		}
		if (token && v->uid)
			sync_note_set(note_key, token);
	}
	{
		struct buf path = BUF_INIT(2048);
		r = kube_path(&path, &KUBE_SECRET, v->ns, pend_name, NULL);
		if (r == 0) {
			apply_count_write();
			r = kube_delete(kc, path.ptr, NULL, NULL, NULL, &ke);
			if (r && kube_is_not_found(&ke))
				r = 0;
		}
		buf_free(&path);
		if (r && leftover) {
			say(o, "APIError", "cannot delete Secret %s", pend_name);
			goto out;
		}
		if (r) /* the next pass finds it a leftover */
			log_warnx(what, "cannot delete Secret %s yet", pend_name);
	}
	rc = 0;
out:
	OPENSSL_cleanse(gen, sizeof(gen));
	secret_str_free(pend_pw);
	json_free_secret(pend);
	if (opened)
		mconn_close(&mc);
	return rc;
}

#include "user.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
#include "user_render.h"
#include "util.h"

#define WAIT_REQUEUE_MS 5000
/* A User whose Cluster is not Ready: the Cluster reconciler enqueues its Users
 * when it becomes Ready (cluster.c, wake_users); this is the safety net. */
#define CLUSTER_WAIT_REQUEUE_MS 60000
#define ERROR_REQUEUE_MS        30000
#define CLIENT_CERT_LIFETIME_S  (90L * 86400)
#define CLIENT_CERT_RENEW_S     (15L * 86400)

enum { C_READY, C_CREDS, C_ROLES, C_DEGRADED, C_N };
static const char *const cond_types[C_N] = {"Ready", "CredentialsReady", "RolesGranted",
                                            "Degraded"};

struct cond {
	int set, status;
	char reason[64];
	char message[400];
};

struct pass {
	char what[400];
	struct user_view v;
	yajl_val obj;
	yajl_val cluster; /* cached copy, owned */
	time_t now;
	struct cond c[C_N];
	const char *granted[USER_MAX_ROLES]; /* roles the user holds in Milvus */
	size_t ngranted;
	char last_change[32];   /* status.lastPasswordChange */
	char rotation_req[256]; /* status.passwordRotationRequest */
	char cert_not_after[32], cert_renewal[32];
	long long next_due; /* unix time of the next rotation or renewal, 0 none */
	int failed;
};

static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cond_set(struct pass *p, int i, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	p->c[i].set = 1;
	p->c[i].status = status;
	snprintf(p->c[i].reason, sizeof(p->c[i].reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(p->c[i].message, sizeof(p->c[i].message), fmt, ap);
	va_end(ap);
}

static void kerr(struct pass *p, int cond, const char *step, const struct kube_error *err)
{
	char ebuf[700];

	kube_strerror(err, ebuf, sizeof(ebuf));
	log_warnx(p->what, "%s: %s", step, ebuf);
	cond_set(p, cond, 0, "APIError", "%s failed: %.300s", step, ebuf);
	p->failed = 1;
}

static void merr(struct pass *p, int cond, const char *step, const struct mv_error *err)
{
	log_warnx(p->what, "milvus %s: %s (code %d)", step, err->message, err->code);
	cond_set(p, cond, 0, mv_error_reason(err), "Milvus %s failed: %.300s", step, err->message);
	p->failed = 1;
}

static void rfc3339(time_t t, char *out, size_t n)
{
	if (pki_time_rfc3339(t, out, n))
		out[0] = '\0';
}

static time_t parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *end;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	return timegm(&tm);
}

static int str_eq(const char *a, const char *b)
{
	size_t n;

	if (!a || !b)
		return a == b;
	n = strlen(a);
	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- what Milvus was last seen to hold, in memory ------------------------------------ */

/* SHA-256 over everything Milvus must reflect: a different value means ask. */
static void fingerprint(const struct pass *p, const char *password, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *cuid = json_get_str(p->cluster, "metadata", "uid", NULL);
	const char *parts[4] = {p->v.uid, p->v.username, cuid, password};
	unsigned int len = 0;

	memset(out, 0, 32);
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; i < 4; i++)
		EVP_DigestUpdate(ctx, parts[i] ? parts[i] : "",
		                 parts[i] ? strlen(parts[i]) + 1 : 1);
	for (size_t i = 0; i < p->v.nroles; i++)
		EVP_DigestUpdate(ctx, p->v.roles[i], strlen(p->v.roles[i]) + 1);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
}

/* A rotation recorded and said, whose pending Secret could not be deleted (or the
 * delete was reported failed): the next pass finds the same pending password and
 * must only delete it, not record and say the rotation again. The note holds a
 * fingerprint of the pending password (never the password), in memory: after a
 * restart such a leftover is said once more (a duplicate record, never a lost one). */
static void pending_note(const struct pass *p, const char *pend_pw, char *key, size_t klen,
                         char hex[65])
{
	unsigned char fp[32];

	snprintf(key, klen, "user-pending/%s", p->v.uid ? p->v.uid : "");
	fingerprint(p, pend_pw, fp);
	for (size_t i = 0; i < sizeof(fp); i++)
		snprintf(hex + 2 * i, 3, "%02x", fp[i]);
}

static int pending_recorded(const struct pass *p, const char *pend_pw)
{
	char key[300], hex[65], have[65];

	if (!p->v.uid)
		return 0;
	pending_note(p, pend_pw, key, sizeof(key), hex);
	return sync_note_get(key, have, sizeof(have)) && strcmp(have, hex) == 0;
}

static void note_pending_recorded(const struct pass *p, const char *pend_pw)
{
	char key[300], hex[65];

	if (!p->v.uid)
		return;
	pending_note(p, pend_pw, key, sizeof(key), hex);
	sync_note_set(key, hex);
}

/* ---- status ------------------------------------------------------------------------ */

static int write_status(struct kube_client *kc, struct pass *p)
{
	struct user_view *v = &p->v;
	struct kube_error err;
	char now[32], cred[300];
	yajl_gen g;
	char *body;
	int r;

	rfc3339(p->now, now, sizeof(now));
	user_obj_name(v, "credentials", cred, sizeof(cred));
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "vecward.io/v1alpha1");
	jkv(g, "kind", "User");
	jko(g, "metadata");
	jkv(g, "name", v->name);
	jkv(g, "namespace", v->ns);
	jc(g);
	jko(g, "status");
	jki(g, "observedGeneration", v->generation);
	if (v->username)
		jkv(g, "username", v->username);
	if (p->last_change[0]) {
		jkv(g, "credentialsSecret", cred);
		jkv(g, "lastPasswordChange", p->last_change);
		if (v->rotation_s > 0) {
			char next[32];
			rfc3339(parse_rfc3339(p->last_change) + (time_t)v->rotation_s, next,
			        sizeof(next));
			jkv(g, "nextPasswordRotation", next);
		}
	}
	if (p->rotation_req[0])
		jkv(g, "passwordRotationRequest", p->rotation_req);
	/* what this pass did not get to is said as before (left out of the apply,
	 * it would be removed) */
	if (p->c[C_ROLES].set) {
		jka(g, "roles");
		for (size_t i = 0; i < p->ngranted; i++)
			js(g, p->granted[i]);
		jac(g);
	} else if (json_get(p->obj, "status", "roles", NULL)) {
		yajl_val had = json_get(p->obj, "status", "roles", NULL);
		jka(g, "roles");
		for (size_t i = 0; i < json_array_len(had); i++)
			if (json_str(json_array_at(had, i)))
				js(g, json_str(json_array_at(had, i)));
		jac(g);
	}
	if (p->cert_not_after[0]) {
		jko(g, "clientCertificate");
		jkv(g, "notAfter", p->cert_not_after);
		jkv(g, "renewalTime", p->cert_renewal);
		jc(g);
	} else if (v->client_cert &&
	           json_get_str(p->obj, "status", "clientCertificate", "notAfter", NULL)) {
		jko(g, "clientCertificate");
		jkv(g, "notAfter",
		    json_get_str(p->obj, "status", "clientCertificate", "notAfter", NULL));
		if (json_get_str(p->obj, "status", "clientCertificate", "renewalTime", NULL))
			jkv(g, "renewalTime",
			    json_get_str(p->obj, "status", "clientCertificate", "renewalTime",
			                 NULL));
		jc(g);
	}
	jka(g, "conditions");
	for (int i = 0; i < C_N; i++)
		if (p->c[i].set)
			apply_gen_condition(g, p->obj, cond_types[i], p->c[i].status,
			                    p->c[i].reason, p->c[i].message, v->generation, now);
	jac(g);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	r = apply_status_if_changed(kc, &KUBE_VW_USER, p->obj, body, &err);
	if (r < 0 && err.code && !kube_is_not_found(&err)) {
		char ebuf[700];
		log_warnx(p->what, "status: %s", kube_strerror(&err, ebuf, sizeof(ebuf)));
	}
	free(body);
	return r < 0 ? -1 : 0;
}

/* ---- helpers ------------------------------------------------------------------------- */

static int cluster_ready(yajl_val cluster)
{
	yajl_val cs = json_get(cluster, "status", "conditions", NULL);

	for (size_t i = 0; i < json_array_len(cs); i++) {
		yajl_val c = json_array_at(cs, i);
		const char *t = json_get_str(c, "type", NULL), *s = json_get_str(c, "status", NULL);
		if (t && s && strcmp(t, "Ready") == 0)
			return strcmp(s, "True") == 0;
	}
	return 0;
}

static int cluster_defines_role(yajl_val cluster, const char *role)
{
	yajl_val roles = json_get(cluster, "spec", "roles", NULL);

	if (strcmp(role, "admin") == 0 || strcmp(role, "public") == 0)
		return 1;
	for (size_t i = 0; i < json_array_len(roles); i++) {
		const char *n = json_get_str(json_array_at(roles, i), "name", NULL);
		if (n && strcmp(n, role) == 0)
			return 1;
	}
	return 0;
}

static int delete_secret(struct kube_client *kc, const char *ns, const char *name,
                         struct kube_error *err)
{
	struct buf path = BUF_INIT(2048);
	int rc = -1;

	if (kube_path(&path, &KUBE_SECRET, ns, name, NULL) == 0) {
		apply_count_write();
		rc = kube_delete(kc, path.ptr, NULL, NULL, NULL, err);
		if (rc && kube_is_not_found(err))
			rc = 0;
	}
	buf_free(&path);
	return rc;
}

/* Read-your-writes for the rotation record: a pass may start from an informer
 * copy that does not show the status record_rotation() just wrote. Without this,
 * once the pending Secret is gone such a pass would see the request unhandled (or
 * the last change old) and rotate again. The note holds "<lastPasswordChange>\t
 * <request>" as written; it wins when it is newer than the copy's. */
static void rotation_note_key(const struct pass *p, char *key, size_t len)
{
	snprintf(key, len, "user-rotation/%s", p->v.uid ? p->v.uid : "");
}

static void note_rotation(const struct pass *p)
{
	char key[300], val[sizeof(p->last_change) + sizeof(p->rotation_req) + 2];

	if (!p->v.uid)
		return;
	rotation_note_key(p, key, sizeof(key));
	snprintf(val, sizeof(val), "%s\t%s", p->last_change, p->rotation_req);
	sync_note_set(key, val);
}

/* Apply the note to p->last_change and p->rotation_req (both from the copy's
 * status) when the note is as new or newer: only this process writes the two
 * fields, so what it wrote last is at least as current as a copy of the same
 * second. A copy with a later change wins (the credentials were re-created
 * since, or another operator process wrote after this one's note). */
static void apply_rotation_note(struct pass *p)
{
	char key[300], buf[sizeof(p->last_change) + sizeof(p->rotation_req) + 2], *tab;

	if (!p->v.uid)
		return;
	rotation_note_key(p, key, sizeof(key));
	if (!sync_note_get(key, buf, sizeof(buf)) || !(tab = strchr(buf, '\t')))
		return;
	*tab = '\0';
	if (strlen(buf) >= sizeof(p->last_change) || strcmp(buf, p->last_change) < 0)
		return; /* the copy is newer */
	memcpy(p->last_change, buf, strlen(buf) + 1);
	if (tab[1])
		snprintf(p->rotation_req, sizeof(p->rotation_req), "%s", tab + 1);
}

/* A rotation is complete (the credentials Secret holds the pending password):
 * record it in the status (status.lastPasswordChange, and the request handled,
 * status.passwordRotationRequest) BEFORE the pending Secret is deleted. In the
 * other order a crash between the two leaves neither the pending Secret nor
 * the handled request, and the next pass rotates the password a second time
 * for the same request. 0, or -1 (p->failed set). */
static int record_rotation(struct kube_client *kc, struct pass *p)
{
	struct buf path = BUF_INIT(2048);
	struct kube_error ke;
	yajl_gen g = jgen_new();
	char *body;
	int rc = -1;

	rfc3339(p->now, p->last_change, sizeof(p->last_change));
	if (p->v.rotate_token && !p->v.pw_secret)
		snprintf(p->rotation_req, sizeof(p->rotation_req), "%s", p->v.rotate_token);
	jo(g);
	jko(g, "status");
	jkv(g, "lastPasswordChange", p->last_change);
	if (p->rotation_req[0])
		jkv(g, "passwordRotationRequest", p->rotation_req);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	memset(&ke, 0, sizeof(ke));
	if (body && kube_path(&path, &KUBE_VW_USER, p->v.ns, p->v.name, "status") == 0) {
		apply_count_write();
		rc = kube_merge_patch(kc, path.ptr, body, NULL, &ke);
	}
	free(body);
	buf_free(&path);
	if (rc) {
		if (ke.code)
			kerr(p, C_CREDS, "record the rotation in the status", &ke);
		p->failed = 1;
	} else {
		note_rotation(p);
	}
	return rc;
}

/* A Secret named after this User (credentials or pending password) whose
 * controller is an earlier User of the same name: that User was deleted and this
 * one created since (a new uid), and the garbage collector deletes its Secrets
 * once it notices. Such a Secret is never used: its password belonged to the
 * deleted user, and the collector would delete it under us, leaving a Milvus
 * user with no credentials Secret (MilvusUserExists for good). It is deleted
 * now, that exact object (uid precondition). 1 when sec was such a Secret and
 * is gone, 0 when it is not, -1 on an API error (p->failed set). */
static int drop_stale_secret(struct kube_client *kc, struct pass *p, yajl_val sec, const char *name)
{
	const char *suid = json_get_str(sec, "metadata", "uid", NULL);
	struct buf path = BUF_INIT(2048);
	struct kube_error ke;
	int rc = -1;

	if (!apply_owned_by_earlier(sec, "User", p->v.name, p->v.uid))
		return 0;
	memset(&ke, 0, sizeof(ke));
	if (kube_path(&path, &KUBE_SECRET, p->v.ns, name, NULL) != 0) {
		snprintf(ke.message, sizeof(ke.message), "secret name too long");
	} else {
		apply_count_write();
		rc = kube_delete(kc, path.ptr, suid, NULL, NULL, &ke);
		if (rc && (kube_is_not_found(&ke) || kube_is_conflict(&ke)))
			rc = 0; /* gone already (a conflict: the uid precondition, a newer one) */
	}
	buf_free(&path);
	if (rc) {
		kerr(p, C_CREDS, "delete the Secret of an earlier User of this name", &ke);
		return -1;
	}
	log_info(p->what, "deleted Secret %s, left by an earlier User of this name", name);
	return 1;
}

static void audit(struct kube_client *kc, struct pass *p, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void audit(struct kube_client *kc, struct pass *p, const char *reason, const char *fmt, ...)
{
	char note[600];
	va_list ap;
	const char *kv[] = {"reason",  reason,       "milvusUser", p->v.username,
	                    "cluster", p->v.cluster, NULL};

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	log_kv(LOG_INFO, p->what, note, kv);
	event_emit(kc, p->obj, "Normal", reason, "Sync", note);
}

/* ---- deletion ------------------------------------------------------------------------- */

static enum reconcile_result finalize(struct kube_client *kc, struct pass *p, const char *key)
{
	struct kube_error kerr_;
	struct mconn mc;
	struct mv_names users = {0};
	struct mv_error me;
	char reason[64], msg[400], cred[300];
	yajl_val sec = NULL;
	enum reconcile_result res = RECONCILE_RETRY;
	int r;

	if (!apply_has_finalizer(p->obj, USER_FINALIZER))
		return RECONCILE_DONE;
	if (!p->cluster || json_get(p->cluster, "metadata", "deletionTimestamp", NULL)) {
		log_info(p->what, "Cluster %s is gone or going: nothing to drop in Milvus",
		         p->v.cluster);
		goto release;
	}
	/* ours only when our credentials Secret exists: it is written before the
	 * Milvus user is created, and never for a user someone else made */
	user_obj_name(&p->v, "credentials", cred, sizeof(cred));
	r = apply_get(kc, &KUBE_SECRET, p->v.ns, cred, &sec, &kerr_);
	json_free_secret(sec);
	if (r < 0) {
		kerr(p, C_READY, "read the credentials Secret", &kerr_);
		return RECONCILE_RETRY;
	}
	if (r == 1) {
		log_info(p->what,
		         "no credentials Secret: the Milvus user was never ours; not dropped");
		goto release;
	}
	if (mconn_open(kc, p->cluster, 0, &mc, reason, sizeof(reason), msg, sizeof(msg))) {
		log_warnx(p->what, "cannot drop the Milvus user yet: %s", msg);
		cond_set(p, C_READY, 0, reason, "deleting: %s", msg);
		write_status(kc, p);
		return RECONCILE_RETRY;
	}
	if (mv_user_list(mc.mv, &users, &me) != MV_OK) {
		merr(p, C_READY, "list users", &me);
		write_status(kc, p);
		goto out;
	}
	if (mv_names_has(&users, p->v.username)) {
		if (mv_user_drop(mc.mv, p->v.username, &me) != MV_OK) {
			merr(p, C_READY, "drop user", &me);
			write_status(kc, p);
			goto out;
		}
		audit(kc, p, "UserDropped", "dropped Milvus user %s from Cluster %s", p->v.username,
		      p->v.cluster);
	}
	mconn_close(&mc);
	mv_names_free(&users);
release:
	if (apply_set_finalizer(kc, &KUBE_VW_USER, p->obj, USER_FINALIZER, 0, &kerr_)) {
		if (kerr_.code && !kube_is_not_found(&kerr_) && !kube_is_conflict(&kerr_))
			kerr(p, C_READY, "remove finalizer", &kerr_);
		return RECONCILE_RETRY;
	}
	sync_record(key, NULL);
	{
		char nk[300];
		rotation_note_key(p, nk, sizeof(nk));
		sync_note_set(nk, NULL);
		snprintf(nk, sizeof(nk), "user-pending/%s", p->v.uid ? p->v.uid : "");
		sync_note_set(nk, NULL);
	}
	log_info(p->what, "finalized");
	return RECONCILE_DONE;
out:
	mconn_close(&mc);
	mv_names_free(&users);
	return res;
}

/* ---- the Milvus side ---------------------------------------------------------------------- */

/* Bring the Milvus user to `target` password and the declared roles. cur_pw:
 * the password the credentials Secret holds (what Milvus should have). */
static int sync_milvus(struct kube_client *kc, struct pass *p, struct mconn *mc, int exists,
                       const char *cur_pw, const char *target)
{
	struct mv_names have = {0};
	struct mv_error me;
	const char *u = p->v.username;
	int rc = -1;

	if (!exists) {
		if (mv_user_create(mc->mv, u, target, &me) != MV_OK) {
			merr(p, C_CREDS, "create user", &me);
			goto out;
		}
		audit(kc, p, "UserCreated", "created Milvus user %s in Cluster %s", u,
		      p->v.cluster);
	} else if (!str_eq(cur_pw, target)) {
		/* root is a superuser: the old password is not checked, so this also
		 * resumes a rotation that was interrupted after Milvus had the new one */
		if (mv_user_update_password(mc->mv, u, cur_pw ? cur_pw : target, target, &me) !=
		    MV_OK) {
			merr(p, C_CREDS, "update password", &me);
			goto out;
		}
		audit(kc, p, "PasswordChanged", "set a new password for Milvus user %s", u);
	} else {
		/* drift: does the password still work? */
		struct mv_client *as = NULL;
		int ok =
		    mconn_open_as(mc, u, cur_pw, &as) == 0 && mv_authenticate(as, &me) == MV_OK;
		int auth_failed = !ok && as && mv_error_is_auth(&me);
		mv_client_free(as);
		if (!ok && !auth_failed) {
			merr(p, C_CREDS, "authenticate", &me);
			goto out;
		}
		if (auth_failed) {
			if (mv_user_update_password(mc->mv, u, cur_pw, cur_pw, &me) != MV_OK) {
				merr(p, C_CREDS, "restore password", &me);
				goto out;
			}
			audit(kc, p, "PasswordRestored",
			      "the password of Milvus user %s was changed outside vecward; "
			      "restored the "
			      "one in the credentials Secret",
			      u);
		}
	}
	/* roles: exactly the declared ones that the Cluster defines */
	if (mv_user_describe(mc->mv, u, &have, &me) != MV_OK) {
		merr(p, C_ROLES, "describe user", &me);
		goto out;
	}
	for (size_t i = 0; i < p->v.nroles; i++) {
		const char *r = p->v.roles[i];
		if (!cluster_defines_role(p->cluster, r) || mv_names_has(&have, r))
			continue;
		if (mv_user_grant_role(mc->mv, u, r, &me) != MV_OK) {
			merr(p, C_ROLES, "grant role", &me);
			goto out;
		}
		audit(kc, p, "RoleGranted", "granted role %s to Milvus user %s", r, u);
	}
	for (size_t i = 0; i < have.n; i++) {
		if (user_has_role(&p->v, have.v[i]))
			continue;
		if (mv_user_revoke_role(mc->mv, u, have.v[i], &me) != MV_OK) {
			merr(p, C_ROLES, "revoke role", &me);
			goto out;
		}
		audit(kc, p, "RoleRevoked", "revoked role %s from Milvus user %s", have.v[i], u);
	}
	rc = 0;
out:
	mv_names_free(&have);
	return rc;
}

/* ---- the reconcile -------------------------------------------------------------------------- */

static int rotation_due(const struct pass *p, const char *old_req)
{
	time_t last = parse_rfc3339(p->last_change);

	if (p->v.pw_secret)
		return 0;
	if (p->v.rotate_token && (!old_req || strcmp(old_req, p->v.rotate_token) != 0))
		return 1;
	return p->v.rotation_s > 0 && last > 0 && p->now >= last + (time_t)p->v.rotation_s;
}

/* The first certificate of a PEM bundle (the Cluster's current CA: see
 * pki_bundle_build), malloc'd, or NULL. */
static char *bundle_first(const char *bundle)
{
	static const char end[] = "-----END CERTIFICATE-----";
	const char *b = bundle ? strstr(bundle, "-----BEGIN CERTIFICATE-----") : NULL;
	const char *e = b ? strstr(b, end) : NULL;

	return e ? strndup(b, (size_t)(e - b) + sizeof(end) - 1) : NULL;
}

/* The client certificate to keep (cur_crt/key) or a new one into out. The CA
 * is mc's (MCONN_WANT_CA), or, from mconn_open_known, only its certificate
 * (the first of the bundle the Cluster's status vouches for): then a renewal
 * due returns 1 and issues nothing: open the CA and call again. */
static int client_cert(struct pass *p, const struct mconn *mc, const char *cur_crt,
                       const char *cur_key, struct pki_pair *out)
{
	struct pki_renew_want want = {
	    cur_key, NULL, 0, NULL, 0, PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256, CLIENT_CERT_RENEW_S};
	struct pki_cert_info info;
	time_t renewal = 0;
	enum pki_renew_reason why;
	char err[300], *known_ca = NULL;
	const char *ca_cert = mc->ca.cert_pem;

	if (!ca_cert && !(ca_cert = known_ca = bundle_first(mc->bundle)))
		return 1;
	why = pki_renewal_due(cur_crt, ca_cert, &want, p->now, &renewal);
	if (why == PKI_RENEW_NONE && cur_crt &&
	    pki_cert_info(cur_crt, &info, err, sizeof(err)) == 0) {
		if (strcmp(info.cn, p->v.username) != 0)
			why = PKI_RENEW_SANS_CHANGED;
		pki_cert_info_free(&info);
	}
	free(known_ca);
	if (why != PKI_RENEW_NONE && !mc->ca.key_pem)
		return 1; /* to issue, the CA's key is needed */
	if (why == PKI_RENEW_NONE) {
		out->cert_pem = strdup(cur_crt);
		out->key_pem = strdup(cur_key);
	} else {
		struct pki_leaf_req req = {
		    p->v.username,         NULL, 0, NULL, 0, PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256,
		    CLIENT_CERT_LIFETIME_S};
		if (pki_issue(mc->ca.cert_pem, mc->ca.key_pem, &req, p->now, out, err,
		              sizeof(err))) {
			cond_set(p, C_CREDS, 0, "ClientCertificateFailed", "cannot issue: %s", err);
			p->failed = 1;
			return -1;
		}
		log_info(p->what, "issued a client certificate (%s)", pki_renew_reason_name(why));
		pki_renewal_due(out->cert_pem, mc->ca.cert_pem, &want, p->now, &renewal);
	}
	if (!out->cert_pem || !out->key_pem) {
		pki_pair_free(out);
		p->failed = 1;
		return -1;
	}
	if (pki_cert_info(out->cert_pem, &info, err, sizeof(err)) == 0) {
		rfc3339(info.not_after, p->cert_not_after, sizeof(p->cert_not_after));
		pki_cert_info_free(&info);
	}
	rfc3339(renewal, p->cert_renewal, sizeof(p->cert_renewal));
	if (!p->next_due || renewal < p->next_due)
		p->next_due = renewal;
	return 0;
}

static enum reconcile_result converge(struct kube_client *kc, struct pass *p, const char *key,
                                      const struct user_reconciler *ur)
{
	struct user_view *v = &p->v;
	struct kube_error ke;
	struct mv_error me;
	struct mconn mc;
	struct mv_names users = {0};
	struct pki_pair cert = {0};
	char reason[64], msg[400], cred_name[300], pend_name[300];
	char gen_pw[SECRET_PASSWORD_LEN + 1] = "";
	yajl_val cur = NULL, pend = NULL, src = NULL;
	char *cur_pw = NULL, *pend_pw = NULL, *byo_pw = NULL, *cur_crt = NULL, *cur_key = NULL;
	char old_buf[sizeof(p->rotation_req)];
	const char *old_req = NULL;
	const char *target = NULL;
	unsigned char fp[32];
	int r, mc_open = 0, fresh, exists, created = 0, changed = 0;
	enum reconcile_result res = RECONCILE_RETRY;

	memset(&mc, 0, sizeof(mc));
	/* the request handled so far (the copy's status, or this process's note):
	 * p->rotation_req changes below once this pass records a rotation */
	if (p->rotation_req[0]) {
		memcpy(old_buf, p->rotation_req, sizeof(old_buf));
		old_req = old_buf;
	}
	user_obj_name(v, "credentials", cred_name, sizeof(cred_name));
	user_obj_name(v, "password-pending", pend_name, sizeof(pend_name));

	/* the password the user brings */
	if (v->pw_secret) {
		r = apply_get(kc, &KUBE_SECRET, v->ns, v->pw_secret, &src, &ke);
		if (r < 0) {
			kerr(p, C_CREDS, "read spec.passwordSecretRef", &ke);
			goto out;
		}
		if (r == 1 || !(byo_pw = secret_data_str(src, v->pw_key, PKI_PEM_MAX))) {
			cond_set(
			    p, C_CREDS, 0, "PasswordSecretNotFound",
			    "spec.passwordSecretRef: Secret %s with key %s not found in %s: create "
			    "it, or remove passwordSecretRef to let vecward generate a password",
			    v->pw_secret, v->pw_key, v->ns);
			res = RECONCILE_REQUEUE;
			goto out;
		}
		if (user_password_ok(byo_pw)) {
			cond_set(
			    p, C_CREDS, 0, "WeakPassword",
			    "the password in Secret %s (key %s) is not used: it must have 12-72 "
			    "characters from at least 3 of lower case, upper case, digits, symbols",
			    v->pw_secret, v->pw_key);
			res = RECONCILE_REQUEUE;
			goto out;
		}
	}
	/* what we hold */
	r = apply_get(kc, &KUBE_SECRET, v->ns, cred_name, &cur, &ke);
	if (r < 0) {
		kerr(p, C_CREDS, "read the credentials Secret", &ke);
		goto out;
	}
	if (r == 0) {
		int st = drop_stale_secret(kc, p, cur, cred_name);
		if (st < 0)
			goto out;
		if (st == 1) {
			json_free_secret(cur);
			cur = NULL;
			r = 1;
		}
	}
	if (r == 0) {
		cur_pw = secret_data_str(cur, "password", PKI_PEM_MAX);
		cur_crt = secret_data_str(cur, "tls.crt", PKI_PEM_MAX);
		cur_key = secret_data_str(cur, "tls.key", PKI_PEM_MAX);
		if (!p->last_change[0])
			rfc3339(
			    parse_rfc3339(json_get_str(cur, "metadata", "creationTimestamp", NULL)),
			    p->last_change, sizeof(p->last_change));
	}
	/* the Milvus side, only when something may differ */
	fingerprint(p, byo_pw ? byo_pw : cur_pw, fp);
	fresh = cur_pw && !rotation_due(p, old_req) && (!byo_pw || str_eq(byo_pw, cur_pw)) &&
	        sync_fresh(key, fp, ur->milvus_resync_ms);
	if (fresh) {
		/* an idle resync: Milvus needs no call, so no Milvus client, and what
		 * the credentials Secret says of the Cluster (uri, ca.crt) is known
		 * without reading the Cluster's Secrets when the ca.crt it holds is
		 * the bundle the Cluster's status vouches for. Else (no or another
		 * digest: a CA rotation, an older operator) the Secrets are read. A
		 * client certificate is checked against the CA certificate in that
		 * bundle; only one due for renewal needs the CA's key (read then). */
		char *held = cur ? secret_data_str(cur, "ca.crt", PKI_PEM_MAX) : NULL;
		if (mconn_open_known(p->cluster, held, &mc) == 0)
			mc_open = 1;
		secret_str_free(held);
	}
	if (!mc_open) {
		if (mconn_open(kc, p->cluster, v->client_cert ? MCONN_WANT_CA : 0, &mc, reason,
		               sizeof(reason), msg, sizeof(msg))) {
			cond_set(p, C_CREDS, 0, reason, "%s", msg);
			res = RECONCILE_REQUEUE;
			goto out;
		}
		mc_open = 1;
	}
	if (fresh) {
		target = cur_pw;
		for (size_t i = 0; i < v->nroles; i++)
			if (cluster_defines_role(p->cluster, v->roles[i]))
				p->granted[p->ngranted++] = v->roles[i];
		cond_set(p, C_ROLES, 1, "Granted", "roles granted as declared");
		goto kube_side;
	}
	if (mv_user_list(mc.mv, &users, &me) != MV_OK) {
		merr(p, C_CREDS, "list users", &me);
		goto out;
	}
	exists = mv_names_has(&users, v->username);
	r = apply_get(kc, &KUBE_SECRET, v->ns, pend_name, &pend, &ke);
	if (r < 0) {
		kerr(p, C_CREDS, "read the pending password", &ke);
		goto out;
	}
	if (r == 0) {
		int st = drop_stale_secret(kc, p, pend, pend_name);
		if (st < 0)
			goto out;
		if (st == 1) {
			json_free_secret(pend);
			pend = NULL;
			r = 1;
		}
	}
	if (r == 0)
		pend_pw = secret_data_str(pend, "password", PKI_PEM_MAX);
	if (exists && !cur && !pend_pw && !v->adopt) {
		cond_set(
		    p, C_CREDS, 0, "MilvusUserExists",
		    "Milvus user %s already exists in Cluster %s and was not created by vecward; "
		    "drop it in Milvus, choose another spec.username, or annotate this User "
		    "with " USER_ADOPT_ANNOTATION "=true to take it over (its password is reset)",
		    v->username, v->cluster);
		res = RECONCILE_REQUEUE;
		goto out;
	}
	if (!cur) {
		/* first: the credentials Secret, created once; then the Milvus user */
		struct user_creds c = {NULL, mc.uri, mc.bundle, NULL, NULL};
		char *json;
		if (pend_pw) {
			c.password = pend_pw;
		} else if (byo_pw) {
			c.password = byo_pw;
		} else {
			if (secret_password(gen_pw, SECRET_PASSWORD_LEN)) {
				cond_set(p, C_CREDS, 0, "RandomFailed", "the CSPRNG failed");
				p->failed = 1;
				goto out;
			}
			c.password = gen_pw;
		}
		json = user_render_credentials(v, &c);
		r = json ? apply_create_once(kc, &KUBE_SECRET, v->ns, json, &created, &cur, &ke)
		         : -1;
		user_free_secret_json(json);
		if (r) {
			if (json)
				kerr(p, C_CREDS, "create the credentials Secret", &ke);
			p->failed = 1;
			goto out;
		}
		cur_pw = secret_data_str(cur, "password", PKI_PEM_MAX);
		if (!cur_pw) {
			cond_set(p, C_CREDS, 0, "CredentialsSecretInvalid",
			         "Secret %s has no password", cred_name);
			goto out;
		}
		if (created)
			audit(kc, p, "CredentialsCreated",
			      "wrote credentials for Milvus user %s to Secret %s", v->username,
			      cred_name);
		rfc3339(p->now, p->last_change, sizeof(p->last_change));
		if (exists && v->adopt)
			audit(kc, p, "UserAdopted", "took over existing Milvus user %s",
			      v->username);
	}
	/* the password Milvus must end up with */
	if (pend_pw) {
		target = pend_pw;
	} else if (byo_pw && !str_eq(byo_pw, cur_pw)) {
		target = byo_pw;
	} else if (rotation_due(p, old_req) && exists) {
		char *json;
		if (secret_password(gen_pw, SECRET_PASSWORD_LEN)) {
			cond_set(p, C_CREDS, 0, "RandomFailed", "the CSPRNG failed");
			p->failed = 1;
			goto out;
		}
		json = user_render_pending(v, gen_pw);
		json_free_secret(pend);
		pend = NULL;
		r = json ? apply_create_once(kc, &KUBE_SECRET, v->ns, json, &created, &pend, &ke)
		         : -1;
		user_free_secret_json(json);
		if (r || !(pend_pw = secret_data_str(pend, "password", PKI_PEM_MAX))) {
			if (r && json)
				kerr(p, C_CREDS, "store the pending password", &ke);
			p->failed = 1;
			goto out;
		}
		target = pend_pw;
	} else {
		target = cur_pw;
	}
	if (sync_milvus(kc, p, &mc, exists, exists ? cur_pw : NULL, target))
		goto out;
	if (!str_eq(target, cur_pw) || (exists && v->adopt && created))
		changed = 1;
	for (size_t i = 0; i < v->nroles; i++)
		if (cluster_defines_role(p->cluster, v->roles[i]))
			p->granted[p->ngranted++] = v->roles[i];
	cond_set(p, C_ROLES, 1, "Granted", "roles granted as declared");

kube_side:
	/* the credentials Secret says what Milvus has */
	if (v->client_cert) {
		r = client_cert(p, &mc, cur_crt, cur_key, &cert);
		if (r == 1) {
			/* a renewal is due and mc came from mconn_open_known: now
			 * the Cluster's CA with its key (the uri and bundle are the
			 * same: the bundle's digest matched the status) */
			mconn_close(&mc);
			mc_open = 0;
			if (mconn_open(kc, p->cluster, MCONN_WANT_CA, &mc, reason, sizeof(reason),
			               msg, sizeof(msg))) {
				cond_set(p, C_CREDS, 0, reason, "%s", msg);
				res = RECONCILE_REQUEUE;
				goto out;
			}
			mc_open = 1;
			r = client_cert(p, &mc, cur_crt, cur_key, &cert);
		}
		if (r)
			goto out;
	}
	{
		struct user_creds c = {target, mc.uri, mc.bundle, cert.cert_pem, cert.key_pem};
		char *json = user_render_credentials(v, &c);
		enum apply_outcome oc = APPLY_UNCHANGED;
		r = json ? apply_ensure_known(kc, &KUBE_SECRET, json, 1, cur, &oc, &ke) : -1;
		user_free_secret_json(json);
		if (r) {
			if (json)
				kerr(p, C_CREDS, "update the credentials Secret", &ke);
			p->failed = 1;
			goto out;
		}
	}
	if (pend_pw && pending_recorded(p, pend_pw)) {
		/* this process recorded (and said) the rotation to this very pending
		 * password already; only the delete below failed since: a leftover */
	} else if (pend_pw) {
		if (record_rotation(kc, p))
			goto out;
		note_pending_recorded(p, pend_pw);
		/* the pending password is current: this pass completes the rotation,
		 * also when the credentials Secret already held it (an earlier pass
		 * wrote it and was answered with an error) */
		changed = 1;
	}
	/* said before the pending Secret is deleted: a delete answered with an
	 * error although done leaves nothing for the next pass to say it from */
	if (changed) {
		rfc3339(p->now, p->last_change, sizeof(p->last_change));
		if (v->rotate_token)
			snprintf(p->rotation_req, sizeof(p->rotation_req), "%s", v->rotate_token);
		audit(kc, p, "PasswordRotated",
		      "rotated the password of Milvus user %s; Secret %s has the "
		      "new one",
		      v->username, cred_name);
	} else if (v->rotate_token && !v->pw_secret) {
		snprintf(p->rotation_req, sizeof(p->rotation_req), "%s", v->rotate_token);
	}
	if (pend_pw && delete_secret(kc, v->ns, pend_name, &ke)) {
		kerr(p, C_CREDS, "delete the pending password", &ke);
		goto out;
	}
	fingerprint(p, target, fp);
	sync_record(key, fp);
	cond_set(p, C_CREDS, 1, "Synced", "Milvus user %s exists with the password in Secret %s",
	         v->username, cred_name);
	if (v->rotation_s > 0) {
		long long due = parse_rfc3339(p->last_change) + (long long)v->rotation_s;
		if (!p->next_due || due < p->next_due)
			p->next_due = due;
	}
	res = RECONCILE_DONE;
out:
	OPENSSL_cleanse(gen_pw, sizeof(gen_pw));
	secret_str_free(cur_pw);
	secret_str_free(pend_pw);
	secret_str_free(byo_pw);
	secret_str_free(cur_crt);
	secret_str_free(cur_key);
	pki_pair_free(&cert);
	json_free_secret(cur);
	json_free_secret(pend);
	json_free_secret(src);
	mv_names_free(&users);
	if (mc_open)
		mconn_close(&mc);
	return res;
}

enum reconcile_result user_reconcile(struct controller *ctl, struct kube_client *kc, const char *ns,
                                     const char *name, yajl_val obj, long *requeue_ms, void *ctx)
{
	const struct user_reconciler *ur = ctx;
	struct pass *p;
	struct kube_error ke;
	char err[512], key[600], ckey[600];
	enum reconcile_result res = RECONCILE_DONE;
	const char *missing = NULL;

	snprintf(key, sizeof(key), "User/%s/%s", ns, name);
	if (!obj) {
		sync_record(key, NULL);
		return RECONCILE_DONE;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return RECONCILE_RETRY;
	snprintf(p->what, sizeof(p->what), "user %s/%s", ns, name);
	p->obj = obj;
	p->now = time(NULL);
	{
		/* carried into every status this pass writes, whichever way it ends:
		 * the status is applied (server-side apply), and a field this manager
		 * owns and leaves out is removed. A pass that stopped early (Cluster
		 * not Ready) and left out the handled request would make the next
		 * pass rotate the password again for the same request. */
		const char *lc = json_get_str(obj, "status", "lastPasswordChange", NULL);
		const char *rq = json_get_str(obj, "status", "passwordRotationRequest", NULL);
		if (lc)
			snprintf(p->last_change, sizeof(p->last_change), "%s", lc);
		if (rq)
			snprintf(p->rotation_req, sizeof(p->rotation_req), "%s", rq);
	}
	if (user_view_parse(obj, &p->v, err, sizeof(err))) {
		p->v.name = name;
		p->v.ns = ns;
		p->v.generation = json_get_int(obj, 0, "metadata", "generation", NULL);
		cond_set(p, C_READY, 0, "InvalidSpec", "%s", err);
		log_warnx(p->what, "invalid spec: %s", err);
		if (json_get(obj, "metadata", "deletionTimestamp", NULL) &&
		    apply_set_finalizer(kc, &KUBE_VW_USER, obj, USER_FINALIZER, 0, &ke) == 0)
			goto out;
		write_status(kc, p);
		goto out;
	}
	apply_rotation_note(p);
	snprintf(ckey, sizeof(ckey), "%s/%s", ns, p->v.cluster);
	p->cluster = informer_get(controller_informer(ctl, &KUBE_VW_CLUSTER), ckey);
	if (json_get(obj, "metadata", "deletionTimestamp", NULL)) {
		res = finalize(kc, p, key);
		goto out;
	}
	if (!apply_has_finalizer(obj, USER_FINALIZER)) {
		if (apply_set_finalizer(kc, &KUBE_VW_USER, obj, USER_FINALIZER, 1, &ke) == 0)
			goto out; /* the update brings us back */
		if (ke.code && !kube_is_conflict(&ke))
			kerr(p, C_READY, "add finalizer", &ke);
		res = RECONCILE_RETRY;
		goto out;
	}
	if (!p->cluster) {
		cond_set(
		    p, C_READY, 0, "ClusterNotFound",
		    "spec.clusterRef.name: Cluster %s not found in %s: create it, or fix the name",
		    p->v.cluster, ns);
		res = RECONCILE_REQUEUE;
		*requeue_ms = ERROR_REQUEUE_MS;
		goto status;
	}
	if (!cluster_ready(p->cluster)) {
		cond_set(p, C_READY, 0, "ClusterNotReady",
		         "waiting for Cluster %s to be Ready before creating the Milvus user",
		         p->v.cluster);
		res = RECONCILE_REQUEUE;
		*requeue_ms = CLUSTER_WAIT_REQUEUE_MS;
		goto status;
	}
	if (p->v.client_cert && !json_get_str(p->cluster, "spec", "tls", "mode", NULL)) {
		/* nothing: the mode defaults to server; a client certificate is harmless */
	}
	res = converge(kc, p, key, ur);
	for (size_t i = 0; i < p->v.nroles; i++)
		if (!cluster_defines_role(p->cluster, p->v.roles[i])) {
			missing = p->v.roles[i];
			break;
		}
	if (missing) {
		cond_set(
		    p, C_ROLES, 0, "RoleNotFound",
		    "spec.roles: role %s is neither built in (admin, public) nor defined in "
		    "Cluster "
		    "%s spec.roles; add it there or remove it here (the other roles are granted)",
		    missing, p->v.cluster);
		if (res == RECONCILE_DONE) {
			res = RECONCILE_REQUEUE;
			*requeue_ms = ERROR_REQUEUE_MS;
		}
	}
	if (res == RECONCILE_REQUEUE && !*requeue_ms)
		*requeue_ms = WAIT_REQUEUE_MS;
status : {
	int ok = p->c[C_CREDS].set && p->c[C_CREDS].status && p->c[C_ROLES].set &&
	         p->c[C_ROLES].status && !p->failed;
	if (ok)
		cond_set(p, C_READY, 1, "Synced",
		         "Milvus user %s is in sync; credentials are in Secret %s-credentials",
		         p->v.username, p->v.name);
	else if (!p->c[C_READY].set) {
		for (int i = 1; i < C_N; i++)
			if (p->c[i].set && !p->c[i].status) {
				cond_set(p, C_READY, 0, p->c[i].reason, "%s", p->c[i].message);
				break;
			}
		if (!p->c[C_READY].set)
			cond_set(p, C_READY, 0, "Progressing", "reconciling");
	}
	cond_set(p, C_DEGRADED, p->failed, p->failed ? "ReconcileError" : "AsExpected", "%s",
	         p->failed ? "a step failed; retrying with backoff" : "no errors");
}
	write_status(kc, p);
	if (res == RECONCILE_DONE && !p->failed) {
		long long next = ur->resync_ms;
		if (p->next_due) {
			long long in = ((long long)p->next_due - (long long)time(NULL)) * 1000;
			if (in < 1000)
				in = 1000;
			if (in < next)
				next = in;
		}
		*requeue_ms = (long)next;
		res = RECONCILE_REQUEUE;
	}
	if (p->failed)
		res = RECONCILE_RETRY;
out:
	yajl_tree_free(p->cluster);
	free(p);
	return res;
}

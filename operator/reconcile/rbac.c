#include "rbac.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apply.h"
#include "buf.h"
#include "json.h"
#include "jgen.h"
#include "log.h"
#include "milvus.h"
#include "milvusconn.h"
#include "synccache.h"

struct want_grant {
	const char *privilege, *db, *collection;
};

static void say(struct rbac_outcome *o, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct rbac_outcome *o, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(o->message, sizeof(o->message), fmt, ap);
	va_end(ap);
}

/* An Event on the Cluster and a structured log line for every role and
 * privilege change (names only, never a secret). */
static void audit(struct kube_client *kc, yajl_val cluster, const char *what, const char *reason,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void audit(struct kube_client *kc, yajl_val cluster, const char *what, const char *reason,
                  const char *fmt, ...)
{
	char note[600];
	va_list ap;
	const char *kv[] = {"reason", reason, NULL};

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	log_kv(LOG_INFO, what, note, kv);
	event_emit(kc, cluster, "Normal", reason, "Sync", note);
}

static int has(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void add(const char **v, size_t *n, size_t max, const char *s)
{
	if (s && !has(v, *n, s) && *n < max)
		v[(*n)++] = s;
}

static void fingerprint(yajl_val cluster, const char *const *managed, size_t n,
                        unsigned char out[SYNC_FP_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *roles = json_dump(json_get(cluster, "spec", "roles", NULL));
	const char *uid = json_get_str(cluster, "metadata", "uid", NULL);
	unsigned int len = 0;

	memset(out, 0, SYNC_FP_LEN);
	if (ctx) {
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		EVP_DigestUpdate(ctx, uid ? uid : "", uid ? strlen(uid) + 1 : 1);
		EVP_DigestUpdate(ctx, roles ? roles : "", roles ? strlen(roles) + 1 : 1);
		for (size_t i = 0; i < n; i++)
			EVP_DigestUpdate(ctx, managed[i], strlen(managed[i]) + 1);
		EVP_DigestFinal_ex(ctx, out, &len);
		EVP_MD_CTX_free(ctx);
	}
	free(roles);
}

/* What this process last put (or is about to put) on record as managedRoles,
 * in memory: "name\nname\n..." under rbac-managed/<uid>. */
static void note_managed(yajl_val cluster, const char *const *names, size_t n)
{
	const char *uid = json_get_str(cluster, "metadata", "uid", NULL);
	struct buf v = BUF_INIT(RBAC_MAX_ROLES * 256);
	char key[300];

	if (!uid)
		return;
	snprintf(key, sizeof(key), "rbac-managed/%s", uid);
	for (size_t i = 0; i < n; i++)
		if (buf_adds(&v, names[i]) || buf_addc(&v, '\n'))
			break;
	sync_note_set(key, v.ptr ? v.ptr : "");
	buf_free(&v);
}

size_t rbac_managed_on_record(yajl_val cluster, char *buf, size_t len, const char **names,
                              size_t max)
{
	yajl_val prev = json_get(cluster, "status", "rbac", "managedRoles", NULL);
	const char *uid = json_get_str(cluster, "metadata", "uid", NULL);
	char key[300], *save = NULL;
	size_t n = 0;

	for (size_t i = 0; i < json_array_len(prev); i++)
		add(names, &n, max, json_str(json_array_at(prev, i)));
	snprintf(key, sizeof(key), "rbac-managed/%s", uid ? uid : "");
	if (uid && len && sync_note_get(key, buf, len))
		for (char *s = strtok_r(buf, "\n", &save); s; s = strtok_r(NULL, "\n", &save))
			add(names, &n, max, s);
	return n;
}

/* status.rbac.managedRoles := names, before Milvus hears of a new role */
static int record_managed(struct kube_client *kc, yajl_val cluster, const char *const *names,
                          size_t n)
{
	const char *ns = json_get_str(cluster, "metadata", "namespace", NULL);
	const char *name = json_get_str(cluster, "metadata", "name", NULL);
	struct buf path = BUF_INIT(2048);
	struct kube_error err;
	yajl_gen g = jgen_new();
	char *body;
	int rc = -1;

	jo(g);
	jko(g, "status");
	jko(g, "rbac");
	jka(g, "managedRoles");
	for (size_t i = 0; i < n; i++)
		js(g, names[i]);
	jac(g);
	jc(g);
	jc(g);
	jc(g);
	body = jgen_finish(g);
	if (body && kube_path(&path, &KUBE_VW_CLUSTER, ns, name, "status") == 0) {
		apply_count_write();
		rc = kube_merge_patch(kc, path.ptr, body, NULL, &err);
	}
	free(body);
	buf_free(&path);
	return rc;
}

static int grant_wanted(const struct want_grant *w, size_t n, const struct mv_grant *g)
{
	for (size_t i = 0; i < n; i++)
		if (g->privilege && g->db_name && g->object_name &&
		    strcmp(w[i].privilege, g->privilege) == 0 && strcmp(w[i].db, g->db_name) == 0 &&
		    strcmp(w[i].collection, g->object_name) == 0)
			return 1;
	return 0;
}

static int grant_present(const struct mv_grants *have, const struct want_grant *w)
{
	for (size_t i = 0; i < have->n; i++) {
		const struct mv_grant *g = &have->v[i];
		if (g->privilege && g->db_name && g->object_name &&
		    strcmp(w->privilege, g->privilege) == 0 && strcmp(w->db, g->db_name) == 0 &&
		    strcmp(w->collection, g->object_name) == 0)
			return 1;
	}
	return 0;
}

/* Exactly the wanted grants for role in each database of dbs. */
static int sync_grants(struct kube_client *kc, yajl_val cluster, struct mv_client *mv,
                       const char *what, const char *role, const struct want_grant *w, size_t nw,
                       const char *const *dbs, size_t ndbs, struct rbac_outcome *o)
{
	struct mv_error me;

	for (size_t d = 0; d < ndbs; d++) {
		struct mv_grants have = {0};
		if (mv_role_describe(mv, role, dbs[d], &have, &me) != MV_OK) {
			say(o, mv_error_reason(&me), "Milvus: describe role %s: %s", role,
			    me.message);
			return -1;
		}
		for (size_t i = 0; i < have.n; i++) {
			const struct mv_grant *g = &have.v[i];
			if (grant_wanted(w, nw, g) || !g->privilege)
				continue;
			if (mv_role_revoke_privilege_v2(
			        mv, role, g->privilege, g->db_name[0] ? g->db_name : dbs[d],
			        g->object_name[0] ? g->object_name : "*", &me) != MV_OK) {
				say(o, mv_error_reason(&me), "Milvus: revoke %s from role %s: %s",
				    g->privilege, role, me.message);
				mv_grants_free(&have);
				return -1;
			}
			audit(kc, cluster, what, "PrivilegeRevoked",
			      "revoked %s on %s.%s from role %s", g->privilege,
			      g->db_name[0] ? g->db_name : dbs[d],
			      g->object_name[0] ? g->object_name : "*", role);
		}
		for (size_t i = 0; i < nw; i++) {
			if (strcmp(w[i].db, dbs[d]) != 0 || grant_present(&have, &w[i]))
				continue;
			if (mv_role_grant_privilege_v2(mv, role, w[i].privilege, w[i].db,
			                               w[i].collection, &me) != MV_OK) {
				say(o, mv_error_reason(&me), "Milvus: grant %s to role %s: %s",
				    w[i].privilege, role, me.message);
				mv_grants_free(&have);
				return -1;
			}
			audit(kc, cluster, what, "PrivilegeGranted",
			      "granted %s on %s.%s to role %s", w[i].privilege, w[i].db,
			      w[i].collection, role);
		}
		mv_grants_free(&have);
	}
	return 0;
}

/* Revoke every grant of role (Milvus refuses to drop a role that has grants;
 * the users' bindings go with the role), then drop it. */
static int drop_role(struct kube_client *kc, yajl_val cluster, struct mv_client *mv,
                     const char *what, const char *role, struct rbac_outcome *o)
{
	struct mv_names roles = {0};
	struct mv_grants have = {0};
	struct mv_error me;
	int rc = -1;

	if (mv_role_list(mv, &roles, &me) != MV_OK)
		goto fail;
	if (!mv_names_has(&roles, role)) {
		rc = 0;
		goto out;
	}
	if (mv_role_describe(mv, role, "*", &have, &me) != MV_OK)
		goto fail;
	for (size_t i = 0; i < have.n; i++) {
		const struct mv_grant *g = &have.v[i];
		if (g->privilege && mv_role_revoke_privilege_v2(
		                        mv, role, g->privilege, g->db_name[0] ? g->db_name : "*",
		                        g->object_name[0] ? g->object_name : "*", &me) != MV_OK)
			goto fail;
	}
	if (mv_role_drop(mv, role, &me) != MV_OK)
		goto fail;
	audit(kc, cluster, what, "RoleDropped", "dropped role %s (no longer in spec.roles)", role);
	rc = 0;
	goto out;
fail:
	say(o, mv_error_reason(&me), "Milvus: drop role %s: %s", role, me.message);
out:
	mv_grants_free(&have);
	mv_names_free(&roles);
	return rc;
}

int rbac_sync(struct kube_client *kc, yajl_val cluster, long milvus_resync_ms,
              struct rbac_outcome *o)
{
	yajl_val roles = json_get(cluster, "spec", "roles", NULL);
	yajl_val prev = json_get(cluster, "status", "rbac", "managedRoles", NULL);
	yajl_val prev_dbs = json_get(cluster, "status", "rbac", "databases", NULL);
	const char *ns = json_get_str(cluster, "metadata", "namespace", NULL);
	const char *name = json_get_str(cluster, "metadata", "name", NULL);
	const char *declared[RBAC_MAX_ROLES], *was[RBAC_MAX_ROLES], *both[RBAC_MAX_ROLES];
	size_t nd = 0, nwas = 0, nboth = 0;
	struct mconn mc;
	struct mv_names have = {0};
	struct mv_error me;
	char key[600], what[600], reason[64], msg[400];
	unsigned char fp[SYNC_FP_LEN];
	int rc = -1, opened = 0;

	memset(o, 0, sizeof(*o));
	memset(&mc, 0, sizeof(mc));
	snprintf(key, sizeof(key), "Cluster/%s/%s", ns, name);
	snprintf(what, sizeof(what), "cluster %s/%s", ns, name);
	for (size_t i = 0; i < json_array_len(roles); i++)
		add(declared, &nd, RBAC_MAX_ROLES,
		    json_get_str(json_array_at(roles, i), "name", NULL));
	for (size_t i = 0; i < json_array_len(prev); i++)
		add(was, &nwas, RBAC_MAX_ROLES, json_str(json_array_at(prev, i)));
	for (size_t i = 0; i < nwas; i++)
		add(both, &nboth, RBAC_MAX_ROLES, was[i]);
	for (size_t i = 0; i < nd; i++)
		add(both, &nboth, RBAC_MAX_ROLES, declared[i]);
	/* databases whose grants are ours to inspect */
	add(o->dbs, &o->ndbs, RBAC_MAX_DBS, "*");
	for (size_t i = 0; i < json_array_len(prev_dbs); i++)
		add(o->dbs, &o->ndbs, RBAC_MAX_DBS, json_str(json_array_at(prev_dbs, i)));
	for (size_t i = 0; i < json_array_len(roles); i++) {
		yajl_val privs = json_get(json_array_at(roles, i), "privileges", NULL);
		for (size_t j = 0; j < json_array_len(privs); j++)
			add(o->dbs, &o->ndbs, RBAC_MAX_DBS,
			    json_get_str(json_array_at(privs, j), "database", NULL));
	}
	for (size_t i = 0; i < nd; i++)
		o->managed[o->nmanaged++] = declared[i];

	if (nboth == 0) {
		o->ok = 1;
		say(o, "NoCustomRoles",
		    "spec.roles is empty: only the built-in roles admin and public");
		return 0;
	}
	fingerprint(cluster, was, nwas, fp);
	if (sync_fresh(key, fp, milvus_resync_ms)) {
		o->ok = 1;
		say(o, "Synced", "%zu custom role(s) in Milvus as declared", nd);
		return 0;
	}
	o->contacted = 1;
	if (mconn_open(kc, cluster, 0, &mc, reason, sizeof(reason), msg, sizeof(msg))) {
		say(o, reason, "%s", msg);
		goto out;
	}
	opened = 1;
	if (mv_role_list(mc.mv, &have, &me) != MV_OK) {
		say(o, mv_error_reason(&me), "Milvus: list roles: %s", me.message);
		goto out;
	}
	/* record first, then create */
	for (size_t i = 0; i < nd; i++)
		if (!has(was, nwas, declared[i])) {
			note_managed(cluster, both, nboth); /* may be done though refused */
			if (record_managed(kc, cluster, both, nboth)) {
				say(o, "APIError",
				    "cannot record the managed roles in the Cluster status");
				goto out;
			}
			break;
		}
	for (size_t i = 0; i < json_array_len(roles); i++) {
		yajl_val r = json_array_at(roles, i);
		const char *rn = json_get_str(r, "name", NULL);
		yajl_val groups = json_get(r, "privilegeGroups", NULL);
		yajl_val privs = json_get(r, "privileges", NULL);
		struct want_grant w[9 + 64];
		size_t nw = 0;
		if (!rn)
			continue;
		if (!mv_names_has(&have, rn)) {
			if (mv_role_create(mc.mv, rn, &me) != MV_OK) {
				say(o, mv_error_reason(&me), "Milvus: create role %s: %s", rn,
				    me.message);
				goto out;
			}
			audit(kc, cluster, what, "RoleCreated", "created role %s", rn);
		}
		for (size_t j = 0; j < json_array_len(groups) && nw < 9; j++) {
			const char *gname = json_str(json_array_at(groups, j));
			if (gname)
				w[nw++] = (struct want_grant){gname, "*", "*"};
		}
		for (size_t j = 0; j < json_array_len(privs) && nw < 9 + 64; j++) {
			yajl_val pv = json_array_at(privs, j);
			const char *pn = json_get_str(pv, "name", NULL),
			           *db = json_get_str(pv, "database", NULL),
			           *co = json_get_str(pv, "collection", NULL);
			if (pn && db && co)
				w[nw++] = (struct want_grant){pn, db, co};
		}
		if (sync_grants(kc, cluster, mc.mv, what, rn, w, nw, o->dbs, o->ndbs, o))
			goto out;
	}
	for (size_t i = 0; i < nwas; i++)
		if (!has(declared, nd, was[i]) && drop_role(kc, cluster, mc.mv, what, was[i], o))
			goto out;
	/* what is recorded from now on is exactly the declared set */
	fingerprint(cluster, declared, nd, fp);
	sync_record(key, fp);
	o->ok = 1;
	say(o, "Synced", "%zu custom role(s) in Milvus as declared", nd);
	rc = 0;
out:
	if (rc) {
		/* keep every role that may still exist in Milvus on record */
		o->nmanaged = 0;
		for (size_t i = 0; i < nboth; i++)
			o->managed[o->nmanaged++] = both[i];
	}
	note_managed(cluster, o->managed, o->nmanaged);
	mv_names_free(&have);
	if (opened)
		mconn_close(&mc);
	return rc;
}

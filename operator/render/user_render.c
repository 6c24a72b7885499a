#include "user_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "secret.h"
#include "util.h"

static int valid_username(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return strcmp(s, "root") != 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int user_view_parse(yajl_val obj, struct user_view *v, char *err, size_t errlen)
{
	yajl_val roles;
	const char *period, *adopt;

	memset(v, 0, sizeof(*v));
	v->name = json_get_str(obj, "metadata", "name", NULL);
	v->ns = json_get_str(obj, "metadata", "namespace", NULL);
	v->uid = json_get_str(obj, "metadata", "uid", NULL);
	v->generation = json_get_int(obj, 0, "metadata", "generation", NULL);
	if (!v->name || !v->ns || !v->uid) {
		snprintf(err, errlen, "metadata: name, namespace and uid are required");
		return -1;
	}
	v->username = json_get_str(obj, "spec", "username", NULL);
	if (!v->username)
		v->username = v->name;
	if (!valid_username(v->username)) {
		snprintf(
		    err, errlen,
		    "spec.username: %.64s is not a valid Milvus user name (1-32 letters, digits "
		    "or _, starting with a letter, not root); set spec.username, e.g. app_reader",
		    v->username);
		return -1;
	}
	v->cluster = json_get_str(obj, "spec", "clusterRef", "name", NULL);
	if (!v->cluster || !*v->cluster) {
		snprintf(err, errlen, "spec.clusterRef.name is required: the Cluster of this user");
		return -1;
	}
	roles = json_get(obj, "spec", "roles", NULL);
	for (size_t i = 0; i < json_array_len(roles); i++) {
		const char *r = json_str(json_array_at(roles, i));
		if (!r || !*r) {
			snprintf(err, errlen, "spec.roles[%zu]: a role name is required", i);
			return -1;
		}
		if (user_has_role(v, r))
			continue;
		if (v->nroles == USER_MAX_ROLES) {
			snprintf(err, errlen, "spec.roles: at most %d roles", USER_MAX_ROLES);
			return -1;
		}
		v->roles[v->nroles++] = r;
	}
	qsort(v->roles, v->nroles, sizeof(v->roles[0]), cmp_str);
	v->pw_secret = json_get_str(obj, "spec", "passwordSecretRef", "name", NULL);
	v->pw_key = json_get_str(obj, "spec", "passwordSecretRef", "key", NULL);
	if (!v->pw_key)
		v->pw_key = "password";
	v->client_cert = json_get_bool(obj, 0, "spec", "tls", "clientCertificate", NULL);
	period = json_get_str(obj, "spec", "passwordRotation", "period", NULL);
	if (period) {
		if (v->pw_secret) {
			snprintf(
			    err, errlen,
			    "spec.passwordRotation only applies to generated passwords; remove "
			    "spec.passwordSecretRef or spec.passwordRotation");
			return -1;
		}
		if (parse_duration(period, &v->rotation_s) || v->rotation_s < 3600) {
			snprintf(err, errlen,
			         "spec.passwordRotation.period: %.40s must be a duration of at "
			         "least 1h, "
			         "e.g. 720h",
			         period);
			return -1;
		}
	}
	v->rotate_token =
	    json_get_str(obj, "metadata", "annotations", USER_ROTATE_ANNOTATION, NULL);
	adopt = json_get_str(obj, "metadata", "annotations", USER_ADOPT_ANNOTATION, NULL);
	v->adopt = adopt && strcmp(adopt, "true") == 0;
	return 0;
}

int user_obj_name(const struct user_view *v, const char *suffix, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s-%s", v->name, suffix);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int user_has_role(const struct user_view *v, const char *role)
{
	for (size_t i = 0; i < v->nroles; i++)
		if (strcmp(v->roles[i], role) == 0)
			return 1;
	return 0;
}

int user_password_ok(const char *pw)
{
	size_t n = strlen(pw);
	return n >= 12 && n <= 72 && secret_class_count(pw) >= 3 ? 0 : -1;
}

static void gen_metadata(yajl_gen g, const struct user_view *v, const char *name)
{
	jko(g, "metadata");
	jkv(g, "name", name);
	jkv(g, "namespace", v->ns);
	jko(g, "labels");
	jkv(g, "app.kubernetes.io/name", "milvus");
	jkv(g, "app.kubernetes.io/instance", v->cluster);
	jkv(g, "app.kubernetes.io/component", "credentials");
	jkv(g, "app.kubernetes.io/managed-by", "vecward");
	jkv(g, "vecward.io/cluster", v->cluster);
	jkv(g, "vecward.io/user", v->name);
	jc(g);
	jka(g, "ownerReferences");
	jo(g);
	jkv(g, "apiVersion", "vecward.io/v1alpha1");
	jkv(g, "kind", "User");
	jkv(g, "name", v->name);
	jkv(g, "uid", v->uid);
	jkb(g, "controller", 1);
	jkb(g, "blockOwnerDeletion", 1);
	jc(g);
	jac(g);
	jc(g);
}

/* "k": base64(val) */
static int data_kv(yajl_gen g, const char *k, const char *val)
{
	struct buf b = BUF_INIT(1 << 20);
	int rc;

	if (b64_encode(val, strlen(val), &b))
		return -1;
	jkv(g, k, buf_str(&b));
	rc = 0;
	buf_free_secret(&b);
	return rc;
}

char *user_render_credentials(const struct user_view *v, const struct user_creds *c)
{
	char name[300];
	struct buf token = BUF_INIT(512);
	yajl_gen g;
	int bad = 0;

	if (user_obj_name(v, "credentials", name, sizeof(name)) ||
	    buf_printf(&token, "%s:%s", v->username, c->password))
		return NULL;
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "v1");
	jkv(g, "kind", "Secret");
	gen_metadata(g, v, name);
	jkv(g, "type", "Opaque");
	jko(g, "data");
	bad |= data_kv(g, "username", v->username);
	bad |= data_kv(g, "password", c->password);
	bad |= data_kv(g, "token", buf_str(&token));
	if (c->uri)
		bad |= data_kv(g, "uri", c->uri);
	if (c->ca_pem)
		bad |= data_kv(g, "ca.crt", c->ca_pem);
	if (c->tls_crt && c->tls_key) {
		bad |= data_kv(g, "tls.crt", c->tls_crt);
		bad |= data_kv(g, "tls.key", c->tls_key);
	}
	jc(g);
	jc(g);
	buf_free_secret(&token);
	if (bad) {
		user_free_secret_json(jgen_finish_secret(g));
		return NULL;
	}
	return jgen_finish_secret(g);
}

char *user_render_pending(const struct user_view *v, const char *password)
{
	char name[300];
	yajl_gen g;
	int bad;

	if (user_obj_name(v, "password-pending", name, sizeof(name)))
		return NULL;
	g = jgen_new();
	jo(g);
	jkv(g, "apiVersion", "v1");
	jkv(g, "kind", "Secret");
	gen_metadata(g, v, name);
	jkv(g, "type", "Opaque");
	jko(g, "data");
	bad = data_kv(g, "password", password);
	jc(g);
	jc(g);
	if (bad) {
		user_free_secret_json(jgen_finish_secret(g));
		return NULL;
	}
	return jgen_finish_secret(g);
}

void user_free_secret_json(char *json)
{
	if (json) {
		OPENSSL_cleanse(json, strlen(json));
		free(json);
	}
}

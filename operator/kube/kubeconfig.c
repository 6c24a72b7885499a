#include "kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "yamltree.h"

#define SA_DIR  "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_PEM (1024 * 1024)

static struct kube_config *config_new(void)
{
	struct kube_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	buf_init(&c->ca, MAX_PEM);
	buf_init(&c->cert, MAX_PEM);
	buf_init(&c->key, MAX_PEM);
	buf_init(&c->token, 64 * 1024);
	pthread_mutex_init(&c->token_lock, NULL);
	return c;
}

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->namespace);
	free(c->context);
	free(c->token_file);
	buf_free(&c->ca);
	buf_free(&c->cert);
	buf_free_secret(&c->key);
	buf_free_secret(&c->token);
	pthread_mutex_destroy(&c->token_lock);
	free(c);
}

/* Find the entry named name in a kubeconfig list (clusters, users, contexts). */
static yajl_val named(yajl_val root, const char *list, const char *name, const char *field)
{
	yajl_val arr = json_get(root, list, NULL);

	for (size_t i = 0; i < json_array_len(arr); i++) {
		yajl_val e = json_array_at(arr, i);
		const char *n = json_get_str(e, "name", NULL);
		if (n && strcmp(n, name) == 0)
			return json_get(e, field, NULL);
	}
	return NULL;
}

/* 1 when a scalar is absent, null or false the way kubectl's YAML reads it
 * ("False", "no", "off", ...); everything else counts as set. */
static int is_yaml_false(yajl_val v)
{
	static const char *const no[] = {"",      "~",     "null", "Null", "NULL", "false",
	                                 "False", "FALSE", "no",   "No",   "NO",   "n",
	                                 "N",     "off",   "Off",  "OFF"};
	const char *s = json_str(v);

	if (!v)
		return 1;
	for (size_t i = 0; s && i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(s, no[i]) == 0)
			return 1;
	return 0;
}

static int resolve_path(const char *basedir, const char *p, char *out, size_t outlen)
{
	int n;

	if (p[0] == '/' || !basedir || !*basedir)
		n = snprintf(out, outlen, "%s", p);
	else
		n = snprintf(out, outlen, "%s/%s", basedir, p);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Load PEM material from "<field>-data" (base64) or "<field>" (file path). */
static int load_material(yajl_val obj, const char *field, const char *basedir, struct buf *dst,
                         const char *what, char *err, size_t errlen)
{
	char key[64], path[4096];
	const char *data, *file;

	snprintf(key, sizeof(key), "%s-data", field);
	data = json_get_str(obj, key, NULL);
	file = json_get_str(obj, field, NULL);
	if (data && *data) {
		if (b64_decode(data, strlen(data), dst)) {
			snprintf(err, errlen, "kubeconfig: %s %s is not valid base64", what, key);
			return -1;
		}
		return 0;
	}
	if (file && *file) {
		if (resolve_path(basedir, file, path, sizeof(path)) ||
		    read_file(path, MAX_PEM, dst)) {
			snprintf(err, errlen, "kubeconfig: %s %s: cannot read %s: %s", what, field,
			         file, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int kube_config_parse(const char *yaml, size_t len, const char *basedir, const char *context,
                      struct kube_config **out, char *err, size_t errlen)
{
	yajl_val root = NULL, ctx, cl, user;
	struct kube_config *c = NULL;
	const char *cname, *clname, *uname, *server, *s;
	char what[300];
	int rc = -1;

	if (yamltree_parse(yaml, len, &root, err, errlen))
		return -1;
	if (!root || root->type != yajl_t_object) {
		snprintf(err, errlen, "kubeconfig: not a mapping");
		goto out;
	}
	cname = context && *context ? context : json_get_str(root, "current-context", NULL);
	if (!cname || !*cname) {
		snprintf(err, errlen, "kubeconfig: no current-context set and no context given");
		goto out;
	}
	ctx = named(root, "contexts", cname, "context");
	if (!ctx) {
		snprintf(err, errlen, "kubeconfig: context %s not found", cname);
		goto out;
	}
	clname = json_get_str(ctx, "cluster", NULL);
	uname = json_get_str(ctx, "user", NULL);
	cl = clname ? named(root, "clusters", clname, "cluster") : NULL;
	if (!cl) {
		snprintf(err, errlen, "kubeconfig: context %s: cluster %s not found", cname,
		         clname ? clname : "(unset)");
		goto out;
	}
	server = json_get_str(cl, "server", NULL);
	if (!server || strncmp(server, "https://", 8) != 0) {
		snprintf(err, errlen,
		         "kubeconfig: cluster %s: server must be an https:// url (got %s)", clname,
		         server ? server : "nothing");
		goto out;
	}
	if (!is_yaml_false(json_get(cl, "insecure-skip-tls-verify", NULL))) {
		snprintf(err, errlen,
		         "kubeconfig: cluster %s sets insecure-skip-tls-verify; vecward always "
		         "verifies TLS: set certificate-authority-data instead",
		         clname);
		goto out;
	}
	if (json_get(cl, "tls-server-name", NULL)) {
		snprintf(err, errlen,
		         "kubeconfig: cluster %s: tls-server-name is not supported: use a server "
		         "url whose host name is in the certificate",
		         clname);
		goto out;
	}
	if (json_get(cl, "proxy-url", NULL)) {
		snprintf(err, errlen, "kubeconfig: cluster %s: proxy-url is not supported", clname);
		goto out;
	}
	c = config_new();
	if (!c) {
		snprintf(err, errlen, "kubeconfig: out of memory");
		goto out;
	}
	c->server = strdup(server);
	if (c->server) { /* drop trailing slashes */
		size_t n = strlen(c->server);
		while (n > 8 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
	}
	c->context = strdup(cname);
	c->namespace =
	    strdup(json_get_str(ctx, "namespace", NULL) ? json_get_str(ctx, "namespace", NULL)
	                                                : "default");
	if (!c->server || !c->context || !c->namespace) {
		snprintf(err, errlen, "kubeconfig: out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "cluster %s", clname);
	if (load_material(cl, "certificate-authority", basedir, &c->ca, what, err, errlen))
		goto out;
	user = uname ? named(root, "users", uname, "user") : NULL;
	if (uname && !user) {
		snprintf(err, errlen, "kubeconfig: context %s: user %s not found", cname, uname);
		goto out;
	}
	if (user) {
		snprintf(what, sizeof(what), "user %s", uname);
		if (json_get(user, "exec", NULL) || json_get(user, "auth-provider", NULL)) {
			snprintf(err, errlen,
			         "kubeconfig: user %s uses an exec or auth-provider plugin, which "
			         "vecward does not run: use a client certificate or a token",
			         uname);
			goto out;
		}
		if (load_material(user, "client-certificate", basedir, &c->cert, what, err,
		                  errlen) ||
		    load_material(user, "client-key", basedir, &c->key, what, err, errlen))
			goto out;
		if ((c->cert.len == 0) != (c->key.len == 0)) {
			snprintf(
			    err, errlen,
			    "kubeconfig: user %s has a client certificate without a key (or a key "
			    "without a certificate)",
			    uname);
			goto out;
		}
		s = json_get_str(user, "token", NULL);
		if (s && *s && buf_adds(&c->token, s)) {
			snprintf(err, errlen, "kubeconfig: out of memory");
			goto out;
		}
		s = json_get_str(user, "tokenFile", NULL);
		if (s && *s) {
			char path[4096];
			if (resolve_path(basedir, s, path, sizeof(path)) ||
			    !(c->token_file = strdup(path))) {
				snprintf(err, errlen, "kubeconfig: user %s: bad tokenFile", uname);
				goto out;
			}
		}
		if (json_get_str(user, "username", NULL) || json_get_str(user, "password", NULL)) {
			snprintf(
			    err, errlen,
			    "kubeconfig: user %s uses basic auth, which Kubernetes removed: use a "
			    "client certificate or a token",
			    uname);
			goto out;
		}
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	kube_config_free(c);
	yajl_tree_free(root);
	return rc;
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **out,
                          char *err, size_t errlen)
{
	struct buf b = BUF_INIT(KUBE_MAX_CONFIG_BYTES);
	char dir[4096];
	const char *slash;
	int rc;

	if (read_file(path, KUBE_MAX_CONFIG_BYTES, &b)) {
		snprintf(err, errlen, "kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	rc = kube_config_parse(b.ptr, b.len, dir, context, out, err, errlen);
	buf_free_secret(&b);
	return rc;
}

int kube_config_in_cluster(struct kube_config **out, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("VECWARD_SERVICEACCOUNT_DIR");
	struct kube_config *c = NULL;
	struct buf ns = BUF_INIT(256);
	char path[4096];
	int n;

	if (!dir || !*dir)
		dir = SA_DIR;
	if (!host || !*host || !port || !*port) {
		snprintf(
		    err, errlen,
		    "no kubeconfig given and not in a cluster (KUBERNETES_SERVICE_HOST unset): "
		    "pass --kubeconfig or set KUBECONFIG");
		return -1;
	}
	c = config_new();
	if (!c)
		goto oom;
	if (strchr(host, ':'))
		n = snprintf(path, sizeof(path), "https://[%s]:%s", host, port);
	else
		n = snprintf(path, sizeof(path), "https://%s:%s", host, port);
	if (n < 0 || (size_t)n >= sizeof(path) || !(c->server = strdup(path)))
		goto oom;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (read_file(path, MAX_PEM, &c->ca)) {
		snprintf(err, errlen, "in-cluster: cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	if (!(c->token_file = strdup(path)))
		goto oom;
	snprintf(path, sizeof(path), "%s/namespace", dir);
	if (read_file(path, 256, &ns) == 0) {
		while (ns.len && (ns.ptr[ns.len - 1] == '\n' || ns.ptr[ns.len - 1] == ' '))
			ns.ptr[--ns.len] = '\0';
		c->namespace = buf_take(&ns);
	} else {
		c->namespace = strdup("default");
	}
	if (!c->namespace)
		goto oom;
	if (kube_config_token(c, NULL) != 0) {
		snprintf(err, errlen, "in-cluster: cannot read service-account token %s: %s",
		         c->token_file, strerror(errno));
		goto fail;
	}
	*out = c;
	return 0;
oom:
	snprintf(err, errlen, "in-cluster: out of memory");
fail:
	buf_free(&ns);
	kube_config_free(c);
	return -1;
}

int kube_config_load_default(const char *path, struct kube_config **out, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");

	if (path && *path)
		return kube_config_load_file(path, NULL, out, err, errlen);
	if (env && *env) {
		char first[4096];
		const char *colon = strchr(env, ':');
		snprintf(first, sizeof(first), "%.*s",
		         colon ? (int)(colon - env) : (int)strlen(env), env);
		return kube_config_load_file(first, NULL, out, err, errlen);
	}
	return kube_config_in_cluster(out, err, errlen);
}

int kube_config_token(struct kube_config *c, struct buf *dst)
{
	int rc = 0;

	pthread_mutex_lock(&c->token_lock);
	if (c->token_file && (c->token_read_ms == 0 ||
	                      now_ms() - c->token_read_ms >= KUBE_TOKEN_RELOAD_S * 1000LL)) {
		struct buf fresh = BUF_INIT(64 * 1024);
		if (read_file(c->token_file, 64 * 1024, &fresh) == 0) {
			while (fresh.len && (fresh.ptr[fresh.len - 1] == '\n' ||
			                     fresh.ptr[fresh.len - 1] == '\r' ||
			                     fresh.ptr[fresh.len - 1] == ' '))
				fresh.ptr[--fresh.len] = '\0';
			buf_free_secret(&c->token);
			c->token = fresh;
			c->token_read_ms = now_ms();
		} else if (c->token.len == 0) {
			rc = -1;
		}
		/* on a failed re-read keep the previous token; try again next call */
	}
	if (rc == 0 && dst) {
		buf_free_secret(dst);
		if (c->token.len && buf_add(dst, c->token.ptr, c->token.len))
			rc = -1;
	}
	pthread_mutex_unlock(&c->token_lock);
	return rc;
}

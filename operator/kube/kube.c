#include "kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "json.h"
#include "log.h"

#define KUBE_CONNECT_TIMEOUT_S 10
#define KUBE_REQUEST_TIMEOUT_S 30

const struct kube_kind KUBE_SECRET = {"", "v1", "Secret", "secrets", 1};
const struct kube_kind KUBE_CONFIGMAP = {"", "v1", "ConfigMap", "configmaps", 1};
const struct kube_kind KUBE_SERVICE = {"", "v1", "Service", "services", 1};
const struct kube_kind KUBE_SERVICEACCOUNT = {"", "v1", "ServiceAccount", "serviceaccounts", 1};
const struct kube_kind KUBE_NAMESPACE = {"", "v1", "Namespace", "namespaces", 0};
const struct kube_kind KUBE_PVC = {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", 1};
const struct kube_kind KUBE_EVENT = {"events.k8s.io", "v1", "Event", "events", 1};
const struct kube_kind KUBE_DEPLOYMENT = {"apps", "v1", "Deployment", "deployments", 1};
const struct kube_kind KUBE_NETWORKPOLICY = {"networking.k8s.io", "v1", "NetworkPolicy",
                                             "networkpolicies", 1};
const struct kube_kind KUBE_LEASE = {"coordination.k8s.io", "v1", "Lease", "leases", 1};
const struct kube_kind KUBE_VW_CLUSTER = {"vecward.io", "v1alpha1", "Cluster", "clusters", 1};
const struct kube_kind KUBE_VW_USER = {"vecward.io", "v1alpha1", "User", "users", 1};
const struct kube_kind KUBE_VW_ENCRYPTIONKEY = {"vecward.io", "v1alpha1", "EncryptionKey",
                                                "encryptionkeys", 1};

struct kube_client {
	struct kube_config *cfg;
	CURL *curl;
	struct curl_slist *resolve;
	struct kube_stats stats;
	struct buf token;   /* current bearer token (secret) */
	struct buf auth;    /* "Authorization: Bearer ..." (secret) */
	long timeout_ms;    /* 0: KUBE_CONNECT_TIMEOUT_S / KUBE_REQUEST_TIMEOUT_S */
	long retry_after_s; /* longest Retry-After since kube_client_take_retry_after */
};

#define KUBE_MAX_RETRY_AFTER_S 600

long kube_client_take_retry_after(struct kube_client *c)
{
	long s = c->retry_after_s;

	c->retry_after_s = 0;
	return s;
}

int kube_api_version(const struct kube_kind *k, char *out, size_t outlen)
{
	int n = k->group[0] ? snprintf(out, outlen, "%s/%s", k->group, k->version)
	                    : snprintf(out, outlen, "%s", k->version);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int kube_path(struct buf *b, const struct kube_kind *k, const char *ns, const char *name,
              const char *sub)
{
	int rc;

	if (k->group[0])
		rc = buf_printf(b, "/apis/%s/%s", k->group, k->version);
	else
		rc = buf_printf(b, "/api/%s", k->version);
	if (!rc && k->namespaced && ns && *ns)
		rc = buf_adds(b, "/namespaces/") || buf_add_urlenc(b, ns);
	if (!rc)
		rc = buf_printf(b, "/%s", k->plural);
	if (!rc && name && *name)
		rc = buf_addc(b, '/') || buf_add_urlenc(b, name);
	if (!rc && sub && *sub)
		rc = buf_printf(b, "/%s", sub);
	return rc ? -1 : 0;
}

static int curl_global_ok = 0;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct kube_client *kube_client_new(struct kube_config *cfg)
{
	struct kube_client *c;

	pthread_once(&curl_once, curl_init_once);
	if (!curl_global_ok)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = cfg;
	buf_init(&c->token, 64 * 1024);
	buf_init(&c->auth, 64 * 1024 + 64);
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->resolve);
	buf_free_secret(&c->token);
	buf_free_secret(&c->auth);
	free(c);
}

void kube_client_stats(const struct kube_client *c, struct kube_stats *out)
{
	*out = c->stats;
}

static void set_transport_err(struct kube_error *err, const char *msg)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->reason, sizeof(err->reason), "Transport");
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

void kube_error_from_body(long http, const char *body, size_t len, struct kube_error *err)
{
	yajl_val v = NULL;

	memset(err, 0, sizeof(*err));
	err->http = http;
	err->code = http;
	if (body && len &&
	    json_parse(body, len, JSON_MAX_DEPTH, 1024 * 1024, &v, NULL, 0) == JSON_OK) {
		const char *kind = json_get_str(v, "kind", NULL);
		if (kind && strcmp(kind, "Status") == 0) {
			const char *r = json_get_str(v, "reason", NULL);
			const char *m = json_get_str(v, "message", NULL);
			err->code = (long)json_get_int(v, http, "code", NULL);
			if (r)
				snprintf(err->reason, sizeof(err->reason), "%s", r);
			if (m)
				snprintf(err->message, sizeof(err->message), "%s", m);
		}
		yajl_tree_free(v);
	}
	if (!err->message[0]) {
		/* not a Status: keep a printable prefix of the body */
		size_t n = 0;
		for (size_t i = 0; body && i < len && n + 1 < sizeof(err->message) && n < 200;
		     i++) {
			unsigned char ch = (unsigned char)body[i];
			err->message[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
		}
		err->message[n] = '\0';
	}
	if (!err->reason[0]) {
		const char *r = "Unknown";
		switch (http) {
		case 400:
			r = "BadRequest";
			break;
		case 401:
			r = "Unauthorized";
			break;
		case 403:
			r = "Forbidden";
			break;
		case 404:
			r = "NotFound";
			break;
		case 409:
			r = "Conflict";
			break;
		case 410:
			r = "Expired";
			break;
		case 422:
			r = "Invalid";
			break;
		case 429:
			r = "TooManyRequests";
			break;
		case 500:
			r = "InternalError";
			break;
		case 503:
			r = "ServiceUnavailable";
			break;
		case 504:
			r = "Timeout";
			break;
		}
		snprintf(err->reason, sizeof(err->reason), "%s", r);
	}
}

const char *kube_strerror(const struct kube_error *err, char *out, size_t len)
{
	if (err->http)
		snprintf(out, len, "%ld %s: %s", err->http, err->reason, err->message);
	else
		snprintf(out, len, "%s: %s", err->reason[0] ? err->reason : "error", err->message);
	return out;
}

int kube_is_not_found(const struct kube_error *err)
{
	return err->http == 404;
}

int kube_is_conflict(const struct kube_error *err)
{
	return err->http == 409;
}

int kube_is_gone(const struct kube_error *err)
{
	return err->http == 410 || err->code == 410;
}

/* ---- transport ---------------------------------------------------------- */

struct body_sink {
	struct buf b;
	int overflow;
};

static size_t write_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct body_sink *s = ud;
	size_t n = size * nmemb;

	if (buf_add(&s->b, p, n)) {
		s->overflow = 1;
		return 0;
	}
	return n;
}

/* Prepare the handle for one request: URL, TLS, auth. */
static int setup(struct kube_client *c, const char *method, const char *path,
                 struct curl_slist **hdrs, struct kube_error *err)
{
	struct kube_config *cfg = c->cfg;
	struct buf url = BUF_INIT(16 * 1024);
	CURL *h = c->curl;

	curl_easy_reset(h);
	if (buf_adds(&url, cfg->server) || buf_adds(&url, path)) {
		set_transport_err(err, "request url too long");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	buf_free(&url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 c->timeout_ms > 0 && c->timeout_ms < KUBE_CONNECT_TIMEOUT_S * 1000L
	                     ? c->timeout_ms
	                     : KUBE_CONNECT_TIMEOUT_S * 1000L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "vecward/" VECWARD_VERSION);
	if (cfg->ca.len) {
		struct curl_blob blob = {cfg->ca.ptr, cfg->ca.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cfg->cert.len) {
		struct curl_blob cb = {cfg->cert.ptr, cfg->cert.len, CURL_BLOB_NOCOPY};
		struct curl_blob kb = {cfg->key.ptr, cfg->key.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
	}
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	if (kube_config_token(cfg, &c->token) != 0) {
		set_transport_err(err, "cannot read the bearer token file");
		return -1;
	}
	if (c->token.len) {
		buf_free_secret(&c->auth);
		if (buf_adds(&c->auth, "Authorization: Bearer ") ||
		    buf_add(&c->auth, c->token.ptr, c->token.len)) {
			set_transport_err(err, "bearer token too long");
			return -1;
		}
		*hdrs = curl_slist_append(*hdrs, c->auth.ptr);
	}
	return 0;
}

static void free_headers(struct curl_slist *hdrs)
{
	/* the list holds a copy of the Authorization header: wipe it */
	for (struct curl_slist *p = hdrs; p; p = p->next)
		if (p->data && strncmp(p->data, "Authorization:", 14) == 0)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(hdrs);
}

int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *content_type, const char *body, size_t body_len, yajl_val *out,
                 struct kube_error *err)
{
	struct curl_slist *hdrs = NULL;
	struct body_sink sink;
	char ebuf[CURL_ERROR_SIZE] = "";
	long http = 0;
	CURLcode cc;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	buf_init(&sink.b, KUBE_MAX_RESPONSE);
	sink.overflow = 0;
	if (setup(c, method, path, &hdrs, err))
		goto out;
	if (content_type) {
		char h[128];
		snprintf(h, sizeof(h), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
	                 c->timeout_ms > 0 ? c->timeout_ms : KUBE_REQUEST_TIMEOUT_S * 1000L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, ebuf);
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		char m[CURL_ERROR_SIZE + 64];
		if (sink.overflow)
			snprintf(m, sizeof(m), "%s %s: response larger than %u bytes", method, path,
			         KUBE_MAX_RESPONSE);
		else
			snprintf(m, sizeof(m), "%s %s: %s", method, path,
			         ebuf[0] ? ebuf : curl_easy_strerror(cc));
		set_transport_err(err, m);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
	if (http < 200 || http > 299) {
		curl_off_t ra = 0;
		kube_error_from_body(http, sink.b.ptr, sink.b.len, err);
		/* Retry-After (seconds or an HTTP date, parsed by libcurl) */
		if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) {
			err->retry_after_s =
			    ra > KUBE_MAX_RETRY_AFTER_S ? KUBE_MAX_RETRY_AFTER_S : (long)ra;
			if (err->retry_after_s > c->retry_after_s)
				c->retry_after_s = err->retry_after_s;
		}
		goto out;
	}
	if (out) {
		yajl_val v = NULL;
		char jerr[128];
		if (sink.b.len &&
		    json_parse(sink.b.ptr, sink.b.len, JSON_MAX_DEPTH, 0, &v, jerr, sizeof(jerr))) {
			set_transport_err(err, jerr);
			err->http = http;
			goto out;
		}
		*out = v;
	}
	err->http = http;
	rc = 0;
out:
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	free_headers(hdrs);
	buf_free(&sink.b);
	return rc;
}

int kube_get(struct kube_client *c, const char *path, yajl_val *out, struct kube_error *err)
{
	c->stats.get++;
	return kube_request(c, "GET", path, NULL, NULL, 0, out, err);
}

int kube_list(struct kube_client *c, const char *path, const char *label_selector, long limit,
              kube_item_cb item_cb, void *ctx, char **resource_version, struct kube_error *err)
{
	char *cont = NULL, *rv = NULL;
	int rc = -1;

	if (limit <= 0)
		limit = 500;
	do {
		struct buf q = BUF_INIT(64 * 1024);
		yajl_val page = NULL, items;
		const char *next, *prv;
		int r;

		/* path may carry a query of its own (e.g. ?fieldSelector=...) */
		r = buf_printf(&q, "%s%climit=%ld", path, strchr(path, '?') ? '&' : '?', limit);
		if (!r && label_selector && *label_selector)
			r = buf_adds(&q, "&labelSelector=") || buf_add_urlenc(&q, label_selector);
		if (!r && cont)
			r = buf_adds(&q, "&continue=") || buf_add_urlenc(&q, cont);
		if (r) {
			set_transport_err(err, "list url too long");
			goto out;
		}
		c->stats.list++;
		r = kube_request(c, "GET", q.ptr, NULL, NULL, 0, &page, err);
		buf_free(&q);
		if (r)
			goto out;
		items = json_get(page, "items", NULL);
		for (size_t i = 0; i < json_array_len(items); i++) {
			int ir = item_cb(items->u.array.values[i], ctx);
			if (ir == KUBE_ITEM_TAKEN) {
				items->u.array.values[i] = NULL;
			} else if (ir == KUBE_ITEM_STOP) {
				set_transport_err(err, "list stopped by caller");
				yajl_tree_free(page);
				goto out;
			}
		}
		prv = json_get_str(page, "metadata", "resourceVersion", NULL);
		if (prv) {
			free(rv);
			rv = strdup(prv);
		}
		next = json_get_str(page, "metadata", "continue", NULL);
		free(cont);
		cont = next && *next ? strdup(next) : NULL;
		yajl_tree_free(page);
	} while (cont);
	if (resource_version) {
		*resource_version = rv;
		rv = NULL;
	}
	rc = 0;
out:
	free(cont);
	free(rv);
	return rc;
}

static int patch(struct kube_client *c, const char *path, const char *sub, const char *ctype,
                 const char *query, const char *json, yajl_val *out, struct kube_error *err)
{
	struct buf p = BUF_INIT(16 * 1024);
	int rc;

	if (buf_adds(&p, path) || (sub && buf_printf(&p, "/%s", sub)) || buf_adds(&p, query)) {
		set_transport_err(err, "patch url too long");
		return -1;
	}
	rc = kube_request(c, "PATCH", p.ptr, ctype, json, strlen(json), out, err);
	buf_free(&p);
	return rc;
}

int kube_apply(struct kube_client *c, const char *path, const char *json, int force, yajl_val *out,
               struct kube_error *err)
{
	c->stats.apply++;
	return patch(c, path, NULL, "application/apply-patch+yaml",
	             force ? "?fieldManager=" KUBE_FIELD_MANAGER "&force=true"
	                   : "?fieldManager=" KUBE_FIELD_MANAGER,
	             json, out, err);
}

int kube_apply_status(struct kube_client *c, const char *path, const char *json, int force,
                      yajl_val *out, struct kube_error *err)
{
	c->stats.apply++;
	return patch(c, path, "status", "application/apply-patch+yaml",
	             force ? "?fieldManager=" KUBE_FIELD_MANAGER "&force=true"
	                   : "?fieldManager=" KUBE_FIELD_MANAGER,
	             json, out, err);
}

int kube_merge_patch(struct kube_client *c, const char *path, const char *json, yajl_val *out,
                     struct kube_error *err)
{
	c->stats.patch++;
	return patch(c, path, NULL, "application/merge-patch+json",
	             "?fieldManager=" KUBE_FIELD_MANAGER, json, out, err);
}

int kube_create(struct kube_client *c, const char *collection_path, const char *json, yajl_val *out,
                struct kube_error *err)
{
	struct buf p = BUF_INIT(16 * 1024);
	int rc;

	c->stats.create++;
	if (buf_printf(&p, "%s?fieldManager=%s", collection_path, KUBE_FIELD_MANAGER)) {
		set_transport_err(err, "url too long");
		return -1;
	}
	rc = kube_request(c, "POST", p.ptr, "application/json", json, strlen(json), out, err);
	buf_free(&p);
	return rc;
}

int kube_update(struct kube_client *c, const char *path, const char *json, yajl_val *out,
                struct kube_error *err)
{
	struct buf p = BUF_INIT(16 * 1024);
	int rc;

	c->stats.update++;
	if (buf_printf(&p, "%s?fieldManager=%s", path, KUBE_FIELD_MANAGER)) {
		set_transport_err(err, "url too long");
		return -1;
	}
	rc = kube_request(c, "PUT", p.ptr, "application/json", json, strlen(json), out, err);
	buf_free(&p);
	return rc;
}

int kube_delete(struct kube_client *c, const char *path, const char *precondition_uid,
                const char *precondition_rv, const char *propagation, struct kube_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *body;
	size_t len;
	int rc = -1;

	c->stats.del++;
	if (!g) {
		set_transport_err(err, "out of memory");
		return -1;
	}
	yajl_gen_map_open(g);
	json_gen_kv(g, "kind", "DeleteOptions");
	json_gen_kv(g, "apiVersion", "v1");
	json_gen_kv(g, "propagationPolicy", propagation);
	if (precondition_uid || precondition_rv) {
		json_gen_str(g, "preconditions");
		yajl_gen_map_open(g);
		json_gen_kv(g, "uid", precondition_uid);
		json_gen_kv(g, "resourceVersion", precondition_rv);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &body, &len) != yajl_gen_status_ok) {
		set_transport_err(err, "cannot encode delete options");
		goto out;
	}
	rc =
	    kube_request(c, "DELETE", path, "application/json", (const char *)body, len, NULL, err);
out:
	yajl_gen_free(g);
	return rc;
}

/* ---- watch ---------------------------------------------------------------- */

struct watch_ctx {
	struct kube_watch_decoder *dec;
	struct buf errbody; /* non-2xx response body */
	long http;
	int dec_failed;
	volatile sig_atomic_t *stop;
};

static size_t watch_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct watch_ctx *w = ud;
	size_t n = size * nmemb;

	if (w->http != 200) {
		if (buf_add(&w->errbody, p, n))
			return 0;
		return n;
	}
	if (kube_watch_decoder_feed(w->dec, p, n)) {
		w->dec_failed = 1;
		return 0;
	}
	return n;
}

static size_t watch_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct watch_ctx *w = ud;
	size_t n = size * nmemb;
	long code;

	/* "HTTP/1.1 200 OK" or "HTTP/2 200" status line */
	if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);
		if (sp && sscanf(sp + 1, "%ld", &code) == 1)
			w->http = code;
	}
	return n;
}

static int watch_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct watch_ctx *w = ud;
	return w->stop && *w->stop ? 1 : 0;
}

int kube_watch(struct kube_client *c, const char *path, const char *resource_version,
               const char *label_selector, int timeout_s, size_t max_event_bytes,
               kube_event_cb ev_cb, void *ctx, char *last_rv, size_t last_rv_len,
               volatile sig_atomic_t *stop, struct kube_error *err)
{
	struct curl_slist *hdrs = NULL;
	struct watch_ctx w;
	struct buf q = BUF_INIT(64 * 1024);
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int rc = -1, r;

	memset(err, 0, sizeof(*err));
	memset(&w, 0, sizeof(w));
	buf_init(&w.errbody, 1024 * 1024);
	w.stop = stop;
	c->stats.watch++;
	if (timeout_s <= 0)
		timeout_s = 300;
	r = buf_printf(&q, "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d", path,
	               timeout_s);
	if (!r && resource_version && *resource_version)
		r = buf_adds(&q, "&resourceVersion=") || buf_add_urlenc(&q, resource_version);
	if (!r && label_selector && *label_selector)
		r = buf_adds(&q, "&labelSelector=") || buf_add_urlenc(&q, label_selector);
	if (r) {
		set_transport_err(err, "watch url too long");
		goto out;
	}
	w.dec = kube_watch_decoder_new(max_event_bytes, ev_cb, ctx);
	if (!w.dec) {
		set_transport_err(err, "out of memory");
		goto out;
	}
	if (setup(c, "GET", q.ptr, &hdrs, err))
		goto out;
	w.http = -1; /* set by the header callback */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, watch_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)timeout_s + 30);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, ebuf);
	cc = curl_easy_perform(c->curl);
	if (kube_watch_decoder_last_rv(w.dec)[0] && last_rv && last_rv_len)
		snprintf(last_rv, last_rv_len, "%s", kube_watch_decoder_last_rv(w.dec));
	if (w.http > 0 && w.http != 200) {
		kube_error_from_body(w.http, w.errbody.ptr, w.errbody.len, err);
		goto out;
	}
	if (w.dec_failed || cc == CURLE_WRITE_ERROR) {
		const struct kube_error *de = kube_watch_decoder_error(w.dec);
		if (de) {
			*err = *de;
			goto out;
		}
		rc = 0; /* the callback asked to stop */
		goto out;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = 0; /* stop requested */
		goto out;
	}
	if (cc != CURLE_OK) {
		char m[CURL_ERROR_SIZE + 64];
		snprintf(m, sizeof(m), "watch %s: %s", path,
		         ebuf[0] ? ebuf : curl_easy_strerror(cc));
		set_transport_err(err, m);
		goto out;
	}
	if (kube_watch_decoder_finish(w.dec)) {
		*err = *kube_watch_decoder_error(w.dec);
		goto out;
	}
	rc = 0;
out:
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	free_headers(hdrs);
	kube_watch_decoder_free(w.dec);
	buf_free(&w.errbody);
	buf_free(&q);
	return rc;
}

void kube_client_set_timeout(struct kube_client *c, long timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

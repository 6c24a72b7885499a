/*
 * server: HTTPS (evhttp + OpenSSL bufferevents), routing, certificate
 * reload and metrics for the admission webhook (see server.h).
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "admission.h"
#include "log.h"
#include "util.h"

/* TLS 1.2: forward secrecy and AEAD only; TLS 1.3 suites are all AEAD. */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct file_sig {
	long long mtime_ns;
	long long size;
	unsigned long long ino, dev;
};

struct wh_server {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *tick;
	SSL_CTX *ctx;
	char *cert_file, *key_file;
	struct file_sig sig[2];        /* of the pair in use */
	struct file_sig failed_sig[2]; /* of the last pair that did not load */
	int have_failed;
	struct wh_server_config cfg;
	size_t max_body;
	int port;
	int ready;
	struct wh_metrics metrics;
};

/* ---- TLS ------------------------------------------------------------------- */

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, file, reason);
}

static double not_after(SSL_CTX *ctx)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	struct tm tm;

	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		return 0;
	return (double)timegm(&tm);
}

static SSL_CTX *load_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (!c) {
		ssl_err(err, errlen, "cannot create a TLS context for", cert);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                           SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1) {
		ssl_err(err, errlen, "cannot set the TLS 1.2 ciphers for", cert);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		ssl_err(err, errlen, "cannot load the certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "cannot load the private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		ssl_err(err, errlen, "the private key does not match the certificate", cert);
		goto fail;
	}
	return c;
fail:
	SSL_CTX_free(c);
	return NULL;
}

static int stat_sig(const char *path, struct file_sig *s)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	s->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	s->size = (long long)st.st_size;
	s->ino = (unsigned long long)st.st_ino;
	s->dev = (unsigned long long)st.st_dev;
	return 0;
}

int wh_server_check_reload(struct wh_server *s, int force)
{
	struct file_sig now[2];
	char err[512];
	SSL_CTX *c;

	if (stat_sig(s->cert_file, &now[0]) || stat_sig(s->key_file, &now[1])) {
		if (force)
			log_warn(NULL, "serving certificate: cannot stat %s or %s", s->cert_file,
			         s->key_file);
		return force ? -1 : 0;
	}
	if (!force && memcmp(now, s->sig, sizeof(now)) == 0)
		return 0;
	if (!force && s->have_failed && memcmp(now, s->failed_sig, sizeof(now)) == 0)
		return 0; /* already tried this pair: wait for the next change */
	c = load_ctx(s->cert_file, s->key_file, err, sizeof(err));
	if (!c) {
		memcpy(s->failed_sig, now, sizeof(now));
		s->have_failed = 1;
		s->metrics.reloads_failed++;
		log_warnx(NULL,
		          "serving certificate changed but did not load, keeping the old one: %s",
		          err);
		return -1;
	}
	SSL_CTX_free(s->ctx); /* connections in flight hold their own reference */
	s->ctx = c;
	memcpy(s->sig, now, sizeof(now));
	s->have_failed = 0;
	s->metrics.reloads_ok++;
	s->metrics.cert_not_after = not_after(c);
	log_info(NULL, "serving certificate reloaded from %s (expires %.0f)", s->cert_file,
	         s->metrics.cert_not_after);
	return 1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	wh_server_check_reload(arg, 0);
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	struct wh_server *s = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(s->ctx);

	/* NULL makes evhttp fall back to a plain socket; handlers refuse those */
	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static int over_tls(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

	return bev && bufferevent_openssl_get_ssl(bev) != NULL;
}

/* ---- HTTP ------------------------------------------------------------------ */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                  const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *ob = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (!ob) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evbuffer_add(ob, body, len);
	evhttp_send_reply(req, code, reason, ob);
	evbuffer_free(ob);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	reply(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static int refuse_plaintext(struct evhttp_request *req)
{
	if (over_tls(req))
		return 0;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evhttp_send_error(req, 400, "TLS required");
	return 1;
}

static void log_admission(const char *endpoint, const struct wh_outcome *o, double secs)
{
	char obj[400], ms[32], rules[128] = "", warns[128] = "";
	struct buf msg = BUF_INIT(8192);
	const char *kv[20];
	int n = 0;
	size_t rl = 0, wl = 0;

	for (size_t i = 0; i < o->res.n_denials && rl + 8 < sizeof(rules); i++)
		rl += (size_t)snprintf(rules + rl, sizeof(rules) - rl, "%s%s", i ? "," : "",
		                       o->res.denials[i].id);
	for (size_t i = 0; i < o->res.n_warnings && wl + 8 < sizeof(warns); i++)
		wl += (size_t)snprintf(warns + wl, sizeof(warns) - wl, "%s%s", i ? "," : "",
		                       o->res.warnings[i].id);
	snprintf(obj, sizeof(obj), "%s %s", o->kind[0] ? o->kind : "?", o->object);
	snprintf(ms, sizeof(ms), "%.1f", secs * 1000);
	kv[n++] = "endpoint";
	kv[n++] = endpoint;
	kv[n++] = "result";
	kv[n++] = o->result;
	kv[n++] = "operation";
	kv[n++] = o->op;
	kv[n++] = "uid";
	kv[n++] = o->uid;
	kv[n++] = "ms";
	kv[n++] = ms;
	if (rules[0]) {
		kv[n++] = "denied_by";
		kv[n++] = rules;
	}
	if (warns[0]) {
		kv[n++] = "warnings";
		kv[n++] = warns;
	}
	if (o->res.n_denials && wh_result_message(&o->res, &msg) == 0) {
		kv[n++] = "message";
		kv[n++] = buf_str(&msg);
	}
	kv[n] = NULL;
	log_kv(o->allowed ? LOG_DEBUG : LOG_INFO, obj, "admission", kv);
	buf_free(&msg);
}

static void on_admission(struct evhttp_request *req, struct wh_server *s, enum wh_endpoint ep)
{
	enum wh_metric_ep mep = ep == WH_EP_VALIDATE ? WH_M_VALIDATE : WH_M_MUTATE;
	struct buf resp = BUF_INIT(4 * WH_MAX_BODY);
	struct wh_outcome o;
	struct evbuffer *in;
	const char *body;
	size_t len;
	double t0;

	if (refuse_plaintext(req))
		return;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		reply_text(req, 405, "Method Not Allowed", "POST an AdmissionReview here\n");
		wh_metrics_observe(&s->metrics, mep, WH_R_INVALID, NULL, -1);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > s->max_body) {
		reply_text(req, 413, "Payload Too Large", "request body too large\n");
		wh_metrics_observe(&s->metrics, mep, WH_R_INVALID, NULL, -1);
		return;
	}
	body = len ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
	if (!body) {
		reply_text(req, 500, "Internal Server Error", "out of memory\n");
		wh_metrics_observe(&s->metrics, mep, WH_R_ERROR, NULL, -1);
		return;
	}
	t0 = mono_s();
	if (s->cfg.begin)
		s->cfg.begin(s->cfg.begin_ctx);
	if (wh_admit(ep, body, len, s->cfg.lookup, &resp, &o) != 0) {
		double dt = mono_s() - t0;
		reply_text(req, 500, "Internal Server Error",
		           "vecward-webhook: out of memory while answering; retry\n");
		wh_metrics_observe(&s->metrics, mep, WH_R_ERROR, NULL, dt);
		log_errorx(NULL, "admission: out of memory building the response");
	} else {
		double dt = mono_s() - t0;
		if (o.http == 200)
			reply(req, 200, "OK", "application/json", resp.ptr, resp.len);
		else
			reply(req, o.http, "Bad Request", "text/plain; charset=utf-8", resp.ptr,
			      resp.len);
		wh_metrics_observe(&s->metrics, mep,
		                   o.http != 200 ? WH_R_INVALID
		                   : o.allowed   ? WH_R_ALLOWED
		                                 : WH_R_DENIED,
		                   &o.res, dt);
		if (o.http == 200)
			log_admission(ep == WH_EP_VALIDATE ? "validate" : "mutate", &o, dt);
		else
			log_info(NULL, "admission %s: 400 %s",
			         ep == WH_EP_VALIDATE ? "validate" : "mutate", buf_str(&resp));
	}
	wh_outcome_free(&o);
	buf_free(&resp);
}

static void on_validate(struct evhttp_request *req, void *arg)
{
	on_admission(req, arg, WH_EP_VALIDATE);
}

static void on_mutate(struct evhttp_request *req, void *arg)
{
	on_admission(req, arg, WH_EP_MUTATE);
}

static int get_only(struct evhttp_request *req, struct wh_server *s, enum wh_metric_ep ep)
{
	enum evhttp_cmd_type c = evhttp_request_get_command(req);

	if (refuse_plaintext(req))
		return 0;
	if (c == EVHTTP_REQ_GET || c == EVHTTP_REQ_HEAD)
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
	reply_text(req, 405, "Method Not Allowed", "GET only\n");
	wh_metrics_observe(&s->metrics, ep, WH_R_INVALID, NULL, 0);
	return 0;
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct wh_server *s = arg;

	if (!get_only(req, s, WH_M_HEALTHZ))
		return;
	reply_text(req, 200, "OK", "ok\n");
	wh_metrics_observe(&s->metrics, WH_M_HEALTHZ, WH_R_OK, NULL, 0);
}

static void on_readyz(struct evhttp_request *req, void *arg)
{
	struct wh_server *s = arg;

	if (!get_only(req, s, WH_M_READYZ))
		return;
	if (s->ready && s->ctx) {
		reply_text(req, 200, "OK", "ok\n");
		wh_metrics_observe(&s->metrics, WH_M_READYZ, WH_R_OK, NULL, 0);
	} else {
		reply_text(req, 503, "Service Unavailable", "shutting down\n");
		wh_metrics_observe(&s->metrics, WH_M_READYZ, WH_R_ERROR, NULL, 0);
	}
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct wh_server *s = arg;
	struct buf out = BUF_INIT(1024 * 1024);

	if (!get_only(req, s, WH_M_METRICS))
		return;
	/* count this scrape first, so it shows up in its own answer */
	wh_metrics_observe(&s->metrics, WH_M_METRICS, WH_R_OK, NULL, 0);
	if (wh_metrics_render(&s->metrics, &out) != 0)
		reply_text(req, 500, "Internal Server Error", "out of memory\n");
	else
		reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", out.ptr, out.len);
	buf_free(&out);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	struct wh_server *s = arg;

	if (refuse_plaintext(req))
		return;
	reply_text(req, 404, "Not Found",
	           "not found: POST /validate or /mutate; GET /healthz, /readyz or /metrics\n");
	wh_metrics_observe(&s->metrics, WH_M_OTHER, WH_R_INVALID, NULL, 0);
}

/* ---- lifecycle --------------------------------------------------------------- */

static int split_listen(const char *l, char *host, size_t hostlen, long *port)
{
	const char *colon;
	size_t hl;

	if (!l || !*l)
		return -1;
	if (l[0] == '[') {
		const char *rb = strchr(l, ']');
		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - l - 1);
		l++;
		colon = rb + 1;
	} else {
		colon = strrchr(l, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - l);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, l, hl);
	host[hl] = '\0';
	return parse_long(colon + 1, 0, 65535, port);
}

struct wh_server *wh_server_new(struct event_base *base, const struct wh_server_config *cfg,
                                char *err, size_t errlen)
{
	struct wh_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	long port;
	struct timeval tv;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = *cfg;
	s->max_body = cfg->max_body ? cfg->max_body : WH_MAX_BODY;
	wh_metrics_init(&s->metrics);
	if (split_listen(cfg->listen, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "--listen %s: expected HOST:PORT such as 127.0.0.1:9443",
		         cfg->listen ? cfg->listen : "(none)");
		goto fail;
	}
	s->cert_file = strdup(cfg->cert_file ? cfg->cert_file : "");
	s->key_file = strdup(cfg->key_file ? cfg->key_file : "");
	if (!s->cert_file || !s->key_file) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (stat_sig(s->cert_file, &s->sig[0]) || stat_sig(s->key_file, &s->sig[1])) {
		snprintf(err, errlen, "cannot read %s or %s: %s", s->cert_file, s->key_file,
		         strerror(errno));
		goto fail;
	}
	s->ctx = load_ctx(s->cert_file, s->key_file, err, errlen);
	if (!s->ctx)
		goto fail;
	s->metrics.cert_not_after = not_after(s->ctx);
	s->http = evhttp_new(base);
	if (!s->http) {
		snprintf(err, errlen, "cannot create the HTTP server");
		goto fail;
	}
	evhttp_set_bevcb(s->http, bevcb, s);
	evhttp_set_max_body_size(s->http, (ev_ssize_t)s->max_body);
	evhttp_set_max_headers_size(s->http, 64 * 1024);
	evhttp_set_timeout(s->http, 30);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	if (evhttp_set_cb(s->http, "/validate", on_validate, s) ||
	    evhttp_set_cb(s->http, "/mutate", on_mutate, s) ||
	    evhttp_set_cb(s->http, "/healthz", on_healthz, s) ||
	    evhttp_set_cb(s->http, "/readyz", on_readyz, s) ||
	    evhttp_set_cb(s->http, "/metrics", on_metrics, s)) {
		snprintf(err, errlen, "cannot register the HTTP routes");
		goto fail;
	}
	evhttp_set_gencb(s->http, on_other, s);
	s->bound = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
	if (!s->bound) {
		snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, strerror(errno));
		goto fail;
	}
	/* Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it
	 * the response's second TLS record (evhttp writes headers and body apart)
	 * waits for the client's delayed ACK: about 40 ms on every admission call. */
	if (setsockopt(evhttp_bound_socket_get_fd(s->bound), IPPROTO_TCP, TCP_NODELAY, &(int){1},
	               sizeof(int)) != 0)
		log_warn(NULL, "cannot set TCP_NODELAY on %s; answers may wait for delayed ACKs",
		         cfg->listen);
	if (getsockname(evhttp_bound_socket_get_fd(s->bound), (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                         : ((struct sockaddr_in *)&ss)->sin_port);
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	tv.tv_sec = (cfg->reload_interval_ms > 0 ? cfg->reload_interval_ms : 2000) / 1000;
	tv.tv_usec = (cfg->reload_interval_ms > 0 ? cfg->reload_interval_ms : 2000) % 1000 * 1000;
	if (!s->tick || event_add(s->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot start the certificate reload timer");
		goto fail;
	}
	s->ready = 1;
	return s;
fail:
	wh_server_free(s);
	return NULL;
}

int wh_server_port(const struct wh_server *s)
{
	return s->port;
}

void wh_server_set_unready(struct wh_server *s)
{
	s->ready = 0;
}

const struct wh_metrics *wh_server_metrics(const struct wh_server *s)
{
	return &s->metrics;
}

void wh_server_free(struct wh_server *s)
{
	if (!s)
		return;
	if (s->tick)
		event_free(s->tick);
	if (s->http)
		evhttp_free(s->http);
	SSL_CTX_free(s->ctx);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

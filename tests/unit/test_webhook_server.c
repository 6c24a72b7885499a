/*
 * Tests for webhook/server: a real HTTPS server on 127.0.0.1 (its event loop
 * in a thread) with test-only certificates made here, driven by libcurl and
 * raw OpenSSL clients: routes and status codes, the TLS floor and cipher
 * policy, no plaintext, body cap, and certificate reload without restart.
 */
#include <ftw.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "admission.h"
#include "buf.h"
#include "log.h"
#include "memlookup.h"
#include "server.h"
#include "unit.h"

static char g_dir[512];
static int g_serial = 1;

/* ---- test-only PKI ---------------------------------------------------------- */

static void ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

static X509 *mkcert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), g_serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	if (!issuer) {
		ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
		ext(x, issuer, NID_ext_key_usage, "serverAuth");
	}
	assert_true(X509_sign(x, issuer ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	char tmp[600];
	FILE *f;

	/* written aside and renamed in, as a Secret volume update does */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	if (x)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (k)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static const char *path(const char *name)
{
	static char p[4][600];
	static int i;
	char *b = p[i++ % 4];

	snprintf(b, sizeof(p[0]), "%s/%s", g_dir, name);
	return b;
}

/* A new CA (into caname) and a serving cert/key for 127.0.0.1 signed by it. */
static void make_pki(const char *caname)
{
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
	X509 *ca, *leaf;

	assert_non_null(cak);
	assert_non_null(k);
	ca = mkcert(cak, caname, NULL, NULL);
	leaf = mkcert(k, "vecward-webhook", ca, cak);
	write_pem(path(caname), ca, NULL);
	write_pem(path("tls.crt"), leaf, NULL);
	write_pem(path("tls.key"), NULL, k);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
}

/* ---- the server in a thread ----------------------------------------------------- */

struct srv {
	struct event_base *base;
	struct wh_server *s;
	struct wh_memlookup *m;
	struct wh_lookup lk;
	struct event *stop_ev;
	int stop_pipe[2];
	pthread_t th;
	int port;
	int begins;
};

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void *loop(void *arg)
{
	struct srv *v = arg;

	event_base_dispatch(v->base);
	return NULL;
}

static void begin(void *arg)
{
	((struct srv *)arg)->begins++;
}

static int setup(void **state)
{
	struct srv *v = calloc(1, sizeof(*v));
	struct wh_server_config c;
	char err[512];
	assert_non_null(v);
	/* test keys live in the work tree (tests run from the repository root),
	 * never in /tmp; removed again at teardown */
	mkdir(".work", 0700);
	mkdir(".work/unit", 0700);
	snprintf(g_dir, sizeof(g_dir), ".work/unit/vw-wh-XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	make_pki("ca1.crt");
	v->m = wh_memlookup_new();
	wh_memlookup_bind(v->m, &v->lk);
	assert_int_equal(
	    wh_memlookup_add_json(v->m, WH_KIND_NAMESPACE, "{\"metadata\":{\"name\":\"ns1\"}}"), 0);
	v->base = event_base_new();
	assert_non_null(v->base);
	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.cert_file = path("tls.crt");
	c.key_file = path("tls.key");
	c.reload_interval_ms = 50;
	c.lookup = &v->lk;
	c.begin = begin;
	c.begin_ctx = v;
	v->s = wh_server_new(v->base, &c, err, sizeof(err));
	if (!v->s)
		fail_msg("server: %s", err);
	v->port = wh_server_port(v->s);
	assert_true(v->port > 0);
	assert_int_equal(pipe(v->stop_pipe), 0);
	v->stop_ev = event_new(v->base, v->stop_pipe[0], EV_READ, on_stop, v->base);
	event_add(v->stop_ev, NULL);
	assert_int_equal(pthread_create(&v->th, NULL, loop, v), 0);
	*state = v;
	return 0;
}

/* nftw callback: remove one entry of the scratch directory (children first). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct srv *v = *state;
	assert_int_equal(write(v->stop_pipe[1], "x", 1), 1);
	pthread_join(v->th, NULL);
	event_free(v->stop_ev);
	close(v->stop_pipe[0]);
	close(v->stop_pipe[1]);
	wh_server_free(v->s);
	event_base_free(v->base);
	wh_memlookup_free(v->m);
	free(v);
	if (nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		print_message("could not remove %s\n", g_dir);
	return 0;
}

/* ---- clients ------------------------------------------------------------------------ */

struct resp {
	CURLcode cc;
	long code;
	struct buf body;
	char ctype[128];
};

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	return buf_add(&r->body, p, sz * n) ? 0 : sz * n;
}

static void req(struct srv *v, const char *scheme, const char *method, const char *p,
                const char *body, size_t blen, const char *ca, struct resp *r)
{
	CURL *h = curl_easy_init();
	char url[256];
	struct curl_slist *hdrs = NULL;
	char *ct = NULL;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 1 << 20);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", scheme, v->port, p);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, path(ca));
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
	r->cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

static void get(struct srv *v, const char *p, const char *ca, struct resp *r)
{
	req(v, "https", "GET", p, NULL, 0, ca, r);
}

/* Raw TLS handshake with a protocol range and TLS 1.2 cipher list:
 * 0 when it completes. */
static int handshake(struct srv *v, int minv, int maxv, const char *ciphers)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	struct sockaddr_in a = {0};
	SSL *s;
	int fd, rc;

	assert_non_null(c);
	SSL_CTX_set_security_level(c, 0); /* let the client offer what it is told */
	SSL_CTX_set_min_proto_version(c, minv);
	SSL_CTX_set_max_proto_version(c, maxv);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	if (ciphers)
		assert_int_equal(SSL_CTX_set_cipher_list(c, ciphers), 1);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)v->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	s = SSL_new(c);
	SSL_set_fd(s, fd);
	rc = SSL_connect(s) == 1 ? 0 : -1;
	SSL_free(s);
	close(fd);
	SSL_CTX_free(c);
	return rc;
}

/* ---- tests ---------------------------------------------------------------------------- */

#define REVIEW                                                                                     \
	"{\"apiVersion\":\"admission.k8s.io/"                                                      \
	"v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"                                  \
	"\"u-1\",\"kind\":{\"group\":\"vecward.io\",\"version\":\"v1alpha1\",\"kind\":"            \
	"\"Cluster\"},"                                                                            \
	"\"namespace\":\"ns1\",\"operation\":\"CREATE\",\"object\":{\"metadata\":{\"name\":\"c\"}" \
	","                                                                                        \
	"\"spec\":{\"tls\":{\"mode\":\"disabled\"}}}}}"

static void test_routes(void **state)
{
	struct srv *v = *state;
	struct resp r;

	get(v, "/healthz", "ca1.crt", &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(buf_str(&r.body), "ok\n");
	buf_free(&r.body);
	get(v, "/readyz", "ca1.crt", &r);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);

	/* the API server appends ?timeout=...; it is ignored */
	req(v, "https", "POST", "/validate?timeout=5s", REVIEW, strlen(REVIEW), "ca1.crt", &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(buf_str(&r.body), "\"uid\":\"u-1\",\"allowed\":false,\"status\":"
	                                         "{\"code\":403,"));
	assert_non_null(strstr(buf_str(&r.body), "VW001: spec.tls.mode disabled is refused"));
	buf_free(&r.body);
	assert_int_equal(v->begins, 1);

	req(v, "https", "POST", "/mutate", REVIEW, strlen(REVIEW), "ca1.crt", &r);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(buf_str(&r.body), "\"allowed\":true,\"patchType\":\"JSONPatch\""));
	buf_free(&r.body);

	req(v, "https", "POST", "/validate", "{\"kind\":", 8, "ca1.crt", &r);
	assert_int_equal(r.code, 400);
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	assert_true(strncmp(buf_str(&r.body),
	                    "vecward-webhook: bad AdmissionReview: the body is not valid JSON",
	                    64) == 0);
	buf_free(&r.body);

	get(v, "/validate", "ca1.crt", &r);
	assert_int_equal(r.code, 405);
	buf_free(&r.body);
	req(v, "https", "POST", "/healthz", "{}", 2, "ca1.crt", &r);
	assert_int_equal(r.code, 405);
	buf_free(&r.body);
	get(v, "/nope", "ca1.crt", &r);
	assert_int_equal(r.code, 404);
	buf_free(&r.body);

	get(v, "/metrics", "ca1.crt", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	const char *want[] = {
	    "vecward_webhook_requests_total{endpoint=\"validate\",result=\"denied\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"validate\",result=\"invalid\"} 2\n",
	    "vecward_webhook_requests_total{endpoint=\"mutate\",result=\"allowed\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"healthz\",result=\"ok\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"healthz\",result=\"invalid\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"other\",result=\"invalid\"} 1\n",
	    "vecward_webhook_requests_total{endpoint=\"metrics\",result=\"ok\"} 1\n",
	    "vecward_webhook_denials_total{rule=\"VW001\"} 1\n",
	    "vecward_webhook_request_duration_seconds_count{endpoint=\"validate\"} 2\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(buf_str(&r.body), want[i]))
			fail_msg("metrics lack %s in:\n%s", want[i], buf_str(&r.body));
	buf_free(&r.body);
}

static void test_tls_policy(void **state)
{
	struct srv *v = *state;
	struct resp r;

	assert_int_equal(handshake(v, TLS1_3_VERSION, TLS1_3_VERSION, NULL), 0);
	assert_int_equal(
	    handshake(v, TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"), 0);
	assert_int_equal(
	    handshake(v, TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305"), 0);
	/* old protocols and weak suites are refused */
	assert_int_equal(handshake(v, TLS1_VERSION, TLS1_1_VERSION, "ALL:@SECLEVEL=0"), -1);
	assert_int_equal(handshake(v, TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"),
	                 -1);
	assert_int_equal(handshake(v, TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256"),
	                 -1);
	/* plaintext HTTP gets no answer */
	req(v, "http", "GET", "/healthz", NULL, 0, "ca1.crt", &r);
	assert_false(r.cc == CURLE_OK && r.code == 200);
	assert_null(strstr(buf_str(&r.body), "ok"));
	buf_free(&r.body);
	/* the server is still fine */
	get(v, "/healthz", "ca1.crt", &r);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
}

static void test_body_cap(void **state)
{
	struct srv *v = *state;
	size_t n = WH_MAX_BODY + 1024;
	char *big = malloc(n);
	struct resp r;

	memset(big, ' ', n);
	req(v, "https", "POST", "/validate", big, n, "ca1.crt", &r);
	assert_int_equal(r.code, 413);
	buf_free(&r.body);
	free(big);
	get(v, "/healthz", "ca1.crt", &r);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
}

static int served_by(struct srv *v, const char *ca)
{
	struct resp r;
	int ok;

	get(v, "/healthz", ca, &r);
	ok = r.cc == CURLE_OK && r.code == 200;
	buf_free(&r.body);
	return ok;
}

static void test_cert_reload(void **state)
{
	struct srv *v = *state;
	struct resp r;
	int i;

	assert_true(served_by(v, "ca1.crt"));
	/* a new CA and serving certificate; the process keeps running */
	make_pki("ca2.crt");
	for (i = 0; i < 100 && !served_by(v, "ca2.crt"); i++)
		usleep(50 * 1000);
	assert_true(i < 100);
	assert_false(served_by(v, "ca1.crt"));
	/* a broken pair (key of another certificate) is refused; the last good one stays */
	EVP_PKEY *k = EVP_EC_gen("P-256");
	write_pem(path("tls.key"), NULL, k);
	EVP_PKEY_free(k);
	for (i = 0; i < 100; i++) {
		get(v, "/metrics", "ca2.crt", &r);
		int seen =
		    strstr(buf_str(&r.body),
		           "vecward_webhook_certificate_reloads_total{result=\"failed\"} 1\n") !=
		    NULL;
		if (seen)
			assert_non_null(
			    strstr(buf_str(&r.body),
			           "vecward_webhook_certificate_reloads_total{result=\"ok\"} 1\n"));
		buf_free(&r.body);
		if (seen)
			break;
		usleep(50 * 1000);
	}
	assert_true(i < 100);
	assert_true(served_by(v, "ca2.crt"));
}

static void test_bad_config(void **state)
{
	struct event_base *base = event_base_new();
	struct wh_server_config c;
	char err[512];

	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1";
	c.cert_file = "/nonexistent/tls.crt";
	c.key_file = "/nonexistent/tls.key";
	assert_null(wh_server_new(base, &c, err, sizeof(err)));
	assert_string_equal(err, "--listen 127.0.0.1: expected HOST:PORT such as 127.0.0.1:9443");
	c.listen = "127.0.0.1:0";
	assert_null(wh_server_new(base, &c, err, sizeof(err)));
	assert_string_equal(err,
	                    "cannot read /nonexistent/tls.crt or /nonexistent/tls.key: No such "
	                    "file or directory");
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_reload, setup, teardown),
	    cmocka_unit_test(test_bad_config),
	};
	int rc;

	/* as in webhook/main.c: a peer that hangs up mid-write must not kill us */
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_HUMAN, LOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

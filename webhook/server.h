/*
 * server: the webhook's HTTPS endpoint, libevent evhttp over OpenSSL
 * bufferevents, on one event loop (single-threaded).
 *
 *   POST /validate, POST /mutate   AdmissionReview v1 (wh_admit)
 *   GET  /healthz                  the process is serving
 *   GET  /readyz                   a serving certificate is loaded and the
 *                                  server is not shutting down
 *   GET  /metrics                  Prometheus text (metrics.h)
 *
 * TLS: 1.2 and 1.3 only; TLS 1.2 limited to ECDHE with AES-GCM or
 * ChaCha20-Poly1305; no renegotiation, no compression. Nothing is ever
 * answered over plaintext: a connection that is not TLS is dropped.
 * Bodies over max_body get 413; the JSON depth is capped in wh_admit.
 *
 * Certificate reload: every reload_interval_ms the certificate and key files
 * are stat()ed; when either changed (mtime, size, inode) both are loaded into
 * a new SSL_CTX which, if the pair is valid, serves every new connection
 * from then on (connections already open keep the old one until they close).
 * A pair that does not load (half-written, key mismatch) is logged and the
 * old certificate stays in use: no restart, no outage.
 *
 * The process must ignore SIGPIPE (webhook/main.c does): a client that hangs
 * up while the server writes would otherwise kill it.
 */
#ifndef VW_SERVER_H
#define VW_SERVER_H

#include <stddef.h>

#include <event2/event.h>

#include "metrics.h"
#include "rules.h"

struct wh_server_config {
	const char *listen;             /* "127.0.0.1:9443", "[::1]:9443", port 0 = any */
	const char *cert_file;          /* PEM chain, leaf first */
	const char *key_file;           /* PEM private key */
	int reload_interval_ms;         /* <= 0: 2000 */
	size_t max_body;                /* 0: WH_MAX_BODY */
	const struct wh_lookup *lookup; /* borrowed; the rules' view of the cluster */
	/* called before each admission request (starts the lookup budget); may
	 * be NULL */
	void (*begin)(void *ctx);
	void *begin_ctx;
};

struct wh_server;

/* Load the certificate, bind and start serving on base. NULL and err on
 * failure (unreadable or mismatched certificate, address in use, ...). */
struct wh_server *wh_server_new(struct event_base *base, const struct wh_server_config *cfg,
                                char *err, size_t errlen);
/* The bound port (useful with port 0). */
int wh_server_port(const struct wh_server *s);
/* Check the files now; force reloads even if they look unchanged.
 * 1 reloaded, 0 nothing to do, -1 the new files did not load (old kept). */
int wh_server_check_reload(struct wh_server *s, int force);
/* /readyz answers 503 from now on (call when shutting down). */
void wh_server_set_unready(struct wh_server *s);
const struct wh_metrics *wh_server_metrics(const struct wh_server *s);
/* Stop listening, close every connection, free. */
void wh_server_free(struct wh_server *s);

#endif

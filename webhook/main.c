/*
 * vecward-webhook: the validating and mutating admission webhook for
 * Cluster, User and EncryptionKey (rules in rules.c, HTTPS in server.c).
 *
 *   vecward-webhook --listen 127.0.0.1:9443 --tls-cert FILE --tls-key FILE
 *                   [--kubeconfig PATH]
 *   vecward-webhook --listen :9443 --bootstrap-secret NS/NAME --service-name SVC.NS.svc
 *                   --cert-dir DIR [--bootstrap-ip IP]... [--webhook-config NAME]
 *                   [--bootstrap-interval SECS]
 *
 * The second form issues its own CA and serving certificate into Secret
 * NS/NAME, serves with it (written to DIR/tls.crt, DIR/tls.key) and keeps
 * caBundle of its registrations current, at start and every interval
 * (bootstrap.h).
 *
 * Cross-object rules read the API server (--kubeconfig, else $KUBECONFIG,
 * else the in-cluster service account); the webhook refuses to start without
 * a way to reach it, since it could then only deny. Unless
 * --lookup-cache=false, the Namespaces, Clusters and EncryptionKeys those
 * rules get are served from informer caches (one thread each; a miss or a
 * cache not synced yet still asks the API server: cachelookup.h). SIGTERM/SIGINT stop it
 * cleanly (connections closed, /readyz 503 first); SIGHUP reloads the
 * serving certificate at once (it is also reloaded when its files change).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bootstrap.h"
#include "cachelookup.h"
#include "informer.h"
#include "kube.h"
#include "kubeconfig.h"
#include "kubelookup.h"
#include "log.h"
#include "server.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vecward-webhook --listen HOST:PORT --tls-cert FILE --tls-key FILE [options]\n"
	    "  --listen HOST:PORT        address to serve HTTPS on, e.g. 127.0.0.1:9443\n"
	    "  --tls-cert FILE           serving certificate chain (PEM), reloaded on change\n"
	    "  --tls-key FILE            its private key (PEM), reloaded on change\n"
	    "  --kubeconfig PATH         kubeconfig (default $KUBECONFIG, then in-cluster)\n"
	    "self-issued certificate (instead of --tls-cert/--tls-key):\n"
	    "  --bootstrap-secret NS/NAME  Secret holding the webhook's CA and serving\n"
	    "                            certificate; created (or renewed) when needed\n"
	    "  --service-name SVC.NS.svc the webhook's Service: its DNS names go into the\n"
	    "                            certificate\n"
	    "  --cert-dir DIR            where tls.crt/tls.key are written (0600; not /tmp)\n"
	    "  --bootstrap-ip IP         also an IP SAN, e.g. 127.0.0.1 (repeatable, up to 4)\n"
	    "  --webhook-config NAME     Mutating/ValidatingWebhookConfiguration whose caBundle\n"
	    "                            is kept current (default vecward-webhook)\n"
	    "  --bootstrap-interval SECS how often to check the Secret and caBundle\n"
	    "                            (default 3600)\n"
	    "  --reload-interval SECS    how often to check the certificate files (default 2)\n"
	    "  --lookup-budget MS        time for all API lookups of one request (default 3000;\n"
	    "                            keep it under the webhook's timeoutSeconds)\n"
	    "  --lookup-cache true|false serve gets of Namespaces, Clusters and EncryptionKeys\n"
	    "                            from watch caches, asking the API server on a miss\n"
	    "                            (default true; needs list and watch on them)\n"
	    "  --namespace NS            cache only NS's Clusters and EncryptionKeys and no\n"
	    "                            Namespaces (RBAC limited to NS; default: all)\n"
	    "  --log-format json|human   (default json)\n"
	    "  --log-level LEVEL         debug|info|warn|error (default info)\n"
	    "  --version, --help\n");
}

struct app {
	struct event_base *base;
	struct wh_server *srv;
	struct kube_client *boot_kc; /* NULL without --bootstrap-secret */
	struct wh_boot_config boot;
	struct event *boot_timer;
	long boot_interval_s;
};

/* Re-check the Secret and caBundle; reload at once when the files changed.
 * A failed pass is retried within 30 seconds. */
static void on_boot_timer(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;
	struct timeval tv = {a->boot_interval_s, 0};
	char err[512];
	int changed = 0;

	if (wh_boot_sync(a->boot_kc, &a->boot, time(NULL), &changed, err, sizeof(err))) {
		log_warnx(NULL, "certificate bootstrap: %s", err);
		if (tv.tv_sec > 30)
			tv.tv_sec = 30;
	}
	if (changed)
		wh_server_check_reload(a->srv, 1);
	evtimer_add(a->boot_timer, &tv);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct app *a = arg;

	log_info(NULL, "signal %d: shutting down", (int)sig);
	wh_server_set_unready(a->srv);
	event_base_loopexit(a->base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct app *a = arg;

	log_info(NULL, "SIGHUP: reloading the serving certificate");
	wh_server_check_reload(a->srv, 1);
}

/* The informers behind --lookup-cache: Namespaces (not with --namespace: the
 * chart then grants get of that one Namespace only), Clusters and
 * EncryptionKeys (of ns, or all). They sync in the background; until then
 * every lookup asks the API server. 0 or -1 (logged). */
static int start_caches(struct kube_config *kcfg, const char *ns, const struct wh_lookup *live,
                        struct wh_cache_lookup *cl, struct informer *infs[3])
{
	static const struct {
		const struct kube_kind *kind;
		enum wh_kind wk;
	} cached[3] = {
	    {&KUBE_NAMESPACE, WH_KIND_NAMESPACE},
	    {&KUBE_VW_CLUSTER, WH_KIND_CLUSTER},
	    {&KUBE_VW_ENCRYPTIONKEY, WH_KIND_ENCRYPTIONKEY},
	};

	wh_cache_lookup_init(cl, live);
	for (size_t i = 0; i < 3; i++) {
		struct informer_opts io;

		if (ns && cached[i].wk == WH_KIND_NAMESPACE)
			continue;
		memset(&io, 0, sizeof(io));
		io.kind = cached[i].kind;
		io.namespace = cached[i].wk == WH_KIND_NAMESPACE ? NULL : ns;
		infs[i] = informer_new(kcfg, &io);
		if (!infs[i] || wh_cache_lookup_set_informer(cl, cached[i].wk, infs[i]) ||
		    informer_start(infs[i])) {
			log_errorx(NULL, "cannot start the lookup cache of %ss",
			           wh_kind_name(cached[i].wk));
			return -1;
		}
	}
	return 0;
}

static void stop_caches(struct informer *infs[3])
{
	for (size_t i = 0; i < 3; i++) {
		informer_stop(infs[i]);
		informer_free(infs[i]);
		infs[i] = NULL;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"kubeconfig", required_argument, NULL, 'K'},
	    {"reload-interval", required_argument, NULL, 'r'},
	    {"lookup-budget", required_argument, NULL, 'b'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"bootstrap-secret", required_argument, NULL, 'S'},
	    {"service-name", required_argument, NULL, 'N'},
	    {"cert-dir", required_argument, NULL, 'D'},
	    {"bootstrap-ip", required_argument, NULL, 'I'},
	    {"webhook-config", required_argument, NULL, 'W'},
	    {"bootstrap-interval", required_argument, NULL, 'i'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"lookup-cache", required_argument, NULL, 'C'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *cert = NULL, *key = NULL, *kubeconfig = NULL;
	enum log_format fmt = LOG_JSON;
	enum log_level lvl = LOG_INFO;
	long reload_s = 2, budget_ms = 3000;
	struct kube_config *kcfg = NULL;
	struct kube_client *kc = NULL;
	struct wh_kube_lookup kl;
	struct wh_cache_lookup cl;
	struct wh_lookup live, lk;
	struct informer *infs[3] = {NULL, NULL, NULL};
	const char *cache_ns = NULL;
	int cache_on = 1;
	struct wh_server_config scfg;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct app a;
	const char *boot_secret = NULL, *boot_ips[WH_BOOT_MAX_IPS];
	char boot_ns[256], cert_path[4096], key_path[4096];
	size_t nips = 0;
	char err[512];
	int c, rc = 1;

	memset(&a, 0, sizeof(a));
	a.boot.webhook_config = "vecward-webhook";
	a.boot_interval_s = 3600;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'K':
			kubeconfig = optarg;
			break;
		case 'r':
			if (parse_long(optarg, 1, 3600, &reload_s)) {
				fprintf(stderr,
				        "vecward-webhook: --reload-interval: 1 to 3600 seconds\n");
				return 2;
			}
			break;
		case 'b':
			if (parse_long(optarg, 100, 60000, &budget_ms)) {
				fprintf(stderr,
				        "vecward-webhook: --lookup-budget: 100 to 60000 ms\n");
				return 2;
			}
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				fmt = LOG_JSON;
			else if (strcmp(optarg, "human") == 0)
				fmt = LOG_HUMAN;
			else {
				fprintf(stderr, "vecward-webhook: --log-format: json or human\n");
				return 2;
			}
			break;
		case 'L':
			if (log_level_parse(optarg, &lvl)) {
				fprintf(stderr,
				        "vecward-webhook: --log-level: debug|info|warn|error\n");
				return 2;
			}
			break;
		case 'C':
			if (strcmp(optarg, "true") == 0)
				cache_on = 1;
			else if (strcmp(optarg, "false") == 0)
				cache_on = 0;
			else {
				fprintf(stderr, "vecward-webhook: --lookup-cache: true or false\n");
				return 2;
			}
			break;
		case 'n':
			if (!*optarg || strchr(optarg, '/')) {
				fprintf(stderr, "vecward-webhook: --namespace: a namespace name\n");
				return 2;
			}
			cache_ns = optarg;
			break;
		case 'S':
			boot_secret = optarg;
			break;
		case 'N':
			a.boot.service = optarg;
			break;
		case 'D':
			a.boot.cert_dir = optarg;
			break;
		case 'I':
			if (nips == WH_BOOT_MAX_IPS) {
				fprintf(stderr, "vecward-webhook: --bootstrap-ip: at most %d\n",
				        WH_BOOT_MAX_IPS);
				return 2;
			}
			boot_ips[nips++] = optarg;
			break;
		case 'W':
			a.boot.webhook_config = optarg;
			break;
		case 'i':
			if (parse_long(optarg, 1, 86400, &a.boot_interval_s)) {
				fprintf(
				    stderr,
				    "vecward-webhook: --bootstrap-interval: 1 to 86400 seconds\n");
				return 2;
			}
			break;
		case 'V':
			printf("vecward-webhook %s\n", VECWARD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (boot_secret) {
		const char *slash = strchr(boot_secret, '/');
		char dns[4][WH_BOOT_NAME_MAX];
		if (!slash || slash == boot_secret || !slash[1] || strchr(slash + 1, '/') ||
		    (size_t)(slash - boot_secret) >= sizeof(boot_ns)) {
			fprintf(stderr, "vecward-webhook: --bootstrap-secret: NAMESPACE/NAME\n");
			return 2;
		}
		if (cert || key || !a.boot.cert_dir || wh_boot_service_names(a.boot.service, dns)) {
			fprintf(
			    stderr,
			    "vecward-webhook: --bootstrap-secret needs --service-name "
			    "SVC.NS.svc and --cert-dir DIR, and replaces --tls-cert/--tls-key\n");
			return 2;
		}
		snprintf(boot_ns, sizeof(boot_ns), "%.*s", (int)(slash - boot_secret), boot_secret);
		a.boot.ns = boot_ns;
		a.boot.name = slash + 1;
		a.boot.ips = boot_ips;
		a.boot.nips = nips;
		if (snprintf(cert_path, sizeof(cert_path), "%s/tls.crt", a.boot.cert_dir) >=
		        (int)sizeof(cert_path) ||
		    snprintf(key_path, sizeof(key_path), "%s/tls.key", a.boot.cert_dir) >=
		        (int)sizeof(key_path)) {
			fprintf(stderr, "vecward-webhook: --cert-dir: path too long\n");
			return 2;
		}
		cert = cert_path;
		key = key_path;
	}
	if (optind < argc || !listen || !cert || !key) {
		if (optind < argc)
			fprintf(stderr, "vecward-webhook: unexpected argument %s\n", argv[optind]);
		else
			fprintf(stderr,
			        "vecward-webhook: --listen and either --tls-cert and --tls-key "
			        "or --bootstrap-secret are required\n");
		usage(stderr);
		return 2;
	}
	log_init(fmt, lvl);
	signal(SIGPIPE, SIG_IGN);

	if (kube_config_load_default(kubeconfig, &kcfg, err, sizeof(err)) != 0) {
		log_errorx(NULL,
		           "no API server to check references against (%s); refusing to start: the "
		           "webhook could only deny",
		           err);
		goto out;
	}
	kc = kube_client_new(kcfg);
	if (!kc) {
		log_errorx(NULL, "cannot create the Kubernetes client");
		goto out;
	}
	wh_kube_lookup_init(&kl, kc, budget_ms);
	wh_kube_lookup_bind(&kl, &live);
	lk = live;
	if (cache_on) {
		if (start_caches(kcfg, cache_ns, &live, &cl, infs))
			goto out;
		wh_cache_lookup_bind(&cl, &lk);
	}
	if (boot_secret) {
		/* a client of its own: the lookups set their own per-request timeouts */
		a.boot_kc = kube_client_new(kcfg);
		if (!a.boot_kc) {
			log_errorx(NULL, "cannot create the Kubernetes client");
			goto out;
		}
		kube_client_set_timeout(a.boot_kc, 10000);
		if (wh_boot_sync(a.boot_kc, &a.boot, time(NULL), NULL, err, sizeof(err))) {
			/* without a certificate there is nothing to serve; a caBundle
			 * that could not be written yet is retried by the timer */
			if (access(cert_path, R_OK) || access(key_path, R_OK)) {
				log_errorx(NULL, "certificate bootstrap: %s", err);
				goto out;
			}
			log_warnx(NULL, "certificate bootstrap: %s", err);
		}
	}

	a.base = event_base_new();
	if (!a.base) {
		log_errorx(NULL, "cannot create the event loop");
		goto out;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.listen = listen;
	scfg.cert_file = cert;
	scfg.key_file = key;
	scfg.reload_interval_ms = (int)(reload_s * 1000);
	scfg.lookup = &lk;
	scfg.begin = wh_kube_lookup_begin;
	scfg.begin_ctx = &kl;
	a.srv = wh_server_new(a.base, &scfg, err, sizeof(err));
	if (!a.srv) {
		log_errorx(NULL, "%s", err);
		goto out;
	}
	ev_term = evsignal_new(a.base, SIGTERM, on_stop, &a);
	ev_int = evsignal_new(a.base, SIGINT, on_stop, &a);
	ev_hup = evsignal_new(a.base, SIGHUP, on_hup, &a);
	if (!ev_term || !ev_int || !ev_hup || event_add(ev_term, NULL) || event_add(ev_int, NULL) ||
	    event_add(ev_hup, NULL)) {
		log_errorx(NULL, "cannot install signal handlers");
		goto out;
	}
	if (a.boot_kc) {
		struct timeval tv = {a.boot_interval_s, 0};
		a.boot_timer = evtimer_new(a.base, on_boot_timer, &a);
		if (!a.boot_timer || evtimer_add(a.boot_timer, &tv)) {
			log_errorx(NULL, "cannot start the certificate bootstrap timer");
			goto out;
		}
	}
	{
		char port[16];
		const char *kv[] = {"listen",     listen,    "port",          port, "apiserver",
		                    kcfg->server, "version", VECWARD_VERSION, NULL};
		snprintf(port, sizeof(port), "%d", wh_server_port(a.srv));
		log_kv(LOG_INFO, NULL, "serving", kv);
	}
	if (event_base_dispatch(a.base) < 0) {
		log_errorx(NULL, "event loop failed");
		goto out;
	}
	log_info(NULL, "stopped");
	rc = 0;
out:
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (ev_hup)
		event_free(ev_hup);
	if (a.boot_timer)
		event_free(a.boot_timer);
	wh_server_free(a.srv);
	stop_caches(infs);
	if (a.base)
		event_base_free(a.base);
	kube_client_free(a.boot_kc);
	kube_client_free(kc);
	kube_config_free(kcfg);
	return rc;
}

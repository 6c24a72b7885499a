/*
 * vecward-webhook: the validating and mutating admission webhook for
 * Cluster, User and EncryptionKey (rules in rules.c, HTTPS in server.c).
 *
 *   vecward-webhook --listen 127.0.0.1:9443 --tls-cert FILE --tls-key FILE
 *                   [--kubeconfig PATH]
 *
 * Cross-object rules read the API server (--kubeconfig, else $KUBECONFIG,
 * else the in-cluster service account); the webhook refuses to start without
 * a way to reach it, since it could then only deny. SIGTERM/SIGINT stop it
 * cleanly (connections closed, /readyz 503 first); SIGHUP reloads the
 * serving certificate at once (it is also reloaded when its files change).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kube.h"
#include "kubeconfig.h"
#include "kubelookup.h"
#include "log.h"
#include "server.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vecward-webhook --listen HOST:PORT --tls-cert FILE --tls-key FILE [options]\n"
		"  --listen HOST:PORT        address to serve HTTPS on, e.g. 127.0.0.1:9443\n"
		"  --tls-cert FILE           serving certificate chain (PEM), reloaded on change\n"
		"  --tls-key FILE            its private key (PEM), reloaded on change\n"
		"  --kubeconfig PATH         kubeconfig (default $KUBECONFIG, then in-cluster)\n"
		"  --reload-interval SECS    how often to check the certificate files (default 2)\n"
		"  --lookup-budget MS        time for all API lookups of one request (default 3000;\n"
		"                            keep it under the webhook's timeoutSeconds)\n"
		"  --log-format json|human   (default json)\n"
		"  --log-level LEVEL         debug|info|warn|error (default info)\n"
		"  --version, --help\n");
}

struct app {
	struct event_base *base;
	struct wh_server *srv;
};

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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "kubeconfig", required_argument, NULL, 'K' },
		{ "reload-interval", required_argument, NULL, 'r' },
		{ "lookup-budget", required_argument, NULL, 'b' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL, *cert = NULL, *key = NULL, *kubeconfig = NULL;
	enum log_format fmt = LOG_JSON;
	enum log_level lvl = LOG_INFO;
	long reload_s = 2, budget_ms = 3000;
	struct kube_config *kcfg = NULL;
	struct kube_client *kc = NULL;
	struct wh_kube_lookup kl;
	struct wh_lookup lk;
	struct wh_server_config scfg;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct app a = { NULL, NULL };
	char err[512];
	int c, rc = 1;

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
				fprintf(stderr, "vecward-webhook: --reload-interval: 1 to 3600 seconds\n");
				return 2;
			}
			break;
		case 'b':
			if (parse_long(optarg, 100, 60000, &budget_ms)) {
				fprintf(stderr, "vecward-webhook: --lookup-budget: 100 to 60000 ms\n");
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
				fprintf(stderr, "vecward-webhook: --log-level: debug|info|warn|error\n");
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
	if (optind < argc || !listen || !cert || !key) {
		if (optind < argc)
			fprintf(stderr, "vecward-webhook: unexpected argument %s\n", argv[optind]);
		else
			fprintf(stderr, "vecward-webhook: --listen, --tls-cert and --tls-key are "
					"required\n");
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
	wh_kube_lookup_bind(&kl, &lk);

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
	{
		char port[16];
		const char *kv[] = { "listen", listen, "port", port, "apiserver", kcfg->server,
				     "version", VECWARD_VERSION, NULL };
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
	wh_server_free(a.srv);
	if (a.base)
		event_base_free(a.base);
	kube_client_free(kc);
	kube_config_free(kcfg);
	return rc;
}

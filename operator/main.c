/*
 * vecward-operator: runs the vecward controllers against a Kubernetes API.
 *
 * Config: --kubeconfig PATH, else $KUBECONFIG, else in-cluster. With leader
 * election on (the default) only the holder of the Lease reconciles; a clean
 * stop (SIGTERM, SIGINT) releases it so a standby takes over at once.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cluster.h"
#include "enckey.h"
#include "controller.h"
#include "milvusconn.h"
#include "synccache.h"
#include "user.h"
#include "json.h"
#include "kube.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"
#include "util.h"

static volatile sig_atomic_t g_lost;
static volatile sig_atomic_t g_lead;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vecward-operator [options]\n"
	        "  --kubeconfig PATH       kubeconfig (default $KUBECONFIG, then in-cluster)\n"
	        "  --namespace NS          watch only NS (default: all namespaces)\n"
	        "  --workers N             reconcile workers (default 2)\n"
	        "  --leader-elect BOOL     use a Lease so one replica acts (default true)\n"
	        "  --lease-namespace NS    namespace of the Lease (default: the config's)\n"
	        "  --lease-name NAME       (default vecward-operator)\n"
	        "  --lease-duration SECS   (default 15)\n"
	        "  --identity ID           leader identity (default hostname_pid)\n"
	        "  --operator-namespace NS where the operator runs (NetworkPolicies admit it;\n"
	        "                          default: the config's namespace)\n"
	        "  --resync SECS           re-check converged objects for drift (default 600)\n"
	        "  --recycle-day-seconds N length of a recycle-bin day (default 86400; tests)\n"
	        "  --milvus-resync SECS    re-check converged users and roles against Milvus\n"
	        "                          this often (default 3600); changes are synced at once\n"
	        "  --allow-milvus-connect-to  TEST ONLY: honour the Cluster annotation\n"
	        "                          vecward.io/milvus-connect-to (a Milvus test double)\n"
	        "  --log-format json|human (default json)\n"
	        "  --log-level LEVEL       debug|info|warn|error (default info)\n"
	        "  --version, --help\n");
}

static void on_started(void *ctx)
{
	g_lead = 1;
}

static void on_lost(void *ctx)
{
	g_lost = 1;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) {
		*out = 0;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *ns = NULL, *lease_ns = NULL,
	           *lease_name = "vecward-operator";
	const char *identity = NULL;
	long workers = 2, lease_s = 15, resync_s = 600, day_s = 86400, milvus_resync_s = 3600;
	const char *operator_ns = NULL;
	int leader_elect = 1, rc = 1;
	enum log_format lf = LOG_JSON;
	enum log_level ll = LOG_INFO;
	struct kube_config *cfg = NULL;
	struct controller *ctl = NULL;
	struct leader *ld = NULL;
	char err[512], idbuf[300];
	sigset_t set;
	static const struct option opts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"workers", required_argument, NULL, 'w'},
	    {"leader-elect", required_argument, NULL, 'L'},
	    {"lease-namespace", required_argument, NULL, 'N'},
	    {"lease-name", required_argument, NULL, 'l'},
	    {"lease-duration", required_argument, NULL, 'd'},
	    {"identity", required_argument, NULL, 'i'},
	    {"operator-namespace", required_argument, NULL, 'O'},
	    {"resync", required_argument, NULL, 'r'},
	    {"recycle-day-seconds", required_argument, NULL, 'R'},
	    {"milvus-resync", required_argument, NULL, 'M'},
	    {"allow-milvus-connect-to", no_argument, NULL, 'C'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"log-level", required_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'w':
			if (parse_long(optarg, 1, 64, &workers)) {
				fprintf(stderr, "vecward-operator: --workers must be 1..64\n");
				return 2;
			}
			break;
		case 'L':
			if (parse_bool(optarg, &leader_elect)) {
				fprintf(stderr,
				        "vecward-operator: --leader-elect must be true or false\n");
				return 2;
			}
			break;
		case 'N':
			lease_ns = optarg;
			break;
		case 'l':
			lease_name = optarg;
			break;
		case 'd':
			if (parse_long(optarg, 2, 3600, &lease_s)) {
				fprintf(
				    stderr,
				    "vecward-operator: --lease-duration must be 2..3600 seconds\n");
				return 2;
			}
			break;
		case 'i':
			identity = optarg;
			break;
		case 'O':
			operator_ns = optarg;
			break;
		case 'r':
			if (parse_long(optarg, 1, 86400, &resync_s)) {
				fprintf(stderr,
				        "vecward-operator: --resync must be 1..86400 seconds\n");
				return 2;
			}
			break;
		case 'R':
			if (parse_long(optarg, 1, 86400, &day_s)) {
				fprintf(
				    stderr,
				    "vecward-operator: --recycle-day-seconds must be 1..86400\n");
				return 2;
			}
			break;
		case 'M':
			if (parse_long(optarg, 1, 7 * 86400, &milvus_resync_s)) {
				fprintf(stderr, "vecward-operator: --milvus-resync must be "
				                "1..604800 seconds\n");
				return 2;
			}
			break;
		case 'C':
			mconn_allow_connect_to(1);
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				lf = LOG_JSON;
			else if (!strcmp(optarg, "human"))
				lf = LOG_HUMAN;
			else {
				fprintf(stderr,
				        "vecward-operator: --log-format must be json or human\n");
				return 2;
			}
			break;
		case 'v':
			if (log_level_parse(optarg, &ll)) {
				fprintf(stderr, "vecward-operator: --log-level must be debug, "
				                "info, warn or error\n");
				return 2;
			}
			break;
		case 'V':
			printf("vecward-operator %s\n", VECWARD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vecward-operator: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init(lf, ll);

	/* signals are taken synchronously by the main thread only */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1); /* log the controller's stats now */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (kube_config_load_default(kubeconfig, &cfg, err, sizeof(err))) {
		log_errorx(NULL, "%s", err);
		return 1;
	}
	log_info(NULL, "vecward-operator %s starting: api %s, %s", VECWARD_VERSION, cfg->server,
	         ns ? ns : "all namespaces");
	if (!identity) {
		char host[256] = "unknown";
		gethostname(host, sizeof(host) - 1);
		snprintf(idbuf, sizeof(idbuf), "%s_%ld", host, (long)getpid());
		identity = idbuf;
	}

	apply_set_identity(identity);
	struct cluster_reconciler crc = {operator_ns ? operator_ns : cfg->namespace,
	                                 resync_s * 1000, day_s, milvus_resync_s * 1000};
	struct user_reconciler urc = {resync_s * 1000, milvus_resync_s * 1000};
	struct enckey_reconciler erc = {resync_s * 1000, day_s};
	struct controller_opts co = {ns, (int)workers};
	ctl = controller_new(cfg, &co);
	if (!ctl || controller_add_kind(ctl, &KUBE_VW_CLUSTER, cluster_reconcile, &crc) ||
	    controller_add_kind(ctl, &KUBE_VW_USER, user_reconcile, &urc) ||
	    controller_add_kind(ctl, &KUBE_VW_ENCRYPTIONKEY, enckey_reconcile, &erc)) {
		log_errorx(NULL, "cannot set up the controllers (out of memory)");
		goto out;
	}
	controller_stats_extra(ctl, "clusterCredentialLoads", mconn_loads);
	/* A User's reconcile does not act on its own status (it reads it only
	 * as a record of what it did), so its status writes need no second pass.
	 * Not the Cluster's: its pass wakes the Users when its own status turns
	 * Ready (wake_users), which a status write brings about. */
	controller_skip_status_updates(ctl, &KUBE_VW_USER);
	if (leader_elect) {
		struct leader_opts lo = {0};
		lo.namespace = lease_ns ? lease_ns : cfg->namespace;
		lo.name = lease_name;
		lo.identity = identity;
		lo.lease_s = (int)lease_s;
		lo.on_started = on_started;
		lo.on_lost = on_lost;
		ld = leader_new(cfg, &lo);
		if (!ld || leader_start(ld)) {
			log_errorx(NULL, "cannot start leader election");
			goto out;
		}
	} else {
		g_lead = 1;
	}

	int started = 0;
	long long next_purge = 0;
	struct kube_client *purge_kc = kube_client_new(cfg);
	for (;;) {
		struct timespec ts = {0, 200 * 1000000L};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info(NULL, "received %s: shutting down",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT");
			rc = 0;
			break;
		}
		if (sig == SIGUSR1)
			controller_log_stats(ctl, 1);
		else if (started)
			controller_log_stats(ctl, 0);
		if (g_lost) {
			log_errorx(NULL, "leadership lost: exiting so a new leader takes over");
			rc = 1;
			break;
		}
		if (g_lead && !started) {
			if (controller_start(ctl)) {
				log_errorx(NULL, "cannot start the controllers");
				break;
			}
			started = 1;
		}
		if (started && purge_kc && now_ms() >= next_purge) {
			/* the recycle bin: purge what has outlived its window */
			int n = cluster_purge_recycled(purge_kc, ns, (long long)time(NULL));
			if (n > 0)
				log_info(NULL, "recycle bin: purged %d object(s)", n);
			next_purge = now_ms() + (day_s < 600 ? day_s * 1000 / 4 + 1000 : 300000);
		}
	}
	kube_client_free(purge_kc);
out:
	controller_stop(ctl);
	leader_stop(ld); /* releases the Lease when held */
	leader_free(ld);
	controller_free(ctl);
	/* the process-wide caches the workers filled: nothing uses them any more */
	mconn_cache_free();
	sync_reset();
	kube_config_free(cfg);
	log_info(NULL, "stopped");
	return rc;
}

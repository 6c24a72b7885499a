/*
 * floor: create COUNT objects in one namespace with WORKERS threads, as fast
 * as a plain client can: the floor the operator's convergence is compared with
 * (bench/operator.sh), and a fast creator of Users for the footprint benchmark.
 *
 *   bin/bench/floor --kubeconfig FILE --namespace NS --count N --workers W
 *               [--kind secret|user] [--prefix P] [--start I] [--cluster NAME]
 *
 * Each worker is a thread with its own struct kube_client, exactly as each of the
 * operator's reconcile workers is: the same libcurl client, TLS setup and
 * connection reuse (one keep-alive connection per worker), so the ratio
 * operator/floor measures what the operator does, not how it talks HTTP. Workers
 * take the next index off a shared counter and POST one object each time: one
 * request per object, nothing read back. Objects are named PREFIX<i> for i in
 * [START, START+N).
 *
 * --kind secret (default): an Opaque Secret shaped like a User's credentials
 * Secret (username, a 32-character password, token, uri, a ~700-byte ca.crt).
 * --kind user: a vecward User of Cluster NAME with role reader.
 *
 * A request that fails for a transient reason (no answer, 429, 5xx) is retried up
 * to 5 times; AlreadyExists counts as done. Prints one JSON line:
 *   {"kind":..,"count":N,"workers":W,"seconds":S,"requests":R,"errors":E}
 * and exits 1 when any object could not be created.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"
#include "kubeconfig.h"
#include "util.h"

#define MAX_WORKERS 256
#define MAX_TRIES   5

struct job {
	struct kube_config *cfg;
	const char *ns, *prefix, *cluster;
	int user; /* --kind user */
	long start, count;
	atomic_long next;
	atomic_ulong requests, errors;
	struct buf path;
};

/* ~700 bytes of certificate-shaped text, as in a credentials Secret's ca.crt */
static const char ca_blob[] =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ4ekNDQVcyZ0F3SUJBZ0lVYmVuY2hiZW5jaGJl"
    "bmNoYmVuY2hiZW5jaGJlbmNoYmVuY2h3Q2dZSUtvWkl6ajBFQXdJd0pURWpNQ0VHQTFVRUF3d2FkbVZq"
    "ZDJGeVpDQmlaVzVqYUM5d2NtOWtJRU5CTUI0WERUSTFNVEV5TnpBd01EQXdNRm9YRFRNMU1URXlOVEF3"
    "TURBd01Gb3dKVEVqTUNFR0ExVUVBd3dhZG1WamQyRnlaQ0JpWlc1amFDOXdjbTlrSUVOQk1Ga3dFd1lI"
    "S29aSXpqMENBUVlJS29aSXpqMERBUWNEUWdBRWJlbmNoYmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJl"
    "bmNoYmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJl"
    "bmNoYmVuY2hiZW5jaGJlbmNoYmVuY2hvMU1GTXdIUVlEVlIwT0JCWUVGR0p1WTJoaVpXNWphR0psYm1O"
    "b1ltVnVZMmd3SHdZRFZSMGpCQmd3Rm9BVVltVnVZMmhpWlc1amFHSmxibU5vWW1WdVkyZ3dEd1lEVlIw"
    "VEFRSC9CQVV3QXdFQi96QUtCZ2dxaGtqT1BRUURBZ05JQURCRkFpRUFiZW5jaGJlbmNoYmVuY2hiZW5j"
    "aGJlbmNoYmVuY2hiZW5jaAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";

static int render(const struct job *j, long i, char *out, size_t outlen)
{
	int n;

	if (j->user)
		n = snprintf(out, outlen,
		             "{\"apiVersion\":\"vecward.io/v1alpha1\",\"kind\":\"User\","
		             "\"metadata\":{\"name\":\"%s%ld\",\"namespace\":\"%s\"},"
		             "\"spec\":{\"clusterRef\":{\"name\":\"%s\"},\"roles\":[\"reader\"]}}",
		             j->prefix, i, j->ns, j->cluster);
	else
		/* base64 of a fixed 32-character password, a token and a uri */
		n = snprintf(out, outlen,
		             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"Opaque\","
		             "\"metadata\":{\"name\":\"%s%ld\",\"namespace\":\"%s\","
		             "\"labels\":{\"app.kubernetes.io/managed-by\":\"bench-floor\"}},"
		             "\"data\":{\"username\":\"YmVuY2g=\","
		             "\"password\":\"YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMTI=\","
		             "\"token\":\"YmVuY2g6YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoMTI=\","
		             "\"uri\":\"aHR0cHM6Ly9wcm9kLmJlbmNoLnN2YzoxOTUzMA==\","
		             "\"ca.crt\":\"%s\"}}",
		             j->prefix, i, j->ns, ca_blob);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int transient(const struct kube_error *e)
{
	return e->http == 0 || e->http == 429 || e->http >= 500;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct kube_client *kc = kube_client_new(j->cfg);
	char body[4096];
	long i;

	if (!kc) {
		fprintf(stderr, "floor: out of memory\n");
		atomic_fetch_add(&j->errors, 1);
		return NULL;
	}
	while ((i = atomic_fetch_add(&j->next, 1)) < j->count) {
		struct kube_error err;
		int ok = 0;

		if (render(j, j->start + i, body, sizeof(body))) {
			atomic_fetch_add(&j->errors, 1);
			continue;
		}
		for (int t = 0; t < MAX_TRIES && !ok; t++) {
			atomic_fetch_add(&j->requests, 1);
			memset(&err, 0, sizeof(err));
			if (kube_create(kc, j->path.ptr, body, NULL, &err) == 0 || err.http == 409)
				ok = 1;
			else if (!transient(&err))
				break;
			else
				usleep(100000u << t);
		}
		if (!ok) {
			char ebuf[700];
			fprintf(stderr, "floor: %s%ld: %s\n", j->prefix, j->start + i,
			        kube_strerror(&err, ebuf, sizeof(ebuf)));
			atomic_fetch_add(&j->errors, 1);
		}
	}
	kube_client_free(kc);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bin/bench/floor --kubeconfig FILE --namespace NS --count N --workers W\n"
	           "                       [--kind secret|user] [--prefix P] [--start I] "
	           "[--cluster NAME]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"count", required_argument, NULL, 'c'},
	    {"workers", required_argument, NULL, 'w'},
	    {"kind", required_argument, NULL, 'K'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"start", required_argument, NULL, 's'},
	    {"cluster", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *kubeconfig = NULL, *kind = "secret";
	struct job j;
	pthread_t th[MAX_WORKERS];
	long workers = 2;
	int nth = 0, c, rc = 1;
	char err[512];
	struct timespec t0, t1;

	memset(&j, 0, sizeof(j));
	j.prefix = "floor";
	j.cluster = "prod";
	j.count = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'n':
			j.ns = optarg;
			break;
		case 'c':
			if (parse_long(optarg, 0, 1000000, &j.count)) {
				fprintf(stderr, "floor: --count must be 0..1000000\n");
				return 2;
			}
			break;
		case 'w':
			if (parse_long(optarg, 1, MAX_WORKERS, &workers)) {
				fprintf(stderr, "floor: --workers must be 1..%d\n", MAX_WORKERS);
				return 2;
			}
			break;
		case 'K':
			kind = optarg;
			break;
		case 'p':
			j.prefix = optarg;
			break;
		case 's':
			if (parse_long(optarg, 0, 100000000, &j.start)) {
				fprintf(stderr, "floor: --start must be 0..100000000\n");
				return 2;
			}
			break;
		case 'C':
			j.cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!j.ns || j.count < 0 || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(kind, "user") == 0) {
		j.user = 1;
	} else if (strcmp(kind, "secret") != 0) {
		fprintf(stderr, "floor: --kind must be secret or user\n");
		return 2;
	}
	if (kube_config_load_default(kubeconfig, &j.cfg, err, sizeof(err))) {
		fprintf(stderr, "floor: %s\n", err);
		return 1;
	}
	buf_init(&j.path, 1024);
	if (kube_path(&j.path, j.user ? &KUBE_VW_USER : &KUBE_SECRET, j.ns, NULL, NULL)) {
		fprintf(stderr, "floor: cannot build the path\n");
		goto out;
	}
	atomic_init(&j.next, 0);
	atomic_init(&j.requests, 0);
	atomic_init(&j.errors, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < workers; i++) {
		if (pthread_create(&th[nth], NULL, worker, &j)) {
			fprintf(stderr, "floor: cannot start worker %ld\n", i);
			atomic_fetch_add(&j.errors, 1);
			break;
		}
		nth++;
	}
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"kind\":\"%s\",\"count\":%ld,\"workers\":%ld,\"seconds\":%.3f,\"requests\":%lu,"
	       "\"errors\":%lu}\n",
	       j.user ? "user" : "secret", j.count, workers,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       atomic_load(&j.requests), atomic_load(&j.errors));
	rc = atomic_load(&j.errors) ? 1 : 0;
out:
	buf_free(&j.path);
	kube_config_free(j.cfg);
	return rc;
}

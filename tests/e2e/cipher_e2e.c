/*
 * cipher_e2e: drive operator/reconcile/cipher (cipher_sync) and the cipher
 * plugin renderers against a real apiserver ($KUBECONFIG) and the Milvus test
 * double, the way the Cluster reconciler calls them, and print
 * machine-checkable lines (tests/e2e/test_cipher.sh). The Cluster is read from
 * the apiserver; the Milvus connection honours vecward.io/milvus-connect-to.
 *
 *   cipher_e2e -n NS -c CLUSTER [--key-arn ARN] [--passes N] [--resync-ms MS] sync
 *       N passes of cipher_sync in one process (so the second sees the first's
 *       synccache record), one line each:
 *       "pass=P rc=R ok=O reason=REASON contacted=C created=K requests=Q: MESSAGE"
 *       (requests: HTTP requests sent to Milvus during the pass)
 *   cipher_e2e -n NS -c CLUSTER --key-arn ARN [--rotation-hours H] render DIR
 *       DIR/hook.yaml, DIR/hook-secret.json, DIR/deployment.json (pod hash
 *       "e2e"), then "rendered"; "no-hook" when the Cluster has no cipherPlugin.
 *
 * Exit status: 0 when every pass ran (whatever its outcome), 1 on an API or
 * render failure, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cipher.h"
#include "cluster_render.h"
#include "kube.h"
#include "kubeconfig.h"
#include "log.h"
#include "milvus.h"
#include "milvusconn.h"
#include "util.h"

static int usage(void)
{
	fprintf(stderr, "usage: cipher_e2e -n NS -c CLUSTER [--key-arn ARN] [--passes N] "
	                "[--resync-ms MS] [--rotation-hours H] sync|render DIR\n");
	return 2;
}

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	rc = fputs(text, f) < 0 || fputc('\n', f) == EOF;
	return fclose(f) || rc ? -1 : 0;
}

static int render(const struct cluster_view *v, const char *arn, long hours, const char *dir)
{
	char *yaml = NULL, *secret = NULL, *dep = NULL;
	int rc = 1;

	if (!v->cipher_so_go) {
		printf("no-hook\n");
		return 0;
	}
	yaml = cluster_render_hook_yaml(v, arn, hours);
	secret = cluster_render_hook_secret(v, arn, hours);
	dep = cluster_render_deployment(v, "e2e");
	if (!yaml || !secret || !dep || write_text(dir, "hook.yaml", yaml) ||
	    write_text(dir, "hook-secret.json", secret) ||
	    write_text(dir, "deployment.json", dep)) {
		fprintf(stderr, "cipher_e2e: render failed\n");
		goto out;
	}
	printf("rendered\n");
	rc = 0;
out:
	free(yaml);
	cluster_free_secret_json(secret);
	free(dep);
	return rc;
}

int main(int argc, char **argv)
{
	const char *ns = NULL, *name = NULL, *arn = NULL, *cmd = NULL, *dir = NULL;
	long passes = 1, resync_ms = 3600000, hours = 0;
	struct kube_config *cfg = NULL;
	struct kube_client *kc = NULL;
	struct kube_error kerr;
	struct cluster_view v;
	yajl_val cluster = NULL;
	char err[512];
	int i, rc = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--key-arn") && i + 1 < argc)
			arn = argv[++i];
		else if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
			if (parse_long(argv[++i], 1, 100, &passes))
				return usage();
		} else if (!strcmp(argv[i], "--resync-ms") && i + 1 < argc) {
			if (parse_long(argv[++i], 1, 86400000, &resync_ms))
				return usage();
		} else if (!strcmp(argv[i], "--rotation-hours") && i + 1 < argc) {
			if (parse_long(argv[++i], 0, 1000000, &hours))
				return usage();
		} else if (!cmd)
			cmd = argv[i];
		else if (!dir)
			dir = argv[i];
		else
			return usage();
	}
	if (!ns || !name || !cmd || (strcmp(cmd, "sync") && strcmp(cmd, "render")) ||
	    (!strcmp(cmd, "render") && (!dir || !arn)))
		return usage();
	log_init(LOG_HUMAN, LOG_WARN);
	apply_set_identity("cipher-e2e");
	mconn_allow_connect_to(1);
	if (kube_config_load_default(NULL, &cfg, err, sizeof(err))) {
		fprintf(stderr, "cipher_e2e: kubeconfig: %s\n", err);
		return 1;
	}
	kc = kube_client_new(cfg);
	if (!kc)
		goto out;
	if (apply_get(kc, &KUBE_VW_CLUSTER, ns, name, &cluster, &kerr)) {
		fprintf(stderr, "cipher_e2e: cannot read Cluster %s/%s\n", ns, name);
		goto out;
	}
	if (cluster_view_parse(cluster, &v, err, sizeof(err))) {
		printf("invalid: %s\n", err);
		rc = 0;
		goto out;
	}
	if (!strcmp(cmd, "render")) {
		rc = render(&v, arn, hours, dir);
		goto out;
	}
	for (long p = 1; p <= passes; p++) {
		struct cipher_outcome o;
		unsigned long before = mv_requests_total();
		int r = cipher_sync(kc, cluster, &v, arn, resync_ms, &o);
		printf("pass=%ld rc=%d ok=%d reason=%s contacted=%d created=%u requests=%lu: %s\n",
		       p, r, o.ok, o.reason, o.contacted, o.created, mv_requests_total() - before,
		       o.message);
	}
	rc = 0;
out:
	yajl_tree_free(cluster);
	kube_client_free(kc);
	kube_config_free(cfg);
	return rc;
}

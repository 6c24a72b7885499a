/*
 * kube_e2e: drive the kube client (operator/kube) against a real API server and
 * print machine-checkable lines; tests/e2e/test_kubeclient.sh checks them.
 *
 * The API server comes from $KUBECONFIG (kube_config_load_default). Nothing
 * secret is ever printed: only names, resourceVersions, uids and API errors.
 *
 *   kube_e2e list [-l SEL] [--kind K] NS [LIMIT]   paged LIST (default limit 2):
 *       "ITEM name" per item, then "items=N pages=P rv=RV"
 *   kube_e2e get NS NAME                           "name=.. uid=.. rv=.."
 *   kube_e2e get-missing NS                        GET of an absent ConfigMap:
 *       "STATUS http=404 code=404 reason=NotFound" and "ERROR <kube_strerror>"
 *   kube_e2e apply [--force] NS NAME KEY=VAL...   server-side apply of a ConfigMap,
 *       twice: "applied rv=R", "data KEY=VAL", "manager NAME OPERATION [SUBRESOURCE]",
 *       then "reapplied rv=R2 unchanged=0|1"
 *   kube_e2e apply-status KIND NS NAME JSON        server-side apply of JSON to the
 *       object's /status (KIND: services, clusters, users, encryptionkeys):
 *       "status-applied rv=R" and the "manager ..." lines
 *   kube_e2e churn NS NAME COUNT                   COUNT writes (applies) to one
 *       ConfigMap, as fast as possible: "churned n=COUNT rv=LAST"
 *   kube_e2e delete NS NAME UID                    DELETE with a uid precondition
 *       ("-" for none): "deleted" or "ERROR <kube_strerror>"
 *   kube_e2e watch [--relist] [-l SEL] [--kind K] NS FROM_RV MAX_EVENTS TIMEOUT_S
 *       WATCH from FROM_RV ("" or "-" for now): "EVENT TYPE NAME RV" per event,
 *       "BOOKMARK RV" per bookmark, "END events=N reason=max|timeout".
 *       On 410: "GONE <kube_strerror>", then exit 3, or with --relist
 *       "RELIST items=N rv=RV" and the watch resumes from the fresh list.
 *
 * --kind is configmaps (default) or events (events.k8s.io/v1, which the API server
 * does not keep in its watch cache: old resourceVersions go to etcd).
 *
 * Exit status: 0 ok, 1 API or transport error, 2 usage, 3 watch got 410 Gone,
 * 4 watch timed out before MAX_EVENTS.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "json.h"
#include "kube.h"
#include "kubeconfig.h"

#define EXIT_API        1
#define EXIT_USAGE      2
#define EXIT_GONE       3
#define EXIT_TIMEOUT    4
#define MAX_EVENT_BYTES (4u * 1024 * 1024)

static struct kube_client *cli;

static int usage(void)
{
	fprintf(stderr,
	        "usage: kube_e2e list [-l SEL] [--kind K] NS [LIMIT]\n"
	        "       kube_e2e get NS NAME\n"
	        "       kube_e2e get-missing NS\n"
	        "       kube_e2e apply [--force] NS NAME KEY=VAL...\n"
	        "       kube_e2e apply-status KIND NS NAME JSON\n"
	        "       kube_e2e churn NS NAME COUNT\n"
	        "       kube_e2e delete NS NAME UID|-\n"
	        "       kube_e2e watch [--relist] [-l SEL] [--kind K] NS FROM_RV MAX_EVENTS "
	        "TIMEOUT_S\n");
	return EXIT_USAGE;
}

static int api_error(const char *what, const struct kube_error *err)
{
	char m[768];

	printf("ERROR %s\n", kube_strerror(err, m, sizeof(m)));
	fprintf(stderr, "kube_e2e: %s failed\n", what);
	return EXIT_API;
}

static const struct kube_kind *kind_by_name(const char *s)
{
	if (!strcmp(s, "configmaps"))
		return &KUBE_CONFIGMAP;
	if (!strcmp(s, "events"))
		return &KUBE_EVENT;
	if (!strcmp(s, "services"))
		return &KUBE_SERVICE;
	if (!strcmp(s, "clusters"))
		return &KUBE_VW_CLUSTER;
	if (!strcmp(s, "users"))
		return &KUBE_VW_USER;
	if (!strcmp(s, "encryptionkeys"))
		return &KUBE_VW_ENCRYPTIONKEY;
	return NULL;
}

/* the path of an object (name) or a collection (name NULL); NULL if too long */
static char *path_of(const struct kube_kind *k, const char *ns, const char *name)
{
	struct buf b = BUF_INIT(8192);

	if (kube_path(&b, k, ns, name, NULL)) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

static const char *str_or(const char *s, const char *def)
{
	return s && *s ? s : def;
}

static void print_managers(yajl_val obj)
{
	yajl_val mf = json_get(obj, "metadata", "managedFields", NULL);

	for (size_t i = 0; i < json_array_len(mf); i++) {
		yajl_val e = json_array_at(mf, i);
		const char *sub = json_get_str(e, "subresource", NULL);
		printf("manager %s %s%s%s\n", str_or(json_get_str(e, "manager", NULL), "?"),
		       str_or(json_get_str(e, "operation", NULL), "?"), sub ? " " : "",
		       sub ? sub : "");
	}
}

/* ---- list ------------------------------------------------------------------ */

struct list_ctx {
	unsigned long items;
};

static int list_item(yajl_val item, void *ctx)
{
	struct list_ctx *l = ctx;

	l->items++;
	printf("ITEM %s\n", str_or(json_get_str(item, "metadata", "name", NULL), "?"));
	return KUBE_ITEM_KEEP;
}

static int count_item(yajl_val item, void *ctx)
{
	((struct list_ctx *)ctx)->items++;
	return KUBE_ITEM_KEEP;
}

/* LIST path; prints the items (when print) and returns the list's resourceVersion
 * (caller frees) in *rv. */
static int do_list(const char *path, const char *sel, long limit, int print, unsigned long *items,
                   unsigned long *pages, char **rv, struct kube_error *err)
{
	struct kube_stats s0, s1;
	struct list_ctx l = {0};
	int rc;

	kube_client_stats(cli, &s0);
	rc = kube_list(cli, path, sel, limit, print ? list_item : count_item, &l, rv, err);
	kube_client_stats(cli, &s1);
	*items = l.items;
	*pages = s1.list - s0.list;
	return rc;
}

static int cmd_list(const struct kube_kind *k, const char *sel, int argc, char **argv)
{
	struct kube_error err;
	unsigned long items, pages;
	char *path, *rv = NULL;
	long limit = 2;
	int rc;

	if (argc < 1 || argc > 2)
		return usage();
	if (argc == 2)
		limit = strtol(argv[1], NULL, 10);
	path = path_of(k, argv[0], NULL);
	if (!path)
		return usage();
	rc = do_list(path, sel, limit, 1, &items, &pages, &rv, &err);
	free(path);
	if (rc)
		return api_error("list", &err);
	printf("items=%lu pages=%lu rv=%s\n", items, pages, str_or(rv, ""));
	free(rv);
	return 0;
}

/* ---- get ------------------------------------------------------------------- */

static int cmd_get(int argc, char **argv)
{
	struct kube_error err;
	yajl_val obj = NULL;
	char *path;
	int rc;

	if (argc != 2)
		return usage();
	path = path_of(&KUBE_CONFIGMAP, argv[0], argv[1]);
	if (!path)
		return usage();
	rc = kube_get(cli, path, &obj, &err);
	free(path);
	if (rc)
		return api_error("get", &err);
	printf("name=%s uid=%s rv=%s\n", str_or(json_get_str(obj, "metadata", "name", NULL), ""),
	       str_or(json_get_str(obj, "metadata", "uid", NULL), ""),
	       str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), ""));
	yajl_tree_free(obj);
	return 0;
}

static int cmd_get_missing(int argc, char **argv)
{
	struct kube_error err;
	yajl_val obj = NULL;
	char name[64], *path;
	int rc;

	if (argc != 1)
		return usage();
	snprintf(name, sizeof(name), "vw-e2e-missing-%ld", (long)getpid());
	path = path_of(&KUBE_CONFIGMAP, argv[0], name);
	if (!path)
		return usage();
	rc = kube_get(cli, path, &obj, &err);
	free(path);
	if (rc == 0) {
		yajl_tree_free(obj);
		printf("FOUND %s\n", name);
		return EXIT_API;
	}
	printf("STATUS http=%ld code=%ld reason=%s not_found=%d\n", err.http, err.code, err.reason,
	       kube_is_not_found(&err));
	if (!kube_is_not_found(&err))
		return api_error("get", &err);
	{
		char m[768];
		printf("ERROR %s\n", kube_strerror(&err, m, sizeof(m)));
	}
	return 0;
}

/* ---- apply ----------------------------------------------------------------- */

/* {"apiVersion":"v1","kind":"ConfigMap","metadata":{...},"data":{k:v...}} */
static char *configmap_json(const char *ns, const char *name, int nkv, char **kv)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *p;
	size_t n;
	char *out = NULL;
	int bad = 0;

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	json_gen_kv(g, "apiVersion", "v1");
	json_gen_kv(g, "kind", "ConfigMap");
	json_gen_str(g, "metadata");
	yajl_gen_map_open(g);
	json_gen_kv(g, "name", name);
	json_gen_kv(g, "namespace", ns);
	yajl_gen_map_close(g);
	json_gen_str(g, "data");
	yajl_gen_map_open(g);
	for (int i = 0; i < nkv; i++) {
		char *eq = strchr(kv[i], '=');
		if (!eq) {
			bad = 1;
			break;
		}
		*eq = '\0';
		json_gen_kv(g, kv[i], eq + 1);
		*eq = '=';
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	if (!bad && yajl_gen_get_buf(g, &p, &n) == yajl_gen_status_ok) {
		out = malloc(n + 1);
		if (out) {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
	yajl_gen_free(g);
	return out;
}

static int cmd_apply(int force, int argc, char **argv)
{
	struct kube_error err;
	yajl_val obj = NULL, data;
	char *path, *json, *rv1;
	const char *rv2;
	int rc;

	if (argc < 3)
		return usage();
	json = configmap_json(argv[0], argv[1], argc - 2, argv + 2);
	path = path_of(&KUBE_CONFIGMAP, argv[0], argv[1]);
	if (!json || !path) {
		free(json);
		free(path);
		return usage();
	}
	rc = kube_apply(cli, path, json, force, &obj, &err);
	if (rc) {
		free(json);
		free(path);
		return api_error("apply", &err);
	}
	rv1 = strdup(str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), ""));
	printf("applied rv=%s\n", rv1 ? rv1 : "");
	data = json_get(obj, "data", NULL);
	if (data && YAJL_IS_OBJECT(data))
		for (size_t i = 0; i < data->u.object.len; i++)
			printf("data %s=%s\n", data->u.object.keys[i],
			       str_or(json_str(data->u.object.values[i]), ""));
	print_managers(obj);
	yajl_tree_free(obj);
	obj = NULL;

	/* the same apply again: a no-op, so the object must not be written */
	rc = kube_apply(cli, path, json, force, &obj, &err);
	free(json);
	free(path);
	if (rc) {
		free(rv1);
		return api_error("reapply", &err);
	}
	rv2 = str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), "");
	printf("reapplied rv=%s unchanged=%d\n", rv2, rv1 && strcmp(rv1, rv2) == 0);
	free(rv1);
	yajl_tree_free(obj);
	return 0;
}

static int cmd_apply_status(int argc, char **argv)
{
	const struct kube_kind *k;
	struct kube_error err;
	yajl_val obj = NULL;
	char *path;
	int rc;

	if (argc != 4 || !(k = kind_by_name(argv[0])))
		return usage();
	path = path_of(k, argv[1], argv[2]);
	if (!path)
		return usage();
	rc = kube_apply_status(cli, path, argv[3], 1, &obj, &err);
	free(path);
	if (rc)
		return api_error("apply-status", &err);
	printf("status-applied rv=%s\n",
	       str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), ""));
	print_managers(obj);
	yajl_tree_free(obj);
	return 0;
}

static int cmd_churn(int argc, char **argv)
{
	struct kube_error err;
	char *path, rv[128] = "";
	long count;

	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0)
		return usage();
	path = path_of(&KUBE_CONFIGMAP, argv[0], argv[1]);
	if (!path)
		return usage();
	for (long i = 0; i < count; i++) {
		char kv[64], *kvp = kv, *json;
		yajl_val obj = NULL;
		int rc;

		snprintf(kv, sizeof(kv), "n=%ld", i);
		json = configmap_json(argv[0], argv[1], 1, &kvp);
		rc = json ? kube_apply(cli, path, json, 0, &obj, &err) : -1;
		free(json);
		if (rc) {
			free(path);
			return api_error("churn apply", &err);
		}
		snprintf(rv, sizeof(rv), "%s",
		         str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), ""));
		yajl_tree_free(obj);
	}
	free(path);
	printf("churned n=%ld rv=%s\n", count, rv);
	return 0;
}

/* ---- delete ---------------------------------------------------------------- */

static int cmd_delete(int argc, char **argv)
{
	struct kube_error err;
	char *path;
	int rc;

	if (argc != 3)
		return usage();
	path = path_of(&KUBE_CONFIGMAP, argv[0], argv[1]);
	if (!path)
		return usage();
	rc = kube_delete(cli, path, strcmp(argv[2], "-") ? argv[2] : NULL, NULL, NULL, &err);
	free(path);
	if (rc) {
		printf("conflict=%d not_found=%d\n", kube_is_conflict(&err),
		       kube_is_not_found(&err));
		return api_error("delete", &err);
	}
	printf("deleted\n");
	return 0;
}

/* ---- watch ----------------------------------------------------------------- */

static volatile sig_atomic_t watch_stop;

static void on_alarm(int sig)
{
	(void)sig;
	watch_stop = 1;
}

struct watch_ctx {
	long events, max;
};

static int watch_event(const char *type, yajl_val obj, void *ctx)
{
	struct watch_ctx *w = ctx;
	const char *rv = str_or(json_get_str(obj, "metadata", "resourceVersion", NULL), "");

	if (!strcmp(type, "BOOKMARK")) {
		printf("BOOKMARK %s\n", rv);
	} else {
		printf("EVENT %s %s %s\n", type,
		       str_or(json_get_str(obj, "metadata", "name", NULL), "?"), rv);
		w->events++;
	}
	yajl_tree_free(obj);
	return w->events >= w->max; /* non-zero ends the watch */
}

static int cmd_watch(const struct kube_kind *k, const char *sel, int relist, int argc, char **argv)
{
	struct watch_ctx w = {0, 0};
	struct sigaction sa;
	struct kube_error err;
	char rv[128], *path;
	long timeout;
	time_t deadline;
	int rc = 0;

	if (argc != 4)
		return usage();
	w.max = strtol(argv[2], NULL, 10);
	timeout = strtol(argv[3], NULL, 10);
	if (w.max <= 0 || timeout <= 0)
		return usage();
	snprintf(rv, sizeof(rv), "%s", strcmp(argv[1], "-") ? argv[1] : "");
	path = path_of(k, argv[0], NULL);
	if (!path)
		return usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)timeout);
	deadline = time(NULL) + timeout;

	while (!watch_stop && w.events < w.max) {
		long left = (long)(deadline - time(NULL));
		time_t t0 = time(NULL);

		if (left <= 0)
			break;
		rc = kube_watch(cli, path, rv, sel, (int)left, MAX_EVENT_BYTES, watch_event, &w, rv,
		                sizeof(rv), &watch_stop, &err);
		if (rc == 0) {
			/* the server ended the watch (or we stopped it): resume from rv */
			if (time(NULL) == t0 && !watch_stop && w.events < w.max)
				usleep(200 * 1000);
			continue;
		}
		if (kube_is_gone(&err)) {
			char m[768], *nrv = NULL;
			unsigned long items, pages;

			printf("GONE %s\n", kube_strerror(&err, m, sizeof(m)));
			if (!relist) {
				free(path);
				return EXIT_GONE;
			}
			if (do_list(path, sel, 500, 0, &items, &pages, &nrv, &err)) {
				free(path);
				return api_error("relist", &err);
			}
			printf("RELIST items=%lu rv=%s\n", items, str_or(nrv, ""));
			snprintf(rv, sizeof(rv), "%s", str_or(nrv, ""));
			free(nrv);
			continue;
		}
		free(path);
		return api_error("watch", &err);
	}
	alarm(0);
	free(path);
	printf("END events=%ld reason=%s\n", w.events, w.events >= w.max ? "max" : "timeout");
	return w.events >= w.max ? 0 : EXIT_TIMEOUT;
}

int main(int argc, char **argv)
{
	struct kube_config *cfg = NULL;
	const struct kube_kind *kind = &KUBE_CONFIGMAP;
	const char *sel = NULL, *cmd;
	char cerr[256];
	int force = 0, relist = 0, rc, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	cmd = argv[1];
	/* options after the subcommand, before its arguments */
	for (i = 2; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--force")) {
			force = 1;
		} else if (!strcmp(argv[i], "--relist")) {
			relist = 1;
		} else if (!strcmp(argv[i], "-l") && i + 1 < argc) {
			sel = argv[++i];
		} else if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
			if (!(kind = kind_by_name(argv[++i])))
				return usage();
		} else {
			return usage();
		}
	}
	argc -= i;
	argv += i;

	if (kube_config_load_default(NULL, &cfg, cerr, sizeof(cerr))) {
		fprintf(stderr, "kube_e2e: kubeconfig: %s\n", cerr);
		return EXIT_API;
	}
	cli = kube_client_new(cfg);
	if (!cli) {
		fprintf(stderr, "kube_e2e: out of memory\n");
		kube_config_free(cfg);
		return EXIT_API;
	}
	if (!strcmp(cmd, "list"))
		rc = cmd_list(kind, sel, argc, argv);
	else if (!strcmp(cmd, "get"))
		rc = cmd_get(argc, argv);
	else if (!strcmp(cmd, "get-missing"))
		rc = cmd_get_missing(argc, argv);
	else if (!strcmp(cmd, "apply"))
		rc = cmd_apply(force, argc, argv);
	else if (!strcmp(cmd, "apply-status"))
		rc = cmd_apply_status(argc, argv);
	else if (!strcmp(cmd, "churn"))
		rc = cmd_churn(argc, argv);
	else if (!strcmp(cmd, "delete"))
		rc = cmd_delete(argc, argv);
	else if (!strcmp(cmd, "watch"))
		rc = cmd_watch(kind, sel, relist, argc, argv);
	else
		rc = usage();
	kube_client_free(cli);
	kube_config_free(cfg);
	return rc;
}

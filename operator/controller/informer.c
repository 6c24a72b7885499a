#include "informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "strmap.h"
#include "util.h"

struct informer {
	struct kube_config *cfg;
	struct informer_opts o;
	char *ns, *selector;
	struct kube_client *client;
	pthread_t thread;
	int started;
	volatile sig_atomic_t stop;
	pthread_rwlock_t lock;
	struct strmap *cache; /* key -> yajl_val */
	int synced;
	int failing; /* the last LIST or watch start failed (under sync_lock) */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	struct informer_stats stats;
	char rv[128];
	char what[96];       /* "informer clusters" for logs */
	struct strmap *seen; /* during a relist: keys present in the new list */
};

int informer_key(yajl_val obj, char *out, size_t outlen)
{
	const char *ns = json_get_str(obj, "metadata", "namespace", NULL);
	const char *name = json_get_str(obj, "metadata", "name", NULL);
	int n;

	if (!name || !*name)
		return -1;
	if (ns && *ns)
		n = snprintf(out, outlen, "%s/%s", ns, name);
	else
		n = snprintf(out, outlen, "%s", name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void free_val(void *p)
{
	yajl_tree_free(p);
}

struct informer *informer_new(struct kube_config *cfg, const struct informer_opts *opts)
{
	struct informer *inf = calloc(1, sizeof(*inf));

	if (!inf)
		return NULL;
	inf->cfg = cfg;
	inf->o = *opts;
	if (!inf->o.watch_timeout_s)
		inf->o.watch_timeout_s = 300;
	if (!inf->o.max_event_bytes)
		inf->o.max_event_bytes = 4u * 1024 * 1024;
	inf->ns = opts->namespace ? strdup(opts->namespace) : NULL;
	inf->selector = opts->label_selector ? strdup(opts->label_selector) : NULL;
	inf->o.namespace = inf->ns;
	inf->o.label_selector = inf->selector;
	pthread_rwlock_init(&inf->lock, NULL);
	pthread_mutex_init(&inf->sync_lock, NULL);
	pthread_cond_init(&inf->sync_cond, NULL);
	inf->cache = strmap_new();
	inf->client = kube_client_new(cfg);
	if (!inf->cache || !inf->client || (opts->namespace && !inf->ns) ||
	    (opts->label_selector && !inf->selector)) {
		informer_free(inf);
		return NULL;
	}
	snprintf(inf->what, sizeof(inf->what), "informer %s", opts->kind->plural);
	return inf;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	informer_stop(inf);
	kube_client_free(inf->client);
	strmap_free(inf->cache, free_val);
	free(inf->ns);
	free(inf->selector);
	pthread_rwlock_destroy(&inf->lock);
	pthread_mutex_destroy(&inf->sync_lock);
	pthread_cond_destroy(&inf->sync_cond);
	free(inf);
}

/* Store obj (taking it) and tell the handler. */
static void upsert(struct informer *inf, yajl_val obj)
{
	char key[512];
	void *old = NULL;
	int r;

	if (informer_key(obj, key, sizeof(key))) {
		yajl_tree_free(obj);
		return;
	}
	if (inf->seen)
		strmap_put(inf->seen, key, (void *)1, NULL);
	pthread_rwlock_wrlock(&inf->lock);
	{
		yajl_val prev = strmap_get(inf->cache, key);
		const char *prv = json_get_str(prev, "metadata", "resourceVersion", NULL);
		const char *nrv = json_get_str(obj, "metadata", "resourceVersion", NULL);
		if (prev && prv && nrv && strcmp(prv, nrv) == 0) {
			/* unchanged (a relist): nothing to tell */
			pthread_rwlock_unlock(&inf->lock);
			yajl_tree_free(obj);
			return;
		}
	}
	r = strmap_put(inf->cache, key, obj, &old);
	pthread_rwlock_unlock(&inf->lock);
	if (r) {
		log_errorx(inf->what, "out of memory caching %s", key);
		yajl_tree_free(obj);
		return;
	}
	inf->stats.events++;
	if (inf->o.handler)
		inf->o.handler(old ? INF_UPDATED : INF_ADDED, key, obj, old, inf->o.ctx);
	yajl_tree_free(old);
}

static void remove_key(struct informer *inf, const char *key)
{
	yajl_val old;

	pthread_rwlock_wrlock(&inf->lock);
	old = strmap_del(inf->cache, key);
	pthread_rwlock_unlock(&inf->lock);
	if (!old)
		return;
	inf->stats.events++;
	if (inf->o.handler)
		inf->o.handler(INF_DELETED, key, old, NULL, inf->o.ctx);
	yajl_tree_free(old);
}

static int on_list_item(yajl_val item, void *ctx)
{
	upsert(ctx, item);
	return KUBE_ITEM_TAKEN;
}

struct gone_ctx {
	struct informer *inf;
	char **keys;
	size_t n, cap;
};

static int collect_gone(const char *key, void *val, void *ctx)
{
	struct gone_ctx *g = ctx;

	if (strmap_get(g->inf->seen, key))
		return 0;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 16;
		char **nk = realloc(g->keys, nc * sizeof(*nk));
		if (!nk)
			return 1;
		g->keys = nk;
		g->cap = nc;
	}
	g->keys[g->n] = strdup(key);
	if (g->keys[g->n])
		g->n++;
	return 0;
}

/* LIST everything and reconcile the cache with it. 0 or -1. */
static int relist(struct informer *inf, struct kube_error *err)
{
	struct buf path = BUF_INIT(4096);
	struct gone_ctx g = {inf, NULL, 0, 0};
	char *rv = NULL;
	int rc = -1;

	if (kube_path(&path, inf->o.kind, inf->ns, NULL, NULL))
		goto out;
	inf->seen = strmap_new();
	if (!inf->seen)
		goto out;
	inf->stats.lists++;
	if (kube_list(inf->client, path.ptr, inf->selector, 500, on_list_item, inf, &rv, err))
		goto out;
	/* whatever is cached but was not listed was deleted meanwhile */
	pthread_rwlock_rdlock(&inf->lock);
	strmap_foreach(inf->cache, collect_gone, &g);
	pthread_rwlock_unlock(&inf->lock);
	for (size_t i = 0; i < g.n; i++)
		remove_key(inf, g.keys[i]);
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv ? rv : "");
	rc = 0;
out:
	for (size_t i = 0; i < g.n; i++)
		free(g.keys[i]);
	free(g.keys);
	strmap_free(inf->seen, NULL);
	inf->seen = NULL;
	free(rv);
	buf_free(&path);
	return rc;
}

static int on_event(const char *type, yajl_val obj, void *ctx)
{
	struct informer *inf = ctx;

	if (strcmp(type, "BOOKMARK") == 0) {
		yajl_tree_free(obj); /* only moves the resourceVersion */
		return 0;
	}
	if (strcmp(type, "DELETED") == 0) {
		char key[512];
		if (informer_key(obj, key, sizeof(key)) == 0)
			remove_key(inf, key);
		yajl_tree_free(obj);
		return 0;
	}
	upsert(inf, obj);
	return inf->stop ? 1 : 0;
}

static void set_synced(struct informer *inf)
{
	pthread_mutex_lock(&inf->sync_lock);
	inf->synced = 1;
	pthread_cond_broadcast(&inf->sync_cond);
	pthread_mutex_unlock(&inf->sync_lock);
}

static void set_failing(struct informer *inf, int failing)
{
	pthread_mutex_lock(&inf->sync_lock);
	inf->failing = failing;
	pthread_mutex_unlock(&inf->sync_lock);
}

static void *run(void *arg)
{
	struct informer *inf = arg;
	struct buf path = BUF_INIT(4096);
	struct kube_error err;
	char ebuf[700];
	long backoff = 0;
	long long started;
	unsigned long events;
	int need_list = 1;

	if (kube_path(&path, inf->o.kind, inf->ns, NULL, NULL)) {
		log_errorx(inf->what, "cannot build the watch path");
		return NULL;
	}
	while (!inf->stop) {
		if (need_list) {
			if (relist(inf, &err)) {
				set_failing(inf, 1);
				inf->stats.errors++;
				backoff =
				    backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
				log_warnx(inf->what, "list failed (retry in %ld ms): %s", backoff,
				          kube_strerror(&err, ebuf, sizeof(ebuf)));
				sleep_unless(&inf->stop, backoff, 200);
				continue;
			}
			need_list = 0;
			set_failing(inf, 0);
			if (!inf->synced) {
				log_info(inf->what, "synced %zu objects at resourceVersion %s",
				         informer_len(inf), inf->rv);
				set_synced(inf);
			}
		}
		inf->stats.watches++;
		started = now_ms();
		events = inf->stats.events;
		if (kube_watch(inf->client, path.ptr, inf->rv, inf->selector,
		               inf->o.watch_timeout_s, inf->o.max_event_bytes, on_event, inf,
		               inf->rv, sizeof(inf->rv), &inf->stop, &err) == 0) {
			backoff = 0;
			set_failing(inf, 0);
			continue; /* server closed the watch: resume from inf->rv */
		}
		if (kube_is_gone(&err)) {
			inf->stats.relists++;
			log_info(inf->what, "resourceVersion %s is too old (410 Gone): relisting",
			         inf->rv);
			need_list = 1;
			continue;
		}
		if (err.http == 0 && strcmp(err.reason, "Transport") == 0 &&
		    (now_ms() - started >= 1000 || inf->stats.events != events)) {
			/* a watch that served, then lost its connection (a proxy or load
			 * balancer cutting long-lived connections, an apiserver going
			 * away): like a closed one, resume from inf->rv at once, as
			 * client-go does; backing off here would leave the cache blind for
			 * up to 30 s after every cut. A watch that breaks within a second
			 * without an event backs off as a failure. */
			backoff = 0;
			set_failing(inf, 0);
			log_info(inf->what, "watch ended (%s): resuming from resourceVersion %s",
			         kube_strerror(&err, ebuf, sizeof(ebuf)), inf->rv);
			continue;
		}
		set_failing(inf, 1);
		inf->stats.errors++;
		backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
		log_warnx(inf->what, "watch failed (retry in %ld ms): %s", backoff,
		          kube_strerror(&err, ebuf, sizeof(ebuf)));
		/* an event too large or garbled cannot be skipped: relist */
		if (err.http == 0 && strcmp(err.reason, "Transport") != 0)
			need_list = 1;
		sleep_unless(&inf->stop, backoff, 200);
	}
	buf_free(&path);
	return NULL;
}

int informer_start(struct informer *inf)
{
	if (inf->started)
		return 0;
	if (pthread_create(&inf->thread, NULL, run, inf))
		return -1;
	inf->started = 1;
	return 0;
}

void informer_stop(struct informer *inf)
{
	if (!inf || !inf->started)
		return;
	inf->stop = 1;
	pthread_join(inf->thread, NULL);
	inf->started = 0;
}

int informer_is_current(struct informer *inf)
{
	int s;
	pthread_mutex_lock(&inf->sync_lock);
	s = inf->synced && !inf->failing;
	pthread_mutex_unlock(&inf->sync_lock);
	return s;
}

int informer_has_synced(struct informer *inf)
{
	int s;
	pthread_mutex_lock(&inf->sync_lock);
	s = inf->synced;
	pthread_mutex_unlock(&inf->sync_lock);
	return s;
}

int informer_wait_synced(struct informer *inf, long timeout_ms)
{
	long long until = now_ms() + timeout_ms;
	int s;

	pthread_mutex_lock(&inf->sync_lock);
	while (!inf->synced && now_ms() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&inf->sync_cond, &inf->sync_lock, &ts);
	}
	s = inf->synced;
	pthread_mutex_unlock(&inf->sync_lock);
	return s ? 0 : -1;
}

yajl_val informer_get(struct informer *inf, const char *key)
{
	yajl_val v, copy = NULL;

	pthread_rwlock_rdlock(&inf->lock);
	v = strmap_get(inf->cache, key);
	if (v)
		copy = json_clone(v);
	pthread_rwlock_unlock(&inf->lock);
	return copy;
}

size_t informer_len(struct informer *inf)
{
	size_t n;
	pthread_rwlock_rdlock(&inf->lock);
	n = strmap_len(inf->cache);
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

struct key_walk {
	void (*cb)(const char *key, void *ctx);
	void *ctx;
};

static int walk_key(const char *key, void *val, void *ctx)
{
	struct key_walk *w = ctx;
	w->cb(key, w->ctx);
	return 0;
}

void informer_foreach_key(struct informer *inf, void (*cb)(const char *key, void *ctx), void *ctx)
{
	struct key_walk w = {cb, ctx};
	pthread_rwlock_rdlock(&inf->lock);
	strmap_foreach(inf->cache, walk_key, &w);
	pthread_rwlock_unlock(&inf->lock);
}

void informer_get_stats(struct informer *inf, struct informer_stats *out)
{
	*out = inf->stats;
}

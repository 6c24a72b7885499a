#include "controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define MAX_KINDS   8
#define MAX_WORKERS 64

struct kind_entry {
	const struct kube_kind *kind;
	reconcile_fn fn;
	void *ctx;
	struct informer *inf;
	struct controller *ctl;
	int skip_status; /* controller_skip_status_updates */
};

struct controller {
	struct kube_config *cfg;
	struct controller_opts o;
	char *ns;
	struct kind_entry kinds[MAX_KINDS];
	int nkinds;
	struct workqueue *q;
	pthread_t workers[MAX_WORKERS];
	int nworkers;
	pthread_mutex_t stat_lock;
	unsigned long reconciles;
	unsigned long skipped; /* status-only updates not enqueued */
	/* what the last "stats" line said, and when (controller_log_stats) */
	unsigned long long logged[5];
	long long logged_at;
	const char *extra_name;
	unsigned long long (*extra_fn)(void);
};

void controller_stats_extra(struct controller *ctl, const char *name,
                            unsigned long long (*fn)(void))
{
	ctl->extra_name = name;
	ctl->extra_fn = fn;
}

static yajl_val obj_find(yajl_val o, size_t hint, const char *key)
{
	size_t n = o->u.object.len;

	if (hint < n && strcmp(o->u.object.keys[hint], key) == 0)
		return o->u.object.values[hint]; /* the same order: the usual case */
	for (size_t i = 0; i < n; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

static int skipped_key(const char *key, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(key, *skip) == 0)
			return 1;
	return 0;
}

/* Objects a and b equal but for the keys in skip (NULL-terminated); the
 * "metadata" key, when sub is set, compared but for the keys in sub. */
static int obj_equal_except(yajl_val a, yajl_val b, const char *const *skip, const char *const *sub)
{
	size_t na = 0, nb = 0;

	if (!YAJL_IS_OBJECT(a) || !YAJL_IS_OBJECT(b))
		return 0;
	for (size_t i = 0; i < b->u.object.len; i++)
		if (!skipped_key(b->u.object.keys[i], skip))
			nb++;
	for (size_t i = 0; i < a->u.object.len; i++) {
		const char *k = a->u.object.keys[i];
		yajl_val va = a->u.object.values[i], vb;
		if (skipped_key(k, skip))
			continue;
		na++;
		vb = obj_find(b, i, k);
		if (!vb)
			return 0;
		if (sub && strcmp(k, "metadata") == 0 ? !obj_equal_except(va, vb, sub, NULL)
		                                      : !json_equal(va, vb))
			return 0;
	}
	return na == nb;
}

int controller_status_only_change(yajl_val old, yajl_val new)
{
	static const char *const top[] = {"status", NULL};
	static const char *const meta[] = {"resourceVersion", "managedFields", NULL};

	if (!YAJL_IS_OBJECT(old) || !YAJL_IS_OBJECT(new))
		return 0;
	/* a metadata that is not an object on either side is compared whole */
	if (!YAJL_IS_OBJECT(obj_find(old, 0, "metadata")) ||
	    !YAJL_IS_OBJECT(obj_find(new, 0, "metadata")))
		return obj_equal_except(old, new, top, NULL);
	return obj_equal_except(old, new, top, meta);
}

int controller_split_key(char *buf, const char **kind, const char **ns, const char **name)
{
	char *a = strchr(buf, '/'), *b;

	if (!a)
		return -1;
	*a = '\0';
	b = strchr(a + 1, '/');
	if (b) {
		*b = '\0';
		*kind = buf;
		*ns = a + 1;
		*name = b + 1;
	} else {
		*kind = buf;
		*ns = "";
		*name = a + 1;
	}
	return **kind && **name ? 0 : -1;
}

struct controller *controller_new(struct kube_config *cfg, const struct controller_opts *o)
{
	struct controller *ctl = calloc(1, sizeof(*ctl));

	if (!ctl)
		return NULL;
	ctl->cfg = cfg;
	ctl->o = *o;
	if (ctl->o.workers <= 0)
		ctl->o.workers = 2;
	if (ctl->o.workers > MAX_WORKERS)
		ctl->o.workers = MAX_WORKERS;
	ctl->ns = o->namespace ? strdup(o->namespace) : NULL;
	ctl->q = wq_new(5, 300000);
	pthread_mutex_init(&ctl->stat_lock, NULL);
	if (!ctl->q || (o->namespace && !ctl->ns)) {
		controller_free(ctl);
		return NULL;
	}
	return ctl;
}

static void on_change(enum informer_event ev, const char *key, yajl_val obj, yajl_val old,
                      void *ctx)
{
	struct kind_entry *k = ctx;
	char qkey[600];

	if (snprintf(qkey, sizeof(qkey), "%s/%s", k->kind->kind, key) >= (int)sizeof(qkey))
		return;
	if (ev == INF_UPDATED && k->skip_status && controller_status_only_change(old, obj)) {
		/* our own status write (or another's): nothing to converge */
		pthread_mutex_lock(&k->ctl->stat_lock);
		k->ctl->skipped++;
		pthread_mutex_unlock(&k->ctl->stat_lock);
		return;
	}
	/* every other change is enqueued: the queue de-duplicates, and a
	 * reconcile of an unchanged object writes nothing */
	wq_add(k->ctl->q, qkey);
}

int controller_add_kind(struct controller *ctl, const struct kube_kind *kind, reconcile_fn fn,
                        void *ctx)
{
	struct kind_entry *k;
	struct informer_opts io;

	if (ctl->nkinds >= MAX_KINDS)
		return -1;
	k = &ctl->kinds[ctl->nkinds];
	k->kind = kind;
	k->fn = fn;
	k->ctx = ctx;
	k->ctl = ctl;
	memset(&io, 0, sizeof(io));
	io.kind = kind;
	io.namespace = ctl->ns;
	io.handler = on_change;
	io.ctx = k;
	k->inf = informer_new(ctl->cfg, &io);
	if (!k->inf)
		return -1;
	ctl->nkinds++;
	return 0;
}

static struct kind_entry *find_kind(struct controller *ctl, const char *kind)
{
	for (int i = 0; i < ctl->nkinds; i++)
		if (strcmp(ctl->kinds[i].kind->kind, kind) == 0)
			return &ctl->kinds[i];
	return NULL;
}

int controller_skip_status_updates(struct controller *ctl, const struct kube_kind *kind)
{
	struct kind_entry *k = find_kind(ctl, kind->kind);

	if (!k)
		return -1;
	k->skip_status = 1;
	return 0;
}

static void process(struct controller *ctl, struct kube_client *kc, const char *qkey)
{
	char buf[600], ikey[600];
	const char *kind, *ns, *name;
	struct kind_entry *k;
	enum reconcile_result r;
	yajl_val obj;
	long requeue = 0;

	snprintf(buf, sizeof(buf), "%s", qkey);
	if (controller_split_key(buf, &kind, &ns, &name) || !(k = find_kind(ctl, kind))) {
		log_warnx(NULL, "dropping malformed queue key %s", qkey);
		wq_forget(ctl->q, qkey);
		return;
	}
	if (*ns)
		snprintf(ikey, sizeof(ikey), "%s/%s", ns, name);
	else
		snprintf(ikey, sizeof(ikey), "%s", name);
	obj = informer_get(k->inf, ikey);
	kube_client_take_retry_after(kc); /* what this reconcile is told, only */
	r = k->fn(ctl, kc, ns, name, obj, &requeue, k->ctx);
	yajl_tree_free(obj);
	pthread_mutex_lock(&ctl->stat_lock);
	ctl->reconciles++;
	pthread_mutex_unlock(&ctl->stat_lock);
	switch (r) {
	case RECONCILE_DONE:
		wq_forget(ctl->q, qkey);
		break;
	case RECONCILE_REQUEUE:
		wq_forget(ctl->q, qkey);
		wq_add_after(ctl->q, qkey, requeue > 0 ? requeue : 1000);
		break;
	case RECONCILE_RETRY: {
		/* the API server's Retry-After (429 from API Priority and Fairness)
		 * is a floor under the backoff, as client-go keeps it */
		long ra = kube_client_take_retry_after(kc);
		long d = wq_add_rate_limited_min(ctl->q, qkey, ra * 1000);
		if (ra)
			log_debug(qkey, "retrying in %ld ms (Retry-After: %ld)", d, ra);
		else
			log_debug(qkey, "retrying in %ld ms", d);
		break;
	}
	}
}

static void *worker(void *arg)
{
	struct controller *ctl = arg;
	struct kube_client *kc = kube_client_new(ctl->cfg);
	char *key;

	if (!kc) {
		log_errorx(NULL, "worker: out of memory");
		return NULL;
	}
	while (wq_get(ctl->q, &key) == 0) {
		process(ctl, kc, key);
		wq_done(ctl->q, key);
		free(key);
	}
	kube_client_free(kc);
	return NULL;
}

int controller_start(struct controller *ctl)
{
	for (int i = 0; i < ctl->nkinds; i++)
		if (informer_start(ctl->kinds[i].inf))
			return -1;
	for (int i = 0; i < ctl->nkinds; i++) {
		if (informer_wait_synced(ctl->kinds[i].inf, 60000))
			log_warnx(NULL, "informer %s has not synced yet; starting workers anyway",
			          ctl->kinds[i].kind->plural);
	}
	for (int i = 0; i < ctl->o.workers; i++) {
		if (pthread_create(&ctl->workers[i], NULL, worker, ctl))
			return -1;
		ctl->nworkers++;
	}
	log_info(NULL, "controller started: %d kinds, %d workers", ctl->nkinds, ctl->nworkers);
	return 0;
}

void controller_stop(struct controller *ctl)
{
	if (!ctl)
		return;
	for (int i = 0; i < ctl->nkinds; i++)
		informer_stop(ctl->kinds[i].inf);
	wq_shutdown(ctl->q);
	for (int i = 0; i < ctl->nworkers; i++)
		pthread_join(ctl->workers[i], NULL);
	ctl->nworkers = 0;
}

void controller_free(struct controller *ctl)
{
	if (!ctl)
		return;
	controller_stop(ctl);
	for (int i = 0; i < ctl->nkinds; i++)
		informer_free(ctl->kinds[i].inf);
	wq_free(ctl->q);
	free(ctl->ns);
	pthread_mutex_destroy(&ctl->stat_lock);
	free(ctl);
}

struct informer *controller_informer(struct controller *ctl, const struct kube_kind *kind)
{
	struct kind_entry *k = find_kind(ctl, kind->kind);
	return k ? k->inf : NULL;
}

struct workqueue *controller_queue(struct controller *ctl)
{
	return ctl->q;
}

unsigned long controller_reconciles(struct controller *ctl)
{
	unsigned long n;
	pthread_mutex_lock(&ctl->stat_lock);
	n = ctl->reconciles;
	pthread_mutex_unlock(&ctl->stat_lock);
	return n;
}

void controller_log_stats(struct controller *ctl, int force)
{
	unsigned long long v[5];
	char f[5][24];
	long long now = now_ms();

	if (!force && ctl->logged_at && now - ctl->logged_at < 60000)
		return;
	pthread_mutex_lock(&ctl->stat_lock);
	v[0] = ctl->reconciles;
	v[1] = ctl->skipped;
	pthread_mutex_unlock(&ctl->stat_lock);
	v[2] = wq_len(ctl->q);
	v[3] = wq_delayed_len(ctl->q);
	v[4] = ctl->extra_fn ? ctl->extra_fn() : 0;
	if (!force && memcmp(v, ctl->logged, sizeof(v)) == 0)
		return;
	for (int i = 0; i < 5; i++)
		snprintf(f[i], sizeof(f[i]), "%llu", v[i]);
	{
		const char *const kv[] = {
		    "reconciles", f[0],     "skipped",
		    f[1],         "queued", f[2],
		    "delayed",    f[3],     ctl->extra_fn ? ctl->extra_name : NULL,
		    f[4],         NULL};
		log_kv(LOG_INFO, NULL, "stats", kv);
	}
	memcpy(ctl->logged, v, sizeof(v));
	ctl->logged_at = now;
}

#include "controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_KINDS 8
#define MAX_WORKERS 64

struct kind_entry {
	const struct kube_kind *kind;
	reconcile_fn fn;
	void *ctx;
	struct informer *inf;
	struct controller *ctl;
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
};

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

static void on_change(enum informer_event ev, const char *key, yajl_val obj, void *ctx)
{
	struct kind_entry *k = ctx;
	char qkey[600];

	if (snprintf(qkey, sizeof(qkey), "%s/%s", k->kind->kind, key) >= (int)sizeof(qkey))
		return;
	/* every change is enqueued: the queue de-duplicates, and a reconcile of
	 * an unchanged object writes nothing */
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
		long d = wq_add_rate_limited(ctl->q, qkey);
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

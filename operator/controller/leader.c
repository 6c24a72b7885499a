#include "leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jgen.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct leader {
	struct kube_config *cfg;
	struct kube_client *client;
	struct leader_opts o;
	char *ns, *name, *id;
	char what[160];
	pthread_t thread;
	int started;
	volatile sig_atomic_t stop;
	pthread_mutex_t lock;
	int is_leader;
	/* the record as last observed */
	char obs_holder[256];
	char obs_renew[64];
	long long obs_transitions;
	long long obs_ms;
	long long last_renew_ms;
};

int leader_may_acquire(const char *holder, const char *me, long long observed_ms, long long now,
                       int duration_s)
{
	if (!holder || !*holder)
		return 1;
	if (strcmp(holder, me) == 0)
		return 1;
	return now >= observed_ms + (long long)duration_s * 1000;
}

void leader_microtime(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char b[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%06ldZ", b, ts.tv_nsec / 1000);
}

struct leader *leader_new(struct kube_config *cfg, const struct leader_opts *o)
{
	struct leader *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cfg = cfg;
	l->o = *o;
	if (l->o.lease_s <= 0)
		l->o.lease_s = 15;
	if (l->o.renew_deadline_s <= 0 || l->o.renew_deadline_s >= l->o.lease_s)
		l->o.renew_deadline_s = l->o.lease_s * 2 / 3;
	if (l->o.retry_s <= 0 || l->o.retry_s >= l->o.renew_deadline_s)
		l->o.retry_s = l->o.renew_deadline_s / 4 ? l->o.renew_deadline_s / 4 : 1;
	pthread_mutex_init(&l->lock, NULL);
	l->ns = strdup(o->namespace);
	l->name = strdup(o->name);
	l->id = strdup(o->identity);
	l->client = kube_client_new(cfg);
	if (!l->ns || !l->name || !l->id || !l->client) {
		leader_free(l);
		return NULL;
	}
	snprintf(l->what, sizeof(l->what), "lease %s/%s", l->ns, l->name);
	return l;
}

void leader_free(struct leader *l)
{
	if (!l)
		return;
	leader_stop(l);
	kube_client_free(l->client);
	free(l->ns);
	free(l->name);
	free(l->id);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static char *lease_json(struct leader *l, const char *rv, const char *holder, int duration,
                        const char *acquire, const char *renew, long long transitions)
{
	yajl_gen g = jgen_new();

	if (!g)
		return NULL;
	jo(g);
	jkv(g, "apiVersion", "coordination.k8s.io/v1");
	jkv(g, "kind", "Lease");
	jko(g, "metadata");
	jkv(g, "name", l->name);
	jkv(g, "namespace", l->ns);
	if (rv)
		jkv(g, "resourceVersion", rv);
	jc(g);
	jko(g, "spec");
	jkv(g, "holderIdentity", holder);
	jki(g, "leaseDurationSeconds", duration);
	jkv(g, "acquireTime", acquire);
	jkv(g, "renewTime", renew);
	jki(g, "leaseTransitions", transitions);
	jc(g);
	jc(g);
	return jgen_finish(g);
}

/* One attempt to acquire or renew. 1 if we hold the lease afterwards. */
static int try_acquire(struct leader *l)
{
	struct buf path = BUF_INIT(1024), coll = BUF_INIT(1024);
	struct kube_error err;
	yajl_val lease = NULL;
	char now[64], ebuf[700];
	char *body = NULL;
	int held = 0;

	leader_microtime(now, sizeof(now));
	if (kube_path(&path, &KUBE_LEASE, l->ns, l->name, NULL) ||
	    kube_path(&coll, &KUBE_LEASE, l->ns, NULL, NULL))
		goto out;
	if (kube_get(l->client, path.ptr, &lease, &err)) {
		if (!kube_is_not_found(&err)) {
			log_warnx(l->what, "get failed: %s",
			          kube_strerror(&err, ebuf, sizeof(ebuf)));
			goto out;
		}
		body = lease_json(l, NULL, l->id, l->o.lease_s, now, now, 0);
		if (!body)
			goto out;
		if (kube_create(l->client, coll.ptr, body, NULL, &err)) {
			if (!kube_is_conflict(&err) && err.http != 409)
				log_warnx(l->what, "create failed: %s",
				          kube_strerror(&err, ebuf, sizeof(ebuf)));
			goto out;
		}
		snprintf(l->obs_holder, sizeof(l->obs_holder), "%s", l->id);
		snprintf(l->obs_renew, sizeof(l->obs_renew), "%s", now);
		l->obs_ms = now_ms();
		held = 1;
		goto out;
	}
	{
		const char *holder = json_get_str(lease, "spec", "holderIdentity", NULL);
		const char *renew = json_get_str(lease, "spec", "renewTime", NULL);
		const char *acq = json_get_str(lease, "spec", "acquireTime", NULL);
		const char *rv = json_get_str(lease, "metadata", "resourceVersion", NULL);
		long long trans = json_get_int(lease, 0, "spec", "leaseTransitions", NULL);
		long long dur =
		    json_get_int(lease, l->o.lease_s, "spec", "leaseDurationSeconds", NULL);
		long long t = now_ms();

		if (strcmp(holder ? holder : "", l->obs_holder) ||
		    strcmp(renew ? renew : "", l->obs_renew) || trans != l->obs_transitions ||
		    !l->obs_ms) {
			snprintf(l->obs_holder, sizeof(l->obs_holder), "%s", holder ? holder : "");
			snprintf(l->obs_renew, sizeof(l->obs_renew), "%s", renew ? renew : "");
			l->obs_transitions = trans;
			l->obs_ms = t;
		}
		if (!leader_may_acquire(holder, l->id, l->obs_ms, t, (int)dur))
			goto out;
		if (holder && strcmp(holder, l->id) == 0)
			body = lease_json(l, rv, l->id, l->o.lease_s, acq ? acq : now, now, trans);
		else
			body = lease_json(l, rv, l->id, l->o.lease_s, now, now, trans + 1);
		if (!body)
			goto out;
		if (kube_update(l->client, path.ptr, body, NULL, &err)) {
			if (!kube_is_conflict(&err))
				log_warnx(l->what, "update failed: %s",
				          kube_strerror(&err, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (!holder || strcmp(holder, l->id) != 0)
			l->obs_transitions = trans + 1;
		snprintf(l->obs_holder, sizeof(l->obs_holder), "%s", l->id);
		snprintf(l->obs_renew, sizeof(l->obs_renew), "%s", now);
		l->obs_ms = t;
		held = 1;
	}
out:
	free(body);
	yajl_tree_free(lease);
	buf_free(&path);
	buf_free(&coll);
	return held;
}

static void release(struct leader *l)
{
	struct buf path = BUF_INIT(1024);
	struct kube_error err;
	yajl_val lease = NULL;
	char now[64], ebuf[700];
	char *body = NULL;

	leader_microtime(now, sizeof(now));
	if (kube_path(&path, &KUBE_LEASE, l->ns, l->name, NULL) ||
	    kube_get(l->client, path.ptr, &lease, &err))
		goto out;
	{
		const char *holder = json_get_str(lease, "spec", "holderIdentity", NULL);
		if (!holder || strcmp(holder, l->id) != 0)
			goto out; /* someone else holds it now */
		body =
		    lease_json(l, json_get_str(lease, "metadata", "resourceVersion", NULL), "", 1,
		               now, now, json_get_int(lease, 0, "spec", "leaseTransitions", NULL));
	}
	if (body && kube_update(l->client, path.ptr, body, NULL, &err) == 0)
		log_info(l->what, "released");
	else if (body)
		log_warnx(l->what, "release failed: %s", kube_strerror(&err, ebuf, sizeof(ebuf)));
out:
	free(body);
	yajl_tree_free(lease);
	buf_free(&path);
}

static void *run(void *arg)
{
	struct leader *l = arg;

	log_info(l->what, "candidate %s: waiting for leadership", l->id);
	while (!l->stop) {
		int held = try_acquire(l);
		long long t = now_ms();
		int was;

		pthread_mutex_lock(&l->lock);
		was = l->is_leader;
		if (held) {
			l->is_leader = 1;
			l->last_renew_ms = t;
		}
		pthread_mutex_unlock(&l->lock);
		if (held && !was) {
			log_info(l->what, "became leader: %s", l->id);
			if (l->o.on_started)
				l->o.on_started(l->o.ctx);
		}
		if (!held && was &&
		    t - l->last_renew_ms >= (long long)l->o.renew_deadline_s * 1000) {
			pthread_mutex_lock(&l->lock);
			l->is_leader = 0;
			pthread_mutex_unlock(&l->lock);
			log_errorx(l->what, "lost leadership: could not renew within %ds",
			           l->o.renew_deadline_s);
			if (l->o.on_lost)
				l->o.on_lost(l->o.ctx);
			break;
		}
		sleep_unless(&l->stop, l->o.retry_s * 1000L, 100);
	}
	return NULL;
}

int leader_start(struct leader *l)
{
	if (pthread_create(&l->thread, NULL, run, l))
		return -1;
	l->started = 1;
	return 0;
}

int leader_is_leader(struct leader *l)
{
	int v;
	pthread_mutex_lock(&l->lock);
	v = l->is_leader;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void leader_stop(struct leader *l)
{
	if (!l || !l->started)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	l->started = 0;
	if (leader_is_leader(l)) {
		release(l);
		pthread_mutex_lock(&l->lock);
		l->is_leader = 0;
		pthread_mutex_unlock(&l->lock);
	}
}

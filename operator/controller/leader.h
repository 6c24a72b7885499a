/*
 * leader: leader election on a coordination.k8s.io/v1 Lease, as client-go does.
 *
 * Candidates try to acquire the Lease every retry period. The holder renews it
 * every retry period; a candidate takes over only when the holder has not
 * renewed for a whole lease duration, measured on the candidate's own clock
 * from when it last saw the record change (no clock-skew assumption). All writes
 * are optimistic (resourceVersion), so two candidates never both win.
 * A leader that cannot renew within renew_deadline calls on_lost (the operator
 * then exits, so it never acts on a lease it no longer holds). On a clean stop
 * the leader releases the Lease so a successor takes over at once.
 */
#ifndef VW_LEADER_H
#define VW_LEADER_H

#include "kube.h"

struct leader_opts {
	const char *namespace;
	const char *name;
	const char *identity;
	int lease_s;          /* default 15 */
	int renew_deadline_s; /* default 10 */
	int retry_s;          /* default 2 */
	void (*on_started)(void *ctx);
	void (*on_lost)(void *ctx);
	void *ctx;
};

struct leader;

struct leader *leader_new(struct kube_config *cfg, const struct leader_opts *o);
int leader_start(struct leader *l);
int leader_is_leader(struct leader *l);
/* Stop the loop; release the Lease when held. */
void leader_stop(struct leader *l);
void leader_free(struct leader *l);

/* Pure decision, exposed for tests: may `me` write itself into a lease held
 * by `holder` (NULL or "" for free) whose record we last saw change at
 * observed_ms, with the given duration? */
int leader_may_acquire(const char *holder, const char *me, long long observed_ms, long long now,
                       int duration_s);

/* RFC 3339 MicroTime of the wall clock into out ("2026-01-02T03:04:05.123456Z"). */
void leader_microtime(char *out, size_t outlen);

#endif

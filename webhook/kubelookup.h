/*
 * kubelookup: struct wh_lookup on top of the Kubernetes client, for the
 * webhook process.
 *
 * Every admission request gets one time budget (wh_kube_lookup_begin starts
 * it): each GET or LIST runs with the time that is left as its timeout, and
 * once the budget is spent further lookups fail at once, so the webhook
 * answers (with a VW000 denial) before the API server gives up on it.
 * A 404 is WH_LOOKUP_NOT_FOUND; every other failure (403, timeout, 5xx,
 * transport) is WH_LOOKUP_ERROR with the reason, which the rules turn into a
 * denial: never admit what could not be checked.
 *
 * Not thread-safe: one per thread, like the client it borrows.
 */
#ifndef VW_KUBELOOKUP_H
#define VW_KUBELOOKUP_H

#include "kube.h"
#include "rules.h"

struct wh_kube_lookup {
	struct kube_client *kc; /* borrowed */
	long budget_ms;
	long long deadline_ms; /* now_ms() clock */
	unsigned long calls;   /* lookups made since begin */
	/* the API server refused a field selector for this kind (a CRD without
	 * selectableFields, a server before 1.31): list everything from then on */
	int no_field_selectors[8];
};

/* budget_ms <= 0 means 3000. */
void wh_kube_lookup_init(struct wh_kube_lookup *kl, struct kube_client *kc, long budget_ms);
/* Start a request's budget (a void * for the server's hook). */
void wh_kube_lookup_begin(void *kl);
/* Fill lk so that the rules call kl. */
void wh_kube_lookup_bind(struct wh_kube_lookup *kl, struct wh_lookup *lk);

#endif

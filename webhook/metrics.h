/*
 * metrics: the webhook's Prometheus counters and their text exposition.
 *
 * Pure and single-threaded (the server's event loop is the only writer):
 *   vecward_webhook_requests_total{endpoint,result}
 *   vecward_webhook_denials_total{rule}      one per denying finding
 *   vecward_webhook_warnings_total{rule}     one per warning
 *   vecward_webhook_request_duration_seconds{endpoint}  histogram
 *   vecward_webhook_certificate_reloads_total{result}
 *   vecward_webhook_certificate_not_after_timestamp_seconds
 * Every rule of WH_RULES appears from the start (at 0), so dashboards and
 * alerts need no special case for "never fired".
 */
#ifndef VW_METRICS_H
#define VW_METRICS_H

#include "buf.h"
#include "rules.h"

enum wh_metric_ep {
	WH_M_VALIDATE = 0,
	WH_M_MUTATE,
	WH_M_HEALTHZ,
	WH_M_READYZ,
	WH_M_METRICS,
	WH_M_OTHER,
	WH_M_NEP
};
enum wh_metric_result {
	WH_R_ALLOWED = 0,
	WH_R_DENIED,
	WH_R_INVALID,
	WH_R_ERROR,
	WH_R_OK,
	WH_R_NRESULT
};

#define WH_M_MAX_RULES 64
#define WH_M_NBUCKETS  11

struct wh_metrics {
	unsigned long long requests[WH_M_NEP][WH_R_NRESULT];
	unsigned long long denials[WH_M_MAX_RULES];
	unsigned long long warnings[WH_M_MAX_RULES];
	/* latency histogram for validate and mutate (cumulative on output) */
	unsigned long long buckets[2][WH_M_NBUCKETS];
	unsigned long long count[2];
	double sum[2];
	unsigned long long reloads_ok, reloads_failed;
	double cert_not_after; /* unix seconds, 0 unknown */
};

void wh_metrics_init(struct wh_metrics *m);
/* Count one request; findings (may be NULL) adds denials and warnings by rule;
 * seconds goes into the latency histogram for validate and mutate, unless it
 * is negative (a request refused before it was looked at: 405, 413). */
void wh_metrics_observe(struct wh_metrics *m, enum wh_metric_ep ep, enum wh_metric_result r,
                        const struct wh_result *findings, double seconds);
/* Append the Prometheus text exposition (format 0.0.4). 0 or -1. */
int wh_metrics_render(const struct wh_metrics *m, struct buf *out);

#endif

/*
 * metrics: counters and the Prometheus text exposition (see metrics.h).
 */
#include "metrics.h"

#include <string.h>

static const char *const EP_NAMES[WH_M_NEP] = {"validate", "mutate",  "healthz",
                                               "readyz",   "metrics", "other"};
static const char *const RESULT_NAMES[WH_R_NRESULT] = {"allowed", "denied", "invalid", "error",
                                                       "ok"};
static const double BOUNDS[WH_M_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,   0.25,   0.5,   1,    2.5};

void wh_metrics_init(struct wh_metrics *m)
{
	memset(m, 0, sizeof(*m));
}

static int rule_index(const char *id)
{
	for (int i = 0; i < WH_M_MAX_RULES && WH_RULES[i].id; i++)
		if (strcmp(WH_RULES[i].id, id) == 0)
			return i;
	return -1;
}

void wh_metrics_observe(struct wh_metrics *m, enum wh_metric_ep ep, enum wh_metric_result r,
                        const struct wh_result *f, double seconds)
{
	if ((unsigned)ep >= WH_M_NEP || (unsigned)r >= WH_R_NRESULT)
		return;
	m->requests[ep][r]++;
	for (size_t i = 0; f && i < f->n_denials; i++) {
		int k = rule_index(f->denials[i].id);
		if (k >= 0)
			m->denials[k]++;
	}
	for (size_t i = 0; f && i < f->n_warnings; i++) {
		int k = rule_index(f->warnings[i].id);
		if (k >= 0)
			m->warnings[k]++;
	}
	if ((ep == WH_M_VALIDATE || ep == WH_M_MUTATE) && seconds >= 0) {
		int h = ep == WH_M_VALIDATE ? 0 : 1;
		for (int b = 0; b < WH_M_NBUCKETS; b++)
			if (seconds <= BOUNDS[b]) {
				m->buckets[h][b]++;
				break;
			}
		m->count[h]++;
		m->sum[h] += seconds;
	}
}

int wh_metrics_render(const struct wh_metrics *m, struct buf *o)
{
	int rc = 0;

	rc |= buf_adds(o, "# HELP vecward_webhook_requests_total Requests by endpoint and result.\n"
	                  "# TYPE vecward_webhook_requests_total counter\n");
	for (int e = 0; e < WH_M_NEP; e++)
		for (int r = 0; r < WH_R_NRESULT; r++) {
			int admission = e == WH_M_VALIDATE || e == WH_M_MUTATE;
			if (!m->requests[e][r] && !(admission && r < WH_R_OK))
				continue;
			rc |= buf_printf(
			    o,
			    "vecward_webhook_requests_total{endpoint=\"%s\",result=\"%s\"} "
			    "%llu\n",
			    EP_NAMES[e], RESULT_NAMES[r], m->requests[e][r]);
		}
	rc |= buf_adds(o, "# HELP vecward_webhook_denials_total Denying findings by rule ID.\n"
	                  "# TYPE vecward_webhook_denials_total counter\n");
	for (int i = 0; i < WH_M_MAX_RULES && WH_RULES[i].id; i++)
		rc |= buf_printf(o, "vecward_webhook_denials_total{rule=\"%s\"} %llu\n",
		                 WH_RULES[i].id, m->denials[i]);
	rc |= buf_adds(o, "# HELP vecward_webhook_warnings_total Warnings by rule ID.\n"
	                  "# TYPE vecward_webhook_warnings_total counter\n");
	for (int i = 0; i < WH_M_MAX_RULES && WH_RULES[i].id; i++)
		rc |= buf_printf(o, "vecward_webhook_warnings_total{rule=\"%s\"} %llu\n",
		                 WH_RULES[i].id, m->warnings[i]);
	rc |= buf_adds(o, "# HELP vecward_webhook_request_duration_seconds Time to answer an "
	                  "admission request, lookups included.\n"
	                  "# TYPE vecward_webhook_request_duration_seconds histogram\n");
	for (int h = 0; h < 2; h++) {
		unsigned long long cum = 0;
		for (int b = 0; b < WH_M_NBUCKETS; b++) {
			cum += m->buckets[h][b];
			rc |= buf_printf(o,
			                 "vecward_webhook_request_duration_seconds_bucket{endpoint="
			                 "\"%s\",le=\"%g\"} %llu\n",
			                 EP_NAMES[h], BOUNDS[b], cum);
		}
		rc |= buf_printf(
		    o,
		    "vecward_webhook_request_duration_seconds_bucket{endpoint=\"%s\","
		    "le=\"+Inf\"} %llu\n"
		    "vecward_webhook_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
		    "vecward_webhook_request_duration_seconds_count{endpoint=\"%s\"} "
		    "%llu\n",
		    EP_NAMES[h], m->count[h], EP_NAMES[h], m->sum[h], EP_NAMES[h], m->count[h]);
	}
	rc |= buf_printf(o,
	                 "# HELP vecward_webhook_certificate_reloads_total Serving certificate "
	                 "reloads after the files changed.\n"
	                 "# TYPE vecward_webhook_certificate_reloads_total counter\n"
	                 "vecward_webhook_certificate_reloads_total{result=\"ok\"} %llu\n"
	                 "vecward_webhook_certificate_reloads_total{result=\"failed\"} %llu\n"
	                 "# HELP vecward_webhook_certificate_not_after_timestamp_seconds When the "
	                 "serving certificate in use expires.\n"
	                 "# TYPE vecward_webhook_certificate_not_after_timestamp_seconds gauge\n"
	                 "vecward_webhook_certificate_not_after_timestamp_seconds %.0f\n",
	                 m->reloads_ok, m->reloads_failed, m->cert_not_after);
	return rc ? -1 : 0;
}

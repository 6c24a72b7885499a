/*
 * certbench: how long issuing a Cluster's certificates takes, through the
 * operator's own pki module (operator/pki/pki.h), exactly as
 * operator/reconcile/cluster.c does it: a CA (always ECDSA-P256, 10 years)
 * and a server certificate (5 DNS SANs, serverAuth+clientAuth, 2160h) whose
 * key is spec.tls.keyAlgorithm: ECDSA-P256, RSA-2048 or RSA-4096.
 *
 *   certbench [-n N] [-t SECONDS] [-o FILE.json]
 *
 * For every key algorithm: up to N issuances (default 20), stopping early
 * once SECONDS (default 15) have been spent on that algorithm, but never
 * before 3. Prints median/min/max milliseconds of CA + server certificate,
 * and, as the floor, the time to only generate the same two keys with
 * EVP_PKEY_Q_keygen (what issuance can never beat). With -o, writes the
 * bench/out JSON fragment ({"section": "certificates", "rows": [...]}).
 * Figures only: nothing is asserted about them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "pki.h"

#define MAX_ITER        1000
#define MIN_ITER        3
#define CA_LIFETIME_S   ((time_t)10 * 365 * 86400)
#define LEAF_LIFETIME_S ((time_t)2160 * 3600)

static const char *const DNS[] = {"prod", "prod.bench", "prod.bench.svc",
                                  "prod.bench.svc.cluster.local", "localhost"};

struct stats {
	double med, min, max;
	size_t n;
};

struct alg_result {
	enum pki_key_alg alg;
	struct stats total, ca, leaf, floor;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v in place. */
static struct stats stats_of(double *v, size_t n)
{
	struct stats s = {0, 0, 0, n};

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* One CA + server certificate; ca_ms and leaf_ms set on success. */
static int issue_once(enum pki_key_alg alg, double *ca_ms, double *leaf_ms)
{
	struct pki_pair ca = {0}, leaf = {0};
	struct pki_leaf_req req = {
	    .cn = "prod.bench.svc.cluster.local",
	    .dns = DNS,
	    .ndns = sizeof(DNS) / sizeof(DNS[0]),
	    .usage = PKI_USAGE_BOTH,
	    .alg = alg,
	    .lifetime = LEAF_LIFETIME_S,
	};
	time_t now = time(NULL);
	char err[256];
	double t0, t1, t2;
	int rc = -1;

	t0 = now_ms();
	if (pki_ca_create("vecward bench/prod CA", PKI_KEY_ECDSA_P256, CA_LIFETIME_S, now, &ca, err,
	                  sizeof(err))) {
		fprintf(stderr, "certbench: creating the CA: %s\n", err);
		goto out;
	}
	t1 = now_ms();
	if (pki_issue(ca.cert_pem, ca.key_pem, &req, now, &leaf, err, sizeof(err))) {
		fprintf(stderr, "certbench: issuing the %s server certificate: %s\n",
		        pki_key_alg_name(alg), err);
		goto out;
	}
	t2 = now_ms();
	*ca_ms = t1 - t0;
	*leaf_ms = t2 - t1;
	rc = 0;
out:
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
	return rc;
}

static EVP_PKEY *keygen(enum pki_key_alg alg)
{
	switch (alg) {
	case PKI_KEY_ECDSA_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case PKI_KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case PKI_KEY_RSA_4096:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	default:
		return NULL;
	}
}

/* The floor: only the two key generations (CA ECDSA-P256 + leaf alg). */
static int keygen_once(enum pki_key_alg alg, double *ms)
{
	double t0 = now_ms();
	EVP_PKEY *a = keygen(PKI_KEY_ECDSA_P256);
	EVP_PKEY *b = a ? keygen(alg) : NULL;
	double t1 = now_ms();
	int rc = a && b ? 0 : -1;

	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	if (rc)
		fprintf(stderr, "certbench: %s key generation failed\n", pki_key_alg_name(alg));
	*ms = t1 - t0;
	return rc;
}

static int run_alg(enum pki_key_alg alg, long n, double budget_s, struct alg_result *r)
{
	double *tot = calloc((size_t)n, sizeof(double));
	double *ca = calloc((size_t)n, sizeof(double));
	double *leaf = calloc((size_t)n, sizeof(double));
	double *fl = calloc((size_t)n, sizeof(double));
	double start;
	size_t i, j;
	int rc = -1;

	if (!tot || !ca || !leaf || !fl) {
		fprintf(stderr, "certbench: out of memory\n");
		goto out;
	}
	/* one warm-up each (OpenSSL loads providers and tables lazily) */
	if (issue_once(alg, &ca[0], &leaf[0]) || keygen_once(alg, &fl[0]))
		goto out;
	start = now_ms();
	for (i = 0; i < (size_t)n; i++) {
		if (i >= MIN_ITER && now_ms() - start > budget_s * 1e3)
			break;
		if (issue_once(alg, &ca[i], &leaf[i]))
			goto out;
		tot[i] = ca[i] + leaf[i];
	}
	start = now_ms();
	for (j = 0; j < (size_t)n; j++) {
		if (j >= MIN_ITER && now_ms() - start > budget_s * 1e3)
			break;
		if (keygen_once(alg, &fl[j]))
			goto out;
	}
	r->alg = alg;
	r->total = stats_of(tot, i);
	r->ca = stats_of(ca, i);
	r->leaf = stats_of(leaf, i);
	r->floor = stats_of(fl, j);
	rc = 0;
out:
	free(tot);
	free(ca);
	free(leaf);
	free(fl);
	return rc;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void write_stats(FILE *f, const char *name, const struct stats *s)
{
	fprintf(f, "\"%s\": {\"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"n\": %zu}",
	        name, s->med, s->min, s->max, s->n);
}

static int write_json(const char *path, const struct alg_result *r, size_t nr)
{
	FILE *f = fopen(path, "w");
	double load[1] = {-1};

	if (!f) {
		fprintf(stderr, "certbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (getloadavg(load, 1) < 1)
		load[0] = -1;
	/* rows: short details (bench/report.py prints them); context: the rest, once */
	fprintf(f, "{\"section\": \"certificates\", \"rows\": [\n");
	for (size_t i = 0; i < nr; i++) {
		const struct alg_result *a = &r[i];
		fprintf(
		    f,
		    "  {\"metric\": \"issue CA (ECDSA-P256) + server certificate (%s), median\", "
		    "\"value\": %.3f, \"unit\": \"ms\", \"floor\": %.3f, \"ratio\": %.3f, "
		    "\"detail\": {\"min_ms\": %.3f, \"max_ms\": %.3f, \"n\": %zu, "
		    "\"ca_ms\": %.3f, \"server_ms\": %.3f, \"floor\": \"keygen only\", "
		    "\"load\": %.2f}}%s\n",
		    pki_key_alg_name(a->alg), a->total.med, a->floor.med,
		    a->floor.med > 0 ? a->total.med / a->floor.med : 0.0, a->total.min,
		    a->total.max, a->total.n, a->ca.med, a->leaf.med, load[0],
		    i + 1 < nr ? "," : "");
	}
	fprintf(f, "], \"context\": {\"how\": \"operator/pki as operator/reconcile/cluster.c uses "
	           "it: pki_ca_create (ECDSA-P256, 10 years) then pki_issue (5 DNS SANs, "
	           "serverAuth+clientAuth, 2160h, key of spec.tls.keyAlgorithm); times in ms\", "
	           "\"floor\": \"EVP_PKEY_Q_keygen of the same two keys (CA and server), nothing "
	           "else\", \"per_algorithm\": {");
	for (size_t i = 0; i < nr; i++) {
		fprintf(f, "%s\n  \"%s\": {", i ? "," : "", pki_key_alg_name(r[i].alg));
		write_stats(f, "ca_plus_server", &r[i].total);
		fputs(", ", f);
		write_stats(f, "ca", &r[i].ca);
		fputs(", ", f);
		write_stats(f, "server", &r[i].leaf);
		fputs(", ", f);
		write_stats(f, "keygen_floor", &r[i].floor);
		fputs("}", f);
	}
	fprintf(f, "}}}\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "certbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const enum pki_key_alg ALGS[] = {PKI_KEY_ECDSA_P256, PKI_KEY_RSA_2048,
	                                        PKI_KEY_RSA_4096};
	struct alg_result res[sizeof(ALGS) / sizeof(ALGS[0])];
	const char *out = NULL;
	double n = 20, secs = 15;
	size_t i;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
			if (parse_num(argv[++a], MIN_ITER, MAX_ITER, &n)) {
				fprintf(stderr, "certbench: -n: %d to %d\n", MIN_ITER, MAX_ITER);
				return 2;
			}
		} else if (strcmp(argv[a], "-t") == 0 && a + 1 < argc) {
			if (parse_num(argv[++a], 0.1, 3600, &secs)) {
				fprintf(stderr, "certbench: -t: 0.1 to 3600 seconds\n");
				return 2;
			}
		} else if (strcmp(argv[a], "-o") == 0 && a + 1 < argc) {
			out = argv[++a];
		} else {
			fprintf(stderr, "usage: certbench [-n N] [-t SECONDS] [-o FILE.json]\n");
			return 2;
		}
	}
	printf("certificates: CA (ECDSA-P256) + server certificate through operator/pki, "
	       "up to %ld issuances or %.0f s per key algorithm\n",
	       (long)n, secs);
	for (i = 0; i < sizeof(ALGS) / sizeof(ALGS[0]); i++) {
		struct alg_result *r = &res[i];
		if (run_alg(ALGS[i], (long)n, secs, r))
			return 1;
		printf("  %-10s CA+server %8.2f ms median (min %.2f, max %.2f, n=%zu) = CA %.2f + "
		       "server %.2f; floor (keygen only) %.2f ms, ratio %.2f\n",
		       pki_key_alg_name(r->alg), r->total.med, r->total.min, r->total.max,
		       r->total.n, r->ca.med, r->leaf.med, r->floor.med,
		       r->floor.med > 0 ? r->total.med / r->floor.med : 0.0);
		fflush(stdout);
	}
	if (out && write_json(out, res, i))
		return 1;
	return 0;
}

/*
 * admission: AdmissionReview (admission.k8s.io/v1) in and out, and the two
 * webhook endpoints as functions of the request body.
 *
 * wh_admit() is everything /validate and /mutate do, minus HTTP: decode the
 * review (size and depth capped), run the rules (wh_evaluate) or the
 * defaulting (wh_mutate), and encode the response review. It does no I/O of
 * its own; other objects come through the lookup. The server, the unit tests
 * and the fuzzer all call it.
 *
 * Outcomes:
 *   - a body that is not a usable AdmissionReview (malformed or too deep
 *     JSON, wrong apiVersion or kind, no request or uid, a kind or operation
 *     vecward does not handle, a missing object) gets HTTP 400 and a one-line
 *     text/plain reason, never a review;
 *   - otherwise HTTP 200 and a review that echoes request.uid. A denial has
 *     allowed=false and status {code 403, reason Forbidden, message}; warnings
 *     go into response.warnings; a mutation is a base64 JSONPatch
 *     (patchType JSONPatch) when there is anything to add;
 *   - when the rules can not run (out of memory), the answer is a denial:
 *     the webhook never admits what it could not check.
 */
#ifndef VW_ADMISSION_H
#define VW_ADMISSION_H

#include <stddef.h>

#include "buf.h"
#include "rules.h"

#define WH_MAX_BODY  (3u * 1024 * 1024)
#define WH_MAX_DEPTH 64
#define WH_MAX_UID   128

enum wh_endpoint { WH_EP_VALIDATE = 0, WH_EP_MUTATE };

/* A decoded review: borrowed views into root, which it owns. */
struct wh_review {
	yajl_val root;
	const char *uid;
	enum wh_kind kind;
	enum wh_op op;
	const char *ns;
	const char *name; /* may be "" (generateName) */
	yajl_val object;  /* NULL for DELETE */
	yajl_val old;     /* NULL for CREATE */
	int dry_run;
};

/* 0 and a review (free with wh_review_free), or -1 and a one-line reason in
 * err. Never reads more than len bytes; len over WH_MAX_BODY is refused. */
int wh_review_decode(const char *body, size_t len, struct wh_review *out, char *err, size_t errlen);
void wh_review_free(struct wh_review *r);

/* Encode a response review into out (appended). patch_json may be NULL (no
 * patch). 0 or -1. */
int wh_review_encode(const char *uid, int allowed, const char *message,
                     const struct wh_result *findings, const char *patch_json, struct buf *out);

/* What happened, for metrics and the log. */
struct wh_outcome {
	int http;             /* 200 or 400 */
	int allowed;          /* 200 only */
	const char *result;   /* "allowed", "denied" or "invalid" */
	struct wh_result res; /* findings (validate), owned: wh_outcome_free */
	size_t patch_ops;     /* mutate */
	char kind[16];        /* "" when undecoded */
	char op[8];
	char object[320]; /* "ns/name" */
	char uid[WH_MAX_UID + 1];
};

/* Handle one request body. resp receives the HTTP body (JSON review for
 * 200, a text line for 400). 0, or -1 when resp could not be built (out of
 * memory): answer 500 then. out is always initialised. */
int wh_admit(enum wh_endpoint ep, const char *body, size_t len, const struct wh_lookup *lk,
             struct buf *resp, struct wh_outcome *out);
void wh_outcome_free(struct wh_outcome *o);

#endif

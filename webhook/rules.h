/*
 * rules: the vecward admission policy, as pure code.
 *
 * wh_evaluate() decides whether a Cluster, User or EncryptionKey may be
 * written: it returns every violation (a denial) and every non-fatal finding
 * (a warning), each with a stable rule ID (VW000...) and a one-line message
 * that names the field and the fix. wh_mutate() computes the JSONPatch that
 * writes every design default explicitly. docs/policies.md has one row per ID
 * and a unit test keeps the two in step (WH_RULES below is the list).
 *
 * Purity: nothing here does I/O, reads a clock or keeps state. Other objects
 * (the namespace, EncryptionKeys, the referenced Cluster, other Users,
 * Secrets) come through struct wh_lookup, which the webhook implements with
 * the API server, the operator with its informer cache, and the tests with
 * fakes. So the operator runs exactly the webhook's rules during reconcile.
 *
 * Decisions:
 *   - fail closed: when a lookup the decision needs fails with anything but
 *     "not found", the request is denied with VW000 (never admitted unchecked);
 *     a NULL lookup (or NULL function) counts as such a failure;
 *   - GitOps order: a referenced object that does not exist yet (a Cluster's
 *     EncryptionKey, a User's Cluster, a password Secret) is a warning, never a
 *     denial; only what is wrong in every order is denied;
 *   - namespace opt-in: tls.mode disabled, tls.internal false and the local
 *     key provider are admitted with a warning only in a namespace labelled
 *     vecward.io/allow-insecure=true;
 *   - UPDATE of an object whose spec did not change (metadata-only: labels,
 *     finalizers, the operator's own bookkeeping), or of an object being
 *     deleted, is always admitted, so a policy change never wedges cleanup.
 *
 * Ownership: wh_result owns its messages; free it with wh_result_free().
 * Input trees are borrowed and never changed.
 */
#ifndef VW_RULES_H
#define VW_RULES_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "buf.h"

#define WH_GROUP                   "vecward.io"
#define WH_VERSION                 "v1alpha1"
#define WH_LABEL_ALLOW_INSECURE    "vecward.io/allow-insecure"
#define WH_ANNOTATION_CRYPTO_SHRED "vecward.io/allow-crypto-shredding"
#define WH_MAX_KEYS_PER_NAMESPACE  20
/* Findings past this many (per kind of finding) are dropped, and one last
 * entry says so; messages are capped at WH_MAX_MESSAGE bytes. */
#define WH_MAX_FINDINGS 32
#define WH_MAX_MESSAGE  400

enum wh_kind {
	WH_KIND_CLUSTER = 0,
	WH_KIND_USER,
	WH_KIND_ENCRYPTIONKEY,
	/* only looked up, never evaluated: */
	WH_KIND_NAMESPACE,
	WH_KIND_SECRET,
};

/* "Cluster", "User", ... */
const char *wh_kind_name(enum wh_kind k);
/* Kind name ("Cluster", "User", "EncryptionKey") to kind; -1 when not one of
 * the three evaluated kinds. */
int wh_kind_parse(const char *kind, enum wh_kind *out);

enum wh_op {
	WH_OP_CREATE = 0,
	WH_OP_UPDATE,
	WH_OP_DELETE,
	/* the operator re-checking a stored object: like CREATE, except that the
	 * object itself may appear in lookups (it is skipped by name) */
	WH_OP_RECONCILE,
};

/* "CREATE", ... to op; -1 for anything else (CONNECT included). */
int wh_op_parse(const char *s, enum wh_op *out);

/* What lookups return. */
enum { WH_LOOKUP_FOUND = 0, WH_LOOKUP_NOT_FOUND = 1, WH_LOOKUP_ERROR = -1 };

/* Called for each listed item; the item is borrowed for the call only.
 * Return 0 to go on, non-zero to stop the listing early (not an error). */
typedef int (*wh_item_fn)(yajl_val item, void *arg);

struct wh_lookup {
	void *ctx;
	/* One object: ns is NULL for namespaces. On WH_LOOKUP_FOUND *out owns a
	 * new tree (the caller frees it); on WH_LOOKUP_ERROR err says why (one
	 * line, never a secret). */
	int (*get)(void *ctx, enum wh_kind kind, const char *ns, const char *name, yajl_val *out,
	           char *err, size_t errlen);
	/* Every object of kind in ns, fn called for each until it returns
	 * nonzero: WH_LOOKUP_FOUND (even when there are none) or
	 * WH_LOOKUP_ERROR. any_of (NULL-terminated, or NULL) is a hint: field
	 * selectors ("spec.username=alice,spec.clusterRef.name=prod") of which
	 * the objects fn looks for match one; a lookup may pass only those, or
	 * more (fn checks every object it gets). */
	int (*list)(void *ctx, enum wh_kind kind, const char *ns, const char *const *any_of,
	            wh_item_fn fn, void *arg, char *err, size_t errlen);
};

struct wh_input {
	enum wh_kind kind;
	enum wh_op op;
	const char *ns;  /* namespace of the object (required) */
	yajl_val object; /* CREATE, UPDATE, RECONCILE */
	yajl_val old;    /* UPDATE, DELETE */
};

struct wh_finding {
	char id[8]; /* "VW001" */
	char *msg;  /* "VW001: spec.tls.mode ...; fix" (owned) */
};

struct wh_result {
	struct wh_finding *denials;
	size_t n_denials;
	struct wh_finding *warnings;
	size_t n_warnings;
};

/* Evaluate every rule for in. res is initialised here (no need to clear it
 * first); free it with wh_result_free() whatever this returns. 0, or -1 when
 * out of memory or in is unusable (wrong kind, missing object) - the caller
 * must then deny. Allowed exactly when res->n_denials == 0. */
int wh_evaluate(const struct wh_input *in, const struct wh_lookup *lk, struct wh_result *res);
void wh_result_free(struct wh_result *res);

/* All denial messages joined with "; " into out (appended). */
int wh_result_message(const struct wh_result *res, struct buf *out);

/* The JSONPatch (RFC 6902) that adds every design default missing from obj
 * (a Cluster, User or EncryptionKey), appended to out as a JSON array text;
 * "[]" when nothing is missing. Only "add" operations on absent fields; present
 * values are never changed (even invalid ones: validation reports those).
 * *n_ops (may be NULL) gets the number of operations. 0 or -1 (out of memory,
 * obj not an object). */
int wh_mutate(enum wh_kind kind, yajl_val obj, struct buf *out, size_t *n_ops);

/* The rule catalogue, for metrics and docs: IDs in order, ending with a NULL
 * id. kinds is "Cluster", "User", "EncryptionKey" or a comma list. */
struct wh_rule {
	const char *id;
	const char *kinds;
	const char *summary;
};
extern const struct wh_rule WH_RULES[];

/* Pure helpers, exposed for tests and the operator. */

/* Strict Go duration ("2160h", "1h30m", "1.5s"; units ns us µs ms s m h):
 * 0 and seconds, or -1. */
int wh_parse_duration(const char *s, double *seconds);
/* CIDR check: 0 when canonical (no host bits, no leading zeros), 1 when valid
 * but with host bits set (canonical form in canon), -1 when not a CIDR.
 * *prefix gets the prefix length on 0/1. */
int wh_parse_cidr(const char *s, int *prefix, char *canon, size_t canonlen);
/* Milvus user name rule: 1-32 characters, a letter, then letters, digits, _. */
int wh_valid_username(const char *s);
/* KMS key ARN: 0 and the region copied into region, or -1. */
int wh_parse_kms_arn(const char *arn, char *region, size_t regionlen);
/* Password policy for passwords brought by the user: NULL when fine, else a
 * short reason ("is shorter than 12 characters"). Never echoes the value. */
const char *wh_password_problem(const char *pw, size_t len);

#endif

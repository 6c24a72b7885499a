/*
 * apply: the write discipline every reconciler shares.
 *
 *   - apply_ensure(): server-side apply of a rendered object only when the live
 *     object does not already say the same (json_subset), so a resync with
 *     nothing changed writes nothing, and a hand edit or deletion is restored;
 *   - apply_create_once(): for generated secrets (passwords, CA keys): POST,
 *     never apply, so a retry, a restart or a second worker can never replace
 *     what exists; on AlreadyExists the live object is returned instead;
 *   - event_emit(): an events.k8s.io/v1 Event about an object (no secrets).
 *
 * Every write is counted (apply_writes) so tests can prove a no-op resync.
 */
#ifndef VW_APPLY_H
#define VW_APPLY_H

#include <yajl/yajl_tree.h>

#include "kube.h"

enum apply_outcome { APPLY_UNCHANGED = 0, APPLY_CREATED, APPLY_UPDATED };

/* desired: JSON of the whole object (apiVersion, kind, metadata.name,
 * metadata.namespace). *live (may be NULL) gets the object as it now is.
 * force: take ownership of conflicting fields (vecward-owned objects). */
int apply_ensure(struct kube_client *kc, const struct kube_kind *kind, const char *desired,
                 int force, enum apply_outcome *outcome, yajl_val *live, struct kube_error *err);

/* As apply_ensure, when the caller has just read the live object itself:
 * have is it (borrowed), or NULL when it does not exist. Saves a second GET. */
int apply_ensure_known(struct kube_client *kc, const struct kube_kind *kind, const char *desired,
                       int force, yajl_val have, enum apply_outcome *outcome,
                       struct kube_error *err);

/* GET ns/name of kind; 0 and *out, 1 when not found, -1 on error. */
int apply_get(struct kube_client *kc, const struct kube_kind *kind, const char *ns,
              const char *name, yajl_val *out, struct kube_error *err);

/* POST desired unless it exists. *live gets what is stored (ours or the one
 * that was there). *created 1 when ours was written. */
int apply_create_once(struct kube_client *kc, const struct kube_kind *kind, const char *ns,
                      const char *desired, int *created, yajl_val *live, struct kube_error *err);

/* Event about `regarding` (an object tree with apiVersion, kind, metadata).
 * type "Normal" or "Warning"; reason CamelCase; note a human sentence. Errors
 * are logged, never fatal. */
void event_emit(struct kube_client *kc, yajl_val regarding, const char *type, const char *reason,
                const char *action, const char *note);

/* The value of data[key] of a Secret tree, base64-decoded into out. 0, or
 * -1 when absent or malformed. */
struct buf;
int secret_data(yajl_val secret, const char *key, struct buf *out);
/* The same as a new C string (at most max bytes), or NULL when absent,
 * empty or malformed. It holds a secret: release it with secret_str_free,
 * which wipes it (NULL is fine). */
char *secret_data_str(yajl_val secret, const char *key, size_t max);
void secret_str_free(char *s);

/* 1 when obj's controller (the ownerReference with controller: true) is an
 * object of this kind and name with a uid other than uid: an earlier object of
 * that name, deleted since, whose dependents the garbage collector has not
 * removed yet. 0 otherwise (no such controller, the same uid, uid NULL). */
int apply_owned_by_earlier(yajl_val obj, const char *kind, const char *name, const char *uid);

/* 1 when obj's metadata.finalizers holds finalizer. */
int apply_has_finalizer(yajl_val obj, const char *finalizer);

/* Add (want 1) or remove (want 0) one finalizer of obj with a JSON merge patch
 * of the whole list guarded by obj's resourceVersion, so no other
 * controller's finalizer is ever lost (a stale obj gets a conflict: retry).
 * 0, or -1 with err set. */
int apply_set_finalizer(struct kube_client *kc, const struct kube_kind *kind, yajl_val obj,
                        const char *finalizer, int want, struct kube_error *err);

/* Write one metav1.Condition into an open JSON array, keeping the old
 * lastTransitionTime from obj's status when the status did not change. */
#include <yajl/yajl_gen.h>
void apply_gen_condition(yajl_gen g, yajl_val obj, const char *type, int status, const char *reason,
                         const char *message, long long generation, const char *now);

/* Server-side apply of body (a status object of kind, with apiVersion, kind,
 * metadata.name/namespace and status) unless obj's status already says all of
 * it: 0 written, 1 nothing to write, -1 error (err set when the API failed). */
int apply_status_if_changed(struct kube_client *kc, const struct kube_kind *kind, yajl_val obj,
                            const char *body, struct kube_error *err);

/* Total writes (apply/create/update/patch/delete) by this process. */
unsigned long apply_writes(void);
void apply_count_write(void);

/* The identity Events are reported with (set once at start). */
void apply_set_identity(const char *identity);

#endif

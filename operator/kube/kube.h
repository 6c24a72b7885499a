/*
 * kube: a small Kubernetes API client on libcurl.
 *
 * One struct kube_client per thread (it owns a curl handle, so connections are
 * reused across calls); many clients share one read-only struct kube_config.
 * TLS is always verified (CA from the config, or the system store).
 *
 * Every call returns 0 on success or -1, and fills the caller's struct
 * kube_error: the HTTP status (0 when the request never got an answer), and
 * for API errors the parsed metav1.Status reason and message. Out-parameters
 * are set only on success; trees returned are owned by the caller
 * (yajl_tree_free).
 *
 * Paths are built with kube_path() from a struct kube_kind. Responses are
 * capped at KUBE_MAX_RESPONSE bytes and JSON_MAX_DEPTH nesting; watch events
 * at the cap the caller passes.
 */
#ifndef VW_KUBE_H
#define VW_KUBE_H

#include <signal.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "kubeconfig.h"

#define KUBE_MAX_RESPONSE  (64u * 1024 * 1024)
#define KUBE_FIELD_MANAGER "vecward"

struct kube_error {
	long http;          /* HTTP status, 0 for transport errors */
	long code;          /* Status.code when the body was a Status */
	char reason[64];    /* Status.reason ("NotFound", "Conflict", "Expired", ...) */
	char message[512];  /* Status.message or the transport error */
	long retry_after_s; /* the answer's Retry-After (seconds, at most 600), or 0 */
};

/* A resource type: group "" is the core group (/api/v1). */
struct kube_kind {
	const char *group;
	const char *version;
	const char *kind;
	const char *plural;
	int namespaced;
};

extern const struct kube_kind KUBE_SECRET, KUBE_CONFIGMAP, KUBE_SERVICE, KUBE_NAMESPACE,
    KUBE_DEPLOYMENT, KUBE_PVC, KUBE_NETWORKPOLICY, KUBE_LEASE, KUBE_EVENT, KUBE_SERVICEACCOUNT,
    KUBE_VW_CLUSTER, KUBE_VW_USER, KUBE_VW_ENCRYPTIONKEY;

/* Append the URL path of a collection (name NULL) or an object, optionally a
 * subresource; ns NULL for all namespaces / cluster-scoped kinds. */
int kube_path(struct buf *b, const struct kube_kind *k, const char *ns, const char *name,
              const char *subresource);
/* "group/version" or "v1". Static storage; not thread-safe to keep. */
int kube_api_version(const struct kube_kind *k, char *out, size_t outlen);

struct kube_client;

/* cfg must outlive the client. NULL on out of memory. */
struct kube_client *kube_client_new(struct kube_config *cfg);
void kube_client_free(struct kube_client *c);
/* Cap every later request of this client (connect included) at timeout_ms;
 * 0 restores the defaults (10s to connect, 30s in all). Watches keep their
 * own limit. For callers on a deadline, such as the admission webhook. */
void kube_client_set_timeout(struct kube_client *c, long timeout_ms);
/* The longest Retry-After (seconds) an error answer carried since the last
 * call (429 from API Priority and Fairness, 503 ...), then 0 until the next. */
long kube_client_take_retry_after(struct kube_client *c);
/* Counters of requests made by this client, by verb (for benchmarks/tests). */
struct kube_stats {
	unsigned long get, list, watch, apply, create, update, patch, del;
};
void kube_client_stats(const struct kube_client *c, struct kube_stats *out);

/* Fill err from a non-2xx response body (a metav1.Status when it is one). Pure;
 * used by the client and exposed for tests. */
void kube_error_from_body(long http, const char *body, size_t len, struct kube_error *err);
/* "404 NotFound: secrets \"x\" not found" style one-liner into buf. */
const char *kube_strerror(const struct kube_error *err, char *buf, size_t len);
int kube_is_not_found(const struct kube_error *err);
int kube_is_conflict(const struct kube_error *err);
int kube_is_gone(const struct kube_error *err);

/* Raw request: method, path (with query), optional body and content type.
 * On 2xx, *out (may be NULL to discard) gets the parsed body (NULL if empty). */
int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *content_type, const char *body, size_t body_len, yajl_val *out,
                 struct kube_error *err);

/* GET one object by path. */
int kube_get(struct kube_client *c, const char *path, yajl_val *out, struct kube_error *err);

/* Paged LIST of a collection path (which may end in a query of its own, e.g.
 * "?fieldSelector=..."): calls item_cb for every item, page by page
 * (limit per page). The callback borrows the item; it may keep it by returning
 * KUBE_ITEM_TAKEN (the client then will not free it). A callback returning
 * KUBE_ITEM_STOP ends the listing with an error (err->message says so).
 * On success *resource_version (may be NULL) gets the list's
 * resourceVersion (caller frees), the point a watch resumes from. */
enum { KUBE_ITEM_KEEP = 0, KUBE_ITEM_TAKEN = 1, KUBE_ITEM_STOP = 2 };
typedef int (*kube_item_cb)(yajl_val item, void *ctx);
int kube_list(struct kube_client *c, const char *path, const char *label_selector, long limit,
              kube_item_cb item_cb, void *ctx, char **resource_version, struct kube_error *err);

/* Server-side apply (application/apply-patch+yaml; JSON is YAML) to an object
 * path, fieldManager=vecward. force=1 takes ownership of conflicting fields: use
 * it only for fields vecward alone must own. *out may be NULL. */
int kube_apply(struct kube_client *c, const char *path, const char *json, int force, yajl_val *out,
               struct kube_error *err);
/* Server-side apply to the status subresource of an object path. */
int kube_apply_status(struct kube_client *c, const char *path, const char *json, int force,
                      yajl_val *out, struct kube_error *err);
/* JSON merge patch (application/merge-patch+json) to path (or path + "/status"). */
int kube_merge_patch(struct kube_client *c, const char *path, const char *json, yajl_val *out,
                     struct kube_error *err);
/* POST to a collection path; PUT (update, with the resourceVersion inside json
 * for optimistic concurrency) to an object path. */
int kube_create(struct kube_client *c, const char *collection_path, const char *json, yajl_val *out,
                struct kube_error *err);
int kube_update(struct kube_client *c, const char *path, const char *json, yajl_val *out,
                struct kube_error *err);
/* DELETE with optional preconditions (uid, resourceVersion: NULL to skip) and
 * propagationPolicy (NULL: server default; "Foreground", "Background"). A 404
 * is reported as an error; callers that do not care test kube_is_not_found. */
int kube_delete(struct kube_client *c, const char *path, const char *precondition_uid,
                const char *precondition_rv, const char *propagation, struct kube_error *err);

/* WATCH a collection path from resource_version (NULL or "" = now, with the
 * initial ADDED events the server sends), with allowWatchBookmarks, for at
 * most timeout_s seconds (server side). Events are decoded as they stream in;
 * ev_cb gets each event's type ("ADDED", "MODIFIED", "DELETED", "BOOKMARK")
 * and takes ownership of obj. last_rv (a buffer of last_rv_len bytes) is kept
 * current with the newest resourceVersion seen, so the caller resumes from it.
 * Returns 0 when the server ended the watch normally (re-watch from last_rv),
 * -1 on error: kube_is_gone(err) means the resourceVersion is too old (410):
 * relist. stop (may be NULL) is polled about once a second; when it becomes
 * non-zero the watch returns 0. */
typedef int (*kube_event_cb)(const char *type, yajl_val obj, void *ctx);
int kube_watch(struct kube_client *c, const char *path, const char *resource_version,
               const char *label_selector, int timeout_s, size_t max_event_bytes,
               kube_event_cb ev_cb, void *ctx, char *last_rv, size_t last_rv_len,
               volatile sig_atomic_t *stop, struct kube_error *err);

/*
 * The watch stream decoder behind kube_watch, pure and exposed for tests and
 * fuzzing: feed the response body in any chunks. Each event is checked
 * ({"type": ..., "object": {...}}); an ERROR event's Status fills the error
 * (410 -> kube_is_gone) and ends the stream; bookmarks only move last_rv.
 */
struct kube_watch_decoder;
struct kube_watch_decoder *kube_watch_decoder_new(size_t max_event_bytes, kube_event_cb cb,
                                                  void *ctx);
/* 0 to go on; -1 when the stream is over because of an error (see
 * kube_watch_decoder_error) or because the callback returned non-zero. */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const void *data, size_t len);
/* Call at end of stream: -1 if an event was cut off. */
int kube_watch_decoder_finish(struct kube_watch_decoder *d);
const char *kube_watch_decoder_last_rv(const struct kube_watch_decoder *d);
const struct kube_error *kube_watch_decoder_error(const struct kube_watch_decoder *d);
unsigned long kube_watch_decoder_events(const struct kube_watch_decoder *d);
void kube_watch_decoder_free(struct kube_watch_decoder *d);

#endif

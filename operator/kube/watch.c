/* The watch stream decoder: JSON events in, typed events out. Pure (no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kube.h"

struct kube_watch_decoder {
	struct json_stream *js;
	kube_event_cb cb;
	void *ctx;
	char last_rv[128];
	struct kube_error err;
	int failed;
	unsigned long events;
};

static void set_err(struct kube_watch_decoder *d, long http, const char *reason, const char *msg)
{
	d->failed = 1;
	d->err.http = http;
	d->err.code = http;
	snprintf(d->err.reason, sizeof(d->err.reason), "%s", reason);
	snprintf(d->err.message, sizeof(d->err.message), "%s", msg);
}

static int on_value(yajl_val v, void *ctx)
{
	struct kube_watch_decoder *d = ctx;
	const char *type = json_get_str(v, "type", NULL);
	yajl_val obj = json_get(v, "object", NULL);
	const char *rv;
	int stop = 0;

	if (!type || !obj || obj->type != yajl_t_object) {
		set_err(d, 0, "BadWatchEvent", "watch: event without type or object");
		yajl_tree_free(v);
		return 1;
	}
	if (strcmp(type, "ERROR") == 0) {
		const char *m = json_get_str(obj, "message", NULL);
		const char *r = json_get_str(obj, "reason", NULL);
		long code = (long)json_get_int(obj, 500, "code", NULL);
		set_err(d, code, r ? r : "WatchError", m ? m : "watch: error event");
		yajl_tree_free(v);
		return 1;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED") &&
	    strcmp(type, "BOOKMARK")) {
		char msg[160];
		snprintf(msg, sizeof(msg), "watch: unknown event type %.64s", type);
		set_err(d, 0, "BadWatchEvent", msg);
		yajl_tree_free(v);
		return 1;
	}
	rv = json_get_str(obj, "metadata", "resourceVersion", NULL);
	if (rv && strlen(rv) < sizeof(d->last_rv))
		snprintf(d->last_rv, sizeof(d->last_rv), "%s", rv);
	d->events++;
	/* detach obj from the event so the callback owns it */
	for (size_t i = 0; i < v->u.object.len; i++)
		if (v->u.object.values[i] == obj)
			v->u.object.values[i] = NULL;
	{
		char t[16];
		snprintf(t, sizeof(t), "%s", type);
		yajl_tree_free(v);
		if (d->cb)
			stop = d->cb(t, obj, d->ctx);
		else
			yajl_tree_free(obj);
	}
	return stop;
}

struct kube_watch_decoder *kube_watch_decoder_new(size_t max_event_bytes, kube_event_cb cb,
                                                  void *ctx)
{
	struct kube_watch_decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cb = cb;
	d->ctx = ctx;
	d->js = json_stream_new(JSON_MAX_DEPTH, max_event_bytes, on_value, d);
	if (!d->js) {
		free(d);
		return NULL;
	}
	return d;
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const void *data, size_t len)
{
	int rc;

	if (d->failed)
		return -1;
	rc = json_stream_feed(d->js, data, len);
	if (rc == 0)
		return 0;
	if (!d->failed) {
		if (rc == JSON_ECANCEL) {
			d->failed = 1; /* callback asked to stop; no error */
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "watch: %s", json_strerror(rc));
			set_err(d, 0, rc == JSON_ESIZE ? "EventTooLarge" : "BadWatchEvent", msg);
		}
	}
	return -1;
}

int kube_watch_decoder_finish(struct kube_watch_decoder *d)
{
	if (d->failed)
		return -1;
	if (json_stream_finish(d->js) != 0) {
		set_err(d, 0, "TruncatedWatchEvent", "watch: stream ended inside an event");
		return -1;
	}
	return 0;
}

const char *kube_watch_decoder_last_rv(const struct kube_watch_decoder *d)
{
	return d->last_rv;
}

const struct kube_error *kube_watch_decoder_error(const struct kube_watch_decoder *d)
{
	return d->failed && (d->err.http || d->err.reason[0]) ? &d->err : NULL;
}

unsigned long kube_watch_decoder_events(const struct kube_watch_decoder *d)
{
	return d->events;
}

void kube_watch_decoder_free(struct kube_watch_decoder *d)
{
	if (!d)
		return;
	json_stream_free(d->js);
	free(d);
}

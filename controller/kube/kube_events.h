/* kube_events: an Event recorder posting core/v1 Events, like client-go's EventRecorder.
 *
 * kube_events_record() never blocks on the network: it formats the event and puts it on a
 * bounded queue; a background thread posts it. When the queue is full the event is dropped and
 * counted (events are best-effort diagnostics; a stuck API server must not stall reconcilers).
 * Repeats of the same (involved object, type, reason, message) are aggregated: instead of a new
 * Event the thread PATCHes the existing one's count and lastTimestamp (a new Event is created if
 * that one is gone). Messages are truncated to 1024 bytes (on a UTF-8 boundary).
 * Callers must never put secrets in reasons or messages; nothing here can recognise them.
 * All functions are thread-safe. */
#ifndef KUBE_EVENTS_H
#define KUBE_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct kube_error;
struct kube_events;

#define KUBE_EVENT_MESSAGE_MAX 1024

enum kube_event_type {
    KUBE_EVENT_NORMAL,  /* "Normal": something expected happened */
    KUBE_EVENT_WARNING, /* "Warning": something went wrong */
};
const char *kube_event_type_name(enum kube_event_type t);

struct kube_events_options {
    const char *component;  /* source.component, e.g. "commissaire-controller" (copied; req) */
    const char *host;       /* source.host (copied; optional) */
    const char *ns_default; /* namespace for events about cluster-scoped objects. "default" */
    size_t queue_max;       /* queued events before dropping. Default 256 */
    size_t cache_max;       /* aggregation entries remembered (LRU). Default 1024 */
};
void kube_events_options_init(struct kube_events_options *o);

/* Creates the recorder and starts its thread. c must outlive it. Returns 0, -EINVAL (no
 * component), -ENOMEM, -EAGAIN. */
int kube_events_new(struct kube_client *c, const struct kube_events_options *opts,
                    struct kube_events **ret_rec);
/* Posts what is queued (waiting at most flush_timeout_ms), stops the thread and frees.
 * Accepts NULL. */
void kube_events_free(struct kube_events *rec, int64_t flush_timeout_ms);

/* Records an event about obj (borrowed; its apiVersion, kind, metadata.namespace/name/uid/
 * resourceVersion are copied into involvedObject). reason is CamelCase ("HostBootstrapped").
 * Returns 0 (queued), -EAGAIN (queue full: dropped and counted), -EINVAL (obj without kind or
 * name), -ESHUTDOWN, -ENOMEM. */
int kube_events_record(struct kube_events *rec, const json_t *obj, enum kube_event_type type,
                       const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Waits until the queue is empty and the thread idle, or timeout_ms. Returns 0 or -ETIMEDOUT. */
int kube_events_flush(struct kube_events *rec, int64_t timeout_ms);

struct kube_events_stats {
    uint64_t queued;     /* accepted by record() */
    uint64_t dropped;    /* refused because the queue was full */
    uint64_t created;    /* Events POSTed */
    uint64_t aggregated; /* repeats PATCHed into an existing Event */
    uint64_t failed;     /* posts that failed (after the client's retries) */
};
void kube_events_get_stats(struct kube_events *rec, struct kube_events_stats *ret_stats);

#endif

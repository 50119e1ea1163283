/* kube_watch: a long-running watch of one collection, in its own thread, that never loses or
 * duplicates an event across reconnects.
 *
 * The thread loops: GET ...?watch=true&resourceVersion=RV&allowWatchBookmarks=true
 * &timeoutSeconds=T; each event's metadata.resourceVersion (bookmarks included) becomes RV, so a
 * reconnect (server timeout, closed connection, client idle timeout: no byte for idle_timeout_ms,
 * over-long line) resumes exactly after the last delivered event. Reconnects after an error wait
 * a jittered exponential backoff; a clean end of the stream (server timeout) reconnects at once.
 *
 * When the server says RV is too old (HTTP 410, or an ERROR event with code 410 / reason
 * Expired/Gone) the watch cannot resume: it calls relist_cb, whose job is to list the collection
 * again and return the list's resourceVersion, and resumes from that. relist_cb is also called
 * before the first connection when no start resource_version is given. Without relist_cb a 410
 * ends the watch (kube_watch_is_running() becomes 0, kube_watch_last_error() says why).
 *
 * Threading: every callback runs on the watch thread, one at a time. kube_watch_stop() and
 * kube_watch_free() may be called from any thread EXCEPT from inside a callback. Stopping
 * interrupts an open connection or a backoff wait at once, but waits for a relist_cb in progress
 * (it makes ordinary blocking requests). Each (re)connect takes a rate-limiter token and counts
 * as "WATCH" in kube_client_stats(). */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include <jansson.h>
#include <stdint.h>

#include "kube_watch_decoder.h"

struct kube_client;
struct kube_error;
struct kube_resource;
struct kube_watch;

/* One event. object is BORROWED for the call (json_incref() it to keep it). Bookmarks are
 * delivered too (the informer ignores them); ERROR events are handled by the watch itself and
 * not delivered. Return value ignored (reserved: return 0). */
typedef int (*kube_watch_event_cb)(enum kube_watch_event_type type, json_t *object,
                                   void *userdata);
/* Re-list after 410 (or at start). On success return 0 and store a malloc'ed resourceVersion in
 * *ret_resource_version (the watch frees it). A negative return is retried after a backoff. */
typedef int (*kube_watch_relist_cb)(char **ret_resource_version, void *userdata);

struct kube_watch_options {
    const char *ns;                /* namespace; NULL/"" = all namespaces (copied) */
    const char *label_selector;    /* copied; NULL: none */
    const char *field_selector;    /* copied; NULL: none */
    const char *resource_version;  /* start after this RV (copied); NULL: call relist_cb first
                                      (or, without relist_cb, start from "now") */
    int64_t timeout_seconds;       /* server-side timeout per connection. Default 300 */
    int64_t idle_timeout_ms;       /* no byte for this long -> reconnect. Default 90000 (the
                                      server sends bookmarks about every minute) */
    int64_t backoff_base_ms;       /* first reconnect delay after an error. Default 200 */
    int64_t backoff_cap_ms;        /* largest reconnect delay. Default 30000 */
    size_t max_event_bytes;        /* longest event line. Default 16 MiB */
    kube_watch_event_cb event_cb;  /* required */
    kube_watch_relist_cb relist_cb; /* optional, see above */
    void *userdata;                /* passed to the callbacks */
};
/* Fills o with the defaults (callbacks NULL). */
void kube_watch_options_init(struct kube_watch_options *o);

/* Counters, for tests and metrics. */
struct kube_watch_stats {
    uint64_t connects;   /* watch requests started */
    uint64_t events;     /* events delivered (bookmarks included) */
    uint64_t bookmarks;  /* of which bookmarks */
    uint64_t relists;    /* successful relist_cb calls */
    uint64_t gone;       /* 410 responses / ERROR 410 events seen */
    uint64_t idle_timeouts; /* connections dropped by the idle timeout */
};

/* Creates the watch and starts its thread. c and res must outlive the watch; opts' strings are
 * copied. Returns 0, -EINVAL (no event_cb), -ENOMEM, -EAGAIN (thread). On failure no callback is
 * ever called. */
int kube_watch_start(struct kube_client *c, const struct kube_resource *res,
                     const struct kube_watch_options *opts, struct kube_watch **ret_watch,
                     struct kube_error *err);
/* Asks the thread to stop and waits for it: an in-flight connection is aborted within ~100 ms;
 * after the return no callback runs any more. Idempotent. Not from a callback. */
void kube_watch_stop(struct kube_watch *w);
/* Stops (if needed) and frees. Accepts NULL. */
void kube_watch_free(struct kube_watch *w);
/* 1 while the thread runs (it ends on stop, or on 410 without relist_cb). Thread-safe. */
int kube_watch_is_running(struct kube_watch *w);
/* A malloc'ed copy of the resourceVersion the next reconnect resumes from (NULL if none yet).
 * Thread-safe. */
char *kube_watch_resource_version(struct kube_watch *w);
/* Copies the counters. Thread-safe. */
void kube_watch_get_stats(struct kube_watch *w, struct kube_watch_stats *ret_stats);
/* Copies the last connection error (the reason of the last reconnect or of the end) into err
 * (which the caller then owns; kube_error_done() it). Returns its errno, or 0 if none. */
int kube_watch_last_error(struct kube_watch *w, struct kube_error *err);

#endif

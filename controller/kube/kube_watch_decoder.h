/* kube_watch_decoder: splits a watch response stream into JSON lines and parses watch events.
 *
 * A watch response is a chunked HTTP body of newline-separated JSON objects
 * {"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}}. curl hands the body over in
 * arbitrary pieces (a line may arrive in many pieces, several lines in one), so the decoder keeps
 * the unfinished tail of a line between calls. A line longer than max_line is an error (the
 * watch reconnects) instead of unbounded memory. Pure and single-owner: no threads, no I/O. */
#ifndef KUBE_WATCH_DECODER_H
#define KUBE_WATCH_DECODER_H

#include <jansson.h>
#include <stddef.h>

#include "cm_buf.h"

struct kube_error;

enum kube_watch_event_type {
    KUBE_WATCH_ADDED,    /* an object was created (or is in the initial state) */
    KUBE_WATCH_MODIFIED, /* an object changed */
    KUBE_WATCH_DELETED,  /* an object was deleted; object is its last state */
    KUBE_WATCH_BOOKMARK, /* only metadata.resourceVersion is meaningful: progress marker */
    KUBE_WATCH_ERROR,    /* object is a metav1.Status (code 410: resourceVersion too old) */
};
/* "ADDED", ... (static string; "UNKNOWN" for out-of-range values). */
const char *kube_watch_event_type_name(enum kube_watch_event_type t);

/* Called for each complete line (without the '\n'; a trailing '\r' is removed, empty lines are
 * skipped). line is NUL-terminated and valid only during the call. A negative return stops
 * feeding and is returned by kube_watch_decoder_feed(). */
typedef int (*kube_watch_line_cb)(const char *line, size_t len, void *userdata);

struct kube_watch_decoder {
    struct cm_buf line; /* the unfinished line so far */
    size_t max_line;    /* longest line accepted */
};

/* Initialises a decoder accepting lines up to max_line bytes (0: 16 MiB). Never fails. */
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line);
/* Frees the buffered tail. Accepts a decoder that was never fed. */
void kube_watch_decoder_done(struct kube_watch_decoder *d);
/* Drops any buffered partial line (used when a connection is replaced). */
void kube_watch_decoder_reset(struct kube_watch_decoder *d);
/* Feeds n bytes, calling line_cb for each line completed by them. Returns 0; -E2BIG when a line
 * exceeds max_line (the buffered line is dropped; the caller should reconnect); -ENOMEM; or the
 * callback's negative return. */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t n,
                            kube_watch_line_cb line_cb, void *userdata);
/* Bytes of an unfinished line currently buffered (a stream that ends with some is truncated). */
size_t kube_watch_decoder_pending(const struct kube_watch_decoder *d);

/* Parses one line into an event. On success *ret_type is set and *ret_obj is a NEW reference
 * to the "object" member. Errors: -EBADMSG (not JSON, not an object, unknown type, missing or
 * non-object "object"; err's message says which), -ENOMEM. */
int kube_watch_event_parse(const char *line, size_t len, enum kube_watch_event_type *ret_type,
                           json_t **ret_obj, struct kube_error *err);

#endif

/* kube_watch_decoder: newline framing of a watch stream, and event parsing. */
#include "kube_watch_decoder.h"

#include <errno.h>
#include <string.h>

#include "kube_error.h"

#define DEFAULT_MAX_LINE (16u * 1024 * 1024)

static const char *const TYPE_NAMES[] = {
    [KUBE_WATCH_ADDED] = "ADDED",       [KUBE_WATCH_MODIFIED] = "MODIFIED",
    [KUBE_WATCH_DELETED] = "DELETED",   [KUBE_WATCH_BOOKMARK] = "BOOKMARK",
    [KUBE_WATCH_ERROR] = "ERROR",
};

const char *kube_watch_event_type_name(enum kube_watch_event_type t) {
    if ((unsigned)t >= sizeof(TYPE_NAMES) / sizeof(TYPE_NAMES[0]))
        return "UNKNOWN";
    return TYPE_NAMES[t];
}

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line) {
    d->max_line = max_line ? max_line : DEFAULT_MAX_LINE;
    cm_buf_init(&d->line, d->max_line);
}

void kube_watch_decoder_done(struct kube_watch_decoder *d) {
    cm_buf_done(&d->line);
}

void kube_watch_decoder_reset(struct kube_watch_decoder *d) {
    cm_buf_reset(&d->line);
}

size_t kube_watch_decoder_pending(const struct kube_watch_decoder *d) {
    return d->line.len;
}

/* p is the decoder's own buffer, so the '\r' of a CRLF ending can be cut in place and the
 * line stays NUL-terminated at its new length. */
static int emit(char *p, size_t n, kube_watch_line_cb cb, void *ud) {
    if (n > 0 && p[n - 1] == '\r')
        p[--n] = '\0';
    if (n == 0)
        return 0;
    return cb(p, n, ud);
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t n,
                            kube_watch_line_cb cb, void *ud) {
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        /* The cap is the buffer's: an over-long line fails here whether it arrives whole or in
         * pieces, and the partial line is dropped so the decoder can be reused after a
         * reconnect. */
        int r = cm_buf_append(&d->line, data, take);
        if (r < 0) {
            cm_buf_reset(&d->line);
            return r;
        }
        if (!nl)
            return 0;
        /* The line is complete: hand it over and empty the buffer before the callback runs, so
         * that a callback error leaves the decoder consistent. */
        r = emit(d->line.data, d->line.len, cb, ud);
        cm_buf_reset(&d->line);
        if (r < 0)
            return r;
        data += take + 1;
        n -= take + 1;
    }
    return 0;
}

int kube_watch_event_parse(const char *line, size_t len, enum kube_watch_event_type *ret_type,
                           json_t **ret_obj, struct kube_error *err) {
    json_error_t je;
    json_t *ev = json_loadb(line, len, 0, &je);
    if (!ev) {
        kube_error_set(err, 0, NULL, "watch event is not JSON: %s", je.text);
        return -EBADMSG;
    }
    int r = -EBADMSG;
    if (!json_is_object(ev)) {
        kube_error_set(err, 0, NULL, "watch event is not a JSON object");
        goto out;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    int t = -1;
    for (size_t i = 0; type && i < sizeof(TYPE_NAMES) / sizeof(TYPE_NAMES[0]); i++)
        if (strcmp(type, TYPE_NAMES[i]) == 0)
            t = (int)i;
    if (t < 0) {
        kube_error_set(err, 0, NULL, "watch event has an unknown type");
        goto out;
    }
    json_t *obj = json_object_get(ev, "object");
    if (!json_is_object(obj)) {
        kube_error_set(err, 0, NULL, "watch event has no object");
        goto out;
    }
    *ret_type = (enum kube_watch_event_type)t;
    *ret_obj = json_incref(obj);
    r = 0;
out:
    json_decref(ev);
    return r;
}

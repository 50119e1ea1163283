/* kube_url: API paths and query strings. */
#include "kube_url.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cm_buf.h"
#include "kube_client.h"

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Both escapers keep only RFC 3986 unreserved characters: simple and never ambiguous. Path
 * segments could keep more (':' '@' ...) but a Kubernetes name never needs them. */
static int escape(struct cm_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int r;
        if (is_unreserved(*p)) {
            r = cm_buf_append(out, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            r = cm_buf_append(out, enc, 3);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int kube_url_escape_segment(struct cm_buf *out, const char *s) {
    return escape(out, s);
}

int kube_url_escape_query(struct cm_buf *out, const char *s) {
    return escape(out, s);
}

static int segment(struct cm_buf *out, const char *s) {
    int r = cm_buf_puts(out, "/");
    return r < 0 ? r : escape(out, s);
}

int kube_url_path(struct cm_buf *out, const struct kube_resource *res, const char *ns,
                  const char *name, const char *subresource) {
    if (!res || !res->version || !*res->version || !res->resource || !*res->resource)
        return -EINVAL;
    if (name && !*name)
        return -EINVAL;
    if (subresource && *subresource && !name)
        return -EINVAL;
    if (res->namespaced && name && (!ns || !*ns))
        return -EINVAL;
    /* "." and ".." as segments would be normalised away by URL handling: never valid names. */
    if (name && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
        return -EINVAL;
    if (ns && (strcmp(ns, ".") == 0 || strcmp(ns, "..") == 0))
        return -EINVAL;
    int r;
    if (!res->group || !*res->group) {
        r = cm_buf_puts(out, "/api");
    } else {
        r = cm_buf_puts(out, "/apis");
        if (r >= 0)
            r = segment(out, res->group);
    }
    if (r >= 0)
        r = segment(out, res->version);
    if (r >= 0 && res->namespaced && ns && *ns) {
        r = cm_buf_puts(out, "/namespaces");
        if (r >= 0)
            r = segment(out, ns);
    }
    if (r >= 0)
        r = segment(out, res->resource);
    if (r >= 0 && name)
        r = segment(out, name);
    if (r >= 0 && subresource && *subresource)
        r = segment(out, subresource);
    return r < 0 ? r : 0;
}

int kube_url_query_add(struct cm_buf *out, const char *key, const char *value) {
    int has_q = out->data && memchr(out->data, '?', out->len) != NULL;
    int r = cm_buf_puts(out, has_q ? "&" : "?");
    if (r >= 0)
        r = escape(out, key);
    if (r >= 0)
        r = cm_buf_puts(out, "=");
    if (r >= 0)
        r = escape(out, value);
    return r < 0 ? r : 0;
}

int kube_url_list_query(struct cm_buf *out, const struct kube_list_options *o, int watch,
                        int allow_bookmarks) {
    int r = 0;
    char num[32];
    if (watch) {
        r = kube_url_query_add(out, "watch", "true");
        if (r >= 0 && allow_bookmarks)
            r = kube_url_query_add(out, "allowWatchBookmarks", "true");
    }
    if (!o)
        return r;
    if (r >= 0 && o->label_selector && *o->label_selector)
        r = kube_url_query_add(out, "labelSelector", o->label_selector);
    if (r >= 0 && o->field_selector && *o->field_selector)
        r = kube_url_query_add(out, "fieldSelector", o->field_selector);
    if (r >= 0 && o->limit > 0) {
        snprintf(num, sizeof(num), "%" PRId64, o->limit);
        r = kube_url_query_add(out, "limit", num);
    }
    if (r >= 0 && o->continue_token && *o->continue_token)
        r = kube_url_query_add(out, "continue", o->continue_token);
    if (r >= 0 && o->resource_version && *o->resource_version)
        r = kube_url_query_add(out, "resourceVersion", o->resource_version);
    if (r >= 0 && o->timeout_seconds > 0) {
        snprintf(num, sizeof(num), "%" PRId64, o->timeout_seconds);
        r = kube_url_query_add(out, "timeoutSeconds", num);
    }
    return r < 0 ? r : 0;
}

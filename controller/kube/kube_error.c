/* kube_error: parsing metav1.Status and mapping it to errno values. */
#include "kube_error.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_buf.h"

/* Status bodies larger than this are not parsed: a Status is small, anything bigger is some
 * other document and only its beginning is worth quoting. */
#define STATUS_PARSE_MAX (256 * 1024)
#define BODY_QUOTE_MAX 200

void kube_error_init(struct kube_error *e) {
    memset(e, 0, sizeof(*e));
    e->retry_after_ms = -1;
}

void kube_error_done(struct kube_error *e) {
    if (!e)
        return;
    free(e->reason);
    free(e->message);
    for (size_t i = 0; i < e->n_causes; i++) {
        free(e->causes[i].reason);
        free(e->causes[i].message);
        free(e->causes[i].field);
    }
    free(e->causes);
    kube_error_init(e);
}

void kube_error_move(struct kube_error *dst, struct kube_error *src) {
    if (dst == src)
        return;
    if (!dst) {
        kube_error_done(src);
        return;
    }
    kube_error_done(dst);
    *dst = *src;
    kube_error_init(src);
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

void kube_error_set(struct kube_error *e, int http_code, const char *reason, const char *fmt, ...) {
    if (!e)
        return;
    kube_error_done(e);
    e->http_code = http_code;
    e->reason = dup_or_null(reason);
    struct cm_buf b;
    cm_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    int r = cm_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (r < 0 && r != -E2BIG) {
        cm_buf_done(&b);
        return;
    }
    e->message = cm_buf_steal(&b);
}

const char *kube_error_reason_for_code(int code) {
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 408: return "Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
    }
}

int kube_error_errno(int code, const char *reason) {
    if (code == 0)
        return -EIO;
    if (code < 400)
        return 0;
    switch (code) {
    case 400: return -EINVAL;
    case 401: return -EACCES;
    case 403: return -EPERM;
    case 404: return -ENOENT;
    case 405: return -EOPNOTSUPP;
    case 408: return -ETIMEDOUT;
    case 409: return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
    case 410: return -ERANGE;
    case 422: return -EINVAL;
    case 429: return -EBUSY;
    case 504: return -ETIMEDOUT;
    default: return code >= 500 ? -EIO : -EPROTO;
    }
}

/* Quotes the start of a non-Status body, keeping only printable characters, so that an HTML
 * error page from a proxy cannot inject control sequences into logs. */
static char *quote_body(const char *body, size_t n) {
    if (n > BODY_QUOTE_MAX)
        n = BODY_QUOTE_MAX;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        if (ch >= 0x20 && ch != 0x7f)
            s[j++] = (char)ch;
    }
    while (j > 0 && s[j - 1] == ' ')
        j--;
    s[j] = '\0';
    return s;
}

static char *json_str_dup(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

static int parse_status(struct kube_error *e, json_t *st) {
    const char *kind = json_string_value(json_object_get(st, "kind"));
    if (!kind || strcmp(kind, "Status") != 0)
        return -EINVAL;
    e->reason = json_str_dup(st, "reason");
    e->message = json_str_dup(st, "message");
    json_int_t c = json_integer_value(json_object_get(st, "code"));
    if (c >= 100 && c < 600 && e->http_code == 0)
        e->http_code = (int)c;
    json_t *details = json_object_get(st, "details");
    json_t *ra = json_object_get(details, "retryAfterSeconds");
    if (json_is_integer(ra) && json_integer_value(ra) >= 0 && json_integer_value(ra) < 86400)
        e->retry_after_ms = (int64_t)json_integer_value(ra) * 1000;
    json_t *causes = json_object_get(details, "causes");
    size_t n = json_is_array(causes) ? json_array_size(causes) : 0;
    if (n > 0) {
        e->causes = calloc(n, sizeof(*e->causes));
        if (!e->causes)
            return -ENOMEM;
        size_t idx;
        json_t *cz;
        json_array_foreach(causes, idx, cz) {
            if (!json_is_object(cz))
                continue;
            struct kube_status_cause *k = &e->causes[e->n_causes++];
            k->reason = json_str_dup(cz, "reason");
            k->message = json_str_dup(cz, "message");
            k->field = json_str_dup(cz, "field");
        }
    }
    return 0;
}

int kube_error_from_response(struct kube_error *e, int http_code, const char *body, size_t n) {
    if (!e)
        return kube_error_errno(http_code, NULL);
    kube_error_done(e);
    e->http_code = http_code;
    json_t *st = NULL;
    if (body && n > 0 && n <= STATUS_PARSE_MAX)
        st = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
    if (!st || parse_status(e, st) < 0) {
        free(e->reason);
        free(e->message);
        e->reason = NULL;
        e->message = n > 0 ? quote_body(body, n) : NULL;
    }
    json_decref(st);
    e->http_code = http_code;
    if (!e->reason && http_code >= 400)
        e->reason = strdup(kube_error_reason_for_code(http_code));
    if (!e->message && http_code >= 400) {
        const char *r = kube_error_reason_for_code(http_code);
        size_t len = strlen(r) + 32;
        e->message = malloc(len);
        if (e->message)
            snprintf(e->message, len, "HTTP %d %s", http_code, r);
    }
    return kube_error_errno(http_code, e->reason);
}

static int has_reason(const struct kube_error *e, const char *r) {
    return e->reason && strcmp(e->reason, r) == 0;
}

int kube_error_is_not_found(const struct kube_error *e) {
    return e && e->http_code == 404;
}

int kube_error_is_conflict(const struct kube_error *e) {
    return e && e->http_code == 409 && !has_reason(e, "AlreadyExists");
}

int kube_error_is_already_exists(const struct kube_error *e) {
    return e && e->http_code == 409 && has_reason(e, "AlreadyExists");
}

int kube_error_is_gone(const struct kube_error *e) {
    return e && (e->http_code == 410 || has_reason(e, "Expired") || has_reason(e, "Gone"));
}

int kube_error_is_invalid(const struct kube_error *e) {
    return e && e->http_code == 422;
}

int kube_error_is_transport(const struct kube_error *e) {
    return e && e->http_code == 0 && e->message != NULL;
}

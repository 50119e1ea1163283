/* kl_status: Status objects with the real API server's reasons and wording, and the JSON
 * response helpers. */
#include "kl_server.h"

#include "kl_http.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kl_err_done(struct kl_err *err) {
    free(err->message);
    json_decref(err->details);
    memset(err, 0, sizeof(*err));
}

void kl_err_set(struct kl_err *err, int code, const char *reason, json_t *details,
                const char *fmt, ...) {
    kl_err_done(err);
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&err->message, fmt, ap) < 0)
        err->message = NULL;
    va_end(ap);
    err->code = code;
    err->reason = reason;
    err->details = details;
}

json_t *kl_err_details(const struct kl_rtype *rt, const char *name) {
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (rt->group[0])
        json_object_set_new(d, "group", json_string(rt->group));
    json_object_set_new(d, "kind", json_string(rt->resource));
    return d;
}

void kl_err_not_found(struct kl_err *err, const struct kl_rtype *rt, const char *name) {
    char q[512];
    kl_err_set(err, 404, "NotFound", kl_err_details(rt, name), "%s \"%s\" not found",
               kl_rtype_qualified(rt, q, sizeof(q)), name);
}

void kl_err_already_exists(struct kl_err *err, const struct kl_rtype *rt, const char *name) {
    char q[512];
    kl_err_set(err, 409, "AlreadyExists", kl_err_details(rt, name), "%s \"%s\" already exists",
               kl_rtype_qualified(rt, q, sizeof(q)), name);
}

void kl_err_conflict(struct kl_err *err, const struct kl_rtype *rt, const char *name) {
    char q[512];
    kl_err_set(err, 409, "Conflict", kl_err_details(rt, name),
               "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
               "apply your changes to the latest version and try again",
               kl_rtype_qualified(rt, q, sizeof(q)), name);
}

void kl_err_invalid(struct kl_err *err, const struct kl_rtype *rt, const char *name,
                    json_t *causes) {
    /* The real message: `Kind.group "name" is invalid: <field>: <message>` and, with several
     * causes, the list in brackets joined by ", ". */
    char *list = NULL;
    size_t n = json_array_size(causes);
    size_t cap = 0;
    FILE *f = open_memstream(&list, &cap);
    if (f) {
        if (n > 1)
            fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            json_t *c = json_array_get(causes, i);
            const char *field = json_string_value(json_object_get(c, "field"));
            const char *msg = json_string_value(json_object_get(c, "message"));
            if (i)
                fputs(", ", f);
            if (field && *field)
                fprintf(f, "%s: %s", field, msg ? msg : "");
            else
                fputs(msg ? msg : "", f);
        }
        if (n > 1)
            fputc(']', f);
        fclose(f);
    }
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (rt->group[0])
        json_object_set_new(d, "group", json_string(rt->group));
    json_object_set_new(d, "kind", json_string(rt->kind));
    json_object_set_new(d, "causes", causes);
    if (rt->group[0])
        kl_err_set(err, 422, "Invalid", d, "%s.%s \"%s\" is invalid: %s", rt->kind, rt->group,
                   name ? name : "", list ? list : "");
    else
        kl_err_set(err, 422, "Invalid", d, "%s \"%s\" is invalid: %s", rt->kind, name ? name : "",
                   list ? list : "");
    free(list);
}

json_t *kl_err_status(const struct kl_err *err) {
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message",
                           err->message ? err->message : "", "reason",
                           err->reason ? err->reason : "", "code", err->code);
    if (!st)
        return NULL;
    if (err->details)
        json_object_set(st, "details", err->details);
    if (!err->reason || !*err->reason)
        json_object_del(st, "reason");
    return st;
}

void kl_send_err(struct kl_http_conn *conn, const struct kl_err *err) {
    json_t *st = kl_err_status(err);
    char *s = st ? json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(st);
    char hdr[64] = "";
    if (err->retry_after)
        snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", err->retry_after);
    if (!s) {
        kl_http_respond(conn, 500, "text/plain", "out of memory\n", 14, NULL);
        return;
    }
    kl_http_respond(conn, err->code, "application/json", s, strlen(s), hdr[0] ? hdr : NULL);
    free(s);
}

void kl_send_status(struct kl_http_conn *conn, int code, const char *reason, const char *message) {
    struct kl_err err = {0};
    kl_err_set(&err, code, reason, NULL, "%s", message);
    kl_send_err(conn, &err);
    kl_err_done(&err);
}

void kl_send_raw(struct kl_http_conn *conn, int code, const char *json, size_t len) {
    kl_http_respond(conn, code, "application/json", json, len, NULL);
}

void kl_send_json(struct kl_http_conn *conn, int code, const json_t *doc) {
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) {
        kl_http_respond(conn, 500, "text/plain", "out of memory\n", 14, NULL);
        return;
    }
    kl_send_raw(conn, code, s, strlen(s));
    free(s);
}

const char *kl_now(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *kl_uuid(char *buf, size_t n) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)rand();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, n,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return buf;
}

void kl_cause_add(json_t *causes, const char *reason, const char *field, const char *fmt, ...) {
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", reason, "message",
                                            msg ? msg : "", "field", field));
    free(msg);
}

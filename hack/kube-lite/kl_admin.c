/* kl_admin: the fault-injection listener (plain HTTP, no authentication; see README.md). */
#include "kl_server.h"

#include "kl_fault.h"
#include "kl_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void send_json(struct kl_http_conn *conn, int code, json_t *doc) {
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!s) {
        kl_http_respond(conn, 500, "text/plain", "oom\n", 4, NULL);
        return;
    }
    kl_http_respond(conn, code, "application/json", s, strlen(s), NULL);
    free(s);
}

static void bad(struct kl_http_conn *conn, const char *msg) {
    send_json(conn, 400, json_pack("{s:s}", "error", msg));
}

static int int_param(const struct kl_http_req *req, const char *name, int def, int *ok) {
    const char *v = kl_http_req_param(req, name);
    if (!v || !*v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end)
        *ok = 0;
    return (int)x;
}

void kl_admin_handle(struct kl_http_conn *conn, const struct kl_http_req *req, void *userdata) {
    struct kl_server *srv = userdata;
    struct kl_store *s = &srv->store;
    const char *p = req->path;
    const char *m = req->method;
    if (strcmp(p, "/healthz") == 0) {
        kl_http_respond(conn, 200, "text/plain", "ok", 2, NULL);
    } else if (strcmp(p, "/stats") == 0 && strcmp(m, "GET") == 0) {
        size_t objects = 0;
        pthread_rwlock_rdlock(&s->lock);
        for (size_t t = 0; t < s->n_types; t++)
            if (!s->types[t]->removed)
                objects += s->types[t]->n;
        uint64_t rv = s->rv, oldest = kl_store_oldest(s);
        pthread_rwlock_unlock(&s->lock);
        send_json(conn, 200,
                  json_pack("{s:I,s:I,s:i,s:I,s:I}", "resourceVersion", (json_int_t)rv, "objects",
                            (json_int_t)objects, "watches", atomic_load(&srv->watches),
                            "historyOldest", (json_int_t)oldest, "requests",
                            (json_int_t)atomic_load(&srv->requests)));
    } else if (strcmp(p, "/faults/watches/close") == 0 && strcmp(m, "POST") == 0) {
        int n = atomic_load(&srv->watches);
        kl_store_close_watches(s, 0);
        send_json(conn, 200, json_pack("{s:i}", "closed", n));
    } else if (strcmp(p, "/faults/history/drop") == 0 && strcmp(m, "POST") == 0) {
        uint64_t floor = kl_store_drop_history(s);
        /* wake watchers so that those behind the floor notice at once */
        kl_store_wake_watchers(s);
        send_json(conn, 200, json_pack("{s:I}", "oldest", (json_int_t)floor));
    } else if (strcmp(p, "/faults/requests") == 0 && strcmp(m, "POST") == 0) {
        int ok = 1;
        const char *prefix = kl_http_req_param(req, "pathPrefix");
        const char *method = kl_http_req_param(req, "method");
        int status = int_param(req, "status", 0, &ok);
        int percent = int_param(req, "percent", 100, &ok);
        int delay = int_param(req, "delayMs", 0, &ok);
        int retry = int_param(req, "retryAfter", 1, &ok);
        int count = int_param(req, "count", 0, &ok);
        if (!ok || !prefix) {
            bad(conn, "pathPrefix is required; status, percent, delayMs, retryAfter, count are integers");
            return;
        }
        int id = kl_fault_add(srv->fault, prefix, method, status, percent, delay, retry, count);
        if (id < 0) {
            bad(conn, "invalid rule: status must be 0, 429, 500 or 503; percent 1..100; delayMs 0..600000");
            return;
        }
        send_json(conn, 200, json_pack("{s:i}", "id", id));
    } else if (strcmp(p, "/faults/requests") == 0 && strcmp(m, "GET") == 0) {
        send_json(conn, 200, kl_fault_list(srv->fault));
    } else if (strcmp(p, "/faults/requests") == 0 && strcmp(m, "DELETE") == 0) {
        kl_fault_remove(srv->fault, 0);
        send_json(conn, 200, json_pack("{s:b}", "ok", 1));
    } else if (strncmp(p, "/faults/requests/", 17) == 0 && strcmp(m, "DELETE") == 0) {
        int id = atoi(p + 17);
        if (id <= 0 || kl_fault_remove(srv->fault, id) < 0)
            send_json(conn, 404, json_pack("{s:s}", "error", "no such rule"));
        else
            send_json(conn, 200, json_pack("{s:b}", "ok", 1));
    } else {
        send_json(conn, 404, json_pack("{s:s}", "error", "not found"));
    }
}

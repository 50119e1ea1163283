#include "cm_log.h"

#include "cm_buf.h"
#include "cm_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int log_level = CM_LOG_INFO;
static _Atomic int log_format = CM_LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *cm_log_level_name(enum cm_log_level level) {
    return (unsigned)level < 4 ? level_names[level] : "unknown";
}

int cm_log_level_parse(const char *s, enum cm_log_level *ret_level) {
    if (!s)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, level_names[i])) {
            *ret_level = (enum cm_log_level)i;
            return 0;
        }
    if (!strcasecmp(s, "warning")) {
        *ret_level = CM_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

int cm_log_format_parse(const char *s, enum cm_log_format *ret_format) {
    if (!s)
        return -EINVAL;
    if (!strcasecmp(s, "text") || !strcasecmp(s, "kv") || !strcasecmp(s, "logfmt")) {
        *ret_format = CM_LOG_FORMAT_TEXT;
        return 0;
    }
    if (!strcasecmp(s, "json")) {
        *ret_format = CM_LOG_FORMAT_JSON;
        return 0;
    }
    return -EINVAL;
}

void cm_log_set_level(enum cm_log_level level) { log_level = level; }
void cm_log_set_format(enum cm_log_format format) { log_format = format; }
int cm_log_enabled(enum cm_log_level level) { return (int)level >= log_level; }

/* Quotes a value for logfmt only when it needs it, and escapes it for JSON always; control
 * characters are escaped in both so that one record stays one line. */
static void put_value(struct cm_buf *b, const char *v, int json) {
    if (!v)
        v = "";
    int quote = json || !*v;
    for (const char *p = v; !quote && *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            quote = 1;
    if (quote)
        cm_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        switch (*p) {
        case '"': cm_buf_puts(b, "\\\""); break;
        case '\\': cm_buf_puts(b, "\\\\"); break;
        case '\n': cm_buf_puts(b, "\\n"); break;
        case '\r': cm_buf_puts(b, "\\r"); break;
        case '\t': cm_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                cm_buf_printf(b, "\\u%04x", *p);
            else
                cm_buf_append(b, p, 1);
        }
    }
    if (quote)
        cm_buf_puts(b, "\"");
}

static void put_field(struct cm_buf *b, const char *k, const char *v, int json, int first) {
    if (json) {
        if (!first)
            cm_buf_puts(b, ",");
        put_value(b, k, 1);
        cm_buf_puts(b, ":");
    } else {
        if (!first)
            cm_buf_puts(b, " ");
        cm_buf_puts(b, k);
        cm_buf_puts(b, "=");
    }
    put_value(b, v, json);
}

static void emit(enum cm_log_level level, const char *msg, va_list kv) {
    int json = log_format == CM_LOG_FORMAT_JSON;
    char ts[40];
    cm_time_format_rfc3339(cm_time_wall_ms(), 1, ts, sizeof ts);
    struct cm_buf b;
    cm_buf_init(&b, 64 * 1024);
    if (json)
        cm_buf_puts(&b, "{");
    put_field(&b, "ts", ts, json, 1);
    put_field(&b, "level", cm_log_level_name(level), json, 0);
    put_field(&b, "msg", msg, json, 0);
    if (kv) {
        for (;;) {
            const char *k = va_arg(kv, const char *);
            if (!k)
                break;
            const char *v = va_arg(kv, const char *);
            put_field(&b, k, v, json, 0);
        }
    }
    cm_buf_puts(&b, json ? "}\n" : "\n");
    if (b.data) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    cm_buf_done(&b);
}

void cm_log_kv(enum cm_log_level level, const char *msg, ...) {
    if (!cm_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

static void emit_plain(enum cm_log_level level, const char *msg, ...) {
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

void cm_logf(enum cm_log_level level, const char *fmt, ...) {
    if (!cm_log_enabled(level))
        return;
    struct cm_buf m;
    cm_buf_init(&m, 16 * 1024);
    va_list ap;
    va_start(ap, fmt);
    cm_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    emit_plain(level, m.data ? m.data : "", (const char *)NULL);
    cm_buf_done(&m);
}

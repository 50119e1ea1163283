/* cm_log: process-wide structured logging to stderr, as key=value (logfmt) or JSON lines.
 *
 * Libraries log at debug only; programs decide what to log above that (conventions). Callers
 * must never pass secrets (keys, passwords, tokens) as values: nothing here can tell them apart.
 * All functions are thread-safe; one line is written with one write() so lines never interleave. */
#ifndef CM_LOG_H
#define CM_LOG_H

enum cm_log_level {
    CM_LOG_DEBUG, /* detail for developers */
    CM_LOG_INFO,  /* what the program did */
    CM_LOG_WARN,  /* something is wrong but work goes on */
    CM_LOG_ERROR, /* an operation failed */
};

enum cm_log_format {
    CM_LOG_FORMAT_TEXT, /* ts=... level=info msg="..." key=value */
    CM_LOG_FORMAT_JSON, /* {"ts":"...","level":"info","msg":"...","key":"value"} */
};

/* Parses "debug", "info", "warn"/"warning", "error". Returns 0 or -EINVAL. */
int cm_log_level_parse(const char *s, enum cm_log_level *ret_level);
/* Parses "text"/"kv"/"logfmt" or "json". Returns 0 or -EINVAL. */
int cm_log_format_parse(const char *s, enum cm_log_format *ret_format);
const char *cm_log_level_name(enum cm_log_level level);

void cm_log_set_level(enum cm_log_level level);
void cm_log_set_format(enum cm_log_format format);
int cm_log_enabled(enum cm_log_level level);

/* Logs msg with key/value string pairs, terminated by a NULL key. A NULL value prints as "". */
void cm_log_kv(enum cm_log_level level, const char *msg, ...);
/* Logs a printf-formatted message with no extra fields. */
void cm_logf(enum cm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cm_debug(...) cm_logf(CM_LOG_DEBUG, __VA_ARGS__)
#define cm_info(...) cm_logf(CM_LOG_INFO, __VA_ARGS__)
#define cm_warn(...) cm_logf(CM_LOG_WARN, __VA_ARGS__)
#define cm_error(...) cm_logf(CM_LOG_ERROR, __VA_ARGS__)

#endif

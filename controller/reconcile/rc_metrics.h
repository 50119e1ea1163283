/* rc_metrics: a small Prometheus metrics registry (counters, gauges, histograms) rendered in the
 * text exposition format 0.0.4.
 *
 * Families have at most two labels, which covers every metric the controller exports ("kind",
 * "phase", "code"/"verb") and keeps lookup a short linear scan. Values that are cheaper to read
 * than to maintain (queue depth, hosts by phase) are filled by collector callbacks that run just
 * before each render. Nothing here depends on the rest of the controller, so the REST shim can
 * reuse it unchanged.
 *
 * Threads: every function may be called from any thread (one mutex per registry). Collectors run
 * on the rendering thread with the registry lock NOT held, so they may call rc_metric_set(). */
#ifndef RC_METRICS_H
#define RC_METRICS_H

#include <stddef.h>

struct cm_buf;
struct rc_metrics;
struct rc_metric; /* one family; owned by its registry, valid until rc_metrics_free() */

typedef void (*rc_metrics_collect_cb)(struct rc_metrics *m, void *userdata);

/* A new empty registry, or NULL on -ENOMEM. */
struct rc_metrics *rc_metrics_new(void);
/* Frees the registry and every family in it. Accepts NULL. */
void rc_metrics_free(struct rc_metrics *m);

/* Registers a family. name must be a valid metric name, labels NULL (no labels) or a comma list
 * of at most two label names ("kind" or "kind,code"). Registering an existing name returns the
 * existing family. Returns NULL on -ENOMEM or bad arguments. Strings are copied. */
struct rc_metric *rc_metrics_counter(struct rc_metrics *m, const char *name, const char *help,
                                     const char *labels);
struct rc_metric *rc_metrics_gauge(struct rc_metrics *m, const char *name, const char *help,
                                   const char *labels);
/* bounds: n strictly increasing upper bounds (seconds, say); +Inf is implicit. Copied. */
struct rc_metric *rc_metrics_histogram(struct rc_metrics *m, const char *name, const char *help,
                                       const char *labels, const double *bounds, size_t n);

/* Adds a collector, called at the start of every rc_metrics_render(). Returns 0 or -ENOMEM. */
int rc_metrics_collector_add(struct rc_metrics *m, rc_metrics_collect_cb cb, void *userdata);

/* Update one series, selected by label values l1/l2 (NULL when the family has fewer labels).
 * A series is created on first use. Calls with a NULL family are ignored, so optional metrics
 * need no checks at call sites. Allocation failure drops the update silently (metrics must
 * never fail the work they measure). */
void rc_metric_add(struct rc_metric *f, const char *l1, const char *l2, double v);
void rc_metric_inc(struct rc_metric *f, const char *l1, const char *l2);
void rc_metric_set(struct rc_metric *f, const char *l1, const char *l2, double v);
void rc_metric_observe(struct rc_metric *f, const char *l1, const char *l2, double v);
/* Sets every existing series of a gauge to 0 (before a collector recounts, so that a phase with
 * no hosts left reads 0 instead of its last value). */
void rc_metric_zero(struct rc_metric *f);
/* The value of a counter/gauge series (0 when absent); the count of a histogram series. */
double rc_metric_value(struct rc_metric *f, const char *l1, const char *l2);

/* Runs the collectors and appends the whole registry to out in text format.
 * Returns 0 or the cm_buf error (-E2BIG, -ENOMEM). */
int rc_metrics_render(struct rc_metrics *m, struct cm_buf *out);

#endif

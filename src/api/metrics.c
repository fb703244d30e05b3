/*
 * metrics — the public calls of kprod.h's Metrics section, on the engine's
 * metrics module (engine/metrics.c, whose essay says who records what).
 */
#include "engine/internal.h"
#include "engine/metrics.h"

kp_metrics_t *kp_metrics_snapshot(kp_producer_t *p) { return p ? kp_metrics_take(p) : NULL; }

kp_err_t kp_metric_value(kp_producer_t *p, const char *group, const char *name,
                         const char *tags, double *value) {
    if (!p || !group || !name || !value)
        return KP_ERR_INVALID_ARG;
    kp_metrics_t *m = kp_metrics_take(p);
    if (!m)
        return KP_ERR_NOMEM;
    kp_err_t e = kp_metrics_find(m, group, name, tags, value);
    kp_metrics_destroy(m);
    return e;
}

char *kp_stats_json(kp_producer_t *p) { return p ? kp_metrics_take_json(p) : NULL; }

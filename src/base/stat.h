/*
 * stat — one measured quantity for the metrics (issue 15): its events
 * (or their weight), their sum and their largest value, cumulative, and
 * the Java client's sampled windows over them (metrics.sample.window.ms,
 * metrics.num.samples): rates, averages and maxima over the last
 * num.samples windows, the current one included, as Java's SampledStat.
 *
 * Recording costs a few instructions and no lock: the one writer (the I/O
 * thread, kp_stat_add) does relaxed loads and stores; several writers
 * (application threads, rare paths: kp_stat_add_mt) atomic adds. Windows
 * roll on the I/O thread (kp_stat_roll, once per window) and are read by
 * any thread (kp_stat_window), both under the caller's lock that guards
 * the window ring (the metrics module's); the cumulative counters need
 * none.
 */
#ifndef KP_STAT_H
#define KP_STAT_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/hist.h"

/* the window ring's entry: the cumulative counters when a window began,
 * and that window's maximum once it has ended */
typedef struct kp_stat_mark {
    uint64_t n;
    int64_t sum;
    int64_t max; /* of the window that began here (set when it ends) */
    int64_t t_ms;
} kp_stat_mark_t;

typedef struct kp_stat {
    _Atomic uint64_t n;
    _Atomic int64_t sum;
    _Atomic int64_t max;  /* over all time; INT64_MIN: none */
    _Atomic int64_t wmax; /* in the current window; INT64_MIN: none */
    kp_hist_t *hist;      /* values recorded there too (NULL: none) */
    kp_stat_mark_t *ring; /* nsamples marks, the oldest at pos (NULL: no windows) */
    kp_hist_copy_t *hring; /* with a histogram: its copy at each mark */
    int nsamples, pos;
} kp_stat_t;

/* What a stat says over its windows. */
typedef struct kp_stat_window {
    uint64_t n;       /* events in the windows */
    int64_t sum;
    double elapsed_s; /* the windows' span (at least one window's length) */
    int64_t max;      /* largest value in the windows; INT64_MIN: none */
} kp_stat_window_t;

/* Set up: nsamples windows (0: cumulative only), with a histogram if
 * hist (allocated here). Returns -1 when memory runs out. now_ms starts
 * the first window. */
int kp_stat_init(kp_stat_t *s, int nsamples, int hist, int64_t now_ms);
void kp_stat_destroy(kp_stat_t *s);

/* Record v, weight n (n events of value v), by the one writer. */
static inline void kp_stat_add_n(kp_stat_t *s, int64_t v, uint64_t n) {
    atomic_store_explicit(&s->n, atomic_load_explicit(&s->n, memory_order_relaxed) + n,
                          memory_order_relaxed);
    atomic_store_explicit(&s->sum,
                          atomic_load_explicit(&s->sum, memory_order_relaxed) + v * (int64_t)n,
                          memory_order_relaxed);
    if (v > atomic_load_explicit(&s->wmax, memory_order_relaxed))
        atomic_store_explicit(&s->wmax, v, memory_order_relaxed);
    if (v > atomic_load_explicit(&s->max, memory_order_relaxed))
        atomic_store_explicit(&s->max, v, memory_order_relaxed);
    if (s->hist)
        kp_hist_record_n(s->hist, v, n);
}
static inline void kp_stat_add(kp_stat_t *s, int64_t v) { kp_stat_add_n(s, v, 1); }
/* The same from any thread (no histogram). */
void kp_stat_add_mt(kp_stat_t *s, int64_t v);

/* A new window begins at now_ms (the one writer, under the ring's lock). */
void kp_stat_roll(kp_stat_t *s, int64_t now_ms);
/* The windows as of now_ms (under the ring's lock); window_ms is one
 * window's length (the span is at least that). */
void kp_stat_window(const kp_stat_t *s, int64_t now_ms, int64_t window_ms, kp_stat_window_t *out);
/* The histogram of the windows (under the ring's lock): what was recorded
 * since the oldest mark; cumulative without windows. -1 without a
 * histogram. */
int kp_stat_window_hist(const kp_stat_t *s, kp_hist_copy_t *out);

#endif

/*
 * stat — see stat.h. The windows: the ring holds, for each of the last
 * nsamples windows (the current one included), the cumulative counters
 * when it began; the oldest mark is at pos. A window's events are the
 * counters now minus its first mark's, as Java's SampledStat sums its
 * samples; its span runs from that mark to now, and is at least one
 * window (Java's Rate never divides by less than a window either).
 */
#include "base/stat.h"

#include <stdlib.h>

#include "base/alloc.h"

int kp_stat_init(kp_stat_t *s, int nsamples, int hist, int64_t now_ms) {
    atomic_init(&s->n, 0);
    atomic_init(&s->sum, 0);
    atomic_init(&s->max, INT64_MIN);
    atomic_init(&s->wmax, INT64_MIN);
    s->hist = NULL;
    s->ring = NULL;
    s->hring = NULL;
    s->nsamples = nsamples > 0 ? nsamples : 0;
    s->pos = 0;
    if (hist) {
        s->hist = kp_malloc(sizeof(*s->hist));
        if (!s->hist)
            return -1;
        kp_hist_init(s->hist);
    }
    if (s->nsamples) {
        s->ring = kp_calloc((size_t)s->nsamples, sizeof(*s->ring));
        if (!s->ring) {
            free(s->hist);
            s->hist = NULL;
            return -1;
        }
        for (int i = 0; i < s->nsamples; i++)
            s->ring[i] = (kp_stat_mark_t){0, 0, INT64_MIN, now_ms};
        if (s->hist) {
            s->hring = kp_calloc((size_t)s->nsamples, sizeof(*s->hring));
            if (!s->hring) {
                kp_stat_destroy(s);
                return -1;
            }
        }
    }
    return 0;
}

void kp_stat_destroy(kp_stat_t *s) {
    free(s->hist);
    free(s->ring);
    free(s->hring);
    s->hist = NULL;
    s->ring = NULL;
    s->hring = NULL;
}

void kp_stat_add_mt(kp_stat_t *s, int64_t v) {
    atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum, v, memory_order_relaxed);
    int64_t m = atomic_load_explicit(&s->wmax, memory_order_relaxed);
    while (v > m &&
           !atomic_compare_exchange_weak_explicit(&s->wmax, &m, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    m = atomic_load_explicit(&s->max, memory_order_relaxed);
    while (v > m &&
           !atomic_compare_exchange_weak_explicit(&s->max, &m, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void kp_stat_roll(kp_stat_t *s, int64_t now_ms) {
    if (!s->ring)
        return;
    /* the newest mark (the current window's start) gets the window's max;
     * the oldest is replaced by the new window's start */
    int newest = (s->pos + s->nsamples - 1) % s->nsamples;
    s->ring[newest].max = atomic_exchange_explicit(&s->wmax, INT64_MIN, memory_order_relaxed);
    s->ring[s->pos] = (kp_stat_mark_t){atomic_load_explicit(&s->n, memory_order_relaxed),
                                       atomic_load_explicit(&s->sum, memory_order_relaxed),
                                       INT64_MIN, now_ms};
    if (s->hring)
        kp_hist_copy(s->hist, &s->hring[s->pos]);
    s->pos = (s->pos + 1) % s->nsamples;
}

void kp_stat_window(const kp_stat_t *s, int64_t now_ms, int64_t window_ms, kp_stat_window_t *out) {
    uint64_t n = atomic_load_explicit(&s->n, memory_order_relaxed);
    int64_t sum = atomic_load_explicit(&s->sum, memory_order_relaxed);
    int64_t max = atomic_load_explicit(&s->wmax, memory_order_relaxed);
    if (!s->ring) {
        *out = (kp_stat_window_t){n, sum, 0, atomic_load_explicit(&s->max, memory_order_relaxed)};
        return;
    }
    const kp_stat_mark_t *oldest = &s->ring[s->pos];
    for (int i = 0; i < s->nsamples; i++) {
        const kp_stat_mark_t *m = &s->ring[(s->pos + i) % s->nsamples];
        if (m->max > max)
            max = m->max;
    }
    int64_t span = now_ms - oldest->t_ms;
    if (span < window_ms)
        span = window_ms;
    *out = (kp_stat_window_t){n - oldest->n, sum - oldest->sum, (double)span / 1000.0, max};
}

int kp_stat_window_hist(const kp_stat_t *s, kp_hist_copy_t *out) {
    if (!s->hist)
        return -1;
    if (!s->hring) {
        kp_hist_copy(s->hist, out);
        return 0;
    }
    kp_hist_copy_t now;
    kp_hist_copy(s->hist, &now);
    kp_hist_since(&now, &s->hring[s->pos], out);
    return 0;
}

/*
 * hist — the log-bucketed histogram of hist.h.
 *
 * Bucket layout (KP_HIST_SUB_BITS = 3, so KP_HIST_SUB = 8):
 *
 *   bucket      values              width
 *   0..7        0..7                1       (linear: one value each)
 *   8..15       8..15               1       (e = 3)
 *   16..23      16..31              2       (e = 4)
 *   24..31      32..63              4       (e = 5)
 *   ...
 *   8k..8k+7    2^(k+2)..2^(k+3)-1  2^(k-1) (e = k + 2)
 *   last        2^40..INT64_MAX             (overflow)
 *
 * A bucket's width is at most 1/KP_HIST_SUB of its lower bound, so reading
 * back a bucket's upper bound errs by less than that, relatively.
 *
 * Concurrency: one writer, any number of readers. The writer updates each
 * field with a relaxed load, an add and a relaxed store: no locked
 * instruction on the hot path, and still no data race (each access is
 * atomic). Nothing orders the fields between themselves, so a reader may see
 * a bucket bumped before the count or the max that go with it; kp_hist_copy
 * therefore takes its count from the buckets and pulls min and max within
 * the buckets that hold values.
 */
#include "base/hist.h"

#define RLX memory_order_relaxed
#define LAST (KP_HIST_BUCKETS - 1)

/* The one writer's update: no read-modify-write instruction (see above). */
static inline void add_u64(_Atomic uint64_t *a, uint64_t n)
{
    atomic_store_explicit(a, atomic_load_explicit(a, RLX) + n, RLX);
}

void kp_hist_init(kp_hist_t *h)
{
    atomic_init(&h->count, 0);
    atomic_init(&h->sum, 0);
    atomic_init(&h->min, INT64_MAX);
    atomic_init(&h->max, -1);
    for (int i = 0; i < KP_HIST_BUCKETS; i++)
        atomic_init(&h->b[i], 0);
}

int kp_hist_bucket(int64_t v)
{
    if (v < KP_HIST_SUB)
        return v < 0 ? 0 : (int)v;
    if (v >= (int64_t)1 << KP_HIST_MAX_EXP)
        return LAST;
    int e = 63 - __builtin_clzll((unsigned long long)v);
    return (e - KP_HIST_SUB_BITS + 1) * KP_HIST_SUB +
           (int)((v >> (e - KP_HIST_SUB_BITS)) & (KP_HIST_SUB - 1));
}

int64_t kp_hist_bucket_lo(int i)
{
    if (i < 0 || i > LAST)
        return -1;
    if (i < KP_HIST_SUB)
        return i;
    if (i == LAST)
        return (int64_t)1 << KP_HIST_MAX_EXP;
    int e = i / KP_HIST_SUB + KP_HIST_SUB_BITS - 1;
    return ((int64_t)1 << e) + ((int64_t)(i % KP_HIST_SUB) << (e - KP_HIST_SUB_BITS));
}

int64_t kp_hist_bucket_hi(int i)
{
    if (i < 0 || i > LAST)
        return -1;
    if (i < KP_HIST_SUB)
        return i;
    if (i == LAST)
        return INT64_MAX;
    int e = i / KP_HIST_SUB + KP_HIST_SUB_BITS - 1;
    return kp_hist_bucket_lo(i) + ((int64_t)1 << (e - KP_HIST_SUB_BITS)) - 1;
}

void kp_hist_record_n(kp_hist_t *h, int64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v < 0)
        v = 0;
    add_u64(&h->b[kp_hist_bucket(v)], n);
    add_u64(&h->count, n);
    /* wraps rather than overflowing (no UB); 2^63 us is beyond any use */
    uint64_t sum = (uint64_t)atomic_load_explicit(&h->sum, RLX) + (uint64_t)v * n;
    atomic_store_explicit(&h->sum, (int64_t)sum, RLX);
    if (v < atomic_load_explicit(&h->min, RLX))
        atomic_store_explicit(&h->min, v, RLX);
    if (v > atomic_load_explicit(&h->max, RLX))
        atomic_store_explicit(&h->max, v, RLX);
}

void kp_hist_record(kp_hist_t *h, int64_t v)
{
    kp_hist_record_n(h, v, 1);
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Count from the buckets; min and max within [lo, hi] of the first and last
 * non-empty buckets, further bounded by the limits given (or the sentinels
 * when empty). */
static void settle(kp_hist_copy_t *c, int64_t min_lo, int64_t max_hi)
{
    int first = -1, last = -1;
    uint64_t total = 0;

    for (int i = 0; i < KP_HIST_BUCKETS; i++) {
        if (!c->b[i])
            continue;
        if (first < 0)
            first = i;
        last = i;
        total += c->b[i];
    }
    c->count = total;
    if (!total) {
        c->min = INT64_MAX;
        c->max = -1;
        return;
    }
    c->min = clamp(c->min, kp_hist_bucket_lo(first), kp_hist_bucket_hi(first));
    c->max = clamp(c->max, kp_hist_bucket_lo(last), kp_hist_bucket_hi(last));
    if (c->min < min_lo)
        c->min = clamp(min_lo, kp_hist_bucket_lo(first), kp_hist_bucket_hi(first));
    if (c->max > max_hi)
        c->max = clamp(max_hi, kp_hist_bucket_lo(last), kp_hist_bucket_hi(last));
    /* min and max are read apart from the buckets while the writer records:
     * a max not yet written for the one bucket seen is pulled to its low
     * end, below the min (only then can they cross: in one bucket) */
    if (c->max < c->min)
        c->max = c->min;
}

void kp_hist_copy(const kp_hist_t *h, kp_hist_copy_t *out)
{
    out->sum = atomic_load_explicit(&h->sum, RLX);
    out->min = atomic_load_explicit(&h->min, RLX);
    out->max = atomic_load_explicit(&h->max, RLX);
    for (int i = 0; i < KP_HIST_BUCKETS; i++)
        out->b[i] = atomic_load_explicit(&h->b[i], RLX);
    settle(out, 0, INT64_MAX);
}

void kp_hist_since(const kp_hist_copy_t *now, const kp_hist_copy_t *then, kp_hist_copy_t *out)
{
    for (int i = 0; i < KP_HIST_BUCKETS; i++)
        out->b[i] = now->b[i] >= then->b[i] ? now->b[i] - then->b[i] : 0;
    out->sum = (int64_t)((uint64_t)now->sum - (uint64_t)then->sum);
    /* the buckets' bounds, within what the whole histogram had seen */
    out->min = 0;
    out->max = INT64_MAX;
    settle(out, now->count ? now->min : 0, now->count ? now->max : INT64_MAX);
}

int64_t kp_hist_quantile(const kp_hist_copy_t *c, double q)
{
    if (!c->count)
        return 0;
    if (!(q > 0)) /* also NaN */
        return c->min;
    if (q >= 1)
        return c->max;
    /* rank = ceil(q * count), forgiving the last bits of rounding so that
     * 0.99 * 100 is rank 99 even if the product comes out a hair above
     * (no libm: ceil by hand) */
    double x = q * (double)c->count;
    x -= x * 1e-15;
    uint64_t rank = c->count;
    if (x < (double)c->count) {
        rank = (uint64_t)x;
        if ((double)rank < x)
            rank++;
    }
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    int i = 0;
    for (; i < LAST; i++) {
        cum += c->b[i];
        if (cum >= rank)
            break;
    }
    return clamp(kp_hist_bucket_hi(i), c->min, c->max);
}

void kp_hist_summarize(const kp_hist_copy_t *c, kp_hist_summary_t *out)
{
    out->count = c->count;
    if (!c->count) {
        *out = (kp_hist_summary_t){0};
        return;
    }
    out->min = c->min;
    out->max = c->max;
    out->avg = (double)c->sum / (double)c->count;
    out->p50 = kp_hist_quantile(c, 0.50);
    out->p75 = kp_hist_quantile(c, 0.75);
    out->p90 = kp_hist_quantile(c, 0.90);
    out->p95 = kp_hist_quantile(c, 0.95);
    out->p99 = kp_hist_quantile(c, 0.99);
    out->p999 = kp_hist_quantile(c, 0.999);
}

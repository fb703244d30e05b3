/*
 * hist — a log-bucketed latency histogram (HdrHistogram's idea): values
 * (microseconds, or any non-negative int64) fall in buckets whose width
 * grows with the value, KP_HIST_SUB buckets per power of two, so any
 * percentile read back is within 1/KP_HIST_SUB of the true value (relative),
 * from 0 to 2^KP_HIST_MAX_EXP, with O(1) recording and no allocation.
 *
 * One writer (the I/O thread) records; any thread may read (a snapshot or
 * a copy) at the same time: the fields are atomics written and read
 * relaxed, with plain load-add-store by the one writer (no read-modify-
 * write instruction), so a reader sees each counter at some recent value
 * (a summary taken during recording may be off by the records in flight).
 *
 * Windows: a copy taken at a moment (kp_hist_copy) and subtracted later
 * (kp_hist_since) gives the histogram of what was recorded in between;
 * min and max are then those of the buckets (within the bucket width).
 */
#ifndef KP_HIST_H
#define KP_HIST_H

#include <stdatomic.h>
#include <stdint.h>

/*
 * Buckets: values 0..KP_HIST_SUB-1 have one bucket each; a value v >= KP_HIST_SUB
 * whose highest set bit is e goes to bucket
 *     (e - KP_HIST_SUB_BITS + 1) * KP_HIST_SUB + (the KP_HIST_SUB_BITS bits below bit e)
 * so each power of two [2^e, 2^(e+1)) is cut in KP_HIST_SUB buckets of width
 * 2^(e - KP_HIST_SUB_BITS). Values below 2^KP_HIST_MAX_EXP take
 * (KP_HIST_MAX_EXP - KP_HIST_SUB_BITS + 1) * KP_HIST_SUB buckets; one more, the
 * last, holds everything from 2^KP_HIST_MAX_EXP to INT64_MAX (its upper bound is
 * INT64_MAX: a quantile falling there reads the recorded max).
 */
#define KP_HIST_SUB_BITS 3
#define KP_HIST_SUB (1 << KP_HIST_SUB_BITS) /* buckets per power of two */
#define KP_HIST_MAX_EXP 40                  /* values up to 2^40 (12.7 days in us) */
#define KP_HIST_BUCKETS ((KP_HIST_MAX_EXP - KP_HIST_SUB_BITS + 1) * KP_HIST_SUB + 1)

typedef struct kp_hist {
    _Atomic uint64_t count;
    _Atomic int64_t sum;
    _Atomic int64_t min; /* INT64_MAX while empty */
    _Atomic int64_t max; /* -1 while empty */
    _Atomic uint64_t b[KP_HIST_BUCKETS];
} kp_hist_t;

/* A plain (non-atomic) histogram: a copy, or a window's difference. Its
 * count is the sum of its buckets; min INT64_MAX and max -1 while empty. */
typedef struct kp_hist_copy {
    uint64_t count;
    int64_t sum, min, max;
    uint64_t b[KP_HIST_BUCKETS];
} kp_hist_copy_t;

/* What a reader wants from one: count, min, max, mean, percentiles. */
typedef struct kp_hist_summary {
    uint64_t count;
    int64_t min, max; /* 0 when empty */
    double avg;       /* 0 when empty */
    int64_t p50, p75, p90, p95, p99, p999;
} kp_hist_summary_t;

void kp_hist_init(kp_hist_t *h);
/* (one writer) v < 0 counts as 0, v above the range as the last bucket */
void kp_hist_record(kp_hist_t *h, int64_t v);
/* n values v at once (a batch's records share one latency) */
void kp_hist_record_n(kp_hist_t *h, int64_t v, uint64_t n);
/* A consistent-enough copy (any thread): count is the buckets' total, and
 * min and max are brought within the first and last non-empty buckets when
 * a copy taken during recording saw them out of step. */
void kp_hist_copy(const kp_hist_t *h, kp_hist_copy_t *out);
/* now - then, bucket by bucket (then taken earlier from the same
 * histogram): what was recorded in between; min/max from the buckets. */
void kp_hist_since(const kp_hist_copy_t *now, const kp_hist_copy_t *then, kp_hist_copy_t *out);
/* The value at quantile q (0..1, clamped) of a copy: the upper end of the
 * first bucket whose cumulative count reaches ceil(q * count), capped at the
 * copy's max and floored at its min (q = 0: the min, q = 1: the max); 0 when
 * empty. */
int64_t kp_hist_quantile(const kp_hist_copy_t *c, double q);
void kp_hist_summarize(const kp_hist_copy_t *c, kp_hist_summary_t *out);
/* The bucket of a value (v < 0 counts as 0) and its bounds (tests, docs);
 * the bounds of an i outside 0..KP_HIST_BUCKETS-1 are -1. */
int kp_hist_bucket(int64_t v);
int64_t kp_hist_bucket_lo(int i);
int64_t kp_hist_bucket_hi(int i); /* inclusive */

#endif

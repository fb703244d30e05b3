/*
 * test_hist — the log-bucketed histogram (src/base/hist.c): the bucket
 * layout (contiguous, covering, within 1/KP_HIST_SUB), quantiles against the
 * exact order statistics of sorted data for several distributions, windows
 * (copy/since), record_n, the empty histogram, and one writer thread
 * recording while another reads (run under TSan too).
 */
#include <pthread.h>

#include "base/hist.h"
#include "test.h"

#define LAST (KP_HIST_BUCKETS - 1)

/* The quantiles checked, in thousandths: q = k / 1000. */
static const int QS[] = {0, 1, 10, 100, 250, 500, 750, 900, 950, 990, 999, 1000};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void test_bucket_bounds(void)
{
    CHECK_EQ_INT(kp_hist_bucket_lo(0), 0);
    CHECK_EQ_INT(kp_hist_bucket_hi(LAST), INT64_MAX);
    for (int i = 0; i < KP_HIST_BUCKETS; i++) {
        int64_t lo = kp_hist_bucket_lo(i), hi = kp_hist_bucket_hi(i);
        if (!CHECK_LE_INT(lo, hi))
            return;
        if (i > 0 && !CHECK_EQ_INT(lo, kp_hist_bucket_hi(i - 1) + 1))
            return; /* contiguous: no gap, no overlap */
        CHECK_EQ_INT(kp_hist_bucket(lo), i);
        CHECK_EQ_INT(kp_hist_bucket(hi), i);
        if (i < KP_HIST_SUB)
            CHECK_EQ_INT(hi, lo); /* the linear range: one value each */
    }
    CHECK_EQ_INT(kp_hist_bucket_lo(LAST), (int64_t)1 << KP_HIST_MAX_EXP);
    CHECK_EQ_INT(kp_hist_bucket(-1), 0);
    CHECK_EQ_INT(kp_hist_bucket(INT64_MIN), 0);
    CHECK_EQ_INT(kp_hist_bucket(INT64_MAX), LAST);
    CHECK_EQ_INT(kp_hist_bucket_lo(-1), -1);
    CHECK_EQ_INT(kp_hist_bucket_hi(KP_HIST_BUCKETS), -1);

    /* any value falls in the bucket whose bounds hold it */
    uint64_t s = 42;
    for (int k = 0; k < 100000; k++) {
        int64_t v = (int64_t)(test_rng_next(&s) >> (1 + test_rng_next(&s) % 63));
        int b = kp_hist_bucket(v);
        if (!CHECK(b >= 0 && b < KP_HIST_BUCKETS && kp_hist_bucket_lo(b) <= v &&
                   v <= kp_hist_bucket_hi(b))) {
            fprintf(stderr, "    v=%" PRId64 " bucket %d\n", v, b);
            return;
        }
    }
}

/* Every bucket above the linear range (but the overflow one) is at most
 * 1/KP_HIST_SUB of its lower bound wide, so its upper bound, read back for
 * any value in it, errs by at most that much. */
static void test_relative_error(void)
{
    for (int i = KP_HIST_SUB; i < LAST; i++) {
        int64_t lo = kp_hist_bucket_lo(i), hi = kp_hist_bucket_hi(i);
        if (!CHECK_LE_INT((hi - lo) * KP_HIST_SUB, lo))
            fprintf(stderr, "    bucket %d [%" PRId64 ", %" PRId64 "]\n", i, lo, hi);
    }
    /* the widest buckets are as wide as the bound allows: no precision wasted */
    CHECK_EQ_INT(kp_hist_bucket_hi(LAST - 1) + 1, (int64_t)1 << KP_HIST_MAX_EXP);
    CHECK_EQ_INT((kp_hist_bucket_hi(LAST - 1) - kp_hist_bucket_lo(LAST - 1) + 1) * KP_HIST_SUB,
                 (int64_t)1 << (KP_HIST_MAX_EXP - 1));
}

/* Record v[0..n), then check count, sum, min, max, every quantile of QS
 * against the sorted values, and the summary. */
static void check_against_sorted(const char *what, int64_t *v, size_t n)
{
    static kp_hist_t h;
    static kp_hist_copy_t c;
    kp_hist_summary_t sm;
    int64_t sum = 0;

    kp_hist_init(&h);
    for (size_t i = 0; i < n; i++) {
        kp_hist_record(&h, v[i]);
        sum += v[i];
    }
    qsort(v, n, sizeof *v, cmp_i64);
    kp_hist_copy(&h, &c);
    CHECK_EQ_U64(c.count, n);
    CHECK_EQ_INT(c.sum, sum);
    CHECK_EQ_INT(c.min, v[0]);
    CHECK_EQ_INT(c.max, v[n - 1]);
    for (size_t k = 0; k < sizeof QS / sizeof QS[0]; k++) {
        /* the exact order statistic: rank ceil(q n), in integers */
        uint64_t rank = ((uint64_t)QS[k] * n + 999) / 1000;
        int64_t exact = v[rank ? rank - 1 : 0];
        int64_t got = kp_hist_quantile(&c, QS[k] / 1000.0);
        /* exactly the definition: the bucket's upper end within [min, max]
         * (q = 0: the min) */
        int64_t want = QS[k] == 0 ? v[0]
                                  : clamp64(kp_hist_bucket_hi(kp_hist_bucket(exact)), v[0],
                                            v[n - 1]);
        int ok = CHECK_EQ_INT(got, want);
        /* and so within 1/KP_HIST_SUB of the truth (exact below KP_HIST_SUB) */
        ok &= CHECK(got >= exact && (got - exact) * KP_HIST_SUB <= exact);
        if (!ok)
            fprintf(stderr, "    %s: q=%d/1000 exact %" PRId64 " got %" PRId64 "\n", what,
                    QS[k], exact, got);
    }
    kp_hist_summarize(&c, &sm);
    CHECK_EQ_U64(sm.count, n);
    CHECK_EQ_INT(sm.min, v[0]);
    CHECK_EQ_INT(sm.max, v[n - 1]);
    CHECK(sm.avg == (double)sum / (double)n);
    CHECK_EQ_INT(sm.p50, kp_hist_quantile(&c, 0.5));
    CHECK_EQ_INT(sm.p75, kp_hist_quantile(&c, 0.75));
    CHECK_EQ_INT(sm.p90, kp_hist_quantile(&c, 0.9));
    CHECK_EQ_INT(sm.p95, kp_hist_quantile(&c, 0.95));
    CHECK_EQ_INT(sm.p99, kp_hist_quantile(&c, 0.99));
    CHECK_EQ_INT(sm.p999, kp_hist_quantile(&c, 0.999));
    CHECK(sm.p50 <= sm.p75 && sm.p75 <= sm.p90 && sm.p90 <= sm.p95 && sm.p95 <= sm.p99 &&
          sm.p99 <= sm.p999);
}

#define N 100000

static void test_quantiles_uniform(void)
{
    static int64_t v[N];
    uint64_t s = 1;

    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)(test_rng_next(&s) % 1000000);
    check_against_sorted("uniform", v, N);
}

/* Each doubling half as likely (a geometric number of doublings of a value
 * up to 1000): the long tail latencies have; a few values past 2^40 fill
 * the overflow bucket. */
static void test_quantiles_exponential(void)
{
    static int64_t v[N];
    uint64_t s = 2;

    for (size_t i = 0; i < N; i++) {
        int doublings = __builtin_clzll(test_rng_next(&s) | 1);
        v[i] = (int64_t)(test_rng_next(&s) % 1000) << (doublings < 40 ? doublings : 40);
    }
    for (size_t i = 0; i < 5; i++) /* the tail reaches past 2^40 */
        v[i * 1000] = ((int64_t)1 << (40 + i * 5)) + (int64_t)i;
    check_against_sorted("exponential", v, N);
}

static void test_quantiles_constant(void)
{
    static int64_t v[1000];

    for (size_t i = 0; i < 1000; i++)
        v[i] = 12345;
    check_against_sorted("constant", v, 1000);
    /* a constant reads back exactly at every quantile: min and max bound it */
    for (size_t i = 0; i < 1000; i++)
        v[i] = 5; /* the linear range */
    check_against_sorted("constant 5", v, 1000);
}

static void test_quantiles_two_spikes(void)
{
    static int64_t v[N];
    uint64_t s = 3;

    /* 95 % around 200 us, 5 % around 40 ms: p99 must land in the second */
    for (size_t i = 0; i < N; i++)
        v[i] = test_rng_next(&s) % 100 < 95 ? 200 + (int64_t)(test_rng_next(&s) % 3)
                                             : 40000 + (int64_t)(test_rng_next(&s) % 5);
    check_against_sorted("two spikes", v, N);
    /* exactly half and half: the median is the last of the low spike */
    for (size_t i = 0; i < 1000; i++)
        v[i] = i % 2 ? 7 : 1000000;
    check_against_sorted("half and half", v, 1000);
}

static void test_window(void)
{
    static kp_hist_t h, only_b;
    static kp_hist_copy_t then, now, w, b_alone;
    static int64_t b[N / 10];
    kp_hist_summary_t sm;
    uint64_t s = 4;
    int64_t sum_b = 0;

    kp_hist_init(&h);
    kp_hist_init(&only_b);
    for (int i = 0; i < N; i++) /* before the window: small and huge values */
        kp_hist_record(&h, i % 2 ? 3 : (int64_t)1 << 35);
    kp_hist_copy(&h, &then);
    for (size_t i = 0; i < N / 10; i++) {
        b[i] = 1000 + (int64_t)(test_rng_next(&s) % 50000);
        kp_hist_record(&h, b[i]);
        kp_hist_record(&only_b, b[i]);
        sum_b += b[i];
    }
    kp_hist_copy(&h, &now);
    kp_hist_copy(&only_b, &b_alone);
    kp_hist_since(&now, &then, &w);

    CHECK_EQ_U64(w.count, N / 10);
    CHECK_EQ_INT(w.sum, sum_b);
    for (int i = 0; i < KP_HIST_BUCKETS; i++)
        if (!CHECK_EQ_U64(w.b[i], b_alone.b[i]))
            break;
    /* min and max from the buckets: within the bucket of the true ones */
    qsort(b, N / 10, sizeof *b, cmp_i64);
    int64_t lo = b[0], hi = b[N / 10 - 1];
    CHECK(w.min <= lo && w.min >= kp_hist_bucket_lo(kp_hist_bucket(lo)));
    CHECK(w.max >= hi && w.max <= kp_hist_bucket_hi(kp_hist_bucket(hi)));
    for (size_t k = 0; k < sizeof QS / sizeof QS[0]; k++) {
        uint64_t rank = ((uint64_t)QS[k] * (N / 10) + 999) / 1000;
        int64_t exact = b[rank ? rank - 1 : 0];
        int64_t got = kp_hist_quantile(&w, QS[k] / 1000.0);
        if (!CHECK(got >= kp_hist_bucket_lo(kp_hist_bucket(exact)) &&
                   got <= kp_hist_bucket_hi(kp_hist_bucket(exact))))
            fprintf(stderr, "    q=%d/1000 exact %" PRId64 " got %" PRId64 "\n", QS[k], exact,
                    got);
    }

    /* an empty window */
    kp_hist_since(&now, &now, &w);
    CHECK_EQ_U64(w.count, 0);
    CHECK_EQ_INT(kp_hist_quantile(&w, 0.5), 0);
    kp_hist_summarize(&w, &sm);
    CHECK(sm.count == 0 && sm.min == 0 && sm.max == 0 && sm.avg == 0 && sm.p99 == 0);

    /* a window of the huge values only: the max is the whole histogram's */
    kp_hist_init(&h);
    kp_hist_copy(&h, &then);
    kp_hist_record(&h, ((int64_t)1 << 45) + 17);
    kp_hist_record(&h, 5);
    kp_hist_copy(&h, &now);
    kp_hist_since(&now, &then, &w);
    CHECK_EQ_INT(w.max, ((int64_t)1 << 45) + 17);
    CHECK_EQ_INT(w.min, 5);
    CHECK_EQ_INT(kp_hist_quantile(&w, 1), ((int64_t)1 << 45) + 17);
}

static void test_record_n(void)
{
    static kp_hist_t a, b;
    static kp_hist_copy_t ca, cb;
    const int64_t vals[] = {0, 7, 8, 100, 12345, 1 << 30, (int64_t)1 << 50};

    kp_hist_init(&a);
    kp_hist_init(&b);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        kp_hist_record_n(&a, vals[i], i + 1);
        for (size_t k = 0; k <= i; k++)
            kp_hist_record(&b, vals[i]);
    }
    kp_hist_record_n(&a, 99, 0); /* nothing */
    kp_hist_copy(&a, &ca);
    kp_hist_copy(&b, &cb);
    CHECK_EQ_U64(ca.count, 28);
    CHECK_EQ_INT(ca.sum, cb.sum);
    CHECK_EQ_INT(ca.min, 0);
    CHECK_EQ_INT(ca.max, (int64_t)1 << 50);
    CHECK_EQ_MEM(&ca, sizeof ca, &cb, sizeof cb);

    /* negative values count as 0 */
    kp_hist_init(&a);
    kp_hist_record_n(&a, -5, 3);
    kp_hist_copy(&a, &ca);
    CHECK_EQ_U64(ca.b[0], 3);
    CHECK_EQ_INT(ca.sum, 0);
    CHECK(ca.min == 0 && ca.max == 0);
}

static void test_empty(void)
{
    static kp_hist_t h;
    static kp_hist_copy_t c;
    kp_hist_summary_t sm;

    kp_hist_init(&h);
    kp_hist_copy(&h, &c);
    CHECK_EQ_U64(c.count, 0);
    CHECK_EQ_INT(c.sum, 0);
    CHECK_EQ_INT(c.min, INT64_MAX);
    CHECK_EQ_INT(c.max, -1);
    for (size_t k = 0; k < sizeof QS / sizeof QS[0]; k++)
        CHECK_EQ_INT(kp_hist_quantile(&c, QS[k] / 1000.0), 0);
    memset(&sm, 0x55, sizeof sm);
    kp_hist_summarize(&c, &sm);
    CHECK(sm.count == 0 && sm.min == 0 && sm.max == 0 && sm.avg == 0);
    CHECK(sm.p50 == 0 && sm.p75 == 0 && sm.p90 == 0 && sm.p95 == 0 && sm.p99 == 0 &&
          sm.p999 == 0);
    /* one value: every quantile is it */
    kp_hist_record(&h, 777);
    kp_hist_copy(&h, &c);
    for (size_t k = 0; k < sizeof QS / sizeof QS[0]; k++)
        CHECK_EQ_INT(kp_hist_quantile(&c, QS[k] / 1000.0), 777);
    CHECK_EQ_INT(kp_hist_quantile(&c, -1), 777);
    CHECK_EQ_INT(kp_hist_quantile(&c, 2), 777);
}

/* ---- one writer, one reader ---------------------------------------------- */

#define WRITES 1000000

static kp_hist_t shared_h;
static atomic_int writer_done;

static void *writer(void *arg)
{
    uint64_t s = 5;

    for (int i = 0; i < WRITES; i++)
        kp_hist_record(&shared_h, (int64_t)(test_rng_next(&s) % 100000));
    atomic_store(&writer_done, 1);
    return arg;
}

/* Copies while the writer records: each copy is coherent (count the sum of
 * its buckets, min <= max within them, quantiles in order) and no counter
 * ever goes back. */
static void *reader(void *arg)
{
    static kp_hist_copy_t prev, c;
    long *copies = arg;
    int done;

    memset(&prev, 0, sizeof prev);
    do {
        done = atomic_load(&writer_done);
        kp_hist_copy(&shared_h, &c);
        uint64_t total = 0;
        for (int i = 0; i < KP_HIST_BUCKETS; i++) {
            total += c.b[i];
            if (c.b[i] < prev.b[i]) {
                FAIL("bucket %d went back: %" PRIu64 " < %" PRIu64, i, c.b[i], prev.b[i]);
                return NULL;
            }
        }
        if (!CHECK_EQ_U64(c.count, total))
            return NULL;
        if (c.count) {
            int64_t q0 = kp_hist_quantile(&c, 0), q5 = kp_hist_quantile(&c, 0.5),
                    q99 = kp_hist_quantile(&c, 0.99), q1 = kp_hist_quantile(&c, 1);
            if (!CHECK(c.min <= c.max && c.min >= 0 &&
                       c.max <= kp_hist_bucket_hi(kp_hist_bucket(99999)) && q0 == c.min &&
                       q0 <= q5 && q5 <= q99 && q99 <= q1 && q1 == c.max))
                return NULL;
        }
        prev = c;
        (*copies)++;
    } while (!done);
    return NULL;
}

static void test_concurrent_reader(void)
{
    pthread_t w, r;
    long copies = 0;
    kp_hist_copy_t c;

    kp_hist_init(&shared_h);
    atomic_store(&writer_done, 0);
    REQUIRE(pthread_create(&r, NULL, reader, &copies) == 0);
    REQUIRE(pthread_create(&w, NULL, writer, NULL) == 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    kp_hist_copy(&shared_h, &c);
    CHECK_EQ_U64(c.count, WRITES);
    CHECK_GE_INT(copies, 1);
}

TEST_MAIN(TEST(test_bucket_bounds), TEST(test_relative_error), TEST(test_quantiles_uniform),
          TEST(test_quantiles_exponential), TEST(test_quantiles_constant),
          TEST(test_quantiles_two_spikes), TEST(test_window), TEST(test_record_n),
          TEST(test_empty), TEST(test_concurrent_reader))

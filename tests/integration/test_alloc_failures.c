/*
 * test_alloc_failures — SQLite's malloc test for kprod: the N-th allocation
 * the library makes fails (alloc.h's seam), for N = 1, 2, ... until a run
 * makes fewer than N, over a whole life: configure, create, send records
 * with callbacks and futures to librdkafka's mock cluster, flush, close,
 * destroy. Each call must return KP_OK or a clean error, nothing may crash,
 * every record accepted must complete exactly once, and nothing may leak
 * (the ASan build's leak check at exit). The I/O thread allocates too, so
 * which allocation is the N-th varies a little from run to run: the walk
 * covers the paths of both threads, not each in a fixed order.
 */
#include <limits.h>

#include "base/alloc.h"
#include "common.h"

#define TOPIC "allocs"
#define NREC 8

typedef struct life {
    atomic_int completions[NREC];
    atomic_int over; /* a record completed twice */
} life_t;

typedef struct rec_ref {
    life_t *l;
    int i;
} rec_ref_t;

static void on_done(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md;
    (void)err;
    rec_ref_t *r = opaque;
    if (atomic_fetch_add(&r->l->completions[r->i], 1))
        atomic_store(&r->l->over, 1);
}

/* One life of a producer with the n-th allocation failing. Returns the
 * allocations counted (fewer than n: the failure was never reached). */
static long one_life(const char *boot, long n, int sticky) {
    life_t l;
    rec_ref_t refs[NREC];
    kp_future_t *futs[NREC] = {0};
    int accepted[NREC] = {0};
    for (int i = 0; i < NREC; i++) {
        atomic_init(&l.completions[i], 0);
        refs[i] = (rec_ref_t){&l, i};
    }
    atomic_init(&l.over, 0);
    char err[256];
    kp_alloc_fail_after(n, sticky);
    kp_config_t *c = kp_config_new();
    kp_producer_t *p = NULL;
    if (c && !kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err)) &&
        !kp_config_set(c, "linger.ms", "1", err, sizeof(err)) &&
        !kp_config_set(c, "compression.type", "lz4", err, sizeof(err)) &&
        /* memory gone for good: nothing will come; do not wait long */
        !kp_config_set(c, "max.block.ms", sticky ? "100" : "3000", err, sizeof(err)) &&
        !kp_config_set(c, "delivery.timeout.ms", "4000", err, sizeof(err)) &&
        !kp_config_set(c, "request.timeout.ms", "1000", err, sizeof(err)))
        p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    if (p) {
        for (int i = 0; i < NREC; i++) {
            kp_record_t r = {.topic = TOPIC, .partition = KP_PARTITION_ANY, .key = "k",
                             .value = "value"};
            kp_err_t e = i % 2 ? kp_send(p, &r, on_done, &refs[i])
                               : kp_send_future(p, &r, on_done, &refs[i], &futs[i]);
            accepted[i] = e == KP_OK;
            if (e && e != KP_ERR_NOMEM && e != KP_ERR_CLUSTER_UNREACHABLE &&
                e != KP_ERR_METADATA_TIMEOUT && e != KP_ERR_BUFFER_EXHAUSTED)
                FAIL("n=%ld: send %d: %s", n, i, kp_err_name(e));
        }
        kp_flush(p, sticky ? 200 : 5000);
        kp_close(p, sticky ? 200 : 5000);
        kp_producer_destroy(p);
    }
    long made = kp_alloc_fail_after(0, 0);
    for (int i = 0; i < NREC; i++) {
        int k = atomic_load(&l.completions[i]);
        if (k != accepted[i])
            FAIL("n=%ld: record %d accepted %d, completed %d times", n, i, accepted[i], k);
        if (futs[i]) {
            if (!kp_future_is_done(futs[i]))
                FAIL("n=%ld: record %d's future not done after close", n, i);
            kp_future_destroy(futs[i]);
        }
    }
    if (atomic_load(&l.over))
        FAIL("n=%ld: a record completed twice", n);
    return made;
}

/* sticky: the n-th allocation and every one after it fail (memory gone
 * for good): still no crash, no leak, every record completes once. */
static void walk(int sticky) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 2);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    /* how many a life makes with nothing failing */
    long total = one_life(boot, LONG_MAX, 0);
    printf("  a life makes %ld allocations\n", total);
    CHECK_GT_INT(total, 20);
    long n = 1;
    for (; n <= total + 50 && atomic_load(&test_failures_) == 0; n++)
        if (one_life(boot, n, sticky) < n)
            break;
    printf("  walked n = 1..%ld%s\n", n, sticky ? " (every allocation from the n-th on failing)" : "");
    mockcluster_destroy(mc);
}

static void test_every_allocation_fails_once(void) { walk(0); }
static void test_memory_gone_from_every_allocation(void) { walk(1); }

TEST_MAIN(TEST(test_every_allocation_fails_once), TEST(test_memory_gone_from_every_allocation))

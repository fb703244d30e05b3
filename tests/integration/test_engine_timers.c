/*
 * test_engine_timers — the engine's timers on the producer clock a test
 * drives (kp_test_clock_set / kp_test_clock_advance, src/base/util.h):
 * linger.ms, request.timeout.ms, delivery.timeout.ms in flight and
 * metadata.max.age.ms, each of which would take from half a minute to an
 * hour of real time, run here in well under a second each.
 *
 * The peer is the fake broker (tests/support/fakebroker.h), because a test
 * needs a broker that never answers a request (FB_F_STALLED), which no real
 * peer offers; it runs on real time, only the producer's clock is driven.
 * Each case checks the real time it took, so a timer that waited on the
 * real clock instead of the producer's fails the test rather than hanging
 * it.
 */
#include <stdatomic.h>
#include <string.h>

#include "engine/internal.h"
#include "fakebroker.h"
#include "kprod/kprod.h"
#include "test.h"

#define TOPIC "t"
#define T0 1000000 /* where the test clock starts (ms) */
#define REAL_LIMIT_MS 10000

typedef struct outcome {
    _Atomic int done;
    _Atomic int err;
} outcome_t;

static void on_done(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md;
    outcome_t *o = opaque;
    atomic_store(&o->err, err);
    atomic_store(&o->done, 1);
}

static int is_done(void *arg) { return atomic_load(&((outcome_t *)arg)->done); }

typedef struct api_seen {
    fake_broker_t *fb;
    int api, n;
} api_seen_t;

static int api_seen(void *arg) {
    api_seen_t *a = arg;
    return fb_stats(a->fb).requests[a->api] >= a->n;
}

/* Wait (real time) until the fake broker has seen n requests of api. */
static int await_requests(fake_broker_t *fb, int api, int n) {
    api_seen_t a = {fb, api, n};
    return wait_until(api_seen, &a, REAL_LIMIT_MS);
}

static kp_producer_t *producer(fake_broker_t *fb, const char *const *extra) {
    char err[512];
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    const char *base[] = {"bootstrap.servers", fb_bootstrap(fb), "linger.ms", "0", NULL};
    for (const char *const *kv = base; *kv; kv += 2)
        if (kp_config_set(c, kv[0], kv[1], err, sizeof(err)))
            FAIL("%s=%s: %s", kv[0], kv[1], err);
    for (const char *const *kv = extra; kv && *kv; kv += 2)
        if (kp_config_set(c, kv[0], kv[1], err, sizeof(err)))
            FAIL("%s=%s: %s", kv[0], kv[1], err);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    if (!p)
        FAIL("kp_producer_new: %s", err);
    return p;
}

static kp_err_t send_one(kp_producer_t *p, const char *value, outcome_t *o) {
    kp_record_t r = {0};
    r.topic = TOPIC;
    r.partition = 0;
    r.value = value;
    r.value_len = (int32_t)strlen(value);
    return kp_send(p, &r, on_done, o);
}

/* Move the producer clock and wake the I/O thread to look at its timers. */
static void advance(kp_producer_t *p, int64_t ms) {
    kp_test_clock_advance(ms);
    kp_wake(p);
}

/* Drive the producer clock in steps of step_ms until cond holds (the
 * backoffs after a failure run on that clock too); 0 after the real limit. */
static int pump_until(kp_producer_t *p, int (*cond)(void *), void *arg, int64_t step_ms) {
    int64_t end = test_now_ms() + REAL_LIMIT_MS;
    while (!cond(arg)) {
        if (test_now_ms() >= end)
            return 0;
        advance(p, step_ms);
        test_sleep_ms(2);
    }
    return 1;
}

static void finish(kp_producer_t *p, fake_broker_t *fb) {
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    kp_test_clock_set(-1);
    fb_stop(fb);
}

/* linger.ms of an hour: the batch waits for the producer clock, not the
 * real one, and goes as soon as the clock passes it. */
static void test_linger_on_the_test_clock(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    kp_test_clock_set(T0);
    int64_t start = test_now_ms();
    const char *extra[] = {"linger.ms", "3600000", "delivery.timeout.ms", "7200000", NULL};
    kp_producer_t *p = producer(fb, extra);
    REQUIRE_NOT_NULL(p);
    outcome_t o = {0};
    CHECK_OK(send_one(p, "lingering", &o));
    /* the producer is set up (producer id, metadata) and holds the batch */
    CHECK(await_requests(fb, FB_API_INITPID, 1));
    CHECK(await_requests(fb, FB_API_METADATA, 1));
    /* the one negative wait of this file: nothing is sent while the clock
     * stands (a Produce would come within milliseconds if linger were
     * ignored) */
    test_sleep_ms(300);
    CHECK_EQ_INT(fb_stats(fb).requests[FB_API_PRODUCE], 0);
    CHECK_EQ_INT(atomic_load(&o.done), 0);
    advance(p, 3600000 - 2);
    test_sleep_ms(100);
    CHECK_EQ_INT(fb_stats(fb).requests[FB_API_PRODUCE], 0);
    advance(p, 2);
    CHECK(wait_until(is_done, &o, REAL_LIMIT_MS));
    CHECK_OK(atomic_load(&o.err));
    CHECK_EQ_INT((int)fb_log_end(fb), 1);
    CHECK(fb_wrote(fb, "lingering"));
    CHECK_LT_INT(test_now_ms() - start, REAL_LIMIT_MS);
    finish(p, fb);
}

/* request.timeout.ms: a Produce that gets no answer is given up after 30 s
 * of producer time, the connection dropped and the batch sent again, once;
 * the record then succeeds. */
static void test_request_timeout_on_the_test_clock(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, FB_F_STALLED, FB_API_PRODUCE, 0, 1);
    kp_test_clock_set(T0);
    int64_t start = test_now_ms();
    const char *extra[] = {"request.timeout.ms", "30000", NULL};
    kp_producer_t *p = producer(fb, extra);
    REQUIRE_NOT_NULL(p);
    outcome_t o = {0};
    CHECK_OK(send_one(p, "stalled-once", &o));
    CHECK(await_requests(fb, FB_API_PRODUCE, 1));
    int conns = fb_stats(fb).accepted;
    advance(p, 29000);
    test_sleep_ms(100);
    CHECK_EQ_INT(atomic_load(&o.done), 0);
    CHECK_EQ_INT(fb_stats(fb).accepted, conns);
    advance(p, 1001);
    /* the connection is dropped; reconnect and retry backoffs, on the
     * producer clock, pass as the test moves it on */
    CHECK(pump_until(p, is_done, &o, 50));
    CHECK_OK(atomic_load(&o.err));
    fb_stats_t s = fb_stats(fb);
    CHECK_EQ_INT(s.requests[FB_API_PRODUCE], 2);
    CHECK_EQ_INT(s.accepted, conns + 1);
    CHECK_EQ_INT((int)fb_log_end(fb), 1);
    CHECK_LT_INT(test_now_ms() - start, REAL_LIMIT_MS);
    finish(p, fb);
}

/* delivery.timeout.ms bounds a record in flight: the broker never answers,
 * request.timeout.ms is longer, and the record fails once the producer
 * clock passes its delivery deadline. */
static void test_delivery_timeout_on_the_test_clock(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, FB_F_STALLED, FB_API_PRODUCE, 0, FB_FOREVER);
    kp_test_clock_set(T0);
    int64_t start = test_now_ms();
    const char *extra[] = {"request.timeout.ms", "110000", "delivery.timeout.ms", "120000", NULL};
    kp_producer_t *p = producer(fb, extra);
    REQUIRE_NOT_NULL(p);
    outcome_t o = {0};
    CHECK_OK(send_one(p, "never-answered", &o));
    CHECK(await_requests(fb, FB_API_PRODUCE, 1));
    advance(p, 119000);
    test_sleep_ms(100);
    CHECK_EQ_INT(atomic_load(&o.done), 0);
    advance(p, 1001);
    CHECK(wait_until(is_done, &o, REAL_LIMIT_MS));
    CHECK_EQ_ERR(atomic_load(&o.err), KP_ERR_MSG_TIMED_OUT_IN_FLIGHT);
    /* the broker wrote it and withheld the answer: "in flight" means the
     * record may be persisted, and here it is */
    CHECK_EQ_INT((int)fb_log_end(fb), 1);
    CHECK_LT_INT(test_now_ms() - start, REAL_LIMIT_MS);
    finish(p, fb);
}

/* metadata.max.age.ms: metadata is asked for again when it is that old on
 * the producer clock. */
static void test_metadata_age_on_the_test_clock(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    kp_test_clock_set(T0);
    int64_t start = test_now_ms();
    const char *extra[] = {"metadata.max.age.ms", "300000", NULL};
    kp_producer_t *p = producer(fb, extra);
    REQUIRE_NOT_NULL(p);
    outcome_t o = {0};
    CHECK_OK(send_one(p, "first", &o));
    CHECK(wait_until(is_done, &o, REAL_LIMIT_MS));
    CHECK_OK(atomic_load(&o.err));
    int before = fb_stats(fb).requests[FB_API_METADATA];
    CHECK_GE_INT(before, 1);
    advance(p, 300001);
    CHECK(await_requests(fb, FB_API_METADATA, before + 1));
    CHECK_LT_INT(test_now_ms() - start, REAL_LIMIT_MS);
    finish(p, fb);
}

TEST_MAIN(TEST(test_linger_on_the_test_clock), TEST(test_request_timeout_on_the_test_clock),
          TEST(test_delivery_timeout_on_the_test_clock),
          TEST(test_metadata_age_on_the_test_clock))

/*
 * test_oauth_refresh — the OAUTHBEARER token refresher (src/net/oauth.c)
 * behind kp_config_set_oauthbearer_token_cb: Java's refresh schedule as a
 * function (80 % of the lifetime, the buffer and minimum-period clamps),
 * then a producer on the test clock (kp_test_clock_set/advance,
 * src/base/util.h) whose callback is asked at creation, not again before
 * about 80 % of an hour-long token's lifetime, again after it, and, once
 * it fails, again after sasl.login.retry.backoff.ms rather than at the
 * next 80 % point; and a callback failing at creation fails creation with
 * its reason. An hour of token life runs here in about a second.
 *
 * No broker answers (bootstrap.servers is a closed port): the refresher
 * needs none, and tokens reaching a broker are test_kprod_oidc.sh's part.
 */
#include <stdatomic.h>
#include <string.h>

#include "engine/internal.h"
#include "kprod/kprod.h"
#include "net/oauth.h"
#include "test.h"

#define T0 1000000 /* where the test clock starts (ms) */
#define HOUR 3600000
#define REAL_LIMIT_MS 10000

typedef struct source {
    _Atomic int calls;
    _Atomic int fail; /* answer with an error */
    _Atomic int64_t lifetime; /* ms a token lives */
} source_t;

static kp_err_t token_cb(void *opaque, kp_oauthbearer_token_t *out, char *errstr,
                         size_t errsize) {
    source_t *s = opaque;
    atomic_fetch_add(&s->calls, 1);
    if (atomic_load(&s->fail)) {
        snprintf(errstr, errsize, "the identity provider said no");
        return KAFKA_SASL_AUTHENTICATION_FAILED;
    }
    static const char *const ext[] = {"logicalCluster", "lkc-1"};
    out->value = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0In0.";
    out->lifetime_ms = kp_wall_ms() + atomic_load(&s->lifetime);
    out->principal = "t";
    out->extensions = ext;
    out->extension_count = 1;
    return KP_OK;
}

static kp_producer_t *producer(source_t *s, char *err, size_t errsize) {
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    const char *kv[] = {"bootstrap.servers", "127.0.0.1:1", "security.protocol", "SASL_PLAINTEXT",
                        "sasl.mechanism", "OAUTHBEARER", "sasl.login.retry.backoff.ms", "1000",
                        "sasl.login.retry.backoff.max.ms", "4000", NULL};
    for (const char *const *p = kv; *p; p += 2)
        if (kp_config_set(c, p[0], p[1], err, errsize))
            FAIL("%s=%s: %s", p[0], p[1], err);
    kp_config_set_oauthbearer_token_cb(c, token_cb, s);
    kp_producer_t *p = kp_producer_new(c, err, errsize);
    kp_config_destroy(c);
    return p;
}

typedef struct count_at_least {
    source_t *s;
    int n;
} count_at_least_t;

static int calls_reached(void *arg) {
    count_at_least_t *c = arg;
    return atomic_load(&c->s->calls) >= c->n;
}

/* Move the test clock and wake the refresher, then wait (real time) up to
 * ms for the callback to have been called n times in all. */
static int advance_and_wait(kp_producer_t *p, source_t *s, int64_t by, int n, int ms) {
    kp_test_clock_advance(by);
    kp_oauth_wake(p->net.oauth);
    count_at_least_t c = {s, n};
    return wait_until(calls_reached, &c, ms);
}

/* Java's ExpiringCredentialRefreshingLogin arithmetic. */
static void test_schedule(void) {
    int64_t now = 1700000000000;
    /* an hour: 80 % .. 85 % of it */
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, 0, now + HOUR, 0.8, 0.05, 0.0, 60, 300) - now,
                 2880000);
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, 0, now + HOUR, 0.8, 0.05, 0.999999, 60, 300) - now,
                 3059999);
    /* 1000 s: 80 % is inside the 300 s buffer, so at its start */
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, 0, now + 1000000, 0.8, 0.05, 0.0, 60, 300) - now,
                 700000);
    /* 100 s: shorter than both buffers, so 80 % of what is left */
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, 0, now + 100000, 0.8, 0.05, 0.0, 60, 300) - now,
                 80000);
    /* issued long ago: not sooner than the minimum period */
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, now - 10 * HOUR, now + 1000000, 0.8, 0.0, 0.0, 60,
                                          300) -
                     now,
                 60000);
    /* expired: now */
    CHECK_EQ_INT(kp_oauth_next_refresh_ms(now, 0, now - 1, 0.8, 0.05, 0.5, 60, 300) - now, 0);
}

/* At creation, then at 80-85 % of the lifetime; then a failure retried
 * after the backoff (1 s +- 20 %), not at the next 80 % point. */
static void test_refresh_on_the_test_clock(void) {
    source_t s = {0};
    atomic_store(&s.lifetime, HOUR);
    kp_test_clock_set(T0);
    int64_t start = test_now_ms();
    char err[512];
    kp_producer_t *p = producer(&s, err, sizeof(err));
    REQUIRE_NOT_NULL(p);
    REQUIRE_NOT_NULL(p->net.oauth);
    CHECK_EQ_INT(atomic_load(&s.calls), 1); /* the first token before creation returns */
    /* the copy connections take: the token and its extension */
    kp_oauth_snap_t snap;
    CHECK_OK(kp_oauth_current(p->net.oauth, &snap));
    CHECK_EQ_STR(snap.value, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0In0.");
    CHECK_EQ_INT((int)snap.next, 1);
    if (snap.next) {
        CHECK_EQ_STR(snap.ext[0].key, "logicalCluster");
        CHECK_EQ_STR(snap.ext[0].value, "lkc-1");
    }
    kp_oauth_snap_free(&snap);
    /* 79 % of the hour: no call */
    CHECK(!advance_and_wait(p, &s, HOUR * 79 / 100, 2, 300));
    /* 86 %: called again */
    CHECK(advance_and_wait(p, &s, HOUR * 7 / 100, 2, REAL_LIMIT_MS));
    int failures = -1;
    CHECK_EQ_INT(kp_oauth_fetches(p->net.oauth, &failures), 2);
    CHECK_EQ_INT(failures, 0);
    /* the next refresh fails ... */
    atomic_store(&s.fail, 1);
    CHECK(advance_and_wait(p, &s, HOUR * 86 / 100, 3, REAL_LIMIT_MS));
    CHECK(wait_until(calls_reached, &(count_at_least_t){&s, 3}, REAL_LIMIT_MS));
    test_sleep_ms(50); /* the failure is recorded after the call returns */
    CHECK_EQ_INT(kp_oauth_fetches(p->net.oauth, &failures), 2);
    CHECK_EQ_INT(failures, 1);
    /* ... and is retried after the backoff: not at 700 ms, by 1300 ms */
    atomic_store(&s.fail, 0);
    CHECK(!advance_and_wait(p, &s, 700, 4, 300));
    CHECK(advance_and_wait(p, &s, 600, 4, REAL_LIMIT_MS));
    test_sleep_ms(50);
    CHECK_EQ_INT(kp_oauth_fetches(p->net.oauth, &failures), 3);
    CHECK_EQ_INT(failures, 1);
    kp_producer_destroy(p);
    kp_test_clock_set(-1);
    CHECK_LT_INT(test_now_ms() - start, REAL_LIMIT_MS);
}

/* A callback failing at creation fails creation with its reason. */
static void test_failing_at_creation(void) {
    source_t s = {0};
    atomic_store(&s.fail, 1);
    char err[512] = "";
    kp_producer_t *p = producer(&s, err, sizeof(err));
    CHECK_NULL(p);
    kp_producer_destroy(p);
    CHECK(strstr(err, "the identity provider said no") != NULL);
    CHECK_EQ_INT(atomic_load(&s.calls), 1);
    /* an expired token is refused too */
    source_t e = {0};
    atomic_store(&e.lifetime, -1000);
    p = producer(&e, err, sizeof(err));
    CHECK_NULL(p);
    kp_producer_destroy(p);
    CHECK(strstr(err, "expired") != NULL);
}

/* Wrong refresh settings fail creation, naming the property. */
static void test_bad_window(void) {
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    char err[512];
    source_t s = {0};
    atomic_store(&s.lifetime, HOUR);
    const char *kv[] = {"bootstrap.servers", "127.0.0.1:1", "security.protocol", "SASL_PLAINTEXT",
                        "sasl.mechanism", "OAUTHBEARER", "sasl.login.refresh.window.factor", "0.3",
                        NULL};
    for (const char *const *q = kv; *q; q += 2)
        CHECK_OK(kp_config_set(c, q[0], q[1], err, sizeof(err)));
    kp_config_set_oauthbearer_token_cb(c, token_cb, &s);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    CHECK_NULL(p);
    kp_producer_destroy(p);
    CHECK(strstr(err, "sasl.login.refresh.window.factor") != NULL);
    CHECK_EQ_INT(atomic_load(&s.calls), 0);
}

TEST_MAIN(TEST(test_schedule), TEST(test_refresh_on_the_test_clock), TEST(test_failing_at_creation),
          TEST(test_bad_window))

/*
 * test_sasl — SASL on kprod's connections (src/net/auth.c) in the plain,
 * ASan+UBSan and TSan builds, against the fake broker's SASL PLAIN
 * (tests/support/fakebroker.h: SaslHandshake and SaslAuthenticate as a
 * Kafka broker answers them, and nothing else before authentication).
 * The mechanisms against a gateway whose server side clients we did not
 * write have proven, and SCRAM, TLS and KIP-368, are in
 * tests/tools/test_kprod_sasl.sh; this one puts the setup step itself
 * under the sanitizers:
 *   - the right password: records delivered, every connection
 *     authenticated before its first request;
 *   - a wrong one: the send fails in well under max.block.ms with
 *     SASL_AUTHENTICATION_FAILED, the log says the broker's reason and
 *     never the password, and the broker is tried again with backoff, not
 *     in a storm (the one timed observation here: connections counted over
 *     2 s);
 *   - a mechanism the broker lacks: UNSUPPORTED_SASL_MECHANISM naming PLAIN.
 */
#include <string.h>

#include "common.h"
#include "fakebroker.h"
#include "logcap.h"

#define PW "pl4in-s3cret"

static kp_producer_t *sasl_producer(fake_broker_t *fb, logcap_t *lc, const char *mech,
                                    const char *jaas) {
    char err[512];
    kp_producer_t *p = producer_e(lc, err, sizeof(err), fb_bootstrap(fb), "security.protocol",
                                  "SASL_PLAINTEXT", "sasl.mechanism", mech, "sasl.jaas.config",
                                  jaas, "max.block.ms", "20000", "linger.ms", "0", NULL);
    if (!p)
        FAIL("producer: %s", err);
    return p;
}

/* A fake broker requiring SASL PLAIN for alice, and a log capture. */
static fake_broker_t *start(logcap_t *lc) {
    fb_options_t o = {0};
    o.sasl_user = "alice";
    o.sasl_password = PW;
    logcap_init(lc);
    return fb_start(&o);
}

static void test_plain_delivers(void) {
    logcap_t lc;
    fake_broker_t *fb = start(&lc);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = sasl_producer(fb, &lc, "PLAIN",
                                     "org.apache.kafka.common.security.plain.PlainLoginModule "
                                     "required username=\"alice\" password=\"" PW "\";");
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("t", NULL, "authenticated");
    CHECK_OK(kp_send_sync(p, &r, 20000, NULL));
    CHECK(fb_wrote(fb, "authenticated"));
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    fb_stats_t s = fb_stats(fb);
    CHECK_EQ_INT(s.bad_requests, 0); /* nothing before authentication */
    CHECK_GE_INT(s.sasl_authenticated, 1);
    CHECK_EQ_INT(s.sasl_authenticated, s.accepted); /* every connection */
    CHECK_EQ_INT(s.sasl_refused, 0);
    CHECK_EQ_INT(logcap_matches(&lc, 0, 7, NULL, PW, NULL), 0);
    logcap_free(&lc);
    fb_stop(fb);
}

static void test_wrong_password_fails_at_once(void) {
    logcap_t lc;
    fake_broker_t *fb = start(&lc);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = sasl_producer(fb, &lc, "PLAIN",
                                     "org.apache.kafka.common.security.plain.PlainLoginModule "
                                     "required username=\"alice\" password=\"not-it\";");
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("t", NULL, "refused");
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(kp_send_sync(p, &r, 30000, NULL), 58 /* SASL_AUTHENTICATION_FAILED */);
    CHECK_LT_INT(test_now_ms() - t0, 10000); /* max.block.ms is 20 s */
    CHECK_GE_INT(logcap_matches(&lc, 0, 3, "why", "SASL PLAIN authentication failed",
                                "Invalid username or password", NULL),
                 1);
    CHECK_EQ_INT(logcap_matches(&lc, 0, 7, NULL, "not-it", NULL), 0);
    /* no reconnect storm: the refused broker is tried again with backoff
     * (reconnect.backoff.ms 50 doubling to 1000: about 6 attempts in 2 s,
     * where an unbounded retry would make thousands) */
    int before = fb_stats(fb).accepted;
    test_sleep_ms(2000);
    int tries = fb_stats(fb).accepted - before;
    CHECK_LE_INT(tries, 12);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    CHECK_GE_INT(fb_stats(fb).sasl_refused, 1);
    CHECK_EQ_INT((int)fb_log_end(fb), 0);
    logcap_free(&lc);
    fb_stop(fb);
}

static void test_mechanism_the_broker_lacks(void) {
    logcap_t lc;
    fake_broker_t *fb = start(&lc);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = sasl_producer(fb, &lc, "SCRAM-SHA-256",
                                     "org.apache.kafka.common.security.scram.ScramLoginModule "
                                     "required username=\"alice\" password=\"" PW "\";");
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("t", NULL, "no-mechanism");
    CHECK_EQ_ERR(kp_send_sync(p, &r, 30000, NULL), 33 /* UNSUPPORTED_SASL_MECHANISM */);
    CHECK_GE_INT(logcap_matches(&lc, 0, 3, "why", "SCRAM-SHA-256", "PLAIN", NULL), 1);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    fb_stop(fb);
}

TEST_MAIN(TEST(test_plain_delivers), TEST(test_wrong_password_fails_at_once),
          TEST(test_mechanism_the_broker_lacks))

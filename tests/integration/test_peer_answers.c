/*
 * test_peer_answers — kprod against what today's peers answer (issue 12):
 * librdkafka 2.15.1's mock cluster, a peer we did not write.
 *
 *   acks=0 answered: a Kafka broker sends nothing back for an acks=0
 *   Produce; the 2.15 mock (and some proxies) answer it all the same. Such
 *   an answer is read and dropped: no disconnect, nothing lost. (kprod used
 *   to call it a protocol error and drop the connection: 1,714 of 200,000
 *   records were lost that way against the 2.15 mock.)
 *
 *   Unsupported brokers: a broker offering Produce only below v3, or no
 *   InitProducerId while idempotence is on, fails the records at once with
 *   KP_ERR_UNSUPPORTED_BROKER and a log line naming the API and the range
 *   the broker offered (the mock's rd_kafka_mock_set_apiversion caps what
 *   it offers), instead of a wait of max.block.ms (the first) or a silent
 *   timeout (the second).
 *
 *   ApiVersions v3 (KIP-511) and its fallbacks, each seen in the requests
 *   the peer got: the 2.15 mock (offers v0-2, answers v3 unreadably) is
 *   asked again at v0; a broker answering UNSUPPORTED_VERSION with its
 *   range (Kafka 2.4+, the fake broker) is asked at the highest version
 *   both know; one that hangs up on v3 (Azure Event Hubs; the fake broker
 *   so told) is asked at v0 on the next connection. Versions the mock is
 *   capped to are the ones used.
 *
 *   KIP-951: when a leader moves (rd_kafka_mock_partition_set_leader), the
 *   old leader's NOT_LEADER_OR_FOLLOWER answer names the new one; the
 *   partition moves there at once, with no Metadata request in between.
 *   The test prints the time from the move to the first acknowledgement
 *   from the new leader (README: Delivery guarantees).
 *
 *   KIP-467 (Produce v8+): a batch refused for some of its records fails
 *   those with INVALID_RECORD and the broker's message for each, the rest
 *   with KP_ERR_INVALID_RECORD_IN_BATCH, none persisted, none retried; the
 *   broker's ErrorMessage reaches the log. The fake broker answers so (no
 *   real peer can be made to refuse chosen records).
 */
#include <stdatomic.h>
#include <string.h>

#include "common.h"
#include "engine/internal.h"
#include "fakebroker.h"
#include "logcap.h"

#define TOPIC "answers"

static void test_acks0_answers_dropped(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC, 6);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "acks", "0", "linger.ms", "2",
                                  "enable.idempotence", "false", NULL);
    if (!p)
        FAIL("producer: %s", err);
    REQUIRE_NOT_NULL(p);
    enum { N = 100000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "a0-%06d", i);
        kp_record_t r = {0};
        r.topic = TOPIC;
        r.partition = KP_PARTITION_ANY;
        r.value = v;
        r.value_len = (int32_t)strlen(v);
        refs[i] = (slot_ref_t){&t, (size_t)i};
        if (kp_send(p, &r, tracker_cb, &refs[i]) != KP_OK) {
            FAIL("send %d failed", i);
            break;
        }
    }
    CHECK_OK(kp_flush(p, 60000));
    CHECK_EQ_INT(atomic_load(&t.done), N);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    /* no connection was dropped for an answer it did not ask for */
    CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "disconnect", "disconnected", NULL), 0);
    CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "bad answer", "response", NULL), 0);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N, 60000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    readback_free(recs, n);
    free(refs);
    tracker_free(&t);
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

static kp_err_t send_one(kp_producer_t *p, const char *value) {
    kp_record_t r = {0};
    r.topic = TOPIC;
    r.partition = KP_PARTITION_ANY;
    r.value = value;
    r.value_len = (int32_t)strlen(value);
    return kp_send_sync(p, &r, 60000, NULL);
}

/* Produce v0..2 only: kprod needs v3 (RecordBatch v2). */
static void test_unsupported_produce_fails_at_once(void) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(rd_kafka_mock_set_apiversion(mockcluster_handle(mc), 0, 0, 2), 0);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), mockcluster_bootstraps(mc),
                                  "max.block.ms", "30000", NULL);
    if (!p)
        FAIL("producer: %s", err);
    REQUIRE_NOT_NULL(p);
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(send_one(p, "old-broker"), KP_ERR_UNSUPPORTED_BROKER);
    CHECK_LT_INT(test_now_ms() - t0, 5000); /* not max.block.ms */
    CHECK_GE_INT(logcap_matches(&lc, 0, 3, "why", "offers Produce v0..2", "needs Produce v3",
                                NULL),
                 1);
    /* and again, at once, while the broker stays so */
    t0 = test_now_ms();
    CHECK_EQ_ERR(send_one(p, "old-broker-2"), KP_ERR_UNSUPPORTED_BROKER);
    CHECK_LT_INT(test_now_ms() - t0, 5000);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* No InitProducerId: an idempotent producer cannot send (a fatal error,
 * as in the Java client); without idempotence the same cluster works. */
static void test_no_initproducerid_fails_idempotent(void) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(rd_kafka_mock_set_apiversion(mockcluster_handle(mc), 22, -1, -1), 0);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), mockcluster_bootstraps(mc),
                                  "max.block.ms", "30000", "delivery.timeout.ms", "60000", NULL);
    if (!p)
        FAIL("producer: %s", err);
    REQUIRE_NOT_NULL(p);
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(send_one(p, "no-pid"), KP_ERR_UNSUPPORTED_BROKER);
    CHECK_LT_INT(test_now_ms() - t0, 5000);
    CHECK_GE_INT(logcap_matches(&lc, 0, 3, "why", "offers InitProducerId v-1..-1",
                                "enable.idempotence", NULL),
                 1);
    CHECK_EQ_ERR(send_one(p, "no-pid-2"), KP_ERR_UNSUPPORTED_BROKER);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    p = producer_e(NULL, err, sizeof(err), mockcluster_bootstraps(mc), "enable.idempotence",
                   "false", NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_OK(send_one(p, "no-pid-not-idempotent"));
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* librdkafka 2.15's mock: v3, then v0; then the newest Produce and
 * Metadata both offer. */
static void test_apiversions_v3_then_v0_on_the_mock(void) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    char err[512];
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), mockcluster_bootstraps(mc), NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_OK(send_one(p, "v3-then-v0"));
    CHECK_GE_INT(mockcluster_version_count(mc, 18, 3), 1);
    CHECK_GE_INT(mockcluster_version_count(mc, 18, 0), 1);
    CHECK_EQ_INT(mockcluster_version_count(mc, 18, 1) + mockcluster_version_count(mc, 18, 2), 0);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, 0), 10);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, 0), 10);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, 3), 12);
    CHECK_EQ_INT(mockcluster_refused_count(mc, -1, -1), 0);
    /* Metadata v10+ gave the topic its id, which is kept */
    pthread_mutex_lock(&p->topics_lock);
    kp_topic_t *t = kp_topic_find(p, TOPIC);
    static const uint8_t zero[KP_UUID_LEN];
    CHECK(t && memcmp(t->topic_id, zero, KP_UUID_LEN) != 0);
    pthread_mutex_unlock(&p->topics_lock);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    mockcluster_stop_tracking(mc);
    mockcluster_destroy(mc);
}

/* The mock capped (Produce v3..7, Metadata v1..4): those maxima are used. */
static void test_capped_versions_on_the_mock(void) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(mockcluster_set_apiversion(mc, 0, 3, 7), 0);
    REQUIRE_EQ_INT(mockcluster_set_apiversion(mc, 3, 1, 4), 0);
    mockcluster_track_requests(mc);
    char err[512];
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), mockcluster_bootstraps(mc), NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_OK(send_one(p, "capped"));
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, 0), 7);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, 0), 7);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, 3), 4);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, 3), 4);
    CHECK_EQ_INT(mockcluster_refused_count(mc, -1, -1), 0);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    mockcluster_stop_tracking(mc);
    mockcluster_destroy(mc);
}

static kp_err_t send_to_fake(fake_broker_t *fb, logcap_t *lc) {
    char err[512];
    kp_producer_t *p = producer_e(lc, err, sizeof(err), fb_bootstrap(fb), "max.block.ms", "10000",
                                  NULL);
    if (!p) {
        FAIL("producer: %s", err);
        return KP_ERR_UNKNOWN;
    }
    kp_record_t r = {0};
    r.topic = "t";
    r.partition = 0;
    r.value = "fallback";
    r.value_len = 8;
    kp_err_t e = kp_send_sync(p, &r, 20000, NULL);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    return e;
}

/* Kafka 2.4+ answers a version it does not know with UNSUPPORTED_VERSION
 * and its range (here 0..2): asked again at v2, on the same connection. */
static void test_apiversions_range_fallback(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    CHECK_OK(send_to_fake(fb, NULL));
    fb_stats_t s = fb_stats(fb);
    CHECK_GE_INT(s.apiversions_refused, 1);
    CHECK_EQ_INT(s.requests[FB_API_APIVERSIONS], 2 * s.apiversions_refused);
    CHECK_EQ_U64(s.versions[FB_API_APIVERSIONS], 1u << 2); /* v2 only was answered */
    CHECK_EQ_INT(s.bad_requests, 0);
    CHECK_EQ_INT(s.accepted, s.apiversions_refused); /* no reconnect for it */
    CHECK(fb_wrote(fb, "fallback"));
    fb_stop(fb);
}

/* A broker that hangs up on v3 is asked at v0 on the next connection. */
static void test_apiversions_hangup_fallback(void) {
    fb_options_t o = {0};
    o.apiversions_hangs_up = 1;
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    logcap_t lc;
    logcap_init(&lc);
    CHECK_OK(send_to_fake(fb, &lc));
    fb_stats_t s = fb_stats(fb);
    CHECK_GE_INT(s.bad_requests, 1); /* the v3 requests it hung up on */
    CHECK_EQ_U64(s.versions[FB_API_APIVERSIONS], 1u << 0); /* then v0 */
    CHECK(fb_wrote(fb, "fallback"));
    logcap_free(&lc);
    fb_stop(fb);
}

static void test_leader_hint_moves_partition(void) {
    const char *topic = "moving";
    mockcluster_t *mc = mockcluster_start(3, topic, 1);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_cluster_t *h = mockcluster_handle(mc);
    REQUIRE_EQ_INT(rd_kafka_mock_partition_set_leader(h, topic, 0, 1), 0);
    char err[512];
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), mockcluster_bootstraps(mc), NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = {0};
    r.topic = topic;
    r.partition = 0;
    r.value = "before";
    r.value_len = 6;
    kp_record_metadata_t md;
    REQUIRE_OK(kp_send_sync(p, &r, 20000, &md));
    int64_t worst = 0;
    for (int round = 0; round < 5; round++) {
        int32_t to = round % 2 ? 1 : 2;
        mockcluster_track_requests(mc);
        int64_t t0 = test_now_ms();
        REQUIRE_EQ_INT(rd_kafka_mock_partition_set_leader(h, topic, 0, to), 0);
        r.value = "after";
        r.value_len = 5;
        CHECK_OK(kp_send_sync(p, &r, 20000, &md));
        int64_t took = test_now_ms() - t0;
        worst = took > worst ? took : worst;
        printf("# leader moved to broker %d: first acknowledgement from it after %lld ms "
               "(Produce to the old leader: %d)\n",
               to, (long long)took, mockcluster_request_count(mc, 0, 3 - to));
        CHECK_GE_INT(mockcluster_request_count(mc, 0, to), 1); /* the new leader wrote it */
        CHECK_EQ_INT(mockcluster_request_count(mc, 3, -1), 0); /* no Metadata on the way */
        mockcluster_stop_tracking(mc);
    }
    printf("# leader move to first acknowledgement: at most %lld ms over 5 moves\n",
           (long long)worst);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

typedef struct rec_outcome {
    _Atomic int done;
    kp_err_t err;
    kp_persisted_t persisted;
    char msg[128];
    int has_msg;
} rec_outcome_t;

static void on_rec(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    rec_outcome_t *o = opaque;
    o->err = err;
    o->persisted = md->persisted;
    o->has_msg = md->error_message != NULL;
    if (md->error_message)
        snprintf(o->msg, sizeof(o->msg), "%s", md->error_message);
    atomic_store(&o->done, 1);
}

static void test_record_errors(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    const int32_t bad[] = {1, 3};
    fb_set_record_errors(fb, 87 /* INVALID_RECORD */, 0, 1, bad, 2, "2 records had no key");
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), fb_bootstrap(fb), "linger.ms", "60000",
                                  NULL);
    REQUIRE_NOT_NULL(p);
    rec_outcome_t o[5];
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof(v), "r%d", i);
        kp_record_t r = {0};
        r.topic = "t";
        r.partition = 0;
        r.value = v;
        r.value_len = (int32_t)strlen(v);
        CHECK_OK(kp_send(p, &r, on_rec, &o[i]));
    }
    CHECK_OK(kp_flush(p, 20000));
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(atomic_load(&o[i].done), 1);
        CHECK_EQ_INT(o[i].persisted, KP_NOT_PERSISTED);
        if (i == 1 || i == 3) {
            char want[32];
            snprintf(want, sizeof(want), "record %d is bad", i);
            CHECK_EQ_ERR(o[i].err, 87);
            CHECK_EQ_STR(o[i].msg, want);
        } else {
            CHECK_EQ_ERR(o[i].err, KP_ERR_INVALID_RECORD_IN_BATCH);
            CHECK_EQ_INT(o[i].has_msg, 0);
        }
    }
    CHECK_EQ_INT(fb_stats(fb).requests[FB_API_PRODUCE], 1); /* not retried */
    CHECK_EQ_INT((int)fb_log_end(fb), 0);
    CHECK_GE_INT(logcap_matches(&lc, 0, 4, "why", "INVALID_RECORD", "2 records had no key", NULL),
                 1);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    fb_stop(fb);
}

TEST_MAIN(TEST(test_acks0_answers_dropped), TEST(test_record_errors), TEST(test_leader_hint_moves_partition), TEST(test_apiversions_v3_then_v0_on_the_mock),
          TEST(test_capped_versions_on_the_mock), TEST(test_apiversions_range_fallback),
          TEST(test_apiversions_hangup_fallback), TEST(test_unsupported_produce_fails_at_once),
          TEST(test_no_initproducerid_fails_idempotent))

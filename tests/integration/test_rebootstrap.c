/*
 * test_rebootstrap — metadata.recovery.strategy=rebootstrap (KIP-899,
 * KIP-1102) against librdkafka 2.15.1's mock cluster: every broker the
 * producer learned goes away, and the bootstrap address (a TCP forwarder
 * standing for a DNS name or a load balancer, tests/support/tcpproxy.h)
 * now leads to new brokers. The producer starts again from
 * bootstrap.servers and goes on: every record acknowledged, each once, in
 * order per key, read back from the new brokers; idempotence stays on.
 *
 * (librdkafka's own rebootstrap stops delivering in this situation
 * without an error: its issue #5605.)
 *
 * With metadata.recovery.strategy=none the same producer keeps trying the
 * old brokers: its records time out (delivery.timeout.ms), as documented.
 *
 * The other two triggers, against the fake broker (no real peer stalls
 * Metadata on cue or answers REBOOTSTRAP_REQUIRED): a broker that takes
 * connections but never answers Metadata, for
 * metadata.recovery.rebootstrap.trigger.ms; and a Produce answered
 * REBOOTSTRAP_REQUIRED (129), whose record then goes through.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fakebroker.h"
#include "logcap.h"
#include "tcpproxy.h"

#define TOPIC "moved"
#define PARTS 3
#define N1 600
#define N2 600

/* The port of broker `id`, from a Metadata request (librdkafka's) to the
 * cluster's first brokers: the mock's bootstrap list does not grow with
 * rd_kafka_mock_broker_add. -1 if it is not listed. */
static int broker_port(mockcluster_t *mc, int id) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", mockcluster_bootstraps(mc), errstr,
                      sizeof(errstr));
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        return -1;
    const struct rd_kafka_metadata *md = NULL;
    int port = -1;
    if (rd_kafka_metadata(rk, 0, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->broker_cnt; i++)
            if (md->brokers[i].id == id)
                port = md->brokers[i].port;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return port;
}

static void send_range(kp_producer_t *p, tracker_t *t, slot_ref_t *refs, int from, int to) {
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "k%d", i % 30);
        snprintf(v, sizeof(v), "%06d", i);
        kp_record_t r = rec_str(TOPIC, k, v);
        refs[i] = (slot_ref_t){t, (size_t)i};
        if (kp_send(p, &r, tracker_cb, &refs[i]) != KP_OK)
            FAIL("send %d", i);
    }
}

/* Move every partition to brokers 4..6 and take 1..3 away; the proxy now
 * leads to broker 4. */
static void replace_brokers(mockcluster_t *mc, tcpproxy_t *px) {
    rd_kafka_mock_cluster_t *h = mockcluster_handle(mc);
    for (int id = 4; id <= 6; id++)
        REQUIRE_EQ_INT(rd_kafka_mock_broker_add(h, id), 0);
    for (int part = 0; part < PARTS; part++)
        REQUIRE_EQ_INT(rd_kafka_mock_partition_set_leader(h, TOPIC, part, 4 + part), 0);
    int port4 = broker_port(mc, 4);
    REQUIRE(port4 > 0);
    for (int id = 1; id <= 3; id++)
        REQUIRE_EQ_INT(rd_kafka_mock_broker_set_down(h, id), 0);
    tcpproxy_retarget(px, port4);
}

/* Brokers 1..3, partition p led by broker p + 1, and the bootstrap
 * address: a proxy to broker 1. NULL on failure. */
static mockcluster_t *start_cluster(tcpproxy_t **px) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC, PARTS);
    for (int part = 0; mc && part < PARTS; part++)
        if (rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), TOPIC, part, 1 + part)) {
            mockcluster_destroy(mc);
            return NULL;
        }
    *px = mc ? tcpproxy_start(broker_port(mc, 1)) : NULL;
    if (mc && !*px) {
        mockcluster_destroy(mc);
        return NULL;
    }
    return mc;
}

static void test_rebootstrap_to_new_brokers(void) {
    tcpproxy_t *px;
    mockcluster_t *mc = start_cluster(&px);
    REQUIRE_NOT_NULL(mc);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    /* (the brokers taken down accept no connection; one that hangs costs
     * socket.connection.setup.timeout.ms before it counts as failed) */
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), tcpproxy_address(px), "linger.ms", "5",
                                  "reconnect.backoff.max.ms", "200",
                                  "socket.connection.setup.timeout.ms", "1000",
                                  "socket.connection.setup.timeout.max.ms", "2000", NULL);
    if (!p)
        FAIL("producer: %s", err);
    REQUIRE_NOT_NULL(p);
    tracker_t t;
    tracker_init(&t, N1 + N2);
    slot_ref_t *refs = calloc(N1 + N2, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    send_range(p, &t, refs, 0, N1);
    CHECK_OK(kp_flush(p, 30000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);

    replace_brokers(mc, px);
    send_range(p, &t, refs, N1, N1 + N2);
    CHECK_OK(kp_flush(p, 60000));
    CHECK_EQ_INT(atomic_load(&t.done), N1 + N2);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    CHECK_GE_INT(logcap_matches(&lc, 0, 4, "why", "rebootstrap", "no known broker", NULL), 1);
    CHECK_GE_INT(tcpproxy_accepted(px), 2); /* the first bootstrap, and the new one */
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);

    /* read back from the new brokers: each record once, in order per key */
    char boot[64];
    snprintf(boot, sizeof(boot), "%s", tcpproxy_address(px));
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N1 + N2, 30000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N1 + N2);
    int *seen = calloc(N1 + N2, sizeof(int));
    int last[30];
    for (int k = 0; k < 30; k++)
        last[k] = -1;
    int dups = 0, reordered = 0;
    for (size_t j = 0; j < n && seen; j++) {
        int i = atoi(recs[j].value ? recs[j].value : "-1");
        if (i < 0 || i >= N1 + N2)
            continue;
        dups += seen[i]++ > 0;
        if (i < last[i % 30])
            reordered++;
        last[i % 30] = i;
    }
    CHECK_EQ_INT(dups, 0);
    CHECK_EQ_INT(reordered, 0);
    free(seen);
    readback_free(recs, n);
    free(refs);
    tracker_free(&t);
    logcap_free(&lc);
    tcpproxy_stop(px);
    mockcluster_destroy(mc);
}

/* strategy none: no rebootstrap; the records wait for the old brokers
 * and fail at delivery.timeout.ms. */
static void test_strategy_none_stays(void) {
    tcpproxy_t *px;
    mockcluster_t *mc = start_cluster(&px);
    REQUIRE_NOT_NULL(mc);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), tcpproxy_address(px),
                                  "metadata.recovery.strategy", "none", "delivery.timeout.ms",
                                  "3000", "request.timeout.ms", "1000", "linger.ms", "0",
                                  "reconnect.backoff.max.ms", "200", NULL);
    REQUIRE_NOT_NULL(p);
    tracker_t t;
    tracker_init(&t, 20);
    slot_ref_t refs[20];
    send_range(p, &t, refs, 0, 10);
    CHECK_OK(kp_flush(p, 30000));
    replace_brokers(mc, px);
    send_range(p, &t, refs, 10, 20);
    CHECK_OK(kp_flush(p, 30000));
    CHECK_EQ_INT(atomic_load(&t.failed), 10);
    CHECK_EQ_INT(logcap_matches(&lc, 0, 7, NULL, "rebootstrap:", NULL), 0);
    CHECK_EQ_INT(tcpproxy_accepted(px), 1);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    tracker_free(&t);
    logcap_free(&lc);
    tcpproxy_stop(px);
    mockcluster_destroy(mc);
}

typedef struct log_wait {
    logcap_t *lc;
    const char *word;
} log_wait_t;

static int logged(void *arg) {
    log_wait_t *w = arg;
    return logcap_matches(w->lc, 0, 4, NULL, "rebootstrap:", w->word, NULL) > 0;
}

static void test_rebootstrap_after_trigger_time(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), fb_bootstrap(fb), "linger.ms", "0",
                                  "metadata.max.age.ms", "500",
                                  "metadata.recovery.rebootstrap.trigger.ms", "2000",
                                  "request.timeout.ms", "700", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("t", NULL, "first");
    REQUIRE_OK(kp_send_sync(p, &r, 20000, NULL));
    /* from now on Metadata requests get no answer (connections still do):
     * the refresh every metadata.max.age.ms never completes */
    fb_set_fault(fb, FB_F_STALLED, FB_API_METADATA, 0, FB_FOREVER);
    int64_t t0 = test_now_ms();
    log_wait_t w = {&lc, "no metadata for"};
    CHECK(wait_until(logged, &w, 15000));
    CHECK_GE_INT(test_now_ms() - t0, 2000); /* not before the trigger time */
    CHECK_EQ_INT(logcap_matches(&lc, 0, 4, NULL, "rebootstrap:", "no known broker", NULL), 0);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    fb_stop(fb);
}

static void test_rebootstrap_required_answer(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    fb_set_produce_error(fb, 129 /* REBOOTSTRAP_REQUIRED */, 0, 1);
    logcap_t lc;
    logcap_init(&lc);
    char err[512];
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), fb_bootstrap(fb), "linger.ms", "0", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("t", NULL, "after-rebootstrap");
    CHECK_OK(kp_send_sync(p, &r, 20000, NULL));
    CHECK_GE_INT(logcap_matches(&lc, 0, 4, "why", "rebootstrap:", "REBOOTSTRAP_REQUIRED", NULL), 1);
    CHECK_EQ_INT(fb_stats(fb).errors_injected, 1);
    CHECK(fb_wrote(fb, "after-rebootstrap"));
    CHECK_EQ_INT((int)fb_log_end(fb), 1);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    logcap_free(&lc);
    fb_stop(fb);
}

TEST_MAIN(TEST(test_rebootstrap_to_new_brokers), TEST(test_strategy_none_stays),
          TEST(test_rebootstrap_after_trigger_time), TEST(test_rebootstrap_required_answer))

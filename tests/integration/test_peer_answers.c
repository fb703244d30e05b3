/*
 * test_peer_answers — kprod against what today's peers answer (issue 12):
 * librdkafka 2.15.1's mock cluster, a peer we did not write.
 *
 *   acks=0 answered: a Kafka broker sends nothing back for an acks=0
 *   Produce; the 2.15 mock (and some proxies) answer it all the same. Such
 *   an answer is read and dropped: no disconnect, nothing lost. (kprod used
 *   to call it a protocol error and drop the connection: 1,714 of 200,000
 *   records were lost that way against the 2.15 mock.)
 */
#include <stdatomic.h>
#include <string.h>

#include "common.h"
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

TEST_MAIN(TEST(test_acks0_answers_dropped))

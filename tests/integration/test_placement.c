/*
 * Placement checked against independent implementations: keyed records go
 * where librdkafka's Java-compatible murmur2 partitioner (and so the Java
 * client) puts them, for thousands of keys and several partition counts;
 * records without a key stick to one partition for about batch.size bytes.
 */
#include "common.h"

static void test_keyed_matches_librdkafka_murmur2(void) {
    static const int counts[] = {1, 2, 3, 6, 7, 16, 100, 1000};
    char key[64];
    int checked = 0;
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
        for (int i = 0; i < 5000; i++) {
            /* varied lengths, including every tail length of murmur2 */
            int len = snprintf(key, sizeof(key), "%.*s%d", i % 9, "abcdefghi", i * 7919);
            int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)len, counts[c],
                                                            NULL, NULL);
            int32_t got = (kp_murmur2(key, (size_t)len) & 0x7fffffff) % counts[c];
            if (got != want) {
                FAIL("key %s, %d partitions: kprod %d, librdkafka %d", key, counts[c], got,
                     want);
                return;
            }
            checked++;
        }
    CHECK_EQ_INT(checked, 40000);
}

/* Where kprod really sends keyed records (not just the formula). */
static void test_keyed_records_land_there(void) {
    mockcluster_t *mc = mockcluster_start(3, "keyed", 7);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, NULL);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 2000; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "user-%d", i);
        kp_record_t r = {.topic = "keyed", .partition = KP_PARTITION_ANY, .key = k,
                         .key_len = n, .value = k, .value_len = n};
        CHECK_OK(kp_send(p, &r, NULL, NULL));
    }
    CHECK_OK(kp_close(p, 20000));
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, "keyed", 2000, 30000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, 2000);
    int wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += recs[i].partition !=
                 rd_kafka_msg_partitioner_murmur2(NULL, recs[i].key, recs[i].key_len, 7, NULL,
                                                  NULL);
    CHECK_EQ_INT(wrong, 0);
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

/* partitioner.ignore.keys: keyed records are placed as if they had none
 * (sticky), so one key spreads over partitions. */
static void test_ignore_keys(void) {
    mockcluster_t *mc = mockcluster_start(1, "ignore", 4);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "partitioner.ignore.keys",
                                     "true", "batch.size", "1024", NULL);
    REQUIRE_NOT_NULL(p);
    int seen[4] = {0};
    for (int i = 0; i < 400; i++) {
        kp_record_t r = {.topic = "ignore", .partition = KP_PARTITION_ANY, .key = "one-key",
                         .key_len = 7, .value = "0123456789012345678901234567890123456789",
                         .value_len = 40};
        kp_record_metadata_t md;
        kp_future_t *f;
        CHECK_OK(kp_send_future(p, &r, NULL, NULL, &f));
        if (i % 50 == 49) { /* wait now and then, keep the rest batched */
            CHECK_OK(kp_future_get(f, 10000, &md));
            seen[md.partition & 3]++;
        }
        kp_future_destroy(f);
    }
    CHECK_OK(kp_flush(p, 10000));
    kp_producer_destroy(p);
    int used = 0;
    for (int i = 0; i < 4; i++)
        used += seen[i] > 0;
    CHECK_GT_INT(used, 1); /* with keys honoured, all 8 samples share one partition */
    mockcluster_destroy(mc);
}

/* KIP-794's uniform sticky rule: a null-key partition is kept for about
 * batch.size bytes, then another is chosen; over many records all
 * partitions get some. */
static void test_null_keys_stick_for_batch_size(void) {
    mockcluster_t *mc = mockcluster_start(1, "sticky", 4);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "batch.size", "4096", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 4000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    char v[100];
    memset(v, 'n', sizeof(v));
    for (int i = 0; i < N; i++) {
        kp_record_t r = {.topic = "sticky", .partition = KP_PARTITION_ANY, .value = v,
                         .value_len = sizeof(v)};
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK(tracker_wait(&t, 30000));
    kp_producer_destroy(p);
    /* runs of consecutive records in one partition */
    int runs = 0, per_part[4] = {0};
    long run_len_sum = 0, cur = 0;
    for (int i = 0; i < N; i++) {
        per_part[t.d[i].partition & 3]++;
        if (i && t.d[i].partition != t.d[i - 1].partition) {
            runs++;
            run_len_sum += cur;
            cur = 0;
        }
        cur++;
    }
    /* a record takes ~170 bytes in the bound used for accounting: 4096
     * bytes make runs of ~25; allow for the first and last partial runs */
    double mean = runs ? (double)run_len_sum / runs : 0;
    printf("%d partition switches, mean run %.1f records, per partition %d/%d/%d/%d\n", runs,
           mean, per_part[0], per_part[1], per_part[2], per_part[3]);
    CHECK_GT_INT(runs, 50);
    CHECK(mean > 10 && mean < 60);
    for (int i = 0; i < 4; i++)
        CHECK_GT_INT(per_part[i], N / 10);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* Adaptive partitioning (KIP-794): with one broker slow (RTT 100 ms), its
 * partition's queue grows and it gets fewer null-key records; with the
 * adaptive weighting off the split stays about even. */
static void run_adaptive(const char *adaptive, int counts[3]) {
    mockcluster_t *mc = mockcluster_new(3);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(mockcluster_create_topic(mc, "adaptive", 3, 1), 0);
    for (int part = 0; part < 3; part++)
        rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), "adaptive", part, part + 1);
    rd_kafka_mock_broker_set_rtt(mockcluster_handle(mc), 3, 100); /* partition 2 */
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "batch.size", "4096",
                                     "linger.ms", "1",
                                     "partitioner.adaptive.partitioning.enable", adaptive, NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_INT(test_partitions(p, "adaptive"), 3);
    enum { N = 6000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    char v[100];
    memset(v, 'a', sizeof(v));
    for (int i = 0; i < N; i++) {
        kp_record_t r = {.topic = "adaptive", .partition = KP_PARTITION_ANY, .value = v,
                         .value_len = sizeof(v)};
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
        if (i % 600 == 599)
            test_sleep_ms(50); /* a steady stream over ~1 s, not a burst */
    }
    CHECK(tracker_wait(&t, 60000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_producer_destroy(p);
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < N; i++)
        counts[t.d[i].partition % 3]++;
    printf("adaptive=%s: records per partition %d / %d / %d (partition 2 slow)\n", adaptive,
           counts[0], counts[1], counts[2]);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

static void test_adaptive_avoids_slow_broker(void) {
    int on[3], off[3];
    run_adaptive("true", on);
    run_adaptive("false", off);
    /* the slow partition gets clearly less than each fast one when adaptive */
    CHECK_LT_INT(on[2] * 2, on[0]);
    CHECK_LT_INT(on[2] * 2, on[1]);
    /* and without it, no partition is starved */
    for (int i = 0; i < 3; i++)
        CHECK_GT_INT(off[i], 6000 / 6);
}

/* partitioner.availability.timeout.ms: a partition whose broker has been
 * unable to take data that long gets no new null-key records. */
static void test_availability_timeout(void) {
    mockcluster_t *mc = mockcluster_new(2);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(mockcluster_create_topic(mc, "avail", 2, 1), 0);
    rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), "avail", 0, 1);
    rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), "avail", 1, 2);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "batch.size", "2048",
                                     "linger.ms", "1", "partitioner.availability.timeout.ms",
                                     "200", "reconnect.backoff.max.ms", "100", NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_INT(test_partitions(p, "avail"), 2);
    rd_kafka_mock_broker_set_down(mockcluster_handle(mc), 2); /* partition 1 */
    enum { N = 4000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    char v[100];
    memset(v, 'a', sizeof(v));
    int late_to_p1 = 0;
    for (int i = 0; i < N; i++) {
        kp_record_t r = {.topic = "avail", .partition = KP_PARTITION_ANY, .value = v,
                         .value_len = sizeof(v)};
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
        if (i % 200 == 199)
            test_sleep_ms(50); /* ~1 s of steady traffic */
    }
    rd_kafka_mock_broker_set_up(mockcluster_handle(mc), 2);
    CHECK(tracker_wait(&t, 60000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    /* after the first ~400 ms (timeout + detection), partition 1 gets nothing */
    for (int i = N / 2; i < N; i++)
        late_to_p1 += t.d[i].partition == 1;
    printf("records sent to the unavailable partition in the second half: %d of %d\n",
           late_to_p1, N / 2);
    CHECK_LT_INT(late_to_p1, N / 20);
    kp_producer_destroy(p);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_keyed_matches_librdkafka_murmur2), TEST(test_keyed_records_land_there), TEST(test_ignore_keys),
          TEST(test_null_keys_stick_for_batch_size),
          TEST(test_adaptive_avoids_slow_broker), TEST(test_availability_timeout))

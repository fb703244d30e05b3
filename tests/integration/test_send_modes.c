/*
 * The three send modes, acks 0/1/all, flush, close, and the immediate
 * failures of send — against librdkafka's mock cluster, read back with
 * librdkafka's consumer.
 */
#include "common.h"

#define TOPIC "modes"

static mockcluster_t *start(int partitions) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC, partitions);
    if (!mc)
        FAIL("mock cluster did not start");
    return mc;
}

/* Mode 1: fire and forget; close() delivers everything. */
static void test_fire_and_forget(void) {
    mockcluster_t *mc = start(3);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "value.serializer", "string", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "ff-%d", i);
        kp_record_t r = rec_str(TOPIC, NULL, v);
        CHECK_OK(kp_send(p, &r, NULL, NULL));
    }
    CHECK_OK(kp_close(p, 30000));
    kp_producer_destroy(p);

    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    char seen[N] = {0};
    for (size_t i = 0; i < n; i++) {
        int v;
        CHECK(recs[i].key_null);
        if (sscanf(recs[i].value, "ff-%d", &v) == 1 && v >= 0 && v < N)
            seen[v]++;
        else
            FAIL("unexpected value %s", (char *)recs[i].value);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(seen[i], 1);
    /* no key: sticky partitioning keeps records of one batch together, so
     * within a partition values appear in send order */
    for (size_t i = 1; i < n; i++)
        if (recs[i].partition == recs[i - 1].partition) {
            int a, b;
            sscanf(recs[i - 1].value, "ff-%d", &a);
            sscanf(recs[i].value, "ff-%d", &b);
            CHECK_LT_INT(a, b);
        }
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

/* Mode 2: callbacks with metadata matching what the broker stored. */
static void test_callback(void) {
    mockcluster_t *mc = start(4);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 500 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    int64_t ts0 = 1700000000000LL;
    for (int i = 0; i < N; i++) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "key-%d", i % 37);
        snprintf(v, sizeof(v), "value-%d", i);
        kp_header_t h[2] = {{"idx", v, (int32_t)strlen(v)}, {"nullhdr", NULL, 0}};
        kp_record_t r = rec_str(TOPIC, k, v);
        r.timestamp = ts0 + i;
        r.headers = h;
        r.header_count = 2;
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK(tracker_wait(&t, 30000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);

    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    for (int i = 0; i < N; i++) {
        delivery_t *d = &t.d[i];
        CHECK_EQ_INT(atomic_load(&d->calls), 1);
        CHECK_EQ_INT(d->err, KP_OK);
        CHECK_EQ_INT(d->persisted, KP_PERSISTED);
        /* Java semantics: the broker's LogAppendTime when it gives one, else
         * the record's CreateTime. librdkafka's mock answers every append
         * with LogAppendTime 1234, which kprod passes through. */
        if (d->timestamp != 1234)
            CHECK_EQ_INT(d->timestamp, ts0 + i);
        char k[32], v[32];
        snprintf(k, sizeof(k), "key-%d", i % 37);
        snprintf(v, sizeof(v), "value-%d", i);
        /* Java placement: toPositive(murmur2(key)) % partitions */
        CHECK_EQ_INT(d->partition, (kp_murmur2(k, strlen(k)) & 0x7fffffff) % 4);
        const rb_record_t *found = NULL;
        for (size_t j = 0; j < n; j++)
            if (recs[j].partition == d->partition && recs[j].offset == d->offset)
                found = &recs[j];
        REQUIRE_NOT_NULL(found);
        CHECK_EQ_MEM(found->key, found->key_len, k, strlen(k));
        CHECK_EQ_MEM(found->value, found->value_len, v, strlen(v));
        CHECK_EQ_INT(found->timestamp, ts0 + i);
        CHECK_EQ_INT(found->header_count, 2);
        const rb_header_t *h = readback_header(found, "idx");
        REQUIRE_NOT_NULL(h);
        CHECK_EQ_MEM(h->value, h->value_len, v, strlen(v));
        h = readback_header(found, "nullhdr");
        REQUIRE_NOT_NULL(h);
        CHECK(h->value_null);
    }
    readback_free(recs, n);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* Mode 3: synchronous; each record is acknowledged before the next is sent,
 * so offsets in a partition follow send order exactly. */
static void test_sync(void) {
    mockcluster_t *mc = start(1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "key.serializer", "string", "value.serializer",
                                     "string", NULL);
    REQUIRE_NOT_NULL(p);
    int64_t prev = -1;
    for (int i = 0; i < 20; i++) {
        char v[32];
        snprintf(v, sizeof(v), "sync-%d", i);
        kp_record_t r = rec_str(TOPIC, "k", v);
        kp_record_metadata_t md;
        if (i % 2) {
            kp_future_t *f;
            REQUIRE_OK(kp_send_future(p, &r, NULL, NULL, &f));
            CHECK_OK(kp_future_get(f, 10000, &md));
            CHECK(kp_future_is_done(f));
            kp_future_destroy(f);
        } else {
            CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        }
        CHECK_EQ_STR(md.topic, TOPIC);
        CHECK_EQ_INT(md.partition, 0);
        CHECK_EQ_INT(md.offset, prev + 1);
        CHECK_EQ_INT(md.serialized_key_size, 1);
        CHECK_EQ_INT(md.serialized_value_size, (int)strlen(v));
        prev = md.offset;
    }
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, 20, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, 20);
    for (size_t i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof(v), "sync-%zu", i);
        CHECK_EQ_INT(recs[i].offset, (int64_t)i);
        CHECK_EQ_MEM(recs[i].value, recs[i].value_len, v, strlen(v));
    }
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

/* A future outlives nothing: destroying it before completion is fine. */
static void test_future_destroy_early(void) {
    mockcluster_t *mc = start(1);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "linger.ms", "50", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str(TOPIC, NULL, "x");
    kp_future_t *f;
    REQUIRE_OK(kp_send_future(p, &r, NULL, NULL, &f));
    CHECK_EQ_ERR(kp_future_get(f, 0, NULL), KP_ERR_TIMED_OUT);
    kp_future_destroy(f);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

static void run_acks(const char *acks) {
    mockcluster_t *mc = start(2);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "acks", acks, NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 200 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "%s-%d", acks, i);
        kp_record_t r = rec_str(TOPIC, v, v);
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK_OK(kp_flush(p, 30000));
    CHECK_EQ_INT(atomic_load(&t.done), N); /* flush returned: all completed */
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (int i = 0; i < N; i++) {
        if (!strcmp(acks, "0")) {
            CHECK_EQ_INT(t.d[i].offset, -1);
            CHECK_EQ_INT(t.d[i].persisted, KP_POSSIBLY_PERSISTED);
        } else {
            CHECK_GE_INT(t.d[i].offset, 0);
            CHECK_EQ_INT(t.d[i].persisted, KP_PERSISTED);
        }
    }
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    readback_free(recs, n);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

static void test_acks_0(void) { run_acks("0"); }
static void test_acks_1(void) { run_acks("1"); }
static void test_acks_all(void) { run_acks("all"); }

/* close() with records still lingering delivers them. */
static void test_close_delivers_queued(void) {
    mockcluster_t *mc = start(3);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "linger.ms", "600000", "delivery.timeout.ms",
                                     "900000", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 1000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "q-%d", i);
        kp_record_t r = rec_str(TOPIC, v, v);
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK_EQ_INT(atomic_load(&t.done), 0); /* lingering */
    int64_t t0 = test_now_ms();
    CHECK_OK(kp_close(p, 30000));
    CHECK_LT_INT(test_now_ms() - t0, 20000);
    CHECK_EQ_INT(atomic_load(&t.done), N);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_record_t r = rec_str(TOPIC, NULL, "late");
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_CLOSED);
    CHECK_OK(kp_close(p, 0)); /* idempotent */
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, N, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    readback_free(recs, n);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* flush() ignores linger.ms and returns once everything sent before it
 * has completed. */
static void test_flush(void) {
    mockcluster_t *mc = start(3);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "linger.ms", "600000",
                                     "delivery.timeout.ms", "900000", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 50 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        kp_record_t r = rec_str(TOPIC, NULL, "f");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    int64_t t0 = test_now_ms();
    CHECK_OK(kp_flush(p, 20000));
    CHECK_LT_INT(test_now_ms() - t0, 15000);
    CHECK_EQ_INT(atomic_load(&t.done), N);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    CHECK_OK(kp_flush(p, 0)); /* nothing pending */
    kp_producer_destroy(p);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

typedef struct reentry {
    kp_producer_t *p;
    atomic_int flush_err, close_err, calls;
} reentry_t;

static void reentrant_cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    reentry_t *re = opaque;
    (void)md;
    (void)err;
    atomic_store(&re->flush_err, kp_flush(re->p, 1000));
    atomic_store(&re->close_err, kp_close(re->p, 1000));
    atomic_fetch_add(&re->calls, 1);
}

static int reentry_done(void *arg) { return atomic_load(&((reentry_t *)arg)->calls) > 0; }

/* flush/close from a callback: a clear error, not a deadlock. */
static void test_flush_close_in_callback(void) {
    mockcluster_t *mc = start(1);
    REQUIRE_NOT_NULL(mc);
    reentry_t re = {0};
    re.p = make_producer(mockcluster_bootstraps(mc), NULL);
    REQUIRE_NOT_NULL(re.p);
    kp_record_t r = rec_str(TOPIC, NULL, "cb");
    CHECK_OK(kp_send(re.p, &r, reentrant_cb, &re));
    CHECK(wait_until(reentry_done, &re, 20000));
    CHECK_EQ_ERR(atomic_load(&re.flush_err), KP_ERR_IN_CALLBACK);
    CHECK_EQ_ERR(atomic_load(&re.close_err), KP_ERR_IN_CALLBACK);
    kp_producer_destroy(re.p);
    mockcluster_destroy(mc);
}

/* Failures that happen at once: nothing queued, no callback. */
static void test_immediate_errors(void) {
    mockcluster_t *mc = start(2);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "max.block.ms", "300",
                                     "max.request.size", "100000", NULL);
    /* The mock auto-creates topics on Metadata v2; make this one answer
     * UNKNOWN_TOPIC_OR_PARTITION instead, as a broker without it would. */
    rd_kafka_mock_topic_set_error(mockcluster_handle(mc), "no-such-topic",
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    REQUIRE_NOT_NULL(p);
    tracker_t t;
    tracker_init(&t, 1);
    slot_ref_t ref = {&t, 0};

    /* larger than max.request.size */
    char *big = malloc(200000);
    memset(big, 'x', 200000);
    kp_record_t r = rec_str(TOPIC, NULL, NULL);
    r.value = big;
    r.value_len = 200000;
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(kp_send(p, &r, tracker_cb, &ref), KP_ERR_RECORD_TOO_LARGE);
    CHECK_LT_INT(test_now_ms() - t0, 100);
    free(big);

    /* a topic that does not exist: after max.block.ms */
    r = rec_str("no-such-topic", NULL, "v");
    t0 = test_now_ms();
    CHECK_EQ_ERR(kp_send(p, &r, tracker_cb, &ref), 3 /* UNKNOWN_TOPIC_OR_PARTITION */);
    int64_t waited = test_now_ms() - t0;
    CHECK_GE_INT(waited, 290);
    CHECK_LT_INT(waited, 5000);

    /* a partition the topic does not have */
    r = rec_str(TOPIC, NULL, "v");
    r.partition = 7;
    CHECK_EQ_ERR(kp_send(p, &r, tracker_cb, &ref), KP_ERR_UNKNOWN_PARTITION);
    CHECK_EQ_INT(test_partitions(p, TOPIC), 2);

    /* bad arguments */
    CHECK_EQ_ERR(kp_send(p, NULL, NULL, NULL), KP_ERR_INVALID_ARG);
    r = rec_str(NULL, NULL, "v");
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_INVALID_ARG);
    r = rec_str(TOPIC, NULL, "v");
    r.value_len = -5;
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_INVALID_ARG);

    CHECK_OK(kp_close(p, 5000));
    CHECK_EQ_INT(atomic_load(&t.done), 0); /* failed sends never call back */
    kp_producer_destroy(p);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* No broker reachable: the send gives up after max.block.ms with
 * KP_ERR_CLUSTER_UNREACHABLE (not "unknown topic": nobody said so, nor
 * "not in metadata": no broker answered at all). */
static void test_no_broker_metadata_timeout(void) {
    kp_producer_t *p = make_producer("127.0.0.1:1", "max.block.ms", "300", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str(TOPIC, NULL, "v");
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_CLUSTER_UNREACHABLE);
    CHECK_GE_INT(test_now_ms() - t0, 290);
    CHECK_EQ_INT(test_partitions(p, TOPIC), KP_ERR_CLUSTER_UNREACHABLE);
    CHECK_OK(kp_close(p, 1000));
    kp_producer_destroy(p);
}

TEST_MAIN(TEST(test_fire_and_forget), TEST(test_callback), TEST(test_sync),
          TEST(test_future_destroy_early), TEST(test_acks_0), TEST(test_acks_1),
          TEST(test_acks_all), TEST(test_close_delivers_queued), TEST(test_flush),
          TEST(test_flush_close_in_callback), TEST(test_immediate_errors),
          TEST(test_no_broker_metadata_timeout))

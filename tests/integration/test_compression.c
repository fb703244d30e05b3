/*
 * Compression end to end: each codec at several levels, records (keys,
 * values, headers) produced by kprod and read back exactly by librdkafka's
 * consumer — which decodes a batch by its attribute bits, so a wrong codec
 * bit or byte format fails the read-back — and fewer bytes on the wire than
 * the same records uncompressed.
 */
#include "common.h"
#include "engine/internal.h"
#include "rawfetch.h"

#define N 3000

static const char *const words[] = {"kafka", "producer", "batch", "record", "partition",
                                    "offset", "broker", "leader", "replica", "topic"};

static void value_of(int i, char *buf, size_t sz) {
    size_t o = (size_t)snprintf(buf, sz, "%d:", i);
    for (int w = 0; w < 30 && o + 12 < sz; w++)
        o += (size_t)snprintf(buf + o, sz - o, " %s", words[(i * 7 + w * 3) % 10]);
}

/* Produce N records with the given settings; returns the bytes written. */
static uint64_t produce_and_check(mockcluster_t *mc, const char *topic, const char *codec,
                                  const char *level_prop, const char *level) {
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "compression.type", codec, "linger.ms", "20",
                                     level_prop ? level_prop : "client.id",
                                     level_prop ? level : "compression-test", NULL);
    if (!p)
        return 0;
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    for (int i = 0; i < N; i++) {
        char k[16], v[400];
        snprintf(k, sizeof(k), "key-%d", i % 50);
        value_of(i, v, sizeof(v));
        kp_header_t h = {"codec", codec, (int32_t)strlen(codec)};
        kp_record_t r = {.topic = topic, .partition = KP_PARTITION_ANY, .key = k,
                         .key_len = (int32_t)strlen(k), .value = v,
                         .value_len = (int32_t)strlen(v), .headers = &h, .header_count = 1};
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK_OK(kp_flush(p, 30000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    uint64_t bytes = atomic_load(&p->net.tx_bytes);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);

    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, topic, N, 30000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    for (size_t j = 0; j < n; j++) {
        int i = atoi(recs[j].value);
        char k[16], v[400];
        snprintf(k, sizeof(k), "key-%d", i % 50);
        value_of(i, v, sizeof(v));
        CHECK_EQ_MEM(recs[j].value, recs[j].value_len, v, strlen(v));
        CHECK_EQ_MEM(recs[j].key, recs[j].key_len, k, strlen(k));
        const rb_header_t *h = readback_header(&recs[j], "codec");
        if (CHECK_NOT_NULL(h))
            CHECK_EQ_MEM(h->value, h->value_len, codec, strlen(codec));
        CHECK_EQ_INT(recs[j].offset, t.d[i].offset);
    }
    readback_free(recs, n);
    free(refs);
    tracker_free(&t);
    return bytes;
}

static void test_codecs_and_levels(void) {
    static const char *const cases[][3] = {
        {"gzip", "compression.gzip.level", "-1"}, {"gzip", "compression.gzip.level", "1"},
        {"gzip", "compression.gzip.level", "9"},  {"snappy", NULL, NULL},
        {"lz4", "compression.lz4.level", "1"},    {"lz4", "compression.lz4.level", "9"},
        {"lz4", "compression.lz4.level", "17"},   {"zstd", "compression.zstd.level", "-5"},
        {"zstd", "compression.zstd.level", "3"},  {"zstd", "compression.zstd.level", "19"},
    };
    mockcluster_t *mc = mockcluster_new(3);
    REQUIRE_NOT_NULL(mc);
    REQUIRE_EQ_INT(mockcluster_create_topic(mc, "plain", 3, 0), 0);
    uint64_t plain = produce_and_check(mc, "plain", "none", NULL, NULL);
    CHECK_GT_INT(plain, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "c-%s-%s", cases[i][0], cases[i][2] ? cases[i][2] : "d");
        REQUIRE_EQ_INT(mockcluster_create_topic(mc, topic, 3, 0), 0);
        uint64_t bytes = produce_and_check(mc, topic, cases[i][0], cases[i][1], cases[i][2]);
        printf("%-8s level %-4s: %llu bytes on the wire (uncompressed %llu)\n", cases[i][0],
               cases[i][2] ? cases[i][2] : "-", (unsigned long long)bytes,
               (unsigned long long)plain);
        CHECK_GT_INT(bytes, 0);
        CHECK_LT_INT(bytes * 2, plain); /* repetitive text: well under half */
    }
    mockcluster_destroy(mc);
}

/* zstd needs Produce v7: against a broker that offers less, the records
 * fail clearly instead of going out uncompressed. */
static void test_zstd_needs_produce_v7(void) {
    mockcluster_t *mc = mockcluster_start(1, "old", 1);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_set_apiversion(mockcluster_handle(mc), 0 /* Produce */, 3, 6);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "compression.type", "zstd",
                                     "delivery.timeout.ms", "5000", "request.timeout.ms", "2000",
                                     "linger.ms", "0", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_metadata_t md;
    kp_record_t r = {.topic = "old", .partition = KP_PARTITION_ANY, .value = "v", .value_len = 1};
    CHECK_EQ_ERR(kp_send_sync(p, &r, 10000, &md), 76);
    CHECK_EQ_STR(kp_err_name(76), "UNSUPPORTED_COMPRESSION_TYPE");
    CHECK_EQ_INT(md.persisted, KP_NOT_PERSISTED);
    CHECK_OK(kp_close(p, 5000));
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "old", 0, 10000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, 0); /* nothing went out uncompressed */
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

/* The stored batches carry the codec in their attribute bits, and, as in
 * the Java client, batch.size bounds the compressed size: once the ratio
 * is learnt, a batch holds more than batch.size bytes of records. */
static void test_stored_batches(void) {
    mockcluster_t *mc = mockcluster_start(1, "stored", 1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, "compression.type", "lz4", "batch.size", "1024",
                                     "linger.ms", "100", NULL);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 6000; i++) {
        char v[400];
        value_of(i, v, sizeof(v));
        kp_record_t r = {.topic = "stored", .partition = 0, .value = v,
                         .value_len = (int32_t)strlen(v)};
        CHECK_OK(kp_send(p, &r, NULL, NULL));
        if (i == 2999) /* the first half's batches teach the ratio estimator */
            CHECK_OK(kp_flush(p, 30000));
    }
    CHECK_OK(kp_close(p, 30000));
    kp_producer_destroy(p);
    rawfetch_batch_t *b;
    size_t nb;
    REQUIRE_EQ_INT(rawfetch_partition(boot, "stored", 0, &b, &nb), 0);
    int32_t most = 0, total = 0;
    for (size_t j = 0; j < nb; j++) {
        CHECK_EQ_INT(b[j].attributes & 7, 3); /* lz4 */
        if (b[j].record_count > most)
            most = b[j].record_count;
        total += b[j].record_count;
    }
    printf("%zu batches, up to %d records of ~230 bytes each with batch.size=1024\n", nb, most);
    CHECK_EQ_INT(total, 6000);
    CHECK_GT_INT(most, 10); /* 1024 bytes hold at most 4 such records uncompressed */
    free(b);
    mockcluster_destroy(mc);
}

/* ---- kp_close(p, 0) while application threads compress full batches ---- */

#define CLOSE_CAP 400000 /* records per sender thread at most */

typedef struct closer {
    kp_producer_t *p;
    tracker_t *t;
    slot_ref_t *refs;
    int id;
    atomic_long *sent;
    long ok; /* kp_send said KP_OK for records [id * CAP, id * CAP + ok) */
} closer_t;

static void *close_sender(void *arg) {
    closer_t *c = arg;
    for (long i = 0; i < CLOSE_CAP; i++) {
        char v[400];
        value_of((int)i, v, sizeof(v));
        size_t slot = (size_t)c->id * CLOSE_CAP + (size_t)i;
        c->refs[slot] = (slot_ref_t){c->t, slot};
        kp_record_t r = {.topic = "close-compress", .partition = KP_PARTITION_ANY, .value = v,
                         .value_len = (int32_t)strlen(v), .timestamp = KP_TIMESTAMP_NOW};
        if (kp_send(c->p, &r, tracker_cb, &c->refs[slot]) != KP_OK)
            break;
        c->ok++;
        atomic_fetch_add(c->sent, 1);
    }
    return NULL;
}

static int enough_sent(void *arg) { return atomic_load((atomic_long *)arg) >= 30000; }

/* A batch being compressed by the thread that filled it belongs to that
 * thread until it is done: a forced close must wait for it, then fail it
 * (or send it) like any other. Every record kp_send accepted completes
 * exactly once, none that it refused does. */
static void test_close_while_compressing(void) {
    mockcluster_t *mc = mockcluster_start(1, "close-compress", 3);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "compression.type", "zstd",
                                     "compression.zstd.level", "19", "batch.size", "65536",
                                     "linger.ms", "50", NULL);
    REQUIRE_NOT_NULL(p);
    tracker_t t;
    tracker_init(&t, 2 * (size_t)CLOSE_CAP);
    slot_ref_t *refs = calloc(2 * (size_t)CLOSE_CAP, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    atomic_long sent;
    atomic_init(&sent, 0);
    closer_t c[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (closer_t){p, &t, refs, i, &sent, 0};
        pthread_create(&th[i], NULL, close_sender, &c[i]);
    }
    CHECK(wait_until(enough_sent, &sent, 30000));
    kp_err_t e = kp_close(p, 0);
    CHECK(e == KP_OK || e == KP_ERR_TIMED_OUT);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    long accepted = c[0].ok + c[1].ok, wrong = 0;
    for (int i = 0; i < 2; i++)
        for (long k = 0; k < CLOSE_CAP; k++) {
            int calls = atomic_load(&t.d[(size_t)i * CLOSE_CAP + (size_t)k].calls);
            if (calls != (k < c[i].ok ? 1 : 0) && !wrong++)
                FAIL("thread %d record %ld: %d completions (accepted: %s)", i, k, calls,
                     k < c[i].ok ? "yes" : "no");
        }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(atomic_load(&t.done), accepted);
    printf("  close(0) after %ld records accepted: %ld acknowledged, %ld failed\n", accepted,
           accepted - atomic_load(&t.failed), atomic_load(&t.failed));
    kp_producer_destroy(p);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_codecs_and_levels), TEST(test_stored_batches), TEST(test_zstd_needs_produce_v7),
          TEST(test_close_while_compressing))

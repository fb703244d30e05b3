/*
 * 100,000 keyed records from 4 application threads sharing one producer,
 * over 3 brokers and 6 partitions, read back by librdkafka's consumer:
 * exact keys, values, timestamps and partitions, and per-partition order.
 */
#include "common.h"

#define TOPIC "threads"
#define PARTS 6
#define THREADS 4
#define PER_THREAD 25000
#define KEYS_PER_THREAD 50

typedef struct worker {
    kp_producer_t *p;
    int id;
    atomic_long acked;
    atomic_long failed;
    int send_errors;
} worker_t;

static const int64_t TS0 = 1760000000000LL;

static void cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    worker_t *w = opaque;
    (void)md;
    if (err)
        atomic_fetch_add(&w->failed, 1);
    else
        atomic_fetch_add(&w->acked, 1);
}

static void *run(void *arg) {
    worker_t *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof(k), "t%d-k%d", w->id, i % KEYS_PER_THREAD);
        int vl = snprintf(v, sizeof(v), "t%d-seq%06d-payload", w->id, i);
        kp_record_t r = {0};
        r.topic = TOPIC;
        r.partition = KP_PARTITION_ANY;
        r.key = k;
        r.key_len = kl;
        r.value = v;
        r.value_len = vl;
        r.timestamp = TS0 + w->id * 1000000 + i;
        /* callbacks on every tenth record, fire-and-forget for the rest */
        if (kp_send(w->p, &r, i % 10 == 0 ? cb : NULL, w))
            w->send_errors++;
    }
    return NULL;
}

static void test_100k_keyed_4_threads(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC, PARTS);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = make_producer(boot, NULL);
    REQUIRE_NOT_NULL(p);
    worker_t w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].p = p;
        w[i].id = i;
        REQUIRE_EQ_INT(pthread_create(&th[i], NULL, run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_OK(kp_flush(p, 120000));
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ_INT(w[i].send_errors, 0);
        CHECK_EQ_INT(atomic_load(&w[i].acked), PER_THREAD / 10);
        CHECK_EQ_INT(atomic_load(&w[i].failed), 0);
    }
    CHECK_OK(kp_close(p, 30000));
    kp_producer_destroy(p);

    rb_record_t *recs;
    size_t n;
    const int total = THREADS * PER_THREAD;
    CHECK_EQ_INT(readback_topic(boot, TOPIC, total, 120000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, total);
    /* every record exactly once, in the Java partition, with its timestamp;
     * within a partition, each thread's records in send order */
    unsigned char *seen = calloc((size_t)total, 1);
    int last[PARTS][THREADS];
    for (int pi = 0; pi < PARTS; pi++)
        for (int t = 0; t < THREADS; t++)
            last[pi][t] = -1;
    int bad = 0;
    for (size_t i = 0; i < n && bad < 20; i++) {
        const rb_record_t *r = &recs[i];
        int t, seq, kt, kk;
        if (sscanf(r->value, "t%d-seq%d-payload", &t, &seq) != 2 || t < 0 || t >= THREADS ||
            seq < 0 || seq >= PER_THREAD || r->key_null ||
            sscanf(r->key, "t%d-k%d", &kt, &kk) != 2) {
            FAIL("malformed record at %d/%lld", r->partition, (long long)r->offset);
            bad++;
            continue;
        }
        if (kt != t || kk != seq % KEYS_PER_THREAD) {
            FAIL("key %s does not belong to value %s", (char *)r->key, (char *)r->value);
            bad++;
        }
        int idx = t * PER_THREAD + seq;
        if (seen[idx]++) {
            FAIL("duplicate %s", (char *)r->value);
            bad++;
        }
        int want = (kp_murmur2(r->key, r->key_len) & 0x7fffffff) % PARTS;
        if (r->partition != want) {
            FAIL("%s in partition %d, Java would use %d", (char *)r->key, r->partition, want);
            bad++;
        }
        if (r->timestamp != TS0 + t * 1000000 + seq) {
            FAIL("timestamp of %s is %lld", (char *)r->value, (long long)r->timestamp);
            bad++;
        }
        if (seq <= last[r->partition][t]) {
            FAIL("partition %d: t%d seq %d after %d", r->partition, t, seq,
                 last[r->partition][t]);
            bad++;
        }
        last[r->partition][t] = seq;
    }
    int missing = 0;
    for (int i = 0; i < total; i++)
        missing += !seen[i];
    CHECK_EQ_INT(missing, 0);
    free(seen);
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_100k_keyed_4_threads))

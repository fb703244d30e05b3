/*
 * Purge, back-pressure and watermarks (issue 16) against librdkafka's mock
 * cluster: kp_purge of records not yet sent (KP_ERR_PURGED, not persisted)
 * and of records in flight (answers delayed by the mock's round-trip time:
 * KP_ERR_PURGED_IN_FLIGHT, possibly persisted, the late answers ignored);
 * buffer watermark events in order through an outage that fills
 * buffer.memory (every broker down), in callback and queue mode; a slow
 * poller holding buffer.memory; purge making a transaction abortable.
 * Every record completes exactly once, in every mode.
 */
#include "common.h"
#include "logcap.h"

#define TOPIC "cqf"

typedef struct wm_log {
    pthread_mutex_t mu;
    int ev[64];
    int n;
} wm_log_t;

static void on_watermark(kp_buffer_event_t ev, int64_t available, void *opaque) {
    wm_log_t *w = opaque;
    (void)available;
    pthread_mutex_lock(&w->mu);
    if (w->n < 64)
        w->ev[w->n] = ev;
    w->n++;
    pthread_mutex_unlock(&w->mu);
}

static int wm_count(wm_log_t *w) {
    pthread_mutex_lock(&w->mu);
    int n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* A producer with a log capture and a watermark log (either may be NULL). */
static kp_producer_t *producer_wl(const char *boot, logcap_t *lc, wm_log_t *wl, ...) {
    va_list ap;
    va_start(ap, wl);
    kp_config_t *c = make_config_va(boot, ap);
    va_end(ap);
    if (c && lc)
        kp_config_set_log(c, log_cb, lc);
    if (c && wl)
        kp_config_set_buffer_watermark_cb(c, on_watermark, wl);
    return producer_from(c);
}

/* Run what is queued (queue mode) until cond holds or the time is up. */
typedef struct drive {
    kp_producer_t *p;
    int queue;
    int (*cond)(void *);
    void *arg;
} drive_t;

static int drive_cond(void *arg) {
    drive_t *d = arg;
    if (d->queue)
        kp_poll(d->p, 100, 0);
    return d->cond(d->arg);
}

static int drive_until(kp_producer_t *p, int queue, int (*cond)(void *), void *arg, int ms) {
    drive_t d = {p, queue, cond, arg};
    return wait_until(drive_cond, &d, ms);
}

/* Purge of records not yet sent: they fail at once, not persisted; the
 * producer goes on. */
static void purge_queued_run(const char *topic, int queue) {
    mockcluster_t *mc = mockcluster_start(3, topic, 3);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = producer_wl(boot, NULL, NULL, "linger.ms", "600000", "completion.mode",
                                   queue ? "queue" : "callback", NULL);
    REQUIRE_NOT_NULL(p);
    int32_t parts;
    CHECK_OK(kp_partitions_for(p, topic, &parts));
    enum { N = 500 };
    tracker_t t;
    tracker_init(&t, N + 10);
    static slot_ref_t refs[N + 10];
    for (int i = 0; i < N; i++) {
        kp_record_t r = rec_str(topic, NULL, "purged");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    int64_t t0 = test_now_ms();
    CHECK_OK(kp_purge(p, KP_PURGE_QUEUED));
    CHECK_LT_INT(test_now_ms() - t0, 2000);
    if (queue)
        while (kp_poll(p, 100, 0) > 0)
            ;
    CHECK_EQ_INT(atomic_load(&t.done), N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        CHECK_EQ_ERR(t.d[i].err, KP_ERR_PURGED);
        CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
        CHECK_EQ_INT(t.d[i].offset, -1);
    }
    /* records sent after the purge go */
    for (int i = N; i < N + 10; i++) {
        kp_record_t r = rec_str(topic, NULL, "after");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK_OK(kp_flush(p, 10000));
    kp_producer_destroy(p); /* (queue mode: runs the last ten) */
    CHECK_EQ_INT(atomic_load(&t.done), N + 10);
    for (int i = N; i < N + 10; i++) {
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        CHECK_EQ_ERR(t.d[i].err, KP_OK);
    }
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, topic, 10, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, 10); /* none of the purged ones */
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_MEM(recs[i].value, recs[i].value_len, "after", 5);
    readback_free(recs, n);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

static void test_purge_queued_callback(void) { purge_queued_run(TOPIC "1", 0); }
static void test_purge_queued_queue(void) { purge_queued_run(TOPIC "2", 1); }

/* Purge in flight: the mock answers after 3 s; the purge fails the records
 * at once (possibly persisted) and their late answers change nothing. */
static void test_purge_in_flight(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "3", 1);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_wl(boot, &lc, NULL, "linger.ms", "0", NULL);
    REQUIRE_NOT_NULL(p);
    int32_t parts;
    CHECK_OK(kp_partitions_for(p, TOPIC "3", &parts));
    kp_future_t *f0;
    kp_record_t r0 = rec_str(TOPIC "3", NULL, "warm");
    CHECK_OK(kp_send_future(p, &r0, NULL, NULL, &f0)); /* the producer id first */
    CHECK_OK(kp_future_get(f0, 10000, NULL));
    kp_future_destroy(f0);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(mockcluster_handle(mc), b, 3000);
    mockcluster_track_requests(mc);
    enum { N = 100 };
    tracker_t t;
    tracker_init(&t, N);
    static slot_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        kp_record_t r = rec_str(TOPIC "3", NULL, "inflight");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    /* a Produce is on the wire (the mock counts it as it arrives) */
    CHECK(mockcluster_wait_requests(mc, 0, 1, 10000));
    int64_t t0 = test_now_ms();
    CHECK_OK(kp_purge(p, KP_PURGE_QUEUED | KP_PURGE_IN_FLIGHT));
    CHECK_EQ_INT(atomic_load(&t.done), N);
    CHECK_LT_INT(test_now_ms() - t0, 2500); /* not the 3 s answer */
    int inflight = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        if (t.d[i].err == KP_ERR_PURGED_IN_FLIGHT) {
            inflight++;
            CHECK_EQ_INT(t.d[i].persisted, KP_POSSIBLY_PERSISTED);
        } else {
            CHECK_EQ_ERR(t.d[i].err, KP_ERR_PURGED);
            CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
        }
    }
    CHECK_GT_INT(inflight, 0);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(mockcluster_handle(mc), b, 0);
    /* the late answers arrive and are ignored: no second completion */
    kp_record_metadata_t md;
    kp_record_t r1 = rec_str(TOPIC "3", NULL, "after");
    CHECK_OK(kp_send_sync(p, &r1, 20000, &md));
    CHECK_GE_INT(md.offset, 0);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
    tracker_free(&t);
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* An outage fills buffer.memory: HIGH once use crosses 60 %, sends block
 * then fail (max.block.ms); the brokers come back, the records go, LOW at
 * 20 %. Exactly HIGH then LOW; every accepted record completes once. */
typedef struct outage {
    wm_log_t *wl;
    int want;
} outage_t;

static int wm_reached(void *arg) {
    outage_t *o = arg;
    return wm_count(o->wl) >= o->want;
}

static void outage_run(const char *topic, int queue) {
    mockcluster_t *mc = mockcluster_start(3, topic, 2);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    static wm_log_t wl;
    memset(&wl, 0, sizeof(wl));
    pthread_mutex_init(&wl.mu, NULL);
    kp_producer_t *p = producer_wl(boot, NULL, &wl, "buffer.memory", "200000", "batch.size",
                                   "8192", "max.block.ms", "100", "linger.ms", "5",
                                   "buffer.memory.high.watermark.percent", "60",
                                   "buffer.memory.low.watermark.percent", "20",
                                   "completion.mode", queue ? "queue" : "callback", NULL);
    REQUIRE_NOT_NULL(p);
    int32_t parts;
    CHECK_OK(kp_partitions_for(p, topic, &parts));
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(mockcluster_handle(mc), b);
    enum { MAX = 20000 };
    tracker_t t;
    tracker_init(&t, MAX);
    slot_ref_t *refs = calloc(MAX, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    char value[200];
    memset(value, 'o', sizeof(value) - 1);
    value[sizeof(value) - 1] = 0;
    int sent = 0;
    kp_err_t err = KP_OK;
    while (sent < MAX) {
        kp_record_t r = rec_str(topic, NULL, value);
        refs[sent] = (slot_ref_t){&t, (size_t)sent};
        if ((err = kp_send(p, &r, tracker_cb, &refs[sent])))
            break;
        sent++;
    }
    CHECK_EQ_ERR(err, KP_ERR_BUFFER_EXHAUSTED);
    CHECK_LT_INT(kp_buffer_available(p), 200000 * 40 / 100);
    outage_t o = {&wl, 1};
    CHECK(drive_until(p, queue, wm_reached, &o, 5000));
    CHECK_EQ_INT(atomic_load(&t.done), 0); /* nothing delivered, nothing failed yet */
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(mockcluster_handle(mc), b);
    t.n = (size_t)sent;
    o.want = 2;
    CHECK(drive_until(p, queue, wm_reached, &o, 30000));
    CHECK(drive_until(p, queue, tracker_all_done_, &t, 30000));
    CHECK_OK(kp_flush(p, 10000));
    if (queue)
        while (kp_poll(p, 100, 0) > 0)
            ;
    CHECK_EQ_INT(wm_count(&wl), 2);
    CHECK_EQ_INT(wl.ev[0], KP_BUFFER_HIGH);
    CHECK_EQ_INT(wl.ev[1], KP_BUFFER_LOW);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (int i = 0; i < sent; i++)
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
    CHECK_EQ_INT(kp_buffer_available(p), 200000);
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, topic, sent, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, sent);
    readback_free(recs, n);
    free(refs);
    tracker_free(&t);
    pthread_mutex_destroy(&wl.mu);
    mockcluster_destroy(mc);
}

static void test_outage_watermarks_callback(void) { outage_run(TOPIC "4", 0); }
static void test_outage_watermarks_queue(void) { outage_run(TOPIC "5", 1); }

/* A poller that does not poll: the queued completions hold buffer.memory,
 * so sends block and fail; polling gives it back. */
static void test_slow_poller_back_pressure(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "6", 2);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = producer_wl(mockcluster_bootstraps(mc), NULL, NULL, "buffer.memory",
                                   "100000", "batch.size", "4096", "max.block.ms", "200",
                                   "completion.mode", "queue", NULL);
    REQUIRE_NOT_NULL(p);
    enum { MAX = 100000 };
    tracker_t t;
    tracker_init(&t, MAX);
    slot_ref_t *refs = calloc(MAX, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    int sent = 0;
    kp_err_t err = KP_OK;
    while (sent < MAX) {
        kp_record_t r = rec_str(TOPIC "6", NULL, "small");
        refs[sent] = (slot_ref_t){&t, (size_t)sent};
        if ((err = kp_send(p, &r, tracker_cb, &refs[sent])))
            break;
        sent++;
    }
    /* 48 bytes of entry a record: ~2,000 records fill 100 KB */
    CHECK_EQ_ERR(err, KP_ERR_BUFFER_EXHAUSTED);
    CHECK_LT_INT(sent, 4000);
    CHECK_OK(kp_flush(p, 10000)); /* the broker answered them all */
    CHECK_EQ_INT(atomic_load(&t.done), 0);
    CHECK_LT_INT(kp_buffer_available(p), 10000);
    while (kp_poll(p, 100, 0) > 0)
        ;
    CHECK_EQ_INT(atomic_load(&t.done), sent);
    CHECK_EQ_INT(kp_buffer_available(p), 100000);
    kp_record_t r = rec_str(TOPIC "6", NULL, "again");
    CHECK_OK(kp_send(p, &r, NULL, NULL));
    kp_producer_destroy(p);
    for (int i = 0; i < sent; i++)
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* A transactional producer: purge fails the records and makes the
 * transaction abortable; abort, and the next one commits. */
static void test_purge_transaction(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "7", 2);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = producer_wl(mockcluster_bootstraps(mc), NULL, NULL, "transactional.id",
                                   "cq-txn", "linger.ms", "600000", NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    enum { N = 20 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        kp_record_t r = rec_str(TOPIC "7", NULL, "t");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    CHECK_OK(kp_purge(p, KP_PURGE_QUEUED));
    CHECK_EQ_INT(atomic_load(&t.done), N);
    for (int i = 0; i < N; i++)
        CHECK_EQ_ERR(t.d[i].err, KP_ERR_PURGED);
    CHECK_EQ_ERR(kp_commit_transaction(p, 10000), KP_ERR_TXN_ABORTABLE);
    CHECK_EQ_ERR(kp_txn_error(p), KP_ERR_PURGED);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r = rec_str(TOPIC "7", NULL, "committed");
    CHECK_OK(kp_send(p, &r, NULL, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_purge_queued_callback), TEST(test_purge_queued_queue),
          TEST(test_purge_in_flight), TEST(test_outage_watermarks_callback),
          TEST(test_outage_watermarks_queue), TEST(test_slow_poller_back_pressure),
          TEST(test_purge_transaction))

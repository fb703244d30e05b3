/*
 * test_metrics — the producer's metrics and statistics JSON (issue 15)
 * against known traffic on librdkafka 2.15.1's mock cluster:
 *   - N records: record-send-total N (producer and topic), no errors, the
 *     bytes written equal to the mock's ... and to what the connections
 *     counted, requests answered, batch and record sizes plausible;
 *   - an RTT injected on one broker (rd_kafka_mock_broker_set_rtt 50 ms)
 *     shows in that node's request-latency-avg and p50, not in others';
 *   - retries and errors counted under injected errors;
 *   - buffer metrics during an outage (buffer-available-bytes drops, a
 *     waiting thread, exhausted sends counted, bufferpool wait time);
 *   - the statistics JSON parsed by python3's json and checked;
 *   - 4 sending threads and a thread taking snapshots (run under TSan too).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common.h"
#include "fakebroker.h"

#define PM "producer-metrics"
#define TM "producer-topic-metrics"
#define NM "producer-node-metrics"

static double metric(kp_producer_t *p, const char *group, const char *name, const char *tags) {
    double v = NAN;
    if (kp_metric_value(p, group, name, tags, &v) != KP_OK)
        FAIL("no metric %s:%s:{%s}", group, name, tags ? tags : "*");
    return v;
}

static void send_n(kp_producer_t *p, const char *topic, int n, int vlen, tracker_t *t,
                   slot_ref_t *refs) {
    char *val = malloc((size_t)vlen + 1);
    memset(val, 'm', (size_t)vlen);
    val[vlen] = 0;
    for (int i = 0; i < n; i++) {
        kp_record_t r = rec_str(topic, NULL, val);
        refs[i] = (slot_ref_t){t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    free(val);
}

static void test_metrics_known_traffic(void) {
    mockcluster_t *mc = mockcluster_start(3, "mt", 3);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "client.id", "metrics-1",
                                     "linger.ms", "5", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 3000 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    send_n(p, "mt", N, 100, &t, refs);
    CHECK_OK(kp_flush(p, 10000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    const char *me = "client-id=metrics-1";
    CHECK_EQ_INT((long)metric(p, PM, "record-send-total", me), N);
    CHECK_EQ_INT((long)metric(p, TM, "record-send-total", "client-id=metrics-1, topic=mt"), N);
    CHECK_EQ_INT((long)metric(p, PM, "record-error-total", me), 0);
    CHECK_EQ_INT((long)metric(p, PM, "record-retry-total", me), 0);
    CHECK_GT_INT((long)(metric(p, PM, "record-send-rate", me) * 1000), 0);
    /* each record is a little over 100 bytes in a batch; batches hold many */
    double rs = metric(p, PM, "record-size-avg", me);
    CHECK(rs >= 100 && rs < 140);
    double bs = metric(p, PM, "batch-size-avg", me);
    CHECK(bs > rs);
    CHECK(metric(p, PM, "records-per-request-avg", me) >= 1);
    CHECK(metric(p, PM, "request-latency-avg", me) >= 0);
    CHECK(!isnan(metric(p, PM, "request-latency-p99", me)));
    CHECK(!isnan(metric(p, PM, "record-ack-time-p50", me)));
    CHECK_EQ_INT((long)metric(p, PM, "compression-rate-avg", me), 1);
    CHECK_EQ_INT((long)metric(p, PM, "buffer-total-bytes", me), 33554432);
    CHECK_EQ_INT((long)metric(p, PM, "buffer-available-bytes", me), 33554432);
    CHECK_EQ_INT((long)metric(p, PM, "requests-in-flight", me), 0);
    CHECK(metric(p, PM, "metadata-age", me) >= 0);
    CHECK_GE_INT((long)metric(p, PM, "connection-count", me), 1);
    /* the bytes: the topic's are the batches'; the connections wrote those
     * and the requests' framing, and read every answer */
    double topic_bytes = metric(p, TM, "byte-total", "client-id=metrics-1, topic=mt");
    double out = metric(p, PM, "outgoing-byte-total", me);
    CHECK(topic_bytes >= N * 100.0);
    CHECK(out > topic_bytes);
    CHECK(metric(p, PM, "incoming-byte-total", me) > 0);
    CHECK_EQ_INT((long)metric(p, PM, "request-total", me),
                 (long)metric(p, PM, "response-total", me));
    /* every metric of the snapshot has a group, a name, tags, a description */
    kp_metrics_t *m = kp_metrics_snapshot(p);
    REQUIRE_NOT_NULL(m);
    size_t n = kp_metrics_count(m), nodes = 0;
    CHECK_GT_INT((long)n, 60);
    for (size_t i = 0; i < n; i++) {
        const kp_metric_t *x = kp_metrics_at(m, i);
        CHECK(x->group && x->name && x->tags && x->description && *x->description);
        nodes += !strcmp(x->group, NM) && !strcmp(x->name, "request-total");
    }
    CHECK_GE_INT((long)nodes, 1); /* each broker connected to (the bootstrap connection is gone) */
    /* metrics.recording.level INFO (the default): no per-broker percentiles
     * (test_metrics_rtt has them at DEBUG) */
    double v;
    CHECK_EQ_ERR(kp_metrics_find(m, NM, "request-latency-p50", NULL, &v), KP_ERR_INVALID_ARG);
    CHECK_OK(kp_metrics_find(m, NM, "request-latency-avg", NULL, &v));
    kp_metrics_destroy(m);
    kp_producer_destroy(p);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* The bytes the producer says it wrote are the bytes a peer read: the fake
 * broker counts what it receives on every connection (the mock does not
 * say), and after a flush nothing is on the way. */
static void test_metrics_bytes_match_peer(void) {
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = make_producer(fb_bootstrap(fb), "client.id", "bytes-1", "linger.ms", "2",
                                     NULL);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 2000; i++) {
        kp_record_t r = rec_str("t", NULL, "counted bytes");
        r.partition = 0;
        CHECK_OK(kp_send(p, &r, NULL, NULL));
    }
    CHECK_OK(kp_flush(p, 10000));
    double out = metric(p, PM, "outgoing-byte-total", "client-id=bytes-1");
    fb_stats_t st = fb_stats(fb);
    printf("outgoing-byte-total %.0f, read by the fake broker %lld\n", out,
           (long long)st.bytes_in);
    CHECK_EQ_INT((long)out, (long)st.bytes_in);
    kp_producer_destroy(p);
    fb_stop(fb);
}

/* 50 ms on broker 2: its node's latency shows it, the others' do not. */
static void test_metrics_rtt(void) {
    mockcluster_t *mc = mockcluster_start(3, "rtt", 3);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_cluster_t *mh = mockcluster_handle(mc);
    for (int32_t i = 0; i < 3; i++)
        rd_kafka_mock_partition_set_leader(mh, "rtt", i, i + 1);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "client.id", "rtt-1",
                                     "linger.ms", "0", "metrics.recording.level", "DEBUG", NULL);
    REQUIRE_NOT_NULL(p);
    /* connect everything first, then slow broker 2 */
    for (int32_t i = 0; i < 3; i++) {
        kp_record_t r = rec_str("rtt", NULL, "warm");
        r.partition = i;
        CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    }
    rd_kafka_mock_broker_set_rtt(mh, 2, 50);
    for (int k = 0; k < 20; k++)
        for (int32_t i = 0; i < 3; i++) {
            kp_record_t r = rec_str("rtt", NULL, "x");
            r.partition = i;
            CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
        }
    double slow = metric(p, NM, "request-latency-avg", "client-id=rtt-1, node-id=node-2");
    double slow50 = metric(p, NM, "request-latency-p50", "client-id=rtt-1, node-id=node-2");
    double fast = metric(p, NM, "request-latency-avg", "client-id=rtt-1, node-id=node-1");
    double fast50 = metric(p, NM, "request-latency-p50", "client-id=rtt-1, node-id=node-1");
    printf("node 2 (50 ms rtt): avg %.1f ms p50 %.1f ms; node 1: avg %.1f ms p50 %.1f ms\n",
           slow, slow50, fast, fast50);
    CHECK(slow >= 40);
    CHECK(slow50 >= 40 && slow50 <= 80);
    CHECK(fast < 40);
    CHECK(fast50 < 40);
    CHECK(metric(p, NM, "request-latency-max", "client-id=rtt-1, node-id=node-2") >= 50);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

/* Retriable errors: retried records counted; a non-retriable one: errors,
 * by persisted status. */
static void test_metrics_retries_errors(void) {
    mockcluster_t *mc = mockcluster_start(1, "re", 1);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "client.id", "re-1",
                                     "linger.ms", "0", "retry.backoff.ms", "5", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("re", NULL, "v");
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), 0, 2,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_OR_FOLLOWER,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_OR_FOLLOWER);
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    const char *me = "client-id=re-1";
    CHECK_EQ_INT((long)metric(p, PM, "record-retry-total", me), 2);
    CHECK_EQ_INT((long)metric(p, TM, "record-retry-total", "client-id=re-1, topic=re"), 2);
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), 0, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    CHECK_EQ_ERR(kp_send_sync(p, &r, 10000, NULL), (kp_err_t)29);
    CHECK_EQ_INT((long)metric(p, PM, "record-error-total", me), 1);
    CHECK_EQ_INT((long)metric(p, PM, "record-error-not-persisted-total", me), 1);
    CHECK_EQ_INT((long)metric(p, PM, "record-error-possibly-persisted-total", me), 0);
    CHECK_EQ_INT((long)metric(p, TM, "record-error-total", "client-id=re-1, topic=re"), 1);
    /* 1 + 3 attempts + 1 sent */
    CHECK_EQ_INT((long)metric(p, PM, "record-send-total", me), 5);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

typedef struct outage {
    kp_producer_t *p;
    _Atomic int done;
} outage_t;

static void *fill(void *arg) {
    outage_t *o = arg;
    char val[1000];
    memset(val, 'o', sizeof(val) - 1);
    val[sizeof(val) - 1] = 0;
    for (int i = 0; i < 2000; i++) {
        kp_record_t r = rec_str("ou", NULL, val);
        if (kp_send(o->p, &r, NULL, NULL) == KP_ERR_BUFFER_EXHAUSTED)
            break;
    }
    atomic_store(&o->done, 1);
    return NULL;
}

static int waiting(void *arg) {
    double v = 0;
    return kp_metric_value(arg, PM, "waiting-threads", NULL, &v) == KP_OK && v >= 1;
}

static void test_metrics_buffer_outage(void) {
    mockcluster_t *mc = mockcluster_start(1, "ou", 1);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "client.id", "ou-1",
                                     "buffer.memory", "262144", "batch.size", "16384",
                                     "max.block.ms", "1500", "linger.ms", "0", NULL);
    REQUIRE_NOT_NULL(p);
    kp_record_t r = rec_str("ou", NULL, "first");
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    rd_kafka_mock_broker_set_down(mockcluster_handle(mc), 1);
    outage_t o = {p, 0};
    pthread_t th;
    pthread_create(&th, NULL, fill, &o);
    CHECK(wait_until(waiting, p, 10000)); /* it blocks for memory */
    double avail = 0;
    CHECK_OK(kp_metric_value(p, PM, "buffer-available-bytes", NULL, &avail));
    CHECK_LT_INT((long)avail, 16384);
    pthread_join(th, NULL);
    const char *me = "client-id=ou-1";
    CHECK_GE_INT((long)metric(p, PM, "buffer-exhausted-total", me), 1);
    CHECK_GT_INT((long)(metric(p, PM, "bufferpool-wait-time-ns-total", me) / 1e6), 1000);
    CHECK(metric(p, PM, "bufferpool-wait-ratio", me) > 0);
    rd_kafka_mock_broker_set_up(mockcluster_handle(mc), 1);
    CHECK_OK(kp_flush(p, 20000));
    CHECK_EQ_INT((long)metric(p, PM, "buffer-available-bytes", me), 262144);
    CHECK_GT_INT((long)(metric(p, PM, "flush-time-ns-total", me) / 1e3), 0);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

/* The statistics JSON: the callback's documents and kp_stats_json's,
 * parsed by python3 and checked field by field. */
typedef struct stats_seen {
    pthread_mutex_t lock;
    char *last;
    _Atomic int n;
} stats_seen_t;

static void on_stats(const char *json, size_t len, void *opaque) {
    stats_seen_t *s = opaque;
    pthread_mutex_lock(&s->lock);
    free(s->last);
    s->last = strndup(json, len);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->n, 1);
}

static int two_docs(void *arg) { return atomic_load(&((stats_seen_t *)arg)->n) >= 2; }

/* Run python3 on the document with a check script; 0: it passed. */
static int py_check(const char *doc, const char *script) {
    char path[] = "/tmp/kprod_stats_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t len = strlen(doc);
    if (write(fd, doc, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    close(fd);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "python3 -c '%s' %s", script, path);
    int rc = system(cmd);
    unlink(path);
    return rc;
}

static void test_metrics_stats_json(void) {
    if (system("python3 -c 1 >/dev/null 2>&1")) {
        printf("python3 missing: the JSON is not parsed by a real parser here\n");
        return;
    }
    mockcluster_t *mc = mockcluster_start(2, "js", 2);
    REQUIRE_NOT_NULL(mc);
    stats_seen_t seen = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};
    kp_config_t *c = make_config(mockcluster_bootstraps(mc), "client.id", "js\"on\\1",
                                 "statistics.interval.ms", "100", NULL);
    REQUIRE_NOT_NULL(c);
    kp_config_set_stats_cb(c, on_stats, &seen);
    kp_producer_t *p = producer_from(c);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 500; i++) {
        kp_record_t r = rec_str("js", "k", "value");
        r.partition = i % 2;
        CHECK_OK(kp_send(p, &r, NULL, NULL));
    }
    CHECK_OK(kp_flush(p, 10000));
    atomic_store(&seen.n, 0);
    CHECK(wait_until(two_docs, &seen, 10000));
    pthread_mutex_lock(&seen.lock);
    char *doc = strdup(seen.last);
    pthread_mutex_unlock(&seen.lock);
    static const char script[] =
        "import json,sys\n"
        "d=json.load(open(sys.argv[1]))\n"
        "assert d[\"type\"]==\"producer\" and d[\"client_id\"]==\"js\\\"on\\\\1\", d[\"client_id\"]\n"
        "for k in (\"name\",\"ts\",\"time\",\"msg_cnt\",\"msg_size\",\"msg_size_max\",\"tx\","
        "\"tx_bytes\",\"txmsgs\",\"txmsg_bytes\"): assert k in d, k\n"
        "assert d[\"txmsgs\"]==500, d[\"txmsgs\"]\n"
        "assert d[\"msg_cnt\"]==0\n"
        "b=[x for x in d[\"brokers\"].values() if x[\"nodeid\"]>=0]\n"
        "assert len(b)>=1\n"
        "for x in b:\n"
        "  for k in (\"name\",\"nodeid\",\"state\",\"stateage\",\"outbuf_cnt\",\"waitresp_cnt\","
        "\"tx\",\"txbytes\",\"txerrs\",\"txretries\",\"req_timeouts\",\"connects\",\"disconnects\","
        "\"rtt\",\"int_latency\"): assert k in x, k\n"
        "  for k in (\"min\",\"max\",\"avg\",\"p50\",\"p95\",\"p99\",\"p99_99\"): assert k in x[\"rtt\"], k\n"
        "ps=d[\"topics\"][\"js\"][\"partitions\"]\n"
        "assert sum(ps[k][\"txmsgs\"] for k in ps)==500\n"
        "for k in ps:\n"
        "  for f in (\"msgq_cnt\",\"msgq_bytes\",\"msgs_inflight\",\"txmsgs\",\"txbytes\",\"leader\","
        "\"next_ack_seq\"): assert f in ps[k], f\n"
        "  assert ps[k][\"next_ack_seq\"]==ps[k][\"txmsgs\"]\n"
        "e=d[\"eos\"]\n"
        "assert e[\"idemp_state\"]==\"Assigned\" and e[\"producer_id\"]>=0, e\n";
    CHECK_EQ_INT(py_check(doc, script), 0);
    free(doc);
    /* and on demand */
    char *now = kp_stats_json(p);
    REQUIRE_NOT_NULL(now);
    CHECK_EQ_INT(py_check(now, "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"txmsgs\"]==500"), 0);
    free(now);
    kp_producer_destroy(p);
    free(seen.last);
    mockcluster_destroy(mc);
}

/* 4 sending threads and one taking snapshots (and JSON) meanwhile. */
typedef struct par {
    kp_producer_t *p;
    _Atomic int stop;
    _Atomic long snaps;
} par_t;

static void *sender(void *arg) {
    par_t *x = arg;
    for (int i = 0; i < 5000; i++) {
        kp_record_t r = rec_str("par", NULL, "concurrent");
        CHECK_OK(kp_send(x->p, &r, NULL, NULL));
    }
    return NULL;
}

static void *snapper(void *arg) {
    par_t *x = arg;
    while (!atomic_load(&x->stop)) {
        kp_metrics_t *m = kp_metrics_snapshot(x->p);
        CHECK_NOT_NULL(m);
        kp_metrics_destroy(m);
        free(kp_stats_json(x->p));
        atomic_fetch_add(&x->snaps, 1);
    }
    return NULL;
}

static void test_metrics_concurrent(void) {
    mockcluster_t *mc = mockcluster_start(3, "par", 4);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "client.id", "par-1",
                                     "metrics.sample.window.ms", "20", NULL);
    REQUIRE_NOT_NULL(p);
    par_t x = {p, 0, 0};
    pthread_t s[4], snap;
    pthread_create(&snap, NULL, snapper, &x);
    for (int i = 0; i < 4; i++)
        pthread_create(&s[i], NULL, sender, &x);
    for (int i = 0; i < 4; i++)
        pthread_join(s[i], NULL);
    CHECK_OK(kp_flush(p, 30000));
    atomic_store(&x.stop, 1);
    pthread_join(snap, NULL);
    CHECK_GT_INT(atomic_load(&x.snaps), 0);
    CHECK_EQ_INT((long)metric(p, PM, "record-send-total", "client-id=par-1"), 20000);
    /* after close the caller builds it */
    CHECK_OK(kp_close(p, 10000));
    CHECK_EQ_INT((long)metric(p, PM, "record-send-total", "client-id=par-1"), 20000);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_metrics_known_traffic), TEST(test_metrics_bytes_match_peer),
          TEST(test_metrics_rtt),
          TEST(test_metrics_retries_errors), TEST(test_metrics_buffer_outage),
          TEST(test_metrics_stats_json), TEST(test_metrics_concurrent))

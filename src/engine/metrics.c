/*
 * metrics — see metrics.h for who records what and where it is read. This
 * file holds the producer's statistics, the definitions of every metric
 * (the one table docs/METRICS.md is generated from), the snapshot built on
 * the I/O thread, and the statistics JSON (librdkafka's STATISTICS.md
 * names wherever kprod has the thing).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/util.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/metrics.h"
#include "net/conn.h"

typedef struct snap_req {
    struct snap_req *next;
    int json;             /* the statistics JSON instead of a snapshot */
    kp_metrics_t *result;
    char *doc;
    int done;
} snap_req_t;

struct kp_metrics_state {
    kp_stat_t s[KP_M_COUNT];
    int nsamples;
    int64_t window_ms;
    int64_t next_roll;
    int debug; /* metrics.recording.level DEBUG or TRACE */
    int64_t created_ms;
    int64_t next_stats; /* statistics.interval.ms: when the next JSON is due (0: off) */
    /* the windows' lock, and snapshots asked for by application threads */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    snap_req_t *reqs; /* waiting for the I/O thread (lock) */
    _Atomic int nreqs; /* how many (written under lock): the I/O thread's turn
                        * looks at it before taking the lock */
    int io_stopped;
};

/* ---------------------------------------------------------------- the definitions */

enum scope { SC_PRODUCER, SC_TOPIC, SC_NODE };
enum kind {
    K_RATE,      /* events per second over the windows */
    K_TOTAL,     /* events, cumulative */
    K_SUM_RATE,  /* sum per second over the windows */
    K_SUM_TOTAL, /* sum, cumulative */
    K_AVG,       /* sum / events over the windows (NaN: none) */
    K_MAX,       /* largest over the windows (NaN: none) */
    K_P50, K_P95, K_P99, K_P999, /* histogram percentiles over the windows (NaN: none) */
    K_GAUGE,     /* now (gauge()) */
};
/* node statistics (kp_node_stats_t), as indexes */
enum { N_LATENCY, N_OUT, N_IN, N_REQUESTS, N_RESPONSES, N_QUEUE };
/* gauges */
enum {
    G_REQUESTS_IN_FLIGHT,
    G_METADATA_AGE,
    G_BUFFER_AVAILABLE,
    G_BUFFER_TOTAL,
    G_WAITING_THREADS,
    G_BUFFERPOOL_WAIT_RATIO,
    G_CONNECTION_COUNT,
    G_CONNECTION_CREATION_RATE,
    G_CONNECTION_CREATION_TOTAL,
    G_CONNECTION_CLOSE_RATE,
    G_CONNECTION_CLOSE_TOTAL,
    G_OUT_BYTE_RATE,
    G_OUT_BYTE_TOTAL,
    G_IN_BYTE_RATE,
    G_IN_BYTE_TOTAL,
    G_REQUEST_RATE,
    G_REQUEST_TOTAL,
    G_RESPONSE_RATE,
    G_RESPONSE_TOTAL,
};

typedef struct mdef {
    const char *name;
    enum scope scope;
    int stat; /* kp_mstat / kp_tstat / N_* / G_* */
    enum kind kind;
    double scale;
    int debug; /* recorded at DEBUG level only */
    const char *description;
} mdef_t;

#define US_MS 0.001
#define PPM 0.000001

static const mdef_t defs[] = {
    /* producer-metrics */
    {"record-send-rate", SC_PRODUCER, KP_M_RECORD_SEND, K_RATE, 1, 0,
     "The average number of records sent per second (retries count again, as Java)."},
    {"record-send-total", SC_PRODUCER, KP_M_RECORD_SEND, K_TOTAL, 1, 0,
     "The total number of records sent (retries count again, as Java)."},
    {"record-error-rate", SC_PRODUCER, KP_M_RECORD_ERROR, K_RATE, 1, 0,
     "The average per-second number of record sends that resulted in errors."},
    {"record-error-total", SC_PRODUCER, KP_M_RECORD_ERROR, K_TOTAL, 1, 0,
     "The total number of record sends that resulted in errors."},
    {"record-error-not-persisted-total", SC_PRODUCER, KP_M_ERR_NOT_PERSISTED, K_TOTAL, 1, 0,
     "Records that failed and were never written (KP_NOT_PERSISTED: safe to resend). Not in Java."},
    {"record-error-possibly-persisted-total", SC_PRODUCER, KP_M_ERR_MAYBE_PERSISTED, K_TOTAL, 1,
     0, "Records that failed but may have been written (KP_POSSIBLY_PERSISTED: resending may "
        "duplicate). Not in Java."},
    {"record-retry-rate", SC_PRODUCER, KP_M_RECORD_RETRY, K_RATE, 1, 0,
     "The average per-second number of retried record sends."},
    {"record-retry-total", SC_PRODUCER, KP_M_RECORD_RETRY, K_TOTAL, 1, 0,
     "The total number of retried record sends."},
    {"request-latency-avg", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_AVG, US_MS, 0,
     "The average Produce request latency in ms (written to answered)."},
    {"request-latency-max", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_MAX, US_MS, 0,
     "The maximum Produce request latency in ms."},
    {"request-latency-p50", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_P50, US_MS, 0,
     "The median Produce request latency in ms (log-bucketed histogram, within 12.5 %). Not in "
     "Java."},
    {"request-latency-p95", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_P95, US_MS, 0,
     "The 95th percentile of Produce request latency in ms. Not in Java."},
    {"request-latency-p99", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_P99, US_MS, 0,
     "The 99th percentile of Produce request latency in ms. Not in Java."},
    {"request-latency-p999", SC_PRODUCER, KP_M_REQUEST_LATENCY, K_P999, US_MS, 0,
     "The 99.9th percentile of Produce request latency in ms. Not in Java."},
    {"record-queue-time-avg", SC_PRODUCER, KP_M_QUEUE_TIME, K_AVG, US_MS, 0,
     "The average time in ms record batches spent in the send buffer."},
    {"record-queue-time-max", SC_PRODUCER, KP_M_QUEUE_TIME, K_MAX, US_MS, 0,
     "The maximum time in ms record batches spent in the send buffer."},
    {"record-queue-time-p50", SC_PRODUCER, KP_M_QUEUE_TIME, K_P50, US_MS, 0,
     "The median time in ms record batches spent in the send buffer. Not in Java."},
    {"record-queue-time-p95", SC_PRODUCER, KP_M_QUEUE_TIME, K_P95, US_MS, 0,
     "The 95th percentile of the time in ms batches spent in the send buffer. Not in Java."},
    {"record-queue-time-p99", SC_PRODUCER, KP_M_QUEUE_TIME, K_P99, US_MS, 0,
     "The 99th percentile of the time in ms batches spent in the send buffer. Not in Java."},
    {"record-queue-time-p999", SC_PRODUCER, KP_M_QUEUE_TIME, K_P999, US_MS, 0,
     "The 99.9th percentile of the time in ms batches spent in the send buffer. Not in Java."},
    {"record-ack-time-avg", SC_PRODUCER, KP_M_ACK_TIME, K_AVG, US_MS, 0,
     "The average time in ms from a record's send to its acknowledgement (each record counted; "
     "measured from its batch's first record). Not in Java."},
    {"record-ack-time-max", SC_PRODUCER, KP_M_ACK_TIME, K_MAX, US_MS, 0,
     "The maximum send-to-acknowledgement time in ms. Not in Java."},
    {"record-ack-time-p50", SC_PRODUCER, KP_M_ACK_TIME, K_P50, US_MS, 0,
     "The median send-to-acknowledgement time in ms. Not in Java."},
    {"record-ack-time-p95", SC_PRODUCER, KP_M_ACK_TIME, K_P95, US_MS, 0,
     "The 95th percentile of send-to-acknowledgement time in ms. Not in Java."},
    {"record-ack-time-p99", SC_PRODUCER, KP_M_ACK_TIME, K_P99, US_MS, 0,
     "The 99th percentile of send-to-acknowledgement time in ms. Not in Java."},
    {"record-ack-time-p999", SC_PRODUCER, KP_M_ACK_TIME, K_P999, US_MS, 0,
     "The 99.9th percentile of send-to-acknowledgement time in ms. Not in Java."},
    {"batch-size-avg", SC_PRODUCER, KP_M_BATCH_SIZE, K_AVG, 1, 0,
     "The average number of bytes sent per partition per-request."},
    {"batch-size-max", SC_PRODUCER, KP_M_BATCH_SIZE, K_MAX, 1, 0,
     "The max number of bytes sent per partition per-request."},
    {"records-per-request-avg", SC_PRODUCER, KP_M_RECORDS_PER_REQUEST, K_AVG, 1, 0,
     "The average number of records per request."},
    {"record-size-avg", SC_PRODUCER, KP_M_RECORD_SIZE, K_AVG, 1, 0,
     "The average record size (of each batch's largest record, as Java)."},
    {"record-size-max", SC_PRODUCER, KP_M_RECORD_SIZE, K_MAX, 1, 0,
     "The maximum record size."},
    {"compression-rate-avg", SC_PRODUCER, KP_M_COMPRESSION, K_AVG, PPM, 0,
     "The average compression rate of record batches, defined as the average ratio of the "
     "compressed batch size over the uncompressed size."},
    {"produce-throttle-time-avg", SC_PRODUCER, KP_M_THROTTLE, K_AVG, 1, 0,
     "The average time in ms a request was throttled by a broker."},
    {"produce-throttle-time-max", SC_PRODUCER, KP_M_THROTTLE, K_MAX, 1, 0,
     "The maximum time in ms a request was throttled by a broker."},
    {"batch-split-rate", SC_PRODUCER, KP_M_BATCH_SPLIT, K_RATE, 1, 0,
     "The average number of batch splits per second."},
    {"batch-split-total", SC_PRODUCER, KP_M_BATCH_SPLIT, K_TOTAL, 1, 0,
     "The total number of batch splits."},
    {"buffer-exhausted-rate", SC_PRODUCER, KP_M_BUFFER_EXHAUSTED, K_RATE, 1, 0,
     "The average per-second number of record sends that are dropped due to buffer exhaustion."},
    {"buffer-exhausted-total", SC_PRODUCER, KP_M_BUFFER_EXHAUSTED, K_TOTAL, 1, 0,
     "The total number of record sends that are dropped due to buffer exhaustion."},
    {"bufferpool-wait-time-ns-total", SC_PRODUCER, KP_M_BUFFER_WAIT, K_SUM_TOTAL, 1, 0,
     "The total time in nanoseconds an appender waits for space allocation."},
    {"bufferpool-wait-ratio", SC_PRODUCER, G_BUFFERPOOL_WAIT_RATIO, K_GAUGE, 1, 0,
     "The fraction of time an appender waits for space allocation."},
    {"buffer-available-bytes", SC_PRODUCER, G_BUFFER_AVAILABLE, K_GAUGE, 1, 0,
     "The total amount of buffer memory that is not being used (either unallocated or in the "
     "free list)."},
    {"buffer-total-bytes", SC_PRODUCER, G_BUFFER_TOTAL, K_GAUGE, 1, 0,
     "The maximum amount of buffer memory the client can use (whether or not it is currently "
     "used)."},
    {"waiting-threads", SC_PRODUCER, G_WAITING_THREADS, K_GAUGE, 1, 0,
     "The number of user threads blocked waiting for buffer memory to enqueue their records."},
    {"flush-time-ns-total", SC_PRODUCER, KP_M_FLUSH_TIME, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in flush in nanoseconds."},
    {"metadata-wait-time-ns-total", SC_PRODUCER, KP_M_METADATA_WAIT, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent waiting on topic metadata in nanoseconds."},
    {"txn-init-time-ns-total", SC_PRODUCER, KP_M_TXN_INIT, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in initTransactions in nanoseconds."},
    {"txn-begin-time-ns-total", SC_PRODUCER, KP_M_TXN_BEGIN, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in beginTransaction in nanoseconds."},
    {"txn-send-offsets-time-ns-total", SC_PRODUCER, KP_M_TXN_OFFSETS, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in sendOffsetsToTransaction in nanoseconds."},
    {"txn-commit-time-ns-total", SC_PRODUCER, KP_M_TXN_COMMIT, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in commitTransaction in nanoseconds."},
    {"txn-abort-time-ns-total", SC_PRODUCER, KP_M_TXN_ABORT, K_SUM_TOTAL, 1, 0,
     "Total time producer has spent in abortTransaction in nanoseconds."},
    {"requests-in-flight", SC_PRODUCER, G_REQUESTS_IN_FLIGHT, K_GAUGE, 1, 0,
     "The current number of in-flight requests awaiting a response."},
    {"metadata-age", SC_PRODUCER, G_METADATA_AGE, K_GAUGE, 1, 0,
     "The age in seconds of the current producer metadata being used."},
    {"connection-count", SC_PRODUCER, G_CONNECTION_COUNT, K_GAUGE, 1, 0,
     "The current number of active connections."},
    {"connection-creation-rate", SC_PRODUCER, G_CONNECTION_CREATION_RATE, K_GAUGE, 1, 0,
     "The number of new connections established per second."},
    {"connection-creation-total", SC_PRODUCER, G_CONNECTION_CREATION_TOTAL, K_GAUGE, 1, 0,
     "The total number of new connections established."},
    {"connection-close-rate", SC_PRODUCER, G_CONNECTION_CLOSE_RATE, K_GAUGE, 1, 0,
     "The number of connections closed per second."},
    {"connection-close-total", SC_PRODUCER, G_CONNECTION_CLOSE_TOTAL, K_GAUGE, 1, 0,
     "The total number of connections closed."},
    {"outgoing-byte-rate", SC_PRODUCER, G_OUT_BYTE_RATE, K_GAUGE, 1, 0,
     "The number of outgoing bytes sent to all servers per second."},
    {"outgoing-byte-total", SC_PRODUCER, G_OUT_BYTE_TOTAL, K_GAUGE, 1, 0,
     "The total number of outgoing bytes sent to all servers."},
    {"incoming-byte-rate", SC_PRODUCER, G_IN_BYTE_RATE, K_GAUGE, 1, 0,
     "The number of bytes read off all sockets per second."},
    {"incoming-byte-total", SC_PRODUCER, G_IN_BYTE_TOTAL, K_GAUGE, 1, 0,
     "The total number of bytes read off all sockets."},
    {"request-rate", SC_PRODUCER, G_REQUEST_RATE, K_GAUGE, 1, 0,
     "The number of requests sent per second."},
    {"request-total", SC_PRODUCER, G_REQUEST_TOTAL, K_GAUGE, 1, 0,
     "The total number of requests sent."},
    {"response-rate", SC_PRODUCER, G_RESPONSE_RATE, K_GAUGE, 1, 0,
     "The number of responses received per second."},
    {"response-total", SC_PRODUCER, G_RESPONSE_TOTAL, K_GAUGE, 1, 0,
     "The total number of responses received."},
    /* producer-topic-metrics */
    {"record-send-rate", SC_TOPIC, KP_T_RECORD_SEND, K_RATE, 1, 0,
     "The average number of records sent per second for a topic."},
    {"record-send-total", SC_TOPIC, KP_T_RECORD_SEND, K_TOTAL, 1, 0,
     "The total number of records sent for a topic."},
    {"byte-rate", SC_TOPIC, KP_T_BYTES, K_SUM_RATE, 1, 0,
     "The average number of bytes sent per second for a topic."},
    {"byte-total", SC_TOPIC, KP_T_BYTES, K_SUM_TOTAL, 1, 0,
     "The total number of bytes sent for a topic."},
    {"compression-rate", SC_TOPIC, KP_T_COMPRESSION, K_AVG, PPM, 0,
     "The average compression rate of record batches for a topic."},
    {"record-error-rate", SC_TOPIC, KP_T_RECORD_ERROR, K_RATE, 1, 0,
     "The average per-second number of record sends that resulted in errors for a topic."},
    {"record-error-total", SC_TOPIC, KP_T_RECORD_ERROR, K_TOTAL, 1, 0,
     "The total number of record sends that resulted in errors for a topic."},
    {"record-retry-rate", SC_TOPIC, KP_T_RECORD_RETRY, K_RATE, 1, 0,
     "The average per-second number of retried record sends for a topic."},
    {"record-retry-total", SC_TOPIC, KP_T_RECORD_RETRY, K_TOTAL, 1, 0,
     "The total number of retried record sends for a topic."},
    /* producer-node-metrics */
    {"request-latency-avg", SC_NODE, N_LATENCY, K_AVG, US_MS, 0,
     "The average request latency in ms for a node."},
    {"request-latency-max", SC_NODE, N_LATENCY, K_MAX, US_MS, 0,
     "The maximum request latency in ms for a node."},
    {"request-latency-p50", SC_NODE, N_LATENCY, K_P50, US_MS, 1,
     "The median request latency in ms for a node (recording level DEBUG). Not in Java."},
    {"request-latency-p95", SC_NODE, N_LATENCY, K_P95, US_MS, 1,
     "The 95th percentile of request latency in ms for a node (DEBUG). Not in Java."},
    {"request-latency-p99", SC_NODE, N_LATENCY, K_P99, US_MS, 1,
     "The 99th percentile of request latency in ms for a node (DEBUG). Not in Java."},
    {"request-latency-p999", SC_NODE, N_LATENCY, K_P999, US_MS, 1,
     "The 99.9th percentile of request latency in ms for a node (DEBUG). Not in Java."},
    {"outgoing-byte-rate", SC_NODE, N_OUT, K_SUM_RATE, 1, 0,
     "The number of outgoing bytes per second for a node."},
    {"outgoing-byte-total", SC_NODE, N_OUT, K_SUM_TOTAL, 1, 0,
     "The total number of outgoing bytes for a node."},
    {"incoming-byte-rate", SC_NODE, N_IN, K_SUM_RATE, 1, 0,
     "The number of incoming bytes per second for a node."},
    {"incoming-byte-total", SC_NODE, N_IN, K_SUM_TOTAL, 1, 0,
     "The total number of incoming bytes for a node."},
    {"request-rate", SC_NODE, N_REQUESTS, K_RATE, 1, 0,
     "The number of requests sent per second for a node."},
    {"request-total", SC_NODE, N_REQUESTS, K_TOTAL, 1, 0,
     "The total number of requests sent for a node."},
    {"response-rate", SC_NODE, N_RESPONSES, K_RATE, 1, 0,
     "The number of responses received per second for a node."},
    {"response-total", SC_NODE, N_RESPONSES, K_TOTAL, 1, 0,
     "The total number of responses received for a node."},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const char *const group_names[] = {"producer-metrics", "producer-topic-metrics",
                                          "producer-node-metrics"};

/* the docs generator's view of the table */
size_t kp_metric_defs(void) { return NDEFS; }
void kp_metric_def(size_t i, const char **group, const char **name, const char **tags,
                   const char **description) {
    static const char *const tag_names[] = {"client-id", "client-id, topic", "client-id, node-id"};
    *group = group_names[defs[i].scope];
    *name = defs[i].name;
    *tags = tag_names[defs[i].scope];
    *description = defs[i].description;
}

/* ---------------------------------------------------------------- state */

/* which statistics keep a histogram */
static int has_hist(int which) {
    return which == KP_M_REQUEST_LATENCY || which == KP_M_QUEUE_TIME || which == KP_M_ACK_TIME;
}

kp_metrics_state_t *kp_metrics_new(const kp_producer_t *p, int64_t now) {
    kp_metrics_state_t *m = kp_calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nsamples = p->conf.metrics_num_samples;
    m->window_ms = p->conf.metrics_sample_window_ms > 0 ? p->conf.metrics_sample_window_ms : 1;
    m->next_roll = now + m->window_ms;
    m->debug = p->conf.metrics_recording_level > 0;
    m->created_ms = now;
    m->next_stats = p->conf.statistics_interval_ms > 0 && p->conf.stats_cb
                        ? now + p->conf.statistics_interval_ms
                        : 0;
    pthread_mutex_init(&m->lock, NULL);
    kp_cond_init_mono(&m->cond);
    for (int i = 0; i < KP_M_COUNT; i++)
        if (kp_stat_init(&m->s[i], m->nsamples, has_hist(i), now)) {
            kp_metrics_free(m);
            return NULL;
        }
    return m;
}

void kp_metrics_free(kp_metrics_state_t *m) {
    if (!m)
        return;
    for (int i = 0; i < KP_M_COUNT; i++)
        kp_stat_destroy(&m->s[i]);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}

kp_stat_t *kp_mstat(kp_producer_t *p, enum kp_mstat which) { return &p->metrics->s[which]; }

kp_topic_stats_t *kp_topic_stats(kp_producer_t *p, struct kp_topic *t) {
    if (t->stats)
        return t->stats;
    kp_topic_stats_t *ts = kp_calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    int64_t now = kp_mono_ms();
    for (int i = 0; i < KP_T_COUNT; i++)
        if (kp_stat_init(&ts->s[i], p->metrics->nsamples, 0, now)) {
            kp_topic_stats_free(ts);
            return NULL;
        }
    t->stats = ts;
    return ts;
}

void kp_topic_stats_free(kp_topic_stats_t *ts) {
    if (!ts)
        return;
    for (int i = 0; i < KP_T_COUNT; i++)
        kp_stat_destroy(&ts->s[i]);
    free(ts);
}

/* Roll every window (I/O thread, under m->lock: snapshots read them). */
static void roll_all(kp_producer_t *p, int64_t now) {
    kp_metrics_state_t *m = p->metrics;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < KP_M_COUNT; i++)
        kp_stat_roll(&m->s[i], now);
    void *const *ts;
    for (size_t i = 0, n = kp_topics(p, &ts); i < n; i++) {
        kp_topic_t *t = ts[i];
        if (t->stats)
            for (int k = 0; k < KP_T_COUNT; k++)
                kp_stat_roll(&t->stats->s[k], now);
    }
    for (int i = 0; i < kp_conn_count(&p->net); i++)
        kp_node_stats_roll(&kp_conn_at(&p->net, i)->stats, now);
    pthread_mutex_unlock(&m->lock);
}

/* ---------------------------------------------------------------- the engine's hooks */

void kp_metrics_request_sent(kp_producer_t *p, kp_conn_t *c, kp_batch_t **bs, int n,
                             int64_t now) {
    kp_metrics_state_t *m = p->metrics;
    int64_t records = 0;
    for (int i = 0; i < n; i++) {
        kp_batch_t *b = bs[i];
        kp_tp_t *tp = b->tp;
        int64_t size = (int64_t)(b->cbuf ? b->clen : b->len);
        int64_t queue_us = (now - b->created_ms) * 1000;
        records += b->count;
        kp_stat_add_n(&m->s[KP_M_RECORD_SEND], 0, (uint64_t)b->count);
        kp_stat_add(&m->s[KP_M_BATCH_SIZE], size);
        kp_stat_add(&m->s[KP_M_RECORD_SIZE], b->max_rec);
        kp_stat_add(&m->s[KP_M_QUEUE_TIME], queue_us);
        int64_t ratio = b->cbuf && b->len ? (int64_t)b->clen * 1000000 / (int64_t)b->len : 1000000;
        kp_stat_add(&m->s[KP_M_COMPRESSION], ratio);
        if (c->stats.ready) {
            kp_stat_add(&c->stats.queue_time, queue_us);
            c->stats.retries += b->attempts > 0;
        }
        kp_topic_stats_t *ts = kp_topic_stats(p, tp->topic);
        if (ts) {
            kp_stat_add_n(&ts->s[KP_T_RECORD_SEND], 0, (uint64_t)b->count);
            kp_stat_add(&ts->s[KP_T_BYTES], size);
            kp_stat_add(&ts->s[KP_T_COMPRESSION], ratio);
        }
        tp->m_txmsgs += b->count;
        tp->m_txbytes += size;
        tp->m_inflight_recs += b->count;
    }
    kp_stat_add(&m->s[KP_M_RECORDS_PER_REQUEST], records);
}

void kp_metrics_response(kp_producer_t *p, int64_t written_us, int32_t throttle_ms) {
    kp_metrics_state_t *m = p->metrics;
    if (written_us)
        kp_stat_add(&m->s[KP_M_REQUEST_LATENCY], kp_mono_us() - written_us);
    kp_stat_add(&m->s[KP_M_THROTTLE], throttle_ms > 0 ? throttle_ms : 0);
}

void kp_metrics_retry(kp_producer_t *p, kp_batch_t *b) {
    kp_stat_add_n(&p->metrics->s[KP_M_RECORD_RETRY], 0, (uint64_t)b->count);
    kp_topic_stats_t *ts = kp_topic_stats(p, b->tp->topic);
    if (ts)
        kp_stat_add_n(&ts->s[KP_T_RECORD_RETRY], 0, (uint64_t)b->count);
}

void kp_metrics_batch_done(kp_producer_t *p, kp_batch_t *b, kp_err_t err,
                           kp_persisted_t persisted) {
    kp_metrics_state_t *m = p->metrics;
    uint64_t n = (uint64_t)b->count;
    if (!err) {
        kp_stat_add_n(&m->s[KP_M_ACK_TIME], (kp_mono_ms() - b->created_ms) * 1000, n);
        if (b->base_seq >= 0)
            b->tp->m_next_ack_seq = b->base_seq + b->count;
        return;
    }
    kp_stat_add_n(&m->s[KP_M_RECORD_ERROR], 0, n);
    kp_stat_add_n(&m->s[persisted == KP_NOT_PERSISTED ? KP_M_ERR_NOT_PERSISTED
                                                      : KP_M_ERR_MAYBE_PERSISTED],
                  0, n);
    kp_topic_stats_t *ts = kp_topic_stats(p, b->tp->topic);
    if (ts)
        kp_stat_add_n(&ts->s[KP_T_RECORD_ERROR], 0, n);
}

/* ---------------------------------------------------------------- snapshots */

struct kp_metrics {
    kp_metric_t *v;
    int n, cap;
    char **strs; /* tags owned */
    int nstrs, strs_cap;
    int err;
};

static double window_value(const kp_stat_t *s, enum kind k, double scale, int64_t now,
                           int64_t window_ms) {
    kp_stat_window_t w;
    switch (k) {
    case K_TOTAL:
        return (double)atomic_load_explicit(&s->n, memory_order_relaxed) * scale;
    case K_SUM_TOTAL:
        return (double)atomic_load_explicit(&s->sum, memory_order_relaxed) * scale;
    default:
        break;
    }
    kp_stat_window(s, now, window_ms, &w);
    switch (k) {
    case K_RATE:
        return (double)w.n * scale / w.elapsed_s;
    case K_SUM_RATE:
        return (double)w.sum * scale / w.elapsed_s;
    case K_AVG:
        return w.n ? (double)w.sum * scale / (double)w.n : NAN;
    case K_MAX:
        return w.max == INT64_MIN ? NAN : (double)w.max * scale;
    default: {
        kp_hist_copy_t c;
        if (kp_stat_window_hist(s, &c) || !c.count)
            return NAN;
        double q = k == K_P50 ? 0.5 : k == K_P95 ? 0.95 : k == K_P99 ? 0.99 : 0.999;
        return (double)kp_hist_quantile(&c, q) * scale;
    }
    }
}

static void push(kp_metrics_t *out, const mdef_t *d, char *tags, double value) {
    if (out->err || !tags) {
        out->err = 1;
        free(tags);
        return;
    }
    kp_metric_t *nv = kp_grow(out->v, out->n, &out->cap, sizeof(*nv), 64);
    char **ns = nv ? kp_grow(out->strs, out->nstrs, &out->strs_cap, sizeof(*ns), 16) : NULL;
    if (nv)
        out->v = nv;
    if (!ns) {
        out->err = 1;
        free(tags);
        return;
    }
    out->strs = ns;
    out->strs[out->nstrs++] = tags;
    out->v[out->n++] = (kp_metric_t){group_names[d->scope], d->name, tags, d->description, value};
}

static char *fmt_tags(const char *client_id, const char *key, const char *val) {
    size_t n = strlen(client_id) + (key ? strlen(key) + strlen(val) + 4 : 0) + 16;
    char *s = kp_malloc(n);
    if (s) {
        if (key)
            snprintf(s, n, "client-id=%s, %s=%s", client_id, key, val);
        else
            snprintf(s, n, "client-id=%s", client_id);
    }
    return s;
}

/* The node statistics (kp_node_stats_t) by index. */
static const kp_stat_t *node_stat(const kp_node_stats_t *st, int which) {
    switch (which) {
    case N_LATENCY: return &st->latency;
    case N_OUT: return &st->out_bytes;
    case N_IN: return &st->in_bytes;
    case N_REQUESTS: return &st->requests;
    case N_RESPONSES: return &st->responses;
    default: return &st->queue_time;
    }
}

/* The producer-wide sums of the connections' statistics: each is its node
 * metric's (same statistic, same kind) over every connection, plus the
 * totals of connections already destroyed (kp_net_t.gone). */
static const struct node_sum {
    int g, stat;
    enum kind kind;
} node_sums[] = {
    {G_OUT_BYTE_RATE, N_OUT, K_SUM_RATE},   {G_OUT_BYTE_TOTAL, N_OUT, K_SUM_TOTAL},
    {G_IN_BYTE_RATE, N_IN, K_SUM_RATE},     {G_IN_BYTE_TOTAL, N_IN, K_SUM_TOTAL},
    {G_REQUEST_RATE, N_REQUESTS, K_RATE},   {G_REQUEST_TOTAL, N_REQUESTS, K_TOTAL},
    {G_RESPONSE_RATE, N_RESPONSES, K_RATE}, {G_RESPONSE_TOTAL, N_RESPONSES, K_TOTAL},
};

static double gone_total(const kp_net_t *net, int stat) {
    switch (stat) {
    case N_OUT: return (double)net->gone.out_bytes;
    case N_IN: return (double)net->gone.in_bytes;
    case N_REQUESTS: return (double)net->gone.requests;
    case N_RESPONSES: return (double)net->gone.responses;
    default: return 0;
    }
}

static double node_sum(kp_producer_t *p, const struct node_sum *ns, int64_t now) {
    double sum = ns->kind == K_TOTAL || ns->kind == K_SUM_TOTAL ? gone_total(&p->net, ns->stat) : 0;
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        const kp_node_stats_t *st = &kp_conn_at(&p->net, i)->stats;
        if (st->ready)
            sum += window_value(node_stat(st, ns->stat), ns->kind, 1, now, p->metrics->window_ms);
    }
    return sum;
}

/* Gauges, and the producer-wide sums of the nodes' statistics (I/O thread). */
static double gauge(kp_producer_t *p, int g, int64_t now) {
    kp_metrics_state_t *m = p->metrics;
    switch (g) {
    case G_METADATA_AGE: {
        pthread_mutex_lock(&p->topics_lock);
        int64_t ok = p->md_ok_ms;
        pthread_mutex_unlock(&p->topics_lock);
        return ok ? (double)(now - ok) / 1000.0 : NAN;
    }
    case G_BUFFER_AVAILABLE:
    case G_WAITING_THREADS: {
        pthread_mutex_lock(&p->acc.pool_lock);
        double v = g == G_BUFFER_AVAILABLE ? (double)p->acc.pool_avail : p->acc.pool_waiters;
        pthread_mutex_unlock(&p->acc.pool_lock);
        return v;
    }
    case G_BUFFER_TOTAL:
        return (double)p->conf.buffer_memory;
    case G_BUFFERPOOL_WAIT_RATIO:
        return window_value(&m->s[KP_M_BUFFER_WAIT], K_SUM_RATE, 1e-9, now, m->window_ms);
    default:
        break;
    }
    for (size_t i = 0; i < sizeof(node_sums) / sizeof(node_sums[0]); i++)
        if (node_sums[i].g == g)
            return node_sum(p, &node_sums[i], now);
    /* the connections themselves; connects are counted, not windowed (a
     * rate since the start), destroyed connections' included */
    int creation = g == G_CONNECTION_CREATION_TOTAL || g == G_CONNECTION_CREATION_RATE;
    double sum = creation ? (double)p->net.gone.connects
                 : g == G_CONNECTION_CLOSE_TOTAL || g == G_CONNECTION_CLOSE_RATE
                     ? (double)p->net.gone.disconnects
                     : 0;
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        const kp_conn_t *c = kp_conn_at(&p->net, i);
        const kp_node_stats_t *st = &c->stats;
        if (!st->ready)
            continue;
        if (g == G_REQUESTS_IN_FLIGHT) {
            for (const kp_req_t *r = c->wait_head; r; r = r->next)
                sum += !r->setup;
        } else if (g == G_CONNECTION_COUNT) {
            sum += c->state == KP_CONN_READY;
        } else {
            sum += (double)(creation ? st->connects : st->disconnects);
        }
    }
    if (g == G_CONNECTION_CREATION_RATE || g == G_CONNECTION_CLOSE_RATE) {
        double age = (double)(now - m->created_ms) / 1000.0;
        return sum / (age > 1 ? age : 1);
    }
    return sum;
}

/* Every metric (I/O thread, or the caller once it stopped). */
static kp_metrics_t *build(kp_producer_t *p, int64_t now) {
    kp_metrics_state_t *m = p->metrics;
    kp_metrics_t *out = kp_calloc(1, sizeof(*out));
    if (!out)
        return NULL;
    const char *cid = p->client_id;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < NDEFS; i++) {
        const mdef_t *d = &defs[i];
        if (d->debug && !m->debug)
            continue;
        if (d->scope == SC_PRODUCER) {
            double v = d->kind == K_GAUGE ? gauge(p, d->stat, now)
                                          : window_value(&m->s[d->stat], d->kind, d->scale, now,
                                                         m->window_ms);
            push(out, d, fmt_tags(cid, NULL, NULL), v);
        } else if (d->scope == SC_TOPIC) {
            void *const *ts;
            for (size_t k = 0, nt = kp_topics(p, &ts); k < nt; k++) {
                kp_topic_t *t = ts[k];
                if (!t->stats)
                    continue;
                push(out, d, fmt_tags(cid, "topic", t->name),
                     window_value(&t->stats->s[d->stat], d->kind, d->scale, now, m->window_ms));
            }
        } else {
            for (int k = 0; k < kp_conn_count(&p->net); k++) {
                const kp_conn_t *c = kp_conn_at(&p->net, k);
                if (!c->stats.ready)
                    continue;
                char node[32];
                snprintf(node, sizeof(node), "node-%d", c->node_id);
                push(out, d, fmt_tags(cid, "node-id", node),
                     window_value(node_stat(&c->stats, d->stat), d->kind, d->scale, now,
                                  m->window_ms));
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (out->err) {
        kp_metrics_destroy(out);
        return NULL;
    }
    return out;
}

void kp_metrics_destroy(kp_metrics_t *s) {
    if (!s)
        return;
    for (int i = 0; i < s->nstrs; i++)
        free(s->strs[i]);
    free(s->strs);
    free(s->v);
    free(s);
}

size_t kp_metrics_count(const kp_metrics_t *s) { return s ? (size_t)s->n : 0; }

const kp_metric_t *kp_metrics_at(const kp_metrics_t *s, size_t i) {
    return s && i < (size_t)s->n ? &s->v[i] : NULL;
}

kp_err_t kp_metrics_find(const kp_metrics_t *s, const char *group, const char *name,
                         const char *tags, double *value) {
    if (!s || !group || !name || !value)
        return KP_ERR_INVALID_ARG;
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].group, group) && !strcmp(s->v[i].name, name) &&
            (!tags || !strcmp(s->v[i].tags, tags))) {
            *value = s->v[i].value;
            return KP_OK;
        }
    return KP_ERR_INVALID_ARG;
}

/* Ask the I/O thread for a snapshot or the JSON and wait for it (a loop
 * turn), or build it here on that thread or once it stopped. */
static void ask_io(kp_producer_t *p, snap_req_t *req) {
    kp_metrics_state_t *m = p->metrics;
    if (!kp_in_io_thread(p)) {
        pthread_mutex_lock(&m->lock);
        if (!m->io_stopped) {
            req->next = m->reqs;
            m->reqs = req;
            atomic_fetch_add(&m->nreqs, 1);
            kp_wake(p);
            while (!req->done && !m->io_stopped)
                pthread_cond_wait(&m->cond, &m->lock);
            if (!req->done) /* the I/O thread stopped first: take it back */
                for (snap_req_t **pp = &m->reqs; *pp; pp = &(*pp)->next)
                    if (*pp == req) {
                        *pp = req->next;
                        atomic_fetch_sub(&m->nreqs, 1);
                        break;
                    }
        }
        pthread_mutex_unlock(&m->lock);
        if (req->done)
            return;
    }
    if (req->json)
        req->doc = kp_metrics_json(p, kp_mono_ms());
    else
        req->result = build(p, kp_mono_ms());
    req->done = 1;
}

kp_metrics_t *kp_metrics_take(kp_producer_t *p) {
    snap_req_t req = {0};
    ask_io(p, &req);
    return req.result;
}

char *kp_metrics_take_json(kp_producer_t *p) {
    snap_req_t req = {.json = 1};
    ask_io(p, &req);
    return req.doc;
}

/* ---------------------------------------------------------------- statistics JSON */

static const char *conn_state_name(const kp_conn_t *c) {
    switch (c->state) {
    case KP_CONN_DOWN: return "DOWN";
    case KP_CONN_RESOLVING: return "CONNECT";
    case KP_CONN_CONNECTING: return "CONNECT";
    case KP_CONN_HANDSHAKE: return "APIVERSION_QUERY";
    default: return "UP";
    }
}

static void json_window(kp_json_t *j, const char *key, const kp_stat_t *s) {
    kp_hist_copy_t c;
    kp_json_obj(j, key);
    if (s && !kp_stat_window_hist(s, &c) && c.count) {
        kp_hist_summary_t h;
        kp_hist_summarize(&c, &h);
        kp_json_int(j, "min", h.min);
        kp_json_int(j, "max", h.max);
        kp_json_int(j, "avg", (int64_t)h.avg);
        kp_json_int(j, "sum", c.sum);
        kp_json_int(j, "cnt", (int64_t)c.count);
        kp_json_int(j, "p50", h.p50);
        kp_json_int(j, "p75", h.p75);
        kp_json_int(j, "p90", h.p90);
        kp_json_int(j, "p95", h.p95);
        kp_json_int(j, "p99", h.p99);
        kp_json_int(j, "p99_99", kp_hist_quantile(&c, 0.9999));
    } else {
        static const char *const keys[] = {"min", "max", "avg", "sum", "cnt", "p50",
                                           "p75", "p90", "p95", "p99", "p99_99"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            kp_json_int(j, keys[i], 0);
    }
    kp_json_obj_end(j);
}

static const char *idemp_state_name(const kp_producer_t *p) {
    if (!p->idem.enabled)
        return "Init";
    switch (p->idem.state) {
    case KP_PID_READY: return "Assigned";
    case KP_PID_REQUESTING: return "WaitPID";
    default: return atomic_load(&p->fatal_err) ? "FatalError" : "RequestPID";
    }
}

static void json_partitions(kp_json_t *j, kp_producer_t *p, kp_topic_t *t) {
    kp_json_obj(j, "partitions");
    void *const *tps;
    for (int32_t k = 0, np = kp_topic_parts(t, &tps); k < np; k++) {
        kp_tp_t *tp = tps[k];
        char key[16];
        snprintf(key, sizeof(key), "%d", tp->partition);
        int64_t qbytes = 0;
        int64_t qcnt = 0;
        pthread_mutex_lock(&tp->lock);
        for (const kp_batch_t *b = tp->head; b; b = b->next) {
            qbytes += (int64_t)(b->cbuf ? b->clen : b->len);
            qcnt += b->count;
        }
        pthread_mutex_unlock(&tp->lock);
        kp_json_obj(j, key);
        kp_json_int(j, "partition", tp->partition);
        kp_json_int(j, "broker", tp->leader);
        kp_json_int(j, "leader", tp->leader);
        kp_json_int(j, "msgq_cnt", qcnt);
        kp_json_int(j, "msgq_bytes", qbytes);
        kp_json_int(j, "msgs_inflight", tp->m_inflight_recs);
        kp_json_int(j, "txmsgs", tp->m_txmsgs);
        kp_json_int(j, "txbytes", tp->m_txbytes);
        kp_json_int(j, "msgs", atomic_load_explicit(&tp->appended, memory_order_relaxed));
        kp_json_int(j, "next_ack_seq", tp->m_next_ack_seq);
        kp_json_obj_end(j);
    }
    (void)p;
    kp_json_obj_end(j);
}

char *kp_metrics_json(kp_producer_t *p, int64_t now) {
    kp_metrics_state_t *m = p->metrics;
    kp_json_t j;
    kp_json_init(&j);
    char name[300];
    snprintf(name, sizeof(name), "%s#producer-%llu", p->client_id,
             (unsigned long long)p->uid);
    pthread_mutex_lock(&m->lock);
    kp_json_obj(&j, NULL);
    kp_json_str(&j, "name", name);
    kp_json_str(&j, "client_id", p->client_id);
    kp_json_str(&j, "type", "producer");
    kp_json_int(&j, "ts", kp_mono_us());
    kp_json_int(&j, "time", kp_wall_ms() / 1000);
    kp_json_int(&j, "age", (now - m->created_ms) * 1000);
    kp_json_int(&j, "msg_cnt", kp_pending(p));
    pthread_mutex_lock(&p->acc.pool_lock);
    int64_t avail = p->acc.pool_avail;
    pthread_mutex_unlock(&p->acc.pool_lock);
    kp_json_int(&j, "msg_size", p->conf.buffer_memory - avail);
    kp_json_int(&j, "msg_size_max", p->conf.buffer_memory);
    kp_json_int(&j, "tx", (int64_t)gauge(p, G_REQUEST_TOTAL, now));
    kp_json_int(&j, "tx_bytes", (int64_t)gauge(p, G_OUT_BYTE_TOTAL, now));
    kp_json_int(&j, "rx", (int64_t)gauge(p, G_RESPONSE_TOTAL, now));
    kp_json_int(&j, "rx_bytes", (int64_t)gauge(p, G_IN_BYTE_TOTAL, now));
    kp_json_int(&j, "txmsgs", (int64_t)atomic_load(&m->s[KP_M_RECORD_SEND].n));
    int64_t txmsg_bytes = 0;
    void *const *ts;
    size_t nt = kp_topics(p, &ts);
    for (size_t i = 0; i < nt; i++) {
        kp_topic_t *t = ts[i];
        if (t->stats)
            txmsg_bytes += atomic_load(&t->stats->s[KP_T_BYTES].sum);
    }
    kp_json_int(&j, "txmsg_bytes", txmsg_bytes);
    kp_json_int(&j, "metadata_cache_cnt", (int64_t)nt);

    kp_json_obj(&j, "brokers");
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        const kp_conn_t *c = kp_conn_at(&p->net, i);
        const kp_node_stats_t *st = &c->stats;
        char bname[KP_CONN_NAME_MAX + 32], nodename[KP_CONN_NAME_MAX];
        snprintf(nodename, sizeof(nodename), "%s:%d", c->host, c->port);
        if (c->node_id < 0) /* (librdkafka names its bootstrap brokers so) */
            snprintf(bname, sizeof(bname), "%s/bootstrap", nodename);
        else
            snprintf(bname, sizeof(bname), "%s/%d", nodename, c->node_id);
        int outbuf = 0, waitresp = 0;
        for (const kp_req_t *r = c->out_head; r; r = r->next)
            outbuf++;
        for (const kp_req_t *r = c->wait_head; r; r = r->next)
            waitresp++;
        kp_json_obj(&j, bname);
        kp_json_str(&j, "name", bname);
        kp_json_int(&j, "nodeid", c->node_id);
        kp_json_str(&j, "nodename", nodename);
        kp_json_str(&j, "source", c->node_id < 0 ? "configured" : "learned");
        kp_json_str(&j, "state", conn_state_name(c));
        kp_json_int(&j, "stateage", st->ready ? (now - st->state_since_ms) * 1000 : 0);
        kp_json_int(&j, "outbuf_cnt", outbuf);
        kp_json_int(&j, "waitresp_cnt", waitresp);
        kp_json_int(&j, "tx", st->ready ? (int64_t)atomic_load(&st->requests.n) : 0);
        kp_json_int(&j, "txbytes", st->ready ? atomic_load(&st->out_bytes.sum) : 0);
        kp_json_int(&j, "txerrs", (int64_t)st->failures);
        kp_json_int(&j, "txretries", (int64_t)st->retries);
        kp_json_int(&j, "req_timeouts", (int64_t)st->timeouts);
        kp_json_int(&j, "rx", st->ready ? (int64_t)atomic_load(&st->responses.n) : 0);
        kp_json_int(&j, "rxbytes", st->ready ? atomic_load(&st->in_bytes.sum) : 0);
        kp_json_int(&j, "connects", (int64_t)st->connects);
        kp_json_int(&j, "disconnects", (int64_t)st->disconnects);
        json_window(&j, "int_latency", st->ready ? &st->queue_time : NULL);
        json_window(&j, "rtt", st->ready ? &st->latency : NULL);
        kp_json_obj_end(&j);
    }
    kp_json_obj_end(&j);

    kp_json_obj(&j, "topics");
    for (size_t i = 0; i < nt; i++) {
        kp_topic_t *t = ts[i];
        kp_json_obj(&j, t->name);
        kp_json_str(&j, "topic", t->name);
        json_partitions(&j, p, t);
        kp_json_obj_end(&j);
    }
    kp_json_obj_end(&j);

    kp_json_obj(&j, "eos");
    kp_json_str(&j, "idemp_state", idemp_state_name(p));
    if (p->txn.enabled)
        kp_json_str(&j, "txn_state", kp_txn_state_name(p));
    kp_json_int(&j, "producer_id", p->idem.pid);
    kp_json_int(&j, "producer_epoch", p->idem.epoch);
    kp_json_obj_end(&j);
    kp_json_obj_end(&j);
    pthread_mutex_unlock(&m->lock);
    size_t len;
    const char *doc = kp_json_done(&j, &len);
    char *copy = doc ? kp_strndup(doc, len) : NULL;
    kp_json_free(&j);
    return copy;
}

/* ---------------------------------------------------------------- the I/O thread's turn */

void kp_metrics_service(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_metrics_state_t *m = p->metrics;
    if (now >= m->next_roll) {
        roll_all(p, now);
        while (m->next_roll <= now)
            m->next_roll += m->window_ms;
    }
    *next = MIN(*next, m->next_roll);
    snap_req_t *reqs = NULL;
    if (atomic_load_explicit(&m->nreqs, memory_order_relaxed)) { /* (no lock every turn) */
        pthread_mutex_lock(&m->lock);
        reqs = m->reqs;
        m->reqs = NULL;
        atomic_store(&m->nreqs, 0);
        pthread_mutex_unlock(&m->lock);
    }
    while (reqs) {
        snap_req_t *r = reqs;
        reqs = r->next;
        kp_metrics_t *s = r->json ? NULL : build(p, now);
        char *doc = r->json ? kp_metrics_json(p, now) : NULL;
        pthread_mutex_lock(&m->lock);
        r->result = s;
        r->doc = doc;
        r->done = 1;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
    }
    if (m->next_stats && now >= m->next_stats) {
        char *doc = kp_metrics_json(p, now);
        if (doc)
            p->conf.stats_cb(doc, strlen(doc), p->conf.stats_opaque);
        free(doc);
        while (m->next_stats <= now)
            m->next_stats += p->conf.statistics_interval_ms;
    }
    if (m->next_stats)
        *next = MIN(*next, m->next_stats);
}

void kp_metrics_io_stopped(kp_producer_t *p) {
    kp_metrics_state_t *m = p->metrics;
    pthread_mutex_lock(&m->lock);
    m->io_stopped = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

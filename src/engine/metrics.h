/*
 * metrics — the producer's measures (issue 15): the Java producer's
 * metrics (groups producer-metrics, producer-topic-metrics,
 * producer-node-metrics, with Java's names, windows and units),
 * percentiles beyond Java's, and librdkafka's statistics JSON.
 *
 * Recording: the engine bumps kp_stat_t counters (base/stat.h) where the
 * thing happens — per batch and per request on the I/O thread (no lock,
 * no allocation, nothing per record on the send path), per wait on an
 * application thread (atomic adds: buffer waits, flush, metadata waits,
 * transactional calls); the connections keep their own (net/conn.h's
 * kp_node_stats_t).
 *
 * Reading: everything is read on the I/O thread, which owns the brokers,
 * partitions and windows: kp_metrics_snapshot() asks it for a snapshot
 * and waits (a loop turn); the statistics JSON is built there only when
 * statistics.interval.ms is due. Once the I/O thread has stopped (after
 * close) the caller reads directly. Windows (metrics.sample.window.ms x
 * metrics.num.samples) roll on the I/O thread.
 *
 * metrics.recording.level: INFO records everything Java records at INFO
 * (all of the producer's metrics); DEBUG and TRACE add the per-broker
 * latency histograms (producer-node-metrics' request-latency-p*).
 */
#ifndef KP_METRICS_H
#define KP_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "base/stat.h"
#include "kprod/kprod.h"

/* producer-wide statistics */
enum kp_mstat {
    KP_M_RECORD_SEND,    /* records sent (weight), per batch sent, retries too (as Java) */
    KP_M_RECORD_ERROR,   /* records failed (weight) */
    KP_M_RECORD_RETRY,   /* records retried (weight) */
    KP_M_ERR_NOT_PERSISTED,      /* records failed, never written (weight) */
    KP_M_ERR_MAYBE_PERSISTED,    /* records failed, possibly written (weight) */
    KP_M_REQUEST_LATENCY, /* us per Produce answer (histogram) */
    KP_M_QUEUE_TIME,     /* us a batch waited from its first record to its send (histogram) */
    KP_M_ACK_TIME,       /* us from a batch's first record to its acknowledgement, weight
                          * records (histogram) */
    KP_M_BATCH_SIZE,     /* bytes per batch sent */
    KP_M_RECORDS_PER_REQUEST,
    KP_M_RECORD_SIZE,    /* the largest record of each batch sent (Java's record-size) */
    KP_M_COMPRESSION,    /* compressed/uncompressed size per batch, x 1e6 */
    KP_M_THROTTLE,       /* ms per Produce answer */
    KP_M_BATCH_SPLIT,    /* batches split (MESSAGE_TOO_LARGE) */
    /* application threads */
    KP_M_BUFFER_EXHAUSTED, /* sends failed for buffer.memory */
    KP_M_BUFFER_WAIT,      /* ns waited for buffer.memory */
    KP_M_FLUSH_TIME,       /* ns in flush */
    KP_M_METADATA_WAIT,    /* ns sends waited for metadata */
    KP_M_TXN_INIT,         /* ns in each transactional call */
    KP_M_TXN_BEGIN,
    KP_M_TXN_OFFSETS,
    KP_M_TXN_COMMIT,
    KP_M_TXN_ABORT,
    KP_M_COUNT
};

/* per topic */
enum kp_tstat {
    KP_T_RECORD_SEND, /* records (weight) */
    KP_T_BYTES,       /* bytes of batches sent */
    KP_T_COMPRESSION, /* x 1e6 */
    KP_T_RECORD_ERROR,
    KP_T_RECORD_RETRY,
    KP_T_COUNT
};

typedef struct kp_topic_stats {
    kp_stat_t s[KP_T_COUNT];
} kp_topic_stats_t;

typedef struct kp_producer kp_producer_t;
struct kp_topic;
struct kp_conn;
struct kp_batch;

typedef struct kp_metrics_state kp_metrics_state_t;

/* Set up / free (with the producer). */
kp_metrics_state_t *kp_metrics_new(const kp_producer_t *p, int64_t now);
void kp_metrics_free(kp_metrics_state_t *m);
/* A statistic of the producer, for kp_stat_add / kp_stat_add_mt. */
kp_stat_t *kp_mstat(kp_producer_t *p, enum kp_mstat which);
/* A topic's statistics, set up on first use (I/O thread); NULL when memory
 * ran out (then nothing is recorded for it). */
kp_topic_stats_t *kp_topic_stats(kp_producer_t *p, struct kp_topic *t);
void kp_topic_stats_free(kp_topic_stats_t *ts);
/* The engine's hooks (I/O thread): a Produce request with these batches
 * was built for c; its answer came (throttle from it); a batch goes back
 * for a retry; a batch completed (err 0: acknowledged). */
void kp_metrics_request_sent(kp_producer_t *p, struct kp_conn *c, struct kp_batch **bs, int n,
                             int64_t now);
void kp_metrics_response(kp_producer_t *p, int64_t written_us, int32_t throttle_ms);
void kp_metrics_retry(kp_producer_t *p, struct kp_batch *b);
void kp_metrics_batch_done(kp_producer_t *p, struct kp_batch *b, kp_err_t err,
                           kp_persisted_t persisted);
/* I/O thread, once a loop turn: roll the windows when due, answer a
 * snapshot asked for, emit the statistics JSON when due; *next lowered. */
void kp_metrics_service(kp_producer_t *p, int64_t now, int64_t *next);
/* The I/O thread has stopped: snapshots are built by their caller. */
void kp_metrics_io_stopped(kp_producer_t *p);
/* A snapshot of every metric, built on the I/O thread (this thread waits a
 * loop turn), or here once it stopped; NULL when memory ran out. */
kp_metrics_t *kp_metrics_take(kp_producer_t *p);
/* The statistics JSON now (I/O thread, or after it stopped); malloc'd. */
char *kp_metrics_json(kp_producer_t *p, int64_t now);
/* The same from any thread (asks the I/O thread as kp_metrics_take). */
char *kp_metrics_take_json(kp_producer_t *p);
/* The definitions table, for the docs generator: how many, and each. */
size_t kp_metric_defs(void);
void kp_metric_def(size_t i, const char **group, const char **name, const char **tags,
                   const char **description);

#endif

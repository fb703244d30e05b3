/*
 * test_txn_faults — the transactional producer under faults, against
 * librdkafka 2.15.1's mock cluster (its limits: test_transactions.c): the
 * coordinator moving (NOT_COORDINATOR), CONCURRENT_TRANSACTIONS on
 * AddPartitionsToTxn, a loading coordinator, EndTxn answered late (the
 * commit times out and the same call resumes it), a broker down in the
 * middle of a commit, and a record failing inside a transaction.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common.h"
#include "rawfetch.h"

#define API_PRODUCE 0
#define API_FIND_COORDINATOR 10
#define API_INIT_PRODUCER_ID 22
#define API_ADD_PARTITIONS 24
#define API_END_TXN 26

static kp_producer_t *txn_producer(mockcluster_t *mc, const char *id, const char *backoff) {
    return make_producer(mockcluster_bootstraps(mc), "transactional.id", id, "linger.ms", "60000",
                         "retry.backoff.ms", backoff, "retry.backoff.max.ms", backoff, NULL);
}

static void send_parts(kp_producer_t *p, const char *topic, int nparts, int n, tracker_t *t,
                       slot_ref_t *refs, int first) {
    for (int i = first; i < first + n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        kp_record_t r = rec_str(topic, key, key);
        r.partition = i % nparts;
        refs[i] = (slot_ref_t){t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
}

/* The broker the last request of api went to (tracking on), -1: none. */
static int32_t last_broker_of(mockcluster_t *mc, int api) {
    static int16_t keys[65536];
    static int32_t brokers[65536];
    size_t n = mockcluster_request_keys(mc, keys, brokers, 65536);
    for (size_t i = n; i-- > 0;)
        if (keys[i] == api)
            return brokers[i];
    return -1;
}

/* COMMIT and ABORT markers in a partition's log, its records and their
 * last epoch (rawfetch_txn_summary) */
static void markers(mockcluster_t *mc, const char *topic, int32_t part, int *commits, int *aborts,
                    int *records, int16_t *last_epoch) {
    rawfetch_txn_t s;
    if (rawfetch_txn_summary(mockcluster_bootstraps(mc), topic, part, &s))
        FAIL("rawfetch");
    *commits = s.commits;
    *aborts = s.aborts;
    *records = s.data_records;
    *last_epoch = s.epoch_last;
}

static void test_txn_coordinator_moves(void) {
    const char *topic = "tf1";
    mockcluster_t *mc = mockcluster_start(3, topic, 3);
    CHECK_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    kp_producer_t *p = txn_producer(mc, "tf-move", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    int32_t coord = last_broker_of(mc, API_INIT_PRODUCER_ID);
    CHECK(coord >= 1);
    tracker_t t;
    tracker_init(&t, 30);
    slot_ref_t refs[30];
    CHECK_OK(kp_begin_transaction(p));
    send_parts(p, topic, 3, 15, &t, refs, 0);
    CHECK_OK(kp_flush(p, 10000));
    /* the coordinator moves: the old one answers NOT_COORDINATOR */
    int32_t moved = coord % 3 + 1;
    CHECK_EQ_INT(rd_kafka_mock_coordinator_set(mockcluster_handle(mc), "transaction", "tf-move",
                                               moved), 0);
    int finds = mockcluster_request_count(mc, API_FIND_COORDINATOR, -1);
    CHECK_OK(kp_commit_transaction(p, 10000));
    CHECK_GT_INT(mockcluster_request_count(mc, API_FIND_COORDINATOR, -1), finds);
    CHECK_EQ_INT(last_broker_of(mc, API_END_TXN), moved);
    CHECK_GE_INT(mockcluster_request_count(mc, API_END_TXN, coord), 1);
    /* and the next transaction goes to the new one from the start */
    CHECK_OK(kp_begin_transaction(p));
    send_parts(p, topic, 3, 15, &t, refs, 15);
    CHECK_OK(kp_commit_transaction(p, 10000));
    CHECK_EQ_INT(last_broker_of(mc, API_ADD_PARTITIONS), moved);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_producer_destroy(p);
    for (int32_t part = 0; part < 3; part++) {
        int c, a, r;
        int16_t e;
        markers(mc, topic, part, &c, &a, &r, &e);
        CHECK_EQ_INT(c, 2);
        CHECK_EQ_INT(a, 0);
        CHECK_EQ_INT(r, 10);
    }
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* CONCURRENT_TRANSACTIONS on AddPartitionsToTxn is retried after 20 ms,
 * not retry.backoff.ms (here 2 s): three of them cost well under one
 * retry.backoff.ms. */
static void test_txn_concurrent_transactions(void) {
    const char *topic = "tf2";
    mockcluster_t *mc = mockcluster_start(1, topic, 2);
    CHECK_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    kp_producer_t *p = txn_producer(mc, "tf-conc", "2000");
    CHECK_OK(kp_init_transactions(p, 10000));
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), API_ADD_PARTITIONS, 3,
                                      RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                      RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                      RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
    tracker_t t;
    tracker_init(&t, 10);
    slot_ref_t refs[10];
    CHECK_OK(kp_begin_transaction(p));
    int64_t t0 = test_now_ms();
    send_parts(p, topic, 2, 10, &t, refs, 0);
    CHECK_OK(kp_commit_transaction(p, 10000));
    int64_t took = test_now_ms() - t0;
    CHECK_EQ_INT(mockcluster_request_count(mc, API_ADD_PARTITIONS, -1), 4);
    CHECK_LT_INT(took, 2000);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_producer_destroy(p);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* A coordinator that is loading, or not available: InitProducerId and
 * FindCoordinator are retried inside init_transactions. */
static void test_txn_coordinator_loading(void) {
    const char *topic = "tf3";
    mockcluster_t *mc = mockcluster_start(3, topic, 1);
    CHECK_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), API_FIND_COORDINATOR, 1,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), API_INIT_PRODUCER_ID, 2,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    kp_producer_t *p = txn_producer(mc, "tf-load", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_EQ_INT(mockcluster_request_count(mc, API_INIT_PRODUCER_ID, -1), 3);
    /* NOT_COORDINATOR: found again (the first, refused, the second) */
    CHECK_EQ_INT(mockcluster_request_count(mc, API_FIND_COORDINATOR, -1), 3);
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r = rec_str(topic, "a", "b");
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

/* EndTxn answered after 2 s: commit(300 ms) times out, the producer is
 * still committing (another call is refused), and commit again finishes
 * the same EndTxn — not a second one. */
static void test_txn_endtxn_timeout_resumed(void) {
    const char *topic = "tf4";
    mockcluster_t *mc = mockcluster_start(1, topic, 1);
    CHECK_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    kp_producer_t *p = txn_producer(mc, "tf-slow", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r = rec_str(topic, "a", "b");
    tracker_t t;
    tracker_init(&t, 1);
    slot_ref_t ref = {&t, 0};
    CHECK_OK(kp_send(p, &r, tracker_cb, &ref));
    CHECK_EQ_INT(rd_kafka_mock_broker_push_request_error_rtts(mockcluster_handle(mc), 1,
                                                              API_END_TXN, 1,
                                                              RD_KAFKA_RESP_ERR_NO_ERROR, 2000),
                 0);
    CHECK_EQ_ERR(kp_commit_transaction(p, 300), KP_ERR_TIMED_OUT);
    CHECK_EQ_INT(kp_err_class(KP_ERR_TIMED_OUT), KP_ERR_CLASS_RETRIABLE);
    CHECK_EQ_ERR(kp_abort_transaction(p, 100), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_begin_transaction(p), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_TXN_STATE);
    CHECK_OK(kp_commit_transaction(p, 10000));
    CHECK_EQ_INT(mockcluster_request_count(mc, API_END_TXN, -1), 1);
    CHECK_EQ_INT(atomic_load(&t.done), 1);
    CHECK_EQ_INT(t.d[0].err, KP_OK);
    /* the producer goes on */
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(kp_send(p, &r, NULL, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);
    int c, a, n;
    int16_t e;
    markers(mc, topic, 0, &c, &a, &n, &e);
    CHECK_EQ_INT(c, 2);
    CHECK_EQ_INT(n, 2);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* The leader of a partition goes down with the transaction's records
 * queued: commit times out; once it is back, the same commit finishes and
 * every record is written once, committed. */
static void test_txn_broker_down_mid_commit(void) {
    const char *topic = "tf5";
    mockcluster_t *mc = mockcluster_start(2, topic, 2);
    CHECK_NOT_NULL(mc);
    rd_kafka_mock_cluster_t *mh = mockcluster_handle(mc);
    rd_kafka_mock_coordinator_set(mh, "transaction", "tf-down", 1);
    rd_kafka_mock_partition_set_leader(mh, topic, 0, 1);
    rd_kafka_mock_partition_set_leader(mh, topic, 1, 2);
    kp_producer_t *p = txn_producer(mc, "tf-down", "50");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    tracker_t t;
    tracker_init(&t, 40);
    slot_ref_t refs[40];
    send_parts(p, topic, 2, 20, &t, refs, 0);
    CHECK_OK(kp_flush(p, 10000));
    send_parts(p, topic, 2, 20, &t, refs, 20);
    rd_kafka_mock_broker_set_down(mh, 2);
    CHECK_EQ_ERR(kp_commit_transaction(p, 500), KP_ERR_TIMED_OUT);
    CHECK_LT_INT(atomic_load(&t.done), 40);
    rd_kafka_mock_broker_set_up(mh, 2);
    CHECK_OK(kp_commit_transaction(p, 20000));
    CHECK_EQ_INT(atomic_load(&t.done), 40);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_producer_destroy(p);
    for (int32_t part = 0; part < 2; part++) {
        int c, a, n;
        int16_t e;
        markers(mc, topic, part, &c, &a, &n, &e);
        CHECK_EQ_INT(c, 1);
        CHECK_EQ_INT(a, 0);
        CHECK_EQ_INT(n, 20);
    }
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* A record fails inside a transaction (the broker refuses its batch for
 * good): commit says abortable with the cause, sends say so too, abort
 * works (with a new epoch: the failed batch left a sequence gap), and the
 * next transaction commits. */
static void test_txn_record_fails(void) {
    const char *topic = "tf6";
    mockcluster_t *mc = mockcluster_start(1, topic, 2);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = txn_producer(mc, "tf-fail", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    rd_kafka_mock_partition_push_request_errors(mockcluster_handle(mc), topic, 0, API_PRODUCE, 1,
                                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    tracker_t t;
    tracker_init(&t, 20);
    slot_ref_t refs[20];
    send_parts(p, topic, 2, 10, &t, refs, 0);
    kp_err_t e = kp_commit_transaction(p, 10000);
    CHECK_EQ_ERR(e, KP_ERR_TXN_ABORTABLE);
    CHECK_EQ_INT(kp_err_class(e), KP_ERR_CLASS_ABORTABLE);
    CHECK_EQ_ERR(kp_txn_error(p), (kp_err_t)RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    for (int i = 0; i < 10; i += 2)
        CHECK_EQ_ERR(t.d[i].err, (kp_err_t)RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    kp_record_t r = rec_str(topic, "x", "y");
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_TXN_ABORTABLE);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    send_parts(p, topic, 2, 10, &t, refs, 10);
    CHECK_OK(kp_commit_transaction(p, 10000));
    for (int i = 10; i < 20; i++)
        CHECK_OK(t.d[i].err);
    kp_producer_destroy(p);
    /* partition 1: the first transaction's records if they were sent
     * before partition 0's failure made the transaction abortable (then an
     * ABORT marker), else none (they failed _TXN_ABORTED, unsent); then the
     * second's under a new epoch, COMMIT; partition 0: only the second's */
    int sent1 = 0;
    for (int i = 1; i < 10; i += 2) {
        sent1 += t.d[i].err == KP_OK;
        if (t.d[i].err != KP_OK) {
            CHECK_EQ_ERR(t.d[i].err, KP_ERR_TXN_ABORTED);
            CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
        }
    }
    int c, a, n;
    int16_t ep;
    markers(mc, topic, 1, &c, &a, &n, &ep);
    CHECK_EQ_INT(a, sent1 > 0);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(n, 5 + sent1);
    CHECK_EQ_INT(ep, 1);
    markers(mc, topic, 0, &c, &a, &n, &ep);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(ep, 1);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* A Produce answer's INVALID_PRODUCER_EPOCH (what a broker says once the
 * coordinator aborted the transaction on timeout, KIP-588) is abortable,
 * not fatal: abort takes a new epoch and the producer goes on, as Java. */
static void test_txn_produce_epoch_abortable(void) {
    const char *topic = "tf7";
    mockcluster_t *mc = mockcluster_start(1, topic, 1);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = txn_producer(mc, "tf-epoch", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
    kp_record_t r = rec_str(topic, "a", "b");
    CHECK_EQ_ERR(kp_send_sync(p, &r, 10000, NULL), (kp_err_t)47);
    CHECK_EQ_ERR(kp_commit_transaction(p, 10000), KP_ERR_TXN_ABORTABLE);
    CHECK_EQ_ERR(kp_txn_error(p), (kp_err_t)47);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_EQ_ERR(kp_txn_error(p), KP_OK); /* cleared once the abort completed */
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);
    int c, a, n;
    int16_t e;
    markers(mc, topic, 0, &c, &a, &n, &e);
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(e, 1); /* the new epoch */
    mockcluster_destroy(mc);
}

/* Close with a transaction open aborts it (as Java's close): the records
 * it wrote get an ABORT marker. */
static void test_txn_close_aborts_open_transaction(void) {
    const char *topic = "tf8";
    mockcluster_t *mc = mockcluster_start(1, topic, 1);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = txn_producer(mc, "tf-close", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r = rec_str(topic, "a", "b");
    CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    int c, a, n;
    int16_t e;
    markers(mc, topic, 0, &c, &a, &n, &e);
    CHECK_EQ_INT(a, 1);
    CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(n, 1);
    mockcluster_destroy(mc);
}

/* A commit waiting without a deadline (its partition's leader down) when
 * the producer is closed with a timeout: the call returns KP_ERR_CLOSED,
 * it does not wait forever. */
typedef struct waiting_call {
    kp_producer_t *p;
    _Atomic int done;
    kp_err_t err;
} waiting_call_t;

static void *commit_forever(void *arg) {
    waiting_call_t *w = arg;
    w->err = kp_commit_transaction(w->p, -1);
    atomic_store(&w->done, 1);
    return NULL;
}

static int is_done(void *arg) { return atomic_load(&((waiting_call_t *)arg)->done); }

static void test_txn_close_ends_waiting_call(void) {
    const char *topic = "tf9";
    mockcluster_t *mc = mockcluster_start(1, topic, 1);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = txn_producer(mc, "tf-wait", "20");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r = rec_str(topic, "a", "b");
    CHECK_OK(kp_send(p, &r, NULL, NULL));
    rd_kafka_mock_broker_set_down(mockcluster_handle(mc), 1);
    waiting_call_t w = {p, 0, KP_OK};
    pthread_t th;
    pthread_create(&th, NULL, commit_forever, &w);
    CHECK_EQ_ERR(kp_close(p, 500), KP_ERR_TIMED_OUT);
    CHECK(wait_until(is_done, &w, 10000));
    pthread_join(th, NULL);
    CHECK_EQ_ERR(w.err, KP_ERR_CLOSED);
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_txn_close_aborts_open_transaction), TEST(test_txn_close_ends_waiting_call),
          TEST(test_txn_produce_epoch_abortable), TEST(test_txn_coordinator_moves), TEST(test_txn_concurrent_transactions),
          TEST(test_txn_coordinator_loading), TEST(test_txn_endtxn_timeout_resumed),
          TEST(test_txn_broker_down_mid_commit), TEST(test_txn_record_fails))

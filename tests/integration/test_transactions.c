/*
 * test_transactions — the transactional producer (issue 14) against
 * librdkafka 2.15.1's mock cluster, a peer we did not write: the request
 * sequence it tracked, and its partition logs read back raw (batches with
 * the transactional bit, producer id and epoch, and a COMMIT or ABORT
 * marker after them on every partition a transaction touched).
 *
 * The mock's limits, which these tests lean on or step around: it offers
 * the v1 flow only (AddPartitionsToTxn v0-1, EndTxn v0-1, no finalized
 * features: no transactions v2), never fences a second producer with the
 * same transactional id, ignores the transaction timeout and the isolation
 * level of a classic Fetch, writes control batches with CRC 0, does not
 * store TxnOffsetCommit's offsets, and checks sequence numbers only for
 * transactional producers (which is what the seeded run uses). What it
 * cannot show, test_txn_fakebroker shows against tests/support's fake
 * broker.
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
#define API_ADD_OFFSETS 25
#define API_END_TXN 26
#define API_TXN_OFFSET_COMMIT 28

static kp_producer_t *txn_producer(mockcluster_t *mc, const char *id, const char *linger) {
    return make_producer(mockcluster_bootstraps(mc), "transactional.id", id, "linger.ms", linger,
                         "retry.backoff.ms", "20", NULL);
}

static kp_record_t rec_part(const char *topic, int32_t part, const char *key, const char *val) {
    kp_record_t r = rec_str(topic, key, val);
    r.partition = part;
    return r;
}

/* Send n records round-robin over nparts partitions, each with a tracker
 * slot from first. */
static void send_n(kp_producer_t *p, const char *topic, int nparts, tracker_t *t, slot_ref_t *refs,
                   size_t first, size_t n) {
    for (size_t i = first; i < first + n; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "k%zu", i);
        snprintf(val, sizeof(val), "v%zu", i);
        refs[i] = (slot_ref_t){t, i};
        kp_record_t r = rec_part(topic, (int32_t)(i % (size_t)nparts), key, val);
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
}

/* A partition's markers, data batches and anything a transactional log
 * must not hold (rawfetch_txn_summary). */
static rawfetch_txn_t read_part(mockcluster_t *mc, const char *topic, int32_t part) {
    rawfetch_txn_t pl;
    if (rawfetch_txn_summary(mockcluster_bootstraps(mc), topic, part, &pl))
        FAIL("rawfetch %s [%d]", topic, part);
    return pl;
}

/* Index of the first request of api in keys[0..n), from `from`; -1. */
static int first_of(const int16_t *keys, size_t n, int api, size_t from) {
    for (size_t i = from; i < n; i++)
        if (keys[i] == api)
            return (int)i;
    return -1;
}

static void test_txn_commit_then_abort(void) {
    const char *topic = "txn1";
    mockcluster_t *mc = mockcluster_start(3, topic, 4);
    CHECK_NOT_NULL(mc);
    mockcluster_track_requests(mc);
    /* linger.ms of a minute: commit flushes, abort finds records unsent */
    kp_producer_t *p = txn_producer(mc, "txn-one", "60000");
    CHECK_NOT_NULL(p);
    /* a send before init_transactions / begin is refused, nothing queued */
    kp_record_t r0 = rec_part(topic, 0, "x", "y");
    CHECK_EQ_ERR(kp_send(p, &r0, NULL, NULL), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_begin_transaction(p), KP_ERR_TXN_STATE);
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_EQ_ERR(kp_send(p, &r0, NULL, NULL), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_commit_transaction(p, 1000), KP_ERR_TXN_STATE);

    tracker_t t;
    tracker_init(&t, 60);
    slot_ref_t refs[60];
    CHECK_OK(kp_begin_transaction(p));
    send_n(p, topic, 4, &t, refs, 0, 40);
    CHECK_OK(kp_commit_transaction(p, 10000));
    /* commit flushed: every record completed, and well */
    CHECK_EQ_INT(atomic_load(&t.done), 40);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);

    /* the second: lingering records are aborted before they are sent */
    CHECK_OK(kp_begin_transaction(p));
    send_n(p, topic, 4, &t, refs, 40, 20);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_EQ_INT(atomic_load(&t.done), 60);
    for (size_t i = 40; i < 60; i++) {
        CHECK_EQ_ERR(t.d[i].err, KP_ERR_TXN_ABORTED);
        CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
    }
    /* and the producer goes on: a third transaction commits */
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t r1 = rec_part(topic, 1, "after", "abort");
    CHECK_OK(kp_send(p, &r1, NULL, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);

    /* the sequence the mock saw */
    int16_t keys[4096];
    size_t nk = mockcluster_request_keys(mc, keys, NULL, 4096);
    int fc = first_of(keys, nk, API_FIND_COORDINATOR, 0);
    int ip = first_of(keys, nk, API_INIT_PRODUCER_ID, 0);
    int ap = first_of(keys, nk, API_ADD_PARTITIONS, 0);
    int pr = first_of(keys, nk, API_PRODUCE, 0);
    int et = first_of(keys, nk, API_END_TXN, 0);
    CHECK(fc >= 0 && ip > fc);
    CHECK(ap > ip);
    CHECK(pr > ap);
    CHECK(et > pr);
    /* every Produce of the first transaction is before its EndTxn */
    CHECK_EQ_INT(first_of(keys, (size_t)et, API_PRODUCE, (size_t)et), -1);
    for (int i = pr; i < et; i++)
        CHECK(keys[i] != API_END_TXN);
    /* three transactions: two EndTxn commits, and one abort if the aborted
     * one's partitions were added before the abort came (they are asked
     * for while records linger, as Java's maybeAddPartition at send) */
    int ends = mockcluster_request_count(mc, API_END_TXN, -1);
    CHECK(ends == 2 || ends == 3);
    mockcluster_stop_tracking(mc);

    /* the logs: 40 records in 4 partitions, transactional, one producer id,
     * a COMMIT marker after them; partition 1 also the third's record and
     * its marker */
    for (int32_t part = 0; part < 4; part++) {
        rawfetch_txn_t pl = read_part(mc, topic, part);
        CHECK_EQ_INT(pl.bad, 0);
        CHECK_EQ_INT(pl.aborts, 0);
        CHECK_EQ_INT(pl.commits, part == 1 ? 2 : 1);
        CHECK_EQ_INT(pl.data_records, part == 1 ? 11 : 10);
        CHECK(pl.pid >= 0);
    }
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* Records that were sent when the abort came: the mock has them, followed
 * by an ABORT marker on each partition; the next transaction's records
 * follow the marker and are committed. */
static void test_txn_abort_after_send(void) {
    const char *topic = "txn2";
    mockcluster_t *mc = mockcluster_start(1, topic, 2);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = txn_producer(mc, "txn-two", "0");
    CHECK_NOT_NULL(p);
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    tracker_t t;
    tracker_init(&t, 20);
    slot_ref_t refs[20];
    send_n(p, topic, 2, &t, refs, 0, 10);
    CHECK_OK(kp_flush(p, 10000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    send_n(p, topic, 2, &t, refs, 10, 10);
    CHECK_OK(kp_commit_transaction(p, 10000));
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    kp_producer_destroy(p);
    for (int32_t part = 0; part < 2; part++) {
        rawfetch_txn_t pl = read_part(mc, topic, part);
        CHECK_EQ_INT(pl.bad, 0);
        CHECK_EQ_INT(pl.aborts, 1);
        CHECK_EQ_INT(pl.commits, 1);
        CHECK_EQ_INT(pl.data_records, 10);
    }
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* A send that fails at once inside a transaction (a record too large)
 * leaves the transaction unable to commit whole: commit is abortable, as
 * Java's doSend makes it; abort and a new transaction work. */
static void test_txn_send_fails_at_once(void) {
    const char *topic = "txn3";
    mockcluster_t *mc = mockcluster_start(1, topic, 1);
    CHECK_NOT_NULL(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "transactional.id", "txn-3",
                                     "max.request.size", "1000", NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    kp_record_t ok = rec_part(topic, 0, "a", "small");
    CHECK_OK(kp_send(p, &ok, NULL, NULL));
    static char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    kp_record_t r = rec_part(topic, 0, "b", big);
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_RECORD_TOO_LARGE);
    CHECK_EQ_ERR(kp_commit_transaction(p, 10000), KP_ERR_TXN_ABORTABLE);
    CHECK_EQ_ERR(kp_txn_error(p), KP_ERR_RECORD_TOO_LARGE);
    CHECK_OK(kp_abort_transaction(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(kp_send(p, &ok, NULL, NULL));
    CHECK_OK(kp_commit_transaction(p, 10000));
    kp_producer_destroy(p);
    mockcluster_destroy(mc);
}

/* A transactional producer is idempotent: an explicit
 * enable.idempotence=false, or acks other than all, is a creation error
 * naming the properties; the calls on a producer without transactional.id
 * are refused. */
static void test_txn_config(void) {
    static const char *const bad[][4] = {
        {"enable.idempotence", "false", "enable.idempotence", "transactional.id"},
        {"acks", "1", "acks", "transactional.id"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        kp_config_t *c = kp_config_new();
        CHECK_OK(kp_config_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)));
        CHECK_OK(kp_config_set(c, "transactional.id", "x", err, sizeof(err)));
        CHECK_OK(kp_config_set(c, bad[i][0], bad[i][1], err, sizeof(err)));
        kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
        CHECK_NULL(p);
        CHECK(strstr(err, bad[i][2]) && strstr(err, bad[i][3]));
        kp_producer_destroy(p);
        kp_config_destroy(c);
    }
    char err[512];
    kp_config_t *c = kp_config_new();
    CHECK_OK(kp_config_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)));
    CHECK_EQ_ERR(kp_config_set(c, "transaction.timeout.ms", "0", err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_ERR(kp_init_transactions(p, 100), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_begin_transaction(p), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_commit_transaction(p, 100), KP_ERR_TXN_STATE);
    CHECK_EQ_ERR(kp_txn_error(p), KP_OK);
    CHECK_EQ_ERR(kp_init_transactions(NULL, 100), KP_ERR_INVALID_ARG);
    kp_producer_destroy(p);
    kp_config_destroy(c);
}

TEST_MAIN(TEST(test_txn_commit_then_abort), TEST(test_txn_abort_after_send),
          TEST(test_txn_send_fails_at_once), TEST(test_txn_config))

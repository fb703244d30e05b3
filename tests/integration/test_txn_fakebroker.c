/*
 * test_txn_fakebroker — the transactional producer against the fake broker
 * of tests/support, for what librdkafka 2.15.1's mock cannot show (it has
 * no zombie fencing, never aborts a transaction past its timeout, has no
 * transactions v2 and does not store TxnOffsetCommit's offsets):
 *   - a second producer with the same transactional.id fences the first:
 *     PRODUCER_FENCED, fatal, every later call returns it;
 *   - the broker aborts a transaction open past transaction.timeout.ms: the
 *     commit is abortable, the abort works (with a new epoch), the next
 *     transaction commits;
 *   - transactions v2 (transaction.version 2): no AddPartitionsToTxn,
 *     Produce v12, EndTxn v5 bumping the epoch each transaction, a new
 *     producer id when the epoch runs out; and without the feature, v11 and
 *     AddPartitionsToTxn although the broker offers Produce v12;
 *   - offsets committed with the consumer group's metadata, only when the
 *     transaction commits.
 * The fake broker serves one partition (0) of topic "t".
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fakebroker.h"
#include "base/kafka_codes.h"

#define TID "fb-txn"
#define API_PRODUCE 0
#define API_ADD_PARTITIONS 24
#define API_END_TXN 26

static kp_producer_t *producer_for(fake_broker_t *fb, const char *timeout_ms) {
    return make_producer(fb_bootstrap(fb), "transactional.id", TID, "transaction.timeout.ms",
                         timeout_ms, "linger.ms", "0", "retry.backoff.ms", "20", NULL);
}

static fake_broker_t *start(int16_t txn_version, int16_t start_epoch) {
    fb_options_t o = {0};
    o.transactions = 1;
    o.txn_version = txn_version;
    o.txn_start_epoch = start_epoch;
    return fb_start(&o);
}

static kp_err_t send_one(kp_producer_t *p, const char *v) {
    kp_record_t r = rec_str("t", "k", v);
    r.partition = 0;
    return kp_send_sync(p, &r, 10000, NULL);
}

/* The markers of the fake broker's log, in order: "C" commit, "A" abort,
 * "d" a transactional data batch; into buf. */
static void log_shape(fake_broker_t *fb, char *buf, size_t size, int16_t *last_epoch,
                      int64_t *last_pid) {
    fb_batch_info_t *bs;
    size_t n, k = 0;
    buf[0] = 0;
    if (fb_log_batches(fb, &bs, &n)) {
        FAIL("fb_log_batches");
        return;
    }
    for (size_t i = 0; i < n && k + 1 < size; i++) {
        if (bs[i].attributes & 0x20)
            buf[k++] = bs[i].marker == 1 ? 'C' : 'A';
        else
            buf[k++] = bs[i].attributes & 0x10 ? 'd' : '?';
        if (last_epoch && !(bs[i].attributes & 0x20)) {
            *last_epoch = bs[i].epoch;
            *last_pid = bs[i].pid;
        }
    }
    buf[k] = 0;
    free(bs);
}

static void test_txn_fenced_by_second_producer(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *a = producer_for(fb, "60000");
    CHECK_OK(kp_init_transactions(a, 10000));
    CHECK_OK(kp_begin_transaction(a));
    CHECK_OK(send_one(a, "from a"));
    /* b takes over the id: a's epoch is fenced, its open transaction aborted */
    kp_producer_t *b = producer_for(fb, "60000");
    CHECK_OK(kp_init_transactions(b, 10000));
    kp_err_t e = kp_commit_transaction(a, 10000);
    CHECK_EQ_ERR(e, KAFKA_PRODUCER_FENCED);
    CHECK_EQ_INT(kp_err_class(e), KP_ERR_CLASS_FATAL);
    CHECK_EQ_ERR(kp_txn_error(a), KAFKA_PRODUCER_FENCED);
    /* every later call says so */
    kp_record_t r = rec_str("t", "k", "v");
    CHECK_EQ_ERR(kp_send(a, &r, NULL, NULL), KAFKA_PRODUCER_FENCED);
    CHECK_EQ_ERR(kp_begin_transaction(a), KAFKA_PRODUCER_FENCED);
    CHECK_EQ_ERR(kp_abort_transaction(a, 1000), KAFKA_PRODUCER_FENCED);
    /* b carries on */
    CHECK_OK(kp_begin_transaction(b));
    CHECK_OK(send_one(b, "from b"));
    CHECK_OK(kp_commit_transaction(b, 10000));
    char shape[64];
    log_shape(fb, shape, sizeof(shape), NULL, NULL);
    CHECK_EQ_STR(shape, "dAdC");
    fb_stats_t st = fb_stats(fb);
    CHECK_GE_INT(st.fenced, 1);
    kp_producer_destroy(a);
    kp_producer_destroy(b);
    fb_stop(fb);
}

static int txn_timed_out(void *arg) {
    fb_stats_t st = fb_stats(arg);
    return st.txn_timeouts > 0;
}

static void test_txn_broker_aborts_on_timeout(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = producer_for(fb, "300");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(send_one(p, "too slow"));
    REQUIRE(wait_until(txn_timed_out, fb, 10000));
    kp_err_t e = kp_commit_transaction(p, 10000);
    CHECK_EQ_ERR(e, KP_ERR_TXN_ABORTABLE);
    CHECK_EQ_INT(kp_err_class(kp_txn_error(p)), KP_ERR_CLASS_ABORTABLE);
    CHECK_OK(kp_abort_transaction(p, 10000));
    fb_txn_info_t ti;
    REQUIRE_EQ_INT(fb_txn(fb, TID, &ti), 0);
    int16_t epoch_after_abort = ti.epoch;
    /* the next transaction commits, under the epoch the broker gave */
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(send_one(p, "in time"));
    CHECK_OK(kp_commit_transaction(p, 10000));
    char shape[64];
    int16_t ep = -1;
    int64_t pid = -1;
    log_shape(fb, shape, sizeof(shape), &ep, &pid);
    CHECK_EQ_STR(shape, "dAdC");
    CHECK_EQ_INT(ep, epoch_after_abort);
    CHECK_GE_INT(ep, 2); /* 0, the broker's bump, ours */
    kp_producer_destroy(p);
    fb_stop(fb);
}

static void test_txn_v2(void) {
    /* 32765: the second EndTxn v5 would need 32767, so a new producer id */
    fake_broker_t *fb = start(2, 32764);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = producer_for(fb, "60000");
    CHECK_OK(kp_init_transactions(p, 10000));
    for (int i = 0; i < 4; i++) {
        CHECK_OK(kp_begin_transaction(p));
        CHECK_OK(send_one(p, "v2"));
        CHECK_OK(kp_commit_transaction(p, 10000));
    }
    fb_stats_t st = fb_stats(fb);
    CHECK_EQ_INT(st.requests[API_ADD_PARTITIONS], 0);
    CHECK_EQ_INT(st.implicit_adds, 4);
    CHECK(st.versions[API_PRODUCE] & (1u << 12));
    CHECK_EQ_INT(st.versions[API_PRODUCE] & ~(1u << 12), 0);
    CHECK(st.versions[API_END_TXN] & (1u << 5));
    CHECK_EQ_INT(st.txn_commits, 4);
    /* each transaction under its own epoch; the epoch ran out once */
    fb_batch_info_t *bs;
    size_t n;
    REQUIRE_EQ_INT(fb_log_batches(fb, &bs, &n), 0);
    CHECK_EQ_INT((int)n, 8);
    int64_t pids[4];
    int16_t epochs[4];
    for (size_t i = 0, k = 0; i < n && k < 4; i++)
        if (!(bs[i].attributes & 0x20)) {
            pids[k] = bs[i].pid;
            epochs[k++] = bs[i].epoch;
        }
    free(bs);
    CHECK_EQ_INT(epochs[0], 32764);
    CHECK_EQ_INT(epochs[1], 32765);
    CHECK_EQ_INT(epochs[2], 32766);
    CHECK(pids[3] != pids[2]);
    CHECK_EQ_INT(epochs[3], 0);
    kp_producer_destroy(p);
    fb_stop(fb);
}

/* The broker offers Produce v12 but not the feature: kprod goes by the
 * feature (franz-go #1017), with v11 and AddPartitionsToTxn. */
static void test_txn_v1_despite_produce_v12(void) {
    fake_broker_t *fb = start(1, 0);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = producer_for(fb, "60000");
    CHECK_OK(kp_init_transactions(p, 10000));
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(send_one(p, "v1"));
    CHECK_OK(kp_commit_transaction(p, 10000));
    fb_stats_t st = fb_stats(fb);
    CHECK_EQ_INT(st.requests[API_ADD_PARTITIONS], 1);
    CHECK_EQ_INT(st.not_in_txn, 0);
    CHECK_EQ_INT(st.versions[API_PRODUCE] & (1u << 12), 0);
    CHECK(st.versions[API_PRODUCE] & (1u << 11));
    CHECK_EQ_INT(st.versions[API_END_TXN] & (1u << 5), 0);
    kp_producer_destroy(p);
    fb_stop(fb);
}

static void test_txn_offsets_with_group_metadata(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    kp_producer_t *p = producer_for(fb, "60000");
    CHECK_OK(kp_init_transactions(p, 10000));
    kp_group_metadata_t gm = {"grp", 7, "member-1", "instance-1"};
    kp_offset_t offs[] = {{"in", 0, 42, 3, "meta"}};
    /* an aborted transaction commits nothing */
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(send_one(p, "x"));
    CHECK_OK(kp_send_offsets_to_transaction(p, offs, 1, &gm, 10000));
    CHECK_OK(kp_abort_transaction(p, 10000));
    int64_t off = -1;
    fb_group_meta_t got;
    CHECK(fb_committed_offset(fb, "grp", "in", 0, &off, &got) != 0);
    /* a committed one does, with the group's metadata */
    offs[0].offset = 43;
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(send_one(p, "y"));
    CHECK_OK(kp_send_offsets_to_transaction(p, offs, 1, &gm, 10000));
    CHECK_OK(kp_commit_transaction(p, 10000));
    REQUIRE_EQ_INT(fb_committed_offset(fb, "grp", "in", 0, &off, &got), 0);
    CHECK_EQ_INT((int)off, 43);
    CHECK_EQ_INT(got.generation_id, 7);
    CHECK_EQ_STR(got.member_id, "member-1");
    CHECK_EQ_STR(got.group_instance_id, "instance-1");
    CHECK_EQ_INT(got.has_group_instance_id, 1);
    CHECK_EQ_INT(got.leader_epoch, 3);
    CHECK_EQ_STR(got.metadata, "meta");
    CHECK_GE_INT(got.version, 3);
    /* an offsets-only transaction commits too */
    offs[0].offset = 50;
    CHECK_OK(kp_begin_transaction(p));
    CHECK_OK(kp_send_offsets_to_transaction(p, offs, 1, &gm, 10000));
    CHECK_OK(kp_commit_transaction(p, 10000));
    REQUIRE_EQ_INT(fb_committed_offset(fb, "grp", "in", 0, &off, &got), 0);
    CHECK_EQ_INT((int)off, 50);
    fb_stats_t st = fb_stats(fb);
    CHECK_GE_INT(st.coordinator_lookups[0], 1);
    kp_producer_destroy(p);
    fb_stop(fb);
}

TEST_MAIN(TEST(test_txn_fenced_by_second_producer), TEST(test_txn_broker_aborts_on_timeout),
          TEST(test_txn_v2), TEST(test_txn_v1_despite_produce_v12),
          TEST(test_txn_offsets_with_group_metadata))

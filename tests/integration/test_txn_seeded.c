/*
 * test_txn_seeded — a seeded run of 200,000 keyed records in transactions
 * of 1,000 (about one in ten aborted on purpose) through injected faults,
 * five batches in flight per partition, against librdkafka 2.15.1's mock
 * cluster; then the logs read back raw and checked record by record.
 *
 * The mock checks sequence numbers for transactional producers (not for
 * idempotent ones), so this is the check by a peer we did not write that
 * batches in flight behind a failed one are refused and resent in order:
 * a resend out of order would be refused, a lost one leave a gap, a
 * duplicate be stored twice.
 *
 * What is checked:
 *   - every record completes exactly once (the tracker fails otherwise);
 *   - a transaction whose commit succeeded has all its records delivered,
 *     each in a batch followed by a COMMIT marker, exactly once;
 *   - a record of an aborted transaction is never in a committed batch: it
 *     failed (KP_ERR_TXN_ABORTED and the like) or its batch is followed by
 *     an ABORT marker (delivered to the log, never visible to a
 *     read_committed consumer; the mock's classic Fetch ignores isolation,
 *     so the markers are read here instead);
 *   - the committed records of each partition are in send order;
 *   - every record reported with an offset is at that offset in the log.
 *
 * KPROD_FAULT_SEED chooses the seed; KPROD_TXN_RECORDS the record count
 * (a multiple of 1,000; 200,000 by default, 50,000 in the sanitizer
 * builds).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common.h"
#include "rawfetch.h"

#define PARTS 6
#define TXN_SIZE 1000
/* 200,000 records in the plain build; the sanitizer builds (5-15 times
 * slower) run the same schedule over 50,000, to keep the suite's time */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SEEDED_RECORDS 50000
#else
#define SEEDED_RECORDS 200000
#endif

enum { API_PRODUCE = 0, API_ADD_PARTITIONS = 24, API_END_TXN = 26, API_INIT_PID = 22 };

typedef struct run {
    mockcluster_t *mc;
    _Atomic int stop;
    unsigned seed;
    _Atomic int faults;
} run_t;

static unsigned rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Produce-level faults, on a schedule of their own; the transactional
 * APIs' faults are pushed by the main loop, one per transaction at most
 * (the mock answers pushed errors to the next requests of the API, and
 * there is one AddPartitionsToTxn and one EndTxn per transaction: faults
 * pushed faster than that would starve them). */
static void *faults(void *arg) {
    run_t *r = arg;
    rd_kafka_mock_cluster_t *mh = mockcluster_handle(r->mc);
    unsigned s = r->seed ^ 0x5eed;
    static const rd_kafka_resp_err_t errs[] = {
        RD_KAFKA_RESP_ERR_NOT_LEADER_OR_FOLLOWER, /* retriable, not written */
        RD_KAFKA_RESP_ERR__TRANSPORT,             /* the connection drops, requests in flight */
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,      /* possibly written */
    };
    while (!atomic_load(&r->stop)) {
        int32_t broker = (int32_t)(1 + rnd(&s) % 3);
        unsigned what = rnd(&s) % 4;
        size_t pending = 1;
        if (what == 3) {
            rd_kafka_mock_partition_set_leader(mh, "txs", (int32_t)(rnd(&s) % PARTS),
                                               (int32_t)(1 + rnd(&s) % 3));
            atomic_fetch_add(&r->faults, 1);
        } else if (!rd_kafka_mock_broker_error_stack_cnt(mh, broker, API_PRODUCE, &pending) &&
                   !pending) {
            /* one at a time per broker: faults faster than the producer
             * sends would starve it (a partition resending sends one
             * request at a time, with backoff) */
            rd_kafka_mock_broker_push_request_error_rtts(mh, broker, API_PRODUCE, 1, errs[what],
                                                         0);
            atomic_fetch_add(&r->faults, 1);
        }
        test_sleep_ms(10 + (int)(rnd(&s) % 30)); /* pacing the schedule, not synchronisation */
    }
    return NULL;
}

/* Before a transaction: maybe one fault for its AddPartitionsToTxn and one
 * for its EndTxn. */
static void txn_faults(run_t *r, unsigned *s) {
    rd_kafka_mock_cluster_t *mh = mockcluster_handle(r->mc);
    static const rd_kafka_resp_err_t add[] = {RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                              RD_KAFKA_RESP_ERR__TRANSPORT,
                                              RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS};
    static const rd_kafka_resp_err_t end[] = {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                              RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                              RD_KAFKA_RESP_ERR__TRANSPORT};
    if (rnd(s) % 4 == 0) {
        rd_kafka_mock_push_request_errors(mh, API_ADD_PARTITIONS, 1, add[rnd(s) % 3]);
        atomic_fetch_add(&r->faults, 1);
    }
    if (rnd(s) % 4 == 0) {
        rd_kafka_mock_push_request_errors(mh, API_END_TXN, 1, end[rnd(s) % 3]);
        atomic_fetch_add(&r->faults, 1);
    }
}

/* A partition's log as fates: for offsets [lo, hi), the marker that
 * follows (1 COMMIT, 0 ABORT, -1 none). */
typedef struct span {
    int64_t lo, hi;
    int fate;
} span_t;

static int fate_of(const span_t *sp, size_t n, int64_t off) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sp[mid].hi <= off)
            lo = mid + 1;
        else if (sp[mid].lo > off)
            hi = mid;
        else
            return sp[mid].fate;
    }
    return -2; /* not a data record */
}

static span_t *spans_of(const char *boot, int32_t part, size_t *n, long *data) {
    rawfetch_batch_t *b;
    size_t nb;
    *n = 0;
    if (rawfetch_partition(boot, "txs", part, &b, &nb)) {
        FAIL("rawfetch [%d]", part);
        return NULL;
    }
    span_t *sp = calloc(nb + 1, sizeof(*sp));
    for (size_t j = 0; j < nb; j++) {
        if (b[j].attributes & RAWFETCH_CONTROL) {
            /* the marker ends its producer's open batches */
            for (size_t k = *n; k-- > 0 && sp[k].fate == -1;)
                sp[k].fate = b[j].control_type == 1;
            continue;
        }
        if (!(b[j].attributes & RAWFETCH_TRANSACTIONAL))
            FAIL("[%d] offset %lld: a batch without the transactional bit", part,
                 (long long)b[j].base_offset);
        sp[(*n)++] = (span_t){b[j].base_offset, b[j].base_offset + b[j].record_count, -1};
        *data += b[j].record_count;
    }
    free(b);
    return sp;
}

static void test_txn_seeded_run(void) {
    const char *env = getenv("KPROD_FAULT_SEED");
    const char *nenv = getenv("KPROD_TXN_RECORDS");
    run_t r = {.seed = env ? (unsigned)strtoul(env, NULL, 10) : 14};
    int total = nenv ? atoi(nenv) : SEEDED_RECORDS;
    total -= total % TXN_SIZE;
    int ntxn = total / TXN_SIZE;
    r.mc = mockcluster_start(3, "txs", PARTS);
    REQUIRE_NOT_NULL(r.mc);
    const char *boot = mockcluster_bootstraps(r.mc);
    kp_producer_t *p = make_producer(
        boot, "transactional.id", "seeded", "linger.ms", "2", "batch.size", "2048",
        "max.in.flight.requests.per.connection", "5", "request.timeout.ms", "1000",
        "delivery.timeout.ms", "60000", "retry.backoff.ms", "5", "retry.backoff.max.ms", "100",
        "reconnect.backoff.ms", "5", "reconnect.backoff.max.ms", "100", NULL);
    REQUIRE_NOT_NULL(p);
    tracker_t t;
    tracker_init(&t, (size_t)total);
    slot_ref_t *refs = calloc((size_t)total, sizeof(*refs));
    int *txn_ok = calloc((size_t)ntxn, sizeof(int)); /* 1: committed */
    REQUIRE_OK(kp_init_transactions(p, 30000));
    pthread_t ft;
    pthread_create(&ft, NULL, faults, &r);
    unsigned s = r.seed;
    int aborted_on_purpose = 0, aborted_by_faults = 0, resumed = 0;
    char val[101];
    memset(val, 'v', sizeof(val));
    for (int x = 0; x < ntxn; x++) {
        txn_faults(&r, &s);
        REQUIRE_OK(kp_begin_transaction(p));
        kp_err_t e = KP_OK;
        for (int i = x * TXN_SIZE; i < (x + 1) * TXN_SIZE && !e; i++) {
            char key[16];
            snprintf(key, sizeof(key), "%07d", i);
            kp_record_t rec = rec_str("txs", key, NULL);
            rec.value = val;
            rec.value_len = 100;
            refs[i] = (slot_ref_t){&t, (size_t)i};
            e = kp_send(p, &rec, tracker_cb, &refs[i]);
            if (e) {
                /* the transaction became abortable under us: the rest are
                 * never sent (count them as completed by hand) */
                CHECK_EQ_ERR(e, KP_ERR_TXN_ABORTABLE);
                for (int k = i; k < (x + 1) * TXN_SIZE; k++) {
                    atomic_fetch_add(&t.d[k].calls, 1);
                    t.d[k].err = KP_ERR_TXN_ABORTED;
                    atomic_fetch_add(&t.done, 1);
                }
            }
        }
        int abort_now = e || rnd(&s) % 10 == 0;
        if (!abort_now) {
            while ((e = kp_commit_transaction(p, 5000)) == KP_ERR_TIMED_OUT)
                resumed++;
            if (e == KP_OK) {
                txn_ok[x] = 1;
                continue;
            }
            REQUIRE_EQ_INT(kp_err_class(e), KP_ERR_CLASS_ABORTABLE);
            aborted_by_faults++;
        } else {
            aborted_on_purpose += !e;
            aborted_by_faults += e != 0;
        }
        while ((e = kp_abort_transaction(p, 5000)) == KP_ERR_TIMED_OUT)
            resumed++;
        REQUIRE_OK(e);
    }
    atomic_store(&r.stop, 1);
    pthread_join(ft, NULL);
    CHECK(tracker_wait(&t, 60000));
    CHECK_OK(kp_close(p, 30000));
    kp_producer_destroy(p);

    /* the logs */
    span_t *sp[PARTS];
    size_t nsp[PARTS];
    long data = 0;
    for (int32_t part = 0; part < PARTS; part++)
        sp[part] = spans_of(boot, part, &nsp[part], &data);
    rb_record_t *recs;
    size_t n;
    /* (the mock writes its markers with CRC 0) */
    static const char *const rbconf[] = {"check.crcs", "false", NULL};
    CHECK_EQ_INT(readback_topic_conf(boot, "txs", (int)data, 120000, rbconf, &recs, &n), RB_OK);
    CHECK_EQ_INT((long)n, data);
    int *committed = calloc((size_t)total, sizeof(int));
    long open = 0, foreign = 0, reordered = 0, dup = 0;
    long last[PARTS];
    for (int i = 0; i < PARTS; i++)
        last[i] = -1;
    /* (partition, offset) -> index, for the completions' check */
    for (size_t j = 0; j < n; j++) {
        int32_t part = recs[j].partition;
        int f = part >= 0 && part < PARTS ? fate_of(sp[part], nsp[part], recs[j].offset) : -2;
        char *end;
        long i = recs[j].key ? strtol(recs[j].key, &end, 10) : -1;
        if (i < 0 || i >= total || f == -2) {
            foreign++;
            continue;
        }
        if (f == -1)
            open++;
        if (f != 1)
            continue;
        if (committed[i]++)
            dup++;
        if (i < last[part])
            reordered++;
        last[part] = i;
    }
    long lost = 0, leaked = 0, mismatched = 0, delivered_aborted = 0, failed_committed = 0;
    for (int i = 0; i < total; i++) {
        delivery_t *d = &t.d[i];
        CHECK_EQ_INT(atomic_load(&d->calls), 1);
        if (txn_ok[i / TXN_SIZE]) {
            failed_committed += d->err != KP_OK;
            lost += committed[i] != 1;
        } else {
            leaked += committed[i] != 0;
            delivered_aborted += d->err == KP_OK;
        }
        if (d->err == KP_OK && d->offset >= 0) {
            /* the record at that offset is this one */
            const rb_record_t *hit = NULL;
            size_t lo = 0, hi = n;
            while (lo < hi) { /* recs sorted by partition, offset */
                size_t mid = (lo + hi) / 2;
                if (recs[mid].partition < d->partition ||
                    (recs[mid].partition == d->partition && recs[mid].offset < d->offset))
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < n && recs[lo].partition == d->partition && recs[lo].offset == d->offset)
                hit = &recs[lo];
            if (!hit || strtol(hit->key, NULL, 10) != i)
                mismatched++;
        }
    }
    int committed_txns = 0;
    for (int x = 0; x < ntxn; x++)
        committed_txns += txn_ok[x];
    printf("seed=%u records=%d transactions=%d committed=%d aborted on purpose=%d by faults=%d "
           "calls resumed=%d faults=%d stored=%ld\n",
           r.seed, total, ntxn, committed_txns, aborted_on_purpose, aborted_by_faults, resumed,
           atomic_load(&r.faults), data);
    printf("  lost=%ld duplicated=%ld reordered=%ld leaked-from-aborted=%ld open=%ld "
           "foreign=%ld offset-mismatch=%ld failed-in-committed=%ld "
           "acked-in-aborted (behind an ABORT marker)=%ld\n",
           lost, dup, reordered, leaked, open, foreign, mismatched, failed_committed,
           delivered_aborted);
    CHECK_EQ_INT(lost, 0);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(reordered, 0);
    CHECK_EQ_INT(leaked, 0);
    CHECK_EQ_INT(open, 0);
    CHECK_EQ_INT(foreign, 0);
    CHECK_EQ_INT(mismatched, 0);
    CHECK_EQ_INT(failed_committed, 0);
    CHECK_GT_INT(atomic_load(&r.faults), 20);
    CHECK_GT_INT(aborted_on_purpose, 0);
    CHECK_GT_INT(committed_txns, ntxn / 2);
    readback_free(recs, n);
    for (int part = 0; part < PARTS; part++)
        free(sp[part]);
    free(committed);
    free(txn_ok);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(r.mc);
}

TEST_MAIN(TEST(test_txn_seeded_run))

/*
 * transactional_send — records to several partitions that become visible
 * together or not at all.
 *
 *   usage: transactional_send BOOTSTRAP_SERVERS   e.g. transactional_send 127.0.0.1:9092
 *
 * The Java producer's transactions:
 *
 *     producer.initTransactions();
 *     producer.beginTransaction();
 *     producer.send(...); producer.send(...);
 *     producer.commitTransaction();   // or abortTransaction()
 *
 * Transaction 1 sends six records over the topic's partitions and commits:
 * every record is acknowledged before the commit is asked for, and a
 * consumer reading committed data (isolation.level=read_committed) sees all
 * six. Transaction 2 sends six more and aborts: three were flushed first, so
 * they are in the log with offsets, and the abort writes a marker after
 * them that makes read_committed consumers skip them; the three still
 * waiting in the producer are never sent and fail with _TXN_ABORTED
 * (KP_NOT_PERSISTED).
 *
 * What to do when a transactional call fails depends on its class
 * (kp_err_class(), as the Java client's exceptions):
 *   retriable  (KP_ERR_TIMED_OUT, a coordinator moving...): call the same
 *              function again; it resumes where it was;
 *   abortable  (KP_ERR_TXN_ABORTABLE: a record failed, the broker aborted
 *              the transaction...): abort the transaction and carry on with
 *              the next one; kp_txn_error() gives the cause;
 *   fatal      (PRODUCER_FENCED: another producer took the transactional
 *              id; not authorised...): every later call fails the same way;
 *              close the producer.
 * This program prints each call's result and each record's outcome.
 */
#include <kprod/kprod.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#define TOPIC "first"
#define RECORDS_PER_TXN 6
#define CALL_TIMEOUT_MS 30000 /* per call; a call that timed out is made again */
#define CALL_TRIES 3

/* One record's outcome, written by the delivery callback on the producer's
 * I/O thread and read by main() once commit or abort has returned (by then
 * every record of the transaction has completed). `done` is atomic because
 * two threads touch the slot. */
struct outcome {
    int txn, index;
    kp_err_t err;
    int32_t partition;
    int64_t offset;
    kp_persisted_t persisted;
    atomic_int done;
};

static struct outcome outcomes[2][RECORDS_PER_TXN];

static void on_delivery(const kp_record_metadata_t *md, kp_err_t err, void *opaque)
{
    struct outcome *o = opaque;
    o->err = err;
    o->partition = md->partition;
    o->offset = md->offset;
    o->persisted = md->persisted;
    atomic_store(&o->done, 1);
}

static const char *persisted_name(kp_persisted_t p)
{
    switch (p) {
    case KP_NOT_PERSISTED:
        return "NOT_PERSISTED";
    case KP_POSSIBLY_PERSISTED:
        return "POSSIBLY_PERSISTED";
    case KP_PERSISTED:
        return "PERSISTED";
    }
    return "?";
}

static void print_result(const char *call, kp_err_t err)
{
    if (err == KP_OK)
        printf("%s: OK\n", call);
    else
        printf("%s: %s: %s\n", call, kp_err_name(err), kp_err_str(err));
}

/* A transactional call with a timeout, made again while it fails with a
 * retriable error (at most CALL_TRIES times). */
static kp_err_t call(kp_producer_t *p, kp_err_t (*fn)(kp_producer_t *, int64_t),
                     const char *name)
{
    kp_err_t err = KP_OK;
    for (int i = 1; i <= CALL_TRIES; i++) {
        err = fn(p, CALL_TIMEOUT_MS);
        print_result(name, err);
        if (kp_err_class(err) != KP_ERR_CLASS_RETRIABLE || i == CALL_TRIES)
            break;
        printf("  retriable: calling %s again\n", name);
    }
    return err;
}

/* After a call or a send failed: an abortable error aborts the transaction
 * (0: the producer can go on); anything else (fatal, or a misuse) means
 * closing it (-1). */
static int recover(kp_producer_t *p, kp_err_t err)
{
    switch (kp_err_class(err)) {
    case KP_ERR_CLASS_ABORTABLE: {
        kp_err_t cause = kp_txn_error(p);
        printf("  abortable (cause %s): aborting the transaction\n", kp_err_name(cause));
        return call(p, kp_abort_transaction, "abort_transaction") == KP_OK ? 0 : -1;
    }
    case KP_ERR_CLASS_FATAL:
        printf("  fatal: closing the producer\n");
        return -1;
    default:
        printf("  not a transactional outcome (%s): closing the producer\n", kp_err_name(err));
        return -1;
    }
}

/* Send records [first, first + n) of transaction txn (1 or 2), spread over
 * the topic's partitions. */
static kp_err_t send_records(kp_producer_t *p, int txn, int first, int n, int32_t partitions)
{
    for (int i = first; i < first + n; i++) {
        char key[16], value[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "txn %d record %d", txn, i);
        struct outcome *o = &outcomes[txn - 1][i];
        o->txn = txn;
        o->index = i;
        kp_record_t rec = {
            .topic = TOPIC,
            .partition = i % partitions,
            .key = key,
            .value = value,
        };
        /* On an error nothing was queued and the callback will not run. */
        kp_err_t err = kp_send(p, &rec, on_delivery, o);
        if (err != KP_OK) {
            print_result("send", err);
            return err;
        }
    }
    return KP_OK;
}

/* Each record's outcome, in send order. Returns how many completed. */
static int print_outcomes(int txn, int n)
{
    int done = 0;
    for (int i = 0; i < n; i++) {
        struct outcome *o = &outcomes[txn - 1][i];
        if (!atomic_load(&o->done)) {
            printf("txn %d record %d: not completed\n", txn, i);
            continue;
        }
        done++;
        if (o->err == KP_OK)
            printf("txn %d record %d: partition %" PRId32 " offset %" PRId64 "\n", txn, i,
                   o->partition, o->offset);
        else
            printf("txn %d record %d: %s persisted=%s\n", txn, i, kp_err_name(o->err),
                   persisted_name(o->persisted));
    }
    return done;
}

/* Set one property, printing the library's explanation if it is refused. */
static int set(kp_config_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (kp_config_set(conf, name, value, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "config: %s\n", errstr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP_SERVERS\n", argv[0]);
        return 1;
    }

    /* 1. Configuration: a transactional.id makes the producer transactional
     *    (and idempotent). It names the producer across restarts: a new
     *    producer with the same id fences the old one and aborts what it
     *    left open. */
    kp_config_t *conf = kp_config_new();
    if (conf == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (set(conf, "bootstrap.servers", argv[1]) != 0 ||
        set(conf, "transactional.id", "transactional-send-example") != 0 ||
        set(conf, "key.serializer", "string") != 0 ||
        set(conf, "value.serializer", "string") != 0) {
        kp_config_destroy(conf);
        return 1;
    }
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "cannot create producer: %s\n", errstr);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    int status = 1;
    int32_t partitions = 0;
    kp_err_t err = kp_partitions_for(p, TOPIC, &partitions);
    if (err != KP_OK || partitions <= 0) {
        print_result("partitions_for " TOPIC, err);
        goto out;
    }

    /* 2. Once per producer: find the transaction coordinator, get a
     *    producer id and epoch for the transactional.id. */
    if (call(p, kp_init_transactions, "init_transactions") != KP_OK)
        goto out; /* not even retried into success: nothing to abort */

    /* 3. Transaction 1: six records over the partitions, committed. Commit
     *    flushes: when it returns, every record has completed. */
    err = kp_begin_transaction(p);
    print_result("txn 1: begin_transaction", err);
    if (err != KP_OK)
        goto out;
    int committed = 0;
    err = send_records(p, 1, 0, RECORDS_PER_TXN, partitions);
    if (err == KP_OK) {
        err = call(p, kp_commit_transaction, "txn 1: commit_transaction");
        committed = err == KP_OK;
    }
    print_outcomes(1, RECORDS_PER_TXN);
    if (committed)
        printf("txn 1: committed\n");
    else if (recover(p, err) != 0)
        goto out;
    else
        printf("txn 1: aborted\n");

    /* 4. Transaction 2: three records sent and flushed (they get offsets),
     *    three more left waiting, then the whole transaction aborted. */
    err = kp_begin_transaction(p);
    print_result("txn 2: begin_transaction", err);
    if (err != KP_OK)
        goto out;
    err = send_records(p, 2, 0, RECORDS_PER_TXN / 2, partitions);
    if (err == KP_OK) {
        err = kp_flush(p, CALL_TIMEOUT_MS);
        print_result("txn 2: flush", err);
    }
    if (err == KP_OK)
        err = send_records(p, 2, RECORDS_PER_TXN / 2, RECORDS_PER_TXN - RECORDS_PER_TXN / 2,
                           partitions);
    if (err != KP_OK && kp_err_class(err) == KP_ERR_CLASS_FATAL) {
        recover(p, err);
        goto out;
    }
    /* Abort fails the records not yet sent and waits for those in flight:
     * when it returns, every record of the transaction has completed. */
    if (call(p, kp_abort_transaction, "txn 2: abort_transaction") != KP_OK)
        goto out;
    int done = print_outcomes(2, RECORDS_PER_TXN);
    printf("txn 2: aborted (records with an offset are in the log before an ABORT marker;"
           " read_committed consumers skip them)\n");
    if (committed && done == RECORDS_PER_TXN)
        status = 0;

out:
    /* 5. Close: a transaction still open is aborted by the broker after
     *    transaction.timeout.ms, or by the next producer with the same id. */
    err = kp_close(p, -1);
    print_result("close", err);
    kp_producer_destroy(p);
    return status;
}

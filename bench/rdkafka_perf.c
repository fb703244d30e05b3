/*
 * rdkafka_perf — kprod-perf's measurement, with librdkafka's producer.
 *
 *   rdkafka_perf --topic T --num-records N (--record-size S | --payload-file F)
 *                --throughput R (--producer-props k=v ... | --producer.config FILE)
 *                [--print-metrics] [--threads K] [--mode async|callback|sync]
 *                [--transactional-id ID] [--transaction-duration-ms MS]
 *
 * The harness (command line, throttler, payloads, latency histogram, the
 * progress and final lines, --print-metrics) is tools/kprod-perf.c itself,
 * included below with KPERF_EXTERNAL_BACKEND: only the be_*() functions
 * differ, so the two programs measure in exactly the same way.
 *
 * How librdkafka is driven, the way its documentation and its own
 * rdkafka_performance do it, with the settings made equivalent to kprod's:
 *   - rd_kafka_produce() on a topic handle, RD_KAFKA_PARTITION_UA,
 *     RD_KAFKA_MSG_F_COPY (kprod copies the value too) and
 *     RD_KAFKA_MSG_F_BLOCK (kprod blocks up to max.block.ms when its buffer
 *     is full; librdkafka would fail with QUEUE_FULL instead);
 *   - partitioner=murmur2_random (the Java client's placement) and
 *     client.id=perf-producer-client by default; the properties given on the
 *     command line come after, so they win;
 *   - a dr_msg_cb counts records and takes latency; the send time travels in
 *     the message opaque, as in kprod-perf. One poll thread serves the
 *     delivery reports (kprod runs callbacks on its I/O thread), and
 *     rd_kafka_flush() waits for the rest at the end;
 *   - sync mode: produce, then wait (condition variable) until the delivery
 *     report of that record has been served;
 *   - Java property names without a librdkafka twin are translated:
 *     buffer.memory -> queue.buffering.max.kbytes (and the message-count
 *     limit lifted, so that bytes bound the queue, as in Java),
 *     max.request.size -> message.max.bytes; key.serializer and
 *     value.serializer are ignored (values are raw bytes). Everything else goes to rd_kafka_conf_set()
 *     as is: acks, linger.ms, batch.size (bytes per MessageSet, as Java's
 *     per-batch bytes), enable.idempotence, compression.type, ... are
 *     librdkafka names too. max.block.ms bounds only the first metadata
 *     fetch here;
 *   - transactions (--transactional-id, --transaction-duration-ms, or
 *     transactional.id in the properties): rd_kafka_init_transactions()
 *     before the clock starts, then rd_kafka_begin_transaction() and
 *     rd_kafka_commit_transaction() on the harness's schedule, as kprod-perf.
 *     A failed commit: retriable, called again; rd_kafka_error_txn_requires_abort,
 *     rd_kafka_abort_transaction() and go on; else fatal. Commit flushes,
 *     and rd_kafka_flush() serves delivery reports on the calling thread
 *     while the poll thread serves them too, so in a transactional run the
 *     delivery report takes a lock (the harness's statistics are one
 *     thread's at a time).
 */
#define KPERF_EXTERNAL_BACKEND 1
#define KPERF_PROG "rdkafka_perf"
#define KPERF_METRIC_GROUP "rdkafka-perf"
#include "../tools/kprod-perf.c"

#include <librdkafka/rdkafka.h>

static rd_kafka_t *rk;
static rd_kafka_topic_t *rkt;
static pthread_t poll_thread;
static int poll_running;
static atomic_int poll_stop;

/* sync mode: one record in flight per sending thread */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    rd_kafka_resp_err_t err;
};
static struct waiter *waiters;
static int nwaiters;
static int metadata_timeout_ms = 60000; /* max.block.ms, as kprod waits for metadata */
static int dr_locked;                   /* transactional: two threads serve reports */
static pthread_mutex_t dr_lock = PTHREAD_MUTEX_INITIALIZER;

/* Delivery report, served by the poll thread (or by rd_kafka_flush() on the
 * main thread once the poll thread has stopped): one thread at a time. */
static void on_delivery(rd_kafka_t *h, const rd_kafka_message_t *m, void *opaque)
{
    (void)h;
    (void)opaque;
    if (opts.mode == MODE_SYNC) {
        struct waiter *w = m->_private;
        pthread_mutex_lock(&w->lock);
        w->err = m->err;
        w->done = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return;
    }
    if (dr_locked)
        pthread_mutex_lock(&dr_lock);
    if (m->err)
        perf_fail(rd_kafka_err2name(m->err), rd_kafka_err2str(m->err));
    else
        perf_ack((int64_t)(intptr_t)m->_private, (int64_t)m->len, m->partition, m->offset);
    if (dr_locked)
        pthread_mutex_unlock(&dr_lock);
}

static void *poll_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&poll_stop))
        rd_kafka_poll(rk, 100);
    return NULL;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", KPERF_PROG, errstr);
        return -1;
    }
    return 0;
}

/* One property, with Java names translated (see the header). */
static int set_prop(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    if (!strcmp(name, "key.serializer") || !strcmp(name, "value.serializer"))
        return 0;
    if (!strcmp(name, "max.block.ms")) {
        long long v;
        if (parse_long(value, 0, INT_MAX, &v)) {
            fprintf(stderr, "%s: max.block.ms: not an integer: '%s'\n", KPERF_PROG, value);
            return -1;
        }
        metadata_timeout_ms = (int)v;
        return 0;
    }
    if (!strcmp(name, "buffer.memory")) {
        long long v;
        char kb[32];
        if (parse_long(value, 1, LLONG_MAX, &v)) {
            fprintf(stderr, "%s: buffer.memory: not a positive integer: '%s'\n", KPERF_PROG,
                    value);
            return -1;
        }
        snprintf(kb, sizeof kb, "%lld", (v + 1023) / 1024);
        return conf_set(conf, "queue.buffering.max.kbytes", kb) ||
               conf_set(conf, "queue.buffering.max.messages", "10000000");
    }
    if (!strcmp(name, "max.request.size"))
        return conf_set(conf, "message.max.bytes", value);
    return conf_set(conf, name, value);
}

/* A Java .properties file, the simple subset: key=value or key:value
 * lines, '#' and '!' comments. */
static int load_config_file(rd_kafka_conf_t *conf, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", KPERF_PROG, path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) != -1) {
        char *s = line, *e;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#' || *s == '!' || *s == '\n' || *s == '\r')
            continue;
        for (e = s + strlen(s); e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ');)
            *--e = '\0';
        char *sep = strpbrk(s, "=:");
        if (!sep) {
            fprintf(stderr, "%s: %s: not key=value: %s\n", KPERF_PROG, path, s);
            rc = -1;
            break;
        }
        char *v = sep + 1;
        for (e = sep; e > s && (e[-1] == ' ' || e[-1] == '\t');)
            e--;
        *e = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        rc = set_prop(conf, s, v);
    }
    free(line);
    fclose(f);
    return rc;
}

static int be_open(const struct perf_opts *o, int *is_txn)
{
    char errstr[512], name[256];
    const char *value;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf_set(conf, "client.id", "perf-producer-client") ||
        conf_set(conf, "partitioner", "murmur2_random"))
        goto fail;
    if (o->config_file && load_config_file(conf, o->config_file))
        goto fail;
    for (size_t i = 0; i < o->nprops; i++) {
        if (!prop_split(o->props[i], name, sizeof name, &value)) {
            fprintf(stderr, "%s: property name too long: %s\n", KPERF_PROG, o->props[i]);
            goto fail;
        }
        if (set_prop(conf, name, value))
            goto fail;
    }
    char txn_id[512];
    size_t txn_id_size = sizeof txn_id;
    if (rd_kafka_conf_get(conf, "transactional.id", txn_id, &txn_id_size) != RD_KAFKA_CONF_OK)
        txn_id[0] = '\0';
    const char *set_id = txn_id_to_set(txn_id);
    if (set_id) {
        if (conf_set(conf, "transactional.id", set_id))
            goto fail;
        snprintf(txn_id, sizeof txn_id, "%s", set_id);
    }
    *is_txn = dr_locked = txn_id[0] != '\0';
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    if (o->mode == MODE_POLL || o->mode == MODE_BATCH) {
        /* kprod's completion queue and batch callback; librdkafka's own
         * model is --mode callback (a thread polling for delivery reports) */
        fprintf(stderr, "%s: --mode %s is kprod's only (use --mode callback)\n", KPERF_PROG,
                mode_names[o->mode]);
        goto fail;
    }
    if (o->mode == MODE_SYNC) {
        waiters = calloc((size_t)o->threads, sizeof(*waiters));
        if (!waiters) {
            fprintf(stderr, "%s: out of memory\n", KPERF_PROG);
            goto fail;
        }
        for (nwaiters = 0; nwaiters < o->threads; nwaiters++) {
            pthread_mutex_init(&waiters[nwaiters].lock, NULL);
            pthread_cond_init(&waiters[nwaiters].cond, NULL);
        }
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s: cannot create producer: %s\n", KPERF_PROG, errstr);
        goto fail; /* conf is still ours */
    }
    conf = NULL;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (!rkt) {
        fprintf(stderr, "%s: topic %s: %s\n", KPERF_PROG, o->topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        be_close();
        return -1;
    }
    /* Metadata before the clock starts, as kprod-perf does. */
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, metadata_timeout_ms);
    if (!err) {
        err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        rd_kafka_metadata_destroy(md);
    }
    if (err) {
        fprintf(stderr, "%s: topic %s: %s: %s\n", KPERF_PROG, o->topic, rd_kafka_err2name(err),
                rd_kafka_err2str(err));
        be_close();
        return -1;
    }
    int rc = pthread_create(&poll_thread, NULL, poll_main, NULL);
    if (rc) {
        fprintf(stderr, "%s: cannot start the poll thread: %s\n", KPERF_PROG, strerror(rc));
        be_close();
        return -1;
    }
    poll_running = 1;
    return 0;

fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return -1;
}

static void be_send(int tid, const void *value, int len, int64_t send_us)
{
    (void)tid;
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK,
                         (void *)value, (size_t)len, NULL, 0, (void *)(intptr_t)send_us) == -1) {
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        perf_fail(rd_kafka_err2name(err), rd_kafka_err2str(err));
    }
}

static int be_send_sync(int tid, const void *value, int len)
{
    struct waiter *w = &waiters[tid];
    w->done = 0;
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK,
                         (void *)value, (size_t)len, NULL, 0, w) == -1) {
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        perf_fail(rd_kafka_err2name(err), rd_kafka_err2str(err));
        return -1;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    rd_kafka_resp_err_t err = w->err;
    pthread_mutex_unlock(&w->lock);
    if (err) {
        perf_fail(rd_kafka_err2name(err), rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Report a transactional call's error; returns what to do about it. */
static enum txn_outcome txn_report(const char *call, rd_kafka_error_t *e)
{
    fprintf(stderr, "%s: %s: %s: %s\n", KPERF_PROG, call, rd_kafka_error_name(e),
            rd_kafka_error_string(e));
    enum txn_outcome o = rd_kafka_error_txn_requires_abort(e) ? TXN_ABORTED : TXN_FATAL;
    rd_kafka_error_destroy(e);
    return o;
}

#define TXN_CALL_TIMEOUT_MS 60000 /* as kprod-perf */
#define TXN_CALL_TRIES 5

static int be_txn_init(void)
{
    rd_kafka_error_t *e = NULL;
    for (int i = 0; i < TXN_CALL_TRIES; i++) {
        e = rd_kafka_init_transactions(rk, TXN_CALL_TIMEOUT_MS);
        if (!e || !rd_kafka_error_is_retriable(e) || i + 1 == TXN_CALL_TRIES)
            break;
        rd_kafka_error_destroy(e);
    }
    if (e) {
        txn_report("init_transactions", e);
        return -1;
    }
    return 0;
}

static int be_txn_begin(void)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(rk);
    if (e) {
        txn_report("begin_transaction", e);
        return -1;
    }
    return 0;
}

static enum txn_outcome be_txn_commit(void)
{
    rd_kafka_error_t *e = NULL;
    for (int i = 0; i < TXN_CALL_TRIES; i++) {
        e = rd_kafka_commit_transaction(rk, TXN_CALL_TIMEOUT_MS);
        if (!e || !rd_kafka_error_is_retriable(e) || i + 1 == TXN_CALL_TRIES)
            break;
        rd_kafka_error_destroy(e);
    }
    if (!e)
        return TXN_COMMITTED;
    if (txn_report("commit_transaction", e) != TXN_ABORTED)
        return TXN_FATAL;
    e = rd_kafka_abort_transaction(rk, TXN_CALL_TIMEOUT_MS);
    if (e) {
        txn_report("abort_transaction", e);
        return TXN_FATAL;
    }
    return TXN_ABORTED;
}

static void stop_poll_thread(void)
{
    if (!poll_running)
        return;
    atomic_store(&poll_stop, 1);
    pthread_join(poll_thread, NULL);
    poll_running = 0;
}

/* (librdkafka's statistics are its JSON, not Java's metrics: nothing here) */
static void be_print_client_metrics(void) {}

static void be_flush(void)
{
    /* From here the main thread serves the delivery reports. */
    stop_poll_thread();
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, -1);
    if (err)
        fprintf(stderr, "%s: flush: %s\n", KPERF_PROG, rd_kafka_err2str(err));
}

static void be_close(void)
{
    if (rk) {
        be_flush(); /* rd_kafka_destroy() would drop what is still queued */
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
    }
    rkt = NULL;
    rk = NULL;
    for (int i = 0; i < nwaiters; i++) {
        pthread_mutex_destroy(&waiters[i].lock);
        pthread_cond_destroy(&waiters[i].cond);
    }
    free(waiters);
    waiters = NULL;
    nwaiters = 0;
}

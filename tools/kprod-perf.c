/*
 * kprod-perf — kafka-producer-perf-test's interface and output, on libkprod.
 *
 *   kprod-perf --topic T --num-records N (--record-size S | --payload-file F)
 *              --throughput R (--producer-props k=v ... | --producer.config FILE)
 *              [--print-metrics] [--threads K]
 *              [--mode async|callback|sync|poll|batch]
 *              [--transactional-id ID] [--transaction-duration-ms MS]
 *
 * Output (people's scripts parse it, so it is Kafka's, byte for byte):
 *   every 5 seconds, from the thread that completes records,
 *     N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency.
 *   and at the end
 *     N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency,
 *     P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.
 *   (one line). As in Kafka, "records sent" counts acknowledged records, MB
 *   is 2^20 bytes of record values, and percentiles are whole milliseconds.
 *   --print-metrics prints, as Kafka's tool, the producer's metrics before
 *   close (every one of kp_metrics_snapshot(), `group:name:{tags} : value`
 *   sorted, docs/METRICS.md), then a "Metric Name / Value" table of what
 *   this tool measures (counts, bytes, errors, CPU time, peak RSS,
 *   microsecond latency percentiles).
 *
 * Latency is from the send call to the acknowledgement. It is taken by the
 * delivery callback: the send time travels in the callback's opaque pointer,
 * so nothing is allocated per record. In sync mode the sending thread takes
 * it around kp_send_sync(), which returns when the acknowledgement arrives.
 * Percentiles come from a log-linear histogram (< 0.8 % bucket error), not
 * from a sorted sample.
 *
 * Modes: --mode async (the default) is Kafka's tool: kp_send() with a
 * callback that only records latency. --mode callback adds the per-record
 * work a real callback does: it reads the metadata and checks that offsets
 * grow within each partition (violations are reported). --mode sync sends one
 * record at a time per thread with kp_send_sync(). --mode poll (kprod only)
 * is async with completion.mode=queue: one thread of the tool waits on
 * kp_completion_fd() with poll(2) and runs the completions with kp_poll().
 * --mode batch (kprod only) has no per-record callback: a batch callback
 * (on the I/O thread) takes each completed batch's records at once, the send
 * time in each record's opaque. --threads K runs K
 * application threads sharing one producer, each sending N/K records at R/K
 * records/s.
 *
 * Throttling is Kafka's ThroughputThrottler: after a send, if the average
 * rate since the start is above the target, add 1/R seconds of "sleep
 * deficit" and sleep it off once it reaches 2 ms.
 *
 * Differences from the Java tool, all outside the output format: the topic's
 * metadata is fetched before the clock starts (so the first records do not
 * carry the metadata round trip); record values are slices of one random
 * buffer of uppercase letters instead of being regenerated per record (the
 * tool's own CPU stays out of the figures); record failures are printed as
 * one line each (the first 10), not as stack traces; exit status is 1 when
 * any record failed, 2 for a usage error.
 *
 * Compression: compression.type and compression.{gzip,lz4,zstd}.level go
 * through --producer-props (or --producer.config) like any property. With
 * --record-size every record of a batch is a slice of the same few KB, which
 * every codec shrinks far more than real data; to measure compression, send
 * realistic text with --payload-file, as bench/run.sh's lz4 and zstd
 * scenarios do.
 *
 * Transactions, as Kafka's tool (ProducerPerformance.java): the run is
 * transactional when --transactional-id or --transaction-duration-ms is
 * given or the properties set transactional.id. The id is
 * --transactional-id's, else the properties', else
 * "performance-producer-" and a random id (22 characters of base64url, the
 * form of Java's Uuid.toString()); the duration defaults to 3000 ms.
 * init_transactions runs before the clock starts; a transaction begins
 * before its first record, and after each send, once MS ms have passed since
 * it began, it is committed (the next send begins the next); the last one is
 * committed after the last send. A call that fails: a retriable error is
 * called again (a timed-out call resumes); an abortable one is printed, the
 * transaction aborted (its records fail and are counted) and the run goes
 * on; a fatal one is printed and ends the sending (exit 1). Java's tool
 * throws at the first failure instead. One sending thread only (--threads 1):
 * a transaction is the producer's, not a thread's. --print-metrics adds
 * txn-commit-total and txn-abort-total.
 *
 * This file is also the harness of bench/rdkafka_perf.c, which defines
 * KPERF_EXTERNAL_BACKEND, includes this file and supplies the be_*()
 * functions with librdkafka: both programs measure with the same code.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* flockfile, clock_nanosleep */
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "long_opt.h"

#ifndef KPERF_PROG
#define KPERF_PROG "kprod-perf"
#endif
#ifndef KPERF_METRIC_GROUP
#define KPERF_METRIC_GROUP "kprod-perf"
#endif

#define EXIT_USAGE 2
#define REPORT_INTERVAL_US 5000000 /* Kafka's reportingInterval: 5 s */
#define MAX_ERRORS_SHOWN 10
#define MAX_THREADS 1024

enum perf_mode { MODE_ASYNC, MODE_CALLBACK, MODE_SYNC, MODE_POLL, MODE_BATCH };
static const char *const mode_names[] = {"async", "callback", "sync", "poll", "batch"};

struct perf_opts {
    const char *topic;
    int64_t num_records;
    long record_size; /* 0: --payload-file */
    const char *payload_file;
    const char *payload_delimiter;
    double throughput; /* < 0: unlimited */
    const char **props; /* "name=value", in command-line order */
    size_t nprops;
    const char *config_file;
    int print_metrics;
    int threads;
    enum perf_mode mode;
    const char *transactional_id; /* --transactional-id; NULL: none */
    int64_t txn_duration_ms;      /* --transaction-duration-ms; 0: not given */
};

/* ---- the producer under test (kprod below; librdkafka in bench/) ------- */

/* Create the producer from o (config file, then props in order; then the
 * transactional.id txn_id_to_set() names, if any) and fetch the topic's
 * metadata. *transactional: whether the producer has a transactional.id.
 * Reports and returns non-zero on failure. */
static int be_open(const struct perf_opts *o, int *transactional);
/* Send one record; its completion must reach perf_ack()/perf_fail() with
 * send_us. A record refused at once is reported with perf_fail() here. */
static void be_send(int tid, const void *value, int len, int64_t send_us);
/* Send one record and wait for its acknowledgement: 0 on success, else the
 * failure is reported with perf_fail(). */
static int be_send_sync(int tid, const void *value, int len);
/* Wait until every record sent has completed (all callbacks have run). */
static void be_flush(void);
/* --print-metrics: the client library's own metrics, as Kafka's tool
 * prints producer.metrics() (ToolsUtils.printMetrics), before close */
static void be_print_client_metrics(void);
/* Close and free the producer. */
static void be_close(void);
/* Transactions (only when be_open said transactional): init_transactions,
 * begin_transaction: 0, or report and return -1 (the run cannot go on). */
static int be_txn_init(void);
static int be_txn_begin(void);
/* Commit the current transaction, calling again on a retriable error:
 * TXN_COMMITTED; TXN_ABORTED after reporting an abortable error and
 * aborting; TXN_FATAL after reporting an error the run cannot go on from. */
enum txn_outcome { TXN_COMMITTED, TXN_ABORTED, TXN_FATAL };
static enum txn_outcome be_txn_commit(void);

/* ---- clock --------------------------------------------------------------- */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Send times are microseconds since this epoch, so that they fit in a
 * pointer even on 32-bit machines (71 minutes). */
static int64_t epoch_us;

static int64_t now_us(void)
{
    return mono_us() - epoch_us;
}

/* ---- latency histogram ------------------------------------------------- */

/* Log-linear buckets over microseconds: values below 2^SUB_BITS exactly,
 * then 2^SUB_BITS buckets per power of two (relative error < 2^-SUB_BITS). */
#define HIST_SUB_BITS 7
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BINS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

static int hist_bin(uint64_t v)
{
    if (v < HIST_SUB)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - HIST_SUB_BITS;
    return ((shift + 1) << HIST_SUB_BITS) + (int)((v >> shift) - HIST_SUB);
}

/* Middle of a bucket's value range. */
static uint64_t hist_value(int bin)
{
    if (bin < 2 * HIST_SUB)
        return (uint64_t)bin;
    int shift = (bin >> HIST_SUB_BITS) - 1;
    uint64_t low = (uint64_t)((bin & (HIST_SUB - 1)) + HIST_SUB) << shift;
    return low + ((uint64_t)1 << shift) / 2;
}

/* ---- statistics (Kafka's ProducerPerformance.Stats) --------------------- */

/* Updated by one thread at a time: the producer's callback thread, or the
 * sending threads under stats_lock in sync mode. */
struct stats {
    int64_t start_us;
    int64_t count, bytes, total_lat_us, max_lat_us;
    int64_t window_start_us, window_count, window_bytes, window_total_lat_us, window_max_lat_us;
    uint64_t hist[HIST_BINS];
    /* --mode callback: last offset seen per partition */
    int64_t *last_offset;
    int32_t nparts;
    int64_t order_violations;
};

static struct stats st;
static double total_elapsed_s;  /* at the final line */
static double close_s;          /* time be_close() took */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct perf_opts opts;
static int transactional;                /* be_open's answer */
static int64_t txn_commits, txn_aborts;  /* by the one sending thread */
static atomic_llong errors;
static atomic_int errors_shown;

static void print_window(int64_t now)
{
    double elapsed_ms = (double)(now - st.window_start_us) / 1000.0;
    if (elapsed_ms <= 0)
        elapsed_ms = 1;
    printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, "
           "%.1f ms max latency.\n",
           st.window_count, 1000.0 * (double)st.window_count / elapsed_ms,
           1000.0 * (double)st.window_bytes / elapsed_ms / (1024.0 * 1024.0),
           (double)st.window_total_lat_us / 1000.0 / (double)st.window_count,
           (double)st.window_max_lat_us / 1000.0);
    fflush(stdout);
}

/* --mode callback: what an application's callback typically does with the
 * metadata. Offsets must grow within a partition. */
static void callback_work(int32_t partition, int64_t offset)
{
    if (partition < 0 || offset < 0)
        return;
    if (partition >= st.nparts) {
        int32_t n = st.nparts ? st.nparts : 64;
        while (n <= partition)
            n *= 2;
        int64_t *lo = realloc(st.last_offset, (size_t)n * sizeof(*lo));
        if (!lo)
            return;
        for (int32_t i = st.nparts; i < n; i++)
            lo[i] = -1;
        st.last_offset = lo;
        st.nparts = n;
    }
    if (offset <= st.last_offset[partition])
        st.order_violations++;
    st.last_offset[partition] = offset;
}

static void stats_record(int64_t latency_us, int64_t bytes, int64_t now)
{
    if (latency_us < 0)
        latency_us = 0;
    st.count++;
    st.bytes += bytes;
    st.total_lat_us += latency_us;
    if (latency_us > st.max_lat_us)
        st.max_lat_us = latency_us;
    st.window_count++;
    st.window_bytes += bytes;
    st.window_total_lat_us += latency_us;
    if (latency_us > st.window_max_lat_us)
        st.window_max_lat_us = latency_us;
    st.hist[hist_bin((uint64_t)latency_us)]++;
    if (now - st.window_start_us >= REPORT_INTERVAL_US) {
        print_window(now);
        st.window_start_us = now;
        st.window_count = st.window_bytes = st.window_total_lat_us = st.window_max_lat_us = 0;
    }
}

/* A record was acknowledged. Called by the backend's delivery callback (one
 * thread at a time) in async and callback modes. */
static void perf_ack(int64_t send_us, int64_t bytes, int32_t partition, int64_t offset)
{
    int64_t now = now_us();
    if (opts.mode == MODE_CALLBACK)
        callback_work(partition, offset);
    stats_record(now - send_us, bytes, now);
}

/* A record failed (from any thread). */
static void perf_fail(const char *name, const char *detail)
{
    atomic_fetch_add(&errors, 1);
    int shown = atomic_fetch_add(&errors_shown, 1);
    if (shown < MAX_ERRORS_SHOWN) {
        flockfile(stderr);
        fprintf(stderr, "%s: record failed: %s: %s\n", KPERF_PROG, name, detail);
        if (shown == MAX_ERRORS_SHOWN - 1)
            fprintf(stderr, "%s: (further record failures are counted, not shown)\n",
                    KPERF_PROG);
        funlockfile(stderr);
    }
}

/* Value at quantile q, as Kafka: the element at index (int)(q * count) of
 * the sorted latencies. */
static uint64_t percentile_us(double q)
{
    if (st.count == 0)
        return 0;
    int64_t rank = (int64_t)(q * (double)st.count); /* 0-based */
    int64_t seen = 0;
    for (int b = 0; b < HIST_BINS; b++) {
        seen += (int64_t)st.hist[b];
        if (seen > rank) {
            uint64_t v = hist_value(b);
            return v > (uint64_t)st.max_lat_us ? (uint64_t)st.max_lat_us : v;
        }
    }
    return (uint64_t)st.max_lat_us;
}

static void print_total(void)
{
    double elapsed_ms = (double)(now_us() - st.start_us) / 1000.0;
    if (elapsed_ms <= 0)
        elapsed_ms = 1;
    total_elapsed_s = elapsed_ms / 1000.0;
    double avg = st.count ? (double)st.total_lat_us / 1000.0 / (double)st.count : NAN;
    printf("%" PRId64 " records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, "
           "%.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
           st.count, 1000.0 * (double)st.count / elapsed_ms,
           1000.0 * (double)st.bytes / elapsed_ms / (1024.0 * 1024.0), avg,
           (double)st.max_lat_us / 1000.0, (int)(percentile_us(0.5) / 1000),
           (int)(percentile_us(0.95) / 1000), (int)(percentile_us(0.99) / 1000),
           (int)(percentile_us(0.999) / 1000));
    fflush(stdout);
}

/* ---- throttling (Kafka's ThroughputThrottler) -------------------------- */

#define MIN_SLEEP_NS 2000000 /* 2 ms */

struct throttler {
    double target;        /* records/s; < 0: off */
    int64_t start_us;
    int64_t sleep_ns;     /* 1e9 / target */
    int64_t deficit_ns;
};

static int should_throttle(const struct throttler *t, int64_t amount, int64_t send_us)
{
    if (t->target < 0)
        return 0;
    double elapsed_s = (double)(send_us - t->start_us) / 1e6;
    return elapsed_s > 0 && (double)amount / elapsed_s > t->target;
}

static void throttle(struct throttler *t)
{
    t->deficit_ns += t->sleep_ns;
    if (t->deficit_ns < MIN_SLEEP_NS)
        return;
    struct timespec ts = {(time_t)(t->deficit_ns / 1000000000), (long)(t->deficit_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
    t->deficit_ns = 0;
}

/* ---- payloads --------------------------------------------------------- */

struct payload {
    const char *data;
    int len;
};

static char *random_buf;       /* --record-size: record_size + RANDOM_SLACK letters */
#define RANDOM_SLACK 4093      /* values start anywhere in the first 4093 bytes */
static char *file_data;        /* --payload-file: the file, split in place */
static struct payload *file_payloads;
static size_t nfile_payloads;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int load_payloads(void)
{
    if (opts.record_size > 0) {
        size_t n = (size_t)opts.record_size + RANDOM_SLACK;
        random_buf = malloc(n);
        if (!random_buf)
            return -1;
        uint64_t s = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < n; i++)
            random_buf[i] = (char)('A' + xorshift(&s) % 26);
        return 0;
    }
    char abs[PATH_MAX];
    printf("Reading payloads from: %s\n",
           realpath(opts.payload_file, abs) ? abs : opts.payload_file);
    FILE *f = fopen(opts.payload_file, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", KPERF_PROG, opts.payload_file, strerror(errno));
        return -1;
    }
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nd = realloc(file_data, cap + 1);
            if (!nd) {
                fclose(f);
                return -1;
            }
            file_data = nd;
        }
        size_t r = fread(file_data + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || len == 0) {
        fprintf(stderr, "%s: %s: %s\n", KPERF_PROG, opts.payload_file,
                bad ? "read error" : "File does not exist or empty file provided.");
        return -1;
    }
    file_data[len] = '\0';
    /* Split at the delimiter; like Java's Scanner, empty tokens are skipped. */
    const char *d = opts.payload_delimiter;
    size_t dl = strlen(d);
    size_t cap_p = 0;
    for (size_t i = 0; i < len;) {
        char *hit = dl ? memmem(file_data + i, len - i, d, dl) : NULL;
        size_t end = hit ? (size_t)(hit - file_data) : len;
        if (end > i) {
            if (end - i > INT32_MAX) {
                fprintf(stderr, "%s: a payload is larger than 2 GiB\n", KPERF_PROG);
                return -1;
            }
            if (nfile_payloads == cap_p) {
                cap_p = cap_p ? cap_p * 2 : 1024;
                struct payload *np = realloc(file_payloads, cap_p * sizeof(*np));
                if (!np)
                    return -1;
                file_payloads = np;
            }
            file_payloads[nfile_payloads++] = (struct payload){file_data + i, (int)(end - i)};
        }
        i = end + (hit ? dl : 0);
    }
    if (nfile_payloads == 0) {
        fprintf(stderr, "%s: %s: no payload found\n", KPERF_PROG, opts.payload_file);
        return -1;
    }
    printf("Number of messages read: %zu\n", nfile_payloads);
    return 0;
}

static struct payload next_payload(uint64_t *rng)
{
    uint64_t r = xorshift(rng);
    if (random_buf)
        return (struct payload){random_buf + r % RANDOM_SLACK, (int)opts.record_size};
    return file_payloads[r % nfile_payloads];
}

/* ---- sending threads --------------------------------------------------- */

struct sender {
    int tid;
    int64_t n;
    pthread_t thread;
};

static int txn_failed; /* a transactional call failed for good: exit 1 */

/* Commit the transaction under way (count it committed or aborted): 0 to
 * go on, -1 when the run cannot. */
static int txn_end(void)
{
    switch (be_txn_commit()) {
    case TXN_COMMITTED:
        txn_commits++;
        return 0;
    case TXN_ABORTED:
        txn_aborts++;
        return 0;
    case TXN_FATAL:
        break;
    }
    txn_failed = 1;
    return -1;
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    uint64_t rng = 0x2545F4914F6CDD1Dull ^ ((uint64_t)(s->tid + 1) * 0x9E3779B97F4A7C15ull);
    struct throttler t = {opts.throughput < 0 ? -1 : opts.throughput / opts.threads,
                          st.start_us, 0, 0};
    if (t.target > 0)
        t.sleep_ns = (int64_t)(1e9 / t.target);

    int64_t txn_size = 0, txn_start_us = 0;
    for (int64_t i = 0; i < s->n; i++) {
        struct payload pl = next_payload(&rng);
        if (transactional && txn_size == 0) {
            if (be_txn_begin()) {
                txn_failed = 1;
                return NULL;
            }
            txn_start_us = now_us();
        }
        int64_t send_us = now_us();
        if (opts.mode == MODE_SYNC) {
            if (be_send_sync(s->tid, pl.data, pl.len) == 0) {
                int64_t now = now_us();
                pthread_mutex_lock(&stats_lock);
                stats_record(now - send_us, pl.len, now);
                pthread_mutex_unlock(&stats_lock);
            }
        } else {
            be_send(s->tid, pl.data, pl.len, send_us);
        }
        txn_size++;
        /* as Java: the transaction's age when this record was sent */
        if (transactional && send_us - txn_start_us >= opts.txn_duration_ms * 1000) {
            if (txn_end())
                return NULL;
            txn_size = 0;
        }
        if (should_throttle(&t, i, send_us))
            throttle(&t);
    }
    if (transactional && txn_size > 0)
        txn_end();
    return NULL;
}

/* ---- metrics (--print-metrics) ----------------------------------------- */

struct metric {
    const char *name;
    double value;
};

/* Kafka's ToolsUtils.printMetrics layout: "group:name:{tags}  : value". */
static void print_metrics(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double elapsed = total_elapsed_s;
    int64_t n = st.count + atomic_load(&errors);
    struct metric m[] = {
        {"record-send-total", (double)st.count},
        {"record-error-total", (double)atomic_load(&errors)},
        {"record-send-rate", elapsed > 0 ? (double)st.count / elapsed : 0},
        {"byte-total", (double)st.bytes},
        {"elapsed-seconds", elapsed},
        {"close-seconds", close_s},
        {"cpu-user-seconds", user},
        {"cpu-system-seconds", sys},
        {"cpu-us-per-record", n ? (user + sys) * 1e6 / (double)n : 0},
        {"max-rss-kb", (double)ru.ru_maxrss},
        {"latency-avg-us", st.count ? (double)st.total_lat_us / (double)st.count : 0},
        {"latency-p50-us", (double)percentile_us(0.5)},
        {"latency-p95-us", (double)percentile_us(0.95)},
        {"latency-p99-us", (double)percentile_us(0.99)},
        {"latency-p999-us", (double)percentile_us(0.999)},
        {"latency-max-us", (double)st.max_lat_us},
        {"offset-order-violations", (double)st.order_violations},
        {"txn-commit-total", (double)txn_commits},
        {"txn-abort-total", (double)txn_aborts},
    };
    /* the transaction counts only for a transactional run */
    size_t nm = sizeof m / sizeof m[0] - (transactional ? 0 : 2);
    char tags[64];
    snprintf(tags, sizeof tags, "{mode=%s, threads=%d}", mode_names[opts.mode], opts.threads);
    int width = 0;
    for (size_t i = 0; i < nm; i++) {
        int w = (int)(strlen(KPERF_METRIC_GROUP) + 1 + strlen(m[i].name) + 1 + strlen(tags));
        if (w > width)
            width = w;
    }
    printf("\n%-*s   %s\n", width, "Metric Name", "Value");
    for (size_t i = 0; i < nm; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s:%s:%s", KPERF_METRIC_GROUP, m[i].name, tags);
        printf("%-*s : %.3f\n", width, full, m[i].value);
    }
    fflush(stdout);
}

/* ---- command line ------------------------------------------------------- */

static const char usage_text[] =
    "usage: " KPERF_PROG " --topic TOPIC --num-records NUM-RECORDS\n"
    "       (--record-size RECORD-SIZE | --payload-file PAYLOAD-FILE)\n"
    "       --throughput THROUGHPUT\n"
    "       (--producer-props PROP-NAME=PROP-VALUE [PROP-NAME=PROP-VALUE ...] |\n"
    "        --producer.config CONFIG-FILE)\n"
    "       [--payload-delimiter DELIMITER] [--print-metrics]\n"
    "       [--threads K] [--mode async|callback|sync|poll|batch]\n"
    "       [--transactional-id ID] [--transaction-duration-ms MS]\n"
    "\n"
    "Measures producer throughput and latency; kafka-producer-perf-test's interface.\n"
    "\n"
    "  --topic TOPIC                produce messages to this topic\n"
    "  --num-records N              number of messages to produce\n"
    "  --record-size S              message size in bytes\n"
    "  --payload-file F             read message payloads from F (split at the\n"
    "                               delimiter); each record takes one at random\n"
    "  --payload-delimiter D        payload delimiter in --payload-file (default \\n)\n"
    "  --throughput R               throttle to about R messages/sec; -1: no limit\n"
    "  --producer-props K=V ...     producer properties (bootstrap.servers, ...);\n"
    "                               they take precedence over --producer.config\n"
    "  --producer.config FILE       producer config properties file\n"
    "  --print-metrics              print metrics at the end of the test\n"
    "  --threads K                  K application threads share one producer\n"
    "                               (default 1)\n"
    "  --mode async|callback|sync   async: send with a latency-only callback\n"
    "                               (default); callback: the callback also reads\n"
    "                               the metadata and checks per-partition offset\n"
    "                               order; sync: one record at a time per thread,\n"
    "                               each waiting for its acknowledgement;\n"
    "                               poll (kprod): async, the completions queued\n"
    "                               (completion.mode=queue) and run by a thread\n"
    "                               polling kp_completion_fd(); batch (kprod): a\n"
    "                               batch callback instead of record callbacks\n"
    "  --transactional-id ID        send in transactions with this transactional.id\n"
    "                               (it takes precedence over one in the properties):\n"
    "                               init_transactions first, then each transaction\n"
    "                               committed once it is --transaction-duration-ms\n"
    "                               old (checked after each send), the last at the end\n"
    "  --transaction-duration-ms MS the max age of each transaction (> 0; default 3000\n"
    "                               when transactional); given without an id, the run\n"
    "                               is transactional with the id transactional.id of\n"
    "                               the properties, else performance-producer-<random>\n"
    "\n"
    "transactional.id in --producer-props or --producer.config also makes the run\n"
    "transactional. A failed commit is printed; an abortable error aborts the\n"
    "transaction (its records count as failed) and the run goes on, a fatal one\n"
    "ends it. Transactions need --threads 1.\n"
    "\n"
    "Exit status: 0 every record acknowledged, 1 a record failed, a transaction was\n"
    "aborted or another error, 2 usage error.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", KPERF_PROG);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", KPERF_PROG);
    return EXIT_USAGE;
}

static int parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Returns 0 to go on, -1 after --help (exit 0), or an exit status. */
static int parse_args(int argc, char **argv)
{
    long long v;
    int have_n = 0, have_rate = 0;
    opts.payload_delimiter = "\n";
    opts.threads = 1;
    opts.mode = MODE_ASYNC;
    opts.props = calloc((size_t)argc + 1, sizeof(*opts.props));
    if (!opts.props)
        return 1;
    if (argc <= 1) { /* Kafka: no arguments prints the help */
        fputs(usage_text, stdout);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage_error("unexpected argument '%s'", arg);
        size_t name_len;
        const char *value = long_opt_split(arg, &name_len);
#define IS(name) long_opt_is(arg, name_len, name)
        if (IS("--print-metrics")) {
            if (value)
                return usage_error("--print-metrics takes no value%s", "");
            opts.print_metrics = 1;
            continue;
        }
        if (IS("--producer-props")) {
            /* One or more K=V, up to the next option (as argparse's nargs "+"). */
            size_t before = opts.nprops;
            if (value)
                opts.props[opts.nprops++] = value;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                opts.props[opts.nprops++] = argv[++i];
            if (opts.nprops == before)
                return usage_error("--producer-props needs at least one %s", "PROP-NAME=PROP-VALUE");
            for (size_t k = before; k < opts.nprops; k++)
                if (!strchr(opts.props[k], '=') || opts.props[k][0] == '=')
                    return usage_error("Invalid property: %s", opts.props[k]);
            continue;
        }
        if (!IS("--topic") && !IS("--num-records") && !IS("--record-size") &&
            !IS("--payload-file") && !IS("--payload-delimiter") && !IS("--throughput") &&
            !IS("--producer.config") && !IS("--threads") && !IS("--mode") &&
            !IS("--transactional-id") && !IS("--transaction-duration-ms"))
            return usage_error("unrecognized argument '%s'", arg);
        if (!value) {
            if (i + 1 >= argc)
                return usage_error("argument %s: expected one argument", arg);
            value = argv[++i];
        }
        if (IS("--topic")) {
            opts.topic = value;
        } else if (IS("--num-records")) {
            if (parse_long(value, LLONG_MIN, LLONG_MAX, &v))
                return usage_error("--num-records: not an integer: '%s'", value);
            if (v <= 0)
                return usage_error("--num-records should be greater than zero%s", "");
            opts.num_records = v;
            have_n = 1;
        } else if (IS("--record-size")) {
            if (parse_long(value, INT_MIN, INT_MAX, &v))
                return usage_error("--record-size: not an integer: '%s'", value);
            if (v <= 0)
                return usage_error("--record-size should be greater than zero%s", "");
            opts.record_size = (long)v;
        } else if (IS("--payload-file")) {
            opts.payload_file = value;
        } else if (IS("--payload-delimiter")) {
            opts.payload_delimiter = !strcmp(value, "\\n") ? "\n" : value;
        } else if (IS("--throughput")) {
            char *end;
            errno = 0;
            opts.throughput = strtod(value, &end);
            if (*value == '\0' || *end != '\0' || errno || isnan(opts.throughput))
                return usage_error("--throughput: not a number: '%s'", value);
            if (opts.throughput == 0)
                return usage_error("--throughput must be positive, or -1 for no limit%s", "");
            have_rate = 1;
        } else if (IS("--producer.config")) {
            opts.config_file = value;
        } else if (IS("--threads")) {
            if (parse_long(value, 1, MAX_THREADS, &v))
                return usage_error("--threads: an integer from 1 to 1024, got '%s'", value);
            opts.threads = (int)v;
        } else if (IS("--mode")) {
            if (!strcmp(value, "async"))
                opts.mode = MODE_ASYNC;
            else if (!strcmp(value, "callback"))
                opts.mode = MODE_CALLBACK;
            else if (!strcmp(value, "sync"))
                opts.mode = MODE_SYNC;
            else if (!strcmp(value, "poll"))
                opts.mode = MODE_POLL;
            else if (!strcmp(value, "batch"))
                opts.mode = MODE_BATCH;
            else
                return usage_error("--mode: async, callback, sync, poll or batch, got '%s'",
                                   value);
        } else if (IS("--transactional-id")) {
            if (!*value)
                return usage_error("--transactional-id must not be empty%s", "");
            opts.transactional_id = value;
        } else if (IS("--transaction-duration-ms")) {
            if (parse_long(value, LLONG_MIN, LLONG_MAX, &v))
                return usage_error("--transaction-duration-ms: not an integer: '%s'", value);
            if (v <= 0)
                return usage_error("--transaction-duration-ms should be greater than zero%s", "");
            if (v > INT64_MAX / 1000)
                return usage_error("--transaction-duration-ms: too large: '%s'", value);
            opts.txn_duration_ms = v;
        }
#undef IS
    }
    if (!opts.topic || !*opts.topic)
        return usage_error("argument %s is required", "--topic");
    if (!have_n)
        return usage_error("argument %s is required", "--num-records");
    if (!have_rate)
        return usage_error("argument %s is required", "--throughput");
    if ((opts.record_size > 0) == (opts.payload_file != NULL))
        return usage_error("either --record-size or --payload-file must be specified but not "
                           "both%s", "");
    if (opts.nprops == 0 && !opts.config_file)
        return usage_error("Either --producer-props or --producer.config must be specified.%s",
                           "");
    if (opts.payload_file && !*opts.payload_delimiter)
        return usage_error("--payload-delimiter must not be empty%s", "");
    if ((opts.transactional_id || opts.txn_duration_ms) && opts.threads > 1)
        return usage_error("transactions need --threads 1%s", "");
    return 0;
}

/* Java's Uuid.randomUuid().toString(): 16 random bytes in base64url, no
 * padding (22 characters). */
static void random_id(char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[18] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(r, 1, 16, f) : 0;
    if (f)
        fclose(f);
    if (got != 16) { /* no /dev/urandom: the clock and the pid will do */
        uint64_t x = (uint64_t)mono_us() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
        for (int i = 0; i < 16; i++)
            r[i] = (unsigned char)xorshift(&x);
    }
    for (int i = 0, o = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        for (int k = 0; k < 4 && o < 22; k++)
            out[o++] = b64[(v >> (18 - 6 * k)) & 63];
    }
    out[22] = '\0';
}

/* The transactional.id a backend sets after the properties, given the one
 * they hold (NULL or "": none), as Java's ConfigPostProcessor: the
 * command line's, else the properties' (NULL: keep it), else a generated one
 * when --transaction-duration-ms asks for transactions, else none (NULL). */
static const char *txn_id_to_set(const char *configured)
{
    static char generated[64];
    if (opts.transactional_id)
        return opts.transactional_id;
    if ((configured && *configured) || !opts.txn_duration_ms)
        return NULL;
    char id[23];
    random_id(id);
    snprintf(generated, sizeof generated, "performance-producer-%s", id);
    return generated;
}

/* Split "name=value" into a NUL-terminated name in buf. NULL if too long. */
static const char *prop_split(const char *prop, char *buf, size_t size, const char **value)
{
    size_t n = (size_t)(strchr(prop, '=') - prop);
    if (n >= size)
        return NULL;
    memcpy(buf, prop, n);
    buf[n] = '\0';
    *value = prop + n + 1;
    return buf;
}

static void free_all(void)
{
    free(opts.props);
    free(random_buf);
    free(file_data);
    free(file_payloads);
    free(st.last_offset);
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc) {
        free_all();
        return rc < 0 ? 0 : rc;
    }
    if (load_payloads()) {
        if (!file_data && !random_buf)
            fprintf(stderr, "%s: out of memory\n", KPERF_PROG);
        free_all();
        return 1;
    }
    epoch_us = mono_us();
    if (be_open(&opts, &transactional)) {
        free_all();
        return 1;
    }
    if (transactional) {
        if (opts.threads > 1) { /* transactional.id came from the properties */
            be_close();
            free_all();
            return usage_error("transactions need --threads 1%s", "");
        }
        if (!opts.txn_duration_ms)
            opts.txn_duration_ms = 3000; /* Java's DEFAULT_TRANSACTION_DURATION_MS */
        /* as Java: before the clock starts */
        if (be_txn_init()) {
            be_close();
            free_all();
            return 1;
        }
    }

    struct sender *senders = calloc((size_t)opts.threads, sizeof(*senders));
    if (!senders) {
        fprintf(stderr, "%s: out of memory\n", KPERF_PROG);
        be_close();
        free_all();
        return 1;
    }
    st.start_us = st.window_start_us = now_us();
    int started = 0;
    for (int i = 0; i < opts.threads; i++) {
        senders[i].tid = i;
        senders[i].n = opts.num_records / opts.threads + (i < opts.num_records % opts.threads);
        if (opts.threads == 1) {
            sender_main(&senders[i]); /* no extra thread for the common case */
            started = 1;
            break;
        }
        int err = pthread_create(&senders[i].thread, NULL, sender_main, &senders[i]);
        if (err) {
            fprintf(stderr, "%s: cannot start a thread: %s\n", KPERF_PROG, strerror(err));
            break;
        }
        started++;
    }
    if (opts.threads > 1)
        for (int i = 0; i < started; i++)
            pthread_join(senders[i].thread, NULL);
    int status = started == opts.threads || opts.threads == 1 ? 0 : 1;
    free(senders);

    /* As Kafka: with --print-metrics flush, print, then close; else close,
     * then print. Every callback has run when either returns. */
    if (opts.print_metrics) {
        be_flush();
        print_total();
        be_print_client_metrics();
    }
    int64_t close_start = now_us();
    be_close();
    close_s = (double)(now_us() - close_start) / 1e6;
    if (opts.print_metrics)
        print_metrics();
    else
        print_total();
    if (st.order_violations > 0)
        fprintf(stderr, "%s: %" PRId64 " acknowledgements arrived with an offset not above the "
                "previous one of their partition\n", KPERF_PROG, st.order_violations);
    int64_t failed = atomic_load(&errors);
    if (failed > 0) {
        fprintf(stderr, "%s: %" PRId64 " records failed\n", KPERF_PROG, failed);
        status = 1;
    }
    if (txn_aborts > 0) {
        fprintf(stderr, "%s: %" PRId64 " transactions aborted, %" PRId64 " committed\n",
                KPERF_PROG, txn_aborts, txn_commits);
        status = 1;
    }
    if (txn_failed) {
        fprintf(stderr, "%s: stopped by a failed transactional call after %" PRId64
                " transactions committed\n", KPERF_PROG, txn_commits);
        status = 1;
    }
    free_all();
    return status;
}

/* ======================================================================== */
#ifndef KPERF_EXTERNAL_BACKEND
/* ---- the kprod backend ------------------------------------------------- */

#include <kprod/kprod.h>
#include <poll.h>
#include <sys/eventfd.h>

static kp_producer_t *producer;

/* Delivery callback, on the producer's I/O thread (--mode poll: the poller
 * thread): the opaque pointer is the send time, so nothing is allocated per
 * record. */
static void on_delivery(const kp_record_metadata_t *md, kp_err_t err, void *opaque)
{
    if (err != KP_OK)
        perf_fail(kp_err_name(err), kp_err_str(err));
    else
        perf_ack((int64_t)(intptr_t)opaque, md->serialized_value_size, md->partition,
                 md->offset);
}

/* --mode batch: every record of a completed batch at once (I/O thread). */
static void on_batch(const kp_batch_result_t *b, void *opaque)
{
    (void)opaque;
    for (int32_t i = 0; i < b->count; i++) {
        const kp_batch_record_t *r = &b->records[i];
        if (r->err != KP_OK)
            perf_fail(kp_err_name(r->err), kp_err_str(r->err));
        else
            perf_ack((int64_t)(intptr_t)r->opaque, r->serialized_value_size, b->partition,
                     b->base_offset >= 0 ? b->base_offset + r->offset_delta : -1);
    }
}

/* --mode poll: one thread runs the completions. It waits with poll(2) on
 * the producer's completion fd and a control eventfd (flush and stop
 * requests), and runs at most 4096 completions per kp_poll call. A flush
 * (--print-metrics) must also see every callback run: the poller answers a
 * drain request once a kp_poll that began after the request found nothing
 * (all records were acknowledged, hence queued, before it was asked). */
static pthread_t poller;
static int poller_running, ctl_fd = -1;
static atomic_int poll_stop;
static atomic_long drain_asked;
static long drain_done; /* drain_lock */
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t drain_cond = PTHREAD_COND_INITIALIZER;

static void *poller_main(void *arg)
{
    (void)arg;
    struct pollfd fds[2] = {{.fd = kp_completion_fd(producer), .events = POLLIN},
                            {.fd = ctl_fd, .events = POLLIN}};
    for (;;) {
        long asked = atomic_load(&drain_asked);
        if (kp_poll(producer, 4096, 0) > 0)
            continue;
        pthread_mutex_lock(&drain_lock);
        if (asked > drain_done) {
            drain_done = asked;
            pthread_cond_broadcast(&drain_cond);
        }
        pthread_mutex_unlock(&drain_lock);
        if (atomic_load(&poll_stop))
            break;
        if (poll(fds, 2, -1) > 0 && (fds[1].revents & POLLIN)) {
            uint64_t v;
            if (read(ctl_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                break;
        }
    }
    return NULL;
}

static void poller_kick(void)
{
    uint64_t one = 1;
    if (write(ctl_fd, &one, sizeof one) < 0)
        fprintf(stderr, "%s: eventfd write: %s\n", KPERF_PROG, strerror(errno));
}

/* Wait until the poller has run every completion queued so far. */
static void poller_drain(void)
{
    if (!poller_running)
        return;
    long mine = atomic_fetch_add(&drain_asked, 1) + 1;
    poller_kick();
    pthread_mutex_lock(&drain_lock);
    while (drain_done < mine)
        pthread_cond_wait(&drain_cond, &drain_lock);
    pthread_mutex_unlock(&drain_lock);
}

static int poller_start(void)
{
    ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = ctl_fd < 0 ? errno : pthread_create(&poller, NULL, poller_main, NULL);
    if (rc) {
        fprintf(stderr, "%s: cannot start the poll thread: %s\n", KPERF_PROG, strerror(rc));
        return -1;
    }
    poller_running = 1;
    return 0;
}

static void poller_stop(void)
{
    if (!poller_running)
        return;
    atomic_store(&poll_stop, 1);
    poller_kick();
    pthread_join(poller, NULL);
    poller_running = 0;
    close(ctl_fd);
}

static int set_prop(kp_config_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (kp_config_set(conf, name, value, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "%s: %s\n", KPERF_PROG, errstr);
        return -1;
    }
    return 0;
}

static int be_open(const struct perf_opts *o, int *is_txn)
{
    char errstr[512], name[256];
    const char *value;
    kp_config_t *conf = kp_config_new();
    if (!conf) {
        fprintf(stderr, "%s: out of memory\n", KPERF_PROG);
        return -1;
    }
    if (o->config_file &&
        kp_config_load_file(conf, o->config_file, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "%s: %s: %s\n", KPERF_PROG, o->config_file, errstr);
        goto fail;
    }
    for (size_t i = 0; i < o->nprops; i++) {
        if (!prop_split(o->props[i], name, sizeof name, &value)) {
            fprintf(stderr, "%s: property name too long: %s\n", KPERF_PROG, o->props[i]);
            goto fail;
        }
        if (set_prop(conf, name, value))
            goto fail;
    }
    /* As Kafka's tool: raw byte values, and a client.id unless one is given. */
    if (set_prop(conf, "key.serializer", "bytes") || set_prop(conf, "value.serializer", "bytes"))
        goto fail;
    const char *cid = kp_config_get(conf, "client.id");
    if ((!cid || !*cid) && set_prop(conf, "client.id", "perf-producer-client"))
        goto fail;
    const char *txn_id = txn_id_to_set(kp_config_get(conf, "transactional.id"));
    if (txn_id && set_prop(conf, "transactional.id", txn_id))
        goto fail;
    const char *final_id = kp_config_get(conf, "transactional.id");
    *is_txn = final_id && *final_id;
    if (o->mode == MODE_POLL && set_prop(conf, "completion.mode", "queue"))
        goto fail;
    if (o->mode == MODE_BATCH)
        kp_config_set_batch_callback(conf, on_batch, NULL);
    producer = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    conf = NULL;
    if (!producer) {
        fprintf(stderr, "%s: cannot create producer: %s\n", KPERF_PROG, errstr);
        return -1;
    }
    if (o->mode == MODE_POLL && poller_start()) {
        be_close();
        return -1;
    }
    int32_t n = 0;
    kp_err_t pe = kp_partitions_for(producer, o->topic, &n);
    if (pe) {
        fprintf(stderr, "%s: topic %s: %s: %s\n", KPERF_PROG, o->topic, kp_err_name(pe),
                kp_err_str(pe));
        be_close();
        return -1;
    }
    return 0;
fail:
    kp_config_destroy(conf);
    return -1;
}

static void be_send(int tid, const void *value, int len, int64_t send_us)
{
    (void)tid;
    kp_record_t rec = {.topic = opts.topic, .partition = KP_PARTITION_ANY,
                       .value = value, .value_len = len};
    /* --mode batch: the batch callback gets the opaque */
    kp_err_t err = kp_send(producer, &rec, opts.mode == MODE_BATCH ? NULL : on_delivery,
                           (void *)(intptr_t)send_us);
    if (err != KP_OK)
        perf_fail(kp_err_name(err), kp_err_str(err));
}

static int be_send_sync(int tid, const void *value, int len)
{
    (void)tid;
    kp_record_t rec = {.topic = opts.topic, .partition = KP_PARTITION_ANY,
                       .value = value, .value_len = len};
    kp_err_t err = kp_send_sync(producer, &rec, -1, NULL);
    if (err != KP_OK) {
        perf_fail(kp_err_name(err), kp_err_str(err));
        return -1;
    }
    return 0;
}

/* "group:name:{tags}" and its value, for sorting */
struct client_metric {
    char *key;
    double value;
};

static int by_key(const void *a, const void *b) {
    return strcmp(((const struct client_metric *)a)->key, ((const struct client_metric *)b)->key);
}

static void be_print_client_metrics(void)
{
    kp_metrics_t *m = kp_metrics_snapshot(producer);
    if (!m) {
        fprintf(stderr, "%s: no metrics snapshot (out of memory)\n", KPERF_PROG);
        return;
    }
    size_t n = kp_metrics_count(m), width = 0;
    struct client_metric *v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++) {
        const kp_metric_t *x = kp_metrics_at(m, i);
        size_t len = strlen(x->group) + strlen(x->name) + strlen(x->tags) + 5;
        v[i].key = malloc(len);
        if (v[i].key)
            snprintf(v[i].key, len, "%s:%s:{%s}", x->group, x->name, x->tags);
        v[i].value = x->value;
        if (v[i].key && strlen(v[i].key) > width)
            width = strlen(v[i].key);
    }
    if (v) {
        qsort(v, n, sizeof(*v), by_key);
        printf("\n%-*s   %s\n", (int)width, "Metric Name", "Value");
        for (size_t i = 0; i < n; i++)
            if (v[i].key && isnan(v[i].value)) /* (Java prints NaN so) */
                printf("%-*s : NaN\n", (int)width, v[i].key);
            else if (v[i].key)
                printf("%-*s : %.3f\n", (int)width, v[i].key, v[i].value);
        for (size_t i = 0; i < n; i++)
            free(v[i].key);
        free(v);
    }
    fflush(stdout);
    kp_metrics_destroy(m);
}

static void be_flush(void)
{
    kp_err_t err = kp_flush(producer, -1);
    if (err != KP_OK)
        fprintf(stderr, "%s: flush: %s: %s\n", KPERF_PROG, kp_err_name(err), kp_err_str(err));
    poller_drain(); /* flush waits for the broker, not for the poller */
}

/* How long one transactional call waits (Java's max.block.ms default), and
 * how many times a call that failed with a retriable error is made again
 * (KP_ERR_TIMED_OUT: it resumes where it was). */
#define TXN_CALL_TIMEOUT_MS 60000
#define TXN_CALL_TRIES 5

static void txn_report(const char *call, kp_err_t err)
{
    kp_err_t cause = kp_txn_error(producer);
    if (cause != KP_OK && cause != err)
        fprintf(stderr, "%s: %s: %s: %s (cause: %s: %s)\n", KPERF_PROG, call, kp_err_name(err),
                kp_err_str(err), kp_err_name(cause), kp_err_str(cause));
    else
        fprintf(stderr, "%s: %s: %s: %s\n", KPERF_PROG, call, kp_err_name(err),
                kp_err_str(err));
}

/* One transactional call with a timeout, made again on a retriable error. */
static kp_err_t txn_call(kp_err_t (*call)(kp_producer_t *, int64_t), const char *name)
{
    kp_err_t err = KP_OK;
    for (int i = 0; i < TXN_CALL_TRIES; i++) {
        err = call(producer, TXN_CALL_TIMEOUT_MS);
        if (kp_err_class(err) != KP_ERR_CLASS_RETRIABLE)
            break;
        txn_report(name, err); /* and again */
    }
    return err;
}

static int be_txn_init(void)
{
    kp_err_t err = txn_call(kp_init_transactions, "init_transactions");
    if (err != KP_OK) {
        txn_report("init_transactions", err);
        return -1;
    }
    return 0;
}

static int be_txn_begin(void)
{
    kp_err_t err = kp_begin_transaction(producer);
    if (err != KP_OK) {
        txn_report("begin_transaction", err);
        return -1;
    }
    return 0;
}

static enum txn_outcome be_txn_commit(void)
{
    kp_err_t err = txn_call(kp_commit_transaction, "commit_transaction");
    if (err == KP_OK)
        return TXN_COMMITTED;
    txn_report("commit_transaction", err);
    if (kp_err_class(err) != KP_ERR_CLASS_ABORTABLE)
        return TXN_FATAL; /* fatal, or retried in vain */
    err = txn_call(kp_abort_transaction, "abort_transaction");
    if (err != KP_OK) {
        txn_report("abort_transaction", err);
        return TXN_FATAL;
    }
    return TXN_ABORTED;
}

static void be_close(void)
{
    if (!producer)
        return;
    kp_err_t err = kp_close(producer, -1);
    if (err != KP_OK)
        fprintf(stderr, "%s: close: %s: %s\n", KPERF_PROG, kp_err_name(err), kp_err_str(err));
    poller_stop(); /* after close: it runs what close handed back, then ends */
    kp_producer_destroy(producer);
    producer = NULL;
}

#endif /* !KPERF_EXTERNAL_BACKEND */

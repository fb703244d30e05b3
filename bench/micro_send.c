/*
 * micro_send — what kp_send() costs the calling thread, against a real
 * (in-process, librdkafka mock) cluster of 3 brokers and one topic of 6
 * partitions. This is the append path alone: interceptors (none),
 * serializers, topic lookup, partitioner, the partition lock and the
 * encoding of a 100-byte record into its batch. The brokers are taken down
 * while the senders run, so that the cluster's own threads and the network
 * do not share the two cores with them: batches queue in memory (the I/O
 * thread still scans them, taking the partition locks as it does in real
 * use), and are delivered once the brokers are back. Each producer first
 * sends the same records once with the brokers up (not timed), so that the
 * timed round reuses pooled batch buffers instead of faulting in new
 * memory.
 *
 * For 1 and 4 application threads, unkeyed (sticky partitioner) and keyed
 * (murmur2) records, it prints nanoseconds of wall time per record and of
 * the sending threads' CPU time per record (CLOCK_THREAD_CPUTIME_ID), the
 * best of 3 runs. Compare before/after a change on one machine:
 *   build/bench/micro_send [records-per-thread]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kprod/kprod.h"
#include "mockcluster.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct job {
    kp_producer_t *p;
    int keyed, id;
    long n;
    double cpu_s;
    long failed;
} job_t;

static void *sender(void *arg) {
    job_t *j = arg;
    char value[100], keys[1024][16]; /* made before the clock starts */
    memset(value, 'v', sizeof(value));
    for (int k = 0; k < 1024; k++)
        snprintf(keys[k], sizeof(keys[k]), "k%d-%d", j->id, k);
    kp_record_t r = {.topic = "micro", .partition = KP_PARTITION_ANY, .value = value,
                     .value_len = sizeof(value), .timestamp = KP_TIMESTAMP_NOW};
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < j->n; i++) {
        if (j->keyed) {
            r.key = keys[i & 1023];
            r.key_len = (int32_t)strlen(keys[i & 1023]);
        }
        if (kp_send(j->p, &r, NULL, NULL) != KP_OK)
            j->failed++;
    }
    j->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static void quiet(int level, const char *msg, void *opaque) {
    (void)level, (void)msg, (void)opaque; /* brokers going down: expected */
}

/* `threads` senders of n records each; returns their CPU seconds. */
static double send_all(kp_producer_t *p, int threads, int keyed, long n) {
    job_t jobs[4];
    pthread_t th[4];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job_t){.p = p, .keyed = keyed, .id = i, .n = n};
        pthread_create(&th[i], NULL, sender, &jobs[i]);
    }
    double cpu = 0;
    long failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        cpu += jobs[i].cpu_s;
        failed += jobs[i].failed;
    }
    return failed ? -1 : cpu;
}

static void brokers_up(mockcluster_t *mc, int up) {
    for (int b = 1; b <= 3; b++)
        if (up)
            rd_kafka_mock_broker_set_up(mockcluster_handle(mc), b);
        else
            rd_kafka_mock_broker_set_down(mockcluster_handle(mc), b);
}

/* One run: a fresh producer, a warm-up round, the timed round. */
static int run(mockcluster_t *mc, int threads, int keyed, long n, double *wall_ns,
               double *cpu_ns) {
    kp_config_t *c = kp_config_new();
    char err[256];
    if (kp_config_set(c, "bootstrap.servers", mockcluster_bootstraps(mc), err, sizeof(err)) ||
        kp_config_set(c, "batch.size", "1000000", err, sizeof(err)) ||
        kp_config_set(c, "linger.ms", "5", err, sizeof(err)) ||
        kp_config_set(c, "buffer.memory", "1073741824", err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        kp_config_destroy(c);
        return -1;
    }
    kp_config_set_log(c, quiet, NULL);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    if (!p) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    int32_t np = 0;
    if (kp_partitions_for(p, "micro", &np) || np <= 0) { /* metadata first: not timed */
        fprintf(stderr, "no metadata for topic micro\n");
        kp_producer_destroy(p);
        return -1;
    }
    double cpu = send_all(p, threads, keyed, n);
    kp_err_t e = cpu < 0 ? KP_ERR_UNKNOWN : kp_flush(p, 60000);
    brokers_up(mc, 0);
    double t0 = clock_s(CLOCK_MONOTONIC);
    if (!e)
        cpu = send_all(p, threads, keyed, n);
    double wall = clock_s(CLOCK_MONOTONIC) - t0;
    brokers_up(mc, 1);
    if (!e)
        e = kp_close(p, 60000);
    kp_producer_destroy(p);
    if (cpu < 0 || e) {
        fprintf(stderr, "sends failed (%s)\n", kp_err_name(e));
        return -1;
    }
    *wall_ns = wall * 1e9 / ((double)n * threads);
    *cpu_ns = cpu * 1e9 / ((double)n * threads);
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 500000;
    mockcluster_t *mc = mockcluster_start(3, "micro", 6);
    if (!mc)
        return 1;
    static const struct {
        int threads, keyed;
        const char *name;
    } cases[] = {{1, 0, "1 thread,  no key "},
                 {1, 1, "1 thread,  keyed  "},
                 {4, 0, "4 threads, no key "},
                 {4, 1, "4 threads, keyed  "}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        double best_wall = 0, best_cpu = 0;
        for (int r = 0; r < 3; r++) {
            double w, cpu;
            if (run(mc, cases[k].threads, cases[k].keyed, n, &w, &cpu)) {
                mockcluster_destroy(mc);
                return 1;
            }
            if (!r || w < best_wall)
                best_wall = w;
            if (!r || cpu < best_cpu)
                best_cpu = cpu;
        }
        printf("kp_send, %s: %6.1f ns wall/record, %6.1f ns CPU/record\n", cases[k].name,
               best_wall, best_cpu);
    }
    mockcluster_destroy(mc);
    return 0;
}

/*
 * scale — kprod at many partitions and many topics (issue 10's scale
 * figures), against a cluster given on the command line (kprod-mock):
 *
 *   scale BOOTSTRAP idle TOPIC       CPU per second at 10 records/s with random
 *                                    keys over every partition of TOPIC (after
 *                                    one record to each), for 10 s
 *   scale BOOTSTRAP keyed TOPIC N    N x 100 B records, random keys: CPU us/record
 *   scale BOOTSTRAP topics PREFIX N  N new topics one after another (the broker
 *                                    auto-creates them), one record each: seconds,
 *                                    and the CPU of a send to the last one
 *
 * CPU is the process's user+sys (the cluster runs in its own process).
 * Figures are printed, never asserted: this is a benchmark.
 */
#include <kprod/kprod.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static kp_producer_t *producer(const char *boot) {
    char err[512];
    kp_config_t *c = kp_config_new();
    if (kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return p;
}

static kp_err_t send_keyed(kp_producer_t *p, const char *topic, int32_t partition,
                           uint64_t *rng) {
    static const char value[100] = "scale";
    char key[24];
    *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
    snprintf(key, sizeof(key), "%llu", (unsigned long long)*rng);
    kp_record_t r = {.topic = topic, .partition = partition, .key = key, .value = value,
                     .value_len = sizeof(value)};
    return kp_send(p, &r, NULL, NULL);
}

static int idle(kp_producer_t *p, const char *topic) {
    int32_t n = 0;
    kp_partitions_for(p, topic, &n);
    uint64_t rng = 88172645463325252ull;
    for (int32_t i = 0; i < n; i++)
        send_keyed(p, topic, i, &rng);
    kp_flush(p, 60000);
    double c0 = cpu_s();
    struct timespec tenth = {0, 100000000};
    for (int i = 0; i < 100; i++) {
        send_keyed(p, topic, KP_PARTITION_ANY, &rng);
        nanosleep(&tenth, NULL);
    }
    printf("idle: %d partitions, 10 records/s: %.2f ms CPU per second\n", n,
           (cpu_s() - c0) * 1000 / 10.0);
    return 0;
}

static int keyed(kp_producer_t *p, const char *topic, long n) {
    uint64_t rng = 88172645463325252ull;
    int32_t np = 0;
    kp_partitions_for(p, topic, &np);
    printf("keyed: %d partitions\n", np);
    double c0 = cpu_s(), w0 = wall_s();
    for (long i = 0; i < n; i++)
        if (send_keyed(p, topic, KP_PARTITION_ANY, &rng))
            return 1;
    kp_flush(p, 120000);
    printf("keyed: %ld x 100 B: %.3f us CPU per record, %.0f records/s\n", n,
           (cpu_s() - c0) * 1e6 / (double)n, (double)n / (wall_s() - w0));
    return 0;
}

static int topics(kp_producer_t *p, const char *prefix, long n) {
    char name[128];
    double w0 = wall_s();
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s-%ld", prefix, i);
        kp_record_t r = {.topic = name, .partition = KP_PARTITION_ANY, .value = "v"};
        kp_err_t e = kp_send(p, &r, NULL, NULL);
        if (e) {
            fprintf(stderr, "topic %s: %s\n", name, kp_err_name(e));
            return 1;
        }
    }
    double took = wall_s() - w0;
    kp_flush(p, 120000);
    snprintf(name, sizeof(name), "%s-%ld", prefix, n - 1);
    kp_record_t r = {.topic = name, .partition = KP_PARTITION_ANY, .value = "v"};
    enum { K = 200000 };
    double c0 = cpu_s();
    for (int i = 0; i < K; i++)
        kp_send(p, &r, NULL, NULL);
    double per = (cpu_s() - c0) * 1e6 / K;
    kp_flush(p, 120000);
    printf("topics: %ld new topics in %.2f s (%.2f ms each); a send to the last one: %.3f us "
           "CPU\n",
           n, took, took * 1000 / (double)n, per);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: scale BOOTSTRAP idle TOPIC | keyed TOPIC N | topics PREFIX N\n");
        return 2;
    }
    kp_producer_t *p = producer(argv[1]);
    int rc = 2;
    if (!strcmp(argv[2], "idle"))
        rc = idle(p, argv[3]);
    else if (!strcmp(argv[2], "keyed") && argc > 4)
        rc = keyed(p, argv[3], atol(argv[4]));
    else if (!strcmp(argv[2], "topics") && argc > 4)
        rc = topics(p, argv[3], atol(argv[4]));
    kp_close(p, 30000);
    kp_producer_destroy(p);
    return rc;
}

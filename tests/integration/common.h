/*
 * common — helpers shared by the integration tests: a producer configured
 * for the mock cluster, and a delivery tracker that counts callbacks.
 */
#ifndef KPROD_TEST_COMMON_H
#define KPROD_TEST_COMMON_H

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "mockcluster.h"
#include "readback.h"
#include "test.h"

/* A configuration: bootstrap plus the name/value pairs of ap,
 * NULL-terminated; NULL (and the test fails, saying why) when one is
 * refused. For tests that set callbacks before making the producer. */
static inline kp_config_t *make_config_va(const char *bootstraps, va_list ap) {
    char err[512];
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    if (kp_config_set(c, "bootstrap.servers", bootstraps, err, sizeof(err))) {
        FAIL("config: %s", err);
        kp_config_destroy(c);
        return NULL;
    }
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (kp_config_set(c, k, v, err, sizeof(err))) {
            FAIL("config %s=%s: %s", k, v, err);
            kp_config_destroy(c);
            return NULL;
        }
    }
    return c;
}

/* The producer of configuration c, which is destroyed (NULL: NULL). */
static inline kp_producer_t *producer_from(kp_config_t *c) {
    char err[512];
    if (!c)
        return NULL;
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    kp_config_destroy(c);
    return p;
}

/* The same with the pairs as arguments, NULL-terminated. */
static inline kp_config_t *make_config(const char *bootstraps, ...) {
    va_list ap;
    va_start(ap, bootstraps);
    kp_config_t *c = make_config_va(bootstraps, ap);
    va_end(ap);
    return c;
}

/* Make a producer: bootstrap plus name/value pairs, NULL-terminated. */
static inline kp_producer_t *make_producer(const char *bootstraps, ...) {
    va_list ap;
    va_start(ap, bootstraps);
    kp_config_t *c = make_config_va(bootstraps, ap);
    va_end(ap);
    return producer_from(c);
}

/* This process's resident memory in KiB (/proc/self/statm), 0 if unknown. */
/* A record of NUL-terminated key (NULL: none) and value for any partition. */
static inline kp_record_t rec_str(const char *topic, const char *key, const char *value) {
    kp_record_t r = {0};
    r.topic = topic;
    r.partition = KP_PARTITION_ANY;
    r.key = key;
    r.key_len = key ? (int32_t)strlen(key) : 0;
    r.value = value;
    r.value_len = value ? (int32_t)strlen(value) : 0;
    return r;
}

static inline long test_rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One slot per record: what its completion said. */
typedef struct delivery {
    atomic_int calls;
    int err;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    int persisted;
    int64_t when_ms;
} delivery_t;

typedef struct tracker {
    delivery_t *d;
    size_t n;
    atomic_long done;
    atomic_long failed;
} tracker_t;

static inline void tracker_init(tracker_t *t, size_t n) {
    t->d = calloc(n, sizeof(*t->d));
    t->n = n;
    atomic_init(&t->done, 0);
    atomic_init(&t->failed, 0);
}

static inline void tracker_free(tracker_t *t) { free(t->d); }

/* The callback's opaque is the delivery slot; the tracker is found through
 * a pointer stored just before... simpler: slots know nothing, so pass a
 * struct pointer. */
typedef struct slot_ref {
    tracker_t *t;
    size_t i;
} slot_ref_t;

static inline void tracker_cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    slot_ref_t *r = opaque;
    delivery_t *d = &r->t->d[r->i];
    if (atomic_fetch_add(&d->calls, 1) != 0)
        FAIL("record %zu completed more than once", r->i);
    if (!md) {
        FAIL("record %zu: NULL metadata", r->i);
    } else {
        d->partition = md->partition;
        d->offset = md->offset;
        d->timestamp = md->timestamp;
        d->persisted = md->persisted;
    }
    d->err = err;
    d->when_ms = test_now_ms();
    if (err)
        atomic_fetch_add(&r->t->failed, 1);
    atomic_fetch_add(&r->t->done, 1);
}

static inline int tracker_all_done_(void *arg) {
    tracker_t *t = arg;
    return (size_t)atomic_load(&t->done) >= t->n;
}

static inline int tracker_wait(tracker_t *t, int timeout_ms) {
    return wait_until(tracker_all_done_, t, timeout_ms);
}

#endif

/*
 * logcap — a log callback that keeps every line a producer logs (level and
 * text), for tests that assert on what kprod says; and a producer made
 * with it. Header-only, shared by the integration tests that read logs.
 * KPROD_TEST_LOG=1 in the environment also prints each line as it comes.
 */
#ifndef KPROD_TEST_LOGCAP_H
#define KPROD_TEST_LOGCAP_H

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct logline {
    int level;
    char *msg;
} logline_t;

typedef struct logcap {
    pthread_mutex_t mu;
    logline_t *v;
    size_t n, cap;
    int verbose;
} logcap_t;

static inline void logcap_init(logcap_t *lc) {
    memset(lc, 0, sizeof(*lc));
    pthread_mutex_init(&lc->mu, NULL);
    const char *e = getenv("KPROD_TEST_LOG");
    lc->verbose = e && *e && strcmp(e, "0") != 0;
}

static inline void logcap_free(logcap_t *lc) {
    for (size_t i = 0; i < lc->n; i++)
        free(lc->v[i].msg);
    free(lc->v);
    pthread_mutex_destroy(&lc->mu);
}

static inline void log_cb(int level, const char *msg, void *opaque) {
    logcap_t *lc = opaque;
    char *copy = strdup(msg);
    pthread_mutex_lock(&lc->mu);
    if (lc->verbose)
        fprintf(stderr, "  [log %d] %s\n", level, msg);
    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 256;
        logline_t *nv = realloc(lc->v, cap * sizeof(*nv));
        if (!nv) {
            pthread_mutex_unlock(&lc->mu);
            free(copy);
            FAIL("log capture: out of memory");
            return;
        }
        lc->v = nv;
        lc->cap = cap;
    }
    if (copy)
        lc->v[lc->n++] = (logline_t){level, copy};
    pthread_mutex_unlock(&lc->mu);
}

static inline size_t logcap_count(logcap_t *lc) {
    pthread_mutex_lock(&lc->mu);
    size_t n = lc->n;
    pthread_mutex_unlock(&lc->mu);
    return n;
}

/* Lines from index `from` on at level <= max_level containing every one of
 * the (case-insensitive) words given (NULL-terminated); printed with
 * `label` when label is not NULL. */
static inline int logcap_matches(logcap_t *lc, size_t from, int max_level, const char *label, ...) {
    const char *words[8];
    int nw = 0;
    va_list ap;
    va_start(ap, label);
    const char *w;
    while ((w = va_arg(ap, const char *)) && nw < 8)
        words[nw++] = w;
    va_end(ap);
    int count = 0;
    pthread_mutex_lock(&lc->mu);
    for (size_t i = from; i < lc->n; i++) {
        if (lc->v[i].level > max_level)
            continue;
        int all = 1;
        for (int k = 0; k < nw && all; k++)
            all = strcasestr(lc->v[i].msg, words[k]) != NULL;
        if (!all)
            continue;
        count++;
        if (label)
            fprintf(stderr, "    %s: [%d] %s\n", label, lc->v[i].level, lc->v[i].msg);
    }
    pthread_mutex_unlock(&lc->mu);
    return count;
}

/* A producer logging into lc: bootstrap plus name/value pairs, NULL-
 * terminated. On failure returns NULL with the error text in err (the
 * failing kp_config_set's or kp_producer_new's). */
static inline kp_producer_t *producer_v(logcap_t *lc, char *err, size_t errsz, const char *boot,
                                 va_list ap) {
    kp_config_t *c = kp_config_new();
    if (!c) {
        snprintf(err, errsz, "kp_config_new failed");
        return NULL;
    }
    kp_producer_t *p = NULL;
    if (kp_config_set(c, "bootstrap.servers", boot, err, errsz))
        goto out;
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (kp_config_set(c, k, v, err, errsz))
            goto out;
    }
    if (lc)
        kp_config_set_log(c, log_cb, lc);
    p = kp_producer_new(c, err, errsz);
out:
    kp_config_destroy(c);
    return p;
}

/* producer_v with the arguments given: NULL (err says why) on failure. */
static inline kp_producer_t *producer_e(logcap_t *lc, char *err, size_t errsz, const char *boot,
                                        ...) {
    va_list ap;
    va_start(ap, boot);
    kp_producer_t *p = producer_v(lc, err, errsz, boot, ap);
    va_end(ap);
    return p;
}

#endif

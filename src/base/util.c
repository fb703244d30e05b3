/* util — small helpers shared by every module. */
#include "base/alloc.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *kp_strdup(const char *s) { return s ? kp_strndup(s, strlen(s)) : NULL; }

char *kp_strndup(const char *s, size_t n) {
    char *d = kp_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

void kp_errf(char *buf, size_t size, const char *fmt, ...) {
    if (!buf || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* The test clock (kp_test_clock_set): -1, or the microseconds it reads. */
static _Atomic int64_t test_clock_us = -1;

void kp_test_clock_set(int64_t ms) { atomic_store(&test_clock_us, ms < 0 ? -1 : ms * 1000); }
void kp_test_clock_advance(int64_t ms) { atomic_fetch_add(&test_clock_us, ms * 1000); }

int64_t kp_mono_us(void) {
    int64_t t = atomic_load_explicit(&test_clock_us, memory_order_relaxed);
    if (__builtin_expect(t >= 0, 0))
        return t;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kp_mono_ms(void) { return kp_mono_us() / 1000; }

static int64_t wall_ms_read(int32_t *ns_left) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ns_left = 1000000 - (int32_t)(ts.tv_nsec % 1000000); /* until the next ms */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <x86intrin.h>

/* Every record sent with KP_TIMESTAMP_NOW needs the wall clock in ms, and
 * clock_gettime() costs ~26 ns on this kind of VM (bench/micro): a quarter
 * of the sending thread's time for 100 B records. The millisecond changes
 * only once per ms, so: after a real read, the same ms is returned for as
 * long as the TSC (a few ns to read) shows that less time has passed than
 * was left of that ms — counting at most 0.5 TSC ticks per ns, i.e.
 * assuming a TSC of at least 500 MHz, so the answer is never stale; a
 * faster TSC only makes the window shorter. A TSC that is not invariant
 * (CPUID 0x80000007 EDX bit 8) is not used. A thread moved to a core whose
 * TSC is behind sees a huge difference (unsigned) and reads the clock. */
static int tsc_invariant(void) {
    static int cached = -1; /* benign race: every thread computes the same */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        unsigned a, b, c, d;
        v = __get_cpuid(0x80000007, &a, &b, &c, &d) ? (int)((d >> 8) & 1) : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

int64_t kp_wall_ms(void) {
    static KP_TLS uint64_t tsc0, window;
    static KP_TLS int64_t ms0;
    uint64_t t = __rdtsc();
    if (t - tsc0 < window)
        return ms0;
    int32_t left;
    int64_t ms = wall_ms_read(&left);
    if (tsc_invariant()) {
        tsc0 = t; /* read before the clock: the window starts no later */
        window = (uint64_t)left / 2;
        ms0 = ms;
    }
    return ms;
}
#else
int64_t kp_wall_ms(void) {
    int32_t left;
    return wall_ms_read(&left);
}
#endif

int kp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms) {
    if (deadline_ms == INT64_MAX)
        return pthread_cond_wait(c, m), 0;
    int64_t left = deadline_ms - kp_mono_ms();
    if (left <= 0)
        return -1;
    /* the deadline may be on the test clock: wait that long on the real one */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t until = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + left;
    ts.tv_sec = until / 1000;
    ts.tv_nsec = (until % 1000) * 1000000;
    pthread_cond_timedwait(c, m, &ts);
    return 0;
}

uint64_t kp_rand(uint64_t *s) {
    if (!*s)
        *s = 0x9E3779B97F4A7C15ull ^ (uint64_t)kp_mono_us();
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int64_t kp_jitter(int64_t value, uint64_t *rng) {
    /* uniform in [0.8, 1.2] */
    double f = 0.8 + 0.4 * (double)(kp_rand(rng) >> 11) / (double)(1ull << 53);
    return (int64_t)((double)value * f);
}

int64_t kp_backoff(int64_t base, int64_t max, int attempts, uint64_t *rng) {
    if (base >= max)
        return max; /* Java: a constant max when base exceeds it */
    int64_t v = base;
    for (int i = 0; i < attempts && v < max; i++)
        v *= 2;
    if (v > max)
        v = max;
    return kp_jitter(v, rng);
}

void *kp_grow(void *items, int n, int *cap, size_t elem, int first) {
    if (n < *cap)
        return items;
    int ncap = *cap ? *cap * 2 : first;
    void *p = kp_realloc(items, (size_t)ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

void kp_cond_init_mono(pthread_cond_t *c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

int kp_fd_above_std(int fd) {
    if (fd < 0 || fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return nfd;
}

int kp_stack_push(kp_stack_t *s, void *x) {
    void **v = kp_grow(s->v, s->n, &s->cap, sizeof(*v), 16);
    if (!v)
        return -1;
    s->v = v;
    s->v[s->n++] = x;
    return 0;
}

int kp_ptab_push(kp_ptab_t *_Atomic *pt, void *x) {
    kp_ptab_t *t = atomic_load_explicit(pt, memory_order_relaxed); /* we are the writer */
    size_t n = t ? atomic_load_explicit(&t->n, memory_order_relaxed) : 0;
    if (!t || n == t->cap) {
        size_t cap = t ? t->cap * 2 : 8;
        kp_ptab_t *nt = kp_malloc(sizeof(*nt) + cap * sizeof(void *));
        if (!nt)
            return -1;
        nt->prev = t;
        nt->cap = cap;
        if (n)
            memcpy(nt->v, t->v, n * sizeof(void *));
        nt->v[n] = x;
        atomic_init(&nt->n, n + 1);
        atomic_store_explicit(pt, nt, memory_order_release);
        return 0;
    }
    t->v[n] = x;
    atomic_store_explicit(&t->n, n + 1, memory_order_release);
    return 0;
}

void kp_ptab_free(kp_ptab_t *t) {
    while (t) {
        kp_ptab_t *prev = t->prev;
        free(t);
        t = prev;
    }
}

void kp_logf(const kp_logger_t *lg, int level, const char *fmt, ...) {
    if (!lg->cb && level > lg->level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (lg->cb)
        lg->cb(level, msg, lg->opaque);
    else
        fprintf(stderr, "kprod %s [%s]: %s\n",
                level <= 3 ? "ERROR" : level == 4 ? "WARN" : level <= 6 ? "INFO" : "DEBUG",
                lg->name ? lg->name : "", msg);
}

/* util — small helpers shared by every module: strings, clocks, logging. */
#ifndef KP_UTIL_H
#define KP_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Thread-local storage read on the send path (per record): the
 * initial-exec model makes it one instruction from a shared library too,
 * instead of a __tls_get_addr() call; the few bytes come from the static
 * TLS space glibc keeps spare for libraries, also when dlopen()ed. */
#if defined(__GNUC__)
#define KP_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define KP_TLS _Thread_local
#endif

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

char *kp_strdup(const char *s);
char *kp_strndup(const char *s, size_t n);
/* snprintf into an error buffer that may be NULL. */
void kp_errf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Where log lines go: the application's callback, or else stderr up to a
 * level. Each module logs through the logger it was given. */
typedef struct kp_logger {
    void (*cb)(int level, const char *msg, void *opaque);
    void *opaque;
    int level;        /* stderr threshold when there is no callback */
    const char *name; /* names the client on stderr lines */
} kp_logger_t;
void kp_logf(const kp_logger_t *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Monotonic milliseconds / microseconds (deadlines, backoff). */
int64_t kp_mono_ms(void);
int64_t kp_mono_us(void);
/* The producer clock tests can drive (a seam, like kp_alloc_fail_after):
 * once set, kp_mono_ms/us read `ms` for every producer of the process, and
 * time moves only by kp_test_clock_advance (the test wakes a producer whose
 * timers it moved); a negative ms goes back to CLOCK_MONOTONIC. Timed waits
 * (kp_cond_wait_until) wait the remaining test time in real time. */
void kp_test_clock_set(int64_t ms);
void kp_test_clock_advance(int64_t ms);
/* Wall-clock milliseconds since the epoch (record timestamps). */
int64_t kp_wall_ms(void);

/* Initialise a condition variable that waits on CLOCK_MONOTONIC (for
 * kp_cond_wait_until). */
void kp_cond_init_mono(pthread_cond_t *c);
/* Wait on c (created with CLOCK_MONOTONIC, m held) until woken or the
 * monotonic deadline; INT64_MAX waits without limit. Returns -1 without
 * waiting once the deadline has passed, else 0 (the caller re-checks its
 * condition: wake-ups may be spurious). */
int kp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms);

/* xorshift64: a cheap pseudo-random number; a zero state seeds itself
 * from the clock. */
uint64_t kp_rand(uint64_t *state);
/* value * (1 +- 0.2), the Java client's backoff jitter; state is per caller. */
int64_t kp_jitter(int64_t value, uint64_t *rng);
/* Exponential backoff: base * 2^attempts capped at max, with jitter. */
int64_t kp_backoff(int64_t base, int64_t max, int attempts, uint64_t *rng);

/* Room for one more element in a growable array of *cap elements of elem
 * bytes, n of them in use: items itself while n < *cap, else the array
 * reallocated to twice the size (first elements at first) with *cap
 * updated. NULL when out of memory (items and *cap unchanged). */
void *kp_grow(void *items, int n, int *cap, size_t elem, int first);

/* fd itself when it is above the standard descriptors 0-2, else a
 * close-on-exec duplicate at 3 or above (fd closed). A library must never
 * take 0-2: an application started with stdin closed would find our eventfd
 * or socket where it reads its input. -1 (fd closed, errno set) on failure. */
int kp_fd_above_std(int fd);

/* A stack of pointers (free lists). Push keeps x unless the stack cannot
 * grow (-1: the caller still owns x). Empty it with pop, then free(v). */
typedef struct kp_stack {
    void **v;
    int n, cap;
} kp_stack_t;
int kp_stack_push(kp_stack_t *s, void *x);
static inline void *kp_stack_pop(kp_stack_t *s) { return s->n ? s->v[--s->n] : NULL; }

/* kp_ptab — a table of pointers that readers walk without a lock while one
 * writer at a time (holding the owner's lock) appends. Why: the topic list
 * and each topic's partition list are read for every record sent and
 * changed almost never, so a send takes no lock to find its partition.
 *
 * An append within capacity stores the item, then publishes the count
 * (release). Growth copies into a table twice the size and publishes that
 * table (release); the old one stays allocated, chained behind the new, as
 * a reader may still be using it, and is freed with it by kp_ptab_free()
 * (tables only grow, and rarely: the chain is short). */
typedef struct kp_ptab {
    struct kp_ptab *prev;
    _Atomic size_t n;
    size_t cap;
    void *v[];
} kp_ptab_t;

/* The items (valid as long as the table's owner) and their count. */
static inline size_t kp_ptab_get(kp_ptab_t *_Atomic const *pt, void *const **items) {
    kp_ptab_t *t = atomic_load_explicit(pt, memory_order_acquire);
    *items = t ? t->v : NULL;
    return t ? atomic_load_explicit(&t->n, memory_order_acquire) : 0;
}
/* Append x (the caller holds the writers' lock). -1 when out of memory. */
int kp_ptab_push(kp_ptab_t *_Atomic *pt, void *x);
void kp_ptab_free(kp_ptab_t *t);

#endif

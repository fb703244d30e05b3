/*
 * tsan_c11threads — thrd_create() on top of pthread_create(), for TSan
 * builds only.
 *
 * Why this exists: GCC 12's ThreadSanitizer runtime intercepts pthread_*()
 * but not the C11 <threads.h> functions, and glibc (2.34+) implements
 * thrd_create() by calling its internal pthread_create directly. A thread
 * started with thrd_create() is therefore unknown to TSan, and the first
 * malloc() on it crashes inside the TSan allocator (SEGV at a small address
 * in SizeClassAllocator64LocalCache::Allocate).
 *
 * Debian's librdkafka is built with C11 threads (builtin feature
 * C11THREADS). Linking this file into a TSan test executable interposes
 * the thread lifecycle functions: the executable's definitions take
 * precedence over glibc's, for librdkafka.so too, and forward to the
 * pthread functions TSan intercepts, so TSan knows every thread and the
 * create/join edges.
 *
 * librdkafka's mtx_*()/cnd_*() are deliberately NOT interposed. Its code is
 * not instrumented, so TSan cannot see the atomics it publishes objects
 * with; making its locks visible only produces reports such as "mutex
 * locked on one thread, initialised on another without synchronisation".
 * Instead tsan.supp ignores memory accesses by interceptors called from
 * librdkafka.so (called_from_lib). kprod uses pthreads, which TSan sees in
 * full.
 *
 * Not used in the plain or ASan builds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is not a pthread_t");

/* The interposed functions, declared once more so -Wmissing-prototypes is
 * satisfied whatever <threads.h> declares. */
int thrd_create(thrd_t *thr, thrd_start_t func, void *arg);
int thrd_join(thrd_t thr, int *res);
int thrd_detach(thrd_t thr);
_Noreturn void thrd_exit(int res);

static int map_err(int err)
{
    switch (err) {
    case 0:
        return thrd_success;
    case ENOMEM:
    case EAGAIN:
        return thrd_nomem;
    default:
        return thrd_error;
    }
}

struct start {
    thrd_start_t func;
    void *arg;
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;

    free(p);
    return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    struct start *s = malloc(sizeof *s);
    pthread_t t;
    int err;

    if (!s)
        return thrd_nomem;
    s->func = func;
    s->arg = arg;
    err = pthread_create(&t, NULL, trampoline, s);
    if (err) {
        free(s);
        return map_err(err);
    }
    *thr = (thrd_t)t;
    return thrd_success;
}

int thrd_join(thrd_t thr, int *res)
{
    void *ret;
    int err = pthread_join((pthread_t)thr, &ret);

    if (err)
        return thrd_error;
    if (res)
        *res = (int)(intptr_t)ret;
    return thrd_success;
}

int thrd_detach(thrd_t thr)
{
    return pthread_detach((pthread_t)thr) ? thrd_error : thrd_success;
}

_Noreturn void thrd_exit(int res)
{
    pthread_exit((void *)(intptr_t)res);
}

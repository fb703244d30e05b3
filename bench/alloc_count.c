/*
 * alloc_count — an LD_PRELOAD shim that counts heap allocations.
 *
 *   ALLOC_COUNT_OUT=FILE LD_PRELOAD=.../libkp_alloc_count.so COMMAND ...
 *
 * Every malloc, calloc, realloc (except shrinking to zero), memalign,
 * posix_memalign, aligned_alloc, valloc and pvalloc of the process (all
 * threads, all libraries) is counted; when the process exits, one line goes
 * to FILE (or to stderr without ALLOC_COUNT_OUT):
 *   allocs=A reallocs=R frees=F bytes=B
 * (A includes R: a growing realloc may allocate.)
 * The real work is done by glibc's exported __libc_* entry points, so there
 * is no dlsym() bootstrap problem. bench/run.sh runs a program with N and
 * with 2N records and reports (A(2N) - A(N)) / N: allocations per record,
 * with start-up and shutdown cancelled out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* Relaxed atomics: counting must not order anything. */
static atomic_ullong n_alloc, n_realloc, n_free, n_bytes;

static inline void count(size_t size)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, size, memory_order_relaxed);
}

void *malloc(size_t size)
{
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (size) {
        count(size);
        if (p)
            atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
    }
    if (p && !size)
        atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    __libc_free(p);
}

void *memalign(size_t align, size_t size)
{
    count(size);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    count(size);
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    count(size);
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    count(size);
    return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    count(size);
    return __libc_memalign(page, (size + page - 1) & ~(page - 1));
}

__attribute__((destructor)) static void report(void)
{
    char line[128];
    int n = snprintf(line, sizeof line, "allocs=%llu reallocs=%llu frees=%llu bytes=%llu\n",
                     (unsigned long long)atomic_load(&n_alloc),
                     (unsigned long long)atomic_load(&n_realloc),
                     (unsigned long long)atomic_load(&n_free),
                     (unsigned long long)atomic_load(&n_bytes));
    const char *path = getenv("ALLOC_COUNT_OUT");
    int fd = path && *path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 2;
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) < 0) {
        /* nothing sensible to do at exit */
    }
    if (fd != 2)
        close(fd);
}

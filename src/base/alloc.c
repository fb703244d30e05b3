/* alloc — the library's allocations, with a test hook (see alloc.h). */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

/* calls counted since kp_alloc_fail_after(); fail_at: the call that fails
 * (0: none); sticky: and all after it */
static _Atomic long calls, fail_at;
static _Atomic int fail_sticky;

long kp_alloc_fail_after(long n, int sticky) {
    long made = atomic_exchange(&calls, 0);
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_at, n > 0 ? n : 0);
    return made;
}

/* Should this allocation fail? Costs one relaxed load while the hook is off. */
static int fails(void) {
    long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
    if (!at)
        return 0;
    long k = atomic_fetch_add(&calls, 1) + 1;
    return k == at || (k > at && atomic_load(&fail_sticky));
}

void *kp_malloc(size_t n) { return fails() ? NULL : malloc(n); }
void *kp_calloc(size_t count, size_t n) { return fails() ? NULL : calloc(count, n); }
void *kp_realloc(void *p, size_t n) { return fails() ? NULL : realloc(p, n); }
void *kp_aligned_alloc(size_t align, size_t n) {
    return fails() ? NULL : aligned_alloc(align, n);
}

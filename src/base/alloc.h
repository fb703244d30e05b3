/*
 * alloc — every allocation the library makes goes through here, so that a
 * test can make the N-th one fail and check that each path returns a clean
 * KP_ERR_NOMEM, leaks nothing and never crashes (SQLite's malloc test).
 * Outside tests the hook is off and each call is the libc one after one
 * relaxed atomic load. Memory comes from libc: free() releases it.
 *
 * The codec libraries (zlib, lz4, zstd, snappy) allocate on their own; a
 * failure there comes back as their error, which the library already
 * handles as out of memory.
 */
#ifndef KP_ALLOC_H
#define KP_ALLOC_H

#include <stddef.h>

void *kp_malloc(size_t n);
void *kp_calloc(size_t count, size_t n);
void *kp_realloc(void *p, size_t n);
void *kp_aligned_alloc(size_t align, size_t n);

/* Test seam (not in kprod.h; hidden in the shared library): the n-th
 * allocation from now fails, and every one after it while `sticky`; n <= 0
 * turns failures off. Returns how many allocations were counted since the
 * previous call: they are counted only while a failure is set, so a test
 * counts a path's allocations by setting one it never reaches (LONG_MAX). */
long kp_alloc_fail_after(long n, int sticky);

#endif

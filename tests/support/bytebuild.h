/*
 * bytebuild — an independent byte builder for the protocol tests: the
 * expected requests and the answers to decode are written here field by
 * field, big-endian as Kafka's wire, never with kprod's own writer (the
 * codecs under test must not check themselves). Unused functions are
 * fine: each test takes what it needs.
 */
#ifndef KPROD_TEST_BYTEBUILD_H
#define KPROD_TEST_BYTEBUILD_H

#include <stdint.h>
#include <string.h>

#include "test.h"

typedef struct {
    uint8_t p[2048];
    size_t n;
    int flex; /* the compact forms (the tests that write flexible versions) */
} bb_t;

static inline void bb_raw(bb_t *b, const void *d, size_t n) {
    if (b->n + n > sizeof(b->p)) {
        FAIL("test byte builder overflow");
        return;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void bb_i8(bb_t *b, int v) {
    uint8_t x = (uint8_t)v;
    bb_raw(b, &x, 1);
}
static inline void bb_i16(bb_t *b, int v) {
    bb_i8(b, (v >> 8) & 0xff);
    bb_i8(b, v & 0xff);
}
static inline void bb_i32(bb_t *b, int64_t v) {
    uint32_t u = (uint32_t)v;
    for (int s = 24; s >= 0; s -= 8)
        bb_i8(b, (int)((u >> s) & 0xff));
}
static inline void bb_i64(bb_t *b, int64_t v) {
    uint64_t u = (uint64_t)v;
    for (int s = 56; s >= 0; s -= 8)
        bb_i8(b, (int)((u >> s) & 0xff));
}
/* an unsigned varint (compact lengths, tag counts) */
static inline void bb_uv(bb_t *b, uint64_t v) {
    while (v >= 0x80) {
        bb_i8(b, (int)((v & 0x7f) | 0x80));
        v >>= 7;
    }
    bb_i8(b, (int)v);
}

#endif

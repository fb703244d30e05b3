/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as RecordBatch v2
 * requires. On x86-64 CPUs with SSE4.2 the crc32 instruction does 8 bytes a
 * step, three independent streams at once for long buffers; elsewhere a
 * slicing-by-8 table does. The choice is made once, on
 * first use (a racy but idempotent store of a function pointer).
 * Check value: crc32c("123456789") = 0xE3069283.
 */
#include "base/crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t kp_crc32c_sw(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, table_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* little-endian hosts only reach this path usefully */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v ^= crc;
        crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
              table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^
              table[2][(v >> 40) & 0xff] ^ table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
#else
        for (int i = 0; i < 8; i++)
            crc = table[0][(crc ^ p[i]) & 0xff] ^ (crc >> 8);
#endif
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- combining: the CRC register is linear over GF(2) -------------------
 * Running the register from state s over bytes B gives shift(s, |B|) xor
 * (the register run from 0 over B), where shift(s, n) multiplies s by
 * x^(8n) modulo the polynomial; the same holds for finished CRC values
 * (kp_crc32c_combine, as zlib's crc32_combine). With shift() for a fixed n
 * as four 256-entry tables, three independent pieces of n bytes can be
 * computed side by side and joined for the cost of two table shifts. */

/* a * b modulo the (reflected) polynomial; bit 31 is x^0. */
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if (!(a & (m - 1)))
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

/* x^(8n) modulo the polynomial. */
static uint32_t x8nmodp(size_t n) {
    uint32_t r = 1u << 31, sq = 1u << 23; /* 1, x^8 */
    for (; n; n >>= 1) {
        if (n & 1)
            r = multmodp(sq, r);
        sq = multmodp(sq, sq);
    }
    return r;
}

uint32_t kp_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) {
    return multmodp(x8nmodp(len2), crc1) ^ crc2;
}

#if defined(__x86_64__) && defined(__GNUC__)
static void shift_table(uint32_t t[4][256], size_t n) {
    uint32_t op = x8nmodp(n);
    for (int k = 0; k < 4; k++)
        for (uint32_t i = 0; i < 256; i++)
            t[k][i] = multmodp(op, i << (8 * k));
}

static uint32_t shift(const uint32_t t[4][256], uint32_t s) {
    return t[0][s & 0xff] ^ t[1][(s >> 8) & 0xff] ^ t[2][(s >> 16) & 0xff] ^ t[3][s >> 24];
}

/* The crc32 instruction takes 3 cycles but can start one every cycle: a
 * single chain of them runs at a third of what the unit can do. So long
 * buffers go as three interleaved chains over three consecutive pieces,
 * joined with shift() (about 3x for a 1 MB batch: build/bench/micro). */
enum { LONG_PIECE = 8192, SHORT_PIECE = 256 };
static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static void shift_init(void) {
    shift_table(shift_long, LONG_PIECE);
    shift_table(shift_short, SHORT_PIECE);
}

__attribute__((target("sse4.2"))) static uint64_t crc3(uint64_t c, const uint8_t **pp,
                                                       size_t *lenp, size_t piece,
                                                       const uint32_t t[4][256]) {
    const uint8_t *p = *pp;
    while (*lenp >= 3 * piece) {
        uint64_t c1 = 0, c2 = 0;
        for (const uint8_t *end = p + piece; p < end; p += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p, 8);
            memcpy(&v1, p + piece, 8);
            memcpy(&v2, p + 2 * piece, 8);
            c = __builtin_ia32_crc32di(c, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c = shift(t, (uint32_t)c) ^ (uint32_t)c1;
        c = shift(t, (uint32_t)c) ^ (uint32_t)c2;
        p += 2 * piece;
        *lenp -= 3 * piece;
    }
    *pp = p;
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                             size_t len) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    if (len >= 3 * SHORT_PIECE) {
        pthread_once(&shift_once, shift_init);
        c = crc3(c, &p, &len, LONG_PIECE, (const uint32_t(*)[256])shift_long);
        c = crc3(c, &p, &len, SHORT_PIECE, (const uint32_t(*)[256])shift_short);
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

int kp_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

uint32_t kp_crc32c(uint32_t crc, const void *data, size_t len) {
    static int hw = -1; /* benign race: every thread computes the same value */
    int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
    if (h < 0) {
        h = kp_crc32c_hw_available();
        __atomic_store_n(&hw, h, __ATOMIC_RELAXED);
    }
    return h ? crc32c_hw(crc, data, len) : kp_crc32c_sw(crc, data, len);
}
#else
int kp_crc32c_hw_available(void) { return 0; }
uint32_t kp_crc32c(uint32_t crc, const void *data, size_t len) {
    return kp_crc32c_sw(crc, data, len);
}
#endif

/*
 * murmur2 exactly as the Java client's Utils.murmur2 (seed 0x9747b28c), so a
 * keyed record lands in the partition a Java producer would choose:
 * toPositive(murmur2(key)) % partitions, toPositive(x) = x & 0x7fffffff.
 */
#include "kprod/kprod.h"

int32_t kp_murmur2(const void *key, size_t len) {
    if (!key)
        len = 0; /* a NULL key hashes as no bytes (kprod.h) */
    const uint8_t *data = key;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *p = data + i * 4;
        uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + n4 * 4;
    switch (len % 4) {
    case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

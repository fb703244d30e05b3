/*
 * buf — wire primitives. See buf.h for the contract (sticky error flags,
 * classic vs flexible forms).
 */
#include "base/alloc.h"
#include "base/buf.h"

#include <stdint.h>
#include <stdlib.h>

void kp_wbuf_init(kp_wbuf_t *w, size_t cap) {
    memset(w, 0, sizeof(*w));
    if (cap) {
        w->p = kp_malloc(cap);
        if (!w->p)
            w->err = 1;
        else
            w->cap = cap;
    }
}

void kp_wbuf_free(kp_wbuf_t *w) {
    free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

uint8_t *kp_wbuf_reserve(kp_wbuf_t *w, size_t n) {
    if (w->err)
        return NULL;
    /* len + n must not wrap, nor the doubling below (it would loop
     * forever once cap wrapped to 0) */
    if (n > SIZE_MAX / 2 - w->len) {
        w->err = 1;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *np = kp_realloc(w->p, cap);
        if (!np) {
            w->err = 1;
            return NULL;
        }
        w->p = np;
        w->cap = cap;
    }
    uint8_t *at = w->p + w->len;
    w->len += n;
    return at;
}

void kp_w_bytes_raw(kp_wbuf_t *w, const void *p, size_t n) {
    if (!p && n) { /* nothing to copy from: the request would be garbage */
        w->err = 1;
        return;
    }
    uint8_t *d = kp_wbuf_reserve(w, n);
    if (d && n)
        memcpy(d, p, n);
}

void kp_w_i8(kp_wbuf_t *w, int8_t v) {
    uint8_t *d = kp_wbuf_reserve(w, 1);
    if (d)
        d[0] = (uint8_t)v;
}
void kp_w_i16(kp_wbuf_t *w, int16_t v) {
    uint8_t *d = kp_wbuf_reserve(w, 2);
    if (d)
        kp_put_be16(d, (uint16_t)v);
}
void kp_w_i32(kp_wbuf_t *w, int32_t v) {
    uint8_t *d = kp_wbuf_reserve(w, 4);
    if (d)
        kp_put_be32(d, (uint32_t)v);
}
void kp_w_i64(kp_wbuf_t *w, int64_t v) {
    uint8_t *d = kp_wbuf_reserve(w, 8);
    if (d)
        kp_put_be64(d, (uint64_t)v);
}

void kp_w_uvarint(kp_wbuf_t *w, uint64_t v) {
    uint8_t tmp[10];
    kp_w_bytes_raw(w, tmp, kp_put_uvarint(tmp, v));
}
void kp_w_varint(kp_wbuf_t *w, int64_t v) { kp_w_uvarint(w, kp_zigzag(v)); }

void kp_w_strn(kp_wbuf_t *w, const char *s, size_t n) {
    if (!s) {
        if (w->flex)
            kp_w_uvarint(w, 0);
        else
            kp_w_i16(w, -1);
        return;
    }
    /* Kafka strings hold at most 32,767 bytes in both forms (the classic
     * length is an int16; Java's generated code refuses longer compact
     * strings too). A longer one fails the request: written, its length
     * would wrap (32,768 reads as null, 65,536 as empty) and the broker
     * would misparse everything after it. */
    if (n > KP_STR_MAX) {
        w->err = 1;
        return;
    }
    if (w->flex)
        kp_w_uvarint(w, (uint64_t)n + 1);
    else
        kp_w_i16(w, (int16_t)n);
    kp_w_bytes_raw(w, s, n);
}

void kp_w_str(kp_wbuf_t *w, const char *s) { kp_w_strn(w, s, s ? strlen(s) : 0); }

void kp_w_arraylen(kp_wbuf_t *w, int32_t n) {
    /* -1 is null; any other negative is a count that wrapped on its way
     * here (a size_t cast to int32_t): refuse it rather than send a null
     * or a wrong count */
    if (n < -1) {
        w->err = 1;
        return;
    }
    if (w->flex)
        kp_w_uvarint(w, n < 0 ? 0 : (uint64_t)n + 1);
    else
        kp_w_i32(w, n);
}

void kp_w_byteslen(kp_wbuf_t *w, int32_t n) { kp_w_arraylen(w, n); }

void kp_w_arraylen_sz(kp_wbuf_t *w, size_t n) {
    if (n > INT32_MAX) {
        w->err = 1;
        return;
    }
    kp_w_arraylen(w, (int32_t)n);
}

void kp_w_byteslen_sz(kp_wbuf_t *w, size_t n) { kp_w_arraylen_sz(w, n); }

void kp_w_tags(kp_wbuf_t *w) {
    if (w->flex)
        kp_w_uvarint(w, 0);
}

void kp_w_uuid(kp_wbuf_t *w, const uint8_t *id) {
    static const uint8_t zero[KP_UUID_LEN];
    kp_w_bytes_raw(w, id ? id : zero, KP_UUID_LEN);
}

void kp_wbuf_put_i32(kp_wbuf_t *w, size_t off, int32_t v) {
    if (!w->err && off + 4 <= w->len)
        kp_put_be32(w->p + off, (uint32_t)v);
}

/* ---- reading ---- */

static inline const uint8_t *take(kp_rbuf_t *r, size_t n) {
    if (r->err || r->len - r->off < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

void kp_r_skip(kp_rbuf_t *r, size_t n) { (void)take(r, n); }

int8_t kp_r_i8(kp_rbuf_t *r) {
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}
int16_t kp_r_i16(kp_rbuf_t *r) {
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}
int32_t kp_r_i32(kp_rbuf_t *r) {
    const uint8_t *p = take(r, 4);
    return p ? (int32_t)kp_get_be32(p) : 0;
}
int64_t kp_r_i64(kp_rbuf_t *r) {
    const uint8_t *p = take(r, 8);
    return p ? (int64_t)(((uint64_t)kp_get_be32(p) << 32) | kp_get_be32(p + 4)) : 0;
}

uint64_t kp_r_uvarint(kp_rbuf_t *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    r->err = 1; /* more than 10 bytes: malformed */
    return 0;
}

int64_t kp_r_varint(kp_rbuf_t *r) {
    uint64_t u = kp_r_uvarint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Length of a string/bytes/array: classic int16/int32 or compact uvarint-1. */
static int64_t read_len(kp_rbuf_t *r, int wide) {
    if (r->flex) {
        uint64_t u = kp_r_uvarint(r);
        if (u > INT32_MAX) {
            r->err = 1;
            return -1;
        }
        return (int64_t)u - 1;
    }
    return wide ? kp_r_i32(r) : kp_r_i16(r);
}

/* A length-prefixed run of bytes; NULL and -1 for null. */
static int32_t read_blob(kp_rbuf_t *r, int wide, const uint8_t **pp) {
    int64_t n = read_len(r, wide);
    *pp = NULL;
    if (r->err || n < 0)
        return -1;
    *pp = take(r, (size_t)n);
    return *pp ? (int32_t)n : -1;
}

int32_t kp_r_str(kp_rbuf_t *r, const char **s) {
    const uint8_t *p;
    int32_t n = read_blob(r, 0, &p);
    *s = (const char *)p;
    return n;
}

int32_t kp_r_bytes(kp_rbuf_t *r, const uint8_t **pp) { return read_blob(r, 1, pp); }

int32_t kp_r_arraylen(kp_rbuf_t *r, size_t min_elem_size) {
    int64_t n = read_len(r, 1);
    if (r->err || n < 0)
        return -1;
    if (min_elem_size && (uint64_t)n > kp_r_remaining(r) / min_elem_size) {
        r->err = 1;
        return -1;
    }
    return (int32_t)n;
}

void kp_r_skip_tags(kp_rbuf_t *r) {
    if (!r->flex)
        return;
    uint64_t n = kp_r_uvarint(r);
    for (uint64_t i = 0; i < n && !r->err; i++) {
        (void)kp_r_uvarint(r); /* tag */
        uint64_t sz = kp_r_uvarint(r);
        if (sz > kp_r_remaining(r)) {
            r->err = 1;
            return;
        }
        kp_r_skip(r, (size_t)sz);
    }
}

void kp_r_uuid(kp_rbuf_t *r, uint8_t out[KP_UUID_LEN]) {
    const uint8_t *p = take(r, KP_UUID_LEN);
    if (p)
        memcpy(out, p, KP_UUID_LEN);
    else
        memset(out, 0, KP_UUID_LEN);
}

uint64_t kp_r_tag_count(kp_rbuf_t *r) {
    if (!r->flex)
        return 0;
    uint64_t n = kp_r_uvarint(r);
    if (r->err || n > kp_r_remaining(r) / 2) { /* a tag and a size at least */
        r->err = 1;
        return 0;
    }
    return n;
}

int kp_r_tag(kp_rbuf_t *r, uint64_t *tag, kp_rbuf_t *val) {
    *tag = kp_r_uvarint(r);
    uint64_t sz = kp_r_uvarint(r);
    if (!r->err && sz > kp_r_remaining(r))
        r->err = 1;
    const uint8_t *p = r->err ? NULL : take(r, (size_t)sz);
    kp_rbuf_init(val, p, p ? (size_t)sz : 0, 1);
    if (!p) {
        val->err = 1;
        return -1;
    }
    return 0;
}

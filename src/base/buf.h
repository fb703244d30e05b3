/*
 * buf — wire primitives: a growable write buffer and a bounds-checked read
 * cursor, with Kafka's encodings (big-endian ints, zigzag varints, strings,
 * bytes, arrays) in both the classic and the "flexible" form.
 *
 * Flexible versions (KIP-482) change three things: strings, bytes and arrays
 * carry an unsigned varint length + 1 ("compact"), and structs end in a
 * tagged-field section. Every function here that differs takes the cursor's
 * or buffer's `flex` flag, so a codec switches form per request version
 * instead of being rewritten.
 *
 * Errors: the write buffer records allocation failure, and any length its
 * field cannot hold (a string over 32,767 bytes, a count or byte length
 * over INT32_MAX or below -1), in a sticky `err` flag: a writer never wraps
 * a length, so an encoder either builds a well-formed request or fails
 * (kp_req_seal, kp_produce_finish). The read cursor records running past
 * the end (or an absurd length) in a sticky `err` flag. Codecs check the
 * flag once at the end, so decoding a truncated or malformed response never
 * reads out of bounds.
 */
#ifndef KP_BUF_H
#define KP_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest Kafka string, classic (int16 length) or compact. */
#define KP_STR_MAX 32767

typedef struct kp_wbuf {
    uint8_t *p;
    size_t len, cap;
    int err;  /* sticky: an allocation failed or a length did not fit its field */
    int flex; /* write the flexible (compact + tagged) forms */
} kp_wbuf_t;

void kp_wbuf_init(kp_wbuf_t *w, size_t cap);
void kp_wbuf_free(kp_wbuf_t *w);
/* Make room for n more bytes; returns a pointer to them or NULL (err set). */
uint8_t *kp_wbuf_reserve(kp_wbuf_t *w, size_t n);
/* raw bytes; p NULL with n > 0 sets err */
void kp_w_bytes_raw(kp_wbuf_t *w, const void *p, size_t n);
void kp_w_i8(kp_wbuf_t *w, int8_t v);
void kp_w_i16(kp_wbuf_t *w, int16_t v);
void kp_w_i32(kp_wbuf_t *w, int32_t v);
void kp_w_i64(kp_wbuf_t *w, int64_t v);
void kp_w_uvarint(kp_wbuf_t *w, uint64_t v);
void kp_w_varint(kp_wbuf_t *w, int64_t v); /* zigzag */
/* string / nullable string (s NULL = null) in classic or compact form;
 * longer than KP_STR_MAX sets err and writes nothing */
void kp_w_str(kp_wbuf_t *w, const char *s);
void kp_w_strn(kp_wbuf_t *w, const char *s, size_t n);
/* array length (-1 = null array; below -1 sets err and writes nothing) */
void kp_w_arraylen(kp_wbuf_t *w, int32_t n);
/* bytes length prefix (-1 = null; below -1 sets err) */
void kp_w_byteslen(kp_wbuf_t *w, int32_t n);
/* The same for a count or length held in a size_t: above INT32_MAX (the
 * int32 field, and what Kafka reads a compact length into) sets err instead
 * of wrapping into a negative or smaller length. */
void kp_w_arraylen_sz(kp_wbuf_t *w, size_t n);
void kp_w_byteslen_sz(kp_wbuf_t *w, size_t n);
/* empty tagged-field section: only written in flexible versions */
void kp_w_tags(kp_wbuf_t *w);
/* A UUID (16 raw bytes, the same in both forms); id NULL writes the zero
 * UUID, which Kafka reads as "no id". */
#define KP_UUID_LEN 16
void kp_w_uuid(kp_wbuf_t *w, const uint8_t *id);
/* overwrite 4 bytes at off with a big-endian int32 */
void kp_wbuf_put_i32(kp_wbuf_t *w, size_t off, int32_t v);

/* Sizes and raw encoders used by the record batch writer (no bounds checks:
 * the caller sized the buffer). Return the number of bytes written. */
/* Inline: they run several times per record on the send path. The size
 * comes from the highest set bit (one instruction) instead of a loop. */
static inline size_t kp_uvarint_size(uint64_t v) {
    return (size_t)((64 - __builtin_clzll(v | 1) + 6) / 7);
}
static inline uint64_t kp_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline size_t kp_varint_size(int64_t v) { return kp_uvarint_size(kp_zigzag(v)); }
static inline size_t kp_put_uvarint(uint8_t *p, uint64_t v) {
    if (v < 0x80) { /* the common case: small lengths and deltas */
        p[0] = (uint8_t)v;
        return 1;
    }
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static inline size_t kp_put_varint(uint8_t *p, int64_t v) { return kp_put_uvarint(p, kp_zigzag(v)); }

static inline void kp_put_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void kp_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void kp_put_be64(uint8_t *p, uint64_t v) {
    kp_put_be32(p, (uint32_t)(v >> 32));
    kp_put_be32(p + 4, (uint32_t)v);
}
static inline uint32_t kp_get_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- read cursor ---- */
typedef struct kp_rbuf {
    const uint8_t *p;
    size_t len, off;
    int err;  /* sticky: truncated or malformed */
    int flex; /* read the flexible forms */
} kp_rbuf_t;

static inline void kp_rbuf_init(kp_rbuf_t *r, const void *p, size_t len, int flex) {
    r->p = (const uint8_t *)p;
    r->len = len;
    r->off = 0;
    r->err = 0;
    r->flex = flex;
}
static inline size_t kp_r_remaining(const kp_rbuf_t *r) { return r->err ? 0 : r->len - r->off; }

int8_t kp_r_i8(kp_rbuf_t *r);
int16_t kp_r_i16(kp_rbuf_t *r);
int32_t kp_r_i32(kp_rbuf_t *r);
int64_t kp_r_i64(kp_rbuf_t *r);
uint64_t kp_r_uvarint(kp_rbuf_t *r);
int64_t kp_r_varint(kp_rbuf_t *r);
/* A string: points into the buffer (not NUL-terminated). Returns length, or
 * -1 for null. */
int32_t kp_r_str(kp_rbuf_t *r, const char **s);
/* Array length, -1 for null. Lengths larger than the bytes left (each
 * element needs at least min_elem_size bytes) set err: a hostile length
 * never makes a decoder allocate. */
int32_t kp_r_arraylen(kp_rbuf_t *r, size_t min_elem_size);
/* Bytes: returns length (-1 null), *p points into the buffer. */
int32_t kp_r_bytes(kp_rbuf_t *r, const uint8_t **p);
/* Skip the tagged-field section (flexible versions only; no-op otherwise). */
void kp_r_skip_tags(kp_rbuf_t *r);
void kp_r_skip(kp_rbuf_t *r, size_t n);
/* A UUID into out[16] (zeroed when truncated). */
void kp_r_uuid(kp_rbuf_t *r, uint8_t out[KP_UUID_LEN]);
/* Reading a tagged-field section field by field, for the fields a codec
 * knows (the others it skips):
 *
 *     uint64_t n = kp_r_tag_count(r);
 *     for (uint64_t i = 0; i < n; i++) {
 *         uint64_t tag;
 *         kp_rbuf_t v;
 *         if (kp_r_tag(r, &tag, &v))
 *             break;                      // r->err is set
 *         if (tag == 0) ... read the field from v ...
 *     }
 *
 * kp_r_tag_count returns 0 when not flexible, and sets err for a count the
 * bytes left cannot hold (each field takes at least two bytes).
 * kp_r_tag reads one field's tag and size, gives v, a flexible cursor over
 * exactly its value (a field cannot read past its own size), and moves r
 * past it; it returns -1 (err set) when the field is truncated. */
uint64_t kp_r_tag_count(kp_rbuf_t *r);
int kp_r_tag(kp_rbuf_t *r, uint64_t *tag, kp_rbuf_t *val);

#endif

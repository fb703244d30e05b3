/*
 * record_batch — RecordBatch v2, the only on-disk and on-wire format Kafka
 * 4.x producers use (Produce v3+).
 *
 *   offset  size  field
 *   0       8     BaseOffset            0 from a producer; the broker assigns
 *   8       4     Length                bytes after this field
 *   12      4     PartitionLeaderEpoch  -1 from a producer
 *   16      1     Magic                 2
 *   17      4     CRC                   CRC-32C of bytes 21..end
 *   21      2     Attributes            bits 0-2 codec, 3 timestamp type,
 *                                       4 transactional, 5 control
 *   23      4     LastOffsetDelta       record_count - 1
 *   27      8     BaseTimestamp         timestamp of the first record
 *   35      8     MaxTimestamp
 *   43      8     ProducerId            -1 without idempotence
 *   51      2     ProducerEpoch         -1
 *   53      4     BaseSequence          -1
 *   57      4     RecordsCount
 *   61      ...   Records
 *
 *   Record: Length varint | Attributes int8 (0) | TimestampDelta varlong |
 *           OffsetDelta varint | KeyLength varint (-1 null) | Key |
 *           ValueLength varint | Value | HeadersCount varint |
 *           [HeaderKeyLength varint | HeaderKey | HeaderValueLength varint | Value]
 *
 * All varints are zigzag (protobuf sint). The CRC skips the first 21 bytes
 * so that the broker can set PartitionLeaderEpoch without recomputing it.
 */
#include "record/record_batch.h"

#include <string.h>

#include "base/buf.h"
#include "base/crc32c.h"

size_t kp_rb_body_size(int64_t ts_delta, int32_t offset_delta, int32_t klen, int32_t vlen,
                       const kp_header_t *hdrs, size_t nhdrs, const int32_t *hklens) {
    size_t n = 1 + kp_varint_size(ts_delta) + kp_varint_size(offset_delta);
    n += kp_varint_size(klen) + (klen > 0 ? (size_t)klen : 0);
    n += kp_varint_size(vlen) + (vlen > 0 ? (size_t)vlen : 0);
    n += kp_varint_size((int64_t)nhdrs);
    for (size_t i = 0; i < nhdrs; i++) {
        int32_t hv = hdrs[i].value ? hdrs[i].value_len : -1;
        n += kp_varint_size(hklens[i]) + (size_t)hklens[i];
        n += kp_varint_size(hv) + (hv > 0 ? (size_t)hv : 0);
    }
    return n;
}

size_t kp_rb_record_size(int64_t ts_delta, int32_t offset_delta, int32_t klen, int32_t vlen,
                         const kp_header_t *hdrs, size_t nhdrs, const int32_t *hklens) {
    return kp_rb_total_size(kp_rb_body_size(ts_delta, offset_delta, klen, vlen, hdrs, nhdrs,
                                            hklens));
}

size_t kp_rb_write_record(uint8_t *dst, int64_t ts_delta, int32_t offset_delta, const void *key,
                          int32_t klen, const void *value, int32_t vlen, const kp_header_t *hdrs,
                          size_t nhdrs, const int32_t *hklens) {
    size_t b = kp_rb_body_size(ts_delta, offset_delta, klen, vlen, hdrs, nhdrs, hklens);
    return kp_rb_write_body(dst, b, ts_delta, offset_delta, key, klen, value, vlen, hdrs, nhdrs,
                            hklens);
}

size_t kp_rb_write_body(uint8_t *dst, size_t b, int64_t ts_delta, int32_t offset_delta,
                        const void *key, int32_t klen, const void *value, int32_t vlen,
                        const kp_header_t *hdrs, size_t nhdrs, const int32_t *hklens) {
    uint8_t *p = dst;
    p += kp_put_varint(p, (int64_t)b);
    *p++ = 0; /* attributes */
    p += kp_put_varint(p, ts_delta);
    p += kp_put_varint(p, offset_delta);
    p += kp_put_varint(p, klen);
    if (klen > 0) {
        memcpy(p, key, (size_t)klen);
        p += klen;
    }
    p += kp_put_varint(p, vlen);
    if (vlen > 0) {
        memcpy(p, value, (size_t)vlen);
        p += vlen;
    }
    p += kp_put_varint(p, (int64_t)nhdrs);
    for (size_t i = 0; i < nhdrs; i++) {
        p += kp_put_varint(p, hklens[i]);
        memcpy(p, hdrs[i].key, (size_t)hklens[i]);
        p += hklens[i];
        int32_t hv = hdrs[i].value ? hdrs[i].value_len : -1;
        p += kp_put_varint(p, hv);
        if (hv > 0) {
            memcpy(p, hdrs[i].value, (size_t)hv);
            p += hv;
        }
    }
    return (size_t)(p - dst);
}

void kp_rb_finalize(uint8_t *buf, size_t len, const kp_rb_header_t *h) {
    kp_rb_finalize_crc(buf, len, h, kp_crc32c(0, buf + KP_RB_HEADER_SIZE, len - KP_RB_HEADER_SIZE));
}

void kp_rb_finalize_crc(uint8_t *buf, size_t len, const kp_rb_header_t *h, uint32_t records_crc) {
    kp_put_be64(buf + 0, 0);
    kp_put_be32(buf + 8, (uint32_t)(len - 12));
    kp_put_be32(buf + 12, (uint32_t)-1);
    buf[16] = 2;
    kp_put_be16(buf + 21, (uint16_t)h->attributes);
    kp_put_be32(buf + 23, (uint32_t)h->record_count - 1u); /* (no signed overflow) */
    kp_put_be64(buf + 27, (uint64_t)h->base_timestamp);
    kp_put_be64(buf + 35, (uint64_t)h->max_timestamp);
    kp_put_be64(buf + 43, (uint64_t)h->producer_id);
    kp_put_be16(buf + 51, (uint16_t)h->producer_epoch);
    kp_put_be32(buf + 53, (uint32_t)h->base_sequence);
    kp_put_be32(buf + 57, (uint32_t)h->record_count);
    uint32_t head = kp_crc32c(0, buf + 21, KP_RB_HEADER_SIZE - 21);
    kp_put_be32(buf + 17, kp_crc32c_combine(head, records_crc, len - KP_RB_HEADER_SIZE));
}

int kp_rb_decode(const uint8_t *buf, size_t len, kp_rb_header_t *hout, kp_rb_record_fn *fn,
                 void *opaque) {
    if (len < KP_RB_HEADER_SIZE)
        return -1;
    kp_rbuf_t r;
    kp_rbuf_init(&r, buf, len, 0);
    kp_rb_header_t h;
    (void)kp_r_i64(&r);
    int32_t blen = kp_r_i32(&r);
    if (blen < KP_RB_HEADER_SIZE - 12 || (size_t)blen + 12 > len)
        return -1;
    (void)kp_r_i32(&r);
    if (kp_r_i8(&r) != 2)
        return -1;
    uint32_t crc = (uint32_t)kp_r_i32(&r);
    if (crc != kp_crc32c(0, buf + 21, (size_t)blen + 12 - 21))
        return -1;
    h.attributes = kp_r_i16(&r);
    int32_t last_delta = kp_r_i32(&r);
    h.base_timestamp = kp_r_i64(&r);
    h.max_timestamp = kp_r_i64(&r);
    h.producer_id = kp_r_i64(&r);
    h.producer_epoch = kp_r_i16(&r);
    h.base_sequence = kp_r_i32(&r);
    h.record_count = kp_r_i32(&r);
    if (hout)
        *hout = h;
    if (h.record_count < 0) /* never valid, compressed or not */
        return -1;
    if (last_delta != h.record_count - 1 || (h.attributes & 7))
        return h.attributes & 7 ? (fn ? -1 : 0) : -1;
    r.len = (size_t)blen + 12;
    for (int32_t i = 0; i < h.record_count; i++) {
        int64_t rlen = kp_r_varint(&r);
        if (r.err || rlen < 0 || (uint64_t)rlen > kp_r_remaining(&r))
            return -1;
        size_t end = r.off + (size_t)rlen;
        kp_rb_record_t rec;
        (void)kp_r_i8(&r);
        /* wrapping arithmetic: a hostile delta must not be undefined */
        rec.timestamp = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)kp_r_varint(&r));
        rec.offset_delta = (int32_t)kp_r_varint(&r);
        rec.key_len = (int32_t)kp_r_varint(&r);
        rec.key = NULL;
        if (rec.key_len >= 0) {
            rec.key = r.p + r.off;
            kp_r_skip(&r, (size_t)rec.key_len);
        }
        rec.value_len = (int32_t)kp_r_varint(&r);
        rec.value = NULL;
        if (rec.value_len >= 0) {
            rec.value = r.p + r.off;
            kp_r_skip(&r, (size_t)rec.value_len);
        }
        rec.header_count = (int32_t)kp_r_varint(&r);
        rec.headers = r.p + r.off;
        if (r.err || rec.header_count < 0 || r.off > end)
            return -1;
        rec.headers_len = end - r.off;
        r.off = end;
        if (fn && fn(&rec, opaque))
            return 0;
    }
    return r.err || r.off != r.len ? -1 : 0;
}

static size_t rewrite_body(const kp_rb_record_t *rec, int64_t ts_delta, int32_t offset_delta) {
    return 1 + kp_varint_size(ts_delta) + kp_varint_size(offset_delta) +
           kp_varint_size(rec->key_len) + (rec->key_len > 0 ? (size_t)rec->key_len : 0) +
           kp_varint_size(rec->value_len) + (rec->value_len > 0 ? (size_t)rec->value_len : 0) +
           kp_varint_size(rec->header_count) + rec->headers_len;
}

size_t kp_rb_rewrite_size(const kp_rb_record_t *rec, int64_t ts_delta, int32_t offset_delta) {
    size_t b = rewrite_body(rec, ts_delta, offset_delta);
    return kp_varint_size((int64_t)b) + b;
}

size_t kp_rb_rewrite(uint8_t *dst, const kp_rb_record_t *rec, int64_t ts_delta,
                     int32_t offset_delta) {
    uint8_t *p = dst;
    p += kp_put_varint(p, (int64_t)rewrite_body(rec, ts_delta, offset_delta));
    *p++ = 0;
    p += kp_put_varint(p, ts_delta);
    p += kp_put_varint(p, offset_delta);
    p += kp_put_varint(p, rec->key_len);
    if (rec->key_len > 0)
        memcpy(p, rec->key, (size_t)rec->key_len), p += rec->key_len;
    p += kp_put_varint(p, rec->value_len);
    if (rec->value_len > 0)
        memcpy(p, rec->value, (size_t)rec->value_len), p += rec->value_len;
    p += kp_put_varint(p, rec->header_count);
    if (rec->headers_len)
        memcpy(p, rec->headers, rec->headers_len), p += rec->headers_len;
    return (size_t)(p - dst);
}

/*
 * record_batch — RecordBatch v2 (magic 2) encoding and decoding. Pure codec:
 * no I/O, no locking, no knowledge of partitions or brokers.
 */
#ifndef KP_RECORD_BATCH_H
#define KP_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "kprod/kprod.h"

#define KP_RB_HEADER_SIZE 61     /* bytes before the first record */
#define KP_RB_MAX_RECORD_OVERHEAD 21 /* DefaultRecord.MAX_RECORD_OVERHEAD, w/o key/value/headers */
/* RecordBatch attributes: bits 0-2 the codec, then these */
#define KP_RB_TRANSACTIONAL 0x10 /* the batch belongs to a transaction */
#define KP_RB_CONTROL 0x20       /* a transaction marker (COMMIT or ABORT) */

/* Fields of the batch header a producer sets. */
typedef struct kp_rb_header {
    int16_t attributes;
    int32_t record_count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;    /* -1 without idempotence */
    int16_t producer_epoch; /* -1 without idempotence */
    int32_t base_sequence;  /* -1 without idempotence */
} kp_rb_header_t;

/* Bytes the record takes in a batch, including its length prefix. key/value
 * lengths are -1 for null. */
size_t kp_rb_record_size(int64_t ts_delta, int32_t offset_delta, int32_t klen, int32_t vlen,
                         const kp_header_t *hdrs, size_t nhdrs, const int32_t *hdr_klens);

/* The same split in two steps, so the send path sizes a record once: the
 * body size (everything after the length prefix), the total it implies,
 * and the writer given that body size. */
size_t kp_rb_body_size(int64_t ts_delta, int32_t offset_delta, int32_t klen, int32_t vlen,
                       const kp_header_t *hdrs, size_t nhdrs, const int32_t *hdr_klens);
static inline size_t kp_rb_total_size(size_t body) { return kp_varint_size((int64_t)body) + body; }
size_t kp_rb_write_body(uint8_t *dst, size_t body, int64_t ts_delta, int32_t offset_delta,
                        const void *key, int32_t klen, const void *value, int32_t vlen,
                        const kp_header_t *hdrs, size_t nhdrs, const int32_t *hdr_klens);

/* Encode one record at dst (which has kp_rb_record_size() bytes). Returns
 * the bytes written. */
size_t kp_rb_write_record(uint8_t *dst, int64_t ts_delta, int32_t offset_delta, const void *key,
                          int32_t klen, const void *value, int32_t vlen, const kp_header_t *hdrs,
                          size_t nhdrs, const int32_t *hdr_klens);

/* Fill the 61-byte header at buf (buf..buf+len is the whole batch, records
 * included) and compute the CRC-32C over attributes..end. */
void kp_rb_finalize(uint8_t *buf, size_t len, const kp_rb_header_t *h);
/* The same, given records_crc = CRC-32C of the records (buf + 61 .. end),
 * kept while they were written: only the 40 header bytes are read. */
void kp_rb_finalize_crc(uint8_t *buf, size_t len, const kp_rb_header_t *h, uint32_t records_crc);

/* ---- decoding ---- */
typedef struct kp_rb_record {
    int64_t timestamp;
    int32_t offset_delta;
    const uint8_t *key;
    int32_t key_len; /* -1 null */
    const uint8_t *value;
    int32_t value_len;
    int32_t header_count;
    const uint8_t *headers; /* raw encoded headers, header_count of them */
    size_t headers_len;
} kp_rb_record_t;

typedef int(kp_rb_record_fn)(const kp_rb_record_t *rec, void *opaque);

/* Re-encode a decoded record with new deltas (its headers are copied as
 * encoded): the size it takes, and the writer. Used to split a batch. */
size_t kp_rb_rewrite_size(const kp_rb_record_t *rec, int64_t ts_delta, int32_t offset_delta);
size_t kp_rb_rewrite(uint8_t *dst, const kp_rb_record_t *rec, int64_t ts_delta,
                     int32_t offset_delta);

/* Parse and verify one batch (length, magic, CRC) and call fn per record.
 * Returns 0, or -1 when the batch is malformed or the CRC mismatches. h, if
 * not NULL, receives the header fields. */
int kp_rb_decode(const uint8_t *buf, size_t len, kp_rb_header_t *h, kp_rb_record_fn *fn,
                 void *opaque);

#endif

/*
 * fuzz_record_batch — the RecordBatch v2 reader (record_batch.c): kp_rb_decode
 * with and without a record callback, then what the producer does with the
 * decoded records when it splits a batch (accumulator.c, kp_acc_split):
 * re-encode each with kp_rb_rewrite into a new batch, finalize it and decode
 * that again; for a compressed batch, decompress its records with
 * kp_decompress first, as the split does.
 *
 * Input: byte 0 holds flags, the rest is the batch. Flag 1 sets the Length
 * field to the input's length, flag 2 recomputes the CRC, so that mutated
 * records get past the checks a random mutation would almost never pass.
 *
 * Checks: every key, value and header run lies inside the batch; the record
 * count is the header's; rewrite sizes are what kp_rb_rewrite writes; a
 * rewritten batch decodes to the same records.
 */
#include <string.h>

#include "record/compress.h"
#include "base/crc32c.h"
#include "fuzz.h"
#include "record/record_batch.h"

#define MAX_DECOMPRESSED (1u << 20)

typedef struct recs {
    const uint8_t *buf;
    size_t len;
    kp_rb_record_t *r;
    int32_t n, cap;
} recs_t;

static int collect(const kp_rb_record_t *rec, void *opaque) {
    recs_t *s = opaque;
    FUZZ_CHECK(rec->key_len < 0 ? rec->key == NULL
                                : fuzz_within(rec->key, (size_t)rec->key_len, s->buf, s->len));
    FUZZ_CHECK(rec->value_len < 0
                   ? rec->value == NULL
                   : fuzz_within(rec->value, (size_t)rec->value_len, s->buf, s->len));
    FUZZ_CHECK(rec->header_count >= 0);
    FUZZ_CHECK(fuzz_within(rec->headers, rec->headers_len, s->buf, s->len));
    if (s->n == s->cap) {
        int32_t cap = s->cap ? s->cap * 2 : 16;
        kp_rb_record_t *nr = realloc(s->r, (size_t)cap * sizeof(*nr));
        if (!nr)
            return 1; /* stop: out of memory is not what is tested */
        s->r = nr;
        s->cap = cap;
    }
    s->r[s->n++] = *rec;
    return 0;
}

static int same_run(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen) {
    if (alen != blen)
        return 0;
    return alen <= 0 || memcmp(a, b, (size_t)alen) == 0;
}

/* Re-encode the records as kp_acc_split's sub_batch does and decode them. */
static void rewrite_and_check(const recs_t *s, const kp_rb_header_t *h) {
    if (s->n == 0)
        return;
    int64_t base_ts = s->r[0].timestamp;
    size_t need = KP_RB_HEADER_SIZE;
    for (int32_t i = 0; i < s->n; i++) {
        /* wrapping: hostile timestamps must not make the check itself undefined */
        int64_t d = (int64_t)((uint64_t)s->r[i].timestamp - (uint64_t)base_ts);
        need += kp_rb_rewrite_size(&s->r[i], d, i);
    }
    if (need - 12 > INT32_MAX)
        return;
    uint8_t *nb = malloc(need);
    if (!nb)
        return;
    size_t len = KP_RB_HEADER_SIZE;
    for (int32_t i = 0; i < s->n; i++) {
        int64_t d = (int64_t)((uint64_t)s->r[i].timestamp - (uint64_t)base_ts);
        size_t want = kp_rb_rewrite_size(&s->r[i], d, i);
        size_t got = kp_rb_rewrite(nb + len, &s->r[i], d, i);
        FUZZ_CHECK(got == want);
        len += got;
    }
    FUZZ_CHECK(len == need);
    kp_rb_header_t nh = {0, s->n, base_ts, base_ts, h->producer_id, h->producer_epoch,
                         h->base_sequence};
    kp_rb_finalize(nb, len, &nh);
    recs_t back = {nb, len, NULL, 0, 0};
    kp_rb_header_t bh;
    FUZZ_CHECK(kp_rb_decode(nb, len, &bh, collect, &back) == 0);
    FUZZ_CHECK(back.n == s->n);
    FUZZ_CHECK(bh.record_count == s->n && bh.attributes == 0);
    for (int32_t i = 0; i < s->n; i++) {
        const kp_rb_record_t *a = &s->r[i], *b = &back.r[i];
        FUZZ_CHECK(a->timestamp == b->timestamp);
        FUZZ_CHECK(b->offset_delta == i);
        FUZZ_CHECK(same_run(a->key, a->key_len, b->key, b->key_len));
        FUZZ_CHECK(same_run(a->value, a->value_len, b->value, b->value_len));
        FUZZ_CHECK(a->header_count == b->header_count && a->headers_len == b->headers_len);
        FUZZ_CHECK(a->headers_len == 0 || memcmp(a->headers, b->headers, a->headers_len) == 0);
    }
    free(back.r);
    free(nb);
}

/* Decode buf with a callback; on success check the records and rewrite them. */
static void decode_records(const uint8_t *buf, size_t len) {
    recs_t s = {buf, len, NULL, 0, 0};
    kp_rb_header_t h;
    int rc = kp_rb_decode(buf, len, &h, collect, &s);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0 && s.n == h.record_count) {
        FUZZ_CHECK((h.attributes & 7) == 0);
        rewrite_and_check(&s, &h);
    }
    free(s.r);
}

/* A compressed batch: its records decompressed behind a fresh header. */
static void decompress_records(const uint8_t *buf, const kp_rb_header_t *h) {
    int codec = h->attributes & 7;
    size_t blen = (size_t)kp_get_be32(buf + 8) + 12;
    if (!kp_codec_available(codec))
        return;
    kp_wbuf_t w;
    kp_wbuf_init(&w, 256);
    if (!kp_wbuf_reserve(&w, KP_RB_HEADER_SIZE)) {
        kp_wbuf_free(&w);
        return;
    }
    int rc = kp_decompress(codec, buf + KP_RB_HEADER_SIZE, blen - KP_RB_HEADER_SIZE, &w,
                           MAX_DECOMPRESSED);
    FUZZ_CHECK(rc == 0 || w.len == KP_RB_HEADER_SIZE);
    FUZZ_CHECK(w.len - KP_RB_HEADER_SIZE <= MAX_DECOMPRESSED);
    if (rc == 0 && w.len - 12 <= INT32_MAX) {
        kp_rb_header_t plain = *h;
        plain.attributes = 0;
        kp_rb_finalize(w.p, w.len, &plain);
        decode_records(w.p, w.len);
    }
    kp_wbuf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    if (len)
        memcpy(buf, data + 1, len);
    if ((flags & 1) && len >= 12 && len - 12 <= INT32_MAX)
        kp_put_be32(buf + 8, (uint32_t)(len - 12));
    if ((flags & 2) && len >= KP_RB_HEADER_SIZE) {
        size_t blen = (size_t)kp_get_be32(buf + 8) + 12;
        size_t end = blen >= KP_RB_HEADER_SIZE && blen <= len ? blen : len;
        kp_put_be32(buf + 17, kp_crc32c(0, buf + 21, end - 21));
    }

    /* without a callback: header only, compressed batches accepted */
    kp_rb_header_t h;
    int rc = kp_rb_decode(buf, len, &h, NULL, NULL);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(len >= KP_RB_HEADER_SIZE);
        FUZZ_CHECK((size_t)kp_get_be32(buf + 8) + 12 <= len);
    }
    decode_records(buf, len);
    if (rc == 0 && (h.attributes & 7))
        decompress_records(buf, &h);
    free(buf);
    return 0;
}

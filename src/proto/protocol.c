/*
 * protocol — encoders/decoders for ApiVersions (18), Metadata (3) and
 * Produce (0), following the JSON schemas in kafka-protocol/messages.
 *
 * Version policy (see kp_proto_our_*):
 *   ApiVersions 0..2   non-flexible; the response header is always v0
 *   Metadata    1..8   v1 makes the topic list nullable; v4 adds
 *                      AllowAutoTopicCreation; v7 LeaderEpoch; v8 auth ops
 *   InitProducerId 0..4  flexible from v2; v3 adds ProducerId/Epoch
 *   Produce     3..8   never below 3 (RecordBatch v2; Kafka 4 rejects 0-2
 *                      although it still advertises them); v8 adds
 *                      RecordErrors and ErrorMessage
 * The flexible versions (ApiVersions 3+, Metadata 9+, Produce 9+) are coded
 * below behind the per-version flex switch and enabled by raising the caps.
 *
 * Every ErrorCode field goes through kp_err_from_kafka() as it is read, so
 * a broker's UNKNOWN_SERVER_ERROR (-1) never reaches the sender as kprod's
 * own KP_ERR_UNKNOWN (also -1).
 */
#include "base/alloc.h"
#include "proto/protocol.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "kprod/kprod.h"
#include "base/util.h"

int16_t kp_proto_our_min(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 3;
    case KP_API_METADATA: return 1;
    case KP_API_API_VERSIONS: return 0;
    case KP_API_INIT_PRODUCER_ID: return 0;
    }
    return -1;
}

int16_t kp_proto_our_max(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 8;
    case KP_API_METADATA: return 8;
    case KP_API_API_VERSIONS: return 2;
    case KP_API_INIT_PRODUCER_ID: return 4;
    }
    return -1;
}

int kp_proto_is_flexible(int16_t api, int16_t v) {
    switch (api) {
    case KP_API_PRODUCE: return v >= 9;
    case KP_API_METADATA: return v >= 9;
    case KP_API_API_VERSIONS: return v >= 3;
    case KP_API_INIT_PRODUCER_ID: return v >= 2;
    }
    return 0;
}

int16_t kp_proto_pick(int16_t api, int16_t bmin, int16_t bmax) {
    int16_t lo = kp_proto_our_min(api), hi = kp_proto_our_max(api);
    if (lo < 0 || bmax < 0)
        return -1;
    int16_t v = hi < bmax ? hi : bmax;
    if (v < lo || v < bmin)
        return -1;
    return v;
}

void kp_proto_begin(kp_wbuf_t *w, int16_t api, int16_t ver, int32_t corrid,
                    const char *client_id) {
    int flex = kp_proto_is_flexible(api, ver);
    w->flex = 0;
    kp_w_i32(w, 0); /* size, filled by kp_proto_end */
    kp_w_i16(w, api);
    kp_w_i16(w, ver);
    kp_w_i32(w, corrid);
    kp_w_str(w, client_id); /* ClientId stays a classic nullable string in header v2 */
    if (flex)
        kp_w_uvarint(w, 0); /* header tagged fields */
    w->flex = flex;
}

void kp_proto_end(kp_wbuf_t *w, size_t extra) {
    if (w->err)
        return;
    /* The Size field is an int32: a request that does not fit fails to
     * build instead of going out with a wrapped size. */
    if (extra > (size_t)INT32_MAX || w->len - 4 > (size_t)INT32_MAX - extra) {
        w->err = 1;
        return;
    }
    kp_wbuf_put_i32(w, 0, (int32_t)(w->len - 4 + extra));
}

int32_t kp_proto_resp_header(kp_rbuf_t *r, int16_t api, int16_t ver) {
    r->flex = 0;
    int32_t corrid = kp_r_i32(r);
    int flex = kp_proto_is_flexible(api, ver);
    if (flex && api != KP_API_API_VERSIONS) {
        r->flex = 1;
        kp_r_skip_tags(r);
    }
    r->flex = flex;
    return corrid;
}

/* ---- ApiVersions ---- */

void kp_apiversions_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id) {
    kp_proto_begin(w, KP_API_API_VERSIONS, ver, corrid, client_id);
    if (ver >= 3) {
        kp_w_str(w, "kprod");
        kp_w_str(w, KPROD_VERSION_STR);
        kp_w_tags(w);
    }
    kp_proto_end(w, 0);
}

int kp_apiversions_resp(kp_rbuf_t *r, int16_t ver, kp_api_range_t *ranges) {
    for (int i = 0; i < KP_API_COUNT; i++)
        ranges[i].min = ranges[i].max = -1;
    kp_err_t err = kp_err_from_kafka(kp_r_i16(r));
    int32_t n = kp_r_arraylen(r, 6);
    for (int32_t i = 0; i < n && !r->err; i++) {
        int16_t key = kp_r_i16(r), mn = kp_r_i16(r), mx = kp_r_i16(r);
        kp_r_skip_tags(r);
        if (key >= 0 && key < KP_API_COUNT) {
            ranges[key].min = mn;
            ranges[key].max = mx;
        }
    }
    /* On UNSUPPORTED_VERSION the broker answers in v0 form: stop here. */
    if (ver >= 1 && err == 0)
        (void)kp_r_i32(r);
    kp_r_skip_tags(r);
    return r->err ? -1 : err;
}

/* ---- Metadata ---- */

void kp_metadata_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                     const char *const *topics, size_t ntopics, int allow_auto_create) {
    kp_proto_begin(w, KP_API_METADATA, ver, corrid, client_id);
    kp_w_arraylen_sz(w, ntopics);
    for (size_t i = 0; i < ntopics; i++) {
        if (ver >= 10)
            kp_w_bytes_raw(w, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16); /* TopicId: zero */
        kp_w_str(w, topics[i]);
        kp_w_tags(w);
    }
    if (ver >= 4)
        kp_w_i8(w, allow_auto_create ? 1 : 0);
    if (ver >= 8 && ver <= 10)
        kp_w_i8(w, 0); /* IncludeClusterAuthorizedOperations */
    if (ver >= 8)
        kp_w_i8(w, 0); /* IncludeTopicAuthorizedOperations */
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

static char *dup_str(kp_rbuf_t *r) {
    const char *s;
    int32_t n = kp_r_str(r, &s);
    if (r->err)
        return NULL;
    return n < 0 ? kp_strdup("") : kp_strndup(s, (size_t)n);
}

static void skip_int32_array(kp_rbuf_t *r) {
    int32_t n = kp_r_arraylen(r, 4);
    if (n > 0)
        kp_r_skip(r, (size_t)n * 4);
}

void kp_metadata_resp_free(kp_md_resp_t *m) {
    for (int32_t i = 0; i < m->nbrokers; i++)
        free(m->brokers[i].host);
    free(m->brokers);
    for (int32_t i = 0; i < m->ntopics; i++) {
        free(m->topics[i].name);
        free(m->topics[i].partitions);
    }
    free(m->topics);
    memset(m, 0, sizeof(*m));
}

int kp_metadata_resp(kp_rbuf_t *r, int16_t ver, kp_md_resp_t *m) {
    memset(m, 0, sizeof(*m));
    if (ver >= 3)
        (void)kp_r_i32(r); /* throttle */
    int32_t nb = kp_r_arraylen(r, 10);
    if (nb > 0) {
        m->brokers = kp_calloc((size_t)nb, sizeof(*m->brokers));
        if (!m->brokers)
            goto fail;
        m->nbrokers = nb;
    }
    for (int32_t i = 0; i < nb && !r->err; i++) {
        kp_md_broker_t *b = &m->brokers[i];
        b->node_id = kp_r_i32(r);
        b->host = dup_str(r);
        b->port = kp_r_i32(r);
        if (ver >= 1) {
            const char *rack;
            (void)kp_r_str(r, &rack);
        }
        kp_r_skip_tags(r);
        if (!b->host && !r->err)
            goto fail;
    }
    if (ver >= 2) {
        const char *cid;
        (void)kp_r_str(r, &cid);
    }
    m->controller_id = ver >= 1 ? kp_r_i32(r) : -1;
    int32_t nt = kp_r_arraylen(r, 8);
    if (nt > 0) {
        m->topics = kp_calloc((size_t)nt, sizeof(*m->topics));
        if (!m->topics)
            goto fail;
        m->ntopics = nt;
    }
    for (int32_t i = 0; i < nt && !r->err; i++) {
        kp_md_topic_t *t = &m->topics[i];
        t->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
        t->name = dup_str(r);
        if (ver >= 10)
            kp_r_skip(r, 16);
        if (ver >= 1)
            (void)kp_r_i8(r);
        int32_t np = kp_r_arraylen(r, 14);
        if (np > 0) {
            t->partitions = kp_calloc((size_t)np, sizeof(*t->partitions));
            if (!t->partitions)
                goto fail;
            t->npartitions = np;
        }
        for (int32_t j = 0; j < np && !r->err; j++) {
            kp_md_partition_t *p = &t->partitions[j];
            p->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
            p->partition = kp_r_i32(r);
            p->leader = kp_r_i32(r);
            p->leader_epoch = ver >= 7 ? kp_r_i32(r) : -1;
            skip_int32_array(r); /* replicas */
            skip_int32_array(r); /* isr */
            if (ver >= 5)
                skip_int32_array(r); /* offline */
            kp_r_skip_tags(r);
        }
        if (ver >= 8)
            (void)kp_r_i32(r);
        kp_r_skip_tags(r);
        if (!t->name && !r->err)
            goto fail;
    }
    if (ver >= 8 && ver <= 10)
        (void)kp_r_i32(r);
    kp_r_skip_tags(r);
    if (r->err)
        goto fail;
    return 0;
fail:
    kp_metadata_resp_free(m);
    return -1;
}

/* ---- InitProducerId ---- */

void kp_initpid_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                    const char *transactional_id, int32_t txn_timeout_ms, int64_t pid,
                    int16_t epoch) {
    kp_proto_begin(w, KP_API_INIT_PRODUCER_ID, ver, corrid, client_id);
    kp_w_str(w, transactional_id);
    kp_w_i32(w, txn_timeout_ms);
    if (ver >= 3) {
        kp_w_i64(w, pid);
        kp_w_i16(w, epoch);
    }
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_initpid_resp(kp_rbuf_t *r, int16_t ver, kp_initpid_resp_t *out) {
    (void)ver;
    (void)kp_r_i32(r); /* throttle */
    out->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
    out->pid = kp_r_i64(r);
    out->epoch = kp_r_i16(r);
    kp_r_skip_tags(r);
    return r->err ? -1 : 0;
}

/* ---- Produce ---- */

static void seg_push(kp_produce_builder_t *b, const uint8_t *ext, size_t off, size_t len) {
    if (b->err)
        return;
    kp_seg_t *s = kp_grow(b->segs, b->nsegs, &b->cap, sizeof(*s), 16);
    if (!s) {
        b->err = 1;
        return;
    }
    b->segs = s;
    b->segs[b->nsegs++] = (kp_seg_t){ext, off, len};
}

/* Cover framing written since the last segment. */
static void seg_frame(kp_produce_builder_t *b) {
    if (b->w.len > b->framed) {
        seg_push(b, NULL, b->framed, b->w.len - b->framed);
        b->framed = b->w.len;
    }
}

void kp_produce_begin(kp_produce_builder_t *b, int16_t ver, int32_t corrid, const char *client_id,
                      int16_t acks, int32_t timeout_ms, const char *transactional_id,
                      int32_t ntopics) {
    memset(b, 0, sizeof(*b));
    kp_wbuf_init(&b->w, 256);
    kp_proto_begin(&b->w, KP_API_PRODUCE, ver, corrid, client_id);
    kp_w_str(&b->w, transactional_id);
    kp_w_i16(&b->w, acks);
    kp_w_i32(&b->w, timeout_ms);
    kp_w_arraylen(&b->w, ntopics);
}

void kp_produce_topic(kp_produce_builder_t *b, const char *topic, int32_t npartitions) {
    kp_w_str(&b->w, topic);
    kp_w_arraylen(&b->w, npartitions);
}

void kp_produce_partition(kp_produce_builder_t *b, int32_t partition, const uint8_t *batch,
                          size_t len) {
    kp_w_i32(&b->w, partition);
    kp_w_byteslen_sz(&b->w, len);
    seg_frame(b);
    seg_push(b, batch, 0, len);
    b->ext_bytes += len;
    kp_w_tags(&b->w); /* partition tagged fields */
}

void kp_produce_topic_end(kp_produce_builder_t *b) { kp_w_tags(&b->w); }

struct iovec *kp_produce_finish(kp_produce_builder_t *b, int *niov) {
    kp_w_tags(&b->w); /* request tagged fields */
    seg_frame(b);
    /* before the check: the size can be what does not fit */
    kp_proto_end(&b->w, b->ext_bytes);
    if (b->w.err || b->err)
        return NULL;
    struct iovec *iov = kp_malloc((size_t)b->nsegs * sizeof(*iov));
    if (!iov)
        return NULL;
    for (int i = 0; i < b->nsegs; i++) {
        iov[i].iov_base = (void *)(b->segs[i].ext ? b->segs[i].ext : b->w.p + b->segs[i].off);
        iov[i].iov_len = b->segs[i].len;
    }
    *niov = b->nsegs;
    return iov;
}

void kp_produce_builder_free(kp_produce_builder_t *b) {
    kp_wbuf_free(&b->w);
    free(b->segs);
    b->segs = NULL;
}

void kp_produce_resp_free(kp_produce_resp_t *pr) {
    for (int32_t i = 0; i < pr->ntopics; i++)
        free(pr->topics[i].parts);
    free(pr->topics);
    memset(pr, 0, sizeof(*pr));
}

int kp_produce_resp(kp_rbuf_t *r, int16_t ver, kp_produce_resp_t *pr) {
    memset(pr, 0, sizeof(*pr));
    int32_t nt = kp_r_arraylen(r, 6);
    if (nt > 0) {
        pr->topics = kp_calloc((size_t)nt, sizeof(*pr->topics));
        if (!pr->topics)
            goto fail;
        pr->ntopics = nt;
    }
    for (int32_t i = 0; i < nt && !r->err; i++) {
        kp_produce_tresp_t *t = &pr->topics[i];
        t->name_len = kp_r_str(r, &t->name);
        int32_t np = kp_r_arraylen(r, 14);
        if (np > 0) {
            t->parts = kp_calloc((size_t)np, sizeof(*t->parts));
            if (!t->parts)
                goto fail;
            t->nparts = np;
        }
        for (int32_t j = 0; j < np && !r->err; j++) {
            kp_produce_presp_t *p = &t->parts[j];
            p->partition = kp_r_i32(r);
            p->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
            p->base_offset = kp_r_i64(r);
            p->log_append_time = ver >= 2 ? kp_r_i64(r) : -1;
            p->log_start_offset = ver >= 5 ? kp_r_i64(r) : -1;
            if (ver >= 8) {
                int32_t ne = kp_r_arraylen(r, 6);
                for (int32_t k = 0; k < ne && !r->err; k++) {
                    const char *msg;
                    (void)kp_r_i32(r);
                    (void)kp_r_str(r, &msg);
                    kp_r_skip_tags(r);
                }
                const char *emsg;
                (void)kp_r_str(r, &emsg);
            }
            kp_r_skip_tags(r);
        }
        kp_r_skip_tags(r);
    }
    pr->throttle_ms = kp_r_i32(r);
    kp_r_skip_tags(r);
    if (r->err)
        goto fail;
    return 0;
fail:
    kp_produce_resp_free(pr);
    return -1;
}

/*
 * protocol — encoders/decoders for ApiVersions (18), Metadata (3), Produce
 * (0), InitProducerId (22), SaslHandshake (17) and SaslAuthenticate (36),
 * and the version tables of those and of txn.c's transactional APIs,
 * written from the message schemas of Apache
 * Kafka (clients/src/main/resources/common/message/<Api>Request.json and
 * <Api>Response.json), field by field as their "versions",
 * "nullableVersions", "flexibleVersions" and tagged fields say.
 *
 * Versions (codec: what the code below writes and reads, each tested byte
 * for byte; ours: what kprod negotiates, kp_proto_our_*):
 *
 *   API             codec          ours    notes
 *   Produce         3..12 (0..12)  3..12   v3 RecordBatch v2 + TransactionalId;
 *                                          v8 RecordErrors/ErrorMessage
 *                                          (KIP-467); flexible from v9; v10
 *                                          CurrentLeader/NodeEndpoints
 *                                          (KIP-951); v11 (TRANSACTION_
 *                                          ABORTABLE) and v12 (transactions
 *                                          v2) v10's format. (0..12:
 *                                          responses)
 *   Metadata        1..12 (0..12)  1..12   v4 AllowAutoTopicCreation; v7
 *                                          LeaderEpoch; v8 authorized ops;
 *                                          flexible from v9; v10 TopicId; v11
 *                                          drops the cluster's authorized ops;
 *                                          v12 nullable topic names
 *   ApiVersions     0..4           0..3    flexible from v3 (KIP-511 client
 *                                          software name/version; tag 2
 *                                          FinalizedFeatures, read for
 *                                          transaction.version); response
 *                                          header v0 always
 *   InitProducerId  0..5           0..5    flexible from v2; v3 ProducerId/
 *                                          Epoch; v4/v5 only new error codes
 *   SaslHandshake   0..1           1..1    same fields; v1: the exchange goes
 *                                          in SaslAuthenticate (v0's raw
 *                                          tokens are not done)
 *   SaslAuthenticate 0..2          0..2    v1 SessionLifetimeMs (KIP-368);
 *                                          flexible from v2
 *   FindCoordinator 0..6           0..6    txn.c (the transactional APIs,
 *   AddPartitionsToTxn 0..3        0..3    each flexible from v3; their
 *   AddOffsetsToTxn 0..4           0..4    fields by version are in txn.c's
 *   EndTxn          0..5           0..5    table). AddPartitionsToTxn 4+ is
 *   TxnOffsetCommit 0..5           0..5    the brokers' batched form
 *
 * Why ours stop where they do: Metadata 12 is the highest the engine's use
 * of the decoded structs is right for (13 adds a top-level ErrorCode);
 * Produce 13 names topics by id. Produce 12, EndTxn 5 and TxnOffsetCommit
 * 5 are transactions v2 (KIP-890 part 2: the broker adds partitions and
 * the group to the transaction, EndTxn bumps the epoch) and mean it to the
 * broker, so the engine caps them at 11, 4 and 4 unless the cluster's
 * finalized transaction.version (kp_features_t) is 2 or more.
 * ApiVersions asks v3 first and conn.c falls back (to v0, or the broker's
 * own range) when a broker answers it malformed, UNSUPPORTED_VERSION or by
 * closing the connection.
 *
 * KIP-896 (Kafka 4.0 removed old protocol versions). Kafka 4.0.0's schemas
 * (release commit 74d93adadb74ff682882b31dde03fea07fb4af97):
 * ProduceRequest.json "validVersions": "3-12" ("Versions 0-2 were removed in
 * Apache Kafka 4.0, version 3 is the new baseline"), MetadataRequest.json
 * "0-13", ApiVersionsRequest.json "0-4", InitProducerIdRequest.json "0-5".
 * So of our APIs only Produce lost versions (the transactional APIs lost
 * none: ours start at their v0), and 4.0 still lists Produce
 * from v0 in its ApiVersions answer (KAFKA-18659, for librdkafka's sake)
 * while rejecting 0-2: the broker's advertised minimum cannot be trusted
 * there, our own minimum must keep them out. kp_proto_our_min(Produce) is 3
 * (RecordBatch v2 needs it anyway). The others keep their old minimums:
 * their low versions stay valid on 4.0, and keeping them is what lets kprod
 * talk to old brokers. Kafka 3.7 marked Produce 0-6 and Metadata 0-3
 * deprecated (the Kafka 2.1 baseline Confluent Cloud enforces since
 * February 2026); they need no minimum of ours either, because
 * kp_proto_pick takes the highest version both sides know: a version below
 * a broker's maximum is never sent, so Produce 3..6 or Metadata 1..3 go
 * only to a broker whose maximum is that low, i.e. one older than 2.1 on
 * which they are valid. Negotiation copes with a broker that offers only
 * new versions (its minimum above ours, or above our maximum): the highest
 * common version when the ranges meet, never one below the broker's
 * minimum, -1 when they do not meet.
 *
 * Every ErrorCode field goes through kp_err_from_kafka() as it is read, so
 * a broker's UNKNOWN_SERVER_ERROR (-1) never reaches the sender as kprod's
 * own KP_ERR_UNKNOWN (also -1).
 */
#include "base/alloc.h"
#include "proto/protocol.h"
#include "proto/txn.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/kafka_codes.h"
#include "kprod/kprod.h"
#include "base/util.h"

int16_t kp_proto_our_min(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 3; /* KIP-896: Kafka 4.0 rejects 0-2 */
    case KP_API_METADATA: return 1;
    case KP_API_API_VERSIONS: return 0;
    case KP_API_INIT_PRODUCER_ID: return 0;
    case KP_API_SASL_HANDSHAKE: return 1; /* v0: raw SASL tokens, not done */
    case KP_API_SASL_AUTHENTICATE: return 0;
    case KP_API_FIND_COORDINATOR: return 0;
    case KP_API_ADD_PARTITIONS_TO_TXN: return 0;
    case KP_API_ADD_OFFSETS_TO_TXN: return 0;
    case KP_API_END_TXN: return 0;
    case KP_API_TXN_OFFSET_COMMIT: return 0;
    }
    return -1;
}

int16_t kp_proto_our_max(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 12; /* 12: transactions v2 (the engine caps) */
    case KP_API_METADATA: return 12;
    case KP_API_API_VERSIONS: return 3; /* KIP-511; conn.c falls back */
    case KP_API_INIT_PRODUCER_ID: return 5;
    case KP_API_SASL_HANDSHAKE: return 1;
    case KP_API_SASL_AUTHENTICATE: return 2;
    case KP_API_FIND_COORDINATOR: return 6;
    case KP_API_ADD_PARTITIONS_TO_TXN: return 3; /* 4+: the brokers' form */
    case KP_API_ADD_OFFSETS_TO_TXN: return 4;
    case KP_API_END_TXN: return 5;           /* 5: transactions v2 */
    case KP_API_TXN_OFFSET_COMMIT: return 5; /* 5: transactions v2 */
    }
    return -1;
}

int16_t kp_proto_codec_min(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 3;  /* v0-2 have no TransactionalId */
    case KP_API_METADATA: return 1; /* v0's empty list means every topic */
    case KP_API_API_VERSIONS: return 0;
    case KP_API_INIT_PRODUCER_ID: return 0;
    case KP_API_SASL_HANDSHAKE: return 0;
    case KP_API_SASL_AUTHENTICATE: return 0;
    case KP_API_FIND_COORDINATOR: return 0;
    case KP_API_ADD_PARTITIONS_TO_TXN: return 0;
    case KP_API_ADD_OFFSETS_TO_TXN: return 0;
    case KP_API_END_TXN: return 0;
    case KP_API_TXN_OFFSET_COMMIT: return 0;
    }
    return -1;
}

int16_t kp_proto_codec_max(int16_t api) {
    switch (api) {
    case KP_API_PRODUCE: return 12;
    case KP_API_METADATA: return 12;
    case KP_API_API_VERSIONS: return 4;
    case KP_API_INIT_PRODUCER_ID: return 5;
    case KP_API_SASL_HANDSHAKE: return 1;
    case KP_API_SASL_AUTHENTICATE: return 2;
    case KP_API_FIND_COORDINATOR: return 6;
    case KP_API_ADD_PARTITIONS_TO_TXN: return 3;
    case KP_API_ADD_OFFSETS_TO_TXN: return 4;
    case KP_API_END_TXN: return 5;
    case KP_API_TXN_OFFSET_COMMIT: return 5;
    }
    return -1;
}

int kp_proto_is_flexible(int16_t api, int16_t v) {
    switch (api) {
    case KP_API_PRODUCE: return v >= 9;
    case KP_API_METADATA: return v >= 9;
    case KP_API_API_VERSIONS: return v >= 3;
    case KP_API_INIT_PRODUCER_ID: return v >= 2;
    case KP_API_SASL_HANDSHAKE: return 0;
    case KP_API_SASL_AUTHENTICATE: return v >= 2;
    case KP_API_FIND_COORDINATOR:
    case KP_API_ADD_PARTITIONS_TO_TXN:
    case KP_API_ADD_OFFSETS_TO_TXN:
    case KP_API_END_TXN:
    case KP_API_TXN_OFFSET_COMMIT: return v >= 3;
    }
    return 0;
}

int16_t kp_proto_pick_upto(int16_t api, int16_t bmin, int16_t bmax, int16_t cap) {
    int16_t lo = kp_proto_our_min(api), hi = kp_proto_codec_max(api);
    if (lo < 0 || bmax < 0 || bmin > bmax)
        return -1;
    if (cap < hi)
        hi = cap;
    int16_t v = hi < bmax ? hi : bmax;
    if (v < lo || v < bmin)
        return -1;
    return v;
}

int16_t kp_proto_pick(int16_t api, int16_t bmin, int16_t bmax) {
    return kp_proto_pick_upto(api, bmin, bmax, kp_proto_our_max(api));
}

/* Whether a decoder knows version ver of api's response. */
static int decodable(int16_t api, int16_t ver) {
    return ver >= 0 && ver <= kp_proto_codec_max(api);
}

void kp_proto_begin(kp_wbuf_t *w, int16_t api, int16_t ver, int32_t corrid,
                    const char *client_id) {
    int flex = kp_proto_is_flexible(api, ver);
    /* a version the encoders do not know would go out with the wrong
     * fields: the request fails to build instead */
    if (ver < kp_proto_codec_min(api) || ver > kp_proto_codec_max(api))
        w->err = 1;
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
    /* header v1 (a tag section) for flexible versions, except ApiVersions,
     * whose answer must be readable by a client whatever version it asked */
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
    if (ver >= 3) { /* KIP-511 */
        kp_w_str(w, "kprod");            /* ClientSoftwareName */
        kp_w_str(w, KPROD_VERSION_STR);  /* ClientSoftwareVersion */
        kp_w_tags(w);
    }
    kp_proto_end(w, 0);
}

static void av_clear(kp_api_range_t *ranges) {
    for (int i = 0; i < KP_API_COUNT; i++)
        ranges[i].min = ranges[i].max = -1;
}

/* FinalizedFeatures (tag 2, v3+): entries of Name, MaxVersionLevel,
 * MinVersionLevel; the first named "transaction.version" gives
 * feat->transaction_version. Sets v->err when malformed. */
static void av_finalized(kp_rbuf_t *v, kp_features_t *feat) {
    static const char txn[] = "transaction.version";
    /* Name, MaxVersionLevel, MinVersionLevel, tags: 6 bytes compact */
    int32_t n = kp_r_arraylen(v, 6);
    if (n < 0)
        v->err = 1; /* not nullable */
    int found = 0;
    for (int32_t i = 0; i < n && !v->err; i++) {
        const char *name;
        int32_t len = kp_r_str(v, &name);
        int16_t max = kp_r_i16(v);
        (void)kp_r_i16(v); /* MinVersionLevel */
        kp_r_skip_tags(v);
        if (!v->err && len < 0)
            v->err = 1;
        if (!v->err && !found && len == (int32_t)sizeof(txn) - 1 &&
            memcmp(name, txn, sizeof(txn) - 1) == 0) {
            found = 1;
            feat->transaction_version = max;
        }
    }
}

/* The body's tagged fields (v3+): FinalizedFeatures (tag 2) read, each tag
 * at most once; SupportedFeatures, FinalizedFeaturesEpoch and the others
 * skipped. */
static void av_tags(kp_rbuf_t *r, kp_features_t *feat) {
    uint64_t n = kp_r_tag_count(r);
    int seen = 0;
    for (uint64_t i = 0; i < n && !r->err; i++) {
        uint64_t tag;
        kp_rbuf_t v;
        if (kp_r_tag(r, &tag, &v))
            return;
        if (tag != 2)
            continue;
        if (seen++) {
            r->err = 1;
            return;
        }
        av_finalized(&v, feat);
        if (v.err)
            r->err = 1;
    }
}

/* The rest of an ApiVersions body after ErrorCode, in the form of version
 * form (0: int32 count, entries of three int16, nothing after). */
static void av_rest(kp_rbuf_t *r, int16_t form, kp_api_range_t *ranges, kp_features_t *feat) {
    r->flex = form >= 3;
    int32_t n = kp_r_arraylen(r, r->flex ? 7 : 6);
    for (int32_t i = 0; i < n && !r->err; i++) {
        int16_t key = kp_r_i16(r), mn = kp_r_i16(r), mx = kp_r_i16(r);
        kp_r_skip_tags(r);
        if (!r->err && key >= 0 && key < KP_API_COUNT) {
            ranges[key].min = mn;
            ranges[key].max = mx;
        }
    }
    if (form >= 1)
        (void)kp_r_i32(r); /* ThrottleTimeMs */
    feat->transaction_version = 0;
    av_tags(r, feat);
    if (r->err) {
        av_clear(ranges);
        feat->transaction_version = 0;
    }
}

int kp_apiversions_resp(kp_rbuf_t *r, int16_t ver, kp_api_range_t *ranges,
                        kp_features_t *feat) {
    kp_features_t none;
    if (!feat)
        feat = &none;
    feat->transaction_version = 0;
    av_clear(ranges);
    if (!decodable(KP_API_API_VERSIONS, ver)) {
        r->err = 1;
        return -1;
    }
    r->flex = 0;
    int16_t code = kp_r_i16(r); /* the same two bytes in every form */
    if (r->err)
        return -1;
    int err = kp_err_from_kafka(code);
    kp_rbuf_t rest = *r;
    if (code == KAFKA_UNSUPPORTED_VERSION) {
        /* The broker does not know version ver and says so in v0 form,
         * the one form every client reads (Kafka's ApiVersionsRequest
         * getErrorResponse). A reply in the asked form (some other
         * implementation) is taken only when it is exactly that form, to
         * the last byte: anything else is malformed, and the caller falls
         * back without a range. */
        av_rest(r, 0, ranges, feat);
        if (!r->err)
            return err;
        if (ver > 0) {
            *r = rest;
            av_rest(r, ver, ranges, feat);
            feat->transaction_version = 0; /* only a success has features */
            if (!r->err && r->off == r->len)
                return err;
        }
        av_clear(ranges);
        r->err = 1;
        return -1;
    }
    av_rest(r, ver, ranges, feat);
    if (code != 0)
        feat->transaction_version = 0;
    if (r->err && code != 0) {
        /* an error answer whose body does not read as the asked version
         * (a broker that sends no ThrottleTimeMs with it): the error code
         * is the answer, the body is consumed */
        r->err = 0;
        r->off = r->len;
    }
    return r->err ? -1 : err;
}

/* ---- Metadata ---- */

void kp_metadata_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                     const char *const *topics, size_t ntopics, int allow_auto_create) {
    kp_proto_begin(w, KP_API_METADATA, ver, corrid, client_id);
    kp_w_arraylen_sz(w, ntopics); /* Topics (nullable 1+: null would be all) */
    for (size_t i = 0; i < ntopics; i++) {
        if (ver >= 10)
            kp_w_uuid(w, NULL); /* TopicId: zero, "by name" */
        kp_w_str(w, topics[i]); /* Name (nullable 10+: we always name) */
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

/* An []int32 whose elements kprod does not keep: returns its length (0
 * for null). */
static int32_t skip_int32_array(kp_rbuf_t *r) {
    int32_t n = kp_r_arraylen(r, 4);
    if (n > 0)
        kp_r_skip(r, (size_t)n * 4);
    return n > 0 && !r->err ? n : 0;
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
    m->controller_id = -1;
    if (!decodable(KP_API_METADATA, ver)) {
        r->err = 1;
        goto fail;
    }
    r->flex = kp_proto_is_flexible(KP_API_METADATA, ver);
    if (ver >= 3)
        m->throttle_ms = kp_r_i32(r);
    /* smallest broker: NodeId, Host, Port (+ Rack 1+): 10 bytes classic */
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
        (void)kp_r_str(r, &cid); /* ClusterId */
    }
    if (ver >= 1)
        m->controller_id = kp_r_i32(r);
    /* smallest topic: ErrorCode, Name, Partitions: 8 bytes classic */
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
        if (!t->name && !r->err)
            goto fail;
        if (ver >= 10)
            kp_r_uuid(r, t->topic_id);
        if (ver >= 1)
            t->is_internal = kp_r_i8(r) != 0;
        /* smallest partition: ErrorCode, PartitionIndex, LeaderId and two
         * arrays: 14 bytes classic */
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
            p->nreplicas = skip_int32_array(r);
            p->nisr = skip_int32_array(r);
            if (ver >= 5)
                p->noffline = skip_int32_array(r);
            kp_r_skip_tags(r);
        }
        t->authorized_ops = ver >= 8 ? kp_r_i32(r) : INT32_MIN;
        kp_r_skip_tags(r);
    }
    if (ver >= 8 && ver <= 10)
        (void)kp_r_i32(r); /* ClusterAuthorizedOperations */
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
    if (!decodable(KP_API_INIT_PRODUCER_ID, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(KP_API_INIT_PRODUCER_ID, ver);
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
    /* Records: classic nullable bytes (int32 length) or, flexible,
     * COMPACT_RECORDS (unsigned varint length + 1); the batch itself is
     * referenced as a segment of its own, never copied */
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
    for (int32_t i = 0; i < pr->ntopics; i++) {
        for (int32_t j = 0; j < pr->topics[i].nparts; j++)
            free(pr->topics[i].parts[j].record_errors);
        free(pr->topics[i].parts);
    }
    free(pr->topics);
    free(pr->nodes);
    memset(pr, 0, sizeof(*pr));
}

const kp_produce_node_t *kp_produce_resp_node(const kp_produce_resp_t *pr, int32_t node_id) {
    for (int32_t i = 0; i < pr->nnodes; i++)
        if (pr->nodes[i].node_id == node_id)
            return &pr->nodes[i];
    return NULL;
}

/* RecordErrors (v8+, KIP-467). Returns -1 on allocation failure. */
static int read_record_errors(kp_rbuf_t *r, kp_produce_presp_t *p) {
    /* BatchIndex, BatchIndexErrorMessage (+ tags): 6 bytes classic */
    int32_t n = kp_r_arraylen(r, 6);
    if (n <= 0)
        return 0;
    p->record_errors = kp_calloc((size_t)n, sizeof(*p->record_errors));
    if (!p->record_errors)
        return -1;
    p->nrecord_errors = n;
    for (int32_t k = 0; k < n && !r->err; k++) {
        kp_produce_rec_err_t *e = &p->record_errors[k];
        e->batch_index = kp_r_i32(r);
        e->msg_len = kp_r_str(r, &e->msg);
        kp_r_skip_tags(r);
    }
    return 0;
}

/* A partition's tagged fields; v10+ knows tag 0, CurrentLeader. */
static void read_partition_tags(kp_rbuf_t *r, int16_t ver, kp_produce_presp_t *p) {
    uint64_t n = kp_r_tag_count(r);
    int seen = 0;
    for (uint64_t i = 0; i < n && !r->err; i++) {
        uint64_t tag;
        kp_rbuf_t v;
        if (kp_r_tag(r, &tag, &v))
            return;
        if (ver < 10 || tag != 0)
            continue; /* a field we do not know: skipped */
        if (seen++) { /* each tag once (they come in increasing order) */
            r->err = 1;
            return;
        }
        p->leader_id = kp_r_i32(&v);
        p->leader_epoch = kp_r_i32(&v);
        kp_r_skip_tags(&v);
        if (v.err) {
            p->leader_id = p->leader_epoch = -1;
            r->err = 1;
        }
    }
}

/* NodeEndpoints (v10+, top-level tag 0). Returns -1 on allocation
 * failure; a malformed value sets r->err. */
static int read_node_endpoints(kp_rbuf_t *r, kp_rbuf_t *v, kp_produce_resp_t *pr) {
    /* NodeId, Host, Port, Rack, tags: 11 bytes compact */
    int32_t n = kp_r_arraylen(v, 11);
    if (n > 0) {
        pr->nodes = kp_calloc((size_t)n, sizeof(*pr->nodes));
        if (!pr->nodes)
            return -1;
        pr->nnodes = n;
    }
    for (int32_t i = 0; i < n && !v->err; i++) {
        kp_produce_node_t *e = &pr->nodes[i];
        e->node_id = kp_r_i32(v);
        e->host_len = kp_r_str(v, &e->host);
        if (!v->err && e->host_len < 0) /* Host is not nullable */
            v->err = 1;
        e->port = kp_r_i32(v);
        e->rack_len = kp_r_str(v, &e->rack);
        kp_r_skip_tags(v);
    }
    if (v->err)
        r->err = 1;
    return 0;
}

int kp_produce_resp(kp_rbuf_t *r, int16_t ver, kp_produce_resp_t *pr) {
    memset(pr, 0, sizeof(*pr));
    if (!decodable(KP_API_PRODUCE, ver)) {
        r->err = 1;
        goto fail;
    }
    r->flex = kp_proto_is_flexible(KP_API_PRODUCE, ver);
    /* smallest topic: Name, PartitionResponses: 6 bytes classic */
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
        /* smallest partition: Index, ErrorCode, BaseOffset: 14 bytes */
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
            p->error_message_len = -1;
            p->leader_id = p->leader_epoch = -1;
            if (ver >= 8) {
                if (read_record_errors(r, p))
                    goto fail;
                p->error_message_len = kp_r_str(r, &p->error_message);
            }
            read_partition_tags(r, ver, p);
        }
        kp_r_skip_tags(r);
    }
    pr->throttle_ms = ver >= 1 ? kp_r_i32(r) : 0;
    uint64_t ntags = kp_r_tag_count(r);
    int seen = 0;
    for (uint64_t i = 0; i < ntags && !r->err; i++) {
        uint64_t tag;
        kp_rbuf_t v;
        if (kp_r_tag(r, &tag, &v))
            break;
        if (ver < 10 || tag != 0)
            continue;
        if (seen++) {
            r->err = 1;
            break;
        }
        if (read_node_endpoints(r, &v, pr))
            goto fail;
    }
    if (r->err)
        goto fail;
    return 0;
fail:
    kp_produce_resp_free(pr);
    return -1;
}

/* ---- SaslHandshake ---- */

void kp_sasl_handshake_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                           const char *mechanism) {
    kp_proto_begin(w, KP_API_SASL_HANDSHAKE, ver, corrid, client_id);
    if (!mechanism)
        w->err = 1; /* Mechanism is not nullable */
    kp_w_str(w, mechanism);
    kp_proto_end(w, 0);
}

void kp_sasl_handshake_resp_free(kp_sasl_handshake_resp_t *out) {
    free(out->mechs);
    memset(out, 0, sizeof(*out));
}

int kp_sasl_handshake_resp(kp_rbuf_t *r, int16_t ver, kp_sasl_handshake_resp_t *out) {
    memset(out, 0, sizeof(*out));
    if (!decodable(KP_API_SASL_HANDSHAKE, ver))
        r->err = 1;
    r->flex = 0;
    out->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
    int32_t n = kp_r_arraylen(r, 2); /* each a string: 2 bytes at least */
    if (r->err)
        return -1;
    if (n > 0) {
        out->mechs = kp_calloc((size_t)n, sizeof(*out->mechs));
        if (!out->mechs) {
            r->err = 1;
            return -1;
        }
    }
    for (int32_t i = 0; i < n && !r->err; i++) {
        kp_proto_str_t *m = &out->mechs[i];
        m->len = kp_r_str(r, &m->s);
        if (m->len < 0) /* not nullable */
            r->err = 1;
        out->nmechs = i + 1;
    }
    if (r->err) {
        kp_sasl_handshake_resp_free(out);
        return -1;
    }
    return 0;
}

/* ---- SaslAuthenticate ---- */

void kp_sasl_authenticate_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                              const uint8_t *auth, size_t len) {
    kp_proto_begin(w, KP_API_SASL_AUTHENTICATE, ver, corrid, client_id);
    kp_w_byteslen_sz(w, len);
    kp_w_bytes_raw(w, auth, len);
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_sasl_authenticate_resp(kp_rbuf_t *r, int16_t ver, kp_sasl_authenticate_resp_t *out) {
    memset(out, 0, sizeof(*out));
    if (!decodable(KP_API_SASL_AUTHENTICATE, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(KP_API_SASL_AUTHENTICATE, ver);
    out->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
    out->error_message_len = kp_r_str(r, &out->error_message);
    out->auth_len = kp_r_bytes(r, &out->auth_bytes);
    if (out->auth_len < 0) /* AuthBytes is not nullable */
        r->err = 1;
    if (ver >= 1)
        out->session_lifetime_ms = kp_r_i64(r);
    kp_r_skip_tags(r);
    if (r->err) {
        memset(out, 0, sizeof(*out));
        out->error_message_len = -1;
        return -1;
    }
    if (out->error_message_len < 0)
        out->error_message = NULL;
    return 0;
}

/*
 * txn — encoders/decoders for the transactional APIs: FindCoordinator
 * (10), AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26) and
 * TxnOffsetCommit (28), written from Apache Kafka's message schemas
 * (clients/src/main/resources/common/message/<Api>Request.json and
 * <Api>Response.json) field by field, as protocol.c's are. Every one is
 * flexible from v3; none has a tagged field of its own.
 *
 *   API                 versions  fields by version
 *   FindCoordinator     0..6      req v0 Key; v1..3 Key KeyType; v4+
 *                                 KeyType CoordinatorKeys[] (KIP-699).
 *                                 resp v0 ErrorCode NodeId Host Port; v1..3
 *                                 ThrottleTimeMs first, ErrorMessage after
 *                                 ErrorCode; v4+ ThrottleTimeMs
 *                                 Coordinators[] {Key NodeId Host Port
 *                                 ErrorCode ErrorMessage}. v5 (KIP-890), v6
 *                                 (KIP-932 share groups): v4's format
 *   AddPartitionsToTxn  0..3      req TransactionalId ProducerId
 *                                 ProducerEpoch Topics[] {Name
 *                                 Partitions[]int32}; resp ThrottleTimeMs
 *                                 Results[] {Name Results[] {PartitionIndex
 *                                 ErrorCode}}. v4+ (brokers' batched form,
 *                                 KIP-890) is not coded
 *   AddOffsetsToTxn     0..4      req TransactionalId ProducerId
 *                                 ProducerEpoch GroupId; resp
 *                                 ThrottleTimeMs ErrorCode
 *   EndTxn              0..5      req TransactionalId ProducerId
 *                                 ProducerEpoch Committed; resp
 *                                 ThrottleTimeMs ErrorCode, v5+ ProducerId
 *                                 ProducerEpoch (KIP-890 part 2)
 *   TxnOffsetCommit     0..5      req TransactionalId GroupId ProducerId
 *                                 ProducerEpoch, v3+ GenerationId MemberId
 *                                 GroupInstanceId, Topics[] {Name
 *                                 Partitions[] {PartitionIndex
 *                                 CommittedOffset, v2+ CommittedLeaderEpoch,
 *                                 CommittedMetadata}}; resp ThrottleTimeMs
 *                                 Topics[] {Name Partitions[]
 *                                 {PartitionIndex ErrorCode}}. v5 is v4's
 *                                 format (Kafka 4.0, KIP-890)
 *
 * The versions that only add error codes (AddPartitionsToTxn 1..2,
 * AddOffsetsToTxn 1..2 and 4, EndTxn 1..2 and 4, TxnOffsetCommit 1 and 4)
 * read and write what the version before does.
 *
 * Decoders: every array count is checked against the bytes left before
 * anything is allocated (the smallest element of each form, classic or
 * compact, is the divisor); a null where the schema allows none is
 * malformed; a failed decode leaves nothing allocated.
 */
#include "proto/txn.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "proto/protocol.h"

/* Whether a decoder knows version ver of api's response. */
static int decodable(int16_t api, int16_t ver) {
    return ver >= 0 && ver <= kp_proto_codec_max(api);
}

/* A string the schema does not let be null. */
static void w_str_nn(kp_wbuf_t *w, const char *s) {
    if (!s)
        w->err = 1;
    kp_w_str(w, s);
}

static int same_topic(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* ---- FindCoordinator ---- */

void kp_findcoord_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                      int8_t key_type, const char *key) {
    kp_proto_begin(w, KP_API_FIND_COORDINATOR, ver, corrid, client_id);
    if (ver == 0 && key_type != KP_COORD_GROUP)
        w->err = 1; /* v0 has no KeyType: it finds groups only */
    if (ver <= 3)
        w_str_nn(w, key);
    if (ver >= 1)
        kp_w_i8(w, key_type);
    if (ver >= 4) {
        kp_w_arraylen(w, 1); /* CoordinatorKeys */
        w_str_nn(w, key);
    }
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_findcoord_resp(kp_rbuf_t *r, int16_t ver, kp_findcoord_resp_t *out) {
    memset(out, 0, sizeof(*out));
    if (!decodable(KP_API_FIND_COORDINATOR, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(KP_API_FIND_COORDINATOR, ver);
    if (ver >= 1)
        (void)kp_r_i32(r); /* ThrottleTimeMs */
    out->key_len = -1;
    out->error_message_len = -1;
    if (ver >= 4) {
        /* Key, NodeId, Host, Port, ErrorCode, ErrorMessage, tags: 14
         * bytes at least (always compact) */
        int32_t n = kp_r_arraylen(r, 14);
        if (n <= 0) /* null, or no entry for the key asked about */
            r->err = 1;
        for (int32_t i = 0; i < n && !r->err; i++) {
            kp_findcoord_resp_t e = {0};
            e.key_len = kp_r_str(r, &e.key);
            e.node_id = kp_r_i32(r);
            e.host_len = kp_r_str(r, &e.host);
            e.port = kp_r_i32(r);
            e.err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
            e.error_message_len = kp_r_str(r, &e.error_message);
            kp_r_skip_tags(r);
            /* Key and Host are not nullable; an error answer with a null
             * Host is taken (librdkafka's mock writes one) */
            if (!r->err && (e.key_len < 0 || (e.host_len < 0 && !e.err)))
                r->err = 1;
            if (i == 0)
                *out = e;
        }
    } else {
        out->err = (int16_t)kp_err_from_kafka(kp_r_i16(r));
        if (ver >= 1)
            out->error_message_len = kp_r_str(r, &out->error_message);
        out->node_id = kp_r_i32(r);
        out->host_len = kp_r_str(r, &out->host);
        out->port = kp_r_i32(r);
        if (!r->err && out->host_len < 0 && !out->err)
            r->err = 1;
    }
    kp_r_skip_tags(r);
    if (r->err) {
        memset(out, 0, sizeof(*out));
        out->key_len = out->error_message_len = -1;
        return -1;
    }
    if (out->error_message_len < 0)
        out->error_message = NULL;
    return 0;
}

/* ---- AddPartitionsToTxn and TxnOffsetCommit answers ---- */

void kp_addparts_resp_free(kp_addparts_resp_t *out) {
    free(out->parts);
    out->parts = NULL;
    out->nparts = 0;
}

/* Topics[] {Name, Partitions[] {PartitionIndex, ErrorCode}}: the layout of
 * AddPartitionsToTxn v0..3's and TxnOffsetCommit's results. With parts
 * NULL it only counts. Returns the number of partitions, or -1 (r->err
 * set) when malformed. */
static int64_t read_results(kp_rbuf_t *r, kp_addparts_presp_t *parts) {
    /* a topic: Name, Partitions (+ tags) */
    int32_t nt = kp_r_arraylen(r, r->flex ? 3 : 6);
    if (nt < 0)
        r->err = 1; /* not nullable */
    int64_t k = 0;
    for (int32_t i = 0; i < nt && !r->err; i++) {
        const char *name;
        int32_t name_len = kp_r_str(r, &name);
        if (name_len < 0)
            r->err = 1;
        /* a partition: PartitionIndex, ErrorCode (+ tags) */
        int32_t np = kp_r_arraylen(r, r->flex ? 7 : 6);
        if (np < 0)
            r->err = 1;
        for (int32_t j = 0; j < np && !r->err; j++) {
            int32_t partition = kp_r_i32(r);
            int16_t code = kp_r_i16(r);
            kp_r_skip_tags(r);
            if (parts && !r->err)
                parts[k] = (kp_addparts_presp_t){name, name_len, partition,
                                                 (int16_t)kp_err_from_kafka(code)};
            k++;
        }
        kp_r_skip_tags(r);
    }
    return r->err ? -1 : k;
}

/* ThrottleTimeMs, the results, the tags: read twice, once to count the
 * partitions (every one holds 6 bytes of the frame, so the count is
 * bounded by it) and once into the one array. */
static int results_resp(kp_rbuf_t *r, int16_t api, int16_t ver, kp_addparts_resp_t *out) {
    memset(out, 0, sizeof(*out));
    if (!decodable(api, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(api, ver);
    (void)kp_r_i32(r); /* ThrottleTimeMs */
    kp_rbuf_t start = *r;
    int64_t n = read_results(r, NULL);
    kp_r_skip_tags(r);
    if (r->err || n > INT32_MAX) {
        r->err = 1;
        return -1;
    }
    if (n > 0) {
        out->parts = kp_calloc((size_t)n, sizeof(*out->parts));
        if (!out->parts) {
            r->err = 1;
            return -1;
        }
        out->nparts = (int32_t)n;
        kp_rbuf_t again = start;
        (void)read_results(&again, out->parts); /* the same bytes: the same count */
    }
    return 0;
}

/* ---- AddPartitionsToTxn ---- */

/* The number of runs of equal topics in tps[0..n). */
static int32_t topic_runs(const kp_txn_tp_t *tps, int32_t n) {
    int32_t runs = 0;
    for (int32_t i = 0; i < n; i++)
        if (i == 0 || !same_topic(tps[i].topic, tps[i - 1].topic))
            runs++;
    return runs;
}

void kp_addparts_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                     const char *transactional_id, int64_t pid, int16_t epoch,
                     const kp_txn_tp_t *tps, int32_t n) {
    kp_proto_begin(w, KP_API_ADD_PARTITIONS_TO_TXN, ver, corrid, client_id);
    if (n < 0 || (n > 0 && !tps)) {
        w->err = 1;
        return;
    }
    w_str_nn(w, transactional_id);
    kp_w_i64(w, pid);
    kp_w_i16(w, epoch);
    kp_w_arraylen(w, topic_runs(tps, n)); /* Topics */
    for (int32_t i = 0; i < n && !w->err;) {
        int32_t end = i + 1;
        while (end < n && same_topic(tps[end].topic, tps[i].topic))
            end++;
        w_str_nn(w, tps[i].topic);
        kp_w_arraylen(w, end - i); /* Partitions */
        for (; i < end; i++)
            kp_w_i32(w, tps[i].partition);
        kp_w_tags(w);
    }
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_addparts_resp(kp_rbuf_t *r, int16_t ver, kp_addparts_resp_t *out) {
    return results_resp(r, KP_API_ADD_PARTITIONS_TO_TXN, ver, out);
}

/* ---- AddOffsetsToTxn ---- */

void kp_addoffsets_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                       const char *transactional_id, int64_t pid, int16_t epoch,
                       const char *group_id) {
    kp_proto_begin(w, KP_API_ADD_OFFSETS_TO_TXN, ver, corrid, client_id);
    w_str_nn(w, transactional_id);
    kp_w_i64(w, pid);
    kp_w_i16(w, epoch);
    w_str_nn(w, group_id);
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_addoffsets_resp(kp_rbuf_t *r, int16_t ver, int16_t *err) {
    *err = 0;
    if (!decodable(KP_API_ADD_OFFSETS_TO_TXN, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(KP_API_ADD_OFFSETS_TO_TXN, ver);
    (void)kp_r_i32(r); /* ThrottleTimeMs */
    int16_t code = kp_r_i16(r);
    kp_r_skip_tags(r);
    if (r->err)
        return -1;
    *err = (int16_t)kp_err_from_kafka(code);
    return 0;
}

/* ---- TxnOffsetCommit ---- */

void kp_txncommit_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                      const char *transactional_id, const char *group_id, int64_t pid,
                      int16_t epoch, int32_t generation_id, const char *member_id,
                      const char *group_instance_id, const kp_txn_offset_t *offs, int32_t n) {
    kp_proto_begin(w, KP_API_TXN_OFFSET_COMMIT, ver, corrid, client_id);
    if (n < 0 || (n > 0 && !offs)) {
        w->err = 1;
        return;
    }
    w_str_nn(w, transactional_id);
    w_str_nn(w, group_id);
    kp_w_i64(w, pid);
    kp_w_i16(w, epoch);
    if (ver >= 3) {
        kp_w_i32(w, generation_id);
        kp_w_str(w, member_id ? member_id : "");
        kp_w_str(w, group_instance_id); /* nullable */
    }
    int32_t runs = 0;
    for (int32_t i = 0; i < n; i++)
        if (i == 0 || !same_topic(offs[i].topic, offs[i - 1].topic))
            runs++;
    kp_w_arraylen(w, runs); /* Topics */
    for (int32_t i = 0; i < n && !w->err;) {
        int32_t end = i + 1;
        while (end < n && same_topic(offs[end].topic, offs[i].topic))
            end++;
        w_str_nn(w, offs[i].topic);
        kp_w_arraylen(w, end - i); /* Partitions */
        for (; i < end; i++) {
            kp_w_i32(w, offs[i].partition);
            kp_w_i64(w, offs[i].offset);
            if (ver >= 2)
                kp_w_i32(w, offs[i].leader_epoch);
            kp_w_str(w, offs[i].metadata); /* nullable */
            kp_w_tags(w);
        }
        kp_w_tags(w);
    }
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_txncommit_resp(kp_rbuf_t *r, int16_t ver, kp_addparts_resp_t *out) {
    return results_resp(r, KP_API_TXN_OFFSET_COMMIT, ver, out);
}

/* ---- EndTxn ---- */

void kp_endtxn_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                   const char *transactional_id, int64_t pid, int16_t epoch, int committed) {
    kp_proto_begin(w, KP_API_END_TXN, ver, corrid, client_id);
    w_str_nn(w, transactional_id);
    kp_w_i64(w, pid);
    kp_w_i16(w, epoch);
    kp_w_i8(w, committed ? 1 : 0);
    kp_w_tags(w);
    kp_proto_end(w, 0);
}

int kp_endtxn_resp(kp_rbuf_t *r, int16_t ver, kp_endtxn_resp_t *out) {
    out->err = 0;
    out->pid = -1;
    out->epoch = -1;
    if (!decodable(KP_API_END_TXN, ver))
        r->err = 1;
    r->flex = kp_proto_is_flexible(KP_API_END_TXN, ver);
    (void)kp_r_i32(r); /* ThrottleTimeMs */
    int16_t code = kp_r_i16(r);
    int64_t pid = -1;
    int16_t epoch = -1;
    if (ver >= 5) {
        pid = kp_r_i64(r);
        epoch = kp_r_i16(r);
    }
    kp_r_skip_tags(r);
    if (r->err)
        return -1;
    out->err = (int16_t)kp_err_from_kafka(code);
    out->pid = pid;
    out->epoch = epoch;
    return 0;
}

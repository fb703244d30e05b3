/*
 * txn — the codecs of the transactional APIs (issue 14): FindCoordinator,
 * AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn. Pure
 * codecs as protocol.h's: an encoder writes one whole request (size,
 * header, body) into w for version ver and fails (w->err) for a version
 * outside the codec range; a decoder reads the body after the response
 * header (kp_proto_resp_header) and returns 0, or -1 when malformed or
 * outside the codec range. Strings in decoded answers point into the
 * response buffer (valid while it is) with their length; arrays are
 * allocated and freed by the matching _free. Error codes are stored as
 * kp_err_from_kafka maps them. A NULL for a string the schema does not
 * let be null (a transactional id, group id, topic, key) fails the
 * request, as a version outside the codec range does.
 *
 * Versions: the codec ranges and the ranges kprod negotiates are in
 * protocol.c's table (kp_proto_codec_max, kp_proto_our_max). EndTxn v5,
 * TxnOffsetCommit v5 and Produce v12 mean transactions v2 (KIP-890 part
 * 2) to the broker: a caller without it caps them at 4, 4 and 11.
 */
#ifndef KP_PROTO_TXN_H
#define KP_PROTO_TXN_H

#include <stdint.h>

#include "base/buf.h"

enum {
    KP_API_FIND_COORDINATOR = 10,
    KP_API_ADD_PARTITIONS_TO_TXN = 24,
    KP_API_ADD_OFFSETS_TO_TXN = 25,
    KP_API_END_TXN = 26,
    KP_API_TXN_OFFSET_COMMIT = 28,
};

enum { KP_COORD_GROUP = 0, KP_COORD_TRANSACTION = 1 };

/* ---- FindCoordinator ---- v0..6. v0: the key only (a group: another
 * key_type fails the request); v1..3: key and key type; v4+: key type and
 * a CoordinatorKeys array holding the one key (the answer's Coordinators
 * array: its first entry is decoded, an empty one is malformed). Flexible
 * from v3. key is not nullable (NULL fails the request). */
void kp_findcoord_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                      int8_t key_type, const char *key);
typedef struct kp_findcoord_resp {
    int16_t err;
    const char *key; /* v4+: the key the entry answers for; NULL before */
    int32_t key_len; /* -1 before v4 */
    int32_t node_id;
    const char *host;
    int32_t host_len;
    int32_t port;
    const char *error_message; /* NULL: none */
    int32_t error_message_len;
} kp_findcoord_resp_t;
int kp_findcoord_resp(kp_rbuf_t *r, int16_t ver, kp_findcoord_resp_t *out);

/* ---- AddPartitionsToTxn ---- v0..3, the client's form (v4+ is the
 * brokers' batched form and is not coded). Flexible from v3. The
 * partitions are given as (topic, partition) pairs sorted by topic (equal
 * topic pointers or names adjacent): one topic entry per run. */
typedef struct kp_txn_tp {
    const char *topic;
    int32_t partition;
} kp_txn_tp_t;
/* tps NULL with n > 0, n < 0 or a NULL topic fails the request (w->err). */
void kp_addparts_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                     const char *transactional_id, int64_t pid, int16_t epoch,
                     const kp_txn_tp_t *tps, int32_t n);
typedef struct kp_addparts_presp {
    const char *topic;
    int32_t topic_len;
    int32_t partition;
    int16_t err;
} kp_addparts_presp_t;
typedef struct kp_addparts_resp {
    kp_addparts_presp_t *parts; /* every partition of every topic, in order */
    int32_t nparts;
} kp_addparts_resp_t;
/* On -1, out is empty (parts NULL, nparts 0): nothing to free. A null
 * topic name or array (not nullable) is malformed. */
int kp_addparts_resp(kp_rbuf_t *r, int16_t ver, kp_addparts_resp_t *out);
void kp_addparts_resp_free(kp_addparts_resp_t *out);

/* ---- AddOffsetsToTxn ---- v0..4, flexible from v3. */
void kp_addoffsets_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                       const char *transactional_id, int64_t pid, int16_t epoch,
                       const char *group_id);
int kp_addoffsets_resp(kp_rbuf_t *r, int16_t ver, int16_t *err);

/* ---- TxnOffsetCommit ---- v0..5, flexible from v3; v3+ carry the
 * group's generation, member id (NULL: "", the schema's default) and group
 * instance id (NULL: none), v2+ each partition's leader epoch; v5 is v4's
 * format (KIP-890: with transactions v2 it also adds the group to the
 * transaction, so AddOffsetsToTxn is not sent). Offsets sorted by topic as
 * kp_addparts_req's partitions. */
typedef struct kp_txn_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1: unknown */
    const char *metadata; /* NULL: none */
} kp_txn_offset_t;
void kp_txncommit_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                      const char *transactional_id, const char *group_id, int64_t pid,
                      int16_t epoch, int32_t generation_id, const char *member_id,
                      const char *group_instance_id, const kp_txn_offset_t *offs, int32_t n);
/* (same shape as AddPartitionsToTxn's answer; free with
 * kp_addparts_resp_free) */
int kp_txncommit_resp(kp_rbuf_t *r, int16_t ver, kp_addparts_resp_t *out);

/* ---- EndTxn ---- v0..5, flexible from v3. v5 (transactions v2,
 * KIP-890) answers with the producer id and epoch to use next; before v5
 * they are -1. */
void kp_endtxn_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                   const char *transactional_id, int64_t pid, int16_t epoch, int committed);
typedef struct kp_endtxn_resp {
    int16_t err;
    int64_t pid;
    int16_t epoch;
} kp_endtxn_resp_t;
int kp_endtxn_resp(kp_rbuf_t *r, int16_t ver, kp_endtxn_resp_t *out);

#endif

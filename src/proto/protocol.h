/*
 * protocol — request encoders and response decoders for the APIs a producer
 * uses (Produce, Metadata, ApiVersions, InitProducerId, and SaslHandshake
 * and SaslAuthenticate for SASL), and version negotiation for those and
 * for the transactional APIs, whose codecs are in txn.h (FindCoordinator,
 * AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit). Pure
 * codecs: bytes in, structs out.
 *
 * Each encoder/decoder takes the API version and derives from it whether the
 * flexible form (compact types, tagged fields) applies. Two ranges per API:
 * what the codecs can encode and decode (kp_proto_codec_min/max, every
 * version of it tested byte for byte), and what kprod negotiates
 * (kp_proto_our_min/max, a subrange). Enabling a coded version is raising
 * kp_proto_our_max(), not a rewrite; an encoder asked for a version outside
 * the codec range fails (w->err), a decoder returns -1.
 */
#ifndef KP_PROTOCOL_H
#define KP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"

enum {
    KP_API_PRODUCE = 0,
    KP_API_METADATA = 3,
    KP_API_SASL_HANDSHAKE = 17,
    KP_API_API_VERSIONS = 18,
    KP_API_INIT_PRODUCER_ID = 22,
    KP_API_SASL_AUTHENTICATE = 36,
    KP_API_COUNT = 70
};

/* The range kprod negotiates for an API (-1 for an API not ours). The
 * minimums keep out what Kafka 4.0 removed (KIP-896; see protocol.c). */
int16_t kp_proto_our_min(int16_t api);
int16_t kp_proto_our_max(int16_t api);
/* The range the codecs below can encode (the request encoders write
 * kp_proto_codec_min..max; the response decoders read 0..max). Wider than
 * ours: ApiVersions 0..4 (kprod asks for at most 3; a fallback may go
 * higher, see kp_proto_pick_upto). Produce 11/12, EndTxn 5 and
 * TxnOffsetCommit 5 are in both, but 12, 5 and 5 mean transactions v2
 * (KIP-890 part 2) to the broker: without it the engine caps them at 11, 4
 * and 4 (kp_proto_pick_upto). */
int16_t kp_proto_codec_min(int16_t api);
int16_t kp_proto_codec_max(int16_t api);
/* Whether version v of the API is flexible (KIP-482), from the schemas. */
int kp_proto_is_flexible(int16_t api, int16_t version);
/* Version to use: the highest both support, or -1 if the ranges do not
 * meet (a broker offering only versions above ours, only removed ones, or
 * a range that is empty or not offered: -1/-1). */
int16_t kp_proto_pick(int16_t api, int16_t broker_min, int16_t broker_max);
/* The same with another ceiling than kp_proto_our_max (at most
 * kp_proto_codec_max): e.g. after a broker answered an ApiVersions request
 * with UNSUPPORTED_VERSION and a range above ours,
 *   kp_proto_pick_upto(KP_API_API_VERSIONS, min, max,
 *                      kp_proto_codec_max(KP_API_API_VERSIONS))
 * is the version to ask again with. */
int16_t kp_proto_pick_upto(int16_t api, int16_t broker_min, int16_t broker_max, int16_t cap);

/* Start a request: writes the 4-byte size placeholder and the request
 * header (v1, or v2 with tagged fields for flexible versions) and sets
 * w->flex for the body. kp_proto_end() fills in the size. */
void kp_proto_begin(kp_wbuf_t *w, int16_t api, int16_t ver, int32_t corrid, const char *client_id);
void kp_proto_end(kp_wbuf_t *w, size_t extra_bytes);

/* Read a response header. ApiVersions always uses header v0. Returns the
 * correlation id; r is left at the body with r->flex set. */
int32_t kp_proto_resp_header(kp_rbuf_t *r, int16_t api, int16_t ver);

/* ---- ApiVersions ----
 * v3+ (flexible): request header v2 and a body of ClientSoftwareName
 * "kprod" and ClientSoftwareVersion KPROD_VERSION_STR (KIP-511). The
 * response header is v0 at every version (the broker must be able to
 * answer a version it does not know). */
void kp_apiversions_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id);
typedef struct kp_api_range {
    int16_t min, max; /* -1/-1 when the broker does not offer the API */
} kp_api_range_t;
/* The cluster's finalized features (ApiVersions v3+ FinalizedFeatures,
 * tag 2) kprod uses. */
typedef struct kp_features {
    /* the finalized MaxVersionLevel of "transaction.version"; 0 when the
     * answer names no such feature or has no tags (before v3, or a broker
     * before Kafka 4.0). 2+: transactions v2 (KIP-890 part 2) */
    int16_t transaction_version;
} kp_features_t;
/* Decodes the body of the answer to a version-ver request into
 * ranges[KP_API_COUNT] and *feat (NULL: not wanted; filled when the call
 * returns 0, zero otherwise), and returns:
 *
 *   0    success: every API the broker offers has its range (flexible
 *        bodies: FinalizedFeatures read, each tagged field at most once;
 *        SupportedFeatures and the other tags skipped).
 *   35   KAFKA_UNSUPPORTED_VERSION: the broker does not know version ver
 *        and answered in the v0 form whatever ver was (ErrorCode, an int32
 *        count of int16 ApiKey/MinVersion/MaxVersion, nothing after: no
 *        ThrottleTimeMs, no tags). ranges[KP_API_API_VERSIONS] is the
 *        broker's own ApiVersions range when it sent one (Kafka 2.4+ sends
 *        only that entry; older brokers every API), -1/-1 when it sent
 *        none. A reply in the asked (e.g. flexible) form is accepted too
 *        when it is exactly that form and not v0. The version to ask again
 *        with: kp_proto_pick_upto(KP_API_API_VERSIONS, min, max, ...).
 *   other  the broker's ErrorCode as kp_err_from_kafka maps it (never -1:
 *        Kafka's -1 arrives as KP_ERR_UNKNOWN_SERVER_ERROR); ranges as far
 *        as the body reads in the asked form, -1/-1 otherwise.
 *   -1   malformed: shorter than an ErrorCode, truncated, an absurd count,
 *        or an UNSUPPORTED_VERSION reply that is neither v0 form nor
 *        exactly the asked form (librdkafka 2.15's mock answers a v3
 *        request that way: a one-byte count). Every range is -1/-1 then;
 *        a caller must not depend on a range to fall back (retry at v0).
 *        Also -1 for ver outside the codec range. */
int kp_apiversions_resp(kp_rbuf_t *r, int16_t ver, kp_api_range_t *ranges,
                        kp_features_t *feat);

/* ---- Metadata ----
 * Topics asked for by name (v10+ write each with the zero TopicId, "no
 * id", as Kafka requires of v10 and v11); ntopics 0 asks for no topics
 * (brokers only), not for all. v1+; flexible from v9. */
void kp_metadata_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                     const char *const *topics, size_t ntopics, int allow_auto_create);

typedef struct kp_md_broker {
    int32_t node_id;
    char *host;
    int32_t port;
} kp_md_broker_t;
typedef struct kp_md_partition {
    int16_t err;
    int32_t partition;
    int32_t leader;
    int32_t leader_epoch; /* v7+; -1 before */
    int32_t nreplicas, nisr, noffline; /* list lengths (offline: v5+) */
} kp_md_partition_t;
typedef struct kp_md_topic {
    int16_t err;
    char *name; /* a null name (v12+, a topic asked for by id) reads as "" */
    uint8_t topic_id[KP_UUID_LEN]; /* v10+; zero before (and for "no id") */
    int8_t is_internal;            /* v1+ */
    int32_t authorized_ops;        /* v8+; INT32_MIN when not asked/before */
    int32_t npartitions;
    kp_md_partition_t *partitions;
} kp_md_topic_t;
typedef struct kp_md_resp {
    int32_t nbrokers;
    kp_md_broker_t *brokers;
    int32_t ntopics;
    kp_md_topic_t *topics;
    int32_t controller_id;
    int32_t throttle_ms; /* v3+ */
} kp_md_resp_t;
/* Returns 0 or -1 when malformed (m is freed then). Every count is
 * checked against the bytes left before anything is allocated. */
int kp_metadata_resp(kp_rbuf_t *r, int16_t ver, kp_md_resp_t *m);
void kp_metadata_resp_free(kp_md_resp_t *m);

/* ---- InitProducerId ---- (transactional_id NULL: idempotent producer;
 * pid/epoch -1 for a new id, v3+ only). Flexible from v2; v4 and v5 add
 * only error codes (PRODUCER_FENCED, TRANSACTION_ABORTABLE) for a
 * transactional producer; v6 (KIP-939's Enable2Pc and KeepPreparedTxn) is
 * not coded. */
void kp_initpid_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                    const char *transactional_id, int32_t txn_timeout_ms, int64_t pid,
                    int16_t epoch);
typedef struct kp_initpid_resp {
    int16_t err;
    int64_t pid;
    int16_t epoch;
} kp_initpid_resp_t;
int kp_initpid_resp(kp_rbuf_t *r, int16_t ver, kp_initpid_resp_t *out);

/* ---- Produce ----
 * v3..v12 (v3: RecordBatch v2 and TransactionalId; flexible from v9, where
 * each batch's length is COMPACT_RECORDS, an unsigned varint of length + 1;
 * v10 differs from v9 only in the response; v11 (TRANSACTION_ABORTABLE)
 * and v12 (transactions v2: the broker adds the partition to the
 * transaction itself, KIP-890 part 2) are v10's format).
 * A produce request is framing bytes interleaved with batch buffers that are
 * referenced, not copied. The builder records segments: framing ranges of w
 * and external buffers; kp_produce_iov() turns them into iovecs once w has
 * stopped moving. */
typedef struct kp_seg {
    const uint8_t *ext; /* NULL: framing at w->p + off */
    size_t off, len;
} kp_seg_t;
typedef struct kp_produce_builder {
    kp_wbuf_t w;
    kp_seg_t *segs;
    int nsegs, cap;
    size_t framed; /* bytes of w already covered by segments */
    size_t ext_bytes;
    int err;
} kp_produce_builder_t;

void kp_produce_begin(kp_produce_builder_t *b, int16_t ver, int32_t corrid, const char *client_id,
                      int16_t acks, int32_t timeout_ms, const char *transactional_id,
                      int32_t ntopics);
void kp_produce_topic(kp_produce_builder_t *b, const char *topic, int32_t npartitions);
void kp_produce_partition(kp_produce_builder_t *b, int32_t partition, const uint8_t *batch,
                          size_t len);
/* Close the current topic (flexible versions write its tagged fields). */
void kp_produce_topic_end(kp_produce_builder_t *b);
/* Finish: fills the size; returns the iovecs (malloc'd, *niov entries) or
 * NULL on allocation failure. */
struct iovec *kp_produce_finish(kp_produce_builder_t *b, int *niov);
void kp_produce_builder_free(kp_produce_builder_t *b);

/* A decoded Produce response (v0..v12). Strings point into the response
 * buffer (not NUL-terminated; length -1 for null): copy what must outlive
 * it. Arrays are malloc'd, bounded by the frame, and freed by
 * kp_produce_resp_free. */
typedef struct kp_produce_rec_err { /* KIP-467, v8+ */
    int32_t batch_index;            /* the record's index in its batch */
    const char *msg;                /* BatchIndexErrorMessage */
    int32_t msg_len;
} kp_produce_rec_err_t;
typedef struct kp_produce_presp {
    int32_t partition;
    int16_t err;
    int64_t base_offset;
    int64_t log_append_time;
    int64_t log_start_offset;
    /* v8+ (KIP-467): the records that made the broker drop the batch, and
     * the summary ErrorMessage */
    int32_t nrecord_errors;
    kp_produce_rec_err_t *record_errors;
    const char *error_message;
    int32_t error_message_len;
    /* v10+ (KIP-951) CurrentLeader, sent with NOT_LEADER_OR_FOLLOWER: the
     * leader the broker knows and its epoch; -1/-1 when absent */
    int32_t leader_id;
    int32_t leader_epoch;
} kp_produce_presp_t;
typedef struct kp_produce_tresp {
    const char *name; /* points into the response buffer */
    int32_t name_len;
    int32_t nparts;
    kp_produce_presp_t *parts;
} kp_produce_tresp_t;
typedef struct kp_produce_node { /* v10+ NodeEndpoints (KIP-951) */
    int32_t node_id;
    const char *host; /* never null */
    int32_t host_len;
    int32_t port;
    const char *rack; /* -1: null */
    int32_t rack_len;
} kp_produce_node_t;
typedef struct kp_produce_resp {
    int32_t ntopics;
    kp_produce_tresp_t *topics;
    int32_t throttle_ms;
    /* v10+: the endpoints of the leaders named in CurrentLeader fields */
    int32_t nnodes;
    kp_produce_node_t *nodes;
} kp_produce_resp_t;
/* Returns 0, or -1 when malformed (pr is freed then) or ver is outside the
 * codec range. */
int kp_produce_resp(kp_rbuf_t *r, int16_t ver, kp_produce_resp_t *pr);
void kp_produce_resp_free(kp_produce_resp_t *pr);
/* The NodeEndpoints entry of node_id, or NULL. */
const kp_produce_node_t *kp_produce_resp_node(const kp_produce_resp_t *pr, int32_t node_id);

/* ---- SaslHandshake (17) ----
 * v0 and v1 read and write the same fields (Mechanism; ErrorCode,
 * Mechanisms); v1 means the SASL exchange that follows goes in
 * SaslAuthenticate requests (KIP-152), v0 that it goes as raw tokens,
 * which kprod does not do: kp_proto_our_min is 1. Never flexible. */
void kp_sasl_handshake_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                           const char *mechanism);
typedef struct kp_proto_str { /* a string inside the response buffer */
    const char *s;            /* not NUL-terminated */
    int32_t len;
} kp_proto_str_t;
typedef struct kp_sasl_handshake_resp {
    int16_t err;            /* e.g. UNSUPPORTED_SASL_MECHANISM (33) */
    int32_t nmechs;         /* the mechanisms the broker enables */
    kp_proto_str_t *mechs;  /* malloc'd, bounded by the frame; strings point into it */
} kp_sasl_handshake_resp_t;
/* Returns 0, or -1 when malformed (a null or truncated mechanism, ...) or
 * ver is outside the codec range; out is empty then. Free with
 * kp_sasl_handshake_resp_free. */
int kp_sasl_handshake_resp(kp_rbuf_t *r, int16_t ver, kp_sasl_handshake_resp_t *out);
void kp_sasl_handshake_resp_free(kp_sasl_handshake_resp_t *out);

/* ---- SaslAuthenticate (36) ----
 * v0..v2 (KIP-152; v1 adds SessionLifetimeMs for KIP-368
 * re-authentication; flexible from v2). AuthBytes is the SASL mechanism's
 * message (len may be 0). The request then holds a secret (a PLAIN
 * password, an OAUTHBEARER token): whoever sends it should zero w.p once
 * written. */
void kp_sasl_authenticate_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id,
                              const uint8_t *auth, size_t len);
typedef struct kp_sasl_authenticate_resp {
    int16_t err;               /* e.g. SASL_AUTHENTICATION_FAILED (58) */
    const char *error_message; /* the broker's reason, inside the buffer; len -1: null */
    int32_t error_message_len;
    const uint8_t *auth_bytes; /* the server's SASL message, inside the buffer */
    int32_t auth_len;          /* >= 0 */
    int64_t session_lifetime_ms; /* v1+: 0 = no limit (KIP-368); 0 before v1 */
} kp_sasl_authenticate_resp_t;
/* Returns 0, or -1 when malformed (truncated; null AuthBytes) or ver is
 * outside the codec range. Allocates nothing. */
int kp_sasl_authenticate_resp(kp_rbuf_t *r, int16_t ver, kp_sasl_authenticate_resp_t *out);

#endif

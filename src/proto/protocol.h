/*
 * protocol — request encoders and response decoders for the APIs a producer
 * uses, and version negotiation. Pure codecs: bytes in, structs out.
 *
 * Each encoder/decoder takes the API version and derives from it whether the
 * flexible form (compact types, tagged fields) applies, so enabling a
 * flexible version is raising a cap in kp_proto_our_max(), not a rewrite.
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
    KP_API_API_VERSIONS = 18,
    KP_API_INIT_PRODUCER_ID = 22,
    KP_API_COUNT = 70
};

/* Our supported range for an API (min..max) and whether version v is
 * flexible. */
int16_t kp_proto_our_min(int16_t api);
int16_t kp_proto_our_max(int16_t api);
int kp_proto_is_flexible(int16_t api, int16_t version);
/* Version to use: the highest both support, or -1 if the ranges do not
 * meet. */
int16_t kp_proto_pick(int16_t api, int16_t broker_min, int16_t broker_max);

/* Start a request: writes the 4-byte size placeholder and the request
 * header (v1, or v2 with tagged fields for flexible versions) and sets
 * w->flex for the body. kp_proto_end() fills in the size. */
void kp_proto_begin(kp_wbuf_t *w, int16_t api, int16_t ver, int32_t corrid, const char *client_id);
void kp_proto_end(kp_wbuf_t *w, size_t extra_bytes);

/* Read a response header. ApiVersions always uses header v0. Returns the
 * correlation id; r is left at the body with r->flex set. */
int32_t kp_proto_resp_header(kp_rbuf_t *r, int16_t api, int16_t ver);

/* ---- ApiVersions ---- */
void kp_apiversions_req(kp_wbuf_t *w, int16_t ver, int32_t corrid, const char *client_id);
typedef struct kp_api_range {
    int16_t min, max; /* -1/-1 when the broker does not offer the API */
} kp_api_range_t;
/* Decodes into ranges[KP_API_COUNT]; returns the broker's error code, as
 * kp_err_from_kafka maps it (so never -1), or -1 when malformed. */
int kp_apiversions_resp(kp_rbuf_t *r, int16_t ver, kp_api_range_t *ranges);

/* ---- Metadata ---- */
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
    int32_t leader_epoch;
} kp_md_partition_t;
typedef struct kp_md_topic {
    int16_t err;
    char *name;
    int32_t npartitions;
    kp_md_partition_t *partitions;
} kp_md_topic_t;
typedef struct kp_md_resp {
    int32_t nbrokers;
    kp_md_broker_t *brokers;
    int32_t ntopics;
    kp_md_topic_t *topics;
    int32_t controller_id;
} kp_md_resp_t;
/* Returns 0 or -1 when malformed (m is freed then). */
int kp_metadata_resp(kp_rbuf_t *r, int16_t ver, kp_md_resp_t *m);
void kp_metadata_resp_free(kp_md_resp_t *m);

/* ---- InitProducerId ---- (transactional_id NULL: idempotent producer;
 * pid/epoch -1 for a new id, v3+ only) */
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

typedef struct kp_produce_presp {
    int32_t partition;
    int16_t err;
    int64_t base_offset;
    int64_t log_append_time;
    int64_t log_start_offset;
} kp_produce_presp_t;
typedef struct kp_produce_tresp {
    const char *name; /* points into the response buffer */
    int32_t name_len;
    int32_t nparts;
    kp_produce_presp_t *parts;
} kp_produce_tresp_t;
typedef struct kp_produce_resp {
    int32_t ntopics;
    kp_produce_tresp_t *topics;
    int32_t throttle_ms;
} kp_produce_resp_t;
int kp_produce_resp(kp_rbuf_t *r, int16_t ver, kp_produce_resp_t *pr);
void kp_produce_resp_free(kp_produce_resp_t *pr);

#endif

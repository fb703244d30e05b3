/*
 * test_txn_proto — txn.c's codecs of the transactional APIs
 * (FindCoordinator, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
 * EndTxn), their version tables in protocol.c, and ApiVersions v3+'s
 * FinalizedFeatures (transaction.version).
 *
 * Expected requests are literal byte arrays for one classic and one
 * flexible version of each API, and for every version the bytes assembled
 * field by field from the schemas (Apache Kafka's
 * clients/src/main/resources/common/message/<Api>Request.json) with the
 * byte builder below, which is independent of buf.c. Responses are built
 * the same way, decoded, then cut at every length (malformed: -1, nothing
 * allocated) and given absurd counts.
 */
#include "test.h"
#include "bytebuild.h"

#include "base/kafka_codes.h"
#include "proto/protocol.h"
#include "proto/txn.h"

/* ---- an independent byte builder --------------------------------------------------- */

/* a nullable string, classic or compact as b->flex says */
static void bb_str(bb_t *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (b->flex)
        bb_uv(b, s ? n + 1 : 0);
    else
        bb_i16(b, s ? (int)n : -1);
    if (s)
        bb_raw(b, s, n);
}
static void bb_arr(bb_t *b, int32_t n)
{
    if (b->flex)
        bb_uv(b, n < 0 ? 0 : (uint64_t)n + 1);
    else
        bb_i32(b, n);
}
/* an empty tag section, flexible only */
static void bb_tags(bb_t *b)
{
    if (b->flex)
        bb_uv(b, 0);
}
/* Size placeholder and request header v1 (v2 when flexible: a tag
 * section), client id "kp", correlation id 7. */
static void bb_req_head(bb_t *b, int api, int ver, int flex)
{
    b->n = 0;
    b->flex = 0;
    bb_i32(b, 0);
    bb_i16(b, api);
    bb_i16(b, ver);
    bb_i32(b, 7);
    bb_str(b, "kp");
    if (flex)
        bb_uv(b, 0);
    b->flex = flex;
}
static void bb_req_end(bb_t *b)
{
    uint32_t n = (uint32_t)(b->n - 4);
    b->p[0] = (uint8_t)(n >> 24), b->p[1] = (uint8_t)(n >> 16);
    b->p[2] = (uint8_t)(n >> 8), b->p[3] = (uint8_t)n;
}
/* Response header: correlation id 9, then (flexible) header v1's tags. */
static void bb_resp_head(bb_t *b, int flex)
{
    b->n = 0;
    b->flex = 0;
    bb_i32(b, 9);
    if (flex)
        bb_uv(b, 0);
    b->flex = flex;
}

#define CHECK_WBUF(w, want) CHECK_EQ_MEM((w).p, (w).len, (want), sizeof(want))

static int check_req(const kp_wbuf_t *w, const bb_t *want, const char *api, int ver)
{
    if (!CHECK_EQ_INT(w->err, 0) || !CHECK_EQ_MEM(w->p, w->len, want->p, want->n)) {
        fprintf(stderr, "    %s request v%d\n", api, ver);
        return 0;
    }
    return 1;
}

/* A cursor over the body of b (after the header), the header read as the
 * decoder's caller does. Returns the body's offset. */
static size_t open_resp(kp_rbuf_t *r, const bb_t *b, int16_t api, int16_t ver)
{
    kp_rbuf_init(r, b->p, b->n, 0);
    CHECK_EQ_INT(kp_proto_resp_header(r, api, ver), 9);
    CHECK_EQ_INT(r->err, 0);
    return r->off;
}

/* ---- versions ------------------------------------------------------------------------ */

static void test_txn_versions(void)
{
    static const struct {
        int16_t api, max;
    } apis[] = {{KP_API_FIND_COORDINATOR, 6}, {KP_API_ADD_PARTITIONS_TO_TXN, 3},
                {KP_API_ADD_OFFSETS_TO_TXN, 4}, {KP_API_END_TXN, 5},
                {KP_API_TXN_OFFSET_COMMIT, 5}};
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        int16_t a = apis[i].api;
        CHECK_EQ_INT(kp_proto_codec_min(a), 0);
        CHECK_EQ_INT(kp_proto_codec_max(a), apis[i].max);
        CHECK_EQ_INT(kp_proto_our_min(a), 0);
        CHECK_EQ_INT(kp_proto_our_max(a), apis[i].max);
        /* "flexibleVersions": "3+" in all five */
        CHECK(!kp_proto_is_flexible(a, 2));
        CHECK(kp_proto_is_flexible(a, 3));
        CHECK(kp_proto_is_flexible(a, apis[i].max));
        /* a broker with more: ours; with less: its */
        CHECK_EQ_INT(kp_proto_pick(a, 0, 9), apis[i].max);
        CHECK_EQ_INT(kp_proto_pick(a, 0, 2), 2);
        CHECK_EQ_INT(kp_proto_pick(a, -1, -1), -1);
        /* transactions v1: EndTxn and TxnOffsetCommit capped at 4 */
        CHECK_EQ_INT(kp_proto_pick_upto(a, 0, 9, 4), apis[i].max < 4 ? apis[i].max : 4);
    }
    /* Produce 11 and 12 are v10's format; InitProducerId to 5 */
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_PRODUCE), 12);
    CHECK_EQ_INT(kp_proto_our_max(KP_API_PRODUCE), 12);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_PRODUCE, 3, 12, 11), 11);
    CHECK(kp_proto_is_flexible(KP_API_PRODUCE, 12));
    CHECK_EQ_INT(kp_proto_our_max(KP_API_INIT_PRODUCER_ID), 5);
}

/* ---- FindCoordinator ----------------------------------------------------------------- */

static void test_findcoord_request_literal(void)
{
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x0f,                         /* size 15 */
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* api 10, v0, corrid 7 */
        0x00, 0x02, 'k', 'p',                           /* client id */
        0x00, 0x01, 'g',                                /* Key */
    };
    static const uint8_t v1[] = {
        0x00, 0x00, 0x00, 0x11, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00, 0x02, 't',  '1', /* Key */
        0x01,                  /* KeyType: transaction */
    };
    static const uint8_t v3[] = {
        0x00, 0x00, 0x00, 0x12, 0x00, 0x0a, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00,                  /* header tags */
        0x03, 't',  '1',       /* Key (compact) */
        0x01,                  /* KeyType */
        0x00,                  /* tags */
    };
    static const uint8_t v4[] = {
        0x00, 0x00, 0x00, 0x13, 0x00, 0x0a, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',  0x00,
        0x01,                  /* KeyType */
        0x02, 0x03, 't',  '1', /* CoordinatorKeys: ["t1"] */
        0x00,
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_findcoord_req(&w, 0, 7, "kp", KP_COORD_GROUP, "g");
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_findcoord_req(&w, 1, 7, "kp", KP_COORD_TRANSACTION, "t1");
    CHECK_WBUF(w, v1);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_findcoord_req(&w, 3, 7, "kp", KP_COORD_TRANSACTION, "t1");
    CHECK_WBUF(w, v3);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_findcoord_req(&w, 4, 7, "kp", KP_COORD_TRANSACTION, "t1");
    CHECK_WBUF(w, v4);
    kp_wbuf_free(&w);
}

static void test_findcoord_request_all_versions(void)
{
    for (int16_t ver = -1; ver <= 7; ver++) {
        int in = ver >= 0 && ver <= 6, flex = ver >= 3;
        int8_t type = ver == 0 ? KP_COORD_GROUP : KP_COORD_TRANSACTION;
        bb_t b;
        kp_wbuf_t w;

        kp_wbuf_init(&w, 0);
        kp_findcoord_req(&w, ver, 7, "kp", type, "txn-1");
        if (!in) {
            CHECK_EQ_INT(w.err, 1);
            kp_wbuf_free(&w);
            continue;
        }
        bb_req_head(&b, 10, ver, flex);
        if (ver <= 3)
            bb_str(&b, "txn-1"); /* Key, 0-3 */
        if (ver >= 1)
            bb_i8(&b, type); /* KeyType, 1+ */
        if (ver >= 4) {
            bb_arr(&b, 1); /* CoordinatorKeys, 4+ */
            bb_str(&b, "txn-1");
        }
        bb_tags(&b);
        bb_req_end(&b);
        check_req(&w, &b, "FindCoordinator", ver);
        kp_wbuf_free(&w);
    }
    /* v0 has no KeyType: a transaction coordinator cannot be asked for */
    kp_wbuf_t w;
    kp_wbuf_init(&w, 0);
    kp_findcoord_req(&w, 0, 7, "kp", KP_COORD_TRANSACTION, "t");
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
    /* the key is not nullable */
    for (int16_t ver = 0; ver <= 6; ver++) {
        kp_wbuf_init(&w, 0);
        kp_findcoord_req(&w, ver, 7, "kp", KP_COORD_GROUP, NULL);
        CHECK_EQ_INT(w.err, 1);
        kp_wbuf_free(&w);
    }
}

/* An answer: node 3 at "h3":9093 with err and msg (msg: v1+). */
static void findcoord_resp(bb_t *b, int ver, int err, const char *msg)
{
    bb_resp_head(b, ver >= 3);
    if (ver >= 1)
        bb_i32(b, 11); /* ThrottleTimeMs */
    if (ver >= 4) {
        bb_arr(b, 1);
        bb_str(b, "txn-1"), bb_i32(b, 3), bb_str(b, "h3"), bb_i32(b, 9093);
        bb_i16(b, err), bb_str(b, msg), bb_tags(b);
    } else {
        bb_i16(b, err);
        if (ver >= 1)
            bb_str(b, msg);
        bb_i32(b, 3), bb_str(b, "h3"), bb_i32(b, 9093);
    }
    bb_tags(b);
}

static void test_findcoord_response_all_versions(void)
{
    for (int16_t ver = 0; ver <= 6; ver++) {
        for (int e = 0; e < 2; e++) {
            bb_t b;
            kp_rbuf_t r;
            kp_findcoord_resp_t out;
            int code = e ? (int)KAFKA_COORDINATOR_NOT_AVAILABLE : 0;

            findcoord_resp(&b, ver, code, e ? "loading" : NULL);
            size_t body = open_resp(&r, &b, KP_API_FIND_COORDINATOR, ver);
            if (!CHECK_EQ_INT(kp_findcoord_resp(&r, ver, &out), 0)) {
                fprintf(stderr, "    FindCoordinator response v%d\n", ver);
                continue;
            }
            CHECK_EQ_INT(r.off, b.n);
            CHECK_EQ_INT(out.err, code);
            CHECK_EQ_INT(out.node_id, 3);
            CHECK_EQ_MEM(out.host, out.host_len, "h3", 2);
            CHECK_EQ_INT(out.port, 9093);
            if (ver >= 4)
                CHECK_EQ_MEM(out.key, out.key_len, "txn-1", 5);
            else {
                CHECK_NULL(out.key);
                CHECK_EQ_INT(out.key_len, -1);
            }
            if (e && ver >= 1)
                CHECK_EQ_MEM(out.error_message, out.error_message_len, "loading", 7);
            else {
                CHECK_NULL(out.error_message);
                CHECK_EQ_INT(out.error_message_len, -1);
            }
            for (size_t n = body; n < b.n; n++) {
                uint8_t *p = malloc(n);
                REQUIRE_NOT_NULL(p);
                memcpy(p, b.p, n);
                kp_rbuf_init(&r, p + body, n - body, ver >= 3);
                if (!CHECK_EQ_INT(kp_findcoord_resp(&r, ver, &out), -1))
                    fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, b.n);
                CHECK_NULL(out.host);
                CHECK_LE_INT(r.off, n - body);
                free(p);
            }
        }
    }
}

static void test_findcoord_response_malformed(void)
{
    kp_findcoord_resp_t out;
    kp_rbuf_t r;
    bb_t b;

    /* v4+: no entry for the key */
    bb_resp_head(&b, 1);
    bb_i32(&b, 0), bb_arr(&b, 0), bb_tags(&b);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 4);
    CHECK_EQ_INT(kp_findcoord_resp(&r, 4, &out), -1);
    /* an absurd count */
    bb_resp_head(&b, 1);
    bb_i32(&b, 0), bb_uv(&b, 0x7fffffff), bb_tags(&b);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 5);
    CHECK_EQ_INT(kp_findcoord_resp(&r, 5, &out), -1);
    /* a null Host, classic and compact */
    bb_resp_head(&b, 0);
    bb_i32(&b, 0), bb_i16(&b, 0), bb_str(&b, NULL), bb_i32(&b, 3), bb_str(&b, NULL), bb_i32(&b, 1);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 1);
    CHECK_EQ_INT(kp_findcoord_resp(&r, 1, &out), -1);
    bb_resp_head(&b, 1);
    bb_i32(&b, 0), bb_arr(&b, 1), bb_str(&b, "k"), bb_i32(&b, 3), bb_str(&b, NULL);
    bb_i32(&b, 1), bb_i16(&b, 0), bb_str(&b, NULL), bb_tags(&b), bb_tags(&b);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 6);
    CHECK_EQ_INT(kp_findcoord_resp(&r, 6, &out), -1);
    /* ...taken in an error answer (librdkafka 2.15's mock sends one with an
     * injected COORDINATOR_NOT_AVAILABLE) */
    bb_resp_head(&b, 0);
    bb_i32(&b, 0), bb_i16(&b, 15), bb_str(&b, NULL), bb_i32(&b, -1), bb_str(&b, NULL),
        bb_i32(&b, -1);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 1);
    if (CHECK_EQ_INT(kp_findcoord_resp(&r, 1, &out), 0))
        CHECK_EQ_INT(out.err, 15);
    /* two entries: the first is the answer */
    bb_resp_head(&b, 1);
    bb_i32(&b, 0), bb_arr(&b, 2);
    bb_str(&b, "a"), bb_i32(&b, 1), bb_str(&b, "h1"), bb_i32(&b, 1), bb_i16(&b, 0),
        bb_str(&b, NULL), bb_tags(&b);
    bb_str(&b, "b"), bb_i32(&b, 2), bb_str(&b, "h2"), bb_i32(&b, 2), bb_i16(&b, 0),
        bb_str(&b, NULL), bb_tags(&b);
    bb_tags(&b);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 4);
    if (CHECK_EQ_INT(kp_findcoord_resp(&r, 4, &out), 0)) {
        CHECK_EQ_INT(out.node_id, 1);
        CHECK_EQ_MEM(out.key, out.key_len, "a", 1);
    }
    /* the broker's -1; a version beyond the codec */
    findcoord_resp(&b, 3, -1, NULL);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 3);
    if (CHECK_EQ_INT(kp_findcoord_resp(&r, 3, &out), 0))
        CHECK_EQ_INT(out.err, KP_ERR_UNKNOWN_SERVER_ERROR);
    findcoord_resp(&b, 6, 0, NULL);
    open_resp(&r, &b, KP_API_FIND_COORDINATOR, 6);
    CHECK_EQ_INT(kp_findcoord_resp(&r, 7, &out), -1);
}

/* ---- AddPartitionsToTxn --------------------------------------------------------------- */

static const char topic_a[] = "a";

static void test_addparts_request_literal(void)
{
    /* "a" twice from different pointers: one topic entry */
    static char a2[] = "a";
    const kp_txn_tp_t tps[] = {{topic_a, 0}, {a2, 2}, {"b", 1}};
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x37, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00, 0x01, 'x',                                /* TransactionalId */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* ProducerId */
        0x00, 0x01,                                     /* ProducerEpoch */
        0x00, 0x00, 0x00, 0x02,                         /* Topics: 2 */
        0x00, 0x01, 'a',  0x00, 0x00, 0x00, 0x02,       /* "a", 2 partitions */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* 0, 2 */
        0x00, 0x01, 'b',  0x00, 0x00, 0x00, 0x01,       /* "b", 1 partition */
        0x00, 0x00, 0x00, 0x01,
    };
    static const uint8_t v3[] = {
        0x00, 0x00, 0x00, 0x2f, 0x00, 0x18, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',  0x00,
        0x02, 'x',
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
        0x00, 0x01,
        0x03,                                     /* Topics: 2 */
        0x02, 'a',  0x03,                         /* "a", 2 partitions */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x00,                                     /* topic tags */
        0x02, 'b',  0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00,                                     /* tags */
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 0, 7, "kp", "x", 5, 1, tps, 3);
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 3, 7, "kp", "x", 5, 1, tps, 3);
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v3);
    kp_wbuf_free(&w);
}

static void test_addparts_request_all_versions(void)
{
    const kp_txn_tp_t tps[] = {{"t1", 4}, {"t1", 7}, {"t2", 0}, {"t1", 1}};
    kp_wbuf_t w;

    for (int16_t ver = -1; ver <= 5; ver++) {
        int flex = ver >= 3;
        bb_t b;

        kp_wbuf_init(&w, 0);
        kp_addparts_req(&w, ver, 7, "kp", "tx", 0x0102030405060708LL, 300, tps, 4);
        if (ver < 0 || ver > 3) { /* 4+: the brokers' form, not coded */
            CHECK_EQ_INT(w.err, 1);
            kp_wbuf_free(&w);
            continue;
        }
        bb_req_head(&b, 24, ver, flex);
        bb_str(&b, "tx"), bb_i64(&b, 0x0102030405060708LL), bb_i16(&b, 300);
        bb_arr(&b, 3); /* runs: t1 (4, 7), t2 (0), t1 (1) */
        bb_str(&b, "t1"), bb_arr(&b, 2), bb_i32(&b, 4), bb_i32(&b, 7), bb_tags(&b);
        bb_str(&b, "t2"), bb_arr(&b, 1), bb_i32(&b, 0), bb_tags(&b);
        bb_str(&b, "t1"), bb_arr(&b, 1), bb_i32(&b, 1), bb_tags(&b);
        bb_tags(&b);
        bb_req_end(&b);
        check_req(&w, &b, "AddPartitionsToTxn", ver);
        kp_wbuf_free(&w);

        /* no partitions: an empty Topics array */
        kp_wbuf_init(&w, 0);
        kp_addparts_req(&w, ver, 7, "kp", "tx", 1, 2, NULL, 0);
        bb_req_head(&b, 24, ver, flex);
        bb_str(&b, "tx"), bb_i64(&b, 1), bb_i16(&b, 2), bb_arr(&b, 0), bb_tags(&b);
        bb_req_end(&b);
        check_req(&w, &b, "AddPartitionsToTxn (empty)", ver);
        kp_wbuf_free(&w);
    }
    /* what the schema cannot carry fails the request */
    const kp_txn_tp_t null_topic[] = {{NULL, 0}};
    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 3, 7, "kp", "tx", 1, 2, null_topic, 1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 3, 7, "kp", NULL, 1, 2, tps, 1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 3, 7, "kp", "tx", 1, 2, NULL, 1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_addparts_req(&w, 0, 7, "kp", "tx", 1, 2, tps, -1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

/* ThrottleTimeMs, then t1: 4 -> 0, 7 -> err; t2: 0 -> CONCURRENT_TRANSACTIONS:
 * AddPartitionsToTxn v0..3's and TxnOffsetCommit's answer. */
static void results_resp(bb_t *b, int ver, int err)
{
    bb_resp_head(b, ver >= 3);
    bb_i32(b, 0);
    bb_arr(b, 2);
    bb_str(b, "t1"), bb_arr(b, 2);
    bb_i32(b, 4), bb_i16(b, 0), bb_tags(b);
    bb_i32(b, 7), bb_i16(b, err), bb_tags(b);
    bb_tags(b);
    bb_str(b, "t2"), bb_arr(b, 1);
    bb_i32(b, 0), bb_i16(b, KAFKA_CONCURRENT_TRANSACTIONS), bb_tags(b);
    bb_tags(b);
    bb_tags(b);
}

typedef int (*results_fn)(kp_rbuf_t *, int16_t, kp_addparts_resp_t *);

static void check_results_versions(int16_t api, results_fn fn, int16_t max, const char *name)
{
    for (int16_t ver = 0; ver <= max; ver++) {
        bb_t b;
        kp_rbuf_t r;
        kp_addparts_resp_t out;

        results_resp(&b, ver, -1);
        size_t body = open_resp(&r, &b, api, ver);
        if (!CHECK_EQ_INT(fn(&r, ver, &out), 0)) {
            fprintf(stderr, "    %s response v%d\n", name, ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        if (CHECK_EQ_INT(out.nparts, 3)) {
            CHECK_EQ_MEM(out.parts[0].topic, out.parts[0].topic_len, "t1", 2);
            CHECK_EQ_INT(out.parts[0].partition, 4);
            CHECK_EQ_INT(out.parts[0].err, 0);
            CHECK_EQ_MEM(out.parts[1].topic, out.parts[1].topic_len, "t1", 2);
            CHECK_EQ_INT(out.parts[1].partition, 7);
            CHECK_EQ_INT(out.parts[1].err, KP_ERR_UNKNOWN_SERVER_ERROR); /* the broker's -1 */
            CHECK_EQ_MEM(out.parts[2].topic, out.parts[2].topic_len, "t2", 2);
            CHECK_EQ_INT(out.parts[2].partition, 0);
            CHECK_EQ_INT(out.parts[2].err, KAFKA_CONCURRENT_TRANSACTIONS);
        }
        kp_addparts_resp_free(&out);
        CHECK_NULL(out.parts);
        CHECK_EQ_INT(out.nparts, 0);
        for (size_t n = body; n < b.n; n++) {
            uint8_t *p = malloc(n);
            REQUIRE_NOT_NULL(p);
            memcpy(p, b.p, n);
            kp_rbuf_init(&r, p + body, n - body, ver >= 3);
            if (!CHECK_EQ_INT(fn(&r, ver, &out), -1))
                fprintf(stderr, "    %s v%d truncated to %zu of %zu\n", name, ver, n, b.n);
            CHECK_NULL(out.parts);
            CHECK_EQ_INT(out.nparts, 0);
            free(p);
        }
    }
    /* no topics */
    {
        bb_t b;
        kp_rbuf_t r;
        kp_addparts_resp_t out;
        bb_resp_head(&b, 1);
        bb_i32(&b, 0), bb_arr(&b, 0), bb_tags(&b);
        open_resp(&r, &b, api, 3);
        CHECK_EQ_INT(fn(&r, 3, &out), 0);
        CHECK_EQ_INT(out.nparts, 0);
        CHECK_NULL(out.parts);
    }
    /* absurd counts (topics, partitions), null arrays, a null name: -1 and
     * nothing allocated (LSan) */
    for (int c = 0; c < 6; c++) {
        for (int flex = 0; flex < 2; flex++) {
            int16_t ver = flex ? 3 : 2;
            bb_t b;
            kp_rbuf_t r;
            kp_addparts_resp_t out;

            bb_resp_head(&b, flex);
            bb_i32(&b, 0);
            switch (c) {
            case 0: bb_arr(&b, 0x7fffffff); break;
            case 1: bb_arr(&b, 1), bb_str(&b, "t"), bb_arr(&b, 0x10000000); break;
            case 2: bb_arr(&b, -1); break;
            case 3: bb_arr(&b, 1), bb_str(&b, "t"), bb_arr(&b, -1), bb_tags(&b); break;
            case 4:
                bb_arr(&b, 1), bb_str(&b, NULL), bb_arr(&b, 1);
                bb_i32(&b, 0), bb_i16(&b, 0), bb_tags(&b), bb_tags(&b);
                break;
            case 5: /* one partition more than the bytes hold */
                bb_arr(&b, 1), bb_str(&b, "t"), bb_arr(&b, 2);
                bb_i32(&b, 0), bb_i16(&b, 0), bb_tags(&b);
                break;
            }
            bb_tags(&b);
            open_resp(&r, &b, api, ver);
            if (!CHECK_EQ_INT(fn(&r, ver, &out), -1))
                fprintf(stderr, "    %s malformed case %d flex %d\n", name, c, flex);
            CHECK_NULL(out.parts);
        }
    }
    /* beyond the codec */
    {
        bb_t b;
        kp_rbuf_t r;
        kp_addparts_resp_t out;
        results_resp(&b, 3, 0);
        open_resp(&r, &b, api, 3);
        CHECK_EQ_INT(fn(&r, (int16_t)(max + 1), &out), -1);
        CHECK_NULL(out.parts);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(fn(&r, -1, &out), -1);
    }
}

static void test_addparts_response_all_versions(void)
{
    check_results_versions(KP_API_ADD_PARTITIONS_TO_TXN, kp_addparts_resp, 3,
                           "AddPartitionsToTxn");
}

/* ---- AddOffsetsToTxn ------------------------------------------------------------------ */

static void test_addoffsets_request(void)
{
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x1d, 0x00, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00, 0x01, 'x',                                /* TransactionalId */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* ProducerId -2 */
        0x7f, 0xff,                                     /* ProducerEpoch */
        0x00, 0x02, 'g',  '1',                          /* GroupId */
    };
    static const uint8_t v3[] = {
        0x00, 0x00, 0x00, 0x1d, 0x00, 0x19, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',  0x00,
        0x02, 'x',
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
        0x7f, 0xff,
        0x03, 'g',  '1',
        0x00,
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_addoffsets_req(&w, 0, 7, "kp", "x", -2, 0x7fff, "g1");
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_addoffsets_req(&w, 3, 7, "kp", "x", -2, 0x7fff, "g1");
    CHECK_WBUF(w, v3);
    kp_wbuf_free(&w);
    for (int16_t ver = -1; ver <= 5; ver++) {
        bb_t b;
        kp_wbuf_init(&w, 0);
        kp_addoffsets_req(&w, ver, 7, "kp", "my-txn", 77, 3, "my-group");
        if (ver < 0 || ver > 4) {
            CHECK_EQ_INT(w.err, 1);
            kp_wbuf_free(&w);
            continue;
        }
        bb_req_head(&b, 25, ver, ver >= 3);
        bb_str(&b, "my-txn"), bb_i64(&b, 77), bb_i16(&b, 3), bb_str(&b, "my-group");
        bb_tags(&b);
        bb_req_end(&b);
        check_req(&w, &b, "AddOffsetsToTxn", ver);
        kp_wbuf_free(&w);
    }
    kp_wbuf_init(&w, 0);
    kp_addoffsets_req(&w, 4, 7, "kp", "x", 1, 1, NULL);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

static void test_addoffsets_response(void)
{
    for (int16_t ver = 0; ver <= 5; ver++) {
        bb_t b;
        kp_rbuf_t r;
        int16_t err = 99;

        bb_resp_head(&b, ver >= 3);
        bb_i32(&b, 0), bb_i16(&b, KAFKA_PRODUCER_FENCED), bb_tags(&b);
        size_t body = open_resp(&r, &b, KP_API_ADD_OFFSETS_TO_TXN, ver);
        if (ver > 4) {
            CHECK_EQ_INT(kp_addoffsets_resp(&r, ver, &err), -1);
            continue;
        }
        if (CHECK_EQ_INT(kp_addoffsets_resp(&r, ver, &err), 0))
            CHECK_EQ_INT(err, KAFKA_PRODUCER_FENCED);
        CHECK_EQ_INT(r.off, b.n);
        for (size_t n = body; n < b.n; n++) {
            kp_rbuf_init(&r, b.p + body, n - body, ver >= 3);
            CHECK_EQ_INT(kp_addoffsets_resp(&r, ver, &err), -1);
            CHECK_EQ_INT(err, 0);
        }
    }
}

/* ---- TxnOffsetCommit ----------------------------------------------------------------- */

static void test_txncommit_request_literal(void)
{
    const kp_txn_offset_t offs[] = {{"t", 1, 0x100, 5, NULL}};
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x35, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00, 0x01, 'x',                                /* TransactionalId */
        0x00, 0x01, 'g',                                /* GroupId */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, /* ProducerId */
        0x00, 0x02,                                     /* ProducerEpoch */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',        /* Topics: "t" */
        0x00, 0x00, 0x00, 0x01,                         /* Partitions: 1 */
        0x00, 0x00, 0x00, 0x01,                         /* PartitionIndex */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* CommittedOffset */
        0xff, 0xff,                                     /* CommittedMetadata null */
    };
    static const uint8_t v3[] = {
        0x00, 0x00, 0x00, 0x3b, 0x00, 0x1c, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',  0x00,
        0x02, 'x',
        0x02, 'g',
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
        0x00, 0x02,
        0x00, 0x00, 0x00, 0x04,                         /* GenerationId */
        0x03, 'm',  '1',                                /* MemberId */
        0x00,                                           /* GroupInstanceId null */
        0x02, 0x02, 't',  0x02,                         /* Topics: "t", 1 partition */
        0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x05,                         /* CommittedLeaderEpoch */
        0x00,                                           /* CommittedMetadata null */
        0x00, 0x00,                                     /* partition, topic tags */
        0x00,
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_txncommit_req(&w, 0, 7, "kp", "x", "g", 9, 2, 4, "m1", NULL, offs, 1);
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_txncommit_req(&w, 3, 7, "kp", "x", "g", 9, 2, 4, "m1", NULL, offs, 1);
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v3);
    kp_wbuf_free(&w);
}

static void test_txncommit_request_all_versions(void)
{
    const kp_txn_offset_t offs[] = {
        {"orders", 0, 1000, 7, "meta"},
        {"orders", 3, 2000, -1, NULL},
        {"audit", 1, 5, 2, ""},
    };
    kp_wbuf_t w;

    for (int16_t ver = -1; ver <= 6; ver++) {
        int flex = ver >= 3;
        bb_t b;

        kp_wbuf_init(&w, 0);
        kp_txncommit_req(&w, ver, 7, "kp", "tx", "grp", 42, 6, 12, NULL, "inst-1", offs, 3);
        if (ver < 0 || ver > 5) {
            CHECK_EQ_INT(w.err, 1);
            kp_wbuf_free(&w);
            continue;
        }
        bb_req_head(&b, 28, ver, flex);
        bb_str(&b, "tx"), bb_str(&b, "grp"), bb_i64(&b, 42), bb_i16(&b, 6);
        if (ver >= 3) /* GenerationId, MemberId (NULL: ""), GroupInstanceId */
            bb_i32(&b, 12), bb_str(&b, ""), bb_str(&b, "inst-1");
        bb_arr(&b, 2);
        bb_str(&b, "orders"), bb_arr(&b, 2);
        bb_i32(&b, 0), bb_i64(&b, 1000);
        if (ver >= 2)
            bb_i32(&b, 7);
        bb_str(&b, "meta"), bb_tags(&b);
        bb_i32(&b, 3), bb_i64(&b, 2000);
        if (ver >= 2)
            bb_i32(&b, -1);
        bb_str(&b, NULL), bb_tags(&b);
        bb_tags(&b);
        bb_str(&b, "audit"), bb_arr(&b, 1);
        bb_i32(&b, 1), bb_i64(&b, 5);
        if (ver >= 2)
            bb_i32(&b, 2);
        bb_str(&b, ""), bb_tags(&b);
        bb_tags(&b);
        bb_tags(&b);
        bb_req_end(&b);
        check_req(&w, &b, "TxnOffsetCommit", ver);
        kp_wbuf_free(&w);
    }
    kp_wbuf_init(&w, 0);
    kp_txncommit_req(&w, 3, 7, "kp", "tx", NULL, 42, 6, 12, "m", NULL, offs, 3);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_txncommit_req(&w, 3, 7, "kp", "tx", "g", 42, 6, 12, "m", NULL, NULL, 3);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

static void test_txncommit_response_all_versions(void)
{
    check_results_versions(KP_API_TXN_OFFSET_COMMIT, kp_txncommit_resp, 5, "TxnOffsetCommit");
}

/* ---- EndTxn -------------------------------------------------------------------------- */

static void test_endtxn_request(void)
{
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x1b, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',
        0x00, 0x02, 't',  'x',                          /* TransactionalId */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, /* ProducerId */
        0x00, 0x03,                                     /* ProducerEpoch */
        0x01,                                           /* Committed */
    };
    static const uint8_t v5[] = {
        0x00, 0x00, 0x00, 0x1c, 0x00, 0x1a, 0x00, 0x05, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k',  'p',  0x00,
        0x03, 't',  'x',
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
        0x00, 0x03,
        0x00, /* Committed: abort */
        0x00,
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_endtxn_req(&w, 0, 7, "kp", "tx", 0x1000, 3, 1);
    CHECK_EQ_INT(w.err, 0);
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_endtxn_req(&w, 5, 7, "kp", "tx", 0x1000, 3, 0);
    CHECK_WBUF(w, v5);
    kp_wbuf_free(&w);
    for (int16_t ver = -1; ver <= 6; ver++) {
        for (int committed = 0; committed < 2; committed++) {
            bb_t b;
            kp_wbuf_init(&w, 0);
            kp_endtxn_req(&w, ver, 7, "kp", "txn", -1, -1, committed ? 5 : 0);
            if (ver < 0 || ver > 5) {
                CHECK_EQ_INT(w.err, 1);
                kp_wbuf_free(&w);
                continue;
            }
            bb_req_head(&b, 26, ver, ver >= 3);
            bb_str(&b, "txn"), bb_i64(&b, -1), bb_i16(&b, -1), bb_i8(&b, committed);
            bb_tags(&b);
            bb_req_end(&b);
            check_req(&w, &b, "EndTxn", ver);
            kp_wbuf_free(&w);
        }
    }
    kp_wbuf_init(&w, 0);
    kp_endtxn_req(&w, 3, 7, "kp", NULL, 1, 1, 1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

static void test_endtxn_response(void)
{
    /* v5 literal: header v1, throttle 0, INVALID_TXN_STATE, pid 0x1001, epoch 4 */
    static const uint8_t v5[] = {
        0x00, 0x00, 0x00, 0x09, 0x00,
        0x00, 0x00, 0x00, 0x00,
        0x00, 0x30,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01,
        0x00, 0x04,
        0x00,
    };
    kp_endtxn_resp_t out;
    kp_rbuf_t r;

    kp_rbuf_init(&r, v5, sizeof(v5), 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_END_TXN, 5), 9);
    if (CHECK_EQ_INT(kp_endtxn_resp(&r, 5, &out), 0)) {
        CHECK_EQ_INT(out.err, KAFKA_INVALID_TXN_STATE);
        CHECK_EQ_INT(out.pid, 0x1001);
        CHECK_EQ_INT(out.epoch, 4);
        CHECK_EQ_INT(r.off, sizeof(v5));
    }
    for (int16_t ver = 0; ver <= 6; ver++) {
        bb_t b;
        bb_resp_head(&b, ver >= 3);
        bb_i32(&b, 100), bb_i16(&b, 0);
        if (ver >= 5)
            bb_i64(&b, 77), bb_i16(&b, 8);
        bb_tags(&b);
        size_t body = open_resp(&r, &b, KP_API_END_TXN, ver);
        if (ver > 5) {
            CHECK_EQ_INT(kp_endtxn_resp(&r, ver, &out), -1);
            continue;
        }
        if (!CHECK_EQ_INT(kp_endtxn_resp(&r, ver, &out), 0)) {
            fprintf(stderr, "    EndTxn response v%d\n", ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(out.err, 0);
        CHECK_EQ_INT(out.pid, ver >= 5 ? 77 : -1);
        CHECK_EQ_INT(out.epoch, ver >= 5 ? 8 : -1);
        for (size_t n = body; n < b.n; n++) {
            kp_rbuf_init(&r, b.p + body, n - body, ver >= 3);
            CHECK_EQ_INT(kp_endtxn_resp(&r, ver, &out), -1);
            CHECK_EQ_INT(out.pid, -1);
            CHECK_EQ_INT(out.epoch, -1);
        }
    }
}

/* ---- ApiVersions v3+: FinalizedFeatures ------------------------------------------------ */

/* A v3/v4 body: Produce 3..12, then ThrottleTimeMs and the tags given. */
static void av_body(bb_t *b, int err, const bb_t *tags, int ntags)
{
    b->n = 0;
    b->flex = 1;
    bb_i32(b, 1); /* header v0 */
    bb_i16(b, err);
    bb_arr(b, 1);
    bb_i16(b, 0), bb_i16(b, 3), bb_i16(b, 12), bb_tags(b);
    bb_i32(b, 0);
    bb_uv(b, (uint64_t)ntags);
    for (int i = 0; i < ntags; i++)
        bb_raw(b, tags[i].p, tags[i].n);
}
/* A tagged field: tag, size, value. */
static void tag_field(bb_t *t, unsigned tag, const bb_t *val)
{
    t->n = 0;
    bb_uv(t, tag);
    bb_uv(t, val->n);
    bb_raw(t, val->p, val->n);
}
/* FinalizedFeatures' value: n entries of Name, MaxVersionLevel,
 * MinVersionLevel. */
static void finalized(bb_t *v, const char *const *names, const int *max, int n)
{
    v->n = 0;
    v->flex = 1;
    bb_arr(v, n);
    for (int i = 0; i < n; i++)
        bb_str(v, names[i]), bb_i16(v, max[i]), bb_i16(v, 1), bb_tags(v);
}

static int av_decode(const bb_t *b, int16_t ver, kp_features_t *feat)
{
    kp_api_range_t ranges[KP_API_COUNT];
    kp_rbuf_t r;
    kp_rbuf_init(&r, b->p, b->n, 0);
    (void)kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver);
    feat->transaction_version = 99;
    int rc = kp_apiversions_resp(&r, ver, ranges, feat);
    if (rc == 0) {
        CHECK_EQ_INT(r.off, b->n);
        CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, 12);
    }
    return rc;
}

static void test_apiversions_finalized_features(void)
{
    static const char *const names[] = {"metadata.version", "transaction.version",
                                        "transaction.versions", "group.version"};
    static const int max[] = {25, 2, 7, 1};
    bb_t tags[4], v = {{0}, 0, 1}, b;
    kp_features_t feat;

    for (int16_t ver = 3; ver <= 4; ver++) {
        /* Kafka 4.x: SupportedFeatures (0), epoch (1), FinalizedFeatures (2) */
        finalized(&v, names, max, 1);
        tag_field(&tags[0], 0, &v); /* SupportedFeatures: same layout, skipped */
        v.n = 0;
        bb_i64(&v, 42);
        tag_field(&tags[1], 1, &v);
        finalized(&v, names, max, 4);
        tag_field(&tags[2], 2, &v);
        av_body(&b, 0, tags, 3);
        if (CHECK_EQ_INT(av_decode(&b, ver, &feat), 0))
            CHECK_EQ_INT(feat.transaction_version, 2);
        /* NULL: not wanted */
        {
            kp_api_range_t ranges[KP_API_COUNT];
            kp_rbuf_t r;
            kp_rbuf_init(&r, b.p, b.n, 0);
            (void)kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver);
            CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 0);
        }
        /* transaction.version 0 (finalized off), or only other features */
        static const int off[] = {25, 0};
        finalized(&v, names, off, 2);
        tag_field(&tags[0], 2, &v);
        av_body(&b, 0, tags, 1);
        if (CHECK_EQ_INT(av_decode(&b, ver, &feat), 0))
            CHECK_EQ_INT(feat.transaction_version, 0);
        finalized(&v, names + 2, max + 2, 2); /* a longer name is not it */
        tag_field(&tags[0], 2, &v);
        av_body(&b, 0, tags, 1);
        if (CHECK_EQ_INT(av_decode(&b, ver, &feat), 0))
            CHECK_EQ_INT(feat.transaction_version, 0);
        /* no tags at all (a broker before 2.7, the mock) */
        av_body(&b, 0, tags, 0);
        if (CHECK_EQ_INT(av_decode(&b, ver, &feat), 0))
            CHECK_EQ_INT(feat.transaction_version, 0);
        /* an error answer carries no features */
        finalized(&v, names, max, 2);
        tag_field(&tags[0], 2, &v);
        av_body(&b, KAFKA_CLUSTER_AUTHORIZATION_FAILED, tags, 1);
        CHECK_EQ_INT(av_decode(&b, ver, &feat), KAFKA_CLUSTER_AUTHORIZATION_FAILED);
        CHECK_EQ_INT(feat.transaction_version, 0);

        /* malformed FinalizedFeatures: the answer is malformed */
        for (int c = 0; c < 4; c++) {
            v.n = 0;
            switch (c) {
            case 0: bb_uv(&v, 0x7fffffff); break;                /* absurd count */
            case 1: bb_arr(&v, 1), bb_str(&v, NULL), bb_i16(&v, 2), bb_i16(&v, 1),
                    bb_tags(&v); break;                        /* null name */
            case 2: bb_arr(&v, 1), bb_str(&v, "transaction.version"), bb_i16(&v, 2);
                    break;                                     /* cut short */
            case 3: bb_arr(&v, -1); break;                       /* null array */
            }
            tag_field(&tags[0], 2, &v);
            av_body(&b, 0, tags, 1);
            if (!CHECK_EQ_INT(av_decode(&b, ver, &feat), -1))
                fprintf(stderr, "    v%d malformed features case %d\n", ver, c);
            CHECK_EQ_INT(feat.transaction_version, 0);
        }
        /* tag 2 twice */
        finalized(&v, names, max, 2);
        tag_field(&tags[0], 2, &v);
        tags[1] = tags[0];
        av_body(&b, 0, tags, 2);
        CHECK_EQ_INT(av_decode(&b, ver, &feat), -1);
        CHECK_EQ_INT(feat.transaction_version, 0);
    }
    /* before v3 there are no tags: 0 */
    {
        bb_t c = {{0}, 0, 0};
        bb_i32(&c, 1), bb_i16(&c, 0), bb_arr(&c, 1);
        bb_i16(&c, 0), bb_i16(&c, 3), bb_i16(&c, 12), bb_i32(&c, 0);
        if (CHECK_EQ_INT(av_decode(&c, 2, &feat), 0))
            CHECK_EQ_INT(feat.transaction_version, 0);
    }
}

TEST_MAIN(TEST(test_txn_versions), TEST(test_findcoord_request_literal),
          TEST(test_findcoord_request_all_versions), TEST(test_findcoord_response_all_versions),
          TEST(test_findcoord_response_malformed), TEST(test_addparts_request_literal),
          TEST(test_addparts_request_all_versions), TEST(test_addparts_response_all_versions),
          TEST(test_addoffsets_request), TEST(test_addoffsets_response),
          TEST(test_txncommit_request_literal), TEST(test_txncommit_request_all_versions),
          TEST(test_txncommit_response_all_versions), TEST(test_endtxn_request),
          TEST(test_endtxn_response), TEST(test_apiversions_finalized_features))

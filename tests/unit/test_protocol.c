/*
 * test_protocol — request encoders and response decoders for ApiVersions
 * (18), Metadata (3) and Produce (0), and version negotiation.
 *
 * Expected requests are literal byte arrays written from the message
 * schemas (the kafka-protocol/messages JSON files, RequestHeader v1/v2). Responses
 * fed to the decoders are assembled with the small byte builder below,
 * which is independent of buf.c.
 */
#include "test.h"
#include "bytebuild.h"

#include "kprod/kprod.h"
#include "proto/protocol.h"

/* ---- an independent byte builder (for response inputs) ------------------------- */

/* classic nullable string */
static void bb_str(bb_t *b, const char *s)
{
    if (!s) {
        bb_i16(b, -1);
        return;
    }
    bb_i16(b, (int)strlen(s));
    bb_raw(b, s, strlen(s));
}
/* compact nullable string */
static void bb_cstr(bb_t *b, const char *s)
{
    if (!s) {
        bb_uv(b, 0);
        return;
    }
    bb_uv(b, strlen(s) + 1);
    bb_raw(b, s, strlen(s));
}

/* The bytes written by a kp_wbuf-based encoder. */
#define CHECK_WBUF(w, want) CHECK_EQ_MEM((w).p, (w).len, (want), sizeof(want))

/* ---- version negotiation ---------------------------------------------------------- */

static int16_t min16(int16_t a, int16_t b) { return a < b ? a : b; }

static void test_version_ranges(void)
{
    /* Produce below v3 is RecordBatch v0/v1, which Kafka 4 rejects */
    CHECK_GE_INT(kp_proto_our_min(KP_API_PRODUCE), 3);
    CHECK_GE_INT(kp_proto_our_max(KP_API_PRODUCE), 8); /* v8: RecordErrors */
    CHECK_LE_INT(kp_proto_our_min(KP_API_METADATA), 4);
    CHECK_GE_INT(kp_proto_our_max(KP_API_METADATA), 7); /* v7: LeaderEpoch */
    CHECK_EQ_INT(kp_proto_our_min(KP_API_API_VERSIONS), 0);
    CHECK_GE_INT(kp_proto_our_max(KP_API_API_VERSIONS), 1);
    CHECK_EQ_INT(kp_proto_our_min(1 /* Fetch */), -1);
    CHECK_EQ_INT(kp_proto_our_max(1), -1);

    /* flexibleVersions from the JSON schemas */
    CHECK(!kp_proto_is_flexible(KP_API_PRODUCE, 8));
    CHECK(kp_proto_is_flexible(KP_API_PRODUCE, 9));
    CHECK(!kp_proto_is_flexible(KP_API_METADATA, 8));
    CHECK(kp_proto_is_flexible(KP_API_METADATA, 9));
    CHECK(!kp_proto_is_flexible(KP_API_API_VERSIONS, 2));
    CHECK(kp_proto_is_flexible(KP_API_API_VERSIONS, 3));
    CHECK(!kp_proto_is_flexible(KP_API_INIT_PRODUCER_ID, 1));
    CHECK(kp_proto_is_flexible(KP_API_INIT_PRODUCER_ID, 2));
}

/* Expected picks are written against our advertised range where the number
 * is policy (our caps), and as constants where it is protocol fact. */
static void test_pick(void)
{
    const int16_t pmax = kp_proto_our_max(KP_API_PRODUCE);
    const int16_t mmax = kp_proto_our_max(KP_API_METADATA);
    const int16_t amax = kp_proto_our_max(KP_API_API_VERSIONS);

    /* Kafka 4 advertises Produce 0..12 although it rejects 0..2 */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 12), min16(pmax, 12));
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 3, 13), min16(pmax, 13));
    /* highest common version */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 8), 8);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 5), 5);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 2, 7), 7);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 3), 3);
    /* never below 3, even when that is all the broker offers */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 2), -1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 0), -1);
    /* broker only newer than we speak */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, (int16_t)(pmax + 1), (int16_t)(pmax + 4)), -1);
    /* API not offered */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, -1, -1), -1);

    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 0, 13), min16(mmax, 13));
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 0, 4), 4);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, -1, -1), -1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_API_VERSIONS, 0, 4), min16(amax, 4));
    CHECK_EQ_INT(kp_proto_pick(KP_API_API_VERSIONS, 0, 1), 1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_API_VERSIONS, 0, 0), 0);
    CHECK_EQ_INT(kp_proto_pick(1 /* Fetch: not ours */, 0, 17), -1);
}

/* ---- response header ---------------------------------------------------------------- */

static void test_response_header(void)
{
    static const uint8_t v0[] = {0x00, 0x00, 0x01, 0x02, 0xaa};
    static const uint8_t v1[] = {0x00, 0x00, 0x01, 0x02, 0x00, 0xaa};
    kp_rbuf_t r;

    kp_rbuf_init(&r, v0, sizeof(v0), 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_METADATA, 8), 0x0102);
    CHECK_EQ_INT(r.off, 4);
    CHECK_EQ_INT(r.flex, 0);

    /* flexible Metadata: header v1 with a tag section */
    kp_rbuf_init(&r, v1, sizeof(v1), 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_METADATA, 9), 0x0102);
    CHECK_EQ_INT(r.off, 5);
    CHECK_EQ_INT(r.flex, 1);
    CHECK_EQ_INT(r.err, 0);

    /* ApiVersions keeps header v0 even when the body is flexible */
    kp_rbuf_init(&r, v0, sizeof(v0), 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, 3), 0x0102);
    CHECK_EQ_INT(r.off, 4);
    CHECK_EQ_INT(r.flex, 1);

    kp_rbuf_init(&r, v0, 3, 0);
    (void)kp_proto_resp_header(&r, KP_API_PRODUCE, 8);
    CHECK_EQ_INT(r.err, 1);
}

/* ---- ApiVersions ---------------------------------------------------------------- */

static void test_apiversions_request(void)
{
    static const uint8_t v0[] = {
        0x00, 0x00, 0x00, 0x0c, /* size 12 */
        0x00, 0x12,             /* api key 18 */
        0x00, 0x00,             /* version 0 */
        0x00, 0x00, 0x00, 0x07, /* correlation id */
        0x00, 0x02, 'k', 'p',   /* client id */
    };
    static const uint8_t v2[] = {
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x12, 0x00, 0x02,
        0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 'k', 'p',
    };
    static const uint8_t v0_null_id[] = {
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xff, 0xff,
    };
    /* v3: header v2 (client id stays a classic string, then tags), body
     * ClientSoftwareName/Version as compact strings, then tags */
    static const uint8_t v3[] = {
        0x00, 0x00, 0x00, 0x1a, 0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,
        0x00, 0x02, 'k', 'p', 0x00,
        0x06, 'k', 'p', 'r', 'o', 'd',
        0x06, '0', '.', '1', '.', '0',
        0x00,
    };
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_apiversions_req(&w, 0, 7, "kp");
    CHECK_WBUF(w, v0);
    kp_wbuf_free(&w);

    kp_wbuf_init(&w, 0);
    kp_apiversions_req(&w, 2, 7, "kp");
    CHECK_WBUF(w, v2);
    kp_wbuf_free(&w);

    kp_wbuf_init(&w, 0);
    kp_apiversions_req(&w, 0, 7, NULL);
    CHECK_WBUF(w, v0_null_id);
    kp_wbuf_free(&w);

    kp_wbuf_init(&w, 0);
    kp_apiversions_req(&w, 3, 7, "kp");
    CHECK_WBUF(w, v3);
    kp_wbuf_free(&w);
}

/* ApiVersions response body: 3 APIs, plus one key outside our table. */
static void av_body(bb_t *b, int ver, int err, int with_throttle)
{
    bb_i16(b, err);
    bb_i32(b, 4);
    bb_i16(b, 0), bb_i16(b, 0), bb_i16(b, 11);   /* Produce 0..11 */
    bb_i16(b, 3), bb_i16(b, 0), bb_i16(b, 12);   /* Metadata 0..12 */
    bb_i16(b, 18), bb_i16(b, 0), bb_i16(b, 4);   /* ApiVersions 0..4 */
    bb_i16(b, 1000), bb_i16(b, 1), bb_i16(b, 2); /* unknown key: ignored */
    if (ver >= 1 && with_throttle)
        bb_i32(b, 0);
}

static void check_av_ranges(const kp_api_range_t *ranges)
{
    CHECK_EQ_INT(ranges[KP_API_PRODUCE].min, 0);
    CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, 11);
    CHECK_EQ_INT(ranges[KP_API_METADATA].min, 0);
    CHECK_EQ_INT(ranges[KP_API_METADATA].max, 12);
    CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].min, 0);
    CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 4);
    CHECK_EQ_INT(ranges[1].min, -1); /* not offered */
    CHECK_EQ_INT(ranges[1].max, -1);
    CHECK_EQ_INT(ranges[KP_API_INIT_PRODUCER_ID].min, -1);
    CHECK_EQ_INT(ranges[KP_API_COUNT - 1].max, -1);
}

static void test_apiversions_response(void)
{
    for (int ver = 0; ver <= 2; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        bb_i32(&b, 99); /* correlation id */
        av_body(&b, ver, 0, 1);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, (int16_t)ver), 99);
        CHECK_EQ_INT(kp_apiversions_resp(&r, (int16_t)ver, ranges, NULL), 0);
        CHECK_EQ_INT(r.off, b.n); /* v1+: ThrottleTimeMs consumed */
        check_av_ranges(ranges);
    }
}

/* A broker that does not support the requested version answers in v0 form
 * (no ThrottleTimeMs) with UNSUPPORTED_VERSION and its own ranges. */
static void test_apiversions_unsupported_version(void)
{
    for (int ver = 0; ver <= 2; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        bb_i16(&b, 35);
        bb_i32(&b, 1);
        bb_i16(&b, 18), bb_i16(&b, 0), bb_i16(&b, 1);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_apiversions_resp(&r, (int16_t)ver, ranges, NULL), 35);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].min, 0);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 1);
        CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, -1);
    }
}

static void test_apiversions_response_flexible(void)
{
    bb_t b = {{0}, 0, 0};
    kp_api_range_t ranges[KP_API_COUNT];
    kp_rbuf_t r;

    bb_i32(&b, 5); /* header v0 */
    bb_i16(&b, 0);
    bb_uv(&b, 3 + 1);
    bb_i16(&b, 0), bb_i16(&b, 3), bb_i16(&b, 12), bb_uv(&b, 0);
    bb_i16(&b, 3), bb_i16(&b, 0), bb_i16(&b, 13), bb_uv(&b, 0);
    bb_i16(&b, 18), bb_i16(&b, 0), bb_i16(&b, 4), bb_uv(&b, 0);
    bb_i32(&b, 0);        /* throttle */
    bb_uv(&b, 2);         /* two tagged fields */
    bb_uv(&b, 0);         /* SupportedFeatures */
    bb_uv(&b, 1), bb_uv(&b, 1);
    bb_uv(&b, 1);         /* FinalizedFeaturesEpoch */
    bb_uv(&b, 8), bb_i64(&b, 42);
    kp_rbuf_init(&r, b.p, b.n, 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, 3), 5);
    CHECK_EQ_INT(kp_apiversions_resp(&r, 3, ranges, NULL), 0);
    CHECK_EQ_INT(r.off, b.n);
    CHECK_EQ_INT(ranges[KP_API_PRODUCE].min, 3);
    CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, 12);
    CHECK_EQ_INT(ranges[KP_API_METADATA].max, 13);
}

static void test_apiversions_truncated(void)
{
    bb_t full = {{0}, 0, 0}, err35 = {{0}, 0, 0};

    av_body(&full, 2, 0, 1);
    for (size_t n = 0; n < full.n; n++) {
        kp_api_range_t ranges[KP_API_COUNT];
        uint8_t *p = malloc(n ? n : 1);
        kp_rbuf_t r;

        REQUIRE_NOT_NULL(p);
        memcpy(p, full.p, n);
        kp_rbuf_init(&r, p, n, 0);
        if (!CHECK_EQ_INT(kp_apiversions_resp(&r, 2, ranges, NULL), -1))
            fprintf(stderr, "    truncated to %zu of %zu\n", n, full.n);
        free(p);
    }
    bb_i16(&err35, 35);
    bb_i32(&err35, 1);
    bb_i16(&err35, 18), bb_i16(&err35, 0), bb_i16(&err35, 1);
    for (size_t n = 0; n < err35.n; n++) {
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        kp_rbuf_init(&r, err35.p, n, 0);
        CHECK_EQ_INT(kp_apiversions_resp(&r, 2, ranges, NULL), -1);
    }
    /* an absurd count */
    {
        static const uint8_t absurd[] = {0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        kp_rbuf_init(&r, absurd, sizeof(absurd), 0);
        CHECK_EQ_INT(kp_apiversions_resp(&r, 0, ranges, NULL), -1);
    }
}

/* ---- Metadata requests ------------------------------------------------------------- */

static void test_metadata_request_v1(void)
{
    static const uint8_t empty[] = {
        0x00, 0x00, 0x00, 0x0f,  /* size 15 */
        0x00, 0x03, 0x00, 0x01,  /* Metadata v1 */
        0x00, 0x00, 0x00, 0x01,  /* correlation id */
        0x00, 0x01, 'c',         /* client id */
        0x00, 0x00, 0x00, 0x00,  /* Topics: empty */
    };
    static const uint8_t two[] = {
        0x00, 0x00, 0x00, 0x1a, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c',
        0x00, 0x00, 0x00, 0x02,
        0x00, 0x02, 't', '1',
        0x00, 0x05, 't', 'o', 'p', 'i', 'c',
    };
    static const char *const topics[] = {"t1", "topic"};
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 1, 1, "c", NULL, 0, 1);
    CHECK_WBUF(w, empty);
    kp_wbuf_free(&w);

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 1, 1, "c", topics, 2, 1); /* auto-create: not in v1 */
    CHECK_WBUF(w, two);
    kp_wbuf_free(&w);
}

static void test_metadata_request_v4(void)
{
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x14, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c',
        0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1',
        0x01, /* AllowAutoTopicCreation */
    };
    static const char *const topics[] = {"t1"};
    uint8_t want_no[sizeof(want)];
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 4, 1, "c", topics, 1, 1);
    CHECK_WBUF(w, want);
    kp_wbuf_free(&w);

    memcpy(want_no, want, sizeof(want));
    want_no[sizeof(want) - 1] = 0x00;
    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 4, 1, "c", topics, 1, 0);
    CHECK_WBUF(w, want_no);
    kp_wbuf_free(&w);
}

static void test_metadata_request_v8(void)
{
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x16, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c',
        0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 't', '1',
        0x01, /* AllowAutoTopicCreation */
        0x00, /* IncludeClusterAuthorizedOperations (8-10) */
        0x00, /* IncludeTopicAuthorizedOperations (8+) */
    };
    static const char *const topics[] = {"t1"};
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 8, 1, "c", topics, 1, 1);
    CHECK_WBUF(w, want);
    kp_wbuf_free(&w);
}

/* v9, the first flexible version (not enabled yet, but coded). */
static void test_metadata_request_v9(void)
{
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x15, 0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c', 0x00,   /* client id classic, header tags */
        0x02,                    /* compact array: 1 topic */
        0x03, 't', '1', 0x00,    /* compact name, topic tags */
        0x01, 0x00, 0x00,        /* auto-create, cluster ops, topic ops */
        0x00,                    /* request tags */
    };
    static const char *const topics[] = {"t1"};
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 9, 1, "c", topics, 1, 1);
    CHECK_WBUF(w, want);
    kp_wbuf_free(&w);
}

/* ---- Metadata responses ------------------------------------------------------------ */

static void md_body_v1(bb_t *b)
{
    bb_i32(b, 2); /* brokers */
    bb_i32(b, 1), bb_str(b, "h1"), bb_i32(b, 9092), bb_str(b, "r1");
    bb_i32(b, 2), bb_str(b, "h2"), bb_i32(b, 9093), bb_str(b, NULL);
    bb_i32(b, 2); /* controller */
    bb_i32(b, 2); /* topics */
    bb_i16(b, 0), bb_str(b, "t1"), bb_i8(b, 0);
    bb_i32(b, 2); /* partitions */
    bb_i16(b, 0), bb_i32(b, 0), bb_i32(b, 1);
    bb_i32(b, 2), bb_i32(b, 1), bb_i32(b, 2); /* replicas */
    bb_i32(b, 1), bb_i32(b, 1);               /* isr */
    bb_i16(b, 6), bb_i32(b, 1), bb_i32(b, -1);
    bb_i32(b, 0);
    bb_i32(b, 0);
    bb_i16(b, 3), bb_str(b, "missing"), bb_i8(b, 0);
    bb_i32(b, 0);
}

static void md_body_v8(bb_t *b)
{
    bb_i32(b, 0); /* throttle */
    bb_i32(b, 1);
    bb_i32(b, 5), bb_str(b, "h5"), bb_i32(b, 9092), bb_str(b, NULL);
    bb_str(b, "cluster-x"); /* ClusterId */
    bb_i32(b, 5);           /* ControllerId */
    bb_i32(b, 1);
    bb_i16(b, 0), bb_str(b, "t1"), bb_i8(b, 0);
    bb_i32(b, 2);
    bb_i16(b, 0), bb_i32(b, 0), bb_i32(b, 5), bb_i32(b, 7); /* LeaderEpoch 7 */
    bb_i32(b, 1), bb_i32(b, 5);
    bb_i32(b, 1), bb_i32(b, 5);
    bb_i32(b, 0); /* offline */
    bb_i16(b, 0), bb_i32(b, 1), bb_i32(b, 5), bb_i32(b, 12);
    bb_i32(b, 0);
    bb_i32(b, 0);
    bb_i32(b, 1), bb_i32(b, 4); /* offline replica 4 */
    bb_i32(b, INT32_MIN);       /* TopicAuthorizedOperations */
    bb_i32(b, INT32_MIN);       /* ClusterAuthorizedOperations */
}

static void md_body_v9(bb_t *b)
{
    bb_i32(b, 0);
    bb_uv(b, 1 + 1);
    bb_i32(b, 5), bb_cstr(b, "h5"), bb_i32(b, 9092), bb_cstr(b, "rack"), bb_uv(b, 0);
    bb_cstr(b, NULL);
    bb_i32(b, 5);
    bb_uv(b, 1 + 1);
    bb_i16(b, 0), bb_cstr(b, "t1"), bb_i8(b, 0);
    bb_uv(b, 1 + 1);
    bb_i16(b, 0), bb_i32(b, 0), bb_i32(b, 5), bb_i32(b, 3);
    bb_uv(b, 2), bb_i32(b, 5);
    bb_uv(b, 2), bb_i32(b, 5);
    bb_uv(b, 1);
    bb_uv(b, 1), bb_uv(b, 9), bb_uv(b, 2), bb_i16(b, 0x1234); /* an unknown tag */
    bb_i32(b, INT32_MIN);
    bb_uv(b, 0);
    bb_i32(b, INT32_MIN);
    bb_uv(b, 0);
}

static void test_metadata_response_v1(void)
{
    bb_t b = {{0}, 0, 0};
    kp_md_resp_t m;
    kp_rbuf_t r;

    md_body_v1(&b);
    kp_rbuf_init(&r, b.p, b.n, 0);
    REQUIRE_EQ_INT(kp_metadata_resp(&r, 1, &m), 0);
    CHECK_EQ_INT(r.off, b.n);
    REQUIRE_EQ_INT(m.nbrokers, 2);
    CHECK_EQ_INT(m.brokers[0].node_id, 1);
    CHECK_EQ_STR(m.brokers[0].host, "h1");
    CHECK_EQ_INT(m.brokers[0].port, 9092);
    CHECK_EQ_INT(m.brokers[1].node_id, 2);
    CHECK_EQ_STR(m.brokers[1].host, "h2");
    CHECK_EQ_INT(m.brokers[1].port, 9093);
    CHECK_EQ_INT(m.controller_id, 2);
    REQUIRE_EQ_INT(m.ntopics, 2);
    CHECK_EQ_INT(m.topics[0].err, 0);
    CHECK_EQ_STR(m.topics[0].name, "t1");
    REQUIRE_EQ_INT(m.topics[0].npartitions, 2);
    CHECK_EQ_INT(m.topics[0].partitions[0].err, 0);
    CHECK_EQ_INT(m.topics[0].partitions[0].partition, 0);
    CHECK_EQ_INT(m.topics[0].partitions[0].leader, 1);
    CHECK_EQ_INT(m.topics[0].partitions[0].leader_epoch, -1); /* not in v1 */
    CHECK_EQ_INT(m.topics[0].partitions[1].err, 6);
    CHECK_EQ_INT(m.topics[0].partitions[1].partition, 1);
    CHECK_EQ_INT(m.topics[0].partitions[1].leader, -1);
    CHECK_EQ_INT(m.topics[1].err, 3);
    CHECK_EQ_STR(m.topics[1].name, "missing");
    CHECK_EQ_INT(m.topics[1].npartitions, 0);
    kp_metadata_resp_free(&m);
    CHECK_EQ_INT(m.nbrokers, 0);
    CHECK_NULL(m.brokers);
    CHECK_EQ_INT(m.ntopics, 0);
    CHECK_NULL(m.topics);
}

static void test_metadata_response_v8(void)
{
    bb_t b = {{0}, 0, 0};
    kp_md_resp_t m;
    kp_rbuf_t r;

    md_body_v8(&b);
    kp_rbuf_init(&r, b.p, b.n, 0);
    REQUIRE_EQ_INT(kp_metadata_resp(&r, 8, &m), 0);
    CHECK_EQ_INT(r.off, b.n);
    REQUIRE_EQ_INT(m.nbrokers, 1);
    CHECK_EQ_INT(m.brokers[0].node_id, 5);
    CHECK_EQ_STR(m.brokers[0].host, "h5");
    CHECK_EQ_INT(m.brokers[0].port, 9092);
    CHECK_EQ_INT(m.controller_id, 5);
    REQUIRE_EQ_INT(m.ntopics, 1);
    CHECK_EQ_STR(m.topics[0].name, "t1");
    REQUIRE_EQ_INT(m.topics[0].npartitions, 2);
    CHECK_EQ_INT(m.topics[0].partitions[0].leader, 5);
    CHECK_EQ_INT(m.topics[0].partitions[0].leader_epoch, 7);
    CHECK_EQ_INT(m.topics[0].partitions[1].partition, 1);
    CHECK_EQ_INT(m.topics[0].partitions[1].leader_epoch, 12);
    kp_metadata_resp_free(&m);
}

static void test_metadata_response_v9_flexible(void)
{
    bb_t b = {{0}, 0, 0};
    kp_md_resp_t m;
    kp_rbuf_t r;

    md_body_v9(&b);
    kp_rbuf_init(&r, b.p, b.n, 1);
    REQUIRE_EQ_INT(kp_metadata_resp(&r, 9, &m), 0);
    CHECK_EQ_INT(r.off, b.n);
    REQUIRE_EQ_INT(m.nbrokers, 1);
    CHECK_EQ_STR(m.brokers[0].host, "h5");
    CHECK_EQ_INT(m.brokers[0].port, 9092);
    REQUIRE_EQ_INT(m.ntopics, 1);
    CHECK_EQ_STR(m.topics[0].name, "t1");
    REQUIRE_EQ_INT(m.topics[0].npartitions, 1);
    CHECK_EQ_INT(m.topics[0].partitions[0].leader_epoch, 3);
    kp_metadata_resp_free(&m);
}

/* One response per version, fields present exactly as the schema's
 * "versions" say: ThrottleTimeMs 3+, Rack 1+, ClusterId 2+, ControllerId 1+,
 * IsInternal 1+, LeaderEpoch 7+, OfflineReplicas 5+,
 * TopicAuthorizedOperations 8+, ClusterAuthorizedOperations 8-10. */
static void md_body_any(bb_t *b, int ver)
{
    if (ver >= 3)
        bb_i32(b, 0);
    bb_i32(b, 1);
    bb_i32(b, 3), bb_str(b, "broker3"), bb_i32(b, 19092);
    if (ver >= 1)
        bb_str(b, "rack-a");
    if (ver >= 2)
        bb_str(b, NULL);
    if (ver >= 1)
        bb_i32(b, 3);
    bb_i32(b, 1);
    bb_i16(b, 0), bb_str(b, "orders");
    if (ver >= 1)
        bb_i8(b, 0);
    bb_i32(b, 3);
    for (int i = 0; i < 3; i++) {
        bb_i16(b, i == 2 ? 5 : 0), bb_i32(b, i), bb_i32(b, i == 2 ? -1 : 3);
        if (ver >= 7)
            bb_i32(b, 20 + i);
        bb_i32(b, 1), bb_i32(b, 3);
        bb_i32(b, 1), bb_i32(b, 3);
        if (ver >= 5)
            bb_i32(b, 0);
    }
    if (ver >= 8)
        bb_i32(b, INT32_MIN);
    if (ver >= 8)
        bb_i32(b, INT32_MIN);
}

static void test_metadata_response_all_versions(void)
{
    for (int16_t ver = 1; ver <= 8; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_md_resp_t m;
        kp_rbuf_t r;

        md_body_any(&b, ver);
        kp_rbuf_init(&r, b.p, b.n, 0);
        if (!CHECK_EQ_INT(kp_metadata_resp(&r, ver, &m), 0)) {
            fprintf(stderr, "    Metadata v%d\n", ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        if (CHECK_EQ_INT(m.nbrokers, 1)) {
            CHECK_EQ_INT(m.brokers[0].node_id, 3);
            CHECK_EQ_STR(m.brokers[0].host, "broker3");
            CHECK_EQ_INT(m.brokers[0].port, 19092);
        }
        CHECK_EQ_INT(m.controller_id, 3);
        if (CHECK_EQ_INT(m.ntopics, 1) && CHECK_EQ_INT(m.topics[0].npartitions, 3)) {
            CHECK_EQ_STR(m.topics[0].name, "orders");
            for (int i = 0; i < 3; i++) {
                const kp_md_partition_t *pp = &m.topics[0].partitions[i];
                CHECK_EQ_INT(pp->partition, i);
                CHECK_EQ_INT(pp->err, i == 2 ? 5 : 0);
                CHECK_EQ_INT(pp->leader, i == 2 ? -1 : 3);
                if (!CHECK_EQ_INT(pp->leader_epoch, ver >= 7 ? 20 + i : -1))
                    fprintf(stderr, "    Metadata v%d partition %d\n", ver, i);
            }
        }
        kp_metadata_resp_free(&m);
    }
}

/* Requests v1..v8: Topics, then AllowAutoTopicCreation (4+), then the two
 * authorized-operations flags (8+). */
static void test_metadata_request_all_versions(void)
{
    static const char *const topics[] = {"t1"};

    for (int16_t ver = 1; ver <= 8; ver++) {
        uint8_t want[64];
        size_t n = 0;
        kp_wbuf_t w;

        memcpy(want, "\x00\x00\x00\x00\x00\x03\x00", 7), n = 7;
        want[n++] = (uint8_t)ver;
        memcpy(want + n, "\x00\x00\x00\x01\x00\x01" "c", 7), n += 7;
        memcpy(want + n, "\x00\x00\x00\x01\x00\x02" "t1", 8), n += 8;
        if (ver >= 4)
            want[n++] = 0x01;
        if (ver >= 8)
            want[n++] = 0x00, want[n++] = 0x00;
        want[3] = (uint8_t)(n - 4);
        kp_wbuf_init(&w, 0);
        kp_metadata_req(&w, ver, 1, "c", topics, 1, 1);
        if (!CHECK_EQ_MEM(w.p, w.len, want, n))
            fprintf(stderr, "    Metadata request v%d\n", ver);
        kp_wbuf_free(&w);
    }
}

/* Every truncation fails cleanly: -1, nothing left allocated (LSan checks
 * at exit), m zeroed, no read past the buffer (ASan: exact-size copies). */
static void check_md_truncations(const bb_t *full, int16_t ver, int flex)
{
    for (size_t n = 0; n < full->n; n++) {
        uint8_t *p = malloc(n ? n : 1);
        kp_md_resp_t m;
        kp_rbuf_t r;

        REQUIRE_NOT_NULL(p);
        memcpy(p, full->p, n);
        kp_rbuf_init(&r, p, n, flex);
        memset(&m, 0x5a, sizeof(m));
        if (!CHECK_EQ_INT(kp_metadata_resp(&r, ver, &m), -1)) {
            fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, full->n);
            kp_metadata_resp_free(&m);
        } else {
            CHECK_EQ_INT(m.nbrokers, 0);
            CHECK_NULL(m.brokers);
            CHECK_EQ_INT(m.ntopics, 0);
            CHECK_NULL(m.topics);
        }
        free(p);
    }
}

static void test_metadata_response_truncated(void)
{
    bb_t b1 = {{0}, 0, 0}, b8 = {{0}, 0, 0}, b9 = {{0}, 0, 0};

    md_body_v1(&b1);
    md_body_v8(&b8);
    md_body_v9(&b9);
    check_md_truncations(&b1, 1, 0);
    check_md_truncations(&b8, 8, 0);
    check_md_truncations(&b9, 9, 1);
    for (int16_t ver = 2; ver <= 7; ver++) {
        bb_t b = {{0}, 0, 0};
        md_body_any(&b, ver);
        check_md_truncations(&b, ver, 0);
    }
}

static void test_metadata_response_malformed(void)
{
    kp_md_resp_t m;
    kp_rbuf_t r;

    /* absurd broker count */
    {
        bb_t b = {{0}, 0, 0};
        bb_i32(&b, 0x7fffffff);
        bb_i32(&b, 1), bb_str(&b, "h"), bb_i32(&b, 1), bb_str(&b, NULL);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_metadata_resp(&r, 1, &m), -1);
        CHECK_NULL(m.brokers);
    }
    /* host length past the end */
    {
        bb_t b = {{0}, 0, 0};
        bb_i32(&b, 1);
        bb_i32(&b, 1), bb_i16(&b, 300), bb_raw(&b, "hhhh", 4);
        bb_i32(&b, 0), bb_i32(&b, 0), bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_metadata_resp(&r, 1, &m), -1);
    }
    /* absurd partition count in the second topic, after allocations for
     * the brokers and the first topic were made */
    {
        bb_t b = {{0}, 0, 0};
        bb_i32(&b, 1);
        bb_i32(&b, 1), bb_str(&b, "h1"), bb_i32(&b, 9092), bb_str(&b, NULL);
        bb_i32(&b, 1);
        bb_i32(&b, 2);
        bb_i16(&b, 0), bb_str(&b, "a"), bb_i8(&b, 0), bb_i32(&b, 1);
        bb_i16(&b, 0), bb_i32(&b, 0), bb_i32(&b, 1), bb_i32(&b, 0), bb_i32(&b, 0);
        bb_i16(&b, 0), bb_str(&b, "b"), bb_i8(&b, 0), bb_i32(&b, 0x10000000);
        for (int i = 0; i < 20; i++)
            bb_i8(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_metadata_resp(&r, 1, &m), -1);
        CHECK_NULL(m.topics);
    }
    /* absurd replica count */
    {
        bb_t b = {{0}, 0, 0};
        bb_i32(&b, 0);
        bb_i32(&b, 1);
        bb_i32(&b, 1);
        bb_i16(&b, 0), bb_str(&b, "a"), bb_i8(&b, 0), bb_i32(&b, 1);
        bb_i16(&b, 0), bb_i32(&b, 0), bb_i32(&b, 1), bb_i32(&b, 0x40000000), bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_metadata_resp(&r, 1, &m), -1);
    }
}

/* ---- Produce requests ---------------------------------------------------------------- */

static const uint8_t batch_a[7] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};
static const uint8_t batch_b[3] = {0xb0, 0xb1, 0xb2};
static const uint8_t batch_c[4] = {0xc0, 0xc1, 0xc2, 0xc3};

/* Build the two-topic request: "a" partitions 0 (batch_a) and 3 (batch_b),
 * "bb" partition 1 (batch_c); acks -1, timeout 30000. */
static struct iovec *build_produce(kp_produce_builder_t *pb, int16_t ver, const char *txn,
                                   int *niov)
{
    kp_produce_begin(pb, ver, 42, "kp", -1, 30000, txn, 2);
    kp_produce_topic(pb, "a", 2);
    kp_produce_partition(pb, 0, batch_a, sizeof(batch_a));
    kp_produce_partition(pb, 3, batch_b, sizeof(batch_b));
    kp_produce_topic_end(pb);
    kp_produce_topic(pb, "bb", 1);
    kp_produce_partition(pb, 1, batch_c, sizeof(batch_c));
    kp_produce_topic_end(pb);
    return kp_produce_finish(pb, niov);
}

/* Concatenate iovecs into out; returns the total length. */
static size_t flatten(const struct iovec *iov, int n, uint8_t *out, size_t cap)
{
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        if (len + iov[i].iov_len > cap) {
            FAIL("iovecs exceed %zu bytes", cap);
            return len;
        }
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    return len;
}

/* Each batch is referenced exactly once, by pointer, never copied. */
static void check_batches_referenced(const struct iovec *iov, int n)
{
    const uint8_t *batches[3] = {batch_a, batch_b, batch_c};
    size_t lens[3] = {sizeof(batch_a), sizeof(batch_b), sizeof(batch_c)};

    for (int k = 0; k < 3; k++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (iov[i].iov_base == (const void *)batches[k]) {
                found++;
                CHECK_EQ_INT(iov[i].iov_len, lens[k]);
            }
        if (!CHECK_EQ_INT(found, 1))
            fprintf(stderr, "    batch %d referenced %d times\n", k, found);
    }
    /* and appear in order: a before b before c */
    {
        int pa = -1, pbi = -1, pc = -1;
        for (int i = 0; i < n; i++) {
            if (iov[i].iov_base == (const void *)batch_a)
                pa = i;
            if (iov[i].iov_base == (const void *)batch_b)
                pbi = i;
            if (iov[i].iov_base == (const void *)batch_c)
                pc = i;
        }
        CHECK(pa < pbi && pbi < pc);
    }
}

static const uint8_t produce_v3[] = {
    0x00, 0x00, 0x00, 0x4d,             /* size 77 */
    0x00, 0x00, 0x00, 0x03,             /* Produce v3 */
    0x00, 0x00, 0x00, 0x2a,             /* correlation id 42 */
    0x00, 0x02, 'k', 'p',               /* client id */
    0xff, 0xff,                         /* TransactionalId null */
    0xff, 0xff,                         /* Acks -1 */
    0x00, 0x00, 0x75, 0x30,             /* TimeoutMs 30000 */
    0x00, 0x00, 0x00, 0x02,             /* 2 topics */
    0x00, 0x01, 'a',                    /* "a" */
    0x00, 0x00, 0x00, 0x02,             /* 2 partitions */
    0x00, 0x00, 0x00, 0x00,             /* partition 0 */
    0x00, 0x00, 0x00, 0x07,             /* records: 7 bytes */
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
    0x00, 0x00, 0x00, 0x03,             /* partition 3 */
    0x00, 0x00, 0x00, 0x03,
    0xb0, 0xb1, 0xb2,
    0x00, 0x02, 'b', 'b',               /* "bb" */
    0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x01,             /* partition 1 */
    0x00, 0x00, 0x00, 0x04,
    0xc0, 0xc1, 0xc2, 0xc3,
};

static void test_produce_request_v3_v8(void)
{
    for (int16_t ver = 3; ver <= 8; ver++) {
        kp_produce_builder_t pb;
        uint8_t want[sizeof(produce_v3)], got[256];
        struct iovec *iov;
        int niov = -1;
        size_t len;

        memcpy(want, produce_v3, sizeof(want));
        want[7] = (uint8_t)ver; /* v4..v8 request bodies are the same as v3 */
        iov = build_produce(&pb, ver, NULL, &niov);
        if (!CHECK_NOT_NULL(iov)) {
            kp_produce_builder_free(&pb);
            return;
        }
        CHECK_GT_INT(niov, 0);
        len = flatten(iov, niov, got, sizeof(got));
        if (!CHECK_EQ_MEM(got, len, want, sizeof(want)))
            fprintf(stderr, "    Produce v%d\n", ver);
        check_batches_referenced(iov, niov);
        free(iov);
        kp_produce_builder_free(&pb);
    }
}

static void test_produce_request_transactional_id(void)
{
    kp_produce_builder_t pb;
    uint8_t want[sizeof(produce_v3) + 2], got[256];
    struct iovec *iov;
    int niov = 0;
    size_t len;

    /* TransactionalId "tx" replaces the null: 2 bytes longer */
    memcpy(want, produce_v3, 16);
    memcpy(want + 16, "\x00\x02tx", 4);
    memcpy(want + 20, produce_v3 + 18, sizeof(produce_v3) - 18);
    want[3] = 0x4f;
    iov = build_produce(&pb, 3, "tx", &niov);
    REQUIRE_NOT_NULL(iov);
    len = flatten(iov, niov, got, sizeof(got));
    CHECK_EQ_MEM(got, len, want, sizeof(want));
    free(iov);
    kp_produce_builder_free(&pb);
}

/* v9 (flexible; not enabled yet, but coded). */
static void test_produce_request_v9(void)
{
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x3f,             /* size 63 */
        0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x2a,
        0x00, 0x02, 'k', 'p', 0x00,         /* client id, header tags */
        0x00,                               /* TransactionalId: compact null */
        0xff, 0xff, 0x00, 0x00, 0x75, 0x30,
        0x03,                               /* 2 topics */
        0x02, 'a', 0x03,                    /* "a", 2 partitions */
        0x00, 0x00, 0x00, 0x00, 0x08,       /* partition 0, 7 bytes */
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0x00,
        0x00, 0x00, 0x00, 0x03, 0x04,
        0xb0, 0xb1, 0xb2, 0x00,
        0x00,                               /* topic tags */
        0x03, 'b', 'b', 0x02,
        0x00, 0x00, 0x00, 0x01, 0x05,
        0xc0, 0xc1, 0xc2, 0xc3, 0x00,
        0x00,                               /* topic tags */
        0x00,                               /* request tags */
    };
    kp_produce_builder_t pb;
    uint8_t got[256];
    struct iovec *iov;
    int niov = 0;
    size_t len;

    iov = build_produce(&pb, 9, NULL, &niov);
    REQUIRE_NOT_NULL(iov);
    len = flatten(iov, niov, got, sizeof(got));
    CHECK_EQ_MEM(got, len, want, sizeof(want));
    check_batches_referenced(iov, niov);
    free(iov);
    kp_produce_builder_free(&pb);
}

/* Large batches are not copied either: the framing stays small. */
static void test_produce_request_large_batch_not_copied(void)
{
    enum { BIG = 1 << 20 };
    uint8_t *big = malloc(BIG);
    kp_produce_builder_t pb;
    struct iovec *iov;
    int niov = 0;
    size_t total = 0;

    REQUIRE_NOT_NULL(big);
    memset(big, 0x42, BIG);
    kp_produce_begin(&pb, 8, 1, "kp", 1, 1000, NULL, 1);
    kp_produce_topic(&pb, "t", 1);
    kp_produce_partition(&pb, 0, big, BIG);
    kp_produce_topic_end(&pb);
    iov = kp_produce_finish(&pb, &niov);
    if (CHECK_NOT_NULL(iov)) {
        int refs = 0;
        for (int i = 0; i < niov; i++) {
            total += iov[i].iov_len;
            if (iov[i].iov_base == (void *)big)
                refs++;
        }
        CHECK_EQ_INT(refs, 1);
        /* size prefix: everything after the 4 size bytes */
        CHECK_EQ_INT(total, 4 + 8 + 4 + 2 + 2 + 4 + 4 + 3 + 4 + 4 + 4 + BIG);
        CHECK_EQ_U64(kp_get_be32(iov[0].iov_base), total - 4);
        CHECK_LT_INT(pb.w.len, 4096);
    }
    free(iov);
    kp_produce_builder_free(&pb);
    free(big);
}

/* ---- Produce responses ---------------------------------------------------------------- */

static void produce_resp_body(bb_t *b, int ver)
{
    bb_i32(b, 1);
    bb_str(b, "a");
    bb_i32(b, 2);
    /* partition 0: success at offset 100 */
    bb_i32(b, 0), bb_i16(b, 0), bb_i64(b, 100);
    bb_i64(b, -1); /* LogAppendTimeMs (v2+) */
    if (ver >= 5)
        bb_i64(b, 10); /* LogStartOffset */
    if (ver >= 8) {
        bb_i32(b, 0);      /* RecordErrors: none */
        bb_str(b, NULL);   /* ErrorMessage */
    }
    /* partition 3: INVALID_RECORD with record errors */
    bb_i32(b, 3), bb_i16(b, 87), bb_i64(b, -1);
    bb_i64(b, 1700000000000LL);
    if (ver >= 5)
        bb_i64(b, -1);
    if (ver >= 8) {
        bb_i32(b, 2);
        bb_i32(b, 1), bb_str(b, "bad");
        bb_i32(b, 4), bb_str(b, NULL);
        bb_str(b, "oops");
    }
    bb_i32(b, 5); /* ThrottleTimeMs */
}

static void test_produce_response_v3_v8(void)
{
    for (int16_t ver = 3; ver <= 8; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_produce_resp_t pr;
        kp_rbuf_t r;

        bb_i32(&b, 77);
        produce_resp_body(&b, ver);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_PRODUCE, ver), 77);
        if (!CHECK_EQ_INT(kp_produce_resp(&r, ver, &pr), 0)) {
            fprintf(stderr, "    Produce response v%d\n", ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(pr.throttle_ms, 5);
        if (!CHECK_EQ_INT(pr.ntopics, 1)) {
            kp_produce_resp_free(&pr);
            continue;
        }
        CHECK_EQ_MEM(pr.topics[0].name, pr.topics[0].name_len, "a", 1);
        if (CHECK_EQ_INT(pr.topics[0].nparts, 2)) {
            const kp_produce_presp_t *p0 = &pr.topics[0].parts[0], *p1 = &pr.topics[0].parts[1];
            CHECK_EQ_INT(p0->partition, 0);
            CHECK_EQ_INT(p0->err, 0);
            CHECK_EQ_INT(p0->base_offset, 100);
            CHECK_EQ_INT(p0->log_append_time, -1);
            CHECK_EQ_INT(p0->log_start_offset, ver >= 5 ? 10 : -1);
            CHECK_EQ_INT(p1->partition, 3);
            CHECK_EQ_INT(p1->err, 87);
            CHECK_EQ_INT(p1->base_offset, -1);
            CHECK_EQ_INT(p1->log_append_time, 1700000000000LL);
            CHECK_EQ_INT(p1->log_start_offset, -1);
        }
        kp_produce_resp_free(&pr);
        CHECK_EQ_INT(pr.ntopics, 0);
        CHECK_NULL(pr.topics);
    }
}

static void test_produce_response_v9_flexible(void)
{
    bb_t b = {{0}, 0, 0};
    kp_produce_resp_t pr;
    kp_rbuf_t r;

    bb_i32(&b, 9);
    bb_uv(&b, 0); /* header tags */
    bb_uv(&b, 2);
    bb_cstr(&b, "a");
    bb_uv(&b, 2);
    bb_i32(&b, 2), bb_i16(&b, 6), bb_i64(&b, -1), bb_i64(&b, -1), bb_i64(&b, -1);
    bb_uv(&b, 2), bb_i32(&b, 0), bb_cstr(&b, "x"), bb_uv(&b, 0); /* one record error */
    bb_cstr(&b, NULL);
    /* CurrentLeader (tag 0): LeaderId 4, LeaderEpoch 9, struct tags */
    bb_uv(&b, 1), bb_uv(&b, 0), bb_uv(&b, 9), bb_i32(&b, 4), bb_i32(&b, 9), bb_uv(&b, 0);
    bb_uv(&b, 0); /* topic tags */
    bb_i32(&b, 0);
    bb_uv(&b, 0);
    kp_rbuf_init(&r, b.p, b.n, 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_PRODUCE, 9), 9);
    REQUIRE_EQ_INT(kp_produce_resp(&r, 9, &pr), 0);
    CHECK_EQ_INT(r.off, b.n);
    REQUIRE_EQ_INT(pr.ntopics, 1);
    REQUIRE_EQ_INT(pr.topics[0].nparts, 1);
    CHECK_EQ_INT(pr.topics[0].parts[0].partition, 2);
    CHECK_EQ_INT(pr.topics[0].parts[0].err, 6);
    kp_produce_resp_free(&pr);
}

static void test_produce_response_truncated(void)
{
    for (int16_t ver = 3; ver <= 8; ver++) {
        bb_t full = {{0}, 0, 0};

        produce_resp_body(&full, ver);
        for (size_t n = 0; n < full.n; n++) {
            uint8_t *p = malloc(n ? n : 1);
            kp_produce_resp_t pr;
            kp_rbuf_t r;

            REQUIRE_NOT_NULL(p);
            memcpy(p, full.p, n);
            kp_rbuf_init(&r, p, n, 0);
            memset(&pr, 0x5a, sizeof(pr));
            if (!CHECK_EQ_INT(kp_produce_resp(&r, ver, &pr), -1)) {
                fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, full.n);
                kp_produce_resp_free(&pr);
            } else {
                CHECK_EQ_INT(pr.ntopics, 0);
                CHECK_NULL(pr.topics);
            }
            free(p);
        }
    }
    /* absurd counts */
    {
        bb_t b = {{0}, 0, 0};
        kp_produce_resp_t pr;
        kp_rbuf_t r;

        bb_i32(&b, 0x7fffffff);
        bb_str(&b, "a"), bb_i32(&b, 0), bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_produce_resp(&r, 8, &pr), -1);

        b.n = 0;
        bb_i32(&b, 1);
        bb_str(&b, "a"), bb_i32(&b, 0x7fffffff);
        for (int i = 0; i < 40; i++)
            bb_i8(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_produce_resp(&r, 8, &pr), -1);
    }
}

/* ---- both forms: helpers for flexible bodies ------------------------------------ */

/* array length: classic int32, or compact (uvarint n + 1, 0 = null) */
static void bb_arr(bb_t *b, int flex, int n)
{
    if (flex)
        bb_uv(b, n < 0 ? 0 : (uint64_t)n + 1);
    else
        bb_i32(b, n);
}
static void bb_s(bb_t *b, int flex, const char *s)
{
    if (flex)
        bb_cstr(b, s);
    else
        bb_str(b, s);
}
/* an empty tag section (flexible only) */
static void bb_notags(bb_t *b, int flex)
{
    if (flex)
        bb_uv(b, 0);
}
/* one tagged field: tag, size, value */
static void bb_tag(bb_t *b, unsigned tag, const bb_t *val)
{
    bb_uv(b, tag);
    bb_uv(b, val->n);
    bb_raw(b, val->p, val->n);
}

/* ---- versions, KIP-896 --------------------------------------------------------------- */

static const int16_t our_apis[] = {KP_API_PRODUCE, KP_API_METADATA, KP_API_API_VERSIONS,
                                   KP_API_INIT_PRODUCER_ID};

static void test_codec_and_negotiated_ranges(void)
{
    /* what the codecs know (each version tested below) */
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_PRODUCE), 3);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_PRODUCE), 12);
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_METADATA), 1);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_METADATA), 12);
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_API_VERSIONS), 0);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_API_VERSIONS), 4);
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_INIT_PRODUCER_ID), 0);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_INIT_PRODUCER_ID), 5);
    CHECK_EQ_INT(kp_proto_codec_max(1 /* Fetch */), -1);
    CHECK_EQ_INT(kp_proto_codec_min(1), -1);
    /* what kprod negotiates lies inside */
    for (size_t i = 0; i < sizeof(our_apis) / sizeof(our_apis[0]); i++) {
        int16_t a = our_apis[i];
        CHECK_GE_INT(kp_proto_our_min(a), kp_proto_codec_min(a));
        CHECK_LE_INT(kp_proto_our_max(a), kp_proto_codec_max(a));
        CHECK_LE_INT(kp_proto_our_min(a), kp_proto_our_max(a));
    }
    /* Produce 12: transactions v2, capped at 11 by the engine without it */
    CHECK_EQ_INT(kp_proto_our_max(KP_API_PRODUCE), 12);
    CHECK_EQ_INT(kp_proto_our_max(KP_API_METADATA), 12);
    CHECK_EQ_INT(kp_proto_our_max(KP_API_API_VERSIONS), 3); /* KIP-511; conn.c falls back */
    CHECK_EQ_INT(kp_proto_our_max(KP_API_INIT_PRODUCER_ID), 5);
    /* KIP-896: Kafka 4.0.0's ProduceRequest.json is "3-12"; Metadata (0-13),
     * ApiVersions (0-4) and InitProducerId (0-5) lost nothing */
    CHECK_EQ_INT(kp_proto_our_min(KP_API_PRODUCE), 3);
    CHECK_EQ_INT(kp_proto_our_min(KP_API_METADATA), 1);
    CHECK_EQ_INT(kp_proto_our_min(KP_API_API_VERSIONS), 0);
    CHECK_EQ_INT(kp_proto_our_min(KP_API_INIT_PRODUCER_ID), 0);
    CHECK(kp_proto_is_flexible(KP_API_API_VERSIONS, 4));
    CHECK(kp_proto_is_flexible(KP_API_PRODUCE, 10));
    CHECK(kp_proto_is_flexible(KP_API_METADATA, 12));
    CHECK(kp_proto_is_flexible(KP_API_INIT_PRODUCER_ID, 5));
}

/* Brokers that offer only new versions, and the ones 4.0 advertises. */
static void test_pick_new_brokers(void)
{
    const int16_t pmax = kp_proto_our_max(KP_API_PRODUCE);
    const int16_t mmax = kp_proto_our_max(KP_API_METADATA);
    const int16_t imax = kp_proto_our_max(KP_API_INIT_PRODUCER_ID);

    /* Kafka 4.0: Produce advertised 0..12 (KAFKA-18659) but 0..2 refused */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 12), pmax);
    /* a broker without the removed versions */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 3, 12), pmax);
    /* only versions from 7 (Confluent Cloud's Kafka 2.1 baseline) */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 7, 13), pmax);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, pmax, pmax), pmax);
    /* a future broker whose lowest Produce is above ours */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, (int16_t)(pmax + 1), 13), -1);
    /* an old broker: its highest, where that is valid */
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 6), 6);
    CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, 0, 2), -1);
    /* Metadata: 4.0 keeps 0..13; deprecated 0..3 only to a broker that
     * stops there */
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 0, 13), mmax);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 4, 13), mmax);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, mmax, 15), mmax);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, (int16_t)(mmax + 1), 15), -1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 0, 3), 3);
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 0, 0), -1);
    /* a range that is empty */
    CHECK_EQ_INT(kp_proto_pick(KP_API_METADATA, 9, 5), -1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_INIT_PRODUCER_ID, 0, 5), imax);
    CHECK_EQ_INT(kp_proto_pick(KP_API_INIT_PRODUCER_ID, (int16_t)(imax + 1), 6), -1);
    /* ApiVersions: ours stops at 3; kp_proto_pick_upto may go to the codec's 4 */
    CHECK_EQ_INT(kp_proto_pick(KP_API_API_VERSIONS, 0, 4), 3);
    CHECK_EQ_INT(kp_proto_pick(KP_API_API_VERSIONS, 4, 4), -1);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, 3, 4, 4), 4);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, 3, 9, 99), 4); /* codec caps */
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, 0, 2, 4), 2);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, 0, 4, 3), 3);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, -1, -1, 4), -1);
    CHECK_EQ_INT(kp_proto_pick_upto(KP_API_PRODUCE, 0, 12, 2), -1); /* below our min */
    CHECK_EQ_INT(kp_proto_pick_upto(1 /* Fetch */, 0, 17, 17), -1);
}

/* Every version an encoder does not know fails the request; every version a
 * decoder does not know fails the decoding. */
static void test_versions_outside_codecs(void)
{
    static const char *const topics[] = {"t"};
    static const uint8_t batch[1] = {0};
    kp_wbuf_t w;

    for (int16_t ver = -1; ver <= 14; ver++) {
        int in;

        in = ver >= 1 && ver <= 12;
        kp_wbuf_init(&w, 0);
        kp_metadata_req(&w, ver, 1, "c", topics, 1, 1);
        if (!CHECK_EQ_INT(w.err, !in))
            fprintf(stderr, "    Metadata request v%d\n", ver);
        kp_wbuf_free(&w);

        in = ver >= 0 && ver <= 4;
        kp_wbuf_init(&w, 0);
        kp_apiversions_req(&w, ver, 1, "c");
        if (!CHECK_EQ_INT(w.err, !in))
            fprintf(stderr, "    ApiVersions request v%d\n", ver);
        kp_wbuf_free(&w);

        in = ver >= 0 && ver <= 5;
        kp_wbuf_init(&w, 0);
        kp_initpid_req(&w, ver, 1, "c", NULL, 60000, -1, -1);
        if (!CHECK_EQ_INT(w.err, !in))
            fprintf(stderr, "    InitProducerId request v%d\n", ver);
        kp_wbuf_free(&w);

        in = ver >= 3 && ver <= 12;
        {
            kp_produce_builder_t pb;
            struct iovec *iov;
            int niov = 0;

            kp_produce_begin(&pb, ver, 1, "c", 1, 1000, NULL, 1);
            kp_produce_topic(&pb, "t", 1);
            kp_produce_partition(&pb, 0, batch, sizeof(batch));
            kp_produce_topic_end(&pb);
            iov = kp_produce_finish(&pb, &niov);
            if (!CHECK_EQ_INT(iov != NULL, in))
                fprintf(stderr, "    Produce request v%d\n", ver);
            free(iov);
            kp_produce_builder_free(&pb);
        }
    }
    /* decoders: beyond the codec's highest version */
    {
        static const uint8_t zeros[64] = {0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_md_resp_t m;
        kp_produce_resp_t pr;
        kp_initpid_resp_t ip;
        kp_rbuf_t r;

        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_metadata_resp(&r, 13, &m), -1);
        CHECK_NULL(m.topics);
        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_produce_resp(&r, 13, &pr), -1);
        CHECK_NULL(pr.topics);
        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_apiversions_resp(&r, 5, ranges, NULL), -1);
        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_apiversions_resp(&r, -1, ranges, NULL), -1);
        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_initpid_resp(&r, 6, &ip), -1);
        kp_rbuf_init(&r, zeros, sizeof(zeros), 0);
        CHECK_EQ_INT(kp_produce_resp(&r, -1, &pr), -1);
    }
}

/* ---- ApiVersions v3/v4 ------------------------------------------------------------- */

/* v3 and v4 requests: header v2 (client id a classic string, then an empty
 * tag section), ClientSoftwareName "kprod" and ClientSoftwareVersion
 * KPROD_VERSION_STR as compact strings, an empty tag section. */
static void test_apiversions_request_v3_v4(void)
{
    static const uint8_t head[] = {
        0x00, 0x00, 0x00, 0x00,             /* size, below */
        0x00, 0x12, 0x00, 0x03,             /* ApiVersions v3 */
        0x00, 0x00, 0x00, 0x07,             /* correlation id */
        0x00, 0x02, 'k', 'p',               /* ClientId */
        0x00,                               /* header tags */
        0x06, 'k', 'p', 'r', 'o', 'd',      /* ClientSoftwareName */
    };
    const size_t vlen = strlen(KPROD_VERSION_STR);

    REQUIRE(vlen > 0 && vlen < 126);
    for (int16_t ver = 3; ver <= 4; ver++) {
        uint8_t want[128];
        size_t n = sizeof(head);
        kp_wbuf_t w;

        memcpy(want, head, n);
        want[7] = (uint8_t)ver;
        want[n++] = (uint8_t)(vlen + 1); /* ClientSoftwareVersion */
        memcpy(want + n, KPROD_VERSION_STR, vlen), n += vlen;
        want[n++] = 0x00;                /* body tags */
        want[3] = (uint8_t)(n - 4);
        kp_wbuf_init(&w, 0);
        kp_apiversions_req(&w, ver, 7, "kp");
        if (!CHECK_EQ_MEM(w.p, w.len, want, n))
            fprintf(stderr, "    ApiVersions request v%d\n", ver);
        kp_wbuf_free(&w);
    }
}

/* A flexible (v3/v4) body as Kafka 4 writes it: api entries with tag
 * sections, ThrottleTimeMs, then SupportedFeatures (tag 0),
 * FinalizedFeaturesEpoch (1), FinalizedFeatures (2), ZkMigrationReady (3). */
static void av_body_flex(bb_t *b, int err)
{
    bb_t f = {{0}, 0, 0};

    bb_i16(b, err);
    bb_uv(b, 4 + 1);
    bb_i16(b, 0), bb_i16(b, 0), bb_i16(b, 12), bb_uv(b, 0);    /* Produce 0..12 */
    bb_i16(b, 3), bb_i16(b, 0), bb_i16(b, 13), bb_uv(b, 0);    /* Metadata 0..13 */
    bb_i16(b, 18), bb_i16(b, 0), bb_i16(b, 4), bb_uv(b, 0);    /* ApiVersions 0..4 */
    bb_i16(b, 22), bb_i16(b, 0), bb_i16(b, 5);                  /* InitProducerId */
    bb_uv(b, 1), bb_uv(b, 9), bb_uv(b, 1), bb_i8(b, 1);          /* an entry's unknown tag */
    bb_i32(b, 0);                                               /* ThrottleTimeMs */
    bb_uv(b, 4);                                                /* four tagged fields */
    bb_uv(&f, 1 + 1), bb_cstr(&f, "metadata.version"), bb_i16(&f, 1), bb_i16(&f, 25),
        bb_uv(&f, 0);
    bb_tag(b, 0, &f);
    f.n = 0;
    bb_i64(&f, 42);
    bb_tag(b, 1, &f);
    f.n = 0;
    bb_uv(&f, 1 + 1), bb_cstr(&f, "metadata.version"), bb_i16(&f, 25), bb_i16(&f, 25),
        bb_uv(&f, 0);
    bb_tag(b, 2, &f);
    f.n = 0;
    bb_i8(&f, 0);
    bb_tag(b, 3, &f);
}

static void test_apiversions_response_v3_v4(void)
{
    for (int16_t ver = 3; ver <= 4; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        bb_i32(&b, 5); /* header v0: no tag section even though flexible */
        av_body_flex(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver), 5);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 0);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, 12);
        CHECK_EQ_INT(ranges[KP_API_METADATA].max, 13);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 4);
        CHECK_EQ_INT(ranges[KP_API_INIT_PRODUCER_ID].min, 0);
        CHECK_EQ_INT(ranges[KP_API_INIT_PRODUCER_ID].max, 5);
        CHECK_EQ_INT(ranges[1].max, -1);
        CHECK_EQ_INT(kp_proto_pick(KP_API_PRODUCE, ranges[0].min, ranges[0].max),
                     kp_proto_our_max(KP_API_PRODUCE));

        /* every truncation: malformed, and no range left over */
        for (size_t n = 4; n < b.n; n++) {
            uint8_t *p = malloc(n);

            REQUIRE_NOT_NULL(p);
            memcpy(p, b.p, n);
            kp_rbuf_init(&r, p, n, 0);
            (void)kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver);
            if (!CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), -1))
                fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, b.n);
            CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, -1);
            CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, -1);
            CHECK_LE_INT(r.off, n);
            free(p);
        }
    }
}

/* Kafka answers an ApiVersions version it does not know with
 * UNSUPPORTED_VERSION in the v0 form (and, from 2.4, only its ApiVersions
 * entry): a v3/v4 request must read it as v0 and give the range. */
static void test_apiversions_unsupported_v0_form_to_flexible(void)
{
    for (int16_t ver = 3; ver <= 4; ver++) {
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;
        bb_t b = {{0}, 0, 0};

        bb_i32(&b, 11);
        bb_i16(&b, 35);
        bb_i32(&b, 1);
        bb_i16(&b, 18), bb_i16(&b, 0), bb_i16(&b, 2);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver), 11);
        CHECK_EQ_INT(r.flex, 1);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 35);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].min, 0);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 2);
        CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, -1);
        /* the engine asks again at the highest common version */
        CHECK_EQ_INT(kp_proto_pick_upto(KP_API_API_VERSIONS, ranges[18].min, ranges[18].max,
                                        kp_proto_codec_max(KP_API_API_VERSIONS)),
                     2);

        /* a pre-2.4 broker lists every API in the error reply */
        b.n = 0;
        bb_i16(&b, 35);
        bb_i32(&b, 3);
        bb_i16(&b, 0), bb_i16(&b, 0), bb_i16(&b, 7);
        bb_i16(&b, 3), bb_i16(&b, 0), bb_i16(&b, 7);
        bb_i16(&b, 18), bb_i16(&b, 0), bb_i16(&b, 2);
        kp_rbuf_init(&r, b.p, b.n, 1);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 35);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 2);
        CHECK_EQ_INT(ranges[KP_API_PRODUCE].max, 7);

        /* no entries at all: the error, no range */
        b.n = 0;
        bb_i16(&b, 35);
        bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 1);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 35);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, -1);

        /* the same error in the asked (flexible) form, exactly: taken */
        b.n = 0;
        bb_i16(&b, 35);
        bb_uv(&b, 1 + 1);
        bb_i16(&b, 18), bb_i16(&b, 0), bb_i16(&b, 2), bb_uv(&b, 0);
        bb_i32(&b, 0);
        bb_uv(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 1);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), 35);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, 2);
        CHECK_EQ_INT(r.off, b.n);
        /* ... but not with a byte too many */
        bb_i8(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 1);
        CHECK_EQ_INT(kp_apiversions_resp(&r, ver, ranges, NULL), -1);
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, -1);
    }
}

/* librdkafka 2.15.1's mock offers ApiVersions 0..2 and answers a v3 request
 * (rd_kafka_mock_handle_ApiVersion) with ErrorCode 35, a one-byte count
 * (1, not a compact 2), one entry without a tag section and a
 * ThrottleTimeMs: neither v0 nor v3 form. Malformed, never a crash, no
 * range. Its truncations are malformed too, but for one that happens to be
 * a well-formed v3 error reply without entries (35, count 0, a throttle,
 * no tags): 35 and no range, which the caller treats as a fallback without
 * a range just the same. */
static void test_apiversions_mock_2_15_malformed(void)
{
    static const uint8_t mock[] = {
        0x00, 0x00, 0x00, 0x01,             /* correlation id (header v0) */
        0x00, 0x23,                         /* ErrorCode 35 */
        0x01,                               /* count, as an int8 */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x02, /* ApiVersions 0..2 */
        0x00, 0x00, 0x00, 0x00,             /* ThrottleTimeMs */
    };
    kp_api_range_t ranges[KP_API_COUNT];
    kp_rbuf_t r;

    kp_rbuf_init(&r, mock, sizeof(mock), 0);
    CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_API_VERSIONS, 3), 1);
    CHECK_EQ_INT(kp_apiversions_resp(&r, 3, ranges, NULL), -1);
    CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, -1);
    for (size_t n = 4; n < sizeof(mock); n++) {
        int rc;

        kp_rbuf_init(&r, mock, n, 0);
        (void)kp_proto_resp_header(&r, KP_API_API_VERSIONS, 3);
        rc = kp_apiversions_resp(&r, 3, ranges, NULL);
        if (!CHECK_EQ_INT(rc, n == 12 ? 35 : -1))
            fprintf(stderr, "    %zu of %zu bytes\n", n, sizeof(mock));
        CHECK_EQ_INT(ranges[KP_API_API_VERSIONS].max, -1);
        CHECK_LE_INT(r.off, n);
    }
}

/* Other errors: the code is the answer, with or without the rest. */
static void test_apiversions_other_errors(void)
{
    kp_api_range_t ranges[KP_API_COUNT];
    kp_rbuf_t r;
    bb_t b = {{0}, 0, 0};

    /* INVALID_REQUEST (42, e.g. a bad ClientSoftwareName) in v3 form */
    bb_i16(&b, 42);
    bb_uv(&b, 0 + 1);
    bb_i32(&b, 0x01020304); /* a ThrottleTimeMs that reads as a tag count */
    bb_uv(&b, 0);
    kp_rbuf_init(&r, b.p, b.n, 1);
    CHECK_EQ_INT(kp_apiversions_resp(&r, 3, ranges, NULL), 42);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.off, b.n);
    /* just the code */
    kp_rbuf_init(&r, b.p, 2, 1);
    CHECK_EQ_INT(kp_apiversions_resp(&r, 3, ranges, NULL), 42);
    CHECK_EQ_INT(r.err, 0);
    /* not even that */
    kp_rbuf_init(&r, b.p, 1, 1);
    CHECK_EQ_INT(kp_apiversions_resp(&r, 3, ranges, NULL), -1);
    CHECK_EQ_INT(r.err, 1);
}

/* ---- Metadata v9..v12 ------------------------------------------------------------------- */

/* Requests v1..v12: Topics (TopicId 10+, zero: asked by name), then
 * AllowAutoTopicCreation (4+), IncludeClusterAuthorizedOperations (8..10),
 * IncludeTopicAuthorizedOperations (8+); flexible from 9. */
static void test_metadata_request_v1_v12(void)
{
    static const char *const topics[] = {"t1", "orders"};

    for (int16_t ver = 1; ver <= 12; ver++) {
        int flex = ver >= 9;
        uint8_t want[128];
        size_t n = 0;
        kp_wbuf_t w;

        memcpy(want, "\x00\x00\x00\x00\x00\x03\x00", 7), n = 7;
        want[n++] = (uint8_t)ver;
        memcpy(want + n, "\x00\x00\x00\x01\x00\x01" "c", 7), n += 7;
        if (flex)
            want[n++] = 0x00; /* header tags */
        if (flex)
            want[n++] = 0x03; /* 2 topics, compact */
        else
            memcpy(want + n, "\x00\x00\x00\x02", 4), n += 4;
        for (int t = 0; t < 2; t++) {
            const char *name = topics[t];
            size_t len = strlen(name);
            if (ver >= 10) { /* TopicId: the zero UUID */
                memset(want + n, 0, 16);
                n += 16;
            }
            if (flex) {
                want[n++] = (uint8_t)(len + 1);
            } else {
                want[n++] = 0x00;
                want[n++] = (uint8_t)len;
            }
            memcpy(want + n, name, len), n += len;
            if (flex)
                want[n++] = 0x00; /* topic tags */
        }
        if (ver >= 4)
            want[n++] = 0x01;
        if (ver >= 8 && ver <= 10)
            want[n++] = 0x00;
        if (ver >= 8)
            want[n++] = 0x00;
        if (flex)
            want[n++] = 0x00;
        want[3] = (uint8_t)(n - 4);
        kp_wbuf_init(&w, 0);
        kp_metadata_req(&w, ver, 1, "c", topics, 2, 1);
        if (!CHECK_EQ_MEM(w.p, w.len, want, n))
            fprintf(stderr, "    Metadata request v%d\n", ver);
        kp_wbuf_free(&w);
    }
}

/* v10 and v12 written out whole. */
static void test_metadata_request_v10_v12_literal(void)
{
    static const uint8_t v10[] = {
        0x00, 0x00, 0x00, 0x25,             /* size 37 */
        0x00, 0x03, 0x00, 0x0a,             /* Metadata v10 */
        0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c', 0x00,              /* client id, header tags */
        0x02,                               /* 1 topic */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* TopicId zero */
        0x03, 't', '1', 0x00,               /* Name, topic tags */
        0x01,                               /* AllowAutoTopicCreation */
        0x00,                               /* IncludeClusterAuthorizedOperations */
        0x00,                               /* IncludeTopicAuthorizedOperations */
        0x00,                               /* tags */
    };
    static const uint8_t v12[] = {
        0x00, 0x00, 0x00, 0x24, 0x00, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 'c', 0x00,
        0x02,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x03, 't', '1', 0x00,
        0x00,                               /* auto-create off */
        0x00,                               /* topic ops (no cluster ops from 11) */
        0x00,
    };
    static const char *const topics[] = {"t1"};
    kp_wbuf_t w;

    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 10, 1, "c", topics, 1, 1);
    CHECK_WBUF(w, v10);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_metadata_req(&w, 12, 1, "c", topics, 1, 0);
    CHECK_WBUF(w, v12);
    kp_wbuf_free(&w);
}

static const uint8_t topic_id_orders[16] = {0x3d, 0x1a, 0x7e, 0x54, 0x10, 0x22, 0x4b, 0x6c,
                                            0x9f, 0x00, 0x31, 0xa2, 0xc4, 0x5b, 0x77, 0xe8};

/* A response per version, fields exactly as the schema's "versions" say,
 * both forms: ThrottleTimeMs 3+, Rack 1+, ClusterId 2+, ControllerId 1+,
 * TopicId 10+, IsInternal 1+, LeaderEpoch 7+, OfflineReplicas 5+,
 * TopicAuthorizedOperations 8+, ClusterAuthorizedOperations 8-10, tag
 * sections 9+ (some with fields kprod does not know). The second topic
 * has a null name from v12 (asked for by id). */
static void md_body_all(bb_t *b, int ver)
{
    int flex = ver >= 9;

    if (ver >= 3)
        bb_i32(b, 7);
    bb_arr(b, flex, 2);
    for (int i = 0; i < 2; i++) {
        bb_i32(b, 3 + i), bb_s(b, flex, i ? "broker4" : "broker3"), bb_i32(b, 19092 + i);
        if (ver >= 1)
            bb_s(b, flex, i ? NULL : "rack-a");
        bb_notags(b, flex);
    }
    if (ver >= 2)
        bb_s(b, flex, "cluster-x");
    if (ver >= 1)
        bb_i32(b, 4);
    bb_arr(b, flex, 2);
    /* "orders", 3 partitions */
    bb_i16(b, 0), bb_s(b, flex, "orders");
    if (ver >= 10)
        bb_raw(b, topic_id_orders, 16);
    if (ver >= 1)
        bb_i8(b, 0);
    bb_arr(b, flex, 3);
    for (int i = 0; i < 3; i++) {
        bb_i16(b, i == 2 ? 5 : 0), bb_i32(b, i), bb_i32(b, i == 2 ? -1 : 3);
        if (ver >= 7)
            bb_i32(b, 20 + i);
        bb_arr(b, flex, 2), bb_i32(b, 3), bb_i32(b, 4); /* replicas */
        bb_arr(b, flex, 1), bb_i32(b, 3);               /* isr */
        if (ver >= 5) {
            bb_arr(b, flex, i == 1 ? 1 : 0);            /* offline */
            if (i == 1)
                bb_i32(b, 4);
        }
        if (flex && i == 1) /* an unknown tagged field */
            bb_uv(b, 1), bb_uv(b, 5), bb_uv(b, 3), bb_raw(b, "xyz", 3);
        else
            bb_notags(b, flex);
    }
    if (ver >= 8)
        bb_i32(b, 0x1f8);
    bb_notags(b, flex);
    /* "__consumer_offsets": internal, an error, no partitions */
    bb_i16(b, 29 /* TOPIC_AUTHORIZATION_FAILED */);
    bb_s(b, flex, ver >= 12 ? NULL : "__consumer_offsets");
    if (ver >= 10)
        bb_raw(b, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16);
    if (ver >= 1)
        bb_i8(b, 1);
    bb_arr(b, flex, 0);
    if (ver >= 8)
        bb_i32(b, INT32_MIN);
    bb_notags(b, flex);
    if (ver >= 8 && ver <= 10)
        bb_i32(b, INT32_MIN);
    if (flex) /* top-level: an unknown tag */
        bb_uv(b, 1), bb_uv(b, 2), bb_uv(b, 1), bb_i8(b, 9);
}

static void test_metadata_response_v0_v12(void)
{
    static const uint8_t zero[16] = {0};

    for (int16_t ver = 0; ver <= 12; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_md_resp_t m;
        kp_rbuf_t r;

        if (ver >= 9)
            bb_i32(&b, 33), bb_uv(&b, 0); /* header v1 */
        else
            bb_i32(&b, 33);
        md_body_all(&b, ver);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_METADATA, ver), 33);
        if (!CHECK_EQ_INT(kp_metadata_resp(&r, ver, &m), 0)) {
            fprintf(stderr, "    Metadata response v%d\n", ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(m.throttle_ms, ver >= 3 ? 7 : 0);
        CHECK_EQ_INT(m.controller_id, ver >= 1 ? 4 : -1);
        if (CHECK_EQ_INT(m.nbrokers, 2)) {
            CHECK_EQ_INT(m.brokers[0].node_id, 3);
            CHECK_EQ_STR(m.brokers[0].host, "broker3");
            CHECK_EQ_INT(m.brokers[0].port, 19092);
            CHECK_EQ_STR(m.brokers[1].host, "broker4");
            CHECK_EQ_INT(m.brokers[1].port, 19093);
        }
        if (CHECK_EQ_INT(m.ntopics, 2) && CHECK_EQ_INT(m.topics[0].npartitions, 3)) {
            const kp_md_topic_t *t = &m.topics[0], *u = &m.topics[1];
            CHECK_EQ_STR(t->name, "orders");
            CHECK_EQ_INT(t->err, 0);
            CHECK_EQ_MEM(t->topic_id, 16, ver >= 10 ? topic_id_orders : zero, 16);
            CHECK_EQ_INT(t->is_internal, 0);
            CHECK_EQ_INT(t->authorized_ops, ver >= 8 ? 0x1f8 : INT32_MIN);
            for (int i = 0; i < 3; i++) {
                const kp_md_partition_t *pp = &t->partitions[i];
                CHECK_EQ_INT(pp->partition, i);
                CHECK_EQ_INT(pp->err, i == 2 ? 5 : 0);
                CHECK_EQ_INT(pp->leader, i == 2 ? -1 : 3);
                if (!CHECK_EQ_INT(pp->leader_epoch, ver >= 7 ? 20 + i : -1))
                    fprintf(stderr, "    Metadata v%d partition %d\n", ver, i);
                CHECK_EQ_INT(pp->nreplicas, 2);
                CHECK_EQ_INT(pp->nisr, 1);
                CHECK_EQ_INT(pp->noffline, ver >= 5 && i == 1 ? 1 : 0);
            }
            CHECK_EQ_INT(u->err, 29);
            CHECK_EQ_STR(u->name, ver >= 12 ? "" : "__consumer_offsets");
            CHECK_EQ_INT(u->is_internal, ver >= 1);
            CHECK_EQ_INT(u->npartitions, 0);
            CHECK_NULL(u->partitions);
            if (ver >= 10)
                CHECK_EQ_INT(u->topic_id[15], 0x10);
        }
        kp_metadata_resp_free(&m);
    }
}

static void test_metadata_response_v9_v12_truncated(void)
{
    for (int16_t ver = 0; ver <= 12; ver++) {
        bb_t b = {{0}, 0, 0};

        md_body_all(&b, ver);
        check_md_truncations(&b, ver, 0);
    }
}

/* ---- InitProducerId v0..v5 --------------------------------------------------------------- */

static void test_initpid_request_all_versions(void)
{
    for (int16_t ver = 0; ver <= 5; ver++) {
        int flex = ver >= 2;
        uint8_t want[64];
        size_t n = 0;
        kp_wbuf_t w;

        memcpy(want, "\x00\x00\x00\x00\x00\x16\x00", 7), n = 7;
        want[n++] = (uint8_t)ver;
        memcpy(want + n, "\x00\x00\x00\x01\x00\x02kp", 8), n += 8;
        if (flex)
            want[n++] = 0x00;                 /* header tags */
        if (flex)
            want[n++] = 0x00;                 /* TransactionalId: compact null */
        else
            want[n++] = 0xff, want[n++] = 0xff;
        memcpy(want + n, "\x00\x00\xea\x60", 4), n += 4; /* 60000 */
        if (ver >= 3) {
            memset(want + n, 0xff, 10);       /* ProducerId -1, ProducerEpoch -1 */
            n += 10;
        }
        if (flex)
            want[n++] = 0x00;
        want[3] = (uint8_t)(n - 4);
        kp_wbuf_init(&w, 0);
        kp_initpid_req(&w, ver, 1, "kp", NULL, 60000, -1, -1);
        if (!CHECK_EQ_MEM(w.p, w.len, want, n))
            fprintf(stderr, "    InitProducerId request v%d\n", ver);
        kp_wbuf_free(&w);
    }
    /* v4, written out, with a transactional id and a producer to resume */
    {
        static const uint8_t v4[] = {
            0x00, 0x00, 0x00, 0x1f, 0x00, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x02, 'k', 'p', 0x00,
            0x03, 't', 'x',                                 /* TransactionalId */
            0x00, 0x00, 0xea, 0x60,                         /* TransactionTimeoutMs */
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xa0, /* ProducerId 4000 */
            0x00, 0x02,                                     /* ProducerEpoch 2 */
            0x00,
        };
        kp_wbuf_t w;

        kp_wbuf_init(&w, 0);
        kp_initpid_req(&w, 4, 1, "kp", "tx", 60000, 4000, 2);
        CHECK_WBUF(w, v4);
        kp_wbuf_free(&w);
    }
}

static void test_initpid_response_all_versions(void)
{
    for (int16_t ver = 0; ver <= 5; ver++) {
        int flex = ver >= 2;
        bb_t b = {{0}, 0, 0};
        kp_initpid_resp_t res;
        kp_rbuf_t r;

        bb_i32(&b, 3);
        if (flex)
            bb_uv(&b, 0);
        bb_i32(&b, 0), bb_i16(&b, 0), bb_i64(&b, 4000), bb_i16(&b, 2);
        if (flex) /* an unknown tagged field */
            bb_uv(&b, 1), bb_uv(&b, 4), bb_uv(&b, 1), bb_i8(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_INIT_PRODUCER_ID, ver), 3);
        size_t body = r.off;
        if (!CHECK_EQ_INT(kp_initpid_resp(&r, ver, &res), 0))
            continue;
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(res.err, 0);
        CHECK_EQ_INT(res.pid, 4000);
        CHECK_EQ_INT(res.epoch, 2);
        for (size_t n = body; n < b.n; n++) {
            kp_rbuf_init(&r, b.p, n, 0);
            (void)kp_proto_resp_header(&r, KP_API_INIT_PRODUCER_ID, ver);
            if (!CHECK_EQ_INT(kp_initpid_resp(&r, ver, &res), -1))
                fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, b.n);
        }
    }
}

/* ---- Produce v9/v10 ------------------------------------------------------------------- */

/* v10's request is v9's (KIP-951 changed only the response), and so are
 * v11's and v12's (KIP-890: a new error code, transactions v2). */
static void test_produce_request_v10(void)
{
    kp_produce_builder_t pb;
    uint8_t v9[256], v10[256];
    struct iovec *iov;
    int niov = 0;
    size_t n9, n10;

    iov = build_produce(&pb, 9, NULL, &niov);
    REQUIRE_NOT_NULL(iov);
    n9 = flatten(iov, niov, v9, sizeof(v9));
    free(iov);
    kp_produce_builder_free(&pb);
    for (int16_t ver = 10; ver <= 12; ver++) {
        iov = build_produce(&pb, ver, NULL, &niov);
        REQUIRE_NOT_NULL(iov);
        n10 = flatten(iov, niov, v10, sizeof(v10));
        check_batches_referenced(iov, niov);
        free(iov);
        kp_produce_builder_free(&pb);
        REQUIRE_EQ_INT(n10, n9);
        CHECK_EQ_INT(v10[7], ver);
        v10[7] = 9;
        CHECK_EQ_MEM(v10, n10, v9, n9);
    }
}

/* TransactionalId as a compact string; a batch of 200 bytes has a
 * two-byte COMPACT_RECORDS length (201 = 0xc9 0x01). */
static void test_produce_request_v9_txn_and_long_batch(void)
{
    static const uint8_t head[] = {
        0x00, 0x00, 0x00, 0x00,             /* size, below */
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x05,
        0x00, 0x01, 'c', 0x00,
        0x03, 't', 'x',                     /* TransactionalId "tx" */
        0x00, 0x01,                         /* Acks 1 */
        0x00, 0x00, 0x03, 0xe8,             /* TimeoutMs 1000 */
        0x02,                               /* 1 topic */
        0x02, 't', 0x02,                    /* "t", 1 partition */
        0x00, 0x00, 0x00, 0x07,             /* partition 7 */
        0xc9, 0x01,                         /* 200 bytes follow */
    };
    static const uint8_t tail[] = {0x00, 0x00, 0x00}; /* partition, topic, request tags */
    uint8_t batch[200], got[512], want[512];
    kp_produce_builder_t pb;
    struct iovec *iov;
    int niov = 0, refs = 0;
    size_t len, n = 0;

    for (size_t i = 0; i < sizeof(batch); i++)
        batch[i] = (uint8_t)i;
    kp_produce_begin(&pb, 10, 5, "c", 1, 1000, "tx", 1);
    kp_produce_topic(&pb, "t", 1);
    kp_produce_partition(&pb, 7, batch, sizeof(batch));
    kp_produce_topic_end(&pb);
    iov = kp_produce_finish(&pb, &niov);
    REQUIRE_NOT_NULL(iov);
    for (int i = 0; i < niov; i++)
        refs += iov[i].iov_base == (void *)batch;
    CHECK_EQ_INT(refs, 1);
    len = flatten(iov, niov, got, sizeof(got));
    memcpy(want, head, sizeof(head)), n = sizeof(head);
    memcpy(want + n, batch, sizeof(batch)), n += sizeof(batch);
    memcpy(want + n, tail, sizeof(tail)), n += sizeof(tail);
    want[2] = (uint8_t)((n - 4) >> 8);
    want[3] = (uint8_t)(n - 4);
    CHECK_EQ_MEM(got, len, want, n);
    free(iov);
    kp_produce_builder_free(&pb);
}

/* A Produce response of any version 0..10, fields as ProduceResponse.json
 * says: LogAppendTimeMs 2+, LogStartOffset 5+, RecordErrors and
 * ErrorMessage 8+, ThrottleTimeMs 1+, flexible 9+, CurrentLeader
 * (partition tag 0) and NodeEndpoints (top-level tag 0) 10+. At v9 the
 * same tags are written: unknown there, they must be skipped. Unknown tags
 * beside them are skipped at every flexible version. */
static void produce_resp_all(bb_t *b, int ver)
{
    int flex = ver >= 9;
    bb_t v = {{0}, 0, 0};

    bb_arr(b, flex, 1);
    bb_s(b, flex, "a");
    bb_arr(b, flex, 3);
    /* partition 0: written at offset 100 */
    bb_i32(b, 0), bb_i16(b, 0), bb_i64(b, 100);
    if (ver >= 2)
        bb_i64(b, -1);
    if (ver >= 5)
        bb_i64(b, 10);
    if (ver >= 8)
        bb_arr(b, flex, 0), bb_s(b, flex, NULL);
    bb_notags(b, flex);
    /* partition 3: INVALID_RECORD, records 1 and 4 named (KIP-467) */
    bb_i32(b, 3), bb_i16(b, 87), bb_i64(b, -1);
    if (ver >= 2)
        bb_i64(b, 1700000000000LL);
    if (ver >= 5)
        bb_i64(b, -1);
    if (ver >= 8) {
        bb_arr(b, flex, 2);
        bb_i32(b, 1), bb_s(b, flex, "bad"), bb_notags(b, flex);
        bb_i32(b, 4), bb_s(b, flex, NULL), bb_notags(b, flex);
        bb_s(b, flex, "oops");
    }
    bb_notags(b, flex);
    /* partition 5: NOT_LEADER_OR_FOLLOWER, the new leader 4 at epoch 9 */
    bb_i32(b, 5), bb_i16(b, 6), bb_i64(b, -1);
    if (ver >= 2)
        bb_i64(b, -1);
    if (ver >= 5)
        bb_i64(b, -1);
    if (ver >= 8)
        bb_arr(b, flex, 0), bb_s(b, flex, "moved");
    if (flex) {
        bb_uv(b, 2);
        v.n = 0;
        bb_i32(&v, 4), bb_i32(&v, 9), bb_uv(&v, 0);
        bb_tag(b, 0, &v);
        v.n = 0;
        bb_i16(&v, 0x7777);
        bb_tag(b, 7, &v);
    }
    bb_notags(b, flex); /* topic */
    if (ver >= 1)
        bb_i32(b, 5); /* ThrottleTimeMs */
    if (flex) {
        bb_uv(b, 2);
        v.n = 0;
        bb_uv(&v, 2 + 1);
        bb_i32(&v, 4), bb_cstr(&v, "h4"), bb_i32(&v, 9094), bb_cstr(&v, "r1"), bb_uv(&v, 0);
        bb_i32(&v, 7), bb_cstr(&v, "host-7"), bb_i32(&v, 9097), bb_cstr(&v, NULL), bb_uv(&v, 0);
        bb_tag(b, 0, &v);
        v.n = 0;
        bb_i8(&v, 1);
        bb_tag(b, 3, &v);
    }
}

static void test_produce_response_v0_v10(void)
{
    for (int16_t ver = 0; ver <= 12; ver++) { /* 11 and 12: v10's format */
        bb_t b = {{0}, 0, 0};
        kp_produce_resp_t pr;
        kp_rbuf_t r;
        const kp_produce_presp_t *p0, *p3, *p5;

        bb_i32(&b, 77);
        if (ver >= 9)
            bb_uv(&b, 0); /* header v1 */
        produce_resp_all(&b, ver);
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_PRODUCE, ver), 77);
        if (!CHECK_EQ_INT(kp_produce_resp(&r, ver, &pr), 0)) {
            fprintf(stderr, "    Produce response v%d\n", ver);
            continue;
        }
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(pr.throttle_ms, ver >= 1 ? 5 : 0);
        if (!CHECK_EQ_INT(pr.ntopics, 1) || !CHECK_EQ_INT(pr.topics[0].nparts, 3)) {
            kp_produce_resp_free(&pr);
            continue;
        }
        CHECK_EQ_MEM(pr.topics[0].name, pr.topics[0].name_len, "a", 1);
        p0 = &pr.topics[0].parts[0];
        p3 = &pr.topics[0].parts[1];
        p5 = &pr.topics[0].parts[2];
        CHECK_EQ_INT(p0->partition, 0);
        CHECK_EQ_INT(p0->err, 0);
        CHECK_EQ_INT(p0->base_offset, 100);
        CHECK_EQ_INT(p0->log_append_time, -1);
        CHECK_EQ_INT(p0->log_start_offset, ver >= 5 ? 10 : -1);
        CHECK_EQ_INT(p0->nrecord_errors, 0);
        CHECK_NULL(p0->record_errors);
        CHECK_EQ_INT(p0->error_message_len, -1);
        CHECK_NULL(p0->error_message);
        CHECK_EQ_INT(p0->leader_id, -1);
        CHECK_EQ_INT(p0->leader_epoch, -1);

        CHECK_EQ_INT(p3->partition, 3);
        CHECK_EQ_INT(p3->err, 87);
        CHECK_EQ_INT(p3->log_append_time, ver >= 2 ? 1700000000000LL : -1);
        if (ver >= 8) {
            if (CHECK_EQ_INT(p3->nrecord_errors, 2)) {
                CHECK_EQ_INT(p3->record_errors[0].batch_index, 1);
                CHECK_EQ_MEM(p3->record_errors[0].msg, p3->record_errors[0].msg_len, "bad", 3);
                CHECK_EQ_INT(p3->record_errors[1].batch_index, 4);
                CHECK_EQ_INT(p3->record_errors[1].msg_len, -1);
                CHECK_NULL(p3->record_errors[1].msg);
            }
            CHECK_EQ_MEM(p3->error_message, p3->error_message_len, "oops", 4);
            CHECK_EQ_MEM(p5->error_message, p5->error_message_len, "moved", 5);
        } else {
            CHECK_EQ_INT(p3->nrecord_errors, 0);
            CHECK_EQ_INT(p3->error_message_len, -1);
        }
        CHECK_EQ_INT(p3->leader_id, -1);

        CHECK_EQ_INT(p5->partition, 5);
        CHECK_EQ_INT(p5->err, 6);
        /* KIP-951: only from v10; v9 skips the same tag as unknown */
        CHECK_EQ_INT(p5->leader_id, ver >= 10 ? 4 : -1);
        CHECK_EQ_INT(p5->leader_epoch, ver >= 10 ? 9 : -1);
        if (ver >= 10 && CHECK_EQ_INT(pr.nnodes, 2)) {
            const kp_produce_node_t *n4 = kp_produce_resp_node(&pr, 4);
            const kp_produce_node_t *n7 = kp_produce_resp_node(&pr, 7);
            CHECK_NULL(kp_produce_resp_node(&pr, 5));
            if (CHECK_NOT_NULL(n4)) {
                CHECK_EQ_MEM(n4->host, n4->host_len, "h4", 2);
                CHECK_EQ_INT(n4->port, 9094);
                CHECK_EQ_MEM(n4->rack, n4->rack_len, "r1", 2);
            }
            if (CHECK_NOT_NULL(n7)) {
                CHECK_EQ_MEM(n7->host, n7->host_len, "host-7", 6);
                CHECK_EQ_INT(n7->port, 9097);
                CHECK_EQ_INT(n7->rack_len, -1);
                CHECK_NULL(n7->rack);
            }
        } else {
            CHECK_EQ_INT(pr.nnodes, 0);
            CHECK_NULL(pr.nodes);
        }
        kp_produce_resp_free(&pr);
        CHECK_EQ_INT(pr.ntopics, 0);
        CHECK_NULL(pr.topics);
        CHECK_EQ_INT(pr.nnodes, 0);
        CHECK_NULL(pr.nodes);
    }
}

/* Every truncation of every version: -1, nothing left allocated (LSan),
 * pr emptied, no read past the end (ASan: exact-size copies). */
static void test_produce_response_v0_v10_truncated(void)
{
    for (int16_t ver = 0; ver <= 12; ver++) {
        bb_t full = {{0}, 0, 0};

        produce_resp_all(&full, ver);
        for (size_t n = 0; n < full.n; n++) {
            uint8_t *p = malloc(n ? n : 1);
            kp_produce_resp_t pr;
            kp_rbuf_t r;

            REQUIRE_NOT_NULL(p);
            memcpy(p, full.p, n);
            kp_rbuf_init(&r, p, n, 0);
            memset(&pr, 0x5a, sizeof(pr));
            if (!CHECK_EQ_INT(kp_produce_resp(&r, ver, &pr), -1)) {
                fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, full.n);
                kp_produce_resp_free(&pr);
            } else {
                CHECK_EQ_INT(pr.ntopics, 0);
                CHECK_NULL(pr.topics);
                CHECK_EQ_INT(pr.nnodes, 0);
                CHECK_NULL(pr.nodes);
            }
            CHECK_LE_INT(r.off, n);
            free(p);
        }
    }
}

/* Hostile tag contents in v10: a field that does not fit its own size, a
 * repeated tag, absurd counts inside a field, a null host. */
static void test_produce_response_v10_malformed_tags(void)
{
    enum { CL_SHORT, CL_TWICE, NE_ABSURD, NE_NULL_HOST, NE_TWICE, NE_SHORT, NCASES };

    for (int c = 0; c < NCASES; c++) {
        bb_t b = {{0}, 0, 0}, v = {{0}, 0, 0};
        kp_produce_resp_t pr;
        kp_rbuf_t r;

        bb_uv(&b, 2), bb_cstr(&b, "a"), bb_uv(&b, 2);
        bb_i32(&b, 0), bb_i16(&b, 6), bb_i64(&b, -1), bb_i64(&b, -1), bb_i64(&b, -1);
        bb_uv(&b, 1), bb_cstr(&b, NULL);
        if (c == CL_SHORT) { /* CurrentLeader of 6 bytes: LeaderEpoch cut */
            bb_uv(&b, 1);
            bb_i32(&v, 4), bb_i16(&v, 0);
            bb_tag(&b, 0, &v);
        } else if (c == CL_TWICE) {
            bb_uv(&b, 2);
            bb_i32(&v, 4), bb_i32(&v, 9), bb_uv(&v, 0);
            bb_tag(&b, 0, &v);
            bb_tag(&b, 0, &v);
        } else {
            bb_uv(&b, 0);
        }
        bb_uv(&b, 0);
        bb_i32(&b, 0);
        v.n = 0;
        if (c == NE_ABSURD) {
            bb_uv(&b, 1);
            bb_uv(&v, 0x7ffffff0);
            bb_raw(&v, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
            bb_tag(&b, 0, &v);
        } else if (c == NE_NULL_HOST) {
            bb_uv(&b, 1);
            bb_uv(&v, 2), bb_i32(&v, 4), bb_cstr(&v, NULL), bb_i32(&v, 1), bb_cstr(&v, NULL),
                bb_uv(&v, 0);
            bb_tag(&b, 0, &v);
        } else if (c == NE_TWICE || c == NE_SHORT) {
            bb_uv(&b, c == NE_TWICE ? 2 : 1);
            bb_uv(&v, 2), bb_i32(&v, 4), bb_cstr(&v, "h"), bb_i32(&v, 1), bb_cstr(&v, NULL),
                bb_uv(&v, 0);
            if (c == NE_SHORT)
                v.n -= 2; /* the value ends inside the entry */
            bb_tag(&b, 0, &v);
            if (c == NE_TWICE)
                bb_tag(&b, 0, &v);
        } else {
            bb_uv(&b, 0);
        }
        kp_rbuf_init(&r, b.p, b.n, 0);
        if (!CHECK_EQ_INT(kp_produce_resp(&r, 10, &pr), -1))
            fprintf(stderr, "    case %d\n", c);
        CHECK_NULL(pr.topics);
        CHECK_NULL(pr.nodes);
    }
}

/* ---- Kafka's UNKNOWN_SERVER_ERROR (-1) --------------------------------------------- */

/* Issue 10, defect 8: the broker's -1 decoded as kprod's own -1 (_UNKNOWN,
 * "Unexpected internal error"). Every decoder maps it to
 * KP_ERR_UNKNOWN_SERVER_ERROR, named as Java names it. */
static void check_unknown_server_error(int code, const char *what, int ver)
{
    if (!CHECK_EQ_ERR(code, KP_ERR_UNKNOWN_SERVER_ERROR))
        fprintf(stderr, "    %s v%d\n", what, ver);
    CHECK_EQ_STR(kp_err_name((kp_err_t)code), "UNKNOWN_SERVER_ERROR");
}

static void test_unknown_server_error_decoded(void)
{
    /* Produce: partition ErrorCode -1 */
    for (int16_t ver = 3; ver <= 8; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_produce_resp_t pr;
        kp_rbuf_t r;

        bb_i32(&b, 1);
        bb_str(&b, "a");
        bb_i32(&b, 1);
        bb_i32(&b, 0), bb_i16(&b, -1), bb_i64(&b, -1);
        bb_i64(&b, -1);
        if (ver >= 5)
            bb_i64(&b, -1);
        if (ver >= 8)
            bb_i32(&b, 0), bb_str(&b, "boom");
        bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        if (!CHECK_EQ_INT(kp_produce_resp(&r, ver, &pr), 0))
            continue;
        if (CHECK_EQ_INT(pr.ntopics, 1) && CHECK_EQ_INT(pr.topics[0].nparts, 1))
            check_unknown_server_error(pr.topics[0].parts[0].err, "Produce", ver);
        kp_produce_resp_free(&pr);
    }

    /* Metadata v1: topic ErrorCode -1, and a partition's */
    {
        bb_t b = {{0}, 0, 0};
        kp_md_resp_t m;
        kp_rbuf_t r;

        bb_i32(&b, 1);
        bb_i32(&b, 1), bb_str(&b, "h1"), bb_i32(&b, 9092), bb_str(&b, NULL);
        bb_i32(&b, 1);
        bb_i32(&b, 2);
        bb_i16(&b, -1), bb_str(&b, "broken"), bb_i8(&b, 0), bb_i32(&b, 0);
        bb_i16(&b, 0), bb_str(&b, "t1"), bb_i8(&b, 0);
        bb_i32(&b, 1);
        bb_i16(&b, -1), bb_i32(&b, 0), bb_i32(&b, 1), bb_i32(&b, 0), bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        if (CHECK_EQ_INT(kp_metadata_resp(&r, 1, &m), 0)) {
            if (CHECK_EQ_INT(m.ntopics, 2)) {
                check_unknown_server_error(m.topics[0].err, "Metadata topic", 1);
                CHECK_EQ_INT(m.topics[1].err, 0);
                if (CHECK_EQ_INT(m.topics[1].npartitions, 1))
                    check_unknown_server_error(m.topics[1].partitions[0].err,
                                               "Metadata partition", 1);
            }
            kp_metadata_resp_free(&m);
        }
    }

    /* InitProducerId v0..v1 */
    for (int16_t ver = 0; ver <= 1; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_initpid_resp_t res;
        kp_rbuf_t r;

        bb_i32(&b, 0), bb_i16(&b, -1), bb_i64(&b, -1), bb_i16(&b, -1);
        kp_rbuf_init(&r, b.p, b.n, 0);
        if (CHECK_EQ_INT(kp_initpid_resp(&r, ver, &res), 0))
            check_unknown_server_error(res.err, "InitProducerId", ver);
    }

    /* ApiVersions: the broker's -1 is no longer the decoder's "malformed" */
    for (int16_t ver = 0; ver <= 2; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_api_range_t ranges[KP_API_COUNT];
        kp_rbuf_t r;

        bb_i16(&b, -1);
        bb_i32(&b, 0);
        kp_rbuf_init(&r, b.p, b.n, 0);
        check_unknown_server_error(kp_apiversions_resp(&r, ver, ranges, NULL), "ApiVersions", ver);
    }
}

/* ---- requests that cannot be encoded (issue 10, defect 3) --------------------------- */

/* A topic name or client.id over 32,767 bytes was written with a wrapped
 * int16 length, and the broker misread the whole request. Now the request
 * fails to build (w.err set: kp_req_seal refuses it; kp_produce_finish
 * returns NULL); 32,767 bytes still build. */
static void test_requests_with_oversized_strings(void)
{
    enum { MAXS = 32767 };
    char *s = malloc(MAXS + 2);
    const char *topics[1];
    kp_wbuf_t w;

    REQUIRE_NOT_NULL(s);
    memset(s, 't', MAXS + 1);
    s[MAXS + 1] = 0; /* 32,768 bytes */
    for (int len = MAXS; len <= MAXS + 1; len++) {
        int bad = len > MAXS;
        s[len] = 0;
        topics[0] = s;

        /* client.id in the request header */
        kp_wbuf_init(&w, 0);
        kp_apiversions_req(&w, 2, 1, s);
        CHECK_EQ_INT(w.err, bad);
        if (!bad) /* Size covers header (2+2+4+2+len) */
            CHECK_EQ_U64(kp_get_be32(w.p), 10 + (uint64_t)len);
        kp_wbuf_free(&w);

        /* a topic in a Metadata request, classic and flexible */
        for (int16_t ver = 1; ver <= 9; ver += 8) {
            kp_wbuf_init(&w, 0);
            kp_metadata_req(&w, ver, 1, "kp", topics, 1, 1);
            if (!CHECK_EQ_INT(w.err, bad))
                fprintf(stderr, "    Metadata v%d, topic of %d bytes\n", ver, len);
            kp_wbuf_free(&w);
        }

        /* InitProducerId's transactional id */
        kp_wbuf_init(&w, 0);
        kp_initpid_req(&w, 0, 1, "kp", s, 60000, -1, -1);
        CHECK_EQ_INT(w.err, bad);
        kp_wbuf_free(&w);

        /* Produce: the topic, the client id, the transactional id */
        for (int which = 0; which < 3; which++) {
            static const uint8_t batch[4] = {1, 2, 3, 4};
            kp_produce_builder_t pb;
            struct iovec *iov;
            int niov = 0;

            kp_produce_begin(&pb, 8, 1, which == 1 ? s : "kp", 1, 1000, which == 2 ? s : NULL,
                             1);
            kp_produce_topic(&pb, which == 0 ? s : "t", 1);
            kp_produce_partition(&pb, 0, batch, sizeof(batch));
            kp_produce_topic_end(&pb);
            iov = kp_produce_finish(&pb, &niov);
            if (bad)
                CHECK_NULL(iov);
            else
                CHECK_NOT_NULL(iov);
            free(iov);
            kp_produce_builder_free(&pb);
        }
        s[len] = 't';
    }
    free(s);
}

/* A batch length or a request size that an int32 cannot hold fails the
 * Produce request instead of wrapping. The builder references batches
 * without reading them, so no gigabytes are needed: the lengths are what
 * is checked. */
static void test_produce_request_oversized(void)
{
    static const uint8_t batch[4] = {0};
    kp_produce_builder_t pb;
    struct iovec *iov;
    int niov = 0;

    /* one batch over INT32_MAX bytes */
    kp_produce_begin(&pb, 8, 1, "kp", 1, 1000, NULL, 1);
    kp_produce_topic(&pb, "t", 1);
    kp_produce_partition(&pb, 0, batch, (size_t)INT32_MAX + 1);
    kp_produce_topic_end(&pb);
    iov = kp_produce_finish(&pb, &niov);
    CHECK_NULL(iov);
    free(iov);
    kp_produce_builder_free(&pb);

    /* two batches that fit alone, not together: the Size field would wrap */
    kp_produce_begin(&pb, 8, 1, "kp", 1, 1000, NULL, 1);
    kp_produce_topic(&pb, "t", 2);
    kp_produce_partition(&pb, 0, batch, (size_t)1 << 30);
    kp_produce_partition(&pb, 1, batch, (size_t)1 << 30);
    kp_produce_topic_end(&pb);
    iov = kp_produce_finish(&pb, &niov);
    CHECK_NULL(iov);
    free(iov);
    kp_produce_builder_free(&pb);

    /* just under: 2 GiB - 1 in all still builds */
    kp_produce_begin(&pb, 8, 1, "kp", 1, 1000, NULL, 1);
    kp_produce_topic(&pb, "t", 1);
    kp_produce_partition(&pb, 0, batch, (size_t)INT32_MAX - 64);
    kp_produce_topic_end(&pb);
    iov = kp_produce_finish(&pb, &niov);
    if (CHECK_NOT_NULL(iov))
        CHECK_EQ_U64(kp_get_be32(iov[0].iov_base), pb.w.len - 4 + (uint64_t)INT32_MAX - 64);
    free(iov);
    kp_produce_builder_free(&pb);
}

/* ---- SaslHandshake (17) and SaslAuthenticate (36), issue 13 ----------------------------- */

static void test_sasl_versions(void)
{
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_SASL_HANDSHAKE), 0);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_SASL_HANDSHAKE), 1);
    CHECK_EQ_INT(kp_proto_our_min(KP_API_SASL_HANDSHAKE), 1); /* v0: raw tokens, not done */
    CHECK_EQ_INT(kp_proto_our_max(KP_API_SASL_HANDSHAKE), 1);
    CHECK_EQ_INT(kp_proto_codec_min(KP_API_SASL_AUTHENTICATE), 0);
    CHECK_EQ_INT(kp_proto_codec_max(KP_API_SASL_AUTHENTICATE), 2);
    CHECK_EQ_INT(kp_proto_our_min(KP_API_SASL_AUTHENTICATE), 0);
    CHECK_EQ_INT(kp_proto_our_max(KP_API_SASL_AUTHENTICATE), 2);
    CHECK(!kp_proto_is_flexible(KP_API_SASL_HANDSHAKE, 1));
    CHECK(!kp_proto_is_flexible(KP_API_SASL_AUTHENTICATE, 1));
    CHECK(kp_proto_is_flexible(KP_API_SASL_AUTHENTICATE, 2));
    /* a broker offering only v0 of SaslHandshake (before Kafka 1.0) is not used */
    CHECK_EQ_INT(kp_proto_pick(KP_API_SASL_HANDSHAKE, 0, 0), -1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_SASL_HANDSHAKE, 0, 1), 1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_SASL_AUTHENTICATE, 0, 1), 1);
    CHECK_EQ_INT(kp_proto_pick(KP_API_SASL_AUTHENTICATE, 0, 2), 2);
}

static void test_sasl_handshake_request(void)
{
    for (int16_t ver = 0; ver <= 1; ver++) {
        uint8_t want[] = {0x00, 0x00, 0x00, 0x13, 0x00, 0x11, 0x00, (uint8_t)ver,
                          0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 'k',  'p',
                          0x00, 0x05, 'P',  'L',  'A',  'I',  'N'};
        kp_wbuf_t w;
        kp_wbuf_init(&w, 0);
        kp_sasl_handshake_req(&w, ver, 1, "kp", "PLAIN");
        CHECK_EQ_INT(w.err, 0);
        CHECK_WBUF(w, want);
        kp_wbuf_free(&w);
    }
    kp_wbuf_t w;
    for (int16_t ver = -1; ver <= 3; ver += 3) { /* -1 and 2: outside the codecs */
        kp_wbuf_init(&w, 0);
        kp_sasl_handshake_req(&w, ver, 1, "kp", "PLAIN");
        CHECK_EQ_INT(w.err, 1);
        kp_wbuf_free(&w);
    }
    kp_wbuf_init(&w, 0);
    kp_sasl_handshake_req(&w, 1, 1, "kp", NULL);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

static void test_sasl_handshake_response(void)
{
    for (int16_t ver = 0; ver <= 1; ver++) {
        bb_t b = {{0}, 0, 0};
        kp_sasl_handshake_resp_t hs;
        kp_rbuf_t r;

        bb_i32(&b, 5); /* correlation id: header v0 */
        bb_i16(&b, 33); /* UNSUPPORTED_SASL_MECHANISM */
        bb_i32(&b, 2), bb_str(&b, "PLAIN"), bb_str(&b, "SCRAM-SHA-256");
        kp_rbuf_init(&r, b.p, b.n, 0);
        CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_SASL_HANDSHAKE, ver), 5);
        size_t body = r.off;
        if (!CHECK_EQ_INT(kp_sasl_handshake_resp(&r, ver, &hs), 0))
            continue;
        CHECK_EQ_INT(r.off, b.n);
        CHECK_EQ_INT(hs.err, 33);
        if (CHECK_EQ_INT(hs.nmechs, 2)) {
            CHECK_EQ_MEM(hs.mechs[0].s, (size_t)hs.mechs[0].len, "PLAIN", 5);
            CHECK_EQ_MEM(hs.mechs[1].s, (size_t)hs.mechs[1].len, "SCRAM-SHA-256", 13);
        }
        kp_sasl_handshake_resp_free(&hs);
        for (size_t n = body; n < b.n; n++) { /* every truncation */
            kp_rbuf_init(&r, b.p + body, n - body, 0);
            if (!CHECK_EQ_INT(kp_sasl_handshake_resp(&r, ver, &hs), -1))
                kp_sasl_handshake_resp_free(&hs);
            CHECK_NULL(hs.mechs);
            CHECK_EQ_INT(hs.nmechs, 0);
        }
    }
    /* success with none; a null mechanism; a count the frame cannot hold;
     * a version beyond the codecs; the broker's -1 */
    static const struct {
        uint8_t p[16];
        size_t n;
        int16_t ver;
        int rc;
    } cases[] = {
        {{0, 0, 0, 0, 0, 0}, 6, 1, 0},
        {{0, 0, 0, 0, 0, 0}, 6, 2, -1},
        {{0, 0, 0, 0, 0, 1, 0xff, 0xff}, 8, 1, -1},
        {{0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'A'}, 9, 1, -1},
        {{0, 0, 0xff, 0xff, 0xff, 0xff}, 6, 1, 0}, /* a null array: none */
        {{0xff, 0xff, 0, 0, 0, 0}, 6, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_sasl_handshake_resp_t hs;
        kp_rbuf_t r;
        kp_rbuf_init(&r, cases[i].p, cases[i].n, 0);
        if (!CHECK_EQ_INT(kp_sasl_handshake_resp(&r, cases[i].ver, &hs), cases[i].rc))
            fprintf(stderr, "    case %zu\n", i);
        CHECK_EQ_INT(hs.nmechs, 0);
        CHECK_NULL(hs.mechs);
        if (i == 5)
            check_unknown_server_error(hs.err, "SaslHandshake", 1);
        kp_sasl_handshake_resp_free(&hs);
    }
}

static void test_sasl_authenticate_request(void)
{
    static const uint8_t v0[] = {0x00, 0x00, 0x00, 0x13, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x02, 'k',  'p',  0x00, 0x00, 0x00, 0x03,
                                 'a',  0x00, 'c'};
    static const uint8_t v2[] = {0x00, 0x00, 0x00, 0x12, 0x00, 0x24, 0x00, 0x02, 0x00, 0x00,
                                 0x00, 0x01, 0x00, 0x02, 'k',  'p',
                                 0x00,                /* header tags */
                                 0x04, 'a',  0x00, 'c', /* compact bytes */
                                 0x00};               /* tags */
    kp_wbuf_t w;
    for (int16_t ver = 0; ver <= 1; ver++) {
        uint8_t want[sizeof(v0)];
        memcpy(want, v0, sizeof(v0));
        want[7] = (uint8_t)ver;
        kp_wbuf_init(&w, 0);
        kp_sasl_authenticate_req(&w, ver, 1, "kp", (const uint8_t *)"a\0c", 3);
        CHECK_WBUF(w, want);
        kp_wbuf_free(&w);
    }
    kp_wbuf_init(&w, 0);
    kp_sasl_authenticate_req(&w, 2, 1, "kp", (const uint8_t *)"a\0c", 3);
    CHECK_WBUF(w, v2);
    kp_wbuf_free(&w);
    /* empty AuthBytes (a client's answer to an OAUTHBEARER error is \x01;
     * empty is legal too) */
    static const uint8_t v2e[] = {0x00, 0x00, 0x00, 0x0f, 0x00, 0x24, 0x00, 0x02, 0x00, 0x00,
                                  0x00, 0x01, 0x00, 0x02, 'k',  'p',  0x00, 0x01, 0x00};
    kp_wbuf_init(&w, 0);
    kp_sasl_authenticate_req(&w, 2, 1, "kp", NULL, 0);
    CHECK_WBUF(w, v2e);
    kp_wbuf_free(&w);
    kp_wbuf_init(&w, 0);
    kp_sasl_authenticate_req(&w, 3, 1, "kp", (const uint8_t *)"x", 1);
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);
}

static void test_sasl_authenticate_response(void)
{
    for (int16_t ver = 0; ver <= 2; ver++) {
        int flex = ver >= 2;
        for (int failed = 0; failed <= 1; failed++) {
            bb_t b = {{0}, 0, 0};
            kp_sasl_authenticate_resp_t a;
            kp_rbuf_t r;
            const char *msg = "Authentication failed: Invalid username or password";

            bb_i32(&b, 9);
            if (flex)
                bb_uv(&b, 0); /* header v1 */
            bb_i16(&b, failed ? 58 : 0);
            if (flex)
                bb_cstr(&b, failed ? msg : NULL);
            else
                bb_str(&b, failed ? msg : NULL);
            if (flex)
                bb_uv(&b, failed ? 1 : 4);
            else
                bb_i32(&b, failed ? 0 : 3);
            if (!failed)
                bb_raw(&b, "v=x", 3);
            if (ver >= 1)
                bb_i64(&b, failed ? 0 : 3600000);
            if (flex) /* an unknown tagged field */
                bb_uv(&b, 1), bb_uv(&b, 7), bb_uv(&b, 2), bb_i16(&b, 0);
            kp_rbuf_init(&r, b.p, b.n, 0);
            CHECK_EQ_INT(kp_proto_resp_header(&r, KP_API_SASL_AUTHENTICATE, ver), 9);
            size_t body = r.off;
            if (!CHECK_EQ_INT(kp_sasl_authenticate_resp(&r, ver, &a), 0))
                continue;
            CHECK_EQ_INT(r.off, b.n);
            if (failed) {
                CHECK_EQ_INT(a.err, 58);
                CHECK_EQ_MEM(a.error_message, (size_t)a.error_message_len, msg, strlen(msg));
                CHECK_EQ_INT(a.auth_len, 0);
                CHECK_EQ_INT(a.session_lifetime_ms, 0);
            } else {
                CHECK_EQ_INT(a.err, 0);
                CHECK_NULL(a.error_message);
                CHECK_EQ_INT(a.error_message_len, -1);
                CHECK_EQ_MEM(a.auth_bytes, (size_t)a.auth_len, "v=x", 3);
                CHECK_EQ_INT(a.session_lifetime_ms, ver >= 1 ? 3600000 : 0);
            }
            for (size_t n = body; n < b.n; n++) {
                kp_rbuf_init(&r, b.p + body, n - body, flex);
                if (!CHECK_EQ_INT(kp_sasl_authenticate_resp(&r, ver, &a), -1))
                    fprintf(stderr, "    v%d truncated to %zu of %zu\n", ver, n, b.n);
                CHECK_EQ_INT(a.auth_len, 0);
                CHECK_NULL(a.auth_bytes);
            }
        }
    }
    /* null AuthBytes (not nullable), a version beyond the codecs, the broker's -1 */
    {
        static const uint8_t nullbytes[] = {0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        static const uint8_t ok[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
        kp_sasl_authenticate_resp_t a;
        kp_rbuf_t r;
        kp_rbuf_init(&r, nullbytes, sizeof(nullbytes), 0);
        CHECK_EQ_INT(kp_sasl_authenticate_resp(&r, 0, &a), -1);
        kp_rbuf_init(&r, ok, sizeof(ok), 0);
        CHECK_EQ_INT(kp_sasl_authenticate_resp(&r, 3, &a), -1);
        kp_rbuf_init(&r, ok, sizeof(ok), 0);
        if (CHECK_EQ_INT(kp_sasl_authenticate_resp(&r, 0, &a), 0))
            check_unknown_server_error(a.err, "SaslAuthenticate", 0);
    }
}

TEST_MAIN(TEST(test_version_ranges), TEST(test_pick), TEST(test_response_header),
          TEST(test_apiversions_request), TEST(test_apiversions_response),
          TEST(test_apiversions_unsupported_version), TEST(test_apiversions_response_flexible),
          TEST(test_apiversions_truncated), TEST(test_metadata_request_v1),
          TEST(test_metadata_request_v4), TEST(test_metadata_request_v8),
          TEST(test_metadata_request_v9), TEST(test_metadata_response_v1),
          TEST(test_metadata_response_v8), TEST(test_metadata_response_v9_flexible),
          TEST(test_metadata_response_all_versions), TEST(test_metadata_request_all_versions),
          TEST(test_metadata_response_truncated), TEST(test_metadata_response_malformed),
          TEST(test_produce_request_v3_v8), TEST(test_produce_request_transactional_id),
          TEST(test_produce_request_v9), TEST(test_produce_request_large_batch_not_copied),
          TEST(test_produce_response_v3_v8), TEST(test_produce_response_v9_flexible),
          TEST(test_produce_response_truncated), TEST(test_unknown_server_error_decoded),
          TEST(test_requests_with_oversized_strings), TEST(test_produce_request_oversized),
          TEST(test_codec_and_negotiated_ranges), TEST(test_pick_new_brokers),
          TEST(test_versions_outside_codecs), TEST(test_apiversions_request_v3_v4),
          TEST(test_apiversions_response_v3_v4),
          TEST(test_apiversions_unsupported_v0_form_to_flexible),
          TEST(test_apiversions_mock_2_15_malformed), TEST(test_apiversions_other_errors),
          TEST(test_metadata_request_v1_v12), TEST(test_metadata_request_v10_v12_literal),
          TEST(test_metadata_response_v0_v12), TEST(test_metadata_response_v9_v12_truncated),
          TEST(test_initpid_request_all_versions), TEST(test_initpid_response_all_versions),
          TEST(test_produce_request_v10), TEST(test_produce_request_v9_txn_and_long_batch),
          TEST(test_produce_response_v0_v10), TEST(test_produce_response_v0_v10_truncated),
          TEST(test_produce_response_v10_malformed_tags), TEST(test_sasl_versions),
          TEST(test_sasl_handshake_request), TEST(test_sasl_handshake_response),
          TEST(test_sasl_authenticate_request), TEST(test_sasl_authenticate_response))

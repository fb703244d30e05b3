/*
 * test_wire — buf.c's wire primitives: zigzag varints, big-endian integers,
 * classic vs compact (flexible, KIP-482) strings, bytes and arrays, tagged
 * field sections, and the read cursor's sticky error flag.
 *
 * Also UUIDs (16 raw bytes) and reading a tagged-field section field by
 * field (kp_r_tag_count / kp_r_tag: a cursor bounded by the field's size).
 *
 * Every expected byte sequence below is written out by hand from the
 * encoding rules (protobuf-style zigzag varints; Kafka's INT16/INT32
 * length prefixes; compact = unsigned varint of length + 1, 0 = null),
 * never produced by the code under test.
 */
#include "test.h"

#include "base/buf.h"

/* ---- helpers -------------------------------------------------------------- */

/* A write buffer holding exactly the bytes of one call, for comparison. */
#define WB_START(w, flexv)                                                                        \
    do {                                                                                          \
        kp_wbuf_init(&(w), 0);                                                                    \
        (w).flex = (flexv);                                                                       \
    } while (0)

/* ---- varints ---------------------------------------------------------------- */

typedef struct {
    int64_t v;
    uint8_t enc[10];
    size_t len;
} varint_vec_t;

static const varint_vec_t signed_vecs[] = {
    {0, {0x00}, 1},
    {-1, {0x01}, 1},
    {1, {0x02}, 1},
    {-2, {0x03}, 1},
    {2, {0x04}, 1},
    {63, {0x7e}, 1},
    {-64, {0x7f}, 1},
    {64, {0x80, 0x01}, 2},
    {-65, {0x81, 0x01}, 2},
    {8191, {0xfe, 0x7f}, 2},
    {-8192, {0xff, 0x7f}, 2},
    {8192, {0x80, 0x80, 0x01}, 3},
    {150, {0xac, 0x02}, 2}, /* zigzag(150) = 300 */
    {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
};

typedef struct {
    uint64_t v;
    uint8_t enc[10];
    size_t len;
} uvarint_vec_t;

static const uvarint_vec_t unsigned_vecs[] = {
    {0, {0x00}, 1},
    {1, {0x01}, 1},
    {127, {0x7f}, 1},
    {128, {0x80, 0x01}, 2},
    {300, {0xac, 0x02}, 2},
    {16383, {0xff, 0x7f}, 2},
    {16384, {0x80, 0x80, 0x01}, 3},
    {UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    {(uint64_t)1 << 63, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 10},
    {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
};

#define NVEC(a) (sizeof(a) / sizeof((a)[0]))

static void test_varint_vectors(void)
{
    for (size_t i = 0; i < NVEC(signed_vecs); i++) {
        const varint_vec_t *t = &signed_vecs[i];
        uint8_t out[16];
        kp_wbuf_t w;
        kp_rbuf_t r;

        memset(out, 0xee, sizeof(out));
        CHECK_EQ_INT(kp_varint_size(t->v), t->len);
        CHECK_EQ_INT(kp_put_varint(out, t->v), t->len);
        CHECK_EQ_MEM(out, t->len, t->enc, t->len);
        CHECK_EQ_INT(out[t->len], 0xee); /* nothing written past the end */

        WB_START(w, 0);
        kp_w_varint(&w, t->v);
        CHECK_EQ_INT(w.err, 0);
        CHECK_EQ_MEM(w.p, w.len, t->enc, t->len);
        kp_wbuf_free(&w);

        kp_rbuf_init(&r, t->enc, t->len, 0);
        CHECK_EQ_INT(kp_r_varint(&r), t->v);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.off, t->len);
    }
}

static void test_uvarint_vectors(void)
{
    for (size_t i = 0; i < NVEC(unsigned_vecs); i++) {
        const uvarint_vec_t *t = &unsigned_vecs[i];
        uint8_t out[16];
        kp_wbuf_t w;
        kp_rbuf_t r;

        memset(out, 0xee, sizeof(out));
        CHECK_EQ_INT(kp_uvarint_size(t->v), t->len);
        CHECK_EQ_INT(kp_put_uvarint(out, t->v), t->len);
        CHECK_EQ_MEM(out, t->len, t->enc, t->len);
        CHECK_EQ_INT(out[t->len], 0xee);

        WB_START(w, 1);
        kp_w_uvarint(&w, t->v);
        CHECK_EQ_MEM(w.p, w.len, t->enc, t->len);
        kp_wbuf_free(&w);

        kp_rbuf_init(&r, t->enc, t->len, 0);
        CHECK_EQ_U64(kp_r_uvarint(&r), t->v);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.off, t->len);
    }
}

/* Size boundaries: a zigzag varint of k bytes holds -2^(7k-1) .. 2^(7k-1)-1. */
static void test_varint_size_boundaries(void)
{
    for (int k = 1; k <= 9; k++) {
        int64_t lim = (int64_t)1 << (7 * k - 1);
        int64_t vals[4] = {lim - 1, -lim, lim, -lim - 1};
        size_t want[4] = {(size_t)k, (size_t)k, (size_t)k + 1, (size_t)k + 1};

        for (int j = 0; j < 4; j++) {
            uint8_t buf[10];
            kp_rbuf_t r;
            size_t n;

            CHECK_EQ_INT(kp_varint_size(vals[j]), want[j]);
            n = kp_put_varint(buf, vals[j]);
            CHECK_EQ_INT(n, want[j]);
            /* every byte but the last has the continuation bit */
            for (size_t b = 0; b + 1 < n; b++)
                CHECK(buf[b] & 0x80);
            CHECK_EQ_INT(buf[n - 1] & 0x80, 0);
            kp_rbuf_init(&r, buf, n, 0);
            CHECK_EQ_INT(kp_r_varint(&r), vals[j]);
            CHECK_EQ_INT(r.err, 0);
        }
        /* unsigned: k bytes hold 0 .. 2^(7k)-1 */
        CHECK_EQ_INT(kp_uvarint_size(((uint64_t)1 << (7 * k)) - 1), k);
        CHECK_EQ_INT(kp_uvarint_size((uint64_t)1 << (7 * k)), k + 1);
    }
    CHECK_EQ_INT(kp_varint_size(INT64_MAX), 10);
    CHECK_EQ_INT(kp_varint_size(INT64_MIN), 10);
    CHECK_EQ_INT(kp_uvarint_size(UINT64_MAX), 10);
}

/* A round trip through every writer for a spread of values. */
static void test_varint_round_trip(void)
{
    kp_wbuf_t w;
    kp_rbuf_t r;
    int64_t vals[200];
    size_t n = 0;

    for (int s = 0; s < 63; s++) {
        int64_t p = (int64_t)1 << s;
        vals[n++] = p;
        vals[n++] = -p;
        vals[n++] = p - 1;
    }
    vals[n++] = INT64_MAX;
    vals[n++] = INT64_MIN;
    vals[n++] = INT64_MIN + 1;

    WB_START(w, 0);
    for (size_t i = 0; i < n; i++)
        kp_w_varint(&w, vals[i]);
    REQUIRE(!w.err);
    kp_rbuf_init(&r, w.p, w.len, 0);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(kp_r_varint(&r), vals[i]);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);
    kp_wbuf_free(&w);
}

/* More than 10 bytes is not a 64-bit varint: malformed, not a wrap-around. */
static void test_varint_overlong(void)
{
    static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t unterminated[] = {0x80, 0x80, 0x80};
    kp_rbuf_t r;

    kp_rbuf_init(&r, eleven, sizeof(eleven), 0);
    (void)kp_r_uvarint(&r);
    CHECK_EQ_INT(r.err, 1);

    kp_rbuf_init(&r, eleven, sizeof(eleven), 0);
    (void)kp_r_varint(&r);
    CHECK_EQ_INT(r.err, 1);

    kp_rbuf_init(&r, unterminated, sizeof(unterminated), 0);
    CHECK_EQ_U64(kp_r_uvarint(&r), 0);
    CHECK_EQ_INT(r.err, 1);
}

/* ---- fixed-width integers ---------------------------------------------------- */

static void test_fixed_ints(void)
{
    static const uint8_t want[] = {
        0x80,                                           /* i8 -128 */
        0x01, 0x02,                                     /* i16 0x0102 */
        0xff, 0xfe,                                     /* i16 -2 */
        0x01, 0x02, 0x03, 0x04,                         /* i32 0x01020304 */
        0x80, 0x00, 0x00, 0x00,                         /* i32 INT32_MIN */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* i64 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i64 -1 */
    };
    kp_wbuf_t w;
    kp_rbuf_t r;

    WB_START(w, 0);
    kp_w_i8(&w, -128);
    kp_w_i16(&w, 0x0102);
    kp_w_i16(&w, -2);
    kp_w_i32(&w, 0x01020304);
    kp_w_i32(&w, INT32_MIN);
    kp_w_i64(&w, 0x0102030405060708LL);
    kp_w_i64(&w, -1);
    CHECK_EQ_INT(w.err, 0);
    CHECK_EQ_MEM(w.p, w.len, want, sizeof(want));
    kp_wbuf_free(&w);

    kp_rbuf_init(&r, want, sizeof(want), 0);
    CHECK_EQ_INT(kp_r_i8(&r), -128);
    CHECK_EQ_INT(kp_r_i16(&r), 0x0102);
    CHECK_EQ_INT(kp_r_i16(&r), -2);
    CHECK_EQ_INT(kp_r_i32(&r), 0x01020304);
    CHECK_EQ_INT(kp_r_i32(&r), INT32_MIN);
    CHECK_EQ_INT(kp_r_i64(&r), 0x0102030405060708LL);
    CHECK_EQ_INT(kp_r_i64(&r), -1);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);
}

static void test_wbuf_growth_and_patch(void)
{
    kp_wbuf_t w;

    kp_wbuf_init(&w, 1);
    REQUIRE(!w.err);
    for (int i = 0; i < 5000; i++)
        kp_w_i8(&w, (int8_t)(i & 0x7f));
    CHECK_EQ_INT(w.err, 0);
    REQUIRE_EQ_INT(w.len, 5000);
    CHECK_GE_INT(w.cap, w.len);
    for (int i = 0; i < 5000; i++)
        if (w.p[i] != (uint8_t)(i & 0x7f)) {
            FAIL("byte %d is 0x%02x", i, w.p[i]);
            break;
        }
    kp_wbuf_put_i32(&w, 10, -2);
    CHECK_EQ_INT(w.p[10], 0xff);
    CHECK_EQ_INT(w.p[11], 0xff);
    CHECK_EQ_INT(w.p[12], 0xff);
    CHECK_EQ_INT(w.p[13], 0xfe);
    CHECK_EQ_INT(w.p[14], 14);
    /* a patch that would run past the written bytes is ignored */
    kp_wbuf_put_i32(&w, 4998, 0x01010101);
    CHECK_EQ_INT(w.p[4998], (4998 & 0x7f));
    CHECK_EQ_INT(w.len, 5000);
    kp_wbuf_free(&w);
    CHECK_NULL(w.p);
    CHECK_EQ_INT(w.len, 0);

    /* raw bytes of length 0 are fine on an empty buffer */
    kp_wbuf_init(&w, 0);
    kp_w_bytes_raw(&w, "", 0);
    CHECK_EQ_INT(w.err, 0);
    CHECK_EQ_INT(w.len, 0);
    kp_wbuf_free(&w);
}

/* ---- strings ------------------------------------------------------------------ */

static void test_strings_classic(void)
{
    static const uint8_t want[] = {
        0x00, 0x03, 'a', 'b', 'c', /* "abc" */
        0xff, 0xff,                /* null */
        0x00, 0x00,                /* "" */
        0x00, 0x02, 'x', 'y',      /* strn("xyz", 2) */
    };
    kp_wbuf_t w;
    kp_rbuf_t r;
    const char *s;

    WB_START(w, 0);
    kp_w_str(&w, "abc");
    kp_w_str(&w, NULL);
    kp_w_str(&w, "");
    kp_w_strn(&w, "xyz", 2);
    CHECK_EQ_MEM(w.p, w.len, want, sizeof(want));
    kp_wbuf_free(&w);

    kp_rbuf_init(&r, want, sizeof(want), 0);
    CHECK_EQ_INT(kp_r_str(&r, &s), 3);
    CHECK_EQ_MEM(s, 3, "abc", 3);
    CHECK(s == (const char *)want + 2); /* points into the buffer, no copy */
    s = "sentinel";
    CHECK_EQ_INT(kp_r_str(&r, &s), -1);
    CHECK_NULL(s);
    CHECK_EQ_INT(kp_r_str(&r, &s), 0);
    CHECK_NOT_NULL(s); /* empty is not null */
    CHECK_EQ_INT(kp_r_str(&r, &s), 2);
    CHECK_EQ_MEM(s, 2, "xy", 2);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);
}

static void test_strings_compact(void)
{
    static const uint8_t want[] = {
        0x04, 'a', 'b', 'c', /* "abc": length 3 + 1 */
        0x00,                /* null */
        0x01,                /* "" */
        0x03, 'x', 'y',      /* strn("xyz", 2) */
    };
    char longs[200];
    kp_wbuf_t w;
    kp_rbuf_t r;
    const char *s;

    WB_START(w, 1);
    kp_w_str(&w, "abc");
    kp_w_str(&w, NULL);
    kp_w_str(&w, "");
    kp_w_strn(&w, "xyz", 2);
    CHECK_EQ_MEM(w.p, w.len, want, sizeof(want));
    kp_wbuf_free(&w);

    kp_rbuf_init(&r, want, sizeof(want), 1);
    CHECK_EQ_INT(kp_r_str(&r, &s), 3);
    CHECK_EQ_MEM(s, 3, "abc", 3);
    CHECK_EQ_INT(kp_r_str(&r, &s), -1);
    CHECK_NULL(s);
    CHECK_EQ_INT(kp_r_str(&r, &s), 0);
    CHECK_NOT_NULL(s);
    CHECK_EQ_INT(kp_r_str(&r, &s), 2);
    CHECK_EQ_MEM(s, 2, "xy", 2);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);

    /* 130 bytes: compact length 131 = 0x83 0x01 as an unsigned varint */
    memset(longs, 'q', sizeof(longs));
    longs[130] = 0;
    WB_START(w, 1);
    kp_w_str(&w, longs);
    REQUIRE_EQ_INT(w.len, 132);
    CHECK_EQ_INT(w.p[0], 0x83);
    CHECK_EQ_INT(w.p[1], 0x01);
    CHECK_EQ_MEM(w.p + 2, 130, longs, 130);
    kp_rbuf_init(&r, w.p, w.len, 1);
    CHECK_EQ_INT(kp_r_str(&r, &s), 130);
    CHECK_EQ_INT(r.err, 0);
    kp_wbuf_free(&w);

    /* the same 130 bytes classic: int16 0x0082 */
    WB_START(w, 0);
    kp_w_str(&w, longs);
    REQUIRE_EQ_INT(w.len, 132);
    CHECK_EQ_INT(w.p[0], 0x00);
    CHECK_EQ_INT(w.p[1], 0x82);
    kp_wbuf_free(&w);
}

/* The flex flag is read at every call: one buffer can switch forms. */
static void test_flex_switch_per_call(void)
{
    static const uint8_t want[] = {0x00, 0x01, 'a', 0x02, 'b', 0x00, 0x00, 0x00, 0x01, 0x02};
    kp_wbuf_t w;

    WB_START(w, 0);
    kp_w_str(&w, "a");
    w.flex = 1;
    kp_w_str(&w, "b");
    w.flex = 0;
    kp_w_arraylen(&w, 1);
    w.flex = 1;
    kp_w_arraylen(&w, 1);
    CHECK_EQ_MEM(w.p, w.len, want, sizeof(want));
    kp_wbuf_free(&w);
}

/* ---- arrays and bytes -------------------------------------------------------- */

static void test_arrays(void)
{
    static const uint8_t classic[] = {
        0x00, 0x00, 0x00, 0x03, /* 3 */
        0xff, 0xff, 0xff, 0xff, /* null */
        0x00, 0x00, 0x00, 0x00, /* 0 */
    };
    static const uint8_t compact[] = {0x04, 0x00, 0x01, 0x81, 0x01}; /* 3, null, 0, 128 */
    kp_wbuf_t w;
    kp_rbuf_t r;

    WB_START(w, 0);
    kp_w_arraylen(&w, 3);
    kp_w_arraylen(&w, -1);
    kp_w_arraylen(&w, 0);
    CHECK_EQ_MEM(w.p, w.len, classic, sizeof(classic));
    kp_wbuf_free(&w);

    WB_START(w, 1);
    kp_w_arraylen(&w, 3);
    kp_w_arraylen(&w, -1);
    kp_w_arraylen(&w, 0);
    kp_w_arraylen(&w, 128);
    CHECK_EQ_MEM(w.p, w.len, compact, sizeof(compact));
    kp_wbuf_free(&w);

    kp_rbuf_init(&r, classic, sizeof(classic), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), 3);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), -1);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), 0);
    CHECK_EQ_INT(r.err, 0);

    kp_rbuf_init(&r, compact, sizeof(compact), 1);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), 3);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), -1);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), 128);
    CHECK_EQ_INT(r.err, 0);
}

static void test_bytes(void)
{
    static const uint8_t classic[] = {
        0x00, 0x00, 0x00, 0x02, 0xde, 0xad, /* 2 bytes */
        0xff, 0xff, 0xff, 0xff,             /* null */
        0x00, 0x00, 0x00, 0x00,             /* empty */
    };
    static const uint8_t compact[] = {0x03, 0xde, 0xad, 0x00, 0x01};
    kp_wbuf_t w;
    kp_rbuf_t r;
    const uint8_t *p;

    WB_START(w, 0);
    kp_w_byteslen(&w, 2);
    kp_w_bytes_raw(&w, "\xde\xad", 2);
    kp_w_byteslen(&w, -1);
    kp_w_byteslen(&w, 0);
    CHECK_EQ_MEM(w.p, w.len, classic, sizeof(classic));
    kp_wbuf_free(&w);

    WB_START(w, 1);
    kp_w_byteslen(&w, 2);
    kp_w_bytes_raw(&w, "\xde\xad", 2);
    kp_w_byteslen(&w, -1);
    kp_w_byteslen(&w, 0);
    CHECK_EQ_MEM(w.p, w.len, compact, sizeof(compact));
    kp_wbuf_free(&w);

    kp_rbuf_init(&r, classic, sizeof(classic), 0);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), 2);
    CHECK(p == classic + 4);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), -1);
    CHECK_NULL(p);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), 0);
    CHECK_NOT_NULL(p);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);

    kp_rbuf_init(&r, compact, sizeof(compact), 1);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), 2);
    CHECK(p == compact + 1);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), -1);
    CHECK_NULL(p);
    CHECK_EQ_INT(kp_r_bytes(&r, &p), 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);
}

/* ---- tagged fields --------------------------------------------------------- */

static void test_tags_write(void)
{
    kp_wbuf_t w;

    WB_START(w, 0);
    kp_w_tags(&w);
    CHECK_EQ_INT(w.len, 0); /* classic versions have no tag section */
    kp_wbuf_free(&w);

    WB_START(w, 1);
    kp_w_tags(&w);
    CHECK_EQ_MEM(w.p, w.len, "\x00", 1);
    kp_wbuf_free(&w);
}

static void test_tags_skip(void)
{
    static const uint8_t tagged[] = {
        0x03,                   /* 3 tagged fields */
        0x00, 0x03, 1, 2, 3,    /* tag 0, 3 bytes */
        0x05, 0x00,             /* tag 5, empty */
        0xac, 0x02, 0x81, 0x01, /* tag 300, 129 bytes follow */
    };
    uint8_t buf[sizeof(tagged) + 129 + 1];
    kp_rbuf_t r;

    memcpy(buf, tagged, sizeof(tagged));
    memset(buf + sizeof(tagged), 0x55, 129);
    buf[sizeof(buf) - 1] = 0x7e; /* the field after the tag section */

    kp_rbuf_init(&r, buf, sizeof(buf), 1);
    kp_r_skip_tags(&r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.off, sizeof(buf) - 1);
    CHECK_EQ_INT(kp_r_i8(&r), 0x7e);

    /* empty section */
    kp_rbuf_init(&r, "\x00\x7e", 2, 1);
    kp_r_skip_tags(&r);
    CHECK_EQ_INT(r.off, 1);
    CHECK_EQ_INT(r.err, 0);

    /* classic: no tag section, nothing consumed */
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    kp_r_skip_tags(&r);
    CHECK_EQ_INT(r.off, 0);
    CHECK_EQ_INT(r.err, 0);

    /* every truncation of the section is an error */
    for (size_t n = 0; n < sizeof(buf) - 1; n++) {
        kp_rbuf_init(&r, buf, n, 1);
        kp_r_skip_tags(&r);
        if (!CHECK_EQ_INT(r.err, 1))
            fprintf(stderr, "    tag section truncated to %zu bytes\n", n);
    }

    /* a field size larger than the buffer */
    kp_rbuf_init(&r, "\x01\x00\xff\xff\xff\xff\x0f", 7, 1);
    kp_r_skip_tags(&r);
    CHECK_EQ_INT(r.err, 1);

    /* an absurd field count with nothing behind it */
    kp_rbuf_init(&r, "\xff\xff\xff\xff\x0f", 5, 1);
    kp_r_skip_tags(&r);
    CHECK_EQ_INT(r.err, 1);
}

/* Field by field: each known field's cursor covers exactly its value. */
static void test_tags_iterate(void)
{
    static const uint8_t tagged[] = {
        0x03,                         /* 3 tagged fields */
        0x00, 0x08, 0, 0, 0, 4, 0, 0, 0, 9, /* tag 0: two int32 */
        0x02, 0x00,                   /* tag 2, empty */
        0xac, 0x02, 0x02, 0xaa, 0xbb, /* tag 300, 2 bytes */
        0x7e,                         /* the field after the section */
    };
    kp_rbuf_t r, v;
    uint64_t tag;

    kp_rbuf_init(&r, tagged, sizeof(tagged), 1);
    REQUIRE_EQ_INT(kp_r_tag_count(&r), 3);
    REQUIRE_EQ_INT(kp_r_tag(&r, &tag, &v), 0);
    CHECK_EQ_U64(tag, 0);
    CHECK_EQ_INT(v.len, 8);
    CHECK_EQ_INT(v.flex, 1);
    CHECK_EQ_INT(kp_r_i32(&v), 4);
    CHECK_EQ_INT(kp_r_i32(&v), 9);
    CHECK_EQ_INT(v.err, 0);
    (void)kp_r_i8(&v); /* past the field: the field's cursor fails, not r */
    CHECK_EQ_INT(v.err, 1);
    CHECK_EQ_INT(r.err, 0);
    REQUIRE_EQ_INT(kp_r_tag(&r, &tag, &v), 0);
    CHECK_EQ_U64(tag, 2);
    CHECK_EQ_INT(v.len, 0);
    REQUIRE_EQ_INT(kp_r_tag(&r, &tag, &v), 0);
    CHECK_EQ_U64(tag, 300);
    CHECK_EQ_INT(kp_r_i16(&v), (int16_t)0xaabb);
    CHECK_EQ_INT(kp_r_i8(&r), 0x7e);
    CHECK_EQ_INT(r.err, 0);

    /* classic: no section */
    kp_rbuf_init(&r, tagged, sizeof(tagged), 0);
    CHECK_EQ_INT(kp_r_tag_count(&r), 0);
    CHECK_EQ_INT(r.off, 0);

    /* a count the bytes cannot hold (2 bytes per field at least) */
    kp_rbuf_init(&r, "\x03\x00\x00\x01\x00", 5, 1);
    CHECK_EQ_INT(kp_r_tag_count(&r), 0);
    CHECK_EQ_INT(r.err, 1);

    /* a size past the end */
    kp_rbuf_init(&r, "\x01\x00\x05\x01\x02", 5, 1);
    REQUIRE_EQ_INT(kp_r_tag_count(&r), 1);
    CHECK_EQ_INT(kp_r_tag(&r, &tag, &v), -1);
    CHECK_EQ_INT(r.err, 1);
    CHECK_EQ_INT(v.err, 1);
    CHECK_EQ_INT(kp_r_remaining(&v), 0);

    /* every truncation of the section fails somewhere, never reads past n */
    for (size_t n = 0; n < sizeof(tagged) - 1; n++) {
        kp_rbuf_init(&r, tagged, n, 1);
        uint64_t cnt = kp_r_tag_count(&r);
        for (uint64_t i = 0; i < cnt && !r.err; i++)
            (void)kp_r_tag(&r, &tag, &v);
        if (!CHECK_EQ_INT(r.err, 1))
            fprintf(stderr, "    tag section truncated to %zu bytes\n", n);
        CHECK_LE_INT(r.off, n);
    }
}

/* ---- UUIDs -------------------------------------------------------------------- */

static void test_uuid(void)
{
    static const uint8_t id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const uint8_t zero[16] = {0};
    uint8_t got[16];
    kp_wbuf_t w;
    kp_rbuf_t r;

    /* the same 16 bytes in both forms */
    for (int flex = 0; flex <= 1; flex++) {
        WB_START(w, flex);
        kp_w_uuid(&w, id);
        kp_w_uuid(&w, NULL); /* the zero UUID, "no id" */
        CHECK_EQ_INT(w.len, 32);
        CHECK_EQ_MEM(w.p, 16, id, 16);
        CHECK_EQ_MEM(w.p + 16, 16, zero, 16);
        kp_rbuf_init(&r, w.p, w.len, flex);
        kp_r_uuid(&r, got);
        CHECK_EQ_MEM(got, 16, id, 16);
        kp_r_uuid(&r, got);
        CHECK_EQ_MEM(got, 16, zero, 16);
        CHECK_EQ_INT(r.err, 0);
        kp_wbuf_free(&w);
    }
    /* truncated: error, zeroed */
    kp_rbuf_init(&r, id, 15, 1);
    memset(got, 0x5a, sizeof(got));
    kp_r_uuid(&r, got);
    CHECK_EQ_INT(r.err, 1);
    CHECK_EQ_MEM(got, 16, zero, 16);
}

/* ---- sticky errors and truncation -------------------------------------------- */

/* Encoding of a record-like sequence of fields, classic form. */
static const uint8_t seq_classic[] = {
    0x7f,                                           /* i8 127 */
    0x80, 0x01,                                     /* i16 -32767 */
    0xde, 0xad, 0xbe, 0xef,                         /* i32 */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* i64 1700000000000 */
    0x00, 0x02, 'h', 'i',                           /* string "hi" */
    0xff, 0xff,                                     /* null string */
    0x00, 0x00, 0x00, 0x03, 'x', 'y', 'z',          /* bytes "xyz" */
    0x00, 0x00, 0x00, 0x02,                         /* array of 2 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* int32 elements */
    0xac, 0x02,                                     /* uvarint 300 */
    0x81, 0x01,                                     /* varint -65 */
};

/* The same in flexible form, with tag sections. */
static const uint8_t seq_flex[] = {
    0x7f,
    0x80, 0x01,
    0xde, 0xad, 0xbe, 0xef,
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
    0x03, 'h', 'i',
    0x00,
    0x04, 'x', 'y', 'z',
    0x03,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0xac, 0x02,
    0x81, 0x01,
    0x01, 0x07, 0x02, 0xaa, 0xbb, /* one tagged field (tag 7, 2 bytes) */
};

/* Decode the sequence; returns 1 when every value read is right. */
static int decode_seq(kp_rbuf_t *r, int flex)
{
    const char *s, *ns;
    const uint8_t *b;
    int ok = 1;
    int8_t a = kp_r_i8(r);
    int16_t c = kp_r_i16(r);
    int32_t d = kp_r_i32(r);
    int64_t e = kp_r_i64(r);
    int32_t sl = kp_r_str(r, &s);
    int32_t nsl = kp_r_str(r, &ns);
    int32_t bl = kp_r_bytes(r, &b);
    int32_t al = kp_r_arraylen(r, 4);
    int32_t e0 = kp_r_i32(r), e1 = kp_r_i32(r);
    uint64_t u = kp_r_uvarint(r);
    int64_t v = kp_r_varint(r);

    if (flex)
        kp_r_skip_tags(r);
    ok &= a == 127 && c == -32767 && d == (int32_t)0xdeadbeef && e == 1700000000000LL;
    ok &= sl == 2 && s && !memcmp(s, "hi", 2) && nsl == -1 && !ns;
    ok &= bl == 3 && b && !memcmp(b, "xyz", 3);
    ok &= al == 2 && e0 == 1 && e1 == 2 && u == 300 && v == -65;
    return ok;
}

static void check_truncations(const uint8_t *enc, size_t len, int flex)
{
    kp_rbuf_t r;

    kp_rbuf_init(&r, enc, len, flex);
    CHECK(decode_seq(&r, flex));
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.off, len);

    for (size_t n = 0; n < len; n++) {
        kp_rbuf_init(&r, enc, n, flex);
        (void)decode_seq(&r, flex);
        if (!CHECK_EQ_INT(r.err, 1))
            fprintf(stderr, "    %s encoding truncated to %zu of %zu bytes\n",
                    flex ? "flexible" : "classic", n, len);
        CHECK_LE_INT(r.off, n); /* never ran past the end */
        CHECK_EQ_INT(kp_r_remaining(&r), 0);
    }
}

static void test_truncation_every_prefix_classic(void)
{
    check_truncations(seq_classic, sizeof(seq_classic), 0);
}

static void test_truncation_every_prefix_flex(void)
{
    check_truncations(seq_flex, sizeof(seq_flex), 1);
}

/* Once set, err stays set and nothing more is consumed, even when the bytes
 * are there. */
static void test_sticky_error(void)
{
    static const uint8_t four[] = {0x01, 0x02, 0x03, 0x04};
    kp_rbuf_t r;
    const char *s = "x";
    const uint8_t *b = four;

    kp_rbuf_init(&r, four, sizeof(four), 0);
    CHECK_EQ_INT(kp_r_i64(&r), 0); /* needs 8 of 4 */
    CHECK_EQ_INT(r.err, 1);
    CHECK_EQ_INT(r.off, 0);
    CHECK_EQ_INT(kp_r_remaining(&r), 0);
    CHECK_EQ_INT(kp_r_i8(&r), 0);
    CHECK_EQ_INT(kp_r_i16(&r), 0);
    CHECK_EQ_INT(kp_r_i32(&r), 0);
    CHECK_EQ_U64(kp_r_uvarint(&r), 0);
    CHECK_EQ_INT(kp_r_varint(&r), 0);
    CHECK_EQ_INT(kp_r_str(&r, &s), -1);
    CHECK_NULL(s);
    CHECK_EQ_INT(kp_r_bytes(&r, &b), -1);
    CHECK_NULL(b);
    CHECK_EQ_INT(kp_r_arraylen(&r, 1), -1);
    kp_r_skip(&r, 1);
    CHECK_EQ_INT(r.off, 0);
    CHECK_EQ_INT(r.err, 1);

    /* skip past the end */
    kp_rbuf_init(&r, four, sizeof(four), 0);
    kp_r_skip(&r, 4);
    CHECK_EQ_INT(r.err, 0);
    kp_r_skip(&r, 1);
    CHECK_EQ_INT(r.err, 1);
}

/* String and bytes lengths beyond the buffer. */
static void test_lengths_beyond_buffer(void)
{
    kp_rbuf_t r;
    const char *s;
    const uint8_t *b;

    kp_rbuf_init(&r, "\x00\x05" "abcd", 6, 0);
    CHECK_EQ_INT(kp_r_str(&r, &s), -1);
    CHECK_EQ_INT(r.err, 1);

    kp_rbuf_init(&r, "\x7f\xff\xff\xff" "ab", 6, 0);
    CHECK_EQ_INT(kp_r_bytes(&r, &b), -1);
    CHECK_EQ_INT(r.err, 1);

    /* compact: 6 - 1 = 5 bytes announced, 4 present */
    kp_rbuf_init(&r, "\x06" "abcd", 5, 1);
    CHECK_EQ_INT(kp_r_str(&r, &s), -1);
    CHECK_EQ_INT(r.err, 1);

    /* compact length above INT32_MAX */
    kp_rbuf_init(&r, "\xff\xff\xff\xff\x0f", 5, 1);
    CHECK_EQ_INT(kp_r_bytes(&r, &b), -1);
    CHECK_EQ_INT(r.err, 1);
}

/* kp_r_arraylen refuses counts the remaining bytes cannot hold. */
static void test_arraylen_absurd(void)
{
    uint8_t buf[4 + 12];
    kp_rbuf_t r;

    memset(buf, 0, sizeof(buf));

    /* INT32_MAX elements, 12 bytes left */
    buf[0] = 0x7f, buf[1] = 0xff, buf[2] = 0xff, buf[3] = 0xff;
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 1), -1);
    CHECK_EQ_INT(r.err, 1);

    /* exactly as many 4-byte elements as fit: 12 / 4 = 3 */
    buf[0] = 0, buf[1] = 0, buf[2] = 0, buf[3] = 3;
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 4), 3);
    CHECK_EQ_INT(r.err, 0);

    /* one more than fits */
    buf[3] = 4;
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 4), -1);
    CHECK_EQ_INT(r.err, 1);

    /* 13 one-byte elements in 12 bytes */
    buf[3] = 13;
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 1), -1);
    CHECK_EQ_INT(r.err, 1);

    /* min_elem_size 0: no check */
    buf[0] = 0x7f, buf[1] = 0xff, buf[2] = 0xff, buf[3] = 0xff;
    kp_rbuf_init(&r, buf, sizeof(buf), 0);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), INT32_MAX);
    CHECK_EQ_INT(r.err, 0);

    /* compact: 1000 elements (uvarint 1001 = 0xe9 0x07) in 12 bytes */
    {
        uint8_t c[2 + 12] = {0xe9, 0x07};
        kp_rbuf_init(&r, c, sizeof(c), 1);
        CHECK_EQ_INT(kp_r_arraylen(&r, 1), -1);
        CHECK_EQ_INT(r.err, 1);
        /* 12 one-byte elements (uvarint 13) fit */
        c[0] = 13, c[1] = 0;
        kp_rbuf_init(&r, c, 13, 1);
        CHECK_EQ_INT(kp_r_arraylen(&r, 1), 12);
        CHECK_EQ_INT(r.err, 0);
    }

    /* compact count above INT32_MAX */
    kp_rbuf_init(&r, "\x80\x80\x80\x80\x10", 5, 1);
    CHECK_EQ_INT(kp_r_arraylen(&r, 0), -1);
    CHECK_EQ_INT(r.err, 1);
}

/* ---- lengths that do not fit their field (issue 10, defect 3) --------------- */

/* A topic name or client.id of 32,768 bytes went out with a wrapped int16
 * length (0x8000 = null) and every later request was malformed. A writer
 * never wraps a length: it sets the sticky err flag and writes nothing. */
static void test_string_length_limits(void)
{
    enum { BIG = 70000 };
    char *s = malloc(BIG + 1);
    kp_wbuf_t w;
    kp_rbuf_t r;
    const char *rs;

    REQUIRE_NOT_NULL(s);
    memset(s, 'n', BIG);
    s[BIG] = 0;
    CHECK_EQ_INT(KP_STR_MAX, 32767);
    for (int flex = 0; flex <= 1; flex++) {
        /* 32,767 bytes: the longest string, written and read back whole */
        WB_START(w, flex);
        kp_w_strn(&w, s, 32767);
        CHECK_EQ_INT(w.err, 0);
        CHECK_EQ_INT(w.len, (flex ? 3 : 2) + 32767);
        if (flex) { /* uvarint 32768 = 0x80 0x80 0x02 */
            CHECK_EQ_INT(w.p[0], 0x80), CHECK_EQ_INT(w.p[1], 0x80), CHECK_EQ_INT(w.p[2], 0x02);
        } else {
            CHECK_EQ_INT(w.p[0], 0x7f), CHECK_EQ_INT(w.p[1], 0xff);
        }
        kp_rbuf_init(&r, w.p, w.len, flex);
        CHECK_EQ_INT(kp_r_str(&r, &rs), 32767);
        CHECK_EQ_INT(r.err, 0);
        kp_wbuf_free(&w);

        /* 32,768 (int16 would wrap to null), 65,536 (to empty), 70,000:
         * err set, nothing written, and the flag sticks */
        static const size_t bad[] = {32768, 65535, 65536, BIG};
        for (size_t i = 0; i < NVEC(bad); i++) {
            WB_START(w, flex);
            kp_w_i8(&w, 7);
            kp_w_strn(&w, s, bad[i]);
            if (!CHECK_EQ_INT(w.err, 1))
                fprintf(stderr, "    %zu bytes, flex %d\n", bad[i], flex);
            CHECK_EQ_INT(w.len, 1); /* no length, no bytes */
            kp_w_str(&w, "x");
            kp_w_i32(&w, 1);
            CHECK_EQ_INT(w.len, 1);
            CHECK_EQ_INT(w.err, 1);
            kp_wbuf_free(&w);
        }
        /* kp_w_str measures with strlen: the same limit */
        WB_START(w, flex);
        kp_w_str(&w, s);
        CHECK_EQ_INT(w.err, 1);
        CHECK_EQ_INT(w.len, 0);
        kp_wbuf_free(&w);
        s[32767] = 0;
        WB_START(w, flex);
        kp_w_str(&w, s);
        CHECK_EQ_INT(w.err, 0);
        kp_wbuf_free(&w);
        s[32767] = 'n';
    }
    free(s);
}

/* Array counts and bytes lengths: -1 is null; another negative or a size_t
 * above INT32_MAX (what a cast would wrap) fails instead. */
static void test_count_length_limits(void)
{
    kp_wbuf_t w;

    for (int flex = 0; flex <= 1; flex++) {
        /* the extremes that fit */
        WB_START(w, flex);
        kp_w_arraylen(&w, INT32_MAX);
        kp_w_byteslen(&w, INT32_MAX);
        kp_w_arraylen_sz(&w, INT32_MAX);
        kp_w_byteslen_sz(&w, (size_t)INT32_MAX);
        kp_w_arraylen(&w, -1);
        kp_w_byteslen(&w, -1);
        kp_w_arraylen_sz(&w, 0);
        CHECK_EQ_INT(w.err, 0);
        if (flex) {
            /* uvarint(INT32_MAX + 1) = 80 80 80 80 08, four times; null 00, twice; 0 -> 01 */
            static const uint8_t max[] = {0x80, 0x80, 0x80, 0x80, 0x08};
            REQUIRE_EQ_INT(w.len, 4 * 5 + 3);
            for (int i = 0; i < 4; i++)
                CHECK_EQ_MEM(w.p + 5 * i, 5, max, 5);
            CHECK_EQ_INT(w.p[20], 0x00), CHECK_EQ_INT(w.p[21], 0x00), CHECK_EQ_INT(w.p[22], 0x01);
        } else {
            static const uint8_t want[] = {0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
                                           0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0x00, 0x00, 0x00, 0x00};
            CHECK_EQ_MEM(w.p, w.len, want, sizeof(want));
        }
        kp_wbuf_free(&w);

        /* one past: INT32_MAX + 1 as a size_t, and the negatives a cast of
         * a large size_t gives */
        static const int32_t neg[] = {-2, INT32_MIN};
        for (size_t i = 0; i < NVEC(neg); i++) {
            WB_START(w, flex);
            kp_w_arraylen(&w, neg[i]);
            CHECK_EQ_INT(w.err, 1);
            CHECK_EQ_INT(w.len, 0);
            kp_wbuf_free(&w);
            WB_START(w, flex);
            kp_w_byteslen(&w, neg[i]);
            CHECK_EQ_INT(w.err, 1);
            CHECK_EQ_INT(w.len, 0);
            kp_wbuf_free(&w);
        }
        static const size_t big[] = {(size_t)INT32_MAX + 1, (size_t)UINT32_MAX,
                                     (size_t)UINT32_MAX + 1, SIZE_MAX};
        for (size_t i = 0; i < NVEC(big); i++) {
            WB_START(w, flex);
            kp_w_arraylen_sz(&w, big[i]);
            CHECK_EQ_INT(w.err, 1);
            CHECK_EQ_INT(w.len, 0);
            kp_wbuf_free(&w);
            WB_START(w, flex);
            kp_w_byteslen_sz(&w, big[i]);
            CHECK_EQ_INT(w.err, 1);
            CHECK_EQ_INT(w.len, 0);
            kp_wbuf_free(&w);
        }
    }
}

/* Raw writes: a size that would wrap len (or the doubling of cap) fails
 * instead of looping or writing past the buffer; NULL source with bytes to
 * copy fails. */
static void test_raw_write_limits(void)
{
    kp_wbuf_t w;

    WB_START(w, 0);
    kp_w_i32(&w, 1);
    CHECK_NULL(kp_wbuf_reserve(&w, SIZE_MAX));
    CHECK_EQ_INT(w.err, 1);
    CHECK_EQ_INT(w.len, 4);
    kp_wbuf_free(&w);

    WB_START(w, 0);
    CHECK_NULL(kp_wbuf_reserve(&w, SIZE_MAX / 2 + 1));
    CHECK_EQ_INT(w.err, 1);
    kp_wbuf_free(&w);

    WB_START(w, 0);
    kp_w_bytes_raw(&w, NULL, 0); /* nothing to copy: fine */
    CHECK_EQ_INT(w.err, 0);
    kp_w_bytes_raw(&w, NULL, 3);
    CHECK_EQ_INT(w.err, 1);
    CHECK_EQ_INT(w.len, 0);
    kp_wbuf_free(&w);
}

TEST_MAIN(TEST(test_varint_vectors), TEST(test_uvarint_vectors), TEST(test_varint_size_boundaries),
          TEST(test_varint_round_trip), TEST(test_varint_overlong), TEST(test_fixed_ints),
          TEST(test_wbuf_growth_and_patch), TEST(test_strings_classic),
          TEST(test_strings_compact), TEST(test_flex_switch_per_call), TEST(test_arrays),
          TEST(test_bytes), TEST(test_tags_write), TEST(test_tags_skip),
          TEST(test_tags_iterate), TEST(test_uuid),
          TEST(test_truncation_every_prefix_classic), TEST(test_truncation_every_prefix_flex),
          TEST(test_sticky_error), TEST(test_lengths_beyond_buffer), TEST(test_arraylen_absurd),
          TEST(test_string_length_limits), TEST(test_count_length_limits),
          TEST(test_raw_write_limits))

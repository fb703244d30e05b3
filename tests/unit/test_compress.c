/*
 * test_compress — the compression codecs (src/record/compress.c).
 *
 * Every codec this build has, at several levels, compresses random and text
 * data of 0, 1, 100, 64 KiB + 1 and 1 MiB bytes; each result is decoded by
 * the codec library's own decoder called directly here (zlib inflate,
 * snappy_uncompress after parsing the xerial framing by hand,
 * LZ4F_decompress, ZSTD_decompress), not by kp_decompress, and its framing
 * is checked byte by byte against the formats Kafka's Java client writes:
 *   gzip    1F 8B 08 ... CRC32 LE, ISIZE LE
 *   snappy  82 'S' 'N' 'A' 'P' 'P' 'Y' 00 | 00 00 00 01 | 00 00 00 01 |
 *           [int32 BE length | snappy block of <= 32 KiB]...
 *   lz4     04 22 4D 18 | 60 | 40 | HC | blocks of <= 64 KiB | 00 00 00 00,
 *           HC checked with an xxh32 written here
 *   zstd    28 B5 2F FD ..., content size in the header
 * kp_decompress is then checked on the same bytes, on streams made by the
 * libraries with other settings (raw snappy as librdkafka writes it, linked
 * LZ4 blocks with checksums, several gzip members / zstd frames), and on
 * truncated, corrupt and oversized input.
 */
#include "test.h"

#include "base/buf.h"
#include "record/compress.h"

#ifdef KPROD_WITH_GZIP
#include <zlib.h>
#endif
#ifdef KPROD_WITH_SNAPPY
#include <snappy-c.h>
#endif
#ifdef KPROD_WITH_LZ4
#include <lz4frame.h>
#endif
#ifdef KPROD_WITH_ZSTD
#include <zstd.h>
#endif

/* ---- data ------------------------------------------------------------------ */

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    test_fill_random(p, n, &seed);
}

/* Log-like text: words, numbers and punctuation, as record values often are. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *const words[] = {
        "kafka",     "producer", "record",   "batch",   "partition", "topic",   "broker",
        "offset",    "the",      "a",        "of",      "to",        "and",     "compression",
        "level",     "message",  "consumer", "leader",  "replica",   "request", "response",
        "timestamp", "header",   "value",    "key",     "INFO",      "WARN",    "user_id=",
        "session",   "GET",      "/api/v1/items", "200", "404",      "latency_ms=", "ok"};
    static const char *const seps[] = {" ", " ", " ", ", ", ".\n", " | "};
    size_t i = 0;

    while (i < n) {
        uint64_t r = test_rng_next(&seed);
        char num[24];
        const char *w;
        if (r % 7 == 0) {
            snprintf(num, sizeof(num), "%u", (unsigned)(r >> 40) % 100000u);
            w = num;
        } else {
            w = words[(r >> 8) % (sizeof(words) / sizeof(words[0]))];
        }
        for (; *w && i < n; w++)
            p[i++] = (uint8_t)*w;
        for (w = seps[(r >> 20) % 6]; *w && i < n; w++)
            p[i++] = (uint8_t)*w;
    }
}

static const size_t sizes[] = {0, 1, 100, 64 * 1024 + 1, 1024 * 1024};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXSIZE (1024 * 1024)

static uint32_t get_le32(const uint8_t *p)
{
    return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t get_be32(const uint8_t *p) /* inline: unused without snappy */
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- xxh32 (for the LZ4 header checksum), from the xxHash spec ---------------- */

#define XP1 2654435761u
#define XP2 2246822519u
#define XP3 3266489917u
#define XP4 668265263u
#define XP5 374761393u

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t ref_xxh32(const uint8_t *p, size_t len, uint32_t seed)
{
    const uint8_t *end = p + len;
    uint32_t h;

    if (len >= 16) {
        uint32_t v[4] = {seed + XP1 + XP2, seed + XP2, seed, seed - XP1};
        while (end - p >= 16) {
            for (int i = 0; i < 4; i++, p += 4)
                v[i] = rotl32(v[i] + get_le32(p) * XP2, 13) * XP1;
        }
        h = rotl32(v[0], 1) + rotl32(v[1], 7) + rotl32(v[2], 12) + rotl32(v[3], 18);
    } else {
        h = seed + XP5;
    }
    h += (uint32_t)len;
    for (; end - p >= 4; p += 4)
        h = rotl32(h + get_le32(p) * XP3, 17) * XP4;
    for (; p < end; p++)
        h = rotl32(h + *p * XP5, 11) * XP1;
    h ^= h >> 15;
    h *= XP2;
    h ^= h >> 13;
    h *= XP3;
    h ^= h >> 16;
    return h;
}

/* ---- reference decoders and format checks, one per codec ---------------------- */

/* Each decodes src into dst (capacity cap) with the codec library directly
 * and checks the framing; returns the decoded length or (size_t)-1. */

#ifdef KPROD_WITH_GZIP
static size_t ref_gzip(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    z_stream z;
    size_t out;
    int r;

    if (!CHECK(n >= 18) || !CHECK_EQ_INT(src[0], 0x1f) || !CHECK_EQ_INT(src[1], 0x8b) ||
        !CHECK_EQ_INT(src[2], 8 /* deflate */))
        return (size_t)-1;
    memset(&z, 0, sizeof(z));
    if (!CHECK_EQ_INT(inflateInit2(&z, 15 + 16), Z_OK))
        return (size_t)-1;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    r = inflate(&z, Z_FINISH);
    out = z.total_out;
    inflateEnd(&z);
    if (!CHECK_EQ_INT(r, Z_STREAM_END) || !CHECK_EQ_INT(z.avail_in, 0))
        return (size_t)-1;
    /* trailer: CRC-32 and ISIZE, little-endian */
    CHECK_EQ_U64(get_le32(src + n - 8), crc32(0, dst, (uInt)out));
    CHECK_EQ_U64(get_le32(src + n - 4), (uint32_t)out);
    return out;
}
#endif

#ifdef KPROD_WITH_SNAPPY
static const uint8_t xerial_header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                          0,    0,   0,   1,   0,   0,   0,   1};

static size_t ref_snappy(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    size_t off = 16, out = 0, chunks = 0, last = 0;

    if (!CHECK(n >= 16) || !CHECK_EQ_MEM(src, 16, xerial_header, 16))
        return (size_t)-1;
    while (off < n) {
        size_t clen, ulen;
        if (!CHECK(n - off >= 4))
            return (size_t)-1;
        clen = get_be32(src + off);
        off += 4;
        if (!CHECK(clen <= n - off))
            return (size_t)-1;
        if (!CHECK_EQ_INT(snappy_uncompressed_length((const char *)src + off, clen, &ulen),
                          SNAPPY_OK))
            return (size_t)-1;
        /* every chunk but the last holds exactly 32 KiB of input */
        if (chunks > 0)
            CHECK_EQ_INT(last, 32 * 1024);
        CHECK_LE_INT(ulen, 32 * 1024);
        if (!CHECK(ulen <= cap - out))
            return (size_t)-1;
        if (!CHECK_EQ_INT(snappy_uncompress((const char *)src + off, clen, (char *)dst + out,
                                            &ulen),
                          SNAPPY_OK))
            return (size_t)-1;
        out += ulen;
        off += clen;
        last = ulen;
        chunks++;
    }
    /* at least one chunk: librdkafka only sees the framing above 20 bytes */
    CHECK_EQ_INT(chunks, out == 0 ? 1 : (out + 32767) / 32768);
    CHECK_GT_INT(n, 20);
    return out;
}
#endif

#ifdef KPROD_WITH_LZ4
static size_t ref_lz4(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    static const uint8_t hdr[7] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82};
    LZ4F_dctx *d;
    LZ4F_frameInfo_t fi;
    size_t off = 7, out = 0, r, sn;

    if (!CHECK(n >= 11) || !CHECK_EQ_MEM(src, 7, hdr, 7))
        return (size_t)-1;
    CHECK_EQ_INT(src[6], (ref_xxh32(src + 4, 2, 0) >> 8) & 0xff);
    /* walk the blocks: uint32 LE size (bit 31: stored), at most 64 KiB each,
     * no block checksums, then the end mark and no content checksum */
    for (;;) {
        uint32_t bs;
        if (!CHECK(n - off >= 4))
            return (size_t)-1;
        bs = get_le32(src + off);
        off += 4;
        if (bs == 0)
            break;
        if (!CHECK_LE_INT(bs & 0x7fffffffu, 64 * 1024) || !CHECK(n - off >= (bs & 0x7fffffffu)))
            return (size_t)-1;
        off += bs & 0x7fffffffu;
    }
    CHECK_EQ_INT(off, n);

    if (!CHECK(!LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))))
        return (size_t)-1;
    sn = n;
    r = LZ4F_getFrameInfo(d, &fi, src, &sn);
    if (CHECK(!LZ4F_isError(r))) {
        CHECK_EQ_INT(fi.blockSizeID, LZ4F_max64KB);
        CHECK_EQ_INT(fi.blockMode, LZ4F_blockIndependent);
        CHECK_EQ_INT(fi.contentChecksumFlag, LZ4F_noContentChecksum);
        CHECK_EQ_INT(fi.blockChecksumFlag, LZ4F_noBlockChecksum);
        CHECK_EQ_U64(fi.contentSize, 0);
    }
    off = sn;
    while (!LZ4F_isError(r) && r != 0 && off < n) {
        size_t dn = cap - out;
        sn = n - off;
        r = LZ4F_decompress(d, dst + out, &dn, src + off, &sn, NULL);
        out += dn;
        off += sn;
        if (dn == 0 && sn == 0)
            break;
    }
    LZ4F_freeDecompressionContext(d);
    if (!CHECK(!LZ4F_isError(r)) || !CHECK_EQ_INT(r, 0) || !CHECK_EQ_INT(off, n))
        return (size_t)-1;
    return out;
}
#endif

#ifdef KPROD_WITH_ZSTD
static size_t ref_zstd(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    static const uint8_t magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    size_t r;

    if (!CHECK(n >= 4) || !CHECK_EQ_MEM(src, 4, magic, 4))
        return (size_t)-1;
    CHECK_EQ_U64(ZSTD_findFrameCompressedSize(src, n), n); /* exactly one frame */
    r = ZSTD_decompress(dst, cap, src, n);
    if (!CHECK(!ZSTD_isError(r)))
        return (size_t)-1;
    CHECK_EQ_U64(ZSTD_getFrameContentSize(src, n), r);
    return r;
}
#endif

static size_t ref_decode(int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    switch (codec) {
    case KP_CODEC_NONE:
        if (!CHECK(n <= cap))
            return (size_t)-1;
        if (n)
            memcpy(dst, src, n);
        return n;
#ifdef KPROD_WITH_GZIP
    case KP_CODEC_GZIP:
        return ref_gzip(src, n, dst, cap);
#endif
#ifdef KPROD_WITH_SNAPPY
    case KP_CODEC_SNAPPY:
        return ref_snappy(src, n, dst, cap);
#endif
#ifdef KPROD_WITH_LZ4
    case KP_CODEC_LZ4:
        return ref_lz4(src, n, dst, cap);
#endif
#ifdef KPROD_WITH_ZSTD
    case KP_CODEC_ZSTD:
        return ref_zstd(src, n, dst, cap);
#endif
    }
    FAIL("no reference decoder for codec %d", codec);
    return (size_t)-1;
}

/* ---- round trips ---------------------------------------------------------------- */

static const char prefix[] = "PFX"; /* kp_compress appends after existing bytes */

/* Compress data with c, decode with the reference decoder and with
 * kp_decompress, and check both give data back. Returns the compressed size. */
static size_t round_trip(kp_compressor_t *c, const uint8_t *data, size_t len)
{
    int codec = kp_compressor_codec(c);
    kp_wbuf_t out, again, dec;
    uint8_t *back = malloc(len + 1);
    size_t clen = 0, got;

    kp_wbuf_init(&out, 0);
    kp_wbuf_init(&again, 0);
    kp_wbuf_init(&dec, 0);
    if (!CHECK_NOT_NULL(back))
        goto done;
    kp_w_bytes_raw(&out, prefix, 3);
    if (!CHECK_EQ_INT(kp_compress(c, data, len, &out), 0))
        goto done;
    CHECK_EQ_INT(out.err, 0);
    CHECK_EQ_MEM(out.p, 3, prefix, 3);
    clen = out.len - 3;

    got = ref_decode(codec, out.p + 3, clen, back, len + 1);
    CHECK_EQ_MEM(back, got == (size_t)-1 ? 0 : got, data, len);

    /* the same input through the reused context gives the same bytes */
    CHECK_EQ_INT(kp_compress(c, data, len, &again), 0);
    CHECK_EQ_MEM(again.p, again.len, out.p + 3, clen);

    /* kp_decompress: exact bound works, one byte less fails cleanly */
    kp_w_bytes_raw(&dec, prefix, 3);
    CHECK_EQ_INT(kp_decompress(codec, out.p + 3, clen, &dec, len), 0);
    CHECK_EQ_MEM(dec.p, 3, prefix, 3);
    CHECK_EQ_MEM(dec.p + 3, dec.len - 3, data, len);
    if (len > 0) {
        dec.len = 3;
        CHECK_EQ_INT(kp_decompress(codec, out.p + 3, clen, &dec, len - 1), -1);
        CHECK_EQ_INT(dec.len, 3);
    }
done:
    free(back);
    kp_wbuf_free(&out);
    kp_wbuf_free(&again);
    kp_wbuf_free(&dec);
    return clen;
}

static void run_codec(int codec, const int *levels, size_t nlevels)
{
    uint8_t *rnd = malloc(MAXSIZE), *txt = malloc(MAXSIZE);

    REQUIRE_NOT_NULL(rnd);
    REQUIRE_NOT_NULL(txt);
    fill_random(rnd, MAXSIZE, 0x9E3779B97F4A7C15ULL);
    fill_text(txt, MAXSIZE, 42);
    if (!kp_codec_available(codec)) {
        printf("#    %s not built in: only checking that it is refused\n", kp_codec_name(codec));
        CHECK_NULL(kp_compressor_new(codec, KP_CODEC_LEVEL_DEFAULT));
        goto done;
    }
    for (size_t l = 0; l < nlevels; l++) {
        kp_compressor_t *c = kp_compressor_new(codec, levels[l]);
        if (!CHECK_NOT_NULL(c)) {
            fprintf(stderr, "    %s level %d\n", kp_codec_name(codec), levels[l]);
            continue;
        }
        CHECK_EQ_INT(kp_compressor_codec(c), codec);
        for (size_t s = 0; s < NSIZES; s++)
            for (int kind = 0; kind < 2; kind++) {
                int before = atomic_load(&test_failures_);
                size_t clen = round_trip(c, kind ? txt : rnd, sizes[s]);
                /* compressible text shrinks once it is more than a few words
                 * (but zstd's most negative levels give up compression for
                 * speed almost entirely) */
                if (kind == 1 && codec != KP_CODEC_NONE && sizes[s] > 64 * 1024 &&
                    levels[l] > -1000)
                    CHECK_LT_INT(clen, sizes[s] / 2);
                if (atomic_load(&test_failures_) != before)
                    fprintf(stderr, "    (%s level %d, %zu bytes of %s)\n", kp_codec_name(codec),
                            levels[l], sizes[s], kind ? "text" : "random data");
            }
        kp_compressor_free(c);
    }
done:
    free(rnd);
    free(txt);
}

#define LEVELS(...) (const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int)

static void test_none(void) { run_codec(KP_CODEC_NONE, LEVELS(KP_CODEC_LEVEL_DEFAULT)); }

static void test_gzip(void)
{
    run_codec(KP_CODEC_GZIP, LEVELS(KP_CODEC_LEVEL_DEFAULT, -1, 1, 6, 9));
}

static void test_snappy(void) { run_codec(KP_CODEC_SNAPPY, LEVELS(KP_CODEC_LEVEL_DEFAULT)); }

static void test_lz4(void)
{
    run_codec(KP_CODEC_LZ4, LEVELS(KP_CODEC_LEVEL_DEFAULT, 1, 3, 9, 12, 17));
}

static void test_zstd(void)
{
    run_codec(KP_CODEC_ZSTD, LEVELS(KP_CODEC_LEVEL_DEFAULT, -131072, -5, 0, 1, 3, 19, 22));
}

/* ---- names, levels, availability ------------------------------------------------ */

static void test_names(void)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

    for (int i = 0; i < 5; i++) {
        CHECK_EQ_STR(kp_codec_name(i), names[i]);
        CHECK_EQ_INT(kp_codec_from_name(names[i]), i);
    }
    CHECK_EQ_INT(KP_CODEC_NONE, 0);
    CHECK_EQ_INT(KP_CODEC_GZIP, 1);
    CHECK_EQ_INT(KP_CODEC_SNAPPY, 2);
    CHECK_EQ_INT(KP_CODEC_LZ4, 3);
    CHECK_EQ_INT(KP_CODEC_ZSTD, 4);
    CHECK_NULL(kp_codec_name(5));
    CHECK_NULL(kp_codec_name(-1));
    CHECK_EQ_INT(kp_codec_from_name("GZIP"), -1);
    CHECK_EQ_INT(kp_codec_from_name(""), -1);
    CHECK_EQ_INT(kp_codec_from_name("lz4 "), -1);
    CHECK_EQ_INT(kp_codec_from_name(NULL), -1);
}

static void test_availability(void)
{
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_NONE), 1);
    CHECK_EQ_INT(kp_codec_available(5), 0);
    CHECK_EQ_INT(kp_codec_available(-1), 0);
#ifdef KPROD_WITH_GZIP
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_GZIP), 1);
#else
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_GZIP), 0);
#endif
#ifdef KPROD_WITH_SNAPPY
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_SNAPPY), 1);
#else
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_SNAPPY), 0);
#endif
#ifdef KPROD_WITH_LZ4
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_LZ4), 1);
#else
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_LZ4), 0);
#endif
#ifdef KPROD_WITH_ZSTD
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_ZSTD), 1);
#else
    CHECK_EQ_INT(kp_codec_available(KP_CODEC_ZSTD), 0);
#endif
    for (int i = 0; i < 5; i++)
        printf("#    %-6s %s\n", kp_codec_name(i), kp_codec_available(i) ? "built in" : "absent");
}

static void test_level_validation(void)
{
    int min = 0, max = 0, def = 0;
    static const struct {
        int codec, level, valid;
    } cases[] = {
        /* gzip: -1 or 1..9 (Deflater) */
        {KP_CODEC_GZIP, -1, 1},
        {KP_CODEC_GZIP, 1, 1},
        {KP_CODEC_GZIP, 9, 1},
        {KP_CODEC_GZIP, 0, 0},
        {KP_CODEC_GZIP, 10, 0},
        {KP_CODEC_GZIP, -2, 0},
        /* lz4: 1..17 */
        {KP_CODEC_LZ4, 1, 1},
        {KP_CODEC_LZ4, 9, 1},
        {KP_CODEC_LZ4, 17, 1},
        {KP_CODEC_LZ4, 0, 0},
        {KP_CODEC_LZ4, 18, 0},
        {KP_CODEC_LZ4, -1, 0},
        /* zstd: -131072..22 */
        {KP_CODEC_ZSTD, -131072, 1},
        {KP_CODEC_ZSTD, -1, 1},
        {KP_CODEC_ZSTD, 0, 1},
        {KP_CODEC_ZSTD, 22, 1},
        {KP_CODEC_ZSTD, -131073, 0},
        {KP_CODEC_ZSTD, 23, 0},
        {KP_CODEC_ZSTD, INT_MAX, 0},
        /* no levels */
        {KP_CODEC_SNAPPY, 0, 0},
        {KP_CODEC_SNAPPY, 1, 0},
        {KP_CODEC_NONE, 0, 0},
        /* the default is valid for every known codec */
        {KP_CODEC_NONE, KP_CODEC_LEVEL_DEFAULT, 1},
        {KP_CODEC_GZIP, KP_CODEC_LEVEL_DEFAULT, 1},
        {KP_CODEC_SNAPPY, KP_CODEC_LEVEL_DEFAULT, 1},
        {KP_CODEC_LZ4, KP_CODEC_LEVEL_DEFAULT, 1},
        {KP_CODEC_ZSTD, KP_CODEC_LEVEL_DEFAULT, 1},
        /* unknown codecs */
        {5, KP_CODEC_LEVEL_DEFAULT, 0},
        {-1, KP_CODEC_LEVEL_DEFAULT, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!CHECK_EQ_INT(kp_codec_level_valid(cases[i].codec, cases[i].level), cases[i].valid))
            fprintf(stderr, "    codec %d level %d\n", cases[i].codec, cases[i].level);
        /* creation applies the same rule (for codecs this build has) */
        if (kp_codec_available(cases[i].codec)) {
            kp_compressor_t *c = kp_compressor_new(cases[i].codec, cases[i].level);
            if (!CHECK_EQ_INT(c != NULL, cases[i].valid))
                fprintf(stderr, "    new codec %d level %d\n", cases[i].codec, cases[i].level);
            kp_compressor_free(c);
        }
    }
    CHECK_NULL(kp_compressor_new(5, KP_CODEC_LEVEL_DEFAULT));

    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_GZIP, &min, &max, &def), 1);
    CHECK_EQ_INT(min, 1);
    CHECK_EQ_INT(max, 9);
    CHECK_EQ_INT(def, -1);
    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_LZ4, &min, &max, &def), 1);
    CHECK_EQ_INT(min, 1);
    CHECK_EQ_INT(max, 17);
    CHECK_EQ_INT(def, 9);
    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_ZSTD, &min, &max, NULL), 1);
    CHECK_EQ_INT(min, -131072);
    CHECK_EQ_INT(max, 22);
    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_ZSTD, NULL, NULL, &def), 1);
    CHECK_EQ_INT(def, 3);
    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_SNAPPY, &min, &max, &def), 0);
    CHECK_EQ_INT(kp_codec_level_range(KP_CODEC_NONE, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(kp_codec_level_range(7, NULL, NULL, NULL), -1);
}

/* ---- levels reach the library ---------------------------------------------------- */

static size_t text_size_at(int codec, int level, const uint8_t *txt, size_t len, kp_wbuf_t *keep)
{
    kp_compressor_t *c = kp_compressor_new(codec, level);
    size_t n;

    if (!CHECK_NOT_NULL(c))
        return 0;
    keep->len = 0;
    CHECK_EQ_INT(kp_compress(c, txt, len, keep), 0);
    n = keep->len;
    kp_compressor_free(c);
    return n;
}

static void test_levels_matter(void)
{
    size_t len = 512 * 1024;
    uint8_t *txt = malloc(len);
    kp_wbuf_t a, b;

    REQUIRE_NOT_NULL(txt);
    fill_text(txt, len, 7);
    kp_wbuf_init(&a, 0);
    kp_wbuf_init(&b, 0);
    if (kp_codec_available(KP_CODEC_GZIP)) {
        size_t l1 = text_size_at(KP_CODEC_GZIP, 1, txt, len, &a);
        size_t l9 = text_size_at(KP_CODEC_GZIP, 9, txt, len, &b);
        size_t ld = text_size_at(KP_CODEC_GZIP, KP_CODEC_LEVEL_DEFAULT, txt, len, &a);
        size_t l6 = text_size_at(KP_CODEC_GZIP, 6, txt, len, &b);
        CHECK_LT_INT(l9, l1);
        CHECK_EQ_INT(ld, l6); /* -1 is zlib's 6 */
    }
    if (kp_codec_available(KP_CODEC_LZ4)) {
        /* Java's default 9 is lz4-java's fast compressor: the same bytes as
         * level 1; a real HC level compresses better. */
        size_t l9 = text_size_at(KP_CODEC_LZ4, 9, txt, len, &a);
        size_t l1 = text_size_at(KP_CODEC_LZ4, 1, txt, len, &b);
        size_t l12;
        CHECK_EQ_MEM(a.p, l9, b.p, l1);
        CHECK_EQ_INT(text_size_at(KP_CODEC_LZ4, KP_CODEC_LEVEL_DEFAULT, txt, len, &b), l9);
        l12 = text_size_at(KP_CODEC_LZ4, 12, txt, len, &b);
        CHECK_LT_INT(l12, l9);
    }
    if (kp_codec_available(KP_CODEC_ZSTD)) {
        size_t lneg = text_size_at(KP_CODEC_ZSTD, -50, txt, len, &a);
        size_t l1 = text_size_at(KP_CODEC_ZSTD, 1, txt, len, &a);
        size_t l19 = text_size_at(KP_CODEC_ZSTD, 19, txt, len, &b);
        size_t ld = text_size_at(KP_CODEC_ZSTD, KP_CODEC_LEVEL_DEFAULT, txt, len, &a);
        size_t l3 = text_size_at(KP_CODEC_ZSTD, 3, txt, len, &b);
        CHECK_LT_INT(l1, lneg);
        CHECK_LT_INT(l19, l1);
        CHECK_EQ_INT(ld, l3);
    }
    kp_wbuf_free(&a);
    kp_wbuf_free(&b);
    free(txt);
}

/* ---- exact bytes ------------------------------------------------------------------ */

static void compress_once(int codec, const void *in, size_t len, kp_wbuf_t *out)
{
    kp_compressor_t *c = kp_compressor_new(codec, KP_CODEC_LEVEL_DEFAULT);

    out->len = 0;
    if (CHECK_NOT_NULL(c))
        CHECK_EQ_INT(kp_compress(c, in, len, out), 0);
    kp_compressor_free(c);
}

static void test_lz4_exact_bytes(void)
{
    /* What Kafka's Lz4BlockOutputStream writes for "hello": the 5 bytes do
     * not compress, so the block is stored with bit 31 of its size set. */
    static const uint8_t hello[] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82,
                                    0x05, 0x00, 0x00, 0x80, 'h',  'e',  'l',
                                    'l',  'o',  0x00, 0x00, 0x00, 0x00};
    static const uint8_t empty[] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0};
    static const uint8_t flg_bd[2] = {0x60, 0x40};
    kp_wbuf_t out;

    /* the xxh32 here is right (spec test vector), and gives HC 0x82 */
    CHECK_EQ_U64(ref_xxh32((const uint8_t *)"", 0, 0), 0x02CC5D05u);
    CHECK_EQ_INT((ref_xxh32(flg_bd, 2, 0) >> 8) & 0xff, 0x82);
    if (!kp_codec_available(KP_CODEC_LZ4))
        return;
    kp_wbuf_init(&out, 0);
    compress_once(KP_CODEC_LZ4, "hello", 5, &out);
    CHECK_EQ_MEM(out.p, out.len, hello, sizeof(hello));
    compress_once(KP_CODEC_LZ4, NULL, 0, &out);
    CHECK_EQ_MEM(out.p, out.len, empty, sizeof(empty));
    kp_wbuf_free(&out);
}

static void test_snappy_exact_bytes(void)
{
    /* snappy-java's SnappyOutputStream framing around one raw block:
     * varint length 5, literal tag (5-1)<<2, the bytes. */
    static const uint8_t hello[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0,
                                    0,    1,   0,   0,   0,   7,   5, 0x10, 'h', 'e', 'l', 'l',
                                    'o'};
    static const uint8_t empty[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0,
                                    1,    0,   0,   0,   1,   0,   0,   0, 1, 0};
    kp_wbuf_t out;

    if (!kp_codec_available(KP_CODEC_SNAPPY))
        return;
    kp_wbuf_init(&out, 0);
    compress_once(KP_CODEC_SNAPPY, "hello", 5, &out);
    CHECK_EQ_MEM(out.p, out.len, hello, sizeof(hello));
    compress_once(KP_CODEC_SNAPPY, NULL, 0, &out);
    CHECK_EQ_MEM(out.p, out.len, empty, sizeof(empty));
    kp_wbuf_free(&out);
}

/* ---- kp_decompress on streams other producers write -------------------------------- */

static inline void expect_decompress(int codec, const uint8_t *in, size_t inlen,
                                     const uint8_t *want, size_t wantlen, const char *what)
{
    kp_wbuf_t dec;

    kp_wbuf_init(&dec, 0);
    if (!CHECK_EQ_INT(kp_decompress(codec, in, inlen, &dec, wantlen), 0) ||
        !CHECK_EQ_MEM(dec.p, dec.len, want, wantlen))
        fprintf(stderr, "    %s\n", what);
    kp_wbuf_free(&dec);
}

static void test_decompress_foreign(void)
{
    size_t len = 200 * 1024;
    uint8_t *txt = malloc(len), *buf = malloc(2 * len + 65536);

    REQUIRE_NOT_NULL(txt);
    REQUIRE_NOT_NULL(buf);
    fill_text(txt, len, 99);
#ifdef KPROD_WITH_SNAPPY
    {   /* raw snappy, as librdkafka's producer writes it */
        size_t n = snappy_max_compressed_length(len);
        REQUIRE(snappy_compress((const char *)txt, len, (char *)buf, &n) == SNAPPY_OK);
        expect_decompress(KP_CODEC_SNAPPY, buf, n, txt, len, "raw snappy");
    }
#endif
#ifdef KPROD_WITH_LZ4
    {   /* liblz4's defaults: linked blocks, 4 MiB max, plus checksums and size */
        LZ4F_preferences_t p;
        size_t n;
        memset(&p, 0, sizeof(p));
        p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
        p.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
        p.frameInfo.contentSize = len;
        n = LZ4F_compressFrame(buf, 2 * len + 65536, txt, len, &p);
        REQUIRE(!LZ4F_isError(n));
        expect_decompress(KP_CODEC_LZ4, buf, n, txt, len, "lz4 linked blocks + checksums");
    }
#endif
#ifdef KPROD_WITH_GZIP
    {   /* two gzip members back to back (RFC 1952 2.2) */
        size_t off = 0;
        for (int m = 0; m < 2; m++) {
            z_stream z;
            memset(&z, 0, sizeof(z));
            REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
            z.next_in = txt + m * (len / 2);
            z.avail_in = (uInt)(len / 2);
            z.next_out = buf + off;
            z.avail_out = (uInt)(2 * len + 65536 - off);
            REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
            off += z.total_out;
            deflateEnd(&z);
        }
        expect_decompress(KP_CODEC_GZIP, buf, off, txt, len, "two gzip members");
    }
#endif
#ifdef KPROD_WITH_ZSTD
    {   /* two frames, the first without a content size (as zstd-jni's stream) */
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_inBuffer ib = {txt, len / 2, 0};
        ZSTD_outBuffer ob = {buf, 2 * len + 65536, 0};
        size_t r;
        REQUIRE_NOT_NULL(cc);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
        do
            r = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
        while (r != 0 && !ZSTD_isError(r));
        REQUIRE(!ZSTD_isError(r));
        CHECK_EQ_U64(ZSTD_getFrameContentSize(buf, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
        r = ZSTD_compress((uint8_t *)buf + ob.pos, ob.size - ob.pos, txt + len / 2, len - len / 2,
                          3);
        REQUIRE(!ZSTD_isError(r));
        expect_decompress(KP_CODEC_ZSTD, buf, ob.pos + r, txt, len, "zstd: two frames");
        ZSTD_freeCCtx(cc);
    }
#endif
    free(txt);
    free(buf);
}

/* ---- kp_decompress on bad input --------------------------------------------------- */

static void expect_reject(int codec, const uint8_t *in, size_t inlen, size_t max_out,
                          const char *what)
{
    kp_wbuf_t dec;

    kp_wbuf_init(&dec, 0);
    kp_w_bytes_raw(&dec, prefix, 3);
    if (!CHECK_EQ_INT(kp_decompress(codec, in, inlen, &dec, max_out), -1) ||
        !CHECK_EQ_INT(dec.len, 3))
        fprintf(stderr, "    %s: %s\n", kp_codec_name(codec), what);
    /* never more than max_out + 1 bytes of room, whatever the input claims */
    CHECK_LE_INT(dec.cap, max_out + 3 + 1 < 4096 ? 8192 : 2 * (max_out + 4));
    kp_wbuf_free(&dec);
}

static void test_decompress_rejects(void)
{
    size_t len = 1024 * 1024;
    uint8_t *zeros = calloc(1, len), *txt = malloc(len);
    uint8_t garbage[64];
    kp_wbuf_t out;

    REQUIRE_NOT_NULL(zeros);
    REQUIRE_NOT_NULL(txt);
    fill_text(txt, len, 5);
    fill_random(garbage, sizeof(garbage), 3);
    kp_wbuf_init(&out, 0);
    for (int codec = KP_CODEC_GZIP; codec <= KP_CODEC_ZSTD; codec++) {
        if (!kp_codec_available(codec)) {
            expect_reject(codec, txt, 100, 100, "codec not built in");
            continue;
        }
        compress_once(codec, txt, len, &out);
        REQUIRE(out.len > 100);
        expect_reject(codec, out.p, out.len - 1, len, "last byte cut");
        expect_reject(codec, out.p, out.len / 2, len, "cut in half");
        expect_reject(codec, out.p, 10, len, "cut after 10 bytes");
        expect_reject(codec, garbage, sizeof(garbage), len, "random bytes");
        expect_reject(codec, out.p, out.len, len - 1, "one byte over max_out");
        expect_reject(codec, NULL, 0, len, "empty input"); /* not even raw snappy */
        /* trailing bytes after the stream (for xerial: a truncated chunk) */
        memcpy(kp_wbuf_reserve(&out, 5), "junk!", 5);
        expect_reject(codec, out.p, out.len, len, "trailing bytes");
        /* flipped bytes in the middle of the data */
        out.len -= 5;
        out.p[out.len / 2] ^= 0x55;
        out.p[out.len / 2 + 1] ^= 0xAA;
        {
            kp_wbuf_t dec;
            kp_wbuf_init(&dec, 0);
            /* some codecs have no checksum: then the output must at least differ */
            if (kp_decompress(codec, out.p, out.len, &dec, len) == 0)
                CHECK(dec.len != len || memcmp(dec.p, txt, len) != 0);
            kp_wbuf_free(&dec);
        }
        /* a bomb: 1 MiB of zeros with room for 1000 bytes */
        compress_once(codec, zeros, len, &out);
        expect_reject(codec, out.p, out.len, 1000, "1 MiB of zeros, max_out 1000");
    }
#ifdef KPROD_WITH_SNAPPY
    {   /* xerial chunk whose block claims 4 GiB: refused before allocating */
        static const uint8_t claim[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1,
                                        0,    0,   0,   1,   0,   0,   0,   6, 0xff, 0xff,
                                        0xff, 0xff, 0x0f, 0};
        expect_reject(KP_CODEC_SNAPPY, claim, sizeof(claim), len, "block claims 4 GiB");
    }
#endif
    kp_wbuf_free(&out);
    free(zeros);
    free(txt);
}

/* ---- argument checks ----------------------------------------------------------------- */

static void test_bad_arguments(void)
{
    kp_compressor_t *c = kp_compressor_new(KP_CODEC_NONE, KP_CODEC_LEVEL_DEFAULT);
    kp_wbuf_t out;
    uint8_t byte = 1;

    REQUIRE_NOT_NULL(c);
    kp_wbuf_init(&out, 0);
    CHECK_EQ_INT(kp_compress(NULL, &byte, 1, &out), -1);
    CHECK_EQ_INT(kp_compress(c, NULL, 1, &out), -1);
    CHECK_EQ_INT(kp_compress(c, &byte, 1, NULL), -1);
    /* longer than a RecordBatch can be: refused before reading anything */
    CHECK_EQ_INT(kp_compress(c, &byte, KP_COMPRESS_MAX_INPUT + 1, &out), -1);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(kp_decompress(9, &byte, 1, &out, 10), -1);
    CHECK_EQ_INT(kp_decompress(KP_CODEC_NONE, NULL, 1, &out, 10), -1);
    CHECK_EQ_INT(kp_decompress(KP_CODEC_NONE, &byte, 1, &out, 0), -1);
    CHECK_EQ_INT(kp_decompress(KP_CODEC_NONE, &byte, 1, &out, 1), 0);
    CHECK_EQ_INT(out.len, 1);
    /* a buffer whose allocation already failed stays failed */
    out.err = 1;
    CHECK_EQ_INT(kp_compress(c, &byte, 1, &out), -1);
    CHECK_EQ_INT(kp_decompress(KP_CODEC_NONE, &byte, 1, &out, 1), -1);
    CHECK_EQ_INT(out.len, 1);
    kp_wbuf_free(&out);
    kp_compressor_free(c);
    kp_compressor_free(NULL);
}

TEST_MAIN(TEST(test_names), TEST(test_availability), TEST(test_level_validation),
          TEST(test_none), TEST(test_gzip), TEST(test_snappy), TEST(test_lz4), TEST(test_zstd),
          TEST(test_levels_matter), TEST(test_lz4_exact_bytes), TEST(test_snappy_exact_bytes),
          TEST(test_decompress_foreign), TEST(test_decompress_rejects),
          TEST(test_bad_arguments))

/*
 * compress — Kafka's compression codecs behind one table (see compress.h for
 * the contract). Each codec is a codec_ops_t: create/destroy a reusable
 * context, compress one whole batch body, decompress (tests and tools). The
 * codec libraries are the system's (zlib, libsnappy's C API, liblz4's frame
 * API, libzstd); every one of them is optional at build time.
 *
 * What a RecordBatch v2 carries after its 61-byte header when the attribute
 * codec bits are set is the whole records section compressed as ONE stream,
 * in the byte format below. Sources: Apache Kafka clients
 * org.apache.kafka.common.compress.{GzipCompression, SnappyCompression,
 * Lz4BlockOutputStream, Lz4BlockInputStream, ZstdCompression} (trunk, 2024),
 * librdkafka 2.x src/rdkafka_msgset_reader.c (consumer side) and
 * src/rdkafka_lz4.c (producer side).
 *
 * gzip (1)   A gzip stream (RFC 1952): deflateInit2(level, windowBits 15+16).
 *            Java writes java.util.zip.GZIPOutputStream, i.e. the same
 *            format; every consumer reads it with a gzip inflater. Level -1
 *            is Z_DEFAULT_COMPRESSION (6), as Deflater.DEFAULT_COMPRESSION.
 *
 * snappy (2) snappy-java's "xerial" stream framing, what the Java producer
 *            writes (SnappyCompression wraps org.xerial.snappy.
 *            SnappyOutputStream, default block 32 KiB):
 *
 *              offset size  field
 *              0      8     magic  82 53 4E 41 50 50 59 00  ("\x82SNAPPY\0")
 *              8      4     version             int32 BE = 1
 *              12     4     compatible version  int32 BE = 1
 *              16     ...   chunks: int32 BE length | raw snappy block, each
 *                           block the compression of <= 32 KiB of input
 *
 *            Why this and not raw snappy (which librdkafka's producer
 *            writes): every consumer reads the xerial framing. The Java
 *            consumer and the broker's validator read through
 *            SnappyInputStream, which takes the framing (and falls back to
 *            raw only for input without the magic); librdkafka's reader
 *            takes the framing when the input starts with the magic and is
 *            longer than 16 + 4 bytes, raw otherwise; franz-go takes it when
 *            the input starts with the magic and is longer than 16 bytes. A
 *            raw block, on the other hand, is only read by consumers that
 *            implement a fallback. So we write what Java writes, which is also
 *            what the broker itself writes when it recompresses to snappy
 *            (it uses the same Java classes). Empty input still gets
 *            one chunk (the 1-byte block for 0 bytes), so the stream is 21
 *            bytes and librdkafka's "> 20" test recognises it.
 *
 * lz4 (3)    One LZ4 frame (lz4_Frame_format.md v1.6) exactly as Kafka's
 *            Lz4BlockOutputStream writes it for RecordBatch v2:
 *
 *              04 22 4D 18   magic 0x184D2204 little-endian
 *              60            FLG: version 01, block independence 1, no block
 *                            checksum, no content size, no content checksum
 *              40            BD: block max size id 4 = 64 KiB
 *              HC            (xxh32(FLG BD, seed 0) >> 8) & 0xFF
 *              blocks        uint32 LE size (bit 31 = stored uncompressed)
 *              00 00 00 00   end mark
 *
 *            Block independence is required: Kafka's reader rejects
 *            "Dependent block stream is unsupported", and liblz4 defaults to
 *            linked blocks. No content checksum: Java's writer never sets
 *            it and recent Java readers verify it as the XOR of per-block
 *            hashes, which is not what liblz4 computes. No content size:
 *            Java never writes it (old readers did not skip it). The "broken
 *            header checksum" of Kafka's magic v0 messages does not apply to
 *            RecordBatch v2, which uses the correct HC. librdkafka's producer
 *            sets the same preferences (64 KiB, independent blocks).
 *
 *            Levels: Java's Lz4BlockOutputStream uses lz4-java's FAST
 *            compressor when the level equals the default 9 and the HC
 *            compressor at that level otherwise. We do the same: level 9 is
 *            LZ4's fast mode (compressionLevel 0), any other level goes to
 *            LZ4F as is (1-2 fast, 3-12 HC, above 12 the same as 12 in both
 *            liblz4 and lz4-java's native code).
 *
 * zstd (4)   One zstd frame (RFC 8878) from ZSTD_compress2 at the level, with
 *            the content size in its header (Java's zstd-jni stream omits
 *            it; both forms are read by zstd-jni and librdkafka, which uses
 *            the size when present). No checksum, as zstd-jni's default.
 *            Level 0 is zstd's default (3), as in zstd-jni.
 *
 * Buffers: output is appended to a kp_wbuf_t. Compression reserves the
 * codec's worst-case bound once, writes, and gives back what it did not
 * use, so one batch costs one bound-sized reservation in a buffer the
 * caller keeps. Decompression grows its output in doubling chunks and never
 * holds more than max_out + 1 bytes, whatever lengths the input claims.
 */
#include "base/alloc.h"
#include "record/compress.h"

#include <stdlib.h>
#include <string.h>

#ifdef KPROD_WITH_GZIP
#define ZLIB_CONST
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

/* ---- codec facts that hold whether or not the codec is built in ---------- */

static const struct codec_info {
    const char *name;
    int has_level;
    int min, max, def; /* Java's range and default */
} codec_info[KP_CODEC_COUNT] = {
    [KP_CODEC_NONE] = {"none", 0, 0, 0, 0},
    [KP_CODEC_GZIP] = {"gzip", 1, 1, 9, -1}, /* and -1 */
    [KP_CODEC_SNAPPY] = {"snappy", 0, 0, 0, 0},
    [KP_CODEC_LZ4] = {"lz4", 1, 1, 17, 9},
    [KP_CODEC_ZSTD] = {"zstd", 1, -131072, 22, 3},
};

#define GZIP_DEFAULT_LEVEL (-1)
#define LZ4_JAVA_DEFAULT_LEVEL 9

static int known(int codec) { return codec >= 0 && codec < KP_CODEC_COUNT; }

/* ---- the codec table ---------------------------------------------------- */

typedef struct codec_ops {
    /* Create c->ctx for c->level; NULL when the codec needs no context. */
    int (*init)(kp_compressor_t *c);
    void (*fini)(kp_compressor_t *c);
    /* Append the compressed form of in to out. On -1 the caller restores
     * out->len; out->err tells an allocation failure. */
    int (*compress)(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out);
    int (*decompress)(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out);
} codec_ops_t;

struct kp_compressor {
    const codec_ops_t *ops;
    int codec;
    int level; /* resolved Java level (defaults applied) */
    void *ctx; /* the codec library's reusable context */
};

/* ---- output helpers ----------------------------------------------------- */

/* Make n bytes writable at out->p + out->len without counting them in
 * out->len: the codec adds what it really wrote. NULL when out of memory
 * (out->err set). At least one byte is reserved, so that even for n == 0
 * the pointer is a real one (an empty kp_wbuf_t has p == NULL). */
static uint8_t *room(kp_wbuf_t *out, size_t n) {
    if (n == 0)
        n = 1;
    if (out->err)
        return NULL;
    if (n > SIZE_MAX / 4 - out->len) { /* kp_wbuf_reserve's doubling would overflow */
        out->err = 1;
        return NULL;
    }
    if (!kp_wbuf_reserve(out, n))
        return NULL;
    out->len -= n;
    return out->p + out->len;
}

#if defined(KPROD_WITH_GZIP) || defined(KPROD_WITH_LZ4) || defined(KPROD_WITH_ZSTD)
/* Bounded, growing output for the streaming decoders. Never asks for more
 * than max_out + 1 bytes in total, so "too much output" is detected without
 * trusting any length the input claims. */
typedef struct sink {
    kp_wbuf_t *out;
    size_t base;    /* out->len when decoding started */
    size_t max_out; /* most bytes the result may have */
    size_t chunk;   /* size of the next span when the last one filled up */
} sink_t;

#define SINK_MAX_CHUNK ((size_t)1 << 30) /* fits zlib's uInt */

static void sink_init(sink_t *s, kp_wbuf_t *out, size_t max_out, size_t inlen) {
    s->out = out;
    s->base = out->len;
    s->max_out = max_out;
    s->chunk = inlen < SINK_MAX_CHUNK / 4 ? inlen * 4 : SINK_MAX_CHUNK;
    if (s->chunk < 4096)
        s->chunk = 4096;
}

/* The next writable span: *n bytes at the returned pointer (NULL: no memory). */
static uint8_t *sink_next(sink_t *s, size_t *n) {
    size_t left = s->max_out - (s->out->len - s->base);
    *n = s->chunk <= left ? s->chunk : left + 1;
    return room(s->out, *n);
}

/* Count written bytes of a span of size cap; -1 once past max_out. */
static int sink_commit(sink_t *s, size_t written, size_t cap) {
    s->out->len += written;
    if (written == cap && s->chunk < SINK_MAX_CHUNK)
        s->chunk *= 2;
    return s->out->len - s->base > s->max_out ? -1 : 0;
}
#endif

static const uint8_t empty_input[1];

/* ---- none --------------------------------------------------------------- */

static int none_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out) {
    uint8_t *dst = room(out, inlen);
    if (!dst)
        return -1;
    memcpy(dst, in, inlen);
    out->len += inlen;
    return 0;
}

static int none_decompress(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out) {
    if (inlen > max_out)
        return -1;
    return none_compress(NULL, in, inlen, out);
}

static const codec_ops_t none_ops = {NULL, NULL, none_compress, none_decompress};

/* ---- gzip --------------------------------------------------------------- */
#ifdef KPROD_WITH_GZIP

static int gzip_init(kp_compressor_t *c) {
    z_stream *z = kp_calloc(1, sizeof(*z));
    if (!z)
        return -1;
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(z, c->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return -1;
    }
    c->ctx = z;
    return 0;
}

static void gzip_fini(kp_compressor_t *c) {
    deflateEnd(c->ctx);
    free(c->ctx);
}

static int gzip_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out) {
    z_stream *z = c->ctx;
    uLong bound;
    uint8_t *dst;

    if (deflateReset(z) != Z_OK)
        return -1;
    bound = deflateBound(z, (uLong)inlen); /* includes the gzip wrapper */
    if (bound > UINT_MAX || !(dst = room(out, bound)))
        return -1;
    z->next_in = in;
    z->avail_in = (uInt)inlen;
    z->next_out = dst;
    z->avail_out = (uInt)bound;
    /* With deflateBound() of room, one Z_FINISH call completes the stream. */
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return -1;
    out->len += bound - z->avail_out;
    return 0;
}

static int gzip_decompress(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out) {
    z_stream z;
    sink_t s;
    int r, ok = 0;

    if (inlen > UINT_MAX)
        return -1;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) /* gzip only */
        return -1;
    sink_init(&s, out, max_out, inlen);
    z.next_in = in;
    z.avail_in = (uInt)inlen;
    for (;;) {
        size_t cap;
        uint8_t *dst = sink_next(&s, &cap);
        if (!dst)
            break;
        z.next_out = dst;
        z.avail_out = (uInt)cap;
        r = inflate(&z, Z_NO_FLUSH);
        if (sink_commit(&s, cap - z.avail_out, cap) != 0)
            break;
        if (r == Z_STREAM_END) {
            if (z.avail_in == 0) {
                ok = 1;
                break;
            }
            /* Another gzip member follows (RFC 1952 allows several; Java's
             * GZIPInputStream reads them). Anything else fails in inflate. */
            if (inflateReset(&z) != Z_OK)
                break;
        } else if (r == Z_BUF_ERROR) {
            if (z.avail_out != 0) /* no progress with room left: truncated */
                break;
        } else if (r != Z_OK) {
            break;
        }
    }
    inflateEnd(&z);
    return ok ? 0 : -1;
}

static const codec_ops_t gzip_ops = {gzip_init, gzip_fini, gzip_compress, gzip_decompress};
#define GZIP_OPS (&gzip_ops)
#else
#define GZIP_OPS NULL
#endif

/* ---- snappy (xerial framing) -------------------------------------------- */
#ifdef KPROD_WITH_SNAPPY

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16
#define XERIAL_VERSION 1
#define XERIAL_COMPATIBLE_VERSION 1
#define XERIAL_BLOCK_SIZE (32 * 1024) /* snappy-java's default block */

static int snappy_compress_xerial(kp_compressor_t *c, const uint8_t *in, size_t inlen,
                                  kp_wbuf_t *out) {
    uint8_t *hdr = room(out, XERIAL_HEADER_SIZE);
    size_t off = 0;

    if (!hdr)
        return -1;
    memcpy(hdr, xerial_magic, sizeof(xerial_magic));
    kp_put_be32(hdr + 8, XERIAL_VERSION);
    kp_put_be32(hdr + 12, XERIAL_COMPATIBLE_VERSION);
    out->len += XERIAL_HEADER_SIZE;
    do { /* at least one chunk, even for empty input */
        size_t n = inlen - off < XERIAL_BLOCK_SIZE ? inlen - off : XERIAL_BLOCK_SIZE;
        size_t max = snappy_max_compressed_length(n), clen = max;
        uint8_t *dst = room(out, 4 + max);
        if (!dst)
            return -1;
        if (snappy_compress((const char *)in + off, n, (char *)dst + 4, &clen) != SNAPPY_OK)
            return -1;
        kp_put_be32(dst, (uint32_t)clen);
        out->len += 4 + clen;
        off += n;
    } while (off < inlen);
    return 0;
}

/* One raw snappy block, bounded by what is left of max_out. */
static int snappy_block(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t left) {
    size_t ulen;
    uint8_t *dst;

    if (snappy_uncompressed_length((const char *)in, inlen, &ulen) != SNAPPY_OK || ulen > left)
        return -1;
    if (!(dst = room(out, ulen)))
        return -1;
    if (snappy_uncompress((const char *)in, inlen, (char *)dst, &ulen) != SNAPPY_OK)
        return -1;
    out->len += ulen;
    return 0;
}

static int snappy_decompress_any(const uint8_t *in, size_t inlen, kp_wbuf_t *out,
                                 size_t max_out) {
    size_t base = out->len, off = XERIAL_HEADER_SIZE;

    if (inlen < XERIAL_HEADER_SIZE || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0)
        return snappy_block(in, inlen, out, max_out); /* raw, as librdkafka writes */
    while (off < inlen) {
        size_t clen;
        if (inlen - off < 4)
            return -1;
        clen = kp_get_be32(in + off);
        off += 4;
        if (clen > inlen - off)
            return -1;
        if (snappy_block(in + off, clen, out, max_out - (out->len - base)) != 0)
            return -1;
        off += clen;
    }
    return 0;
}

static const codec_ops_t snappy_ops = {NULL, NULL, snappy_compress_xerial, snappy_decompress_any};
#define SNAPPY_OPS (&snappy_ops)
#else
#define SNAPPY_OPS NULL
#endif

/* ---- lz4 (Kafka's LZ4 frame) -------------------------------------------- */
#ifdef KPROD_WITH_LZ4

typedef struct lz4_ctx {
    LZ4F_cctx *cctx;
    LZ4F_preferences_t prefs;
} lz4_ctx_t;

static int lz4_init(kp_compressor_t *c) {
    lz4_ctx_t *x = kp_calloc(1, sizeof(*x));
    if (!x)
        return -1;
    if (LZ4F_isError(LZ4F_createCompressionContext(&x->cctx, LZ4F_VERSION))) {
        free(x);
        return -1;
    }
    x->prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    x->prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    x->prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    x->prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    x->prefs.frameInfo.contentSize = 0;
    x->prefs.compressionLevel = c->level == LZ4_JAVA_DEFAULT_LEVEL ? 0 : c->level;
    x->prefs.autoFlush = 1; /* no copy of the tail into LZ4F's buffer */
    c->ctx = x;
    return 0;
}

static void lz4_fini(kp_compressor_t *c) {
    lz4_ctx_t *x = c->ctx;
    LZ4F_freeCompressionContext(x->cctx);
    free(x);
}

static int lz4_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out) {
    lz4_ctx_t *x = c->ctx;
    size_t bound = LZ4F_compressFrameBound(inlen, &x->prefs), n = 0, r;
    uint8_t *dst = room(out, bound);

    if (!dst)
        return -1;
    /* compressFrameBound covers header, blocks and end mark together. */
    r = LZ4F_compressBegin(x->cctx, dst, bound, &x->prefs);
    if (LZ4F_isError(r))
        return -1;
    n += r;
    r = LZ4F_compressUpdate(x->cctx, dst + n, bound - n, in, inlen, NULL);
    if (LZ4F_isError(r))
        return -1;
    n += r;
    r = LZ4F_compressEnd(x->cctx, dst + n, bound - n, NULL);
    if (LZ4F_isError(r))
        return -1;
    out->len += n + r;
    return 0;
}

static int lz4_decompress(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out) {
    LZ4F_dctx *d;
    sink_t s;
    size_t off = 0;
    int ok = 0;

    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return -1;
    sink_init(&s, out, max_out, inlen);
    for (;;) {
        size_t cap, dn, sn = inlen - off, r;
        uint8_t *dst = sink_next(&s, &cap);
        if (!dst)
            break;
        dn = cap;
        r = LZ4F_decompress(d, dst, &dn, in + off, &sn, NULL);
        if (LZ4F_isError(r))
            break;
        off += sn;
        if (sink_commit(&s, dn, cap) != 0)
            break;
        if (r == 0) { /* frame complete: Kafka sends exactly one */
            ok = off == inlen;
            break;
        }
        if (off == inlen && dn < cap) /* wants more input than there is */
            break;
    }
    LZ4F_freeDecompressionContext(d);
    return ok ? 0 : -1;
}

static const codec_ops_t lz4_ops = {lz4_init, lz4_fini, lz4_compress, lz4_decompress};
#define LZ4_OPS (&lz4_ops)
#else
#define LZ4_OPS NULL
#endif

/* ---- zstd --------------------------------------------------------------- */
#ifdef KPROD_WITH_ZSTD

static int zstd_init(kp_compressor_t *c) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z)
        return -1;
    /* Parameters stick across ZSTD_compress2() calls (it resets the
     * session only). */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, c->level))) {
        ZSTD_freeCCtx(z);
        return -1;
    }
    c->ctx = z;
    return 0;
}

static void zstd_fini(kp_compressor_t *c) { ZSTD_freeCCtx(c->ctx); }

static int zstd_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out) {
    size_t bound = ZSTD_compressBound(inlen), r;
    uint8_t *dst = room(out, bound);

    if (!dst)
        return -1;
    r = ZSTD_compress2(c->ctx, dst, bound, in, inlen);
    if (ZSTD_isError(r))
        return -1;
    out->len += r;
    return 0;
}

static int zstd_decompress(const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in, inlen, 0};
    sink_t s;
    int ok = 0;

    if (!d)
        return -1;
    /* A frame may declare a window up to zstd's default limit (128 MiB),
     * which the decoder reserves whatever the frame holds (fuzz_decompress:
     * 15 bytes made it take 64 MiB). Cap it at what the output may hold,
     * but not below 8 MiB: a streaming compressor that did not know the
     * size declares a window larger than its content (2 MiB at zstd's
     * level 3, 8 MiB at 19), and such a frame must still decode. */
    int wlog = 23;
    while (wlog < 27 && ((size_t)1 << wlog) < max_out)
        wlog++;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog);
    sink_init(&s, out, max_out, inlen);
    for (;;) {
        size_t cap, r;
        uint8_t *dst = sink_next(&s, &cap);
        ZSTD_outBuffer ob;
        if (!dst)
            break;
        ob.dst = dst;
        ob.size = cap;
        ob.pos = 0;
        r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r) || sink_commit(&s, ob.pos, cap) != 0)
            break;
        if (r == 0 && ib.pos == ib.size) { /* last frame complete */
            ok = 1;
            break;
        }
        /* r == 0 with input left: another frame follows. Otherwise, with
         * room left and no input, the frame is truncated. */
        if (r != 0 && ib.pos == ib.size && ob.pos < ob.size)
            break;
    }
    ZSTD_freeDCtx(d);
    return ok ? 0 : -1;
}

static const codec_ops_t zstd_ops = {zstd_init, zstd_fini, zstd_compress, zstd_decompress};
#define ZSTD_OPS (&zstd_ops)
#else
#define ZSTD_OPS NULL
#endif

/* NULL: not built in. */
static const codec_ops_t *const codec_ops[KP_CODEC_COUNT] = {
    [KP_CODEC_NONE] = &none_ops,
    [KP_CODEC_GZIP] = GZIP_OPS,
    [KP_CODEC_SNAPPY] = SNAPPY_OPS,
    [KP_CODEC_LZ4] = LZ4_OPS,
    [KP_CODEC_ZSTD] = ZSTD_OPS,
};

/* ---- public functions --------------------------------------------------- */

int kp_codec_available(int codec) { return known(codec) && codec_ops[codec] != NULL; }

const char *kp_codec_name(int codec) { return known(codec) ? codec_info[codec].name : NULL; }

int kp_codec_from_name(const char *name) {
    if (!name)
        return -1;
    for (int i = 0; i < KP_CODEC_COUNT; i++)
        if (strcmp(name, codec_info[i].name) == 0)
            return i;
    return -1;
}

int kp_codec_level_range(int codec, int *min, int *max, int *def) {
    if (!known(codec))
        return -1;
    if (!codec_info[codec].has_level)
        return 0;
    if (min)
        *min = codec_info[codec].min;
    if (max)
        *max = codec_info[codec].max;
    if (def)
        *def = codec_info[codec].def;
    return 1;
}

int kp_codec_level_valid(int codec, int level) {
    const struct codec_info *ci;

    if (!known(codec))
        return 0;
    if (level == KP_CODEC_LEVEL_DEFAULT)
        return 1;
    ci = &codec_info[codec];
    if (!ci->has_level)
        return 0;
    if (codec == KP_CODEC_GZIP && level == GZIP_DEFAULT_LEVEL)
        return 1;
    return level >= ci->min && level <= ci->max;
}

kp_compressor_t *kp_compressor_new(int codec, int level) {
    kp_compressor_t *c;

    if (!kp_codec_available(codec) || !kp_codec_level_valid(codec, level))
        return NULL;
    if (!(c = kp_calloc(1, sizeof(*c))))
        return NULL;
    c->ops = codec_ops[codec];
    c->codec = codec;
    c->level = level == KP_CODEC_LEVEL_DEFAULT ? codec_info[codec].def : level;
    if (c->ops->init && c->ops->init(c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void kp_compressor_free(kp_compressor_t *c) {
    if (!c)
        return;
    if (c->ops->fini)
        c->ops->fini(c);
    free(c);
}

int kp_compressor_codec(const kp_compressor_t *c) { return c->codec; }

int kp_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out) {
    size_t base;

    if (!c || !out || out->err || (!in && inlen) || inlen > KP_COMPRESS_MAX_INPUT)
        return -1;
    base = out->len;
    if (c->ops->compress(c, in ? in : empty_input, inlen, out) != 0) {
        out->len = base;
        return -1;
    }
    return 0;
}

int kp_decompress(int codec, const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out) {
    size_t base;

    if (!kp_codec_available(codec) || !out || out->err || (!in && inlen))
        return -1;
    base = out->len;
    if (codec_ops[codec]->decompress(in ? in : empty_input, inlen, out, max_out) != 0) {
        out->len = base;
        return -1;
    }
    return 0;
}

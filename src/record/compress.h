/*
 * compress — the four Kafka compression codecs (gzip, snappy, lz4, zstd)
 * behind one small table. Pure codec: bytes in, bytes out. No I/O, no
 * threads, no locks, no knowledge of batches, partitions or brokers.
 *
 * The numbers are the RecordBatch attribute bits 0-2 and the Java
 * `compression.type` names. Each codec is optional at build time
 * (KPROD_WITH_GZIP / _SNAPPY / _LZ4 / _ZSTD, set by cmake/codecs.cmake);
 * kp_codec_available() says which ones this build has. The level ranges are
 * known whether or not a codec was built in, so configuration can validate
 * `compression.<codec>.level` the way the Java client does everywhere.
 *
 * Levels (Java ProducerConfig, KIP-390):
 *   gzip    -1 (zlib's default, 6) or 1..9        default -1
 *   snappy  no level
 *   lz4     1..17                                 default 9 (see compress.c)
 *   zstd    -131072..22                           default 3
 * KP_CODEC_LEVEL_DEFAULT stands for "the codec's default" and is valid for
 * every codec, including those without levels.
 *
 * Threading: a kp_compressor_t is used by one thread at a time (the caller
 * serialises); distinct compressors and the free functions are independent.
 */
#ifndef KP_COMPRESS_H
#define KP_COMPRESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum kp_codec {
    KP_CODEC_NONE = 0,
    KP_CODEC_GZIP = 1,
    KP_CODEC_SNAPPY = 2,
    KP_CODEC_LZ4 = 3,
    KP_CODEC_ZSTD = 4,
};
#define KP_CODEC_COUNT 5

/* "Use the codec's default level" (below every real level of every codec). */
#define KP_CODEC_LEVEL_DEFAULT INT_MIN

/* Largest input kp_compress() takes: a RecordBatch's length is an int32. */
#define KP_COMPRESS_MAX_INPUT ((size_t)INT32_MAX)

/* 1 if this build can compress and decompress with codec (NONE always),
 * 0 if it was not built in or is not a codec number. */
int kp_codec_available(int codec);

/* "none", "gzip", "snappy", "lz4", "zstd"; NULL for an unknown number. */
const char *kp_codec_name(int codec);

/* The codec for a Java compression.type name (exact, lower case), or -1. */
int kp_codec_from_name(const char *name);

/* Level range and default of a codec, whether or not it is built in.
 * Returns 1 and fills *min, *max, *def (each may be NULL) for codecs that
 * take a level (gzip, lz4, zstd); 0 for none and snappy, -1 for an unknown
 * codec. gzip's range is 1..9 with -1 also valid (and its default). */
int kp_codec_level_range(int codec, int *min, int *max, int *def);

/* 1 if level is valid for codec under the Java rules above (always for
 * KP_CODEC_LEVEL_DEFAULT on a known codec; for none and snappy only that),
 * else 0. Does not depend on the codec being built in. */
int kp_codec_level_valid(int codec, int level);

/* ---- compression -------------------------------------------------------- */

typedef struct kp_compressor kp_compressor_t;

/* A reusable compression context for one codec and level (zlib z_stream,
 * LZ4F context, ZSTD_CCtx), meant to be kept and reused for every batch.
 * Returns NULL when the codec is not available, the level is not valid (see
 * kp_codec_level_valid) or memory ran out: callers that want to tell these
 * apart check the first two beforehand. Owned by the caller. */
kp_compressor_t *kp_compressor_new(int codec, int level);
void kp_compressor_free(kp_compressor_t *c); /* NULL is fine */
int kp_compressor_codec(const kp_compressor_t *c);

/* Compress in[0..inlen) as one complete stream/frame in the Kafka wire
 * format of c's codec and append it to out (NONE appends a copy). inlen may
 * be 0 and at most KP_COMPRESS_MAX_INPUT. Returns 0, or -1 with out->len
 * unchanged; out->err set means the failure was an allocation failure,
 * otherwise the codec library refused. The input is not retained. */
int kp_compress(kp_compressor_t *c, const uint8_t *in, size_t inlen, kp_wbuf_t *out);

/* ---- decompression (tests, tools) --------------------------------------- */

/* Decompress one complete compressed stream of codec and append the result
 * to out, producing at most max_out bytes. Accepts what Kafka producers
 * write: gzip (also several members), snappy in the snappy-java ("xerial")
 * framing or raw (as librdkafka writes it), LZ4 frames, zstd frames.
 * Returns 0, or -1 with out->len unchanged when the input is malformed,
 * truncated, has trailing bytes, would exceed max_out, or the codec is not
 * available (out->err set: out of memory). */
int kp_decompress(int codec, const uint8_t *in, size_t inlen, kp_wbuf_t *out, size_t max_out);

#endif

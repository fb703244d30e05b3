/*
 * fuzz_decompress — kp_decompress (compress.c) for each codec built in:
 * gzip (one or more members), snappy (xerial framing or raw), lz4 frames,
 * zstd frames, and none.
 *
 * Input: byte 0 picks the codec (low 3 bits, modulo 5) and, in its high
 * bits, the output limit (from 16 bytes to 1 MiB); the rest is the compressed stream.
 * Checks: the result never exceeds the limit; a failure appends nothing;
 * what was already in the output buffer is kept.
 */
#include <string.h>

#include "record/compress.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int codec = (data[0] & 7) % KP_CODEC_COUNT;
    size_t max_out = (size_t)16 << ((data[0] >> 3) % 17); /* 16 B .. 1 MiB */
    if (!kp_codec_available(codec))
        return 0;
    static const uint8_t prefix[3] = {0xde, 0xad, 0x01};
    kp_wbuf_t out;
    kp_wbuf_init(&out, 64);
    kp_w_bytes_raw(&out, prefix, sizeof(prefix));
    if (out.err) {
        kp_wbuf_free(&out);
        return 0;
    }
    int rc = kp_decompress(codec, data + 1, size - 1, &out, max_out);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(out.len >= sizeof(prefix) && memcmp(out.p, prefix, sizeof(prefix)) == 0);
    if (rc != 0)
        FUZZ_CHECK(out.len == sizeof(prefix));
    else
        FUZZ_CHECK(out.len - sizeof(prefix) <= max_out);
    if (rc == 0 && codec == KP_CODEC_NONE)
        FUZZ_CHECK(out.len - sizeof(prefix) == size - 1 &&
                   memcmp(out.p + sizeof(prefix), data + 1, size - 1) == 0);
    kp_wbuf_free(&out);
    return 0;
}

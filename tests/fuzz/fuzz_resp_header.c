/*
 * fuzz_resp_header — kp_proto_resp_header (protocol.c), the response header
 * every response starts with: v0 (correlation id) or, for flexible
 * versions other than ApiVersions, v1 (plus a tagged-field section).
 *
 * Input: byte 0 picks the API (Produce, Metadata, ApiVersions,
 * InitProducerId), byte 1 the version (0..12, flexible ones included); the
 * rest is the frame after its size field.
 */
#include "fuzz.h"
#include "proto/protocol.h"

static const int16_t apis[] = {KP_API_PRODUCE, KP_API_METADATA, KP_API_API_VERSIONS,
                               KP_API_INIT_PRODUCER_ID};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    int16_t api = apis[data[0] % 4];
    int16_t ver = (int16_t)(data[1] % 13);
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 2, size - 2, 0);
    int32_t corrid = kp_proto_resp_header(&r, api, ver);
    int flex = kp_proto_is_flexible(api, ver);
    FUZZ_CHECK(r.off <= r.len);
    FUZZ_CHECK(r.flex == flex);
    if (r.err)
        return 0;
    FUZZ_CHECK(corrid == (int32_t)kp_get_be32(data + 2));
    if (!flex || api == KP_API_API_VERSIONS)
        FUZZ_CHECK(r.off == 4);
    else
        FUZZ_CHECK(r.off > 4);
    return 0;
}

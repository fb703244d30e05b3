/*
 * fuzz_initpid — kp_initpid_resp (protocol.c) after the response header, as
 * idempotence.c reads an InitProducerId answer.
 *
 * Input: byte 0 picks the version (0..codec max, 5, and one beyond, which
 * must be refused; flexible from 2); the rest is the frame after its size
 * field.
 */
#include "fuzz.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int16_t cmax = kp_proto_codec_max(KP_API_INIT_PRODUCER_ID);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_INIT_PRODUCER_ID, ver);
    if (r.err)
        return 0;
    size_t body = r.off;
    kp_initpid_resp_t out;
    int rc = kp_initpid_resp(&r, ver, &out);
    FUZZ_CHECK(r.off <= r.len);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == !r.err);
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
    if (rc == 0) /* throttle, error, producer id, epoch: 16 bytes at least */
        FUZZ_CHECK(r.off - body >= 16u + (ver >= 2));
    return 0;
}

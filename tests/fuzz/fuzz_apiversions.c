/*
 * fuzz_apiversions — kp_apiversions_resp (protocol.c) after the response
 * header, as conn.c's dispatch() reads an ApiVersions answer.
 *
 * Input: byte 0 picks the version asked for (0..codec max, 4, and one
 * beyond, which must be refused; 3+ is the flexible body, the header stays
 * v0); the rest is the frame after its size field. Checks the contract
 * protocol.h gives: -1 exactly when malformed, with every range -1/-1;
 * otherwise the broker's code (never -1), entries that fit the input, a
 * finalized transaction.version only in a v3+ success, and
 * negotiation (kp_proto_pick, kp_proto_pick_upto) inside our and the
 * codec's ranges and the broker's.
 */
#include "fuzz.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int16_t cmax = kp_proto_codec_max(KP_API_API_VERSIONS);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_API_VERSIONS, ver);
    if (r.err)
        return 0;
    kp_api_range_t ranges[KP_API_COUNT];
    kp_features_t feat;
    int err = kp_apiversions_resp(&r, ver, ranges, &feat);
    /* features only with a success; none before the flexible v3 */
    if (err != 0 || ver < 3)
        FUZZ_CHECK(feat.transaction_version == 0);
    FUZZ_CHECK(r.off <= r.len);
    /* the broker's error code as kp_err_from_kafka maps it (never -1), or
     * -1 when malformed (r.err set) */
    FUZZ_CHECK(err >= INT16_MIN && err <= INT16_MAX);
    if (ver > cmax)
        FUZZ_CHECK(err == -1);
    if (r.err) {
        FUZZ_CHECK(err == -1);
        for (int i = 0; i < KP_API_COUNT; i++)
            FUZZ_CHECK(ranges[i].min == -1 && ranges[i].max == -1);
        return 0;
    }
    FUZZ_CHECK(err != -1);
    /* every entry is filled: -1/-1 or what the broker sent */
    size_t offered = 0;
    for (int i = 0; i < KP_API_COUNT; i++) {
        int16_t bmin = ranges[i].min, bmax = ranges[i].max;
        if (bmin != -1 || bmax != -1)
            offered++;
        /* picking a version never goes outside our own range nor the
         * broker's */
        int16_t v = kp_proto_pick((int16_t)i, bmin, bmax);
        FUZZ_CHECK(v == -1 || (v >= kp_proto_our_min((int16_t)i) &&
                               v <= kp_proto_our_max((int16_t)i) && v >= bmin && v <= bmax));
        int16_t u = kp_proto_pick_upto((int16_t)i, bmin, bmax, INT16_MAX);
        FUZZ_CHECK(u == -1 || (u >= kp_proto_our_min((int16_t)i) &&
                               u <= kp_proto_codec_max((int16_t)i) && u >= bmin && u <= bmax));
        FUZZ_CHECK(u >= v);
    }
    /* an entry is 6 bytes (7 flexible); the error code 2 */
    FUZZ_CHECK(offered * 6 + 2 <= size);
    return 0;
}

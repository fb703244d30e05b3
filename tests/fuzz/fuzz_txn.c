/*
 * fuzz_txn — the decoders of txn.c after the response header, as the
 * transaction engine reads the answers: kp_findcoord_resp,
 * kp_addparts_resp, kp_addoffsets_resp, kp_txncommit_resp (with
 * kp_addparts_resp_free) and kp_endtxn_resp.
 *
 * Input: byte 0 picks the decoder (mod 5), byte 1 the version (mod the
 * API's codec max + 2: every version the codec knows and one beyond, which
 * must be refused); the rest is the frame after its size field. Checks:
 * 0 exactly when the cursor has no error, -1 beyond the codec, strings
 * inside the input, partition counts the input can hold (6 bytes each),
 * nothing allocated after a failure, EndTxn's producer id and epoch -1
 * before v5.
 */
#include "fuzz.h"
#include "proto/protocol.h"
#include "proto/txn.h"

static const int16_t apis[] = {KP_API_FIND_COORDINATOR, KP_API_ADD_PARTITIONS_TO_TXN,
                               KP_API_ADD_OFFSETS_TO_TXN, KP_API_TXN_OFFSET_COMMIT,
                               KP_API_END_TXN};

/* s..s+len inside the input, or s NULL with len -1 */
static int str_ok(const char *s, int32_t len, const uint8_t *data, size_t size) {
    if (!s)
        return len == -1;
    return len >= 0 && fuzz_within(s, (size_t)len, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    int sel = data[0] % 5;
    int16_t api = apis[sel];
    int16_t cmax = kp_proto_codec_max(api);
    int16_t ver = (int16_t)(data[1] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 2, size - 2, 0);
    (void)kp_proto_resp_header(&r, api, ver);
    if (r.err)
        return 0;
    size_t body = r.off;
    int rc = -1;
    switch (api) {
    case KP_API_FIND_COORDINATOR: {
        kp_findcoord_resp_t out;
        rc = kp_findcoord_resp(&r, ver, &out);
        if (rc == 0) {
            /* (a null Host is taken in an error answer only) */
            FUZZ_CHECK((out.host || out.err) && str_ok(out.host, out.host_len, data, size));
            FUZZ_CHECK(str_ok(out.error_message, out.error_message_len, data, size));
            FUZZ_CHECK(ver >= 4 ? out.key != NULL : out.key == NULL);
            FUZZ_CHECK(str_ok(out.key, out.key_len, data, size));
        } else {
            FUZZ_CHECK(!out.host && !out.key && !out.error_message);
        }
        break;
    }
    case KP_API_ADD_PARTITIONS_TO_TXN:
    case KP_API_TXN_OFFSET_COMMIT: {
        kp_addparts_resp_t out;
        rc = api == KP_API_TXN_OFFSET_COMMIT ? kp_txncommit_resp(&r, ver, &out)
                                             : kp_addparts_resp(&r, ver, &out);
        if (rc == 0) {
            FUZZ_CHECK(out.nparts >= 0);
            FUZZ_CHECK((out.nparts == 0) == (out.parts == NULL));
            FUZZ_CHECK((size_t)out.nparts * 6 <= r.off - body);
            for (int32_t i = 0; i < out.nparts; i++)
                FUZZ_CHECK(out.parts[i].topic &&
                           str_ok(out.parts[i].topic, out.parts[i].topic_len, data, size));
        } else {
            FUZZ_CHECK(out.parts == NULL && out.nparts == 0);
        }
        kp_addparts_resp_free(&out);
        break;
    }
    case KP_API_ADD_OFFSETS_TO_TXN: {
        int16_t err = 1;
        rc = kp_addoffsets_resp(&r, ver, &err);
        if (rc != 0)
            FUZZ_CHECK(err == 0);
        break;
    }
    case KP_API_END_TXN: {
        kp_endtxn_resp_t out;
        rc = kp_endtxn_resp(&r, ver, &out);
        if (rc != 0 || ver < 5)
            FUZZ_CHECK(out.pid == -1 && out.epoch == -1);
        if (rc != 0)
            FUZZ_CHECK(out.err == 0);
        break;
    }
    }
    FUZZ_CHECK(r.off <= r.len);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == !r.err);
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
    return 0;
}

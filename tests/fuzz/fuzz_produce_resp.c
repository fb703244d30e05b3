/*
 * fuzz_produce_resp — kp_produce_resp / kp_produce_resp_free (protocol.c)
 * after the response header, as sender.c reads a Produce answer.
 *
 * Input: byte 0 picks the version (0..11: kprod sends 3..8, the flexible
 * 9+ form is coded too); the rest is the frame after its size field.
 * Checks: a failure leaves the struct empty, counts fit the input, topic
 * names point into the input.
 */
#include "fuzz.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int16_t ver = (int16_t)(data[0] % 12);
    const uint8_t *frame = data + 1;
    size_t flen = size - 1;
    kp_rbuf_t r;
    kp_rbuf_init(&r, frame, flen, 0);
    (void)kp_proto_resp_header(&r, KP_API_PRODUCE, ver);
    if (r.err)
        return 0;
    kp_produce_resp_t pr;
    int rc = kp_produce_resp(&r, ver, &pr);
    FUZZ_CHECK(r.off <= r.len);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(pr.ntopics == 0 && !pr.topics);
        return 0;
    }
    FUZZ_CHECK(!r.err);
    FUZZ_CHECK(pr.ntopics >= 0 && (size_t)pr.ntopics * 6 <= flen);
    FUZZ_CHECK((pr.ntopics == 0) == (pr.topics == NULL));
    size_t parts = 0;
    for (int32_t i = 0; i < pr.ntopics; i++) {
        const kp_produce_tresp_t *t = &pr.topics[i];
        if (t->name_len < 0) {
            FUZZ_CHECK(t->name_len == -1 && t->name == NULL);
        } else {
            FUZZ_CHECK(t->name != NULL);
            FUZZ_CHECK(fuzz_within(t->name, (size_t)t->name_len, frame, flen));
        }
        FUZZ_CHECK(t->nparts >= 0);
        FUZZ_CHECK((t->nparts == 0) == (t->parts == NULL));
        parts += (size_t)t->nparts;
        for (int32_t j = 0; j < t->nparts; j++) {
            FUZZ_CHECK(ver >= 2 || t->parts[j].log_append_time == -1);
            FUZZ_CHECK(ver >= 5 || t->parts[j].log_start_offset == -1);
        }
    }
    FUZZ_CHECK(parts * 14 <= flen);
    kp_produce_resp_free(&pr);
    FUZZ_CHECK(pr.ntopics == 0 && !pr.topics);
    return 0;
}

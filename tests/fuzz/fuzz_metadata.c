/*
 * fuzz_metadata — kp_metadata_resp / kp_metadata_resp_free (protocol.c)
 * after the response header, as sender.c reads a Metadata answer.
 *
 * Input: byte 0 picks the version (0..12: kprod asks for 1..8, the
 * flexible 9+ and TopicId 10+ forms are coded too); the rest is the frame
 * after its size field. Checks: a failure leaves the struct empty, counts
 * fit the input (the decoder must never allocate for a hostile length),
 * strings are NUL-terminated copies no longer than the input.
 */
#include <string.h>

#include "fuzz.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int16_t ver = (int16_t)(data[0] % 13);
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_METADATA, ver);
    if (r.err)
        return 0;
    kp_md_resp_t m;
    int rc = kp_metadata_resp(&r, ver, &m);
    FUZZ_CHECK(r.off <= r.len);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(m.nbrokers == 0 && !m.brokers && m.ntopics == 0 && !m.topics);
        return 0;
    }
    FUZZ_CHECK(!r.err);
    FUZZ_CHECK(m.nbrokers >= 0 && m.ntopics >= 0);
    FUZZ_CHECK((size_t)m.nbrokers * 10 <= size && (size_t)m.ntopics * 8 <= size);
    FUZZ_CHECK((m.nbrokers == 0) == (m.brokers == NULL));
    FUZZ_CHECK((m.ntopics == 0) == (m.topics == NULL));
    FUZZ_CHECK(ver >= 1 || m.controller_id == -1);
    for (int32_t i = 0; i < m.nbrokers; i++) {
        FUZZ_CHECK(m.brokers[i].host != NULL);
        FUZZ_CHECK(strlen(m.brokers[i].host) < size);
    }
    size_t parts = 0;
    for (int32_t i = 0; i < m.ntopics; i++) {
        const kp_md_topic_t *t = &m.topics[i];
        FUZZ_CHECK(t->name != NULL);
        FUZZ_CHECK(strlen(t->name) < size);
        FUZZ_CHECK(t->npartitions >= 0);
        FUZZ_CHECK((t->npartitions == 0) == (t->partitions == NULL));
        parts += (size_t)t->npartitions;
        for (int32_t j = 0; j < t->npartitions; j++)
            FUZZ_CHECK(ver >= 7 || t->partitions[j].leader_epoch == -1);
    }
    FUZZ_CHECK(parts * 14 <= size);
    kp_metadata_resp_free(&m);
    FUZZ_CHECK(m.nbrokers == 0 && !m.brokers && m.ntopics == 0 && !m.topics);
    return 0;
}

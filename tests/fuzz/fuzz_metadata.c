/*
 * fuzz_metadata — kp_metadata_resp / kp_metadata_resp_free (protocol.c)
 * after the response header, as metadata.c reads a Metadata answer.
 *
 * Input: byte 0 picks the version (0..codec max, 12, and one beyond, which
 * must be refused; flexible from 9, TopicId from 10, nullable names from
 * 12); the rest is the frame after its size field. Checks: a failure
 * leaves the struct empty, counts fit the input (the decoder must never
 * allocate for a hostile length), strings are NUL-terminated copies no
 * longer than the input, fields a version lacks keep their defaults.
 */
#include <string.h>

#include "fuzz.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t zero_id[KP_UUID_LEN];
    if (size < 1)
        return 0;
    int16_t cmax = kp_proto_codec_max(KP_API_METADATA);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_METADATA, ver);
    if (r.err)
        return 0;
    kp_md_resp_t m;
    int rc = kp_metadata_resp(&r, ver, &m);
    FUZZ_CHECK(r.off <= r.len);
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
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
    FUZZ_CHECK(ver >= 3 || m.throttle_ms == 0);
    for (int32_t i = 0; i < m.nbrokers; i++) {
        FUZZ_CHECK(m.brokers[i].host != NULL);
        FUZZ_CHECK(strlen(m.brokers[i].host) < size);
    }
    size_t parts = 0;
    for (int32_t i = 0; i < m.ntopics; i++) {
        const kp_md_topic_t *t = &m.topics[i];
        FUZZ_CHECK(t->name != NULL);
        FUZZ_CHECK(strlen(t->name) < size);
        FUZZ_CHECK(ver >= 10 || !memcmp(t->topic_id, zero_id, KP_UUID_LEN));
        FUZZ_CHECK(t->is_internal == 0 || t->is_internal == 1);
        FUZZ_CHECK(ver >= 1 || t->is_internal == 0);
        FUZZ_CHECK(ver >= 8 || t->authorized_ops == INT32_MIN);
        FUZZ_CHECK(t->npartitions >= 0);
        FUZZ_CHECK((t->npartitions == 0) == (t->partitions == NULL));
        parts += (size_t)t->npartitions;
        for (int32_t j = 0; j < t->npartitions; j++) {
            const kp_md_partition_t *p = &t->partitions[j];
            FUZZ_CHECK(ver >= 7 || p->leader_epoch == -1);
            FUZZ_CHECK(ver >= 5 || p->noffline == 0);
            FUZZ_CHECK(p->nreplicas >= 0 && p->nisr >= 0 && p->noffline >= 0);
            FUZZ_CHECK(((size_t)p->nreplicas + p->nisr + p->noffline) * 4 <= size);
        }
    }
    FUZZ_CHECK(parts * 14 <= size);
    kp_metadata_resp_free(&m);
    FUZZ_CHECK(m.nbrokers == 0 && !m.brokers && m.ntopics == 0 && !m.topics);
    return 0;
}

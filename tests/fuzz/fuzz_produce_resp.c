/*
 * fuzz_produce_resp — kp_produce_resp / kp_produce_resp_free /
 * kp_produce_resp_node (protocol.c) after the response header, as
 * produce.c reads a Produce answer.
 *
 * Input: byte 0 picks the version (0..codec max, 10, and one beyond, which
 * must be refused; RecordErrors and ErrorMessage from 8, flexible from 9,
 * CurrentLeader and NodeEndpoints tags from 10); the rest is the frame
 * after its size field. Checks: a failure leaves the struct empty, counts
 * fit the input, every string points into the input, fields a version
 * lacks keep their defaults.
 */
#include "fuzz.h"
#include "proto/protocol.h"

/* A string the decoder returned: NULL with -1, or inside the frame. */
static void check_str(const char *s, int32_t len, const uint8_t *frame, size_t flen) {
    if (len < 0) {
        FUZZ_CHECK(len == -1 && s == NULL);
    } else {
        FUZZ_CHECK(s != NULL);
        FUZZ_CHECK(fuzz_within(s, (size_t)len, frame, flen));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int16_t cmax = kp_proto_codec_max(KP_API_PRODUCE);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
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
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(pr.ntopics == 0 && !pr.topics && pr.nnodes == 0 && !pr.nodes);
        return 0;
    }
    FUZZ_CHECK(!r.err);
    FUZZ_CHECK(pr.ntopics >= 0 && (size_t)pr.ntopics * 6 <= flen);
    FUZZ_CHECK((pr.ntopics == 0) == (pr.topics == NULL));
    FUZZ_CHECK(ver >= 1 || pr.throttle_ms == 0);
    size_t parts = 0, rec_errs = 0;
    for (int32_t i = 0; i < pr.ntopics; i++) {
        const kp_produce_tresp_t *t = &pr.topics[i];
        check_str(t->name, t->name_len, frame, flen);
        FUZZ_CHECK(t->nparts >= 0);
        FUZZ_CHECK((t->nparts == 0) == (t->parts == NULL));
        parts += (size_t)t->nparts;
        for (int32_t j = 0; j < t->nparts; j++) {
            const kp_produce_presp_t *p = &t->parts[j];
            FUZZ_CHECK(ver >= 2 || p->log_append_time == -1);
            FUZZ_CHECK(ver >= 5 || p->log_start_offset == -1);
            FUZZ_CHECK(p->nrecord_errors >= 0);
            FUZZ_CHECK((p->nrecord_errors == 0) == (p->record_errors == NULL));
            FUZZ_CHECK(ver >= 8 || (p->nrecord_errors == 0 && p->error_message_len == -1));
            FUZZ_CHECK(ver >= 10 || (p->leader_id == -1 && p->leader_epoch == -1));
            check_str(p->error_message, p->error_message_len, frame, flen);
            rec_errs += (size_t)p->nrecord_errors;
            for (int32_t k = 0; k < p->nrecord_errors; k++)
                check_str(p->record_errors[k].msg, p->record_errors[k].msg_len, frame, flen);
        }
    }
    FUZZ_CHECK(parts * 14 <= flen);
    FUZZ_CHECK(rec_errs * 6 <= flen);
    FUZZ_CHECK(pr.nnodes >= 0 && (size_t)pr.nnodes * 11 <= flen);
    FUZZ_CHECK((pr.nnodes == 0) == (pr.nodes == NULL));
    FUZZ_CHECK(ver >= 10 || pr.nnodes == 0);
    for (int32_t i = 0; i < pr.nnodes; i++) {
        const kp_produce_node_t *n = &pr.nodes[i];
        FUZZ_CHECK(n->host_len >= 0);
        check_str(n->host, n->host_len, frame, flen);
        check_str(n->rack, n->rack_len, frame, flen);
        const kp_produce_node_t *found = kp_produce_resp_node(&pr, n->node_id);
        FUZZ_CHECK(found != NULL && found <= n && found->node_id == n->node_id);
    }
    kp_produce_resp_free(&pr);
    FUZZ_CHECK(pr.ntopics == 0 && !pr.topics && pr.nnodes == 0 && !pr.nodes);
    return 0;
}

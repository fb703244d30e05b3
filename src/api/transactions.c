/*
 * transactions — the transactional calls of kprod.h, on the transaction
 * manager (engine/txn.c, whose essay has the state machine); each call's
 * time goes to its txn-*-time-ns-total metric.
 */
#include "base/util.h"
#include "engine/internal.h"
#include "engine/metrics.h"

/* Time a call into metric which (p may be NULL: the call says so). */
#define TIMED(p, which, call)                                                                 \
    do {                                                                                      \
        int64_t from_ = kp_mono_us();                                                         \
        kp_err_t e_ = (call);                                                                 \
        if (p)                                                                                \
            kp_stat_add_mt(kp_mstat(p, which), (kp_mono_us() - from_) * 1000);               \
        return e_;                                                                            \
    } while (0)

kp_err_t kp_init_transactions(kp_producer_t *p, int64_t timeout_ms) {
    TIMED(p, KP_M_TXN_INIT, kp_txn_call(p, KP_TXN_OP_INIT, timeout_ms));
}

kp_err_t kp_begin_transaction(kp_producer_t *p) { TIMED(p, KP_M_TXN_BEGIN, kp_txn_begin(p)); }

kp_err_t kp_send_offsets_to_transaction(kp_producer_t *p, const kp_offset_t *offsets,
                                        size_t count, const kp_group_metadata_t *group,
                                        int64_t timeout_ms) {
    TIMED(p, KP_M_TXN_OFFSETS, kp_txn_offsets(p, offsets, count, group, timeout_ms));
}

kp_err_t kp_commit_transaction(kp_producer_t *p, int64_t timeout_ms) {
    TIMED(p, KP_M_TXN_COMMIT, kp_txn_call(p, KP_TXN_OP_COMMIT, timeout_ms));
}

kp_err_t kp_abort_transaction(kp_producer_t *p, int64_t timeout_ms) {
    TIMED(p, KP_M_TXN_ABORT, kp_txn_call(p, KP_TXN_OP_ABORT, timeout_ms));
}

kp_err_t kp_txn_error(kp_producer_t *p) { return kp_txn_last_error(p); }

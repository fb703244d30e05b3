/*
 * transactions — the transactional calls of kprod.h, on the transaction
 * manager (engine/txn.c, whose essay has the state machine).
 */
#include "engine/internal.h"

kp_err_t kp_init_transactions(kp_producer_t *p, int64_t timeout_ms) {
    return kp_txn_call(p, KP_TXN_OP_INIT, timeout_ms);
}

kp_err_t kp_begin_transaction(kp_producer_t *p) { return kp_txn_begin(p); }

kp_err_t kp_send_offsets_to_transaction(kp_producer_t *p, const kp_offset_t *offsets,
                                        size_t count, const kp_group_metadata_t *group,
                                        int64_t timeout_ms) {
    return kp_txn_offsets(p, offsets, count, group, timeout_ms);
}

kp_err_t kp_commit_transaction(kp_producer_t *p, int64_t timeout_ms) {
    return kp_txn_call(p, KP_TXN_OP_COMMIT, timeout_ms);
}

kp_err_t kp_abort_transaction(kp_producer_t *p, int64_t timeout_ms) {
    return kp_txn_call(p, KP_TXN_OP_ABORT, timeout_ms);
}

kp_err_t kp_txn_error(kp_producer_t *p) { return kp_txn_last_error(p); }

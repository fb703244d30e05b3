/*
 * engine — what the parts of the I/O thread offer each other (sender.c's
 * essay says which part does what). Everything here runs on the I/O thread
 * only and touches the "sender-owned" state of internal.h.
 */
#ifndef KP_ENGINE_H
#define KP_ENGINE_H

#include "net/conn.h"
#include "engine/internal.h"

/* ---- sender.c: the connections ---- */
/* The ready connection with the fewest requests, or NULL; api: an API the
 * broker must offer, or -1. */
kp_conn_t *kp_pick_ready_conn(kp_producer_t *p, int api);
/* Nothing ready: have some connection being set up (backoff respected);
 * *next lowered to when to look again. */
void kp_ensure_connecting(kp_producer_t *p, int64_t now, int64_t *next);

/* ---- metadata.c: the cluster view ---- */
/* A metadata request if one is due and none is in flight; *next lowered. */
void kp_md_maybe(kp_producer_t *p, int64_t now, int64_t *next);
/* metadata.recovery.strategy=rebootstrap (KIP-899, KIP-1102): start again
 * from bootstrap.servers when no known broker can be reached, when no
 * metadata came for metadata.recovery.rebootstrap.trigger.ms while some
 * was wanted, or when a broker said REBOOTSTRAP_REQUIRED. *next is lowered
 * to when the time trigger is due. */
void kp_md_maybe_rebootstrap(kp_producer_t *p, int64_t now, int64_t *next);
/* The connection of broker node_id, or NULL. */
kp_conn_t *kp_broker_conn(kp_producer_t *p, int32_t node_id);
/* Learn a broker (or its new address) from metadata or a Produce answer. */
kp_err_t kp_md_broker(kp_producer_t *p, const kp_md_broker_t *mb);
/* A partition's leader as someone says it is: taken unless its epoch is
 * older than the one we know (stale metadata never moves a partition back
 * to an old leader). Returns whether the leader changed. */
int kp_md_set_leader(kp_producer_t *p, kp_tp_t *tp, int32_t leader, int32_t epoch,
                     const char *source);

/* ---- idempotence.c ---- */
/* The broker refused a batch because of our producer state (not written). */
int kp_idem_is_pid_error(kp_err_t err);
/* The partition sequences can no longer be trusted: a new producer id. */
void kp_idem_new_pid(kp_producer_t *p, const char *why);
/* b's sequence range will not be written as it was sent (it failed, or its
 * outcome is unknown): if it belongs to the current producer id, the
 * partitions' sequences cannot be trusted and a new id is taken. */
void kp_idem_gap(kp_producer_t *p, const kp_batch_t *b, const char *why);
/* InitProducerId if one is needed and none is in flight; *next lowered. */
void kp_idem_maybe(kp_producer_t *p, int64_t now, int64_t *next);
/* Give a batch about to be sent first its sequence numbers. */
void kp_idem_assign(kp_producer_t *p, kp_tp_t *tp, kp_batch_t *b);

/* ---- txn.c: the transaction manager's I/O side ---- */
/* The transactional call under way, a step at a time (one request in
 * flight); AddPartitionsToTxn for partitions waiting; *next lowered. */
void kp_txn_maybe(kp_producer_t *p, int64_t now, int64_t *next);
/* May tp's batches be sent in the transaction (it joined)? If not, it is
 * put on the list for AddPartitionsToTxn (transactions v2: it joins with
 * its first Produce, and may go). */
int kp_txn_part_ready(kp_producer_t *p, kp_tp_t *tp);
/* Queued batches fail with this instead of being sent (0: they are sent):
 * KP_ERR_TXN_ABORTED while the transaction is being aborted or must be;
 * KP_ERR_TXN_STATE when none is open (records of a send that raced a
 * commit or abort: they belong to no transaction). */
kp_err_t kp_txn_failing_queued(const kp_producer_t *p);
/* The producer closes with nothing left to send: 1 while a transactional
 * call is still under way, or a transaction is open, which is then
 * aborted (as Java's close: "Aborting incomplete transaction due to
 * shutdown"); 0: the I/O thread may stop. */
int kp_txn_closing(kp_producer_t *p);
/* The I/O thread stops: a call still under way ends with KP_ERR_CLOSED. */
void kp_txn_closed(kp_producer_t *p);
/* The transaction's state by Java's name (statistics). */
const char *kp_txn_state_name(const kp_producer_t *p);
/* A record of the transaction failed with err (not an abort's own): the
 * transaction becomes abortable, or the producer fails (fenced...). */
void kp_txn_record_failed(kp_producer_t *p, kp_err_t err);
/* A sequenced batch will not be written as sent: a new epoch after the
 * abort (KIP-360), instead of an idempotent producer's new id. */
void kp_txn_seq_gap(kp_producer_t *p);

/* ---- produce.c ---- */
/* The outcome of one attempt at a batch (ambiguous: it may have been
 * written): complete it, retry it, or split it. */
void kp_prod_result(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                    int64_t log_append_time, int ambiguous);
/* One Produce request for c carrying bs[0..n) (one per partition); NULL
 * when memory runs out (the caller keeps the batches). */
kp_req_t *kp_prod_build(kp_producer_t *p, kp_conn_t *c, kp_batch_t **bs, int n, int64_t now);
/* Make a batch ready to go to c (compression); an error fails it. */
kp_err_t kp_prod_prepare(kp_producer_t *p, kp_conn_t *c, kp_batch_t *b);
/* delivery.timeout.ms for the batches in flight; *next lowered. */
void kp_prod_expire(kp_producer_t *p, int64_t now, int64_t *next);

/* ---- drain.c ---- */
/* Scan the partitions with batches: expire, and send what is ready.
 * Returns when something next becomes due. */
int64_t kp_drain_scan(kp_producer_t *p, int64_t now);

#endif

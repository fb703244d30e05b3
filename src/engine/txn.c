/*
 * txn — the transaction manager (the Java producer's TransactionManager):
 * the transactional state machine, the application's calls, and the
 * requests the I/O thread makes for them.
 *
 * States (kp_txn_state_t) and who moves them:
 *
 *   UNINIT --init--> INITIALIZING --InitProducerId--> READY --begin--> IN_TXN
 *   IN_TXN --commit--> COMMITTING --EndTxn(commit)--> READY
 *   IN_TXN | ABORTABLE --abort--> ABORTING --EndTxn(abort) [+ new epoch]--> READY
 *   IN_TXN | COMMITTING --a record failed, TRANSACTION_ABORTABLE--> ABORTABLE
 *   any --PRODUCER_FENCED, not authorised, INVALID_TXN_STATE...--> FATAL
 *
 * The application moves the state when a call starts (under txn.lock), the
 * I/O thread when a call's requests end; kp_send reads it without the lock
 * (only IN_TXN may send). One call is under way at a time (txn.op); a call
 * that timed out stays under way and the same call resumes it (as
 * librdkafka since 2.0); another call then is KP_ERR_TXN_STATE, as Java's.
 *
 * The I/O thread (kp_txn_maybe, once a loop turn, one request in flight at
 * a time): the coordinator by FindCoordinator (key type 1), InitProducerId
 * with the transactional id on it (which fences older producers with the
 * id), AddPartitionsToTxn for the partitions the scan found with a first
 * batch (kp_txn_part_ready: a partition's batches wait until it is added),
 * AddOffsetsToTxn then TxnOffsetCommit on the group's coordinator, and
 * EndTxn. Commit holds p->flushing up (linger.ms off), waits until every
 * record completed, and asks for EndTxn only when nothing failed (else
 * KP_ERR_TXN_ABORTABLE). Abort fails the queued batches (the scan:
 * KP_ERR_TXN_ABORTED), waits for those in flight, then EndTxn(abort) and,
 * when the sequences cannot be trusted or the broker aborted the
 * transaction itself, InitProducerId again for a new epoch (KIP-360).
 *
 * Transactions v2 (KIP-890 part 2): when the coordinator's finalized
 * transaction.version is 2 or more (ApiVersions v3) and it offers Produce
 * v12 and EndTxn v5, partitions join the transaction with their first
 * Produce (v12), TxnOffsetCommit needs no AddOffsetsToTxn, and every EndTxn
 * answers with the producer id and epoch to use next. Gated on the feature,
 * not on the advertised Produce version (franz-go issue #1017).
 *
 * Errors are handled by kp_err_class: retriable ones are retried here (the
 * coordinator found again for NOT_COORDINATOR; CONCURRENT_TRANSACTIONS on
 * AddPartitionsToTxn after 20 ms, as Java), abortable ones make the
 * transaction abortable, fatal ones the producer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "net/conn.h"
#include "base/util.h"

static const kp_req_ops_t findcoord_txn_ops, findcoord_group_ops, initpid_ops, addparts_ops,
    addoffsets_ops, txncommit_ops, endtxn_ops;

/* Java's retryBackoffMs for CONCURRENT_TRANSACTIONS on AddPartitionsToTxn
 * (TransactionManager: the coordinator finishes the last transaction's
 * markers within milliseconds) */
#define KP_TXN_CONCURRENT_BACKOFF_MS 20

static const char *state_name(int st) {
    static const char *const names[] = {"UNINITIALIZED", "INITIALIZING", "READY",
                                        "IN_TRANSACTION", "COMMITTING_TRANSACTION",
                                        "ABORTING_TRANSACTION", "ABORTABLE_ERROR",
                                        "FATAL_ERROR"};
    return st >= 0 && st <= KP_TXN_FATAL ? names[st] : "?";
}

static const char *op_name(int op) {
    static const char *const names[] = {"none", "init_transactions", "commit_transaction",
                                        "abort_transaction", "send_offsets_to_transaction"};
    return op >= 0 && op <= KP_TXN_OP_OFFSETS ? names[op] : "?";
}

static int get_state(const kp_producer_t *p) { return atomic_load(&p->txn.state); }

/* (txn.lock held) */
static void set_state(kp_producer_t *p, int st) {
    int old = get_state(p);
    if (old == st)
        return;
    kp_log(p, 7, "transaction state %s -> %s", state_name(old), state_name(st));
    atomic_store(&p->txn.state, st);
    pthread_cond_broadcast(&p->txn.cond);
}

/* ---------------------------------------------------------------- application side */

void kp_txn_init(kp_producer_t *p) {
    kp_txn_t *t = &p->txn;
    pthread_mutex_init(&t->lock, NULL);
    kp_cond_init_mono(&t->cond);
    t->coord = -1;
    t->group_coord = -1;
}

static void free_offsets(kp_txn_t *t) {
    for (int32_t i = 0; i < t->noffs; i++) {
        free((char *)t->offs[i].topic);
        free((char *)t->offs[i].metadata);
    }
    free(t->offs);
    t->offs = NULL;
    t->noffs = 0;
    free(t->group_id);
    free(t->member_id);
    free(t->group_instance_id);
    t->group_id = t->member_id = t->group_instance_id = NULL;
}

void kp_txn_destroy(kp_producer_t *p) {
    kp_txn_t *t = &p->txn;
    free_offsets(t);
    free(t->parts);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

kp_err_t kp_txn_may_send(kp_producer_t *p) {
    int st = atomic_load_explicit(&p->txn.state, memory_order_relaxed);
    if (st == KP_TXN_IN_TXN)
        return KP_OK;
    if (st == KP_TXN_ABORTABLE)
        return KP_ERR_TXN_ABORTABLE;
    int fatal = atomic_load(&p->fatal_err);
    return fatal ? (kp_err_t)fatal : KP_ERR_TXN_STATE;
}

kp_err_t kp_txn_last_error(kp_producer_t *p) {
    if (!p || !p->txn.enabled)
        return KP_OK;
    pthread_mutex_lock(&p->txn.lock);
    kp_err_t e = p->txn.error;
    pthread_mutex_unlock(&p->txn.lock);
    return e;
}

/* A call that is not allowed now (nothing changes): say why, once per
 * call, at the level of a caller's bug. */
static kp_err_t misuse(kp_producer_t *p, int op, const char *why) {
    kp_log(p, 4, "%s: not allowed in state %s%s%s",
           op == KP_TXN_OP_NONE ? "begin_transaction" : op_name(op), state_name(get_state(p)),
           why ? ": " : "", why ? why : "");
    return KP_ERR_TXN_STATE;
}

/* Start call op (txn.lock held): the state it moves to, or the error it
 * returns at once. */
static kp_err_t start_op(kp_producer_t *p, int op) {
    int st = get_state(p);
    if (st == KP_TXN_FATAL)
        return p->txn.error;
    switch (op) {
    case KP_TXN_OP_INIT:
        if (st != KP_TXN_UNINIT)
            return misuse(p, op, "init_transactions is called once");
        set_state(p, KP_TXN_INITIALIZING);
        return KP_OK;
    case KP_TXN_OP_COMMIT:
    case KP_TXN_OP_OFFSETS:
        if (st == KP_TXN_ABORTABLE)
            return KP_ERR_TXN_ABORTABLE;
        if (st != KP_TXN_IN_TXN)
            return misuse(p, op, "no transaction begun");
        if (op == KP_TXN_OP_COMMIT)
            set_state(p, KP_TXN_COMMITTING);
        return KP_OK;
    case KP_TXN_OP_ABORT:
        if (st != KP_TXN_IN_TXN && st != KP_TXN_ABORTABLE)
            return misuse(p, op, "no transaction begun");
        set_state(p, KP_TXN_ABORTING);
        return KP_OK;
    default:
        return KP_ERR_INVALID_ARG;
    }
}

/* Check a call may run here at all. */
static kp_err_t call_check(kp_producer_t *p) {
    if (!p)
        return KP_ERR_INVALID_ARG;
    if (!p->txn.enabled) {
        kp_log(p, 4, "transactional call on a producer without transactional.id");
        return KP_ERR_TXN_STATE;
    }
    if (kp_in_any_io_thread())
        return KP_ERR_IN_CALLBACK;
    if (atomic_load(&p->closing))
        return KP_ERR_CLOSED;
    return KP_OK;
}

/* Post op (or resume it) and wait for its outcome (txn.lock held on entry
 * and exit). */
static kp_err_t post_and_wait(kp_producer_t *p, int op, int64_t timeout_ms) {
    kp_txn_t *t = &p->txn;
    if (t->op && t->op != op) {
        kp_log(p, 4, "%s: %s is under way (it timed out: call it again to finish it)",
               op_name(op), op_name(t->op));
        return KP_ERR_TXN_STATE;
    }
    if (!t->op) {
        kp_err_t e = start_op(p, op);
        if (e)
            return e;
        t->op = op;
        t->op_done = 0;
        kp_wake(p);
    }
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : kp_mono_ms() + timeout_ms;
    while (!t->op_done)
        if (kp_cond_wait_until(&t->cond, &t->lock, deadline))
            return KP_ERR_TIMED_OUT;
    kp_err_t r = t->op_result;
    t->op = KP_TXN_OP_NONE;
    t->op_done = 0;
    free_offsets(t);
    return r;
}

kp_err_t kp_txn_call(kp_producer_t *p, int op, int64_t timeout_ms) {
    kp_err_t e = call_check(p);
    if (e)
        return e;
    pthread_mutex_lock(&p->txn.lock);
    e = post_and_wait(p, op, timeout_ms);
    pthread_mutex_unlock(&p->txn.lock);
    return e;
}

kp_err_t kp_txn_begin(kp_producer_t *p) {
    kp_err_t e = call_check(p);
    if (e)
        return e;
    pthread_mutex_lock(&p->txn.lock);
    int st = get_state(p);
    if (st == KP_TXN_FATAL)
        e = p->txn.error;
    else if (p->txn.op)
        e = misuse(p, KP_TXN_OP_NONE, "a call is under way");
    else if (st != KP_TXN_READY)
        e = misuse(p, KP_TXN_OP_NONE, "begin_transaction needs init_transactions and no open "
                                      "transaction");
    else
        set_state(p, KP_TXN_IN_TXN);
    pthread_mutex_unlock(&p->txn.lock);
    return e;
}

static char *dup_or_null(const char *s, int *oom) {
    if (!s)
        return NULL;
    char *d = kp_strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Offsets sorted by topic name (one topic entry per run in the request). */
static int by_topic_name(const void *a, const void *b) {
    const kp_txn_offset_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

kp_err_t kp_txn_offsets(kp_producer_t *p, const kp_offset_t *offsets, size_t count,
                        const kp_group_metadata_t *group, int64_t timeout_ms) {
    kp_err_t e = call_check(p);
    if (e)
        return e;
    if (!group || !group->group_id || !*group->group_id || (count && !offsets) ||
        count > INT32_MAX / 2)
        return KP_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!offsets[i].topic || !*offsets[i].topic || offsets[i].partition < 0 ||
            offsets[i].offset < 0)
            return KP_ERR_INVALID_ARG;
    kp_txn_t *t = &p->txn;
    pthread_mutex_lock(&t->lock);
    if (t->op != KP_TXN_OP_OFFSETS) {
        /* a new call: its copy (a resumed one keeps the first call's) */
        if (!t->op && get_state(p) == KP_TXN_IN_TXN && !count) {
            pthread_mutex_unlock(&t->lock);
            return KP_OK; /* nothing to commit: as Java, no request */
        }
        if (!t->op) {
            int oom = 0;
            free_offsets(t);
            t->offs = count ? kp_calloc(count, sizeof(*t->offs)) : NULL;
            oom = count && !t->offs;
            for (size_t i = 0; i < count && !oom; i++) {
                t->offs[i] = (kp_txn_offset_t){dup_or_null(offsets[i].topic, &oom),
                                               offsets[i].partition, offsets[i].offset,
                                               offsets[i].leader_epoch,
                                               dup_or_null(offsets[i].metadata, &oom)};
                t->noffs = (int32_t)i + 1;
            }
            t->group_id = dup_or_null(group->group_id, &oom);
            t->member_id = dup_or_null(group->member_id ? group->member_id : "", &oom);
            t->group_instance_id = dup_or_null(group->group_instance_id, &oom);
            t->generation_id = group->generation_id;
            if (oom) {
                free_offsets(t);
                pthread_mutex_unlock(&t->lock);
                return KP_ERR_NOMEM;
            }
            qsort(t->offs, (size_t)t->noffs, sizeof(*t->offs), by_topic_name);
        }
    }
    e = post_and_wait(p, KP_TXN_OP_OFFSETS, timeout_ms);
    pthread_mutex_unlock(&t->lock);
    return e;
}

/* ---------------------------------------------------------------- I/O thread: outcomes */

/* The call under way ends with err; the state moves to new_state (-1: it
 * stays). */
static void op_finish(kp_producer_t *p, kp_err_t err, int new_state) {
    kp_txn_t *t = &p->txn;
    t->step = 0;
    t->attempts = 0;
    if (t->flushing) {
        t->flushing = 0;
        atomic_fetch_sub(&p->flushing, 1);
    }
    pthread_mutex_lock(&t->lock);
    if (new_state >= 0 && get_state(p) != KP_TXN_FATAL)
        set_state(p, new_state);
    if (t->op && !t->op_done) {
        t->op_done = 1;
        t->op_result = err;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
}

static void txn_fatal(kp_producer_t *p, kp_err_t err, const char *what) {
    kp_txn_t *t = &p->txn;
    pthread_mutex_lock(&t->lock);
    int was = get_state(p);
    if (was != KP_TXN_FATAL) {
        t->error = err;
        set_state(p, KP_TXN_FATAL);
    }
    pthread_mutex_unlock(&t->lock);
    if (was != KP_TXN_FATAL)
        kp_log(p, 3, "transactional.id '%s': %s: %s (%s): fatal, the producer cannot continue; "
               "close it", p->conf.transactional_id, what, kp_err_name(err), kp_err_str(err));
    int zero = 0;
    atomic_compare_exchange_strong(&p->fatal_err, &zero, (int)err);
    op_finish(p, (kp_err_t)atomic_load(&p->fatal_err), -1);
}

/* The transaction cannot commit any more (bump: the broker's producer
 * state of it cannot be trusted: a new epoch after the abort). */
static void txn_abortable(kp_producer_t *p, kp_err_t err, int bump, const char *what) {
    kp_txn_t *t = &p->txn;
    if (bump)
        t->need_bump = 1;
    pthread_mutex_lock(&t->lock);
    int st = get_state(p);
    int moved = st == KP_TXN_IN_TXN || st == KP_TXN_COMMITTING;
    if (moved) {
        t->error = err;
        set_state(p, KP_TXN_ABORTABLE);
    }
    pthread_mutex_unlock(&t->lock);
    if (moved)
        kp_log(p, 4, "transactional.id '%s': %s: %s: the transaction must be aborted",
               p->conf.transactional_id, what, kp_err_name(err));
}

void kp_txn_record_failed(kp_producer_t *p, kp_err_t err) {
    if (err == KP_ERR_TXN_ABORTED || err == KP_ERR_PURGED_CLOSE || err == KP_ERR_TXN_STATE)
        return;
    /* A Produce answer's INVALID_PRODUCER_EPOCH is what a broker says once
     * the coordinator aborted the transaction on timeout and bumped the
     * epoch (KIP-588): abortable, with a new epoch after the abort, as
     * Java's InvalidProducerEpochException; PRODUCER_FENCED stays fatal. */
    int bump = err == KAFKA_TRANSACTION_ABORTABLE || err == KAFKA_INVALID_PRODUCER_EPOCH ||
               err == KAFKA_UNKNOWN_PRODUCER_ID || err == KAFKA_INVALID_PRODUCER_ID_MAPPING;
    if (kp_err_class(err) == KP_ERR_CLASS_FATAL && !bump && err != KP_ERR_UNSUPPORTED_BROKER)
        txn_fatal(p, err, "a record of the transaction failed");
    else
        txn_abortable(p, err, bump, "a record failed");
}

void kp_txn_seq_gap(kp_producer_t *p) { p->txn.need_bump = 1; }

void kp_txn_send_failed(kp_producer_t *p, kp_err_t err) {
    if (err == KP_ERR_TXN_STATE || err == KP_ERR_TXN_ABORTABLE || err == KP_ERR_INVALID_ARG ||
        err == KP_ERR_CLOSED || err == KP_ERR_IN_CALLBACK || err == KP_ERR_NOMEM ||
        (int)err == atomic_load(&p->fatal_err))
        return;
    txn_abortable(p, err, 0, "a send failed");
}

/* What to do about an error a transactional request got. */
enum { ACT_RETRY, ACT_FIND_COORD, ACT_ABORTABLE, ACT_FATAL };
static int action(kp_err_t err) {
    if (err == KAFKA_NOT_COORDINATOR || err == KAFKA_COORDINATOR_NOT_AVAILABLE ||
        err == KP_ERR_TRANSPORT)
        return ACT_FIND_COORD;
    switch (kp_err_class(err)) {
    case KP_ERR_CLASS_RETRIABLE:
        return ACT_RETRY;
    case KP_ERR_CLASS_ABORTABLE:
        return ACT_ABORTABLE;
    case KP_ERR_CLASS_FATAL:
        return ACT_FATAL;
    default:
        /* transient by the general rule (a timeout, a lost connection), else
         * unexpected: fatal, as the Java client's "unexpected error" */
        return kp_err_is_retriable(err) || err == KP_ERR_TIMED_OUT ||
                       err == KP_ERR_BAD_RESPONSE || err == KP_ERR_CLUSTER_UNREACHABLE
                   ? ACT_RETRY
                   : ACT_FATAL;
    }
}

/* Try again after a backoff (ms; 0: retry.backoff.ms, exponential). */
static void retry_later(kp_producer_t *p, int64_t ms) {
    kp_txn_t *t = &p->txn;
    t->attempts++;
    int64_t now = kp_mono_ms();
    t->retry_at = now + (ms ? ms
                            : kp_backoff(p->conf.retry_backoff_ms, p->conf.retry_backoff_max_ms,
                                         t->attempts - 1, &p->rng));
}

/* A transactional request failed with err: retry (finding the coordinator
 * again if it moved), or move the state. Returns the action taken. */
static int on_error(kp_producer_t *p, kp_err_t err, const char *what, int group) {
    int a = action(err);
    int closing = atomic_load(&p->closing) && (err == KP_ERR_CLOSED || err == KP_ERR_PURGED_CLOSE);
    switch (a) {
    case ACT_FIND_COORD:
        if (group)
            p->txn.group_coord = -1;
        else
            p->txn.coord = -1;
        /* fall through */
    case ACT_RETRY:
        kp_log(p, closing ? 7 : 6, "%s: %s; retrying", what, kp_err_name(err));
        retry_later(p, 0);
        break;
    case ACT_ABORTABLE: {
        int st = get_state(p);
        if (st == KP_TXN_IN_TXN || st == KP_TXN_COMMITTING || st == KP_TXN_ABORTABLE) {
            if (err == KAFKA_INVALID_PRODUCER_ID_MAPPING)
                p->txn.skip_endtxn = 1; /* the coordinator forgot us: no EndTxn */
            txn_abortable(p, err,
                          err == KAFKA_TRANSACTION_ABORTABLE ||
                              err == KAFKA_INVALID_PRODUCER_ID_MAPPING ||
                              err == KAFKA_UNKNOWN_PRODUCER_ID,
                          what);
            break;
        }
        /* initialising or aborting: nothing to abort, as Java's "unexpected
         * error" */
        txn_fatal(p, err, what);
        a = ACT_FATAL;
        break;
    }
    default:
        txn_fatal(p, err, what);
    }
    return a;
}

/* ---------------------------------------------------------------- I/O thread: requests */

/* The coordinator's ready connection; NULL while it is found or dialled
 * (*next lowered). */
static kp_conn_t *coord_conn(kp_producer_t *p, int32_t node, int64_t now, int64_t *next) {
    kp_conn_t *c = kp_broker_conn(p, node);
    if (!c)
        return NULL;
    if (c->state == KP_CONN_READY)
        return c;
    kp_conn_connect(&p->net, c, now);
    if (c->state == KP_CONN_DOWN)
        *next = MIN(*next, c->next_connect_ms);
    return NULL;
}

/* EndTxn v5 and TxnOffsetCommit v5 say "transactions v2" to the broker,
 * as Produce v12 does (produce.c): only with the feature. */
static kp_req_t *new_req(kp_producer_t *p, kp_conn_t *c, int16_t api, int64_t now,
                         const kp_req_ops_t *ops) {
    int16_t ver = c->ver[api];
    if ((api == KP_API_END_TXN || api == KP_API_TXN_OFFSET_COMMIT) && !p->txn.v2 && ver > 4)
        ver = 4;
    return kp_req_new(&p->net, api, ver, now, ops);
}

static void send_req(kp_producer_t *p, kp_conn_t *c, kp_req_t *req) {
    if (!req || kp_req_seal(req)) {
        kp_req_free(req);
        retry_later(p, 0);
        return;
    }
    kp_conn_send(&p->net, c, req);
    p->txn.inflight = 1;
}

/* A broker offers none of the API the call needs (ready ones without it):
 * fatal, said at once. Returns 1 when that happened. */
static int lacks_api(kp_producer_t *p, kp_conn_t *c, int16_t api, const char *name) {
    if (c && c->ver[api] >= 0)
        return 0;
    kp_conn_t *any = c ? c : kp_pick_ready_conn(p, -1);
    if (!any)
        return 0;
    char cn[KP_CONN_NAME_MAX];
    kp_log(p, 3, "%s offers no usable %s (v%d..%d); kprod needs v%d..%d for transactions",
           kp_conn_name(any, cn, sizeof(cn)), name, any->range[api].min, any->range[api].max,
           kp_proto_our_min(api), kp_proto_our_max(api));
    txn_fatal(p, KP_ERR_UNSUPPORTED_BROKER, name);
    return 1;
}

static void find_coord(kp_producer_t *p, int group, int64_t now, int64_t *next) {
    kp_conn_t *c = kp_pick_ready_conn(p, KP_API_FIND_COORDINATOR);
    if (!c) {
        if (!lacks_api(p, NULL, KP_API_FIND_COORDINATOR, "FindCoordinator"))
            kp_ensure_connecting(p, now, next);
        return;
    }
    kp_req_t *req = new_req(p, c, KP_API_FIND_COORDINATOR, now,
                            group ? &findcoord_group_ops : &findcoord_txn_ops);
    if (req)
        kp_findcoord_req(&req->w, req->ver, req->corrid, p->client_id,
                         group ? KP_COORD_GROUP : KP_COORD_TRANSACTION,
                         group ? p->txn.group_id : p->conf.transactional_id);
    send_req(p, c, req);
}

/* The transaction coordinator's connection, finding it first; NULL while
 * that goes on. */
/* A coordinator whose connection failed since it was found, or that left
 * the metadata, is found again (it may have moved: Java looks it up again
 * when the node is not ready in time). */
static int coord_lost(kp_producer_t *p, int32_t node, int seen_failures) {
    kp_conn_t *c = kp_broker_conn(p, node);
    return !c || (c->state == KP_CONN_DOWN && c->failures > seen_failures);
}

/* The failures its connection had when the coordinator was found (a
 * coordinator found while its connection is backing off is dialled when
 * the backoff ends, not looked up again and again). */
static int conn_failures(kp_producer_t *p, int32_t node) {
    kp_conn_t *c = kp_broker_conn(p, node);
    return c ? c->failures : 0;
}

static kp_conn_t *txn_coord(kp_producer_t *p, int64_t now, int64_t *next) {
    if (p->txn.coord >= 0 && coord_lost(p, p->txn.coord, p->txn.coord_failures))
        p->txn.coord = -1;
    if (p->txn.coord < 0) {
        find_coord(p, 0, now, next);
        return NULL;
    }
    return coord_conn(p, p->txn.coord, now, next);
}

/* InitProducerId with the transactional id: the first (pid -1), or a new
 * epoch for the current id (KIP-360; v3+ name it, older versions bump it
 * the same way, fencing ourselves). */
static void send_initpid(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_conn_t *c = txn_coord(p, now, next);
    if (!c || lacks_api(p, c, KP_API_INIT_PRODUCER_ID, "InitProducerId"))
        return;
    kp_req_t *req = new_req(p, c, KP_API_INIT_PRODUCER_ID, now, &initpid_ops);
    int bump = p->idem.pid >= 0 && req && req->ver >= 3;
    if (req)
        kp_initpid_req(&req->w, req->ver, req->corrid, p->client_id, p->conf.transactional_id,
                       p->conf.transaction_timeout_ms, bump ? p->idem.pid : -1,
                       bump ? p->idem.epoch : -1);
    send_req(p, c, req);
}

/* Partitions waiting to join, in one AddPartitionsToTxn (sorted by topic:
 * one entry per topic). */
static int by_tp(const void *a, const void *b) {
    const kp_txn_tp_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void send_addparts(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_txn_t *t = &p->txn;
    kp_conn_t *c = txn_coord(p, now, next);
    if (!c || lacks_api(p, c, KP_API_ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn"))
        return;
    kp_txn_tp_t *tps = kp_calloc((size_t)t->wanted, sizeof(*tps));
    if (!tps) {
        retry_later(p, 0);
        return;
    }
    int32_t n = 0;
    for (int i = 0; i < t->nparts && n < t->wanted; i++)
        if (t->parts[i]->txn_part == KP_TXN_PART_WANTED)
            tps[n++] = (kp_txn_tp_t){t->parts[i]->topic->name, t->parts[i]->partition};
    qsort(tps, (size_t)n, sizeof(*tps), by_tp);
    kp_req_t *req = new_req(p, c, KP_API_ADD_PARTITIONS_TO_TXN, now, &addparts_ops);
    if (req)
        kp_addparts_req(&req->w, req->ver, req->corrid, p->client_id, p->conf.transactional_id,
                        p->idem.pid, p->idem.epoch, tps, n);
    free(tps);
    send_req(p, c, req);
    if (t->inflight) {
        for (int i = 0; i < t->nparts; i++)
            if (t->parts[i]->txn_part == KP_TXN_PART_WANTED)
                t->parts[i]->txn_part = KP_TXN_PART_ADDING;
        t->wanted = 0;
    }
}

static void send_endtxn(kp_producer_t *p, int commit, int64_t now, int64_t *next) {
    kp_conn_t *c = txn_coord(p, now, next);
    if (!c || lacks_api(p, c, KP_API_END_TXN, "EndTxn"))
        return;
    kp_req_t *req = new_req(p, c, KP_API_END_TXN, now, &endtxn_ops);
    if (req)
        kp_endtxn_req(&req->w, req->ver, req->corrid, p->client_id, p->conf.transactional_id,
                      p->idem.pid, p->idem.epoch, commit);
    send_req(p, c, req);
}

/* sendOffsetsToTransaction's steps */
enum { OFFS_ADD = 0, OFFS_COMMIT = 1 };

static void do_offsets(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_txn_t *t = &p->txn;
    if (get_state(p) == KP_TXN_ABORTABLE) {
        op_finish(p, KP_ERR_TXN_ABORTABLE, -1);
        return;
    }
    if (t->step == OFFS_ADD && t->v2)
        t->step = OFFS_COMMIT; /* transactions v2: TxnOffsetCommit adds the group */
    if (t->step == OFFS_ADD) {
        kp_conn_t *c = txn_coord(p, now, next);
        if (!c || lacks_api(p, c, KP_API_ADD_OFFSETS_TO_TXN, "AddOffsetsToTxn"))
            return;
        kp_req_t *req = new_req(p, c, KP_API_ADD_OFFSETS_TO_TXN, now, &addoffsets_ops);
        if (req)
            kp_addoffsets_req(&req->w, req->ver, req->corrid, p->client_id,
                              p->conf.transactional_id, p->idem.pid, p->idem.epoch, t->group_id);
        send_req(p, c, req);
        return;
    }
    if (t->group_coord >= 0 && coord_lost(p, t->group_coord, t->group_coord_failures))
        t->group_coord = -1;
    if (t->group_coord < 0) {
        find_coord(p, 1, now, next);
        return;
    }
    kp_conn_t *c = coord_conn(p, t->group_coord, now, next);
    if (!c)
        return;
    if (lacks_api(p, c, KP_API_TXN_OFFSET_COMMIT, "TxnOffsetCommit"))
        return;
    kp_req_t *req = new_req(p, c, KP_API_TXN_OFFSET_COMMIT, now, &txncommit_ops);
    if (req)
        kp_txncommit_req(&req->w, req->ver, req->corrid, p->client_id, p->conf.transactional_id,
                         t->group_id, p->idem.pid, p->idem.epoch, t->generation_id, t->member_id,
                         t->group_instance_id, t->offs, t->noffs);
    send_req(p, c, req);
}

/* Transactions v2 on the coordinator's connection (the feature, and the
 * versions it needs). */
static int coord_v2(kp_producer_t *p) {
    kp_conn_t *c = p->txn.coord >= 0 ? kp_broker_conn(p, p->txn.coord) : NULL;
    if (!c || c->state != KP_CONN_READY)
        return p->txn.v2; /* not known now: as it was */
    return c->txn_version >= 2 && c->ver[KP_API_PRODUCE] >= 12 && c->ver[KP_API_END_TXN] >= 5;
}

/* Nothing of the transaction is pending or on the wire: its records all
 * completed, and no request carries a batch of it any more (a batch
 * abandoned at delivery.timeout.ms, or purged in flight, counts as
 * completed while its request is still out: an EndTxn before it would let
 * it land after the marker). */
static int txn_quiet(kp_producer_t *p) {
    if (kp_pending(p) > 0)
        return 0;
    for (int i = 0; i < p->txn.nparts; i++)
        if (p->txn.parts[i]->inflight)
            return 0;
    return 1;
}

/* The transaction is over: its partitions leave it. */
static void txn_over(kp_producer_t *p) {
    kp_txn_t *t = &p->txn;
    for (int i = 0; i < t->nparts; i++)
        t->parts[i]->txn_part = KP_TXN_PART_NONE;
    t->nparts = 0;
    t->wanted = 0;
    t->started = 0;
    t->skip_endtxn = 0;
    pthread_mutex_lock(&t->lock);
    t->error = KP_OK; /* (Java clears lastError when a transaction completes) */
    pthread_mutex_unlock(&t->lock);
    int v2 = coord_v2(p);
    if (v2 != t->v2)
        kp_log(p, 6, "transactions v%d (the coordinator's transaction.version)", v2 ? 2 : 1);
    t->v2 = v2;
}

static void hold_flush(kp_producer_t *p) {
    if (!p->txn.flushing) {
        p->txn.flushing = 1;
        atomic_fetch_add(&p->flushing, 1);
    }
}

static void do_commit(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_txn_t *t = &p->txn;
    if (get_state(p) == KP_TXN_ABORTABLE) {
        op_finish(p, KP_ERR_TXN_ABORTABLE, -1);
        return;
    }
    hold_flush(p);
    if (t->wanted) {
        send_addparts(p, now, next);
        return;
    }
    if (!txn_quiet(p))
        return; /* each completion comes back through this loop */
    if (!t->started) {
        txn_over(p);
        op_finish(p, KP_OK, KP_TXN_READY);
        return;
    }
    send_endtxn(p, 1, now, next);
}

static void do_abort(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_txn_t *t = &p->txn;
    /* partitions not yet added: their batches fail (the scan), no request */
    for (int i = 0; i < t->nparts; i++)
        if (t->parts[i]->txn_part == KP_TXN_PART_WANTED)
            t->parts[i]->txn_part = KP_TXN_PART_NONE;
    t->wanted = 0;
    hold_flush(p); /* (batches lingering are failed at once by the scan anyway) */
    if (!txn_quiet(p))
        return; /* the queued fail in the scan; those in flight are awaited */
    if (t->started && !t->skip_endtxn) {
        send_endtxn(p, 0, now, next);
        return;
    }
    if (t->need_bump) {
        send_initpid(p, now, next);
        return;
    }
    txn_over(p);
    op_finish(p, KP_OK, KP_TXN_READY);
}

void kp_txn_maybe(kp_producer_t *p, int64_t now, int64_t *next) {
    kp_txn_t *t = &p->txn;
    if (!t->enabled || t->inflight)
        return;
    pthread_mutex_lock(&t->lock);
    int op = t->op_done ? KP_TXN_OP_NONE : t->op;
    int st = get_state(p);
    pthread_mutex_unlock(&t->lock);
    if (st == KP_TXN_FATAL) {
        if (op)
            op_finish(p, t->error, -1);
        return;
    }
    int fatal = atomic_load(&p->fatal_err);
    if (fatal) {
        txn_fatal(p, (kp_err_t)fatal, "the producer failed");
        return;
    }
    if (now < t->retry_at) {
        *next = MIN(*next, t->retry_at);
        return;
    }
    switch (op) {
    case KP_TXN_OP_INIT:
        send_initpid(p, now, next);
        return;
    case KP_TXN_OP_OFFSETS:
        do_offsets(p, now, next);
        return;
    case KP_TXN_OP_COMMIT:
        do_commit(p, now, next);
        return;
    case KP_TXN_OP_ABORT:
        do_abort(p, now, next);
        return;
    default:
        break;
    }
    if (t->wanted && (st == KP_TXN_IN_TXN || st == KP_TXN_COMMITTING))
        send_addparts(p, now, next);
}

int kp_txn_part_ready(kp_producer_t *p, kp_tp_t *tp) {
    kp_txn_t *t = &p->txn;
    if (tp->txn_part == KP_TXN_PART_ADDED)
        return 1;
    if (tp->txn_part != KP_TXN_PART_NONE)
        return 0;
    int st = get_state(p);
    if (st != KP_TXN_IN_TXN && st != KP_TXN_COMMITTING)
        return 0;
    kp_tp_t **np = kp_grow(t->parts, t->nparts, &t->parts_cap, sizeof(*np), 16);
    if (!np)
        return 0;
    t->parts = np;
    t->parts[t->nparts++] = tp;
    if (t->v2) {
        /* its first Produce (v12) adds it */
        tp->txn_part = KP_TXN_PART_ADDED;
        t->started = 1;
        return 1;
    }
    tp->txn_part = KP_TXN_PART_WANTED;
    t->wanted++;
    t->newly_wanted = 1;
    return 0;
}

kp_err_t kp_txn_failing_queued(const kp_producer_t *p) {
    if (!p->txn.enabled)
        return KP_OK;
    int st = get_state(p);
    if (st == KP_TXN_ABORTING || st == KP_TXN_ABORTABLE)
        return KP_ERR_TXN_ABORTED;
    /* READY: a commit or abort completed with nothing pending, so what is
     * queued now came from a send that raced it (it checked the state
     * before waiting for metadata or memory): it belongs to no transaction */
    return st == KP_TXN_READY ? KP_ERR_TXN_STATE : KP_OK;
}

const char *kp_txn_state_name(const kp_producer_t *p) { return state_name(get_state(p)); }

int kp_txn_closing(kp_producer_t *p) {
    kp_txn_t *t = &p->txn;
    if (!t->enabled)
        return 0;
    pthread_mutex_lock(&t->lock);
    int busy = t->op && !t->op_done;
    int st = get_state(p);
    if (!busy && !t->op && (st == KP_TXN_IN_TXN || st == KP_TXN_ABORTABLE)) {
        kp_log(p, 6, "transactional.id '%s': aborting the open transaction: the producer closes",
               p->conf.transactional_id);
        set_state(p, KP_TXN_ABORTING);
        t->op = KP_TXN_OP_ABORT; /* (nobody waits for it) */
        t->op_done = 0;
        busy = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return busy && !atomic_load(&p->fatal_err);
}

void kp_txn_closed(kp_producer_t *p) {
    if (p->txn.enabled)
        op_finish(p, KP_ERR_CLOSED, -1);
}

/* ---------------------------------------------------------------- I/O thread: answers */

/* An answer that does not decode: the connection goes (as for any
 * malformed answer) and the request is made again after a backoff. */
static void malformed(kp_producer_t *p, kp_conn_t *c, const char *api) {
    char why[64];
    snprintf(why, sizeof(why), "malformed %s response", api);
    retry_later(p, 0);
    kp_conn_close(&p->net, c, KP_ERR_BAD_RESPONSE, why);
}

/* An answer came: the transactional request in flight is over. */
static kp_producer_t *answered(kp_net_t *net) {
    kp_producer_t *p = net->owner;
    p->txn.inflight = 0;
    return p;
}

static void on_findcoord(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r, int group) {
    kp_txn_t *t = &p->txn;
    kp_findcoord_resp_t res;
    const char *what = group ? "FindCoordinator (group)" : "FindCoordinator (transaction)";
    if (kp_findcoord_resp(r, req->ver, &res)) {
        malformed(p, c, "FindCoordinator");
        return;
    }
    if (res.err) {
        if (res.err == KAFKA_GROUP_AUTHORIZATION_FAILED) {
            txn_abortable(p, res.err, 0, what);
            op_finish(p, KP_ERR_TXN_ABORTABLE, -1);
        } else {
            on_error(p, res.err == KAFKA_NOT_COORDINATOR ? KAFKA_COORDINATOR_NOT_AVAILABLE
                                                         : res.err, what, group);
        }
        return;
    }
    char *host = kp_strndup(res.host, (size_t)(res.host_len > 0 ? res.host_len : 0));
    kp_md_broker_t mb = {res.node_id, host, res.port};
    kp_err_t e = host && res.port > 0 && res.node_id >= 0 ? kp_md_broker(p, &mb) : KP_ERR_NOMEM;
    free(host);
    if (e) {
        retry_later(p, 0);
        return;
    }
    kp_log(p, 7, "%s: node %d", what, res.node_id);
    if (group) {
        t->group_coord = res.node_id;
        t->group_coord_failures = conn_failures(p, res.node_id);
    } else {
        t->coord = res.node_id;
        t->coord_failures = conn_failures(p, res.node_id);
    }
    t->attempts = 0;
}

static void handle_findcoord_txn(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    on_findcoord(answered(net), c, req, r, 0);
}
static void handle_findcoord_group(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    on_findcoord(answered(net), c, req, r, 1);
}

static void handle_initpid(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = answered(net);
    kp_txn_t *t = &p->txn;
    kp_initpid_resp_t res;
    if (kp_initpid_resp(r, req->ver, &res)) {
        malformed(p, c, "InitProducerId");
        return;
    }
    if (res.err) {
        on_error(p, res.err, "InitProducerId", 0);
        return;
    }
    int first = p->idem.pid < 0;
    kp_log(p, 6, "transactional.id '%s': producer id %lld, epoch %d%s", p->conf.transactional_id,
           (long long)res.pid, res.epoch, first ? "" : " (a new epoch)");
    p->idem.pid = res.pid;
    p->idem.epoch = res.epoch;
    p->idem.state = KP_PID_READY;
    t->need_bump = 0;
    t->attempts = 0;
    pthread_mutex_lock(&t->lock);
    int op = t->op;
    pthread_mutex_unlock(&t->lock);
    if (op == KP_TXN_OP_INIT) {
        txn_over(p);
        op_finish(p, KP_OK, KP_TXN_READY);
    }
    /* (an abort's new epoch: do_abort finishes it on the next turn) */
}

/* A partition of an AddPartitionsToTxn or TxnOffsetCommit answer, found
 * by name and number among the transaction's partitions. */
static kp_tp_t *find_part(kp_producer_t *p, const kp_addparts_presp_t *pr) {
    for (int i = 0; i < p->txn.nparts; i++) {
        kp_tp_t *tp = p->txn.parts[i];
        if (tp->partition == pr->partition &&
            (int32_t)strlen(tp->topic->name) == pr->topic_len &&
            !memcmp(tp->topic->name, pr->topic, (size_t)pr->topic_len))
            return tp;
    }
    return NULL;
}

/* Partitions being added go back to waiting (the request is retried). */
static void adding_back(kp_producer_t *p) {
    for (int i = 0; i < p->txn.nparts; i++)
        if (p->txn.parts[i]->txn_part == KP_TXN_PART_ADDING) {
            p->txn.parts[i]->txn_part = KP_TXN_PART_WANTED;
            p->txn.wanted++;
        }
}

static void handle_addparts(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = answered(net);
    kp_txn_t *t = &p->txn;
    kp_addparts_resp_t res;
    if (kp_addparts_resp(r, req->ver, &res)) {
        adding_back(p);
        malformed(p, c, "AddPartitionsToTxn");
        return;
    }
    kp_err_t worst = KP_OK;
    for (int32_t i = 0; i < res.nparts; i++) {
        kp_tp_t *tp = find_part(p, &res.parts[i]);
        if (!tp || tp->txn_part != KP_TXN_PART_ADDING)
            continue;
        if (!res.parts[i].err) {
            tp->txn_part = KP_TXN_PART_ADDED;
            t->started = 1; /* (its batches go with the next scan: it is on its list) */
        } else if (!worst || res.parts[i].err != KAFKA_OPERATION_NOT_ATTEMPTED) {
            /* (OPERATION_NOT_ATTEMPTED: another partition's error stopped it) */
            worst = res.parts[i].err;
        }
    }
    kp_addparts_resp_free(&res);
    int missing = t->wanted;
    adding_back(p); /* those not named, or refused */
    if (!worst && t->wanted == missing) {
        t->attempts = 0;
        return;
    }
    if (!worst) {
        retry_later(p, 0); /* an answer that left partitions out */
        return;
    }
    if (worst == KAFKA_CONCURRENT_TRANSACTIONS) {
        /* the last transaction's markers are being written: soon done */
        kp_log(p, 7, "AddPartitionsToTxn: CONCURRENT_TRANSACTIONS; retrying in %d ms",
               KP_TXN_CONCURRENT_BACKOFF_MS);
        t->attempts++;
        t->retry_at = kp_mono_ms() + KP_TXN_CONCURRENT_BACKOFF_MS;
        return;
    }
    /* (an error of a partition Java does not name is abortable there too:
     * its hasPartitionErrors) */
    if (action(worst) == ACT_FATAL && kp_err_class(worst) != KP_ERR_CLASS_FATAL) {
        txn_abortable(p, worst, 0, "AddPartitionsToTxn");
        return;
    }
    on_error(p, worst, "AddPartitionsToTxn", 0);
}

static void handle_addoffsets(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = answered(net);
    kp_txn_t *t = &p->txn;
    int16_t err;
    if (kp_addoffsets_resp(r, req->ver, &err)) {
        malformed(p, c, "AddOffsetsToTxn");
        return;
    }
    if (err) {
        if (on_error(p, err, "AddOffsetsToTxn", 0) >= ACT_ABORTABLE)
            op_finish(p, get_state(p) == KP_TXN_FATAL ? t->error : KP_ERR_TXN_ABORTABLE, -1);
        return;
    }
    t->started = 1;
    t->step = OFFS_COMMIT;
    t->attempts = 0;
}

static void handle_txncommit(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = answered(net);
    kp_txn_t *t = &p->txn;
    kp_addparts_resp_t res;
    if (kp_txncommit_resp(r, req->ver, &res)) {
        malformed(p, c, "TxnOffsetCommit");
        return;
    }
    kp_err_t worst = KP_OK;
    for (int32_t i = 0; i < res.nparts && !worst; i++)
        worst = res.parts[i].err;
    kp_addparts_resp_free(&res);
    if (!worst) {
        t->started = 1; /* (v2: the group joined with this request) */
        op_finish(p, KP_OK, -1);
        return;
    }
    if (on_error(p, worst, "TxnOffsetCommit", 1) >= ACT_ABORTABLE)
        op_finish(p, get_state(p) == KP_TXN_FATAL ? t->error : KP_ERR_TXN_ABORTABLE, -1);
}

static void handle_endtxn(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = answered(net);
    kp_txn_t *t = &p->txn;
    kp_endtxn_resp_t res;
    if (kp_endtxn_resp(r, req->ver, &res)) {
        malformed(p, c, "EndTxn");
        return;
    }
    pthread_mutex_lock(&t->lock);
    int op = t->op_done ? KP_TXN_OP_NONE : t->op;
    pthread_mutex_unlock(&t->lock);
    int commit = op == KP_TXN_OP_COMMIT;
    if (res.err) {
        if (!commit && res.err == KAFKA_TRANSACTION_ABORTABLE) {
            /* the coordinator aborted it already: a new epoch follows */
            t->need_bump = 1;
            res.err = KP_OK;
        } else {
            int a = on_error(p, res.err, commit ? "EndTxn (commit)" : "EndTxn (abort)", 0);
            if (a == ACT_ABORTABLE && commit)
                op_finish(p, KP_ERR_TXN_ABORTABLE, -1);
            return;
        }
    }
    t->started = 0;
    t->attempts = 0;
    if (req->ver >= 5 && res.pid >= 0) {
        /* transactions v2: every EndTxn gives the next epoch (a new id when
         * the epoch ran out) */
        if (res.pid != p->idem.pid)
            kp_log(p, 6, "transactional.id '%s': new producer id %lld (epoch %d) from EndTxn",
                   p->conf.transactional_id, (long long)res.pid, res.epoch);
        p->idem.pid = res.pid;
        p->idem.epoch = res.epoch;
        t->need_bump = 0;
    }
    if (commit) {
        txn_over(p);
        op_finish(p, KP_OK, KP_TXN_READY);
    }
    /* (an abort: do_abort goes on, with a new epoch if need be) */
}

static void txn_req_failed(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    kp_producer_t *p = net->owner;
    (void)c;
    p->txn.inflight = 0;
    if (req->api == KP_API_ADD_PARTITIONS_TO_TXN)
        adding_back(p);
    const char *what = req->api == KP_API_FIND_COORDINATOR         ? "FindCoordinator"
                       : req->api == KP_API_INIT_PRODUCER_ID        ? "InitProducerId"
                       : req->api == KP_API_ADD_PARTITIONS_TO_TXN   ? "AddPartitionsToTxn"
                       : req->api == KP_API_ADD_OFFSETS_TO_TXN      ? "AddOffsetsToTxn"
                       : req->api == KP_API_TXN_OFFSET_COMMIT       ? "TxnOffsetCommit"
                                                                     : "EndTxn";
    /* the request never got an answer: the coordinator may have moved */
    on_error(p, err == KP_ERR_TIMED_OUT ? KP_ERR_TRANSPORT : err, what,
             req->api == KP_API_TXN_OFFSET_COMMIT || req->ops == &findcoord_group_ops);
}

static const kp_req_ops_t findcoord_txn_ops = {handle_findcoord_txn, txn_req_failed, NULL};
static const kp_req_ops_t findcoord_group_ops = {handle_findcoord_group, txn_req_failed, NULL};
static const kp_req_ops_t initpid_ops = {handle_initpid, txn_req_failed, NULL};
static const kp_req_ops_t addparts_ops = {handle_addparts, txn_req_failed, NULL};
static const kp_req_ops_t addoffsets_ops = {handle_addoffsets, txn_req_failed, NULL};
static const kp_req_ops_t txncommit_ops = {handle_txncommit, txn_req_failed, NULL};
static const kp_req_ops_t endtxn_ops = {handle_endtxn, txn_req_failed, NULL};

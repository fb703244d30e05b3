/*
 * idempotence — the producer id (InitProducerId) and the sequence numbers
 * of each partition's batches.
 *
 * The producer id comes from InitProducerId. A batch gets its sequence
 * numbers when first drained and keeps them across retries; a partition's
 * sequence space belongs to one (id, epoch), and a partition adopts the
 * producer's current (id, epoch), starting again at sequence 0, when it
 * next sends a new batch — which only happens with nothing of it in flight
 * under the old id (may_send_more) and nothing waiting for a retry (the
 * head-of-line rule), so no partition's outstanding sequences are ever
 * disturbed.
 *
 * When a partition's sequences can no longer be trusted — a sequenced
 * batch failed for good (a gap), or the broker answered
 * OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID / INVALID_PRODUCER_EPOCH
 * — kprod asks for a new producer id (KIP-360's recovery without a fatal
 * error). For an idempotent producer Kafka always hands out a fresh id, so
 * every partition restarts cleanly at sequence 0 as it becomes idle.
 */
#include <limits.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "net/conn.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "base/util.h"

static const kp_req_ops_t initpid_ops;

/* Errors that say the broker does not accept our producer state for this
 * batch (idempotence): the attempt was not written. */
int kp_idem_is_pid_error(kp_err_t err) {
    return err == KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER || err == KAFKA_UNKNOWN_PRODUCER_ID ||
           err == KAFKA_INVALID_PRODUCER_EPOCH || err == KAFKA_PRODUCER_FENCED;
}

void kp_idem_new_pid(kp_producer_t *p, const char *why) {
    if (p->txn.enabled) {
        /* the transaction fails (its record does) and the abort takes a
         * new epoch (txn.c) */
        kp_log(p, 6, "sequence gap in the transaction: %s", why);
        kp_txn_seq_gap(p);
        return;
    }
    if (p->idem.state == KP_PID_READY) {
        kp_log(p, 6, "requesting a new producer id (was %lld/%d): %s", (long long)p->idem.pid,
               p->idem.epoch, why);
        p->idem.state = KP_PID_NONE;
    }
}

void kp_idem_gap(kp_producer_t *p, const kp_batch_t *b, const char *why) {
    if (b->base_seq >= 0 && b->pid == p->idem.pid && b->epoch == p->idem.epoch)
        kp_idem_new_pid(p, why);
}

void kp_idem_maybe(kp_producer_t *p, int64_t now, int64_t *next) {
    if (!p->idem.enabled || p->idem.state != KP_PID_NONE || atomic_load(&p->fatal_err))
        return;
    if (now < p->idem.retry_at) {
        *next = MIN(*next, p->idem.retry_at);
        return;
    }
    kp_conn_t *c = kp_pick_ready_conn(p, KP_API_INIT_PRODUCER_ID);
    kp_conn_t *other = c ? NULL : kp_pick_ready_conn(p, -1);
    if (other) {
        /* a broker without a usable InitProducerId: as the Java client, a
         * fatal error for an idempotent producer, said at once */
        kp_api_range_t r = other->range[KP_API_INIT_PRODUCER_ID];
        char name[KP_CONN_NAME_MAX];
        kp_log(p, 3,
               "%s offers InitProducerId v%d..%d; kprod needs v%d..%d while "
               "enable.idempotence=true: the producer cannot send (unsupported broker; "
               "enable.idempotence=false writes without it)",
               kp_conn_name(other, name, sizeof(name)), r.min, r.max,
               kp_proto_our_min(KP_API_INIT_PRODUCER_ID), kp_proto_our_max(KP_API_INIT_PRODUCER_ID));
        atomic_store(&p->fatal_err, KP_ERR_UNSUPPORTED_BROKER);
        return;
    }
    if (!c) {
        kp_ensure_connecting(p, now, next);
        return;
    }
    kp_req_t *req = kp_req_new(&p->net, KP_API_INIT_PRODUCER_ID, c->ver[KP_API_INIT_PRODUCER_ID], now,
                               &initpid_ops);
    if (req)
        kp_initpid_req(&req->w, req->ver, req->corrid, p->client_id, NULL, 60000, -1, -1);
    if (!req || kp_req_seal(req)) {
        kp_req_free(req);
        return;
    }
    kp_conn_send(&p->net, c, req);
    p->idem.state = KP_PID_REQUESTING;
}

static void initpid_failed(kp_producer_t *p, kp_err_t err) {
    int64_t now = kp_mono_ms();
    p->idem.state = KP_PID_NONE;
    p->idem.attempts++;
    p->idem.retry_at = now + kp_backoff(p->conf.retry_backoff_ms, p->conf.retry_backoff_max_ms,
                                       p->idem.attempts - 1, &p->rng);
    /* a request abandoned because the producer closes is no failure worth
     * a warning (the close was asked for) */
    int closing = err == KP_ERR_CLOSED || err == KP_ERR_PURGED_CLOSE || atomic_load(&p->closing);
    kp_log(p, closing ? 7 : 4, "InitProducerId failed: %s; retrying", kp_err_name(err));
}

static void handle_initpid(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = net->owner;
    kp_initpid_resp_t res;
    if (kp_initpid_resp(r, req->ver, &res)) {
        initpid_failed(p, KP_ERR_BAD_RESPONSE);
        kp_conn_close(&p->net, c, KP_ERR_BAD_RESPONSE, "malformed InitProducerId response");
        return;
    }
    if (res.err) {
        if (kp_err_is_retriable(res.err) || res.err == KAFKA_COORDINATOR_LOAD_IN_PROGRESS ||
            res.err == KAFKA_COORDINATOR_NOT_AVAILABLE || res.err == KAFKA_NOT_COORDINATOR) {
            initpid_failed(p, res.err);
            return;
        }
        /* e.g. CLUSTER_AUTHORIZATION_FAILED: no idempotent writes for us */
        kp_log(p, 3, "InitProducerId failed: %s: %s; the producer cannot send",
               kp_err_name(res.err), kp_err_str(res.err));
        atomic_store(&p->fatal_err, res.err);
        p->idem.state = KP_PID_NONE;
        return;
    }
    p->idem.pid = res.pid;
    p->idem.epoch = res.epoch;
    p->idem.state = KP_PID_READY;
    p->idem.attempts = 0;
    kp_log(p, 7, "producer id %lld, epoch %d", (long long)res.pid, res.epoch);
}

/* Give a new batch its sequence numbers (head of its partition; under a
 * new producer id only with nothing of the partition in flight). */
void kp_idem_assign(kp_producer_t *p, kp_tp_t *tp, kp_batch_t *b) {
    if (tp->pid != p->idem.pid || tp->epoch != p->idem.epoch) {
        tp->pid = p->idem.pid;
        tp->epoch = p->idem.epoch;
        tp->next_seq = 0;
    }
    b->pid = tp->pid;
    b->epoch = tp->epoch;
    b->base_seq = tp->next_seq;
    /* sequences wrap at INT32_MAX, as DefaultRecordBatch.incrementSequence */
    int64_t nx = (int64_t)tp->next_seq + b->count;
    tp->next_seq = (int32_t)(nx > INT32_MAX ? nx - INT32_MAX - 1 : nx);
}

static void initpid_req_failed(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    kp_producer_t *p = net->owner;
    (void)c, (void)req;
    atomic_store(&p->md_wanted, 1);
    initpid_failed(p, err);
}

static const kp_req_ops_t initpid_ops = {handle_initpid, initpid_req_failed, NULL};

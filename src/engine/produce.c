/*
 * produce — Produce requests: building one per broker from the batches the
 * scan took (iovecs over the batch buffers, no copy), their outcomes per
 * partition, retries in first-send order, splits on MESSAGE_TOO_LARGE, and
 * delivery.timeout.ms for batches in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "record/compress.h"
#include "net/conn.h"
#include "base/crc32c.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/metrics.h"
#include "record/record_batch.h"
#include "base/util.h"

static const kp_req_ops_t produce_ops;

/* Errors that mean our view of the cluster is stale (Java's
 * InvalidMetadataException family). */
static int is_metadata_error(kp_err_t err) {
    return err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION || err == KAFKA_LEADER_NOT_AVAILABLE ||
           err == KAFKA_NOT_LEADER_OR_FOLLOWER || err == KAFKA_NETWORK_EXCEPTION ||
           err == KAFKA_KAFKA_STORAGE_ERROR || err == KAFKA_FENCED_LEADER_EPOCH ||
           err == KAFKA_UNKNOWN_LEADER_EPOCH || err == KAFKA_UNKNOWN_TOPIC_ID ||
           err == KAFKA_INCONSISTENT_TOPIC_ID || err == KP_ERR_TRANSPORT;
}

/* Put a batch that was sent back in its partition's deque for a resend,
 * in the order the partition first sent it: the front of the deque holds
 * the batches waiting for a resend (sent_no ascending), then those never
 * sent. Records keep their order however the answers to several batches
 * in flight come back. Among equals (the halves of a split batch) b goes
 * first. */
static void requeue(kp_producer_t *p, kp_tp_t *tp, kp_batch_t *b) {
    pthread_mutex_lock(&tp->lock);
    kp_acc_mark_work(&p->acc, tp);
    kp_batch_t **pp = &tp->head;
    while (*pp && (*pp)->sent_no && (*pp)->sent_no < b->sent_no)
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
    if (!b->next)
        tp->tail = b;
    pthread_mutex_unlock(&tp->lock);
}

/* Is a batch sent before b waiting for a resend? Then the broker answered b
 * OUT_OF_ORDER_SEQUENCE_NUMBER only because that one is missing. */
static int earlier_waits(kp_tp_t *tp, const kp_batch_t *b) {
    pthread_mutex_lock(&tp->lock);
    int r = tp->head && tp->head->sent_no && tp->head->sent_no < b->sent_no;
    pthread_mutex_unlock(&tp->lock);
    return r;
}

/* The outcome of one attempt at a batch. ambiguous: the broker may have
 * written it (the request was sent and no answer came). pp: the broker's
 * answer for it, when there is one (its message and record errors). */
static void outcome(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                    int64_t log_append_time, int ambiguous, const kp_produce_presp_t *pp) {
    kp_tp_t *tp = b->tp;
    tp->inflight--;
    tp->m_inflight_recs -= b->count;
    if (b->abandoned) {
        /* its records failed at delivery.timeout.ms while it was in flight
         * (expire_in_flight); this late outcome changes nothing for them */
        kp_log(p, 7, "%s [%d]: late outcome of an expired batch: %s", tp->topic->name,
               tp->partition, kp_err_name(err));
        kp_acc_release(&p->acc, b);
        return;
    }
    if (err == KAFKA_DUPLICATE_SEQUENCE_NUMBER && b->base_seq >= 0) {
        /* the broker has these records already: a retry of a write that
         * succeeded; the offset is not known */
        kp_batch_complete(p, b, KP_OK, -1, -1, KP_PERSISTED);
        return;
    }
    if (err == KP_OK) {
        kp_batch_complete(p, b, KP_OK, base_offset, log_append_time, KP_PERSISTED);
        return;
    }
    if (ambiguous)
        b->maybe_persisted = 1;
    int stopping = atomic_load(&p->force_close);
    /* MESSAGE_TOO_LARGE for a batch of several records: split it in two and
     * send the halves (not counted as a retry, as in the Java client). */
    kp_batch_t *first, *second;
    if (err == KAFKA_MESSAGE_TOO_LARGE && b->count > 1 && !stopping &&
        !kp_acc_split(&p->acc, b, &first, &second)) {
        kp_log(p, 6, "%s [%d]: batch of %d records too large for the broker: split in two",
               tp->topic->name, tp->partition, first->count + second->count);
        tp->retrying = 1;
        kp_stat_add(kp_mstat(p, KP_M_BATCH_SPLIT), 1);
        requeue(p, tp, second);
        requeue(p, tp, first);
        return;
    }
    int64_t now = kp_mono_ms();
    int expired = now >= b->created_ms + p->conf.delivery_timeout_ms;
    if (err == KAFKA_REBOOTSTRAP_REQUIRED)
        p->md.rebootstrap_asked = 1;
    /* (a leader named by the answer itself needs no metadata round trip) */
    if (is_metadata_error(err) && !tp->leader_hinted)
        atomic_store(&p->md_wanted, 1);
    /* The broker rejected the batch because of our producer state: this
     * attempt was not written. Resend under a new producer id, unless the
     * sequence is out of order only because a batch before it failed and
     * waits for its own resend (then this one follows it, as it is). */
    int behind =
        err == KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER && b->base_seq >= 0 && earlier_waits(tp, b);
    /* (a transactional producer does not resend under a new id: the
     * transaction fails, and its abort takes a new epoch; txn.c) */
    int pid_error = b->base_seq >= 0 && kp_idem_is_pid_error(err) && !behind && !p->txn.enabled;
    if (pid_error) {
        kp_idem_gap(p, b, kp_err_name(err));
        b->base_seq = -1;
        b->pid = -1;
        b->epoch = -1;
    }
    int retriable = pid_error || behind || kp_err_is_retriable(err);
    if (retriable && !expired && b->attempts < p->conf.retries && !stopping) {
        b->attempts++;
        /* to a new leader at once (KIP-951), else after a backoff */
        b->retry_at_ms = tp->leader_hinted ? now
                                           : now + kp_backoff(p->conf.retry_backoff_ms,
                                                              p->conf.retry_backoff_max_ms,
                                                              b->attempts - 1, &p->rng);
        kp_log(p, 7, "%s [%d]: retrying batch of %d records after %s (attempt %d)",
               tp->topic->name, tp->partition, b->count, kp_err_name(err), b->attempts);
        tp->retrying = 1;
        kp_metrics_retry(p, b);
        requeue(p, tp, b);
        return;
    }
    if (retriable && expired)
        err = b->maybe_persisted ? KP_ERR_MSG_TIMED_OUT_IN_FLIGHT : KP_ERR_MSG_TIMED_OUT_QUEUE;
    /* A sequenced batch that fails for good leaves a gap the broker would
     * answer with OUT_OF_ORDER_SEQUENCE_NUMBER: start a new sequence. */
    if (!stopping)
        kp_idem_gap(p, b, "a sequenced batch failed");
    if (!stopping) {
        /* the broker's own words (Produce v8+), bounded */
        int mlen = pp && pp->error_message ? (int)MIN(pp->error_message_len, 300) : 0;
        kp_log(p, 4, "%s [%d]: %d records failed: %s%s%.*s%s", tp->topic->name, tp->partition,
               b->count, kp_err_name(err), mlen ? " (broker: " : "", mlen,
               mlen ? pp->error_message : "", mlen ? ")" : "");
        if (pp && pp->nrecord_errors > 0)
            kp_log(p, 4, "%s [%d]: the broker named %d invalid records of the batch; the other "
                   "%d fail as %s", tp->topic->name, tp->partition, pp->nrecord_errors,
                   b->count - pp->nrecord_errors, kp_err_name(KP_ERR_INVALID_RECORD_IN_BATCH));
    }
    kp_batch_fail(p, b, err, -1, -1, b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED,
                  pp);
}

void kp_prod_result(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                    int64_t log_append_time, int ambiguous) {
    outcome(p, b, err, base_offset, log_append_time, ambiguous, NULL);
}

/* ---------------------------------------------------------------- requests */

kp_req_t *kp_prod_build(kp_producer_t *p, kp_conn_t *c, kp_batch_t **bs, int n,
                               int64_t now) {
    kp_req_t *req = kp_calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->ops = &produce_ops;
    req->api = KP_API_PRODUCE;
    /* v12 only with transactions v2 (KIP-890): it means "my partitions
     * join implicitly"; the same bytes as v11 otherwise */
    req->ver = MIN(c->ver[KP_API_PRODUCE], p->txn.v2 ? 12 : 11);
    req->corrid = p->net.next_corrid++;
    req->expect_response = p->conf.acks != 0;
    req->is_produce = 1;
    req->deadline_ms = now + p->conf.request_timeout_ms;
    req->batches = bs;
    req->nbatches = n;
    req->expire_at = INT64_MAX;
    for (int i = 0; i < n; i++)
        req->expire_at = MIN(req->expire_at, bs[i]->created_ms + p->conf.delivery_timeout_ms);
    int32_t ntopics = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || bs[i]->tp->topic != bs[i - 1]->tp->topic)
            ntopics++;
    kp_produce_begin(&req->pb, req->ver, req->corrid, p->client_id, (int16_t)p->conf.acks,
                     p->conf.request_timeout_ms, p->txn.enabled ? p->conf.transactional_id : NULL,
                     ntopics);
    int16_t attrs = (int16_t)(p->conf.compression_type | (p->txn.enabled ? KP_RB_TRANSACTIONAL : 0));
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && bs[j]->tp->topic == bs[i]->tp->topic)
            j++;
        kp_produce_topic(&req->pb, bs[i]->tp->topic->name, j - i);
        for (int k = i; k < j; k++) {
            kp_batch_t *b = bs[k];
            kp_rb_header_t h = {attrs, b->count, b->base_ts,
                                b->max_ts, b->pid, b->epoch, b->base_seq};
            uint8_t *buf = b->cbuf ? b->cbuf : b->buf;
            size_t len = b->cbuf ? b->clen : b->len;
            uint32_t crc = b->cbuf ? b->ccrc
                                   : kp_crc32c(b->crc, b->buf + b->crc_len, b->len - b->crc_len);
            kp_rb_finalize_crc(buf, len, &h, crc);
            kp_produce_partition(&req->pb, b->tp->partition, buf, len);
        }
        kp_produce_topic_end(&req->pb);
        i = j;
    }
    req->iov = kp_produce_finish(&req->pb, &req->niov);
    if (!req->iov) {
        req->batches = NULL; /* the caller keeps them */
        kp_req_free(req);
        return NULL;
    }
    kp_metrics_request_sent(p, c, bs, n, now);
    return req;
}

/* KIP-951: a NOT_LEADER_OR_FOLLOWER answer (v10+) may name the leader the
 * broker knows, with its epoch, and that leader's endpoint: move the
 * partition there at once (unless the epoch is older than ours), learning
 * the broker if it is new, so the batch goes again without waiting for a
 * metadata round trip. */
static void follow_leader_hint(kp_producer_t *p, const kp_produce_resp_t *pr, kp_tp_t *tp,
                               const kp_produce_presp_t *pp) {
    if (pp->err != KAFKA_NOT_LEADER_OR_FOLLOWER || pp->leader_id < 0 || pp->leader_epoch < 0)
        return;
    if (!kp_broker_conn(p, pp->leader_id)) {
        const kp_produce_node_t *n = kp_produce_resp_node(pr, pp->leader_id);
        char *host = n ? kp_strndup(n->host, (size_t)n->host_len) : NULL;
        kp_md_broker_t mb = {pp->leader_id, host, n ? n->port : -1};
        kp_err_t e = host && n->port > 0 ? kp_md_broker(p, &mb) : KP_ERR_NOMEM;
        free(host);
        if (e)
            return; /* no endpoint for it: metadata will say */
    }
    if (kp_md_set_leader(p, tp, pp->leader_id, pp->leader_epoch, "Produce answer"))
        tp->leader_hinted = 1;
}

static void handle_produce(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = net->owner;
    kp_produce_resp_t pr;
    if (kp_produce_resp(r, req->ver, &pr)) {
        kp_log(p, 4, "broker %d: malformed Produce response", c->node_id);
        for (int i = 0; i < req->nbatches; i++)
            kp_prod_result(p, req->batches[i], KP_ERR_BAD_RESPONSE, -1, -1, 1);
        kp_conn_close(&p->net, c, KP_ERR_BAD_RESPONSE, "malformed Produce response");
        return;
    }
    kp_metrics_response(p, req->written_us, pr.throttle_ms);
    for (int i = 0; i < req->nbatches; i++) {
        kp_batch_t *b = req->batches[i];
        const char *name = b->tp->topic->name;
        size_t nlen = strlen(name);
        kp_produce_presp_t *found = NULL;
        for (int32_t t = 0; t < pr.ntopics && !found; t++) {
            kp_produce_tresp_t *tr = &pr.topics[t];
            if (tr->name_len != (int32_t)nlen || memcmp(tr->name, name, nlen))
                continue;
            for (int32_t j = 0; j < tr->nparts; j++)
                if (tr->parts[j].partition == b->tp->partition) {
                    found = &tr->parts[j];
                    break;
                }
        }
        kp_tp_t *tp = b->tp;
        if (!found) {
            kp_prod_result(p, b, KP_ERR_BAD_RESPONSE, -1, -1, 1);
            continue;
        }
        follow_leader_hint(p, &pr, tp, found);
        outcome(p, b, found->err, found->base_offset, found->log_append_time,
                found->err == KAFKA_REQUEST_TIMED_OUT ||
                    found->err == KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                found);
        tp->leader_hinted = 0;
    }
    kp_produce_resp_free(&pr);
}

static void produce_failed(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    kp_producer_t *p = net->owner;
    (void)c;
    atomic_store(&p->md_wanted, 1);
    for (int i = 0; i < req->nbatches; i++)
        kp_prod_result(p, req->batches[i], err, -1, -1, req->written > 0);
}

static void produce_written(kp_net_t *net, kp_conn_t *c, kp_req_t *req) {
    kp_producer_t *p = net->owner;
    (void)c;
    /* acks=0: done when written; the broker says nothing, so offsets are
     * unknown and the status is "possibly persisted". */
    for (int i = 0; i < req->nbatches; i++) {
        kp_batch_t *b = req->batches[i];
        b->tp->inflight--;
        b->tp->m_inflight_recs -= b->count;
        if (b->abandoned)
            kp_acc_release(&p->acc, b);
        else
            kp_batch_complete(p, b, KP_OK, -1, -1, KP_POSSIBLY_PERSISTED);
    }
}

/* Compression: a batch closed because it was full was compressed by the
 * application thread that closed it (accumulator.c); one sent because of
 * linger.ms or a flush is compressed here, once, when first sent; retries
 * reuse the result. zstd needs Produce v7: an older broker gets no silently
 * uncompressed batch, the records fail with UNSUPPORTED_COMPRESSION_TYPE. */
kp_err_t kp_prod_prepare(kp_producer_t *p, kp_conn_t *c, kp_batch_t *b) {
    if (!p->compressor)
        return KP_OK;
    if (p->conf.compression_type == KP_CODEC_ZSTD && c->ver[KP_API_PRODUCE] < 7)
        return KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
    return b->cbuf ? KP_OK : kp_batch_compress(&p->acc, p->compressor, b);
}

/* ---------------------------------------------------------------- delivery timeout in flight */

/* delivery.timeout.ms bounds a record's time to its completion also while
 * its batch is in flight (the Java client's Sender.getExpiredInflightBatches):
 * a batch past its deadline fails now with _MSG_TIMED_OUT_IN_FLIGHT, possibly
 * persisted, and stays in its request, abandoned, until the request ends
 * (its buffer may still be being written; its place in the partition's
 * in-flight count keeps later batches in order), when batch_result frees
 * it and ignores the late answer. Its sequence range may or may not be
 * written: under idempotence the producer takes a new id (KIP-360), as for
 * any sequenced batch that fails. */
static void expire_request(kp_producer_t *p, kp_req_t *req, int64_t now, int64_t *next) {
    if (now < req->expire_at) {
        *next = MIN(*next, req->expire_at);
        return;
    }
    req->expire_at = INT64_MAX;
    for (int i = 0; i < req->nbatches; i++) {
        kp_batch_t *b = req->batches[i];
        int64_t due = b->created_ms + p->conf.delivery_timeout_ms;
        if (b->abandoned)
            continue;
        if (now < due) {
            req->expire_at = MIN(req->expire_at, due);
            continue;
        }
        b->abandoned = 1;
        kp_idem_gap(p, b, "a batch in flight expired");
        kp_log(p, 4, "%s [%d]: %d records failed: delivery.timeout.ms expired in flight",
               b->tp->topic->name, b->tp->partition, b->count);
        kp_batch_notify(p, b, KP_ERR_MSG_TIMED_OUT_IN_FLIGHT, -1, -1, KP_POSSIBLY_PERSISTED);
    }
    *next = MIN(*next, req->expire_at);
}

void kp_prod_expire(kp_producer_t *p, int64_t now, int64_t *next) {
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        kp_conn_t *c = kp_conn_at(&p->net, i);
        for (kp_req_t *req = c->wait_head; req; req = req->next)
            if (req->is_produce)
                expire_request(p, req, now, next);
        for (kp_req_t *req = c->out_head; req; req = req->next)
            if (req->is_produce)
                expire_request(p, req, now, next);
    }
}

/* ---------------------------------------------------------------- purge in flight */

/* kp_purge(KP_PURGE_IN_FLIGHT): as delivery.timeout.ms in flight (above),
 * but now and for every batch of the request: its records fail at once and
 * the batch stays in its request, abandoned, until the request ends. A
 * request not yet written at all was never seen by the broker: its records
 * are KP_ERR_PURGED and not persisted; the others possibly persisted. */
static void purge_request(kp_producer_t *p, kp_req_t *req) {
    for (int i = 0; i < req->nbatches; i++) {
        kp_batch_t *b = req->batches[i];
        if (b->abandoned)
            continue;
        b->abandoned = 1;
        int maybe = req->written > 0 || b->maybe_persisted;
        kp_idem_gap(p, b, "a batch in flight was purged");
        kp_batch_notify(p, b, maybe ? KP_ERR_PURGED_IN_FLIGHT : KP_ERR_PURGED, -1, -1,
                        maybe ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
}

void kp_prod_purge_in_flight(kp_producer_t *p) {
    int n = 0;
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        kp_conn_t *c = kp_conn_at(&p->net, i);
        for (kp_req_t *req = c->wait_head; req; req = req->next)
            if (req->is_produce)
                purge_request(p, req), n += req->nbatches;
        for (kp_req_t *req = c->out_head; req; req = req->next)
            if (req->is_produce)
                purge_request(p, req), n += req->nbatches;
    }
    if (n)
        kp_log(p, 6, "purge: stopped waiting for %d batches in flight", n);
}

static const kp_req_ops_t produce_ops = {handle_produce, produce_failed, produce_written};

/*
 * sender — the producer's one I/O thread.
 *
 * Each turn of the loop:
 *   1. metadata: one request at a time (single-flight), when an application
 *      thread waits for a topic, when a produce failed with a metadata error
 *      or a connection dropped, or every metadata.max.age.ms;
 *   2. a scan of every partition: batches past delivery.timeout.ms are
 *      failed; the head batch of each partition whose leader's connection is
 *      ready and has room (max.in.flight.requests.per.connection) is taken
 *      when it is ready (full, lingered, flushing, closing, or its retry
 *      backoff passed), up to max.request.size per request, one request per
 *      broker per turn;
 *   3. requests are written (iovecs over the batch buffers: no copy);
 *   4. poll() for sockets, the wake-up eventfd, the resolver's sockets
 *      (resolve.h: host names are looked up without blocking) and the
 *      nearest deadline.
 *
 * Order: a partition has up to max.in.flight.requests.per.connection
 * batches in flight, one per request, all on its leader's one connection,
 * whose answers come back in order. A batch that comes back for a retry
 * goes back to its deque in the order it was first sent (requeue), and
 * while any is waiting the partition resends one at a time; with
 * idempotence the broker refuses what would overtake (sequence numbers), so
 * records of a partition are written and completed in send order even
 * across retries (without idempotence, as in Java, only with one in
 * flight).
 *
 * Completions (callbacks, futures) run here, never under a lock.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "compress.h"
#include "conn.h"
#include "crc32c.h"
#include "internal.h"
#include "record_batch.h"
#include "resolve.h"
#include "util.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Errors that mean our view of the cluster is stale (Java's
 * InvalidMetadataException family). */
static int is_metadata_error(kp_err_t err) {
    return err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION || err == KAFKA_LEADER_NOT_AVAILABLE ||
           err == KAFKA_NOT_LEADER_OR_FOLLOWER || err == KAFKA_NETWORK_EXCEPTION ||
           err == KAFKA_KAFKA_STORAGE_ERROR || err == KAFKA_FENCED_LEADER_EPOCH ||
           err == KAFKA_UNKNOWN_LEADER_EPOCH || err == KAFKA_UNKNOWN_TOPIC_ID ||
           err == KAFKA_INCONSISTENT_TOPIC_ID || err == KP_ERR_TRANSPORT;
}

/* Errors that say the broker does not accept our producer state for this
 * batch (idempotence): the attempt was not written. */
static int is_pid_error(kp_err_t err) {
    return err == KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER || err == KAFKA_UNKNOWN_PRODUCER_ID ||
           err == KAFKA_INVALID_PRODUCER_EPOCH || err == KAFKA_PRODUCER_FENCED;
}

static void request_new_pid(kp_producer_t *p, const char *why);
static const kp_req_ops_t metadata_ops, initpid_ops, produce_ops;

static kp_conn_t *broker_conn(kp_producer_t *p, int32_t node_id) {
    for (int i = 0; i < p->nbrokers; i++)
        if (p->brokers[i].node_id == node_id)
            return p->brokers[i].conn;
    return NULL;
}

/* ---------------------------------------------------------------- batches */

/* Put a batch that was sent back in its partition's deque for a resend,
 * in the order the partition first sent it: the front of the deque holds
 * the batches waiting for a resend (sent_no ascending), then those never
 * sent. Records keep their order however the answers to several batches
 * in flight come back. Among equals (the halves of a split batch) b goes
 * first. */
static void requeue(kp_producer_t *p, kp_tp_t *tp, kp_batch_t *b) {
    pthread_mutex_lock(&tp->lock);
    kp_acc_mark_work(p, tp);
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
 * written it (the request was sent and no answer came). */
static void batch_result(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                         int64_t log_append_time, int ambiguous) {
    kp_tp_t *tp = b->tp;
    tp->inflight--;
    if (b->abandoned) {
        /* its records failed at delivery.timeout.ms while it was in flight
         * (expire_in_flight); this late outcome changes nothing for them */
        kp_log(p, 7, "%s [%d]: late outcome of an expired batch: %s", tp->topic->name,
               tp->partition, kp_err_name(err));
        kp_acc_release(p, b);
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
        !kp_acc_split(p, b, &first, &second)) {
        kp_log(p, 6, "%s [%d]: batch of %d records too large for the broker: split in two",
               tp->topic->name, tp->partition, first->count + second->count);
        tp->retrying = 1;
        requeue(p, tp, second);
        requeue(p, tp, first);
        return;
    }
    int64_t now = kp_mono_ms();
    int expired = now >= b->created_ms + p->conf.delivery_timeout_ms;
    if (is_metadata_error(err))
        atomic_store(&p->md_wanted, 1);
    /* The broker rejected the batch because of our producer state: this
     * attempt was not written. Resend under a new producer id, unless the
     * sequence is out of order only because a batch before it failed and
     * waits for its own resend (then this one follows it, as it is). */
    int behind =
        err == KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER && b->base_seq >= 0 && earlier_waits(tp, b);
    int pid_error = b->base_seq >= 0 && is_pid_error(err) && !behind;
    if (pid_error) {
        if (b->pid == p->pid && b->epoch == p->epoch)
            request_new_pid(p, kp_err_name(err));
        b->base_seq = -1;
        b->pid = -1;
        b->epoch = -1;
    }
    int retriable = pid_error || behind || kp_err_is_retriable(err);
    if (retriable && !expired && b->attempts < p->conf.retries && !stopping) {
        b->attempts++;
        b->retry_at_ms = now + kp_backoff(p->conf.retry_backoff_ms, p->conf.retry_backoff_max_ms,
                                          b->attempts - 1, &p->rng);
        kp_log(p, 7, "%s [%d]: retrying batch of %d records after %s (attempt %d)",
               tp->topic->name, tp->partition, b->count, kp_err_name(err), b->attempts);
        tp->retrying = 1;
        requeue(p, tp, b);
        return;
    }
    if (retriable && expired)
        err = b->maybe_persisted ? KP_ERR_MSG_TIMED_OUT_IN_FLIGHT : KP_ERR_MSG_TIMED_OUT_QUEUE;
    /* A sequenced batch that fails for good leaves a gap the broker would
     * answer with OUT_OF_ORDER_SEQUENCE_NUMBER: start a new sequence. */
    if (b->base_seq >= 0 && b->pid == p->pid && b->epoch == p->epoch && !stopping)
        request_new_pid(p, "a sequenced batch failed");
    if (!stopping)
        kp_log(p, 4, "%s [%d]: %d records failed: %s", tp->topic->name, tp->partition, b->count,
               kp_err_name(err));
    kp_batch_complete(p, b, err, -1, -1,
                      b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
}

/* ---------------------------------------------------------------- requests */

static kp_req_t *build_produce(kp_producer_t *p, kp_conn_t *c, kp_batch_t **bs, int n,
                               int64_t now) {
    kp_req_t *req = kp_calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->ops = &produce_ops;
    req->api = KP_API_PRODUCE;
    req->ver = c->ver[KP_API_PRODUCE];
    req->corrid = p->next_corrid++;
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
                     p->conf.request_timeout_ms, NULL, ntopics);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && bs[j]->tp->topic == bs[i]->tp->topic)
            j++;
        kp_produce_topic(&req->pb, bs[i]->tp->topic->name, j - i);
        for (int k = i; k < j; k++) {
            kp_batch_t *b = bs[k];
            kp_rb_header_t h = {(int16_t)p->conf.compression_type, b->count, b->base_ts,
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
    return req;
}

/* What a metadata request asks for. KIP-526: a new topic is asked for
 * alone and at once (its first send waits one round trip, not a refresh of
 * every topic); topics still incomplete are asked again with backoff; every
 * metadata.max.age.ms, or when a request failed with a sign of stale
 * metadata, every topic in use (metadata.max.idle.ms) is refreshed. */
enum md_kind { MD_NONE = 0, MD_NEW, MD_RETRY, MD_FULL };

/* Has the topic seen no new record for metadata.max.idle.ms? (From its
 * partitions' append counts: nothing is written on the send path.) */
static int topic_idle(const kp_producer_t *p, kp_topic_t *t, int64_t now) {
    void *const *tps;
    int64_t appended = 0;
    for (int32_t i = 0, n = kp_topic_parts(t, &tps); i < n; i++)
        appended += atomic_load_explicit(&((kp_tp_t *)tps[i])->appended, memory_order_relaxed);
    if (appended != t->seen_appended) {
        t->seen_appended = appended;
        t->used_ms = now;
    }
    return now - t->used_ms >= p->conf.metadata_max_idle_ms;
}

static int topic_wanted(const kp_producer_t *p, kp_topic_t *t, enum md_kind kind, int64_t now) {
    int recheck = atomic_exchange(&t->md_recheck, 0);
    if (kind == MD_FULL)
        return t->md_pending || recheck || !topic_idle(p, t, now);
    return t->md_pending || recheck;
}

static void send_metadata(kp_producer_t *p, kp_conn_t *c, int64_t now, enum md_kind kind) {
    void *const *ts;
    size_t n = kp_topics(p, &ts), k = 0;
    const char **names = kp_malloc((n ? n : 1) * sizeof(char *));
    if (!names) {
        p->md_retry_at = p->md_backoff_until = now + p->conf.retry_backoff_ms;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kp_topic_t *t = ts[i];
        if (i >= p->md_asked) { /* new: asked for by every kind */
            t->md_pending = 1;
            t->used_ms = now;
        } else if (kind == MD_NEW || !topic_wanted(p, t, kind, now)) {
            continue;
        }
        names[k++] = t->name; /* names live as long as p */
    }
    p->md_asked = n;
    kp_req_t *req = kp_req_new(p, KP_API_METADATA, c->ver[KP_API_METADATA], now, &metadata_ops);
    if (req)
        /* Like the Java producer, let the broker auto-create topics (it does
         * only if its auto.create.topics.enable allows). */
        kp_metadata_req(&req->w, req->ver, req->corrid, p->client_id, names, k, 1);
    free(names);
    if (!req || kp_req_seal(req)) {
        /* out of memory: what it asked for is asked again after a backoff
         * (the topics are pending), not on every turn of the loop */
        kp_req_free(req);
        p->md_recheck_seen = 1;
        p->md_retry_at = p->md_backoff_until = now + p->conf.retry_backoff_ms;
        return;
    }
    kp_conn_send(p, c, req);
    p->md_inflight = kind;
    if (kind == MD_FULL)
        p->md_due = 0;
    if (kind != MD_NEW)
        p->md_recheck_seen = 0;
    kp_log(p, 7, "metadata request (%s) for %zu topics to broker %d",
           kind == MD_FULL ? "full" : kind == MD_NEW ? "new topics" : "retry", k, c->node_id);
}

/* Every connection, known brokers first, then bootstrap servers:
 * conn_at(p, 0 .. conn_count(p) - 1). */
static int conn_count(const kp_producer_t *p) { return p->nbrokers + p->nboot; }
static kp_conn_t *conn_at(const kp_producer_t *p, int i) {
    return i < p->nbrokers ? p->brokers[i].conn : p->boot[i - p->nbrokers];
}

/* The ready connection with the fewest requests (known brokers first, then
 * bootstrap servers), or NULL. api: an API the broker must offer, or -1. */
static kp_conn_t *pick_ready_conn(kp_producer_t *p, int api) {
    kp_conn_t *best = NULL;
    for (int i = 0; i < p->nbrokers; i++) {
        kp_conn_t *c = p->brokers[i].conn;
        if (c->state == KP_CONN_READY && c->nreqs < p->conf.max_in_flight &&
            (api < 0 || c->ver[api] >= 0) && (!best || c->nreqs < best->nreqs))
            best = c;
    }
    for (int i = 0; !best && i < p->nboot; i++)
        if (p->boot[i]->state == KP_CONN_READY && (api < 0 || p->boot[i]->ver[api] >= 0))
            best = p->boot[i];
    return best;
}

/* Nothing ready: make sure some connection is being set up, known brokers
 * and bootstrap servers in turn, respecting their backoff. While one is
 * being set up, its progress (socket readiness, its setup deadline) is what
 * wakes us; only when none is, the earliest backoff end of those down does
 * (waking for a backoff that has passed, while we choose not to dial, spun
 * the loop). One whose name is being looked up is not being set up yet: the
 * next is dialled meanwhile (a resolver that hangs must not keep us from
 * the brokers that resolve), and the lookup's end wakes us (resolve.h). */
static void ensure_connecting(kp_producer_t *p, int64_t now, int64_t *next) {
    int connecting = 0, total = conn_count(p);
    for (int i = 0; i < total; i++)
        connecting |= conn_at(p, i)->state > KP_CONN_RESOLVING;
    for (int k = 0; !connecting && k < total; k++) {
        kp_conn_t *c = conn_at(p, (p->boot_next++) % total);
        if (c->state == KP_CONN_DOWN && now >= c->next_connect_ms) {
            kp_conn_connect(p, c, now);
            connecting = c->state > KP_CONN_RESOLVING;
        }
    }
    if (connecting)
        return;
    for (int i = 0; i < total; i++)
        if (conn_at(p, i)->state == KP_CONN_DOWN)
            *next = MIN(*next, conn_at(p, i)->next_connect_ms);
}

static void metadata_maybe(kp_producer_t *p, int64_t now, int64_t *next) {
    if (p->md_inflight)
        return;
    if (atomic_exchange(&p->md_wanted, 0) || now >= p->md_next_ms)
        p->md_due = 1;
    void *const *ts;
    size_t ntopics = kp_topics(p, &ts);
    if (atomic_exchange(&p->md_recheck_any, 0))
        p->md_recheck_seen = 1;
    int retry = p->md_npending || p->md_recheck_seen;
    enum md_kind kind = MD_NONE;
    if (p->md_due && now >= p->md_backoff_until)
        kind = MD_FULL;
    else if (ntopics > p->md_asked)
        kind = MD_NEW;
    else if (retry && now >= p->md_retry_at)
        kind = MD_RETRY;
    if (kind == MD_NONE) {
        *next = MIN(*next, p->md_due ? p->md_backoff_until : p->md_next_ms);
        if (retry)
            *next = MIN(*next, p->md_retry_at);
        return;
    }
    kp_conn_t *c = pick_ready_conn(p, -1);
    if (c)
        send_metadata(p, c, now, kind);
    else
        ensure_connecting(p, now, next);
}

/* ---------------------------------------------------------------- idempotence
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
static void request_new_pid(kp_producer_t *p, const char *why) {
    if (p->pid_state == KP_PID_READY) {
        kp_log(p, 6, "requesting a new producer id (was %lld/%d): %s", (long long)p->pid,
               p->epoch, why);
        p->pid_state = KP_PID_NONE;
    }
}

static void initpid_maybe(kp_producer_t *p, int64_t now, int64_t *next) {
    if (!p->idempotent || p->pid_state != KP_PID_NONE || atomic_load(&p->fatal_err))
        return;
    if (now < p->pid_retry_at) {
        *next = MIN(*next, p->pid_retry_at);
        return;
    }
    kp_conn_t *c = pick_ready_conn(p, KP_API_INIT_PRODUCER_ID);
    if (!c) {
        ensure_connecting(p, now, next);
        return;
    }
    kp_req_t *req = kp_req_new(p, KP_API_INIT_PRODUCER_ID, c->ver[KP_API_INIT_PRODUCER_ID], now,
                               &initpid_ops);
    if (req)
        kp_initpid_req(&req->w, req->ver, req->corrid, p->client_id, NULL, 60000, -1, -1);
    if (!req || kp_req_seal(req)) {
        kp_req_free(req);
        return;
    }
    kp_conn_send(p, c, req);
    p->pid_state = KP_PID_REQUESTING;
}

static void initpid_failed(kp_producer_t *p, kp_err_t err) {
    int64_t now = kp_mono_ms();
    p->pid_state = KP_PID_NONE;
    p->pid_attempts++;
    p->pid_retry_at = now + kp_backoff(p->conf.retry_backoff_ms, p->conf.retry_backoff_max_ms,
                                       p->pid_attempts - 1, &p->rng);
    /* a request abandoned because the producer closes is no failure worth
     * a warning (the close was asked for) */
    int closing = err == KP_ERR_CLOSED || err == KP_ERR_PURGED_CLOSE || atomic_load(&p->closing);
    kp_log(p, closing ? 7 : 4, "InitProducerId failed: %s; retrying", kp_err_name(err));
}

static void handle_initpid(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_initpid_resp_t res;
    if (kp_initpid_resp(r, req->ver, &res)) {
        initpid_failed(p, KP_ERR_BAD_RESPONSE);
        kp_conn_close(p, c, KP_ERR_BAD_RESPONSE, "malformed InitProducerId response");
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
        p->pid_state = KP_PID_NONE;
        return;
    }
    p->pid = res.pid;
    p->epoch = res.epoch;
    p->pid_state = KP_PID_READY;
    p->pid_attempts = 0;
    kp_log(p, 7, "producer id %lld, epoch %d", (long long)res.pid, res.epoch);
}

/* Give a new batch its sequence numbers (head of its partition; under a
 * new producer id only with nothing of the partition in flight). */
static void assign_sequence(kp_producer_t *p, kp_tp_t *tp, kp_batch_t *b) {
    if (tp->pid != p->pid || tp->epoch != p->epoch) {
        tp->pid = p->pid;
        tp->epoch = p->epoch;
        tp->next_seq = 0;
    }
    b->pid = tp->pid;
    b->epoch = tp->epoch;
    b->base_seq = tp->next_seq;
    /* sequences wrap at INT32_MAX, as DefaultRecordBatch.incrementSequence */
    int64_t nx = (int64_t)tp->next_seq + b->count;
    tp->next_seq = (int32_t)(nx > INT32_MAX ? nx - INT32_MAX - 1 : nx);
}

static kp_err_t update_broker(kp_producer_t *p, const kp_md_broker_t *mb) {
    for (int i = 0; i < p->nbrokers; i++) {
        kp_broker_t *b = &p->brokers[i];
        if (b->node_id != mb->node_id)
            continue;
        if (b->port != mb->port || strcmp(b->conn->host, mb->host)) {
            kp_conn_t *c = kp_conn_new(mb->node_id, mb->host, mb->port);
            if (!c)
                return KP_ERR_NOMEM;
            /* cannot destroy the old one here: we may be inside its read */
            kp_conn_close(p, b->conn, KP_ERR_TRANSPORT, "broker address changed");
            b->conn->next = p->retired;
            p->retired = b->conn;
            b->conn = c;
            b->port = mb->port;
        }
        return KP_OK;
    }
    kp_broker_t *nb = kp_grow(p->brokers, p->nbrokers, &p->brokers_cap, sizeof(*nb), 8);
    if (!nb)
        return KP_ERR_NOMEM;
    p->brokers = nb;
    kp_conn_t *c = kp_conn_new(mb->node_id, mb->host, mb->port);
    if (!c)
        return KP_ERR_NOMEM;
    p->brokers[p->nbrokers++] = (kp_broker_t){mb->node_id, mb->port, c};
    return KP_OK;
}

/* Grow a topic's partition table to n (partitions never disappear; topics_lock). */
static int grow_partitions(kp_topic_t *t, int32_t n) {
    void *const *tps;
    for (int32_t i = kp_topic_parts(t, &tps); i < n; i++) {
        kp_tp_t *tp = kp_tp_new(t, i);
        if (!tp || kp_ptab_push(&t->parts, tp)) {
            kp_tp_destroy(tp);
            return -1;
        }
    }
    return 0;
}

/* A topic's part of a metadata response (topics_lock held). Returns
 * whether the topic is still incomplete (asked again with backoff); *problem
 * is set for anything the cluster refused or left out. */
static int update_topic(kp_producer_t *p, kp_topic_t *t, const kp_md_topic_t *mt, int *problem) {
    if (mt->err) {
        t->md_err = mt->err;
        *problem = 1;
        /* once per change: a refused topic is looked at again each time a
         * send asks (with backoff), and says the same thing each time */
        if (mt->err != t->md_logged)
            kp_log(p, mt->err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION ||
                              mt->err == KAFKA_LEADER_NOT_AVAILABLE
                          ? 7
                          : 4,
                   "metadata for topic %s: %s", t->name, kp_err_name(mt->err));
        t->md_logged = mt->err;
        return kp_err_is_retriable(mt->err);
    }
    /* Kafka lists every partition, numbered 0..n-1: anything else (no
     * partitions, an index outside the list) is not believed */
    int32_t maxp = mt->npartitions;
    int sane = maxp > 0;
    for (int32_t j = 0; j < mt->npartitions && sane; j++)
        sane = mt->partitions[j].partition >= 0 && mt->partitions[j].partition < maxp;
    if (!sane) {
        kp_log(p, 4, "metadata for topic %s lists %d partitions with impossible indexes: ignored",
               t->name, mt->npartitions);
        *problem = 1;
        return 1;
    }
    int incomplete = grow_partitions(t, maxp) != 0;
    t->md_err = KP_OK;
    t->md_logged = KP_OK;
    void *const *tps;
    int32_t npart = kp_topic_parts(t, &tps);
    for (int32_t j = 0; j < mt->npartitions; j++) {
        const kp_md_partition_t *mp = &mt->partitions[j];
        if (mp->partition < 0 || mp->partition >= npart)
            continue;
        kp_tp_t *tp = tps[mp->partition];
        int32_t leader =
            mp->err && mp->err != KAFKA_REPLICA_NOT_AVAILABLE ? -1 : mp->leader;
        if (tp->leader != leader)
            kp_log(p, 7, "%s [%d]: leader %d -> %d", t->name, tp->partition, tp->leader, leader);
        tp->leader = leader;
        if (leader < 0 || !broker_conn(p, leader))
            incomplete = 1;
    }
    *problem |= incomplete;
    return incomplete;
}

static void handle_metadata(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_md_resp_t m;
    int64_t now = kp_mono_ms();
    enum md_kind kind = (enum md_kind)p->md_inflight;
    p->md_inflight = 0;
    if (kp_metadata_resp(r, req->ver, &m)) {
        kp_log(p, 4, "broker %d: malformed Metadata response", c->node_id);
        p->md_due = 1;
        p->md_backoff_until = now + p->conf.retry_backoff_ms;
        kp_conn_close(p, c, KP_ERR_BAD_RESPONSE, "malformed Metadata response");
        return;
    }
    for (int32_t i = 0; i < m.nbrokers; i++)
        update_broker(p, &m.brokers[i]);
    int problem = 0;
    pthread_mutex_lock(&p->topics_lock);
    for (int32_t i = 0; i < m.ntopics; i++) {
        kp_topic_t *t = kp_topic_find(p, m.topics[i].name);
        if (t)
            t->md_pending = update_topic(p, t, &m.topics[i], &problem);
    }
    p->md_ok_ms = now;
    pthread_cond_broadcast(&p->md_cond);
    pthread_mutex_unlock(&p->topics_lock);
    kp_metadata_resp_free(&m);
    /* topics asked for and not answered stay pending: count them all */
    void *const *ts;
    p->md_npending = 0;
    for (size_t i = 0, n = kp_topics(p, &ts); i < n; i++)
        p->md_npending += ((kp_topic_t *)ts[i])->md_pending;
    problem |= p->md_npending > 0;
    if (p->nboot && p->nbrokers)
        p->retire_boot = 1;
    /* something missing or refused: ask again later, backing off */
    if (problem)
        p->md_attempts++;
    else
        p->md_attempts = 0;
    p->md_retry_at = now + (problem ? kp_backoff(p->conf.retry_backoff_ms,
                                                 p->conf.retry_backoff_max_ms,
                                                 p->md_attempts - 1, &p->rng)
                                    : p->conf.retry_backoff_ms);
    if (kind == MD_FULL) {
        p->md_next_ms = now + p->conf.metadata_max_age_ms;
        p->md_backoff_until = now + p->conf.retry_backoff_ms;
    }
}

static void handle_produce(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_produce_resp_t pr;
    if (kp_produce_resp(r, req->ver, &pr)) {
        kp_log(p, 4, "broker %d: malformed Produce response", c->node_id);
        for (int i = 0; i < req->nbatches; i++)
            batch_result(p, req->batches[i], KP_ERR_BAD_RESPONSE, -1, -1, 1);
        kp_conn_close(p, c, KP_ERR_BAD_RESPONSE, "malformed Produce response");
        return;
    }
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
        if (!found)
            batch_result(p, b, KP_ERR_BAD_RESPONSE, -1, -1, 1);
        else
            batch_result(p, b, found->err, found->base_offset, found->log_append_time,
                         found->err == KAFKA_REQUEST_TIMED_OUT ||
                             found->err == KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    }
    kp_produce_resp_free(&pr);
}

/* A request that ended without an answer: whatever it was, the cluster
 * view may be stale (a full metadata refresh follows, after its backoff). */
static void metadata_failed(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    (void)c, (void)req, (void)err;
    atomic_store(&p->md_wanted, 1);
    p->md_inflight = 0;
    p->md_backoff_until = kp_mono_ms() + p->conf.retry_backoff_ms;
}

static void initpid_req_failed(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    (void)c, (void)req;
    atomic_store(&p->md_wanted, 1);
    initpid_failed(p, err);
}

static void produce_failed(kp_producer_t *p, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    (void)c;
    atomic_store(&p->md_wanted, 1);
    for (int i = 0; i < req->nbatches; i++)
        batch_result(p, req->batches[i], err, -1, -1, req->written > 0);
}

static void produce_written(kp_producer_t *p, kp_conn_t *c, kp_req_t *req) {
    (void)c;
    /* acks=0: done when written; the broker says nothing, so offsets are
     * unknown and the status is "possibly persisted". */
    for (int i = 0; i < req->nbatches; i++) {
        kp_batch_t *b = req->batches[i];
        b->tp->inflight--;
        if (b->abandoned)
            kp_acc_release(p, b);
        else
            kp_batch_complete(p, b, KP_OK, -1, -1, KP_POSSIBLY_PERSISTED);
    }
}

static const kp_req_ops_t metadata_ops = {handle_metadata, metadata_failed, NULL};
static const kp_req_ops_t initpid_ops = {handle_initpid, initpid_req_failed, NULL};
static const kp_req_ops_t produce_ops = {handle_produce, produce_failed, produce_written};

/* Compression: a batch closed because it was full was compressed by the
 * application thread that closed it (accumulator.c); one sent because of
 * linger.ms or a flush is compressed here, once, when first sent; retries
 * reuse the result. zstd needs Produce v7: an older broker gets no silently
 * uncompressed batch, the records fail with UNSUPPORTED_COMPRESSION_TYPE. */
static kp_err_t prepare_batch(kp_producer_t *p, kp_conn_t *c, kp_batch_t *b) {
    if (!p->compressor)
        return KP_OK;
    if (p->conf.compression_type == KP_CODEC_ZSTD && c->ver[KP_API_PRODUCE] < 7)
        return KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
    return b->cbuf ? KP_OK : kp_batch_compress(p, p->compressor, b);
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
        if (b->base_seq >= 0 && b->pid == p->pid && b->epoch == p->epoch)
            request_new_pid(p, "a batch in flight expired");
        kp_log(p, 4, "%s [%d]: %d records failed: delivery.timeout.ms expired in flight",
               b->tp->topic->name, b->tp->partition, b->count);
        kp_batch_notify(p, b, KP_ERR_MSG_TIMED_OUT_IN_FLIGHT, -1, -1, KP_POSSIBLY_PERSISTED);
    }
    *next = MIN(*next, req->expire_at);
}

static void expire_in_flight(kp_producer_t *p, int64_t now, int64_t *next) {
    for (int i = 0; i < conn_count(p); i++) {
        kp_conn_t *c = conn_at(p, i);
        for (kp_req_t *req = c->wait_head; req; req = req->next)
            if (req->is_produce)
                expire_request(p, req, now, next);
        for (kp_req_t *req = c->out_head; req; req = req->next)
            if (req->is_produce)
                expire_request(p, req, now, next);
    }
}

/* ---------------------------------------------------------------- the scan */

typedef struct drain_list {
    kp_conn_t *conn;
    kp_batch_t **bs;
    int n, cap;
    size_t bytes;
    int full;
} drain_list_t;

static drain_list_t *drain_for(drain_list_t **lists, int *nlists, int *cap, kp_conn_t *c) {
    for (int i = 0; i < *nlists; i++)
        if ((*lists)[i].conn == c)
            return &(*lists)[i];
    drain_list_t *nl = kp_grow(*lists, *nlists, cap, sizeof(*nl), 8);
    if (!nl)
        return NULL;
    *lists = nl;
    drain_list_t *d = &(*lists)[(*nlists)++];
    memset(d, 0, sizeof(*d));
    d->conn = c;
    return d;
}

static int drain_add(drain_list_t *d, kp_batch_t *b) {
    kp_batch_t **nb = kp_grow(d->bs, d->n, &d->cap, sizeof(*nb), 16);
    if (!nb)
        return -1;
    d->bs = nb;
    d->bs[d->n++] = b;
    d->bytes += b->cbuf ? b->clen : b->len;
    return 0;
}

/* May the partition send b now, with what it has in flight? Up to
 * max.in.flight.requests.per.connection batches (5 at most with
 * idempotence, which the broker's duplicate check covers), all to one
 * connection, whose answers come back in order; resends one at a time; and
 * a batch under a new producer id only once the old id's are answered. */
static int may_send_more(const kp_producer_t *p, const kp_tp_t *tp, const kp_batch_t *b,
                         const kp_conn_t *c) {
    if (!tp->inflight)
        return 1;
    if (tp->retrying || tp->inflight_conn != c || tp->inflight >= p->conf.max_in_flight)
        return 0;
    return !(p->idempotent && b->base_seq < 0 && (tp->pid != p->pid || tp->epoch != p->epoch));
}

/* Move the partitions waiting in the inbox onto the I/O thread's list (all
 * of them, or none while memory runs out: they wait for the next turn). */
static void take_inbox(kp_producer_t *p) {
    pthread_mutex_lock(&p->work_lock);
    int n = 0;
    for (kp_tp_t *tp = p->work_inbox; tp; tp = tp->work_next)
        n++;
    if (p->nactive + n > p->active_cap) {
        int cap = (p->nactive + n) * 2;
        kp_tp_t **na = kp_realloc(p->active, (size_t)cap * sizeof(*na));
        if (!na) {
            pthread_mutex_unlock(&p->work_lock);
            return;
        }
        p->active = na;
        p->active_cap = cap;
    }
    for (kp_tp_t *tp = p->work_inbox; tp; tp = tp->work_next)
        p->active[p->nactive++] = tp;
    p->work_inbox = NULL;
    pthread_mutex_unlock(&p->work_lock);
}

/* A request lists each topic once, its partitions together: drain lists,
 * filled in the order of the partition list, are sorted by topic. */
static int by_topic(const void *a, const void *b) {
    const kp_batch_t *x = *(kp_batch_t *const *)a, *y = *(kp_batch_t *const *)b;
    if (x->tp->topic != y->tp->topic)
        return (uintptr_t)x->tp->topic < (uintptr_t)y->tp->topic ? -1 : 1;
    return x->tp->partition < y->tp->partition ? -1 : x->tp->partition > y->tp->partition;
}

/* Scan the partitions with batches: expire, and collect ready batches per broker.
 * Returns the nearest time something becomes due. */
static int64_t scan(kp_producer_t *p, int64_t now) {
    int64_t next = INT64_MAX;
    kp_batch_t *expired = NULL;
    drain_list_t *lists = NULL;
    int nlists = 0, lcap = 0;
    int hurry = atomic_load(&p->flushing) > 0 || atomic_load(&p->closing);
    kp_err_t fatal = (kp_err_t)atomic_load(&p->fatal_err);
    int64_t dto = p->conf.delivery_timeout_ms;

    /* only the partitions with batches: those on the list, and those that
     * got their first batch since (the inbox) */
    take_inbox(p);
    int listed = 0;
    for (int ai = 0; ai < p->nactive; ai++) {
        kp_tp_t *tp = p->active[ai];
        pthread_mutex_lock(&tp->lock);
        /* delivery.timeout.ms: batches waiting in the deque (all of
         * them once the producer hit a fatal error) */
        while (tp->head && !tp->head->compressing &&
               (fatal || now >= tp->head->created_ms + dto)) {
            kp_batch_t *b = tp->head;
            tp->head = b->next;
            if (!tp->head)
                tp->tail = NULL;
            b->closed = 1;
            if (b->base_seq >= 0 && b->pid == p->pid && b->epoch == p->epoch)
                request_new_pid(p, "a sequenced batch expired");
            b->next = expired;
            expired = b;
        }
        kp_batch_t *b = tp->head;
        /* (stores only on a change: every write costs the partner
         * thread a cache miss) */
        int64_t stalled = atomic_load_explicit(&tp->stalled_since, memory_order_relaxed);
        if (!b && stalled)
            atomic_store_explicit(&tp->stalled_since, 0, memory_order_relaxed);
        if (b) {
            next = MIN(next, b->created_ms + dto);
            kp_conn_t *c = tp->leader >= 0 ? broker_conn(p, tp->leader) : NULL;
            int64_t ready_at;
            if (b->attempts)
                ready_at = b->retry_at_ms; /* a retry waits out its backoff */
            else if (b->closed || b->next || hurry)
                ready_at = now;
            else
                ready_at = b->created_ms + p->conf.linger_ms;
            /* idempotence: a new batch needs a producer id */
            int need_pid = p->idempotent && b->base_seq < 0 && p->pid_state != KP_PID_READY;
            int stalls = ready_at <= now && (!c || c->state != KP_CONN_READY);
            if (!stalls && stalled)
                atomic_store_explicit(&tp->stalled_since, 0, memory_order_relaxed);
            else if (stalls && !stalled)
                atomic_store_explicit(&tp->stalled_since, now, memory_order_relaxed);
            if (tp->retrying && !tp->inflight && !b->sent_no)
                tp->retrying = 0; /* every resend went through */
            if (!c) {
                atomic_store(&p->md_wanted, 1);
            } else if (b->compressing) {
                /* its application thread wakes us when done */
            } else if (need_pid || !may_send_more(p, tp, b, c)) {
                /* wait for answers to what is in flight */
            } else if (ready_at > now) {
                next = MIN(next, ready_at);
            } else if (c->state != KP_CONN_READY) {
                /* dialled after the scan, never under a partition's lock
                 * (a connect resolves the broker's name) */
                c->want_connect = 1;
            } else if (c->nreqs < p->conf.max_in_flight) {
                drain_list_t *d = drain_for(&lists, &nlists, &lcap, c);
                if (d && !d->full &&
                    (d->n == 0 || d->bytes + (b->cbuf ? b->clen : b->len) <=
                                      (size_t)p->conf.max_request_size)) {
                    if (!drain_add(d, b)) {
                        tp->head = b->next;
                        if (!tp->head)
                            tp->tail = NULL;
                        b->next = NULL;
                        b->closed = 1;
                        tp->inflight++;
                        tp->inflight_conn = c;
                        if (!b->sent_no)
                            b->sent_no = ++tp->sent_count;
                        if (p->idempotent && b->base_seq < 0)
                            assign_sequence(p, tp, b);
                        /* a request holds one batch per partition: the
                         * next one goes in the next request */
                        if (tp->head)
                            next = now;
                    }
                } else if (d) {
                    d->full = 1;
                    next = now; /* more to send: come straight back */
                }
            }
        }
        /* off the list once its deque is empty (appends and requeues
         * put it back, under this lock) */
        int keep = tp->head != NULL;
        tp->listed = keep;
        pthread_mutex_unlock(&tp->lock);
        if (keep)
            p->active[listed++] = tp;
    }
    p->nactive = listed;
    for (int i = 0; i < conn_count(p); i++) {
        kp_conn_t *c = conn_at(p, i);
        if (!c->want_connect)
            continue;
        c->want_connect = 0;
        kp_conn_connect(p, c, now); /* (does nothing while its backoff lasts) */
        if (c->state == KP_CONN_DOWN)
            next = MIN(next, c->next_connect_ms);
    }

    while (expired) {
        kp_batch_t *b = expired;
        expired = b->next;
        kp_err_t err = fatal                ? fatal
                       : b->maybe_persisted ? KP_ERR_MSG_TIMED_OUT_IN_FLIGHT
                                            : KP_ERR_MSG_TIMED_OUT_QUEUE;
        kp_batch_complete(p, b, err, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    for (int i = 0; i < nlists; i++) {
        drain_list_t *d = &lists[i];
        int kept = 0;
        for (int k = 0; k < d->n; k++) {
            kp_err_t e = prepare_batch(p, d->conn, d->bs[k]);
            if (e)
                batch_result(p, d->bs[k], e, -1, -1, 0);
            else
                d->bs[kept++] = d->bs[k];
        }
        d->n = kept;
        if (!d->n) {
            free(d->bs);
            continue;
        }
        qsort(d->bs, (size_t)d->n, sizeof(*d->bs), by_topic);
        kp_req_t *req = build_produce(p, d->conn, d->bs, d->n, now);
        if (!req) {
            for (int k = 0; k < d->n; k++)
                batch_result(p, d->bs[k], KP_ERR_NOMEM, -1, -1, 0);
            free(d->bs);
            continue;
        }
        kp_conn_send(p, d->conn, req);
    }
    free(lists);
    return next;
}

/* ---------------------------------------------------------------- shutdown */

/* Force close: fail every record not yet completed. Returns 0 while an
 * application thread still compresses a batch (it is its own until then;
 * it wakes us when done), 1 when everything is failed. */
static int fail_everything(kp_producer_t *p) {
    int left = 0;
    for (int i = 0; i < conn_count(p); i++)
        kp_conn_close(p, conn_at(p, i), KP_ERR_PURGED_CLOSE,
                      i < p->nbrokers ? "producer closed" : NULL);
    kp_batch_t *all = NULL;
    void *const *ts, *const *tps;
    for (size_t ti = 0, nt = kp_topics(p, &ts); ti < nt; ti++) {
        for (int32_t pi = 0, np = kp_topic_parts(ts[ti], &tps); pi < np; pi++) {
            kp_tp_t *tp = tps[pi];
            pthread_mutex_lock(&tp->lock);
            kp_batch_t **pp = &tp->head;
            tp->tail = NULL;
            while (*pp) {
                kp_batch_t *b = *pp;
                if (b->compressing) {
                    left = 1;
                    tp->tail = b;
                    pp = &b->next;
                    continue;
                }
                *pp = b->next;
                b->next = all;
                all = b;
            }
            pthread_mutex_unlock(&tp->lock);
        }
    }
    while (all) {
        kp_batch_t *b = all;
        all = b->next;
        kp_batch_complete(p, b, KP_ERR_PURGED_CLOSE, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    return !left;
}

static void retire_conns(kp_producer_t *p) {
    while (p->retired) {
        kp_conn_t *c = p->retired;
        p->retired = c->next;
        kp_conn_destroy(p, c);
    }
    if (p->retire_boot) {
        /* bootstrap connections go once known brokers took over, each when
         * it has nothing in flight (an InitProducerId may be on one) */
        int kept = 0;
        for (int i = 0; i < p->nboot; i++) {
            kp_conn_t *c = p->boot[i];
            if (c->wait_head || c->out_head)
                p->boot[kept++] = c;
            else
                kp_conn_destroy(p, c);
        }
        p->nboot = kept;
        p->retire_boot = kept > 0;
    }
}

/* Drain the eventfd first, then re-arm: a kp_wake() between the two finds
 * wake_pending still set and writes nothing, which is fine since the scan
 * that follows sees its work. The other order could swallow a write and
 * leave wake_pending stuck. */
static void drain_wake(kp_producer_t *p) {
    uint64_t v;
    if (read(p->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        kp_log(p, 3, "eventfd read: %s", strerror(errno));
    atomic_store(&p->wake_pending, 0);
}

static KP_TLS const kp_producer_t *io_thread_of;

int kp_in_io_thread(const kp_producer_t *p) { return io_thread_of == p; }
int kp_in_any_io_thread(void) { return io_thread_of != NULL; }

void *kp_sender_main(void *arg) {
    kp_producer_t *p = arg;
    io_thread_of = p;
    struct pollfd *pfds = NULL;
    kp_conn_t **pconns = NULL;
    int pcap = 0;
    for (;;) {
        int64_t now = kp_mono_ms();
        retire_conns(p);
        if (atomic_load(&p->force_close)) {
            if (fail_everything(p))
                break;
            kp_log(p, 7, "close: waiting for a batch an application thread compresses");
            struct pollfd w = {.fd = p->wake_fd, .events = POLLIN};
            if (poll(&w, 1, 100) > 0)
                drain_wake(p);
            continue;
        }
        if (atomic_load(&p->closing) && kp_drained(p))
            break;
        int64_t next = INT64_MAX;
        /* A produce can only go where metadata says; when we know nothing
         * yet (or a topic waits), fetch it. */
        metadata_maybe(p, now, &next);
        initpid_maybe(p, now, &next);
        expire_in_flight(p, now, &next);
        next = MIN(next, scan(p, now));
        /* timers and fds: the wake-up eventfd, the connections', then the
         * resolver's (resolve.h) */
        int nc = conn_count(p), nr = kp_resolver_nfds(p->resolver);
        if (nc + nr + 1 > pcap) {
            int ncap = (nc + nr + 1) * 2;
            struct pollfd *np = kp_realloc(pfds, (size_t)ncap * sizeof(*np));
            kp_conn_t **ncn = np ? kp_realloc(pconns, (size_t)ncap * sizeof(*ncn)) : NULL;
            if (np)
                pfds = np;
            if (ncn) {
                pconns = ncn;
                pcap = ncap;
            } else {
                poll(NULL, 0, 10); /* out of memory: try again shortly */
                continue;
            }
        }
        int nfds = 0;
        pfds[nfds].fd = p->wake_fd;
        pfds[nfds].events = POLLIN;
        pconns[nfds++] = NULL;
        for (int i = 0; i < nc; i++) {
            kp_conn_t *c = conn_at(p, i);
            int64_t due = kp_conn_timers(p, c, now); /* (MIN evaluates twice) */
            next = MIN(next, due);
            if (c->state == KP_CONN_DOWN || c->fd < 0)
                continue;
            pfds[nfds].fd = c->fd;
            pfds[nfds].events = kp_conn_events(c);
            pconns[nfds++] = c;
        }
        int rfds = nfds;
        nr = kp_resolver_fds(p->resolver, pfds + rfds, nr);
        nfds += nr;
        int timeout;
        now = kp_mono_ms();
        int64_t rdue = kp_resolver_timeout(p->resolver, now);
        next = MIN(next, rdue);
        if (next <= now)
            timeout = 0;
        else if (next == INT64_MAX || next - now > 1000)
            timeout = 1000;
        else
            timeout = (int)(next - now);
        int rc = poll(pfds, (nfds_t)nfds, timeout);
        if (rc < 0 && errno != EINTR)
            kp_log(p, 3, "poll: %s", strerror(errno));
        if (rc < 0)
            continue;
        now = kp_mono_ms();
        /* lookups: answers, c-ares' timeouts, deadlines (no-op when none) */
        kp_resolver_process(p->resolver, pfds + rfds, nr, now);
        if (rc == 0)
            continue;
        if (pfds[0].revents & POLLIN)
            drain_wake(p);
        for (int i = 1; i < rfds; i++)
            if (pfds[i].revents)
                kp_conn_io(p, pconns[i], pfds[i].revents, now);
    }
    free(pfds);
    free(pconns);
    return NULL;
}

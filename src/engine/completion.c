/*
 * completion — the completion sink: how the records of a completed batch
 * are told, and on which thread.
 *
 * completion.mode=callback (the default): on the I/O thread, at once: the
 * batch callback (with the batch's own entry array, each entry's err filled
 * in), then per record the interceptors' on_acknowledgement, its callback
 * and its future.
 *
 * completion.mode=queue: the I/O thread does only what runs no application
 * code: each entry's err, and the futures (so kp_send_sync and
 * kp_future_get need no poller). If anything is left to run (a batch
 * callback, interceptors, a record's callback), the batch's entry array
 * moves into a queue node — batch-sized, reused from a free list, so
 * nothing is allocated per record nor, at steady state, per batch — and
 * stays charged to buffer.memory until kp_poll has run it: a slow poller
 * makes sends wait for memory, it cannot grow the queue without bound.
 * Watermark events are queued as numbers (acc.wm_events's), not nodes:
 * event k is HIGH when k is odd, so however late they are run they
 * alternate.
 *
 * The eventfd is written when the queue goes from empty to not and read
 * when a poller takes the last item, both under cq.lock, so it is readable
 * exactly while something waits (level-triggered epoll sees no stale
 * readiness, and never misses an item: the other order — read after the
 * lock is dropped — could swallow the write of an item queued meanwhile).
 *
 * Counting: a batch's records count as completed (kp_flush, kp_close,
 * kp_pending) when the broker answered, not when the poller ran them:
 * flush waits for the broker, not for the application's poller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/metrics.h"
#include "base/util.h"

/* ---------------------------------------------------------------- futures */

void kp_future_unref(kp_future_t *f) {
    pthread_mutex_lock(&f->lock);
    int left = --f->refs;
    pthread_mutex_unlock(&f->lock);
    if (!left) {
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f);
    }
}

void kp_future_resolve(kp_future_t *f, const kp_record_metadata_t *md, kp_err_t err) {
    pthread_mutex_lock(&f->lock);
    f->md = *md;
    f->md.error_message = NULL; /* (the broker's words do not outlive the call) */
    f->err = err;
    f->done = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    kp_future_unref(f);
}

/* ---------------------------------------------------------------- one record */

/* What one record of a batch the broker refused is told (KIP-467): a
 * record the broker named fails with the batch's error and its own message
 * (or the batch's); the others with KP_ERR_INVALID_RECORD_IN_BATCH; without
 * record errors, every record gets the batch's error and message. msg is
 * set to a NUL-terminated copy in buf, or NULL. */
static kp_err_t record_error(const kp_produce_presp_t *pp, kp_err_t err, int32_t index,
                             char *buf, size_t size, const char **msg) {
    const char *m = pp->error_message;
    int32_t mlen = pp->error_message_len;
    if (pp->nrecord_errors > 0) {
        const kp_produce_rec_err_t *re = NULL;
        for (int32_t k = 0; k < pp->nrecord_errors && !re; k++)
            if (pp->record_errors[k].batch_index == index)
                re = &pp->record_errors[k];
        if (!re) {
            *msg = NULL;
            return KP_ERR_INVALID_RECORD_IN_BATCH;
        }
        if (re->msg && re->msg_len >= 0) {
            m = re->msg;
            mlen = re->msg_len;
        }
    }
    *msg = NULL;
    if (m && mlen >= 0) {
        snprintf(buf, size, "%.*s", mlen, m);
        *msg = buf;
    }
    return err;
}

/* A batch's outcome, as its records are told it. */
typedef struct outcome {
    kp_tp_t *tp;
    kp_err_t err;
    int64_t base_offset, log_append_time;
    kp_persisted_t persisted;
    const char *msg; /* the batch's message */
} outcome_t;

static inline kp_record_metadata_t record_md(const outcome_t *o, const kp_rec_entry_t *e,
                                             kp_err_t err, const char *msg) {
    return (kp_record_metadata_t){
        .topic = o->tp->topic->name,
        .partition = o->tp->partition,
        .offset = (err == KP_OK && o->base_offset >= 0) ? o->base_offset + e->offset_delta : -1,
        .timestamp = (err == KP_OK && o->log_append_time >= 0) ? o->log_append_time
                                                               : e->timestamp,
        .serialized_key_size = e->serialized_key_size,
        .serialized_value_size = e->serialized_value_size,
        .persisted = o->persisted,
        .error_message = msg,
    };
}

static void run_interceptors(kp_producer_t *p, const kp_record_metadata_t *md, kp_err_t err) {
    for (int k = 0; k < p->conf.ninterceptors; k++)
        if (p->conf.interceptors[k].on_acknowledgement)
            p->conf.interceptors[k].on_acknowledgement(md, err, p->conf.interceptors[k].opaque);
}

static void run_batch_cb(kp_producer_t *p, const outcome_t *o, const kp_rec_entry_t *ents,
                         int n) {
    kp_batch_result_t r = {
        .topic = o->tp->topic->name,
        .partition = o->tp->partition,
        .base_offset = o->err == KP_OK ? o->base_offset : -1,
        .log_append_time = o->err == KP_OK ? o->log_append_time : -1,
        .err = o->err,
        .persisted = o->persisted,
        .error_message = o->msg,
        .records = ents,
        .count = n,
    };
    p->conf.batch_cb(&r, p->conf.batch_cb_opaque);
}

/* The batch's own message (Produce v8+) into buf, or NULL. */
static const char *batch_message(const kp_produce_presp_t *pp, char *buf, size_t size) {
    if (!pp || !pp->error_message || pp->error_message_len < 0)
        return NULL;
    snprintf(buf, size, "%.*s", pp->error_message_len, pp->error_message);
    return buf;
}

/* ---------------------------------------------------------------- callback mode */

/* The batch callback, then each record's interceptors, callback and
 * future, here on the I/O thread. */
static void notify_records(kp_producer_t *p, kp_batch_t *b, const outcome_t *o,
                           const kp_produce_presp_t *pp) {
    char msgbuf[512];
    if (__builtin_expect(p->conf.batch_cb != NULL, 0)) {
        for (int32_t i = 0; i < b->nents; i++) {
            const char *msg;
            b->ents[i].err =
                pp ? record_error(pp, o->err, b->ents[i].offset_delta, msgbuf, sizeof(msgbuf), &msg)
                   : o->err;
        }
        char bmsg[512];
        outcome_t ob = *o;
        ob.msg = batch_message(pp, bmsg, sizeof(bmsg));
        run_batch_cb(p, &ob, b->ents, b->nents);
    }
    for (int32_t i = 0; i < b->nents; i++) {
        kp_rec_entry_t *e = &b->ents[i];
        const char *msg = NULL;
        kp_err_t err = o->err;
        if (__builtin_expect(pp != NULL, 0))
            err = record_error(pp, o->err, e->offset_delta, msgbuf, sizeof(msgbuf), &msg);
        e->err = err;
        kp_record_metadata_t md = record_md(o, e, err, msg);
        run_interceptors(p, &md, err);
        if (e->callback)
            e->callback(&md, err, e->opaque);
        if (e->future)
            kp_future_resolve(e->future, &md, err);
    }
}

/* ---------------------------------------------------------------- queue mode */

/* Make the eventfd say whether something waits (cq.lock held): written
 * when the queue is no longer empty, read when it is empty again. */
static void settle_fd(kp_cq_t *q) {
    int waiting = q->head || q->wm_taken < q->wm_queued;
    if (waiting == q->signalled)
        return;
    uint64_t v = 1;
    ssize_t rc = waiting ? write(q->fd, &v, sizeof(v)) : read(q->fd, &v, sizeof(v));
    (void)rc; /* nonblocking; a full or empty counter is the state we want anyway */
    q->signalled = waiting;
}

/* Something was queued (cq.lock held). */
static void queued_one(kp_cq_t *q) {
    settle_fd(q);
    if (q->waiters)
        pthread_cond_signal(&q->cond);
}

/* A batch's items run on the poller's thread: the batch callback, then each
 * record's interceptors and callback (the futures are done already). */
static void run_item(kp_producer_t *p, kp_cq_item_t *it) {
    outcome_t o = {it->tp, it->err, it->base_offset, it->log_append_time, it->persisted, it->msg};
    if (p->conf.batch_cb)
        run_batch_cb(p, &o, it->ents, it->nents);
    for (int32_t i = 0; i < it->nents; i++) {
        kp_rec_entry_t *e = &it->ents[i];
        if (!p->conf.ninterceptors && !e->callback)
            continue;
        /* (per record, the batch's message; KIP-467's own messages are not kept) */
        kp_record_metadata_t md = record_md(&o, e, e->err, e->err == it->err ? it->msg : NULL);
        run_interceptors(p, &md, e->err);
        if (e->callback)
            e->callback(&md, e->err, e->opaque);
    }
}

/* Give an item's entries back to buffer.memory and the node to the free
 * list (cq.lock not held). */
static void recycle_item(kp_producer_t *p, kp_cq_item_t *it) {
    kp_acc_release_entries(&p->acc, it->ents, it->ents_cap);
    free(it->msg);
    pthread_mutex_lock(&p->cq.lock);
    int kept = p->cq.free_items.n < 1024 && !kp_stack_push(&p->cq.free_items, it);
    pthread_mutex_unlock(&p->cq.lock);
    if (!kept)
        free(it);
}

/* Each entry's outcome and future, here; the rest queued for kp_poll (the
 * entries move out of b), unless nothing is left to run. */
static void queue_batch(kp_producer_t *p, kp_batch_t *b, const outcome_t *o,
                        const kp_produce_presp_t *pp) {
    char msgbuf[512];
    int run = p->conf.batch_cb || p->conf.ninterceptors;
    for (int32_t i = 0; i < b->nents; i++) {
        kp_rec_entry_t *e = &b->ents[i];
        const char *msg = NULL;
        e->err = pp ? record_error(pp, o->err, e->offset_delta, msgbuf, sizeof(msgbuf), &msg)
                    : o->err;
        run |= e->callback != NULL;
        if (e->future) {
            kp_record_metadata_t md = record_md(o, e, e->err, msg);
            kp_future_resolve(e->future, &md, e->err);
        }
    }
    if (!run || !b->nents)
        return;
    kp_cq_t *q = &p->cq;
    pthread_mutex_lock(&q->lock);
    kp_cq_item_t *it = kp_stack_pop(&q->free_items);
    pthread_mutex_unlock(&q->lock);
    kp_cq_item_t local;
    if (!it && !(it = kp_malloc(sizeof(*it)))) {
        /* out of memory for a node: run them here rather than lose them */
        kp_log(p, 3, "out of memory queueing completions: %d run on the I/O thread", b->nents);
        it = &local;
    }
    char bmsg[512];
    const char *m = batch_message(pp, bmsg, sizeof(bmsg));
    *it = (kp_cq_item_t){.tp = b->tp, .ents = b->ents, .nents = b->nents, .ents_cap = b->ents_cap,
                         .err = o->err, .persisted = o->persisted,
                         .base_offset = o->base_offset, .log_append_time = o->log_append_time,
                         .msg = m ? kp_strdup(m) : NULL};
    b->ents = NULL; /* charged to buffer.memory until run */
    b->nents = b->ents_cap = 0;
    if (it == &local) {
        run_item(p, it);
        kp_acc_release_entries(&p->acc, it->ents, it->ents_cap);
        free(it->msg);
        return;
    }
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    queued_one(q);
    pthread_mutex_unlock(&q->lock);
}

static KP_TLS const kp_producer_t *polling_of; /* kp_in_poll */

int kp_in_poll(const kp_producer_t *p) { return polling_of == p; }

static void run_watermark(kp_producer_t *p, uint64_t k) {
    int64_t avail = kp_acc_available(&p->acc);
    p->conf.watermark_cb(k & 1 ? KP_BUFFER_HIGH : KP_BUFFER_LOW, avail > 0 ? avail : 0,
                         p->conf.watermark_opaque);
}

int kp_cq_poll(kp_producer_t *p, int max, int64_t timeout_ms) {
    kp_cq_t *q = &p->cq;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : timeout_ms ? kp_mono_ms() + timeout_ms : 0;
    const kp_producer_t *outer = polling_of; /* (a callback may poll too) */
    polling_of = p;
    int ran = 0;
    pthread_mutex_lock(&q->lock);
    while (timeout_ms && !q->head && q->wm_taken == q->wm_queued && !q->closed) {
        q->waiters++;
        int timed_out = kp_cond_wait_until(&q->cond, &q->lock, deadline);
        q->waiters--;
        if (timed_out)
            break;
    }
    while (ran < max) {
        if (q->wm_taken < q->wm_queued) {
            uint64_t k = ++q->wm_taken;
            settle_fd(q);
            pthread_mutex_unlock(&q->lock);
            run_watermark(p, k);
        } else if (q->head) {
            kp_cq_item_t *it = q->head;
            q->head = it->next;
            if (!q->head)
                q->tail = NULL;
            settle_fd(q);
            pthread_mutex_unlock(&q->lock);
            run_item(p, it);
            recycle_item(p, it);
        } else {
            break;
        }
        ran++;
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    polling_of = outer;
    return ran;
}

void kp_deliver_watermarks(kp_producer_t *p) {
    uint64_t n = atomic_load_explicit(&p->acc.wm_events, memory_order_acquire);
    if (n == p->wm_seen)
        return;
    if (p->cq.enabled) {
        pthread_mutex_lock(&p->cq.lock);
        p->cq.wm_queued = n;
        queued_one(&p->cq);
        pthread_mutex_unlock(&p->cq.lock);
        p->wm_seen = n;
        return;
    }
    while (p->wm_seen < n)
        run_watermark(p, ++p->wm_seen);
}

kp_err_t kp_cq_init(kp_producer_t *p) {
    kp_cq_t *q = &p->cq;
    q->enabled = p->conf.completion_mode == KP_COMPLETE_QUEUE;
    if (!q->enabled)
        return KP_OK;
    q->fd = kp_fd_above_std(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    return q->fd < 0 ? KP_ERR_IO : KP_OK;
}

void kp_cq_close(kp_producer_t *p) {
    pthread_mutex_lock(&p->cq.lock);
    p->cq.closed = 1;
    pthread_cond_broadcast(&p->cq.cond);
    pthread_mutex_unlock(&p->cq.lock);
}

void kp_cq_destroy(kp_producer_t *p) {
    kp_cq_t *q = &p->cq;
    for (kp_cq_item_t *it = q->head, *next; it; it = next) {
        next = it->next;
        free(it->ents);
        free(it->msg);
        free(it);
    }
    void *it;
    while ((it = kp_stack_pop(&q->free_items)))
        free(it);
    free(q->free_items.v);
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
}

/* ---------------------------------------------------------------- batches */

/* n more records of tp completed: wake flush and close. */
static void count_completed(kp_producer_t *p, kp_tp_t *tp, int32_t n) {
    atomic_fetch_add(&tp->completed, n);
    pthread_mutex_lock(&p->done_lock);
    if (p->done_waiters)
        pthread_cond_broadcast(&p->done_cond);
    pthread_mutex_unlock(&p->done_lock);
}

/* Where the records of b are told: here, or through the queue. */
static inline void tell(kp_producer_t *p, kp_batch_t *b, const outcome_t *o,
                        const kp_produce_presp_t *pp) {
    if (__builtin_expect(p->cq.enabled, 0))
        queue_batch(p, b, o, pp);
    else
        notify_records(p, b, o, pp);
}

/* The records of b are told o and counted completed, the transaction and
 * the metrics hear of it; release: the batch's memory goes back before the
 * records count as completed (a flush that returns finds buffer.memory
 * given back, in queue mode but for the entries still queued), else the
 * batch stays allocated (kp_batch_notify). */
static void finish(kp_producer_t *p, kp_batch_t *b, const outcome_t *o,
                   const kp_produce_presp_t *pp, int release) {
    kp_tp_t *tp = b->tp;
    int32_t n = b->count;
    if (o->err && p->txn.enabled)
        kp_txn_record_failed(p, o->err);
    kp_metrics_batch_done(p, b, o->err, o->persisted);
    tell(p, b, o, pp);
    atomic_fetch_sub_explicit(&tp->queued, 1, memory_order_relaxed);
    if (release)
        kp_acc_release(&p->acc, b);
    count_completed(p, tp, n);
}

void kp_batch_notify(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                     int64_t log_append_time, kp_persisted_t persisted) {
    outcome_t o = {b->tp, err, base_offset, log_append_time, persisted, NULL};
    finish(p, b, &o, NULL, 0);
}

void kp_batch_complete(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                       int64_t log_append_time, kp_persisted_t persisted) {
    kp_batch_fail(p, b, err, base_offset, log_append_time, persisted, NULL);
}

void kp_batch_fail(kp_producer_t *p, kp_batch_t *b, kp_err_t err, int64_t base_offset,
                   int64_t log_append_time, kp_persisted_t persisted,
                   const kp_produce_presp_t *pp) {
    outcome_t o = {b->tp, err, base_offset, log_append_time, persisted, NULL};
    finish(p, b, &o, pp, 1);
}

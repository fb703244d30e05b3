/*
 * accumulator — per-partition deques of batches, and the memory pool that
 * bounds them.
 *
 * Append: under the partition's lock, a record is encoded straight into the
 * open batch at the deque's tail (RecordBatch v2 wire format, so sending
 * needs no second copy). When it does not fit, that batch is closed (it is
 * full) and a new one is opened with a buffer of max(batch.size, record)
 * bytes. The only allocations are per batch, not per record (the completion
 * entry array grows by doubling, and only for records with a callback or
 * future).
 *
 * Memory: every batch buffer is charged to buffer.memory. When none is left
 * the appender releases the partition lock and waits (at most max.block.ms,
 * the caller's deadline) for the I/O thread to complete batches; then it
 * retakes the lock and looks again, since another thread may have opened a
 * batch meanwhile (the Java client's RecordAccumulator does the same).
 * Buffers of exactly batch.size bytes are kept on a free list for reuse.
 *
 * Memory also counts each batch's completion entries and, once a batch is
 * compressed, its compressed copy instead of its buffer. With
 * completion.mode=queue the entries stay charged after the batch completed,
 * until kp_poll ran them: a slow poller makes appends wait, as a slow
 * network does.
 *
 * Watermarks (kp_config_set_buffer_watermark_cb): every change of the pool
 * looks whether use crossed buffer.memory.high.watermark.percent going up,
 * or then the low one going down; a crossing is counted here and delivered
 * by the I/O thread (completion.c), so the events strictly alternate.
 *
 * Readiness (decided by the sender): a batch is ready when it is closed
 * (full, or followed by another batch), when linger.ms has passed since it
 * was created, when a flush or close is under way, or when its retry backoff
 * has passed.
 *
 * State: kp_acc_t (internal.h) holds the pool, the application threads'
 * compressors and the inbox of partitions that got their first batch; the
 * deques live in the partitions, each under its lock. The accumulator knows
 * its owner only through the configuration, the closing flag and the notify
 * hook it was given (the producer's: wake the I/O thread); the caller says
 * whether an append may block.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "record/compress.h"
#include "base/crc32c.h"
#include "engine/internal.h"
#include "record/record_batch.h"
#include "base/util.h"

kp_tp_t *kp_tp_new(kp_topic_t *t, int32_t partition) {
    size_t size = (sizeof(kp_tp_t) + KP_CACHE_LINE - 1) / KP_CACHE_LINE * KP_CACHE_LINE;
    kp_tp_t *tp = kp_aligned_alloc(KP_CACHE_LINE, size);
    if (!tp)
        return NULL;
    memset(tp, 0, size);
    tp->topic = t;
    tp->partition = partition;
    tp->leader = -1;
    tp->leader_epoch = -1;
    tp->pid = -1;
    tp->epoch = -1;
    if (pthread_mutex_init(&tp->lock, NULL)) {
        free(tp);
        return NULL;
    }
    return tp;
}

void kp_tp_destroy(kp_tp_t *tp) {
    if (!tp)
        return;
    pthread_mutex_destroy(&tp->lock);
    free(tp);
}

size_t kp_acc_record_bound(int32_t klen, int32_t vlen, const kp_header_t *hdrs, size_t nhdrs) {
    size_t n = KP_RB_HEADER_SIZE + KP_RB_MAX_RECORD_OVERHEAD;
    n += klen > 0 ? (size_t)klen : 0;
    n += vlen > 0 ? (size_t)vlen : 0;
    for (size_t i = 0; i < nhdrs; i++) {
        n += 10 + strlen(hdrs[i].key);
        if (hdrs[i].value && hdrs[i].value_len > 0)
            n += (size_t)hdrs[i].value_len;
    }
    return n;
}

void kp_acc_mark_work(kp_acc_t *acc, kp_tp_t *tp) {
    if (tp->listed)
        return;
    tp->listed = 1;
    pthread_mutex_lock(&acc->work_lock);
    tp->work_next = acc->work_inbox;
    acc->work_inbox = tp;
    pthread_mutex_unlock(&acc->work_lock);
}

kp_tp_t *kp_acc_take_inbox(kp_acc_t *acc, int *n) {
    pthread_mutex_lock(&acc->work_lock);
    kp_tp_t *list = acc->work_inbox;
    acc->work_inbox = NULL;
    pthread_mutex_unlock(&acc->work_lock);
    *n = 0;
    for (kp_tp_t *tp = list; tp; tp = tp->work_next)
        (*n)++;
    return list;
}

void kp_acc_put_back_inbox(kp_acc_t *acc, kp_tp_t *list) {
    if (!list)
        return;
    kp_tp_t *last = list;
    while (last->work_next)
        last = last->work_next;
    pthread_mutex_lock(&acc->work_lock);
    last->work_next = acc->work_inbox;
    acc->work_inbox = list;
    pthread_mutex_unlock(&acc->work_lock);
}

void kp_acc_wake_waiters(kp_acc_t *acc) {
    pthread_mutex_lock(&acc->pool_lock);
    pthread_cond_broadcast(&acc->pool_cond);
    pthread_mutex_unlock(&acc->pool_lock);
}

int64_t kp_send_deadline(int64_t max_block_ms, int64_t *deadline) {
    if (!*deadline)
        *deadline = kp_mono_ms() + max_block_ms;
    return *deadline;
}

/* After a change of pool_avail (pool_lock held): has use crossed the high
 * watermark (going up) or then the low one (going down)? Counts the
 * crossing and returns 1; the caller tells the owner once it has released
 * the lock (the I/O thread delivers the event: no user code runs here). */
static int wm_crossed(kp_acc_t *acc) {
    if (!acc->wm_high)
        return 0;
    int64_t used = acc->conf->buffer_memory - acc->pool_avail;
    if (acc->wm_above ? used > acc->wm_low : used < acc->wm_high)
        return 0;
    acc->wm_above = !acc->wm_above;
    atomic_fetch_add_explicit(&acc->wm_events, 1, memory_order_release);
    return 1;
}

/* Take size bytes of buffer.memory. blocking=0: fail with
 * KP_ERR_BUFFER_EXHAUSTED at once. */
static kp_err_t pool_alloc(kp_acc_t *acc, size_t size, int64_t *deadline, int blocking,
                           uint8_t **out) {
    kp_err_t err = KP_OK;
    int64_t waited_from = 0;
    pthread_mutex_lock(&acc->pool_lock);
    while (acc->pool_avail < (int64_t)size) {
        if (atomic_load(acc->closing)) {
            err = KP_ERR_CLOSED;
            break;
        }
        if (!blocking || kp_mono_ms() >= kp_send_deadline(acc->conf->max_block_ms, deadline)) {
            err = KP_ERR_BUFFER_EXHAUSTED;
            break;
        }
        if (!waited_from)
            waited_from = kp_mono_us();
        acc->pool_waiters++;
        kp_cond_wait_until(&acc->pool_cond, &acc->pool_lock, *deadline);
        acc->pool_waiters--;
    }
    if (waited_from && acc->m_wait)
        kp_stat_add_mt(acc->m_wait, (kp_mono_us() - waited_from) * 1000);
    if (err == KP_ERR_BUFFER_EXHAUSTED && acc->m_exhausted)
        kp_stat_add_mt(acc->m_exhausted, 1);
    if (err == KP_OK) {
        acc->pool_avail -= (int64_t)size;
        int crossed = wm_crossed(acc);
        uint8_t *buf = NULL;
        if (size == (size_t)acc->conf->batch_size)
            buf = kp_stack_pop(&acc->free_bufs);
        pthread_mutex_unlock(&acc->pool_lock);
        if (crossed)
            acc->notify(acc->owner);
        if (!buf)
            buf = kp_malloc(size);
        if (!buf) {
            pthread_mutex_lock(&acc->pool_lock);
            acc->pool_avail += (int64_t)size;
            crossed = wm_crossed(acc);
            pthread_mutex_unlock(&acc->pool_lock);
            if (crossed)
                acc->notify(acc->owner);
            return KP_ERR_NOMEM;
        }
        *out = buf;
        return KP_OK;
    }
    pthread_mutex_unlock(&acc->pool_lock);
    return err;
}

static void pool_free(kp_acc_t *acc, uint8_t *buf, size_t size) {
    pthread_mutex_lock(&acc->pool_lock);
    acc->pool_avail += (int64_t)size;
    if (size == (size_t)acc->conf->batch_size &&
        (int64_t)acc->free_bufs.n * (int64_t)size < acc->conf->buffer_memory &&
        !kp_stack_push(&acc->free_bufs, buf))
        buf = NULL;
    if (acc->pool_waiters)
        pthread_cond_broadcast(&acc->pool_cond);
    int crossed = wm_crossed(acc);
    pthread_mutex_unlock(&acc->pool_lock);
    if (crossed)
        acc->notify(acc->owner);
    free(buf);
}

/* Charge (n > 0) or give back (n < 0) bytes held outside the pool's
 * buffers: compressed copies. Never waits: a charge may take the pool
 * below zero for a while (appends then wait). */
static void pool_adjust(kp_acc_t *acc, int64_t n) {
    pthread_mutex_lock(&acc->pool_lock);
    acc->pool_avail -= n;
    if (n < 0 && acc->pool_waiters)
        pthread_cond_broadcast(&acc->pool_cond);
    int crossed = wm_crossed(acc);
    pthread_mutex_unlock(&acc->pool_lock);
    if (crossed)
        acc->notify(acc->owner);
}

int64_t kp_acc_available(kp_acc_t *acc) {
    pthread_mutex_lock(&acc->pool_lock);
    int64_t n = acc->pool_avail;
    pthread_mutex_unlock(&acc->pool_lock);
    return n;
}

void kp_acc_init(kp_acc_t *acc, const kp_conf_t *conf, const _Atomic int *closing,
                 void (*notify)(void *owner), void *owner, int codec_level) {
    memset(acc, 0, sizeof(*acc));
    acc->conf = conf;
    acc->closing = closing;
    acc->notify = notify;
    acc->owner = owner;
    acc->codec_level = codec_level;
    acc->pool_avail = conf->buffer_memory;
    if (conf->watermark_cb) {
        acc->wm_high = conf->buffer_memory * conf->buffer_high_watermark_pct / 100;
        acc->wm_low = conf->buffer_memory * conf->buffer_low_watermark_pct / 100;
        if (acc->wm_high < 1)
            acc->wm_high = 1;
    }
    pthread_mutex_init(&acc->pool_lock, NULL);
    pthread_mutex_init(&acc->cpool_lock, NULL);
    pthread_mutex_init(&acc->work_lock, NULL);
    kp_cond_init_mono(&acc->pool_cond);
}

void kp_acc_destroy(kp_acc_t *acc) {
    if (!acc->conf)
        return; /* never initialised (zeroed) */
    void *buf;
    while ((buf = kp_stack_pop(&acc->free_bufs)))
        free(buf);
    free(acc->free_bufs.v);
    kp_compressor_t *c;
    while ((c = kp_stack_pop(&acc->cpool)))
        kp_compressor_free(c);
    free(acc->cpool.v);
    pthread_mutex_destroy(&acc->pool_lock);
    pthread_mutex_destroy(&acc->cpool_lock);
    pthread_mutex_destroy(&acc->work_lock);
    pthread_cond_destroy(&acc->pool_cond);
    memset(acc, 0, sizeof(*acc));
}

void kp_acc_release_records(kp_acc_t *acc, kp_batch_t *b) {
    if (b->buf)
        pool_free(acc, b->buf, b->cap);
    if (b->cbuf)
        pool_adjust(acc, -(int64_t)b->clen);
    free(b->cbuf);
    b->buf = b->cbuf = NULL;
    b->cap = b->clen = 0;
}

void kp_acc_release_entries(kp_acc_t *acc, kp_rec_entry_t *ents, int ents_cap) {
    if (ents_cap)
        pool_adjust(acc, -(int64_t)ents_cap * (int64_t)sizeof(*ents));
    free(ents);
}

void kp_acc_release(kp_acc_t *acc, kp_batch_t *b) {
    kp_acc_release_records(acc, b);
    kp_acc_release_entries(acc, b->ents, b->ents_cap);
    free(b);
}

kp_err_t kp_batch_compress(kp_acc_t *acc, kp_compressor_t *c, kp_batch_t *b) {
    kp_wbuf_t w;
    kp_wbuf_init(&w, KP_RB_HEADER_SIZE + (b->len - KP_RB_HEADER_SIZE) / 2 + 64);
    kp_wbuf_reserve(&w, KP_RB_HEADER_SIZE);
    if (w.err || kp_compress(c, b->buf + KP_RB_HEADER_SIZE, b->len - KP_RB_HEADER_SIZE, &w)) {
        kp_err_t err = w.err ? KP_ERR_NOMEM : KP_ERR_UNKNOWN;
        kp_wbuf_free(&w);
        return err;
    }
    /* shrink to fit: the capacity grew by doubling, and buffer.memory
     * counts clen */
    uint8_t *fit = kp_realloc(w.p, w.len);
    b->cbuf = fit ? fit : w.p;
    b->clen = w.len;
    b->ccrc = kp_crc32c(0, b->cbuf + KP_RB_HEADER_SIZE, b->clen - KP_RB_HEADER_SIZE);
    /* From now on the batch holds its compressed form only, and that is
     * what buffer.memory counts (as in the Java client, whose buffers hold
     * compressed bytes): the uncompressed buffer goes back to the pool. A
     * split (MESSAGE_TOO_LARGE) decompresses. */
    pool_adjust(acc, (int64_t)b->clen);
    pool_free(acc, b->buf, b->cap);
    b->buf = NULL;
    b->cap = 0;
    /* the Java client's estimator: worse ratios are believed at once (at
     * least +5 %), better ones slowly (-0.5 % a batch); threads racing here
     * lose an update at worst */
    kp_topic_t *t = b->tp->topic;
    int32_t est = atomic_load_explicit(&t->ratio_milli, memory_order_relaxed);
    int32_t seen = (int32_t)((b->clen - KP_RB_HEADER_SIZE) * 1000 /
                             (b->len > KP_RB_HEADER_SIZE ? b->len - KP_RB_HEADER_SIZE : 1));
    if (seen > est)
        est = seen > est + 50 ? seen : est + 50;
    else if (seen < est)
        est = seen > est - 5 ? seen : est - 5;
    atomic_store_explicit(&t->ratio_milli, est, memory_order_relaxed);
    return KP_OK;
}

/* Compress a batch this application thread has just closed because it was
 * full (b->compressing set under tp->lock, which is not held now). Why
 * here: a single I/O thread compressing for every application thread
 * caps compressed throughput at one core (bench: lz4 and zstd scenarios);
 * the thread that filled a batch compresses it, so N senders compress in
 * parallel, and the I/O thread is left with the network. On failure cbuf
 * stays NULL and the I/O thread tries again when it sends the batch. */
static void compress_closed(kp_acc_t *acc, kp_tp_t *tp, kp_batch_t *b) {
    pthread_mutex_lock(&acc->cpool_lock);
    kp_compressor_t *c = kp_stack_pop(&acc->cpool);
    pthread_mutex_unlock(&acc->cpool_lock);
    if (!c)
        c = kp_compressor_new(acc->conf->compression_type, acc->codec_level);
    if (c)
        kp_batch_compress(acc, c, b);
    pthread_mutex_lock(&tp->lock);
    b->compressing = 0;
    pthread_mutex_unlock(&tp->lock);
    acc->notify(acc->owner); /* it may be sent now */
    if (!c)
        return;
    pthread_mutex_lock(&acc->cpool_lock);
    if (!kp_stack_push(&acc->cpool, c))
        c = NULL;
    pthread_mutex_unlock(&acc->cpool_lock);
    kp_compressor_free(c);
}

/* Uncompressed bytes a new batch may hold. With compression, batch.size
 * bounds the *compressed* size as in the Java client: the topic's observed
 * ratio (plus 5 %) scales it up, never beyond max.request.size. */
static size_t batch_target(const kp_acc_t *acc, const kp_topic_t *t) {
    size_t target = (size_t)acc->conf->batch_size;
    if (acc->conf->compression_type == KP_CODEC_NONE)
        return target;
    int32_t ratio = atomic_load_explicit(&t->ratio_milli, memory_order_relaxed);
    if (ratio <= 0 || ratio >= 1000)
        return target;
    uint64_t scaled = (uint64_t)target * 1000 * 100 / ((uint64_t)ratio * 105);
    if (scaled > (uint64_t)acc->conf->max_request_size)
        scaled = (uint64_t)acc->conf->max_request_size;
    return scaled > target ? (size_t)scaled : target;
}

/* Encode the record into b if it fits. Returns 1 when appended. */
static int try_append(kp_batch_t *b, const void *key, int32_t klen, const void *value,
                      int32_t vlen, int64_t ts, const kp_header_t *hdrs, size_t nhdrs,
                      const int32_t *hklens) {
    int64_t delta = b->count ? ts - b->base_ts : 0;
    size_t body = kp_rb_body_size(delta, b->count, klen, vlen, hdrs, nhdrs, hklens);
    if (b->len + kp_rb_total_size(body) > b->cap)
        return 0;
    if (!b->count) {
        b->base_ts = b->max_ts = ts;
    } else if (ts > b->max_ts) {
        b->max_ts = ts;
    }
    if ((int32_t)body > b->max_rec)
        b->max_rec = (int32_t)body;
    b->len += kp_rb_write_body(b->buf + b->len, body, delta, b->count, key, klen, value, vlen,
                               hdrs, nhdrs, hklens);
    if (b->len - b->crc_len >= KP_CRC_CHUNK) {
        b->crc = kp_crc32c(b->crc, b->buf + b->crc_len, b->len - b->crc_len);
        b->crc_len = b->len;
    }
    b->count++;
    return 1;
}

/* Append a completion entry (the array doubles: amortised, per batch).
 * The array counts against buffer.memory like the batch's bytes: with
 * small, well-compressed records the entries outweigh the data (48 bytes
 * each against ~10 of lz4 for a 100-byte value), and an outage once grew
 * them to 430 MB beyond a 32 MiB budget. A growth may take the pool below
 * zero for a while; the next new batch then waits. */
static __attribute__((noinline)) kp_err_t grow_entries(kp_acc_t *acc, kp_batch_t *b) {
    int cap = b->ents_cap;
    kp_rec_entry_t *ne = kp_grow(b->ents, b->nents, &b->ents_cap, sizeof(*ne), 8);
    if (!ne)
        return KP_ERR_NOMEM;
    pool_adjust(acc, (int64_t)(b->ents_cap - cap) * (int64_t)sizeof(*ne));
    b->ents = ne;
    return KP_OK;
}

static inline __attribute__((always_inline)) kp_err_t push_entry(kp_acc_t *acc, kp_batch_t *b,
                                                                 kp_rec_entry_t e) {
    if (b->nents == b->ents_cap && grow_entries(acc, b)) /* per batch, not per record */
        return KP_ERR_NOMEM;
    b->ents[b->nents++] = e;
    return KP_OK;
}

/* The entry of the record about to be appended to b. */
static inline __attribute__((always_inline)) kp_err_t
add_entry(kp_acc_t *acc, kp_batch_t *b, int32_t klen, int32_t vlen, int64_t ts,
          kp_callback_fn *cb, void *opaque, kp_future_t *fut) {
    return push_entry(acc, b,
                      (kp_rec_entry_t){.offset_delta = b->count, .serialized_key_size = klen,
                                       .serialized_value_size = vlen, .timestamp = ts,
                                       .callback = cb, .opaque = opaque, .future = fut});
}

kp_err_t kp_acc_append(kp_acc_t *acc, kp_tp_t *tp, const kp_append_t *a, int *new_batch) {
    const kp_record_t *rec = a->rec;
    const void *key = a->key, *value = a->value;
    int32_t klen = a->klen, vlen = a->vlen;
    int64_t ts = a->ts, *deadline = a->deadline;
    kp_callback_fn *cb = a->cb;
    void *opaque = a->opaque;
    kp_future_t *fut = a->fut;
    int send_now = a->send_now, may_block = a->may_block;
    const kp_header_t *hdrs = rec->headers;
    size_t nhdrs = rec->headers ? rec->header_count : 0;
    int32_t hk_small[16], *hklens = hk_small;
    if (nhdrs > 16 && !(hklens = kp_malloc(nhdrs * sizeof(int32_t))))
        return KP_ERR_NOMEM;
    for (size_t i = 0; i < nhdrs; i++)
        hklens[i] = (int32_t)strlen(hdrs[i].key);

    /* an entry per record that someone must be told about (the batch
     * callback: every record) */
    int want_entry = cb || fut || acc->conf->ninterceptors > 0 || acc->conf->batch_cb;
    uint8_t *spare = NULL;
    size_t spare_size = 0;
    kp_batch_t *to_compress = NULL; /* closed here, full: compress it after */
    kp_err_t err = KP_OK;
    *new_batch = 0;

    pthread_mutex_lock(&tp->lock);
    for (;;) {
        if (atomic_load(acc->closing)) {
            err = KP_ERR_CLOSED;
            break;
        }
        kp_batch_t *b = tp->tail;
        if (b && !b->closed) {
            if (want_entry && (err = add_entry(acc, b, klen, vlen, ts, cb, opaque, fut)))
                break;
            if (try_append(b, key, klen, value, vlen, ts, hdrs, nhdrs, hklens))
                break;
            if (want_entry)
                b->nents--;
            b->closed = 1; /* full: the sender may take it now */
            *new_batch = 1;
            if (acc->conf->compression_type != KP_CODEC_NONE && may_block) {
                b->compressing = 1; /* ... once this thread has compressed it */
                to_compress = b;
            }
        }
        size_t need = KP_RB_HEADER_SIZE +
                      kp_rb_record_size(0, 0, klen, vlen, hdrs, nhdrs, hklens);
        size_t target = batch_target(acc, tp->topic);
        if (need < target)
            need = target;
        uint8_t *buf = NULL;
        if (spare && spare_size >= need) {
            buf = spare;
            need = spare_size;
            spare = NULL;
        } else {
            err = pool_alloc(acc, need, deadline, 0, &buf);
            if (err == KP_ERR_BUFFER_EXHAUSTED && may_block) {
                /* Wait for memory without holding the partition (and
                 * having compressed the batch just closed: the memory we
                 * wait for may be its own, freed once it is sent). */
                pthread_mutex_unlock(&tp->lock);
                if (to_compress)
                    compress_closed(acc, tp, to_compress), to_compress = NULL;
                if (spare)
                    pool_free(acc, spare, spare_size), spare = NULL;
                err = pool_alloc(acc, need, deadline, 1, &spare);
                pthread_mutex_lock(&tp->lock);
                if (err)
                    break;
                spare_size = need;
                continue; /* look at the tail again */
            }
            if (err)
                break;
        }
        kp_batch_t *nb = kp_calloc(1, sizeof(*nb));
        if (!nb) {
            pool_free(acc, buf, need);
            err = KP_ERR_NOMEM;
            break;
        }
        nb->tp = tp;
        nb->buf = buf;
        nb->cap = need;
        nb->len = nb->crc_len = KP_RB_HEADER_SIZE;
        nb->created_ms = kp_mono_ms();
        nb->pid = -1;
        nb->epoch = -1;
        nb->base_seq = -1;
        if (want_entry && (err = add_entry(acc, nb, klen, vlen, ts, cb, opaque, fut))) {
            kp_acc_release(acc, nb);
            break;
        }
        try_append(nb, key, klen, value, vlen, ts, hdrs, nhdrs, hklens); /* fits by size */
        if (tp->tail) {
            tp->tail->next = nb;
        } else {
            tp->head = nb;
            kp_acc_mark_work(acc, tp);
        }
        tp->tail = nb;
        atomic_fetch_add_explicit(&tp->queued, 1, memory_order_relaxed);
        *new_batch = 1;
        break;
    }
    if (err == KP_OK && send_now) {
        tp->tail->closed = 1; /* ready at once: nobody waits for more records */
        *new_batch = 1;
    }
    if (err == KP_OK) /* one writer (we hold the lock): a store, not an atomic increment */
        atomic_store_explicit(&tp->appended,
                              atomic_load_explicit(&tp->appended, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    pthread_mutex_unlock(&tp->lock);
    if (to_compress)
        compress_closed(acc, tp, to_compress);
    if (spare)
        pool_free(acc, spare, spare_size);
    if (hklens != hk_small)
        free(hklens);
    return err;
}

/* ---- splitting a batch the broker found too large ---- */

typedef struct split_recs {
    kp_rb_record_t *r;
    int32_t n;
} split_recs_t;

static int collect(const kp_rb_record_t *rec, void *opaque) {
    split_recs_t *s = opaque;
    s->r[s->n++] = *rec;
    return 0;
}

/* A batch of records [from, to) of recs, as a new closed batch. */
static kp_batch_t *sub_batch(kp_acc_t *acc, const kp_batch_t *b, const split_recs_t *s,
                             int32_t from, int32_t to) {
    int64_t base_ts = s->r[from].timestamp;
    size_t need = KP_RB_HEADER_SIZE;
    for (int32_t i = from; i < to; i++)
        need += kp_rb_rewrite_size(&s->r[i], s->r[i].timestamp - base_ts, i - from);
    kp_batch_t *nb = kp_calloc(1, sizeof(*nb));
    uint8_t *buf = nb ? kp_malloc(need) : NULL;
    if (!buf) {
        free(nb);
        return NULL;
    }
    /* charged to buffer.memory like any batch (it may dip below zero
     * briefly: the original batch's buffer is given back right after) */
    pool_adjust(acc, (int64_t)need);
    nb->tp = b->tp;
    nb->buf = buf;
    nb->cap = need;
    nb->len = KP_RB_HEADER_SIZE;
    nb->created_ms = b->created_ms;
    nb->attempts = b->attempts;
    nb->maybe_persisted = b->maybe_persisted;
    nb->sent_no = b->sent_no;
    nb->closed = 1;
    nb->pid = b->pid;
    nb->epoch = b->epoch;
    nb->base_seq = -1;
    if (b->base_seq >= 0) {
        /* the broker rejected the batch, so its sequence range is still
         * expected: the halves take it over, in order */
        int64_t s0 = (int64_t)b->base_seq + from;
        nb->base_seq = (int32_t)(s0 > INT32_MAX ? s0 - INT32_MAX - 1 : s0);
    }
    nb->base_ts = nb->max_ts = base_ts;
    for (int32_t i = from; i < to; i++) {
        nb->len += kp_rb_rewrite(buf + nb->len, &s->r[i], s->r[i].timestamp - base_ts, i - from);
        if (s->r[i].timestamp > nb->max_ts)
            nb->max_ts = s->r[i].timestamp;
    }
    nb->count = to - from;
    nb->crc_len = KP_RB_HEADER_SIZE;
    for (int32_t i = 0; i < b->nents; i++) {
        kp_rec_entry_t e = b->ents[i];
        if (e.offset_delta < from || e.offset_delta >= to)
            continue;
        e.offset_delta -= from;
        if (push_entry(acc, nb, e)) {
            kp_acc_release(acc, nb);
            return NULL;
        }
    }
    return nb;
}

int kp_acc_split(kp_acc_t *acc, kp_batch_t *b, kp_batch_t **first, kp_batch_t **second) {
    if (b->count < 2)
        return -1;
    /* The uncompressed records: b->buf, or (compressed batch) a
     * decompressed copy. Give them a valid header so that the decoder
     * (which checks the CRC) reads them back. */
    kp_wbuf_t w = {0};
    uint8_t *recs = b->buf;
    if (!recs) {
        kp_wbuf_init(&w, b->len);
        kp_wbuf_reserve(&w, KP_RB_HEADER_SIZE);
        if (w.err || kp_decompress(acc->conf->compression_type, b->cbuf + KP_RB_HEADER_SIZE,
                                   b->clen - KP_RB_HEADER_SIZE, &w, b->len) ||
            w.len != b->len) {
            kp_wbuf_free(&w);
            return -1;
        }
        recs = w.p;
    }
    kp_rb_header_t h = {0, b->count, b->base_ts, b->max_ts, -1, -1, -1};
    kp_rb_finalize(recs, b->len, &h);
    split_recs_t s = {kp_malloc((size_t)b->count * sizeof(kp_rb_record_t)), 0};
    if (!s.r || kp_rb_decode(recs, b->len, NULL, collect, &s) || s.n != b->count) {
        free(s.r);
        kp_wbuf_free(&w);
        return -1;
    }
    int32_t half = s.n / 2;
    *first = sub_batch(acc, b, &s, 0, half);
    *second = *first ? sub_batch(acc, b, &s, half, s.n) : NULL;
    free(s.r);
    kp_wbuf_free(&w);
    if (!*second) {
        if (*first)
            kp_acc_release(acc, *first);
        return -1;
    }
    (*first)->next = *second;
    atomic_fetch_add_explicit(&b->tp->queued, 1, memory_order_relaxed); /* one became two */
    kp_acc_release(acc, b);
    return 0;
}

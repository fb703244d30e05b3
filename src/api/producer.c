/*
 * producer — the public API: create, send (three modes), futures, flush,
 * close, destroy; where completions run (kp_poll, its fd), the buffer's
 * state, purge (the work is the engine's: completion.c, sender.c).
 *
 * The send path on the application thread: interceptors' on_send, the
 * key and value serializers (Java's built-in layouts or user functions), a
 * size check against max.request.size and buffer.memory, a wait (at most
 * max.block.ms) for the topic's metadata, the partition, and an append to
 * the partition's open batch. Nothing is allocated per record for
 * fire-and-forget sends with built-in serializers.
 *
 * Partitioning: explicit partition > user partitioner > round-robin
 * (partitioner.class) > key: toPositive(murmur2(key)) % n, as the Java
 * client > no key (or partitioner.ignore.keys): KIP-794's sticky partition,
 * switched after batch.size bytes, weighted by queue depth when adaptive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "record/compress.h"
#include "net/conn.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/metrics.h"
#include "record/record_batch.h"
#include "net/oauth.h"
#include "net/resolve.h"
#include "net/tls.h"
#include "base/util.h"

static _Atomic int client_seq; /* producer-N client ids, as Java */
static _Atomic uint64_t producer_uid; /* kp_producer.uid */

/* The accumulator's notify hook. */
static void wake_owner(void *owner) { kp_wake(owner); }

void kp_wake(kp_producer_t *p) {
    if (!atomic_exchange(&p->wake_pending, 1)) {
        uint64_t one = 1;
        if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            kp_log(p, 3, "eventfd write: %s", strerror(errno));
    }
}

/* ---------------------------------------------------------------- futures */

static kp_future_t *future_new(void) {
    kp_future_t *f = kp_calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    kp_cond_init_mono(&f->cond);
    f->refs = 2;
    return f;
}

kp_err_t kp_future_get(kp_future_t *f, int64_t timeout_ms, kp_record_metadata_t *md) {
    if (!f)
        return KP_ERR_INVALID_ARG;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : kp_mono_ms() + timeout_ms;
    pthread_mutex_lock(&f->lock);
    /* On an I/O thread (inside a callback) a wait would wait for that very
     * thread: a future not done yet is an error at once, not a deadlock. */
    if (!f->done && kp_in_any_io_thread()) {
        pthread_mutex_unlock(&f->lock);
        return KP_ERR_IN_CALLBACK;
    }
    while (!f->done && !kp_cond_wait_until(&f->cond, &f->lock, deadline))
        ;
    kp_err_t err = f->done ? f->err : KP_ERR_TIMED_OUT;
    if (f->done && md)
        *md = f->md;
    pthread_mutex_unlock(&f->lock);
    return err;
}

int kp_future_is_done(const kp_future_t *f) {
    if (!f)
        return 0;
    kp_future_t *m = (kp_future_t *)f;
    pthread_mutex_lock(&m->lock);
    int d = m->done;
    pthread_mutex_unlock(&m->lock);
    return d;
}

void kp_future_destroy(kp_future_t *f) {
    if (f)
        kp_future_unref(f);
}

/* ---------------------------------------------------------------- topics */

/* FNV-1a: a few cycles for a topic name, spread well enough for open
 * addressing at a load of at most one half. */
static uint32_t name_hash(const char *name) {
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

static kp_topic_t *index_find(const kp_topic_index_t *ix, const char *name, uint32_t h) {
    for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        kp_topic_t *t = atomic_load_explicit(&ix->slot[i], memory_order_acquire);
        if (!t)
            return NULL;
        if (t->hash == h && !strcmp(t->name, name))
            return t;
    }
}

/* Each thread remembers the topic it found last (keyed by the producer's
 * id, never reused, so a freed producer's topic is never looked at): a
 * producer sending to one topic pays one strcmp per record, not a hash. */
static KP_TLS uint64_t last_uid;
static KP_TLS kp_topic_t *last_topic;

/* The send path's lookup: the thread's last topic, inline, else the index. */
static inline kp_topic_t *topic_lookup(const kp_producer_t *p, const char *name) {
    if (last_uid == p->uid && !strcmp(last_topic->name, name))
        return last_topic;
    return kp_topic_find(p, name);
}

kp_topic_t *kp_topic_find(const kp_producer_t *p, const char *name) {
    const kp_topic_index_t *ix = atomic_load_explicit(&p->tindex, memory_order_acquire);
    kp_topic_t *t = ix ? index_find(ix, name, name_hash(name)) : NULL;
    if (t) {
        last_uid = p->uid;
        last_topic = t;
    }
    return t;
}

static void index_put(kp_topic_index_t *ix, kp_topic_t *t) {
    size_t i = t->hash & ix->mask;
    while (atomic_load_explicit(&ix->slot[i], memory_order_relaxed))
        i = (i + 1) & ix->mask;
    atomic_store_explicit(&ix->slot[i], t, memory_order_release);
    ix->used++;
}

/* The index with room for one more topic (topics_lock held): grown past
 * half full. NULL when out of memory (nothing changed). */
static kp_topic_index_t *index_reserve(kp_producer_t *p) {
    kp_topic_index_t *ix = atomic_load_explicit(&p->tindex, memory_order_relaxed);
    if (!ix || (ix->used + 1) * 2 > ix->mask + 1) {
        size_t cap = ix ? (ix->mask + 1) * 2 : 16;
        kp_topic_index_t *nx = kp_calloc(1, sizeof(*nx) + cap * sizeof(nx->slot[0]));
        if (!nx)
            return NULL;
        nx->prev = ix;
        nx->mask = cap - 1;
        for (size_t i = 0; ix && i <= ix->mask; i++) {
            kp_topic_t *o = atomic_load_explicit(&ix->slot[i], memory_order_relaxed);
            if (o)
                index_put(nx, o);
        }
        atomic_store_explicit(&p->tindex, nx, memory_order_release);
        ix = nx;
    }
    return ix;
}

/* Kafka's rule for topic names (Topic.validate): 1 to 249 characters of
 * [a-zA-Z0-9._-], neither "." nor "..". Checked once, when a topic is
 * first seen: a name that would not fit the protocol's int16 string or that
 * the broker must refuse never enters the topic table. */
static int topic_name_valid(const char *name) {
    size_t n = 0;
    for (const char *c = name; *c; c++, n++)
        if (n >= 249 || !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                          (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return n > 0 && strcmp(name, ".") && strcmp(name, "..");
}

/* The topic, added if new (topics_lock held); NULL with *err set
 * (INVALID_TOPIC_EXCEPTION for a name Kafka refuses, or out of memory). */
static kp_topic_t *topic_get_locked(kp_producer_t *p, const char *name, kp_err_t *err) {
    kp_topic_t *t = kp_topic_find(p, name);
    if (t)
        return t;
    if (!topic_name_valid(name)) {
        *err = KAFKA_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    *err = KP_ERR_NOMEM;
    t = kp_calloc(1, sizeof(*t));
    if (!t || !(t->name = kp_strdup(name)))
        goto fail;
    /* complete before it is published: readers take no lock */
    atomic_init(&t->sticky, UINT64_MAX);
    atomic_init(&t->ratio_milli, 1000);
    t->hash = name_hash(t->name);
    /* room in the index first, so that nothing fails once the topic is in
     * the table (which the I/O thread walks) */
    kp_topic_index_t *ix = index_reserve(p);
    if (!ix || kp_ptab_push(&p->topics, t))
        goto fail;
    index_put(ix, t);
    return t;
fail:
    if (t)
        free(t->name);
    free(t);
    return NULL;
}

/* Have the I/O thread ask for t's metadata again (with backoff). */
static void ask_again(kp_producer_t *p, kp_topic_t *t) {
    atomic_store(&t->md_recheck, 1);
    atomic_store(&p->md_recheck_any, 1);
    kp_wake(p);
}

/* Wait (topics_lock held) until the topic has metadata and, for an explicit
 * partition, that partition. A new topic is asked for by the I/O thread as
 * soon as it appears in the table (one round trip, that topic only); a
 * partition beyond the known ones, or a topic the cluster refused, asks
 * for a look again (md_recheck, with backoff). A refusal that is not
 * retriable (TOPIC_AUTHORIZATION_FAILED, INVALID_TOPIC_EXCEPTION) fails at
 * once with the broker's error, as the Java client. */
static kp_err_t wait_metadata_locked(kp_producer_t *p, kp_topic_t *t, int32_t partition,
                                     int64_t *deadline) {
    void *const *tps;
    int32_t n;
    int64_t start = kp_mono_ms();
    while ((n = kp_topic_parts(t, &tps)) == 0 || partition >= n) {
        if (atomic_load(&p->closing))
            return KP_ERR_CLOSED;
        kp_err_t unusable = (kp_err_t)atomic_load(&p->unusable);
        if (n == 0 && unusable)
            return unusable; /* the log names the broker and why (its versions, TLS) */
        kp_err_t md_err = t->md_err;
        if (n == 0 && md_err && !kp_err_is_retriable(md_err)) {
            ask_again(p, t);
            return md_err;
        }
        if (kp_in_io_thread(p) || kp_mono_ms() >= kp_send_deadline(p->conf.max_block_ms, deadline)) {
            if (n > 0)
                return KP_ERR_UNKNOWN_PARTITION;
            /* no broker answered while we waited: say that, not that the
             * topic is missing (the log names each broker's cause) */
            if (p->md_ok_ms < start)
                return KP_ERR_CLUSTER_UNREACHABLE;
            /* the cluster said the topic does not exist: say so; else it
             * is still loading */
            return md_err == KAFKA_UNKNOWN_TOPIC_OR_PARTITION ? md_err : KP_ERR_METADATA_TIMEOUT;
        }
        if (n > 0)
            ask_again(p, t);
        else
            kp_wake(p); /* a new topic: the I/O thread asks for it */
        kp_cond_wait_until(&p->md_cond, &p->topics_lock, *deadline);
    }
    return KP_OK;
}

/* The next sticky partition. KIP-794: uniform at random, or — with
 * partitioner.adaptive.partitioning.enable — weighted against each
 * partition's queue of unfinished batches (weight max_queue + 1 - queue), so
 * partitions behind a slow broker get fewer records. */
/* Weight of partition i for the adaptive choice: max_queue + 1 - queue,
 * or 0 when partitioner.availability.timeout.ms says its broker cannot take
 * data. */
static uint64_t sticky_weight(const kp_producer_t *p, const kp_tp_t *tp, int32_t maxq,
                              int64_t now) {
    int64_t since = atomic_load_explicit(&tp->stalled_since, memory_order_relaxed);
    if (p->conf.partitioner_availability_timeout_ms > 0 && since &&
        now - since >= p->conf.partitioner_availability_timeout_ms)
        return 0;
    int32_t q = atomic_load_explicit(&tp->queued, memory_order_relaxed);
    return (uint64_t)(q > maxq ? 1 : maxq + 1 - q);
}

/* The next sticky partition. KIP-794: uniform at random, or — with
 * partitioner.adaptive.partitioning.enable — weighted against each
 * partition's queue of unfinished batches, so partitions behind a slow
 * broker get fewer records, and without those whose broker has been
 * unavailable for partitioner.availability.timeout.ms. */
static int32_t next_sticky(const kp_producer_t *p, void *const *tps, int32_t npart) {
    /* per thread: no shared state to fight over (the pick needs no
     * quality beyond spreading) */
    static KP_TLS uint64_t rng;
    uint64_t r = kp_rand(&rng) >> 11;
    if (!p->conf.partitioner_adaptive || npart < 2)
        return (int32_t)(r % (uint64_t)npart);
    int64_t now = p->conf.partitioner_availability_timeout_ms > 0 ? kp_mono_ms() : 0;
    int32_t maxq = 0;
    for (int32_t i = 0; i < npart; i++) {
        const kp_tp_t *tp = tps[i];
        int32_t q = atomic_load_explicit(&tp->queued, memory_order_relaxed);
        if (q > maxq)
            maxq = q;
    }
    uint64_t w[64], *wp = npart <= 64 ? w : kp_malloc((size_t)npart * sizeof(uint64_t));
    if (!wp)
        return (int32_t)(r % (uint64_t)npart);
    uint64_t total = 0;
    for (int32_t i = 0; i < npart; i++)
        total += wp[i] = sticky_weight(p, tps[i], maxq, now);
    int32_t pick = (int32_t)(r % (uint64_t)npart); /* all unavailable: any */
    if (total) {
        uint64_t x = r % total;
        for (pick = 0; pick < npart - 1 && x >= wp[pick]; pick++)
            x -= wp[pick];
    }
    if (wp != w)
        free(wp);
    return pick;
}

/* The sticky partition for a record of `bytes`, switched once batch.size
 * bytes went to the current one (KIP-794). Lock-free: the partition and its
 * byte count change together by compare-and-swap, so concurrent senders
 * agree on one partition and exactly one of them makes each switch. */
static int32_t sticky_partition(const kp_producer_t *p, kp_topic_t *t, void *const *tps,
                                int32_t npart, size_t bytes) {
    uint64_t cur = atomic_load_explicit(&t->sticky, memory_order_relaxed);
    for (;;) {
        int32_t part = (int32_t)(uint32_t)(cur >> 32);
        uint64_t used = cur & UINT32_MAX;
        if (part < 0 || part >= npart || used >= (uint64_t)p->conf.batch_size) {
            int32_t n = next_sticky(p, tps, npart);
            if (npart > 1 && n == part && !p->conf.partitioner_adaptive)
                n = (n + 1) % npart;
            part = n;
            used = 0;
        }
        used = used + bytes > UINT32_MAX ? UINT32_MAX : used + bytes;
        uint64_t next = (uint64_t)(uint32_t)part << 32 | used;
        if (atomic_compare_exchange_weak_explicit(&t->sticky, &cur, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return part;
    }
}

/* ---- serializers: the Java built-ins' byte layouts, or a user function ---- */

typedef struct ser_out {
    const void *p;
    int32_t len;      /* -1: null */
    uint8_t small[64];
    uint8_t *heap;    /* a user serializer's large output */
} ser_out_t;

static void put_be(uint8_t *d, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        d[i] = (uint8_t)v;
}

static kp_err_t serialize(const char *topic, int kind, kp_serializer_fn *fn, void *fn_opaque,
                          const void *data, int32_t len, ser_out_t *o) {
    o->p = NULL;
    o->len = -1;
    o->heap = NULL;
    if (fn) {
        uint8_t *buf = o->small;
        int32_t size = (int32_t)sizeof(o->small);
        for (int round = 0; round < 2; round++) {
            int32_t n = fn(topic, data, len, buf, size, fn_opaque);
            if (n == KP_SERIALIZE_NULL)
                return KP_OK;
            if (n < 0)
                return KP_ERR_SERIALIZATION;
            if (n <= size) {
                o->p = buf;
                o->len = n;
                return KP_OK;
            }
            if (round || !(o->heap = kp_malloc((size_t)n)))
                return round ? KP_ERR_SERIALIZATION : KP_ERR_NOMEM;
            buf = o->heap;
            size = n;
        }
        return KP_ERR_SERIALIZATION;
    }
    if (!data)
        return KP_OK; /* null stays null */
    uint64_t v = 0;
    switch (kind) {
    case KP_SER_BYTES:
        if (len < 0)
            return KP_ERR_INVALID_ARG;
        o->p = data;
        o->len = len;
        return KP_OK;
    case KP_SER_STRING: {
        size_t n = strlen(data);
        if (n > INT32_MAX)
            return KP_ERR_INVALID_ARG;
        o->p = data;
        o->len = (int32_t)n;
        return KP_OK;
    }
    case KP_SER_SHORT: {
        int16_t x;
        memcpy(&x, data, 2);
        put_be(o->small, (uint16_t)x, 2);
        o->len = 2;
        break;
    }
    case KP_SER_INT:
    case KP_SER_FLOAT: { /* a float's IEEE 754 bits, as Float.floatToRawIntBits */
        uint32_t x;
        memcpy(&x, data, 4);
        put_be(o->small, x, 4);
        o->len = 4;
        break;
    }
    case KP_SER_LONG:
    case KP_SER_DOUBLE:
        memcpy(&v, data, 8);
        put_be(o->small, v, 8);
        o->len = 8;
        break;
    case KP_SER_UUID: { /* UUID.toString(): 8-4-4-4-12 lowercase hex */
        static const char hex[] = "0123456789abcdef";
        const uint8_t *u = data;
        char *s = (char *)o->small;
        for (int i = 0, j = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                s[j++] = '-';
            s[j++] = hex[u[i] >> 4];
            s[j++] = hex[u[i] & 15];
        }
        o->len = 36;
        break;
    }
    default: return KP_ERR_SERIALIZATION;
    }
    o->p = o->small;
    return KP_OK;
}

/* Interceptors' on_acknowledgement for a record that fails at once. */
static void ack_failed_send(kp_producer_t *p, const kp_record_t *rec, kp_err_t err) {
    kp_record_metadata_t md = {rec && rec->topic ? rec->topic : "", -1, -1, -1, -1, -1,
                               KP_NOT_PERSISTED, NULL};
    if (rec)
        md.partition = rec->partition;
    for (int i = 0; i < p->conf.ninterceptors; i++)
        if (p->conf.interceptors[i].on_acknowledgement)
            p->conf.interceptors[i].on_acknowledgement(&md, err,
                                                       p->conf.interceptors[i].opaque);
}

/* send_now: close the record's batch so it goes without lingering (the
 * synchronous convenience call: nobody will add to it while we wait). */
static kp_err_t send_record(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                            void *opaque, kp_future_t *fut, int send_now) {
    if (!rec->topic || !*rec->topic)
        return KP_ERR_INVALID_ARG;
    if (atomic_load(&p->closing))
        return KP_ERR_CLOSED;
    int fatal = atomic_load(&p->fatal_err);
    if (fatal)
        return (kp_err_t)fatal;
    if (p->txn.enabled) {
        kp_err_t te = kp_txn_may_send(p);
        if (te)
            return te;
    }
    if (rec->partition < KP_PARTITION_ANY || rec->timestamp < 0 ||
        (rec->header_count && !rec->headers))
        return KP_ERR_INVALID_ARG;
    for (size_t i = 0; i < rec->header_count; i++)
        if (!rec->headers[i].key || (rec->headers[i].value && rec->headers[i].value_len < 0))
            return KP_ERR_INVALID_ARG;

    ser_out_t ks, vs;
    kp_err_t err = serialize(rec->topic, p->conf.key_serializer, p->conf.key_ser_fn,
                             p->conf.key_ser_opaque, rec->key, rec->key_len, &ks);
    if (!err)
        err = serialize(rec->topic, p->conf.value_serializer, p->conf.value_ser_fn,
                        p->conf.value_ser_opaque, rec->value, rec->value_len, &vs);
    else
        vs.heap = NULL;
    if (err)
        goto out;
    size_t bound = kp_acc_record_bound(ks.len, vs.len, rec->headers, rec->header_count);
    if (bound > (size_t)p->conf.max_request_size || (int64_t)bound > p->conf.buffer_memory) {
        err = KP_ERR_RECORD_TOO_LARGE;
        goto out;
    }
    int64_t ts = rec->timestamp == KP_TIMESTAMP_NOW ? kp_wall_ms() : rec->timestamp;
    int64_t deadline = 0; /* max.block.ms: from the clock once a wait starts */

    /* No lock to find the partition (kp_ptab, atomics); topics_lock only
     * for a topic not seen before or without metadata yet. */
    kp_topic_t *t = topic_lookup(p, rec->topic);
    void *const *tps = NULL;
    int32_t npart = t ? kp_topic_parts(t, &tps) : 0;
    if (!npart || rec->partition >= npart) {
        int64_t md_from = kp_mono_us();
        pthread_mutex_lock(&p->topics_lock);
        t = topic_get_locked(p, rec->topic, &err);
        if (t)
            err = wait_metadata_locked(p, t, rec->partition, &deadline);
        pthread_mutex_unlock(&p->topics_lock);
        kp_stat_add_mt(kp_mstat(p, KP_M_METADATA_WAIT), (kp_mono_us() - md_from) * 1000);
        if (err)
            goto out;
        npart = kp_topic_parts(t, &tps);
    }
    int32_t part = rec->partition;
    if (part < 0 && p->conf.partitioner_fn) {
        part = p->conf.partitioner_fn(rec->topic, ks.p, ks.len, vs.p, vs.len, npart,
                                      p->conf.partitioner_opaque);
        if (part >= npart) {
            err = KP_ERR_UNKNOWN_PARTITION;
            goto out;
        }
    }
    if (part < 0) {
        if (p->conf.partitioner_kind == KP_PART_ROUND_ROBIN)
            part = (int32_t)(atomic_fetch_add_explicit(&t->rr_next, 1, memory_order_relaxed) %
                             (uint32_t)npart);
        else if (ks.p && !p->conf.partitioner_ignore_keys)
            part = (kp_murmur2(ks.p, (size_t)ks.len) & 0x7fffffff) % npart;
        else
            part = sticky_partition(p, t, tps, npart, bound);
    }
    kp_tp_t *tp = tps[part];

    int new_batch = 0;
    kp_append_t a = {.rec = rec, .key = ks.p, .value = vs.p, .klen = ks.len, .vlen = vs.len,
                     .ts = ts, .cb = cb, .opaque = opaque, .fut = fut, .deadline = &deadline,
                     .send_now = send_now, .may_block = !kp_in_io_thread(p)};
    err = kp_acc_append(&p->acc, tp, &a, &new_batch);
    if (err == KP_OK && (new_batch || p->conf.linger_ms == 0))
        kp_wake(p);
out:
    free(ks.heap);
    free(vs.heap);
    if (err && p->txn.enabled)
        kp_txn_send_failed(p, err); /* the transaction cannot commit whole */
    return err;
}

/* Interceptors first (each may replace the record), then the send. */
static kp_err_t send_impl(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                          void *opaque, kp_future_t *fut, int send_now) {
    if (!p || !rec)
        return KP_ERR_INVALID_ARG;
    int n = p->conf.ninterceptors;
    if (!n)
        return send_record(p, rec, cb, opaque, fut, send_now);
    kp_record_t small[4], *scratch = n <= 4 ? small : kp_malloc((size_t)n * sizeof(kp_record_t));
    if (!scratch)
        return KP_ERR_NOMEM;
    const kp_record_t *cur = rec;
    for (int i = 0; i < n; i++) {
        kp_interceptor_t *ic = &p->conf.interceptors[i];
        if (!ic->on_send)
            continue;
        const kp_record_t *next = ic->on_send(cur, &scratch[i], ic->opaque);
        if (next)
            cur = next;
        else
            kp_log(p, 4, "interceptor %d: on_send failed; the record goes on unchanged", i);
    }
    kp_err_t err = send_record(p, cur, cb, opaque, fut, send_now);
    if (err)
        ack_failed_send(p, cur, err);
    if (scratch != small)
        free(scratch);
    return err;
}

kp_err_t kp_send(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb, void *opaque) {
    return send_impl(p, rec, cb, opaque, NULL, 0);
}

static kp_err_t send_future(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                           void *opaque, kp_future_t **futp, int send_now) {
    if (!futp)
        return KP_ERR_INVALID_ARG;
    *futp = NULL;
    kp_future_t *f = future_new();
    if (!f)
        return KP_ERR_NOMEM;
    kp_err_t err = send_impl(p, rec, cb, opaque, f, send_now);
    if (err) {
        kp_future_unref(f);
        kp_future_unref(f);
        return err;
    }
    *futp = f;
    return KP_OK;
}

kp_err_t kp_send_future(kp_producer_t *p, const kp_record_t *rec, kp_callback_fn *cb,
                        void *opaque, kp_future_t **futp) {
    return send_future(p, rec, cb, opaque, futp, 0);
}

kp_err_t kp_send_sync(kp_producer_t *p, const kp_record_t *rec, int64_t timeout_ms,
                      kp_record_metadata_t *md) {
    /* from a callback the wait could never end: refuse before sending */
    if (kp_in_any_io_thread())
        return KP_ERR_IN_CALLBACK;
    kp_future_t *f;
    kp_err_t err = send_future(p, rec, NULL, NULL, &f, 1);
    if (err)
        return err;
    err = kp_future_get(f, timeout_ms, md);
    kp_future_destroy(f);
    return err;
}

kp_err_t kp_partitions_for(kp_producer_t *p, const char *topic, int32_t *count) {
    if (count)
        *count = 0;
    if (!p || !topic || !*topic || !count)
        return KP_ERR_INVALID_ARG;
    int64_t deadline = 0;
    pthread_mutex_lock(&p->topics_lock);
    kp_err_t err;
    kp_topic_t *t = topic_get_locked(p, topic, &err);
    if (t)
        err = wait_metadata_locked(p, t, -1, &deadline);
    pthread_mutex_unlock(&p->topics_lock);
    void *const *tps;
    if (!err)
        *count = kp_topic_parts(t, &tps);
    return err;
}

/* ---------------------------------------------------------------- flush/close */

typedef struct flush_mark {
    kp_tp_t *tp;
    int64_t target;
} flush_mark_t;

static int marks_done(flush_mark_t *m, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&m[i].tp->completed) < m[i].target)
            return 0;
    return 1;
}

int64_t kp_pending(const kp_producer_t *p) {
    int64_t n = 0;
    void *const *ts, *const *tps;
    for (size_t ti = 0, nt = kp_topics(p, &ts); ti < nt; ti++)
        for (int32_t pi = 0, np = kp_topic_parts(ts[ti], &tps); pi < np; pi++) {
            kp_tp_t *tp = tps[pi];
            n += atomic_load(&tp->appended) - atomic_load(&tp->completed);
        }
    return n;
}

int kp_drained(const kp_producer_t *p) {
    if (kp_pending(p))
        return 0;
    /* an append under way holds its partition's lock: wait it out, after
     * which its record is counted */
    void *const *ts, *const *tps;
    for (size_t ti = 0, nt = kp_topics(p, &ts); ti < nt; ti++)
        for (int32_t pi = 0, np = kp_topic_parts(ts[ti], &tps); pi < np; pi++) {
            kp_tp_t *tp = tps[pi];
            pthread_mutex_lock(&tp->lock);
            pthread_mutex_unlock(&tp->lock);
        }
    return !kp_pending(p);
}

/* Wait until every mark is reached (marks NULL: until nothing is
 * pending) or the deadline. */
static kp_err_t wait_done(kp_producer_t *p, flush_mark_t *marks, size_t n, int64_t timeout_ms) {
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : kp_mono_ms() + timeout_ms;
    kp_err_t err = KP_OK;
    pthread_mutex_lock(&p->done_lock);
    p->done_waiters++;
    while (marks ? !marks_done(marks, n) : kp_pending(p) > 0)
        if (kp_cond_wait_until(&p->done_cond, &p->done_lock, deadline)) {
            err = KP_ERR_TIMED_OUT;
            break;
        }
    p->done_waiters--;
    pthread_mutex_unlock(&p->done_lock);
    return err;
}

kp_err_t kp_flush(kp_producer_t *p, int64_t timeout_ms) {
    if (!p)
        return KP_ERR_INVALID_ARG;
    if (kp_in_io_thread(p))
        return KP_ERR_IN_CALLBACK;
    /* What was appended before this call, per partition. */
    flush_mark_t *marks = NULL;
    int n = 0, cap = 0;
    void *const *ts, *const *tps;
    size_t nt = kp_topics(p, &ts);
    for (size_t ti = 0; ti < nt; ti++)
        for (int32_t pi = 0, np = kp_topic_parts(ts[ti], &tps); pi < np; pi++) {
            kp_tp_t *tp = tps[pi];
            pthread_mutex_lock(&tp->lock);
            int64_t target = atomic_load_explicit(&tp->appended, memory_order_relaxed);
            pthread_mutex_unlock(&tp->lock);
            if (atomic_load(&tp->completed) >= target)
                continue;
            flush_mark_t *nm = kp_grow(marks, n, &cap, sizeof(*nm), 16);
            if (!nm) {
                free(marks);
                return KP_ERR_NOMEM;
            }
            marks = nm;
            marks[n++] = (flush_mark_t){tp, target};
        }
    if (!n)
        return KP_OK;
    int64_t from = kp_mono_us();
    atomic_fetch_add(&p->flushing, 1);
    kp_wake(p);
    kp_err_t err = wait_done(p, marks, n, timeout_ms);
    atomic_fetch_sub(&p->flushing, 1);
    free(marks);
    kp_stat_add_mt(kp_mstat(p, KP_M_FLUSH_TIME), (kp_mono_us() - from) * 1000);
    return err;
}

/* ---------------------------------------------------------------- completions, purge */

int64_t kp_buffer_available(kp_producer_t *p) {
    if (!p)
        return 0;
    int64_t n = kp_acc_available(&p->acc);
    return n > 0 ? n : 0;
}

int kp_poll(kp_producer_t *p, int max, int64_t timeout_ms) {
    if (!p || max < 1 || !p->cq.enabled)
        return KP_ERR_INVALID_ARG;
    return kp_cq_poll(p, max, timeout_ms);
}

int kp_completion_fd(kp_producer_t *p) { return p && p->cq.enabled ? p->cq.fd : -1; }

/* The I/O thread does the purge (it owns what is in flight, and the
 * scan's view of the deques); we wait for it, except on that thread. */
kp_err_t kp_purge(kp_producer_t *p, int flags) {
    if (!p || !(flags & (KP_PURGE_QUEUED | KP_PURGE_IN_FLIGHT)))
        return KP_ERR_INVALID_ARG;
    flags &= KP_PURGE_QUEUED | KP_PURGE_IN_FLIGHT;
    pthread_mutex_lock(&p->done_lock);
    if (p->io_exited) {
        pthread_mutex_unlock(&p->done_lock);
        return KP_ERR_CLOSED;
    }
    atomic_fetch_or(&p->purge_flags, flags);
    int64_t mine = ++p->purge_asked;
    pthread_mutex_unlock(&p->done_lock);
    kp_wake(p);
    if (kp_in_io_thread(p))
        return KP_OK;
    pthread_mutex_lock(&p->done_lock);
    p->done_waiters++;
    while (p->purge_done < mine && !p->io_exited)
        pthread_cond_wait(&p->done_cond, &p->done_lock);
    p->done_waiters--;
    kp_err_t err = p->purge_done >= mine ? KP_OK : KP_ERR_CLOSED;
    pthread_mutex_unlock(&p->done_lock);
    return err;
}

kp_err_t kp_close(kp_producer_t *p, int64_t timeout_ms) {
    if (!p)
        return KP_ERR_INVALID_ARG;
    if (kp_in_io_thread(p))
        return KP_ERR_IN_CALLBACK;
    pthread_mutex_lock(&p->close_lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->close_lock);
        return KP_OK;
    }
    atomic_store(&p->closing, 1);
    /* wake senders blocked on memory or metadata: they fail with CLOSED */
    kp_acc_wake_waiters(&p->acc);
    pthread_mutex_lock(&p->topics_lock);
    pthread_cond_broadcast(&p->md_cond);
    pthread_mutex_unlock(&p->topics_lock);
    kp_wake(p);
    /* until nothing is pending, also counting appends that were under way
     * when `closing` was set */
    int64_t deadline = timeout_ms < 0 ? -1 : kp_mono_ms() + timeout_ms;
    kp_err_t err;
    for (;;) {
        int64_t left = deadline < 0 ? -1 : deadline - kp_mono_ms(); /* -1: no limit */
        err = wait_done(p, NULL, 0, deadline >= 0 && left < 0 ? 0 : left);
        if (err || kp_drained(p))
            break;
    }
    if (err) {
        kp_log(p, 4, "close: %lld records still pending after %lld ms; failing them",
               (long long)kp_pending(p), (long long)timeout_ms);
        atomic_store(&p->force_close, 1);
        kp_wake(p);
    }
    if (p->thread_started)
        pthread_join(p->thread, NULL);
    p->thread_started = 0;
    p->closed = 1;
    kp_cq_close(p); /* pollers waiting on an empty queue return */
    pthread_mutex_unlock(&p->close_lock);
    return err;
}

/* ---------------------------------------------------------------- lifecycle */

/* One bootstrap.servers entry: host:port, or [IPv6 literal]:port (the
 * brackets are not part of the host). The port is 1..65535 in digits. An
 * IPv6 address needs its brackets: in "::1:9092" or "fe80::1" no one can
 * tell the port from the address, so any unbracketed host holding a colon
 * is refused, as are a bracket without its pair and an empty host. */
static int parse_hostport(const char *s, size_t n, char **host, int32_t *port) {
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (!colon)
        return -1;
    const char *h = s, *p = colon + 1;
    size_t hl = (size_t)(colon - s), pl = n - hl - 1;
    if (hl && *h == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1; /* "[", "[]", "[::1" */
        h++, hl -= 2;
    }
    if (!hl || memchr(h, '[', hl) || memchr(h, ']', hl) || (h == s && memchr(h, ':', hl)))
        return -1;
    if (pl == 0 || pl > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v <= 0 || v > 65535)
        return -1;
    *host = kp_strndup(h, hl);
    *port = (int32_t)v;
    return *host ? 0 : -1;
}

/* Does some bootstrap server's host name resolve? (Java's
 * ClientUtils.parseAndValidateAddresses: creation fails when none does.)
 * An IP literal is enough at once. Otherwise the names are looked up
 * together, with c-ares on the creating thread, until one resolves or all
 * failed, for socket.connection.setup.timeout.ms at most: a resolver that
 * hangs delays creation by that bound, not by its own timeouts (glibc's
 * getaddrinfo took 15 s and more). The I/O thread resolves again when it
 * connects. 1: yes, 0: no, -1: out of memory. */
typedef struct boot_check {
    int ok, nomem;
} boot_check_t;

static void on_boot_resolved(void *ctx, void *arg, kp_err_t err, kp_addrs_t *addrs,
                             const char *why) {
    boot_check_t *bc = ctx;
    free(addrs);
    bc->ok |= !err;
    bc->nomem |= err == KP_ERR_NOMEM;
}

static int any_resolves(const kp_producer_t *p) {
    for (int i = 0; i < p->net.nboot; i++)
        if (kp_is_ip_literal(p->net.boot[i]->host))
            return 1;
    boot_check_t bc = {0, 0};
    kp_err_t err;
    kp_resolver_t *r = kp_resolver_new(&bc, &err);
    if (!r)
        return err == KP_ERR_NOMEM ? -1 : 0;
    int64_t until = kp_mono_ms() + p->conf.socket_setup_timeout_ms;
    for (int i = 0; i < p->net.nboot; i++) {
        kp_addrs_t *now_addrs;
        kp_lookup_t *lk;
        if (kp_resolve_start(r, p->net.boot[i]->host, p->net.boot[i]->port, until, on_boot_resolved, NULL,
                             &now_addrs, &lk)) {
            bc.nomem = 1;
            break;
        }
        free(now_addrs);
    }
    if (!bc.nomem)
        kp_resolver_wait(r, until, &bc.ok);
    kp_resolver_destroy(r);
    return bc.ok ? 1 : bc.nomem ? -1 : 0;
}

static void producer_free(kp_producer_t *p) {
    kp_net_free(&p->net);
    kp_resolver_destroy(p->net.resolver); /* after the connections: they cancel their lookups */
    kp_tls_free(p->net.tls);              /* after the connections too: they hold its SSLs */
    kp_oauth_free(p->net.oauth);          /* the I/O thread, its reader, has ended */
    void *const *ts, *const *tps;
    for (size_t i = 0, nt = kp_topics(p, &ts); i < nt; i++) {
        kp_topic_t *t = ts[i];
        for (int32_t j = 0, np = kp_topic_parts(t, &tps); j < np; j++)
            kp_tp_destroy(tps[j]);
        kp_ptab_free(atomic_load(&t->parts));
        kp_topic_stats_free(t->stats);
        free(t->name);
        free(t);
    }
    kp_ptab_free(atomic_load(&p->topics));
    for (kp_topic_index_t *ix = atomic_load(&p->tindex), *prev; ix; ix = prev) {
        prev = ix->prev;
        free(ix);
    }
    kp_cq_destroy(p);
    kp_acc_destroy(&p->acc);
    kp_metrics_free(p->metrics);
    kp_compressor_free(p->compressor);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->topics_lock);
    pthread_mutex_destroy(&p->done_lock);
    pthread_mutex_destroy(&p->close_lock);
    pthread_mutex_destroy(&p->cq.lock);
    pthread_cond_destroy(&p->cq.cond);
    free(p->active);
    pthread_cond_destroy(&p->md_cond);
    pthread_cond_destroy(&p->done_cond);
    kp_txn_destroy(p);
    free(p->client_id);
    kp_conf_free(&p->conf);
    free(p);
}

kp_producer_t *kp_producer_new(const kp_config_t *conf, char *errstr, size_t errstr_size) {
    if (!conf) {
        kp_errf(errstr, errstr_size, "kp_producer_new: NULL configuration");
        return NULL;
    }
    kp_producer_t *p = kp_calloc(1, sizeof(*p));
    if (!p) {
        kp_errf(errstr, errstr_size, "Out of memory");
        return NULL;
    }
    p->wake_fd = -1;
    p->cq.fd = -1;
    p->uid = atomic_fetch_add(&producer_uid, 1) + 1; /* 0: no producer (kp_topic_find) */
    /* KPROD_DEBUG=1 in the environment: debug logs on stderr */
    const char *dbg = getenv("KPROD_DEBUG");
    p->logger.level = dbg && *dbg && strcmp(dbg, "0") ? 7 : 4;
    pthread_mutex_init(&p->topics_lock, NULL);
    pthread_mutex_init(&p->done_lock, NULL);
    pthread_mutex_init(&p->close_lock, NULL);
    pthread_mutex_init(&p->cq.lock, NULL);
    kp_cond_init_mono(&p->cq.cond);
    kp_cond_init_mono(&p->md_cond);
    kp_cond_init_mono(&p->done_cond);
    kp_txn_init(p);
    if (kp_conf_copy(&p->conf, &conf->c)) {
        kp_errf(errstr, errstr_size, "Out of memory");
        free(p->client_id);
        producer_free(p);
        return NULL;
    }
    if (kp_conf_finalize(&p->conf, errstr, errstr_size)) {
        producer_free(p);
        return NULL;
    }
    if (*p->conf.client_id) {
        p->client_id = kp_strdup(p->conf.client_id);
    } else {
        char id[32];
        snprintf(id, sizeof(id), "producer-%d", atomic_fetch_add(&client_seq, 1) + 1);
        p->client_id = kp_strdup(id);
    }
    p->logger.cb = p->conf.log_cb;
    p->logger.opaque = p->conf.log_opaque;
    p->logger.name = p->client_id;
    p->rng = ((uint64_t)kp_mono_us() ^ (uint64_t)(uintptr_t)p) ^ 0x5DEECE66Dull;
    p->net.conf = &p->conf;
    p->net.log = &p->logger;
    p->net.client_id = p->client_id;
    p->net.owner = p;
    p->net.rng = p->rng ^ 0x9E3779B97F4A7C15ull;
    /* bootstrap.servers */
    const char *s = p->conf.bootstrap_servers;
    while (p->client_id && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *host;
        int32_t port;
        int blank = 1;
        for (size_t i = 0; i < n; i++)
            blank &= s[i] == ' ' || s[i] == '\t';
        if (!blank) {
            if (parse_hostport(s, n, &host, &port)) {
                kp_errf(errstr, errstr_size,
                        "Invalid url in bootstrap.servers: '%.*s' (expected host:port)", (int)n, s);
                producer_free(p);
                return NULL;
            }
            int added = kp_net_add_seed(&p->net, host, port);
            free(host);
            if (added) {
                kp_errf(errstr, errstr_size, "Out of memory");
                producer_free(p);
                return NULL;
            }
        }
        s += n + (e ? 1 : 0);
    }
    if (!p->client_id || !p->net.nboot) {
        kp_errf(errstr, errstr_size, p->client_id ? "No broker address in bootstrap.servers"
                                                  : "Out of memory");
        producer_free(p);
        return NULL;
    }
    /* every request carries client.id as an int16-length string */
    if (strlen(p->client_id) > INT16_MAX) {
        kp_errf(errstr, errstr_size, "Invalid value for client.id: longer than %d bytes",
                INT16_MAX);
        producer_free(p);
        return NULL;
    }
    int resolves = any_resolves(p);
    if (resolves <= 0) {
        kp_errf(errstr, errstr_size, resolves < 0 ? "Out of memory"
                                                  : "No resolvable bootstrap urls given in "
                                                    "bootstrap.servers");
        producer_free(p);
        return NULL;
    }
    /* security.protocol=SSL: the TLS context, its stores read now so that a
     * wrong path, format or password fails here (net/tls.h) */
    int tls = p->conf.security_protocol == KP_SEC_SSL ||
              p->conf.security_protocol == KP_SEC_SASL_SSL;
    if (tls && !(p->net.tls = kp_tls_new(&p->conf, &p->logger, errstr, errstr_size))) {
        producer_free(p);
        return NULL;
    }
    /* SASL_*: the mechanism and sasl.jaas.config, checked now (net/auth.h) */
    if (kp_auth_configure(&p->net.sasl, &p->conf, errstr, errstr_size)) {
        producer_free(p);
        return NULL;
    }
    /* OAUTHBEARER with a token source (the application's callback, OIDC):
     * the refresher thread, which has the first token before we go on
     * (net/oauth.h) */
    if (kp_oauth_setup(&p->net, errstr, errstr_size)) {
        producer_free(p);
        return NULL;
    }
    kp_err_t rerr;
    p->net.resolver = kp_resolver_new(&p->net, &rerr);
    if (!p->net.resolver) {
        kp_errf(errstr, errstr_size, rerr == KP_ERR_NOMEM ? "Out of memory"
                                                          : "Cannot set up the name resolver");
        producer_free(p);
        return NULL;
    }
    p->wake_fd = kp_fd_above_std(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (p->wake_fd < 0) {
        kp_errf(errstr, errstr_size, "eventfd: %s", strerror(errno));
        producer_free(p);
        return NULL;
    }
    if (kp_cq_init(p)) {
        kp_errf(errstr, errstr_size, "eventfd for completion.mode=queue: %s", strerror(errno));
        producer_free(p);
        return NULL;
    }
    int codec = p->conf.compression_type;
    int level = codec == KP_CODEC_GZIP   ? p->conf.gzip_level
                : codec == KP_CODEC_LZ4  ? p->conf.lz4_level
                : codec == KP_CODEC_ZSTD ? p->conf.zstd_level
                                         : KP_CODEC_LEVEL_DEFAULT;
    kp_acc_init(&p->acc, &p->conf, &p->closing, wake_owner, p, level);
    if (codec != KP_CODEC_NONE) {
        p->compressor = kp_compressor_new(codec, level);
        if (!p->compressor) {
            kp_errf(errstr, errstr_size, "Cannot set up %s compression at level %d",
                    kp_codec_name(codec), level);
            producer_free(p);
            return NULL;
        }
    }
    p->metrics = kp_metrics_new(p, kp_mono_ms());
    if (!p->metrics) {
        kp_errf(errstr, errstr_size, "Out of memory");
        producer_free(p);
        return NULL;
    }
    p->acc.m_wait = kp_mstat(p, KP_M_BUFFER_WAIT);
    p->acc.m_exhausted = kp_mstat(p, KP_M_BUFFER_EXHAUSTED);
    p->md.due = 1;
    p->idem.enabled = p->conf.enable_idempotence;
    p->txn.enabled = p->conf.transactional_id && *p->conf.transactional_id;
    p->idem.pid = -1;
    p->idem.epoch = -1;
    int rc = pthread_create(&p->thread, NULL, kp_sender_main, p);
    if (rc) {
        kp_errf(errstr, errstr_size, "Cannot start the I/O thread: %s", strerror(rc));
        producer_free(p);
        return NULL;
    }
    p->thread_started = 1;
    return p;
}

void kp_producer_destroy(kp_producer_t *p) {
    if (!p)
        return;
    if (kp_in_io_thread(p) || kp_in_poll(p)) {
        kp_log(p, 3, "kp_producer_destroy called from a producer callback: ignored");
        return;
    }
    kp_close(p, -1);
    /* completion.mode=queue: what the application did not poll runs here,
     * so that every record still completes exactly once */
    if (p->cq.enabled)
        kp_cq_poll(p, INT32_MAX, 0);
    producer_free(p);
}

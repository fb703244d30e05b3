/*
 * drain — the scan: for each partition with batches, fail those past
 * delivery.timeout.ms, and take the head batch when it is ready and its
 * leader's connection can take it, into one request per broker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "net/conn.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "base/util.h"

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
    return !(p->idem.enabled && b->base_seq < 0 && (tp->pid != p->idem.pid || tp->epoch != p->idem.epoch));
}

/* Move the partitions waiting in the inbox onto the I/O thread's list (all
 * of them, or none while memory runs out: they wait for the next turn). */
static void take_inbox(kp_producer_t *p) {
    int n;
    kp_tp_t *list = kp_acc_take_inbox(&p->acc, &n);
    if (!list)
        return;
    if (p->nactive + n > p->active_cap) {
        int cap = (p->nactive + n) * 2;
        kp_tp_t **na = kp_realloc(p->active, (size_t)cap * sizeof(*na));
        if (!na) {
            kp_acc_put_back_inbox(&p->acc, list);
            return;
        }
        p->active = na;
        p->active_cap = cap;
    }
    for (kp_tp_t *tp = list; tp; tp = tp->work_next)
        p->active[p->nactive++] = tp;
}

/* A request lists each topic once, its partitions together: drain lists,
 * filled in the order of the partition list, are sorted by topic. */
static int by_topic(const void *a, const void *b) {
    const kp_batch_t *x = *(kp_batch_t *const *)a, *y = *(kp_batch_t *const *)b;
    if (x->tp->topic != y->tp->topic)
        return (uintptr_t)x->tp->topic < (uintptr_t)y->tp->topic ? -1 : 1;
    return x->tp->partition < y->tp->partition ? -1 : x->tp->partition > y->tp->partition;
}

/* One scan's state: what it collected and the nearest time something is
 * due. */
typedef struct scan {
    kp_producer_t *p;
    int64_t now, next;
    int hurry;      /* flush or close: linger.ms does not apply */
    kp_err_t fatal; /* the producer cannot continue: everything queued fails */
    kp_batch_t *expired;
    kp_batch_t *unusable; /* batches whose leader cannot be used (kp_conn_t.unusable) */
    kp_err_t txn_fail;    /* queued batches fail with it (the transaction is being aborted,
                           * or none is open: kp_txn_failing_queued) */
    kp_batch_t *aborted;  /* and those that do */
    drain_list_t *lists; /* one per connection */
    int nlists, lcap;
} scan_t;

/* delivery.timeout.ms: take the batches of tp's deque past it (all of them
 * once the producer hit a fatal error) onto s->expired; all of them onto
 * s->unusable when the leader is a broker kprod cannot use (lacking what
 * it needs, a failed TLS handshake: they fail with the broker's
 * kp_conn_t.unusable); lc is the leader's connection, or NULL (tp->lock
 * held). */
static void expire_queued(scan_t *s, kp_tp_t *tp, const kp_conn_t *lc) {
    int64_t dto = s->p->conf.delivery_timeout_ms;
    int unusable = lc && lc->unusable && lc->state != KP_CONN_READY;
    while (tp->head && !tp->head->compressing &&
           (s->fatal || unusable || s->txn_fail || s->now >= tp->head->created_ms + dto)) {
        kp_batch_t *b = tp->head;
        tp->head = b->next;
        if (!tp->head)
            tp->tail = NULL;
        b->closed = 1;
        kp_idem_gap(s->p, b, "a sequenced batch expired");
        kp_batch_t **list = s->fatal         ? &s->expired
                            : s->txn_fail   ? &s->aborted
                            : unusable      ? &s->unusable
                                            : &s->expired;
        b->next = *list;
        *list = b;
    }
}

/* Move tp's head batch b into the request for c, if it fits (tp->lock
 * held). */
static void take_head(scan_t *s, kp_tp_t *tp, kp_batch_t *b, kp_conn_t *c) {
    kp_producer_t *p = s->p;
    drain_list_t *d = drain_for(&s->lists, &s->nlists, &s->lcap, c);
    if (!d)
        return; /* out of memory: the next scan tries again */
    size_t size = b->cbuf ? b->clen : b->len;
    if (d->full || (d->n && d->bytes + size > (size_t)p->conf.max_request_size)) {
        d->full = 1;
        s->next = s->now; /* more to send: come straight back */
        return;
    }
    if (drain_add(d, b))
        return;
    tp->head = b->next;
    if (!tp->head)
        tp->tail = NULL;
    b->next = NULL;
    b->closed = 1;
    tp->inflight++;
    tp->inflight_conn = c;
    if (!b->sent_no)
        b->sent_no = ++tp->sent_count;
    if (p->idem.enabled && b->base_seq < 0)
        kp_idem_assign(p, tp, b);
    /* a request holds one batch per partition: the next one goes in the
     * next request */
    if (tp->head)
        s->next = s->now;
}

/* Look at tp's head batch: note when it is due, take it when it is ready
 * and its leader's connection c (NULL: none known) can carry it, or say
 * what it waits for (tp->lock held). */
static void scan_head(scan_t *s, kp_tp_t *tp, kp_conn_t *c) {
    kp_producer_t *p = s->p;
    int64_t now = s->now;
    kp_batch_t *b = tp->head;
    /* (stores only on a change: every write costs the partner thread a
     * cache miss) */
    int64_t stalled = atomic_load_explicit(&tp->stalled_since, memory_order_relaxed);
    if (!b) {
        if (stalled)
            atomic_store_explicit(&tp->stalled_since, 0, memory_order_relaxed);
        return;
    }
    s->next = MIN(s->next, b->created_ms + p->conf.delivery_timeout_ms);
    int64_t ready_at;
    if (b->attempts)
        ready_at = b->retry_at_ms; /* a retry waits out its backoff */
    else if (b->closed || b->next || s->hurry)
        ready_at = now;
    else
        ready_at = b->created_ms + p->conf.linger_ms;
    /* idempotence: a new batch needs a producer id */
    int need_pid = p->idem.enabled && b->base_seq < 0 && p->idem.state != KP_PID_READY;
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
    } else if (p->txn.enabled && !kp_txn_part_ready(p, tp)) {
        /* it joins the transaction first (AddPartitionsToTxn, txn.c) */
    } else if (ready_at > now) {
        s->next = MIN(s->next, ready_at);
    } else if (c->state != KP_CONN_READY) {
        /* dialled after the scan, never under a partition's lock (a
         * connect resolves the broker's name); a leader that cannot be
         * reached may have been replaced: ask (as the Java client asks on
         * every disconnect; metadata requests have their own backoff) */
        c->want_connect = 1;
        if (c->failures)
            atomic_store_explicit(&p->md_wanted, 1, memory_order_relaxed);
    } else if (c->nreqs < p->conf.max_in_flight) {
        take_head(s, tp, b, c);
    }
}

/* Dial the connections a partition waits for (outside every lock). */
static void dial_wanted(scan_t *s) {
    kp_net_t *net = &s->p->net;
    for (int i = 0; i < kp_conn_count(net); i++) {
        kp_conn_t *c = kp_conn_at(net, i);
        if (!c->want_connect)
            continue;
        c->want_connect = 0;
        kp_conn_connect(net, c, s->now); /* (does nothing while its backoff lasts) */
        if (c->state == KP_CONN_DOWN)
            s->next = MIN(s->next, c->next_connect_ms);
    }
}

static void complete_expired(scan_t *s) {
    while (s->aborted) {
        kp_batch_t *b = s->aborted;
        s->aborted = b->next;
        kp_batch_complete(s->p, b, s->txn_fail, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    while (s->unusable) {
        kp_batch_t *b = s->unusable;
        s->unusable = b->next;
        /* (the leader is the I/O thread's, as this scan) */
        kp_conn_t *lc = b->tp->leader >= 0 ? kp_broker_conn(s->p, b->tp->leader) : NULL;
        kp_batch_complete(s->p, b, lc && lc->unusable ? lc->unusable : KP_ERR_UNSUPPORTED_BROKER,
                          -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    while (s->expired) {
        kp_batch_t *b = s->expired;
        s->expired = b->next;
        kp_err_t err = s->fatal              ? s->fatal
                       : b->maybe_persisted ? KP_ERR_MSG_TIMED_OUT_IN_FLIGHT
                                            : KP_ERR_MSG_TIMED_OUT_QUEUE;
        kp_batch_complete(s->p, b, err, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
}

/* One Produce request per connection from its drain list. */
static void send_lists(scan_t *s) {
    kp_producer_t *p = s->p;
    for (int i = 0; i < s->nlists; i++) {
        drain_list_t *d = &s->lists[i];
        int kept = 0;
        for (int k = 0; k < d->n; k++) {
            kp_err_t e = kp_prod_prepare(p, d->conn, d->bs[k]);
            if (e)
                kp_prod_result(p, d->bs[k], e, -1, -1, 0);
            else
                d->bs[kept++] = d->bs[k];
        }
        d->n = kept;
        kp_req_t *req = NULL;
        if (d->n) {
            qsort(d->bs, (size_t)d->n, sizeof(*d->bs), by_topic);
            req = kp_prod_build(p, d->conn, d->bs, d->n, s->now);
            if (!req)
                for (int k = 0; k < d->n; k++)
                    kp_prod_result(p, d->bs[k], KP_ERR_NOMEM, -1, -1, 0);
        }
        if (req)
            kp_conn_send(&p->net, d->conn, req);
        else
            free(d->bs);
    }
    free(s->lists);
}

/* Scan the partitions with batches: expire, and collect ready batches per
 * broker into one request each. Returns the nearest time something
 * becomes due. */
int64_t kp_drain_scan(kp_producer_t *p, int64_t now) {
    scan_t s = {.p = p, .now = now, .next = INT64_MAX};
    s.hurry = atomic_load(&p->flushing) > 0 || atomic_load(&p->closing);
    s.fatal = (kp_err_t)atomic_load(&p->fatal_err);
    s.txn_fail = kp_txn_failing_queued(p);
    /* only the partitions with batches: those on the list, and those that
     * got their first batch since (the inbox) */
    take_inbox(p);
    int listed = 0;
    for (int ai = 0; ai < p->nactive; ai++) {
        kp_tp_t *tp = p->active[ai];
        pthread_mutex_lock(&tp->lock);
        /* its leader's connection, looked up once for both */
        kp_conn_t *lc = tp->head && tp->leader >= 0 ? kp_broker_conn(p, tp->leader) : NULL;
        expire_queued(&s, tp, lc);
        scan_head(&s, tp, lc);
        /* off the list once its deque is empty (appends and requeues
         * put it back, under this lock) */
        int keep = tp->head != NULL;
        tp->listed = keep;
        pthread_mutex_unlock(&tp->lock);
        if (keep)
            p->active[listed++] = tp;
    }
    p->nactive = listed;
    /* a partition asked to join the transaction in this scan: its
     * AddPartitionsToTxn next turn (kp_txn_maybe keeps its own timers) */
    if (p->txn.newly_wanted) {
        p->txn.newly_wanted = 0;
        s.next = now;
    }
    dial_wanted(&s);
    complete_expired(&s);
    send_lists(&s);
    return s.next;
}

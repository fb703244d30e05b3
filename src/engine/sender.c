/*
 * sender — the producer's one I/O thread.
 *
 * Each turn of the loop:
 *   1. metadata: one request at a time (single-flight), when an application
 *      thread waits for a topic, when a produce failed with a metadata error
 *      or a connection dropped, or every metadata.max.age.ms;
 *   2. a scan of the partitions with batches (drain.c): batches past
 *      delivery.timeout.ms are failed; the head batch of each partition
 *      whose leader's connection is
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
 * Completions (callbacks, futures) run here, never under a lock — or, with
 * completion.mode=queue, are queued here for kp_poll (completion.c). Each
 * turn also does a kp_purge asked for and delivers buffer watermark
 * crossings.
 *
 * The thread's parts (engine.h says what each offers the others):
 *   sender.c       this loop, the connections it owns, shutdown
 *   metadata.c     the cluster view: brokers, topics, leaders, requests
 *   idempotence.c  the producer id and sequence numbers
 *   produce.c      Produce requests, their outcomes, retries, in-flight expiry
 *   drain.c        the scan that picks ready batches per broker
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "net/conn.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/metrics.h"
#include "net/resolve.h"
#include "base/util.h"

/* The ready connection with the fewest requests (known brokers first, then
 * bootstrap servers), or NULL. api: an API the broker must offer, or -1. */
kp_conn_t *kp_pick_ready_conn(kp_producer_t *p, int api) {
    kp_conn_t *best = NULL;
    for (int i = 0; i < p->net.nbrokers; i++) {
        kp_conn_t *c = p->net.brokers[i].conn;
        if (c->state == KP_CONN_READY && c->nreqs < p->conf.max_in_flight &&
            (api < 0 || c->ver[api] >= 0) && (!best || c->nreqs < best->nreqs))
            best = c;
    }
    for (int i = 0; !best && i < p->net.nboot; i++)
        if (p->net.boot[i]->state == KP_CONN_READY && (api < 0 || p->net.boot[i]->ver[api] >= 0))
            best = p->net.boot[i];
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
void kp_ensure_connecting(kp_producer_t *p, int64_t now, int64_t *next) {
    int connecting = 0, total = kp_conn_count(&p->net);
    for (int i = 0; i < total; i++)
        connecting |= kp_conn_at(&p->net, i)->state > KP_CONN_RESOLVING;
    for (int k = 0; !connecting && k < total; k++) {
        kp_conn_t *c = kp_conn_at(&p->net, (p->net.boot_next++) % total);
        if (c->state == KP_CONN_DOWN && now >= c->next_connect_ms) {
            kp_conn_connect(&p->net, c, now);
            connecting = c->state > KP_CONN_RESOLVING;
        }
    }
    if (connecting)
        return;
    for (int i = 0; i < total; i++)
        if (kp_conn_at(&p->net, i)->state == KP_CONN_DOWN)
            *next = MIN(*next, kp_conn_at(&p->net, i)->next_connect_ms);
}

/* ---------------------------------------------------------------- shutdown */

/* Take every batch out of the deques onto *all, except those an
 * application thread still compresses (they are its own until then; it
 * wakes us when done). Returns 1 when none was left behind. */
static int take_queued(kp_producer_t *p, kp_batch_t **all) {
    int left = 0;
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
                b->next = *all;
                *all = b;
            }
            pthread_mutex_unlock(&tp->lock);
        }
    }
    return !left;
}

/* Force close: fail every record not yet completed. Returns 0 while an
 * application thread still compresses a batch, 1 when everything is
 * failed. */
static int fail_everything(kp_producer_t *p) {
    for (int i = 0; i < kp_conn_count(&p->net); i++)
        kp_conn_close(&p->net, kp_conn_at(&p->net, i), KP_ERR_PURGED_CLOSE,
                      i < p->net.nbrokers ? "producer closed" : NULL);
    kp_batch_t *all = NULL;
    int done = take_queued(p, &all);
    while (all) {
        kp_batch_t *b = all;
        all = b->next;
        kp_batch_complete(p, b, KP_ERR_PURGED_CLOSE, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    return done;
}

/* kp_purge: fail the batches waiting in the deques with KP_ERR_PURGED
 * (not persisted, unless an earlier attempt may have been written) and,
 * with KP_PURGE_IN_FLIGHT, those in flight (produce.c). Returns 0 while a
 * batch being compressed was left: the purge is asked again. */
static int purge(kp_producer_t *p, int flags) {
    if (flags & KP_PURGE_IN_FLIGHT)
        kp_prod_purge_in_flight(p);
    if (!(flags & KP_PURGE_QUEUED))
        return 1;
    kp_batch_t *all = NULL;
    int done = take_queued(p, &all);
    int n = 0;
    while (all) {
        kp_batch_t *b = all;
        all = b->next;
        n += b->count;
        b->closed = 1;
        kp_idem_gap(p, b, "a sequenced batch was purged");
        kp_batch_complete(p, b, KP_ERR_PURGED, -1, -1,
                          b->maybe_persisted ? KP_POSSIBLY_PERSISTED : KP_NOT_PERSISTED);
    }
    if (n)
        kp_log(p, 6, "purge: %d records not yet sent failed", n);
    return done;
}

/* A kp_purge asked for: do it and tell the callers waiting (done_lock and
 * its condition, as flush). The flags are taken with the count of calls
 * they answer, under the lock, so no call's flags are seen without its
 * count. */
static void maybe_purge(kp_producer_t *p) {
    if (!atomic_load_explicit(&p->purge_flags, memory_order_relaxed))
        return;
    pthread_mutex_lock(&p->done_lock);
    int64_t asked = p->purge_asked;
    int flags = atomic_exchange(&p->purge_flags, 0);
    pthread_mutex_unlock(&p->done_lock);
    if (!purge(p, flags)) {
        atomic_fetch_or(&p->purge_flags, flags); /* again, once the batch is compressed */
        return;
    }
    pthread_mutex_lock(&p->done_lock);
    p->purge_done = asked;
    pthread_cond_broadcast(&p->done_cond);
    pthread_mutex_unlock(&p->done_lock);
}

/* The thread ends: nobody waits for it to purge any more. */
static void io_exit(kp_producer_t *p) {
    kp_deliver_watermarks(p);
    pthread_mutex_lock(&p->done_lock);
    p->io_exited = 1;
    pthread_cond_broadcast(&p->done_cond);
    pthread_mutex_unlock(&p->done_lock);
}

static void retire_conns(kp_producer_t *p) {
    kp_net_reap(&p->net);
    if (p->net.retire_boot) {
        /* bootstrap connections go once known brokers took over, each when
         * it has nothing in flight (an InitProducerId may be on one) */
        int kept = 0;
        for (int i = 0; i < p->net.nboot; i++) {
            kp_conn_t *c = p->net.boot[i];
            if (c->wait_head || c->out_head)
                p->net.boot[kept++] = c;
            else
                kp_conn_destroy(&p->net, c);
        }
        p->net.nboot = kept;
        p->net.retire_boot = kept > 0;
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

/* Brokers that cannot be used as things are (conn.h's kp_conn_t.unusable:
 * lacking what kprod needs, a failed TLS handshake): while no connection is
 * ready and one is so marked, sends waiting for metadata, and new ones,
 * fail at once with its error (producer.c) instead of waiting out
 * max.block.ms for metadata that cannot come. p->unusable holds that
 * error (0: none). */
static void note_unusable(kp_producer_t *p) {
    kp_err_t marked = KP_OK;
    int ready = 0;
    for (int i = 0; i < kp_conn_count(&p->net); i++) {
        const kp_conn_t *c = kp_conn_at(&p->net, i);
        if (!marked)
            marked = c->unusable;
        ready |= c->state == KP_CONN_READY;
    }
    int v = ready ? KP_OK : marked;
    if (v == atomic_load_explicit(&p->unusable, memory_order_relaxed))
        return;
    pthread_mutex_lock(&p->topics_lock);
    atomic_store(&p->unusable, v);
    pthread_cond_broadcast(&p->md_cond);
    pthread_mutex_unlock(&p->topics_lock);
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
        maybe_purge(p);
        kp_deliver_watermarks(p);
        /* (a transaction still being ended, or one left open — which close
         * aborts, as Java's — keeps the loop going) */
        if (atomic_load(&p->closing) && kp_drained(p) && !kp_txn_closing(p))
            break;
        int64_t next = INT64_MAX;
        note_unusable(p);
        /* A produce can only go where metadata says; when we know nothing
         * yet (or a topic waits), fetch it. */
        kp_md_maybe_rebootstrap(p, now, &next);
        kp_md_maybe(p, now, &next);
        if (p->txn.enabled)
            kp_txn_maybe(p, now, &next);
        else
            kp_idem_maybe(p, now, &next);
        kp_prod_expire(p, now, &next);
        kp_metrics_service(p, now, &next);
        int64_t scan_due = kp_drain_scan(p, now); /* (MIN evaluates twice: not the scan) */
        next = MIN(next, scan_due);
        /* timers and fds: the wake-up eventfd, the connections', then the
         * resolver's (resolve.h) */
        int nc = kp_conn_count(&p->net), nr = kp_resolver_nfds(p->net.resolver);
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
            kp_conn_t *c = kp_conn_at(&p->net, i);
            int64_t due = kp_conn_timers(&p->net, c, now); /* (MIN evaluates twice) */
            next = MIN(next, due);
            if (c->state == KP_CONN_DOWN || c->fd < 0)
                continue;
            pfds[nfds].fd = c->fd;
            pfds[nfds].events = kp_conn_events(c);
            pconns[nfds++] = c;
        }
        int rfds = nfds;
        nr = kp_resolver_fds(p->net.resolver, pfds + rfds, nr);
        nfds += nr;
        int timeout;
        now = kp_mono_ms();
        int64_t rdue = kp_resolver_timeout(p->net.resolver, now);
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
        kp_resolver_process(p->net.resolver, pfds + rfds, nr, now);
        if (rc == 0)
            continue;
        if (pfds[0].revents & POLLIN)
            drain_wake(p);
        for (int i = 1; i < rfds; i++)
            if (pfds[i].revents)
                kp_conn_io(&p->net, pconns[i], pfds[i].revents, now);
    }
    io_exit(p);
    free(pfds);
    free(pconns);
    kp_txn_closed(p);
    kp_metrics_io_stopped(p);
    return NULL;
}

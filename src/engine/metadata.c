/*
 * metadata — the I/O thread's view of the cluster: brokers (each with its
 * connection), topics, partitions and their leaders, kept current with
 * Metadata requests.
 *
 * One request at a time (single-flight). What it asks for (KIP-526): a new
 * topic alone and at once, so its first send waits one round trip; topics
 * still incomplete (no partitions, a retriable error, a leader unknown)
 * again with backoff; every metadata.max.age.ms, or when a request failed
 * in a way that says the view is stale, every topic in use (a topic with no
 * new record for metadata.max.idle.ms is left out). A topic the cluster
 * refuses for good (TOPIC_AUTHORIZATION_FAILED...) is looked at again only
 * when a send asks, with backoff, and logged once per change.
 *
 * Application threads read the topic and partition tables without a lock
 * (kp_ptab) and wait on md_cond under topics_lock; this file changes them
 * under topics_lock.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "net/conn.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "base/util.h"

static const kp_req_ops_t metadata_ops;

kp_conn_t *kp_broker_conn(kp_producer_t *p, int32_t node_id) {
    for (int i = 0; i < p->net.nbrokers; i++)
        if (p->net.brokers[i].node_id == node_id)
            return p->net.brokers[i].conn;
    return NULL;
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
        p->md.retry_at = p->md.backoff_until = now + p->conf.retry_backoff_ms;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        kp_topic_t *t = ts[i];
        if (i >= p->md.asked) { /* new: asked for by every kind */
            t->md_pending = 1;
            t->used_ms = now;
        } else if (kind == MD_NEW || !topic_wanted(p, t, kind, now)) {
            continue;
        }
        names[k++] = t->name; /* names live as long as p */
    }
    p->md.asked = n;
    kp_req_t *req = kp_req_new(&p->net, KP_API_METADATA, c->ver[KP_API_METADATA], now, &metadata_ops);
    if (req)
        /* Like the Java producer, let the broker auto-create topics (it does
         * only if its auto.create.topics.enable allows). */
        kp_metadata_req(&req->w, req->ver, req->corrid, p->client_id, names, k, 1);
    free(names);
    if (!req || kp_req_seal(req)) {
        /* out of memory: what it asked for is asked again after a backoff
         * (the topics are pending), not on every turn of the loop */
        kp_req_free(req);
        p->md.recheck_seen = 1;
        p->md.retry_at = p->md.backoff_until = now + p->conf.retry_backoff_ms;
        return;
    }
    kp_conn_send(&p->net, c, req);
    p->md.inflight = kind;
    if (kind == MD_FULL)
        p->md.due = 0;
    if (kind != MD_NEW)
        p->md.recheck_seen = 0;
    kp_log(p, 7, "metadata request (%s) for %zu topics to broker %d",
           kind == MD_FULL ? "full" : kind == MD_NEW ? "new topics" : "retry", k, c->node_id);
}

/* Has every known broker failed twice in a row (and none is ready)? Twice:
 * a broker that restarts drops its connections once and takes the next
 * one, which is no reason to start over. Metadata being wanted, each gets
 * tried in turn (kp_ensure_connecting); one being set up again counts as
 * failed until it is ready. */
static int known_brokers_unreachable(const kp_producer_t *p) {
    if (p->net.nboot || !p->net.nbrokers)
        return 0;
    for (int i = 0; i < p->net.nbrokers; i++) {
        const kp_conn_t *c = p->net.brokers[i].conn;
        if (c->state == KP_CONN_READY || c->failures < 2)
            return 0;
    }
    return 1;
}

void kp_md_maybe_rebootstrap(kp_producer_t *p, int64_t now, int64_t *next) {
    if (p->conf.metadata_recovery_strategy != 0) /* none */
        return;
    /* wanted: due, incomplete, asked for, or in flight — the time trigger
     * counts from the first moment it was wanted since the last answer */
    int wanted = p->md.due || p->md.npending || atomic_load(&p->md_wanted) || p->md.inflight;
    if (wanted && !p->md.wanted_since)
        p->md.wanted_since = now;
    int64_t trigger_at = p->md.wanted_since + p->conf.metadata_rebootstrap_trigger_ms;
    const char *why = NULL;
    if (p->md.rebootstrap_asked)
        why = "a broker answered REBOOTSTRAP_REQUIRED";
    else if (wanted && known_brokers_unreachable(p))
        why = "no known broker can be reached";
    else if (wanted && now >= trigger_at)
        why = "no metadata for metadata.recovery.rebootstrap.trigger.ms";
    if (!why) {
        if (wanted)
            *next = MIN(*next, trigger_at);
        return;
    }
    if (kp_net_rebootstrap(&p->net))
        return; /* out of memory: the next turn tries again */
    kp_log(p, 4, "rebootstrap: %s; starting again from bootstrap.servers (%d so far)", why,
           p->net.rebootstraps);
    p->md.rebootstrap_asked = 0;
    p->md.wanted_since = now;
    p->md.due = 1;
    p->md.backoff_until = now;
    atomic_store(&p->md_wanted, 1);
}

void kp_md_maybe(kp_producer_t *p, int64_t now, int64_t *next) {
    if (p->md.inflight)
        return;
    if (atomic_exchange(&p->md_wanted, 0) || now >= p->md.next_ms)
        p->md.due = 1;
    void *const *ts;
    size_t ntopics = kp_topics(p, &ts);
    if (atomic_exchange(&p->md_recheck_any, 0))
        p->md.recheck_seen = 1;
    int retry = p->md.npending || p->md.recheck_seen;
    enum md_kind kind = MD_NONE;
    if (p->md.due && now >= p->md.backoff_until)
        kind = MD_FULL;
    else if (ntopics > p->md.asked)
        kind = MD_NEW;
    else if (retry && now >= p->md.retry_at)
        kind = MD_RETRY;
    if (kind == MD_NONE) {
        *next = MIN(*next, p->md.due ? p->md.backoff_until : p->md.next_ms);
        if (retry)
            *next = MIN(*next, p->md.retry_at);
        return;
    }
    kp_conn_t *c = kp_pick_ready_conn(p, -1);
    if (c)
        send_metadata(p, c, now, kind);
    else
        kp_ensure_connecting(p, now, next);
}

kp_err_t kp_md_broker(kp_producer_t *p, const kp_md_broker_t *mb) {
    for (int i = 0; i < p->net.nbrokers; i++) {
        kp_broker_t *b = &p->net.brokers[i];
        if (b->node_id != mb->node_id)
            continue;
        if (b->port != mb->port || strcmp(b->conn->host, mb->host)) {
            kp_conn_t *c = kp_conn_new(mb->node_id, mb->host, mb->port);
            if (!c)
                return KP_ERR_NOMEM;
            kp_net_retire(&p->net, b->conn, "broker address changed");
            b->conn = c;
            b->port = mb->port;
        }
        return KP_OK;
    }
    kp_broker_t *nb = kp_grow(p->net.brokers, p->net.nbrokers, &p->net.brokers_cap, sizeof(*nb), 8);
    if (!nb)
        return KP_ERR_NOMEM;
    p->net.brokers = nb;
    kp_conn_t *c = kp_conn_new(mb->node_id, mb->host, mb->port);
    if (!c)
        return KP_ERR_NOMEM;
    p->net.brokers[p->net.nbrokers++] = (kp_broker_t){mb->node_id, mb->port, c};
    return KP_OK;
}

int kp_md_set_leader(kp_producer_t *p, kp_tp_t *tp, int32_t leader, int32_t epoch,
                     const char *source) {
    if (epoch >= 0 && tp->leader_epoch >= 0 && epoch < tp->leader_epoch) {
        kp_log(p, 7, "%s [%d]: %s names leader %d at epoch %d, older than %d: ignored",
               tp->topic->name, tp->partition, source, leader, epoch, tp->leader_epoch);
        return 0;
    }
    if (epoch >= 0)
        tp->leader_epoch = epoch;
    if (tp->leader == leader)
        return 0;
    kp_log(p, 7, "%s [%d]: leader %d -> %d (epoch %d, %s)", tp->topic->name, tp->partition,
           tp->leader, leader, epoch, source);
    tp->leader = leader;
    return 1;
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
    if (mt->err == KAFKA_REBOOTSTRAP_REQUIRED)
        p->md.rebootstrap_asked = 1;
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
    /* kept for the APIs that name topics by id (Produce v13+, KIP-516) */
    memcpy(t->topic_id, mt->topic_id, sizeof(t->topic_id));
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
        kp_md_set_leader(p, tp, leader, mp->leader_epoch, "metadata");
        if (tp->leader < 0 || !kp_broker_conn(p, tp->leader))
            incomplete = 1;
    }
    *problem |= incomplete;
    return incomplete;
}

static void handle_metadata(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_producer_t *p = net->owner;
    kp_md_resp_t m;
    int64_t now = kp_mono_ms();
    enum md_kind kind = (enum md_kind)p->md.inflight;
    p->md.inflight = 0;
    if (kp_metadata_resp(r, req->ver, &m)) {
        kp_log(p, 4, "broker %d: malformed Metadata response", c->node_id);
        p->md.due = 1;
        p->md.backoff_until = now + p->conf.retry_backoff_ms;
        kp_conn_close(&p->net, c, KP_ERR_BAD_RESPONSE, "malformed Metadata response");
        return;
    }
    for (int32_t i = 0; i < m.nbrokers; i++)
        kp_md_broker(p, &m.brokers[i]);
    int problem = 0;
    pthread_mutex_lock(&p->topics_lock);
    for (int32_t i = 0; i < m.ntopics; i++) {
        kp_topic_t *t = kp_topic_find(p, m.topics[i].name);
        if (t)
            t->md_pending = update_topic(p, t, &m.topics[i], &problem);
    }
    p->md_ok_ms = now;
    p->md.wanted_since = 0;
    pthread_cond_broadcast(&p->md_cond);
    pthread_mutex_unlock(&p->topics_lock);
    kp_metadata_resp_free(&m);
    /* topics asked for and not answered stay pending: count them all */
    void *const *ts;
    p->md.npending = 0;
    for (size_t i = 0, n = kp_topics(p, &ts); i < n; i++)
        p->md.npending += ((kp_topic_t *)ts[i])->md_pending;
    problem |= p->md.npending > 0;
    if (p->net.nboot && p->net.nbrokers)
        p->net.retire_boot = 1;
    /* something missing or refused: ask again later, backing off */
    if (problem)
        p->md.attempts++;
    else
        p->md.attempts = 0;
    p->md.retry_at = now + (problem ? kp_backoff(p->conf.retry_backoff_ms,
                                                 p->conf.retry_backoff_max_ms,
                                                 p->md.attempts - 1, &p->rng)
                                    : p->conf.retry_backoff_ms);
    if (kind == MD_FULL) {
        p->md.next_ms = now + p->conf.metadata_max_age_ms;
        p->md.backoff_until = now + p->conf.retry_backoff_ms;
    }
}

/* A request that ended without an answer: whatever it was, the cluster
 * view may be stale (a full metadata refresh follows, after its backoff). */
static void metadata_failed(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_err_t err) {
    kp_producer_t *p = net->owner;
    (void)c, (void)req, (void)err;
    atomic_store(&p->md_wanted, 1);
    p->md.inflight = 0;
    p->md.backoff_until = kp_mono_ms() + p->conf.retry_backoff_ms;
}

static const kp_req_ops_t metadata_ops = {handle_metadata, metadata_failed, NULL};

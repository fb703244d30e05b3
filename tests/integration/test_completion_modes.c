/*
 * Where completions run (issue 16), against librdkafka's mock cluster and
 * read back with librdkafka's consumer: completion.mode=queue polled from a
 * thread waiting on kp_completion_fd() with epoll, the fd's readiness, the
 * batch callback in both modes, close handing back what is queued (kp_poll
 * after close, destroy running the rest), 4 sending threads with 2 polling
 * threads, and the calls' arguments. Every record completes exactly once.
 */
#include <sys/epoll.h>

#include "common.h"

#define TOPIC "cq"

static kp_producer_t *producer_with(const char *boot, kp_batch_callback_fn *bcb, void *bop,
                                    ...) {
    va_list ap;
    va_start(ap, bop);
    kp_config_t *c = make_config_va(boot, ap);
    va_end(ap);
    if (c)
        kp_config_set_batch_callback(c, bcb, bop);
    return producer_from(c);
}

/* Is the fd readable now (epoll, no wait)? */
static int fd_ready(int ep) {
    struct epoll_event ev;
    return epoll_wait(ep, &ev, 1, 0);
}

/* A thread that waits on the completion fd with epoll and polls. */
typedef struct poller {
    kp_producer_t *p;
    tracker_t *t;
    pthread_t th;
    atomic_int stop;
    atomic_long wakeups;
    pthread_t self_seen; /* the thread callbacks ran on (checked once) */
} poller_t;

static __thread poller_t *current_poller;
static atomic_int wrong_thread;

static void *epoll_poller(void *arg) {
    poller_t *pl = arg;
    current_poller = pl;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, kp_completion_fd(pl->p), &ev);
    while (!atomic_load(&pl->stop)) {
        struct epoll_event out;
        if (epoll_wait(ep, &out, 1, 50) == 1) {
            atomic_fetch_add(&pl->wakeups, 1);
            kp_poll(pl->p, 16, 0);
        }
    }
    close(ep);
    return NULL;
}

static void on_poller_thread_cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    if (!current_poller)
        atomic_fetch_add(&wrong_thread, 1);
    tracker_cb(md, err, opaque);
}

/* completion.mode=queue end to end: callbacks run on the epoll thread only,
 * futures complete without a poller, kp_send_sync works, read back. */
static void test_queue_epoll_end_to_end(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "1", 3);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = producer_with(boot, NULL, NULL, "completion.mode", "queue",
                                     "value.serializer", "string", NULL);
    REQUIRE_NOT_NULL(p);
    CHECK_GE_INT(kp_completion_fd(p), 3);
    /* a synchronous send needs no poller */
    kp_record_t r0 = rec_str(TOPIC "1", NULL, "sync-0");
    kp_record_metadata_t md;
    CHECK_OK(kp_send_sync(p, &r0, 10000, &md));
    CHECK_GE_INT(md.offset, 0);

    enum { N = 2000 };
    tracker_t t;
    tracker_init(&t, N);
    static slot_ref_t refs[N];
    poller_t pl = {.p = p, .t = &t};
    atomic_init(&pl.stop, 0);
    atomic_store(&wrong_thread, 0);
    REQUIRE(pthread_create(&pl.th, NULL, epoll_poller, &pl) == 0);
    kp_future_t *futs[10];
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "q-%d", i);
        kp_record_t r = rec_str(TOPIC "1", NULL, v);
        refs[i] = (slot_ref_t){&t, (size_t)i};
        if (i < 10)
            CHECK_OK(kp_send_future(p, &r, on_poller_thread_cb, &refs[i], &futs[i]));
        else
            CHECK_OK(kp_send(p, &r, on_poller_thread_cb, &refs[i]));
    }
    for (int i = 0; i < 10; i++) {
        CHECK_OK(kp_future_get(futs[i], 10000, &md));
        kp_future_destroy(futs[i]);
    }
    CHECK_OK(kp_flush(p, 10000));
    CHECK(tracker_wait(&t, 10000));
    atomic_store(&pl.stop, 1);
    pthread_join(pl.th, NULL);
    CHECK_EQ_INT(atomic_load(&wrong_thread), 0);
    CHECK_GT_INT(atomic_load(&pl.wakeups), 0);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        CHECK_GE_INT(t.d[i].offset, 0);
        CHECK_EQ_INT(t.d[i].persisted, KP_PERSISTED);
    }
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);

    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, TOPIC "1", N + 1, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N + 1);
    /* what each callback said is what the broker holds */
    for (size_t i = 0; i < n; i++) {
        int v;
        if (sscanf(recs[i].value, "q-%d", &v) != 1)
            continue;
        CHECK_EQ_INT(t.d[v].partition, recs[i].partition);
        CHECK_EQ_INT(t.d[v].offset, recs[i].offset);
    }
    readback_free(recs, n);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

static int flushed_and_ready(void *arg) { return fd_ready(*(int *)arg) == 1; }

/* The fd is readable exactly while completions wait. */
static void test_fd_readiness(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "2", 2);
    REQUIRE_NOT_NULL(mc);
    kp_producer_t *p = producer_with(mockcluster_bootstraps(mc), NULL, NULL, "completion.mode",
                                     "queue", NULL);
    REQUIRE_NOT_NULL(p);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, kp_completion_fd(p), &ev) == 0);
    CHECK_EQ_INT(fd_ready(ep), 0);
    enum { N = 50 };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    for (int i = 0; i < N; i++) {
        kp_record_t r = rec_str(TOPIC "2", "k", "v");
        refs[i] = (slot_ref_t){&t, (size_t)i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    /* flush waits for the broker, not for the poller: nothing ran yet */
    CHECK_OK(kp_flush(p, 10000));
    CHECK_EQ_INT(atomic_load(&t.done), 0);
    CHECK(wait_until(flushed_and_ready, &ep, 5000));
    CHECK_EQ_INT(fd_ready(ep), 1); /* level-triggered: still */
    /* one key, one partition: the records are in one or a few batches; run
     * one, then the rest */
    int first = kp_poll(p, 1, 0);
    CHECK_EQ_INT(first, 1);
    while (kp_poll(p, 100, 0) > 0)
        ;
    CHECK_EQ_INT(atomic_load(&t.done), N);
    CHECK_EQ_INT(fd_ready(ep), 0);
    /* an empty poll with a timeout waits for it, then returns 0 */
    int64_t t0 = test_now_ms();
    CHECK_EQ_INT(kp_poll(p, 10, 30), 0);
    CHECK_GE_INT(test_now_ms() - t0, 25);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
    close(ep);
    kp_producer_destroy(p);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* The batch callback: one call per batch, every record with its opaque,
 * offsets that match the log. */
typedef struct batch_seen {
    pthread_mutex_t mu;
    int calls;
    int n;
    int64_t offset[4000];
    int32_t partition[4000];
    int seen[4000];
    int bad;
} batch_seen_t;

static void on_batch(const kp_batch_result_t *b, void *opaque) {
    batch_seen_t *s = opaque;
    pthread_mutex_lock(&s->mu);
    s->calls++;
    if (!b->topic || b->count < 1 || !b->records)
        s->bad++;
    for (int32_t i = 0; i < b->count; i++) {
        const kp_batch_record_t *r = &b->records[i];
        intptr_t idx = (intptr_t)r->opaque;
        if (idx < 0 || idx >= 4000 || r->err != b->err || r->offset_delta != i) {
            s->bad++;
            continue;
        }
        s->seen[idx]++;
        s->partition[idx] = b->partition;
        s->offset[idx] = b->err == KP_OK ? b->base_offset + r->offset_delta : -1;
        s->n++;
    }
    pthread_mutex_unlock(&s->mu);
}

static void batch_mode_run(const char *topic, int queue) {
    mockcluster_t *mc = mockcluster_start(3, topic, 4);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    static batch_seen_t s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    kp_producer_t *p = producer_with(boot, on_batch, &s, "completion.mode",
                                     queue ? "queue" : "callback", "value.serializer",
                                     "string", "linger.ms", "20", NULL);
    REQUIRE_NOT_NULL(p);
    enum { N = 4000 };
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "b-%d", i);
        kp_record_t r = rec_str(topic, NULL, v);
        CHECK_OK(kp_send(p, &r, NULL, (void *)(intptr_t)i));
    }
    CHECK_OK(kp_flush(p, 10000));
    if (queue) /* close hands back what is queued: run it after */
        CHECK_OK(kp_close(p, 10000));
    while (queue && kp_poll(p, 1000, 0) > 0)
        ;
    pthread_mutex_lock(&s.mu);
    CHECK_EQ_INT(s.n, N);
    CHECK_EQ_INT(s.bad, 0);
    CHECK_LT_INT(s.calls, N / 10); /* per batch, not per record */
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(s.seen[i], 1);
    pthread_mutex_unlock(&s.mu);
    kp_producer_destroy(p);
    rb_record_t *recs;
    size_t n;
    CHECK_EQ_INT(readback_topic(boot, topic, N, 20000, &recs, &n), RB_OK);
    CHECK_EQ_INT(n, N);
    for (size_t i = 0; i < n; i++) {
        int v;
        if (sscanf(recs[i].value, "b-%d", &v) == 1 && v >= 0 && v < N) {
            CHECK_EQ_INT(s.partition[v], recs[i].partition);
            CHECK_EQ_INT(s.offset[v], recs[i].offset);
        } else {
            FAIL("unexpected value %s", (char *)recs[i].value);
        }
    }
    readback_free(recs, n);
    pthread_mutex_destroy(&s.mu);
    mockcluster_destroy(mc);
}

static void test_batch_callback_io_thread(void) { batch_mode_run(TOPIC "3", 0); }
static void test_batch_callback_queued(void) { batch_mode_run(TOPIC "4", 1); }

/* Close hands back what is queued: kp_poll runs it after close, then
 * returns 0 at once; destroy runs what nobody polled. */
static void test_close_hands_back(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "5", 3);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    enum { N = 600 };
    tracker_t t;
    tracker_init(&t, N);
    static slot_ref_t refs[N];
    for (int round = 0; round < 2; round++) {
        atomic_store(&t.done, 0);
        for (int i = 0; i < N; i++)
            atomic_store(&t.d[i].calls, 0);
        kp_producer_t *p = producer_with(boot, NULL, NULL, "completion.mode", "queue", NULL);
        REQUIRE_NOT_NULL(p);
        for (int i = 0; i < N; i++) {
            kp_record_t r = rec_str(TOPIC "5", NULL, "x");
            refs[i] = (slot_ref_t){&t, (size_t)i};
            CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
        }
        CHECK_OK(kp_close(p, 10000));
        CHECK_EQ_INT(atomic_load(&t.done), 0); /* nothing ran on another thread */
        CHECK_EQ_ERR(kp_send(p, &(kp_record_t){.topic = TOPIC "5"}, NULL, NULL), KP_ERR_CLOSED);
        CHECK_EQ_ERR(kp_purge(p, KP_PURGE_QUEUED), KP_ERR_CLOSED);
        if (round == 0) {
            int total = 0, n;
            while ((n = kp_poll(p, 3, -1)) > 0) /* -1: returns once nothing is left */
                total += n;
            CHECK_GT_INT(total, 0);
            CHECK_EQ_INT(atomic_load(&t.done), N);
        }
        kp_producer_destroy(p); /* round 1: runs them here */
        CHECK_EQ_INT(atomic_load(&t.done), N);
        for (int i = 0; i < N; i++) {
            CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
            CHECK_EQ_INT(t.d[i].err, KP_OK);
        }
    }
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* 4 sending threads, 2 polling threads (TSan: the tsan_ variant). */
typedef struct sender_arg {
    kp_producer_t *p;
    slot_ref_t *refs;
    int from, n;
} sender_arg_t;

static void *send_thread(void *arg) {
    sender_arg_t *a = arg;
    for (int i = 0; i < a->n; i++) {
        kp_record_t r = rec_str(TOPIC "6", NULL, "t");
        if (kp_send(a->p, &r, tracker_cb, &a->refs[a->from + i]))
            FAIL("send %d failed", a->from + i);
    }
    return NULL;
}

typedef struct poll_arg {
    kp_producer_t *p;
    atomic_int *stop;
    long ran;
} poll_arg_t;

static void *poll_thread(void *arg) {
    poll_arg_t *a = arg;
    while (!atomic_load(a->stop)) {
        int n = kp_poll(a->p, 8, 20);
        if (n < 0)
            FAIL("kp_poll: %d", n);
        else
            a->ran += n;
    }
    return NULL;
}

static void test_four_senders_two_pollers(void) {
    mockcluster_t *mc = mockcluster_start(3, TOPIC "6", 6);
    REQUIRE_NOT_NULL(mc);
    const char *boot = mockcluster_bootstraps(mc);
    kp_producer_t *p = producer_with(boot, NULL, NULL, "completion.mode", "queue",
                                     "buffer.memory", "1000000", "batch.size", "4096", NULL);
    REQUIRE_NOT_NULL(p);
    enum { PER = 5000, N = 4 * PER };
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    for (int i = 0; i < N; i++)
        refs[i] = (slot_ref_t){&t, (size_t)i};
    atomic_int stop;
    atomic_init(&stop, 0);
    poll_arg_t pa[2] = {{p, &stop, 0}, {p, &stop, 0}};
    pthread_t pt[2], st[4];
    sender_arg_t sa[4];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&pt[i], NULL, poll_thread, &pa[i]) == 0);
    for (int i = 0; i < 4; i++) {
        sa[i] = (sender_arg_t){p, refs, i * PER, PER};
        REQUIRE(pthread_create(&st[i], NULL, send_thread, &sa[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(st[i], NULL);
    CHECK_OK(kp_flush(p, 30000));
    CHECK(tracker_wait(&t, 30000));
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(pt[i], NULL);
    CHECK_GT_INT(pa[0].ran + pa[1].ran, 0);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
    /* everything run: the queue's memory is back */
    CHECK_EQ_INT(kp_buffer_available(p), 1000000);
    kp_producer_destroy(p);
    free(refs);
    tracker_free(&t);
    mockcluster_destroy(mc);
}

/* The calls' arguments and the properties' checks. */
static void test_arguments(void) {
    CHECK_EQ_INT(kp_poll(NULL, 1, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_INT(kp_completion_fd(NULL), -1);
    CHECK_EQ_INT(kp_buffer_available(NULL), 0);
    CHECK_EQ_ERR(kp_purge(NULL, KP_PURGE_QUEUED), KP_ERR_INVALID_ARG);
    kp_config_set_batch_callback(NULL, NULL, NULL);
    kp_config_set_buffer_watermark_cb(NULL, NULL, NULL);
    char err[512];
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    CHECK_EQ_ERR(kp_config_set(c, "completion.mode", "polled", err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK(strstr(err, "completion.mode") != NULL);
    CHECK_EQ_ERR(kp_config_set(c, "buffer.memory.high.watermark.percent", "101", err,
                               sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_OK(kp_config_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)));
    CHECK_OK(kp_config_set(c, "buffer.memory.high.watermark.percent", "40", err, sizeof(err)));
    CHECK_OK(kp_config_set(c, "buffer.memory.low.watermark.percent", "40", err, sizeof(err)));
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    CHECK(p == NULL);
    CHECK(strstr(err, "buffer.memory.low.watermark.percent") != NULL);
    CHECK(strstr(err, "buffer.memory.high.watermark.percent") != NULL);
    CHECK_OK(kp_config_set(c, "buffer.memory.low.watermark.percent", "30", err, sizeof(err)));
    p = kp_producer_new(c, err, sizeof(err));
    REQUIRE_NOT_NULL(p);
    /* callback mode: no queue, no fd */
    CHECK_EQ_INT(kp_poll(p, 1, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_INT(kp_completion_fd(p), -1);
    CHECK_EQ_INT(kp_buffer_available(p), 33554432);
    CHECK_EQ_ERR(kp_purge(p, 0), KP_ERR_INVALID_ARG);
    CHECK_OK(kp_purge(p, KP_PURGE_QUEUED | KP_PURGE_IN_FLIGHT)); /* nothing to purge */
    kp_producer_destroy(p);
    CHECK_OK(kp_config_set(c, "completion.mode", "queue", err, sizeof(err)));
    p = kp_producer_new(c, err, sizeof(err));
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_INT(kp_poll(p, 0, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_INT(kp_poll(p, 1, 0), 0);
    kp_producer_destroy(p);
    kp_config_destroy(c);
}

TEST_MAIN(TEST(test_arguments), TEST(test_queue_epoll_end_to_end), TEST(test_fd_readiness),
          TEST(test_batch_callback_io_thread), TEST(test_batch_callback_queued),
          TEST(test_close_hands_back), TEST(test_four_senders_two_pollers))

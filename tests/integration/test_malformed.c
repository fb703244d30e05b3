/*
 * Malformed responses: a fake broker in this process (tests/support/
 * fakebroker.h: one thread, a listening socket on 127.0.0.1, an ephemeral
 * port) speaks just enough Kafka — ApiVersions v0-2, Metadata v1-2,
 * InitProducerId v0-1, Produce v3-7, all non-flexible — and, on a per-test
 * schedule, corrupts chosen responses: a truncated body, a frame that stalls
 * half-way, frame sizes of 0 / -5 / 100 MiB + 1 / 200 MiB, garbage bytes, a
 * wrong correlation id, an array count of 2^31-1, a string longer than the
 * frame, the connection closed in the middle of a frame, a response to a
 * request never made.
 *
 * kprod must not crash (the ASan+UBSan and TSan builds run this too), must
 * drop the connection (and say so in its log), retry, and complete every
 * record exactly once: with success, at the offset the broker gave it, once
 * the broker answers properly again; with a delivery timeout when it never
 * does. The fake broker keeps an idempotent log (duplicates of the last
 * five batches answered with their first offset, as Kafka does; producer
 * ids 1000, 1001, ... epoch 0), so the tests also see that no record was
 * written twice or lost.
 *
 * Besides: random bytes that decode as an InitProducerId answer with an
 * unknown error code (fatal, as in the Java client), and well-formed but
 * impossible Metadata (partition index 2^31-1; a topic with no partition),
 * the latter in child processes so that a crash is one failed check.
 *
 * MALFORMED_VERBOSE=1 prints kprod's log.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "fakebroker.h"

#define TOPIC "t"
#define CLIENT_ID "malformed-test"
#define GARBAGE_SEED 1 /* test_fill_random's state for the broker's garbage bytes */

/* A fake broker for this test's producers; a failure to start is a failed
 * check (the reason is on stderr). */
static fake_broker_t *broker_start(void) {
    const fb_options_t o = {.client_id = CLIENT_ID,
                            .topic = TOPIC,
                            .fill_random = test_fill_random,
                            .seed = GARBAGE_SEED};
    fake_broker_t *fb = fb_start(&o);
    if (!fb)
        FAIL("the fake broker did not start");
    return fb;
}

static void broker_stop(fake_broker_t *fb) {
    if (fb_stop(fb) != 0)
        FAIL("fake broker wake-up: %s", strerror(errno));
}

/* ---------------------------------------------------------------- the producer side */

/* What kprod logged. */
typedef struct logcap {
    atomic_int lines;
    atomic_int disconnects;
} logcap_t;

static void log_cb(int level, const char *msg, void *opaque) {
    logcap_t *lc = opaque;
    atomic_fetch_add(&lc->lines, 1);
    if (strstr(msg, "disconnected"))
        atomic_fetch_add(&lc->disconnects, 1);
    if (getenv("MALFORMED_VERBOSE"))
        fprintf(stderr, "  %lld kprod[%d] %s\n", (long long)(test_now_ms() % 100000), level, msg);
}

/* A producer for the fake broker, logging into lc (counts from zero);
 * `extra` (NULL-terminated pairs) adds or overrides properties. */
static kp_producer_t *producer_with(const fake_broker_t *fb, logcap_t *lc, const char *dto,
                                    const char *const *extra) {
    char err[512];
    atomic_init(&lc->lines, 0);
    atomic_init(&lc->disconnects, 0);
    const char *props[][2] = {
        {"bootstrap.servers", fb_bootstrap(fb)},
        {"client.id", CLIENT_ID},
        {"linger.ms", "0"},
        {"delivery.timeout.ms", dto},
        {"request.timeout.ms", "500"},
        {"max.block.ms", "10000"},
        {"retry.backoff.ms", "10"},
        {"retry.backoff.max.ms", "50"},
        {"reconnect.backoff.ms", "10"},
        {"reconnect.backoff.max.ms", "50"},
        {"socket.connection.setup.timeout.ms", "1000"},
    };
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (kp_config_set(c, props[i][0], props[i][1], err, sizeof(err))) {
            FAIL("config %s=%s: %s", props[i][0], props[i][1], err);
            kp_config_destroy(c);
            return NULL;
        }
    for (; extra && extra[0]; extra += 2)
        if (kp_config_set(c, extra[0], extra[1], err, sizeof(err))) {
            FAIL("config %s=%s: %s", extra[0], extra[1], err);
            kp_config_destroy(c);
            return NULL;
        }
    kp_config_set_log(c, log_cb, lc);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    kp_config_destroy(c);
    return p;
}

static kp_producer_t *producer_for(const fake_broker_t *fb, logcap_t *lc, const char *dto) {
    return producer_with(fb, lc, dto, NULL);
}

static kp_err_t send_value(kp_producer_t *p, const char *prefix, size_t i, slot_ref_t *ref) {
    char v[48];
    snprintf(v, sizeof(v), "%s-%06zu", prefix, i);
    kp_record_t r = {0};
    r.topic = TOPIC;
    r.partition = KP_PARTITION_ANY;
    r.value = v;
    r.value_len = (int32_t)strlen(v);
    return kp_send(p, &r, tracker_cb, ref);
}

/* Records prefix-000000 .. prefix-(n-1), each tracked in refs[i] (a send
 * kp_send refuses never calls back: it counts as done). */
static void send_values(kp_producer_t *p, tracker_t *t, slot_ref_t *refs, size_t n,
                        const char *prefix) {
    for (size_t i = 0; i < n; i++) {
        refs[i] = (slot_ref_t){t, i};
        if (!CHECK_OK(send_value(p, prefix, i, &refs[i])))
            atomic_fetch_add(&t->done, 1);
    }
}

/* ---------------------------------------------------------------- recovery */

typedef struct drops_arg {
    logcap_t *lc;
    fake_broker_t *fb;
    int want;
} drops_arg_t;

static int drops_logged(void *arg) {
    drops_arg_t *d = arg;
    return atomic_load(&d->lc->disconnects) >= d->want;
}

static int dup_conns_closed(void *arg) {
    drops_arg_t *d = arg;
    return fb_stats(d->fb).dup_closed >= d->want;
}

/* `count` responses of `api` corrupted with `f`, then correct answers: N
 * records sent with callbacks all succeed, once each, at offsets 0..N-1,
 * and the broker's log holds exactly N records. */
static void run_recovery(fb_fault_t f, int api, int count) {
    enum { N = 20 };
    const char *an = fb_api_name(api), *fn = fb_fault_name(f);
    int64_t t0 = test_now_ms();
    fake_broker_t *fb = broker_start();
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, f, api, 0, count);
    logcap_t lc;
    kp_producer_t *p = producer_for(fb, &lc, "10000");
    if (!p) {
        broker_stop(fb);
        return;
    }
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    send_values(p, &t, refs, N, "rec");
    if (!tracker_wait(&t, 15000))
        FAIL("%s/%s: %ld of %d records completed", an, fn, atomic_load(&t.done), N);
    int64_t took = test_now_ms() - t0;
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (size_t i = 0; i < N; i++) {
        if (atomic_load(&t.d[i].calls) != 1 || t.d[i].err != KP_OK || t.d[i].offset != (int64_t)i ||
            t.d[i].partition != 0) {
            FAIL("%s/%s: record %zu: %d calls, %s, partition %d, offset %lld (expected %zu)", an,
                 fn, i, atomic_load(&t.d[i].calls), kp_err_name(t.d[i].err), t.d[i].partition,
                 (long long)t.d[i].offset, i);
            break;
        }
        CHECK_EQ_INT(t.d[i].persisted, KP_PERSISTED);
    }
    int injected = fb_stats(fb).injected;
    /* Every scheduled fault happened: kprod asked again each time. (A
     * duplicate after the real answer makes nobody ask again.) */
    if (f == FB_F_AFTER_ANSWER ? injected < 1 || injected > count : injected != count)
        FAIL("%s/%s: injected %d of %d faults", an, fn, injected, count);
    /* Each connection that got a fault was dropped, and kprod said so.
     * (Random bytes may happen to decode, and odd partitions are
     * well-formed: those need not drop it. Two faulty answers on one
     * connection cost it once: a request written before kprod read the
     * first may get the second.) A duplicate answer comes when nothing
     * waits for one: kprod closes that connection when it reads it (and logs it) or
     * when it retires it unread (a bootstrap connection: silently) — it
     * must not keep it. */
    drops_arg_t da = {&lc, fb, fb_stats(fb).faulted_conns};
    if (f == FB_F_AFTER_ANSWER) {
        if (!wait_until(dup_conns_closed, &da, 5000))
            FAIL("%s/%s: %d connections got a duplicate answer, %d closed", an, fn, da.want,
                 fb_stats(fb).dup_closed);
    } else if (f != FB_F_GARBAGE && f != FB_F_PARTITION_HUGE && f != FB_F_NO_PARTITIONS) {
        if (!wait_until(drops_logged, &da, 5000))
            FAIL("%s/%s: %d faults on %d connections but %d logged disconnections", an, fn,
                 injected, da.want, atomic_load(&lc.disconnects));
    }
    /* A stalled frame costs one request.timeout.ms (500 ms), then the
     * reconnect waits reconnect.backoff.ms (10-50 ms), not more. */
    if (f == FB_F_STALLED && took > 500 + 600)
        FAIL("%s/%s: a %d ms request timeout took %lld ms to recover from", an, fn, 500,
             (long long)took);
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    CHECK_EQ_INT(fb_log_end(fb), N); /* nothing written twice, nothing lost */
    CHECK_EQ_INT(fb_stats(fb).out_of_order, 0);
    CHECK_EQ_INT(fb_stats(fb).bad_requests, 0);
    printf("  %-14s %-16s %d faults, %d disconnections, %d connections, %d resends seen, "
           "done in %lld ms\n",
           an, fn, injected, atomic_load(&lc.disconnects), fb_stats(fb).accepted,
           fb_stats(fb).duplicates, (long long)took);
    tracker_free(&t);
    broker_stop(fb);
}

static void run_all_faults(int api) {
    for (int f = FB_F_NONE + 1; f < FB_F_COUNT; f++) {
        if (!fb_fault_applies((fb_fault_t)f, api))
            continue;
        /* random bytes in an InitProducerId body decode to a well-formed
         * answer with an unknown error code: see test_initpid_garbage_fatal */
        if (api == FB_API_INITPID && f == FB_F_GARBAGE)
            continue;
        if (f == FB_F_PARTITION_HUGE || f == FB_F_NO_PARTITIONS) /* test_metadata_odd_partitions */
            continue;
        /* a stall costs request.timeout.ms: one is enough */
        run_recovery((fb_fault_t)f, api, f == FB_F_STALLED ? 1 : 2);
    }
}

/* The handshake: ApiVersions answered wrong twice on a fresh connection. */
static void test_apiversions_faults(void) { run_all_faults(FB_API_APIVERSIONS); }

/* Metadata answered wrong: kp_send() waits, then carries on. */
static void test_metadata_faults(void) { run_all_faults(FB_API_METADATA); }

/* InitProducerId answered wrong: the producer id comes on a later try. */
static void test_initpid_faults(void) { run_all_faults(FB_API_INITPID); }

/* Produce answered wrong after the broker appended the batch: the resend is
 * recognised as a duplicate, each record is acknowledged once, in order. */
static void test_produce_faults(void) { run_all_faults(FB_API_PRODUCE); }

/* InitProducerId answered with a random body: its 16 leading bytes decode
 * as a well-formed v1 response (trailing bytes are ignored, as they must
 * be) whose error code is no Kafka error: UNKNOWN_SERVER_ERROR to the Java
 * client, not retriable, so the producer stops. README: "Only a broker
 * refusing idempotent writes at all ... stops the producer: then every
 * record fails with that error." — the records already accepted included,
 * and at once, not after delivery.timeout.ms. */
static void test_initpid_garbage_fatal(void) {
    enum { N = 5 };
    fake_broker_t *fb = broker_start();
    REQUIRE_NOT_NULL(fb);
    fb_set_fault(fb, FB_F_GARBAGE, FB_API_INITPID, 0, 1);
    logcap_t lc;
    kp_producer_t *p = producer_for(fb, &lc, "2000");
    if (!p) {
        broker_stop(fb);
        return;
    }
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t refs[N];
    kp_err_t sent[N];
    int64_t t0 = test_now_ms();
    for (size_t i = 0; i < N; i++) {
        refs[i] = (slot_ref_t){&t, i};
        sent[i] = send_value(p, "fatal", i, &refs[i]);
        if (sent[i] != KP_OK)
            atomic_fetch_add(&t.done, 1); /* refused at once: no callback */
    }
    CHECK(tracker_wait(&t, 2000 + 3000));
    /* the error the garbage carries: correlation id, throttle, error code */
    uint8_t garbage[16] = {0};
    fb_last_garbage(fb, garbage, sizeof(garbage));
    int16_t code = (int16_t)(uint16_t)(garbage[8] << 8 | garbage[9]);
    CHECK_EQ_INT(fb_stats(fb).injected, 1);
    CHECK(code != 0 && !kp_err_is_retriable((kp_err_t)code) && code != 14 && code != 15 &&
          code != 16); /* what GARBAGE_SEED yields (3784); else the test proves nothing */
    int late = 0;
    for (size_t i = 0; i < N; i++) {
        if (sent[i] != KP_OK) {
            CHECK_EQ_ERR(sent[i], code);
            continue;
        }
        CHECK_EQ_INT(atomic_load(&t.d[i].calls), 1);
        if (t.d[i].err != code)
            FAIL("record %zu accepted before the fatal InitProducerId answer: %s (%d) after "
                 "%lld ms, expected the fatal error %d at once",
                 i, kp_err_name(t.d[i].err), t.d[i].err, (long long)(t.d[i].when_ms - t0), code);
        if (t.d[i].when_ms - t0 >= 2000)
            late++;
        CHECK_EQ_INT(t.d[i].persisted, KP_NOT_PERSISTED);
    }
    CHECK_EQ_INT(late, 0); /* not held until delivery.timeout.ms */
    kp_record_t r = {.topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "x", .value_len = 1};
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), code); /* later sends refused with it */
    CHECK_EQ_INT(fb_log_end(fb), 0);
    kp_close(p, 5000);
    kp_producer_destroy(p);
    tracker_free(&t);
    broker_stop(fb);
}

/* Faults on whatever response comes, several in a row, skipping a few
 * correct answers first so they land mid-stream. */
static void test_any_response_faults(void) {
    static const fb_fault_t fs[] = {FB_F_TRUNCATED,       FB_F_WRONG_CORRID, FB_F_GARBAGE_FRAME,
                                    FB_F_CLOSE_MID_FRAME, FB_F_UNSOLICITED,  FB_F_SIZE_HUGE};
    for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
        enum { N = 20 };
        fake_broker_t *fb = broker_start();
        REQUIRE_NOT_NULL(fb);
        fb_set_fault(fb, fs[i], FB_API_ANY, 3, 4);
        logcap_t lc;
        kp_producer_t *p = producer_for(fb, &lc, "10000");
        if (!p) {
            broker_stop(fb);
            return;
        }
        tracker_t t;
        tracker_init(&t, N);
        slot_ref_t refs[N];
        send_values(p, &t, refs, N, "any");
        CHECK(tracker_wait(&t, 15000));
        CHECK_EQ_INT(atomic_load(&t.failed), 0);
        for (size_t k = 0; k < N; k++) {
            CHECK_EQ_INT(atomic_load(&t.d[k].calls), 1);
            CHECK_EQ_INT(t.d[k].offset, (int64_t)k);
        }
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(fb_stats(fb).injected, 4);
        /* every connection that got a fault was dropped (two faulty answers
         * in flight on one connection cost it once) */
        CHECK_GE_INT(fb_stats(fb).faulted_conns, 1);
        CHECK_GE_INT(atomic_load(&lc.disconnects), fb_stats(fb).faulted_conns);
        CHECK_EQ_INT(fb_log_end(fb), N);
        CHECK_EQ_INT(fb_stats(fb).out_of_order, 0);
        CHECK_EQ_INT(fb_stats(fb).bad_requests, 0);
        tracker_free(&t);
        broker_stop(fb);
    }
}

/* ---------------------------------------------------------------- never recovering */

#define FOREVER_DTO 2000
#define FOREVER_RTO 500

typedef struct forever_case {
    fb_fault_t f;
    fake_broker_t *fb;
    kp_producer_t *p;
    logcap_t lc;
    tracker_t t;
    slot_ref_t refs[10];
    int64_t t0;
    int64_t appended_before;
} forever_case_t;

/* Every Produce answered wrong past delivery.timeout.ms: each record
 * completes once, with a timeout error, within delivery.timeout.ms plus a
 * request timeout; records the broker did write are reported "possibly
 * persisted", never "not persisted". Then the broker mends and the same
 * producer delivers again. All fault kinds run side by side (one broker and
 * one producer each), so the whole takes one delivery timeout. */
static void test_faults_forever_time_out(void) {
    enum { N = 10 };
    static const fb_fault_t fs[] = {
        FB_F_TRUNCATED,      FB_F_STALLED,    FB_F_SIZE_ZERO,   FB_F_SIZE_NEGATIVE,
        FB_F_SIZE_OVER_MAX,  FB_F_SIZE_HUGE,  FB_F_GARBAGE,     FB_F_GARBAGE_FRAME,
        FB_F_WRONG_CORRID,   FB_F_ARRAY_HUGE, FB_F_STRING_HUGE, FB_F_CLOSE_MID_FRAME,
        FB_F_CLOSE_MID_SIZE, FB_F_UNSOLICITED,
    };
    enum { NC = sizeof(fs) / sizeof(fs[0]) };
    forever_case_t *cs = calloc(NC, sizeof(*cs));
    REQUIRE_NOT_NULL(cs);
    char dto[16];
    snprintf(dto, sizeof(dto), "%d", FOREVER_DTO);
    int ok = 1;
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        c->f = fs[i];
        c->fb = broker_start();
        c->p = c->fb ? producer_for(c->fb, &c->lc, dto) : NULL;
        ok = c->p != NULL;
        if (!ok)
            break;
        /* warm up: metadata and a producer id known, one record written */
        kp_record_t r = {
            .topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "warm-up", .value_len = 7};
        ok = CHECK_OK(kp_send_sync(c->p, &r, 10000, NULL));
    }
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        fb_set_fault(c->fb, c->f, FB_API_PRODUCE, 0, FB_FOREVER);
        c->appended_before = fb_log_end(c->fb);
        tracker_init(&c->t, N);
        c->t0 = test_now_ms();
        send_values(c->p, &c->t, c->refs, N, "lost");
    }
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        const char *fn = fb_fault_name(c->f);
        if (!tracker_wait(&c->t, FOREVER_DTO + FOREVER_RTO + 10000))
            FAIL("%s: %ld of %d records completed", fn, atomic_load(&c->t.done), N);
        CHECK_EQ_INT(atomic_load(&c->t.failed), N);
        int64_t written = fb_log_end(c->fb) - c->appended_before;
        int in_flight = 0, queued = 0, max_ms = 0;
        int64_t first_failed = INT64_MAX;
        for (size_t k = 0; k < N; k++) {
            delivery_t *d = &c->t.d[k];
            int64_t took = d->when_ms - c->t0;
            if (took > max_ms)
                max_ms = (int)took;
            if (d->when_ms < first_failed)
                first_failed = d->when_ms;
            if (atomic_load(&d->calls) != 1 || (d->err != KP_ERR_MSG_TIMED_OUT_IN_FLIGHT &&
                                                d->err != KP_ERR_MSG_TIMED_OUT_QUEUE)) {
                FAIL("%s: record %zu: %d calls, %s", fn, k, atomic_load(&d->calls),
                     kp_err_name(d->err));
                continue;
            }
            if (d->err == KP_ERR_MSG_TIMED_OUT_IN_FLIGHT) {
                in_flight++;
                CHECK_EQ_INT(d->persisted, KP_POSSIBLY_PERSISTED);
            } else {
                queued++;
                CHECK_EQ_INT(d->persisted, KP_NOT_PERSISTED);
                /* "not persisted" promises the broker never wrote it (the
                 * records after it may have been: a batch that failed for
                 * good leaves a gap, and the next go under a new producer
                 * id) */
                char v[48];
                snprintf(v, sizeof(v), "lost-%06zu", k);
                if (fb_wrote(c->fb, v))
                    FAIL("%s: record %zu reported not persisted, but the broker wrote it", fn, k);
            }
            CHECK_EQ_INT(d->offset, -1);
            CHECK_GE_INT(took, FOREVER_DTO - 5);
            CHECK_LE_INT(took, FOREVER_DTO + FOREVER_RTO + 750);
        }
        CHECK_GE_INT(fb_stats(c->fb).injected, 1);
        if (c->f != FB_F_GARBAGE)
            CHECK_GE_INT(atomic_load(&c->lc.disconnects), 1);
        /* Nothing is sent out of order while every record is still being
         * retried. Once a batch has failed for good (its records' delivery
         * timeout), its sequence number is a gap, and a batch behind it
         * that may have been written before must be sent under its old
         * sequence to find out: the broker's OUT_OF_ORDER_SEQUENCE_NUMBER
         * says it was not (a duplicate would have been recognised). */
        fb_stats_t st = fb_stats(c->fb);
        if (st.out_of_order && st.first_ooo_ms < first_failed)
            FAIL("%s: out of order %lld ms before the first record failed: %s", fn,
                 (long long)(first_failed - st.first_ooo_ms), st.first_ooo);
        CHECK_EQ_INT(fb_stats(c->fb).bad_requests, 0);
        printf("  Produce        %-15s %d faults, %d disconnections, %d in flight / %d queued "
               "timed out, %lld written, last after %d ms\n",
               fn, fb_stats(c->fb).injected, atomic_load(&c->lc.disconnects), in_flight,
               queued, (long long)written, max_ms);
    }
    /* the broker mends: the same producer delivers again */
    for (int i = 0; i < NC && ok; i++) {
        forever_case_t *c = &cs[i];
        fb_set_fault(c->fb, FB_F_NONE, FB_API_ANY, 0, 0);
        kp_record_t r = {
            .topic = TOPIC, .partition = KP_PARTITION_ANY, .value = "after", .value_len = 5};
        kp_record_metadata_t md;
        int64_t end = fb_log_end(c->fb);
        if (CHECK_OK(kp_send_sync(c->p, &r, 10000, &md))) {
            CHECK_EQ_INT(md.offset, end);
            CHECK_EQ_INT(md.persisted, KP_PERSISTED);
        }
        CHECK_EQ_INT(fb_log_end(c->fb), end + 1);
    }
    for (int i = 0; i < NC; i++) {
        forever_case_t *c = &cs[i];
        if (c->p) {
            CHECK_OK(kp_close(c->p, 10000));
            kp_producer_destroy(c->p);
        }
        if (c->t.d)
            tracker_free(&c->t);
        broker_stop(c->fb);
    }
    free(cs);
}

/* ---------------------------------------------------------------- growth */

typedef struct growth {
    kp_producer_t *p;
} growth_t;

static int has_three(void *arg) { return test_partitions(((growth_t *)arg)->p, TOPIC) == 3; }

/* A topic that grows (partitions added on the broker) is picked up by the
 * periodic metadata refresh (metadata.max.age.ms). */
static void test_partition_growth_picked_up(void) {
    fake_broker_t *fb = broker_start();
    REQUIRE_NOT_NULL(fb);
    char err[512];
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", fb_bootstrap(fb), err, sizeof(err));
    kp_config_set(c, "client.id", CLIENT_ID, err, sizeof(err));
    kp_config_set(c, "metadata.max.age.ms", "100", err, sizeof(err));
    growth_t g = {kp_producer_new(c, err, sizeof(err))};
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(g.p);
    CHECK_EQ_INT(test_partitions(g.p, TOPIC), 1);
    kp_record_t r = {.topic = TOPIC, .partition = 2, .value = "x", .value_len = 1};
    fb_set_partitions(fb, 3);
    CHECK(wait_until(has_three, &g, 5000));
    /* an explicit partition of the grown topic is accepted now (its
     * delivery is not this test's business: the fake keeps only t-0) */
    kp_future_t *f = NULL;
    CHECK_OK(kp_send_future(g.p, &r, NULL, NULL, &f));
    kp_future_destroy(f);
    CHECK_EQ_ERR(kp_close(g.p, 0), KP_ERR_TIMED_OUT);
    kp_producer_destroy(g.p);
    broker_stop(fb);
}

/* Many partitions failing with a metadata error cause one metadata refresh
 * at a time, at most one per retry.backoff.ms (single-flight, coalesced),
 * not one per failing partition. */
static void test_metadata_refresh_coalesced(void) {
    fake_broker_t *fb = broker_start();
    REQUIRE_NOT_NULL(fb);
    fb_set_partitions(fb, 8); /* partitions 1..7 answer UNKNOWN_TOPIC_OR_PARTITION */
    char err[512];
    kp_config_t *c = kp_config_new();
    kp_config_set(c, "bootstrap.servers", fb_bootstrap(fb), err, sizeof(err));
    kp_config_set(c, "client.id", CLIENT_ID, err, sizeof(err));
    kp_config_set(c, "linger.ms", "0", err, sizeof(err));
    kp_config_set(c, "request.timeout.ms", "500", err, sizeof(err));
    kp_config_set(c, "delivery.timeout.ms", "2000", err, sizeof(err));
    kp_config_set(c, "retry.backoff.ms", "100", err, sizeof(err));
    kp_config_set(c, "retry.backoff.max.ms", "100", err, sizeof(err));
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    kp_config_destroy(c);
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_INT(test_partitions(p, TOPIC), 8);
    int md0 = fb_stats(fb).requests[FB_API_METADATA];
    tracker_t t;
    tracker_init(&t, 7);
    slot_ref_t refs[7];
    int64_t t0 = test_now_ms();
    for (int part = 1; part <= 7; part++) {
        kp_record_t r = {.topic = TOPIC, .partition = part, .value = "x", .value_len = 1};
        refs[part - 1] = (slot_ref_t){&t, (size_t)part - 1};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[part - 1]));
    }
    CHECK(tracker_wait(&t, 10000)); /* they fail at delivery.timeout.ms */
    int64_t elapsed = test_now_ms() - t0;
    int md = fb_stats(fb).requests[FB_API_METADATA] - md0;
    int errors = fb_stats(fb).unknown_partitions;
    printf("%d partition errors answered in %lld ms, %d metadata requests\n", errors,
           (long long)elapsed, md);
    CHECK_GT_INT(errors, 50);
    CHECK_LE_INT(md, elapsed / 100 + 2); /* at most one per retry.backoff.ms */
    CHECK_LT_INT(md * 2, errors);
    kp_producer_destroy(p);
    tracker_free(&t);
    broker_stop(fb);
}

/* ---------------------------------------------------------------- odd partitions */

typedef struct child {
    pid_t pid;
    int status;
} child_t;

static int child_exited(void *arg) {
    child_t *c = arg;
    return waitpid(c->pid, &c->status, WNOHANG) == c->pid;
}

/* Run fn in a child process, so that a crash fails this test and not the
 * whole program. Only with no other thread running: every producer and
 * fake broker of the tests before is gone. */
static void run_isolated(const char *what, void (*fn)(void)) {
    fflush(stdout);
    fflush(stderr);
    child_t c = {fork(), 0};
    if (c.pid < 0) {
        FAIL("fork: %s", strerror(errno));
        return;
    }
    if (c.pid == 0) {
        atomic_store(&test_failures_, 0);
        fn();
        fflush(stdout);
        fflush(stderr);
        exit(atomic_load(&test_failures_) ? 1 : 0);
    }
    if (!wait_until(child_exited, &c, 60000)) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &c.status, 0);
        FAIL("%s: still running after 60 s: killed", what);
    } else if (WIFSIGNALED(c.status)) {
        FAIL("%s: the process died of signal %d (%s)", what, WTERMSIG(c.status),
             strsignal(WTERMSIG(c.status)));
    } else if (WEXITSTATUS(c.status) != 0) {
        FAIL("%s: failed (exit status %d; a sanitizer report exits 1 too)", what,
             WEXITSTATUS(c.status));
    }
}

static void partition_index_max(void) { run_recovery(FB_F_PARTITION_HUGE, FB_API_METADATA, 2); }
static void no_partitions(void) { run_recovery(FB_F_NO_PARTITIONS, FB_API_METADATA, 2); }

/* Well-formed Metadata answers a broker never gives, twice, then the truth:
 * a partition index of 2^31-1 must cause no signed overflow (UBSan aborts
 * on one) and no attempt to grow the topic to 2^31 partitions; a topic
 * without error but without a partition must not count as known with zero
 * partitions (the partitioner would divide by it). kprod ignores what it
 * cannot use and delivers once the real partition is known. Each runs in a
 * child process, so that a crash is one failed check. */
static void test_metadata_odd_partitions(void) {
    run_isolated("Metadata/partition-2^31-1", partition_index_max);
    run_isolated("Metadata/no-partitions", no_partitions);
}

/* ---------------------------------------------------------------- SIGPIPE */

/* A broker closing a connection while kprod writes must cost kprod an
 * error, not raise SIGPIPE in the application (whose default action is to
 * die). The fake broker writes with MSG_NOSIGNAL, so any SIGPIPE here is
 * kprod's: counted for the whole run (instead of killing it) and checked
 * by the last test. It takes a close landing between kprod's last read
 * and its next write on that connection, so it is a matter of chance: a
 * fresh-clone CI run once died of it (in about six runs of this program)
 * before kprod wrote with MSG_NOSIGNAL. */
static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

__attribute__((constructor)) static void count_sigpipes(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigpipe;
    sigaction(SIGPIPE, &sa, NULL);
}

static void test_no_sigpipe(void) { CHECK_EQ_INT(sigpipes, 0); }

/* ---------------------------------------------------------------- in flight */

/* Send N records, batches of a few records, up to 5 in flight; the fake
 * broker's schedule is already set. Checks that every record was
 * acknowledged once, at the offset equal to its send order, and the log is
 * exactly N long. */
static void run_inflight(fake_broker_t *fb, const char *what) {
    enum { N = 3000 };
    static const char *const extra[] = {"batch.size", "200", "max.in.flight.requests.per.connection",
                                        "5", NULL};
    logcap_t lc;
    kp_producer_t *p = producer_with(fb, &lc, "20000", extra);
    if (!p)
        return;
    tracker_t t;
    tracker_init(&t, N);
    slot_ref_t *refs = calloc(N, sizeof(*refs));
    REQUIRE_NOT_NULL(refs);
    send_values(p, &t, refs, N, "rec");
    if (!tracker_wait(&t, 20000))
        FAIL("%s: %ld of %d records completed", what, atomic_load(&t.done), N);
    CHECK_EQ_INT(atomic_load(&t.failed), 0);
    for (size_t i = 0; i < N; i++)
        if (atomic_load(&t.d[i].calls) != 1 || t.d[i].err != KP_OK ||
            t.d[i].offset != (int64_t)i) {
            FAIL("%s: record %zu: %d calls, %s, offset %lld", what, i,
                 atomic_load(&t.d[i].calls), kp_err_name(t.d[i].err), (long long)t.d[i].offset);
            break;
        }
    CHECK_OK(kp_close(p, 10000));
    kp_producer_destroy(p);
    CHECK_EQ_INT(fb_log_end(fb), N);
    printf("  %-44s %d refused as out of order, %d resends recognised, %d disconnections, log "
           "%lld records in order\n",
           what, fb_stats(fb).out_of_order, fb_stats(fb).duplicates,
           atomic_load(&lc.disconnects), (long long)fb_log_end(fb));
    free(refs);
    tracker_free(&t);
}

/* Several batches of one partition in flight, and the broker fails some
 * with NOT_LEADER_OR_FOLLOWER: it then refuses the batches behind each
 * failed one with OUT_OF_ORDER_SEQUENCE_NUMBER (their sequence leaves a
 * gap), as Kafka does. kprod must resend them all, in their first order,
 * under their sequence numbers. */
static void test_inflight_retries_keep_order(void) {
    static const struct {
        int skip, count;
    } plans[] = {{20, 1}, {40, 3}, {60, 10}};
    int refused = 0;
    for (size_t pl = 0; pl < sizeof(plans) / sizeof(plans[0]); pl++) {
        fake_broker_t *fb = broker_start();
        REQUIRE_NOT_NULL(fb);
        fb_set_produce_error(fb, 6 /* NOT_LEADER_OR_FOLLOWER */, plans[pl].skip,
                             plans[pl].count);
        char what[64];
        snprintf(what, sizeof(what), "%d NOT_LEADER_OR_FOLLOWER after %d batches",
                 plans[pl].count, plans[pl].skip);
        run_inflight(fb, what);
        CHECK_EQ_INT(fb_stats(fb).errors_injected, plans[pl].count);
        refused += fb_stats(fb).out_of_order;
        broker_stop(fb);
    }
    /* batches were in flight behind the failed ones: the broker refused
     * them, and kprod sent them again (in order, once: run_inflight) */
    CHECK(refused > 0);
}

/* Several batches in flight and the answer to one is lost (the connection
 * breaks in the middle of it, or it is garbage): the broker may have
 * written that batch and the ones behind it. kprod resends them all under
 * their sequences; the broker recognises what it has (its last five
 * batches, Kafka's window, which is why five is the most in flight) and
 * answers with the first offsets: each record once, in order. */
static void test_inflight_lost_answers(void) {
    static const fb_fault_t faults[] = {FB_F_CLOSE_MID_FRAME, FB_F_GARBAGE_FRAME, FB_F_TRUNCATED};
    int resends = 0;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        fake_broker_t *fb = broker_start();
        REQUIRE_NOT_NULL(fb);
        fb_set_fault(fb, faults[i], FB_API_PRODUCE, 30, 2);
        char what[64];
        snprintf(what, sizeof(what), "2 Produce answers lost (%s)", fb_fault_name(faults[i]));
        run_inflight(fb, what);
        CHECK_EQ_INT(fb_stats(fb).injected, 2);
        resends += fb_stats(fb).duplicates;
        broker_stop(fb);
    }
    /* batches written but not acknowledged were sent again, recognised */
    CHECK(resends > 0);
}

TEST_MAIN(TEST(test_apiversions_faults), TEST(test_metadata_faults), TEST(test_initpid_faults),
          TEST(test_initpid_garbage_fatal), TEST(test_produce_faults),
          TEST(test_any_response_faults), TEST(test_faults_forever_time_out),
          TEST(test_metadata_odd_partitions), TEST(test_partition_growth_picked_up),
          TEST(test_metadata_refresh_coalesced), TEST(test_inflight_retries_keep_order),
          TEST(test_inflight_lost_answers), TEST(test_no_sigpipe))

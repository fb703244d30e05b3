/*
 * The hostile probe's cluster defects of issue 10, each reproduced against a
 * real peer and kept fixed:
 *
 *   13  a topic the broker refuses (TOPIC_AUTHORIZATION_FAILED,
 *       INVALID_TOPIC_EXCEPTION in Metadata) fails kp_send at once with the
 *       broker's error, is warned about once and asked for again only with
 *       backoff; kp_partitions_for says so as its error, not a count; names
 *       Kafka refuses never reach the cluster; a client.id too long for its
 *       int16 length fails creation (defect 3's guard);
 *   14  an unreachable cluster (refused, silent, garbage-speaking, echoing,
 *       unresolvable) is named at WARN with its cause, rate-limited, and a
 *       send says KP_ERR_CLUSTER_UNREACHABLE;
 *   11  closing an unused producer, also with InitProducerId in flight, is
 *       silent at WARN;
 *    7  connections.max.idle.ms closes idle connections; metadata.max.idle.ms
 *       drops topics nobody produces to from full metadata refreshes;
 *   15  300 new topics one after another: each first send asks for its topic
 *       alone (KIP-526), with no full refresh per topic.
 *
 * The peer is librdkafka's mock cluster, except in the defect 14 tests,
 * where the behaviour under test is a peer that is not a Kafka broker at all
 * (nothing listening, a listener that never answers, one that speaks
 * garbage or echoes): those are small local sockets made here.
 *
 * The library's log is observed through kp_config_set_log (every level,
 * debug included, reaches a log callback). PROBE_VERBOSE=1 in the
 * environment prints every captured line.
 *
 * Each test states, where it asserts, what commit 21606b6 (before the fixes)
 * did instead.
 */
#include "common.h"
#include "logcap.h"

#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Metadata requests as the I/O thread logs them (sender.c, send_metadata):
 * "metadata request (KIND) for N topics to broker B", KIND one of "full",
 * "new topics", "retry". Counts those from index `from` on; kind NULL: every
 * kind; with the largest, smallest (-1: none) and last N among them. */
typedef struct md_stats {
    int count;
    int max_topics, min_topics, last_topics;
} md_stats_t;

static md_stats_t md_requests(logcap_t *lc, size_t from, const char *kind) {
    md_stats_t s = {0, -1, -1, -1};
    pthread_mutex_lock(&lc->mu);
    for (size_t i = from; i < lc->n; i++) {
        char k[32];
        int nt;
        if (sscanf(lc->v[i].msg, "metadata request (%31[^)]) for %d topics", k, &nt) != 2) {
            /* 21606b6's line, "metadata request for N topics": every
             * request it made listed every topic, a full one */
            if (sscanf(lc->v[i].msg, "metadata request for %d topics", &nt) != 1)
                continue;
            strcpy(k, "full");
        }
        if (kind && strcmp(k, kind))
            continue;
        s.count++;
        if (nt > s.max_topics)
            s.max_topics = nt;
        if (s.min_topics < 0 || nt < s.min_topics)
            s.min_topics = nt;
        s.last_topics = nt;
    }
    pthread_mutex_unlock(&lc->mu);
    return s;
}

/* Every metadata request line of any form (also the one of 21606b6, which
 * had no kind): "metadata request ". */
static int md_any_requests(logcap_t *lc, size_t from) {
    return logcap_matches(lc, from, 7, NULL, "metadata request ", NULL);
}

/* Print the first WARN-and-worse lines since `from` (diagnostics on
 * failure). */
static void dump_warnings(logcap_t *lc, size_t from, const char *label) {
    int shown = 0;
    pthread_mutex_lock(&lc->mu);
    for (size_t i = from; i < lc->n && shown < 10; i++)
        if (lc->v[i].level <= 4) {
            fprintf(stderr, "    %s: [%d] %s\n", label, lc->v[i].level, lc->v[i].msg);
            shown++;
        }
    pthread_mutex_unlock(&lc->mu);
}

/* ---------------------------------------------------------------- producers */

/* The same, failing the test if the producer cannot be made. */
static kp_producer_t *producer(logcap_t *lc, const char *boot, ...) {
    char err[512] = "";
    va_list ap;
    va_start(ap, boot);
    kp_producer_t *p = producer_v(lc, err, sizeof(err), boot, ap);
    va_end(ap);
    if (!p)
        FAIL("producer for %.200s: %s", boot, err);
    return p;
}

/* Expect creation to fail: returns whether it did, with its error in err.
 * A producer made anyway is destroyed. */
static int producer_fails(logcap_t *lc, char *err, size_t errsz, const char *boot, ...) {
    va_list ap;
    va_start(ap, boot);
    err[0] = 0;
    kp_producer_t *p = producer_v(lc, err, errsz, boot, ap);
    va_end(ap);
    if (p) {
        kp_close(p, 0);
        kp_producer_destroy(p);
        return 0;
    }
    return 1;
}

static kp_record_t rec(const char *topic, const char *value) {
    kp_record_t r = {0};
    r.topic = topic;
    r.partition = KP_PARTITION_ANY;
    r.value = value;
    r.value_len = value ? (int32_t)strlen(value) : 0;
    return r;
}

static char *repeat_char(char ch, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memset(s, ch, n);
        s[n] = 0;
    }
    return s;
}

/* ==================================================== defect 13: refused topics */

/* How many metadata retries can fall in `span_ms` at most: the I/O thread
 * asks again for a refused topic only when a send asked for a look
 * (md_recheck) and the backoff since the previous refusing answer is over;
 * the k-th backoff is kp_backoff(retry.backoff.ms=100, retry.backoff.max.ms=
 * 1000, attempt >= k) = min(100 * 2^attempt, 1000) with -20% jitter at most,
 * so at least 0.8 * min(100 * 2^k, 1000) ms (k = 0, 1, ...: 80, 160, 320,
 * 640, 800, 800, ...). md_attempts only grows while answers keep reporting a
 * problem, which makes the real backoffs at least as long as this series. */
static int max_retries_within(int64_t span_ms) {
    int k = 0;
    int64_t t = 0;
    for (;;) {
        int64_t step = 100LL << (k < 10 ? k : 10);
        if (step > 1000)
            step = 1000;
        t += step * 8 / 10;
        if (t > span_ms)
            return k;
        k++;
    }
}

typedef struct md_over {
    logcap_t *lc;
    size_t from;
    int bound;
} md_over_t;

static int md_over_bound(void *arg) {
    md_over_t *o = arg;
    return md_any_requests(o->lc, o->from) > o->bound;
}

/* One refused topic on producer p: the first send fails at once with the
 * broker's code, 20 more fail without waiting, one warning, and metadata
 * requests bounded by the backoff. `mark` is where this round's log starts
 * (before the producer was made for the first round). */
static void refused_round(kp_producer_t *p, logcap_t *lc, size_t mark, const char *topic,
                          kp_err_t want) {
    kp_record_t r = rec(topic, "v");
    int64_t t0 = test_now_ms();
    /* 21606b6: waited the whole max.block.ms (10 s) and said
     * _METADATA_TIMEOUT: the topic's error was not looked at */
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), want);
    int64_t first_ms = test_now_ms() - t0;
    printf("    %s: first send failed after %lld ms\n", topic, (long long)first_ms);
    CHECK_LT_INT(first_ms, 3000); /* correctness bound: max.block.ms is 10000 */
    for (int i = 0; i < 20; i++) {
        int64_t t = test_now_ms();
        kp_err_t err = kp_send(p, &r, NULL, NULL);
        /* "at once": no metadata wait (500 ms leaves room for a slow TSan
         * scheduler; a wait would be for max.block.ms, 10 s). One failure
         * is enough to see (21606b6 would take 20 x 10 s). */
        if (!CHECK_EQ_ERR(err, want) || !CHECK_LT_INT(test_now_ms() - t, 500))
            break;
    }
    int64_t span = test_now_ms() - t0;
    /* The bound on metadata requests from `mark` until 1.5 s after the
     * last send:
     *   1  a full request the I/O thread may make on connecting, before the
     *      topic exists (startup: metadata.max.age.ms is due at once);
     *   1  the request that first asks for the topic (new, or the startup
     *      full one);
     *   retries while the sends went on: at most max_retries_within(span)
     *      (backoff series above; span is measured from before the first
     *      send, so it covers the time from the first refusing answer);
     *   1  a last retry for the rechecks of the last sends, due at most
     *      1000 ms + 20 % after the previous answer: inside the 1.5 s window.
     * After that nothing asks again: a refused topic is not retried on its
     * own (not retriable), only when a send asks, and no full refresh is due
     * (metadata.max.age.ms is 300000).
     * 21606b6 asked again ~10 times a second during the 10 s block, and then
     * once a second forever. */
    int bound = 3 + max_retries_within(span);
    md_over_t o = {lc, mark, bound};
    /* awaited for 1.5 s: returns early (a failure) if the bound is passed */
    CHECK(!wait_until(md_over_bound, &o, 1500));
    int nreq = md_any_requests(lc, mark);
    printf("    %s: 21 sends in %lld ms; %d metadata requests (bound %d)\n", topic,
           (long long)span, nreq, bound);
    CHECK_LE_INT(nreq, bound);
    /* warned once for all those sends and refusing answers (21606b6: ~10
     * warnings a second, then one a second) */
    int warned = logcap_matches(lc, mark, 4, NULL, topic, NULL);
    if (!CHECK_EQ_INT(warned, 1))
        dump_warnings(lc, mark, "warning");
    CHECK_EQ_INT(logcap_matches(lc, mark, 4, NULL, topic, kp_err_name(want), NULL), 1);
}

static void test_refused_topic(void) {
    mockcluster_t *mc = mockcluster_start(1, "ok", 1);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_cluster_t *h = mockcluster_handle(mc);
    rd_kafka_mock_topic_set_error(h, "refused", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    /* the mock answers any error code set on a topic: INVALID_TOPIC_EXCEPTION
     * (17, RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION) for a name valid to the client */
    rd_kafka_mock_topic_set_error(h, "invalid_t", RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, mockcluster_bootstraps(mc), "max.block.ms", "10000",
                                "retry.backoff.ms", "100", "retry.backoff.max.ms", "1000", NULL);
    if (p) {
        refused_round(p, &lc, 0, "refused", (kp_err_t)29 /* TOPIC_AUTHORIZATION_FAILED */);
        refused_round(p, &lc, logcap_count(&lc), "invalid_t",
                      (kp_err_t)17 /* INVALID_TOPIC_EXCEPTION */);
        /* the producer is fine for a topic the cluster accepts */
        kp_record_t r = rec("ok", "fine");
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_GE_INT(md.offset, 0);
        /* still refused, still at once, and not warned again */
        size_t mark = logcap_count(&lc);
        kp_record_t rr = rec("refused", "v");
        int64_t t = test_now_ms();
        CHECK_EQ_ERR(kp_send(p, &rr, NULL, NULL), (kp_err_t)29);
        CHECK_LT_INT(test_now_ms() - t, 500);
        CHECK_OK(kp_close(p, 10000));
        CHECK_EQ_INT(logcap_matches(&lc, mark, 4, NULL, "refused", NULL), 0);
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* kp_partitions_for on a topic the broker refuses: the error comes back as
 * the call's result, never as a count (it returned the Kafka code 29 as its
 * int32_t result, which read as "29 partitions"). */
static void test_partitions_for_refused(void) {
    mockcluster_t *mc = mockcluster_start(1, "ok", 3);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_topic_set_error(mockcluster_handle(mc), "refused",
                                  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, mockcluster_bootstraps(mc), "max.block.ms", "10000", NULL);
    if (p) {
        int32_t n = -1;
        CHECK_OK(kp_partitions_for(p, "ok", &n));
        CHECK_EQ_INT(n, 3);
        int64_t t = test_now_ms();
        n = -1;
        CHECK_EQ_ERR(kp_partitions_for(p, "refused", &n), (kp_err_t)29);
        CHECK_LT_INT(test_now_ms() - t, 3000);
        CHECK_EQ_INT(n, 0);
        n = -1;
        CHECK_EQ_ERR(kp_partitions_for(p, "a/b", &n), (kp_err_t)17);
        CHECK_EQ_INT(n, 0);
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* Names Kafka refuses (Topic.validate: 1 to 249 of [a-zA-Z0-9._-], not "."
 * nor "..") fail at once with INVALID_TOPIC_EXCEPTION and never enter the
 * producer's topic table: the I/O thread never asks for them. 21606b6 took
 * every name: "a/b" and friends waited for metadata, and a name of 32,768
 * bytes or more wrapped its int16 length and broke every later Metadata
 * request (defect 3). */
static void test_invalid_topic_names(void) {
    char *n249 = repeat_char('a', 249), *n250 = repeat_char('a', 250),
         *n40k = repeat_char('a', 40000);
    REQUIRE(n249 && n250 && n40k);
    mockcluster_t *mc = mockcluster_start(1, n249, 1);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p =
        mc ? producer(&lc, mockcluster_bootstraps(mc), "max.block.ms", "10000", NULL) : NULL;
    if (p) {
        const char *bad[] = {"a/b", ".", "..", n250, n40k, "with space", "caf\xc3\xa9", n40k};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            kp_record_t r = rec(bad[i], "v");
            int64_t t = test_now_ms();
            kp_err_t err = kp_send(p, &r, NULL, NULL);
            if (!CHECK_EQ_ERR(err, (kp_err_t)17 /* INVALID_TOPIC_EXCEPTION */))
                fprintf(stderr, "    topic name of %zu bytes \"%.20s\"\n", strlen(bad[i]),
                        bad[i]);
            CHECK_LT_INT(test_now_ms() - t, 500); /* at once: max.block.ms is 10000 */
        }
        /* the longest valid name works (and only it is ever asked for) */
        kp_record_t r = rec(n249, "longest");
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_GE_INT(md.offset, 0);
        CHECK_EQ_INT(test_partitions(p, n249), 1);
        md_stats_t s = md_requests(&lc, 0, NULL);
        CHECK_GE_INT(s.count, 1);
        CHECK_LE_INT(s.max_topics, 1); /* no bad name ever listed */
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 4, "warning", NULL), 0);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
    free(n249);
    free(n250);
    free(n40k);
}

/* client.id goes into every request as an int16-length string: 40,000
 * bytes cannot be written. 21606b6 created the producer and then wrote a
 * wrapped length into every request (defect 3). */
static void test_client_id_too_long(void) {
    char *id = repeat_char('c', 40000);
    REQUIRE_NOT_NULL(id);
    char err[512];
    CHECK(producer_fails(NULL, err, sizeof(err), "127.0.0.1:1", "client.id", id, NULL));
    if (!CHECK(strstr(err, "client.id") != NULL))
        fprintf(stderr, "    error: %s\n", err);
    free(id);
}

/* ==================================================== defect 14: unreachable */

/* A local peer that is not a Kafka broker (the mock cluster cannot be one
 * of these): SILENT listens and never accepts (the kernel completes the TCP
 * handshake, nobody reads), GARBAGE accepts and writes 64 bytes of 0xff,
 * ECHO accepts and sends back what it reads. */
enum peer_mode { PEER_SILENT, PEER_GARBAGE, PEER_ECHO };

typedef struct peer {
    int lfd;
    int port;
    enum peer_mode mode;
    pthread_t th;
    int started;
    atomic_int stop;
    atomic_int accepted;
} peer_t;

static void peer_serve(peer_t *pe, int fd) {
    if (pe->mode == PEER_GARBAGE) {
        unsigned char junk[64];
        memset(junk, 0xff, sizeof(junk));
        if (write(fd, junk, sizeof(junk)) < 0)
            return;
    }
    char buf[4096];
    while (!atomic_load(&pe->stop)) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int rc = poll(&pf, 1, 50);
        if (rc < 0 && errno != EINTR)
            return;
        if (rc <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return; /* the client gave up on us */
        if (pe->mode == PEER_ECHO && write(fd, buf, (size_t)n) != n)
            return;
    }
}

static void *peer_main(void *arg) {
    peer_t *pe = arg;
    while (!atomic_load(&pe->stop)) {
        struct pollfd pf = {.fd = pe->lfd, .events = POLLIN};
        int rc = poll(&pf, 1, 50);
        if (rc <= 0)
            continue;
        int fd = accept(pe->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&pe->accepted, 1);
        peer_serve(pe, fd);
        close(fd);
    }
    return NULL;
}

static int peer_start(peer_t *pe, enum peer_mode mode) {
    memset(pe, 0, sizeof(*pe));
    pe->mode = mode;
    pe->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (pe->lfd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (bind(pe->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(pe->lfd, 64) ||
        getsockname(pe->lfd, (struct sockaddr *)&a, &alen)) {
        close(pe->lfd);
        return -1;
    }
    pe->port = ntohs(a.sin_port);
    if (mode != PEER_SILENT) {
        if (pthread_create(&pe->th, NULL, peer_main, pe)) {
            close(pe->lfd);
            return -1;
        }
        pe->started = 1;
    }
    return 0;
}

static void peer_stop(peer_t *pe) {
    atomic_store(&pe->stop, 1);
    if (pe->started)
        pthread_join(pe->th, NULL);
    close(pe->lfd);
}

/* Send to a cluster nobody reachable serves: KP_ERR_CLUSTER_UNREACHABLE
 * after max.block.ms (1500). 21606b6: _METADATA_TIMEOUT ("not present in
 * metadata"), and no line at WARN. */
static void send_unreachable(kp_producer_t *p) {
    kp_record_t r = rec("t", "v");
    int64_t t0 = test_now_ms();
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_CLUSTER_UNREACHABLE);
    int64_t took = test_now_ms() - t0;
    CHECK_GE_INT(took, 1400); /* it did wait for max.block.ms */
    CHECK_LT_INT(took, 5000);
}

/* Nothing listens on 127.0.0.1:1: connection refused. With reconnects every
 * 10-20 ms (some 75-150 attempts over the 1.5 s) the broker is warned about
 * on the first failure and then at most every 30 s: once here, and twice
 * allowed. */
static void test_unreachable_refused(void) {
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, "127.0.0.1:1", "max.block.ms", "1500",
                                "reconnect.backoff.ms", "10", "reconnect.backoff.max.ms", "20",
                                NULL);
    if (p) {
        send_unreachable(p);
        int named = logcap_matches(&lc, 0, 4, NULL, "127.0.0.1:1", "refused", NULL);
        CHECK_GE_INT(named, 1);
        int all = logcap_matches(&lc, 0, 4, NULL, "127.0.0.1:1", NULL);
        if (!CHECK_LE_INT(all, 2))
            dump_warnings(&lc, 0, "warning");
        /* the rate limit is on the warnings only: it did keep trying */
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "127.0.0.1:1", "refused", NULL), 5);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
}

/* A listener that never answers: the kernel accepts the TCP connection,
 * ApiVersions is written and nothing ever comes back. 21606b6 waited for
 * the answer forever (socket.connection.setup.timeout.ms covered only the
 * TCP connect) and said nothing. */
static void test_unreachable_silent(void) {
    peer_t pe;
    REQUIRE(peer_start(&pe, PEER_SILENT) == 0);
    char boot[64], hostport[64];
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", pe.port);
    snprintf(hostport, sizeof(hostport), "127.0.0.1:%d:", pe.port); /* not a longer port */
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, boot, "max.block.ms", "1500",
                                "socket.connection.setup.timeout.ms", "300", NULL);
    if (p) {
        send_unreachable(p);
        if (!CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, hostport, "no answer", NULL), 1))
            dump_warnings(&lc, 0, "warning");
        CHECK_LE_INT(logcap_matches(&lc, 0, 4, NULL, hostport, NULL), 2);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    peer_stop(&pe);
}

/* A peer that is not Kafka: garbage, or our own request echoed. The log
 * says so ("no Kafka answer to ApiVersions: is this a Kafka PLAINTEXT
 * listener?", conn.c log_close). No setup timeout is set: the answer itself
 * must be recognised as not Kafka's. */
static void unreachable_not_kafka(enum peer_mode mode) {
    peer_t pe;
    REQUIRE(peer_start(&pe, mode) == 0);
    char boot[64], hostport[64];
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", pe.port);
    snprintf(hostport, sizeof(hostport), "127.0.0.1:%d:", pe.port);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, boot, "max.block.ms", "1500", NULL);
    if (p) {
        send_unreachable(p);
        CHECK_GE_INT(atomic_load(&pe.accepted), 1);
        if (!CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, hostport, "Kafka", NULL), 1))
            dump_warnings(&lc, 0, "warning");
        CHECK_LE_INT(logcap_matches(&lc, 0, 4, NULL, hostport, NULL), 2);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    peer_stop(&pe);
}

static void test_unreachable_garbage(void) { unreachable_not_kafka(PEER_GARBAGE); }
static void test_unreachable_echo(void) { unreachable_not_kafka(PEER_ECHO); }

/* No bootstrap address resolves: creation fails, as Java's
 * ClientUtils.parseAndValidateAddresses. The host has a label of 64
 * characters (DNS allows 63): glibc refuses it before any query, so this
 * test sends nothing on the network, and the .invalid TLD (RFC 6761) would
 * never resolve anyway. 21606b6 created the producer and said nothing. */
static void test_unresolvable(void) {
    char boot[160], err[512];
    char *label = repeat_char('a', 64);
    REQUIRE_NOT_NULL(label);
    snprintf(boot, sizeof(boot), "%s.invalid:9092", label);
    if (CHECK(producer_fails(NULL, err, sizeof(err), boot, NULL)) &&
        !CHECK(strstr(err, "No resolvable bootstrap urls") != NULL))
        fprintf(stderr, "    error: %s\n", err);
    /* one resolvable address is enough */
    snprintf(boot, sizeof(boot), "%s.invalid:9092,127.0.0.1:1", label);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, boot, NULL);
    if (p) {
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    free(label);
}

/* ==================================================== defect 11: quiet close */

typedef struct seen {
    logcap_t *lc;
    size_t from;
    const char *word;
} seen_t;

static int seen_line(void *arg) {
    seen_t *s = arg;
    return logcap_matches(s->lc, s->from, 7, NULL, s->word, NULL) > 0;
}

/* An unused idempotent producer closed right after creation, 100 ms of
 * round trip on every broker. Half the rounds close at once (during the
 * connection's setup); half once the first metadata request is logged: the
 * I/O thread sends InitProducerId in the same turn (sender.c: metadata_maybe,
 * then initpid_maybe), and its answer is 100 ms away, so the close abandons
 * it for sure. 21606b6 warned "InitProducerId failed: _CLOSED; retrying" for
 * the abandoned request (8 of 30 runs of the probe; here every such round).
 * Nothing at all is worth a warning when an unused producer closes. */
static void test_close_quiet(void) {
    mockcluster_t *mc = mockcluster_start(3, "t", 1);
    REQUIRE_NOT_NULL(mc);
    for (int32_t b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(mockcluster_handle(mc), b, 100);
    int warnings = 0, initpid = 0, abandoned = 0;
    for (int round = 0; round < 20; round++) {
        logcap_t lc;
        logcap_init(&lc);
        kp_producer_t *p = producer(&lc, mockcluster_bootstraps(mc), NULL);
        if (!p) {
            logcap_free(&lc);
            break;
        }
        if (round % 2) {
            seen_t s = {&lc, 0, "metadata request"};
            CHECK(wait_until(seen_line, &s, 5000));
        }
        CHECK_OK(kp_close(p, 5000));
        kp_producer_destroy(p); /* (connections are freed here: their requests fail here) */
        int w = logcap_matches(&lc, 0, 4, NULL, NULL);
        if (w)
            dump_warnings(&lc, 0, "round warning");
        warnings += w;
        initpid += logcap_matches(&lc, 0, 4, NULL, "InitProducerId", NULL);
        abandoned += logcap_matches(&lc, 0, 7, NULL, "InitProducerId failed", NULL);
        logcap_free(&lc);
    }
    printf("    InitProducerId abandoned by the close in %d of 20 rounds\n", abandoned);
    CHECK_EQ_INT(initpid, 0);
    CHECK_EQ_INT(warnings, 0);
    /* the case did happen (the debug line says so): in the 10 rounds that
     * waited for the first metadata request, if not in all */
    CHECK_GE_INT(abandoned, 1);
    mockcluster_destroy(mc);
}

/* ==================================================== defect 7: idle properties */

/* connections.max.idle.ms: connections with nothing to do for 300 ms are
 * closed (quietly: a debug line), and the next send reconnects. 21606b6
 * read the property nowhere. */
static void test_connections_max_idle(void) {
    mockcluster_t *mc = mockcluster_start(1, "idle", 1);
    REQUIRE_NOT_NULL(mc);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p =
        producer(&lc, mockcluster_bootstraps(mc), "connections.max.idle.ms", "300", NULL);
    if (p) {
        kp_record_t r = rec("idle", "one");
        CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
        seen_t s = {&lc, 0, "closing a connection idle"};
        CHECK(wait_until(seen_line, &s, 5000));
        size_t mark = logcap_count(&lc);
        r = rec("idle", "two");
        kp_record_metadata_t md;
        CHECK_OK(kp_send_sync(p, &r, 10000, &md));
        CHECK_EQ_INT(md.offset, 1);
        /* it did reconnect for it */
        CHECK_GE_INT(logcap_matches(&lc, mark, 7, NULL, "ready,", NULL), 1);
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 4, "warning", NULL), 0);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

typedef struct full_wait {
    logcap_t *lc;
    int count; /* full requests seen so far */
} full_wait_t;

static int another_full(void *arg) {
    full_wait_t *f = arg;
    return md_requests(f->lc, 0, "full").count > f->count;
}

/* metadata.max.idle.ms=5000 (its minimum), metadata.max.age.ms=1000: a full
 * refresh every second; topic A, written once at the start, drops out of
 * them once idle for 5 s, while B, written between every two refreshes,
 * stays. Paced by the refreshes themselves: send to B, await the next full
 * request, again — until one lists B alone (bounded: 12 s). 21606b6 listed
 * every topic forever (and its log line had no kind). */
static void test_metadata_max_idle(void) {
    mockcluster_t *mc = mockcluster_start(1, "A", 1);
    REQUIRE_NOT_NULL(mc);
    REQUIRE(mockcluster_create_topic(mc, "B", 1, 1) == 0);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, mockcluster_bootstraps(mc), "metadata.max.idle.ms", "5000",
                                "metadata.max.age.ms", "1000", NULL);
    if (p) {
        kp_record_t ra = rec("A", "a"), rb = rec("B", "b");
        CHECK_OK(kp_send_sync(p, &ra, 10000, NULL));
        CHECK_OK(kp_send_sync(p, &rb, 10000, NULL));
        int64_t t0 = test_now_ms();
        int saw_two = 0, saw_one_after = 0;
        int64_t dropped_at = -1;
        full_wait_t f = {&lc, md_requests(&lc, 0, "full").count};
        while (test_now_ms() - t0 < 12000) {
            CHECK_OK(kp_send_sync(p, &rb, 10000, NULL));
            if (!wait_until(another_full, &f, 3000)) {
                FAIL("no full metadata request within 3 s (metadata.max.age.ms=1000)");
                break;
            }
            md_stats_t s = md_requests(&lc, 0, "full");
            f.count = s.count;
            if (s.last_topics == 2)
                saw_two = 1;
            if (saw_two && s.last_topics == 1) {
                saw_one_after = 1;
                dropped_at = test_now_ms() - t0;
                break;
            }
        }
        CHECK(saw_two);
        CHECK(saw_one_after);
        printf("    A dropped from full refreshes after %lld ms idle\n", (long long)dropped_at);
        /* not before metadata.max.idle.ms */
        if (saw_one_after)
            CHECK_GE_INT(dropped_at, 4900);
        /* The one left is B, not A: from now on the mock refuses A in
         * Metadata, which kprod would log ("metadata for topic A:
         * TOPIC_AUTHORIZATION_FAILED") the first time an answer has it. Three
         * more full refreshes, with B written before each: the answers to the
         * first two are in when the third is sent (one metadata request at a
         * time), and none says anything of A. */
        if (saw_one_after) {
            rd_kafka_mock_topic_set_error(mockcluster_handle(mc), "A",
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
            size_t mark = logcap_count(&lc);
            f.count = md_requests(&lc, 0, "full").count;
            for (int i = 0; i < 3; i++) {
                CHECK_OK(kp_send_sync(p, &rb, 10000, NULL));
                CHECK(wait_until(another_full, &f, 3000));
                f.count = md_requests(&lc, 0, "full").count;
            }
            md_stats_t later = md_requests(&lc, mark, "full");
            CHECK_GE_INT(later.count, 3);
            CHECK_EQ_INT(later.max_topics, 1);
            CHECK_EQ_INT(logcap_matches(&lc, mark, 7, NULL, "metadata for topic A:", NULL), 0);
        }
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 4, "warning", NULL), 0);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* ==================================================== defect 15: many topics */

/* Topic creation in librdkafka 2.0.2's mock is a request to the mock's own
 * thread, which often notices it only when its poll times out: one at a
 * time, 300 topics took 75 s here. Requests waiting together are served
 * together, so the topics are created from CREATORS threads at once (2-3 s
 * for 300; with 30 threads, 6 s). */
enum { CREATORS = 100 };

typedef struct creator {
    mockcluster_t *mc;
    const char *names; /* stride apart */
    size_t stride;
    int from, to;
    atomic_int *failed;
} creator_t;

static void *creator_main(void *arg) {
    creator_t *c = arg;
    for (int i = c->from; i < c->to; i++)
        if (mockcluster_create_topic(c->mc, c->names + (size_t)i * c->stride, 1, 1))
            atomic_fetch_add(c->failed, 1);
    return NULL;
}

static int create_topics(mockcluster_t *mc, const char *names, size_t stride, int n) {
    pthread_t th[CREATORS];
    int joined[CREATORS];
    creator_t cr[CREATORS];
    atomic_int failed;
    atomic_init(&failed, 0);
    for (int k = 0; k < CREATORS; k++) {
        cr[k] = (creator_t){mc, names, stride, n * k / CREATORS, n * (k + 1) / CREATORS, &failed};
        joined[k] = pthread_create(&th[k], NULL, creator_main, &cr[k]) == 0;
        if (!joined[k])
            creator_main(&cr[k]); /* no thread: here, then */
    }
    for (int k = 0; k < CREATORS; k++)
        if (joined[k])
            pthread_join(th[k], NULL);
    if (atomic_load(&failed))
        FAIL("%d topics not created in the mock cluster", atomic_load(&failed));
    return atomic_load(&failed);
}

/* 300 new topics, one record each, one after another: each first send
 * waits for its topic's metadata, asked for alone (KIP-526), with no full
 * refresh per topic. 21606b6 listed every topic in every request and each
 * first send waited ~100 ms (341 s for 3,000 topics). */
static void test_many_topics(void) {
    enum { N = 300 };
    mockcluster_t *mc = mockcluster_new(1);
    REQUIRE_NOT_NULL(mc);
    char name[N][16];
    for (int i = 0; i < N; i++)
        snprintf(name[i], sizeof(name[i]), "many-%03d", i);
    if (create_topics(mc, &name[0][0], sizeof(name[0]), N)) {
        mockcluster_destroy(mc);
        return;
    }
    const char *boot = mockcluster_bootstraps(mc);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer(&lc, boot, NULL);
    if (p) {
        /* connected and idle first, so that only the topics' own requests
         * are timed */
        CHECK_EQ_INT(test_partitions(p, name[0]), 1);
        tracker_t t;
        tracker_init(&t, N);
        slot_ref_t refs[N];
        int64_t t0 = test_now_ms();
        for (int i = 0; i < N; i++) {
            char v[32];
            snprintf(v, sizeof(v), "v-%d", i);
            kp_record_t r = rec(name[i], v);
            refs[i] = (slot_ref_t){&t, (size_t)i};
            CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
        }
        int64_t took = test_now_ms() - t0;
        /* (the first topic's metadata came with partitions_for above) */
        printf("    %d new topics in %lld ms: %.2f ms per new topic\n", N - 1, (long long)took,
               (double)took / (N - 1));
        CHECK_OK(kp_flush(p, 30000));
        CHECK_EQ_INT(atomic_load(&t.done), N);
        CHECK_EQ_INT(atomic_load(&t.failed), 0);
        for (int i = 0; i < N; i++)
            if (!CHECK_EQ_INT(t.d[i].offset, 0))
                break;
        md_stats_t nw = md_requests(&lc, 0, "new topics");
        md_stats_t full = md_requests(&lc, 0, "full");
        md_stats_t any = md_requests(&lc, 0, NULL);
        printf("    metadata requests: %d (new topics %d, full %d, largest %d topics)\n",
               any.count, nw.count, full.count, any.max_topics);
        /* each new topic asked for alone: one request per topic, but perhaps
         * for the first (asked for by partitions_for: in a request of its
         * own, or in the startup full one) */
        CHECK_GE_INT(nw.count, N - 1);
        CHECK_EQ_INT(nw.max_topics, 1);
        CHECK_EQ_INT(nw.min_topics, 1);
        /* full refreshes: the startup one, perhaps one more; none per topic
         * (metadata.max.age.ms is 300000) */
        CHECK_LE_INT(full.count, 2);
        CHECK_OK(kp_close(p, 10000));
        kp_producer_destroy(p);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 4, "warning", NULL), 0);
        /* what the broker has, for the first and the last topic */
        for (int k = 0; k < 2; k++) {
            int i = k ? N - 1 : 0;
            rb_record_t *recs;
            size_t n;
            char v[32];
            snprintf(v, sizeof(v), "v-%d", i);
            CHECK_EQ_INT(readback_topic(boot, name[i], 1, 20000, &recs, &n), RB_OK);
            if (CHECK_EQ_INT(n, 1))
                CHECK_EQ_MEM(recs[0].value, recs[0].value_len, v, strlen(v));
            readback_free(recs, n);
        }
        tracker_free(&t);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_refused_topic), TEST(test_partitions_for_refused),
          TEST(test_invalid_topic_names), TEST(test_client_id_too_long),
          TEST(test_unreachable_refused), TEST(test_unreachable_silent),
          TEST(test_unreachable_garbage), TEST(test_unreachable_echo),
          TEST(test_unresolvable), TEST(test_close_quiet), TEST(test_connections_max_idle),
          TEST(test_metadata_max_idle), TEST(test_many_topics))

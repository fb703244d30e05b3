/*
 * Name resolution off the I/O path (issue 11): broker host names are looked
 * up with c-ares on the I/O thread's poll loop (src/net/resolve.c), so a
 * resolver that hangs delays neither the other brokers' traffic nor
 * kp_close, and a lookup is bounded by socket.connection.setup.timeout.ms.
 *
 * The resolver is pointed (kp_resolver_test_servers, an internal seam) at
 * DNS servers made here on 127.0.0.1: a silent one (a bound UDP socket that
 * never answers: every lookup through it hangs) and a tiny answering one
 * (A 127.0.0.1 for any name, no AAAA, NXDOMAIN for names starting "nx.").
 * No DNS query leaves this machine's loopback. Before this change the I/O
 * thread called getaddrinfo: with a lookup that hung 15 s, kp_close(p, 1000)
 * took 13 s and the first send waited for the lookup to give up.
 *
 * Under client.dns.lookup=resolve_canonical_bootstrap_servers_only a
 * bootstrap address is also looked up in reverse; a reverse lookup that
 * hangs is bounded the same way, and then the address stands for itself
 * (as Java's getCanonicalHostName gives the address when the lookup
 * fails). Names, addresses and canonical names with a DNS server that
 * answers: test_addresses.c.
 */
#include "common.h"
#include "fakebroker.h"
#include "logcap.h"

#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/resolve.h"

typedef struct log_wait {
    logcap_t *lc;
    const char *a, *b;
} log_wait_t;

static int log_has(void *arg) {
    log_wait_t *w = arg;
    return logcap_matches(w->lc, 0, 7, NULL, w->a, w->b, NULL) > 0;
}

/* ---------------------------------------------------------------- DNS servers */

/* A UDP socket on 127.0.0.1, its port in *port. */
static int udp_socket(int *port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Point the library's resolvers at 127.0.0.1:port. */
/* Has a query reached the DNS server on fd (readable)? */
static int query_arrived(void *arg) {
    struct pollfd pfd = {.fd = *(int *)arg, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

static void use_dns_port(int port) {
    char csv[64];
    snprintf(csv, sizeof(csv), "127.0.0.1:%d", port);
    REQUIRE_EQ_INT(kp_resolver_test_servers(csv), 0);
}

typedef struct answering_dns {
    int fd;
    atomic_int stop;
    atomic_int queries;
    pthread_t th;
} answering_dns_t;

/* Answer one query in q (n bytes) into r; returns the answer's length, 0
 * to ignore it. */
static size_t dns_answer(const uint8_t *q, size_t n, uint8_t *r, size_t rcap) {
    if (n < 12 || (q[2] & 0x80))
        return 0;
    size_t i = 12;
    char first[64] = "";
    int label = 0;
    while (i < n && q[i]) {
        size_t l = q[i];
        if (l > 63 || i + 1 + l > n)
            return 0;
        if (label++ == 0)
            snprintf(first, sizeof(first), "%.*s", (int)l, (const char *)q + i + 1);
        i += 1 + l;
    }
    if (i + 5 > n)
        return 0;
    size_t qend = i + 5; /* the root label, type, class */
    int type = q[i + 1] << 8 | q[i + 2];
    int nx = strcmp(first, "nx") == 0;
    int answer = !nx && type == 1; /* A */
    if (qend + (answer ? 16 : 0) > rcap)
        return 0;
    memcpy(r, q, qend);
    r[2] = 0x81;                /* QR, RD */
    r[3] = nx ? 0x83 : 0x80;    /* RA, NXDOMAIN or NOERROR */
    r[4] = 0, r[5] = 1;         /* one question */
    r[6] = 0, r[7] = (uint8_t)answer;
    memset(r + 8, 0, 4);        /* no authority, no additional */
    if (!answer)
        return qend;
    static const uint8_t rr[16] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
    memcpy(r + qend, rr, sizeof(rr));
    return qend + sizeof(rr);
}

static void *answering_main(void *arg) {
    answering_dns_t *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd pf = {.fd = d->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        uint8_t q[512], r[600];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            continue;
        atomic_fetch_add(&d->queries, 1);
        size_t rl = dns_answer(q, (size_t)n, r, sizeof(r));
        if (rl)
            sendto(d->fd, r, rl, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static int answering_start(answering_dns_t *d, int *port) {
    memset(d, 0, sizeof(*d));
    d->fd = udp_socket(port);
    if (d->fd < 0)
        return -1;
    if (pthread_create(&d->th, NULL, answering_main, d)) {
        close(d->fd);
        return -1;
    }
    return 0;
}

static void answering_stop(answering_dns_t *d) {
    atomic_store(&d->stop, 1);
    pthread_join(d->th, NULL);
    close(d->fd);
}

/* ---------------------------------------------------------------- helpers */

static kp_err_t send_one(kp_producer_t *p, const char *topic, int64_t timeout_ms) {
    kp_record_t rec = {.topic = topic, .partition = KP_PARTITION_ANY, .value = "v",
                       .value_len = 1, .timestamp = KP_TIMESTAMP_NOW};
    return kp_send_sync(p, &rec, timeout_ms, NULL);
}

/* The mock cluster's port (its bootstraps are "127.0.0.1:PORT"). */
static int mock_port(mockcluster_t *mc) {
    const char *b = mockcluster_bootstraps(mc);
    const char *colon = strchr(b, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* ---------------------------------------------------------------- tests */

/* A bootstrap name whose lookup hangs beside the mock cluster's address:
 * creation is immediate (a literal resolves), a send goes through the mock
 * within a few seconds (the hanging lookup is bounded at 10 s, and before
 * this change the first connect blocked on it), and close is prompt. */
static void test_hanging_lookup_does_not_stall(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    mockcluster_t *mc = mockcluster_start(1, "t", 1);
    REQUIRE_NOT_NULL(mc);
    char boot[256], err[512] = "";
    snprintf(boot, sizeof(boot), "slow.example:9092,%s", mockcluster_bootstraps(mc));
    logcap_t lc;
    logcap_init(&lc);
    int64_t t0 = test_now_ms();
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "socket.connection.setup.timeout.ms",
                                "10000", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        CHECK_LT_INT(test_now_ms() - t0, 1000);
        int64_t t1 = test_now_ms();
        CHECK_OK(send_one(p, "t", 8000));
        int64_t sent = test_now_ms() - t1;
        CHECK_LT_INT(sent, 3000);
        int64_t t2 = test_now_ms();
        CHECK_OK(kp_close(p, 1000));
        CHECK_LT_INT(test_now_ms() - t2, 1500);
        kp_producer_destroy(p);
        /* the slow name's lookup was still under way (its bound is 10 s) */
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, NULL, "cannot resolve host name", NULL, NULL), 0);
    }
    logcap_free(&lc);
    mockcluster_destroy(mc);
    close(silent);
    kp_resolver_test_servers(NULL);
}

/* Close while a lookup hangs (its bound 15 s): kp_close(p, 1000) returns
 * promptly. Before, the I/O thread sat inside getaddrinfo and kp_close
 * joined it only once the lookup gave up: 13 s for a lookup of 15 s. (The
 * send finds no metadata within max.block.ms: nothing is left pending.) */
static void test_close_during_lookup(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    char err[512] = "";
    logcap_t lc;
    logcap_init(&lc);
    /* 127.0.0.1:1 refuses: the literal makes creation succeed, and the
     * name's lookup is what the I/O thread would wait for */
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), "slow.example:9092,127.0.0.1:1",
                                "socket.connection.setup.timeout.ms", "15000",
                                "max.block.ms", "100", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        kp_record_t rec = {.topic = "t", .partition = 0, .value = "v", .value_len = 1,
                           .timestamp = KP_TIMESTAMP_NOW};
        (void)kp_send(p, &rec, NULL, NULL); /* (may fail: no metadata in 100 ms) */
        /* the lookup is under way once the silent server got its query */
        CHECK(wait_until(query_arrived, &silent, 5000));
        int64_t t0 = test_now_ms();
        kp_close(p, 1000);
        int64_t took = test_now_ms() - t0;
        CHECK_LT_INT(took, 1500);
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    close(silent);
    kp_resolver_test_servers(NULL);
}

/* A lookup that hangs fails at socket.connection.setup.timeout.ms, and the
 * failure is logged naming the host. */
static void test_lookup_bounded_and_named(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    char err[512] = "";
    logcap_t lc;
    logcap_init(&lc);
    int64_t t0 = test_now_ms();
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), "slow.example:9092,127.0.0.1:1",
                                "socket.connection.setup.timeout.ms", "1000", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        log_wait_t w = {&lc, "cannot resolve host name: slow.example", "slow.example:9092"};
        CHECK(wait_until(log_has, &w, 5000));
        int64_t took = test_now_ms() - t0;
        CHECK_GE_INT(took, 900);
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL,
                                    "cannot connect: cannot resolve host name: slow.example",
                                    "socket.connection.setup.timeout.ms", NULL),
                     1);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    close(silent);
    kp_resolver_test_servers(NULL);
}

/* No bootstrap name resolves and the resolver hangs: creation fails after
 * socket.connection.setup.timeout.ms, not after the resolver's own
 * timeouts (Java: "No resolvable bootstrap urls"). */
static void test_creation_bounded(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    char err[512] = "";
    int64_t t0 = test_now_ms();
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), "slow.example:9092,slower.example:9092",
                                "socket.connection.setup.timeout.ms", "1000", NULL);
    int64_t took = test_now_ms() - t0;
    CHECK_NULL(p);
    kp_producer_destroy(p);
    if (!CHECK(strstr(err, "No resolvable bootstrap urls") != NULL))
        fprintf(stderr, "    error: %s\n", err);
    CHECK_GE_INT(took, 900);
    CHECK_LT_INT(took, 2500);
    close(silent);
    kp_resolver_test_servers(NULL);
}

/* localhost comes from /etc/hosts, even when the DNS server never answers. */
static void test_localhost_from_hosts_file(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    mockcluster_t *mc = mockcluster_start(1, "t", 1);
    REQUIRE_NOT_NULL(mc);
    char boot[64], err[512] = "";
    snprintf(boot, sizeof(boot), "localhost:%d", mock_port(mc));
    int64_t t0 = test_now_ms();
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), boot, NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        CHECK_OK(send_one(p, "t", 8000));
        CHECK_LT_INT(test_now_ms() - t0, 3000);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    mockcluster_destroy(mc);
    close(silent);
    kp_resolver_test_servers(NULL);
}

/* A name answered by a DNS server (A 127.0.0.1) is dialled; one it says
 * does not exist fails creation at once, not at the bound. */
static void test_name_from_dns(void) {
    answering_dns_t d;
    int port;
    REQUIRE_EQ_INT(answering_start(&d, &port), 0);
    use_dns_port(port);
    mockcluster_t *mc = mockcluster_start(1, "t", 1);
    REQUIRE_NOT_NULL(mc);
    char boot[96], err[512] = "";
    snprintf(boot, sizeof(boot), "broker.kprod.test:%d", mock_port(mc));
    kp_producer_t *p = producer_e(NULL, err, sizeof(err), boot, NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        CHECK_OK(send_one(p, "t", 8000));
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    CHECK_GE_INT(atomic_load(&d.queries), 1);
    int64_t t0 = test_now_ms();
    p = producer_e(NULL, err, sizeof(err), "nx.kprod.test:9092", NULL);
    CHECK_NULL(p);
    kp_producer_destroy(p);
    CHECK(strstr(err, "No resolvable bootstrap urls") != NULL);
    CHECK_LT_INT(test_now_ms() - t0, 2000);
    mockcluster_destroy(mc);
    answering_stop(&d);
    kp_resolver_test_servers(NULL);
}

/* client.dns.lookup=resolve_canonical_bootstrap_servers_only with a DNS
 * server that never answers: the bootstrap server 127.0.0.2 (not in
 * /etc/hosts, so its reverse lookup asks the server) is dialled as itself
 * once socket.connection.setup.timeout.ms has passed, and the record goes
 * through; the connection is not failed for want of a canonical name. */
static void test_canonical_reverse_lookup_hangs(void) {
    int port;
    int silent = udp_socket(&port);
    REQUIRE(silent >= 0);
    use_dns_port(port);
    fb_options_t o = {.listen_host = "127.0.0.2"};
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    char as_itself[96], err[512] = "";
    snprintf(as_itself, sizeof(as_itself), "connecting to %s, address 1 of 1", fb_bootstrap(fb));
    logcap_t lc;
    logcap_init(&lc);
    int64_t t0 = test_now_ms();
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), fb_bootstrap(fb), "client.dns.lookup",
                                  "resolve_canonical_bootstrap_servers_only",
                                  "socket.connection.setup.timeout.ms", "1000", "max.block.ms",
                                  "8000", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        CHECK_OK(send_one(p, "t", 8000));
        int64_t took = test_now_ms() - t0;
        CHECK_GE_INT(took, 900);
        CHECK_LT_INT(took, 3000);
        CHECK(query_arrived(&silent)); /* the PTR query */
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "bootstrap server 127.0.0.2", as_itself,
                                    NULL),
                     1);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "failed", "cannot resolve", NULL), 0);
        CHECK_EQ_INT((int)fb_log_end(fb), 1);
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
    }
    logcap_free(&lc);
    fb_stop(fb);
    close(silent);
    kp_resolver_test_servers(NULL);
}

TEST_MAIN(TEST(test_hanging_lookup_does_not_stall), TEST(test_close_during_lookup),
          TEST(test_lookup_bounded_and_named), TEST(test_creation_bounded),
          TEST(test_localhost_from_hosts_file), TEST(test_name_from_dns),
          TEST(test_canonical_reverse_lookup_hangs))

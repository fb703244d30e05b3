/*
 * test_addresses — names and addresses (issue 12): every address of a name
 * tried in turn, brokers on IPv6, client.dns.lookup=
 * resolve_canonical_bootstrap_servers_only, socket.connection.setup
 * .timeout.ms growing to its .max.ms, TCP_NODELAY on broker sockets.
 *
 * The names come from a DNS server made here (a UDP socket on 127.0.0.1
 * with a table of A, AAAA and PTR records the test chooses, counting the
 * queries it gets), which the library's resolvers are pointed at through
 * the kp_resolver_test_servers seam; no query leaves the loopback. The
 * broker is the fake broker (tests/support/fakebroker.h), which can listen
 * on another loopback address than 127.0.0.1 (127.0.0.2, ::1) and then
 * advertises that address in Metadata. Addresses in 127.0.0.0/8 other than
 * 127.0.0.1 reach this machine and, where nothing listens, refuse at once:
 * a dead address that costs no time. What kprod dialled is read from its
 * debug log ("<connection>: connecting to <address>, address i of n");
 * its sockets' options are read from this process's descriptors.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/internal.h"
#include "fakebroker.h"
#include "logcap.h"
#include "net/resolve.h"

#define LIMIT_MS 10000
#define T_A 1
#define T_PTR 12
#define T_AAAA 28

/* ---------------------------------------------------------------- the DNS server */

typedef struct dns_rr {
    const char *name; /* "boot.kprod.test", "2.0.0.127.in-addr.arpa" */
    int type;         /* T_A, T_AAAA, T_PTR */
    const char *data; /* an address, or the PTR's name */
} dns_rr_t;

#define DNS_SEEN 64

typedef struct dns {
    int fd, port;
    const dns_rr_t *rr; /* the table, ended by a NULL name */
    atomic_int stop;
    pthread_t th;
    pthread_mutex_t mu;
    struct {
        char name[256];
        int type;
    } seen[DNS_SEEN]; /* the first DNS_SEEN queries */
    int nseen;
} dns_t;

/* The question's name at q[12..] as dotted text into name; returns the
 * offset past it, 0 if malformed. */
static size_t read_qname(const uint8_t *q, size_t n, char *name, size_t cap) {
    size_t i = 12, o = 0;
    while (i < n && q[i]) {
        size_t l = q[i];
        if (l > 63 || i + 1 + l > n || o + l + 2 > cap)
            return 0;
        if (o)
            name[o++] = '.';
        memcpy(name + o, q + i + 1, l);
        o += l;
        i += 1 + l;
    }
    name[o] = 0;
    return i < n ? i + 1 : 0;
}

/* A name in DNS wire form at w; returns its length. */
static size_t put_name(uint8_t *w, const char *name) {
    size_t o = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        w[o++] = (uint8_t)l;
        memcpy(w + o, name, l);
        o += l;
        name += l + (dot ? 1 : 0);
    }
    w[o++] = 0;
    return o;
}

/* The answer to query q (n bytes) into r (room for 1500); its length, 0 to
 * leave it unanswered. */
static size_t dns_answer(dns_t *d, const uint8_t *q, size_t n, uint8_t *r) {
    char name[256];
    size_t i = n >= 12 && !(q[2] & 0x80) ? read_qname(q, n, name, sizeof(name)) : 0;
    if (!i || i + 4 > n)
        return 0;
    size_t qend = i + 4;
    int type = q[i] << 8 | q[i + 1];
    pthread_mutex_lock(&d->mu);
    if (d->nseen < DNS_SEEN) {
        snprintf(d->seen[d->nseen].name, sizeof(d->seen[0].name), "%s", name);
        d->seen[d->nseen++].type = type;
    }
    pthread_mutex_unlock(&d->mu);
    memcpy(r, q, qend);
    int known = 0, count = 0;
    size_t o = qend;
    for (const dns_rr_t *rr = d->rr; rr->name; rr++) {
        if (strcasecmp(rr->name, name))
            continue;
        known = 1;
        if (rr->type != type || o + 300 > 1500)
            continue;
        uint8_t rdata[256];
        size_t rl = 0;
        if (type == T_A && inet_pton(AF_INET, rr->data, rdata) == 1)
            rl = 4;
        else if (type == T_AAAA && inet_pton(AF_INET6, rr->data, rdata) == 1)
            rl = 16;
        else if (type == T_PTR)
            rl = put_name(rdata, rr->data);
        if (!rl)
            continue;
        const uint8_t head[] = {0xC0, 12, 0, (uint8_t)type, 0, 1, 0, 0, 0, 60, 0, (uint8_t)rl};
        memcpy(r + o, head, sizeof(head));
        memcpy(r + o + sizeof(head), rdata, rl);
        o += sizeof(head) + rl;
        count++;
    }
    r[2] = 0x81;                   /* QR, RD */
    r[3] = known ? 0x80 : 0x83;    /* RA; NOERROR, or NXDOMAIN */
    r[4] = 0, r[5] = 1;            /* one question */
    r[6] = 0, r[7] = (uint8_t)count;
    memset(r + 8, 0, 4);           /* no authority, no additional */
    return o;
}

static void *dns_main(void *arg) {
    dns_t *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd pf = {.fd = d->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        uint8_t q[512], r[1500];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(d->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        size_t rl = n > 0 ? dns_answer(d, q, (size_t)n, r) : 0;
        if (rl)
            sendto(d->fd, r, rl, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

/* Serve the records rr (a static table ended by a NULL name) and point the
 * library's resolvers at them. */
static int dns_start(dns_t *d, const dns_rr_t *rr) {
    memset(d, 0, sizeof(*d));
    d->rr = rr;
    pthread_mutex_init(&d->mu, NULL);
    d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(d->fd, (struct sockaddr *)&a, &al))
        return -1;
    d->port = ntohs(a.sin_port);
    char csv[64];
    snprintf(csv, sizeof(csv), "127.0.0.1:%d", d->port);
    if (kp_resolver_test_servers(csv) || pthread_create(&d->th, NULL, dns_main, d)) {
        close(d->fd);
        return -1;
    }
    return 0;
}

static void dns_stop(dns_t *d) {
    atomic_store(&d->stop, 1);
    pthread_join(d->th, NULL);
    close(d->fd);
    pthread_mutex_destroy(&d->mu);
    kp_resolver_test_servers(NULL);
}

/* Queries of name and type so far. */
static int dns_asked(dns_t *d, const char *name, int type) {
    int n = 0;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->nseen; i++)
        n += !strcasecmp(d->seen[i].name, name) && d->seen[i].type == type;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* ---------------------------------------------------------------- helpers */

typedef struct sent {
    atomic_int done, failed;
} sent_t;

static void on_sent(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md;
    sent_t *s = opaque;
    if (err)
        atomic_fetch_add(&s->failed, 1);
    atomic_fetch_add(&s->done, 1);
}

typedef struct all_sent {
    sent_t *s;
    int n;
} all_sent_t;

static int is_all_sent(void *arg) {
    all_sent_t *a = arg;
    return atomic_load(&a->s->done) >= a->n;
}

/* Send n records to "t" and await them all: delivered and written. */
static void send_and_check(kp_producer_t *p, fake_broker_t *fb, int n) {
    sent_t s = {0};
    int64_t before = fb_log_end(fb);
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof(v), "addr-%d", i);
        kp_record_t rec = {.topic = "t", .partition = KP_PARTITION_ANY, .value = v,
                           .value_len = (int32_t)strlen(v), .timestamp = KP_TIMESTAMP_NOW};
        CHECK_OK(kp_send(p, &rec, on_sent, &s));
    }
    CHECK_OK(kp_flush(p, LIMIT_MS));
    all_sent_t a = {&s, n};
    CHECK(wait_until(is_all_sent, &a, LIMIT_MS));
    CHECK_EQ_INT(atomic_load(&s.failed), 0);
    CHECK_EQ_INT((int)(fb_log_end(fb) - before), n);
    CHECK(fb_wrote(fb, "addr-0"));
}

/* The index of the first log line from `from` on holding both words; -1. */
static long log_index(logcap_t *lc, size_t from, const char *a, const char *b) {
    long at = -1;
    pthread_mutex_lock(&lc->mu);
    for (size_t i = from; i < lc->n && at < 0; i++)
        if (strcasestr(lc->v[i].msg, a) && (!b || strcasestr(lc->v[i].msg, b)))
            at = (long)i;
    pthread_mutex_unlock(&lc->mu);
    return at;
}

static void show_log(logcap_t *lc, const char *word) {
    logcap_matches(lc, 0, 7, "log", word, NULL);
}

/* The producer's sockets to the broker on `port` (this process's sockets
 * whose peer has that port: the fake broker's own have it as their local
 * port): how many there are, and how many lack TCP_NODELAY. */
static void sockets_to(int port, int *n, int *delayed) {
    *n = *delayed = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir));) {
        int fd = atoi(e->d_name);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (e->d_name[0] == '.' || fd == dirfd(dir) ||
            getpeername(fd, (struct sockaddr *)&ss, &sl))
            continue;
        int peer = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                   : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                              : -1;
        int on = 0;
        socklen_t ol = sizeof(on);
        if (peer != port || getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol))
            continue;
        (*n)++;
        *delayed += !on;
    }
    closedir(dir);
}

/* ---------------------------------------------------------------- every address */

/* A name with two addresses, a dead one first and the broker's second: the
 * connection tries the dead one, is refused, and goes on to the next
 * address (not back to the first, not to a new lookup); the records are
 * delivered, over sockets with TCP_NODELAY. */
static void test_every_address_tried(void) {
    static const dns_rr_t rr[] = {{"two.kprod.test", T_A, "127.0.0.3"},
                                  {"two.kprod.test", T_A, "127.0.0.1"},
                                  {NULL, 0, NULL}};
    dns_t d;
    REQUIRE_EQ_INT(dns_start(&d, rr), 0);
    fake_broker_t *fb = fb_start(NULL);
    REQUIRE_NOT_NULL(fb);
    const char *b = fb_bootstrap(fb);
    int port = atoi(strrchr(b, ':') + 1);
    char boot[64], dead[64], live[64], err[512] = "";
    snprintf(boot, sizeof(boot), "two.kprod.test:%d", port);
    snprintf(dead, sizeof(dead), "connecting to 127.0.0.3:%d, address 1 of 2", port);
    snprintf(live, sizeof(live), "connecting to 127.0.0.1:%d, address 2 of 2", port);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "reconnect.backoff.ms", "10",
                                  "linger.ms", "0", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        int asked = dns_asked(&d, "two.kprod.test", T_A); /* kp_producer_new's check */
        send_and_check(p, fb, 20);
        /* TCP_NODELAY on every broker socket */
        int socks, delayed;
        sockets_to(port, &socks, &delayed);
        CHECK_GE_INT(socks, 1);
        CHECK_EQ_INT(delayed, 0);
        CHECK_OK(kp_close(p, LIMIT_MS));
        kp_producer_destroy(p);
        long i_dead = log_index(&lc, 0, "bootstrap server two.kprod.test", dead);
        long i_refused = log_index(&lc, 0, "bootstrap server two.kprod.test", "cannot connect");
        long i_live = log_index(&lc, 0, "bootstrap server two.kprod.test", live);
        CHECK_GE_INT(i_dead, 0);
        CHECK_GT_INT(i_refused, i_dead);
        CHECK_GT_INT(i_live, i_refused);
        /* the connection looked the name up once for both attempts */
        CHECK_EQ_INT(dns_asked(&d, "two.kprod.test", T_A) - asked, 1);
        if (i_dead < 0 || i_live < 0)
            show_log(&lc, "two.kprod.test");
    }
    logcap_free(&lc);
    fb_stop(fb);
    dns_stop(&d);
}

/* ---------------------------------------------------------------- IPv6 */

static int have_ipv6_loopback(void) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A broker reachable only on ::1: bootstrap.servers=[::1]:PORT, Metadata
 * advertises "::1" (no brackets, as Kafka does), the records go there (an
 * IPv6 socket with TCP_NODELAY), and the log names both connections with
 * the brackets. */
static void test_ipv6_broker(void) {
    if (!have_ipv6_loopback()) {
        printf("     test_ipv6_broker skipped: this machine has no IPv6 loopback (::1)\n");
        return;
    }
    fb_options_t o = {.listen_host = "::1"};
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    const char *boot = fb_bootstrap(fb);
    CHECK_EQ_INT(strncmp(boot, "[::1]:", 6), 0);
    char err[512] = "", as_boot[80], as_broker[80];
    snprintf(as_boot, sizeof(as_boot), "bootstrap server %s: connecting to %s", boot, boot);
    snprintf(as_broker, sizeof(as_broker), "broker 1 (%s): connecting to %s", boot, boot);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "linger.ms", "0", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        send_and_check(p, fb, 20);
        int socks, delayed;
        sockets_to(atoi(strrchr(boot, ':') + 1), &socks, &delayed);
        CHECK_GE_INT(socks, 1);
        CHECK_EQ_INT(delayed, 0);
        CHECK_OK(kp_close(p, LIMIT_MS));
        kp_producer_destroy(p);
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, as_boot, NULL), 1);
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, as_broker, NULL), 1);
        /* no line names the address without its brackets */
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "unbracketed", " ::1:", NULL), 0);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "unbracketed", "(::1:", NULL), 0);
    }
    logcap_free(&lc);
    fb_stop(fb);
}

/* ---------------------------------------------------------------- canonical names */

/* The broker listens on 127.0.0.2 (not in /etc/hosts, so its reverse
 * lookup goes to DNS). boot.kprod.test has two addresses: 127.0.0.3, whose
 * PTR names liar.kprod.test, which does not lead back to it (so the
 * address stands for itself, and is dead), and 127.0.0.2, whose PTR names
 * kafka-2.kprod.test, which leads back. */
static const dns_rr_t canon_rr[] = {
    {"boot.kprod.test", T_A, "127.0.0.3"},
    {"boot.kprod.test", T_A, "127.0.0.2"},
    {"3.0.0.127.in-addr.arpa", T_PTR, "liar.kprod.test"},
    {"liar.kprod.test", T_A, "127.0.0.9"},
    {"2.0.0.127.in-addr.arpa", T_PTR, "kafka-2.kprod.test"},
    {"kafka-2.kprod.test", T_A, "127.0.0.2"},
    {NULL, 0, NULL}};

/* client.dns.lookup=resolve_canonical_bootstrap_servers_only: the
 * bootstrap name is replaced by its addresses' canonical names (the
 * forward and the PTR queries reach the DNS server, then the canonical
 * name's own), the connection dials the canonical name, and the records
 * are delivered. A PTR name that does not lead back is not used. */
static void test_canonical_bootstrap(void) {
    dns_t d;
    REQUIRE_EQ_INT(dns_start(&d, canon_rr), 0);
    fb_options_t o = {.listen_host = "127.0.0.2"};
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    int port = atoi(strrchr(fb_bootstrap(fb), ':') + 1);
    char boot[64], first[96], canon[96], err[512] = "";
    snprintf(boot, sizeof(boot), "boot.kprod.test:%d", port);
    snprintf(first, sizeof(first), "connecting to 127.0.0.3:%d, address 1 of 2", port);
    snprintf(canon, sizeof(canon), "connecting to kafka-2.kprod.test (127.0.0.2:%d), address 2 of 2",
             port);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "client.dns.lookup",
                                  "resolve_canonical_bootstrap_servers_only",
                                  "reconnect.backoff.ms", "10", "linger.ms", "0", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        send_and_check(p, fb, 20);
        CHECK_OK(kp_close(p, LIMIT_MS));
        kp_producer_destroy(p);
        CHECK_GE_INT(dns_asked(&d, "2.0.0.127.in-addr.arpa", T_PTR), 1);
        CHECK_GE_INT(dns_asked(&d, "3.0.0.127.in-addr.arpa", T_PTR), 1);
        CHECK_GE_INT(dns_asked(&d, "kafka-2.kprod.test", T_A), 1);
        CHECK_GE_INT(dns_asked(&d, "liar.kprod.test", T_A), 1);
        long i_first = log_index(&lc, 0, "bootstrap server boot.kprod.test", first);
        long i_canon = log_index(&lc, 0, "bootstrap server boot.kprod.test", canon);
        CHECK_GE_INT(i_first, 0);
        CHECK_GT_INT(i_canon, i_first);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, "liar used", "connecting to liar", NULL), 0);
        if (i_first < 0 || i_canon < 0)
            show_log(&lc, "connecting to");
    }
    logcap_free(&lc);
    fb_stop(fb);
    dns_stop(&d);
}

/* The same names under the default, use_all_dns_ips: no reverse lookup,
 * the bootstrap name's own addresses are dialled. */
static void test_default_no_reverse_lookup(void) {
    dns_t d;
    REQUIRE_EQ_INT(dns_start(&d, canon_rr), 0);
    fb_options_t o = {.listen_host = "127.0.0.2"};
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    int port = atoi(strrchr(fb_bootstrap(fb), ':') + 1);
    char boot[64], plain[96], err[512] = "";
    snprintf(boot, sizeof(boot), "boot.kprod.test:%d", port);
    snprintf(plain, sizeof(plain), "connecting to 127.0.0.2:%d, address 2 of 2", port);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "reconnect.backoff.ms", "10",
                                  "linger.ms", "0", NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        send_and_check(p, fb, 5);
        CHECK_OK(kp_close(p, LIMIT_MS));
        kp_producer_destroy(p);
        CHECK_EQ_INT(dns_asked(&d, "2.0.0.127.in-addr.arpa", T_PTR), 0);
        CHECK_EQ_INT(dns_asked(&d, "kafka-2.kprod.test", T_A), 0);
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "bootstrap server boot.kprod.test", plain,
                                    NULL),
                     1);
    }
    logcap_free(&lc);
    fb_stop(fb);
    dns_stop(&d);
}

/* As the Java client, a literal bootstrap server is looked up in reverse
 * too: bootstrap.servers=127.0.0.2:PORT dials kafka-2.kprod.test. */
static void test_canonical_literal(void) {
    dns_t d;
    REQUIRE_EQ_INT(dns_start(&d, canon_rr), 0);
    fb_options_t o = {.listen_host = "127.0.0.2"};
    fake_broker_t *fb = fb_start(&o);
    REQUIRE_NOT_NULL(fb);
    int port = atoi(strrchr(fb_bootstrap(fb), ':') + 1);
    char canon[96], err[512] = "";
    snprintf(canon, sizeof(canon), "connecting to kafka-2.kprod.test (127.0.0.2:%d), address 1 of 1",
             port);
    logcap_t lc;
    logcap_init(&lc);
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), fb_bootstrap(fb), "client.dns.lookup",
                                  "resolve_canonical_bootstrap_servers_only", "linger.ms", "0",
                                  NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        send_and_check(p, fb, 5);
        CHECK_OK(kp_close(p, LIMIT_MS));
        kp_producer_destroy(p);
        CHECK_GE_INT(dns_asked(&d, "2.0.0.127.in-addr.arpa", T_PTR), 1);
        if (!CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "bootstrap server 127.0.0.2", canon,
                                         NULL),
                          1))
            show_log(&lc, "connecting to");
    }
    logcap_free(&lc);
    fb_stop(fb);
    dns_stop(&d);
}

/* ---------------------------------------------------------------- setup timeout */

/* A listener that completes the TCP handshake and never answers: each
 * attempt is given up at socket.connection.setup.timeout.ms, doubled per
 * failure up to .max.ms, with +-20% jitter (Java's exponential connection
 * setup timeout, KIP-601). Driven on the producer clock: for each attempt
 * the test moves the clock to just below the lower bound (the connection
 * must still be up) and then to the upper bound (it must be closed). */
typedef struct closes {
    logcap_t *lc;
    int n;
} closes_t;

static int count_closes(logcap_t *lc) {
    return logcap_matches(lc, 0, 7, NULL, "no answer within socket.connection.setup.timeout.ms",
                          NULL);
}

static int closes_reached(void *arg) {
    closes_t *c = arg;
    return count_closes(c->lc) >= c->n;
}

typedef struct listener {
    int fd;
    int conns[8]; /* accepted, held open (never answered) */
    int n;
} listener_t;

static int accept_one(void *arg) {
    listener_t *l = arg;
    int fd = l->n < 8 ? accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) : -1;
    if (fd < 0)
        return 0;
    l->conns[l->n++] = fd;
    return 1;
}

static void test_setup_timeout_grows(void) {
    listener_t l = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    REQUIRE(l.fd >= 0);
    REQUIRE(!bind(l.fd, (struct sockaddr *)&a, sizeof(a)) && !listen(l.fd, 16) &&
            !getsockname(l.fd, (struct sockaddr *)&a, &al));
    char boot[64], err[512] = "";
    snprintf(boot, sizeof(boot), "127.0.0.1:%d", ntohs(a.sin_port));
    logcap_t lc;
    logcap_init(&lc);
    kp_test_clock_set(1000000);
    int64_t real0 = test_now_ms();
    /* no reconnect backoff: each attempt starts at the clock value of the
     * close before it, so the test knows when each one started */
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot,
                                  "socket.connection.setup.timeout.ms", "1000",
                                  "socket.connection.setup.timeout.max.ms", "4000",
                                  "reconnect.backoff.ms", "0", "reconnect.backoff.max.ms", "0",
                                  NULL);
    if (!CHECK_NOT_NULL(p)) {
        fprintf(stderr, "    error: %s\n", err);
    } else {
        static const int64_t expected[] = {1000, 2000, 4000, 4000, 4000};
        for (int k = 0; k < 5; k++) {
            int64_t t = expected[k], lo = t * 8 / 10, hi = t * 12 / 10;
            /* the attempt has connected (its deadline is set) */
            if (!CHECK(wait_until(accept_one, &l, LIMIT_MS)))
                break;
            kp_test_clock_advance(lo - 1);
            kp_wake(p);
            /* the one negative wait of this test: no close comes below the
             * lower bound (it would come within milliseconds) */
            test_sleep_ms(100);
            if (!CHECK_EQ_INT(count_closes(&lc), k))
                fprintf(stderr, "    attempt %d given up before %lld ms\n", k + 1,
                        (long long)(lo - 1));
            kp_test_clock_advance(hi - (lo - 1));
            kp_wake(p);
            closes_t c = {&lc, k + 1};
            if (!CHECK(wait_until(closes_reached, &c, LIMIT_MS)))
                fprintf(stderr, "    attempt %d still waiting at %lld ms\n", k + 1,
                        (long long)hi);
        }
        CHECK_OK(kp_close(p, 1000));
        kp_producer_destroy(p);
        CHECK_LT_INT(test_now_ms() - real0, LIMIT_MS);
    }
    kp_test_clock_set(-1);
    for (int i = 0; i < l.n; i++)
        close(l.conns[i]);
    close(l.fd);
    logcap_free(&lc);
}

TEST_MAIN(TEST(test_every_address_tried), TEST(test_ipv6_broker), TEST(test_canonical_bootstrap),
          TEST(test_default_no_reverse_lookup), TEST(test_canonical_literal),
          TEST(test_setup_timeout_grows))

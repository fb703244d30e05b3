/*
 * test_fakebroker_txn — the fake broker's transactions (issue 14), driven
 * with raw requests from a small socket client in this file.
 *
 * Why against the fake broker: librdkafka 2.15's mock cluster has no zombie
 * fencing, never aborts a transaction past its timeout, has no transactions
 * v2 (EndTxn v5, Produce v12, the transaction.version feature) and does not
 * store TxnOffsetCommit's offsets. kprod's transaction manager is tested
 * against this peer for those; these tests show the peer does what Kafka
 * does there, request by request, so a producer test failing against it
 * points at the producer.
 *
 * The requests are built here by hand (buf.h's writer, in the flexible form
 * from the version the schemas say), not with src/proto's encoders: the
 * peer and the client under test must not share a codec's mistakes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "fakebroker.h"
#include "test.h"

/* Kafka error codes, by name */
enum {
    ERR_NONE = 0,
    ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    ERR_NOT_COORDINATOR = 16,
    ERR_UNSUPPORTED_VERSION = 35,
    ERR_INVALID_REQUEST = 42,
    ERR_INVALID_PRODUCER_EPOCH = 47,
    ERR_INVALID_TXN_STATE = 48,
    ERR_INVALID_PRODUCER_ID_MAPPING = 49,
    ERR_CONCURRENT_TRANSACTIONS = 51,
    ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    ERR_OPERATION_NOT_ATTEMPTED = 55,
    ERR_PRODUCER_FENCED = 90,
    ERR_TRANSACTION_ABORTABLE = 120,
};

#define TID "txn-1"
#define TOPIC "t"

/* ---------------------------------------------------------------- the client */

typedef struct cli {
    int fd;
    int32_t corrid;
    int16_t api;
    int flex;
    kp_wbuf_t w;      /* the request being built */
    uint8_t *resp;    /* the last answer's frame */
    kp_rbuf_t r;      /* its body, after the response header */
} cli_t;

static int cli_open(cli_t *c, fake_broker_t *fb) {
    memset(c, 0, sizeof(*c));
    const char *b = fb_bootstrap(fb);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(strrchr(b, ':') + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    return c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -1;
}

static void cli_close(cli_t *c) {
    if (c->fd >= 0)
        close(c->fd);
    kp_wbuf_free(&c->w);
    free(c->resp);
    c->fd = -1;
    c->resp = NULL;
}

/* Start a request: header v1, or v2 (tagged fields) when flex. */
static kp_wbuf_t *req(cli_t *c, int16_t api, int16_t ver, int flex) {
    kp_wbuf_free(&c->w);
    kp_wbuf_init(&c->w, 256);
    c->api = api;
    c->flex = flex;
    kp_w_i32(&c->w, 0); /* size */
    kp_w_i16(&c->w, api);
    kp_w_i16(&c->w, ver);
    kp_w_i32(&c->w, ++c->corrid);
    kp_w_str(&c->w, "fbtxn");
    c->w.flex = flex;
    kp_w_tags(&c->w);
    return &c->w;
}

/* Send the request built. */
static int cli_send(cli_t *c) {
    kp_w_tags(&c->w); /* the body's own tagged fields (flexible only) */
    kp_wbuf_put_i32(&c->w, 0, (int32_t)(c->w.len - 4));
    return !c->w.err && send(c->fd, c->w.p, c->w.len, MSG_NOSIGNAL) == (ssize_t)c->w.len ? 0 : -1;
}

static int read_full(int fd, uint8_t *p, size_t n, int timeout_ms) {
    int64_t deadline = test_now_ms() + timeout_ms;
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - test_now_ms());
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t got = recv(fd, p, n, 0);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Receive the answer to request corrid within timeout_ms; c->r is its body. */
static int cli_recv(cli_t *c, int32_t corrid, int timeout_ms) {
    uint8_t sz[4];
    free(c->resp);
    c->resp = NULL;
    if (read_full(c->fd, sz, 4, timeout_ms))
        return -1;
    uint32_t n = kp_get_be32(sz);
    if (n < 4 || n > (1u << 24) || !(c->resp = malloc(n)) || read_full(c->fd, c->resp, n, 5000))
        return -1;
    kp_rbuf_init(&c->r, c->resp, n, 0);
    if (kp_r_i32(&c->r) != corrid)
        return -1;
    c->r.flex = c->flex;
    if (c->api != FB_API_APIVERSIONS)
        kp_r_skip_tags(&c->r); /* response header v1 */
    return 0;
}

/* Send, and receive the answer. */
static int call(cli_t *c) { return cli_send(c) || cli_recv(c, c->corrid, 5000) ? -1 : 0; }

/* ---------------------------------------------------------------- requests */

typedef struct pe {
    int64_t pid;
    int16_t epoch;
} pe_t;

static int16_t initpid(cli_t *c, int16_t ver, const char *tid, int32_t timeout_ms, pe_t in, pe_t *out) {
    kp_wbuf_t *w = req(c, FB_API_INITPID, ver, ver >= 2);
    kp_w_str(w, tid);
    kp_w_i32(w, timeout_ms);
    if (ver >= 3) {
        kp_w_i64(w, in.pid);
        kp_w_i16(w, in.epoch);
    }
    if (call(c))
        return -999;
    kp_r_i32(&c->r); /* throttle */
    int16_t err = kp_r_i16(&c->r);
    pe_t got = {kp_r_i64(&c->r), kp_r_i16(&c->r)};
    if (out)
        *out = got;
    return c->r.err ? -998 : err;
}

static pe_t init_ok(cli_t *c, const char *tid, int32_t timeout_ms) {
    pe_t pe = {-1, -1};
    CHECK_EQ_INT(initpid(c, 4, tid, timeout_ms, pe, &pe), ERR_NONE);
    return pe;
}

/* AddPartitionsToTxn for partitions parts[0..n) of topic; errs[i] their answers. */
static int16_t addparts_n(cli_t *c, int16_t ver, const char *tid, pe_t pe, const char *topic,
                          const int32_t *parts, int n, int16_t *errs) {
    kp_wbuf_t *w = req(c, 24, ver, ver >= 3);
    kp_w_str(w, tid);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_arraylen(w, 1);
    kp_w_str(w, topic);
    kp_w_arraylen(w, n);
    for (int i = 0; i < n; i++)
        kp_w_i32(w, parts[i]);
    kp_w_tags(w);
    if (call(c))
        return -999;
    kp_r_i32(&c->r);
    if (kp_r_arraylen(&c->r, 1) != 1)
        return -997;
    const char *s;
    kp_r_str(&c->r, &s);
    if (kp_r_arraylen(&c->r, 1) != n)
        return -997;
    for (int i = 0; i < n; i++) {
        if (kp_r_i32(&c->r) != parts[i])
            return -996;
        errs[i] = kp_r_i16(&c->r);
        kp_r_skip_tags(&c->r);
    }
    return c->r.err ? -998 : errs[0];
}

static int16_t addparts(cli_t *c, int16_t ver, pe_t pe) {
    int32_t p0 = 0;
    int16_t e;
    return addparts_n(c, ver, TID, pe, TOPIC, &p0, 1, &e);
}

static int16_t addoffsets(cli_t *c, int16_t ver, pe_t pe, const char *group) {
    kp_wbuf_t *w = req(c, 25, ver, ver >= 3);
    kp_w_str(w, TID);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_str(w, group);
    if (call(c))
        return -999;
    kp_r_i32(&c->r);
    int16_t err = kp_r_i16(&c->r);
    return c->r.err ? -998 : err;
}

typedef struct txoff {
    const char *group, *member, *instance, *topic, *metadata;
    int32_t generation, partition, leader_epoch;
    int64_t offset;
} txoff_t;

static int16_t txncommit(cli_t *c, int16_t ver, pe_t pe, const txoff_t *o) {
    kp_wbuf_t *w = req(c, 28, ver, ver >= 3);
    kp_w_str(w, TID);
    kp_w_str(w, o->group);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    if (ver >= 3) {
        kp_w_i32(w, o->generation);
        kp_w_str(w, o->member);
        kp_w_str(w, o->instance);
    }
    kp_w_arraylen(w, 1);
    kp_w_str(w, o->topic);
    kp_w_arraylen(w, 1);
    kp_w_i32(w, o->partition);
    kp_w_i64(w, o->offset);
    if (ver >= 2)
        kp_w_i32(w, o->leader_epoch);
    kp_w_str(w, o->metadata);
    kp_w_tags(w);
    kp_w_tags(w);
    if (call(c))
        return -999;
    kp_r_i32(&c->r);
    const char *s;
    if (kp_r_arraylen(&c->r, 1) != 1 || kp_r_str(&c->r, &s) < 0 || kp_r_arraylen(&c->r, 1) != 1 ||
        kp_r_i32(&c->r) != o->partition)
        return -997;
    int16_t err = kp_r_i16(&c->r);
    return c->r.err ? -998 : err;
}

static int16_t endtxn(cli_t *c, int16_t ver, pe_t pe, int commit, pe_t *next) {
    kp_wbuf_t *w = req(c, 26, ver, ver >= 3);
    kp_w_str(w, TID);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_i8(w, (int8_t)commit);
    if (call(c))
        return -999;
    kp_r_i32(&c->r);
    int16_t err = kp_r_i16(&c->r);
    if (ver >= 5 && next) {
        next->pid = kp_r_i64(&c->r);
        next->epoch = kp_r_i16(&c->r);
    }
    return c->r.err ? -998 : err;
}

#define KP_RB_HEADER 61 /* RecordBatch v2's header */

/* A RecordBatch v2 of n records "<prefix>-<i>", transactional or not. */
static void batch(kp_wbuf_t *b, pe_t pe, int32_t seq, int n, int transactional, const char *prefix) {
    kp_wbuf_init(b, 256);
    uint8_t *h = kp_wbuf_reserve(b, KP_RB_HEADER);
    memset(h, 0, KP_RB_HEADER);
    for (int i = 0; i < n; i++) {
        char v[64];
        int vl = snprintf(v, sizeof(v), "%s-%d", prefix, i);
        uint8_t rec[96], *p = rec + 1;
        *p++ = 0;                 /* attributes */
        p += kp_put_varint(p, 0); /* timestamp delta */
        p += kp_put_varint(p, i); /* offset delta */
        p += kp_put_varint(p, -1); /* key: null */
        p += kp_put_varint(p, vl);
        memcpy(p, v, (size_t)vl);
        p += vl;
        p += kp_put_varint(p, 0); /* headers */
        rec[0] = (uint8_t)kp_zigzag((int64_t)(p - rec - 1));
        kp_w_bytes_raw(b, rec, (size_t)(p - rec));
    }
    h = b->p;
    kp_put_be32(h + 8, (uint32_t)(b->len - 12));
    h[16] = 2;
    kp_put_be16(h + 21, transactional ? 0x10 : 0);
    kp_put_be32(h + 23, (uint32_t)(n - 1));
    kp_put_be64(h + 43, (uint64_t)pe.pid);
    kp_put_be16(h + 51, (uint16_t)pe.epoch);
    kp_put_be32(h + 53, (uint32_t)seq);
    kp_put_be32(h + 57, (uint32_t)n);
}
/* Produce one batch to partition `part` of TOPIC; *base its offset. */
static int16_t produce_to(cli_t *c, int16_t ver, const char *tid, int32_t part, pe_t pe, int32_t seq,
                          int n, const char *prefix, int64_t *base) {
    kp_wbuf_t b;
    batch(&b, pe, seq, n, 1, prefix);
    kp_wbuf_t *w = req(c, FB_API_PRODUCE, ver, ver >= 9);
    kp_w_str(w, tid);
    kp_w_i16(w, -1);
    kp_w_i32(w, 5000);
    kp_w_arraylen(w, 1);
    kp_w_str(w, TOPIC);
    kp_w_arraylen(w, 1);
    kp_w_i32(w, part);
    kp_w_byteslen(w, (int32_t)b.len);
    kp_w_bytes_raw(w, b.p, b.len);
    kp_w_tags(w);
    kp_w_tags(w);
    kp_wbuf_free(&b);
    if (call(c))
        return -999;
    const char *s;
    if (kp_r_arraylen(&c->r, 1) != 1 || kp_r_str(&c->r, &s) < 0 || kp_r_arraylen(&c->r, 1) != 1 ||
        kp_r_i32(&c->r) != part)
        return -997;
    int16_t err = kp_r_i16(&c->r);
    int64_t off = kp_r_i64(&c->r);
    if (base)
        *base = off;
    return c->r.err ? -998 : err;
}

static int16_t produce(cli_t *c, int16_t ver, pe_t pe, int32_t seq, int n, const char *prefix) {
    return produce_to(c, ver, TID, 0, pe, seq, n, prefix, NULL);
}

/* ---------------------------------------------------------------- helpers */

static fake_broker_t *start(int16_t txn_version, int16_t start_epoch) {
    fb_options_t o = {.topic = TOPIC,
                      .transactions = 1,
                      .txn_version = txn_version,
                      .txn_start_epoch = start_epoch};
    return fb_start(&o);
}

static fb_txn_info_t txn_info(fake_broker_t *fb) {
    fb_txn_info_t t = {.pid = -1};
    CHECK_EQ_INT(fb_txn(fb, TID, &t), 0);
    return t;
}

/* The log's batches; the caller frees. */
static fb_batch_info_t *batches(fake_broker_t *fb, size_t *n) {
    fb_batch_info_t *b = NULL;
    CHECK_EQ_INT(fb_log_batches(fb, &b, n), 0);
    return b;
}

static void check_marker(const fb_batch_info_t *b, int64_t pid, int16_t epoch, int commit) {
    CHECK_EQ_INT(b->attributes, 0x30);
    CHECK_EQ_INT(b->marker, commit);
    CHECK_EQ_U64((uint64_t)b->pid, (uint64_t)pid);
    CHECK_EQ_INT(b->epoch, epoch);
    CHECK_EQ_INT(b->count, 1);
}

/* ---------------------------------------------------------------- the tests */

/* ApiVersions v3 lists the transactional APIs and, with a
 * transaction.version, the finalized feature; without transactions the
 * broker is what it was (v3 refused). */
static int16_t apiversions(cli_t *c, int16_t ver, int16_t *endtxn_max, int16_t *produce_max,
                           int16_t *tv_level) {
    kp_wbuf_t *w = req(c, FB_API_APIVERSIONS, ver, ver >= 3);
    if (ver >= 3) {
        kp_w_str(w, "fbtxn");
        kp_w_str(w, "1");
    }
    if (call(c))
        return -999;
    int16_t err = kp_r_i16(&c->r);
    if (err == ERR_UNSUPPORTED_VERSION)
        return err;
    *endtxn_max = *produce_max = *tv_level = -1;
    int32_t n = kp_r_arraylen(&c->r, 6);
    for (int32_t i = 0; i < n && !c->r.err; i++) {
        int16_t key = kp_r_i16(&c->r), min = kp_r_i16(&c->r), max = kp_r_i16(&c->r);
        (void)min;
        kp_r_skip_tags(&c->r);
        if (key == 26)
            *endtxn_max = max;
        if (key == 0)
            *produce_max = max;
    }
    kp_r_i32(&c->r);
    uint64_t nt = kp_r_tag_count(&c->r);
    for (uint64_t i = 0; i < nt; i++) {
        uint64_t tag;
        kp_rbuf_t v;
        if (kp_r_tag(&c->r, &tag, &v))
            break;
        if (tag != 2)
            continue;
        int32_t nf = kp_r_arraylen(&v, 5);
        for (int32_t k = 0; k < nf; k++) {
            const char *s;
            int32_t l = kp_r_str(&v, &s);
            int16_t maxl = kp_r_i16(&v);
            kp_r_i16(&v);
            kp_r_skip_tags(&v);
            if (!v.err && l == 19 && !memcmp(s, "transaction.version", 19))
                *tv_level = maxl;
        }
    }
    return c->r.err ? -998 : err;
}

static void test_apiversions(void) {
    int16_t em, pm, tv;
    fake_broker_t *fb = start(2, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    CHECK_EQ_INT(apiversions(&c, 3, &em, &pm, &tv), ERR_NONE);
    CHECK_EQ_INT(em, 5);
    CHECK_EQ_INT(pm, 12);
    CHECK_EQ_INT(tv, 2);
    CHECK_EQ_INT(apiversions(&c, 2, &em, &pm, &tv), ERR_NONE); /* classic, no features */
    CHECK_EQ_INT(tv, -1);
    cli_close(&c);
    fb_stop(fb);

    fb = start(0, 0); /* transactions, no feature: EndTxn v5 not offered */
    REQUIRE_NOT_NULL(fb);
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    CHECK_EQ_INT(apiversions(&c, 3, &em, &pm, &tv), ERR_NONE);
    CHECK_EQ_INT(em, 4);
    CHECK_EQ_INT(tv, -1);
    cli_close(&c);
    fb_stop(fb);

    fb = fb_start(NULL); /* no transactions: today's broker */
    REQUIRE_NOT_NULL(fb);
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    CHECK_EQ_INT(apiversions(&c, 3, &em, &pm, &tv), ERR_UNSUPPORTED_VERSION);
    CHECK_EQ_INT(apiversions(&c, 2, &em, &pm, &tv), ERR_NONE);
    CHECK_EQ_INT(em, -1);
    CHECK_EQ_INT(pm, 8);
    cli_close(&c);
    fb_stop(fb);
}

/* FindCoordinator v0-4, both key types: itself. */
static void test_find_coordinator(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    int port = atoi(strrchr(fb_bootstrap(fb), ':') + 1);
    for (int16_t ver = 0; ver <= 4; ver++) {
        for (int8_t type = 0; type <= (ver ? 2 : 0); type++) {
            kp_wbuf_t *w = req(&c, FB_API_FIND_COORDINATOR, ver, ver >= 3);
            if (ver <= 3) {
                kp_w_str(w, "k");
                if (ver >= 1)
                    kp_w_i8(w, type);
            } else {
                kp_w_i8(w, type);
                kp_w_arraylen(w, 1);
                kp_w_str(w, "k");
            }
            REQUIRE_EQ_INT(call(&c), 0);
            const char *s;
            int16_t err;
            int32_t node, p;
            if (ver >= 1)
                kp_r_i32(&c.r);
            if (ver <= 3) {
                err = kp_r_i16(&c.r);
                if (ver >= 1)
                    kp_r_str(&c.r, &s);
                node = kp_r_i32(&c.r);
                kp_r_str(&c.r, &s);
                p = kp_r_i32(&c.r);
            } else {
                CHECK_EQ_INT(kp_r_arraylen(&c.r, 1), 1);
                CHECK_EQ_INT(kp_r_str(&c.r, &s), 1);
                node = kp_r_i32(&c.r);
                kp_r_str(&c.r, &s);
                p = kp_r_i32(&c.r);
                err = kp_r_i16(&c.r);
            }
            CHECK(!c.r.err);
            CHECK_EQ_INT(err, type <= 1 ? ERR_NONE : ERR_INVALID_REQUEST);
            CHECK_EQ_INT(node, type <= 1 ? 1 : -1);
            CHECK_EQ_INT(p, type <= 1 ? port : -1);
        }
    }
    fb_stats_t st = fb_stats(fb);
    CHECK_EQ_INT(st.coordinator_lookups[0], 5);
    CHECK_EQ_INT(st.coordinator_lookups[1], 4);
    CHECK_EQ_INT(st.bad_requests, 0);
    cli_close(&c);
    fb_stop(fb);
}

/* Transactions v1: AddPartitionsToTxn before Produce, markers after the
 * data, retries of EndTxn, the checks on Produce. */
static void test_commit_abort(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 60000);
    CHECK_EQ_U64((uint64_t)pe.pid, 1000);
    CHECK_EQ_INT(pe.epoch, 0);

    /* not added: refused */
    CHECK_EQ_INT(produce(&c, 9, pe, 0, 3, "early"), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(fb_stats(fb).not_in_txn, 1);
    /* another partition than 0: unknown, and the rest not attempted */
    int32_t parts[2] = {0, 1};
    int16_t errs[2];
    CHECK_EQ_INT(addparts_n(&c, 3, TID, pe, TOPIC, parts, 2, errs), ERR_OPERATION_NOT_ATTEMPTED);
    CHECK_EQ_INT(errs[1], ERR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK(!txn_info(fb).open);

    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_NONE);
    CHECK(txn_info(fb).open);
    CHECK_EQ_INT(produce(&c, 9, pe, 0, 3, "one"), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 8, pe, 3, 2, "two"), ERR_NONE); /* classic form too */
    /* a wrong or no transactional id */
    CHECK_EQ_INT(produce_to(&c, 9, "other", 0, pe, 5, 1, "x", NULL),
                 ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    CHECK_EQ_INT(produce_to(&c, 9, NULL, 0, pe, 5, 1, "x", NULL),
                 ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    CHECK_EQ_INT(fb_stats(fb).txn_id_mismatch, 2);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NONE);              /* a retry */
    CHECK_EQ_INT(endtxn(&c, 1, pe, 0, NULL), ERR_INVALID_TXN_STATE); /* not what it was */

    /* the next transaction of the same epoch continues the sequence */
    CHECK_EQ_INT(addparts(&c, 0, pe), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 3, pe, 5, 1, "three"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 0, pe, 0, NULL), ERR_NONE);
    /* nothing open: an abort is fine, a commit is not */
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(fb_stats(fb).txn_commits, 1);
    CHECK_EQ_INT(fb_stats(fb).txn_aborts, 1);

    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 5);
    CHECK_EQ_INT(b[0].attributes, 0x10);
    CHECK_EQ_INT(b[0].base_seq, 0);
    CHECK_EQ_INT(b[0].count, 3);
    CHECK_EQ_INT(b[0].marker, -1);
    CHECK_EQ_INT(b[1].base_seq, 3);
    check_marker(&b[2], pe.pid, 0, 1);
    CHECK_EQ_INT(b[2].base_offset, 5);
    CHECK_EQ_INT(b[3].base_seq, 5);
    CHECK_EQ_INT(b[3].base_offset, 6);
    check_marker(&b[4], pe.pid, 0, 0);
    free(b);
    CHECK_EQ_INT(fb_log_end(fb), 8);
    CHECK(fb_wrote(fb, "one-2"));
    fb_txn_info_t t = txn_info(fb);
    CHECK_EQ_INT(t.commits, 1);
    CHECK_EQ_INT(t.aborts, 1);
    CHECK_EQ_INT(t.timeout_ms, 60000);
    CHECK_EQ_INT(fb_stats(fb).bad_requests, 0);
    cli_close(&c);
    fb_stop(fb);
}

/* A second producer with the same transactional id fences the first: its
 * open transaction is aborted, its requests are answered PRODUCER_FENCED
 * (INVALID_PRODUCER_EPOCH in the old versions and in Produce). */
static void test_fencing(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t a, z;
    REQUIRE_EQ_INT(cli_open(&a, fb), 0);
    REQUIRE_EQ_INT(cli_open(&z, fb), 0);
    pe_t old = init_ok(&a, TID, 60000);
    CHECK_EQ_INT(addparts(&a, 3, old), ERR_NONE);
    CHECK_EQ_INT(produce(&a, 9, old, 0, 2, "zombie"), ERR_NONE);

    pe_t cur = init_ok(&z, TID, 60000);
    CHECK_EQ_U64((uint64_t)cur.pid, (uint64_t)old.pid); /* one producer id per transactional id */
    CHECK_EQ_INT(cur.epoch, 1);
    CHECK_EQ_INT(fb_stats(fb).txn_fenced_aborts, 1);

    CHECK_EQ_INT(addparts(&a, 3, old), ERR_PRODUCER_FENCED);
    CHECK_EQ_INT(addparts(&a, 1, old), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(addoffsets(&a, 3, old, "g"), ERR_PRODUCER_FENCED);
    txoff_t o = {.group = "g", .member = "", .topic = "in", .partition = 0, .offset = 1,
                 .generation = -1, .leader_epoch = -1};
    CHECK_EQ_INT(txncommit(&a, 3, old, &o), ERR_PRODUCER_FENCED);
    CHECK_EQ_INT(endtxn(&a, 3, old, 1, NULL), ERR_PRODUCER_FENCED);
    CHECK_EQ_INT(endtxn(&a, 1, old, 0, NULL), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(produce(&a, 9, old, 2, 1, "late"), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(initpid(&a, 4, TID, 60000, old, NULL), ERR_PRODUCER_FENCED);
    CHECK_EQ_INT(initpid(&a, 3, TID, 60000, old, NULL), ERR_INVALID_PRODUCER_EPOCH);
    pe_t wrong = {old.pid + 50, old.epoch};
    CHECK_EQ_INT(initpid(&a, 4, TID, 60000, wrong, NULL), ERR_INVALID_PRODUCER_ID_MAPPING);
    CHECK(!fb_wrote(fb, "late-0"));

    /* the new epoch starts its sequence at 0 */
    CHECK_EQ_INT(addparts(&z, 3, cur), ERR_NONE);
    CHECK_EQ_INT(produce(&z, 9, cur, 0, 1, "fresh"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&z, 3, cur, 1, NULL), ERR_NONE);

    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 4);
    CHECK_EQ_INT(b[0].epoch, 0);
    check_marker(&b[1], old.pid, 1, 0); /* the zombie's transaction, aborted at the new epoch */
    CHECK_EQ_INT(b[2].epoch, 1);
    CHECK_EQ_INT(b[2].base_seq, 0);
    check_marker(&b[3], cur.pid, 1, 1);
    free(b);
    CHECK_GE_INT(fb_stats(fb).fenced, 9);
    cli_close(&a);
    cli_close(&z);
    fb_stop(fb);
}

/* KIP-360: InitProducerId with the current pid and epoch bumps it,
 * aborting the open transaction. */
static void test_epoch_bump(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 60000), next;
    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 9, pe, 0, 1, "a"), ERR_NONE);
    CHECK_EQ_INT(initpid(&c, 3, TID, 60000, pe, &next), ERR_NONE);
    CHECK_EQ_U64((uint64_t)next.pid, (uint64_t)pe.pid);
    CHECK_EQ_INT(next.epoch, 1);
    CHECK(!txn_info(fb).open);
    CHECK_EQ_INT(produce(&c, 9, next, 0, 1, "b"), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(addparts(&c, 3, next), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 9, next, 0, 1, "b"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 3, next, 1, NULL), ERR_NONE);
    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 4);
    check_marker(&b[1], pe.pid, 1, 0);
    check_marker(&b[3], pe.pid, 1, 1);
    free(b);
    cli_close(&c);
    fb_stop(fb);
}

static int timed_out(void *arg) {
    fb_txn_info_t t;
    return fb_txn(arg, TID, &t) == 0 && t.timeouts > 0;
}

/* The broker aborts a transaction open longer than its timeout, on its own
 * thread; the old epoch's requests then get the abortable answers. */
static void test_timeout_abort(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 300);
    int64_t t0 = test_now_ms();
    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 9, pe, 0, 2, "slow"), ERR_NONE);
    CHECK(txn_info(fb).open);
    REQUIRE(wait_until(timed_out, fb, 5000)); /* no request wakes it */
    CHECK_GE_INT(test_now_ms() - t0, 300);
    fb_txn_info_t t = txn_info(fb);
    CHECK(!t.open);
    CHECK_EQ_INT(t.epoch, 1);
    CHECK_EQ_INT(t.last_epoch, 0);
    CHECK_EQ_INT(fb_stats(fb).txn_timeouts, 1);
    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 2);
    check_marker(&b[1], pe.pid, 1, 0);
    free(b);

    CHECK_EQ_INT(produce(&c, 11, pe, 2, 1, "after"), ERR_TRANSACTION_ABORTABLE);
    CHECK_EQ_INT(produce(&c, 10, pe, 2, 1, "after"), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(addoffsets(&c, 3, pe, "g"), ERR_TRANSACTION_ABORTABLE);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_TRANSACTION_ABORTABLE);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 0, NULL), ERR_NONE); /* the abort, as if a retry */
    pe_t next;
    CHECK_EQ_INT(initpid(&c, 4, TID, 300, pe, &next), ERR_NONE);
    CHECK_EQ_U64((uint64_t)next.pid, (uint64_t)pe.pid);
    CHECK_EQ_INT(next.epoch, 2);
    CHECK_EQ_INT(txn_info(fb).last_epoch, -1);
    CHECK_EQ_INT(addparts(&c, 3, next), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 11, next, 0, 1, "again"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 3, next, 1, NULL), ERR_NONE);
    CHECK_EQ_INT(txn_info(fb).timeouts, 1);
    cli_close(&c);
    fb_stop(fb);
}

/* Transactions v2: Produce v12 joins the partition, EndTxn v5 bumps the
 * epoch and hands out the next; a retry of it answers the same. Without
 * the feature, Produce v12 does not join (a client must gate on the
 * feature, not on the version). */
static void test_tv2(void) {
    fake_broker_t *fb = start(2, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 60000), next = {0, 0}, again = {0, 0};
    CHECK_EQ_INT(produce(&c, 11, pe, 0, 2, "v11"), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(produce(&c, 12, pe, 0, 2, "v12"), ERR_NONE);
    CHECK_EQ_INT(fb_stats(fb).implicit_adds, 1);
    CHECK_EQ_INT(endtxn(&c, 5, pe, 1, &next), ERR_NONE);
    CHECK_EQ_U64((uint64_t)next.pid, (uint64_t)pe.pid);
    CHECK_EQ_INT(next.epoch, 1);
    CHECK_EQ_INT(endtxn(&c, 5, pe, 1, &again), ERR_NONE); /* a retry */
    CHECK_EQ_INT(again.epoch, 1);
    CHECK_EQ_INT(endtxn(&c, 5, pe, 0, NULL), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(produce(&c, 12, pe, 2, 1, "old"), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(produce(&c, 12, next, 0, 1, "new"), ERR_NONE); /* sequence 0 again */
    CHECK_EQ_INT(endtxn(&c, 5, next, 0, &again), ERR_NONE);
    CHECK_EQ_INT(again.epoch, 2);
    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 4);
    check_marker(&b[1], pe.pid, 1, 1);
    CHECK_EQ_INT(b[2].epoch, 1);
    check_marker(&b[3], pe.pid, 2, 0);
    free(b);
    cli_close(&c);
    fb_stop(fb);

    fb = start(1, 0); /* transaction.version 1: v12 offered, no joining */
    REQUIRE_NOT_NULL(fb);
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe = init_ok(&c, TID, 60000);
    CHECK_EQ_INT(produce(&c, 12, pe, 0, 1, "v12"), ERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(fb_stats(fb).implicit_adds, 0);
    cli_close(&c);
    fb_stop(fb);
}

/* The epoch running out under transactions v2: EndTxn v5 answers a new
 * producer id at epoch 0; a retry from the old id gets it too. */
static void test_tv2_exhaustion(void) {
    fake_broker_t *fb = start(2, 32765);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 60000), e1, e2, e3;
    CHECK_EQ_INT(pe.epoch, 32765);
    CHECK_EQ_INT(produce(&c, 12, pe, 0, 1, "a"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 5, pe, 1, &e1), ERR_NONE);
    CHECK_EQ_U64((uint64_t)e1.pid, (uint64_t)pe.pid);
    CHECK_EQ_INT(e1.epoch, 32766);
    CHECK_EQ_INT(produce(&c, 12, e1, 0, 1, "b"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 5, e1, 1, &e2), ERR_NONE);
    CHECK_NE_INT(e2.pid, pe.pid);
    CHECK_EQ_INT(e2.epoch, 0);
    CHECK_EQ_INT(endtxn(&c, 5, e1, 1, &e3), ERR_NONE); /* the retry, from the old id */
    CHECK_EQ_U64((uint64_t)e3.pid, (uint64_t)e2.pid);
    CHECK_EQ_INT(e3.epoch, 0);
    fb_txn_info_t t = txn_info(fb);
    CHECK_EQ_U64((uint64_t)t.prev_pid, (uint64_t)pe.pid);
    CHECK_EQ_U64((uint64_t)t.pid, (uint64_t)e2.pid);
    CHECK_EQ_INT(produce(&c, 12, e1, 1, 1, "stale"), ERR_INVALID_PRODUCER_EPOCH);
    CHECK_EQ_INT(produce(&c, 12, e2, 0, 1, "c"), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 5, e2, 1, &e3), ERR_NONE);
    CHECK_EQ_INT(e3.epoch, 1);
    size_t n;
    fb_batch_info_t *b = batches(fb, &n);
    REQUIRE_EQ_INT(n, 6);
    check_marker(&b[1], pe.pid, 32766, 1);
    check_marker(&b[3], pe.pid, 32767, 1); /* the old id's last epoch */
    CHECK_EQ_U64((uint64_t)b[4].pid, (uint64_t)e2.pid);
    check_marker(&b[5], e2.pid, 1, 1);
    free(b);
    cli_close(&c);
    fb_stop(fb);
}

/* TxnOffsetCommit's offsets, with the group's metadata, committed with the
 * transaction and dropped with an abort. */
static void test_offsets(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = init_ok(&c, TID, 60000);
    txoff_t o = {.group = "grp", .member = "member-1", .instance = "inst-1", .topic = "in",
                 .metadata = "md", .generation = 7, .partition = 2, .leader_epoch = 5,
                 .offset = 42};
    CHECK_EQ_INT(txncommit(&c, 3, pe, &o), ERR_INVALID_TXN_STATE); /* no AddOffsetsToTxn */
    CHECK_EQ_INT(addoffsets(&c, 3, pe, "grp"), ERR_NONE);
    CHECK_EQ_INT(txncommit(&c, 3, pe, &o), ERR_NONE);
    int64_t off = -1;
    fb_group_meta_t gm;
    CHECK_EQ_INT(fb_committed_offset(fb, "grp", "in", 2, &off, &gm), -1); /* not yet */
    CHECK_EQ_INT(txn_info(fb).pending_offsets, 1);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NONE);
    REQUIRE_EQ_INT(fb_committed_offset(fb, "grp", "in", 2, &off, &gm), 0);
    CHECK_EQ_INT(off, 42);
    CHECK_EQ_INT(gm.generation_id, 7);
    CHECK_EQ_STR(gm.member_id, "member-1");
    CHECK_EQ_STR(gm.group_instance_id, "inst-1");
    CHECK(gm.has_group_instance_id);
    CHECK_EQ_INT(gm.leader_epoch, 5);
    CHECK_EQ_STR(gm.metadata, "md");
    CHECK_EQ_INT(gm.version, 3);
    CHECK_EQ_INT(fb_log_end(fb), 0); /* no partition joined: no marker in the log */

    /* aborted: dropped */
    CHECK_EQ_INT(addoffsets(&c, 0, pe, "grp"), ERR_NONE);
    o.offset = 50;
    CHECK_EQ_INT(txncommit(&c, 3, pe, &o), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 0, NULL), ERR_NONE);
    CHECK_EQ_INT(fb_committed_offset(fb, "grp", "in", 2, &off, &gm), 0);
    CHECK_EQ_INT(off, 42);

    /* v0: no group metadata, no leader epoch; a null instance id at v3 */
    CHECK_EQ_INT(addoffsets(&c, 3, pe, "grp"), ERR_NONE);
    o.offset = 60;
    CHECK_EQ_INT(txncommit(&c, 0, pe, &o), ERR_NONE);
    o.partition = 3;
    o.instance = NULL;
    CHECK_EQ_INT(txncommit(&c, 3, pe, &o), ERR_NONE);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NONE);
    CHECK_EQ_INT(fb_committed_offset(fb, "grp", "in", 2, &off, &gm), 0);
    CHECK_EQ_INT(off, 60);
    CHECK_EQ_INT(gm.generation_id, -1);
    CHECK_EQ_STR(gm.member_id, "");
    CHECK_EQ_INT(gm.leader_epoch, -1);
    CHECK_EQ_INT(gm.version, 0);
    CHECK_EQ_INT(fb_committed_offset(fb, "grp", "in", 3, &off, &gm), 0);
    CHECK(!gm.has_group_instance_id);
    CHECK_EQ_INT(fb_committed_offset(fb, "other", "in", 2, &off, NULL), -1);
    cli_close(&c);
    fb_stop(fb);
}

/* fb_set_api_error: well-formed answers with the error, the requests not
 * acted on, then the real answers. */
static void test_injected_errors(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t c;
    REQUIRE_EQ_INT(cli_open(&c, fb), 0);
    pe_t pe = {-1, -1};
    fb_set_api_error(fb, FB_API_INITPID, ERR_COORDINATOR_LOAD_IN_PROGRESS, 1);
    CHECK_EQ_INT(initpid(&c, 4, TID, 60000, pe, &pe), ERR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK_EQ_INT(pe.pid, -1);
    CHECK_EQ_INT(fb_txn(fb, TID, &(fb_txn_info_t){0}), -1); /* not acted on */
    pe = init_ok(&c, TID, 60000);

    fb_set_api_error(fb, FB_API_ADD_PARTITIONS_TO_TXN, ERR_CONCURRENT_TRANSACTIONS, 2);
    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_CONCURRENT_TRANSACTIONS);
    CHECK_EQ_INT(addparts(&c, 2, pe), ERR_CONCURRENT_TRANSACTIONS);
    CHECK(!txn_info(fb).open);
    CHECK_EQ_INT(addparts(&c, 3, pe), ERR_NONE);
    CHECK_EQ_INT(produce(&c, 9, pe, 0, 1, "r"), ERR_NONE);

    fb_set_api_error(fb, FB_API_PRODUCE, ERR_NOT_COORDINATOR, 1); /* any code, any API */
    CHECK_EQ_INT(produce(&c, 9, pe, 1, 1, "s"), ERR_NOT_COORDINATOR);
    CHECK_EQ_INT(produce(&c, 9, pe, 1, 1, "s"), ERR_NONE);

    fb_set_api_error(fb, FB_API_END_TXN, ERR_NOT_COORDINATOR, 1);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NOT_COORDINATOR);
    CHECK(txn_info(fb).open);
    fb_set_api_error(fb, FB_API_FIND_COORDINATOR, ERR_COORDINATOR_LOAD_IN_PROGRESS, FB_FOREVER);
    for (int i = 0; i < 3; i++) {
        kp_wbuf_t *w = req(&c, FB_API_FIND_COORDINATOR, 1, 0);
        kp_w_str(w, TID);
        kp_w_i8(w, 1);
        REQUIRE_EQ_INT(call(&c), 0);
        kp_r_i32(&c.r);
        CHECK_EQ_INT(kp_r_i16(&c.r), ERR_COORDINATOR_LOAD_IN_PROGRESS);
    }
    fb_set_api_error(fb, FB_API_FIND_COORDINATOR, 0, 0);
    CHECK_EQ_INT(endtxn(&c, 3, pe, 1, NULL), ERR_NONE);
    CHECK_EQ_INT(fb_stats(fb).api_errors_injected, 8);
    CHECK_EQ_INT(fb_stats(fb).bad_requests, 0);
    cli_close(&c);
    fb_stop(fb);
}

static int committed(void *arg) {
    fb_txn_info_t t;
    return fb_txn(arg, TID, &t) == 0 && t.commits == 1;
}

static int aborted(void *arg) {
    fb_txn_info_t t;
    return fb_txn(arg, TID, &t) == 0 && t.aborts == 1;
}

/* fb_set_api_delay: the EndTxn commits at once, its answer comes late; the
 * connection is muted meanwhile (a request behind it waits), another
 * connection is answered; a retry of the commit is answered OK. */
static void test_delay(void) {
    fake_broker_t *fb = start(0, 0);
    REQUIRE_NOT_NULL(fb);
    cli_t a, b;
    REQUIRE_EQ_INT(cli_open(&a, fb), 0);
    REQUIRE_EQ_INT(cli_open(&b, fb), 0);
    pe_t pe = init_ok(&a, TID, 60000);
    CHECK_EQ_INT(addparts(&a, 3, pe), ERR_NONE);
    CHECK_EQ_INT(produce(&a, 9, pe, 0, 1, "d"), ERR_NONE);

    fb_set_api_delay(fb, FB_API_END_TXN, 400, 1);
    kp_wbuf_t *w = req(&a, FB_API_END_TXN, 3, 1);
    kp_w_str(w, TID);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_i8(w, 1);
    int64_t t0 = test_now_ms();
    REQUIRE_EQ_INT(cli_send(&a), 0);
    int32_t endtxn_corrid = a.corrid;
    REQUIRE(wait_until(committed, fb, 5000)); /* it acted at once */
    /* behind it on the same connection: an AddOffsetsToTxn, answered after */
    w = req(&a, FB_API_ADD_OFFSETS_TO_TXN, 3, 1);
    kp_w_str(w, TID);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_str(w, "g");
    REQUIRE_EQ_INT(cli_send(&a), 0);
    /* another connection is answered meanwhile */
    CHECK_EQ_INT(endtxn(&b, 3, pe, 1, NULL), ERR_NONE); /* the client's retry */
    CHECK_LT_INT(test_now_ms() - t0, 400);
    a.api = FB_API_END_TXN;
    REQUIRE_EQ_INT(cli_recv(&a, endtxn_corrid, 5000), 0);
    CHECK_GE_INT(test_now_ms() - t0, 400);
    kp_r_i32(&a.r);
    CHECK_EQ_INT(kp_r_i16(&a.r), ERR_NONE);
    a.api = FB_API_ADD_OFFSETS_TO_TXN;
    REQUIRE_EQ_INT(cli_recv(&a, endtxn_corrid + 1, 5000), 0);
    kp_r_i32(&a.r);
    CHECK_EQ_INT(kp_r_i16(&a.r), ERR_NONE);
    fb_stats_t st = fb_stats(fb);
    CHECK_EQ_INT(st.delayed, 1);
    CHECK_EQ_INT(st.txn_commits, 1);

    /* a client that gives up and closes loses the answer; the broker goes on */
    fb_set_api_delay(fb, FB_API_END_TXN, 200, 1);
    w = req(&b, FB_API_END_TXN, 3, 1);
    kp_w_str(w, TID);
    kp_w_i64(w, pe.pid);
    kp_w_i16(w, pe.epoch);
    kp_w_i8(w, 0);
    REQUIRE_EQ_INT(cli_send(&b), 0);
    cli_close(&b);
    CHECK(wait_until(aborted, fb, 5000)); /* the abort acted (AddOffsetsToTxn had opened one) */
    CHECK_EQ_INT(endtxn(&a, 3, pe, 0, NULL), ERR_NONE); /* its retry, on another connection */
    CHECK_EQ_INT(fb_stats(fb).delayed, 2);
    cli_close(&a);
    fb_stop(fb);
}

/* kprod's own producer (idempotent) against the broker with transactions
 * on: the flexible versions it negotiates (ApiVersions v3, Produce v9+,
 * InitProducerId v2+) parse both ways. */
static void test_kprod_flexible(void) {
    fake_broker_t *fb = start(2, 0);
    REQUIRE_NOT_NULL(fb);
    char err[256];
    kp_config_t *conf = kp_config_new();
    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_INT(kp_config_set(conf, "bootstrap.servers", fb_bootstrap(fb), err, sizeof(err)), 0);
    CHECK_EQ_INT(kp_config_set(conf, "enable.idempotence", "true", err, sizeof(err)), 0);
    kp_producer_t *p = kp_producer_new(conf, err, sizeof(err));
    kp_config_destroy(conf);
    if (!p)
        FAIL("kp_producer_new: %s", err);
    REQUIRE_NOT_NULL(p);
    for (int i = 0; i < 3; i++) {
        char v[32];
        snprintf(v, sizeof(v), "flex-%d", i);
        kp_record_t r = {.topic = TOPIC, .partition = 0, .value = v, .value_len = (int32_t)strlen(v)};
        CHECK_OK(kp_send_sync(p, &r, 10000, NULL));
    }
    kp_producer_destroy(p);
    CHECK(fb_wrote(fb, "flex-2"));
    fb_stats_t st = fb_stats(fb);
    CHECK_EQ_INT(st.bad_requests, 0);
    CHECK(st.versions[FB_API_APIVERSIONS] & 1u << 3);
    CHECK_GE_INT(st.versions[FB_API_PRODUCE], 1u << 9);
    CHECK_GE_INT(st.versions[FB_API_INITPID], 1u << 2);
    fb_stop(fb);
}

TEST_MAIN(TEST(test_apiversions), TEST(test_find_coordinator), TEST(test_commit_abort),
          TEST(test_fencing), TEST(test_epoch_bump), TEST(test_timeout_abort), TEST(test_tv2),
          TEST(test_tv2_exhaustion), TEST(test_offsets), TEST(test_injected_errors),
          TEST(test_delay), TEST(test_kprod_flexible))

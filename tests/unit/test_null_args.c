/*
 * test_null_args — every function declared in include/kprod/kprod.h called
 * with NULL for each of its pointer arguments in turn (the others valid),
 * checking the result its comment in kprod.h documents, and that nothing
 * crashes (issue 10, defect 12: kp_future_is_done(NULL) segfaulted).
 *
 * One test per public function, in the header's order, so a crash (which
 * ends the program) is in the test after the last "ok" line; under ASan the
 * report names the line.
 *
 * Producers: most calls need only a producer object, made with
 * bootstrap.servers=127.0.0.1:1 (nothing listens there; creation succeeds)
 * and a short max.block.ms. The calls whose valid form must complete a
 * record (a future to wait on, kp_send_sync, a NULL callback or metadata
 * pointer) use a second producer talking to fake_broker below: just enough
 * Kafka (ApiVersions, Metadata v1) for acks=0 records, which complete when
 * written, so no Produce response is needed.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "kprod/kprod.h"

#define TOPIC "nulls"
#define MAX_BLOCK_MS "200"

/* ---- a minimal broker: ApiVersions v0-2 and Metadata v1 -------------------- */

enum { FB_MAX_CONNS = 8 };

typedef struct fake_broker {
    int lfd;
    int port;
    atomic_int stop;
    pthread_t thread;
    struct {
        int fd;
        uint8_t *buf;
        size_t len, cap;
    } c[FB_MAX_CONNS];
} fake_broker_t;

static void fb_send(int fd, kp_wbuf_t *w) {
    kp_wbuf_put_i32(w, 0, (int32_t)(w->len - 4));
    for (size_t off = 0; !w->err && off < w->len;) {
        ssize_t n = write(fd, w->p + off, w->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

/* Answer one request frame (without its size prefix). */
static void fb_answer(fake_broker_t *fb, int fd, const uint8_t *req, size_t len) {
    kp_rbuf_t r;
    kp_rbuf_init(&r, req, len, 0);
    int16_t api = kp_r_i16(&r);
    int16_t ver = kp_r_i16(&r); /* we offer one form of each */
    int32_t corrid = kp_r_i32(&r);
    if (r.err)
        return;
    kp_wbuf_t w;
    kp_wbuf_init(&w, 256);
    kp_w_i32(&w, 0); /* size, filled by fb_send */
    kp_w_i32(&w, corrid);
    if (api == 18 && ver > 2) { /* as Kafka: UNSUPPORTED_VERSION, and our range */
        kp_w_i16(&w, 35);
        kp_w_i32(&w, 1);
        kp_w_i16(&w, 18), kp_w_i16(&w, 0), kp_w_i16(&w, 2);
    } else if (api == 18) { /* ApiVersions, answered as v0-2 (non-flexible) */
        kp_w_i16(&w, 0);
        kp_w_i32(&w, 3);
        kp_w_i16(&w, 0), kp_w_i16(&w, 3), kp_w_i16(&w, 8); /* Produce 3..8 */
        kp_w_i16(&w, 3), kp_w_i16(&w, 1), kp_w_i16(&w, 1); /* Metadata 1 */
        kp_w_i16(&w, 18), kp_w_i16(&w, 0), kp_w_i16(&w, 2);
        kp_w_i32(&w, 0); /* throttle (v1+; v0 readers stop before it) */
    } else if (api == 3) { /* Metadata v1: this broker leads TOPIC's one partition */
        kp_w_i32(&w, 1);
        kp_w_i32(&w, 1), kp_w_str(&w, "127.0.0.1"), kp_w_i32(&w, fb->port), kp_w_str(&w, NULL);
        kp_w_i32(&w, 1); /* controller */
        kp_w_i32(&w, 1);
        kp_w_i16(&w, 0), kp_w_str(&w, TOPIC), kp_w_i8(&w, 0);
        kp_w_i32(&w, 1);
        kp_w_i16(&w, 0), kp_w_i32(&w, 0), kp_w_i32(&w, 1);
        kp_w_i32(&w, 1), kp_w_i32(&w, 1); /* replicas */
        kp_w_i32(&w, 1), kp_w_i32(&w, 1); /* isr */
    } else { /* Produce with acks=0: no answer */
        kp_wbuf_free(&w);
        return;
    }
    fb_send(fd, &w);
    kp_wbuf_free(&w);
}

static void fb_close_conn(fake_broker_t *fb, int i) {
    close(fb->c[i].fd);
    free(fb->c[i].buf);
    memset(&fb->c[i], 0, sizeof(fb->c[i]));
    fb->c[i].fd = -1;
}

static void fb_read(fake_broker_t *fb, int i) {
    uint8_t tmp[4096];
    ssize_t n = read(fb->c[i].fd, tmp, sizeof(tmp));
    if (n <= 0) {
        fb_close_conn(fb, i);
        return;
    }
    if (fb->c[i].len + (size_t)n > fb->c[i].cap) {
        size_t cap = (fb->c[i].len + (size_t)n) * 2;
        uint8_t *nb = realloc(fb->c[i].buf, cap);
        if (!nb) {
            fb_close_conn(fb, i);
            return;
        }
        fb->c[i].buf = nb;
        fb->c[i].cap = cap;
    }
    memcpy(fb->c[i].buf + fb->c[i].len, tmp, (size_t)n);
    fb->c[i].len += (size_t)n;
    size_t off = 0;
    while (fb->c[i].len - off >= 4) {
        size_t sz = kp_get_be32(fb->c[i].buf + off);
        if (fb->c[i].len - off - 4 < sz)
            break;
        fb_answer(fb, fb->c[i].fd, fb->c[i].buf + off + 4, sz);
        off += 4 + sz;
    }
    memmove(fb->c[i].buf, fb->c[i].buf + off, fb->c[i].len - off);
    fb->c[i].len -= off;
}

static void *fb_main(void *arg) {
    fake_broker_t *fb = arg;
    while (!atomic_load(&fb->stop)) {
        struct pollfd pf[1 + FB_MAX_CONNS];
        int map[1 + FB_MAX_CONNS], n = 0;
        pf[n] = (struct pollfd){fb->lfd, POLLIN, 0};
        map[n++] = -1;
        for (int i = 0; i < FB_MAX_CONNS; i++)
            if (fb->c[i].fd >= 0) {
                pf[n] = (struct pollfd){fb->c[i].fd, POLLIN, 0};
                map[n++] = i;
            }
        if (poll(pf, (nfds_t)n, 20) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (map[k] >= 0) {
                fb_read(fb, map[k]);
                continue;
            }
            int cfd = accept(fb->lfd, NULL, NULL);
            int i = 0;
            while (i < FB_MAX_CONNS && fb->c[i].fd >= 0)
                i++;
            if (cfd >= 0 && i < FB_MAX_CONNS)
                fb->c[i].fd = cfd;
            else if (cfd >= 0)
                close(cfd);
        }
    }
    return NULL;
}

static fake_broker_t *fb_start(void) {
    fake_broker_t *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    for (int i = 0; i < FB_MAX_CONNS; i++)
        fb->c[i].fd = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    fb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fb->lfd < 0 || bind(fb->lfd, (struct sockaddr *)&a, sizeof(a)) ||
        listen(fb->lfd, 8) || getsockname(fb->lfd, (struct sockaddr *)&a, &al) ||
        pthread_create(&fb->thread, NULL, fb_main, fb)) {
        if (fb->lfd >= 0)
            close(fb->lfd);
        free(fb);
        return NULL;
    }
    fb->port = ntohs(a.sin_port);
    return fb;
}

static void fb_stop(fake_broker_t *fb) {
    if (!fb)
        return;
    atomic_store(&fb->stop, 1);
    pthread_join(fb->thread, NULL);
    for (int i = 0; i < FB_MAX_CONNS; i++)
        if (fb->c[i].fd >= 0)
            fb_close_conn(fb, i);
    close(fb->lfd);
    free(fb);
}

/* ---- fixtures ---------------------------------------------------------------- */

static kp_config_t *conf_with(const char *bootstrap) {
    char err[512];
    kp_config_t *c = kp_config_new();
    if (!c)
        return NULL;
    /* acks=0 (so records complete when written) needs idempotence off */
    static const char *const kv[] = {"max.block.ms",      MAX_BLOCK_MS,  "enable.idempotence",
                                     "false",             "acks",        "0",
                                     "linger.ms",         "0",           "request.timeout.ms",
                                     "1000",              "reconnect.backoff.max.ms", "100"};
    if (kp_config_set(c, "bootstrap.servers", bootstrap, err, sizeof(err))) {
        FAIL("bootstrap.servers: %s", err);
        kp_config_destroy(c);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2)
        if (kp_config_set(c, kv[i], kv[i + 1], err, sizeof(err))) {
            FAIL("%s=%s: %s", kv[i], kv[i + 1], err);
            kp_config_destroy(c);
            return NULL;
        }
    return c;
}

/* A producer nobody answers: creation succeeds, sends find no metadata. */
static kp_producer_t *dead_producer(void) {
    char err[512];
    kp_config_t *c = conf_with("127.0.0.1:1");
    if (!c)
        return NULL;
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    kp_config_destroy(c);
    return p;
}

static fake_broker_t *live_fb;

/* A producer whose records complete (acks=0 against fake_broker). */
static kp_producer_t *live_producer(void) {
    char err[512], bs[64];
    if (!live_fb)
        live_fb = fb_start();
    if (!live_fb) {
        FAIL("fake broker did not start");
        return NULL;
    }
    snprintf(bs, sizeof(bs), "127.0.0.1:%d", live_fb->port);
    kp_config_t *c = conf_with(bs);
    if (!c)
        return NULL;
    /* the metadata round trip must fit in max.block.ms, even under TSan */
    kp_config_set(c, "max.block.ms", "10000", NULL, 0);
    kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
    if (!p)
        FAIL("kp_producer_new: %s", err);
    kp_config_destroy(c);
    return p;
}

static void end_producer(kp_producer_t *p) {
    if (!p)
        return;
    CHECK_OK(kp_close(p, 2000));
    kp_producer_destroy(p);
}

static const kp_record_t REC = {.topic = TOPIC,
                                .partition = KP_PARTITION_ANY,
                                .value = "v",
                                .value_len = 1};

static atomic_int cb_calls;
static void count_cb(const kp_record_metadata_t *md, kp_err_t err, void *opaque) {
    (void)md, (void)err, (void)opaque;
    atomic_fetch_add(&cb_calls, 1);
}

/* A valid errstr, to see what a call writes into it. */
#define ERRBUF(e) (e[0] = 0, e), sizeof(e)

/* ---- errors: no pointer arguments ------------------------------------------- */

static void test_err_functions(void) {
    /* listed for completeness: kp_err_name/str never return NULL */
    CHECK_NOT_NULL(kp_err_name((kp_err_t)-12345));
    CHECK_NOT_NULL(kp_err_str((kp_err_t)12345));
    CHECK(!kp_err_is_retriable((kp_err_t)-12345));
}

/* ---- configuration ----------------------------------------------------------- */

static void test_kp_config_destroy(void) { kp_config_destroy(NULL); /* does nothing */ }

static void test_kp_config_set(void) {
    char e[256];
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    /* conf NULL, name NULL: KP_ERR_INVALID_ARG and a message */
    CHECK_EQ_ERR(kp_config_set(NULL, "acks", "1", ERRBUF(e)), KP_ERR_INVALID_ARG);
    CHECK_GT_INT(strlen(e), 0);
    CHECK_EQ_ERR(kp_config_set(c, NULL, "1", ERRBUF(e)), KP_ERR_INVALID_ARG);
    CHECK_GT_INT(strlen(e), 0);
    /* value NULL: the empty string (valid for client.id, not for acks) */
    CHECK_OK(kp_config_set(c, "client.id", NULL, ERRBUF(e)));
    if (CHECK_NOT_NULL(kp_config_get(c, "client.id")))
        CHECK_EQ_STR(kp_config_get(c, "client.id"), "");
    CHECK_EQ_ERR(kp_config_set(c, "acks", NULL, ERRBUF(e)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(kp_config_get(c, "acks"), "all"); /* unchanged */
    /* errstr NULL: the error without a message, whatever the size says */
    CHECK_EQ_ERR(kp_config_set(c, "acks", "7", NULL, 0), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_config_set(c, "acks", "7", NULL, 100), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_config_set(c, "no.such.property", "1", NULL, 100), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_config_set(NULL, NULL, NULL, NULL, 100), KP_ERR_INVALID_ARG);
    CHECK_OK(kp_config_set(c, "acks", "1", NULL, 0));
    kp_config_destroy(c);
}

static void test_kp_config_get(void) {
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    CHECK_NULL(kp_config_get(NULL, "acks"));
    CHECK_NULL(kp_config_get(c, NULL));
    CHECK_NULL(kp_config_get(NULL, NULL));
    kp_config_destroy(c);
}

static void test_kp_config_load_file(void) {
    char e[256];
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    CHECK_EQ_ERR(kp_config_load_file(NULL, "/dev/null", ERRBUF(e)), KP_ERR_INVALID_ARG);
    CHECK_GT_INT(strlen(e), 0);
    CHECK_EQ_ERR(kp_config_load_file(c, NULL, ERRBUF(e)), KP_ERR_INVALID_ARG);
    CHECK_GT_INT(strlen(e), 0);
    CHECK_EQ_ERR(kp_config_load_file(c, "/nonexistent/kprod.properties", NULL, 100), KP_ERR_IO);
    CHECK_EQ_ERR(kp_config_load_file(NULL, NULL, NULL, 0), KP_ERR_INVALID_ARG);
    kp_config_destroy(c);
}

static int32_t ser_fn(const char *topic, const void *data, int32_t data_len, uint8_t *buf,
                      int32_t buf_size, void *opaque) {
    (void)topic, (void)data, (void)data_len, (void)buf, (void)buf_size, (void)opaque;
    return KP_SERIALIZE_NULL;
}

static int32_t part_fn(const char *topic, const void *key, int32_t key_len, const void *value,
                       int32_t value_len, int32_t partition_count, void *opaque) {
    (void)topic, (void)key, (void)key_len, (void)value, (void)value_len, (void)opaque;
    return partition_count - 1;
}

static void log_fn(int level, const char *msg, void *opaque) { (void)level, (void)msg, (void)opaque; }

/* The setters of functions: conf NULL does nothing; fn NULL restores the
 * built-in behaviour; opaque NULL is just a value. */
static void test_kp_config_set_functions(void) {
    int x;
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    kp_config_set_key_serializer(NULL, ser_fn, &x);
    kp_config_set_key_serializer(c, ser_fn, NULL);
    kp_config_set_key_serializer(c, NULL, &x);
    kp_config_set_value_serializer(NULL, ser_fn, &x);
    kp_config_set_value_serializer(c, ser_fn, NULL);
    kp_config_set_value_serializer(c, NULL, &x);
    kp_config_set_partitioner(NULL, part_fn, &x);
    kp_config_set_partitioner(c, part_fn, NULL);
    kp_config_set_partitioner(c, NULL, &x);
    kp_config_set_log(NULL, log_fn, &x);
    kp_config_set_log(c, log_fn, NULL);
    kp_config_set_log(c, NULL, &x);
    kp_config_destroy(c);
}

static void test_kp_config_add_interceptor(void) {
    kp_interceptor_t none = {NULL, NULL, NULL}; /* both callbacks may be NULL */
    kp_config_t *c = kp_config_new();
    REQUIRE_NOT_NULL(c);
    CHECK_EQ_ERR(kp_config_add_interceptor(NULL, &none), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_config_add_interceptor(c, NULL), KP_ERR_INVALID_ARG);
    CHECK_OK(kp_config_add_interceptor(c, &none));
    kp_config_destroy(c);
}

/* ---- producer ---------------------------------------------------------------- */

static void test_kp_producer_new(void) {
    char e[256];
    /* conf NULL: NULL and a reason */
    CHECK_NULL(kp_producer_new(NULL, ERRBUF(e)));
    CHECK_GT_INT(strlen(e), 0);
    CHECK_NULL(kp_producer_new(NULL, NULL, 100));
    /* errstr NULL: a producer when conf is good, NULL when it is not */
    kp_config_t *c = conf_with("127.0.0.1:1");
    REQUIRE_NOT_NULL(c);
    kp_producer_t *p = kp_producer_new(c, NULL, 100);
    CHECK_NOT_NULL(p);
    end_producer(p);
    /* acks=0 with idempotence asked for: refused at creation */
    CHECK_OK(kp_config_set(c, "enable.idempotence", "true", NULL, 0));
    CHECK_NULL(kp_producer_new(c, NULL, 0));
    CHECK_NULL(kp_producer_new(c, NULL, 100));
    kp_config_destroy(c);
}

/* Record fields that are pointers: topic and header keys are required;
 * headers may be NULL only with header_count 0; key, value and a header's
 * value NULL are null. */
static void check_record_fields(kp_producer_t *p) {
    kp_record_t r = REC;
    r.topic = NULL;
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_INVALID_ARG);
    r = REC;
    r.header_count = 1;
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_INVALID_ARG);
    kp_header_t h = {NULL, "v", 1};
    r.headers = &h;
    CHECK_EQ_ERR(kp_send(p, &r, NULL, NULL), KP_ERR_INVALID_ARG);
}

static void test_kp_send(void) {
    int x;
    kp_producer_t *p = dead_producer();
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_ERR(kp_send(NULL, &REC, count_cb, &x), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send(p, NULL, count_cb, &x), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send(NULL, NULL, NULL, NULL), KP_ERR_INVALID_ARG);
    check_record_fields(p);
    /* cb and opaque NULL are valid: here no metadata ever comes */
    kp_err_t e = kp_send(p, &REC, NULL, &x);
    CHECK(e != KP_OK && e != KP_ERR_INVALID_ARG);
    e = kp_send(p, &REC, count_cb, NULL);
    CHECK(e != KP_OK && e != KP_ERR_INVALID_ARG);
    end_producer(p);
    CHECK_EQ_INT(atomic_load(&cb_calls), 0); /* failed at once: no callback */

    /* against a broker: NULL cb, NULL opaque, null key/value/header value
     * are accepted and the records complete */
    p = live_producer();
    REQUIRE_NOT_NULL(p);
    check_record_fields(p);
    atomic_store(&cb_calls, 0);
    CHECK_OK(kp_send(p, &REC, NULL, &x));
    CHECK_OK(kp_send(p, &REC, count_cb, NULL));
    kp_header_t h = {"k", NULL, 5};
    kp_record_t r = {.topic = TOPIC, .partition = KP_PARTITION_ANY, .headers = &h,
                     .header_count = 1};
    CHECK_OK(kp_send(p, &r, count_cb, NULL));
    CHECK_OK(kp_flush(p, 5000));
    CHECK_EQ_INT(atomic_load(&cb_calls), 2);
    end_producer(p);
}

static void test_kp_send_future(void) {
    int x;
    kp_future_t *f = (kp_future_t *)&x; /* must come back NULL */
    kp_producer_t *p = dead_producer();
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_ERR(kp_send_future(NULL, &REC, count_cb, &x, &f), KP_ERR_INVALID_ARG);
    CHECK_NULL(f);
    f = (kp_future_t *)&x;
    CHECK_EQ_ERR(kp_send_future(p, NULL, count_cb, &x, &f), KP_ERR_INVALID_ARG);
    CHECK_NULL(f);
    CHECK_EQ_ERR(kp_send_future(p, &REC, count_cb, &x, NULL), KP_ERR_INVALID_ARG);
    f = (kp_future_t *)&x;
    kp_record_t r = REC;
    r.topic = NULL;
    CHECK_EQ_ERR(kp_send_future(p, &r, NULL, NULL, &f), KP_ERR_INVALID_ARG);
    CHECK_NULL(f);
    end_producer(p);

    /* cb and opaque NULL: a future that completes */
    p = live_producer();
    REQUIRE_NOT_NULL(p);
    f = NULL;
    CHECK_OK(kp_send_future(p, &REC, NULL, NULL, &f));
    if (CHECK_NOT_NULL(f)) {
        CHECK_OK(kp_future_get(f, 10000, NULL));
        kp_future_destroy(f);
    }
    end_producer(p);
}

static void test_kp_future_get(void) {
    kp_record_metadata_t md;
    CHECK_EQ_ERR(kp_future_get(NULL, 0, &md), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_future_get(NULL, -1, NULL), KP_ERR_INVALID_ARG); /* not forever */
    /* md NULL: the result alone, pending and completed */
    kp_producer_t *p = live_producer();
    REQUIRE_NOT_NULL(p);
    kp_future_t *f = NULL;
    REQUIRE_OK(kp_send_future(p, &REC, NULL, NULL, &f));
    kp_err_t e = kp_future_get(f, 0, NULL);
    CHECK(e == KP_OK || e == KP_ERR_TIMED_OUT);
    CHECK_OK(kp_future_get(f, 10000, NULL));
    CHECK_OK(kp_future_get(f, 0, NULL)); /* again, done */
    kp_future_destroy(f);
    end_producer(p);
}

static void test_kp_future_is_done(void) {
    /* issue 10, defect 12: this segfaulted */
    CHECK_EQ_INT(kp_future_is_done(NULL), 0); /* a NULL future never completes */
    kp_producer_t *p = live_producer();
    REQUIRE_NOT_NULL(p);
    kp_future_t *f = NULL;
    REQUIRE_OK(kp_send_future(p, &REC, NULL, NULL, &f));
    CHECK_OK(kp_future_get(f, 10000, NULL));
    CHECK(kp_future_is_done(f));
    kp_future_destroy(f);
    end_producer(p);
}

static void test_kp_future_destroy(void) { kp_future_destroy(NULL); /* does nothing */ }

static void test_kp_send_sync(void) {
    kp_record_metadata_t md;
    kp_producer_t *p = dead_producer();
    REQUIRE_NOT_NULL(p);
    CHECK_EQ_ERR(kp_send_sync(NULL, &REC, 1000, &md), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send_sync(p, NULL, 1000, &md), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send_sync(NULL, NULL, -1, NULL), KP_ERR_INVALID_ARG);
    end_producer(p);
    /* md NULL is valid */
    p = live_producer();
    REQUIRE_NOT_NULL(p);
    CHECK_OK(kp_send_sync(p, &REC, 10000, NULL));
    end_producer(p);
}

static void test_kp_flush(void) {
    CHECK_EQ_ERR(kp_flush(NULL, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_flush(NULL, -1), KP_ERR_INVALID_ARG);
}

static void test_kp_close(void) {
    CHECK_EQ_ERR(kp_close(NULL, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_close(NULL, -1), KP_ERR_INVALID_ARG);
}

static void test_kp_producer_destroy(void) { kp_producer_destroy(NULL); /* does nothing */ }

static void test_kp_partitions_for(void) {
    kp_producer_t *p = dead_producer();
    REQUIRE_NOT_NULL(p);
    int32_t n = -1;
    CHECK_EQ_ERR(kp_partitions_for(NULL, TOPIC, &n), KP_ERR_INVALID_ARG);
    CHECK_EQ_INT(n, 0); /* the count is 0 whenever the call fails */
    CHECK_EQ_ERR(kp_partitions_for(p, NULL, &n), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_partitions_for(p, TOPIC, NULL), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_partitions_for(NULL, NULL, NULL), KP_ERR_INVALID_ARG);
    end_producer(p);
}

/* After kp_close, the same NULL checks still come first (a closed producer
 * is still a valid pointer). */
static void test_closed_producer(void) {
    kp_producer_t *p = dead_producer();
    REQUIRE_NOT_NULL(p);
    CHECK_OK(kp_close(p, 0));
    kp_future_t *f = NULL;
    CHECK_EQ_ERR(kp_send(p, NULL, NULL, NULL), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send_future(p, &REC, NULL, NULL, NULL), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_send_future(p, &REC, NULL, NULL, &f), KP_ERR_CLOSED);
    CHECK_NULL(f);
    CHECK_EQ_ERR(kp_send_sync(p, NULL, 0, NULL), KP_ERR_INVALID_ARG);
    int32_t n;
    CHECK_EQ_ERR(kp_partitions_for(p, NULL, &n), KP_ERR_INVALID_ARG);
    kp_producer_destroy(p);
}

/* ---- murmur2 ------------------------------------------------------------------ */

/* A NULL key hashes as no bytes, whatever len says. */
/* The transactional calls and the metrics' (issues 14, 15). */
static void test_transactions_and_metrics(void) {
    CHECK_EQ_ERR(kp_init_transactions(NULL, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_begin_transaction(NULL), KP_ERR_INVALID_ARG);
    kp_group_metadata_t gm = {"g", -1, NULL, NULL};
    CHECK_EQ_ERR(kp_send_offsets_to_transaction(NULL, NULL, 0, &gm, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_commit_transaction(NULL, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_abort_transaction(NULL, 0), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_txn_error(NULL), KP_OK);
    CHECK_NULL(kp_metrics_snapshot(NULL));
    CHECK_EQ_INT((long)kp_metrics_count(NULL), 0);
    CHECK_NULL(kp_metrics_at(NULL, 0));
    double v;
    CHECK_EQ_ERR(kp_metrics_find(NULL, "producer-metrics", "record-send-total", NULL, &v),
                 KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_metric_value(NULL, "producer-metrics", "record-send-total", NULL, &v),
                 KP_ERR_INVALID_ARG);
    kp_metrics_destroy(NULL); /* does nothing */
    CHECK_NULL(kp_stats_json(NULL));
    kp_config_set_stats_cb(NULL, NULL, NULL); /* does nothing */
}

static void test_kp_murmur2(void) {
    CHECK_EQ_INT(kp_murmur2(NULL, 0), kp_murmur2("", 0));
    CHECK_EQ_INT(kp_murmur2(NULL, 5), kp_murmur2("", 0)); /* read from NULL before */
}

static void test_stop_fake_broker(void) {
    fb_stop(live_fb);
    live_fb = NULL;
}

TEST_MAIN(TEST(test_err_functions), TEST(test_kp_config_destroy), TEST(test_kp_config_set),
          TEST(test_kp_config_get), TEST(test_kp_config_load_file),
          TEST(test_kp_config_set_functions), TEST(test_kp_config_add_interceptor),
          TEST(test_kp_producer_new), TEST(test_kp_send), TEST(test_kp_send_future),
          TEST(test_kp_future_get), TEST(test_kp_future_is_done), TEST(test_kp_future_destroy),
          TEST(test_kp_send_sync), TEST(test_kp_flush), TEST(test_kp_close),
          TEST(test_kp_producer_destroy), TEST(test_kp_partitions_for),
          TEST(test_closed_producer), TEST(test_transactions_and_metrics), TEST(test_kp_murmur2),
          TEST(test_stop_fake_broker))

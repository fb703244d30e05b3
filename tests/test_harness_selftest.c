/*
 * The test harness tested: mock cluster + librdkafka's own producer +
 * readback_topic() must agree exactly. If this fails, no integration test
 * result means anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "mockcluster.h"
#include "readback.h"
#include "test.h"

#define BASE_TS 1700000000000LL
#define TIMEOUT_MS 15000
#define KAFKA_API_PRODUCE 0 /* ApiKey; librdkafka's RD_KAFKAP_* names are internal */

/* ---- a librdkafka producer that records each message's delivery --------- */

typedef struct delivery {
    int done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    delivery_t *d = m->_private;

    d->err = m->err;
    d->partition = m->partition;
    d->offset = m->offset;
    d->done = 1;
}

static rd_kafka_t *new_producer(const char *bootstraps)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    static const char *const props[] = {
        "enable.idempotence", "true",
        "linger.ms", "2",
        "retry.backoff.ms", "10",
        "log_level", "3",
        NULL,
    };

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr)) {
        FAIL("bootstrap.servers: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; props[i]; i += 2) {
        if (rd_kafka_conf_set(conf, props[i], props[i + 1], errstr, sizeof errstr)) {
            FAIL("%s: %s", props[i], errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        FAIL("rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Flush and check that every delivery succeeded. */
static int flush_all(rd_kafka_t *rk, const delivery_t *d, int n)
{
    int ok = CHECK_EQ_INT(rd_kafka_flush(rk, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);

    for (int i = 0; i < n; i++) {
        ok &= CHECK_EQ_INT(d[i].done, 1);
        if (d[i].err) {
            FAIL("message %d: delivery failed: %s", i, rd_kafka_err2str(d[i].err));
            ok = 0;
        }
    }
    return ok;
}

/* ---- tests ---------------------------------------------------------------- */

/* 50 keyed records with a header across 3 partitions of a 3-broker
 * cluster, read back exactly: partition, offset, key, value, header,
 * timestamp, and nothing else. */
static void test_produce_and_read_back(void)
{
    enum { N = 50, PARTITIONS = 3 };
    mockcluster_t *mc = mockcluster_start(3, "selftest", PARTITIONS);
    delivery_t d[N] = {{0}};
    rb_record_t *recs = NULL;
    size_t n = 0;
    rd_kafka_t *rk;
    int seen[N] = {0};
    int per_partition[PARTITIONS] = {0};

    REQUIRE_NOT_NULL(mc);
    rk = new_producer(mockcluster_bootstraps(mc));
    if (!rk)
        goto out;
    for (int i = 0; i < N; i++) {
        char key[16], value[16], hval[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        snprintf(hval, sizeof hval, "h%d", i);
        CHECK_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("selftest"),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE(value, strlen(value)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_TIMESTAMP(BASE_TS + i),
                                       RD_KAFKA_V_HEADER("idx", hval, (ssize_t)strlen(hval)),
                                       RD_KAFKA_V_OPAQUE(&d[i]), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    if (!flush_all(rk, d, N))
        goto out;

    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "selftest", N, TIMEOUT_MS, &recs, &n),
                 RB_OK);
    if (!CHECK_EQ_INT(n, N))
        readback_dump(recs, n, 100);

    for (size_t r = 0; r < n; r++) {
        const rb_record_t *rec = &recs[r];
        const rb_header_t *h;
        char want[16];
        int i;

        if (!CHECK(!rec->key_null && sscanf(rec->key, "k%d", &i) == 1 && i >= 0 && i < N))
            continue;
        CHECK_EQ_INT(seen[i]++, 0);
        CHECK_EQ_INT(rec->partition, d[i].partition);
        CHECK_EQ_INT(rec->offset, d[i].offset);
        snprintf(want, sizeof want, "k%d", i);
        CHECK_EQ_MEM(rec->key, rec->key_len, want, strlen(want));
        snprintf(want, sizeof want, "v%d", i);
        CHECK(!rec->value_null);
        CHECK_EQ_MEM(rec->value, rec->value_len, want, strlen(want));
        CHECK_EQ_INT(rec->timestamp, BASE_TS + i);
        CHECK_EQ_INT(rec->timestamp_type, RB_TS_CREATE_TIME);
        REQUIRE_EQ_INT(rec->header_count, 1);
        h = readback_header(rec, "idx");
        REQUIRE_NOT_NULL(h);
        snprintf(want, sizeof want, "h%d", i);
        CHECK(!h->value_null);
        CHECK_EQ_MEM(h->value, h->value_len, want, strlen(want));
        per_partition[rec->partition]++;
    }

    /* Sorted by partition and offset; offsets dense from 0 per partition;
     * within a partition, production order is kept. */
    for (int p = 0; p < PARTITIONS; p++) {
        const rb_record_t *first;
        size_t cnt = readback_partition(recs, n, p, &first);
        int prev = -1;

        CHECK_EQ_INT(cnt, per_partition[p]);
        for (size_t k = 0; k < cnt; k++) {
            int i = atoi((const char *)first[k].key + 1);
            CHECK_EQ_INT(first[k].offset, (int64_t)k);
            CHECK_GT_INT(i, prev);
            prev = i;
        }
    }
    /* With 50 random keys over 3 partitions every partition gets some:
     * this proves the read covers all partitions, not just one. */
    for (int p = 0; p < PARTITIONS; p++)
        CHECK_GT_INT(per_partition[p], 0);

out:
    readback_free(recs, n);
    if (rk)
        rd_kafka_destroy(rk);
    mockcluster_destroy(mc);
}

/* Null vs empty keys, values and header values survive the round trip and
 * are told apart; binary bytes (NUL included) are kept. */
static void test_null_and_empty(void)
{
    enum { N = 5 };
    mockcluster_t *mc = mockcluster_start(1, "edges", 1);
    delivery_t d[N] = {{0}};
    rb_record_t *recs = NULL;
    size_t n = 0;
    rd_kafka_t *rk;
    static char bin[] = {'a', 0, 'b', (char)0xff}; /* producev wants non-const */
    rd_kafka_resp_err_t err;

    REQUIRE_NOT_NULL(mc);
    rk = new_producer(mockcluster_bootstraps(mc));
    if (!rk)
        goto out;

    /* 0: null key, null value, no headers */
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("edges"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_OPAQUE(&d[0]), RD_KAFKA_V_END);
    CHECK_EQ_INT(err, 0);
    /* 1: empty key, empty value */
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("edges"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY("", 0), RD_KAFKA_V_VALUE("", 0),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d[1]),
                            RD_KAFKA_V_END);
    CHECK_EQ_INT(err, 0);
    /* 2: binary key and value */
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("edges"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY(bin, sizeof bin), RD_KAFKA_V_VALUE(bin, sizeof bin),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d[2]),
                            RD_KAFKA_V_END);
    CHECK_EQ_INT(err, 0);
    /* 3: headers: null value, empty value, repeated name, binary value */
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("edges"), RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY("k3", 2), RD_KAFKA_V_VALUE("v3", 2),
                            RD_KAFKA_V_HEADER("null", NULL, 0), RD_KAFKA_V_HEADER("empty", "", 0),
                            RD_KAFKA_V_HEADER("dup", "1", 1), RD_KAFKA_V_HEADER("dup", "2", 1),
                            RD_KAFKA_V_HEADER("bin", bin, sizeof bin),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d[3]),
                            RD_KAFKA_V_END);
    CHECK_EQ_INT(err, 0);
    /* 4: a value of 100 kB */
    {
        size_t big_len = 100 * 1000;
        char *big = malloc(big_len);
        REQUIRE_NOT_NULL(big);
        for (size_t i = 0; i < big_len; i++)
            big[i] = (char)('a' + i % 26);
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("edges"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY("big", 3), RD_KAFKA_V_VALUE(big, big_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d[4]),
                                RD_KAFKA_V_END);
        CHECK_EQ_INT(err, 0);
        free(big);
    }
    if (!flush_all(rk, d, N))
        goto out;

    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "edges", N, TIMEOUT_MS, &recs, &n),
                 RB_OK);
    if (!CHECK_EQ_INT(n, N)) {
        readback_dump(recs, n, 10);
        goto out;
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(recs[i].offset, i);

    CHECK_EQ_INT(recs[0].key_null, 1);
    CHECK_NULL(recs[0].key);
    CHECK_EQ_INT(recs[0].value_null, 1);
    CHECK_NULL(recs[0].value);
    CHECK_EQ_INT(recs[0].header_count, 0);

    CHECK_EQ_INT(recs[1].key_null, 0);
    CHECK_EQ_INT(recs[1].key_len, 0);
    CHECK_EQ_INT(recs[1].value_null, 0);
    CHECK_EQ_INT(recs[1].value_len, 0);

    CHECK_EQ_MEM(recs[2].key, recs[2].key_len, bin, sizeof bin);
    CHECK_EQ_MEM(recs[2].value, recs[2].value_len, bin, sizeof bin);

    if (CHECK_EQ_INT(recs[3].header_count, 5)) {
        const rb_header_t *h = recs[3].headers;
        CHECK_EQ_STR(h[0].name, "null");
        CHECK_EQ_INT(h[0].value_null, 1);
        CHECK_EQ_STR(h[1].name, "empty");
        CHECK_EQ_INT(h[1].value_null, 0);
        CHECK_EQ_INT(h[1].value_len, 0);
        CHECK_EQ_STR(h[2].name, "dup");
        CHECK_EQ_MEM(h[2].value, h[2].value_len, "1", 1);
        CHECK_EQ_STR(h[3].name, "dup");
        CHECK_EQ_MEM(h[3].value, h[3].value_len, "2", 1);
        CHECK_EQ_STR(h[4].name, "bin");
        CHECK_EQ_MEM(h[4].value, h[4].value_len, bin, sizeof bin);
    }

    CHECK_EQ_INT(recs[4].value_len, 100 * 1000);
    CHECK_EQ_INT(((const char *)recs[4].value)[99999], 'a' + 99999 % 26);
    CHECK(readback_find_key(recs, n, "big", 3) == &recs[4]);
    CHECK(readback_find_key(recs, n, NULL, 0) == &recs[0]);
    CHECK(readback_find_key(recs, n, "", 0) == &recs[1]);
    CHECK_NULL(readback_find_key(recs, n, "nope", 4));

out:
    readback_free(recs, n);
    if (rk)
        rd_kafka_destroy(rk);
    mockcluster_destroy(mc);
}

/* An empty topic reads back as nothing, promptly: every partition reports
 * its end even though no record ever arrives. More records than expected
 * are all returned. */
static void test_empty_and_extra(void)
{
    mockcluster_t *mc = mockcluster_start(2, "empty", 4);
    rb_record_t *recs = NULL;
    size_t n = 0;
    delivery_t d[6] = {{0}};
    rd_kafka_t *rk = NULL;
    int64_t t0;

    REQUIRE_NOT_NULL(mc);
    t0 = test_now_ms();
    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "empty", 0, TIMEOUT_MS, &recs, &n),
                 RB_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_LT_INT(test_now_ms() - t0, 5000);
    readback_free(recs, n);
    recs = NULL;
    n = 0;

    /* Six records, but the reader is told to expect two: it must still see
     * all six, because it reads to the end of every partition. */
    REQUIRE_EQ_INT(mockcluster_create_topic(mc, "extra", 2, 0), 0);
    rk = new_producer(mockcluster_bootstraps(mc));
    if (!rk)
        goto out;
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("extra"), RD_KAFKA_V_PARTITION(i % 2),
                                       RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_OPAQUE(&d[i]), RD_KAFKA_V_END),
                     0);
    if (!flush_all(rk, d, 6))
        goto out;
    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "extra", 2, TIMEOUT_MS, &recs, &n),
                 RB_OK);
    CHECK_EQ_INT(n, 6);

out:
    readback_free(recs, n);
    if (rk)
        rd_kafka_destroy(rk);
    mockcluster_destroy(mc);
}

/* Fault injection through mockcluster_handle(): Produce requests fail with
 * a retriable error a few times; the idempotent producer retries and each
 * record is in the log exactly once. Also: asking for more records than
 * exist times out and returns what is there. */
static void test_fault_injection(void)
{
    enum { N = 10 };
    mockcluster_t *mc = mockcluster_start(1, "faults", 1);
    delivery_t d[N] = {{0}};
    rb_record_t *recs = NULL;
    size_t n = 0;
    rd_kafka_t *rk;

    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_push_request_errors(mockcluster_handle(mc), KAFKA_API_PRODUCE, 3,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    rk = new_producer(mockcluster_bootstraps(mc));
    if (!rk)
        goto out;
    for (int i = 0; i < N; i++) {
        char value[8];
        snprintf(value, sizeof value, "%d", i);
        CHECK_EQ_INT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("faults"),
                                       RD_KAFKA_V_VALUE(value, strlen(value)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_OPAQUE(&d[i]), RD_KAFKA_V_END),
                     0);
    }
    if (!flush_all(rk, d, N))
        goto out;

    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "faults", N + 1, 500, &recs, &n),
                 RB_TIMEOUT);
    if (CHECK_EQ_INT(n, N)) {
        for (int i = 0; i < N; i++) {
            CHECK_EQ_INT(recs[i].offset, i);
            CHECK_EQ_INT(atoi(recs[i].value), i);
        }
    }

out:
    readback_free(recs, n);
    if (rk)
        rd_kafka_destroy(rk);
    mockcluster_destroy(mc);
}

/* A topic whose metadata keeps failing is an error after the timeout, not a
 * hang. (A topic that was never created cannot be used for this: the mock
 * cluster auto-creates any topic a Metadata request names.) */
static void test_unknown_topic(void)
{
    mockcluster_t *mc = mockcluster_start(1, "broken", 1);
    rb_record_t *recs = NULL;
    size_t n = 0;

    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_topic_set_error(mockcluster_handle(mc), "broken",
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    CHECK_EQ_INT(readback_topic(mockcluster_bootstraps(mc), "broken", 0, 500, &recs, &n),
                 RB_ERROR);
    CHECK_EQ_INT(n, 0);
    readback_free(recs, n);
    mockcluster_destroy(mc);
}

static int counter_reached(void *arg)
{
    int *c = arg;
    return ++*c >= 3;
}

static int never(void *arg)
{
    return 0;
}

/* wait_until() returns as soon as the condition holds, and 0 on timeout. */
static void test_wait_until(void)
{
    int c = 0;
    int64_t t0 = test_now_ms();

    CHECK_EQ_INT(wait_until(counter_reached, &c, 5000), 1);
    CHECK_EQ_INT(c, 3);
    CHECK_LT_INT(test_now_ms() - t0, 1000);
    t0 = test_now_ms();
    CHECK_EQ_INT(wait_until(never, NULL, 50), 0);
    CHECK_GE_INT(test_now_ms() - t0, 50);
}

TEST_MAIN(TEST(test_produce_and_read_back), TEST(test_null_and_empty), TEST(test_empty_and_extra),
          TEST(test_fault_injection), TEST(test_unknown_topic), TEST(test_wait_until))

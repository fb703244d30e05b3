/*
 * The test peer itself: the librdkafka linked into the tests is 2.15.1 (the
 * one scripts/build-librdkafka.sh builds, not Debian's 2.0.2), and the mock
 * cluster's request tracking (support/mockcluster.h) sees the requests a
 * kprod producer sends — ApiVersions, Metadata, InitProducerId, Produce —
 * with the versions kprod negotiated, also when the mock's ranges are capped
 * (rd_kafka_mock_set_apiversion); a request at a version the mock no longer
 * offers is counted as refused.
 *
 * Expected versions come from kprod's own negotiation (kp_proto_pick over
 * the range this test gives the mock), so raising what kprod speaks does not
 * make this test stale.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "common.h"
#include "proto/protocol.h"

#define TOPIC "peer"
#define TIMEOUT_MS 15000
#define RDKAFKA_2_15_1 0x020f01ff

/* librdkafka 2.15.1's maxima (rdkafka_mock_handlers.c); the mock must not
 * be given more. */
#define MOCK_PRODUCE_MAX 10
#define MOCK_METADATA_MAX 12
#define MOCK_INIT_PID_MAX 4

static const int apis[] = {KP_API_API_VERSIONS, KP_API_METADATA, KP_API_INIT_PRODUCER_ID,
                           KP_API_PRODUCE};

static void test_linked_librdkafka(void)
{
    CHECK_EQ_INT(RD_KAFKA_VERSION, RDKAFKA_2_15_1);
    CHECK_EQ_INT(rd_kafka_version(), RDKAFKA_2_15_1);
    CHECK_EQ_STR(rd_kafka_version_str(), "2.15.1");
}

typedef struct agree_arg {
    mockcluster_t *mc;
    int api;
} agree_arg_t;

/* The mock's tracked requests of an API and the versions counted from its
 * log are the same requests: equal once the mock has handled all it read. */
static int counts_agree(void *arg)
{
    agree_arg_t *a = arg;
    int by_version = 0;

    for (int v = 0; v < 32; v++)
        by_version += mockcluster_version_count(a->mc, a->api, v);
    return by_version == mockcluster_request_count(a->mc, a->api, -1);
}

/* Produce three records to partition 0 (led by broker 2) with a fresh
 * idempotent producer; check every request the mock saw was at the version
 * kprod negotiates with the ranges given: produce_max etc. */
static void produce_and_check(mockcluster_t *mc, int produce_max, int metadata_max,
                              int init_pid_max)
{
    tracker_t t;
    slot_ref_t refs[3];
    int want;

    mockcluster_track_requests(mc);
    kp_producer_t *p = make_producer(mockcluster_bootstraps(mc), "value.serializer", "string",
                                     "linger.ms", "0", NULL);
    REQUIRE_NOT_NULL(p);
    tracker_init(&t, 3);
    for (size_t i = 0; i < 3; i++) {
        kp_record_t r = {.topic = TOPIC, .partition = 0, .value = "v", .value_len = 1};
        refs[i] = (slot_ref_t){&t, i};
        CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
    }
    /* the mock has read a Produce request before kprod has its answer */
    CHECK(mockcluster_wait_requests(mc, KP_API_PRODUCE, 1, TIMEOUT_MS));
    CHECK(tracker_wait(&t, TIMEOUT_MS));
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ_INT(t.d[i].err, KP_OK);
    kp_producer_destroy(p);
    tracker_free(&t);

    /* ApiVersions: kprod opens with its highest (a fallback may follow) */
    CHECK_GE_INT(mockcluster_version_count(mc, KP_API_API_VERSIONS,
                                           kp_proto_our_max(KP_API_API_VERSIONS)),
                 1);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, KP_API_API_VERSIONS),
                 kp_proto_our_max(KP_API_API_VERSIONS));

    want = kp_proto_pick(KP_API_METADATA, 0, (int16_t)metadata_max);
    CHECK_GE_INT(mockcluster_version_count(mc, KP_API_METADATA, want), 1);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, KP_API_METADATA), want);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, KP_API_METADATA), want);

    want = kp_proto_pick(KP_API_INIT_PRODUCER_ID, 0, (int16_t)init_pid_max);
    CHECK_EQ_INT(mockcluster_version_count(mc, KP_API_INIT_PRODUCER_ID, want), 1);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, KP_API_INIT_PRODUCER_ID), want);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, KP_API_INIT_PRODUCER_ID), want);

    want = kp_proto_pick(KP_API_PRODUCE, 0, (int16_t)produce_max);
    CHECK_GE_INT(mockcluster_version_count(mc, KP_API_PRODUCE, want), 1);
    CHECK_EQ_INT(mockcluster_min_version_seen(mc, KP_API_PRODUCE), want);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, KP_API_PRODUCE), want);

    /* every Produce went to partition 0's leader, and there are 1..3 */
    CHECK_GE_INT(mockcluster_request_count(mc, KP_API_PRODUCE, 2), 1);
    CHECK_LE_INT(mockcluster_request_count(mc, KP_API_PRODUCE, 2), 3);
    CHECK_EQ_INT(mockcluster_request_count(mc, KP_API_PRODUCE, 1), 0);
    CHECK_EQ_INT(mockcluster_request_count(mc, KP_API_PRODUCE, 3), 0);

    /* the two sources agree, and nothing was refused */
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
        agree_arg_t a = {mc, apis[i]};
        if (!CHECK(wait_until(counts_agree, &a, TIMEOUT_MS)))
            fprintf(stderr, "%s: %d tracked\n", mockcluster_api_name(apis[i]),
                    mockcluster_request_count(mc, apis[i], -1));
        CHECK_EQ_INT(mockcluster_refused_count(mc, apis[i], -1), 0);
    }
    CHECK_GE_INT(mockcluster_request_count(mc, -1, -1), 4);
    mockcluster_stop_tracking(mc);
}

static mockcluster_t *start_cluster(void)
{
    mockcluster_t *mc = mockcluster_start(3, TOPIC, 1);

    if (!mc)
        return NULL;
    if (rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), TOPIC, 0, 2)) {
        FAIL("partition_set_leader failed");
        mockcluster_destroy(mc);
        return NULL;
    }
    return mc;
}

/* The mock's full ranges, set explicitly: kprod uses its highest versions
 * within them. */
static void test_versions_seen(void)
{
    mockcluster_t *mc = start_cluster();

    REQUIRE_NOT_NULL(mc);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_PRODUCE, 0, MOCK_PRODUCE_MAX), 0);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_METADATA, 0, MOCK_METADATA_MAX), 0);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_INIT_PRODUCER_ID, 0, MOCK_INIT_PID_MAX),
                 0);
    /* nothing is counted while tracking is off */
    CHECK_EQ_INT(mockcluster_request_count(mc, -1, -1), 0);
    produce_and_check(mc, MOCK_PRODUCE_MAX, MOCK_METADATA_MAX, MOCK_INIT_PID_MAX);
    mockcluster_destroy(mc);
}

/* Capped ranges (an older broker): kprod follows them down. */
static void test_versions_capped(void)
{
    mockcluster_t *mc = start_cluster();

    REQUIRE_NOT_NULL(mc);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_PRODUCE, 3, 7), 0);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_METADATA, 1, 4), 0);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_INIT_PRODUCER_ID, 0, 1), 0);
    produce_and_check(mc, 7, 4, 1);
    /* what was tracked is gone with tracking off */
    CHECK_EQ_INT(mockcluster_request_count(mc, -1, -1), 0);
    mockcluster_destroy(mc);
}

/* A Metadata v12 request to a broker capped at v4, sent by hand: the mock
 * refuses it (closes the connection), and it is counted as refused, not
 * seen or tracked. */
static void test_refused_version(void)
{
    mockcluster_t *mc = mockcluster_start(1, NULL, 0);
    int port = 0, fd = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    /* size 15; Metadata (3) v12; correlation id 1; null client id; no
     * header tags; body: null topics, allow auto-create, no authorized
     * operations, no tags */
    static const unsigned char req[] = {0, 0, 0, 15, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0,
                                        0, 1, 0, 0};
    char buf[64];
    struct pollfd pfd;

    REQUIRE_NOT_NULL(mc);
    CHECK_EQ_INT(mockcluster_set_apiversion(mc, KP_API_METADATA, 0, 4), 0);
    mockcluster_track_requests(mc);
    if (!CHECK_EQ_INT(sscanf(mockcluster_bootstraps(mc), "127.0.0.1:%d", &port), 1))
        goto out;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    if (!CHECK_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0))
        goto out;
    fprintf(stderr, "(the mock's error 'unsupported MetadataRequest version 12' is expected)\n");
    CHECK_EQ_INT(send(fd, req, sizeof req, MSG_NOSIGNAL), (ssize_t)sizeof req);
    pfd = (struct pollfd){.fd = fd, .events = POLLIN};
    CHECK_EQ_INT(poll(&pfd, 1, TIMEOUT_MS), 1);
    CHECK_LE_INT(recv(fd, buf, sizeof buf, 0), 0); /* closed, nothing answered */
    CHECK_EQ_INT(mockcluster_refused_count(mc, KP_API_METADATA, 12), 1);
    CHECK_EQ_INT(mockcluster_refused_count(mc, KP_API_METADATA, -1), 1);
    CHECK_EQ_INT(mockcluster_version_count(mc, KP_API_METADATA, 12), 0);
    CHECK_EQ_INT(mockcluster_max_version_seen(mc, KP_API_METADATA), -1);
    CHECK_EQ_INT(mockcluster_request_count(mc, KP_API_METADATA, -1), 0);
    CHECK_EQ_STR(mockcluster_api_name(KP_API_METADATA), "Metadata");
    CHECK_EQ_STR(mockcluster_api_name(KP_API_API_VERSIONS), "ApiVersion");
    CHECK_EQ_STR(mockcluster_api_name(62), "?");
out:
    if (fd >= 0)
        close(fd);
    mockcluster_destroy(mc);
}

TEST_MAIN(TEST(test_linked_librdkafka), TEST(test_versions_seen), TEST(test_versions_capped),
          TEST(test_refused_version))

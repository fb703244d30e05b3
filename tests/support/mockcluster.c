/*
 * mockcluster — see mockcluster.h. One librdkafka producer handle that never
 * connects anywhere hosts the mock cluster's thread and listeners.
 *
 * The host handle runs with debug=mock, and its log callback (on the mock
 * cluster's thread) does three things: it counts the requests the mock
 * names with their versions while tracking is on (mockcluster.h says why
 * the log: librdkafka 2.15.1's tracked requests carry no version), prints
 * errors on stderr as the default logger would, and prints everything with
 * KPROD_TEST_MOCK_DEBUG=1. The cost: about three formatted lines per
 * request (received, sent, appended) and two per connection, on the mock
 * thread.
 *
 * Latency of the rd_kafka_mock_*() calls (fault injection, set_apiversion,
 * destroy): each hands an op to the mock thread and waits for its reply,
 * and sometimes the thread sleeps out its 1 s poll timeout first. The mock
 * thread serves its op queue and only then drains its wake-up pipe, so the
 * wake-up of an op queued in between is read and lost (rdkafka_mock.c,
 * rd_kafka_mock_cluster_io_poll; 2.0.2 and 2.15.1 alike). Measured here:
 * 40 ops back to back, 2.0.2 lost 2–6 s on an idle machine, 2.15.1 none
 * idle but 10 s when the machine was busy. Tests should not put a tight
 * deadline around these calls, and should share a cluster where they can.
 */
#include "mockcluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MC_API_KEYS 80     /* librdkafka 2.15.1's RD_KAFKAP__NUM */
#define MC_MAX_VERSIONS 32 /* versions 0..31 of each */

struct mockcluster {
    rd_kafka_t *host;              /* owns the mock cluster's thread */
    rd_kafka_mock_cluster_t *mock; /* owned; destroyed before host */
    int brokers;
    int debug; /* KPROD_TEST_MOCK_DEBUG: print every log line */

    /* What the log callback counts (the mock's thread) and the test reads. */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled for each request counted */
    int tracking;
    int seen[MC_API_KEYS][MC_MAX_VERSIONS];
    int refused[MC_API_KEYS][MC_MAX_VERSIONS];
};

/* librdkafka's rd_kafka_ApiKey2str() (rdkafka_proto.h, not exported), whose
 * spelling the mock's log lines use. */
static const char *const api_names[MC_API_KEYS] = {
    [0] = "Produce", [1] = "Fetch", [2] = "ListOffsets", [3] = "Metadata",
    [4] = "LeaderAndIsr", [5] = "StopReplica", [6] = "UpdateMetadata",
    [7] = "ControlledShutdown", [8] = "OffsetCommit", [9] = "OffsetFetch",
    [10] = "FindCoordinator", [11] = "JoinGroup", [12] = "Heartbeat", [13] = "LeaveGroup",
    [14] = "SyncGroup", [15] = "DescribeGroups", [16] = "ListGroups", [17] = "SaslHandshake",
    [18] = "ApiVersion", [19] = "CreateTopics", [20] = "DeleteTopics", [21] = "DeleteRecords",
    [22] = "InitProducerId", [23] = "OffsetForLeaderEpoch", [24] = "AddPartitionsToTxn",
    [25] = "AddOffsetsToTxn", [26] = "EndTxn", [27] = "WriteTxnMarkers",
    [28] = "TxnOffsetCommit", [29] = "DescribeAcls", [30] = "CreateAcls", [31] = "DeleteAcls",
    [32] = "DescribeConfigs", [33] = "AlterConfigs", [34] = "AlterReplicaLogDirs",
    [35] = "DescribeLogDirs", [36] = "SaslAuthenticate", [37] = "CreatePartitions",
    [38] = "CreateDelegationToken", [39] = "RenewDelegationToken",
    [40] = "ExpireDelegationToken", [41] = "DescribeDelegationToken", [42] = "DeleteGroups",
    [43] = "ElectLeadersRequest", [44] = "IncrementalAlterConfigsRequest",
    [45] = "AlterPartitionReassignmentsRequest", [46] = "ListPartitionReassignmentsRequest",
    [47] = "OffsetDeleteRequest", [48] = "DescribeClientQuotasRequest",
    [49] = "AlterClientQuotasRequest", [50] = "DescribeUserScramCredentialsRequest",
    [51] = "AlterUserScramCredentialsRequest", [52] = "VoteRequest",
    [53] = "BeginQuorumEpochRequest", [54] = "EndQuorumEpochRequest",
    [55] = "DescribeQuorumRequest", [56] = "AlterIsrRequest", [57] = "UpdateFeaturesRequest",
    [58] = "EnvelopeRequest", [59] = "FetchSnapshot", [60] = "DescribeCluster",
    [61] = "DescribeProducers", [63] = "BrokerHeartbeat", [64] = "UnregisterBroker",
    [65] = "DescribeTransactions", [66] = "ListTransactions", [67] = "AllocateProducerIds",
    [68] = "ConsumerGroupHeartbeat", [69] = "ConsumerGroupDescribe",
    [71] = "GetTelemetrySubscriptions", [72] = "PushTelemetry", [76] = "ShareGroupHeartbeat",
    [78] = "ShareFetch", [79] = "ShareAcknowledge",
};

const char *mockcluster_api_name(int api_key)
{
    if (api_key < 0 || api_key >= MC_API_KEYS || !api_names[api_key])
        return "?";
    return api_names[api_key];
}

static int api_key_of(const char *name, size_t len)
{
    for (int k = 0; k < MC_API_KEYS; k++) {
        if (api_names[k] && strlen(api_names[k]) == len && memcmp(api_names[k], name, len) == 0)
            return k;
    }
    return -1;
}

/* The lines rdkafka_mock.c's rd_kafka_mock_connection_parse_request()
 * writes for a request it accepts (debug) and one it refuses (error):
 *   [thrd:mock]: Broker 1: Received ProduceRequestV10 from 127.0.0.1:40000
 *   [thrd:mock]: Broker 1: unsupported MetadataRequest version 12 from ...
 * Counts the request when tracking; other lines are ignored. */
static void count_request(mockcluster_t *mc, const char *line)
{
    char word[96];
    int broker, version, key, refused;
    size_t len;
    const char *v;

    line = strstr(line, "Broker "); /* after librdkafka's "[thrd:mock]: " */
    if (!line)
        return;
    if (sscanf(line, "Broker %d: Received %95s from ", &broker, word) == 2) {
        refused = 0;
        /* the last "RequestV" ends the name (some names contain "Request") */
        v = NULL;
        for (const char *p = strstr(word, "RequestV"); p; p = strstr(p + 1, "RequestV"))
            v = p;
        if (!v)
            return;
        len = (size_t)(v - word);
        version = atoi(v + strlen("RequestV"));
    } else if (sscanf(line, "Broker %d: unsupported %95s version %d from ", &broker, word,
                      &version) == 3) {
        refused = 1;
        len = strlen(word);
        if (len < strlen("Request") || strcmp(word + len - strlen("Request"), "Request") != 0)
            return;
        len -= strlen("Request");
    } else {
        return;
    }
    key = api_key_of(word, len);
    if (key < 0 || version < 0 || version >= MC_MAX_VERSIONS)
        return;
    pthread_mutex_lock(&mc->lock);
    if (mc->tracking) {
        if (refused)
            mc->refused[key][version]++;
        else
            mc->seen[key][version]++;
        pthread_cond_broadcast(&mc->cond);
    }
    pthread_mutex_unlock(&mc->lock);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    mockcluster_t *mc = rd_kafka_opaque(rk);

    if (strcmp(fac, "MOCK") == 0)
        count_request(mc, buf);
    if (mc->debug || level <= 3)
        fprintf(stderr, "%%%d|%s|%s| %s\n", level, rd_kafka_name(rk), fac, buf);
}

static int debug_enabled(void)
{
    const char *v = getenv("KPROD_TEST_MOCK_DEBUG");
    return v && *v && strcmp(v, "0") != 0;
}

mockcluster_t *mockcluster_new(int brokers)
{
    char errstr[512];
    rd_kafka_conf_t *conf;
    mockcluster_t *mc;
    pthread_condattr_t ca;

    if (brokers < 1 || brokers > 64) {
        fprintf(stderr, "mockcluster_new: broker count %d is not in 1..64\n", brokers);
        return NULL;
    }
    mc = calloc(1, sizeof *mc);
    if (!mc) {
        fprintf(stderr, "mockcluster_new: out of memory\n");
        return NULL;
    }
    mc->brokers = brokers;
    mc->debug = debug_enabled();
    pthread_mutex_init(&mc->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mc->cond, &ca);
    pthread_condattr_destroy(&ca);

    conf = rd_kafka_conf_new();
    /* debug=mock for the request lines (on_log counts them); on_log prints
     * errors only, unless KPROD_TEST_MOCK_DEBUG asks for everything. */
    if (rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "mockcluster_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, mc);
    mc->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!mc->host) {
        fprintf(stderr, "mockcluster_new: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    mc->mock = rd_kafka_mock_cluster_new(mc->host, brokers);
    if (!mc->mock) {
        fprintf(stderr, "mockcluster_new: rd_kafka_mock_cluster_new(%d) failed\n", brokers);
        rd_kafka_destroy(mc->host);
        goto fail;
    }
    return mc;

fail:
    pthread_cond_destroy(&mc->cond);
    pthread_mutex_destroy(&mc->lock);
    free(mc);
    return NULL;
}

int mockcluster_create_topic(mockcluster_t *mc, const char *topic, int partitions,
                             int replication)
{
    rd_kafka_resp_err_t err;

    if (replication <= 0)
        replication = mc->brokers < 3 ? mc->brokers : 3;
    err = rd_kafka_mock_topic_create(mc->mock, topic, partitions, replication);
    if (err)
        fprintf(stderr, "mockcluster_create_topic(%s, %d, %d): %s\n", topic, partitions,
                replication, rd_kafka_err2str(err));
    return (int)err;
}

mockcluster_t *mockcluster_start(int brokers, const char *topic, int partitions)
{
    mockcluster_t *mc = mockcluster_new(brokers);

    if (mc && topic && mockcluster_create_topic(mc, topic, partitions, 0) != 0) {
        mockcluster_destroy(mc);
        return NULL;
    }
    return mc;
}

const char *mockcluster_bootstraps(const mockcluster_t *mc)
{
    return rd_kafka_mock_cluster_bootstraps(mc->mock);
}

rd_kafka_mock_cluster_t *mockcluster_handle(const mockcluster_t *mc)
{
    return mc->mock;
}

int mockcluster_broker_count(const mockcluster_t *mc)
{
    return mc->brokers;
}

/* ---- request tracking ---------------------------------------------------- */

static void forget_counts(mockcluster_t *mc)
{
    memset(mc->seen, 0, sizeof mc->seen);
    memset(mc->refused, 0, sizeof mc->refused);
}

/* The mock's list and our counts are changed in an order that keeps every
 * request we count in the mock's list (the mock tracks a request before it
 * logs it), and never with mc->lock held: the mock thread may log while it
 * holds its own lock. */
void mockcluster_track_requests(mockcluster_t *mc)
{
    rd_kafka_mock_start_request_tracking(mc->mock); /* clears its list */
    pthread_mutex_lock(&mc->lock);
    forget_counts(mc);
    mc->tracking = 1;
    pthread_mutex_unlock(&mc->lock);
}

void mockcluster_stop_tracking(mockcluster_t *mc)
{
    pthread_mutex_lock(&mc->lock);
    mc->tracking = 0;
    pthread_mutex_unlock(&mc->lock);
    rd_kafka_mock_stop_request_tracking(mc->mock);
}

void mockcluster_clear_requests(mockcluster_t *mc)
{
    rd_kafka_mock_clear_requests(mc->mock);
    pthread_mutex_lock(&mc->lock);
    forget_counts(mc);
    pthread_mutex_unlock(&mc->lock);
}

int mockcluster_request_count(mockcluster_t *mc, int api_key, int32_t broker_id)
{
    size_t cnt = 0;
    rd_kafka_mock_request_t **reqs = rd_kafka_mock_get_requests(mc->mock, &cnt);
    int n = 0;

    for (size_t i = 0; i < cnt; i++) {
        if ((api_key < 0 || rd_kafka_mock_request_api_key(reqs[i]) == api_key) &&
            (broker_id < 0 || rd_kafka_mock_request_id(reqs[i]) == broker_id))
            n++;
    }
    if (reqs)
        rd_kafka_mock_request_destroy_array(reqs, cnt);
    return n;
}

size_t mockcluster_request_keys(mockcluster_t *mc, int16_t *keys, int32_t *brokers, size_t max)
{
    size_t cnt = 0, n = 0;
    rd_kafka_mock_request_t **reqs = rd_kafka_mock_get_requests(mc->mock, &cnt);
    for (size_t i = 0; i < cnt && n < max; i++, n++) {
        keys[n] = rd_kafka_mock_request_api_key(reqs[i]);
        if (brokers)
            brokers[n] = rd_kafka_mock_request_id(reqs[i]);
    }
    if (reqs)
        rd_kafka_mock_request_destroy_array(reqs, cnt);
    return n;
}

static int valid_key(int api_key)
{
    return api_key >= 0 && api_key < MC_API_KEYS;
}

int mockcluster_version_count(mockcluster_t *mc, int api_key, int version)
{
    int n;

    if (!valid_key(api_key) || version < 0 || version >= MC_MAX_VERSIONS)
        return 0;
    pthread_mutex_lock(&mc->lock);
    n = mc->seen[api_key][version];
    pthread_mutex_unlock(&mc->lock);
    return n;
}

/* The highest (dir = -1) or lowest (dir = 1) version with a count. */
static int version_seen(mockcluster_t *mc, int api_key, int dir)
{
    int found = -1;

    if (!valid_key(api_key))
        return -1;
    pthread_mutex_lock(&mc->lock);
    for (int i = 0; i < MC_MAX_VERSIONS; i++) {
        int v = dir > 0 ? i : MC_MAX_VERSIONS - 1 - i;
        if (mc->seen[api_key][v] > 0) {
            found = v;
            break;
        }
    }
    pthread_mutex_unlock(&mc->lock);
    return found;
}

int mockcluster_max_version_seen(mockcluster_t *mc, int api_key)
{
    return version_seen(mc, api_key, -1);
}

int mockcluster_min_version_seen(mockcluster_t *mc, int api_key)
{
    return version_seen(mc, api_key, 1);
}

int mockcluster_refused_count(mockcluster_t *mc, int api_key, int version)
{
    int n = 0;

    if (!valid_key(api_key) || version >= MC_MAX_VERSIONS)
        return 0;
    pthread_mutex_lock(&mc->lock);
    for (int v = 0; v < MC_MAX_VERSIONS; v++) {
        if (version < 0 || v == version)
            n += mc->refused[api_key][v];
    }
    pthread_mutex_unlock(&mc->lock);
    return n;
}

static int seen_total(const mockcluster_t *mc, int api_key)
{
    int n = 0;

    for (int v = 0; v < MC_MAX_VERSIONS; v++)
        n += mc->seen[api_key][v];
    return n;
}

int mockcluster_wait_requests(mockcluster_t *mc, int api_key, int n, int timeout_ms)
{
    struct timespec deadline;
    int ok, rc = 0;

    if (!valid_key(api_key))
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mc->lock);
    while (!(ok = seen_total(mc, api_key) >= n) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&mc->cond, &mc->lock, &deadline);
    pthread_mutex_unlock(&mc->lock);
    return ok;
}

int mockcluster_set_apiversion(mockcluster_t *mc, int api_key, int min_version, int max_version)
{
    rd_kafka_resp_err_t err = rd_kafka_mock_set_apiversion(
        mc->mock, (int16_t)api_key, (int16_t)min_version, (int16_t)max_version);

    if (err)
        fprintf(stderr, "mockcluster_set_apiversion(%s, %d..%d): %s\n",
                mockcluster_api_name(api_key), min_version, max_version, rd_kafka_err2str(err));
    return (int)err;
}

void mockcluster_destroy(mockcluster_t *mc)
{
    if (!mc)
        return;
    rd_kafka_mock_cluster_destroy(mc->mock);
    rd_kafka_destroy(mc->host);
    pthread_cond_destroy(&mc->cond);
    pthread_mutex_destroy(&mc->lock);
    free(mc);
}

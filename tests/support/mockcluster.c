/*
 * mockcluster — see mockcluster.h. One librdkafka producer handle that never
 * connects anywhere hosts the mock cluster's thread and listeners.
 *
 * Shutdown latency: librdkafka 2.0.2's rd_kafka_mock_cluster_destroy()
 * often (roughly one call in three) blocks for about one second: the caller
 * waits for the TERMINATE op's reply while the mock thread sleeps out its
 * 1 s poll timeout. Nothing here can shorten that; tests that need many
 * clusters should share one where they can.
 */
#include "mockcluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mockcluster {
    rd_kafka_t *host;              /* owns the mock cluster's thread */
    rd_kafka_mock_cluster_t *mock; /* owned; destroyed before host */
    int brokers;
};

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
    int debug = debug_enabled();

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

    conf = rd_kafka_conf_new();
    /* Level 3 keeps errors and drops the notice that this handle has no
     * bootstrap.servers (it never needs any). */
    if (rd_kafka_conf_set(conf, "log_level", debug ? "7" : "3", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof errstr) !=
                      RD_KAFKA_CONF_OK)) {
        fprintf(stderr, "mockcluster_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        free(mc);
        return NULL;
    }
    mc->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!mc->host) {
        fprintf(stderr, "mockcluster_new: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        free(mc);
        return NULL;
    }
    mc->mock = rd_kafka_mock_cluster_new(mc->host, brokers);
    if (!mc->mock) {
        fprintf(stderr, "mockcluster_new: rd_kafka_mock_cluster_new(%d) failed\n", brokers);
        rd_kafka_destroy(mc->host);
        free(mc);
        return NULL;
    }
    return mc;
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

void mockcluster_destroy(mockcluster_t *mc)
{
    if (!mc)
        return;
    rd_kafka_mock_cluster_destroy(mc->mock);
    rd_kafka_destroy(mc->host);
    free(mc);
}

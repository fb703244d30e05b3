/*
 * mockcluster — an in-process Kafka cluster for integration tests.
 *
 * This is librdkafka's mock cluster (rdkafka_mock.h) hosted by a private,
 * quiet librdkafka handle. Brokers are numbered 1..N and listen on
 * 127.0.0.1 with ports chosen by the kernel. Faults (request errors, broker
 * down/up, RTT, leader moves, API version limits) are injected with the
 * rd_kafka_mock_*() functions on mockcluster_handle(); this header includes
 * rdkafka_mock.h for that.
 *
 * Logs: librdkafka errors only, on stderr. With KPROD_TEST_MOCK_DEBUG=1 in
 * the environment the mock cluster logs every connection and request.
 *
 * Not thread-safe to create/destroy concurrently with use; the fault
 * injection calls themselves may be made from any thread (librdkafka
 * forwards them to the cluster's own thread).
 */
#ifndef KPROD_TEST_MOCKCLUSTER_H
#define KPROD_TEST_MOCKCLUSTER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

typedef struct mockcluster mockcluster_t;

/* Start a cluster of `brokers` brokers (1..64). Returns NULL on failure,
 * after printing why on stderr. Free with mockcluster_destroy(). */
mockcluster_t *mockcluster_new(int brokers);

/* Create a topic. replication <= 0 means min(brokers, 3). Returns 0 or the
 * rd_kafka_resp_err_t from librdkafka (printed on stderr). */
int mockcluster_create_topic(mockcluster_t *mc, const char *topic, int partitions,
                             int replication);

/* mockcluster_new() plus one topic (replication min(brokers, 3)); NULL on
 * failure. topic may be NULL for no topic. */
mockcluster_t *mockcluster_start(int brokers, const char *topic, int partitions);

/* "127.0.0.1:PORT,127.0.0.1:PORT,..."; owned by the cluster, valid until
 * mockcluster_destroy(). */
const char *mockcluster_bootstraps(const mockcluster_t *mc);

/* The librdkafka mock cluster, for rd_kafka_mock_*() fault injection.
 * Owned by mc; valid until mockcluster_destroy(). */
rd_kafka_mock_cluster_t *mockcluster_handle(const mockcluster_t *mc);

int mockcluster_broker_count(const mockcluster_t *mc);

/* Stop every broker (closing client connections) and free everything.
 * Clients still connected see their connections drop. NULL is a no-op. */
void mockcluster_destroy(mockcluster_t *mc);

#endif /* KPROD_TEST_MOCKCLUSTER_H */

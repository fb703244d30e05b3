/*
 * mockcluster — an in-process Kafka cluster for integration tests.
 *
 * This is librdkafka 2.15.1's mock cluster (rdkafka_mock.h; built by
 * scripts/build-librdkafka.sh, see cmake/rdkafka.cmake) hosted by a private,
 * quiet librdkafka handle. Brokers are numbered 1..N and listen on
 * 127.0.0.1 with ports chosen by the kernel. Faults (request errors, broker
 * down/up, RTT, leader moves, API version limits) are injected with the
 * rd_kafka_mock_*() functions on mockcluster_handle(); this header includes
 * rdkafka_mock.h for that.
 *
 * Logs: librdkafka errors only, on stderr (e.g. a request refused for its
 * version). With KPROD_TEST_MOCK_DEBUG=1 in the environment the mock cluster
 * logs every connection and request.
 *
 * Not thread-safe to create/destroy concurrently with use; the fault
 * injection calls themselves may be made from any thread (librdkafka
 * forwards them to the cluster's own thread).
 */
#ifndef KPROD_TEST_MOCKCLUSTER_H
#define KPROD_TEST_MOCKCLUSTER_H

#include <stdint.h>

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

/* ---- which requests a client sent, at which versions --------------------
 *
 * Two sources, both the mock's own:
 *   - its request tracking (rd_kafka_mock_start_request_tracking,
 *     rd_kafka_mock_get_requests): one entry per request it accepted, with
 *     the broker id and ApiKey (and a time) — but no ApiVersion;
 *   - its "mock" debug log, which names each request it accepts with its
 *     version ("Broker 1: Received ProduceRequestV10 from ...") and each it
 *     refuses because the version is outside the range it offers
 *     ("unsupported MetadataRequest version 12"; it then closes the
 *     connection, and the request is not tracked). The versions below come
 *     from there.
 * Both record a request when the mock has read it, before it answers: once
 * a client has the answer, the request is counted.
 *
 * An ApiVersions request is never refused: the mock answers every version
 * (above its maximum with UNSUPPORTED_VERSION), so it counts as seen.
 * Tracking is off until mockcluster_track_requests(); keep it on only
 * around what a test looks at (the mock keeps every tracked request). */

/* Start tracking, forgetting whatever was tracked before. */
void mockcluster_track_requests(mockcluster_t *mc);
/* Stop tracking. librdkafka 2.15.1 then forgets its tracked requests (its
 * header says it keeps them), so read the counts first. */
void mockcluster_stop_tracking(mockcluster_t *mc);
/* Forget what was tracked so far; tracking goes on. */
void mockcluster_clear_requests(mockcluster_t *mc);

/* Requests tracked (rd_kafka_mock_get_requests) with this ApiKey (-1: any)
 * sent to this broker (-1: any). */
int mockcluster_request_count(mockcluster_t *mc, int api_key, int32_t broker_id);
/* The ApiKeys of the requests tracked, in the order the mock read them
 * (and each one's broker id, brokers may be NULL): at most max; returns
 * how many. */
size_t mockcluster_request_keys(mockcluster_t *mc, int16_t *keys, int32_t *brokers, size_t max);
/* Requests of api_key the mock accepted at exactly this version. */
int mockcluster_version_count(mockcluster_t *mc, int api_key, int version);
/* The highest / lowest version of api_key the mock accepted; -1 if none. */
int mockcluster_max_version_seen(mockcluster_t *mc, int api_key);
int mockcluster_min_version_seen(mockcluster_t *mc, int api_key);
/* Requests of api_key the mock refused at this version (-1: any version)
 * because rd_kafka_mock_set_apiversion's range left it out. */
int mockcluster_refused_count(mockcluster_t *mc, int api_key, int version);
/* Wait until the mock has accepted at least n requests of api_key since
 * tracking started (or was cleared): 1, or 0 after timeout_ms. */
int mockcluster_wait_requests(mockcluster_t *mc, int api_key, int n, int timeout_ms);

/* The versions of api_key the mock offers in ApiVersions and accepts:
 * min..max (at most what librdkafka 2.15.1 implements, e.g. Produce 10,
 * Metadata 12, InitProducerId 4; -1/-1 takes the API away). Returns 0 or
 * the rd_kafka_resp_err_t (printed on stderr). Clients connected before
 * keep what they negotiated; a request outside the new range is refused
 * and its connection closed. */
int mockcluster_set_apiversion(mockcluster_t *mc, int api_key, int min_version, int max_version);

/* Kafka's name for an ApiKey as librdkafka spells it ("Produce",
 * "Metadata", "ApiVersion", ...), or "?" for one it does not know. */
const char *mockcluster_api_name(int api_key);

/* Stop every broker (closing client connections) and free everything.
 * Clients still connected see their connections drop. NULL is a no-op. */
void mockcluster_destroy(mockcluster_t *mc);

#endif /* KPROD_TEST_MOCKCLUSTER_H */

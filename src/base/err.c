/*
 * err — the one error model: names, messages and the retriable classifier.
 *
 * Local errors are negative (kprod's own); positive codes are Kafka's, with
 * the names of org.apache.kafka.common.protocol.Errors. Kafka's only
 * negative code, UNKNOWN_SERVER_ERROR (-1), has a local code of its own
 * (kp_err_from_kafka maps it when a response is decoded). Retriability
 * follows the Java exception hierarchy (RetriableException and its
 * InvalidMetadataException subclass); see producer-anchors §5.4.
 */
#include "base/err.h"
#include "base/kafka_codes.h"

#include <stddef.h>

struct err_desc {
    int code;
    const char *name;
    const char *msg;
    int retriable;
};

static const struct err_desc local_errs[] = {
    {KP_OK, "NO_ERROR", "Success", 0},
    {KP_ERR_UNKNOWN, "_UNKNOWN", "Unexpected internal error", 0},
    {KP_ERR_INVALID_ARG, "_INVALID_ARG", "Invalid argument", 0},
    {KP_ERR_INVALID_CONFIG, "_INVALID_CONFIG", "Invalid configuration", 0},
    {KP_ERR_NOMEM, "_NOMEM", "Out of memory", 0},
    {KP_ERR_CLOSED, "_CLOSED", "Producer is closed", 0},
    {KP_ERR_TIMED_OUT, "_TIMED_OUT", "Timed out waiting", 0},
    {KP_ERR_BUFFER_EXHAUSTED, "_BUFFER_EXHAUSTED",
     "Failed to allocate buffer.memory within max.block.ms", 0},
    {KP_ERR_RECORD_TOO_LARGE, "_RECORD_TOO_LARGE",
     "Record is larger than max.request.size or buffer.memory", 0},
    {KP_ERR_METADATA_TIMEOUT, "_METADATA_TIMEOUT",
     "Topic or partition not present in metadata within max.block.ms", 0},
    {KP_ERR_MSG_TIMED_OUT_QUEUE, "_MSG_TIMED_OUT_QUEUE",
     "delivery.timeout.ms expired before the record was sent (not persisted)", 0},
    {KP_ERR_MSG_TIMED_OUT_IN_FLIGHT, "_MSG_TIMED_OUT_IN_FLIGHT",
     "delivery.timeout.ms expired while the record was in flight (possibly persisted)", 0},
    {KP_ERR_TRANSPORT, "_TRANSPORT", "Broker connection failed or was lost", 1},
    {KP_ERR_UNKNOWN_PARTITION, "_UNKNOWN_PARTITION", "Partition does not exist in the topic", 0},
    {KP_ERR_UNSUPPORTED_BROKER, "_UNSUPPORTED_BROKER",
     "Broker does not support a protocol version kprod requires", 0},
    {KP_ERR_BAD_RESPONSE, "_BAD_RESPONSE", "Malformed response from broker", 1},
    {KP_ERR_IN_CALLBACK, "_IN_CALLBACK", "Not allowed from inside a producer callback (it would wait for itself)", 0},
    {KP_ERR_SERIALIZATION, "_SERIALIZATION", "Serialization failed", 0},
    {KP_ERR_NOT_IMPLEMENTED, "_NOT_IMPLEMENTED", "Feature not implemented in this build", 0},
    {KP_ERR_PURGED_CLOSE, "_PURGED_CLOSE", "Record still pending when close() timed out", 0},
    {KP_ERR_IO, "_IO", "File or system I/O error", 0},
    /* Kafka's -1, under Java's name and text; not retriable, as in Java
     * (UnknownServerException is not a RetriableException). */
    {KP_ERR_UNKNOWN_SERVER_ERROR, "UNKNOWN_SERVER_ERROR",
     "The server experienced an unexpected error when processing the request", 0},
    {KP_ERR_CLUSTER_UNREACHABLE, "_CLUSTER_UNREACHABLE",
     "No broker could be reached within max.block.ms (the log names each broker's cause)", 1},
    /* Java's KafkaException text for the records of such a batch */
    {KP_ERR_INVALID_RECORD_IN_BATCH, "_INVALID_RECORD_IN_BATCH",
     "Failed to append record because it was part of a batch which had one or more invalid "
     "records", 0},
    /* Java's SslAuthenticationException: not retriable */
    {KP_ERR_SSL_HANDSHAKE, "_SSL_HANDSHAKE",
     "TLS handshake with the broker failed (certificate, TLS version or a listener that does not "
     "speak TLS: the log says which and what to check)", 0},
    {KP_ERR_TXN_STATE, "_TXN_STATE",
     "Transactional call not allowed in the producer's current transactional state", 0},
    {KP_ERR_TXN_ABORTABLE, "_TXN_ABORTABLE",
     "The transaction cannot commit and must be aborted (kp_txn_error() gives the cause)", 0},
    {KP_ERR_TXN_ABORTED, "_TXN_ABORTED",
     "The record's transaction was aborted before the record was sent (not persisted)", 0},
    {KP_ERR_PURGED, "_PURGED", "kp_purge() failed the record before it was sent (not persisted)",
     0},
    {KP_ERR_PURGED_IN_FLIGHT, "_PURGED_IN_FLIGHT",
     "kp_purge() stopped waiting for the record's answer while it was in flight (possibly "
     "persisted)", 0},
};

/* Kafka error codes a Produce, Metadata or ApiVersions response can carry
 * (and their neighbours), with Java's retriable classification. */
static const struct err_desc kafka_errs[] = {
    {1, "OFFSET_OUT_OF_RANGE", "The requested offset is not within the range of offsets", 0},
    {2, "CORRUPT_MESSAGE", "The message contents do not match its CRC", 1},
    {3, "UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition", 1},
    {4, "INVALID_FETCH_SIZE", "The requested fetch size is invalid", 0},
    {5, "LEADER_NOT_AVAILABLE", "There is no leader for this topic-partition", 1},
    {6, "NOT_LEADER_OR_FOLLOWER", "This server is not the leader for that topic-partition", 1},
    {7, "REQUEST_TIMED_OUT", "The request timed out", 1},
    {8, "BROKER_NOT_AVAILABLE", "The broker is not available", 0},
    {9, "REPLICA_NOT_AVAILABLE", "The replica is not available for the requested partition", 1},
    {10, "MESSAGE_TOO_LARGE", "The request included a message larger than the server accepts", 0},
    {11, "STALE_CONTROLLER_EPOCH", "The controller moved to another broker", 0},
    {12, "OFFSET_METADATA_TOO_LARGE", "The metadata field of the offset request was too large", 0},
    {13, "NETWORK_EXCEPTION", "The server disconnected before a response was received", 1},
    {14, "COORDINATOR_LOAD_IN_PROGRESS", "The coordinator is loading", 1},
    {15, "COORDINATOR_NOT_AVAILABLE", "The coordinator is not available", 1},
    {16, "NOT_COORDINATOR", "This is not the correct coordinator", 1},
    {17, "INVALID_TOPIC_EXCEPTION", "The request attempted an invalid topic", 0},
    {18, "RECORD_LIST_TOO_LARGE", "The request included a batch larger than the segment size", 0},
    {19, "NOT_ENOUGH_REPLICAS", "Messages are rejected since there are fewer in-sync replicas than required", 1},
    {20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "Messages are written to the log, but to fewer in-sync replicas than required", 1},
    {21, "INVALID_REQUIRED_ACKS", "Produce request specified an invalid value for required acks", 0},
    {22, "ILLEGAL_GENERATION", "Specified group generation id is not valid", 0},
    {25, "UNKNOWN_MEMBER_ID", "The coordinator is not aware of this member", 0},
    {29, "TOPIC_AUTHORIZATION_FAILED", "Topic authorization failed", 0},
    {30, "GROUP_AUTHORIZATION_FAILED", "Group authorization failed", 0},
    {31, "CLUSTER_AUTHORIZATION_FAILED", "Cluster authorization failed", 0},
    {32, "INVALID_TIMESTAMP", "The timestamp of the message is out of acceptable range", 0},
    {33, "UNSUPPORTED_SASL_MECHANISM", "The broker does not support the requested SASL mechanism", 0},
    {34, "ILLEGAL_SASL_STATE", "Request is not valid given the current SASL state", 0},
    {35, "UNSUPPORTED_VERSION", "The version of API is not supported", 0},
    {36, "TOPIC_ALREADY_EXISTS", "Topic with this name already exists", 0},
    {37, "INVALID_PARTITIONS", "Number of partitions is below 1", 0},
    {38, "INVALID_REPLICATION_FACTOR", "Replication factor is below 1 or larger than the number of available brokers", 0},
    {39, "INVALID_REPLICA_ASSIGNMENT", "Replica assignment is invalid", 0},
    {40, "INVALID_CONFIG", "Configuration is invalid", 0},
    {41, "NOT_CONTROLLER", "This is not the correct controller for this cluster", 1},
    {42, "INVALID_REQUEST", "This most likely occurs because of a request being malformed by the client library", 0},
    {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", "The message format version on the broker does not support the request", 0},
    {44, "POLICY_VIOLATION", "Request parameters do not satisfy the configured policy", 0},
    {45, "OUT_OF_ORDER_SEQUENCE_NUMBER", "The broker received an out of order sequence number", 0},
    {46, "DUPLICATE_SEQUENCE_NUMBER", "The broker received a duplicate sequence number", 0},
    {47, "INVALID_PRODUCER_EPOCH", "Producer attempted to produce with an old epoch", 0},
    {48, "INVALID_TXN_STATE", "The producer attempted a transactional operation in an invalid state", 0},
    {49, "INVALID_PRODUCER_ID_MAPPING", "The producer attempted to use a producer id which is not currently assigned to its transactional id", 0},
    {50, "INVALID_TRANSACTION_TIMEOUT", "The transaction timeout is larger than the maximum value allowed by the broker", 0},
    {51, "CONCURRENT_TRANSACTIONS", "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing", 1},
    {52, "TRANSACTION_COORDINATOR_FENCED", "The transaction coordinator sending a WriteTxnMarker is no longer the current coordinator", 0},
    {53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "Transactional Id authorization failed", 0},
    {54, "SECURITY_DISABLED", "Security features are disabled", 0},
    {55, "OPERATION_NOT_ATTEMPTED", "The broker did not attempt to execute this operation", 0},
    {56, "KAFKA_STORAGE_ERROR", "Disk error when trying to access log file on the disk", 1},
    {57, "LOG_DIR_NOT_FOUND", "The user-specified log directory is not found in the broker config", 0},
    {58, "SASL_AUTHENTICATION_FAILED", "SASL Authentication failed", 0},
    {59, "UNKNOWN_PRODUCER_ID", "The broker could not locate the producer metadata associated with the producer id", 0},
    {60, "REASSIGNMENT_IN_PROGRESS", "A partition reassignment is in progress", 0},
    {67, "INVALID_PRINCIPAL_TYPE", "Request principal deserialization failed", 0},
    {72, "LISTENER_NOT_FOUND", "There is no listener on the leader broker that matches the listener on which metadata request was processed", 1},
    {73, "TOPIC_DELETION_DISABLED", "Topic deletion is disabled", 0},
    {74, "FENCED_LEADER_EPOCH", "The leader epoch in the request is older than the epoch on the broker", 1},
    {75, "UNKNOWN_LEADER_EPOCH", "The leader epoch in the request is newer than the epoch on the broker", 1},
    {76, "UNSUPPORTED_COMPRESSION_TYPE", "The requesting client does not support the compression type of given partition", 0},
    {82, "FENCED_INSTANCE_ID", "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id", 0},
    {87, "INVALID_RECORD", "This record has failed the validation on broker and hence will be rejected", 0},
    {88, "UNSTABLE_OFFSET_COMMIT", "There are unstable offsets that need to be cleared", 1},
    {89, "THROTTLING_QUOTA_EXCEEDED", "The throttling quota has been exceeded", 1},
    {90, "PRODUCER_FENCED", "There is a newer producer with the same transactionalId which fences the current one", 0},
    {100, "UNKNOWN_TOPIC_ID", "This server does not host this topic ID", 1},
    {103, "INCONSISTENT_TOPIC_ID", "The log's topic ID did not match the topic ID in the request", 1},
    {120, "TRANSACTION_ABORTABLE", "The server encountered an error with the transaction", 0},
    /* KIP-1102: the client should start again from bootstrap.servers; a
     * batch so refused is sent again after that (retriable here) */
    {129, "REBOOTSTRAP_REQUIRED",
     "Client metadata is stale, client should rebootstrap to obtain new metadata", 1},
};

static const struct err_desc *find(kp_err_t err) {
    const struct err_desc *t = (int)err <= 0 ? local_errs : kafka_errs;
    size_t n = (int)err <= 0 ? sizeof(local_errs) / sizeof(*t) : sizeof(kafka_errs) / sizeof(*t);
    for (size_t i = 0; i < n; i++)
        if (t[i].code == (int)err)
            return &t[i];
    return NULL;
}

/* Codes in neither table: a local code from a newer kprod, or a Kafka code
 * newer than this table. Their names are not any known error's name (in
 * particular not UNKNOWN_SERVER_ERROR, which is one specific code). */
const char *kp_err_name(kp_err_t err) {
    const struct err_desc *d = find(err);
    return d ? d->name : ((int)err < 0 ? "_UNKNOWN_LOCAL_ERROR" : "_UNKNOWN_KAFKA_ERROR");
}

const char *kp_err_str(kp_err_t err) {
    const struct err_desc *d = find(err);
    if (d)
        return d->msg;
    return (int)err < 0 ? "Unknown local error code"
                        : "Kafka error code unknown to this version of kprod";
}

int kp_err_is_retriable(kp_err_t err) {
    const struct err_desc *d = find(err);
    return d ? d->retriable : 0;
}

/* KIP-1050's classes, as the Java TransactionManager treats each error
 * (maybeTransitionToErrorState and the request handlers): retried inside,
 * abortable, or fatal for a transactional producer. */
kp_err_class_t kp_err_class(kp_err_t err) {
    switch ((int)err) {
    case KP_ERR_TIMED_OUT: /* the call may be made again and resumes */
    case KAFKA_COORDINATOR_LOAD_IN_PROGRESS:
    case KAFKA_COORDINATOR_NOT_AVAILABLE:
    case KAFKA_NOT_COORDINATOR:
    case KAFKA_CONCURRENT_TRANSACTIONS:
    case KAFKA_UNKNOWN_TOPIC_OR_PARTITION:
    case KAFKA_REQUEST_TIMED_OUT:
        return KP_ERR_CLASS_RETRIABLE;
    case KP_ERR_TXN_ABORTABLE:
    case KP_ERR_TXN_ABORTED:
    case KP_ERR_PURGED: /* purged records make the transaction abortable */
    case KP_ERR_PURGED_IN_FLIGHT:
    case KAFKA_TRANSACTION_ABORTABLE:
    case KAFKA_TOPIC_AUTHORIZATION_FAILED:
    case KAFKA_GROUP_AUTHORIZATION_FAILED:
    case KAFKA_UNKNOWN_PRODUCER_ID:
    case KAFKA_INVALID_PRODUCER_ID_MAPPING: /* (the id expired: a new one after the abort) */
    case KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case KAFKA_ILLEGAL_GENERATION:
    case KAFKA_UNKNOWN_MEMBER_ID:
    case KAFKA_FENCED_INSTANCE_ID:
        return KP_ERR_CLASS_ABORTABLE;
    case KAFKA_PRODUCER_FENCED:
    case KAFKA_INVALID_PRODUCER_EPOCH:
    case KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case KAFKA_CLUSTER_AUTHORIZATION_FAILED:
    case KAFKA_INVALID_TXN_STATE:
    case KAFKA_INVALID_TRANSACTION_TIMEOUT:
    case KAFKA_UNSUPPORTED_VERSION:
    case KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case KP_ERR_UNSUPPORTED_BROKER:
        return KP_ERR_CLASS_FATAL;
    default:
        return KP_ERR_CLASS_NONE;
    }
}

kp_err_t kp_err_from_kafka(int16_t code) {
    /* Kafka defines no negative code but -1; any other is as unexpected and
     * gets the same treatment instead of passing for a local error. */
    return code < 0 ? KP_ERR_UNKNOWN_SERVER_ERROR : (kp_err_t)code;
}

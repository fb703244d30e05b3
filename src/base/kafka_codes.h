/*
 * kafka_codes — Kafka's error codes by name, for the conditions in the
 * engine (style: never a bare number in a condition). Generated from
 * src/base/err.c's table by tools/gen-errors-doc.c (`make docs`); the test
 * suite fails when this file is out of date. The names are those of
 * org.apache.kafka.common.protocol.Errors, the values Kafka's; each is a
 * kp_err_t, as a Kafka code is an error as it stands (kprod.h). Kafka's
 * UNKNOWN_SERVER_ERROR (-1 on the wire) is KP_ERR_UNKNOWN_SERVER_ERROR.
 */
#ifndef KP_KAFKA_CODES_H
#define KP_KAFKA_CODES_H

#include "kprod/kprod.h"

#define KAFKA_OFFSET_OUT_OF_RANGE ((kp_err_t)1)
#define KAFKA_CORRUPT_MESSAGE ((kp_err_t)2)
#define KAFKA_UNKNOWN_TOPIC_OR_PARTITION ((kp_err_t)3)
#define KAFKA_INVALID_FETCH_SIZE ((kp_err_t)4)
#define KAFKA_LEADER_NOT_AVAILABLE ((kp_err_t)5)
#define KAFKA_NOT_LEADER_OR_FOLLOWER ((kp_err_t)6)
#define KAFKA_REQUEST_TIMED_OUT ((kp_err_t)7)
#define KAFKA_BROKER_NOT_AVAILABLE ((kp_err_t)8)
#define KAFKA_REPLICA_NOT_AVAILABLE ((kp_err_t)9)
#define KAFKA_MESSAGE_TOO_LARGE ((kp_err_t)10)
#define KAFKA_STALE_CONTROLLER_EPOCH ((kp_err_t)11)
#define KAFKA_OFFSET_METADATA_TOO_LARGE ((kp_err_t)12)
#define KAFKA_NETWORK_EXCEPTION ((kp_err_t)13)
#define KAFKA_COORDINATOR_LOAD_IN_PROGRESS ((kp_err_t)14)
#define KAFKA_COORDINATOR_NOT_AVAILABLE ((kp_err_t)15)
#define KAFKA_NOT_COORDINATOR ((kp_err_t)16)
#define KAFKA_INVALID_TOPIC_EXCEPTION ((kp_err_t)17)
#define KAFKA_RECORD_LIST_TOO_LARGE ((kp_err_t)18)
#define KAFKA_NOT_ENOUGH_REPLICAS ((kp_err_t)19)
#define KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND ((kp_err_t)20)
#define KAFKA_INVALID_REQUIRED_ACKS ((kp_err_t)21)
#define KAFKA_ILLEGAL_GENERATION ((kp_err_t)22)
#define KAFKA_UNKNOWN_MEMBER_ID ((kp_err_t)25)
#define KAFKA_TOPIC_AUTHORIZATION_FAILED ((kp_err_t)29)
#define KAFKA_GROUP_AUTHORIZATION_FAILED ((kp_err_t)30)
#define KAFKA_CLUSTER_AUTHORIZATION_FAILED ((kp_err_t)31)
#define KAFKA_INVALID_TIMESTAMP ((kp_err_t)32)
#define KAFKA_UNSUPPORTED_SASL_MECHANISM ((kp_err_t)33)
#define KAFKA_ILLEGAL_SASL_STATE ((kp_err_t)34)
#define KAFKA_UNSUPPORTED_VERSION ((kp_err_t)35)
#define KAFKA_TOPIC_ALREADY_EXISTS ((kp_err_t)36)
#define KAFKA_INVALID_PARTITIONS ((kp_err_t)37)
#define KAFKA_INVALID_REPLICATION_FACTOR ((kp_err_t)38)
#define KAFKA_INVALID_REPLICA_ASSIGNMENT ((kp_err_t)39)
#define KAFKA_INVALID_CONFIG ((kp_err_t)40)
#define KAFKA_NOT_CONTROLLER ((kp_err_t)41)
#define KAFKA_INVALID_REQUEST ((kp_err_t)42)
#define KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT ((kp_err_t)43)
#define KAFKA_POLICY_VIOLATION ((kp_err_t)44)
#define KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER ((kp_err_t)45)
#define KAFKA_DUPLICATE_SEQUENCE_NUMBER ((kp_err_t)46)
#define KAFKA_INVALID_PRODUCER_EPOCH ((kp_err_t)47)
#define KAFKA_INVALID_TXN_STATE ((kp_err_t)48)
#define KAFKA_INVALID_PRODUCER_ID_MAPPING ((kp_err_t)49)
#define KAFKA_INVALID_TRANSACTION_TIMEOUT ((kp_err_t)50)
#define KAFKA_CONCURRENT_TRANSACTIONS ((kp_err_t)51)
#define KAFKA_TRANSACTION_COORDINATOR_FENCED ((kp_err_t)52)
#define KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ((kp_err_t)53)
#define KAFKA_SECURITY_DISABLED ((kp_err_t)54)
#define KAFKA_OPERATION_NOT_ATTEMPTED ((kp_err_t)55)
#define KAFKA_KAFKA_STORAGE_ERROR ((kp_err_t)56)
#define KAFKA_LOG_DIR_NOT_FOUND ((kp_err_t)57)
#define KAFKA_SASL_AUTHENTICATION_FAILED ((kp_err_t)58)
#define KAFKA_UNKNOWN_PRODUCER_ID ((kp_err_t)59)
#define KAFKA_REASSIGNMENT_IN_PROGRESS ((kp_err_t)60)
#define KAFKA_INVALID_PRINCIPAL_TYPE ((kp_err_t)67)
#define KAFKA_LISTENER_NOT_FOUND ((kp_err_t)72)
#define KAFKA_TOPIC_DELETION_DISABLED ((kp_err_t)73)
#define KAFKA_FENCED_LEADER_EPOCH ((kp_err_t)74)
#define KAFKA_UNKNOWN_LEADER_EPOCH ((kp_err_t)75)
#define KAFKA_UNSUPPORTED_COMPRESSION_TYPE ((kp_err_t)76)
#define KAFKA_INVALID_RECORD ((kp_err_t)87)
#define KAFKA_UNSTABLE_OFFSET_COMMIT ((kp_err_t)88)
#define KAFKA_THROTTLING_QUOTA_EXCEEDED ((kp_err_t)89)
#define KAFKA_PRODUCER_FENCED ((kp_err_t)90)
#define KAFKA_UNKNOWN_TOPIC_ID ((kp_err_t)100)
#define KAFKA_INCONSISTENT_TOPIC_ID ((kp_err_t)103)
#define KAFKA_TRANSACTION_ABORTABLE ((kp_err_t)120)

#endif

/*
 * kafka_codes — Kafka's error codes by name, for the conditions in the
 * engine (style: never a bare number in a condition). The names are those
 * of org.apache.kafka.common.protocol.Errors; err.c's table holds their
 * texts and retriability. Values are Kafka's and never change.
 */
#ifndef KP_KAFKA_CODES_H
#define KP_KAFKA_CODES_H

#include "kprod/kprod.h"

/* kp_err_t values: a Kafka code is an error as it stands (kprod.h) */
#define KAFKA_UNKNOWN_TOPIC_OR_PARTITION ((kp_err_t)3)
#define KAFKA_LEADER_NOT_AVAILABLE ((kp_err_t)5)
#define KAFKA_NOT_LEADER_OR_FOLLOWER ((kp_err_t)6)
#define KAFKA_REQUEST_TIMED_OUT ((kp_err_t)7)
#define KAFKA_REPLICA_NOT_AVAILABLE ((kp_err_t)9)
#define KAFKA_MESSAGE_TOO_LARGE ((kp_err_t)10)
#define KAFKA_NETWORK_EXCEPTION ((kp_err_t)13)
#define KAFKA_COORDINATOR_LOAD_IN_PROGRESS ((kp_err_t)14)
#define KAFKA_COORDINATOR_NOT_AVAILABLE ((kp_err_t)15)
#define KAFKA_NOT_COORDINATOR ((kp_err_t)16)
#define KAFKA_INVALID_TOPIC_EXCEPTION ((kp_err_t)17)
#define KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND ((kp_err_t)20)
#define KAFKA_TOPIC_AUTHORIZATION_FAILED ((kp_err_t)29)
#define KAFKA_UNSUPPORTED_VERSION ((kp_err_t)35)
#define KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER ((kp_err_t)45)
#define KAFKA_DUPLICATE_SEQUENCE_NUMBER ((kp_err_t)46)
#define KAFKA_INVALID_PRODUCER_EPOCH ((kp_err_t)47)
#define KAFKA_KAFKA_STORAGE_ERROR ((kp_err_t)56)
#define KAFKA_UNKNOWN_PRODUCER_ID ((kp_err_t)59)
#define KAFKA_FENCED_LEADER_EPOCH ((kp_err_t)74)
#define KAFKA_UNKNOWN_LEADER_EPOCH ((kp_err_t)75)
#define KAFKA_UNSUPPORTED_COMPRESSION_TYPE ((kp_err_t)76)
#define KAFKA_PRODUCER_FENCED ((kp_err_t)90)
#define KAFKA_INCONSISTENT_TOPIC_ID ((kp_err_t)103)
#define KAFKA_UNKNOWN_TOPIC_ID ((kp_err_t)100)

#endif

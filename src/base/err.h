/*
 * err — internal half of the error model (the public half is kp_err_t and
 * kp_err_name/str/is_retriable in kprod.h).
 */
#ifndef KP_ERR_H
#define KP_ERR_H

#include <stdint.h>

#include "kprod/kprod.h"

/* The kp_err_t for an error code read from a Kafka response. Every decoder
 * passes each ErrorCode field through this, so no wire value can land in
 * kprod's local (negative) range: Kafka's UNKNOWN_SERVER_ERROR (-1), and any
 * other negative code a broker might send, becomes
 * KP_ERR_UNKNOWN_SERVER_ERROR (as Java's Errors.forCode turns an unknown
 * code into UNKNOWN_SERVER_ERROR); 0 and positive codes pass through. The
 * result fits an int16_t, so decoders keep their int16_t fields. */
kp_err_t kp_err_from_kafka(int16_t code);

#endif

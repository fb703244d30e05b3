/*
 * tls — TLS for broker connections (security.protocol=SSL): the producer's
 * OpenSSL context, built from Java's ssl.* properties and rebuilt when the
 * files it came from change, and the byte layer (conn.h's
 * kp_transport_ops_t) that runs the handshake as a connection's first setup
 * step and carries the Kafka framing in TLS records. tls.c says why it is
 * built so and where its one copy happens.
 *
 * Built only with OpenSSL 3 (cmake/openssl.cmake, KPROD_WITH_OPENSSL);
 * without it kp_tls_new fails saying this build has no TLS.
 */
#ifndef KP_TLS_H
#define KP_TLS_H

#include <stddef.h>

#include "base/util.h"
#include "conf/config.h"
#include "net/conn.h"

typedef struct kp_tls kp_tls_t;

/* The TLS context of a producer from conf's ssl.* (conf and log must
 * outlive it: the producer's). Reads the trust and key stores now, so a
 * wrong path, format or password fails creation. NULL with errstr set when
 * a setting or a file is wrong (the message names the property and what to
 * do, and never holds a secret), when memory runs out, or when this build
 * has no TLS. Logs a warning when ssl.endpoint.identification.algorithm is
 * empty. */
kp_tls_t *kp_tls_new(const kp_conf_t *conf, const kp_logger_t *log, char *errstr,
                     size_t errstr_size);
/* After every connection using it is destroyed. NULL: nothing. */
void kp_tls_free(kp_tls_t *tls);
/* The byte layer of connections when net->tls is set; NULL without TLS. */
const kp_transport_ops_t *kp_tls_transport(void);
/* How many times the context was rebuilt because a file changed (tests). */
int kp_tls_reloads(const kp_tls_t *tls);

#endif

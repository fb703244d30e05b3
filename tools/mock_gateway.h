/*
 * mock_gateway.h — kprod-mock's secured listeners: a TLS and SASL gateway in
 * front of each broker of librdkafka's mock cluster (which has neither).
 * See mock_gateway.c for the design.
 */
#ifndef KPROD_TOOLS_MOCK_GATEWAY_H
#define KPROD_TOOLS_MOCK_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

/* SASL mechanisms, as bits of mg_config.mechanisms. */
enum {
    MG_MECH_PLAIN = 1 << 0,
    MG_MECH_SCRAM_SHA_256 = 1 << 1,
    MG_MECH_SCRAM_SHA_512 = 1 << 2,
    MG_MECH_OAUTHBEARER = 1 << 3,
};

/* The mechanism bit for a name as Kafka spells it ("SCRAM-SHA-512"), or 0. */
unsigned mg_mechanism_bit(const char *name);
/* The name of one mechanism bit, or NULL. */
const char *mg_mechanism_name(unsigned bit);

struct mg_user {
    const char *name;
    const char *password; /* copied by mg_start; never printed */
};

struct mg_config {
    const char *prog;      /* prefix of log lines on stderr */
    const char *cert_file; /* NULL: no TLS (SASL_PLAINTEXT) */
    const char *key_file;
    const char *ca_file;   /* non-NULL: client certificates required (mutual TLS) */
    unsigned mechanisms;   /* MG_MECH_* bits; 0: no SASL (SSL) */
    const struct mg_user *users;
    size_t user_count;
    int verbose; /* log each connection and authentication */
    /* > 0: the session lifetime SaslAuthenticate v1+ gives (KIP-368); the
     * client must re-authenticate (SaslHandshake again) within it, or its
     * next request closes the connection, as Kafka does */
    int64_t session_lifetime_ms;
};

typedef struct mg_gateway mg_gateway_t;

/* The file a client should trust for the gateway's certificate: ca_file
 * when it verifies cert_file, else cert_file when self-signed, else NULL. */
const char *mg_truststore_file(const struct mg_config *cfg);

/*
 * Load the TLS material, derive the users' SCRAM keys, ask the mock broker
 * at upstream_ports[0] for its API versions, and listen on 127.0.0.1 (an
 * ephemeral port) for each of the count brokers, whose mock listener is
 * 127.0.0.1:upstream_ports[i]. Connections are served by threads of their
 * own until mg_stop(). The caller has blocked the signals it waits for: the
 * gateway's threads inherit its signal mask.
 *
 * Returns NULL with a message in err on failure.
 */
mg_gateway_t *mg_start(const struct mg_config *cfg, const int *upstream_ports, int count,
                       char *err, size_t errlen);

/* The port the gateway of broker index i (0-based) listens on. */
int mg_port(const mg_gateway_t *gw, int i);

/* Stop accepting, close every connection, join every thread, free all. */
void mg_stop(mg_gateway_t *gw);

#endif

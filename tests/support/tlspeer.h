/*
 * tlspeer — TLS brokers for tests, from programs we did not write: stunnel
 * (OpenSSL's server side) terminating TLS in front of each broker of a
 * mock cluster (librdkafka 2.15.1's, which has no TLS of its own), the mock
 * advertising stunnel's ports, so that clients learn the TLS addresses from
 * Metadata as from a real cluster's SSL listener.
 *
 * The certificates are made by the openssl command, once per process, in a
 * temporary directory (tlspeer_pki):
 *   ca.pem, ca.key          the test CA
 *   other-ca.pem            a CA nobody used (an untrusting truststore)
 *   broker.pem, broker.key  signed by ca, subjectAltName IP:127.0.0.1 and
 *                           DNS:localhost
 *   wronghost.pem/.key      signed by ca, for DNS:wrong.example only
 *   expired.pem/.key        signed by ca, valid until yesterday
 *   other.pem/.key          127.0.0.1 and localhost, signed by other-ca
 *   inter.pem               an intermediate CA under ca
 *   client.pem, client.key  a client certificate signed by inter (the chain
 *                           must be sent whole: stunnel trusts only ca)
 *   client-chain.pem        client.pem then inter.pem
 *   client-enc.key          client.key encrypted with "keypass"
 *   client.p12              client key, certificate and inter, password
 *                           "clientpass"
 *   client-full.pem         client-enc.key + client-chain.pem (a PEM keystore)
 *   trust.p12               ca.pem alone, password "trustpass"
 *   fake.jks                a file that starts as a Java KeyStore does
 *
 * The directory is removed when the process exits (KPROD_TEST_KEEP_TLS=1
 * keeps it, with stunnel's configurations and logs).
 *
 * stunnel is looked for on PATH (Debian: stunnel4, scripts/install-deps.sh);
 * tlspeer_available() says whether it and openssl are there, so a test can
 * skip with a message when they are not.
 */
#ifndef KPROD_TEST_TLSPEER_H
#define KPROD_TEST_TLSPEER_H

#include "mockcluster.h"

/* 1 when the stunnel and openssl commands are found. */
int tlspeer_available(void);

/* The directory holding the certificates above, made on first use; NULL
 * (and a line on stderr) when openssl failed. */
const char *tlspeer_pki(void);

/* "dir/name" for a file of tlspeer_pki, in one of 8 rotating buffers
 * (enough for the arguments of one call). */
const char *tlspeer_file(const char *name);

/* How stunnel serves. Paths are names of tlspeer_pki files or absolute. */
typedef struct tlspeer_opts {
    const char *cert, *key; /* every broker's (default broker.pem/broker.key) ... */
    int odd_broker;         /* ... but this broker id's (0: none): */
    const char *odd_cert, *odd_key;
    int verify_client;      /* require a client certificate chaining to ca.pem (verify=2) */
    int tls12_only;         /* sslVersionMax = TLSv1.2 */
} tlspeer_opts_t;

typedef struct tlspeer tlspeer_t;

/* stunnel in front of every broker of mc, each broker advertising its
 * stunnel port on 127.0.0.1. NULL (and a line on stderr) on failure. */
tlspeer_t *tlspeer_start(mockcluster_t *mc, const tlspeer_opts_t *opts);
/* "127.0.0.1:P1,127.0.0.1:P2,...": the TLS listeners. */
const char *tlspeer_bootstraps(const tlspeer_t *tp);
/* Stop stunnel (every TLS connection it carries drops) and start it again
 * on the same ports with opts (NULL: the same). 0 or -1. */
int tlspeer_restart(tlspeer_t *tp, const tlspeer_opts_t *opts);
/* Connections stunnel accepted so far (from its log, over its restarts). */
int tlspeer_accepted(tlspeer_t *tp);
/* Stop stunnel, give the brokers back their own ports, free. NULL: nothing. */
void tlspeer_stop(tlspeer_t *tp);

#endif

/*
 * test_tls — security.protocol=SSL against a TLS server we did not write:
 * stunnel (OpenSSL's server side) in front of each broker of librdkafka's
 * mock cluster, the mock advertising stunnel's ports (tests/support/
 * tlspeer.h), with certificates the test makes with the openssl command.
 * What kprod delivered is read back by librdkafka's consumer over the same
 * TLS listeners (its own TLS client, another independent peer).
 *
 * Skipped, saying so, when stunnel or openssl is missing (Debian: stunnel4
 * and openssl, which scripts/install-deps.sh installs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "logcap.h"
#include "tlspeer.h"

#define TOPIC "tls"
#define F(name) tlspeer_file(name)

static int skip(const char *test) {
#ifndef KPROD_WITH_OPENSSL
    printf("     %s skipped: this build has no TLS (built without OpenSSL 3; "
           "test_build_without_tls checks what it says)\n",
           test);
    return 1;
#endif
    if (tlspeer_available() && tlspeer_pki())
        return 0;
    printf("     %s skipped: stunnel or openssl not found (Debian: stunnel4, openssl; "
           "scripts/install-deps.sh installs them)\n",
           test);
    return 1;
}

/* A file's whole text (NUL-terminated), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 16);
    size_t n = b ? fread(b, 1, (1 << 16) - 1, f) : 0;
    (void)n;
    fclose(f);
    return b;
}

/* Send n records "key-<i>" to partition (KP_PARTITION_ANY: any) and wait
 * for all callbacks (timeout_ms). Returns how many succeeded; *first_err
 * gets the first error seen. */
static int send_wait(kp_producer_t *p, int n, int32_t partition, int timeout_ms,
                     kp_err_t *first_err, const char *tag) {
    tracker_t t;
    tracker_init(&t, (size_t)n);
    slot_ref_t *refs = calloc((size_t)n, sizeof(*refs));
    int ok = 0;
    *first_err = KP_OK;
    for (int i = 0; i < n; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "%s-%d", tag, i);
        snprintf(val, sizeof(val), "value-%s-%d", tag, i);
        kp_record_t r = rec_str(TOPIC, key, val);
        r.partition = partition;
        refs[i] = (slot_ref_t){&t, (size_t)i};
        kp_err_t e = kp_send(p, &r, tracker_cb, &refs[i]);
        if (e) {
            if (!*first_err)
                *first_err = e;
            atomic_fetch_add(&t.done, 1); /* never called back */
            t.d[i].err = e;
        }
    }
    if (!tracker_wait(&t, timeout_ms))
        FAIL("%s: %ld of %d records completed in %d ms", tag, atomic_load(&t.done), n,
             timeout_ms);
    for (int i = 0; i < n; i++) {
        if (!t.d[i].err && atomic_load(&t.d[i].calls))
            ok++;
        else if (t.d[i].err && !*first_err)
            *first_err = (kp_err_t)t.d[i].err;
    }
    free(refs);
    tracker_free(&t);
    return ok;
}

/* Every record "<tag>-0".."<tag>-<n-1>" is in the topic, read back by
 * librdkafka over TLS (the mock advertises the TLS ports). */
static void check_read_back(tlspeer_t *tp, const char *tag, int n, int total) {
    const char *conf[] = {"security.protocol", "ssl", "ssl.ca.location", F("ca.pem"), NULL};
    rb_record_t *recs = NULL;
    size_t got = 0;
    CHECK_EQ_INT(readback_topic_conf(tlspeer_bootstraps(tp), TOPIC, total, 30000, conf, &recs, &got),
                 RB_OK);
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%s-%d", tag, i);
        if (!readback_find_key(recs, got, key, strlen(key))) {
            FAIL("record %s not read back (%zu records read)", key, got);
            break;
        }
    }
    readback_free(recs, got);
}

/* The log has a line (level <= 4) with all the words, within timeout_ms. */
typedef struct logwait {
    logcap_t *lc;
    const char *w[4];
} logwait_t;

static int log_has_(void *arg) {
    logwait_t *lw = arg;
    return logcap_matches(lw->lc, 0, 4, NULL, lw->w[0], lw->w[1], lw->w[2], lw->w[3], NULL) > 0;
}

static int log_within(logcap_t *lc, int timeout_ms, const char *a, const char *b, const char *c) {
    logwait_t lw = {lc, {a, b, c, NULL}};
    if (wait_until(log_has_, &lw, timeout_ms))
        return 1;
    FAIL("no warning with '%s' '%s' '%s' within %d ms; warnings:", a, b ? b : "", c ? c : "",
         timeout_ms);
    logcap_matches(lc, 0, 4, "  log", NULL);
    return 0;
}

static void destroy(kp_producer_t *p) {
    if (p) {
        kp_close(p, 2000);
        kp_producer_destroy(p);
    }
}

/* A send that needs the cluster, against one that cannot be used: it fails
 * with err well before max.block.ms (60 s) and the warning says why. */
static void fails_promptly(kp_producer_t *p, logcap_t *lc, kp_err_t want, const char *w1,
                           const char *w2, const char *w3) {
    int64_t t0 = test_now_ms();
    kp_err_t first;
    int ok = send_wait(p, 5, KP_PARTITION_ANY, 10000, &first, "doomed");
    int64_t took = test_now_ms() - t0;
    CHECK_EQ_INT(ok, 0);
    CHECK_EQ_ERR(first, want);
    CHECK_LT_INT(took, 8000);
    log_within(lc, 1000, w1, w2, w3);
}

/* ---- delivery -------------------------------------------------------------- */

/* Records go over TLS and are read back, with each way of trusting the CA
 * (PEM file, PKCS12 store with its password, inline PEM text), and over
 * TLS 1.2 with a cipher suite named as Java names it. */
static void test_delivered_over_tls(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(3, TOPIC, 3);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {0};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    char *ca_text = slurp(F("ca.pem"));
    int before = tlspeer_accepted(tp), total = 0;
    for (int k = 0; k < 4; k++) {
        logcap_t lc;
        logcap_init(&lc);
        char err[512] = "", tag[16];
        snprintf(tag, sizeof(tag), "trust%d", k);
        const char *boot = tlspeer_bootstraps(tp);
        kp_producer_t *p =
            k == 0 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                "ssl.truststore.location", F("ca.pem"), NULL)
            : k == 1 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.type", "PKCS12", "ssl.truststore.location",
                                  F("trust.p12"), "ssl.truststore.password", "trustpass", NULL)
            : k == 2 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.type", "PEM", "ssl.truststore.certificates",
                                  ca_text, NULL)
                     : producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.location", F("ca.pem"), "ssl.enabled.protocols",
                                  "TLSv1.2", "ssl.cipher.suites",
                                  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", NULL);
        if (!CHECK_NOT_NULL(p)) {
            fprintf(stderr, "    %s: %s\n", tag, err);
        } else {
            kp_err_t first;
            CHECK_EQ_INT(send_wait(p, 200, KP_PARTITION_ANY, 30000, &first, tag), 200);
            CHECK_OK(first);
            total += 200;
            check_read_back(tp, tag, 200, total);
            if (k == 3) /* (the suite chosen is logged at debug level) */
                CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "TLSv1.2",
                                            "ECDHE-ECDSA-AES256-GCM-SHA384", NULL),
                             1);
            else
                CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "TLS established", "TLSv1.3", NULL),
                             1);
        }
        destroy(p);
        logcap_free(&lc);
    }
    /* the producers' connections went through stunnel */
    CHECK_GE_INT(tlspeer_accepted(tp) - before, 4);
    free(ca_text);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

/* ---- the broker's certificate ------------------------------------------------ */

static void bad_server_cert(const char *cert, const char *key, const char *trust, int localhost,
                            const char *w1, const char *w2, const char *w3) {
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {.cert = cert, .key = key};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    char boot[64];
    const char *port = strchr(tlspeer_bootstraps(tp), ':') + 1;
    snprintf(boot, sizeof(boot), "%s:%s", localhost ? "localhost" : "127.0.0.1", port);
    logcap_t lc;
    logcap_init(&lc);
    char err[512] = "";
    kp_producer_t *p = trust ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                          "ssl.truststore.location", F(trust), NULL)
                             : producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                          NULL);
    if (CHECK_NOT_NULL(p))
        fails_promptly(p, &lc, KP_ERR_SSL_HANDSHAKE, w1, w2, w3);
    else
        fprintf(stderr, "    %s\n", err);
    /* the broker is named */
    CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, port, "TLS handshake failed", NULL), 1);
    destroy(p);
    logcap_free(&lc);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

/* A broker certificate from a CA we do not trust: with a truststore of
 * another CA, and with none (the system's store). */
static void test_untrusted_ca(void) {
    if (skip(__func__))
        return;
    bad_server_cert(NULL, NULL, "other-ca.pem", 0, "certificate verify failed",
                    "unable to get local issuer certificate", "ssl.truststore");
    bad_server_cert(NULL, NULL, NULL, 0, "certificate verify failed",
                    "set ssl.truststore.location", "system's CA store");
}

/* A certificate for another host: by IP literal and by host name; and the
 * check turned off (ssl.endpoint.identification.algorithm empty) delivers,
 * with a warning saying it is off. */
static void test_host_mismatch(void) {
    if (skip(__func__))
        return;
    bad_server_cert("wronghost.pem", "wronghost.key", "ca.pem", 0, "certificate verify failed",
                    "IP address mismatch", "subjectAltName");
    bad_server_cert("wronghost.pem", "wronghost.key", "ca.pem", 1, "certificate verify failed",
                    "hostname mismatch", "ssl.endpoint.identification.algorithm=");

    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {.cert = "wronghost.pem", .key = "wronghost.key"};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (CHECK_NOT_NULL(tp)) {
        logcap_t lc;
        logcap_init(&lc);
        char err[512] = "";
        kp_producer_t *p = producer_e(&lc, err, sizeof(err), tlspeer_bootstraps(tp),
                                      "security.protocol", "SSL", "ssl.truststore.location",
                                      F("ca.pem"), "ssl.endpoint.identification.algorithm", "",
                                      NULL);
        if (CHECK_NOT_NULL(p)) {
            kp_err_t first;
            CHECK_EQ_INT(send_wait(p, 20, KP_PARTITION_ANY, 30000, &first, "nocheck"), 20);
            CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, "ssl.endpoint.identification.algorithm",
                                        "not checked", NULL),
                         1);
        }
        destroy(p);
        logcap_free(&lc);
        tlspeer_stop(tp);
    }
    mockcluster_destroy(mc);
}

static void test_expired(void) {
    if (skip(__func__))
        return;
    bad_server_cert("expired.pem", "expired.key", "ca.pem", 0, "certificate has expired",
                    "CN = localhost, expired", "renew");
}

/* Records already waiting for a leader whose handshake fails for its
 * certificate fail at once with KP_ERR_SSL_HANDSHAKE, not after
 * delivery.timeout.ms (120 s); those for a good leader are delivered. */
static void test_leader_cert_fails_its_records(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(2, TOPIC, 2);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), TOPIC, 0, 1);
    rd_kafka_mock_partition_set_leader(mockcluster_handle(mc), TOPIC, 1, 2);
    tlspeer_opts_t o = {.odd_broker = 2, .odd_cert = "expired.pem", .odd_key = "expired.key"};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    char boot[64]; /* broker 1 only: metadata comes from a good broker */
    snprintf(boot, sizeof(boot), "%.*s", (int)strcspn(tlspeer_bootstraps(tp), ","),
             tlspeer_bootstraps(tp));
    logcap_t lc;
    logcap_init(&lc);
    char err[512] = "";
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.location", F("ca.pem"), NULL);
    if (CHECK_NOT_NULL(p)) {
        kp_err_t first;
        CHECK_EQ_INT(send_wait(p, 50, 0, 30000, &first, "good"), 50);
        CHECK_OK(first);
        int64_t t0 = test_now_ms();
        CHECK_EQ_INT(send_wait(p, 50, 1, 20000, &first, "bad"), 0);
        CHECK_EQ_ERR(first, KP_ERR_SSL_HANDSHAKE);
        CHECK_LT_INT(test_now_ms() - t0, 10000);
        CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, "broker 2", "certificate has expired", NULL),
                     1);
    }
    destroy(p);
    logcap_free(&lc);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

/* ---- mutual TLS ------------------------------------------------------------------ */

/* stunnel requires a client certificate chaining to ca.pem; ours is
 * signed by an intermediate stunnel does not have, so each delivery shows
 * the whole chain was sent. Three keystores: PKCS12, a PEM file with an
 * encrypted key, inline PEM. Without a keystore, or with the certificate
 * alone (no intermediate), the broker refuses us: KP_ERR_SSL_HANDSHAKE
 * saying what to set, over TLS 1.3 (the refusal comes after our
 * handshake) and 1.2 (during it). No password appears in any log line. */
static void test_mutual_tls(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {.verify_client = 1};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    const char *boot = tlspeer_bootstraps(tp);
    char *chain = slurp(F("client-chain.pem")), *leaf = slurp(F("client.pem")),
         *key = slurp(F("client-enc.key"));
    REQUIRE(chain && leaf && key);
    int total = 0;
    for (int k = 0; k < 3; k++) {
        logcap_t lc;
        logcap_init(&lc);
        char err[512] = "", tag[16];
        snprintf(tag, sizeof(tag), "mtls%d", k);
        kp_producer_t *p =
            k == 0 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                "ssl.truststore.location", F("ca.pem"), "ssl.keystore.type",
                                "PKCS12", "ssl.keystore.location", F("client.p12"),
                                "ssl.keystore.password", "clientpass", NULL)
            : k == 1 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.location", F("ca.pem"), "ssl.keystore.type",
                                  "PEM", "ssl.keystore.location", F("client-full.pem"),
                                  "ssl.key.password", "keypass", NULL)
                     : producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                  "ssl.truststore.location", F("ca.pem"), "ssl.keystore.type",
                                  "PEM", "ssl.keystore.certificate.chain", chain,
                                  "ssl.keystore.key", key, "ssl.key.password", "keypass", NULL);
        if (!CHECK_NOT_NULL(p)) {
            fprintf(stderr, "    %s: %s\n", tag, err);
        } else {
            kp_err_t first;
            CHECK_EQ_INT(send_wait(p, 100, KP_PARTITION_ANY, 30000, &first, tag), 100);
            CHECK_OK(first);
            total += 100;
        }
        destroy(p);
        CHECK_EQ_INT(logcap_matches(&lc, 0, 7, NULL, "clientpass", NULL) +
                         logcap_matches(&lc, 0, 7, NULL, "keypass", NULL) +
                         logcap_matches(&lc, 0, 7, NULL, "PRIVATE KEY", NULL),
                     0);
        logcap_free(&lc);
    }
    /* librdkafka reads back with its own client certificate */
    const char *conf[] = {"security.protocol", "ssl", "ssl.ca.location", F("ca.pem"),
                          "ssl.certificate.location", F("client-chain.pem"), "ssl.key.location",
                          F("client-enc.key"), "ssl.key.password", "keypass", NULL};
    rb_record_t *recs = NULL;
    size_t got = 0;
    CHECK_EQ_INT(readback_topic_conf(boot, TOPIC, total, 30000, conf, &recs, &got), RB_OK);
    CHECK_GE_INT((long long)got, total);
    readback_free(recs, got);

    for (int tls12 = 0; tls12 < 2; tls12++) {
        o.tls12_only = tls12;
        REQUIRE(tlspeer_restart(tp, &o) == 0);
        for (int k = 0; k < 2; k++) {
            logcap_t lc;
            logcap_init(&lc);
            char err[512] = "";
            kp_producer_t *p =
                k == 0 ? producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                    "ssl.truststore.location", F("ca.pem"), NULL)
                       : producer_e(&lc, err, sizeof(err), boot, "security.protocol", "SSL",
                                    "ssl.truststore.location", F("ca.pem"),
                                    "ssl.keystore.certificate.chain", leaf, "ssl.keystore.key",
                                    key, "ssl.key.password", "keypass", NULL);
            if (CHECK_NOT_NULL(p))
                fails_promptly(p, &lc, KP_ERR_SSL_HANDSHAKE, "TLS handshake failed",
                               k == 0 ? "requires a client certificate"
                                      : "refused our client certificate",
                               "ssl.keystore");
            else
                fprintf(stderr, "    %s\n", err);
            destroy(p);
            logcap_free(&lc);
        }
    }
    free(chain);
    free(leaf);
    free(key);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

/* ---- plaintext and TLS crossed ----------------------------------------------- */

/* A TLS client against the mock's own PLAINTEXT listener: it hangs up on
 * the ClientHello; twice in a row makes the broker unusable, so the send
 * fails at once saying the listener is not TLS. */
static void test_tls_client_plaintext_broker(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    logcap_t lc;
    logcap_init(&lc);
    char err[512] = "";
    fprintf(stderr, "(the mock's errors 'Invalid ApiKey 8193' are expected: it reads our "
                    "ClientHello as a request)\n");
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), mockcluster_bootstraps(mc),
                                  "security.protocol", "SSL", "ssl.truststore.location",
                                  F("ca.pem"), NULL);
    if (CHECK_NOT_NULL(p))
        fails_promptly(p, &lc, KP_ERR_SSL_HANDSHAKE, "broker did not answer TLS",
                       "is the listener PLAINTEXT", NULL);
    destroy(p);
    logcap_free(&lc);
    mockcluster_destroy(mc);
}

/* A PLAINTEXT client against a TLS listener: stunnel resets the connection
 * on our ApiVersions; the warning comes at once (no setup timeout) and
 * says to set security.protocol=SSL. A reset alone is not proof enough to
 * fail records (a broker restarting resets too): the send fails after
 * max.block.ms, as for any broker out of reach. */
static void test_plaintext_client_tls_listener(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {0};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (CHECK_NOT_NULL(tp)) {
        logcap_t lc;
        logcap_init(&lc);
        char err[512] = "";
        kp_producer_t *p = producer_e(&lc, err, sizeof(err), tlspeer_bootstraps(tp),
                                      "max.block.ms", "2000", NULL);
        if (CHECK_NOT_NULL(p)) {
            int64_t t0 = test_now_ms();
            kp_record_t r = rec_str(TOPIC, "k", "v");
            kp_err_t e = kp_send(p, &r, NULL, NULL);
            CHECK_EQ_ERR(e, KP_ERR_CLUSTER_UNREACHABLE);
            CHECK_LT_INT(test_now_ms() - t0, 5000);
            CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, "Kafka", "security.protocol=SSL", NULL),
                         1);
            /* the first warning came before the socket setup timeout (10 s) */
            CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, "ApiVersions", NULL), 1);
        }
        destroy(p);
        logcap_free(&lc);
        tlspeer_stop(tp);
    }
    mockcluster_destroy(mc);
}

/* Both sides speak TLS but share no version: the alert says so, and so
 * does the warning. */
static void test_no_common_version(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {.tls12_only = 1};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (CHECK_NOT_NULL(tp)) {
        logcap_t lc;
        logcap_init(&lc);
        char err[512] = "";
        kp_producer_t *p = producer_e(&lc, err, sizeof(err), tlspeer_bootstraps(tp),
                                      "security.protocol", "SSL", "ssl.truststore.location",
                                      F("ca.pem"), "ssl.enabled.protocols", "TLSv1.3", NULL);
        if (CHECK_NOT_NULL(p))
            fails_promptly(p, &lc, KP_ERR_SSL_HANDSHAKE, "TLS handshake failed",
                           "ssl.enabled.protocols", NULL);
        destroy(p);
        logcap_free(&lc);
        tlspeer_stop(tp);
    }
    mockcluster_destroy(mc);
}

/* ---- connections lost, certificates rotated ------------------------------------- */

typedef struct at_least {
    tracker_t *t;
    long n;
} at_least_t;

static int at_least_(void *arg) {
    at_least_t *a = arg;
    return atomic_load(&a->t->done) >= a->n;
}

/* stunnel stops while requests are in flight (the mock answers after 200
 * ms) and starts again: every TLS connection drops mid-request, the
 * requests are retried, every record is acknowledged and read back. */
static void test_closed_mid_request(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 2);
    REQUIRE_NOT_NULL(mc);
    rd_kafka_mock_broker_set_rtt(mockcluster_handle(mc), 1, 200);
    tlspeer_opts_t o = {0};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    logcap_t lc;
    logcap_init(&lc);
    char err[512] = "";
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), tlspeer_bootstraps(tp),
                                  "security.protocol", "SSL", "ssl.truststore.location",
                                  F("ca.pem"), "linger.ms", "20", "batch.size", "2000", NULL);
    if (CHECK_NOT_NULL(p)) {
        enum { N = 2000 };
        tracker_t t;
        tracker_init(&t, N);
        slot_ref_t *refs = calloc(N, sizeof(*refs));
        for (int i = 0; i < N; i++) {
            char key[32], val[32];
            snprintf(key, sizeof(key), "mid-%d", i);
            snprintf(val, sizeof(val), "value-%d", i);
            kp_record_t r = rec_str(TOPIC, key, val);
            refs[i] = (slot_ref_t){&t, (size_t)i};
            CHECK_OK(kp_send(p, &r, tracker_cb, &refs[i]));
            if (i == N / 4) {
                /* some acknowledged, more in flight: drop every connection */
                at_least_t al = {&t, N / 8};
                CHECK(wait_until(at_least_, &al, 30000));
                CHECK(tlspeer_restart(tp, NULL) == 0);
            }
        }
        CHECK(tlspeer_restart(tp, NULL) == 0); /* and again with the rest in flight */
        CHECK(tracker_wait(&t, 60000));
        CHECK_EQ_INT(atomic_load(&t.failed), 0);
        CHECK_GE_INT(logcap_matches(&lc, 0, 4, NULL, "disconnected", NULL), 1);
        check_read_back(tp, "mid", N, N);
        free(refs);
        tracker_free(&t);
    }
    destroy(p);
    logcap_free(&lc);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

static int sync_ok_(void *arg) {
    kp_producer_t *p = arg;
    kp_record_t r = rec_str(TOPIC, "rotated", "after");
    return kp_send_sync(p, &r, 5000, NULL) == KP_OK;
}

/* Rotation: the truststore file names a CA that did not sign the broker's
 * certificate, so sends fail (KP_ERR_SSL_HANDSHAKE); the file is replaced
 * (renamed over, as a certificate manager does) by the right CA, and the
 * next connection uses it: records are delivered without a new producer. A
 * replacement that cannot be read is logged and the old store kept. */
static void test_truststore_rotation(void) {
    if (skip(__func__))
        return;
    mockcluster_t *mc = mockcluster_start(1, TOPIC, 1);
    REQUIRE_NOT_NULL(mc);
    tlspeer_opts_t o = {0};
    tlspeer_t *tp = tlspeer_start(mc, &o);
    if (!CHECK_NOT_NULL(tp)) {
        mockcluster_destroy(mc);
        return;
    }
    char trust[600], tmp[620], cmd[3000];
    snprintf(trust, sizeof(trust), "%s/rotating-%d.pem", tlspeer_pki(), (int)getpid());
    snprintf(tmp, sizeof(tmp), "%s.new", trust);
    snprintf(cmd, sizeof(cmd), "cp %s %s", F("other-ca.pem"), trust);
    REQUIRE(system(cmd) == 0);
    logcap_t lc;
    logcap_init(&lc);
    char err[512] = "";
    kp_producer_t *p = producer_e(&lc, err, sizeof(err), tlspeer_bootstraps(tp),
                                  "security.protocol", "SSL", "ssl.truststore.location", trust,
                                  NULL);
    if (CHECK_NOT_NULL(p)) {
        fails_promptly(p, &lc, KP_ERR_SSL_HANDSHAKE, "certificate verify failed",
                       "unable to get local issuer certificate", NULL);
        /* a broken replacement: logged, the old store kept */
        snprintf(cmd, sizeof(cmd), "echo garbage > %s && mv %s %s", tmp, tmp, trust);
        REQUIRE(system(cmd) == 0);
        log_within(&lc, 10000, "ssl.truststore.location changed", "cannot be used", NULL);
        /* the right CA */
        snprintf(cmd, sizeof(cmd), "cp %s %s && mv %s %s", F("ca.pem"), tmp, tmp, trust);
        REQUIRE(system(cmd) == 0);
        CHECK(wait_until(sync_ok_, p, 20000));
        CHECK_GE_INT(logcap_matches(&lc, 0, 7, NULL, "ssl.truststore.location changed",
                                    "read again", NULL),
                     1);
    }
    destroy(p);
    logcap_free(&lc);
    unlink(trust);
    tlspeer_stop(tp);
    mockcluster_destroy(mc);
}

/* ---- creation ---------------------------------------------------------------------- */

/* Wrong stores fail kp_producer_new, naming the property and what to do,
 * never quoting a password. */
static void test_creation_errors(void) {
    if (skip(__func__))
        return;
    char *key = slurp(F("client-enc.key"));
    REQUIRE_NOT_NULL(key);
    static const char boot[] = "127.0.0.1:9";
    struct {
        const char *kv[8];
        const char *w1, *w2;
    } cases[] = {
        {{"ssl.truststore.location", F("fake.jks")}, "Java KeyStore", "keytool -importkeystore"},
        {{"ssl.truststore.location", F("no-such-file.pem")}, "ssl.truststore.location", "No such file"},
        {{"ssl.truststore.type", "PKCS12", "ssl.truststore.location", F("trust.p12"),
          "ssl.truststore.password", "wrongpass"},
         "ssl.truststore.password", "PKCS12"},
        {{"ssl.truststore.type", "PKCS12", "ssl.truststore.location", F("ca.pem")}, "not PKCS12",
         "ssl.truststore.type"},
        {{"ssl.keystore.type", "PEM", "ssl.keystore.location", F("client-full.pem")},
         "encrypted", "ssl.key.password"},
        {{"ssl.keystore.type", "PEM", "ssl.keystore.location", F("client-full.pem"),
          "ssl.key.password", "wrongpass"},
         "wrong ssl.key.password", NULL},
        {{"ssl.keystore.key", key}, "ssl.keystore.certificate.chain", "both"},
        {{"ssl.protocol", "SSLv3"}, "ssl.protocol", "TLSv1.3"},
        {{"ssl.enabled.protocols", "TLSv1.2,SSLv3"}, "ssl.enabled.protocols", "SSLv3"},
        {{"ssl.cipher.suites", "TLS_NO_SUCH_SUITE"}, "ssl.cipher.suites", "TLS_NO_SUCH_SUITE"},
        {{"ssl.endpoint.identification.algorithm", "ldaps"}, "https", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_config_t *c = kp_config_new();
        char err[1024] = "";
        REQUIRE_NOT_NULL(c);
        CHECK_OK(kp_config_set(c, "bootstrap.servers", boot, err, sizeof(err)));
        CHECK_OK(kp_config_set(c, "security.protocol", "SSL", err, sizeof(err)));
        for (int k = 0; cases[i].kv[k]; k += 2)
            CHECK_OK(kp_config_set(c, cases[i].kv[k], cases[i].kv[k + 1], err, sizeof(err)));
        kp_producer_t *p = kp_producer_new(c, err, sizeof(err));
        if (!CHECK_NULL(p))
            destroy(p);
        if (!CHECK(strstr(err, cases[i].w1) && (!cases[i].w2 || strstr(err, cases[i].w2))))
            fprintf(stderr, "    case %zu: %s\n", i, err);
        CHECK(!strstr(err, "wrongpass") && !strstr(err, "keypass") && !strstr(err, "PRIVATE"));
        kp_config_destroy(c);
    }
    free(key);
}

/* A build without OpenSSL refuses security.protocol=SSL at creation,
 * saying so (in a build with TLS there is nothing to check here). */
static void test_build_without_tls(void) {
#ifndef KPROD_WITH_OPENSSL
    char err[512] = "";
    kp_producer_t *p =
        producer_e(NULL, err, sizeof(err), "127.0.0.1:9", "security.protocol", "SSL", NULL);
    if (!CHECK_NULL(p))
        destroy(p);
    CHECK(strstr(err, "this build of kprod has no TLS") && strstr(err, "OpenSSL"));
#endif
}

TEST_MAIN(TEST(test_build_without_tls), TEST(test_delivered_over_tls), TEST(test_untrusted_ca), TEST(test_host_mismatch),
          TEST(test_expired), TEST(test_leader_cert_fails_its_records), TEST(test_mutual_tls),
          TEST(test_tls_client_plaintext_broker), TEST(test_plaintext_client_tls_listener),
          TEST(test_no_common_version), TEST(test_closed_mid_request),
          TEST(test_truststore_rotation), TEST(test_creation_errors))

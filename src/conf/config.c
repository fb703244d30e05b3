/*
 * config — one property table drives parsing, validation and the docs.
 *
 * Each row is a Java ProducerConfig key with its type, default and range.
 * A row with `missing` set names a feature this build does not have yet: the
 * property is accepted at its default value (so existing Java property files
 * load) and any other value fails with KP_ERR_INVALID_CONFIG naming the
 * feature — never silently ignored. A row with `unused` set is accepted with
 * any valid value but nothing reads it yet (documented apart, in "Accepted,
 * not yet used"); every other row is implemented, and a test
 * (tests/tools/check_config_used.py) fails when nothing outside this file
 * reads its field.
 */
#include "base/alloc.h"
#include "conf/config.h"
#include "conf/jaas.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/compress.h"
#include "base/util.h"

enum ptype { P_INT, P_LONG, P_BOOL, P_STR, P_ENUM, P_LIST };

#define OFF(f) offsetof(kp_conf_t, f)
#define NOOFF ((size_t)-1)
#define I32MAX 2147483647LL
#define I64MAX INT64_MAX
#define KP_MAX_DURATION_MS 1000000000000000LL

struct prop {
    const char *name;
    enum ptype type;
    const char *def; /* NULL = null */
    int64_t min, max;
    const char *enums; /* P_ENUM: '|'-separated allowed values */
    size_t off;        /* field in kp_conf_t, NOOFF if not stored */
    const char *field; /* its name, for the check that something reads it */
    int width;         /* 4 or 8 for integer fields */
    const char *missing;
    const char *doc;
    /* The field the rest of the library reads when not `field` itself
     * (config.c derives it at kp_conf_finalize). */
    const char *via;
    /* Non-NULL: accepted and validated like any property but nothing uses
     * the value yet; says why. Documented apart from the implemented ones
     * (tests/tools/check_config_used.py keeps "implemented" honest). */
    const char *unused;
};

#define F(f) OFF(f), #f
#define NOFIELD NOOFF, NULL
#define INT(n, d, lo, hi, f, doc) {n, P_INT, d, lo, hi, NULL, F(f), 4, NULL, doc, NULL, NULL}
#define LONG(n, d, lo, hi, f, doc) {n, P_LONG, d, lo, hi, NULL, F(f), 8, NULL, doc, NULL, NULL}
#define BOOL(n, d, f, doc) {n, P_BOOL, d, 0, 1, NULL, F(f), 4, NULL, doc, NULL, NULL}
#define UNUSED(n, t, d, lo, hi, why, doc) {n, t, d, lo, hi, NULL, NOFIELD, 0, NULL, doc, NULL, why}
#define MISSING(n, t, d, feat) {n, t, d, 0, 0, NULL, NOFIELD, 0, feat, NULL, NULL, NULL}
/* TLS settings (net/tls.c reads the field; values are checked when a
 * producer builds its TLS context) and the secrets among them. */
#define TLSSTR(n, d, f, doc) {n, P_STR, d, 0, 0, NULL, F(f), 0, NULL, doc, NULL, NULL}
#define TLSLIST(n, d, f, doc) {n, P_LIST, d, 0, 0, NULL, F(f), 0, NULL, doc, NULL, NULL}
#define SECRET(n, f, doc) TLSSTR(n, NULL, f, doc) /* listed in secret_props too */
#define JAVA_SECURITY "Java security providers and engines (kprod's TLS is OpenSSL 3)"

static const struct prop props[] = {
    {"bootstrap.servers", P_LIST, "", 0, 0, NULL, F(bootstrap_servers), 0, NULL,
     "host:port pairs used to establish the initial connection to the cluster (required)",
     NULL, NULL},
    {"client.id", P_STR, "", 0, 0, NULL, F(client_id), 0, NULL,
     "Id sent to brokers with every request; empty = producer-N", NULL, NULL},
    {"acks", P_ENUM, "all", 0, 0, "all|-1|0|1", F(acks), 4, NULL,
     "Acknowledgements the leader must receive: 0 none, 1 leader only, all (-1) full ISR",
     NULL, NULL},
    LONG("linger.ms", "5", 0, I64MAX, linger_ms,
         "Time to wait for more records before sending a batch that is not full"),
    INT("batch.size", "16384", 0, I32MAX, batch_size,
        "Target size in bytes of a per-partition batch; also the sticky partitioner's switch size"),
    LONG("buffer.memory", "33554432", 0, I64MAX, buffer_memory,
         "Total bytes of memory for records waiting to be sent; send blocks when exhausted"),
    INT("buffer.memory.high.watermark.percent", "90", 1, 100, buffer_high_watermark_pct,
        "Percent of buffer.memory in use at which the buffer watermark callback gets "
        "KP_BUFFER_HIGH (pause the source before sends block); then KP_BUFFER_LOW at "
        "buffer.memory.low.watermark.percent, strictly alternating. Only with "
        "kp_config_set_buffer_watermark_cb()"),
    INT("buffer.memory.low.watermark.percent", "50", 0, 99, buffer_low_watermark_pct,
        "Percent of buffer.memory in use at or below which KP_BUFFER_LOW follows a "
        "KP_BUFFER_HIGH; must be below buffer.memory.high.watermark.percent"),
    {"completion.mode", P_ENUM, "callback", 0, 0, "callback|queue", F(completion_mode), 4, NULL,
     "Where completions (delivery and batch callbacks, interceptors' on_acknowledgement, "
     "buffer watermark events) run. callback: on the producer's I/O thread. queue: queued, "
     "run by kp_poll() on the application's threads, with kp_completion_fd() readable while "
     "some wait; queued completions stay charged to buffer.memory until run (a slow poller "
     "blocks sends). Futures complete on the I/O thread in both",
     NULL, NULL},
    LONG("max.block.ms", "60000", 0, I64MAX, max_block_ms,
         "How long send() may block for metadata or buffer memory"),
    INT("max.request.size", "1048576", 0, I32MAX, max_request_size,
        "Maximum size of a request in bytes; also caps the size of a single record"),
    INT("request.timeout.ms", "30000", 0, I32MAX, request_timeout_ms,
        "How long to wait for a response before the request is failed and retried"),
    INT("delivery.timeout.ms", "120000", 0, I32MAX, delivery_timeout_ms,
        "Upper bound on the time from send() returning to the record's completion; "
        "must be >= linger.ms + request.timeout.ms"),
    INT("retries", "2147483647", 0, I32MAX, retries,
        "How many times a failed batch is resent; delivery.timeout.ms bounds it in time"),
    LONG("retry.backoff.ms", "100", 0, I64MAX, retry_backoff_ms,
         "Initial wait before retrying a failed request (exponential, +-20% jitter)"),
    LONG("retry.backoff.max.ms", "1000", 0, I64MAX, retry_backoff_max_ms,
         "Maximum wait between retries"),
    INT("max.in.flight.requests.per.connection", "5", 1, I32MAX, max_in_flight,
        "Maximum unacknowledged requests per broker connection, and so batches in flight per "
        "partition"),
    LONG("metadata.max.age.ms", "300000", 0, I64MAX, metadata_max_age_ms,
         "Period after which metadata is refreshed even without a reason"),
    LONG("metadata.max.idle.ms", "300000", 5000, I64MAX, metadata_max_idle_ms,
         "How long metadata of a topic nobody produces to is kept"),
    LONG("reconnect.backoff.ms", "50", 0, I64MAX, reconnect_backoff_ms,
         "Initial wait before reconnecting to a broker (exponential, +-20% jitter)"),
    LONG("reconnect.backoff.max.ms", "1000", 0, I64MAX, reconnect_backoff_max_ms,
         "Maximum wait before reconnecting to a broker"),
    LONG("socket.connection.setup.timeout.ms", "10000", 0, I64MAX, socket_setup_timeout_ms,
         "How long setting up a connection may take (name lookup, TCP connect, the ApiVersions handshake) before it is abandoned; doubles per failure up to the .max"),
    LONG("socket.connection.setup.timeout.max.ms", "30000", 0, I64MAX,
         socket_setup_timeout_max_ms, "Maximum connect timeout after repeated failures"),
    LONG("connections.max.idle.ms", "540000", 0, I64MAX, connections_max_idle_ms,
         "Close connections idle for this long"),
    INT("send.buffer.bytes", "131072", -1, I32MAX, send_buffer_bytes,
        "SO_SNDBUF of broker sockets; -1 = OS default"),
    INT("receive.buffer.bytes", "32768", -1, I32MAX, receive_buffer_bytes,
        "SO_RCVBUF of broker sockets; -1 = OS default"),
#define SERIALIZERS                                                                           \
    "bytes|string|short|int|long|float|double|uuid|"                                          \
    "org.apache.kafka.common.serialization.ByteArraySerializer|"                              \
    "org.apache.kafka.common.serialization.StringSerializer|"                                 \
    "org.apache.kafka.common.serialization.ShortSerializer|"                                  \
    "org.apache.kafka.common.serialization.IntegerSerializer|"                                \
    "org.apache.kafka.common.serialization.LongSerializer|"                                   \
    "org.apache.kafka.common.serialization.FloatSerializer|"                                  \
    "org.apache.kafka.common.serialization.DoubleSerializer|"                                 \
    "org.apache.kafka.common.serialization.UUIDSerializer"
    {"key.serializer", P_ENUM, "bytes", 0, 0, SERIALIZERS, F(key_serializer), 4, NULL,
     "How record keys become bytes, with the Java serializers' layouts: bytes (pointer + "
     "length), string (NUL-terminated UTF-8), short/int/long (big-endian), float/double (IEEE "
     "754), uuid (16 bytes -> 36-char string); or kp_config_set_key_serializer()",
     NULL, NULL},
    {"value.serializer", P_ENUM, "bytes", 0, 0, SERIALIZERS, F(value_serializer), 4, NULL,
     "How record values become bytes: as key.serializer; or kp_config_set_value_serializer()",
     NULL, NULL},
    BOOL("enable.idempotence", "true", enable_idempotence,
         "Exactly once and in order per partition: producer id, epoch and sequence numbers "
         "make retries safe; requires acks=all, retries > 0, max.in.flight <= 5"),
    BOOL("partitioner.ignore.keys", "false", partitioner_ignore_keys,
         "Place keyed records as if they had no key"),
    BOOL("partitioner.adaptive.partitioning.enable", "true", partitioner_adaptive,
         "Weight the sticky partitioner away from slow brokers (KIP-794)"),
    LONG("partitioner.availability.timeout.ms", "0", 0, I64MAX,
         partitioner_availability_timeout_ms,
         "Exclude partitions whose broker cannot take data for this long; 0 = off"),
    {"client.dns.lookup", P_ENUM, "use_all_dns_ips", 0, 0,
     "use_all_dns_ips|resolve_canonical_bootstrap_servers_only", F(client_dns_lookup), 4, NULL,
     "How host names become addresses. use_all_dns_ips: every address a name resolves to is "
     "tried in turn, and the name is resolved again once all were tried. "
     "resolve_canonical_bootstrap_servers_only: each bootstrap server's name is replaced by "
     "the canonical names of its addresses (reverse lookup, kept when it resolves back, as the "
     "Java client), whose addresses are tried in turn; brokers as use_all_dns_ips. "
     "(Java's 'default' was removed in Kafka 3.0.)",
     NULL, NULL},
    {"compression.type", P_ENUM, "none", 0, 0, "none|gzip|snappy|lz4|zstd", F(compression_type), 4, NULL,
     "Compression codec for batches", NULL, NULL},
    INT("compression.gzip.level", "-1", -1, 9, gzip_level,
        "gzip level: -1 (zlib's default) or 1..9"),
    INT("compression.lz4.level", "9", 1, 17, lz4_level, "lz4 level: 1..17"),
    INT("compression.zstd.level", "3", -131072, 22, zstd_level, "zstd level: -131072..22"),
    UNUSED("enable.metrics.push", P_BOOL, "true", 0, 1, "no client metrics (KIP-714) yet",
           "Push client metrics (KIP-714)"),
    LONG("metrics.sample.window.ms", "30000", 1, I64MAX, metrics_sample_window_ms,
         "The window of time a metrics sample is computed over (rates, averages, maxima and "
         "percentiles cover metrics.num.samples such windows, the current one included)"),
    INT("metrics.num.samples", "2", 1, 1000, metrics_num_samples,
        "The number of samples maintained to compute metrics"),
    {"metrics.recording.level", P_ENUM, "INFO", 0, 0, "INFO|DEBUG|TRACE",
     F(metrics_recording_level), 4, NULL,
     "The highest recording level for metrics: INFO records all of the Java producer's metrics "
     "and kprod's percentiles; DEBUG and TRACE add each broker's request-latency percentiles",
     NULL, NULL},
    INT("statistics.interval.ms", "0", 0, 86400000, statistics_interval_ms,
        "librdkafka's: how often the statistics JSON (librdkafka's STATISTICS.md field names) "
        "goes to the callback of kp_config_set_stats_cb(), built on the I/O thread only when "
        "due; 0 = off"),
    INT("transaction.timeout.ms", "60000", 1, I32MAX, transaction_timeout_ms,
        "Longest a transaction may stay open before the coordinator aborts it (sent with "
        "InitProducerId; the broker refuses more than its transaction.max.timeout.ms)"),
    {"metadata.recovery.strategy", P_ENUM, "rebootstrap", 0, 0, "rebootstrap|none",
     F(metadata_recovery_strategy), 4, NULL,
     "rebootstrap (KIP-899): when no known broker can be reached, when no metadata came for "
     "metadata.recovery.rebootstrap.trigger.ms, or on REBOOTSTRAP_REQUIRED, forget the known "
     "brokers and start again from bootstrap.servers (resolved anew); none: keep trying the "
     "known brokers",
     NULL, NULL},
    LONG("metadata.recovery.rebootstrap.trigger.ms", "300000", 0, I64MAX,
         metadata_rebootstrap_trigger_ms,
         "Rebootstrap after this long without metadata while some is needed (KIP-1102)"),
    MISSING("metric.reporters", P_LIST, "", "pluggable metric reporters"),
    {"partitioner.class", P_STR, NULL, 0, 0, NULL, F(partitioner_class), 0, NULL,
     "Empty (built-in placement) or org.apache.kafka.clients.producer.RoundRobinPartitioner; "
     "a custom partitioner is a function: kp_config_set_partitioner()", "partitioner_kind",
     NULL},
    MISSING("interceptor.classes", P_LIST, "", "Java interceptor classes (use kp_config_add_interceptor())"),
    {"transactional.id", P_STR, NULL, 0, 0, NULL, F(transactional_id), 0, NULL,
     "Makes the producer transactional (kp_init_transactions() and the other kp_*_transaction "
     "calls): records are written in transactions, committed or aborted together; a new "
     "producer with the same id fences this one. Requires idempotence. Empty: none",
     NULL, NULL},
    MISSING("transaction.two.phase.commit.enable", P_BOOL, "false",
            "two-phase commit transactions (KIP-939)"),
    MISSING("config.providers", P_LIST, "", "config providers"),
    {"security.protocol", P_ENUM, "PLAINTEXT", 0, 0, "PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL",
     F(security_protocol), 4, NULL,
     "Protocol used to talk to brokers: PLAINTEXT; SSL (TLS, OpenSSL 3; the ssl.* "
     "properties); SASL_PLAINTEXT or SASL_SSL (SASL authentication, sasl.mechanism and "
     "sasl.jaas.config, over TCP or TLS)",
     NULL, NULL},
    MISSING("security.providers", P_STR, NULL, JAVA_SECURITY),
    TLSSTR("ssl.protocol", "TLSv1.3", ssl_protocol,
           "The newest TLS version offered: TLSv1.3 (or TLS), TLSv1.2; ssl.enabled.protocols "
           "says which are allowed"),
    TLSLIST("ssl.enabled.protocols", "TLSv1.2,TLSv1.3", ssl_enabled_protocols,
            "TLS versions allowed (TLSv1.2, TLSv1.3; TLSv1 and TLSv1.1 as OpenSSL allows them)"),
    MISSING("ssl.provider", P_STR, NULL, JAVA_SECURITY),
    TLSLIST("ssl.cipher.suites", NULL, ssl_cipher_suites,
            "Cipher suites allowed, by their IANA names as Java lists them "
            "(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256) or OpenSSL's; "
            "empty: OpenSSL's defaults"),
    TLSSTR("ssl.keystore.type", "JKS", ssl_keystore_type,
           "Format of ssl.keystore.location: PKCS12 or PEM (key and certificate chain). JKS, "
           "Java's default, means 'as the file is': a PKCS12 file (keytool's format since Java "
           "9) or PEM is read; a real JKS store fails with the keytool command converting it"),
    TLSSTR("ssl.keystore.location", NULL, ssl_keystore_location,
           "The client's key and certificate chain for mutual TLS (the whole chain is sent); "
           "read again for new connections when the file changes"),
    SECRET("ssl.keystore.password", ssl_keystore_password,
           "Password of ssl.keystore.location (PKCS12)"),
    SECRET("ssl.keystore.key", ssl_keystore_key,
           "The client's private key as PEM text (with ssl.keystore.certificate.chain; "
           "encrypted keys take ssl.key.password)"),
    TLSSTR("ssl.keystore.certificate.chain", NULL, ssl_keystore_certificate_chain,
           "The client's certificate chain as PEM text, its own certificate first"),
    SECRET("ssl.key.password", ssl_key_password,
           "Password of an encrypted private key (PEM keystore file or ssl.keystore.key)"),
    TLSSTR("ssl.truststore.type", "JKS", ssl_truststore_type,
           "Format of ssl.truststore.location: PEM (CA certificates) or PKCS12. JKS, Java's "
           "default, means 'as the file is' (PKCS12 or PEM); a real JKS store fails with the "
           "keytool command converting it"),
    TLSSTR("ssl.truststore.location", NULL, ssl_truststore_location,
           "CA certificates the broker's certificate must chain to; none set: the system's CA "
           "store. Read again for new connections when the file changes"),
    SECRET("ssl.truststore.password", ssl_truststore_password,
           "Password of ssl.truststore.location (PKCS12; none for a store without one)"),
    TLSSTR("ssl.truststore.certificates", NULL, ssl_truststore_certificates,
           "CA certificates as PEM text, instead of ssl.truststore.location"),
    TLSSTR("ssl.endpoint.identification.algorithm", "https",
           ssl_endpoint_identification_algorithm,
           "https: the broker's certificate must name the host connected to (DNS name, or IP "
           "address for an IP literal); empty: not checked (logged as a warning)"),
    MISSING("ssl.secure.random.implementation", P_STR, NULL, JAVA_SECURITY),
    MISSING("ssl.engine.factory.class", P_STR, NULL, JAVA_SECURITY),
    MISSING("ssl.keymanager.algorithm", P_STR, "SunX509", JAVA_SECURITY),
    MISSING("ssl.trustmanager.algorithm", P_STR, "PKIX", JAVA_SECURITY),
    TLSSTR("sasl.mechanism", "GSSAPI", sasl_mechanism,
           "SASL mechanism with SASL_PLAINTEXT/SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
           "OAUTHBEARER (Java's unsecured tokens); GSSAPI (Java's default) is not built"),
    SECRET("sasl.jaas.config", sasl_jaas_config,
           "JAAS login module configuration in Java's syntax, e.g. "
           "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" "
           "password=\"p\"; (a secret: kp_config_get shows [hidden])"),
    MISSING("sasl.kerberos.service.name", P_STR, NULL, "SASL"),
    MISSING("sasl.kerberos.kinit.cmd", P_STR, "/usr/bin/kinit", "SASL"),
    MISSING("sasl.kerberos.ticket.renew.window.factor", P_STR, "0.8", "SASL"),
    MISSING("sasl.kerberos.ticket.renew.jitter", P_STR, "0.05", "SASL"),
    MISSING("sasl.kerberos.min.time.before.relogin", P_LONG, "60000", "SASL"),
    TLSSTR("sasl.login.refresh.window.factor", "0.8", sasl_login_refresh_window_factor,
           "OAUTHBEARER: refresh a token at this fraction of its lifetime (0.5 to 1.0)"),
    TLSSTR("sasl.login.refresh.window.jitter", "0.05", sasl_login_refresh_window_jitter,
           "OAUTHBEARER: plus a random fraction of the lifetime up to this (0 to 0.25)"),
    INT("sasl.login.refresh.min.period.seconds", "60", 0, 900,
        sasl_login_refresh_min_period_seconds,
        "OAUTHBEARER: the least time between token refreshes"),
    INT("sasl.login.refresh.buffer.seconds", "300", 0, 3600, sasl_login_refresh_buffer_seconds,
        "OAUTHBEARER: refresh at least this long before a token expires"),
    INT("sasl.login.connect.timeout.ms", NULL, 1, I32MAX, sasl_login_connect_timeout_ms,
        "OIDC: how long connecting to sasl.oauthbearer.token.endpoint.url may take (unset: "
        "10000)"),
    INT("sasl.login.read.timeout.ms", NULL, 1, I32MAX, sasl_login_read_timeout_ms,
        "OIDC: how long the token endpoint may take to answer once connected (unset: 30000)"),
    LONG("sasl.login.retry.backoff.ms", "100", 0, I64MAX, sasl_login_retry_backoff_ms,
         "OAUTHBEARER: first wait before asking for a token again after a failure"),
    LONG("sasl.login.retry.backoff.max.ms", "10000", 0, I64MAX, sasl_login_retry_backoff_max_ms,
         "OAUTHBEARER: longest wait between token attempts (doubling, +-20% jitter)"),
    MISSING("sasl.client.callback.handler.class", P_STR, NULL, "SASL"),
    TLSSTR("sasl.login.callback.handler.class", NULL, sasl_login_callback_handler_class,
           "Empty, or Java's OAuthBearerLoginCallbackHandler (either package), which "
           "sasl.oauthbearer.token.endpoint.url selects anyway; other classes: use "
           "kp_config_set_oauthbearer_token_cb()"),
    MISSING("sasl.login.class", P_STR, NULL, "SASL"),
    MISSING("sasl.oauthbearer.scope.claim.name", P_STR, "scope", "SASL"),
    MISSING("sasl.oauthbearer.sub.claim.name", P_STR, "sub", "SASL"),
    TLSSTR("sasl.oauthbearer.token.endpoint.url", NULL, sasl_oauthbearer_token_endpoint_url,
           "OAUTHBEARER with OIDC client credentials (KIP-768): the identity provider's token "
           "endpoint (https://...), given clientId, clientSecret, scope and extension_* in "
           "sasl.jaas.config; needs a build with libcurl and jansson"),
    MISSING("sasl.oauthbearer.jwks.endpoint.url", P_STR, NULL, "SASL"),
    MISSING("sasl.oauthbearer.jwks.endpoint.refresh.ms", P_LONG, "3600000", "SASL"),
    MISSING("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", P_LONG, "100", "SASL"),
    MISSING("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", P_LONG, "10000", "SASL"),
    MISSING("sasl.oauthbearer.clock.skew.seconds", P_INT, "30", "SASL"),
    MISSING("sasl.oauthbearer.expected.audience", P_LIST, NULL, "SASL"),
    MISSING("sasl.oauthbearer.expected.issuer", P_STR, NULL, "SASL"),
    MISSING("sasl.oauthbearer.header.urlencode", P_BOOL, "false", "SASL"),
};

#define NPROPS (sizeof(props) / sizeof(props[0]))

static const char *type_name(enum ptype t) {
    switch (t) {
    case P_INT: return "int";
    case P_LONG: return "long";
    case P_BOOL: return "boolean";
    case P_STR: return "string";
    case P_ENUM: return "enum";
    case P_LIST: return "list";
    }
    return "?";
}

static const struct prop *find_prop(const char *name, size_t *idx) {
    for (size_t i = 0; i < NPROPS; i++)
        if (!strcmp(props[i].name, name)) {
            if (idx)
                *idx = i;
            return &props[i];
        }
    return NULL;
}

static void describe_valid(const struct prop *pr, char *buf, size_t sz) {
    switch (pr->type) {
    case P_INT:
    case P_LONG:
        snprintf(buf, sz, "an integer in [%lld, %lld]", (long long)pr->min, (long long)pr->max);
        break;
    case P_BOOL: snprintf(buf, sz, "true or false"); break;
    case P_ENUM: {
        size_t o = (size_t)snprintf(buf, sz, "one of ");
        for (const char *e = pr->enums; *e && o + 3 < sz; e++) {
            if (*e == '|') {
                buf[o++] = ',';
                buf[o++] = ' ';
            } else {
                buf[o++] = *e;
            }
        }
        buf[o < sz ? o : sz - 1] = 0;
        break;
    }
    case P_LIST: snprintf(buf, sz, "a comma-separated list"); break;
    case P_STR: snprintf(buf, sz, "a string"); break;
    }
}

static int enum_index(const char *enums, const char *v) {
    int idx = 0;
    const char *s = enums;
    while (*s) {
        const char *e = strchr(s, '|');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (strlen(v) == n && !strncasecmp(s, v, n))
            return idx;
        idx++;
        if (!e)
            break;
        s = e + 1;
    }
    return -1;
}

static int parse_int64(const char *v, int64_t *out) {
    char *end;
    while (isspace((unsigned char)*v))
        v++;
    if (!*v)
        return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

/* Properties holding a secret (a password, a private key, JAAS text with
 * credentials): never quoted in an error, [hidden] from kp_config_get,
 * wiped when freed. Any name with "password" in it counts too. */
static const char *const secret_props[] = {"ssl.keystore.key", "sasl.jaas.config"};

static int is_secret(const struct prop *pr) {
    for (size_t i = 0; i < sizeof(secret_props) / sizeof(secret_props[0]); i++)
        if (!strcmp(pr->name, secret_props[i]))
            return 1;
    return strstr(pr->name, "password") != NULL;
}

/* Free a string, wiping it first when it holds a secret. */
static void free_str(char *s, int secret) {
    if (s && secret)
        explicit_bzero(s, strlen(s));
    free(s);
}

/* Store a validated value into the parsed struct. */
static void apply(kp_conf_t *c, const struct prop *pr, const char *v) {
    if (pr->off == NOOFF)
        return;
    char *field = (char *)c + pr->off;
    int64_t x = 0;
    switch (pr->type) {
    case P_INT:
    case P_LONG: parse_int64(v, &x); break;
    case P_BOOL: x = !strcasecmp(v, "true"); break;
    case P_ENUM:
        x = enum_index(pr->enums, v);
        if (!strcmp(pr->name, "acks"))
            x = (x <= 1) ? -1 : (x == 2 ? 0 : 1);
        else if (pr->off == OFF(key_serializer) || pr->off == OFF(value_serializer))
            x %= KP_SER_COUNT; /* short names first, then the Java class names */
        break;
    case P_STR:
    case P_LIST: {
        char **sp = (char **)(void *)field;
        free_str(*sp, is_secret(pr));
        *sp = kp_strdup(v ? v : "");
        return;
    }
    }
    if (pr->width == 8)
        *(int64_t *)(void *)field = x;
    else
        *(int32_t *)(void *)field = (int32_t)x;
}

static int same_as_default(const struct prop *pr, const char *v) {
    if (!pr->def)
        return !*v;
    if (pr->type == P_BOOL || pr->type == P_ENUM)
        return !strcasecmp(pr->def, v);
    return !strcmp(pr->def, v);
}

/* Error messages quote the value given, except for properties holding a
 * secret (passwords, a private key, JAAS text with credentials): those end
 * up in logs. */
static const char *shown(const struct prop *pr, const char *value) {
    return is_secret(pr) ? "(hidden)" : value;
}

kp_err_t kp_config_set(kp_config_t *conf, const char *name, const char *value, char *errstr,
                       size_t errstr_size) {
    size_t idx;
    if (!conf || !name) {
        kp_errf(errstr, errstr_size, "kp_config_set: NULL argument");
        return KP_ERR_INVALID_ARG;
    }
    const struct prop *pr = find_prop(name, &idx);
    if (!pr) {
        kp_errf(errstr, errstr_size, "Unknown property '%s'", name);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!value)
        value = "";
    if (pr->missing && !(pr->type == P_ENUM && enum_index(pr->enums, value) < 0)) {
        /* a feature not built: its default (as text) is all we accept */
        if (same_as_default(pr, value))
            goto store;
        kp_errf(errstr, errstr_size,
                "Property '%s'='%s' needs %s, which this build of kprod does not implement yet "
                "(only the default '%s' is accepted)",
                name, shown(pr, value), pr->missing, pr->def ? pr->def : "");
        return KP_ERR_INVALID_CONFIG;
    }
    char valid[300];
    describe_valid(pr, valid, sizeof(valid));
    int ok = 1;
    int64_t x = 0;
    switch (pr->type) {
    case P_INT:
    case P_LONG: ok = !parse_int64(value, &x) && x >= pr->min && x <= pr->max; break;
    case P_BOOL: ok = !strcasecmp(value, "true") || !strcasecmp(value, "false"); break;
    case P_ENUM: ok = enum_index(pr->enums, value) >= 0; break;
    case P_STR:
    case P_LIST: ok = 1; break;
    }
    if (!strcmp(name, "client.dns.lookup") && !strcasecmp(value, "default")) {
        /* KIP-602 deprecated it in 2.6, Kafka 3.0 removed it */
        kp_errf(errstr, errstr_size,
                "Invalid value 'default' for property 'client.dns.lookup': Java's 'default' (the "
                "first address only) was removed in Kafka 3.0; expected %s",
                valid);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!ok) {
        kp_errf(errstr, errstr_size, "Invalid value '%s' for property '%s': expected %s",
                shown(pr, value), name, valid);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!strcmp(name, "compression.type") && !kp_codec_available(enum_index(pr->enums, value))) {
        kp_errf(errstr, errstr_size,
                "Property 'compression.type'='%s': this build of kprod was compiled without %s "
                "support (install its -dev package and rebuild)",
                value, value);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!strcmp(name, "sasl.login.callback.handler.class") && *value &&
        strcmp(value, "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler") &&
        strcmp(value,
               "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler")) {
        kp_errf(errstr, errstr_size,
                "Invalid value '%s' for property 'sasl.login.callback.handler.class': kprod has "
                "Java's OAuthBearerLoginCallbackHandler (OIDC client credentials, selected by "
                "sasl.oauthbearer.token.endpoint.url); give other token sources with "
                "kp_config_set_oauthbearer_token_cb()",
                value);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!strcmp(name, "partitioner.class") && *value &&
        strcmp(value, "org.apache.kafka.clients.producer.RoundRobinPartitioner")) {
        kp_errf(errstr, errstr_size,
                "Invalid value '%s' for property 'partitioner.class': kprod has the built-in "
                "placement (empty) and org.apache.kafka.clients.producer.RoundRobinPartitioner; "
                "set a custom partitioner with kp_config_set_partitioner()",
                value);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!strcmp(name, "sasl.jaas.config") && *value) {
        /* parsed now, so that a syntax error names the spot at once (the
         * parser never quotes the text: it holds secrets) */
        kp_jaas_t j;
        kp_err_t rc = kp_jaas_parse(value, &j, errstr, errstr_size);
        kp_jaas_free(&j);
        if (rc)
            return rc;
    }
    if (!strcmp(name, "compression.gzip.level") && x == 0) {
        kp_errf(errstr, errstr_size,
                "Invalid value '0' for property 'compression.gzip.level': expected -1 or an "
                "integer in [1, 9]");
        return KP_ERR_INVALID_CONFIG;
    }
store:;
    char *copy = kp_strdup(value);
    if (!copy) {
        kp_errf(errstr, errstr_size, "Out of memory");
        return KP_ERR_NOMEM;
    }
    free_str(conf->vals[idx], is_secret(pr));
    conf->vals[idx] = copy;
    apply(&conf->c, pr, value);
    if (!strcmp(name, "delivery.timeout.ms"))
        conf->c.explicit_delivery_timeout = 1;
    else if (!strcmp(name, "enable.idempotence"))
        conf->c.explicit_idempotence = 1;
    else if (!strcmp(name, "acks"))
        conf->c.explicit_acks = 1;
    else if (!strcmp(name, "retries"))
        conf->c.explicit_retries = 1;
    else if (!strcmp(name, "max.in.flight.requests.per.connection"))
        conf->c.explicit_max_in_flight = 1;
    return KP_OK;
}

const char *kp_config_get(const kp_config_t *conf, const char *name) {
    size_t idx;
    if (!conf || !name || !find_prop(name, &idx))
        return NULL;
    /* a secret set is shown as Java prints it in its configuration log */
    if (conf->vals[idx] && *conf->vals[idx] && is_secret(&props[idx]))
        return "[hidden]";
    if (conf->vals[idx])
        return conf->vals[idx];
    return props[idx].def ? props[idx].def : "";
}

kp_config_t *kp_config_new(void) {
    kp_config_t *conf = kp_calloc(1, sizeof(*conf));
    if (!conf)
        return NULL;
    conf->vals = kp_calloc(NPROPS, sizeof(char *));
    if (!conf->vals) {
        free(conf);
        return NULL;
    }
    for (size_t i = 0; i < NPROPS; i++)
        apply(&conf->c, &props[i], props[i].def ? props[i].def : "");
    if (!conf->c.bootstrap_servers || !conf->c.client_id) {
        kp_config_destroy(conf);
        return NULL;
    }
    return conf;
}

void kp_config_destroy(kp_config_t *conf) {
    if (!conf)
        return;
    for (size_t i = 0; i < NPROPS; i++)
        free_str(conf->vals[i], is_secret(&props[i]));
    free(conf->vals);
    kp_conf_free(&conf->c);
    free(conf);
}

void kp_config_set_key_serializer(kp_config_t *conf, kp_serializer_fn *fn, void *opaque) {
    if (conf) {
        conf->c.key_ser_fn = fn;
        conf->c.key_ser_opaque = opaque;
    }
}

void kp_config_set_value_serializer(kp_config_t *conf, kp_serializer_fn *fn, void *opaque) {
    if (conf) {
        conf->c.value_ser_fn = fn;
        conf->c.value_ser_opaque = opaque;
    }
}

void kp_config_set_partitioner(kp_config_t *conf, kp_partitioner_fn *fn, void *opaque) {
    if (conf) {
        conf->c.partitioner_fn = fn;
        conf->c.partitioner_opaque = opaque;
    }
}

kp_err_t kp_config_add_interceptor(kp_config_t *conf, const kp_interceptor_t *ic) {
    if (!conf || !ic)
        return KP_ERR_INVALID_ARG;
    kp_interceptor_t *n = kp_realloc(conf->c.interceptors,
                                  (size_t)(conf->c.ninterceptors + 1) * sizeof(*n));
    if (!n)
        return KP_ERR_NOMEM;
    n[conf->c.ninterceptors++] = *ic;
    conf->c.interceptors = n;
    return KP_OK;
}

void kp_config_set_oauthbearer_token_cb(kp_config_t *conf, kp_oauthbearer_token_fn *fn,
                                        void *opaque) {
    if (!conf)
        return;
    conf->c.oauth_token_fn = fn;
    conf->c.oauth_token_opaque = opaque;
}

void kp_config_set_stats_cb(kp_config_t *conf, kp_stats_fn *fn, void *opaque) {
    if (!conf)
        return;
    conf->c.stats_cb = fn;
    conf->c.stats_opaque = opaque;
}

void kp_config_set_batch_callback(kp_config_t *conf, kp_batch_callback_fn *fn, void *opaque) {
    if (!conf)
        return;
    conf->c.batch_cb = fn;
    conf->c.batch_cb_opaque = opaque;
}

void kp_config_set_buffer_watermark_cb(kp_config_t *conf, kp_buffer_watermark_fn *fn,
                                       void *opaque) {
    if (!conf)
        return;
    conf->c.watermark_cb = fn;
    conf->c.watermark_opaque = opaque;
}

void kp_config_set_log(kp_config_t *conf, kp_log_fn *fn, void *opaque) {
    if (!conf)
        return;
    conf->c.log_cb = fn;
    conf->c.log_opaque = opaque;
}

/* The string field of row i, or NULL when the row has none. */
static char **str_field(kp_conf_t *c, size_t i) {
    if (props[i].off == NOOFF || (props[i].type != P_STR && props[i].type != P_LIST))
        return NULL;
    return (char **)(void *)((char *)c + props[i].off);
}

int kp_conf_copy(kp_conf_t *dst, const kp_conf_t *src) {
    *dst = *src;
    int nomem = 0;
    for (size_t i = 0; i < NPROPS; i++) { /* every string: bootstrap.servers, ssl.* ... */
        char **d = str_field(dst, i);
        if (d) {
            *d = kp_strdup(*d ? *d : "");
            nomem |= !*d;
        }
    }
    dst->interceptors = NULL;
    if (src->ninterceptors) {
        dst->interceptors = kp_malloc((size_t)src->ninterceptors * sizeof(kp_interceptor_t));
        if (dst->interceptors)
            memcpy(dst->interceptors, src->interceptors,
                   (size_t)src->ninterceptors * sizeof(kp_interceptor_t));
    }
    if (nomem || (src->ninterceptors && !dst->interceptors)) {
        kp_conf_free(dst);
        return -1;
    }
    return 0;
}

void kp_conf_free(kp_conf_t *c) {
    for (size_t i = 0; i < NPROPS; i++) {
        char **f = str_field(c, i);
        if (f) {
            free_str(*f, is_secret(&props[i]));
            *f = NULL;
        }
    }
    free(c->interceptors);
    c->interceptors = NULL;
    c->ninterceptors = 0;
}

kp_err_t kp_conf_finalize(kp_conf_t *c, char *errstr, size_t errstr_size) {
    const char *s = c->bootstrap_servers;
    while (s && isspace((unsigned char)*s))
        s++;
    if (!s || !*s) {
        kp_errf(errstr, errstr_size,
                "Missing required property 'bootstrap.servers' (a list of host:port pairs)");
        return KP_ERR_INVALID_CONFIG;
    }
    /* Java accepts Long.MAX_VALUE for durations; deadlines are computed as
     * now + duration, so clamp to ~31,000 years to keep that arithmetic
     * in range. */
    int64_t *durations[] = {&c->linger_ms,           &c->max_block_ms,
                            &c->retry_backoff_ms,    &c->retry_backoff_max_ms,
                            &c->metadata_max_age_ms, &c->metadata_max_idle_ms,
                            &c->reconnect_backoff_ms, &c->reconnect_backoff_max_ms,
                            &c->socket_setup_timeout_ms, &c->socket_setup_timeout_max_ms,
                            &c->connections_max_idle_ms, &c->partitioner_availability_timeout_ms,
                            &c->sasl_login_retry_backoff_ms, &c->sasl_login_retry_backoff_max_ms};
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
        if (*durations[i] > KP_MAX_DURATION_MS)
            *durations[i] = KP_MAX_DURATION_MS;
    int64_t need = c->linger_ms + (int64_t)c->request_timeout_ms;
    if ((int64_t)c->delivery_timeout_ms < need) {
        if (c->explicit_delivery_timeout) {
            kp_errf(errstr, errstr_size,
                    "Invalid value %d for property 'delivery.timeout.ms': it should be equal to "
                    "or larger than linger.ms + request.timeout.ms (%lld)",
                    c->delivery_timeout_ms, (long long)need);
            return KP_ERR_INVALID_CONFIG;
        }
        /* As Java: an implicit default is raised silently. */
        c->delivery_timeout_ms = need > I32MAX ? (int32_t)I32MAX : (int32_t)need;
    }
    /* Idempotence (Java 4.x rules): when set explicitly, conflicting
     * settings are errors; when it is only the default, acks != all or
     * retries = 0 turn it off quietly, but more than 5 in flight is an
     * error either way. */
    int transactional = c->transactional_id && *c->transactional_id;
    if (transactional && !c->enable_idempotence && c->explicit_idempotence) {
        kp_errf(errstr, errstr_size,
                "Invalid configuration: transactional.id is set but enable.idempotence=false "
                "(a transactional producer is idempotent: remove enable.idempotence or set it "
                "to true)");
        return KP_ERR_INVALID_CONFIG;
    }
    if (transactional)
        c->enable_idempotence = 1;
    if (c->enable_idempotence) {
        const char *conflict = NULL;
        if (c->acks != -1)
            conflict = "acks must be 'all'";
        else if (c->retries == 0)
            conflict = "retries must be greater than 0";
        if (conflict && transactional) {
            kp_errf(errstr, errstr_size,
                    "Invalid configuration: transactional.id is set but %s (a transactional "
                    "producer is idempotent)", conflict);
            return KP_ERR_INVALID_CONFIG;
        }
        if (conflict && c->explicit_idempotence) {
            kp_errf(errstr, errstr_size,
                    "Invalid configuration: enable.idempotence=true but %s (set "
                    "enable.idempotence=false to use acks=%s and retries=%d)",
                    conflict, c->acks == -1 ? "all" : c->acks == 0 ? "0" : "1", c->retries);
            return KP_ERR_INVALID_CONFIG;
        }
        if (conflict)
            c->enable_idempotence = 0;
    }
    if (c->enable_idempotence && c->max_in_flight > 5) {
        kp_errf(errstr, errstr_size,
                "Invalid value %d for property 'max.in.flight.requests.per.connection': it must "
                "be at most 5 with enable.idempotence=true (the broker keeps state for 5 batches "
                "per producer)",
                c->max_in_flight);
        return KP_ERR_INVALID_CONFIG;
    }
    if (c->buffer_low_watermark_pct >= c->buffer_high_watermark_pct) {
        kp_errf(errstr, errstr_size,
                "Invalid value %d for property 'buffer.memory.low.watermark.percent': it must be "
                "below buffer.memory.high.watermark.percent (%d)",
                c->buffer_low_watermark_pct, c->buffer_high_watermark_pct);
        return KP_ERR_INVALID_CONFIG;
    }
    c->partitioner_kind = c->partitioner_class && *c->partitioner_class ? KP_PART_ROUND_ROBIN
                                                                        : KP_PART_DEFAULT;
    if (c->retry_backoff_max_ms < c->retry_backoff_ms)
        c->retry_backoff_max_ms = c->retry_backoff_ms;
    if (c->sasl_login_retry_backoff_max_ms < c->sasl_login_retry_backoff_ms)
        c->sasl_login_retry_backoff_max_ms = c->sasl_login_retry_backoff_ms;
    if (c->reconnect_backoff_max_ms < c->reconnect_backoff_ms)
        c->reconnect_backoff_max_ms = c->reconnect_backoff_ms;
    return KP_OK;
}

/* ---- .properties files ----
 *
 * java.util.Properties.load's grammar, byte for byte (its LineReader and
 * loadConvert): natural lines end at \n, \r or \r\n; leading space, \t and
 * \f are skipped; blank lines and lines whose first other character is '#'
 * or '!' are comments (a comment never continues); an odd number of trailing
 * backslashes joins the next natural line with its leading whitespace
 * removed; the key ends at the first unescaped '=', ':' or whitespace, then
 * whitespace, at most one '=' or ':', and whitespace again separate it from
 * the value. Escapes: \t \n \r \f, \uXXXX (exactly four hex digits), and
 * \x = x for any other x.
 *
 * Where C strings force a difference: the bytes are taken as they are
 * (UTF-8, as Properties.load(Reader)), \uXXXX is written as UTF-8 and a
 * surrogate pair \uD8xx\uDCxx as the one code point it stands for. A lone
 * surrogate, \u0000 and a NUL byte anywhere in the text are errors: none can
 * be part of a C string, and silently cutting or replacing a value would
 * load something else than what the file says. */

/* A cursor over the text and the logical line being assembled. */
struct preader {
    const unsigned char *p, *end;
    int line;           /* physical line of the next byte, from 1 */
    unsigned char prev; /* the byte before p, for \r\n */
    int skip_lf;        /* the last line ended with \r: a \n right after is its end too */
    char *buf;          /* the logical line; room for the whole text + 1 */
    int start;          /* physical line where the logical line starts (0: not yet) */
};

/* Take one byte, counting line ends (\r\n counts once). */
static unsigned char take(struct preader *r, int *line) {
    unsigned char c = *r->p++;
    *line = r->line;
    if (c == '\r' || (c == '\n' && r->prev != '\r'))
        r->line++;
    r->prev = c;
    return c;
}

enum { RL_EOF = 0, RL_LINE = 1, RL_NUL = -1 };

/* Skip the rest of a comment; RL_EOF when the text ends in it. */
static int skip_comment(struct preader *r, int *nul_line) {
    while (r->p < r->end) {
        int line;
        unsigned char c = take(r, &line);
        if (!c) {
            *nul_line = line;
            return RL_NUL;
        }
        if (c == '\r' || c == '\n')
            return RL_LINE;
    }
    return RL_EOF;
}

/* Java's LineReader.readLine: the next logical line into r->buf (*n bytes,
 * continuation backslashes removed, not unescaped). RL_NUL names the
 * physical line of a NUL byte in *nul_line. */
static int read_logical_line(struct preader *r, size_t *n, int *nul_line) {
    size_t len = 0;
    int skip_ws = 1, appended = 0, bs = 0;
    r->start = 0;
    while (r->p < r->end) {
        int line;
        unsigned char c = take(r, &line);
        if (!c) {
            *nul_line = line;
            return RL_NUL;
        }
        if (r->skip_lf) {
            r->skip_lf = 0;
            if (c == '\n')
                continue;
        }
        if (skip_ws) {
            if (c == ' ' || c == '\t' || c == '\f')
                continue;
            /* blank lines between entries, but not after a continuation */
            if (!appended && (c == '\r' || c == '\n'))
                continue;
            skip_ws = appended = 0;
        }
        if (len == 0 && (c == '#' || c == '!')) {
            int rc = skip_comment(r, nul_line);
            if (rc != RL_LINE)
                return rc;
            skip_ws = 1;
            continue;
        }
        if (c != '\n' && c != '\r') {
            if (!r->start)
                r->start = line;
            r->buf[len++] = (char)c;
            bs = c == '\\' ? !bs : 0;
            continue;
        }
        if (len == 0) {
            skip_ws = 1;
            continue;
        }
        if (bs && r->p < r->end) {
            /* continued: drop the backslash, skip the next line's indent */
            len--;
            skip_ws = appended = 1;
            bs = 0;
            if (c == '\r' && *r->p == '\n')
                take(r, &line);
            continue;
        }
        r->skip_lf = c == '\r';
        *n = bs ? len - 1 : len; /* a backslash ending the text is dropped */
        return RL_LINE;
    }
    if (len == 0)
        return RL_EOF;
    *n = bs ? len - 1 : len;
    return RL_LINE;
}

static int hex4(const char *s, unsigned *cp) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *cp = v;
    return 0;
}

static char *put_utf8(char *d, unsigned cp) {
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    return d;
}

/* Decode the \uXXXX at s (s[0..1] = "\u", n bytes available) into *cp,
 * joining a surrogate pair; returns the bytes used, or 0 with *why set.
 * Java's own check fails on fewer than four hex digits; NUL and lone
 * surrogates are kprod's (see the comment at the top of this part). */
static size_t decode_u(const char *s, size_t n, unsigned *cp, const char **why) {
    if (n < 6 || hex4(s + 2, cp)) {
        *why = "";
        return 0;
    }
    if (*cp == 0) {
        *why = " (\\u0000 cannot be part of a property: values are C strings)";
        return 0;
    }
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
        *why = " (a low surrogate \\uDC00-\\uDFFF without a high surrogate before it)";
        return 0;
    }
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return 6;
    unsigned lo;
    if (n < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) || lo < 0xDC00 ||
        lo > 0xDFFF) {
        *why = " (a high surrogate \\uD800-\\uDBFF without a low surrogate \\uDC00-\\uDFFF "
               "after it)";
        return 0;
    }
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 12;
}

/* Java's loadConvert, in place over s[0..n), NUL-terminating the result
 * (which is never longer: \uXXXX is 6 bytes, its UTF-8 at most 3; a pair is
 * 12 for 4). Returns 0, or -1 with *why set for a malformed \u escape. */
static int unescape(char *s, size_t n, const char **why) {
    char *d = s;
    size_t i = 0;
    while (i < n) {
        if (s[i] != '\\' || i + 1 == n) {
            /* the line reader never leaves a lone final backslash; keep it if
             * it ever did rather than read past the end */
            *d++ = s[i++];
            continue;
        }
        char c = s[i + 1];
        if (c == 'u') {
            unsigned cp;
            size_t used = decode_u(s + i, n - i, &cp, why);
            if (!used)
                return -1;
            d = put_utf8(d, cp);
            i += used;
            continue;
        }
        *d++ = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
        i += 2;
    }
    *d = 0;
    return 0;
}

/* Split a logical line into key and value (Java's load0) and unescape both
 * in place: *key and *val point into line (or *val to ""). */
static int split_entry(char *line, size_t n, char **key, char **val, const char **why) {
    size_t klen = 0, vstart = n;
    int has_sep = 0, bs = 0;
    for (; klen < n; klen++) {
        char c = line[klen];
        if (!bs && (c == '=' || c == ':')) {
            vstart = klen + 1;
            has_sep = 1;
            break;
        }
        if (!bs && (c == ' ' || c == '\t' || c == '\f')) {
            vstart = klen + 1;
            break;
        }
        bs = c == '\\' ? !bs : 0;
    }
    for (; vstart < n; vstart++) {
        char c = line[vstart];
        if (c == ' ' || c == '\t' || c == '\f')
            continue;
        if (has_sep || (c != '=' && c != ':'))
            break;
        has_sep = 1;
    }
    /* The key's text ends before vstart unless the line is all key (then
     * the value is empty): unescaping the key cannot reach the value. */
    *key = line;
    *val = vstart < n ? line + vstart : "";
    if (unescape(*key, klen, why))
        return -1;
    if (vstart < n && unescape(*val, n - vstart, why))
        return -1;
    return 0;
}

kp_err_t kp_config_load_buf(kp_config_t *conf, const char *buf, size_t len, const char *origin,
                            char *errstr, size_t errstr_size) {
    if (!conf || (!buf && len)) {
        kp_errf(errstr, errstr_size, "kp_config_load_buf: NULL argument");
        return KP_ERR_INVALID_ARG;
    }
    if (!origin)
        origin = "(properties)";
    struct preader r = {(const unsigned char *)buf, (const unsigned char *)buf + len, 1, 0, 0,
                        kp_malloc(len + 1), 0};
    if (!r.buf) {
        kp_errf(errstr, errstr_size, "Out of memory");
        return KP_ERR_NOMEM;
    }
    kp_err_t err = KP_OK;
    size_t n;
    int rc = RL_EOF, nul_line = 0;
    while (!err && (rc = read_logical_line(&r, &n, &nul_line)) == RL_LINE) {
        char *key, *val;
        const char *why = "";
        if (split_entry(r.buf, n, &key, &val, &why)) {
            kp_errf(errstr, errstr_size, "%s:%d: Malformed \\uxxxx encoding.%s", origin, r.start,
                    why);
            err = KP_ERR_INVALID_CONFIG;
            break;
        }
        char sub[400];
        err = kp_config_set(conf, key, val, sub, sizeof(sub));
        if (err)
            kp_errf(errstr, errstr_size, "%s:%d: %s", origin, r.start, sub);
    }
    if (!err && rc == RL_NUL) {
        kp_errf(errstr, errstr_size,
                "%s:%d: NUL byte: a properties file is text (is it UTF-16? save it as UTF-8)",
                origin, nul_line);
        err = KP_ERR_INVALID_CONFIG;
    }
    free(r.buf);
    return err;
}

/* Read a whole file: a regular file or a pipe (a shell's <(...)); anything
 * else, or a failing read, is KP_ERR_IO naming the path and the reason. */
static kp_err_t read_file(const char *path, char **out, size_t *outlen, char *errstr,
                          size_t errstr_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st)) {
        why = strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        why = "it is a directory";
    } else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        why = "not a regular file";
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (!why) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = kp_realloc(buf, ncap);
            if (!nb) {
                why = "out of memory";
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            why = strerror(errno);
        else if (got == 0)
            break;
        else
            len += (size_t)got;
    }
    if (fd >= 0)
        close(fd);
    if (why) {
        free(buf);
        kp_errf(errstr, errstr_size, "Cannot read properties file '%s': %s", path, why);
        return KP_ERR_IO;
    }
    *out = buf;
    *outlen = len;
    return KP_OK;
}

kp_err_t kp_config_load_file(kp_config_t *conf, const char *path, char *errstr,
                             size_t errstr_size) {
    if (!conf || !path) {
        kp_errf(errstr, errstr_size, "kp_config_load_file: NULL argument");
        return KP_ERR_INVALID_ARG;
    }
    char *buf;
    size_t len;
    kp_err_t err = read_file(path, &buf, &len, errstr, errstr_size);
    if (err)
        return err;
    err = kp_config_load_buf(conf, buf, len, path, errstr, errstr_size);
    free(buf);
    return err;
}

size_t kp_config_prop_count(void) { return NPROPS; }

int kp_config_prop(size_t i, kp_prop_info_t *out) {
    if (i >= NPROPS)
        return -1;
    out->name = props[i].name;
    out->type = type_name(props[i].type);
    out->deflt = props[i].def;
    describe_valid(&props[i], out->valid, sizeof(out->valid));
    out->doc = props[i].doc;
    out->missing = props[i].missing;
    out->unused = props[i].unused;
    out->field = props[i].field;
    out->via = props[i].via;
    return 0;
}

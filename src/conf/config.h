/*
 * config — the property table (Java ProducerConfig names, types, defaults,
 * ranges) and the parsed configuration the rest of the library reads.
 */
#ifndef KP_CONFIG_H
#define KP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "kprod/kprod.h"

/* Built-in serializers, in the order of the key.serializer enum. */
enum kp_serializer {
    KP_SER_BYTES = 0,
    KP_SER_STRING,
    KP_SER_SHORT,
    KP_SER_INT,
    KP_SER_LONG,
    KP_SER_FLOAT,
    KP_SER_DOUBLE,
    KP_SER_UUID,
    KP_SER_COUNT
};
enum kp_partitioner_kind { KP_PART_DEFAULT = 0, KP_PART_ROUND_ROBIN = 1 };
/* security.protocol, in the order of its values. */
enum kp_security_protocol {
    KP_SEC_PLAINTEXT = 0,
    KP_SEC_SSL = 1,
    KP_SEC_SASL_PLAINTEXT = 2,
    KP_SEC_SASL_SSL = 3
};
/* completion.mode, in the order of its values. */
enum kp_completion_mode { KP_COMPLETE_CALLBACK = 0, KP_COMPLETE_QUEUE = 1 };
/* client.dns.lookup, in the order of its values. */
enum kp_dns_lookup { KP_DNS_USE_ALL_DNS_IPS = 0, KP_DNS_CANONICAL_BOOTSTRAP = 1 };

/* Parsed values. Only config.c writes them; everything else reads. */
typedef struct kp_conf {
    char *bootstrap_servers;
    char *client_id;
    int acks; /* -1 (all), 0, 1 */
    int64_t linger_ms;
    int32_t batch_size;
    int64_t buffer_memory;
    int32_t buffer_high_watermark_pct, buffer_low_watermark_pct;
    int completion_mode; /* enum kp_completion_mode */
    int64_t max_block_ms;
    int32_t max_request_size;
    int32_t request_timeout_ms;
    int32_t delivery_timeout_ms;
    int32_t retries;
    int64_t retry_backoff_ms;
    int64_t retry_backoff_max_ms;
    int32_t max_in_flight;
    int64_t metadata_max_age_ms;
    int64_t metadata_max_idle_ms;
    int64_t reconnect_backoff_ms;
    int64_t reconnect_backoff_max_ms;
    int64_t socket_setup_timeout_ms;
    int64_t socket_setup_timeout_max_ms;
    int64_t connections_max_idle_ms;
    int metadata_recovery_strategy; /* 0 rebootstrap, 1 none */
    int64_t metadata_rebootstrap_trigger_ms;
    int32_t send_buffer_bytes;
    int32_t receive_buffer_bytes;
    int client_dns_lookup; /* enum kp_dns_lookup */
    int security_protocol; /* enum kp_security_protocol */
    /* TLS (net/tls.c), Java's ssl.* with their names; "" when unset. The
     * passwords and ssl.keystore.key are secrets: kp_config_get shows them
     * as [hidden], errors never quote them, kp_conf_free wipes them. */
    char *ssl_protocol, *ssl_enabled_protocols, *ssl_cipher_suites;
    char *ssl_endpoint_identification_algorithm;
    char *ssl_truststore_type, *ssl_truststore_location, *ssl_truststore_password;
    char *ssl_truststore_certificates;
    char *ssl_keystore_type, *ssl_keystore_location, *ssl_keystore_password;
    char *ssl_keystore_certificate_chain, *ssl_keystore_key, *ssl_key_password;
    char *sasl_mechanism, *sasl_jaas_config; /* SASL_PLAINTEXT / SASL_SSL */
    /* OAUTHBEARER token refresh (net/oauth.c), Java's sasl.login.*: the
     * window factor and jitter as written (doubles, checked there) */
    char *sasl_login_refresh_window_factor, *sasl_login_refresh_window_jitter;
    int32_t sasl_login_refresh_min_period_seconds, sasl_login_refresh_buffer_seconds;
    int64_t sasl_login_retry_backoff_ms, sasl_login_retry_backoff_max_ms;
    /* OIDC client credentials (KIP-768, net/oauth.c); timeouts 0 when unset */
    char *sasl_oauthbearer_token_endpoint_url, *sasl_login_callback_handler_class;
    int32_t sasl_login_connect_timeout_ms, sasl_login_read_timeout_ms;
    kp_oauthbearer_token_fn *oauth_token_fn; /* kp_config_set_oauthbearer_token_cb */
    /* metrics (engine/metrics.c) */
    int64_t metrics_sample_window_ms;
    int32_t metrics_num_samples;
    int metrics_recording_level; /* 0 INFO, 1 DEBUG, 2 TRACE */
    int32_t statistics_interval_ms;
    kp_stats_fn *stats_cb; /* kp_config_set_stats_cb */
    void *stats_opaque;
    void *oauth_token_opaque;
    int key_serializer;   /* enum kp_serializer */
    int value_serializer; /* enum kp_serializer */
    int enable_idempotence;
    char *transactional_id; /* NULL or "": not transactional */
    int32_t transaction_timeout_ms;
    int compression_type; /* enum kp_codec */
    int32_t gzip_level, lz4_level, zstd_level;
    int partitioner_ignore_keys;
    int partitioner_adaptive;
    int64_t partitioner_availability_timeout_ms;
    /* Which properties the application set explicitly (Java's rules for
     * delivery.timeout.ms and idempotence depend on it). */
    unsigned explicit_delivery_timeout : 1;
    unsigned explicit_idempotence : 1;
    unsigned explicit_acks : 1;
    unsigned explicit_retries : 1;
    unsigned explicit_max_in_flight : 1;
    kp_log_fn *log_cb;
    void *log_opaque;
    char *partitioner_class;
    int partitioner_kind; /* enum kp_partitioner_kind */
    kp_partitioner_fn *partitioner_fn;
    void *partitioner_opaque;
    kp_serializer_fn *key_ser_fn, *value_ser_fn;
    void *key_ser_opaque, *value_ser_opaque;
    kp_interceptor_t *interceptors;
    int ninterceptors;
    kp_batch_callback_fn *batch_cb; /* kp_config_set_batch_callback */
    void *batch_cb_opaque;
    kp_buffer_watermark_fn *watermark_cb; /* kp_config_set_buffer_watermark_cb */
    void *watermark_opaque;
} kp_conf_t;

struct kp_config {
    char **vals; /* one per table entry; NULL = default */
    kp_conf_t c;
};

/* Deep-copy a configuration's parsed values (strings duplicated). */
int kp_conf_copy(kp_conf_t *dst, const kp_conf_t *src);
void kp_conf_free(kp_conf_t *c);
/* Cross-property validation done at producer creation (Java's
 * postProcessParsedConfig): returns KP_OK or writes errstr. May adjust
 * derived values (e.g. an implicit delivery.timeout.ms). */
kp_err_t kp_conf_finalize(kp_conf_t *c, char *errstr, size_t errstr_size);

/* Load java.util.Properties text from buf[0..len) — any bytes, NUL
 * included; nothing is read outside it. origin names the text in error
 * messages ("origin:line: ..."; NULL: "(properties)"). Every entry goes
 * through kp_config_set(); the first failing one stops the load (entries
 * before it stay set). KP_ERR_INVALID_CONFIG for a bad entry, a malformed
 * \uXXXX escape or a NUL byte; KP_ERR_NOMEM. kp_config_load_file reads
 * the file and calls this; fuzz targets call it directly. */
kp_err_t kp_config_load_buf(kp_config_t *conf, const char *buf, size_t len, const char *origin,
                            char *errstr, size_t errstr_size);

/* The table, for the documentation generator and tests. */
typedef struct kp_prop_info {
    const char *name;
    const char *type;    /* "int", "long", "boolean", "string", "list", "enum", "class" */
    const char *deflt;   /* default as text; "" for empty, NULL for null */
    char valid[320];     /* human-readable allowed values */
    const char *doc;
    const char *missing; /* non-NULL: feature not built; only the default is accepted */
    const char *unused;  /* non-NULL: any valid value accepted, none used yet; why */
    const char *field;   /* kp_conf_t field holding the value; NULL if none */
    const char *via;     /* field derived from it that the library reads instead; or NULL */
} kp_prop_info_t;
size_t kp_config_prop_count(void);
/* Fill *out with row i; returns -1 past the end. */
int kp_config_prop(size_t i, kp_prop_info_t *out);

#endif

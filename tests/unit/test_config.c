/*
 * test_config — the property table (Java ProducerConfig names and
 * defaults), value validation, unimplemented features, .properties files
 * (java.util.Properties.load rules) and the cross-property checks done by
 * kp_producer_new.
 */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"

#define ERRSZ 512

static int contains(const char *s, const char *sub) { return s && sub && strstr(s, sub); }

__attribute__((noinline)) static void check_contains_(const char *file, int line, const char *s,
                                                      const char *sub)
{
    if (!contains(s, sub))
        test_fail_(file, line, "\"%s\" does not mention \"%s\"", s ? s : "(NULL)", sub);
}

#define CHECK_CONTAINS(s, sub) check_contains_(__FILE__, __LINE__, (s), (sub))

/* Write len bytes of content to a new temporary file; returns its path
 * (free it). */
static char *write_temp_n(const char *content, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    int fd;

    if (!path)
        return NULL;
    snprintf(path, 4096, "%s/kprod_test_config_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    if (write(fd, content, len) != (ssize_t)len) {
        close(fd);
        unlink(path);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

static char *write_temp(const char *content) { return write_temp_n(content, strlen(content)); }

/* ---- defaults ------------------------------------------------------------------ */

static void test_defaults(void)
{
    static const char *const defaults[][2] = {
        {"acks", "all"},
        {"linger.ms", "5"},
        {"batch.size", "16384"},
        {"buffer.memory", "33554432"},
        {"max.block.ms", "60000"},
        {"delivery.timeout.ms", "120000"},
        {"retries", "2147483647"},
        {"retry.backoff.ms", "100"},
        {"retry.backoff.max.ms", "1000"},
        {"max.in.flight.requests.per.connection", "5"},
        {"request.timeout.ms", "30000"},
        {"max.request.size", "1048576"},
        {"metadata.max.age.ms", "300000"},
        {"compression.type", "none"},
        {"security.protocol", "PLAINTEXT"},
        {"bootstrap.servers", ""},
        {"client.dns.lookup", "use_all_dns_ips"},
    };
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!CHECK_EQ_STR(kp_config_get(conf, defaults[i][0]), defaults[i][1]))
            fprintf(stderr, "    property %s\n", defaults[i][0]);
    CHECK_NULL(kp_config_get(conf, "no.such.property"));
    CHECK_NULL(kp_config_get(conf, NULL));
    CHECK_NULL(kp_config_get(NULL, "acks"));
    kp_config_destroy(conf);
    kp_config_destroy(NULL); /* allowed */
}

static void test_set_and_get(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ];

    REQUIRE_NOT_NULL(conf);
    CHECK_OK(kp_config_set(conf, "linger.ms", "10", err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "10");
    CHECK_OK(kp_config_set(conf, "acks", "1", err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "acks"), "1");
    CHECK_OK(kp_config_set(conf, "acks", "0", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "acks", "-1", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "acks", "all", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "client.id", "my-app", err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "my-app");
    CHECK_OK(kp_config_set(conf, "bootstrap.servers", "a:1,b:2", err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "bootstrap.servers"), "a:1,b:2");
    /* Java parses booleans case-insensitively */
    CHECK_OK(kp_config_set(conf, "partitioner.ignore.keys", "TRUE", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "partitioner.ignore.keys", "false", err, sizeof(err)));
    /* range edges */
    CHECK_OK(kp_config_set(conf, "linger.ms", "0", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "retries", "0", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "batch.size", "2147483647", err, sizeof(err)));
    CHECK_OK(kp_config_set(conf, "max.in.flight.requests.per.connection", "1", err, sizeof(err)));
    /* a NULL errstr is allowed */
    CHECK_OK(kp_config_set(conf, "linger.ms", "1", NULL, 0));
    CHECK_EQ_ERR(kp_config_set(conf, "linger.ms", "x", NULL, 0), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_config_set(NULL, "linger.ms", "1", err, sizeof(err)), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_config_set(conf, NULL, "1", err, sizeof(err)), KP_ERR_INVALID_ARG);
    kp_config_destroy(conf);
}

/* ---- rejected names and values --------------------------------------------------- */

static void test_unknown_property(void)
{
    static const char *const names[] = {"no.such.property", "LINGER.MS", "linger.ms ", "",
                                        "lingerms"};
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char err[ERRSZ] = "";
        CHECK_EQ_ERR(kp_config_set(conf, names[i], "1", err, sizeof(err)),
                     KP_ERR_INVALID_CONFIG);
        if (*names[i])
            CHECK_CONTAINS(err, names[i]);
        else
            CHECK_GT_INT(strlen(err), 0);
    }
    kp_config_destroy(conf);
}

typedef struct {
    const char *name, *value;
    const char *mention[5]; /* must all appear in errstr */
} bad_value_t;

static void test_invalid_values(void)
{
    static const bad_value_t bad[] = {
        {"acks", "2", {"acks", "'2'", "all", "-1"}},
        {"acks", "", {"acks", "all"}},
        {"linger.ms", "-1", {"linger.ms", "-1"}},
        {"linger.ms", "5ms", {"linger.ms", "5ms"}},
        {"batch.size", "abc", {"batch.size", "abc"}},
        {"batch.size", "2147483648", {"batch.size", "2147483648"}},
        {"batch.size", "", {"batch.size"}},
        {"retries", "-1", {"retries", "-1"}},
        {"max.in.flight.requests.per.connection", "0", {"max.in.flight.requests.per.connection"}},
        {"buffer.memory", "99999999999999999999", {"buffer.memory"}},
        {"enable.idempotence", "maybe", {"enable.idempotence", "maybe", "true", "false"}},
        {"enable.idempotence", "1", {"enable.idempotence", "true", "false"}},
        {"enable.metrics.push", "yes", {"enable.metrics.push", "true", "false"}},
        {"partitioner.adaptive.partitioning.enable", "on",
         {"partitioner.adaptive.partitioning.enable", "true", "false"}},
        {"compression.type", "brotli", {"compression.type", "brotli", "gzip", "zstd"}},
        {"security.protocol", "TLS", {"security.protocol", "PLAINTEXT", "SASL_SSL"}},
        /* Java's 'default' (first address only) is gone since Kafka 3.0 */
        {"client.dns.lookup", "default",
         {"client.dns.lookup", "'default'", "removed", "use_all_dns_ips",
          "resolve_canonical_bootstrap_servers_only"}},
        {"client.dns.lookup", "use_all_ips",
         {"client.dns.lookup", "use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"}},
    };
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[ERRSZ] = "";
        const char *before = kp_config_get(conf, bad[i].name);
        char *saved = before ? strdup(before) : NULL;

        if (!CHECK_EQ_ERR(kp_config_set(conf, bad[i].name, bad[i].value, err, sizeof(err)),
                          KP_ERR_INVALID_CONFIG))
            fprintf(stderr, "    %s=%s\n", bad[i].name, bad[i].value);
        for (int k = 0; k < 5 && bad[i].mention[k]; k++)
            CHECK_CONTAINS(err, bad[i].mention[k]);
        /* a rejected value leaves the property unchanged */
        CHECK_EQ_STR(kp_config_get(conf, bad[i].name), saved);
        free(saved);
    }
    kp_config_destroy(conf);
}

/* client.dns.lookup: both of Kafka 3.x's values, in any case (Java upper-
 * cases them), reach the parsed configuration the connections read. */
static void test_client_dns_lookup(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_INT(conf->c.client_dns_lookup, KP_DNS_USE_ALL_DNS_IPS);
    CHECK_OK(kp_config_set(conf, "client.dns.lookup", "resolve_canonical_bootstrap_servers_only",
                           err, sizeof(err)));
    CHECK_EQ_INT(conf->c.client_dns_lookup, KP_DNS_CANONICAL_BOOTSTRAP);
    CHECK_OK(kp_config_set(conf, "client.dns.lookup", "USE_ALL_DNS_IPS", err, sizeof(err)));
    CHECK_EQ_INT(conf->c.client_dns_lookup, KP_DNS_USE_ALL_DNS_IPS);
    CHECK_OK(kp_config_set(conf, "client.dns.lookup", "Resolve_Canonical_Bootstrap_Servers_Only",
                           err, sizeof(err)));
    CHECK_EQ_INT(conf->c.client_dns_lookup, KP_DNS_CANONICAL_BOOTSTRAP);
    /* a rejected value leaves the last good one */
    CHECK_EQ_ERR(kp_config_set(conf, "client.dns.lookup", "default", err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK_EQ_INT(conf->c.client_dns_lookup, KP_DNS_CANONICAL_BOOTSTRAP);
    kp_config_destroy(conf);
}

/* security.protocol: PLAINTEXT and SSL reach the parsed configuration
 * (any case, as Java); the ssl.* strings have Java's defaults. */
static void test_security_protocol(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_INT(conf->c.security_protocol, KP_SEC_PLAINTEXT);
    CHECK_OK(kp_config_set(conf, "security.protocol", "ssl", err, sizeof(err)));
    CHECK_EQ_INT(conf->c.security_protocol, KP_SEC_SSL);
    CHECK_EQ_STR(conf->c.ssl_protocol, "TLSv1.3");
    CHECK_EQ_STR(conf->c.ssl_enabled_protocols, "TLSv1.2,TLSv1.3");
    CHECK_EQ_STR(conf->c.ssl_endpoint_identification_algorithm, "https");
    CHECK_EQ_STR(conf->c.ssl_truststore_type, "JKS");
    CHECK_EQ_STR(conf->c.ssl_truststore_location, "");
    /* SASL over TLS; a secret's value is hidden from kp_config_get */
    CHECK_OK(kp_config_set(conf, "security.protocol", "SASL_SSL", err, sizeof(err)));
    CHECK_EQ_INT(conf->c.security_protocol, KP_SEC_SASL_SSL);
    CHECK_OK(kp_config_set(conf, "sasl.mechanism", "SCRAM-SHA-512", err, sizeof(err)));
    CHECK_EQ_STR(conf->c.sasl_mechanism, "SCRAM-SHA-512");
    CHECK_OK(kp_config_set(conf, "sasl.jaas.config",
                           "org.apache.kafka.common.security.scram.ScramLoginModule required "
                           "username=\"u\" password=\"pw-123\";",
                           err, sizeof(err)));
    const char *got = kp_config_get(conf, "sasl.jaas.config");
    CHECK(got && strstr(got, "pw-123") == NULL);
    kp_config_destroy(conf);
}

/* ---- unimplemented features ---------------------------------------------------------- */

static void test_unimplemented_features(void)
{
    static const char *const cases[][3] = {
        /* TLS is OpenSSL's: Java's providers and engines are not there */
        {"ssl.provider", "SunJSSE", "Java security providers"},
        {"ssl.keymanager.algorithm", "PKIX", "OpenSSL"},
        {"ssl.engine.factory.class", "com.example.F", "Java security providers"},
        {"transaction.two.phase.commit.enable", "true", "two-phase commit"},
        {"partitioner.class", "com.example.P", "partitioner"},
        {"interceptor.classes", "com.example.I", "interceptor"},
        /* numeric SASL settings: the feature, not a bogus range, is named */
        {"sasl.oauthbearer.clock.skew.seconds", "31", "SASL"},
        {"sasl.kerberos.min.time.before.relogin", "1", "SASL"},
    };
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[ERRSZ] = "";

        if (!CHECK_EQ_ERR(kp_config_set(conf, cases[i][0], cases[i][1], err, sizeof(err)),
                          KP_ERR_INVALID_CONFIG))
            fprintf(stderr, "    %s=%s\n", cases[i][0], cases[i][1]);
        CHECK_CONTAINS(err, cases[i][0]);
        CHECK_CONTAINS(err, cases[i][2]);
    }
    kp_config_destroy(conf);
}

/* Existing Java property files load: every unimplemented property is
 * accepted at the Java default value. The values are Java's defaults
 * (ProducerConfig, SslConfigs, SaslConfigs), written out here. */
static void test_unimplemented_at_default_accepted(void)
{
    static const char *const java_defaults[][2] = {
        {"security.protocol", "PLAINTEXT"},
        {"security.protocol", "plaintext"},
        {"compression.type", "none"},
        {"transaction.two.phase.commit.enable", "false"},
        {"metric.reporters", ""},
        {"interceptor.classes", ""},
        {"ssl.protocol", "TLSv1.3"},
        {"ssl.enabled.protocols", "TLSv1.2,TLSv1.3"},
        {"ssl.keystore.type", "JKS"},
        {"ssl.truststore.type", "JKS"},
        {"ssl.endpoint.identification.algorithm", "https"},
        {"ssl.keymanager.algorithm", "SunX509"},
        {"ssl.trustmanager.algorithm", "PKIX"},
        {"sasl.mechanism", "GSSAPI"},
        {"sasl.kerberos.kinit.cmd", "/usr/bin/kinit"},
        {"sasl.kerberos.ticket.renew.window.factor", "0.8"},
        {"sasl.kerberos.ticket.renew.jitter", "0.05"},
        {"sasl.kerberos.min.time.before.relogin", "60000"},
        {"sasl.login.refresh.window.factor", "0.8"},
        {"sasl.login.refresh.window.jitter", "0.05"},
        {"sasl.login.refresh.min.period.seconds", "60"},
        {"sasl.login.refresh.buffer.seconds", "300"},
        {"sasl.login.retry.backoff.ms", "100"},
        {"sasl.login.retry.backoff.max.ms", "10000"},
        {"sasl.oauthbearer.scope.claim.name", "scope"},
        {"sasl.oauthbearer.sub.claim.name", "sub"},
        {"sasl.oauthbearer.jwks.endpoint.refresh.ms", "3600000"},
        {"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "100"},
        {"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "10000"},
        {"sasl.oauthbearer.clock.skew.seconds", "30"},
        {"sasl.oauthbearer.header.urlencode", "false"},
    };
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(java_defaults) / sizeof(java_defaults[0]); i++) {
        char err[ERRSZ] = "";
        kp_err_t e = kp_config_set(conf, java_defaults[i][0], java_defaults[i][1], err,
                                   sizeof(err));
        if (!CHECK_OK(e))
            fprintf(stderr, "    %s=%s: %s\n", java_defaults[i][0], java_defaults[i][1], err);
    }
    kp_config_destroy(conf);
}

/* The same, driven by the table: each row marked as not built accepts its
 * own documented default. */
static void test_table_missing_rows_accept_default(void)
{
    kp_config_t *conf = kp_config_new();
    size_t n = kp_config_prop_count(), missing = 0;

    REQUIRE_NOT_NULL(conf);
    CHECK_GT_INT(n, 50);
    for (size_t i = 0; i < n; i++) {
        kp_prop_info_t info;
        char err[ERRSZ] = "";

        REQUIRE_EQ_INT(kp_config_prop(i, &info), 0);
        CHECK_NOT_NULL(kp_config_get(conf, info.name));
        if (!info.missing)
            continue;
        /* a null int/long default has no text form (Java rejects "" too) */
        if (!info.deflt && (!strcmp(info.type, "int") || !strcmp(info.type, "long")))
            continue;
        missing++;
        if (!CHECK_OK(kp_config_set(conf, info.name, info.deflt ? info.deflt : "", err,
                                    sizeof(err))))
            fprintf(stderr, "    %s=%s (%s): %s\n", info.name, info.deflt ? info.deflt : "",
                    info.type, err);
    }
    CHECK_GT_INT(missing, 0);
    CHECK_EQ_INT(kp_config_prop(n, NULL), -1);
    kp_config_destroy(conf);
}

/* ---- .properties files ---------------------------------------------------------------- */

static void test_properties_file(void)
{
    static const char content[] =
        "# a comment\n"
        "! another comment\n"
        "   # an indented comment\n"
        "\n"
        "   \t\n"
        "linger.ms=7\n"
        "batch.size: 1000\n"
        "buffer.memory 2048\n"
        "  max.block.ms   =   123\n"
        "max.request.size\t:\t4096\n"
        "client.id = a\\=b\\\\c\\u0041\\tZ\\:\n"
        "bootstrap.servers = host1:9092,\\\n"
        "                    host2:9092\n"
        "retries=\\\n"
        "  5\n"
        "request.timeout.ms=4000\r\n"
        "acks =   1\n"
        "metadata.max.age.ms=1\\\n"
        "2\\\n"
        "3\n"
        "key.serializer=string";           /* no final newline */
    char *path = write_temp(content);
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(conf);
    if (!CHECK_OK(kp_config_load_file(conf, path, err, sizeof(err))))
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "7");
    CHECK_EQ_STR(kp_config_get(conf, "batch.size"), "1000");
    CHECK_EQ_STR(kp_config_get(conf, "buffer.memory"), "2048");
    CHECK_EQ_STR(kp_config_get(conf, "max.block.ms"), "123");
    CHECK_EQ_STR(kp_config_get(conf, "max.request.size"), "4096");
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "a=b\\cA\tZ:");
    CHECK_EQ_STR(kp_config_get(conf, "bootstrap.servers"), "host1:9092,host2:9092");
    CHECK_EQ_STR(kp_config_get(conf, "retries"), "5");
    CHECK_EQ_STR(kp_config_get(conf, "request.timeout.ms"), "4000");
    CHECK_EQ_STR(kp_config_get(conf, "acks"), "1");
    CHECK_EQ_STR(kp_config_get(conf, "metadata.max.age.ms"), "123");
    CHECK_EQ_STR(kp_config_get(conf, "key.serializer"), "string");
    kp_config_destroy(conf);
    unlink(path);
    free(path);
}

/* An even number of trailing backslashes is an escaped backslash, not a
 * continuation. */
static void test_properties_even_backslashes(void)
{
    char *path = write_temp("client.id=x\\\\\nlinger.ms=8\n");
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(conf);
    CHECK_OK(kp_config_load_file(conf, path, err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "x\\");
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "8");
    kp_config_destroy(conf);
    unlink(path);
    free(path);
}

/* java.util.Properties: "a comment line cannot be extended in this manner;
 * every natural line that is a comment must have its own comment
 * indicator". A backslash ending a comment does not swallow the next line. */
static void test_properties_comment_not_continued(void)
{
    char *path = write_temp("# see C:\\\nlinger.ms=9\n! also\\\nbatch.size=99\n");
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(conf);
    CHECK_OK(kp_config_load_file(conf, path, err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "9");
    CHECK_EQ_STR(kp_config_get(conf, "batch.size"), "99");
    kp_config_destroy(conf);
    unlink(path);
    free(path);
}

/* A file of len bytes fails to load with KP_ERR_INVALID_CONFIG, and the
 * message says "<path>:<line>:" and mentions `mention`. */
static void check_bad_bytes(const char *content, size_t len, int line, const char *mention)
{
    char *path = write_temp_n(content, len);
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "", where[4200];

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_ERR(kp_config_load_file(conf, path, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    snprintf(where, sizeof(where), "%s:%d:", path, line);
    CHECK_CONTAINS(err, where);
    CHECK_CONTAINS(err, mention);
    kp_config_destroy(conf);
    unlink(path);
    free(path);
}

static void check_bad_file(const char *content, int line, const char *mention)
{
    check_bad_bytes(content, strlen(content), line, mention);
}

static void test_properties_bad_line(void)
{
    check_bad_file("# c\nlinger.ms=1\n\nbatch.size=abc\nretries=1\n", 4, "batch.size");
    check_bad_file("linger.ms=1\nno.such.thing=1\n", 2, "no.such.thing");
    check_bad_file("transaction.two.phase.commit.enable=true\n", 1, "two-phase commit");
    check_bad_file("! x\r\n# y\r\n\r\nacks=2\r\n", 4, "acks");
}

/* The line reported is the file's line number, also after a continued
 * line earlier in the file (here the bad entry is on physical line 4). */
static void test_properties_bad_line_after_continuation(void)
{
    check_bad_file("bootstrap.servers=a:1,\\\n  b:2\n\nlinger.ms=oops\n", 4, "linger.ms");
}

static void test_properties_missing_file(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";
    const char *path = "/nonexistent-dir-kprod/none.properties";

    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_ERR(kp_config_load_file(conf, path, err, sizeof(err)), KP_ERR_IO);
    CHECK_CONTAINS(err, path);
    CHECK_EQ_ERR(kp_config_load_file(conf, NULL, err, sizeof(err)), KP_ERR_INVALID_ARG);
    kp_config_destroy(conf);
}

/* What is not a readable file is KP_ERR_IO naming the path and why, never
 * an empty success (issue 10, defect 10: a directory loaded as empty). */
static void check_io_error(const char *path, const char *why)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_ERR(kp_config_load_file(conf, path, err, sizeof(err)), KP_ERR_IO);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, why);
    kp_config_destroy(conf);
}

static void test_properties_not_a_file(void)
{
    const char *dir = getenv("TMPDIR");

    check_io_error(dir && *dir ? dir : "/tmp", "directory");
    check_io_error("/", "directory");
    check_io_error("/nonexistent-dir-kprod/none.properties", "No such file");
    check_io_error("/dev/null/x.properties", "Not a directory");
}

/* A file that exists but cannot be read. chmod 000 does not stop root (the
 * suite runs as root in CI), so that case runs only for other users; the
 * read failure itself is covered for everyone by /proc/self/mem, a regular
 * file that opens and then fails to read at offset 0 (EIO). */
static void test_properties_unreadable(void)
{
    char *path = write_temp("linger.ms=1\n");

    REQUIRE_NOT_NULL(path);
    if (geteuid() != 0) {
        CHECK_EQ_INT(chmod(path, 0), 0);
        check_io_error(path, "Permission denied");
    } else {
        printf("     (chmod 000 case skipped: root reads any file; /proc/self/mem covers it)\n");
    }
    unlink(path);
    free(path);
    if (access("/proc/self/mem", F_OK) == 0)
        check_io_error("/proc/self/mem", "Input/output error");
}

/* Java's "Malformed \uxxxx encoding." with the line, not a value cut at a
 * NUL (defect 10): too few hex digits, a non-hex digit, \u at the end. */
static void test_properties_bad_unicode_escape(void)
{
    check_bad_file("linger.ms=1\nclient.id=a\\uZZZZb\n", 2, "Malformed \\uxxxx encoding.");
    check_bad_file("client.id=\\u00g1\n", 1, "Malformed \\uxxxx encoding.");
    check_bad_file("linger.ms=1\n\nclient.id=ab\\u\n", 3, "Malformed \\uxxxx encoding.");
    check_bad_file("client.id=ab\\u12", 1, "Malformed \\uxxxx encoding.");
    check_bad_file("# c\nclient.id=ab\\u", 2, "Malformed \\uxxxx encoding.");
    check_bad_file("client\\u004=x\n", 1, "Malformed \\uxxxx encoding.");
    /* \u0000 and lone surrogates cannot be C strings / UTF-8: errors too */
    check_bad_file("client.id=a\\u0000b\n", 1, "\\u0000");
    check_bad_file("client.id=a\\uD83Db\n", 1, "surrogate");
    check_bad_file("client.id=a\\uDE00\n", 1, "surrogate");
    check_bad_file("client.id=a\\uD83D\\u0041\n", 1, "surrogate");
    /* the line of the entry, after a continued line */
    check_bad_file("bootstrap.servers=a:1,\\\n b:2\r\nclient.id=\\u00", 3, "Malformed");
}

/* \uXXXX becomes UTF-8 (values are C strings); a surrogate pair one code
 * point; other bytes are taken as they are. */
static void test_properties_unicode_to_utf8(void)
{
    char *path = write_temp("client.id=caf\\u00e9 \\u20AC\\uD83D\\uDE00 \xc3\xa9\\u0041\n"
                            "bootstrap.servers=h\\u00E9:1\n");
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(conf);
    if (!CHECK_OK(kp_config_load_file(conf, path, err, sizeof(err))))
        fprintf(stderr, "    %s\n", err);
    CHECK_EQ_STR(kp_config_get(conf, "client.id"),
                 "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9"
                 "A");
    CHECK_EQ_STR(kp_config_get(conf, "bootstrap.servers"), "h\xc3\xa9:1");
    kp_config_destroy(conf);
    unlink(path);
    free(path);
}

/* A NUL byte cannot be part of a C string: the load fails naming its line
 * (it used to cut the line there and load the rest). */
static void test_properties_nul_byte(void)
{
    static const char in_value[] = "linger.ms=1\nclient.id=ab\0cd\nbatch.size=2\n";
    static const char in_comment[] = "# x\n\n# a\0b\nlinger.ms=1\n";
    static const char in_key[] = "linger.ms=1\r\nlinger\0.ms=2\n";
    static const char utf16[] = "l\0i\0n\0g\0e\0r\0";

    check_bad_bytes(in_value, sizeof(in_value) - 1, 2, "NUL byte");
    check_bad_bytes(in_comment, sizeof(in_comment) - 1, 3, "NUL byte");
    check_bad_bytes(in_key, sizeof(in_key) - 1, 2, "NUL byte");
    check_bad_bytes(utf16, sizeof(utf16) - 1, 1, "NUL byte");
}

/* A backslash continuing the last line of the file is dropped (Java's
 * LineReader), with or without a final newline; an error in that entry
 * names the line where it starts. */
static void test_properties_continuation_at_end(void)
{
    char *path = write_temp("batch.size=77\nclient.id=ab\\\n");
    char *path2 = write_temp("linger.ms=1\\\n2\\");
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(path);
    REQUIRE_NOT_NULL(path2);
    REQUIRE_NOT_NULL(conf);
    CHECK_OK(kp_config_load_file(conf, path, err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "ab");
    CHECK_EQ_STR(kp_config_get(conf, "batch.size"), "77");
    CHECK_OK(kp_config_load_file(conf, path2, err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "12");
    check_bad_file("linger.ms=1\nbatch.size=x\\\n", 2, "batch.size");
    check_bad_file("linger.ms=1\nbatch.size=x\\\n\\", 2, "batch.size");
    kp_config_destroy(conf);
    unlink(path);
    unlink(path2);
    free(path);
    free(path2);
}

/* Load text through kp_config_load_buf; returns the error, err filled. */
static kp_err_t load_text(kp_config_t *conf, const char *text, char *err)
{
    return kp_config_load_buf(conf, text, strlen(text), "t", err, ERRSZ);
}

/* The rest of java.util.Properties.load's grammar, through the string entry
 * point: a lone \r ends a line, as \n and \r\n do; a blank line after a
 * continuation ends the entry; escaped separators belong to the key; one '='
 * or ':' after whitespace is the separator and a second is the value's;
 * \x is x; a comment never continues. */
static void test_properties_java_grammar(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(conf);
    CHECK_OK(load_text(conf, "linger.ms=3\rbatch.size=4\r\r\nretries=5", err));
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "3");
    CHECK_EQ_STR(kp_config_get(conf, "batch.size"), "4");
    CHECK_EQ_STR(kp_config_get(conf, "retries"), "5");
    CHECK_OK(load_text(conf, "client.id=a\\\r\n\r\nlinger.ms=6\n", err));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "a");
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "6");
    CHECK_OK(load_text(conf, "client\\.id = = x\\y\\ \n", err));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "= xy ");
    CHECK_OK(load_text(conf, "client.id:=v\\\r  \\  w\f\n", err));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "=v  w\f");
    CHECK_OK(load_text(conf, "client.id\n", err));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "");
    CHECK_OK(load_text(conf, "  ! c \\\n\tclient.id\t x\\t\\n\\r\\f\n#", err));
    CHECK_EQ_STR(kp_config_get(conf, "client.id"), "x\t\n\r\f");
    CHECK_EQ_ERR(load_text(conf, "a\\=b=1\n", err), KP_ERR_INVALID_CONFIG);
    CHECK_CONTAINS(err, "t:1: Unknown property 'a=b'");
    /* only len bytes are read: the rest of the string is not there */
    CHECK_OK(kp_config_load_buf(conf, "linger.ms=81\\u0041", 12, NULL, err, ERRSZ));
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "81");
    CHECK_OK(kp_config_load_buf(conf, NULL, 0, "t", err, ERRSZ));
    CHECK_EQ_ERR(kp_config_load_buf(conf, "client.id=\\u00", 14, NULL, err, ERRSZ),
                 KP_ERR_INVALID_CONFIG);
    CHECK_CONTAINS(err, "(properties):1: Malformed \\uxxxx encoding.");
    CHECK_EQ_ERR(kp_config_load_buf(NULL, "", 0, "t", err, ERRSZ), KP_ERR_INVALID_ARG);
    kp_config_destroy(conf);
}

/* Error texts end up in logs: the value of a property holding a secret is
 * not quoted, also when it comes from a .properties file; and
 * kp_config_get shows a secret that is set as [hidden], as Java's
 * configuration log does, while the library gets the value. */
static void test_secret_values_not_in_errors(void)
{
    static const char *const secret[] = {"ssl.keystore.password", "ssl.key.password",
                                         "ssl.truststore.password", "ssl.keystore.key"};
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";

    REQUIRE_NOT_NULL(conf);
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        CHECK_EQ_STR(kp_config_get(conf, secret[i]), ""); /* unset: its (empty) default */
        CHECK_OK(kp_config_set(conf, secret[i], "hunter2", err, sizeof(err)));
        CHECK_EQ_STR(kp_config_get(conf, secret[i]), "[hidden]");
    }
    CHECK_EQ_STR(conf->c.ssl_key_password, "hunter2");
    CHECK_EQ_STR(conf->c.ssl_keystore_key, "hunter2");
    /* not a secret: shown */
    CHECK_OK(kp_config_set(conf, "ssl.truststore.location", "/etc/ca.pem", err, sizeof(err)));
    CHECK_EQ_STR(kp_config_get(conf, "ssl.truststore.location"), "/etc/ca.pem");
    /* refused values of secrets are not quoted */
    CHECK_EQ_ERR(kp_config_set(conf, "sasl.jaas.config", "hunter2", err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK_CONTAINS(err, "sasl.jaas.config");
    CHECK(!contains(err, "hunter2"));
    CHECK_EQ_ERR(load_text(conf, "linger.ms=1\nsasl.jaas.config = hunter2\n", err),
                 KP_ERR_INVALID_CONFIG);
    CHECK_CONTAINS(err, "t:2: ");
    CHECK(!contains(err, "hunter2"));
    /* other values are still quoted: they help find the mistake */
    CHECK_EQ_ERR(kp_config_set(conf, "linger.ms", "soon", err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK_CONTAINS(err, "'soon'");
    kp_config_destroy(conf);
}

/* ---- producer creation --------------------------------------------------------------- */

/* kp_producer_new with one extra property set; returns the producer or NULL
 * with err filled. */
static kp_producer_t *new_producer(const char *bootstrap, const char *const *kv, char *err,
                                   size_t errsz)
{
    kp_config_t *conf = kp_config_new();
    kp_producer_t *p;

    if (!conf)
        return NULL;
    if (bootstrap && kp_config_set(conf, "bootstrap.servers", bootstrap, err, errsz) != KP_OK) {
        FAIL("setting bootstrap.servers=%s: %s", bootstrap, err);
        kp_config_destroy(conf);
        return NULL;
    }
    for (; kv && kv[0]; kv += 2)
        if (kp_config_set(conf, kv[0], kv[1], err, errsz) != KP_OK) {
            FAIL("setting %s=%s: %s", kv[0], kv[1], err);
            kp_config_destroy(conf);
            return NULL;
        }
    p = kp_producer_new(conf, err, errsz);
    kp_config_destroy(conf); /* the producer keeps its own copy */
    return p;
}

/* Destroying a producer that never sent anything returns promptly even
 * though its bootstrap broker is unreachable. */
static void destroy_promptly(kp_producer_t *p)
{
    int64_t t0 = test_now_ms();

    kp_producer_destroy(p);
    CHECK_LT_INT(test_now_ms() - t0, 3000);
}

static void test_producer_missing_bootstrap(void)
{
    char err[ERRSZ] = "";

    CHECK_NULL(new_producer(NULL, NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "bootstrap.servers");
    err[0] = 0;
    CHECK_NULL(new_producer("   ", NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "bootstrap.servers");
    err[0] = 0;
    CHECK_NULL(new_producer(",,", NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "bootstrap.servers");
    CHECK_NULL(kp_producer_new(NULL, err, sizeof(err)));
}

static void test_producer_bad_host_port(void)
{
    static const char *const bad[] = {"localhost", "h:0",   "h:99999",   "h:",
                                      ":9092",     "h:12ab", "h:-1",     "good:1,bad",
                                      "[::1]",     "h:65536",
                                      /* an IPv6 address needs its brackets */
                                      "::1", "::1:9092", "fe80::1:9092", "127.0.0.1,::1",
                                      /* brackets in pairs, around something */
                                      "[::1:9092", "::1]:9092", "[::1]x:9092", "[]:9092",
                                      "[:9092", "h]:9092", "[[::1]]:9092",
                                      /* a port is digits */
                                      "h: 9092", "h:+9092", "h:9092 9", "h:0x10", "[::1]: 1"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[ERRSZ] = "";
        kp_producer_t *p = new_producer(bad[i], NULL, err, sizeof(err));

        if (!CHECK_NULL(p)) {
            fprintf(stderr, "    bootstrap.servers=%s accepted\n", bad[i]);
            destroy_promptly(p);
            continue;
        }
        /* refused as malformed, not as a name that does not resolve */
        if (!contains(err, "Invalid url in bootstrap.servers"))
            FAIL("bootstrap.servers=%s: %s", bad[i], err);
    }
    /* the offending entry is named */
    {
        char err[ERRSZ] = "";
        CHECK_NULL(new_producer("ok:9092,localhost", NULL, err, sizeof(err)));
        CHECK_CONTAINS(err, "localhost");
    }
}

static void test_producer_valid_bootstrap_forms(void)
{
    static const char *const good[] = {"127.0.0.1:1", "localhost:1, 127.0.0.1:1", "[::1]:1",
                                       "localhost:65535", " 127.0.0.1:1 ,", "[::1]:9092",
                                       "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:1",
                                       "127.0.0.1:1,[::1]:2"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char err[ERRSZ] = "";
        kp_producer_t *p = new_producer(good[i], NULL, err, sizeof(err));

        if (!CHECK_NOT_NULL(p)) {
            fprintf(stderr, "    bootstrap.servers=%s: %s\n", good[i], err);
            continue;
        }
        destroy_promptly(p);
    }
}

/* Java: delivery.timeout.ms set explicitly below linger.ms +
 * request.timeout.ms is a configuration error naming delivery.timeout.ms. */
static void test_producer_delivery_timeout_explicit(void)
{
    static const char *const low[] = {"delivery.timeout.ms", "1000", NULL};
    static const char *const low2[] = {"linger.ms", "100000", "delivery.timeout.ms", "120000",
                                       NULL};
    static const char *const equal[] = {"linger.ms", "5", "request.timeout.ms", "30000",
                                        "delivery.timeout.ms", "30005", NULL};
    char err[ERRSZ] = "";
    kp_producer_t *p;

    CHECK_NULL(new_producer("127.0.0.1:1", low, err, sizeof(err)));
    CHECK_CONTAINS(err, "delivery.timeout.ms");
    err[0] = 0;
    /* the default value, but set explicitly, counts as explicit */
    CHECK_NULL(new_producer("127.0.0.1:1", low2, err, sizeof(err)));
    CHECK_CONTAINS(err, "delivery.timeout.ms");

    p = new_producer("127.0.0.1:1", equal, err, sizeof(err));
    if (CHECK_NOT_NULL(p))
        destroy_promptly(p);
    else
        fprintf(stderr, "    %s\n", err);
}

/* An implicit delivery.timeout.ms is raised silently. */
static void test_producer_delivery_timeout_implicit(void)
{
    static const char *const kv[] = {"linger.ms", "100000", NULL};
    char err[ERRSZ] = "";
    kp_producer_t *p = new_producer("127.0.0.1:1", kv, err, sizeof(err));

    if (CHECK_NOT_NULL(p))
        destroy_promptly(p);
    else
        fprintf(stderr, "    %s\n", err);
}

/* The configuration is copied: the caller's is unchanged and can be freed
 * (new_producer frees it) or reused. */
static void test_producer_copies_config(void)
{
    kp_config_t *conf = kp_config_new();
    char err[ERRSZ] = "";
    kp_producer_t *p1, *p2;

    REQUIRE_NOT_NULL(conf);
    REQUIRE_OK(kp_config_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)));
    REQUIRE_OK(kp_config_set(conf, "linger.ms", "100000", err, sizeof(err)));
    p1 = kp_producer_new(conf, err, sizeof(err));
    CHECK_NOT_NULL(p1);
    CHECK_EQ_STR(kp_config_get(conf, "delivery.timeout.ms"), "120000");
    CHECK_EQ_STR(kp_config_get(conf, "linger.ms"), "100000");
    p2 = kp_producer_new(conf, err, sizeof(err));
    CHECK_NOT_NULL(p2);
    kp_config_destroy(conf);
    if (p1)
        CHECK_OK(kp_close(p1, 0));
    if (p1)
        destroy_promptly(p1);
    if (p2)
        destroy_promptly(p2);
}

/* compression.type and the Java level ranges (KIP-390). */
static void test_compression_settings(void)
{
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    kp_config_t *conf = kp_config_new();

    REQUIRE_NOT_NULL(conf);
    CHECK_EQ_STR(kp_config_get(conf, "compression.type"), "none");
    CHECK_EQ_STR(kp_config_get(conf, "compression.gzip.level"), "-1");
    CHECK_EQ_STR(kp_config_get(conf, "compression.lz4.level"), "9");
    CHECK_EQ_STR(kp_config_get(conf, "compression.zstd.level"), "3");
    for (size_t i = 0; i < 5; i++) {
        char err[ERRSZ] = "";
        kp_err_t e = kp_config_set(conf, "compression.type", codecs[i], err, sizeof(err));
#if defined(KPROD_WITH_GZIP) && defined(KPROD_WITH_SNAPPY) && defined(KPROD_WITH_LZ4) &&        \
    defined(KPROD_WITH_ZSTD)
        CHECK_OK(e);
#else
        if (e)
            CHECK_CONTAINS(err, "compiled without");
#endif
    }
    static const char *const bad[][2] = {
        {"compression.type", "brotli"},     {"compression.gzip.level", "0"},
        {"compression.gzip.level", "10"},   {"compression.gzip.level", "-2"},
        {"compression.lz4.level", "0"},     {"compression.lz4.level", "18"},
        {"compression.zstd.level", "23"},   {"compression.zstd.level", "-131073"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[ERRSZ] = "";
        CHECK_EQ_ERR(kp_config_set(conf, bad[i][0], bad[i][1], err, sizeof(err)),
                     KP_ERR_INVALID_CONFIG);
        CHECK_CONTAINS(err, bad[i][0]);
    }
    static const char *const good[][2] = {
        {"compression.gzip.level", "1"},  {"compression.gzip.level", "9"},
        {"compression.lz4.level", "17"},  {"compression.zstd.level", "-131072"},
        {"compression.zstd.level", "22"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK_OK(kp_config_set(conf, good[i][0], good[i][1], NULL, 0));
    kp_config_destroy(conf);
}

TEST_MAIN(TEST(test_compression_settings),
          TEST(test_defaults), TEST(test_set_and_get), TEST(test_unknown_property),
          TEST(test_invalid_values), TEST(test_unimplemented_features), TEST(test_security_protocol),
          TEST(test_unimplemented_at_default_accepted),
          TEST(test_table_missing_rows_accept_default), TEST(test_properties_file),
          TEST(test_properties_even_backslashes), TEST(test_properties_comment_not_continued),
          TEST(test_properties_bad_line), TEST(test_properties_bad_line_after_continuation),
          TEST(test_properties_missing_file), TEST(test_properties_not_a_file),
          TEST(test_properties_unreadable), TEST(test_properties_bad_unicode_escape),
          TEST(test_properties_unicode_to_utf8), TEST(test_properties_nul_byte),
          TEST(test_properties_continuation_at_end), TEST(test_properties_java_grammar),
          TEST(test_secret_values_not_in_errors),
          TEST(test_producer_missing_bootstrap),
          TEST(test_producer_bad_host_port), TEST(test_producer_valid_bootstrap_forms),
          TEST(test_client_dns_lookup),
          TEST(test_producer_delivery_timeout_explicit),
          TEST(test_producer_delivery_timeout_implicit), TEST(test_producer_copies_config))

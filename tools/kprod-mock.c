/*
 * kprod-mock — a development and test Kafka cluster in one process.
 *
 * It is librdkafka's mock cluster (rdkafka_mock.h), not a broker we wrote:
 * the peer kprod is tested against must be code we did not write.
 *
 *   kprod-mock --brokers N --topic NAME:PARTITIONS [--topic ...]
 *              [--rtt BROKER_ID:MS ...] [--verbose]
 *              [--tls CERT,KEY[,CA]] [--sasl MECHANISM ...] [--user NAME:PASSWORD ...]
 *              [--advertise BROKER_ID:HOST:PORT ...]
 *
 * Contract with scripts and tests
 *   - The first line of stdout is the bootstrap list
 *     ("127.0.0.1:PORT,127.0.0.1:PORT,..."; the secured listeners' with
 *     --tls or --sasl), flushed at once. Nothing else is ever written to
 *     stdout.
 *   - The cluster serves until SIGINT, SIGTERM or SIGHUP, then is destroyed
 *     and the process exits 0.
 *   - Bad arguments: a message on stderr and exit status 2. Failure to start
 *     the cluster: exit status 1.
 *
 * Brokers are numbered 1..N. Each --topic is created with replication factor
 * min(N, 3). Topics not created here are auto-created by the mock cluster
 * when a client first asks for them.
 *
 * Secured listeners (--tls, --sasl): the mock has neither TLS nor SASL, so a
 * gateway (mock_gateway.c) listens in front of each broker, terminates TLS
 * and authenticates, then passes Kafka bytes to the broker, which advertises
 * the gateway's address. The bootstrap list printed is then the gateway's
 * (the plain ports stay open on 127.0.0.1 but are not printed), and stderr
 * gets the client properties to use; the password appears there as [hidden].
 * Passwords given with --user are overwritten in argv once copied, so they
 * do not show in ps.
 *
 * --advertise makes a broker name another address in Metadata (rd_kafka_
 * mock_broker_set_host_port) for a proxy that the caller puts in front of
 * it, e.g. stunnel for TLS (bench/run.sh); the bootstrap list printed is
 * still the brokers' own listeners, which the proxy connects to.
 *
 * Signals are blocked before librdkafka starts its threads (which inherit the
 * mask) and the main thread collects them with sigwait(): no work is ever
 * done in a signal handler.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mock_gateway.h"

#define MAX_BROKERS 64
#define MAX_PARTITIONS 10000
#define MAX_RTT_MS 600000
#define MAX_TOPIC_NAME 249 /* Kafka's own limit */

#define EXIT_USAGE 2

struct topic_arg {
    char *name;
    int partitions;
};

struct rtt_arg {
    int broker_id; /* -1: every broker */
    int rtt_ms;
};

struct advertise_arg {
    int broker_id;
    char *host;
    int port;
};

struct options {
    int brokers;
    int verbose;
    int session_lifetime_ms; /* --sasl-session-lifetime-ms (KIP-368) */
    struct topic_arg *topics;
    size_t topic_count;
    struct rtt_arg *rtts;
    size_t rtt_count;
    struct advertise_arg *advertised; /* --advertise */
    size_t advertised_count;
    char *tls_cert, *tls_key, *tls_ca; /* --tls CERT,KEY[,CA] */
    unsigned mechanisms;                /* --sasl, MG_MECH_* bits */
    unsigned first_mechanism;           /* the one the printed properties use */
    struct mg_user *users;              /* --user; name and password owned */
    size_t user_count;
};

static const char *prog = "kprod-mock";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s --brokers N [--topic NAME:PARTITIONS ...] [--rtt BROKER_ID:MS ...]\n"
            "          [--tls CERT,KEY[,CA]] [--sasl MECHANISM ...] [--user NAME:PASSWORD ...]\n"
            "\n"
            "Start an in-process Kafka mock cluster (librdkafka's) for development and\n"
            "tests. The first line written to stdout is the bootstrap server list; the\n"
            "cluster then serves until SIGINT, SIGTERM or SIGHUP.\n"
            "\n"
            "Options:\n"
            "  -b, --brokers N              number of brokers, 1..%d (ids 1..N)\n"
            "  -t, --topic NAME:PARTITIONS  create a topic (repeatable), 1..%d partitions,\n"
            "                               replication factor min(N, 3)\n"
            "  -r, --rtt BROKER_ID:MS       add MS ms of round-trip delay to broker\n"
            "                               BROKER_ID (-1: all brokers) (repeatable)\n"
            "      --advertise BROKER_ID:HOST:PORT  broker BROKER_ID names HOST:PORT in\n"
            "                               Metadata (a proxy in front of it, such as\n"
            "                               stunnel); the bootstrap list printed is still\n"
            "                               the brokers' own (repeatable)\n"
            "  -v, --verbose                log the mock cluster's activity to stderr\n"
            "  -h, --help                   show this help and exit\n"
            "\n"
            "Secured listeners (a gateway in front of each broker; the bootstrap list\n"
            "printed is then the gateway's, and stderr shows the client properties):\n"
            "      --tls CERT,KEY[,CA]      TLS with this PEM certificate (chain) and key;\n"
            "                               with CA, clients must present a certificate\n"
            "                               issued by it (mutual TLS)\n"
            "      --sasl MECHANISM         require SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512\n"
            "                               or OAUTHBEARER (unsecured JWS tokens: alg none,\n"
            "                               sub and exp checked) (repeatable)\n"
            "      --user NAME:PASSWORD     a PLAIN/SCRAM user (repeatable)\n"
            "      --sasl-session-lifetime-ms MS  sessions last MS: clients re-authenticate\n"
            "                               within it (KIP-368) or their next request closes\n"
            "\n"
            "Examples:\n"
            "  %s --brokers 3 --topic orders:6 --topic audit:1\n"
            "  %s --brokers 3 --tls broker.pem,broker.key --sasl SCRAM-SHA-512 --user alice:secret\n",
            prog, MAX_BROKERS, MAX_PARTITIONS, prog, prog);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    exit(EXIT_USAGE);
}

/* Parse a whole string as a decimal int in [lo, hi]. Returns 0 on success. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;

    if (*s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Kafka topic names: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
static int valid_topic_name(const char *name, size_t len)
{
    if (len == 0 || len > MAX_TOPIC_NAME)
        return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(1);
    }
    return q;
}

static void add_topic(struct options *o, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    size_t len;
    int partitions;

    if (!colon)
        die_usage("--topic '%s': expected NAME:PARTITIONS", arg);
    len = (size_t)(colon - arg);
    if (!valid_topic_name(arg, len))
        die_usage("--topic '%s': topic names are 1..249 characters of [a-zA-Z0-9._-]", arg);
    if (parse_int(colon + 1, 1, MAX_PARTITIONS, &partitions) != 0)
        die_usage("--topic '%s': PARTITIONS must be an integer from 1 to %d", arg,
                  MAX_PARTITIONS);
    for (size_t i = 0; i < o->topic_count; i++) {
        if (strlen(o->topics[i].name) == len && memcmp(o->topics[i].name, arg, len) == 0)
            die_usage("--topic '%s': topic given more than once", arg);
    }

    o->topics = xrealloc(o->topics, (o->topic_count + 1) * sizeof *o->topics);
    o->topics[o->topic_count].name = xrealloc(NULL, len + 1);
    memcpy(o->topics[o->topic_count].name, arg, len);
    o->topics[o->topic_count].name[len] = '\0';
    o->topics[o->topic_count].partitions = partitions;
    o->topic_count++;
}

static void add_rtt(struct options *o, const char *arg)
{
    char idbuf[16];
    const char *colon = strchr(arg, ':');
    size_t len;
    struct rtt_arg r;

    if (!colon || (len = (size_t)(colon - arg)) >= sizeof idbuf)
        die_usage("--rtt '%s': expected BROKER_ID:MS", arg);
    memcpy(idbuf, arg, len);
    idbuf[len] = '\0';
    if (parse_int(idbuf, -1, MAX_BROKERS, &r.broker_id) != 0 || r.broker_id == 0)
        die_usage("--rtt '%s': BROKER_ID must be a broker id (1..N) or -1 for all", arg);
    if (parse_int(colon + 1, 0, MAX_RTT_MS, &r.rtt_ms) != 0)
        die_usage("--rtt '%s': MS must be an integer from 0 to %d", arg, MAX_RTT_MS);

    o->rtts = xrealloc(o->rtts, (o->rtt_count + 1) * sizeof *o->rtts);
    o->rtts[o->rtt_count++] = r;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* --advertise BROKER_ID:HOST:PORT (HOST without ':') */
static void add_advertise(struct options *o, const char *arg)
{
    char idbuf[16];
    const char *c1 = strchr(arg, ':'), *c2 = strrchr(arg, ':');
    size_t len;
    struct advertise_arg a;

    if (!c1 || c1 == c2 || c2 == c1 + 1 || (len = (size_t)(c1 - arg)) >= sizeof idbuf ||
        memchr(c1 + 1, ':', (size_t)(c2 - c1 - 1)))
        die_usage("--advertise '%s': expected BROKER_ID:HOST:PORT", arg);
    memcpy(idbuf, arg, len);
    idbuf[len] = '\0';
    if (parse_int(idbuf, 1, MAX_BROKERS, &a.broker_id) != 0)
        die_usage("--advertise '%s': BROKER_ID must be a broker id (1..N)", arg);
    if (parse_int(c2 + 1, 1, 65535, &a.port) != 0)
        die_usage("--advertise '%s': PORT must be an integer from 1 to 65535", arg);
    for (size_t i = 0; i < o->advertised_count; i++) {
        if (o->advertised[i].broker_id == a.broker_id)
            die_usage("--advertise '%s': broker %d given more than once", arg, a.broker_id);
    }
    a.host = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
    o->advertised = xrealloc(o->advertised, (o->advertised_count + 1) * sizeof *o->advertised);
    o->advertised[o->advertised_count++] = a;
}

/* --tls CERT,KEY[,CA] */
static void set_tls(struct options *o, const char *arg)
{
    const char *c1 = strchr(arg, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;

    if (o->tls_cert)
        die_usage("--tls given more than once");
    if (!c1 || c1 == arg || c1[1] == '\0' || c1[1] == ',' || (c2 && (c2[1] == '\0' || strchr(c2 + 1, ','))))
        die_usage("--tls '%s': expected CERT,KEY or CERT,KEY,CA (PEM files)", arg);
    o->tls_cert = xstrndup(arg, (size_t)(c1 - arg));
    o->tls_key = c2 ? xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : xstrndup(c1 + 1, strlen(c1 + 1));
    o->tls_ca = c2 ? xstrndup(c2 + 1, strlen(c2 + 1)) : NULL;
}

static void add_sasl(struct options *o, const char *arg)
{
    unsigned bit = mg_mechanism_bit(arg);

    if (!bit)
        die_usage("--sasl '%s': the mechanisms are PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and "
                  "OAUTHBEARER", arg);
    if (o->mechanisms & bit)
        die_usage("--sasl '%s': given more than once", arg);
    if (!o->mechanisms)
        o->first_mechanism = bit;
    o->mechanisms |= bit;
}

/* --user NAME:PASSWORD; the password is then overwritten in argv. */
static void add_user(struct options *o, char *arg)
{
    char *colon = strchr(arg, ':');
    size_t len;

    if (!colon || colon == arg || colon[1] == '\0')
        die_usage("--user: expected NAME:PASSWORD, both non-empty");
    len = (size_t)(colon - arg);
    for (size_t i = 0; i < o->user_count; i++) {
        if (strlen(o->users[i].name) == len && memcmp(o->users[i].name, arg, len) == 0)
            die_usage("--user '%.*s': user given more than once", (int)len, arg);
    }
    o->users = xrealloc(o->users, (o->user_count + 1) * sizeof *o->users);
    o->users[o->user_count].name = xstrndup(arg, len);
    o->users[o->user_count].password = xstrndup(colon + 1, strlen(colon + 1));
    o->user_count++;
    memset(colon + 1, 'x', strlen(colon + 1)); /* out of ps and /proc/PID/cmdline */
}

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"rtt", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"tls", required_argument, NULL, 'T'},
        {"sasl", required_argument, NULL, 'S'},
        {"user", required_argument, NULL, 'U'},
        {"sasl-session-lifetime-ms", required_argument, NULL, 'L'},
        {"advertise", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    int c;

    opterr = 0; /* we print our own messages */
    while ((c = getopt_long(argc, argv, ":b:t:r:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, MAX_BROKERS, &o->brokers) != 0)
                die_usage("--brokers '%s': must be an integer from 1 to %d", optarg,
                          MAX_BROKERS);
            break;
        case 't':
            add_topic(o, optarg);
            break;
        case 'r':
            add_rtt(o, optarg);
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'T':
            set_tls(o, optarg);
            break;
        case 'S':
            add_sasl(o, optarg);
            break;
        case 'U':
            add_user(o, optarg);
            break;
        case 'A':
            add_advertise(o, optarg);
            break;
        case 'L':
            if (parse_int(optarg, 1, 86400000, &o->session_lifetime_ms) != 0)
                die_usage("--sasl-session-lifetime-ms '%s': must be an integer from 1 to 86400000",
                          optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            die_usage("option '%s' needs an argument", argv[optind - 1]);
        default:
            if (optopt)
                die_usage("unknown option '-%c'", optopt);
            die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s'", argv[optind]);
    if (o->brokers == 0)
        die_usage("--brokers N is required");
    for (size_t i = 0; i < o->rtt_count; i++) {
        if (o->rtts[i].broker_id > o->brokers)
            die_usage("--rtt: there is no broker %d (brokers are 1..%d)", o->rtts[i].broker_id,
                      o->brokers);
    }
    for (size_t i = 0; i < o->advertised_count; i++) {
        if (o->advertised[i].broker_id > o->brokers)
            die_usage("--advertise: there is no broker %d (brokers are 1..%d)",
                      o->advertised[i].broker_id, o->brokers);
    }
    if (o->advertised_count && (o->tls_cert || o->mechanisms))
        die_usage("--advertise: not with --tls or --sasl (the brokers advertise the gateways)");
    if (o->user_count && !(o->mechanisms & ~(unsigned)MG_MECH_OAUTHBEARER))
        die_usage("--user is for --sasl PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    if ((o->mechanisms & ~(unsigned)MG_MECH_OAUTHBEARER) && !o->user_count)
        die_usage("--sasl PLAIN or SCRAM needs at least one --user NAME:PASSWORD");
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < o->topic_count; i++)
        free(o->topics[i].name);
    free(o->topics);
    free(o->rtts);
    for (size_t i = 0; i < o->advertised_count; i++)
        free(o->advertised[i].host);
    free(o->advertised);
    free(o->tls_cert);
    free(o->tls_key);
    free(o->tls_ca);
    for (size_t i = 0; i < o->user_count; i++) {
        free((char *)o->users[i].name);
        explicit_bzero((char *)o->users[i].password, strlen(o->users[i].password));
        free((char *)o->users[i].password);
    }
    free(o->users);
}

/* The rd_kafka_t that hosts the mock cluster. It never connects anywhere. */
static rd_kafka_t *new_host_handle(int verbose)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    /* Quiet unless asked: level 3 keeps real errors, drops the notice that
     * this handle has no bootstrap.servers. */
    if (rd_kafka_conf_set(conf, "log_level", verbose ? "7" : "3", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        (verbose &&
         rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)) {
        fprintf(stderr, "%s: %s\n", prog, errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s: cannot create librdkafka handle: %s\n", prog, errstr);
        rd_kafka_conf_destroy(conf); /* not taken over on failure */
    }
    return rk;
}

static int setup_cluster(rd_kafka_mock_cluster_t *mc, const struct options *o)
{
    int replication = o->brokers < 3 ? o->brokers : 3;
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < o->topic_count; i++) {
        err = rd_kafka_mock_topic_create(mc, o->topics[i].name, o->topics[i].partitions,
                                         replication);
        if (err) {
            fprintf(stderr, "%s: cannot create topic '%s': %s\n", prog, o->topics[i].name,
                    rd_kafka_err2str(err));
            return -1;
        }
    }
    for (size_t i = 0; i < o->rtt_count; i++) {
        err = rd_kafka_mock_broker_set_rtt(mc, o->rtts[i].broker_id, o->rtts[i].rtt_ms);
        if (err) {
            fprintf(stderr, "%s: cannot set rtt of broker %d: %s\n", prog, o->rtts[i].broker_id,
                    rd_kafka_err2str(err));
            return -1;
        }
    }
    for (size_t i = 0; i < o->advertised_count; i++) /* ids checked in parse_args */
        rd_kafka_mock_broker_set_host_port(mc, o->advertised[i].broker_id, o->advertised[i].host,
                                           (uint16_t)o->advertised[i].port);
    return 0;
}

/* The brokers' own ports from the mock's bootstrap list, which it builds in
 * broker id order ("127.0.0.1:P1,127.0.0.1:P2,..."). */
static int mock_ports(const char *boot, int n, int *ports)
{
    const char *p = boot;
    char num[8];

    for (int i = 0; i < n; i++) {
        const char *colon = strchr(p, ':'), *end;
        if (!colon)
            return -1;
        end = strchr(colon, ',');
        if (!end)
            end = colon + strlen(colon);
        if ((size_t)(end - colon - 1) >= sizeof num)
            return -1;
        memcpy(num, colon + 1, (size_t)(end - colon - 1));
        num[end - colon - 1] = '\0';
        if (parse_int(num, 1, 65535, &ports[i]) != 0 || (i < n - 1 && *end != ','))
            return -1;
        p = end + 1;
    }
    return 0;
}

/* stderr: the properties a client uses with the secured listeners, in
 * Java's (and kprod's) names, then librdkafka's (kcat -X). No password. */
static void print_client_properties(const struct options *o, const struct mg_config *cfg)
{
    const char *proto = !o->tls_cert ? "SASL_PLAINTEXT" : o->mechanisms ? "SASL_SSL" : "SSL";
    unsigned m = o->first_mechanism;
    const char *mech = m ? mg_mechanism_name(m) : NULL;
    const char *user = o->user_count ? o->users[0].name : "alice";
    const char *trust_file = o->tls_cert ? mg_truststore_file(cfg) : NULL;
    char *trust = trust_file ? realpath(trust_file, NULL) : NULL;
    char placeholder[PATH_MAX + 64];
    const char *t = trust ? trust : placeholder;
    char *ca = o->tls_ca ? realpath(o->tls_ca, NULL) : NULL;

    snprintf(placeholder, sizeof placeholder, "<the CA certificate that issued %s>",
             o->tls_cert ? o->tls_cert : "");
    fprintf(stderr, "%s: secured listeners, %s%s%s; client properties:\n", prog, proto,
            mech ? " " : "", mech ? mech : "");
    fprintf(stderr, "  security.protocol=%s\n", proto);
    if (m) {
        fprintf(stderr, "  sasl.mechanism=%s\n", mech);
        if (m == MG_MECH_OAUTHBEARER)
            fprintf(stderr, "  sasl.jaas.config=org.apache.kafka.common.security.oauthbearer."
                            "OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"%s\";\n",
                    user);
        else
            fprintf(stderr, "  sasl.jaas.config=org.apache.kafka.common.security.%s required "
                            "username=\"%s\" password=\"[hidden]\";\n",
                    m == MG_MECH_PLAIN ? "plain.PlainLoginModule" : "scram.ScramLoginModule", user);
    }
    if (o->tls_cert) {
        fprintf(stderr, "  ssl.truststore.type=PEM\n  ssl.truststore.location=%s\n", t);
        if (o->tls_ca)
            fprintf(stderr, "  ssl.keystore.type=PEM\n  ssl.keystore.location=<a PEM file "
                            "with a client certificate issued by %s and its key>\n",
                    ca ? ca : o->tls_ca);
    }
    fprintf(stderr, "%s: librdkafka and kcat: -X security.protocol=%s", prog, proto);
    if (m == MG_MECH_OAUTHBEARER)
        fprintf(stderr, " -X sasl.mechanisms=OAUTHBEARER -X enable.sasl.oauthbearer.unsecure.jwt=true"
                        " -X sasl.oauthbearer.config=principal=%s", user);
    else if (m)
        fprintf(stderr, " -X sasl.mechanisms=%s -X sasl.username=%s -X sasl.password=[hidden]",
                mech, user);
    if (o->tls_cert) {
        fprintf(stderr, " -X ssl.ca.location=%s", t);
        if (o->tls_ca)
            fprintf(stderr, " -X ssl.certificate.location=<client certificate> "
                            "-X ssl.key.location=<its key>");
    }
    fputc('\n', stderr);
    if (o->mechanisms != m) {
        char also[128] = "";
        for (unsigned bit = 1; bit <= MG_MECH_OAUTHBEARER; bit <<= 1)
            if ((o->mechanisms & bit) && bit != m)
                snprintf(also + strlen(also), sizeof also - strlen(also), "%s%s",
                         also[0] ? ", " : "", mg_mechanism_name(bit));
        fprintf(stderr, "%s: the gateway also accepts sasl.mechanism %s\n", prog, also);
    }
    free(trust);
    free(ca);
}

/* Start the gateways, make each broker advertise its own, print the list. */
static mg_gateway_t *start_secured(rd_kafka_mock_cluster_t *mc, const struct options *o)
{
    struct mg_config cfg = {
        .prog = prog,
        .cert_file = o->tls_cert,
        .key_file = o->tls_key,
        .ca_file = o->tls_ca,
        .mechanisms = o->mechanisms,
        .users = o->users,
        .user_count = o->user_count,
        .verbose = o->verbose,
        .session_lifetime_ms = o->session_lifetime_ms,
    };
    int ports[MAX_BROKERS];
    char err[512];
    mg_gateway_t *gw;

    if (mock_ports(rd_kafka_mock_cluster_bootstraps(mc), o->brokers, ports) != 0) {
        fprintf(stderr, "%s: cannot read the mock's bootstrap list '%s'\n", prog,
                rd_kafka_mock_cluster_bootstraps(mc));
        return NULL;
    }
    gw = mg_start(&cfg, ports, o->brokers, err, sizeof err);
    if (!gw) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return NULL;
    }
    for (int i = 0; i < o->brokers; i++)
        rd_kafka_mock_broker_set_host_port(mc, i + 1, "127.0.0.1", (uint16_t)mg_port(gw, i));
    for (int i = 0; i < o->brokers; i++)
        printf("%s127.0.0.1:%d", i ? "," : "", mg_port(gw, i));
    if (printf("\n") < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the bootstrap list: %s\n", prog, strerror(errno));
        mg_stop(gw);
        return NULL;
    }
    print_client_properties(o, &cfg);
    return gw;
}

int main(int argc, char **argv)
{
    struct options opts = {0};
    sigset_t stop_signals;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    mg_gateway_t *gw = NULL;
    int status = 0;
    int sig;

    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    parse_args(argc, argv, &opts);

    /* Block the stop signals before any thread exists, so every librdkafka
     * thread inherits the mask and sigwait() below is their only consumer.
     * A reader that goes away must not kill us with SIGPIPE. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &stop_signals, NULL) != 0) {
        perror("sigprocmask");
        free_options(&opts);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    rk = new_host_handle(opts.verbose);
    if (!rk) {
        free_options(&opts);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, opts.brokers);
    if (!mc) {
        fprintf(stderr, "%s: cannot create the mock cluster\n", prog);
        rd_kafka_destroy(rk);
        free_options(&opts);
        return 1;
    }

    if (setup_cluster(mc, &opts) != 0) {
        status = 1;
    } else if (opts.tls_cert || opts.mechanisms) {
        if (!(gw = start_secured(mc, &opts)))
            status = 1;
    } else if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the bootstrap list: %s\n", prog, strerror(errno));
        status = 1;
    }
    if (status == 0) {
        for (;;) {
            int err = sigwait(&stop_signals, &sig);
            if (err == 0)
                break;
            if (err != EINTR) {
                fprintf(stderr, "%s: sigwait: %s\n", prog, strerror(err));
                status = 1;
                break;
            }
        }
        if (opts.verbose && status == 0)
            fprintf(stderr, "%s: signal %d: stopping\n", prog, sig);
    }

    mg_stop(gw); /* before the brokers it passes bytes to */
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    free_options(&opts);
    return status;
}

/*
 * kprod-mock — a development and test Kafka cluster in one process.
 *
 * It is librdkafka's mock cluster (rdkafka_mock.h), not a broker we wrote:
 * the peer kprod is tested against must be code we did not write.
 *
 *   kprod-mock --brokers N --topic NAME:PARTITIONS [--topic ...]
 *              [--rtt BROKER_ID:MS ...] [--verbose]
 *
 * Contract with scripts and tests
 *   - The first line of stdout is the bootstrap list
 *     ("127.0.0.1:PORT,127.0.0.1:PORT,..."), flushed at once. Nothing else
 *     is ever written to stdout.
 *   - The cluster serves until SIGINT, SIGTERM or SIGHUP, then is destroyed
 *     and the process exits 0.
 *   - Bad arguments: a message on stderr and exit status 2. Failure to start
 *     the cluster: exit status 1.
 *
 * Brokers are numbered 1..N. Each --topic is created with replication factor
 * min(N, 3). Topics not created here are auto-created by the mock cluster
 * when a client first asks for them.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

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

struct options {
    int brokers;
    int verbose;
    struct topic_arg *topics;
    size_t topic_count;
    struct rtt_arg *rtts;
    size_t rtt_count;
};

static const char *prog = "kprod-mock";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s --brokers N [--topic NAME:PARTITIONS ...] [--rtt BROKER_ID:MS ...]\n"
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
            "  -v, --verbose                log the mock cluster's activity to stderr\n"
            "  -h, --help                   show this help and exit\n"
            "\n"
            "Example:\n"
            "  %s --brokers 3 --topic orders:6 --topic audit:1\n",
            prog, MAX_BROKERS, MAX_PARTITIONS, prog);
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

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"rtt", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
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
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < o->topic_count; i++)
        free(o->topics[i].name);
    free(o->topics);
    free(o->rtts);
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
    return 0;
}

int main(int argc, char **argv)
{
    struct options opts = {0};
    sigset_t stop_signals;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
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
    } else if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the bootstrap list: %s\n", prog, strerror(errno));
        status = 1;
    } else {
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

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    free_options(&opts);
    return status;
}

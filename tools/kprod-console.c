/*
 * kprod-console — kafka-console-producer's interface on libkprod.
 *
 * Reads standard input one line per record (the trailing "\n" or "\r\n" is
 * not part of the record; lines may be of any length and contain any bytes)
 * and sends each line to one topic. With --property parse.key=true a line is
 * KEY<separator>VALUE, split at the first separator; a line without one is
 * reported and counts as failed, as Kafka's "No key separator found on line
 * number N". Without parse.key the key is null.
 *
 * Configuration is applied in Kafka's order: the --producer.config file,
 * then each --producer-property in order, then --bootstrap-server; last the
 * tool sets key.serializer and value.serializer to "bytes", since it sends
 * raw bytes.
 *
 * Every record is sent with a callback. At end of input the tool flushes and
 * closes the producer, which waits for every record to complete; each
 * failure is printed on stderr as
 *     error: line N: [KEY<TAB>]VALUE: ERR_NAME: message
 *
 * Exit status: 0 when every record was acknowledged; 1 when any record
 * failed or the producer could not be configured or created; 2 for a
 * command-line usage error.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline, strcasecmp, flockfile */
#endif

#include <kprod/kprod.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: kprod-console --bootstrap-server LIST --topic TOPIC [options] < records\n"
    "Sends each line of standard input to TOPIC as one record.\n"
    "\n"
    "  --bootstrap-server LIST       brokers to connect to: host:port[,host:port...] (required)\n"
    "  --topic TOPIC                 topic to produce to (required)\n"
    "  --producer-property NAME=VAL  a producer property; repeatable; overrides the file\n"
    "  --producer.config FILE        load producer properties from a .properties file\n"
    "  --property parse.key=BOOL     true: each line is KEY<separator>VALUE (default false)\n"
    "  --property key.separator=SEP  the key/value separator (default: a tab)\n"
    "  --help                        print this help and exit\n"
    "\n"
    "Options also take the form --option=VALUE.\n"
    "Exit status: 0 every record acknowledged, 1 a record failed or another error,\n"
    "2 usage error.\n";

struct options {
    const char *bootstrap;
    const char *topic;
    const char *config_file;
    const char **props; /* NAME=VAL strings from --producer-property, in order */
    size_t nprops;
    int parse_key;
    const char *key_sep;
    size_t key_sep_len;
};

/* One record in flight: a copy of its key and value, so that the delivery
 * callback can name the record if it fails. Freed by the callback, or by
 * main() when kp_send() refuses the record. */
struct pending {
    unsigned long line;
    int has_key;
    size_t key_len;
    size_t value_len;
    char data[]; /* key bytes, then value bytes */
};

/* Records that failed. Written by the I/O thread (callbacks) and the main
 * thread; read by main() after kp_close(). */
static atomic_ulong failed;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("kprod-console: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* ---- command line ---------------------------------------------------- */

/* Handle one --property NAME=VAL. Returns 0 or an exit status. */
static int parse_property(struct options *opt, const char *prop)
{
    const char *eq = strchr(prop, '=');
    if (eq == NULL)
        return usage_error("--property needs NAME=VALUE, got '%s'", prop);
    size_t name_len = (size_t)(eq - prop);
    const char *value = eq + 1;

    if (name_len == strlen("parse.key") && strncmp(prop, "parse.key", name_len) == 0) {
        if (strcasecmp(value, "true") == 0)
            opt->parse_key = 1;
        else if (strcasecmp(value, "false") == 0)
            opt->parse_key = 0;
        else
            return usage_error("parse.key must be true or false, got '%s'", value);
    } else if (name_len == strlen("key.separator") &&
               strncmp(prop, "key.separator", name_len) == 0) {
        if (*value == '\0')
            return usage_error("key.separator must not be empty%s", "");
        opt->key_sep = value;
        opt->key_sep_len = strlen(value);
    } else {
        return usage_error("unsupported --property '%s' (known: parse.key, key.separator)",
                           prop);
    }
    return 0;
}

/* Fill opt from argv. Returns 0 to go on, -1 after printing --help (exit 0),
 * or an exit status after reporting an error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    opt->key_sep = "\t";
    opt->key_sep_len = 1;
    opt->props = calloc((size_t)argc, sizeof *opt->props);
    if (opt->props == NULL) {
        fputs("kprod-console: out of memory\n", stderr);
        return 1;
    }

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage_error("unexpected argument '%s'", arg);

        /* --name=value or --name value */
        const char *value = NULL;
        size_t name_len = strlen(arg);
        const char *eq = strchr(arg, '=');
        if (eq != NULL) {
            name_len = (size_t)(eq - arg);
            value = eq + 1;
        }
#define IS(name) (name_len == strlen(name) && strncmp(arg, name, name_len) == 0)
        if (!IS("--bootstrap-server") && !IS("--topic") && !IS("--producer-property") &&
            !IS("--producer.config") && !IS("--property"))
            return usage_error("unknown option '%s'", arg);
        if (value == NULL) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", arg);
            value = argv[++i];
        }

        if (IS("--bootstrap-server")) {
            opt->bootstrap = value;
        } else if (IS("--topic")) {
            opt->topic = value;
        } else if (IS("--producer.config")) {
            opt->config_file = value;
        } else if (IS("--producer-property")) {
            if (strchr(value, '=') == NULL || value[0] == '=')
                return usage_error("--producer-property needs NAME=VALUE, got '%s'", value);
            opt->props[opt->nprops++] = value;
        } else {
            int rc = parse_property(opt, value);
            if (rc != 0)
                return rc;
        }
#undef IS
    }

    if (opt->bootstrap == NULL || *opt->bootstrap == '\0')
        return usage_error("%s is required", "--bootstrap-server");
    if (opt->topic == NULL || *opt->topic == '\0')
        return usage_error("%s is required", "--topic");
    return 0;
}

/* ---- configuration ---------------------------------------------------- */

static int set(kp_config_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (kp_config_set(conf, name, value, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "kprod-console: %s\n", errstr);
        return -1;
    }
    return 0;
}

/* Build the producer configuration; NULL (reported) on error. */
static kp_config_t *make_config(const struct options *opt)
{
    char errstr[512];
    kp_config_t *conf = kp_config_new();
    if (conf == NULL) {
        fputs("kprod-console: out of memory\n", stderr);
        return NULL;
    }
    if (opt->config_file != NULL &&
        kp_config_load_file(conf, opt->config_file, errstr, sizeof errstr) != KP_OK) {
        fprintf(stderr, "kprod-console: %s: %s\n", opt->config_file, errstr);
        goto fail;
    }
    for (size_t i = 0; i < opt->nprops; i++) {
        const char *prop = opt->props[i];
        size_t name_len = (size_t)(strchr(prop, '=') - prop);
        char *name = malloc(name_len + 1);
        if (name == NULL) {
            fputs("kprod-console: out of memory\n", stderr);
            goto fail;
        }
        memcpy(name, prop, name_len);
        name[name_len] = '\0';
        int rc = set(conf, name, prop + name_len + 1);
        free(name);
        if (rc != 0)
            goto fail;
    }
    if (set(conf, "bootstrap.servers", opt->bootstrap) != 0 ||
        set(conf, "key.serializer", "bytes") != 0 || set(conf, "value.serializer", "bytes") != 0)
        goto fail;
    return conf;

fail:
    kp_config_destroy(conf);
    return NULL;
}

/* ---- sending ---------------------------------------------------------- */

/* Print "error: line N: [KEY<TAB>]VALUE: NAME: message" as one unit, since
 * the I/O thread and the main thread both report failures. */
static void report_failure(const struct pending *pd, kp_err_t err)
{
    flockfile(stderr);
    fprintf(stderr, "error: line %lu: ", pd->line);
    if (pd->has_key) {
        fwrite(pd->data, 1, pd->key_len, stderr);
        fputc('\t', stderr);
    }
    fwrite(pd->data + pd->key_len, 1, pd->value_len, stderr);
    fprintf(stderr, ": %s: %s\n", kp_err_name(err), kp_err_str(err));
    funlockfile(stderr);
}

/* Delivery callback, on the producer's I/O thread. */
static void on_delivery(const kp_record_metadata_t *md, kp_err_t err, void *opaque)
{
    struct pending *pd = opaque;
    (void)md;
    if (err != KP_OK) {
        report_failure(pd, err);
        atomic_fetch_add(&failed, 1);
    }
    free(pd);
}

/* Find the first occurrence of sep in buf[0..len). */
static const char *find_sep(const char *buf, size_t len, const char *sep, size_t sep_len)
{
    if (sep_len > len)
        return NULL;
    for (size_t i = 0; i + sep_len <= len; i++)
        if (buf[i] == sep[0] && memcmp(buf + i, sep, sep_len) == 0)
            return buf + i;
    return NULL;
}

/* Send one input line (without its line ending). Failures are reported and
 * counted here or in on_delivery(). */
static void send_line(kp_producer_t *p, const struct options *opt, unsigned long lineno,
                      const char *line, size_t len)
{
    const char *key = NULL, *value = line;
    size_t key_len = 0, value_len = len;

    if (opt->parse_key) {
        const char *sep = find_sep(line, len, opt->key_sep, opt->key_sep_len);
        if (sep == NULL) {
            flockfile(stderr);
            fprintf(stderr, "error: No key separator found on line number %lu: '", lineno);
            fwrite(line, 1, len, stderr);
            fputs("'\n", stderr);
            funlockfile(stderr);
            atomic_fetch_add(&failed, 1);
            return;
        }
        key = line;
        key_len = (size_t)(sep - line);
        value = sep + opt->key_sep_len;
        value_len = len - key_len - opt->key_sep_len;
    }
    if (key_len > INT32_MAX || value_len > INT32_MAX) {
        fprintf(stderr, "error: line %lu is too long for a Kafka record\n", lineno);
        atomic_fetch_add(&failed, 1);
        return;
    }

    struct pending *pd = malloc(sizeof *pd + key_len + value_len);
    if (pd == NULL) {
        fprintf(stderr, "error: line %lu: out of memory\n", lineno);
        atomic_fetch_add(&failed, 1);
        return;
    }
    pd->line = lineno;
    pd->has_key = key != NULL;
    pd->key_len = key_len;
    pd->value_len = value_len;
    if (key_len > 0)
        memcpy(pd->data, key, key_len);
    if (value_len > 0)
        memcpy(pd->data + key_len, value, value_len);

    kp_record_t rec = {
        .topic = opt->topic,
        .partition = KP_PARTITION_ANY,
        .key = key, /* NULL without parse.key: a null key */
        .key_len = (int32_t)key_len,
        .value = value, /* never NULL: an empty line is an empty value */
        .value_len = (int32_t)value_len,
    };
    kp_err_t err = kp_send(p, &rec, on_delivery, pd);
    if (err != KP_OK) {
        /* Refused at once: the callback will not run, so pd is ours. */
        report_failure(pd, err);
        atomic_fetch_add(&failed, 1);
        free(pd);
    }
}

int main(int argc, char **argv)
{
    struct options opt = {0};
    int rc = parse_args(argc, argv, &opt);
    if (rc != 0) {
        free(opt.props);
        return rc < 0 ? 0 : rc;
    }

    kp_config_t *conf = make_config(&opt);
    if (conf == NULL) {
        free(opt.props);
        return 1;
    }
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "kprod-console: cannot create producer: %s\n", errstr);
        free(opt.props);
        return 1;
    }

    int status = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) != -1) {
        size_t len = (size_t)n;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        send_line(p, &opt, lineno, line, len);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "kprod-console: reading standard input: %s\n", strerror(errno));
        status = 1;
    }
    free(line);

    /* Wait for every record; after kp_close() every callback has run. */
    kp_err_t err = kp_flush(p, -1);
    if (err != KP_OK) {
        fprintf(stderr, "kprod-console: flush: %s: %s\n", kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    err = kp_close(p, -1);
    if (err != KP_OK) {
        fprintf(stderr, "kprod-console: close: %s: %s\n", kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    kp_producer_destroy(p);
    free(opt.props);

    if (atomic_load(&failed) > 0)
        status = 1;
    return status;
}

/*
 * kprod-console — kafka-console-producer's interface on libkprod.
 *
 * Reads standard input one line per record (the trailing "\n" or "\r\n" is
 * not part of the record; lines may be of any length and contain any bytes)
 * and sends each line to one topic. A line is parsed as Kafka's
 * LineMessageReader does, in this order:
 *
 *     [HEADERS<headers.delimiter>][KEY<key.separator>]VALUE
 *
 *   - parse.headers=true: HEADERS runs up to the first headers.delimiter
 *     (default a tab). It is split at every match of headers.separator (a
 *     regular expression, default ","; Java's String.split rules: trailing
 *     empty pairs are dropped, a HEADERS with no match is one pair) into
 *     pairs NAME<headers.key.separator>VALUE (default ":"), split at the
 *     first separator. Headers keep their order; names may repeat.
 *   - parse.key=true: KEY runs from the end of the headers to the first
 *     key.separator (default a tab) after them. Without parse.key the key
 *     is null.
 *   - VALUE is the rest of the line.
 *   - null.marker (no default): a KEY, VALUE or header value equal to it is
 *     sent as null, and a HEADERS equal to it means no headers; a header
 *     name equal to it is an error (names cannot be null).
 *
 * Parse errors are Kafka's: "No headers delimiter found on line number N:
 * 'LINE'", "No key separator found on line number N: 'LINE'", "No header key
 * separator found in pair 'PAIR' on line number N" and "Header keys should
 * not be equal to the null marker 'M' as they can't be null". As in Kafka,
 * the first one ends the input: it is printed as "error: MESSAGE", no later
 * line is read or sent, the records already sent are still delivered, and
 * the exit status is 1. With ignore.error=true the reader makes the best of
 * a malformed line instead, as Kafka's does: no headers delimiter means no
 * headers (the whole line goes on to the key), no key separator means a
 * null key (the rest is the value), and a pair without a header key
 * separator is a header named PAIR with a null value. A header name equal
 * to null.marker stays an error.
 *
 * The line parsing is console_parse.c's (no I/O there: it is also a fuzz
 * target); this file reads lines, sends records and reports.
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
 * (KEY and VALUE as they appear on the line, headers left out).
 *
 * SIGINT or SIGTERM is what Kafka's tool makes of it (its shutdown hook
 * closes the producer), with a bounded wait: reading stops at once (even in
 * the middle of a blocked read or of a send waiting for metadata or
 * memory); the lines already read are sent; the producer is closed waiting
 * at most --close-timeout-ms (30 s) for them, and what is still pending
 * then fails with _PURGED_CLOSE. Every line read and not acknowledged is
 * reported as above (a send refused because the producer is closing says
 * _CLOSED; a line cut short by the signal is named too), then one summary:
 *     kprod-console: interrupted by SIGINT: N lines read, A records
 *     acknowledged[, K not (each reported above)]
 * A signal that was ignored when the tool started (nohup) stays ignored.
 *
 * A closed standard input ("<&-") is refused at startup with a message, so
 * that no descriptor the tool or the library opens is taken for it.
 *
 * Exit status: 0 when every line read was acknowledged (also after a
 * signal); 1 when a line could not be parsed, any record failed, standard
 * input could not be read, or the producer could not be configured or
 * created; 2 for a command-line usage error (including the property
 * conflicts Kafka rejects, such as "headers.delimiter and headers.separator
 * may not be equal"); 128+N (130 for SIGINT, 143 for SIGTERM) when signal
 * N stopped the run and a line read was not acknowledged, as a shell
 * reports a process killed by that signal.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* strcasecmp, flockfile */
#endif

#include <kprod/kprod.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "console_parse.h"
#include "long_opt.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: kprod-console --bootstrap-server LIST --topic TOPIC [options] < records\n"
    "Sends each line of standard input to TOPIC as one record:\n"
    "  [HEADERS<headers.delimiter>][KEY<key.separator>]VALUE\n"
    "\n"
    "  --bootstrap-server LIST       brokers to connect to: host:port[,host:port...] (required)\n"
    "  --topic TOPIC                 topic to produce to (required)\n"
    "  --producer-property NAME=VAL  a producer property; repeatable; overrides the file\n"
    "  --producer.config FILE        load producer properties from a .properties file\n"
    "  --property NAME=VAL           a line-reader property, as kafka-console-producer's:\n"
    "      parse.key=BOOL              true: the line has a KEY (default false)\n"
    "      key.separator=SEP           ends the KEY (default: a tab)\n"
    "      parse.headers=BOOL          true: the line starts with HEADERS (default false),\n"
    "                                  NAME:VALUE pairs, e.g. h1:v1,h2:v2<TAB>value\n"
    "      headers.delimiter=SEP       ends the HEADERS (default: a tab)\n"
    "      headers.separator=REGEX     separates header pairs (default ',')\n"
    "      headers.key.separator=SEP   separates a header's name and value (default ':')\n"
    "      null.marker=STR             a key, value or header value equal to STR is null\n"
    "                                  (default: none)\n"
    "      ignore.error=BOOL           true: make the best of a malformed line instead of\n"
    "                                  stopping with an error (default false)\n"
    "  --close-timeout-ms MS         on SIGINT/SIGTERM, wait at most MS for the records\n"
    "                                already read to be acknowledged (default 30000)\n"
    "  --help                        print this help and exit\n"
    "\n"
    "Options also take the form --option=VALUE.\n"
    "Exit status: 0 every record read was acknowledged (also after SIGINT/SIGTERM),\n"
    "1 a line could not be parsed, a record failed or another error, 2 usage error,\n"
    "128+N (130 SIGINT, 143 SIGTERM) stopped by signal N with records not acknowledged.\n";

struct options {
    const char *bootstrap;
    const char *topic;
    const char *config_file;
    const char **props; /* NAME=VAL strings from --producer-property, in order */
    size_t nprops;
    kp_console_opts_t reader; /* --property: the line reader's (console_parse.h) */
    long close_timeout_ms;    /* the bounded close after SIGINT/SIGTERM */
};

/* One record in flight: a copy of its key and value as they appear on the
 * line, so that the delivery callback can name the record if it fails.
 * Freed by the callback, or by send_line() when kp_send() refuses it. */
struct pending {
    unsigned long line;
    int has_key;
    size_t key_len;
    size_t value_len;
    char data[]; /* key bytes, then value bytes */
};

/* Records that failed, and records acknowledged. Written by the I/O thread
 * (callbacks) and the main thread; read by main() after kp_close(). */
static atomic_ulong failed, acked;

/* The first SIGINT or SIGTERM received (0: none). Set by the signal
 * handler, hence a lock-free atomic (async-signal-safe). */
static atomic_int got_signal;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free atomic_int");
/* The self-pipe: the handler writes a byte to wake the reading loop and the
 * closer thread (see "signals" below). */
static int wake_pipe[2] = {-1, -1};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("kprod-console: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* ---- command line ---------------------------------------------------- */

/* A boolean property: Kafka's value.trim().equalsIgnoreCase("true"), except
 * that anything but true or false is refused rather than read as false.
 * Returns 0 or an exit status. */
static int parse_bool(const char *name, const char *value, int *out)
{
    const char *b = value, *e = value + strlen(value);
    while (b < e && (unsigned char)*b <= ' ') /* Java's String.trim() */
        b++;
    while (e > b && (unsigned char)e[-1] <= ' ')
        e--;
    size_t n = (size_t)(e - b);
    if (n == 4 && strncasecmp(b, "true", 4) == 0) {
        *out = 1;
    } else if (n == 5 && strncasecmp(b, "false", 5) == 0) {
        *out = 0;
    } else {
        fprintf(stderr, "kprod-console: %s must be true or false, got '%s'\n\n", name, value);
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* Handle one --property NAME=VAL. Values are checked when the parser is
 * made (kp_console_parser_new()). Returns 0 or an exit status. */
static int parse_property(struct options *opt, const char *prop)
{
    const char *eq = strchr(prop, '=');
    if (eq == NULL)
        return usage_error("--property needs NAME=VALUE, got '%s'", prop);
    size_t name_len = (size_t)(eq - prop);
    const char *value = eq + 1;
    kp_console_opts_t *r = &opt->reader;
#define NAMED(n) (name_len == strlen(n) && strncmp(prop, n, name_len) == 0)
    if (NAMED("parse.key"))
        return parse_bool("parse.key", value, &r->parse_key);
    if (NAMED("parse.headers"))
        return parse_bool("parse.headers", value, &r->parse_headers);
    if (NAMED("ignore.error"))
        return parse_bool("ignore.error", value, &r->ignore_error);
    if (NAMED("key.separator"))
        r->key_separator = value;
    else if (NAMED("headers.delimiter"))
        r->headers_delimiter = value;
    else if (NAMED("headers.key.separator"))
        r->headers_key_separator = value;
    else if (NAMED("headers.separator"))
        r->headers_separator = value;
    else if (NAMED("null.marker")) /* may be empty: empty fields are then null */
        r->null_marker = value;
    else
        return usage_error("unsupported --property '%s' (known: parse.key, key.separator, "
                           "parse.headers, headers.delimiter, headers.separator, "
                           "headers.key.separator, null.marker, ignore.error)",
                           prop);
#undef NAMED
    return 0;
}

/* Fill opt from argv. Returns 0 to go on, -1 after printing --help (exit 0),
 * or an exit status after reporting an error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    opt->close_timeout_ms = 30000;
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
        size_t name_len;
        const char *value = long_opt_split(arg, &name_len);
#define IS(name) long_opt_is(arg, name_len, name)
        if (!IS("--bootstrap-server") && !IS("--topic") && !IS("--producer-property") &&
            !IS("--producer.config") && !IS("--property") && !IS("--close-timeout-ms"))
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
        } else if (IS("--close-timeout-ms")) {
            char *end;
            errno = 0;
            opt->close_timeout_ms = strtol(value, &end, 10);
            if (errno != 0 || end == value || *end != '\0' || opt->close_timeout_ms < 0)
                return usage_error("--close-timeout-ms needs a number of milliseconds >= 0, "
                                   "got '%s'", value);
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

/* The line parser for opt's --property values; NULL after reporting an
 * error (*status set: 2 for properties Kafka refuses, else 1). */
static kp_console_parser_t *make_parser(const struct options *opt, int *status)
{
    char errstr[512];
    kp_console_parser_t *ps;
    int rc = kp_console_parser_new(&opt->reader, &ps, errstr, sizeof errstr);
    if (rc == KP_CONSOLE_ERR_CONFIG) {
        *status = usage_error("%s", errstr);
        return NULL;
    }
    if (rc != KP_CONSOLE_OK) {
        fprintf(stderr, "kprod-console: %s\n", errstr);
        *status = 1;
        return NULL;
    }
    return ps;
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
    } else {
        atomic_fetch_add(&acked, 1);
    }
    free(pd);
}

/* Print "error: " and a parser's message (any bytes) as one unit. */
static void print_error(const char *msg, size_t len)
{
    flockfile(stderr);
    fputs("error: ", stderr);
    fwrite(msg, 1, len, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Parse and send one input line (without its line ending), as Kafka's
 * LineMessageReader: headers, then key, then value. Returns 0, or -1 when
 * the line cannot be parsed (reported; Kafka stops reading there). A record
 * that fails is reported and counted here or in on_delivery(). */
static int send_line(kp_producer_t *p, const char *topic, kp_console_parser_t *ps,
                     unsigned long lineno, const char *line, size_t len)
{
    kp_console_line_t l;
    int rc = kp_console_parse_line(ps, lineno, line, len, &l);
    if (rc != KP_CONSOLE_OK) {
        print_error(l.error, l.error_len);
        if (rc != KP_CONSOLE_ERR_TOO_LONG)
            return -1;
        atomic_fetch_add(&failed, 1); /* this record only: go on */
        return 0;
    }

    struct pending *pd = malloc(sizeof *pd + l.key_len + l.value_len);
    if (pd == NULL) {
        fprintf(stderr, "error: line %lu: out of memory\n", lineno);
        atomic_fetch_add(&failed, 1);
        return 0;
    }
    pd->line = lineno;
    pd->has_key = l.key != NULL;
    pd->key_len = l.key_len;
    pd->value_len = l.value_len;
    if (l.key_len > 0)
        memcpy(pd->data, l.key, l.key_len);
    if (l.value_len > 0)
        memcpy(pd->data + l.key_len, l.value, l.value_len);

    kp_record_t rec = {
        .topic = topic,
        .partition = KP_PARTITION_ANY,
        .key = l.key_null ? NULL : l.key,
        .key_len = (int32_t)l.key_len, /* the parser checked the lengths */
        .value = l.value_null ? NULL : l.value,
        .value_len = (int32_t)l.value_len,
        .headers = l.headers,
        .header_count = l.header_count,
    };
    kp_err_t err = kp_send(p, &rec, on_delivery, pd);
    if (err != KP_OK) {
        /* Refused at once: the callback will not run, so pd is ours. */
        report_failure(pd, err);
        atomic_fetch_add(&failed, 1);
        free(pd);
    }
    return 0;
}

/* ---- signals ----------------------------------------------------------
 *
 * On SIGINT or SIGTERM the tool does what Kafka's does in its shutdown hook
 * (close the producer), with a bound: it stops reading, closes the producer
 * waiting at most --close-timeout-ms, and reports every record that was not
 * acknowledged. The handler only records the signal and writes a byte to a
 * self-pipe. Two threads wait on that pipe: the main thread, in poll()
 * with standard input (so a blocked read never delays it), and a closer
 * thread, which calls kp_close(): a close wakes a kp_send() blocked on
 * metadata or memory (max.block.ms, 60 s by default), and a kp_flush()
 * waiting for an unreachable cluster, so neither can hold the exit up. */

static void on_signal(int sig)
{
    int saved = errno;
    int none = 0;
    atomic_compare_exchange_strong(&got_signal, &none, sig);
    char b = 1;
    ssize_t rc = write(wake_pipe[1], &b, 1); /* full pipe: already awake */
    (void)rc;
    errno = saved;
}

/* fd moved to a descriptor above 2 if it is one of 0-2 (which were closed:
 * a write to stderr must never land in the pipe). -1 on error. */
static int above_stdio(int fd)
{
    if (fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

/* Make the self-pipe and install the handlers. SA_RESTART: other system
 * calls go on; poll() still returns EINTR, and the pipe wakes it anyway. */
static int signals_start(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    wake_pipe[0] = above_stdio(wake_pipe[0]);
    wake_pipe[1] = above_stdio(wake_pipe[1]);
    if (wake_pipe[0] < 0 || wake_pipe[1] < 0)
        return -1;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (sigaction(sigs[i], NULL, &old) != 0)
            return -1;
        /* Ignored by whoever started us (nohup; a shell's background job
         * ignores SIGINT): it stays ignored, as the convention goes. */
        if (old.sa_handler != SIG_IGN && sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    }
    return 0;
}

static const char *signame(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* Wait until fd (-1: none) or the self-pipe is readable: 1 fd is (or is in
 * error: read() will say), 0 the pipe is. Nobody drains the pipe, so once
 * written it wakes every later wait too. The pipe is written by a signal,
 * or (only after reading is over) to end the closer thread. */
static int wait_readable(int fd)
{
    struct pollfd fds[2] = {{wake_pipe[0], POLLIN, 0}, {fd, POLLIN, 0}};
    for (;;) {
        if (atomic_load(&got_signal))
            return 0;
        int n = poll(fds, 2, -1); /* a negative fd is left out */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (fds[0].revents != 0)
            return 0;
        if (fds[1].revents != 0)
            return 1;
    }
}

/* The closer thread: waits on the self-pipe; after a signal, closes the
 * producer with the bounded wait. Main writes a byte without a signal to
 * end it when the run is over. */
struct closer {
    pthread_t thread;
    kp_producer_t *p;
    int64_t timeout_ms;
    int closed;     /* it called kp_close() ... */
    kp_err_t err;   /* ... which returned this */
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    (void)wait_readable(-1);
    if (atomic_load(&got_signal)) {
        c->err = kp_close(c->p, c->timeout_ms);
        c->closed = 1;
    }
    return NULL;
}

static void closer_stop(struct closer *c)
{
    char b = 0;
    ssize_t rc = write(wake_pipe[1], &b, 1);
    (void)rc;
    pthread_join(c->thread, NULL);
}

/* ---- reading standard input ------------------------------------------- */

/* Standard input, read in large blocks and cut at "\n". */
struct reader {
    char *buf;
    size_t cap;
    size_t start; /* the next line begins here */
    size_t scan;  /* no "\n" in buf[start..scan) */
    size_t end;   /* bytes read end here */
    int eof;
};

/* Read more of standard input, unless a signal comes first: 1 read (or end
 * of input), 0 a signal, -1 a read error (errno). */
static int fill(struct reader *r)
{
    if (r->start > 0) { /* keep the partial line at the front */
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scan -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        char *b = cap > r->cap ? realloc(r->buf, cap) : NULL;
        if (b == NULL) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = b;
        r->cap = cap;
    }
    for (;;) {
        if (!wait_readable(STDIN_FILENO))
            return 0;
        ssize_t n = read(STDIN_FILENO, r->buf + r->end, r->cap - r->end);
        if (n > 0)
            r->end += (size_t)n;
        else if (n == 0)
            r->eof = 1;
        else if (errno == EINTR || errno == EAGAIN) /* a non-blocking stdin */
            continue;
        else
            return -1;
        return 1;
    }
}

/* The next line, without its "\n" or "\r\n", in *line and *len: 1 a line,
 * 0 no more (end of input, or a signal came: lines already read are still
 * given, a signal stops only the reading), -1 a read error (errno). */
static int next_line(struct reader *r, char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        if (nl != NULL || (r->eof && r->start < r->end)) {
            size_t stop = nl != NULL ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            if (*len > 0 && (*line)[*len - 1] == '\r')
                (*len)--;
            r->start = r->scan = nl != NULL ? stop + 1 : stop;
            return 1;
        }
        r->scan = r->end;
        if (r->eof)
            return 0;
        int rc = fill(r);
        if (rc <= 0)
            return rc;
    }
}

/* Read and send every line until end of input, a parse error or a signal.
 * Returns 0, or 1 after a read error (reported). *lineno: lines read. */
static int read_and_send(kp_producer_t *p, const char *topic, kp_console_parser_t *ps,
                         unsigned long *lineno)
{
    struct reader r = {0};
    char *line = NULL;
    size_t len;
    int rc, status = 0;
    while ((rc = next_line(&r, &line, &len)) > 0) {
        ++*lineno;
        if (send_line(p, topic, ps, *lineno, line, len) != 0) {
            /* A parse error ends the input, as in Kafka; what was sent
             * is still delivered. */
            atomic_fetch_add(&failed, 1);
            break;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "kprod-console: reading standard input: %s\n", strerror(errno));
        status = 1;
    } else if (rc == 0 && !r.eof && r.start < r.end) {
        fprintf(stderr, "kprod-console: line %lu was cut short by %s (%zu bytes read, no end "
                        "of line yet): not sent\n",
                *lineno + 1, signame(atomic_load(&got_signal)), r.end - r.start);
        atomic_fetch_add(&failed, 1);
    }
    free(r.buf);
    return status;
}

/* ---- main ---------------------------------------------------------------- */

/* kp_producer_new() with SIGINT and SIGTERM blocked, so that the producer's
 * I/O thread (and our closer thread) never run the handler: their system
 * calls are not interrupted, and the signal reaches the main thread. Then
 * the handlers and the closer thread. NULL after reporting an error. */
static kp_producer_t *start_producer(const struct options *opt, struct closer *c)
{
    kp_config_t *conf = make_config(opt);
    if (conf == NULL)
        return NULL;
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "kprod-console: cannot create producer: %s\n", errstr);
    } else {
        c->p = p;
        c->timeout_ms = opt->close_timeout_ms;
        int rc = signals_start() != 0 ? errno : pthread_create(&c->thread, NULL, closer_main, c);
        if (rc != 0) {
            fprintf(stderr, "kprod-console: cannot set up signal handling: %s\n", strerror(rc));
            kp_producer_destroy(p);
            p = NULL;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* a signal that came meanwhile: now */
    return p;
}

/* Wait for every record (bounded after a signal: see "signals"), then
 * free the producer; after that every callback has run. Returns 0 or 1. */
static int finish(kp_producer_t *p, struct closer *c)
{
    int status = 0;
    kp_err_t err = KP_OK;
    const char *what = "flush";
    if (!atomic_load(&got_signal))
        err = kp_flush(p, -1); /* a signal now makes the closer end it */
    closer_stop(c);
    if (c->closed) {
        err = c->err;
        what = "close";
    } else if (err == KP_OK) {
        err = kp_close(p, -1); /* nothing is pending: quick */
        what = "close";
    }
    if (err == KP_ERR_TIMED_OUT && c->closed) {
        fprintf(stderr, "kprod-console: records still pending after %lld ms were failed "
                        "(reported above)\n", (long long)c->timeout_ms);
    } else if (err != KP_OK) {
        fprintf(stderr, "kprod-console: %s: %s: %s\n", what, kp_err_name(err), kp_err_str(err));
        status = 1;
    }
    kp_producer_destroy(p);
    /* The handlers stay: a late signal has nothing left to lose. */
    return status;
}

/* After a signal: the summary line, and the exit status. */
static int interrupted(int sig, unsigned long lines, int status)
{
    unsigned long ok = atomic_load(&acked);
    flockfile(stderr);
    fprintf(stderr, "kprod-console: interrupted by %s: %lu lines read, %lu records acknowledged",
            signame(sig), lines, ok);
    if (ok < lines)
        fprintf(stderr, ", %lu not (each reported above)", lines - ok);
    fputc('\n', stderr);
    funlockfile(stderr);
    return ok == lines && atomic_load(&failed) == 0 && status == 0 ? 0 : 128 + sig;
}

int main(int argc, char **argv)
{
    struct options opt = {0};
    kp_console_parser_t *ps = NULL;
    int rc = parse_args(argc, argv, &opt), status = 0;
    if (rc != 0) {
        status = rc < 0 ? 0 : rc;
        goto out;
    }
    /* Before anything opens a descriptor that could take number 0. */
    if (fcntl(STDIN_FILENO, F_GETFD) == -1 && errno == EBADF) {
        fputs("kprod-console: standard input is closed: there are no records to read "
              "(give them on standard input, one per line)\n", stderr);
        status = 1;
        goto out;
    }
    ps = make_parser(&opt, &status);
    if (ps == NULL)
        goto out;

    struct closer closer = {0};
    kp_producer_t *p = start_producer(&opt, &closer);
    if (p == NULL) {
        status = 1;
        goto out;
    }
    unsigned long lines = 0;
    status = read_and_send(p, opt.topic, ps, &lines);
    status |= finish(p, &closer);
    if (atomic_load(&failed) > 0)
        status = 1;
    int sig = atomic_load(&got_signal);
    if (sig != 0)
        status = interrupted(sig, lines, status);

out:
    free(opt.props);
    kp_console_parser_destroy(ps);
    return status;
}

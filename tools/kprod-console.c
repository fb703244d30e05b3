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
 * Exit status: 0 when every record was acknowledged; 1 when a line could not
 * be parsed, any record failed, or the producer could not be configured or
 * created; 2 for a command-line usage error (including the property
 * conflicts Kafka rejects, such as "headers.delimiter and headers.separator
 * may not be equal").
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline, strcasecmp, flockfile */
#endif

#include <kprod/kprod.h>

#include <errno.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

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
    "  --help                        print this help and exit\n"
    "\n"
    "Options also take the form --option=VALUE.\n"
    "Exit status: 0 every record acknowledged, 1 a line could not be parsed, a record\n"
    "failed or another error, 2 usage error.\n";

/* A separator string (not NUL-terminated in use: lines hold any bytes). */
struct sep {
    const char *s;
    size_t len;
};

struct options {
    const char *bootstrap;
    const char *topic;
    const char *config_file;
    const char **props; /* NAME=VAL strings from --producer-property, in order */
    size_t nprops;
    int parse_key;
    int parse_headers;
    int ignore_error;
    struct sep key_sep;
    struct sep headers_delim;
    struct sep headers_key_sep;
    const char *headers_sep; /* a regular expression */
    int headers_sep_literal; /* headers_sep has no regex syntax: match it as bytes */
    regex_t headers_sep_re;  /* compiled when !headers_sep_literal */
    int headers_sep_re_ok;
    const char *null_marker; /* NULL: none */
    size_t null_marker_len;
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

/* Per-line scratch space, reused from line to line. */
struct scratch {
    char *text;          /* the HEADERS section, NUL-terminated (for regexec) */
    size_t text_cap;
    char *names;         /* header names, each NUL-terminated */
    size_t names_cap;
    size_t (*pieces)[2]; /* header pairs: [start, end) in text */
    size_t pieces_cap;
    kp_header_t *headers;
    size_t headers_cap;
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

static int parse_sep(const char *name, const char *value, struct sep *out)
{
    if (*value == '\0')
        return usage_error("%s must not be empty", name);
    out->s = value;
    out->len = strlen(value);
    return 0;
}

/* Handle one --property NAME=VAL. Returns 0 or an exit status. */
static int parse_property(struct options *opt, const char *prop)
{
    const char *eq = strchr(prop, '=');
    if (eq == NULL)
        return usage_error("--property needs NAME=VALUE, got '%s'", prop);
    size_t name_len = (size_t)(eq - prop);
    const char *value = eq + 1;
#define NAMED(n) (name_len == strlen(n) && strncmp(prop, n, name_len) == 0)
    if (NAMED("parse.key"))
        return parse_bool("parse.key", value, &opt->parse_key);
    if (NAMED("parse.headers"))
        return parse_bool("parse.headers", value, &opt->parse_headers);
    if (NAMED("ignore.error"))
        return parse_bool("ignore.error", value, &opt->ignore_error);
    if (NAMED("key.separator"))
        return parse_sep("key.separator", value, &opt->key_sep);
    if (NAMED("headers.delimiter"))
        return parse_sep("headers.delimiter", value, &opt->headers_delim);
    if (NAMED("headers.key.separator"))
        return parse_sep("headers.key.separator", value, &opt->headers_key_sep);
    if (NAMED("headers.separator")) {
        if (*value == '\0')
            return usage_error("%s must not be empty", "headers.separator");
        opt->headers_sep = value;
        return 0;
    }
    if (NAMED("null.marker")) { /* may be empty: empty fields are then null */
        opt->null_marker = value;
        opt->null_marker_len = strlen(value);
        return 0;
    }
#undef NAMED
    return usage_error("unsupported --property '%s' (known: parse.key, key.separator, "
                       "parse.headers, headers.delimiter, headers.separator, "
                       "headers.key.separator, null.marker, ignore.error)",
                       prop);
}

static int sep_equal(struct sep a, const char *b)
{
    return b != NULL && a.len == strlen(b) && memcmp(a.s, b, a.len) == 0;
}

/* Compile headers.separator and refuse the combinations Kafka's
 * LineMessageReader.configure() refuses, in its order and with its words
 * (checked whether or not parse.headers is set, as Kafka does). */
static int check_reader_properties(struct options *opt)
{
    opt->headers_sep_literal = strpbrk(opt->headers_sep, ".[]()*+?{}|^$\\") == NULL;
    if (!opt->headers_sep_literal) {
        int rc = regcomp(&opt->headers_sep_re, opt->headers_sep, REG_EXTENDED);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &opt->headers_sep_re, msg, sizeof msg);
            fprintf(stderr, "kprod-console: headers.separator '%s' is not a valid regular "
                            "expression: %s\n\n", opt->headers_sep, msg);
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
        opt->headers_sep_re_ok = 1;
    }
    const char *conflict = NULL;
    if (sep_equal(opt->headers_delim, opt->headers_sep))
        conflict = "headers.delimiter and headers.separator may not be equal";
    else if (sep_equal(opt->headers_delim, opt->headers_key_sep.s))
        conflict = "headers.delimiter and headers.key.separator may not be equal";
    else if (sep_equal(opt->headers_key_sep, opt->headers_sep))
        conflict = "headers.separator and headers.key.separator may not be equal";
    else if (sep_equal(opt->key_sep, opt->null_marker))
        conflict = "null.marker and key.separator may not be equal";
    else if (opt->null_marker != NULL && strcmp(opt->headers_sep, opt->null_marker) == 0)
        conflict = "null.marker and headers.separator may not be equal";
    else if (sep_equal(opt->headers_delim, opt->null_marker))
        conflict = "null.marker and headers.delimiter may not be equal";
    else if (sep_equal(opt->headers_key_sep, opt->null_marker))
        conflict = "null.marker and headers.key.separator may not be equal";
    if (conflict != NULL)
        return usage_error("%s", conflict);
    return 0;
}

/* Fill opt from argv. Returns 0 to go on, -1 after printing --help (exit 0),
 * or an exit status after reporting an error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    opt->key_sep = (struct sep){"\t", 1};
    opt->headers_delim = (struct sep){"\t", 1};
    opt->headers_key_sep = (struct sep){":", 1};
    opt->headers_sep = ",";
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
    return check_reader_properties(opt);
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

/* ---- reading a line ---------------------------------------------------- */

/* Find the first occurrence of sep in buf[0..len). */
static const char *find_sep(const char *buf, size_t len, struct sep sep)
{
    if (sep.len > len)
        return NULL;
    for (size_t i = 0; i + sep.len <= len; i++)
        if (buf[i] == sep.s[0] && memcmp(buf + i, sep.s, sep.len) == 0)
            return buf + i;
    return NULL;
}

static int is_null_marker(const struct options *opt, const char *s, size_t len)
{
    return opt->null_marker != NULL && len == opt->null_marker_len &&
           memcmp(s, opt->null_marker, len) == 0;
}

/* ptr, grown if need be to hold n elements of size sz (*cap elements now).
 * Out of memory: frees ptr, sets *cap to 0 and returns NULL. */
static void *reserve(void *ptr, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return ptr;
    size_t c = *cap ? *cap : 16;
    while (c < n)
        c *= 2;
    void *q = realloc(ptr, c * sz);
    if (q == NULL)
        free(ptr);
    *cap = q != NULL ? c : 0;
    return q;
}
#define RESERVE(field, n) \
    ((sc->field = reserve(sc->field, &sc->field##_cap, (n), sizeof *sc->field)) != NULL)

/* The next match of headers.separator in text[0..len) at or after from:
 * 1 with [*ms, *me), or 0. */
static int find_headers_sep(const struct options *opt, const char *text, size_t len,
                            size_t from, size_t *ms, size_t *me)
{
    if (opt->headers_sep_literal) {
        struct sep sep = {opt->headers_sep, strlen(opt->headers_sep)};
        const char *m = find_sep(text + from, len - from, sep);
        if (m == NULL)
            return 0;
        *ms = (size_t)(m - text);
        *me = *ms + sep.len;
        return 1;
    }
    regmatch_t rm[1];
#ifdef REG_STARTEND
    /* Offsets are into the whole text: '^' matches only at its start, as in
     * Java's Matcher.find(), and NUL bytes do not end the text. */
    rm[0].rm_so = (regoff_t)from;
    rm[0].rm_eo = (regoff_t)len;
    if (regexec(&opt->headers_sep_re, text, 1, rm, REG_STARTEND) != 0)
        return 0;
    *ms = (size_t)rm[0].rm_so;
    *me = (size_t)rm[0].rm_eo;
#else
    if (regexec(&opt->headers_sep_re, text + from, 1, rm, from > 0 ? REG_NOTBOL : 0) != 0)
        return 0;
    *ms = from + (size_t)rm[0].rm_so;
    *me = from + (size_t)rm[0].rm_eo;
#endif
    return 1;
}

/* Split text[0..len) at headers.separator as Java's String.split(regex)
 * does: a zero-width match at the start gives no leading empty piece; after
 * a zero-width match the search resumes one byte on; no match at all gives
 * the whole text; trailing empty pieces are dropped. Returns the number of
 * pieces in sc->pieces, or -1 out of memory. */
static long split_headers(const struct options *opt, struct scratch *sc, const char *text,
                          size_t len)
{
    size_t n = 0, index = 0;
    size_t first = SIZE_MAX, last = 0; /* the previous match, as Java's Matcher */
    for (;;) {
        size_t from = last == first ? last + 1 : last;
        size_t ms, me;
        if (from > len || !find_headers_sep(opt, text, len, from, &ms, &me))
            break;
        first = ms;
        last = me;
        if (index == 0 && ms == 0 && me == 0)
            continue;
        if (!RESERVE(pieces, n + 1))
            return -1;
        sc->pieces[n][0] = index;
        sc->pieces[n][1] = ms;
        n++;
        index = me;
    }
    if (!RESERVE(pieces, n + 1))
        return -1;
    if (index == 0) {
        sc->pieces[0][0] = 0;
        sc->pieces[0][1] = len;
        return 1;
    }
    sc->pieces[n][0] = index;
    sc->pieces[n][1] = len;
    n++;
    while (n > 0 && sc->pieces[n - 1][0] == sc->pieces[n - 1][1])
        n--;
    return (long)n;
}

/* Print "error: " and a parse error; part may be NULL. */
static void parse_error(const char *before, const char *part, size_t part_len, const char *after)
{
    flockfile(stderr);
    fputs("error: ", stderr);
    fputs(before, stderr);
    if (part != NULL)
        fwrite(part, 1, part_len, stderr);
    fputs(after, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Parse the HEADERS section hdr[0..len) of line lineno into sc->headers.
 * Returns the number of headers, or -1 after reporting an error. */
static long parse_headers(const struct options *opt, struct scratch *sc, unsigned long lineno,
                          const char *hdr, size_t len)
{
    if (!RESERVE(text, len + 1))
        goto oom;
    memcpy(sc->text, hdr, len);
    sc->text[len] = '\0';
    long npieces = split_headers(opt, sc, sc->text, len);
    if (npieces < 0 || !RESERVE(names, len + (size_t)npieces + 1) ||
        !RESERVE(headers, (size_t)npieces + 1))
        goto oom;

    size_t names_off = 0;
    for (long i = 0; i < npieces; i++) {
        const char *pair = sc->text + sc->pieces[i][0];
        size_t pair_len = sc->pieces[i][1] - sc->pieces[i][0];
        const char *ks = find_sep(pair, pair_len, opt->headers_key_sep);
        const char *name = pair, *value = NULL;
        size_t name_len = pair_len, value_len = 0;
        if (ks == NULL) {
            if (!opt->ignore_error) {
                char after[64];
                snprintf(after, sizeof after, "' on line number %lu", lineno);
                parse_error("No header key separator found in pair '", pair, pair_len, after);
                return -1;
            }
            /* Kafka: the whole pair is the name, the value null. */
        } else {
            name_len = (size_t)(ks - pair);
            if (is_null_marker(opt, name, name_len)) {
                parse_error("Header keys should not be equal to the null marker '",
                            opt->null_marker, opt->null_marker_len,
                            "' as they can't be null");
                return -1;
            }
            value = ks + opt->headers_key_sep.len;
            value_len = pair_len - name_len - opt->headers_key_sep.len;
            if (is_null_marker(opt, value, value_len))
                value = NULL;
        }
        if (memchr(name, '\0', name_len) != NULL) {
            fprintf(stderr, "error: a header name on line number %lu contains a NUL byte, "
                            "which a kprod header name cannot hold\n", lineno);
            return -1;
        }
        if (value_len > INT32_MAX) {
            fprintf(stderr, "error: a header value on line number %lu is too long\n", lineno);
            return -1;
        }
        char *n = sc->names + names_off;
        memcpy(n, name, name_len);
        n[name_len] = '\0';
        names_off += name_len + 1;
        sc->headers[i] = (kp_header_t){
            .key = n,
            .value = value, /* points into sc->text */
            .value_len = (int32_t)value_len,
        };
    }
    return npieces;

oom:
    fprintf(stderr, "error: line %lu: out of memory\n", lineno);
    return -1;
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

/* Parse and send one input line (without its line ending), as Kafka's
 * LineMessageReader: headers, then key, then value. Returns 0, or -1 when
 * the line cannot be parsed (reported; Kafka stops reading there). A record
 * that fails is reported and counted here or in on_delivery(). */
static int send_line(kp_producer_t *p, const struct options *opt, struct scratch *sc,
                     unsigned long lineno, const char *line, size_t len)
{
    const char *hdr = NULL, *key = NULL;
    size_t hdr_len = 0, key_len = 0, off = 0;

    if (opt->parse_headers) {
        const char *d = find_sep(line, len, opt->headers_delim);
        if (d != NULL) {
            hdr = line;
            hdr_len = (size_t)(d - line);
            off = hdr_len + opt->headers_delim.len;
        } else if (!opt->ignore_error) {
            char before[64];
            snprintf(before, sizeof before, "No headers delimiter found on line number %lu: '",
                     lineno);
            parse_error(before, line, len, "'");
            return -1;
        }
    }
    if (opt->parse_key) {
        const char *s = find_sep(line + off, len - off, opt->key_sep);
        if (s != NULL) {
            key = line + off;
            key_len = (size_t)(s - key);
            off += key_len + opt->key_sep.len;
        } else if (!opt->ignore_error) {
            char before[64];
            snprintf(before, sizeof before, "No key separator found on line number %lu: '",
                     lineno);
            parse_error(before, line, len, "'");
            return -1;
        }
    }
    const char *value = line + off;
    size_t value_len = len - off;

    long nheaders = 0;
    if (hdr != NULL && !is_null_marker(opt, hdr, hdr_len)) {
        nheaders = parse_headers(opt, sc, lineno, hdr, hdr_len);
        if (nheaders < 0)
            return -1;
    }
    if (key_len > INT32_MAX || value_len > INT32_MAX) {
        fprintf(stderr, "error: line %lu is too long for a Kafka record\n", lineno);
        atomic_fetch_add(&failed, 1);
        return 0;
    }

    struct pending *pd = malloc(sizeof *pd + key_len + value_len);
    if (pd == NULL) {
        fprintf(stderr, "error: line %lu: out of memory\n", lineno);
        atomic_fetch_add(&failed, 1);
        return 0;
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
        /* NULL is a null key: no parse.key, no key separator under
         * ignore.error, or the null marker. An empty line is an empty value. */
        .key = key != NULL && !is_null_marker(opt, key, key_len) ? key : NULL,
        .key_len = (int32_t)key_len,
        .value = is_null_marker(opt, value, value_len) ? NULL : value,
        .value_len = (int32_t)value_len,
        .headers = nheaders > 0 ? sc->headers : NULL,
        .header_count = (size_t)nheaders,
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

int main(int argc, char **argv)
{
    struct options opt = {0};
    struct scratch sc = {0};
    int rc = parse_args(argc, argv, &opt), status = 0;
    if (rc != 0) {
        status = rc < 0 ? 0 : rc;
        goto out;
    }

    kp_config_t *conf = make_config(&opt);
    if (conf == NULL) {
        status = 1;
        goto out;
    }
    char errstr[512];
    kp_producer_t *p = kp_producer_new(conf, errstr, sizeof errstr);
    kp_config_destroy(conf);
    if (p == NULL) {
        fprintf(stderr, "kprod-console: cannot create producer: %s\n", errstr);
        status = 1;
        goto out;
    }

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
        if (send_line(p, &opt, &sc, lineno, line, len) != 0) {
            /* A parse error ends the input, as in Kafka; what was sent
             * is still delivered below. */
            atomic_fetch_add(&failed, 1);
            break;
        }
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
    if (atomic_load(&failed) > 0)
        status = 1;

out:
    free(opt.props);
    if (opt.headers_sep_re_ok)
        regfree(&opt.headers_sep_re);
    free(sc.text);
    free(sc.names);
    free(sc.pieces);
    free(sc.headers);
    return status;
}

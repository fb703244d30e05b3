/*
 * console_parse — kprod-console's line parser: one input line split into
 * headers, key and value as Kafka's LineMessageReader splits it.
 *
 *     [HEADERS<headers.delimiter>][KEY<key.separator>]VALUE
 *
 * Kept apart from the tool so that it can be tested and fuzzed on its own:
 * no global state, no I/O, no exit() or abort(); an error comes back as
 * text (Kafka's words) for the caller to print. A line is any bytes of any
 * length (NUL included); the work and memory are linear in its length.
 * kprod.h is used only for kp_header_t, so a harness can link this file
 * without the library.
 *
 * Use:
 *     kp_console_parser_t *ps;
 *     char err[512];
 *     if (kp_console_parser_new(&opts, &ps, err, sizeof err) != 0) ... exit 2
 *     for each line:
 *         kp_console_line_t l;
 *         int rc = kp_console_parse_line(ps, lineno, line, len, &l);
 *         rc == 0: send l.key/l.value/l.headers;
 *         rc < 0: print l.error (l.error_len bytes; it may hold any byte)
 *     kp_console_parser_destroy(ps);
 */
#ifndef KPROD_CONSOLE_PARSE_H
#define KPROD_CONSOLE_PARSE_H

#include <stddef.h>

#include <kprod/kprod.h>

/* The line reader's properties (kafka-console-producer's --property), as
 * NUL-terminated strings; NULL for a string means Kafka's default. The
 * parser copies them. */
typedef struct kp_console_opts {
    int parse_key;                     /* the line has KEY<key.separator> */
    int parse_headers;                 /* the line starts with HEADERS<headers.delimiter> */
    int ignore_error;                  /* make the best of a malformed line */
    const char *key_separator;         /* default "\t" */
    const char *headers_delimiter;     /* default "\t" */
    const char *headers_separator;     /* a regular expression (POSIX ERE); default "," */
    const char *headers_key_separator; /* default ":" */
    const char *null_marker;           /* NULL: none; "" makes empty fields null */
} kp_console_opts_t;

/* Results of kp_console_parser_new() and kp_console_parse_line(). */
enum {
    KP_CONSOLE_OK = 0,
    /* Malformed line (Kafka's parse errors, or a header name holding a NUL
     * byte): Kafka's tool stops reading at such a line. */
    KP_CONSOLE_ERR_PARSE = -1,
    /* Well formed, but the key, the value or a header value is longer than
     * a Kafka record can hold (INT32_MAX bytes): the record cannot be sent;
     * the next line can. */
    KP_CONSOLE_ERR_TOO_LONG = -2,
    KP_CONSOLE_ERR_NOMEM = -3,
    /* kp_console_parser_new(): properties Kafka refuses (a usage error). */
    KP_CONSOLE_ERR_CONFIG = -4,
};

typedef struct kp_console_parser kp_console_parser_t;

/* One parsed line. Pointers point into the line or into the parser, valid
 * until the next kp_console_parse_line() or kp_console_parser_destroy(). */
typedef struct kp_console_line {
    /* The KEY and VALUE fields as they appear on the line (key NULL when
     * the line has no KEY field), to name the record in messages. */
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    /* Whether each is sent as null: no KEY field, or equal to null.marker. */
    int key_null;
    int value_null;
    const kp_header_t *headers; /* NULL when header_count is 0 */
    size_t header_count;
    /* On error: the message (no "error: " prefix, no newline; it may quote
     * the line, so it may hold any byte). NULL on success. */
    const char *error;
    size_t error_len;
} kp_console_line_t;

/* Check the properties as Kafka's LineMessageReader.configure() does (and
 * refuse empty separators), compile headers.separator, and make a parser
 * in *out. KP_CONSOLE_ERR_CONFIG or KP_CONSOLE_ERR_NOMEM with a message in
 * errbuf (errsize bytes, NUL-terminated) and *out NULL on error. */
int kp_console_parser_new(const kp_console_opts_t *opts, kp_console_parser_t **out,
                          char *errbuf, size_t errsize);

/* Parse line[0..len) (without its line ending), line number lineno (for
 * Kafka's messages). Returns KP_CONSOLE_OK, or an error with out->error
 * set (then only error and error_len are meaningful). Never writes to
 * line; line may be NULL when len is 0. ps and out must not be NULL (the
 * call then returns KP_CONSOLE_ERR_PARSE and sets nothing). */
int kp_console_parse_line(kp_console_parser_t *ps, unsigned long lineno, const char *line,
                          size_t len, kp_console_line_t *out);

/* Free a parser (NULL is a no-op). */
void kp_console_parser_destroy(kp_console_parser_t *ps);

#endif

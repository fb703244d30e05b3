/*
 * console_parse — kprod-console's line parser (see console_parse.h): Kafka's
 * LineMessageReader rules for splitting a line into headers, key and value,
 * with Kafka's error messages.
 *
 * Lines hold any bytes, so separators are matched as byte strings, never as
 * C strings; only headers.separator, a regular expression, needs a
 * NUL-terminated copy of the HEADERS section for regexec(). Everything the
 * parser allocates is per parser (scratch space reused from line to line),
 * and no input makes it print, exit or abort: it is the fuzzing target for
 * kprod-console's input.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif

#include "console_parse.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A separator: a byte string (NUL-terminated too, as a copy of a C string). */
struct sep {
    char *s;
    size_t len;
};

struct kp_console_parser {
    int parse_key;
    int parse_headers;
    int ignore_error;
    struct sep key_sep;
    struct sep headers_delim;
    struct sep headers_key_sep;
    struct sep headers_sep;  /* a regular expression */
    int headers_sep_literal; /* it has no regex syntax: matched as bytes */
    regex_t headers_sep_re;  /* compiled when !headers_sep_literal */
    int headers_sep_re_ok;
    struct sep null_marker; /* s NULL: none */

    /* Per-line scratch space, reused from line to line. */
    char *text; /* the HEADERS section, NUL-terminated (for regexec) */
    size_t text_cap;
    char *names; /* header names, each NUL-terminated */
    size_t names_cap;
    size_t (*pieces)[2]; /* header pairs: [start, end) in text */
    size_t pieces_cap;
    kp_header_t *headers;
    size_t headers_cap;
    char *err; /* the last error message, when it quotes the line */
    size_t err_cap;
    char err_short[192]; /* the last error message otherwise (no allocation) */
};

/* ---- memory ------------------------------------------------------------ */

/* ptr, grown if need be to hold n elements of size sz (*cap elements now).
 * Out of memory or a size that overflows: frees ptr, sets *cap to 0 and
 * returns NULL. */
static void *reserve(void *ptr, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return ptr;
    void *q = NULL;
    if (n <= SIZE_MAX / sz) {
        size_t c = *cap ? *cap : 16;
        while (c < n)
            c = c > SIZE_MAX / 2 ? n : c * 2;
        if (c > SIZE_MAX / sz)
            c = n;
        q = realloc(ptr, c * sz);
        if (q != NULL)
            *cap = c;
    }
    if (q == NULL) {
        free(ptr);
        *cap = 0;
    }
    return q;
}
#define RESERVE(field, n) \
    ((ps->field = reserve(ps->field, &ps->field##_cap, (n), sizeof *ps->field)) != NULL)

/* ---- errors ------------------------------------------------------------ */

/* Set out's error to before + part[0..part_len) + after (part may hold any
 * byte) and return rc. Without memory for the whole text, part is left out. */
static int set_error(kp_console_parser_t *ps, kp_console_line_t *out, int rc, const char *before,
                     const char *part, size_t part_len, const char *after)
{
    size_t b = strlen(before), a = strlen(after);
    if (part_len <= SIZE_MAX - b - a - 1 && RESERVE(err, b + part_len + a + 1)) {
        memcpy(ps->err, before, b);
        if (part_len > 0)
            memcpy(ps->err + b, part, part_len);
        memcpy(ps->err + b + part_len, after, a + 1);
        out->error = ps->err;
        out->error_len = b + part_len + a;
    } else {
        snprintf(ps->err_short, sizeof ps->err_short, "%s...%s", before, after);
        out->error = ps->err_short;
        out->error_len = strlen(ps->err_short);
    }
    return rc;
}

/* Set out's error to a short message about line lineno; return rc. */
static int short_error(kp_console_parser_t *ps, kp_console_line_t *out, int rc, const char *fmt,
                       unsigned long lineno)
{
    snprintf(ps->err_short, sizeof ps->err_short, fmt, lineno);
    out->error = ps->err_short;
    out->error_len = strlen(ps->err_short);
    return rc;
}

/* ---- configuration ----------------------------------------------------- */

/* *sep = a copy of value, or of dflt when value is NULL. 0, or -1 out of
 * memory. */
static int copy_sep(struct sep *sep, const char *value, const char *dflt)
{
    const char *v = value != NULL ? value : dflt;
    sep->s = strdup(v);
    sep->len = strlen(v);
    return sep->s != NULL ? 0 : -1;
}

static int same(struct sep a, struct sep b)
{
    return a.s != NULL && b.s != NULL && a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

/* Refuse what Kafka's LineMessageReader.configure() refuses, in its order
 * and with its words (whether or not parse.headers is set, as Kafka), and
 * empty separators (nothing could be split at them); compile
 * headers.separator. */
static int check_config(kp_console_parser_t *ps, char *errbuf, size_t errsize)
{
    static const char *const names[] = {"key.separator", "headers.delimiter",
                                        "headers.key.separator", "headers.separator"};
    const struct sep *seps[] = {&ps->key_sep, &ps->headers_delim, &ps->headers_key_sep,
                                &ps->headers_sep};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (seps[i]->len == 0) {
            snprintf(errbuf, errsize, "%s must not be empty", names[i]);
            return KP_CONSOLE_ERR_CONFIG;
        }
    ps->headers_sep_literal = strpbrk(ps->headers_sep.s, ".[]()*+?{}|^$\\") == NULL;
    if (!ps->headers_sep_literal) {
        int rc = regcomp(&ps->headers_sep_re, ps->headers_sep.s, REG_EXTENDED);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &ps->headers_sep_re, msg, sizeof msg);
            snprintf(errbuf, errsize, "headers.separator '%s' is not a valid regular expression: %s",
                     ps->headers_sep.s, msg);
            return KP_CONSOLE_ERR_CONFIG;
        }
        ps->headers_sep_re_ok = 1;
    }
    const char *conflict = NULL;
    if (same(ps->headers_delim, ps->headers_sep))
        conflict = "headers.delimiter and headers.separator may not be equal";
    else if (same(ps->headers_delim, ps->headers_key_sep))
        conflict = "headers.delimiter and headers.key.separator may not be equal";
    else if (same(ps->headers_key_sep, ps->headers_sep))
        conflict = "headers.separator and headers.key.separator may not be equal";
    else if (same(ps->key_sep, ps->null_marker))
        conflict = "null.marker and key.separator may not be equal";
    else if (same(ps->headers_sep, ps->null_marker))
        conflict = "null.marker and headers.separator may not be equal";
    else if (same(ps->headers_delim, ps->null_marker))
        conflict = "null.marker and headers.delimiter may not be equal";
    else if (same(ps->headers_key_sep, ps->null_marker))
        conflict = "null.marker and headers.key.separator may not be equal";
    if (conflict != NULL) {
        snprintf(errbuf, errsize, "%s", conflict);
        return KP_CONSOLE_ERR_CONFIG;
    }
    return KP_CONSOLE_OK;
}

int kp_console_parser_new(const kp_console_opts_t *opts, kp_console_parser_t **out,
                          char *errbuf, size_t errsize)
{
    if (errbuf == NULL)
        errsize = 0;
    *out = NULL;
    kp_console_parser_t *ps = calloc(1, sizeof *ps);
    if (ps == NULL || copy_sep(&ps->key_sep, opts->key_separator, "\t") != 0 ||
        copy_sep(&ps->headers_delim, opts->headers_delimiter, "\t") != 0 ||
        copy_sep(&ps->headers_key_sep, opts->headers_key_separator, ":") != 0 ||
        copy_sep(&ps->headers_sep, opts->headers_separator, ",") != 0 ||
        (opts->null_marker != NULL && copy_sep(&ps->null_marker, opts->null_marker, NULL) != 0)) {
        kp_console_parser_destroy(ps);
        snprintf(errbuf, errsize, "out of memory");
        return KP_CONSOLE_ERR_NOMEM;
    }
    ps->parse_key = opts->parse_key != 0;
    ps->parse_headers = opts->parse_headers != 0;
    ps->ignore_error = opts->ignore_error != 0;
    int rc = check_config(ps, errbuf, errsize);
    if (rc != KP_CONSOLE_OK) {
        kp_console_parser_destroy(ps);
        return rc;
    }
    *out = ps;
    return KP_CONSOLE_OK;
}

void kp_console_parser_destroy(kp_console_parser_t *ps)
{
    if (ps == NULL)
        return;
    if (ps->headers_sep_re_ok)
        regfree(&ps->headers_sep_re);
    free(ps->key_sep.s);
    free(ps->headers_delim.s);
    free(ps->headers_key_sep.s);
    free(ps->headers_sep.s);
    free(ps->null_marker.s);
    free(ps->text);
    free(ps->names);
    free(ps->pieces);
    free(ps->headers);
    free(ps->err);
    free(ps);
}

/* ---- splitting --------------------------------------------------------- */

/* The first occurrence of sep (not empty) in buf[0..len), or NULL. */
static const char *find_sep(const char *buf, size_t len, struct sep sep)
{
    if (sep.len == 0 || sep.len > len)
        return NULL;
    for (size_t i = 0; i + sep.len <= len; i++)
        if (buf[i] == sep.s[0] && memcmp(buf + i, sep.s, sep.len) == 0)
            return buf + i;
    return NULL;
}

static int is_null_marker(const kp_console_parser_t *ps, const char *s, size_t len)
{
    return ps->null_marker.s != NULL && len == ps->null_marker.len &&
           memcmp(s, ps->null_marker.s, len) == 0;
}

/* The next match of headers.separator in text[0..len) (NUL-terminated) at
 * or after from: 1 with [*ms, *me), or 0. */
static int find_headers_sep(const kp_console_parser_t *ps, const char *text, size_t len,
                            size_t from, size_t *ms, size_t *me)
{
    if (ps->headers_sep_literal) {
        const char *m = find_sep(text + from, len - from, ps->headers_sep);
        if (m == NULL)
            return 0;
        *ms = (size_t)(m - text);
        *me = *ms + ps->headers_sep.len;
        return 1;
    }
    regmatch_t rm[1];
#ifdef REG_STARTEND
    /* Offsets are into the whole text: '^' matches only at its start, as in
     * Java's Matcher.find(), and NUL bytes do not end the text. */
    rm[0].rm_so = (regoff_t)from;
    rm[0].rm_eo = (regoff_t)len;
    if (regexec(&ps->headers_sep_re, text, 1, rm, REG_STARTEND) != 0)
        return 0;
    *ms = (size_t)rm[0].rm_so;
    *me = (size_t)rm[0].rm_eo;
#else
    if (regexec(&ps->headers_sep_re, text + from, 1, rm, from > 0 ? REG_NOTBOL : 0) != 0)
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
 * pieces in ps->pieces, or -1 out of memory. At most len + 1 pieces: each
 * match but the first zero-width one moves on by at least one byte. */
static long split_headers(kp_console_parser_t *ps, const char *text, size_t len)
{
    size_t n = 0, index = 0;
    size_t first = SIZE_MAX, last = 0; /* the previous match, as Java's Matcher */
    for (;;) {
        size_t from = last == first ? last + 1 : last;
        size_t ms, me;
        if (from > len || !find_headers_sep(ps, text, len, from, &ms, &me))
            break;
        first = ms;
        last = me;
        if (index == 0 && ms == 0 && me == 0)
            continue;
        if (!RESERVE(pieces, n + 1))
            return -1;
        ps->pieces[n][0] = index;
        ps->pieces[n][1] = ms;
        n++;
        index = me;
    }
    if (!RESERVE(pieces, n + 1))
        return -1;
    if (index == 0) {
        ps->pieces[0][0] = 0;
        ps->pieces[0][1] = len;
        return 1;
    }
    ps->pieces[n][0] = index;
    ps->pieces[n][1] = len;
    n++;
    while (n > 0 && ps->pieces[n - 1][0] == ps->pieces[n - 1][1])
        n--;
    return (long)n;
}

/* One header pair pair[0..pair_len) of line lineno into ps->headers[i], its
 * name copied to ps->names + *names_off. KP_CONSOLE_OK or an error (set in
 * out); *too_long set when the value is over a record's limit. */
static int parse_pair(kp_console_parser_t *ps, kp_console_line_t *out, unsigned long lineno,
                      const char *pair, size_t pair_len, size_t i, size_t *names_off,
                      int *too_long)
{
    const char *ks = find_sep(pair, pair_len, ps->headers_key_sep);
    const char *name = pair, *value = NULL;
    size_t name_len = pair_len, value_len = 0;
    if (ks == NULL) {
        if (!ps->ignore_error) {
            char after[64];
            snprintf(after, sizeof after, "' on line number %lu", lineno);
            return set_error(ps, out, KP_CONSOLE_ERR_PARSE,
                             "No header key separator found in pair '", pair, pair_len, after);
        }
        /* Kafka: the whole pair is the name, the value null. */
    } else {
        name_len = (size_t)(ks - pair);
        if (is_null_marker(ps, name, name_len))
            return set_error(ps, out, KP_CONSOLE_ERR_PARSE,
                             "Header keys should not be equal to the null marker '",
                             ps->null_marker.s, ps->null_marker.len, "' as they can't be null");
        value = ks + ps->headers_key_sep.len;
        value_len = pair_len - name_len - ps->headers_key_sep.len;
        if (is_null_marker(ps, value, value_len))
            value = NULL;
    }
    if (memchr(name, '\0', name_len) != NULL)
        return short_error(ps, out, KP_CONSOLE_ERR_PARSE,
                           "a header name on line number %lu contains a NUL byte, which a "
                           "kprod header name cannot hold",
                           lineno);
    if (value_len > INT32_MAX) {
        *too_long = 1;
        value_len = 0;
    }
    char *n = ps->names + *names_off;
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    *names_off += name_len + 1;
    ps->headers[i] = (kp_header_t){
        .key = n,
        .value = value, /* points into ps->text */
        .value_len = (int32_t)value_len,
    };
    return KP_CONSOLE_OK;
}

/* Parse the HEADERS section hdr[0..len) of line lineno into ps->headers and
 * out. KP_CONSOLE_OK or an error (set in out). */
static int parse_headers(kp_console_parser_t *ps, kp_console_line_t *out, unsigned long lineno,
                         const char *hdr, size_t len)
{
    if (len >= SIZE_MAX / 4 || !RESERVE(text, len + 1))
        goto oom;
    memcpy(ps->text, hdr, len);
    ps->text[len] = '\0';
    long npieces = split_headers(ps, ps->text, len);
    /* names: every name and its NUL; npieces <= len + 1 */
    if (npieces < 0 || !RESERVE(names, len + (size_t)npieces + 1) ||
        !RESERVE(headers, (size_t)npieces + 1))
        goto oom;

    size_t names_off = 0;
    int too_long = 0;
    for (size_t i = 0; i < (size_t)npieces; i++) {
        int rc = parse_pair(ps, out, lineno, ps->text + ps->pieces[i][0],
                            ps->pieces[i][1] - ps->pieces[i][0], i, &names_off, &too_long);
        if (rc != KP_CONSOLE_OK)
            return rc;
    }
    if (too_long)
        return short_error(ps, out, KP_CONSOLE_ERR_TOO_LONG,
                           "a header value on line number %lu is too long for a Kafka record",
                           lineno);
    out->headers = npieces > 0 ? ps->headers : NULL;
    out->header_count = (size_t)npieces;
    return KP_CONSOLE_OK;

oom:
    return short_error(ps, out, KP_CONSOLE_ERR_NOMEM, "line %lu: out of memory", lineno);
}

/* Kafka's "No ... found on line number N: 'LINE'" for line lineno. */
static int missing_sep(kp_console_parser_t *ps, kp_console_line_t *out, const char *what,
                       unsigned long lineno, const char *line, size_t len)
{
    char before[96];
    snprintf(before, sizeof before, "No %s found on line number %lu: '", what, lineno);
    return set_error(ps, out, KP_CONSOLE_ERR_PARSE, before, line, len, "'");
}

int kp_console_parse_line(kp_console_parser_t *ps, unsigned long lineno, const char *line,
                          size_t len, kp_console_line_t *out)
{
    if (ps == NULL || out == NULL)
        return KP_CONSOLE_ERR_PARSE;
    *out = (kp_console_line_t){0};
    if (line == NULL) {
        if (len > 0)
            return short_error(ps, out, KP_CONSOLE_ERR_PARSE, "line %lu: no text", lineno);
        line = "";
    }
    const char *hdr = NULL;
    size_t hdr_len = 0, off = 0;
    if (ps->parse_headers) {
        const char *d = find_sep(line, len, ps->headers_delim);
        if (d != NULL) {
            hdr = line;
            hdr_len = (size_t)(d - line);
            off = hdr_len + ps->headers_delim.len;
        } else if (!ps->ignore_error) {
            return missing_sep(ps, out, "headers delimiter", lineno, line, len);
        }
    }
    if (ps->parse_key) {
        const char *s = find_sep(line + off, len - off, ps->key_sep);
        if (s != NULL) {
            out->key = line + off;
            out->key_len = (size_t)(s - out->key);
            off += out->key_len + ps->key_sep.len;
        } else if (!ps->ignore_error) {
            return missing_sep(ps, out, "key separator", lineno, line, len);
        }
    }
    out->value = line + off;
    out->value_len = len - off;
    /* A null key: no parse.key, no key separator under ignore.error, or the
     * null marker. An empty field is an empty key or value, not null. */
    out->key_null = out->key == NULL || is_null_marker(ps, out->key, out->key_len);
    out->value_null = is_null_marker(ps, out->value, out->value_len);

    /* HEADERS equal to the null marker: no headers */
    if (hdr != NULL && !is_null_marker(ps, hdr, hdr_len)) {
        int rc = parse_headers(ps, out, lineno, hdr, hdr_len);
        if (rc != KP_CONSOLE_OK)
            return rc;
    }
    if (out->key_len > INT32_MAX || out->value_len > INT32_MAX)
        return short_error(ps, out, KP_CONSOLE_ERR_TOO_LONG,
                           "line %lu is too long for a Kafka record", lineno);
    return KP_CONSOLE_OK;
}

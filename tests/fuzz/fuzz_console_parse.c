/*
 * fuzz_console_parse — kprod-console's line parser (tools/console_parse.c):
 * kp_console_parser_new with the line reader's properties, then
 * kp_console_parse_line on each input line, as kprod-console does.
 *
 * Input: byte 0 holds the options: bit 0 parse.key, 1 parse.headers,
 * 2 ignore.error, 3 a null.marker follows, 4 custom separators follow,
 * 5-7 headers.separator from a fixed list of regular expressions (the
 * separator comes from the command line, not from the input, and fuzzing
 * glibc's regex engine is not the aim). Then, with bit 4, key.separator,
 * headers.delimiter and headers.key.separator, each a length byte (mod 4)
 * and its bytes; with bit 3 the null.marker the same way (mod 8). The rest
 * is the input, split into lines at '\n' (and a trailing '\r' dropped, as
 * the tool's reader does).
 *
 * Checks: success means no error and key, value and headers inside the
 * line (headers readable to their end, names NUL-terminated), key +
 * separator + value contiguous; an error has a message; the parser frees
 * cleanly (leaks fail the run).
 */
#include <string.h>

#include "console_parse.h"
#include "fuzz.h"

static const char *const header_seps[8] = {NULL, ",", "\\|", "[,;]", ", *", "x*", "^a", "a|b"};

/* A NUL-terminated option taken from the input: length byte % mod, bytes. */
static char *take_opt(const uint8_t **p, size_t *left, unsigned mod) {
    if (*left < 1)
        return NULL;
    size_t n = (*p)[0] % mod;
    if (n > *left - 1)
        n = *left - 1;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, *p + 1, n);
    s[n] = '\0';
    *p += n + 1;
    *left -= n + 1;
    return s;
}

static unsigned sum_bytes(const void *p, size_t n) {
    const unsigned char *c = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += c[i];
    return s;
}

static void check_line(const kp_console_opts_t *o, const char *ksep, const char *line,
                       size_t len, int rc, const kp_console_line_t *l) {
    FUZZ_CHECK(rc == KP_CONSOLE_OK || rc == KP_CONSOLE_ERR_PARSE ||
               rc == KP_CONSOLE_ERR_TOO_LONG || rc == KP_CONSOLE_ERR_NOMEM);
    if (rc != KP_CONSOLE_OK) {
        FUZZ_CHECK(l->error != NULL && l->error_len > 0);
        (void)sum_bytes(l->error, l->error_len);
        return;
    }
    FUZZ_CHECK(l->error == NULL);
    FUZZ_CHECK(l->value != NULL && fuzz_within(l->value, l->value_len, line, len));
    if (l->key) {
        FUZZ_CHECK(o->parse_key);
        FUZZ_CHECK(fuzz_within(l->key, l->key_len, line, len));
        FUZZ_CHECK(l->value == l->key + l->key_len + strlen(ksep));
        FUZZ_CHECK(memcmp(l->key + l->key_len, ksep, strlen(ksep)) == 0);
    } else {
        FUZZ_CHECK(l->key_null && l->key_len == 0);
    }
    FUZZ_CHECK(l->value + l->value_len == line + len); /* the value runs to the end */
    FUZZ_CHECK((l->header_count == 0) == (l->headers == NULL));
    FUZZ_CHECK(l->header_count <= len + 1);
    for (size_t i = 0; i < l->header_count; i++) {
        const kp_header_t *h = &l->headers[i];
        FUZZ_CHECK(h->key != NULL && strlen(h->key) <= len);
        if (h->value) {
            FUZZ_CHECK(h->value_len >= 0 && (size_t)h->value_len <= len);
            (void)sum_bytes(h->value, (size_t)h->value_len);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    kp_console_opts_t o = {0};
    o.parse_key = flags & 1;
    o.parse_headers = (flags >> 1) & 1;
    o.ignore_error = (flags >> 2) & 1;
    o.headers_separator = header_seps[flags >> 5];
    char *ks = NULL, *hd = NULL, *hks = NULL, *nm = NULL;
    if (flags & 16) {
        o.key_separator = ks = take_opt(&p, &left, 4);
        o.headers_delimiter = hd = take_opt(&p, &left, 4);
        o.headers_key_separator = hks = take_opt(&p, &left, 4);
    }
    if (flags & 8)
        o.null_marker = nm = take_opt(&p, &left, 8);

    kp_console_parser_t *ps;
    char err[512];
    int rc = kp_console_parser_new(&o, &ps, err, sizeof(err));
    FUZZ_CHECK(rc == KP_CONSOLE_OK || rc == KP_CONSOLE_ERR_CONFIG || rc == KP_CONSOLE_ERR_NOMEM);
    if (rc != KP_CONSOLE_OK) {
        FUZZ_CHECK(ps == NULL && memchr(err, '\0', sizeof(err)) && err[0]);
    } else {
        /* the parser copied the options: they may go now */
        char ksep[4];
        snprintf(ksep, sizeof(ksep), "%s", o.key_separator ? o.key_separator : "\t");
        free(ks), free(hd), free(hks), free(nm);
        ks = hd = hks = nm = NULL;
        o.key_separator = o.headers_delimiter = o.headers_key_separator = o.null_marker = NULL;
        const char *text = (const char *)p;
        unsigned long lineno = 0;
        while (left > 0 || lineno == 0) {
            const char *nl = left ? memchr(text, '\n', left) : NULL;
            size_t n = nl ? (size_t)(nl - text) : left;
            size_t len = n;
            if (len > 0 && text[len - 1] == '\r')
                len--;
            /* an exact-size copy: reading past the line is an ASan report */
            char *line = malloc(len ? len : 1);
            if (!line)
                break;
            memcpy(line, text, len);
            kp_console_line_t l;
            lineno++;
            rc = kp_console_parse_line(ps, lineno, line, len, &l);
            check_line(&o, ksep, line, len, rc, &l);
            free(line);
            if (!nl)
                break;
            text += n + 1;
            left -= n + 1;
        }
        kp_console_parser_destroy(ps);
    }
    free(ks), free(hd), free(hks), free(nm);
    return 0;
}

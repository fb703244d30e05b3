/*
 * json — the JSON writer of json.h.
 *
 * The state is a stack of levels: level 0 is the top (it takes one value),
 * level d > 0 the d-th open object or array. Each value first goes through
 * begin_value(), which checks the key against the level (an object's
 * members have keys, nothing else does), writes the comma when the level
 * already holds something, then the key and its colon. The first error
 * sticks: every later call returns at once, so a caller writes a whole
 * document and checks once, at kp_json_done().
 *
 * Strings are checked as UTF-8 as they are copied (Unicode's table 3-7 of
 * well-formed sequences: no overlong forms, no surrogates, nothing above
 * U+10FFFF). Each maximal ill-formed subpart becomes one \ufffd, the
 * replacement Unicode recommends (and Python's decode(errors="replace")
 * makes), so a document always parses and never carries raw bad bytes.
 */
#include "base/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "kprod/kprod.h"

void kp_json_init(kp_json_t *j)
{
    memset(j, 0, sizeof *j);
    j->first[0] = 1;
}

void kp_json_free(kp_json_t *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}

static void fail(kp_json_t *j, int err)
{
    if (!j->err)
        j->err = err;
}

/* Room for n more bytes and the NUL after them; 0 (and err) if none. */
static int reserve(kp_json_t *j, size_t n)
{
    if (j->err)
        return 0;
    if (n > SIZE_MAX / 2 - j->len) {
        fail(j, KP_ERR_NOMEM);
        return 0;
    }
    size_t need = j->len + n + 1;
    if (need <= j->cap)
        return 1;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = kp_realloc(j->buf, cap);
    if (!p) {
        fail(j, KP_ERR_NOMEM);
        return 0;
    }
    j->buf = p;
    j->cap = cap;
    return 1;
}

static void put(kp_json_t *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0 with *bad
 * the length of its maximal ill-formed subpart (at least 1). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2, lo = 0xA0; /* no overlong 3-byte form */
    } else if (c == 0xED) {
        need = 2, hi = 0x9F; /* no surrogates */
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 2;
    } else if (c == 0xF0) {
        need = 3, lo = 0x90; /* no overlong 4-byte form */
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else if (c == 0xF4) {
        need = 3, hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1; /* 80..C1, F5..FF never start a sequence */
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

/* s[0..n) as a JSON string, quotes included. */
static void put_string(kp_json_t *j, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;

    /* worst case: every byte becomes a 6-byte \u escape */
    if (n > (SIZE_MAX / 2 - 2) / 6) {
        fail(j, KP_ERR_NOMEM);
        return;
    }
    if (!reserve(j, 6 * n + 2))
        return;
    char *o = j->buf + j->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t bad = 0, k;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            k = utf8_seq(s + i, n - i, &bad);
            if (k) {
                memcpy(o, s + i, k);
                o += k;
                i += k;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i += bad;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
        i++;
    }
    *o++ = '"';
    *o = '\0';
    j->len = (size_t)(o - j->buf);
}

/* Checks the key against the level, then writes the comma and the key.
 * 0 when the value must not be written. */
static int begin_value(kp_json_t *j, const char *key)
{
    if (j->err)
        return 0;
    int d = j->depth;
    if (d < 0 || d > KP_JSON_MAX_DEPTH) { /* not kept by these functions */
        fail(j, KP_ERR_INVALID_ARG);
        return 0;
    }
    int want_key = d > 0 && j->in_obj[d];
    if ((key != NULL) != want_key || (d == 0 && !j->first[0])) {
        fail(j, KP_ERR_INVALID_ARG);
        return 0;
    }
    if (!j->first[d])
        put(j, ",", 1);
    j->first[d] = 0;
    if (key) {
        put_string(j, key, strlen(key));
        put(j, ":", 1);
    }
    return !j->err;
}

static void open_level(kp_json_t *j, const char *key, int obj)
{
    if (j->err)
        return;
    if (j->depth >= KP_JSON_MAX_DEPTH) {
        fail(j, KP_ERR_INVALID_ARG);
        return;
    }
    if (!begin_value(j, key))
        return;
    put(j, obj ? "{" : "[", 1);
    j->depth++;
    j->in_obj[j->depth] = (unsigned char)obj;
    j->first[j->depth] = 1;
}

static void close_level(kp_json_t *j, int obj)
{
    if (j->err)
        return;
    if (j->depth <= 0 || j->depth > KP_JSON_MAX_DEPTH || j->in_obj[j->depth] != obj) {
        fail(j, KP_ERR_INVALID_ARG);
        return;
    }
    put(j, obj ? "}" : "]", 1);
    j->depth--;
}

void kp_json_obj(kp_json_t *j, const char *key) { open_level(j, key, 1); }
void kp_json_obj_end(kp_json_t *j) { close_level(j, 1); }
void kp_json_arr(kp_json_t *j, const char *key) { open_level(j, key, 0); }
void kp_json_arr_end(kp_json_t *j) { close_level(j, 0); }

void kp_json_strn(kp_json_t *j, const char *key, const char *v, size_t n)
{
    if (!begin_value(j, key))
        return;
    if (v)
        put_string(j, v, n);
    else
        put(j, "null", 4);
}

void kp_json_str(kp_json_t *j, const char *key, const char *v)
{
    kp_json_strn(j, key, v, v ? strlen(v) : 0);
}

void kp_json_int(kp_json_t *j, const char *key, int64_t v)
{
    char tmp[24];

    if (!begin_value(j, key))
        return;
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(j, tmp, (size_t)n);
}

/* v (finite) in the fewest of 15, 16, 17 significant digits that read back
 * as v; %.15g already drops trailing zeros, so a shorter form that reads
 * back comes out as itself. The locale's decimal point (whatever bytes it
 * is) becomes '.'. */
static size_t format_double(double v, char out[40])
{
    char tmp[64];
    int n = 0;

    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    size_t k = 0;
    for (int i = 0; i < n && k < 39;) {
        char c = tmp[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
            out[k++] = c;
            i++;
            continue;
        }
        out[k++] = '.';
        while (i < n && !(tmp[i] >= '0' && tmp[i] <= '9') && tmp[i] != 'e')
            i++;
    }
    out[k] = '\0';
    return k;
}

void kp_json_num(kp_json_t *j, const char *key, double v)
{
    char tmp[40];

    if (!begin_value(j, key))
        return;
    if (!isfinite(v)) {
        put(j, "null", 4);
        return;
    }
    put(j, tmp, format_double(v, tmp));
}

void kp_json_bool(kp_json_t *j, const char *key, int v)
{
    if (begin_value(j, key))
        put(j, v ? "true" : "false", v ? 4 : 5);
}

const char *kp_json_done(kp_json_t *j, size_t *len)
{
    int ok = !j->err && j->depth == 0 && !j->first[0] && j->buf;
    if (len)
        *len = ok ? j->len : 0;
    return ok ? j->buf : NULL;
}

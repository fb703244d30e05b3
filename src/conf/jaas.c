/*
 * jaas — parses `sasl.jaas.config` (Java's JAAS syntax) into a kp_jaas_t;
 * the grammar and where it is stricter than Java are in jaas.h.
 *
 * Why a tokenizer of our own rather than a regular expression: Kafka reads
 * the property with java.io.StreamTokenizer (JaasConfig.java), whose rules
 * decide what a config means (quotes of either kind, backslash escapes
 * including octal, comments of three kinds, '=' and ';' as tokens even
 * inside an unquoted run); the lexer below reproduces them so a file that
 * works with the Java client means the same here.
 *
 * Secrets: token text is never copied into an error (see jaas.h), and every
 * buffer that held a token is zeroed before it is freed.
 */
#include "base/alloc.h"
#include "conf/jaas.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define PFX "sasl.jaas.config: "

enum tok { T_EOF, T_WORD, T_QUOTED, T_SEMI, T_EQ, T_ERR };

typedef struct lex {
    const char *s;
    size_t n, pos;
    int multiline;
    size_t start;      /* the current token's first byte */
    size_t last_end;   /* just past the last token read */
    size_t comment_at; /* the last line comment's '/' after last_end, or SIZE_MAX */
    char *val;         /* a word's or quoted string's text (kp_malloc'd) */
    size_t vlen;
    kp_err_t rc;
    char *err;
    size_t errsize;
} lex_t;

static void wipe_free(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* 1-based line and column (in characters) of byte offset pos. A line ends
 * at "\n", "\r\n" or a lone "\r" (as StreamTokenizer counts them). */
static void where(const lex_t *l, size_t pos, size_t *line, size_t *col) {
    size_t ln = 1, c = 1;
    for (size_t i = 0; i < pos && i < l->n; i++) {
        unsigned char b = (unsigned char)l->s[i];
        if (b == '\n' || (b == '\r' && (i + 1 >= l->n || l->s[i + 1] != '\n'))) {
            ln++;
            c = 1;
        } else if (b == '\r') {
            /* the \r of \r\n: the \n ends the line */
        } else if ((b & 0xC0) != 0x80) { /* not a UTF-8 continuation byte */
            c++;
        }
    }
    *line = ln;
    *col = c;
}

static void fail_at(lex_t *l, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_at(lex_t *l, size_t pos, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t line, col;
    where(l, pos, &line, &col);
    if (l->multiline)
        kp_errf(l->err, l->errsize, PFX "%s at line %zu, column %zu", msg, line, col);
    else
        kp_errf(l->err, l->errsize, PFX "%s at column %zu", msg, col);
    l->rc = KP_ERR_INVALID_CONFIG;
}

static int is_word_byte(unsigned char c) {
    return c > ' ' && c != '/' && c != '"' && c != '\'' && c != ';' && c != '=';
}

static int is_eol(char c) { return c == '\n' || c == '\r'; }

static int put_utf8(char *o, unsigned v) { /* v < 0x100 (an octal escape) */
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    o[0] = (char)(0xC0 | (v >> 6));
    o[1] = (char)(0x80 | (v & 0x3F));
    return 2;
}

/* A quoted string from l->pos (at the quote). StreamTokenizer's escapes;
 * the decoded text is never longer than the source. */
static enum tok lex_quoted(lex_t *l) {
    char q = l->s[l->pos];
    size_t open = l->pos, i = l->pos + 1;
    char *o = kp_malloc(l->n - open); /* at most n - open - 1 bytes + NUL */
    if (!o) {
        kp_errf(l->err, l->errsize, PFX "out of memory");
        l->rc = KP_ERR_NOMEM;
        return T_ERR;
    }
    size_t k = 0;
    for (;;) {
        if (i >= l->n || is_eol(l->s[i])) {
            explicit_bzero(o, k);
            free(o);
            fail_at(l, open, "the quoted string opened here is not closed before the end of the %s",
                    i >= l->n ? "text" : "line");
            return T_ERR;
        }
        char c = l->s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c != '\\') {
            o[k++] = c;
            i++;
            continue;
        }
        size_t esc = i++;
        if (i >= l->n) /* a backslash at the very end: the string is open */
            continue;
        c = l->s[i++];
        if (c >= '0' && c <= '7') {
            unsigned v = (unsigned)(c - '0');
            int digits = c <= '3' ? 3 : 2; /* \377 at most, as Java */
            for (int d = 1; d < digits && i < l->n && l->s[i] >= '0' && l->s[i] <= '7'; d++)
                v = v * 8 + (unsigned)(l->s[i++] - '0');
            if (v == 0) {
                explicit_bzero(o, k);
                free(o);
                fail_at(l, esc, "the escape makes a NUL character, which no value may hold,");
                return T_ERR;
            }
            k += (size_t)put_utf8(o + k, v);
            continue;
        }
        switch (c) {
        case 'a': c = 7; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'v': c = '\v'; break;
        default: break; /* \" \' \\ and any other: the character itself */
        }
        o[k++] = c;
    }
    o[k] = '\0';
    l->val = o;
    l->vlen = k;
    l->pos = i;
    return T_QUOTED;
}

/* The next token; T_ERR with l->rc set on a lexical error. */
static enum tok lex_next(lex_t *l) {
    wipe_free(l->val);
    l->val = NULL;
    l->vlen = 0;
    for (;;) {
        while (l->pos < l->n && (unsigned char)l->s[l->pos] <= ' ')
            l->pos++;
        if (l->pos < l->n && l->s[l->pos] == '/') {
            if (l->pos + 1 < l->n && l->s[l->pos + 1] == '*') {
                const char *end = NULL;
                for (size_t i = l->pos + 2; i + 1 < l->n; i++)
                    if (l->s[i] == '*' && l->s[i + 1] == '/') {
                        end = l->s + i;
                        break;
                    }
                if (!end) {
                    fail_at(l, l->pos, "the comment opened here is not closed");
                    return T_ERR;
                }
                l->pos = (size_t)(end - l->s) + 2;
                continue;
            }
            /* "//" or a lone '/': a comment to the end of the line */
            if (l->comment_at == SIZE_MAX)
                l->comment_at = l->pos;
            while (l->pos < l->n && !is_eol(l->s[l->pos]))
                l->pos++;
            continue;
        }
        break;
    }
    l->start = l->pos;
    if (l->pos >= l->n)
        return T_EOF;
    char c = l->s[l->pos];
    enum tok t;
    if (c == ';' || c == '=') {
        l->pos++;
        t = c == ';' ? T_SEMI : T_EQ;
    } else if (c == '"' || c == '\'') {
        t = lex_quoted(l);
        if (t == T_ERR)
            return t;
    } else {
        size_t e = l->pos;
        while (e < l->n && is_word_byte((unsigned char)l->s[e]))
            e++;
        l->val = kp_strndup(l->s + l->pos, e - l->pos);
        if (!l->val) {
            kp_errf(l->err, l->errsize, PFX "out of memory");
            l->rc = KP_ERR_NOMEM;
            return T_ERR;
        }
        l->vlen = e - l->pos;
        l->pos = e;
        t = T_WORD;
    }
    l->last_end = l->pos;
    l->comment_at = SIZE_MAX;
    return t;
}

static char *take_val(lex_t *l) {
    char *v = l->val;
    l->val = NULL;
    return v;
}

static const char *const flag_names[] = {"required", "requisite", "sufficient", "optional"};

const char *kp_jaas_flag_name(kp_jaas_flag_t f) {
    return (unsigned)f < 4 ? flag_names[f] : "?";
}

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* A value held no NUL, so strlen in wipe_free covers it all. */
static void opts_free(kp_jaas_t *j) {
    for (size_t i = 0; i < j->nopts; i++) {
        free(j->opts[i].name);
        wipe_free(j->opts[i].value);
    }
    free(j->opts);
    j->opts = NULL;
    j->nopts = 0;
}

void kp_jaas_free(kp_jaas_t *j) {
    if (!j)
        return;
    opts_free(j);
    free(j->module);
    j->module = NULL;
}

/* "expected ';'" at the end of the text: when a line comment began after
 * the last token, it may have eaten the ';' (an unquoted value with '/'). */
static void fail_no_semi(lex_t *l) {
    if (l->comment_at != SIZE_MAX) {
        size_t line, col;
        where(l, l->comment_at, &line, &col);
        if (l->multiline)
            fail_at(l, l->last_end,
                    "expected ';' (the '/' at line %zu, column %zu starts a comment to the end "
                    "of the line: quote values that hold '/')",
                    line, col);
        else
            fail_at(l, l->last_end,
                    "expected ';' (the '/' at column %zu starts a comment to the end of the "
                    "line: quote values that hold '/')",
                    col);
    } else {
        fail_at(l, l->last_end, "expected ';'");
    }
}

kp_err_t kp_jaas_parse(const char *text, kp_jaas_t *j, char *err, size_t errsize) {
    if (!j)
        return KP_ERR_INVALID_ARG;
    memset(j, 0, sizeof(*j));
    if (!text)
        text = "";
    size_t n = strnlen(text, KP_JAAS_MAX_TEXT + 1);
    if (n > KP_JAAS_MAX_TEXT) {
        kp_errf(err, errsize, PFX "longer than %d bytes", KP_JAAS_MAX_TEXT);
        return KP_ERR_INVALID_CONFIG;
    }
    lex_t l = {.s = text, .n = n, .comment_at = SIZE_MAX, .err = err, .errsize = errsize};
    l.multiline = memchr(text, '\n', n) || memchr(text, '\r', n);
    int cap = 0;
    enum tok t = lex_next(&l);
    if (t == T_EOF) {
        kp_errf(err, errsize,
                PFX "empty: expected '<login module class> required <name>=\"<value>\" ... ;'");
        l.rc = KP_ERR_INVALID_CONFIG;
        goto fail;
    }
    if (t == T_ERR)
        goto fail;
    if (t != T_WORD && t != T_QUOTED) {
        fail_at(&l, l.start, "expected a login module class name");
        goto fail;
    }
    j->module = take_val(&l);

    /* the control flag */
    t = lex_next(&l);
    if (t == T_ERR)
        goto fail;
    if (t == T_WORD || t == T_QUOTED) {
        int f = -1;
        for (int i = 0; i < 4; i++)
            if (ieq(l.val, flag_names[i]))
                f = i;
        if (f < 0) {
            size_t at = l.start;
            int eq = lex_next(&l) == T_EQ;
            fail_at(&l, at,
                    "expected a control flag (required, requisite, sufficient or optional)%s",
                    eq ? ", before the options," : "");
            goto fail;
        }
        j->flag = (kp_jaas_flag_t)f;
    } else {
        fail_at(&l, t == T_EOF ? l.last_end : l.start,
                "expected a control flag (required, requisite, sufficient or optional)");
        goto fail;
    }

    /* options up to ';' */
    for (;;) {
        t = lex_next(&l);
        if (t == T_ERR)
            goto fail;
        if (t == T_SEMI)
            break;
        if (t == T_EOF) {
            fail_no_semi(&l);
            goto fail;
        }
        if (t == T_EQ) {
            fail_at(&l, l.start, "expected an option name before '='");
            goto fail;
        }
        char *name = take_val(&l);
        t = lex_next(&l);
        if (t != T_EQ) {
            /* the name may be a value that lost its '=' (a password): not shown */
            wipe_free(name);
            if (t != T_ERR)
                fail_at(&l, t == T_EOF ? l.last_end : l.start,
                        "expected '=' after the option name");
            goto fail;
        }
        t = lex_next(&l);
        if (t != T_WORD && t != T_QUOTED) {
            if (t != T_ERR)
                fail_at(&l, t == T_EOF ? l.last_end : l.start, "expected a value after '='");
            wipe_free(name);
            goto fail;
        }
        if ((int)j->nopts == cap) {
            kp_jaas_opt_t *o = kp_grow(j->opts, (int)j->nopts, &cap, sizeof(*o), 4);
            if (!o) {
                wipe_free(name);
                kp_errf(err, errsize, PFX "out of memory");
                l.rc = KP_ERR_NOMEM;
                goto fail;
            }
            j->opts = o;
        }
        j->opts[j->nopts].name = name;
        j->opts[j->nopts].value = take_val(&l);
        j->nopts++;
    }

    t = lex_next(&l);
    if (t == T_ERR)
        goto fail;
    if (t == T_SEMI) {
        fail_at(&l, l.start, "unexpected ';' after the end of the entry");
        goto fail;
    }
    if (t != T_EOF) {
        fail_at(&l, l.start, "a second login module: Kafka clients take exactly one");
        goto fail;
    }
    return KP_OK;

fail:
    wipe_free(l.val);
    kp_jaas_free(j);
    memset(j, 0, sizeof(*j));
    return l.rc ? l.rc : KP_ERR_INVALID_CONFIG;
}

const char *kp_jaas_get(const kp_jaas_t *j, const char *name) {
    if (!j || !name)
        return NULL;
    for (size_t i = j->nopts; i-- > 0;)
        if (strcmp(j->opts[i].name, name) == 0)
            return j->opts[i].value;
    return NULL;
}

const char *kp_jaas_module_short(const kp_jaas_t *j) {
    if (!j || !j->module)
        return "";
    const char *dot = strrchr(j->module, '.');
    return dot ? dot + 1 : j->module;
}

static int contains_ci(const char *s, const char *w) {
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i]) {
            char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
            if (c != w[i])
                break;
            i++;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

int kp_jaas_is_secret(const char *name) {
    if (!name)
        return 0;
    return contains_ci(name, "password") || contains_ci(name, "secret") ||
           contains_ci(name, "token") || contains_ci(name, "credential");
}

/* snprintf-like appender */
typedef struct sb {
    char *p;
    size_t size, len;
} sb_t;

static void sb_putc(sb_t *b, char c) {
    if (b->len + 1 < b->size)
        b->p[b->len] = c;
    b->len++;
}

static void sb_puts(sb_t *b, const char *s) {
    for (; *s; s++)
        sb_putc(b, *s);
}

/* A token as the parser reads it back: a quoted string with \" \\ and
 * control characters escaped (octal, as StreamTokenizer reads them). */
static void sb_quoted(sb_t *b, const char *s) {
    sb_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (c < ' ' || c == 0x7F) {
            char o[5];
            snprintf(o, sizeof(o), "\\%03o", c);
            sb_puts(b, o);
        } else {
            sb_putc(b, (char)c);
        }
    }
    sb_putc(b, '"');
}

/* A name: bare when it reads back as one word, else quoted. */
static void sb_token(sb_t *b, const char *s) {
    int bare = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!is_word_byte((unsigned char)*p))
            bare = 0;
    if (bare)
        sb_puts(b, s);
    else
        sb_quoted(b, s);
}

size_t kp_jaas_describe(const kp_jaas_t *j, char *out, size_t size) {
    sb_t b = {out, size, 0};
    if (j && j->module) {
        sb_token(&b, j->module);
        sb_putc(&b, ' ');
        sb_puts(&b, kp_jaas_flag_name(j->flag));
        for (size_t i = 0; i < j->nopts; i++) {
            sb_putc(&b, ' ');
            sb_token(&b, j->opts[i].name);
            sb_putc(&b, '=');
            if (kp_jaas_is_secret(j->opts[i].name))
                sb_puts(&b, "[hidden]");
            else
                sb_quoted(&b, j->opts[i].value);
        }
        sb_putc(&b, ';');
    }
    if (size)
        out[b.len < size ? b.len : size - 1] = '\0';
    return b.len;
}

/*
 * json — a small JSON writer for the statistics document (issue 15):
 * objects, arrays, strings (escaped as RFC 8259 requires: quote, backslash,
 * control characters as \uXXXX; bytes that are not valid UTF-8 as \uFFFD),
 * integers and finite doubles (a non-finite double is written null). A
 * value inside an object takes a key; inside an array or at the top, key
 * is NULL. Commas are the writer's business. Out of memory or a misuse
 * (an end without a begin, a key where none belongs, more than
 * KP_JSON_MAX_DEPTH levels, a second value at the top) sets err
 * (KP_ERR_NOMEM, or KP_ERR_INVALID_ARG for a misuse) and the rest is
 * ignored. Keys are escaped like strings. Doubles take the fewest digits
 * (up to 17) that read back to the same double, with '.' whatever the
 * locale. Nothing here is thread-safe: one writer per kp_json_t.
 */
#ifndef KP_JSON_H
#define KP_JSON_H

#include <stddef.h>
#include <stdint.h>

#define KP_JSON_MAX_DEPTH 16

typedef struct kp_json {
    char *buf; /* NUL-terminated while err is 0 */
    size_t len, cap;
    int err;   /* 0, or the first error's kp_err_t */
    int depth; /* open objects and arrays; level 0 is the top */
    unsigned char in_obj[KP_JSON_MAX_DEPTH + 1]; /* level is an object (1) or array (0) */
    unsigned char first[KP_JSON_MAX_DEPTH + 1];  /* nothing written yet at the level */
} kp_json_t;

void kp_json_init(kp_json_t *j);
/* Frees the buffer (after an error too); j may be initialised again. */
void kp_json_free(kp_json_t *j);
/* The document (NUL-terminated, j keeps it), NULL if err or unfinished;
 * *len its length. */
const char *kp_json_done(kp_json_t *j, size_t *len);

void kp_json_obj(kp_json_t *j, const char *key);
void kp_json_obj_end(kp_json_t *j);
void kp_json_arr(kp_json_t *j, const char *key);
void kp_json_arr_end(kp_json_t *j);
void kp_json_str(kp_json_t *j, const char *key, const char *v); /* NULL: null */
void kp_json_strn(kp_json_t *j, const char *key, const char *v, size_t n);
void kp_json_int(kp_json_t *j, const char *key, int64_t v);
void kp_json_num(kp_json_t *j, const char *key, double v);
void kp_json_bool(kp_json_t *j, const char *key, int v);

#endif

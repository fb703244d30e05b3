/*
 * test.h — kprod's tiny test framework (header only).
 *
 * A test program is a set of `static void test_xxx(void)` functions and one
 * TEST_MAIN listing them:
 *
 *     #include "test.h"
 *
 *     static void test_adds(void)
 *     {
 *         CHECK_EQ_INT(1 + 1, 2);
 *         REQUIRE(ptr != NULL);        // stops this test on failure
 *         CHECK_EQ_MEM(buf, len, "abc", 3);
 *     }
 *
 *     TEST_MAIN(TEST(test_adds))
 *
 * Running it prints one line per test ("ok  name (3 ms)" / "FAIL name") and
 * a closing "N passed, M failed" line; it exits 1 if any test failed, 0 if
 * none did. Arguments, when given, are the names of the tests to run.
 *
 * CHECK_* macros record a failure (printing file:line, the expressions and
 * their values) and carry on; REQUIRE_* macros do the same and then return
 * from the calling function, so use them only in functions returning void.
 * Every macro evaluates each argument exactly once.
 *
 * A test program built from several .c files includes this header in each;
 * exactly one of them holds TEST_MAIN (which defines the failure counter).
 *
 * No sleeping to synchronise: to await something that really happens later,
 * poll for it with wait_until(), which returns as soon as it is true.
 */
#ifndef KPROD_TEST_H
#define KPROD_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kprod/kprod.h>

/* Failures recorded in the test currently running (defined by TEST_MAIN).
 * Atomic because checks also run on other threads (delivery callbacks). */
extern atomic_int test_failures_;

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case_t;

#define TEST(fn) {#fn, fn}

/* ---- reporting ---------------------------------------------------------- */

static inline void test_fail_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void test_fail_(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    atomic_fetch_add(&test_failures_, 1);
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Print up to 64 bytes of a buffer as text-or-hex, for failure messages. */
static inline void test_dump_(const char *label, const void *p, size_t len)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t n = len < 64 ? len : 64;

    fprintf(stderr, "    %s (%zu bytes): ", label, len);
    if (!p) {
        fputs("NULL\n", stderr);
        return;
    }
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\')
            fputc(b[i], stderr);
        else
            fprintf(stderr, "\\x%02x", b[i]);
    }
    fputs(n < len ? "\"...\n" : "\"\n", stderr);
}

/* ---- assertions --------------------------------------------------------- */

#define CHECK(cond)                                                                               \
    ((cond) ? 1 : (test_fail_(__FILE__, __LINE__, "CHECK(%s)", #cond), 0))

#define REQUIRE(cond)                                                                             \
    do {                                                                                          \
        if (!CHECK(cond))                                                                         \
            return;                                                                               \
    } while (0)

/* Integers (anything that fits in long long), compared with op. */
#define CHECK_CMP_INT(a, op, b)                                                                   \
    test_cmp_int_(__FILE__, __LINE__, #a, #op, #b, (long long)(a), (long long)(b))
#define CHECK_EQ_INT(a, b) CHECK_CMP_INT(a, ==, b)
#define CHECK_NE_INT(a, b) CHECK_CMP_INT(a, !=, b)
#define CHECK_LT_INT(a, b) CHECK_CMP_INT(a, <, b)
#define CHECK_LE_INT(a, b) CHECK_CMP_INT(a, <=, b)
#define CHECK_GT_INT(a, b) CHECK_CMP_INT(a, >, b)
#define CHECK_GE_INT(a, b) CHECK_CMP_INT(a, >=, b)

/* Unsigned 64-bit values, compared for equality (printed in hex too). */
#define CHECK_EQ_U64(a, b)                                                                        \
    test_eq_u64_(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))

/* NUL-terminated strings; NULL equals only NULL. */
#define CHECK_EQ_STR(a, b) test_eq_str_(__FILE__, __LINE__, #a, #b, (a), (b))

/* Byte ranges; NULL with length 0 equals any empty range. */
#define CHECK_EQ_MEM(a, alen, b, blen)                                                            \
    test_eq_mem_(__FILE__, __LINE__, #a, #b, (a), (size_t)(alen), (b), (size_t)(blen))

#define CHECK_NULL(p) test_null_(__FILE__, __LINE__, #p, (const void *)(p), 1)
#define CHECK_NOT_NULL(p) test_null_(__FILE__, __LINE__, #p, (const void *)(p), 0)

/* kp_err_t values, printed by name. */
#define CHECK_EQ_ERR(a, b) test_eq_err_(__FILE__, __LINE__, #a, #b, (int)(a), (int)(b))
#define CHECK_OK(e) CHECK_EQ_ERR(e, KP_OK)

#define REQUIRE_EQ_INT(a, b)                                                                      \
    do {                                                                                          \
        if (!CHECK_EQ_INT(a, b))                                                                  \
            return;                                                                               \
    } while (0)
#define REQUIRE_NOT_NULL(p)                                                                       \
    do {                                                                                          \
        if (!CHECK_NOT_NULL(p))                                                                   \
            return;                                                                               \
    } while (0)
#define REQUIRE_OK(e)                                                                             \
    do {                                                                                          \
        if (!CHECK_OK(e))                                                                         \
            return;                                                                               \
    } while (0)

/* Record a failure unconditionally, with a printf-style message. */
#define FAIL(...) test_fail_(__FILE__, __LINE__, __VA_ARGS__)

static inline int test_cmp_int_(const char *file, int line, const char *as, const char *op,
                                const char *bs, long long a, long long b)
{
    int ok;

    if (strcmp(op, "==") == 0)
        ok = a == b;
    else if (strcmp(op, "!=") == 0)
        ok = a != b;
    else if (strcmp(op, "<") == 0)
        ok = a < b;
    else if (strcmp(op, "<=") == 0)
        ok = a <= b;
    else if (strcmp(op, ">") == 0)
        ok = a > b;
    else if (strcmp(op, ">=") == 0)
        ok = a >= b;
    else
        ok = 0; /* not an operator we know: fail loudly below */
    if (!ok)
        test_fail_(file, line, "%s %s %s: %lld vs %lld", as, op, bs, a, b);
    return ok;
}

static inline int test_eq_u64_(const char *file, int line, const char *as, const char *bs,
                               uint64_t a, uint64_t b)
{
    if (a != b)
        test_fail_(file, line, "%s == %s: %" PRIu64 " (0x%" PRIx64 ") vs %" PRIu64 " (0x%" PRIx64
                   ")", as, bs, a, a, b, b);
    return a == b;
}

static inline int test_eq_str_(const char *file, int line, const char *as, const char *bs,
                               const char *a, const char *b)
{
    int ok = (a && b) ? strcmp(a, b) == 0 : a == b;

    if (!ok)
        test_fail_(file, line, "%s == %s: \"%s\" vs \"%s\"", as, bs, a ? a : "(NULL)",
                   b ? b : "(NULL)");
    return ok;
}

static inline int test_eq_mem_(const char *file, int line, const char *as, const char *bs,
                               const void *a, size_t alen, const void *b, size_t blen)
{
    size_t i = 0;
    int ok;

    if (alen != blen) {
        ok = 0;
    } else if (alen == 0) {
        ok = 1;
    } else if (!a || !b) {
        ok = 0;
    } else {
        ok = memcmp(a, b, alen) == 0;
    }
    if (!ok) {
        if (a && b)
            while (i < alen && i < blen && ((const unsigned char *)a)[i] ==
                                                ((const unsigned char *)b)[i])
                i++;
        test_fail_(file, line, "%s == %s: lengths %zu vs %zu, first difference at byte %zu", as,
                   bs, alen, blen, i);
        test_dump_(as, a, alen);
        test_dump_(bs, b, blen);
    }
    return ok;
}

static inline int test_null_(const char *file, int line, const char *ps, const void *p,
                             int want_null)
{
    int ok = want_null ? p == NULL : p != NULL;

    if (!ok && want_null)
        test_fail_(file, line, "%s is NULL: got %p", ps, p);
    else if (!ok)
        test_fail_(file, line, "%s is not NULL", ps);
    return ok;
}

static inline int test_eq_err_(const char *file, int line, const char *as, const char *bs, int a,
                               int b)
{
    if (a != b)
        test_fail_(file, line, "%s == %s: %s (%d) vs %s (%d)", as, bs, kp_err_name((kp_err_t)a),
                   a, kp_err_name((kp_err_t)b), b);
    return a == b;
}

/* ---- time and waiting --------------------------------------------------- */

/* xorshift64*: deterministic pseudo-random numbers for test data. */
static inline uint64_t test_rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* n pseudo-random bytes from the generator state *s. */
static inline void test_fill_random(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(test_rng_next(s) >> 56);
}

/* Monotonic milliseconds. */
/* kp_partitions_for's count, or its error (a negative local code, or a
 * positive Kafka code) for a check to compare. */
static inline int32_t test_partitions(kp_producer_t *p, const char *topic)
{
    int32_t n;
    kp_err_t e = kp_partitions_for(p, topic, &n);
    return e ? (int32_t)e : n;
}

static inline int64_t test_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Poll cond(arg) until it returns non-zero or timeout_ms passes; sleeps
 * 1 ms between early polls, growing to at most 20 ms. Returns 1 when the
 * condition became true (checked once more at the deadline), 0 on timeout.
 * This awaits a real condition; it is not a way to "give things time". */
static inline int wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = test_now_ms() + timeout_ms;
    int pause = 1;

    for (;;) {
        if (cond(arg))
            return 1;
        if (test_now_ms() >= deadline)
            return cond(arg) ? 1 : 0;
        test_sleep_ms(pause);
        if (pause < 20)
            pause *= 2;
    }
}

/* ---- the runner --------------------------------------------------------- */

static inline int test_selected_(const char *name, int argc, char **argv)
{
    if (argc <= 1)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static inline int test_run_(const test_case_t *cases, size_t n, int argc, char **argv)
{
    int passed = 0, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        size_t j = 0;
        while (j < n && strcmp(cases[j].name, argv[i]) != 0)
            j++;
        if (j == n) {
            fprintf(stderr, "no test named '%s'\n", argv[i]);
            return 2;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int64_t t0;
        int fails;

        if (!test_selected_(cases[i].name, argc, argv))
            continue;
        atomic_store(&test_failures_, 0);
        t0 = test_now_ms();
        cases[i].fn();
        fflush(stderr);
        fails = atomic_load(&test_failures_);
        if (fails == 0) {
            passed++;
            printf("ok   %s (%" PRId64 " ms)\n", cases[i].name, test_now_ms() - t0);
        } else {
            failed++;
            printf("FAIL %s (%d failed checks, %" PRId64 " ms)\n", cases[i].name, fails,
                   test_now_ms() - t0);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                            \
    atomic_int test_failures_;                                                                    \
    int main(int argc, char **argv)                                                               \
    {                                                                                             \
        static const test_case_t cases_[] = {__VA_ARGS__};                                        \
        return test_run_(cases_, sizeof cases_ / sizeof cases_[0], argc, argv);                  \
    }

#endif /* KPROD_TEST_H */

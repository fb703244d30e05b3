/*
 * test_json — the JSON writer (src/base/json.c): nesting and commas, every
 * escape, UTF-8 checking (overlong forms, surrogates, beyond U+10FFFF,
 * truncated sequences), numbers, misuse, allocation failure at every
 * allocation, and the output read by a parser we did not write (python3's
 * json), which also checks our U+FFFD replacement against Python's
 * decode(errors="replace") on random bytes.
 */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/json.h"
#include "test.h"

/* Checks that j finished without error and produced want. */
#define CHECK_DOC(j, want)                                                                        \
    do {                                                                                          \
        size_t len_;                                                                              \
        const char *doc_ = kp_json_done(j, &len_);                                                \
        CHECK_EQ_INT((j)->err, 0);                                                                \
        CHECK_EQ_STR(doc_, want);                                                                 \
        if (doc_)                                                                                 \
            CHECK_EQ_INT(len_, strlen(want));                                                     \
    } while (0)

static void test_nesting_commas(void)
{
    kp_json_t j;

    kp_json_init(&j);
    kp_json_obj(&j, NULL);
    kp_json_int(&j, "a", 1);
    kp_json_arr(&j, "b");
    kp_json_int(&j, NULL, 1);
    kp_json_int(&j, NULL, 2);
    kp_json_obj(&j, NULL);
    kp_json_arr(&j, "c");
    kp_json_arr_end(&j);
    kp_json_obj_end(&j);
    kp_json_arr(&j, NULL);
    kp_json_arr_end(&j);
    kp_json_arr_end(&j);
    kp_json_obj(&j, "d");
    kp_json_obj_end(&j);
    kp_json_obj(&j, "e");
    kp_json_arr(&j, "f");
    kp_json_bool(&j, NULL, 1);
    kp_json_bool(&j, NULL, 0);
    kp_json_str(&j, NULL, NULL);
    kp_json_strn(&j, NULL, NULL, 3);
    kp_json_str(&j, NULL, "");
    kp_json_arr_end(&j);
    kp_json_obj_end(&j);
    kp_json_obj_end(&j);
    CHECK_DOC(&j, "{\"a\":1,\"b\":[1,2,{\"c\":[]},[]],\"d\":{},"
                  "\"e\":{\"f\":[true,false,null,null,\"\"]}}");
    kp_json_free(&j);

    /* a scalar or an empty array alone is a document too */
    kp_json_init(&j);
    kp_json_int(&j, NULL, -7);
    CHECK_DOC(&j, "-7");
    kp_json_free(&j);
    kp_json_init(&j);
    kp_json_arr(&j, NULL);
    kp_json_arr_end(&j);
    CHECK_DOC(&j, "[]");
    kp_json_free(&j);

    /* KP_JSON_MAX_DEPTH levels are allowed */
    kp_json_init(&j);
    for (int i = 0; i < KP_JSON_MAX_DEPTH; i++)
        kp_json_arr(&j, NULL);
    for (int i = 0; i < KP_JSON_MAX_DEPTH; i++)
        kp_json_arr_end(&j);
    CHECK_DOC(&j, "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]");
    kp_json_free(&j);
}

static void test_escapes(void)
{
    kp_json_t j;
    char in[40], want[256];
    size_t n = 0;

    /* every control character, the quote, the backslash; '/' and DEL as is */
    for (int c = 1; c < 0x20; c++)
        in[n++] = (char)c;
    in[n++] = '"';
    in[n++] = '\\';
    in[n++] = '/';
    in[n++] = 0x7f;
    in[n++] = 'x';
    in[n] = '\0';
    kp_json_init(&j);
    kp_json_arr(&j, NULL);
    kp_json_str(&j, NULL, in);
    kp_json_strn(&j, NULL, "a\0b", 3); /* an embedded NUL */
    kp_json_arr_end(&j);
    snprintf(want, sizeof want, "[\"%s\\\"\\\\/\x7fx\",\"a\\u0000b\"]",
             "\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
             "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
             "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f");
    CHECK_DOC(&j, want);
    kp_json_free(&j);

    /* keys are escaped the same way */
    kp_json_init(&j);
    kp_json_obj(&j, NULL);
    kp_json_int(&j, "a\"b\n\xff", 1);
    kp_json_obj_end(&j);
    CHECK_DOC(&j, "{\"a\\\"b\\n\\ufffd\":1}");
    kp_json_free(&j);
}

/* One string through the writer: the JSON text of the string. */
static void check_str(const char *in, size_t n, const char *want)
{
    kp_json_t j;
    char w[256];

    kp_json_init(&j);
    kp_json_strn(&j, NULL, in, n);
    snprintf(w, sizeof w, "\"%s\"", want);
    CHECK_DOC(&j, w);
    kp_json_free(&j);
}

#define S(lit) lit, sizeof lit - 1

static void test_utf8(void)
{
    /* well-formed: copied as is, at each boundary of table 3-7 */
    check_str(S("\xc3\xa9"), "\xc3\xa9");                           /* U+00E9 */
    check_str(S("\xc2\x80"), "\xc2\x80");                           /* U+0080 */
    check_str(S("\xdf\xbf"), "\xdf\xbf");                           /* U+07FF */
    check_str(S("\xe0\xa0\x80"), "\xe0\xa0\x80");                   /* U+0800 */
    check_str(S("\xe2\x82\xac"), "\xe2\x82\xac");                   /* U+20AC */
    check_str(S("\xed\x9f\xbf"), "\xed\x9f\xbf");                   /* U+D7FF */
    check_str(S("\xee\x80\x80"), "\xee\x80\x80");                   /* U+E000 */
    check_str(S("\xef\xbf\xbf"), "\xef\xbf\xbf");                   /* U+FFFF */
    check_str(S("\xf0\x90\x80\x80"), "\xf0\x90\x80\x80");           /* U+10000 */
    check_str(S("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");           /* U+1F600 */
    check_str(S("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");           /* U+10FFFF */

    /* ill-formed: one U+FFFD per maximal subpart */
    check_str(S("\xc0\x80"), "\\ufffd\\ufffd");                     /* overlong NUL */
    check_str(S("\xc1\xbf"), "\\ufffd\\ufffd");                     /* overlong 2-byte */
    check_str(S("\xe0\x80\x80"), "\\ufffd\\ufffd\\ufffd");          /* overlong 3-byte */
    check_str(S("\xe0\x9f\xbf"), "\\ufffd\\ufffd\\ufffd");
    check_str(S("\xf0\x80\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd"); /* overlong 4-byte */
    check_str(S("\xf0\x8f\xbf\xbf"), "\\ufffd\\ufffd\\ufffd\\ufffd");
    check_str(S("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");          /* U+D800 */
    check_str(S("\xed\xbf\xbf"), "\\ufffd\\ufffd\\ufffd");          /* U+DFFF */
    check_str(S("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd"); /* U+110000 */
    check_str(S("\xf5\x80\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");
    check_str(S("\xf8\x88\x80\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
    check_str(S("\xff"), "\\ufffd");
    check_str(S("\xfe"), "\\ufffd");
    check_str(S("a\x80z"), "a\\ufffdz");                            /* lone continuation */
    check_str(S("\xe2\x82"), "\\ufffd");                            /* truncated at the end */
    check_str(S("\xe2\x82z"), "\\ufffdz");                          /* truncated mid-string */
    check_str(S("\xf0\x9f\x98"), "\\ufffd");
    check_str(S("\xf0\x9f\x98\""), "\\ufffd\\\"");                  /* cut by a quote */
    check_str(S("\xc3\xc3\xa9"), "\\ufffd\xc3\xa9");               /* a lead then a sequence */
    check_str(S("\xe2\x82\xac\xe2\x82\xac"), "\xe2\x82\xac\xe2\x82\xac");
}

static void test_numbers(void)
{
    kp_json_t j;

    kp_json_init(&j);
    kp_json_arr(&j, NULL);
    kp_json_int(&j, NULL, 0);
    kp_json_int(&j, NULL, -1);
    kp_json_int(&j, NULL, INT64_MAX);
    kp_json_int(&j, NULL, INT64_MIN);
    kp_json_num(&j, NULL, 0.1);
    kp_json_num(&j, NULL, 1.5);
    kp_json_num(&j, NULL, 3);
    kp_json_num(&j, NULL, -0.0);
    kp_json_num(&j, NULL, 1.0 / 3);
    kp_json_num(&j, NULL, 1e300);
    kp_json_num(&j, NULL, 2.5e-5);
    kp_json_num(&j, NULL, 5e-324);
    kp_json_num(&j, NULL, 1.7976931348623157e308);
    kp_json_num(&j, NULL, 0.30000000000000004);
    kp_json_num(&j, NULL, NAN);
    kp_json_num(&j, NULL, INFINITY);
    kp_json_num(&j, NULL, -INFINITY);
    kp_json_arr_end(&j);
    CHECK_DOC(&j, "[0,-1,9223372036854775807,-9223372036854775808,0.1,1.5,3,-0,"
                  "0.3333333333333333,1e+300,2.5e-05,4.94065645841247e-324,"
                  "1.7976931348623157e+308,0.30000000000000004,null,null,null]");
    kp_json_free(&j);

    /* a locale with a decimal comma still writes a point */
    const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
    const char *got_loc = NULL;
    for (size_t i = 0; i < sizeof locs / sizeof locs[0] && !got_loc; i++)
        if (setlocale(LC_NUMERIC, locs[i]) && localeconv()->decimal_point[0] == ',')
            got_loc = locs[i];
    if (!got_loc) {
        printf("     (no decimal-comma locale installed: that case not run)\n");
    } else {
        kp_json_init(&j);
        kp_json_num(&j, NULL, -12.25);
        CHECK_DOC(&j, "-12.25");
        kp_json_free(&j);
    }
    setlocale(LC_NUMERIC, "C");
}

/* Each misuse sets err (KP_ERR_INVALID_ARG) and stops the writer. */
static void test_misuse(void)
{
    kp_json_t j;
    size_t len = 99;

    /* nothing written, or unfinished: no document, and no error */
    kp_json_init(&j);
    CHECK_NULL(kp_json_done(&j, &len));
    CHECK_EQ_INT(len, 0);
    kp_json_obj(&j, NULL);
    CHECK_NULL(kp_json_done(&j, NULL));
    CHECK_EQ_INT(j.err, 0);
    kp_json_free(&j);

#define MISUSE(steps)                                                                             \
    do {                                                                                          \
        kp_json_init(&j);                                                                         \
        steps;                                                                                    \
        size_t l_ = j.len;                                                                        \
        CHECK_EQ_ERR(j.err, KP_ERR_INVALID_ARG);                                                  \
        kp_json_int(&j, NULL, 1); /* ignored from now on */                                      \
        kp_json_arr_end(&j);                                                                      \
        CHECK_EQ_INT(j.len, l_);                                                                  \
        CHECK_EQ_ERR(j.err, KP_ERR_INVALID_ARG);                                                  \
        CHECK_NULL(kp_json_done(&j, NULL));                                                       \
        kp_json_free(&j);                                                                         \
    } while (0)

    MISUSE(kp_json_obj_end(&j));                            /* an end without a begin */
    MISUSE(kp_json_arr_end(&j));
    MISUSE(kp_json_obj(&j, NULL); kp_json_arr_end(&j));     /* the wrong end */
    MISUSE(kp_json_arr(&j, NULL); kp_json_obj_end(&j));
    MISUSE(kp_json_int(&j, "k", 1));                        /* a key at the top */
    MISUSE(kp_json_arr(&j, NULL); kp_json_str(&j, "k", "v")); /* a key in an array */
    MISUSE(kp_json_obj(&j, NULL); kp_json_bool(&j, NULL, 1)); /* no key in an object */
    MISUSE(kp_json_obj(&j, NULL); kp_json_obj(&j, NULL));
    MISUSE(kp_json_int(&j, NULL, 1); kp_json_int(&j, NULL, 2)); /* two values at the top */
    MISUSE(kp_json_arr(&j, NULL); kp_json_arr_end(&j); kp_json_arr(&j, NULL));
    MISUSE(for (int i = 0; i <= KP_JSON_MAX_DEPTH; i++) kp_json_arr(&j, NULL)); /* too deep */
#undef MISUSE
}

/* A document of some size: strings long enough to grow the buffer several
 * times, with every kind of value. */
static void build_big(kp_json_t *j)
{
    char s[3000];

    for (size_t i = 0; i < sizeof s - 1; i++)
        s[i] = (char)(i % 3 ? 'a' + (char)(i % 26) : '\n');
    s[sizeof s - 1] = '\0';
    kp_json_obj(j, NULL);
    kp_json_arr(j, "items");
    for (int i = 0; i < 20; i++) {
        kp_json_obj(j, NULL);
        kp_json_str(j, "name\xff", s);
        kp_json_int(j, "i", i);
        kp_json_num(j, "x", i / 7.0);
        kp_json_bool(j, "b", i & 1);
        kp_json_obj_end(j);
    }
    kp_json_arr_end(j);
    kp_json_obj_end(j);
}

static void test_alloc_failure(void)
{
    kp_json_t j;
    size_t len;

    kp_alloc_fail_after(LONG_MAX, 0); /* count the allocations of one run */
    kp_json_init(&j);
    build_big(&j);
    long n = kp_alloc_fail_after(0, 0);
    REQUIRE_NOT_NULL(kp_json_done(&j, &len));
    CHECK_GT_INT(len, 60000);
    kp_json_free(&j);
    CHECK_GE_INT(n, 3); /* it grew a few times */

    for (long k = 1; k <= n; k++) {
        for (int sticky = 0; sticky <= 1; sticky++) {
            kp_alloc_fail_after(k, sticky);
            kp_json_init(&j);
            build_big(&j);
            kp_alloc_fail_after(0, 0);
            if (!CHECK_EQ_ERR(j.err, KP_ERR_NOMEM) || !CHECK_NULL(kp_json_done(&j, &len)))
                fprintf(stderr, "    allocation %ld of %ld failed (sticky %d)\n", k, n, sticky);
            kp_json_free(&j); /* leaks nothing (the ASan build checks) */
            CHECK_NULL(j.buf);
        }
    }
}

/* ---- read back by python3's json ----------------------------------------- */

/* The document: everything above in one, plus "utf8": [[hex of the input
 * bytes, the string as written], ...] for random byte strings, which the
 * script checks against Python's own decode(errors="replace"). */
static void build_for_python(kp_json_t *j)
{
    char ctl[40], hex[2 * 64 + 1];
    unsigned char raw[64];
    uint64_t s = 7;
    size_t n = 0;

    for (int c = 1; c < 0x20; c++)
        ctl[n++] = (char)c;
    ctl[n++] = '"';
    ctl[n++] = '\\';
    ctl[n++] = '/';
    kp_json_obj(j, NULL);
    kp_json_strn(j, "ctl", ctl, n);
    kp_json_strn(j, "nul", "a\0b", 3);
    kp_json_str(j, "k\"\\\n\t", "key escaped");
    kp_json_str(j, "utf8 ok", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
    kp_json_str(j, "utf8 bad", "\xc0\x80|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|\xff");
    kp_json_arr(j, "ints");
    kp_json_int(j, NULL, INT64_MAX);
    kp_json_int(j, NULL, INT64_MIN);
    kp_json_int(j, NULL, 0);
    kp_json_arr_end(j);
    kp_json_arr(j, "nums");
    kp_json_num(j, NULL, 0.1);
    kp_json_num(j, NULL, 1.0 / 3);
    kp_json_num(j, NULL, 1e300);
    kp_json_num(j, NULL, 5e-324);
    kp_json_num(j, NULL, 123456.789);
    kp_json_num(j, NULL, NAN);
    kp_json_num(j, NULL, -INFINITY);
    kp_json_arr_end(j);
    kp_json_obj(j, "nest");
    kp_json_obj(j, "empty");
    kp_json_obj_end(j);
    kp_json_arr(j, "a");
    kp_json_arr(j, NULL);
    kp_json_bool(j, NULL, 1);
    kp_json_bool(j, NULL, 0);
    kp_json_str(j, NULL, NULL);
    kp_json_arr_end(j);
    kp_json_arr_end(j);
    kp_json_obj_end(j);
    kp_json_arr(j, "utf8");
    for (int i = 0; i < 500; i++) {
        size_t m = test_rng_next(&s) % sizeof raw;
        for (size_t k = 0; k < m; k++) {
            uint64_t r = test_rng_next(&s);
            /* mostly bytes that start or continue sequences, some ASCII */
            raw[k] = (unsigned char)(r % 4 == 0 ? 0x20 + (r >> 8) % 0x60 : 0x80 + (r >> 8) % 0x80);
        }
        for (size_t k = 0; k < m; k++)
            snprintf(hex + 2 * k, 3, "%02x", raw[k]);
        hex[2 * m] = '\0';
        kp_json_arr(j, NULL);
        kp_json_str(j, NULL, hex);
        kp_json_strn(j, NULL, (const char *)raw, m);
        kp_json_arr_end(j);
    }
    kp_json_arr_end(j);
    kp_json_obj_end(j);
}

static const char PY_SCRIPT[] =
    "import json, sys\n"
    "d = json.load(sys.stdin)\n"
    "bad = [h for h, s in d.pop(\"utf8\") if bytes.fromhex(h).decode(\"utf-8\", \"replace\") != s]\n"
    "print(\"utf8 mismatches:\", bad)\n"
    "print(json.dumps(d, sort_keys=True))\n";

/* What python prints back: json.dumps(sort_keys=True), ensure_ascii. */
static const char PY_WANT[] =
    "utf8 mismatches: []\n"
    "{\"ctl\": \"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
    "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
    "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\", "
    "\"ints\": [9223372036854775807, -9223372036854775808, 0], "
    "\"k\\\"\\\\\\n\\t\": \"key escaped\", "
    "\"nest\": {\"a\": [[true, false, null]], \"empty\": {}}, "
    "\"nul\": \"a\\u0000b\", "
    "\"nums\": [0.1, 0.3333333333333333, 1e+300, 5e-324, 123456.789, null, null], "
    "\"utf8 bad\": \"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|"
    "\\ufffd|\\ufffd\", "
    "\"utf8 ok\": \"\\u00e9\\u20ac\\ud83d\\ude00\\udbff\\udfff\"}\n";

static void test_python_parses(void)
{
    kp_json_t j;
    size_t len;
    char path[] = "/tmp/kprod_test_json_XXXXXX", cmd[1024], out[8192];

    if (system("python3 -c '' >/dev/null 2>&1") != 0) {
        printf("     (python3 not found: the output is not read back by a real parser)\n");
        return;
    }
    kp_json_init(&j);
    build_for_python(&j);
    const char *doc = kp_json_done(&j, &len);
    REQUIRE_NOT_NULL(doc);
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, doc, len) == (ssize_t)len);
    close(fd);
    kp_json_free(&j);

    snprintf(cmd, sizeof cmd, "python3 -c '%s' < %s 2>&1", PY_SCRIPT, path);
    FILE *p = popen(cmd, "r");
    if (!CHECK_NOT_NULL(p)) {
        unlink(path);
        return;
    }
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK_EQ_INT(pclose(p), 0);
    unlink(path);
    CHECK_EQ_STR(out, PY_WANT);
}

TEST_MAIN(TEST(test_nesting_commas), TEST(test_escapes), TEST(test_utf8), TEST(test_numbers),
          TEST(test_misuse), TEST(test_alloc_failure), TEST(test_python_parses))

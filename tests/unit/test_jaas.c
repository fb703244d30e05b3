/*
 * test_jaas — the sasl.jaas.config parser (src/conf/jaas.c): the three
 * login modules kprod knows as Java users write them, Java's quoting,
 * escapes and comments (StreamTokenizer's rules, JaasConfig.java), every
 * syntax error with the line and column it names, and that no error text
 * or description ever holds a secret.
 */
#include "test.h"

#include <limits.h>

#include "base/alloc.h"
#include "conf/jaas.h"

#define SECRET "hunter2-S3cr3t"

static void test_plain(void)
{
    kp_jaas_t j;
    char err[256] = "";
    REQUIRE_OK(kp_jaas_parse("org.apache.kafka.common.security.plain.PlainLoginModule required "
                             "username=\"alice\" password=\"" SECRET "\";",
                             &j, err, sizeof(err)));
    CHECK_EQ_STR(j.module, "org.apache.kafka.common.security.plain.PlainLoginModule");
    CHECK_EQ_STR(kp_jaas_module_short(&j), "PlainLoginModule");
    CHECK_EQ_INT(j.flag, KP_JAAS_REQUIRED);
    CHECK_EQ_INT(j.nopts, 2);
    CHECK_EQ_STR(kp_jaas_get(&j, "username"), "alice");
    CHECK_EQ_STR(kp_jaas_get(&j, "password"), SECRET);
    CHECK_NULL(kp_jaas_get(&j, "Username")); /* names are case-sensitive */
    CHECK_NULL(kp_jaas_get(&j, "user"));
    kp_jaas_free(&j);
    kp_jaas_free(&j); /* twice is harmless */
}

static void test_scram_tokenauth(void)
{
    kp_jaas_t j;
    char err[256] = "";
    REQUIRE_OK(kp_jaas_parse("org.apache.kafka.common.security.scram.ScramLoginModule required\n"
                             "    username=\"tokenid\"\n"
                             "    password=\"tokenhmac\"\n"
                             "    tokenauth=true;\n",
                             &j, err, sizeof(err)));
    CHECK_EQ_STR(kp_jaas_module_short(&j), "ScramLoginModule");
    CHECK_EQ_STR(kp_jaas_get(&j, "username"), "tokenid");
    CHECK_EQ_STR(kp_jaas_get(&j, "password"), "tokenhmac");
    CHECK_EQ_STR(kp_jaas_get(&j, "tokenauth"), "true"); /* an unquoted word */
    kp_jaas_free(&j);
}

static void test_oauthbearer(void)
{
    kp_jaas_t j;
    char err[256] = "";
    /* unsecured (development) tokens */
    REQUIRE_OK(kp_jaas_parse(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        "unsecuredLoginStringClaim_sub=\"thePrincipalName\" "
        "unsecuredLoginListClaim_scope=\"|scope1|scope2\" unsecuredLoginLifetimeSeconds=\"60\" "
        "unsecuredLoginExtension_traceId=\"123\";",
        &j, err, sizeof(err)));
    CHECK_EQ_STR(kp_jaas_module_short(&j), "OAuthBearerLoginModule");
    CHECK_EQ_STR(kp_jaas_get(&j, "unsecuredLoginStringClaim_sub"), "thePrincipalName");
    CHECK_EQ_STR(kp_jaas_get(&j, "unsecuredLoginListClaim_scope"), "|scope1|scope2");
    CHECK_EQ_STR(kp_jaas_get(&j, "unsecuredLoginLifetimeSeconds"), "60");
    kp_jaas_free(&j);
    /* OIDC client credentials (KIP-768) with Confluent Cloud's extensions */
    REQUIRE_OK(kp_jaas_parse(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        "clientId='my-client' clientSecret='" SECRET "' scope='kafka' "
        "extension_logicalCluster='lkc-abc123' extension_identityPoolId='pool-xyz';",
        &j, err, sizeof(err)));
    CHECK_EQ_STR(kp_jaas_get(&j, "clientId"), "my-client");
    CHECK_EQ_STR(kp_jaas_get(&j, "clientSecret"), SECRET);
    CHECK_EQ_STR(kp_jaas_get(&j, "scope"), "kafka");
    CHECK_EQ_STR(kp_jaas_get(&j, "extension_logicalCluster"), "lkc-abc123");
    CHECK_EQ_STR(kp_jaas_get(&j, "extension_identityPoolId"), "pool-xyz");
    CHECK_EQ_INT(j.nopts, 5);
    kp_jaas_free(&j);
}

static void test_flags(void)
{
    static const struct {
        const char *text;
        kp_jaas_flag_t flag;
    } cases[] = {
        {"M required;", KP_JAAS_REQUIRED},   {"M Required;", KP_JAAS_REQUIRED},
        {"M REQUISITE;", KP_JAAS_REQUISITE}, {"M sufficient;", KP_JAAS_SUFFICIENT},
        {"M OptionaL;", KP_JAAS_OPTIONAL},   {"M \"required\";", KP_JAAS_REQUIRED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_jaas_t j;
        char err[256] = "";
        CHECK_OK(kp_jaas_parse(cases[i].text, &j, err, sizeof(err)));
        CHECK_EQ_INT(j.flag, cases[i].flag);
        CHECK_EQ_INT(j.nopts, 0);
        kp_jaas_free(&j);
    }
    CHECK_EQ_STR(kp_jaas_flag_name(KP_JAAS_SUFFICIENT), "sufficient");
}

/* StreamTokenizer's quoting and escapes, comments, '=' and ';' inside runs. */
static void test_quoting_and_escapes(void)
{
    kp_jaas_t j;
    char err[256] = "";
    /* b='it''s' is b='it' then a name s without '=': Java's tokenizer has
     * no doubled-quote escape */
    CHECK_EQ_ERR(kp_jaas_parse("M required b='it''s';", &j, err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK(strstr(err, "expected '=' after the option name") != NULL);

    REQUIRE_OK(kp_jaas_parse("M required "
                             "a=\"x\\\"y\" "       /* x"y */
                             "b='it\\'s' "         /* it's */
                             "c=\"back\\\\slash\" " /* back\slash */
                             "d=\"\\t\\n\\r\\a\\b\\f\\v\" "
                             "e=\"\\101\\60\\0601\" " /* A 0 01 (\060 then '1') */
                             "f=\"\\377\\477\" "      /* U+00FF, then \47 '\'' and '7' */
                             "g=\"\\q\\/\" "          /* unknown escapes: q / */
                             "h='say \"hi\"' "
                             "i=\"\" "
                             "j=\"semi;colon=eq // not a comment /* nor this\" "
                             "k=w\xc3\xa4rd "        /* UTF-8 in a word */
                             "\"quoted name\"=1 "
                             "a=second;",
                             &j, err, sizeof(err)));
    CHECK_EQ_STR(kp_jaas_get(&j, "a"), "second"); /* the last one wins */
    CHECK_EQ_STR(kp_jaas_get(&j, "b"), "it's");
    CHECK_EQ_STR(kp_jaas_get(&j, "c"), "back\\slash");
    CHECK_EQ_STR(kp_jaas_get(&j, "d"), "\t\n\r\a\b\f\v");
    CHECK_EQ_STR(kp_jaas_get(&j, "e"), "A001");
    CHECK_EQ_STR(kp_jaas_get(&j, "f"), "\xc3\xbf'7");
    CHECK_EQ_STR(kp_jaas_get(&j, "g"), "q/");
    CHECK_EQ_STR(kp_jaas_get(&j, "h"), "say \"hi\"");
    CHECK_EQ_STR(kp_jaas_get(&j, "i"), "");
    CHECK_EQ_STR(kp_jaas_get(&j, "j"), "semi;colon=eq // not a comment /* nor this");
    CHECK_EQ_STR(kp_jaas_get(&j, "k"), "w\xc3\xa4rd");
    CHECK_EQ_STR(kp_jaas_get(&j, "quoted name"), "1");
    REQUIRE(j.nopts == 13);
    CHECK_EQ_STR(j.opts[0].value, "x\"y"); /* both a's are kept, in order */
    kp_jaas_free(&j);

    /* no spaces needed around '=' and between options; tabs and newlines
     * are spaces; comments of the three kinds */
    REQUIRE_OK(kp_jaas_parse("/* leading */ M\trequired// to the end of the line\r\n"
                             "username=\"u\"password=\"p\"   /* between */ x = y\n"
                             "  / a lone slash comments too: ; = \"\n"
                             ";  // after\n",
                             &j, err, sizeof(err)));
    CHECK_EQ_STR(j.module, "M");
    CHECK_EQ_INT(j.nopts, 3);
    CHECK_EQ_STR(kp_jaas_get(&j, "username"), "u");
    CHECK_EQ_STR(kp_jaas_get(&j, "password"), "p");
    CHECK_EQ_STR(kp_jaas_get(&j, "x"), "y");
    kp_jaas_free(&j);

    /* an unquoted run stops at '=' and ';', which are tokens */
    CHECK_EQ_ERR(kp_jaas_parse("M required a=b=c;", &j, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "sasl.jaas.config: expected an option name before '=' at column 15");
}

/* Every syntax error: its text and the spot it names. */
static void test_errors_with_columns(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "sasl.jaas.config: empty: expected '<login module class> required "
             "<name>=\"<value>\" ... ;'"},
        {"  /* only a comment */ ", "sasl.jaas.config: empty: expected '<login module class> "
                                    "required <name>=\"<value>\" ... ;'"},
        {"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
         "password=\"p\"",
         "sasl.jaas.config: expected ';' at column 91"},
        {"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
         "password=\"p\"   \n  ",
         "sasl.jaas.config: expected ';' at line 1, column 91"},
        {"= required;", "sasl.jaas.config: expected a login module class name at column 1"},
        {"  ;", "sasl.jaas.config: expected a login module class name at column 3"},
        {"Module", "sasl.jaas.config: expected a control flag (required, requisite, sufficient "
                   "or optional) at column 7"},
        {"Module ;", "sasl.jaas.config: expected a control flag (required, requisite, "
                     "sufficient or optional) at column 8"},
        {"Module username=\"u\";",
         "sasl.jaas.config: expected a control flag (required, requisite, sufficient or "
         "optional), before the options, at column 8"},
        {"Module needed;", "sasl.jaas.config: expected a control flag (required, requisite, "
                           "sufficient or optional) at column 8"},
        {"M required =x;", "sasl.jaas.config: expected an option name before '=' at column 12"},
        {"M required a b;", "sasl.jaas.config: expected '=' after the option name at column 14"},
        {"M required a;", "sasl.jaas.config: expected '=' after the option name at column 13"},
        {"M required a", "sasl.jaas.config: expected '=' after the option name at column 13"},
        {"M required a=;", "sasl.jaas.config: expected a value after '=' at column 14"},
        {"M required a==b;", "sasl.jaas.config: expected a value after '=' at column 14"},
        {"M required a=", "sasl.jaas.config: expected a value after '=' at column 14"},
        {"M required a=\"xyz;", "sasl.jaas.config: the quoted string opened here is not closed "
                                "before the end of the text at column 14"},
        {"M required a='x\\';", "sasl.jaas.config: the quoted string opened here is not closed "
                                "before the end of the text at column 14"},
        {"M required a=\"x\\", "sasl.jaas.config: the quoted string opened here is not closed "
                               "before the end of the text at column 14"},
        {"M required a=\"x\n\";", "sasl.jaas.config: the quoted string opened here is not closed "
                                  "before the end of the line at line 1, column 14"},
        {"M required /* a=b;", "sasl.jaas.config: the comment opened here is not closed at "
                               "column 12"},
        {"M required a=b /*/;", "sasl.jaas.config: the comment opened here is not closed at "
                                "column 16"},
        {"M required a=\"x\\0\";", "sasl.jaas.config: the escape makes a NUL character, which "
                                   "no value may hold, at column 16"},
        {"M required a=\"x\\000y\";", "sasl.jaas.config: the escape makes a NUL character, which "
                                      "no value may hold, at column 16"},
        {"M required; N required;", "sasl.jaas.config: a second login module: Kafka clients "
                                    "take exactly one at column 13"},
        {"M required;;", "sasl.jaas.config: unexpected ';' after the end of the entry at column 12"},
        {"M required url=http://host/path;",
         "sasl.jaas.config: expected ';' (the '/' at column 21 starts a comment to the end of "
         "the line: quote values that hold '/') at column 21"},
        {"M required\n  a=\"1\"\n  b \"2\";",
         "sasl.jaas.config: expected '=' after the option name at line 3, column 5"},
        {"M required\r\n\r\n  a=\"1\"\r  b=/x\n;",
         "sasl.jaas.config: expected a value after '=' at line 5, column 1"}, /* the ';' */
        /* columns count characters: ä and ü are two bytes each in UTF-8 */
        {"M required n\xc3\xa4m\xc3\xbc=1 x;",
         "sasl.jaas.config: expected '=' after the option name at column 20"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_jaas_t j;
        char err[256] = "";
        kp_err_t rc = kp_jaas_parse(cases[i].text, &j, err, sizeof(err));
        CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
        if (strcmp(err, cases[i].want) != 0)
            FAIL("case %zu: got \"%s\"\n  want \"%s\"", i, err, cases[i].want);
        CHECK_NULL(j.module); /* nothing left to free */
        CHECK_EQ_INT(j.nopts, 0);
        kp_jaas_free(&j);
    }
}

static void test_too_long(void)
{
    size_t n = KP_JAAS_MAX_TEXT + 1;
    char *big = malloc(n + 1);
    REQUIRE_NOT_NULL(big);
    memset(big, ' ', n);
    memcpy(big, "M required", 10);
    big[n - 1] = ';';
    big[n] = '\0';
    kp_jaas_t j;
    char err[256] = "";
    CHECK_EQ_ERR(kp_jaas_parse(big, &j, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "sasl.jaas.config: longer than 65536 bytes");
    big[n - 2] = ';';
    big[n - 1] = '\0'; /* exactly the limit */
    CHECK_OK(kp_jaas_parse(big, &j, err, sizeof(err)));
    kp_jaas_free(&j);
    free(big);
    /* NULL text is empty; NULL err buffer is fine */
    CHECK_EQ_ERR(kp_jaas_parse(NULL, &j, NULL, 0), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_jaas_parse("M", &j, NULL, 0), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_jaas_parse("M required;", NULL, NULL, 0), KP_ERR_INVALID_ARG);
}

/* A secret put in every place a mistake can put it never reaches an error. */
static void test_no_secret_in_errors(void)
{
    static const char *const cases[] = {
        "M required password=\"" SECRET "\"",         /* no ';' */
        "M required password=\"" SECRET "\" x;",      /* a name without '=' after it */
        "M required password \"" SECRET "\";",        /* '=' forgotten */
        "M required username=u \"" SECRET "\";",      /* the secret where a name goes */
        "M required username=u " SECRET ";",          /* the same, unquoted */
        "M \"" SECRET "\";",                           /* where the flag goes */
        "M " SECRET " username=u;",
        "\"" SECRET "\" = x;",
        "M required password=\"" SECRET,               /* unclosed */
        "M required password=\"" SECRET "\n\";",       /* unclosed on its line */
        "M required password=\"" SECRET "\\0\";",      /* NUL escape */
        "M required password=" SECRET "/x;",           /* a '/' eats the ';' */
        "M required password=\"" SECRET "\"; " SECRET " required;", /* two modules */
        "M required password=\"" SECRET "\" /* " SECRET,
        SECRET,
        SECRET " " SECRET,
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kp_jaas_t j;
        char err[512] = "";
        CHECK_EQ_ERR(kp_jaas_parse(cases[i], &j, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
        CHECK(err[0] != '\0');
        if (strstr(err, "hunter") || strstr(err, "S3cr3t"))
            FAIL("case %zu: the error holds the secret: %s", i, err);
    }
}

static void test_describe_hides_secrets(void)
{
    kp_jaas_t j;
    char err[256] = "", out[512];
    REQUIRE_OK(kp_jaas_parse("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                             "REQUIRED clientId=\"c\" clientSecret=\"" SECRET "\" password=\"" SECRET
                             "\" token='" SECRET "' scope=\"a \\\"b\\\"\\n\" \"odd name\"=x;",
                             &j, err, sizeof(err)));
    size_t n = kp_jaas_describe(&j, out, sizeof(out));
    CHECK_EQ_STR(out, "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                      "required clientId=\"c\" clientSecret=[hidden] password=[hidden] "
                      "token=[hidden] scope=\"a \\\"b\\\"\\012\" \"odd name\"=\"x\";");
    CHECK_EQ_INT(n, strlen(out));
    CHECK(strstr(out, "hunter") == NULL);
    /* truncation behaves as snprintf */
    char small[8];
    CHECK_EQ_INT(kp_jaas_describe(&j, small, sizeof(small)), n);
    CHECK_EQ_STR(small, "org.apa");
    CHECK_EQ_INT(kp_jaas_describe(&j, NULL, 0), n);
    kp_jaas_free(&j);

    /* what describe writes parses back to the same options */
    REQUIRE_OK(kp_jaas_parse("M optional a=\"tab\\tq\\\"\\\\\" b='\\001';", &j, err, sizeof(err)));
    kp_jaas_describe(&j, out, sizeof(out));
    kp_jaas_t k;
    REQUIRE_OK(kp_jaas_parse(out, &k, err, sizeof(err)));
    CHECK_EQ_INT(k.flag, KP_JAAS_OPTIONAL);
    CHECK_EQ_STR(kp_jaas_get(&k, "a"), "tab\tq\"\\");
    CHECK_EQ_STR(kp_jaas_get(&k, "b"), "\001");
    kp_jaas_free(&k);
    kp_jaas_free(&j);

    CHECK(kp_jaas_is_secret("password"));
    CHECK(kp_jaas_is_secret("clientSecret"));
    CHECK(kp_jaas_is_secret("token"));
    CHECK(kp_jaas_is_secret("ssl.key.PASSWORD"));
    CHECK(!kp_jaas_is_secret("username"));
    CHECK(!kp_jaas_is_secret("unsecuredLoginStringClaim_sub"));
    CHECK(!kp_jaas_is_secret("extension_logicalCluster"));
}

/* Every allocation failing in turn: a clean KP_ERR_NOMEM, nothing leaked
 * (the ASan build checks the leaks). */
static void test_out_of_memory(void)
{
    const char *text = "org.apache.kafka.common.security.plain.PlainLoginModule required "
                       "a=1 b=\"2\" c='3' d=4 e=5 f=6 username=\"u\" password=\"p\";";
    long total = 0;
    kp_jaas_t j;
    char err[256];
    kp_alloc_fail_after(LONG_MAX, 0);
    REQUIRE_OK(kp_jaas_parse(text, &j, err, sizeof(err)));
    total = kp_alloc_fail_after(0, 0);
    kp_jaas_free(&j);
    CHECK_GT_INT(total, 10);
    for (long i = 1; i <= total; i++) {
        kp_alloc_fail_after(i, 0);
        kp_err_t rc = kp_jaas_parse(text, &j, err, sizeof(err));
        kp_alloc_fail_after(0, 0);
        CHECK_EQ_ERR(rc, KP_ERR_NOMEM);
        CHECK_EQ_STR(err, "sasl.jaas.config: out of memory");
        CHECK_NULL(j.module);
        kp_jaas_free(&j);
    }
}

TEST_MAIN(TEST(test_plain), TEST(test_scram_tokenauth), TEST(test_oauthbearer), TEST(test_flags),
          TEST(test_quoting_and_escapes), TEST(test_errors_with_columns), TEST(test_too_long),
          TEST(test_no_secret_in_errors), TEST(test_describe_hides_secrets),
          TEST(test_out_of_memory))

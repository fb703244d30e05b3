/*
 * test_scram — the SASL mechanisms of src/net/sasl.c, client side.
 *
 * SCRAM is checked byte for byte against published exchanges: RFC 7677's
 * SCRAM-SHA-256 example and RFC 5802's SCRAM-SHA-1 example (SHA-1 is not a
 * Kafka mechanism; the state machine has it for this vector only), with
 * the client nonce fixed through kp_sasl_test_nonce. SCRAM-SHA-512, user
 * name escaping inside a whole exchange and Kafka's tokenauth extension
 * have no published vector: theirs were computed by an independent
 * implementation, Python's hashlib.pbkdf2_hmac and hmac, with this script
 * (which also reproduces RFC 7677's vector, as a check of itself):
 *
 *   import base64, hashlib, hmac
 *   def scram(h, user, pw, cnonce, snonce, salt, i, ext="", sext=""):
 *       name = user.replace("=", "=3D").replace(",", "=2C")
 *       bare = "n=%s,r=%s%s" % (name, cnonce, ext)
 *       sfirst = "r=%s%s,s=%s,i=%d%s" % (cnonce, snonce,
 *                                         base64.b64encode(salt).decode(), i, sext)
 *       nop = "c=biws,r=%s%s" % (cnonce, snonce)
 *       am = ",".join([bare, sfirst, nop]).encode()
 *       sp = hashlib.pbkdf2_hmac(h, pw.encode(), salt, i)
 *       ck = hmac.new(sp, b"Client Key", h).digest()
 *       sk = hashlib.new(h, ck).digest()
 *       cs = hmac.new(sk, am, h).digest()
 *       proof = bytes(a ^ b for a, b in zip(ck, cs))
 *       ss = hmac.new(hmac.new(sp, b"Server Key", h).digest(), am, h).digest()
 *       print("n,," + bare); print(sfirst)
 *       print(nop + ",p=" + base64.b64encode(proof).decode())
 *       print("v=" + base64.b64encode(ss).decode())
 *   scram("sha512", "al,ice=x", "p\u00e4ss w,rd=", "kp5Nonce+/Ab",
 *         "Srv-3rv=Nonce", b"salt-of-512\x00\xff", 4096)
 *   scram("sha256", "tokenid", "tokenhmac==", "dtNonce", "SrvNonce",
 *         b"0123456789abcdef", 4096, ",tokenauth=true")
 *   salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")   # RFC 7677's
 *   sn = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
 *   scram("sha256", "user", "pencil", "rOprNGfwEbeRWgbNEkqO", sn, salt, 4096,
 *         sext=",foo=bar")                 # a server-first extension
 *   scram("sha256", "user", "pencil2", "rOprNGfwEbeRWgbNEkqO", sn, salt, 4096)
 *                                          # a server with the wrong password
 *
 * Then every malformed or dishonest server message (a nonce that is not
 * ours, missing fields, bad base64, too few or too many iterations, a
 * wrong server signature, e= errors) is refused with its reason and
 * without the password in the text; PLAIN's and OAUTHBEARER's messages,
 * OAUTHBEARER's error path, Java's unsecured JWS, the JAAS helpers, the
 * SaslHandshake check, base64, and allocation failures.
 */
#include "test.h"

#include <limits.h>

#include "base/alloc.h"
#include "base/kafka_codes.h"
#include "conf/jaas.h"
#include "net/sasl.h"

#define PW_MARK "pencil" /* the RFC's password: never in an error */

/* SCRAM needs OpenSSL: in a build without it (KPROD_WITH_OPENSSL unset)
 * the SCRAM tests say so and stop; test_mechanism_names then checks the
 * "this build has no OpenSSL" error. */
#define NEED_SCRAM()                                                                              \
    do {                                                                                          \
        if (!kp_sasl_mech_built(KP_SASL_SCRAM_SHA_256)) {                                         \
            fprintf(stderr, "     %s: skipped, this build has no OpenSSL\n", __func__);            \
            return;                                                                               \
        }                                                                                         \
    } while (0)

/* One SCRAM exchange, checked message by message. */
static void exchange(kp_sasl_mech_t mech, const char *user, const char *pass, int tokenauth,
                     const char *nonce, const char *client_first, const char *server_first,
                     const char *client_final, const char *server_final)
{
    char err[512] = "";
    kp_err_t rc;
    kp_sasl_creds_t c = {.username = user, .password = pass, .tokenauth = tokenauth};
    kp_sasl_t *s = kp_sasl_new(mech, &c, &rc, err, sizeof(err));
    if (!s) {
        FAIL("kp_sasl_new: %s", err);
        return;
    }
    CHECK_OK(kp_sasl_test_nonce(s, nonce));
    kp_sasl_out_t out;
    CHECK_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    CHECK(out.send && !out.done);
    CHECK_EQ_MEM(out.data, out.len, client_first, strlen(client_first));
    CHECK_OK(kp_sasl_step(s, (const uint8_t *)server_first, strlen(server_first), &out, err,
                          sizeof(err)));
    CHECK(out.send && !out.done);
    CHECK_EQ_MEM(out.data, out.len, client_final, strlen(client_final));
    rc = kp_sasl_step(s, (const uint8_t *)server_final, strlen(server_final), &out, err,
                      sizeof(err));
    if (rc != KP_OK)
        FAIL("server-final refused: %s", err);
    CHECK(!out.send && out.done);
    CHECK_EQ_INT(out.len, 0);
    /* over: further steps are refused */
    CHECK_EQ_ERR(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)), KP_ERR_INVALID_ARG);
    kp_sasl_free(s);
}

/* RFC 7677 section 3. */
#define R7677_NONCE "rOprNGfwEbeRWgbNEkqO"
#define R7677_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define R7677_SFIRST                                                                              \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define R7677_FINAL                                                                               \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                                \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define R7677_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void test_rfc7677_sha256(void)
{
    NEED_SCRAM();
    exchange(KP_SASL_SCRAM_SHA_256, "user", "pencil", 0, R7677_NONCE, R7677_FIRST, R7677_SFIRST,
             R7677_FINAL, R7677_SFINAL);
}

/* RFC 5802 section 5 (SHA-1). */
static void test_rfc5802_sha1(void)
{
    NEED_SCRAM();
    exchange(KP_SASL_SCRAM_SHA_1_TEST, "user", "pencil", 0, "fyko+d2lbbFgONRv9qkxdawL",
             "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
             "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
             "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
             "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

/* Python's vector (script above): SHA-512, a user name needing =2C and =3D,
 * a UTF-8 password with a space, ',' and '=', a salt with 0x00 and 0xff. */
static void test_sha512_independent_vector(void)
{
    NEED_SCRAM();
    exchange(KP_SASL_SCRAM_SHA_512, "al,ice=x", "p\xc3\xa4ss w,rd=", 0, "kp5Nonce+/Ab",
             "n,,n=al=2Cice=3Dx,r=kp5Nonce+/Ab",
             "r=kp5Nonce+/AbSrv-3rv=Nonce,s=c2FsdC1vZi01MTIA/w==,i=4096",
             "c=biws,r=kp5Nonce+/AbSrv-3rv=Nonce,p=yP/7gw+PFHnF3iShhoF0PJE5HMoaY3zWuSg1QoltXmOeD8D2x9"
             "KIZWx2J1VilF6nCkJGOUd2GhqJevT0Oo27jg==",
             "v=W2IgQBNPOaPDpo2LkcNaKCBBLs4J98JSEPHHjspalOTWr1DUhZtrGrH3USxPnXQCXpSGeFoxAV23kJMQS6x1"
             "eA==");
}

/* Kafka's delegation tokens: ",tokenauth=true" ends client-first-bare and
 * is part of the AuthMessage. */
static void test_tokenauth_vector(void)
{
    NEED_SCRAM();
    exchange(KP_SASL_SCRAM_SHA_256, "tokenid", "tokenhmac==", 1, "dtNonce",
             "n,,n=tokenid,r=dtNonce,tokenauth=true",
             "r=dtNonceSrvNonce,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=4096",
             "c=biws,r=dtNonceSrvNonce,p=NvI+CJaUZ5HQDEog7x+4WhN7Ptfl5fU6wwRKgvW+3Ww=",
             "v=ZVTBR0mpDDiK6ty8jrAvtsc+JDX7puBOPStC/6blszM=");
}

/* A server may add extensions after i= (they are part of the AuthMessage)
 * and after v= (Kafka's grammar allows both). */
static void test_server_extensions_accepted(void)
{
    NEED_SCRAM();
    exchange(KP_SASL_SCRAM_SHA_256, "user", "pencil", 0, R7677_NONCE, R7677_FIRST,
             R7677_SFIRST ",foo=bar",
             "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
             "p=PPh6rhhmk8uZmt28opTcGaoTk6ivc+lkdi4ttC2ODMU=",
             "v=pnGnmhjUkBCoCazlksV/3Gwv5YY6no+TZQy6bPnbx3o=,x=y");
}

static void test_escaping_and_nonce(void)
{
    NEED_SCRAM();
    char err[256];
    kp_sasl_creds_t c = {.username = "=a,,b=", .password = "x"};
    kp_sasl_out_t o1, o2;
    kp_sasl_t *s1 = kp_sasl_new(KP_SASL_SCRAM_SHA_512, &c, NULL, err, sizeof(err));
    kp_sasl_t *s2 = kp_sasl_new(KP_SASL_SCRAM_SHA_512, &c, NULL, err, sizeof(err));
    REQUIRE(s1 && s2);
    REQUIRE_OK(kp_sasl_step(s1, NULL, 0, &o1, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_step(s2, NULL, 0, &o2, err, sizeof(err)));
    const char *want = "n,,n==3Da=2C=2Cb=3D,r=";
    REQUIRE(o1.len == strlen(want) + 32); /* 24 random bytes in base64 */
    CHECK_EQ_MEM(o1.data, strlen(want), want, strlen(want));
    for (size_t i = strlen(want); i < o1.len; i++)
        CHECK(o1.data[i] > 0x20 && o1.data[i] < 0x7f && o1.data[i] != ',');
    /* RAND_bytes: two exchanges never share a nonce */
    CHECK(o1.len == o2.len && memcmp(o1.data, o2.data, o1.len) != 0);
    kp_sasl_free(s1);
    kp_sasl_free(s2);

    /* the seam: only before the first step, printable, no ',' */
    kp_sasl_t *s = kp_sasl_new(KP_SASL_SCRAM_SHA_256, &c, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    CHECK_EQ_ERR(kp_sasl_test_nonce(s, "a,b"), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_sasl_test_nonce(s, "a b"), KP_ERR_INVALID_ARG);
    CHECK_EQ_ERR(kp_sasl_test_nonce(s, ""), KP_ERR_INVALID_ARG);
    CHECK_OK(kp_sasl_test_nonce(s, "abc"));
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &o1, err, sizeof(err)));
    CHECK_EQ_ERR(kp_sasl_test_nonce(s, "abd"), KP_ERR_INVALID_ARG);
    kp_sasl_free(s);
}

/* Start an RFC 7677 exchange and feed it sfirst, then (when sfirst is
 * taken) sfinal: the step that refuses must return want_rc with want in
 * its text, and never the password. */
static void refused(const char *sfirst, const char *sfinal, kp_err_t want_rc, const char *want)
{
    char err[512] = "";
    kp_sasl_creds_t c = {.username = "user", .password = "pencil"};
    kp_sasl_t *s = kp_sasl_new(KP_SASL_SCRAM_SHA_256, &c, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    REQUIRE_OK(kp_sasl_test_nonce(s, R7677_NONCE));
    kp_sasl_out_t out;
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    kp_err_t rc = kp_sasl_step(s, (const uint8_t *)sfirst, strlen(sfirst), &out, err, sizeof(err));
    if (rc == KP_OK && sfinal)
        rc = kp_sasl_step(s, (const uint8_t *)sfinal, strlen(sfinal), &out, err, sizeof(err));
    if (rc != want_rc || !strstr(err, want))
        FAIL("server-first \"%.60s\" server-final \"%.60s\": rc %d, \"%s\"; want rc %d and \"%s\"",
             sfirst, sfinal ? sfinal : "-", (int)rc, err, (int)want_rc, want);
    CHECK(strncmp(err, "SASL SCRAM-SHA-256: ", 20) == 0);
    CHECK(strstr(err, PW_MARK) == NULL);
    CHECK_NULL(out.data);
    CHECK(!out.done && !out.send);
    /* a failed state only refuses */
    CHECK_EQ_ERR(kp_sasl_step(s, (const uint8_t *)R7677_SFINAL, strlen(R7677_SFINAL), &out, err,
                              sizeof(err)),
                 KP_ERR_INVALID_ARG);
    kp_sasl_free(s);
}

#define F KAFKA_SASL_AUTHENTICATION_FAILED
#define SALT ",s=W22ZaJ0SNY7soEsUEjb6gQ=="
#define RN "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

static void test_malformed_server_first(void)
{
    NEED_SCRAM();
    refused("", NULL, F, "the server-first message is empty");
    refused("r=someoneElsesNonce0123456789" SALT ",i=4096", NULL, F,
            "the server's nonce does not start with ours");
    refused("r=rOprNGfwEbeRWgbNEk" SALT ",i=4096", NULL, F,
            "the server's nonce does not start with ours"); /* a prefix of ours */
    refused("r=" R7677_NONCE SALT ",i=4096", NULL, F, "the server's nonce adds nothing to ours");
    refused("s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, F, "does not start with r= (the nonce)");
    refused(SALT + 1, NULL, F, "does not start with r=");
    refused("r=,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, F, "has an empty nonce");
    refused("r=rOprNGfwEbeRWgbNEkqO\x01x" SALT ",i=4096", NULL, F, "not printable ASCII");
    refused("r=rOprNGfwEbeRWgbNEkqO x" SALT ",i=4096", NULL, F, "not printable ASCII");
    refused(RN ",i=4096", NULL, F, "no s= (the salt)");
    refused(RN, NULL, F, "no s= (the salt)");
    refused(RN ",s=,i=4096", NULL, F, "has an empty salt");
    refused(RN ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", NULL, F, "the server's salt is not valid base64");
    refused(RN ",s=W22ZaJ0SNY7soEsUEjb6g*==,i=4096", NULL, F, "not valid base64");
    refused(RN ",s=W22ZaJ0SNY7soEsUEjb6gQ=A,i=4096", NULL, F, "not valid base64");
    refused(RN ",s=W22ZaJ0SNY7soEsUEjb6gR==,i=4096", NULL, F, "not valid base64"); /* non-canonical */
    refused(RN ",s= W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", NULL, F, "not valid base64");
    refused(RN SALT, NULL, F, "no i= (the iteration count)");
    refused(RN SALT ",x=4096", NULL, F, "no i= (the iteration count)");
    refused(RN SALT ",i=", NULL, F, "the server's iteration count is empty");
    refused(RN SALT ",i=40x6", NULL, F, "is not a number");
    refused(RN SALT ",i=-4096", NULL, F, "is not a number");
    refused(RN SALT ",i=+4096", NULL, F, "is not a number");
    refused(RN SALT ",i=4095", NULL, F,
            "the server asks for 4095 iterations, fewer than the 4096 Kafka's clients require");
    refused(RN SALT ",i=1", NULL, F, "asks for 1 iterations, fewer than the 4096");
    refused(RN SALT ",i=0", NULL, F, "fewer than the 4096");
    refused(RN SALT ",i=100001", NULL, F,
            "the server asks for 100001 iterations, more than the 100000 kprod computes");
    refused(RN SALT ",i=99999999999999999999999", NULL, F,
            "asks for over 4294967295 iterations, more than the 100000");
    refused(RN SALT ",i=4096,", NULL, F, "malformed extension after i=");
    refused(RN SALT ",i=4096,x", NULL, F, "malformed extension after i=");
    refused(RN SALT ",i=4096,1=2", NULL, F, "malformed extension after i=");
    refused(RN SALT ",i=4096,x=", NULL, F, "malformed extension after i=");
    refused("m=needThis," RN SALT ",i=4096", NULL, F,
            "the server requires an extension (m=) kprod does not know");
    refused("e=unknown-user", NULL, F, "the server refused the authentication: e=unknown-user");
    refused("e=bad\x01thing\xff,x=y", NULL, F,
            "the server refused the authentication: e=bad?thing?");
    /* longer than KP_SCRAM_MAX_MSG */
    {
        size_t n = KP_SCRAM_MAX_MSG + 1;
        char *big = malloc(n + 1);
        REQUIRE_NOT_NULL(big);
        memset(big, 'a', n);
        memcpy(big, RN SALT ",i=4096,x=", strlen(RN SALT ",i=4096,x="));
        big[n] = '\0';
        refused(big, NULL, F, "the server-first message is longer than 8192 bytes");
        free(big);
    }
}

static void test_malformed_server_final(void)
{
    NEED_SCRAM();
    /* the right exchange up to the server's signature */
    refused(R7677_SFIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=", F,
            "not valid base64"); /* non-canonical last character */
    refused(R7677_SFIRST, "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", F,
            "the server's signature (v=) is wrong: the server did not prove it knows the "
            "password, so it is refused");
    refused(R7677_SFIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", F,
            "not valid base64"); /* its padding cut off */
    refused(R7677_SFIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9", F,
            "the server's signature (v=) is wrong"); /* 30 bytes of it */
    refused(R7677_SFIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==", F,
            "the server's signature (v=) is wrong"); /* 31 bytes */
    refused(R7677_SFIRST, "v=", F, "not valid base64");
    refused(R7677_SFIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,", F,
            "malformed extension");
    refused(R7677_SFIRST, "e=invalid-proof", F,
            "the server refused the authentication: e=invalid-proof");
    refused(R7677_SFIRST, "e=other-error,ext=1", F,
            "the server refused the authentication: e=other-error");
    refused(R7677_SFIRST, "e=", F, "the server-final message's error (e=) is empty");
    refused(R7677_SFIRST, "e=a=b", F, "error (e=) is malformed");
    refused(R7677_SFIRST, "", F, "the server-final message is empty");
    refused(R7677_SFIRST, "x=1", F, "neither v= (the server's signature) nor e= (an error)");
    refused(R7677_SFIRST, R7677_SFIRST, F, "neither v=");
    /* a server that does not know the password answers a proof it cannot
     * check with some signature: the client must refuse it; here, the
     * signature of the same exchange under another password ("pencil2",
     * computed with the script above) */
    refused(R7677_SFIRST, "v=C/2HRMQ0ruT7215VcBBnRElB6Lw19fGr/f7Vypn/VEE=", F,
            "the server's signature (v=) is wrong");
}

static void test_parsers(void)
{
    kp_scram_server_first_t f;
    char err[256];
    const char *m = R7677_SFIRST ",abc=x y,d==";
    REQUIRE_OK(kp_scram_parse_server_first((const uint8_t *)m, strlen(m), &f, err, sizeof(err)));
    CHECK_EQ_MEM(f.nonce, f.nonce_len, R7677_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", 50);
    CHECK_EQ_INT(f.iterations, 4096);
    CHECK_EQ_MEM(f.salt, f.salt_len,
                 "\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81", 16);
    kp_scram_server_final_t v;
    m = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    REQUIRE_OK(kp_scram_parse_server_final((const uint8_t *)m, strlen(m), &v, err, sizeof(err)));
    CHECK_NULL(v.error);
    CHECK_EQ_INT(v.verifier_len, 32);
    m = "e=channel-bindings-dont-match";
    REQUIRE_OK(kp_scram_parse_server_final((const uint8_t *)m, strlen(m), &v, err, sizeof(err)));
    CHECK_EQ_MEM(v.error, v.error_len, "channel-bindings-dont-match", 27);
    /* a signature longer than any digest */
    m = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G46rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G46rri"
        "TRBi23WpRR/w";
    CHECK_EQ_ERR(kp_scram_parse_server_final((const uint8_t *)m, strlen(m), &v, err, sizeof(err)),
                 F);
    CHECK_EQ_ERR(kp_scram_parse_server_first(NULL, 0, &f, err, sizeof(err)), F);
}

static void test_step_misuse(void)
{
    NEED_SCRAM();
    char err[256];
    kp_sasl_out_t out;
    kp_sasl_creds_t c = {.username = "u", .password = "p"};
    kp_sasl_t *s = kp_sasl_new(KP_SASL_SCRAM_SHA_256, &c, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    /* the client speaks first */
    CHECK_EQ_ERR(kp_sasl_step(s, (const uint8_t *)"x", 1, &out, err, sizeof(err)),
                 KP_ERR_INVALID_ARG);
    CHECK_EQ_STR(err, "SASL SCRAM-SHA-256: the first step takes no server message");
    CHECK_EQ_ERR(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)), KP_ERR_INVALID_ARG);
    CHECK_EQ_STR(err, "SASL SCRAM-SHA-256: the exchange is over (failed)");
    kp_sasl_free(s);
    CHECK_EQ_ERR(kp_sasl_step(NULL, NULL, 0, &out, err, sizeof(err)), KP_ERR_INVALID_ARG);
    kp_sasl_free(NULL);

    kp_err_t rc;
    kp_sasl_creds_t nouser = {.password = "p"};
    CHECK_NULL(kp_sasl_new(KP_SASL_SCRAM_SHA_512, &nouser, &rc, err, sizeof(err)));
    CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "SASL SCRAM-SHA-512 needs a username and a password");
    kp_sasl_creds_t tok = {.username = "u", .password = "p", .tokenauth = 1};
    CHECK_NULL(kp_sasl_new(KP_SASL_PLAIN, &tok, &rc, err, sizeof(err)));
    CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
    CHECK_NULL(kp_sasl_new((kp_sasl_mech_t)99, &c, &rc, err, sizeof(err)));
    CHECK_EQ_ERR(rc, KP_ERR_INVALID_ARG);
    /* an empty SCRAM password is the user's business (RFC 5802 allows it) */
    kp_sasl_creds_t empty = {.username = "u", .password = ""};
    s = kp_sasl_new(KP_SASL_SCRAM_SHA_256, &empty, &rc, err, sizeof(err));
    CHECK_NOT_NULL(s);
    kp_sasl_free(s);
}

static void test_plain(void)
{
    char err[256];
    kp_sasl_out_t out;
    kp_sasl_creds_t c = {.username = "alice", .password = "alice-secret"};
    kp_sasl_t *s = kp_sasl_new(KP_SASL_PLAIN, &c, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    CHECK_EQ_INT(kp_sasl_mech(s), KP_SASL_PLAIN);
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    CHECK(out.send && !out.done);
    CHECK_EQ_MEM(out.data, out.len, "\0alice\0alice-secret", 19);
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err))); /* Kafka answers empty */
    CHECK(!out.send && out.done);
    kp_sasl_free(s);

    kp_err_t rc;
    kp_sasl_creds_t nopw = {.username = "alice", .password = ""};
    CHECK_NULL(kp_sasl_new(KP_SASL_PLAIN, &nopw, &rc, err, sizeof(err)));
    CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "SASL PLAIN needs a username and a password");
}

static void test_oauthbearer(void)
{
    char err[256];
    kp_sasl_out_t out;
    kp_sasl_ext_t ext[] = {{"logicalCluster", "lkc-abc123"}, {"identityPoolId", "pool-Xy"}};
    kp_sasl_creds_t c = {.token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", .ext = ext, .next = 2};
    kp_sasl_t *s = kp_sasl_new(KP_SASL_OAUTHBEARER, &c, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    static const char want[] = "n,,\x01"
                               "auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\x01"
                               "logicalCluster=lkc-abc123\x01identityPoolId=pool-Xy\x01\x01";
    CHECK_EQ_MEM(out.data, out.len, want, sizeof(want) - 1);
    CHECK(out.send && !out.done);
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    CHECK(out.done && !out.send);
    CHECK_NULL(kp_sasl_server_reason(s));
    kp_sasl_free(s);

    /* no extensions */
    kp_sasl_creds_t c0 = {.token = "abc-._~+/=="};
    s = kp_sasl_new(KP_SASL_OAUTHBEARER, &c0, NULL, err, sizeof(err));
    REQUIRE_NOT_NULL(s);
    REQUIRE_OK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)));
    CHECK_EQ_MEM(out.data, out.len, "n,,\x01" "auth=Bearer abc-._~+/==\x01\x01", 29);
    /* RFC 7628 3.2.2: the server's error status, answered with ^A */
    const char *status = "{\"status\":\"invalid_token\",\n\"scope\":\"x\"}";
    REQUIRE_OK(kp_sasl_step(s, (const uint8_t *)status, strlen(status), &out, err, sizeof(err)));
    CHECK(out.send && !out.done);
    CHECK_EQ_MEM(out.data, out.len, "\x01", 1);
    CHECK_EQ_STR(kp_sasl_server_reason(s), "{\"status\":\"invalid_token\",?\"scope\":\"x\"}");
    CHECK_EQ_ERR(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)), KAFKA_SASL_AUTHENTICATION_FAILED);
    CHECK_EQ_STR(err, "SASL OAUTHBEARER: the server refused the token: "
                      "{\"status\":\"invalid_token\",?\"scope\":\"x\"}");
    kp_sasl_free(s);

    /* tokens and extensions that cannot be sent; never echoed */
    static const char *const bad_tokens[] = {"", "a b", "secret\x01", "=abc", "abc=d", "tok\xc3\xa4"};
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        kp_err_t rc;
        kp_sasl_creds_t b = {.token = bad_tokens[i]};
        CHECK_NULL(kp_sasl_new(KP_SASL_OAUTHBEARER, &b, &rc, err, sizeof(err)));
        CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
        CHECK(strstr(err, "secret") == NULL);
    }
    kp_sasl_creds_t nt = {0};
    CHECK_NULL(kp_sasl_new(KP_SASL_OAUTHBEARER, &nt, NULL, err, sizeof(err)));
    CHECK_EQ_STR(err, "SASL OAUTHBEARER: no token");
    kp_sasl_ext_t bad_ext[][1] = {{{"auth", "x"}}, {{"log-ical", "x"}}, {{"k", ""}}, {{"k", "a\x01"}},
                                  {{"", "x"}}};
    for (size_t i = 0; i < sizeof(bad_ext) / sizeof(bad_ext[0]); i++) {
        kp_err_t rc;
        kp_sasl_creds_t b = {.token = "t", .ext = bad_ext[i], .next = 1};
        CHECK_NULL(kp_sasl_new(KP_SASL_OAUTHBEARER, &b, &rc, err, sizeof(err)));
        CHECK_EQ_ERR(rc, KP_ERR_INVALID_CONFIG);
    }
}

static void test_unsecured_token(void)
{
    kp_jaas_t j;
    char err[256];
    kp_sasl_token_t t;
    REQUIRE_OK(kp_jaas_parse(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        "unsecuredLoginStringClaim_sub=\"thePrincipalName\" "
        "unsecuredLoginListClaim_scope=\"|scope1||scope2\" unsecuredLoginLifetimeSeconds=\"60\" "
        "unsecuredLoginNumberClaim_n=\"-4.5e3\" unsecuredLoginStringClaim_q=\"say \\\"hi\\\"\\n\" "
        "unsecuredLoginExtension_traceId=\"123\";",
        &j, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_unsecured_token(&j, 1700000000123LL, &t, err, sizeof(err)));
    /* the claims, {"exp":1700000060.123,"iat":1700000000.123,"sub":"thePrincipalName",
     * "scope":["scope1","","scope2"],"n":-4.5e3,"q":"say \"hi\"\u000a"}, encoded by
     * Python's base64.urlsafe_b64encode with the padding stripped */
    CHECK_EQ_STR(t.value,
                 "eyJhbGciOiJub25lIn0."
                 "eyJleHAiOjE3MDAwMDAwNjAuMTIzLCJpYXQiOjE3MDAwMDAwMDAuMTIzLCJzdWIiOiJ0aGVQcmluY2lwYW"
                 "xOYW1lIiwic2NvcGUiOlsic2NvcGUxIiwiIiwic2NvcGUyIl0sIm4iOi00LjVlMywicSI6InNheSBcImhp"
                 "XCJcdTAwMGEifQ.");
    CHECK_EQ_STR(t.principal, "thePrincipalName");
    CHECK_EQ_INT(t.lifetime_ms, 1700000060123LL);
    CHECK_EQ_INT(t.start_ms, 1700000000123LL);
    /* the token goes through OAUTHBEARER as it is */
    kp_sasl_ext_t *ext;
    size_t next;
    REQUIRE_OK(kp_sasl_ext_from_jaas(&j, "unsecuredLoginExtension_", &ext, &next, err, sizeof(err)));
    REQUIRE(next == 1);
    CHECK_EQ_STR(ext[0].key, "traceId");
    kp_sasl_creds_t c = {.token = t.value, .ext = ext, .next = next};
    kp_sasl_t *s = kp_sasl_new(KP_SASL_OAUTHBEARER, &c, NULL, err, sizeof(err));
    CHECK_NOT_NULL(s);
    kp_sasl_free(s);
    free(ext);
    kp_sasl_token_clear(&t);
    kp_jaas_free(&j);

    /* the defaults: one hour; another principal claim; a one-character list */
    REQUIRE_OK(kp_jaas_parse("M required unsecuredLoginPrincipalClaimName=\" user \" "
                             "unsecuredLoginStringClaim_user=me unsecuredLoginListClaim_s=\",\" "
                             "unsecuredLoginStringClaim_sub=x unsecuredLoginStringClaim_sub=y;",
                             &j, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_unsecured_token(&j, 1000, &t, err, sizeof(err)));
    CHECK_EQ_STR(t.principal, "me");
    CHECK_EQ_INT(t.lifetime_ms, 3601000);
    /* {"exp":3601.000,"iat":1.000,"user":"me","s":[],"sub":"y"} */
    CHECK_EQ_STR(t.value, "eyJhbGciOiJub25lIn0."
                          "eyJleHAiOjM2MDEuMDAwLCJpYXQiOjEuMDAwLCJ1c2VyIjoibWUiLCJzIjpbXSwic3ViIjoieSJ9.");
    kp_sasl_token_clear(&t);
    kp_sasl_token_clear(&t);
    kp_jaas_free(&j);

    static const struct {
        const char *jaas, *want;
    } bad[] = {
        {"M required;", "sasl.jaas.config: an unsecured token needs its principal: set "
                        "unsecuredLoginStringClaim_sub=\"<name>\""},
        {"M required unsecuredLoginStringClaim_sub=\"\";", "needs its principal"},
        {"M required unsecuredLoginNumberClaim_sub=1;", "needs its principal"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginStringClaim_iat=1;",
         "sasl.jaas.config: unsecuredLoginStringClaim_iat: the 'iat' claim cannot be set (it is "
         "computed)"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginNumberClaim_exp=1;",
         "the 'exp' claim cannot be set"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginNumberClaim_n=0x10;",
         "sasl.jaas.config: unsecuredLoginNumberClaim_n must be a number"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginNumberClaim_n=1.;",
         "must be a number"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginNumberClaim_n=Infinity;",
         "must be a number"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginListClaim_sub=\",b\";",
         "sasl.jaas.config: the claim 'sub' is set twice"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=0;",
         "unsecuredLoginLifetimeSeconds must be a whole number of seconds from 1 to 315360000"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=-5;",
         "LifetimeSeconds must be"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=1e3;",
         "LifetimeSeconds must be"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=315360001;",
         "LifetimeSeconds must be"},
        {"M required unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=\"\";",
         "LifetimeSeconds must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REQUIRE_OK(kp_jaas_parse(bad[i].jaas, &j, err, sizeof(err)));
        err[0] = '\0';
        CHECK_EQ_ERR(kp_sasl_unsecured_token(&j, 0, &t, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
        if (!strstr(err, bad[i].want))
            FAIL("case %zu: \"%s\", want \"%s\"", i, err, bad[i].want);
        CHECK_NULL(t.value);
        kp_jaas_free(&j);
    }
}

static void test_creds_from_jaas(void)
{
    kp_jaas_t j;
    kp_sasl_creds_t c;
    char err[256];
    REQUIRE_OK(kp_jaas_parse("org.apache.kafka.common.security.scram.ScramLoginModule required "
                             "username=\"u\" password=\"" PW_MARK "\" tokenauth=TRUE;",
                             &j, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_creds_from_jaas(KP_SASL_SCRAM_SHA_512, &j, &c, err, sizeof(err)));
    CHECK_EQ_STR(c.username, "u");
    CHECK_EQ_STR(c.password, PW_MARK);
    CHECK_EQ_INT(c.tokenauth, 1);
    /* tokenauth is SCRAM's */
    CHECK_EQ_ERR(kp_sasl_creds_from_jaas(KP_SASL_PLAIN, &j, &c, err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "sasl.jaas.config: tokenauth (delegation tokens) needs SCRAM-SHA-256 or "
                      "SCRAM-SHA-512, not PLAIN");
    /* OAUTHBEARER wants its own module */
    CHECK_EQ_ERR(kp_sasl_creds_from_jaas(KP_SASL_OAUTHBEARER, &j, &c, err, sizeof(err)),
                 KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "sasl.jaas.config: ScramLoginModule does not do SASL mechanism OAUTHBEARER: "
                      "use org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule");
    kp_jaas_free(&j);

    /* Java takes either module for either mechanism; a shaded package too */
    REQUIRE_OK(kp_jaas_parse("kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule "
                             "required username=u password=p tokenauth=yes;",
                             &j, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_creds_from_jaas(KP_SASL_SCRAM_SHA_256, &j, &c, err, sizeof(err)));
    CHECK_EQ_INT(c.tokenauth, 0);
    REQUIRE_OK(kp_sasl_creds_from_jaas(KP_SASL_PLAIN, &j, &c, err, sizeof(err)));
    kp_jaas_free(&j);

    static const struct {
        const char *jaas, *want;
    } bad[] = {
        {"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
         "sasl.jaas.config: Krb5LoginModule does not do SASL mechanism PLAIN: use "
         "org.apache.kafka.common.security.plain.PlainLoginModule"},
        {"\"" PW_MARK " x\" required;", "sasl.jaas.config: the login module does not do"},
        {"PlainLoginModule required password=\"" PW_MARK "\";",
         "sasl.jaas.config: PLAIN needs the options username and password (username is missing)"},
        {"PlainLoginModule required username=" PW_MARK ";",
         "sasl.jaas.config: PLAIN needs the options username and password (password is missing)"},
        {"PlainLoginModule required;", "sasl.jaas.config: PLAIN needs the options username and password"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REQUIRE_OK(kp_jaas_parse(bad[i].jaas, &j, err, sizeof(err)));
        CHECK_EQ_ERR(kp_sasl_creds_from_jaas(KP_SASL_PLAIN, &j, &c, err, sizeof(err)),
                     KP_ERR_INVALID_CONFIG);
        if (!strstr(err, bad[i].want))
            FAIL("case %zu: \"%s\", want \"%s\"", i, err, bad[i].want);
        CHECK(strstr(err, PW_MARK) == NULL);
        CHECK_NULL(c.password);
        kp_jaas_free(&j);
    }
    REQUIRE_OK(kp_jaas_parse("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                             "required;",
                             &j, err, sizeof(err)));
    CHECK_OK(kp_sasl_creds_from_jaas(KP_SASL_OAUTHBEARER, &j, &c, err, sizeof(err)));
    kp_jaas_free(&j);
}

static void test_ext_from_jaas(void)
{
    kp_jaas_t j;
    char err[256];
    kp_sasl_ext_t *ext;
    size_t n;
    REQUIRE_OK(kp_jaas_parse("M required clientId=c clientSecret=\"" PW_MARK "\" "
                             "extension_logicalCluster='lkc-1' extension_identityPoolId='pool-1' "
                             "extension_logicalCluster='lkc-2';",
                             &j, err, sizeof(err)));
    REQUIRE_OK(kp_sasl_ext_from_jaas(&j, "extension_", &ext, &n, err, sizeof(err)));
    REQUIRE(n == 2);
    CHECK_EQ_STR(ext[0].key, "identityPoolId");
    CHECK_EQ_STR(ext[0].value, "pool-1");
    CHECK_EQ_STR(ext[1].key, "logicalCluster"); /* the last one given */
    CHECK_EQ_STR(ext[1].value, "lkc-2");
    free(ext);
    REQUIRE_OK(kp_sasl_ext_from_jaas(&j, "unsecuredLoginExtension_", &ext, &n, err, sizeof(err)));
    CHECK_EQ_INT(n, 0);
    CHECK_NULL(ext);
    kp_jaas_free(&j);

    static const char *const bad[] = {
        "M required extension_auth=x;",
        "M required extension_log_ical=x;",
        "M required extension_=x;",
        "M required extension_k=\"" PW_MARK "\\001\";",
        "M required extension_k=\"\";",
        "M required extension_k=\"" PW_MARK "\xc3\xa4\";",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REQUIRE_OK(kp_jaas_parse(bad[i], &j, err, sizeof(err)));
        CHECK_EQ_ERR(kp_sasl_ext_from_jaas(&j, "extension_", &ext, &n, err, sizeof(err)),
                     KP_ERR_INVALID_CONFIG);
        CHECK(strncmp(err, "sasl.jaas.config: ", 18) == 0);
        CHECK(strstr(err, PW_MARK) == NULL);
        CHECK_NULL(ext);
        kp_jaas_free(&j);
    }
}

static void test_mechanism_names(void)
{
    kp_sasl_mech_t m;
    char err[256];
    CHECK_OK(kp_sasl_mech_parse("PLAIN", &m, err, sizeof(err)));
    CHECK_EQ_INT(m, KP_SASL_PLAIN);
    CHECK_OK(kp_sasl_mech_parse("SCRAM-SHA-256", &m, err, sizeof(err)));
    CHECK_EQ_INT(m, KP_SASL_SCRAM_SHA_256);
    CHECK_OK(kp_sasl_mech_parse("SCRAM-SHA-512", &m, err, sizeof(err)));
    CHECK_EQ_INT(m, KP_SASL_SCRAM_SHA_512);
    CHECK_OK(kp_sasl_mech_parse("OAUTHBEARER", &m, err, sizeof(err)));
    CHECK_EQ_INT(m, KP_SASL_OAUTHBEARER);
    CHECK_EQ_ERR(kp_sasl_mech_parse("GSSAPI", &m, err, sizeof(err)), KP_ERR_NOT_IMPLEMENTED);
    CHECK(strstr(err, "GSSAPI (Kerberos) is not built into kprod") != NULL);
    CHECK_EQ_ERR(kp_sasl_mech_parse("plain", &m, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_sasl_mech_parse("SCRAM-SHA-1", &m, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_ERR(kp_sasl_mech_parse(NULL, &m, err, sizeof(err)), KP_ERR_INVALID_CONFIG);
    CHECK_EQ_STR(err, "sasl.mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER "
                      "(in capitals)");
    CHECK_EQ_STR(kp_sasl_mech_name(KP_SASL_SCRAM_SHA_512), "SCRAM-SHA-512");
    CHECK(kp_sasl_mech_built(KP_SASL_PLAIN));
    CHECK(kp_sasl_mech_built(KP_SASL_OAUTHBEARER));
#ifdef KPROD_WITH_OPENSSL
    CHECK(kp_sasl_mech_built(KP_SASL_SCRAM_SHA_256));
#else
    /* without OpenSSL SCRAM says so */
    kp_err_t rc;
    kp_sasl_creds_t c = {.username = "u", .password = "p"};
    CHECK(!kp_sasl_mech_built(KP_SASL_SCRAM_SHA_256));
    CHECK_NULL(kp_sasl_new(KP_SASL_SCRAM_SHA_256, &c, &rc, err, sizeof(err)));
    CHECK_EQ_ERR(rc, KP_ERR_NOT_IMPLEMENTED);
    CHECK(strstr(err, "this build has no OpenSSL") != NULL);
#endif
}

static void test_handshake_check(void)
{
    char err[256];
    kp_proto_str_t mechs[] = {{"PLAIN", 5}, {"SCRAM-SHA-256", 13}, {"BAD\x01\xff", 5}};
    kp_sasl_handshake_resp_t hs = {0, 3, mechs};
    CHECK_OK(kp_sasl_handshake_check(&hs, KP_SASL_PLAIN, err, sizeof(err)));
    hs.err = KAFKA_UNSUPPORTED_SASL_MECHANISM;
    CHECK_EQ_ERR(kp_sasl_handshake_check(&hs, KP_SASL_SCRAM_SHA_512, err, sizeof(err)),
                 KAFKA_UNSUPPORTED_SASL_MECHANISM);
    CHECK_EQ_STR(err, "broker does not enable SASL mechanism SCRAM-SHA-512; it enables PLAIN, "
                      "SCRAM-SHA-256, BAD??");
    hs.nmechs = 0;
    CHECK_EQ_ERR(kp_sasl_handshake_check(&hs, KP_SASL_OAUTHBEARER, err, sizeof(err)),
                 KAFKA_UNSUPPORTED_SASL_MECHANISM);
    CHECK_EQ_STR(err, "broker does not enable SASL mechanism OAUTHBEARER; it enables none");
    hs.err = KAFKA_ILLEGAL_SASL_STATE;
    CHECK_EQ_ERR(kp_sasl_handshake_check(&hs, KP_SASL_PLAIN, err, sizeof(err)),
                 KAFKA_ILLEGAL_SASL_STATE);
    CHECK(strstr(err, "SaslHandshake for PLAIN failed: ") == err);
}

static void test_base64(void)
{
    /* RFC 4648 section 10 */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char o[16];
        uint8_t d[16];
        size_t n = strlen(plain[i]);
        CHECK_EQ_INT(kp_b64_encode((const uint8_t *)plain[i], n, o, 0), strlen(enc[i]));
        CHECK_EQ_STR(o, enc[i]);
        CHECK_EQ_INT(kp_b64_len(n), strlen(enc[i]));
        kp_b64_encode((const uint8_t *)plain[i], n, o, 1);
        CHECK_EQ_STR(o, url[i]);
        CHECK_EQ_INT(kp_b64_decode(enc[i], strlen(enc[i]), d, sizeof(d)), (long)n);
        CHECK_EQ_MEM(d, n, plain[i], n);
    }
    uint8_t all[256], d[256];
    char o[400];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    kp_b64_encode(all, 256, o, 0);
    CHECK_EQ_INT(kp_b64_decode(o, strlen(o), d, sizeof(d)), 256);
    CHECK_EQ_MEM(d, 256, all, 256);
    CHECK_EQ_INT(kp_b64_decode(o, strlen(o), d, 255), -1); /* does not fit */
    static const char *const badb64[] = {"Zg=", "Zg", "Z===", "=Zg=", "Zh==", "Zm9=", "Zg==Zg==",
                                         "Zm9v\n", "Zm-v", "Zm_v", "Zm9v Zg=="};
    for (size_t i = 0; i < sizeof(badb64) / sizeof(badb64[0]); i++)
        if (!CHECK_EQ_INT(kp_b64_decode(badb64[i], strlen(badb64[i]), d, sizeof(d)), -1))
            fprintf(stderr, "    \"%s\"\n", badb64[i]);
}

/* Each allocation of a SCRAM exchange and of the unsecured token failing in
 * turn: KP_ERR_NOMEM, nothing leaked (the ASan build checks). */
static void test_out_of_memory(void)
{
    NEED_SCRAM();
    char err[256];
    kp_sasl_creds_t c = {.username = "user", .password = "pencil"};
    for (long fail = 1;; fail++) {
        kp_alloc_fail_after(fail, 0);
        kp_err_t rc = KP_OK;
        kp_sasl_out_t out;
        kp_sasl_t *s = kp_sasl_new(KP_SASL_SCRAM_SHA_256, &c, &rc, err, sizeof(err));
        if (s && (rc = kp_sasl_test_nonce(s, R7677_NONCE)) == KP_OK &&
            (rc = kp_sasl_step(s, NULL, 0, &out, err, sizeof(err))) == KP_OK &&
            (rc = kp_sasl_step(s, (const uint8_t *)R7677_SFIRST, strlen(R7677_SFIRST), &out, err,
                               sizeof(err))) == KP_OK)
            rc = kp_sasl_step(s, (const uint8_t *)R7677_SFINAL, strlen(R7677_SFINAL), &out, err,
                              sizeof(err));
        long counted = kp_alloc_fail_after(0, 0);
        kp_sasl_free(s);
        if (counted < fail) { /* the whole exchange ran without reaching it */
            CHECK_OK(rc);
            break;
        }
        CHECK_EQ_ERR(rc, KP_ERR_NOMEM);
    }
}

static void test_out_of_memory_token(void)
{
    char err[256];
    kp_jaas_t j;
    REQUIRE_OK(kp_jaas_parse("M required unsecuredLoginStringClaim_sub=s "
                             "unsecuredLoginListClaim_scope=\" a b c\";",
                             &j, err, sizeof(err)));
    for (long fail = 1;; fail++) {
        kp_sasl_token_t t;
        kp_alloc_fail_after(fail, 0);
        kp_err_t rc = kp_sasl_unsecured_token(&j, 5, &t, err, sizeof(err));
        long counted = kp_alloc_fail_after(0, 0);
        kp_sasl_token_clear(&t);
        if (counted < fail) {
            CHECK_OK(rc);
            break;
        }
        CHECK_EQ_ERR(rc, KP_ERR_NOMEM);
        CHECK_EQ_STR(err, "out of memory");
    }
    kp_jaas_free(&j);
}

TEST_MAIN(TEST(test_rfc7677_sha256), TEST(test_rfc5802_sha1), TEST(test_sha512_independent_vector),
          TEST(test_tokenauth_vector), TEST(test_server_extensions_accepted),
          TEST(test_escaping_and_nonce), TEST(test_malformed_server_first),
          TEST(test_malformed_server_final), TEST(test_parsers), TEST(test_step_misuse),
          TEST(test_plain), TEST(test_oauthbearer), TEST(test_unsecured_token),
          TEST(test_creds_from_jaas), TEST(test_ext_from_jaas), TEST(test_mechanism_names),
          TEST(test_handshake_check), TEST(test_base64), TEST(test_out_of_memory),
          TEST(test_out_of_memory_token))

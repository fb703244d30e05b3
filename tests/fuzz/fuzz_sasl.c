/*
 * fuzz_sasl — what a SASL exchange reads that kprod does not control: the
 * SaslHandshake and SaslAuthenticate decoders (protocol.c), SCRAM's
 * server-first and server-final parsers and the PLAIN and OAUTHBEARER
 * state machines fed a server's bytes (net/sasl.c), and the
 * sasl.jaas.config parser with what is built on it (conf/jaas.c: describe
 * and parse back; sasl.c: credentials, extensions, the unsecured JWS).
 *
 * Input: byte 0 picks the part (modulo 6), then
 *   0  SaslHandshake: version byte (modulo codec max + 2: one beyond, which
 *      must be refused), the frame after its size field
 *   1  SaslAuthenticate: the same
 *   2  a SCRAM server-first message
 *   3  a SCRAM server-final message
 *   4  a sasl.jaas.config text (up to a NUL)
 *   5  a mechanism byte (even PLAIN, odd OAUTHBEARER), then the server's
 *      answer to the client's first message
 *
 * (SCRAM's own state machine is not run here: each exchange costs a PBKDF2
 * of at least 4096 iterations, which would starve the rest; what it reads
 * from the server goes through the two parsers above first.)
 *
 * Invariants: strings and byte ranges inside the input, failures leaving
 * nothing allocated, every error text printable ASCII (server text is
 * sanitised, JAAS errors quote nothing), a JAAS description parsing back to
 * the same options with secrets as [hidden], tokens in base64url.
 */
#include "fuzz.h"

#include <string.h>

#include "base/kafka_codes.h"
#include "conf/jaas.h"
#include "net/sasl.h"
#include "proto/protocol.h"

static int printable(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            return 0;
    return 1;
}

static void handshake(const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    int16_t cmax = kp_proto_codec_max(KP_API_SASL_HANDSHAKE);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_SASL_HANDSHAKE, ver);
    if (r.err)
        return;
    kp_sasl_handshake_resp_t hs;
    int rc = kp_sasl_handshake_resp(&r, ver, &hs);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == !r.err);
    FUZZ_CHECK(r.off <= r.len);
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
    if (rc == -1) {
        FUZZ_CHECK(hs.mechs == NULL && hs.nmechs == 0);
        return;
    }
    FUZZ_CHECK(hs.nmechs >= 0 && (size_t)hs.nmechs <= (size - 1) / 2);
    for (int32_t i = 0; i < hs.nmechs; i++)
        FUZZ_CHECK(hs.mechs[i].len >= 0 &&
                   fuzz_within(hs.mechs[i].s, (size_t)hs.mechs[i].len, data, size));
    char err[512];
    kp_err_t e = kp_sasl_handshake_check(&hs, KP_SASL_SCRAM_SHA_512, err, sizeof(err));
    FUZZ_CHECK((e == KP_OK) == (hs.err == 0));
    if (e != KP_OK)
        FUZZ_CHECK(printable(err));
    kp_sasl_handshake_resp_free(&hs);
}

static void authenticate(const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    int16_t cmax = kp_proto_codec_max(KP_API_SASL_AUTHENTICATE);
    int16_t ver = (int16_t)(data[0] % (cmax + 2));
    kp_rbuf_t r;
    kp_rbuf_init(&r, data + 1, size - 1, 0);
    (void)kp_proto_resp_header(&r, KP_API_SASL_AUTHENTICATE, ver);
    if (r.err)
        return;
    size_t body = r.off;
    kp_sasl_authenticate_resp_t a;
    int rc = kp_sasl_authenticate_resp(&r, ver, &a);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == !r.err);
    FUZZ_CHECK(r.off <= r.len);
    if (ver > cmax)
        FUZZ_CHECK(rc == -1);
    if (rc == -1) {
        FUZZ_CHECK(a.auth_bytes == NULL && a.auth_len == 0 && a.error_message == NULL);
        return;
    }
    /* ErrorCode, ErrorMessage, AuthBytes: 2 + 1 + 1 bytes at least */
    FUZZ_CHECK(r.off - body >= 4u + (ver >= 1 ? 8u : 0u));
    FUZZ_CHECK(a.auth_len >= 0 && fuzz_within(a.auth_bytes, (size_t)a.auth_len, data, size));
    if (a.error_message_len >= 0)
        FUZZ_CHECK(fuzz_within(a.error_message, (size_t)a.error_message_len, data, size));
    else
        FUZZ_CHECK(a.error_message == NULL);
    if (ver < 1)
        FUZZ_CHECK(a.session_lifetime_ms == 0);
}

static void server_first(const uint8_t *data, size_t size) {
    kp_scram_server_first_t f;
    char err[512] = "";
    kp_err_t rc = kp_scram_parse_server_first(data, size, &f, err, sizeof(err));
    if (rc != KP_OK) {
        FUZZ_CHECK(rc == KAFKA_SASL_AUTHENTICATION_FAILED);
        FUZZ_CHECK(err[0] && printable(err));
        FUZZ_CHECK(f.nonce == NULL && f.salt_len == 0 && f.iterations == 0);
        return;
    }
    FUZZ_CHECK(size <= KP_SCRAM_MAX_MSG);
    FUZZ_CHECK(f.nonce_len > 0 && fuzz_within(f.nonce, f.nonce_len, data, size));
    for (size_t i = 0; i < f.nonce_len; i++)
        FUZZ_CHECK(f.nonce[i] > 0x20 && f.nonce[i] < 0x7F && f.nonce[i] != ',');
    FUZZ_CHECK(f.salt_len > 0 && f.salt_len <= KP_SCRAM_MAX_SALT);
    FUZZ_CHECK(f.iterations >= KP_SCRAM_MIN_ITERATIONS && f.iterations <= KP_SCRAM_MAX_ITERATIONS);
    /* the salt re-encodes to what the message holds */
    char b64[KP_SCRAM_MAX_SALT * 2];
    size_t n = kp_b64_encode(f.salt, f.salt_len, b64, 0);
    const char *s = f.nonce + f.nonce_len + 3; /* ",s=" */
    FUZZ_CHECK(fuzz_within(s, n, data, size) && memcmp(s, b64, n) == 0);
}

static void server_final(const uint8_t *data, size_t size) {
    kp_scram_server_final_t v;
    char err[512] = "";
    kp_err_t rc = kp_scram_parse_server_final(data, size, &v, err, sizeof(err));
    if (rc != KP_OK) {
        FUZZ_CHECK(rc == KAFKA_SASL_AUTHENTICATION_FAILED);
        FUZZ_CHECK(err[0] && printable(err));
        FUZZ_CHECK(v.error == NULL && v.verifier_len == 0);
        return;
    }
    if (v.error) {
        FUZZ_CHECK(v.error_len > 0 && fuzz_within(v.error, v.error_len, data, size));
        FUZZ_CHECK(v.verifier_len == 0);
    } else {
        FUZZ_CHECK(v.verifier_len > 0 && v.verifier_len <= sizeof(v.verifier));
    }
}

static int b64url_token(const char *t) {
    int dots = 0;
    for (; *t; t++) {
        char c = *t;
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return 0;
    }
    return dots == 2;
}

static void jaas(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    kp_jaas_t j;
    char err[512] = "";
    kp_err_t rc = kp_jaas_parse(text, &j, err, sizeof(err));
    free(text);
    if (rc != KP_OK) {
        FUZZ_CHECK(rc == KP_ERR_INVALID_CONFIG || rc == KP_ERR_NOMEM);
        FUZZ_CHECK(strncmp(err, "sasl.jaas.config: ", 18) == 0 && printable(err));
        FUZZ_CHECK(j.module == NULL && j.opts == NULL && j.nopts == 0);
        return;
    }
    FUZZ_CHECK(j.module != NULL && j.nopts <= size / 2);
    /* described, then parsed back: the same entry, secrets hidden */
    size_t n = kp_jaas_describe(&j, NULL, 0);
    char *d = malloc(n + 1);
    FUZZ_CHECK(d != NULL);
    FUZZ_CHECK(kp_jaas_describe(&j, d, n + 1) == n && strlen(d) == n);
    if (n <= KP_JAAS_MAX_TEXT) {
        kp_jaas_t k;
        char err2[512];
        rc = kp_jaas_parse(d, &k, err2, sizeof(err2));
        if (rc != KP_OK)
            fprintf(stderr, "describe did not parse back: %s\n", err2);
        FUZZ_CHECK(rc == KP_OK);
        FUZZ_CHECK(strcmp(k.module, j.module) == 0 && k.flag == j.flag && k.nopts == j.nopts);
        for (size_t i = 0; i < j.nopts; i++) {
            FUZZ_CHECK(strcmp(k.opts[i].name, j.opts[i].name) == 0);
            if (kp_jaas_is_secret(j.opts[i].name))
                FUZZ_CHECK(strcmp(k.opts[i].value, "[hidden]") == 0);
            else
                FUZZ_CHECK(strcmp(k.opts[i].value, j.opts[i].value) == 0);
        }
        kp_jaas_free(&k);
    }
    free(d);

    /* what sasl.c builds on a parsed config */
    kp_sasl_creds_t c;
    static const kp_sasl_mech_t mechs[] = {KP_SASL_PLAIN, KP_SASL_SCRAM_SHA_256,
                                           KP_SASL_OAUTHBEARER};
    for (size_t i = 0; i < 3; i++) {
        rc = kp_sasl_creds_from_jaas(mechs[i], &j, &c, err, sizeof(err));
        if (rc != KP_OK)
            FUZZ_CHECK(printable(err) && c.username == NULL && c.password == NULL);
    }
    kp_sasl_token_t t;
    rc = kp_sasl_unsecured_token(&j, 1700000000000LL, &t, err, sizeof(err));
    if (rc == KP_OK)
        FUZZ_CHECK(b64url_token(t.value) && t.principal && *t.principal &&
                   t.lifetime_ms > t.start_ms);
    else
        FUZZ_CHECK(t.value == NULL && t.principal == NULL);
    kp_sasl_ext_t *ext;
    size_t next;
    kp_err_t erc = kp_sasl_ext_from_jaas(&j, "extension_", &ext, &next, err, sizeof(err));
    if (erc != KP_OK)
        FUZZ_CHECK(ext == NULL && next == 0);
    if (rc == KP_OK && erc == KP_OK) { /* the OAUTHBEARER message carries them */
        kp_sasl_creds_t oc = {.token = t.value, .ext = ext, .next = next};
        kp_err_t src;
        kp_sasl_t *s = kp_sasl_new(KP_SASL_OAUTHBEARER, &oc, &src, err, sizeof(err));
        FUZZ_CHECK(s != NULL || src == KP_ERR_NOMEM || src == KP_ERR_INVALID_CONFIG);
        kp_sasl_out_t out;
        if (s && kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)) == KP_OK)
            FUZZ_CHECK(out.len > 17 && memcmp(out.data, "n,,\x01" "auth=Bearer ", 16) == 0 &&
                       out.data[out.len - 1] == 1 && out.data[out.len - 2] == 1);
        kp_sasl_free(s);
    }
    free(ext);
    kp_sasl_token_clear(&t);
    kp_jaas_free(&j);
}

static void state_machine(const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    kp_sasl_mech_t mech = data[0] & 1 ? KP_SASL_OAUTHBEARER : KP_SASL_PLAIN;
    kp_sasl_creds_t c = {.username = "u", .password = "p", .token = "abc.def."};
    char err[512];
    kp_sasl_t *s = kp_sasl_new(mech, &c, NULL, err, sizeof(err));
    if (!s)
        return;
    kp_sasl_out_t out;
    kp_err_t rc = kp_sasl_step(s, NULL, 0, &out, err, sizeof(err));
    FUZZ_CHECK(rc == KP_OK && out.send && out.len > 0);
    rc = kp_sasl_step(s, data + 1, size - 1, &out, err, sizeof(err));
    FUZZ_CHECK(rc == KP_OK);
    if (mech == KP_SASL_PLAIN || size == 1) {
        FUZZ_CHECK(out.done && !out.send);
    } else { /* an error status: answered with ^A, then the failure */
        FUZZ_CHECK(out.send && out.len == 1 && out.data[0] == 1);
        const char *why = kp_sasl_server_reason(s);
        FUZZ_CHECK(why && printable(why));
        rc = kp_sasl_step(s, NULL, 0, &out, err, sizeof(err));
        FUZZ_CHECK(rc == KAFKA_SASL_AUTHENTICATION_FAILED && printable(err));
    }
    FUZZ_CHECK(kp_sasl_step(s, NULL, 0, &out, err, sizeof(err)) == KP_ERR_INVALID_ARG);
    kp_sasl_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    switch (data[0] % 6) {
    case 0: handshake(data + 1, size - 1); break;
    case 1: authenticate(data + 1, size - 1); break;
    case 2: server_first(data + 1, size - 1); break;
    case 3: server_final(data + 1, size - 1); break;
    case 4: jaas(data + 1, size - 1); break;
    default: state_machine(data + 1, size - 1); break;
    }
    return 0;
}

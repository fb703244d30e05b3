/*
 * sasl — the client side of Kafka's SASL mechanisms as pure state machines:
 * PLAIN (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677,
 * with Kafka's tokenauth extension for delegation tokens) and OAUTHBEARER
 * (RFC 7628), plus Java's unsecured JWS tokens for development and the
 * checks around SaslHandshake.
 *
 * No I/O and no clock of their own: the connection feeds each state
 * machine the server's bytes (the AuthBytes of a SaslAuthenticate answer)
 * and sends what it returns, so the exchange runs in the I/O loop without
 * blocking it, and tests drive it byte for byte. The one costly step is
 * SCRAM's PBKDF2 (i iterations of HMAC, at most KP_SCRAM_MAX_ITERATIONS):
 * about a millisecond at Kafka's 4096.
 *
 *   kp_sasl_t *s = kp_sasl_new(mech, &creds, err, sizeof(err));
 *   rc = kp_sasl_step(s, NULL, 0, &out, err, sizeof(err));  // first message
 *   while (rc == KP_OK && !out.done) {
 *       send SaslAuthenticate(out.data, out.len); read the answer;
 *       if its ErrorCode != 0: fail with the broker's ErrorMessage
 *       rc = kp_sasl_step(s, answer.auth_bytes, answer.auth_len, &out, ...);
 *   }
 *   // rc != KP_OK: authentication failed, err says why
 *   kp_sasl_free(s);
 *
 * Failures return KAFKA_SASL_AUTHENTICATION_FAILED (the server's message
 * refused: malformed, a wrong nonce, too few iterations, a wrong server
 * signature, an e= error, an OAUTHBEARER error status), KP_ERR_NOT_IMPLEMENTED
 * (SCRAM in a build without OpenSSL), KP_ERR_INVALID_CONFIG (credentials
 * that cannot be sent), KP_ERR_NOMEM or KP_ERR_INVALID_ARG (a step out of
 * turn). Error texts never hold a password, token or proof; text from the
 * server is cut to printable ASCII.
 *
 * Secrets (the password, SCRAM's salted password and keys, the token, the
 * messages that carry them) are zeroed (OPENSSL_cleanse) as soon as they
 * are no longer needed and when the state is freed.
 *
 * SCRAM user names: ',' and '=' are escaped as =2C and =3D (RFC 5802
 * 5.1). SASLprep (RFC 4013) is not applied: names and passwords go as
 * their UTF-8 bytes, which is what Kafka's Java client does (its
 * ScramFormatter.normalize is a plain UTF-8 encoding) and what its brokers
 * expect; a password that SASLprep would change (non-ASCII spaces,
 * compatibility characters) matches a Kafka broker but not a strict RFC
 * server.
 */
#ifndef KP_SASL_H
#define KP_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "conf/jaas.h"
#include "kprod/kprod.h"
#include "proto/protocol.h"

typedef enum kp_sasl_mech {
    KP_SASL_PLAIN = 1,
    KP_SASL_SCRAM_SHA_256,
    KP_SASL_SCRAM_SHA_512,
    KP_SASL_OAUTHBEARER,
    /* SCRAM-SHA-1: for RFC 5802's test vector only. Not a Kafka mechanism:
     * kp_sasl_mech_parse never returns it. */
    KP_SASL_SCRAM_SHA_1_TEST
} kp_sasl_mech_t;

/* sasl.mechanism's value (exact, as Java): KP_OK; KP_ERR_NOT_IMPLEMENTED
 * for GSSAPI ("not built"); KP_ERR_INVALID_CONFIG for anything else, the
 * message listing the mechanisms kprod has. */
kp_err_t kp_sasl_mech_parse(const char *name, kp_sasl_mech_t *out, char *err, size_t errsize);
/* "PLAIN", "SCRAM-SHA-256", ... (the name SaslHandshake sends) */
const char *kp_sasl_mech_name(kp_sasl_mech_t m);
/* 1 when this build can run mech (SCRAM needs OpenSSL). */
int kp_sasl_mech_built(kp_sasl_mech_t m);

/* An OAUTHBEARER SASL extension (RFC 7628 3.1): key ^[A-Za-z]+$ (not
 * "auth"), value ^[\x21-\x7E \t\r\n]+$, Kafka's patterns. */
typedef struct kp_sasl_ext {
    const char *key;
    const char *value;
} kp_sasl_ext_t;

/* What a mechanism sends. Borrowed: kp_sasl_new copies what it keeps. */
typedef struct kp_sasl_creds {
    const char *username; /* PLAIN, SCRAM (a delegation token's id with tokenauth) */
    const char *password; /* PLAIN, SCRAM (the token's HMAC with tokenauth) */
    int tokenauth;        /* SCRAM: authenticate with a delegation token */
    const char *token;    /* OAUTHBEARER: the compact JWS (RFC 6750 b64token) */
    const kp_sasl_ext_t *ext; /* OAUTHBEARER extensions */
    size_t next;
} kp_sasl_creds_t;

/* The PLAIN or SCRAM credentials of a parsed sasl.jaas.config: username,
 * password and tokenauth ("true" in any case) pointing into j. The login
 * module must be PlainLoginModule or ScramLoginModule (Java accepts
 * either for either mechanism: both only hand over the two values);
 * username and password must be there. KP_ERR_INVALID_CONFIG otherwise,
 * naming what is missing (never a value). */
kp_err_t kp_sasl_creds_from_jaas(kp_sasl_mech_t mech, const kp_jaas_t *j, kp_sasl_creds_t *c,
                                 char *err, size_t errsize);

/* The OAUTHBEARER extensions in j's options named prefix<key>:
 * "extension_" for OIDC client credentials (KIP-768, e.g. Confluent
 * Cloud's extension_logicalCluster), "unsecuredLoginExtension_" for
 * unsecured tokens. *ext (kp_malloc'd, free() it; NULL when none) points
 * into j. KP_ERR_INVALID_CONFIG names a key or value Kafka's patterns
 * refuse (a value is never shown). */
kp_err_t kp_sasl_ext_from_jaas(const kp_jaas_t *j, const char *prefix, kp_sasl_ext_t **ext,
                               size_t *next, char *err, size_t errsize);

/* ---- the exchange ---- */

typedef struct kp_sasl kp_sasl_t;

/* A state machine for mech with creds (copied). NULL on failure, with the
 * reason in err and in *rc when rc is not NULL: KP_ERR_NOT_IMPLEMENTED
 * (SCRAM without OpenSSL: "this build has no OpenSSL"),
 * KP_ERR_INVALID_CONFIG (a missing username, a token with characters
 * RFC 6750 does not allow, ...), KP_ERR_NOMEM. */
kp_sasl_t *kp_sasl_new(kp_sasl_mech_t mech, const kp_sasl_creds_t *creds, kp_err_t *rc, char *err,
                       size_t errsize);

typedef struct kp_sasl_out {
    const uint8_t *data; /* the client's next message, owned by the state:
                            valid until the next step or kp_sasl_free */
    size_t len;
    int send; /* data is to be sent (a SaslAuthenticate request) */
    int done; /* the exchange is complete on the client's side: a
                 SCRAM server proved it knows the password; PLAIN and
                 OAUTHBEARER were answered without an error */
} kp_sasl_out_t;

/* One step: in is the server's last message (NULL/0 for the first step,
 * whose input must be empty). KP_OK with *out; or a failure (see above),
 * after which the state only answers KP_ERR_INVALID_ARG. */
kp_err_t kp_sasl_step(kp_sasl_t *s, const uint8_t *in, size_t inlen, kp_sasl_out_t *out, char *err,
                      size_t errsize);

/* An OAUTHBEARER server's error status (RFC 7628 3.2.2: the JSON it sent
 * before failing the exchange, printable ASCII, cut), or NULL. */
const char *kp_sasl_server_reason(const kp_sasl_t *s);

kp_sasl_mech_t kp_sasl_mech(const kp_sasl_t *s);

/* Zero every secret and free. NULL is fine. */
void kp_sasl_free(kp_sasl_t *s);

/* Test seam: the SCRAM client nonce to use instead of RAND_bytes (RFC
 * vectors). Before the first step; printable ASCII without ','. */
kp_err_t kp_sasl_test_nonce(kp_sasl_t *s, const char *nonce);

/* ---- SaslHandshake ---- */

/* KP_OK when the broker took mech; KAFKA_UNSUPPORTED_SASL_MECHANISM naming
 * the ones it enables ("broker does not enable SASL mechanism
 * SCRAM-SHA-512; it enables PLAIN, SCRAM-SHA-256"); or the broker's other
 * error. */
kp_err_t kp_sasl_handshake_check(const kp_sasl_handshake_resp_t *hs, kp_sasl_mech_t mech,
                                 char *err, size_t errsize);

/* ---- SCRAM's server messages, parsed (exposed for tests and fuzzing) ---- */

#define KP_SCRAM_MIN_ITERATIONS 4096     /* Kafka's minimum (ScramMechanism) */
#define KP_SCRAM_MAX_ITERATIONS 100000   /* bounds what a hostile server costs us (tens of ms);
                                           Kafka stores at most 16384 */
#define KP_SCRAM_MAX_SALT 256
#define KP_SCRAM_MAX_MSG 8192            /* longest server message taken */

typedef struct kp_scram_server_first {
    const char *nonce; /* points into the message */
    size_t nonce_len;
    uint8_t salt[KP_SCRAM_MAX_SALT];
    size_t salt_len;
    uint32_t iterations;
} kp_scram_server_first_t;

/* server-first-message = [reserved-mext ","] nonce "," salt ","
 * iteration-count ["," extensions]: KP_OK, or
 * KAFKA_SASL_AUTHENTICATION_FAILED with what is wrong (an m= extension is
 * refused, as RFC 5802 requires; an e= error is surfaced; the iteration
 * count is checked against the bounds above). The nonce's prefix is the
 * state machine's to check. */
kp_err_t kp_scram_parse_server_first(const uint8_t *in, size_t len, kp_scram_server_first_t *out,
                                     char *err, size_t errsize);

typedef struct kp_scram_server_final {
    const char *error; /* e=: the server-error-value, in the message; NULL for v= */
    size_t error_len;
    uint8_t verifier[64]; /* v=: the ServerSignature */
    size_t verifier_len;
} kp_scram_server_final_t;

/* server-final-message = (server-error / verifier) ["," extensions]:
 * KP_OK (an e= message parses: out->error set), or
 * KAFKA_SASL_AUTHENTICATION_FAILED when malformed. */
kp_err_t kp_scram_parse_server_final(const uint8_t *in, size_t len, kp_scram_server_final_t *out,
                                     char *err, size_t errsize);

/* ---- OAUTHBEARER tokens ---- */

typedef struct kp_sasl_token {
    char *value;          /* the compact serialization (kp_malloc'd) */
    char *principal;      /* the principal claim's value */
    int64_t lifetime_ms;  /* exp, ms since the epoch */
    int64_t start_ms;     /* iat */
} kp_sasl_token_t;

/* Java's unsecured JWS (OAuthBearerUnsecuredLoginCallbackHandler), for
 * development against brokers that take unsecured tokens: header
 * {"alg":"none"}, claims exp (now + unsecuredLoginLifetimeSeconds, 3600 by
 * default) and iat (now), in seconds with milliseconds, then each
 * unsecuredLoginStringClaim_<name>, unsecuredLoginNumberClaim_<name> and
 * unsecuredLoginListClaim_<name> (first character the delimiter) in the
 * order written; base64url without padding, "header.claims." (empty
 * signature). The principal is the claim named by
 * unsecuredLoginPrincipalClaimName ("sub" by default), which must be a
 * non-empty string claim. iat and exp cannot be set. now_ms is wall-clock
 * milliseconds. KP_OK, KP_ERR_INVALID_CONFIG naming the option, or
 * KP_ERR_NOMEM. */
kp_err_t kp_sasl_unsecured_token(const kp_jaas_t *j, int64_t now_ms, kp_sasl_token_t *t, char *err,
                                 size_t errsize);
/* Zero and free t's strings. */
void kp_sasl_token_clear(kp_sasl_token_t *t);

/* ---- base64 (RFC 4648), shared with the tests ---- */

/* Encoded length of n bytes (padded), without the NUL. */
size_t kp_b64_len(size_t n);
/* Encode n bytes into out (kp_b64_len(n) + 1 bytes), NUL-terminated;
 * url: the URL-safe alphabet without padding. Returns the length. */
size_t kp_b64_encode(const uint8_t *in, size_t n, char *out, int url);
/* Strict decode (standard alphabet, padding required, no whitespace) into
 * out (room for cap bytes): the length, or -1 when malformed or longer
 * than cap. */
long kp_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif

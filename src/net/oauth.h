/*
 * oauth — the OAUTHBEARER token refresher: a thread of the producer's own
 * that asks a token source (the application's kp_oauthbearer_token_fn)
 * for a token at creation and again at about 80 % of each token's
 * lifetime, and hands the newest token to the I/O thread under a small
 * lock (kp_oauth_current) for new connections and KIP-368
 * re-authentications.
 *
 * Why a thread: a token source may block (an HTTP request to an identity
 * provider takes up to sasl.login.read.timeout.ms), which the I/O loop
 * must never do, and refreshing must not depend on the application
 * calling anything (Java's ExpiringCredentialRefreshingLogin runs its own
 * thread for the same reason). The schedule is Java's, in
 * kp_oauth_next_refresh_ms; failures are retried with
 * sasl.login.retry.backoff.ms doubling up to .max.ms while connections
 * keep the last good token. No token value ever goes into a log line or an
 * error text.
 */
#ifndef KP_OAUTH_H
#define KP_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "conf/config.h"
#include "kprod/kprod.h"
#include "net/sasl.h"

typedef struct kp_oauth kp_oauth_t;

/* Start the refresher with token source fn(opaque) and wait for its first
 * answer. NULL when that fails (or the settings are wrong: a window factor
 * outside 0.5..1.0, a jitter outside 0..0.25), with the reason in errstr
 * and *rc (the source's error, KP_ERR_INVALID_CONFIG, KP_ERR_NOMEM). */
kp_oauth_t *kp_oauth_new(const kp_conf_t *conf, kp_oauthbearer_token_fn *fn, void *opaque,
                         const kp_logger_t *log, kp_err_t *rc, char *errstr, size_t errsize);

/* The newest token, copied for one connection: creds.token and
 * creds.ext/next point into it until kp_oauth_snap_free (which zeroes). */
typedef struct kp_oauth_snap {
    char *value;
    kp_sasl_ext_t *ext;
    size_t next;
} kp_oauth_snap_t;
/* KP_OK, or KP_ERR_NOMEM. Any thread. */
kp_err_t kp_oauth_current(kp_oauth_t *o, kp_oauth_snap_t *s);
void kp_oauth_snap_free(kp_oauth_snap_t *s);

/* Tests: the token source's successful and failed calls so far, and a
 * wake-up for the refresher after kp_test_clock_advance moved its clock. */
int kp_oauth_fetches(kp_oauth_t *o, int *failures);
void kp_oauth_wake(kp_oauth_t *o);

/* Stop the thread (waiting for a call in progress to return; an OIDC
 * request in progress is aborted) and free, zeroing the token. NULL is
 * fine. */
void kp_oauth_free(kp_oauth_t *o);

/* ---- OIDC client credentials (KIP-768) ----
 *
 * Java's OAuthBearerLoginCallbackHandler with its ClientCredentials
 * retriever (HttpAccessTokenRetriever), as a token source for the
 * refresher: POST grant_type=client_credentials[&scope=...] to
 * sasl.oauthbearer.token.endpoint.url with HTTP basic authentication
 * (clientId:clientSecret, trimmed, standard base64, RFC 7617), Accept:
 * application/json; the answer's access_token is the token, its lifetime
 * the JWT's exp claim (as Java, which reads the token's claims without
 * checking its signature: the broker does that) or else now + expires_in;
 * the principal its sub claim (else clientId); the SASL extensions are
 * sasl.jaas.config's extension_<name> options (Confluent Cloud's
 * extension_logicalCluster, extension_identityPoolId). Within one token
 * request, transport errors and HTTP statuses Java deems transient (5xx,
 * 429, ...) are retried with sasl.login.retry.backoff.ms doubling until
 * sasl.login.retry.backoff.max.ms has passed (Java's Retry); 400, 401, 403,
 * 404 ... are not. Errors name the endpoint (without user info or query)
 * and the HTTP status with the provider's error and error_description,
 * never the secret. Timeouts: sasl.login.connect.timeout.ms (unset: 10 s)
 * for the connection, sasl.login.read.timeout.ms (unset: 30 s) for the rest.
 *
 * TLS trust for the endpoint is Java's: the ssl.* options inside
 * sasl.jaas.config (JaasOptionsUtils: ssl.truststore.location, PEM here,
 * and ssl.endpoint.identification.algorithm, "" turning off the host name
 * check), not the top-level ssl.* properties, which are the brokers';
 * without them the system's CA store (libcurl's default). libcurl (HTTP)
 * and jansson (JSON), both optional at build time (cmake/oidc.cmake). */

/* 1 when this build has OIDC (libcurl and jansson). */
int kp_oauth_oidc_built(void);
/* Check the OIDC settings (conf's endpoint URL, j's clientId,
 * clientSecret, extension_*, ssl.* options): KP_OK or
 * KP_ERR_INVALID_CONFIG / KP_ERR_NOT_IMPLEMENTED with the reason, never a
 * value of a secret. */
kp_err_t kp_oauth_oidc_check(const kp_conf_t *conf, const kp_jaas_t *j, char *err, size_t errsize);

struct kp_net;
/* At producer creation, after kp_auth_configure: start net->oauth when
 * the SASL mechanism is OAUTHBEARER and a token source applies (the
 * application's callback, else OIDC with sasl.oauthbearer.token.endpoint.url),
 * waiting for the first token. KP_OK (also when none applies), or the
 * failure in errstr (the endpoint and the HTTP status, say). */
kp_err_t kp_oauth_setup(struct kp_net *net, char *errstr, size_t errsize);

/* Java's ExpiringCredentialRefreshingLogin.refreshMs: when to refresh a
 * token valid from start_ms (or now_ms when unknown, <= 0) to expire_ms,
 * all wall-clock ms; rnd01 in [0,1) picks the jitter. An expired token:
 * now. */
int64_t kp_oauth_next_refresh_ms(int64_t now_ms, int64_t start_ms, int64_t expire_ms,
                                 double factor, double jitter, double rnd01,
                                 int32_t min_period_s, int32_t buffer_s);

#endif

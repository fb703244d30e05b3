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

/* Stop the thread (waiting for a call in progress to return) and free,
 * zeroing the token. NULL is fine. */
void kp_oauth_free(kp_oauth_t *o);

/* Java's ExpiringCredentialRefreshingLogin.refreshMs: when to refresh a
 * token valid from start_ms (or now_ms when unknown, <= 0) to expire_ms,
 * all wall-clock ms; rnd01 in [0,1) picks the jitter. An expired token:
 * now. */
int64_t kp_oauth_next_refresh_ms(int64_t now_ms, int64_t start_ms, int64_t expire_ms,
                                 double factor, double jitter, double rnd01,
                                 int32_t min_period_s, int32_t buffer_s);

#endif

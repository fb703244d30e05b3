/*
 * oauth — the OAUTHBEARER token refresher (see oauth.h): one thread per
 * producer that calls the token source at creation and at about 80 % of
 * each token's lifetime, Java's schedule, with backoff after failures.
 *
 * Locking: o->lock guards the current token, the schedule and the
 * counters; the token source is called without it, so the I/O thread
 * copying the token (kp_oauth_current) never waits for an HTTP request.
 * Times: the schedule is computed on the wall clock (token lifetimes are
 * wall-clock instants) and waited for on the producer's monotonic clock
 * (kp_mono_ms, which tests drive), converted when a token arrives.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "net/oauth.h"

struct kp_oauth {
    kp_oauthbearer_token_fn *fn;
    void *opaque;
    const kp_logger_t *log;
    double factor, jitter;
    int32_t min_period_s, buffer_s;
    int64_t backoff_ms, backoff_max_ms;
    uint64_t rng;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock */
    int stop, first_done;
    kp_err_t first_rc;
    char first_err[512];
    char *value; /* the current token */
    kp_sasl_ext_t *ext;
    size_t next;
    int64_t next_at; /* kp_mono_ms of the next call */
    int attempts;    /* failures in a row */
    int fetches, failures;
};

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static void wipe_free(char *s) {
    if (s) {
        wipe(s, strlen(s));
        free(s);
    }
}

static void free_ext(kp_sasl_ext_t *ext, size_t n) {
    for (size_t i = 0; ext && i < n; i++) {
        wipe_free((char *)ext[i].key);
        wipe_free((char *)ext[i].value);
    }
    free(ext);
}

int64_t kp_oauth_next_refresh_ms(int64_t now_ms, int64_t start_ms, int64_t expire_ms,
                                 double factor, double jitter, double rnd01,
                                 int32_t min_period_s, int32_t buffer_s) {
    if (now_ms >= expire_ms)
        return now_ms;
    if (start_ms <= 0)
        start_ms = now_ms;
    double pct = factor + jitter * rnd01;
    /* a token that expires before both buffers: refresh at pct of what is left */
    if (now_ms + 1000 * ((int64_t)min_period_s + buffer_s) > expire_ms)
        return now_ms + (int64_t)((double)(expire_ms - now_ms) * pct);
    int64_t proposed = start_ms + (int64_t)((double)(expire_ms - start_ms) * pct);
    int64_t buffer_begins = expire_ms - (int64_t)buffer_s * 1000;
    if (proposed > buffer_begins)
        return buffer_begins;
    int64_t min_end = now_ms + (int64_t)min_period_s * 1000;
    return proposed < min_end ? min_end : proposed;
}

/* Kafka's extension patterns (OAuthBearerClientInitialResponse). */
static int ext_ok(const char *k, const char *v) {
    if (!k || !*k || !v || !*v || !strcmp(k, "auth"))
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (!((*p >= 0x21 && *p <= 0x7E) || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            return 0;
    return 1;
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int token_ok(const char *t) {
    if (!t || !*t)
        return 0;
    const char *p = t;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
           (*p && strchr("-._~+/", *p)))
        p++;
    if (p == t)
        return 0;
    while (*p == '=')
        p++;
    return !*p;
}

/* Ask the source once (o->lock not held). On success the copied token
 * replaces the current one and the next call is scheduled; on failure the
 * next call is after the backoff. Returns the result, the reason in err. */
static kp_err_t fetch(kp_oauth_t *o, char *err, size_t errsize) {
    kp_oauthbearer_token_t t;
    memset(&t, 0, sizeof(t));
    err[0] = 0;
    kp_err_t rc = o->fn(o->opaque, &t, err, errsize);
    int64_t wall = kp_wall_ms();
    char *value = NULL;
    kp_sasl_ext_t *ext = NULL;
    size_t next = 0;
    if (rc) {
        if (!err[0])
            kp_errf(err, errsize, "the token callback failed (%s)", kp_err_name(rc));
    } else if (!token_ok(t.value)) {
        rc = KP_ERR_INVALID_ARG;
        kp_errf(err, errsize, "the token callback gave %s",
                t.value && *t.value ? "a token with characters RFC 6750 does not allow"
                                    : "no token");
    } else if (t.lifetime_ms <= wall) {
        rc = KP_ERR_INVALID_ARG;
        kp_errf(err, errsize, "the token callback gave a token that %s",
                t.lifetime_ms > 0 ? "has already expired" : "has no lifetime");
    } else if (t.extension_count && !t.extensions) {
        rc = KP_ERR_INVALID_ARG;
        kp_errf(err, errsize, "the token callback gave extension_count without extensions");
    } else {
        for (size_t i = 0; !rc && i < t.extension_count; i++)
            if (!ext_ok(t.extensions[2 * i], t.extensions[2 * i + 1])) {
                rc = KP_ERR_INVALID_ARG;
                kp_errf(err, errsize, "the token callback gave SASL extension %zu: key must be "
                                      "letters (not \"auth\"), value printable ASCII", i);
            }
        if (!rc) {
            value = kp_strdup(t.value);
            if (t.extension_count)
                ext = kp_calloc(t.extension_count, sizeof(*ext));
            for (size_t i = 0; ext && i < t.extension_count; i++, next++) {
                ext[i].key = kp_strdup(t.extensions[2 * i]);
                ext[i].value = kp_strdup(t.extensions[2 * i + 1]);
                if (!ext[i].key || !ext[i].value) {
                    next++;
                    break;
                }
            }
            if (!value || next != t.extension_count ||
                (next && (!ext[next - 1].key || !ext[next - 1].value))) {
                rc = KP_ERR_NOMEM;
                kp_errf(err, errsize, "out of memory for the token");
            }
        }
    }
    pthread_mutex_lock(&o->lock);
    int64_t now = kp_mono_ms();
    if (!rc) {
        wipe_free(o->value);
        free_ext(o->ext, o->next);
        o->value = value;
        o->ext = ext;
        o->next = next;
        value = NULL;
        ext = NULL;
        int64_t at = kp_oauth_next_refresh_ms(wall, 0, t.lifetime_ms, o->factor, o->jitter,
                                              (double)(kp_rand(&o->rng) >> 11) / 9007199254740992.0,
                                              o->min_period_s, o->buffer_s);
        o->next_at = now + (at - wall);
        o->attempts = 0;
        o->fetches++;
        pthread_mutex_unlock(&o->lock);
        kp_logf(o->log, 6, "OAUTHBEARER token%s%s valid for %lld s; next refresh in %lld s",
                t.principal ? " for " : "", t.principal ? t.principal : "",
                (long long)((t.lifetime_ms - wall) / 1000), (long long)((at - wall) / 1000));
    } else {
        int64_t wait = kp_backoff(o->backoff_ms, o->backoff_max_ms, o->attempts, &o->rng);
        if (o->attempts < 30)
            o->attempts++;
        o->next_at = now + wait;
        o->failures++;
        int first = !o->first_done;
        pthread_mutex_unlock(&o->lock);
        if (!first)
            kp_logf(o->log, 3, "OAUTHBEARER token refresh failed: %s; retrying in %lld ms", err,
                    (long long)wait);
    }
    wipe_free(value);
    free_ext(ext, next);
    return rc;
}

static void *refresher_main(void *arg) {
    kp_oauth_t *o = arg;
    char err[512];
    pthread_mutex_lock(&o->lock);
    while (!o->stop) {
        if (kp_mono_ms() >= o->next_at) {
            pthread_mutex_unlock(&o->lock);
            kp_err_t rc = fetch(o, err, sizeof(err));
            pthread_mutex_lock(&o->lock);
            if (!o->first_done) {
                o->first_done = 1;
                o->first_rc = rc;
                snprintf(o->first_err, sizeof(o->first_err), "%s", err);
                pthread_cond_broadcast(&o->cond);
                if (rc)
                    break; /* creation fails: no retries */
            }
            continue;
        }
        kp_cond_wait_until(&o->cond, &o->lock, o->next_at);
    }
    pthread_mutex_unlock(&o->lock);
    wipe(err, sizeof(err));
    return NULL;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(s ? s : "", &end);
    if (!s || !*s || *end || errno || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

kp_oauth_t *kp_oauth_new(const kp_conf_t *conf, kp_oauthbearer_token_fn *fn, void *opaque,
                         const kp_logger_t *log, kp_err_t *rc, char *errstr, size_t errsize) {
    double factor, jitter;
    if (parse_double(conf->sasl_login_refresh_window_factor, 0.5, 1.0, &factor)) {
        kp_errf(errstr, errsize, "Invalid value for property 'sasl.login.refresh.window.factor': "
                                 "expected a number from 0.5 to 1.0");
        *rc = KP_ERR_INVALID_CONFIG;
        return NULL;
    }
    if (parse_double(conf->sasl_login_refresh_window_jitter, 0.0, 0.25, &jitter)) {
        kp_errf(errstr, errsize, "Invalid value for property 'sasl.login.refresh.window.jitter': "
                                 "expected a number from 0 to 0.25");
        *rc = KP_ERR_INVALID_CONFIG;
        return NULL;
    }
    kp_oauth_t *o = kp_calloc(1, sizeof(*o));
    if (!o) {
        kp_errf(errstr, errsize, "Out of memory");
        *rc = KP_ERR_NOMEM;
        return NULL;
    }
    o->fn = fn;
    o->opaque = opaque;
    o->log = log;
    o->factor = factor;
    o->jitter = jitter;
    o->min_period_s = conf->sasl_login_refresh_min_period_seconds;
    o->buffer_s = conf->sasl_login_refresh_buffer_seconds;
    o->backoff_ms = conf->sasl_login_retry_backoff_ms;
    o->backoff_max_ms = conf->sasl_login_retry_backoff_max_ms;
    o->rng = (uint64_t)kp_mono_us() ^ (uint64_t)(uintptr_t)o;
    o->next_at = INT64_MIN;
    pthread_mutex_init(&o->lock, NULL);
    kp_cond_init_mono(&o->cond);
    int prc = pthread_create(&o->thread, NULL, refresher_main, o);
    if (prc) {
        kp_errf(errstr, errsize, "Cannot start the OAUTHBEARER token thread: %s", strerror(prc));
        pthread_mutex_destroy(&o->lock);
        pthread_cond_destroy(&o->cond);
        free(o);
        *rc = KP_ERR_UNKNOWN;
        return NULL;
    }
    pthread_mutex_lock(&o->lock);
    while (!o->first_done)
        kp_cond_wait_until(&o->cond, &o->lock, INT64_MAX);
    kp_err_t first = o->first_rc;
    if (first)
        kp_errf(errstr, errsize, "OAUTHBEARER: no token: %s", o->first_err);
    pthread_mutex_unlock(&o->lock);
    if (first) {
        kp_oauth_free(o);
        *rc = first == KP_ERR_NOMEM ? first : KP_ERR_INVALID_CONFIG;
        return NULL;
    }
    *rc = KP_OK;
    return o;
}

kp_err_t kp_oauth_current(kp_oauth_t *o, kp_oauth_snap_t *s) {
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&o->lock);
    s->value = kp_strdup(o->value);
    if (o->next)
        s->ext = kp_calloc(o->next, sizeof(*s->ext));
    for (size_t i = 0; s->ext && i < o->next; i++, s->next++) {
        s->ext[i].key = kp_strdup(o->ext[i].key);
        s->ext[i].value = kp_strdup(o->ext[i].value);
        if (!s->ext[i].key || !s->ext[i].value) {
            s->next++;
            break;
        }
    }
    int bad = !s->value || s->next != o->next ||
              (s->next && (!s->ext[s->next - 1].key || !s->ext[s->next - 1].value));
    pthread_mutex_unlock(&o->lock);
    if (bad) {
        kp_oauth_snap_free(s);
        return KP_ERR_NOMEM;
    }
    return KP_OK;
}

void kp_oauth_snap_free(kp_oauth_snap_t *s) {
    wipe_free(s->value);
    free_ext(s->ext, s->next);
    memset(s, 0, sizeof(*s));
}

int kp_oauth_fetches(kp_oauth_t *o, int *failures) {
    pthread_mutex_lock(&o->lock);
    int n = o->fetches;
    if (failures)
        *failures = o->failures;
    pthread_mutex_unlock(&o->lock);
    return n;
}

void kp_oauth_wake(kp_oauth_t *o) {
    pthread_mutex_lock(&o->lock);
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

void kp_oauth_free(kp_oauth_t *o) {
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stop = 1;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->thread, NULL);
    wipe_free(o->value);
    free_ext(o->ext, o->next);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}

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
 *
 * The second half is the built-in token source for OIDC client
 * credentials (KIP-768, see oauth.h): one HTTPS POST with libcurl, the
 * answer read with jansson, compiled only with KPROD_WITH_OIDC
 * (cmake/oidc.cmake); kp_oauth_setup picks the source at creation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/kafka_codes.h"
#include "net/net.h"
#include "net/oauth.h"

#ifdef KPROD_WITH_OIDC
#include <curl/curl.h>
#include <jansson.h>
#include <time.h>
#endif

struct kp_oauth {
    kp_oauthbearer_token_fn *fn;
    void *opaque;
    void (*source_stop)(void *opaque); /* abort a call in progress (OIDC) */
    void (*source_free)(void *opaque); /* the built-in source's state */
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

static kp_oauth_t *oauth_new(const kp_conf_t *conf, kp_oauthbearer_token_fn *fn, void *opaque,
                             void (*source_stop)(void *), void (*source_free)(void *),
                             const kp_logger_t *log, kp_err_t *rc, char *errstr, size_t errsize);

kp_oauth_t *kp_oauth_new(const kp_conf_t *conf, kp_oauthbearer_token_fn *fn, void *opaque,
                         const kp_logger_t *log, kp_err_t *rc, char *errstr, size_t errsize) {
    return oauth_new(conf, fn, opaque, NULL, NULL, log, rc, errstr, errsize);
}

/* As kp_oauth_new; source_free(opaque) runs when it fails or at
 * kp_oauth_free. */
static kp_oauth_t *oauth_new(const kp_conf_t *conf, kp_oauthbearer_token_fn *fn, void *opaque,
                             void (*source_stop)(void *), void (*source_free)(void *),
                             const kp_logger_t *log, kp_err_t *rc, char *errstr, size_t errsize) {
    double factor, jitter;
    if (parse_double(conf->sasl_login_refresh_window_factor, 0.5, 1.0, &factor)) {
        kp_errf(errstr, errsize, "Invalid value for property 'sasl.login.refresh.window.factor': "
                                 "expected a number from 0.5 to 1.0");
        *rc = KP_ERR_INVALID_CONFIG;
        if (source_free)
            source_free(opaque);
        return NULL;
    }
    if (parse_double(conf->sasl_login_refresh_window_jitter, 0.0, 0.25, &jitter)) {
        kp_errf(errstr, errsize, "Invalid value for property 'sasl.login.refresh.window.jitter': "
                                 "expected a number from 0 to 0.25");
        *rc = KP_ERR_INVALID_CONFIG;
        if (source_free)
            source_free(opaque);
        return NULL;
    }
    kp_oauth_t *o = kp_calloc(1, sizeof(*o));
    if (!o) {
        kp_errf(errstr, errsize, "Out of memory");
        *rc = KP_ERR_NOMEM;
        if (source_free)
            source_free(opaque);
        return NULL;
    }
    o->fn = fn;
    o->opaque = opaque;
    o->source_stop = source_stop;
    o->source_free = source_free;
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
        if (source_free)
            source_free(opaque);
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
    if (o->source_stop)
        o->source_stop(o->opaque);
    pthread_join(o->thread, NULL);
    if (o->source_free)
        o->source_free(o->opaque);
    wipe_free(o->value);
    free_ext(o->ext, o->next);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}

/* ======================================================================
 * OIDC client credentials (KIP-768)
 * ==================================================================== */

#ifdef KPROD_WITH_OIDC
/* The endpoint as errors show it: scheme://host[:port]/path, without user
 * information (which could hold a secret), query or fragment. */
static char *shown_url(const char *url) {
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    const char *host = at ? at + 1 : auth;
    size_t rest = strcspn(host, "?#");
    size_t slen = (size_t)(auth - url);
    char *out = kp_malloc(slen + rest + 1);
    if (!out)
        return NULL;
    memcpy(out, url, slen);
    memcpy(out + slen, host, rest);
    out[slen + rest] = 0;
    return out;
}

#endif

/* A JAAS option trimmed (Java's validateString), or NULL when missing or
 * blank; kp_malloc'd. */
static char *jaas_trimmed(const kp_jaas_t *j, const char *name) {
    const char *v = kp_jaas_get(j, name);
    if (!v)
        return NULL;
    while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    if (!n)
        return NULL;
    char *s = kp_malloc(n + 1);
    if (s) {
        memcpy(s, v, n);
        s[n] = 0;
    }
    return s;
}

int kp_oauth_oidc_built(void) {
#ifdef KPROD_WITH_OIDC
    return 1;
#else
    return 0;
#endif
}

kp_err_t kp_oauth_oidc_check(const kp_conf_t *conf, const kp_jaas_t *j, char *err, size_t errsize) {
    const char *url = conf->sasl_oauthbearer_token_endpoint_url;
    if (!kp_oauth_oidc_built()) {
        kp_errf(err, errsize,
                "sasl.oauthbearer.token.endpoint.url: this build of kprod lacks OIDC (it needs "
                "libcurl and jansson: Debian libcurl4-openssl-dev libjansson-dev, then rebuild)");
        return KP_ERR_NOT_IMPLEMENTED;
    }
    if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
        kp_errf(err, errsize,
                "Invalid value for property 'sasl.oauthbearer.token.endpoint.url': kprod takes "
                "an http:// or https:// URL (Java's file: token files are not supported)");
        return KP_ERR_INVALID_CONFIG;
    }
    static const char *const need[] = {"clientId", "clientSecret"};
    for (size_t i = 0; i < 2; i++) {
        char *v = jaas_trimmed(j, need[i]);
        if (!v) {
            kp_errf(err, errsize,
                    "sasl.oauthbearer.token.endpoint.url is set: sasl.jaas.config needs %s=\"...\" "
                    "(OAuthBearerLoginModule required clientId=\"...\" clientSecret=\"...\";)",
                    need[i]);
            return KP_ERR_INVALID_CONFIG;
        }
        wipe_free(v);
    }
    const char *type = kp_jaas_get(j, "ssl.truststore.type");
    if (type && *type && strcasecmp(type, "PEM")) {
        kp_errf(err, errsize,
                "sasl.jaas.config: ssl.truststore.type for the token endpoint must be PEM (a file "
                "of CA certificates); convert with openssl (pkcs12 -nokeys, or keytool "
                "-exportcert for JKS)");
        return KP_ERR_INVALID_CONFIG;
    }
    kp_sasl_ext_t *ext = NULL;
    size_t next = 0;
    kp_err_t rc = kp_sasl_ext_from_jaas(j, "extension_", &ext, &next, err, errsize);
    free(ext);
    return rc;
}

#ifdef KPROD_WITH_OIDC

typedef struct oidc {
    char *url, *shown, *client_id, *secret, *scope, *cainfo;
    int verify_host;
    long connect_ms, total_ms;
    int64_t backoff_ms, backoff_max_ms;
    const char **ext; /* key, value pairs (kp_malloc'd strings) */
    size_t next;
    _Atomic int stop;
    char *token, *principal; /* the last answer, kept until the next call */
} oidc_t;

static void oidc_free(void *arg) {
    oidc_t *o = arg;
    if (!o)
        return;
    free(o->url);
    free(o->shown);
    free(o->client_id);
    wipe_free(o->secret);
    free(o->scope);
    free(o->cainfo);
    for (size_t i = 0; o->ext && i < 2 * o->next; i++)
        free((char *)o->ext[i]);
    free(o->ext);
    wipe_free(o->token);
    free(o->principal);
    free(o);
}

static void oidc_stop(void *arg) { atomic_store(&((oidc_t *)arg)->stop, 1); }

static int64_t real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct body {
    char *p;
    size_t n;
    int over;
} body_t;

#define MAX_BODY (1 << 20)

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    body_t *b = arg;
    size_t n = size * nmemb;
    if (b->over || b->n + n > MAX_BODY) {
        b->over = 1;
        return 0;
    }
    char *q = kp_realloc(b->p, b->n + n + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, data, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((oidc_t *)arg)->stop) ? 1 : 0; /* non-zero aborts */
}

/* Java's formatErrorMessage: {error - error_description}, {errorCode -
 * errorSummary}, or the body; cut, printable ASCII only, and dropped if it
 * holds the secret. */
static void describe_error_body(const oidc_t *o, const body_t *b, char *out, size_t size) {
    out[0] = 0;
    if (!b->p || !b->n)
        return;
    if (o->secret && strstr(b->p, o->secret)) {
        snprintf(out, size, " (the answer is not shown: it holds the client secret)");
        return;
    }
    json_t *root = json_loadb(b->p, b->n, 0, NULL);
    const char *e1 = NULL, *e2 = NULL;
    if (json_is_object(root)) {
        if (json_is_string(json_object_get(root, "error"))) {
            e1 = json_string_value(json_object_get(root, "error"));
            e2 = json_string_value(json_object_get(root, "error_description"));
        } else if (json_is_string(json_object_get(root, "errorCode"))) {
            e1 = json_string_value(json_object_get(root, "errorCode"));
            e2 = json_string_value(json_object_get(root, "errorSummary"));
        }
    }
    char raw[201];
    if (e1)
        snprintf(raw, sizeof(raw), "%s%s%s", e1, e2 ? " - " : "", e2 ? e2 : "");
    else
        snprintf(raw, sizeof(raw), "%s", b->p);
    json_decref(root);
    for (char *c = raw; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = ' ';
    snprintf(out, size, ": %s", raw);
}

/* Java's HttpAccessTokenRetriever.UNRETRYABLE_HTTP_CODES */
static int status_retryable(long st) {
    static const long never[] = {400, 401, 402, 403, 404, 405, 406, 407,
                                 409, 410, 411, 412, 413, 414, 415, 501, 505};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (st == never[i])
            return 0;
    return 1;
}

/* One POST. KP_OK with the body in *b (status 200/201), or an error in
 * err; *retry says whether Java would try again. */
static kp_err_t post_once(oidc_t *o, const char *form, struct curl_slist *hdrs, body_t *b,
                          int *retry, char *err, size_t errsize) {
    *retry = 0;
    CURL *h = curl_easy_init();
    if (!h) {
        kp_errf(err, errsize, "OIDC token endpoint %s: cannot set up libcurl", o->shown);
        return KP_ERR_NOMEM;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, o->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, o);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->total_ms);
    if (o->cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->cainfo);
    if (!o->verify_host)
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        if (atomic_load(&o->stop)) {
            kp_errf(err, errsize, "OIDC token endpoint %s: the producer is closing", o->shown);
            return KP_ERR_CLOSED;
        }
        /* Java retries every IOException; a certificate that does not
         * verify or a bad URL will not get better in seconds */
        *retry = cc != CURLE_SSL_CACERT_BADFILE && cc != CURLE_UNSUPPORTED_PROTOCOL &&
                 cc != CURLE_URL_MALFORMAT && cc != CURLE_PEER_FAILED_VERIFICATION &&
                 cc != CURLE_SSL_CERTPROBLEM;
        kp_errf(err, errsize, "OIDC token endpoint %s: %s%s%s", o->shown,
                cerr[0] ? cerr : curl_easy_strerror(cc),
                cc == CURLE_PEER_FAILED_VERIFICATION && !o->cainfo
                    ? " (the system's CA store is used: set ssl.truststore.location=\"...pem\" in "
                      "sasl.jaas.config for a private CA)"
                    : "",
                b->over ? " (answer over 1 MiB)" : "");
        return KAFKA_SASL_AUTHENTICATION_FAILED;
    }
    if (status != 200 && status != 201) {
        char why[260];
        describe_error_body(o, b, why, sizeof(why));
        *retry = status_retryable(status);
        kp_errf(err, errsize, "OIDC token endpoint %s answered HTTP %ld%s%s", o->shown, status, why,
                *retry ? "" : " (not retried)");
        return KAFKA_SASL_AUTHENTICATION_FAILED;
    }
    return KP_OK;
}

/* base64url (no padding) to bytes, NUL-terminated, kp_malloc'd; NULL when
 * malformed. */
static char *b64url_decode(const char *s, size_t n) {
    size_t padded = (n + 3) / 4 * 4;
    char *t = kp_malloc(padded + 1);
    char *out = kp_malloc(padded + 1);
    if (!t || !out) {
        free(t);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    for (size_t i = n; i < padded; i++)
        t[i] = '=';
    long m = kp_b64_decode(t, padded, (uint8_t *)out, padded);
    free(t);
    if (m < 0) {
        free(out);
        return NULL;
    }
    out[m] = 0;
    return out;
}

/* The answer: access_token, and its lifetime and principal. */
static kp_err_t parse_answer(oidc_t *o, const body_t *b, int64_t wall, int64_t *lifetime_ms,
                             char *err, size_t errsize) {
    json_t *root = b->p ? json_loadb(b->p, b->n, 0, NULL) : NULL;
    json_t *at = json_is_object(root) ? json_object_get(root, "access_token") : NULL;
    if (!json_is_string(at) || !*json_string_value(at)) {
        json_decref(root);
        kp_errf(err, errsize, "OIDC token endpoint %s: the answer has no access_token%s",
                o->shown, root ? "" : " (not JSON)");
        return KAFKA_SASL_AUTHENTICATION_FAILED;
    }
    wipe_free(o->token);
    free(o->principal);
    o->principal = NULL;
    o->token = kp_strdup(json_string_value(at));
    json_t *ei = json_object_get(root, "expires_in");
    double expires_in = json_is_number(ei) ? json_number_value(ei) : -1;
    json_decref(root);
    if (!o->token) {
        kp_errf(err, errsize, "out of memory");
        return KP_ERR_NOMEM;
    }
    /* Java reads the JWT's claims (LoginAccessTokenValidator): exp, sub */
    *lifetime_ms = 0;
    const char *d1 = strchr(o->token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2) {
        char *claims = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1));
        json_t *cl = claims ? json_loads(claims, 0, NULL) : NULL;
        free(claims);
        if (json_is_object(cl)) {
            json_t *exp = json_object_get(cl, "exp");
            if (json_is_number(exp))
                *lifetime_ms = (int64_t)(json_number_value(exp) * 1000.0);
            json_t *sub = json_object_get(cl, "sub");
            if (json_is_string(sub) && *json_string_value(sub))
                o->principal = kp_strdup(json_string_value(sub));
        }
        json_decref(cl);
    }
    if (!*lifetime_ms && expires_in > 0)
        *lifetime_ms = wall + (int64_t)(expires_in * 1000.0);
    if (!*lifetime_ms) {
        kp_errf(err, errsize,
                "OIDC token endpoint %s: the token has no exp claim and the answer no expires_in",
                o->shown);
        return KAFKA_SASL_AUTHENTICATION_FAILED;
    }
    return KP_OK;
}

/* The token source: Java's Retry around one POST. */
static kp_err_t oidc_token(void *opaque, kp_oauthbearer_token_t *out, char *err, size_t errsize) {
    oidc_t *o = opaque;
    /* Authorization: Basic base64(clientId:clientSecret) (RFC 7617, standard alphabet) */
    size_t idlen = strlen(o->client_id), slen = strlen(o->secret);
    size_t plen = idlen + 1 + slen;
    char *pair = kp_malloc(plen + 1);
    char *hdr = kp_malloc(sizeof("Authorization: Basic ") + kp_b64_len(plen) + 1);
    char *scope = o->scope ? curl_easy_escape(NULL, o->scope, 0) : NULL;
    char *form = kp_malloc(64 + (scope ? strlen(scope) : 0));
    struct curl_slist *hdrs = NULL, *h2;
    kp_err_t rc = KP_ERR_NOMEM;
    kp_errf(err, errsize, "out of memory");
    if (!pair || !hdr || !form || (o->scope && !scope))
        goto out;
    memcpy(pair, o->client_id, idlen);
    pair[idlen] = ':';
    memcpy(pair + idlen + 1, o->secret, slen);
    size_t hl = (size_t)sprintf(hdr, "Authorization: Basic ");
    kp_b64_encode((const uint8_t *)pair, plen, hdr + hl, 0);
    sprintf(form, "grant_type=client_credentials%s%s", scope ? "&scope=" : "", scope ? scope : "");
    static const char *const fixed[] = {"Accept: application/json", "Cache-Control: no-cache",
                                        "Content-Type: application/x-www-form-urlencoded"};
    for (size_t i = 0; i < 3; i++) {
        if (!(h2 = curl_slist_append(hdrs, fixed[i])))
            goto out;
        hdrs = h2;
    }
    if (!(h2 = curl_slist_append(hdrs, hdr)))
        goto out;
    hdrs = h2;
    int64_t end = real_ms() + o->backoff_max_ms;
    for (int attempt = 1;; attempt++) {
        body_t b = {0};
        int retry = 0;
        rc = post_once(o, form, hdrs, &b, &retry, err, errsize);
        int64_t wall = kp_wall_ms(), life = 0;
        if (!rc)
            rc = parse_answer(o, &b, wall, &life, err, errsize);
        if (b.p) {
            wipe(b.p, b.n);
            free(b.p);
        }
        if (!rc) {
            out->value = o->token;
            out->lifetime_ms = life;
            out->principal = o->principal ? o->principal : o->client_id;
            out->extensions = o->ext;
            out->extension_count = o->next;
            break;
        }
        if (!retry)
            break;
        int64_t wait = o->backoff_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
        int64_t left = end - real_ms();
        if (wait > left)
            wait = left;
        if (wait <= 0)
            break;
        for (int64_t until = real_ms() + wait; real_ms() < until && !atomic_load(&o->stop);) {
            struct timespec ts = {0, 20 * 1000000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&o->stop))
            break;
    }
out:
    if (pair) {
        wipe(pair, plen);
        free(pair);
    }
    if (hdr) {
        wipe(hdr, strlen(hdr));
        free(hdr);
    }
    curl_free(scope);
    free(form);
    curl_slist_free_all(hdrs); /* its copy of the header is not wiped: libcurl's */
    return rc;
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static oidc_t *oidc_new(const kp_conf_t *conf, const kp_jaas_t *j, char *err, size_t errsize) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    oidc_t *o = kp_calloc(1, sizeof(*o));
    kp_sasl_ext_t *ext = NULL;
    size_t next = 0;
    if (!o)
        goto nomem;
    o->url = kp_strdup(conf->sasl_oauthbearer_token_endpoint_url);
    o->shown = shown_url(conf->sasl_oauthbearer_token_endpoint_url);
    o->client_id = jaas_trimmed(j, "clientId");
    o->secret = jaas_trimmed(j, "clientSecret");
    o->scope = jaas_trimmed(j, "scope");
    o->cainfo = jaas_trimmed(j, "ssl.truststore.location");
    const char *eia = kp_jaas_get(j, "ssl.endpoint.identification.algorithm");
    o->verify_host = !eia || *eia;
    o->connect_ms = conf->sasl_login_connect_timeout_ms > 0 ? conf->sasl_login_connect_timeout_ms
                                                              : 10000;
    o->total_ms = o->connect_ms + (conf->sasl_login_read_timeout_ms > 0
                                       ? conf->sasl_login_read_timeout_ms
                                       : 30000);
    o->backoff_ms = conf->sasl_login_retry_backoff_ms > 0 ? conf->sasl_login_retry_backoff_ms : 1;
    o->backoff_max_ms = conf->sasl_login_retry_backoff_max_ms;
    if (!o->url || !o->shown || !o->client_id || !o->secret)
        goto nomem;
    if (kp_sasl_ext_from_jaas(j, "extension_", &ext, &next, err, errsize))
        goto fail;
    if (next) {
        o->ext = kp_calloc(2 * next, sizeof(*o->ext));
        if (!o->ext)
            goto nomem;
        o->next = next;
        for (size_t i = 0; i < next; i++) {
            o->ext[2 * i] = kp_strdup(ext[i].key);
            o->ext[2 * i + 1] = kp_strdup(ext[i].value);
            if (!o->ext[2 * i] || !o->ext[2 * i + 1])
                goto nomem;
        }
    }
    free(ext);
    return o;
nomem:
    kp_errf(err, errsize, "Out of memory");
fail:
    free(ext);
    oidc_free(o);
    return NULL;
}

#endif /* KPROD_WITH_OIDC */

kp_err_t kp_oauth_setup(kp_net_t *net, char *errstr, size_t errsize) {
    const kp_conf_t *conf = net->conf;
    if (!net->sasl.on || net->sasl.mech != KP_SASL_OAUTHBEARER)
        return KP_OK;
    kp_err_t rc = KP_OK;
    if (conf->oauth_token_fn) {
        net->oauth = kp_oauth_new(conf, conf->oauth_token_fn, conf->oauth_token_opaque, net->log,
                                  &rc, errstr, errsize);
        return net->oauth ? KP_OK : rc;
    }
    if (!conf->sasl_oauthbearer_token_endpoint_url || !*conf->sasl_oauthbearer_token_endpoint_url)
        return KP_OK; /* Java's unsecured tokens, made by auth.c */
#ifdef KPROD_WITH_OIDC
    oidc_t *o = oidc_new(conf, &net->sasl.jaas, errstr, errsize);
    if (!o)
        return KP_ERR_NOMEM;
    net->oauth = oauth_new(conf, oidc_token, o, oidc_stop, oidc_free, net->log, &rc, errstr,
                           errsize);
    return net->oauth ? KP_OK : rc;
#else
    return kp_oauth_oidc_check(conf, &net->sasl.jaas, errstr, errsize);
#endif
}

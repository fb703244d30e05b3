/*
 * sasl — client-side SASL mechanisms as state machines fed the server's
 * bytes (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER), Java's unsecured JWS
 * builder, and the helpers that turn a sasl.jaas.config and a SaslHandshake
 * answer into what the exchange needs. What each function promises is in
 * sasl.h; why the code is as it is, here.
 *
 * SCRAM (RFC 5802 3, with RFC 7677's SHA-256; SHA-512 as Kafka adds it):
 *
 *   client-first  = "n,," client-first-bare
 *   client-first-bare = "n=" saslname ",r=" c-nonce [",tokenauth=true"]
 *   server-first  = "r=" c-nonce s-nonce ",s=" salt ",i=" i [ext]
 *   SaltedPassword  = PBKDF2-HMAC-H(password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key");  StoredKey = H(ClientKey)
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
 *   client-final  = "c=biws,r=" nonce ",p=" base64(ClientProof)
 *   server-final  = "v=" base64(ServerSignature) | "e=" error
 *
 * The expected ServerSignature is computed with the proof and kept; the
 * salted password and keys are zeroed at once. A server that cannot send
 * it (it does not know the password, so it is not the broker, or someone
 * relays the exchange) fails the authentication even when the broker
 * would let us in: mutual authentication is SCRAM's point. Beyond
 * Kafka's own client: the server's nonce must extend ours (not only start
 * with it), and an m= extension (RFC 5802: the client must fail) and
 * iteration counts above KP_SCRAM_MAX_ITERATIONS are refused.
 *
 * The crypto is OpenSSL's (EVP digests, HMAC, PKCS5_PBKDF2_HMAC, RAND_bytes,
 * CRYPTO_memcmp); a build without OpenSSL (cmake/openssl.cmake,
 * KPROD_WITH_OPENSSL) has PLAIN and OAUTHBEARER, and SCRAM fails in
 * kp_sasl_new saying so. The message parsers and base64 are plain C, so
 * they are fuzzed in every build.
 */
#include "base/alloc.h"
#include "net/sasl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kafka_codes.h"
#include "base/util.h"

#ifdef KPROD_WITH_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif

#define AUTH_FAILED KAFKA_SASL_AUTHENTICATION_FAILED
#define KP_SASL_MAX_CRED 65535       /* a user name, password or extension */
#define KP_SASL_MAX_TOKEN (1 << 20)  /* an OAUTHBEARER token */
#define KP_SASL_MAX_NEXT 64          /* OAUTHBEARER extensions */
#define HMAX 64                      /* the largest digest (SHA-512) */

static void wipe(void *p, size_t n) {
    if (!p || !n)
        return;
#ifdef KPROD_WITH_OPENSSL
    OPENSSL_cleanse(p, n);
#else
    explicit_bzero(p, n);
#endif
}

static void wipe_free(void *p, size_t n) {
    wipe(p, n);
    free(p);
}

static void wipe_free_str(char *s) {
    if (s)
        wipe_free(s, strlen(s));
}

/* Text from a server for an error message: printable ASCII, others as
 * '?', cut after max characters. */
static void sanitize(char *out, size_t size, const void *in, size_t n, size_t max) {
    const uint8_t *p = in;
    size_t k = 0;
    if (!size)
        return;
    for (size_t i = 0; i < n && k + 1 < size; i++) {
        if (i == max) {
            for (const char *d = "..."; *d && k + 1 < size; d++)
                out[k++] = *d;
            break;
        }
        out[k++] = p[i] >= 0x20 && p[i] < 0x7F ? (char)p[i] : '?';
    }
    out[k] = '\0';
}

/* ---- base64 ---- */

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kp_b64_len(size_t n) { return (n + 2) / 3 * 4; }

size_t kp_b64_encode(const uint8_t *in, size_t n, char *out, int url) {
    const char *a = url ? b64url : b64std;
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        out[k++] = a[(v >> 6) & 63];
        out[k++] = a[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[k++] = a[(v >> 6) & 63];
        else if (!url)
            out[k++] = '=';
        if (!url)
            out[k++] = '=';
    }
    out[k] = '\0';
    return k;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long kp_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
    if (n % 4)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            if (c == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad) /* "=x" */
                return -1;
            if ((v[j] = b64val(c)) < 0)
                return -1;
        }
        /* the bits a padded group leaves unused must be zero (canonical) */
        if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
            return -1;
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t m = 3 - (size_t)pad;
        if (k + m > cap)
            return -1;
        out[k++] = (uint8_t)(x >> 16);
        if (m > 1)
            out[k++] = (uint8_t)(x >> 8);
        if (m > 2)
            out[k++] = (uint8_t)x;
    }
    return (long)k;
}

/* ---- mechanisms ---- */

const char *kp_sasl_mech_name(kp_sasl_mech_t m) {
    switch (m) {
    case KP_SASL_PLAIN: return "PLAIN";
    case KP_SASL_SCRAM_SHA_256: return "SCRAM-SHA-256";
    case KP_SASL_SCRAM_SHA_512: return "SCRAM-SHA-512";
    case KP_SASL_OAUTHBEARER: return "OAUTHBEARER";
    case KP_SASL_SCRAM_SHA_1_TEST: return "SCRAM-SHA-1";
    }
    return "?";
}

static int is_scram(kp_sasl_mech_t m) {
    return m == KP_SASL_SCRAM_SHA_256 || m == KP_SASL_SCRAM_SHA_512 || m == KP_SASL_SCRAM_SHA_1_TEST;
}

int kp_sasl_mech_built(kp_sasl_mech_t m) {
#ifdef KPROD_WITH_OPENSSL
    return m >= KP_SASL_PLAIN && m <= KP_SASL_SCRAM_SHA_1_TEST;
#else
    return m == KP_SASL_PLAIN || m == KP_SASL_OAUTHBEARER;
#endif
}

kp_err_t kp_sasl_mech_parse(const char *name, kp_sasl_mech_t *out, char *err, size_t errsize) {
    static const kp_sasl_mech_t all[] = {KP_SASL_PLAIN, KP_SASL_SCRAM_SHA_256, KP_SASL_SCRAM_SHA_512,
                                         KP_SASL_OAUTHBEARER};
    for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(name, kp_sasl_mech_name(all[i])) == 0) {
            *out = all[i];
            return KP_OK;
        }
    if (name && strcmp(name, "GSSAPI") == 0) {
        kp_errf(err, errsize,
                "sasl.mechanism GSSAPI (Kerberos) is not built into kprod: use PLAIN, "
                "SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER");
        return KP_ERR_NOT_IMPLEMENTED;
    }
    kp_errf(err, errsize,
            "sasl.mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (in capitals)");
    return KP_ERR_INVALID_CONFIG;
}

/* The class name without its package when it looks like one (a name that
 * does not is not shown: this text goes into errors). */
static const char *module_label(const kp_jaas_t *j) {
    const char *m = kp_jaas_module_short(j);
    if (!*m || strlen(m) > 64)
        return "the login module";
    for (const char *p = m; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '$'))
            return "the login module";
    return m;
}

kp_err_t kp_sasl_creds_from_jaas(kp_sasl_mech_t mech, const kp_jaas_t *j, kp_sasl_creds_t *c,
                                 char *err, size_t errsize) {
    memset(c, 0, sizeof(*c));
    const char *shortname = kp_jaas_module_short(j);
    if (mech == KP_SASL_OAUTHBEARER) {
        if (strcmp(shortname, "OAuthBearerLoginModule") != 0) {
            kp_errf(err, errsize,
                    "sasl.jaas.config: %s does not do SASL mechanism OAUTHBEARER: use "
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
                    module_label(j));
            return KP_ERR_INVALID_CONFIG;
        }
        return KP_OK;
    }
    /* Java's PlainLoginModule and ScramLoginModule both only hand the
     * username and password to the mechanism, so either works for either;
     * the package is not compared (shaded clients rename it). */
    if (strcmp(shortname, "PlainLoginModule") != 0 && strcmp(shortname, "ScramLoginModule") != 0) {
        kp_errf(err, errsize,
                "sasl.jaas.config: %s does not do SASL mechanism %s: use "
                "org.apache.kafka.common.security.%s",
                module_label(j), kp_sasl_mech_name(mech),
                mech == KP_SASL_PLAIN ? "plain.PlainLoginModule" : "scram.ScramLoginModule");
        return KP_ERR_INVALID_CONFIG;
    }
    c->username = kp_jaas_get(j, "username");
    c->password = kp_jaas_get(j, "password");
    if (!c->username || !c->password) {
        kp_errf(err, errsize, "sasl.jaas.config: %s needs the options username and password%s",
                kp_sasl_mech_name(mech),
                !c->username && !c->password ? "" : !c->username ? " (username is missing)"
                                                                : " (password is missing)");
        memset(c, 0, sizeof(*c));
        return KP_ERR_INVALID_CONFIG;
    }
    const char *ta = kp_jaas_get(j, "tokenauth");
    c->tokenauth = ta && (ta[0] == 't' || ta[0] == 'T') && strlen(ta) == 4 &&
                   (ta[1] | 32) == 'r' && (ta[2] | 32) == 'u' && (ta[3] | 32) == 'e';
    if (c->tokenauth && mech == KP_SASL_PLAIN) {
        kp_errf(err, errsize,
                "sasl.jaas.config: tokenauth (delegation tokens) needs SCRAM-SHA-256 or "
                "SCRAM-SHA-512, not PLAIN");
        memset(c, 0, sizeof(*c));
        return KP_ERR_INVALID_CONFIG;
    }
    return KP_OK;
}

/* Kafka's OAuthBearerClientInitialResponse patterns. */
static int ext_key_ok(const char *k) {
    if (!*k || strcmp(k, "auth") == 0)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z')))
            return 0;
    return 1;
}

static int ext_value_ok(const char *v) {
    if (!*v)
        return 0;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (!((c >= 0x21 && c <= 0x7E) || c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            return 0;
    }
    return 1;
}

kp_err_t kp_sasl_ext_from_jaas(const kp_jaas_t *j, const char *prefix, kp_sasl_ext_t **ext,
                               size_t *next, char *err, size_t errsize) {
    *ext = NULL;
    *next = 0;
    size_t plen = strlen(prefix), n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < j->nopts; i++) {
            const kp_jaas_opt_t *o = &j->opts[i];
            if (strncmp(o->name, prefix, plen) != 0)
                continue;
            int later = 0; /* a name given twice: the last one (Java's map) */
            for (size_t k = i + 1; k < j->nopts && !later; k++)
                later = strcmp(j->opts[k].name, o->name) == 0;
            if (later)
                continue;
            const char *key = o->name + plen;
            if (pass == 0) {
                if (!ext_key_ok(key) || strlen(key) > 256) {
                    kp_errf(err, errsize,
                            "sasl.jaas.config: the SASL extension name after %s must be letters "
                            "only (and not \"auth\")",
                            prefix);
                    return KP_ERR_INVALID_CONFIG;
                }
                if (!ext_value_ok(o->value)) {
                    kp_errf(err, errsize,
                            "sasl.jaas.config: the value of %s%s must be printable ASCII, spaces, "
                            "tabs or line ends, and not empty",
                            prefix, key);
                    return KP_ERR_INVALID_CONFIG;
                }
                n++;
            } else {
                (*ext)[*next].key = key;
                (*ext)[*next].value = o->value;
                (*next)++;
            }
        }
        if (pass == 0) {
            if (n == 0)
                return KP_OK;
            if (n > KP_SASL_MAX_NEXT) {
                kp_errf(err, errsize, "sasl.jaas.config: more than %d SASL extensions",
                        KP_SASL_MAX_NEXT);
                return KP_ERR_INVALID_CONFIG;
            }
            *ext = kp_calloc(n, sizeof(**ext));
            if (!*ext) {
                kp_errf(err, errsize, "out of memory");
                return KP_ERR_NOMEM;
            }
        }
    }
    return KP_OK;
}

/* ---- the state machine ---- */

enum { ST_START, ST_WAIT1, ST_WAIT2, ST_DONE, ST_FAILED };

struct kp_sasl {
    kp_sasl_mech_t mech;
    int state;
    char *user; /* PLAIN: as given; SCRAM: escaped (saslname) */
    char *pass;
    int tokenauth;
    uint8_t *msg; /* OAUTHBEARER: the prepared client message */
    size_t msglen;
    uint8_t *out; /* the last message returned */
    size_t outlen;
    /* SCRAM */
    char nonce[65];
    char *first_bare;
    uint8_t server_sig[HMAX];
    size_t hlen;
    char reason[256]; /* OAUTHBEARER: the server's error status */
};

kp_sasl_mech_t kp_sasl_mech(const kp_sasl_t *s) { return s->mech; }

const char *kp_sasl_server_reason(const kp_sasl_t *s) { return s && s->reason[0] ? s->reason : NULL; }

static void set_out(kp_sasl_t *s, uint8_t *p, size_t n) {
    wipe_free(s->out, s->outlen);
    s->out = p;
    s->outlen = n;
}

/* Drop every secret (done or failed). */
static void forget(kp_sasl_t *s) {
    wipe_free_str(s->pass);
    s->pass = NULL;
    wipe_free(s->msg, s->msglen);
    s->msg = NULL;
    s->msglen = 0;
    wipe(s->server_sig, sizeof(s->server_sig));
}

void kp_sasl_free(kp_sasl_t *s) {
    if (!s)
        return;
    forget(s);
    set_out(s, NULL, 0);
    wipe_free_str(s->user);
    wipe_free_str(s->first_bare);
    wipe(s->nonce, sizeof(s->nonce));
    free(s);
}

static kp_err_t failf(kp_sasl_t *s, kp_err_t rc, char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static kp_err_t failf(kp_sasl_t *s, kp_err_t rc, char *err, size_t errsize, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kp_errf(err, errsize, "SASL %s: %s", kp_sasl_mech_name(s->mech), msg);
    s->state = ST_FAILED;
    forget(s);
    set_out(s, NULL, 0);
    return rc;
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int b64token_ok(const char *t) {
    size_t i = 0;
    for (; t[i]; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
            break;
    }
    if (i == 0)
        return 0;
    while (t[i] == '=')
        i++;
    return t[i] == '\0';
}

/* n,,^Aauth=Bearer <token>^A<key>=<value>^A...^A (RFC 7628 3.1; Kafka's
 * OAuthBearerClientInitialResponse writes the same bytes) */
static kp_err_t oauth_message(kp_sasl_t *s, const kp_sasl_creds_t *c, char *err, size_t errsize) {
    size_t tl = c->token ? strnlen(c->token, KP_SASL_MAX_TOKEN + 1) : 0;
    if (!c->token || tl == 0) {
        kp_errf(err, errsize, "SASL OAUTHBEARER: no token");
        return KP_ERR_INVALID_CONFIG;
    }
    if (tl > KP_SASL_MAX_TOKEN) {
        kp_errf(err, errsize, "SASL OAUTHBEARER: the token is longer than %d bytes", KP_SASL_MAX_TOKEN);
        return KP_ERR_INVALID_CONFIG;
    }
    if (!b64token_ok(c->token)) {
        kp_errf(err, errsize,
                "SASL OAUTHBEARER: the token holds a character RFC 6750 does not allow "
                "(letters, digits, - . _ ~ + / and trailing =)");
        return KP_ERR_INVALID_CONFIG;
    }
    if (c->next > KP_SASL_MAX_NEXT) {
        kp_errf(err, errsize, "SASL OAUTHBEARER: more than %d extensions", KP_SASL_MAX_NEXT);
        return KP_ERR_INVALID_CONFIG;
    }
    size_t n = 4 + 12 + tl + 1 + 1;
    for (size_t i = 0; i < c->next; i++) {
        const kp_sasl_ext_t *e = &c->ext[i];
        if (!e->key || !e->value || !ext_key_ok(e->key) || !ext_value_ok(e->value) ||
            strlen(e->key) > 256 || strlen(e->value) > KP_SASL_MAX_CRED) {
            kp_errf(err, errsize,
                    "SASL OAUTHBEARER: extension %zu has a name other than letters (or \"auth\") "
                    "or a value that is empty or not printable ASCII",
                    i + 1);
            return KP_ERR_INVALID_CONFIG;
        }
        n += strlen(e->key) + 1 + strlen(e->value) + 1;
    }
    uint8_t *m = kp_malloc(n + 1);
    if (!m) {
        kp_errf(err, errsize, "out of memory");
        return KP_ERR_NOMEM;
    }
    size_t k = 0;
#define PUT(str, len) (memcpy(m + k, (str), (len)), k += (len))
    PUT("n,,\x01", 4);
    PUT("auth=Bearer ", 12);
    PUT(c->token, tl);
    m[k++] = 1;
    for (size_t i = 0; i < c->next; i++) {
        PUT(c->ext[i].key, strlen(c->ext[i].key));
        m[k++] = '=';
        PUT(c->ext[i].value, strlen(c->ext[i].value));
        m[k++] = 1;
    }
    m[k++] = 1;
#undef PUT
    s->msg = m;
    s->msglen = k;
    return KP_OK;
}

/* RFC 5802 5.1: saslname with ',' as =2C and '=' as =3D. */
static char *scram_escape(const char *u) {
    size_t n = 0;
    for (const char *p = u; *p; p++)
        n += *p == ',' || *p == '=' ? 3 : 1;
    char *o = kp_malloc(n + 1), *q = o;
    if (!o)
        return NULL;
    for (const char *p = u; *p; p++) {
        if (*p == ',')
            memcpy(q, "=2C", 3), q += 3;
        else if (*p == '=')
            memcpy(q, "=3D", 3), q += 3;
        else
            *q++ = *p;
    }
    *q = '\0';
    return o;
}

kp_sasl_t *kp_sasl_new(kp_sasl_mech_t mech, const kp_sasl_creds_t *creds, kp_err_t *rcp, char *err,
                       size_t errsize) {
    kp_err_t rc = KP_OK;
    kp_sasl_t *s = NULL;
    if (!creds || mech < KP_SASL_PLAIN || mech > KP_SASL_SCRAM_SHA_1_TEST) {
        kp_errf(err, errsize, "SASL: no such mechanism or no credentials");
        rc = KP_ERR_INVALID_ARG;
        goto out;
    }
    if (!kp_sasl_mech_built(mech)) {
        kp_errf(err, errsize,
                "SASL %s needs OpenSSL (its hashes, PBKDF2 and random nonces), and this build has "
                "no OpenSSL: rebuild kprod with libssl-dev installed",
                kp_sasl_mech_name(mech));
        rc = KP_ERR_NOT_IMPLEMENTED;
        goto out;
    }
    if (mech != KP_SASL_OAUTHBEARER) {
        size_t ul = creds->username ? strnlen(creds->username, KP_SASL_MAX_CRED + 1) : 0;
        size_t pl = creds->password ? strnlen(creds->password, KP_SASL_MAX_CRED + 1) : 0;
        if (!ul || !creds->password || (mech == KP_SASL_PLAIN && !pl)) {
            kp_errf(err, errsize, "SASL %s needs a username and a password",
                    kp_sasl_mech_name(mech));
            rc = KP_ERR_INVALID_CONFIG;
            goto out;
        }
        if (ul > KP_SASL_MAX_CRED || pl > KP_SASL_MAX_CRED) {
            kp_errf(err, errsize, "SASL %s: a username or password over %d bytes",
                    kp_sasl_mech_name(mech), KP_SASL_MAX_CRED);
            rc = KP_ERR_INVALID_CONFIG;
            goto out;
        }
        if (creds->tokenauth && !is_scram(mech)) {
            kp_errf(err, errsize, "SASL %s: tokenauth is for SCRAM", kp_sasl_mech_name(mech));
            rc = KP_ERR_INVALID_CONFIG;
            goto out;
        }
    }
    s = kp_calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->mech = mech;
    if (mech == KP_SASL_OAUTHBEARER) {
        rc = oauth_message(s, creds, err, errsize);
        if (rc != KP_OK)
            goto out;
    } else {
        s->user = is_scram(mech) ? scram_escape(creds->username) : kp_strdup(creds->username);
        s->pass = kp_strdup(creds->password);
        if (!s->user || !s->pass)
            goto nomem;
        s->tokenauth = creds->tokenauth;
    }
    if (rcp)
        *rcp = KP_OK;
    return s;
nomem:
    kp_errf(err, errsize, "out of memory");
    rc = KP_ERR_NOMEM;
out:
    kp_sasl_free(s);
    if (rcp)
        *rcp = rc;
    return NULL;
}

kp_err_t kp_sasl_test_nonce(kp_sasl_t *s, const char *nonce) {
    size_t n = nonce ? strlen(nonce) : 0;
    if (!s || s->state != ST_START || !n || n >= sizeof(s->nonce))
        return KP_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (nonce[i] < 0x21 || nonce[i] > 0x7E || nonce[i] == ',')
            return KP_ERR_INVALID_ARG;
    memcpy(s->nonce, nonce, n + 1);
    return KP_OK;
}

/* ---- SCRAM's server messages ---- */

static int is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* ["," ALPHA+ "=" value]* to the end, value bytes 0x01-0x7F but ','. */
static int extensions_ok(const uint8_t *p, const uint8_t *end) {
    while (p < end) {
        if (*p++ != ',')
            return 0;
        const uint8_t *k = p;
        while (p < end && is_alpha(*p))
            p++;
        if (p == k || p >= end || *p++ != '=')
            return 0;
        const uint8_t *v = p;
        while (p < end && *p != ',' && *p >= 0x01 && *p <= 0x7F)
            p++;
        if (p == v || (p < end && *p != ','))
            return 0;
    }
    return 1;
}

static const uint8_t *field_end(const uint8_t *p, const uint8_t *end) {
    while (p < end && *p != ',')
        p++;
    return p;
}

static int starts(const uint8_t *p, const uint8_t *end, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

kp_err_t kp_scram_parse_server_first(const uint8_t *in, size_t len, kp_scram_server_first_t *out,
                                     char *err, size_t errsize) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = in, *end = in + len, *e;
    char tmp[128];
    if (!in || len == 0) {
        kp_errf(err, errsize, "the server-first message is empty");
        return AUTH_FAILED;
    }
    if (len > KP_SCRAM_MAX_MSG) {
        kp_errf(err, errsize, "the server-first message is longer than %d bytes", KP_SCRAM_MAX_MSG);
        return AUTH_FAILED;
    }
    if (starts(p, end, "e=")) { /* not in RFC 5802's grammar, but some servers fail so */
        e = field_end(p + 2, end);
        sanitize(tmp, sizeof(tmp), p + 2, (size_t)(e - p - 2), 100);
        kp_errf(err, errsize, "the server refused the authentication: e=%s", tmp);
        return AUTH_FAILED;
    }
    if (starts(p, end, "m=")) {
        kp_errf(err, errsize,
                "the server requires an extension (m=) kprod does not know (RFC 5802: refused)");
        return AUTH_FAILED;
    }
    if (!starts(p, end, "r=")) {
        kp_errf(err, errsize, "the server-first message does not start with r= (the nonce)");
        return AUTH_FAILED;
    }
    p += 2;
    e = field_end(p, end);
    if (e == p) {
        kp_errf(err, errsize, "the server-first message has an empty nonce");
        return AUTH_FAILED;
    }
    for (const uint8_t *q = p; q < e; q++)
        if (*q < 0x21 || *q > 0x7E) {
            kp_errf(err, errsize, "the server's nonce holds a byte that is not printable ASCII");
            return AUTH_FAILED;
        }
    out->nonce = (const char *)p;
    out->nonce_len = (size_t)(e - p);
    p = e;
    if (!starts(p, end, ",s=")) {
        kp_errf(err, errsize, "the server-first message has no s= (the salt) after the nonce");
        goto fail;
    }
    p += 3;
    e = field_end(p, end);
    if (e == p) {
        kp_errf(err, errsize, "the server-first message has an empty salt");
        goto fail;
    }
    if ((size_t)(e - p) > kp_b64_len(KP_SCRAM_MAX_SALT)) {
        kp_errf(err, errsize, "the server's salt is longer than %d bytes", KP_SCRAM_MAX_SALT);
        goto fail;
    }
    long sl = kp_b64_decode((const char *)p, (size_t)(e - p), out->salt, sizeof(out->salt));
    if (sl <= 0) {
        kp_errf(err, errsize, "the server's salt is not valid base64");
        goto fail;
    }
    out->salt_len = (size_t)sl;
    p = e;
    if (!starts(p, end, ",i=")) {
        kp_errf(err, errsize,
                "the server-first message has no i= (the iteration count) after the salt");
        goto fail;
    }
    p += 3;
    e = field_end(p, end);
    uint64_t it = 0;
    if (e == p) {
        kp_errf(err, errsize, "the server's iteration count is empty");
        goto fail;
    }
    for (const uint8_t *q = p; q < e; q++) {
        if (*q < '0' || *q > '9') {
            kp_errf(err, errsize, "the server's iteration count is not a number");
            goto fail;
        }
        if (it <= UINT32_MAX)
            it = it * 10 + (uint64_t)(*q - '0');
    }
    if (it < KP_SCRAM_MIN_ITERATIONS) {
        kp_errf(err, errsize,
                "the server asks for %u iterations, fewer than the %d Kafka's clients require "
                "(few iterations make a captured exchange easy to crack)",
                (unsigned)it, KP_SCRAM_MIN_ITERATIONS);
        goto fail;
    }
    if (it > KP_SCRAM_MAX_ITERATIONS) {
        kp_errf(err, errsize, "the server asks for %s%llu iterations, more than the %d kprod computes",
                it > UINT32_MAX ? "over " : "", (unsigned long long)(it > UINT32_MAX ? UINT32_MAX : it),
                KP_SCRAM_MAX_ITERATIONS);
        goto fail;
    }
    out->iterations = (uint32_t)it;
    if (!extensions_ok(e, end)) {
        kp_errf(err, errsize, "the server-first message has a malformed extension after i=");
        goto fail;
    }
    return KP_OK;
fail:
    memset(out, 0, sizeof(*out));
    return AUTH_FAILED;
}

kp_err_t kp_scram_parse_server_final(const uint8_t *in, size_t len, kp_scram_server_final_t *out,
                                     char *err, size_t errsize) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = in, *end = in + len, *e;
    if (!in || len == 0) {
        kp_errf(err, errsize, "the server-final message is empty");
        return AUTH_FAILED;
    }
    if (len > KP_SCRAM_MAX_MSG) {
        kp_errf(err, errsize, "the server-final message is longer than %d bytes", KP_SCRAM_MAX_MSG);
        return AUTH_FAILED;
    }
    if (starts(p, end, "e=")) {
        p += 2;
        e = field_end(p, end);
        for (const uint8_t *q = p; q < e; q++)
            if (*q == 0 || *q > 0x7F || *q == '=') {
                kp_errf(err, errsize, "the server-final message's error (e=) is malformed");
                return AUTH_FAILED;
            }
        if (e == p) {
            kp_errf(err, errsize, "the server-final message's error (e=) is empty");
            return AUTH_FAILED;
        }
        out->error = (const char *)p;
        out->error_len = (size_t)(e - p);
    } else if (starts(p, end, "v=")) {
        p += 2;
        e = field_end(p, end);
        long n = e - p > 4 * 22 ? -1
                                : kp_b64_decode((const char *)p, (size_t)(e - p), out->verifier,
                                                sizeof(out->verifier));
        if (n <= 0) {
            kp_errf(err, errsize, "the server signature (v=) is not valid base64 of at most 64 bytes");
            memset(out, 0, sizeof(*out));
            return AUTH_FAILED;
        }
        out->verifier_len = (size_t)n;
    } else {
        kp_errf(err, errsize,
                "the server-final message has neither v= (the server's signature) nor e= (an "
                "error)");
        return AUTH_FAILED;
    }
    if (!extensions_ok(e, end)) {
        kp_errf(err, errsize, "the server-final message has a malformed extension");
        memset(out, 0, sizeof(*out));
        return AUTH_FAILED;
    }
    return KP_OK;
}

/* ---- SCRAM's steps ---- */

#ifdef KPROD_WITH_OPENSSL
static const EVP_MD *scram_md(kp_sasl_mech_t m) {
    switch (m) {
    case KP_SASL_SCRAM_SHA_256: return EVP_sha256();
    case KP_SASL_SCRAM_SHA_512: return EVP_sha512();
    case KP_SASL_SCRAM_SHA_1_TEST: return EVP_sha1();
    default: return NULL;
    }
}

static int hmac(const EVP_MD *md, const uint8_t *key, size_t klen, const void *d, size_t n,
                uint8_t *out) {
    unsigned int ol = 0;
    return HMAC(md, key, (int)klen, d, n, out, &ol) != NULL;
}

static kp_err_t scram_first(kp_sasl_t *s, char *err, size_t errsize) {
    if (!s->nonce[0]) { /* 24 random bytes: 32 printable characters, no ',' */
        uint8_t r[24];
        if (RAND_bytes(r, sizeof(r)) != 1)
            return failf(s, KP_ERR_UNKNOWN, err, errsize, "OpenSSL's random generator failed");
        kp_b64_encode(r, sizeof(r), s->nonce, 0);
        wipe(r, sizeof(r));
    }
    const char *ext = s->tokenauth ? ",tokenauth=true" : "";
    size_t n = 2 + strlen(s->user) + 3 + strlen(s->nonce) + strlen(ext);
    s->first_bare = kp_malloc(n + 1);
    uint8_t *m = kp_malloc(n + 3);
    if (!s->first_bare || !m) {
        free(m);
        free(s->first_bare); /* not written yet: no string to wipe */
        s->first_bare = NULL;
        return failf(s, KP_ERR_NOMEM, err, errsize, "out of memory");
    }
    snprintf(s->first_bare, n + 1, "n=%s,r=%s%s", s->user, s->nonce, ext);
    memcpy(m, "n,,", 3);
    memcpy(m + 3, s->first_bare, n);
    set_out(s, m, n + 3);
    return KP_OK;
}

static kp_err_t scram_final(kp_sasl_t *s, const uint8_t *in, size_t inlen, char *err,
                            size_t errsize) {
    kp_scram_server_first_t sf;
    char why[320];
    if (kp_scram_parse_server_first(in, inlen, &sf, why, sizeof(why)) != KP_OK)
        return failf(s, AUTH_FAILED, err, errsize, "%s", why);
    size_t cn = strlen(s->nonce);
    if (sf.nonce_len <= cn || memcmp(sf.nonce, s->nonce, cn) != 0)
        return failf(s, AUTH_FAILED, err, errsize,
                     sf.nonce_len >= cn && memcmp(sf.nonce, s->nonce, cn) == 0
                         ? "the server's nonce adds nothing to ours (a replayed exchange?)"
                         : "the server's nonce does not start with ours (a replayed or "
                           "misdirected exchange?)");
    const EVP_MD *md = scram_md(s->mech);
    size_t hl = (size_t)EVP_MD_get_size(md);
    /* client-final-message-without-proof and AuthMessage */
    size_t wl = 9 + sf.nonce_len; /* "c=biws,r=" nonce */
    size_t fl = strlen(s->first_bare);
    size_t al = fl + 1 + inlen + 1 + wl;
    size_t pl = kp_b64_len(hl);
    uint8_t *auth = kp_malloc(al);
    uint8_t *m = kp_malloc(wl + 3 + pl + 1);
    if (!auth || !m) {
        free(auth);
        free(m);
        return failf(s, KP_ERR_NOMEM, err, errsize, "out of memory");
    }
    memcpy(m, "c=biws,r=", 9);
    memcpy(m + 9, sf.nonce, sf.nonce_len);
    size_t k = 0;
    memcpy(auth + k, s->first_bare, fl), k += fl;
    auth[k++] = ',';
    memcpy(auth + k, in, inlen), k += inlen;
    auth[k++] = ',';
    memcpy(auth + k, m, wl), k += wl;

    uint8_t salted[HMAX], ckey[HMAX], skey[HMAX], stored[HMAX], csig[HMAX], proof[HMAX];
    unsigned int dl = 0;
    int ok = PKCS5_PBKDF2_HMAC(s->pass, (int)strlen(s->pass), sf.salt, (int)sf.salt_len,
                               (int)sf.iterations, md, (int)hl, salted) == 1 &&
             hmac(md, salted, hl, "Client Key", 10, ckey) &&
             EVP_Digest(ckey, hl, stored, &dl, md, NULL) == 1 &&
             hmac(md, stored, hl, auth, al, csig) &&
             hmac(md, salted, hl, "Server Key", 10, skey) &&
             hmac(md, skey, hl, auth, al, s->server_sig);
    for (size_t i = 0; i < hl; i++)
        proof[i] = ckey[i] ^ csig[i];
    wipe(salted, sizeof(salted));
    wipe(ckey, sizeof(ckey));
    wipe(skey, sizeof(skey));
    wipe(stored, sizeof(stored));
    wipe(csig, sizeof(csig));
    free(auth); /* public: both sides' messages */
    /* the password is not needed any more */
    wipe_free_str(s->pass);
    s->pass = NULL;
    if (!ok) {
        wipe(proof, sizeof(proof));
        free(m);
        return failf(s, KP_ERR_UNKNOWN, err, errsize, "OpenSSL's PBKDF2 or HMAC failed");
    }
    s->hlen = hl;
    memcpy(m + wl, ",p=", 3);
    kp_b64_encode(proof, hl, (char *)m + wl + 3, 0);
    wipe(proof, sizeof(proof));
    set_out(s, m, wl + 3 + pl);
    return KP_OK;
}

static kp_err_t scram_verify(kp_sasl_t *s, const uint8_t *in, size_t inlen, char *err,
                             size_t errsize) {
    kp_scram_server_final_t sf;
    char why[320];
    if (kp_scram_parse_server_final(in, inlen, &sf, why, sizeof(why)) != KP_OK)
        return failf(s, AUTH_FAILED, err, errsize, "%s", why);
    if (sf.error) {
        char e[128];
        sanitize(e, sizeof(e), sf.error, sf.error_len, 100);
        return failf(s, AUTH_FAILED, err, errsize, "the server refused the authentication: e=%s", e);
    }
    if (sf.verifier_len != s->hlen || CRYPTO_memcmp(sf.verifier, s->server_sig, s->hlen) != 0)
        return failf(s, AUTH_FAILED, err, errsize,
                     "the server's signature (v=) is wrong: the server did not prove it knows "
                     "the password, so it is refused (is it the broker it claims to be?)");
    return KP_OK;
}
#endif /* KPROD_WITH_OPENSSL */

kp_err_t kp_sasl_step(kp_sasl_t *s, const uint8_t *in, size_t inlen, kp_sasl_out_t *out, char *err,
                      size_t errsize) {
    kp_err_t rc = KP_OK;
    if (out)
        memset(out, 0, sizeof(*out));
    if (!s || !out || (inlen && !in)) {
        kp_errf(err, errsize, "SASL: bad arguments");
        return KP_ERR_INVALID_ARG;
    }
    if (s->state == ST_FAILED || s->state == ST_DONE) {
        kp_errf(err, errsize, "SASL %s: the exchange is over (%s)", kp_sasl_mech_name(s->mech),
                s->state == ST_DONE ? "done" : "failed");
        return KP_ERR_INVALID_ARG;
    }
    if (s->state == ST_START && inlen) /* every mechanism here speaks first */
        return failf(s, KP_ERR_INVALID_ARG, err, errsize,
                     "the first step takes no server message");
    switch (s->mech) {
    case KP_SASL_PLAIN:
        if (s->state == ST_START) { /* authzid (empty) NUL user NUL password */
            size_t ul = strlen(s->user), pl = strlen(s->pass);
            uint8_t *m = kp_malloc(ul + pl + 2);
            if (!m)
                return failf(s, KP_ERR_NOMEM, err, errsize, "out of memory");
            m[0] = 0;
            memcpy(m + 1, s->user, ul);
            m[1 + ul] = 0;
            memcpy(m + 2 + ul, s->pass, pl);
            set_out(s, m, ul + pl + 2);
            forget(s);
            s->state = ST_WAIT1;
        } else { /* the broker answered without an error: in */
            set_out(s, NULL, 0);
            s->state = ST_DONE;
        }
        break;
    case KP_SASL_OAUTHBEARER:
        if (s->state == ST_START) {
            set_out(s, s->msg, s->msglen);
            s->msg = NULL;
            s->msglen = 0;
            s->state = ST_WAIT1;
        } else if (s->state == ST_WAIT1 && inlen == 0) {
            set_out(s, NULL, 0);
            s->state = ST_DONE;
        } else if (s->state == ST_WAIT1) {
            /* RFC 7628 3.2.2: an error status (JSON); the client answers a
             * lone ^A and the server then fails the exchange, with the
             * status as Kafka's ErrorMessage */
            sanitize(s->reason, sizeof(s->reason), in, inlen, 200);
            uint8_t *m = kp_malloc(1);
            if (!m)
                return failf(s, KP_ERR_NOMEM, err, errsize, "out of memory");
            m[0] = 1;
            set_out(s, m, 1);
            s->state = ST_WAIT2;
        } else {
            return failf(s, AUTH_FAILED, err, errsize, "the server refused the token: %s",
                         s->reason);
        }
        break;
    default: /* SCRAM */
#ifdef KPROD_WITH_OPENSSL
        if (s->state == ST_START) {
            rc = scram_first(s, err, errsize);
            if (rc == KP_OK)
                s->state = ST_WAIT1;
        } else if (s->state == ST_WAIT1) {
            rc = scram_final(s, in, inlen, err, errsize);
            if (rc == KP_OK)
                s->state = ST_WAIT2;
        } else {
            rc = scram_verify(s, in, inlen, err, errsize);
            if (rc == KP_OK) {
                set_out(s, NULL, 0);
                forget(s);
                s->state = ST_DONE;
            }
        }
        if (rc != KP_OK)
            return rc;
        break;
#else
        return failf(s, KP_ERR_NOT_IMPLEMENTED, err, errsize, "this build has no OpenSSL");
#endif
    }
    out->data = s->out;
    out->len = s->outlen;
    out->send = s->state != ST_DONE;
    out->done = s->state == ST_DONE;
    return rc;
}

/* ---- SaslHandshake ---- */

kp_err_t kp_sasl_handshake_check(const kp_sasl_handshake_resp_t *hs, kp_sasl_mech_t mech,
                                 char *err, size_t errsize) {
    if (hs->err == 0)
        return KP_OK;
    if (hs->err != KAFKA_UNSUPPORTED_SASL_MECHANISM) {
        kp_errf(err, errsize, "SaslHandshake for %s failed: %s", kp_sasl_mech_name(mech),
                kp_err_name(hs->err));
        return hs->err;
    }
    char list[256];
    size_t k = 0;
    list[0] = '\0';
    for (int32_t i = 0; i < hs->nmechs && k + 1 < sizeof(list); i++) {
        char one[64];
        sanitize(one, sizeof(one), hs->mechs[i].s, (size_t)hs->mechs[i].len, 40);
        int w = snprintf(list + k, sizeof(list) - k, "%s%s", i ? ", " : "", one);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (k >= sizeof(list))
        k = sizeof(list) - 1;
    kp_errf(err, errsize, "broker does not enable SASL mechanism %s; it enables %s",
            kp_sasl_mech_name(mech), hs->nmechs ? list : "none");
    return KAFKA_UNSUPPORTED_SASL_MECHANISM;
}

/* ---- the unsecured JWS ---- */

typedef struct jb { /* a growable JSON/text buffer */
    char *p;
    size_t len, cap;
    int oom;
} jb_t;

static void jb_put(jb_t *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = kp_malloc(cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        if (b->p) {
            memcpy(p, b->p, b->len);
            wipe_free(b->p, b->cap);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_str(jb_t *b, const char *s) { jb_put(b, s, strlen(s)); }

/* A JSON string (RFC 8259 escapes; UTF-8 passes through). */
static void jb_json(jb_t *b, const char *s, size_t n) {
    jb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\', e[1] = (char)c;
            jb_put(b, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof(e), "\\u%04x", c);
            jb_put(b, e, 6);
        } else {
            jb_put(b, (const char *)&c, 1);
        }
    }
    jb_put(b, "\"", 1);
}

static void jb_free(jb_t *b) {
    wipe_free(b->p, b->cap);
    memset(b, 0, sizeof(*b));
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number_ok(const char *s) {
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static void jb_seconds(jb_t *b, int64_t ms) {
    char t[48];
    snprintf(t, sizeof(t), "%s%lld.%03lld", ms < 0 ? "-" : "", (long long)(ms < 0 ? -ms : ms) / 1000,
             (long long)(ms < 0 ? -ms : ms) % 1000);
    jb_str(b, t);
}

/* Trim ASCII spaces, as Java's trim() for the claim-name options. */
static void trimmed(const char *s, const char **p, size_t *n) {
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t l = strlen(s);
    while (l && (unsigned char)s[l - 1] <= ' ')
        l--;
    *p = s;
    *n = l;
}

#define OPT_PFX "unsecuredLogin"
static const char *const claim_kinds[] = {OPT_PFX "StringClaim_", OPT_PFX "NumberClaim_",
                                          OPT_PFX "ListClaim_"};

void kp_sasl_token_clear(kp_sasl_token_t *t) {
    if (!t)
        return;
    wipe_free_str(t->value);
    wipe_free_str(t->principal);
    memset(t, 0, sizeof(*t));
}

kp_err_t kp_sasl_unsecured_token(const kp_jaas_t *j, int64_t now_ms, kp_sasl_token_t *t, char *err,
                                 size_t errsize) {
    memset(t, 0, sizeof(*t));
    kp_err_t rc = KP_ERR_INVALID_CONFIG;
    jb_t c = {0}, tok = {0};
    char *hdr64 = NULL, *cl64 = NULL;

    const char *pn = kp_jaas_get(j, OPT_PFX "PrincipalClaimName"), *pname = "sub";
    size_t pnl = 3;
    if (pn) {
        trimmed(pn, &pname, &pnl);
        if (!pnl)
            pname = "sub", pnl = 3;
    }
    int64_t life = 3600;
    const char *ls = kp_jaas_get(j, OPT_PFX "LifetimeSeconds");
    if (ls) {
        const char *q = ls + (*ls == '+');
        life = 0;
        if (!*q)
            life = -1;
        for (; *q && life >= 0; q++)
            life = *q >= '0' && *q <= '9' && life <= 315360000 ? life * 10 + (*q - '0') : -1;
        if (life <= 0 || life > 315360000) { /* ten years */
            kp_errf(err, errsize,
                    "sasl.jaas.config: " OPT_PFX "LifetimeSeconds must be a whole number of "
                    "seconds from 1 to 315360000");
            goto out;
        }
    }
    int64_t exp_ms = now_ms + life * 1000;

    jb_str(&c, "{\"exp\":");
    jb_seconds(&c, exp_ms);
    jb_str(&c, ",\"iat\":");
    jb_seconds(&c, now_ms);
    const char *principal = NULL;
    for (size_t i = 0; i < j->nopts; i++) {
        const kp_jaas_opt_t *o = &j->opts[i];
        int kind = -1;
        size_t kl = 0;
        for (int k = 0; k < 3; k++) {
            kl = strlen(claim_kinds[k]);
            if (strncmp(o->name, claim_kinds[k], kl) == 0 && o->name[kl]) {
                kind = k;
                break;
            }
        }
        if (kind < 0)
            continue;
        int later = 0; /* an option given twice: its last value */
        for (size_t k = i + 1; k < j->nopts && !later; k++)
            later = strcmp(j->opts[k].name, o->name) == 0;
        if (later)
            continue;
        const char *claim = o->name + kl;
        if (strcmp(claim, "iat") == 0 || strcmp(claim, "exp") == 0) {
            kp_errf(err, errsize, "sasl.jaas.config: %s: the '%s' claim cannot be set (it is computed)",
                    o->name, claim);
            goto out;
        }
        for (size_t k = 0; k < i; k++) { /* the same claim under two kinds */
            const char *other = j->opts[k].name;
            for (int m = 0; m < 3; m++) {
                size_t ml = strlen(claim_kinds[m]);
                if (m != kind && strncmp(other, claim_kinds[m], ml) == 0 &&
                    strcmp(other + ml, claim) == 0) {
                    kp_errf(err, errsize, "sasl.jaas.config: the claim '%s' is set twice", claim);
                    goto out;
                }
            }
        }
        jb_str(&c, ",");
        jb_json(&c, claim, strlen(claim));
        jb_str(&c, ":");
        const char *v = o->value;
        if (kind == 0) {
            jb_json(&c, v, strlen(v));
            if (strlen(claim) == pnl && memcmp(claim, pname, pnl) == 0)
                principal = v;
        } else if (kind == 1) {
            if (!json_number_ok(v)) {
                kp_errf(err, errsize, "sasl.jaas.config: %s must be a number", o->name);
                goto out;
            }
            jb_str(&c, v);
        } else { /* the first character is the delimiter */
            size_t vl = strlen(v);
            jb_str(&c, "[");
            if (vl > 1) {
                char d = v[0];
                const char *p = v + 1, *end = v + vl;
                for (int first = 1;; first = 0) {
                    const char *q = memchr(p, d, (size_t)(end - p));
                    if (!q)
                        q = end;
                    if (!first)
                        jb_str(&c, ",");
                    jb_json(&c, p, (size_t)(q - p));
                    if (q == end)
                        break;
                    p = q + 1;
                }
            }
            jb_str(&c, "]");
        }
    }
    jb_str(&c, "}");
    if (!principal || !*principal) {
        kp_errf(err, errsize,
                "sasl.jaas.config: an unsecured token needs its principal: set "
                OPT_PFX "StringClaim_%.*s=\"<name>\"",
                (int)(pnl > 64 ? 64 : pnl), pname);
        goto out;
    }
    static const char hdr[] = "{\"alg\":\"none\"}";
    if (c.oom)
        goto nomem;
    hdr64 = kp_calloc(1, kp_b64_len(sizeof(hdr) - 1) + 1); /* zeroed: freed as strings */
    cl64 = kp_calloc(1, kp_b64_len(c.len) + 1);
    if (!hdr64 || !cl64)
        goto nomem;
    kp_b64_encode((const uint8_t *)hdr, sizeof(hdr) - 1, hdr64, 1);
    kp_b64_encode((const uint8_t *)c.p, c.len, cl64, 1);
    jb_str(&tok, hdr64);
    jb_str(&tok, ".");
    jb_str(&tok, cl64);
    jb_str(&tok, ".");
    t->principal = kp_strdup(principal);
    if (tok.oom || !t->principal)
        goto nomem;
    t->value = kp_strndup(tok.p, tok.len);
    if (!t->value)
        goto nomem;
    t->lifetime_ms = exp_ms;
    t->start_ms = now_ms;
    rc = KP_OK;
    goto out;
nomem:
    kp_errf(err, errsize, "out of memory");
    rc = KP_ERR_NOMEM;
out:
    if (rc != KP_OK)
        kp_sasl_token_clear(t);
    jb_free(&c);
    jb_free(&tok);
    wipe_free_str(hdr64);
    wipe_free_str(cl64);
    return rc;
}

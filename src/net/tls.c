/*
 * tls — TLS under the Kafka framing (security.protocol=SSL), with OpenSSL 3.
 *
 * Two parts:
 *
 * The context (kp_tls_t, one per producer): an SSL_CTX built from Java's
 * ssl.* properties at creation, so that a wrong path, format or password
 * fails kp_producer_new with the property named. Trust: the CA
 * certificates of ssl.truststore.location (PEM or PKCS12) or
 * ssl.truststore.certificates (PEM text), or else the system's store
 * (SSL_CTX_set_default_verify_paths). Identity for mutual TLS: the key and
 * the whole certificate chain of ssl.keystore.location (PKCS12 or PEM) or of
 * ssl.keystore.key + ssl.keystore.certificate.chain, every chain certificate
 * added so the broker gets the full chain. JKS stores are Java's own: they
 * fail with the keytool command that converts them. The files' identities
 * (device, inode, size, modification time) are noted when they are read;
 * each connection's setup compares them again (a stat per file) and
 * rebuilds the context when one changed, so rotated certificates reach new
 * connections without a restart, including Kubernetes' symlink swaps. A
 * replacement that cannot be loaded (half written, wrong password) is
 * logged once and the previous context stays in use until the file changes
 * again. Passwords and the PEM key are read from the configuration only
 * while building, never logged, never quoted in an error.
 *
 * The transport (conn.h's kp_transport_ops_t, one SSL per connection over
 * its non-blocking socket). Where the handshake runs: as the connection's
 * first setup step (the transport's `handshake`), before ApiVersions,
 * rather than hidden inside the first SSL_write. Three reasons: a failed
 * handshake must be told apart from a broker that does not answer Kafka
 * (its reason, OpenSSL's, decides whether the broker is unusable — see
 * below — and is logged with the broker's name and what to check); while it
 * runs the socket waits for what OpenSSL asks (`events` answers POLLIN or
 * POLLOUT from the last SSL_ERROR_WANT_*), not for what the framing wants;
 * and a setup step is already bounded by socket.connection.setup.timeout.ms
 * (kp_conn_timers), which is the handshake's bound too. So the handshake
 * never blocks the I/O thread: SSL_connect is called again each time the
 * socket is ready in the direction it asked for.
 *
 * Where the copy happens: OpenSSL cannot gather, so tls_writev makes TLS
 * records of at most 16 KiB from the framing's iovecs. A record whose bytes
 * lie in one iovec (the head of a large batch, a request of one segment) is
 * written from there, no copy; one gathered from several small iovecs (a
 * request header and the batches of small partitions) is copied once into
 * the connection's 16 KiB buffer first. When SSL_write wants the socket
 * again (SSL_ERROR_WANT_*), the same bytes are offered next time (the
 * framing did not advance: conn.h's contract) and the same length is
 * retried, as OpenSSL requires. Reading needs no copy of ours: SSL_read
 * decrypts into the framing's buffer. Bytes OpenSSL has decrypted but not
 * handed out are invisible to poll(): `pending` makes the framing read them
 * before it waits.
 *
 * Which failures make the broker unusable (conn.h's kp_conn_t.unusable =
 * KP_ERR_SSL_HANDSHAKE: its records fail at once, reconnects go on with
 * backoff): a TLS protocol failure before the connection is READY — the
 * broker's certificate not verified (untrusted, expired, another host's),
 * an alert from the broker (our certificate refused or missing, no common
 * version or cipher), an answer that is not TLS; and a broker that hangs up
 * on our ClientHello without a byte in reply on two connections in a row,
 * which is what a PLAINTEXT Kafka listener does (it reads the hello as a
 * request of 369 MB). A reset or end of file after some TLS came back, or
 * anything after READY, is a lost connection (KP_ERR_TRANSPORT, retried).
 */
#include "net/tls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "net/resolve.h"

#ifndef KPROD_WITH_OPENSSL

kp_tls_t *kp_tls_new(const kp_conf_t *conf, const kp_logger_t *log, char *errstr,
                     size_t errstr_size) {
    (void)conf;
    (void)log;
    kp_errf(errstr, errstr_size,
            "security.protocol=SSL: this build of kprod has no TLS (it was built without "
            "OpenSSL 3: install libssl-dev and rebuild)");
    return NULL;
}
void kp_tls_free(kp_tls_t *tls) { (void)tls; }
const kp_transport_ops_t *kp_tls_transport(void) { return NULL; }
int kp_tls_reloads(const kp_tls_t *tls) {
    (void)tls;
    return 0;
}

#else /* KPROD_WITH_OPENSSL */

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* The most plaintext in one TLS record. */
#define KP_TLS_RECORD 16384
/* Largest trust or key store read. */
#define KP_TLS_MAX_FILE (16 * 1024 * 1024)

/* What a file was when read: any difference means it was replaced or
 * rewritten. */
typedef struct file_stamp {
    int set;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_stamp_t;

struct kp_tls {
    const kp_conf_t *conf;
    const kp_logger_t *log;
    SSL_CTX *ctx;
    file_stamp_t trust, key;         /* the files ctx was built from */
    file_stamp_t bad_trust, bad_key; /* the last versions that failed to load */
    int verify_host;                 /* ssl.endpoint.identification.algorithm=https */
    int reloads;
};

/* One connection's TLS state (conn.h's tr_state): made at its first
 * handshake, its SSL freed when the connection closes, itself freed with
 * the connection. */
typedef struct tls_conn {
    SSL *ssl;
    const kp_conf_t *conf; /* the producer's, for the hints in messages */
    int handshaking;
    short want;           /* the handshake waits for POLLIN or POLLOUT */
    int read_wants_write; /* SSL_read needs the socket writable (a KeyUpdate to send) */
    size_t wpend;         /* a record SSL_write has not taken yet: its length ... */
    int wpend_copied;     /* ... and whether its bytes are in wbuf */
    int hangups;          /* handshakes in a row hung up on without a byte back */
    int cert_asked;       /* the broker asked for a client certificate we do not have */
    int early_closes;     /* connections in a row closed after a TLS 1.3 handshake, unanswered */
    kp_err_t err;         /* the last failure: its error and text */
    char why[512];
    /* the first certificate verification error, from the verify callback */
    int verr;
    char vcert[160]; /* that certificate's subject ... */
    char vtime[48];  /* ... and its notAfter (expired) or notBefore (not yet valid) */
    unsigned char wbuf[KP_TLS_RECORD];
} tls_conn_t;

/* ------------------------------------------------------------ helpers */

/* OpenSSL's reason for the error at the bottom of this thread's queue (the
 * first one raised), or `dflt`; the queue is emptied. */
static const char *ossl_reason(char *buf, size_t size, const char *dflt) {
    unsigned long first = 0, e;
    while ((e = ERR_get_error()))
        if (!first)
            first = e;
    const char *r = first ? ERR_reason_error_string(first) : NULL;
    if (r)
        snprintf(buf, size, "%s", r);
    else if (first)
        snprintf(buf, size, "OpenSSL error %lx", first);
    else
        snprintf(buf, size, "%s", dflt);
    return buf;
}

static int stamp_file(const char *path, file_stamp_t *st) {
    struct stat sb;
    memset(st, 0, sizeof(*st));
    if (!path || !*path || stat(path, &sb))
        return -1;
    st->set = 1;
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime = sb.st_mtim;
    return 0;
}

static int stamp_eq(const file_stamp_t *a, const file_stamp_t *b) {
    return a->set == b->set && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Read a whole store file; its stamp is taken before reading, so a change
 * while it is read is seen at the next look. */
static int read_store(const char *prop, const char *path, unsigned char **out, size_t *len,
                      file_stamp_t *st, char *err, size_t errsz) {
    stamp_file(path, st);
    FILE *f = fopen(path, "rb");
    if (!f) {
        kp_errf(err, errsz, "%s: cannot read '%s': %s", prop, path, strerror(errno));
        return -1;
    }
    size_t cap = 8192, n = 0;
    unsigned char *b = kp_malloc(cap);
    while (b) {
        if (n == cap) {
            unsigned char *nb = cap < KP_TLS_MAX_FILE ? kp_realloc(b, cap * 2) : NULL;
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        kp_errf(err, errsz, "%s: cannot read '%s': %s", prop, path,
                bad ? "read error" : "too large or out of memory");
        return -1;
    }
    *out = b;
    *len = n;
    return 0;
}

enum store_fmt { FMT_UNKNOWN, FMT_PEM, FMT_PKCS12, FMT_JKS };

static enum store_fmt sniff(const unsigned char *b, size_t n) {
    if (n >= 4 && ((b[0] == 0xFE && b[1] == 0xED && b[2] == 0xFE && b[3] == 0xED) ||
                   (b[0] == 0xCE && b[1] == 0xCE && b[2] == 0xCE && b[3] == 0xCE)))
        return FMT_JKS; /* JKS, JCEKS */
    if (n >= 2 && b[0] == 0x30 && (b[1] & 0x80))
        return FMT_PKCS12; /* a DER SEQUENCE with a long length */
    if (memmem(b, n, "-----BEGIN", 10))
        return FMT_PEM;
    return FMT_UNKNOWN;
}

/* The format of a store file given its ssl.*.type: PEM and PKCS12 as said;
 * JKS (Java's default) or nothing: as the file is (keytool writes PKCS12
 * since Java 9, also under .jks). A real JKS store, or a type kprod does
 * not read, is an error saying what to do. */
static enum store_fmt store_format(const char *what, const char *type, const char *path,
                                   const unsigned char *b, size_t n, char *err, size_t errsz) {
    enum store_fmt seen = sniff(b, n);
    enum store_fmt want;
    if (!strcasecmp(type, "PEM"))
        want = FMT_PEM;
    else if (!strcasecmp(type, "PKCS12"))
        want = FMT_PKCS12;
    else if (!*type || !strcasecmp(type, "JKS"))
        want = seen == FMT_PEM || seen == FMT_PKCS12 ? seen : FMT_JKS;
    else {
        kp_errf(err, errsz, "ssl.%s.type=%s: kprod reads PEM and PKCS12 stores", what, type);
        return FMT_UNKNOWN;
    }
    if (seen == FMT_JKS) {
        kp_errf(err, errsz,
                "ssl.%s.location '%s' is a Java KeyStore (JKS), which only Java reads: convert it "
                "with keytool -importkeystore -srckeystore %s -destkeystore %s.p12 "
                "-deststoretype PKCS12, then set ssl.%s.location to the .p12 file and "
                "ssl.%s.type=PKCS12",
                what, path, path, path, what, what);
        return FMT_UNKNOWN;
    }
    if (seen != want) {
        kp_errf(err, errsz, "ssl.%s.location '%s' is not %s%s: set ssl.%s.type to its format "
                            "(PEM or PKCS12)",
                what, path, want == FMT_PEM ? "PEM (no -----BEGIN line)" : "PKCS12",
                want == FMT_JKS ? " or PEM" : "", what);
        return FMT_UNKNOWN;
    }
    return want;
}

/* Every certificate of PEM text, in order (NULL when none, err set). */
static STACK_OF(X509) *pem_certs(const void *b, size_t n, const char *what, char *err,
                                 size_t errsz) {
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    while (bio && sk && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    ERR_clear_error(); /* (the read that ends the loop "fails") */
    BIO_free(bio);
    if (!sk || !sk_X509_num(sk)) {
        sk_X509_pop_free(sk, X509_free);
        kp_errf(err, errsz, "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", what);
        return NULL;
    }
    return sk;
}

/* The password callback for encrypted PEM keys: never the terminal (the
 * default callback would prompt on it). */
typedef struct pass_ctx {
    const char *pw;
    int asked;
} pass_ctx_t;

static int pem_pass(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    pass_ctx_t *pc = u;
    pc->asked = 1;
    if (!pc->pw || !*pc->pw)
        return -1;
    size_t n = strlen(pc->pw);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pc->pw, n);
    return (int)n;
}

/* A PEM private key (encrypted ones with ssl.key.password). */
static EVP_PKEY *pem_key(const void *b, size_t n, const char *what, const char *password,
                         char *err, size_t errsz) {
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    pass_ctx_t pc = {password, 0};
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, pem_pass, &pc) : NULL;
    BIO_free(bio);
    if (k) {
        ERR_clear_error();
        return k;
    }
    char r[160];
    ossl_reason(r, sizeof(r), "no key found");
    if (pc.asked && (!password || !*password))
        kp_errf(err, errsz, "the private key in %s is encrypted: set ssl.key.password", what);
    else if (pc.asked)
        kp_errf(err, errsz, "cannot decrypt the private key in %s: wrong ssl.key.password? (%s)",
                what, r);
    else
        kp_errf(err, errsz, "%s holds no PEM private key (%s)", what, r);
    return NULL;
}

static PKCS12 *p12_read(const unsigned char *b, size_t n) {
    const unsigned char *p = b;
    return d2i_PKCS12(NULL, &p, (long)n);
}

static void p12_error(const char *what, const char *path, char *err, size_t errsz) {
    char r[160];
    ossl_reason(r, sizeof(r), "unreadable");
    kp_errf(err, errsz,
            "cannot open ssl.%s.location '%s' (PKCS12): %s (wrong or missing ssl.%s.password? a "
            "store written with a legacy cipher needs re-exporting with AES)",
            what, path, r, what);
}

/* ------------------------------------------------------------ the context */

static int proto_version(const char *s) {
    if (!strcasecmp(s, "TLSv1.3") || !strcasecmp(s, "TLS"))
        return TLS1_3_VERSION;
    if (!strcasecmp(s, "TLSv1.2"))
        return TLS1_2_VERSION;
    if (!strcasecmp(s, "TLSv1.1"))
        return TLS1_1_VERSION;
    if (!strcasecmp(s, "TLSv1"))
        return TLS1_VERSION;
    return -1;
}

/* Call fn on each comma-separated item of list, trimmed; stops at the
 * first non-zero return. */
static int each_item(const char *list, int (*fn)(const char *item, void *arg), void *arg) {
    const char *s = list;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            char item[128];
            snprintf(item, sizeof(item), "%.*s", (int)(n < 127 ? n : 127), s);
            int rc = fn(item, arg);
            if (rc)
                return rc;
        }
        s = e ? e + 1 : NULL;
    }
    return 0;
}

typedef struct proto_range {
    int min, max;
    char bad[128];
} proto_range_t;

static int add_proto(const char *item, void *arg) {
    proto_range_t *r = arg;
    int v = proto_version(item);
    if (v < 0 || !strcasecmp(item, "TLS")) {
        snprintf(r->bad, sizeof(r->bad), "%s", item);
        return 1;
    }
    if (!r->min || v < r->min)
        r->min = v;
    if (v > r->max)
        r->max = v;
    return 0;
}

static int set_protocols(SSL_CTX *ctx, const kp_conf_t *conf, char *err, size_t errsz) {
    int cap = proto_version(conf->ssl_protocol);
    if (cap < 0) {
        kp_errf(err, errsz, "ssl.protocol=%s: expected TLSv1.3, TLSv1.2 or TLS (OpenSSL "
                            "speaks TLS 1.0 to 1.3, no SSL)",
                conf->ssl_protocol);
        return -1;
    }
    proto_range_t r = {0, 0, ""};
    if (each_item(conf->ssl_enabled_protocols, add_proto, &r)) {
        kp_errf(err, errsz, "ssl.enabled.protocols: '%s' is not a TLS version (TLSv1.2, TLSv1.3)",
                r.bad);
        return -1;
    }
    if (!r.min) {
        r.min = TLS1_2_VERSION;
        r.max = TLS1_3_VERSION;
    }
    if (r.max > cap)
        r.max = cap;
    if (r.max < r.min) {
        kp_errf(err, errsz,
                "ssl.protocol=%s leaves none of ssl.enabled.protocols=%s: no TLS version to use",
                conf->ssl_protocol, conf->ssl_enabled_protocols);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, r.min);
    SSL_CTX_set_max_proto_version(ctx, r.max);
    return 0;
}

typedef struct cipher_lists {
    STACK_OF(SSL_CIPHER) *all;
    SSL_CTX *probe;
    char tls12[4096], tls13[1024];
    char bad[128];
} cipher_lists_t;

static void append(char *dst, size_t size, const char *name) {
    size_t n = strlen(dst);
    snprintf(dst + n, size - n, "%s%s", n ? ":" : "", name);
}

static int add_cipher(const char *item, void *arg) {
    cipher_lists_t *cl = arg;
    for (int i = 0; i < sk_SSL_CIPHER_num(cl->all); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(cl->all, i);
        const char *std = SSL_CIPHER_standard_name(c), *ossl = SSL_CIPHER_get_name(c);
        if ((std && !strcasecmp(std, item)) || !strcasecmp(ossl, item)) {
            if (!strcmp(SSL_CIPHER_get_version(c), "TLSv1.3"))
                append(cl->tls13, sizeof(cl->tls13), ossl);
            else
                append(cl->tls12, sizeof(cl->tls12), ossl);
            return 0;
        }
    }
    /* TLS 1.3 suites OpenSSL knows but does not enable by default (the
     * CCM ones) are not in the list: ask OpenSSL itself */
    if (!strncasecmp(item, "TLS_", 4) && SSL_CTX_set_ciphersuites(cl->probe, item)) {
        append(cl->tls13, sizeof(cl->tls13), item);
        return 0;
    }
    snprintf(cl->bad, sizeof(cl->bad), "%s", item);
    return 1;
}

/* ssl.cipher.suites: Java's IANA names (or OpenSSL's) split into the TLS
 * 1.2 cipher list and the TLS 1.3 suites. As in Java, a list naming no
 * suite of a version leaves that version unusable. */
static int set_ciphers(SSL_CTX *ctx, const kp_conf_t *conf, char *err, size_t errsz) {
    if (!*conf->ssl_cipher_suites)
        return 0;
    cipher_lists_t *cl = kp_calloc(1, sizeof(*cl));
    int rc = -1;
    if (!cl || !(cl->probe = SSL_CTX_new(TLS_client_method())) ||
        !SSL_CTX_set_cipher_list(cl->probe, "ALL:COMPLEMENTOFALL") ||
        !(cl->all = SSL_CTX_get_ciphers(cl->probe))) {
        kp_errf(err, errsz, "ssl.cipher.suites: out of memory");
        goto out;
    }
    if (each_item(conf->ssl_cipher_suites, add_cipher, cl)) {
        kp_errf(err, errsz, "ssl.cipher.suites: unknown cipher suite '%s' (Java's IANA names "
                            "such as TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, or OpenSSL's)",
                cl->bad);
        goto out;
    }
    if (!SSL_CTX_set_ciphersuites(ctx, cl->tls13) ||
        (*cl->tls12 && !SSL_CTX_set_cipher_list(ctx, cl->tls12))) {
        char r[160];
        kp_errf(err, errsz, "ssl.cipher.suites: %s", ossl_reason(r, sizeof(r), "refused"));
        goto out;
    }
    if (!*cl->tls12 && SSL_CTX_get_min_proto_version(ctx) < TLS1_3_VERSION)
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    if (!*cl->tls13 && (SSL_CTX_get_max_proto_version(ctx) == 0 ||
                        SSL_CTX_get_max_proto_version(ctx) > TLS1_2_VERSION))
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_get_max_proto_version(ctx) && SSL_CTX_get_min_proto_version(ctx) >
                                                  SSL_CTX_get_max_proto_version(ctx)) {
        kp_errf(err, errsz, "ssl.cipher.suites names no suite of the TLS versions "
                            "ssl.enabled.protocols allows");
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    if (cl)
        SSL_CTX_free(cl->probe);
    free(cl);
    return rc;
}

static int add_trusted(X509_STORE *st, STACK_OF(X509) *sk, const char *what, char *err,
                       size_t errsz) {
    for (int i = 0; i < sk_X509_num(sk); i++)
        if (!X509_STORE_add_cert(st, sk_X509_value(sk, i)) &&
            ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            char r[160];
            kp_errf(err, errsz, "%s: %s", what, ossl_reason(r, sizeof(r), "cannot add"));
            return -1;
        }
    ERR_clear_error();
    return 0;
}

static int load_trust(SSL_CTX *ctx, const kp_conf_t *conf, file_stamp_t *stamp, char *err,
                      size_t errsz) {
    const char *path = conf->ssl_truststore_location, *pem = conf->ssl_truststore_certificates;
    if (*path && *pem) {
        kp_errf(err, errsz, "set ssl.truststore.location or ssl.truststore.certificates, not both");
        return -1;
    }
    if (!*path && !*pem) {
        /* the system's CA store; a host without one fails each handshake
         * with a verify error whose message says to set a truststore */
        SSL_CTX_set_default_verify_paths(ctx);
        ERR_clear_error();
        return 0;
    }
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509) *sk = NULL;
    if (*pem) {
        sk = pem_certs(pem, strlen(pem), "ssl.truststore.certificates", err, errsz);
        int rc = sk ? add_trusted(st, sk, "ssl.truststore.certificates", err, errsz) : -1;
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    unsigned char *b;
    size_t n;
    if (read_store("ssl.truststore.location", path, &b, &n, stamp, err, errsz))
        return -1;
    char what[300];
    snprintf(what, sizeof(what), "ssl.truststore.location '%s'", path);
    int rc = -1;
    switch (store_format("truststore", conf->ssl_truststore_type, path, b, n, err, errsz)) {
    case FMT_PEM:
        sk = pem_certs(b, n, what, err, errsz);
        break;
    case FMT_PKCS12: {
        PKCS12 *p12 = p12_read(b, n);
        EVP_PKEY *k = NULL;
        X509 *x = NULL;
        if (!p12 || !PKCS12_parse(p12, conf->ssl_truststore_password, &k, &x, &sk)) {
            p12_error("truststore", path, err, errsz);
        } else {
            if (x && (sk || (sk = sk_X509_new_null())) && !sk_X509_push(sk, x))
                X509_free(x);
            else
                x = NULL;
            X509_free(x);
            if (!sk || !sk_X509_num(sk)) {
                sk_X509_pop_free(sk, X509_free);
                sk = NULL;
                kp_errf(err, errsz, "%s holds no certificate", what);
            }
        }
        EVP_PKEY_free(k);
        PKCS12_free(p12);
        break;
    }
    default: break;
    }
    if (sk)
        rc = add_trusted(st, sk, what, err, errsz);
    sk_X509_pop_free(sk, X509_free);
    OPENSSL_cleanse(b, n);
    free(b);
    return rc;
}

/* Our certificate and key: the leaf is the certificate matching the key,
 * every other one goes into the chain sent with it. */
static int use_identity(SSL_CTX *ctx, EVP_PKEY *key, STACK_OF(X509) *certs, const char *what,
                        char *err, size_t errsz) {
    X509 *leaf = NULL;
    for (int i = 0; i < sk_X509_num(certs) && !leaf; i++)
        if (X509_check_private_key(sk_X509_value(certs, i), key))
            leaf = sk_X509_value(certs, i);
    ERR_clear_error();
    if (!leaf) {
        kp_errf(err, errsz, "no certificate in %s matches its private key", what);
        return -1;
    }
    if (!SSL_CTX_use_certificate(ctx, leaf) || !SSL_CTX_use_PrivateKey(ctx, key))
        goto fail;
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (sk_X509_value(certs, i) != leaf && !SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i)))
            goto fail;
    if (!SSL_CTX_check_private_key(ctx))
        goto fail;
    return 0;
fail:;
    char r[160];
    kp_errf(err, errsz, "%s: %s", what, ossl_reason(r, sizeof(r), "refused"));
    return -1;
}

static int load_identity(SSL_CTX *ctx, const kp_conf_t *conf, file_stamp_t *stamp, char *err,
                         size_t errsz) {
    const char *path = conf->ssl_keystore_location, *chain = conf->ssl_keystore_certificate_chain,
               *keypem = conf->ssl_keystore_key;
    if (*path && (*chain || *keypem)) {
        kp_errf(err, errsz, "set ssl.keystore.location or ssl.keystore.certificate.chain and "
                            "ssl.keystore.key, not both");
        return -1;
    }
    if (!*path && !*chain && !*keypem)
        return 0; /* no client certificate */
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *certs = NULL;
    int rc = -1;
    if (!*path) {
        if (!*chain || !*keypem) {
            kp_errf(err, errsz, "%s is set without %s: mutual TLS needs both",
                    *chain ? "ssl.keystore.certificate.chain" : "ssl.keystore.key",
                    *chain ? "ssl.keystore.key" : "ssl.keystore.certificate.chain");
            return -1;
        }
        key = pem_key(keypem, strlen(keypem), "ssl.keystore.key", conf->ssl_key_password, err,
                      errsz);
        certs = key ? pem_certs(chain, strlen(chain), "ssl.keystore.certificate.chain", err, errsz)
                    : NULL;
        if (certs)
            rc = use_identity(ctx, key, certs, "ssl.keystore.certificate.chain", err, errsz);
        EVP_PKEY_free(key);
        sk_X509_pop_free(certs, X509_free);
        return rc;
    }
    unsigned char *b;
    size_t n;
    if (read_store("ssl.keystore.location", path, &b, &n, stamp, err, errsz))
        return -1;
    char what[300];
    snprintf(what, sizeof(what), "ssl.keystore.location '%s'", path);
    switch (store_format("keystore", conf->ssl_keystore_type, path, b, n, err, errsz)) {
    case FMT_PEM:
        key = pem_key(b, n, what, conf->ssl_key_password, err, errsz);
        certs = key ? pem_certs(b, n, what, err, errsz) : NULL;
        break;
    case FMT_PKCS12: {
        PKCS12 *p12 = p12_read(b, n);
        X509 *x = NULL;
        if (!p12 || !PKCS12_parse(p12, conf->ssl_keystore_password, &key, &x, &certs)) {
            p12_error("keystore", path, err, errsz);
        } else if (!key || !x) {
            kp_errf(err, errsz, "%s holds no private key with its certificate", what);
        } else {
            if (!certs)
                certs = sk_X509_new_null();
            if (certs && sk_X509_insert(certs, x, 0))
                x = NULL;
        }
        X509_free(x);
        PKCS12_free(p12);
        if (!x && key && !certs)
            kp_errf(err, errsz, "%s: out of memory", what);
        break;
    }
    default: break;
    }
    if (key && certs)
        rc = use_identity(ctx, key, certs, what, err, errsz);
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    OPENSSL_cleanse(b, n);
    free(b);
    return rc;
}

static int verify_cb(int ok, X509_STORE_CTX *xs);

/* OpenSSL calls this when the broker asks for a client certificate and
 * none is configured: noted, so that the refusal that follows (a
 * handshake_failure alert in TLS 1.2, certificate_required in 1.3) is
 * explained as what it is. */
static int client_cert_cb(SSL *ssl, X509 **x, EVP_PKEY **k) {
    (void)x;
    (void)k;
    tls_conn_t *t = SSL_get_app_data(ssl);
    if (t)
        t->cert_asked = 1;
    return 0; /* none: the handshake goes on without one */
}

/* A new SSL_CTX from conf; the store files' stamps into *trust, *key. */
static SSL_CTX *build_ctx(const kp_conf_t *conf, file_stamp_t *trust, file_stamp_t *key,
                          char *err, size_t errsz) {
    ERR_clear_error();
    memset(trust, 0, sizeof(*trust));
    memset(key, 0, sizeof(*key));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        kp_errf(err, errsz, "cannot set up TLS: out of memory");
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_client_cert_cb(ctx, client_cert_cb);
    /* a broker never needs to renegotiate with a client; refusing it keeps
     * the write path's retries simple (no SSL_write wanting to read) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (set_protocols(ctx, conf, err, errsz) || set_ciphers(ctx, conf, err, errsz) ||
        load_trust(ctx, conf, trust, err, errsz) || load_identity(ctx, conf, key, err, errsz)) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    ERR_clear_error();
    return ctx;
}

kp_tls_t *kp_tls_new(const kp_conf_t *conf, const kp_logger_t *log, char *errstr,
                     size_t errstr_size) {
    const char *eia = conf->ssl_endpoint_identification_algorithm;
    if (*eia && strcasecmp(eia, "https")) {
        kp_errf(errstr, errstr_size,
                "ssl.endpoint.identification.algorithm=%s: expected https (the broker's "
                "certificate must name its host) or empty (not checked)",
                eia);
        return NULL;
    }
    kp_tls_t *tls = kp_calloc(1, sizeof(*tls));
    if (!tls) {
        kp_errf(errstr, errstr_size, "Out of memory");
        return NULL;
    }
    tls->conf = conf;
    tls->log = log;
    tls->verify_host = *eia != 0;
    tls->ctx = build_ctx(conf, &tls->trust, &tls->key, errstr, errstr_size);
    if (!tls->ctx) {
        free(tls);
        return NULL;
    }
    if (!tls->verify_host)
        kp_logf(log, 4,
                "ssl.endpoint.identification.algorithm is empty: broker certificates are not "
                "checked against the brokers' host names (any certificate the truststore's CAs "
                "signed is accepted for any broker)");
    return tls;
}

void kp_tls_free(kp_tls_t *tls) {
    if (!tls)
        return;
    SSL_CTX_free(tls->ctx);
    free(tls);
}

int kp_tls_reloads(const kp_tls_t *tls) { return tls ? tls->reloads : 0; }

/* Certificate rotation: rebuild the context when a store file changed
 * since it was read (looked at for each new connection). */
static void refresh(kp_tls_t *tls) {
    const kp_conf_t *conf = tls->conf;
    file_stamp_t t, k;
    stamp_file(conf->ssl_truststore_location, &t);
    stamp_file(conf->ssl_keystore_location, &k);
    if (stamp_eq(&t, &tls->trust) && stamp_eq(&k, &tls->key))
        return;
    if (stamp_eq(&t, &tls->bad_trust) && stamp_eq(&k, &tls->bad_key))
        return; /* this version failed already: wait for the next */
    const char *which = !stamp_eq(&t, &tls->trust) ? "ssl.truststore.location"
                                                   : "ssl.keystore.location";
    char err[600];
    file_stamp_t nt, nk;
    SSL_CTX *ctx = build_ctx(conf, &nt, &nk, err, sizeof(err));
    if (!ctx) {
        tls->bad_trust = t;
        tls->bad_key = k;
        kp_logf(tls->log, 4, "TLS: %s changed but cannot be used: %s; new connections keep the "
                             "certificates read before",
                which, err);
        return;
    }
    SSL_CTX_free(tls->ctx); /* (connections hold their own reference) */
    tls->ctx = ctx;
    tls->trust = nt;
    tls->key = nk;
    tls->reloads++;
    kp_logf(tls->log, 6, "TLS: %s changed: read again for new connections", which);
}

/* ------------------------------------------------------------ the transport */

/* The first verification error of a handshake, with the certificate it
 * concerns (subject and validity), for the message. */
static int verify_cb(int ok, X509_STORE_CTX *xs) {
    if (ok)
        return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn_t *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!t || t->verr)
        return ok;
    t->verr = X509_STORE_CTX_get_error(xs);
    X509 *x = X509_STORE_CTX_get_current_cert(xs);
    BIO *bio = x ? BIO_new(BIO_s_mem()) : NULL;
    if (bio) {
        X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
        int n = BIO_read(bio, t->vcert, (int)sizeof(t->vcert) - 1);
        t->vcert[n > 0 ? n : 0] = 0;
        if (t->verr == X509_V_ERR_CERT_HAS_EXPIRED || t->verr == X509_V_ERR_CERT_NOT_YET_VALID) {
            int expired = t->verr == X509_V_ERR_CERT_HAS_EXPIRED;
            BIO_puts(bio, expired ? "expired " : "valid from ");
            ASN1_TIME_print(bio, expired ? X509_get0_notAfter(x) : X509_get0_notBefore(x));
            n = BIO_read(bio, t->vtime, (int)sizeof(t->vtime) - 1);
            t->vtime[n > 0 ? n : 0] = 0;
        }
        BIO_free(bio);
    }
    return ok;
}

/* What to check, for a certificate verification error. */
static const char *verify_hint(const kp_conf_t *conf, int v) {
    int own_trust = *conf->ssl_truststore_location || *conf->ssl_truststore_certificates;
    switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return own_trust ? "the CA that signed the broker's certificate is not in "
                           "ssl.truststore.location/ssl.truststore.certificates: add it"
                         : "set ssl.truststore.location (or ssl.truststore.certificates) to the "
                           "CA that signed the broker's certificate (the system's CA store "
                           "does not have it)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "the broker's certificate has expired: renew it (or check this host's clock)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "the broker's certificate is not valid yet: check this host's clock";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "the broker's certificate does not name the host connected to (its "
               "subjectAltName must; ssl.endpoint.identification.algorithm= turns the check off)";
    default: return "check the broker's certificate and ssl.truststore.location";
    }
}

/* What to check, for a TLS alert or protocol failure (OpenSSL's reason). */
static const char *reason_hint(const kp_conf_t *conf, int reason) {
    int have_key = *conf->ssl_keystore_location || *conf->ssl_keystore_key;
    switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
        return have_key ? "the broker refused our client certificate (ssl.keystore.*): is it "
                          "signed by a CA the broker trusts, and valid?"
                        : "the broker requires a client certificate (mutual TLS): set "
                          "ssl.keystore.location (or ssl.keystore.certificate.chain and "
                          "ssl.keystore.key)";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
        return "no TLS version in common with the broker: check ssl.enabled.protocols and "
               "ssl.protocol";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_CIPHERS_AVAILABLE:
        return "the broker refused the handshake: check ssl.cipher.suites and "
               "ssl.enabled.protocols (and whether it wants a client certificate)";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_UNEXPECTED_RECORD:
        return "broker did not answer TLS — is the listener PLAINTEXT? (security.protocol=SSL "
               "needs the broker's SSL listener)";
    default: return "check the broker's TLS settings against ssl.*";
    }
}

/* Say why the last SSL call failed (e: SSL_get_error, eno: errno after it)
 * into t->why and t->err, and mark the broker unusable when retrying
 * cannot mend it (see the top of this file). */
static void describe(kp_conn_t *c, tls_conn_t *t, int e, int eno) {
    const kp_conf_t *conf = t->conf;
    int ready = c->state == KP_CONN_READY;
    unsigned long first = ERR_peek_error();
    int reason = first ? ERR_GET_REASON(first) : 0;
    /* (OpenSSL 3 reports an end of file as SSL_ERROR_SSL, unexpected EOF;
     * SSL_ERROR_SYSCALL is a socket error, with errno) */
    int eof = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !eno) ||
              (e == SSL_ERROR_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING);
    char r[200];
    ossl_reason(r, sizeof(r), eno ? strerror(eno) : "connection closed");
    t->err = KP_ERR_TRANSPORT;
    if (eof || e == SSL_ERROR_SYSCALL) {
        const char *what = eof ? "connection closed by broker" : strerror(eno);
        if (t->handshaking && BIO_number_read(SSL_get_rbio(t->ssl)) == 0) {
            /* a TLS listener answers a ClientHello; a plaintext one reads
             * it as a huge request and hangs up */
            if (++t->hangups >= 2) {
                t->err = KP_ERR_SSL_HANDSHAKE;
                c->unusable = KP_ERR_SSL_HANDSHAKE;
            }
            snprintf(t->why, sizeof(t->why),
                     "TLS handshake failed: %s with no answer to the ClientHello: broker did not "
                     "answer TLS — is the listener PLAINTEXT? (security.protocol=SSL needs the "
                     "broker's SSL listener)",
                     what);
        } else {
            t->hangups = 0;
            snprintf(t->why, sizeof(t->why), "%s%s", what,
                     t->handshaking ? " during the TLS handshake" : "");
        }
        return;
    }
    t->hangups = 0;
    if (e != SSL_ERROR_SSL || ready) {
        snprintf(t->why, sizeof(t->why), "TLS: %s", r);
        return;
    }
    /* a TLS failure before READY: the broker cannot be used as things are */
    t->err = KP_ERR_SSL_HANDSHAKE;
    c->unusable = KP_ERR_SSL_HANDSHAKE;
    long v = SSL_get_verify_result(t->ssl);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED || (t->verr && v != X509_V_OK)) {
        int code = t->verr ? t->verr : (int)v;
        snprintf(t->why, sizeof(t->why),
                 "TLS handshake failed: certificate verify failed: %s%s%s%s%s%s: %s",
                 X509_verify_cert_error_string(code), *t->vcert ? " (" : "", t->vcert,
                 *t->vtime ? ", " : "", t->vtime, *t->vcert ? ")" : "", verify_hint(conf, code));
        return;
    }
    const char *hint =
        reason_hint(conf, t->cert_asked ? SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED : reason);
    snprintf(t->why, sizeof(t->why), "TLS handshake failed: %s: %s", r, hint);
}

/* A connection's TLS begins: its SSL over the connected socket, SNI, the
 * host the certificate must name. -1: the connection was closed. */
static int tls_start(kp_net_t *net, kp_conn_t *c) {
    kp_tls_t *tls = net->tls;
    tls_conn_t *t = c->tr_state;
    if (!t && !(t = c->tr_state = kp_calloc(1, sizeof(*t)))) {
        kp_conn_close(net, c, KP_ERR_NOMEM, "out of memory");
        return -1;
    }
    refresh(tls);
    t->conf = net->conf;
    ERR_clear_error();
    t->ssl = SSL_new(tls->ctx);
    int literal = kp_is_ip_literal(c->host);
    int ok = t->ssl && SSL_set_fd(t->ssl, c->fd) && SSL_set_app_data(t->ssl, t) &&
             (literal || SSL_set_tlsext_host_name(t->ssl, c->host));
    if (ok && tls->verify_host) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host)
                     : X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
    }
    if (!ok) {
        char r[160], why[300];
        snprintf(why, sizeof(why), "cannot start TLS: %s", ossl_reason(r, sizeof(r), "out of memory"));
        kp_conn_close(net, c, KP_ERR_TRANSPORT, why);
        return -1;
    }
    SSL_set_connect_state(t->ssl);
    t->handshaking = 1;
    t->want = POLLOUT;
    t->verr = 0;
    t->cert_asked = 0;
    t->vcert[0] = t->vtime[0] = 0;
    t->why[0] = 0;
    return 0;
}

static int tls_handshake(kp_net_t *net, kp_conn_t *c) {
    tls_conn_t *t = c->tr_state;
    if ((!t || !t->ssl) && tls_start(net, c))
        return -1;
    t = c->tr_state;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(t->ssl);
    int eno = errno;
    if (rc == 1) {
        t->handshaking = 0;
        t->hangups = 0;
        char name[KP_CONN_NAME_MAX];
        kp_logf(net->log, 7, "%s: TLS established: %s, %s", kp_conn_name(c, name, sizeof(name)),
                SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
        return 1;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        ERR_clear_error();
        return 0;
    }
    describe(c, t, e, eno);
    char why[sizeof(t->why)];
    memcpy(why, t->why, sizeof(why));
    kp_conn_close(net, c, t->err, why);
    return -1;
}

/* In TLS 1.3 the client's handshake is over before the broker has looked
 * at its certificate: a refusal comes as an alert after it, or, when the
 * alert is lost (the broker closing with our first request unread resets
 * the connection), as a bare close before the first answer. Such a close
 * is taken for a refusal when the broker asked for a certificate we do
 * not have (unusable at once), or, with ours sent, on two connections in a
 * row. Returns 1 with t->why set when it is one. */
static int closed_after_handshake(kp_conn_t *c, tls_conn_t *t) {
    int have_key = *t->conf->ssl_keystore_location || *t->conf->ssl_keystore_key;
    if (c->state == KP_CONN_READY || SSL_version(t->ssl) != TLS1_3_VERSION ||
        !(t->cert_asked || have_key))
        return 0;
    t->err = KP_ERR_TRANSPORT;
    if (t->cert_asked || ++t->early_closes >= 2) {
        t->err = KP_ERR_SSL_HANDSHAKE;
        c->unusable = KP_ERR_SSL_HANDSHAKE;
    }
    snprintf(t->why, sizeof(t->why),
             "TLS handshake failed: the broker closed the connection right after the handshake, "
             "without an answer (how TLS 1.3 shows a refused client certificate): %s",
             reason_hint(t->conf, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED));
    return 1;
}

static ssize_t tls_read(kp_conn_t *c, void *buf, size_t n) {
    tls_conn_t *t = c->tr_state;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    int eno = errno;
    if (rc > 0) {
        t->read_wants_write = 0;
        t->early_closes = 0; /* the broker answers: it took our certificate */
        return rc;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
        ERR_clear_error();
        errno = EAGAIN;
        return -1;
    }
    unsigned long first = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !first && !eno) ||
        (e == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ERR_clear_error();
        if (closed_after_handshake(c, t))
            goto failed;
        return 0; /* the broker closed the connection */
    }
    describe(c, t, e, eno);
failed:
    errno = e == SSL_ERROR_SYSCALL && eno ? eno : EPROTO;
    return -1;
}

static ssize_t tls_writev(kp_conn_t *c, const struct iovec *iov, int n) {
    tls_conn_t *t = c->tr_state;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    size_t len = t->wpend;
    int copied = t->wpend_copied;
    if (len > total) { /* the framing broke its promise: fail the connection */
        snprintf(t->why, sizeof(t->why), "TLS: a write was not retried with its bytes");
        t->err = KP_ERR_TRANSPORT;
        errno = EPROTO;
        return -1;
    }
    if (!len) {
        len = total < KP_TLS_RECORD ? total : KP_TLS_RECORD;
        copied = n > 1 && iov[0].iov_len < len;
        /* the copy TLS costs: a record gathered from several iovecs */
        for (size_t i = 0, off = 0; copied && off < len; i++) {
            size_t k = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;
            memcpy(t->wbuf + off, iov[i].iov_base, k);
            off += k;
        }
    }
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(t->ssl, copied ? t->wbuf : iov[0].iov_base, (int)len);
    int eno = errno;
    if (rc > 0) {
        t->wpend = 0;
        return rc;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->wpend = len; /* retried with the same length, as OpenSSL requires */
        t->wpend_copied = copied;
        ERR_clear_error();
        errno = EAGAIN;
        return -1;
    }
    describe(c, t, e, eno);
    errno = e == SSL_ERROR_SYSCALL && eno ? eno : EPROTO;
    return -1;
}

static short tls_events(const kp_conn_t *c, short framing_wants) {
    const tls_conn_t *t = c->tr_state;
    if (!t || !t->ssl)
        return framing_wants;
    if (t->handshaking)
        return t->want;
    return (short)(framing_wants | (t->read_wants_write ? POLLOUT : 0));
}

static short tls_ready(const kp_conn_t *c, short revents) {
    const tls_conn_t *t = c->tr_state;
    if (t && t->read_wants_write && (revents & POLLOUT))
        revents |= POLLIN;
    return revents;
}

static size_t tls_pending(const kp_conn_t *c) {
    const tls_conn_t *t = c->tr_state;
    return t && t->ssl ? (size_t)SSL_pending(t->ssl) : 0;
}

static const char *tls_failure(kp_conn_t *c, int errnum, kp_err_t *err) {
    tls_conn_t *t = c->tr_state;
    (void)errnum;
    if (!t || !t->why[0])
        return NULL;
    *err = t->err;
    return t->why;
}

static void tls_close(kp_conn_t *c, int final) {
    tls_conn_t *t = c->tr_state;
    if (!t)
        return;
    SSL_free(t->ssl); /* (no close_notify: the socket closes next) */
    t->ssl = NULL;
    t->handshaking = t->read_wants_write = 0;
    t->wpend = 0;
    t->why[0] = 0;
    if (final) {
        OPENSSL_cleanse(t->wbuf, sizeof(t->wbuf));
        free(t);
        c->tr_state = NULL;
    }
}

static const kp_transport_ops_t tls_transport = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .events = tls_events,
    .ready = tls_ready,
    .pending = tls_pending,
    .handshake = tls_handshake,
    .failure = tls_failure,
    .close = tls_close,
};

const kp_transport_ops_t *kp_tls_transport(void) { return &tls_transport; }

#endif /* KPROD_WITH_OPENSSL */

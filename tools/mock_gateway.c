/*
 * mock_gateway.c — kprod-mock's secured listeners.
 *
 * librdkafka's mock cluster speaks PLAINTEXT only: no TLS, no SASL. Users
 * who want to try a secured configuration (and tests that must prove one
 * against clients we did not write) need a cluster that asks for both, so
 * kprod-mock puts this gateway in front of each mock broker:
 *
 *     client ──TLS?──SASL?──▶ gateway (127.0.0.1:G_i) ──plain──▶ mock broker i
 *
 * and makes each mock broker advertise its gateway's address in Metadata
 * (rd_kafka_mock_broker_set_host_port), so clients that follow Metadata stay
 * on secured ports. What the gateway does, per connection:
 *
 *   TLS       An OpenSSL server (TLS 1.2 or 1.3) with the given certificate
 *             chain and key; with a CA file, client certificates are required
 *             and verified against it (mutual TLS). A failed handshake is
 *             logged with OpenSSL's reason and the connection closed.
 *
 *   Framing   Kafka's: a 4-byte big-endian size, then the request. Client
 *             requests are read whole; the gateway looks at the header
 *             (api key, version, correlation id) of each.
 *
 *   ApiVersions (18)
 *             Answered by the gateway in the version asked (v0..v3; v3 is
 *             flexible, its response header is still v0 as Kafka's). The
 *             list is what the mock offers (asked once at start, at v0) with
 *             SaslHandshake (17) v0..1 and SaslAuthenticate (36) v0..2 added
 *             and ApiVersions as the gateway's 0..3. A version above 3 gets
 *             UNSUPPORTED_VERSION in the v0 form listing ApiVersions 0..3
 *             (KIP-511), as Kafka does, and the client asks again lower.
 *
 *   SASL      As Kafka's SaslServerAuthenticator. Before authentication only
 *             ApiVersions and SaslHandshake are allowed; anything else closes
 *             the connection (as Kafka). SaslHandshake v1 is followed by
 *             SaslAuthenticate requests (v0..2) carrying the mechanism's
 *             bytes; SaslHandshake v0 (kafka-python) by raw size-prefixed
 *             tokens. A mechanism the gateway lacks: UNSUPPORTED_SASL_MECHANISM
 *             (33) with the gateway's list, then close. A failed
 *             authentication: SaslAuthenticate answered SASL_AUTHENTICATION_
 *             FAILED (58) with a message, then close; under v0 framing Kafka
 *             has no way to say it and closes, and so does the gateway. Each
 *             close after a refusal waits Kafka's default
 *             connection.failed.authentication.delay.ms (100 ms) so the
 *             client reads the refusal first. The session lifetime given is
 *             0 unless --sasl-session-lifetime-ms sets it (KIP-368): then a
 *             SaslHandshake after authentication starts a re-authentication
 *             (logged "re-authenticated as"), and a request after the
 *             session ended closes the connection, as Kafka does; with 0, a
 *             SaslHandshake after authentication closes the connection; on a
 *             listener without SASL it is answered ILLEGAL_SASL_STATE, as
 *             Kafka's KafkaApis.
 *             Every refusal is logged on stderr with its reason.
 *     PLAIN          RFC 4616: authzid empty or the user name, the password
 *                    compared in constant time.
 *     SCRAM-SHA-256/512
 *                    RFC 5802/7677 server side. At start each user gets a
 *                    random salt (RAND_bytes), SaltedPassword from
 *                    PKCS5_PBKDF2_HMAC at 4096 iterations, and only StoredKey
 *                    and ServerKey are kept. The client's proof is checked
 *                    against StoredKey; server-final is "v=" ServerSignature.
 *                    The final message's nonce must end with the combined
 *                    nonce, as Kafka's ScramSaslServer checks it since 3.8.1
 *                    (endsWith): librdkafka before 2.6.1 (Debian's 2.0.2,
 *                    kcat's) sends its client nonce again in front of the
 *                    combined one.
 *     OAUTHBEARER    RFC 7628 with Java's unsecured JWS tokens (alg "none",
 *                    empty signature): "sub" must be a non-empty string and
 *                    "exp" a time in the future (JSON read with jansson). A
 *                    bad token gets RFC 7628's error challenge
 *                    {"status":"invalid_token"}, then fails after the
 *                    client's %x01, as Kafka's OAuthBearerSaslServer.
 *
 *   Passing   After authentication (or at once without SASL), requests go to
 *             the mock broker as they came, on a plain connection of their
 *             own, and its responses come back unchanged. A request the
 *             gateway answers itself after requests were passed on (a second
 *             ApiVersions, a SaslHandshake on a listener without SASL) must
 *             not overtake their responses: the gateway sends the mock an
 *             ApiVersions v0 with the same correlation id as a placeholder
 *             and, when the mock's answer to it comes back in turn, sends
 *             its own answer instead.
 *
 * Threads: one per listener (accept) and one per connection, which polls its
 * two sockets and a stop pipe shared by all. Sockets are non-blocking; a
 * write waits (poll) until it is done or the gateway stops. mg_stop() writes
 * the stop pipe and joins every thread. Passwords are never logged: failures
 * name the user and the reason only.
 */
#include "mock_gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Kafka API keys and error codes the gateway speaks. */
#define API_SASL_HANDSHAKE 17
#define API_API_VERSIONS 18
#define API_SASL_AUTHENTICATE 36

#define ERR_UNSUPPORTED_SASL_MECHANISM 33
#define ERR_ILLEGAL_SASL_STATE 34
#define ERR_UNSUPPORTED_VERSION 35
#define ERR_SASL_AUTHENTICATION_FAILED 58

#define APIVERSIONS_MAX 3 /* the gateway's ApiVersions range is 0..3 */
#define SCRAM_ITERATIONS 4096
#define SCRAM_SALT_LEN 24
#define MAX_FRAME (256u * 1024 * 1024) /* bigger than any fetch a client asks */
#define HANDSHAKE_TIMEOUT_MS 10000
#define FAILED_AUTH_DELAY_MS 100 /* Kafka's connection.failed.authentication.delay.ms */
#define READ_CHUNK 65536
#define CLIENT_ID "kprod-mock-gateway"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
    size_t need = b->len + more, cap = b->cap ? b->cap : 256;
    unsigned char *q;

    if (need < b->len)
        return -1;
    while (cap < need)
        cap *= 2;
    if (cap == b->cap)
        return 0;
    q = realloc(b->p, cap);
    if (!q)
        return -1;
    b->p = q;
    b->cap = cap;
    return 0;
}

/* Appends. Running out of memory in a dev tool's message builder aborts
 * (with a message) rather than thread a failure through every builder. */
static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0) {
        fputs("kprod-mock: out of memory\n", stderr);
        abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void put_i8(struct buf *b, int v)
{
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}

static void put_i16(struct buf *b, int v)
{
    unsigned char c[2] = {(unsigned char)((unsigned)v >> 8), (unsigned char)v};
    buf_put(b, c, 2);
}

static void put_i32(struct buf *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    unsigned char c[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 8), (unsigned char)u};
    buf_put(b, c, 4);
}

static void put_i64(struct buf *b, int64_t v)
{
    put_i32(b, (int32_t)((uint64_t)v >> 32));
    put_i32(b, (int32_t)(uint32_t)v);
}

static void put_uvarint(struct buf *b, uint32_t v)
{
    while (v >= 0x80) {
        put_i8(b, (int)((v & 0x7f) | 0x80));
        v >>= 7;
    }
    put_i8(b, (int)v);
}

/* A STRING (int16 length) or, flexible, a COMPACT_STRING; NULL is null. */
static void put_str(struct buf *b, const char *s, int flexible)
{
    size_t n = s ? strlen(s) : 0;

    if (flexible)
        put_uvarint(b, s ? (uint32_t)n + 1 : 0);
    else
        put_i16(b, s ? (int)n : -1);
    buf_put(b, s, n);
}

static void put_bytes(struct buf *b, const void *p, size_t n, int flexible)
{
    if (flexible)
        put_uvarint(b, (uint32_t)n + 1);
    else
        put_i32(b, (int32_t)n);
    buf_put(b, p, n);
}

/* Write the frame size over the 4 bytes reserved at the start of b. */
static void finish_frame(struct buf *b)
{
    uint32_t n = (uint32_t)(b->len - 4);
    b->p[0] = (unsigned char)(n >> 24);
    b->p[1] = (unsigned char)(n >> 16);
    b->p[2] = (unsigned char)(n >> 8);
    b->p[3] = (unsigned char)n;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int16_t get_i16(const unsigned char *p)
{
    return (int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* A reader over one request; any overrun sets bad. */
struct rd {
    const unsigned char *p;
    size_t len, off;
    int bad;
};

static const unsigned char *rd_take(struct rd *r, size_t n)
{
    const unsigned char *q;

    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    q = r->p + r->off;
    r->off += n;
    return q;
}

static int rd_i16(struct rd *r)
{
    const unsigned char *q = rd_take(r, 2);
    return q ? get_i16(q) : 0;
}

static int32_t rd_i32(struct rd *r)
{
    const unsigned char *q = rd_take(r, 4);
    return q ? (int32_t)get_u32(q) : 0;
}

static uint32_t rd_uvarint(struct rd *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const unsigned char *q = rd_take(r, 1);
        if (!q)
            return 0;
        v |= (uint32_t)(*q & 0x7f) << shift;
        if (!(*q & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static void rd_skip_tags(struct rd *r)
{
    uint32_t n = rd_uvarint(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        (void)rd_uvarint(r); /* tag */
        (void)rd_take(r, rd_uvarint(r));
    }
}

/* A STRING or COMPACT_STRING; *len = -1 for null. */
static const unsigned char *rd_str(struct rd *r, int flexible, int *len)
{
    long n = flexible ? (long)rd_uvarint(r) - 1 : rd_i16(r);
    if (n < 0 || r->bad) {
        *len = -1;
        return NULL;
    }
    *len = (int)n;
    return rd_take(r, (size_t)n);
}

static const unsigned char *rd_bytes(struct rd *r, int flexible, size_t *len)
{
    long long n = flexible ? (long long)rd_uvarint(r) - 1 : (long long)rd_i32(r);
    if (n < 0 || r->bad) {
        r->bad = 1;
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return rd_take(r, (size_t)n);
}

/* Base64 (RFC 4648 with padding) of n bytes into a new string. */
static char *b64_encode(const unsigned char *p, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    if (s)
        EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

/* Decode standard base64 with padding; returns the length or -1. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t outcap)
{
    size_t pad = 0;
    int len;

    if (n == 0)
        return 0;
    if (n % 4 != 0 || (n / 4) * 3 > outcap)
        return -1;
    if (s[n - 1] == '=')
        pad++;
    if (s[n - 2] == '=')
        pad++;
    len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0)
        return -1;
    return len - (int)pad;
}

/* Decode base64url without padding (JWS parts) into a new buffer. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    size_t padded = (n + 3) / 4 * 4;
    char *t = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    int len;

    if (!t || !out || n % 4 == 1) {
        free(t);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    for (size_t i = n; i < padded; i++)
        t[i] = '=';
    t[padded] = '\0';
    len = b64_decode(t, padded, out, padded / 4 * 3);
    free(t);
    if (len < 0) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *outlen = (size_t)len;
    return out;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* OpenSSL's first queued error as text (and the queue cleared). */
static void ssl_reason(char *out, size_t n)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(out, n, "connection closed or reset during the TLS handshake");
    else
        ERR_error_string_n(e, out, n);
    ERR_clear_error();
}

/* ------------------------------------------------------------------------ */
/* The gateway's state                                                      */

struct scram_keys {
    unsigned char salt[SCRAM_SALT_LEN];
    unsigned char stored_key[EVP_MAX_MD_SIZE];
    unsigned char server_key[EVP_MAX_MD_SIZE];
};

struct user {
    char *name;
    char *password; /* PLAIN compares it; SCRAM uses only the derived keys */
    size_t password_len;
    struct scram_keys scram256, scram512;
};

struct api_range {
    int key, min, max;
};

struct conn;

struct listener {
    struct mg_gateway *gw;
    int index; /* broker id - 1 */
    int fd;
    int port;
    int upstream_port;
    pthread_t thread;
    int started;
    struct conn *conns; /* owned and joined by this listener's thread */
};

struct mg_gateway {
    char *prog;
    int tls, mtls;
    unsigned mechanisms;
    int verbose;
    int64_t session_lifetime_ms; /* KIP-368; 0: none */
    SSL_CTX *ssl_ctx;
    struct user *users;
    size_t user_count;
    struct api_range *apis;
    size_t api_count;
    int stop_pipe[2];
    struct listener *listeners;
    int count;
};

static const struct {
    unsigned bit;
    const char *name;
} mechanisms[] = {
    {MG_MECH_PLAIN, "PLAIN"},
    {MG_MECH_SCRAM_SHA_256, "SCRAM-SHA-256"},
    {MG_MECH_SCRAM_SHA_512, "SCRAM-SHA-512"},
    {MG_MECH_OAUTHBEARER, "OAUTHBEARER"},
};

unsigned mg_mechanism_bit(const char *name)
{
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++)
        if (strcmp(name, mechanisms[i].name) == 0)
            return mechanisms[i].bit;
    return 0;
}

const char *mg_mechanism_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++)
        if (mechanisms[i].bit == bit)
            return mechanisms[i].name;
    return NULL;
}

/* "PLAIN, SCRAM-SHA-512": the enabled mechanisms, for messages. */
static void mechanism_list(unsigned bits, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++) {
        if (!(bits & mechanisms[i].bit))
            continue;
        int w = snprintf(out + off, n - off, "%s%s", off ? ", " : "", mechanisms[i].name);
        if (w < 0 || (size_t)w >= n - off)
            return;
        off += (size_t)w;
    }
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

enum conn_state {
    ST_HANDSHAKE,   /* SASL: before SaslHandshake (ApiVersions allowed) */
    ST_AUTH_KAFKA,  /* SaslHandshake v1 done: SaslAuthenticate requests */
    ST_AUTH_LEGACY, /* SaslHandshake v0 done: raw size-prefixed tokens */
    ST_OPEN,        /* authenticated, or no SASL: requests are passed on */
};

/* A mechanism's answer to one client message. */
enum step_result { STEP_CONTINUE, STEP_DONE, STEP_FAIL };

struct pending {  /* a local answer waiting for its placeholder's response */
    int32_t corr; /* correlation id of the placeholder */
    struct buf frame;
};

struct conn {
    struct listener *l;
    struct conn *next;
    pthread_t thread;
    atomic_int done;
    int fd;
    SSL *ssl;
    int up_fd; /* -1 until the first request is passed on */
    char peer[64];
    enum conn_state state;
    struct buf in, up_in;
    struct pending *pend;
    size_t npend;
    /* SASL */
    unsigned mech;
    int step;
    const struct user *user;
    char *principal;
    char *client_first_bare, *server_first, *nonce, *gs2_header;
    char *oauth_error; /* the reason, after the error challenge was sent */
    int failure_logged;
    int64_t session_end; /* KIP-368: requests after this close the connection; 0: never */
    int authentications; /* how many succeeded on this connection */
};

static void gw_log(const struct mg_gateway *gw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void gw_log(const struct mg_gateway *gw, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "%s: ", gw->prog);

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one call: lines of threads do not mix */
}

#define CLOG(c, ...) conn_log((c), __VA_ARGS__)

static void conn_log(const struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void conn_log(const struct conn *c, const char *fmt, ...)
{
    char msg[800];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw_log(c->l->gw, "broker %d gateway (port %d), client %s: %s", c->l->index + 1, c->l->port,
           c->peer, msg);
}

/* Wait until fd is ready for events or the gateway stops. Returns 0 when
 * ready, -1 on stop, error or timeout (timeout_ms < 0: none). */
static int wait_fd(struct conn *c, int fd, short events, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = c->l->gw->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int r = poll(p, 2, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || p[1].revents)
            return -1;
        return 0;
    }
}

/* Read from the client: >0 bytes, 0 nothing now, -1 closed or failed. */
static ssize_t client_read(struct conn *c, void *p, size_t n)
{
    if (c->ssl) {
        int r;
        ERR_clear_error();
        r = SSL_read(c->ssl, p, (int)n);
        if (r > 0)
            return r;
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            return 0;
        case SSL_ERROR_WANT_WRITE:
            return wait_fd(c, c->fd, POLLOUT, -1) == 0 ? 0 : -1;
        case SSL_ERROR_ZERO_RETURN:
            return -1;
        default: {
            char why[256];
            ssl_reason(why, sizeof why);
            if (c->l->gw->verbose)
                CLOG(c, "TLS read: %s", why);
            return -1;
        }
        }
    }
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0)
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

static int client_write(struct conn *c, const void *p, size_t n)
{
    const unsigned char *q = p;

    while (n > 0) {
        if (c->ssl) {
            int r;
            ERR_clear_error();
            r = SSL_write(c->ssl, q, (int)(n > INT32_MAX ? INT32_MAX : n));
            if (r > 0) {
                q += r;
                n -= (size_t)r;
                continue;
            }
            switch (SSL_get_error(c->ssl, r)) {
            case SSL_ERROR_WANT_WRITE:
                if (wait_fd(c, c->fd, POLLOUT, -1) != 0)
                    return -1;
                break;
            case SSL_ERROR_WANT_READ:
                if (wait_fd(c, c->fd, POLLIN, -1) != 0)
                    return -1;
                break;
            default:
                ERR_clear_error();
                return -1;
            }
        } else {
            ssize_t r = send(c->fd, q, n, MSG_NOSIGNAL);
            if (r > 0) {
                q += r;
                n -= (size_t)r;
            } else if (r < 0 && errno == EINTR) {
                continue;
            } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (wait_fd(c, c->fd, POLLOUT, -1) != 0)
                    return -1;
            } else {
                return -1;
            }
        }
    }
    return 0;
}

static int up_write(struct conn *c, const void *p, size_t n)
{
    const unsigned char *q = p;

    while (n > 0) {
        ssize_t r = send(c->up_fd, q, n, MSG_NOSIGNAL);
        if (r > 0) {
            q += r;
            n -= (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, c->up_fd, POLLOUT, -1) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* A blocking connection to 127.0.0.1:port (made non-blocking after). */
static int connect_local(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int up_open(struct conn *c)
{
    if (c->up_fd >= 0)
        return 0;
    c->up_fd = connect_local(c->l->upstream_port);
    if (c->up_fd < 0 || set_nonblocking(c->up_fd) != 0) {
        CLOG(c, "cannot connect to mock broker 127.0.0.1:%d: %s", c->l->upstream_port,
             strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */

/* Start a response frame: size placeholder, correlation id, and the tagged
 * fields of response header v1 when flexible_header. */
static void resp_begin(struct buf *b, int32_t corr, int flexible_header)
{
    b->len = 0;
    put_i32(b, 0);
    put_i32(b, corr);
    if (flexible_header)
        put_uvarint(b, 0);
}

static void build_api_versions(const struct mg_gateway *gw, struct buf *b, int32_t corr,
                               int version)
{
    resp_begin(b, corr, 0); /* ApiVersions responses keep header v0 */
    if (version > APIVERSIONS_MAX) {
        put_i16(b, ERR_UNSUPPORTED_VERSION);
        put_i32(b, 1);
        put_i16(b, API_API_VERSIONS);
        put_i16(b, 0);
        put_i16(b, APIVERSIONS_MAX);
        finish_frame(b);
        return;
    }
    put_i16(b, 0);
    if (version >= 3)
        put_uvarint(b, (uint32_t)gw->api_count + 1);
    else
        put_i32(b, (int32_t)gw->api_count);
    for (size_t i = 0; i < gw->api_count; i++) {
        put_i16(b, gw->apis[i].key);
        put_i16(b, gw->apis[i].min);
        put_i16(b, gw->apis[i].max);
        if (version >= 3)
            put_uvarint(b, 0);
    }
    if (version >= 1)
        put_i32(b, 0); /* throttle_time_ms */
    if (version >= 3)
        put_uvarint(b, 0);
    finish_frame(b);
}

static void build_handshake(const struct mg_gateway *gw, struct buf *b, int32_t corr, int err)
{
    int n = 0;

    resp_begin(b, corr, 0);
    put_i16(b, err);
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++)
        n += (gw->mechanisms & mechanisms[i].bit) != 0;
    put_i32(b, n);
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++)
        if (gw->mechanisms & mechanisms[i].bit)
            put_str(b, mechanisms[i].name, 0);
    finish_frame(b);
}

static void build_authenticate(struct buf *b, int32_t corr, int version, int err,
                               const char *msg, const struct buf *token, int64_t lifetime_ms)
{
    int flex = version >= 2;

    resp_begin(b, corr, flex);
    put_i16(b, err);
    put_str(b, msg, flex);
    put_bytes(b, token ? token->p : NULL, token ? token->len : 0, flex);
    if (version >= 1)
        put_i64(b, lifetime_ms); /* session_lifetime_ms (KIP-368) */
    if (flex)
        put_uvarint(b, 0);
    finish_frame(b);
}

/* Send a locally built response in its place among the responses of
 * requests already passed on (see the file comment). Takes frame over. */
static int answer(struct conn *c, int32_t corr, struct buf *frame)
{
    struct buf req = {0};
    struct pending *p;
    int r;

    if (c->up_fd < 0) {
        r = client_write(c, frame->p, frame->len);
        buf_free(frame);
        return r;
    }
    /* Placeholder: ApiVersions v0 with the client's correlation id. */
    put_i32(&req, 0);
    put_i16(&req, API_API_VERSIONS);
    put_i16(&req, 0);
    put_i32(&req, corr);
    put_str(&req, CLIENT_ID, 0);
    finish_frame(&req);
    r = up_write(c, req.p, req.len);
    buf_free(&req);
    if (r != 0) {
        buf_free(frame);
        return -1;
    }
    p = realloc(c->pend, (c->npend + 1) * sizeof *c->pend);
    if (!p) {
        buf_free(frame);
        return -1;
    }
    c->pend = p;
    c->pend[c->npend].corr = corr;
    c->pend[c->npend].frame = *frame;
    c->npend++;
    *frame = (struct buf){0};
    return 0;
}

/* After refusing a client, close as Kafka does: not at once but after
 * connection.failed.authentication.delay.ms (KIP-306), so the client reads
 * the refusal before it sees the connection end (kafka-python drops what it
 * read together with the end). Returns -1: the caller closes. */
static int refuse(struct conn *c)
{
    (void)wait_fd(c, c->fd, POLLIN, FAILED_AUTH_DELAY_MS);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* SASL mechanisms, server side                                             */

static void log_auth_ok(struct conn *c)
{
    CLOG(c, "%s as '%s' with %s", c->authentications++ ? "re-authenticated" : "authenticated",
         c->principal ? c->principal : "?", mg_mechanism_name(c->mech));
}

/* A new exchange on an authenticated connection (KIP-368): forget the
 * last one's mechanism state. */
static void sasl_reset(struct conn *c)
{
    free(c->principal);
    free(c->client_first_bare);
    free(c->server_first);
    free(c->nonce);
    free(c->gs2_header);
    free(c->oauth_error);
    c->principal = c->client_first_bare = c->server_first = c->nonce = c->gs2_header = NULL;
    c->oauth_error = NULL;
    c->user = NULL;
    c->step = 0;
    c->failure_logged = 0;
}

static void log_auth_fail(struct conn *c, const char *why)
{
    if (c->failure_logged)
        return;
    c->failure_logged = 1;
    CLOG(c, "SASL_AUTHENTICATION_FAILED (58): %s%s%s: %s", mg_mechanism_name(c->mech),
         c->principal ? ", user " : "", c->principal ? c->principal : "", why);
}

static const char *const scram_fail_fmt =
    "Authentication failed during authentication due to invalid credentials with SASL "
    "mechanism %s";

static const struct user *find_user(const struct mg_gateway *gw, const char *name, size_t len)
{
    for (size_t i = 0; i < gw->user_count; i++)
        if (strlen(gw->users[i].name) == len && memcmp(gw->users[i].name, name, len) == 0)
            return &gw->users[i];
    return NULL;
}

static void set_str(char **dst, const char *s, size_t n)
{
    free(*dst);
    *dst = malloc(n + 1);
    if (!*dst) {
        fputs("kprod-mock: out of memory\n", stderr);
        abort();
    }
    memcpy(*dst, s, n);
    (*dst)[n] = '\0';
}

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static enum step_result plain_step(struct conn *c, const unsigned char *tok, size_t n,
                                   char *msg, size_t msgn, char *why, size_t whyn)
{
    const unsigned char *z1 = memchr(tok, 0, n), *z2;
    const unsigned char *user, *pass;
    size_t ulen, plen;
    const struct user *u;

    z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - tok)) : NULL;
    if (!z1 || !z2 || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - tok))) {
        snprintf(msg, msgn, "Invalid SASL/PLAIN response: expected 3 tokens");
        snprintf(why, whyn, "malformed PLAIN message");
        return STEP_FAIL;
    }
    user = z1 + 1;
    ulen = (size_t)(z2 - user);
    pass = z2 + 1;
    plen = n - (size_t)(pass - tok);
    if (ulen == 0) {
        snprintf(msg, msgn, "Authentication failed: username not specified");
        snprintf(why, whyn, "no user name");
        return STEP_FAIL;
    }
    if (plen == 0) {
        snprintf(msg, msgn, "Authentication failed: password not specified");
        snprintf(why, whyn, "no password");
        return STEP_FAIL;
    }
    set_str(&c->principal, (const char *)user, ulen);
    if (z1 != tok && ((size_t)(z1 - tok) != ulen || memcmp(tok, user, ulen) != 0)) {
        snprintf(msg, msgn,
                 "Authentication failed: Client requested an authorization id that is "
                 "different from username");
        snprintf(why, whyn, "authorization id differs from the user name");
        return STEP_FAIL;
    }
    u = find_user(c->l->gw, (const char *)user, ulen);
    if (!u || u->password_len != plen || CRYPTO_memcmp(u->password, pass, plen) != 0) {
        snprintf(msg, msgn, "Authentication failed: Invalid username or password");
        snprintf(why, whyn, u ? "wrong password" : "unknown user");
        return STEP_FAIL;
    }
    return STEP_DONE;
}

static const EVP_MD *scram_md(unsigned mech)
{
    return mech == MG_MECH_SCRAM_SHA_512 ? EVP_sha512() : EVP_sha256();
}

static const struct scram_keys *scram_keys_of(const struct user *u, unsigned mech)
{
    return mech == MG_MECH_SCRAM_SHA_512 ? &u->scram512 : &u->scram256;
}

/* Decode a SCRAM saslname (=2C is ',', =3D is '='); NULL if malformed. */
static char *scram_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            out[o++] = s[i];
        } else if (n - i >= 3 && s[i + 1] == '2' && s[i + 2] == 'C') {
            out[o++] = ',';
            i += 2;
        } else if (n - i >= 3 && s[i + 1] == '3' && s[i + 2] == 'D') {
            out[o++] = '=';
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    return out;
}

/* client-first-message: gs2-header client-first-message-bare. */
static enum step_result scram_first(struct conn *c, const char *m, size_t n, struct buf *out,
                                    char *why, size_t whyn)
{
    const char *end = m + n, *p, *bare, *name, *nonce;
    const char *comma;
    const struct user *u;
    unsigned char snonce_raw[24];
    char *snonce, *salt64, *user;
    const struct scram_keys *k;

    if (n < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',') {
        snprintf(why, whyn, "client-first-message: %s",
                 n && m[0] == 'p' ? "channel binding is not supported"
                                  : "no gs2 header 'n,'");
        return STEP_FAIL;
    }
    p = m + 2;
    comma = memchr(p, ',', (size_t)(end - p));
    if (!comma || (comma != p && strncmp(p, "a=", 2) != 0)) {
        snprintf(why, whyn, "client-first-message: malformed gs2 header");
        return STEP_FAIL;
    }
    bare = comma + 1;
    set_str(&c->gs2_header, m, (size_t)(bare - m));
    set_str(&c->client_first_bare, bare, (size_t)(end - bare));
    if (end - bare < 2 || strncmp(bare, "n=", 2) != 0) {
        snprintf(why, whyn, "client-first-message: no user name (n=)");
        return STEP_FAIL;
    }
    name = bare + 2;
    comma = memchr(name, ',', (size_t)(end - name));
    if (!comma || end - comma < 4 || strncmp(comma + 1, "r=", 2) != 0) {
        snprintf(why, whyn, "client-first-message: no nonce (r=)");
        return STEP_FAIL;
    }
    user = scram_unescape(name, (size_t)(comma - name));
    if (!user) {
        snprintf(why, whyn, "client-first-message: malformed user name");
        return STEP_FAIL;
    }
    set_str(&c->principal, user, strlen(user));
    if (m[2] == 'a') { /* "n,a=AUTHZID,": it must be the user (as Kafka) */
        const char *az = m + 4;
        size_t azlen = (size_t)(bare - 1 - az);
        if (azlen != strlen(user) || memcmp(az, user, azlen) != 0) {
            free(user);
            snprintf(why, whyn, "authorization id differs from the user name");
            return STEP_FAIL;
        }
    }
    nonce = comma + 3;
    comma = memchr(nonce, ',', (size_t)(end - nonce)); /* extensions may follow */
    if ((comma ? comma : end) == nonce) {
        free(user);
        snprintf(why, whyn, "client-first-message: empty nonce");
        return STEP_FAIL;
    }
    u = find_user(c->l->gw, user, strlen(user));
    free(user);
    if (!u) {
        snprintf(why, whyn, "unknown user");
        return STEP_FAIL;
    }
    c->user = u;
    k = scram_keys_of(u, c->mech);
    if (RAND_bytes(snonce_raw, sizeof snonce_raw) != 1) {
        snprintf(why, whyn, "RAND_bytes failed");
        return STEP_FAIL;
    }
    snonce = b64_encode(snonce_raw, sizeof snonce_raw);
    salt64 = b64_encode(k->salt, sizeof k->salt);
    if (!snonce || !salt64) {
        free(snonce);
        free(salt64);
        snprintf(why, whyn, "out of memory");
        return STEP_FAIL;
    }
    {
        size_t cn = (size_t)((comma ? comma : end) - nonce);
        struct buf s = {0};
        buf_put(&s, "r=", 2);
        buf_put(&s, nonce, cn);
        buf_put(&s, snonce, strlen(snonce));
        set_str(&c->nonce, (const char *)s.p + 2, s.len - 2);
        buf_put(&s, ",s=", 3);
        buf_put(&s, salt64, strlen(salt64));
        char iter[32];
        int w = snprintf(iter, sizeof iter, ",i=%d", SCRAM_ITERATIONS);
        buf_put(&s, iter, (size_t)w);
        set_str(&c->server_first, (const char *)s.p, s.len);
        out->len = 0;
        buf_put(out, s.p, s.len);
        buf_free(&s);
    }
    free(snonce);
    free(salt64);
    return STEP_CONTINUE;
}

/* client-final-message: c=... ,r=... [,ext] ,p=proof. */
static enum step_result scram_final(struct conn *c, const char *m, size_t n, struct buf *out,
                                    char *why, size_t whyn)
{
    const EVP_MD *md = scram_md(c->mech);
    const struct scram_keys *k = scram_keys_of(c->user, c->mech);
    size_t dlen = (size_t)EVP_MD_get_size(md);
    const char *end = m + n, *p, *proof64 = NULL;
    char *cbind = b64_encode((const unsigned char *)c->gs2_header, strlen(c->gs2_header));
    unsigned char proof[EVP_MAX_MD_SIZE * 2], sig[EVP_MAX_MD_SIZE], key[EVP_MAX_MD_SIZE],
        stored[EVP_MAX_MD_SIZE], ssig[EVP_MAX_MD_SIZE];
    unsigned int l;
    struct buf auth = {0};
    int plen, ok;
    char *v64;

    if (!cbind) {
        snprintf(why, whyn, "out of memory");
        return STEP_FAIL;
    }
    /* c= must be base64 of our gs2 header */
    ok = n > 2 && strncmp(m, "c=", 2) == 0 && (size_t)(end - m - 2) > strlen(cbind) &&
         strncmp(m + 2, cbind, strlen(cbind)) == 0 && m[2 + strlen(cbind)] == ',';
    p = ok ? m + 3 + strlen(cbind) : NULL;
    free(cbind);
    if (!ok) {
        snprintf(why, whyn, "client-final-message: channel binding does not match the gs2 header");
        return STEP_FAIL;
    }
    /* r= must be our combined nonce. As Kafka's ScramSaslServer since 3.8.1
     * (endsWith), a longer value ending with it passes: librdkafka before
     * 2.6.1 (Debian's 2.0.2, kcat's) sends its client nonce again in front. */
    {
        const char *r = p + 2, *rend = memchr(p, ',', (size_t)(end - p));
        size_t nl = strlen(c->nonce);
        if (strncmp(p, "r=", 2) != 0 || !rend || (size_t)(rend - r) < nl ||
            memcmp(rend - nl, c->nonce, nl) != 0) {
            snprintf(why, whyn, "client-final-message: the nonce is not the one given");
            return STEP_FAIL;
        }
    }
    for (const char *q = end - 3; q >= p; q--) { /* the proof is the last attribute */
        if (strncmp(q, ",p=", 3) == 0) {
            proof64 = q + 3;
            break;
        }
    }
    if (!proof64) {
        snprintf(why, whyn, "client-final-message: no proof (p=)");
        return STEP_FAIL;
    }
    plen = b64_decode(proof64, (size_t)(end - proof64), proof, sizeof proof);
    if (plen != (int)dlen) {
        snprintf(why, whyn, "client-final-message: malformed proof");
        return STEP_FAIL;
    }
    /* AuthMessage = client-first-bare "," server-first "," final-without-proof */
    buf_put(&auth, c->client_first_bare, strlen(c->client_first_bare));
    buf_put(&auth, ",", 1);
    buf_put(&auth, c->server_first, strlen(c->server_first));
    buf_put(&auth, ",", 1);
    buf_put(&auth, m, (size_t)(proof64 - 3 - m));
    if (!HMAC(md, k->stored_key, (int)dlen, auth.p, auth.len, sig, &l)) {
        buf_free(&auth);
        snprintf(why, whyn, "HMAC failed");
        return STEP_FAIL;
    }
    for (size_t i = 0; i < dlen; i++)
        key[i] = proof[i] ^ sig[i]; /* ClientKey = proof XOR ClientSignature */
    ok = EVP_Digest(key, dlen, stored, NULL, md, NULL) == 1 &&
         CRYPTO_memcmp(stored, k->stored_key, dlen) == 0;
    OPENSSL_cleanse(key, sizeof key);
    if (!ok) {
        buf_free(&auth);
        snprintf(why, whyn, "the client's proof does not match (wrong password)");
        return STEP_FAIL;
    }
    ok = HMAC(md, k->server_key, (int)dlen, auth.p, auth.len, ssig, &l) != NULL;
    buf_free(&auth);
    v64 = ok ? b64_encode(ssig, dlen) : NULL;
    if (!v64) {
        snprintf(why, whyn, "HMAC failed");
        return STEP_FAIL;
    }
    out->len = 0;
    buf_put(out, "v=", 2);
    buf_put(out, v64, strlen(v64));
    free(v64);
    return STEP_DONE;
}

/* Java's unsecured JWS: header.payload. with alg none; sub and exp checked.
 * Returns 0 and sets the principal, or -1 with why. */
static int check_unsecured_jws(struct conn *c, const char *tok, size_t n, char *why, size_t whyn)
{
    const char *d1 = memchr(tok, '.', n), *d2;
    unsigned char *hdr = NULL, *pay = NULL;
    size_t hlen, plen;
    json_t *h = NULL, *pl = NULL, *v;
    json_error_t je;
    int rc = -1;

    d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2) {
        snprintf(why, whyn, "the token is not a compact JWS (header.payload.signature)");
        return -1;
    }
    if (d2 + 1 != tok + n) {
        snprintf(why, whyn, "the token is signed: only unsecured tokens (alg none) are accepted");
        return -1;
    }
    hdr = b64url_decode(tok, (size_t)(d1 - tok), &hlen);
    pay = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &plen);
    if (!hdr || !pay) {
        snprintf(why, whyn, "the token's header or payload is not base64url");
        goto out;
    }
    h = json_loadb((const char *)hdr, hlen, 0, &je);
    pl = json_loadb((const char *)pay, plen, 0, &je);
    if (!json_is_object(h) || !json_is_object(pl)) {
        snprintf(why, whyn, "the token's header or payload is not a JSON object");
        goto out;
    }
    v = json_object_get(h, "alg");
    if (!json_is_string(v) || strcmp(json_string_value(v), "none") != 0) {
        snprintf(why, whyn, "the token's alg is not \"none\"");
        goto out;
    }
    v = json_object_get(pl, "sub");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(why, whyn, "the token has no \"sub\" claim");
        goto out;
    }
    set_str(&c->principal, json_string_value(v), json_string_length(v));
    v = json_object_get(pl, "exp");
    if (!json_is_number(v)) {
        snprintf(why, whyn, "the token has no numeric \"exp\" claim");
        goto out;
    }
    if (json_number_value(v) <= (double)time(NULL)) {
        snprintf(why, whyn, "the token expired (exp %.0f, now %lld)", json_number_value(v),
                 (long long)time(NULL));
        goto out;
    }
    rc = 0;
out:
    json_decref(h);
    json_decref(pl);
    free(hdr);
    free(pay);
    return rc;
}

/* OAUTHBEARER (RFC 7628): gs2-header %x01 *(key=value %x01) %x01. */
static enum step_result oauth_step(struct conn *c, const unsigned char *m, size_t n,
                                   struct buf *out, char *msg, size_t msgn, char *why, size_t whyn)
{
    const char *s = (const char *)m, *end = s + n, *p, *token = NULL;
    size_t toklen = 0;

    if (c->step > 0) { /* after our error challenge the client sends %x01 */
        snprintf(msg, msgn, "Authentication failed: %s", c->oauth_error ? c->oauth_error : "invalid token");
        snprintf(why, whyn, "%s", c->oauth_error ? c->oauth_error : "invalid token");
        return STEP_FAIL;
    }
    p = memchr(s, 0x01, n);
    if (n < 3 || strncmp(s, "n,", 2) != 0 || !p) {
        snprintf(msg, msgn, "Authentication failed: malformed OAUTHBEARER client message");
        snprintf(why, whyn, "malformed OAUTHBEARER client message");
        return STEP_FAIL;
    }
    for (p = p + 1; p < end && *p != 0x01;) {
        const char *e = memchr(p, 0x01, (size_t)(end - p));
        if (!e)
            break;
        if (e - p > 5 && strncmp(p, "auth=", 5) == 0) {
            const char *v = p + 5;
            if (e - v > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
                token = v + 7;
                toklen = (size_t)(e - token);
            }
        }
        p = e + 1;
    }
    if (!token) {
        snprintf(msg, msgn, "Authentication failed: no auth=Bearer token in the client message");
        snprintf(why, whyn, "no auth=Bearer token");
        return STEP_FAIL;
    }
    if (check_unsecured_jws(c, token, toklen, why, whyn) != 0) {
        static const char challenge[] = "{\"status\":\"invalid_token\"}";
        set_str(&c->oauth_error, why, strlen(why));
        /* Logged now: a client may close instead of answering %x01
         * (kafka-python does). */
        log_auth_fail(c, why);
        out->len = 0;
        buf_put(out, challenge, sizeof challenge - 1);
        return STEP_CONTINUE;
    }
    out->len = 0;
    return STEP_DONE;
}

/* One client message of the mechanism: into out the server's answer. On
 * STEP_FAIL, msg is for the client and why (more precise) for the log. */
static enum step_result mech_step(struct conn *c, const unsigned char *tok, size_t n,
                                  struct buf *out, char *msg, size_t msgn, char *why, size_t whyn)
{
    enum step_result r;

    out->len = 0;
    why[0] = '\0';
    msg[0] = '\0';
    switch (c->mech) {
    case MG_MECH_PLAIN:
        r = plain_step(c, tok, n, msg, msgn, why, whyn);
        break;
    case MG_MECH_SCRAM_SHA_256:
    case MG_MECH_SCRAM_SHA_512:
        if (c->step == 0)
            r = scram_first(c, (const char *)tok, n, out, why, whyn);
        else if (c->step == 1)
            r = scram_final(c, (const char *)tok, n, out, why, whyn);
        else {
            snprintf(why, whyn, "SCRAM message after the exchange ended");
            r = STEP_FAIL;
        }
        if (r == STEP_FAIL)
            snprintf(msg, msgn, scram_fail_fmt, mg_mechanism_name(c->mech));
        break;
    default:
        r = oauth_step(c, tok, n, out, msg, msgn, why, whyn);
        break;
    }
    c->step++;
    return r;
}

/* ------------------------------------------------------------------------ */
/* Requests from the client                                                 */

struct req_header {
    int key, version;
    int32_t corr;
    struct rd body; /* positioned after the header */
};

static int parse_header(const unsigned char *p, size_t n, int flexible_header,
                        struct req_header *h)
{
    int cl;
    h->body = (struct rd){.p = p, .len = n};
    h->key = rd_i16(&h->body);
    h->version = rd_i16(&h->body);
    h->corr = rd_i32(&h->body);
    (void)rd_str(&h->body, 0, &cl); /* client_id: always a plain nullable string */
    if (flexible_header)
        rd_skip_tags(&h->body);
    return h->body.bad ? -1 : 0;
}

static const char *api_name(int key)
{
    switch (key) {
    case 0: return "Produce";
    case 1: return "Fetch";
    case 2: return "ListOffsets";
    case 3: return "Metadata";
    case 8: return "OffsetCommit";
    case 9: return "OffsetFetch";
    case 10: return "FindCoordinator";
    case 11: return "JoinGroup";
    case 17: return "SaslHandshake";
    case 18: return "ApiVersions";
    case 22: return "InitProducerId";
    case 36: return "SaslAuthenticate";
    default: return "request";
    }
}

/* SaslHandshake (v0..1): choose the mechanism. */
static int on_handshake(struct conn *c, struct req_header *h)
{
    struct mg_gateway *gw = c->l->gw;
    struct buf resp = {0};
    const unsigned char *name;
    int len;
    char mname[64], list[128];
    unsigned bit;

    if (h->version > 1) {
        CLOG(c, "SaslHandshake v%d is not supported (v0..1): closing", h->version);
        return -1;
    }
    name = rd_str(&h->body, 0, &len);
    if (!name || len < 0) {
        CLOG(c, "malformed SaslHandshake request: closing");
        return -1;
    }
    snprintf(mname, sizeof mname, "%.*s", len, (const char *)name);
    bit = mg_mechanism_bit(mname);
    if (!(bit & gw->mechanisms)) {
        mechanism_list(gw->mechanisms, list, sizeof list);
        CLOG(c, "UNSUPPORTED_SASL_MECHANISM (33): client asked for %s, the gateway has %s", mname,
             list);
        build_handshake(gw, &resp, h->corr, ERR_UNSUPPORTED_SASL_MECHANISM);
        answer(c, h->corr, &resp);
        return refuse(c); /* Kafka closes after the answer */
    }
    c->mech = bit;
    c->step = 0;
    c->state = h->version >= 1 ? ST_AUTH_KAFKA : ST_AUTH_LEGACY;
    build_handshake(gw, &resp, h->corr, 0);
    return answer(c, h->corr, &resp);
}

/* SaslAuthenticate (v0..2): one mechanism message. */
static int on_authenticate(struct conn *c, struct req_header *h)
{
    const unsigned char *tok;
    size_t n;
    struct buf out = {0}, resp = {0};
    char msg[256], why[256];
    enum step_result r;
    int rc;

    if (h->version > 2) {
        CLOG(c, "SaslAuthenticate v%d is not supported (v0..2): closing", h->version);
        return -1;
    }
    tok = rd_bytes(&h->body, h->version >= 2, &n);
    if (h->body.bad) {
        CLOG(c, "malformed SaslAuthenticate request: closing");
        return -1;
    }
    r = mech_step(c, tok ? tok : (const unsigned char *)"", n, &out, msg, sizeof msg, why, sizeof why);
    if (r == STEP_FAIL) {
        log_auth_fail(c, why);
        build_authenticate(&resp, h->corr, h->version, ERR_SASL_AUTHENTICATION_FAILED, msg, NULL,
                           0);
        answer(c, h->corr, &resp);
        buf_free(&out);
        return refuse(c);
    }
    int64_t lifetime = r == STEP_DONE && h->version >= 1 ? c->l->gw->session_lifetime_ms : 0;
    build_authenticate(&resp, h->corr, h->version, 0, NULL, &out, lifetime);
    buf_free(&out);
    rc = answer(c, h->corr, &resp);
    if (r == STEP_DONE) {
        c->state = ST_OPEN;
        c->session_end = lifetime > 0 ? now_ms() + lifetime : 0;
        log_auth_ok(c);
    }
    return rc;
}

/* A raw token after SaslHandshake v0. */
static int on_legacy_token(struct conn *c, const unsigned char *tok, size_t n)
{
    struct buf out = {0}, frame = {0};
    char msg[256], why[256];
    enum step_result r = mech_step(c, tok, n, &out, msg, sizeof msg, why, sizeof why);
    int rc;

    if (r == STEP_FAIL) {
        log_auth_fail(c, why);
        buf_free(&out);
        return refuse(c); /* v0 framing has no error: Kafka closes */
    }
    put_i32(&frame, (int32_t)out.len);
    buf_put(&frame, out.p, out.len);
    buf_free(&out);
    rc = client_write(c, frame.p, frame.len);
    buf_free(&frame);
    if (r == STEP_DONE) {
        c->state = ST_OPEN;
        log_auth_ok(c);
    }
    return rc;
}

/* One whole frame from the client (without its size). */
static int on_client_frame(struct conn *c, const unsigned char *p, size_t n, const unsigned char *raw)
{
    struct mg_gateway *gw = c->l->gw;
    struct req_header h;
    struct buf resp = {0};
    int key, version;

    if (c->state == ST_AUTH_LEGACY)
        return on_legacy_token(c, p, n);
    if (n < 8) {
        CLOG(c, "request too short for a Kafka request header: closing");
        return -1;
    }
    key = get_i16(p);
    version = get_i16(p + 2);

    if (key == API_API_VERSIONS) {
        if (parse_header(p, n, version >= 3, &h) != 0) {
            CLOG(c, "malformed ApiVersions request: closing");
            return -1;
        }
        build_api_versions(gw, &resp, h.corr, version);
        return answer(c, h.corr, &resp);
    }
    if (c->state == ST_OPEN) {
        if (key == API_SASL_HANDSHAKE && gw->mechanisms && gw->session_lifetime_ms > 0) {
            /* re-authentication (KIP-368), between requests */
            if (parse_header(p, n, 0, &h) != 0) {
                CLOG(c, "malformed SaslHandshake request: closing");
                return -1;
            }
            sasl_reset(c);
            c->state = ST_HANDSHAKE;
            return on_handshake(c, &h);
        }
        if (c->session_end && now_ms() > c->session_end) {
            CLOG(c, "%s after the session expired (KIP-368: no re-authentication within %lld ms): "
                    "closing, as Kafka does",
                 api_name(key), (long long)gw->session_lifetime_ms);
            return -1;
        }
        if (key == API_SASL_HANDSHAKE || key == API_SASL_AUTHENTICATE) {
            if (gw->mechanisms) {
                CLOG(c, "%s after authentication: re-authentication is not supported (the "
                        "session lifetime given was 0): closing",
                     api_name(key));
                return -1;
            }
            if (key == API_SASL_AUTHENTICATE) {
                CLOG(c, "SaslAuthenticate on a listener without SASL: closing");
                return -1;
            }
            /* as Kafka's KafkaApis on a listener without SASL */
            if (parse_header(p, n, 0, &h) != 0)
                return -1;
            build_handshake(gw, &resp, h.corr, ERR_ILLEGAL_SASL_STATE);
            return answer(c, h.corr, &resp);
        }
        if (up_open(c) != 0)
            return -1;
        return up_write(c, raw, n + 4);
    }
    if (c->state == ST_HANDSHAKE && key == API_SASL_HANDSHAKE) {
        if (parse_header(p, n, 0, &h) != 0) {
            CLOG(c, "malformed SaslHandshake request: closing");
            return -1;
        }
        return on_handshake(c, &h);
    }
    if (c->state == ST_AUTH_KAFKA && key == API_SASL_AUTHENTICATE) {
        if (parse_header(p, n, version >= 2, &h) != 0) {
            CLOG(c, "malformed SaslAuthenticate request: closing");
            return -1;
        }
        return on_authenticate(c, &h);
    }
    CLOG(c, "unexpected %s request (api key %d) %s: closing, as Kafka does", api_name(key), key,
         c->state == ST_HANDSHAKE ? "before SASL authentication" : "during SASL authentication");
    return -1;
}

/* Whole frames in b from offset 0; handler gets (payload, size, raw frame).
 * Returns -1 to close. */
static int drain_frames(struct conn *c, struct buf *b, int from_client)
{
    size_t off = 0;
    int rc = 0;

    while (b->len - off >= 4) {
        uint32_t size = get_u32(b->p + off);
        if (size > MAX_FRAME) {
            CLOG(c, "%s frame of %u bytes: not Kafka framing (a TLS or HTTP client on the "
                    "wrong port?): closing",
                 from_client ? "client" : "mock broker", size);
            return -1;
        }
        if (b->len - off - 4 < size)
            break;
        if (from_client) {
            rc = on_client_frame(c, b->p + off + 4, size, b->p + off);
        } else {
            int32_t corr = size >= 4 ? (int32_t)get_u32(b->p + off + 4) : 0;
            if (c->npend > 0 && size >= 4 && c->pend[0].corr == corr) {
                rc = client_write(c, c->pend[0].frame.p, c->pend[0].frame.len);
                buf_free(&c->pend[0].frame);
                memmove(c->pend, c->pend + 1, (c->npend - 1) * sizeof *c->pend);
                c->npend--;
            } else {
                rc = client_write(c, b->p + off, size + 4);
            }
        }
        off += 4 + (size_t)size;
        if (rc != 0)
            return -1;
    }
    if (off) {
        memmove(b->p, b->p + off, b->len - off);
        b->len -= off;
    }
    return 0;
}

static int tls_accept(struct conn *c)
{
    int64_t deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    char why[256];

    c->ssl = SSL_new(c->l->gw->ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        CLOG(c, "SSL_new failed");
        return -1;
    }
    for (;;) {
        int r, e, left;
        ERR_clear_error();
        r = SSL_accept(c->ssl);
        if (r == 1)
            break;
        e = SSL_get_error(c->ssl, r);
        left = (int)(deadline - now_ms());
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left > 0) {
            if (wait_fd(c, c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left) != 0) {
                if (now_ms() >= deadline)
                    CLOG(c, "TLS handshake timed out after %d ms", HANDSHAKE_TIMEOUT_MS);
                return -1;
            }
            continue;
        }
        ssl_reason(why, sizeof why);
        CLOG(c, "TLS handshake failed: %s%s", why,
             c->l->gw->mtls && strstr(why, "certificate") ? " (mutual TLS: the client must "
                                                             "present a certificate issued by "
                                                             "the CA given to --tls)"
                                                           : "");
        return -1;
    }
    if (c->l->gw->verbose) {
        X509 *peer = SSL_get1_peer_certificate(c->ssl);
        char subj[256] = "no client certificate";
        if (peer) {
            X509_NAME_oneline(X509_get_subject_name(peer), subj, sizeof subj);
            X509_free(peer);
        }
        CLOG(c, "TLS %s established (%s)", SSL_get_version(c->ssl), subj);
    }
    return 0;
}

static void conn_free(struct conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    if (c->up_fd >= 0)
        close(c->up_fd);
    buf_free(&c->in);
    buf_free(&c->up_in);
    for (size_t i = 0; i < c->npend; i++)
        buf_free(&c->pend[i].frame);
    free(c->pend);
    free(c->principal);
    free(c->client_first_bare);
    free(c->server_first);
    free(c->nonce);
    free(c->gs2_header);
    free(c->oauth_error);
    free(c);
}

/* Read what is there from one side into b; -1 when it closed. */
static int fill(struct conn *c, struct buf *b, int from_client)
{
    ssize_t r;

    if (buf_reserve(b, READ_CHUNK) != 0)
        return -1;
    if (from_client) {
        r = client_read(c, b->p + b->len, READ_CHUNK);
    } else {
        r = recv(c->up_fd, b->p + b->len, READ_CHUNK, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            r = 0;
        else if (r == 0)
            r = -1;
    }
    if (r < 0)
        return -1;
    b->len += (size_t)r;
    return 0;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct mg_gateway *gw = c->l->gw;

    if (gw->verbose)
        CLOG(c, "connected");
    if (gw->tls && tls_accept(c) != 0)
        goto out;
    for (;;) {
        struct pollfd p[3] = {{.fd = c->fd, .events = POLLIN},
                              {.fd = gw->stop_pipe[0], .events = POLLIN},
                              {.fd = c->up_fd, .events = POLLIN}};
        int nfds = c->up_fd >= 0 ? 3 : 2;
        int pending = c->ssl && SSL_pending(c->ssl) > 0; /* decrypted, not yet read */
        int r = poll(p, (nfds_t)nfds, pending ? 0 : -1);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || p[1].revents)
            break;
        if (pending || p[0].revents) {
            if (fill(c, &c->in, 1) != 0) {
                if (gw->verbose)
                    CLOG(c, "client closed the connection");
                break;
            }
            if (drain_frames(c, &c->in, 1) != 0)
                break;
        }
        if (nfds == 3 && p[2].revents) {
            if (fill(c, &c->up_in, 0) != 0) {
                CLOG(c, "the mock broker closed the connection");
                break;
            }
            if (drain_frames(c, &c->up_in, 0) != 0)
                break;
        }
    }
out:
    if (c->ssl && SSL_is_init_finished(c->ssl))
        SSL_shutdown(c->ssl); /* best effort: a close_notify if it fits */
    ERR_clear_error();
    atomic_store(&c->done, 1);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                */

static void reap(struct listener *l, int all)
{
    struct conn **pp = &l->conns;
    while (*pp) {
        struct conn *c = *pp;
        if (all || atomic_load(&c->done)) {
            pthread_join(c->thread, NULL);
            *pp = c->next;
            conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void *listener_main(void *arg)
{
    struct listener *l = arg;
    struct mg_gateway *gw = l->gw;

    for (;;) {
        struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
                              {.fd = gw->stop_pipe[0], .events = POLLIN}};
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        struct conn *c;
        int fd, one = 1, r;

        r = poll(p, 2, 1000);
        reap(l, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || p[1].revents)
            break;
        if (!p[0].revents)
            continue;
        fd = accept4(l->fd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->l = l;
        c->fd = fd;
        c->up_fd = -1;
        c->state = gw->mechanisms ? ST_HANDSHAKE : ST_OPEN;
        {
            char ip[INET_ADDRSTRLEN] = "?";
            inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(a.sin_port));
        }
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
            gw_log(gw, "cannot start a connection thread: %s", strerror(errno));
            conn_free(c);
            continue;
        }
        c->next = l->conns;
        l->conns = c;
    }
    reap(l, 1); /* every connection thread sees the stop pipe too */
    return NULL;
}

static int listen_local(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */

/* Ask the mock broker for its API versions (ApiVersions v0) and build the
 * gateway's list: the mock's, plus SaslHandshake 0..1 and SaslAuthenticate
 * 0..2, and ApiVersions as 0..3. */
static int fetch_api_versions(struct mg_gateway *gw, int port, char *err, size_t errlen)
{
    struct buf req = {0}, resp = {0};
    struct timeval tv = {.tv_sec = 10};
    int fd = connect_local(port), ok = 0;
    size_t want = 4;
    struct rd r;
    int32_t n;

    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to mock broker 127.0.0.1:%d: %s", port, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    put_i32(&req, 0);
    put_i16(&req, API_API_VERSIONS);
    put_i16(&req, 0);
    put_i32(&req, 1);
    put_str(&req, CLIENT_ID, 0);
    finish_frame(&req);
    if (send(fd, req.p, req.len, MSG_NOSIGNAL) != (ssize_t)req.len)
        goto out;
    while (resp.len < want) {
        ssize_t got;
        if (buf_reserve(&resp, 4096) != 0)
            goto out;
        got = recv(fd, resp.p + resp.len, 4096, 0);
        if (got <= 0)
            goto out;
        resp.len += (size_t)got;
        if (want == 4 && resp.len >= 4) {
            want = 4 + (size_t)get_u32(resp.p);
            if (want > 1u << 20)
                goto out;
        }
    }
    r = (struct rd){.p = resp.p + 4, .len = want - 4};
    (void)rd_i32(&r); /* correlation id */
    if (rd_i16(&r) != 0)
        goto out;
    n = rd_i32(&r);
    if (r.bad || n < 0 || n > 1000)
        goto out;
    gw->apis = calloc((size_t)n + 3, sizeof *gw->apis);
    if (!gw->apis)
        goto out;
    for (int32_t i = 0; i < n; i++) {
        int key = rd_i16(&r), min = rd_i16(&r), max = rd_i16(&r);
        if (key == API_SASL_HANDSHAKE || key == API_SASL_AUTHENTICATE || key == API_API_VERSIONS)
            continue;
        gw->apis[gw->api_count++] = (struct api_range){key, min, max};
    }
    if (r.bad)
        goto out;
    gw->apis[gw->api_count++] = (struct api_range){API_SASL_HANDSHAKE, 0, 1};
    gw->apis[gw->api_count++] = (struct api_range){API_API_VERSIONS, 0, APIVERSIONS_MAX};
    gw->apis[gw->api_count++] = (struct api_range){API_SASL_AUTHENTICATE, 0, 2};
    /* keep them ordered by key, as brokers list them */
    for (size_t i = 1; i < gw->api_count; i++)
        for (size_t j = i; j > 0 && gw->apis[j - 1].key > gw->apis[j].key; j--) {
            struct api_range t = gw->apis[j];
            gw->apis[j] = gw->apis[j - 1];
            gw->apis[j - 1] = t;
        }
    ok = 1;
out:
    close(fd);
    buf_free(&req);
    buf_free(&resp);
    if (!ok)
        snprintf(err, errlen, "mock broker 127.0.0.1:%d did not answer ApiVersions v0", port);
    return ok ? 0 : -1;
}

static int derive_scram(struct scram_keys *k, const EVP_MD *md, const struct user *u)
{
    unsigned char salted[EVP_MAX_MD_SIZE], client_key[EVP_MAX_MD_SIZE];
    int dlen = EVP_MD_get_size(md);
    unsigned int l;
    int ok;

    ok = RAND_bytes(k->salt, sizeof k->salt) == 1 &&
         PKCS5_PBKDF2_HMAC(u->password, (int)u->password_len, k->salt, sizeof k->salt,
                           SCRAM_ITERATIONS, md, dlen, salted) == 1 &&
         HMAC(md, salted, dlen, (const unsigned char *)"Client Key", 10, client_key, &l) &&
         EVP_Digest(client_key, (size_t)dlen, k->stored_key, NULL, md, NULL) == 1 &&
         HMAC(md, salted, dlen, (const unsigned char *)"Server Key", 10, k->server_key, &l);
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    return ok ? 0 : -1;
}

static int load_tls(struct mg_gateway *gw, const struct mg_config *cfg, char *err, size_t errlen)
{
    char why[256];
    static const unsigned char sid_ctx[] = "kprod-mock";

    gw->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!gw->ssl_ctx) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "SSL_CTX_new: %s", why);
        return -1;
    }
    SSL_CTX_set_min_proto_version(gw->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(gw->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_id_context(gw->ssl_ctx, sid_ctx, sizeof sid_ctx - 1);
    if (SSL_CTX_use_certificate_chain_file(gw->ssl_ctx, cfg->cert_file) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "--tls: cannot load the certificate '%s': %s", cfg->cert_file, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(gw->ssl_ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "--tls: cannot load the private key '%s': %s", cfg->key_file, why);
        return -1;
    }
    if (SSL_CTX_check_private_key(gw->ssl_ctx) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "--tls: the key '%s' does not match the certificate '%s': %s",
                 cfg->key_file, cfg->cert_file, why);
        return -1;
    }
    if (cfg->ca_file) {
        STACK_OF(X509_NAME) *names;
        if (SSL_CTX_load_verify_locations(gw->ssl_ctx, cfg->ca_file, NULL) != 1 ||
            !(names = SSL_load_client_CA_file(cfg->ca_file))) {
            ssl_reason(why, sizeof why);
            snprintf(err, errlen, "--tls: cannot load the CA '%s': %s", cfg->ca_file, why);
            return -1;
        }
        SSL_CTX_set_client_CA_list(gw->ssl_ctx, names);
        SSL_CTX_set_verify(gw->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        gw->mtls = 1;
    }
    gw->tls = 1;
    return 0;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void gw_free(mg_gateway_t *gw)
{
    for (size_t i = 0; i < gw->user_count; i++) {
        free(gw->users[i].name);
        if (gw->users[i].password) {
            OPENSSL_cleanse(gw->users[i].password, gw->users[i].password_len);
            free(gw->users[i].password);
        }
        OPENSSL_cleanse(&gw->users[i].scram256, sizeof gw->users[i].scram256);
        OPENSSL_cleanse(&gw->users[i].scram512, sizeof gw->users[i].scram512);
    }
    free(gw->users);
    free(gw->apis);
    for (int i = 0; i < gw->count; i++)
        if (gw->listeners[i].fd >= 0)
            close(gw->listeners[i].fd);
    free(gw->listeners);
    if (gw->stop_pipe[0] >= 0)
        close(gw->stop_pipe[0]);
    if (gw->stop_pipe[1] >= 0)
        close(gw->stop_pipe[1]);
    SSL_CTX_free(gw->ssl_ctx);
    free(gw->prog);
    free(gw);
}

mg_gateway_t *mg_start(const struct mg_config *cfg, const int *upstream_ports, int count,
                       char *err, size_t errlen)
{
    mg_gateway_t *gw = calloc(1, sizeof *gw);

    if (!gw) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    gw->stop_pipe[0] = gw->stop_pipe[1] = -1;
    gw->prog = xstrdup(cfg->prog ? cfg->prog : "kprod-mock");
    gw->mechanisms = cfg->mechanisms;
    gw->verbose = cfg->verbose;
    gw->session_lifetime_ms = cfg->session_lifetime_ms;
    if (cfg->cert_file && load_tls(gw, cfg, err, errlen) != 0)
        goto fail;
    gw->users = calloc(cfg->user_count ? cfg->user_count : 1, sizeof *gw->users);
    if (!gw->users)
        goto oom;
    for (size_t i = 0; i < cfg->user_count; i++) {
        struct user *u = &gw->users[gw->user_count++];
        u->name = xstrdup(cfg->users[i].name);
        u->password = xstrdup(cfg->users[i].password);
        if (!u->name || !u->password)
            goto oom;
        u->password_len = strlen(u->password);
        if ((gw->mechanisms & MG_MECH_SCRAM_SHA_256) && derive_scram(&u->scram256, EVP_sha256(), u) != 0)
            goto scram_fail;
        if ((gw->mechanisms & MG_MECH_SCRAM_SHA_512) && derive_scram(&u->scram512, EVP_sha512(), u) != 0)
            goto scram_fail;
    }
    if (fetch_api_versions(gw, upstream_ports[0], err, errlen) != 0)
        goto fail;
    if (pipe2(gw->stop_pipe, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    gw->listeners = calloc((size_t)count, sizeof *gw->listeners);
    if (!gw->listeners)
        goto oom;
    gw->count = count;
    for (int i = 0; i < count; i++)
        gw->listeners[i].fd = -1;
    for (int i = 0; i < count; i++) {
        struct listener *l = &gw->listeners[i];
        l->gw = gw;
        l->index = i;
        l->upstream_port = upstream_ports[i];
        l->fd = listen_local(&l->port);
        if (l->fd < 0) {
            snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(errno));
            goto fail;
        }
    }
    for (int i = 0; i < count; i++) {
        struct listener *l = &gw->listeners[i];
        if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
            snprintf(err, errlen, "cannot start a listener thread: %s", strerror(errno));
            mg_stop(gw);
            return NULL;
        }
        l->started = 1;
    }
    return gw;
scram_fail:
    snprintf(err, errlen, "cannot derive the SCRAM keys (OpenSSL)");
    goto fail;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    gw_free(gw);
    return NULL;
}

int mg_port(const mg_gateway_t *gw, int i)
{
    return gw->listeners[i].port;
}

void mg_stop(mg_gateway_t *gw)
{
    static const char one = 1;

    if (!gw)
        return;
    if (gw->stop_pipe[1] >= 0 && write(gw->stop_pipe[1], &one, 1) != 1)
        gw_log(gw, "cannot signal the gateway's threads to stop: %s", strerror(errno));
    for (int i = 0; i < gw->count; i++)
        if (gw->listeners[i].started)
            pthread_join(gw->listeners[i].thread, NULL);
    gw_free(gw);
}

/* Which file a client should trust to verify the gateway's certificate: the
 * CA file when it issued (a chain to) the certificate, else the certificate
 * itself when it is self-signed, else NULL (the caller says which CA). */
const char *mg_truststore_file(const struct mg_config *cfg)
{
    FILE *f;
    X509 *leaf = NULL, *x;
    STACK_OF(X509) *chain = sk_X509_new_null();
    const char *result = NULL;

    if (!cfg->cert_file || !chain || !(f = fopen(cfg->cert_file, "r"))) {
        sk_X509_free(chain);
        return NULL;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (!leaf)
            leaf = x;
        else if (!sk_X509_push(chain, x))
            X509_free(x);
    }
    fclose(f);
    ERR_clear_error();
    if (!leaf) {
        sk_X509_pop_free(chain, X509_free);
        return NULL;
    }
    if (cfg->ca_file) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (store && ctx && X509_STORE_load_file(store, cfg->ca_file) == 1 &&
            X509_STORE_CTX_init(ctx, store, leaf, chain) == 1 && X509_verify_cert(ctx) == 1)
            result = cfg->ca_file;
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        ERR_clear_error();
    }
    if (!result && X509_check_issued(leaf, leaf) == X509_V_OK)
        result = cfg->cert_file;
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    return result;
}

/*
 * conn — one non-blocking TCP connection to one broker: name resolution
 * (resolve.h, never blocking), connect with exponential backoff, the
 * ApiVersions handshake, framing, correlation ids
 * and the in-flight list. Owned and driven by the I/O thread only.
 *
 * Responses arrive in request order on a connection (the protocol promises
 * it), so the in-flight list is a FIFO and a response whose correlation id is
 * not the head's is a protocol violation: the connection is dropped.
 */
#ifndef KP_CONN_H
#define KP_CONN_H

#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/stat.h"
#include "net/net.h"
#include "proto/protocol.h"
#include "net/resolve.h"

/* Largest response frame accepted; a larger length is treated as garbage. */
#define KP_MAX_RESPONSE_SIZE (100 * 1024 * 1024)

typedef enum kp_conn_state {
    KP_CONN_DOWN = 0,
    KP_CONN_RESOLVING, /* its host name is being looked up (p->resolver) */
    KP_CONN_CONNECTING,
    KP_CONN_HANDSHAKE, /* its setup steps run (ApiVersions today) */
    KP_CONN_READY,
} kp_conn_state_t;

/* The bytes under the Kafka framing, behind one table: TCP (conn.c) or
 * TLS (tls.c, security.protocol=SSL). Where copies happen: TCP writes the
 * requests' iovecs as they are (sendmsg over the batch buffers, no copy);
 * TLS cannot gather, so its writev makes records of at most 16 KiB: one
 * whose bytes lie in one iovec is written from there, one gathered from
 * several iovecs is copied into a per-connection buffer first (the one
 * copy; tls.c tls_writev).
 * read/writev return the bytes moved (> 0), 0 from read when the peer
 * closed, or -1 with errno (EAGAIN: wait for `events`). After EAGAIN from
 * writev, the framing offers the same bytes again first (it has not
 * advanced), as TLS needs to retry a record. */
typedef struct kp_req kp_req_t;
typedef struct kp_batch kp_batch_t; /* the engine's; carried, never looked into */

/* A broker connection's measures (issue 15: producer-node-metrics and the
 * statistics' brokers), recorded and read on the I/O thread; set up at
 * the first connect (ready). */
typedef struct kp_node_stats {
    int ready;
    kp_stat_t latency;   /* request latency, us: written to answered (histogram) */
    kp_stat_t out_bytes; /* bytes written, per write */
    kp_stat_t in_bytes;  /* bytes read, per answer */
    kp_stat_t requests;  /* requests written */
    kp_stat_t responses; /* answers read */
    kp_stat_t queue_time; /* us a batch waited before it went to this broker (the engine's) */
    uint64_t retries;     /* batches sent to it again (the engine's) */
    uint64_t connects, disconnects;
    uint64_t timeouts;  /* requests that timed out (request.timeout.ms) */
    uint64_t failures;  /* requests failed without an answer (timeouts included) */
    int64_t state_since_ms; /* when the connection entered its state */
} kp_node_stats_t;

typedef struct kp_transport_ops {
    const char *name;
    ssize_t (*read)(kp_conn_t *c, void *buf, size_t n);
    ssize_t (*writev)(kp_conn_t *c, const struct iovec *iov, int n);
    /* the poll events the layer waits for, given what the framing wants
     * (TLS may need to read to write, or the reverse) */
    short (*events)(const kp_conn_t *c, short framing_wants);
    /* The rest may be NULL (TCP has none of them). */
    /* the poll events that came, as the framing should take them (TLS: a
     * read waiting for the socket to be writable is ready on POLLOUT) */
    short (*ready)(const kp_conn_t *c, short revents);
    /* bytes already taken from the socket, not yet read by the framing
     * (TLS: decrypted in OpenSSL's buffer): poll() cannot see them */
    size_t (*pending)(const kp_conn_t *c);
    /* the connection's first setup step, before ApiVersions (TLS: the
     * handshake), called when the socket is ready for what `events` asked:
     * 1 done, 0 not yet, -1 failed (it closed the connection, saying why) */
    int (*handshake)(kp_net_t *net, kp_conn_t *c);
    /* why the last read or writev failed (-1, errno not EAGAIN), and the
     * error to close with (*err: KP_ERR_TRANSPORT unless the layer knows
     * better); NULL: strerror(errnum) and KP_ERR_TRANSPORT */
    const char *(*failure)(kp_conn_t *c, int errnum, kp_err_t *err);
    /* the connection closes (final: it is destroyed): free the layer's
     * state, before the socket is closed */
    void (*close)(kp_conn_t *c, int final);
} kp_transport_ops_t;

/* What a request's outcome is handed to. Each request carries its own
 * (set by whoever builds it), so the connection names nobody above it and
 * nothing dispatches on the API key. */
typedef struct kp_req_ops {
    /* the answer arrived; r is positioned at its body. The request's
     * builder finds its own state in net->owner. */
    void (*response)(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r);
    /* it will never get one (connection lost, timed out, closed) */
    void (*failed)(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_err_t err);
    /* it expects no answer (acks=0) and was fully written */
    void (*written)(kp_net_t *net, kp_conn_t *c, kp_req_t *req);
} kp_req_ops_t;

struct kp_req {
    kp_req_t *next;
    const kp_req_ops_t *ops;
    int setup; /* part of the connection's setup: written before it is READY */
    int secret; /* carries a secret (SASL): zeroed when freed */
    int32_t corrid;
    int16_t api, ver;
    int expect_response;
    int64_t deadline_ms;
    kp_wbuf_t w;            /* the whole request, or the framing of a produce */
    kp_produce_builder_t pb; /* produce requests: framing + batch segments */
    int is_produce;
    struct iovec *iov;
    int niov, iov_idx;
    size_t total, written;
    kp_batch_t **batches; /* produce: the batches carried */
    int nbatches;
    /* produce: the earliest delivery deadline of a batch carried and not
     * yet abandoned (produce.c, expire_request) */
    int64_t expire_at;
    int64_t written_us; /* when fully written (request latency) */
};

struct kp_conn {
    kp_conn_t *next; /* retired list */
    int32_t node_id; /* < 0 for bootstrap servers */
    char *host;
    int32_t port;
    int fd;
    const kp_transport_ops_t *tr; /* the byte layer (set when connected) */
    void *tr_state; /* the byte layer's own (TLS: tls.c's, per connection) */
    kp_conn_state_t state;
    int step; /* the setup step running (HANDSHAKE) */
    int64_t next_connect_ms; /* backoff: no attempt before this */
    int64_t connect_deadline_ms;
    int failures;
    int want_connect; /* a partition waits for it: the sender dials it after its scan */
    int64_t last_io_ms;   /* last byte written or read (connections.max.idle.ms) */
    int64_t last_warn_ms; /* last failure logged as a warning (rate limit) */
    kp_err_t last_warn_err; /* and its error: a different one is a warning at once */
    int16_t ver[KP_API_COUNT]; /* negotiated version per API, -1 = unusable */
    /* finalized transaction.version from ApiVersions v3+ (0: none): 2+
     * means transactions v2 (KIP-890) */
    int16_t txn_version;
    kp_api_range_t range[KP_API_COUNT]; /* what the broker offered (-1/-1: not) */
    /* its last setup found it cannot be used as things are, and why:
     * KP_ERR_UNSUPPORTED_BROKER (it lacks what kprod needs: Produce >= 3,
     * Metadata >= 1), KP_ERR_SSL_HANDSHAKE (its certificate, ours, no common
     * TLS version, not a TLS listener: tls.c). It is logged, closed, and
     * while it is not READY its records fail at once with that error (the
     * engine: drain.c, sender.c); reconnects go on with backoff, and a setup
     * that reaches READY clears it. 0: usable. */
    kp_err_t unusable;
    int16_t apiv_ver;          /* ApiVersions version we try */
    int apiv_v0_tried;         /* the broker hung up on a higher one: v0 was tried */
    kp_req_t *out_head, *out_tail;   /* not yet fully written */
    kp_req_t *wait_head, *wait_tail; /* written, awaiting a response */
    int nreqs; /* requests queued or in flight that count toward max.in.flight */
    /* correlation ids of requests written that expect no answer (acks=0
     * Produce), from the oldest not yet answered: a broker that answers
     * them anyway is read and dropped */
    int32_t noanswer_lo, noanswer_hi;
    int noanswer_n;
    uint8_t szbuf[4];
    size_t szgot;
    uint8_t *rbuf;
    size_t rlen, rgot;
    /* the addresses the host resolved to, tried in turn (a failed dial
     * moves on to the next; a new lookup starts once all were tried), and
     * the lookup under way while RESOLVING */
    kp_addrs_t *addrs;
    int addr_next;
    /* SASL (auth.c): the mechanism's state while authenticating, and the
     * session lifetime the broker gave (0: none) */
    struct kp_sasl *sasl;
    int64_t session_lifetime_ms;
    /* KIP-368: when to authenticate again (0: never), and a re-authentication
     * waiting for the requests in flight to be answered */
    int64_t reauth_at;
    int reauthing;
    kp_lookup_t *lookup;
    kp_node_stats_t stats;
};

/* "broker 1 (host:port)" or "bootstrap server host:port", into buf. */
/* A connection's measures: set up (nsamples windows from conf; -1 when
 * memory runs out), freed, and a new window begun (I/O thread). */
int kp_node_stats_init(kp_node_stats_t *st, const kp_conf_t *conf, int64_t now);
void kp_node_stats_destroy(kp_node_stats_t *st);
void kp_node_stats_roll(kp_node_stats_t *st, int64_t now);

#define KP_CONN_NAME_MAX 300
const char *kp_conn_name(const kp_conn_t *c, char *buf, size_t size);

/* Every connection, known brokers first, then bootstrap servers:
 * kp_conn_at(net, 0 .. kp_conn_count(net) - 1). */
int kp_conn_count(const kp_net_t *net);
kp_conn_t *kp_conn_at(const kp_net_t *net, int i);

kp_conn_t *kp_conn_new(int32_t node_id, const char *host, int32_t port);
void kp_conn_destroy(kp_net_t *net, kp_conn_t *c);
/* Start connecting if down and the backoff allows: dial the next address
 * of the host, or, when none is left, start looking the name up
 * (RESOLVING; an IP literal needs no lookup) and dial once it resolves. */
void kp_conn_connect(kp_net_t *net, kp_conn_t *c, int64_t now);
/* Drop the connection; every request on it fails with err. */
void kp_conn_close(kp_net_t *net, kp_conn_t *c, kp_err_t err, const char *why);
/* Queue a request (takes ownership). */
void kp_conn_send(kp_net_t *net, kp_conn_t *c, kp_req_t *req);
/* poll() events wanted, and the handler for what poll() reported. */
short kp_conn_events(const kp_conn_t *c);
void kp_conn_io(kp_net_t *net, kp_conn_t *c, short revents, int64_t now);
/* Time-based work: connect and request timeouts. Returns the next deadline
 * (or INT64_MAX). */
int64_t kp_conn_timers(kp_net_t *net, kp_conn_t *c, int64_t now);
void kp_req_free(kp_req_t *req);
/* A request whose body the caller encodes into req->w (correlation id and
 * deadline set); kp_req_seal() then points its single iovec at req->w.
 * kp_req_new returns NULL, kp_req_seal -1, when memory runs out. */
kp_req_t *kp_req_new(kp_net_t *net, int16_t api, int16_t ver, int64_t now,
                     const kp_req_ops_t *ops);
int kp_req_seal(kp_req_t *req);
/* For setup steps (auth.c): seal req (built by kp_req_new and an encoder)
 * and queue it ahead of what waits for READY: 0, or -1 when req is NULL or
 * memory runs out (req freed, the connection closed); and say the current
 * step is done (the next one runs, or READY). */
int kp_conn_send_setup(kp_net_t *net, kp_conn_t *c, kp_req_t *req);
void kp_conn_setup_done(kp_net_t *net, kp_conn_t *c);

#endif

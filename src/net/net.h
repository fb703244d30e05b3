/*
 * net — the network module's state: the brokers and their connections, the
 * bootstrap connections, the resolver, and what every connection shares
 * (settings, correlation ids, the log, backoff randomness, a byte count).
 *
 * Why a struct of its own: connections used to take the whole producer, so
 * the net layer included the engine's header and every change to the
 * producer recompiled and re-coupled it. Now the engine composes one
 * kp_net_t (kp_producer_t.net), the net layer sees only this, and what goes
 * up goes through each request's kp_req_ops_t (conn.h), whose upcalls get
 * the net and find their own state in net->owner (as libuv's handle->data). Owned and touched by the I/O thread only, except tx_bytes (read
 * by anyone) and the fields set before the thread starts.
 */
#ifndef KP_NET_H
#define KP_NET_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/util.h"
#include "conf/config.h"
#include "net/auth.h"

typedef struct kp_conn kp_conn_t;
struct kp_resolver;

/* A broker the cluster told us about: its id and the connection to it
 * (which holds the host name). */
typedef struct kp_broker {
    int32_t node_id;
    int32_t port;
    kp_conn_t *conn;
} kp_broker_t;

/* A bootstrap.servers entry, kept for rebootstraps. */
typedef struct kp_seed {
    char *host;
    int32_t port;
} kp_seed_t;

typedef struct kp_net {
    const kp_conf_t *conf;      /* timeouts, socket buffers, backoff */
    const kp_logger_t *log;
    const char *client_id;      /* in every request header */
    void *owner;                /* the composer's state, for kp_req_ops_t upcalls */
    struct kp_resolver *resolver; /* host names to addresses (resolve.h) */
    struct kp_tls *tls;         /* security.protocol=SSL: the TLS context (tls.h); NULL: TCP */
    int32_t next_corrid;
    uint64_t rng;               /* backoff and timeout jitter */
    _Atomic uint64_t tx_bytes;  /* bytes written to brokers */
    kp_broker_t *brokers;       /* from metadata */
    int nbrokers, brokers_cap;
    kp_conn_t **boot;           /* bootstrap connections, until metadata is known */
    int nboot;
    int boot_next;
    int retire_boot;            /* bootstrap connections are no longer needed */
    kp_conn_t *retired;         /* connections to destroy at the top of the loop */
    kp_net_sasl_t sasl;         /* SASL_*: the mechanism and credentials (auth.h) */
    struct kp_oauth *oauth;     /* OAUTHBEARER with a token source: the refresher
                                   (oauth.h), made before the I/O thread starts */
    kp_seed_t *seeds;           /* bootstrap.servers, in order */
    int nseeds;
    int rebootstraps;           /* how many so far */
    /* the counters of connections destroyed (retired bootstrap connections,
     * a broker's old address), for the producer-wide totals (metrics) */
    struct {
        int64_t out_bytes, in_bytes;
        uint64_t requests, responses, connects, disconnects;
    } gone;
} kp_net_t;

/* Add a bootstrap server: kept, and a bootstrap connection made for it.
 * -1 when memory runs out (nothing added). */
int kp_net_add_seed(kp_net_t *net, const char *host, int32_t port);
/* Forget every known broker and bootstrap connection (closed: their
 * requests fail as on any lost connection; destroyed at the top of the I/O
 * loop) and make new bootstrap connections from the seeds, which resolve
 * their names again. -1 when memory runs out (nothing changed). */
int kp_net_rebootstrap(kp_net_t *net);
/* Close c (its requests fail: KP_ERR_TRANSPORT, why logged unless NULL)
 * and put it on the retired list: it cannot be destroyed now, we may be
 * inside its read. kp_net_reap destroys the retired ones (the top of the
 * I/O loop). */
void kp_net_retire(kp_net_t *net, kp_conn_t *c, const char *why);
void kp_net_reap(kp_net_t *net);
/* Destroy every connection and the seeds (the I/O thread has ended). */
void kp_net_free(kp_net_t *net);

#endif

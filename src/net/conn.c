/*
 * conn — a broker connection. See conn.h for the contract.
 *
 * Life: DOWN -> (backoff passed) [RESOLVING ->] CONNECTING -> HANDSHAKE
 * (the setup steps: the transport's handshake for TLS, then ApiVersions)
 * -> READY -> ... -> DOWN on any error, with
 * every queued and in-flight request
 * failed back to the sender, which decides what to retry. Reconnect backoff
 * is exponential from reconnect.backoff.ms to reconnect.backoff.max.ms with
 * +-20% jitter; each address a host resolves to is tried in turn.
 *
 * RESOLVING: the host name is looked up by the producer's resolver
 * (resolve.h) while the I/O thread goes on with the other brokers; the
 * lookup ends at socket.connection.setup.timeout.ms at the latest, and a
 * failure is one like a refused connect (logged, backoff). IP literals skip
 * it. A connection closed or destroyed while RESOLVING cancels its lookup.
 */
#include "base/alloc.h"
#include "base/kafka_codes.h"
#include "net/conn.h"
#include "net/auth.h"
#include "net/sasl.h"
#include "net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"

static const kp_transport_ops_t tcp_transport;

kp_conn_t *kp_conn_new(int32_t node_id, const char *host, int32_t port) {
    kp_conn_t *c = kp_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->host = kp_strdup(host);
    if (!c->host) {
        free(c);
        return NULL;
    }
    c->node_id = node_id;
    c->port = port;
    c->fd = -1;
    c->tr = &tcp_transport;
    c->apiv_ver = kp_proto_our_max(KP_API_API_VERSIONS);
    for (int i = 0; i < KP_API_COUNT; i++)
        c->ver[i] = -1;
    return c;
}

int kp_conn_count(const kp_net_t *net) { return net->nbrokers + net->nboot; }
kp_conn_t *kp_conn_at(const kp_net_t *net, int i) {
    return i < net->nbrokers ? net->brokers[i].conn : net->boot[i - net->nbrokers];
}

int kp_node_stats_init(kp_node_stats_t *st, const kp_conf_t *conf, int64_t now) {
    int n = conf->metrics_num_samples;
    if (kp_stat_init(&st->latency, n, 1, now) || kp_stat_init(&st->out_bytes, n, 0, now) ||
        kp_stat_init(&st->in_bytes, n, 0, now) || kp_stat_init(&st->requests, n, 0, now) ||
        kp_stat_init(&st->responses, n, 0, now) || kp_stat_init(&st->queue_time, n, 1, now)) {
        kp_node_stats_destroy(st);
        return -1;
    }
    st->state_since_ms = now;
    st->ready = 1;
    return 0;
}

void kp_node_stats_destroy(kp_node_stats_t *st) {
    kp_stat_destroy(&st->latency);
    kp_stat_destroy(&st->out_bytes);
    kp_stat_destroy(&st->in_bytes);
    kp_stat_destroy(&st->requests);
    kp_stat_destroy(&st->responses);
    kp_stat_destroy(&st->queue_time);
    st->ready = 0;
}

void kp_node_stats_roll(kp_node_stats_t *st, int64_t now) {
    if (!st->ready)
        return;
    kp_stat_roll(&st->latency, now);
    kp_stat_roll(&st->out_bytes, now);
    kp_stat_roll(&st->in_bytes, now);
    kp_stat_roll(&st->requests, now);
    kp_stat_roll(&st->responses, now);
    kp_stat_roll(&st->queue_time, now);
}

void kp_req_free(kp_req_t *req) {
    if (!req)
        return;
    if (req->secret && req->w.p)
        explicit_bzero(req->w.p, req->w.cap); /* a SASL message: a password, a token */
    kp_wbuf_free(&req->w);
    if (req->is_produce)
        kp_produce_builder_free(&req->pb);
    free(req->iov);
    free(req->batches);
    free(req);
}

static void fail_list(kp_net_t *net, kp_conn_t *c, kp_req_t *head, kp_err_t err) {
    while (head) {
        kp_req_t *n = head->next;
        head->next = NULL;
        if (!head->setup) {
            c->stats.failures++;
            c->stats.timeouts += err == KAFKA_REQUEST_TIMED_OUT;
        }
        if (head->ops->failed)
            head->ops->failed(net, c, head, err);
        kp_req_free(head);
        head = n;
    }
}

/* The setup step that asks ApiVersions (after the transport's handshake:
 * setup_steps below). */
#define STEP_APIVERSIONS 1
/* The SASL step (auth.c), which KIP-368's re-authentication runs again. */
#define STEP_AUTH 2

/* How often a broker that cannot be reached is named at warning level
 * (every failure goes to the debug log). */
#define KP_CONN_WARN_INTERVAL_MS 30000

/* Say why a connection ended. A connection that was READY and drops is a
 * warning; one that cannot be set up (refused, not resolved, no answer, an
 * answer that is not Kafka's) is one on the first failure and then at most
 * every 30 s, so that a cluster out of reach is named at the default log
 * level without a line per reconnect. */
static void log_close(kp_net_t *net, kp_conn_t *c, kp_err_t err, const char *why) {
    const char *hint = "";
    if (c->state == KP_CONN_HANDSHAKE && c->step == STEP_APIVERSIONS &&
        err != KP_ERR_UNSUPPORTED_BROKER && err != KP_ERR_SSL_HANDSHAKE)
        hint = net->tls ? " (no Kafka answer to ApiVersions over TLS: is this a Kafka SSL "
                          "listener?)"
                        : " (no Kafka answer to ApiVersions: is this a Kafka PLAINTEXT listener? "
                          "A TLS listener needs security.protocol=SSL)";
    int64_t now = kp_mono_ms();
    int level = 7;
    if (c->state == KP_CONN_READY) {
        level = 4;
    } else if (!c->failures || now - c->last_warn_ms >= KP_CONN_WARN_INTERVAL_MS ||
               err != c->last_warn_err) {
        /* (a new kind of failure, such as a broker found unusable after
         * plain disconnects, is said at once) */
        level = 4;
        c->last_warn_ms = now;
        c->last_warn_err = err;
    }
    const char *what = c->state == KP_CONN_CONNECTING || c->state == KP_CONN_RESOLVING
                           ? "cannot connect"
                           : "disconnected";
    char name[KP_CONN_NAME_MAX];
    kp_logf(net->log, level, "%s: %s: %s%s", kp_conn_name(c, name, sizeof(name)), what, why, hint);
}

const char *kp_conn_name(const kp_conn_t *c, char *buf, size_t size) {
    /* an IPv6 literal in brackets, as bootstrap.servers takes it: [::1]:9092 */
    const char *lb = strchr(c->host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    if (c->node_id < 0)
        snprintf(buf, size, "bootstrap server %s%s%s:%d", lb, c->host, rb, c->port);
    else
        snprintf(buf, size, "broker %d (%s%s%s:%d)", c->node_id, lb, c->host, rb, c->port);
    return buf;
}

void kp_conn_close(kp_net_t *net, kp_conn_t *c, kp_err_t err, const char *why) {
    if (c->state == KP_CONN_DOWN)
        return;
    /* a broker that hangs up on our ApiVersions version (Azure Event Hubs
     * does on v3) is asked at v0 on the next connection, at once */
    int v0_next = c->state == KP_CONN_HANDSHAKE && c->step == STEP_APIVERSIONS && c->apiv_ver > 0 &&
                  err == KP_ERR_TRANSPORT && !c->apiv_v0_tried;
    if (why)
        log_close(net, c, err, why);
    if (c->lookup) {
        kp_lookup_cancel(net->resolver, c->lookup);
        c->lookup = NULL;
    }
    if (c->tr->close)
        c->tr->close(c, 0);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->state == KP_CONN_READY)
        c->stats.disconnects++;
    c->state = KP_CONN_DOWN;
    c->stats.state_since_ms = kp_mono_ms();
    free(c->rbuf);
    c->rbuf = NULL;
    c->szgot = c->rlen = c->rgot = 0;
    c->noanswer_n = 0;
    kp_sasl_free(c->sasl);
    c->sasl = NULL;
    c->reauth_at = 0;
    c->reauthing = 0;
    c->failures++;
    c->next_connect_ms = kp_mono_ms() + kp_backoff(net->conf->reconnect_backoff_ms,
                                                   net->conf->reconnect_backoff_max_ms,
                                                   c->failures - 1, &net->rng);
    if (v0_next) {
        c->apiv_ver = 0;
        c->apiv_v0_tried = 1;
        c->next_connect_ms = 0;
    }
    /* Detach both lists first: the sender may queue new requests from its
     * failure handler (they wait for the next connection). */
    kp_req_t *wait = c->wait_head, *out = c->out_head;
    c->wait_head = c->wait_tail = c->out_head = c->out_tail = NULL;
    c->nreqs = 0;
    fail_list(net, c, wait, err);
    fail_list(net, c, out, err);
}

void kp_conn_destroy(kp_net_t *net, kp_conn_t *c) {
    if (!c)
        return;
    kp_conn_close(net, c, KP_ERR_CLOSED, NULL);
    if (c->tr->close)
        c->tr->close(c, 1);
    free(c->addrs);
    free(c->host);
    if (c->stats.ready) {
        net->gone.out_bytes += atomic_load(&c->stats.out_bytes.sum);
        net->gone.in_bytes += atomic_load(&c->stats.in_bytes.sum);
        net->gone.requests += atomic_load(&c->stats.requests.n);
        net->gone.responses += atomic_load(&c->stats.responses.n);
        net->gone.connects += c->stats.connects;
        net->gone.disconnects += c->stats.disconnects;
    }
    kp_node_stats_destroy(&c->stats);
    free(c);
}

static void set_sockopts(kp_net_t *net, int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (net->conf->send_buffer_bytes > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &net->conf->send_buffer_bytes, sizeof(int));
    if (net->conf->receive_buffer_bytes > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &net->conf->receive_buffer_bytes, sizeof(int));
}

static void queue_apiversions(kp_net_t *net, kp_conn_t *c);

/* ---- the byte layer: plain TCP ---- */

static ssize_t tcp_read(kp_conn_t *c, void *buf, size_t n) { return read(c->fd, buf, n); }

/* sendmsg with MSG_NOSIGNAL, not writev: a broker that closed the
 * connection must cost an error here, not a SIGPIPE that kills the
 * application (caught by test_malformed with requests pipelined) */
static ssize_t tcp_writev(kp_conn_t *c, const struct iovec *iov, int n) {
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(c->fd, &msg, MSG_NOSIGNAL);
}

static short tcp_events(const kp_conn_t *c, short framing_wants) {
    (void)c;
    return framing_wants;
}

static const kp_transport_ops_t tcp_transport = {
    .name = "tcp", .read = tcp_read, .writev = tcp_writev, .events = tcp_events};

/* ---- setup steps: what a connection does once TCP is up, in order,
 * before it is READY (the transport's handshake, ApiVersions;
 * SaslHandshake/SaslAuthenticate next). A step queues its requests (marked
 * setup: written before READY) and, when it is done, calls setup_next; a
 * failure closes the connection. ---- */

static void setup_next(kp_net_t *net, kp_conn_t *c);

/* The transport's own handshake (TLS, tls.c), run by kp_conn_io while the
 * socket waits for what the transport asks; TCP has none. */
static void transport_handshake(kp_net_t *net, kp_conn_t *c) {
    int rc = c->tr->handshake ? c->tr->handshake(net, c) : 1;
    if (rc > 0)
        setup_next(net, c);
}

typedef void setup_step_fn(kp_net_t *net, kp_conn_t *c);
static setup_step_fn *const setup_steps[] = {transport_handshake, queue_apiversions,
                                             kp_auth_start};
#define NSTEPS ((int)(sizeof(setup_steps) / sizeof(setup_steps[0])))

static void setup_start(kp_net_t *net, kp_conn_t *c) {
    c->state = KP_CONN_HANDSHAKE;
    c->step = 0;
    setup_steps[0](net, c);
}

/* The current step is done: the next one, or READY. */
static void setup_next(kp_net_t *net, kp_conn_t *c) {
    if (++c->step < NSTEPS) {
        setup_steps[c->step](net, c);
        return;
    }
    c->state = KP_CONN_READY;
    c->failures = 0;
    c->unusable = KP_OK;
    c->stats.connects++;
    c->stats.state_since_ms = kp_mono_ms();
    char name[KP_CONN_NAME_MAX];
    kp_logf(net->log, 7, "%s: ready, Produce v%d, Metadata v%d", kp_conn_name(c, name, sizeof(name)),
            c->ver[KP_API_PRODUCE], c->ver[KP_API_METADATA]);
}

static void dial(kp_net_t *net, kp_conn_t *c, int64_t now);

/* The resolver's answer for c (I/O thread, from kp_resolver_process). */
static void on_resolved(void *ctx, void *arg, kp_err_t err, kp_addrs_t *addrs, const char *why) {
    kp_net_t *net = ctx;
    kp_conn_t *c = arg;
    c->lookup = NULL;
    if (err) {
        kp_conn_close(net, c, err, why); /* (RESOLVING: logs and backs off) */
        return;
    }
    free(c->addrs);
    c->addrs = addrs;
    c->addr_next = 0;
    dial(net, c, kp_mono_ms());
}

void kp_conn_connect(kp_net_t *net, kp_conn_t *c, int64_t now) {
    if (c->state != KP_CONN_DOWN || now < c->next_connect_ms)
        return;
    if (!c->stats.ready && kp_node_stats_init(&c->stats, net->conf, now))
        return; /* out of memory: the next turn tries again */
    if (!c->addrs || c->addr_next >= c->addrs->n) {
        free(c->addrs);
        c->addrs = NULL;
        kp_addrs_t *addrs;
        /* client.dns.lookup=resolve_canonical_bootstrap_servers_only: a
         * bootstrap server's name stands for its canonical names */
        int flags = c->node_id < 0 && net->conf->client_dns_lookup == KP_DNS_CANONICAL_BOOTSTRAP
                        ? KP_RESOLVE_CANONICAL
                        : 0;
        kp_err_t err = kp_resolve_start_ex(net->resolver, c->host, c->port, flags,
                                           now + net->conf->socket_setup_timeout_ms, on_resolved,
                                           c, &addrs, &c->lookup);
        c->state = KP_CONN_RESOLVING; /* so that close() logs and backs off */
        if (err) {
            kp_conn_close(net, c, err, "cannot resolve host name: out of memory");
            return;
        }
        if (!addrs)
            return; /* on_resolved dials */
        c->addrs = addrs;
        c->addr_next = 0;
    }
    dial(net, c, now);
}

/* Dial c's next address. */
static void dial(kp_net_t *net, kp_conn_t *c, int64_t now) {
    const struct kp_addr *ai = &c->addrs->a[c->addr_next++]; /* next attempt: the next one */
    char name[KP_CONN_NAME_MAX], where[KP_ADDR_TEXT_MAX];
    kp_logf(net->log, 7, "%s: connecting to %s, address %d of %d",
            kp_conn_name(c, name, sizeof(name)), kp_addr_text(ai, where, sizeof(where)),
            c->addr_next, c->addrs->n);
    int fd = socket(ai->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    fd = kp_fd_above_std(fd);
    c->state = KP_CONN_CONNECTING;
    if (fd < 0) {
        kp_conn_close(net, c, KP_ERR_TRANSPORT, strerror(errno));
        return;
    }
    c->fd = fd;
    c->tr = net->tls ? kp_tls_transport() : &tcp_transport;
    set_sockopts(net, fd);
    int64_t tmo = net->conf->socket_setup_timeout_ms;
    for (int i = 0; i < c->failures && tmo < net->conf->socket_setup_timeout_max_ms; i++)
        tmo *= 2;
    if (tmo > net->conf->socket_setup_timeout_max_ms)
        tmo = net->conf->socket_setup_timeout_max_ms;
    c->connect_deadline_ms = now + kp_jitter(tmo, &net->rng);
    if (connect(fd, (const struct sockaddr *)&ai->sa, ai->len) < 0 && errno != EINPROGRESS) {
        kp_conn_close(net, c, KP_ERR_TRANSPORT, strerror(errno));
        return;
    }
    /* completion is seen as POLLOUT */
}

static void enqueue(kp_conn_t *c, kp_req_t *req) {
    req->next = NULL;
    if (c->out_tail)
        c->out_tail->next = req;
    else
        c->out_head = req;
    c->out_tail = req;
}

kp_req_t *kp_req_new(kp_net_t *net, int16_t api, int16_t ver, int64_t now,
                     const kp_req_ops_t *ops) {
    kp_req_t *req = kp_calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->ops = ops;
    req->api = api;
    req->ver = ver;
    req->corrid = net->next_corrid++;
    req->expect_response = 1;
    req->deadline_ms = now + net->conf->request_timeout_ms;
    kp_wbuf_init(&req->w, 128);
    return req;
}

int kp_req_seal(kp_req_t *req) {
    req->iov = kp_malloc(sizeof(struct iovec));
    if (req->w.err || !req->iov)
        return -1;
    req->iov[0].iov_base = req->w.p;
    req->iov[0].iov_len = req->w.len;
    req->niov = 1;
    req->total = req->w.len;
    return 0;
}

static void handle_apiversions(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r);

/* The connection's own request: its failure needs no telling (the
 * connection is down with it). */
static const kp_req_ops_t apiversions_ops = {handle_apiversions, NULL, NULL};

static void queue_apiversions(kp_net_t *net, kp_conn_t *c) {
    kp_req_t *req =
        kp_req_new(net, KP_API_API_VERSIONS, c->apiv_ver, kp_mono_ms(), &apiversions_ops);
    if (req)
        kp_apiversions_req(&req->w, req->ver, req->corrid, net->client_id);
    kp_conn_send_setup(net, c, req);
}

int kp_conn_send_setup(kp_net_t *net, kp_conn_t *c, kp_req_t *req) {
    if (!req || kp_req_seal(req)) {
        kp_req_free(req);
        kp_conn_close(net, c, KP_ERR_NOMEM, "out of memory");
        return -1;
    }
    /* The setup goes before anything the sender queued meanwhile. */
    req->setup = 1;
    req->next = c->out_head;
    c->out_head = req;
    if (!c->out_tail)
        c->out_tail = req;
    return 0;
}

void kp_conn_setup_done(kp_net_t *net, kp_conn_t *c) { setup_next(net, c); }

void kp_conn_send(kp_net_t *net, kp_conn_t *c, kp_req_t *req) {
    (void)net;
    req->total = 0;
    for (int i = 0; i < req->niov; i++)
        req->total += req->iov[i].iov_len;
    if (req->expect_response || req->is_produce)
        c->nreqs++;
    enqueue(c, req);
}

short kp_conn_events(const kp_conn_t *c) {
    switch (c->state) {
    case KP_CONN_DOWN:
    case KP_CONN_RESOLVING: return 0;
    case KP_CONN_CONNECTING: return POLLOUT;
    case KP_CONN_HANDSHAKE:
    case KP_CONN_READY: break;
    }
    short ev = POLLIN;
    /* Requests other than the setup's wait until it completes. */
    if (c->out_head && (c->state == KP_CONN_READY || c->out_head->setup))
        ev |= POLLOUT;
    return c->tr->events(c, ev);
}

static void handle_apiversions(kp_net_t *net, kp_conn_t *c, kp_req_t *req, kp_rbuf_t *r) {
    kp_api_range_t ranges[KP_API_COUNT];
    kp_features_t feat;
    int err = kp_apiversions_resp(r, req->ver, ranges, &feat);
    /* Falling back (KIP-511): a broker that does not know our version
     * answers UNSUPPORTED_VERSION with its own range: ask again at the
     * highest version both know. One that sends no range, or an answer we
     * cannot read (librdkafka 2.15's mock answers v3 so), is asked again
     * at v0, which every broker reads. An unreadable answer to a version
     * the broker said it knows ends the connection, as any malformed
     * answer. (A broker that closes the connection on our version is asked
     * at v0 on the next one: kp_conn_close.) */
    int first_ask = req->ver == kp_proto_our_max(KP_API_API_VERSIONS);
    if (req->ver > 0 && (err == KAFKA_UNSUPPORTED_VERSION || (err == -1 && first_ask))) {
        kp_api_range_t own = ranges[KP_API_API_VERSIONS];
        int16_t v = err == -1 ? -1 : kp_proto_pick(KP_API_API_VERSIONS, own.min, own.max);
        c->apiv_ver = v >= 0 && v < req->ver ? v : 0;
        char name[KP_CONN_NAME_MAX];
        kp_logf(net->log, 7, "%s: ApiVersions v%d answered %s; asking at v%d",
                kp_conn_name(c, name, sizeof(name)), req->ver,
                err == -1 ? "unreadably" : "UNSUPPORTED_VERSION", c->apiv_ver);
        queue_apiversions(net, c);
        return;
    }
    if (err == -1) { /* (a broker's own -1 arrives as KP_ERR_UNKNOWN_SERVER_ERROR) */
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "malformed ApiVersions response");
        return;
    }
    if (err) {
        kp_conn_close(net, c, KP_ERR_UNSUPPORTED_BROKER, "ApiVersions failed");
        return;
    }
    for (int api = 0; api < KP_API_COUNT; api++) {
        c->range[api] = ranges[api];
        c->ver[api] = kp_proto_pick((int16_t)api, ranges[api].min, ranges[api].max);
    }
    c->txn_version = feat.transaction_version;
    if (c->ver[KP_API_PRODUCE] < 0 || c->ver[KP_API_METADATA] < 0) {
        c->unusable = KP_ERR_UNSUPPORTED_BROKER;
        char name[KP_CONN_NAME_MAX];
        kp_logf(net->log, 3,
                "%s offers Produce v%d..%d and Metadata v%d..%d; kprod needs "
                "Produce v%d..%d and Metadata v%d..%d: its records fail (unsupported broker)",
                kp_conn_name(c, name, sizeof(name)), ranges[KP_API_PRODUCE].min,
                ranges[KP_API_PRODUCE].max, ranges[KP_API_METADATA].min,
                ranges[KP_API_METADATA].max, kp_proto_our_min(KP_API_PRODUCE),
                kp_proto_our_max(KP_API_PRODUCE), kp_proto_our_min(KP_API_METADATA),
                kp_proto_our_max(KP_API_METADATA));
        kp_conn_close(net, c, KP_ERR_UNSUPPORTED_BROKER, "unsupported broker");
        return;
    }
    setup_next(net, c);
}

/* Is the frame in c->rbuf the answer to a request that expected none
 * (acks=0)? Its correlation id (every response header starts with it) is
 * one of those written since the last such answer, and not the one awaited:
 * answers come in request order, so those before it went unanswered (as a
 * Kafka broker leaves them) and are forgotten. Ids are compared as serial
 * numbers (they wrap). */
static int is_unasked_answer(kp_conn_t *c, const kp_req_t *awaited) {
    if (!c->noanswer_n || c->rlen < 4)
        return 0;
    kp_rbuf_t r;
    kp_rbuf_init(&r, c->rbuf, 4, 0);
    int32_t id = kp_r_i32(&r);
    if (awaited && id == awaited->corrid)
        return 0;
    if ((int32_t)((uint32_t)id - (uint32_t)c->noanswer_lo) < 0 ||
        (int32_t)((uint32_t)c->noanswer_hi - (uint32_t)id) < 0)
        return 0;
    if (id == c->noanswer_hi)
        c->noanswer_n = 0;
    else
        c->noanswer_lo = id + 1;
    return 1;
}

/* A complete response frame is in c->rbuf. Returns -1 if the connection
 * was closed. */
static int dispatch(kp_net_t *net, kp_conn_t *c) {
    kp_req_t *req = c->wait_head;
    kp_rbuf_t r;
    kp_rbuf_init(&r, c->rbuf, c->rlen, 0);
    if (is_unasked_answer(c, req))
        return 0;
    if (!req) {
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "response without a request");
        return -1;
    }
    int32_t corrid = kp_proto_resp_header(&r, req->api, req->ver);
    if (r.err || corrid != req->corrid) {
        kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "response correlation id mismatch");
        return -1;
    }
    c->wait_head = req->next;
    if (!c->wait_head)
        c->wait_tail = NULL;
    req->next = NULL;
    if (!req->setup) { /* (setup requests are not counted) */
        c->nreqs--;
        kp_stat_add(&c->stats.responses, 1);
        kp_stat_add(&c->stats.in_bytes, (int64_t)c->rlen + 4);
        kp_stat_add(&c->stats.latency, kp_mono_us() - req->written_us);
    }
    req->ops->response(net, c, req, &r);
    kp_req_free(req);
    return c->state == KP_CONN_DOWN ? -1 : 0;
}

/* A read or write failed (errno errnum): close, saying why as the
 * transport tells it (TLS knows OpenSSL's reason). */
static void transport_failed(kp_net_t *net, kp_conn_t *c, int errnum) {
    kp_err_t err = KP_ERR_TRANSPORT;
    const char *why = c->tr->failure ? c->tr->failure(c, errnum, &err) : NULL;
    char text[600];
    snprintf(text, sizeof(text), "%s", why ? why : strerror(errnum)); /* (close frees it) */
    kp_conn_close(net, c, err, text);
}

static void do_read(kp_net_t *net, kp_conn_t *c) {
    /* 64 reads a turn, and then what the transport holds already (poll()
     * would not wake us for it) */
    for (int rounds = 0; rounds < 64 || (c->tr->pending && c->tr->pending(c)); rounds++) {
        ssize_t n;
        if (c->szgot < 4) {
            n = c->tr->read(c, c->szbuf + c->szgot, 4 - c->szgot);
        } else {
            n = c->tr->read(c, c->rbuf + c->rgot, c->rlen - c->rgot);
        }
        if (n == 0) {
            kp_conn_close(net, c, KP_ERR_TRANSPORT, "connection closed by broker");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            transport_failed(net, c, errno);
            return;
        }
        if (c->szgot < 4) {
            c->szgot += (size_t)n;
            if (c->szgot < 4)
                continue;
            int32_t sz = (int32_t)kp_get_be32(c->szbuf);
            if (sz < 4 || sz > KP_MAX_RESPONSE_SIZE) {
                kp_conn_close(net, c, KP_ERR_BAD_RESPONSE, "invalid response frame size");
                return;
            }
            c->rlen = (size_t)sz;
            c->rgot = 0;
            c->rbuf = kp_malloc(c->rlen);
            if (!c->rbuf) {
                kp_conn_close(net, c, KP_ERR_NOMEM, "out of memory");
                return;
            }
            continue;
        }
        c->rgot += (size_t)n;
        if (c->rgot < c->rlen)
            continue;
        c->last_io_ms = kp_mono_ms(); /* per response, not per read */
        int rc = dispatch(net, c);
        if (rc < 0)
            return;
        free(c->rbuf);
        c->rbuf = NULL;
        c->szgot = c->rlen = c->rgot = 0;
    }
}

static void do_write(kp_net_t *net, kp_conn_t *c, int64_t now) {
    while (c->out_head) {
        kp_req_t *req = c->out_head;
        if (c->state != KP_CONN_READY && !req->setup)
            return;
        struct iovec local[64];
        int n = 0;
        size_t skip = req->written;
        for (int i = 0; i < req->niov && n < 64; i++) {
            if (skip >= req->iov[i].iov_len) {
                skip -= req->iov[i].iov_len;
                continue;
            }
            local[n].iov_base = (uint8_t *)req->iov[i].iov_base + skip;
            local[n].iov_len = req->iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
        ssize_t w = c->tr->writev(c, local, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            transport_failed(net, c, errno);
            return;
        }
        req->written += (size_t)w;
        c->last_io_ms = now;
        atomic_fetch_add_explicit(&net->tx_bytes, (uint64_t)w, memory_order_relaxed);
        if (c->stats.ready)
            kp_stat_add(&c->stats.out_bytes, (int64_t)w);
        if (req->written < req->total)
            continue;
        if (!req->setup && c->stats.ready) {
            req->written_us = kp_mono_us();
            kp_stat_add(&c->stats.requests, 1);
        }
        c->out_head = req->next;
        if (!c->out_head)
            c->out_tail = NULL;
        req->next = NULL;
        if (req->expect_response) {
            if (c->wait_tail)
                c->wait_tail->next = req;
            else
                c->wait_head = req;
            c->wait_tail = req;
        } else {
            /* a broker may answer it all the same (librdkafka 2.15's mock,
             * some proxies): such an answer is read and dropped (dispatch) */
            if (!c->noanswer_n++)
                c->noanswer_lo = req->corrid;
            c->noanswer_hi = req->corrid;
            c->nreqs--;
            req->ops->written(net, c, req);
            kp_req_free(req);
        }
    }
}

void kp_conn_io(kp_net_t *net, kp_conn_t *c, short revents, int64_t now) {
    if (c->state == KP_CONN_DOWN || !revents)
        return;
    if (c->state == KP_CONN_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr) {
            kp_conn_close(net, c, KP_ERR_TRANSPORT, strerror(soerr));
            return;
        }
        if (!(revents & POLLOUT))
            return;
        c->last_io_ms = now;
        c->addr_next = c->addrs->n; /* connected: resolve afresh next time */
        setup_start(net, c);
        if (c->state == KP_CONN_DOWN || c->step < STEP_APIVERSIONS)
            return;
        revents = POLLOUT;
    } else if (c->state == KP_CONN_HANDSHAKE && c->step < STEP_APIVERSIONS) {
        /* the transport's handshake: the socket is ready as it asked */
        transport_handshake(net, c);
        if (c->state == KP_CONN_DOWN || c->step < STEP_APIVERSIONS)
            return;
        revents = POLLOUT; /* ApiVersions is queued: write it now */
    }
    if (c->tr->ready)
        revents = c->tr->ready(c, revents);
    if (revents & (POLLERR | POLLHUP) && !(revents & POLLIN)) {
        kp_conn_close(net, c, KP_ERR_TRANSPORT, "socket error");
        return;
    }
    if (revents & POLLIN) {
        do_read(net, c);
        if (c->state == KP_CONN_DOWN)
            return;
    }
    if (c->out_head)
        do_write(net, c, now);
}

/* connections.max.idle.ms: a READY connection with nothing queued or in
 * flight that has moved no byte for that long is closed, quietly and
 * without backoff (it is reopened when needed), as the Java client's
 * Selector does. Returns when to look again. */
static int64_t idle_check(kp_net_t *net, kp_conn_t *c, int64_t now) {
    int64_t idle = net->conf->connections_max_idle_ms;
    if (idle <= 0 || c->wait_head || c->out_head)
        return INT64_MAX;
    if (now - c->last_io_ms < idle)
        return c->last_io_ms + idle;
    char name[KP_CONN_NAME_MAX];
    kp_logf(net->log, 7, "%s: closing a connection idle for %lld ms", kp_conn_name(c, name, sizeof(name)),
            (long long)(now - c->last_io_ms));
    kp_conn_close(net, c, KP_ERR_TRANSPORT, NULL);
    c->failures = 0;
    c->next_connect_ms = 0;
    return INT64_MAX;
}

/* KIP-368: re-authenticate before the session the broker gave runs out,
 * between requests: once due, the connection takes no new request (it is
 * set up again: HANDSHAKE, at the SASL step; what the engine queued waits,
 * unwritten, behind the SASL requests), the requests in flight are
 * answered, then the SASL exchange runs again and the connection is READY.
 * Nothing in flight fails. A request half written must be finished first,
 * so the switch waits for none to be. Returns -1 when the connection
 * closed. */
static int reauthenticate(kp_net_t *net, kp_conn_t *c, int64_t now) {
    if (c->reauth_at && now >= c->reauth_at && c->state == KP_CONN_READY &&
        (!c->out_head || !c->out_head->written)) {
        c->reauth_at = 0;
        c->reauthing = 1;
        c->state = KP_CONN_HANDSHAKE;
        c->step = STEP_AUTH;
        c->connect_deadline_ms =
            now + net->conf->request_timeout_ms + net->conf->socket_setup_timeout_ms;
        char name[KP_CONN_NAME_MAX];
        kp_logf(net->log, 7, "%s: re-authenticating (KIP-368) before the session ends",
                kp_conn_name(c, name, sizeof(name)));
    }
    if (c->reauthing && !c->wait_head) {
        c->reauthing = 0;
        kp_auth_start(net, c);
    }
    return c->state == KP_CONN_DOWN ? -1 : 0;
}

int64_t kp_conn_timers(kp_net_t *net, kp_conn_t *c, int64_t now) {
    if (c->state == KP_CONN_DOWN)
        return INT64_MAX;
    if (reauthenticate(net, c, now))
        return now;
    /* socket.connection.setup.timeout.ms covers the TCP connect and the
     * ApiVersions handshake: a listener that accepts and never answers is
     * given up on like one that never accepts */
    int64_t setup_due = INT64_MAX;
    if (c->state == KP_CONN_CONNECTING || c->state == KP_CONN_HANDSHAKE) {
        if (now >= c->connect_deadline_ms) {
            kp_conn_close(net, c, KP_ERR_TRANSPORT,
                          c->state == KP_CONN_CONNECTING
                              ? "no answer to the TCP connect within "
                                "socket.connection.setup.timeout.ms"
                          : c->step < STEP_APIVERSIONS
                              ? "no answer to the TLS handshake within "
                                "socket.connection.setup.timeout.ms (is the listener PLAINTEXT?)"
                              : "no answer within socket.connection.setup.timeout.ms");
            return now; /* its work goes elsewhere or waits for the backoff: look again */
        }
        if (c->state == KP_CONN_CONNECTING)
            return c->connect_deadline_ms;
        setup_due = c->connect_deadline_ms; /* and the handshake's request.timeout.ms */
    }
    /* The oldest request decides: the in-flight head, or else the first
     * queued one (a request that cannot even be written in time). */
    kp_req_t *oldest = c->wait_head ? c->wait_head : c->out_head;
    int64_t reauth_due = c->reauth_at ? c->reauth_at : INT64_MAX;
    if (!oldest) {
        int64_t due = c->state == KP_CONN_READY ? idle_check(net, c, now) : setup_due;
        return MIN(reauth_due, due); /* (MIN evaluates twice: not idle_check) */
    }
    if (now >= oldest->deadline_ms) {
        kp_conn_close(net, c, KAFKA_REQUEST_TIMED_OUT, "request timed out");
        return now; /* its requests failed back for retry: look again at once */
    }
    return MIN(reauth_due, MIN(oldest->deadline_ms, setup_due));
}

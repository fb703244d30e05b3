/*
 * resolve — broker host names to addresses, without blocking the I/O
 * thread and never under a lock.
 *
 * What: a resolver is one c-ares channel. kp_resolve_start() answers an IP
 * literal at once (no c-ares, no callback) and starts a lookup of a name
 * (A and AAAA, the hosts file first, then DNS) whose outcome is handed to
 * a callback exactly once: the addresses, in the order the resolver sorted
 * them (RFC 6724, as getaddrinfo), or a failure whose text starts
 * "cannot resolve host name: <host>: ". A lookup that has no answer by its
 * deadline (the caller passes socket.connection.setup.timeout.ms) fails
 * then; one whose owner went away is cancelled and calls nobody.
 *
 * Why c-ares: getaddrinfo blocks, and the producer has one I/O thread for
 * every broker; a resolver that hangs for 15 s stalled all traffic and made
 * kp_close(p, 1000) take 13 s. c-ares is the asynchronous resolver libcurl
 * and gRPC use: it reads resolv.conf and the hosts file, and hands us its
 * sockets to poll with ours, so no thread of our own is needed.
 *
 * Who calls it on which thread: a producer's resolver (kp_producer_t's
 * `resolver`) is created by kp_producer_new before the I/O thread starts,
 * then used by the I/O thread alone: the connections start and cancel
 * lookups (conn.c, RESOLVING), and kp_sender_main polls kp_resolver_fds(),
 * waits at most until kp_resolver_timeout() and calls kp_resolver_process(),
 * from which the callbacks run. It is destroyed after the I/O thread ended.
 * kp_producer_new's "does some bootstrap server resolve" check uses a
 * resolver of its own on the creating thread, with kp_resolver_wait().
 *
 * Memory: our allocations go through kp_malloc; c-ares allocates on its
 * own (as the codec libraries do), and its ARES_ENOMEM becomes
 * KP_ERR_NOMEM. Nothing here aborts.
 */
#ifndef KP_RESOLVE_H
#define KP_RESOLVE_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kprod/kprod.h"

typedef struct kp_resolver kp_resolver_t;
typedef struct kp_lookup kp_lookup_t;

/* What a name resolved to: n addresses, port set, in the resolver's order. */
typedef struct kp_addrs {
    int n;
    struct kp_addr {
        socklen_t len;
        struct sockaddr_storage sa;
    } a[];
} kp_addrs_t;

/* A lookup's outcome: err KP_OK and addrs (n >= 1, the callee's to free),
 * or an error (KP_ERR_TRANSPORT, KP_ERR_NOMEM) with addrs NULL and why
 * saying what happened ("cannot resolve host name: <host>: ..."; valid
 * during the call). ctx is the resolver's, arg the lookup's. */
typedef void kp_resolve_cb(void *ctx, void *arg, kp_err_t err, kp_addrs_t *addrs,
                           const char *why);

/* A resolver whose callbacks get ctx. NULL when memory runs out or c-ares
 * cannot start (*err says which: KP_ERR_NOMEM or KP_ERR_TRANSPORT). */
kp_resolver_t *kp_resolver_new(void *ctx, kp_err_t *err);
/* Cancels every lookup (no callback runs) and frees the resolver. */
void kp_resolver_destroy(kp_resolver_t *r);

/* host (a name or an IPv4/IPv6 literal, without brackets) and port. For a
 * literal: KP_OK with *now_addrs set (the caller's to free) and no
 * callback. For a name: KP_OK with *lookup set; cb runs once, from
 * kp_resolver_process, unless kp_lookup_cancel comes first; at deadline_ms
 * (monotonic) the lookup fails. KP_ERR_NOMEM: nothing started. */
kp_err_t kp_resolve_start(kp_resolver_t *r, const char *host, int32_t port, int64_t deadline_ms,
                          kp_resolve_cb *cb, void *arg, kp_addrs_t **now_addrs,
                          kp_lookup_t **lookup);
/* Forget a lookup that has not called back (its owner goes away). */
void kp_lookup_cancel(kp_resolver_t *r, kp_lookup_t *lk);
/* Is host an IP literal? */
int kp_is_ip_literal(const char *host);

/* The sockets c-ares waits on, as pollfds (fd, events), at most max;
 * returns how many were written. */
int kp_resolver_fds(const kp_resolver_t *r, struct pollfd *pfds, int max);
/* The most fds kp_resolver_fds may report (the poll set's room for it). */
int kp_resolver_nfds(const kp_resolver_t *r);
/* When kp_resolver_process must run next (monotonic ms), INT64_MAX if no
 * lookup is under way. */
int64_t kp_resolver_timeout(const kp_resolver_t *r, int64_t now);
/* After poll(): read and write what c-ares asked for (pfds as filled by
 * kp_resolver_fds, revents set by poll), handle its timeouts and fail the
 * lookups past their deadline. Callbacks run from here. */
void kp_resolver_process(kp_resolver_t *r, const struct pollfd *pfds, int n, int64_t now);
/* Lookups started and not yet called back or cancelled. */
int kp_resolver_pending(const kp_resolver_t *r);
/* Poll and process on the calling thread until no lookup is pending or
 * `until` (monotonic ms) passes, or *stop becomes non-zero (checked after
 * each round). For a thread with nothing else to poll. */
void kp_resolver_wait(kp_resolver_t *r, int64_t until, const int *stop);

/* Test seam (not in kprod.h; hidden in the shared library): resolvers
 * created after this call ask these DNS servers ("127.0.0.1:5353", c-ares
 * CSV form) instead of resolv.conf's; NULL goes back to resolv.conf.
 * Returns 0, or -1 when out of memory. */
int kp_resolver_test_servers(const char *csv);

#endif

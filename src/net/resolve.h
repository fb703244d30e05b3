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
 * then; one whose owner went away is cancelled and calls nobody. The
 * caller tries the addresses in turn (client.dns.lookup=use_all_dns_ips).
 *
 * Canonical names (KP_RESOLVE_CANONICAL, for bootstrap servers under
 * client.dns.lookup=resolve_canonical_bootstrap_servers_only): as the Java
 * client's ClientUtils.parseAndValidateAddresses, each address of the host
 * (a literal's too) is looked up in reverse (PTR, or the hosts file) and
 * its canonical name stands for it; as Java's getCanonicalHostName, a name
 * counts only when it resolves back to that address, else the address
 * stands for itself. The outcome is the canonical names' addresses, each
 * marked with its name (kp_addr.name), names in the order of the host's
 * addresses. Every step runs on the same channel, asynchronously, within
 * the same deadline. Java turns one bootstrap entry into one bootstrap node
 * per canonical name; here the one bootstrap connection tries them in turn,
 * which is what those nodes are for (reaching some broker for metadata).
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
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kprod/kprod.h"

typedef struct kp_resolver kp_resolver_t;
typedef struct kp_lookup kp_lookup_t;

/* What a name resolved to: n addresses, port set, in the resolver's order,
 * no address twice. One allocation: free() frees the names too. */
typedef struct kp_addrs {
    int n;
    struct kp_addr {
        socklen_t len;
        struct sockaddr_storage sa;
        const char *name; /* the canonical name it came from (KP_RESOLVE_CANONICAL);
                             NULL: the host asked for, or the address itself */
    } a[];
} kp_addrs_t;

/* kp_resolve_start_ex flags. */
#define KP_RESOLVE_CANONICAL 1 /* the canonical names' addresses (see above) */

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
/* kp_resolve_start with flags (KP_RESOLVE_CANONICAL). A canonical lookup
 * of a literal also calls back (its reverse lookup takes time). */
kp_err_t kp_resolve_start_ex(kp_resolver_t *r, const char *host, int32_t port, int flags,
                             int64_t deadline_ms, kp_resolve_cb *cb, void *arg,
                             kp_addrs_t **now_addrs, kp_lookup_t **lookup);
/* Forget a lookup that has not called back (its owner goes away). */
void kp_lookup_cancel(kp_resolver_t *r, kp_lookup_t *lk);
/* Is host an IP literal? */
int kp_is_ip_literal(const char *host);

/* An address as log lines show it: "10.0.0.2:9092", "[::1]:9092", and
 * with its canonical name "kafka-2.example (10.0.0.2:9092)". Returns buf. */
#define KP_ADDR_TEXT_MAX 320
const char *kp_addr_text(const struct kp_addr *a, char *buf, size_t size);

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

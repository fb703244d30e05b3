/*
 * resolve — host names to addresses on a c-ares channel. See resolve.h for
 * the contract, the reasons and the threads.
 *
 * A lookup is in one of three states:
 *   ACTIVE  c-ares works on it; it is on the resolver's list
 *   DONE    c-ares called back; the result waits on the list until
 *           kp_resolver_process hands it to the owner's callback
 *   ORPHAN  cancelled or past its deadline while c-ares still works on it:
 *           on no list, freed when c-ares calls back (at the latest from
 *           ares_destroy, with ARES_EDESTRUCTION)
 * c-ares may call back from inside ares_getaddrinfo (a hosts-file answer, a
 * bad name) or from ares_process_fd; either way the callback only records
 * the result. Owners' callbacks run from kp_resolver_process alone, outside
 * every c-ares call, so an owner may start or cancel lookups from them.
 */
#include "net/resolve.h"

#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

enum { LK_ACTIVE, LK_DONE, LK_ORPHAN };

struct kp_lookup {
    kp_lookup_t *prev, *next; /* the resolver's list (ACTIVE, DONE) */
    kp_resolver_t *r;
    int state;
    kp_resolve_cb *cb;
    void *arg;
    int64_t started_ms, deadline_ms;
    int32_t port;
    int status;                    /* DONE: c-ares' status */
    struct ares_addrinfo *result;  /* DONE: c-ares' answer */
    char host[];
};

typedef struct rfd {
    ares_socket_t fd;
    short events;
} rfd_t;

struct kp_resolver {
    ares_channel ch;
    void *ctx;
    kp_lookup_t *head; /* ACTIVE and DONE lookups */
    int npending;      /* on the list */
    int in_ares;       /* ACTIVE + ORPHAN: c-ares still holds them */
    rfd_t *fds;        /* what c-ares waits for (sock_state_cb) */
    int nfds, fdcap;
};

/* ------------------------------------------------------------ test seam */

static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;
static char *test_servers;

int kp_resolver_test_servers(const char *csv) {
    char *s = NULL;
    if (csv && !(s = kp_strdup(csv)))
        return -1;
    pthread_mutex_lock(&servers_lock);
    free(test_servers);
    test_servers = s;
    pthread_mutex_unlock(&servers_lock);
    return 0;
}

/* ------------------------------------------------------------ the channel */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status = ARES_SUCCESS;

/* ares_library_init is not thread-safe before c-ares 1.23: once per
 * process, never undone (on Linux it holds nothing). */
static void lib_init(void) { lib_status = ares_library_init(ARES_LIB_INIT_ALL); }

static void sock_state(void *data, ares_socket_t fd, int readable, int writable) {
    kp_resolver_t *r = data;
    short ev = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
    for (int i = 0; i < r->nfds; i++) {
        if (r->fds[i].fd != fd)
            continue;
        if (ev)
            r->fds[i].events = ev;
        else
            r->fds[i] = r->fds[--r->nfds];
        return;
    }
    if (!ev)
        return;
    if (r->nfds == r->fdcap) {
        rfd_t *n = kp_realloc(r->fds, (size_t)r->fdcap * 2 * sizeof(*n));
        if (!n)
            return; /* out of memory: its queries end by their timeouts */
        r->fds = n;
        r->fdcap *= 2;
    }
    r->fds[r->nfds++] = (rfd_t){fd, ev};
}

kp_resolver_t *kp_resolver_new(void *ctx, kp_err_t *err) {
    *err = KP_ERR_NOMEM;
    pthread_once(&lib_once, lib_init);
    if (lib_status != ARES_SUCCESS) {
        *err = lib_status == ARES_ENOMEM ? KP_ERR_NOMEM : KP_ERR_TRANSPORT;
        return NULL;
    }
    kp_resolver_t *r = kp_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ctx = ctx;
    r->fdcap = 8;
    r->fds = kp_malloc((size_t)r->fdcap * sizeof(*r->fds));
    if (!r->fds) {
        free(r);
        return NULL;
    }
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = r;
    /* the hosts file, then DNS, whatever nsswitch.conf says: "localhost"
     * and names an administrator pinned in /etc/hosts resolve without a
     * server, as they do for getaddrinfo on a default system */
    o.lookups = (char *)"fb";
    int rc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS);
    if (rc != ARES_SUCCESS) {
        *err = rc == ARES_ENOMEM ? KP_ERR_NOMEM : KP_ERR_TRANSPORT;
        free(r->fds);
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&servers_lock);
    if (test_servers)
        rc = ares_set_servers_ports_csv(r->ch, test_servers);
    pthread_mutex_unlock(&servers_lock);
    if (rc != ARES_SUCCESS) {
        *err = rc == ARES_ENOMEM ? KP_ERR_NOMEM : KP_ERR_TRANSPORT;
        ares_destroy(r->ch);
        free(r->fds);
        free(r);
        return NULL;
    }
    *err = KP_OK;
    return r;
}

static void unlink_lookup(kp_resolver_t *r, kp_lookup_t *lk) {
    if (lk->prev)
        lk->prev->next = lk->next;
    else
        r->head = lk->next;
    if (lk->next)
        lk->next->prev = lk->prev;
    lk->prev = lk->next = NULL;
    r->npending--;
}

static void free_lookup(kp_lookup_t *lk) {
    if (lk->result)
        ares_freeaddrinfo(lk->result);
    free(lk);
}

void kp_resolver_destroy(kp_resolver_t *r) {
    if (!r)
        return;
    while (r->head)
        kp_lookup_cancel(r, r->head);
    ares_destroy(r->ch); /* orphans are freed by their callbacks */
    free(r->fds);
    free(r);
}

/* ------------------------------------------------------------ lookups */

int kp_is_ip_literal(const char *host) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, NULL, &hints, &ai))
        return 0;
    freeaddrinfo(ai);
    return 1;
}

static void set_port(struct sockaddr_storage *ss, int32_t port) {
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* A literal's address (getaddrinfo with AI_NUMERICHOST never asks anyone):
 * 1 and *out set, 0 not a literal, -1 out of memory. */
static int literal(const char *host, int32_t port, kp_addrs_t **out) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc)
        return rc == EAI_MEMORY ? -1 : 0;
    kp_addrs_t *a = kp_malloc(sizeof(*a) + sizeof(a->a[0]));
    if (!a || ai->ai_addrlen > sizeof(a->a[0].sa)) {
        freeaddrinfo(ai);
        free(a);
        return -1;
    }
    a->n = 1;
    memset(&a->a[0].sa, 0, sizeof(a->a[0].sa));
    memcpy(&a->a[0].sa, ai->ai_addr, ai->ai_addrlen);
    a->a[0].len = (socklen_t)ai->ai_addrlen;
    set_port(&a->a[0].sa, port);
    freeaddrinfo(ai);
    *out = a;
    return 1;
}

/* c-ares' callback: record the outcome (see the essay above). */
static void on_ares(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    (void)timeouts;
    kp_lookup_t *lk = arg;
    if (lk->state == LK_ORPHAN) {
        lk->r->in_ares--;
        if (res)
            ares_freeaddrinfo(res);
        free(lk);
        return;
    }
    lk->state = LK_DONE;
    lk->status = status;
    lk->result = res;
}

kp_err_t kp_resolve_start(kp_resolver_t *r, const char *host, int32_t port, int64_t deadline_ms,
                          kp_resolve_cb *cb, void *arg, kp_addrs_t **now_addrs,
                          kp_lookup_t **lookup) {
    *now_addrs = NULL;
    *lookup = NULL;
    int lit = literal(host, port, now_addrs);
    if (lit)
        return lit > 0 ? KP_OK : KP_ERR_NOMEM;
    size_t hl = strlen(host);
    kp_lookup_t *lk = kp_calloc(1, sizeof(*lk) + hl + 1);
    if (!lk)
        return KP_ERR_NOMEM;
    memcpy(lk->host, host, hl + 1);
    lk->r = r;
    lk->cb = cb;
    lk->arg = arg;
    lk->port = port;
    lk->started_ms = kp_mono_ms();
    lk->deadline_ms = deadline_ms;
    lk->state = LK_ACTIVE;
    lk->next = r->head;
    if (r->head)
        r->head->prev = lk;
    r->head = lk;
    r->npending++;
    r->in_ares++;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    /* may call on_ares before it returns */
    ares_getaddrinfo(r->ch, host, NULL, &hints, on_ares, lk);
    *lookup = lk;
    return KP_OK;
}

void kp_lookup_cancel(kp_resolver_t *r, kp_lookup_t *lk) {
    if (!lk)
        return;
    unlink_lookup(r, lk);
    if (lk->state == LK_DONE) {
        r->in_ares--;
        free_lookup(lk);
    } else {
        lk->state = LK_ORPHAN; /* c-ares frees it when it is done */
        lk->cb = NULL;
    }
}

int kp_resolver_pending(const kp_resolver_t *r) { return r->npending; }

/* ------------------------------------------------------------ the loop */

int kp_resolver_nfds(const kp_resolver_t *r) { return r->nfds; }

int kp_resolver_fds(const kp_resolver_t *r, struct pollfd *pfds, int max) {
    int n = 0;
    for (int i = 0; i < r->nfds && n < max; i++, n++) {
        pfds[n].fd = r->fds[i].fd;
        pfds[n].events = r->fds[i].events;
        pfds[n].revents = 0;
    }
    return n;
}

int64_t kp_resolver_timeout(const kp_resolver_t *r, int64_t now) {
    if (!r->in_ares)
        return INT64_MAX;
    int64_t due = INT64_MAX;
    for (const kp_lookup_t *lk = r->head; lk; lk = lk->next) {
        if (lk->state == LK_DONE)
            return now;
        if (lk->deadline_ms < due)
            due = lk->deadline_ms;
    }
    struct timeval tv;
    if (ares_timeout(r->ch, NULL, &tv)) {
        /* rounded up: waking a millisecond early would find nothing due */
        int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
        if (now + ms < due)
            due = now + ms;
    }
    return due;
}

/* Hand a DONE lookup's outcome to its owner and free it. */
static void deliver(kp_resolver_t *r, kp_lookup_t *lk) {
    char why[320];
    kp_addrs_t *a = NULL;
    kp_err_t err = KP_ERR_TRANSPORT;
    int n = 0;
    if (lk->status == ARES_SUCCESS && lk->result)
        for (struct ares_addrinfo_node *nd = lk->result->nodes; nd; nd = nd->ai_next)
            n += (nd->ai_family == AF_INET || nd->ai_family == AF_INET6) &&
                 nd->ai_addrlen <= sizeof(struct sockaddr_storage);
    if (n) {
        a = kp_malloc(sizeof(*a) + (size_t)n * sizeof(a->a[0]));
        if (a) {
            a->n = 0;
            for (struct ares_addrinfo_node *nd = lk->result->nodes; nd; nd = nd->ai_next) {
                if ((nd->ai_family != AF_INET && nd->ai_family != AF_INET6) ||
                    nd->ai_addrlen > sizeof(struct sockaddr_storage))
                    continue;
                struct kp_addr *d = &a->a[a->n++];
                memset(&d->sa, 0, sizeof(d->sa));
                memcpy(&d->sa, nd->ai_addr, nd->ai_addrlen);
                d->len = (socklen_t)nd->ai_addrlen;
                set_port(&d->sa, lk->port);
            }
            err = KP_OK;
        } else {
            err = KP_ERR_NOMEM;
            snprintf(why, sizeof(why), "cannot resolve host name: %s: out of memory", lk->host);
        }
    } else if (lk->status == ARES_ENOMEM) {
        err = KP_ERR_NOMEM;
        snprintf(why, sizeof(why), "cannot resolve host name: %s: out of memory", lk->host);
    } else {
        snprintf(why, sizeof(why), "cannot resolve host name: %s: %s", lk->host,
                 lk->status == ARES_SUCCESS ? "no address" : ares_strerror(lk->status));
    }
    kp_resolve_cb *cb = lk->cb;
    void *arg = lk->arg;
    free_lookup(lk);
    cb(r->ctx, arg, err, a, err ? why : NULL);
}

void kp_resolver_process(kp_resolver_t *r, const struct pollfd *pfds, int n, int64_t now) {
    if (!r->in_ares)
        return;
    for (int i = 0; i < n; i++) {
        short re = pfds[i].revents;
        if (!re)
            continue;
        ares_socket_t rfd = re & (POLLIN | POLLERR | POLLHUP) ? pfds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t wfd = re & (POLLOUT | POLLERR | POLLHUP) ? pfds[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(r->ch, rfd, wfd);
    }
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* its timeouts */
    /* One at a time from the head: a callback may start or cancel lookups. */
    for (;;) {
        kp_lookup_t *lk = r->head;
        while (lk && lk->state != LK_DONE && lk->deadline_ms > now)
            lk = lk->next;
        if (!lk)
            break;
        unlink_lookup(r, lk);
        if (lk->state == LK_DONE) {
            r->in_ares--;
            deliver(r, lk);
            continue;
        }
        /* past its deadline: c-ares may go on, for nobody */
        char why[320];
        snprintf(why, sizeof(why),
                 "cannot resolve host name: %s: no answer within %lld ms "
                 "(socket.connection.setup.timeout.ms)",
                 lk->host, (long long)(lk->deadline_ms - lk->started_ms));
        kp_resolve_cb *cb = lk->cb;
        void *arg = lk->arg;
        lk->state = LK_ORPHAN;
        lk->cb = NULL;
        cb(r->ctx, arg, KP_ERR_TRANSPORT, NULL, why);
    }
}

void kp_resolver_wait(kp_resolver_t *r, int64_t until, const int *stop) {
    struct pollfd pfds[16];
    int n = 0;
    for (;;) {
        /* first round: answers c-ares gave at once (the hosts file) */
        int64_t now = kp_mono_ms();
        kp_resolver_process(r, pfds, n, now);
        if (!r->npending || (stop && *stop) || now >= until)
            return;
        n = kp_resolver_fds(r, pfds, 16);
        int64_t due = kp_resolver_timeout(r, now);
        if (due > until)
            due = until;
        int tmo = due <= now ? 0 : due - now > 1000 ? 1000 : (int)(due - now);
        if (poll(pfds, (nfds_t)n, tmo) < 0) {
            if (errno != EINTR)
                return;
            n = 0;
        }
    }
}

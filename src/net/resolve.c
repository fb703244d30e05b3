/*
 * resolve — host names to addresses on a c-ares channel. See resolve.h for
 * the contract, the reasons and the threads.
 *
 * A lookup is in one of three states:
 *   ACTIVE  c-ares works on it; it is on the resolver's list
 *   DONE    c-ares called back; the result waits on the list until
 *           kp_resolver_process hands it to the owner's callback
 *   ORPHAN  cancelled or past its deadline while c-ares still works on it:
 *           on no list, freed when c-ares calls back for its last call (at
 *           the latest from ares_destroy, with ARES_EDESTRUCTION)
 * c-ares may call back from inside ares_getaddrinfo (a hosts-file answer, a
 * bad name) or from ares_process_fd; either way the callback only records
 * the result. Owners' callbacks run from kp_resolver_process alone, outside
 * every c-ares call, so an owner may start or cancel lookups from them.
 *
 * A lookup may need several c-ares calls: a canonical one (client.dns.lookup
 * =resolve_canonical_bootstrap_servers_only) goes in three stages, each
 * started when the one before has no call left: FORWARD (the host's
 * addresses), REVERSE (each address's name, ares_getnameinfo) and NAMES
 * (each distinct name's addresses, to check it leads back and to dial it).
 * `calls` counts the calls under way; a stage that starts calls holds one
 * more while it does, since c-ares may answer inside the call that asks. A
 * lookup is DONE when the last stage ends, and an ORPHAN is freed when its
 * last call ends; no stage starts for an orphan.
 */
#include "net/resolve.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/util.h"

enum { LK_ACTIVE, LK_DONE, LK_ORPHAN };
enum { ST_FORWARD, ST_REVERSE, ST_NAMES };

/* A canonical lookup's view of one of its host's addresses: the name the
 * address has, and (for the first address with that name) the name's own
 * addresses. */
typedef struct canon {
    kp_lookup_t *lk;
    socklen_t len;
    struct sockaddr_storage sa;
    char *name;                /* the reverse lookup's answer; NULL: none */
    struct ares_addrinfo *fwd; /* the name's addresses; NULL: none, or not the first */
    int added;                 /* its name's addresses are in the outcome */
} canon_t;

struct kp_lookup {
    kp_lookup_t *prev, *next; /* the resolver's list (ACTIVE, DONE) */
    kp_resolver_t *r;
    int state;
    int canonical; /* KP_RESOLVE_CANONICAL */
    int stage;     /* ST_*: what the calls under way are for */
    int calls;     /* c-ares calls under way (see the essay above) */
    int nomem;     /* a stage ran out of memory: the outcome is KP_ERR_NOMEM */
    kp_resolve_cb *cb;
    void *arg;
    int64_t started_ms, deadline_ms;
    int32_t port;
    int status;        /* DONE: ARES_SUCCESS with addrs (n >= 0), or why not */
    kp_addrs_t *addrs; /* DONE: the outcome */
    canon_t *cn;       /* canonical: one per address of the host */
    int ncn;
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
    for (int i = 0; i < lk->ncn; i++) {
        free(lk->cn[i].name);
        if (lk->cn[i].fwd)
            ares_freeaddrinfo(lk->cn[i].fwd);
    }
    free(lk->cn);
    free(lk->addrs);
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

/* Same IP address (the port aside)? */
static int same_ip(const struct sockaddr *a, const struct sockaddr *b) {
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                       &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr));
    return a->sa_family == AF_INET6 &&
           !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) &&
           ((const struct sockaddr_in6 *)a)->sin6_scope_id ==
               ((const struct sockaddr_in6 *)b)->sin6_scope_id;
}

static int usable(const struct sockaddr *sa, size_t len) {
    return (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
           len <= sizeof(struct sockaddr_storage);
}

/* An address for the outcome, and the canonical name it came from. */
typedef struct pick {
    const struct sockaddr *sa;
    socklen_t len;
    const char *name;
} pick_t;

/* The outcome of picks p[0..n): IPv4 and IPv6 addresses only, each once
 * (its first pick wins), port set, names copied into the same block. NULL:
 * out of memory. */
static kp_addrs_t *addrs_make(const pick_t *p, int n, int32_t port) {
    int m = 0;
    size_t names = 0;
    char *keep = kp_calloc(n ? (size_t)n : 1, 1);
    if (!keep)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!usable(p[i].sa, p[i].len))
            continue;
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = keep[j] && same_ip(p[i].sa, p[j].sa);
        if (dup)
            continue;
        keep[i] = 1;
        m++;
        names += p[i].name ? strlen(p[i].name) + 1 : 0;
    }
    kp_addrs_t *a = kp_malloc(sizeof(*a) + (size_t)m * sizeof(a->a[0]) + names);
    if (!a) {
        free(keep);
        return NULL;
    }
    char *text = (char *)&a->a[m];
    a->n = 0;
    for (int i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        struct kp_addr *d = &a->a[a->n++];
        memset(&d->sa, 0, sizeof(d->sa));
        memcpy(&d->sa, p[i].sa, p[i].len);
        d->len = p[i].len;
        set_port(&d->sa, port);
        d->name = NULL;
        if (p[i].name) {
            size_t l = strlen(p[i].name) + 1;
            memcpy(text, p[i].name, l);
            d->name = text;
            text += l;
        }
    }
    free(keep);
    return a;
}

/* c-ares' answer as an outcome, every address marked with name. NULL: out
 * of memory. */
static kp_addrs_t *addrs_from_ai(const struct ares_addrinfo *res, const char *name, int32_t port) {
    int n = 0;
    for (const struct ares_addrinfo_node *nd = res ? res->nodes : NULL; nd; nd = nd->ai_next)
        n++;
    pick_t *p = kp_malloc((n ? (size_t)n : 1) * sizeof(*p));
    if (!p)
        return NULL;
    n = 0;
    for (const struct ares_addrinfo_node *nd = res ? res->nodes : NULL; nd; nd = nd->ai_next)
        p[n++] = (pick_t){nd->ai_addr, (socklen_t)nd->ai_addrlen, name};
    kp_addrs_t *a = addrs_make(p, n, port);
    free(p);
    return a;
}

/* A literal's address (getaddrinfo with AI_NUMERICHOST never asks anyone):
 * 1 and *out set, 0 not a literal, -1 out of memory. */
static int literal(const char *host, int32_t port, kp_addrs_t **out) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc)
        return rc == EAI_MEMORY ? -1 : 0;
    pick_t p = {ai->ai_addr, (socklen_t)ai->ai_addrlen, NULL};
    kp_addrs_t *a = addrs_make(&p, 1, port);
    freeaddrinfo(ai);
    if (!a || !a->n) {
        free(a);
        return -1;
    }
    *out = a;
    return 1;
}

const char *kp_addr_text(const struct kp_addr *a, char *buf, size_t size) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int v6 = a->sa.ss_family == AF_INET6;
    if (v6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
    } else if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
    }
    if (a->name)
        snprintf(buf, size, "%s (%s%s%s:%d)", a->name, v6 ? "[" : "", ip, v6 ? "]" : "", port);
    else
        snprintf(buf, size, "%s%s%s:%d", v6 ? "[" : "", ip, v6 ? "]" : "", port);
    return buf;
}

/* The lookup's outcome is known: DONE, for kp_resolver_process to hand on.
 * a: the addresses (ARES_SUCCESS); NULL with ARES_SUCCESS: out of memory. */
static void finish(kp_lookup_t *lk, int status, kp_addrs_t *a) {
    if (status == ARES_SUCCESS && (!a || lk->nomem)) {
        free(a);
        a = NULL;
        status = ARES_ENOMEM;
    }
    lk->state = LK_DONE;
    lk->status = status;
    lk->addrs = a;
}

static void settle(kp_lookup_t *lk);

/* ---- canonical names: REVERSE, then NAMES, then the outcome ---- */

static void on_name(void *arg, int status, int timeouts, char *node, char *service) {
    (void)timeouts, (void)service;
    canon_t *e = arg;
    kp_lookup_t *lk = e->lk;
    if (lk->state == LK_ACTIVE && status == ARES_SUCCESS && node && *node &&
        !(e->name = kp_strdup(node)))
        lk->nomem = 1;
    lk->calls--;
    settle(lk);
}

/* REVERSE: each address's name (the hosts file, then PTR). */
static void reverse_start(kp_lookup_t *lk, const kp_addrs_t *a) {
    lk->stage = ST_REVERSE;
    if (!a->n)
        return;
    lk->cn = kp_calloc((size_t)a->n, sizeof(*lk->cn));
    if (!lk->cn) {
        lk->nomem = 1;
        return;
    }
    lk->ncn = a->n;
    for (int i = 0; i < a->n; i++) {
        lk->cn[i].lk = lk;
        lk->cn[i].len = a->a[i].len;
        lk->cn[i].sa = a->a[i].sa;
    }
    lk->calls++; /* held while asking: an answer may come inside the call */
    for (int i = 0; i < lk->ncn; i++) {
        lk->calls++;
        ares_getnameinfo(lk->r->ch, (const struct sockaddr *)&lk->cn[i].sa, lk->cn[i].len,
                         ARES_NI_LOOKUPHOST | ARES_NI_NAMEREQD, on_name, &lk->cn[i]);
    }
    lk->calls--;
}

/* The first address whose name is cn[i]'s (case-insensitive, as DNS). */
static int first_named(const kp_lookup_t *lk, int i) {
    for (int j = 0; j < i; j++)
        if (lk->cn[j].name && !strcasecmp(lk->cn[j].name, lk->cn[i].name))
            return j;
    return i;
}

static void on_name_addrs(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    (void)timeouts;
    canon_t *e = arg;
    kp_lookup_t *lk = e->lk;
    if (lk->state == LK_ACTIVE && status == ARES_SUCCESS)
        e->fwd = res;
    else if (res)
        ares_freeaddrinfo(res);
    lk->calls--;
    settle(lk);
}

/* NAMES: each distinct name's addresses. */
static void names_start(kp_lookup_t *lk) {
    lk->stage = ST_NAMES;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    lk->calls++;
    for (int i = 0; i < lk->ncn && !lk->nomem; i++) {
        if (!lk->cn[i].name || first_named(lk, i) != i)
            continue;
        lk->calls++;
        ares_getaddrinfo(lk->r->ch, lk->cn[i].name, NULL, &hints, on_name_addrs, &lk->cn[i]);
    }
    lk->calls--;
}

/* The outcome, in the order of the host's addresses: a confirmed name (one
 * whose addresses include the address it came from, as Java's
 * getCanonicalHostName checks) brings all its addresses, marked with it;
 * an address without one (no name, no answer yet, or a name that does not
 * lead back) stands for itself. NULL: out of memory. */
static kp_addrs_t *canonical_outcome(kp_lookup_t *lk) {
    int n = 0;
    for (int i = 0; i < lk->ncn; i++) {
        n++;
        for (const struct ares_addrinfo_node *nd = lk->cn[i].fwd ? lk->cn[i].fwd->nodes : NULL;
             nd; nd = nd->ai_next)
            n++;
    }
    pick_t *p = kp_malloc((n ? (size_t)n : 1) * sizeof(*p));
    if (!p)
        return NULL;
    n = 0;
    for (int i = 0; i < lk->ncn; i++)
        lk->cn[i].added = 0;
    for (int i = 0; i < lk->ncn; i++) {
        canon_t *e = &lk->cn[i];
        canon_t *g = e->name ? &lk->cn[first_named(lk, i)] : NULL;
        int confirmed = 0;
        for (const struct ares_addrinfo_node *nd = g && g->fwd ? g->fwd->nodes : NULL;
             nd && !confirmed; nd = nd->ai_next)
            confirmed = same_ip(nd->ai_addr, (const struct sockaddr *)&e->sa);
        if (!confirmed) {
            p[n++] = (pick_t){(const struct sockaddr *)&e->sa, e->len, NULL};
        } else if (!g->added) {
            g->added = 1;
            for (const struct ares_addrinfo_node *nd = g->fwd->nodes; nd; nd = nd->ai_next)
                p[n++] = (pick_t){nd->ai_addr, (socklen_t)nd->ai_addrlen, g->name};
        }
    }
    kp_addrs_t *a = addrs_make(p, n, lk->port);
    free(p);
    return a;
}

/* One of lk's calls ended (or a stage finished asking): free an orphan
 * whose last call ended; start the next stage of a lookup whose stage has
 * no call left. */
static void settle(kp_lookup_t *lk) {
    while (!lk->calls) {
        if (lk->state == LK_ORPHAN) {
            lk->r->in_ares--;
            free_lookup(lk);
            return;
        }
        if (lk->state != LK_ACTIVE)
            return;
        if (lk->stage == ST_REVERSE && !lk->nomem) {
            names_start(lk);
            continue;
        }
        finish(lk, ARES_SUCCESS, lk->nomem ? NULL : canonical_outcome(lk));
        return;
    }
}

/* c-ares' answer to FORWARD: the outcome, or (canonical) the next stage. */
static void on_forward(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    (void)timeouts;
    kp_lookup_t *lk = arg;
    if (lk->state == LK_ACTIVE) {
        kp_addrs_t *a = status == ARES_SUCCESS ? addrs_from_ai(res, NULL, lk->port) : NULL;
        if (status != ARES_SUCCESS || !a || !a->n || !lk->canonical) {
            finish(lk, status, a);
        } else {
            reverse_start(lk, a);
            free(a);
        }
    }
    if (res)
        ares_freeaddrinfo(res);
    lk->calls--;
    settle(lk);
}

kp_err_t kp_resolve_start(kp_resolver_t *r, const char *host, int32_t port, int64_t deadline_ms,
                          kp_resolve_cb *cb, void *arg, kp_addrs_t **now_addrs,
                          kp_lookup_t **lookup) {
    return kp_resolve_start_ex(r, host, port, 0, deadline_ms, cb, arg, now_addrs, lookup);
}

kp_err_t kp_resolve_start_ex(kp_resolver_t *r, const char *host, int32_t port, int flags,
                             int64_t deadline_ms, kp_resolve_cb *cb, void *arg,
                             kp_addrs_t **now_addrs, kp_lookup_t **lookup) {
    *now_addrs = NULL;
    *lookup = NULL;
    kp_addrs_t *lit = NULL;
    int is_lit = literal(host, port, &lit);
    if (is_lit < 0)
        return KP_ERR_NOMEM;
    if (is_lit && !(flags & KP_RESOLVE_CANONICAL)) {
        *now_addrs = lit;
        return KP_OK;
    }
    size_t hl = strlen(host);
    kp_lookup_t *lk = kp_calloc(1, sizeof(*lk) + hl + 1);
    if (!lk) {
        free(lit);
        return KP_ERR_NOMEM;
    }
    memcpy(lk->host, host, hl + 1);
    lk->r = r;
    lk->canonical = !!(flags & KP_RESOLVE_CANONICAL);
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
    lk->calls = 1; /* held while starting: c-ares may answer at once */
    if (is_lit) {
        /* a literal's canonical name: Java asks its reverse lookup too */
        reverse_start(lk, lit);
        free(lit);
    } else {
        struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        lk->calls++;
        ares_getaddrinfo(r->ch, host, NULL, &hints, on_forward, lk);
    }
    lk->calls--;
    settle(lk);
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
        lk->state = LK_ORPHAN; /* freed when its last c-ares call ends (settle) */
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
    if (lk->status == ARES_SUCCESS && lk->addrs && lk->addrs->n) {
        a = lk->addrs;
        lk->addrs = NULL;
        err = KP_OK;
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
        kp_resolve_cb *cb = lk->cb;
        void *arg = lk->arg;
        lk->state = LK_ORPHAN;
        lk->cb = NULL;
        if (lk->canonical && lk->stage != ST_FORWARD && !lk->nomem) {
            /* the host's addresses are known and some names are not: as
             * Java, whose getCanonicalHostName gives the address when the
             * reverse lookup fails, those addresses stand for themselves */
            kp_addrs_t *a = canonical_outcome(lk);
            if (a && a->n) {
                cb(r->ctx, arg, KP_OK, a, NULL);
                continue;
            }
            free(a);
        }
        char why[320];
        snprintf(why, sizeof(why),
                 "cannot resolve host name: %s: no answer within %lld ms "
                 "(socket.connection.setup.timeout.ms)",
                 lk->host, (long long)(lk->deadline_ms - lk->started_ms));
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

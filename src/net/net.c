/*
 * net — the network's own operations: the bootstrap servers it starts from
 * (the seeds, kept for the producer's life), and rebootstrap (KIP-899):
 * forget every known broker and start again from the seeds.
 *
 * Why the seeds are kept: a cluster can move away from every broker the
 * producer learned (a rolling replacement, a migration, addresses handed
 * out anew); bootstrap.servers, usually a DNS name or a load balancer,
 * still leads to it. A rebootstrap makes fresh bootstrap connections from
 * the seeds — each resolves its name again — and the engine asks them for
 * metadata. Connections that are dropped fail their requests through their
 * kp_req_ops_t as any lost connection does: batches go back to their
 * partitions, in order, with their sequence numbers, and are resent.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/util.h"
#include "net/conn.h"
#include "net/net.h"

int kp_net_add_seed(kp_net_t *net, const char *host, int32_t port) {
    kp_seed_t *ns = kp_realloc(net->seeds, (size_t)(net->nseeds + 1) * sizeof(*ns));
    if (!ns)
        return -1;
    net->seeds = ns;
    char *h = kp_strdup(host);
    kp_conn_t **nb = h ? kp_realloc(net->boot, (size_t)(net->nboot + 1) * sizeof(*nb)) : NULL;
    if (nb)
        net->boot = nb;
    kp_conn_t *c = nb ? kp_conn_new(-1 - net->nseeds, host, port) : NULL;
    if (!c) {
        free(h);
        return -1;
    }
    net->seeds[net->nseeds++] = (kp_seed_t){h, port};
    net->boot[net->nboot++] = c;
    return 0;
}

void kp_net_retire(kp_net_t *net, kp_conn_t *c, const char *why) {
    kp_conn_close(net, c, KP_ERR_TRANSPORT, why);
    c->next = net->retired;
    net->retired = c;
}

void kp_net_reap(kp_net_t *net) {
    while (net->retired) {
        kp_conn_t *c = net->retired;
        net->retired = c->next;
        kp_conn_destroy(net, c);
    }
}

int kp_net_rebootstrap(kp_net_t *net) {
    kp_conn_t **boot = kp_calloc((size_t)(net->nseeds ? net->nseeds : 1), sizeof(*boot));
    int n = 0;
    for (int i = 0; boot && i < net->nseeds; i++) {
        kp_conn_t *c = kp_conn_new(-1 - i, net->seeds[i].host, net->seeds[i].port);
        if (c)
            boot[n++] = c;
    }
    if (!n) { /* out of memory: keep what we have, try again later */
        free(boot);
        return -1;
    }
    for (int i = 0; i < net->nbrokers; i++)
        kp_net_retire(net, net->brokers[i].conn, NULL);
    net->nbrokers = 0;
    for (int i = 0; i < net->nboot; i++)
        kp_net_retire(net, net->boot[i], NULL);
    free(net->boot);
    net->boot = boot;
    net->nboot = n;
    net->boot_next = 0;
    net->retire_boot = 0;
    net->rebootstraps++;
    return 0;
}

void kp_net_free(kp_net_t *net) {
    for (int i = 0; i < net->nbrokers; i++)
        kp_conn_destroy(net, net->brokers[i].conn);
    free(net->brokers);
    for (int i = 0; i < net->nboot; i++)
        kp_conn_destroy(net, net->boot[i]);
    free(net->boot);
    kp_net_reap(net);
    kp_auth_free(&net->sasl);
    for (int i = 0; i < net->nseeds; i++)
        free(net->seeds[i].host);
    free(net->seeds);
}

/*
 * tcpproxy — a TCP forwarder for tests: it listens on 127.0.0.1 (an
 * ephemeral port) and joins each connection it accepts to a new connection
 * to its target, copying bytes both ways, until either side closes.
 *
 * Why: a bootstrap address that leads somewhere else later, as a DNS name
 * or a load balancer in front of a cluster does when the cluster's brokers
 * are replaced (rebootstrap, KIP-899): tcpproxy_retarget() sends new
 * connections to another port and closes the ones it carries.
 *
 * One thread; every function may be called from any thread.
 */
#ifndef KPROD_TEST_TCPPROXY_H
#define KPROD_TEST_TCPPROXY_H

typedef struct tcpproxy tcpproxy_t;

/* Forward to 127.0.0.1:target_port. NULL (and a line on stderr) on failure. */
tcpproxy_t *tcpproxy_start(int target_port);
/* "127.0.0.1:PORT": the address to connect to; valid until tcpproxy_stop. */
const char *tcpproxy_address(const tcpproxy_t *px);
/* New connections go to target_port; the ones carried now are closed. */
void tcpproxy_retarget(tcpproxy_t *px, int target_port);
/* Connections accepted so far. */
int tcpproxy_accepted(tcpproxy_t *px);
/* Close everything and free. NULL is a no-op. */
void tcpproxy_stop(tcpproxy_t *px);

#endif

/* tcpproxy — see tcpproxy.h. */
#include "tcpproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 64

struct tcpproxy {
    int lfd, wake[2];
    pthread_t thread;
    char address[32];
    pthread_mutex_t lock; /* target, accepted, stop, drop */
    int target, accepted, stop, drop;
    /* the thread's alone */
    int a[MAX_PAIRS], b[MAX_PAIRS]; /* client side, target side; -1: free */
};

static int connect_to(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void close_pair(tcpproxy_t *px, int i) {
    close(px->a[i]);
    close(px->b[i]);
    px->a[i] = px->b[i] = -1;
}

/* Copy what `from` has to `to`; -1 when either side is done. */
static int pump(int from, int to) {
    char buf[65536];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && errno == EINTR ? 0 : -1;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += w;
    }
    return 0;
}

static void *run(void *arg) {
    tcpproxy_t *px = arg;
    for (;;) {
        struct pollfd pf[2 + 2 * MAX_PAIRS];
        int idx[2 + 2 * MAX_PAIRS];
        int n = 0;
        pf[n] = (struct pollfd){.fd = px->wake[0], .events = POLLIN};
        idx[n++] = -1;
        pf[n] = (struct pollfd){.fd = px->lfd, .events = POLLIN};
        idx[n++] = -1;
        for (int i = 0; i < MAX_PAIRS; i++) {
            if (px->a[i] < 0)
                continue;
            pf[n] = (struct pollfd){.fd = px->a[i], .events = POLLIN};
            idx[n++] = i;
            pf[n] = (struct pollfd){.fd = px->b[i], .events = POLLIN};
            idx[n++] = i;
        }
        if (poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&px->lock);
        int stop = px->stop, drop = px->drop, target = px->target;
        px->drop = 0;
        pthread_mutex_unlock(&px->lock);
        if (pf[0].revents) {
            char c[64];
            if (read(px->wake[0], c, sizeof(c)) < 0 && errno != EAGAIN)
                break;
        }
        if (stop)
            break;
        if (drop) {
            for (int i = 0; i < MAX_PAIRS; i++)
                if (px->a[i] >= 0)
                    close_pair(px, i);
            continue;
        }
        if (pf[1].revents & POLLIN) {
            int c = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
            int u = c >= 0 ? connect_to(target) : -1;
            int slot = -1;
            for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
                if (px->a[i] < 0)
                    slot = i;
            if (c >= 0 && u >= 0 && slot >= 0) {
                px->a[slot] = c;
                px->b[slot] = u;
                pthread_mutex_lock(&px->lock);
                px->accepted++;
                pthread_mutex_unlock(&px->lock);
            } else {
                if (c >= 0)
                    close(c);
                if (u >= 0)
                    close(u);
            }
        }
        for (int k = 2; k < n; k++) {
            int i = idx[k];
            if (!pf[k].revents || px->a[i] < 0)
                continue;
            int from = pf[k].fd, to = from == px->a[i] ? px->b[i] : px->a[i];
            if (pump(from, to))
                close_pair(px, i);
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (px->a[i] >= 0)
            close_pair(px, i);
    return NULL;
}

static void poke(tcpproxy_t *px) {
    char c = 1;
    if (write(px->wake[1], &c, 1) < 0)
        perror("tcpproxy: wake");
}

tcpproxy_t *tcpproxy_start(int target_port) {
    tcpproxy_t *px = calloc(1, sizeof(*px));
    if (!px)
        return NULL;
    for (int i = 0; i < MAX_PAIRS; i++)
        px->a[i] = px->b[i] = -1;
    px->target = target_port;
    pthread_mutex_init(&px->lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    px->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(px->lfd, 16) ||
        getsockname(px->lfd, (struct sockaddr *)&sa, &sl) || pipe(px->wake)) {
        fprintf(stderr, "tcpproxy: %s\n", strerror(errno));
        if (px->lfd >= 0)
            close(px->lfd);
        free(px);
        return NULL;
    }
    snprintf(px->address, sizeof(px->address), "127.0.0.1:%d", ntohs(sa.sin_port));
    if (pthread_create(&px->thread, NULL, run, px)) {
        fprintf(stderr, "tcpproxy: no thread\n");
        close(px->lfd);
        close(px->wake[0]);
        close(px->wake[1]);
        free(px);
        return NULL;
    }
    return px;
}

const char *tcpproxy_address(const tcpproxy_t *px) { return px->address; }

void tcpproxy_retarget(tcpproxy_t *px, int target_port) {
    pthread_mutex_lock(&px->lock);
    px->target = target_port;
    px->drop = 1;
    pthread_mutex_unlock(&px->lock);
    poke(px);
}

int tcpproxy_accepted(tcpproxy_t *px) {
    pthread_mutex_lock(&px->lock);
    int n = px->accepted;
    pthread_mutex_unlock(&px->lock);
    return n;
}

void tcpproxy_stop(tcpproxy_t *px) {
    if (!px)
        return;
    pthread_mutex_lock(&px->lock);
    px->stop = 1;
    pthread_mutex_unlock(&px->lock);
    poke(px);
    pthread_join(px->thread, NULL);
    close(px->lfd);
    close(px->wake[0]);
    close(px->wake[1]);
    pthread_mutex_destroy(&px->lock);
    free(px);
}

/* tlspeer — see tlspeer.h. */
#include "tlspeer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_BROKERS 16

struct tlspeer {
    mockcluster_t *mc;
    int n;
    int id[MAX_BROKERS], port[MAX_BROKERS], mock_port[MAX_BROKERS];
    tlspeer_opts_t opts;
    pid_t pid;
    char conf[512], log[512];
    char boot[MAX_BROKERS * 24];
};

static int on_path(const char *cmd) {
    char buf[600];
    snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

int tlspeer_available(void) { return on_path("stunnel") && on_path("openssl"); }

static char pki_dir[256];
static pthread_once_t pki_once = PTHREAD_ONCE_INIT;

/* The test PKI (tlspeer.h lists it), with EC keys: quick to make. */
static const char *pki_script =
    "set -e\n"
    "cd \"$1\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > ca.ext\n"
    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > broker.ext\n"
    "printf 'subjectAltName=DNS:wrong.example\\n' > wrong.ext\n"
    "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 -subj /CN=kprod-test-ca\n"
    "openssl req -x509 $K -keyout other-ca.key -out other-ca.pem -days 30 -subj /CN=kprod-other-ca\n"
    "leaf() { # name subject ca days ext\n"
    "  openssl req $K -keyout $1.key -out $1.csr -subj \"$2\"\n"
    "  openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -days $4 "
    "-extfile $5 -out $1.pem\n"
    "}\n"
    "leaf broker /CN=localhost ca 30 broker.ext\n"
    "leaf wronghost /CN=wrong.example ca 30 wrong.ext\n"
    "leaf expired /CN=localhost ca -1 broker.ext\n"
    "leaf other /CN=localhost other-ca 30 broker.ext\n"
    "leaf inter /CN=kprod-test-intermediate ca 30 ca.ext\n"
    "leaf client /CN=kprod-test-client inter 30 client.ext\n"
    "cat client.pem inter.pem > client-chain.pem\n"
    "openssl pkey -in client.key -aes256 -passout pass:keypass -out client-enc.key\n"
    "cat client-enc.key client-chain.pem > client-full.pem\n"
    "openssl pkcs12 -export -in client.pem -inkey client.key -certfile inter.pem "
    "-passout pass:clientpass -out client.p12\n"
    "openssl pkcs12 -export -nokeys -in ca.pem -passout pass:trustpass -out trust.p12\n"
    "printf '\\376\\355\\376\\355\\000\\000\\000\\002' > fake.jks\n";

/* The directory goes when the process ends, unless KPROD_TEST_KEEP_TLS is
 * set (to look at stunnel's logs after a failure). */
static void remove_pki(void) {
    const char *keep = getenv("KPROD_TEST_KEEP_TLS");
    if (!pki_dir[0] || (keep && *keep && strcmp(keep, "0"))) {
        if (pki_dir[0])
            fprintf(stderr, "tlspeer: kept %s\n", pki_dir);
        return;
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tlspeer: could not remove %s\n", pki_dir);
}

static void make_pki(void) {
    char tmpl[] = "/tmp/kprod-tls-XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "tlspeer: mkdtemp: %s\n", strerror(errno));
        return;
    }
    char script[300];
    snprintf(script, sizeof(script), "%s/make-pki.sh", tmpl);
    FILE *f = fopen(script, "w");
    if (!f || fputs(pki_script, f) < 0 || fclose(f)) {
        fprintf(stderr, "tlspeer: cannot write %s\n", script);
        return;
    }
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "sh %s %s > %s/make-pki.log 2>&1", script, tmpl, tmpl);
    if (system(cmd) != 0) {
        fprintf(stderr, "tlspeer: making the certificates failed: see %s/make-pki.log\n", tmpl);
        return;
    }
    snprintf(pki_dir, sizeof(pki_dir), "%s", tmpl);
    atexit(remove_pki);
}

const char *tlspeer_pki(void) {
    pthread_once(&pki_once, make_pki);
    return pki_dir[0] ? pki_dir : NULL;
}

const char *tlspeer_file(const char *name) {
    static __thread char bufs[8][512];
    static __thread int next;
    char *b = bufs[next++ % 8];
    if (name[0] == '/')
        snprintf(b, sizeof(bufs[0]), "%s", name);
    else
        snprintf(b, sizeof(bufs[0]), "%s/%s", tlspeer_pki() ? tlspeer_pki() : "/nonexistent",
                 name);
    return b;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
        !getsockname(fd, (struct sockaddr *)&sa, &sl))
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int write_conf(tlspeer_t *tp) {
    FILE *f = fopen(tp->conf, "w");
    if (!f)
        return -1;
    const tlspeer_opts_t *o = &tp->opts;
    fprintf(f, "foreground = yes\npid =\nsyslog = no\ndebug = 5\noutput = %s\n", tp->log);
    for (int i = 0; i < tp->n; i++) {
        int odd = o->odd_broker && tp->id[i] == o->odd_broker;
        const char *cert = odd ? o->odd_cert : o->cert ? o->cert : "broker.pem";
        const char *key = odd ? o->odd_key : o->key ? o->key : "broker.key";
        fprintf(f, "[broker%d]\naccept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\n", tp->id[i],
                tp->port[i], tp->mock_port[i]);
        fprintf(f, "cert = %s\n", tlspeer_file(cert));
        fprintf(f, "key = %s\n", tlspeer_file(key));
        if (o->verify_client)
            fprintf(f, "verify = 2\nCAfile = %s\n", tlspeer_file("ca.pem"));
        if (o->tls12_only)
            fprintf(f, "sslVersionMax = TLSv1.2\n");
    }
    return fclose(f);
}

static int spawn(tlspeer_t *tp) {
    if (write_conf(tp))
        return -1;
    char *argv[] = {"stunnel", tp->conf, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, tp->log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&tp->pid, "stunnel", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        fprintf(stderr, "tlspeer: cannot start stunnel: %s\n", strerror(rc));
        tp->pid = 0;
        return -1;
    }
    /* ready when every port accepts (10 s at most) */
    for (int i = 0; i < tp->n; i++) {
        int ok = 0;
        for (int k = 0; k < 1000 && !ok; k++) {
            ok = accepts(tp->port[i]);
            if (!ok) {
                int st;
                if (waitpid(tp->pid, &st, WNOHANG) == tp->pid) {
                    fprintf(stderr, "tlspeer: stunnel exited: see %s\n", tp->log);
                    tp->pid = 0;
                    return -1;
                }
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL); /* (a process starting: nothing to wait on) */
            }
        }
        if (!ok) {
            fprintf(stderr, "tlspeer: stunnel does not listen on %d: see %s\n", tp->port[i],
                    tp->log);
            return -1;
        }
    }
    return 0;
}

static void kill_stunnel(tlspeer_t *tp) {
    if (tp->pid > 0) {
        kill(tp->pid, SIGTERM);
        waitpid(tp->pid, NULL, 0);
    }
    tp->pid = 0;
}

tlspeer_t *tlspeer_start(mockcluster_t *mc, const tlspeer_opts_t *opts) {
    const char *dir = tlspeer_pki();
    if (!dir)
        return NULL;
    tlspeer_t *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return NULL;
    tp->mc = mc;
    tp->opts = *opts;
    static int seq;
    int me = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
    snprintf(tp->conf, sizeof(tp->conf), "%s/stunnel-%d-%d.conf", dir, (int)getpid(), me);
    snprintf(tp->log, sizeof(tp->log), "%s/stunnel-%d-%d.log", dir, (int)getpid(), me);
    /* the brokers' own ports, in id order, from the bootstrap list */
    const char *s = mockcluster_bootstraps(mc);
    for (int i = 0; s && *s && tp->n < MAX_BROKERS; i++) {
        int port;
        if (sscanf(s, "127.0.0.1:%d", &port) != 1)
            break;
        tp->id[tp->n] = i + 1;
        tp->mock_port[tp->n] = port;
        tp->port[tp->n] = free_port();
        tp->n++;
        s = strchr(s, ',');
        s = s ? s + 1 : NULL;
    }
    if (tp->n != mockcluster_broker_count(mc) || spawn(tp)) {
        fprintf(stderr, "tlspeer: cannot put stunnel in front of the cluster\n");
        kill_stunnel(tp);
        free(tp);
        return NULL;
    }
    size_t o = 0;
    for (int i = 0; i < tp->n; i++) {
        rd_kafka_mock_broker_set_host_port(mockcluster_handle(mc), tp->id[i], "127.0.0.1",
                                           tp->port[i]);
        o += (size_t)snprintf(tp->boot + o, sizeof(tp->boot) - o, "%s127.0.0.1:%d", i ? "," : "",
                              tp->port[i]);
    }
    return tp;
}

const char *tlspeer_bootstraps(const tlspeer_t *tp) { return tp->boot; }

int tlspeer_restart(tlspeer_t *tp, const tlspeer_opts_t *opts) {
    kill_stunnel(tp);
    if (opts)
        tp->opts = *opts;
    return spawn(tp);
}

int tlspeer_accepted(tlspeer_t *tp) {
    FILE *f = fopen(tp->log, "r");
    int n = 0;
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, "accepted connection from") != NULL;
    if (f)
        fclose(f);
    return n;
}

void tlspeer_stop(tlspeer_t *tp) {
    if (!tp)
        return;
    kill_stunnel(tp);
    for (int i = 0; i < tp->n; i++)
        rd_kafka_mock_broker_set_host_port(mockcluster_handle(tp->mc), tp->id[i], "127.0.0.1",
                                           tp->mock_port[i]);
    free(tp);
}
